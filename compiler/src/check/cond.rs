//! Conditions: resolves names (fields, lists, macros, constants), expands
//! macros, types every comparison against the field table and checks that
//! each field is available on the rule's hook. The result is a
//! [`policy::Expr`] whose leaves are `field OP literal` tests with literals of
//! the field's type.
//!
//! Depends on the AST, the table in `hooks` and the policy types only.

use crate::check::hooks::{self, FieldId, FieldType, Hook};
use crate::check::literal;
use crate::check::policy::{CmpOp, Expr, ListId, StrOp, Test, TestOp, Value};
use crate::check::{article, Checker, ListKind};
use crate::diag::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::ast;

// user and group names (`proc.user == "root"`)
#[path = "accounts.rs"]
pub(crate) mod accounts;

/// Entries of one list file reported as not fitting a field, at most.
const MAX_FILE_ENTRY_ERRORS: usize = 10;

/// Macros nested deeper than this are reported (E0219).
const MAX_MACRO_DEPTH: usize = 32;
/// Conditions nested deeper than this after expansion are reported (E0219).
const MAX_EXPR_DEPTH: usize = 200;
/// Conditions with more comparisons than this after expansion are reported (E0219).
pub const MAX_TESTS: usize = 10_000;
/// Policies with more comparisons than this, all conditions together, are
/// reported (E0219).
pub const MAX_TOTAL_TESTS: usize = 1_000_000;

/// The indexed field of `name` when it is written `FIELD[*]`.
fn any_element(name: &ast::Name) -> Option<FieldId> {
    match hooks::resolve_indexed(&name.text) {
        Err(hooks::IndexError::Any(family)) => Some(family),
        _ => None,
    }
}

/// Where a condition is being checked.
pub(super) struct Scope {
    /// The rule's hook and the span of its `on` clause; `None` for a macro
    /// checked on its own (availability is checked where it is used).
    hook: Option<(Hook, Span)>,
    /// Macros being expanded, outermost first: name and use site.
    expanding: Vec<(String, Span)>,
    depth: usize,
    tests: usize,
    /// Expansion stopped (too large); nothing more is reported.
    too_large: bool,
}

impl Scope {
    pub(super) fn on_hook(hook: Hook, on_span: Span) -> Scope {
        Scope {
            hook: Some((hook, on_span)),
            expanding: Vec::new(),
            depth: 0,
            tests: 0,
            too_large: false,
        }
    }

    fn standalone() -> Scope {
        Scope {
            hook: None,
            expanding: Vec::new(),
            depth: 0,
            tests: 0,
            too_large: false,
        }
    }
}

/// What the right side of a comparison turned out to be.
enum Rhs<'x> {
    Int(&'x str, Span),
    Const(u64, &'x str, Span),
    Str(&'x ast::StrLit),
    Ip(&'x str, Span),
    Bool(bool, Span),
    /// A named or inline list (index into the checker's lists).
    List(usize, Span),
    /// Already reported.
    Invalid,
}

impl Rhs<'_> {
    fn describe(&self) -> &'static str {
        match self {
            Rhs::Int(..) | Rhs::Const(..) => "an integer",
            Rhs::Str(_) => "a string",
            Rhs::Ip(..) => "an IP address",
            Rhs::Bool(..) => "a bool",
            Rhs::List(..) => "a list",
            Rhs::Invalid => "an invalid value",
        }
    }

    fn span(&self) -> Span {
        match self {
            Rhs::Int(_, span)
            | Rhs::Const(_, _, span)
            | Rhs::Ip(_, span)
            | Rhs::Bool(_, span)
            | Rhs::List(_, span) => *span,
            Rhs::Str(lit) => lit.span,
            Rhs::Invalid => Span::default(),
        }
    }
}

/// The operators each field type supports, for help lines.
fn operators_of(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Int { .. } => {
            "`==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `not in`, `has`, `has any`"
        }
        FieldType::Str { .. } => {
            "`==`, `!=`, `startswith`, `endswith`, `contains`, `matches`, `in`, `not in`"
        }
        FieldType::Ip => "`==`, `!=` (an address), `in`, `not in` (a network or a list)",
        FieldType::Bool => "the bare field, `== true`, `== false`, `!=`",
    }
}

fn kind_of(ty: FieldType) -> ListKind {
    match ty {
        FieldType::Int { .. } => ListKind::Int,
        FieldType::Str { .. } => ListKind::Str,
        FieldType::Ip => ListKind::Ip,
        FieldType::Bool => ListKind::Bool,
    }
}

fn negate_if(negate: bool, expr: Expr) -> Expr {
    if negate {
        Expr::Not(Box::new(expr))
    } else {
        expr
    }
}

/// `a OP b` written as `b OP' a`.
fn flipped(op: ast::CmpOp) -> Option<ast::CmpOp> {
    use ast::CmpOp as Op;
    Some(match op {
        Op::Eq => Op::Eq,
        Op::Ne => Op::Ne,
        Op::Lt => Op::Gt,
        Op::Le => Op::Ge,
        Op::Gt => Op::Lt,
        Op::Ge => Op::Le,
        Op::StartsWith
        | Op::EndsWith
        | Op::Contains
        | Op::In
        | Op::NotIn
        | Op::Has
        | Op::HasAny
        | Op::Matches => return None,
    })
}

impl<'a> Checker<'a> {
    /// Checks a macro's body on its own: names and types, not availability
    /// (that depends on the hook of each rule that uses it).
    pub(super) fn check_macro_alone(&mut self, decl: &ast::MacroDecl) {
        let mut scope = Scope::standalone();
        let _ = self.lower(&decl.cond, &mut scope);
    }

    /// Checks a rule's condition on `scope`'s hook.
    pub(super) fn lower_condition(&mut self, cond: &ast::Cond, scope: &mut Scope) -> Option<Expr> {
        self.lower(cond, scope)
    }

    /// Reports `diagnostic`, labelled with the macro uses that led to it.
    fn report_in(&mut self, scope: &Scope, mut diagnostic: Diagnostic) {
        if matches!(diagnostic.code, Code::E0202 | Code::E0203) {
            let name = self
                .source
                .get(diagnostic.primary_span().range())
                .unwrap_or("");
            if self.broken_names.contains(name) {
                // Its declaration has a parse error, already reported.
                return;
            }
        }
        for (name, span) in scope.expanding.iter().rev() {
            diagnostic = diagnostic.with_label(*span, format!("in this use of macro `{name}`"));
        }
        self.report(diagnostic);
    }

    fn lower(&mut self, cond: &ast::Cond, scope: &mut Scope) -> Option<Expr> {
        if scope.too_large {
            return None;
        }
        scope.depth += 1;
        let result = if scope.depth > MAX_EXPR_DEPTH {
            self.too_large(scope, cond.span(), "nests too deeply");
            None
        } else {
            self.lower_inner(cond, scope)
        };
        scope.depth -= 1;
        result
    }

    fn too_large(&mut self, scope: &mut Scope, span: Span, why: &str) {
        scope.too_large = true;
        let diagnostic = Diagnostic::new(
            Code::E0219,
            format!("condition {why} once its macros are expanded"),
            span,
            "while expanding this",
        )
        .with_note(format!(
            "limits: {MAX_MACRO_DEPTH} nested macros, {MAX_EXPR_DEPTH} nested operators, {MAX_TESTS} comparisons per condition, {MAX_TOTAL_TESTS} in the policy"
        ))
        .with_help("use lists instead of long chains of `or`, and avoid repeating macros");
        self.report_in(scope, diagnostic);
    }

