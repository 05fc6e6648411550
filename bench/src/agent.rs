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
use crate::load::{self, LoadRun};
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
}

/// Hot reload latency.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ReloadRow {
    pub reloads: usize,
    /// Milliseconds from the rename to the `reloaded` line.
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
        let measured = (|| -> Result<(Measure, Measure, u32, u32), String> {
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
            let several_insns = several.iter().map(|s| s.code.xlated_insns).sum();
            Ok((
                Measure::from_runs(several_runs),
                Measure::from_runs(merged_runs),
                several_insns,
                merged[0].code.xlated_insns,
            ))
        })();
        let row = match measured {
            Ok((several, merged, several_insns, merged_insns)) => ComposeRow {
                hook: hook.attach_point().to_string(),
                rules,
                policies: n,
                several,
                merged,
                several_insns,
                merged_insns,
            },
            Err(reason) => ComposeRow {
                hook: hook.attach_point().to_string(),
                rules,
                policies: n,
                several: Measure::Failed {
                    reason: reason.clone(),
                    after: 0.0,
                },
                merged: Measure::Failed { reason, after: 0.0 },
                several_insns: 0,
                merged_insns: 0,
            },
        };
        eprintln!(
            "polc-bench: agent {} {} rules in {} policies: {} ns (merged {} ns)",
            row.hook,
            rules,
            n,
            crate::cost::show(&row.several),
            crate::cost::show(&row.merged)
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
    let policy = dir.join("reloaded.pol");
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
            wait_for("reloaded")?;
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
    let reload = match &results.reload.ms {
        Measure::Ok { median, runs } => format!(
            "median {median:.0} ms, max {:.0} ms",
            runs.iter().copied().fold(0.0, f64::max)
        ),
        other => crate::cost::show(other),
    };
    out.push_str(&format!(
        "\nHot reload of a one-rule policy (`polrt run`, the file renamed over, to polrt's `reloaded` line), {} reloads: {reload}.\n",
        results.reload.reloads
    ));
    out
}

/// Markers of the agent tables in docs/performance.md.
pub const BEGIN: &str = "<!-- BEGIN agent (generated by polc-bench agent) -->";
pub const END: &str = "<!-- END agent -->";
