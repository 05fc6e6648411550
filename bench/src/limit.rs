//! Where each tool stops: for every scaled rules scenario, the largest rule
//! count whose program polc (or clang) builds and the kernel verifier
//! loads, found by bisection between the largest measured size that loads
//! and the smallest that does not (to within 2%).
//!
//! Builds and loads only; nothing is attached.

use std::path::Path;

use crate::compile::{self, Instance, Plan, Tools};
use crate::kernel::{CProgram, Kernel, Subject};
use crate::scenario::{self, Family, Scenario};

/// One tool on one scenario.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct LimitRow {
    pub scenario: String,
    /// `polc` or `clang`.
    pub tool: String,
    /// The largest rule count that builds and loads.
    pub largest_ok: Option<usize>,
    /// The smallest rule count found not to, and why.
    pub smallest_failing: Option<(usize, String)>,
}

/// Whether `tool` builds and loads `scenario` at `n` rules: `Err(why)`.
fn attempt(
    kernel: &Kernel,
    tools: &Tools,
    scenario: &Scenario,
    n: usize,
    tool: &str,
    dirs: (&Path, &Path, &Path),
    plan: Plan<'_>,
) -> Result<(), String> {
    let (bench_dir, scratch, vmlinux_dir) = dirs;
    let probe_dir = scratch.join("limits");
    let sources =
        scenario::sources(scenario, Some(n), bench_dir, &probe_dir).map_err(|e| e.to_string())?;
    let dir = probe_dir.join(format!("{}-{n}", scenario.name));
    let mut instance = Instance {
        scenario: scenario.clone(),
        size: Some(n),
        sources,
        dir,
        polc_object: Err(String::new()),
        clang_object: Err(String::new()),
        peers: true,
    };
    // Build only the tool asked about: mark the other as built.
    if tool == "polc" {
        instance.clang_object = Ok(Default::default());
    } else {
        instance.polc_object = Ok(Default::default());
    }
    compile::build_objects(&mut instance, tools, bench_dir, vmlinux_dir, plan);
    let hook = scenario.hook;
    let loaded = if tool == "polc" {
        let object = instance.polc_object?;
        Subject::polc(kernel, &object, hook, false)
    } else {
        let object = instance.clang_object?;
        Subject::clang(
            kernel,
            &object,
            hook,
            CProgram::Equivalent,
            instance.sources.c_set.as_ref(),
            false,
        )
    };
    let _ = std::fs::remove_dir_all(probe_dir.join(format!("{}-{n}", scenario.name)));
    loaded.map(drop)
}

/// Whether the kernel phase loaded `tool`'s program of `scenario` at `n`
/// rules (`None`: not measured).
pub type Loaded<'a> = &'a dyn Fn(&str, &str, usize) -> Option<Result<(), String>>;

/// The limits of every rules scenario, from the measured sizes.
pub fn limits(
    kernel: &Kernel,
    tools: &Tools,
    dirs: (&Path, &Path, &Path),
    plan: Plan<'_>,
    sizes: &[usize],
    loaded: Loaded<'_>,
    only: &[&str],
) -> Vec<LimitRow> {
    let mut rows = Vec::new();
    for scenario in scenario::all()
        .into_iter()
        .filter(|s| s.family == Family::Rules && only.contains(&s.name))
    {
        for tool in ["polc", "clang"] {
            let mut ok: Option<usize> = None;
            let mut failing: Option<(usize, String)> = None;
            for &n in sizes {
                match loaded(scenario.name, tool, n) {
                    Some(Ok(())) if failing.is_none() => ok = Some(n),
                    Some(Err(why)) if failing.is_none() => failing = Some((n, why)),
                    _ => {}
                }
            }
            if let (Some(lo), Some((hi, _))) = (ok, &failing) {
                let (mut lo, mut hi) = (lo, *hi);
                while hi - lo > (lo / 50).max(1) {
                    let mid = lo + (hi - lo) / 2;
                    eprintln!(
                        "polc-bench: limit of {tool} on {}: trying {mid}",
                        scenario.name
                    );
                    match attempt(kernel, tools, &scenario, mid, tool, dirs, plan) {
                        Ok(()) => lo = mid,
                        Err(why) => {
                            hi = mid;
                            failing = Some((mid, why));
                        }
                    }
                }
                ok = Some(lo);
            }
            eprintln!(
                "polc-bench: limit of {tool} on {}: {:?}, fails at {:?}",
                scenario.name,
                ok,
                failing.as_ref().map(|(n, _)| n)
            );
            rows.push(LimitRow {
                scenario: scenario.name.to_string(),
                tool: tool.to_string(),
                largest_ok: ok,
                smallest_failing: failing,
            });
        }
    }
    rows
}
