//! Policy tests (`test "name" { on HOOK with F = V, ... expect ACTION [by
//! RULE] [expect traces T, ... | expect no traces] }`): checked into
//! [`PolicyTest`]s for `polc test`. Field values are typed like their fields
//! and must be available on the hook; `by` and `expect traces` must name
//! rules and traces on that hook.

use crate::check::cond::Scope;
use crate::check::hooks::{FieldId, FieldType};
use crate::check::literal;
use crate::check::policy::{Action, PolicyTest, RuleKind, Value};
use crate::check::rules::RuleOutcome;
use crate::check::Checker;
use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::ast;

fn action_of(keyword: ast::ActionKeyword) -> Action {
    match keyword {
        ast::ActionKeyword::Allow => Action::Allow,
        ast::ActionKeyword::Audit => Action::Audit,
        ast::ActionKeyword::Deny => Action::Deny,
        ast::ActionKeyword::Kill => Action::Kill,
    }
}

impl<'a> Checker<'a> {
    /// Checks every test block; `None` when any has an error.
    pub(super) fn check_tests(
        &mut self,
        file: &'a ast::File,
        rules: &[RuleOutcome<'a>],
    ) -> Option<Vec<PolicyTest>> {
        let mut tests = Vec::new();
        let mut ok = true;
        for decl in &file.decls {
            if let ast::Decl::Test(test) = decl {
                match self.check_test(test, rules) {
                    Some(test) => tests.push(test),
                    None => ok = false,
                }
            }
        }
        ok.then_some(tests)
    }

    fn check_test(
        &mut self,
        decl: &ast::TestDecl,
        rules: &[RuleOutcome<'a>],
    ) -> Option<PolicyTest> {
        let name = &decl.name.value;
        let mut on: Option<(&ast::Name, &[ast::FieldValue], Span)> = None;
        let mut expect: Option<(ast::ActionKeyword, Option<&ast::Name>, Span)> = None;
        let mut traces: Option<(&[ast::Name], Span)> = None;
        let mut ok = true;
        for clause in &decl.clauses {
            let span = clause.span();
            let first = match clause {
                ast::TestClause::On { hook, fields, .. } => on
                    .replace((hook, fields, span))
                    .map(|(_, _, s)| (s, "`on`")),
                ast::TestClause::Expect { action, by, .. } => expect
                    .replace((*action, by.as_ref(), span))
                    .map(|(_, _, s)| (s, "`expect`")),
                ast::TestClause::ExpectTraces { traces: names, .. } => traces
                    .replace((names, span))
                    .map(|(_, s)| (s, "`expect traces`")),
            };
            if let Some((first_span, what)) = first {
                self.report(
                    Diagnostic::new(
                        Code::E0308,
                        format!("test \"{name}\" has more than one {what}"),
                        span,
                        "again here",
                    )
                    .with_label(first_span, "first here")
                    .with_help("a test is one event with one expected outcome; write another test for another case"),
                );
                ok = false;
            }
        }
        let Some((hook_name, fields, _)) = on else {
            self.report_missing(
                decl.span,
                Diagnostic::new(
                    Code::E0307,
                    format!("test \"{name}\" has no `on` clause"),
                    decl.name.span,
                    "no event given",
                )
                .with_help(
                    "describe the event: `on exec with proc.uid = 1000, exec.path = \"/bin/sh\"`",
                ),
            );
            return None;
        };
        if expect.is_none() {
            self.report_missing(
                decl.span,
                Diagnostic::new(
                    Code::E0314,
                    format!("test \"{name}\" expects nothing"),
                    decl.name.span,
                    "no `expect` clause",
                )
                .with_help("add `expect allow|audit|deny|kill [by RULE]`"),
            );
            ok = false;
        }
        let hook = self.resolve_hook(hook_name)?;
        let scope = Scope::on_hook(hook, hook_name.span);
        let mut values: Vec<(FieldId, Value)> = Vec::new();
        let mut value_spans: Vec<Span> = Vec::new();
        let mut cgroup: Option<(String, Span)> = None;
        for field_value in fields {
            let (field_name, value) = (&field_value.field, &field_value.value);
            if field_name.text == CGROUP_KEY {
                match self.test_cgroup(field_value, cgroup.as_ref().map(|(_, s)| *s)) {
                    Some(path) => cgroup = Some((path, field_name.span)),
                    None => ok = false,
                }
                continue;
            }
            let Some(field) = FieldId::from_name(&field_name.text) else {
                if let Some(d) = super::cond::accounts::value_diagnostic(
                    &field_name.text,
                    field_name.span,
                    "a test's event",
                ) {
                    self.report(d);
                    ok = false;
                    continue;
                }
                if let Some(d) = super::indexed::index_diagnostic(&field_name.text, field_name.span)
                {
                    self.report(d);
                    ok = false;
                    continue;
                }
                let help =
                    match literal::closest(&field_name.text, FieldId::all().map(|f| f.spec().name))
                    {
                        Some(close) => format!("a field with a similar name exists: `{close}`"),
                        None => "the fields are listed in docs/language.md".to_string(),
                    };
                self.report(
                    Diagnostic::new(
                        Code::E0201,
                        format!("unknown field `{}`", field_name.text),
                        field_name.span,
                        "no such field",
                    )
                    .with_help(help),
                );
                ok = false;
                continue;
            };
            if !self.check_available(field, field_name.span, &scope) {
                ok = false;
                continue;
            }
            if let Some(position) = values.iter().position(|(f, _)| *f == field) {
                self.report(
                    Diagnostic::new(
                        Code::E0315,
                        format!("`{}` is given twice", field_name.text),
                        field_name.span,
                        "again here",
                    )
                    .with_label(value_spans[position], "first here")
                    .with_help("an event has one value per field: remove one"),
                );
                ok = false;
                continue;
            }
            match self.test_value(field, field_name.span, value, &scope) {
                Some(v) => {
                    values.push((field, v));
                    value_spans.push(field_name.span);
                }
                None => ok = false,
            }
        }
        if let Some((path, span)) = &cgroup {
            ok &= self.derive_container(&mut values, &value_spans, path, *span);
        }
        derive_counted(&mut values);
        let (expect_action, by, _) = expect?;
        let expected = action_of(expect_action);
        let hook_rules = || rules.iter().filter(move |r| r.hook == Some(hook));
        let mut expect_rule = None;
        if let Some(by) = by {
            match hook_rules().find(|r| r.kind == RuleKind::Rule && r.decl.name.text == by.text) {
                Some(rule) => {
                    if let Some(action) = rule.action {
                        if action != expected {
                            self.report(
                                Diagnostic::new(
                                    Code::E0312,
                                    format!(
                                        "test expects `{}` by rule `{}`, whose action is `{}`",
                                        expected.keyword(),
                                        by.text,
                                        action.keyword()
                                    ),
                                    by.span,
                                    format!("this rule would `{}`", action.keyword()),
                                )
                                .with_label(rule.decl.name.span, "the rule")
                                .with_help(format!(
                                    "expect `{}`, or name the rule that should decide",
                                    action.keyword()
                                )),
                            );
                            ok = false;
                        }
                    }
                    expect_rule = Some(rule.id);
                }
                None => {
                    let other = rules.iter().find(|r| r.decl.name.text == by.text);
                    let note = match other {
                        Some(r) if r.kind == RuleKind::Trace => {
                            Some(format!("`{}` is a trace; traces never decide", by.text))
                        }
                        Some(r) => r.hook.map(|h| {
                            format!(
                                "rule `{}` is on `{}`, the test on `{}`",
                                by.text,
                                h.name(),
                                hook.name()
                            )
                        }),
                        None => None,
                    };
                    let candidates: Vec<&str> = hook_rules()
                        .filter(|r| r.kind == RuleKind::Rule)
                        .map(|r| r.decl.name.text.as_str())
                        .collect();
                    let help = match literal::closest(&by.text, candidates.iter().copied()) {
                        Some(close) => format!("a rule with a similar name exists: `{close}`"),
                        None if candidates.is_empty() => format!("no rule is on `{}`", hook.name()),
                        None => format!(
                            "the rules on `{}` are {}",
                            hook.name(),
                            quote_list(&candidates)
                        ),
                    };
                    let mut diagnostic = Diagnostic::new(
                        Code::E0311,
                        format!("no rule `{}` on `{}`", by.text, hook.name()),
                        by.span,
                        "not a rule on the test's hook",
                    )
                    .with_help(help);
                    if let Some(note) = note {
                        diagnostic = diagnostic.with_note(note);
                    }
                    self.report(diagnostic);
                    ok = false;
                }
            }
        }
        let mut expect_traces = None;
        if let Some((names, _)) = traces {
            let mut ids = Vec::new();
            for trace in names {
                match hook_rules()
                    .find(|r| r.kind == RuleKind::Trace && r.decl.name.text == trace.text)
                {
                    Some(r) => ids.push(r.id),
                    None => {
                        let candidates: Vec<&str> = hook_rules()
                            .filter(|r| r.kind == RuleKind::Trace)
                            .map(|r| r.decl.name.text.as_str())
                            .collect();
                        let help = match literal::closest(&trace.text, candidates.iter().copied()) {
                            Some(close) => format!("a trace with a similar name exists: `{close}`"),
                            None if candidates.is_empty() => format!(
                                "no trace is on `{}`: write `expect no traces`",
                                hook.name()
                            ),
                            None => format!(
                                "the traces on `{}` are {}",
                                hook.name(),
                                quote_list(&candidates)
                            ),
                        };
                        self.report(
                            Diagnostic::new(
                                Code::E0313,
                                format!("no trace `{}` on `{}`", trace.text, hook.name()),
                                trace.span,
                                "not a trace on the test's hook",
                            )
                            .with_help(help),
                        );
                        ok = false;
                    }
                }
            }
            ids.sort_unstable();
            ids.dedup();
            expect_traces = Some(ids);
        }
        ok.then(|| PolicyTest {
            name: name.clone(),
            hook,
            fields: values,
            expect: expected,
            expect_rule,
            expect_traces,
            span: decl.span,
        })
    }

    /// The path of a test's `cgroup = "PATH"`; `first`: where an earlier
    /// one was given.
    fn test_cgroup(&mut self, given: &ast::FieldValue, first: Option<Span>) -> Option<String> {
        let span = given.field.span;
        if let Some(first) = first {
            self.report(
                Diagnostic::new(
                    Code::E0315,
                    format!("`{CGROUP_KEY}` is given twice"),
                    span,
                    "again here",
                )
                .with_label(first, "first here")
                .with_help("an event has one value per field: remove one"),
            );
            return None;
        }
        match &given.value {
            ast::Operand::Str(lit) => Some(lit.value.clone()),
            other => {
                self.report(
                    Diagnostic::new(
                        Code::E0207,
                        format!("mismatched types: `{CGROUP_KEY}` is a cgroup path (a string)"),
                        other.span(),
                        "expected a string",
                    )
                    .with_label(
                        span,
                        "the task's cgroup, e.g. \"/system.slice/docker-<id>.scope\"",
                    ),
                );
                None
            }
        }
    }

    /// Adds the container context a task in cgroup `path` has (what
    /// [`crate::container::from_path`] says, the reference the kernel's walk
    /// is tested against) to a test's event; a container field the test
    /// also gives must have that value (E0270). False on a conflict.
    fn derive_container(
        &mut self,
        values: &mut Vec<(FieldId, Value)>,
        value_spans: &[Span],
        path: &str,
        span: Span,
    ) -> bool {
        let mut ok = true;
        for (field, value) in crate::container::from_path(path).field_values() {
            let name = field.spec().name;
            match values.iter().position(|(f, _)| *f == field) {
                Some(at) if values[at].1 != value => {
                    let shown = |v: &Value| match v {
                        Value::Str(s) => format!("\"{}\"", s.escape_debug()),
                        Value::Bool(b) => b.to_string(),
                        other => format!("{other:?}"),
                    };
                    self.report(
                        Diagnostic::new(
                            Code::E0270,
                            format!(
                                "`{name}` is given {}, but the test's cgroup says {}",
                                shown(&values[at].1),
                                shown(&value)
                            ),
                            value_spans[at],
                            "given here",
                        )
                        .with_label(span, "the cgroup")
                        .with_help(format!(
                            "leave `{name}` out (the cgroup decides it, as in the kernel), or give \
                             no cgroup"
                        )),
                    );
                    ok = false;
                }
                Some(_) => {}
                None => values.push((field, value)),
            }
        }
        ok
    }

    /// A test's value for `field`, typed like the field.
    fn test_value(
        &mut self,
        field: FieldId,
        field_span: Span,
        value: &ast::Operand,
        scope: &Scope,
    ) -> Option<Value> {
        let spec = field.spec();
        match (spec.ty, value) {
            (FieldType::Int { bits }, ast::Operand::Int { text, span }) => self
                .int_literal(text, *span, Some((spec.name, bits)))
                .map(Value::Int),
            (FieldType::Int { bits }, ast::Operand::Name(name))
                if literal::constant(&name.text).is_some() =>
            {
                let value = literal::constant(&name.text)?;
                (value <= literal::int_max(bits)).then_some(Value::Int(value))
            }
            (FieldType::Str { max }, ast::Operand::Str(lit)) => {
                self.check_str_len(&lit.value, lit.span, field, max, None, scope)?;
                Some(Value::Str(lit.value.clone()))
            }
            (FieldType::Ip, ast::Operand::Ip { text, span }) => {
                let (addr, prefix) = self.ip_literal(text, *span)?;
                let full = if addr.is_ipv4() { 32 } else { 128 };
                if prefix != full {
                    self.report(
                        Diagnostic::new(
                            Code::E0316,
                            format!("`{}` is given a network", spec.name),
                            *span,
                            "a network, not an address",
                        )
                        .with_help(format!("an event carries one address, e.g. `{addr}`")),
                    );
                    return None;
                }
                Some(Value::Ip { addr, prefix })
            }
            (FieldType::Bool, ast::Operand::Bool { value, .. }) => Some(Value::Bool(*value)),
            (ty, other) => {
                let found = match other {
                    ast::Operand::Name(_) => "a name",
                    ast::Operand::Int { .. } => "an integer",
                    ast::Operand::Ip { .. } => "an IP address",
                    ast::Operand::Str(_) => "a string",
                    ast::Operand::Bool { .. } => "a bool",
                    ast::Operand::List { .. } => "a list",
                };
                self.report(
                    Diagnostic::new(
                        Code::E0207,
                        format!(
                            "mismatched types: `{}` is {}, found {found}",
                            spec.name,
                            crate::check::article(ty.kind_name())
                        ),
                        other.span(),
                        format!("expected {}", crate::check::article(ty.kind_name())),
                    )
                    .with_label(field_span, format!("this field is {ty}")),
                );
                None
            }
        }
    }
}

/// The key of a test's event that gives the task's cgroup v2 path (as
/// `/proc/PID/cgroup` shows it after `0::`), from which the container
/// context fields are derived.
pub const CGROUP_KEY: &str = "cgroup";

fn quote_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A test's event that gives elements of a positional field but not the
/// field counting them gets the count the kernel would report with them
/// (the highest position given, plus one); `exec.cmdline`, when not given,
/// is made of the `exec.args[N]` given, joined as the kernel joins them.
fn derive_counted(values: &mut Vec<(FieldId, Value)>) {
    use crate::check::hooks::{indexed_spec, Index};
    let mut counts: Vec<(FieldId, u16)> = Vec::new();
    for (field, _) in values.iter() {
        let Some((family, Index::At(n))) = field.element() else {
            continue;
        };
        let Some(count) = indexed_spec(family)
            .and_then(|spec| spec.count)
            .and_then(FieldId::from_name)
        else {
            continue;
        };
        match counts.iter_mut().find(|(c, _)| *c == count) {
            Some((_, max)) => *max = (*max).max(n + 1),
            None => counts.push((count, n + 1)),
        }
    }
    for (count, n) in counts {
        if !values.iter().any(|(f, _)| *f == count) {
            values.push((count, Value::Int(u64::from(n))));
        }
    }
    let (Some(cmdline), Some(argc)) = (
        FieldId::from_name("exec.cmdline"),
        FieldId::from_name("exec.argc"),
    ) else {
        return;
    };
    let argc = values.iter().find_map(|(f, v)| match v {
        Value::Int(n) if *f == argc => Some(*n),
        _ => None,
    });
    if values.iter().any(|(f, _)| *f == cmdline) {
        return;
    }
    let Some(argc) = argc else {
        return;
    };
    let args: Vec<String> = (0..argc.min(u64::from(crate::check::hooks::EXEC_ARGS_MAX)))
        .map(|n| {
            let name = format!("exec.args[{n}]");
            FieldId::from_name(&name)
                .and_then(|f| values.iter().find(|(g, _)| *g == f))
                .and_then(|(_, v)| match v {
                    Value::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default()
        })
        .collect();
    if args.iter().any(|a| !a.is_empty()) {
        values.push((cmdline, Value::Str(args.join(" "))));
    }
}
