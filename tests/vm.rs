//! VM test driver (`cargo test --test vm`): proves the BPF LSM path on real
//! distribution kernels, which this host's locked-down kernel cannot do.
//!
//! For each kernel of the matrix it boots the kernel once under virtme-ng with
//! software emulation (`tests/vm/run-in-vm.sh`), runs the batch of scenarios in
//! `tests/vm/scenarios.sh` inside, parses the guest's report
//! (`tests/vm/report.rs`) and fails loudly on a failed, missing or skipped
//! scenario or on a boot failure; it prints each kernel's results and timings.
//! What the scenarios load is built once on the host by `tests/vm/prepare.sh`
//! (every example and test policy through the host's `polc build`), so every
//! kernel runs the same files: each guest reports the digest of the objects
//! it loaded, and the run fails unless every kernel's equals the host's.
//!
//! `POLC_VM_TESTS=require` (set by CI) turns missing prerequisites (root, qemu,
//! vng, the kernels, the build tools) into a failure; otherwise they skip the
//! test with a message, and `POLC_VM_TESTS=skip` skips it on purpose.
//! `POLC_VM_JOBS` (default 2) is how many guests boot at once.
//!
//! After the scenarios, one `polrt verify --kernel IMAGE... --require-all`
//! boots every kernel of the matrix again, in one invocation, and verifies
//! every prepared object there: the product's own VM driver
//! (`polrt::vm`), checked on the same kernels.
//!
//! This driver knows scripts, their line protocol and polrt's JSON lines
//! only: it must not depend on polc or polrt internals (the scenarios run
//! their binaries).

#[path = "vm/report.rs"]
mod report;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use std::{env, fs, thread};

/// One boot of the matrix: a kernel whose files are
/// `{DIR}/{PREFIX}*{SUFFIX}` (the newest match is booted), extra kernel
/// command-line options, and the scenarios `tests/vm/scenarios.sh` runs
/// there, in order.
struct Kernel {
    name: &'static str,
    prefix: &'static str,
    suffix: &'static str,
    /// Appended to the kernel command line (`POLC_VM_APPEND`); empty: none.
    append: &'static str,
    scenarios: &'static [&'static str],
}

const KERNEL_DIR: &str = "/boot";

/// Debian 12's backported 6.12 and its own 6.1 (`scripts/setup.sh` installs
/// both), each with every scenario; and 6.12 once more with BPF LSM left
/// out of its active LSMs (`lsm=` without `bpf`), where LSM programs load
/// and attach but never run: polrt must see that and fall back.
const KERNELS: &[Kernel] = &[
    Kernel {
        name: "linux-6.12",
        prefix: "vmlinuz-6.12.",
        suffix: "-amd64",
        append: "",
        scenarios: SCENARIOS,
    },
    Kernel {
        name: "linux-6.1",
        prefix: "vmlinuz-6.1.0-",
        suffix: "-amd64",
        append: "",
        scenarios: SCENARIOS,
    },
    Kernel {
        name: "linux-6.12-no-bpf-lsm",
        prefix: "vmlinuz-6.12.",
        suffix: "-amd64",
        append: NO_BPF_LSM,
        scenarios: NO_BPF_LSM_SCENARIOS,
    },
];

/// The kernel command-line option of the boot without BPF LSM: the LSMs of
/// Debian's kernels that need no policy loaded, and not `bpf`.
const NO_BPF_LSM: &str = "lsm=capability,landlock,yama";

/// The scenarios of the boot without BPF LSM, in their order.
const NO_BPF_LSM_SCENARIOS: &[&str] = &[
    "host-files",
    "lsm-bpf-inactive",
    "objects-identical",
    "no-lsm-verify",
    "no-lsm-require-refused",
    "no-lsm-fallback",
];

/// Every scenario `tests/vm/scenarios.sh` must report as passed on the
/// kernels booted as they are (its default list), in its order.
const SCENARIOS: &[&str] = &[
    "host-files",
    "lsm-bpf-active",
    "btf-vmlinux",
    "bpffs-mount",
    "cgroup2-mount",
    "cgroup-move",
    "lsm-deny-exec",
    "objects-identical",
    "verify-all",
    "policy-tests",
    "enforce-start",
    "exec-deny",
    "exec-kill",
    "open-deny",
    "connect-deny",
    "connect-kill",
    "module-deny",
    "bind-deny",
    "bpf-deny",
    "allowed-ops",
    "guard-signal",
    "guard-trace",
    "guard-bpf",
    "guard-pins",
    "enforce-persist",
    "enforce-stop",
    "monitor",
    "reload",
    "reload-lists",
    "bypass-start",
    "bypass",
    "bypass-stop",
    "hooks-start",
    "hooks-files",
    "hooks-memory",
    "hooks-process",
    "hooks-system",
    "hooks-network",
    "hooks-stop",
    "containers",
    "process-context",
    "policies-lsm-order",
];

