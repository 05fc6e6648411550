//! Generates the parser from `grammar/pol.lalrpop` into `OUT_DIR` (the
//! grammar lives outside `src/` so that it is the one obvious place to read
//! the language's syntax), and records the commit and the build date for
//! `--version` (`POLC_COMMIT`, `POLC_BUILD_DATE`; `unknown` outside a git
//! checkout; `SOURCE_DATE_EPOCH` sets the date for reproducible builds).

use std::process::Command;

/// The output of a command, trimmed, when it succeeds.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|text| !text.is_empty())
}

fn version_info() {
    let commit =
        output("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let date = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(epoch) => output("date", &["-u", "-d", &format!("@{epoch}"), "+%Y-%m-%d"]),
        Err(_) => output("date", &["-u", "+%Y-%m-%d"]),
    }
    .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=POLC_COMMIT={commit}");
    println!("cargo:rustc-env=POLC_BUILD_DATE={date}");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // A new commit re-runs this script: HEAD and the branch it points to.
    if let Some(path) = output("git", &["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={path}");
    }
    if let Some(branch) = output("git", &["symbolic-ref", "-q", "HEAD"]) {
        if let Some(path) = output("git", &["rev-parse", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../grammar/pol.lalrpop");
    version_info();
    let result = lalrpop::Configuration::new()
        .set_in_dir("../grammar")
        .emit_rerun_directives(false)
        .process();
    if let Err(error) = result {
        eprintln!("lalrpop: {error}");
        std::process::exit(1);
    }
}
