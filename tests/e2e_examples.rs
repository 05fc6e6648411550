//! Every example policy in `examples/`, run end to end on the real kernel
//! (root): one test per example runs `polrt run` on that exact file, scoped
//! with `--cgroup` to a test cgroup, plays the example's scenario with
//! workloads inside that cgroup, and checks both sides — what the example
//! refuses is refused (EPERM where the backend can refuse, SIGKILL where the
//! host falls back to a tracing backend) and reported with the right rule,
//! verdict, fields and message; what it allows still works and is not
//! reported (or is reported as an audit or a trace where the example says
//! so). `every_example_has_an_end_to_end_test` fails when an example has no
//! test here, so a new example cannot be added without one.
//!
//! Safe on a shared host: every rule is scoped to the test cgroup; workloads
//! that talk to "remote" addresses or listen on every address do it inside a
//! private network namespace whose loopback device holds those addresses
//! (no packet leaves the machine); workloads that write under `/etc` do it on
//! a tmpfs mounted in a private mount namespace (the host's files are never
//! modified); credential files are only read by test binaries, into
//! `/dev/null` or not at all (the reader is killed at `open` entry). Guards
//! detach polrt and remove cgroups and directories even when an assertion
//! fails.

#[path = "e2e/support.rs"]
mod support;

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use polc_tests::{kernel_tests_enabled, repo_root};
use serde_json::{json, Value};
use support::{
    become_user, copy_executable, resolved, spawn_in_then, thread_comm, Finished, Polrt, TempDir,
    TestCgroup, TestNetns,
};

/// The system Python (not a version-manager shim: its `comm` is `python3`
/// and its path is known).
const PYTHON: &str = "/usr/bin/python3";

/// `python3 -c BPF_CALL CMD`: one raw `bpf(CMD, zeroed attr)` call; exits 1
/// with "Operation not permitted" on EPERM, else prints `RESULT ERRNO`.
const BPF_CALL: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
attr = ctypes.create_string_buffer(128)
result = libc.syscall(321, int(sys.argv[1]), attr, 128)
err = ctypes.get_errno()
if result < 0 and err == 1:
    sys.exit("bpf: " + os.strerror(err))
print(result, err)
"#;

/// `python3 -c INIT_MODULE`: one raw `init_module` of a 64-byte image that
/// is no module; prints the errno the kernel answered with.
const INIT_MODULE: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
image = ctypes.create_string_buffer(64)
result = libc.syscall(175, image, 64, b"")
err = ctypes.get_errno()
if result < 0 and err == 1:
    sys.exit("init_module: " + os.strerror(err))
print(result, err)
"#;

/// `python3 -c OPEN CALL PATH FLAGS`: one raw `openat2(AT_FDCWD, PATH,
/// {FLAGS})` or `creat(PATH)` (CALL is `openat2` or `creat`); exits 1 with
/// the error, else prints "opened".
const OPEN: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
call, path, flags = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
if call == "openat2":
    how = (ctypes.c_uint64 * 3)(flags, 0o644 if flags & os.O_CREAT else 0, 0)
    fd = libc.syscall(437, -100, path, how, 24)
else:
    fd = libc.syscall(85, path, 0o644)
if fd < 0:
    sys.exit(call + ": " + os.strerror(ctypes.get_errno()))
os.close(fd)
print("opened")
"#;

/// `python3 -c BIND COMM ADDRESS PORT`: names itself COMM (when not empty),
/// binds a TCP socket to ADDRESS:PORT and listens; prints the bound port.
const BIND: &str = r#"
import ctypes, socket, sys
comm, address, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if comm:
    ctypes.CDLL(None).prctl(15, comm.encode(), 0, 0, 0)
family = socket.AF_INET6 if ":" in address else socket.AF_INET
sock = socket.socket(family, socket.SOCK_STREAM)
sock.bind((address, port))
sock.listen()
print(sock.getsockname()[1])
"#;

/// The example `examples/NAME.pol`.
fn example(name: &str) -> PathBuf {
    let path = repo_root().join("examples").join(format!("{name}.pol"));
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// What one workload did.
struct Outcome {
    status: ExitStatus,
    pid: u32,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn killed(&self) -> bool {
        self.status.signal() == Some(libc::SIGKILL)
    }

    /// Panics unless the workload exited 0.
    fn assert_success(&self, what: &str) {
        assert!(
            self.status.success(),
            "{what} must work: {}\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
    }
}

/// A pre-exec step of a workload (runs in the child between fork and exec:
/// async-signal-safe calls only).
type Step = Box<dyn FnMut() -> std::io::Result<()> + Send + Sync>;

/// Where and as whom workloads run: always in the test cgroup; optionally
/// in a test network namespace, as another user, or after a private mount
/// namespace is set up (before joining the cgroup, so the setup itself is
/// not seen by the policy).
#[derive(Clone, Copy)]
struct Workload<'a> {
    cgroup: &'a TestCgroup,
    netns: Option<&'a TestNetns>,
    user: Option<u32>,
    before_cgroup: Option<fn() -> Step>,
}

impl<'a> Workload<'a> {
    fn new(cgroup: &'a TestCgroup) -> Workload<'a> {
        Workload {
            cgroup,
            netns: None,
            user: None,
            before_cgroup: None,
        }
    }

    /// In `netns` (entered after joining the cgroup, before dropping root).
    fn in_netns(&self, netns: &'a TestNetns) -> Workload<'a> {
        Workload {
            netns: Some(netns),
            ..*self
        }
    }

    /// As user and group `uid` (no supplementary groups).
    fn as_user(&self, uid: u32) -> Workload<'a> {
        Workload {
            user: Some(uid),
            ..*self
        }
    }

    /// After `setup()` ran in the child, before it joins the cgroup.
    fn after(&self, setup: fn() -> Step) -> Workload<'a> {
        Workload {
            before_cgroup: Some(setup),
            ..*self
        }
    }

    /// Runs `command` to completion with no input, collecting its output.
    fn run(&self, command: &mut Command) -> Outcome {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(setup) = self.before_cgroup {
            // SAFETY: steps only make async-signal-safe calls.
            unsafe { command.pre_exec(setup()) };
        }
        let mut enter = self.netns.map(TestNetns::enter);
        let user = self.user;
        let child = spawn_in_then(self.cgroup, command, move || {
            if let Some(enter) = enter.as_mut() {
                enter()?;
            }
            if let Some(uid) = user {
                become_user(uid, uid)?;
            }
            Ok(())
        });
        let pid = child.id();
        let output = child.wait_with_output().expect("wait for workload");
        Outcome {
            status: output.status,
            pid,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// A pre-exec step: a private mount namespace (every mount private, so
/// nothing propagates to the host) with a fresh tmpfs over `dir`, holding
/// `files` (empty, mode 0600).
fn private_tmpfs(dir: &str, files: &[&str]) -> Step {
    let dir = CString::new(dir).expect("path");
    let files: Vec<CString> = files
        .iter()
        .map(|f| CString::new(*f).expect("path"))
        .collect();
    Box::new(move || {
        // SAFETY: unshare/mount/open/close with NUL-terminated paths made
        // before the fork; a failure stops before anything is mounted over
        // a shared mount.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) != 0
                || libc::mount(
                    c"tmpfs".as_ptr(),
                    dir.as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    c"mode=0755".as_ptr().cast(),
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            for file in &files {
                let fd = libc::open(
                    file.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o600,
                );
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
        }
        Ok(())
    })
}

/// Stops polrt and checks what every test expects of a clean run: exit 0,
/// nothing lost, no undecodable record.
fn stop(polrt: Polrt) -> Finished {
    let finished = polrt.stop_ok();
    assert_eq!(finished.summary()["lost"], 0, "{}", finished.summary());
    assert!(
        finished.of_type("error").is_empty(),
        "{:?}",
        finished.of_type("error")
    );
    finished
}

/// The backend polrt chose for `hook`.
fn backend_of(finished: &Finished, hook: &str) -> String {
    finished
        .of_type("backend")
        .into_iter()
        .find(|b| b["hook"] == hook)
        .and_then(|b| b["backend"].as_str())
        .unwrap_or_else(|| panic!("no backend record for {hook}"))
        .to_string()
}

/// Whether `deny` on this backend refuses the operation itself (EPERM)
/// rather than killing the task.
fn refuses(backend: &str) -> bool {
    matches!(backend, "lsm" | "cgroup")
}

/// Panics unless `outcome` was refused the way `hook`'s backend enforces a
/// `deny`: EPERM (`eperm` in its stderr) or SIGKILL.
fn assert_denied(finished: &Finished, hook: &str, outcome: &Outcome, eperm: &str) {
    let backend = backend_of(finished, hook);
    if refuses(&backend) {
        assert!(
            !outcome.status.success() && outcome.stderr.contains(eperm),
            "{hook} ({backend}): the operation must fail with EPERM: {}\n{}",
            outcome.status,
            outcome.stderr
        );
    } else {
        assert!(
            outcome.killed(),
            "{hook} ({backend}): the task must be killed: {}\n{}",
            outcome.status,
            outcome.stderr
        );
    }
}

/// The events of `rule`.
fn events_of<'a>(finished: &'a Finished, rule: &str) -> Vec<&'a Value> {
    finished
        .events()
        .into_iter()
        .filter(|e| e["rule"] == rule)
        .collect()
}

/// The one event of `rule` for process `pid`.
fn event_of<'a>(finished: &'a Finished, rule: &str, pid: u32) -> &'a Value {
    let events: Vec<&Value> = events_of(finished, rule)
        .into_iter()
        .filter(|e| e["pid"] == pid)
        .collect();
    assert_eq!(
        events.len(),
        1,
        "expected one {rule} event of pid {pid}, got {events:?}\nall events: {:?}",
        finished.events()
    );
    events[0]
}

/// Panics unless nothing but traces reported process `pid`.
fn assert_not_reported(finished: &Finished, pid: u32, what: &str) {
    let reports: Vec<&Value> = finished
        .events()
        .into_iter()
        .filter(|e| e["pid"] == pid && e["verdict"] != "trace")
        .collect();
    assert!(
        reports.is_empty(),
        "{what} must not be reported: {reports:?}"
    );
}

/// Panics unless `event` is `rule`'s on `hook` with this action, verdict,
/// exactly these captured fields and this rendered message, from the
/// backend polrt chose for the hook.
fn assert_event(
    finished: &Finished,
    event: &Value,
    (rule, hook, action, verdict): (&str, &str, &str, &str),
    fields: Value,
    message: &str,
) {
    assert_eq!(event["rule"], rule, "{event}");
    assert_eq!(event["hook"], hook, "{event}");
    assert_eq!(event["action"], action, "{event}");
    assert_eq!(event["verdict"], verdict, "{event}");
    assert_eq!(
        event["backend"],
        backend_of(finished, hook).as_str(),
        "{event}"
    );
    assert_eq!(event["fields"], fields, "{event}");
    assert_eq!(event["message"], message, "{event}");
}

/// `bash -c 'exec 3<>/dev/tcp/HOST/PORT'`: one TCP connect.
fn connect(bash: &Path, host: &str, port: u16) -> Command {
    let mut command = Command::new(bash);
    command.args(["-c", &format!("exec 3<>/dev/tcp/{host}/{port}")]);
    command
}

#[test]
fn every_example_has_an_end_to_end_test() {
    let source = include_str!("e2e_examples.rs");
    let mut examples = BTreeSet::new();
    for entry in fs::read_dir(repo_root().join("examples")).expect("examples/") {
        let path = entry.expect("examples/ entry").path();
        if path.extension().is_some_and(|e| e == "pol") {
            let stem = path.file_stem().expect("stem").to_string_lossy();
            examples.insert(stem.into_owned());
        }
    }
    assert!(!examples.is_empty(), "no examples");
    let tests: BTreeSet<String> = source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("fn example_"))
        .filter_map(|rest| rest.strip_suffix("() {"))
        .map(str::to_string)
        .collect();
    let untested: Vec<&String> = examples.difference(&tests).collect();
    assert!(
        untested.is_empty(),
        "examples without an end-to-end test (add `fn example_NAME()` to tests/e2e_examples.rs): {untested:?}"
    );
    let orphans: Vec<&String> = tests.difference(&examples).collect();
    assert!(
        orphans.is_empty(),
        "end-to-end tests of examples that do not exist: {orphans:?}"
    );
    for name in &tests {
        assert!(
            source.contains(&format!("example(\"{name}\")")),
            "example_{name} must run examples/{name}.pol"
        );
    }
}

