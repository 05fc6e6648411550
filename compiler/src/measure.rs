//! The cost measurement: the limits the kernel puts on every program,
//! measured on the programs that will be loaded, and the E04xx diagnostics
//! for a policy over one of them. It runs after lowering and codegen
//! (`compile::compile_source`), on every program of the build, so whatever
//! codegen emits for a field, a hook or a test is costed exactly, with no
//! estimate to keep in step.
//!
//! Three figures per program, each exact on the emitted code:
//!
//! - the longest path ([`Assembled::max_path`]): the most instructions one
//!   run executes (E0401, against [`MAX_PATH_BUDGET`]), and the program's
//!   size, what the verifier must visit at least once (E0401, against
//!   [`MAX_PROGRAM_INSNS`]);
//! - the pending branches ([`pending_branches`]): the kernel verifier
//!   explores the fall-through of every conditional jump first and pushes
//!   the jump's target on a stack, so at any moment the stack holds at most
//!   one entry per conditional jump whose fall-through the path being
//!   explored took. The most such jumps on one path bounds the stack with no
//!   assumption about pruning; the verifier refuses a program whose stack
//!   grows past 8192 entries (E0402, against [`MAX_PENDING_BRANCHES`]);
//! - the maps a program refers to (E0403, against [`MAX_MAPS_PER_PROGRAM`]).
//!
//! The programs measured are every program of the object and the `polc
//! test` program of each hook (`compile::build_test_run`), which reads its
//! fields from a test context and so folds less than the attach programs.
//!
//! And one per policy: the bytes of its string automata tables (E0404,
//! against [`MAX_AUTOMATA_BYTES`]).
//!
//! A program past [`MAX_PROGRAM_INSNS`] is not even finished: codegen stops
//! emitting it (`codegen::ProgramEnv::max_insns`), and [`unfinished_program`]
//! refuses it from what was emitted, so a policy of thousands of costly rules
//! is refused as fast as it is read.
//!
//! Each diagnostic points at the rule that costs most on the worst path
//! (and, for E0401, the test in it): codegen marks every instruction with
//! the rule and test it was emitted for ([`Origin`]).
//!
//! Depends on the checked policy, the IR (the test-run lowering) and the
//! assembled programs; knows nothing of ELF.

use std::collections::HashMap;

use crate::bpf::asm::{Assembled, Instruction, Jmp, Origin};
use crate::check::hooks::Hook;
use crate::check::policy::{CheckedPolicy, CheckedRule, Expr, ListId, StrOp, Test, TestOp};
use crate::compile::{Build, BuiltProgram};
use crate::diag::{Code, Diagnostic};
use crate::ir::LeafKind;
use crate::span::Span;

/// Most instructions one run of a program may execute. Far below what the
/// verifier allows a program to have (1,000,000 instructions) and measured
/// to keep the verifier's own work (instructions it processes, pending
/// paths included) under its limit of 1,000,000 (docs/testing.md).
pub const MAX_PATH_BUDGET: u32 = 250_000;

/// Most instructions one program may have. The verifier visits every
/// instruction at least once, and more than once where it cannot prune a
/// path it comes back to. The property tests check, on generated policies
/// and on the `contains`/`endswith` families, that the instructions it
/// processes stay within [`VERIFIER_WORK_FACTOR`] times the larger of a
/// program's size and its longest path, plus [`VERIFIER_WORK_SLACK`], so
/// this bound and [`MAX_PATH_BUDGET`] keep it below its limit of 1,000,000.
pub const MAX_PROGRAM_INSNS: u32 = 400_000;

/// The most instructions the verifier processes per instruction of the
/// larger of a program's size and its longest path, beyond
/// [`VERIFIER_WORK_SLACK`], as the property tests check it on the host
/// kernel: `processed <= FACTOR * max(size, max path) + SLACK`, at most
/// 900,000 within the bounds here.
pub const VERIFIER_WORK_FACTOR: u32 = 2;

/// What small programs may process beyond [`VERIFIER_WORK_FACTOR`] (their
/// few branches each revisit the shared decision block, and the bounded
/// walks of command lines, ancestors and cgroup names are explored path by
/// path: a generated exec program of 21,814 instructions that reads command
/// lines and ancestors made the verifier process 64,838; one with several
/// container-field walks 71,397, within 800 of the bound at 50,000). With
/// [`MAX_PROGRAM_INSNS`] the bound stays at 900,000, under the kernel's
/// 1,000,000.
pub const VERIFIER_WORK_SLACK: u32 = 100_000;

