//! Compile latency, side by side: `polc build` against `clang -O2 -target
//! bpf` on the C equivalent (with `vmlinux.h`, whose generation by bpftool
//! is timed on its own) and against bpftrace (`--emit-elf`: compile only),
//! plus start-up to "attached" of `polrt run POLICY.pol` and of bpftrace.
//! Every command is a separate process, timed by wall clock, repeated, and
//! reported as a median.
//!
//! Also builds the objects the kernel measurements load.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::scenario::{self, Family, Scenario, Sources};
use crate::timing::{self, Measure, Outcome, Stream};

/// The programs the harness runs.
#[derive(Clone, Debug)]
pub struct Tools {
    pub polc: PathBuf,
    pub polrt: PathBuf,
    pub clang: Option<PathBuf>,
    pub bpftool: Option<PathBuf>,
    pub bpftrace: Option<PathBuf>,
}

impl Tools {
    /// `polc` and `polrt` next to this executable; the others from PATH.
    pub fn find() -> Result<Tools, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let dir = exe.parent().ok_or("no executable directory")?;
        let ours = |name: &str| {
            let path = dir.join(name);
            if path.exists() {
                Ok(path)
            } else {
                Err(format!(
                    "{} is missing: build it first (cargo build --release --locked -p polc -p polrt)",
                    path.display()
                ))
            }
        };
        Ok(Tools {
            polc: ours("polc")?,
            polrt: ours("polrt")?,
            clang: which("clang"),
            bpftool: which("bpftool"),
            bpftrace: which("bpftrace"),
        })
    }

    /// `tool --version`'s first line.
    pub fn version(tool: &Option<PathBuf>) -> Option<String> {
        let output = Command::new(tool.as_ref()?)
            .arg("--version")
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        text.lines()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_string())
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Timeouts, repetitions, and the memory cap of clang and bpftrace.
#[derive(Copy, Clone)]
pub struct Plan<'a> {
    pub reps: usize,
    /// Above this, a command is run once.
    pub long: Duration,
    pub timeout: Duration,
    pub clang_timeout: Duration,
    pub memory: &'a timing::MemoryCap,
}

/// One scenario at one size, with its sources and built objects.
#[derive(Clone, Debug)]
pub struct Instance {
    pub scenario: Scenario,
    pub size: Option<usize>,
    pub sources: Sources,
    pub dir: PathBuf,
    pub polc_object: Result<PathBuf, String>,
    pub clang_object: Result<PathBuf, String>,
    /// Whether clang and bpftrace are run on it (not past `--sizes`: see
    /// [`LARGE_SCENARIOS`]).
    pub peers: bool,
}

/// The scenarios measured also at `--large-sizes`, by polc alone: clang's
/// C of `open_rules` stops loading near 1,400 rules, and its compile, like
/// bpftrace's, runs into the timeout well before 100,000.
pub const LARGE_SCENARIOS: &[&str] = &["open_rules"];

/// Why clang and bpftrace are not run at a large size.
pub const PEERS_NOT_RUN: &str = "not run past --sizes (polc alone)";

impl Instance {
    /// `open_rules/100`, or the name of a small scenario.
    pub fn label(&self) -> String {
        match self.size {
            Some(n) => format!("{}/{n}", self.scenario.name),
            None => self.scenario.name.to_string(),
        }
    }
}

/// Writes the sources of every scenario at every size (small scenarios
/// once).
pub fn instances(
    scenarios: &[Scenario],
    sizes: &[usize],
    large_sizes: &[usize],
    bench_dir: &Path,
    scratch: &Path,
) -> Result<Vec<Instance>, String> {
    let mut out = Vec::new();
    for scenario in scenarios {
        let mut sizes: Vec<(Option<usize>, bool)> = match scenario.family {
            Family::Small => vec![(None, true)],
            _ => sizes.iter().map(|n| (Some(*n), true)).collect(),
        };
        if LARGE_SCENARIOS.contains(&scenario.name) {
            for n in large_sizes {
                if *n > 0 && !sizes.iter().any(|(s, _)| *s == Some(*n)) {
                    sizes.push((Some(*n), false));
                }
            }
        }
        for (size, peers) in sizes {
            let sources = scenario::sources(scenario, size, bench_dir, scratch)
                .map_err(|e| format!("writing {} sources: {e}", scenario.name))?;
            let dir = match size {
                Some(n) => scratch.join(format!("{}-{n}", scenario.name)),
                None => scratch.join(scenario.name),
            };
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            out.push(Instance {
                scenario: scenario.clone(),
                size,
                sources,
                dir,
                polc_object: Err("not built yet".into()),
                clang_object: Err("not built yet".into()),
                peers,
            });
        }
    }
    Ok(out)
}

