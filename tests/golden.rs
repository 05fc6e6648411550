//! Support for golden-file tests: input files in, expected text files out.
//!
//! One small libtest-style runner (`harness = false` test targets call
//! [`run_cases`]) with name filters, `--exact` and `--list`; a mismatch prints
//! a line diff and the bless command; a missing expected file is written; an
//! orphaned expected file fails its suite. `POLC_BLESS=1` re-blesses.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Whether expected files are being rewritten (`POLC_BLESS=1`).
pub fn bless() -> bool {
    std::env::var_os("POLC_BLESS").is_some_and(|v| v != "0")
}

/// The files of `dir`, sorted (none when it cannot be read).
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The `.pol` files of `dir`, sorted.
pub fn pol_files(dir: &Path) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pol"))
        .collect()
}

/// The file name of `path` without its extension.
pub fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Compares `actual` with the file at `expected_path`; writes it when
/// blessing or when it does not exist yet.
pub fn compare_or_bless(
    expected_path: &Path,
    actual: &str,
    bless_command: &str,
) -> Result<(), String> {
    let expected = fs::read_to_string(expected_path).ok();
    match expected {
        Some(expected) if expected == actual => Ok(()),
        Some(_) | None if bless() || !expected_path.exists() => {
            fs::write(expected_path, actual)
                .map_err(|e| format!("cannot write {}: {e}", expected_path.display()))?;
            eprintln!("wrote {}", expected_path.display());
            Ok(())
        }
        Some(expected) => Err(format!(
            "{} differs from the actual output (- expected, + actual):\n{}\nto accept the new output run: {bless_command}",
            expected_path.display(),
            diff(&expected, actual)
        )),
        None => Err(format!("cannot read {}", expected_path.display())),
    }
}

/// Fails when `dir` holds a file with extension `expected_ext` whose `.pol`
/// input is gone.
pub fn no_orphans(dir: &Path, expected_ext: &str) -> Result<(), String> {
    let mut orphans = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == expected_ext)
            && !path.with_extension("pol").exists()
        {
            orphans.push(path.display().to_string());
        }
    }
    if orphans.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "expected output without a .pol case (delete it or add the case): {}",
            orphans.join(", ")
        ))
    }
}

/// A line diff (longest common subsequence), `-` expected, `+` actual.
pub fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!(" {}\n", a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+{}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("-{}\n", a[i]));
            i += 1;
        }
    }
    out
}

/// A named test case.
pub struct Case {
    pub name: String,
    pub run: Box<dyn Fn() -> Result<(), String>>,
}

impl Case {
    /// A case named `name` that runs `run`.
    pub fn new(name: impl Into<String>, run: impl Fn() -> Result<(), String> + 'static) -> Case {
        Case {
            name: name.into(),
            run: Box::new(run),
        }
    }
}

/// Runs the cases selected by the command line (a name filter, `--exact`,
/// `--list`) with libtest-style output; the exit code says whether all passed.
pub fn run_cases(all: Vec<Case>) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let list = args.iter().any(|a| a == "--list");
    let filter = args.iter().find(|a| !a.starts_with('-')).cloned();
    let total = all.len();
    let selected: Vec<Case> = all
        .into_iter()
        .filter(|case| match &filter {
            None => true,
            Some(f) if exact => &case.name == f,
            Some(f) => case.name.contains(f.as_str()),
        })
        .collect();
    if list {
        for case in &selected {
            println!("{}: test", case.name);
        }
        return ExitCode::SUCCESS;
    }
    let start = Instant::now();
    println!("\nrunning {} tests", selected.len());
    let mut failures = Vec::new();
    for case in &selected {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (case.run)()))
            .unwrap_or_else(|_| Err("panicked".to_string()));
        match outcome {
            Ok(()) => println!("test {} ... ok", case.name),
            Err(message) => {
                println!("test {} ... FAILED", case.name);
                failures.push((case.name.clone(), message));
            }
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:\n");
        for (name, message) in &failures {
            println!("---- {name} ----\n{message}\n");
        }
        println!("failures:");
        for (name, _) in &failures {
            println!("    {name}");
        }
    }
    let passed = selected.len() - failures.len();
    println!(
        "\ntest result: {}. {passed} passed; {} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        if failures.is_empty() { "ok" } else { "FAILED" },
        failures.len(),
        total - selected.len(),
        start.elapsed().as_secs_f64()
    );
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
