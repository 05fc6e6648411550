//! End-to-end tests of what keeps polrt from being fooled or stopped (root,
//! real kernel): its `--output` (no symbolic or hard links, no other user's
//! file, mode 0600, appended, reopened on SIGHUP), the signals that never
//! stop enforcement, its exemption as the kernel sees its pid (in a pid
//! namespace), and persistence across its death (`--persist`, `status`,
//! `stop`).
//!
//! Safe on a shared host: every rule is scoped to a test cgroup or to a
//! test-only binary, and every test removes what it pinned, even when an
//! assertion fails (guards below and in `e2e/support.rs`).

#[path = "e2e/support.rs"]
mod support;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

use polc_tests::kernel_tests_enabled;
use support::{polrt_bin, run_in, write_policy, Polrt, TempDir, TestCgroup};

/// A copy of /bin/true under `work`: a binary no other process runs.
fn victim(work: &TempDir, name: &str) -> String {
    let path = work.path.join(name);
    fs::copy("/bin/true", &path).expect("copy /bin/true");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

/// A policy that kills every exec of `victim`.
fn kill_victim_policy(work: &TempDir, victim: &str) -> std::path::PathBuf {
    write_policy(
        work,
        "kill.pol",
        &format!(
            "rule kill_victim {{\n    on exec\n    when exec.path == \"{victim}\"\n    deny \"no {{exec.path}}\"\n}}\n"
        ),
    )
}

/// `polrt run POLICY --cgroup CGROUP --output OUTPUT` to completion (for
/// runs that must be refused before anything loads).
fn run_with_output(policy: &Path, cgroup: &TestCgroup, output: &Path) -> Output {
    Command::new(polrt_bin())
        .arg("run")
        .arg(policy)
        .arg("--cgroup")
        .arg(&cgroup.path)
        .arg("--output")
        .arg(output)
        .output()
        .expect("run polrt")
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn output_refuses_links_and_other_users_files_and_touches_nothing() {
    if !kernel_tests_enabled("output_refuses_links_and_other_users_files_and_touches_nothing") {
        return;
    }
    let work = TempDir::new("output-refused");
    let cgroup = TestCgroup::new("output-refused");
    let policy = kill_victim_policy(&work, &victim(&work, "polc-victim"));
    let precious = work.path.join("precious");
    fs::write(&precious, "keep me\n").expect("write");

    let symlink = work.path.join("symlink.jsonl");
    std::os::unix::fs::symlink(&precious, &symlink).expect("symlink");
    let hardlink = work.path.join("hardlink.jsonl");
    fs::hard_link(&precious, &hardlink).expect("hard link");
    let foreign = work.path.join("foreign.jsonl");
    fs::write(&foreign, "another user's\n").expect("write");
    std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).expect("chown");

    for (path, expected) in [
        (&symlink, "symbolic link"),
        (&hardlink, "2 hard links"),
        (&foreign, "belongs to uid 65534"),
    ] {
        let out = run_with_output(&policy, &cgroup, path);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}: {}",
            path.display(),
            stderr_of(&out)
        );
        assert!(
            stderr_of(&out).contains(expected),
            "{}: {}",
            path.display(),
            stderr_of(&out)
        );
        assert!(!stderr_of(&out).contains("ready"), "{}", stderr_of(&out));
    }
    assert_eq!(fs::read_to_string(&precious).expect("read"), "keep me\n");
    assert_eq!(
        fs::read_to_string(&foreign).expect("read"),
        "another user's\n"
    );
}

