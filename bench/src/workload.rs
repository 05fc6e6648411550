//! `polc-bench workload`: what a policy costs real work. Two sibling
//! cgroups are made under one test cgroup; `polrt run POLICY --monitor
//! --cgroup <scoped> --format json --output FILE` scopes the policy to one
//! of them, and every workload runs alternately in the scoped cgroup and in
//! its sibling (the first of a pair alternates), `pairs` pairs; the same
//! pairs run with polrt not running at all (the baseline), so that the
//! figures separate the programs being attached (which run for every task
//! and return at the scope check outside the scope) from the events being
//! made and written.
//!
//! A run is one process moved into its cgroup before it executes the
//! workload (it writes `0` to the cgroup's `cgroup.procs` between fork and
//! exec) and timed from the fork to its exit. After each run the harness
//! waits for polrt to have written everything (its output file and its CPU
//! time still) before the next starts, so that polrt catching up with one
//! run does not land in the other. polrt is started for the pair of each
//! workload and stopped after it; the events it wrote and the losses it
//! reported are read from its output.
//!
//! Besides time it reads, per run, polrt's CPU time (the sum of its
//! threads' `schedstat`) and the run time of polrt's BPF programs
//! (`run_time_ns` with `BPF_ENABLE_STATS`; the programs are the ones
//! polrt's descriptors name in `/proc/PID/fdinfo`).
//!
//! Writes docs/performance/workload.json and the tables between the
//! `workload` markers of docs/performance.md. No timing is asserted.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::compile::Tools;
use crate::timing::median;

/// One workload.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Work {
    /// A `/bin/sh` loop running `/bin/true` (the shell forks and execs).
    Exec,
    /// The harness's own launcher running `/bin/true` (`posix_spawn`, no
    /// shell in between).
    Spawn,
    /// `open` and `close` of one file.
    Open,
    /// TCP connects to a loopback listener the harness runs (accepted,
    /// closed with a reset so that no port is left in `TIME_WAIT`).
    Connect,
    /// A C project built from clean with `make -j2` and gcc.
    Build,
}

impl Work {
    pub const ALL: [Work; 5] = [
        Work::Exec,
        Work::Spawn,
        Work::Open,
        Work::Connect,
        Work::Build,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Work::Exec => "exec",
            Work::Spawn => "spawn",
            Work::Open => "open",
            Work::Connect => "connect",
            Work::Build => "build",
        }
    }

    pub fn parse(name: &str) -> Result<Work, String> {
        Work::ALL
            .into_iter()
            .find(|w| w.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown work {name:?} (one of: {})",
                    Work::ALL.map(Work::name).join(", ")
                )
            })
    }
}

/// What `polc-bench workload` runs.
#[derive(Clone, Debug)]
pub struct Plan {
    pub policy: PathBuf,
    pub works: Vec<Work>,
    pub pairs: usize,
    pub execs: u64,
    pub opens: u64,
    pub connects: u64,
    pub build_files: usize,
    pub jobs: usize,
    /// The polc-bench executable (the launcher of spawn, open, connect).
    pub launcher: PathBuf,
    pub command: String,
}

/// One workload's runs.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct WorkRow {
    pub work: String,
    /// What one run does.
    pub what: String,
    /// Operations per run (execs, opens, connects; for the build, the
    /// files compiled).
    pub ops: u64,
    /// Milliseconds per run, polrt running: in the scoped cgroup, in the
    /// sibling; round `i` of each is pair `i`.
    pub scoped_ms: Vec<f64>,
    pub sibling_ms: Vec<f64>,
    /// Milliseconds per run, polrt not running: in the same two cgroups.
    pub base_scoped_ms: Vec<f64>,
    pub base_sibling_ms: Vec<f64>,
    /// CPU time (user + system, milliseconds) of the run's processes, in
    /// the same four cases: less moved by the other work on the machine
    /// than the time, and blind to polrt's own CPU (added to it where the
    /// tables compare CPU).
    pub cpu_scoped_ms: Vec<f64>,
    pub cpu_sibling_ms: Vec<f64>,
    pub base_cpu_scoped_ms: Vec<f64>,
    pub base_cpu_sibling_ms: Vec<f64>,
    /// Events polrt wrote over all its runs, and the losses it reported.
    pub events: u64,
    pub lost: u64,
    /// polrt's CPU time (milliseconds) during a scoped run and the wait
    /// for it to write everything; the same for a sibling run.
    pub polrt_cpu_scoped_ms: Vec<f64>,
    pub polrt_cpu_sibling_ms: Vec<f64>,
    /// Run time of polrt's BPF programs (milliseconds) during a run.
    pub bpf_scoped_ms: Vec<f64>,
    pub bpf_sibling_ms: Vec<f64>,
    /// Per program name, the milliseconds its runs took over every scoped
    /// and every sibling run, and how many times it ran.
    pub programs: Vec<ProgramRow>,
    pub error: Option<String>,
}

