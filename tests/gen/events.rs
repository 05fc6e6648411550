//! Random events for a checked policy, aimed at its edges, and the `test`
//! blocks that carry them to `polc test`.
//!
//! Values come from the policy itself: its literals and list elements, and
//! what sits just beside them — prefixes, suffixes, one-byte changes,
//! concatenations, strings at and past their field's length (the kernel
//! truncates them), embedded NULs, integers ±1 and past their field's width,
//! the first and last addresses of a network and the ones just outside,
//! IPv4-mapped IPv6 forms. Most events are steered: the interpreter's own
//! leaf semantics pick values that make chosen tests true or false, so that
//! later rules get to decide too, not only the first one.
//!
//! Raw events may hold values a `test` block cannot spell (NULs, strings past
//! the limit, integers past the width); [`for_test_block`] turns one into the
//! nearest event that a test block can carry. Depends on `polc` (checked
//! policy, interpreter) and [`super::rng`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use polc::check::hooks::{FieldId, FieldType, Hook};
use polc::check::policy::{CheckedPolicy, Expr, Test, TestOp, Value};
use polc::interp::{self, Decision, Event, FieldValue};

use super::policy::{fields_on, mask, render_int, render_str};
use super::rng::{pick, Entropy};

/// Events for the rules and traces of one hook of a policy.
pub struct EventGen<'p> {
    policy: &'p CheckedPolicy,
    hook: Hook,
    fields: Vec<FieldId>,
    /// Literals the policy compares each field with.
    pools: BTreeMap<FieldId, Vec<Value>>,
}

