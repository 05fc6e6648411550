//! `polc-bench agent`: what polrt costs as a node agent (docs/runtime.md,
//! "Several policies, and hot reload").
//!
//! - **Several policies against one merged policy**: the same rules (on
//!   `cgroup/connect4`) split over N policies (each loaded as polrt loads it, all attached to the
//!   hook at once) or written in one policy. The per-event cost of the
//!   split set is the sum of its programs' `Δrun_time_ns` over the events
//!   (each program runs once per event), against the merged program's;
//!   medians over repetitions, the two alternating.
//! - **Hot reload latency**: `polrt run` of a policy file, replaced K times
//!   (a new file renamed over it); from the rename to polrt's `reloaded`
//!   line on stderr, which it prints once the new generation is attached
//!   and the old one detached.
//!
//! Writes its tables between the `agent` markers of docs/performance.md
//! and its figures to docs/performance/agent.json. No timing is asserted.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::compile::Tools;
use crate::kernel::{Kernel, Subject};
use crate::load::{self, LoadDone, LoadRun};
use crate::scenario::{Hook, Load};
use crate::timing::Measure;

/// One split of the rules.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ComposeRow {
    pub hook: String,
    /// Rules in all.
    pub rules: usize,
    /// Policies they are split over.
    pub policies: usize,
    /// Nanoseconds per event: the split set (sum of its programs).
    pub several: Measure,
    /// Nanoseconds per event: one policy with every rule.
    pub merged: Measure,
    /// Translated instructions: the split set's (sum) and the merged one's.
    pub several_insns: u32,
    pub merged_insns: u32,
    /// What the caller pays: nanoseconds per `connect` system call (wall
    /// clock, run-time statistics off) with no program attached, with the
    /// merged policy and with the split set.
    #[serde(default = "not_measured")]
    pub call_none: Measure,
    #[serde(default = "not_measured")]
    pub call_merged: Measure,
    #[serde(default = "not_measured")]
    pub call_several: Measure,
}

fn not_measured() -> Measure {
    Measure::Skipped {
        reason: "not measured".into(),
    }
}

/// Hot reload latency.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ReloadRow {
    pub reloads: usize,
    /// Milliseconds from the rename to polrt's `reload: ... reloaded` line.
    pub ms: Measure,
}

/// Everything `polc-bench agent` measured.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AgentResults {
    pub kernel: String,
    pub command: String,
    pub compose: Vec<ComposeRow>,
    pub reload: ReloadRow,
}

/// Rule `i` of the compose rows. Only `cgroup/connect4` is measured: the
/// file hooks' fallback on this host is `tp_btf/sys_exit`, which runs on
/// every system call's exit, and the LSM backend needs BPF LSM.
fn rule(i: usize) -> String {
    format!(
        "rule r{i:05} {{\n    on net.connect\n    when net.dport == {}\n    audit\n}}\n",
        20000 + i
    )
}

/// The load every compose row runs: matches no rule.
fn miss() -> Load {
    Load::Connect {
        addr: std::net::Ipv4Addr::LOCALHOST,
        port: 9,
    }
}

