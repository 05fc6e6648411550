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
    let finished = polrt.stop_ok();
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

const SNAPSHOTS: &str = r#"
trace opened {
    on file.open
    when file.path endswith "/polc-marker"
    emit proc.pid, proc.cmdline, proc.parent.cmdline
}

rule spawned_by {
    on exec
    when exec.path endswith "/polc-argv-true" and proc.parent.cmdline contains "polc-deny-me"
    deny "spawned by {proc.parent.cmdline}"
}

trace ran {
    on exec
    when exec.path endswith "/polc-argv-true"
    emit proc.cmdline, proc.parent.cmdline, exec.cmdline
}
"#;

#[test]
fn processes_and_their_parents_report_their_command_line_at_exec() {
    if !kernel_tests_enabled("processes_and_their_parents_report_their_command_line_at_exec") {
        return;
    }
    let work = TempDir::new("cmdline-snapshots");
    let cgroup = TestCgroup::new("cmdline-snapshots");
    let program = copy_executable("/bin/true", &work, "polc-argv-true");
    let program = program.to_str().expect("a UTF-8 path").to_string();
    let marker = work.path.join("polc-marker");
    std::fs::write(&marker, "x").expect("write the marker");
    let marker = marker.to_str().expect("a UTF-8 path").to_string();
    let fifo = work.path.join("go");
    let fifo_c = std::ffi::CString::new(fifo.to_str().expect("UTF-8")).expect("no NUL");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo_c.as_ptr(), 0o600) }, 0, "mkfifo");
    let fifo = fifo.to_str().expect("UTF-8").to_string();

    // A process started before polrt: its snapshot comes from /proc.
    let before_script = format!("read x < {fifo}; {program} late");
    let mut before = support::spawn_in(
        &cgroup,
        Command::new("/bin/sh")
            .arg0("polc-before")
            .args(["-c", &before_script]),
    );
    let policy = write_policy(&work, "snapshots.pol", SNAPSHOTS);
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    std::fs::write(&fifo, "go\n").expect("release the early process");
    assert!(before.wait().expect("wait").success());

    // A shell that runs a program, opens the marker through cat, and
    // through a subshell (a fork that does not exec).
    let script = format!("{program} child one; cat {marker} >/dev/null; (: < {marker}); true");
    let shell = run_in(
        &cgroup,
        Command::new("/bin/sh")
            .arg0("polc-parent-sh")
            .args(["-c", &script]),
    );
    assert!(shell.0.success(), "{shell:?}");
    // A program whose parent's command line a rule denies.
    let deny_script = format!("{program} x; exit $?");
    let denied = run_in(
        &cgroup,
        Command::new("/bin/sh")
            .arg0("polc-deny-me")
            .args(["-c", &deny_script]),
    );
    let finished = polrt.stop_ok();
    assert_eq!(denied.0.code(), Some(128 + libc::SIGKILL), "{denied:?}");

    let shell_line = format!("polc-parent-sh -c {script}");
    let ran: Vec<&Value> = finished
        .events()
        .into_iter()
        .filter(|e| e["rule"] == "ran")
        .map(|e| &e["fields"])
        .collect();
    let child = ran
        .iter()
        .find(|f| f["exec.cmdline"] == format!("{program} child one"))
        .unwrap_or_else(|| panic!("{ran:?}"));
    assert_eq!(
        child["proc.cmdline"], child["exec.cmdline"],
        "on exec: the new program's"
    );
    assert_eq!(child["proc.parent.cmdline"], shell_line.as_str());
    let late = ran
        .iter()
        .find(|f| f["exec.cmdline"] == format!("{program} late"))
        .unwrap_or_else(|| panic!("{ran:?}"));
    assert_eq!(
        late["proc.parent.cmdline"],
        format!("polc-before -c {before_script}"),
        "a process that ran before polrt: from /proc"
    );

    let opened: Vec<&Value> = finished
        .events()
        .into_iter()
        .filter(|e| e["rule"] == "opened")
        .map(|e| &e["fields"])
        .collect();
    assert_eq!(opened.len(), 2, "{opened:?}");
    let cat = opened
        .iter()
        .find(|f| f["proc.cmdline"] == format!("cat {marker}"))
        .unwrap_or_else(|| panic!("{opened:?}"));
    assert_eq!(cat["proc.parent.cmdline"], shell_line.as_str());
    let subshell = opened
        .iter()
        .find(|f| f["proc.cmdline"] == shell_line.as_str())
        .unwrap_or_else(|| panic!("a forked subshell has its parent's: {opened:?}"));
    assert_eq!(subshell["proc.parent.cmdline"], shell_line.as_str());

    let event = decided(&finished, "spawned_by");
    assert_eq!(
        event["message"],
        format!("spawned by polc-deny-me -c {deny_script}")
    );
}

/// Two policies: any second test of an argument a rule loads only on some
/// paths would make it loaded up front, before any test of argc.
const FOURTH: &str = r#"
rule fourth {
    on exec
    when exec.path endswith "/polc-argv-true" and exec.argc > 3 and exec.args[3] == "four"
    deny "fourth argument: {exec.args[3]}"
}
"#;

const NO_OPTION: &str = r#"
rule no_option {
    on exec
    when exec.path endswith "/polc-argv-true" and exec.argc >= 2 and not exec.args[*] startswith "-"
    deny "no option among {exec.argc}"
}
"#;

/// `exec.args[*]` under `not` (its `or` leaves at the first failed argc
/// guard, on either side of the test) and an argument whose argc test
/// comes first in the rule (its load reads no argc again): each decided
/// on the real argv, with as many arguments as the guards test and fewer.
#[test]
fn argument_tests_behind_argc_tests_decide_on_the_real_argv() {
    if !kernel_tests_enabled("argument_tests_behind_argc_tests_decide_on_the_real_argv") {
        return;
    }
    let work = TempDir::new("cmdline-guards");
    let cgroup = TestCgroup::new("cmdline-guards");
    let program = copy_executable("/bin/true", &work, "polc-argv-true");
    let run = |argv0: &str, args: &[&str]| {
        run_in(
            &cgroup,
            Command::new(&program).arg0(argv0).args(args).env_clear(),
        )
    };
    type Runs<'a> = [(&'a str, &'a [&'a str], bool)];
    let cases: [(&str, &str, &Runs, &str); 2] = [
        (
            "fourth",
            FOURTH,
            &[
                ("args[3] is four", &["-x", "three", "four"], true),
                ("args[2] is four", &["-x", "four"], false),
                ("argc 1", &[], false),
            ],
            "fourth argument: four",
        ),
        (
            "no_option",
            NO_OPTION,
            &[
                ("no option", &["one", "two"], true),
                ("an option last", &["one", "two", "-v"], false),
                ("argc 1", &[], false),
            ],
            "no option among 3",
        ),
    ];
    for (rule, source, runs, message) in cases {
        let policy = write_policy(&work, &format!("{rule}.pol"), source);
        let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
        let statuses: Vec<_> = runs
            .iter()
            .map(|(name, args, _)| run(&format!("polc-{}", name.replace(' ', "-")), args))
            .collect();
        let finished = polrt.stop_ok();
        for ((name, _, killed), status) in runs.iter().zip(&statuses) {
            let signal = if *killed { Some(libc::SIGKILL) } else { None };
            assert_eq!(
                status.0.signal(),
                signal,
                "{rule}, {name}: {status:?}\n{}",
                finished.stderr
            );
        }
        assert_eq!(decided(&finished, rule)["message"], message);
    }
}
