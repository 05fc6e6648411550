//! Properties of `polc fmt` (`polc::fmt::format_source`):
//!
//! - **idempotent**: formatting formatted text changes nothing;
//! - **meaning-preserving**: the formatted text parses to the same AST and
//!   checks to the same `CheckedPolicy` (positions aside) with the same
//!   diagnostics (codes and messages);
//! - **comment-preserving**: every comment comes out once, in order;
//! - every line the formatter writes fits its width unless one token is
//!   longer.
//!
//! Checked over every `.pol` of the repository that parses (examples, the
//! ui, codegen, e2e, VM and benchmark corpora) and over generated policies
//! (`tests/gen`) with comments sprinkled in: at line ends, on lines of
//! their own, inside lists and conditions. `POLC_PROP_SEED` and
//! `POLC_PROP_CASES` reproduce and lengthen the generated run, as in
//! `tests/properties.rs`.

use std::fs;
use std::path::{Path, PathBuf};

use polc::check::check_source;
use polc::check::policy::{CheckedPolicy, Expr};
use polc::fmt::{format_source, WIDTH};
use polc::span::Span;
use polc::syntax::{lexer, parse};
use polc_tests::gen::policy::{self, Shape};
use polc_tests::gen::rng::{Entropy, SplitMix64};
use polc_tests::repo_root;

/// The checked policy with every position (spans, lines, the source's name
/// and hash) cleared: what the formatter must not change.
fn positionless(policy: &CheckedPolicy) -> CheckedPolicy {
    fn clear(expr: &mut Expr) {
        match expr {
            Expr::And(items) | Expr::Or(items) => items.iter_mut().for_each(clear),
            Expr::Not(inner) => clear(inner),
            Expr::Test(test) => test.span = Span::default(),
        }
    }
    let mut policy = policy.clone();
    policy.source_name.clear();
    policy.source_hash.clear();
    for list in &mut policy.lists {
        list.span = Span::default();
    }
    for rule in &mut policy.rules {
        rule.span = Span::default();
        rule.name_span = Span::default();
        rule.line = 0;
        if let Some(cond) = &mut rule.cond {
            clear(cond);
        }
    }
    for test in &mut policy.tests {
        test.span = Span::default();
    }
    policy
}

/// The AST's debug text without positions (spans, string offsets).
fn ast_text(source: &str) -> String {
    let (file, _) = parse(source);
    let text = format!("{:?}", file.decls);
    let mut out = String::new();
    let mut rest = text.as_str();
    // `Span { start: N, end: M }` and `offsets: [...]` carry positions.
    loop {
        let at = [rest.find("Span {"), rest.find("offsets: [")]
            .into_iter()
            .flatten()
            .min();
        let Some(at) = at else {
            break;
        };
        out.push_str(&rest[..at]);
        let close = if rest[at..].starts_with("Span {") {
            '}'
        } else {
            ']'
        };
        let end = rest[at..].find(close).map_or(rest.len(), |e| at + e + 1);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The comments of `source`, in order.
fn comments(source: &str) -> Vec<String> {
    lexer::comments(source)
        .into_iter()
        .map(|span| source[span.range()].trim_end().to_string())
        .collect()
}

/// Checks every property on `source`; `what` names it in failures.
fn check_properties(what: &str, source: &str) -> Result<(), String> {
    let formatted = match format_source(source) {
        Ok(text) => text,
        Err(_) => return Ok(()),
    };
    let again = format_source(&formatted)
        .map_err(|d| format!("{what}: the formatted text does not parse: {d:?}\n{formatted}"))?;
    if again != formatted {
        return Err(format!(
            "{what}: not idempotent:\n{}",
            polc::fmt::line_diff("formatted once", &formatted, &again)
        ));
    }
    if ast_text(source) != ast_text(&formatted) {
        return Err(format!(
            "{what}: the AST changed:\n{source}\n---\n{formatted}"
        ));
    }
    let before = check_source("p.pol", source);
    let after = check_source("p.pol", &formatted);
    let messages = |d: &[polc::diag::Diagnostic]| -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = d
            .iter()
            .map(|d| (d.code.to_string(), d.message.clone()))
            .collect();
        all.sort();
        all
    };
    if messages(&before.diagnostics) != messages(&after.diagnostics) {
        return Err(format!(
            "{what}: the diagnostics changed: {:?} -> {:?}",
            messages(&before.diagnostics),
            messages(&after.diagnostics)
        ));
    }
    match (&before.policy, &after.policy) {
        (Some(a), Some(b)) if positionless(a) != positionless(b) => {
            return Err(format!("{what}: the checked policy changed:\n{formatted}"));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(format!("{what}: checks differently after formatting"));
        }
        _ => {}
    }
    if comments(source) != comments(&formatted) {
        return Err(format!(
            "{what}: comments lost or reordered: {:?} -> {:?}",
            comments(source),
            comments(&formatted)
        ));
    }
    for line in formatted.lines() {
        // A comment at the end of a line may take it past the width.
        let line = line.split("  #").next().unwrap_or(line);
        let longest_word = line
            .split(' ')
            .map(|w| w.chars().count())
            .max()
            .unwrap_or(0);
        if line.chars().count() > WIDTH && longest_word + 12 < WIDTH && !line.contains('"') {
            return Err(format!("{what}: a line over {WIDTH} columns: {line}"));
        }
    }
    Ok(())
}

fn pol_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            pol_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "pol") {
            out.push(path);
        }
    }
}

