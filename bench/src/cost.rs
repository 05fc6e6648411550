//! Per-event cost in the kernel, code size and verifier statistics: the
//! polc program and its clang-built C equivalent are loaded side by side,
//! then attached one at a time to the same hook while the same load runs;
//! each run's cost is `Δrun_time_ns / Δrun_cnt`, and the order alternates
//! between repetitions. The floor is the empty program on the same hook
//! under the same load.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::compile::Instance;
use crate::kernel::{CProgram, CodeStats, Kernel, Subject};
use crate::load::{self, LoadRun};
use crate::scenario::{Hook, Load};
use crate::timing::Measure;

/// Per-event cost of one instance under one load.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EventRow {
    pub scenario: String,
    pub size: Option<usize>,
    /// `miss` (no rule matches) or `hit` (a rule matches and reports).
    pub case: String,
    pub load: Load,
    /// Nanoseconds per event.
    pub polc: Measure,
    pub clang: Measure,
    /// Program runs counted per system call generated (above 1: other
    /// processes' events on the same hook).
    pub polc_coverage: f64,
    pub clang_coverage: f64,
    /// For `hit`: records read from the ring buffer per program run (1: no
    /// event lost, so every run paid for a successful output).
    pub polc_delivered: Option<f64>,
    pub clang_delivered: Option<f64>,
}

/// Code size and verifier statistics of one instance.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SizeRow {
    pub scenario: String,
    pub size: Option<usize>,
    pub polc: Result<CodeStats, String>,
    pub clang: Result<CodeStats, String>,
}

/// The empty program's cost on one hook.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FloorRow {
    pub hook: Hook,
    pub load: Load,
    pub ns: Measure,
}

/// How long and how often.
#[derive(Clone, Debug)]
pub struct Plan {
    pub reps: usize,
    pub duration: Duration,
    /// Write each loaded program's translated code here (bpftool).
    pub dump: Option<PathBuf>,
    pub bpftool: Option<PathBuf>,
    /// Run the load at real-time priority.
    pub realtime: bool,
}

/// `bpftool prog dump xlated id ID` into `path`.
fn dump_xlated(bpftool: &Path, subject: &Subject, path: &Path) {
    let Some(id) = subject.id() else { return };
    if let Ok(output) = std::process::Command::new(bpftool)
        .args(["prog", "dump", "xlated", "id", &id.to_string()])
        .output()
    {
        let _ = std::fs::write(path, output.stdout);
    }
}

/// Measures the floor of every hook.
pub fn floors(kernel: &Kernel, empty_object: &Path, plan: &Plan) -> Vec<FloorRow> {
    let mut rows = Vec::new();
    for hook in Hook::ALL {
        let load = hook.floor_load();
        let ns = match Subject::clang(kernel, empty_object, hook, CProgram::Floor, None, false) {
            Ok(mut subject) => {
                let (runs, _, _) = measure(kernel, &mut [&mut subject], &load, plan);
                runs.into_iter().next().unwrap_or_else(|| skipped("no run"))
            }
            Err(e) => Measure::Failed {
                reason: e,
                after: 0.0,
            },
        };
        eprintln!("polc-bench: floor {}: {}", hook.attach_point(), show(&ns));
        rows.push(FloorRow { hook, load, ns });
    }
    rows
}

fn skipped(reason: &str) -> Measure {
    Measure::Skipped {
        reason: reason.to_string(),
    }
}

/// A short text of a measure for progress lines.
pub fn show(m: &Measure) -> String {
    match m {
        Measure::Ok { median, .. } => format!("{median:.1}"),
        Measure::Failed { reason, .. } => {
            format!("failed ({})", reason.lines().next().unwrap_or_default())
        }
        Measure::TimedOut { after } => format!("timed out after {after:.0}"),
        Measure::Skipped { reason } => format!("skipped ({reason})"),
    }
}

