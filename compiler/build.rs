//! Generates the parser from `grammar/pol.lalrpop` into `OUT_DIR` (the
//! grammar lives outside `src/` so that it is the one obvious place to read
//! the language's syntax).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../grammar/pol.lalrpop");
    let result = lalrpop::Configuration::new()
        .set_in_dir("../grammar")
        .emit_rerun_directives(false)
        .process();
    if let Err(error) = result {
        eprintln!("lalrpop: {error}");
        std::process::exit(1);
    }
}