#[test]
fn output_is_private_appended_and_reopened_on_sighup_while_enforcing() {
    if !kernel_tests_enabled("output_is_private_appended_and_reopened_on_sighup_while_enforcing") {
        return;
    }
    let work = TempDir::new("output-rotate");
    let cgroup = TestCgroup::new("output-rotate");
    let victim = victim(&work, "polc-victim");
    let policy = kill_victim_policy(&work, &victim);
    let mut polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let output = polrt.output_path().to_path_buf();
    let mode = fs::metadata(&output).expect("stat output").mode();
    assert_eq!(mode & 0o777, 0o600, "--output created with mode {mode:o}");

    let (first, first_pid, _) = run_in(&cgroup, &mut Command::new(&victim));
    assert_eq!(first.signal(), Some(libc::SIGKILL), "victim: {first}");
    let rotated = work.path.join("events.jsonl.1");
    fs::rename(&output, &rotated).expect("rotate");
    polrt.signal(libc::SIGHUP);
    polrt.wait_stderr("SIGHUP: reopened --output");
    // Signals whose default action would end the process do not stop it.
    polrt.signal(libc::SIGUSR1);
    polrt.wait_stderr("SIGUSR1 ignored");
    assert!(polrt.is_running(), "{}", polrt.stderr_text());
    let (second, second_pid, _) = run_in(&cgroup, &mut Command::new(&victim));
    assert_eq!(
        second.signal(),
        Some(libc::SIGKILL),
        "still enforcing after SIGHUP: {second}"
    );
    let mode = fs::metadata(&output).expect("stat reopened output").mode();
    assert_eq!(mode & 0o777, 0o600, "reopened --output has mode {mode:o}");
    let finished = polrt.stop();
    assert!(
        finished.status.success(),
        "polrt: {}\n{}",
        finished.status,
        finished.stderr
    );

    let old = fs::read_to_string(&rotated).expect("read the rotated file");
    assert!(
        old.contains(&format!("\"pid\":{first_pid}")) && old.contains("\"type\":\"backend\""),
        "{old}"
    );
    assert!(!old.contains(&format!("\"pid\":{second_pid}")), "{old}");
    let new = finished.events();
    assert!(new.iter().any(|e| e["pid"] == second_pid), "{new:?}");
    assert!(new.iter().all(|e| e["pid"] != first_pid), "{new:?}");
    assert_eq!(finished.matches("kill_victim"), 2);

    // A second run appends to the file the first one left.
    let before = fs::read_to_string(&output).expect("read");
    let again = Polrt::start(&policy, &cgroup, &work, &[]);
    let finished = again.stop();
    assert!(finished.status.success(), "{}", finished.stderr);
    let after = fs::read_to_string(&output).expect("read");
    assert!(after.starts_with(&before), "the output was truncated");
    assert!(after.len() > before.len());
}

#[test]
fn in_a_pid_namespace_polrt_exempts_its_kernel_pid_and_survives_its_own_rules() {
    if !kernel_tests_enabled(
        "in_a_pid_namespace_polrt_exempts_its_kernel_pid_and_survives_its_own_rules",
    ) {
        return;
    }
    let work = TempDir::new("pidns");
    let cgroup = TestCgroup::new("pidns");
    // Every bpf() call in the cgroup is denied (SIGKILL at entry on this
    // host); polrt runs inside that cgroup, in a pid namespace where its pid
    // is 1, and calls bpf() every second to read its counters. Exempting pid
    // 1 instead of its kernel pid would kill it.
    let policy = write_policy(
        &work,
        "nobpf.pol",
        "rule no_bpf {\n    on bpf\n    deny\n}\n",
    );
    let mut polrt = Polrt::start_in_pid_namespace(&policy, &cgroup, &work, &[]);
    let polrt_pid = polrt.pid();
    assert_ne!(polrt_pid, 1);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert!(
        polrt.is_running(),
        "polrt died under its own rule: {}",
        polrt.stderr_text()
    );
    let (status, pid, _) = run_in(&cgroup, Command::new("bpftool").args(["map", "show"]));
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the workload's bpf() must be refused"
    );
    let finished = polrt.stop();
    assert!(
        finished.status.success(),
        "polrt: {}\n{}",
        finished.status,
        finished.stderr
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

#[test]
fn the_kernel_pid_probe_and_the_lsm_verdict_match_this_host() {
    if !kernel_tests_enabled("the_kernel_pid_probe_and_the_lsm_verdict_match_this_host") {
        return;
    }
    let types = polrt::probe::kernel_btf().expect("kernel BTF");
    // This test process runs in the initial pid namespace.
    assert_eq!(
        polrt::probe::kernel_tgid(&types).expect("probe"),
        std::process::id()
    );
    assert!(polrt::probe::proc_shows_kernel_pids(std::process::id()));
    let lsm = polrt::probe::bpf_lsm(&types);
    let list =
        fs::read_to_string("/sys/kernel/security/lsm").expect("securityfs is mounted by now");
    let lockdown = fs::read_to_string("/sys/kernel/security/lockdown").unwrap_or_default();
    let locked = !lockdown.is_empty() && !lockdown.contains("[none]");
    match (list.trim().split(',').any(|l| l == "bpf"), locked) {
        (false, _) => assert!(
            lsm.unavailable()
                .is_some_and(|why| why.contains("BPF LSM is not active")),
            "{lsm:?}"
        ),
        (true, true) => assert!(
            lsm.unavailable()
                .is_some_and(|why| why.contains("lockdown")),
            "{lsm:?}"
        ),
        (true, false) => assert_eq!(lsm, polrt::probe::BpfLsm::Active),
    }
}