impl<'p> EventGen<'p> {
    /// Collects the literals of every rule and trace on `hook`.
    pub fn new(policy: &'p CheckedPolicy, hook: Hook) -> EventGen<'p> {
        let mut pools: BTreeMap<FieldId, Vec<Value>> = BTreeMap::new();
        for rule in policy.rules_on(hook) {
            if let Some(cond) = &rule.cond {
                let mut tests = Vec::new();
                collect_tests(cond, &mut tests);
                for test in tests {
                    pools
                        .entry(test.field)
                        .or_default()
                        .extend(literals(policy, test));
                }
            }
        }
        // Elements the policy tests (`FIELD[*]` tests every one) get values
        // too, not only those the generator names.
        let mut fields = fields_on(hook);
        for field in pools.keys() {
            if !fields.contains(field) {
                fields.push(*field);
            }
        }
        EventGen {
            policy,
            hook,
            fields,
            pools,
        }
    }

    /// One event (raw: it may hold values no `test` block can spell).
    pub fn event(&self, rng: &mut impl Entropy) -> Event {
        let mut values: BTreeMap<FieldId, Value> = BTreeMap::new();
        let rules: Vec<_> = self.policy.rules_on(self.hook).collect();
        match rng.weighted(&[50, 8, 27, 5, 10]) {
            0 if !rules.is_empty() => {
                // Rule k decides: earlier rules false, then k true (last, so
                // it wins where they share a field); a trace or two true.
                let k = rng.index(rules.len());
                for rule in &rules[..k] {
                    if let Some(cond) = &rule.cond {
                        if rng.chance(80) {
                            self.steer(rng, cond, false, &mut values);
                        }
                    }
                }
                for rule in &rules {
                    if rule.kind == polc::check::policy::RuleKind::Trace && rng.chance(30) {
                        if let Some(cond) = &rule.cond {
                            self.steer(rng, cond, true, &mut values);
                        }
                    }
                }
                if let Some(cond) = &rules[k].cond {
                    self.steer(rng, cond, true, &mut values);
                }
            }
            1 if !rules.is_empty() => {
                for rule in &rules {
                    if let Some(cond) = &rule.cond {
                        self.steer(rng, cond, false, &mut values);
                    }
                }
            }
            3 => return self.with_accounts(Event::default()),
            4 => {
                for field in &self.fields {
                    if rng.chance(60) {
                        values.insert(*field, random_value(rng, *field));
                    }
                }
            }
            _ => {}
        }
        for field in &self.fields {
            if values.contains_key(field) || !rng.chance(35) {
                continue;
            }
            let value = match self.pools.get(field) {
                Some(pool) if !pool.is_empty() && rng.chance(75) => {
                    let lit = pick(rng, pool).clone();
                    let mut near = near(rng, *field, &lit);
                    near.swap_remove(rng.index(near.len()))
                }
                _ => random_value(rng, *field),
            };
            values.insert(*field, value);
        }
        if rng.chance(20) {
            // Now and then a container context as a real cgroup gives it
            // (which a test block may then give as that cgroup's path).
            let path: &&str = pick(rng, CGROUPS);
            let context = polc::container::from_path(path);
            for (field, value) in container_values(&context) {
                if self.fields.contains(&field) {
                    values.insert(field, value);
                }
            }
        }
        let mut event = Event::new(values);
        self.resolve(rng, &mut event);
        self.with_accounts(event)
    }

    /// `event` with the ids of the names the policy compares with: the
    /// generated databases' (what polrt and `polc test --passwd` write),
    /// whatever the steering wanted.
    fn with_accounts(&self, mut event: Event) -> Event {
        for field in polc::accounts::account_fields(self.policy) {
            if let Some((group, name)) = polc::check::hooks::account_of(field) {
                let id = super::policy::account_id(group, name).expect("a generated name");
                event.values.insert(field, Value::Int(u64::from(id)));
            }
        }
        event
    }

    /// What the kernel found behind resolved paths: now and then a path it
    /// could not resolve, and files with identities, some of which paths the
    /// policy names lead to (by another name than the event's value).
    fn resolve(&self, rng: &mut impl Entropy, event: &mut Event) {
        for field in self.fields.iter().filter(|f| f.spec().resolved_path) {
            if rng.chance(8) {
                event.unresolved.insert(*field);
            }
            if !rng.chance(30) {
                continue;
            }
            let id = interp::FileIdentity {
                dev: 0x800_001 + rng.index(3) as u64,
                ino: 1 + rng.index(50) as u64,
            };
            event.identities.insert(*field, id);
            let named: Vec<&str> = self
                .pools
                .get(field)
                .into_iter()
                .flatten()
                .filter_map(|v| match v {
                    Value::Str(s) if s.starts_with('/') => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            if !named.is_empty() && rng.chance(60) {
                let path = named[rng.index(named.len())].to_string();
                event.named_files.insert(path, id);
            }
        }
    }

    /// Sets fields so that `expr` evaluates to `want` where the tests allow.
    fn steer(
        &self,
        rng: &mut impl Entropy,
        expr: &Expr,
        want: bool,
        out: &mut BTreeMap<FieldId, Value>,
    ) {
        match expr {
            Expr::And(items) | Expr::Or(items) => {
                let all = matches!(expr, Expr::And(_)) == want;
                if all {
                    for item in items {
                        self.steer(rng, item, want, out);
                    }
                } else if !items.is_empty() {
                    let item = &items[rng.index(items.len())];
                    self.steer(rng, item, want, out);
                }
            }
            Expr::Not(inner) => self.steer(rng, inner, !want, out),
            Expr::Test(Test {
                field,
                op: TestOp::FieldCmp { op, other },
                ..
            }) => {
                // The other field's value (kept if set), then one of this
                // field's values around it that decides as wanted.
                if rng.chance(90) {
                    // A user or group name: the id the databases give it.
                    let account = polc::check::hooks::account_of(*other)
                        .and_then(|(group, name)| super::policy::account_id(group, name));
                    let b = match out.get(other) {
                        _ if account.is_some() => u64::from(account.unwrap_or_default()),
                        Some(Value::Int(b)) => *b,
                        _ => {
                            let b = *pick(rng, &[0u64, 1, 1000, 65_534]);
                            out.insert(*other, Value::Int(b));
                            b
                        }
                    };
                    let candidates = [b, b.wrapping_add(1), b.wrapping_sub(1), 0];
                    let good: Vec<u64> = candidates
                        .into_iter()
                        .filter(|a| interp::compare(*op, *a, b) == want)
                        .collect();
                    if !good.is_empty() && field != other {
                        out.insert(*field, Value::Int(good[rng.index(good.len())]));
                    }
                }
            }
            Expr::Test(test) => {
                if rng.chance(90) {
                    if let Some(value) = satisfy(rng, self.policy, test, want) {
                        out.insert(test.field, value);
                    }
                }
            }
        }
    }
}

fn collect_tests<'a>(expr: &'a Expr, out: &mut Vec<&'a Test>) {
    match expr {
        Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| collect_tests(e, out)),
        Expr::Not(inner) => collect_tests(inner, out),
        Expr::Test(test) => out.push(test),
    }
}

/// The literals a test compares its field with.
fn literals(policy: &CheckedPolicy, test: &Test) -> Vec<Value> {
    match &test.op {
        TestOp::IntCmp { value, .. } => vec![Value::Int(*value)],
        TestOp::StrEq(s) | TestOp::Str { value: s, .. } => vec![Value::Str(s.clone())],
        TestOp::StrAny { list, .. } | TestOp::In(list) => policy.list(*list).elems.clone(),
        TestOp::IpIn { addr, prefix } => vec![Value::Ip {
            addr: *addr,
            prefix: *prefix,
        }],
        TestOp::IsTrue => vec![Value::Bool(true), Value::Bool(false)],
        // A user or group name: the id it stands for, and its neighbours.
        TestOp::FieldCmp { other, .. } => polc::check::hooks::account_of(*other)
            .and_then(|(group, name)| super::policy::account_id(group, name))
            .map(|id| vec![Value::Int(u64::from(id))])
            .unwrap_or_default(),
        TestOp::Bits { mask, .. } => vec![
            Value::Int(*mask),
            Value::Int(mask & mask.wrapping_sub(1)),
            Value::Int(mask & mask.wrapping_neg()),
            Value::Int(0),
        ],
    }
}

/// A value for `test.field` that makes `test` evaluate to `want`, picked
/// among values near the test's literals (by the interpreter's semantics).
fn satisfy(
    rng: &mut impl Entropy,
    policy: &CheckedPolicy,
    test: &Test,
    want: bool,
) -> Option<Value> {
    let ty = test.field.spec().ty;
    let mut candidates = Vec::new();
    let lits = literals(policy, test);
    for _ in 0..3 {
        if lits.is_empty() {
            break;
        }
        let lit = pick(rng, &lits).clone();
        candidates.extend(near(rng, test.field, &lit));
    }
    candidates.push(random_value(rng, test.field));
    let good: Vec<Value> = candidates
        .into_iter()
        .filter(|v| interp::eval_test(policy, test, &FieldValue::from_value(ty, Some(v))) == want)
        .collect();
    (!good.is_empty()).then(|| good[rng.index(good.len())].clone())
}

/// A few values of `field` at and around `lit`.
fn near(rng: &mut impl Entropy, field: FieldId, lit: &Value) -> Vec<Value> {
    let ty = field.spec().ty;
    match (ty, lit) {
        (FieldType::Int { bits }, Value::Int(v)) => {
            let max = if bits >= 64 {
                u64::MAX
            } else {
                (1u64 << bits) - 1
            };
            let over = if bits >= 64 { *v } else { *v | (1u64 << bits) };
            vec![
                Value::Int(*v),
                Value::Int(v.wrapping_add(1)),
                Value::Int(v.wrapping_sub(1)),
                Value::Int(0),
                Value::Int(max),
                Value::Int(max.wrapping_add(1)),
                // Past the field's width: the kernel sees the low bits only.
                Value::Int(over),
                Value::Int(rng.any_u64()),
            ]
        }
        (FieldType::Str { max }, Value::Str(s)) => {
            let limit = usize::from(max) - 1;
            let word = pick(rng, &["a", "/", "x/", "bin", "é", "sh", ".conf"]).to_string();
            let mut out = vec![
                s.clone(),
                format!("{s}{word}"),
                format!("{word}{s}"),
                format!("{word}{s}{word}"),
                format!("{s}{s}"),
                cut(s, rng.index(s.len() + 1)),
                suffix(s, rng.index(s.len() + 1)),
                mutate(rng, s),
                mutate(rng, s),
                // At, just past and far past the field's length.
                pad(s, limit),
                pad(s, limit + 1),
                pad(&format!("{word}{s}"), limit + 17),
                format!("{s}\0{word}"),
                String::new(),
            ];
            if !s.is_empty() && rng.chance(30) {
                // The literal placed so that it ends exactly at the limit.
                let head = "q".repeat(limit.saturating_sub(s.len()));
                out.push(format!("{head}{s}"));
            }
            out.into_iter().map(Value::Str).collect()
        }
        (FieldType::Ip, Value::Ip { addr, prefix }) => {
            let mut out = Vec::new();
            let bits: u8 = if addr.is_ipv4() { 32 } else { 128 };
            let inside = fill_host_bits(rng, *addr, *prefix);
            let last = last_address(*addr, *prefix);
            out.push(*addr);
            out.push(inside);
            out.push(last);
            out.push(add(last, 1));
            out.push(add(*addr, -1));
            if *prefix > 0 {
                // Just outside: the last bit of the prefix flipped.
                out.push(flip_bit(inside, prefix - 1));
            }
            if *prefix < bits {
                out.push(flip_bit(*addr, *prefix));
            }
            // IPv4 addresses also as IPv4-mapped IPv6 ones.
            let mapped: Vec<IpAddr> = out
                .iter()
                .filter_map(|a| match a {
                    IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
                    IpAddr::V6(_) => None,
                })
                .collect();
            out.extend(mapped);
            out.into_iter()
                .map(|addr| Value::Ip {
                    prefix: if addr.is_ipv4() { 32 } else { 128 },
                    addr,
                })
                .collect()
        }
        (FieldType::Bool, _) => vec![Value::Bool(true), Value::Bool(false)],
        _ => vec![random_value(rng, field)],
    }
}

/// The first `n` bytes of `s`, at a character boundary at or below `n`.
fn cut(s: &str, n: usize) -> String {
    let mut n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s[..n].to_string()
}

/// The last bytes of `s` from byte `n` on (at a character boundary).
fn suffix(s: &str, n: usize) -> String {
    let mut n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n += 1;
    }
    s[n..].to_string()
}