    fn lower_inner(&mut self, cond: &ast::Cond, scope: &mut Scope) -> Option<Expr> {
        match cond {
            ast::Cond::Or { terms, .. } | ast::Cond::And { terms, .. } => {
                let is_or = matches!(cond, ast::Cond::Or { .. });
                let mut lowered = Vec::with_capacity(terms.len());
                let mut ok = true;
                for term in terms {
                    match self.lower(term, scope) {
                        // Flatten `a or (b or c)` (from macros, mostly).
                        Some(Expr::Or(inner)) if is_or => lowered.extend(inner),
                        Some(Expr::And(inner)) if !is_or => lowered.extend(inner),
                        Some(expr) => lowered.push(expr),
                        None => ok = false,
                    }
                }
                let expr = if is_or {
                    Expr::Or(lowered)
                } else {
                    Expr::And(lowered)
                };
                ok.then_some(expr)
            }
            ast::Cond::Not { inner, .. } => {
                self.lower(inner, scope).map(|e| Expr::Not(Box::new(e)))
            }
            ast::Cond::Bare(ast::Operand::Name(name)) if any_element(name).is_some() => {
                self.lower_any(cond, name, scope)
            }
            ast::Cond::Cmp {
                lhs: ast::Operand::Name(name),
                ..
            } if any_element(name).is_some() => self.lower_any(cond, name, scope),
            ast::Cond::Cmp {
                rhs: ast::Operand::Name(name),
                ..
            } if any_element(name).is_some() => self.lower_any(cond, name, scope),
            ast::Cond::Bare(operand) => self.lower_bare(operand, scope),
            ast::Cond::Cmp {
                lhs,
                op,
                op_span,
                rhs,
                span,
            } => self.lower_cmp(lhs, *op, *op_span, rhs, *span, scope),
        }
    }

    /// `FIELD[*] ...`: true when the test holds for at least one element
    /// that exists (below the field's count, when it has one): an `or` of
    /// the test on each element, each guarded by `COUNT > N`.
    fn lower_any(&mut self, cond: &ast::Cond, name: &ast::Name, scope: &mut Scope) -> Option<Expr> {
        let family = any_element(name)?;
        let Some((elements, count)) = hooks::any_elements(family) else {
            self.report_in(
                scope,
                Diagnostic::new(
                    Code::E0260,
                    format!("`{}` has no `[*]`", family.spec().name),
                    name.span,
                    "its elements are named, not counted",
                )
                .with_help("name the element: `exec.env[\"LD_PRELOAD\"] != \"\"`"),
            );
            return None;
        };
        let mut terms = Vec::with_capacity(elements.len());
        for (n, element) in elements.into_iter().enumerate() {
            let element_name = ast::Name {
                text: element.spec().name.to_string(),
                span: name.span,
            };
            let replace = |operand: &ast::Operand| match operand {
                ast::Operand::Name(other) if other == name => {
                    ast::Operand::Name(element_name.clone())
                }
                other => other.clone(),
            };
            let one = match cond {
                ast::Cond::Cmp {
                    lhs,
                    op,
                    op_span,
                    rhs,
                    span,
                } => ast::Cond::Cmp {
                    lhs: replace(lhs),
                    op: *op,
                    op_span: *op_span,
                    rhs: replace(rhs),
                    span: *span,
                },
                other => match other {
                    ast::Cond::Bare(operand) => ast::Cond::Bare(replace(operand)),
                    other => other.clone(),
                },
            };
            let test = self.lower(&one, scope)?;
            let term = match count {
                Some(count) => {
                    let guard = ast::Cond::Cmp {
                        lhs: ast::Operand::Name(ast::Name {
                            text: count.spec().name.to_string(),
                            span: name.span,
                        }),
                        op: ast::CmpOp::Gt,
                        op_span: name.span,
                        rhs: ast::Operand::Int {
                            text: n.to_string(),
                            span: name.span,
                        },
                        span: name.span,
                    };
                    Expr::And(vec![self.lower(&guard, scope)?, test])
                }
                None => test,
            };
            terms.push(term);
        }
        Some(Expr::Or(terms))
    }

    fn count_test(&mut self, scope: &mut Scope, span: Span) -> bool {
        scope.tests += 1;
        self.total_tests += 1;
        if scope.tests > MAX_TESTS {
            self.too_large(scope, span, "has too many comparisons");
            return false;
        }
        if self.total_tests > MAX_TOTAL_TESTS {
            self.too_large(
                scope,
                span,
                "brings the policy over its limit of comparisons",
            );
            return false;
        }
        true
    }

