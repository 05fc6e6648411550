//! `polc`: command-line front of the compiler (clap only: read files, render,
//! exit code). One function per subcommand; all the work is in the library.
//!
//! Exit codes (also in `polc --help` and docs/ci.md):
//! - 0: success (warnings allowed, unless `-D warnings`);
//! - 1: the policy has errors (or warnings under `-D warnings`), a test
//!   failed, `fmt --check` found a file not formatted;
//! - 2: usage or I/O errors (bad arguments, unreadable files);
//! - 3: `polc test`: every test that ran passed, but the compiled programs
//!   were asked for and could not be run (not root; `--interp-only` runs the
//!   interpreter alone);
//! - 101: an internal error (a bug in polc: reported as "internal error:
//!   ... this is a bug, please report it"; never an input, which gets a
//!   diagnostic).

mod cli;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use polc::check::reference;
use polc::compile::{compile_source, DEFAULT_RINGBUF_BYTES};
use polc::diag::{render_json, render_text, Code, Diagnostic};

/// What `polc --help` says about exit codes.
const EXIT_CODES_HELP: &str = "Exit codes: 0 success; 1 the policy has errors (or warnings under \
-D warnings), a test failed, or `fmt --check` found a file not formatted; 2 usage or I/O errors; \
3 `polc test` could not run the compiled programs it was asked to (not root); 101 an internal \
error (a bug in polc).";

/// Compiles .pol runtime-security policies to verified, bounded eBPF.
#[derive(Parser, Debug)]
#[command(name = "polc", version = polc::LONG_VERSION, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Parse, type-check and measure policies against the kernel's limits;
    /// report errors and warnings.
    Check(CheckArgs),
    /// Compile a policy to one eBPF object (or print its IR, disassembly, stats).
    Build(BuildArgs),
    /// Run the policy's own `test` blocks on the reference interpreter and on
    /// the compiled decision programs in the kernel (needs root for the latter).
    Test(TestArgs),
    /// Explain a diagnostic code (e.g. `polc explain E0201`); with no code,
    /// list every code.
    Explain(ExplainArgs),
    /// Rewrite policies in the canonical layout (no FILE or `-`: standard
    /// input to standard output).
    Fmt(FmtArgs),
    /// The hooks and their fields: types, backends and meaning.
    Fields(FieldsArgs),
    /// A Language Server Protocol server on standard input and output.
    Lsp,
    /// Print the shell completion script (e.g. `polc completions bash`).
    Completions(polc::manual::CompletionsArgs),
    /// Write the man pages (polc.1, polc-check.1, ...) into a directory.
    Man(polc::manual::ManArgs),
}

#[derive(clap::Args, Debug)]
struct FmtArgs {
    /// Policy files, or directories for every `.pol` in them.
    #[arg(value_name = "FILE|DIR")]
    paths: Vec<PathBuf>,
    /// Write nothing: print a diff of each file that is not formatted and
    /// exit with 1.
    #[arg(long)]
    check: bool,
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(clap::Args, Debug)]
struct FieldsArgs {
    /// Only this hook (`exec`, `file.open`, ...).
    hook: Option<String>,
}

#[derive(clap::Args, Debug)]
struct BuildArgs {
    /// The policy to compile.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where to write the output (default: FILE with the extension `.o`; for
    /// `--emit asm|ir`, standard output; `-`: standard output).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    output: Option<PathBuf>,
    /// What to produce.
    #[arg(long, value_enum, default_value_t = Emit::Obj)]
    emit: Emit,
    /// Print per-program statistics: instructions, worst-case executed
    /// instructions, stack bytes and maps.
    #[arg(long)]
    stats: bool,
    /// Size of the event ring buffer in bytes (a power of two, at least 4096).
    #[arg(long, value_name = "BYTES", default_value_t = polc::compile::DEFAULT_RINGBUF_BYTES, value_parser = parse_ringbuf_size)]
    ringbuf_size: u32,
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// The ELF object.
    Obj,
    /// Annotated disassembly of every program.
    Asm,
    /// The decision IR.
    Ir,
}

