//! The reference interpreter: evaluates a checked policy on one event and
//! returns the decision and the traces that fire.
//!
//! This is the executable definition of the language's semantics: `polc test`
//! compares the compiled programs against it, the differential property tests
//! use it as the oracle, and lowering uses [`eval_test`] to fold tests on
//! fields whose value a program knows statically. Kernel-facing details are
//! modelled exactly: strings are byte strings cut at the first NUL and
//! truncated to what the field's kernel buffer holds (`max - 1` bytes), ints
//! are truncated to the field's width, IPv4 and IPv6 never match each other.
//!
//! Resolved paths ([`crate::check::hooks::FieldSpec::resolved_path`]) are
//! whole paths up to [`RESOLVED_PATH_MAX`] bytes (the kernel keeps their
//! exact length and first bytes), may be unresolved, and carry the identity
//! of their file: `==` and `in` on them also hold when the file is the one a
//! named path leads to ([`Event::named_files`]). A test whose outcome such a
//! value leaves undecided (any test on an unresolved path; `endswith` and
//! `contains` on a path longer than the field's buffer) is *undecided*, and
//! conditions are evaluated in three-valued (Kleene) logic. An undecided rule
//! decides **fail-closed**: a `deny`, `kill` (or trace) matches, an `allow`
//! or `audit` (which would end the evaluation, letting the operation
//! through) does not.
//!
//! Depends only on `check` (the checked policy and the field table).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use crate::check::hooks::{FieldId, FieldType, Hook, RESOLVED_PATH_MAX};
use crate::check::policy::{
    Action, CheckedPolicy, CmpOp, Expr, PolicyTest, StrOp, Test, TestOp, Value,
};

/// A file's identity: the kernel's device number of its file system
/// (`major << 20 | minor`) and its inode number.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileIdentity {
    pub dev: u64,
    pub ino: u64,
}

/// One event: the value of each field; fields not present are zero, empty,
/// `0.0.0.0` or false.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    pub values: BTreeMap<FieldId, Value>,
    /// Resolved paths the kernel could not resolve (their values, if any,
    /// are ignored).
    pub unresolved: BTreeSet<FieldId>,
    /// The identity of the file behind each resolved path (absent: a file
    /// no named path leads to).
    pub identities: BTreeMap<FieldId, FileIdentity>,
    /// The file each path the policy names leads to, as the runtime found
    /// it (absent: no file there).
    pub named_files: BTreeMap<String, FileIdentity>,
}

impl Event {
    /// An event with the given field values.
    pub fn new(values: impl IntoIterator<Item = (FieldId, Value)>) -> Event {
        Event {
            values: values.into_iter().collect(),
            ..Event::default()
        }
    }

    /// The value of `field` as the kernel would see it (see [`FieldValue`]).
    pub fn get(&self, field: FieldId) -> FieldValue {
        if !field.spec().resolved_path {
            return FieldValue::from_value(field.spec().ty, self.values.get(&field));
        }
        if self.unresolved.contains(&field) {
            return FieldValue::Unresolved;
        }
        // A resolved path is whole up to PATH_MAX, not cut to the buffer.
        match self.values.get(&field) {
            Some(Value::Str(s)) => {
                let bytes = kernel_string(s.as_bytes(), u16::MAX);
                if bytes.len() > RESOLVED_PATH_MAX as usize {
                    FieldValue::Unresolved
                } else {
                    FieldValue::Str(bytes)
                }
            }
            _ => FieldValue::Str(Vec::new()),
        }
    }
}

/// A field's value normalised to what a program sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    Int(u64),
    /// Bytes up to the first NUL, at most `max - 1` of them (resolved
    /// paths: the whole path, up to [`RESOLVED_PATH_MAX`] bytes).
    Str(Vec<u8>),
    Ip(IpAddr),
    Bool(bool),
    /// A resolved path the kernel could not resolve.
    Unresolved,
}