    /// A lone operand as a condition: a macro, a bool field, or a mistake.
    fn lower_bare(&mut self, operand: &ast::Operand, scope: &mut Scope) -> Option<Expr> {
        let name = match operand {
            ast::Operand::Name(name) => name,
            other => {
                let help = match other {
                    ast::Operand::Bool { .. } => "a rule without `when` matches every event",
                    _ => "compare a field with it, e.g. `proc.uid == 0`",
                };
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::E0217,
                        "a literal is not a condition",
                        other.span(),
                        "expected a condition",
                    )
                    .with_help(help),
                );
                return None;
            }
        };
        if let Some(info) = self.macros.get(name.text.as_str()) {
            let decl = info.decl;
            let recursive = info.recursive;
            self.used.insert(name.text.clone());
            if recursive {
                return None;
            }
            if scope.hook.is_none() {
                // Checked on its own; expanded where a rule uses it.
                return Some(Expr::And(Vec::new()));
            }
            if scope.expanding.len() >= MAX_MACRO_DEPTH {
                self.too_large(scope, name.span, "nests too many macros");
                return None;
            }
            scope.expanding.push((name.text.clone(), name.span));
            let expr = self.lower(&decl.cond, scope);
            scope.expanding.pop();
            return expr;
        }
        if let Some(field) = FieldId::from_name(&name.text) {
            if !self.check_available(field, name.span, scope) {
                return None;
            }
            let spec = field.spec();
            if spec.ty == FieldType::Bool {
                if !self.count_test(scope, name.span) {
                    return None;
                }
                return Some(Expr::Test(Test {
                    field,
                    op: TestOp::IsTrue,
                    span: name.span,
                }));
            }
            self.report_in(
                scope,
                Diagnostic::new(
                    Code::E0217,
                    format!("`{}` is not a condition", name.text),
                    name.span,
                    format!("this field is {}", article(spec.ty.kind_name())),
                )
                .with_help(format!(
                    "compare it: {}",
                    match spec.ty {
                        FieldType::Int { .. } => format!("`{} == 0`", name.text),
                        FieldType::Str { .. } => format!("`{} == \"...\"`", name.text),
                        _ => format!("`{} in 10.0.0.0/8`", name.text),
                    }
                )),
            );
            return None;
        }
        if let Some(&index) = self.list_names.get(name.text.as_str()) {
            self.used.insert(name.text.clone());
            let list_span = self.list_infos[index].name_span;
            self.report_in(
                scope,
                Diagnostic::new(
                    Code::E0217,
                    format!("list `{}` is not a condition", name.text),
                    name.span,
                    "a list, not a condition",
                )
                .with_label(list_span, "declared here")
                .with_help(format!("test a field against it: `FIELD in {}`", name.text)),
            );
            return None;
        }
        if literal::constant(&name.text).is_some() {
            self.report_in(
                scope,
                Diagnostic::new(
                    Code::E0217,
                    format!("constant `{}` is not a condition", name.text),
                    name.span,
                    "a value, not a condition",
                )
                .with_help(format!(
                    "compare a field with it: `net.family == {}`",
                    name.text
                )),
            );
            return None;
        }
        if name.text.contains('.') {
            self.unknown_field(name, scope);
        } else {
            let candidates: Vec<&str> = self
                .macro_order
                .iter()
                .copied()
                .chain(
                    FieldId::all()
                        .filter(|f| f.spec().ty == FieldType::Bool)
                        .map(|f| f.spec().name),
                )
                .collect();
            let help = match literal::closest(&name.text, candidates) {
                Some(close) => {
                    format!("a macro or bool field with a similar name exists: `{close}`")
                }
                None => format!("declare it: `macro {} = ...`", name.text),
            };
            self.report_in(
                scope,
                Diagnostic::new(
                    Code::E0203,
                    format!("unknown name `{}`", name.text),
                    name.span,
                    "not a macro or a bool field",
                )
                .with_help(help),
            );
        }
        None
    }

    fn unknown_field(&mut self, name: &ast::Name, scope: &Scope) {
        if let Some(d) = super::indexed::index_diagnostic(&name.text, name.span) {
            self.report_in(scope, d);
            return;
        }
        let help = match literal::closest(&name.text, FieldId::all().map(|f| f.spec().name)) {
            _ if accounts::falco_field(&name.text).is_some() => {
                let ours = accounts::falco_field(&name.text).unwrap_or_default();
                format!("Falco's `{}` is `{ours}` here", name.text)
            }
            Some(close) => format!("a field with a similar name exists: `{close}`"),
            None => "the fields are listed in docs/language.md".to_string(),
        };
        self.report_in(
            scope,
            Diagnostic::new(
                Code::E0201,
                format!("unknown field `{}`", name.text),
                name.span,
                "no such field",
            )
            .with_help(help),
        );
    }

    /// Reports E0302 when `field` is not available on the scope's hook.
    pub(super) fn check_available(&mut self, field: FieldId, span: Span, scope: &Scope) -> bool {
        let Some((hook, on_span)) = scope.hook else {
            return true;
        };
        if field.available_on(hook) {
            return true;
        }
        let spec = field.spec();
        let hooks: Vec<String> = Hook::ALL
            .iter()
            .filter(|h| field.available_on(**h))
            .map(|h| format!("`{}`", h.name()))
            .collect();
        self.report_in(
            scope,
            Diagnostic::new(
                Code::E0302,
                format!(
                    "field `{}` is not available on `{}`",
                    spec.name,
                    hook.name()
                ),
                span,
                format!("not a field of `{}` events", hook.name()),
            )
            .with_label(on_span, format!("the hook is `{}`", hook.name()))
            .with_help(format!(
                "`{}` is available on {}",
                spec.name,
                hooks.join(", ")
            )),
        );
        false
    }

    fn lower_cmp(
        &mut self,
        lhs: &ast::Operand,
        op: ast::CmpOp,
        op_span: Span,
        rhs: &ast::Operand,
        span: Span,
        scope: &mut Scope,
    ) -> Option<Expr> {
        fn field_of(operand: &ast::Operand) -> Option<(FieldId, &ast::Name)> {
            match operand {
                ast::Operand::Name(name) => FieldId::from_name(&name.text).map(|f| (f, name)),
                _ => None,
            }
        }
        if let ast::Operand::Name(name) = lhs {
            if let Some((base, part)) = path_part(&name.text) {
                return self.lower_path_part(base, part, name, op, op_span, rhs, span, scope);
            }
            if let Some((id_field, group)) = accounts::account_name(&name.text) {
                return self.lower_account(id_field, group, name, op, op_span, rhs, span, scope);
            }
        }
        // `"root" == proc.user`: symmetric, as for fields.
        if let (ast::Operand::Name(name), ast::Operand::Str(_)) = (rhs, lhs) {
            if let Some((id_field, group)) = accounts::account_name(&name.text) {
                if matches!(op, ast::CmpOp::Eq | ast::CmpOp::Ne) {
                    return self
                        .lower_account(id_field, group, name, op, op_span, lhs, span, scope);
                }
            }
        }
        match (field_of(lhs), field_of(rhs)) {
            (Some((left_field, left)), Some((right_field, right))) => self.lower_field_cmp(
                left_field,
                left,
                op,
                op_span,
                right_field,
                right,
                span,
                scope,
            ),
            (Some((field, name)), None) => {
                self.lower_test(field, name.span, op, op_span, rhs, span, scope)
            }
            (None, Some((field, name))) => match flipped(op) {
                Some(flipped_op) => {
                    self.lower_test(field, name.span, flipped_op, op_span, lhs, span, scope)
                }
                None => {
                    let help = if matches!(op, ast::CmpOp::In | ast::CmpOp::NotIn)
                        && matches!(lhs, ast::Operand::Str(_))
                    {
                        format!(
                            "to test for a substring, write `{} contains {}`",
                            name.text,
                            self.source.get(lhs.span().range()).unwrap_or("\"...\"")
                        )
                    } else {
                        format!("write `{} {} ...`", name.text, op.as_str())
                    };
                    self.report_in(
                        scope,
                        Diagnostic::new(
                            Code::E0215,
                            format!("the field must be on the left of `{}`", op.as_str()),
                            lhs.span(),
                            "expected a field here",
                        )
                        .with_label(name.span, "the field")
                        .with_help(help),
                    );
                    None
                }
            },
            (None, None) => {
                // An unknown name on the left (or a dotted one on the right) is
                // most likely a misspelt field.
                if let ast::Operand::Name(name) = lhs {
                    if !self.is_declared_value(&name.text) {
                        self.unknown_field(name, scope);
                        return None;
                    }
                }
                if let ast::Operand::Name(name) = rhs {
                    if name.text.contains('.') && !self.is_declared_value(&name.text) {
                        self.unknown_field(name, scope);
                        return None;
                    }
                }
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::E0215,
                        "comparison without a field",
                        span,
                        "neither side is a field",
                    )
                    .with_help("every comparison tests a field of the event, e.g. `proc.uid == 0`"),
                );
                None
            }
        }
    }

    /// `int_field OP int_field` (`proc.uid != proc.euid`): both ints,
    /// both available, an order or equality operator.
    #[allow(clippy::too_many_arguments)]
    fn lower_field_cmp(
        &mut self,
        left_field: FieldId,
        left: &ast::Name,
        op: ast::CmpOp,
        op_span: Span,
        right_field: FieldId,
        right: &ast::Name,
        span: Span,
        scope: &mut Scope,
    ) -> Option<Expr> {
        use ast::CmpOp as Op;
        let available = self.check_available(left_field, left.span, scope)
            & self.check_available(right_field, right.span, scope);
        if !available {
            return None;
        }
        let (lt, rt) = (left_field.spec().ty, right_field.spec().ty);
        let both_int = matches!((lt, rt), (FieldType::Int { .. }, FieldType::Int { .. }));
        if !both_int {
            let message = if lt.kind_name() == rt.kind_name() {
                format!(
                    "two {} fields compared: only int fields compare with each other",
                    lt.kind_name()
                )
            } else {
                format!(
                    "mismatched types: {} compared with {}",
                    article(lt.kind_name()),
                    article(rt.kind_name())
                )
            };
            self.report_in(
                scope,
                Diagnostic::new(Code::E0214, message, right.span, format!("`{}` is {rt}", right.text))
                    .with_label(left.span, format!("`{}` is {lt}", left.text))
                    .with_help("compare two int fields (`proc.uid != file.uid`), or each field with a literal or a list"),
            );
            return None;
        }
        if !matches!(op, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge) {
            self.report_in(
                scope,
                Diagnostic::new(
                    Code::E0206,
                    format!("`{}` is not defined between two fields", op.as_str()),
                    op_span,
                    "not between fields",
                )
                .with_help("two int fields compare with `==`, `!=`, `<`, `<=`, `>`, `>=`"),
            );
            return None;
        }
        if !self.count_test(scope, span) {
            return None;
        }
        let expr = Expr::Test(Test {
            field: left_field,
            op: TestOp::FieldCmp {
                op: int_op(op),
                other: right_field,
            },
            span,
        });
        Some(negate_if(op == Op::Ne, expr))
    }

    fn is_declared_value(&self, name: &str) -> bool {
        self.macros.contains_key(name)
            || self.list_names.contains_key(name)
            || literal::constant(name).is_some()
    }

    /// Classifies the right side of a comparison. `want_list` says whether a
    /// list is a sensible answer (for error messages about names).
    fn classify_rhs<'x>(
        &mut self,
        rhs: &'x ast::Operand,
        want_list: bool,
        scope: &Scope,
    ) -> Rhs<'x> {
        match rhs {
            ast::Operand::Int { text, span } => Rhs::Int(text, *span),
            ast::Operand::Ip { text, span } => Rhs::Ip(text, *span),
            ast::Operand::Str(lit) => Rhs::Str(lit),
            ast::Operand::Bool { value, span } => Rhs::Bool(*value, *span),
            ast::Operand::List { items, span } => {
                let index = match self.inline_lists.get(span) {
                    Some(index) => *index,
                    None => {
                        let index = self.add_list(None, items, *span, *span);
                        self.inline_lists.insert(*span, index);
                        index
                    }
                };
                if self.list_infos[index].kind.is_none() {
                    return Rhs::Invalid;
                }
                Rhs::List(index, *span)
            }
            ast::Operand::Name(name) => {
                if let Some(value) = literal::constant(&name.text) {
                    return Rhs::Const(value, &name.text, name.span);
                }
                if let Some(&index) = self.list_names.get(name.text.as_str()) {
                    self.used.insert(name.text.clone());
                    if self.list_infos[index].kind.is_none() {
                        return Rhs::Invalid;
                    }
                    return Rhs::List(index, name.span);
                }
                if self.macros.contains_key(name.text.as_str()) {
                    self.used.insert(name.text.clone());
                    let (code, label) = if want_list {
                        (Code::E0216, "a macro, not a list")
                    } else {
                        (Code::E0207, "a macro, not a value")
                    };
                    self.report_in(
                        scope,
                        Diagnostic::new(code, format!("`{}` is a macro", name.text), name.span, label)
                            .with_help("macros are conditions: use them on their own, e.g. `when root and ...`"),
                    );
                    return Rhs::Invalid;
                }
                if want_list {
                    let help = match literal::closest(&name.text, self.list_names.keys().copied()) {
                        Some(close) => format!("a list with a similar name exists: `{close}`"),
                        None => format!(
                            "declare it: `list {} = [...]`, or write the list inline",
                            name.text
                        ),
                    };
                    self.report_in(
                        scope,
                        Diagnostic::new(
                            Code::E0202,
                            format!("unknown list `{}`", name.text),
                            name.span,
                            "no such list",
                        )
                        .with_help(help),
                    );
                } else if name.text.contains('.') {
                    self.unknown_field(name, scope);
                } else {
                    self.report_in(
                        scope,
                        Diagnostic::new(
                            Code::E0203,
                            format!("unknown name `{}`", name.text),
                            name.span,
                            "not a list, constant or field",
                        )
                        .with_help(format!(
                            "to compare with a string, quote it: `\"{}\"`",
                            name.text
                        )),
                    );
                }
                Rhs::Invalid
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn lower_test(
        &mut self,
        field: FieldId,
        field_span: Span,
        op: ast::CmpOp,
        op_span: Span,
        rhs: &ast::Operand,
        span: Span,
        scope: &mut Scope,
    ) -> Option<Expr> {
        use ast::CmpOp as Op;
        if !self.check_available(field, field_span, scope) {
            return None;
        }
        let spec = field.spec();
        let ty = spec.ty;
        let supported = match ty {
            FieldType::Int { .. } => matches!(
                op,
                Op::Eq
                    | Op::Ne
                    | Op::Lt
                    | Op::Le
                    | Op::Gt
                    | Op::Ge
                    | Op::In
                    | Op::NotIn
                    | Op::Has
                    | Op::HasAny
            ),
            FieldType::Str { .. } => matches!(
                op,
                Op::Eq
                    | Op::Ne
                    | Op::StartsWith
                    | Op::EndsWith
                    | Op::Contains
                    | Op::Matches
                    | Op::In
                    | Op::NotIn
            ),
            FieldType::Ip => matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn),
            FieldType::Bool => matches!(op, Op::Eq | Op::Ne),
        };
        if !supported {
            self.report_in(
                scope,
                Diagnostic::new(
                    Code::E0206,
                    format!(
                        "`{}` is not defined for {} fields",
                        op.as_str(),
                        ty.kind_name()
                    ),
                    op_span,
                    format!("not defined for {} fields", ty.kind_name()),
                )
                .with_label(field_span, format!("`{}` is {ty}", spec.name))
                .with_help(format!(
                    "{} fields support {}",
                    ty.kind_name(),
                    operators_of(ty)
                )),
            );
            return None;
        }
        if !self.count_test(scope, span) {
            return None;
        }
        let want_list = matches!(
            op,
            Op::In
                | Op::NotIn
                | Op::StartsWith
                | Op::EndsWith
                | Op::Contains
                | Op::Matches
                | Op::HasAny
        );
        let value = self.classify_rhs(rhs, want_list, scope);
        if matches!(value, Rhs::Invalid) {
            return None;
        }
        if matches!(ty, FieldType::Int { .. }) {
            self.warn_constants(field, field_span, op, rhs, scope);
        }
        if let (FieldType::Int { bits }, Op::Has | Op::HasAny) = (ty, op) {
            return self.lower_bits(field, field_span, bits, op, rhs, &value, span, scope);
        }
        let negate = matches!(op, Op::Ne | Op::NotIn);
        let test = |op: TestOp| Expr::Test(Test { field, op, span });
        let expr = match (ty, op, &value) {
            (_, Op::In | Op::NotIn, Rhs::List(index, list_span)) => {
                let id = self.check_list_use(*index, *list_span, field, field_span, scope)?;
                test(TestOp::In(id))
            }
            (FieldType::Ip, Op::In | Op::NotIn, Rhs::Ip(text, ip_span)) => {
                let (addr, prefix) = self.ip_literal(text, *ip_span)?;
                test(TestOp::IpIn { addr, prefix })
            }
            (_, Op::In | Op::NotIn, other) => {
                let help = match ty {
                    FieldType::Ip => {
                        "write a list (`[10.0.0.0/8, 192.168.0.0/16]`), a list name or one network"
                    }
                    _ => {
                        "write a list (`[a, b]`) or a list name; to compare with one value use `==`"
                    }
                };
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::E0216,
                        format!("`{}` needs a list, found {}", op.as_str(), other.describe()),
                        other.span(),
                        "not a list",
                    )
                    .with_help(help),
                );
                return None;
            }
            (FieldType::Int { bits }, _, Rhs::Int(text, int_span)) => {
                let value = self.int_literal(text, *int_span, Some((spec.name, bits)))?;
                test(TestOp::IntCmp {
                    op: int_op(op),
                    value,
                })
            }
            (FieldType::Int { bits }, _, Rhs::Const(value, name, const_span)) => {
                if *value > literal::int_max(bits) {
                    self.report_in(
                        scope,
                        Diagnostic::new(
                            Code::E0209,
                            format!("`{name}` does not fit `{}` (u{bits})", spec.name),
                            *const_span,
                            "out of range",
                        ),
                    );
                    return None;
                }
                test(TestOp::IntCmp {
                    op: int_op(op),
                    value: *value,
                })
            }
            (FieldType::Str { max }, Op::Eq | Op::Ne, Rhs::Str(lit)) => {
                self.check_str_len(&lit.value, lit.span, field, max, None, scope)?;
                test(TestOp::StrEq(lit.value.clone()))
            }
            (FieldType::Str { max }, Op::Matches, Rhs::Str(lit)) => {
                self.check_str_len(&lit.value, lit.span, field, max, None, scope)?;
                self.check_globs(&[(lit.value.clone(), lit.span)], lit.span, scope)?;
                test(TestOp::Str {
                    op: StrOp::Matches,
                    value: lit.value.clone(),
                })
            }
            (FieldType::Str { .. }, Op::Matches, Rhs::List(index, list_span)) => {
                let list = self.check_list_use(*index, *list_span, field, field_span, scope)?;
                let patterns: Vec<(String, Span)> = self.lists[list.0 as usize]
                    .elems
                    .iter()
                    .zip(self.list_infos[*index].elem_spans.iter())
                    .filter_map(|(v, span)| match v {
                        Value::Str(s) => Some((s.clone(), *span)),
                        _ => None,
                    })
                    .collect();
                self.check_globs(&patterns, *list_span, scope)?;
                test(TestOp::StrAny {
                    op: StrOp::Matches,
                    list,
                })
            }
            (
                FieldType::Str { max },
                Op::StartsWith | Op::EndsWith | Op::Contains,
                Rhs::Str(lit),
            ) => {
                self.check_str_len(&lit.value, lit.span, field, max, None, scope)?;
                test(TestOp::Str {
                    op: str_op(op),
                    value: lit.value.clone(),
                })
            }
            (
                FieldType::Str { .. },
                Op::StartsWith | Op::EndsWith | Op::Contains,
                Rhs::List(index, list_span),
            ) => {
                let list = self.check_list_use(*index, *list_span, field, field_span, scope)?;
                test(TestOp::StrAny {
                    op: str_op(op),
                    list,
                })
            }
            (FieldType::Ip, Op::Eq | Op::Ne, Rhs::Ip(text, ip_span)) => {
                let (addr, prefix) = self.ip_literal(text, *ip_span)?;
                let full = if addr.is_ipv4() { 32 } else { 128 };
                if prefix != full {
                    self.report_in(
                        scope,
                        Diagnostic::new(
                            Code::E0207,
                            format!("`{}` compares with one address, not a network", op.as_str()),
                            *ip_span,
                            "a network",
                        )
                        .with_help(format!(
                            "to test membership write `{} {} {text}`",
                            spec.name,
                            if negate { "not in" } else { "in" }
                        )),
                    );
                    return None;
                }
                test(TestOp::IpIn { addr, prefix })
            }
            (FieldType::Bool, Op::Eq | Op::Ne, Rhs::Bool(value, _)) => {
                let expr = test(TestOp::IsTrue);
                // `== true` and `!= false` are the bare field.
                return Some(negate_if(negate == *value, expr));
            }
            (_, _, other) => {
                let expected = match ty {
                    FieldType::Int { .. } => "an integer",
                    FieldType::Str { .. } => "a string",
                    FieldType::Ip => "an IP address",
                    FieldType::Bool => "`true` or `false`",
                };
                let help = match (ty, other) {
                    (_, Rhs::List(..)) => {
                        format!("to test membership write `{} in ...`", spec.name)
                    }
                    _ => corrected_comparison(spec.name, op, ty, other),
                };
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::E0207,
                        format!(
                            "mismatched types: expected {expected}, found {}",
                            other.describe()
                        ),
                        other.span(),
                        format!("expected {expected}"),
                    )
                    .with_label(
                        field_span,
                        format!("`{}` is {}", spec.name, article(ty.kind_name())),
                    )
                    .with_help(help),
                );
                return None;
            }
        };
        Some(negate_if(negate, expr))
    }

    /// `file.dir OP value`, `file.name OP value`: lowered to tests of the
    /// path itself (globs, or `endswith`), which the interpreter and the
    /// kernel decide as they decide `matches` (so an unresolved path, or one
    /// longer than the buffer, decides fail-closed).
    #[allow(clippy::too_many_arguments)]
    fn lower_path_part(
        &mut self,
        base: FieldId,
        part: PathPart,
        name: &ast::Name,
        op: ast::CmpOp,
        op_span: Span,
        rhs: &ast::Operand,
        span: Span,
        scope: &mut Scope,
    ) -> Option<Expr> {
        use ast::CmpOp as Op;
        if !self.check_available(base, name.span, scope) {
            return None;
        }
        let supported = match part {
            PathPart::Dir => matches!(
                op,
                Op::Eq | Op::Ne | Op::In | Op::NotIn | Op::StartsWith | Op::Matches
            ),
            PathPart::Name => matches!(
                op,
                Op::Eq
                    | Op::Ne
                    | Op::In
                    | Op::NotIn
                    | Op::StartsWith
                    | Op::EndsWith
                    | Op::Contains
                    | Op::Matches
            ),
        };
        if !supported {
            let ops = match part {
                PathPart::Dir => "`==`, `!=`, `in`, `not in`, `startswith`, `matches`",
                PathPart::Name => {
                    "`==`, `!=`, `in`, `not in`, `startswith`, `endswith`, `contains`, `matches`"
                }
            };
            self.report_in(
                scope,
                Diagnostic::new(
                    Code::E0206,
                    format!("`{}` is not defined for `{}`", op.as_str(), name.text),
                    op_span,
                    format!("not defined for `{}`", name.text),
                )
                .with_help(format!("`{}` supports {ops}", name.text)),
            );
            return None;
        }
        if !self.count_test(scope, span) {
            return None;
        }
        let want_list = matches!(op, Op::In | Op::NotIn | Op::Matches | Op::StartsWith);
        let value = self.classify_rhs(rhs, want_list, scope);
        let values: Vec<(String, Span)> = match (&value, op) {
            (Rhs::Invalid, _) => return None,
            (
                Rhs::Str(lit),
                Op::Eq | Op::Ne | Op::StartsWith | Op::EndsWith | Op::Contains | Op::Matches,
            ) => {
                vec![(lit.value.clone(), lit.span)]
            }
            (Rhs::List(index, list_span), Op::In | Op::NotIn | Op::StartsWith | Op::Matches) => {
                let list = self.check_list_use(*index, *list_span, base, name.span, scope)?;
                self.lists[list.0 as usize]
                    .elems
                    .iter()
                    .zip(self.list_infos[*index].elem_spans.iter())
                    .filter_map(|(v, span)| match v {
                        Value::Str(s) => Some((s.clone(), *span)),
                        _ => None,
                    })
                    .collect()
            }
            (other, _) => {
                let expected = if matches!(op, Op::In | Op::NotIn) {
                    "a list of strings"
                } else {
                    "a string"
                };
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::E0207,
                        format!(
                            "mismatched types: expected {expected}, found {}",
                            other.describe()
                        ),
                        other.span(),
                        format!("expected {expected}"),
                    )
                    .with_label(name.span, format!("`{}` is a str", name.text)),
                );
                return None;
            }
        };
        let max = match base.spec().ty {
            FieldType::Str { max } => max,
            _ => crate::check::hooks::PATH_MAX_LEN,
        };
        let mut ok = true;
        for (value, value_span) in &values {
            ok &= self
                .check_str_len(value, *value_span, base, max, None, scope)
                .is_some();
            if part == PathPart::Name && value.contains('/') {
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::E0292,
                        format!("a base name has no `/`: `{}` never holds", name.text),
                        *value_span,
                        "has a `/`",
                    )
                    .with_help(format!(
                        "test the whole path: `{} ...`, or the directory: `{} ...`",
                        base.spec().name,
                        PATH_PARTS
                            .iter()
                            .find(|(_, b, p)| *b == base.spec().name && *p == PathPart::Dir)
                            .map_or("", |(dir, _, _)| dir)
                    )),
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let negate = matches!(op, Op::Ne | Op::NotIn);
        let str_test = |op: TestOp| {
            Expr::Test(Test {
                field: base,
                op,
                span,
            })
        };
        // A base name among a few, or a suffix of it, needs no automaton:
        // the path equals the name or ends with `/` and it; a suffix of
        // the name (no `/` in it) is a suffix of the path.
        if part == PathPart::Name
            && (matches!(op, Op::Eq | Op::Ne)
                || (matches!(op, Op::In | Op::NotIn) && values.len() <= 4))
        {
            let mut terms = Vec::new();
            for (value, _) in &values {
                terms.push(str_test(TestOp::StrEq(value.clone())));
                terms.push(str_test(TestOp::Str {
                    op: StrOp::EndsWith,
                    value: format!("/{value}"),
                }));
            }
            return Some(negate_if(negate, Expr::Or(terms)));
        }
        if part == PathPart::Name && op == Op::EndsWith {
            let value = &values[0].0;
            if value.is_empty() {
                return Some(Expr::And(Vec::new()));
            }
            return Some(str_test(TestOp::Str {
                op: StrOp::EndsWith,
                value: value.clone(),
            }));
        }
        let mut patterns: Vec<String> = Vec::new();
        for (value, _) in &values {
            match path_part_patterns(part, op, value) {
                Some(more) => patterns.extend(more),
                // The empty prefix, suffix or substring: always true.
                None => return Some(negate_if(negate, Expr::And(Vec::new()))),
            }
        }
        let globs: Vec<(String, Span)> = patterns.iter().map(|p| (p.clone(), span)).collect();
        self.check_globs(&globs, span, scope)?;
        let terms: Vec<Expr> = patterns
            .into_iter()
            .map(|pattern| {
                Expr::Test(Test {
                    field: base,
                    op: TestOp::Str {
                        op: StrOp::Matches,
                        value: pattern,
                    },
                    span,
                })
            })
            .collect();
        let expr = match terms.len() {
            1 => terms.into_iter().next().expect("one term"),
            _ => Expr::Or(terms),
        };
        Some(negate_if(negate, expr))
    }

    /// Reports glob patterns over the bounds (E0291): more than
    /// [`MAX_GLOB_WILDCARDS`] wildcards or [`MAX_GLOB_DOUBLE_STARS`] `**`
    /// in one pattern, or an automaton of more than [`MAX_GLOB_STATES`]
    /// states for the test's patterns together.
    fn check_globs(
        &mut self,
        patterns: &[(String, Span)],
        use_span: Span,
        scope: &Scope,
    ) -> Option<()> {
        use crate::check::glob::{
            dfa, glob_wildcards, MAX_GLOB_DOUBLE_STARS, MAX_GLOB_STATES, MAX_GLOB_WILDCARDS,
        };
        let mut ok = true;
        for (pattern, span) in patterns {
            let (wildcards, double) = glob_wildcards(pattern.as_bytes());
            if wildcards > MAX_GLOB_WILDCARDS || double > MAX_GLOB_DOUBLE_STARS {
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::E0291,
                        "glob pattern over its bounds",
                        *span,
                        format!("{wildcards} wildcards, {double} of them `**`"),
                    )
                    .with_note(format!(
                        "a pattern has at most {MAX_GLOB_WILDCARDS} wildcards (`*`, `**`, `?`), at most {MAX_GLOB_DOUBLE_STARS} of them `**`"
                    ))
                    .with_help("split the pattern into several tests, or use `startswith` and `endswith`"),
                );
                ok = false;
            }
        }
        if !ok {
            return None;
        }
        let bytes: Vec<Vec<u8>> = patterns
            .iter()
            .map(|(p, _)| p.as_bytes().to_vec())
            .collect();
        if dfa(&bytes).is_none() {
            self.report_in(
                scope,
                Diagnostic::new(
                    Code::E0291,
                    "glob patterns over their bounds",
                    use_span,
                    format!(
                        "the automaton of these patterns needs more than {MAX_GLOB_STATES} states"
                    ),
                )
                .with_help("match fewer patterns in one test, or with fewer `*` each"),
            );
            return None;
        }
        Some(())
    }

    /// Reports named constants (written directly or in an inline list)
    /// that do not describe `field` (W0075), and value constants given to
    /// `has` (W0076).
    fn warn_constants(
        &mut self,
        field: FieldId,
        field_span: Span,
        op: ast::CmpOp,
        rhs: &ast::Operand,
        scope: &Scope,
    ) {
        let names: Vec<&ast::Name> = match rhs {
            ast::Operand::Name(name) => vec![name],
            ast::Operand::List { items, .. } => items
                .iter()
                .filter_map(|item| match item {
                    ast::Operand::Name(name) => Some(name),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let field_name = field.spec().name;
        for name in names {
            let Some(constant) = crate::check::constants::lookup(&name.text) else {
                continue;
            };
            let kind = constant.kind;
            if !kind.fits(field_name) {
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::W0075,
                        format!(
                            "`{}` is {}, not a value of `{field_name}`",
                            constant.name,
                            kind.describe()
                        ),
                        name.span,
                        format!("{} ({})", kind.describe(), constant.value),
                    )
                    .with_label(field_span, format!("`{field_name}` is compared here"))
                    .with_help(format!(
                        "`{}` is for `{}`; compare `{field_name}` with its own values",
                        constant.name,
                        kind.example_field()
                    )),
                );
            } else if matches!(op, ast::CmpOp::Has | ast::CmpOp::HasAny) && !kind.is_bits() {
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::W0076,
                        format!("`{}` is {}, not a bit", constant.name, kind.describe()),
                        name.span,
                        "a value",
                    )
                    .with_label(field_span, format!("`{field_name}` holds one value"))
                    .with_help(format!(
                        "compare the value: `{field_name} == {}`",
                        constant.name
                    )),
                );
            }
        }
    }

    /// `int_field has MASK` / `has any [..]`: the mask is the bits of the
    /// value, constant or list (or-ed), not 0, within the field's width.
    #[allow(clippy::too_many_arguments)]
    fn lower_bits(
        &mut self,
        field: FieldId,
        field_span: Span,
        bits: u8,
        op: ast::CmpOp,
        rhs: &ast::Operand,
        value: &Rhs<'_>,
        span: Span,
        scope: &Scope,
    ) -> Option<Expr> {
        let spec = field.spec();
        let mask = match value {
            Rhs::Int(text, int_span) => {
                self.int_literal(text, *int_span, Some((spec.name, bits)))?
            }
            Rhs::Const(value, name, const_span) => {
                if *value > literal::int_max(bits) {
                    self.report_in(
                        scope,
                        Diagnostic::new(
                            Code::E0209,
                            format!("`{name}` does not fit `{}` (u{bits})", spec.name),
                            *const_span,
                            "out of range",
                        ),
                    );
                    return None;
                }
                *value
            }
            Rhs::List(index, list_span) => {
                let id = self.check_list_use(*index, *list_span, field, field_span, scope)?;
                self.lists[id.0 as usize]
                    .elems
                    .iter()
                    .fold(0, |mask, elem| match elem {
                        Value::Int(v) => mask | v,
                        _ => mask,
                    })
            }
            other => {
                self.report_in(
                    scope,
                    Diagnostic::new(
                        Code::E0207,
                        format!(
                            "mismatched types: `{}` needs an integer, a constant or a list of them, found {}",
                            op.as_str(),
                            other.describe()
                        ),
                        other.span(),
                        "expected bits",
                    )
                    .with_label(field_span, format!("`{}` is {}", spec.name, spec.ty))
                    .with_help(format!("e.g. `{} has 0x1`", spec.name)),
                );
                return None;
            }
        };
        if mask == 0 {
            let zero_constant = |name: &ast::Name| {
                crate::check::constants::lookup(&name.text).filter(|c| c.value == 0)
            };
            let named = match rhs {
                ast::Operand::Name(name) => zero_constant(name).map(|c| c.name),
                ast::Operand::List { items, .. } => items.iter().find_map(|item| match item {
                    ast::Operand::Name(name) => zero_constant(name).map(|c| c.name),
                    _ => None,
                }),
                _ => None,
            };
            let message = match named {
                Some(name) => format!("`{name}` is 0, not a bit: `{}` tests nothing", op.as_str()),
                None => format!("`{}` with a mask of no bits", op.as_str()),
            };
            let help = if named == Some("O_RDONLY") {
                "opened for reading (O_RDONLY or O_RDWR) is `file.read`; opened read-only is `not file.write`".to_string()
            } else if op == ast::CmpOp::Has {
                "every value has all the bits of 0: test a bit that exists".to_string()
            } else {
                "no value has any bit of 0: test a bit that exists".to_string()
            };
            self.report_in(
                scope,
                Diagnostic::new(Code::E0290, message, rhs.span(), "no bit")
                    .with_label(field_span, format!("`{}` is tested here", spec.name))
                    .with_help(help),
            );
            return None;
        }
        Some(Expr::Test(Test {
            field,
            op: TestOp::Bits {
                mask,
                all: op == ast::CmpOp::Has,
            },
            span,
        }))
    }

    /// Checks that list `index` can be matched against `field`: same element
    /// type, every int within the field's width, every string within its
    /// length.
    fn check_list_use(
        &mut self,
        index: usize,
        use_span: Span,
        field: FieldId,
        field_span: Span,
        scope: &Scope,
    ) -> Option<ListId> {
        let info = self.list_infos[index].clone();
        let spec = field.spec();
        let kind = info.kind?;
        let list_name = self.lists[index].name.clone();
        if kind != kind_of(spec.ty) {
            let what = list_name
                .as_ref()
                .map_or("this list".to_string(), |n| format!("list `{n}`"));
            let mut diagnostic = Diagnostic::new(
                Code::E0208,
                format!(
                    "{what} holds {} values, but `{}` is {}",
                    kind.name(),
                    spec.name,
                    article(spec.ty.kind_name())
                ),
                use_span,
                format!("a list of {} values", kind.name()),
            )
            .with_label(field_span, format!("this field is {}", spec.ty));
            if list_name.is_some() {
                diagnostic = diagnostic.with_label(info.name_span, "declared here");
            }
            self.report_in(
                scope,
                diagnostic.with_help(format!(
                    "compare it with {} field, or use a list of {} values",
                    article(kind.name()),
                    spec.ty.kind_name()
                )),
            );
            return None;
        }
        if let Some((file, lines)) = &info.file {
            return self
                .check_file_list_use(index, file, lines, use_span, field, scope)
                .then_some(info.id);
        }
        let elems = self.lists[index].elems.clone();
        let mut ok = true;
        for (elem, elem_span) in elems.iter().zip(info.elem_spans.iter()) {
            match (elem, spec.ty) {
                (Value::Int(value), FieldType::Int { bits }) if *value > literal::int_max(bits) => {
                    let max = literal::int_max(bits);
                    self.report_in(
                        scope,
                        Diagnostic::new(
                            Code::E0209,
                            format!(
                                "list element {value} does not fit `{}` (u{bits})",
                                spec.name
                            ),
                            *elem_span,
                            format!("out of range 0..={max}"),
                        )
                        .with_label(
                            use_span,
                            format!("the list is compared with `{}` here", spec.name),
                        ),
                    );
                    ok = false;
                }
                (Value::Str(value), FieldType::Str { max }) => {
                    ok &= self
                        .check_str_len(value, *elem_span, field, max, Some(use_span), scope)
                        .is_some();
                }
                _ => {}
            }
        }
        ok.then_some(info.id)
    }

    /// A list file's entries against the field they are compared with:
    /// ints within its width (E0209), strings within its length (E0213),
    /// each reported with its `file:line` (at most [`MAX_FILE_ENTRY_ERRORS`]).
    fn check_file_list_use(
        &mut self,
        index: usize,
        file: &str,
        lines: &[u32],
        use_span: Span,
        field: FieldId,
        scope: &Scope,
    ) -> bool {
        let spec = field.spec();
        let path_span = self.list_infos[index].elem_spans.first().copied();
        let Some(path_span) = path_span else {
            return true;
        };
        let mut errors = 0;
        for (elem, line) in self.lists[index].elems.clone().iter().zip(lines) {
            let diagnostic = match (elem, spec.ty) {
                (Value::Int(value), FieldType::Int { bits }) if *value > literal::int_max(bits) => {
                    Diagnostic::new(
                        Code::E0209,
                        format!(
                            "{file}:{line}: list entry {value} does not fit `{}` (u{bits})",
                            spec.name
                        ),
                        path_span,
                        format!("out of range 0..={}", literal::int_max(bits)),
                    )
                }
                (Value::Str(value), FieldType::Str { max })
                    if value.len() > usize::from(max.saturating_sub(1)) =>
                {
                    Diagnostic::new(
                        Code::E0213,
                        format!(
                            "{file}:{line}: entry is {} bytes, longer than `{}` holds ({})",
                            value.len(),
                            spec.name,
                            max.saturating_sub(1)
                        ),
                        path_span,
                        format!("{} bytes", value.len()),
                    )
                }
                _ => continue,
            };
            errors += 1;
            if errors <= MAX_FILE_ENTRY_ERRORS {
                self.report_in(
                    scope,
                    diagnostic
                        .with_label(
                            use_span,
                            format!("the list is compared with `{}` here", spec.name),
                        )
                        .with_help("correct or remove the line"),
                );
            }
        }
        errors == 0
    }

    /// Reports E0213 when `value` is longer than `field` holds.
    pub(super) fn check_str_len(
        &mut self,
        value: &str,
        span: Span,
        field: FieldId,
        max: u16,
        use_span: Option<Span>,
        scope: &Scope,
    ) -> Option<()> {
        let limit = usize::from(max.saturating_sub(1));
        if value.len() <= limit {
            return Some(());
        }
        let name = field.spec().name;
        let help = if max == crate::check::hooks::COMM_LEN {
            let cut = crate::diag::clamp_to_char_boundary(value, limit);
            format!(
                "the kernel truncates command names to {limit} bytes: compare with \"{}\"",
                value[..cut].escape_debug()
            )
        } else {
            format!("`{name}` holds at most {limit} bytes")
        };
        let mut diagnostic = Diagnostic::new(
            Code::E0213,
            format!(
                "string is {} bytes, longer than `{name}` holds ({limit})",
                value.len()
            ),
            span,
            format!("{} bytes", value.len()),
        );
        if let Some(use_span) = use_span {
            diagnostic = diagnostic.with_label(use_span, format!("compared with `{name}` here"));
        }
        self.report_in(scope, diagnostic.with_help(help));
        None
    }
}

