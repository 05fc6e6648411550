//! Kernels the host cannot load programs on, booted under virtme-ng
//! (`vng`): [`run_in_guest`] boots one kernel image with the host's file
//! system visible (read-only) and runs one shell command in it as root;
//! [`verify_on_kernels`] is `polrt verify --kernel IMAGE...`, which runs
//! this very binary's `verify --format json` on the same files inside each
//! image (the images boot in parallel) and gathers one JSON result per
//! kernel and program. A team's CI can so gate on the kernels of its fleet.
//!
//! Guests run under software emulation (TCG) unless `POLC_VM_KVM=1`;
//! their size and patience come from `POLC_VM_MEMORY` (default `1G`),
//! `POLC_VM_CPUS` (1), `POLC_VM_BOOT_TIMEOUT` (300 s) and `POLC_VM_TIMEOUT`
//! (1200 s), the knobs of the VM test harness (`tests/vm/`), which runs
//! `verify --kernel` in its own test.
//!
//! The guest's command travels in a script file in the host's `/tmp`
//! (which virtme-ng shows the guest), not on the kernel command line,
//! whose 2,048 bytes a long list of policies would overflow.
//!
//! Depends on `vng` and `qemu-system-x86_64` on the host at run time
//! (`scripts/setup.sh` installs them); knows nothing of the loader: the
//! guest's polrt does the verifying.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Error;

/// The line a guest prints first, once it runs the command.
pub const BOOT_MARKER: &str = "polrt-vm: booted";
/// The line a guest prints last, with the command's exit status.
const STATUS_MARKER: &str = "polrt-vm: status";

/// How guests are booted.
#[derive(Clone, Debug)]
pub struct VmOptions {
    pub memory: String,
    pub cpus: u32,
    pub boot_timeout: Duration,
    pub timeout: Duration,
    /// Use KVM (when the host can); software emulation otherwise.
    pub kvm: bool,
}

impl VmOptions {
    /// The options the `POLC_VM_*` variables ask for.
    pub fn from_env() -> VmOptions {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let seconds = |name: &str, default: u64| {
            Duration::from_secs(var(name).and_then(|v| v.parse().ok()).unwrap_or(default))
        };
        VmOptions {
            memory: var("POLC_VM_MEMORY").unwrap_or_else(|| "1G".to_string()),
            cpus: var("POLC_VM_CPUS")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1),
            boot_timeout: seconds("POLC_VM_BOOT_TIMEOUT", 300),
            timeout: seconds("POLC_VM_TIMEOUT", 1200),
            kvm: var("POLC_VM_KVM").is_some_and(|v| v == "1"),
        }
    }
}

/// What one guest run produced.
#[derive(Clone, Debug)]
pub struct GuestRun {
    pub image: PathBuf,
    pub stdout: String,
    pub stderr: String,
    /// The exit status of `vng` (the command's, when it ran).
    pub status: Option<i32>,
    /// How long the guest took to run the command, when it did.
    pub boot: Option<Duration>,
    pub total: Duration,
    /// Why the run was stopped, if it was (a timeout).
    pub stopped: Option<String>,
}

impl GuestRun {
    /// Whether the guest booted and ran the command.
    pub fn booted(&self) -> bool {
        self.boot.is_some()
    }

