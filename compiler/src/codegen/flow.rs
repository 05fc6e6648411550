//! Control-flow facts instruction selection uses: which fields are in their
//! scratch slots at each point of the program (on every path, or on some),
//! and where a rule continues when one of its tests fails.
//!
//! Every jump goes forward, so the facts at a label are the merge of the
//! facts of the jumps to it seen so far and of the fall-through: one pass in
//! program order computes them exactly.
//!
//! A failed test of rule `i` also decides every later rule that requires
//! the same test (an `and` term of its condition): control continues at the
//! first later rule that does not, and past that rule's leading terms that
//! rule `i` has already found to hold (so a rule whose terms all hold there
//! matches at once). First match still decides: a skipped rule could not
//! have matched.

use std::collections::{BTreeSet, HashMap};

use crate::bpf::asm::{Asm, Label};
use crate::check::hooks::FieldId;
use crate::check::policy::CmpOp;
use crate::ir::lower::str_eq_term;
use crate::ir::print::cond_text;
use crate::ir::{Cond, Leaf, LeafKind, Program, Step, DISPATCH_MIN};

/// What r1 holds, when every path to a point leaves the same thing there.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum R1 {
    /// The value of an int or bool field (as in its slot).
    Value(FieldId),
    /// The length of a string field (as in its length slot).
    Len(FieldId),
}

/// Fields in their slots, and what r1 holds, at one point of the program.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Loaded {
    /// Loaded on every path to here.
    pub sure: BTreeSet<FieldId>,
    /// Loaded on some path to here.
    pub maybe: BTreeSet<FieldId>,
    /// The same on every path to here (tests read it instead of the slot).
    pub r1: Option<R1>,
    /// The argv block (`Layout::argv`) was read on every path to here.
    pub argv: bool,
    /// `exec.argc` (as the argv block holds it, read once) is at least this
    /// on every path to here: a test of it decided so.
    pub argc_at_least: u64,
    /// The stack slot of the ancestor walk holds the task pointer of the
    /// same ancestor (1: the parent) on every path to here.
    pub ancestor: Option<u8>,
}

impl Loaded {
    /// Merges the facts of another path into this point.
    pub fn merge(&mut self, other: &Loaded) {
        self.sure.retain(|f| other.sure.contains(f));
        self.maybe.extend(other.maybe.iter().copied());
        if self.r1 != other.r1 {
            self.r1 = None;
        }
        self.argv &= other.argv;
        self.argc_at_least = self.argc_at_least.min(other.argc_at_least);
        if self.ancestor != other.ancestor {
            self.ancestor = None;
        }
    }
}

/// The least value of the int field of `leaf` (an int test) that the test
/// holding (`holds`) or failing implies, if it implies one.
pub(super) fn at_least(leaf: &Leaf, holds: bool) -> Option<u64> {
    let LeafKind::Int { op, value } = leaf.kind else {
        return None;
    };
    match (op, holds) {
        (CmpOp::Gt, true) | (CmpOp::Le, false) => value.checked_add(1),
        (CmpOp::Ge | CmpOp::Eq, true) | (CmpOp::Lt | CmpOp::Ne, false) => Some(value),
        _ => None,
    }
}

/// Whether a failed first test of each of `items` (each an `and` whose
/// first term is the same int test `field > N`, with N never decreasing)
/// implies that every later item is false: `field > N` failing means every
/// later `field > M` (M >= N) fails too. `exec.args[*]` is such an `or`,
/// each element guarded by `exec.argc > N`.
pub(super) fn guarded_run(items: &[Cond]) -> bool {
    let guard = |item: &Cond| match item {
        Cond::And(terms) if terms.len() >= 2 => match &terms[0] {
            Cond::Leaf(Leaf {
                field,
                kind:
                    LeafKind::Int {
                        op: CmpOp::Gt,
                        value,
                    },
                ..
            }) if !field.spec().resolved_path => Some((*field, *value)),
            _ => None,
        },
        _ => None,
    };
    let Some(guards) = items.iter().map(guard).collect::<Option<Vec<_>>>() else {
        return false;
    };
    guards.len() >= 2
        && guards
            .windows(2)
            .all(|w| w[0].0 == w[1].0 && w[0].1 <= w[1].1)
}