#[test]
fn example_credential_files() {
    if !kernel_tests_enabled("example_credential_files") {
        return;
    }
    let work = TempDir::new("ex-credentials");
    let cgroup = TestCgroup::new("ex-credentials");
    let sshd = copy_executable("/bin/cat", &work, "sshd");
    let root = Workload::new(&cgroup);
    let polrt = Polrt::start(&example("credential_files"), &cgroup, &work, &[]);

    // Refused: cat reads the shadow file, and a host key (a file made on a
    // private tmpfs over /etc/ssh: this host has none).
    let shadow = root.run(Command::new("/bin/cat").arg("/etc/shadow"));
    // openat2 is an open too (the tracepoint fallback once missed it).
    let shadow_openat2 =
        root.run(Command::new(PYTHON).args(["-c", OPEN, "openat2", "/etc/shadow", "0"]));
    let host_key = root
        .after(|| private_tmpfs("/etc/ssh", &["/etc/ssh/ssh_host_ed25519_key"]))
        .run(Command::new("/bin/cat").arg("/etc/ssh/ssh_host_ed25519_key"));
    // Allowed: the tool whose job it is, and an ordinary file.
    let by_sshd = root.run(Command::new(&sshd).arg("/etc/shadow"));
    let passwd_file = root.run(Command::new("/bin/cat").arg("/etc/passwd"));
    // Audited: a write under /etc/pam.d (on a private tmpfs), and not a read.
    let pam_write =
        root.after(|| private_tmpfs("/etc/pam.d", &[]))
            .run(Command::new("/bin/sh").args([
                "-c",
                "echo polc > /etc/pam.d/polc-e2e && cat /etc/pam.d/polc-e2e",
            ]));
    let pam_read = root.run(Command::new("/bin/cat").arg("/etc/pam.d/other"));
    // Audited: a private key under an .ssh directory (made in the test's
    // own directory); its public half is not.
    let ssh_dir = work.path.join("home/.ssh");
    fs::create_dir_all(&ssh_dir).expect("create .ssh");
    let private_key = ssh_dir.join("id_ed25519");
    let public_key = ssh_dir.join("id_ed25519.pub");
    fs::write(&private_key, "key\n").expect("write the private key");
    fs::write(&public_key, "pub\n").expect("write the public key");
    let key_read = root.run(Command::new("/bin/cat").arg(&private_key));
    let pub_read = root.run(Command::new("/bin/cat").arg(&public_key));
    // The same through openat2 and creat.
    let pam_writes: Vec<(Outcome, &str)> = [
        ("openat2", "/etc/pam.d/polc-e2e-openat2"),
        ("creat", "/etc/pam.d/polc-e2e-creat"),
    ]
    .into_iter()
    .map(|(call, path)| {
        let flags = (libc::O_WRONLY | libc::O_CREAT).to_string();
        let outcome = root
            .after(|| private_tmpfs("/etc/pam.d", &[]))
            .run(Command::new(PYTHON).args(["-c", OPEN, call, path, &flags]));
        (outcome, path)
    })
    .collect();
    let finished = stop(polrt);

    assert_denied(&finished, "file.open", &shadow, "Operation not permitted");
    assert_event(
        &finished,
        event_of(&finished, "credential_read", shadow.pid),
        ("credential_read", "file.open", "deny", "deny"),
        json!({"proc.comm": "cat", "proc.uid": 0, "proc.pid": shadow.pid, "file.path": "/etc/shadow"}),
        &format!("cat (uid 0, pid {}) opened /etc/shadow", shadow.pid),
    );
    assert_denied(
        &finished,
        "file.open",
        &shadow_openat2,
        "Operation not permitted",
    );
    assert_event(
        &finished,
        event_of(&finished, "credential_read", shadow_openat2.pid),
        ("credential_read", "file.open", "deny", "deny"),
        json!({"proc.comm": "python3", "proc.uid": 0, "proc.pid": shadow_openat2.pid,
               "file.path": "/etc/shadow"}),
        &format!(
            "python3 (uid 0, pid {}) opened /etc/shadow",
            shadow_openat2.pid
        ),
    );
    assert_denied(&finished, "file.open", &host_key, "Operation not permitted");
    assert_event(
        &finished,
        event_of(&finished, "credential_read", host_key.pid),
        ("credential_read", "file.open", "deny", "deny"),
        json!({"proc.comm": "cat", "proc.uid": 0, "proc.pid": host_key.pid,
               "file.path": "/etc/ssh/ssh_host_ed25519_key"}),
        &format!(
            "cat (uid 0, pid {}) opened /etc/ssh/ssh_host_ed25519_key",
            host_key.pid
        ),
    );

    by_sshd.assert_success("sshd reading /etc/shadow");
    assert_not_reported(&finished, by_sshd.pid, "sshd reading /etc/shadow");
    passwd_file.assert_success("cat /etc/passwd");
    assert_not_reported(&finished, passwd_file.pid, "cat /etc/passwd");

    pam_write.assert_success("a write under /etc/pam.d (audit only)");
    assert_eq!(pam_write.stdout, "polc\n");
    assert!(
        !Path::new("/etc/pam.d/polc-e2e").exists(),
        "the host's /etc/pam.d must be untouched"
    );
    assert_event(
        &finished,
        event_of(&finished, "pam_change", pam_write.pid),
        ("pam_change", "file.open", "audit", "audit"),
        json!({"proc.comm": "sh", "file.path": "/etc/pam.d/polc-e2e"}),
        "sh opened /etc/pam.d/polc-e2e for writing",
    );
    for (outcome, path) in &pam_writes {
        outcome.assert_success(path);
        assert_event(
            &finished,
            event_of(&finished, "pam_change", outcome.pid),
            ("pam_change", "file.open", "audit", "audit"),
            json!({"proc.comm": "python3", "file.path": path}),
            &format!("python3 opened {path} for writing"),
        );
    }
    pam_read.assert_success("cat /etc/pam.d/other");
    assert_not_reported(&finished, pam_read.pid, "reading /etc/pam.d/other");

    key_read.assert_success("cat of a private key (audit only)");
    let key_path = private_key.display().to_string();
    assert_event(
        &finished,
        event_of(&finished, "private_key_read", key_read.pid),
        ("private_key_read", "file.open", "audit", "audit"),
        json!({"proc.comm": "cat", "proc.uid": 0, "file.path": key_path}),
        &format!("cat (uid 0) opened the private key {key_path}"),
    );
    pub_read.assert_success("cat of a public key");
    assert_not_reported(&finished, pub_read.pid, "cat of a public key");

    assert_eq!(finished.matches("credential_read"), 3);
    assert_eq!(finished.matches("credential_read_by_tool"), 1);
    assert_eq!(finished.matches("pam_change"), 3);
    assert_eq!(finished.matches("private_key_read"), 1);
}

