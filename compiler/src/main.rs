//! `polc`: command-line front of the compiler (clap only: read files, render,
//! exit code). One function per subcommand; all the work is in the library.
//!
//! Exit codes: 0 success (warnings allowed), 1 the policy has errors, 2 usage
//! or I/O errors.

mod cli;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use polc::check::{check_source, reference};
use polc::diag::{render_json, render_text, Code, Diagnostic};

/// Compiles .pol runtime-security policies to verified, bounded eBPF.
#[derive(Parser, Debug)]
#[command(name = "polc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse and type-check policies; report errors and warnings.
    Check(CheckArgs),
    /// Explain a diagnostic code (e.g. `polc explain E0201`).
    Explain(ExplainArgs),
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// Policy files to check.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// How diagnostics are printed: `human` on stderr, or `json` (one object
    /// per line) on stdout.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,
    /// When to colour human output (`auto`: only on a terminal, and not when
    /// NO_COLOR is set).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(clap::Args, Debug)]
struct ExplainArgs {
    /// The code, e.g. E0201 or W0001.
    code: String,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum MessageFormat {
    Human,
    Json,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

const EXIT_ERRORS: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let command = Cli::command().after_long_help(format!(
        "Hooks and their own fields (every hook also has the proc.* fields):\n{}",
        reference::hooks_summary()
    ));
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match cli.command {
        Command::Check(args) => check(&args),
        Command::Explain(args) => explain(&args),
    }
}

/// `polc check FILE...`.
fn check(args: &CheckArgs) -> ExitCode {
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let mut io_error = false;
    let mut errors = 0usize;
    let mut warnings = 0usize;
    for path in &args.files {
        let name = path.display().to_string();
        let source = match std::fs::read(path) {
            Ok(bytes) => {
                match String::from_utf8(bytes) {
                    Ok(source) => source,
                    Err(error) => {
                        eprintln!("polc: cannot check `{name}`: not UTF-8 text (invalid byte at offset {})", error.utf8_error().valid_up_to());
                        io_error = true;
                        continue;
                    }
                }
            }
            Err(error) => {
                eprintln!("polc: cannot read `{name}`: {error}");
                io_error = true;
                continue;
            }
        };
        let checked = check_source(&name, &source);
        errors += checked.diagnostics.iter().filter(|d| d.is_error()).count();
        warnings += checked.diagnostics.iter().filter(|d| !d.is_error()).count();
        print_diagnostics(
            &checked.diagnostics,
            &name,
            &source,
            args.message_format,
            color,
        );
    }
    if args.message_format == MessageFormat::Human && (errors > 0 || warnings > 0) {
        eprintln!("{}", summary(errors, warnings));
    }
    if io_error {
        ExitCode::from(EXIT_USAGE)
    } else if errors > 0 {
        ExitCode::from(EXIT_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}

fn print_diagnostics(
    diagnostics: &[Diagnostic],
    name: &str,
    source: &str,
    format: MessageFormat,
    color: bool,
) {
    // Output errors (a closed pipe) are not worth a panic or a different exit code.
    match format {
        MessageFormat::Human => {
            let _ = std::io::stderr()
                .write_all(render_text(diagnostics, name, source, color).as_bytes());
        }
        MessageFormat::Json => {
            let _ = std::io::stdout().write_all(render_json(diagnostics, name, source).as_bytes());
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn summary(errors: usize, warnings: usize) -> String {
    match (errors, warnings) {
        (0, w) => format!("polc: {} emitted", plural(w, "warning")),
        (e, 0) => format!("polc: {}: the policy is rejected", plural(e, "error")),
        (e, w) => format!(
            "polc: {} and {}: the policy is rejected",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

/// `polc explain CODE`.
fn explain(args: &ExplainArgs) -> ExitCode {
    let Some(code) = Code::from_name(args.code.trim()) else {
        eprintln!(
            "polc: unknown code `{}`; codes look like E0201 or W0001 (see docs/errors.md)",
            args.code
        );
        return ExitCode::from(EXIT_USAGE);
    };
    let doc = code.doc();
    let example: String = doc
        .example
        .lines()
        .map(|line| format!("    {line}\n"))
        .collect();
    print!(
        "{code} ({severity}): {title}\n\n{what}\n\nWhy: {why}\n\nExample:\n\n{example}\nFix: {fix}\n",
        code = code.as_str(),
        severity = code.severity().as_str(),
        title = doc.title,
        what = doc.what,
        why = doc.why,
        fix = doc.fix,
    );
    ExitCode::SUCCESS
}