// The model's bound on the largest program stays under the kernel's limit
// of 1,000,000 processed instructions.
const _: () = assert!(VERIFIER_WORK_FACTOR * MAX_PROGRAM_INSNS + VERIFIER_WORK_SLACK < 1_000_000);

/// Most conditional jumps whose fall-through one path may take: the
/// verifier's limit is 8192 (`BPF_COMPLEXITY_LIMIT_JMP_SEQ`), and this
/// leaves a margin. Our programs give the verifier nothing else to push:
/// no callbacks (`bpf_loop`, timers), no iterators, no `may_goto`, and
/// polrt loads them as root, so the speculative-execution checks
/// (`sanitize_speculative_path`, for loaders without `CAP_PERFMON`) push
/// nothing either.
pub const MAX_PENDING_BRANCHES: u32 = 8_000;

/// Most maps one program may refer to (the kernel's `MAX_USED_MAPS`).
pub const MAX_MAPS_PER_PROGRAM: usize = 64;

/// Most bytes of string automata tables (`ir::automaton`) one policy may
/// have: they fill one array map value, which the kernel limits to
/// `KMALLOC_MAX_SIZE` (4 MiB on x86-64, 6.1 to 6.18).
pub const MAX_AUTOMATA_BYTES: u64 = 4 << 20;

/// What one program costs, and (from [`attributed_cost`]) the worst paths
/// attributed to rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgramCost {
    /// Instructions on the longest path.
    pub max_path: u32,
    /// Instructions of the program.
    pub insns: u32,
    /// Instructions of the program by the rule and test they were emitted
    /// for (empty from [`program_cost`]).
    pub insns_by_origin: Vec<(Origin, u32)>,
    /// Conditional jumps whose fall-through the worst path takes.
    pub pending: u32,
    /// Instructions of the longest path, by the rule and test they were
    /// emitted for (empty from [`program_cost`]).
    pub path_by_origin: Vec<(Origin, u32)>,
    /// Fall-through jumps of the worst pending path, by rule and test
    /// (empty from [`program_cost`]).
    pub pending_by_origin: Vec<(Origin, u32)>,
}

/// Measures one assembled program: its figures only.
pub fn program_cost(code: &Assembled) -> ProgramCost {
    analyse(code, false)
}

/// Measures one assembled program and attributes its worst paths and its
/// instructions to the rules and tests they were emitted for.
pub fn attributed_cost(code: &Assembled) -> ProgramCost {
    analyse(code, true)
}

