//! Lowering of a checked policy to decision programs: folding, dead-rule
//! removal, list strategy (inline compares, set maps, or one string
//! automaton for `contains` and long `endswith` lists) and each step's
//! captured fields.
//!
//! Folding uses the interpreter's own leaf semantics ([`interp::eval_test`]),
//! so a folded test decides exactly as the interpreter would.

use std::net::IpAddr;

use crate::check::hooks::{FieldId, FieldSource, FieldType, Hook};
use crate::check::policy::{
    Action, CheckedPolicy, CmpOp, Expr, ListId, StrOp, Test, TestOp, Value,
};
use crate::interp::{self, FieldValue};
use crate::ir::automaton::{Automaton, ScanKind};
use crate::ir::{
    dispatch_value, AutomatonDef, AutomatonId, Cond, IdentitySet, IdentitySetId, Leaf, LeafKind,
    Module, Net, PrefixDispatch, Program, SetDef, SetId, SetKind, SetSource, SharedRun, Step,
    StrDispatch, Target, DISPATCH_MIN, INLINE_LIST_MAX, PREFIX_COMMON_MIN, PREFIX_DISPATCH_MAX,
};

/// Longest prefix an LPM trie key holds (`LPM_DATA_SIZE_MAX`).
const LPM_DATA_MAX: usize = 256;

/// Lowers every hook of `policy` to one program per backend attach point.
pub fn lower(policy: &CheckedPolicy) -> Module {
    let mut sets = SetTable::default();
    let mut identities = IdentityTable::default();
    let mut programs = Vec::new();
    for hook in policy.hooks() {
        for backend in hook.spec().backends {
            if !backend_can_read(policy, hook, backend) {
                continue;
            }
            for attach in backend.attach {
                let known = |field: FieldId| match field.source(attach) {
                    Some(FieldSource::ConstInt(v)) if field.spec().ty == FieldType::Bool => {
                        Some(FieldValue::Bool(v != 0))
                    }
                    Some(FieldSource::ConstInt(v)) => Some(FieldValue::Int(v)),
                    Some(FieldSource::EmptyStr) => Some(FieldValue::Str(Vec::new())),
                    _ => None,
                };
                // Ip fields an attach point only ever sees as IPv4.
                let ipv4_only =
                    |field: FieldId| field.source(attach) == Some(FieldSource::SockAddrCtxIp4);
                let target = Target::Attach { backend, attach };
                let program = lower_program(
                    policy,
                    hook,
                    target,
                    &known,
                    &ipv4_only,
                    &mut sets,
                    &mut identities,
                );
                // A program where only deny and kill act, and nothing
                // denies or kills, need not exist.
                let acts = program
                    .rules
                    .iter()
                    .any(|r| matches!(r.action, Action::Deny | Action::Kill));
                if !attach.enforcing_only || acts {
                    programs.push(program);
                }
            }
        }
    }
    let identities = compact_identities(&mut programs, identities.sets);
    Module {
        programs,
        sets: sets.sets,
        identities,
        automata: sets.automata,
        compiled_lists: sets.compiled_lists.into_iter().collect(),
    }
}

/// Whether every field the policy's steps on `hook` read has a readable
/// source in every program of `backend`: a backend where one is
/// [`FieldSource::Unreadable`] (the exec's LSM hook and the new program's
/// arguments) is left out, and the hook runs on the next one (W0060).
pub fn backend_can_read(
    policy: &CheckedPolicy,
    hook: Hook,
    backend: &crate::check::hooks::BackendSpec,
) -> bool {
    let fields = policy_fields(policy, hook);
    backend.attach.iter().all(|attach| {
        fields
            .iter()
            .all(|field| field.source(attach) != Some(FieldSource::Unreadable))
    })
}

/// Every field the rules and traces on `hook` test, show or emit.
pub fn policy_fields(policy: &CheckedPolicy, hook: Hook) -> Vec<FieldId> {
    let mut fields = Vec::new();
    fn walk(expr: &crate::check::policy::Expr, out: &mut Vec<FieldId>) {
        use crate::check::policy::Expr;
        match expr {
            Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| walk(e, out)),
            Expr::Not(inner) => walk(inner, out),
            Expr::Test(test) => out.push(test.field),
        }
    }
    for rule in policy.rules_on(hook) {
        if let Some(cond) = &rule.cond {
            walk(cond, &mut fields);
        }
        fields.extend(rule.captured_fields());
    }
    fields.sort_unstable();
    fields.dedup();
    fields
}

/// Lowers `hook` to a [`Target::TestRun`] program (every field from the context).
pub fn lower_test_program(policy: &CheckedPolicy, hook: Hook) -> Module {
    let mut sets = SetTable::default();
    let mut identities = IdentityTable::default();
    let program = lower_program(
        policy,
        hook,
        Target::TestRun,
        &|_| None,
        &|_| false,
        &mut sets,
        &mut identities,
    );
    let mut programs = vec![program];
    let identities = compact_identities(&mut programs, identities.sets);
    Module {
        programs,
        sets: sets.sets,
        identities,
        automata: sets.automata,
        compiled_lists: sets.compiled_lists.into_iter().collect(),
    }
}

fn lower_program(
    policy: &CheckedPolicy,
    hook: Hook,
    target: Target,
    known: &dyn Fn(FieldId) -> Option<FieldValue>,
    ipv4_only: &dyn Fn(FieldId) -> bool,
    sets: &mut SetTable,
    identities: &mut IdentityTable,
) -> Program {
    let mut lowering = Lowering {
        policy,
        known,
        ipv4_only,
        sets,
        identities,
    };
    let enforcing_only = match target {
        Target::Attach { attach, .. } => attach.enforcing_only,
        Target::TestRun => false,
    };
    let mut traces = Vec::new();
    let mut rules = Vec::new();
    let mut can_fall_through = true;
    for rule in policy.rules_on(hook) {
        let cond = match &rule.cond {
            None => Cond::True,
            Some(expr) => lowering.expr(expr),
        };
        if cond == Cond::False {
            continue;
        }
        // Where only deny and kill act, traces do not run and an audit
        // match allows without an event.
        let action = match rule.action {
            Action::Trace if enforcing_only => continue,
            Action::Audit if enforcing_only => Action::Allow,
            other => other,
        };
        let step = Step {
            rule_id: rule.id,
            name: rule.name.clone(),
            line: rule.line,
            action,
            cond,
            captures: if action == Action::Allow {
                Vec::new()
            } else {
                record_fields(rule)
            },
        };
        if rule.action == Action::Trace {
            traces.push(step);
        } else if can_fall_through {
            if step.cond == Cond::True {
                can_fall_through = false;
            }
            rules.push(step);
        }
    }
    let str_dispatches = str_dispatches(&mut rules, lowering.sets, lowering.identities);
    let prefix_dispatches = prefix_dispatches(&rules, lowering.sets);
    Program {
        hook,
        target,
        traces,
        rules,
        can_fall_through,
        str_dispatches,
        prefix_dispatches,
    }
}

/// The first term of `rule` as a string dispatch key: `FIELD == "lit"`, or
/// on a resolved path `FIELD == "lit" or FIELD is <the file at lit>`.
pub fn str_eq_term(rule: &Step) -> Option<(FieldId, &[u8], Option<IdentitySetId>)> {
    fn eq(cond: &Cond) -> Option<(FieldId, &[u8])> {
        match cond {
            Cond::Leaf(Leaf {
                field,
                kind: LeafKind::StrEq(lit),
                ..
            }) => Some((*field, lit.as_slice())),
            _ => None,
        }
    }
    let (field, lit, identity) = match rule.conjuncts().first()? {
        Cond::Or(items) if items.len() == 2 => {
            let (field, lit) = eq(&items[0])?;
            match &items[1] {
                Cond::Leaf(Leaf {
                    field: f,
                    kind: LeafKind::IdentityIn(set),
                    ..
                }) if *f == field => (field, lit, Some(*set)),
                _ => return None,
            }
        }
        other => {
            let (field, lit) = eq(other)?;
            (field, lit, None)
        }
    };
    // A literal the field cannot hold (or a NUL, which ends the key) never
    // equals it: such a rule stays out of a dispatch.
    let FieldType::Str { max } = field.spec().ty else {
        return None;
    };
    if lit.len() + 1 > usize::from(max) || lit.contains(&0) {
        return None;
    }
    Some((field, lit, identity))
}