/// The latency figures of one instance (milliseconds).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct CompileRow {
    pub scenario: String,
    pub size: Option<usize>,
    pub polc: Measure,
    pub clang: Measure,
    pub bpftrace_compile: Measure,
    pub bpftrace_start: Measure,
    pub polrt_start: Measure,
}

/// bpftool's `vmlinux.h` generation (milliseconds), and the header's size.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct VmlinuxRow {
    pub ms: Measure,
    pub bytes: u64,
    pub lines: u64,
}

/// Generates `vmlinux.h` into `dir` (timed, repeated).
pub fn vmlinux(tools: &Tools, dir: &Path, plan: Plan<'_>) -> VmlinuxRow {
    let header = dir.join("vmlinux.h");
    let Some(bpftool) = &tools.bpftool else {
        return VmlinuxRow {
            ms: Measure::Skipped {
                reason: "bpftool is not installed".into(),
            },
            bytes: 0,
            lines: 0,
        };
    };
    let _ = std::fs::create_dir_all(dir);
    let ms = timing::repeat(plan.reps, plan.long, || {
        let out = match std::fs::File::create(&header) {
            Ok(f) => f,
            Err(e) => {
                return Outcome::Failed {
                    ms: 0.0,
                    stderr: e.to_string(),
                }
            }
        };
        let mut command = Command::new(bpftool);
        command.args([
            "btf",
            "dump",
            "file",
            "/sys/kernel/btf/vmlinux",
            "format",
            "c",
        ]);
        command.stdout(out);
        time_to_file(&mut command, plan.timeout)
    });
    let text = std::fs::read_to_string(&header).unwrap_or_default();
    VmlinuxRow {
        ms,
        bytes: text.len() as u64,
        lines: text.lines().count() as u64,
    }
}

/// Like [`timing::time_command`], keeping the command's own stdout.
fn time_to_file(command: &mut Command, timeout: Duration) -> Outcome {
    command
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let started = std::time::Instant::now();
    match command.spawn() {
        Ok(mut child) => {
            let deadline = started + timeout;
            loop {
                match child.try_wait() {
                    Ok(Some(status)) if status.success() => {
                        return Outcome::Done(started.elapsed().as_secs_f64() * 1e3)
                    }
                    Ok(Some(status)) => {
                        return Outcome::Failed {
                            ms: started.elapsed().as_secs_f64() * 1e3,
                            stderr: format!("exit status {status}"),
                        }
                    }
                    Ok(None) if std::time::Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Outcome::TimedOut(started.elapsed().as_secs_f64() * 1e3);
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(1)),
                    Err(e) => {
                        return Outcome::Failed {
                            ms: 0.0,
                            stderr: e.to_string(),
                        }
                    }
                }
            }
        }
        Err(e) => Outcome::Failed {
            ms: 0.0,
            stderr: e.to_string(),
        },
    }
}

fn polc_command(tools: &Tools, instance: &Instance) -> Command {
    let mut command = Command::new(&tools.polc);
    command
        .arg("build")
        .arg(&instance.sources.pol)
        .arg("-o")
        .arg(instance.dir.join("polc.o"))
        .args(["--color", "never"]);
    command
}

/// `clang -O2 -g -Wall -Werror -target bpf` of `source` into `output`, with
/// the include directories `includes`: how every C program here is built.
pub fn clang_bpf(clang: &Path, includes: &[&Path], source: &Path, output: &Path) -> Command {
    let mut command = Command::new(clang);
    command.args([
        "-O2",
        "-g",
        "-Wall",
        "-Werror",
        "-target",
        "bpf",
        "-D__TARGET_ARCH_x86",
    ]);
    for dir in includes {
        command.arg("-I").arg(dir);
    }
    command.arg("-c").arg(source).arg("-o").arg(output);
    command
}

