//! Shared support of the end-to-end runtime tests: finding the `polrt`
//! binary, a throw-away cgroup v2 directory per test, starting `polrt run`
//! and waiting for its "ready" line, running workloads inside the test
//! cgroup (optionally in a private network namespace, as another user, or
//! as a copied executable with a chosen name), stopping `polrt` with SIGTERM
//! and reading its JSON lines, and checking that none of its programs is
//! left in the kernel.
//!
//! The binaries: these tests run `target/<profile>/polrt` (and `polc`),
//! found next to their own executable (`target/<profile>/deps/..`). Once per
//! test process they run `cargo build -p polrt --bin polrt` (with
//! `--release` in a release build) into that same target directory: a no-op
//! when `cargo test --workspace` has just built it, and what keeps `cargo
//! test -p polc-tests` from ever running a stale or missing binary.

#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The `polrt` binary of this build.
pub fn polrt_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_bin("polrt")).clone()
}

/// The `polc` binary of this build.
pub fn polc_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_bin("polc")).clone()
}

/// Builds binary `name` (of the package of the same name) into the target
/// directory of this test executable and returns its path.
fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable is in target/<profile>/deps")
        .to_path_buf();
    let bin = profile_dir.join(name);
    let target_dir = profile_dir.parent().expect("target dir");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "-p", name, "--bin", name])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(polc_tests::repo_root());
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    let status = build
        .status()
        .unwrap_or_else(|e| panic!("run cargo build -p {name}: {e}"));
    assert!(status.success(), "cargo build -p {name} failed: {status}");
    assert!(bin.exists(), "{} was not built", bin.display());
    bin
}

/// The cgroup v2 mount point, from /proc/self/mountinfo.
pub fn cgroup2_root() -> PathBuf {
    polrt::cgroup::root().expect("cgroup v2 is mounted")
}

/// A cgroup v2 directory for one test, removed on drop.
pub struct TestCgroup {
    pub path: PathBuf,
}

impl TestCgroup {
    /// Creates `polc-test-<name>-<pid>` under the cgroup v2 root.
    pub fn new(name: &str) -> TestCgroup {
        let path = cgroup2_root().join(format!("polc-test-{name}-{}", std::process::id()));
        if path.exists() {
            let _ = fs::remove_dir(&path);
        }
        fs::create_dir(&path).unwrap_or_else(|e| panic!("create cgroup {}: {e}", path.display()));
        TestCgroup { path }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Exited children may take a moment to leave the cgroup.
        for _ in 0..50 {
            if fs::remove_dir(&self.path).is_ok() || !self.path.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("warning: could not remove {}", self.path.display());
    }
}

/// Spawns `command` as a member of `cgroup`: the child writes itself to
/// `cgroup.procs` between fork and exec, so the program runs in the cgroup
/// from its first instruction.
pub fn spawn_in(cgroup: &TestCgroup, command: &mut Command) -> Child {
    spawn_in_then(cgroup, command, || Ok(()))
}

/// Like [`spawn_in`], and then runs `then` in the child, after it joined the
/// cgroup and before it execs (e.g. to enter a network namespace, then drop
/// to another user with [`become_user`]). `then` runs between fork and exec:
/// it must only make async-signal-safe calls.
pub fn spawn_in_then<F>(cgroup: &TestCgroup, command: &mut Command, mut then: F) -> Child
where
    F: FnMut() -> std::io::Result<()> + Send + Sync + 'static,
{
    let procs = fs::OpenOptions::new()
        .write(true)
        .open(cgroup.path.join("cgroup.procs"))
        .expect("open cgroup.procs");
    let fd = procs.as_raw_fd();
    // SAFETY: the closure only calls write(2), which is async-signal-safe,
    // and `then`, which must be too.
    unsafe {
        command.pre_exec(move || {
            if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error());
            }
            then()
        });
    }
    let child = command.spawn().expect("spawn workload");
    drop(procs);
    child
}

