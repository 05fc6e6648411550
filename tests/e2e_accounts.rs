//! End-to-end tests of user and group names (`proc.user == "NAME"`) on the
//! real kernel (root): polrt resolves the names a policy compares with from
//! the user and group databases it is given (`--passwd`, `--group`: here
//! fixture files naming test ids no host user has), when it loads the
//! policy; a process running as the named uid is denied, another is not; a
//! policy naming a user the files lack loads nothing, and a reload to one
//! is refused while the old policy stays enforced; a chown and a setuid to
//! the named user (`file.user`, `setuid.user`) are refused, to another id
//! not.
//!
//! Safe on a shared host: every rule is scoped to the test's own cgroup v2
//! directory, the workloads drop to test ids in it, and everything is
//! detached when polrt stops.

#[path = "e2e/support.rs"]
mod support;

use std::fs;
use std::io::Read;
use std::process::{Command, Stdio};

use polc_tests::kernel_tests_enabled;
use serde_json::Value;
use support::{
    assert_no_program_left, become_user, polrt_bin, replace_file, spawn_in_then, wait_count,
    write_policy, Polrt, TempDir, TestCgroup,
};

/// The fixture's test user, group, and another user of that group.
const TEST_UID: u32 = 4242;
const TEST_GID: u32 = 4242;
const OTHER_UID: u32 = 4243;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash
polc-test-user:x:4242:4242:the test user:/nonexistent:/usr/sbin/nologin
polc-other-user:x:4243:4242:another:/nonexistent:/usr/sbin/nologin
";
const GROUP: &str = "root:x:0:
polc-test:x:4242:
";

fn policy(user: &str) -> String {
    format!(
        "rule test_user_runs_no_true {{
    on exec
    when proc.user == \"{user}\" and exec.path endswith \"/true\"
    deny \"uid {{proc.uid}} ran {{exec.path}}\"
}}

rule test_group_audited {{
    on exec
    when proc.group in [\"polc-test\"] and exec.path endswith \"/true\"
    audit \"gid {{proc.gid}}\"
}}
"
    )
}

