//! The load generator: a child process (this binary's hidden `load`
//! subcommand) that repeats one system call for a while, optionally from
//! inside a cgroup, as another user, or at a fixed rate, and prints how many
//! calls it made.
//!
//! A separate process keeps the harness's own system calls out of the
//! measured programs' counts, and is how a load joins the test cgroup the
//! cgroup programs are attached to. Knows nothing of BPF.

use std::ffi::CString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::scenario::Load;

/// How the harness asks for a load.
#[derive(Clone, Debug)]
pub struct LoadRun {
    pub load: Load,
    pub duration: Duration,
    /// Join this cgroup (v2 directory) first.
    pub cgroup: Option<PathBuf>,
    /// Calls per second; unlimited when `None`.
    pub rate: Option<u64>,
    /// Run at real-time priority (`SCHED_FIFO` 1), so that other work on
    /// the machine does not interleave with the calls being measured.
    pub realtime: bool,
}

/// What a load run did.
#[derive(Copy, Clone, Debug, Default)]
pub struct LoadDone {
    /// System calls made.
    pub calls: u64,
    /// Seconds the calls took.
    pub seconds: f64,
}

/// Runs `run` in a child process and waits for it.
pub fn run(run: &LoadRun) -> Result<LoadDone, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current executable: {e}"))?;
    let spec = serde_json::to_string(&run.load).map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command
        .arg("load")
        .arg("--spec")
        .arg(&spec)
        .arg("--duration-ms")
        .arg(run.duration.as_millis().to_string());
    if let Some(cgroup) = &run.cgroup {
        command.arg("--cgroup").arg(cgroup);
    }
    if let Some(rate) = run.rate {
        command.arg("--rate").arg(rate.to_string());
    }
    if run.realtime {
        command.arg("--realtime");
    }
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("starting the load generator: {e}"))?;
    if !output.status.success() {
        return Err(format!("the load generator failed: {}", output.status));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace();
    let calls = fields.next().and_then(|s| s.parse().ok());
    let seconds = fields.next().and_then(|s| s.parse().ok());
    match (calls, seconds) {
        (Some(calls), Some(seconds)) => Ok(LoadDone { calls, seconds }),
        _ => Err(format!("the load generator printed `{}`", text.trim())),
    }
}

/// The child side: makes the calls and prints `CALLS SECONDS`.
pub fn generate(
    spec: &str,
    duration: Duration,
    cgroup: Option<&Path>,
    rate: Option<u64>,
    realtime: bool,
) -> Result<(), String> {
    let load: Load = serde_json::from_str(spec).map_err(|e| format!("bad load spec: {e}"))?;
    if realtime {
        let param = libc::sched_param { sched_priority: 1 };
        // SAFETY: `param` is a valid sched_param; 0 is this process.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
            return Err(format!("SCHED_FIFO: {}", std::io::Error::last_os_error()));
        }
    }
    if let Some(cgroup) = cgroup {
        std::fs::write(cgroup.join("cgroup.procs"), std::process::id().to_string())
            .map_err(|e| format!("joining cgroup {}: {e}", cgroup.display()))?;
    }
    let mut call = Call::new(&load)?;
    let started = Instant::now();
    let end = started + duration;
    let mut calls = 0u64;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let burst = match rate {
            None => 64,
            Some(rate) => {
                let due = (rate as f64 * (now - started).as_secs_f64()) as u64;
                if due <= calls {
                    std::thread::sleep(Duration::from_micros(50));
                    continue;
                }
                (due - calls).min(1024)
            }
        };
        for _ in 0..burst {
            call.once();
        }
        calls += burst;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{calls} {seconds}").map_err(|e| e.to_string())
}

/// One prepared system call.
enum Call {
    Open(CString),
    Exec {
        path: CString,
        argv: [*const libc::c_char; 2],
    },
    Connect {
        fd: libc::c_int,
        addr: libc::sockaddr_in,
    },
}

impl Call {
    fn new(load: &Load) -> Result<Call, String> {
        let cstring = |s: &str| CString::new(s).map_err(|e| e.to_string());
        Ok(match load {
            Load::Open { path } => Call::Open(cstring(path)?),
            Load::Exec { path, uid } => {
                if Path::new(path).exists() {
                    return Err(format!(
                        "{path} exists: the exec load needs a path that does not"
                    ));
                }
                if let Some(uid) = uid {
                    // SAFETY: setgid/setuid have no memory preconditions.
                    let rc = unsafe { libc::setgid(*uid) | libc::setuid(*uid) };
                    if rc != 0 {
                        return Err(format!(
                            "setuid({uid}): {}",
                            std::io::Error::last_os_error()
                        ));
                    }
                }
                let path = cstring(path)?;
                let argv = [path.as_ptr(), std::ptr::null()];
                Call::Exec { path, argv }
            }
            Load::Connect { addr, port } => {
                // SAFETY: socket has no memory preconditions.
                let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
                if fd < 0 {
                    return Err(format!("socket: {}", std::io::Error::last_os_error()));
                }
                // SAFETY: sockaddr_in is plain data; all-zero is valid.
                let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
                sin.sin_family = libc::AF_INET as libc::sa_family_t;
                sin.sin_port = port.to_be();
                sin.sin_addr.s_addr = u32::from(*addr).to_be();
                Call::Connect { fd, addr: sin }
            }
        })
    }

    fn once(&mut self) {
        match self {
            Call::Open(path) => {
                // SAFETY: `path` is a valid NUL-terminated string.
                let fd = unsafe { libc::openat(libc::AT_FDCWD, path.as_ptr(), libc::O_RDONLY) };
                if fd >= 0 {
                    // SAFETY: `fd` was just opened by this process.
                    unsafe { libc::close(fd) };
                }
            }
            Call::Exec { path, argv } => {
                let envp: [*const libc::c_char; 1] = [std::ptr::null()];
                // SAFETY: `path`, `argv` and `envp` are valid and
                // NUL-terminated; the path does not exist, so execve
                // returns (ENOENT) instead of replacing this process.
                unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
            }
            Call::Connect { fd, addr } => {
                // SAFETY: `addr` is a valid sockaddr_in of the size given.
                unsafe {
                    libc::connect(
                        *fd,
                        (addr as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                };
            }
        }
    }
}