/// The runs of `rules` to dispatch by string, each with its set map. The
/// first terms of a shared run's rules test its ranked identity set.
fn str_dispatches(
    rules: &mut [Step],
    sets: &mut SetTable,
    identities: &mut IdentityTable,
) -> Vec<StrDispatch> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < rules.len() {
        let Some((field, _, _)) = str_eq_term(&rules[k]) else {
            k += 1;
            continue;
        };
        let mut e = k + 1;
        while e < rules.len() && str_eq_term(&rules[e]).is_some_and(|(f, _, _)| f == field) {
            e += 1;
        }
        if e - k >= DISPATCH_MIN {
            let run = &mut rules[k..e];
            let shared = shares_body(run).then(|| SharedRun {
                ranked: ranked_identities(run, identities),
            });
            if let Some(SharedRun {
                ranked: Some(ranked),
            }) = shared
            {
                for rule in run.iter_mut() {
                    set_first_identity(rule, ranked);
                }
            }
            out.push(sets.dispatch(run, k, field, shared));
        }
        k = e;
    }
    out
}

/// Whether the rules of a string run differ only in their literal: the
/// same action, the same later terms and captures (and ids in file order),
/// so that one body decides for any of them.
fn shares_body(run: &[Step]) -> bool {
    let first = &run[0];
    let first_later = &first.conjuncts()[1..];
    run.windows(2).all(|w| w[0].rule_id < w[1].rule_id)
        && run.iter().all(|rule| {
            let later = &rule.conjuncts()[1..];
            rule.action == first.action
                && rule.captures == first.captures
                && later.len() == first_later.len()
                && later.iter().zip(first_later).all(|(a, b)| a.same_as(b))
        })
}

/// The ranked identity set of a shared run on a resolved path: each rule's
/// literal (those naming a file by absolute path), ranked by the rule's id.
fn ranked_identities(run: &[Step], identities: &mut IdentityTable) -> Option<IdentitySetId> {
    let mut paths = Vec::new();
    let mut ranks = Vec::new();
    for rule in run {
        if let Some((_, _, Some(set))) = str_eq_term(rule) {
            for path in &identities.sets[set.0 as usize].paths {
                paths.push(path.clone());
                ranks.push(rule.rule_id);
            }
        }
    }
    (!paths.is_empty()).then(|| {
        identities.intern_set(IdentitySet {
            paths,
            file: None,
            ranks,
        })
    })
}

/// Points the identity test of `rule`'s first term (`FIELD == "lit" or
/// FIELD is <file>`) at `set`.
fn set_first_identity(rule: &mut Step, set: IdentitySetId) {
    let first = match &mut rule.cond {
        Cond::And(items) => &mut items[0],
        other => other,
    };
    if let Cond::Or(items) = first {
        if let Some(Cond::Leaf(Leaf {
            kind: LeafKind::IdentityIn(id),
            ..
        })) = items.get_mut(1)
        {
            *id = set;
        }
    }
}

// string prefix dispatch (LPM trie)
/// The first term of `rule` as a prefix dispatch key: `FIELD startswith
/// "lit"` (`false`) or `FIELD endswith "lit"` (`true`), with a literal of 1
/// to [`PREFIX_DISPATCH_MAX`] bytes, without NUL, that the field can hold
/// (a suffix run's field at least 8 bytes: its reversal loads words).
pub fn str_affix_term(rule: &Step) -> Option<(FieldId, bool, &[u8])> {
    let Some(Cond::Leaf(Leaf { field, kind, .. })) = rule.conjuncts().first() else {
        return None;
    };
    let (suffix, lit) = match kind {
        LeafKind::StrPrefix(lit) => (false, lit),
        LeafKind::StrSuffix(lit) => (true, lit),
        _ => return None,
    };
    let FieldType::Str { max } = field.spec().ty else {
        return None;
    };
    if lit.is_empty()
        || lit.len() > PREFIX_DISPATCH_MAX
        || lit.len() + 1 > usize::from(max)
        || lit.contains(&0)
        || (suffix && max < 8)
    {
        return None;
    }
    Some((*field, suffix, lit.as_slice()))
}

/// The runs of `rules` to dispatch by prefix (or suffix), each with its
/// LPM trie: consecutive rules testing first the same field by the same
/// operator.
fn prefix_dispatches(rules: &[Step], sets: &mut SetTable) -> Vec<PrefixDispatch> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < rules.len() {
        let Some((field, suffix, _)) = str_affix_term(&rules[k]) else {
            k += 1;
            continue;
        };
        let mut e = k + 1;
        while e < rules.len()
            && str_affix_term(&rules[e]).is_some_and(|(f, s, _)| f == field && s == suffix)
        {
            e += 1;
        }
        if e - k >= DISPATCH_MIN {
            out.push(sets.prefix_dispatch(&rules[k..e], k, field, suffix));
        }
        k = e;
    }
    out
}

/// The bytes every one of `literals` (sorted, unique) starts with, less
/// one for the shortest (each key keeps a byte), when they are at least
/// [`PREFIX_COMMON_MIN`]; else 0.
pub fn common_prefix(literals: &[Vec<u8>]) -> usize {
    let (Some(first), Some(last)) = (literals.first(), literals.last()) else {
        return 0;
    };
    // Sorted: the first and the last share what all share.
    let shared = first.iter().zip(last).take_while(|(a, b)| a == b).count();
    let shortest = literals.iter().map(Vec::len).min().unwrap_or(0);
    let common = shared.min(shortest.saturating_sub(1));
    if common >= PREFIX_COMMON_MIN {
        common
    } else {
        0
    }
}

/// Per literal of `literals` (sorted, unique), the offsets of the rules
/// whose literal (`of_rule`, in order) is a prefix of it, ascending.
pub fn prefix_groups(literals: &[Vec<u8>], of_rule: &[&[u8]]) -> Vec<Vec<u32>> {
    literals
        .iter()
        .map(|lit| {
            of_rule
                .iter()
                .enumerate()
                .filter(|(_, r)| lit.starts_with(r))
                .map(|(i, _)| i as u32)
                .collect()
        })
        .collect()
}

/// The fields a rule's event records carry beyond the header: what it
/// captures (message placeholders, `emit`s) less the fields every event
/// header carries ([`crate::abi::HeaderField`]). Layouts and steps alike.
pub fn record_fields(rule: &crate::check::policy::CheckedRule) -> Vec<FieldId> {
    rule.captured_fields()
        .into_iter()
        .filter(|f| crate::abi::HeaderField::from_name(f.spec().name).is_none())
        .collect()
}

struct Lowering<'a> {
    policy: &'a CheckedPolicy,
    known: &'a dyn Fn(FieldId) -> Option<FieldValue>,
    /// Ip fields that are always IPv4 here: IPv6 networks never match.
    ipv4_only: &'a dyn Fn(FieldId) -> bool,
    sets: &'a mut SetTable,
    identities: &'a mut IdentityTable,
}

