//! The subcommands of the `polc` binary beyond `check`: `build` and `test`,
//! and running compiled decision programs in the kernel for `polc test`.

pub mod build;
pub mod test;
pub mod testrun;

use std::path::Path;
use std::process::ExitCode;

use polc::check::policy::CheckedPolicy;
use polc::compile::{compile_source, Build};

use crate::{print_diagnostics, read_source, MessageFormat, EXIT_ERRORS, EXIT_USAGE};

/// A policy file read, checked, built and measured, its diagnostics printed
/// on standard error.
pub struct Loaded {
    pub name: String,
    pub source: String,
    pub policy: CheckedPolicy,
    pub build: Build,
    /// The `polc test` program of each hook of the policy.
    pub test_runs: Vec<Build>,
}

/// Reads, checks, builds (with a ring buffer of `ringbuf_bytes`) and
/// measures `path`, printing its diagnostics; `Err` holds the exit code for
/// a file that cannot be read (usage) or has errors.
pub fn load_policy(path: &Path, color: bool, ringbuf_bytes: u32) -> Result<Loaded, ExitCode> {
    let (name, source) = read_source(path).map_err(|message| {
        eprintln!("{message}");
        ExitCode::from(EXIT_USAGE)
    })?;
    let compiled = compile_source(&name, &source, ringbuf_bytes).map_err(|error| {
        eprintln!("polc: {error}");
        ExitCode::from(EXIT_ERRORS)
    })?;
    print_diagnostics(
        &compiled.diagnostics,
        &name,
        &source,
        MessageFormat::Human,
        color,
    );
    match (compiled.policy, compiled.build) {
        (Some(policy), Some(build)) => Ok(Loaded {
            name,
            source,
            policy,
            build,
            test_runs: compiled.test_runs,
        }),
        _ => Err(ExitCode::from(EXIT_ERRORS)),
    }
}
