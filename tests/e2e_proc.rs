//! End-to-end tests of the process context fields on the real kernel
//! (root): effective ids, login uid, pid namespace, capabilities, terminal,
//! working directory, parent's executable and age. Each workload is a real
//! process tree in a test cgroup whose leaf (`cat`) prints what the kernel
//! says of it in `/proc/self/status` and `/proc/self/stat`; the events of
//! `polrt run` (scoped to the cgroup) must carry exactly those values.

#[path = "e2e/support.rs"]
mod support;

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Instant;

use polc_tests::kernel_tests_enabled;
use serde_json::Value;
use support::{resolved, spawn_in_then, write_policy, Finished, Polrt, TempDir, TestCgroup};

/// The fields every event of the policy carries.
const FIELDS: &str = "proc.pid, proc.uid, proc.gid, proc.euid, proc.egid, proc.auid, proc.vpid, \
                      proc.host_pidns, proc.cap_effective, proc.tty, proc.cwd, proc.parent.exe, \
                      proc.age";

/// What the leaf process prints: its status, stat, then login uid (no
/// newline after it).
const LEAF: &str = "cat /proc/self/status /proc/self/stat /proc/self/loginuid; true";

/// Traces on two backends of this host: the `cat` opening its status
/// (`file.open`) and the exec of `cat` (`exec`).
fn policy(work: &TempDir, cat: &str) -> std::path::PathBuf {
    write_policy(
        work,
        "proc.pol",
        &format!(
            "trace opens {{\n    on file.open\n    when proc.comm == \"cat\" and file.path endswith \"/status\"\n    emit {FIELDS}\n}}\n\n\
             trace execs {{\n    on exec\n    when exec.path == \"{cat}\"\n    emit {FIELDS}\n}}\n"
        ),
    )
}

/// What the kernel said of the leaf in its own `/proc/self` files.
struct Leaf {
    pid: u64,
    uid: u64,
    euid: u64,
    gid: u64,
    egid: u64,
    cap_effective: u64,
    /// `NSpid`: the pid in every namespace, outermost first.
    ns_pids: Vec<u64>,
    /// `tty_nr` of `/proc/self/stat`.
    tty_nr: u64,
    loginuid: u64,
}

fn parse_leaf(out: &str) -> Leaf {
    let status: HashMap<&str, Vec<&str>> = out
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k, v.split_whitespace().collect()))
        .collect();
    let num = |k: &str, i: usize| -> u64 {
        status
            .get(k)
            .and_then(|v| v.get(i))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {k}[{i}] in {out}"))
    };
    let pid = num("Pid", 0);
    let stat = out
        .lines()
        .find(|l| l.starts_with(&format!("{pid} (")))
        .unwrap_or_else(|| panic!("no stat line in {out}"));
    let after = stat.rsplit_once(") ").expect("stat has a comm").1;
    // Fields after the comm: state ppid pgrp session tty_nr ...
    let tty_nr: u64 = after
        .split_whitespace()
        .nth(4)
        .and_then(|v| v.parse().ok())
        .expect("tty_nr");
    let loginuid = out
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no login uid at the end of {out}"));
    Leaf {
        pid,
        uid: num("Uid", 0),
        euid: num("Uid", 1),
        gid: num("Gid", 0),
        egid: num("Gid", 1),
        cap_effective: u64::from_str_radix(status["CapEff"][0], 16).expect("CapEff"),
        ns_pids: status["NSpid"]
            .iter()
            .map(|p| p.parse().expect("NSpid"))
            .collect(),
        tty_nr,
        loginuid,
    }
}