fn analyse(code: &Assembled, attribute: bool) -> ProgramCost {
    let n = code.insns.len();
    let index_of_slot = |slot: u32| code.insns.binary_search_by_key(&slot, |(s, _)| *s).ok();
    // Per instruction, its kinds of successors: the fall-through (if any)
    // and the jump target (if any), as instruction indices.
    let mut fall = vec![None; n];
    let mut target = vec![None; n];
    let mut conditional = vec![false; n];
    for (i, (slot, insn)) in code.insns.iter().enumerate() {
        match jump_kind(insn) {
            JumpKind::None | JumpKind::Call => fall[i] = (i + 1 < n).then_some(i + 1),
            JumpKind::Exit => {}
            JumpKind::Goto => target[i] = index_of_slot(slot + 1 + insn.get_offset() as u32),
            JumpKind::Conditional => {
                fall[i] = (i + 1 < n).then_some(i + 1);
                target[i] = index_of_slot(slot + 1 + insn.get_offset() as u32);
                conditional[i] = true;
            }
        }
    }
    // Every jump goes forward: one pass from the end. For each figure, the
    // best value from each instruction and the successor that gives it.
    let mut longest = vec![0u32; n + 1];
    let mut longest_next = vec![None; n];
    let mut pending = vec![0u32; n + 1];
    let mut pending_next = vec![None; n];
    for i in (0..n).rev() {
        let via = |k: Option<usize>, table: &[u32]| k.map(|k| table[k]);
        let (lf, lt) = (via(fall[i], &longest), via(target[i], &longest));
        (longest[i], longest_next[i]) = match (lf, lt) {
            (Some(f), Some(t)) if t > f => (1 + t, target[i]),
            (Some(f), _) => (1 + f, fall[i]),
            (None, Some(t)) => (1 + t, target[i]),
            (None, None) => (1, None),
        };
        let (pf, pt) = (via(fall[i], &pending), via(target[i], &pending));
        let pushed = u32::from(conditional[i]);
        (pending[i], pending_next[i]) = match (pf, pt) {
            (Some(f), Some(t)) if t > f + pushed => (t, target[i]),
            (Some(f), _) => (f + pushed, fall[i]),
            (None, Some(t)) => (t, target[i]),
            (None, None) => (0, None),
        };
    }
    if !attribute {
        return ProgramCost {
            max_path: longest[0],
            insns: n as u32,
            pending: pending[0],
            ..ProgramCost::default()
        };
    }
    let origin_of = |i: usize| {
        let slot = code.insns[i].0;
        let k = code.origins.partition_point(|(s, _)| *s <= slot);
        k.checked_sub(1)
            .map_or(Origin::default(), |k| code.origins[k].1)
    };
    let tally = |next: &[Option<usize>], count: &dyn Fn(usize, Option<usize>) -> u32| {
        let mut by: HashMap<Origin, u32> = HashMap::new();
        let mut at = (n > 0).then_some(0);
        while let Some(i) = at {
            let step = count(i, next[i]);
            if step > 0 {
                *by.entry(origin_of(i)).or_default() += step;
            }
            at = next[i];
        }
        by.into_iter().collect()
    };
    let mut insns_by_origin: HashMap<Origin, u32> = HashMap::new();
    for k in 0..code.origins.len() {
        let (start, origin) = code.origins[k];
        let end = code.origins.get(k + 1).map_or(u32::MAX, |(slot, _)| *slot);
        let from = code.insns.partition_point(|(s, _)| *s < start);
        let to = code.insns.partition_point(|(s, _)| *s < end);
        *insns_by_origin.entry(origin).or_default() += (to - from) as u32;
    }
    let insns_by_origin: Vec<(Origin, u32)> = insns_by_origin.into_iter().collect();
    ProgramCost {
        max_path: longest[0],
        insns: n as u32,
        insns_by_origin,
        pending: pending[0],
        path_by_origin: tally(&longest_next, &|_, _| 1),
        pending_by_origin: tally(&pending_next, &|i, next| {
            u32::from(conditional[i] && next == fall[i])
        }),
    }
}

/// The most conditional jumps whose fall-through one path through `code`
/// takes: a bound on the verifier's stack of pending branches.
pub fn pending_branches(code: &Assembled) -> u32 {
    program_cost(code).pending
}

enum JumpKind {
    None,
    Call,
    Exit,
    Goto,
    Conditional,
}

fn jump_kind(insn: &Instruction) -> JumpKind {
    match insn.get_opcode() {
        bpf_ins::Opcode::Jump(jump) => match jump.get_operation() {
            Jmp::Exit => JumpKind::Exit,
            Jmp::Call => JumpKind::Call,
            Jmp::Absolute => JumpKind::Goto,
            _ => JumpKind::Conditional,
        },
        _ => JumpKind::None,
    }
}