/// What the tools that prepare and run the guests need on the host.
const HOST_TOOLS: &[&str] = &[
    "vng",
    "qemu-system-x86_64",
    "setsid",
    "clang",
    "cc",
    "bpftool",
    "sha256sum",
];

/// The interpreter of `tests/vm/ops.py`, which the scenarios run in the guest
/// (the host's, visible inside).
const PYTHON: &str = "/usr/bin/python3";

/// How many lines of a failed run's stderr the summary repeats.
const STDERR_TAIL: usize = 30;

/// How `POLC_VM_TESTS` asks missing prerequisites to be treated.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Require,
    Auto,
}

/// What one guest run produced.
struct Run {
    kernel: &'static str,
    image: PathBuf,
    boot: Option<Duration>,
    total: Duration,
    stdout: String,
    stderr: String,
    exit_status: Option<i32>,
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let filters = test_filters(&args);
    let selected: Vec<&'static Kernel> = KERNELS
        .iter()
        .filter(|k| filters.is_empty() || filters.iter().any(|f| test_name(k).contains(f.as_str())))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for kernel in &selected {
            println!("{}: test", test_name(kernel));
        }
        return ExitCode::SUCCESS;
    }
    if selected.is_empty() {
        println!("vm: no kernel matches the test filter");
        return ExitCode::SUCCESS;
    }

    let mode = match env::var("POLC_VM_TESTS").as_deref() {
        Ok("require") => Mode::Require,
        Ok("skip") => {
            println!("vm: skipped (POLC_VM_TESTS=skip)");
            return ExitCode::SUCCESS;
        }
        Ok("") | Err(_) => Mode::Auto,
        Ok(other) => {
            eprintln!("vm: POLC_VM_TESTS={other:?} is not one of require, skip or unset");
            return ExitCode::FAILURE;
        }
    };

    let mut missing = missing_prerequisites();
    match profile_dir() {
        Ok(dir) if dir.join("polc").is_file() => {}
        Ok(dir) => missing.push(format!(
            "the workspace's binaries in {} (cargo build --workspace)",
            dir.display()
        )),
        Err(why) => missing.push(why),
    }
    let mut images = Vec::new();
    for kernel in &selected {
        match kernel_image(kernel) {
            Ok(image) => images.push((*kernel, image)),
            Err(why) => missing.push(why),
        }
    }
    if !missing.is_empty() {
        let list = missing.join("\n  ");
        if mode == Mode::Require {
            eprintln!("vm: FAILED: VM tests are required (POLC_VM_TESTS=require) but cannot run:\n  {list}\n(scripts/setup.sh installs what they need)");
            return ExitCode::FAILURE;
        }
        println!("vm: skipped: VM tests cannot run here (POLC_VM_TESTS=require makes this an error):\n  {list}");
        return ExitCode::SUCCESS;
    }

    match run_matrix(&images) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(why) => {
            eprintln!("vm: FAILED: {why}");
            ExitCode::FAILURE
        }
    }
}

/// The name a kernel's run has in `--list` and filters.
fn test_name(kernel: &Kernel) -> String {
    format!("vm::{}", kernel.name)
}

/// Test-name filters among libtest-style arguments (flags and their values
/// are ignored).
fn test_filters(args: &[String]) -> Vec<String> {
    const FLAGS_WITH_VALUE: &[&str] = &[
        "--skip",
        "--test-threads",
        "--color",
        "--format",
        "--logfile",
        "-Z",
    ];
    let mut filters = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if FLAGS_WITH_VALUE.contains(&arg.as_str()) {
            iter.next();
        } else if !arg.starts_with('-') {
            filters.push(arg.clone());
        }
    }
    filters
}

/// Everything missing on the host, kernels aside, in words.
fn missing_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        missing.push(
            "root (the guest runs as the host user, and the scenarios mount filesystems and load BPF programs)"
                .to_string(),
        );
    }
    for tool in HOST_TOOLS {
        if find_in_path(tool).is_none() {
            missing.push(format!("{tool} (not in PATH)"));
        }
    }
    if !Path::new(PYTHON).is_file() {
        missing.push(format!("{PYTHON} (package python3)"));
    }
    if !Path::new("/usr/include/bpf/libbpf.h").exists() {
        missing.push("libbpf headers (/usr/include/bpf/libbpf.h, package libbpf-dev)".to_string());
    }
    missing
}

fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// The newest readable image of `kernel`, or why there is none.
fn kernel_image(kernel: &Kernel) -> Result<PathBuf, String> {
    let pattern = format!("{KERNEL_DIR}/{}*{}", kernel.prefix, kernel.suffix);
    let entries = fs::read_dir(KERNEL_DIR).map_err(|e| format!("{pattern}: {e}"))?;
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(kernel.prefix) && name.ends_with(kernel.suffix))
        .collect();
    names.sort_by_key(|name| version_key(name));
    let newest = names
        .pop()
        .ok_or_else(|| format!("{} kernel ({pattern}: no match)", kernel.name))?;
    let image = Path::new(KERNEL_DIR).join(newest);
    fs::File::open(&image)
        .map_err(|e| format!("{} kernel ({}: {e})", kernel.name, image.display()))?;
    Ok(image)
}

/// A sort key that orders embedded numbers numerically ("6.1.0-9" < "6.1.0-56").
fn version_key(name: &str) -> Vec<(u64, String)> {
    let mut key = Vec::new();
    let mut rest = name;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (number, tail) = rest.split_at(digits);
        let text_len = tail.len() - tail.trim_start_matches(|c: char| !c.is_ascii_digit()).len();
        let (text, tail) = tail.split_at(text_len);
        key.push((number.parse().unwrap_or(0), text.to_string()));
        rest = tail;
    }
    key
}