/// The kernel's name of the terminal `tty_nr` (`tty_struct.name`): `pts3`
/// for a pseudo-terminal, `tty1` for a virtual console, empty for none.
fn tty_name(tty_nr: u64) -> String {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = ((tty_nr >> 12) & 0xf_ff00) | (tty_nr & 0xff);
    match major {
        0 => String::new(),
        136..=143 => format!("pts{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        _ => panic!("a terminal this test cannot name: {major}:{minor}"),
    }
}

/// Runs `command` in the cgroup (after `then` in the child) and returns its
/// standard output (terminal line ends made plain) and how long it ran, in
/// nanoseconds.
fn run<F>(cgroup: &TestCgroup, command: &mut Command, then: F) -> (String, u64)
where
    F: FnMut() -> std::io::Result<()> + Send + Sync + 'static,
{
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let started = Instant::now();
    let mut child = spawn_in_then(cgroup, command, then);
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read stdout");
    let status = child.wait().expect("wait");
    let elapsed = started.elapsed().as_nanos() as u64;
    assert!(status.success(), "{command:?}: {status}\n{out}");
    (out.replace('\r', ""), elapsed)
}

/// The event of `trace` for the leaf.
fn event_of<'a>(finished: &'a Finished, trace: &str, leaf: &Leaf) -> &'a Value {
    finished
        .lines
        .iter()
        .filter(|l| l["type"] == "event" && l["rule"] == trace)
        .find(|e| e["fields"]["proc.pid"] == leaf.pid)
        .unwrap_or_else(|| {
            panic!(
                "no {trace} event of pid {}: {:?}\n{}",
                leaf.pid, finished.lines, finished.stderr
            )
        })
}

/// Checks every field of `event` against what the kernel said of the leaf.
fn check(event: &Value, leaf: &Leaf, cwd: &str, parent_exe: &str, ran_ns: u64) {
    let f = &event["fields"];
    assert_eq!(f["proc.uid"], leaf.uid, "{event}");
    assert_eq!(f["proc.euid"], leaf.euid, "{event}");
    assert_eq!(f["proc.gid"], leaf.gid, "{event}");
    assert_eq!(f["proc.egid"], leaf.egid, "{event}");
    assert_eq!(f["proc.auid"], leaf.loginuid, "{event}");
    assert_eq!(f["proc.cap_effective"], leaf.cap_effective, "{event}");
    assert_eq!(
        f["proc.vpid"],
        *leaf.ns_pids.last().expect("NSpid"),
        "{event}"
    );
    assert_eq!(f["proc.host_pidns"], leaf.ns_pids.len() == 1, "{event}");
    assert_eq!(f["proc.tty"], tty_name(leaf.tty_nr).as_str(), "{event}");
    assert_eq!(f["proc.cwd"], cwd, "{event}");
    assert_eq!(f["proc.parent.exe"], parent_exe, "{event}");
    let age = f["proc.age"].as_u64().expect("proc.age is a number");
    assert!(
        age > 0 && age < ran_ns,
        "age {age} ns, ran {ran_ns} ns: {event}"
    );
}

fn stop(polrt: Polrt) -> Finished {
    let finished = polrt.stop_ok();
    assert_eq!(finished.summary()["lost"], 0);
    finished
}

/// `sh -> cat` with the real uid 65534 and the effective uid 0 (setpriv
/// execs into cat), a login uid set to 4242, in a working directory of the
/// test: the ids, capabilities, login uid, cwd, host pid namespace and the
/// parent's executable (the shell) are the kernel's.
#[test]
fn effective_ids_login_uid_cwd_and_parent_exe_are_the_kernels() {
    if !kernel_tests_enabled("effective_ids_login_uid_cwd_and_parent_exe_are_the_kernels") {
        return;
    }
    let work = TempDir::new("proc-ids");
    let cgroup = TestCgroup::new("proc-ids");
    let cat = resolved("/bin/cat");
    let polrt = Polrt::start(&policy(&work, &cat), &cgroup, &work, &[]);
    let cwd = work.path.join("a working dir");
    fs::create_dir(&cwd).expect("mkdir");
    let inner = "setpriv --ruid 65534 --euid 0 --rgid 65534 --egid 0 --clear-groups -- \
                 cat /proc/self/status /proc/self/stat /proc/self/loginuid; true";
    let (out, ran) = run(
        &cgroup,
        Command::new("/bin/sh")
            .args(["-c", inner])
            .current_dir(&cwd),
        || {
            // Sets the login uid as login(1) does (children inherit it);
            // refused where it is immutable, and then it is what it was.
            let _ = fs::write("/proc/self/loginuid", "4242");
            Ok(())
        },
    );
    let finished = stop(polrt);
    let leaf = parse_leaf(&out);
    assert_eq!(
        (leaf.uid, leaf.euid, leaf.gid, leaf.egid),
        (65534, 0, 65534, 0)
    );
    for trace in ["opens", "execs"] {
        let event = event_of(&finished, trace, &leaf);
        check(event, &leaf, &resolved(&cwd), &resolved("/bin/sh"), ran);
        assert_eq!(event["fields"]["proc.host_pidns"], true);
        assert_eq!(event["fields"]["proc.vpid"], leaf.pid);
    }
}

