//! User and group names where ids are written (`proc.user == "root"`).
//!
//! A name is resolved where the policy is enforced: by polrt, from the
//! node's user and group databases, when it loads the policy (and by `polc
//! test` from the files it is given). The checker makes a test on a name a
//! comparison of the id field with the field holding the id the name has
//! there ([`hooks::account_id_field`]): `proc.user == "root"` is `proc.uid
//! == account.uid["root"]`, `proc.user in ["a", "b"]` one such comparison
//! per name, or-ed.

use super::*;

/// The name fields: `(name field, id field, group database)`.
pub(crate) const ACCOUNT_NAMES: &[(&str, &str, bool)] = &[
    ("proc.user", "proc.uid", false),
    ("proc.euser", "proc.euid", false),
    ("proc.loginuser", "proc.auid", false),
    ("proc.group", "proc.gid", true),
    ("proc.egroup", "proc.egid", true),
    ("file.user", "file.uid", false),
    ("file.group", "file.gid", true),
    ("setuid.user", "setuid.uid", false),
    ("setuid.euser", "setuid.euid", false),
    ("setgid.group", "setgid.gid", true),
    ("setgid.egroup", "setgid.egid", true),
];

/// Falco's user and group fields, and what they are here.
const FALCO_FIELDS: &[(&str, &str)] = &[
    ("user.name", "proc.user"),
    ("user.uid", "proc.uid"),
    ("user.loginname", "proc.loginuser"),
    ("user.loginuid", "proc.auid"),
    ("group.name", "proc.group"),
    ("group.gid", "proc.gid"),
];

/// What Falco's field `name` (`user.name`) is here.
pub(crate) fn falco_field(name: &str) -> Option<&'static str> {
    FALCO_FIELDS
        .iter()
        .find(|(falco, _)| *falco == name)
        .map(|(_, ours)| *ours)
}

/// The id field and database of a name field (`proc.user`).
pub(crate) fn account_name(name: &str) -> Option<(FieldId, bool)> {
    ACCOUNT_NAMES
        .iter()
        .find(|(field, _, _)| *field == name)
        .and_then(|(_, id, group)| FieldId::from_name(id).map(|f| (f, *group)))
}

/// Longest user or group name (what `useradd` and `groupadd` accept).
pub const ACCOUNT_NAME_MAX: usize = 32;

/// Why `name` can be no user or group name, if it cannot.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        Some("the name is empty".into())
    } else if name.len() > ACCOUNT_NAME_MAX {
        Some(format!("names are at most {ACCOUNT_NAME_MAX} bytes"))
    } else if name
        .chars()
        .any(|c| c == ':' || c == ',' || c.is_whitespace() || c.is_control())
    {
        Some("names have no `:`, `,`, white space or control characters".into())
    } else {
        None
    }
}