/// `s` padded with `'p'` to `len` bytes (unchanged when already longer).
fn pad(s: &str, len: usize) -> String {
    let mut out = s.to_string();
    while out.len() < len {
        out.push('p');
    }
    out
}

/// One character of `s` replaced, inserted or removed.
fn mutate(rng: &mut impl Entropy, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let c = *pick(rng, &['a', 'Z', '/', '.', '0', 'é', ' ']);
    match rng.below(3) {
        0 if !chars.is_empty() => {
            let i = rng.index(chars.len());
            chars[i] = if chars[i] == c { 'b' } else { c };
        }
        1 if !chars.is_empty() => {
            chars.remove(rng.index(chars.len()));
        }
        _ => chars.insert(rng.index(chars.len() + 1), c),
    }
    chars.into_iter().collect()
}

fn fill_host_bits(rng: &mut impl Entropy, addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let host = if prefix >= 32 {
                0
            } else {
                (rng.below(1 << 32) as u32) & (u32::MAX >> prefix)
            };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) | host))
        }
        IpAddr::V6(a) => {
            let random = (u128::from(rng.any_u64()) << 64) | u128::from(rng.any_u64());
            let host = if prefix >= 128 {
                0
            } else {
                random & (u128::MAX >> prefix)
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(a) | host))
        }
    }
}

