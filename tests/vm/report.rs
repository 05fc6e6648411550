//! The report of one VM run: parses what `tests/vm/scenarios.sh` printed in a
//! guest (through `tests/vm/run-in-vm.sh`) and judges it against the list of
//! expected scenarios.
//!
//! Protocol: `polc-vm: booted ...` once the guest is up, then one line per
//! scenario, `PASS <name>` or `FAIL <name>: <why>`, then
//! `polc-vm: scenarios done`. `SKIP` is forbidden: a scenario that cannot run
//! fails. Other lines starting `polc-vm: ` are records a scenario kept (e.g.
//! `polc-vm: objects <sha256>`, the digest of the objects the guest loaded);
//! any other line is scenario output and is ignored here.
//!
//! Pure text in, verdict out: no processes, no files. Included by the driver
//! `tests/vm.rs`; its tests are `tests/vm/report_tests.rs` (the `vm_report`
//! test target), because the driver runs without the test harness.

/// The line guest.sh prints once the guest has booted.
pub const BOOT_MARKER: &str = "polc-vm: booted ";
/// The line scenarios.sh prints after its last scenario.
pub const DONE_MARKER: &str = "polc-vm: scenarios done";
/// The prefix of every record line.
pub const RECORD_PREFIX: &str = "polc-vm: ";
/// The record of the digest of the objects the guest loaded.
pub const OBJECTS_RECORD: &str = "objects ";

/// The outcome of one scenario as the guest reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `PASS <name>`.
    Pass,
    /// `FAIL <name>: <why>`.
    Fail(String),
}

/// Everything one VM run reported, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// The boot marker line without its prefix (kernel release, uptime, LSMs).
    pub booted: Option<String>,
    /// Scenario names with their outcomes, in the order reported.
    pub outcomes: Vec<(String, Outcome)>,
    /// Lines that start with `SKIP` (always a problem).
    pub skips: Vec<String>,
    /// Whether the done marker was seen.
    pub done: bool,
    /// The digest of the objects the guest loaded (`polc-vm: objects ...`).
    pub objects: Option<String>,
    /// Every other record, without its prefix, in order.
    pub records: Vec<String>,
}

/// Parses the guest's stdout.
pub fn parse(stdout: &str) -> Report {
    let mut report = Report::default();
    for line in stdout.lines() {
        let line = line.trim_end();
        if let Some(rest) = line.strip_prefix(BOOT_MARKER) {
            report.booted = Some(rest.to_string());
        } else if line == DONE_MARKER {
            report.done = true;
        } else if let Some(record) = line.strip_prefix(RECORD_PREFIX) {
            match record.strip_prefix(OBJECTS_RECORD) {
                Some(digest) => report.objects = Some(digest.trim().to_string()),
                None => report.records.push(record.to_string()),
            }
        } else if let Some(name) = line.strip_prefix("PASS ") {
            report
                .outcomes
                .push((name.trim().to_string(), Outcome::Pass));
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            let (name, why) = rest.split_once(':').unwrap_or((rest, "no reason given"));
            report.outcomes.push((
                name.trim().to_string(),
                Outcome::Fail(why.trim().to_string()),
            ));
        } else if line.starts_with("SKIP") {
            report.skips.push(line.to_string());
        }
    }
    report
}

/// Every reason to fail the run: a missing boot, failed, missing, unexpected,
/// duplicated or skipped scenarios, a missing done marker, or an exit status
/// that disagrees with the scenarios. Empty means the run passed.
pub fn problems(report: &Report, expected: &[&str], exit_status: Option<i32>) -> Vec<String> {
    let mut problems = Vec::new();
    if report.booted.is_none() {
        problems.push("the guest did not boot (no boot marker)".to_string());
    }
    for (name, outcome) in &report.outcomes {
        if let Outcome::Fail(why) = outcome {
            problems.push(format!("{name} failed: {why}"));
        }
        if !expected.contains(&name.as_str()) {
            problems.push(format!(
                "{name}: reported but not expected (add it to the driver's list)"
            ));
        }
    }
    if report.booted.is_some() {
        for name in expected {
            match report.outcomes.iter().filter(|(n, _)| n == name).count() {
                0 => problems.push(format!("{name}: not reported")),
                1 => {}
                n => problems.push(format!("{name}: reported {n} times")),
            }
        }
        if !report.done {
            problems.push("scenarios.sh did not finish (no done marker)".to_string());
        }
    }
    for line in &report.skips {
        problems.push(format!("skipping is not allowed: {line}"));
    }
    match exit_status {
        None => problems.push("the run was killed by a signal".to_string()),
        Some(code) if code != 0 && problems.is_empty() => problems.push(format!(
            "every scenario passed but the run exited with status {code}"
        )),
        Some(_) => {}
    }
    problems
}

/// Why a run's objects are not the host's: the guest must report the digest
/// of the objects it loaded, and it must be `host_digest` (what
/// `tests/vm/prepare.sh` built). Only judged when the guest booted.
pub fn object_problems(report: &Report, host_digest: &str) -> Vec<String> {
    if report.booted.is_none() {
        return Vec::new();
    }
    match &report.objects {
        None => vec!["the guest did not report the digest of the objects it loaded".to_string()],
        Some(digest) if digest != host_digest => vec![format!(
            "the guest loaded objects with digest {digest}, the host built {host_digest}"
        )],
        Some(_) => Vec::new(),
    }
}
