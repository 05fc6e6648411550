//! `polc-bench`: polc against what users would otherwise write — clang-built
//! C and bpftrace — measured side by side in one run: compile latency,
//! per-event cost in the kernel (with the empty program as the floor), code
//! size and verifier work, and the runtime's event throughput. Writes
//! `docs/performance/results.json`, the tables of `docs/performance.md` and
//! `docs/performance/per-event-cost.svg`.
//!
//! ```text
//! scenario (templates: .pol, C, bpftrace) ─compile─▶ objects + latency
//!   ─kernel─▶ per-event cost, code size, verifier stats (polc through polrt's
//!             loader, clang through aya, one program attached at a time)
//!   throughput (the polrt binary) ─results─▶ JSON ─report─▶ Markdown + SVG
//! ```
//!
//! Run as root: `cargo run --release -p polc-bench -- all` (see
//! docs/performance.md). Nothing here is a test: no timing is asserted.

mod agent;
mod compile;
mod cost;
mod kernel;
mod limit;
mod lists;
mod load;
mod peers;
mod plot;
mod report;
mod results;
mod scenario;
mod throughput;
mod timing;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use compile::{Instance, Tools};
use results::{Machine, Results, Settings};

/// Benchmarks polc against clang and bpftrace.
#[derive(Parser, Debug)]
#[command(name = "polc-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Every phase, then render the tables and the plot.
    All(RunArgs),
    /// Compile latency: polc, clang, bpftrace, start-up of polrt and bpftrace.
    Compile(RunArgs),
    /// Per-event cost, the floor, code size and verifier statistics (root).
    Kernel(RunArgs),
    /// Event throughput of `polrt run --format json` (root).
    Throughput(RunArgs),
    /// polrt as a node agent: several policies against one merged policy,
    /// hot reload latency (root).
    Agent(RunArgs),
    /// Render docs/performance.md's tables and the plot from results.json.
    Render(RenderArgs),
    /// List-file load time: N IPv4 networks parsed and loaded into a map (root).
    Lists(ListsArgs),
    /// The load generator (run by the harness itself).
    #[command(hide = true)]
    Load(LoadArgs),
    /// BCC's execsnoop, opensnoop and tcpconnect against polrt on the same
    /// work, in a 6.12 guest (root; `scripts/setup.sh --bench` first).
    Peers(PeersArgs),
    /// The guest side of `peers` (run inside the VM by `peers` itself).
    #[command(hide = true)]
    PeersGuest(PeersGuestArgs),
    /// Real workloads (exec, open and connect loops, a C build) in a cgroup
    /// a policy is scoped to against a sibling cgroup, and with polrt not
    /// running (root).
    Workload(WorkloadArgs),
    /// The launcher side of `workload` (run in its cgroup by `workload`).
    #[command(hide = true)]
    WorkloadChild(WorkloadChildArgs),
}

#[derive(Args, Debug)]
struct WorkloadArgs {
    /// The policy polrt runs (in monitor mode, scoped to one cgroup).
    #[arg(long, default_value = "examples/overview.pol")]
    policy: PathBuf,
    /// Only this work (exec, spawn, open, connect, build; repeat the option
    /// or separate names with commas; default: all).
    #[arg(long = "work", value_delimiter = ',')]
    works: Vec<String>,
    /// Pairs of runs (scoped and sibling, and the same without polrt).
    #[arg(long, default_value_t = 9)]
    pairs: usize,
    /// Execs per exec or spawn run.
    #[arg(long, default_value_t = 1500)]
    execs: u64,
    /// Opens per open run.
    #[arg(long, default_value_t = 200_000)]
    opens: u64,
    /// Connects per connect run.
    #[arg(long, default_value_t = 20_000)]
    connects: u64,
    /// C files of the build (plus main.c).
    #[arg(long, default_value_t = 40)]
    build_files: usize,
    /// make's jobs in the build.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// The results file (default docs/performance/workload.json).
    #[arg(long)]
    results: Option<PathBuf>,
    /// Do not write the tables into docs/performance.md.
    #[arg(long)]
    no_render: bool,
}

#[derive(Args, Debug)]
struct WorkloadChildArgs {
    work: String,
    count: u64,
    target: String,
}