fn last_address(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let host = if prefix >= 32 { 0 } else { u32::MAX >> prefix };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) | host))
        }
        IpAddr::V6(a) => {
            let host = if prefix >= 128 {
                0
            } else {
                u128::MAX >> prefix
            };
            IpAddr::V6(Ipv6Addr::from(u128::from(a) | host))
        }
    }
}

fn add(addr: IpAddr, delta: i64) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(
            u32::from(a).wrapping_add(delta as i32 as u32),
        )),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(
            u128::from(a).wrapping_add(delta as i128 as u128),
        )),
    }
}

/// `addr` with bit `bit` (0 = most significant) flipped.
fn flip_bit(addr: IpAddr, bit: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) if bit < 32 => {
            IpAddr::V4(Ipv4Addr::from(u32::from(a) ^ (1u32 << (31 - bit))))
        }
        IpAddr::V6(a) if bit < 128 => {
            IpAddr::V6(Ipv6Addr::from(u128::from(a) ^ (1u128 << (127 - bit))))
        }
        other => other,
    }
}

/// Any value of `field`'s type.
pub fn random_value(rng: &mut impl Entropy, field: FieldId) -> Value {
    match field.spec().ty {
        FieldType::Int { .. } => Value::Int(match rng.below(3) {
            0 => rng.below(100),
            1 => rng.below(1 << 32),
            _ => rng.any_u64(),
        }),
        FieldType::Str { max } => {
            if let Some(value) = super::policy::container_value(rng, field.spec().name) {
                if rng.chance(60) {
                    return Value::Str(value);
                }
            }
            let len = rng.range(0, u64::from(max) + 4) as usize;
            let mut s = String::new();
            while s.len() < len {
                let piece = *pick(rng, &["/", "usr", "bin", "a", "é", "-", "sh", "etc"]);
                s.push_str(piece);
            }
            Value::Str(s)
        }
        FieldType::Ip => {
            let addr = match rng.below(3) {
                0 => IpAddr::V4(Ipv4Addr::from(rng.below(1 << 32) as u32)),
                1 => IpAddr::V6(Ipv4Addr::from(rng.below(1 << 32) as u32).to_ipv6_mapped()),
                _ => IpAddr::V6(Ipv6Addr::from(
                    (u128::from(rng.any_u64()) << 64) | u128::from(rng.any_u64()),
                )),
            };
            Value::Ip {
                prefix: if addr.is_ipv4() { 32 } else { 128 },
                addr: mask(addr, if addr.is_ipv4() { 32 } else { 128 }),
            }
        }
        FieldType::Bool => Value::Bool(rng.chance(50)),
    }
}