#[test]
fn example_egress() {
    if !kernel_tests_enabled("example_egress") {
        return;
    }
    let work = TempDir::new("ex-egress");
    let cgroup = TestCgroup::new("ex-egress");
    // 203.0.113.7 and 2001:db8::25 stand for hosts on the internet, 10.1.2.3
    // for one inside: all on the loopback device of a private namespace.
    let netns = TestNetns::new(&["203.0.113.7/32", "10.1.2.3/32", "2001:db8::25/128"]);
    let _listeners: Vec<_> = [25, 465, 587, 443, 23]
        .iter()
        .map(|port| netns.listen(&format!("[::]:{port}")))
        .collect();
    let bash = PathBuf::from("/bin/bash");
    let postfix = copy_executable("/bin/bash", &work, "postfix");
    let net = Workload::new(&cgroup).in_netns(&netns);
    let polrt = Polrt::start(&example("egress"), &cgroup, &work, &[]);

    // Refused: mail and submission ports outside the private ranges, over
    // IPv4, IPv6, and an IPv6 socket talking IPv4.
    let smtp = net.run(&mut connect(&bash, "203.0.113.7", 25));
    let submission6 = net.run(&mut connect(&bash, "2001:db8::25", 587));
    let mapped = net.run(&mut connect(&bash, "::ffff:203.0.113.7", 465));
    // Allowed: inside, the relay, other ports.
    let inside = net.run(&mut connect(&bash, "10.1.2.3", 25));
    let relay = net.run(&mut connect(&postfix, "203.0.113.7", 25));
    let https = net.run(&mut connect(&bash, "203.0.113.7", 443));
    // Audited: telnet over IPv4 (and only over IPv4).
    let telnet = net.run(&mut connect(&bash, "203.0.113.7", 23));
    let telnet6 = net.run(&mut connect(&bash, "2001:db8::25", 23));
    let finished = stop(polrt);

    for (outcome, daddr, dport) in [
        (&smtp, "203.0.113.7", 25),
        (&submission6, "2001:db8::25", 587),
        (&mapped, "203.0.113.7", 465),
    ] {
        assert_denied(&finished, "net.connect", outcome, "Operation not permitted");
        assert_event(
            &finished,
            event_of(&finished, "blocked_port_out", outcome.pid),
            ("blocked_port_out", "net.connect", "deny", "deny"),
            json!({"proc.comm": "bash", "proc.pid": outcome.pid,
                   "net.daddr": daddr, "net.dport": dport}),
            &format!(
                "bash (pid {}) connecting to {daddr} port {dport}",
                outcome.pid
            ),
        );
    }
    for (outcome, what) in [
        (&inside, "smtp to a private address"),
        (&relay, "the relay"),
        (&https, "https"),
        (&telnet6, "telnet over IPv6"),
    ] {
        outcome.assert_success(what);
        assert_not_reported(&finished, outcome.pid, what);
    }
    telnet.assert_success("telnet (audit only)");
    assert_event(
        &finished,
        event_of(&finished, "telnet_out", telnet.pid),
        ("telnet_out", "net.connect", "audit", "audit"),
        json!({"proc.comm": "bash", "net.daddr": "203.0.113.7"}),
        "telnet from bash to 203.0.113.7",
    );

    assert_eq!(finished.matches("relay_out"), 1);
    assert_eq!(finished.matches("blocked_port_out"), 3);
    assert_eq!(finished.matches("telnet_out"), 1);
}

#[test]
fn example_exec_trace() {
    if !kernel_tests_enabled("example_exec_trace") {
        return;
    }
    let work = TempDir::new("ex-exec-trace");
    let cgroup = TestCgroup::new("ex-exec-trace");
    // World-writable places, named literally (not through TMPDIR).
    let tmp = TempDir::under(Path::new("/tmp"), "ex-exec-trace");
    let shm = TempDir::under(Path::new("/dev/shm"), "ex-exec-trace");
    let from_tmp = copy_executable("/bin/true", &tmp, "payload");
    let from_shm = copy_executable("/bin/true", &shm, "payload");
    let root = Workload::new(&cgroup);
    let comm = thread_comm();
    let polrt = Polrt::start(&example("exec_trace"), &cgroup, &work, &[]);

    let plain = root.run(&mut Command::new("/bin/true"));
    let script = format!("{}; {}; :", from_tmp.display(), from_shm.display());
    let dropped = root
        .as_user(65534)
        .run(Command::new("/bin/sh").args(["-c", &script]));
    let finished = stop(polrt);

    plain.assert_success("/bin/true");
    dropped.assert_success("programs in /tmp and /dev/shm");
    let traced = |pid: u32, path: &str, ppid: u32, comm: &str| {
        assert_event(
            &finished,
            event_of(&finished, "execs", pid),
            ("execs", "exec", "trace", "trace"),
            json!({"proc.pid": pid, "proc.ppid": ppid, "proc.comm": comm, "exec.path": path}),
            "",
        );
    };
    traced(plain.pid, &resolved("/bin/true"), std::process::id(), &comm);
    traced(dropped.pid, &resolved("/bin/sh"), std::process::id(), &comm);
    assert!(
        events_of(&finished, "exec_from_tmp")
            .iter()
            .all(|e| e["pid"] != plain.pid && e["pid"] != dropped.pid),
        "/bin/true and /bin/sh are not in a world-writable place"
    );
    for payload in [&from_tmp, &from_shm] {
        let path = payload.display().to_string();
        let pid = events_of(&finished, "execs")
            .iter()
            .find(|e| e["fields"]["exec.path"] == path.as_str())
            .and_then(|e| e["pid"].as_u64())
            .unwrap_or_else(|| panic!("no exec trace of {path}")) as u32;
        traced(pid, &path, dropped.pid, "sh");
        assert_event(
            &finished,
            event_of(&finished, "exec_from_tmp", pid),
            ("exec_from_tmp", "exec", "trace", "trace"),
            json!({"proc.pid": pid, "proc.uid": 65534, "proc.parent.comm": "sh",
                   "exec.path": path}),
            "",
        );
    }

    assert_eq!(finished.matches("execs"), 4, "{:?}", finished.events());
    assert_eq!(finished.matches("exec_from_tmp"), 2);
}

#[test]
fn example_listeners() {
    if !kernel_tests_enabled("example_listeners") {
        return;
    }
    let work = TempDir::new("ex-listeners");
    let cgroup = TestCgroup::new("ex-listeners");
    // Binds to every address happen in a private network namespace.
    let netns = TestNetns::new(&[]);
    let net = Workload::new(&cgroup).in_netns(&netns);
    let bind = |workload: Workload, comm: &str, address: &str, port: u16| {
        workload.run(Command::new(PYTHON).args(["-c", BIND, comm, address, &port.to_string()]))
    };
    let polrt = Polrt::start(&example("listeners"), &cgroup, &work, &[]);

    // Allowed: an approved daemon anywhere, loopback, an ephemeral port.
    let sshd = bind(net, "sshd", "0.0.0.0", 22);
    let dev_server = bind(net, "", "127.0.0.1", 8000);
    let mapped_loopback = bind(net, "ncat", "::ffff:127.0.0.1", 9000);
    let ephemeral = bind(net, "", "0.0.0.0", 0);
    // Refused: a fixed port on every address, IPv4 (as a user) and IPv6.
    let backdoor = bind(net.as_user(1000), "", "0.0.0.0", 4444);
    let backdoor6 = bind(net, "ncat", "::", 31337);
    let finished = stop(polrt);

    for (outcome, what) in [
        (&sshd, "sshd on 0.0.0.0:22"),
        (&dev_server, "a dev server on 127.0.0.1:8000"),
        (&mapped_loopback, "a listener on ::ffff:127.0.0.1"),
        (&ephemeral, "an ephemeral port"),
    ] {
        outcome.assert_success(what);
        assert_not_reported(&finished, outcome.pid, what);
    }
    assert_eq!(sshd.stdout.trim(), "22");
    assert_ne!(ephemeral.stdout.trim(), "0");

    for (outcome, comm, uid, saddr, sport) in [
        (&backdoor, "python3", 1000, "0.0.0.0", 4444),
        (&backdoor6, "ncat", 0, "::", 31337),
    ] {
        assert_denied(&finished, "net.bind", outcome, "PermissionError");
        assert_event(
            &finished,
            event_of(&finished, "unexpected_listener", outcome.pid),
            ("unexpected_listener", "net.bind", "deny", "deny"),
            json!({"proc.comm": comm, "proc.pid": outcome.pid, "proc.uid": uid,
                   "net.saddr": saddr, "net.sport": sport}),
            &format!(
                "{comm} (pid {}, uid {uid}) may not listen on {saddr} port {sport}",
                outcome.pid
            ),
        );
    }

    assert_eq!(finished.matches("approved_daemon"), 1);
    assert_eq!(finished.matches("ephemeral_or_local"), 3);
    assert_eq!(finished.matches("unexpected_listener"), 2);
}

/// A file that is no kernel module, for loaders to try.
fn junk_module(work: &TempDir) -> PathBuf {
    let path = work.path.join("polc-e2e.ko");
    fs::write(&path, [0u8; 64]).expect("write junk module");
    path
}