    /// The last lines of the guest's standard error, for messages.
    pub fn stderr_tail(&self, lines: usize) -> String {
        let all: Vec<&str> = self.stderr.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Whether `program` is on the PATH.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// A word quoted for `sh`.
pub fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Boots `image` and runs `command` (a shell command line) inside as root,
/// from `/`. The guest sees the host's file system read-only.
pub fn run_in_guest(image: &Path, command: &str, options: &VmOptions) -> Result<GuestRun, Error> {
    for tool in ["vng", "qemu-system-x86_64"] {
        if !on_path(tool) {
            return Err(Error::Usage(format!(
                "`{tool}` not found: booting kernel images needs virtme-ng and qemu (scripts/setup.sh installs them)"
            )));
        }
    }
    std::fs::File::open(image).map_err(|error| {
        Error::Usage(format!(
            "cannot read kernel image `{}`: {error}",
            image.display()
        ))
    })?;
    // The command goes to the guest in a file, not on its kernel command
    // line: virtme-ng passes `--exec` there, and x86 keeps 2,048 bytes of
    // it, so a long list of policies (long paths) would be cut and the
    // guest would never run it. virtme-ng shows the guest the host's
    // `/tmp` (under an overlay), so the file is written there.
    let script_file = GuestScript::write(command)?;
    let script = format!(
        "echo \"{BOOT_MARKER} $(uname -r)\"; sh {}; echo \"{STATUS_MARKER} $?\"",
        shell_quote(&script_file.path.display().to_string())
    );
    let mut vng = Command::new("vng");
    vng.arg("--run")
        .arg(image)
        .arg("--disable-microvm")
        .args(if options.kvm {
            None
        } else {
            Some("--disable-kvm")
        })
        .arg("--force-9p")
        .args(["--memory", &options.memory])
        .args(["--cpus", &options.cpus.to_string()])
        .args(["--cwd", "/"])
        .args(["--exec", &script])
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own: a timeout stops vng, its helpers and qemu.
        .process_group(0);
    let start = Instant::now();
    let mut child = vng
        .spawn()
        .map_err(|error| Error::Usage(format!("cannot run vng: {error}")))?;
    let booted = Arc::new(AtomicBool::new(false));
    let stdout = child.stdout.take().map(|pipe| {
        let booted = Arc::clone(&booted);
        std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if line.starts_with(BOOT_MARKER) {
                    booted.store(true, Ordering::SeqCst);
                }
                text.push_str(&line);
                text.push('\n');
            }
            text
        })
    });
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    });
    let mut boot = None;
    let mut stopped = None;
    let status = loop {
        if boot.is_none() && booted.load(Ordering::SeqCst) {
            boot = Some(start.elapsed());
        }
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) => {}
            Err(error) => return Err(Error::Usage(format!("waiting for vng: {error}"))),
        }
        let elapsed = start.elapsed();
        let why = if boot.is_none() && elapsed > options.boot_timeout {
            Some(format!(
                "the guest did not boot within {} s (POLC_VM_BOOT_TIMEOUT)",
                options.boot_timeout.as_secs()
            ))
        } else if elapsed > options.timeout {
            Some(format!(
                "the run took longer than {} s (POLC_VM_TIMEOUT)",
                options.timeout.as_secs()
            ))
        } else {
            None
        };
        if let Some(why) = why {
            stop_group(child.id());
            let _ = child.wait();
            stopped = Some(why);
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stdout = stdout.and_then(|t| t.join().ok()).unwrap_or_default();
    if boot.is_none() && stdout.lines().any(|l| l.starts_with(BOOT_MARKER)) {
        boot = Some(start.elapsed());
    }
    Ok(GuestRun {
        image: image.to_path_buf(),
        stdout,
        stderr: stderr.and_then(|t| t.join().ok()).unwrap_or_default(),
        status,
        boot,
        total: start.elapsed(),
        stopped,
    })
}

/// A shell script in the host's `/tmp`, which the guest sees too; removed
/// when dropped.
struct GuestScript {
    path: PathBuf,
}

