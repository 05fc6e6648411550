//! The subcommands of the `polc` binary beyond `check`: `build` and `test`,
//! and running compiled decision programs in the kernel for `polc test`.

pub mod build;
pub mod test;
pub mod testrun;

use std::path::Path;
use std::process::ExitCode;

use polc::check::{check_source, policy::CheckedPolicy};

use crate::{print_diagnostics, read_source, MessageFormat, EXIT_ERRORS, EXIT_USAGE};

/// A policy file read and checked, its diagnostics printed on standard error.
pub struct Loaded {
    pub name: String,
    pub source: String,
    pub policy: CheckedPolicy,
}

/// Reads and checks `path`, printing its diagnostics; `Err` holds the exit
/// code for a file that cannot be read (usage) or has errors.
pub fn load_policy(path: &Path, color: bool) -> Result<Loaded, ExitCode> {
    let (name, source) = read_source(path).map_err(|message| {
        eprintln!("{message}");
        ExitCode::from(EXIT_USAGE)
    })?;
    let checked = check_source(&name, &source);
    print_diagnostics(
        &checked.diagnostics,
        &name,
        &source,
        MessageFormat::Human,
        color,
    );
    match checked.policy {
        Some(policy) => Ok(Loaded {
            name,
            source,
            policy,
        }),
        None => Err(ExitCode::from(EXIT_ERRORS)),
    }
}