#[derive(clap::Args, Debug)]
struct TestArgs {
    /// Policy files whose `test` blocks to run, or directories for every
    /// `.pol` in them.
    #[arg(required = true, value_name = "FILE|DIR")]
    files: Vec<PathBuf>,
    /// `human` (like `cargo test`) or `json` (one object per test per line).
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    format: MessageFormat,
    /// Run only the interpreter (no root needed; the compiled programs are not checked).
    #[arg(long)]
    interp_only: bool,
    /// Run the files as one set, as `polrt run` enforces them together: each
    /// test expects the strongest verdict of every policy's decision.
    #[arg(long)]
    together: bool,
    /// The user database the policies' user names (`proc.user == "root"`)
    /// are resolved from, as polrt resolves them from the node's: test
    /// events give ids (`with proc.uid = 1000`).
    #[arg(long, value_name = "FILE", default_value = "/etc/passwd")]
    passwd: PathBuf,
    /// The group database the policies' group names (`proc.group`) are
    /// resolved from.
    #[arg(long, value_name = "FILE", default_value = "/etc/group")]
    group: PathBuf,
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

fn parse_ringbuf_size(text: &str) -> Result<u32, String> {
    let n: u32 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of bytes"))?;
    if n < 4096 || !n.is_power_of_two() {
        return Err(format!("{n} is not a power of two of at least 4096"));
    }
    Ok(n)
}

#[derive(clap::Args, Debug)]
struct CheckArgs {
    /// Policy files to check, or directories for every `.pol` in them.
    #[arg(required = true, value_name = "FILE|DIR")]
    files: Vec<PathBuf>,
    /// How diagnostics are printed: `human` on stderr, or `json` (one object
    /// per line) on stdout.
    #[arg(long, alias = "message-format", value_enum, default_value_t = MessageFormat::Human)]
    format: MessageFormat,
    /// Turn warnings into errors: `-D warnings` (for CI gates).
    #[arg(short = 'D', long = "deny", value_name = "warnings", value_enum)]
    deny: Vec<Deny>,
    /// The same as `-D warnings`.
    #[arg(long)]
    deny_warnings: bool,
    /// When to colour human output (`auto`: only on a terminal, and not when
    /// NO_COLOR is set).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
}

/// What `-D` turns into errors.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Deny {
    /// Every warning.
    Warnings,
}

#[derive(clap::Args, Debug)]
struct ExplainArgs {
    /// The code, e.g. E0201 or W0001 (none: list every code).
    code: Option<String>,
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
const EXIT_INCOMPLETE: u8 = 3;

fn main() -> ExitCode {
    report_panics_as_bugs();
    default_sigpipe();
    // The hooks summary is built for a help text only (the other commands
    // start without it).
    let asks_help = std::env::args_os()
        .skip(1)
        .any(|arg| arg == "--help" || arg == "-h" || arg == "help");
    let command = if asks_help {
        Cli::command().after_long_help(format!(
            "Hooks and their own fields (every hook also has the proc.*, container.* and k8s.pod.* fields):\n{}\n\n{EXIT_CODES_HELP}",
            reference::hooks_summary()
        ))
    } else {
        Cli::command()
    };
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match cli.command {
        Command::Check(args) => check(&args),
        Command::Build(args) => cli::build::run(&args),
        Command::Test(args) => cli::test::run(&args),
        Command::Explain(args) => explain(&args),
        Command::Fmt(args) => cli::fmt::run(&args),
        Command::Fields(args) => fields(&args),
        Command::Lsp => cli::lsp::run(),
        Command::Completions(args) => {
            let script = polc::manual::completions(Cli::command(), args.shell);
            let _ = std::io::stdout().write_all(&script);
            ExitCode::SUCCESS
        }
        Command::Man(args) => cli::write_man_pages(Cli::command(), &args.dir),
    }
}

/// A panic is a bug in polc: it is reported as one (message and location)
/// and the process exits with code 101 (Rust's exit code for a panic).
fn report_panics_as_bugs() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|at| format!(" (at {}:{})", at.file(), at.line()))
            .unwrap_or_default();
        eprintln!("polc: internal error: {message}{at}; this is a bug, please report it");
    }));
}