fn clang_command(
    clang: &Path,
    instance: &Instance,
    bench_dir: &Path,
    vmlinux_dir: &Path,
    memory: &timing::MemoryCap,
) -> Command {
    let mut command = clang_bpf(
        clang,
        &[
            &instance.sources.c_include,
            &bench_dir.join("c"),
            vmlinux_dir,
        ],
        &instance.sources.c,
        &instance.dir.join("clang.o"),
    );
    memory.apply(&mut command);
    command
}

/// The first error line of a failed compile (e.g. polc's diagnostic),
/// past bpftrace's warning that it could not raise RLIMIT_MEMLOCK (which
/// it prints as an error and which does not matter on this kernel).
fn first_error(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.contains("RLIMIT_MEMLOCK"))
        .find(|l| l.to_lowercase().contains("error"))
        .or_else(|| stderr.lines().rfind(|l| !l.trim().is_empty()))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn outcome_result(outcome: Outcome, path: PathBuf) -> Result<PathBuf, String> {
    match outcome {
        Outcome::Done(_) => Ok(path),
        Outcome::Failed { stderr, .. } => Err(first_error(&stderr)),
        Outcome::TimedOut(ms) => Err(format!("compile timed out after {:.0} s", ms / 1e3)),
    }
}

/// Builds both objects once (untimed), where the latency phase has not.
pub fn build_objects(
    instance: &mut Instance,
    tools: &Tools,
    bench_dir: &Path,
    vmlinux_dir: &Path,
    plan: Plan<'_>,
) {
    if instance.polc_object.is_err() {
        let outcome = timing::time_command(&mut polc_command(tools, instance), plan.timeout);
        instance.polc_object = outcome_result(outcome, instance.dir.join("polc.o"));
    }
    if instance.clang_object.is_err() {
        instance.clang_object = match &tools.clang {
            _ if !instance.peers => Err(PEERS_NOT_RUN.into()),
            Some(clang) => {
                let outcome = timing::time_command(
                    &mut clang_command(clang, instance, bench_dir, vmlinux_dir, plan.memory),
                    plan.clang_timeout,
                );
                outcome_result(outcome, instance.dir.join("clang.o"))
            }
            None => Err("clang is not installed".into()),
        };
    }
}