#[derive(Args, Debug)]
struct PeersArgs {
    /// The guest kernel image (the newest match): the VM tests' 6.12, or
    /// '/boot/vmlinuz-6.1.0-*-amd64' for Debian 12's 6.1.
    #[arg(long, default_value = peers::KERNEL_GLOB)]
    kernel: String,
    /// Only this work (exec, open, connect; repeat the option or separate
    /// names with commas; an unknown name is refused; default: all).
    #[arg(long = "work", value_delimiter = ',')]
    works: Vec<String>,
    /// Runs of every tool on every work (medians are reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// vCPUs of the guest.
    #[arg(long, default_value_t = 2)]
    cpus: usize,
    /// Memory of the guest (BCC compiles its programs with clang in-process).
    #[arg(long, default_value = "2G")]
    memory: String,
    /// Seconds after which the whole guest run is stopped.
    #[arg(long, default_value_t = 2400)]
    timeout: u64,
    /// The results file (default docs/performance/peers.json).
    #[arg(long)]
    results: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct PeersGuestArgs {
    #[arg(long)]
    polrt: PathBuf,
    #[arg(long)]
    pol_dir: PathBuf,
    #[arg(long)]
    reps: usize,
    #[arg(long = "work")]
    works: Vec<String>,
}

#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// Repetitions of every measurement (medians are reported).
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// Milliseconds of load per per-event run.
    #[arg(long, default_value_t = 400)]
    load_ms: u64,
    /// Rule counts and list sizes of the scaled scenarios.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000,10000")]
    sizes: Vec<usize>,
    /// More rule counts of `open_rules`, measured by polc alone (clang's C
    /// stops loading near 1,400 rules; it and bpftrace would only run into
    /// their timeouts); 0 for none.
    #[arg(long, value_delimiter = ',', default_value = "100000")]
    large_sizes: Vec<usize>,
    /// Only these scenarios (default: all; repeat the option or separate
    /// names with commas; an unknown name is refused).
    #[arg(long = "scenario", value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Sizes 1, 10 and 100, 3 repetitions, 250 ms runs, no large sizes: a
    /// quick look.
    #[arg(long)]
    quick: bool,
    /// Seconds after which one clang compile is stopped.
    #[arg(long, default_value_t = 600)]
    clang_timeout: u64,
    /// Scratch directory for generated sources and objects.
    #[arg(long)]
    scratch: Option<PathBuf>,
    /// The results file (phases replace their own part of it).
    #[arg(long)]
    results: Option<PathBuf>,
    /// Run the per-event loads at normal priority rather than SCHED_FIFO.
    #[arg(long)]
    no_realtime: bool,
    /// Write each loaded program's translated code (bpftool) into DIR.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
    /// Do not render the doc and the plot afterwards.
    #[arg(long)]
    no_render: bool,
    /// Throughput phase: the loads measured (open: opens of one path, on
    /// the file hook; connect: UDP connects to one port of 127.0.0.1, on
    /// `cgroup/connect4`); rows of the other loads are kept.
    #[arg(long = "load", value_enum, value_delimiter = ',', default_values_t = throughput::Burst::ALL)]
    loads: Vec<throughput::Burst>,
    /// Throughput phase: offered rates in calls per second, `max` for as
    /// fast as the generator can (default: each load's own list; open
    /// 10,000 to 400,000 and max, connect 10,000 to 2,000,000 and max).
    #[arg(long, value_delimiter = ',')]
    rates: Vec<String>,
    /// Throughput phase: ring buffer sizes in bytes.
    #[arg(long, value_delimiter = ',', default_values_t = [1u32 << 20, 16 << 20])]
    ringbufs: Vec<u32>,
    /// Throughput phase: seconds of load per rate.
    #[arg(long, default_value_t = 2.0)]
    throughput_secs: f64,
    /// Throughput phase: run the generator and polrt at real-time priority
    /// (`SCHED_FIFO` 1), ahead of other work on the machine (default:
    /// normal priority, sharing the cores with whatever else runs).
    #[arg(long)]
    throughput_realtime: bool,
}

