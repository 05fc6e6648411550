//! Every input kept in `fuzz/regressions/{generated,source,object,corrupt}/` (past
//! fuzzer findings of the targets of the same names, and hand-made
//! pathological inputs) replayed through the very function its fuzz target
//! runs (`polc_tests::fuzzing`): none may panic. One named case per file
//! (`generated::NAME`, ...). The front end's inputs, `fuzz/regressions/*.pol`,
//! are replayed by `tests/ui.rs`.
//!
//! A small runner (`harness = false`), the golden runner's, so that a
//! failing case is named by its file.

use std::fs;

use polc_tests::golden::{self, run_cases, Case};
use polc_tests::{fuzzing, repo_root};

/// A fuzz target's body.
type Target = fn(&[u8]);

fn main() -> std::process::ExitCode {
    let root = repo_root().join("fuzz/regressions");
    let targets: [(&str, Target); 4] = [
        ("generated", fuzzing::generated_policy),
        ("source", fuzzing::source_policy),
        ("object", |data| drop(fuzzing::object(data))),
        ("corrupt", fuzzing::corrupted_object),
    ];
    let mut cases = Vec::new();
    for (target, run) in targets {
        for input in golden::files(&root.join(target)) {
            let name = input
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            cases.push(Case {
                name: format!("{target}::{name}"),
                run: Box::new(move || {
                    let bytes = fs::read(&input)
                        .map_err(|e| format!("cannot read {}: {e}", input.display()))?;
                    run(&bytes);
                    Ok(())
                }),
            });
        }
    }
    run_cases(cases)
}