/// Times every tool on `instance`; leaves the built objects in its
/// directory. `cgroup` scopes the `polrt run` start-ups (root only).
pub fn latency(
    instance: &mut Instance,
    tools: &Tools,
    bench_dir: &Path,
    vmlinux_dir: &Path,
    cgroup: Option<&Path>,
    plan: Plan<'_>,
) -> CompileRow {
    let failed_to_result = |m: &Measure, path: PathBuf| match m {
        Measure::Ok { .. } => Ok(path),
        Measure::Failed { reason, .. } => Err(first_error(reason)),
        Measure::TimedOut { after } => Err(format!("compile timed out after {:.0} s", after / 1e3)),
        Measure::Skipped { reason } => Err(reason.clone()),
    };
    let polc = timing::repeat(plan.reps, plan.long, || {
        timing::time_command(&mut polc_command(tools, instance), plan.timeout)
    });
    let polc = first_error_only(polc);
    instance.polc_object = failed_to_result(&polc, instance.dir.join("polc.o"));

    let not_run = Measure::Skipped {
        reason: PEERS_NOT_RUN.into(),
    };
    let clang = match &tools.clang {
        _ if !instance.peers => not_run.clone(),
        Some(clang) => first_error_only(timing::repeat(plan.reps, plan.long, || {
            timing::time_command(
                &mut clang_command(clang, instance, bench_dir, vmlinux_dir, plan.memory),
                plan.clang_timeout,
            )
        })),
        None => Measure::Skipped {
            reason: "clang is not installed".into(),
        },
    };
    instance.clang_object = failed_to_result(&clang, instance.dir.join("clang.o"));

    let (bpftrace_compile, bpftrace_start) = match &tools.bpftrace {
        _ if !instance.peers => (not_run.clone(), not_run),
        Some(bpftrace) => {
            let compile = first_error_only(timing::repeat(plan.reps, plan.long, || {
                let mut command = Command::new(bpftrace);
                plan.memory.apply(&mut command);
                command
                    .arg("--no-warnings")
                    .arg("--emit-elf")
                    .arg(instance.dir.join("bpftrace.o"))
                    .arg(&instance.sources.bt);
                timing::time_command(&mut command, plan.timeout)
            }));
            let start = match (&compile, cgroup) {
                (Measure::Ok { .. }, Some(_)) => {
                    let script = instance.dir.join("startup.bt");
                    let text = std::fs::read_to_string(&instance.sources.bt).unwrap_or_default();
                    match std::fs::write(&script, with_attached_marker(&text)) {
                        Ok(()) => first_error_only(timing::repeat(plan.reps, plan.long, || {
                            let mut command = Command::new(bpftrace);
                            plan.memory.apply(&mut command);
                            command.arg("--no-warnings").arg(&script);
                            timing::time_startup(
                                &mut command,
                                Stream::Stdout,
                                ATTACHED,
                                plan.timeout,
                            )
                        })),
                        Err(e) => Measure::Failed {
                            reason: e.to_string(),
                            after: 0.0,
                        },
                    }
                }
                (Measure::Ok { .. }, None) => Measure::Skipped {
                    reason: "start-up needs root".into(),
                },
                _ => Measure::Skipped {
                    reason: "bpftrace could not compile it".into(),
                },
            };
            (compile, start)
        }
        None => {
            let skipped = Measure::Skipped {
                reason: "bpftrace is not installed".into(),
            };
            (skipped.clone(), skipped)
        }
    };

    let polrt_start = match (&polc, cgroup) {
        (Measure::Ok { .. }, Some(cgroup)) => {
            first_error_only(timing::repeat(plan.reps, plan.long, || {
                let mut command = Command::new(&tools.polrt);
                command
                    .arg("run")
                    .arg(&instance.sources.pol)
                    .args(["--format", "json", "--output", "/dev/null", "--cgroup"])
                    .arg(cgroup);
                timing::time_startup(&mut command, Stream::Stderr, "polrt: ready:", plan.timeout)
            }))
        }
        (Measure::Ok { .. }, None) => Measure::Skipped {
            reason: "start-up needs root".into(),
        },
        _ => Measure::Skipped {
            reason: "polc rejects the policy".into(),
        },
    };
    CompileRow {
        scenario: instance.scenario.name.to_string(),
        size: instance.size,
        polc,
        clang,
        bpftrace_compile,
        bpftrace_start,
        polrt_start,
    }
}

/// What the start-up copy of a bpftrace script prints once it runs.
const ATTACHED: &str = "polc-bench: attached";

/// `script` with a line printed at the end of its `BEGIN` probe (added when
/// it has none). bpftrace runs `BEGIN` once every probe is attached, so the
/// line marks the end of start-up, map contents included; its own
/// "Attaching N probes..." comes before the programs are even loaded.
fn with_attached_marker(script: &str) -> String {
    let marker = format!("\tprintf(\"{ATTACHED}\\n\");\n");
    if let Some(begin) = script.find("BEGIN\n{\n") {
        if let Some(close) = script[begin..].find("\n}\n") {
            let at = begin + close + 1;
            return format!("{}{marker}{}", &script[..at], &script[at..]);
        }
    }
    format!("{script}\nBEGIN\n{{\n{marker}}}\n")
}

/// Keeps a failure's first error line only (the tables show one line).
fn first_error_only(m: Measure) -> Measure {
    match m {
        Measure::Failed { reason, after } => Measure::Failed {
            reason: first_error(&reason),
            after,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_attached_line_ends_the_begin_probe() {
        let with = with_attached_marker("BEGIN\n{\n\t@m[1] = 1;\n}\n\nkprobe:x\n{\n}\n");
        assert!(
            with.starts_with("BEGIN\n{\n\t@m[1] = 1;\n\tprintf(\"polc-bench: attached\\n\");\n}\n"),
            "{with}"
        );
        let without = with_attached_marker("kprobe:x\n{\n}\n");
        assert!(
            without.ends_with("BEGIN\n{\n\tprintf(\"polc-bench: attached\\n\");\n}\n"),
            "{without}"
        );
    }
}