#[derive(Args, Debug)]
struct ListsArgs {
    /// Networks in the list file.
    #[arg(long, default_value_t = 1_000_000)]
    entries: usize,
    /// Repetitions of the load (the median is reported).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Scratch directory for the list file.
    #[arg(long)]
    scratch: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct RenderArgs {
    #[arg(long)]
    results: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct LoadArgs {
    #[arg(long)]
    spec: String,
    #[arg(long)]
    duration_ms: u64,
    #[arg(long)]
    cgroup: Option<PathBuf>,
    #[arg(long)]
    rate: Option<u64>,
    #[arg(long)]
    realtime: bool,
}

/// Memory clang or bpftrace may use (bpftrace compiling 10,000 string rules
/// went past 24 GiB): half of the machine the figures come from.
const COMPILER_MEMORY: u64 = 12 << 30;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

fn bench_dir() -> PathBuf {
    repo_root().join("bench")
}

fn default_results() -> PathBuf {
    repo_root().join("docs/performance/results.json")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Load(args) => load::generate(
            &args.spec,
            Duration::from_millis(args.duration_ms),
            args.cgroup.as_deref(),
            args.rate,
            args.realtime,
        ),
        Command::Render(args) => {
            let path = args.results.unwrap_or_else(default_results);
            Results::load(&path).and_then(|r| render(&r))
        }
        Command::Lists(args) => lists::run(
            args.entries,
            args.reps.max(1),
            &args
                .scratch
                .unwrap_or_else(|| std::env::temp_dir().join("polc-bench-lists")),
        ),
        Command::All(args) => run(&args, &[Phase::Compile, Phase::Kernel, Phase::Throughput]),
        Command::Compile(args) => run(&args, &[Phase::Compile]),
        Command::Kernel(args) => run(&args, &[Phase::Kernel]),
        Command::Throughput(args) => run(&args, &[Phase::Throughput]),
        Command::Agent(args) => run_agent(&args),
        Command::Peers(args) => run_peers(&args),
        Command::PeersGuest(args) => peers::guest(&peers::GuestPlan {
            works: args.works,
            polrt: args.polrt,
            pol_dir: args.pol_dir,
            reps: args.reps.max(1),
        }),
        Command::Workload(args) => run_workload(&args),
        Command::WorkloadChild(args) => workload::child(&args.work, args.count, &args.target),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("polc-bench: error: {error}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Phase {
    Compile,
    Kernel,
    Throughput,
}

/// Under `cargo run`, builds `polc` and `polrt` in the same profile first
/// (a no-op when they are current), so the harness never times a stale
/// binary.
fn build_binaries() -> Result<(), String> {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(());
    };
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let release = exe
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == "release");
    let mut command = std::process::Command::new(cargo);
    command
        .args(["build", "--locked", "-p", "polc", "-p", "polrt", "--bins"])
        .current_dir(repo_root());
    if release {
        command.arg("--release");
    }
    let status = command.status().map_err(|e| format!("cargo build: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo build of polc and polrt failed: {status}"))
    }
}

/// Builds polc and polrt, finds the tools, and makes the scratch directory.
fn prepare(args: &RunArgs) -> Result<(Tools, PathBuf), String> {
    build_binaries()?;
    let tools = Tools::find()?;
    let scratch = args
        .scratch
        .clone()
        .unwrap_or_else(|| repo_root().join("target/polc-bench"));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    Ok((tools, scratch))
}

/// `polc-bench agent`: measures, writes docs/performance/agent.json and the
/// agent tables of docs/performance.md.
fn run_agent(args: &RunArgs) -> Result<(), String> {
    if !is_root() {
        return Err("the agent phase needs root".into());
    }
    let (tools, scratch) = prepare(args)?;
    let command: Vec<String> = std::env::args().collect();
    let command_line = format!("polc-bench {}", command[1..].join(" "));
    let results = agent::run(
        &tools,
        &scratch,
        args.reps,
        Duration::from_millis(args.load_ms),
        command_line,
    )?;
    let json_path = repo_root().join("docs/performance/agent.json");
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(&json_path, json + "\n").map_err(|e| e.to_string())?;
    let doc_path = repo_root().join("docs/performance.md");
    let doc = std::fs::read_to_string(&doc_path)
        .map_err(|e| format!("reading {}: {e}", doc_path.display()))?;
    let doc = report::splice_between(&doc, agent::BEGIN, agent::END, &agent::tables(&results))?;
    std::fs::write(&doc_path, doc).map_err(|e| e.to_string())?;
    eprintln!(
        "polc-bench: wrote {} and {}",
        json_path.display(),
        doc_path.display()
    );
    Ok(())
}

