//! End-to-end tests of the new program's command line and environment
//! (`exec.args[N]`, `exec.argc`, `exec.cmdline`, `exec.env["NAME"]`) on the
//! host's exec backend (`tp_btf/sched_process_exec`, the one every policy
//! that reads them uses): real programs run with real argv and environment
//! in a test cgroup, and polrt must report exactly what they were given,
//! with the documented bounds, and kill the ones a rule denies before they
//! run.
//!
//! Safe on a shared host: every rule is scoped to the test cgroup and to a
//! copy of `true` under the test's own directory.

#[path = "e2e/support.rs"]
mod support;

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;

use polc_tests::kernel_tests_enabled;
use serde_json::Value;
use support::{copy_executable, run_in, write_policy, Finished, Polrt, TempDir, TestCgroup};

const POLICY: &str = r#"
rule miner {
    on exec
    when exec.path endswith "/polc-argv-true" and exec.cmdline contains "stratum+tcp://"
    deny "mining pool: {exec.cmdline}"
}

rule netcat_e {
    on exec
    when exec.path endswith "/polc-argv-true" and exec.args[*] == "-e"
    deny "runs a program with -e: argc {exec.argc}, {exec.args[1]} {exec.args[2]}"
}

rule preload {
    on exec
    when exec.path endswith "/polc-argv-true" and exec.env["LD_PRELOAD"] startswith "/tmp/polc-evil"
    deny "LD_PRELOAD={exec.env[\"LD_PRELOAD\"]}"
}

trace argv {
    on exec
    when exec.path endswith "/polc-argv-true"
    emit exec.argc, exec.args[0], exec.args[1], exec.args[2], exec.args[3], exec.args[4], exec.args[15], exec.cmdline, exec.env["POLC_E2E_VALUE"], exec.env["POLC_E2E_ABSENT"]
}
"#;

/// The `argv` trace's event for the run whose argv[0] is `argv0`.
fn traced<'a>(finished: &'a Finished, argv0: &str) -> &'a Value {
    let events: Vec<&Value> = finished
        .events()
        .into_iter()
        .filter(|e| e["rule"] == "argv" && e["fields"]["exec.args[0]"] == argv0)
        .collect();
    assert_eq!(events.len(), 1, "{argv0}: {events:?}\n{}", finished.stderr);
    &events[0]["fields"]
}

/// The event of rule `rule`.
fn decided<'a>(finished: &'a Finished, rule: &str) -> &'a Value {
    let events: Vec<&Value> = finished
        .events()
        .into_iter()
        .filter(|e| e["rule"] == rule)
        .collect();
    assert_eq!(events.len(), 1, "{rule}: {events:?}\n{}", finished.stderr);
    events[0]
}

#[test]
fn exec_reports_the_real_argv_and_environment_and_denies_on_them() {
    if !kernel_tests_enabled("exec_reports_the_real_argv_and_environment_and_denies_on_them") {
        return;
    }
    let work = TempDir::new("cmdline");
    let cgroup = TestCgroup::new("cmdline");
    let program = copy_executable("/bin/true", &work, "polc-argv-true");
    let policy = write_policy(&work, "cmdline.pol", POLICY);
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);

    // Arguments with a space, one longer than the 127 bytes an element
    // holds, an empty one last; a variable whose value has `=` and a space.
    let long = "x".repeat(200);
    let plain = run_in(
        &cgroup,
        Command::new(&program)
            .arg0("polc-argv0")
            .args(["one", "two words", &long, ""])
            .env_clear()
            .env("POLC_E2E_FIRST", "1")
            .env("POLC_E2E_VALUE", "v=1 2"),
    );
    assert!(plain.0.success(), "plain run: {:?}", plain);

    // More arguments than exec.args reads, and a command line longer than
    // the 511 bytes exec.cmdline holds.
    let many: Vec<String> = (0..40)
        .map(|i| format!("argument-{i:02}-{}", "y".repeat(10)))
        .collect();
    let wide = run_in(
        &cgroup,
        Command::new(&program)
            .arg0("polc-wide")
            .args(&many)
            .env_clear(),
    );
    assert!(wide.0.success(), "wide run: {:?}", wide);

    // Each deny kills the new program before it runs (SIGKILL at the
    // exec's point of no return on this backend).
    let netcat = run_in(
        &cgroup,
        Command::new(&program)
            .arg0("nc")
            .args(["-e", "/bin/sh"])
            .env_clear(),
    );
    let miner = run_in(
        &cgroup,
        Command::new(&program)
            .arg0("xmrig")
            .args(["-o", "stratum+tcp://pool.example:3333"])
            .env_clear(),
    );
    let preload = run_in(
        &cgroup,
        Command::new(&program)
            .arg0("preloaded")
            .env_clear()
            .env("HOME", "/")
            .env("LD_PRELOAD", "/tmp/polc-evil.so"),
    );
    let finished = polrt.stop();
    assert!(
        finished.status.success(),
        "polrt: {}\n{}",
        finished.status,
        finished.stderr
    );
    assert_eq!(finished.summary()["lost"], 0, "{}", finished.summary());
    for (name, run) in [
        ("netcat", &netcat),
        ("miner", &miner),
        ("preload", &preload),
    ] {
        assert_eq!(run.0.signal(), Some(libc::SIGKILL), "{name}: {:?}", run);
    }

    let fields = traced(&finished, "polc-argv0");
    assert_eq!(fields["exec.argc"], 5, "{fields}");
    assert_eq!(fields["exec.args[1]"], "one");
    assert_eq!(fields["exec.args[2]"], "two words");
    assert_eq!(fields["exec.args[3]"], "x".repeat(127), "cut to 127 bytes");
    assert_eq!(fields["exec.args[4]"], "");
    assert_eq!(fields["exec.args[15]"], "", "past argc");
    assert_eq!(
        fields["exec.cmdline"],
        format!("polc-argv0 one two words {long} "),
        "joined with spaces; the empty last argument leaves a space"
    );
    assert_eq!(fields["exec.env[\"POLC_E2E_VALUE\"]"], "v=1 2");
    assert_eq!(fields["exec.env[\"POLC_E2E_ABSENT\"]"], "");

    let fields = traced(&finished, "polc-wide");
    assert_eq!(fields["exec.argc"], 41, "the real count: {fields}");
    assert_eq!(fields["exec.args[1]"], many[0].as_str());
    assert_eq!(fields["exec.args[15]"], many[14].as_str());
    let joined = format!("polc-wide {}", many.join(" "));
    assert_eq!(
        fields["exec.cmdline"],
        &joined[..511],
        "the first 511 bytes"
    );

    let event = decided(&finished, "netcat_e");
    assert_eq!(
        event["message"],
        "runs a program with -e: argc 3, -e /bin/sh"
    );
    let event = decided(&finished, "miner");
    assert_eq!(
        event["message"],
        "mining pool: xmrig -o stratum+tcp://pool.example:3333"
    );
    let event = decided(&finished, "preload");
    assert_eq!(event["message"], "LD_PRELOAD=/tmp/polc-evil.so");
}
