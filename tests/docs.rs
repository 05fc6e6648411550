//! The documentation cannot drift from the code: `docs/errors.md` is the
//! code docs rendered, the hook and field tables of `docs/language.md` are
//! generated from the hook table, every `pol` block in the language reference
//! checks without errors, and every code's example triggers that code.
//! A missing or stale generated part fails; regenerate them with
//! `POLC_BLESS=1 cargo test -p polc-tests --test docs` (never under `CI`).

use std::fs;

use polc::check::reference;
use polc::compile::{compile_source, compile_source_in, DEFAULT_RINGBUF_BYTES};
use polc::diag::{errors_markdown, Code};
use polc_tests::golden::{bless, compare_or_bless};
use polc_tests::repo_root;

const BLESS_COMMAND: &str = "POLC_BLESS=1 cargo test -p polc-tests --test docs";

#[test]
fn errors_md_is_generated_from_the_code_docs() {
    // A missing docs/errors.md fails like a stale one; only blessing (never
    // under CI) writes it.
    let path = repo_root().join("docs/errors.md");
    if let Err(problem) = compare_or_bless(&path, &errors_markdown(), BLESS_COMMAND) {
        panic!("docs/errors.md is generated from compiler/src/diag/codes.rs: {problem}");
    }
}

/// Replaces the text between `<!-- BEGIN name -->` and `<!-- END name -->`.
fn replace_section(text: &str, name: &str, content: &str) -> Option<String> {
    let begin = format!("<!-- BEGIN {name} (generated from compiler/src/check/hooks.rs) -->\n");
    let end = format!("<!-- END {name} -->");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    Some(format!("{}{content}{}", &text[..start], &text[stop..]))
}

#[test]
fn language_md_tables_are_generated_from_the_hook_table() {
    let path = repo_root().join("docs/language.md");
    let actual = fs::read_to_string(&path).expect("docs/language.md exists");
    let expected = replace_section(&actual, "hooks", &reference::hooks_markdown())
        .and_then(|text| replace_section(&text, "fields", &reference::fields_markdown()))
        .expect("docs/language.md has the generated `hooks` and `fields` sections");
    if actual != expected {
        if bless() {
            fs::write(&path, &expected).expect("write docs/language.md");
        } else {
            panic!("the tables in docs/language.md are out of date with the hook table; run: {BLESS_COMMAND}");
        }
    }
}

#[test]
fn every_pol_block_in_the_language_reference_checks() {
    let text =
        fs::read_to_string(repo_root().join("docs/language.md")).expect("docs/language.md exists");
    let mut blocks = 0;
    for (i, block) in text.split("```pol\n").skip(1).enumerate() {
        let code = block.split("```").next().unwrap_or_default();
        // List files are read from docs/ (docs/lists/).
        let checked = compile_source_in(
            "language.md",
            code,
            &repo_root().join("docs"),
            DEFAULT_RINGBUF_BYTES,
        )
        .expect("no internal error");
        let errors: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect();
        assert!(
            errors.is_empty(),
            "block {} of docs/language.md:\n{code}\n{errors:#?}",
            i + 1
        );
        blocks += 1;
    }
    assert!(blocks >= 10, "only {blocks} pol blocks found");
}

#[test]
fn every_code_example_reports_its_code() {
    for code in Code::ALL {
        let doc = code.doc();
        let checked = compile_source("example.pol", doc.example, DEFAULT_RINGBUF_BYTES)
            .expect("no internal error");
        assert!(
            checked.diagnostics.iter().any(|d| d.code == *code),
            "the example of {code} does not report it:\n{}\n{:#?}",
            doc.example,
            checked.diagnostics
        );
    }
}
