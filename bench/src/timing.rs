//! Timing of external commands: wall time to exit (with a timeout), and
//! wall time until a start-up line appears on a child's output (then the
//! child is stopped with SIGINT). Medians over repeated runs.
//!
//! Knows nothing of what the commands are.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A measured quantity over repeated runs, or why there is none.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Measure {
    /// Every run succeeded: their values (milliseconds, or nanoseconds for
    /// per-event costs) and median.
    Ok { median: f64, runs: Vec<f64> },
    /// The tool refused or failed (e.g. a policy over polc's budget, a
    /// verifier rejection), after `after` (same unit).
    Failed { reason: String, after: f64 },
    /// Stopped after `after` (same unit).
    TimedOut { after: f64 },
    /// Not measured (the tool is missing or the case does not apply).
    Skipped { reason: String },
}

impl Measure {
    /// From successful runs.
    pub fn from_runs(runs: Vec<f64>) -> Measure {
        Measure::Ok {
            median: median(&runs),
            runs,
        }
    }

    /// The median, when every run succeeded.
    pub fn value(&self) -> Option<f64> {
        match self {
            Measure::Ok { median, .. } => Some(*median),
            _ => None,
        }
    }
}

/// Median (mean of the middle two for an even count); NaN for none.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// How one timed command ended.
pub enum Outcome {
    /// Exited successfully after this many milliseconds.
    Done(f64),
    /// Exited with an error: the tail of its stderr.
    Failed { ms: f64, stderr: String },
    /// Killed at the timeout.
    TimedOut(f64),
}

fn spawn_waiter(mut child: Child) -> mpsc::Receiver<std::io::Result<std::process::ExitStatus>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    rx
}

fn kill(pid: u32, signal: libc::c_int) {
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
}

/// Starts `command` with no stdin, `stdout` and a piped stderr: the child
/// and when it started, or the failure to start as an outcome.
fn spawn(command: &mut Command, stdout: Stdio) -> Result<(Child, Instant), Outcome> {
    command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped());
    let started = Instant::now();
    match command.spawn() {
        Ok(child) => Ok((child, started)),
        Err(e) => Err(Outcome::Failed {
            ms: 0.0,
            stderr: format!("cannot start {:?}: {e}", command.get_program()),
        }),
    }
}

/// Runs `command` to completion (stdout discarded, stderr kept), timing it.
pub fn time_command(command: &mut Command, timeout: Duration) -> Outcome {
    let (mut child, started) = match spawn(command, Stdio::null()) {
        Ok(started) => started,
        Err(failed) => return failed,
    };
    let pid = child.id();
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.read_to_string(&mut text);
        }
        text
    });
    let waiter = spawn_waiter(child);
    let status = match waiter.recv_timeout(timeout) {
        Ok(status) => status,
        Err(_) => {
            kill(pid, libc::SIGKILL);
            let _ = waiter.recv();
            let _ = reader.join();
            return Outcome::TimedOut(started.elapsed().as_secs_f64() * 1e3);
        }
    };
    let ms = started.elapsed().as_secs_f64() * 1e3;
    let stderr = reader.join().unwrap_or_default();
    match status {
        Ok(status) if status.success() => Outcome::Done(ms),
        Ok(status) => Outcome::Failed {
            ms,
            stderr: head_and_tail(&format!("{stderr}\n({})", describe_exit(status))),
        },
        Err(e) => Outcome::Failed {
            ms,
            stderr: e.to_string(),
        },
    }
}

/// Which output stream a start-up line is on.
#[derive(Copy, Clone, Debug)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Starts `command`, times it until a line on `stream` contains `ready`,
/// then stops it with SIGINT (SIGKILL after a grace period).
pub fn time_startup(
    command: &mut Command,
    stream: Stream,
    ready: &str,
    timeout: Duration,
) -> Outcome {
    let (mut child, started) = match spawn(command, Stdio::piped()) {
        Ok(started) => started,
        Err(failed) => return failed,
    };
    let pid = child.id();
    let (tx, rx) = mpsc::channel::<Option<f64>>();
    let (watched, other): (Box<dyn Read + Send>, Box<dyn Read + Send>) = match stream {
        Stream::Stdout => (
            Box::new(child.stdout.take().expect("piped")),
            Box::new(child.stderr.take().expect("piped")),
        ),
        Stream::Stderr => (
            Box::new(child.stderr.take().expect("piped")),
            Box::new(child.stdout.take().expect("piped")),
        ),
    };
    let pattern = ready.to_string();
    let watcher = std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut signalled = false;
        for line in BufReader::new(watched).lines().map_while(Result::ok) {
            if !signalled && line.contains(&pattern) {
                let _ = tx.send(Some(started.elapsed().as_secs_f64() * 1e3));
                signalled = true;
            }
            if lines.len() < 200 {
                lines.push(line);
            }
        }
        if !signalled {
            let _ = tx.send(None);
        }
        lines.join("\n")
    });
    let drainer = std::thread::spawn(move || {
        let mut text = String::new();
        let mut other = other;
        let _ = other.read_to_string(&mut text);
        text
    });
    let outcome = match rx.recv_timeout(timeout) {
        Ok(Some(ms)) => Outcome::Done(ms),
        Ok(None) => Outcome::Failed {
            ms: started.elapsed().as_secs_f64() * 1e3,
            stderr: String::new(),
        },
        Err(_) => Outcome::TimedOut(started.elapsed().as_secs_f64() * 1e3),
    };
    // A SIGINT that arrives while the tool is still attaching may be lost
    // (bpftrace prints its line first): repeat it until the tool exits.
    let waiter = spawn_waiter(child);
    let mut exited = false;
    for _ in 0..50 {
        kill(pid, libc::SIGINT);
        if waiter.recv_timeout(Duration::from_millis(200)).is_ok() {
            exited = true;
            break;
        }
    }
    if !exited {
        kill(pid, libc::SIGKILL);
        let _ = waiter.recv();
    }
    let watched_text = watcher.join().unwrap_or_default();
    let other_text = drainer.join().unwrap_or_default();
    match outcome {
        Outcome::Failed { ms, .. } => Outcome::Failed {
            ms,
            stderr: head_and_tail(&format!("{watched_text}\n{other_text}")),
        },
        other => other,
    }
}