/// The help of a type mismatch: the comparison written with a literal of
/// the field's type, the found value converted when it can be (`"0"` → `0`,
/// `80` → `"80"`), else an example.
fn corrected_comparison(field: &str, op: ast::CmpOp, ty: FieldType, found: &Rhs<'_>) -> String {
    let converted: Option<String> = match (ty, found) {
        (FieldType::Int { .. }, Rhs::Str(lit)) => literal::parse_int(&lit.value)
            .ok()
            .map(|_| lit.value.clone()),
        (FieldType::Int { .. }, Rhs::Bool(value, _)) => Some(u8::from(*value).to_string()),
        (FieldType::Str { .. }, Rhs::Int(text, _) | Rhs::Ip(text, _)) => {
            Some(format!("\"{text}\""))
        }
        (FieldType::Str { .. }, Rhs::Const(_, name, _)) => Some(format!("\"{name}\"")),
        (FieldType::Str { .. }, Rhs::Bool(value, _)) => Some(format!("\"{value}\"")),
        (FieldType::Ip, Rhs::Str(lit)) => literal::parse_ip(&lit.value)
            .ok()
            .map(|_| lit.value.clone()),
        (FieldType::Bool, Rhs::Int(text, _)) => match *text {
            "0" => Some("false".to_string()),
            "1" => Some("true".to_string()),
            _ => None,
        },
        (FieldType::Bool, Rhs::Str(lit)) => {
            matches!(lit.value.as_str(), "true" | "false").then(|| lit.value.clone())
        }
        _ => None,
    };
    let op = op.as_str();
    match converted {
        Some(literal) => format!(
            "write the value as {}: `{field} {op} {literal}`",
            article(ty.kind_name())
        ),
        None => {
            let example = match ty {
                FieldType::Int { .. } => "0",
                FieldType::Str { .. } => "\"...\"",
                FieldType::Ip => "192.0.2.1",
                FieldType::Bool => "true",
            };
            format!(
                "`{field}` is {}: compare it with one, e.g. `{field} {op} {example}`",
                article(ty.kind_name())
            )
        }
    }
}