/// Merges optional facts (`None`: the point is unreachable that way).
pub(super) fn merged(a: Option<Loaded>, b: Option<&Loaded>) -> Option<Loaded> {
    match (a, b) {
        (None, None) => None,
        (Some(a), None) => Some(a),
        (None, Some(b)) => Some(b.clone()),
        (Some(mut a), Some(b)) => {
            a.merge(b);
            Some(a)
        }
    }
}

/// A run of consecutive rules whose first `and` term is `field == value`
/// (the same field): one binary search on the field's value (an int
/// field's, or the group index a string field's hash lookup gives) jumps
/// to the first rule of the run with that value, past that term.
pub(super) struct Dispatch {
    /// The rules `start..end`.
    pub start: usize,
    pub end: usize,
    pub field: FieldId,
    /// Each value, ascending, and the rules of the run that require it, in
    /// order.
    pub values: Vec<(u64, Vec<usize>)>,
    /// Where a value none of the run's rules requires continues.
    pub miss: Label,
    /// A string run: its index in [`Program::str_dispatches`] (the values
    /// are group indexes).
    pub str_dispatch: Option<usize>,
}

/// A run of rules to dispatch, and each rule's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Run {
    pub start: usize,
    pub end: usize,
    pub field: FieldId,
    /// Per rule of the run, the value its first term requires.
    pub values: Vec<u64>,
    /// A string run's index in [`Program::str_dispatches`].
    pub str_dispatch: Option<usize>,
}

/// The labels of the rules of one program and where each failed test goes.
pub(super) struct RulePlan {
    /// Per rule, the label before each of its `and` terms, then the label
    /// of its match (after the last term).
    pub entries: Vec<Vec<Label>>,
    /// Per rule and term, where control goes when the term fails (unused
    /// for the first term of a dispatched rule).
    pub fail: Vec<Vec<Label>>,
    pub dispatches: Vec<Dispatch>,
    /// Per rule, the index of its dispatch, if it is in one.
    pub dispatch_of: Vec<Option<usize>>,
}

/// What identifies an `and` term across rules: its text; and, when it tests
/// a resolved path (whose undecided tests decide fail-closed, differently
/// for rules that refuse and rules that allow), whether the rule's undecided
/// condition matches — the same term may hold for one rule and fail for the
/// other on the same event.
pub(super) fn term_key(rule: &Step, term: &Cond) -> String {
    let text = cond_text(term);
    if term.fields().iter().any(|f| f.spec().resolved_path) {
        let matches = crate::interp::fails_closed_to_match(rule.action);
        format!("{text} (undecided: {matches})")
    } else {
        text
    }
}

/// `field == value` as a first term.
fn int_eq(rule: &Step) -> Option<(FieldId, u64)> {
    match rule.conjuncts().first() {
        Some(Cond::Leaf(Leaf {
            field,
            kind:
                LeafKind::Int {
                    op: CmpOp::Eq,
                    value,
                },
            ..
        })) => Some((*field, *value)),
        _ => None,
    }
}

/// The runs of rules to dispatch: runs of at least [`DISPATCH_MIN`] rules
/// whose first terms test the same int field for equality, and the
/// program's string dispatches, by start.
pub(super) fn dispatch_runs(program: &Program) -> Vec<Run> {
    let rules = &program.rules;
    let mut runs = Vec::new();
    let mut k = 0;
    while k < rules.len() {
        let Some((field, _)) = int_eq(&rules[k]) else {
            k += 1;
            continue;
        };
        let mut e = k + 1;
        while e < rules.len() && int_eq(&rules[e]).is_some_and(|(f, _)| f == field) {
            e += 1;
        }
        if e - k >= DISPATCH_MIN {
            runs.push(Run {
                start: k,
                end: e,
                field,
                values: rules[k..e]
                    .iter()
                    .map(|r| int_eq(r).expect("a run rule").1)
                    .collect(),
                str_dispatch: None,
            });
        }
        k = e;
    }
    for (d, dispatch) in program.str_dispatches.iter().enumerate() {
        let values = rules[dispatch.start..dispatch.end]
            .iter()
            .map(|rule| {
                let (_, lit, _) = str_eq_term(rule).expect("a dispatched rule");
                dispatch
                    .literals
                    .binary_search_by(|l| l.as_slice().cmp(lit))
                    .expect("a dispatched literal") as u64
            })
            .collect();
        runs.push(Run {
            start: dispatch.start,
            end: dispatch.end,
            field: dispatch.field,
            values,
            str_dispatch: Some(d),
        });
    }
    runs.sort_by_key(|r| r.start);
    runs
}

