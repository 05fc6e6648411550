//! Parse errors that are common mistakes, said as such: an operator of
//! another policy language (`glob`, `regex`, `icontains`, `exists`), a
//! condition missing after `and`, a Falco-style `( ... )` list, a misspelled
//! or upper-case keyword, two hooks for one rule, a message without an
//! action. The parser reports "expected X, found Y"; [`explain`] looks at the
//! tokens around the error and rewrites the diagnostic when it recognises
//! the mistake (dropping the errors that only follow from it).
//!
//! Table-driven: [`FOREIGN_OPERATORS`] names operators this language does
//! not have. An entry stops applying by itself once the grammar makes its
//! word a keyword (the lexer then never produces it as a name).
//!
//! Knows tokens and diagnostics only.

use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::lexer::{Spanned, Token};
use crate::syntax::COMPARISON_OPERATORS;

/// Operators of other policy languages (Falco, OPA, SQL) that this one does
/// not have, with what to write instead.
pub const FOREIGN_OPERATORS: &[(&str, &str)] = &[
    (
        "glob",
        "glob patterns are written with `matches`: `file.path matches \"/home/*/.ssh/id_*\"`",
    ),
    (
        "regex",
        "there are no regular expressions: use `matches` with a glob pattern (`*`, `**`, `?`), or `startswith`, `endswith`, `contains`",
    ),
    (
        "pmatch",
        "for a path prefix use `startswith`, or `startswith` a list of prefixes",
    ),
    (
        "icontains",
        "comparisons are case-sensitive: use `contains` with the case the kernel reports",
    ),
    (
        "istartswith",
        "comparisons are case-sensitive: use `startswith` with the case the kernel reports",
    ),
    (
        "iendswith",
        "comparisons are case-sensitive: use `endswith` with the case the kernel reports",
    ),
    (
        "exists",
        "every field always has a value (empty or 0 when the kernel has none): compare with `!= \"\"` or `!= 0`",
    ),
    (
        "intersects",
        "a field holds one value: test it against a list with `in`",
    ),
    ("like", "use `startswith`, `endswith` or `contains`"),
];

/// The comparison operators the language has, as written.
pub fn comparison_operators() -> String {
    let mut ops: Vec<String> = COMPARISON_OPERATORS
        .iter()
        .map(|op| format!("`{}`", op.trim_matches('"')))
        .collect();
    ops.push("`not in`".to_string());
    ops.join(", ")
}

/// Rewrites the parse diagnostics that are recognised mistakes.
pub(crate) fn explain(
    diagnostics: Vec<Diagnostic>,
    tokens: &[Spanned<'_>],
    source: &str,
) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    // Source ranges whose other errors only follow from an explained one.
    let mut consumed: Vec<Span> = Vec::new();
    for diagnostic in diagnostics {
        let start = diagnostic.primary_span().start;
        if consumed
            .iter()
            .any(|range| start >= range.start && start < range.end)
        {
            continue;
        }
        let index = match diagnostic.code {
            Code::E0101 => tokens.iter().position(|(s, _, _)| *s == start as usize),
            Code::E0102 => Some(tokens.len()),
            _ => None,
        };
        let Some(index) = index else {
            out.push(diagnostic);
            continue;
        };
        match recognise(&diagnostic, tokens, index, source) {
            Some((better, range)) => {
                consumed.extend(range);
                out.push(better);
            }
            None => out.push(diagnostic),
        }
    }
    out
}

/// The token kinds after which a comparison operator is expected.
fn ends_value(token: &Token<'_>) -> bool {
    matches!(
        token,
        Token::Ident(_)
            | Token::Int(_)
            | Token::Ip(_)
            | Token::Str(_)
            | Token::True
            | Token::False
            | Token::RParen
    )
}

fn span_of(token: &Spanned<'_>) -> Span {
    Span::new(token.0, token.2)
}