fn int_op(op: ast::CmpOp) -> CmpOp {
    match op {
        // `!=` is `Not` of `==`.
        ast::CmpOp::Eq | ast::CmpOp::Ne => CmpOp::Eq,
        ast::CmpOp::Lt => CmpOp::Lt,
        ast::CmpOp::Le => CmpOp::Le,
        ast::CmpOp::Gt => CmpOp::Gt,
        _ => CmpOp::Ge,
    }
}

fn str_op(op: ast::CmpOp) -> StrOp {
    match op {
        ast::CmpOp::StartsWith => StrOp::StartsWith,
        ast::CmpOp::EndsWith => StrOp::EndsWith,
        ast::CmpOp::Matches => StrOp::Matches,
        _ => StrOp::Contains,
    }
}

/// The parts of a path a condition can test.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum PathPart {
    /// Everything before the last `/` (`/` when that is the first byte,
    /// empty when there is none).
    Dir,
    /// Everything after the last `/` (the whole string when there is none).
    Name,
}

/// The path parts written as fields: `file.dir` is the `Dir` of
/// `file.path`, ...
pub(super) const PATH_PARTS: &[(&str, &str, PathPart)] = &[
    ("file.dir", "file.path", PathPart::Dir),
    ("file.name", "file.path", PathPart::Name),
    ("exec.dir", "exec.path", PathPart::Dir),
    ("exec.name", "exec.path", PathPart::Name),
    // The running executable's and a rename's or link's new path.
    ("proc.exe.dir", "proc.exe", PathPart::Dir),
    ("proc.exe.name", "proc.exe", PathPart::Name),
    ("file.newdir", "file.newpath", PathPart::Dir),
    ("file.newname", "file.newpath", PathPart::Name),
];

