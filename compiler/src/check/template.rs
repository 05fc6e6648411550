//! Message templates: `"text {field} text"` with `{{`/`}}` for literal
//! braces. Each placeholder must name a field available on the rule's hook;
//! the runtime renders the message from the captured values (the kernel never
//! formats text).

use crate::check::cond::Scope;
use crate::check::hooks::FieldId;
use crate::check::literal;
use crate::check::policy::{Template, TemplatePart};
use crate::check::Checker;
use crate::diag::{Code, Diagnostic};
use crate::syntax::ast::StrLit;

impl Checker<'_> {
    /// Parses and checks a message template.
    pub(super) fn check_template(&mut self, lit: &StrLit, scope: &Scope) -> Option<Template> {
        let text = lit.value.as_str();
        let bytes = text.as_bytes();
        let mut parts = Vec::new();
        let mut literal_text = String::new();
        let mut ok = true;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'{' if bytes.get(i + 1) == Some(&b'{') => {
                    literal_text.push('{');
                    i += 2;
                }
                b'}' if bytes.get(i + 1) == Some(&b'}') => {
                    literal_text.push('}');
                    i += 2;
                }
                b'{' => {
                    let Some(close) = text[i + 1..].find(['}', '{']).map(|k| i + 1 + k) else {
                        self.report(
                            Diagnostic::new(
                                Code::E0309,
                                "unclosed `{` in message",
                                lit.sub_span(i, i + 1),
                                "this `{` is not closed",
                            )
                            .with_help(
                                "close the placeholder with `}`, or write a literal brace as `{{`",
                            ),
                        );
                        return None;
                    };
                    if bytes[close] == b'{' {
                        self.report(
                            Diagnostic::new(
                                Code::E0309,
                                "unclosed `{` in message",
                                lit.sub_span(i, i + 1),
                                "this `{` is not closed before the next `{`",
                            )
                            .with_help(
                                "close the placeholder with `}`, or write a literal brace as `{{`",
                            ),
                        );
                        return None;
                    }
                    let name = text[i + 1..close].trim();
                    let span = lit.sub_span(i, close + 1);
                    if name.is_empty() {
                        self.report(
                            Diagnostic::new(Code::E0309, "empty placeholder `{}` in message", span, "no field named")
                                .with_help("name a field, e.g. `{proc.comm}`, or write literal braces as `{{}}`"),
                        );
                        ok = false;
                    } else if let Some(field) = FieldId::from_name(name) {
                        if self.check_available(field, span, scope) {
                            if !literal_text.is_empty() {
                                parts.push(TemplatePart::Text(std::mem::take(&mut literal_text)));
                            }
                            parts.push(TemplatePart::Field(field));
                        } else {
                            ok = false;
                        }
                    } else if let Some(d) =
                        super::cond::accounts::value_diagnostic(name, span, "a message")
                    {
                        self.report(d);
                        ok = false;
                    } else if let Some(d) = super::indexed::index_diagnostic(name, span) {
                        self.report(d);
                        ok = false;
                    } else {
                        let help = match (
                            crate::check::cond::path_part(name),
                            literal::closest(name, FieldId::all().map(|f| f.spec().name)),
                        ) {
                            (Some((base, _)), _) => format!(
                                "`{name}` is tested in conditions only: write `{{{}}}`",
                                base.spec().name
                            ),
                            (None, Some(close)) => format!("a field with a similar name exists: `{close}`"),
                            (None, None) => "placeholders name fields, e.g. `{proc.comm}`; write literal braces as `{{` and `}}`".to_string(),
                        };
                        self.report(
                            Diagnostic::new(
                                Code::E0201,
                                format!("unknown field `{name}` in message"),
                                span,
                                "no such field",
                            )
                            .with_help(help),
                        );
                        ok = false;
                    }
                    i = close + 1;
                }
                b'}' => {
                    self.report(
                        Diagnostic::new(
                            Code::E0309,
                            "lone `}` in message",
                            lit.sub_span(i, i + 1),
                            "no `{` opens this",
                        )
                        .with_help("write a literal brace as `}}`"),
                    );
                    ok = false;
                    i += 1;
                }
                _ => {
                    // Copy one whole UTF-8 character.
                    let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
                    literal_text.push_str(&text[i..i + ch_len]);
                    i += ch_len;
                }
            }
        }
        if !literal_text.is_empty() {
            parts.push(TemplatePart::Text(literal_text));
        }
        ok.then_some(Template { parts })
    }
}