impl GuestScript {
    fn write(command: &str) -> Result<GuestScript, Error> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut last_error = None;
        for _ in 0..8 {
            let path = PathBuf::from(format!(
                "/tmp/polrt-vm-{}-{}-{stamp:x}.sh",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            ));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(mut file) => {
                    let script = GuestScript { path };
                    file.write_all(format!("{command}\n").as_bytes())
                        .map_err(|error| {
                            Error::Usage(format!(
                                "cannot write `{}`: {error}",
                                script.path.display()
                            ))
                        })?;
                    return Ok(script);
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(Error::Usage(format!(
            "cannot create the guest's script in /tmp: {}",
            last_error.map_or("no name left".to_string(), |e| e.to_string())
        )))
    }
}

impl Drop for GuestScript {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Stops the process group `pgid`: SIGTERM, then SIGKILL.
fn stop_group(pgid: u32) {
    let Ok(pgid) = i32::try_from(pgid) else {
        return;
    };
    // SAFETY: kill has no memory preconditions; a negative pid names the
    // process group this module created for vng.
    unsafe {
        libc::kill(-pgid, libc::SIGTERM);
    }
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: as above.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// What `verify --kernel` found: one JSON object per kernel and program,
/// and what went wrong with a guest as a whole.
#[derive(Clone, Debug, Default)]
pub struct KernelsOutcome {
    pub lines: Vec<Value>,
    pub problems: Vec<String>,
}

impl KernelsOutcome {
    /// Whether every program passed on every kernel (with `require_all`,
    /// none left unverified). A program absent from a kernel (an optional
    /// attach point the kernel lacks, which polrt runs without) is not a
    /// failure.
    pub fn passed(&self, require_all: bool) -> bool {
        self.problems.is_empty()
            && self.lines.iter().all(|line| match line["result"].as_str() {
                Some("passed") | Some("absent") => true,
                Some("not_verifiable") => !require_all,
                _ => false,
            })
    }
}

/// `polrt verify --kernel IMAGE...`: verifies `policies` on each image.
pub fn verify_on_kernels(
    images: &[PathBuf],
    policies: &[PathBuf],
    full_log: bool,
    require_all: bool,
    options: &VmOptions,
) -> Result<KernelsOutcome, Error> {
    let exe = std::env::current_exe()
        .map_err(|error| Error::Usage(format!("cannot find polrt's own path: {error}")))?;
    let mut paths = Vec::new();
    for policy in policies {
        let path = std::fs::canonicalize(policy).map_err(|error| {
            Error::Usage(format!("cannot read `{}`: {error}", policy.display()))
        })?;
        paths.push(path);
    }
    let mut command = format!(
        "{} verify --format json",
        shell_quote(&exe.display().to_string())
    );
    if full_log {
        command.push_str(" --full-log");
    }
    if require_all {
        command.push_str(" --require-all");
    }
    command.push_str(" --");
    for path in &paths {
        command.push(' ');
        command.push_str(&shell_quote(&path.display().to_string()));
    }
    let runs: Vec<Result<GuestRun, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = images
            .iter()
            .map(|image| scope.spawn(|| run_in_guest(image, &command, options)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(Error::Usage("a guest's thread panicked".into())))
            })
            .collect()
    });
    let mut outcome = KernelsOutcome::default();
    for run in runs {
        let run = run?;
        collect_run(&run, paths.len(), &mut outcome);
    }
    Ok(outcome)
}

/// Reads one guest's JSON lines and status into `outcome`.
fn collect_run(run: &GuestRun, objects: usize, outcome: &mut KernelsOutcome) {
    let image = run.image.display().to_string();
    if let Some(why) = &run.stopped {
        let tail = run.stderr_tail(15);
        outcome.problems.push(if tail.is_empty() {
            format!("{image}: {why}")
        } else {
            format!("{image}: {why}; vng printed:\n{tail}")
        });
        return;
    }
    if !run.booted() {
        outcome.problems.push(format!(
            "{image}: the guest did not boot (vng exit status {:?}):\n{}",
            run.status,
            run.stderr_tail(15)
        ));
        return;
    }
    let mut lines = 0;
    for line in run.stdout.lines().filter(|l| l.starts_with('{')) {
        match serde_json::from_str::<Value>(line) {
            Ok(mut value) => {
                value["image"] = Value::String(image.clone());
                outcome.lines.push(value);
                lines += 1;
            }
            Err(error) => outcome.problems.push(format!(
                "{image}: an unreadable result line ({error}): {line}"
            )),
        }
    }
    let status = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(STATUS_MARKER))
        .and_then(|s| s.trim().parse::<i32>().ok());
    // A rejected program is a result line; a failure without one (an
    // unreadable object, no BTF in the guest) is a problem of its own.
    if status != Some(0) && (lines == 0 || objects == 0) {
        outcome.problems.push(format!(
            "{image}: polrt verify failed in the guest (status {status:?}):\n{}",
            run.stderr_tail(15)
        ));
    }
    if status.is_none() {
        outcome
            .problems
            .push(format!("{image}: the guest ended before polrt verify did"));
    }
}