/// Panics unless a module load was let through to the kernel: the loader
/// was not killed and not refused with EPERM; the kernel itself then
/// refused the junk (no module support on this host: ENOSYS; elsewhere: not
/// a module).
fn assert_load_let_through(outcome: &Outcome, what: &str) {
    assert!(
        !outcome.killed() && !outcome.stderr.contains("Operation not permitted"),
        "{what} must reach the kernel: {}\n{}",
        outcome.status,
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("could not insert module"),
        "{what}: {}",
        outcome.stderr
    );
}

#[test]
fn example_module_load() {
    if !kernel_tests_enabled("example_module_load") {
        return;
    }
    let work = TempDir::new("ex-module");
    let cgroup = TestCgroup::new("ex-module");
    let module = junk_module(&work);
    // kmod is a multi-call binary: a dropped copy named insmod acts as one.
    let dropped_dir = TempDir::new("ex-module-dropped");
    let dropped_insmod = copy_executable("/bin/kmod", &dropped_dir, "insmod");
    let root = Workload::new(&cgroup);
    let polrt = Polrt::start(&example("module_load"), &cgroup, &work, &[]);

    // Refused: a dropped loader (finit_module), an approved loader run by a
    // user, and a raw init_module.
    let dropped = root.run(Command::new(&dropped_insmod).arg(&module));
    let by_user = root
        .as_user(65534)
        .run(Command::new("/usr/sbin/insmod").arg(&module));
    let raw = root.run(Command::new(PYTHON).args(["-c", INIT_MODULE]));
    // Allowed: the approved loader as root.
    let approved = root.run(Command::new("/usr/sbin/insmod").arg(&module));
    let finished = stop(polrt);

    let dropped_insmod = dropped_insmod.display().to_string();
    let (insmod, python) = (resolved("/usr/sbin/insmod"), resolved(PYTHON));
    for (outcome, exe, comm, uid) in [
        (&dropped, dropped_insmod.as_str(), "insmod", 0),
        (&by_user, insmod.as_str(), "insmod", 65534),
        (&raw, python.as_str(), "python3", 0),
    ] {
        assert_denied(&finished, "module.load", outcome, "Operation not permitted");
        assert_event(
            &finished,
            event_of(&finished, "block_module_load", outcome.pid),
            ("block_module_load", "module.load", "deny", "deny"),
            json!({"proc.exe": exe, "proc.comm": comm, "proc.pid": outcome.pid,
                   "proc.uid": uid}),
            &format!(
                "module load by {exe} ({comm}, pid {}, uid {uid}) blocked",
                outcome.pid
            ),
        );
    }
    assert_load_let_through(&approved, "modprobe's insmod as root");
    assert_not_reported(&finished, approved.pid, "an approved module load");

    assert_eq!(finished.matches("block_module_load"), 3);
    assert!(finished.matches("approved_module_load") >= 1);
}

#[test]
fn example_overview() {
    if !kernel_tests_enabled("example_overview") {
        return;
    }
    let work = TempDir::new("ex-overview");
    let cgroup = TestCgroup::new("ex-overview");
    // 198.51.100.4 stands for a mail server on the internet, 10.1.2.3 for
    // one inside: on the loopback device of a private namespace.
    let netns = TestNetns::new(&["198.51.100.4/32", "10.1.2.3/32"]);
    let _listener = netns.listen("[::]:25");
    let module = junk_module(&work);
    let passwd = copy_executable("/bin/cat", &work, "passwd");
    let bash = PathBuf::from("/bin/bash");
    let root = Workload::new(&cgroup);
    let comm = thread_comm();
    let polrt = Polrt::start(&example("overview"), &cgroup, &work, &[]);

    // module.load: anything but the listed loaders is refused.
    let raw_load = root.run(Command::new(PYTHON).args(["-c", INIT_MODULE]));
    // kmod itself, run as insmod (argv[0]), as the insmod symlink does.
    let kmod_load = root.run(Command::new("/usr/bin/kmod").arg0("insmod").arg(&module));
    // file.open: the shadow file, except by passwd (the executable: a copy
    // of cat named passwd is refused like cat).
    let shadow = root.run(Command::new("/bin/cat").arg("/etc/shadow"));
    let by_passwd = root.run(Command::new(&passwd).arg("/etc/shadow"));
    // exec: a user's shell is audited, root's is not.
    let user_shell = root
        .as_user(1000)
        .run(Command::new("/bin/sh").args(["-c", ":"]));
    let root_shell = root.run(Command::new("/bin/bash").args(["-c", ":"]));
    // net.connect: SMTP outside the private ranges kills the sender.
    let smtp = root
        .in_netns(&netns)
        .run(&mut connect(&bash, "198.51.100.4", 25));
    let smtp_inside = root
        .in_netns(&netns)
        .run(&mut connect(&bash, "10.1.2.3", 25));
    let finished = stop(polrt);

    assert_denied(
        &finished,
        "module.load",
        &raw_load,
        "Operation not permitted",
    );
    assert_event(
        &finished,
        event_of(&finished, "block_module_load", raw_load.pid),
        ("block_module_load", "module.load", "deny", "deny"),
        json!({"proc.comm": "python3", "proc.pid": raw_load.pid}),
        &format!(
            "kernel module load by python3 (pid {}) blocked",
            raw_load.pid
        ),
    );
    assert_load_let_through(&kmod_load, "kmod insmod");
    assert_not_reported(&finished, kmod_load.pid, "a module load by kmod");

    assert_denied(&finished, "file.open", &shadow, "Operation not permitted");
    assert_event(
        &finished,
        event_of(&finished, "shadow_read", shadow.pid),
        ("shadow_read", "file.open", "deny", "deny"),
        json!({"proc.comm": "cat", "file.path": "/etc/shadow"}),
        "cat opened /etc/shadow",
    );
    assert_denied(
        &finished,
        "file.open",
        &by_passwd,
        "Operation not permitted",
    );
    assert_event(
        &finished,
        event_of(&finished, "shadow_read", by_passwd.pid),
        ("shadow_read", "file.open", "deny", "deny"),
        json!({"proc.comm": "passwd", "file.path": "/etc/shadow"}),
        "passwd opened /etc/shadow",
    );

    user_shell.assert_success("a user's shell (audit only)");
    assert_event(
        &finished,
        event_of(&finished, "shell_spawned", user_shell.pid),
        ("shell_spawned", "exec", "audit", "audit"),
        json!({"exec.path": resolved("/bin/sh"), "proc.uid": 1000}),
        &format!("shell {} started by uid 1000", resolved("/bin/sh")),
    );
    root_shell.assert_success("root's shell");
    assert_not_reported(&finished, root_shell.pid, "root's shell");

    assert!(
        smtp.killed(),
        "kill: SIGKILL on every backend: {}",
        smtp.status
    );
    assert_event(
        &finished,
        event_of(&finished, "smtp_out", smtp.pid),
        ("smtp_out", "net.connect", "kill", "kill"),
        json!({"proc.comm": "bash"}),
        "outbound SMTP from bash",
    );
    smtp_inside.assert_success("SMTP to a private address");
    assert_not_reported(&finished, smtp_inside.pid, "SMTP to a private address");

    // The trace saw every exec in the cgroup, whatever the rules decided.
    for (outcome, path) in [
        (&raw_load, PYTHON),
        (&kmod_load, "/usr/bin/kmod"),
        (&shadow, "/bin/cat"),
        (&user_shell, "/bin/sh"),
        (&root_shell, "/bin/bash"),
        (&smtp, "/bin/bash"),
    ] {
        let path = resolved(path);
        assert_event(
            &finished,
            event_of(&finished, "execs", outcome.pid),
            ("execs", "exec", "trace", "trace"),
            json!({"proc.pid": outcome.pid, "proc.ppid": std::process::id(),
                   "proc.comm": comm.as_str(), "exec.path": path}),
            "",
        );
    }
    assert_eq!(finished.matches("execs"), 8);

    assert_eq!(finished.matches("block_module_load"), 1);
    assert_eq!(finished.matches("shadow_read"), 2);
    assert_eq!(finished.matches("shell_spawned"), 1);
    assert_eq!(finished.matches("smtp_out"), 1);
}

