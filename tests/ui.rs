//! Golden tests of diagnostics: every `tests/ui/NAME.pol` is checked and its
//! rendered diagnostics (no colour) are compared with `tests/ui/NAME.stderr`.
//! Every `examples/*.pol` must check with no diagnostic at all.
//!
//! One named test per file (`ui::NAME`, `examples::NAME`), plus two
//! whole-suite tests: no orphaned `.stderr` file, and at least one ui case per
//! diagnostic code. A mismatch prints a diff and the bless command; a missing
//! `.stderr` fails the same way (written only by blessing, never under
//! `CI`). Re-bless everything with
//! `POLC_BLESS=1 cargo test -p polc-tests --test ui`.
//!
//! A small runner of its own (`harness = false`) with libtest-style output;
//! it accepts a name filter and `--exact`/`--list` like libtest.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use polc::compile::{compile_source, compile_source_in, DEFAULT_RINGBUF_BYTES};
use polc::diag::{render_text, Code};
use polc_tests::golden::{self, compare_or_bless, no_orphans, pol_files, run_cases, stem, Case};
use polc_tests::repo_root;

const BLESS_COMMAND: &str = "POLC_BLESS=1 cargo test -p polc-tests --test ui";

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
    // List files are read from the case's directory.
    let dir = path.parent().unwrap_or(Path::new("."));
    let checked = compile_source_in(&name, &source, dir, DEFAULT_RINGBUF_BYTES)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let codes = checked.diagnostics.iter().map(|d| d.code).collect();
    Ok((
        render_text(&checked.diagnostics, &name, &source, false),
        codes,
    ))
}

type Outcome = Result<(), String>;

fn ui_case(pol: PathBuf) -> Outcome {
    let (actual, _) = render(&pol)?;
    compare_or_bless(&pol.with_extension("stderr"), &actual, BLESS_COMMAND)
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

/// A past fuzzer finding (or a hand-made pathological input): checking and
/// rendering it must not panic, and a policy comes back exactly when there
/// is no error.
fn fuzz_case(input: PathBuf) -> Outcome {
    let bytes = fs::read(&input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let source = String::from_utf8_lossy(&bytes);
    let checked = compile_source("fuzz.pol", &source, DEFAULT_RINGBUF_BYTES)
        .map_err(|e| format!("{}: {e}", input.display()))?;
    if checked.policy.is_some() == checked.has_errors() {
        return Err("policy present despite errors, or missing without one".to_string());
    }
    let _ = render_text(&checked.diagnostics, "fuzz.pol", &source, false);
    let _ = polc::diag::render_json(&checked.diagnostics, "fuzz.pol", &source);
    Ok(())
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
    for input in golden::files(&root.join("fuzz/regressions")) {
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
        run: Box::new(move || no_orphans(&dir, "stderr")),
    });
    cases.push(Case {
        name: "suite::every_code_has_a_ui_case".to_string(),
        run: Box::new(move || every_code_has_a_case(ui_dir.clone())),
    });
    cases
}

fn main() -> std::process::ExitCode {
    run_cases(cases())
}