/// Drops the calling process to `uid`/`gid` with no supplementary groups.
/// Async-signal-safe: meant for the `then` of [`spawn_in_then`].
pub fn become_user(uid: u32, gid: u32) -> std::io::Result<()> {
    // SAFETY: setgroups/setgid/setuid have no memory preconditions.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(gid) != 0
            || libc::setuid(uid) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A private network namespace for one test, alive while this value (or a
/// socket made in it) is: addresses that stand for remote hosts (e.g.
/// 203.0.113.7) are put on its loopback device, so workloads that connect
/// "outside" never send a packet off this machine. Nothing to clean up: the
/// kernel frees the namespace with its last reference.
pub struct TestNetns {
    file: fs::File,
}

impl TestNetns {
    /// A new network namespace with its loopback device up and `addresses`
    /// (CIDR notation, IPv4 or IPv6) added to it.
    pub fn new(addresses: &[&str]) -> TestNetns {
        let file = std::thread::spawn(|| {
            // SAFETY: unshare(2) affects only this short-lived thread.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                panic!("unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
            }
            fs::File::open("/proc/thread-self/ns/net").expect("open the new network namespace")
        })
        .join()
        .expect("create a network namespace");
        let netns = TestNetns { file };
        netns.ip(&["link", "set", "lo", "up"]);
        for address in addresses {
            let mut args = vec!["addr", "add", address, "dev", "lo"];
            if address.contains(':') {
                args.push("nodad");
            }
            netns.ip(&args);
        }
        netns
    }

    /// A closure that moves the calling thread into this namespace
    /// (async-signal-safe: setns(2) only).
    pub fn enter(&self) -> impl FnMut() -> std::io::Result<()> + Send + Sync + 'static {
        let fd = self.file.as_raw_fd();
        move || {
            // SAFETY: setns(2) on a namespace fd that outlives the spawn.
            if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        }
    }

    /// Runs `ip ARGS...` inside the namespace; panics unless it succeeds.
    fn ip(&self, args: &[&str]) {
        let mut command = Command::new("ip");
        command.args(args);
        // SAFETY: the step only calls setns(2).
        unsafe { command.pre_exec(self.enter()) };
        let out = command.output().expect("run ip");
        assert!(
            out.status.success(),
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A TCP listener on `address` inside the namespace (made by a thread
    /// that enters it, so this process stays where it is).
    pub fn listen(&self, address: &str) -> std::net::TcpListener {
        let mut enter = self.enter();
        let address = address.to_string();
        std::thread::spawn(move || {
            enter().expect("enter the test network namespace");
            std::net::TcpListener::bind(&address)
                .unwrap_or_else(|e| panic!("listen on {address}: {e}"))
        })
        .join()
        .expect("listen in the test network namespace")
    }
}

/// Copies the executable `source` to `dir/name` (mode 0755) and returns the
/// new path: a program with a chosen name (hence `comm`) and path.
pub fn copy_executable(source: &str, dir: &TempDir, name: &str) -> PathBuf {
    let path = dir.path.join(name);
    fs::copy(source, &path).unwrap_or_else(|e| panic!("copy {source}: {e}"));
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod 0755");
    path
}

/// Runs `command` in `cgroup` to completion; returns its status and stderr.
pub fn run_in(cgroup: &TestCgroup, command: &mut Command) -> (ExitStatus, u32, String) {
    command.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = spawn_in(cgroup, command);
    let pid = child.id();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let status = child.wait().expect("wait for workload");
    (status, pid, stderr)
}

/// The name of the calling thread (what a child forked from it is called
/// until it execs).
pub fn thread_comm() -> String {
    fs::read_to_string("/proc/thread-self/comm")
        .expect("read own comm")
        .trim_end()
        .to_string()
}

/// A private temporary directory, removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        TempDir::under(&std::env::temp_dir(), name)
    }

    /// A private directory `polc-e2e-NAME-PID` under `parent` (e.g. `/tmp`
    /// itself, whatever `TMPDIR` says), readable and searchable by every
    /// user (mode 0755), so workloads running as another uid can execute
    /// what it holds.
    pub fn under(parent: &Path, name: &str) -> TempDir {
        let path = parent.join(format!("polc-e2e-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create temp dir");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// A running `polrt run`.
pub struct Polrt {
    child: Option<Child>,
    /// polrt's pid (the kernel's view): the child's, or, in a pid
    /// namespace, that of the child's only child.
    pid: u32,
    output: PathBuf,
    stderr: PathBuf,
}

/// Where [`Polrt`] runs polrt.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Placement {
    /// Outside the test cgroup.
    Outside,
    /// Inside the test cgroup its rules are scoped to.
    Inside,
    /// Inside the test cgroup, and in a pid namespace of its own (as in a
    /// container: its pid there is 1).
    InsidePidNamespace,
}

/// What `polrt run` left when it stopped.
pub struct Finished {
    pub status: ExitStatus,
    /// Every JSON line of the output.
    pub lines: Vec<Value>,
    pub stderr: String,
}

impl Finished {
    /// The event records (`"type": "event"`).
    pub fn events(&self) -> Vec<&Value> {
        self.of_type("event")
    }

    /// Records of one `type`.
    pub fn of_type(&self, kind: &str) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["type"] == kind).collect()
    }

    /// The final summary record.
    pub fn summary(&self) -> &Value {
        self.of_type("summary")
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no summary record; stderr:\n{}", self.stderr))
    }

    /// Match count of `rule` in the summary.
    pub fn matches(&self, rule: &str) -> u64 {
        self.summary()["rules"]
            .as_array()
            .and_then(|rules| rules.iter().find(|r| r["rule"] == rule))
            .and_then(|r| r["matches"].as_u64())
            .unwrap_or_else(|| panic!("no count for {rule} in {}", self.summary()))
    }

    /// Kernel ids of every program polrt attached (from `backend` records).
    pub fn program_ids(&self) -> Vec<u32> {
        self.of_type("backend")
            .iter()
            .flat_map(|b| b["programs"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p["id"].as_u64().map(|id| id as u32))
            .collect()
    }
}

impl Polrt {
    /// Starts `polrt run POLICY --cgroup CGROUP --format json --output FILE
    /// EXTRA...` and waits for its "ready" line on stderr.
    pub fn start(policy: &Path, cgroup: &TestCgroup, work: &TempDir, extra: &[&str]) -> Polrt {
        Polrt::launch(
            &[policy.as_os_str()],
            cgroup,
            work,
            extra,
            Placement::Outside,
        )
    }

    /// Like [`Polrt::start`], with `policies` (several files, or
    /// `--policy-dir DIR`) in place of one policy.
    pub fn start_policies(
        policies: &[&std::ffi::OsStr],
        cgroup: &TestCgroup,
        work: &TempDir,
        extra: &[&str],
    ) -> Polrt {
        Polrt::launch(policies, cgroup, work, extra, Placement::Outside)
    }

    /// Like [`Polrt::start`], with polrt itself running inside the cgroup
    /// its rules are scoped to.
    pub fn start_inside(
        policy: &Path,
        cgroup: &TestCgroup,
        work: &TempDir,
        extra: &[&str],
    ) -> Polrt {
        Polrt::launch(
            &[policy.as_os_str()],
            cgroup,
            work,
            extra,
            Placement::Inside,
        )
    }

    /// Like [`Polrt::start_inside`], with polrt in a new pid namespace
    /// (`unshare --pid --fork --mount-proc`), where its pid is 1.
    pub fn start_in_pid_namespace(
        policy: &Path,
        cgroup: &TestCgroup,
        work: &TempDir,
        extra: &[&str],
    ) -> Polrt {
        Polrt::launch(
            &[policy.as_os_str()],
            cgroup,
            work,
            extra,
            Placement::InsidePidNamespace,
        )
    }

    fn launch(
        policy: &[&std::ffi::OsStr],
        cgroup: &TestCgroup,
        work: &TempDir,
        extra: &[&str],
        placement: Placement,
    ) -> Polrt {
        let output = work.path.join("events.jsonl");
        let stderr = work.path.join("polrt.stderr");
        let mut command = if placement == Placement::InsidePidNamespace {
            let mut unshare = Command::new("unshare");
            unshare
                .args(["--pid", "--fork", "--mount-proc", "--kill-child=SIGTERM"])
                .arg(polrt_bin());
            unshare
        } else {
            Command::new(polrt_bin())
        };
        command
            .arg("run")
            .args(policy)
            .arg("--cgroup")
            .arg(&cgroup.path)
            .args(["--format", "json", "--output"])
            .arg(&output)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&stderr).expect("create stderr file"));
        let child = if placement == Placement::Outside {
            command.spawn().expect("spawn polrt")
        } else {
            spawn_in(cgroup, &mut command)
        };
        let mut polrt = Polrt {
            pid: child.id(),
            child: Some(child),
            output,
            stderr,
        };
        polrt.wait_ready();
        if placement == Placement::InsidePidNamespace {
            let children = fs::read_to_string(format!("/proc/{0}/task/{0}/children", polrt.pid))
                .expect("children of unshare");
            polrt.pid = children
                .split_whitespace()
                .next()
                .and_then(|pid| pid.parse().ok())
                .unwrap_or_else(|| panic!("unshare has no child: {children:?}"));
        }
        polrt
    }

    /// polrt's process id, as the kernel sees it.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Where polrt writes its JSON lines (`--output`).
    pub fn output_path(&self) -> &Path {
        &self.output
    }

    /// Sends `signal` to polrt.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on the pid of polrt, which this value started.
        unsafe { libc::kill(self.pid as libc::pid_t, signal) };
    }

    /// Whether polrt is still running.
    pub fn is_running(&mut self) -> bool {
        let child = self.child.as_mut().expect("running");
        child.try_wait().expect("poll polrt").is_none()
    }

    /// Waits (up to 30 s) until polrt's stderr contains `text`; panics
    /// with its stderr otherwise.
    pub fn wait_stderr(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.stderr_text().contains(text) {
            assert!(
                Instant::now() < deadline,
                "polrt never printed {text:?}; stderr:\n{}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything polrt printed on stderr so far.
    pub fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.stderr_text().contains("polrt: ready:") {
                return;
            }
            let child = self.child.as_mut().expect("running");
            if let Some(status) = child.try_wait().expect("poll polrt") {
                panic!(
                    "polrt exited ({status}) before it was ready; stderr:\n{}",
                    self.stderr_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "polrt not ready after 60 s; stderr:\n{}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills polrt with SIGKILL (no clean-up of its own is possible) and
    /// waits for it; returns its exit status.
    pub fn kill(mut self) -> ExitStatus {
        self.signal(libc::SIGKILL);
        let mut child = self.child.take().expect("running");
        child.wait().expect("wait for polrt")
    }

    /// Sends SIGTERM, waits for the exit, reads the output, and checks that
    /// none of polrt's programs remains loaded.
    pub fn stop(self) -> Finished {
        let finished = self.terminate();
        assert_no_program_left(&finished.program_ids());
        finished
    }

    /// [`Polrt::stop`], asserting that polrt exited successfully.
    pub fn stop_ok(self) -> Finished {
        let finished = self.stop();
        assert!(
            finished.status.success(),
            "polrt: {}\n{}",
            finished.status,
            finished.stderr
        );
        finished
    }

    /// Sends SIGTERM, waits for the exit and reads the output (programs
    /// pinned with `--persist` stay).
    pub fn terminate(self) -> Finished {
        self.signal(libc::SIGTERM);
        self.wait_exit()
    }

    /// Waits (up to 30 s) for polrt to exit by itself (e.g. stopped by
    /// `polrt stop`), and reads the output.
    pub fn wait_exit(mut self) -> Finished {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().expect("poll polrt") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "polrt did not exit within 30 s; stderr:\n{}",
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let text = fs::read_to_string(&self.output).unwrap_or_default();
        let lines = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
            .collect();
        Finished {
            status,
            lines,
            stderr: self.stderr_text(),
        }
    }
}

impl Drop for Polrt {
    fn drop(&mut self) {
        // A test that panicked while polrt ran: never leave it running.
        if self.child.is_some() {
            self.signal(libc::SIGTERM);
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }
}

/// Panics if any program id in `ids` is still loaded in the kernel a few
/// seconds after polrt exited. The wait is the kernel's, not polrt's: a
/// `tp_btf` link releases its program only after an RCU grace period
/// (deferred link dealloc), so such a program stays listed for a moment
/// after its last fd is closed.
pub fn assert_no_program_left(ids: &[u32]) {
    assert!(!ids.is_empty(), "polrt reported no program ids");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let loaded: Vec<u32> = aya::programs::loaded_programs()
            .filter_map(Result::ok)
            .map(|info| info.id())
            .collect();
        let left: Vec<&u32> = ids.iter().filter(|id| loaded.contains(id)).collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "programs {left:?} are still loaded 10 s after polrt exited"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The path of the file `path` leads to, as the kernel renders it
/// (symbolic links resolved): what a resolved path field holds.
pub fn resolved(path: impl AsRef<Path>) -> String {
    fs::canonicalize(path.as_ref())
        .unwrap_or_else(|e| panic!("canonicalize {}: {e}", path.as_ref().display()))
        .display()
        .to_string()
}

/// How a test starts polrt inside a test cgroup (see [`Polrt::start_inside`]).
pub type StartInside = fn(&Path, &TestCgroup, &TempDir, &[&str]) -> Polrt;

/// polrt, started by `start` inside a test cgroup whose policy denies every
/// `bpf()` call there (SIGKILL at entry on this host), must survive its own
/// rule (it calls `bpf()` every second to read its counters) and still
/// enforce it on a workload, without ever reporting itself.
pub fn assert_exempt_from_its_own_bpf_rule(name: &str, start: StartInside) {
    use std::os::unix::process::ExitStatusExt;
    let work = TempDir::new(name);
    let cgroup = TestCgroup::new(name);
    let policy = write_policy(
        &work,
        "nobpf.pol",
        "rule no_bpf {\n    on bpf\n    deny\n}\n",
    );
    let mut polrt = start(&policy, &cgroup, &work, &[]);
    let polrt_pid = polrt.pid();
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        polrt.is_running(),
        "polrt died under its own rule: {}",
        polrt.stderr_text()
    );
    let (status, pid, _) = run_in(&cgroup, Command::new("bpftool").args(["map", "show"]));
    let finished = polrt.stop_ok();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the workload's bpf() must be refused"
    );
    let events = finished.events();
    assert!(
        events
            .iter()
            .any(|e| e["rule"] == "no_bpf" && e["pid"] == pid),
        "{events:?}"
    );
    assert!(
        events.iter().all(|e| e["pid"] != polrt_pid),
        "polrt reported itself: {events:?}"
    );
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_policy(dir: &TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path.join(name);
    fs::write(&path, text).expect("write policy");
    path
}

/// The events of `rule` among `events`.
pub fn events_of<'a>(events: &[&'a Value], rule: &str) -> Vec<&'a Value> {
    events
        .iter()
        .copied()
        .filter(|e| e["rule"] == rule)
        .collect()
}

/// Replaces `path` as editors and `kubectl` do: a new file renamed over it.
pub fn replace_file(path: &Path, text: &str) {
    let temporary = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(std::ffi::OsStr::to_str)
            .expect("file name")
    ));
    fs::write(&temporary, text).expect("write the new version");
    fs::rename(&temporary, path).expect("rename it into place");
}