#[test]
fn example_shells() {
    if !kernel_tests_enabled("example_shells") {
        return;
    }
    let work = TempDir::new("ex-shells");
    let cgroup = TestCgroup::new("ex-shells");
    // A network service (a bash named nginx) that runs a shell command.
    let nginx = copy_executable("/bin/bash", &work, "nginx");
    let root = Workload::new(&cgroup);
    let user = root.as_user(1000);
    let comm = thread_comm();
    let polrt = Polrt::start(&example("shells"), &cgroup, &work, &[]);

    let web_shell = root
        .as_user(33)
        .run(Command::new(&nginx).args(["-c", "/bin/sh -c 'echo pwned'; echo \"status=$?\""]));
    let bash_by_user = user.run(Command::new("/bin/bash").args(["-c", ":"]));
    let dash_by_user = user.run(Command::new("/usr/bin/dash").args(["-c", ":"]));
    let bash_by_root = root.run(Command::new("/bin/bash").args(["-c", ":"]));
    let ls_by_user = user.run(Command::new("/usr/bin/ls").arg("/"));
    let finished = stop(polrt);

    // The shell nginx started was killed before it ran an instruction; the
    // service itself carries on.
    web_shell.assert_success("nginx itself");
    assert_eq!(
        web_shell.stdout, "status=137\n",
        "the shell must die of SIGKILL before it prints: {}",
        web_shell.stderr
    );
    let kills = events_of(&finished, "shell_from_service");
    assert_eq!(kills.len(), 1, "{kills:?}");
    let shell_pid = kills[0]["pid"].as_u64().expect("pid") as u32;
    assert_ne!(shell_pid, web_shell.pid, "the shell, not nginx, is killed");
    assert_eq!(
        kills[0]["comm"], "nginx",
        "the forked child, before its exec"
    );
    assert_event(
        &finished,
        kills[0],
        ("shell_from_service", "exec", "kill", "kill"),
        json!({"proc.parent.comm": "nginx", "exec.path": resolved("/bin/sh"), "proc.uid": 33}),
        &format!("nginx spawned {} (uid 33)", resolved("/bin/sh")),
    );
    assert_not_reported(&finished, web_shell.pid, "nginx's own exec");

    for (outcome, path) in [
        (&bash_by_user, "/bin/bash"),
        (&dash_by_user, "/usr/bin/dash"),
    ] {
        outcome.assert_success(path);
        let path = resolved(path);
        assert_event(
            &finished,
            event_of(&finished, "shell_by_user", outcome.pid),
            ("shell_by_user", "exec", "audit", "audit"),
            json!({"exec.path": path, "proc.uid": 1000, "proc.comm": comm.as_str()}),
            &format!("shell {path} started by uid 1000 from {comm}"),
        );
    }
    bash_by_root.assert_success("root's shell");
    assert_not_reported(&finished, bash_by_root.pid, "root's shell");
    ls_by_user.assert_success("ls");
    assert_not_reported(&finished, ls_by_user.pid, "ls by a user");

    assert_eq!(finished.matches("shell_from_service"), 1);
    assert_eq!(finished.matches("shell_by_user"), 2);
}

#[test]
fn example_tamper() {
    if !kernel_tests_enabled("example_tamper") {
        return;
    }
    let work = TempDir::new("ex-tamper");
    let cgroup = TestCgroup::new("ex-tamper");
    let loader = copy_executable("/usr/sbin/bpftool", &work, "loader");
    let root = Workload::new(&cgroup);
    let bpf = |workload: Workload, cmd: u32| {
        workload.run(Command::new(PYTHON).args(["-c", BPF_CALL, &cmd.to_string()]))
    };
    let polrt = Polrt::start(&example("tamper"), &cgroup, &work, &[]);

    // Refused: program loads and link creation by anything but the approved
    // tools as root (BPF_PROG_LOAD 5, BPF_LINK_CREATE 28).
    let raw_load = bpf(root, 5);
    let user_link = bpf(root.as_user(65534), 28);
    let dropped = root.run(Command::new(&loader).args(["feature", "probe", "kernel"]));
    // Allowed: reading a map is no load; bpftool as root may load.
    let lookup = bpf(root, 1);
    let bpftool = root.run(Command::new("/usr/sbin/bpftool").args(["feature", "probe", "kernel"]));
    let finished = stop(polrt);

    let python = resolved(PYTHON);
    for (outcome, cmd, exe, comm, uid) in [
        (&raw_load, 5, python.as_str(), "python3", 0),
        (&user_link, 28, python.as_str(), "python3", 65534),
    ] {
        assert_denied(&finished, "bpf", outcome, "Operation not permitted");
        assert_event(
            &finished,
            event_of(&finished, "foreign_bpf_load", outcome.pid),
            ("foreign_bpf_load", "bpf", "deny", "deny"),
            json!({"bpf.cmd": cmd, "proc.exe": exe, "proc.comm": comm,
                   "proc.pid": outcome.pid, "proc.uid": uid}),
            &format!(
                "bpf command {cmd} by {exe} ({comm}, pid {}, uid {uid}) refused",
                outcome.pid
            ),
        );
    }
    // The dropped bpftool dies at its first load (which command comes first
    // is bpftool's business).
    assert_denied(&finished, "bpf", &dropped, "Operation not permitted");
    let event = event_of(&finished, "foreign_bpf_load", dropped.pid);
    let cmd = event["fields"]["bpf.cmd"].as_u64().expect("bpf.cmd");
    assert!([5, 8, 28, 17].contains(&cmd), "{event}");
    let exe = loader.display().to_string();
    assert_event(
        &finished,
        event,
        ("foreign_bpf_load", "bpf", "deny", "deny"),
        json!({"bpf.cmd": cmd, "proc.exe": exe, "proc.comm": "loader",
               "proc.pid": dropped.pid, "proc.uid": 0}),
        &format!(
            "bpf command {cmd} by {exe} (loader, pid {}, uid 0) refused",
            dropped.pid
        ),
    );

    lookup.assert_success("a map lookup");
    assert!(lookup.stdout.starts_with("-1 "), "{}", lookup.stdout);
    assert_not_reported(&finished, lookup.pid, "a map lookup");
    bpftool.assert_success("bpftool feature probe as root");
    assert!(
        bpftool.stdout.contains("eBPF program_type"),
        "{}",
        bpftool.stdout
    );
    assert_not_reported(&finished, bpftool.pid, "the approved bpftool");

    assert_eq!(finished.matches("foreign_bpf_load"), 3);
    assert!(
        finished.matches("approved_bpf_tool") > 10,
        "bpftool's probes load many programs"
    );
}

/// A path field of a call that names a file: resolved where the backend
/// refuses (LSM, after the kernel looked the name up), unresolved (`null`)
/// at system call entry, where the kernel has not looked it up yet.
fn named_path(backend: &str, path: &str) -> Value {
    if refuses(backend) {
        json!(path)
    } else {
        Value::Null
    }
}

/// How `named_path` renders in a message.
fn named_path_text(backend: &str, path: &str) -> String {
    if refuses(backend) {
        path.to_string()
    } else {
        "<unresolved>".to_string()
    }
}

#[test]
fn example_file_integrity() {
    if !kernel_tests_enabled("example_file_integrity") {
        return;
    }
    let work = TempDir::new("ex-integrity");
    let cgroup = TestCgroup::new("ex-integrity");
    let home = TempDir::under(&work.path, "home");
    let dir = resolved(&home.path);
    let history = format!("{dir}/.bash_history");
    let build_output = format!("{dir}/out.o");
    let tool = format!("{dir}/tool");
    let shadow_link = format!("{dir}/shadow");
    let hostname_link = format!("{dir}/hostname");
    for file in [&history, &build_output, &tool] {
        fs::write(file, "polc\n").expect("write file");
    }
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).expect("chmod");
    let root = Workload::new(&cgroup);
    let polrt = Polrt::start(&example("file_integrity"), &cgroup, &work, &[]);

    let symlink = root.run(Command::new("ln").args(["-s", "/etc/shadow", &shadow_link]));
    let other_symlink = root.run(Command::new("ln").args(["-s", "/etc/hostname", &hostname_link]));
    let setuid = root.run(Command::new("chmod").args(["u+s", &tool]));
    let mode_after_setuid = fs::metadata(&tool).expect("stat").permissions().mode() & 0o7777;
    let plain = root.run(Command::new("chmod").args(["700", &tool]));
    let remove_history = root.run(Command::new("rm").arg(&history));
    let remove_other = root.run(Command::new("rm").arg(&build_output));
    let finished = stop(polrt);

    let symlink_backend = backend_of(&finished, "file.symlink");
    assert_denied(
        &finished,
        "file.symlink",
        &symlink,
        "Operation not permitted",
    );
    assert_event(
        &finished,
        event_of(&finished, "symlink_over_sensitive_files", symlink.pid),
        (
            "symlink_over_sensitive_files",
            "file.symlink",
            "deny",
            "deny",
        ),
        json!({"proc.comm": "ln", "proc.pid": symlink.pid,
               "file.path": named_path(&symlink_backend, &shadow_link),
               "file.target": "/etc/shadow"}),
        &format!(
            "ln (pid {}) may not link {} to /etc/shadow",
            symlink.pid,
            named_path_text(&symlink_backend, &shadow_link)
        ),
    );
    other_symlink.assert_success("a symlink to /etc/hostname");
    assert_not_reported(&finished, other_symlink.pid, "a symlink to /etc/hostname");

    // chmod u+s: refused, or (system call fallback) killed when the call
    // returns, after the mode changed.
    let chmod_backend = backend_of(&finished, "file.chmod");
    assert_denied(&finished, "file.chmod", &setuid, "Operation not permitted");
    let expected_mode = if refuses(&chmod_backend) {
        0o755
    } else {
        0o4755
    };
    assert_eq!(mode_after_setuid, expected_mode, "after chmod u+s");
    assert_event(
        &finished,
        event_of(&finished, "set_setuid_or_setgid_bit", setuid.pid),
        ("set_setuid_or_setgid_bit", "file.chmod", "deny", "deny"),
        json!({"proc.comm": "chmod", "proc.pid": setuid.pid, "file.mode": 0o4755,
               "file.path": named_path(&chmod_backend, &tool)}),
        &format!(
            "chmod (pid {}) may not set mode {} on {}",
            setuid.pid,
            0o4755,
            named_path_text(&chmod_backend, &tool)
        ),
    );
    plain.assert_success("chmod 700");
    assert_not_reported(&finished, plain.pid, "chmod 700");

    // rm of the history is denied. At system call entry the name is not
    // resolved yet: the rule decides fail-closed there and denies every
    // unlink; with LSM other files come and go.
    let unlink_backend = backend_of(&finished, "file.unlink");
    assert_denied(
        &finished,
        "file.unlink",
        &remove_history,
        "Operation not permitted",
    );
    assert_event(
        &finished,
        event_of(&finished, "delete_shell_history", remove_history.pid),
        ("delete_shell_history", "file.unlink", "deny", "deny"),
        json!({"proc.comm": "rm", "proc.pid": remove_history.pid,
               "file.path": named_path(&unlink_backend, &history)}),
        &format!(
            "rm (pid {}) may not delete {}",
            remove_history.pid,
            named_path_text(&unlink_backend, &history)
        ),
    );
    if refuses(&unlink_backend) {
        assert!(Path::new(&history).exists(), "the history was removed");
        remove_other.assert_success("rm of a build output");
        assert_not_reported(&finished, remove_other.pid, "rm of a build output");
    } else {
        assert!(
            remove_other.killed(),
            "fail-closed: {}",
            remove_other.status
        );
        assert_eq!(
            event_of(&finished, "delete_shell_history", remove_other.pid)["fields"]["file.path"],
            Value::Null
        );
    }
}