/// Diagnostics about the cost of `build`, the programs of `policy`, and of
/// `test_runs`, its test-run builds; an error rejects the policy. At most
/// one per hook, for its worst program.
pub fn measure(policy: &CheckedPolicy, build: &Build, test_runs: &[Build]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for hook in policy.hooks() {
        let programs: Vec<&BuiltProgram> = build
            .programs
            .iter()
            .chain(test_runs.iter().flat_map(|b| &b.programs))
            .filter(|p| p.meta.hook == hook.name())
            .collect();
        let costs: Vec<ProgramCost> = programs.iter().map(|p| program_cost(&p.code)).collect();
        // The worst program by a figure, attributed (only when over).
        let worst = |figure: &dyn Fn(&ProgramCost) -> u32, limit: u32| {
            let (k, cost) = costs.iter().enumerate().max_by_key(|(_, c)| figure(c))?;
            (figure(cost) > limit).then(|| attributed_cost(&programs[k].code))
        };
        if let Some(cost) = worst(&|c| c.max_path, MAX_PATH_BUDGET) {
            diagnostics.push(over_budget(policy, hook, &cost));
            continue;
        }
        if let Some(cost) = worst(&|c| c.insns, MAX_PROGRAM_INSNS) {
            diagnostics.push(too_large(policy, hook, &cost, ""));
            continue;
        }
        if let Some(cost) = worst(&|c| c.pending, MAX_PENDING_BRANCHES) {
            diagnostics.push(too_many_branches(policy, hook, &cost));
            continue;
        }
        // (maps, of which set maps) of the widest program.
        let widest = programs
            .iter()
            .map(|p| {
                let sets = p.maps.iter().filter(|m| m.starts_with("polc_set")).count();
                (p.maps.len(), sets)
            })
            .max_by_key(|(maps, _)| *maps)
            .unwrap_or_default();
        if widest.0 > MAX_MAPS_PER_PROGRAM {
            let lists = set_lists(policy, hook);
            diagnostics.push(too_many_maps(policy, hook, widest, &lists));
        }
    }
    let automata = build.module.automata_len();
    if automata > MAX_AUTOMATA_BYTES {
        diagnostics.push(automata_too_large(build, automata));
    }
    diagnostics
}

fn automata_too_large(build: &Build, bytes: u64) -> Diagnostic {
    let module = &build.module;
    let (largest, def) = module
        .automata
        .iter()
        .enumerate()
        .max_by_key(|(_, a)| a.automaton.encoded_len())
        .expect("tables over the limit have automata");
    let span = module
        .programs
        .iter()
        .flat_map(|p| p.leaves())
        .find(|leaf| matches!(leaf.kind, LeafKind::Scan(id) if id.0 as usize == largest))
        .map_or(Span::default(), |leaf| leaf.span);
    let automaton = &def.automaton;
    Diagnostic::new(
        Code::E0404,
        format!(
            "the policy's string automata need {bytes} bytes of tables, over the limit of {MAX_AUTOMATA_BYTES}"
        ),
        span,
        format!(
            "this test's automaton has {} states for {} strings ({} bytes)",
            automaton.n_states,
            automaton.literals.len(),
            automaton.encoded_len()
        ),
    )
    .with_note(
        "each `contains` test and `endswith` list is an automaton with a state per distinct \
         prefix of its strings; all of their tables fill one map",
    )
    .with_help(
        "test fewer or shorter strings with `contains`, or match whole paths or their starts \
         with `in` and `startswith` lists",
    )
}

/// The lists of the set maps of `hook`'s programs, in the order its rules
/// first test them (as lowering makes them).
fn set_lists(policy: &CheckedPolicy, hook: Hook) -> Vec<ListId> {
    let module = crate::ir::lower::lower_test_program(policy, hook);
    module.sets.iter().filter_map(|s| s.list).collect()
}

/// The rule with the most of a figure, and its share.
fn costliest<'a>(
    policy: &'a CheckedPolicy,
    by: &[(Origin, u32)],
) -> Option<(&'a CheckedRule, u32)> {
    let mut per_rule: HashMap<u32, u32> = HashMap::new();
    for (origin, n) in by {
        if let Some(rule) = origin.rule {
            *per_rule.entry(rule).or_default() += n;
        }
    }
    per_rule
        .into_iter()
        .max_by_key(|(rule, n)| (*n, std::cmp::Reverse(*rule)))
        .and_then(|(rule, n)| policy.rules.get(rule as usize).map(|r| (r, n)))
}

/// The test of `rule` with the most of a figure, and its share.
fn costliest_test<'a>(rule: &'a CheckedRule, by: &[(Origin, u32)]) -> Option<(&'a Test, u32)> {
    let mut tests = Vec::new();
    if let Some(cond) = &rule.cond {
        collect_tests(cond, &mut tests);
    }
    let share = |span: Span| {
        by.iter()
            .filter(|(o, _)| o.rule == Some(rule.id) && o.test == Some(span))
            .map(|(_, n)| n)
            .sum::<u32>()
    };
    tests
        .into_iter()
        .map(|t| (t, share(t.span)))
        .filter(|(_, n)| *n > 0)
        .max_by_key(|(t, n)| (*n, std::cmp::Reverse(t.span.start)))
}

