//! Support for golden-file tests: input files in, expected text files out.
//!
//! One small libtest-style runner (`harness = false` test targets call
//! [`run_cases`]) with name filters, `--exact` and `--list`; a mismatch prints
//! a line diff and the bless command; a missing expected file fails like a
//! mismatch; an orphaned expected file fails its suite. `POLC_BLESS=1` writes
//! expected files (new ones included), never under `CI`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Whether expected files are being rewritten (`POLC_BLESS=1`). Panics
/// under `CI`: CI compares against the expected files and never writes them.
pub fn bless() -> bool {
    let asked = std::env::var_os("POLC_BLESS").is_some_and(|v| v != "0");
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(
        !(asked && ci),
        "POLC_BLESS is set under CI: expected files are written by a developer, never by CI"
    );
    asked
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
/// blessing ([`bless`]). A missing expected file fails (and names the
/// bless command), as a mismatch does.
pub fn compare_or_bless(
    expected_path: &Path,
    actual: &str,
    bless_command: &str,
) -> Result<(), String> {
    compare_or_write(expected_path, actual, bless_command, bless())
}

fn compare_or_write(
    expected_path: &Path,
    actual: &str,
    bless_command: &str,
    bless: bool,
) -> Result<(), String> {
    if bless {
        if fs::read_to_string(expected_path).ok().as_deref() != Some(actual) {
            fs::write(expected_path, actual)
                .map_err(|e| format!("cannot write {}: {e}", expected_path.display()))?;
            eprintln!("wrote {}", expected_path.display());
        }
        return Ok(());
    }
    match fs::read_to_string(expected_path) {
        Ok(expected) if expected == actual => Ok(()),
        Ok(expected) => Err(format!(
            "{} differs from the actual output (- expected, + actual):\n{}\nto accept the new output run: {bless_command}",
            expected_path.display(),
            diff(&expected, actual)
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "{} is missing (a new case?); write it with: {bless_command}",
            expected_path.display()
        )),
        Err(e) => Err(format!("cannot read {}: {e}", expected_path.display())),
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

/// A line diff (every line: ` ` kept, `-` expected, `+` actual), from the
/// formatter's edit script.
pub fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for (tag, i, j) in polc::fmt::edit_script(&a, &b) {
        let line = if tag == '+' { b[j] } else { a[i] };
        out.push_str(&format!("{tag}{line}\n"));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("polc-golden-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    #[test]
    fn a_missing_expected_file_fails_and_is_not_written() {
        let dir = scratch("missing");
        let path = dir.join("case.out");
        let error = compare_or_write(&path, "text\n", "BLESS", false).expect_err("missing");
        assert!(error.contains("is missing"), "{error}");
        assert!(error.contains("BLESS"), "{error}");
        assert!(!path.exists());
        compare_or_write(&path, "text\n", "BLESS", true).expect("blessed");
        assert_eq!(fs::read_to_string(&path).expect("written"), "text\n");
        compare_or_write(&path, "text\n", "BLESS", false).expect("now equal");
        let error = compare_or_write(&path, "other\n", "BLESS", false).expect_err("differs");
        assert!(
            error.contains("-text") && error.contains("+other"),
            "{error}"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_orphaned_expected_file_fails_its_suite() {
        let dir = scratch("orphans");
        fs::write(dir.join("kept.pol"), "").expect("write");
        fs::write(dir.join("kept.out"), "").expect("write");
        assert!(no_orphans(&dir, "out").is_ok());
        fs::write(dir.join("gone.out"), "").expect("write");
        let error = no_orphans(&dir, "out").expect_err("orphan");
        assert!(error.contains("gone.out"), "{error}");
        let _ = fs::remove_dir_all(&dir);
    }
}