/// `python3 -c THREAT OP`: one operation of examples/runtime_threats.pol's
/// scenario; prints "ok" or exits 1 with the error.
const THREAT: &str = r#"
import ctypes, mmap, os, socket, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
op = sys.argv[1]
def check(result, what):
    if result < 0:
        sys.exit(what + ": " + os.strerror(ctypes.get_errno()))
if op == "memfd":
    fd = os.memfd_create("payload")
    os.write(fd, b"\0" * 4096)
    mmap.mmap(fd, 4096, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_EXEC).close()
elif op == "ptrace":
    sleeper = subprocess.Popen(["sleep", "5"])
    print(sleeper.pid, flush=True)
    try:
        check(libc.ptrace(0x4206, sleeper.pid, None, None), "ptrace")
    finally:
        sleeper.kill()
        sleeper.wait()
elif op == "packet":
    socket.socket(17, socket.SOCK_RAW, 0).close()
elif op == "udp":
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
elif op == "setns":
    fd = os.open("/proc/self/ns/uts", os.O_RDONLY)
    check(libc.setns(fd, 0x04000000), "setns")
elif op == "unshare":
    check(libc.unshare(0x04000000), "unshare")
elif op == "setuid":
    os.setuid(0)
print("ok")
"#;

#[test]
fn example_runtime_threats() {
    if !kernel_tests_enabled("example_runtime_threats") {
        return;
    }
    let work = TempDir::new("ex-threats");
    let cgroup = TestCgroup::new("ex-threats");
    let root = Workload::new(&cgroup);
    let threat =
        |workload: Workload, op: &str| workload.run(Command::new(PYTHON).args(["-c", THREAT, op]));
    let polrt = Polrt::start(&example("runtime_threats"), &cgroup, &work, &[]);

    let memfd = threat(root, "memfd");
    let ptrace = threat(root, "ptrace");
    let packet = threat(root, "packet");
    let setns = threat(root, "setns");
    let setuid = threat(root.as_user(65534), "setuid");
    // Allowed: a UDP socket, a new namespace (no join), python itself
    // mapping its libraries executable.
    let udp = threat(root, "udp");
    let unshare = threat(root, "unshare");
    let finished = stop(polrt);

    assert_denied(&finished, "file.mmap", &memfd, "Operation not permitted");
    assert_event(
        &finished,
        event_of(&finished, "fileless_execution", memfd.pid),
        ("fileless_execution", "file.mmap", "deny", "deny"),
        json!({"proc.comm": "python3", "proc.pid": memfd.pid,
               "file.path": "/memfd:payload", "mmap.prot": 5}),
        &format!(
            "python3 (pid {}) may not run code from /memfd:payload (prot 5)",
            memfd.pid
        ),
    );

    assert_denied(&finished, "proc.ptrace", &ptrace, "Operation not permitted");
    let sleeper: u32 = ptrace.stdout.trim().parse().expect("the sleeper's pid");
    assert_event(
        &finished,
        event_of(&finished, "ptrace_attached_to_process", ptrace.pid),
        ("ptrace_attached_to_process", "proc.ptrace", "deny", "deny"),
        json!({"proc.comm": "python3", "proc.pid": ptrace.pid, "target.pid": sleeper}),
        &format!("python3 (pid {}) may not trace pid {sleeper}", ptrace.pid),
    );

    assert_denied(
        &finished,
        "socket.create",
        &packet,
        "Operation not permitted",
    );
    assert_event(
        &finished,
        event_of(&finished, "raw_or_packet_socket", packet.pid),
        ("raw_or_packet_socket", "socket.create", "deny", "deny"),
        json!({"proc.comm": "python3", "proc.pid": packet.pid,
               "socket.family": 17, "socket.type": 3}),
        &format!(
            "python3 (pid {}) may not create a socket of family 17, type 3",
            packet.pid
        ),
    );

    assert_denied(
        &finished,
        "proc.namespace",
        &setns,
        "Operation not permitted",
    );
    assert_event(
        &finished,
        event_of(&finished, "change_thread_namespace", setns.pid),
        ("change_thread_namespace", "proc.namespace", "deny", "deny"),
        json!({"proc.comm": "python3", "proc.pid": setns.pid, "ns.flags": 0x0400_0000}),
        &format!(
            "python3 (pid {}) may not join a namespace (type {})",
            setns.pid, 0x0400_0000
        ),
    );

    // An unprivileged setuid(0): the kernel refuses it before the LSM hook
    // (EPERM either way); the system call fallback kills the task at entry.
    if refuses(&backend_of(&finished, "proc.setuid")) {
        assert!(!setuid.status.success(), "setuid(0) as nobody must fail");
        assert_not_reported(&finished, setuid.pid, "a setuid the kernel refused");
    } else {
        assert!(setuid.killed(), "setuid(0) as nobody: {}", setuid.status);
        assert_event(
            &finished,
            event_of(&finished, "non_sudo_setuid", setuid.pid),
            ("non_sudo_setuid", "proc.setuid", "kill", "kill"),
            json!({"proc.comm": "python3", "proc.pid": setuid.pid, "proc.uid": 65534}),
            &format!(
                "python3 (pid {}, uid 65534) tried to become root",
                setuid.pid
            ),
        );
    }

    for (outcome, what) in [(&udp, "a UDP socket"), (&unshare, "unshare")] {
        outcome.assert_success(what);
        assert_not_reported(&finished, outcome.pid, what);
    }
    assert_eq!(finished.matches("fileless_execution"), 1);
    assert_eq!(finished.matches("ptrace_attached_to_process"), 1);
}

/// A cgroup below another, removed (before its parent, being declared
/// after it) on drop.
fn nested_cgroup(parent: &Path, name: &str) -> TestCgroup {
    let path = parent.join(name);
    fs::create_dir(&path).unwrap_or_else(|e| panic!("create cgroup {}: {e}", path.display()));
    TestCgroup { path }
}

