//! The lexer (logos): source text to tokens with byte offsets. Characters
//! that start no token and unterminated strings are reported here and
//! skipped (or repaired), so the parser sees a clean token stream; nesting
//! deeper than [`MAX_NESTING`] stops the stream with a diagnostic, so nothing
//! after the lexer can recurse without bound.
//!
//! Knows nothing of the grammar beyond tokens, nor of hooks or fields.

use logos::Logos;

use crate::diag::{Code, Diagnostic};
use crate::span::Span;

/// The deepest nesting of parentheses and `not`s a condition may have.
pub const MAX_NESTING: usize = 64;

/// A token. Literals and names borrow their text from the source.
#[derive(Logos, Copy, Clone, Debug, PartialEq, Eq)]
#[logos(skip r"[ \t\r\n\f]+")]
#[logos(skip(r"#[^\n]*", allow_greedy = true))]
pub enum Token<'src> {
    #[token("list")]
    List,
    #[token("macro")]
    Macro,
    #[token("rule")]
    Rule,
    #[token("trace")]
    Trace,
    #[token("test")]
    Test,
    #[token("on")]
    On,
    #[token("when")]
    When,
    #[token("emit")]
    Emit,
    #[token("with")]
    With,
    #[token("expect")]
    Expect,
    #[token("by")]
    By,
    #[token("traces")]
    Traces,
    #[token("no")]
    No,
    #[token("and")]
    And,
    #[token("or")]
    Or,
    #[token("not")]
    Not,
    #[token("in")]
    In,
    #[token("startswith")]
    StartsWith,
    #[token("endswith")]
    EndsWith,
    #[token("contains")]
    Contains,
    #[token("allow")]
    Allow,
    #[token("audit")]
    Audit,
    #[token("deny")]
    Deny,
    #[token("kill")]
    Kill,
    #[token("true")]
    True,
    #[token("false")]
    False,
    #[token("=")]
    Assign,
    #[token("==")]
    EqEq,
    #[token("!=")]
    NotEq,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token(",")]
    Comma,
    /// `*`: any element, in an indexed field (`exec.args[*]`).
    #[token("*")]
    Star,
    /// A member after an index, dot included: the `.comm` of
    /// `proc.ancestors[2].comm`.
    #[regex(r"\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", |lex| lex.slice())]
    Member(&'src str),
    /// A name, possibly dotted: `shells`, `proc.uid`, `file.open`.
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", |lex| lex.slice())]
    Ident(&'src str),
    /// Anything that starts like a number (validated by the checker, which
    /// knows the field's width).
    #[regex(r"-?[0-9][0-9A-Za-z_]*", |lex| lex.slice())]
    Int(&'src str),
    /// Anything that looks like an IPv4 or IPv6 address or network
    /// (validated by the checker).
    #[regex(r"[0-9]+(\.[0-9]+)+(/[0-9]+)?", |lex| lex.slice())]
    #[regex(r"[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(/[0-9]+)?", |lex| lex.slice())]
    Ip(&'src str),
    /// A string literal, quotes included, escapes not yet decoded.
    #[regex(r#""([^"\\\n]|\\[^\n])*""#, |lex| lex.slice())]
    Str(&'src str),
    /// A path written without quotes (reported, then read as a string).
    #[regex(r"/[A-Za-z0-9_.+@%/-]*", |lex| lex.slice())]
    BarePath(&'src str),
    /// A range `1..1024`, which the language does not have (reported, then
    /// read as its first number).
    #[regex(r"[0-9]+\.\.[0-9]*", |lex| lex.slice())]
    Range(&'src str),
    /// A string literal missing its closing quote (repaired into `Str`).
    #[regex(r#""([^"\\\n]|\\[^\n])*"#, |lex| lex.slice())]
    UnterminatedStr(&'src str),
}

impl Token<'_> {
    /// How the token is described in messages (`` `rule` ``, `a name`, ...).
    pub fn describe(&self) -> String {
        match self {
            Token::Ident(text) => format!("name `{text}`"),
            Token::Int(text) => format!("number `{text}`"),
            Token::Ip(text) => format!("address `{text}`"),
            Token::Str(_) | Token::UnterminatedStr(_) | Token::BarePath(_) => {
                "a string".to_string()
            }
            Token::Range(text) => format!("range `{text}`"),
            Token::Member(text) => format!("member `{text}`"),
            other => match other.keyword() {
                Some(keyword) if keyword.chars().all(|c| c.is_ascii_alphabetic()) => {
                    format!("keyword `{keyword}`")
                }
                Some(keyword) => format!("`{keyword}`"),
                None => "a token".to_string(),
            },
        }
    }

    /// The fixed text of keyword and punctuation tokens.
    pub fn keyword(&self) -> Option<&'static str> {
        Some(match self {
            Token::List => "list",
            Token::Macro => "macro",
            Token::Rule => "rule",
            Token::Trace => "trace",
            Token::Test => "test",
            Token::On => "on",
            Token::When => "when",
            Token::Emit => "emit",
            Token::With => "with",
            Token::Expect => "expect",
            Token::By => "by",
            Token::Traces => "traces",
            Token::No => "no",
            Token::And => "and",
            Token::Or => "or",
            Token::Not => "not",
            Token::In => "in",
            Token::StartsWith => "startswith",
            Token::EndsWith => "endswith",
            Token::Contains => "contains",
            Token::Allow => "allow",
            Token::Audit => "audit",
            Token::Deny => "deny",
            Token::Kill => "kill",
            Token::True => "true",
            Token::False => "false",
            Token::Assign => "=",
            Token::EqEq => "==",
            Token::NotEq => "!=",
            Token::Lt => "<",
            Token::Le => "<=",
            Token::Gt => ">",
            Token::Ge => ">=",
            Token::LParen => "(",
            Token::RParen => ")",
            Token::LBracket => "[",
            Token::RBracket => "]",
            Token::LBrace => "{",
            Token::RBrace => "}",
            Token::Comma => ",",
            Token::Star => "*",
            Token::Ident(_)
            | Token::Member(_)
            | Token::Int(_)
            | Token::Ip(_)
            | Token::Str(_)
            | Token::BarePath(_)
            | Token::Range(_)
            | Token::UnterminatedStr(_) => return None,
        })
    }
}

/// A token with its byte offsets, as the parser takes it.
pub type Spanned<'src> = (usize, Token<'src>, usize);

/// Splits `source` into tokens. Problems are reported in the returned
/// diagnostics; the tokens are always usable. `truncated` is true when the
/// stream was cut short (nesting too deep).
pub struct Lexed<'src> {
    pub tokens: Vec<Spanned<'src>>,
    pub diagnostics: Vec<Diagnostic>,
    pub truncated: bool,
}

/// The byte-order mark some editors write at the start of a UTF-8 file.
pub const BYTE_ORDER_MARK: char = '\u{feff}';

/// Whether `word` is a keyword of the language (`and`, `deny`, ...).
pub fn is_keyword(word: &str) -> bool {
    let mut lexer = Token::lexer(word);
    matches!(lexer.next(), Some(Ok(token)) if token.keyword() == Some(word))
        && lexer.next().is_none()
}

/// Lexes `source`. A byte-order mark at its start is skipped.
pub fn lex(source: &str) -> Lexed<'_> {
    let mut tokens: Vec<Spanned<'_>> = Vec::new();
    let mut diagnostics = Vec::new();
    let mut bad: Option<Span> = None;
    let mut depth = Nesting::default();
    let mut truncated = false;
    let bom = if source.starts_with(BYTE_ORDER_MARK) {
        BYTE_ORDER_MARK.len_utf8()
    } else {
        0
    };
    let mut lexer = Token::lexer(source);
    lexer.bump(bom);
    for (result, range) in lexer.spanned() {
        let span = Span::from(range.clone());
        let token = match result {
            Ok(token) => token,
            Err(()) => {
                bad = Some(match bad {
                    Some(prev) if prev.end == span.start => prev.to(span),
                    Some(prev) => {
                        diagnostics.push(invalid_characters(source, prev));
                        span
                    }
                    None => span,
                });
                continue;
            }
        };
        if let Some(prev) = bad.take() {
            diagnostics.push(invalid_characters(source, prev));
        }
        let token = match token {
            Token::UnterminatedStr(text) => {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0104,
                        "unterminated string",
                        span,
                        "this string has no closing `\"`",
                    )
                    .with_help(
                        "strings end on the line they start on; write a quote inside one as `\\\"`",
                    ),
                );
                Token::Str(text)
            }
            Token::Range(text) => {
                let (low, high) = text.split_once("..").unwrap_or((text, ""));
                let field = match tokens.as_slice() {
                    [.., (_, Token::Ident(field), _), (_, Token::In, _), (_, Token::LBracket, _)]
                    | [.., (_, Token::Ident(field), _), (_, Token::In, _)] => field,
                    _ => "FIELD",
                };
                let high = if high.is_empty() { "N" } else { high };
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0103,
                        format!("ranges are not written `{text}`"),
                        span,
                        "not a value of the language",
                    )
                    .with_help(format!(
                        "compare twice: `{field} >= {low} and {field} <= {high}`"
                    )),
                );
                Token::Int(low)
            }
            Token::BarePath(text) => {
                diagnostics.push(
                    Diagnostic::new(
                        Code::E0103,
                        format!("unquoted path `{text}`"),
                        span,
                        "paths are strings",
                    )
                    .with_help(format!("write it in double quotes: \"{text}\"")),
                );
                Token::Str(text)
            }
            token => token,
        };
        if depth.push(&token) > MAX_NESTING {
            diagnostics.push(
                Diagnostic::new(
                    Code::E0107,
                    format!("condition nested more than {MAX_NESTING} levels deep"),
                    span,
                    "too deep here",
                )
                .with_note("the rest of the file is not checked")
                .with_help("flatten the condition: `and`/`or` chains need no parentheses, and `not not A` is `A`"),
            );
            truncated = true;
            break;
        }
        tokens.push((range.start, token, range.end));
    }
    if let Some(prev) = bad {
        diagnostics.push(invalid_characters(source, prev));
    }
    Lexed {
        tokens,
        diagnostics,
        truncated,
    }
}