/// Occurrences of `text` in polrt's stderr.
pub fn count_in(polrt: &Polrt, text: &str) -> usize {
    polrt.stderr_text().matches(text).count()
}

/// Waits (up to 60 s) until polrt's stderr says `text` `count` times.
pub fn wait_count(polrt: &Polrt, text: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while count_in(polrt, text) < count {
        assert!(
            Instant::now() < deadline,
            "polrt did not say {text:?} {count} times within 60 s:\n{}",
            polrt.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A listener on `address` (a loopback address) and a free port that
/// accepts (and drops) every connection, so that a connect the policy lets
/// through succeeds.
pub fn accepting_listener_on(address: &str) -> u16 {
    let listener = std::net::TcpListener::bind((address, 0)).expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    port
}

/// `polc test --format json POLICY` (the interpreter and the compiled
/// programs in the kernel): asserts it passed, that it ran `tests` tests,
/// and that each passed with the kernel deciding as the interpreter on a
/// program the verifier processed.
pub fn assert_polc_test_in_kernel(policy: &Path, tests: usize) {
    let out = Command::new(polc_bin())
        .args(["test", "--format", "json", "--color", "never"])
        .arg(policy)
        .output()
        .expect("run polc test");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{text}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(results.len(), tests, "{text}");
    for result in &results {
        assert_eq!(result["ok"], true, "{result}");
        assert_eq!(result["kernel"], result["interpreter"], "{result}");
        assert!(
            result["program"]["verified_insns"].as_u64() > Some(0),
            "{result}"
        );
    }
}

/// Compiles `source` and loads its program `symbol` into the kernel in this
/// process, as polrt would (ring buffer of `ringbuf_bytes`, the default
/// config written and frozen), without attaching it; the caller attaches
/// it and drops the `Ebpf` to unload it.
pub fn load_in_process(
    source: &str,
    ringbuf_bytes: u32,
    symbol: &str,
) -> (polrt::object::PolicyObject, aya::Ebpf) {
    let policy =
        polrt::object::compile_source("in-process.pol", source, ringbuf_bytes).expect("compiles");
    let types = polrt::probe::kernel_btf().expect("kernel BTF");
    let mut ebpf =
        polrt::loader::open(&policy, &types, Some(ringbuf_bytes)).expect("opens the object");
    polrt::loader::write_config(&ebpf, &policy.metadata, polc::abi::Config::default())
        .expect("config");
    let meta = policy
        .metadata
        .programs
        .iter()
        .find(|p| p.symbol == symbol)
        .unwrap_or_else(|| panic!("no program {symbol}"))
        .clone();
    polrt::loader::load_program(&mut ebpf, &meta, &types).expect("loads");
    (policy, ebpf)
}
