//! The cost model: an upper bound on the instructions one run of each
//! program can execute, computed from the checked policy, and the E04xx
//! diagnostics for policies over the budget or over a limit the kernel
//! puts on every program (branches the verifier tracks, maps a program
//! refers to).
//!
//! The bound is conservative by construction: every leaf test, field load and
//! fixed part of a program is charged at least what instruction selection can
//! emit for it on any backend, and a program is charged the sum over every
//! rule and trace on its hook (no path executes a piece twice, because every
//! jump goes forward). Lowering only removes work (folding, dead rules), so
//! the real worst case — `Assembled::max_path`, printed by `polc build
//! --stats` — is never above this estimate; a property test checks that on
//! generated policies (`tests/properties.rs`, with the map count of
//! [`hook_set_maps`] against what each program refers to).
//!
//! Depends on the checked policy and the hook table only.

use std::collections::BTreeSet;

use crate::check::hooks::{FieldId, FieldType, Hook};
use crate::check::policy::{
    Action, CheckedPolicy, CheckedRule, Expr, ListId, StrOp, Test, TestOp, Value,
};
use crate::diag::{Code, Diagnostic};

/// Most instructions one run of a program may execute.
pub const MAX_PATH_BUDGET: u64 = 250_000;

/// Most branches the kernel verifier may have pending while it explores a
/// program (its own limit is 8192: "the sequence of jumps is too complex").
pub const MAX_PENDING_BRANCHES: u64 = 7_000;

/// Lists longer than this become set maps (one lookup whatever their size);
/// shorter ones are compared inline.
pub const INLINE_LIST_MAX: usize = 8;

/// Most maps one program may refer to (the kernel's `MAX_USED_MAPS`).
pub const MAX_MAPS_PER_PROGRAM: u64 = 64;

/// Maps one program may refer to besides set maps: the event ring buffer,
/// the counters, the config, the scratch buffer, and `polc_exe`,
/// `polc_features` and `polc_runtime` (attach programs) or the test context
/// (test runs).
pub const OWN_MAPS: u64 = 7;

/// Entry, config, scope check, scratch lookup and the attach-point guard.
const PROLOGUE: u64 = 60;
/// Counting, reporting and enforcing the decision, and the exit.
const DECIDED: u64 = 90;
/// A rule's match: set the decision and jump to it.
const RULE_MATCH: u64 = 4;
/// A trace's counter, event and loss accounting.
const TRACE_EMIT: u64 = 60;

/// Diagnostics about the cost of `policy`; an error rejects it.
pub fn check_cost(policy: &CheckedPolicy) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for hook in policy.hooks() {
        let bound = hook_bound(policy, hook);
        if bound > MAX_PATH_BUDGET {
            diagnostics.push(over_budget(policy, hook, bound));
            continue;
        }
        let pending = hook_pending_branches(policy, hook);
        if pending > MAX_PENDING_BRANCHES {
            diagnostics.push(too_many_branches(policy, hook, pending));
            continue;
        }
        let sets = hook_set_maps(policy, hook);
        if sets.len() as u64 + OWN_MAPS > MAX_MAPS_PER_PROGRAM {
            diagnostics.push(too_many_maps(policy, hook, &sets));
        }
    }
    diagnostics
}

/// The key layout of a set map, as lowering chooses it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SetClass {
    /// Exact ints (hash).
    Int,
    /// Exact strings (hash).
    Str,
    /// String prefixes (LPM trie).
    Prefix,
    /// IPv4 networks (LPM trie).
    Ip4,
    /// IPv6 networks (LPM trie).
    Ip6,
}

