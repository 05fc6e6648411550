//! `polrt`: command-line front of the runtime (clap only: parse arguments,
//! call the library, print, choose the exit code). All the work is in the
//! `polrt` library.
//!
//! Exit codes: 0 success, 1 policy, object, kernel, verifier or load errors
//! (and `verify` with a rejected program, or with `--require-all` a program
//! this kernel cannot load), 2 usage errors (arguments, unreadable files, a
//! bad `--cgroup`), 101 an internal error (a bug in polrt: reported as
//! "internal error: ... this is a bug, please report it"; never a malformed
//! object, which is exit code 1).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use polrt::output::Format;
use polrt::run::{install_signal_handlers, RunOptions};
use polrt::{inspect, object, probe, run, status, verify, Error, EXIT_FAILURE, EXIT_USAGE};

/// Loads polc policies into the kernel, enforces and reports their verdicts.
#[derive(Parser, Debug)]
#[command(name = "polrt", version = polc::LONG_VERSION, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Load, attach and enforce policies; stream their events until SIGINT, SIGTERM or SIGQUIT.
    Run(RunArgs),
    /// Load every program into the kernel verifier without attaching; per-program stats.
    Verify(VerifyArgs),
    /// Describe an object: rules, hooks, backends, programs, maps (no privileges needed).
    Inspect(InspectArgs),
    /// Print the shell completion script (e.g. `polrt completions bash`).
    Completions(polc::manual::CompletionsArgs),
    /// Write the man pages (polrt.1, polrt-run.1, ...) into a directory.
    Man(polc::manual::ManArgs),
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
    /// `text` (a block per policy) or `json` (one array of policies).
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// The same as `--format json`.
    #[arg(long, hide = true)]
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
    /// The policies: objects written by `polc build`, or `.pol` sources;
    /// each is enforced on its own (every policy reports, the strongest
    /// verdict wins), and reloaded when its file changes or on SIGHUP.
    #[arg(
        value_name = "POLICY.o|POLICY.pol",
        required_unless_present = "policy_dir"
    )]
    policies: Vec<PathBuf>,
    /// Enforce every `*.pol` and `*.o` file of DIR instead; files added,
    /// changed or removed there are loaded, reloaded or unloaded.
    #[arg(long, value_name = "DIR", conflicts_with = "policies")]
    policy_dir: Option<PathBuf>,
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
    /// symbolic links, hard links or other users' files; SIGHUP reopens it);
    /// `journal`: send them to the systemd journal, with structured fields
    /// (a file called journal is `./journal`).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Fail instead of falling back when a hook cannot use its LSM backend.
    #[arg(long)]
    require_lsm: bool,
    /// Size of the event ring buffer in bytes (a power of two, a multiple of
    /// the page size).
    #[arg(long, value_name = "BYTES")]
    ringbuf_size: Option<u32>,
    /// Serve Prometheus metrics (text format) on ADDR, e.g. 127.0.0.1:9464:
    /// per-rule matches, verdicts, losses, backends, program run time and
    /// count, reloads.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Pin programs, links and maps under /sys/fs/bpf/polc/NAME (default
    /// NAME: the policy file's stem; with several policies, each its own
    /// stem), so that enforcement outlives polrt;
    /// a later run of the same NAME adopts or replaces them, `polrt stop
    /// NAME` removes them.
    #[arg(long, value_name = "NAME", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    persist: Option<String>,
    /// docker's data root, where events' container names and images are
    /// looked up (`containers/ID/config.v2.json`).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/docker")]
    docker_root: PathBuf,
    /// containerd's state directory (OCI bundles of running containers).
    #[arg(long, value_name = "DIR", default_value = "/run/containerd")]
    containerd_state: PathBuf,
    /// containers/storage's root (CRI-O and podman containers).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/lib/containers/storage"
    )]
    containers_storage: PathBuf,
    /// The user database the user names of policies (`proc.user == "root"`)
    /// are resolved from when a policy loads, and events' uids named from.
    #[arg(long, value_name = "FILE", default_value = "/etc/passwd")]
    passwd: PathBuf,
    /// The group database the group names of policies (`proc.group`) are
    /// resolved from when a policy loads.
    #[arg(long, value_name = "FILE", default_value = "/etc/group")]
    group: PathBuf,
}

