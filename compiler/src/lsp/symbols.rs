//! What the language server knows of one document's names: the lists,
//! macros, rules and traces it declares and every place that refers to
//! them (conditions, `expect ... by`, `expect traces`), which hook and which
//! kind of body a position is in, and the doc of each keyword.

use crate::check::hooks::Hook;
use crate::span::Span;
use crate::syntax::ast::{Cond, Decl, Operand, RuleClause, TestClause};
use crate::syntax::lexer::{self, Token};
use crate::syntax::parse;

/// The doc of a keyword, for hover and completion. Every keyword of the
/// grammar has one (a unit test checks, so a new keyword needs a line here).
pub fn keyword_doc(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "list" => "`list NAME = [...]`: a named set of literals of one type",
        "macro" => "`macro NAME = CONDITION`: a named condition, expanded where it is used",
        "rule" => "`rule NAME { on HOOK [when COND] ACTION [\"message\"] }`: decides; per hook the first matching rule decides",
        "trace" => "`trace NAME { on HOOK [when COND] emit FIELD, ... }`: records fields of every matching event, never decides",
        "test" => "`test \"NAME\" { on HOOK with FIELD = VALUE, ... expect ... }`: one event and its expected outcome, run by `polc test`",
        "on" => "`on HOOK`: the hook a rule, trace or test is on",
        "when" => "`when CONDITION`: the condition; without it a rule matches every event of its hook",
        "emit" => "`emit FIELD, ...`: the fields a trace records",
        "with" => "`with FIELD = VALUE, ...`: the field values of a test's event (others are zero or empty)",
        "expect" => "`expect ACTION [by RULE]`, `expect traces T, ...`, `expect no traces`: a test's expected outcome",
        "by" => "`expect ACTION by RULE`: the rule expected to decide",
        "traces" => "`expect traces T, ...`: the exact set of traces expected to fire",
        "no" => "`expect no traces`: no trace may fire",
        "and" => "both conditions (binds tighter than `or`)",
        "or" => "either condition (binds loosest)",
        "not" => "negation of the condition after it: `not a in b` is `not (a in b)`",
        "in" => "`FIELD in LIST`: membership in a named or inline list (ips: in any of the networks)",
        "startswith" => "`STR_FIELD startswith \"s\"` (or a list: any of them)",
        "endswith" => "`STR_FIELD endswith \"s\"` (or a list: any of them)",
        "contains" => "`STR_FIELD contains \"s\"` (or a list: any of them)",
        "has" => "`INT_FIELD has O_TRUNC`: every bit of the value (or of a list, or-ed) is set; `has any [A, B]`: at least one",
        "has any" => "`INT_FIELD has any [A, B]`: at least one of the bits is set",
        "matches" => "`STR_FIELD matches \"/home/*/.ssh/id_*\"`: a glob pattern (`*` within a directory, `**` across them, `?` one byte), or a list (any of them)",
        "allow" => "as a rule's action: allowed, no event; no later rule on the hook is evaluated. As a declaration, `allow W0060 [\"why\"]`: the policy accepts that warning (not reported)",
        "audit" => "allowed and reported",
        "deny" => "refused with EPERM (or the task killed where the backend cannot refuse), and reported",
        "kill" => "the task gets SIGKILL (and the operation is refused where the backend can), and reported",
        "true" => "the bool literal true",
        "false" => "the bool literal false",
        "=" => "gives a list, macro or test field its value",
        "==" => "equal",
        "!=" => "not equal",
        "<" => "less than (ints)",
        "<=" => "at most (ints)",
        ">" => "greater than (ints)",
        ">=" => "at least (ints)",
        _ => return None,
    })
}

/// What a name declares.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    List,
    Macro,
    Rule,
}