/// `polc-bench peers`: builds polc and polrt, runs the peers in a guest,
/// writes docs/performance/peers.json and the "Peers: BCC" table.
fn run_peers(args: &PeersArgs) -> Result<(), String> {
    if !is_root() {
        return Err("the peers phase needs root (it boots a VM that loads BPF programs)".into());
    }
    let known = peers::pairs().map(|p| p.name);
    if let Some(unknown) = args.works.iter().find(|w| !known.contains(&w.as_str())) {
        return Err(format!(
            "unknown work `{unknown}`; the works are: {}",
            known.join(", ")
        ));
    }
    build_binaries()?;
    let command: Vec<String> = std::env::args().collect();
    peers::run(
        &repo_root(),
        &peers::HostPlan {
            kernel_glob: args.kernel.clone(),
            works: args.works.clone(),
            reps: args.reps.max(1),
            cpus: args.cpus.max(1),
            memory: args.memory.clone(),
            timeout: Duration::from_secs(args.timeout),
            results: args
                .results
                .clone()
                .unwrap_or_else(|| repo_root().join("docs/performance/peers.json")),
            command: format!("polc-bench {}", command[1..].join(" ")),
        },
    )
}

/// `polc-bench workload`: measures, writes docs/performance/workload.json
/// and the workload tables of docs/performance.md.
fn run_workload(args: &WorkloadArgs) -> Result<(), String> {
    if !is_root() {
        return Err("the workload phase needs root".into());
    }
    let works = if args.works.is_empty() {
        workload::Work::ALL.to_vec()
    } else {
        args.works
            .iter()
            .map(|w| workload::Work::parse(w))
            .collect::<Result<_, _>>()?
    };
    build_binaries()?;
    let tools = Tools::find()?;
    let policy = if args.policy.is_absolute() {
        args.policy.clone()
    } else {
        repo_root().join(&args.policy)
    };
    let command: Vec<String> = std::env::args().collect();
    let plan = workload::Plan {
        policy,
        works,
        pairs: args.pairs.max(1),
        execs: args.execs,
        opens: args.opens,
        connects: args.connects,
        build_files: args.build_files.max(1),
        jobs: args.jobs.max(1),
        launcher: std::env::current_exe().map_err(|e| e.to_string())?,
        command: format!("polc-bench {}", command[1..].join(" ")),
    };
    let results = workload::run(&tools, &plan)?;
    let json_path = args
        .results
        .clone()
        .unwrap_or_else(|| repo_root().join("docs/performance/workload.json"));
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(&json_path, json + "\n").map_err(|e| e.to_string())?;
    eprintln!("polc-bench: wrote {}", json_path.display());
    let tables = workload::tables(&results);
    eprintln!("{tables}");
    if !args.no_render {
        let doc_path = repo_root().join("docs/performance.md");
        let doc = std::fs::read_to_string(&doc_path)
            .map_err(|e| format!("reading {}: {e}", doc_path.display()))?;
        let doc = report::splice_between(&doc, workload::BEGIN, workload::END, &tables)?;
        std::fs::write(&doc_path, doc).map_err(|e| e.to_string())?;
        eprintln!("polc-bench: wrote {}", doc_path.display());
    }
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn run(args: &RunArgs, phases: &[Phase]) -> Result<(), String> {
    let mut args = args.clone();
    if args.quick {
        args.sizes = vec![1, 10, 100];
        args.large_sizes = Vec::new();
        args.reps = args.reps.min(3);
        args.load_ms = args.load_ms.min(250);
    }
    let (tools, scratch) = prepare(&args)?;
    let results_path = args.results.clone().unwrap_or_else(default_results);
    let mut results = Results::load(&results_path)?;
    results.machine = Machine::describe(&tools);
    results.settings = Settings {
        reps: args.reps,
        load_ms: args.load_ms,
        sizes: args.sizes.clone(),
    };
    // The commands whose measurements the results hold: `all` replaces
    // them, a single phase (or scenario subset) adds itself.
    let command: Vec<String> = std::env::args().collect();
    let command_line = format!("polc-bench {}", command[1..].join(" "));
    if phases.len() > 1 {
        results.commands.clear();
    }
    if !results.commands.contains(&command_line) {
        results.commands.push(command_line);
    }

    let known = scenario::all();
    if let Some(unknown) = args
        .scenarios
        .iter()
        .find(|name| !known.iter().any(|s| s.name == name.as_str()))
    {
        let names: Vec<&str> = known.iter().map(|s| s.name).collect();
        return Err(format!(
            "unknown scenario `{unknown}`; the scenarios are: {}",
            names.join(", ")
        ));
    }
    let scenarios: Vec<scenario::Scenario> = known
        .into_iter()
        .filter(|s| args.scenarios.is_empty() || args.scenarios.iter().any(|n| n == s.name))
        .collect();
    let mut instances = compile::instances(
        &scenarios,
        &args.sizes,
        &args.large_sizes,
        &bench_dir(),
        &scratch,
    )?;
    let memory = timing::MemoryCap::new(COMPILER_MEMORY);
    if !memory.is_active() {
        eprintln!(
            "polc-bench: note: no memory cgroup here: clang and bpftrace run without a memory cap"
        );
    }
    let plan = compile::Plan {
        reps: args.reps,
        long: Duration::from_secs(20),
        timeout: Duration::from_secs(600),
        clang_timeout: Duration::from_secs(args.clang_timeout),
        memory: &memory,
    };
    let needs_kernel = phases.iter().any(|p| *p != Phase::Compile) || is_root();
    let kernel = if needs_kernel {
        Some(kernel::Kernel::new()?)
    } else {
        None
    };
    let vmlinux_dir = scratch.join("vmlinux");
    let vmlinux = compile::vmlinux(&tools, &vmlinux_dir, plan);

    // Rows of the instances measured now replace their earlier rows; rows
    // of other instances are kept.
    let measured = |scenario: &str, size: Option<usize>| {
        instances
            .iter()
            .any(|i| i.scenario.name == scenario && i.size == size)
    };
    if phases.contains(&Phase::Compile) {
        results.vmlinux = Some(vmlinux);
        results
            .compile
            .retain(|row| !measured(&row.scenario, row.size));
        for instance in &mut instances {
            eprintln!("polc-bench: compile {}", instance.label());
            let row = compile::latency(
                instance,
                &tools,
                &bench_dir(),
                &vmlinux_dir,
                kernel.as_ref().map(|k| k.cgroup.path.as_path()),
                plan,
            );
            eprintln!(
                "polc-bench:   polc {} ms, clang {} ms, bpftrace {} ms",
                cost::show(&row.polc),
                cost::show(&row.clang),
                cost::show(&row.bpftrace_compile)
            );
            results.compile.push(row);
            sort_rows(&mut results.compile, |r| (r.scenario.clone(), r.size));
            results.save(&results_path)?;
        }
    }
    if phases.contains(&Phase::Kernel) {
        let kernel = kernel.as_ref().ok_or("the kernel phase needs root")?;
        kernel_phase(
            &mut results,
            kernel,
            &tools,
            &mut instances,
            &scratch,
            &vmlinux_dir,
            &args,
            plan,
        )?;
        results.save(&results_path)?;
    }
    if phases.contains(&Phase::Throughput) {
        let kernel = kernel.as_ref().ok_or("the throughput phase needs root")?;
        let rates =
            args.rates
                .iter()
                .map(|r| match r.as_str() {
                    "max" => Ok(None),
                    n => n.replace('_', "").parse::<u64>().map(Some).map_err(|_| {
                        format!("--rates: `{n}` is not a rate (calls a second, or max)")
                    }),
                })
                .collect::<Result<Vec<_>, _>>()?;
        if args.throughput_secs.is_nan() || args.throughput_secs <= 0.0 {
            return Err("--throughput-secs must be positive".into());
        }
        for &burst in &args.loads {
            let rows = throughput::run(
                &tools,
                &bench_dir().join("pol"),
                burst,
                &kernel.cgroup.path,
                &scratch,
                &rates,
                &args.ringbufs,
                Duration::from_secs_f64(args.throughput_secs),
                args.throughput_realtime,
            );
            results.throughput.retain(|row| row.load != burst.name());
            results.throughput.extend(rows);
            let order = |row: &throughput::ThroughputRow| {
                throughput::Burst::ALL
                    .iter()
                    .position(|b| b.name() == row.load)
                    .unwrap_or(usize::MAX)
            };
            results.throughput.sort_by_key(order);
            results.save(&results_path)?;
        }
    }
    drop(kernel);
    load::remove_fixtures();
    eprintln!("polc-bench: results in {}", results_path.display());
    if args.no_render {
        Ok(())
    } else {
        render(&results)
    }
}

#[allow(clippy::too_many_arguments)]
fn kernel_phase(
    results: &mut Results,
    kernel: &kernel::Kernel,
    tools: &Tools,
    instances: &mut [Instance],
    scratch: &Path,
    vmlinux_dir: &Path,
    args: &RunArgs,
    plan: compile::Plan<'_>,
) -> Result<(), String> {
    if !is_root() {
        return Err("the kernel phase needs root".into());
    }
    let cost_plan = cost::Plan {
        reps: args.reps,
        duration: Duration::from_millis(args.load_ms),
        dump: args.dump.clone(),
        bpftool: tools.bpftool.clone(),
        realtime: !args.no_realtime,
    };
    if let Some(dir) = &args.dump {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    // The floor: bench/c/empty.bpf.c.
    let empty = scratch.join("empty");
    std::fs::create_dir_all(&empty).map_err(|e| e.to_string())?;
    let clang = tools.clang.as_ref().ok_or("the kernel phase needs clang")?;
    let status = compile::clang_bpf(
        clang,
        &[vmlinux_dir],
        &bench_dir().join("c/empty.bpf.c"),
        &empty.join("clang.o"),
    )
    .status()
    .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("clang could not build bench/c/empty.bpf.c".into());
    }
    results.floors = cost::floors(kernel, &empty.join("clang.o"), &cost_plan);
    let measured = |scenario: &str, size: Option<usize>| {
        instances
            .iter()
            .any(|i| i.scenario.name == scenario && i.size == size)
    };
    results
        .events
        .retain(|row| !measured(&row.scenario, row.size));
    results
        .sizes
        .retain(|row| !measured(&row.scenario, row.size));
    let scenarios: Vec<&str> = instances.iter().map(|i| i.scenario.name).collect();
    results
        .limits
        .retain(|row| !scenarios.contains(&row.scenario.as_str()));
    for instance in instances.iter_mut() {
        compile::build_objects(instance, tools, &bench_dir(), vmlinux_dir, plan);
        let (size, events) = cost::instance(kernel, instance, &cost_plan);
        results.sizes.push(size);
        results.events.extend(events);
    }
    sort_rows(&mut results.sizes, |r| (r.scenario.clone(), r.size));
    sort_rows(&mut results.events, |r| (r.scenario.clone(), r.size));
    let sizes = results.sizes.clone();
    let loaded = |scenario: &str, tool: &str, n: usize| {
        sizes
            .iter()
            .find(|row| row.scenario == scenario && row.size == Some(n))
            .map(|row| {
                let code = if tool == "polc" {
                    &row.polc
                } else {
                    &row.clang
                };
                code.as_ref().map(|_| ()).map_err(Clone::clone)
            })
            .filter(|loaded| {
                !loaded
                    .as_ref()
                    .is_err_and(|why| why.contains(compile::PEERS_NOT_RUN))
            })
    };
    let mut measured_sizes = args.sizes.clone();
    measured_sizes.extend(args.large_sizes.iter().filter(|n| **n > 0));
    measured_sizes.sort_unstable();
    measured_sizes.dedup();
    let limits = limit::limits(
        kernel,
        tools,
        (&bench_dir(), scratch, vmlinux_dir),
        plan,
        &measured_sizes,
        &loaded,
        &scenarios,
    );
    results.limits.extend(limits);
    Ok(())
}

/// Sorts rows by scenario (in the order of [`scenario::all`]), then size;
/// rows of one instance keep their order.
fn sort_rows<T>(rows: &mut [T], key: impl Fn(&T) -> (String, Option<usize>)) {
    let order: Vec<&str> = scenario::all().iter().map(|s| s.name).collect();
    rows.sort_by_key(|row| {
        let (name, size) = key(row);
        let at = order.iter().position(|n| *n == name).unwrap_or(usize::MAX);
        (at, size)
    });
}

fn render(results: &Results) -> Result<(), String> {
    let doc_path = repo_root().join("docs/performance.md");
    let doc = std::fs::read_to_string(&doc_path)
        .map_err(|e| format!("reading {}: {e}", doc_path.display()))?;
    let doc = report::splice(&doc, &report::tables(results))?;
    std::fs::write(&doc_path, doc).map_err(|e| e.to_string())?;
    let svg_path = repo_root().join("docs/performance/per-event-cost.svg");
    if let Some(dir) = svg_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(&svg_path, report::plot(results)).map_err(|e| e.to_string())?;
    eprintln!(
        "polc-bench: wrote {} and {}",
        doc_path.display(),
        svg_path.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn works_of(args: &[&str]) -> Vec<String> {
        match Cli::try_parse_from(args).expect("parses").command {
            Command::Workload(a) => a.works,
            Command::Peers(a) => a.works,
            other => panic!("not a work list: {other:?}"),
        }
    }

    #[test]
    fn work_lists_take_commas_and_repeats() {
        assert_eq!(
            works_of(&[
                "polc-bench",
                "workload",
                "--work",
                "exec,spawn",
                "--work",
                "open"
            ]),
            ["exec", "spawn", "open"]
        );
        assert_eq!(
            works_of(&["polc-bench", "peers", "--work", "open,connect"]),
            ["open", "connect"]
        );
    }
}
