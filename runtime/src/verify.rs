//! `polrt verify`: every program of an object through the running kernel's
//! verifier, nothing attached; a per-program report and whether the object
//! passed. Programs this host cannot load (LSM under lockdown) are reported
//! as "not verifiable here", never as passed.
//!
//! Depends on `object`, `probe` and `loader`; the report text is built here.

use std::fmt::Write as _;
use std::path::Path;

use polc_abi::ProgramMeta;

use crate::loader::{self, Verification};
use crate::{object, probe, Error};

/// The result of verifying one object.
#[derive(Clone, Debug)]
pub struct VerifyReport {
    pub path: String,
    pub programs: Vec<(ProgramMeta, Verification)>,
    /// Why this kernel would not run LSM programs (see
    /// [`probe::bpf_lsm`]), when it would not.
    pub lsm_unavailable: Option<String>,
}

impl VerifyReport {
    /// Number of programs the verifier rejected.
    pub fn rejected(&self) -> usize {
        self.count(|v| matches!(v, Verification::Rejected { .. }))
    }

    /// Number of programs the verifier accepted.
    pub fn passed(&self) -> usize {
        self.count(|v| matches!(v, Verification::Passed { .. }))
    }

    /// Number of programs this host cannot load.
    pub fn not_verifiable(&self) -> usize {
        self.count(|v| matches!(v, Verification::NotVerifiable(_)))
    }

    /// Number of programs whose attach target this kernel lacks and whose
    /// backend runs without them.
    pub fn absent(&self) -> usize {
        self.count(|v| matches!(v, Verification::Absent(_)))
    }

    fn count(&self, f: impl Fn(&Verification) -> bool) -> usize {
        self.programs.iter().filter(|(_, v)| f(v)).count()
    }

    /// The human report: one line per program, rejections with their log.
    pub fn render(&self) -> String {
        let mut out = format!("{}:\n", self.path);
        let _ = writeln!(
            out,
            "  {:<28} {:<40} {:>6} {:>9} {:>9}  result",
            "program", "section", "insns", "verified", "load ms"
        );
        for (meta, verification) in &self.programs {
            let (verified, time, result) = match verification {
                Verification::Passed {
                    verified_insns,
                    load_time,
                } => (
                    verified_insns.map_or("?".to_string(), |n| n.to_string()),
                    format!("{:.2}", load_time.as_secs_f64() * 1000.0),
                    "passed".to_string(),
                ),
                Verification::NotVerifiable(why) => (
                    "-".to_string(),
                    "-".to_string(),
                    format!("not verifiable here: {why}"),
                ),
                Verification::Rejected { error, .. } => (
                    "-".to_string(),
                    "-".to_string(),
                    format!("REJECTED: {error}"),
                ),
                Verification::Absent(why) => (
                    "-".to_string(),
                    "-".to_string(),
                    format!("absent from this kernel: {why}"),
                ),
            };
            let _ = writeln!(
                out,
                "  {:<28} {:<40} {:>6} {:>9} {:>9}  {result}",
                meta.symbol, meta.section, meta.insns, verified, time
            );
        }
        // Each log once: the programs of one hook (one per attach point)
        // often share their code, and so their rejection.
        let mut printed: Vec<(&str, String)> = Vec::new();
        for (meta, verification) in &self.programs {
            if let Verification::Rejected { log, .. } = verification {
                let gist = without_timing(log);
                if let Some((first, _)) = printed.iter().find(|(_, g)| *g == gist) {
                    let _ = writeln!(
                        out,
                        "\nverifier log of `{}` ({}): the same as `{first}`'s",
                        meta.symbol, meta.section
                    );
                    continue;
                }
                let _ = writeln!(
                    out,
                    "\nverifier log of `{}` ({}):",
                    meta.symbol, meta.section
                );
                out.push_str(log);
                printed.push((&meta.symbol, gist));
            }
        }
        let lsm_passed = self.programs.iter().any(|(meta, v)| {
            loader::runs_with_bpf_lsm(&meta.section) && matches!(v, Verification::Passed { .. })
        });
        if let (true, Some(why)) = (lsm_passed, &self.lsm_unavailable) {
            let _ = writeln!(
                out,
                "note: the lsm programs passed the verifier, but this kernel would not run them: {why}; polrt run uses the next backend"
            );
        }
        let _ = write!(
            out,
            "{} passed, {} rejected, {} not verifiable here",
            self.passed(),
            self.rejected(),
            self.not_verifiable()
        );
        if self.absent() > 0 {
            let _ = write!(out, ", {} absent from this kernel", self.absent());
        }
        out.push('\n');
        out
    }
}

impl VerifyReport {
    /// One JSON object per program (`polrt verify --format json`): the
    /// object, the kernel it was verified on, the program, its section and
    /// instructions, and the result (`passed` with the verifier's processed
    /// instructions and the load time; `rejected` with the reason and the
    /// log; `not_verifiable` with why; `absent` with what the policy does
    /// without a program whose attach point this kernel lacks).
    pub fn json_lines(&self, kernel: &str) -> Vec<serde_json::Value> {
        self.programs
            .iter()
            .map(|(meta, verification)| {
                let mut line = serde_json::json!({
                    "object": self.path,
                    "kernel": kernel,
                    "program": meta.symbol,
                    "section": meta.section,
                    "insns": meta.insns,
                });
                let fields = match verification {
                    Verification::Passed {
                        verified_insns,
                        load_time,
                    } => serde_json::json!({
                        "result": "passed",
                        "verified_insns": verified_insns,
                        "load_ms": load_time.as_secs_f64() * 1000.0,
                    }),
                    Verification::NotVerifiable(why) => serde_json::json!({
                        "result": "not_verifiable",
                        "reason": why,
                    }),
                    Verification::Rejected { error, log } => serde_json::json!({
                        "result": "rejected",
                        "reason": error,
                        "log": log,
                    }),
                    Verification::Absent(why) => serde_json::json!({
                        "result": "absent",
                        "reason": why,
                    }),
                };
                if let (Some(line), serde_json::Value::Object(fields)) =
                    (line.as_object_mut(), fields)
                {
                    line.extend(fields);
                }
                line
            })
            .collect()
    }
}