fn invalid_characters(source: &str, span: Span) -> Diagnostic {
    let text = source.get(span.range()).unwrap_or("");
    let help = match text {
        t if t.starts_with("&&") => Some("write `and`"),
        t if t.starts_with("||") => Some("write `or`"),
        t if t.starts_with('!') => Some("write `not`"),
        t if t.starts_with(';') => Some("clauses need no `;`: remove it"),
        t if t.starts_with("//") => Some("comments start with `#`"),
        t if t.starts_with('\'') => Some("strings are written with double quotes"),
        _ => None,
    };
    let shown: String = text
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    if text.contains(BYTE_ORDER_MARK) {
        return Diagnostic::new(
            Code::E0103,
            "byte-order mark in the middle of the file",
            span,
            "U+FEFF, a byte-order mark",
        )
        .with_help("remove it: one is allowed only at the very start of the file");
    }
    let message = if text.chars().count() == 1 {
        format!("invalid character `{shown}`")
    } else {
        format!("invalid characters `{shown}`")
    };
    Diagnostic::new(Code::E0103, message, span, "not part of any token")
        .with_help_opt(help.map(str::to_string))
}

/// The comments of `source` (`#` to the end of the line), as spans, in
/// order: what lies between tokens that is not white space. Invalid
/// characters (reported by [`lex`]) are not comments.
pub fn comments(source: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut gap_start = 0;
    let gaps = Token::lexer(source)
        .spanned()
        .map(|(_, range)| range)
        .chain(std::iter::once(source.len()..source.len()));
    for range in gaps {
        let gap = source.get(gap_start..range.start).unwrap_or("");
        let mut offset = 0;
        while let Some(hash) = gap[offset..].find('#') {
            let start = offset + hash;
            let end = gap[start..].find('\n').map_or(gap.len(), |n| start + n);
            spans.push(Span::new(gap_start + start, gap_start + end));
            offset = end;
        }
        gap_start = range.end;
    }
    spans
}