/// A better diagnostic for the error at `tokens[index]` (`index ==
/// tokens.len()`: the end of the file), and the source range whose other
/// errors it explains.
fn recognise(
    diagnostic: &Diagnostic,
    tokens: &[Spanned<'_>],
    index: usize,
    source: &str,
) -> Option<(Diagnostic, Option<Span>)> {
    let current = tokens.get(index);
    let prev = index.checked_sub(1).and_then(|i| tokens.get(i));
    let prev2 = index.checked_sub(2).and_then(|i| tokens.get(i));

    // `proc.comm glob "x"`: an operator of another language.
    if let (Some(token @ (_, Token::Ident(word), _)), Some(prev)) = (current, prev) {
        if ends_value(&prev.1) {
            if let Some((_, help)) = FOREIGN_OPERATORS.iter().find(|(op, _)| op == word) {
                return Some((
                    Diagnostic::new(
                        Code::E0101,
                        format!("`{word}` is not an operator"),
                        span_of(token),
                        "not an operator of this language",
                    )
                    .with_note(format!(
                        "the comparison operators are {}",
                        comparison_operators()
                    ))
                    .with_help(*help),
                    None,
                ));
            }
        }
    }

    // `when a == 1 and deny`: nothing after `and`.
    if let Some(prev @ (_, connective @ (Token::And | Token::Or | Token::Not), _)) = prev {
        let ends_clause = match current {
            None => true,
            Some((_, token, _)) => matches!(
                token,
                Token::Allow
                    | Token::Audit
                    | Token::Deny
                    | Token::Kill
                    | Token::On
                    | Token::When
                    | Token::Emit
                    | Token::RBrace
                    | Token::Rule
                    | Token::Trace
                    | Token::List
                    | Token::Macro
                    | Token::Test
            ),
        };
        if ends_clause {
            let word = connective.keyword().unwrap_or("and");
            let found = current.map_or("the end of the file".to_string(), |(_, t, _)| t.describe());
            return Some((
                Diagnostic::new(
                    Code::E0101,
                    format!("a condition is missing after `{word}`"),
                    span_of(prev),
                    format!("`{word}` needs a condition after it"),
                )
                .with_note(format!("found {found} instead"))
                .with_help(format!(
                    "remove the `{word}`, or write the condition it should join"
                )),
                None,
            ));
        }
    }

    // `in ("a", "b")` or `list l = ("a", "b")`: Falco's list syntax.
    if let (Some(open @ (_, Token::LParen, _)), Some(prev)) = (current, prev) {
        let list_decl = matches!(prev.1, Token::Assign)
            && index
                .checked_sub(3)
                .is_some_and(|i| matches!(tokens[i].1, Token::List));
        if matches!(prev.1, Token::In) || list_decl {
            let close = matching_paren(tokens, index)?;
            let inside = source.get(open.2..tokens[close].0).unwrap_or("").trim();
            let range = Span::new(open.0, tokens[close].2);
            return Some((
                Diagnostic::new(
                    Code::E0101,
                    "lists are written in brackets, not parentheses",
                    range,
                    "a list in parentheses",
                )
                .with_help(format!("write `[{inside}]`")),
                Some(range),
            ));
        }
    }

    // `on exec, file.open`: a rule is on one hook.
    if let (
        Some(comma @ (_, Token::Comma, _)),
        Some((_, Token::Ident(first), _)),
        Some((_, Token::On, _)),
    ) = (current, prev, prev2)
    {
        let mut end = index;
        let mut others = Vec::new();
        while let (Some((_, Token::Comma, _)), Some((_, Token::Ident(name), _))) =
            (tokens.get(end), tokens.get(end + 1))
        {
            others.push(format!("`{name}`"));
            end += 2;
        }
        let range = Span::new(comma.0, tokens[end.saturating_sub(1)].2);
        return Some((
            Diagnostic::new(Code::E0101, "a rule is on one hook", range, "a second hook")
                .with_label(Span::new(prev?.0, prev?.2), "the rule's hook")
                .with_help(format!(
                    "keep `on {first}` here and write a copy of the rule for {}",
                    others.join(", ")
                )),
            Some(Span::new(
                comma.0,
                (range.end as usize).max(next_clause_start(tokens, end)),
            )),
        ));
    }

    // `when a == 1 "message"`: a message needs an action before it.
    if let Some(token @ (_, Token::Str(_), _)) = current {
        if diagnostic.message.contains("an action") {
            return Some((
                Diagnostic::new(
                    Code::E0101,
                    "a message without an action",
                    span_of(token),
                    "the action this message belongs to is missing",
                )
                .with_help(
                    "write the action before the message: `deny \"...\"`; the actions are \
                     `allow`, `audit`, `deny` and `kill`",
                ),
                None,
            ));
        }
    }

    // `wen`, `dney`, `AND`: a misspelled keyword.
    if let Some((_, Token::Ident(word), _)) = current {
        if let Some(keyword) = misspelled_keyword(word, &expected_words(&diagnostic.message)) {
            let help = if keyword.eq_ignore_ascii_case(word) {
                format!("keywords are lower-case: `{keyword}`")
            } else {
                format!("did you mean `{keyword}`?")
            };
            return Some((diagnostic.clone().with_help(help), None));
        }
    }
    None
}

/// The index of the `)` closing the `(` at `open`.
fn matching_paren(tokens: &[Spanned<'_>], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, (_, token, _)) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            Token::RBrace | Token::LBrace => return None,
            _ => {}
        }
    }
    None
}