/// Runs `sh -c "true && echo ran"` in `cgroup` as `uid`:`gid`; returns its
/// stdout and the pid of the shell.
fn run_true_as(cgroup: &TestCgroup, uid: u32, gid: u32) -> (String, u32) {
    let mut command = Command::new("/bin/sh");
    command
        .args(["-c", "/usr/bin/true && echo ran"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = spawn_in_then(cgroup, &mut command, move || become_user(uid, gid));
    let pid = child.id();
    let mut out = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        let _ = pipe.read_to_string(&mut out);
    }
    let _ = child.wait();
    (out, pid)
}

#[test]
fn user_names_resolve_from_the_given_database_where_the_policy_is_enforced() {
    if !kernel_tests_enabled(
        "user_names_resolve_from_the_given_database_where_the_policy_is_enforced",
    ) {
        return;
    }
    let work = TempDir::new("accounts");
    let cgroup = TestCgroup::new("accounts");
    let passwd = work.path.join("passwd");
    let group = work.path.join("group");
    fs::write(&passwd, PASSWD).expect("passwd");
    fs::write(&group, GROUP).expect("group");
    let (passwd_arg, group_arg) = (passwd.display().to_string(), group.display().to_string());
    let policy_path = write_policy(&work, "accounts.pol", &policy("polc-test-user"));
    let polrt = Polrt::start(
        &policy_path,
        &cgroup,
        &work,
        &["--passwd", &passwd_arg, "--group", &group_arg],
    );

    let (denied, denied_pid) = run_true_as(&cgroup, TEST_UID, TEST_GID);
    assert_eq!(denied, "", "the named user's true does not run");
    let (allowed, _) = run_true_as(&cgroup, OTHER_UID, TEST_GID);
    assert_eq!(allowed, "ran\n", "another user's does");

    // A reload naming a user the database lacks is refused; the old
    // generation stays enforced.
    replace_file(&policy_path, &policy("polc-nobody-here"));
    wait_count(&polrt, "reload: policy `accounts` refused", 1);
    let stderr = polrt.stderr_text();
    assert!(
        stderr.contains(&format!("user `polc-nobody-here` (not in {passwd_arg})")),
        "{stderr}"
    );
    let (still, _) = run_true_as(&cgroup, TEST_UID, TEST_GID);
    assert_eq!(still, "", "still denied after the refused reload");

    let finished = polrt.stop();
    let events = finished.events();
    let denies: Vec<&&Value> = events
        .iter()
        .filter(|e| e["rule"] == "test_user_runs_no_true")
        .collect();
    assert_eq!(denies.len(), 2, "{events:?}");
    for event in &denies {
        assert_eq!(event["fields"]["proc.uid"], TEST_UID, "{event}");
        assert_eq!(event["uid"], TEST_UID, "{event}");
        assert_eq!(event["user"], "polc-test-user", "{event}");
        assert!(
            event["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("uid 4242 ran ") && m.ends_with("/true")),
            "{event}"
        );
    }
    // The shell that ran it is the test user's (its pid, or its child's).
    assert!(denies
        .iter()
        .all(|e| e["pid"].as_u64() >= Some(u64::from(denied_pid))));
    let audits: Vec<&&Value> = events
        .iter()
        .filter(|e| e["rule"] == "test_group_audited")
        .collect();
    assert_eq!(
        audits.len(),
        1,
        "only the other user's true is audited: {events:?}"
    );
    assert_eq!(audits[0]["uid"], OTHER_UID);
    assert_eq!(audits[0]["gid"], TEST_GID);
    assert_eq!(audits[0]["user"], "polc-other-user");
    assert_eq!(audits[0]["group"], "polc-test");
    assert_no_program_left(&finished.program_ids());
}

#[test]
fn a_policy_naming_an_unknown_user_loads_nothing() {
    if !kernel_tests_enabled("a_policy_naming_an_unknown_user_loads_nothing") {
        return;
    }
    let work = TempDir::new("accounts-unknown");
    let cgroup = TestCgroup::new("accounts-unknown");
    let passwd = work.path.join("passwd");
    let group = work.path.join("group");
    fs::write(&passwd, PASSWD).expect("passwd");
    fs::write(&group, GROUP).expect("group");
    let policy_path = write_policy(&work, "unknown.pol", &policy("polc-nobody-here"));
    let out = Command::new(polrt_bin())
        .arg("run")
        .arg(&policy_path)
        .arg("--cgroup")
        .arg(&cgroup.path)
        .arg("--passwd")
        .arg(&passwd)
        .arg("--group")
        .arg(&group)
        .output()
        .expect("polrt runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the policy names user `polc-nobody-here` (not in {}) that this node does not have: nothing was loaded",
            passwd.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("ready"), "{stderr}");
}

/// `file.user` and `setuid.user` resolve as `proc.user` does: a chown to
/// the named user and a setuid to it are refused (or killed, on a
/// fallback), a chown and a setuid to another id are not.
#[test]
fn chown_and_setuid_to_a_named_user_are_denied() {
    if !kernel_tests_enabled("chown_and_setuid_to_a_named_user_are_denied") {
        return;
    }
    let work = TempDir::new("accounts-ids");
    let cgroup = TestCgroup::new("accounts-ids");
    let passwd = work.path.join("passwd");
    let group = work.path.join("group");
    fs::write(&passwd, PASSWD).expect("passwd");
    fs::write(&group, GROUP).expect("group");
    let (passwd_arg, group_arg) = (passwd.display().to_string(), group.display().to_string());
    let policy_path = write_policy(
        &work,
        "ids.pol",
        "rule no_files_for_the_test_user {
    on file.chown
    when file.user == \"polc-test-user\"
    deny \"{file.uid}\"
}

rule nobody_becomes_the_test_user {
    on proc.setuid
    when setuid.user == \"polc-test-user\" or setuid.euser == \"polc-test-user\"
    deny \"{setuid.uid} {setuid.euid}\"
}
",
    );
    let target = work.path.join("owned");
    fs::write(&target, "x").expect("a file");
    let polrt = Polrt::start(
        &policy_path,
        &cgroup,
        &work,
        &["--passwd", &passwd_arg, "--group", &group_arg],
    );
    // python3: os.chown / os.setuid, printing "ok" when the call returned.
    let python = |script: &str| {
        let mut command = Command::new("/usr/bin/python3");
        command
            .args(["-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = spawn_in_then(&cgroup, &mut command, || Ok(()));
        let mut out = String::new();
        if let Some(mut pipe) = child.stdout.take() {
            let _ = pipe.read_to_string(&mut out);
        }
        let _ = child.wait();
        out
    };
    let path = target.display().to_string();
    let chown = |uid: u32| {
        python(&format!(
            "import os; os.chown({path:?}, {uid}, -1); print('ok')"
        ))
    };
    let setuid = |uid: u32| python(&format!("import os; os.setuid({uid}); print('ok')"));
    assert_eq!(chown(TEST_UID), "", "a chown to the named user is refused");
    assert_eq!(chown(OTHER_UID), "ok\n", "a chown to another is not");
    assert_eq!(
        setuid(TEST_UID),
        "",
        "a setuid to the named user is refused"
    );
    assert_eq!(setuid(OTHER_UID), "ok\n", "a setuid to another is not");
    let finished = polrt.stop();
    let events = finished.events();
    let of = |rule: &str| events.iter().filter(|e| e["rule"] == rule).count();
    assert_eq!(of("no_files_for_the_test_user"), 1, "{events:?}");
    assert_eq!(of("nobody_becomes_the_test_user"), 1, "{events:?}");
    assert_no_program_left(&finished.program_ids());
}