impl FieldValue {
    /// Normalises `value` (or the default when `None`) to a field of type `ty`.
    /// A value of the wrong type counts as the default.
    pub fn from_value(ty: FieldType, value: Option<&Value>) -> FieldValue {
        match ty {
            FieldType::Int { bits } => {
                let raw = match value {
                    Some(Value::Int(n)) => *n,
                    _ => 0,
                };
                FieldValue::Int(truncate_int(raw, bits))
            }
            FieldType::Str { max } => {
                let bytes = match value {
                    Some(Value::Str(s)) => s.as_bytes(),
                    _ => &[],
                };
                FieldValue::Str(kernel_string(bytes, max))
            }
            FieldType::Ip => FieldValue::Ip(match value {
                Some(Value::Ip { addr, .. }) => unmap_ipv4(*addr),
                _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            }),
            FieldType::Bool => FieldValue::Bool(matches!(value, Some(Value::Bool(true)))),
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it
/// carries: a connection from an IPv6 socket to one is IPv4 traffic, and
/// IPv4 rules apply to it. Other addresses are unchanged.
pub fn unmap_ipv4(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

/// `raw` cut to its low `bits` bits.
pub fn truncate_int(raw: u64, bits: u8) -> u64 {
    if bits >= 64 {
        raw
    } else {
        raw & ((1u64 << bits) - 1)
    }
}

/// What a kernel buffer of `max` bytes holds of `bytes`: up to the first NUL,
/// at most `max - 1` bytes.
pub fn kernel_string(bytes: &[u8], max: u16) -> Vec<u8> {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let keep = end.min(usize::from(max.saturating_sub(1)));
    bytes[..keep].to_vec()
}

/// The outcome of one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The rule that decided, if any.
    pub rule: Option<u32>,
    /// `Allow` when no rule matched or an `allow` rule decided.
    pub action: Action,
    /// Every trace that fired, by rule id, in file order.
    pub traces: Vec<u32>,
}

/// Evaluates every rule and trace of `policy` on `hook` for `event`.
pub fn evaluate(policy: &CheckedPolicy, hook: Hook, event: &Event) -> Decision {
    let mut decision = Decision {
        rule: None,
        action: Action::Allow,
        traces: Vec::new(),
    };
    for rule in policy.rules_on(hook) {
        let matches = rule
            .cond
            .as_ref()
            .is_none_or(|cond| decide(rule.action, eval_expr(policy, cond, event)));
        if !matches {
            continue;
        }
        if rule.action == Action::Trace {
            decision.traces.push(rule.id);
        } else if decision.rule.is_none() {
            decision.rule = Some(rule.id);
            decision.action = rule.action;
        }
    }
    decision
}

/// The strength of a verdict between policies: kill over deny over audit
/// over allow (a trace is no verdict: weakest).
pub fn strength(action: Action) -> u8 {
    match action {
        Action::Trace => 0,
        Action::Allow => 1,
        Action::Audit => 2,
        Action::Deny => 3,
        Action::Kill => 4,
    }
}

/// Several policies enforced together (`polrt run A B`) on one event: each
/// decides on its own, first match in its own file order; the operation
/// gets the strongest of their verdicts ([`strength`]); every trace of
/// every policy fires. Returns each policy's decision and the verdict.
pub fn evaluate_all(
    policies: &[&CheckedPolicy],
    hook: Hook,
    event: &Event,
) -> (Vec<Decision>, Action) {
    let decisions: Vec<Decision> = policies
        .iter()
        .map(|policy| evaluate(policy, hook, event))
        .collect();
    let verdict = decisions
        .iter()
        .map(|d| d.action)
        .max_by_key(|a| strength(*a))
        .unwrap_or(Action::Allow);
    (decisions, verdict)
}

/// What is wrong with `decision` against what `test` expects (the verdict,
/// the deciding rule, the traces): nothing when the test passes.
pub fn expectation_problems(
    policy: &CheckedPolicy,
    test: &PolicyTest,
    decision: &Decision,
) -> Vec<String> {
    let mut problems = Vec::new();
    let expected_rule_ok = test.expect_rule.is_none_or(|id| decision.rule == Some(id));
    if decision.action != test.expect || !expected_rule_ok {
        let expected = match test.expect_rule {
            Some(id) => format!("{} by {}", test.expect.keyword(), rule_name(policy, id)),
            None => test.expect.keyword().to_string(),
        };
        problems.push(format!(
            "expected {expected}, got {}",
            describe_decision(policy, decision.rule, decision.action, &[])
        ));
    }
    if let Some(traces) = &test.expect_traces {
        let mut want = traces.clone();
        want.sort_unstable();
        if want != decision.traces {
            problems.push(format!(
                "expected traces [{}], got [{}]",
                rule_names(policy, &want),
                rule_names(policy, &decision.traces)
            ));
        }
    }
    problems
}

/// Runs one of the policy's own tests on the interpreter: its decision and
/// what is wrong with it.
pub fn run_test(policy: &CheckedPolicy, test: &PolicyTest) -> (Decision, Vec<String>) {
    run_test_with(policy, test, &[])
}

/// [`run_test`], with the values of the fields holding the ids of the user
/// and group names the policy compares with (`crate::accounts`).
pub fn run_test_with(
    policy: &CheckedPolicy,
    test: &PolicyTest,
    names: &[(FieldId, Value)],
) -> (Decision, Vec<String>) {
    let event = Event::new(test.fields.iter().cloned().chain(names.iter().cloned()));
    let decision = evaluate(policy, test.hook, &event);
    let problems = expectation_problems(policy, test, &decision);
    (decision, problems)
}

fn rule_name(policy: &CheckedPolicy, id: u32) -> &str {
    policy
        .rules
        .get(id as usize)
        .map_or("?", |rule| rule.name.as_str())
}

/// The names of rules, comma-separated.
pub fn rule_names(policy: &CheckedPolicy, ids: &[u32]) -> String {
    ids.iter()
        .map(|id| rule_name(policy, *id))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `deny by r with traces [t]`, `allow (no rule matched)`.
pub fn describe_decision(
    policy: &CheckedPolicy,
    rule: Option<u32>,
    action: Action,
    traces: &[u32],
) -> String {
    let mut text = match rule {
        Some(id) => format!("{} by {}", action.keyword(), rule_name(policy, id)),
        None => "allow (no rule matched)".to_string(),
    };
    if !traces.is_empty() {
        text.push_str(&format!(" with traces [{}]", rule_names(policy, traces)));
    }
    text
}

/// Whether a rule with `action` whose condition evaluated to `value`
/// matches: an undecided condition fails closed (see the module docs).
pub fn decide(action: Action, value: Option<bool>) -> bool {
    value.unwrap_or(fails_closed_to_match(action))
}

/// Whether an undecided condition makes a rule with `action` match: it does
/// for the actions that refuse or report without ending the evaluation
/// (`deny`, `kill`, traces), not for those that would let the operation
/// through (`allow`, `audit`).
pub fn fails_closed_to_match(action: Action) -> bool {
    matches!(action, Action::Deny | Action::Kill | Action::Trace)
}

/// Evaluates a condition on an event in three-valued logic (`None`:
/// undecided).
pub fn eval_expr(policy: &CheckedPolicy, expr: &Expr, event: &Event) -> Option<bool> {
    match expr {
        Expr::And(items) => {
            let mut all = Some(true);
            for item in items {
                match eval_expr(policy, item, event) {
                    Some(false) => return Some(false),
                    None => all = None,
                    Some(true) => {}
                }
            }
            all
        }
        Expr::Or(items) => {
            let mut any = Some(false);
            for item in items {
                match eval_expr(policy, item, event) {
                    Some(true) => return Some(true),
                    None => any = None,
                    Some(false) => {}
                }
            }
            any
        }
        Expr::Not(inner) => eval_expr(policy, inner, event).map(|v| !v),
        Expr::Test(Test {
            field,
            op: TestOp::FieldCmp { op, other },
            ..
        }) => match (event.get(*field), event.get(*other)) {
            (FieldValue::Int(a), FieldValue::Int(b)) => Some(compare(*op, a, b)),
            _ => Some(false),
        },
        Expr::Test(test) => {
            let by_value = eval_test3(policy, test, &event.get(test.field));
            if by_value == Some(true) {
                return by_value;
            }
            match same_file(policy, test, event) {
                Some(true) => Some(true),
                _ => by_value,
            }
        }
    }
}

/// Whether a `==`/`in` test on a resolved path holds by identity: the
/// event's file is the file one of the test's absolute paths leads to.
fn same_file(policy: &CheckedPolicy, test: &Test, event: &Event) -> Option<bool> {
    if !test.field.spec().resolved_path {
        return None;
    }
    let identity = event.identities.get(&test.field)?;
    let named = |path: &str| path.starts_with('/') && event.named_files.get(path) == Some(identity);
    match &test.op {
        TestOp::StrEq(lit) => Some(named(lit)),
        TestOp::In(list) => Some(policy.list(*list).elems.iter().any(|elem| match elem {
            Value::Str(path) => named(path),
            _ => false,
        })),
        _ => None,
    }
}

/// Evaluates one leaf test on the (normalised) value of its field, in
/// three-valued logic: `None` when the value leaves it undecided (an
/// unresolved path; `endswith`/`contains` on a resolved path longer than
/// its field's buffer, of which a program sees only the first bytes).
pub fn eval_test3(policy: &CheckedPolicy, test: &Test, value: &FieldValue) -> Option<bool> {
    let max = match test.field.spec().ty {
        FieldType::Str { max } => usize::from(max),
        _ => usize::MAX,
    };
    // Every string starts with, ends with and contains the empty string,
    // whatever the kernel could tell of it (lowering folds such tests); the
    // empty glob pattern matches the empty string only.
    let empty_literal = match &test.op {
        TestOp::Str {
            op: StrOp::Matches, ..
        }
        | TestOp::StrAny {
            op: StrOp::Matches, ..
        } => false,
        TestOp::Str { value: lit, .. } => lit.is_empty(),
        TestOp::StrAny { list, .. } => policy
            .list(*list)
            .elems
            .iter()
            .any(|e| matches!(e, Value::Str(lit) if lit.is_empty())),
        _ => false,
    };
    if empty_literal {
        return Some(true);
    }
    match (value, &test.op) {
        (FieldValue::Unresolved, _) => None,
        (
            FieldValue::Str(s),
            TestOp::Str {
                op: StrOp::EndsWith | StrOp::Contains | StrOp::Matches,
                ..
            }
            | TestOp::StrAny {
                op: StrOp::EndsWith | StrOp::Contains | StrOp::Matches,
                ..
            },
        ) if s.len() >= max => None,
        _ => Some(eval_test(policy, test, value)),
    }
}

/// Evaluates one leaf test on the (normalised, decided) value of its field.
pub fn eval_test(policy: &CheckedPolicy, test: &Test, value: &FieldValue) -> bool {
    let ty = test.field.spec().ty;
    match (&test.op, value) {
        (TestOp::IntCmp { op, value: lit }, FieldValue::Int(v)) => {
            let lit = match ty {
                FieldType::Int { bits } => truncate_int(*lit, bits),
                _ => *lit,
            };
            compare(*op, *v, lit)
        }
        (TestOp::Bits { mask, all }, FieldValue::Int(v)) => {
            if *all {
                v & mask == *mask
            } else {
                v & mask != 0
            }
        }
        (TestOp::StrEq(lit), FieldValue::Str(s)) => s.as_slice() == lit.as_bytes(),
        (TestOp::Str { op, value: lit }, FieldValue::Str(s)) => str_op(*op, s, lit.as_bytes()),
        (TestOp::StrAny { op, list }, FieldValue::Str(s)) => {
            policy.list(*list).elems.iter().any(|elem| match elem {
                Value::Str(lit) => str_op(*op, s, lit.as_bytes()),
                _ => false,
            })
        }
        (TestOp::IpIn { addr, prefix }, FieldValue::Ip(ip)) => ip_in(ip, addr, *prefix),
        (TestOp::IsTrue, FieldValue::Bool(b)) => *b,
        (TestOp::In(list), value) => {
            policy
                .list(*list)
                .elems
                .iter()
                .any(|elem| match (elem, value) {
                    (Value::Int(lit), FieldValue::Int(v)) => *v == *lit,
                    (Value::Str(lit), FieldValue::Str(s)) => s.as_slice() == lit.as_bytes(),
                    (Value::Ip { addr, prefix }, FieldValue::Ip(ip)) => ip_in(ip, addr, *prefix),
                    _ => false,
                })
        }
        // The checker guarantees operator and field types agree.
        _ => false,
    }
}

/// `left OP right`.
pub fn compare(op: CmpOp, left: u64, right: u64) -> bool {
    match op {
        CmpOp::Eq => left == right,
        CmpOp::Ne => left != right,
        CmpOp::Lt => left < right,
        CmpOp::Le => left <= right,
        CmpOp::Gt => left > right,
        CmpOp::Ge => left >= right,
    }
}

fn str_op(op: StrOp, s: &[u8], lit: &[u8]) -> bool {
    match op {
        StrOp::StartsWith => s.starts_with(lit),
        StrOp::EndsWith => s.ends_with(lit),
        StrOp::Contains => lit.is_empty() || s.windows(lit.len()).any(|w| w == lit),
        StrOp::Matches => crate::check::glob::glob_match(lit, s),
    }
}

/// Whether `ip` is in the network `net/prefix` (same family only).
pub fn ip_in(ip: &IpAddr, net: &IpAddr, prefix: u8) -> bool {
    let (a, b, bits): (Vec<u8>, Vec<u8>, u32) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (a.octets().to_vec(), b.octets().to_vec(), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (a.octets().to_vec(), b.octets().to_vec(), 128),
        _ => return false,
    };
    let prefix = u32::from(prefix).min(bits);
    (0..prefix).all(|bit| {
        let byte = (bit / 8) as usize;
        let mask = 0x80u8 >> (bit % 8);
        a[byte] & mask == b[byte] & mask
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::policy::{CheckedRule, ListDef, ListId, RuleKind};
    use crate::span::Span;

    fn field(name: &str) -> FieldId {
        FieldId::from_name(name).expect("field exists")
    }

    fn test(name: &str, op: TestOp) -> Expr {
        Expr::Test(Test {
            field: field(name),
            op,
            span: Span::default(),
        })
    }

    fn rule(id: u32, action: Action, cond: Option<Expr>) -> CheckedRule {
        CheckedRule {
            id,
            name: format!("r{id}"),
            kind: if action == Action::Trace {
                RuleKind::Trace
            } else {
                RuleKind::Rule
            },
            hook: Hook::Exec,
            cond,
            action,
            message: None,
            emit: Vec::new(),
            span: Span::default(),
            name_span: Span::default(),
            line: 1,
        }
    }

    fn policy(rules: Vec<CheckedRule>, lists: Vec<ListDef>) -> CheckedPolicy {
        CheckedPolicy {
            source_name: "t.pol".into(),
            source_hash: String::new(),
            lists,
            rules,
            tests: Vec::new(),
        }
    }

    #[test]
    fn first_matching_rule_decides_and_traces_all_fire() {
        let p = policy(
            vec![
                rule(0, Action::Trace, None),
                rule(
                    1,
                    Action::Allow,
                    Some(test(
                        "proc.uid",
                        TestOp::IntCmp {
                            op: CmpOp::Eq,
                            value: 0,
                        },
                    )),
                ),
                rule(
                    2,
                    Action::Deny,
                    Some(test("exec.path", TestOp::StrEq("/bin/sh".into()))),
                ),
                rule(3, Action::Audit, None),
                rule(
                    4,
                    Action::Trace,
                    Some(test(
                        "proc.uid",
                        TestOp::IntCmp {
                            op: CmpOp::Gt,
                            value: 999,
                        },
                    )),
                ),
            ],
            Vec::new(),
        );
        let root_sh = Event::new([
            (field("proc.uid"), Value::Int(0)),
            (field("exec.path"), Value::Str("/bin/sh".into())),
        ]);
        let d = evaluate(&p, Hook::Exec, &root_sh);
        assert_eq!(
            (d.rule, d.action, d.traces.clone()),
            (Some(1), Action::Allow, vec![0])
        );

        let user_sh = Event::new([
            (field("proc.uid"), Value::Int(1000)),
            (field("exec.path"), Value::Str("/bin/sh".into())),
        ]);
        let d = evaluate(&p, Hook::Exec, &user_sh);
        assert_eq!(
            (d.rule, d.action, d.traces.clone()),
            (Some(2), Action::Deny, vec![0, 4])
        );

        let d = evaluate(
            &p,
            Hook::Exec,
            &Event::new([(field("proc.uid"), Value::Int(5))]),
        );
        assert_eq!((d.rule, d.action), (Some(3), Action::Audit));
        assert_eq!(evaluate(&p, Hook::FileOpen, &user_sh).rule, None);
    }

    #[test]
    fn strings_are_cut_like_kernel_buffers() {
        assert_eq!(kernel_string(b"abcdef", 4), b"abc");
        assert_eq!(kernel_string(b"ab\0cd", 16), b"ab");
        let comm = Event::new([(
            field("proc.comm"),
            Value::Str("a-very-long-command-name".into()),
        )]);
        assert_eq!(
            comm.get(field("proc.comm")),
            FieldValue::Str(b"a-very-long-com".to_vec())
        );
    }

    #[test]
    fn string_operators() {
        assert!(str_op(StrOp::StartsWith, b"/etc/shadow", b"/etc/"));
        assert!(!str_op(StrOp::StartsWith, b"/et", b"/etc/"));
        assert!(str_op(StrOp::EndsWith, b"/etc/shadow", b"shadow"));
        assert!(str_op(StrOp::Contains, b"/etc/shadow", b"c/sh"));
        assert!(str_op(StrOp::Contains, b"", b""));
        assert!(!str_op(StrOp::Contains, b"abc", b"abcd"));
    }

    #[test]
    fn ips_match_networks_of_their_own_family() {
        let v4 = |s: &str| s.parse::<IpAddr>().expect("valid");
        assert!(ip_in(&v4("10.1.2.3"), &v4("10.0.0.0"), 8));
        assert!(!ip_in(&v4("11.1.2.3"), &v4("10.0.0.0"), 8));
        assert!(ip_in(&v4("172.31.255.255"), &v4("172.16.0.0"), 12));
        assert!(!ip_in(&v4("172.32.0.0"), &v4("172.16.0.0"), 12));
        assert!(ip_in(&v4("fe80::1"), &v4("fe80::"), 10));
        assert!(!ip_in(&v4("::ffff:10.0.0.1"), &v4("10.0.0.0"), 8));
        // Events carry mapped addresses as the IPv4 address they hold.
        let mapped = Event::new([(
            FieldId::from_name("net.daddr").expect("field"),
            Value::Ip {
                addr: v4("::ffff:10.0.0.1"),
                prefix: 128,
            },
        )]);
        assert_eq!(
            mapped.get(FieldId::from_name("net.daddr").expect("field")),
            FieldValue::Ip(v4("10.0.0.1"))
        );
        assert!(ip_in(&v4("1.2.3.4"), &v4("0.0.0.0"), 0));
    }

    #[test]
    fn in_lists_and_int_widths() {
        let lists = vec![ListDef {
            name: Some("ports".into()),
            elems: vec![Value::Int(22), Value::Int(25)],
            span: Span::default(),
            file: None,
        }];
        let p = policy(
            vec![rule(
                0,
                Action::Deny,
                Some(test("proc.uid", TestOp::In(ListId(0)))),
            )],
            lists,
        );
        assert_eq!(
            evaluate(
                &p,
                Hook::Exec,
                &Event::new([(field("proc.uid"), Value::Int(25))])
            )
            .action,
            Action::Deny
        );
        // proc.uid is 32 bits wide: the high bits never reach a program.
        assert_eq!(
            evaluate(
                &p,
                Hook::Exec,
                &Event::new([(field("proc.uid"), Value::Int((1 << 32) | 22))])
            )
            .action,
            Action::Deny
        );
        assert_eq!(
            evaluate(&p, Hook::Exec, &Event::default()).action,
            Action::Allow
        );
    }

    fn checked(source: &str) -> CheckedPolicy {
        let checked = crate::check::check_source("t.pol", source);
        checked.policy.expect("the test policy checks")
    }

    #[test]
    fn several_policies_keep_their_first_match_and_the_strongest_verdict_wins() {
        let first = checked(
            "rule allow_smtp {\n    on net.connect\n    when net.dport == 25\n    allow\n}\n\nrule audit_all {\n    on net.connect\n    audit\n}\n",
        );
        let second = checked(
            "rule block_smtp {\n    on net.connect\n    when net.dport == 25\n    deny\n}\n\nrule kill_telnet {\n    on net.connect\n    when net.dport == 23\n    kill\n}\n\ntrace connects {\n    on net.connect\n    emit net.dport\n}\n",
        );
        let connect = |port: u64| Event::new([(field("net.dport"), Value::Int(port))]);
        let both = [&first, &second];
        // 25: the first policy allows (its audit_all never runs), the
        // second denies: deny wins; the trace fires.
        let (decisions, verdict) = evaluate_all(&both, Hook::NetConnect, &connect(25));
        assert_eq!(verdict, Action::Deny);
        assert_eq!(decisions[0].action, Action::Allow);
        assert_eq!(decisions[0].rule, Some(0));
        assert_eq!(decisions[1].action, Action::Deny);
        assert_eq!(decisions[1].traces, [2]);
        // 23: audit by the first, kill by the second: kill.
        let (decisions, verdict) = evaluate_all(&both, Hook::NetConnect, &connect(23));
        assert_eq!(verdict, Action::Kill);
        assert_eq!(decisions[0].action, Action::Audit);
        // 80: only the first's audit.
        let (_, verdict) = evaluate_all(&both, Hook::NetConnect, &connect(80));
        assert_eq!(verdict, Action::Audit);
        // The order of the policies does not matter.
        let (_, verdict) = evaluate_all(&[&second, &first], Hook::NetConnect, &connect(25));
        assert_eq!(verdict, Action::Deny);
        // No policy: allowed.
        assert_eq!(
            evaluate_all(&[], Hook::NetConnect, &connect(25)).1,
            Action::Allow
        );
    }

    #[test]
    fn has_needs_every_bit_and_has_any_one() {
        let policy = checked(
            "rule all {\n    on file.open\n    when file.flags has [O_CREAT, O_TRUNC]\n    deny\n}\n\nrule one {\n    on file.open\n    when file.flags has any [O_APPEND, O_TRUNC]\n    audit\n}\n",
        );
        let open = |flags: u64| Event::new([(field("file.flags"), Value::Int(flags))]);
        let action = |flags: u64| evaluate(&policy, Hook::FileOpen, &open(flags)).action;
        assert_eq!(action(0o1101), Action::Deny);
        assert_eq!(action(0o1100), Action::Deny);
        assert_eq!(action(0o1001), Action::Audit);
        assert_eq!(action(0o2000), Action::Audit);
        assert_eq!(action(0o101), Action::Allow);
        assert_eq!(action(0), Action::Allow);
    }

    /// The directory part and base name as the docs define them.
    fn dir_and_name(path: &str) -> (&str, &str) {
        match path.rfind('/') {
            Some(0) => ("/", &path[1..]),
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        }
    }

    #[test]
    fn dir_and_name_decide_as_the_parts_of_the_path() {
        let paths = [
            "",
            "/",
            "/etc",
            "/etc/",
            "/etc/passwd",
            "/etc/ssh/sshd_config",
            "/home/a/.ssh/id_rsa",
            "/home/a/.ssh/id_rsa.pub",
            "/a*b/c",
            "/x/a*b",
            "rel",
            "rel/x",
            "/etc/x/passwd",
            "/home/alice/id_",
            "//x",
            "/etcx/passwd",
        ];
        let tests: &[(&str, &str)] = &[
            ("file.dir == \"/etc\"", "=="),
            ("file.dir == \"/\"", "=="),
            ("file.dir == \"\"", "=="),
            ("file.dir != \"/etc\"", "!="),
            ("file.dir in [\"/etc\", \"/home/a/.ssh\"]", "in"),
            ("file.dir startswith \"/home/\"", "startswith"),
            ("file.dir startswith \"/etc\"", "startswith"),
            ("file.dir startswith \"/\"", "startswith"),
            ("file.dir matches \"/home/*/.ssh\"", "matches"),
            ("file.dir matches \"**\"", "matches"),
            ("file.name == \"passwd\"", "=="),
            ("file.name == \"\"", "=="),
            ("file.name == \"a*b\"", "=="),
            ("file.name startswith \"id_\"", "startswith"),
            ("file.name endswith \".pub\"", "endswith"),
            ("file.name contains \"ss\"", "contains"),
            ("file.name matches \"id_*\"", "matches"),
            ("file.name matches \"**.pub\"", "matches"),
            ("file.name not in [\"passwd\", \"rel\"]", "not in"),
        ];
        // Every path with parts: the base, its parts, a hook it is on.
        let parts = [
            ("file.path", "file.dir", "file.name", Hook::FileOpen),
            ("exec.path", "exec.dir", "exec.name", Hook::Exec),
            ("proc.exe", "proc.exe.dir", "proc.exe.name", Hook::FileOpen),
            (
                "file.newpath",
                "file.newdir",
                "file.newname",
                Hook::FileRename,
            ),
        ];
        for ((when, _), (base, dir_part, name_part, hook)) in
            tests.iter().flat_map(|t| parts.iter().map(move |p| (t, p)))
        {
            let when = when
                .replace("file.dir", dir_part)
                .replace("file.name", name_part);
            let policy = checked(&format!("rule r {{ on {} when {when} deny }}", hook.name()));
            for path in paths {
                let (dir, name) = dir_and_name(path);
                let expected = {
                    let (part, rest) = when.split_once(' ').expect("a test");
                    let value = if part == *dir_part { dir } else { name };
                    let (op, lit) = rest.split_once(' ').map_or((rest, ""), |x| x);
                    let (op, lit) = if let Some(l) = lit.strip_prefix("in ") {
                        ("not", l)
                    } else {
                        (op, lit)
                    };
                    let strings: Vec<String> = lit
                        .trim_matches(|c| c == '[' || c == ']')
                        .split(", ")
                        .map(|s| s.trim_matches('"').to_string())
                        .collect();
                    let one = &strings[0];
                    match op {
                        "==" => value == one,
                        "!=" => value != one,
                        "in" => strings.iter().any(|s| s == value),
                        "not" => !strings.iter().any(|s| s == value),
                        "startswith" => value.starts_with(one.as_str()),
                        "endswith" => value.ends_with(one.as_str()),
                        "contains" => value.contains(one.as_str()),
                        "matches" => {
                            crate::check::glob::glob_match(one.as_bytes(), value.as_bytes())
                        }
                        other => panic!("{other}"),
                    }
                };
                let event = Event::new([(field(base), Value::Str(path.to_string()))]);
                let decided = evaluate(&policy, *hook, &event).action == Action::Deny;
                assert_eq!(decided, expected, "{when} on {path:?}");
            }
        }
    }

    #[test]
    fn any_element_decides_like_the_kernel() {
        let policy = checked(
            "rule nc { on exec when exec.args[*] == \"-e\" deny }\n\
             rule none { on exec when not exec.args[*] startswith \"-\" audit }",
        );
        let event = |argc: u64, args: &[&str]| {
            let mut values = vec![(field("exec.argc"), Value::Int(argc))];
            for (n, arg) in args.iter().enumerate() {
                values.push((
                    field(&format!("exec.args[{n}]")),
                    Value::Str(arg.to_string()),
                ));
            }
            Event::new(values)
        };
        let nc = evaluate(&policy, Hook::Exec, &event(3, &["nc", "-e", "/bin/sh"]));
        assert_eq!(nc.action, Action::Deny);
        // Past argc an element does not exist, whatever the event says.
        let past = evaluate(&policy, Hook::Exec, &event(1, &["nc", "-e"]));
        assert_eq!(
            past.action,
            Action::Audit,
            "no existing argument starts with -"
        );
        let plain = evaluate(&policy, Hook::Exec, &event(2, &["ls", "-l"]));
        assert_eq!(plain.action, Action::Allow);
        let bare = evaluate(&policy, Hook::Exec, &event(2, &["ls", "/tmp"]));
        assert_eq!(bare.action, Action::Audit);
    }

    #[test]
    fn a_test_with_arguments_decides_on_their_command_line() {
        let policy = checked(
            "rule miner { on exec when exec.cmdline contains \"stratum+tcp\" deny }\n\
             test \"t\" { on exec with exec.args[0] = \"xmrig\", exec.args[1] = \"-o\", \
             exec.args[2] = \"stratum+tcp://pool:3333\" expect deny by miner }",
        );
        let (decision, problems) = run_test(&policy, &policy.tests[0]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(decision.action, Action::Deny);
    }

    #[test]
    fn a_test_event_from_a_cgroup_path_has_its_container_context() {
        let id = "4c01db0b339c1b4c4f3d2a5a9d1e0f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";
        let uid = "7d9e3f2a-1b4c-4d5e-8f6a-0b1c2d3e4f5a";
        let pod = format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/crio-{id}.scope",
            uid.replace('-', "_")
        );
        let policy = checked(&format!(
            "rule r {{ on exec when proc.in_container and container.runtime in [\"crio\", \"lxc\", \"systemd-nspawn\"] deny }}\n\
             test \"pod\" {{ on exec with cgroup = \"{pod}\" expect deny by r }}\n\
             test \"lxc\" {{ on exec with cgroup = \"/lxc.payload.web/init.scope\" expect deny by r }}\n\
             test \"nspawn's supervisor\" {{ on exec with cgroup = \"/machine.slice/machine-web.scope/supervisor\" expect allow }}\n\
             test \"host\" {{ on exec with cgroup = \"/system.slice/sshd.service\" expect allow }}\n"
        ));
        for test in &policy.tests {
            let (_, problems) = run_test(&policy, test);
            assert!(problems.is_empty(), "{}: {problems:?}", test.name);
        }
        // The fields are the reference parser's, as the kernel decides them.
        let event = Event::new(policy.tests[0].fields.iter().cloned());
        let get = |name: &str| event.get(FieldId::from_name(name).unwrap());
        let s = |v: &str| FieldValue::Str(v.as_bytes().to_vec());
        assert_eq!(get("container.id"), s(id));
        assert_eq!(get("container.short_id"), s(&id[..12]));
        assert_eq!(get("container.runtime"), s("crio"));
        assert_eq!(get("proc.in_container"), FieldValue::Bool(true));
        assert_eq!(get("k8s.pod.uid"), s(uid));
        assert_eq!(get("k8s.pod.qos"), s("besteffort"));
        let event = Event::new(policy.tests[1].fields.iter().cloned());
        let get = |name: &str| event.get(FieldId::from_name(name).unwrap());
        assert_eq!(get("container.id"), s("web"));
        assert_eq!(get("container.runtime"), s("lxc"));
        assert_eq!(get("k8s.pod.uid"), s(""));
    }
}