/// Where the clause after `tokens[index..]` starts (the errors before it
/// follow from the mistake).
fn next_clause_start(tokens: &[Spanned<'_>], index: usize) -> usize {
    tokens[index..]
        .iter()
        .find(|(_, token, _)| {
            matches!(
                token,
                Token::When
                    | Token::Allow
                    | Token::Audit
                    | Token::Deny
                    | Token::Kill
                    | Token::Emit
                    | Token::With
                    | Token::Expect
                    | Token::RBrace
            )
        })
        .map_or(usize::MAX, |(start, _, _)| *start)
}

/// The keywords an "expected ..." message names.
fn expected_words(message: &str) -> Vec<String> {
    let expected = message.split(", found").next().unwrap_or("");
    let mut words: Vec<String> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|w| w.chars().all(|c| c.is_ascii_alphabetic()) && !w.is_empty())
        .map(str::to_string)
        .collect();
    if expected.contains("a comparison operator") {
        words.extend(
            COMPARISON_OPERATORS
                .iter()
                .map(|op| op.trim_matches('"').to_string())
                .filter(|op| op.chars().all(|c| c.is_ascii_alphabetic())),
        );
    }
    words
}

/// The keyword among `expected` that `word` is a likely typo of: the same
/// letters in another case, or one edit (a transposition counts as one)
/// away.
fn misspelled_keyword<'k>(word: &str, expected: &'k [String]) -> Option<&'k str> {
    if let Some(same) = expected.iter().find(|k| k.eq_ignore_ascii_case(word)) {
        return Some(same);
    }
    let lower = word.to_ascii_lowercase();
    expected
        .iter()
        .filter(|k| k.len() >= 2 && lower.len() >= 2)
        .find(|k| typo_distance(&lower, k) <= 1)
        .map(String::as_str)
}

/// Optimal string alignment distance (edits and adjacent transpositions).
fn typo_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn first(source: &str) -> Diagnostic {
        let (_, diags) = parse(source);
        diags.into_iter().next().expect("a diagnostic")
    }

    #[test]
    fn foreign_operators_are_named_as_such() {
        for (op, _) in FOREIGN_OPERATORS {
            let source = format!("rule r {{ on exec when proc.comm {op} \"x\" deny }}");
            let (_, diags) = parse(&source);
            // Once an operator is a keyword of the grammar, its entry stops
            // applying: the lexer no longer makes it a name.
            if crate::syntax::lexer::lex(op).tokens[0].1 != Token::Ident(op) {
                continue;
            }
            assert_eq!(diags.len(), 1, "{op}: {diags:#?}");
            assert_eq!(diags[0].message, format!("`{op}` is not an operator"));
            assert!(diags[0].notes[0].contains("`startswith`"));
        }
    }

    #[test]
    fn typos_of_keywords() {
        assert_eq!(typo_distance("dney", "deny"), 1);
        assert_eq!(typo_distance("wen", "when"), 1);
        assert_eq!(typo_distance("kitten", "sitting"), 3);
        let d = first("rule r { on exec wen proc.uid == 0 deny }");
        assert_eq!(d.help.as_deref(), Some("did you mean `when`?"));
        let d = first("rule r { on exec when proc.uid == 0 AND proc.gid == 0 deny }");
        assert_eq!(d.help.as_deref(), Some("keywords are lower-case: `and`"));
    }

    #[test]
    fn trailing_connectives_and_eof() {
        let d = first("macro m = proc.uid == 0 and");
        assert_eq!(d.message, "a condition is missing after `and`");
        let d = first("rule r { on exec when proc.uid == 0 or deny }");
        assert_eq!(d.message, "a condition is missing after `or`");
    }
}