#[test]
fn example_containers() {
    if !kernel_tests_enabled("example_containers") {
        return;
    }
    const ID: &str = "4c01db0b339c1b4c4f3d2a5a9d1e0f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";
    const ID2: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const UID: &str = "7d9e3f2a-1b4c-4d5e-8f6a-0b1c2d3e4f5a";
    let work = TempDir::new("ex-containers");
    let cgroup = TestCgroup::new("ex-containers");
    // A docker container (systemd driver), and a container of a best-effort
    // pod (cgroupfs driver), named as docker and the kubelet name them.
    let slice = nested_cgroup(&cgroup.path, "system.slice");
    let docker = nested_cgroup(&slice.path, &format!("docker-{ID}.scope"));
    let kubepods = nested_cgroup(&cgroup.path, "kubepods");
    let besteffort = nested_cgroup(&kubepods.path, "besteffort");
    let pod = nested_cgroup(&besteffort.path, &format!("pod{UID}"));
    let pod_container = nested_cgroup(&pod.path, ID2);
    let (host, in_docker, in_pod) = (
        Workload::new(&cgroup),
        Workload::new(&docker),
        Workload::new(&pod_container),
    );
    // The container's root file system as docker makes it: an overlay
    // whose lower layer holds the image's programs. Each run mounts it in
    // a mount namespace of its own, drops a program into it unless it is
    // the image's, and executes it (the same process: its pid is the
    // workload's).
    let layers = TempDir::under(&work.path, "layers");
    for dir in ["lower", "upper", "work", "merged"] {
        fs::create_dir(layers.path.join(dir)).expect("create an overlay directory");
    }
    fs::copy("/bin/true", layers.path.join("lower/image-true")).expect("copy /bin/true");
    let layers_root = resolved(&layers.path);
    let overlay_exec = |program: &str| {
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount -t overlay overlay -o \"lowerdir=$1/lower,upperdir=$1/upper,workdir=$1/work\" \"$1/merged\" || exit 90
                 [ \"$2\" = image-true ] || cp \"$1/merged/image-true\" \"$1/merged/$2\"
                 exec \"$1/merged/$2\"",
            )
            .args(["sh", &layers_root, program]);
        command
    };
    let polrt = Polrt::start(&example("containers"), &cgroup, &work, &[]);

    let image_in_docker = in_docker.run(&mut overlay_exec("image-true"));
    let dropped_in_docker = in_docker.run(&mut overlay_exec("dropped-true"));
    let dropped_on_host = host.run(&mut overlay_exec("dropped-on-host"));
    let shell_in_docker = in_docker.run(Command::new("/bin/bash").args(["-c", ":"]));
    // dpkg executed by python (so that an exec refused with EPERM, on the
    // LSM backend, is an error the workload reports rather than a spawn
    // failure).
    let dpkg = || {
        let mut command = Command::new(PYTHON);
        command.args([
            "-c",
            "import os; os.execv('/usr/bin/dpkg', ['dpkg', '--version'])",
        ]);
        command
    };
    let dpkg_in_docker = in_docker.run(&mut dpkg());
    let shell_in_pod = in_pod.run(Command::new("/bin/bash").args(["-c", ":"]));
    let dpkg_in_pod = in_pod.run(&mut dpkg());
    let module_in_pod = in_pod.run(Command::new(PYTHON).args(["-c", INIT_MODULE]));
    let shell_on_host = host.run(Command::new("/bin/bash").args(["-c", ":"]));
    let dpkg_on_host = host.run(&mut dpkg());
    let module_on_host = host.run(Command::new(PYTHON).args(["-c", INIT_MODULE]));
    let finished = stop(polrt);

    let (bash, dpkg) = (resolved("/bin/bash"), resolved("/usr/bin/dpkg"));
    for (outcome, id, runtime, uid, qos) in [
        (&shell_in_docker, ID, "docker", "", ""),
        (&shell_in_pod, ID2, "cri", UID, "besteffort"),
    ] {
        outcome.assert_success("a shell in a container");
        let event = event_of(&finished, "terminal_shell_in_container", outcome.pid);
        assert_event(
            &finished,
            event,
            ("terminal_shell_in_container", "exec", "audit", "audit"),
            json!({"exec.path": bash.as_str(), "container.runtime": runtime,
                   "container.id": id, "k8s.pod.uid": uid, "k8s.pod.qos": qos}),
            &format!("shell {bash} in {runtime} container {id} (pod {uid}, {qos})"),
        );
        // The event names its container (no runtime state here: no name).
        assert_eq!(event["container"]["id"], id, "{event}");
        assert_eq!(event["container"]["short_id"], &id[..12], "{event}");
        assert_eq!(event["container"]["name"], Value::Null, "{event}");
    }
    for (outcome, id, runtime, uid) in [
        (&dpkg_in_docker, ID, "docker", ""),
        (&dpkg_in_pod, ID2, "cri", UID),
    ] {
        assert_denied(&finished, "exec", outcome, "Operation not permitted");
        assert_event(
            &finished,
            event_of(&finished, "package_management_in_container", outcome.pid),
            ("package_management_in_container", "exec", "deny", "deny"),
            json!({"exec.path": dpkg.as_str(), "container.runtime": runtime,
                   "container.short_id": &id[..12], "k8s.pod.uid": uid}),
            &format!("{dpkg} in {runtime} container {} (pod {uid})", &id[..12]),
        );
    }
    assert!(
        module_in_pod.killed(),
        "a module load from a best-effort pod must be killed: {}\n{}",
        module_in_pod.status,
        module_in_pod.stderr
    );
    assert_event(
        &finished,
        event_of(&finished, "module_from_besteffort_pod", module_in_pod.pid),
        ("module_from_besteffort_pod", "module.load", "kill", "kill"),
        json!({"k8s.pod.uid": UID, "container.short_id": &ID2[..12]}),
        &format!("module load from pod {UID} (container {})", &ID2[..12]),
    );
    // On the host, nothing of this is a container's.
    shell_on_host.assert_success("a shell on the host");
    dpkg_on_host.assert_success("dpkg on the host");
    assert!(!module_on_host.killed(), "{}", module_on_host.stderr);
    for (outcome, what) in [
        (&shell_on_host, "a shell on the host"),
        (&dpkg_on_host, "dpkg on the host"),
        (&module_on_host, "a module load on the host"),
    ] {
        assert_not_reported(&finished, outcome.pid, what);
    }
    // Two shells, and the two `sh` that mounted the overlay in the docker
    // container.
    assert_eq!(finished.matches("terminal_shell_in_container"), 4);
    for outcome in [&image_in_docker, &dropped_in_docker] {
        event_of(&finished, "terminal_shell_in_container", outcome.pid);
    }
    assert_eq!(finished.matches("package_management_in_container"), 2);
    assert_eq!(finished.matches("module_from_besteffort_pod"), 1);

    // The image's program runs in the container; one written into its
    // upper layer is refused there (killed at its exec on tp_btf), and runs
    // on the host.
    image_in_docker.assert_success("the image's program in a container");
    let reports: Vec<&Value> = finished
        .events()
        .into_iter()
        .filter(|e| e["pid"] == image_in_docker.pid && e["verdict"] != "trace")
        .collect();
    assert!(
        reports
            .iter()
            .all(|e| e["rule"] == "terminal_shell_in_container"),
        "the image's program must run unreported (but its `sh`): {reports:?}"
    );
    assert_denied(
        &finished,
        "exec",
        &dropped_in_docker,
        "Operation not permitted",
    );
    let dropped = format!("{layers_root}/merged/dropped-true");
    assert_event(
        &finished,
        event_of(
            &finished,
            "drop_and_execute_new_binary_in_container",
            dropped_in_docker.pid,
        ),
        (
            "drop_and_execute_new_binary_in_container",
            "exec",
            "deny",
            "deny",
        ),
        json!({"exec.path": dropped.as_str(), "container.runtime": "docker",
               "container.short_id": &ID[..12]}),
        &format!(
            "{dropped} was written into docker container {} after it started",
            &ID[..12]
        ),
    );
    dropped_on_host.assert_success("a dropped program on the host");
    assert_not_reported(
        &finished,
        dropped_on_host.pid,
        "a dropped program on the host",
    );
    assert_eq!(
        finished.matches("drop_and_execute_new_binary_in_container"),
        1
    );
}

#[test]
fn example_process_context() {
    if !kernel_tests_enabled("example_process_context") {
        return;
    }
    const ID: &str = "4c01db0b339c1b4c4f3d2a5a9d1e0f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";
    let work = TempDir::new("ex-context");
    let cgroup = TestCgroup::new("ex-context");
    // A docker container (systemd driver), named as docker names it.
    let slice = nested_cgroup(&cgroup.path, "system.slice");
    let docker = nested_cgroup(&slice.path, &format!("docker-{ID}.scope"));
    let (host, in_docker) = (Workload::new(&cgroup), Workload::new(&docker));
    // A web server, a miner and a netcat (copies of bash, so that the
    // miner and netcat can connect), and the files of the scenario, all in
    // the test's directory; a listener on the loopback for them to reach.
    let nginx = copy_executable("/bin/bash", &work, "nginx");
    let xmrig = copy_executable("/bin/bash", &work, "xmrig");
    let nc = copy_executable("/bin/bash", &work, "nc");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("address").port();
    let connect = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
    let log = work.path.join("app.log");
    let shadow = work.path.join("shadow");
    for file in [&log, &shadow] {
        fs::write(file, "data\n").expect("write a test file");
    }
    let (log, shadow) = (resolved(&log), resolved(&shadow));
    let open = |workload: Workload, path: &str, flags: i32| {
        workload.run(Command::new(PYTHON).args(["-c", OPEN, "openat2", path, &flags.to_string()]))
    };
    let polrt = Polrt::start(&example("process_context"), &cgroup, &work, &[]);

    let web_shell =
        host.run(Command::new(&nginx).args(["-c", "/bin/sh -c 'echo pwned'; echo \"status=$?\""]));
    // Each connects to the listener, with its command line after `-c CMD`
    // (bash's $0 and arguments).
    let miner = host.run(Command::new(&xmrig).args([
        "-c",
        &connect,
        "xmrig",
        "-o",
        "stratum+tcp://pool.example:3333",
    ]));
    let netcat_in_docker =
        in_docker.run(Command::new(&nc).args(["-c", &connect, "nc", "-e", "/bin/sh"]));
    let netcat_on_host = host.run(Command::new(&nc).args(["-c", &connect, "nc", "-e", "/bin/sh"]));
    // A PAM file, on a tmpfs over /etc/pam.d in a private mount namespace
    // (the host's files are never read).
    let pam = open(
        host.after(|| private_tmpfs("/etc/pam.d", &["/etc/pam.d/polc-e2e"])),
        "/etc/pam.d/polc-e2e",
        libc::O_RDONLY,
    );
    let not_etc = open(host, &shadow, libc::O_RDONLY);
    let truncated = open(host, &log, libc::O_WRONLY | libc::O_TRUNC);
    let appended = open(host, &log, libc::O_WRONLY | libc::O_APPEND);
    let finished = stop(polrt);

    // The shell nginx started was killed before it ran an instruction; the
    // web server itself carries on.
    web_shell.assert_success("nginx itself");
    assert_eq!(
        web_shell.stdout, "status=137\n",
        "the shell must die of SIGKILL before it prints: {}",
        web_shell.stderr
    );
    let kills = events_of(&finished, "run_shell_untrusted");
    assert_eq!(kills.len(), 1, "{kills:?}");
    assert_ne!(kills[0]["pid"], web_shell.pid, "the shell, not nginx");
    let sh = resolved("/bin/sh");
    assert_event(
        &finished,
        kills[0],
        ("run_shell_untrusted", "exec", "kill", "kill"),
        json!({"exec.path": sh.as_str(), "proc.ancestors[1].comm": "nginx",
               "proc.ppid": web_shell.pid}),
        &format!(
            "shell {sh} below a web server (parent nginx, pid {})",
            web_shell.pid
        ),
    );
    assert_not_reported(&finished, web_shell.pid, "nginx's own exec");

    // Killed where the backend can signal, else refused.
    assert!(
        miner.killed() || miner.stderr.contains("Operation not permitted"),
        "the miner's connect must be stopped: {}\n{}",
        miner.status,
        miner.stderr
    );
    let cmdline = format!(
        "{} -c {connect} xmrig -o stratum+tcp://pool.example:3333",
        xmrig.display()
    );
    assert_event(
        &finished,
        event_of(&finished, "crypto_miner_stratum", miner.pid),
        ("crypto_miner_stratum", "net.connect", "kill", "kill"),
        json!({"proc.cmdline": cmdline.as_str()}),
        &format!("mining pool in a command line: {cmdline}"),
    );

    assert_denied(
        &finished,
        "net.connect",
        &netcat_in_docker,
        "Operation not permitted",
    );
    let cmdline = format!("{} -c {connect} nc -e /bin/sh", nc.display());
    assert_event(
        &finished,
        event_of(
            &finished,
            "netcat_remote_code_execution_in_container",
            netcat_in_docker.pid,
        ),
        (
            "netcat_remote_code_execution_in_container",
            "net.connect",
            "deny",
            "deny",
        ),
        json!({"container.short_id": &ID[..12], "proc.cmdline": cmdline.as_str()}),
        &format!(
            "netcat running a program in container {}: {cmdline}",
            &ID[..12]
        ),
    );
    netcat_on_host.assert_success("nc -e on the host");
    assert_not_reported(&finished, netcat_on_host.pid, "nc -e on the host");

    pam.assert_success("reading a PAM file");
    assert_event(
        &finished,
        event_of(&finished, "read_sensitive_file_untrusted", pam.pid),
        (
            "read_sensitive_file_untrusted",
            "file.open",
            "audit",
            "audit",
        ),
        json!({"proc.comm": "python3", "proc.pid": pam.pid, "file.path": "/etc/pam.d/polc-e2e"}),
        &format!("python3 (pid {}) read /etc/pam.d/polc-e2e", pam.pid),
    );
    not_etc.assert_success("reading a file named shadow outside /etc");
    assert_not_reported(&finished, not_etc.pid, "a file named shadow outside /etc");

    assert_denied(
        &finished,
        "file.open",
        &truncated,
        "Operation not permitted",
    );
    // The kernel adds O_LARGEFILE (0o100000) to every open of a 64-bit
    // process (the libc crate's constant is 0 there).
    let flags = libc::O_WRONLY | libc::O_TRUNC | 0o100000;
    assert_event(
        &finished,
        event_of(&finished, "clear_log_activities", truncated.pid),
        ("clear_log_activities", "file.open", "deny", "deny"),
        json!({"proc.comm": "python3", "file.path": log.as_str(), "file.flags": flags}),
        &format!("python3 truncated the log {log} (flags {flags})"),
    );
    appended.assert_success("appending to a log");
    assert_not_reported(&finished, appended.pid, "appending to a log");
    // Refused before the file is touched on the LSM backend; on the system
    // call fallback (tp_btf/sys_exit) the open happened and the task is
    // killed as it returns.
    let expected = if refuses(&backend_of(&finished, "file.open")) {
        "data\n"
    } else {
        ""
    };
    assert_eq!(fs::read_to_string(&log).expect("the log"), expected);

    assert_eq!(finished.matches("run_shell_untrusted"), 1);
    assert_eq!(finished.matches("crypto_miner_stratum"), 1);
    assert_eq!(
        finished.matches("netcat_remote_code_execution_in_container"),
        1
    );
    assert_eq!(finished.matches("read_sensitive_file_untrusted"), 1);
    assert_eq!(finished.matches("clear_log_activities"), 1);
    drop(listener);
}