/// Restores the default SIGPIPE action (the Rust runtime ignores it), so
/// `polc build --emit asm | head` ends quietly like any Unix filter instead
/// of panicking on a broken pipe.
fn default_sigpipe() {
    // SAFETY: called first in `main`, before any other thread exists;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

impl ColorChoice {
    /// Whether to colour output written to standard error.
    fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

/// `polc check FILE|DIR...`.
fn check(args: &CheckArgs) -> ExitCode {
    let color = args.color.enabled();
    let deny_warnings = args.deny_warnings || args.deny.contains(&Deny::Warnings);
    let mut io_error = false;
    let mut errors = 0usize;
    let mut warnings = 0usize;
    let files = match cli::policy_files(&args.files) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    for path in &files {
        let (name, source) = match read_source(path) {
            Ok(read) => read,
            Err(message) => {
                eprintln!("{message}");
                io_error = true;
                continue;
            }
        };
        let checked = match compile_source(&name, &source, DEFAULT_RINGBUF_BYTES) {
            Ok(checked) => checked,
            Err(error) => {
                eprintln!("polc: {name}: {error}");
                errors += 1;
                continue;
            }
        };
        let mut diagnostics = checked.diagnostics;
        if deny_warnings {
            for diagnostic in &mut diagnostics {
                diagnostic.severity = polc::diag::Severity::Error;
            }
        }
        errors += diagnostics.iter().filter(|d| d.is_error()).count();
        warnings += diagnostics.iter().filter(|d| !d.is_error()).count();
        print_diagnostics(&diagnostics, &name, &source, args.format, color);
    }
    if args.format == MessageFormat::Human && (errors > 0 || warnings > 0) {
        eprintln!("{}", summary(errors, warnings));
        if deny_warnings && errors > 0 {
            eprintln!("polc: warnings are errors here (-D warnings)");
        }
    }
    if io_error {
        ExitCode::from(EXIT_USAGE)
    } else if errors > 0 {
        ExitCode::from(EXIT_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Reads a policy: its display name and text, or a one-line error message.
fn read_source(path: &std::path::Path) -> Result<(String, String), String> {
    let name = path.display().to_string();
    let bytes =
        std::fs::read(path).map_err(|error| format!("polc: cannot read `{name}`: {error}"))?;
    let source = String::from_utf8(bytes).map_err(|error| {
        format!(
            "polc: cannot read `{name}`: not UTF-8 text (invalid byte at offset {})",
            error.utf8_error().valid_up_to()
        )
    })?;
    Ok((name, source))
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

/// `polc explain [CODE]`.
fn explain(args: &ExplainArgs) -> ExitCode {
    let Some(name) = &args.code else {
        for code in Code::ALL {
            println!(
                "{}  {:<7}  {}",
                code.as_str(),
                code.severity().as_str(),
                code.doc().title
            );
        }
        println!("\n`polc explain CODE` explains one.");
        return ExitCode::SUCCESS;
    };
    let Some(code) = Code::from_name(name.trim()) else {
        eprintln!(
            "polc: unknown code `{name}`; codes look like E0201 or W0001 (`polc explain` lists them)"
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

/// `polc fields [HOOK]`.
fn fields(args: &FieldsArgs) -> ExitCode {
    let hook = match &args.hook {
        None => None,
        Some(name) => match polc::check::hooks::Hook::from_name(name) {
            Some(hook) => Some(hook),
            None => {
                eprintln!(
                    "polc: unknown hook `{name}`; the hooks are {}",
                    reference::hook_names().join(", ")
                );
                return ExitCode::from(EXIT_USAGE);
            }
        },
    };
    print!("{}", reference::fields_text(hook));
    ExitCode::SUCCESS
}