impl RulePlan {
    /// Plans `rules` with the dispatch `runs`. A failed test never skips a
    /// `barrier` rule (one that loads fields every later rule relies on)
    /// nor enters one past its start; only the first rule of a run may be
    /// a barrier (the run's rules are entered past their starts); `end` is
    /// where no rule matched.
    pub fn new(
        asm: &mut Asm,
        rules: &[Step],
        barriers: &[bool],
        runs: &[Run],
        end: Label,
    ) -> RulePlan {
        let n = rules.len();
        let keys: Vec<Vec<String>> = rules
            .iter()
            .map(|rule| {
                rule.conjuncts()
                    .iter()
                    .map(|term| term_key(rule, term))
                    .collect()
            })
            .collect();
        let entries: Vec<Vec<Label>> = rules
            .iter()
            .zip(&keys)
            .map(|(rule, terms)| {
                let mut labels = vec![asm.label(rule.name.clone())];
                for p in 1..=terms.len() {
                    let name = if p == terms.len() {
                        format!("{}.matched", rule.name)
                    } else {
                        format!("{}.{p}", rule.name)
                    };
                    labels.push(asm.label(name));
                }
                labels
            })
            .collect();
        let entry_or_end = |k: usize| if k >= n { end } else { entries[k][0] };

        // The dispatches.
        let mut dispatches = Vec::new();
        let mut dispatch_of = vec![None; n];
        for run in runs {
            let (k, e) = (run.start, run.end);
            let mut by_value: HashMap<u64, Vec<usize>> = HashMap::new();
            for (r, value) in (k..e).zip(&run.values) {
                by_value.entry(*value).or_default().push(r);
                dispatch_of[r] = Some(dispatches.len());
            }
            let mut values: Vec<(u64, Vec<usize>)> = by_value.into_iter().collect();
            values.sort_by_key(|(v, _)| *v);
            dispatches.push(Dispatch {
                start: k,
                end: e,
                field: run.field,
                values,
                miss: entry_or_end(e),
                str_dispatch: run.str_dispatch,
            });
        }
        // A jump into a run lands on its dispatch.
        let land = |k: usize, p: usize| -> Label {
            match dispatch_of.get(k).copied().flatten() {
                Some(d) => entries[dispatches[d].start][0],
                None if k >= n => end,
                None => entries[k][p],
            }
        };

        // For each term, the rules that require it; for each of those, the
        // first rule after the run of consecutive rules that all require it.
        let mut holders: HashMap<&str, Vec<usize>> = HashMap::new();
        for (k, terms) in keys.iter().enumerate() {
            let mut seen: BTreeSet<&str> = BTreeSet::new();
            for term in terms {
                if seen.insert(term) {
                    holders.entry(term).or_default().push(k);
                }
            }
        }
        let mut run_end: HashMap<(&str, usize), usize> = HashMap::new();
        for (term, ks) in &holders {
            let mut end = 0;
            for (idx, &k) in ks.iter().enumerate().rev() {
                if idx + 1 < ks.len() && ks[idx + 1] == k + 1 {
                    // `end` is the run end of the next holder.
                } else {
                    end = k + 1;
                }
                run_end.insert((term, k), end);
            }
        }
        let mut next_barrier = vec![n; n + 1];
        for k in (0..n).rev() {
            next_barrier[k] = if barriers[k] { k } else { next_barrier[k + 1] };
        }
        // Where control continues, from rule `from` on, once `failed` is
        // known false and `known` true.
        let continue_at = |from: usize, failed: &str, known: &BTreeSet<&str>| -> Label {
            let past = run_end.get(&(failed, from)).copied().unwrap_or(from);
            let k = past.min(next_barrier[from.min(n)]);
            if k >= n {
                return end;
            }
            if barriers[k] {
                return entries[k][0];
            }
            let p = keys[k]
                .iter()
                .take_while(|t| known.contains(t.as_str()))
                .count();
            land(k, p)
        };
        // Per dispatch, each value's rules in order.
        let same_value: Vec<HashMap<u64, &Vec<usize>>> = dispatches
            .iter()
            .map(|d| d.values.iter().map(|(v, rs)| (*v, rs)).collect())
            .collect();
        let fail = (0..n)
            .map(|i| {
                (0..keys[i].len())
                    .map(|j| {
                        let failed = keys[i][j].as_str();
                        let known: BTreeSet<&str> =
                            keys[i][..j].iter().map(String::as_str).collect();
                        let Some(d) = dispatch_of[i] else {
                            return continue_at(i + 1, failed, &known);
                        };
                        if j == 0 {
                            // The dispatch decides the first term.
                            return end;
                        }
                        // `field == value` holds: only the run's later rules
                        // with the same value can match before its end.
                        let value = runs[d].values[i - runs[d].start];
                        let later = same_value[d][&value]
                            .iter()
                            .copied()
                            .filter(|&r| r > i)
                            .find(|&r| !keys[r].iter().any(|t| t == failed));
                        match later {
                            Some(r) => {
                                // The dispatch decided its first term too
                                // (whose key may differ: a resolved path's
                                // undecided value, which no dispatched event
                                // has).
                                let p = 1 + keys[r][1..]
                                    .iter()
                                    .take_while(|t| known.contains(t.as_str()))
                                    .count();
                                entries[r][p]
                            }
                            None => continue_at(dispatches[d].end, failed, &known),
                        }
                    })
                    .collect()
            })
            .collect();
        RulePlan {
            entries,
            fail,
            dispatches,
            dispatch_of,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    fn int(name: &str, op: CmpOp, value: u64) -> Cond {
        Cond::Leaf(Leaf {
            field: FieldId::from_name(name).expect(name),
            kind: LeafKind::Int { op, value },
            span: Span::default(),
        })
    }

    fn guarded(name: &str, n: u64) -> Cond {
        Cond::And(vec![int(name, CmpOp::Gt, n), int("proc.uid", CmpOp::Eq, 0)])
    }

    #[test]
    fn int_tests_bound_the_field_from_below() {
        let leaf = |op, value| Leaf {
            field: FieldId::from_name("exec.argc").expect("argc"),
            kind: LeafKind::Int { op, value },
            span: Span::default(),
        };
        assert_eq!(at_least(&leaf(CmpOp::Gt, 3), true), Some(4));
        assert_eq!(at_least(&leaf(CmpOp::Gt, 3), false), None);
        assert_eq!(at_least(&leaf(CmpOp::Ge, 3), true), Some(3));
        assert_eq!(at_least(&leaf(CmpOp::Eq, 3), true), Some(3));
        assert_eq!(at_least(&leaf(CmpOp::Eq, 3), false), None);
        assert_eq!(at_least(&leaf(CmpOp::Lt, 3), false), Some(3));
        assert_eq!(at_least(&leaf(CmpOp::Le, 3), false), Some(4));
        assert_eq!(at_least(&leaf(CmpOp::Ne, 3), false), Some(3));
        assert_eq!(at_least(&leaf(CmpOp::Lt, 3), true), None);
        assert_eq!(at_least(&leaf(CmpOp::Gt, u64::MAX), true), None);
    }

    #[test]
    fn only_ascending_guards_of_one_field_make_a_guarded_run() {
        let args =
            |ns: &[u64]| -> Vec<Cond> { ns.iter().map(|n| guarded("exec.argc", *n)).collect() };
        assert!(guarded_run(&args(&[0, 1, 2])));
        assert!(guarded_run(&args(&[1, 1])));
        assert!(!guarded_run(&args(&[0])), "one item: nothing to skip");
        assert!(!guarded_run(&args(&[1, 0])), "a later guard may hold");
        let mut mixed = args(&[0, 1]);
        mixed.push(guarded("proc.pid", 2));
        assert!(!guarded_run(&mixed), "another field's guard");
        let mut bare = args(&[0, 1]);
        bare.push(int("exec.argc", CmpOp::Gt, 2));
        assert!(!guarded_run(&bare), "not an and");
        let ge = vec![
            Cond::And(vec![
                int("exec.argc", CmpOp::Ge, 1),
                int("proc.uid", CmpOp::Eq, 0),
            ]),
            guarded("exec.argc", 1),
        ];
        assert!(!guarded_run(&ge), "only `>` guards");
    }
}
