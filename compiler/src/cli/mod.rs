//! The subcommands of the `polc` binary beyond `check`: `build`, `test`,
//! `fmt` and `lsp`, running compiled decision programs in the kernel for
//! `polc test`, and what several share (the policy files of a directory,
//! man pages).

pub mod build;
pub mod fmt;
pub mod lsp;
pub mod test;
pub mod testrun;

use std::path::{Path, PathBuf};
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
/// a file that cannot be read (usage) or has errors. The test programs of
/// the hooks are built (and measured) only when `test_runs` asks for them
/// (`polc test`; an object has none).
pub fn load_policy(
    path: &Path,
    color: bool,
    ringbuf_bytes: u32,
    test_runs: bool,
) -> Result<Loaded, ExitCode> {
    let (name, source) = read_source(path).map_err(|message| {
        eprintln!("{message}");
        ExitCode::from(EXIT_USAGE)
    })?;
    let compiled = if test_runs {
        compile_source(&name, &source, ringbuf_bytes)
    } else {
        polc::compile::compile_object_source(&name, &source, ringbuf_bytes)
    };
    let compiled = compiled.map_err(|error| {
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

/// The policy files `paths` name: files as given, directories for every
/// `.pol` below them (sorted, hidden entries skipped). An error message for
/// a path that does not exist or a directory without policies.
pub fn policy_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = files.len();
            collect_pol_files(path, &mut files)
                .map_err(|error| format!("polc: cannot read `{}`: {error}", path.display()))?;
            if files.len() == before {
                return Err(format!("polc: no .pol file in `{}`", path.display()));
            }
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn collect_pol_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_pol_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "pol") {
            out.push(path);
        }
    }
    Ok(())
}

/// `polc man DIR` (and `polrt man DIR`): writes the man pages of `command`.
pub fn write_man_pages(command: clap::Command, dir: &Path) -> ExitCode {
    let pages = match polc::manual::man_pages(command) {
        Ok(pages) => pages,
        Err(error) => {
            eprintln!("polc: cannot render the man pages: {error}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Err(error) = std::fs::create_dir_all(dir) {
        eprintln!("polc: cannot create `{}`: {error}", dir.display());
        return ExitCode::from(EXIT_USAGE);
    }
    for (name, page) in pages {
        let path = dir.join(&name);
        if let Err(error) = std::fs::write(&path, page) {
            eprintln!("polc: cannot write `{}`: {error}", path.display());
            return ExitCode::from(EXIT_USAGE);
        }
        println!("{}", path.display());
    }
    ExitCode::SUCCESS
}
