//! Shared support for the cross-crate tests: the gate every kernel test goes
//! through, paths into the repository, the golden-file runner, and the
//! tooling of the property tests and fuzz targets (the policy and event
//! generators in [`gen`], the test-run executor in [`exec`], corrupted
//! objects in [`corrupt`], the fuzz bodies in [`fuzzing`]), which never
//! touch the kernel.
//!
//! Kernel tests need root. Without root they are skipped with a message, except
//! when `POLC_KERNEL_TESTS=require` (set by CI): then they fail, so a CI run can
//! never pass without having run them (`polc_sys::test_gate`, shared with
//! the unit tests of every crate). What the host can do (e.g. load LSM
//! programs) is detected, never assumed.

pub mod corrupt;
pub mod exec;
pub mod fuzzing;
pub mod gen;
pub mod golden;

use std::path::PathBuf;

/// Whether kernel tests can run here (root): see
/// [`polc_sys::test_gate::kernel_tests_enabled`].
pub fn kernel_tests_enabled(test: &str) -> bool {
    polc_sys::test_gate::kernel_tests_enabled(test)
}

/// Whether this kernel loads BPF LSM programs: found by loading one (an
/// exec trace's), never assumed. Lockdown refuses them on some hosts
/// (this project's development machines), and VM kernels load them.
pub fn lsm_programs_load_here() -> bool {
    use polrt::loader::Verification;
    let source = "trace t {\n    on exec\n    emit exec.path\n}\n";
    let object = polrt::object::compile_source("lsm-probe.pol", source, 4096).expect("compiles");
    let types = polrt::probe::kernel_btf().expect("the kernel's BTF");
    let features = polrt::probe::kernel_features().expect("the kernel's features");
    let results = polrt::loader::verify(&object, &types, features, false).expect("verifies");
    let (_, lsm) = results
        .iter()
        .find(|(program, _)| program.backend == polc::abi::BackendKind::Lsm)
        .expect("an exec trace has an LSM program");
    match lsm {
        Verification::Passed { .. } => true,
        Verification::NotVerifiable(_) | Verification::Absent(_) => false,
        Verification::Rejected { error, log } => {
            panic!("the verifier rejected the LSM probe: {error}\n{log}")
        }
    }
}

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}
