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
        // An exec load in a container's cgroup joins it below the test
        // cgroup, made as the container runtime names it.
        let cgroup = match &load {
            Load::Exec {
                cgroup: Some(below),
                ..
            } => {
                let dir = cgroup.join(below.trim_start_matches('/'));
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("creating cgroup {}: {e}", dir.display()))?;
                dir
            }
            _ => cgroup.to_path_buf(),
        };
        std::fs::write(cgroup.join("cgroup.procs"), std::process::id().to_string())
            .map_err(|e| format!("joining cgroup {}: {e}", cgroup.display()))?;
    }
    let mut call = Call::new(&load)?;
    let started = Instant::now();
    let end = started + duration;
    let mut calls = 0u64;
    let mut failed = 0u64;
    let mut last_error: Option<std::io::Error> = None;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let burst = match rate {
            None => 64,
            Some(rate) => {
                let due = (rate as f64 * (now - started).as_secs_f64()) as u64;
                if due <= calls + failed {
                    std::thread::sleep(Duration::from_micros(50));
                    continue;
                }
                (due - calls - failed).min(1024)
            }
        };
        let burst = burst.min(call.burst());
        for _ in 0..burst {
            match call.once() {
                Ok(()) => calls += 1,
                Err(error) => {
                    failed += 1;
                    last_error = Some(error);
                }
            }
        }
        if calls == 0 && failed >= 100 {
            let error = last_error.map_or_else(String::new, |e| e.to_string());
            return Err(format!("{}: every call fails: {error}", load.describe()));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{calls} {seconds}").map_err(|e| e.to_string())
}

/// The directories the loads' files are created in, removed by
/// [`remove_fixtures`].
pub const FIXTURE_DIRS: [&str; 2] = ["/tmp/polc-bench", "/srv/polc-bench"];

/// Removes the files the loads created (the harness calls it at the end).
pub fn remove_fixtures() {
    for dir in FIXTURE_DIRS {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Creates `path` (and its directory) when it is missing: an empty file,
/// or, with `program`, a copy of that program, executable by everyone.
fn ensure_file(path: &str, program: Option<&str>) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = Path::new(path);
    if let Ok(meta) = std::fs::metadata(path) {
        return match program {
            Some(_) if meta.permissions().mode() & 0o111 == 0 => Err(format!(
                "{} exists and is not executable: the exec load needs a program there",
                path.display()
            )),
            _ => Ok(()),
        };
    }
    if !FIXTURE_DIRS.iter().any(|dir| path.starts_with(dir)) {
        return Err(format!(
            "{}: the loads create files under {} only",
            path.display(),
            FIXTURE_DIRS.join(" and ")
        ));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
    }
    // Written under another name and renamed, so that a concurrent load
    // never runs a half-written copy.
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    match program {
        Some(program) => {
            std::fs::copy(program, &partial).map_err(|e| format!("copy {program}: {e}"))?;
        }
        None => {
            std::fs::write(&partial, b"").map_err(|e| format!("{}: {e}", partial.display()))?;
        }
    }
    let mode = if program.is_some() { 0o755 } else { 0o644 };
    std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(mode))
        .map_err(|e| e.to_string())?;
    std::fs::rename(&partial, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Makes this process the first of a chain of processes named `names`
/// (each the child of the one before); returns in the last one. Every
/// other one waits for its child and exits with its status.
fn become_chain(names: &[String]) -> Result<(), String> {
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            // SAFETY: the generator is single-threaded; the parent only
            // waits and exits.
            let pid = unsafe { libc::fork() };
            if pid < 0 {
                return Err(format!("fork: {}", std::io::Error::last_os_error()));
            }
            if pid > 0 {
                let mut status = 0;
                // SAFETY: `status` is a valid out-pointer.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                let code = if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    1
                };
                let _ = std::io::stdout().flush();
                // SAFETY: leaves without running this copy's destructors.
                unsafe { libc::_exit(code) };
            }
        }
        let comm = CString::new(name.as_str()).map_err(|e| e.to_string())?;
        // SAFETY: PR_SET_NAME reads a NUL-terminated string (cut at 15 bytes).
        if unsafe { libc::prctl(libc::PR_SET_NAME, comm.as_ptr()) } != 0 {
            return Err(format!("PR_SET_NAME: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Opens between two closes of the descriptors they returned.
const OPEN_BATCH: usize = 64;

/// One prepared system call.
enum Call {
    /// The path, and the descriptors opened since the last close.
    Open(CString, Vec<libc::c_int>),
    Exec {
        path: CString,
        _args: Vec<CString>,
        argv: Vec<*mut libc::c_char>,
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
            Load::Open { path } => {
                ensure_file(path, None)?;
                Call::Open(cstring(path)?, Vec::with_capacity(OPEN_BATCH))
            }
            Load::Exec {
                path,
                args,
                uid,
                ancestors,
                ..
            } => {
                ensure_file(path, Some(crate::scenario::TEST_PROGRAM))?;
                become_chain(ancestors)?;
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
                let args = if args.is_empty() {
                    vec![cstring(path)?]
                } else {
                    args.iter()
                        .map(|a| cstring(a))
                        .collect::<Result<Vec<_>, _>>()?
                };
                let mut argv: Vec<*mut libc::c_char> =
                    args.iter().map(|a| a.as_ptr().cast_mut()).collect();
                argv.push(std::ptr::null_mut());
                Call::Exec {
                    path: cstring(path)?,
                    _args: args,
                    argv,
                }
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

    /// Calls made between two looks at the clock.
    fn burst(&self) -> u64 {
        match self {
            // A program start takes a millisecond or so.
            Call::Exec { .. } => 1,
            _ => 64,
        }
    }

    /// Makes the call once; an error when it did not do what the load
    /// needs (the file opened, the program run to its end, connected).
    fn once(&mut self) -> Result<(), std::io::Error> {
        match self {
            Call::Open(path, open) => {
                // SAFETY: `path` is a valid NUL-terminated string.
                let fd = unsafe { libc::openat(libc::AT_FDCWD, path.as_ptr(), libc::O_RDONLY) };
                let result = if fd >= 0 {
                    open.push(fd);
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                };
                // One close_range per batch rather than a close per open: on
                // `tp_btf/sys_exit` every system call runs the program.
                if open.len() >= OPEN_BATCH {
                    let first = open.iter().copied().min().unwrap_or(fd);
                    // SAFETY: closes descriptors this process opened above.
                    unsafe { libc::syscall(libc::SYS_close_range, first as u32, u32::MAX, 0) };
                    open.clear();
                }
                result
            }
            Call::Exec { path, argv, .. } => {
                let envp: [*mut libc::c_char; 1] = [std::ptr::null_mut()];
                let mut pid: libc::pid_t = 0;
                // SAFETY: `path`, `argv` and `envp` are valid and
                // NULL-terminated; no file actions or attributes.
                let rc = unsafe {
                    libc::posix_spawn(
                        &mut pid,
                        path.as_ptr(),
                        std::ptr::null(),
                        std::ptr::null(),
                        argv.as_ptr(),
                        envp.as_ptr(),
                    )
                };
                if rc != 0 {
                    return Err(std::io::Error::from_raw_os_error(rc));
                }
                let mut status = 0;
                // SAFETY: `status` is a valid out-pointer.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::other(format!(
                        "the program ended with status {status:#x}"
                    )))
                }
            }
            Call::Connect { fd, addr } => {
                // SAFETY: `addr` is a valid sockaddr_in of the size given.
                let rc = unsafe {
                    libc::connect(
                        *fd,
                        (addr as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    )
                };
                if rc == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            }
        }
    }
}