fn over_budget(policy: &CheckedPolicy, hook: Hook, cost: &ProgramCost) -> Diagnostic {
    let n_rules = policy.rules_on(hook).count();
    let bound = cost.max_path;
    let message = format!(
        "the `{hook}` programs could execute up to {bound} instructions per event, over the budget of {MAX_PATH_BUDGET}"
    );
    let note = "every rule and trace on a hook runs in one program; its worst case is the sum of their tests";
    let Some((rule, rule_share)) = costliest(policy, &cost.path_by_origin) else {
        return Diagnostic::new(
            Code::E0401,
            message,
            Span::default(),
            "the program's own code",
        )
        .with_note(note);
    };
    let (span, label, help) = match costliest_test(rule, &cost.path_by_origin) {
        Some((test, share)) => {
            let help = match &test.op {
                TestOp::Str {
                    op: StrOp::Contains | StrOp::EndsWith,
                    ..
                }
                | TestOp::StrAny {
                    op: StrOp::Contains | StrOp::EndsWith,
                    ..
                } => "each `contains` test and `endswith` list scans every byte the field can \
                      hold: test one field with one list rather than many separate tests, or \
                      prefer `startswith` or `==`",
                _ => {
                    "compare a field against many values with one `in LIST` (a list of more than 8 \
                     values is a map lookup, whose cost does not grow with the list), or split the \
                     policy across hooks"
                }
            };
            (
                test.span,
                format!("this test executes up to {share} instructions per event"),
                help,
            )
        }
        None => (
            rule.name_span,
            format!("this rule executes up to {rule_share} instructions per event"),
            "merge rules that test the same field against different values into one rule with `in LIST`",
        ),
    };
    Diagnostic::new(Code::E0401, message, span, label)
        .with_label(
            rule.name_span,
            format!("the costliest of the {n_rules} rules and traces on `{hook}`"),
        )
        .with_note(note)
        .with_help(help)
}

/// The E0401 diagnostic for a program codegen stopped emitting past
/// [`MAX_PROGRAM_INSNS`] instructions (`insns` of them, by origin).
pub fn unfinished_program(
    policy: &CheckedPolicy,
    hook: Hook,
    insns: usize,
    by_origin: Vec<(Origin, u32)>,
) -> Diagnostic {
    let cost = ProgramCost {
        insns: u32::try_from(insns).unwrap_or(u32::MAX),
        insns_by_origin: by_origin,
        ..ProgramCost::default()
    };
    too_large(policy, hook, &cost, "at least ")
}

/// E0401 for a program of more than [`MAX_PROGRAM_INSNS`] instructions
/// (`at_least` them, for one not emitted to the end).
fn too_large(policy: &CheckedPolicy, hook: Hook, cost: &ProgramCost, at_least: &str) -> Diagnostic {
    let n_rules = policy.rules_on(hook).count();
    let message = format!(
        "the `{hook}` programs have {at_least}{} instructions for the kernel verifier to check, \
         over the budget of {MAX_PROGRAM_INSNS}",
        cost.insns
    );
    let (span, label) = match costliest(policy, &cost.insns_by_origin) {
        Some((rule, share)) => (rule.name_span, format!("this rule has {share} of them")),
        None => (Span::default(), "the program's own code".to_string()),
    };
    Diagnostic::new(Code::E0401, message, span, label)
        .with_note(format!(
            "the {n_rules} rules and traces on `{hook}` run in one program; the verifier checks \
             every instruction of it, and each `contains` test or `endswith` list scans every \
             byte of its field"
        ))
        .with_help(
            "test a field against many strings with one list in one rule rather than a list \
             per rule, or split the rules across hooks",
        )
}

