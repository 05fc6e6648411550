//! The bypass suite on the host's fallback backends: every technique of
//! `tests/bypass/bypass.py` (another name, another road, another ABI for a
//! denied program, file, port or system call) against the policy
//! `tests/bypass/bypass.pol`, enforced by the real `polrt` scoped to a test
//! cgroup. Each technique must be refused or its task killed before it could
//! use the result, and reported with what the kernel resolved; where a
//! backend cannot decide (documented in `docs/runtime.md`), the test asserts
//! the documented behaviour. The same techniques run with BPF LSM in the VM
//! scenarios (`bypass` in `tests/vm/scenarios.sh`).

#[path = "e2e/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::fs;
use std::process::{Command, Stdio};

use polc_tests::kernel_tests_enabled;
use serde_json::Value;
use support::{resolved, write_policy, Polrt, TempDir, TestCgroup};

/// The port the policy denies (nothing listens there but the techniques).
const PORT: u16 = 47011;

fn bypass_py() -> String {
    polc_tests::repo_root()
        .join("tests/bypass/bypass.py")
        .display()
        .to_string()
}

#[test]
fn every_bypass_technique_is_refused_or_killed_and_reported() {
    if !kernel_tests_enabled("every_bypass_technique_is_refused_or_killed_and_reported") {
        return;
    }
    let work = TempDir::new("bypass");
    let dir = work.path.join("arena");
    let status = Command::new("/usr/bin/python3")
        .arg(bypass_py())
        .arg("setup")
        .arg(&dir)
        .status()
        .expect("run bypass.py setup");
    assert!(status.success(), "bypass.py setup: {status}");
    let dir = resolved(&dir);
    let template = fs::read_to_string(polc_tests::repo_root().join("tests/bypass/bypass.pol"))
        .expect("read the bypass policy");
    let policy = write_policy(
        &work,
        "bypass.pol",
        &template
            .replace("@DIR@", &dir)
            .replace("@PORT@", &PORT.to_string()),
    );
    let cgroup = TestCgroup::new("bypass");
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let mut command = Command::new("/usr/bin/python3");
    command
        .arg(bypass_py())
        .args(["run", &dir, &PORT.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = support::spawn_in(&cgroup, &mut command);
    let out = child.wait_with_output().expect("run the techniques");
    let finished = polrt.stop();
    assert!(
        out.status.success(),
        "bypass.py run: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        finished.status.success(),
        "polrt: {}\n{}",
        finished.status,
        finished.stderr
    );
    assert!(
        finished.stderr.contains("io_uring are not seen"),
        "the file.open fallback names what it does not see: {}",
        finished.stderr
    );

    let outcomes: BTreeMap<String, (u32, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            (
                v["technique"].as_str().expect("technique").to_string(),
                (
                    v["pid"].as_u64().expect("pid") as u32,
                    v["outcome"].as_str().expect("outcome").to_string(),
                ),
            )
        })
        .collect();
    let events = finished.events();
    let event_of = |pid: u32, rule: &str| -> &Value {
        events
            .iter()
            .copied()
            .find(|e| e["pid"] == pid && e["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule} event of pid {pid} in {events:#?}"))
    };
    let victim = format!("{dir}/victim");
    let secret = format!("{dir}/secret");
    // Technique, outcome, rule, field, value (the field the rule decided on,
    // as the kernel resolved it).
    let expected: Vec<(&str, &str, &str, &str, String)> = vec![
        (
            "exec-relative",
            "killed",
            "deny_victim",
            "exec.path",
            victim.clone(),
        ),
        (
            "exec-dotdot",
            "killed",
            "deny_victim",
            "exec.path",
            victim.clone(),
        ),
        (
            "exec-slashes",
            "killed",
            "deny_victim",
            "exec.path",
            victim.clone(),
        ),
        (
            "exec-symlink",
            "killed",
            "deny_victim",
            "exec.path",
            victim.clone(),
        ),
        // Another name for the same file: matched by identity.
        (
            "exec-hardlink",
            "killed",
            "deny_victim",
            "exec.path",
            format!("{dir}/sub/victim-hard"),
        ),
        (
            "exec-dirfd",
            "killed",
            "deny_victim",
            "exec.path",
            victim.clone(),
        ),
        (
            "exec-empty-path",
            "killed",
            "deny_victim",
            "exec.path",
            victim.clone(),
        ),
        (
            "exec-fexecve",
            "killed",
            "deny_victim",
            "exec.path",
            victim.clone(),
        ),
        (
            "exec-proc-fd",
            "killed",
            "deny_victim",
            "exec.path",
            victim.clone(),
        ),
        (
            "exec-memfd",
            "killed",
            "no_fileless_exec",
            "exec.path",
            "/memfd:payload".into(),
        ),
        (
            "exec-ld-so",
            "killed",
            "deny_victim",
            "exec.path",
            victim.clone(),
        ),
        (
            "exec-script-interpreter",
            "killed",
            "deny_victim",
            "exec.path",
            victim.clone(),
        ),
        (
            "exec-ia32",
            "killed",
            "deny_victim",
            "exec.path",
            victim.clone(),
        ),
        (
            "open-relative",
            "killed",
            "deny_secret",
            "file.path",
            secret.clone(),
        ),
        (
            "open-dotdot",
            "killed",
            "deny_secret",
            "file.path",
            secret.clone(),
        ),
        (
            "open-slashes",
            "killed",
            "deny_secret",
            "file.path",
            secret.clone(),
        ),
        (
            "open-symlink",
            "killed",
            "deny_secret",
            "file.path",
            secret.clone(),
        ),
        (
            "open-hardlink",
            "killed",
            "deny_secret",
            "file.path",
            format!("{dir}/sub/secret-hard"),
        ),
        (
            "open-dirfd",
            "killed",
            "deny_secret",
            "file.path",
            secret.clone(),
        ),
        (
            "open-proc-root",
            "killed",
            "deny_secret",
            "file.path",
            secret.clone(),
        ),
        (
            "open-openat2",
            "killed",
            "deny_secret",
            "file.path",
            secret.clone(),
        ),
        (
            "open-bind-mount",
            "killed",
            "deny_secret",
            "file.path",
            format!("{dir}/mnt/secret"),
        ),
        // The walk goes past the chroot, to the mount namespace's root.
        (
            "open-chroot",
            "killed",
            "deny_secret",
            "file.path",
            secret.clone(),
        ),
        (
            "open-untouched-page",
            "killed",
            "deny_secret",
            "file.path",
            secret.clone(),
        ),
        (
            "open-ia32",
            "killed",
            "deny_secret",
            "file.path",
            secret.clone(),
        ),
        (
            "net-udp-sendto",
            "EPERM",
            "deny_port",
            "net.dport",
            PORT.to_string(),
        ),
        (
            "net-tcp-fast-open",
            "EPERM",
            "deny_port",
            "net.dport",
            PORT.to_string(),
        ),
        (
            "net-ipv4-mapped",
            "EPERM",
            "deny_port",
            "net.family",
            "2".into(),
        ),
        (
            "bpf-ia32",
            "killed",
            "deny_map_create",
            "bpf.cmd",
            "0".into(),
        ),
        (
            "module-ia32-finit",
            "killed",
            "deny_module",
            "module.path",
            format!("{dir}/not-a-module.ko"),
        ),
        // Paths a call names are not resolved at system call entry: the
        // rules on them decide fail-closed (the kill lands when the call
        // returns: the link or rename was made).
        (
            "link-empty-path",
            "killed",
            "deny_victim_link",
            "file.path",
            "null".into(),
        ),
        (
            "link-proc-fd",
            "killed",
            "deny_victim_link",
            "file.path",
            "null".into(),
        ),
        (
            "rename-exchange",
            "killed",
            "deny_bin_rename",
            "file.path",
            "null".into(),
        ),
        (
            "rename-ia32",
            "killed",
            "deny_bin_rename",
            "file.path",
            "null".into(),
        ),
        // fchmod names a descriptor: its path is resolved.
        (
            "chmod-fchmod",
            "killed",
            "deny_setid",
            "file.path",
            format!("{dir}/setid-target"),
        ),
        (
            "chmod-ia32",
            "killed",
            "deny_setid",
            "file.mode",
            0o4755.to_string(),
        ),
        (
            "socket-ia32",
            "killed",
            "deny_raw_socket",
            "socket.family",
            "2".into(),
        ),
    ];
    let mut failures = Vec::new();
    for (technique, outcome, rule, field, value) in &expected {
        let (pid, got) = outcomes
            .get(*technique)
            .unwrap_or_else(|| panic!("{technique} did not run: {outcomes:?}"));
        if got != outcome {
            failures.push(format!("{technique}: {got}, expected {outcome}"));
            continue;
        }
        let event = event_of(*pid, rule);
        let seen = match &event["fields"][*field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if &seen != value {
            failures.push(format!("{technique}: {field} = {seen}, expected {value}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // A file handle names an inode, not a path: the kernel opens one of its
    // names (whichever dentry it has), and the rule holds by identity.
    let (pid, got) = &outcomes["open-by-handle"];
    assert_eq!(got, "killed");
    let ev = event_of(*pid, "deny_secret");
    let path = ev["fields"]["file.path"].as_str().unwrap_or_default();
    assert!(
        path == secret || path == format!("{dir}/sub/secret-hard"),
        "{ev}"
    );

    // What the tp_btf exec fallback does not see (docs/runtime.md): a script
    // denied by its own path runs; its interpreter decides.
    assert_eq!(outcomes["exec-script-itself"].1, "ran");
    // A 32-bit call whose number is init_module's in the 64-bit ABI is not
    // taken for a module load.
    let (pid, got) = &outcomes["ia32-rt-sigprocmask"];
    assert_eq!(got, "ok");
    assert!(
        events.iter().all(|e| e["pid"] != *pid),
        "rt_sigprocmask was reported"
    );
    // The exec events carry the name the caller used, and its own name.
    let ev = event_of(outcomes["exec-relative"].0, "deny_victim");
    assert_eq!(ev["fields"]["exec.filename"], "./victim", "{ev}");
    assert_eq!(ev["comm"], "python3", "{ev}");
    let ev = event_of(outcomes["exec-empty-path"].0, "deny_victim");
    assert!(
        ev["fields"]["exec.filename"]
            .as_str()
            .is_some_and(|f| f.starts_with("/dev/fd/")),
        "{ev}"
    );
}