/// The nearest event a `test` block can carry: strings cut at their first
/// NUL and to what the field holds (at a character boundary), integers cut
/// to the field's width.
pub fn for_test_block(event: &Event) -> Event {
    Event {
        values: event
            .values
            .iter()
            .map(|(field, value)| {
                let value = match (field.spec().ty, value) {
                    (FieldType::Str { max }, Value::Str(s)) => {
                        let s = s.split('\0').next().unwrap_or_default();
                        Value::Str(cut(s, usize::from(max) - 1))
                    }
                    (FieldType::Int { bits }, Value::Int(n)) => {
                        Value::Int(interp::truncate_int(*n, bits))
                    }
                    (_, other) => other.clone(),
                };
                (*field, value)
            })
            .collect(),
        ..Event::default()
    }
}

/// An event's values as a test block's `with` list (fields by name).
pub fn with_clause(rng: &mut impl Entropy, event: &Event) -> String {
    // A test that gives elements of a counted field but not the count (or
    // arguments but no command line) gets them derived; this event has
    // them zero and empty: say so.
    let mut values = event.values.clone();
    for field in event.values.keys() {
        let Some((family, _)) = field.element() else {
            continue;
        };
        let count = polc::check::hooks::indexed_spec(family)
            .and_then(|spec| spec.count)
            .and_then(FieldId::from_name);
        if let Some(count) = count {
            values.entry(count).or_insert(Value::Int(0));
        }
        if family.spec().name == "exec.args[N]" {
            if let Some(cmdline) = FieldId::from_name("exec.cmdline") {
                values.entry(cmdline).or_insert(Value::Str(String::new()));
            }
        }
    }
    let cgroup = if rng.chance(40) {
        cgroup_for(rng, &mut values)
    } else {
        None
    };
    let mut items: Vec<String> = values
        .iter()
        // The ids of user and group names come from the databases.
        .filter(|(field, _)| !field.spec().internal())
        .map(|(field, value)| {
            let text = match value {
                Value::Int(n) => render_int(rng, *n),
                Value::Str(s) => render_str(rng, s),
                Value::Ip { addr, .. } => addr.to_string(),
                Value::Bool(b) => b.to_string(),
            };
            format!("{} = {text}", field.spec().name)
        })
        .collect();
    if let Some(path) = cgroup {
        let at = rng.below(items.len() as u64 + 1) as usize;
        items.insert(at, format!("cgroup = {}", render_str(rng, path)));
    }
    items.join(", ")
}