/// One result line as text: kernel, object, program, result.
pub fn describe_line(line: &Value) -> String {
    let text = |key: &str| line[key].as_str().unwrap_or("?").to_string();
    let result = match line["result"].as_str() {
        Some("passed") => format!(
            "passed ({} insns verified)",
            line["verified_insns"]
                .as_u64()
                .map_or("?".to_string(), |n| n.to_string())
        ),
        Some("rejected") => format!("REJECTED: {}", text("reason")),
        Some("not_verifiable") => format!("not verifiable: {}", text("reason")),
        _ => "?".to_string(),
    };
    format!(
        "{:<24} {:<32} {:<28} {result}",
        text("kernel"),
        text("object"),
        text("program")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stdout: &str, status: Option<i32>) -> GuestRun {
        GuestRun {
            image: PathBuf::from("/boot/vmlinuz-test"),
            stdout: stdout.to_string(),
            stderr: "guest stderr\n".to_string(),
            status,
            boot: stdout
                .contains(BOOT_MARKER)
                .then(|| Duration::from_secs(20)),
            total: Duration::from_secs(30),
            stopped: None,
        }
    }

    #[test]
    fn result_lines_are_gathered_per_kernel() {
        let stdout = format!(
            "noise\n{BOOT_MARKER} 6.1.0-test\n{{\"kernel\":\"6.1.0-test\",\"program\":\"a\",\"result\":\"passed\"}}\n{{\"kernel\":\"6.1.0-test\",\"program\":\"b\",\"result\":\"not_verifiable\"}}\n{STATUS_MARKER} 0\n"
        );
        let mut outcome = KernelsOutcome::default();
        collect_run(&run(&stdout, Some(0)), 1, &mut outcome);
        assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
        assert_eq!(outcome.lines.len(), 2);
        assert_eq!(outcome.lines[0]["image"], "/boot/vmlinuz-test");
        assert!(outcome.passed(false));
        assert!(!outcome.passed(true), "not_verifiable fails --require-all");
    }

    #[test]
    fn a_guest_that_fails_or_never_boots_is_a_problem() {
        let mut outcome = KernelsOutcome::default();
        collect_run(&run("no marker\n", Some(1)), 1, &mut outcome);
        assert!(
            outcome.problems[0].contains("did not boot"),
            "{:?}",
            outcome.problems
        );
        let mut outcome = KernelsOutcome::default();
        let stdout = format!("{BOOT_MARKER} 6.12\n{STATUS_MARKER} 2\n");
        collect_run(&run(&stdout, Some(0)), 1, &mut outcome);
        assert!(
            outcome.problems[0].contains("status Some(2)"),
            "{:?}",
            outcome.problems
        );
        assert!(!outcome.passed(false));
        let rejected =
            format!("{BOOT_MARKER} 6.12\n{{\"result\":\"rejected\"}}\n{STATUS_MARKER} 1\n");
        let mut outcome = KernelsOutcome::default();
        collect_run(&run(&rejected, Some(0)), 1, &mut outcome);
        assert!(outcome.problems.is_empty());
        assert!(!outcome.passed(false));
    }

    #[test]
    fn quoting_for_the_guest_shell() {
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