/// Prepares the shared files, boots every kernel (`POLC_VM_JOBS` at a time),
/// prints the results; `Ok(false)` when any kernel failed.
fn run_matrix(images: &[(&'static Kernel, PathBuf)]) -> Result<bool, String> {
    let started = Instant::now();
    let repo = polc_tests::repo_root();
    let profile_dir = profile_dir()?;
    let artifacts = profile_dir.join("vm-artifacts");

    let prepare = Command::new(repo.join("tests/vm/prepare.sh"))
        .arg(&artifacts)
        .arg(&profile_dir)
        .status()
        .map_err(|e| format!("cannot run tests/vm/prepare.sh: {e}"))?;
    if !prepare.success() {
        return Err(format!("tests/vm/prepare.sh failed ({prepare})"));
    }
    let digest_file = artifacts.join("objects.sha256");
    let host_digest = fs::read_to_string(&digest_file)
        .map_err(|e| format!("{}: {e}", digest_file.display()))?
        .trim()
        .to_string();
    let prepared = started.elapsed();

    let jobs = env::var("POLC_VM_JOBS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(2);
    println!(
        "vm: booting {} kernel(s), {jobs} at a time, under software emulation",
        images.len()
    );
    let mut runs = Vec::new();
    for chunk in images.chunks(jobs) {
        let (sender, receiver) = mpsc::channel();
        thread::scope(|scope| {
            for (kernel, image) in chunk {
                let sender = sender.clone();
                let repo = &repo;
                let artifacts = &artifacts;
                let profile_dir = &profile_dir;
                scope.spawn(move || {
                    let run = run_kernel(kernel, image, repo, artifacts, profile_dir);
                    // The receiver outlives the scope: sending cannot fail.
                    let _ = sender.send(run);
                });
            }
        });
        drop(sender);
        runs.extend(receiver.iter());
    }
    runs.sort_by_key(|run| KERNELS.iter().position(|k| k.name == run.kernel));

    let mut all_ok = true;
    println!("\nvm: results");
    for run in &runs {
        all_ok &= print_run(run, &host_digest);
    }
    all_ok &= verify_on_every_kernel(images, &artifacts, &profile_dir);
    if all_ok {
        let kernels: Vec<&str> = runs.iter().map(|run| run.kernel).collect();
        println!(
            "vm: objects sha256 {host_digest}: built once on the host, loaded unchanged on {}",
            kernels.join(", ")
        );
    }
    println!(
        "vm: total {:.1} s (prepare {:.1} s); {}",
        started.elapsed().as_secs_f64(),
        prepared.as_secs_f64(),
        if all_ok {
            "all kernels passed"
        } else {
            "FAILED"
        }
    );
    Ok(all_ok)
}

/// `polrt verify --kernel IMAGE... --require-all` of every prepared object,
/// every kernel of the matrix in one invocation: the product's own way of
/// verifying against kernels the host cannot load programs on. Every
/// program must pass on every kernel (LSM programs included), each kernel
/// must report the same programs, and each result must name the kernel it
/// ran on. Kernels of the matrix that boot the same image with other
/// parameters (the one without BPF LSM) are verified once: `verify --kernel`
/// boots each image as it is. Prints the result; whether it passed.
fn verify_on_every_kernel(
    matrix: &[(&'static Kernel, PathBuf)],
    artifacts: &Path,
    bin_dir: &Path,
) -> bool {
    let started = Instant::now();
    let mut images: Vec<&(&'static Kernel, PathBuf)> = Vec::new();
    for entry in matrix {
        if !images.iter().any(|(_, path)| *path == entry.1) {
            images.push(entry);
        }
    }
    let mut objects: Vec<PathBuf> = fs::read_dir(artifacts.join("objects"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "o"))
                .collect()
        })
        .unwrap_or_default();
    objects.sort();
    // The objects again under a long directory name: the guest's command
    // (every path) is longer than a kernel command line holds, as a team's
    // CI checkout deep in a workspace makes it; polrt must not pass it there.
    let long_dir = artifacts.join(format!("verify-{}", "long-path-".repeat(20)));
    let _ = fs::remove_dir_all(&long_dir);
    let mut problems = Vec::new();
    let objects: Vec<PathBuf> = match fs::create_dir_all(&long_dir) {
        Ok(()) => objects
            .iter()
            .filter_map(|object| {
                let copy = long_dir.join(object.file_name()?);
                match fs::copy(object, &copy) {
                    Ok(_) => Some(copy),
                    Err(e) => {
                        problems.push(format!("cannot copy {}: {e}", object.display()));
                        None
                    }
                }
            })
            .collect(),
        Err(e) => {
            problems.push(format!("cannot create {}: {e}", long_dir.display()));
            Vec::new()
        }
    };
    let command_length: usize = objects.iter().map(|o| o.as_os_str().len() + 3).sum();
    if command_length <= 2048 {
        problems.push(format!(
            "the objects' paths are {command_length} bytes, not longer than a kernel command line"
        ));
    }
    let mut command = Command::new(bin_dir.join("polrt"));
    command.args(["verify", "--format", "json", "--require-all"]);
    for (_, image) in &images {
        command.arg("--kernel").arg(image);
    }
    let output = command.args(&objects).stdin(Stdio::null()).output();
    if objects.is_empty() {
        problems.push(format!("no object in {}/objects", artifacts.display()));
    }
    let (status, stdout, stderr) = match output {
        Ok(out) => (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        Err(e) => (None, String::new(), format!("cannot run polrt: {e}")),
    };
    if status != Some(0) {
        problems.push(format!("polrt verify --kernel exited with {status:?}"));
    }
    let mut per_image: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in stdout.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            problems.push(format!("not a JSON line: {line}"));
            continue;
        };
        let text = |key: &str| value[key].as_str().unwrap_or("").to_string();
        // "absent": an optional attach point this kernel lacks (the
        // object's metadata says what the policy does without it).
        if !matches!(text("result").as_str(), "passed" | "absent") {
            problems.push(format!(
                "{} on {}: {}: {line}",
                text("program"),
                text("kernel"),
                text("result")
            ));
        }
        let image = text("image");
        let expected_release = images
            .iter()
            .find(|(_, path)| path.display().to_string() == image)
            .map(|(kernel, _)| kernel.prefix.trim_start_matches("vmlinuz-"));
        if !expected_release.is_some_and(|prefix| text("kernel").starts_with(prefix)) {
            problems.push(format!(
                "a result of kernel {} for image {image}",
                text("kernel")
            ));
        }
        let entry = match per_image.iter_mut().position(|(i, _)| *i == image) {
            Some(at) => &mut per_image[at].1,
            None => {
                per_image.push((image, Vec::new()));
                &mut per_image.last_mut().expect("just pushed").1
            }
        };
        entry.push((text("object"), text("program")));
    }
    if per_image.len() != images.len() {
        problems.push(format!(
            "results from {} image(s), expected {}",
            per_image.len(),
            images.len()
        ));
    }
    for (_, programs) in &mut per_image {
        programs.sort();
    }
    if per_image.windows(2).any(|pair| pair[0].1 != pair[1].1) {
        problems.push("the kernels reported different programs".to_string());
    }
    if let Some((_, programs)) = per_image.first() {
        for object in &objects {
            let name = object.display().to_string();
            if !programs.iter().any(|(o, _)| *o == name) {
                problems.push(format!("no result for {name}"));
            }
        }
    }
    let programs = per_image.first().map_or(0, |(_, p)| p.len());
    println!(
        "vm: verify --kernel: {} object(s), {programs} program(s) on each of {} kernel(s) in {:.1} s: {}",
        objects.len(),
        images.len(),
        started.elapsed().as_secs_f64(),
        if problems.is_empty() { "ok" } else { "FAILED" }
    );
    if problems.is_empty() {
        return true;
    }
    for problem in &problems {
        println!("  problem: {problem}");
    }
    for line in stderr
        .lines()
        .rev()
        .take(STDERR_TAIL)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        println!("  | {line}");
    }
    false
}

/// `<target>/<profile>`: where this test binary and the workspace's binaries
/// are built (the guest can read it: the host root is visible inside).
fn profile_dir() -> Result<PathBuf, String> {
    let exe = env::current_exe().map_err(|e| format!("cannot locate the test binary: {e}"))?;
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("unexpected test binary location {}", exe.display()))
}

/// Boots one kernel, runs the scenarios, echoes the guest's output live
/// (prefixed with the kernel's name) and collects it.
fn run_kernel(
    boot: &'static Kernel,
    image: &Path,
    repo: &Path,
    artifacts: &Path,
    bin_dir: &Path,
) -> Run {
    let kernel = boot.name;
    let started = Instant::now();
    let mut run = Run {
        kernel,
        image: image.to_path_buf(),
        boot: None,
        total: Duration::ZERO,
        stdout: String::new(),
        stderr: String::new(),
        exit_status: None,
    };
    let mut command = Command::new(repo.join("tests/vm/run-in-vm.sh"));
    command.arg(image).arg("tests/vm/scenarios.sh");
    if boot.scenarios != SCENARIOS {
        command.args(boot.scenarios);
    }
    if boot.append.is_empty() {
        command.env_remove("POLC_VM_APPEND");
    } else {
        command.env("POLC_VM_APPEND", boot.append);
    }
    let child = command
        .env("POLC_VM_ARTIFACTS", artifacts)
        .env("POLC_VM_BIN_DIR", bin_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) => {
            run.stderr = format!("cannot run tests/vm/run-in-vm.sh: {e}");
            return run;
        }
    };
    let stderr_reader = child.stderr.take().map(|stderr| {
        thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{kernel}] {line}");
                text.push_str(&line);
                text.push('\n');
            }
            text
        })
    });
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if run.boot.is_none() && line.starts_with(report::BOOT_MARKER) {
                run.boot = Some(started.elapsed());
            }
            println!("[{kernel}] {line}");
            run.stdout.push_str(&line);
            run.stdout.push('\n');
        }
    }
    if let Some(reader) = stderr_reader {
        run.stderr = reader.join().unwrap_or_default();
    }
    run.exit_status = match child.wait() {
        Ok(status) => status.code(),
        Err(e) => {
            run.stderr
                .push_str(&format!("\nwaiting for run-in-vm.sh: {e}"));
            None
        }
    };
    run.total = started.elapsed();
    run
}