fn too_many_branches(policy: &CheckedPolicy, hook: Hook, cost: &ProgramCost) -> Diagnostic {
    let n_rules = policy.rules_on(hook).count();
    let pending = cost.pending;
    let message = format!(
        "the `{hook}` programs have too many branches for the kernel verifier to explore \
         ({pending} pending at once, the limit is {MAX_PENDING_BRANCHES})"
    );
    let (span, label) = match costliest(policy, &cost.pending_by_origin) {
        Some((rule, share)) => (
            rule.name_span,
            format!("this rule leaves up to {share} of them pending"),
        ),
        None => (Span::default(), "the program's own code".to_string()),
    };
    Diagnostic::new(Code::E0402, message, span, label)
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
    (maps, sets): (usize, usize),
    lists: &[ListId],
) -> Diagnostic {
    let n_rules = policy.rules_on(hook).count();
    let own = maps - sets;
    // The first test of the first list past the limit.
    let over = MAX_MAPS_PER_PROGRAM - own;
    let list = lists.get(over.min(lists.len().saturating_sub(1))).copied();
    let first_test = list.and_then(|list| {
        policy.rules_on(hook).find_map(|rule| {
            let mut tests = Vec::new();
            if let Some(cond) = &rule.cond {
                collect_tests(cond, &mut tests);
            }
            tests.into_iter().find(|t| match &t.op {
                TestOp::In(l) | TestOp::StrAny { list: l, .. } => *l == list,
                _ => false,
            })
        })
    });
    let (span, label) = match first_test {
        Some(test) => (
            test.span,
            format!(
                "this list is the {}th large list tested on `{hook}`",
                over + 1
            ),
        ),
        None => (Span::default(), "the hook's lists".to_string()),
    };
    Diagnostic::new(
        Code::E0403,
        format!(
            "the `{hook}` programs would refer to {maps} maps, over the kernel's limit of {MAX_MAPS_PER_PROGRAM} per program"
        ),
        span,
        label,
    )
    .with_note(format!(
        "the {n_rules} rules and traces on `{hook}` run in one program; every list of more than \
         {} values it tests is a map of its own (one per IP family for addresses), and this \
         program uses {own} maps besides",
        crate::ir::INLINE_LIST_MAX,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::asm::{Asm, Reg};

    fn origin(rule: u32) -> Origin {
        Origin {
            rule: Some(rule),
            test: None,
        }
    }

    #[test]
    fn pending_counts_the_fall_throughs_of_the_worst_path() {
        // Rule 0: three tests that each may jump to `next`; rule 1: two
        // tests that may jump to `out`. The worst path falls through all
        // of rule 0's (3) and all of rule 1's (2); taking a jump drops the
        // rest of its rule's.
        let mut asm = Asm::new();
        let next = asm.label("next");
        let out = asm.label("out");
        asm.origin(origin(0));
        for k in 0..3 {
            asm.jump_imm(Jmp::IfEqual, Reg::R1, k, next);
        }
        asm.bind(next);
        asm.origin(origin(1));
        for k in 0..2 {
            asm.jump_imm(Jmp::IfEqual, Reg::R1, k, out);
        }
        asm.mov_imm(Reg::R0, 1);
        asm.bind(out);
        asm.origin(Origin::default());
        asm.mov_imm(Reg::R0, 0);
        asm.exit();
        let code = asm.assemble().expect("assembles");
        let cost = attributed_cost(&code);
        assert_eq!(program_cost(&code).pending, 5);
        assert_eq!(cost.pending, 5);
        assert_eq!(pending_branches(&code), 5);
        assert_eq!(cost.max_path, 8);
        assert_eq!(cost.insns, 8);
        let share = |by: &[(Origin, u32)], o: Origin| {
            by.iter().find(|(x, _)| *x == o).map_or(0, |(_, n)| *n)
        };
        assert_eq!(share(&cost.pending_by_origin, origin(0)), 3);
        assert_eq!(share(&cost.pending_by_origin, origin(1)), 2);
        assert_eq!(share(&cost.insns_by_origin, origin(1)), 3);
        assert_eq!(share(&cost.path_by_origin, Origin::default()), 2);
    }

    #[test]
    fn a_jump_past_many_branches_leaves_none_of_them_pending() {
        // `if r1 == 0 goto end` over 10 tests: the path that takes it has
        // 0 pending; the one that falls through has 1 + 10.
        let mut asm = Asm::new();
        let end = asm.label("end");
        let skip = asm.label("skip");
        asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, skip);
        for k in 0..10 {
            asm.jump_imm(Jmp::IfEqual, Reg::R2, k, end);
        }
        asm.bind(skip);
        asm.bind(end);
        asm.exit();
        let code = asm.assemble().expect("assembles");
        assert_eq!(program_cost(&code).pending, 11);

        // A goto over the tests: no conditional jump on the path at all.
        let mut asm = Asm::new();
        let end = asm.label("end");
        asm.goto(end);
        let dead = asm.label("dead");
        asm.bind(dead);
        asm.jump_imm(Jmp::IfEqual, Reg::R2, 0, end);
        asm.bind(end);
        asm.exit();
        let code = asm.assemble().expect("assembles");
        assert_eq!(program_cost(&code).pending, 0);
    }

    #[test]
    fn a_program_past_the_size_budget_is_refused_before_it_is_finished() {
        // Each rule scans the path (about 2,100 instructions): emission
        // stops a little past 400,000 instructions, long before the last
        // rule, and the policy is refused at the first rule that costs most.
        let source: String = (0..1000)
            .map(|i| {
                format!("rule r{i} {{ on file.open when file.path contains \"/d{i}/\" deny }}\n")
            })
            .collect();
        let compiled = crate::compile::compile_source("t.pol", &source, 4096).expect("no ICE");
        let errors: Vec<_> = compiled
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].code, Code::E0401);
        assert!(
            errors[0].message.contains("at least"),
            "{}",
            errors[0].message
        );
        assert_eq!(
            &source[errors[0].primary_span().range()],
            "r0",
            "the first of the rules that cost most"
        );
        assert!(compiled.policy.is_none() && compiled.build.is_none());
    }

    #[test]
    fn the_twelve_string_contains_list_is_within_the_limits_and_its_cost_is_the_scan() {
        let list: Vec<String> = (0..12).map(|i| format!("\"/secret-{i:04}/\"")).collect();
        let source = format!(
            "rule r {{ on file.open when file.path contains [{}] deny }}\n",
            list.join(", ")
        );
        let compiled = crate::compile::compile_source("t.pol", &source, 4096).expect("builds");
        assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
        let build = compiled.build.expect("built");
        // What the scan adds to a program that renders the path anyway (the
        // path walk has branches of its own): a few dozen pending branches.
        let walk = "rule r { on file.open when file.path startswith \"/secret-0000/\" deny }\n";
        let walk = crate::compile::compile_source("t.pol", walk, 4096)
            .expect("builds")
            .build
            .expect("checks");
        for (program, baseline) in build.programs.iter().zip(&walk.programs) {
            let cost = program_cost(&program.code).pending;
            let baseline = program_cost(&baseline.code).pending;
            assert!(
                cost < baseline + 40,
                "{}: {cost} pending, {baseline} without the scan",
                program.meta.symbol
            );
        }
        // One string or twelve: the same scan.
        let one = "rule r { on file.open when file.path contains \"/secret-0000/\" deny }\n";
        let single = crate::compile::compile_source("t.pol", one, 4096)
            .expect("builds")
            .build
            .expect("checks");
        let figures = |b: &Build| {
            b.programs
                .iter()
                .map(|p| {
                    let c = program_cost(&p.code);
                    (c.max_path, c.pending)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(figures(&single), figures(&build));
    }

    #[test]
    fn container_fields_share_one_bounded_walk() {
        let cost = |source: &str| {
            let build = crate::compile::compile_source("t.pol", source, 4096)
                .expect("builds")
                .build
                .expect("checks");
            build
                .programs
                .iter()
                .filter(|p| p.meta.hook == "file.open")
                .map(|p| {
                    let c = program_cost(&p.code);
                    (c.max_path, c.pending)
                })
                .max()
                .expect("a file.open program")
        };
        let base = cost("rule r { on file.open when proc.uid == 1000 deny }\n");
        let one = cost("rule r { on file.open when container.id != \"\" deny }\n");
        let all = cost(
            "rule r { on file.open when container.id != \"\" and container.runtime == \"docker\" \
             and proc.in_container and container.short_id != \"x\" deny \"{container.id}\" }\n",
        );
        // The walk: 16 levels of a few dozen instructions, well within the
        // budgets; every container field of a program shares it.
        // (About 4,270 instructions and 1,200 branches since the walk also
        // knows systemd-nspawn's and LXC's named containers.)
        assert!(
            one.0 > base.0 + 1000 && one.0 < base.0 + 5000,
            "{one:?} vs {base:?}"
        );
        assert!(one.1 < 1500, "{one:?}");
        assert!(all.0 < one.0 + 400, "{all:?} vs {one:?}");
        assert!(all.1 < one.1 + 60, "{all:?} vs {one:?}");
    }
}
