//! The checked policy: what the checker hands to lowering and to the
//! interpreter.
//!
//! A `CheckedPolicy` is fully resolved: macros are expanded, list names are
//! replaced by [`ListId`]s (inline lists become anonymous lists), every
//! comparison is `field OP literal` with the literal already of the field's
//! type, and every string literal fits its field. Nothing after the checker
//! can reject a policy for a user error; it can only fail with an internal
//! error (a compiler bug).
//!
//! Depends only on `hooks` (field ids, hooks) and `span`.

use std::net::IpAddr;

use crate::check::hooks::{FieldId, Hook};
use crate::span::Span;

/// A checked, fully resolved policy.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedPolicy {
    /// The name the source was read from (for metadata and messages).
    pub source_name: String,
    /// SHA-256 of the source text, hex.
    pub source_hash: String,
    /// Every list, named and inline, indexed by [`ListId`].
    pub lists: Vec<ListDef>,
    /// Every `rule` and `trace`, in file order; `rules[i].id == i`.
    pub rules: Vec<CheckedRule>,
    /// The policy's own test cases, in file order.
    pub tests: Vec<PolicyTest>,
}

impl CheckedPolicy {
    /// The hooks that at least one rule or trace uses, in [`Hook::ALL`] order.
    pub fn hooks(&self) -> Vec<Hook> {
        Hook::ALL
            .into_iter()
            .filter(|hook| self.rules.iter().any(|rule| rule.hook == *hook))
            .collect()
    }

    /// The rules and traces on `hook`, in file order.
    pub fn rules_on(&self, hook: Hook) -> impl Iterator<Item = &CheckedRule> {
        self.rules.iter().filter(move |rule| rule.hook == hook)
    }

    /// The list a [`ListId`] refers to.
    pub fn list(&self, id: ListId) -> &ListDef {
        &self.lists[id.0 as usize]
    }
}

/// Index of a list in [`CheckedPolicy::lists`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListId(pub u32);

/// A list of literals, all of one type.
#[derive(Clone, Debug, PartialEq)]
pub struct ListDef {
    /// `None` for an inline list.
    pub name: Option<String>,
    pub elems: Vec<Value>,
    pub span: Span,
    /// `list NAME = file "PATH"`: the file's absolute path, as resolved at
    /// build time. Its contents can change at run time: lowering never
    /// folds on them.
    pub file: Option<String>,
}

/// A literal value of a field's type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    Int(u64),
    Str(String),
    /// An address with a prefix length; a plain address has the full length
    /// (32 for IPv4, 128 for IPv6). Bits past the prefix are zero.
    Ip {
        addr: IpAddr,
        prefix: u8,
    },
    Bool(bool),
}

/// Rule or trace.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum RuleKind {
    Rule,
    Trace,
}

/// What a matching rule does. Traces have [`Action::Trace`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Stop evaluating, allow, no event.
    Allow,
    /// Allow and report.
    Audit,
    /// Refuse (or kill where the backend cannot refuse) and report.
    Deny,
    /// Kill the task, refuse where the backend can, and report.
    Kill,
    /// A trace fired: report its `emit` fields.
    Trace,
}

impl Action {
    /// The keyword written in policies.
    pub fn keyword(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Audit => "audit",
            Action::Deny => "deny",
            Action::Kill => "kill",
            Action::Trace => "trace",
        }
    }
}

/// A checked `rule` or `trace`.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedRule {
    /// Index in [`CheckedPolicy::rules`]; also the rule id in events.
    pub id: u32,
    pub name: String,
    pub kind: RuleKind,
    pub hook: Hook,
    /// `None` when the rule has no `when` (it matches every event).
    pub cond: Option<Expr>,
    pub action: Action,
    /// The message template of a rule; `None` for traces and rules without one.
    pub message: Option<Template>,
    /// Fields a trace emits, in order; empty for rules.
    pub emit: Vec<FieldId>,
    /// The whole declaration.
    pub span: Span,
    /// The rule's name.
    pub name_span: Span,
    /// 1-based line of the declaration.
    pub line: u32,
}

impl CheckedRule {
    /// Fields this rule's events report: message placeholders, then
    /// `emit`s, each once, in first-use order (header fields included).
    pub fn captured_fields(&self) -> Vec<FieldId> {
        let mut fields = Vec::new();
        let placeholders = self.message.iter().flat_map(|template| {
            template.parts.iter().filter_map(|part| match part {
                TemplatePart::Field(field) => Some(*field),
                TemplatePart::Text(_) => None,
            })
        });
        for field in placeholders.chain(self.emit.iter().copied()) {
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        fields
    }
}

/// A message template: text with `{field}` placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
}

/// A piece of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplatePart {
    Text(String),
    Field(FieldId),
}

/// A checked condition. Macros are expanded; every leaf names a field.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// All of (at least two).
    And(Vec<Expr>),
    /// Any of (at least two).
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// A leaf test on one field.
    Test(Test),
}

/// A leaf condition on one field, with the span of the source expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Test {
    pub field: FieldId,
    pub op: TestOp,
    pub span: Span,
}

/// Comparison operators of int fields.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The operator as written in policies.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// String operators that take one literal or, meaning "any of", a list.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum StrOp {
    StartsWith,
    EndsWith,
    Contains,
}

/// What a [`Test`] checks. The literal types always match the field's type.
#[derive(Clone, Debug, PartialEq)]
pub enum TestOp {
    /// `int_field OP n`.
    IntCmp { op: CmpOp, value: u64 },
    /// `str_field == "s"` (`!=` is `Not` of this).
    StrEq(String),
    /// `str_field startswith|endswith|contains "s"`.
    Str { op: StrOp, value: String },
    /// `str_field startswith|endswith|contains LIST`: any element matches.
    StrAny { op: StrOp, list: ListId },
    /// `ip_field == addr` or `ip_field in CIDR` (a single network).
    IpIn { addr: IpAddr, prefix: u8 },
    /// `bool_field` (or `bool_field == true`).
    IsTrue,
    /// `field in LIST`: exact match of ints or strings; for ips, membership
    /// in any of the networks.
    In(ListId),
}

/// A `test "name" { ... }` block: one event and the expected outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyTest {
    pub name: String,
    pub hook: Hook,
    /// Field values of the event; fields not given are zero / empty.
    pub fields: Vec<(FieldId, Value)>,
    /// The expected decision: `Allow` when no rule (or an `allow` rule) matches.
    pub expect: Action,
    /// The rule expected to decide, when the test names one (`by NAME`).
    pub expect_rule: Option<u32>,
    /// The traces expected to fire, when the test names them; exact set.
    pub expect_traces: Option<Vec<u32>>,
    pub span: Span,
}
