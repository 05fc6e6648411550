//! Shared support for the cross-crate tests: the gate every kernel test goes
//! through, paths into the repository, the golden-file runner, and the
//! tooling of the property tests and fuzz targets (the policy and event
//! generators in [`gen`], the test-run executor in [`exec`], corrupted
//! objects in [`corrupt`], the fuzz bodies in [`fuzzing`]), which never
//! touch the kernel.
//!
//! Kernel tests need root. Without root they are skipped with a message, except
//! when `POLC_KERNEL_TESTS=require` (set by CI): then they fail, so a CI run can
//! never pass without having run them.

pub mod corrupt;
pub mod exec;
pub mod fuzzing;
pub mod gen;
pub mod golden;

use std::path::PathBuf;

/// Whether kernel tests can run here. Panics when they cannot and
/// `POLC_KERNEL_TESTS=require` is set; prints why and returns `false` when they
/// cannot and it is not.
pub fn kernel_tests_enabled(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        return true;
    }
    let required = std::env::var("POLC_KERNEL_TESTS").is_ok_and(|v| v == "require");
    assert!(
        !required,
        "{test}: kernel tests are required (POLC_KERNEL_TESTS=require) but this process is not root"
    );
    eprintln!("{test}: skipped: kernel tests need root (set POLC_KERNEL_TESTS=require to make this an error)");
    false
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}