/// Loads both objects of `instance`, records their code statistics and
/// measures every load of the scenario.
pub fn instance(kernel: &Kernel, instance: &Instance, plan: &Plan) -> (SizeRow, Vec<EventRow>) {
    let scenario = &instance.scenario;
    let hook = scenario.hook;
    let drain = scenario.hit.is_some();
    let polc = match &instance.polc_object {
        Ok(path) => Subject::polc(kernel, path, hook, drain),
        Err(e) => Err(format!("not built: {e}")),
    };
    let clang = match &instance.clang_object {
        Ok(path) => Subject::clang(
            kernel,
            path,
            hook,
            CProgram::Equivalent,
            instance.sources.c_set.as_ref(),
            drain,
        ),
        Err(e) => Err(format!("not built: {e}")),
    };
    if let Some(dir) = &plan.dump {
        for (subject, kind) in [(&polc, "polc"), (&clang, "clang")] {
            if let (Ok(subject), Some(bpftool)) = (subject, &plan.bpftool) {
                dump_xlated(
                    bpftool,
                    subject,
                    &dir.join(format!(
                        "{}.{kind}.xlated",
                        instance.label().replace('/', "-")
                    )),
                );
            }
        }
    }
    let size = SizeRow {
        scenario: scenario.name.to_string(),
        size: instance.size,
        polc: polc.as_ref().map(|s| s.code.clone()).map_err(Clone::clone),
        clang: clang.as_ref().map(|s| s.code.clone()).map_err(Clone::clone),
    };
    let (mut polc, mut clang) = (polc, clang);
    let mut rows = Vec::new();
    let cases = std::iter::once(("miss", scenario.miss.clone()))
        .chain(scenario.hit.clone().map(|hit| ("hit", hit)));
    for (case, load) in cases {
        let mut subjects: Vec<&mut Subject> = Vec::new();
        let mut slots = Vec::new();
        for (i, subject) in [polc.as_mut(), clang.as_mut()].into_iter().enumerate() {
            if let Ok(subject) = subject {
                subjects.push(subject);
                slots.push(i);
            }
        }
        let (runs, coverage, delivered) = measure(kernel, &mut subjects, &load, plan);
        let mut measured = [None, None];
        for (((slot, m), c), d) in slots.into_iter().zip(runs).zip(coverage).zip(delivered) {
            measured[slot] = Some((m, c, d));
        }
        let [polc_m, clang_m] = measured;
        let hit = case == "hit";
        let fail = |r: &Result<Subject, String>| match r {
            Err(e) => Measure::Failed {
                reason: e.clone(),
                after: 0.0,
            },
            Ok(_) => skipped("no run"),
        };
        let (polc_ns, polc_coverage, polc_delivered) =
            polc_m.unwrap_or_else(|| (fail(&polc), 0.0, 0.0));
        let (clang_ns, clang_coverage, clang_delivered) =
            clang_m.unwrap_or_else(|| (fail(&clang), 0.0, 0.0));
        eprintln!(
            "polc-bench: {} {case}: polc {} ns, clang {} ns",
            instance.label(),
            show(&polc_ns),
            show(&clang_ns)
        );
        rows.push(EventRow {
            scenario: scenario.name.to_string(),
            size: instance.size,
            case: case.to_string(),
            load,
            polc: polc_ns,
            clang: clang_ns,
            polc_coverage,
            clang_coverage,
            polc_delivered: hit.then_some(polc_delivered),
            clang_delivered: hit.then_some(clang_delivered),
        });
    }
    (size, rows)
}

/// Runs `load` `plan.reps` times against each subject in turn (alternating
/// the order); per subject, the per-event costs, the runs counted per call
/// generated, and the ring buffer records read per run.
fn measure(
    kernel: &Kernel,
    subjects: &mut [&mut Subject],
    load: &Load,
    plan: &Plan,
) -> (Vec<Measure>, Vec<f64>, Vec<f64>) {
    let n = subjects.len();
    let mut runs: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut counted = vec![0u64; n];
    let mut generated = vec![0u64; n];
    let mut drained = vec![0u64; n];
    let mut failure: Vec<Option<String>> = vec![None; n];
    let in_container = matches!(
        load,
        Load::Exec {
            cgroup: Some(_),
            ..
        }
    );
    let cgroup = (subjects.first().map(|s| s.hook) == Some(Hook::Connect) || in_container)
        .then(|| kernel.cgroup.path.clone());
    for rep in 0..plan.reps {
        let order: Vec<usize> = if rep % 2 == 0 {
            (0..n).collect()
        } else {
            (0..n).rev().collect()
        };
        for i in order {
            if failure[i].is_some() {
                continue;
            }
            let subject = &mut subjects[i];
            let result = (|| {
                subject.attach(kernel)?;
                std::thread::sleep(Duration::from_millis(20));
                let before = subject.stats()?;
                let drained_before = subject.drained();
                let done = load::run(&LoadRun {
                    load: load.clone(),
                    duration: plan.duration,
                    cgroup: cgroup.clone(),
                    rate: None,
                    realtime: plan.realtime,
                });
                let after = subject.stats()?;
                subject.detach();
                // The drain thread reads every millisecond.
                std::thread::sleep(Duration::from_millis(20));
                let records = subject.drained() - drained_before;
                let done = done?;
                Ok::<_, String>((
                    after.count - before.count,
                    after.ns - before.ns,
                    done.calls,
                    records,
                ))
            })();
            subject.detach();
            match result {
                Ok((count, ns, calls, records)) if count > 0 => {
                    runs[i].push(ns as f64 / count as f64);
                    counted[i] += count;
                    generated[i] += calls;
                    drained[i] += records;
                }
                Ok(_) => failure[i] = Some("the program never ran".into()),
                Err(e) => failure[i] = Some(e),
            }
        }
    }
    let measures = runs
        .into_iter()
        .zip(failure)
        .map(|(runs, failure)| match failure {
            Some(reason) => Measure::Failed { reason, after: 0.0 },
            None => Measure::from_runs(runs),
        })
        .collect();
    let ratio = |a: &[u64], b: &[u64]| -> Vec<f64> {
        a.iter()
            .zip(b)
            .map(|(a, b)| if *b == 0 { 0.0 } else { *a as f64 / *b as f64 })
            .collect()
    };
    (
        measures,
        ratio(&counted, &generated),
        ratio(&drained, &counted),
    )
}
