//! Tests of the VM report parser (`tests/vm/report.rs`), which the driver
//! `tests/vm.rs` includes but cannot test itself (it runs without the test
//! harness). Text in, problems out: no VM is booted here.

#[path = "report.rs"]
mod report;

use report::{object_problems, parse, problems, Outcome};

const EXPECTED: &[&str] = &["a", "b"];

fn run(stdout: &str, status: Option<i32>) -> Vec<String> {
    problems(&parse(stdout), EXPECTED, status)
}

#[test]
fn a_clean_run_has_no_problems() {
    let out = "polc-vm: booted 6.1.0 uptime=14s lsm=bpf\nnoise\nPASS a\nPASS b\npolc-vm: scenarios done\n";
    let report = parse(out);
    assert_eq!(report.booted.as_deref(), Some("6.1.0 uptime=14s lsm=bpf"));
    assert_eq!(
        report.outcomes,
        vec![("a".into(), Outcome::Pass), ("b".into(), Outcome::Pass)]
    );
    assert_eq!(run(out, Some(0)), Vec::<String>::new());
}

#[test]
fn a_failure_carries_its_reason() {
    let out = "polc-vm: booted x\nPASS a\nFAIL b: exec was not refused\n  | detail\npolc-vm: scenarios done\n";
    assert_eq!(
        run(out, Some(1)),
        vec!["b failed: exec was not refused".to_string()]
    );
}

#[test]
fn missing_boot_is_reported_once() {
    assert_eq!(
        run("", Some(125)),
        vec!["the guest did not boot (no boot marker)".to_string()]
    );
}

#[test]
fn missing_unexpected_and_duplicate_scenarios_fail() {
    let out = "polc-vm: booted x\nPASS a\nPASS a\nPASS c\npolc-vm: scenarios done\n";
    let found = run(out, Some(0));
    assert!(found.contains(&"b: not reported".to_string()), "{found:?}");
    assert!(
        found.contains(&"a: reported 2 times".to_string()),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("c: reported but not expected")),
        "{found:?}"
    );
}

#[test]
fn skip_lines_and_a_truncated_run_fail() {
    let out = "polc-vm: booted x\nPASS a\nSKIP b: no lsm\n";
    let found = run(out, Some(0));
    assert!(
        found.contains(&"skipping is not allowed: SKIP b: no lsm".to_string()),
        "{found:?}"
    );
    assert!(
        found.contains(&"scenarios.sh did not finish (no done marker)".to_string()),
        "{found:?}"
    );
}

#[test]
fn a_bad_exit_status_fails_an_otherwise_clean_run() {
    let out = "polc-vm: booted x\nPASS a\nPASS b\npolc-vm: scenarios done\n";
    assert_eq!(
        run(out, Some(124)),
        vec!["every scenario passed but the run exited with status 124".to_string()]
    );
    assert_eq!(
        run(out, None),
        vec!["the run was killed by a signal".to_string()]
    );
}

#[test]
fn records_are_kept_and_the_objects_digest_is_judged() {
    let out = "polc-vm: booted x\npolc-vm: objects abc123\npolc-vm: verify a.o: 3 programs passed\nPASS a\nPASS b\npolc-vm: scenarios done\n";
    let report = parse(out);
    assert_eq!(report.objects.as_deref(), Some("abc123"));
    assert_eq!(report.records, vec!["verify a.o: 3 programs passed"]);
    assert_eq!(run(out, Some(0)), Vec::<String>::new());
    assert_eq!(object_problems(&report, "abc123"), Vec::<String>::new());
    assert_eq!(
        object_problems(&report, "def456"),
        vec!["the guest loaded objects with digest abc123, the host built def456".to_string()]
    );
    let without = parse("polc-vm: booted x\nPASS a\n");
    assert_eq!(
        object_problems(&without, "abc123"),
        vec!["the guest did not report the digest of the objects it loaded".to_string()]
    );
    assert_eq!(object_problems(&parse(""), "abc123"), Vec::<String>::new());
}
