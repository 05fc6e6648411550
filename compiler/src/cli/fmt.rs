//! `polc fmt [--check] [PATH...]`: rewrites policies in the canonical layout
//! of `polc::fmt` (files in place, directories for every `.pol` in them;
//! no path or `-`: standard input to standard output). `--check` writes
//! nothing: it prints a diff for every file that is not formatted and exits
//! with 1.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use polc::fmt::{format_source, line_diff};

use crate::{print_diagnostics, MessageFormat, EXIT_ERRORS, EXIT_USAGE};

/// Formats what `args` names.
pub fn run(args: &crate::FmtArgs) -> ExitCode {
    let color = args.color.enabled();
    let stdin = args.paths.is_empty() || args.paths.iter().any(|p| p.as_os_str() == "-");
    if stdin {
        if args.paths.len() > 1 {
            eprintln!("polc: `-` (standard input) cannot be formatted with other files");
            return ExitCode::from(EXIT_USAGE);
        }
        return format_stdin(args.check, color);
    }
    let files = match super::policy_files(&args.paths) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut status = ExitCode::SUCCESS;
    let mut unformatted = 0usize;
    for path in &files {
        match format_file(path, args.check, color) {
            Ok(true) => {}
            Ok(false) => unformatted += 1,
            Err(code) => {
                if code == ExitCode::from(EXIT_USAGE) || status == ExitCode::SUCCESS {
                    status = code;
                }
            }
        }
    }
    if unformatted > 0 {
        eprintln!(
            "polc: {unformatted} of {} file{} not formatted (run `polc fmt` on {})",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            if unformatted == 1 { "it" } else { "them" }
        );
        if status == ExitCode::SUCCESS {
            status = ExitCode::from(EXIT_ERRORS);
        }
    }
    status
}

/// Formats one file: `Ok(true)` when it was (or now is) formatted,
/// `Ok(false)` when `--check` found it not formatted.
fn format_file(path: &PathBuf, check: bool, color: bool) -> Result<bool, ExitCode> {
    let (name, source) = crate::read_source(path).map_err(|message| {
        eprintln!("{message}");
        ExitCode::from(EXIT_USAGE)
    })?;
    let formatted = match format_source(&source) {
        Ok(text) => text,
        Err(diagnostics) => {
            print_diagnostics(&diagnostics, &name, &source, MessageFormat::Human, color);
            eprintln!("polc: `{name}` has syntax errors: not formatted");
            return Err(ExitCode::from(EXIT_ERRORS));
        }
    };
    if formatted == source {
        return Ok(true);
    }
    if check {
        print!("{}", line_diff(&name, &source, &formatted));
        return Ok(false);
    }
    std::fs::write(path, formatted).map_err(|error| {
        eprintln!("polc: cannot write `{name}`: {error}");
        ExitCode::from(EXIT_USAGE)
    })?;
    Ok(true)
}

fn format_stdin(check: bool, color: bool) -> ExitCode {
    let mut bytes = Vec::new();
    if let Err(error) = std::io::stdin().read_to_end(&mut bytes) {
        eprintln!("polc: cannot read standard input: {error}");
        return ExitCode::from(EXIT_USAGE);
    }
    let Ok(source) = String::from_utf8(bytes) else {
        eprintln!("polc: cannot read standard input: not UTF-8 text");
        return ExitCode::from(EXIT_USAGE);
    };
    match format_source(&source) {
        Ok(formatted) if check => {
            if formatted == source {
                ExitCode::SUCCESS
            } else {
                print!("{}", line_diff("<stdin>", &source, &formatted));
                ExitCode::from(EXIT_ERRORS)
            }
        }
        Ok(formatted) => {
            let _ = std::io::stdout().write_all(formatted.as_bytes());
            ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            print_diagnostics(
                &diagnostics,
                "<stdin>",
                &source,
                MessageFormat::Human,
                color,
            );
            ExitCode::from(EXIT_ERRORS)
        }
    }
}
