//! The bodies of the fuzz targets beyond the front end, shared by the
//! cargo-fuzz targets in `fuzz/` and by the test that replays every input
//! kept in `fuzz/regressions/` (`tests/fuzz_regressions.rs`), so a crash
//! found once stays fixed under a plain `cargo test`.
//!
//! Each function takes arbitrary bytes and panics only on a bug:
//!
//! - [`generated_policy`]: the bytes drive the policy generator choice by
//!   choice (any input is a valid, well-typed policy), then the events; the
//!   policy must check (front end and cost measurement), build, write an
//!   object that polrt reads back to the same metadata, and its test-run
//!   programs, run by the executor, must decide as the interpreter does.
//! - [`source_policy`]: the bytes are policy source; when it checks, it must
//!   build and write an object that polrt reads back to the same metadata.
//! - [`object`]: the bytes are an object file; polrt's reader (the ELF,
//!   the metadata, the code hash, and aya's own object parser and
//!   relocations) and `polrt inspect` on what it accepts must not panic,
//!   and a refusal is a message with exit code 1.
//! - [`corrupted_object`]: the bytes choose a real object and its
//!   corruption ([`crate::corrupt`]), then as [`object`].
//!
//! No kernel: these run anywhere, as fast as the compiler.

use polc::compile::{self, Build};
use polc::interp;
use polc::ir::TestContext;

use crate::exec::Executor;
use crate::gen::events::EventGen;
use crate::gen::policy::{self, Shape};
use crate::gen::rng::{ByteEntropy, Entropy};

/// Builds `source` (which checked as `policy`) and reads its object back.
fn build_and_read_back(policy: &polc::check::policy::CheckedPolicy, source: &str) -> Build {
    let build = compile::build(policy, source, 4096)
        .unwrap_or_else(|e| panic!("a policy that checks does not build: {e}\n{source}"));
    let bytes = build
        .object_bytes()
        .unwrap_or_else(|e| panic!("writing the object: {e}\n{source}"));
    let object = polrt::object::parse_object("fuzz.o", bytes)
        .unwrap_or_else(|e| panic!("polrt cannot read the object: {e}\n{source}"));
    assert!(
        object.metadata == build.metadata,
        "the object's metadata differs from the build's\n{source}"
    );
    let _ = polrt::inspect::render(&object);
    build
}

/// Generated policy and events from `data` (see the module docs).
pub fn generated_policy(data: &[u8]) {
    let mut rng = ByteEntropy::new(data);
    let source = policy::policy(&mut rng, &Shape::small());
    let checked = compile::compile_source("fuzz.pol", &source, compile::DEFAULT_RINGBUF_BYTES)
        .unwrap_or_else(|e| panic!("{e}\n{source}"));
    let Some(policy) = checked.policy else {
        panic!(
            "a generated policy does not check:\n{}\n{source}",
            polc::diag::render_text(&checked.diagnostics, "fuzz.pol", &source, false)
        );
    };
    build_and_read_back(&policy, &source);
    for hook in policy.hooks() {
        let test_run = compile::build_test_run(&policy, &source, hook)
            .unwrap_or_else(|e| panic!("the test-run program does not build: {e}\n{source}"));
        let mut executor = Executor::new(&test_run)
            .unwrap_or_else(|e| panic!("the executor cannot set up {hook}: {e}\n{source}"));
        let events = EventGen::new(&policy, hook);
        for i in 0..3 {
            let event = events.event(&mut rng);
            let want = interp::evaluate(&policy, hook, &event);
            let run = executor
                .run(&TestContext::encode(&event), rng.any_u64())
                .unwrap_or_else(|fault| panic!("{hook} faults on event {i}: {fault}\n{source}"));
            assert!(
                run.rule() == want.rule && run.action() == Some(want.action),
                "{hook}: the executor decided {:?} {:?}, the interpreter {want:?}\n{event:?}\n{source}",
                run.rule(),
                run.action()
            );
            assert!(
                run.executed <= test_run.programs[0].meta.max_path,
                "{hook}: executed {} above max path\n{source}",
                run.executed
            );
        }
    }
}

/// Arbitrary source from `data` (see the module docs).
pub fn source_policy(data: &[u8]) {
    let source = String::from_utf8_lossy(data);
    let checked = polc::check::check_source("fuzz.pol", &source);
    if let Some(policy) = checked.policy {
        build_and_read_back(&policy, &source);
    }
}

/// An arbitrary object file from `data` (see the module docs). Returns
/// what polrt made of it: the object, or its error.
pub fn object(data: &[u8]) -> Result<polrt::object::PolicyObject, polrt::Error> {
    match polrt::object::parse_object("fuzz.o", data.to_vec()) {
        Ok(object) => {
            let _ = polrt::inspect::render(&object);
            Ok(object)
        }
        Err(error) => {
            let error = polrt::Error::from(error);
            assert_eq!(error.exit_code(), polrt::EXIT_FAILURE, "{error}");
            assert!(!error.to_string().is_empty());
            Err(error)
        }
    }
}

/// A real object corrupted as `data` chooses (see the module docs).
pub fn corrupted_object(data: &[u8]) {
    let corrupted = crate::corrupt::corrupt(&mut ByteEntropy::new(data));
    let _ = object(&corrupted.bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bytes_are_a_policy() {
        for data in [&b""[..], &[0xff; 64], b"\x01\x02\x03 polc", &[7; 4096]] {
            generated_policy(data);
            source_policy(data);
            let _ = object(data);
            corrupted_object(data);
        }
    }
}
