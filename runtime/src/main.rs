//! `polrt`: command-line front of the runtime (clap only: parse arguments,
//! call the library, print, choose the exit code). All the work is in the
//! `polrt` library.
//!
//! Exit codes: 0 success, 1 policy, object, kernel, verifier or load errors
//! (and `verify` with a rejected program), 2 usage errors (arguments,
//! unreadable files, a bad `--cgroup`), 101 an internal error (a bug in
//! polrt: reported as "internal error: ... this is a bug, please report it";
//! never a malformed object, which is exit code 1).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use polrt::output::Format;
use polrt::run::{install_signal_handlers, RunOptions};
use polrt::{
    inspect, object, persist, probe, run, status, verify, Error, EXIT_FAILURE, EXIT_USAGE,
};

/// Loads polc policies into the kernel, enforces and reports their verdicts.
#[derive(Parser, Debug)]
#[command(name = "polrt", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load, attach and enforce a policy; stream its events until SIGINT, SIGTERM or SIGQUIT.
    Run(RunArgs),
    /// Load every program into the kernel verifier without attaching; per-program stats.
    Verify(VerifyArgs),
    /// Describe an object: rules, hooks, backends, programs, maps (no privileges needed).
    Inspect(InspectArgs),
    /// List the policies `run --persist` pinned: object, hooks, backends, programs, counters.
    Status(StatusArgs),
    /// Stop a persisted policy: stop the polrt reading it, detach and unpin everything.
    Stop(StopArgs),
}

