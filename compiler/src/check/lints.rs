//! Warnings about rules that are accepted but cannot do what they say: a rule
//! that can never match because an earlier rule on the same hook matches
//! every event it does (the earlier rule has no `when`, the same condition,
//! or a subset of this rule's `and` terms).

use crate::check::policy::{CheckedRule, Expr, RuleKind, TestOp};
use crate::check::Checker;
use crate::diag::{Code, Diagnostic};

impl Checker<'_> {
    /// Reports rules shadowed by an earlier rule on the same hook.
    pub(super) fn lint_rules(&mut self, rules: &[CheckedRule]) {
        let decisive: Vec<&CheckedRule> =
            rules.iter().filter(|r| r.kind == RuleKind::Rule).collect();
        for (i, rule) in decisive.iter().enumerate() {
            let later_terms = conjuncts(rule.cond.as_ref());
            let shadow = decisive[..i].iter().find(|earlier| {
                earlier.hook == rule.hook
                    && conjuncts(earlier.cond.as_ref())
                        .iter()
                        .all(|term| later_terms.iter().any(|t| self.same_expr(term, t)))
            });
            if let Some(earlier) = shadow {
                let why = match &earlier.cond {
                    None => format!(
                        "`{}` has no `when`: it matches every `{}` event",
                        earlier.name,
                        earlier.hook.name()
                    ),
                    Some(_) if later_terms.len() == conjuncts(earlier.cond.as_ref()).len() => {
                        format!("`{}` has the same condition", earlier.name)
                    }
                    Some(_) => format!(
                        "`{}` tests a subset of this rule's conditions",
                        earlier.name
                    ),
                };
                self.report(
                    Diagnostic::new(
                        Code::W0003,
                        format!("rule `{}` can never match", rule.name),
                        rule.name_span,
                        "never reached",
                    )
                    .with_label(earlier.name_span, format!("`{}` matches first and decides", earlier.name))
                    .with_note(why)
                    .with_help("per hook the first matching rule decides: move the more specific rule first, or remove it"),
                );
            }
        }
    }

    /// Structural equality ignoring spans; lists compare by contents.
    fn same_expr(&self, a: &Expr, b: &Expr) -> bool {
        match (a, b) {
            (Expr::And(x), Expr::And(y)) | (Expr::Or(x), Expr::Or(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| self.same_expr(p, q))
            }
            (Expr::Not(x), Expr::Not(y)) => self.same_expr(x, y),
            (Expr::Test(x), Expr::Test(y)) => {
                x.field == y.field
                    && match (&x.op, &y.op) {
                        (TestOp::In(p), TestOp::In(q)) => {
                            self.lists[p.0 as usize].elems == self.lists[q.0 as usize].elems
                        }
                        (
                            TestOp::StrAny { op: o1, list: p },
                            TestOp::StrAny { op: o2, list: q },
                        ) => {
                            o1 == o2
                                && self.lists[p.0 as usize].elems == self.lists[q.0 as usize].elems
                        }
                        (p, q) => p == q,
                    }
            }
            _ => false,
        }
    }
}

/// The `and` terms of a condition; none for a rule without `when`.
fn conjuncts(cond: Option<&Expr>) -> Vec<&Expr> {
    match cond {
        None => Vec::new(),
        Some(Expr::And(terms)) => terms.iter().collect(),
        Some(other) => vec![other],
    }
}
