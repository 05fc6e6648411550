//! End-to-end tests of `polrt run` on the real kernel (root): each test
//! creates its own cgroup v2 directory, runs the real `polrt` binary scoped
//! to it with JSON output, runs a workload inside it, checks the events and
//! the enforcement, then stops polrt with SIGTERM and checks the exit code,
//! the per-rule counts, and that none of its programs is left loaded.
//!
//! Safe on a shared host: every rule is scoped to the test cgroup, cgroup
//! programs attach to that cgroup only, and everything is detached and
//! removed even when an assertion fails (guards in `e2e/support.rs`).

#[path = "e2e/support.rs"]
mod support;

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use polc_tests::kernel_tests_enabled;
use support::{events_of, run_in, thread_comm, write_policy, Polrt, TempDir, TestCgroup};

/// A copy of /bin/true under a private directory: a test binary that no
/// other process on the host runs.
fn victim(work: &TempDir) -> String {
    let path = work.path.join("polc-victim");
    fs::copy("/bin/true", &path).expect("copy /bin/true");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

#[test]
fn exec_trace_reports_pid_comm_and_path() {
    if !kernel_tests_enabled("exec_trace_reports_pid_comm_and_path") {
        return;
    }
    let work = TempDir::new("exec-trace");
    let cgroup = TestCgroup::new("exec-trace");
    let policy = polc_tests::repo_root().join("tests/e2e/exec_trace.pol");
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let comm = thread_comm();
    let (status, pid, _) = run_in(&cgroup, &mut Command::new("/bin/true"));
    assert!(status.success(), "/bin/true: {status}");
    let finished = polrt.stop_ok();

    let backend = &finished.of_type("backend")[0];
    assert_eq!(backend["hook"], "exec");
    assert_eq!(backend["backend"], "tp_btf", "{backend}");
    let events = finished.events();
    let execs = events_of(&events, "execs");
    let event = execs
        .iter()
        .find(|e| e["pid"] == pid)
        .unwrap_or_else(|| panic!("no exec event of pid {pid} in {execs:?}"));
    assert_eq!(event["verdict"], "trace");
    assert_eq!(event["hook"], "exec");
    assert_eq!(event["backend"], "tp_btf");
    assert_eq!(event["comm"], comm.as_str());
    assert_eq!(
        event["fields"]["exec.path"],
        support::resolved("/bin/true").as_str()
    );
    assert_eq!(event["fields"]["proc.pid"], pid);
    assert_eq!(event["fields"]["proc.ppid"], std::process::id());
    assert_eq!(event["fields"]["proc.comm"], comm.as_str());
    assert!(
        event["time"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 30),
        "{event}"
    );
    // Every exec in the cgroup was this one: scope keeps others out.
    assert_eq!(execs.len(), 1, "{execs:?}");
    assert_eq!(finished.matches("execs"), 1);
    assert_eq!(finished.summary()["lost"], 0);
}

#[test]
fn kill_on_exec_kills_the_test_binary_and_reports_it() {
    if !kernel_tests_enabled("kill_on_exec_kills_the_test_binary_and_reports_it") {
        return;
    }
    let work = TempDir::new("exec-kill");
    let cgroup = TestCgroup::new("exec-kill");
    let victim = victim(&work);
    let policy = write_policy(
        &work,
        "kill.pol",
        &format!(
            "rule kill_victim {{\n    on exec\n    when exec.path == \"{victim}\"\n    kill \"killed {{exec.path}} (pid {{proc.pid}})\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let (status, pid, _) = run_in(&cgroup, &mut Command::new(&victim));
    let (control, _, _) = run_in(&cgroup, &mut Command::new("/bin/true"));
    let finished = polrt.stop_ok();

    assert_eq!(status.signal(), Some(libc::SIGKILL), "victim: {status}");
    assert!(control.success(), "/bin/true must still run: {control}");
    let events = finished.events();
    let kills = events_of(&events, "kill_victim");
    assert_eq!(kills.len(), 1, "{kills:?}");
    assert_eq!(kills[0]["verdict"], "kill");
    assert_eq!(kills[0]["action"], "kill");
    assert_eq!(kills[0]["pid"], pid);
    assert_eq!(
        kills[0]["message"],
        format!("killed {victim} (pid {pid})").as_str()
    );
    assert_eq!(finished.matches("kill_victim"), 1);
}

#[test]
fn connect_deny_through_the_cgroup_backend_refuses_one_port_only() {
    if !kernel_tests_enabled("connect_deny_through_the_cgroup_backend_refuses_one_port_only") {
        return;
    }
    let work = TempDir::new("connect");
    let cgroup = TestCgroup::new("connect");
    let blocked = TcpListener::bind("127.0.0.1:0").expect("listen");
    let open = TcpListener::bind("127.0.0.1:0").expect("listen");
    let blocked_port = blocked.local_addr().expect("addr").port();
    let open_port = open.local_addr().expect("addr").port();
    let policy = write_policy(
        &work,
        "connect.pol",
        &format!(
            "rule block_port {{\n    on net.connect\n    when net.dport == {blocked_port}\n    deny \"connect to {{net.daddr}}:{{net.dport}} refused\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let connect = |port: u16| {
        let mut command = Command::new("bash");
        command.args(["-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")]);
        run_in(&cgroup, &mut command)
    };
    let (refused, pid, stderr) = connect(blocked_port);
    let (allowed, _, allowed_stderr) = connect(open_port);
    let finished = polrt.stop_ok();

    assert!(!refused.success(), "connect to the blocked port succeeded");
    assert!(
        stderr.contains("Operation not permitted"),
        "connect must fail with EPERM: {stderr}"
    );
    assert!(
        allowed.success(),
        "connect to the open port: {allowed_stderr}"
    );
    let backend = finished
        .of_type("backend")
        .into_iter()
        .find(|b| b["hook"] == "net.connect")
        .expect("net.connect backend");
    assert_eq!(backend["backend"], "cgroup");
    let events = finished.events();
    let denies = events_of(&events, "block_port");
    assert_eq!(denies.len(), 1, "{denies:?}");
    assert_eq!(denies[0]["verdict"], "deny");
    assert_eq!(denies[0]["pid"], pid);
    assert_eq!(denies[0]["fields"]["net.dport"], blocked_port);
    assert_eq!(denies[0]["fields"]["net.daddr"], "127.0.0.1");
    assert_eq!(
        denies[0]["message"],
        format!("connect to 127.0.0.1:{blocked_port} refused").as_str()
    );
    assert_eq!(finished.matches("block_port"), 1);
}

/// `kill` through the cgroup backend: where the kernel lets cgroup programs
/// send signals (probed by polrt, as on this host's 6.18), the connecting
/// task is killed; elsewhere (6.12, 6.1) the connect is refused with EPERM
/// and the backend record names the limit. The VM tests verify the same
/// programs on 6.12 and 6.1.
#[test]
fn kill_on_connect_through_the_cgroup_backend_follows_the_kernel_probe() {
    if !kernel_tests_enabled("kill_on_connect_through_the_cgroup_backend_follows_the_kernel_probe")
    {
        return;
    }
    let work = TempDir::new("connect-kill");
    let cgroup = TestCgroup::new("connect-kill");
    let target = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = target.local_addr().expect("addr").port();
    let policy = write_policy(
        &work,
        "connect-kill.pol",
        &format!(
            "rule kill_port {{\n    on net.connect\n    when net.dport == {port}\n    kill \"connect to port {{net.dport}} by {{proc.comm}}\"\n}}\n"
        ),
    );
    let signals =
        polrt::probe::kernel_features().expect("probe") & polc::abi::FEATURE_CGROUP_SIGNAL != 0;
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let mut command = Command::new("bash");
    command.args([
        "-c",
        &format!("exec 3<>/dev/tcp/127.0.0.1/{port}; echo went on"),
    ]);
    let (status, pid, stderr) = run_in(&cgroup, &mut command);
    let finished = polrt.stop_ok();

    let backend = finished
        .of_type("backend")
        .into_iter()
        .find(|b| b["hook"] == "net.connect")
        .expect("net.connect backend");
    assert_eq!(backend["backend"], "cgroup");
    let limits = backend["limits"].as_array().expect("limits").clone();
    if signals {
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "bash: {status} {stderr}"
        );
        assert!(limits.is_empty(), "{limits:?}");
    } else {
        assert_eq!(
            status.code(),
            Some(1),
            "bash must fail, not be killed: {status}"
        );
        assert!(stderr.contains("Operation not permitted"), "{stderr}");
        assert_eq!(limits.len(), 1, "{limits:?}");
        assert!(
            limits[0]
                .as_str()
                .unwrap_or_default()
                .contains("does not kill the task"),
            "{limits:?}"
        );
    }
    let events = finished.events();
    let kills = events_of(&events, "kill_port");
    assert_eq!(kills.len(), 1, "{kills:?}");
    assert_eq!(kills[0]["verdict"], "kill");
    assert_eq!(kills[0]["backend"], "cgroup");
    assert_eq!(kills[0]["pid"], pid);
    assert_eq!(kills[0]["fields"]["net.dport"], port);
    assert_eq!(finished.matches("kill_port"), 1);
}

#[test]
fn ipv4_rules_apply_to_ipv6_sockets_connecting_to_mapped_addresses() {
    if !kernel_tests_enabled("ipv4_rules_apply_to_ipv6_sockets_connecting_to_mapped_addresses") {
        return;
    }
    let work = TempDir::new("mapped");
    let cgroup = TestCgroup::new("mapped");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let policy = write_policy(
        &work,
        "mapped.pol",
        &format!(
            "rule loopback_port {{\n    on net.connect\n    when net.daddr == 127.0.0.1 and net.dport == {port}\n    deny \"to {{net.daddr}}:{{net.dport}}\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    // bash resolves the literal to an AF_INET6 socket address: the kernel
    // sees a connect6 to ::ffff:127.0.0.1, which is IPv4 traffic.
    let mut command = Command::new("bash");
    command.args(["-c", &format!("exec 3<>/dev/tcp/::ffff:127.0.0.1/{port}")]);
    let (refused, _, stderr) = run_in(&cgroup, &mut command);
    let finished = polrt.stop_ok();
    assert!(!refused.success(), "the mapped connect got through");
    assert!(
        stderr.contains("Operation not permitted"),
        "connect must fail with EPERM: {stderr}"
    );
    let events = finished.events();
    let denies = events_of(&events, "loopback_port");
    assert_eq!(denies.len(), 1, "{denies:?}");
    assert_eq!(denies[0]["fields"]["net.daddr"], "127.0.0.1");
    assert_eq!(denies[0]["fields"]["net.dport"], port);
}

#[test]
fn bind_deny_through_the_cgroup_backend_refuses_one_port_only() {
    if !kernel_tests_enabled("bind_deny_through_the_cgroup_backend_refuses_one_port_only") {
        return;
    }
    let work = TempDir::new("bind");
    let cgroup = TestCgroup::new("bind");
    // Two free ports: bind, read the port, close.
    let free_port = || {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port()
    };
    let (blocked_port, open_port) = (free_port(), free_port());
    let policy = write_policy(
        &work,
        "bind.pol",
        &format!(
            "rule no_listener {{\n    on net.bind\n    when net.sport == {blocked_port}\n    deny \"bind {{net.saddr}}:{{net.sport}} refused\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let bind = |port: u16| {
        let mut command = Command::new("python3");
        command.args([
            "-c",
            &format!(
                "import socket; s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen()"
            ),
        ]);
        run_in(&cgroup, &mut command)
    };
    let (refused, pid, stderr) = bind(blocked_port);
    let (allowed, _, allowed_stderr) = bind(open_port);
    let finished = polrt.stop_ok();
    assert!(!refused.success(), "bind to the blocked port succeeded");
    assert!(
        stderr.contains("PermissionError"),
        "bind must fail with EPERM: {stderr}"
    );
    assert!(allowed.success(), "bind to the open port: {allowed_stderr}");
    let backend = finished
        .of_type("backend")
        .into_iter()
        .find(|b| b["hook"] == "net.bind")
        .expect("net.bind backend");
    assert_eq!(backend["backend"], "cgroup");
    let events = finished.events();
    let denies = events_of(&events, "no_listener");
    assert_eq!(denies.len(), 1, "{denies:?}");
    assert_eq!(denies[0]["pid"], pid);
    assert_eq!(denies[0]["fields"]["net.saddr"], "127.0.0.1");
    assert_eq!(denies[0]["fields"]["net.sport"], blocked_port);
    assert_eq!(finished.matches("no_listener"), 1);
}

#[test]
fn the_runtime_never_enforces_on_itself() {
    if !kernel_tests_enabled("the_runtime_never_enforces_on_itself") {
        return;
    }
    support::assert_exempt_from_its_own_bpf_rule("self", Polrt::start_inside);
}

#[test]
fn file_open_audit_reports_the_path() {
    if !kernel_tests_enabled("file_open_audit_reports_the_path") {
        return;
    }
    let work = TempDir::new("open-audit");
    let cgroup = TestCgroup::new("open-audit");
    let secret = work.path.join("secret.txt");
    fs::write(&secret, "polc\n").expect("write file");
    let secret = secret.display().to_string();
    let policy = write_policy(
        &work,
        "audit.pol",
        &format!(
            "rule audit_secret {{\n    on file.open\n    when file.path == \"{secret}\"\n    audit \"{{proc.comm}} opened {{file.path}}\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let (status, pid, _) = run_in(&cgroup, Command::new("cat").arg(&secret));
    let finished = polrt.stop_ok();
    assert!(status.success(), "audit must not enforce: {status}");

    let events = finished.events();
    let audits = events_of(&events, "audit_secret");
    assert_eq!(audits.len(), 1, "{audits:?}");
    let event = audits[0];
    assert_eq!(event["verdict"], "audit");
    assert_eq!(event["hook"], "file.open");
    assert_eq!(event["pid"], pid);
    assert_eq!(event["comm"], "cat");
    assert_eq!(event["fields"]["file.path"], secret.as_str());
    assert_eq!(event["message"], format!("cat opened {secret}").as_str());
}

#[test]
fn monitor_mode_reports_would_deny_and_would_kill_and_enforces_nothing() {
    if !kernel_tests_enabled("monitor_mode_reports_would_deny_and_would_kill_and_enforces_nothing")
    {
        return;
    }
    let work = TempDir::new("monitor");
    let cgroup = TestCgroup::new("monitor");
    let victim = victim(&work);
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let policy = write_policy(
        &work,
        "monitor.pol",
        &format!(
            "rule kill_victim {{\n    on exec\n    when exec.path == \"{victim}\"\n    kill\n}}\n\
             rule block_port {{\n    on net.connect\n    when net.dport == {port}\n    deny\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &["--monitor"]);
    let (ran, _, _) = run_in(&cgroup, &mut Command::new(&victim));
    let (connected, _, stderr) = run_in(
        &cgroup,
        Command::new("bash").args(["-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")]),
    );
    let finished = polrt.stop_ok();

    assert!(ran.success(), "monitor mode must not kill: {ran}");
    assert!(
        connected.success(),
        "monitor mode must not refuse: {stderr}"
    );
    let events = finished.events();
    let kills = events_of(&events, "kill_victim");
    assert_eq!(kills.len(), 1, "{kills:?}");
    assert_eq!(kills[0]["verdict"], "would-kill");
    assert_eq!(kills[0]["action"], "kill");
    let denies = events_of(&events, "block_port");
    assert_eq!(denies.len(), 1, "{denies:?}");
    assert_eq!(denies[0]["verdict"], "would-deny");
    assert!(
        finished.stderr.contains("monitor mode"),
        "{}",
        finished.stderr
    );
}

#[test]
fn ring_buffer_overflow_is_counted_not_silent() {
    if !kernel_tests_enabled("ring_buffer_overflow_is_counted_not_silent") {
        return;
    }
    let work = TempDir::new("overflow");
    let cgroup = TestCgroup::new("overflow");
    let policy = polc_tests::repo_root().join("tests/e2e/open_burst.pol");
    // One page of ring buffer holds a dozen records; the burst is thousands.
    let polrt = Polrt::start(&policy, &cgroup, &work, &["--ringbuf-size", "4096"]);
    let (status, _, stderr) = run_in(
        &cgroup,
        Command::new("sh").args([
            "-c",
            "i=0; while [ $i -lt 20000 ]; do : < /dev/null; i=$((i+1)); done",
        ]),
    );
    assert!(status.success(), "burst: {stderr}");
    let finished = polrt.stop_ok();

    let delivered = finished.events().len() as u64;
    let reported: u64 = finished
        .of_type("loss")
        .iter()
        .map(|l| l["count"].as_u64().expect("count"))
        .sum();
    let lost = finished.summary()["lost"].as_u64().expect("lost");
    let matches = finished.matches("opens");
    assert!(matches >= 20_000, "matches {matches}");
    assert!(lost > 0, "a 4 KiB ring buffer cannot hold {matches} events");
    assert_eq!(reported, lost, "every loss is reported as it happens");
    assert_eq!(
        delivered + lost,
        matches,
        "every match is either delivered or counted as lost"
    );
}

#[test]
fn proc_exe_is_the_executable_the_kernel_runs_for_old_and_new_processes() {
    if !kernel_tests_enabled("proc_exe_is_the_executable_the_kernel_runs") {
        return;
    }
    let work = TempDir::new("proc-exe");
    let cgroup = TestCgroup::new("proc-exe");
    let secret = work.path.join("secret.txt");
    fs::write(&secret, "polc\n").expect("write file");
    let go = work.path.join("go");
    let secret = secret.display().to_string();
    // Started before polrt: nothing recorded its exec. It opens the file
    // with a shell redirection (no exec) once `go` exists.
    let mut older = support::spawn_in(
        &cgroup,
        Command::new("/bin/sh").args([
            "-c",
            &format!(
                "while [ ! -e {go} ]; do sleep 0.05; done; : < {secret}",
                go = go.display()
            ),
        ]),
    );
    let older_exe = fs::read_link(format!("/proc/{}/exe", older.id()))
        .expect("exe of the older process")
        .display()
        .to_string();
    // A program run by another name: a symbolic link to cat.
    let link = work.path.join("kitten");
    std::os::unix::fs::symlink("/bin/cat", &link).expect("symlink");
    let policy = write_policy(
        &work,
        "exe.pol",
        &format!(
            "rule exe_of_opener {{\n    on file.open\n    when file.path == \"{secret}\"\n    audit \"{{proc.exe}}\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let (status, cat_pid, _) = run_in(&cgroup, Command::new(&link).arg(&secret));
    assert!(status.success(), "cat: {status}");
    fs::write(&go, "").expect("signal the older process");
    let older_status = older.wait().expect("wait for the older process");
    assert!(older_status.success(), "older process: {older_status}");
    let older_pid = older.id();
    let finished = polrt.stop_ok();

    let events = finished.events();
    let opens = events_of(&events, "exe_of_opener");
    let exe_of = |pid: u32| {
        opens
            .iter()
            .find(|e| e["pid"] == pid)
            .map(|e| e["fields"]["proc.exe"].clone())
            .unwrap_or_else(|| panic!("no event of pid {pid} in {opens:?}"))
    };
    assert_eq!(
        exe_of(cat_pid),
        support::resolved("/bin/cat").as_str(),
        "the file the kernel runs, not the link it was run by"
    );
    assert_eq!(
        exe_of(older_pid),
        older_exe.as_str(),
        "a process older than the policy has its executable too"
    );
}

/// Records do not wake polrt (`BPF_RB_NO_WAKEUP` below a quarter of the
/// ring buffer): its event loop reads on a timer, so an event made after a
/// quiet spell, and one made right after it, are written while polrt runs,
/// within the timer's bound (50 ms idle, 5 ms busy; asserted with room for
/// a loaded machine), not only when it stops.
#[test]
fn events_that_do_not_wake_polrt_are_written_on_its_timer() {
    if !kernel_tests_enabled("events_that_do_not_wake_polrt_are_written_on_its_timer") {
        return;
    }
    let work = TempDir::new("exec-timer");
    let cgroup = TestCgroup::new("exec-timer");
    let policy = polc_tests::repo_root().join("tests/e2e/exec_trace.pol");
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let written = |pid: u32| {
        let start = std::time::Instant::now();
        loop {
            let text = std::fs::read_to_string(polrt.output_path()).unwrap_or_default();
            let line_of_pid = |line: &str| {
                serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v["pid"] == pid)
            };
            if text.lines().any(line_of_pid) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(3),
                "the event of pid {pid} was not written while polrt ran"
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    };
    let mut pids = Vec::new();
    // Idle (nothing read for longer than the loop's 250 ms), then busy.
    for pause in [600, 0] {
        std::thread::sleep(std::time::Duration::from_millis(pause));
        let (status, pid, _) = run_in(&cgroup, &mut Command::new("/bin/true"));
        assert!(status.success(), "/bin/true: {status}");
        let late = written(pid);
        eprintln!("the event of pid {pid} was written {late:?} after /bin/true exited");
        pids.push(pid);
    }
    let finished = polrt.stop_ok();
    let events = finished.events();
    let execs = events_of(&events, "execs");
    for pid in pids {
        assert_eq!(
            execs.iter().filter(|e| e["pid"] == pid).count(),
            1,
            "{execs:?}"
        );
    }
    assert_eq!(finished.summary()["lost"], 0);
}

/// The programs write events without waking the reader (polrt reads on a
/// timer), but for those written as the waiting bytes reach a quarter of
/// the ring buffer, and half of it: within `WAKE_BAND_RECORDS` records of
/// the program's size below each level, each event wakes the reader at
/// once; past the level, none does (the reader was woken on the way). Seen
/// from a reader blocked in an edge-triggered `epoll_wait` on a 4 KiB ring
/// no one reads: after each event, whether it woke the reader is exactly
/// whether the bytes waiting before it were in one of the two bands. The
/// level comes from the size the ring was created with, written by the
/// loader into the frozen config.
#[test]
fn events_wake_the_reader_as_the_ring_fills_to_a_quarter_and_to_half() {
    if !kernel_tests_enabled("events_wake_the_reader_as_the_ring_fills_to_a_quarter_and_to_half") {
        return;
    }
    use aya::programs::{CgroupAttachMode, CgroupSockAddr};
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    let cgroup = TestCgroup::new("ring-wake");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let ring: u32 = 4096;
    let symbol = "net_connect_cgroup4";
    let (policy, mut ebpf) = support::load_in_process(
        &format!("rule seen {{\n    on net.connect\n    when net.dport == {port}\n    audit\n}}\n"),
        ring,
        symbol,
    );
    let program: &mut CgroupSockAddr = ebpf
        .program_mut(symbol)
        .expect("loaded")
        .try_into()
        .expect("a cgroup/connect4 program");
    let dir = fs::File::open(&cgroup.path).expect("open the cgroup");
    program
        .attach(dir, CgroupAttachMode::Single)
        .expect("attach to the test cgroup");
    let record = policy
        .metadata
        .hooks
        .iter()
        .find(|h| h.name == "net.connect")
        .expect("the hook")
        .record_len;
    // What one event takes in the ring.
    let per_event = polc::abi::ringbuf_record_bytes(record);
    let (quarter, half) = (ring / 4, ring / 2);
    let band = polc::abi::WAKE_BAND_RECORDS * per_event;
    assert!(
        band < quarter && half + 4 * per_event < ring,
        "records of {record} bytes leave no room to test in a {ring}-byte ring"
    );

    let ring_fd = polrt::loader::map_fd(&ebpf, polc::abi::MAP_EVENTS)
        .expect("the ring buffer")
        .as_raw_fd();
    // SAFETY: epoll_create1 has no memory preconditions.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(epoll >= 0, "epoll_create1");
    let mut interest = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET) as u32,
        u64: 0,
    };
    // SAFETY: valid descriptors and a valid event.
    let added = unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, ring_fd, &mut interest) };
    assert_eq!(added, 0, "epoll_ctl");
    let (woke_tx, woke) = std::sync::mpsc::channel();
    let (stop_tx, stop) = std::sync::mpsc::channel::<()>();
    // Edge-triggered: each return is one wake-up of the ring's waiters.
    let waiter = std::thread::spawn(move || loop {
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: `event` has room for the one event asked for.
        let n = unsafe { libc::epoll_wait(epoll, &mut event, 1, 500) };
        if n > 0 && woke_tx.send(()).is_err() {
            return;
        }
        if stop.try_recv().is_ok() {
            return;
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let connect = || {
        let mut command = Command::new("bash");
        command.args(["-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")]);
        assert!(run_in(&cgroup, &mut command).0.success(), "connect");
    };
    let mut waiting = 0u32;
    let mut woken = 0;
    let mut n = 0;
    while waiting < half + 3 * per_event {
        n += 1;
        connect();
        // A forced wake-up arrives within microseconds.
        let woke_now = woke.recv_timeout(Duration::from_millis(150)).is_ok();
        while woke.try_recv().is_ok() {}
        let near = |level: u32| level - band <= waiting && waiting < level;
        let expected = near(quarter) || near(half);
        assert_eq!(
            woke_now, expected,
            "event {n}, written with {waiting} bytes waiting (a quarter is {quarter}, half {half}, bands of {band} below them): woke the reader: {woke_now}"
        );
        woken += usize::from(woke_now);
        waiting += per_event;
    }
    // Every event of each band woke it: as many as fit in the two bands.
    let per_band = band.div_ceil(per_event) as usize;
    assert!(
        (2 * per_band - 2..=2 * per_band).contains(&woken),
        "{woken} events woke the reader; the bands hold about {per_band} each"
    );
    let _ = stop_tx.send(());
    waiter.join().expect("the waiter");
    // SAFETY: closing the descriptor this test made.
    unsafe { libc::close(epoll) };
    drop(listener);
}