/// Cgroup paths a test can give instead of the container fields.
pub const CGROUPS: &[&str] = &[
    "/system.slice/sshd.service",
    "/user.slice/user-1000.slice/session-2.scope",
    "/system.slice/docker-4c01db0b339c1b4c4f3d2a5a9d1e0f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e.scope",
    "/kubepods/besteffort/pod7d9e3f2a-1b4c-4d5e-8f6a-0b1c2d3e4f5a/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "/machine.slice/machine-web.scope/payload",
    "/lxc.payload.web",
];

/// The container context fields and their values for `context`.
fn container_values(context: &polc::container::ContainerContext) -> Vec<(FieldId, Value)> {
    context.field_values()
}

/// A cgroup path (from [`CGROUPS`]) whose container context is exactly the
/// container fields of `values` (absent ones empty or false), with those
/// fields taken out of `values`; `None` when no path fits.
fn cgroup_for(
    rng: &mut impl Entropy,
    values: &mut BTreeMap<FieldId, Value>,
) -> Option<&'static str> {
    let fits: Vec<&'static str> = CGROUPS
        .iter()
        .copied()
        .filter(|path| {
            container_values(&polc::container::from_path(path))
                .iter()
                .all(|(field, want)| {
                    FieldValue::from_value(field.spec().ty, values.get(field))
                        == FieldValue::from_value(field.spec().ty, Some(want))
                })
        })
        .collect();
    if fits.is_empty() {
        return None;
    }
    let path = *pick(rng, &fits);
    for (field, _) in container_values(&polc::container::from_path(path)) {
        values.remove(&field);
    }
    Some(path)
}

/// An event for a failure message: every value, strings with escapes.
pub fn describe(event: &Event) -> String {
    let mut out = String::new();
    for (field, value) in &event.values {
        let _ = match value {
            Value::Int(n) => write!(out, "{} = {n:#x}; ", field.spec().name),
            Value::Str(s) => write!(out, "{} = {s:?}; ", field.spec().name),
            Value::Ip { addr, .. } => write!(out, "{} = {addr}; ", field.spec().name),
            Value::Bool(b) => write!(out, "{} = {b}; ", field.spec().name),
        };
    }
    for field in &event.unresolved {
        let _ = write!(out, "{} unresolved; ", field.spec().name);
    }
    for (field, id) in &event.identities {
        let _ = write!(
            out,
            "{} is file {:#x}:{}; ",
            field.spec().name,
            id.dev,
            id.ino
        );
    }
    for (path, id) in &event.named_files {
        let _ = write!(out, "{path:?} leads to file {:#x}:{}; ", id.dev, id.ino);
    }
    out
}

