//! Golden tests of diagnostics: every `tests/ui/NAME.pol` is checked and its
//! rendered diagnostics (no colour) are compared with `tests/ui/NAME.stderr`.
//! Every `examples/*.pol` must check with no diagnostic at all.
//!
//! One named test per file (`ui::NAME`, `examples::NAME`), plus two
//! whole-suite tests: no orphaned `.stderr` file, and at least one ui case per
//! diagnostic code. A mismatch prints a diff and the bless command; a missing
//! `.stderr` is written. Re-bless everything with
//! `POLC_BLESS=1 cargo test -p polc-tests --test ui`.
//!
//! A small runner of its own (`harness = false`) with libtest-style output;
//! it accepts a name filter and `--exact`/`--list` like libtest.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use polc::check::check_source;
use polc::diag::{render_text, Code};
use polc_tests::repo_root;

const BLESS_COMMAND: &str = "POLC_BLESS=1 cargo test -p polc-tests --test ui";

type Outcome = Result<(), String>;

struct Case {
    name: String,
    run: Box<dyn Fn() -> Outcome>,
}

fn bless() -> bool {
    std::env::var_os("POLC_BLESS").is_some_and(|v| v != "0")
}

fn pol_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "pol"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The rendered diagnostics of a ui case, with a path relative to the
/// repository so the output is the same on every machine.
fn render(path: &Path) -> Result<(String, Vec<Code>), String> {
    let source =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path
        .strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string();
    let checked = check_source(&name, &source);
    let codes = checked.diagnostics.iter().map(|d| d.code).collect();
    Ok((
        render_text(&checked.diagnostics, &name, &source, false),
        codes,
    ))
}

fn ui_case(pol: PathBuf) -> Outcome {
    let expected_path = pol.with_extension("stderr");
    let (actual, _) = render(&pol)?;
    let expected = fs::read_to_string(&expected_path).ok();
    match expected {
        Some(expected) if expected == actual => Ok(()),
        Some(_) | None if bless() || !expected_path.exists() => {
            fs::write(&expected_path, &actual).map_err(|e| format!("cannot write {}: {e}", expected_path.display()))?;
            eprintln!("wrote {}", expected_path.display());
            Ok(())
        }
        Some(expected) => Err(format!(
            "{} differs from the checker's output (- expected, + actual):\n{}\nto accept the new output run: {BLESS_COMMAND}",
            expected_path.display(),
            diff(&expected, &actual)
        )),
        None => Err(format!("cannot read {}", expected_path.display())),
    }
}

fn example_case(pol: PathBuf) -> Outcome {
    let (rendered, codes) = render(&pol)?;
    if codes.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} must check clean, but:\n{rendered}",
            pol.display()
        ))
    }
}

fn fuzz_inputs(dir: &Path) -> Vec<PathBuf> {
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

/// A past fuzzer finding (or a hand-made pathological input): checking and
/// rendering it must not panic, and a policy comes back exactly when there
/// is no error.
fn fuzz_case(input: PathBuf) -> Outcome {
    let bytes = fs::read(&input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let source = String::from_utf8_lossy(&bytes);
    let checked = check_source("fuzz.pol", &source);
    if checked.policy.is_some() == checked.has_errors() {
        return Err("policy present despite errors, or missing without one".to_string());
    }
    let _ = render_text(&checked.diagnostics, "fuzz.pol", &source, false);
    let _ = polc::diag::render_json(&checked.diagnostics, "fuzz.pol", &source);
    Ok(())
}

fn no_orphans(dir: PathBuf) -> Outcome {
    let mut orphans = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|e| e == "stderr") && !path.with_extension("pol").exists() {
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

fn every_code_has_a_case(dir: PathBuf) -> Outcome {
    let mut seen = BTreeSet::new();
    for pol in pol_files(&dir) {
        seen.extend(render(&pol)?.1);
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !seen.contains(*c))
        .map(|c| c.as_str())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "no tests/ui case reports: {}; add one per code",
            missing.join(", ")
        ))
    }
}

/// A line diff (longest common subsequence), `-` expected, `+` actual.
fn diff(expected: &str, actual: &str) -> String {
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

fn cases() -> Vec<Case> {
    let root = repo_root();
    let ui_dir = root.join("tests/ui");
    let mut cases = Vec::new();
    for pol in pol_files(&ui_dir) {
        cases.push(Case {
            name: format!("ui::{}", stem(&pol)),
            run: Box::new(move || ui_case(pol.clone())),
        });
    }
    for pol in pol_files(&root.join("examples")) {
        cases.push(Case {
            name: format!("examples::{}", stem(&pol)),
            run: Box::new(move || example_case(pol.clone())),
        });
    }
    for input in fuzz_inputs(&root.join("fuzz/regressions")) {
        cases.push(Case {
            name: format!(
                "fuzz::{}",
                input
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
            run: Box::new(move || fuzz_case(input.clone())),
        });
    }
    let dir = ui_dir.clone();
    cases.push(Case {
        name: "suite::no_orphaned_expected_files".to_string(),
        run: Box::new(move || no_orphans(dir.clone())),
    });
    cases.push(Case {
        name: "suite::every_code_has_a_ui_case".to_string(),
        run: Box::new(move || every_code_has_a_case(ui_dir.clone())),
    });
    cases
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exact = args.iter().any(|a| a == "--exact");
    let list = args.iter().any(|a| a == "--list");
    let filter = args.iter().find(|a| !a.starts_with('-')).cloned();
    let all = cases();
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
        return std::process::ExitCode::SUCCESS;
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
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
