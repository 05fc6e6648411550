//! W0005: a condition that can never hold, because two of its `and` terms
//! contradict each other: one int field in two disjoint ranges
//! (`proc.uid == 0 and proc.uid == 1`, `net.dport < 10 and net.dport > 20`),
//! one ip field in two disjoint networks (or an IPv4 and an IPv6 one), an
//! address family with an address of the other family (`net.family ==
//! AF_INET and net.daddr in fc00::/7`), one string field equal to two
//! strings or to a string that does not start or end as another term asks,
//! a bool field both true and false.
//!
//! Works on the checked condition (macros expanded), on the terms of its
//! top-level `and`; a term under `or` or `not` is not looked into. Each
//! pair found is reported once per rule.

use std::net::IpAddr;

use crate::check::hooks::{FieldId, FieldType, AF_INET, AF_INET6};
use crate::check::policy::{CheckedRule, CmpOp, Expr, StrOp, Test, TestOp};
use crate::check::Checker;
use crate::diag::{Code, Diagnostic};
use crate::span::Span;

/// What one term says about one field.
enum Fact<'p> {
    /// The int value lies in `[low, high]`.
    Range { low: u64, high: u64 },
    /// The ip value is in this network.
    Net { addr: IpAddr, prefix: u8 },
    /// The string equals this.
    StrEq(&'p str),
    /// The string starts, ends with or contains this.
    Str { op: StrOp, value: &'p str },
    /// The bool is this.
    Bool(bool),
}

/// The fact a term states, if it is a simple one.
fn fact(expr: &Expr) -> Option<(FieldId, Fact<'_>, Span)> {
    let (test, negated) = match expr {
        Expr::Test(test) => (test, false),
        Expr::Not(inner) => match inner.as_ref() {
            Expr::Test(test) => (test, true),
            _ => return None,
        },
        _ => return None,
    };
    let Test { field, op, span } = test;
    let fact = match (op, negated) {
        (TestOp::IntCmp { op, value }, false) => {
            let v = *value;
            let (low, high) = match op {
                CmpOp::Eq => (v, v),
                CmpOp::Ne => return None,
                CmpOp::Lt => (0, v.checked_sub(1)?),
                CmpOp::Le => (0, v),
                CmpOp::Gt => (v.checked_add(1)?, u64::MAX),
                CmpOp::Ge => (v, u64::MAX),
            };
            Fact::Range { low, high }
        }
        (TestOp::IpIn { addr, prefix }, false) => Fact::Net {
            addr: *addr,
            prefix: *prefix,
        },
        (TestOp::StrEq(value), false) => Fact::StrEq(value),
        (TestOp::Str { op, value }, false) => Fact::Str { op: *op, value },
        (TestOp::IsTrue, negated) => Fact::Bool(!negated),
        _ => return None,
    };
    Some((*field, fact, *span))
}

/// Why two facts about one field cannot both hold, if they cannot.
fn conflict(field: FieldId, a: &Fact<'_>, b: &Fact<'_>) -> Option<String> {
    let name = field.spec().name;
    match (a, b) {
        (Fact::Range { low: l1, high: h1 }, Fact::Range { low: l2, high: h2 })
            if h1 < l2 || h2 < l1 =>
        {
            Some(format!(
                "`{name}` cannot be in {} and in {}",
                range(*l1, *h1),
                range(*l2, *h2)
            ))
        }
        (
            Fact::Net {
                addr: a1,
                prefix: p1,
            },
            Fact::Net {
                addr: a2,
                prefix: p2,
            },
        ) => {
            if a1.is_ipv4() != a2.is_ipv4() {
                Some(format!(
                    "`{name}` cannot be an IPv4 and an IPv6 address at once"
                ))
            } else if !overlap(*a1, *p1, *a2, *p2) {
                Some(format!(
                    "`{name}` cannot be in {a1}/{p1} and in {a2}/{p2}: they do not overlap"
                ))
            } else {
                None
            }
        }
        (Fact::StrEq(x), Fact::StrEq(y)) if x != y => {
            Some(format!("`{name}` cannot equal both \"{x}\" and \"{y}\""))
        }
        (Fact::StrEq(x), Fact::Str { op, value }) | (Fact::Str { op, value }, Fact::StrEq(x)) => {
            let holds = match op {
                StrOp::StartsWith => x.starts_with(value),
                StrOp::EndsWith => x.ends_with(value),
                StrOp::Contains => x.contains(value),
                StrOp::Matches => crate::check::glob::glob_match(value.as_bytes(), x.as_bytes()),
            };
            let word = match op {
                StrOp::StartsWith => "start with",
                StrOp::EndsWith => "end with",
                StrOp::Contains => "contain",
                StrOp::Matches => "match",
            };
            (!holds).then(|| format!("`{name}` equal to \"{x}\" does not {word} \"{value}\""))
        }
        (Fact::Bool(x), Fact::Bool(y)) if x != y => {
            Some(format!("`{name}` cannot be true and false at once"))
        }
        _ => None,
    }
}

fn range(low: u64, high: u64) -> String {
    match (low, high) {
        (l, h) if l == h => format!("{{{l}}}"),
        (0, h) => format!("[0, {h}]"),
        (l, u64::MAX) => format!("[{l}, ...]"),
        (l, h) => format!("[{l}, {h}]"),
    }
}

/// Whether two networks of one family share an address (one contains the
/// other).
fn overlap(a1: IpAddr, p1: u8, a2: IpAddr, p2: u8) -> bool {
    let prefix = u32::from(p1.min(p2));
    match (a1, a2) {
        (IpAddr::V4(x), IpAddr::V4(y)) => {
            let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
            u32::from(x) & mask == u32::from(y) & mask
        }
        (IpAddr::V6(x), IpAddr::V6(y)) => {
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            u128::from(x) & mask == u128::from(y) & mask
        }
        _ => false,
    }
}

impl Checker<'_> {
    /// Reports rules and traces whose condition can never hold.
    pub(super) fn lint_contradictions(&mut self, rules: &[CheckedRule]) {
        let family = FieldId::from_name("net.family");
        for rule in rules {
            let terms: Vec<&Expr> = match &rule.cond {
                Some(Expr::And(terms)) => terms.iter().collect(),
                Some(other) => vec![other],
                None => continue,
            };
            let facts: Vec<(FieldId, Fact<'_>, Span)> =
                terms.into_iter().filter_map(fact).collect();
            let mut found: Option<(Span, Span, String)> = None;
            'pairs: for (i, (f1, a, s1)) in facts.iter().enumerate() {
                for (f2, b, s2) in &facts[i + 1..] {
                    if f1 == f2 {
                        if let Some(why) = conflict(*f1, a, b) {
                            found = Some((*s1, *s2, why));
                            break 'pairs;
                        }
                    }
                    // The family of an address against the family field.
                    for ((fam, fam_fact, fam_span), (ip, ip_fact, ip_span)) in
                        [((f1, a, s1), (f2, b, s2)), ((f2, b, s2), (f1, a, s1))]
                    {
                        let (Fact::Range { low, high }, Fact::Net { addr, .. }) =
                            (fam_fact, ip_fact)
                        else {
                            continue;
                        };
                        if Some(*fam) != family || ip.spec().ty != FieldType::Ip || low != high {
                            continue;
                        }
                        let wants = if addr.is_ipv4() { AF_INET } else { AF_INET6 };
                        if *low != wants {
                            let (this, other) = if addr.is_ipv4() {
                                ("IPv4", "AF_INET6")
                            } else {
                                ("IPv6", "AF_INET")
                            };
                            let why = format!(
                                "an {this} address is never of family {low} ({other}); `{}` is matched by its own family only",
                                ip.spec().name
                            );
                            found = Some((*fam_span, *ip_span, why));
                            break 'pairs;
                        }
                    }
                }
            }
            let Some((first, second, why)) = found else {
                continue;
            };
            let (first, second) = if first.start <= second.start {
                (first, second)
            } else {
                (second, first)
            };
            let what = match rule.kind {
                crate::check::policy::RuleKind::Rule => "rule",
                crate::check::policy::RuleKind::Trace => "trace",
            };
            self.report(
                Diagnostic::new(
                    Code::W0005,
                    format!("the condition of {what} `{}` can never hold", rule.name),
                    second,
                    "contradicts the other term",
                )
                .with_label(first, "this term")
                .with_note(why)
                .with_help(format!(
                    "the {what} never matches: fix the values, or join the terms with `or`"
                )),
            );
        }
    }
}
