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
use crate::ir::print::cond_text;
use crate::ir::Step;

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
}

impl Loaded {
    /// Merges the facts of another path into this point.
    pub fn merge(&mut self, other: &Loaded) {
        self.sure.retain(|f| other.sure.contains(f));
        self.maybe.extend(other.maybe.iter().copied());
        if self.r1 != other.r1 {
            self.r1 = None;
        }
    }
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

/// The labels of the rules of one program and where each failed test goes.
pub(super) struct RulePlan {
    /// Per rule, the label before each of its `and` terms, then the label
    /// of its match (after the last term).
    pub entries: Vec<Vec<Label>>,
    /// Per rule and term, where control goes when the term fails.
    pub fail: Vec<Vec<Label>>,
}

impl RulePlan {
    /// Plans `rules`. A failed test never skips a `barrier` rule (one that
    /// loads fields every later rule relies on) nor enters one past its
    /// start; `end` is where no rule matched.
    pub fn new(asm: &mut Asm, rules: &[Step], barriers: &[bool], end: Label) -> RulePlan {
        let keys: Vec<Vec<String>> = rules
            .iter()
            .map(|rule| rule.conjuncts().iter().map(cond_text).collect())
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
        let n = rules.len();
        let mut next_barrier = vec![n; n + 1];
        for k in (0..n).rev() {
            next_barrier[k] = if barriers[k] { k } else { next_barrier[k + 1] };
        }
        let fail = (0..n)
            .map(|i| {
                (0..keys[i].len())
                    .map(|j| {
                        let term = keys[i][j].as_str();
                        let past = run_end.get(&(term, i + 1)).copied().unwrap_or(i + 1);
                        let k = past.min(next_barrier[i + 1]);
                        if k >= n {
                            return end;
                        }
                        if barriers[k] {
                            return entries[k][0];
                        }
                        let known: BTreeSet<&str> =
                            keys[i][..j].iter().map(String::as_str).collect();
                        let p = keys[k]
                            .iter()
                            .take_while(|t| known.contains(t.as_str()))
                            .count();
                        entries[k][p]
                    })
                    .collect()
            })
            .collect();
        RulePlan { entries, fail }
    }
}
