//! Warnings about rules that are accepted but cannot do what they say: a rule
//! that can never match because an earlier rule on the same hook matches
//! every event it does (the earlier rule has no `when`, the same condition,
//! or a subset of this rule's `and` terms) (W0003); a string with pattern
//! characters compared with `==` (W0006); an enforcing rule that exempts
//! processes by their command name alone (W0008). Conditions that
//! contradict themselves (W0005) are in `never`.
//!
//! Each `and` term gets a canonical key (structure without spans, lists by
//! their contents), so finding the earliest earlier rule whose terms are a
//! subset of a rule's is a few hash lookups per rule, not a scan of every
//! earlier rule: thousands of rules check in linear time.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::check::hooks::Hook;
use crate::check::policy::{Action, CheckedRule, Expr, RuleKind, TestOp, Value};
use crate::check::Checker;
use crate::diag::{Code, Diagnostic};
use crate::span::Span;

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

/// The characters that make a string look like a glob pattern.
const PATTERN_CHARS: [char; 2] = ['*', '?'];

/// What to write instead of `==` with a pattern: the operator that fits
/// where its `*` is, or the language's own pattern operator if it has one.
fn pattern_help(value: &str) -> String {
    for operator in ["glob", "matches"] {
        if crate::syntax::lexer::is_keyword(operator) {
            return format!(
                "to match a pattern, use `{operator}` (`*` within a directory, `**` across them, `?` one byte): `{operator} \"{}\"`",
                value.escape_debug()
            );
        }
    }
    let trimmed_end = value.trim_end_matches(PATTERN_CHARS);
    let trimmed_start = value.trim_start_matches(PATTERN_CHARS);
    if !trimmed_end.contains(PATTERN_CHARS) && trimmed_end.len() < value.len() {
        format!("`==` compares exact strings: for a prefix write `startswith \"{trimmed_end}\"`")
    } else if !trimmed_start.contains(PATTERN_CHARS) && trimmed_start.len() < value.len() {
        format!("`==` compares exact strings: for a suffix write `endswith \"{trimmed_start}\"`")
    } else {
        "`==` compares exact strings: use `startswith`, `endswith` or `contains` for the parts"
            .to_string()
    }
}

/// Every leaf test of a condition, with whether it is under a `not`.
fn leaves<'e>(
    expr: &'e Expr,
    negated: bool,
    out: &mut Vec<(bool, &'e crate::check::policy::Test)>,
) {
    match expr {
        Expr::And(items) | Expr::Or(items) => {
            for item in items {
                leaves(item, negated, out);
            }
        }
        Expr::Not(inner) => leaves(inner, !negated, out),
        Expr::Test(test) => out.push((negated, test)),
    }
}