/// Tracks how deeply conditions nest: open parentheses plus `not`s that are
/// still waiting for their operand.
#[derive(Default)]
struct Nesting {
    /// For each open parenthesis, the pending `not`s outside it.
    parens: Vec<usize>,
    pending_nots: usize,
}

impl Nesting {
    /// Accounts for `token`; returns the nesting depth after it.
    fn push(&mut self, token: &Token<'_>) -> usize {
        match token {
            Token::LParen => {
                self.parens.push(self.pending_nots);
                self.pending_nots = 0;
            }
            Token::RParen => {
                self.pending_nots = self.parens.pop().unwrap_or(0);
            }
            Token::Not => self.pending_nots += 1,
            // An operator keeps the pending `not`s (`not a == b`); `and`/`or`
            // and the start of the next clause end them.
            Token::EqEq
            | Token::NotEq
            | Token::Lt
            | Token::Le
            | Token::Gt
            | Token::Ge
            | Token::In
            | Token::StartsWith
            | Token::EndsWith
            | Token::Contains
            | Token::Ident(_)
            | Token::Int(_)
            | Token::Ip(_)
            | Token::Str(_)
            | Token::True
            | Token::False
            | Token::LBracket
            | Token::RBracket
            | Token::Star
            | Token::Member(_)
            | Token::Comma => {}
            _ => {
                self.pending_nots = 0;
                if !matches!(token, Token::And | Token::Or) {
                    self.parens.clear();
                }
            }
        }
        self.parens.len() + self.parens.iter().sum::<usize>() + self.pending_nots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<Token<'_>> {
        lex(source).tokens.into_iter().map(|(_, t, _)| t).collect()
    }