/// `polc build` of `text` into `dir/NAME.o`.
fn build(tools: &Tools, dir: &Path, name: &str, text: &str) -> Result<PathBuf, String> {
    let source = dir.join(format!("{name}.pol"));
    let object = dir.join(format!("{name}.o"));
    std::fs::write(&source, text).map_err(|e| format!("{}: {e}", source.display()))?;
    let output = Command::new(&tools.polc)
        .arg("build")
        .arg(&source)
        .arg("-o")
        .arg(&object)
        .output()
        .map_err(|e| format!("polc: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "polc build {}: {}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(object)
}

/// Attaches every subject of `group`, runs the load, detaches them: the
/// group's nanoseconds per event (the sum over its programs, divided by the
/// runs of the first).
fn run_group(
    kernel: &Kernel,
    group: &mut [Subject],
    load: &Load,
    duration: Duration,
) -> Result<f64, String> {
    let cgroup =
        (group.first().map(|s| s.hook) == Some(Hook::Connect)).then(|| kernel.cgroup.path.clone());
    let result = (|| {
        for subject in group.iter_mut() {
            subject.attach(kernel)?;
        }
        std::thread::sleep(Duration::from_millis(20));
        let before: Vec<_> = group.iter().map(Subject::stats).collect::<Result<_, _>>()?;
        load::run(&LoadRun {
            load: load.clone(),
            duration,
            cgroup,
            rate: None,
            realtime: true,
        })?;
        let after: Vec<_> = group.iter().map(Subject::stats).collect::<Result<_, _>>()?;
        let ns: u64 = before.iter().zip(&after).map(|(b, a)| a.ns - b.ns).sum();
        let count = after[0].count - before[0].count;
        if count == 0 {
            return Err("the programs never ran".to_string());
        }
        Ok(ns as f64 / count as f64)
    })();
    for subject in group.iter_mut() {
        subject.detach();
    }
    result
}

/// Attaches every subject of `group` (none: nothing attached), runs the
/// load with run-time statistics off, detaches them: nanoseconds per
/// system call, wall clock, as the load generator saw them.
fn call_ns(
    kernel: &Kernel,
    group: &mut [Subject],
    load: &Load,
    duration: Duration,
) -> Result<f64, String> {
    let result = (|| {
        for subject in group.iter_mut() {
            subject.attach(kernel)?;
        }
        kernel.statistics(false)?;
        // Run counts grow only while statistics are on: a run during which
        // another process (another benchmark) held them on is made again.
        let counts = |group: &[Subject]| -> Result<Vec<u64>, String> {
            group.iter().map(|s| s.stats().map(|s| s.count)).collect()
        };
        let run = |group: &[Subject]| -> Result<LoadDone, String> {
            for _ in 0..10 {
                let before = counts(group)?;
                std::thread::sleep(Duration::from_millis(20));
                let done = load::run(&LoadRun {
                    load: load.clone(),
                    duration,
                    cgroup: Some(kernel.cgroup.path.clone()),
                    rate: None,
                    realtime: true,
                })?;
                if counts(group)? == before {
                    return Ok(done);
                }
                std::thread::sleep(Duration::from_secs(2));
            }
            Err("another process kept the kernel's run-time statistics on".into())
        };
        let done = run(group);
        kernel.statistics(true)?;
        let done = done?;
        if done.calls == 0 {
            return Err("the load made no call".to_string());
        }
        Ok(done.seconds * 1e9 / done.calls as f64)
    })();
    for subject in group.iter_mut() {
        subject.detach();
    }
    result
}

/// The compose rows: `rules` rules on `cgroup/connect4` split over each
/// of `splits`.
fn compose(
    kernel: &Kernel,
    tools: &Tools,
    scratch: &Path,
    rules: usize,
    splits: &[usize],
    reps: usize,
    duration: Duration,
) -> Vec<ComposeRow> {
    let hook = Hook::Connect;
    let mut rows = Vec::new();
    let all: String = (0..rules).map(rule).collect();
    let dir = scratch.join(format!("agent-{}", hook.c_symbol()));
    let _ = std::fs::create_dir_all(&dir);
    for &n in splits {
        type Calls = (Measure, Measure, Measure);
        let measured = (|| -> Result<(Measure, Measure, u32, u32, Calls), String> {
            let merged_object = build(tools, &dir, "merged", &all)?;
            let mut merged = vec![Subject::polc(kernel, &merged_object, hook, false)?];
            let mut several = Vec::new();
            for p in 0..n {
                let text: String = (0..rules).filter(|i| i % n == p).map(rule).collect();
                let object = build(tools, &dir, &format!("part{p}"), &text)?;
                several.push(Subject::polc(kernel, &object, hook, false)?);
            }
            let load = miss();
            let (mut several_runs, mut merged_runs) = (Vec::new(), Vec::new());
            for rep in 0..reps {
                if rep % 2 == 0 {
                    several_runs.push(run_group(kernel, &mut several, &load, duration)?);
                    merged_runs.push(run_group(kernel, &mut merged, &load, duration)?);
                } else {
                    merged_runs.push(run_group(kernel, &mut merged, &load, duration)?);
                    several_runs.push(run_group(kernel, &mut several, &load, duration)?);
                }
            }
            // What a caller pays: the three set-ups in turn, rotated.
            let (mut none_calls, mut several_calls, mut merged_calls) =
                (Vec::new(), Vec::new(), Vec::new());
            for rep in 0..reps {
                for turn in 0..3 {
                    match (rep + turn) % 3 {
                        0 => none_calls.push(call_ns(kernel, &mut [], &load, duration)?),
                        1 => several_calls.push(call_ns(kernel, &mut several, &load, duration)?),
                        _ => merged_calls.push(call_ns(kernel, &mut merged, &load, duration)?),
                    }
                }
            }
            let several_insns = several.iter().map(|s| s.code.xlated_insns).sum();
            Ok((
                Measure::from_runs(several_runs),
                Measure::from_runs(merged_runs),
                several_insns,
                merged[0].code.xlated_insns,
                (
                    Measure::from_runs(none_calls),
                    Measure::from_runs(merged_calls),
                    Measure::from_runs(several_calls),
                ),
            ))
        })();
        let row = match measured {
            Ok((several, merged, several_insns, merged_insns, calls)) => ComposeRow {
                hook: hook.attach_point().to_string(),
                rules,
                policies: n,
                several,
                merged,
                several_insns,
                merged_insns,
                call_none: calls.0,
                call_merged: calls.1,
                call_several: calls.2,
            },
            Err(reason) => ComposeRow {
                hook: hook.attach_point().to_string(),
                rules,
                policies: n,
                several: Measure::Failed {
                    reason: reason.clone(),
                    after: 0.0,
                },
                merged: Measure::Failed {
                    reason: reason.clone(),
                    after: 0.0,
                },
                several_insns: 0,
                merged_insns: 0,
                call_none: not_measured(),
                call_merged: not_measured(),
                call_several: Measure::Failed { reason, after: 0.0 },
            },
        };
        eprintln!(
            "polc-bench: agent {} {} rules in {} policies: {} ns (merged {} ns); a connect {} ns (merged {} ns, nothing attached {} ns)",
            row.hook,
            rules,
            n,
            crate::cost::show(&row.several),
            crate::cost::show(&row.merged),
            crate::cost::show(&row.call_several),
            crate::cost::show(&row.call_merged),
            crate::cost::show(&row.call_none)
        );
        rows.push(row);
    }
    rows
}

/// Replaces `path` by a new file renamed over it.
fn replace(path: &Path, text: &str) -> Result<(), String> {
    let temporary = path.with_extension("pol.tmp");
    std::fs::write(&temporary, text).map_err(|e| e.to_string())?;
    std::fs::rename(&temporary, path).map_err(|e| e.to_string())
}

/// `polrt run` of a connect policy, reloaded `reloads` times.
fn reload_latency(
    tools: &Tools,
    kernel: &Kernel,
    scratch: &Path,
    reloads: usize,
) -> Result<Measure, String> {
    let dir = scratch.join("agent-reload");
    let _ = std::fs::create_dir_all(&dir);
    let policy = dir.join("agent.pol");
    let text = |version: usize| {
        format!(
            "rule block {{\n    on net.connect\n    when net.dport == 9\n    deny \"version {version}\"\n}}\n"
        )
    };
    replace(&policy, &text(0))?;
    let mut child = Command::new(&tools.polrt)
        .arg("run")
        .arg(&policy)
        .arg("--cgroup")
        .arg(&kernel.cgroup.path)
        .args(["--output", "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("polrt: {e}"))?;
    let mut lines = BufReader::new(child.stderr.take().ok_or("no stderr")?).lines();
    let mut wait_for = |text: &str| -> Result<(), String> {
        for line in lines.by_ref() {
            let line = line.map_err(|e| e.to_string())?;
            if line.contains(text) {
                return Ok(());
            }
        }
        Err(format!("polrt ended before printing {text:?}"))
    };
    let result = (|| {
        wait_for("polrt: ready:")?;
        let mut runs = Vec::new();
        for version in 1..=reloads {
            let started = Instant::now();
            replace(&policy, &text(version))?;
            // polrt's own line for the reload (`polrt: reload: policy
            // `agent` reloaded: generation ...`), printed once the new
            // generation is attached and the old one detached; the lines
            // about the new generation's programs come before it.
            wait_for("reload: policy `agent` reloaded: generation")?;
            runs.push(started.elapsed().as_secs_f64() * 1e3);
        }
        Ok(Measure::from_runs(runs))
    })();
    // SAFETY: kill(2) on the polrt this function started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let _ = child.wait();
    result
}

/// Runs every agent measurement.
pub fn run(
    tools: &Tools,
    scratch: &Path,
    reps: usize,
    duration: Duration,
    command: String,
) -> Result<AgentResults, String> {
    let kernel = Kernel::new()?;
    let rows = compose(
        &kernel,
        tools,
        scratch,
        100,
        &[1, 2, 5, 10, 20],
        reps,
        duration,
    );
    let reloads = 20;
    let ms = reload_latency(tools, &kernel, scratch, reloads)
        .unwrap_or_else(|reason| Measure::Failed { reason, after: 0.0 });
    eprintln!(
        "polc-bench: agent reload latency over {reloads} reloads: {} ms",
        crate::cost::show(&ms)
    );
    Ok(AgentResults {
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        command,
        compose: rows,
        reload: ReloadRow { reloads, ms },
    })
}

fn cell(m: &Measure) -> String {
    match m {
        Measure::Ok { median, .. } => format!("{median:.0}"),
        other => crate::cost::show(other),
    }
}

/// The Markdown tables of `results`.
pub fn tables(results: &AgentResults) -> String {
    let mut out = format!(
        "Measured by `{}` on kernel {}.\n\n",
        results.command, results.kernel
    );
    out.push_str("| hook | rules | policies | ns/event, split | ns/event, merged | split / merged | insns, split (sum) | insns, merged |\n|---|---|---|---|---|---|---|---|\n");
    for row in &results.compose {
        let ratio = match (row.several.value(), row.merged.value()) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            row.hook,
            row.rules,
            row.policies,
            cell(&row.several),
            cell(&row.merged),
            ratio,
            row.several_insns,
            row.merged_insns
        ));
    }
    out.push_str("\nWhat the caller pays: nanoseconds per `connect` system call (the load's wall clock, run-time statistics off, so no program run reads the clock), with nothing attached, the merged policy, and the split set; the last column is the split set's added cost over the merged policy's, each taken over nothing attached.\n\n| rules | policies | ns/connect, nothing | ns/connect, merged | ns/connect, split | added: split / merged |\n|---|---|---|---|---|---|\n");
    for row in &results.compose {
        let ratio = match (
            row.call_none.value(),
            row.call_merged.value(),
            row.call_several.value(),
        ) {
            (Some(none), Some(merged), Some(several)) if merged > none => {
                format!("{:.2}", (several - none) / (merged - none))
            }
            _ => "-".into(),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            row.rules,
            row.policies,
            cell(&row.call_none),
            cell(&row.call_merged),
            cell(&row.call_several),
            ratio
        ));
    }
    let reload = match &results.reload.ms {
        Measure::Ok { median, runs } => format!(
            "median {median:.0} ms, max {:.0} ms",
            runs.iter().copied().fold(0.0, f64::max)
        ),
        other => crate::cost::show(other),
    };
    out.push_str(&format!(
        "\nHot reload of a one-rule policy (`polrt run`, the file renamed over, to polrt's `reload: policy ... reloaded` line), {} reloads: {reload}.\n",
        results.reload.reloads
    ));
    out
}

/// Markers of the agent tables in docs/performance.md.
pub const BEGIN: &str = "<!-- BEGIN agent (generated by polc-bench agent) -->";
pub const END: &str = "<!-- END agent -->";
