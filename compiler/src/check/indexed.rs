//! Indexed fields (`exec.args[1]`, `exec.env["LD_PRELOAD"]`,
//! `exec.args[*]`, `proc.ancestors[2].comm`): why a written index names no
//! element (E0260), and `[*]` where one value is needed (E0261).
//!
//! The table side (which fields are indexed, their bounds, each element's
//! id) is [`crate::check::hooks::resolve_indexed`]; `FIELD[*]` in a
//! condition is expanded by `cond`.

use crate::check::hooks::{indexed_spec, resolve_indexed, split_indexed, IndexError, IndexKind};
use crate::diag::{Code, Diagnostic};
use crate::span::Span;

/// How an indexed field's elements are written, for help lines.
fn written(field: crate::check::hooks::FieldId) -> String {
    let spec = field.spec();
    match indexed_spec(field).map(|s| s.kind) {
        Some(IndexKind::Int { first, bound }) => format!(
            "`{}` takes a position from {first} to {} (or `*` in a test: any of them)",
            spec.name,
            bound - 1
        ),
        Some(IndexKind::Key { max_len }) => format!(
            "`{}` takes a quoted name of at most {max_len} letters, digits or `_`",
            spec.name
        ),
        None => format!("`{}`", spec.name),
    }
}

/// The diagnostic for a name with an index that names no element, or
/// `None` when the name has no index (or names an element).
pub(super) fn index_diagnostic(name: &str, span: Span) -> Option<Diagnostic> {
    let (base, index, member) = split_indexed(name)?;
    let error = resolve_indexed(name).err()?;
    let diagnostic = match error {
        IndexError::Unknown => return None,
        IndexError::NotIndexed(field) => Diagnostic::new(
            Code::E0260,
            format!("`{}` is not an indexed field", field.spec().name),
            span,
            "an index on a field with one value",
        )
        .with_help(format!("write `{}` without `[{index}]`", field.spec().name)),
        IndexError::OutOfRange { field, bound } => Diagnostic::new(
            Code::E0260,
            format!("index {index} is out of range for `{}`", field.spec().name),
            span,
            match indexed_spec(field).map(|s| s.kind) {
                Some(IndexKind::Int { first, .. }) if first > 0 => {
                    format!("positions {first} to {} are read", bound - 1)
                }
                _ => format!("at most {bound} elements are read"),
            },
        )
        .with_help(format!(
            "{}; the bound is fixed so the kernel's work is bounded",
            written(field)
        )),
        IndexError::KeyOnPositional(field) => Diagnostic::new(
            Code::E0260,
            format!("`{base}` is indexed by position, not by name"),
            span,
            "a name where a number is expected",
        )
        .with_help(written(field)),
        IndexError::PositionOnKeyed(field) => Diagnostic::new(
            Code::E0260,
            format!("`{base}` is indexed by name, not by position"),
            span,
            "a number where a quoted name is expected",
        )
        .with_help(written(field)),
        IndexError::BadPosition(field) => Diagnostic::new(
            Code::E0260,
            format!("invalid index `{index}` for `{base}`"),
            span,
            "not a decimal position",
        )
        .with_help(written(field)),
        IndexError::BadKey { field, why } => Diagnostic::new(
            Code::E0260,
            format!("invalid name {index} for `{base}`"),
            span,
            why,
        )
        .with_help(written(field)),
        IndexError::Any(_) => Diagnostic::new(
            Code::E0261,
            format!("`{base}[*]{member}` is not one value"),
            span,
            "any element: only a test can use it",
        )
        .with_help(format!(
            "name one element, e.g. `{base}[1]{member}`, or test them all in a condition: `{base}[*]{member} == ...`"
        )),
    };
    Some(diagnostic)
}

impl crate::check::Checker<'_> {
    /// W0060: a rule reads a field that a backend of its hook cannot read
    /// (the exec's LSM hook runs before the new program's memory exists), so
    /// the hook runs on its next backend for the whole policy; reported once
    /// per hook, at the first rule that makes it so.
    pub(super) fn lint_unreadable(&mut self, rules: &[crate::check::policy::CheckedRule]) {
        use crate::check::hooks::{FieldSource, Hook};
        let mut seen: Vec<Hook> = Vec::new();
        for rule in rules {
            if seen.contains(&rule.hook) {
                continue;
            }
            let mut fields = Vec::new();
            if let Some(cond) = &rule.cond {
                cond_fields(cond, &mut fields);
            }
            fields.extend(rule.captured_fields());
            for backend in rule.hook.spec().backends {
                let unreadable_here = |field: &&crate::check::hooks::FieldId| {
                    backend
                        .attach
                        .iter()
                        .any(|attach| field.source(attach) == Some(FieldSource::Unreadable))
                };
                // Name an element the rule wrote before a count `[*]` added.
                let unreadable = fields
                    .iter()
                    .filter(unreadable_here)
                    .find(|field| field.element().is_some())
                    .or_else(|| fields.iter().find(unreadable_here));
                let Some(field) = unreadable else {
                    continue;
                };
                let next: Vec<&str> = rule
                    .hook
                    .spec()
                    .backends
                    .iter()
                    .filter(|b| b.kind != backend.kind)
                    .map(|b| b.kind.name())
                    .collect();
                self.report(
                    Diagnostic::new(
                        Code::W0060,
                        format!(
                            "`{}` is not read by the {} backend of `{}`: the hook runs on {}",
                            field.spec().name,
                            backend.kind.name(),
                            rule.hook.name(),
                            next.join(" or ")
                        ),
                        rule.name_span,
                        format!("this rule reads `{}`", field.spec().name),
                    )
                    .with_note(format!(
                        "what `deny` means there: {}",
                        rule.hook
                            .spec()
                            .backends
                            .iter()
                            .find(|b| b.kind != backend.kind)
                            .map_or("nothing", |b| b.deny_means)
                    ))
                    .with_help(
                        "the new program's arguments and environment exist in its own memory \
                         only once the exec cannot fail: they are read there, where the caller \
                         can no longer change them; to accept this for the policy, declare \
                         `allow W0060 \"why\"`",
                    ),
                );
                seen.push(rule.hook);
                break;
            }
        }
    }
}

fn cond_fields(expr: &crate::check::policy::Expr, out: &mut Vec<crate::check::hooks::FieldId>) {
    use crate::check::policy::Expr;
    match expr {
        Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| cond_fields(e, out)),
        Expr::Not(inner) => cond_fields(inner, out),
        Expr::Test(test) => out.push(test.field),
    }
}