/// The running kernel's release (`uname -r`), for reports.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|release| release.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// A verifier log without its timing line, which differs between runs of
/// the same code.
fn without_timing(log: &str) -> String {
    log.lines()
        .filter(|line| !line.starts_with("verification time"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What verifying needs of the running kernel: read once, however many
/// objects are verified (parsing the kernel's BTF dominates a small
/// object's verification).
pub struct KernelContext {
    types: probe::KernelTypes,
    features: u32,
    lsm: probe::BpfLsm,
}

impl KernelContext {
    /// Checks privileges, reads the kernel's BTF, probes its features and
    /// whether it runs BPF LSM programs.
    pub fn probe() -> Result<KernelContext, Error> {
        probe::check_privileges()?;
        let types = probe::kernel_btf()?;
        let lsm = probe::bpf_lsm(&types);
        Ok(KernelContext {
            types,
            features: probe::kernel_features()?,
            lsm,
        })
    }
}

/// Verifies the object (or compiled source) at `path`. `kernel` is probed
/// on first use (after the object was read, so an unreadable or corrupt
/// object is reported as such even without privileges) and kept for the
/// next objects.
pub fn verify(
    path: &Path,
    full_log: bool,
    kernel: &mut Option<KernelContext>,
) -> Result<VerifyReport, Error> {
    let policy = object::load_path(path, polc::compile::DEFAULT_RINGBUF_BYTES)?;
    let kernel = match kernel {
        Some(kernel) => kernel,
        None => kernel.insert(KernelContext::probe()?),
    };
    let programs = loader::verify(&policy, &kernel.types, kernel.features, full_log)?;
    Ok(VerifyReport {
        path: policy.path,
        programs,
        lsm_unavailable: kernel.lsm.unavailable().map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::tests::sample_metadata;
    use std::time::Duration;

    #[test]
    fn the_report_never_counts_unverifiable_programs_as_passed() {
        let program = sample_metadata().programs[0].clone();
        let mut lsm = program.clone();
        lsm.symbol = "file_open_lsm".into();
        lsm.section = "lsm/file_open".into();
        let mut bad = program.clone();
        bad.symbol = "broken".into();
        let report = VerifyReport {
            path: "p.o".into(),
            lsm_unavailable: None,
            programs: vec![
                (
                    program,
                    Verification::Passed {
                        verified_insns: Some(42),
                        load_time: Duration::from_micros(1500),
                    },
                ),
                (lsm, Verification::NotVerifiable("lockdown".into())),
                (
                    bad,
                    Verification::Rejected {
                        error: "Permission denied".into(),
                        log: "3: (79) r1 = *(u64 *)(r7 +0)\nR7 invalid mem access\n".into(),
                    },
                ),
            ],
        };
        assert_eq!(
            (report.passed(), report.rejected(), report.not_verifiable()),
            (1, 1, 1)
        );
        let text = report.render();
        assert!(text.contains("not verifiable here: lockdown"), "{text}");
        assert!(text.contains("REJECTED"), "{text}");
        assert!(text.contains("R7 invalid mem access"), "{text}");
        assert!(text.contains(" 42 "), "{text}");
        assert!(
            text.ends_with("1 passed, 1 rejected, 1 not verifiable here\n"),
            "{text}"
        );
        assert!(!text.contains("note:"), "{text}");
        let lines = report.json_lines("6.1.0-test");
        let results: Vec<&str> = lines
            .iter()
            .map(|l| l["result"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(results, ["passed", "not_verifiable", "rejected"]);
        assert_eq!(lines[0]["verified_insns"], 42);
        assert_eq!(lines[0]["kernel"], "6.1.0-test");
        assert_eq!(lines[1]["reason"], "lockdown");
        assert!(lines[2]["log"]
            .as_str()
            .is_some_and(|l| l.contains("R7 invalid mem access")));
    }

    #[test]
    fn lsm_programs_that_pass_where_bpf_lsm_is_inactive_carry_a_note() {
        let mut lsm = sample_metadata().programs[0].clone();
        lsm.symbol = "file_open_lsm".into();
        lsm.section = "lsm/file_open".into();
        let passed = Verification::Passed {
            verified_insns: Some(42),
            load_time: Duration::from_micros(1500),
        };
        let mut report = VerifyReport {
            path: "p.o".into(),
            programs: vec![(lsm, passed)],
            lsm_unavailable: Some("BPF LSM is not active: ...".into()),
        };
        let text = report.render();
        assert!(
            text.contains("note: the lsm programs passed the verifier, but this kernel would not run them: BPF LSM is not active"),
            "{text}"
        );
        assert!(
            text.ends_with("1 passed, 0 rejected, 0 not verifiable here\n"),
            "{text}"
        );
        // Nothing to say when no lsm program passed (lockdown refuses them).
        report.programs[0].1 = Verification::NotVerifiable("lockdown".into());
        assert!(!report.render().contains("note:"));
    }
}