    #[test]
    fn keywords_names_and_literals() {
        assert_eq!(
            kinds("rule r { on file.open when not proc.uid in [0, 0x10] deny \"x\" } # c"),
            vec![
                Token::Rule,
                Token::Ident("r"),
                Token::LBrace,
                Token::On,
                Token::Ident("file.open"),
                Token::When,
                Token::Not,
                Token::Ident("proc.uid"),
                Token::In,
                Token::LBracket,
                Token::Int("0"),
                Token::Comma,
                Token::Int("0x10"),
                Token::RBracket,
                Token::Deny,
                Token::Str("\"x\""),
                Token::RBrace,
            ]
        );
    }

    #[test]
    fn addresses_and_networks() {
        assert_eq!(
            kinds("10.0.0.0/8 fe80::1 ::1 2001:db8::/32 ::ffff:1.2.3.4 1.2"),
            vec![
                Token::Ip("10.0.0.0/8"),
                Token::Ip("fe80::1"),
                Token::Ip("::1"),
                Token::Ip("2001:db8::/32"),
                Token::Ip("::ffff:1.2.3.4"),
                Token::Ip("1.2"),
            ]
        );
    }

    #[test]
    fn keywords_prefixing_names_stay_names() {
        assert_eq!(
            kinds("notable inner listing"),
            vec![
                Token::Ident("notable"),
                Token::Ident("inner"),
                Token::Ident("listing")
            ]
        );
    }

    #[test]
    fn invalid_characters_are_reported_once_per_run_and_skipped() {
        let lexed = lex("a && b ; c");
        let codes: Vec<Code> = lexed.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, vec![Code::E0103, Code::E0103]);
        assert_eq!(lexed.diagnostics[0].primary_span(), Span::new(2, 4));
        assert_eq!(lexed.diagnostics[0].help.as_deref(), Some("write `and`"));
        assert_eq!(
            lexed.tokens.iter().map(|(_, t, _)| *t).collect::<Vec<_>>(),
            vec![Token::Ident("a"), Token::Ident("b"), Token::Ident("c")]
        );
    }

    #[test]
    fn bare_paths_are_reported_and_read_as_strings() {
        let lexed = lex("exec.path == /bin/sh deny");
        assert_eq!(lexed.diagnostics.len(), 1);
        assert_eq!(lexed.diagnostics[0].code, Code::E0103);
        assert_eq!(lexed.tokens[2].1, Token::Str("/bin/sh"));
    }

    #[test]
    fn unterminated_string_is_repaired() {
        let lexed = lex("deny \"abc\nrule");
        assert_eq!(lexed.diagnostics.len(), 1);
        assert_eq!(lexed.diagnostics[0].code, Code::E0104);
        assert_eq!(
            lexed.tokens.iter().map(|(_, t, _)| *t).collect::<Vec<_>>(),
            vec![Token::Deny, Token::Str("\"abc"), Token::Rule]
        );
    }

    #[test]
    fn deep_nesting_stops_the_stream() {
        let source = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        let lexed = lex(&source);
        assert!(lexed.truncated);
        assert_eq!(lexed.diagnostics[0].code, Code::E0107);
        let source = format!("{}a", "not ".repeat(100));
        assert!(lex(&source).truncated);
        // Many flat terms are not deep.
        let source = vec!["(a == 1)"; 500].join(" and ");
        assert!(!lex(&source).truncated);
        let source = vec!["not a"; 500].join(" or ");
        assert!(!lex(&source).truncated);
    }
}
