//! End-to-end tests of the language's operators on the real kernel (root):
//! bit tests with named constants (`file.flags has O_TRUNC`, `has any`,
//! `file.read`) on the real open flags of real opens. `polrt run` is scoped
//! to a test cgroup; the workload (python3) opens files under the test's own
//! directory with the flags given, and the events carry the kernel's values.
//! On this host file.open runs on its `tp_btf` backend (`deny` kills the
//! task when the call returns); the LSM backend is the VMs' (the same
//! decision code).
//!
//! Safe on a shared host: every rule is scoped to the test cgroup and to
//! paths under the test's directory.

#[path = "e2e/support.rs"]
mod support;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;

use polc_tests::kernel_tests_enabled;
use serde_json::Value;
use support::{events_of, resolved, run_in, write_policy, Polrt, TempDir, TestCgroup};

const PYTHON: &str = "/usr/bin/python3";
const O_WRONLY: u64 = 0o1;
const O_RDWR: u64 = 0o2;
const O_TRUNC: u64 = 0o1000;
const O_APPEND: u64 = 0o2000;
const O_NONBLOCK: u64 = 0o4000;

/// Opens `path` with `flags` (python's `os.open`) in the test cgroup.
fn open_in(cgroup: &TestCgroup, path: &str, flags: u64) -> (std::process::ExitStatus, u32) {
    let script = format!("import os\nos.close(os.open({path:?}, {flags}))\n");
    let (status, pid, stderr) = run_in(cgroup, Command::new(PYTHON).arg("-c").arg(script));
    assert!(
        status.success() || status.signal().is_some(),
        "{status}: {stderr}"
    );
    (status, pid)
}

