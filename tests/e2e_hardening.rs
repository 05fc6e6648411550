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
    let finished = polrt.stop_ok();

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
    again.stop_ok();
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
    // In a pid namespace polrt's pid is 1; exempting pid 1 instead of its
    // kernel pid would kill it at its first bpf() call after attaching.
    support::assert_exempt_from_its_own_bpf_rule("pidns", Polrt::start_in_pid_namespace);
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

/// A persisted policy's pins, removed when the test ends, whatever happened
/// (declare it before the [`Polrt`] values, so that they stop first).
struct Pins {
    name: String,
}

impl Pins {
    fn new(test: &str) -> Pins {
        let pins = Pins {
            name: format!("e2e-{test}-{}", std::process::id()),
        };
        pins.remove();
        pins
    }

    fn dir(&self) -> polrt::persist::PinDir {
        polrt::persist::PinDir::named(&self.name)
    }

    fn arg(&self) -> String {
        format!("--persist={}", self.name)
    }

    fn remove(&self) {
        for dir in [
            polrt::persist::PinDir::named(&self.name),
            polrt::persist::PinDir::staging(&self.name),
        ] {
            if dir.exists() {
                let _ = dir.remove();
            }
        }
    }
}

impl Drop for Pins {
    fn drop(&mut self) {
        self.remove();
    }
}

/// `polrt ARGS...` to completion.
fn polrt(args: &[&str]) -> Output {
    Command::new(polrt_bin())
        .args(args)
        .output()
        .expect("run polrt")
}

/// `polrt status NAME --format json`: the policy's object.
fn status_json(name: &str) -> serde_json::Value {
    let out = polrt(&["status", name, "--format", "json"]);
    assert!(out.status.success(), "polrt status: {}", stderr_of(&out));
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    all[0].clone()
}

/// Program ids of a status object.
fn status_program_ids(status: &serde_json::Value) -> Vec<u32> {
    status["programs"]
        .as_array()
        .expect("programs")
        .iter()
        .map(|p| p["id"].as_u64().expect("a pinned program") as u32)
        .collect()
}

