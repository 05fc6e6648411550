//! The gate every kernel test of the project goes through (the cross-crate
//! tests, polrt's, polc's and this crate's unit tests): a test that needs
//! root, the kernel's BTF or another host ability skips with a note when it
//! is missing, and fails instead under `POLC_KERNEL_TESTS=require` (set by
//! `scripts/test.sh`, so CI can never pass without running them).

/// Whether kernel tests must run (`POLC_KERNEL_TESTS=require`).
pub fn required() -> bool {
    std::env::var("POLC_KERNEL_TESTS").is_ok_and(|v| v == "require")
}

/// Skips kernel test `test`, which cannot run here because of `why`: says
/// so on stderr, or panics when kernel tests are [`required`].
pub fn skip(test: &str, why: &str) {
    assert!(
        !required(),
        "{test}: kernel tests are required (POLC_KERNEL_TESTS=require) but {why}"
    );
    eprintln!("{test}: skipped: {why} (set POLC_KERNEL_TESTS=require to make this an error)");
}

/// Whether kernel tests can run here (this process is root); when they
/// cannot, [`skip`]s `test` and returns `false`.
pub fn kernel_tests_enabled(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    skip(test, "this process is not root");
    false
}
