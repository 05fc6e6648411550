//! Golden tests of code generation: every `tests/codegen/NAME.pol` is built
//! and its statistics, decision IR and annotated disassembly (every program,
//! every backend) are compared with `tests/codegen/NAME.out`.
//!
//! The cases are few and small on purpose: each shows one lowering (int
//! compares, word-sized string compares, set maps, folding per backend,
//! traces) so that a change in the emitted code is read, not skimmed.
//! A mismatch or a missing `.out` fails with a diff and the bless command;
//! an `.out` without its `.pol` fails the suite. Re-bless with
//! `POLC_BLESS=1 cargo test -p polc-tests --test codegen` (never under `CI`).

use std::fs;
use std::path::Path;

use polc::check::check_source;
use polc::compile::{build, DEFAULT_RINGBUF_BYTES};
use polc_tests::golden::{compare_or_bless, no_orphans, pol_files, run_cases, stem, Case};
use polc_tests::repo_root;

const BLESS_COMMAND: &str = "POLC_BLESS=1 cargo test -p polc-tests --test codegen";

fn render(path: &Path) -> Result<String, String> {
    let source =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let checked = check_source(&name, &source);
    let policy = checked.policy.ok_or_else(|| {
        format!(
            "{} does not check: {:?}",
            path.display(),
            checked.diagnostics
        )
    })?;
    let built = build(&policy, &source, DEFAULT_RINGBUF_BYTES).map_err(|e| e.to_string())?;
    // The disassembly of one program per hook (the host's fallback, the
    // last backend's first attach point) keeps the files readable; the stats
    // and the IR cover every program.
    let mut asm = String::new();
    for hook in policy.hooks() {
        let fallback = hook.spec().backends.last().and_then(|b| b.attach.first());
        if let Some(program) = built
            .programs
            .iter()
            .find(|p| Some(p.meta.section.as_str()) == fallback.map(|a| a.section))
        {
            asm.push_str(&format!(
                "{} ({}):\n",
                program.meta.symbol, program.meta.section
            ));
            asm.push_str(&built.program_disassembly(program));
            asm.push('\n');
        }
    }
    Ok(format!(
        "# stats\n{}\n# ir\n{}\n# asm\n{asm}",
        built.stats(),
        built.ir()
    ))
}

fn main() -> std::process::ExitCode {
    let dir = repo_root().join("tests/codegen");
    let mut cases: Vec<Case> = pol_files(&dir)
        .into_iter()
        .map(|pol| {
            Case::new(format!("codegen::{}", stem(&pol)), move || {
                compare_or_bless(&pol.with_extension("out"), &render(&pol)?, BLESS_COMMAND)
            })
        })
        .collect();
    cases.push(Case::new("suite::no_orphaned_expected_files", move || {
        no_orphans(&dir, "out")
    }));
    run_cases(cases)
}