#[derive(clap::Args, Debug)]
struct VerifyArgs {
    /// Objects or `.pol` sources.
    #[arg(required = true, value_name = "POLICY.o|POLICY.pol")]
    policies: Vec<PathBuf>,
    /// Print the whole verifier log of a rejected program, not only its end.
    #[arg(long)]
    full_log: bool,
    /// `text` (a table per object) or `json` (one object per program and
    /// kernel, a line each).
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Fail (exit 1) when a program cannot be verified on this kernel (an
    /// LSM program under lockdown), not only when one is rejected.
    #[arg(long)]
    require_all: bool,
    /// Verify on these kernel images instead of the running kernel: each is
    /// booted under virtme-ng (`vng`, software emulation unless
    /// POLC_VM_KVM=1) and the verifier runs there. Repeatable.
    #[arg(long = "kernel", value_name = "IMAGE")]
    kernels: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct InspectArgs {
    /// An object (or a `.pol` source, compiled in process).
    #[arg(value_name = "POLICY.o")]
    policy: PathBuf,
    /// `text`, or `json`: the metadata as JSON.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// The same as `--format json` (kept for scripts that use it).
    #[arg(long, hide = true)]
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
        Command::Completions(args) => {
            use std::io::Write;
            let script = polc::manual::completions(Cli::command(), args.shell);
            let _ = std::io::stdout().write_all(&script);
            Ok(ExitCode::SUCCESS)
        }
        Command::Man(args) => man_command(&args),
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
    let options = RunOptions {
        policies: args.policies,
        policy_dir: args.policy_dir,
        monitor: args.monitor,
        cgroup: args.cgroup,
        format: match args.format {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
        },
        output: args.output,
        require_lsm: args.require_lsm,
        ringbuf_bytes: args.ringbuf_size,
        persist: args.persist,
        metrics: args.metrics,
        container_state: polrt::containers::StateRoots {
            docker: args.docker_root,
            containerd: args.containerd_state,
            containers_storage: args.containers_storage,
        },
        accounts: polrt::run::AccountFiles {
            passwd: args.passwd,
            group: args.group,
        },
    };
    run::run(&options)?;
    Ok(ExitCode::SUCCESS)
}

fn verify_command(args: &VerifyArgs) -> Result<ExitCode, Error> {
    if !args.kernels.is_empty() {
        return verify_on_kernels(args);
    }
    let mut rejected = false;
    let mut failed = None;
    let mut kernel = None;
    let release = verify::kernel_release();
    for path in &args.policies {
        match verify::verify(path, args.full_log, &mut kernel) {
            Ok(report) => {
                match args.format {
                    FormatArg::Text => print!("{}", report.render()),
                    FormatArg::Json => {
                        for line in report.json_lines(&release) {
                            println!("{line}");
                        }
                    }
                }
                rejected |= report.rejected() > 0;
                if args.require_all && report.not_verifiable() > 0 {
                    eprintln!(
                        "polrt: error: `{}`: {} program(s) could not be verified on this kernel ({release}) and --require-all is given",
                        report.path,
                        report.not_verifiable()
                    );
                    rejected = true;
                }
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
    if args.json || args.format == FormatArg::Json {
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

/// `polrt verify --kernel IMAGE...`: each image booted, the same
/// `polrt verify --format json` run inside on the same files.
fn verify_on_kernels(args: &VerifyArgs) -> Result<ExitCode, Error> {
    let outcome = polrt::vm::verify_on_kernels(
        &args.kernels,
        &args.policies,
        args.full_log,
        args.require_all,
        &polrt::vm::VmOptions::from_env(),
    )?;
    for line in &outcome.lines {
        match args.format {
            FormatArg::Json => println!("{line}"),
            FormatArg::Text => println!("{}", polrt::vm::describe_line(line)),
        }
    }
    for problem in &outcome.problems {
        eprintln!("polrt: error: {problem}");
    }
    Ok(if outcome.passed(args.require_all) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}

fn man_command(args: &polc::manual::ManArgs) -> Result<ExitCode, Error> {
    let pages = polc::manual::man_pages(Cli::command())
        .map_err(|e| Error::Usage(format!("cannot render the man pages: {e}")))?;
    std::fs::create_dir_all(&args.dir)
        .map_err(|e| Error::Usage(format!("cannot create `{}`: {e}", args.dir.display())))?;
    for (name, page) in pages {
        let path = args.dir.join(name);
        std::fs::write(&path, page)
            .map_err(|e| Error::Usage(format!("cannot write `{}`: {e}", path.display())))?;
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect_command(args: &InspectArgs) -> Result<ExitCode, Error> {
    let policy = object::load_path(&args.policy, polc::compile::DEFAULT_RINGBUF_BYTES)?;
    if args.json || args.format == FormatArg::Json {
        let json = serde_json::to_string_pretty(&policy.metadata)
            .map_err(|e| Error::Usage(format!("cannot render the metadata: {e}")))?;
        println!("{json}");
    } else {
        print!("{}", inspect::render(&policy));
    }
    Ok(ExitCode::SUCCESS)
}