impl Checker<'_> {
    /// W0006: strings with `*` or `?` compared exactly.
    pub(super) fn lint_patterns(&mut self, rules: &[CheckedRule]) {
        let mut found: Vec<(Span, String)> = Vec::new();
        for rule in rules {
            let mut tests = Vec::new();
            if let Some(cond) = &rule.cond {
                leaves(cond, false, &mut tests);
            }
            for (_, test) in tests {
                let values: Vec<&str> = match &test.op {
                    TestOp::StrEq(value) => vec![value.as_str()],
                    TestOp::In(list) => self.lists[list.0 as usize]
                        .elems
                        .iter()
                        .filter_map(|v| match v {
                            Value::Str(s) => Some(s.as_str()),
                            _ => None,
                        })
                        .collect(),
                    _ => continue,
                };
                if let Some(value) = values.into_iter().find(|v| v.contains(PATTERN_CHARS)) {
                    if !found.iter().any(|(span, _)| *span == test.span) {
                        found.push((test.span, value.to_string()));
                    }
                }
            }
        }
        for (span, value) in found {
            self.report(
                Diagnostic::new(
                    Code::W0006,
                    format!(
                        "\"{}\" looks like a pattern, but is compared exactly",
                        value.escape_debug()
                    ),
                    span,
                    "`*` and `?` match only themselves here",
                )
                .with_help(pattern_help(&value)),
            );
        }
    }

    /// W0008: a `deny`/`kill` rule whose exemption is the command name alone.
    pub(super) fn lint_comm_exemptions(&mut self, rules: &[CheckedRule]) {
        let Some(comm) = crate::check::hooks::FieldId::from_name("proc.comm") else {
            return;
        };
        let exe = crate::check::hooks::FieldId::from_name("proc.exe");
        for rule in rules {
            if !matches!(rule.action, Action::Deny | Action::Kill) {
                continue;
            }
            let terms: Vec<&Expr> = match &rule.cond {
                Some(Expr::And(terms)) => terms.iter().collect(),
                Some(other) => vec![other],
                None => continue,
            };
            // Exemptions: the negated terms of the top-level `and`.
            let mut exemptions = Vec::new();
            for term in terms {
                if let Expr::Not(inner) = term {
                    leaves(inner, false, &mut exemptions);
                }
            }
            let by_exe = exemptions.iter().any(|(_, t)| Some(t.field) == exe);
            let Some((_, by_comm)) = exemptions.iter().find(|(_, t)| t.field == comm) else {
                continue;
            };
            if by_exe {
                continue;
            }
            self.report(
                Diagnostic::new(
                    Code::W0008,
                    format!(
                        "rule `{}` exempts processes by their command name alone",
                        rule.name
                    ),
                    by_comm.span,
                    "any process can take this name",
                )
                .with_label(rule.name_span, format!("`{}` enforces", rule.action.keyword()))
                .with_note("a command name is chosen by the process: renaming or copying a binary, `prctl(PR_SET_NAME)` or `exec -a` gives it any name")
                .with_help("exempt by the executable the kernel resolved: `not proc.exe in [\"/usr/bin/...\"]`"),
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

/// Whether the kernel can report `value` for container context field
/// `name`; `None` for other fields.
fn container_value_possible(name: &str, value: &str) -> Option<bool> {
    use crate::container::{Qos, Runtime, ID_LEN, POD_UID_LEN, SHORT_ID_LEN, UID_DASHES, UNKNOWN};
    let hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    // A named container's (systemd-nspawn, LXC) name: any cgroup name of at
    // most `max` bytes; one of exactly 12 hex digits is taken for docker's
    // short id.
    let named = |s: &str, max: usize| {
        s.len() <= max && !s.contains(['/', '\0']) && !(s.len() == SHORT_ID_LEN && hex(s))
    };
    let possible = value.is_empty()
        || match name {
            "container.id" => {
                value == UNKNOWN || (value.len() == ID_LEN && hex(value)) || named(value, ID_LEN)
            }
            "container.short_id" => {
                value == UNKNOWN
                    || (value.len() == SHORT_ID_LEN && hex(value))
                    || named(value, SHORT_ID_LEN)
            }
            "container.runtime" => Runtime::ALL.iter().any(|r| r.name() == value),
            "k8s.pod.qos" => Qos::ALL.iter().any(|q| q.name() == value),
            "k8s.pod.uid" => {
                value.len() == POD_UID_LEN
                    && value.char_indices().all(|(i, c)| {
                        if UID_DASHES.contains(&i) {
                            c == '-'
                        } else {
                            c.is_ascii_digit() || ('a'..='f').contains(&c)
                        }
                    })
            }
            _ => return None,
        };
    Some(possible)
}

impl Checker<'_> {
    /// W0070: a container context field compared with a value the kernel
    /// never reports for it.
    pub(super) fn lint_container_values(&mut self, rules: &[CheckedRule]) {
        let mut found: Vec<(Span, &'static str, String)> = Vec::new();
        for rule in rules {
            let mut tests = Vec::new();
            if let Some(cond) = &rule.cond {
                leaves(cond, false, &mut tests);
            }
            for (_, test) in tests {
                let name = test.field.spec().name;
                let values: Vec<&str> = match &test.op {
                    TestOp::StrEq(value) => vec![value.as_str()],
                    TestOp::In(list) => self.lists[list.0 as usize]
                        .elems
                        .iter()
                        .filter_map(|v| match v {
                            Value::Str(s) => Some(s.as_str()),
                            _ => None,
                        })
                        .collect(),
                    _ => continue,
                };
                let bad = values
                    .into_iter()
                    .find(|v| container_value_possible(name, v) == Some(false));
                if let Some(value) = bad {
                    if !found.iter().any(|(span, _, _)| *span == test.span) {
                        found.push((test.span, name, value.to_string()));
                    }
                }
            }
        }
        for (span, name, value) in found {
            let help = match name {
                "container.id" if value.len() == 12 => {
                    "`container.id` is the full 64-digit id: compare the 12-digit one with `container.short_id`"
                }
                "container.id" | "container.short_id" => {
                    "ids are lowercase hex digits: 64 in `container.id`, 12 in `container.short_id` (or `unknown`, or a systemd-nspawn or LXC container's name, at most 64 bytes with no `/`)"
                }
                "container.runtime" => {
                    "runtimes are `docker`, `containerd`, `crio`, `podman`, `cri`, `systemd-nspawn`, `lxc` and `unknown`"
                }
                "k8s.pod.qos" => "QoS classes are `guaranteed`, `burstable` and `besteffort`",
                _ => "pod uids are lowercase: 8-4-4-4-12 hex digits",
            };
            self.report(
                Diagnostic::new(
                    Code::W0070,
                    format!("`{name}` is never \"{}\"", value.escape_debug()),
                    span,
                    "the kernel never reports this value",
                )
                .with_help(help),
            );
        }
    }
}