/// `unshare --pid --fork -> sh -> cat`: in a new pid namespace, `cat` is pid
/// 2 there (the shell is 1) and not in the host's namespace.
#[test]
fn a_new_pid_namespace_gives_the_namespaces_pid() {
    if !kernel_tests_enabled("a_new_pid_namespace_gives_the_namespaces_pid") {
        return;
    }
    let work = TempDir::new("proc-pidns");
    let cgroup = TestCgroup::new("proc-pidns");
    let cat = resolved("/bin/cat");
    let polrt = Polrt::start(&policy(&work, &cat), &cgroup, &work, &[]);
    let (out, ran) = run(
        &cgroup,
        Command::new("unshare")
            .args(["--pid", "--fork", "--", "/bin/sh", "-c", LEAF])
            .current_dir(&work.path),
        || Ok(()),
    );
    let finished = stop(polrt);
    let leaf = parse_leaf(&out);
    assert_eq!(leaf.ns_pids.len(), 2, "{out}");
    assert_eq!(leaf.ns_pids[1], 2, "{out}");
    for trace in ["opens", "execs"] {
        let event = event_of(&finished, trace, &leaf);
        check(
            event,
            &leaf,
            &resolved(&work.path),
            &resolved("/bin/sh"),
            ran,
        );
        assert_eq!(event["fields"]["proc.host_pidns"], false);
        assert_eq!(event["fields"]["proc.vpid"], 2);
    }
}

/// `script -> sh -> sh -> cat`: with a controlling terminal (a new
/// pseudo-terminal), `proc.tty` is its kernel name.
#[test]
fn a_controlling_terminal_is_named() {
    if !kernel_tests_enabled("a_controlling_terminal_is_named") {
        return;
    }
    let work = TempDir::new("proc-tty");
    let cgroup = TestCgroup::new("proc-tty");
    let cat = resolved("/bin/cat");
    let polrt = Polrt::start(&policy(&work, &cat), &cgroup, &work, &[]);
    let (out, ran) = run(
        &cgroup,
        Command::new("script")
            .args(["-qec", &format!("/bin/sh -c '{LEAF}'"), "/dev/null"])
            .current_dir(&work.path),
        || Ok(()),
    );
    let finished = stop(polrt);
    let leaf = parse_leaf(&out);
    let tty = tty_name(leaf.tty_nr);
    assert!(tty.starts_with("pts"), "{tty:?}: {out}");
    for trace in ["opens", "execs"] {
        let event = event_of(&finished, trace, &leaf);
        check(
            event,
            &leaf,
            &resolved(&work.path),
            &resolved("/bin/sh"),
            ran,
        );
    }
}

/// `polc test` runs the `test` blocks of a policy on every process context
/// field on the interpreter and on the compiled programs in the kernel, and
/// both decide as the blocks expect.
#[test]
fn polc_test_decides_the_process_context_in_the_kernel() {
    if !kernel_tests_enabled("polc_test_decides_the_process_context_in_the_kernel") {
        return;
    }
    support::assert_polc_test_in_kernel(
        &polc_tests::repo_root().join("tests/e2e/proc_context.pol"),
        18,
    );
}