#[test]
fn example_ld_preload() {
    if !kernel_tests_enabled("example_ld_preload") {
        return;
    }
    let work = TempDir::new("ex-ld-preload");
    let cgroup = TestCgroup::new("ex-ld-preload");
    let root = Workload::new(&cgroup);
    // Names resolve through the examples' fixture databases: alice 1000,
    // bob 1001 (no host user needs to exist).
    let passwd = repo_root().join("examples/accounts/passwd");
    let group = repo_root().join("examples/accounts/group");
    let (passwd, group) = (passwd.display().to_string(), group.display().to_string());
    let polrt = Polrt::start(
        &example("ld_preload"),
        &cgroup,
        &work,
        &["--passwd", &passwd, "--group", &group],
    );
    // `env -i NAME=VALUE /bin/true`: env itself starts with no LD_PRELOAD;
    // the program it executes (in the same process) has it, and nothing
    // else: `exec.env` reads the first 64 variables (the test harness's
    // environment is longer than that under CI).
    let preloaded = |workload: Workload, value: &str| {
        workload.run(Command::new("/usr/bin/env").args([
            "-i",
            &format!("LD_PRELOAD={value}"),
            "/bin/true",
        ]))
    };
    let from_tmp = preloaded(root.as_user(1000), "/tmp/.polc-x/libhook.so");
    let second_from_shm = preloaded(
        root,
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /dev/shm/.polc-k.so",
    );
    let root_unapproved = preloaded(root, "/usr/local/lib/polc-libpam-hook.so");
    let root_approved = preloaded(root, "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2");
    let bob = preloaded(root.as_user(1001), "/home/bob/polc-libtrace.so");
    // A real library in a directory under /tmp, preloaded past the 64
    // variables `exec.env` reads (the environment rules cannot see it):
    // killed when the dynamic loader maps it executable.
    let libs = TempDir::under(Path::new("/tmp"), "ld-preload-lib");
    let library = libs.path.join("libm.so.6");
    fs::copy("/lib/x86_64-linux-gnu/libm.so.6", &library).expect("copy a library");
    let library = resolved(library.display().to_string());
    let mut padded: Vec<String> = (0..70).map(|i| format!("POLC_PAD_{i}=x")).collect();
    padded.push(format!("LD_PRELOAD={library}"));
    let hidden = root.as_user(1000).run(
        Command::new("/usr/bin/env")
            .arg("-i")
            .args(&padded)
            .arg("/bin/true"),
    );
    let alice = preloaded(root.as_user(1000), "/home/alice/polc-libtrace.so");
    let plain = root.run(&mut Command::new("/bin/true"));
    let finished = stop(polrt);

    // The environment is read at the exec's point of no return: whatever
    // the host, exec runs on tp_btf there, and a kill is a SIGKILL before
    // the new program (and the preloaded library) runs.
    assert_eq!(backend_of(&finished, "exec"), "tp_btf");
    let true_path = resolved("/bin/true");
    for (outcome, rule, uid, value, message) in [
        (
            &from_tmp,
            "preload_from_writable_dir",
            1000,
            "/tmp/.polc-x/libhook.so",
            format!("{true_path} started by uid 1000 with LD_PRELOAD=/tmp/.polc-x/libhook.so"),
        ),
        (
            &second_from_shm,
            "preload_from_writable_dir",
            0,
            "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /dev/shm/.polc-k.so",
            format!(
                "{true_path} started by uid 0 with LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /dev/shm/.polc-k.so"
            ),
        ),
        (
            &root_unapproved,
            "root_preloads_unapproved",
            0,
            "/usr/local/lib/polc-libpam-hook.so",
            format!(
                "{true_path} as euid 0 with LD_PRELOAD=/usr/local/lib/polc-libpam-hook.so"
            ),
        ),
    ] {
        assert!(outcome.killed(), "{rule}: killed: {}", outcome.status);
        let event = event_of(&finished, rule, outcome.pid);
        let fields = if rule == "root_preloads_unapproved" {
            json!({"exec.path": true_path, "proc.euid": uid, "exec.env[\"LD_PRELOAD\"]": value})
        } else {
            json!({"exec.path": true_path, "proc.uid": uid, "exec.env[\"LD_PRELOAD\"]": value})
        };
        assert_event(
            &finished,
            event,
            (rule, "exec", "kill", "kill"),
            fields,
            &message,
        );
        assert_eq!(event["uid"], uid, "{event}");
    }
    root_approved.assert_success("an approved preload as root");
    assert_not_reported(&finished, root_approved.pid, "an approved preload");
    bob.assert_success("bob's own preload");
    let event = event_of(&finished, "preload_audited", bob.pid);
    assert_event(
        &finished,
        event,
        ("preload_audited", "exec", "audit", "audit"),
        json!({"exec.path": true_path, "proc.uid": 1001,
               "exec.env[\"LD_PRELOAD\"]": "/home/bob/polc-libtrace.so"}),
        &format!("{true_path} by uid 1001 with LD_PRELOAD=/home/bob/polc-libtrace.so"),
    );
    // Named from the same database the policy's names resolved from.
    assert_eq!(event["user"], "bob", "{event}");
    assert!(
        hidden.killed(),
        "a library preloaded past 64 variables: killed at its mapping: {}",
        hidden.status
    );
    let event = event_of(&finished, "code_from_writable_dir", hidden.pid);
    assert_event(
        &finished,
        event,
        ("code_from_writable_dir", "exec", "kill", "kill"),
        json!({"exec.path": library.as_str(), "proc.comm": "true", "proc.uid": 1000}),
        &format!("{library} mapped by true (uid 1000)"),
    );
    assert!(
        events_of(&finished, "preload_from_writable_dir")
            .iter()
            .all(|e| e["pid"] != hidden.pid),
        "the environment rules cannot see a variable past the 64th"
    );
    alice.assert_success("alice's preload");
    assert_not_reported(&finished, alice.pid, "alice's preload (exempt by name)");
    plain.assert_success("/bin/true");
    assert_not_reported(&finished, plain.pid, "a program with no LD_PRELOAD");
}
