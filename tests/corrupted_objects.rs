//! Never a panic on input: thousands of corrupted objects (byte flips,
//! truncation, section shuffles, metadata edits; `polc_tests::corrupt`,
//! seeded) through polrt's whole `inspect` / `verify` path, aya's object
//! parser and relocations included. Each must be refused with a message and
//! exit code 1, or read (a harmless corruption); none may panic.
//!
//! `POLC_CORRUPT_CASES` sets the number of objects (10,000 by default) and
//! `POLC_CORRUPT_SEED` the first seed; a failure names its seed and what
//! was done to the object. The kernel half (root) runs the objects polrt
//! reads through the kernel's verifier, and the `polrt` binary on a sample.

#[path = "e2e/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::Command;

use polc_tests::corrupt::{corrupt, Corrupted};
use polc_tests::fuzzing;
use polc_tests::gen::rng::SplitMix64;
use polc_tests::kernel_tests_enabled;
use polrt::object::ObjectError;
use support::{polrt_bin, TempDir};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The seeds of this run.
fn seeds() -> std::ops::Range<u64> {
    let first = env_u64("POLC_CORRUPT_SEED", 0xc0_4417);
    first..first + env_u64("POLC_CORRUPT_CASES", 10_000)
}

fn corrupted(seed: u64) -> Corrupted {
    corrupt(&mut SplitMix64::new(seed))
}

/// What polrt's reader made of an object, by kind.
fn outcome(result: &Result<polrt::object::PolicyObject, polrt::Error>) -> &'static str {
    match result {
        Ok(_) => "read",
        Err(polrt::Error::Object(error)) => match error {
            ObjectError::NotElf { .. } => "not ELF",
            ObjectError::NotBpf { .. } => "not BPF",
            ObjectError::MissingMetadata { .. } => "no metadata",
            ObjectError::BadMetadata { .. } => "bad metadata",
            ObjectError::AbiVersion { .. } => "other ABI version",
            ObjectError::Arch { .. } => "another architecture",
            ObjectError::Inconsistent { .. } => "metadata inconsistent with the ELF",
            ObjectError::CodeMismatch { .. } => "code hash mismatch",
            ObjectError::Aya { reason, .. } if reason.starts_with("aya-obj panicked") => {
                "aya-obj panicked (caught)"
            }
            ObjectError::BadBtf { .. } => "malformed .BTF (before aya-obj)",
            ObjectError::Aya { .. } => "refused by aya-obj",
            _ => "other object error",
        },
        Err(_) => "other error",
    }
}

#[test]
fn corrupted_objects_are_refused_with_a_message_never_a_panic() {
    let mut tally: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut panics = Vec::new();
    for seed in seeds() {
        let case = corrupted(seed);
        match catch_unwind(AssertUnwindSafe(|| fuzzing::object(&case.bytes))) {
            Ok(result) => *tally.entry(outcome(&result)).or_default() += 1,
            Err(_) => panics.push(format!("seed {seed}: {}", case.what)),
        }
    }
    eprintln!("outcomes: {tally:?}");
    assert!(
        panics.is_empty(),
        "{} corrupted objects panicked polrt (reproduce one with POLC_CORRUPT_SEED=SEED POLC_CORRUPT_CASES=1):\n{}",
        panics.len(),
        panics.join("\n")
    );
    // Every line of defence is reached: the ELF reader, the metadata
    // checks, the code hash and aya's reader each refuse some.
    if seeds().count() >= 1000 {
        for kind in [
            "not ELF",
            "bad metadata",
            "code hash mismatch",
            "refused by aya-obj",
        ] {
            assert!(
                tally.get(kind).is_some_and(|n| *n > 0),
                "no `{kind}` in {tally:?}"
            );
        }
    }
}

#[test]
fn corrupted_objects_that_read_go_through_the_kernel_verifier_without_a_panic() {
    if !kernel_tests_enabled("corrupted_objects_that_read_go_through_the_kernel_verifier") {
        return;
    }
    let types = polrt::probe::kernel_btf().expect("kernel BTF");
    let features = polrt::probe::kernel_features().expect("features");
    // The verifier is slow next to the reader: every object polrt reads
    // among the first tenth of the seeds.
    let seeds = seeds();
    let n = (seeds.end - seeds.start).div_ceil(10);
    let mut verified = 0;
    let mut refused = 0;
    for seed in seeds.start..seeds.start + n {
        let case = corrupted(seed);
        let Ok(Ok(object)) = catch_unwind(AssertUnwindSafe(|| fuzzing::object(&case.bytes))) else {
            continue;
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            polrt::loader::verify(&object, &types, features, false)
        }));
        match result {
            Ok(Ok(_)) => verified += 1,
            Ok(Err(error)) => {
                let error = polrt::Error::from(error);
                assert_eq!(
                    error.exit_code(),
                    polrt::EXIT_FAILURE,
                    "seed {seed}: {error}"
                );
                assert!(!error.to_string().is_empty());
                refused += 1;
            }
            Err(_) => panic!("seed {seed} ({}) panicked polrt's verify path", case.what),
        }
    }
    eprintln!("{verified} verified, {refused} refused at load");
    assert!(
        verified + refused > 0,
        "no corrupted object reached the kernel"
    );
}

#[test]
fn the_polrt_binary_answers_corrupted_objects_with_exit_code_1() {
    let dir = TempDir::new("corrupt");
    let paths: Vec<_> = seeds()
        .take(200)
        .map(|seed| {
            let path = dir.path.join(format!("{seed}.o"));
            std::fs::write(&path, corrupted(seed).bytes).expect("write");
            path
        })
        .collect();
    for path in &paths {
        let out = Command::new(polrt_bin())
            .arg("inspect")
            .arg(path)
            .output()
            .expect("run polrt");
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => {}
            Some(1) => assert!(stderr.starts_with("polrt: error: "), "{stderr}"),
            other => panic!("{}: exit {other:?}\n{stderr}", path.display()),
        }
        assert!(!stderr.contains("internal error"), "{stderr}");
    }
    if !kernel_tests_enabled("the_polrt_binary_answers_corrupted_objects (verify)") {
        return;
    }
    let out = Command::new(polrt_bin())
        .arg("verify")
        .args(&paths)
        .output()
        .expect("run polrt");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for path in &paths {
        let name = path.display().to_string();
        assert!(
            stdout.contains(&name) || stderr.contains(&name),
            "{name} is neither reported nor refused"
        );
    }
}