#[test]
fn every_policy_of_the_repository_formats_stably_and_keeps_its_meaning() {
    let root = repo_root();
    let mut files = Vec::new();
    for dir in ["examples", "tests", "bench/pol"] {
        pol_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} policies", files.len());
    let mut formatted = 0;
    let mut failures = Vec::new();
    for file in &files {
        let source = fs::read_to_string(file).unwrap_or_default();
        if format_source(&source).is_ok() {
            formatted += 1;
        }
        if let Err(why) = check_properties(&file.display().to_string(), &source) {
            failures.push(why);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Most of the corpus parses (the ui cases of syntax errors do not).
    assert!(
        formatted * 2 > files.len(),
        "{formatted} of {}",
        files.len()
    );
}

/// `source` with comments added: at the end of some lines, on lines of
/// their own between others, numbered so order is checked.
fn with_comments(rng: &mut SplitMix64, source: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    for line in source.lines() {
        if rng.chance(15) {
            n += 1;
            out.push_str(&format!("# note {n}\n"));
        }
        out.push_str(line);
        if rng.chance(20) {
            n += 1;
            out.push_str(&format!(" # note {n}"));
        }
        out.push('\n');
    }
    out
}

/// The source with its layout scrambled: tokens joined by random
/// whitespace (newlines only where a comment needs one).
fn scrambled(rng: &mut SplitMix64, source: &str) -> String {
    let lexed = lexer::lex(source);
    let comments = lexer::comments(source);
    let mut out = String::new();
    let mut next_comment = 0;
    for (start, _, end) in &lexed.tokens {
        while next_comment < comments.len() && comments[next_comment].start < *start as u32 {
            out.push_str(&source[comments[next_comment].range()]);
            out.push('\n');
            next_comment += 1;
        }
        out.push_str(&source[*start..*end]);
        out.push_str(match rng.below(4) {
            0 => "  ",
            1 => "\n",
            2 => "\n\n",
            _ => " ",
        });
    }
    for comment in &comments[next_comment..] {
        out.push_str(&source[comment.range()]);
        out.push('\n');
    }
    out
}

#[test]
fn generated_policies_format_stably_and_keep_their_meaning() {
    let number = |name: &str| {
        std::env::var(name).ok().map(|text| {
            let text = text.trim().replace('_', "");
            match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            }
            .unwrap_or_else(|_| panic!("{name}={text} is not a number"))
        })
    };
    let seed = number("POLC_PROP_SEED").unwrap_or(0xf0_0000);
    let cases = number("POLC_PROP_CASES").unwrap_or(120);
    let shape = Shape::default_shape();
    for i in 0..cases {
        let case_seed = seed.wrapping_add(i);
        let mut rng = SplitMix64::new(case_seed);
        let source = policy::policy(&mut rng, &shape);
        let commented = with_comments(&mut rng, &source);
        let messy = scrambled(&mut rng, &commented);
        for (what, text) in [
            ("generated", &source),
            ("commented", &commented),
            ("scrambled", &messy),
        ] {
            if let Err(why) = check_properties(what, text) {
                panic!(
                    "seed {case_seed:#x}: {why}\nreproduce with: POLC_PROP_SEED={case_seed:#x} POLC_PROP_CASES=1 cargo test -p polc-tests --test fmt"
                );
            }
        }
    }
}