/// A `test` block for `event` (one a test block can carry) on `hook`,
/// expecting `decision`.
pub fn test_block(
    rng: &mut impl Entropy,
    policy: &CheckedPolicy,
    name: &str,
    hook: Hook,
    event: &Event,
    decision: &Decision,
) -> String {
    let mut out = format!("test \"{name}\" {{\n    on {}", hook.name());
    // (The ids of user and group names are no part of the clause.)
    let with = with_clause(rng, event);
    if !with.is_empty() {
        let _ = write!(out, " with {with}");
    }
    let _ = write!(out, "\n    expect {}", decision.action.keyword());
    if let Some(rule) = decision.rule {
        let _ = write!(out, " by {}", policy.rules[rule as usize].name);
    }
    if decision.traces.is_empty() {
        out.push_str("\n    expect no traces");
    } else {
        let names: Vec<&str> = decision
            .traces
            .iter()
            .map(|id| policy.rules[*id as usize].name.as_str())
            .collect();
        let _ = write!(out, "\n    expect traces {}", names.join(", "));
    }
    out.push_str("\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::rng::SplitMix64;

    fn policy(source: &str) -> CheckedPolicy {
        polc::check::check_source("t.pol", source)
            .policy
            .expect("checks")
    }

    #[test]
    fn steered_events_reach_every_rule() {
        let p = policy(
            "rule a {\n    on exec\n    when exec.path startswith \"/tmp/\"\n    deny\n}\n\
             rule b {\n    on exec\n    when proc.uid == 1000 and not proc.comm in [\"sshd\"]\n    audit\n}\n\
             rule c {\n    on exec\n    when proc.comm endswith \"sh\"\n    kill\n}\n",
        );
        let gen = EventGen::new(&p, Hook::Exec);
        let mut rng = SplitMix64::new(3);
        let mut decided = [0u32; 4];
        for _ in 0..400 {
            let event = gen.event(&mut rng);
            let d = interp::evaluate(&p, Hook::Exec, &event);
            decided[d.rule.map_or(3, |r| r as usize)] += 1;
        }
        assert!(decided.iter().all(|n| *n > 20), "{decided:?}");
    }

    #[test]
    fn test_blocks_carry_their_event_exactly() {
        let p = policy(
            "rule a {\n    on net.connect\n    when net.daddr in [10.0.0.0/8, fe80::/10] and net.dport < 1024\n    deny\n}\n\
             trace t {\n    on net.connect\n    when proc.comm contains \"é\"\n    emit net.daddr\n}\n",
        );
        let gen = EventGen::new(&p, Hook::NetConnect);
        let mut rng = SplitMix64::new(11);
        for i in 0..300 {
            let event = for_test_block(&gen.event(&mut rng));
            let decision = interp::evaluate(&p, Hook::NetConnect, &event);
            let source = format!(
                "{}\n{}",
                "rule a {\n    on net.connect\n    when net.daddr in [10.0.0.0/8, fe80::/10] and net.dport < 1024\n    deny\n}\n\
                 trace t {\n    on net.connect\n    when proc.comm contains \"é\"\n    emit net.daddr\n}\n",
                test_block(&mut rng, &p, &format!("e{i}"), Hook::NetConnect, &event, &decision)
            );
            let checked = polc::check::check_source("t.pol", &source);
            let with_test = checked.policy.unwrap_or_else(|| {
                panic!(
                    "{source}\n{}",
                    polc::diag::render_text(&checked.diagnostics, "t.pol", &source, false)
                )
            });
            assert_eq!(with_test.tests.len(), 1);
            let carried = Event::new(with_test.tests[0].fields.iter().cloned());
            for field in FieldId::all() {
                assert_eq!(carried.get(field), event.get(field), "{source}");
            }
        }
    }

    #[test]
    fn network_edges_are_inside_and_just_outside() {
        let field = FieldId::from_name("net.daddr").expect("field");
        let mut rng = SplitMix64::new(5);
        let net = Value::Ip {
            addr: "10.0.0.0".parse().expect("ip"),
            prefix: 8,
        };
        let values = near(&mut rng, field, &net);
        let inside = |v: &Value| match v {
            Value::Ip { addr, .. } => interp::ip_in(
                &interp::unmap_ipv4(*addr),
                &"10.0.0.0".parse().expect("ip"),
                8,
            ),
            _ => false,
        };
        assert!(values.iter().filter(|v| inside(v)).count() >= 3);
        assert!(values.iter().filter(|v| !inside(v)).count() >= 3);
        let texts: Vec<String> = values
            .iter()
            .map(|v| match v {
                Value::Ip { addr, .. } => addr.to_string(),
                _ => String::new(),
            })
            .collect();
        assert!(texts.contains(&"10.255.255.255".to_string()), "{texts:?}");
        assert!(texts.contains(&"11.0.0.0".to_string()), "{texts:?}");
        assert!(texts.contains(&"9.255.255.255".to_string()), "{texts:?}");
        assert!(
            texts.contains(&"::ffff:10.255.255.255".to_string()),
            "{texts:?}"
        );
    }
}