/// `unshare --pid --fork -> bash`, which prints its own status and then
/// connects: on the cgroup backend of `net.connect`, a denied connect's
/// message and fields carry the process context of the connecting task
/// (pid 1 of its namespace, its parent `unshare`).
#[test]
fn the_cgroup_backend_reads_the_process_context_of_the_connecting_task() {
    if !kernel_tests_enabled("the_cgroup_backend_reads_the_process_context_of_the_connecting_task")
    {
        return;
    }
    let work = TempDir::new("proc-connect");
    let cgroup = TestCgroup::new("proc-connect");
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let policy = write_policy(
        &work,
        "connect.pol",
        &format!(
            "rule no_connect_from_a_pid_namespace {{\n    on net.connect\n    \
             when net.dport == {port} and not proc.host_pidns\n    \
             deny \"vpid {{proc.vpid}} host {{proc.host_pidns}} euid {{proc.euid}} egid {{proc.egid}} \
             auid {{proc.auid}} caps {{proc.cap_effective}} tty [{{proc.tty}}] cwd {{proc.cwd}} \
             parent {{proc.parent.exe}}\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    // `read` is a builtin: bash itself opens its /proc/self files.
    let script = format!(
        "for f in status stat loginuid; do IFS= read -r -d '' s < /proc/self/$f; printf '%s' \"$s\"; done; \
         exec 3<>/dev/tcp/127.0.0.1/{port}"
    );
    let mut command = Command::new("unshare");
    command
        .args(["--pid", "--fork", "--", "bash", "-c", &script])
        .current_dir(&work.path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = spawn_in_then(&cgroup, &mut command, || Ok(()));
    let output = child.wait_with_output().expect("wait");
    let finished = stop(polrt);
    let out = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "the connect must be refused: {out}"
    );
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    let leaf = parse_leaf(&out);
    assert_eq!(leaf.ns_pids.len(), 2, "{out}");
    let backend = finished
        .of_type("backend")
        .into_iter()
        .find(|b| b["hook"] == "net.connect")
        .expect("net.connect backend");
    assert_eq!(backend["backend"], "cgroup");
    let denies: Vec<&Value> = finished
        .events()
        .into_iter()
        .filter(|e| e["rule"] == "no_connect_from_a_pid_namespace")
        .collect();
    assert_eq!(denies.len(), 1, "{denies:?}");
    let event = denies[0];
    assert_eq!(event["pid"], leaf.pid);
    assert_eq!(
        event["message"],
        format!(
            "vpid {} host false euid {} egid {} auid {} caps {} tty [{}] cwd {} parent {}",
            leaf.ns_pids[1],
            leaf.euid,
            leaf.egid,
            leaf.loginuid,
            leaf.cap_effective,
            tty_name(leaf.tty_nr),
            resolved(&work.path),
            resolved("/usr/bin/unshare"),
        )
        .as_str()
    );
    assert_eq!(event["fields"]["proc.vpid"], 1);
    assert_eq!(event["fields"]["proc.host_pidns"], false);
    assert_eq!(event["fields"]["proc.cap_effective"], leaf.cap_effective);
}

/// A rule on `proc.cwd` written with a symbolic link to the directory
/// matches by the directory's identity: `cat` run in the real directory
/// is stopped (SIGKILL on the fallback, EPERM on LSM), the same `cat` run
/// elsewhere reads the same file, and the event shows the resolved path.
#[test]
fn a_working_directory_rule_matches_the_directory_by_identity() {
    if !kernel_tests_enabled("a_working_directory_rule_matches_the_directory_by_identity") {
        return;
    }
    let work = TempDir::new("proc-cwd");
    let cgroup = TestCgroup::new("proc-cwd");
    let dir = work.path.join("secret dir");
    let elsewhere = work.path.join("elsewhere");
    fs::create_dir(&dir).expect("mkdir");
    fs::create_dir(&elsewhere).expect("mkdir");
    let marker = dir.join("marker");
    fs::write(&marker, "x").expect("write marker");
    let link = work.path.join("link");
    std::os::unix::fs::symlink(&dir, &link).expect("symlink");
    let policy = write_policy(
        &work,
        "cwd.pol",
        &format!(
            "rule not_from_there {{\n    on file.open\n    when proc.cwd == \"{}\" and file.path endswith \"/marker\"\n    deny \"{{proc.comm}} in {{proc.cwd}} opened {{file.path}}\"\n}}\n",
            link.display()
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let cat = |cwd: &std::path::Path| {
        let mut command = Command::new("/bin/cat");
        command
            .arg(&marker)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = spawn_in_then(&cgroup, &mut command, || Ok(()));
        let pid = child.id();
        (child.wait().expect("wait"), pid)
    };
    let (denied, pid) = cat(&dir);
    let (allowed, _) = cat(&elsewhere);
    let finished = stop(polrt);
    assert!(
        !denied.success(),
        "cat in {} must be stopped",
        dir.display()
    );
    assert!(allowed.success(), "cat elsewhere: {allowed}");
    let denies: Vec<&Value> = finished
        .events()
        .into_iter()
        .filter(|e| e["rule"] == "not_from_there")
        .collect();
    assert_eq!(denies.len(), 1, "{denies:?}");
    assert_eq!(denies[0]["pid"], pid);
    assert_eq!(denies[0]["fields"]["proc.cwd"], resolved(&dir).as_str());
    assert_eq!(
        denies[0]["message"],
        format!("cat in {} opened {}", resolved(&dir), resolved(&marker)).as_str()
    );
}

/// One ancestor as `/proc` shows it: its pid, the names of its threads
/// (`real_parent` is the thread that forked), and its executable where
/// `/proc` can name it (not a deleted file or a memfd, readable).
struct Ancestor {
    pid: u64,
    comms: Vec<String>,
    exe: Option<String>,
}

/// The process `pid`'s ancestors from `/proc`, up to and past the top of the
/// tree (pid 0: no comm, no exe).
fn ancestors_from_proc(mut pid: u64, levels: usize) -> Vec<Ancestor> {
    let mut out = Vec::new();
    for _ in 0..levels {
        if pid != 0 {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
            let after = stat.rsplit_once(") ").expect("comm").1;
            pid = after
                .split_whitespace()
                .nth(1)
                .and_then(|p| p.parse().ok())
                .expect("ppid");
        }
        if pid == 0 {
            out.push(Ancestor {
                pid: 0,
                comms: vec![String::new()],
                exe: Some(String::new()),
            });
            continue;
        }
        let comms = fs::read_dir(format!("/proc/{pid}/task"))
            .expect("tasks")
            .filter_map(|t| fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .map(|c| c.trim_end().to_string())
            .collect();
        let exe = fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .map(|p| p.display().to_string())
            .filter(|p| !p.ends_with(" (deleted)") && !p.starts_with("/memfd:"));
        out.push(Ancestor { pid, comms, exe });
    }
    out
}

/// `proc.ancestors[1..=8]` of a real tree: the test binary spawns `sh`,
/// which runs `sh`, which runs a copy of `cat` (`polc-leaf`). Ancestors 1
/// to 3 (the two shells and this test binary) are checked exactly; past
/// them, the pids are the chain `/proc` shows, each comm one of that
/// process's threads' names, each exe the one `/proc` names (where it can),
/// and past the top of the tree pid 0, no name and no executable.
/// `proc.ancestors[*]` matches an ancestor at any depth, and only one that
/// exists.
#[test]
fn ancestors_of_a_real_process_tree() {
    if !kernel_tests_enabled("ancestors_of_a_real_process_tree") {
        return;
    }
    let work = TempDir::new("proc-ancestors");
    let cgroup = TestCgroup::new("proc-ancestors");
    let leaf = support::copy_executable("/bin/cat", &work, "polc-leaf");
    let me = resolved(std::env::current_exe().expect("current exe"));
    let emit: Vec<String> = (1..=8)
        .flat_map(|n| ["pid", "comm", "exe"].map(|m| format!("proc.ancestors[{n}].{m}")))
        .collect();
    let policy = write_policy(
        &work,
        "ancestors.pol",
        &format!(
            "trace leaf {{\n    on file.open\n    when proc.comm == \"polc-leaf\" and file.path endswith \"/status\"\n    emit proc.pid, {}\n}}\n\n\
             rule under_this_test {{\n    on file.open\n    when proc.comm == \"polc-leaf\" and proc.ancestors[*].exe == \"{me}\" and file.path endswith \"/stat\"\n    audit \"{{proc.comm}} runs under {{proc.ancestors[3].comm}}\"\n}}\n\n\
             rule under_nothing {{\n    on file.open\n    when proc.comm == \"polc-leaf\" and proc.ancestors[*].comm == \"polc-no-such\"\n    audit\n}}\n",
            emit.join(", ")
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let inner = format!("{} /proc/self/status /proc/self/stat; true", leaf.display());
    let outer = format!("/bin/sh -c '{inner}'; true");
    let mut command = Command::new("/bin/sh");
    command
        .args(["-c", &outer])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let spawner = support::thread_comm();
    let child = spawn_in_then(&cgroup, &mut command, || Ok(()));
    let outer_pid = u64::from(child.id());
    let output = child.wait_with_output().expect("wait");
    let finished = stop(polrt);
    assert!(output.status.success(), "{}", output.status);
    let (leaf_pid, inner_pid) = pid_and_ppid(&output.stdout);

    let event = leaf_event(&finished, leaf_pid);
    let f = &event["fields"];
    let at = |n: usize, m: &str| f[format!("proc.ancestors[{n}].{m}")].clone();
    let sh = resolved("/bin/sh");
    // The tree this test made, exactly.
    assert_eq!(at(1, "pid"), inner_pid, "{event}");
    assert_eq!(at(1, "comm"), "sh", "{event}");
    assert_eq!(at(1, "exe"), sh.as_str(), "{event}");
    assert_eq!(at(2, "pid"), outer_pid, "{event}");
    assert_eq!(at(2, "comm"), "sh", "{event}");
    assert_eq!(at(2, "exe"), sh.as_str(), "{event}");
    assert_eq!(at(3, "pid"), u64::from(std::process::id()), "{event}");
    assert_eq!(at(3, "comm"), spawner.as_str(), "{event}");
    assert_eq!(at(3, "exe"), me.as_str(), "{event}");
    // Above it, what /proc shows of this test's own ancestors.
    let above = ancestors_from_proc(u64::from(std::process::id()), 5);
    for (i, ancestor) in above.iter().enumerate() {
        let n = i + 4;
        assert_eq!(at(n, "pid"), ancestor.pid, "ancestor {n}: {event}");
        let comm = at(n, "comm");
        assert!(
            ancestor.comms.iter().any(|c| comm == c.as_str()),
            "ancestor {n}: {comm} is not one of {:?}: {event}",
            ancestor.comms
        );
        if let Some(exe) = &ancestor.exe {
            assert_eq!(at(n, "exe"), exe.as_str(), "ancestor {n}: {event}");
        }
    }

    let audits: Vec<&Value> = finished
        .events()
        .into_iter()
        .filter(|e| e["rule"] == "under_this_test")
        .collect();
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert_eq!(audits[0]["pid"], leaf_pid);
    assert_eq!(
        audits[0]["message"],
        format!("polc-leaf runs under {spawner}").as_str()
    );
    assert_eq!(finished.matches("under_nothing"), 0);
}

/// The language reference's ancestry rule on a real tree: a copy of the
/// shell named `nginx` runs `sh`, which runs `sh -c true`: that last shell,
/// whose grandparent is `nginx`, is killed at its exec; the middle one
/// (whose grandparent is this test) runs.
#[test]
fn a_shell_whose_grandparent_is_a_web_server_is_killed() {
    if !kernel_tests_enabled("a_shell_whose_grandparent_is_a_web_server_is_killed") {
        return;
    }
    let work = TempDir::new("proc-webshell");
    let cgroup = TestCgroup::new("proc-webshell");
    let nginx = support::copy_executable("/bin/sh", &work, "nginx");
    let sh = resolved("/bin/sh");
    let policy = write_policy(
        &work,
        "webshell.pol",
        &format!(
            "list web_servers = [\"nginx\", \"apache2\", \"httpd\", \"php-fpm\"]\n\n\
             rule shell_whose_grandparent_is_a_web_server {{\n    on exec\n    \
             when exec.path == \"{sh}\" and proc.ancestors[2].comm in web_servers\n    \
             kill \"{{exec.path}} (pid {{proc.pid}}) under {{proc.ancestors[1].comm}} under {{proc.ancestors[2].comm}} ({{proc.ancestors[2].exe}})\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    // The middle shell prints its pid, then the status of its child.
    let script = "/bin/sh -c 'echo $$; /bin/sh -c true; echo $?'; true";
    let mut command = Command::new(&nginx);
    command
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let child = spawn_in_then(&cgroup, &mut command, || Ok(()));
    let output = child.wait_with_output().expect("wait");
    let finished = stop(polrt);
    let out = String::from_utf8_lossy(&output.stdout).to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let middle: u64 = lines[0].parse().expect("the middle shell's pid");
    assert_eq!(
        lines[1], "137",
        "the inner shell must die of SIGKILL: {out}"
    );
    let kills: Vec<&Value> = finished
        .events()
        .into_iter()
        .filter(|e| e["rule"] == "shell_whose_grandparent_is_a_web_server")
        .collect();
    assert_eq!(kills.len(), 1, "{kills:?}");
    let pid = kills[0]["pid"].as_u64().expect("pid");
    assert_ne!(pid, middle);
    assert_eq!(
        kills[0]["message"],
        format!(
            "{sh} (pid {pid}) under sh under nginx ({})",
            resolved(&nginx)
        )
        .as_str()
    );
    assert_eq!(kills[0]["fields"]["proc.ancestors[2].comm"], "nginx");
}

/// A process whose parent exited is reparented (to init, or to a
/// subreaper): its ancestors are its new parent's, and past the top of the
/// tree (the idle task) each has pid 0, no comm and no executable.
#[test]
fn an_orphan_has_its_new_parents_ancestry_and_nothing_past_the_top() {
    if !kernel_tests_enabled("an_orphan_has_its_new_parents_ancestry_and_nothing_past_the_top") {
        return;
    }
    let work = TempDir::new("proc-orphan");
    let cgroup = TestCgroup::new("proc-orphan");
    let leaf = support::copy_executable("/bin/cat", &work, "polc-leaf");
    let emit: Vec<String> = (1..=8)
        .flat_map(|n| ["pid", "comm", "exe"].map(|m| format!("proc.ancestors[{n}].{m}")))
        .collect();
    let policy = write_policy(
        &work,
        "orphan.pol",
        &format!(
            "trace leaf {{\n    on file.open\n    when proc.comm == \"polc-leaf\" and file.path endswith \"/status\"\n    emit proc.pid, proc.ppid, {}\n}}\n",
            emit.join(", ")
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    // The subshell outlives the shell that started it, then becomes the leaf.
    let script = format!(
        "(sleep 0.5; exec {} /proc/self/status /proc/self/stat) & exit 0",
        leaf.display()
    );
    let mut command = Command::new("/bin/sh");
    command
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let child = spawn_in_then(&cgroup, &mut command, || Ok(()));
    let output = child.wait_with_output().expect("wait");
    let finished = stop(polrt);
    let (leaf_pid, parent) = pid_and_ppid(&output.stdout);
    let event = leaf_event(&finished, leaf_pid);
    let f = &event["fields"];
    let at = |n: usize, m: &str| f[format!("proc.ancestors[{n}].{m}")].clone();
    assert_eq!(f["proc.ppid"], parent, "{event}");
    assert_eq!(at(1, "pid"), parent, "{event}");
    // The new parent and its own ancestors, as /proc shows them; the chain
    // of a reparented process is short, so it reaches the top.
    let mut expected = vec![parent];
    expected.extend(ancestors_from_proc(parent, 7).iter().map(|a| a.pid));
    let top = expected.iter().position(|p| *p == 0);
    assert!(top.is_some(), "the chain {expected:?} must reach the top");
    for (i, pid) in expected.iter().enumerate() {
        let n = i + 1;
        assert_eq!(at(n, "pid"), *pid, "ancestor {n}: {event}");
        if *pid == 0 {
            assert_eq!(at(n, "comm"), "", "ancestor {n}: {event}");
            assert_eq!(at(n, "exe"), "", "ancestor {n}: {event}");
        } else {
            assert_ne!(at(n, "comm"), "", "ancestor {n}: {event}");
        }
    }
}

/// `Pid` and `PPid` of the `/proc/PID/status` text a workload printed.
fn pid_and_ppid(stdout: &[u8]) -> (u64, u64) {
    let out = String::from_utf8_lossy(stdout);
    let status: HashMap<&str, &str> = out
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k, v.trim()))
        .collect();
    (
        status["Pid"].parse().expect("Pid"),
        status["PPid"].parse().expect("PPid"),
    )
}

/// The event of rule `leaf` for process `pid`.
fn leaf_event(finished: &Finished, pid: u64) -> &Value {
    finished
        .lines
        .iter()
        .find(|l| l["rule"] == "leaf" && l["fields"]["proc.pid"] == pid)
        .unwrap_or_else(|| panic!("no leaf event: {:?}\n{}", finished.lines, finished.stderr))
}