#[derive(clap::Args, Debug)]
struct StatusArgs {
    /// One policy's name (default: every persisted policy).
    #[arg(value_name = "NAME")]
    name: Option<String>,
    /// Print JSON instead.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
struct StopArgs {
    /// The policy's name (default: the only persisted policy).
    #[arg(value_name = "NAME")]
    name: Option<String>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The policy: an object written by `polc build`, or a `.pol` source.
    #[arg(value_name = "POLICY.o|POLICY.pol")]
    policy: PathBuf,
    /// Report deny/kill as would-deny/would-kill and enforce nothing.
    #[arg(long)]
    monitor: bool,
    /// Scope every rule to this cgroup v2 directory and its descendants (and
    /// attach cgroup programs there).
    #[arg(long, value_name = "PATH")]
    cgroup: Option<PathBuf>,
    /// Output format of events.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Append events to FILE instead of stdout (mode 0600 when created; no
    /// symbolic links, hard links or other users' files; SIGHUP reopens it).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Fail instead of falling back when a hook cannot use its LSM backend.
    #[arg(long)]
    require_lsm: bool,
    /// Size of the event ring buffer in bytes (a power of two, a multiple of
    /// the page size).
    #[arg(long, value_name = "BYTES")]
    ringbuf_size: Option<u32>,
    /// Pin programs, links and maps under /sys/fs/bpf/polc/NAME (default
    /// NAME: the policy file's stem), so that enforcement outlives polrt;
    /// a later run of the same NAME adopts or replaces them, `polrt stop
    /// NAME` removes them.
    #[arg(long, value_name = "NAME", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    persist: Option<String>,
}

#[derive(clap::Args, Debug)]
struct VerifyArgs {
    /// Objects or `.pol` sources.
    #[arg(required = true, value_name = "POLICY.o|POLICY.pol")]
    policies: Vec<PathBuf>,
    /// Print the whole verifier log of a rejected program, not only its end.
    #[arg(long)]
    full_log: bool,
}

#[derive(clap::Args, Debug)]
struct InspectArgs {
    /// An object (or a `.pol` source, compiled in process).
    #[arg(value_name = "POLICY.o")]
    policy: PathBuf,
    /// Print the metadata as JSON instead.
    #[arg(long)]
    json: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    Text,
    Json,
}

fn main() -> ExitCode {
    polrt::panics::report_panics_as_bugs();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run_command(args),
        Command::Verify(args) => {
            default_sigpipe();
            verify_command(&args)
        }
        Command::Inspect(args) => {
            default_sigpipe();
            inspect_command(&args)
        }
        Command::Status(args) => {
            default_sigpipe();
            status_command(&args)
        }
        Command::Stop(args) => stop_command(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("polrt: error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Restores the default SIGPIPE action for the commands that only print
/// (`verify`, `inspect`), so `polrt inspect X.o | head` ends quietly instead
/// of panicking on a broken pipe. `run` keeps SIGPIPE ignored: a closed
/// output is a write error there, reported on stderr, and enforcement goes on.
fn default_sigpipe() {
    // SAFETY: called before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn run_command(args: RunArgs) -> Result<ExitCode, Error> {
    install_signal_handlers();
    let persist = args.persist.map(|name| {
        if name.is_empty() {
            persist::default_name(&args.policy)
        } else {
            name
        }
    });
    let options = RunOptions {
        policy: args.policy,
        monitor: args.monitor,
        cgroup: args.cgroup,
        format: match args.format {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
        },
        output: args.output,
        require_lsm: args.require_lsm,
        ringbuf_bytes: args.ringbuf_size,
        persist,
    };
    run::run(&options)?;
    Ok(ExitCode::SUCCESS)
}

fn verify_command(args: &VerifyArgs) -> Result<ExitCode, Error> {
    let mut rejected = false;
    let mut failed = None;
    let mut kernel = None;
    for path in &args.policies {
        match verify::verify(path, args.full_log, &mut kernel) {
            Ok(report) => {
                print!("{}", report.render());
                rejected |= report.rejected() > 0;
            }
            Err(error) => {
                // With several objects, every error names its object.
                let name = path.display().to_string();
                let text = error.to_string();
                if text.contains(&name) {
                    eprintln!("polrt: error: {text}");
                } else {
                    eprintln!("polrt: error: `{name}`: {text}");
                }
                let code = error.exit_code();
                failed = Some(failed.map_or(code, |c: u8| c.min(code)));
            }
        }
    }
    Ok(match failed {
        Some(code) if code == EXIT_USAGE && !rejected => ExitCode::from(EXIT_USAGE),
        Some(_) => ExitCode::from(EXIT_FAILURE),
        None if rejected => ExitCode::from(EXIT_FAILURE),
        None => ExitCode::SUCCESS,
    })
}

fn status_command(args: &StatusArgs) -> Result<ExitCode, Error> {
    probe::check_privileges()?;
    let statuses = status::status(args.name.as_deref())?;
    if args.json {
        println!("{}", status::to_json(&statuses));
    } else {
        print!("{}", status::render(&statuses));
    }
    let broken = statuses.iter().any(|s| !s.problems.is_empty());
    Ok(if broken {
        ExitCode::from(EXIT_FAILURE)
    } else {
        ExitCode::SUCCESS
    })
}

fn stop_command(args: &StopArgs) -> Result<ExitCode, Error> {
    probe::check_privileges()?;
    let report = status::stop(args.name.as_deref())?;
    let stopped = match report.stopped {
        Some(tgid) => format!("stopped polrt (pid {tgid}), "),
        None => String::new(),
    };
    eprintln!(
        "polrt: stop: {stopped}removed policy `{}`: {} pins (its programs are detached)",
        report.name, report.removed
    );
    Ok(ExitCode::SUCCESS)
}

fn inspect_command(args: &InspectArgs) -> Result<ExitCode, Error> {
    let policy = object::load_path(&args.policy, polc::compile::DEFAULT_RINGBUF_BYTES)?;
    if args.json {
        let json = serde_json::to_string_pretty(&policy.metadata)
            .map_err(|e| Error::Usage(format!("cannot render the metadata: {e}")))?;
        println!("{json}");
    } else {
        print!("{}", inspect::render(&policy));
    }
    Ok(ExitCode::SUCCESS)
}
