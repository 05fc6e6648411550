//! The abstract syntax tree of a `.pol` file, as written: names are not
//! resolved, literals are not typed (numbers and addresses keep their text),
//! and rule and test bodies are lists of clauses whose shape the checker
//! validates. Every node carries the [`Span`] of its source text.
//!
//! Depends only on `span`; knows nothing of hooks, fields or BPF.

use crate::span::Span;

/// A parsed `.pol` file: its declarations in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct File {
    pub decls: Vec<Decl>,
    /// Names of declarations the parser started but could not read (a parse
    /// error was reported); the checker does not report them as unknown.
    pub broken_names: Vec<String>,
}

/// A top-level declaration.
#[derive(Clone, Debug, PartialEq)]
pub enum Decl {
    List(ListDecl),
    Macro(MacroDecl),
    Rule(RuleDecl),
    Test(TestDecl),
    /// `allow CODE ["reason"]`: a warning accepted for this policy.
    Allow(AllowDecl),
}

/// `allow CODE ["reason"]`: the policy accepts warning CODE (e.g. W0060),
/// which is then not reported; the reason says why, for the reader.
#[derive(Clone, Debug, PartialEq)]
pub struct AllowDecl {
    pub code: Name,
    pub reason: Option<StrLit>,
    pub span: Span,
}

/// An identifier, possibly dotted (`proc.uid`, `file.open`, `shells`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

/// A string literal with its escapes decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrLit {
    /// The decoded value.
    pub value: String,
    /// The literal, quotes included.
    pub span: Span,
    /// For each byte of `value`, the source offset of the character or escape
    /// it came from, plus one final entry: the offset of the closing quote.
    pub offsets: Vec<u32>,
}

impl StrLit {
    /// The source span of `value[start..end]`.
    pub fn sub_span(&self, start: usize, end: usize) -> Span {
        let at = |i: usize| {
            self.offsets
                .get(i)
                .copied()
                .unwrap_or(self.span.end.saturating_sub(1))
        };
        let end_offset = if end > start {
            // End of the last byte's source text: the start of the next one.
            at(end)
        } else {
            at(start)
        };
        Span {
            start: at(start),
            end: end_offset,
        }
    }
}

/// `list NAME = [ITEM, ...]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ListDecl {
    pub name: Name,
    pub items: Vec<Operand>,
    /// The bracketed list (`file "PATH"` for a list file).
    pub items_span: Span,
    /// `list NAME = file "PATH"`: the path as written (`items` is empty).
    pub file: Option<StrLit>,
    pub span: Span,
}

/// `macro NAME = COND`.
#[derive(Clone, Debug, PartialEq)]
pub struct MacroDecl {
    pub name: Name,
    pub cond: Cond,
    pub span: Span,
}

/// Whether a rule-like declaration was written `rule` or `trace`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RuleKeyword {
    Rule,
    Trace,
}

/// `rule NAME { ... }` or `trace NAME { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleDecl {
    pub keyword: RuleKeyword,
    pub keyword_span: Span,
    pub name: Name,
    pub clauses: Vec<RuleClause>,
    pub span: Span,
}

/// An action keyword.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ActionKeyword {
    Allow,
    Audit,
    Deny,
    Kill,
}

impl ActionKeyword {
    /// The keyword as written.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKeyword::Allow => "allow",
            ActionKeyword::Audit => "audit",
            ActionKeyword::Deny => "deny",
            ActionKeyword::Kill => "kill",
        }
    }
}

/// One clause of a rule or trace body.
#[derive(Clone, Debug, PartialEq)]
pub enum RuleClause {
    /// `on HOOK`.
    On { hook: Name, span: Span },
    /// `when COND`.
    When { cond: Cond, span: Span },
    /// `ACTION ["message"]`.
    Action {
        action: ActionKeyword,
        message: Option<StrLit>,
        span: Span,
    },
    /// `emit FIELD, ...`.
    Emit { fields: Vec<Name>, span: Span },
}