/// The set maps the programs of `hook` may refer to: one per list and key
/// layout that a test compares against with a lookup (a list of more than
/// [`INLINE_LIST_MAX`] distinct values), as lowering makes them, each with
/// the first test that needs it. At least as many as any program of the
/// hook uses (lowering may fold tests away, never add one).
pub fn hook_set_maps(policy: &CheckedPolicy, hook: Hook) -> Vec<(ListId, SetClass, &Test)> {
    let mut sets: Vec<(ListId, SetClass, &Test)> = Vec::new();
    for rule in policy.rules_on(hook) {
        let mut tests = Vec::new();
        if let Some(cond) = &rule.cond {
            collect_tests(cond, &mut tests);
        }
        for test in tests {
            for (list, class) in test_set_maps(policy, test) {
                if !sets.iter().any(|(l, c, _)| *l == list && *c == class) {
                    sets.push((list, class, test));
                }
            }
        }
    }
    sets
}

fn test_set_maps(policy: &CheckedPolicy, test: &Test) -> Vec<(ListId, SetClass)> {
    let distinct = |list: ListId, keep: &dyn Fn(&Value) -> bool| {
        policy
            .list(list)
            .elems
            .iter()
            .filter(|v| keep(v))
            .collect::<BTreeSet<_>>()
            .len()
    };
    let large = |n: usize| n > INLINE_LIST_MAX;
    match &test.op {
        TestOp::StrAny {
            op: StrOp::StartsWith,
            list,
        } if large(distinct(*list, &|_| true)) => vec![(*list, SetClass::Prefix)],
        TestOp::In(list) => match test.field.spec().ty {
            FieldType::Ip => {
                let v4 = distinct(
                    *list,
                    &|v| matches!(v, Value::Ip { addr, .. } if addr.is_ipv4()),
                );
                let v6 = distinct(
                    *list,
                    &|v| matches!(v, Value::Ip { addr, .. } if addr.is_ipv6()),
                );
                let mut out = Vec::new();
                if large(v4) {
                    out.push((*list, SetClass::Ip4));
                }
                if large(v6) {
                    out.push((*list, SetClass::Ip6));
                }
                out
            }
            FieldType::Int { .. } if large(distinct(*list, &|_| true)) => {
                vec![(*list, SetClass::Int)]
            }
            FieldType::Str { .. } if large(distinct(*list, &|_| true)) => {
                vec![(*list, SetClass::Str)]
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// How many branches the kernel verifier may have pending at once on the
/// programs of `hook`.
///
/// The verifier explores the fall-through side of every conditional jump
/// first and keeps the other side on a stack. Along the path it explores
/// first, every rule's condition pushes one entry per conditional jump; the
/// rule's match is pruned at the shared decision block and the last entry is
/// popped to continue with the next rule, so each rule leaves one fewer entry
/// than it has jumps, and each trace leaves all of them (plus the two of its
/// event). Measured on 6.18: a chain of rules with three jumps each fails
/// just past 2730 rules, exactly where this count crosses 8192.
pub fn hook_pending_branches(policy: &CheckedPolicy, hook: Hook) -> u64 {
    let mut total = 16;
    for rule in policy.rules_on(hook) {
        let jumps = rule.cond.as_ref().map_or(0, |c| expr_branches(policy, c));
        total += if rule.action == Action::Trace {
            jumps + 3
        } else {
            jumps.saturating_sub(1)
        };
    }
    total
}

fn expr_branches(policy: &CheckedPolicy, expr: &Expr) -> u64 {
    match expr {
        Expr::And(items) | Expr::Or(items) => items.iter().map(|e| expr_branches(policy, e)).sum(),
        Expr::Not(inner) => expr_branches(policy, inner),
        Expr::Test(test) => test_branches(policy, test),
    }
}

/// The string elements of a list.
fn list_strs(policy: &CheckedPolicy, list: ListId) -> Vec<&str> {
    policy
        .list(list)
        .elems
        .iter()
        .filter_map(|v| match v {
            Value::Str(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

/// Conditional jumps of a word-by-word compare of `len` bytes.
fn chunks(len: usize) -> u64 {
    (len / 8 + (len % 8).count_ones() as usize) as u64
}

/// Conditional jumps on the path through a leaf test where it holds.
fn test_branches(policy: &CheckedPolicy, test: &Test) -> u64 {
    let str_op = |op: StrOp, lit: &str| -> u64 {
        match op {
            StrOp::StartsWith => 1 + chunks(lit.len()),
            StrOp::EndsWith => 2 + chunks(lit.len()),
            StrOp::Contains => 2 + chunks(lit.len().saturating_sub(1)),
        }
    };
    match &test.op {
        TestOp::IntCmp { .. } | TestOp::IsTrue => 1,
        TestOp::StrEq(lit) => 1 + chunks(lit.len()),
        TestOp::Str { op, value } => str_op(*op, value),
        TestOp::StrAny { op, list } => {
            let elems = list_strs(policy, *list);
            if *op == StrOp::StartsWith && elems.len() > INLINE_LIST_MAX {
                2
            } else {
                elems.iter().map(|e| str_op(*op, e)).sum()
            }
        }
        TestOp::IpIn { addr, .. } => 1 + if addr.is_ipv4() { 1 } else { 2 },
        TestOp::In(list) => {
            let elems = &policy.list(*list).elems;
            match test.field.spec().ty {
                FieldType::Ip => {
                    let v4 = elems
                        .iter()
                        .filter(|v| matches!(v, Value::Ip { addr, .. } if addr.is_ipv4()))
                        .count() as u64;
                    let v6 = elems.len() as u64 - v4;
                    let family = |n: u64, per: u64| {
                        if n as usize > INLINE_LIST_MAX {
                            2
                        } else {
                            n * per
                        }
                    };
                    family(v4, 2) + family(v6, 3)
                }
                _ if elems.len() > INLINE_LIST_MAX => 2,
                FieldType::Str { .. } => list_strs(policy, *list)
                    .iter()
                    .map(|e| 1 + chunks(e.len()))
                    .sum(),
                _ => elems.len() as u64,
            }
        }
    }
}

/// The bound on instructions executed by one run of any program of `hook`.
///
/// Each field is charged one load. Codegen loads a field at most once per
/// event for the tests (see `codegen`), but a match loads the fields its
/// event captures unless every path to it has loaded them: at most one rule
/// matches per event, so the union of the rules' captured fields is charged
/// a second load, and every trace its own captured fields.
pub fn hook_bound(policy: &CheckedPolicy, hook: Hook) -> u64 {
    let mut fields: BTreeSet<FieldId> = BTreeSet::new();
    let mut rule_captures: BTreeSet<FieldId> = BTreeSet::new();
    let mut total = PROLOGUE + DECIDED;
    for rule in policy.rules_on(hook) {
        total += rule_cost(policy, rule);
        if let Some(cond) = &rule.cond {
            collect_fields(cond, &mut fields);
        }
        if rule.action != Action::Allow {
            let captured = rule.captured_fields();
            fields.extend(captured.iter().copied());
            if rule.action == Action::Trace {
                total += captured.iter().map(|f| load_cost(*f)).sum::<u64>();
            } else {
                rule_captures.extend(captured);
            }
        }
    }
    total
        + fields.iter().map(|f| load_cost(*f)).sum::<u64>()
        + rule_captures.iter().map(|f| load_cost(*f)).sum::<u64>()
}

/// A rule's or trace's own cost (its condition and its match), without loads.
fn rule_cost(policy: &CheckedPolicy, rule: &CheckedRule) -> u64 {
    let cond = rule.cond.as_ref().map_or(0, |c| expr_cost(policy, c));
    let matched = if rule.action == Action::Trace {
        TRACE_EMIT
    } else {
        RULE_MATCH
    };
    cond + matched
}

fn collect_fields(expr: &Expr, out: &mut BTreeSet<FieldId>) {
    match expr {
        Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| collect_fields(e, out)),
        Expr::Not(inner) => collect_fields(inner, out),
        Expr::Test(test) => {
            out.insert(test.field);
        }
    }
}

/// Cost of a condition: every leaf, plus the labels and jumps of and/or/not.
fn expr_cost(policy: &CheckedPolicy, expr: &Expr) -> u64 {
    match expr {
        Expr::And(items) | Expr::Or(items) => {
            2 + items.iter().map(|e| expr_cost(policy, e)).sum::<u64>()
        }
        Expr::Not(inner) => 1 + expr_cost(policy, inner),
        Expr::Test(test) => test_cost(policy, test),
    }
}

/// Word-by-word compare of `len` bytes: a load, a 64-bit immediate and a
/// jump per 8-byte word and per 4-, 2- and 1-byte tail.
fn bytes_eq_cost(len: usize) -> u64 {
    3 * (len as u64 / 8 + 3)
}

/// Cost of one leaf test (with the jump a negated or `or`-ed test adds).
pub fn test_cost(policy: &CheckedPolicy, test: &Test) -> u64 {
    let max = match test.field.spec().ty {
        FieldType::Str { max } => u64::from(max),
        _ => 0,
    };
    let str_op = |op: StrOp, lit: &str| -> u64 {
        let n = lit.len();
        match op {
            StrOp::StartsWith => 4 + bytes_eq_cost(n),
            StrOp::EndsWith => 8 + bytes_eq_cost(n),
            StrOp::Contains => {
                6 + max.saturating_sub(n as u64) * (6 + bytes_eq_cost(n.saturating_sub(1)))
            }
        }
    };
    match &test.op {
        TestOp::IntCmp { .. } => 6,
        TestOp::IsTrue => 4,
        TestOp::StrEq(lit) => 5 + bytes_eq_cost(lit.len()),
        TestOp::Str { op, value } => str_op(*op, value),
        TestOp::StrAny { op, list } => {
            let elems = list_strs(policy, *list);
            if *op == StrOp::StartsWith && elems.len() > INLINE_LIST_MAX {
                16
            } else {
                2 + elems.iter().map(|e| str_op(*op, e)).sum::<u64>()
            }
        }
        TestOp::IpIn { .. } => 24,
        TestOp::In(list) => {
            let elems = &policy.list(*list).elems;
            match test.field.spec().ty {
                FieldType::Ip => {
                    let v4 = elems
                        .iter()
                        .filter(|v| matches!(v, Value::Ip { addr, .. } if addr.is_ipv4()))
                        .count();
                    let v6 = elems.len() - v4;
                    let family = |n: usize| {
                        if n > INLINE_LIST_MAX {
                            14
                        } else {
                            24 * n as u64
                        }
                    };
                    2 + family(v4) + family(v6)
                }
                _ if elems.len() > INLINE_LIST_MAX => 14,
                FieldType::Str { .. } => {
                    2 + list_strs(policy, *list)
                        .iter()
                        .map(|e| 5 + bytes_eq_cost(e.len()))
                        .sum::<u64>()
                }
                _ => 2 + 6 * elems.len() as u64,
            }
        }
    }
}

/// Cost of loading a field once (including zero-filling a string that is
/// used as a hash key, and again when its read fails).
fn load_cost(field: FieldId) -> u64 {
    match field.spec().ty {
        FieldType::Str { max } => 40 + 2 * (u64::from(max) / 8),
        FieldType::Ip => 16,
        FieldType::Int { .. } | FieldType::Bool => 12,
    }
}

fn over_budget(policy: &CheckedPolicy, hook: Hook, bound: u64) -> Diagnostic {
    // The costliest rule, and in it the costliest test.
    let costliest = policy
        .rules_on(hook)
        .max_by_key(|rule| rule_cost(policy, rule))
        .expect("a hook over budget has rules");
    let mut leaves = Vec::new();
    if let Some(cond) = &costliest.cond {
        collect_tests(cond, &mut leaves);
    }
    let leaf = leaves.into_iter().max_by_key(|t| test_cost(policy, t));
    let n_rules = policy.rules_on(hook).count();
    let (span, label, help) = match leaf {
        Some(test) => {
            let cost = test_cost(policy, test);
            let help = match &test.op {
                TestOp::Str { op: StrOp::Contains, .. } | TestOp::StrAny { op: StrOp::Contains, .. } => {
                    "`contains` tries every start position of the field; prefer `startswith`, `endswith` \
                     or `==`, or test a shorter field"
                }
                _ => {
                    "compare a field against many values with one `in LIST` (a list of more than 8 \
                     values is a map lookup, whose cost does not grow with the list), or split the \
                     policy across hooks"
                }
            };
            (test.span, format!("this test costs up to {cost} instructions"), help)
        }
        None => (
            costliest.name_span,
            "this rule".to_string(),
            "merge rules that test the same field against different values into one rule with `in LIST`",
        ),
    };
    Diagnostic::new(
        Code::E0401,
        format!(
            "the `{hook}` programs could execute up to {bound} instructions per event, over the budget of {MAX_PATH_BUDGET}"
        ),
        span,
        label,
    )
    .with_label(
        costliest.name_span,
        format!("the costliest of the {n_rules} rules and traces on `{hook}`"),
    )
    .with_note("every rule and trace on a hook runs in one program; its worst case is the sum of their tests")
    .with_help(help)
}

fn too_many_branches(policy: &CheckedPolicy, hook: Hook, pending: u64) -> Diagnostic {
    let costliest = policy
        .rules_on(hook)
        .max_by_key(|rule| rule.cond.as_ref().map_or(0, |c| expr_branches(policy, c)))
        .expect("a hook over the limit has rules");
    let n_rules = policy.rules_on(hook).count();
    Diagnostic::new(
        Code::E0402,
        format!(
            "the `{hook}` programs have too many branches for the kernel verifier to explore \
             ({pending} pending at once, the limit is {MAX_PENDING_BRANCHES})"
        ),
        costliest.name_span,
        "the rule with the most comparisons",
    )
    .with_note(format!(
        "the {n_rules} rules and traces on `{hook}` run in one program; each comparison in a \
         rule's condition is a branch the verifier must come back to"
    ))
    .with_help(
        "merge rules that compare a field with different values into one rule with `in LIST` \
         (a list of more than 8 values is one map lookup), or use fewer, broader rules",
    )
}

fn too_many_maps(
    policy: &CheckedPolicy,
    hook: Hook,
    sets: &[(ListId, SetClass, &Test)],
) -> Diagnostic {
    let allowed = (MAX_MAPS_PER_PROGRAM - OWN_MAPS) as usize;
    let first_over = sets[allowed.min(sets.len() - 1)].2;
    let n_rules = policy.rules_on(hook).count();
    Diagnostic::new(
        Code::E0403,
        format!(
            "the `{hook}` programs would refer to {} maps, over the kernel's limit of {MAX_MAPS_PER_PROGRAM} per program",
            sets.len() as u64 + OWN_MAPS
        ),
        first_over.span,
        format!("this list is the {}th large list tested on `{hook}`", allowed + 1),
    )
    .with_note(format!(
        "the {n_rules} rules and traces on `{hook}` run in one program; every list of more than \
         {INLINE_LIST_MAX} values it tests is a map of its own (one per IP family for addresses), \
         and a program uses up to {OWN_MAPS} maps besides"
    ))
    .with_help(
        "merge lists that are compared with the same field into one list, or move some rules to \
         another hook",
    )
}

fn collect_tests<'a>(expr: &'a Expr, out: &mut Vec<&'a Test>) {
    match expr {
        Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| collect_tests(e, out)),
        Expr::Not(inner) => collect_tests(inner, out),
        Expr::Test(test) => out.push(test),
    }
}
