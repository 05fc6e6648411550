//! The layers the code keeps (ARCHITECTURE.md), checked on the source: a
//! stage that imports from a layer it must not know fails here, naming the
//! file and the line.
//!
//! - `check` knows neither the later stages nor the ABI;
//! - the assembler (`bpf/asm.rs`) knows nothing of the checker;
//! - the runtime library reaches the compiler's knowledge through the ABI
//!   (`polc-abi`) only: never its hook table or checked policy (it compiles
//!   `.pol` sources in process through `polc::check::check_source` and
//!   `polc::compile`, the one entry it may use);
//! - every raw `bpf(2)` call is in `polc-sys`.

use std::fs;
use std::path::{Path, PathBuf};

use polc_tests::repo_root;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Every line of the `.rs` files under `dir` (relative to the repository)
/// that contains one of `forbidden`.
fn offending(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let root = repo_root();
    let mut found = Vec::new();
    for file in rust_files(&root.join(dir)) {
        let text = fs::read_to_string(&file).expect("read");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if let Some(what) = forbidden.iter().find(|f| code.contains(*f)) {
                found.push(format!(
                    "{}:{}: uses `{what}`",
                    file.strip_prefix(&root).unwrap_or(&file).display(),
                    i + 1
                ));
            }
        }
    }
    found
}

#[test]
fn check_knows_neither_later_stages_nor_the_abi() {
    let found = offending(
        "compiler/src/check",
        &[
            "crate::abi",
            "polc_abi",
            "crate::ir",
            "crate::interp",
            "crate::codegen",
            "crate::bpf",
            "crate::object",
            "crate::compile",
        ],
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_assembler_knows_nothing_of_the_checker() {
    let found = offending(
        "compiler/src/bpf",
        &["crate::check", "crate::ir", "crate::abi"],
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_runtime_reads_the_compiler_through_the_abi_only() {
    let found = offending(
        "runtime/src",
        &[
            "polc::check::hooks",
            "polc::check::policy",
            "polc::abi",
            "polc::ir",
            "polc::codegen",
        ],
    );
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn every_raw_bpf_call_is_in_polc_sys() {
    let mut found = Vec::new();
    for dir in [
        "compiler/src",
        "runtime/src",
        "bench/src",
        "tests",
        "abi/src",
    ] {
        found.extend(offending(dir, &["SYS_bpf"]));
    }
    // This file names it.
    found.retain(|line| !line.starts_with("tests/layers.rs:"));
    assert!(found.is_empty(), "{}", found.join("\n"));
    assert!(!offending("sys/src", &["SYS_bpf"]).is_empty());
}