/// The first and the last few non-empty lines of `text` (a diagnostic's
/// first line says what failed, the last ones how it ended).
pub fn head_and_tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() <= 16 {
        return lines.join("\n");
    }
    format!(
        "{}\n...\n{}",
        lines[..10].join("\n"),
        lines[lines.len() - 6..].join("\n")
    )
}

/// An exit status in words; SIGKILL from outside is how the kernel's
/// out-of-memory killer (or an address-space limit) ends a compile.
fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(libc::SIGKILL) => "killed by SIGKILL (out of memory)".to_string(),
        Some(signal) => format!("killed by signal {signal}"),
        None => format!("exit status {}", status.code().unwrap_or(-1)),
    }
}

/// A memory cgroup that caps what the compilers may use, so that one that
/// runs away (bpftrace compiling 10,000 string rules went past 24 GiB) is
/// killed inside it instead of the kernel's out-of-memory killer choosing
/// among every process on a shared machine. Removed on drop.
pub struct MemoryCap {
    dir: Option<std::path::PathBuf>,
}

impl MemoryCap {
    /// A cap of `bytes` under the cgroup v1 memory controller (the host's
    /// hybrid layout) or, where the cgroup v2 root offers the memory
    /// controller, there; no cap when neither is available.
    pub fn new(bytes: u64) -> MemoryCap {
        let name = format!("polc-bench-compile-{}", std::process::id());
        let v1 = std::path::Path::new("/sys/fs/cgroup/memory");
        let candidates: Vec<(std::path::PathBuf, &str)> = vec![
            (v1.join(&name), "memory.limit_in_bytes"),
            (
                std::path::Path::new("/sys/fs/cgroup").join(&name),
                "memory.max",
            ),
        ];
        for (dir, limit_file) in candidates {
            if std::fs::create_dir(&dir).is_err() {
                continue;
            }
            if std::fs::write(dir.join(limit_file), bytes.to_string()).is_ok() {
                return MemoryCap { dir: Some(dir) };
            }
            let _ = std::fs::remove_dir(&dir);
        }
        MemoryCap { dir: None }
    }

    /// Makes `command`'s process join the cgroup before it runs.
    pub fn apply(&self, command: &mut Command) {
        use std::os::unix::process::CommandExt;
        let Some(dir) = &self.dir else { return };
        let Ok(procs) =
            std::ffi::CString::new(dir.join("cgroup.procs").as_os_str().as_encoded_bytes())
        else {
            return;
        };
        // SAFETY: the closure only calls open, write and close on a path
        // prepared before the fork (async-signal-safe calls); "0" is the
        // calling process.
        unsafe {
            command.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let written = libc::write(fd, b"0".as_ptr().cast(), 1);
                libc::close(fd);
                if written != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    /// Whether a cap is in place.
    pub fn is_active(&self) -> bool {
        self.dir.is_some()
    }
}

impl Drop for MemoryCap {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Repeats a timed run: `reps` times, or once when the first run takes
/// longer than `long` (huge cases). The first failure or timeout ends it.
pub fn repeat(reps: usize, long: Duration, mut once: impl FnMut() -> Outcome) -> Measure {
    let mut runs = Vec::new();
    for _ in 0..reps.max(1) {
        match once() {
            Outcome::Done(ms) => {
                runs.push(ms);
                if ms > long.as_secs_f64() * 1e3 {
                    break;
                }
            }
            Outcome::Failed { ms, stderr } => {
                return Measure::Failed {
                    reason: stderr,
                    after: ms,
                }
            }
            Outcome::TimedOut(ms) => return Measure::TimedOut { after: ms },
        }
    }
    Measure::from_runs(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn a_command_is_timed_and_its_failure_kept() {
        assert!(matches!(
            time_command(&mut Command::new("true"), Duration::from_secs(10)),
            Outcome::Done(_)
        ));
        match time_command(
            Command::new("sh").args(["-c", "echo nope >&2; exit 3"]),
            Duration::from_secs(10),
        ) {
            Outcome::Failed { stderr, .. } => assert!(stderr.contains("nope"), "{stderr}"),
            _ => panic!("sh exit 3 is a failure"),
        }
        assert!(matches!(
            time_command(Command::new("sleep").arg("5"), Duration::from_millis(100)),
            Outcome::TimedOut(_)
        ));
    }

    #[test]
    fn start_up_ends_at_the_ready_line() {
        let outcome = time_startup(
            Command::new("sh").args(["-c", "echo starting; echo ready now; exec sleep 30"]),
            Stream::Stdout,
            "ready",
            Duration::from_secs(10),
        );
        match outcome {
            Outcome::Done(ms) => assert!(ms < 5_000.0, "{ms}"),
            _ => panic!("the ready line was printed"),
        }
    }
}