impl Lowering<'_> {
    fn expr(&mut self, expr: &Expr) -> Cond {
        match expr {
            Expr::And(items) => and(items.iter().map(|e| self.expr(e)).collect()),
            Expr::Or(items) => self.or_merging_globs(items),
            Expr::Not(inner) => not(self.expr(inner)),
            Expr::Test(
                test @ Test {
                    op: TestOp::FieldCmp { op, other },
                    ..
                },
            ) => self.field_cmp(test, *op, *other),
            Expr::Test(test) => match (self.known)(test.field) {
                Some(value) => {
                    // Decided on the list file's contents now: a change
                    // needs the policy built again.
                    self.compiled_list(test);
                    if interp::eval_test(self.policy, test, &value) {
                        Cond::True
                    } else {
                        Cond::False
                    }
                }
                None => self.test(test),
            },
        }
    }

    /// `or` of `items`, where the globs on one field (`file.name == "x"` is
    /// two) are one automaton: one scan of the field instead of one each.
    /// An unresolved or truncated path leaves each of them, and so their
    /// `or`, undecided alike.
    fn or_merging_globs(&mut self, items: &[Expr]) -> Cond {
        let mut out = Vec::new();
        let mut globs: Vec<(FieldId, Vec<Vec<u8>>, &Test)> = Vec::new();
        for item in items {
            match item {
                Expr::Test(
                    test @ Test {
                        op:
                            TestOp::Str {
                                op: StrOp::Matches,
                                value,
                            },
                        ..
                    },
                ) if (self.known)(test.field).is_none() => {
                    match globs.iter_mut().find(|(field, _, _)| *field == test.field) {
                        Some((_, patterns, _)) => patterns.push(value.as_bytes().to_vec()),
                        None => globs.push((test.field, vec![value.as_bytes().to_vec()], test)),
                    }
                }
                other => out.push(self.expr(other)),
            }
        }
        for (_, patterns, test) in globs {
            out.push(self.glob(test, patterns));
        }
        or(out)
    }

    /// `a OP b`: decided here when the attach point knows both values; a
    /// compare with a constant when it knows one.
    fn field_cmp(&mut self, test: &Test, op: CmpOp, other: FieldId) -> Cond {
        let int = |value: Option<FieldValue>| match value {
            Some(FieldValue::Int(v)) => Some(v),
            _ => None,
        };
        let bits = |field: FieldId| match field.spec().ty {
            FieldType::Int { bits } => bits,
            _ => 64,
        };
        match (int((self.known)(test.field)), int((self.known)(other))) {
            (Some(a), Some(b)) => {
                if interp::compare(op, a, b) {
                    Cond::True
                } else {
                    Cond::False
                }
            }
            (None, Some(b)) => int_cmp(test, op, b, bits(test.field)),
            (Some(a), None) => {
                let flipped = Test {
                    field: other,
                    op: test.op.clone(),
                    span: test.span,
                };
                int_cmp(&flipped, flip(op), a, bits(other))
            }
            (None, None) => Self::leaf(test, LeafKind::FieldCmp { op, other }),
        }
    }

    /// Records that `test`'s list, if a list file, is compiled into the
    /// programs (an automaton, inline tests, or a test folded on its
    /// contents): a change of the file needs a policy reload.
    fn compiled_list(&mut self, test: &Test) {
        let list = match &test.op {
            TestOp::StrAny { list, .. } | TestOp::In(list) => *list,
            _ => return,
        };
        if let Some(file) = &self.policy.list(list).file {
            self.sets.compiled_lists.insert(file.clone());
        }
    }

    fn leaf(test: &Test, kind: LeafKind) -> Cond {
        Cond::Leaf(Leaf {
            field: test.field,
            kind,
            span: test.span,
        })
    }

    fn test(&mut self, test: &Test) -> Cond {
        match &test.op {
            TestOp::IntCmp { op, value } => {
                let bits = match test.field.spec().ty {
                    FieldType::Int { bits } => bits,
                    _ => 64,
                };
                int_cmp(test, *op, *value, bits)
            }
            TestOp::FieldCmp { op, other } => self.field_cmp(test, *op, *other),
            TestOp::Bits { mask, all } => Self::leaf(
                test,
                LeafKind::Bits {
                    mask: *mask,
                    // One bit: every bit is any bit.
                    all: *all && !mask.is_power_of_two(),
                },
            ),
            TestOp::StrEq(s) => {
                let by_name = Self::leaf(test, LeafKind::StrEq(s.as_bytes().to_vec()));
                self.or_same_file(test, by_name, std::slice::from_ref(s))
            }
            TestOp::Str {
                op: StrOp::Contains,
                value,
            } => self.scan(test, ScanKind::Contains, vec![value.as_bytes().to_vec()]),
            TestOp::Str {
                op: StrOp::Matches,
                value,
            } => self.glob(test, vec![value.as_bytes().to_vec()]),
            TestOp::StrAny {
                op: StrOp::Matches,
                list,
            } => self.glob(test, self.str_elems(*list)),
            TestOp::Str { op, value } => str_leaf(test, *op, value.as_bytes()),
            TestOp::StrAny {
                op: StrOp::Contains | StrOp::EndsWith,
                list,
            } if self.policy.list(*list).file.is_some() => {
                self.compiled_list(test);
                let kind = match &test.op {
                    TestOp::StrAny {
                        op: StrOp::EndsWith,
                        ..
                    } => ScanKind::EndsWith,
                    _ => ScanKind::Contains,
                };
                self.scan(test, kind, self.str_elems(*list))
            }
            TestOp::StrAny {
                op: StrOp::Contains,
                list,
            } => self.scan(test, ScanKind::Contains, self.str_elems(*list)),
            TestOp::StrAny {
                op: StrOp::EndsWith,
                list,
            } if self.str_elems(*list).len() > INLINE_LIST_MAX => {
                self.scan(test, ScanKind::EndsWith, self.str_elems(*list))
            }
            TestOp::StrAny {
                op: StrOp::StartsWith,
                list,
            } if self.policy.list(*list).file.is_some() => {
                let set = self.sets.file_set(
                    *list,
                    test.field,
                    SetKind::StrPrefix { data_len: 0 },
                    self.policy,
                );
                Self::leaf(test, LeafKind::PrefixInSet(set))
            }
            TestOp::StrAny { op, list } => {
                let elems = self.str_elems(*list);
                if *op == StrOp::StartsWith && elems.len() > INLINE_LIST_MAX {
                    if elems.iter().any(|e| e.is_empty()) {
                        return Cond::True;
                    }
                    // An LPM trie holds prefixes of at most 256 bytes (the
                    // kernel's limit): longer ones (of fields longer than a
                    // path, `exec.cmdline`) are tested one by one.
                    let (short, long): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
                        elems.into_iter().partition(|e| e.len() <= LPM_DATA_MAX);
                    let mut alternatives: Vec<Cond> =
                        long.iter().map(|e| str_leaf(test, *op, e)).collect();
                    if !short.is_empty() {
                        let set = self.sets.prefix_set(*list, &short, self.policy);
                        alternatives.insert(0, Self::leaf(test, LeafKind::PrefixInSet(set)));
                    }
                    or(alternatives)
                } else {
                    or(elems.iter().map(|e| str_leaf(test, *op, e)).collect())
                }
            }
            TestOp::IpIn { addr, prefix } => self.ip_leaf(
                test,
                Net {
                    addr: *addr,
                    prefix: *prefix,
                },
            ),
            TestOp::IsTrue => Self::leaf(test, LeafKind::Bool),
            TestOp::In(list) if self.policy.list(*list).file.is_some() => {
                let by_value = self.in_list(test, *list);
                if !test.field.spec().resolved_path {
                    return by_value;
                }
                // The file's paths can change: its identity set exists
                // whatever it holds now.
                let def = self.policy.list(*list);
                let mut paths: Vec<String> = def
                    .elems
                    .iter()
                    .filter_map(|v| match v {
                        Value::Str(s) if s.starts_with('/') => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                paths.sort();
                paths.dedup();
                let set = self.identities.intern_file(paths, def.file.clone());
                or(vec![by_value, Self::leaf(test, LeafKind::IdentityIn(set))])
            }
            TestOp::In(list) => {
                let by_value = self.in_list(test, *list);
                let paths: Vec<String> = self
                    .policy
                    .list(*list)
                    .elems
                    .iter()
                    .filter_map(|v| match v {
                        Value::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                self.or_same_file(test, by_value, &paths)
            }
        }
    }

    /// On a resolved path, `== "/a"` and `in ["/a", ...]` also hold for the
    /// same file reached by another name (a hard link, a bind mount, another
    /// mount namespace's view): `by_name or` the file is one of the files at
    /// `paths` (absolute paths only; a relative one names no file).
    fn or_same_file(&mut self, test: &Test, by_name: Cond, paths: &[String]) -> Cond {
        if !test.field.spec().resolved_path {
            return by_name;
        }
        let mut absolute: Vec<String> = paths
            .iter()
            .filter(|p| p.starts_with('/'))
            .cloned()
            .collect();
        if absolute.is_empty() {
            return by_name;
        }
        absolute.sort();
        absolute.dedup();
        let set = self.identities.intern(absolute);
        or(vec![by_name, Self::leaf(test, LeafKind::IdentityIn(set))])
    }

    /// The glob automaton of `patterns` (any of them matches). Never
    /// folded: the empty pattern matches the empty string only, and even
    /// `**` leaves an unresolved path undecided.
    fn glob(&mut self, test: &Test, patterns: Vec<Vec<u8>>) -> Cond {
        if patterns.is_empty() {
            return Cond::False;
        }
        let id = self.sets.automaton(ScanKind::Glob, &patterns);
        Self::leaf(test, LeafKind::Scan(id))
    }

    /// A string automaton deciding `kind` over `literals` (an empty
    /// literal decides the test: it occurs in, and ends, every string).
    fn scan(&mut self, test: &Test, kind: ScanKind, literals: Vec<Vec<u8>>) -> Cond {
        if literals.iter().any(|l| l.is_empty()) {
            return Cond::True;
        }
        if literals.is_empty() {
            return Cond::False;
        }
        let id = self.sets.automaton(kind, &literals);
        Self::leaf(test, LeafKind::Scan(id))
    }

    /// `field in net`, decided here where the attach point fixes the
    /// family: an IPv4-only field is never in an IPv6 network and always in
    /// `0.0.0.0/0` (whose test would otherwise be no instruction at all).
    fn ip_leaf(&self, test: &Test, net: Net) -> Cond {
        if (self.ipv4_only)(test.field) {
            if net.addr.is_ipv6() {
                return Cond::False;
            }
            if net.prefix == 0 {
                return Cond::True;
            }
        }
        Self::leaf(test, LeafKind::Ip(net))
    }

    fn str_elems(&self, list: ListId) -> Vec<Vec<u8>> {
        let mut elems: Vec<Vec<u8>> = self
            .policy
            .list(list)
            .elems
            .iter()
            .filter_map(|v| match v {
                Value::Str(s) => Some(s.as_bytes().to_vec()),
                _ => None,
            })
            .collect();
        elems.sort();
        elems.dedup();
        elems
    }

    /// `in` a list file: always its set maps, whatever the file holds now
    /// (it can change at run time): both families' sets for an address
    /// field (only the IPv4 one where the field is always IPv4).
    fn in_file_list(&mut self, test: &Test, list: ListId) -> Cond {
        let set = |lowering: &mut Self, kind| {
            lowering
                .sets
                .file_set(list, test.field, kind, lowering.policy)
        };
        match test.field.spec().ty {
            FieldType::Int { .. } => {
                let set = set(self, SetKind::IntHash);
                Self::leaf(test, LeafKind::InSet(set))
            }
            FieldType::Str { .. } => {
                let set = set(self, SetKind::StrHash { key_len: 0 });
                Self::leaf(test, LeafKind::InSet(set))
            }
            FieldType::Ip => {
                let mut alternatives =
                    vec![Self::leaf(test, LeafKind::IpInSet(set(self, SetKind::Ip4)))];
                if !(self.ipv4_only)(test.field) {
                    alternatives.push(Self::leaf(test, LeafKind::IpInSet(set(self, SetKind::Ip6))));
                }
                or(alternatives)
            }
            FieldType::Bool => Cond::False,
        }
    }

    fn in_list(&mut self, test: &Test, list: ListId) -> Cond {
        if self.policy.list(list).file.is_some() {
            return self.in_file_list(test, list);
        }
        match test.field.spec().ty {
            FieldType::Int { bits } => {
                let mut values: Vec<u64> = self
                    .policy
                    .list(list)
                    .elems
                    .iter()
                    .filter_map(|v| match v {
                        Value::Int(n) if interp::truncate_int(*n, bits) == *n => Some(*n),
                        _ => None,
                    })
                    .collect();
                values.sort_unstable();
                values.dedup();
                if values.len() > INLINE_LIST_MAX {
                    let set = self.sets.int_set(list, &values, self.policy);
                    Self::leaf(test, LeafKind::InSet(set))
                } else {
                    or(values
                        .iter()
                        .map(|v| int_cmp(test, CmpOp::Eq, *v, bits))
                        .collect())
                }
            }
            FieldType::Str { max } => {
                // Elements longer than the field holds can never match.
                let elems: Vec<Vec<u8>> = self
                    .str_elems(list)
                    .into_iter()
                    .filter(|e| e.len() < usize::from(max))
                    .collect();
                if elems.len() > INLINE_LIST_MAX {
                    let set = self.sets.str_set(list, &elems, self.policy);
                    Self::leaf(test, LeafKind::InSet(set))
                } else {
                    or(elems
                        .into_iter()
                        .map(|e| Self::leaf(test, LeafKind::StrEq(e)))
                        .collect())
                }
            }
            FieldType::Ip => {
                let mut nets: Vec<Net> = self
                    .policy
                    .list(list)
                    .elems
                    .iter()
                    .filter_map(|v| match v {
                        Value::Ip { addr, prefix } => Some(Net {
                            addr: *addr,
                            prefix: *prefix,
                        }),
                        _ => None,
                    })
                    .collect();
                nets.sort();
                nets.dedup();
                let (v4, mut v6): (Vec<Net>, Vec<Net>) =
                    nets.into_iter().partition(|n| n.addr.is_ipv4());
                if (self.ipv4_only)(test.field) {
                    if v4.iter().any(|n| n.prefix == 0) {
                        return Cond::True;
                    }
                    v6.clear();
                }
                let mut alternatives = Vec::new();
                for (family, nets) in [(SetKind::Ip4, v4), (SetKind::Ip6, v6)] {
                    if nets.len() > INLINE_LIST_MAX {
                        let set = self.sets.ip_set(list, family, &nets, self.policy);
                        alternatives.push(Self::leaf(test, LeafKind::IpInSet(set)));
                    } else {
                        alternatives.extend(nets.into_iter().map(|n| self.ip_leaf(test, n)));
                    }
                }
                or(alternatives)
            }
            FieldType::Bool => Cond::False,
        }
    }
}

fn int_cmp(test: &Test, op: CmpOp, value: u64, bits: u8) -> Cond {
    let max = interp::truncate_int(u64::MAX, bits);
    // Comparisons a field of this width decides statically.
    match op {
        CmpOp::Eq | CmpOp::Ne if value > max => {
            return if op == CmpOp::Eq {
                Cond::False
            } else {
                Cond::True
            };
        }
        CmpOp::Lt if value == 0 => return Cond::False,
        CmpOp::Le if value >= max => return Cond::True,
        CmpOp::Gt if value >= max => return Cond::False,
        CmpOp::Ge if value == 0 => return Cond::True,
        _ => {}
    }
    Lowering::leaf(test, LeafKind::Int { op, value })
}

fn str_leaf(test: &Test, op: StrOp, lit: &[u8]) -> Cond {
    if lit.is_empty() {
        return Cond::True;
    }
    let kind = match op {
        StrOp::StartsWith => LeafKind::StrPrefix(lit.to_vec()),
        StrOp::EndsWith => LeafKind::StrSuffix(lit.to_vec()),
        StrOp::Contains | StrOp::Matches => {
            unreachable!("internal error: `contains` and `matches` are lowered to automata")
        }
    };
    Lowering::leaf(test, kind)
}

/// `and` with folding: flattens, drops `True`, short-circuits `False`.
pub fn and(items: Vec<Cond>) -> Cond {
    let mut out = Vec::new();
    for item in items {
        match item {
            Cond::True => {}
            Cond::False => return Cond::False,
            Cond::And(inner) => out.extend(inner),
            other => out.push(other),
        }
    }
    match out.len() {
        0 => Cond::True,
        1 => out.pop().unwrap_or(Cond::True),
        _ => Cond::And(out),
    }
}

/// `or` with folding: flattens, drops `False`, short-circuits `True`.
pub fn or(items: Vec<Cond>) -> Cond {
    let mut out = Vec::new();
    for item in items {
        match item {
            Cond::False => {}
            Cond::True => return Cond::True,
            Cond::Or(inner) => out.extend(inner),
            other => out.push(other),
        }
    }
    match out.len() {
        0 => Cond::False,
        1 => out.pop().unwrap_or(Cond::False),
        _ => Cond::Or(out),
    }
}

/// `not` with folding.
pub fn not(cond: Cond) -> Cond {
    match cond {
        Cond::True => Cond::False,
        Cond::False => Cond::True,
        Cond::Not(inner) => *inner,
        other => Cond::Not(Box::new(other)),
    }
}

/// Identity sets, deduplicated by their paths (and list file, and ranks).
#[derive(Default)]
struct IdentityTable {
    sets: Vec<IdentitySet>,
    index: std::collections::HashMap<IdentitySet, u32>,
}

impl IdentityTable {
    fn intern(&mut self, paths: Vec<String>) -> IdentitySetId {
        self.intern_file(paths, None)
    }

    /// The identity set of `paths`, of the list file `file` if any (a
    /// file's set is never shared with an inline list's).
    fn intern_file(&mut self, paths: Vec<String>, file: Option<String>) -> IdentitySetId {
        self.intern_set(IdentitySet {
            paths,
            file,
            ranks: Vec::new(),
        })
    }

    fn intern_set(&mut self, set: IdentitySet) -> IdentitySetId {
        if let Some(&i) = self.index.get(&set) {
            return IdentitySetId(i);
        }
        let i = self.sets.len() as u32;
        self.index.insert(set.clone(), i);
        self.sets.push(set);
        IdentitySetId(i)
    }
}

/// Keeps the identity sets some leaf of `programs` tests (or a shared run
/// reads), in order, and renumbers every reference to them: the sets of
/// the literals of shared runs, whose ranked set replaces them, are gone.
fn compact_identities(programs: &mut [Program], sets: Vec<IdentitySet>) -> Vec<IdentitySet> {
    fn visit(cond: &mut Cond, f: &mut dyn FnMut(&mut IdentitySetId)) {
        match cond {
            Cond::True | Cond::False => {}
            Cond::And(items) | Cond::Or(items) => items.iter_mut().for_each(|c| visit(c, f)),
            Cond::Not(inner) => visit(inner, f),
            Cond::Leaf(Leaf {
                kind: LeafKind::IdentityIn(set),
                ..
            }) => f(set),
            Cond::Leaf(_) => {}
        }
    }
    fn each(program: &mut Program, f: &mut dyn FnMut(&mut IdentitySetId)) {
        for step in program.traces.iter_mut().chain(program.rules.iter_mut()) {
            visit(&mut step.cond, f);
        }
        for run in &mut program.str_dispatches {
            run.identities.iter_mut().flatten().for_each(&mut *f);
            if let Some(shared) = &mut run.shared {
                shared.ranked.iter_mut().for_each(&mut *f);
            }
        }
    }
    let mut used = vec![false; sets.len()];
    for program in programs.iter_mut() {
        each(program, &mut |set| used[set.0 as usize] = true);
    }
    if used.iter().all(|u| *u) {
        return sets;
    }
    let mut new_id = vec![u32::MAX; sets.len()];
    let mut kept = Vec::new();
    for (i, set) in sets.into_iter().enumerate() {
        if used[i] {
            new_id[i] = kept.len() as u32;
            kept.push(set);
        }
    }
    for program in programs.iter_mut() {
        each(program, &mut |set| {
            *set = IdentitySetId(new_id[set.0 as usize])
        });
    }
    kept
}

/// Set maps, deduplicated by (list, kind), and string automata,
/// deduplicated by what they decide.
#[derive(Default)]
struct SetTable {
    sets: Vec<SetDef>,
    automata: Vec<AutomatonDef>,
    /// Each automaton's index, by what it decides.
    automaton_index: std::collections::HashMap<(ScanKind, Vec<Vec<u8>>), u32>,
    /// List files compiled into the programs (absolute paths).
    compiled_lists: std::collections::BTreeSet<String>,
}

impl SetTable {
    fn automaton(&mut self, kind: ScanKind, literals: &[Vec<u8>]) -> AutomatonId {
        let mut key = literals.to_vec();
        key.sort();
        key.dedup();
        if let Some(&i) = self.automaton_index.get(&(kind, key.clone())) {
            return AutomatonId(i);
        }
        self.automaton_index
            .insert((kind, key), self.automata.len() as u32);
        let automaton = match kind {
            ScanKind::Glob => Automaton::glob(literals)
                .expect("internal error: the checker bounds every glob automaton"),
            _ => Automaton::new(kind, literals),
        };
        let offset = self.automata.last().map_or(0, |a| {
            a.offset + a.automaton.encoded_len().next_multiple_of(8)
        });
        let n = automaton.literals.len();
        let what = match kind {
            ScanKind::Contains => "contains",
            ScanKind::EndsWith => "endswith",
            ScanKind::Glob => "matches",
        };
        self.automata.push(AutomatonDef {
            purpose: format!(
                "{what}, {n} string{} ({} states)",
                if n == 1 { "" } else { "s" },
                automaton.n_states
            ),
            automaton,
            offset,
        });
        AutomatonId(self.automata.len() as u32 - 1)
    }

    fn intern(
        &mut self,
        list: ListId,
        kind: SetKind,
        keys: Vec<Vec<u8>>,
        policy: &CheckedPolicy,
        how: &str,
    ) -> SetId {
        if let Some(i) = self
            .sets
            .iter()
            .position(|s| s.list == Some(list) && s.kind == kind)
        {
            return SetId(i as u32);
        }
        let mut keys = keys;
        keys.sort();
        keys.dedup();
        let name = policy
            .list(list)
            .name
            .clone()
            .unwrap_or_else(|| "inline".to_string());
        self.sets.push(SetDef {
            list: Some(list),
            kind,
            purpose: format!("list {name}, {how} ({} entries)", keys.len()),
            keys,
            file: None,
            values: Vec::new(),
        });
        SetId(self.sets.len() as u32 - 1)
    }

    /// The set map of a list file, tested on `field` (`kind` names the
    /// layout; its key width is chosen here): keys of the file's entries
    /// now, and what the runtime needs to make them again when the file
    /// changes ([`SetSource`]).
    fn file_set(
        &mut self,
        list: ListId,
        field: FieldId,
        kind: SetKind,
        policy: &CheckedPolicy,
    ) -> SetId {
        let def = policy.list(list);
        let (bits, max) = match field.spec().ty {
            FieldType::Int { bits } => (bits, 0),
            FieldType::Str { max } => (64, max),
            _ => (64, 0),
        };
        let longest = def
            .elems
            .iter()
            .filter_map(|v| match v {
                Value::Str(s) => Some(s.len()),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let kind = match kind {
            SetKind::StrHash { .. } => SetKind::StrHash {
                key_len: crate::listfile::str_key_len(longest, max),
            },
            SetKind::StrPrefix { .. } => SetKind::StrPrefix {
                data_len: crate::listfile::prefix_data_len(longest, max),
            },
            other => other,
        };
        if let Some(i) = self
            .sets
            .iter()
            .position(|s| s.list == Some(list) && s.kind == kind)
        {
            return SetId(i as u32);
        }
        let source = SetSource {
            name: def.name.clone().unwrap_or_default(),
            path: def.file.clone().unwrap_or_default(),
            kind,
            bits,
            max,
        };
        let mut keys: Vec<Vec<u8>> = def
            .elems
            .iter()
            .filter_map(|v| crate::listfile::key(&source, v).ok().flatten())
            .collect();
        keys.sort();
        keys.dedup();
        let how = match kind {
            SetKind::IntHash | SetKind::StrHash { .. } => "exact",
            SetKind::StrPrefix { .. } => "prefixes",
            SetKind::Ip4 => "IPv4 networks",
            SetKind::Ip6 => "IPv6 networks",
        };
        self.sets.push(SetDef {
            list: Some(list),
            kind,
            purpose: format!(
                "list {} from {}, {how} ({} entries at build)",
                source.name,
                source.path,
                keys.len()
            ),
            keys,
            file: Some(source),
            values: Vec::new(),
        });
        SetId(self.sets.len() as u32 - 1)
    }

    /// The set map of a string dispatch over `rules` (program rules
    /// `start..`): each literal's key, valued by its group (a shared run's:
    /// by the id of its first rule with the literal).
    fn dispatch(
        &mut self,
        rules: &[Step],
        start: usize,
        field: FieldId,
        shared: Option<SharedRun>,
    ) -> StrDispatch {
        // Per literal, its first rule's id and its file's identity set.
        let mut by_literal: std::collections::BTreeMap<&[u8], (u32, Option<IdentitySetId>)> =
            std::collections::BTreeMap::new();
        for rule in rules {
            let (_, lit, identity) = str_eq_term(rule).expect("a dispatched rule");
            let identity = if shared.is_some() { None } else { identity };
            let slot = &mut by_literal.entry(lit).or_insert((rule.rule_id, identity)).1;
            if slot.is_none() {
                *slot = identity;
            }
        }
        let longest = by_literal.keys().map(|l| l.len()).max().unwrap_or(0);
        let key_len = (longest as u32 + 1).next_multiple_of(8);
        let mut keys = Vec::new();
        let mut values = Vec::new();
        for (group, (lit, (first_rule, identity))) in by_literal.iter().enumerate() {
            let mut key = lit.to_vec();
            key.resize(key_len as usize, 0);
            keys.push(key);
            let value = match shared {
                Some(_) => *first_rule,
                None => group as u32,
            };
            values.push(dispatch_value(value, *identity));
        }
        let literals: Vec<Vec<u8>> = by_literal.keys().map(|l| l.to_vec()).collect();
        let identities: Vec<Option<IdentitySetId>> =
            by_literal.values().map(|(_, identity)| *identity).collect();
        // Each program of the hook has the same run: one map for all.
        let same = self.sets.iter().position(|s| {
            s.list.is_none() && s.keys == keys && s.values == values && s.kind.key_size() == key_len
        });
        if let Some(i) = same {
            return StrDispatch {
                start,
                end: start + rules.len(),
                field,
                set: SetId(i as u32),
                literals,
                identities,
                shared,
            };
        }
        self.sets.push(SetDef {
            list: None,
            kind: SetKind::StrHash { key_len },
            purpose: format!(
                "dispatch of {} rules on {} ({} strings)",
                rules.len(),
                field.spec().name,
                keys.len()
            ),
            keys,
            file: None,
            values,
        });
        StrDispatch {
            start,
            end: start + rules.len(),
            field,
            set: SetId(self.sets.len() as u32 - 1),
            literals,
            identities,
            shared,
        }
    }

    /// The LPM trie of a prefix dispatch over `rules` (program rules
    /// `start..`): each literal's key, valued by its group index (`u32`).
    /// A suffix run's literals are reversed.
    fn prefix_dispatch(
        &mut self,
        rules: &[Step],
        start: usize,
        field: FieldId,
        suffix: bool,
    ) -> PrefixDispatch {
        let of_rule: Vec<Vec<u8>> = rules
            .iter()
            .map(|rule| {
                let lit = str_affix_term(rule).expect("a dispatched rule").2;
                if suffix {
                    lit.iter().rev().copied().collect()
                } else {
                    lit.to_vec()
                }
            })
            .collect();
        let of_rule: Vec<&[u8]> = of_rule.iter().map(Vec::as_slice).collect();
        let mut literals: Vec<Vec<u8>> = of_rule.iter().map(|l| l.to_vec()).collect();
        literals.sort();
        literals.dedup();
        let groups = prefix_groups(&literals, &of_rule);
        // A suffix run's literals are reversed: their common prefix is the
        // literals' common suffix.
        let common = common_prefix(&literals);
        let data_len = (literals.iter().map(Vec::len).max().unwrap_or(1) - common) as u32;
        let keys: Vec<Vec<u8>> = literals
            .iter()
            .map(|lit| {
                let lit = &lit[common..];
                let mut key = ((lit.len() as u32) * 8).to_le_bytes().to_vec();
                key.extend_from_slice(lit);
                key.resize(4 + data_len as usize, 0);
                key
            })
            .collect();
        let values: Vec<Vec<u8>> = (0..literals.len() as u32)
            .map(|g| g.to_le_bytes().to_vec())
            .collect();
        let kind = SetKind::StrPrefix { data_len };
        let make = |set: SetId| PrefixDispatch {
            start,
            end: start + rules.len(),
            field,
            set,
            suffix,
            common,
            literals: literals.clone(),
            groups: groups.clone(),
        };
        // Each program of the hook has the same run: one map for all.
        let same = self.sets.iter().position(|s| {
            s.list.is_none() && s.kind == kind && s.keys == keys && s.values == values
        });
        if let Some(i) = same {
            return make(SetId(i as u32));
        }
        self.sets.push(SetDef {
            list: None,
            kind,
            purpose: format!(
                "{} dispatch of {} rules on {} ({} {})",
                if suffix { "suffix" } else { "prefix" },
                rules.len(),
                field.spec().name,
                keys.len(),
                if suffix {
                    "reversed suffixes"
                } else {
                    "prefixes"
                }
            ),
            keys,
            file: None,
            values,
        });
        make(SetId(self.sets.len() as u32 - 1))
    }

    fn int_set(&mut self, list: ListId, values: &[u64], policy: &CheckedPolicy) -> SetId {
        let keys = values.iter().map(|v| v.to_le_bytes().to_vec()).collect();
        self.intern(list, SetKind::IntHash, keys, policy, "exact")
    }

    fn str_set(&mut self, list: ListId, elems: &[Vec<u8>], policy: &CheckedPolicy) -> SetId {
        let longest = elems.iter().map(Vec::len).max().unwrap_or(0);
        let key_len = (longest as u32 + 1).next_multiple_of(8);
        let keys = elems
            .iter()
            .map(|e| {
                let mut key = e.clone();
                key.resize(key_len as usize, 0);
                key
            })
            .collect();
        self.intern(list, SetKind::StrHash { key_len }, keys, policy, "exact")
    }

    fn prefix_set(&mut self, list: ListId, elems: &[Vec<u8>], policy: &CheckedPolicy) -> SetId {
        let data_len = elems.iter().map(Vec::len).max().unwrap_or(1) as u32;
        let keys = elems
            .iter()
            .map(|e| {
                let mut key = ((e.len() as u32) * 8).to_le_bytes().to_vec();
                key.extend_from_slice(e);
                key.resize(4 + data_len as usize, 0);
                key
            })
            .collect();
        self.intern(
            list,
            SetKind::StrPrefix { data_len },
            keys,
            policy,
            "prefixes",
        )
    }

    fn ip_set(
        &mut self,
        list: ListId,
        kind: SetKind,
        nets: &[Net],
        policy: &CheckedPolicy,
    ) -> SetId {
        let keys = nets
            .iter()
            .map(|n| {
                let mut key = u32::from(n.prefix).to_le_bytes().to_vec();
                match n.addr {
                    IpAddr::V4(a) => key.extend_from_slice(&a.octets()),
                    IpAddr::V6(a) => key.extend_from_slice(&a.octets()),
                }
                key
            })
            .collect();
        let how = if kind == SetKind::Ip4 {
            "IPv4 networks"
        } else {
            "IPv6 networks"
        };
        self.intern(list, kind, keys, policy, how)
    }
}

/// `a OP b` as `b OP' a`.
fn flip(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Eq,
        CmpOp::Ne => CmpOp::Ne,
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
    }
}

#[cfg(test)]
mod tests {
    use crate::ir::LeafKind;

    #[test]
    fn prefixes_longer_than_an_lpm_trie_holds_are_tested_one_by_one() {
        let long = "x".repeat(300);
        let items: Vec<String> = (0..9)
            .map(|i| format!("\"p{i}\""))
            .chain([format!("\"{long}\"")])
            .collect();
        let source = format!(
            "rule r {{ on exec when exec.cmdline startswith [{}] deny }}",
            items.join(", ")
        );
        let checked = crate::check::check_source("t.pol", &source);
        let policy = checked.policy.expect("checks");
        let module = super::lower(&policy);
        assert_eq!(module.sets.len(), 1);
        assert!(module.sets.iter().all(|s| s.kind.key_size() <= 4 + 256));
        let program = &module.programs[0];
        let kinds: Vec<&LeafKind> = program.leaves().iter().map(|l| &l.kind).collect();
        assert!(kinds.iter().any(|k| matches!(k, LeafKind::PrefixInSet(_))));
        assert!(kinds
            .iter()
            .any(|k| matches!(k, LeafKind::StrPrefix(p) if p.len() == 300)));
    }

    fn lowered(source: &str) -> crate::ir::Module {
        let checked = crate::check::check_source("t.pol", source);
        let policy = checked.policy.expect("checks");
        super::lower(&policy)
    }

    fn path_rule(name: &str, path: &str, more: &str) -> String {
        format!("rule {name} {{ on file.open when file.path == \"{path}\"{more} deny }}\n")
    }

    #[test]
    fn runs_of_eight_string_equalities_on_one_field_are_dispatched() {
        let mut source = String::new();
        // 9 rules on file.path (two share a literal), then one on another
        // first term, then 7 (too few), then 8 on proc.comm.
        for i in 0..8 {
            source += &path_rule(&format!("a{i}"), &format!("/a/{i}"), " and proc.uid != 0");
        }
        source += &path_rule("a_again", "/a/3", "");
        source +=
            "rule int_first { on file.open when proc.uid == 7 and file.path == \"/x\" deny }\n";
        for i in 0..7 {
            source += &path_rule(&format!("b{i}"), &format!("/b/{i}"), "");
        }
        source += "rule comm_first { on file.open when proc.comm == \"c\" deny }\n";
        for i in 0..8 {
            source +=
                &format!("rule c{i} {{ on file.open when proc.comm == \"comm-{i}\" deny }}\n");
        }
        let module = lowered(&source);
        let program = &module.programs[0];
        let runs: Vec<(usize, usize, &str)> = program
            .str_dispatches
            .iter()
            .map(|d| (d.start, d.end, d.field.spec().name))
            .collect();
        // The 7 `/b/` rules are too few; `comm_first` starts the
        // `proc.comm` run of 9.
        assert_eq!(runs, vec![(0, 9, "file.path"), (17, 26, "proc.comm")]);
        let paths = &program.str_dispatches[0];
        assert_eq!(
            paths.literals.len(),
            8,
            "a literal two rules share is one group"
        );
        assert!(
            paths.identities.iter().all(Option::is_some),
            "absolute paths name files"
        );
        let set = &module.sets[paths.set.0 as usize];
        assert_eq!(set.list, None);
        assert_eq!(set.keys.len(), 8);
        assert_eq!(set.kind, crate::ir::SetKind::StrHash { key_len: 8 });
        // Keys sorted, each valued by its rank and its file's identity bit.
        for (group, (key, value)) in set.keys.iter().zip(&set.values).enumerate() {
            assert_eq!(&key[..4], format!("/a/{group}").as_bytes());
            assert!(key[4..].iter().all(|b| *b == 0));
            assert_eq!(&value[..4], &(group as u32).to_le_bytes());
        }
        // Every program of the hook shares the map.
        assert!(module
            .programs
            .iter()
            .all(|p| p.str_dispatches.first().map(|d| d.set) == Some(paths.set)));
        let comms = &program.str_dispatches[1];
        assert!(comms.identities.iter().all(Option::is_none));
    }

    #[test]
    fn runs_that_differ_only_in_their_literal_share_one_body() {
        let mut source = String::new();
        for i in 0..9 {
            source += &path_rule(&format!("s{i}"), &format!("/s/{i}"), " and proc.uid != 0");
        }
        source += &path_rule("s_again", "/s/3", " and proc.uid != 0");
        source +=
            "rule int_first { on file.open when proc.uid == 7 and file.path == \"/x\" deny }\n";
        // One rule's later test differs: the run does not share a body.
        for i in 0..8 {
            let more = if i == 4 {
                " and proc.uid != 1"
            } else {
                " and proc.uid != 0"
            };
            source += &path_rule(&format!("t{i}"), &format!("/t/{i}"), more);
        }
        let module = lowered(&source);
        let program = &module.programs[0];
        assert_eq!(program.str_dispatches.len(), 2);
        let run = &program.str_dispatches[0];
        let ranked = run
            .shared
            .as_ref()
            .and_then(|s| s.ranked)
            .expect("a shared run on a resolved path, ranked");
        assert!(program.str_dispatches[1].shared.is_none());
        // Each literal's value is the id of its first rule.
        let set = &module.sets[run.set.0 as usize];
        assert_eq!(set.keys.len(), 9);
        for (key, value) in set.keys.iter().zip(&set.values) {
            let lit: Vec<u8> = key.iter().take_while(|b| **b != 0).copied().collect();
            let first = program.rules[run.start..run.end]
                .iter()
                .find(|r| super::str_eq_term(r).map(|(_, l, _)| l) == Some(lit.as_slice()))
                .expect("a rule with the literal");
            assert_eq!(&value[..4], &first.rule_id.to_le_bytes());
        }
        // The ranked set: every literal in order, ranked by its rule's id;
        // the literals' own sets are gone (those of the other run stay,
        // with `/x`'s).
        let ids = &module.identities[ranked.0 as usize];
        let rules = &program.rules[run.start..run.end];
        assert_eq!(
            ids.ranks,
            rules.iter().map(|r| r.rule_id).collect::<Vec<_>>()
        );
        assert_eq!(ids.paths[3], "/s/3");
        assert_eq!(ids.paths[9], "/s/3");
        assert_eq!(module.identities.len(), 1 + 1 + 8);
        assert!(module
            .identities
            .iter()
            .all(|set| !set.paths.contains(&"/s/5".to_string()) || !set.ranks.is_empty()));
        // The shared run's first tests name the ranked set.
        for rule in rules {
            assert_eq!(
                super::str_eq_term(rule).and_then(|(_, _, id)| id),
                Some(ranked)
            );
        }
    }

    #[test]
    fn seven_rules_or_a_run_broken_by_another_field_are_not_dispatched() {
        let mut source = String::new();
        for i in 0..7 {
            source += &format!("rule c{i} {{ on exec when proc.comm == \"c{i}\" deny }}\n");
        }
        // Another field's equality: the run is 7 + 1 + 7.
        source += "rule exe { on exec when proc.exe == \"/bin/x\" deny }\n";
        for i in 0..7 {
            source += &format!("rule d{i} {{ on exec when proc.comm == \"d{i}\" deny }}\n");
        }
        let module = lowered(&source);
        assert!(module.programs.iter().all(|p| p.str_dispatches.is_empty()));
        assert!(module.sets.is_empty());
    }

    // prefix dispatch (LPM trie)
    /// `rule NAME { on file.open when file.path OP "LIT"MORE deny }`.
    fn affix_rule(op: &str, name: &str, lit: &str, more: &str) -> String {
        format!("rule {name} {{ on file.open when file.path {op} \"{lit}\"{more} deny }}\n")
    }

    /// The prefix (and suffix) runs of the first program: (start, end,
    /// suffix).
    fn affix_runs(module: &crate::ir::Module) -> Vec<(usize, usize, bool)> {
        module.programs[0]
            .prefix_dispatches
            .iter()
            .map(|d| (d.start, d.end, d.suffix))
            .collect()
    }

    /// The rules of the group of `lit` (as written: reversed here for a
    /// suffix run).
    fn group_of<'d>(d: &'d crate::ir::PrefixDispatch, lit: &str) -> &'d [u32] {
        let key: Vec<u8> = if d.suffix {
            lit.bytes().rev().collect()
        } else {
            lit.bytes().collect()
        };
        let at = d
            .literals
            .iter()
            .position(|l| *l == key)
            .expect("a literal");
        &d.groups[at]
    }

    /// Each key of `d`'s LPM trie: its literal past the common bytes, its
    /// length in bits first, zero-padded, valued by its group index.
    fn assert_trie_keys(module: &crate::ir::Module, d: &crate::ir::PrefixDispatch) {
        let set = &module.sets[d.set.0 as usize];
        let longest = d.literals.iter().map(Vec::len).max().unwrap_or(0);
        assert_eq!(
            set.kind,
            crate::ir::SetKind::StrPrefix {
                data_len: (longest - d.common) as u32
            }
        );
        assert_eq!(set.keys.len(), d.literals.len());
        for (g, ((key, value), lit)) in set
            .keys
            .iter()
            .zip(&set.values)
            .zip(&d.literals)
            .enumerate()
        {
            let lit = &lit[d.common..];
            assert_eq!(&key[..4], &((lit.len() as u32) * 8).to_le_bytes());
            assert_eq!(&key[4..4 + lit.len()], lit);
            assert!(key[4 + lit.len()..].iter().all(|b| *b == 0));
            assert_eq!(value, &(g as u32).to_le_bytes().to_vec());
        }
    }

    #[test]
    fn runs_of_eight_prefixes_dispatch_to_the_first_rule_whose_prefix_holds() {
        let rule = |name: &str, lit: &str, more: &str| affix_rule("startswith", name, lit, more);
        let mut source = String::new();
        // Rule offsets 0..9: "/srv/a/b/" comes after "/srv/a/", which
        // comes after "/srv/"; "/etc/x" before "/etc/".
        source += &rule("p0", "/etc/x", " and proc.uid == 1");
        source += &rule("p1", "/srv/a/", "");
        source += &rule("p2", "/srv/a/b/", "");
        source += &rule("p3", "/srv/", "");
        source += &rule("p4", "/etc/", "");
        source += &rule("p5", "/srv/a/", " and proc.uid == 2");
        source += &rule("p6", "/usr/", "");
        source += &rule("p7", "/var/log/", "");
        source += &rule("p8", "/opt/", "");
        // Another first test ends the run.
        source += &path_rule("other", "/x", "");
        for i in 0..7 {
            source += &rule(&format!("q{i}"), &format!("/q/{i}"), "");
        }
        let module = lowered(&source);
        let program = &module.programs[0];
        assert_eq!(
            affix_runs(&module),
            vec![(0, 9, false)],
            "the 7 after the other rule are too few"
        );
        assert!(program.str_dispatches.is_empty());
        let d = &program.prefix_dispatches[0];
        let first = |lit: &str| group_of(d, lit)[0];
        assert_eq!(d.literals.len(), 8, "a literal two rules share is one key");
        assert_eq!(first("/etc/x"), 0);
        assert_eq!(first("/etc/"), 4);
        assert_eq!(first("/srv/"), 3);
        assert_eq!(first("/srv/a/"), 1);
        assert_eq!(first("/srv/a/b/"), 1, "its prefix /srv/a/ is rule 1's");
        assert_eq!(first("/var/log/"), 7);
        assert_eq!(group_of(d, "/srv/a/b/"), [1, 2, 3, 5]);
        assert_eq!(group_of(d, "/etc/x"), [0, 4]);
        assert_eq!(d.common, 0, "their first byte only: not worth it");
        assert_trie_keys(&module, d);
    }

    /// `n` rules `on exec when exec.cmdline OP "NAME<i>..."` (a space
    /// after a prefix, before a suffix).
    fn cmdline_rules(op: &str, name: &str, n: usize) -> String {
        (0..n)
            .map(|i| {
                let lit = if op == "endswith" {
                    format!(" {name}{i}")
                } else {
                    format!("{name}{i} ")
                };
                format!("rule {name}{i} {{ on exec when exec.cmdline {op} \"{lit}\" deny }}\n")
            })
            .collect()
    }

    #[test]
    fn literals_longer_than_an_lpm_trie_holds_end_a_run() {
        // A prefix run: 8 rules, one too long, 7; a suffix run: 8 rules,
        // one too long (its 257 bytes and the NUL), then a prefix run.
        for (op, long, after, runs) in [
            ("startswith", 300, "startswith", vec![(0, 8, false)]),
            (
                "endswith",
                257,
                "startswith",
                vec![(0, 8, true), (9, 17, false)],
            ),
        ] {
            let long = "x".repeat(long);
            let mut source = cmdline_rules(op, "c", 8);
            source += &format!("rule long {{ on exec when exec.cmdline {op} \"{long}\" deny }}\n");
            source += &cmdline_rules(after, "d", if op == "endswith" { 8 } else { 7 });
            assert_eq!(affix_runs(&lowered(&source)), runs, "{op}");
        }
    }

    // suffix dispatch (LPM trie of reversed literals)
    #[test]
    fn runs_of_eight_suffixes_dispatch_on_reversed_literals() {
        let rule = |name: &str, lit: &str, more: &str| affix_rule("endswith", name, lit, more);
        let mut source = String::new();
        // Rule offsets 0..9: ".pem" before "cert.pem" before
        // "/server-cert.pem"; a `startswith` rule on the same field ends
        // the run.
        source += &rule("s0", ".pem", " and proc.uid == 1");
        source += &rule("s1", "cert.pem", "");
        source += &rule("s2", "/server-cert.pem", "");
        source += &rule("s3", ".key", "");
        source += &rule("s4", ".pem", "");
        source += &rule("s5", "/id_rsa", "");
        source += &rule("s6", ".env", "");
        source += &rule("s7", "cert.pem", " and proc.uid == 2");
        source += &rule("s8", "a", "");
        source += &affix_rule("startswith", "p", "/x", "");
        for i in 0..7 {
            source += &rule(&format!("q{i}"), &format!(".q{i}"), "");
        }
        let module = lowered(&source);
        assert_eq!(
            affix_runs(&module),
            vec![(0, 9, true)],
            "a startswith rule ends the run"
        );
        let d = &module.programs[0].prefix_dispatches[0];
        assert_eq!(d.literals.len(), 7, "a literal two rules share is one key");
        assert_eq!(group_of(d, "/server-cert.pem"), [0, 1, 2, 4, 7]);
        assert_eq!(group_of(d, "cert.pem"), [0, 1, 4, 7]);
        assert_eq!(group_of(d, ".pem"), [0, 4]);
        assert_eq!(group_of(d, ".key"), [3]);
        assert_eq!(group_of(d, "a"), [8]);
        assert_trie_keys(&module, d);
        let set = &module.sets[d.set.0 as usize];
        assert!(set
            .keys
            .iter()
            .any(|k| k[4..].starts_with(b"mep.trec-revres/")));
    }

    #[test]
    fn a_runs_common_prefix_or_suffix_is_compared_inline_and_left_out_of_the_keys() {
        // Every literal starts (ends) with 23 bytes, but one is exactly
        // them: each key keeps a byte.
        for (op, template, shared) in [
            (
                "startswith",
                "/srv/polc-bench/prefix-{}/",
                "/srv/polc-bench/prefix-",
            ),
            (
                "endswith",
                "/suffix-{}/polc-bench/target.conf",
                "/polc-bench/target.conf",
            ),
        ] {
            let mut source = String::new();
            for i in 0..8 {
                let lit = template.replace("{}", &i.to_string());
                source += &affix_rule(op, &format!("r{i}"), &lit, "");
            }
            source += &affix_rule(op, "shared", shared, "");
            let module = lowered(&source);
            let suffix = op == "endswith";
            assert_eq!(affix_runs(&module), vec![(0, 9, suffix)], "{op}");
            let d = &module.programs[0].prefix_dispatches[0];
            assert_eq!(d.common, 22, "{op}");
            assert_eq!(group_of(d, shared), [8], "full literals: {op}");
            assert_trie_keys(&module, d);
        }
        assert_eq!(
            super::common_prefix(&[b"abcdefgh1".to_vec(), b"abcdefgh2".to_vec()]),
            8
        );
        assert_eq!(
            super::common_prefix(&[b"abcdefg1".to_vec(), b"abcdefg2".to_vec()]),
            0,
            "fewer than 8 bytes: not worth it"
        );
        assert_eq!(super::common_prefix(&[b"abcdefghij".to_vec()]), 9);
    }

    #[test]
    fn prefix_groups_are_the_rules_among_the_prefixes_in_order() {
        let lits: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            b"ab".to_vec(),
            b"abc".to_vec(),
            b"b".to_vec(),
        ];
        let rules: Vec<&[u8]> = vec![b"abc", b"b", b"ab", b"a"];
        assert_eq!(
            super::prefix_groups(&lits, &rules),
            vec![vec![3], vec![2, 3], vec![0, 2, 3], vec![1]]
        );
    }
}