/// One of polrt's programs over every run of a workload.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ProgramRow {
    pub name: String,
    pub scoped_ms: f64,
    pub scoped_runs: u64,
    pub sibling_ms: f64,
    pub sibling_runs: u64,
}

/// Everything `polc-bench workload` measured.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct WorkloadResults {
    pub kernel: String,
    pub command: String,
    pub policy: String,
    pub pairs: usize,
    /// `/proc/loadavg`'s three figures before and after the run.
    pub load_before: Vec<f64>,
    pub load_after: Vec<f64>,
    pub rows: Vec<WorkRow>,
}

/// Set by SIGINT or SIGTERM: the run stops after the current step and
/// cleans up.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

fn check_interrupted() -> Result<(), String> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        Err("interrupted".into())
    } else {
        Ok(())
    }
}

/// The per-pair ratios `a[i] / b[i]`.
pub fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter()
        .zip(b)
        .filter(|(_, b)| **b > 0.0)
        .map(|(a, b)| a / b)
        .collect()
}

/// The median of the per-pair ratios, their least and greatest.
pub fn ratio_summary(a: &[f64], b: &[f64]) -> Option<(f64, f64, f64)> {
    let r = ratios(a, b);
    if r.is_empty() {
        return None;
    }
    let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((median(&r), lo, hi))
}

/// `/proc/loadavg`'s three load averages.
fn load_average() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The test cgroup with its two children; every process still in them is
/// killed (they are the harness's own runs) and the three are removed on
/// drop.
struct Cgroups {
    parent: PathBuf,
    scoped: PathBuf,
    sibling: PathBuf,
}

impl Cgroups {
    fn new() -> Result<Cgroups, String> {
        let root = polrt::cgroup::root().map_err(|e| e.to_string())?;
        let parent = root.join(format!("polc-bench-{}", std::process::id()));
        let made = Cgroups {
            scoped: parent.join("scoped"),
            sibling: parent.join("sibling"),
            parent,
        };
        // On an error, dropping `made` removes what was made.
        for dir in [&made.parent, &made.scoped, &made.sibling] {
            if let Err(e) = std::fs::create_dir(dir) {
                if e.kind() != std::io::ErrorKind::AlreadyExists {
                    return Err(format!("creating cgroup {}: {e}", dir.display()));
                }
            }
        }
        Ok(made)
    }

