//! Rules and traces: the shape of their bodies (one `on`, at most one
//! `when`, one action for a rule, one `emit` for a trace), their hook, their
//! condition (through `cond`), message (through `template`) and emitted
//! fields.

use crate::check::cond::Scope;
use crate::check::hooks::{FieldId, Hook, HOOKS};
use crate::check::literal;
use crate::check::policy::{Action, CheckedRule, RuleKind};
use crate::check::Checker;
use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::ast;

/// What checking one rule or trace produced; tests refer to rules by name
/// even when a rule has errors.
pub(super) struct RuleOutcome<'a> {
    pub decl: &'a ast::RuleDecl,
    pub id: u32,
    pub kind: RuleKind,
    pub hook: Option<Hook>,
    pub action: Option<Action>,
    /// `None` when the rule has errors.
    pub checked: Option<CheckedRule>,
}

impl<'a> Checker<'a> {
    /// Checks every rule and trace, in file order.
    pub(super) fn check_rules(&mut self, file: &'a ast::File) -> Vec<RuleOutcome<'a>> {
        let mut outcomes = Vec::new();
        for decl in &file.decls {
            if let ast::Decl::Rule(rule) = decl {
                let id = u32::try_from(outcomes.len()).unwrap_or(u32::MAX);
                outcomes.push(self.check_rule(rule, id));
            }
        }
        outcomes
    }

    fn check_rule(&mut self, decl: &'a ast::RuleDecl, id: u32) -> RuleOutcome<'a> {
        let kind = match decl.keyword {
            ast::RuleKeyword::Rule => RuleKind::Rule,
            ast::RuleKeyword::Trace => RuleKind::Trace,
        };
        let what = match kind {
            RuleKind::Rule => "rule",
            RuleKind::Trace => "trace",
        };
        let mut on: Option<(&ast::Name, Span)> = None;
        let mut when: Option<(&ast::Cond, Span)> = None;
        let mut action: Option<(ast::ActionKeyword, Option<&ast::StrLit>, Span)> = None;
        let mut emit: Option<(&[ast::Name], Span)> = None;
        let mut ok = true;
        for clause in &decl.clauses {
            let span = clause.span();
            let first = match clause {
                ast::RuleClause::On { hook, .. } => {
                    on.replace((hook, span)).map(|(_, s)| (s, "on"))
                }
                ast::RuleClause::When { cond, .. } => {
                    when.replace((cond, span)).map(|(_, s)| (s, "when"))
                }
                ast::RuleClause::Action {
                    action: a, message, ..
                } => {
                    if kind == RuleKind::Trace {
                        self.report(
                            Diagnostic::new(
                                Code::E0304,
                                format!("trace `{}` has an action", decl.name.text),
                                span,
                                format!("`{}` in a trace", a.as_str()),
                            )
                            .with_label(decl.keyword_span, "this is a trace")
                            .with_help(
                                "traces only record fields with `emit`; to decide, write a `rule`",
                            ),
                        );
                        ok = false;
                        continue;
                    }
                    action
                        .replace((*a, message.as_ref(), span))
                        .map(|(_, _, s)| (s, "action"))
                }
                ast::RuleClause::Emit { fields, .. } => {
                    if kind == RuleKind::Rule {
                        self.report(
                            Diagnostic::new(
                                Code::E0303,
                                format!("rule `{}` has an `emit` clause", decl.name.text),
                                span,
                                "`emit` in a rule",
                            )
                            .with_label(decl.keyword_span, "this is a rule")
                            .with_help("record fields with a `trace`, or name them in the rule's message: `audit \"... {proc.pid}\"`"),
                        );
                        ok = false;
                        continue;
                    }
                    emit.replace((fields, span)).map(|(_, s)| (s, "emit"))
                }
            };
            if let Some((first_span, clause_name)) = first {
                let help = match clause_name {
                    "when" => "combine the conditions: `when A and B`",
                    "emit" => "list every field in one `emit a, b, c`",
                    "action" => "a rule has one action",
                    _ => "a rule or trace is on one hook; write one per hook",
                };
                self.report(
                    Diagnostic::new(
                        Code::E0308,
                        format!(
                            "{what} `{}` has more than one {}",
                            decl.name.text,
                            if clause_name == "action" {
                                "action".to_string()
                            } else {
                                format!("`{clause_name}`")
                            }
                        ),
                        span,
                        "again here",
                    )
                    .with_label(first_span, "first here")
                    .with_help(help),
                );
                ok = false;
            }
        }
        let hook = match on {
            None => {
                self.report_missing(
                    decl.span,
                    Diagnostic::new(
                        Code::E0307,
                        format!("{what} `{}` has no `on` clause", decl.name.text),
                        decl.name.span,
                        "no hook given",
                    )
                    .with_help(format!(
                        "start the body with `on HOOK`; the hooks are {}",
                        hook_list()
                    )),
                );
                None
            }
            Some((name, _)) => self.resolve_hook(name),
        };
        if kind == RuleKind::Rule && action.is_none() {
            self.report_missing(
                decl.span,
                Diagnostic::new(
                    Code::E0306,
                    format!("rule `{}` has no action", decl.name.text),
                    decl.name.span,
                    "no `allow`, `audit`, `deny` or `kill`",
                )
                .with_help("add an action: `allow`, `audit`, `deny` or `kill`, e.g. `deny \"message\"`; to only record fields, write a `trace` with `emit`"),
            );
            ok = false;
        }
        if kind == RuleKind::Trace && emit.is_none() {
            self.report_missing(
                decl.span,
                Diagnostic::new(
                    Code::E0305,
                    format!("trace `{}` has no `emit` clause", decl.name.text),
                    decl.name.span,
                    "records nothing",
                )
                .with_help("add the fields to record: `emit proc.pid, proc.comm`"),
            );
            ok = false;
        }
        let checked_action = match kind {
            RuleKind::Trace => Some(Action::Trace),
            RuleKind::Rule => action.map(|(a, _, _)| match a {
                ast::ActionKeyword::Allow => Action::Allow,
                ast::ActionKeyword::Audit => Action::Audit,
                ast::ActionKeyword::Deny => Action::Deny,
                ast::ActionKeyword::Kill => Action::Kill,
            }),
        };
        if let Some((ast::ActionKeyword::Allow, Some(message), span)) = action {
            self.report(
                Diagnostic::new(
                    Code::W0004,
                    format!(
                        "rule `{}` allows, so its message is never shown",
                        decl.name.text
                    ),
                    message.span,
                    "never shown",
                )
                .with_label(span, "`allow` produces no event")
                .with_help("remove the message, or use `audit` to allow and report"),
            );
        }
        let Some(hook) = hook else {
            // Still look for unknown names in the condition.
            if let Some((cond, _)) = when {
                self.check_condition_without_hook(cond);
            }
            return RuleOutcome {
                decl,
                id,
                kind,
                hook: None,
                action: checked_action,
                checked: None,
            };
        };
        let on_span = on.map(|(_, span)| span).unwrap_or(decl.name.span);
        let mut scope = Scope::on_hook(hook, on_span);
        let cond = match when {
            Some((cond, _)) => {
                let lowered = self.lower_condition(cond, &mut scope);
                ok &= lowered.is_some();
                lowered
            }
            None => None,
        };
        let message = match action {
            Some((a, Some(lit), _)) if a != ast::ActionKeyword::Allow => {
                let template = self.check_template(lit, &scope);
                ok &= template.is_some();
                template
            }
            _ => None,
        };
        let mut emitted: Vec<FieldId> = Vec::new();
        if let Some((fields, _)) = emit {
            let mut first_spans: Vec<Span> = Vec::new();
            for name in fields {
                let Some(field) = FieldId::from_name(&name.text) else {
                    if let Some(d) =
                        super::cond::accounts::value_diagnostic(&name.text, name.span, "`emit`")
                    {
                        self.report(d);
                        ok = false;
                        continue;
                    }
                    if let Some(d) = super::indexed::index_diagnostic(&name.text, name.span) {
                        self.report(d);
                        ok = false;
                        continue;
                    }
                    let help = match (
                        crate::check::cond::path_part(&name.text),
                        literal::closest(&name.text, FieldId::all().map(|f| f.spec().name)),
                    ) {
                        (Some((base, _)), _) => format!(
                            "`{}` is tested in conditions only: emit `{}`",
                            name.text,
                            base.spec().name
                        ),
                        (None, Some(close)) => {
                            format!("a field with a similar name exists: `{close}`")
                        }
                        (None, None) => "the fields are listed in docs/language.md".to_string(),
                    };
                    self.report(
                        Diagnostic::new(
                            Code::E0201,
                            format!("unknown field `{}`", name.text),
                            name.span,
                            "no such field",
                        )
                        .with_help(help),
                    );
                    ok = false;
                    continue;
                };
                if !self.check_available(field, name.span, &scope) {
                    ok = false;
                    continue;
                }
                if let Some(position) = emitted.iter().position(|f| *f == field) {
                    self.report(
                        Diagnostic::new(
                            Code::E0310,
                            format!("`{}` is emitted twice", name.text),
                            name.span,
                            "again here",
                        )
                        .with_label(first_spans[position], "first here")
                        .with_help("remove the repetition"),
                    );
                    ok = false;
                    continue;
                }
                emitted.push(field);
                first_spans.push(name.span);
            }
        }
        let checked = ok.then(|| CheckedRule {
            id,
            name: decl.name.text.clone(),
            kind,
            hook,
            cond,
            action: checked_action.unwrap_or(Action::Allow),
            message,
            emit: emitted,
            span: decl.span,
            name_span: decl.name.span,
            line: self.line_of(decl.span.start),
        });
        RuleOutcome {
            decl,
            id,
            kind,
            hook: Some(hook),
            action: checked_action,
            checked,
        }
    }

    /// Resolves a hook name, reporting an unknown one.
    pub(super) fn resolve_hook(&mut self, name: &ast::Name) -> Option<Hook> {
        if let Some(hook) = Hook::from_name(&name.text) {
            return Some(hook);
        }
        let help = match literal::closest(&name.text, HOOKS.iter().map(|h| h.name)) {
            Some(close) => format!("did you mean `{close}`? the hooks are {}", hook_list()),
            None => format!("the hooks are {}", hook_list()),
        };
        self.report(
            Diagnostic::new(
                Code::E0301,
                format!("unknown hook `{}`", name.text),
                name.span,
                "no such hook",
            )
            .with_help(help),
        );
        None
    }

    /// Checks names and types of a condition whose rule has no valid hook.
    fn check_condition_without_hook(&mut self, cond: &ast::Cond) {
        let decl = ast::MacroDecl {
            name: ast::Name {
                text: String::new(),
                span: Span::default(),
            },
            cond: cond.clone(),
            span: Span::default(),
        };
        self.check_macro_alone(&decl);
    }
}

/// "`exec`, `file.open`, ..." from the table.
pub(super) fn hook_list() -> String {
    HOOKS
        .iter()
        .map(|h| format!("`{}`", h.name))
        .collect::<Vec<_>>()
        .join(", ")
}