impl Checker<'_> {
    /// `proc.user OP value`: `==`, `!=` with a string, `in`, `not in` with
    /// a list of strings.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn lower_account(
        &mut self,
        id_field: FieldId,
        group: bool,
        name: &ast::Name,
        op: ast::CmpOp,
        op_span: Span,
        rhs: &ast::Operand,
        span: Span,
        scope: &mut Scope,
    ) -> Option<Expr> {
        use ast::CmpOp as Op;
        if !self.check_available(id_field, name.span, scope) {
            return None;
        }
        let what = if group { "group" } else { "user" };
        if let ast::Operand::Name(other) = rhs {
            let other_id = account_name(&other.text)
                .map(|(id, _)| id)
                .or_else(|| FieldId::from_name(&other.text));
            if let Some(other_id) = other_id {
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::E0214,
                        format!(
                            "`{}` compared with a field: {what} names compare with strings",
                            name.text
                        ),
                        other.span,
                        "a field",
                    )
                    .with_label(name.span, format!("a {what} name"))
                    .with_help(format!(
                        "compare the ids: `{} {} {}`",
                        id_field.spec().name,
                        op.as_str(),
                        other_id.spec().name
                    )),
                );
                return None;
            }
        }
        if !matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn) {
            self.report_in(
                scope,
                Diagnostic::new(
                    Code::E0206,
                    format!("`{}` is not defined for `{}`", op.as_str(), name.text),
                    op_span,
                    format!("not defined for {what} names"),
                )
                .with_help(format!(
                    "`{}` supports `==`, `!=`, `in`, `not in`; to compare ids, use `{}`",
                    name.text,
                    id_field.spec().name
                )),
            );
            return None;
        }
        let mut names: Vec<(String, Span)> = Vec::new();
        match (
            op,
            self.classify_rhs(rhs, matches!(op, Op::In | Op::NotIn), scope),
        ) {
            (_, Rhs::Invalid) => return None,
            (Op::Eq | Op::Ne, Rhs::Str(lit)) => names.push((lit.value.clone(), lit.span)),
            (Op::In | Op::NotIn, Rhs::List(index, list_span)) => {
                let info = &self.list_infos[index];
                if info.file.is_some() {
                    self.report_in(
                        scope,
                        Diagnostic::new(
                            Code::E0282,
                            format!("{what} names from a list file"),
                            list_span,
                            "a list file",
                        )
                        .with_help(format!(
                            "write the names in the policy (`{} in [\"a\", \"b\"]`), or the ids in the file (`{} in LIST`)",
                            name.text,
                            id_field.spec().name
                        )),
                    );
                    return None;
                }
                if info.kind != Some(ListKind::Str) {
                    self.report_in(
                        scope,
                        Diagnostic::new(
                            Code::E0208,
                            format!(
                                "`{}` compares with {what} names: a list of strings",
                                name.text
                            ),
                            list_span,
                            "not a list of strings",
                        )
                        .with_help(format!(
                            "to compare ids, write `{} in [...]`",
                            id_field.spec().name
                        )),
                    );
                    return None;
                }
                let spans = info.elem_spans.clone();
                for (elem, elem_span) in self.lists[index].elems.iter().zip(spans) {
                    if let Value::Str(s) = elem {
                        names.push((s.clone(), elem_span));
                    }
                }
            }
            (Op::In | Op::NotIn, other) => {
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::E0216,
                        format!("`{}` needs a list, found {}", op.as_str(), other.describe()),
                        other.span(),
                        "not a list",
                    )
                    .with_help(format!(
                        "write a list (`{} in [\"a\", \"b\"]`); to compare with one name use `==`",
                        name.text
                    )),
                );
                return None;
            }
            (_, other) => {
                let help = match other {
                    Rhs::Int(text, _) => format!(
                        "{what} names are strings; to compare the id, write `{} {} {text}`",
                        id_field.spec().name,
                        op.as_str()
                    ),
                    _ => format!("write `{} {} \"root\"`", name.text, op.as_str()),
                };
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::E0207,
                        format!(
                            "mismatched types: expected a {what} name, found {}",
                            other.describe()
                        ),
                        other.span(),
                        "expected a string",
                    )
                    .with_label(name.span, format!("`{}` is a {what} name", name.text))
                    .with_help(help),
                );
                return None;
            }
        }
        let mut tests = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        let mut ok = true;
        for (value, value_span) in &names {
            if let Some(why) = name_problem(value) {
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::E0280,
                        format!("`{value}` cannot be a {what} name"),
                        *value_span,
                        why,
                    )
                    .with_help(format!(
                        "{what} names are resolved from the node's {} when polrt loads the policy",
                        if group { "/etc/group" } else { "/etc/passwd" }
                    )),
                );
                ok = false;
                continue;
            }
            if seen.contains(&value.as_str()) {
                continue;
            }
            seen.push(value);
            if !self.count_test(scope, span) {
                return None;
            }
            tests.push(Expr::Test(Test {
                field: id_field,
                op: TestOp::FieldCmp {
                    op: CmpOp::Eq,
                    other: hooks::account_id_field(group, value),
                },
                span,
            }));
        }
        if !ok {
            return None;
        }
        let expr = if tests.len() == 1 {
            tests.pop().expect("one test")
        } else {
            Expr::Or(tests)
        };
        Some(negate_if(matches!(op, Op::Ne | Op::NotIn), expr))
    }
}

/// E0281 for a name field (`proc.user`) where a value is needed: a message
/// placeholder, an `emit` or a test's event (`place`).
pub(crate) fn value_diagnostic(name: &str, span: Span, place: &str) -> Option<Diagnostic> {
    let (id_field, group) = account_name(name)?;
    let id = id_field.spec().name;
    let what = if group { "group" } else { "user" };
    let help = if place == "a test's event" {
        format!(
            "give the id: `with {id} = 1000`; `polc test --passwd FILE --group FILE` resolves the names the policy compares with"
        )
    } else {
        format!("name `{id}`: polrt shows the {what} name the node gives it next to it")
    };
    Some(
        Diagnostic::new(
            Code::E0281,
            format!("`{name}` is a {what} name, tested in conditions only, not in {place}"),
            span,
            "not a value the kernel reads",
        )
        .with_help(help),
    )
}