#[test]
fn a_persisted_policy_survives_kill_9_is_adopted_listed_and_stopped() {
    if !kernel_tests_enabled("a_persisted_policy_survives_kill_9_is_adopted_listed_and_stopped") {
        return;
    }
    let pins = Pins::new("persist");
    let work = TempDir::new("persist");
    let cgroup = TestCgroup::new("persist");
    let victim = victim(&work, "polc-victim");
    let policy = kill_victim_policy(&work, &victim);
    let first = Polrt::start(&policy, &cgroup, &work, &[&pins.arg()]);
    assert!(
        first
            .stderr_text()
            .contains(&format!("pinned as `{}`", pins.name)),
        "{}",
        first.stderr_text()
    );
    let status = first.kill();
    assert_eq!(status.signal(), Some(libc::SIGKILL));

    // Nothing runs polrt now, and the deny holds.
    let (denied, denied_pid, _) = run_in(&cgroup, &mut Command::new(&victim));
    assert_eq!(
        denied.signal(),
        Some(libc::SIGKILL),
        "the deny must hold after polrt was killed: {denied}"
    );
    let listed = status_json(&pins.name);
    assert_eq!(listed["reader_tgid"], 0, "{listed}");
    assert_eq!(listed["problems"], serde_json::json!([]), "{listed}");
    let rules = listed["rules"].as_array().expect("rules");
    assert!(
        rules
            .iter()
            .any(|r| r["rule"] == "kill_victim" && r["matches"] == 1),
        "{listed}"
    );
    let ids = status_program_ids(&listed);
    assert!(ids.len() >= 3, "{listed}");
    let text = polrt(&["status"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains(&pins.name),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );

    // A second run adopts the pinned programs as they are, and reads the
    // event its predecessor never read.
    let second = Polrt::start(&policy, &cgroup, &work, &[&pins.arg()]);
    assert!(
        second
            .stderr_text()
            .contains(&format!("adopted `{}`", pins.name)),
        "{}",
        second.stderr_text()
    );
    let adopted = status_json(&pins.name);
    assert_eq!(adopted["reader_tgid"], second.pid(), "{adopted}");
    assert_eq!(status_program_ids(&adopted), ids, "no program was reloaded");
    let busy = polrt(&[
        "run",
        &policy.display().to_string(),
        "--cgroup",
        &cgroup.path.display().to_string(),
        &pins.arg(),
    ]);
    assert_eq!(busy.status.code(), Some(1), "{}", stderr_of(&busy));
    assert!(
        stderr_of(&busy).contains("is run by another polrt"),
        "{}",
        stderr_of(&busy)
    );

    // `polrt stop` stops the reader, then removes every pin: the deny ends.
    let stop = polrt(&["stop", &pins.name]);
    assert!(stop.status.success(), "polrt stop: {}", stderr_of(&stop));
    let finished = second.wait_exit();
    assert!(
        finished.status.success(),
        "polrt: {}\n{}",
        finished.status,
        finished.stderr
    );
    assert!(
        finished.events().iter().any(|e| e["pid"] == denied_pid),
        "the adopting run did not read the event left in the ring buffer: {:?}",
        finished.events()
    );
    assert!(
        !pins.dir().exists(),
        "polrt stop left {}",
        pins.dir().root.display()
    );
    support::assert_no_program_left(&ids);
    let (allowed, _, _) = run_in(&cgroup, &mut Command::new(&victim));
    assert!(
        allowed.success(),
        "the deny must end with polrt stop: {allowed}"
    );
    let gone = polrt(&["status", &pins.name]);
    assert_eq!(gone.status.code(), Some(2), "{}", stderr_of(&gone));
}

#[test]
fn a_different_object_replaces_the_pinned_one_without_a_gap() {
    if !kernel_tests_enabled("a_different_object_replaces_the_pinned_one_without_a_gap") {
        return;
    }
    let pins = Pins::new("replace");
    let work = TempDir::new("replace");
    let cgroup = TestCgroup::new("replace");
    let first_victim = victim(&work, "polc-victim");
    let second_victim = victim(&work, "polc-victim-2");
    let first_policy = kill_victim_policy(&work, &first_victim);
    let first = Polrt::start(&first_policy, &cgroup, &work, &[&pins.arg()]);
    first.kill();
    let old_ids = status_program_ids(&status_json(&pins.name));

    // While the second policy (which denies both) replaces the first, the
    // first victim runs again and again: it must never get through.
    let second_policy = write_policy(
        &work,
        "both.pol",
        &format!(
            "rule kill_victim {{\n    on exec\n    when exec.path == \"{first_victim}\"\n    deny\n}}\nrule kill_second {{\n    on exec\n    when exec.path == \"{second_victim}\"\n    deny\n}}\n"
        ),
    );
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let runner = {
        let done = done.clone();
        let procs = cgroup.path.join("cgroup.procs");
        let first_victim = first_victim.clone();
        std::thread::spawn(move || {
            let (mut runs, mut escaped) = (0u32, 0u32);
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let status = Command::new("sh")
                    .args([
                        "-c",
                        &format!("echo 0 > {} && exec {first_victim}", procs.display()),
                    ])
                    .status()
                    .expect("run the victim");
                runs += 1;
                escaped += u32::from(status.success());
            }
            (runs, escaped)
        })
    };
    let second = Polrt::start(&second_policy, &cgroup, &work, &[&pins.arg()]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (runs, escaped) = runner.join().expect("victim runner");
    assert!(runs > 0);
    assert_eq!(
        escaped, 0,
        "{escaped} of {runs} runs got through during the replacement"
    );
    assert!(
        second
            .stderr_text()
            .contains("replaced the pinned generation"),
        "{}",
        second.stderr_text()
    );
    support::assert_no_program_left(&old_ids);
    let (denied, _, _) = run_in(&cgroup, &mut Command::new(&second_victim));
    assert_eq!(denied.signal(), Some(libc::SIGKILL), "{denied}");
    let listed = status_json(&pins.name);
    assert!(
        listed["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .any(|r| r["rule"] == "kill_second"),
        "{listed}"
    );
    let new_ids = status_program_ids(&listed);
    let finished = second.terminate();
    assert!(finished.status.success(), "{}", finished.stderr);
    assert!(
        finished.stderr.contains("stays enforced by"),
        "{}",
        finished.stderr
    );
    let stop = polrt(&["stop", &pins.name]);
    assert!(stop.status.success(), "polrt stop: {}", stderr_of(&stop));
    support::assert_no_program_left(&new_ids);
}

/// Waits (up to 10 s) for a `tamper` record of `program` whose problem
/// contains `problem` in polrt's output; returns it.
fn await_tamper(polrt: &Polrt, program: &str, problem: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = fs::read_to_string(polrt.output_path()).unwrap_or_default();
        let found = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|r| {
                r["type"] == "tamper"
                    && r["program"] == program
                    && r["problem"].as_str().is_some_and(|p| p.contains(problem))
            });
        if let Some(record) = found {
            return record;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no tamper record of {program} ({problem}); stderr:\n{}",
            polrt.stderr_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Connects to 127.0.0.1:`port` from inside `cgroup`; whether it connected.
fn connects(cgroup: &TestCgroup, port: u16) -> bool {
    let mut command = Command::new("bash");
    command.args(["-c", &format!("exec 3<>/dev/tcp/127.0.0.1/{port}")]);
    run_in(cgroup, &mut command).0.success()
}

#[test]
fn detached_replaced_and_unpinned_links_are_reported_and_repaired() {
    if !kernel_tests_enabled("detached_replaced_and_unpinned_links_are_reported_and_repaired") {
        return;
    }
    use std::os::fd::{AsFd, AsRawFd};
    let pins = Pins::new("watch");
    let work = TempDir::new("watch");
    let cgroup = TestCgroup::new("watch");
    let blocked = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = blocked.local_addr().expect("addr").port();
    let policy = write_policy(
        &work,
        "connect.pol",
        &format!("rule block {{\n    on net.connect\n    when net.dport == {port}\n    deny\n}}\n"),
    );
    let running = Polrt::start(&policy, &cgroup, &work, &[&pins.arg()]);
    assert!(!connects(&cgroup, port));
    let program = "net_connect_cgroup4";
    let listed = status_json(&pins.name);
    let entry = listed["programs"]
        .as_array()
        .expect("programs")
        .iter()
        .find(|p| p["symbol"] == program)
        .cloned()
        .expect("the connect4 program");
    let prog_id = entry["id"].as_u64().expect("id") as u32;
    let link_id = entry["link_id"].as_u64().expect("link id") as u32;

    // Detached (root may detach a cgroup link): attached again.
    let detach = Command::new("bpftool")
        .args(["link", "detach", "id", &link_id.to_string()])
        .output()
        .expect("bpftool");
    assert!(detach.status.success(), "{}", stderr_of(&detach));
    let record = await_tamper(&running, program, "was detached");
    assert_eq!(record["repaired"], true, "{record}");
    assert!(!connects(&cgroup, port), "the deny must hold again");

    // Made to run another program (BPF_LINK_UPDATE): restored.
    let (_other, ebpf) = support::load_in_process(
        "rule other {\n    on net.connect\n    when net.dport == 9\n    audit\n}\n",
        4096,
        program,
    );
    let foreign = ebpf.program(program).expect("loaded").fd().expect("fd");
    let link_id = status_program_link(&pins.name, program);
    let link = polrt::loader::link_fd_by_id(link_id).expect("the link");
    polrt::loader::link_update(link.as_raw_fd(), foreign.as_fd().as_raw_fd())
        .expect("BPF_LINK_UPDATE");
    let record = await_tamper(&running, program, "BPF_LINK_UPDATE");
    assert_eq!(record["repaired"], true, "{record}");
    let state = polrt::loader::link_state(link.as_raw_fd()).expect("link state");
    assert_eq!(
        state.prog_id, prog_id,
        "the link runs the policy's program again"
    );
    assert!(!connects(&cgroup, port));
    drop(link);
    drop(ebpf);

    // Unpinned: pinned again.
    let pin = pins.dir().links().join(program);
    fs::remove_file(&pin).expect("unpin");
    let record = await_tamper(&running, program, "was removed");
    assert_eq!(record["repaired"], true, "{record}");
    assert!(pin.exists());

    let finished = running.terminate();
    assert!(finished.status.success(), "{}", finished.stderr);
    assert!(
        finished
            .stderr
            .contains("ALERT: program net_connect_cgroup4"),
        "{}",
        finished.stderr
    );
    let stop = polrt(&["stop", &pins.name]);
    assert!(stop.status.success(), "polrt stop: {}", stderr_of(&stop));
    assert!(connects(&cgroup, port), "the deny must end with polrt stop");
}

/// The id of the link of `program` of persisted policy `name`.
fn status_program_link(name: &str, program: &str) -> u32 {
    status_json(name)["programs"]
        .as_array()
        .expect("programs")
        .iter()
        .find(|p| p["symbol"] == program)
        .and_then(|p| p["link_id"].as_u64())
        .expect("a pinned link") as u32
}