/// Prints one kernel's results; whether it passed.
fn print_run(run: &Run, host_digest: &str) -> bool {
    let parsed = report::parse(&run.stdout);
    let expected = KERNELS
        .iter()
        .find(|k| k.name == run.kernel)
        .map_or(SCENARIOS, |k| k.scenarios);
    let mut problems = report::problems(&parsed, expected, run.exit_status);
    problems.extend(report::object_problems(&parsed, host_digest));
    let boot = run.boot.map_or_else(
        || "no boot".to_string(),
        |d| format!("booted in {:.1} s", d.as_secs_f64()),
    );
    println!(
        "vm: {} ({}): {boot}, total {:.1} s: {}",
        run.kernel,
        run.image.display(),
        run.total.as_secs_f64(),
        if problems.is_empty() { "ok" } else { "FAILED" }
    );
    if let Some(booted) = &parsed.booted {
        println!("  guest: {booted}");
    }
    if let Some(objects) = &parsed.objects {
        println!("  objects: sha256 {objects}");
    }
    for record in &parsed.records {
        println!("  {record}");
    }
    for (name, outcome) in &parsed.outcomes {
        match outcome {
            report::Outcome::Pass => println!("  PASS {name}"),
            report::Outcome::Fail(why) => println!("  FAIL {name}: {why}"),
        }
    }
    if problems.is_empty() {
        return true;
    }
    for problem in &problems {
        println!("  problem: {problem}");
    }
    let stderr: Vec<&str> = run.stderr.trim().lines().collect();
    if !stderr.is_empty() {
        println!("  stderr of the run (last lines):");
        for line in &stderr[stderr.len().saturating_sub(STDERR_TAIL)..] {
            println!("  | {line}");
        }
    }
    false
}