impl RuleClause {
    /// The clause's source text.
    pub fn span(&self) -> Span {
        match self {
            RuleClause::On { span, .. }
            | RuleClause::When { span, .. }
            | RuleClause::Action { span, .. }
            | RuleClause::Emit { span, .. } => *span,
        }
    }
}

/// `test "NAME" { ... }`.
#[derive(Clone, Debug, PartialEq)]
pub struct TestDecl {
    pub name: StrLit,
    pub clauses: Vec<TestClause>,
    pub span: Span,
}

/// One `FIELD = VALUE` of a test's event.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldValue {
    pub field: Name,
    pub value: Operand,
}

/// One clause of a test body.
#[derive(Clone, Debug, PartialEq)]
pub enum TestClause {
    /// `on HOOK [with FIELD = VALUE, ...]`.
    On {
        hook: Name,
        fields: Vec<FieldValue>,
        span: Span,
    },
    /// `expect ACTION [by RULE]`.
    Expect {
        action: ActionKeyword,
        by: Option<Name>,
        span: Span,
    },
    /// `expect traces NAME, ...`, or `expect no traces` (empty).
    ExpectTraces { traces: Vec<Name>, span: Span },
}

impl TestClause {
    /// The clause's source text.
    pub fn span(&self) -> Span {
        match self {
            TestClause::On { span, .. }
            | TestClause::Expect { span, .. }
            | TestClause::ExpectTraces { span, .. } => *span,
        }
    }
}

/// A condition as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// `A or B or ...` (at least two terms).
    Or { terms: Vec<Cond>, span: Span },
    /// `A and B and ...` (at least two terms).
    And { terms: Vec<Cond>, span: Span },
    /// `not A`.
    Not { inner: Box<Cond>, span: Span },
    /// `LHS OP RHS`.
    Cmp {
        lhs: Operand,
        op: CmpOp,
        op_span: Span,
        rhs: Operand,
        span: Span,
    },
    /// A lone operand: a macro, a bool field (or a mistake).
    Bare(Operand),
}

impl Cond {
    /// The condition's source text (without enclosing parentheses).
    pub fn span(&self) -> Span {
        match self {
            Cond::Or { span, .. }
            | Cond::And { span, .. }
            | Cond::Not { span, .. }
            | Cond::Cmp { span, .. } => *span,
            Cond::Bare(operand) => operand.span(),
        }
    }
}

/// A comparison operator as written.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    StartsWith,
    EndsWith,
    Contains,
    In,
    NotIn,
    /// `int_field has MASK`: every bit of the mask (a constant, a number
    /// or a list of them, or-ed) is set.
    Has,
    /// `int_field has any [A, B]`: at least one of the bits is set.
    HasAny,
    /// `str_field matches "glob"` (or a list: any of them).
    Matches,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::StartsWith => "startswith",
            CmpOp::EndsWith => "endswith",
            CmpOp::Contains => "contains",
            CmpOp::In => "in",
            CmpOp::NotIn => "not in",
            CmpOp::Has => "has",
            CmpOp::HasAny => "has any",
            CmpOp::Matches => "matches",
        }
    }
}

/// One side of a comparison, a list element or a test value.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// A field, list, macro or constant name.
    Name(Name),
    /// An integer literal, as written (decimal, `0x`, `0o`, maybe invalid).
    Int {
        text: String,
        span: Span,
    },
    /// An IPv4/IPv6 address or network literal, as written (maybe invalid).
    Ip {
        text: String,
        span: Span,
    },
    Str(StrLit),
    Bool {
        value: bool,
        span: Span,
    },
    /// An inline list `[A, B, ...]`.
    List {
        items: Vec<Operand>,
        span: Span,
    },
}

impl Operand {
    /// The operand's source text.
    pub fn span(&self) -> Span {
        match self {
            Operand::Name(name) => name.span,
            Operand::Str(lit) => lit.span,
            Operand::Int { span, .. }
            | Operand::Ip { span, .. }
            | Operand::Bool { span, .. }
            | Operand::List { span, .. } => *span,
        }
    }
}