#[test]
fn open_flags_bit_tests_decide_on_the_kernels_flags() {
    if !kernel_tests_enabled("open_flags_bit_tests_decide_on_the_kernels_flags") {
        return;
    }
    let work = TempDir::new("lang-bits");
    let cgroup = TestCgroup::new("lang-bits");
    let dir = resolved(&work.path);
    let file = format!("{dir}/data.txt");
    fs::write(&file, "polc\n").expect("write file");
    let policy = write_policy(
        &work,
        "bits.pol",
        &format!(
            "rule deny_truncate {{\n    on file.open\n    when file.path startswith \"{dir}/\" and file.flags has O_TRUNC\n    deny \"{{file.flags}}\"\n}}\n\n\
             rule audit_read {{\n    on file.open\n    when file.path startswith \"{dir}/\" and file.read\n         and file.flags has any [O_APPEND, O_NONBLOCK]\n    audit \"{{file.flags}} {{file.write}}\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let (truncating, truncating_pid) = open_in(&cgroup, &file, O_WRONLY | O_TRUNC);
    let (appending, _) = open_in(&cgroup, &file, O_WRONLY | O_APPEND);
    let (read_write, read_write_pid) = open_in(&cgroup, &file, O_RDWR | O_APPEND);
    let (read_nonblock, read_nonblock_pid) = open_in(&cgroup, &file, O_NONBLOCK);
    let (read_only, _) = open_in(&cgroup, &file, 0);
    let finished = polrt.stop_ok();

    // O_TRUNC: denied (killed when the open returns on this backend).
    assert_eq!(truncating.signal(), Some(libc::SIGKILL), "{truncating}");
    // Without O_TRUNC: allowed.
    for (what, status) in [
        ("append", appending),
        ("read-write", read_write),
        ("read non-blocking", read_nonblock),
        ("read-only", read_only),
    ] {
        assert!(status.success(), "{what}: {status}");
    }

    let events = finished.events();
    let denied = events_of(&events, "deny_truncate");
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["pid"], truncating_pid);
    let flags = denied[0]["fields"]["file.flags"]
        .as_u64()
        .expect("file.flags");
    // The kernel's flags: the access mode and O_TRUNC as asked (plus what
    // the kernel adds, O_LARGEFILE).
    assert_eq!(flags & 0o3, O_WRONLY, "{flags:#o}");
    assert_ne!(flags & O_TRUNC, 0, "{flags:#o}");

    // `file.read` holds for O_RDWR and O_RDONLY (0), not for O_WRONLY.
    let reads = events_of(&events, "audit_read");
    let pids: Vec<u64> = reads.iter().filter_map(|e| e["pid"].as_u64()).collect();
    assert_eq!(
        pids,
        [u64::from(read_write_pid), u64::from(read_nonblock_pid)],
        "{reads:?}"
    );
    let flags_of = |event: &Value| event["fields"]["file.flags"].as_u64().expect("flags");
    assert_eq!(flags_of(reads[0]) & 0o3, O_RDWR);
    assert_ne!(flags_of(reads[0]) & O_APPEND, 0);
    assert_eq!(reads[0]["fields"]["file.write"], true);
    assert_eq!(flags_of(reads[1]) & 0o3, 0);
    assert_ne!(flags_of(reads[1]) & O_NONBLOCK, 0);
    assert_eq!(reads[1]["fields"]["file.write"], false);
}

#[test]
fn globs_and_path_parts_decide_on_the_resolved_path() {
    if !kernel_tests_enabled("globs_and_path_parts_decide_on_the_resolved_path") {
        return;
    }
    let work = TempDir::new("lang-glob");
    let cgroup = TestCgroup::new("lang-glob");
    let dir = resolved(&work.path);
    assert!(
        !dir.contains(['*', '?', '\\', '"']),
        "the test directory has glob characters: {dir}"
    );
    for sub in ["home/alice/.ssh", "home/bob/x/.ssh", "etc/sub"] {
        fs::create_dir_all(format!("{dir}/{sub}")).expect("mkdir");
    }
    let files = [
        "home/alice/.ssh/id_rsa",
        "home/alice/.ssh/id_rsa.pub",
        "home/bob/x/.ssh/id_ed25519",
        "home/alice/notes",
        "etc/passwd",
        "etc/sub/passwd",
    ];
    for file in files {
        fs::write(format!("{dir}/{file}"), "polc\n").expect("write file");
    }
    let policy = write_policy(
        &work,
        "glob.pol",
        &format!(
            "rule private_keys {{\n    on file.open\n    when file.path matches \"{dir}/home/*/.ssh/id_*\" and not file.name endswith \".pub\"\n    deny \"{{file.path}}\"\n}}\n\n\
             rule directly_in_etc {{\n    on file.open\n    when file.dir == \"{dir}/etc\" and file.name == \"passwd\"\n    audit \"{{file.path}}\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let mut outcomes = Vec::new();
    for file in files {
        let path = format!("{dir}/{file}");
        let (status, pid, _) = run_in(&cgroup, Command::new("cat").arg(&path));
        outcomes.push((file, status, pid));
    }
    let finished = polrt.stop_ok();
    let events = finished.events();
    let denied = events_of(&events, "private_keys");
    let audited = events_of(&events, "directly_in_etc");
    for (file, status, pid) in outcomes {
        let path = format!("{dir}/{file}");
        let of = |events: &[&Value]| {
            events
                .iter()
                .filter(|e| e["pid"] == pid && e["fields"]["file.path"] == path.as_str())
                .count()
        };
        match file {
            // `*` is one component: alice's key matches, not bob's below
            // another directory; the public key is excepted by its name.
            "home/alice/.ssh/id_rsa" => {
                assert_eq!(status.signal(), Some(libc::SIGKILL), "{file}: {status}");
                assert_eq!(of(&denied), 1, "{file}: {denied:?}");
            }
            // Directly in etc, not below.
            "etc/passwd" => {
                assert!(status.success(), "{file}: {status}");
                assert_eq!(of(&audited), 1, "{file}: {audited:?}");
            }
            _ => {
                assert!(status.success(), "{file}: {status}");
                assert_eq!(of(&denied) + of(&audited), 0, "{file}: {events:?}");
            }
        }
    }
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(audited.len(), 1, "{audited:?}");
}

#[test]
fn two_fields_compare_on_the_kernels_values() {
    if !kernel_tests_enabled("two_fields_compare_on_the_kernels_values") {
        return;
    }
    let work = TempDir::new("lang-fields");
    let cgroup = TestCgroup::new("lang-fields");
    let dir = resolved(&work.path);
    let file = format!("{dir}/owned");
    fs::write(&file, "polc\n").expect("write file");
    let policy = write_policy(
        &work,
        "fields.pol",
        &format!(
            "rule chown_to_another {{\n    on file.chown\n    when file.path == \"{file}\" and file.uid != proc.uid\n    deny \"{{file.uid}} {{proc.uid}}\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    // The caller is root (uid 0): to 0 is its own uid, to 4321 another's.
    let chown = |uid: u32| {
        let script = format!("import os\nos.chown({file:?}, {uid}, -1)\n");
        run_in(&cgroup, Command::new(PYTHON).arg("-c").arg(script))
    };
    let (own, _, own_err) = chown(0);
    let (other, other_pid, _) = chown(4321);
    let finished = polrt.stop_ok();
    assert!(own.success(), "{own}: {own_err}");
    // Denied: refused (LSM) or killed when the call returns (tp_btf).
    assert!(!other.success(), "{other}");
    let events = finished.events();
    let denied = events_of(&events, "chown_to_another");
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["pid"], other_pid);
    assert_eq!(denied[0]["fields"]["file.uid"], 4321);
    assert_eq!(denied[0]["fields"]["proc.uid"], 0);
}

#[test]
fn udp_and_tcp_connects_differ_by_protocol_and_type() {
    if !kernel_tests_enabled("udp_and_tcp_connects_differ_by_protocol_and_type") {
        return;
    }
    let work = TempDir::new("lang-proto");
    let cgroup = TestCgroup::new("lang-proto");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let policy = write_policy(
        &work,
        "proto.pol",
        &format!(
            "rule no_udp {{\n    on net.connect\n    when net.dport == {port} and net.protocol == IPPROTO_UDP\n    deny \"{{net.protocol}} {{net.type}}\"\n}}\n\n\
             rule tcp {{\n    on net.connect\n    when net.dport == {port} and net.type == SOCK_STREAM\n    audit \"{{net.protocol}} {{net.type}}\"\n}}\n\n\
             rule bind_udp {{\n    on net.bind\n    when net.type == SOCK_DGRAM and net.sport == {port}\n    audit \"{{net.protocol}} {{net.type}}\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let connect = |kind: &str| {
        let script = format!(
            "import socket, sys\n\
             s = socket.socket(socket.AF_INET, socket.{kind})\n\
             try:\n    s.connect(('127.0.0.1', {port}))\nexcept PermissionError:\n    sys.exit(3)\n"
        );
        run_in(&cgroup, Command::new(PYTHON).arg("-c").arg(script))
    };
    let (udp, udp_pid, udp_err) = connect("SOCK_DGRAM");
    let (tcp, tcp_pid, tcp_err) = connect("SOCK_STREAM");
    // A UDP socket bound to the same port number (TCP holds it, not UDP).
    let bind_script = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.1', {port}))\n"
    );
    let (bound, bind_pid, bind_err) =
        run_in(&cgroup, Command::new(PYTHON).arg("-c").arg(bind_script));
    let finished = polrt.stop_ok();
    assert_eq!(
        udp.code(),
        Some(3),
        "UDP connect must be refused: {udp} {udp_err}"
    );
    assert!(tcp.success(), "TCP connect: {tcp} {tcp_err}");
    assert!(bound.success(), "UDP bind: {bound} {bind_err}");
    let events = finished.events();
    let denied = events_of(&events, "no_udp");
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["pid"], udp_pid);
    assert_eq!(denied[0]["fields"]["net.protocol"], 17);
    assert_eq!(denied[0]["fields"]["net.type"], 2);
    let tcp_events = events_of(&events, "tcp");
    assert_eq!(tcp_events.len(), 1, "{tcp_events:?}");
    assert_eq!(tcp_events[0]["pid"], tcp_pid);
    assert_eq!(tcp_events[0]["fields"]["net.protocol"], 6);
    assert_eq!(tcp_events[0]["fields"]["net.type"], 1);
    let binds = events_of(&events, "bind_udp");
    assert_eq!(binds.len(), 1, "{binds:?}");
    assert_eq!(binds[0]["pid"], bind_pid);
    assert_eq!(binds[0]["fields"]["net.protocol"], 17);
    drop(listener);
}

/// `polc test` on a policy using every operator of this file: the
/// interpreter and the compiled programs (run in the kernel with
/// `BPF_PROG_TEST_RUN`) decide each test as it expects.
#[test]
fn polc_test_decides_the_operators_in_the_kernel_as_the_interpreter() {
    if !kernel_tests_enabled("polc_test_decides_the_operators_in_the_kernel_as_the_interpreter") {
        return;
    }
    support::assert_polc_test_in_kernel(
        &polc_tests::repo_root().join("tests/e2e/lang_operators.pol"),
        16,
    );
}

/// `polc test` of one-literal `contains` tests on the command line and the
/// arguments (decided by a direct search, not an automaton): at the start,
/// at the end, after a near miss, and one byte short, with literals of 1 to
/// 20 bytes, in the kernel as by the interpreter.
#[test]
fn polc_test_decides_contains_searches_in_the_kernel_as_the_interpreter() {
    if !kernel_tests_enabled("polc_test_decides_contains_searches_in_the_kernel_as_the_interpreter")
    {
        return;
    }
    for (file, cases) in [("contains_search.pol", 14), ("contains_search_long.pol", 4)] {
        let policy = polc_tests::repo_root().join("tests/e2e").join(file);
        // Every `contains` of these files is a direct search, none a scan.
        let asm = Command::new(support::polc_bin())
            .args(["build", "--emit", "asm", "-o", "-"])
            .arg(&policy)
            .output()
            .expect("run polc build");
        let asm = String::from_utf8_lossy(&asm.stdout);
        assert!(asm.contains("search: contains"), "{file}");
        assert!(!asm.contains("scan: contains"), "{file}");
        support::assert_polc_test_in_kernel(&policy, cases);
    }
}

/// The directory and base name of the running executable (`proc.exe.dir`,
/// `proc.exe.name`) and of a rename's new path (`file.newdir`,
/// `file.newname`), decided by the programs on the paths the kernel
/// resolves. An open by a program in a given directory (a copy of `cat`
/// there) is audited with its real path; the same program elsewhere, or
/// another name there, is not. A hidden name directly in a directory is
/// refused, one below it and a visible one are not — where the rename's
/// backend resolves the new path (lsm); on tp_btf (no BPF LSM, e.g. a
/// locked-down kernel) the new path is unresolved and the deny rule
/// decides fail-closed, as documented: every rename is killed.
#[test]
fn the_parts_of_the_executable_and_the_new_path_decide_in_the_kernel() {
    if !kernel_tests_enabled("the_parts_of_the_executable_and_the_new_path_decide_in_the_kernel") {
        return;
    }
    let work = TempDir::new("lang-newpath");
    let cgroup = TestCgroup::new("lang-newpath");
    let dir = resolved(&work.path);
    assert!(
        !dir.contains(['*', '?', '\\', '"']),
        "the test directory has glob characters: {dir}"
    );
    for sub in ["etc/sub", "bin", "bin2", "src"] {
        fs::create_dir_all(format!("{dir}/{sub}")).expect("mkdir");
    }
    let target = format!("{dir}/target");
    fs::write(&target, "polc\n").expect("write file");
    let cat = support::copy_executable("/usr/bin/cat", &work, "bin/tcat");
    let cats = [
        cat.clone(),
        support::copy_executable("/usr/bin/cat", &work, "bin2/tcat"),
        support::copy_executable("/usr/bin/cat", &work, "bin/tcat2"),
    ];
    let policy = write_policy(
        &work,
        "newpath.pol",
        &format!(
            "rule opened_by_test_bin {{\n    on file.open\n    when file.path == \"{target}\" and proc.exe.dir == \"{dir}/bin\" and proc.exe.name == \"tcat\"\n    audit \"{{proc.exe}}\"\n}}\n\n\
             rule hidden_into_etc {{\n    on file.rename\n    when file.newdir == \"{dir}/etc\" and file.newname startswith \".\"\n    deny \"{{file.newpath}}\"\n}}\n"
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let mut opens = Vec::new();
    for program in &cats {
        let (status, pid, stderr) = run_in(&cgroup, Command::new(program).arg(&target));
        assert!(status.success(), "{}: {status} {stderr}", program.display());
        opens.push(pid);
    }
    let renames = ["etc/.h1", "etc/sub/.h2", "etc/visible"];
    let mut outcomes = Vec::new();
    for (i, to) in renames.iter().enumerate() {
        let from = format!("{dir}/src/a{i}");
        fs::write(&from, "polc\n").expect("write file");
        let to = format!("{dir}/{to}");
        let (status, pid, stderr) =
            run_in(&cgroup, Command::new("/usr/bin/mv").arg(&from).arg(&to));
        outcomes.push((to, status, pid, stderr));
    }
    let finished = polrt.stop_ok();
    let events = finished.events();
    // The executable's parts: only the open by bin/tcat, with its path.
    let audited = events_of(&events, "opened_by_test_bin");
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0]["pid"], opens[0]);
    assert_eq!(audited[0]["fields"]["proc.exe"], cat.display().to_string());
    // The new path's parts, by the backend the rename got.
    let denied = events_of(&events, "hidden_into_etc");
    let lsm = finished.stderr.contains("file.rename: lsm");
    assert!(
        lsm || finished.stderr.contains("file.rename: tp_btf"),
        "{}",
        finished.stderr
    );
    for (to, status, pid, stderr) in &outcomes {
        let of = denied.iter().filter(|e| e["pid"] == *pid).count();
        if !lsm {
            // Unresolved there: fail-closed, every rename is killed.
            assert_eq!(status.signal(), Some(libc::SIGKILL), "{to}: {status}");
            assert_eq!(of, 1, "{to}: {denied:?}");
            continue;
        }
        if to.ends_with("etc/.h1") {
            // Directly in etc, hidden: refused, not renamed.
            assert!(!status.success(), "{to}: {status}");
            assert_eq!(of, 1, "{to}: {denied:?}");
            assert!(!std::path::Path::new(to).exists(), "{to} was renamed");
            let event = denied.iter().find(|e| e["pid"] == *pid).unwrap();
            assert_eq!(event["fields"]["file.newpath"], to.as_str());
        } else {
            assert!(status.success(), "{to}: {status} {stderr}");
            assert_eq!(of, 0, "{to}: {denied:?}");
            assert!(std::path::Path::new(to).exists(), "{to} not renamed");
        }
    }
}
