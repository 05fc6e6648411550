//! Warnings about rules that are accepted but cannot do what they say: a rule
//! that can never match because an earlier rule on the same hook matches
//! every event it does (the earlier rule has no `when`, the same condition,
//! or a subset of this rule's `and` terms).
//!
//! Each `and` term gets a canonical key (structure without spans, lists by
//! their contents), so finding the earliest earlier rule whose terms are a
//! subset of a rule's is a few hash lookups per rule, not a scan of every
//! earlier rule: thousands of rules check in linear time.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::check::hooks::Hook;
use crate::check::policy::{CheckedRule, Expr, RuleKind, TestOp, Value};
use crate::check::Checker;
use crate::diag::{Code, Diagnostic};

/// Rules with more distinct `and` terms than this are compared with every
/// earlier rule instead of through their subsets.
const MAX_SUBSET_TERMS: usize = 10;

impl Checker<'_> {
    /// Reports rules shadowed by an earlier rule on the same hook.
    pub(super) fn lint_rules(&mut self, rules: &[CheckedRule]) {
        let decisive: Vec<&CheckedRule> =
            rules.iter().filter(|r| r.kind == RuleKind::Rule).collect();
        let keys = TermKeys::new(&self.lists);
        let term_sets: Vec<Vec<String>> = decisive
            .iter()
            .map(|rule| {
                let set: BTreeSet<String> = conjuncts(rule.cond.as_ref())
                    .into_iter()
                    .map(|term| keys.key(term))
                    .collect();
                set.into_iter().collect()
            })
            .collect();
        // The earliest rule with each (hook, term set).
        let mut first: HashMap<(Hook, &[String]), usize> = HashMap::new();
        for (i, rule) in decisive.iter().enumerate() {
            let terms = &term_sets[i];
            let shadow = if terms.len() <= MAX_SUBSET_TERMS {
                subsets(terms)
                    .filter_map(|subset| first.get(&(rule.hook, subset.as_slice())).copied())
                    .min()
            } else {
                (0..i).find(|&j| {
                    decisive[j].hook == rule.hook
                        && term_sets[j].iter().all(|t| terms.binary_search(t).is_ok())
                })
            };
            first.entry((rule.hook, terms.as_slice())).or_insert(i);
            let Some(j) = shadow else {
                continue;
            };
            let earlier = decisive[j];
            let later_terms = conjuncts(rule.cond.as_ref());
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

/// Canonical keys of conditions: equal exactly when the conditions are
/// structurally equal ignoring spans, with lists compared by contents.
struct TermKeys {
    /// Per list, the index of the first list with the same elements.
    list_class: Vec<usize>,
}

impl TermKeys {
    fn new(lists: &[crate::check::policy::ListDef]) -> TermKeys {
        let mut classes: HashMap<&[Value], usize> = HashMap::new();
        let list_class = lists
            .iter()
            .enumerate()
            .map(|(i, list)| *classes.entry(list.elems.as_slice()).or_insert(i))
            .collect();
        TermKeys { list_class }
    }

    fn key(&self, expr: &Expr) -> String {
        let mut out = String::new();
        self.write(expr, &mut out);
        out
    }

    fn write(&self, expr: &Expr, out: &mut String) {
        match expr {
            Expr::And(items) | Expr::Or(items) => {
                out.push_str(if matches!(expr, Expr::And(_)) {
                    "and("
                } else {
                    "or("
                });
                for item in items {
                    self.write(item, out);
                    out.push(',');
                }
                out.push(')');
            }
            Expr::Not(inner) => {
                out.push_str("not(");
                self.write(inner, out);
                out.push(')');
            }
            Expr::Test(test) => {
                let _ = write!(out, "{:?} ", test.field);
                match &test.op {
                    TestOp::In(list) => {
                        let _ = write!(out, "in list#{}", self.list_class[list.0 as usize]);
                    }
                    TestOp::StrAny { op, list } => {
                        let _ = write!(out, "{op:?} any list#{}", self.list_class[list.0 as usize]);
                    }
                    other => {
                        let _ = write!(out, "{other:?}");
                    }
                }
            }
        }
    }
}

/// Every subset of `terms` (sorted, so each is a valid map key).
fn subsets(terms: &[String]) -> impl Iterator<Item = Vec<String>> + '_ {
    (0u32..(1 << terms.len())).map(move |mask| {
        terms
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, t)| t.clone())
            .collect()
    })
}

/// The `and` terms of a condition; none for a rule without `when`.
fn conjuncts(cond: Option<&Expr>) -> Vec<&Expr> {
    match cond {
        None => Vec::new(),
        Some(Expr::And(terms)) => terms.iter().collect(),
        Some(other) => vec![other],
    }
}