    fn remove(&mut self) {
        for dir in [&self.scoped, &self.sibling] {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                // SAFETY: kill(2); the pid is one of this harness's runs
                // (nothing else joins its cgroups).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        for _ in 0..100 {
            let _ = std::fs::remove_dir(&self.scoped);
            let _ = std::fs::remove_dir(&self.sibling);
            if std::fs::remove_dir(&self.parent).is_ok() || !self.parent.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "polc-bench: could not remove the test cgroup {}",
            self.parent.display()
        );
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// CPU time of a process, all its threads (nanoseconds, from `schedstat`).
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// The BPF programs a process holds (by program or link descriptor).
fn program_ids(pid: u32) -> Vec<u32> {
    let mut ids = Vec::new();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return ids;
    };
    for fd in fds.flatten() {
        let Ok(text) = std::fs::read_to_string(fd.path()) else {
            continue;
        };
        for line in text.lines() {
            if let Some(id) = line.strip_prefix("prog_id:") {
                if let Ok(id) = id.trim().parse() {
                    ids.push(id);
                }
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Run time (ns) and run count of each program of `ids`, by id.
fn program_stats(ids: &[u32]) -> Vec<(u32, String, u64, u64)> {
    aya::programs::loaded_programs()
        .flatten()
        .filter(|p| ids.contains(&p.id()))
        .map(|p| {
            (
                p.id(),
                p.name_as_str().unwrap_or("?").to_string(),
                p.run_time().as_nanos() as u64,
                p.run_count(),
            )
        })
        .collect()
}

/// A running `polrt run`; stopped (SIGINT, then SIGKILL) on drop.
struct Polrt {
    child: Child,
    output: PathBuf,
    programs: Vec<u32>,
    stderr: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Polrt {
    fn start(tools: &Tools, policy: &Path, cgroup: &Path, output: &Path) -> Result<Polrt, String> {
        let _ = std::fs::remove_file(output);
        let mut child = Command::new(&tools.polrt)
            .arg("run")
            .arg(policy)
            .arg("--monitor")
            .arg("--cgroup")
            .arg(cgroup)
            .args(["--format", "json", "--output"])
            .arg(output)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting polrt: {e}"))?;
        let (ready_rx, reader) = crate::throughput::watch_ready(&mut child);
        let mut polrt = Polrt {
            child,
            output: output.to_path_buf(),
            programs: Vec::new(),
            stderr: Some(reader),
        };
        if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let lines = polrt.stop();
            return Err(format!("polrt did not start: {}", lines.join("; ")));
        }
        polrt.programs = program_ids(polrt.child.id());
        Ok(polrt)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until polrt has written what the last run made: its output
    /// file's size and its CPU time still for 100 ms (at most 10 s).
    fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let size = || std::fs::metadata(&self.output).map_or(0, |m| m.len());
        let (mut last_size, mut last_cpu) = (size(), cpu_ns(self.pid()));
        let mut still = 0;
        while Instant::now() < deadline && still < 2 {
            std::thread::sleep(Duration::from_millis(50));
            let (s, c) = (size(), cpu_ns(self.pid()));
            // Under 1 ms of CPU in 50 ms: idle but for its timers.
            if s == last_size && c.saturating_sub(last_cpu) < 1_000_000 {
                still += 1;
            } else {
                still = 0;
            }
            (last_size, last_cpu) = (s, c);
        }
    }

    /// Stops polrt; its stderr lines.
    fn stop(&mut self) -> Vec<String> {
        let pid = self.child.id() as libc::pid_t;
        if matches!(self.child.try_wait(), Ok(None)) {
            // SAFETY: kill(2) on the polrt this harness started.
            unsafe { libc::kill(pid, libc::SIGINT) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            if matches!(self.child.try_wait(), Ok(None)) {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        self.stderr
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Polrt {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Events written and losses reported in polrt's JSON output.
fn count_events(text: &str) -> (u64, u64) {
    let (mut events, mut lost) = (0, 0);
    for line in text.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match value["type"].as_str() {
            Some("event") => events += 1,
            Some("summary") => lost = value["lost"].as_u64().unwrap_or(lost),
            _ => {}
        }
    }
    (events, lost)
}

/// A TCP listener on 127.0.0.1 whose thread accepts and closes every
/// connection; stopped on drop.
struct Listener {
    port: u16,
    fd: std::os::fd::OwnedFd,
    stop: std::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    fn start() -> Result<Listener, String> {
        use std::os::fd::FromRawFd;
        let error = |what: &str| format!("listener {what}: {}", std::io::Error::last_os_error());
        // SAFETY: socket(2) with constant arguments.
        let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(error("socket"));
        }
        // SAFETY: `raw` is a descriptor this function just opened.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: `addr` is a valid sockaddr_in of `len` bytes.
        if unsafe { libc::bind(raw, (&raw const addr).cast(), len) } != 0 {
            return Err(error("bind"));
        }
        // A long queue: the connects do not wait for the accepts.
        // SAFETY: listen(2) on our socket.
        if unsafe { libc::listen(raw, 4096) } != 0 {
            return Err(error("listen"));
        }
        let mut len = len;
        // SAFETY: `addr` has room for `len` bytes.
        if unsafe { libc::getsockname(raw, (&raw mut addr).cast(), &mut len) } != 0 {
            return Err(error("getsockname"));
        }
        let port = u16::from_be(addr.sin_port);
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                // SAFETY: accept4(2) on the listening socket, which
                // outlives this thread (joined before it is closed).
                let conn = unsafe {
                    libc::accept4(
                        raw,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_CLOEXEC,
                    )
                };
                if conn >= 0 {
                    // SAFETY: a descriptor accept4 just returned.
                    unsafe { libc::close(conn) };
                }
            }
        });
        Ok(Listener {
            port,
            fd,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the blocked accept.
        // SAFETY: shutdown(2) on our socket.
        unsafe { libc::shutdown(self.fd.as_raw_fd(), libc::SHUT_RDWR) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The C project of the build workload: `files` sources, a header, a
/// `main.c` and a Makefile.
fn write_project(dir: &Path, files: usize) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))
    };
    let mut header = String::from(
        "#include <stddef.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <math.h>\n\n",
    );
    let mut main = String::from("#include \"common.h\"\n\nint main(void) {\n    uint64_t h = 0;\n");
    for f in 0..files {
        header.push_str(&format!("uint64_t unit{f:02}(uint64_t seed);\n"));
        main.push_str(&format!("    h ^= unit{f:02}(h + {f});\n"));
        let mut source = String::from("#include \"common.h\"\n\n");
        for g in 0..12 {
            source.push_str(&format!(
                "static uint64_t f{g}(uint64_t x, const char *s) {{\n    \
                 uint64_t acc = x * {m}u;\n    \
                 for (size_t i = 0; i < strlen(s); i++) {{\n        \
                 acc = (acc << 5) ^ (acc >> 3) ^ (uint64_t)s[i];\n        \
                 if (acc % {p} == 0) acc += (uint64_t)sqrt((double)(acc & 0xffff));\n    \
                 }}\n    \
                 switch (acc & 7) {{\n    \
                 case 0: return acc + {g};\n    case 1: return acc ^ 0x{m:x};\n    \
                 case 2: return acc * 3;\n    case 3: return acc >> 1;\n    \
                 default: return acc;\n    }}\n}}\n\n",
                m = 2654435761u64 + (f * 31 + g) as u64,
                p = 7 + g,
            ));
        }
        source.push_str(&format!(
            "uint64_t unit{f:02}(uint64_t seed) {{\n    char buf[64];\n    \
             snprintf(buf, sizeof buf, \"unit{f:02}-%llu\", (unsigned long long)seed);\n    \
             uint64_t h = seed;\n"
        ));
        for g in 0..12 {
            source.push_str(&format!("    h = f{g}(h, buf);\n"));
        }
        source.push_str("    return h;\n}\n");
        write(&format!("unit{f:02}.c"), source)?;
    }
    main.push_str("    printf(\"%llu\\n\", (unsigned long long)h);\n    return 0;\n}\n");
    write("common.h", header)?;
    write("main.c", main)?;
    let objects: Vec<String> = (0..files)
        .map(|f| format!("unit{f:02}.o"))
        .chain(["main.o".to_string()])
        .collect();
    write(
        "Makefile",
        format!(
            "CC = gcc\nCFLAGS = -O2 -Wall\nOBJS = {}\n\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS) -lm\n\n%.o: %.c common.h\n\t$(CC) $(CFLAGS) -c $< -o $@\n",
            objects.join(" ")
        ),
    )
}

/// Removes the build's outputs (before each build, not timed).
fn clean_project(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "o") || path.ends_with("prog") {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Everything one workload's runs need.
struct Setup<'a> {
    plan: &'a Plan,
    scratch: &'a Path,
    listener: Option<&'a Listener>,
}

impl Setup<'_> {
    fn what(&self, work: Work) -> (String, u64) {
        let p = self.plan;
        match work {
            Work::Exec => (
                format!("{} × `/bin/true` from a `/bin/sh` loop", p.execs),
                p.execs,
            ),
            Work::Spawn => (
                format!(
                    "{} × `/bin/true` by the harness's launcher (`posix_spawn`)",
                    p.execs
                ),
                p.execs,
            ),
            Work::Open => (format!("{} × open + close of one file", p.opens), p.opens),
            Work::Connect => (
                format!("{} × TCP connect to a loopback listener", p.connects),
                p.connects,
            ),
            Work::Build => (
                format!(
                    "`make -j{}` of {} C files + link (gcc -O2), from clean",
                    p.jobs,
                    p.build_files + 1
                ),
                p.build_files as u64 + 1,
            ),
        }
    }

    fn command(&self, work: Work) -> Command {
        let p = self.plan;
        match work {
            Work::Exec => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(format!(
                    "i=0; while [ $i -lt {} ]; do /bin/true; i=$((i+1)); done",
                    p.execs
                ));
                c
            }
            Work::Spawn | Work::Open | Work::Connect => {
                let target = match work {
                    Work::Spawn => "/bin/true".to_string(),
                    Work::Open => self.scratch.join("opened").display().to_string(),
                    _ => self.listener.map_or(0, |l| l.port).to_string(),
                };
                let count = match work {
                    Work::Spawn => p.execs,
                    Work::Open => p.opens,
                    _ => p.connects,
                };
                let mut c = Command::new(&p.launcher);
                c.args(["workload-child", work.name(), &count.to_string(), &target]);
                c
            }
            Work::Build => {
                let mut c = Command::new("make");
                c.arg("-s")
                    .arg(format!("-j{}", p.jobs))
                    .arg("-C")
                    .arg(self.scratch.join("project"));
                c
            }
        }
    }

    /// One run of `work` in `cgroup`: milliseconds from the fork to the
    /// exit, and the CPU milliseconds of the run's processes.
    fn run(&self, work: Work, cgroup: &Path) -> Result<(f64, f64), String> {
        check_interrupted()?;
        if work == Work::Build {
            clean_project(&self.scratch.join("project"));
        }
        let procs = OpenOptions::new()
            .write(true)
            .open(cgroup.join("cgroup.procs"))
            .map_err(|e| format!("{}: {e}", cgroup.display()))?;
        let fd = procs.as_raw_fd();
        let mut command = self.command(work);
        command.stdin(Stdio::null()).stdout(Stdio::null());
        command.stderr(Stdio::piped());
        // SAFETY: the closure only calls write(2) on a descriptor that
        // stays open until the child has been waited for.
        unsafe {
            command.pre_exec(move || {
                // `0`: the writing process joins the cgroup.
                if libc::write(fd, b"0".as_ptr().cast(), 1) == 1 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        // The harness waits for no other child while a run goes on: the
        // children's CPU time grows by the run's (its descendants
        // included, every one of which its parent waited for).
        let cpu0 = children_cpu_ms();
        let started = Instant::now();
        let output = command
            .output()
            .map_err(|e| format!("{} run: {e}", work.name()))?;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let cpu = children_cpu_ms() - cpu0;
        drop(procs);
        if !output.status.success() {
            return Err(format!(
                "the {} run failed ({}): {}",
                work.name(),
                output.status,
                crate::timing::head_and_tail(&String::from_utf8_lossy(&output.stderr))
            ));
        }
        Ok((ms, cpu))
    }
}

/// User + system CPU milliseconds of the children waited for so far.
fn children_cpu_ms() -> f64 {
    // SAFETY: getrusage(2) into a zeroed struct of the right type.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}

/// Sums of the programs' run time between two snapshots, per name.
fn program_delta(
    before: &[(u32, String, u64, u64)],
    after: &[(u32, String, u64, u64)],
) -> Vec<(String, u64, u64)> {
    let mut out: Vec<(String, u64, u64)> = Vec::new();
    for (id, name, ns, count) in after {
        let (ns0, count0) = before
            .iter()
            .find(|b| b.0 == *id)
            .map_or((0, 0), |b| (b.2, b.3));
        let (dns, dcount) = (ns.saturating_sub(ns0), count.saturating_sub(count0));
        match out.iter_mut().find(|o| o.0 == *name) {
            Some(o) => {
                o.1 += dns;
                o.2 += dcount;
            }
            None => out.push((name.clone(), dns, dcount)),
        }
    }
    out
}

/// One run with polrt running: its time and CPU (milliseconds), polrt's
/// CPU (ns) and the programs' run time and runs per name.
type TracedRun = ((f64, f64), u64, Vec<(String, u64, u64)>);

/// One run with polrt running: see [`TracedRun`].
fn traced_run(
    setup: &Setup<'_>,
    polrt: &Polrt,
    work: Work,
    cgroup: &Path,
) -> Result<TracedRun, String> {
    let cpu0 = cpu_ns(polrt.pid());
    let stats0 = program_stats(&polrt.programs);
    let ms = setup.run(work, cgroup)?;
    polrt.settle();
    let stats1 = program_stats(&polrt.programs);
    let cpu1 = cpu_ns(polrt.pid());
    Ok((
        ms,
        cpu1.saturating_sub(cpu0),
        program_delta(&stats0, &stats1),
    ))
}

fn add_programs(row: &mut WorkRow, delta: &[(String, u64, u64)], scoped: bool) {
    for (name, ns, count) in delta {
        let at = match row.programs.iter().position(|p| p.name == *name) {
            Some(at) => at,
            None => {
                row.programs.push(ProgramRow {
                    name: name.clone(),
                    ..ProgramRow::default()
                });
                row.programs.len() - 1
            }
        };
        let p = &mut row.programs[at];
        if scoped {
            p.scoped_ms += *ns as f64 / 1e6;
            p.scoped_runs += count;
        } else {
            p.sibling_ms += *ns as f64 / 1e6;
            p.sibling_runs += count;
        }
    }
}

/// Round `round` of `work`: the traced pair (polrt started for it and
/// stopped after), then the baseline pair; the first of each pair
/// alternates with the round.
fn round(
    setup: &Setup<'_>,
    tools: &Tools,
    cgroups: &Cgroups,
    work: Work,
    index: usize,
    row: &mut WorkRow,
) -> Result<(), String> {
    let scoped_first = index.is_multiple_of(2);
    let output = setup
        .scratch
        .join(format!("events-{}-{index}.jsonl", work.name()));
    let mut polrt = Polrt::start(tools, &setup.plan.policy, &cgroups.scoped, &output)?;
    let mut traced = || -> Result<(), String> {
        for scoped in [scoped_first, !scoped_first] {
            let cgroup = if scoped {
                &cgroups.scoped
            } else {
                &cgroups.sibling
            };
            let ((ms, run_cpu), cpu, programs) = traced_run(setup, &polrt, work, cgroup)?;
            let bpf_ms = programs.iter().map(|p| p.1).sum::<u64>() as f64 / 1e6;
            add_programs(row, &programs, scoped);
            if scoped {
                row.scoped_ms.push(ms);
                row.cpu_scoped_ms.push(run_cpu);
                row.polrt_cpu_scoped_ms.push(cpu as f64 / 1e6);
                row.bpf_scoped_ms.push(bpf_ms);
            } else {
                row.sibling_ms.push(ms);
                row.cpu_sibling_ms.push(run_cpu);
                row.polrt_cpu_sibling_ms.push(cpu as f64 / 1e6);
                row.bpf_sibling_ms.push(bpf_ms);
            }
        }
        Ok(())
    };
    let result = traced();
    let stderr = polrt.stop();
    result.map_err(|e| format!("{e} (polrt: {})", stderr.join("; ")))?;
    let text = std::fs::read_to_string(&output).map_err(|e| format!("polrt's output: {e}"))?;
    let _ = std::fs::remove_file(&output);
    let (events, lost) = count_events(&text);
    row.events += events;
    row.lost += lost;
    // The baseline: nothing attached.
    for scoped in [scoped_first, !scoped_first] {
        if scoped {
            let (ms, cpu) = setup.run(work, &cgroups.scoped)?;
            row.base_scoped_ms.push(ms);
            row.base_cpu_scoped_ms.push(cpu);
        } else {
            let (ms, cpu) = setup.run(work, &cgroups.sibling)?;
            row.base_sibling_ms.push(ms);
            row.base_cpu_sibling_ms.push(cpu);
        }
    }
    Ok(())
}

/// Runs every workload.
pub fn run(tools: &Tools, plan: &Plan) -> Result<WorkloadResults, String> {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    polrt::probe::check_privileges().map_err(|e| e.to_string())?;
    polrt::probe::ensure_mounts().map_err(|e| e.to_string())?;
    let _stats = aya::sys::enable_stats(aya::sys::Stats::RunTime)
        .map_err(|e| format!("BPF_ENABLE_STATS: {e}"))?;
    let scratch =
        Scratch(std::env::temp_dir().join(format!("polc-bench-workload-{}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).map_err(|e| format!("{}: {e}", scratch.0.display()))?;
    std::fs::write(scratch.0.join("opened"), b"").map_err(|e| e.to_string())?;
    if plan.works.contains(&Work::Build) {
        write_project(&scratch.0.join("project"), plan.build_files)?;
    }
    let listener = if plan.works.contains(&Work::Connect) {
        Some(Listener::start()?)
    } else {
        None
    };
    let cgroups = Cgroups::new()?;
    let setup = Setup {
        plan,
        scratch: &scratch.0,
        listener: listener.as_ref(),
    };
    let mut results = WorkloadResults {
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        command: plan.command.clone(),
        policy: plan
            .policy
            .strip_prefix(crate::repo_root())
            .unwrap_or(&plan.policy)
            .display()
            .to_string(),
        pairs: plan.pairs,
        load_before: load_average(),
        ..WorkloadResults::default()
    };
    let mut rows: Vec<WorkRow> = plan
        .works
        .iter()
        .map(|&w| {
            let (what, ops) = setup.what(w);
            WorkRow {
                work: w.name().into(),
                what,
                ops,
                ..WorkRow::default()
            }
        })
        .collect();
    // Rounds outside, workloads inside: a slow spell of the machine falls
    // on every workload alike.
    for index in 0..plan.pairs {
        for (w, row) in plan.works.iter().zip(rows.iter_mut()) {
            if row.error.is_some() {
                continue;
            }
            if let Err(e) = round(&setup, tools, &cgroups, *w, index, row) {
                check_interrupted()?;
                eprintln!("polc-bench: workload {}: {e}", w.name());
                row.error = Some(e);
                continue;
            }
            let last = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
            eprintln!(
                "polc-bench: workload {} pair {}: scoped {:.0} ms ({:.0} CPU), sibling {:.0} ms ({:.0} CPU), baseline {:.0}/{:.0} ms; polrt CPU {:.1} ms; programs {:.1}/{:.1} ms",
                w.name(),
                index + 1,
                last(&row.scoped_ms),
                last(&row.cpu_scoped_ms),
                last(&row.sibling_ms),
                last(&row.cpu_sibling_ms),
                last(&row.base_scoped_ms),
                last(&row.base_sibling_ms),
                last(&row.polrt_cpu_scoped_ms),
                last(&row.bpf_scoped_ms),
                last(&row.bpf_sibling_ms),
            );
        }
    }
    results.load_after = load_average();
    results.rows = rows;
    Ok(results)
}

/// The hidden `workload-child` subcommand: the launcher's side of spawn,
/// open and connect (it is already in its cgroup).
pub fn child(work: &str, count: u64, target: &str) -> Result<(), String> {
    match Work::parse(work)? {
        Work::Spawn => {
            for _ in 0..count {
                let status = Command::new(target)
                    .status()
                    .map_err(|e| format!("{target}: {e}"))?;
                if !status.success() {
                    return Err(format!("{target}: {status}"));
                }
            }
        }
        Work::Open => {
            let path = std::ffi::CString::new(target).map_err(|e| e.to_string())?;
            for _ in 0..count {
                // SAFETY: open(2) of a NUL-terminated path, closed at once.
                let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
                if fd < 0 {
                    return Err(format!(
                        "open {target}: {}",
                        std::io::Error::last_os_error()
                    ));
                }
                // SAFETY: the descriptor just opened.
                unsafe { libc::close(fd) };
            }
        }
        Work::Connect => {
            let port: u16 = target.parse().map_err(|_| format!("bad port {target}"))?;
            let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            addr.sin_port = port.to_be();
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            for _ in 0..count {
                // SAFETY: plain socket calls on a descriptor opened here and
                // closed at the end of the iteration; the pointers are to
                // live locals of the sizes given.
                unsafe {
                    let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
                    if fd < 0 {
                        return Err(format!("socket: {}", std::io::Error::last_os_error()));
                    }
                    libc::setsockopt(
                        fd,
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        (&raw const linger).cast(),
                        std::mem::size_of::<libc::linger>() as libc::socklen_t,
                    );
                    let r = libc::connect(
                        fd,
                        (&raw const addr).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    );
                    let error = std::io::Error::last_os_error();
                    libc::close(fd);
                    if r != 0 {
                        return Err(format!("connect 127.0.0.1:{port}: {error}"));
                    }
                }
            }
        }
        other => return Err(format!("{} is not run by the launcher", other.name())),
    }
    std::io::stdout().flush().map_err(|e| e.to_string())
}

fn ms_cell(v: &[f64]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        format!("{:.0}", median(v))
    }
}

fn ratio_cell(a: &[f64], b: &[f64]) -> String {
    match ratio_summary(a, b) {
        Some((m, lo, hi)) => format!("**{m:.3}** ({lo:.3}–{hi:.3})"),
        None => "-".into(),
    }
}

fn plain_ratio(a: &[f64], b: &[f64]) -> String {
    match ratio_summary(a, b) {
        Some((m, _, _)) => format!("{m:.3}"),
        None => "-".into(),
    }
}

/// `a[i] + b[i]`.
fn plus(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a + b).collect()
}

/// The Markdown tables of `results`.
pub fn tables(results: &WorkloadResults) -> String {
    let load = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!(
        "Measured by `{}` on kernel {}, policy `{}`, {} pairs; load average before {}, after {}.\n\n",
        results.command,
        results.kernel,
        results.policy,
        results.pairs,
        load(&results.load_before),
        load(&results.load_after)
    );
    out.push_str("Time of one run (medians, milliseconds) and the medians of the per-pair ratios (least–greatest):\n\n");
    out.push_str(
        "| work | one run | baseline (polrt not running) | sibling | scoped | **scoped / sibling** | sibling / baseline | scoped / baseline | baseline: scoped / sibling cgroup |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in &results.rows {
        if let Some(error) = &row.error {
            out.push_str(&format!(
                "| {} | {} | failed: {} | | | | | | |\n",
                row.work,
                row.what,
                error.replace('|', "\\|").replace('\n', " ")
            ));
            continue;
        }
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.work,
            row.what,
            ms_cell(&row.base_sibling_ms),
            ms_cell(&row.sibling_ms),
            ms_cell(&row.scoped_ms),
            ratio_cell(&row.scoped_ms, &row.sibling_ms),
            plain_ratio(&row.sibling_ms, &row.base_sibling_ms),
            plain_ratio(&row.scoped_ms, &row.base_scoped_ms),
            ratio_cell(&row.base_scoped_ms, &row.base_sibling_ms),
        ));
    }
    out.push_str("\nCPU time of one run (medians, milliseconds: the run's processes, user + system, plus polrt's while the run went on and it caught up) and the same ratios; less moved than the time by the other work on the machine:\n\n");
    out.push_str(
        "| work | baseline | sibling (+ polrt) | scoped (+ polrt) | **scoped / sibling** | sibling / baseline | scoped / baseline | baseline: scoped / sibling cgroup |\n|---|---|---|---|---|---|---|---|\n",
    );
    for row in results.rows.iter().filter(|r| r.error.is_none()) {
        let scoped = plus(&row.cpu_scoped_ms, &row.polrt_cpu_scoped_ms);
        let sibling = plus(&row.cpu_sibling_ms, &row.polrt_cpu_sibling_ms);
        out.push_str(&format!(
            "| {} | {} | {} ({:.1}) | {} ({:.1}) | {} | {} | {} | {} |\n",
            row.work,
            ms_cell(&row.base_cpu_sibling_ms),
            ms_cell(&sibling),
            median(&row.polrt_cpu_sibling_ms),
            ms_cell(&scoped),
            median(&row.polrt_cpu_scoped_ms),
            ratio_cell(&scoped, &sibling),
            plain_ratio(&sibling, &row.base_cpu_sibling_ms),
            plain_ratio(&scoped, &row.base_cpu_scoped_ms),
            ratio_cell(&row.base_cpu_scoped_ms, &row.base_cpu_sibling_ms),
        ));
    }
    out.push_str(
        "\n| work | events written per scoped run | lost | polrt CPU µs per event | BPF programs ms per scoped run | per sibling run |\n|---|---|---|---|---|---|\n",
    );
    for row in results.rows.iter().filter(|r| r.error.is_none()) {
        let runs = row.scoped_ms.len().max(1) as f64;
        let per_run = row.events as f64 / runs;
        let cpu = median(&row.polrt_cpu_scoped_ms);
        let per_event = if per_run >= 10.0 {
            format!("{:.1}", cpu * 1e3 / per_run)
        } else {
            "-".into()
        };
        out.push_str(&format!(
            "| {} | {:.0} | {} | {} | {:.1} | {:.1} |\n",
            row.work,
            per_run,
            row.lost,
            per_event,
            median(&row.bpf_scoped_ms),
            median(&row.bpf_sibling_ms),
        ));
    }
    out.push_str("\nWhere the programs' time goes (every run of the work; the programs on system calls run for every task on the host, so their counts include the rest of the machine's work):\n\n| work | program | runs per scoped run | ns per run, scoped | runs per sibling run | ns per run, sibling |\n|---|---|---|---|---|---|\n");
    for row in results.rows.iter().filter(|r| r.error.is_none()) {
        let runs = row.scoped_ms.len().max(1) as f64;
        let mut programs = row.programs.clone();
        programs.sort_by(|a, b| b.scoped_ms.total_cmp(&a.scoped_ms));
        for p in programs
            .iter()
            .filter(|p| p.scoped_runs + p.sibling_runs > 0)
        {
            let per = |ms: f64, n: u64| {
                if n == 0 {
                    "-".into()
                } else {
                    format!("{:.0}", ms * 1e6 / n as f64)
                }
            };
            out.push_str(&format!(
                "| {} | `{}` | {:.0} | {} | {:.0} | {} |\n",
                row.work,
                p.name,
                p.scoped_runs as f64 / runs,
                per(p.scoped_ms, p.scoped_runs),
                p.sibling_runs as f64 / runs,
                per(p.sibling_ms, p.sibling_runs),
            ));
        }
    }
    out
}

/// Markers of the workload tables in docs/performance.md.
pub const BEGIN: &str = "<!-- BEGIN workload (generated by polc-bench workload) -->";
pub const END: &str = "<!-- END workload -->";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_pair_runs_and_skip_empty_denominators() {
        let (m, lo, hi) = ratio_summary(&[110.0, 200.0, 99.0], &[100.0, 100.0, 100.0]).unwrap();
        assert!((m - 1.1).abs() < 1e-9);
        assert!((lo - 0.99).abs() < 1e-9);
        assert!((hi - 2.0).abs() < 1e-9);
        assert_eq!(ratios(&[1.0, 2.0], &[0.0, 4.0]), vec![0.5]);
        assert!(ratio_summary(&[], &[]).is_none());
    }

    #[test]
    fn works_parse_by_name() {
        for w in Work::ALL {
            assert_eq!(Work::parse(w.name()), Ok(w));
        }
        assert!(Work::parse("fork").unwrap_err().contains("exec, spawn"));
    }

    #[test]
    fn events_and_losses_are_read_from_json_lines() {
        let text = "{\"type\":\"event\",\"rule\":\"execs\"}\nnot json\n{\"type\":\"event\"}\n{\"type\":\"summary\",\"lost\":3}\n";
        assert_eq!(count_events(text), (2, 3));
    }

    #[test]
    fn program_deltas_add_up_by_name() {
        let before = vec![(1, "a".to_string(), 100, 10), (2, "a".to_string(), 0, 0)];
        let after = vec![
            (1, "a".to_string(), 150, 12),
            (2, "a".to_string(), 30, 1),
            (3, "b".to_string(), 7, 1),
        ];
        assert_eq!(
            program_delta(&before, &after),
            vec![("a".to_string(), 80, 3), ("b".to_string(), 7, 1)]
        );
    }
}
