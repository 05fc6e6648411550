//! The editor support in `editors/` cannot drift from the language: the
//! TextMate grammar (`editors/vscode/syntaxes/pol.tmLanguage.json`)
//! highlights exactly the keywords of `grammar/pol.lalrpop` (no more, no
//! fewer) and the checker's built-in constants, and the extension manifest
//! points at the grammar and the `.pol` extension.

use std::collections::BTreeSet;
use std::fs;

use polc_tests::repo_root;
use serde_json::Value;

/// The alphabetic keywords the lalrpop grammar declares
/// (`"rule" => Token::Rule` lines of its `extern` block).
fn grammar_keywords() -> BTreeSet<String> {
    let grammar = fs::read_to_string(repo_root().join("grammar/pol.lalrpop")).expect("grammar");
    grammar
        .lines()
        .filter_map(|line| line.trim().split_once("=> Token::"))
        .map(|(quoted, _)| quoted.trim())
        .filter(|quoted| quoted.starts_with('"'))
        .map(|quoted| quoted.trim_matches('"').to_string())
        .filter(|word| word.chars().all(|c| c.is_ascii_lowercase()))
        .collect()
}

fn tm_grammar() -> Value {
    let path = repo_root().join("editors/vscode/syntaxes/pol.tmLanguage.json");
    serde_json::from_str(&fs::read_to_string(&path).expect("tmLanguage")).expect("valid JSON")
}

/// The words of `\b(a|b|c)\b` patterns whose scope starts with `prefix`.
fn words(grammar: &Value, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![grammar];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                let name = map.get("name").and_then(Value::as_str).unwrap_or("");
                let pattern = map.get("match").and_then(Value::as_str).unwrap_or("");
                if name.starts_with(prefix) {
                    if let Some(inner) = pattern
                        .strip_prefix("\\b(")
                        .and_then(|p| p.strip_suffix(")\\b"))
                    {
                        out.extend(inner.split('|').map(str::to_string));
                    }
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    out
}

#[test]
fn the_grammar_highlights_exactly_the_keywords_of_the_language() {
    let grammar = tm_grammar();
    let mut highlighted = words(&grammar, "keyword.");
    highlighted.extend(words(&grammar, "constant.language.boolean"));
    let keywords = grammar_keywords();
    assert!(keywords.len() > 20, "{keywords:?}");
    let missing: Vec<&String> = keywords.difference(&highlighted).collect();
    let extra: Vec<&String> = highlighted.difference(&keywords).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "editors/vscode/syntaxes/pol.tmLanguage.json drifted from grammar/pol.lalrpop: \
         not highlighted {missing:?}, not keywords {extra:?}"
    );
    // Every keyword is a keyword to the lexer too.
    for keyword in &keywords {
        assert!(polc::syntax::lexer::is_keyword(keyword), "{keyword}");
    }
}

#[test]
fn the_constants_are_the_checkers() {
    let highlighted = words(&tm_grammar(), "constant.language.pol");
    let constants: BTreeSet<String> = polc::check::CONSTANTS
        .iter()
        .map(|constant| constant.name.to_string())
        .collect();
    assert_eq!(highlighted, constants);
}

#[test]
fn the_manifest_contributes_the_language_and_its_grammar() {
    let dir = repo_root().join("editors/vscode");
    let manifest: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("package.json")).expect("package.json"))
            .expect("valid JSON");
    let language = &manifest["contributes"]["languages"][0];
    assert_eq!(language["id"], "pol");
    assert_eq!(language["extensions"][0], ".pol");
    let configuration = language["configuration"].as_str().expect("configuration");
    let config: Value =
        serde_json::from_str(&fs::read_to_string(dir.join(configuration)).expect("configuration"))
            .expect("valid JSON");
    assert_eq!(config["comments"]["lineComment"], "#");
    let grammar = &manifest["contributes"]["grammars"][0];
    assert_eq!(grammar["language"], "pol");
    assert_eq!(grammar["scopeName"], tm_grammar()["scopeName"]);
    let path = grammar["path"].as_str().expect("path");
    assert!(dir.join(path).is_file(), "{path}");
}