/// The base field and part of a path part name (`file.dir`).
pub(super) fn path_part(name: &str) -> Option<(FieldId, PathPart)> {
    PATH_PARTS
        .iter()
        .find(|(part, _, _)| *part == name)
        .and_then(|(_, base, part)| FieldId::from_name(base).map(|f| (f, *part)))
}

/// `value` with every glob character and `/` escaped: itself, byte for
/// byte.
fn glob_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '*' | '?' | '\\' | '/') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The glob patterns of the path (any of them) that say `part OP value`
/// (`==`, `in`: equality; `!=`, `not in` are its negation); `None` when
/// the test holds for every path (an empty prefix, suffix or substring).
pub(super) fn path_part_patterns(
    part: PathPart,
    op: ast::CmpOp,
    value: &str,
) -> Option<Vec<String>> {
    use ast::CmpOp as Op;
    let lit = glob_literal(value);
    Some(match part {
        PathPart::Name => {
            // The name is what follows the last `/`, or the whole string.
            let name = match op {
                Op::StartsWith | Op::EndsWith | Op::Contains if value.is_empty() => return None,
                Op::StartsWith => format!("{lit}*"),
                Op::EndsWith => format!("*{lit}"),
                Op::Contains => format!("*{lit}*"),
                // Within a name `**` is `*` (no `/` to cross).
                Op::Matches => collapse_double_stars(value),
                _ => lit,
            };
            vec![name.clone(), format!("**/{name}")]
        }
        PathPart::Dir => match op {
            Op::StartsWith if value.is_empty() => return None,
            // Every directory of an absolute path starts with `/`.
            Op::StartsWith if value == "/" => vec!["/**".to_string()],
            Op::StartsWith => vec![format!("{lit}**\\/*")],
            Op::Matches => {
                let mut out = vec![format!("{value}\\/*")];
                if crate::check::glob::glob_match(value.as_bytes(), b"/") {
                    out.push("/*".to_string());
                }
                if crate::check::glob::glob_match(value.as_bytes(), b"") {
                    out.push("*".to_string());
                }
                out
            }
            _ if value.is_empty() => vec!["*".to_string()],
            // `/x`, and `//x` (never resolved, but a name may be written so).
            _ if value == "/" => vec!["/*".to_string(), "\\/\\/*".to_string()],
            _ => vec![format!("{lit}\\/*")],
        },
    })
}

/// A name pattern with every run of stars one star.
fn collapse_double_stars(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut escaped = false;
    let mut after_star = false;
    for c in pattern.chars() {
        if c == '*' && !escaped && after_star {
            continue;
        }
        after_star = c == '*' && !escaped;
        escaped = c == '\\' && !escaped;
        out.push(c);
    }
    out
}