impl SymbolKind {
    fn what(self) -> &'static str {
        match self {
            SymbolKind::List => "list",
            SymbolKind::Macro => "macro",
            SymbolKind::Rule => "rule or trace",
        }
    }

    /// Lists and macros share one namespace, rules and traces another.
    fn namespace(self) -> u8 {
        match self {
            SymbolKind::List | SymbolKind::Macro => 0,
            SymbolKind::Rule => 1,
        }
    }
}

/// A declared name and its uses.
#[derive(Clone, Debug)]
pub struct Symbol {
    pub name: String,
    pub kind: SymbolKind,
    /// The name in its declaration.
    pub declaration: Span,
    /// The whole declaration.
    pub decl_span: Span,
    pub references: Vec<Span>,
}

impl Symbol {
    /// The declaration's name, then every reference.
    pub fn all_spans(&self) -> impl Iterator<Item = Span> + '_ {
        std::iter::once(self.declaration).chain(self.references.iter().copied())
    }
}

/// The kind of body a position is in.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Context {
    TopLevel,
    Rule,
    Test,
}

/// The names of one document.
pub struct Symbols<'s> {
    symbols: Vec<Symbol>,
    tokens: Vec<lexer::Spanned<'s>>,
}

impl<'s> Symbols<'s> {
    /// Reads the declarations and references of `text` (what parses of it).
    pub fn of(text: &'s str) -> Symbols<'s> {
        let (file, _) = parse(text);
        let mut symbols: Vec<Symbol> = Vec::new();
        let declare = |symbols: &mut Vec<Symbol>, name: &crate::syntax::ast::Name, kind, span| {
            // The first declaration of a name is the one references go to.
            if !symbols
                .iter()
                .any(|s| s.name == name.text && s.kind.namespace() == SymbolKind::namespace(kind))
            {
                symbols.push(Symbol {
                    name: name.text.clone(),
                    kind,
                    declaration: name.span,
                    decl_span: span,
                    references: Vec::new(),
                });
            }
        };
        for decl in &file.decls {
            match decl {
                Decl::List(list) => declare(&mut symbols, &list.name, SymbolKind::List, list.span),
                Decl::Macro(m) => declare(&mut symbols, &m.name, SymbolKind::Macro, m.span),
                Decl::Rule(rule) => declare(&mut symbols, &rule.name, SymbolKind::Rule, rule.span),
                Decl::Test(_) | Decl::Allow(_) => {}
            }
        }
        let mut uses: Vec<(String, Span, u8)> = Vec::new();
        for decl in &file.decls {
            match decl {
                Decl::List(_) | Decl::Allow(_) => {}
                Decl::Macro(m) => names_in(&m.cond, &mut uses),
                Decl::Rule(rule) => {
                    for clause in &rule.clauses {
                        if let RuleClause::When { cond, .. } = clause {
                            names_in(cond, &mut uses);
                        }
                    }
                }
                Decl::Test(test) => {
                    for clause in &test.clauses {
                        match clause {
                            TestClause::Expect { by: Some(by), .. } => {
                                uses.push((by.text.clone(), by.span, 1));
                            }
                            TestClause::ExpectTraces { traces, .. } => {
                                uses.extend(traces.iter().map(|t| (t.text.clone(), t.span, 1)));
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        for (name, span, namespace) in uses {
            if let Some(symbol) = symbols
                .iter_mut()
                .find(|s| s.name == name && s.kind.namespace() == namespace)
            {
                symbol.references.push(span);
            }
        }
        Symbols {
            symbols,
            tokens: lexer::lex(text).tokens,
        }
    }

    /// The symbol whose declaration or reference is at `offset`.
    pub fn symbol_at(&self, offset: usize) -> Option<Symbol> {
        self.symbols
            .iter()
            .find(|symbol| {
                symbol
                    .all_spans()
                    .any(|s| s.start as usize <= offset && offset <= s.end as usize)
            })
            .cloned()
    }

    /// The list, macro, rule or trace named `name`.
    pub fn declaration_of(&self, name: &str) -> Option<&Symbol> {
        self.symbols.iter().find(|s| s.name == name)
    }

    /// The declaration's text (its first 20 lines).
    pub fn declaration_text(&self, text: &str, symbol: &Symbol) -> String {
        let decl = text.get(symbol.decl_span.range()).unwrap_or("");
        let lines: Vec<&str> = decl.lines().take(20).collect();
        lines.join("\n")
    }

    /// The kind of another symbol in `symbol`'s namespace named `name`.
    pub fn clash(&self, symbol: &Symbol, name: &str) -> Option<&'static str> {
        self.symbols
            .iter()
            .find(|s| s.name == name && s.kind.namespace() == symbol.kind.namespace())
            .map(|s| s.kind.what())
    }

    fn names_of(&self, kind: SymbolKind) -> impl Iterator<Item = &str> {
        self.symbols
            .iter()
            .filter(move |s| s.kind == kind)
            .map(|s| s.name.as_str())
    }

    /// The declared lists.
    pub fn lists(&self) -> impl Iterator<Item = &str> {
        self.names_of(SymbolKind::List)
    }

    /// The declared macros.
    pub fn macros(&self) -> impl Iterator<Item = &str> {
        self.names_of(SymbolKind::Macro)
    }

    /// The declared rules and traces.
    pub fn rules(&self) -> impl Iterator<Item = &str> {
        self.names_of(SymbolKind::Rule)
    }

    /// The index of the last declaration keyword before `offset`.
    fn declaration_start(&self, offset: usize) -> Option<usize> {
        self.tokens.iter().rposition(|(start, token, _)| {
            *start < offset
                && matches!(
                    token,
                    Token::Rule | Token::Trace | Token::Test | Token::List | Token::Macro
                )
        })
    }

    /// The kind of body `offset` is in (by tokens: works on text that does
    /// not parse, as while typing).
    pub fn context_at(&self, offset: usize) -> Context {
        let Some(start) = self.declaration_start(offset) else {
            return Context::TopLevel;
        };
        let body = match self.tokens[start].1 {
            Token::Rule | Token::Trace => Context::Rule,
            Token::Test => Context::Test,
            _ => return Context::TopLevel,
        };
        let mut open = false;
        for (at, token, _) in &self.tokens[start..] {
            if *at >= offset {
                break;
            }
            match token {
                Token::LBrace => open = true,
                Token::RBrace => open = false,
                _ => {}
            }
        }
        if open {
            body
        } else {
            Context::TopLevel
        }
    }

    /// The hook of the rule, trace or test around `offset` (its `on`, before
    /// or after the position).
    pub fn hook_at(&self, offset: usize) -> Option<Hook> {
        let start = self.declaration_start(offset)?;
        let tokens = &self.tokens[start + 1..];
        let end = tokens
            .iter()
            .position(|(_, token, _)| {
                matches!(
                    token,
                    Token::Rule | Token::Trace | Token::Test | Token::List | Token::Macro
                )
            })
            .unwrap_or(tokens.len());
        tokens[..end]
            .windows(2)
            .find_map(|pair| match (pair[0].1, pair[1].1) {
                (Token::On, Token::Ident(hook)) => Hook::from_name(hook),
                _ => None,
            })
    }
}

/// Every name a condition uses: bare names (macros; namespace 0) and names
/// compared with (lists; namespace 0).
fn names_in(cond: &Cond, out: &mut Vec<(String, Span, u8)>) {
    match cond {
        Cond::Or { terms, .. } | Cond::And { terms, .. } => {
            for term in terms {
                names_in(term, out);
            }
        }
        Cond::Not { inner, .. } => names_in(inner, out),
        Cond::Bare(Operand::Name(name)) => out.push((name.text.clone(), name.span, 0)),
        Cond::Cmp { lhs, rhs, .. } => {
            for operand in [lhs, rhs] {
                if let Operand::Name(name) = operand {
                    out.push((name.text.clone(), name.span, 0));
                }
            }
        }
        Cond::Bare(_) => {}
    }
}
