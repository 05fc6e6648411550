//! Random well-typed policies, as `.pol` source text, so that every property
//! test also runs the lexer, the parser and the checker.
//!
//! What a policy can hold, it may get: every hook, every field of the hook
//! table (`polc::check::hooks`), every operator (`== != < <= > >=`,
//! `startswith endswith contains`, `in` / `not in` against named and inline
//! lists), literals of every form (decimal, hex, octal, `_` separators, the
//! `AF_*` constants, escapes and UTF-8 in strings, IPv4 and IPv6 addresses and
//! networks, IPv4-mapped addresses), literals on the left, `and`/`or`/`not`
//! with and without needless parentheses, macros using macros, lists from one
//! element to well past the inline limit (set maps: hash and LPM trie),
//! strings up to their field's limit, every action, message templates with
//! `{field}` placeholders and `{{`/`}}`, traces with `emit`, declarations in
//! any order, comments and odd layout.
//!
//! A policy of the default shapes is meant to check without an error: the
//! sizes are kept inside the measured limits (a policy rejected with E0401
//! to E0404 is a generator bug, and the property tests say so); the shapes
//! near a limit ([`Limit`]) come near it on purpose, and some go over. What the policy
//! *means* is whatever the checker makes of the text: the oracle is the
//! interpreter on the checked policy, never this generator.
//!
//! Depends on the hook table of `polc` and on [`super::rng`] only.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use polc::check::hooks::{FieldId, FieldType, Hook};

use super::rng::{pick, Entropy};

/// How large the generated policies get.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Most rules and traces in one policy.
    pub max_rules: usize,
    /// Deepest nesting of `and`/`or`/`not` in one condition.
    pub max_depth: u32,
    /// Most terms of one `and` or `or`.
    pub max_terms: usize,
    /// Longest list (lists longer than 8 become set maps).
    pub max_list: usize,
    /// Most hooks one policy uses (fewer hooks: more rules per program).
    pub max_hooks: usize,
    /// Most `contains` tests on 255-byte fields per hook (each scans every
    /// byte of the field: the costliest test there is).
    pub max_long_contains: u32,
    /// How often (percent) a list is past the inline limit (a set map: a
    /// program may use at most 64 maps).
    pub large_lists: u64,
    /// The limit a policy of this shape should come near: most of its
    /// string and int tests are then the kind that costs most against it.
    pub focus: Option<Limit>,
}

/// The kernel limits the measurement checks (`polc::measure`), for shapes
/// that come near one of them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Instructions per run and per program: `contains` lists on paths
    /// (each scans every byte).
    Instructions,
    /// Pending verifier branches: inline lists of 8 long strings (each
    /// byte word a comparison).
    Branches,
    /// Maps per program: int lists past the inline limit (a map each).
    Maps,
}

impl Shape {
    /// The shape the property tests use by default.
    pub fn default_shape() -> Shape {
        Shape {
            max_rules: 14,
            max_depth: 4,
            max_terms: 4,
            max_list: 40,
            max_hooks: 6,
            max_long_contains: 6,
            large_lists: 40,
            focus: None,
        }
    }

    /// Policies with many rules on one or two hooks and many costly tests,
    /// around the measured limits: some check and must verify, some are
    /// over them and must be refused with E0401, E0402 or E0403.
    pub fn near_the_budget() -> Shape {
        Shape {
            max_rules: 300,
            max_depth: 4,
            max_terms: 5,
            max_list: 300,
            max_hooks: 2,
            max_long_contains: 200,
            large_lists: 3,
            focus: None,
        }
    }

    /// Many `contains` lists on one hook: around the instruction budget.
    pub fn near_the_instruction_budget() -> Shape {
        Shape {
            max_rules: 800,
            max_depth: 2,
            max_terms: 3,
            max_list: 40,
            max_hooks: 1,
            max_long_contains: 400,
            large_lists: 3,
            focus: Some(Limit::Instructions),
        }
    }

    /// Many comparisons on one hook: around the verifier's pending-branch
    /// limit.
    pub fn near_the_branch_limit() -> Shape {
        Shape {
            max_rules: 700,
            max_depth: 2,
            max_terms: 3,
            max_list: 8,
            max_hooks: 1,
            max_long_contains: 0,
            large_lists: 0,
            focus: Some(Limit::Branches),
        }
    }

    /// Many large lists on one hook: around the map limit.
    pub fn near_the_map_limit() -> Shape {
        Shape {
            max_rules: 160,
            max_depth: 1,
            max_terms: 2,
            max_list: 16,
            max_hooks: 1,
            max_long_contains: 2,
            large_lists: 60,
            focus: Some(Limit::Maps),
        }
    }

    /// Small policies (for fuzzing: fast to build).
    pub fn small() -> Shape {
        Shape {
            max_rules: 6,
            max_depth: 3,
            max_terms: 3,
            max_list: 12,
            max_hooks: 6,
            max_long_contains: 2,
            large_lists: 40,
            focus: None,
        }
    }
}

/// Words that paths, command names and literals are made of, so that
/// literals of different tests (and the events built from them) overlap.
const WORDS: &[&str] = &[
    "usr", "bin", "sbin", "etc", "tmp", "sh", "bash", "dash", "shadow", "passwd", "ssh", "lib",
    "modules", "ko", "conf", "x", "a", "ab", "sshd", "cron", "python3", "curl", "local", "proc",
    "self", "kmod", "insmod", "var", "run", "home", "root",
];

/// Characters beyond words: separators, quotes and backslashes (escaped in
/// the source), control characters (written as escapes), braces, UTF-8.
const ODD_CHARS: &[char] = &[
    '/', '.', '-', '_', ' ', '"', '\\', '\n', '\t', '\u{1}', '\u{1f}', '\u{7f}', '{', '}', '#',
    'é', '日', '🦀', '0', '9', 'Z',
];

#[derive(Clone, Debug)]
enum ListKind {
    /// Strings of at most `max_len` bytes.
    Str { max_len: usize },
    /// Integers of at most `max`.
    Int { max: u64 },
    /// Addresses and networks, IPv4 and IPv6.
    Ip,
}

#[derive(Clone, Debug)]
struct NamedList {
    name: String,
    kind: ListKind,
}

#[derive(Clone, Debug)]
struct Macro {
    name: String,
    /// The hook whose fields it uses; `None`: only `proc.*` fields, so any
    /// hook may use it.
    hook: Option<Hook>,
    /// How deeply macros nest in it (1: it uses none).
    level: u32,
}

/// Deepest nesting of macros a generated macro may have (the checker's
/// limit is 32).
const MAX_MACRO_LEVEL: u32 = 6;

/// A condition before rendering.
enum Cond {
    Atom(String),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
}

struct Gen<'r, R: Entropy> {
    rng: &'r mut R,
    shape: Shape,
    lists: Vec<NamedList>,
    macros: Vec<Macro>,
    /// List and macro declarations, placed among the rules at the end.
    decls: Vec<String>,
    /// `contains` tests on 255-byte fields per hook (each unrolls over every
    /// start position: the costliest test there is).
    long_contains: Vec<(Hook, u32)>,
    n_names: usize,
    /// Per macro body being generated (innermost last): the deepest macro
    /// nesting it uses so far. Not empty: a macro may be used many times,
    /// so no costly tests there.
    macro_levels: Vec<u32>,
}

/// A random policy of the given shape.
pub fn policy(rng: &mut impl Entropy, shape: &Shape) -> String {
    let mut gen = Gen {
        rng,
        shape: shape.clone(),
        lists: Vec::new(),
        macros: Vec::new(),
        decls: Vec::new(),
        long_contains: Vec::new(),
        n_names: 0,
        macro_levels: Vec::new(),
    };
    gen.file()
}

/// The `proc.*` fields: a macro on these alone may be used on any hook.
fn common_fields() -> Vec<FieldId> {
    // Every hook has them; indexed ones (`proc.ancestors[N].comm`) as
    // elements, as `fields_on` gives them.
    fields_on(Hook::ALL[0])
        .into_iter()
        .filter(|f| f.spec().name.starts_with("proc."))
        .collect()
}

// user and group names (`proc.user == "NAME"`)
/// The user names policies name, with the ids the generated databases
/// ([`passwd_text`]) give them: property runs resolve them through those
/// files (`polc test --passwd`), and events carry these ids.
pub const USERS: &[(&str, u32)] = &[
    ("root", 0),
    ("gen-alice", 1000),
    ("svc.build_01", 4242),
    ("nobody", 65534),
];
/// The group names, with their ids ([`group_text`]).
pub const GROUPS: &[(&str, u32)] = &[("root", 0), ("wheel", 10), ("gen-ops", 4242)];

/// The name fields and the id fields they stand for.
const NAME_FIELDS: &[(&str, &str, bool)] = &[
    ("proc.uid", "proc.user", false),
    ("proc.euid", "proc.euser", false),
    ("proc.auid", "proc.loginuser", false),
    ("proc.gid", "proc.group", true),
    ("proc.egid", "proc.egroup", true),
    ("file.uid", "file.user", false),
    ("file.gid", "file.group", true),
    ("setuid.uid", "setuid.user", false),
    ("setuid.euid", "setuid.euser", false),
    ("setgid.gid", "setgid.group", true),
    ("setgid.egid", "setgid.egroup", true),
];

/// The user database of [`USERS`], as `/etc/passwd` is written.
pub fn passwd_text() -> String {
    USERS
        .iter()
        .map(|(name, id)| format!("{name}:x:{id}:{id}::/nonexistent:/usr/sbin/nologin\n"))
        .collect()
}

/// The group database of [`GROUPS`], as `/etc/group` is written.
pub fn group_text() -> String {
    GROUPS
        .iter()
        .map(|(name, id)| format!("{name}:x:{id}:\n"))
        .collect()
}

/// The id the generated databases give a user (`group`: group) name.
pub fn account_id(group: bool, name: &str) -> Option<u32> {
    let table = if group { GROUPS } else { USERS };
    table.iter().find(|(n, _)| *n == name).map(|(_, id)| *id)
}

/// Container context: ids, runtimes, pod uids and QoS classes as the kernel
/// reports them.
const CONTAINER_IDS: &[&str] = &[
    "4c01db0b339c1b4c4f3d2a5a9d1e0f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "unknown",
    // systemd-nspawn and LXC containers: their names.
    "web",
    "u1-a-container-name-longer-than-12",
];
const RUNTIMES: &[&str] = &[
    "docker",
    "containerd",
    "crio",
    "podman",
    "cri",
    "unknown",
    // Named containers.
    "systemd-nspawn",
    "lxc",
];
const POD_UIDS: &[&str] = &[
    "7d9e3f2a-1b4c-4d5e-8f6a-0b1c2d3e4f5a",
    "0b5a8c1e-4f2d-4c3b-9a8e-1d2c3b4a5f60",
];
const QOS: &[&str] = &["guaranteed", "burstable", "besteffort"];

/// A value the kernel could report for container context field `name`
/// (`None` for other fields); sometimes empty (no container).
pub fn container_value(rng: &mut impl Entropy, name: &str) -> Option<String> {
    let pool: Vec<String> = match name {
        "container.id" => CONTAINER_IDS.iter().map(|s| s.to_string()).collect(),
        "container.short_id" => CONTAINER_IDS
            .iter()
            .map(|s| s[..s.len().min(12)].to_string())
            .collect(),
        "container.runtime" => RUNTIMES.iter().map(|s| s.to_string()).collect(),
        "k8s.pod.uid" => POD_UIDS.iter().map(|s| s.to_string()).collect(),
        "k8s.pod.qos" => QOS.iter().map(|s| s.to_string()).collect(),
        _ => return None,
    };
    if rng.chance(20) {
        return Some(String::new());
    }
    Some(pick(rng, &pool).clone())
}

/// Fields available on `hook`, in table order; an indexed field by a few of
/// its elements (the first positions and the last, or a few names).
pub fn fields_on(hook: Hook) -> Vec<FieldId> {
    use polc::check::hooks::{indexed_spec, split_indexed, IndexKind};
    let mut out = Vec::new();
    for field in FieldId::all().filter(|f| f.available_on(hook)) {
        let Some(spec) = indexed_spec(field) else {
            out.push(field);
            continue;
        };
        let (base, _, member) = split_indexed(spec.name).expect("an indexed name");
        let indexes: Vec<String> = match spec.kind {
            IndexKind::Int { first, bound } => {
                let mut positions = vec![first, first + 1, first + 2, bound - 1];
                positions.dedup();
                positions.retain(|n| *n < bound);
                positions.iter().map(|n| n.to_string()).collect()
            }
            IndexKind::Key { .. } => ["\"LD_PRELOAD\"", "\"PATH\"", "\"HOME\""]
                .iter()
                .map(|k| k.to_string())
                .collect(),
        };
        for index in indexes {
            let name = format!("{base}[{index}]{member}");
            out.push(FieldId::from_name(&name).expect("an element"));
        }
    }
    out
}

/// Whether `field` is a string of more than 100 bytes (a path).
fn long_str(field: FieldId) -> bool {
    matches!(field.spec().ty, polc::check::hooks::FieldType::Str { max } if max > 100)
}

fn int_max(bits: u8) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// `addr` with every bit past `prefix` cleared.
pub fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// A string literal in source form: quotes, escapes for what needs them
/// (and, now and then, for what does not).
pub fn render_str(rng: &mut impl Entropy, value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' if rng.chance(70) => out.push_str("\\n"),
            '\t' if rng.chance(70) => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_ascii() && rng.chance(3) => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An integer literal in one of its source forms.
pub fn render_int(rng: &mut impl Entropy, value: u64) -> String {
    match rng.weighted(&[60, 15, 5, 8, 2, 4]) {
        1 => format!("0x{value:x}"),
        2 => format!("0X{value:X}"),
        3 if value >= 1000 => {
            // Underscores every three digits from the right.
            let digits = value.to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push('_');
                }
                out.push(c);
            }
            out
        }
        4 if value == 0 => "-0".to_string(),
        5 => format!("0o{value:o}"),
        _ if value == 2 && rng.chance(50) => "AF_INET".to_string(),
        _ if value == 10 && rng.chance(50) => "AF_INET6".to_string(),
        _ => value.to_string(),
    }
}

/// An address or network in source form.
pub fn render_net(rng: &mut impl Entropy, addr: IpAddr, prefix: u8) -> String {
    let full = if addr.is_ipv4() { 32 } else { 128 };
    if prefix == full && rng.chance(80) {
        addr.to_string()
    } else {
        format!("{addr}/{prefix}")
    }
}

impl<R: Entropy> Gen<'_, R> {
    fn name(&mut self, prefix: &str) -> String {
        self.n_names += 1;
        let style = self.rng.below(4);
        match style {
            0 => format!("{prefix}{}", self.n_names),
            1 => format!("{prefix}_{}_{}", pick(self.rng, WORDS), self.n_names),
            2 => format!("_{prefix}{}", self.n_names),
            _ => format!(
                "{}{prefix}{}",
                pick(self.rng, &["A", "x", "Rule", "z9"]),
                self.n_names
            ),
        }
    }

    fn file(&mut self) -> String {
        let hooks: Vec<Hook> = {
            let mut hooks: Vec<Hook> = Hook::ALL
                .into_iter()
                .filter(|_| self.rng.chance(45))
                .collect();
            if self.shape.focus == Some(Limit::Instructions) {
                // Hooks with a path: where `contains` scans 256 bytes.
                hooks.retain(|hook| fields_on(*hook).iter().any(|f| long_str(*f)));
            }
            if hooks.is_empty() {
                let mut all = Hook::ALL.to_vec();
                if self.shape.focus == Some(Limit::Instructions) {
                    all.retain(|hook| fields_on(*hook).iter().any(|f| long_str(*f)));
                }
                hooks.push(*pick(self.rng, &all));
            }
            while hooks.len() > self.shape.max_hooks.max(1) {
                hooks.remove(self.rng.index(hooks.len()));
            }
            hooks
        };
        let n_rules = if self.shape.max_rules > 20 {
            // Large shapes: mostly large policies.
            self.rng
                .range(self.shape.max_rules as u64 / 2, self.shape.max_rules as u64)
                as usize
        } else {
            self.rng.range(1, self.shape.max_rules as u64) as usize
        };
        let mut rules = Vec::new();
        for _ in 0..n_rules {
            let hook = *pick(self.rng, &hooks);
            let text = if self.rng.chance(25) {
                self.trace(hook)
            } else {
                self.rule(hook)
            };
            rules.push(text);
        }
        // String dispatch: now and then a run of rules on one hook whose
        // first terms compare one string field with a few literals
        // (repeated, so that a literal has several rules in order).
        if self.shape.focus.is_none() && self.rng.chance(20) {
            let hook = *pick(self.rng, &hooks);
            let run = self.string_run(hook);
            if !run.is_empty() {
                let at = self.rng.index(rules.len() + 1);
                rules.splice(at..at, run);
            }
        }
        // Declarations go anywhere: names are resolved over the whole file.
        let mut items = rules;
        let decls = std::mem::take(&mut self.decls);
        for decl in decls {
            let at = self.rng.index(items.len() + 1);
            items.insert(at, decl);
        }
        let mut out = String::new();
        if self.rng.chance(30) {
            out.push_str("# generated policy\n");
        }
        for item in items {
            out.push_str(&item);
            out.push('\n');
            if self.rng.chance(50) {
                out.push('\n');
            }
            if self.rng.chance(10) {
                out.push_str("# a comment between declarations\n");
            }
        }
        out
    }

    /// 8 to 14 rules on `hook` whose first term is `FIELD == "literal"`,
    /// one string field, literals from a pool of a few (empty when the hook
    /// has no string field).
    fn string_run(&mut self, hook: Hook) -> Vec<String> {
        let fields: Vec<FieldId> = fields_on(hook)
            .into_iter()
            .filter(|f| matches!(f.spec().ty, FieldType::Str { .. }) && f.element().is_none())
            .collect();
        if fields.is_empty() {
            return Vec::new();
        }
        let field = *pick(self.rng, &fields);
        let FieldType::Str { max } = field.spec().ty else {
            unreachable!("a string field")
        };
        let limit = usize::from(max) - 1;
        let path = limit > 100;
        let mut pool: Vec<String> = (0..self.rng.range(2, 9))
            .map(|_| self.str_value(limit.min(40), path))
            .collect();
        // Prefix dispatch: `startswith` (or `endswith`) runs, whose literals are often
        // prefixes of each other (the LPM trie's longest match is not the
        // first rule in order then).
        let prefix = self.rng.chance(40);
        let op = if prefix {
            // Suffix dispatch: `endswith` runs, whose literals are often
            // suffixes of each other.
            let suffix = self.rng.chance(40);
            pool.retain(|s| !s.is_empty());
            let mut more = Vec::new();
            for s in &pool {
                if self.rng.chance(60) {
                    let cut = self.rng.range(1, s.len() as u64) as usize;
                    if suffix && s.is_char_boundary(s.len() - cut) {
                        more.push(s[s.len() - cut..].to_string());
                    } else if !suffix && s.is_char_boundary(cut) {
                        more.push(s[..cut].to_string());
                    }
                }
            }
            pool.extend(more);
            if pool.is_empty() {
                return Vec::new();
            }
            // A common prefix of 8 bytes or more, compared inline before
            // the lookup.
            if !suffix && self.rng.chance(35) {
                let head = pick(self.rng, &["/var/lib/polc-gen/", "python3.", "/usr/local/"]);
                for s in &mut pool {
                    if head.len() + s.len() < limit {
                        s.insert_str(0, head);
                    }
                }
            }
            // A common suffix of 8 bytes or more, compared inline at the
            // value's end before the lookup.
            if suffix && self.rng.chance(35) {
                let tail = pick(
                    self.rng,
                    &["/polc-gen/target.conf", ".tar.gz.sig", "-polc.d"],
                );
                for s in &mut pool {
                    if tail.len() + s.len() < limit {
                        s.push_str(tail);
                    }
                }
            }
            if suffix {
                "endswith"
            } else {
                "startswith"
            }
        } else {
            "=="
        };
        // Shared body: now and then an `==` run whose rules differ only in
        // their literal (one action, the same later terms), which shares
        // one body driven by the map's value and the identity map's rank.
        let shared = (op == "==" && self.rng.chance(35)).then(|| {
            let action = *pick(self.rng, &["allow", "audit", "deny", "kill"]);
            let more = self.rng.chance(60).then(|| self.condition(hook));
            (action, more)
        });
        let n = self.rng.range(8, 14) as usize;
        (0..n)
            .map(|_| {
                let name = self.name("r");
                let mut action = *pick(self.rng, &["allow", "audit", "deny", "kill"]);
                let literal = pick(self.rng, &pool).clone();
                let mut cond = format!(
                    "{} {op} {}",
                    field.spec().name,
                    render_str(self.rng, &literal)
                );
                if let Some((shared_action, more)) = &shared {
                    action = shared_action;
                    if let Some(more) = more {
                        cond = format!("{cond} and ({more})");
                    }
                } else if self.rng.chance(60) {
                    let more = self.condition(hook);
                    cond = format!("{cond} and ({more})");
                }
                self.block(
                    "rule",
                    &name,
                    vec![
                        format!("on {}", hook.name()),
                        format!("when {cond}"),
                        action.to_string(),
                    ],
                )
            })
            .collect()
    }

    fn rule(&mut self, hook: Hook) -> String {
        let name = self.name("r");
        let action = *pick(self.rng, &["allow", "audit", "deny", "kill"]);
        let cond = if self.rng.chance(94) {
            Some(self.condition(hook))
        } else {
            None
        };
        let message = if action != "allow" && self.rng.chance(60) || self.rng.chance(3) {
            Some(self.message(hook))
        } else {
            None
        };
        let mut clauses = vec![format!("on {}", hook.name())];
        if let Some(cond) = cond {
            clauses.push(format!("when {cond}"));
        }
        clauses.push(match message {
            Some(m) => format!("{action} {m}"),
            None => action.to_string(),
        });
        self.block("rule", &name, clauses)
    }

    fn trace(&mut self, hook: Hook) -> String {
        let name = self.name("t");
        let mut fields = fields_on(hook);
        let n = self.rng.range(1, 5.min(fields.len() as u64)) as usize;
        let mut emit = Vec::new();
        for _ in 0..n {
            let i = self.rng.index(fields.len());
            emit.push(fields.remove(i).spec().name);
        }
        let mut clauses = vec![format!("on {}", hook.name())];
        if self.rng.chance(80) {
            let cond = self.condition(hook);
            clauses.push(format!("when {cond}"));
        }
        clauses.push(format!("emit {}", emit.join(", ")));
        self.block("trace", &name, clauses)
    }

    /// A rule or trace block; clauses in any order, now and then.
    fn block(&mut self, keyword: &str, name: &str, mut clauses: Vec<String>) -> String {
        if self.rng.chance(10) {
            let i = self.rng.index(clauses.len());
            let clause = clauses.remove(i);
            clauses.push(clause);
        }
        if self.rng.chance(15) {
            format!("{keyword} {name} {{ {} }}", clauses.join(" "))
        } else {
            let mut out = format!("{keyword} {name} {{\n");
            for clause in clauses {
                let _ = writeln!(out, "    {clause}");
            }
            out.push('}');
            out
        }
    }

    fn message(&mut self, hook: Hook) -> String {
        let fields = fields_on(hook);
        let mut text = String::new();
        for _ in 0..self.rng.range(1, 5) {
            match self.rng.weighted(&[40, 40, 5, 5, 10]) {
                0 => {
                    let word = *pick(self.rng, WORDS);
                    text.push_str(word);
                    text.push(' ');
                }
                1 => {
                    let field = pick(self.rng, &fields).spec().name;
                    let _ = write!(text, "{{{field}}} ");
                }
                2 => text.push_str("{{literal}} "),
                3 => text.push_str("\"quoted\" \\ "),
                _ => text.push_str("(pid {proc.pid}) "),
            }
        }
        render_str(self.rng, text.trim_end())
    }

    fn condition(&mut self, hook: Hook) -> String {
        let fields = fields_on(hook);
        let cond = self.cond(hook, Some(hook), &fields, self.shape.max_depth);
        self.render(&cond, 0)
    }

    /// A condition over `fields`; `macro_hook` is the hook a macro used here
    /// may be for (`None`: common macros only).
    fn cond(
        &mut self,
        hook: Hook,
        macro_hook: Option<Hook>,
        fields: &[FieldId],
        depth: u32,
    ) -> Cond {
        // At depth 0 only leaves and uses of existing macros: nesting (of
        // operators and of macros) stays within the checker's limits.
        let weights: &[u64] = if depth == 0 {
            &[92, 0, 0, 0, 8]
        } else {
            &[45, 20, 18, 9, 8]
        };
        match self.rng.weighted(weights) {
            1 | 2 => {
                let n = self.rng.range(2, self.shape.max_terms as u64) as usize;
                let items = (0..n)
                    .map(|_| self.cond(hook, macro_hook, fields, depth.saturating_sub(1)))
                    .collect();
                if self.rng.chance(50) {
                    Cond::And(items)
                } else {
                    Cond::Or(items)
                }
            }
            3 => Cond::Not(Box::new(self.cond(
                hook,
                macro_hook,
                fields,
                depth.saturating_sub(1),
            ))),
            4 => self.use_macro(hook, macro_hook, depth),
            _ => {
                let field = self.field(fields);
                Cond::Atom(self.leaf(hook, field))
            }
        }
    }

    /// Fields of the hook itself are chosen more often than `proc.*`.
    fn field(&mut self, fields: &[FieldId]) -> FieldId {
        let weights: Vec<u64> = fields
            .iter()
            .map(|f| {
                if f.spec().name.starts_with("proc.") {
                    2
                } else if f.spec().scope == polc::check::hooks::FieldScope::Common {
                    // The container context: on every hook, like proc.*.
                    1
                } else {
                    7
                }
            })
            .collect();
        fields[self.rng.weighted(&weights)]
    }

    fn use_macro(&mut self, hook: Hook, macro_hook: Option<Hook>, depth: u32) -> Cond {
        let usable: Vec<(String, u32)> = self
            .macros
            .iter()
            .filter(|m| (m.hook.is_none() || m.hook == macro_hook) && m.level < MAX_MACRO_LEVEL)
            .map(|m| (m.name.clone(), m.level))
            .collect();
        if !usable.is_empty() && (depth == 0 || self.rng.chance(50)) {
            let (name, level) = pick(self.rng, &usable).clone();
            self.note_macro_level(level);
            return Cond::Atom(name);
        }
        if depth == 0 {
            let fields = if macro_hook.is_some() {
                fields_on(hook)
            } else {
                common_fields()
            };
            let field = self.field(&fields);
            return Cond::Atom(self.leaf(hook, field));
        }
        // A new macro: on this hook's fields, or on the common ones only.
        let common = macro_hook.is_none() || self.rng.chance(40);
        let (fields, for_hook) = if common {
            (common_fields(), None)
        } else {
            (fields_on(hook), macro_hook)
        };
        self.macro_levels.push(0);
        let body = self.cond(hook, for_hook, &fields, (depth - 1).min(2));
        let level = self.macro_levels.pop().unwrap_or(0) + 1;
        self.note_macro_level(level);
        let text = self.render(&body, 0);
        let name = self.name("m");
        self.decls.push(format!("macro {name} = {text}"));
        self.macros.push(Macro {
            name: name.clone(),
            hook: for_hook,
            level,
        });
        Cond::Atom(name)
    }

    /// A macro of nesting `level` is used in the macro body being generated.
    fn note_macro_level(&mut self, level: u32) {
        if let Some(top) = self.macro_levels.last_mut() {
            *top = (*top).max(level);
        }
    }

    /// Renders with the parentheses precedence needs, and now and then more.
    fn render(&mut self, cond: &Cond, min: u8) -> String {
        let prec = match cond {
            Cond::Or(_) => 1,
            Cond::And(_) => 2,
            Cond::Not(_) => 3,
            Cond::Atom(_) => 4,
        };
        let text = match cond {
            Cond::Atom(text) => text.clone(),
            Cond::Not(inner) => format!("not {}", self.render(inner, 3)),
            Cond::And(items) | Cond::Or(items) => {
                let (word, child_min) = if matches!(cond, Cond::And(_)) {
                    (" and ", 3)
                } else {
                    (" or ", 2)
                };
                let parts: Vec<String> = items.iter().map(|c| self.render(c, child_min)).collect();
                let sep = if self.rng.chance(10) {
                    word.replace(' ', "\n         ")
                        .replacen("\n         ", " ", 1)
                } else {
                    word.to_string()
                };
                parts.join(&sep)
            }
        };
        if prec < min || (min > 0 && self.rng.chance(8)) {
            format!("({text})")
        } else {
            text
        }
    }

    fn leaf(&mut self, hook: Hook, field: FieldId) -> String {
        let mut written = field.spec().name.to_string();
        // Now and then any element of a positional field: `FIELD[*]`.
        if let Some((family, polc::check::hooks::Index::At(_))) = field.element() {
            if self.rng.chance(30) {
                let (base, _, member) =
                    polc::check::hooks::split_indexed(family.spec().name).expect("indexed");
                written = format!("{base}[*]{member}");
            }
        }
        let name = written.as_str();
        // Now and then the id field by name: `proc.user == "gen-alice"`.
        if let Some((_, named, group)) = NAME_FIELDS.iter().find(|(id, _, _)| *id == name) {
            if self.rng.chance(25) {
                let table = if *group { GROUPS } else { USERS };
                let pick_name = |rng: &mut R| {
                    let name = pick(rng, table).0;
                    render_str(rng, name)
                };
                return match self.rng.below(4) {
                    0 => format!("{named} == {}", pick_name(self.rng)),
                    1 => format!("{named} != {}", pick_name(self.rng)),
                    k => {
                        let n = self.rng.range(1, 3) as usize;
                        let names: Vec<String> = (0..n).map(|_| pick_name(self.rng)).collect();
                        let op = if k == 2 { "in" } else { "not in" };
                        format!("{named} {op} [{}]", names.join(", "))
                    }
                };
            }
        }
        match field.spec().ty {
            FieldType::Int { .. } if self.rng.chance(5) => {
                // Two int fields: the other one common to every hook.
                let others: Vec<FieldId> = common_fields()
                    .into_iter()
                    .filter(|f| matches!(f.spec().ty, FieldType::Int { .. }))
                    .collect();
                let other = pick(self.rng, &others).spec().name;
                let op = *pick(self.rng, &["==", "!=", "<", "<=", ">", ">="]);
                format!("{name} {op} {other}")
            }
            FieldType::Int { bits } => self.int_leaf(name, bits),
            FieldType::Str { max } => self.str_leaf(hook, name, usize::from(max) - 1),
            FieldType::Ip => self.ip_leaf(name),
            FieldType::Bool => match self.rng.below(6) {
                0 => format!("{name} == true"),
                1 => format!("{name} == false"),
                2 => format!("{name} != true"),
                3 => format!("{name} != false"),
                4 => format!("true == {name}"),
                _ => name.to_string(),
            },
        }
    }

    fn int_value(&mut self, name: &str, bits: u8) -> u64 {
        let max = int_max(bits);
        if name == "net.family" && self.rng.chance(70) {
            return *pick(self.rng, &[2, 10]);
        }
        const EDGES: &[u64] = &[
            0,
            1,
            2,
            5,
            10,
            22,
            25,
            53,
            80,
            443,
            1000,
            1001,
            4096,
            65_534,
            65_535,
            65_536,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            0x1_0000_0000,
            1 << 63,
        ];
        match self.rng.weighted(&[1, 1, 3, 2, 3]) {
            0 => max,
            1 => max - 1,
            2 => self.rng.range(0, max.min(2000)),
            3 => self.rng.range(0, max),
            _ => {
                let fitting: Vec<u64> = EDGES.iter().copied().filter(|v| *v <= max).collect();
                *pick(self.rng, &fitting)
            }
        }
    }

    fn int_leaf(&mut self, name: &str, bits: u8) -> String {
        let max = int_max(bits);
        // Near a limit: inline lists of exactly 8 (8 branches each), or
        // lists past the inline limit (a map each).
        let focused = match self.shape.focus {
            Some(Limit::Branches) if self.rng.chance(80) => Some(8),
            Some(Limit::Maps) if self.rng.chance(90) => Some(self.rng.range(9, 16) as usize),
            _ => None,
        };
        if let Some(n) = focused {
            let list = self.int_list(name, bits, n);
            return format!("{name} in {list}");
        }
        match self.rng.weighted(&[55, 12, 18, 15, 10]) {
            4 => self.bits_leaf(name, bits),
            0 => {
                let op = *pick(self.rng, &["==", "!=", "<", "<=", ">", ">="]);
                let value = self.int_value(name, bits);
                format!("{name} {op} {}", render_int(self.rng, value))
            }
            1 => {
                // Literal on the left: the checker flips the operator.
                let op = *pick(self.rng, &["==", "!=", "<", "<=", ">", ">="]);
                let value = self.int_value(name, bits);
                format!("{} {op} {name}", render_int(self.rng, value))
            }
            2 => {
                let n = self.list_len();
                let list = self.int_list(name, bits, n);
                format!("{name} {} {list}", self.in_op())
            }
            _ => {
                let list = self.named_list(ListKind::Int { max });
                format!("{name} {} {list}", self.in_op())
            }
        }
    }

    /// A bit test: `has` or `has any`, of one bit or constant or a list of
    /// them (the field's own named constants where it has some).
    fn bits_leaf(&mut self, name: &str, bits: u8) -> String {
        let max = int_max(bits);
        let named: Vec<&'static str> = polc::check::constants::CONSTANTS
            .iter()
            .filter(|c| c.kind.fits(name) && c.kind.is_bits() && c.value != 0 && c.value <= max)
            .map(|c| c.name)
            .collect();
        let n = self.rng.range(1, 4) as usize;
        let items: Vec<String> = (0..n)
            .map(|_| {
                if !named.is_empty() && self.rng.chance(70) {
                    pick(self.rng, &named).to_string()
                } else {
                    let bit = self.rng.below(u64::from(bits));
                    render_int(self.rng, 1u64 << bit)
                }
            })
            .collect();
        if self.rng.chance(40) {
            format!("{name} has any {}", self.inline_list(&items))
        } else if n == 1 && self.rng.chance(60) {
            format!("{name} has {}", items[0])
        } else {
            format!("{name} has {}", self.inline_list(&items))
        }
    }

    /// An inline list of `n` values of the int field `name`.
    fn int_list(&mut self, name: &str, bits: u8, n: usize) -> String {
        let items: Vec<String> = (0..n)
            .map(|_| {
                let v = self.int_value(name, bits);
                render_int(self.rng, v)
            })
            .collect();
        self.inline_list(&items)
    }

    fn in_op(&mut self) -> &'static str {
        if self.rng.chance(30) {
            "not in"
        } else {
            "in"
        }
    }

    /// A list length of every size class: one, a few, exactly the inline
    /// limit (8), just above it (9), and large (past the inline limit).
    fn list_len(&mut self) -> usize {
        let max = self.shape.max_list.max(1) as u64;
        let large = self.shape.large_lists.min(100);
        let inline = 100 - large;
        match self.rng.weighted(&[
            inline / 3,
            inline / 2,
            inline / 6,
            large / 2,
            large / 4,
            large / 4,
        ]) {
            0 => 1,
            1 => self.rng.range(2, 7.min(max)) as usize,
            2 => 8.min(max) as usize,
            3 => 9.min(max) as usize,
            4 => self.rng.range(10.min(max), 16.min(max)) as usize,
            _ => self.rng.range(1, max) as usize,
        }
    }

    fn inline_list(&mut self, items: &[String]) -> String {
        let trailing = if self.rng.chance(15) { "," } else { "" };
        if items.len() > 6 && self.rng.chance(30) {
            format!("[\n        {}{trailing}\n    ]", items.join(",\n        "))
        } else {
            format!("[{}{trailing}]", items.join(", "))
        }
    }

    /// A named list of `kind` (an existing one that fits, or a new one).
    fn named_list(&mut self, kind: ListKind) -> String {
        let fits = |list: &NamedList| match (&list.kind, &kind) {
            (ListKind::Str { max_len: have }, ListKind::Str { max_len: want }) => have <= want,
            (ListKind::Int { max: have }, ListKind::Int { max: want }) => have <= want,
            (ListKind::Ip, ListKind::Ip) => true,
            _ => false,
        };
        let existing: Vec<String> = self
            .lists
            .iter()
            .filter(|l| fits(l))
            .map(|l| l.name.clone())
            .collect();
        if !existing.is_empty() && self.rng.chance(40) {
            return pick(self.rng, &existing).clone();
        }
        let name = self.name("l");
        let n = self.list_len();
        let (items, kind) = match kind {
            ListKind::Str { max_len } => {
                // Sometimes only short strings, so that `proc.comm` can use it too.
                let max_len = if self.rng.chance(40) {
                    max_len.min(15)
                } else {
                    max_len
                };
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        let s = self.str_value(max_len, false);
                        render_str(self.rng, &s)
                    })
                    .collect();
                (items, ListKind::Str { max_len })
            }
            ListKind::Int { max } => {
                let bits = [16u8, 32, 64]
                    .into_iter()
                    .find(|b| int_max(*b) >= max)
                    .unwrap_or(64);
                let bits = if self.rng.chance(50) {
                    bits.min(16)
                } else {
                    bits
                };
                let items = (0..n)
                    .map(|_| {
                        let v = self.int_value("", bits);
                        render_int(self.rng, v)
                    })
                    .collect();
                (items, ListKind::Int { max: int_max(bits) })
            }
            ListKind::Ip => {
                let items = (0..n).map(|_| self.net_text(false)).collect();
                (items, ListKind::Ip)
            }
        };
        let list = self.inline_list(&items);
        self.decls.push(format!("list {name} = {list}"));
        self.lists.push(NamedList {
            name: name.clone(),
            kind,
        });
        name
    }

    /// A string of at most `limit` bytes; `path` makes it path-like.
    fn str_value(&mut self, limit: usize, path: bool) -> String {
        let target = match self.rng.weighted(&[4, 30, 30, 14, 8, 8]) {
            0 => 0,
            1 => self.rng.range(1, 4) as usize,
            2 => self.rng.range(5, 12) as usize,
            3 => self.rng.range(13, 40) as usize,
            4 => limit.saturating_sub(self.rng.below(3) as usize),
            _ => self.rng.range(0, limit as u64) as usize,
        }
        .min(limit);
        let mut out = String::new();
        if path && target > 0 && self.rng.chance(70) {
            out.push('/');
        }
        while out.len() < target {
            let piece: String = match self.rng.weighted(&[60, 15, 25]) {
                0 => pick(self.rng, WORDS).to_string(),
                1 => pick(self.rng, ODD_CHARS).to_string(),
                _ => if path { "/" } else { "-" }.to_string(),
            };
            let room = target - out.len();
            if piece.len() <= room {
                out.push_str(&piece);
            } else {
                // Fill the rest with single-byte characters.
                for _ in 0..room {
                    out.push(*pick(self.rng, &['a', 'z', '/', '.', '1']));
                }
            }
        }
        out
    }

    fn str_leaf(&mut self, hook: Hook, name: &str, limit: usize) -> String {
        let path = limit > 100;
        let focus = self.shape.focus;
        match focus {
            Some(Limit::Instructions)
                if path && self.rng.chance(80) && self.take_long_contains(hook) =>
            {
                // Short lists of short strings: small automata, each a scan
                // of the whole field.
                let n = self.rng.range(1, 3) as usize;
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        let mut s = self.str_value(12, false);
                        while s.len() < 3 {
                            s.push('y');
                        }
                        render_str(self.rng, &s)
                    })
                    .collect();
                let list = self.inline_list(&items);
                return format!("{name} contains {list}");
            }
            Some(Limit::Branches) if self.rng.chance(80) => {
                let items: Vec<String> = (0..8)
                    .map(|_| {
                        let s = self.str_value(limit, false);
                        render_str(self.rng, &s)
                    })
                    .collect();
                let list = self.inline_list(&items);
                return format!("{name} in {list}");
            }
            _ => {}
        }
        match self.rng.weighted(&[28, 36, 14, 22, 12]) {
            4 if path && !self.take_long_contains(hook) => {
                let value = self.str_value(limit, true);
                format!("{name} startswith {}", render_str(self.rng, &value))
            }
            4 => self.glob_leaf(name, limit),
            0 => {
                let value = match container_value(self.rng, name) {
                    Some(value) if self.rng.chance(70) => value,
                    _ => self.str_value(limit, path),
                };
                let lit = render_str(self.rng, &value);
                match self.rng.below(4) {
                    0 => format!("{name} != {lit}"),
                    1 => format!("{lit} == {name}"),
                    _ => format!("{name} == {lit}"),
                }
            }
            1 => {
                let mut op = *pick(self.rng, &["startswith", "endswith", "contains"]);
                if op == "contains" && path && !self.take_long_contains(hook) {
                    op = "startswith";
                }
                let mut value = self.str_value(limit, path && op == "startswith");
                if op == "contains" && path {
                    // A long needle has few start positions to try.
                    while value.len() < 3 {
                        value.push('x');
                    }
                }
                let lit = render_str(self.rng, &value);
                format!("{name} {op} {lit}")
            }
            2 => {
                let mut op = *pick(self.rng, &["startswith", "endswith", "contains"]);
                if op == "contains" && path && !self.take_long_contains(hook) {
                    op = "endswith";
                }
                if op == "startswith" && self.rng.chance(40) {
                    // Named lists past the inline limit become LPM tries.
                    let list = self.named_list(ListKind::Str { max_len: limit });
                    return format!("{name} startswith {list}");
                }
                // `contains` lists are one automaton scan whatever their
                // size.
                let n = self.list_len();
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        let mut s = self.str_value(limit, path && op == "startswith");
                        if op == "contains" && path {
                            while s.len() < 3 {
                                s.push('y');
                            }
                        }
                        render_str(self.rng, &s)
                    })
                    .collect();
                let list = self.inline_list(&items);
                format!("{name} {op} {list}")
            }
            _ => {
                let list = if self.rng.chance(50) {
                    self.named_list(ListKind::Str { max_len: limit })
                } else {
                    let n = self.list_len();
                    let items: Vec<String> = (0..n)
                        .map(|_| {
                            let s = self.str_value(limit, path);
                            render_str(self.rng, &s)
                        })
                        .collect();
                    self.inline_list(&items)
                };
                format!("{name} {} {list}", self.in_op())
            }
        }
    }

    /// Whether one more `contains` on a 255-byte field fits the hook's share
    /// of the budget.
    /// A glob pattern of at most `limit` bytes within the bounds: a value
    /// with some of its bytes made wildcards.
    fn glob_pattern(&mut self, limit: usize, path: bool) -> String {
        use polc::check::glob::{glob_wildcards, MAX_GLOB_DOUBLE_STARS, MAX_GLOB_WILDCARDS};
        for _ in 0..8 {
            let value = self.str_value(limit.min(40), path);
            let mut out = String::new();
            for c in value.chars() {
                match self.rng.below(12) {
                    0 => out.push('*'),
                    1 => out.push('?'),
                    2 if path => out.push_str("/**/"),
                    3 => {
                        out.push(c);
                        out.push('*');
                    }
                    _ => out.push(c),
                }
            }
            if self.rng.chance(20) {
                out.push_str("**");
            }
            let (wild, double) = glob_wildcards(out.as_bytes());
            if out.len() <= limit && wild <= MAX_GLOB_WILDCARDS && double <= MAX_GLOB_DOUBLE_STARS {
                return out;
            }
        }
        "*".to_string()
    }

    /// `matches` a pattern or a list of them; on a path field with parts
    /// (`file.path`, `exec.path`, `proc.exe`, `file.newpath`), now and then a
    /// test of its directory or
    /// base name instead.
    fn glob_leaf(&mut self, name: &str, limit: usize) -> String {
        let path = limit > 100;
        // The path fields with parts, and the prefix of their parts' names.
        const PARTS: &[(&str, &str, &str)] = &[
            ("file.path", "file.dir", "file.name"),
            ("exec.path", "exec.dir", "exec.name"),
            // The running executable's and a rename's or link's new path.
            ("proc.exe", "proc.exe.dir", "proc.exe.name"),
            ("file.newpath", "file.newdir", "file.newname"),
        ];
        if let Some((_, dir_part, name_part)) = PARTS.iter().find(|(p, _, _)| *p == name) {
            if self.rng.chance(50) {
                let dir = self.str_value(40, true);
                let dir = if dir.len() > 1 {
                    dir.trim_end_matches('/')
                } else {
                    &dir
                };
                let dir = render_str(self.rng, dir);
                let word = pick(self.rng, WORDS).replace('/', "");
                let word = render_str(self.rng, &word);
                let pattern = self.glob_pattern(20, false).replace('/', "");
                let pattern = render_str(self.rng, &pattern);
                return match self.rng.below(8) {
                    0 => format!("{dir_part} == {dir}"),
                    1 => format!("{dir_part} != {dir}"),
                    2 => format!("{dir_part} startswith {dir}"),
                    3 => format!("{name_part} == {word}"),
                    4 => format!("{name_part} startswith {word}"),
                    5 => format!("{name_part} in [{word}, \"x\"]"),
                    6 => format!("{name_part} matches {pattern}"),
                    _ => format!("{name_part} endswith {word}"),
                };
            }
        }
        // Patterns whose automaton is within its bound together (E0291
        // counts the states of one test's patterns).
        let n = if self.rng.chance(70) {
            1
        } else {
            self.rng.range(2, 3) as usize
        };
        let mut patterns: Vec<String> = Vec::new();
        for _ in 0..8 {
            patterns = (0..n).map(|_| self.glob_pattern(limit, path)).collect();
            let bytes: Vec<Vec<u8>> = patterns.iter().map(|p| p.as_bytes().to_vec()).collect();
            if polc::check::glob::dfa(&bytes).is_some() {
                break;
            }
            patterns = vec!["*".to_string(); n];
        }
        if n == 1 {
            format!("{name} matches {}", render_str(self.rng, &patterns[0]))
        } else {
            let items: Vec<String> = patterns
                .iter()
                .map(|pattern| render_str(self.rng, pattern))
                .collect();
            format!("{name} matches {}", self.inline_list(&items))
        }
    }

    fn take_long_contains(&mut self, hook: Hook) -> bool {
        let max_per_hook = self.shape.max_long_contains;
        if !self.macro_levels.is_empty() || max_per_hook == 0 {
            return false;
        }
        match self.long_contains.iter_mut().find(|(h, _)| *h == hook) {
            Some((_, n)) if *n >= max_per_hook => false,
            Some((_, n)) => {
                *n += 1;
                true
            }
            None => {
                self.long_contains.push((hook, 1));
                true
            }
        }
    }

    /// An address or network: well-known networks, random ones, their
    /// IPv4-mapped forms.
    fn net(&mut self, full: bool) -> (IpAddr, u8) {
        let v6 = self.rng.chance(40);
        let addr: IpAddr = match self.rng.below(3) {
            0 => {
                let known: &[&str] = if v6 {
                    &[
                        "::",
                        "::1",
                        "fe80::",
                        "2001:db8::",
                        "fc00::",
                        "::ffff:10.0.0.1",
                        "::ffff:0.0.0.0",
                        "ff02::1",
                    ]
                } else {
                    &[
                        "10.0.0.0",
                        "172.16.0.0",
                        "192.168.1.1",
                        "127.0.0.1",
                        "0.0.0.0",
                        "255.255.255.255",
                        "8.8.8.8",
                    ]
                };
                pick(self.rng, known).parse().expect("a valid address")
            }
            _ if v6 => {
                let hi = self.rng.any_u64();
                let lo = self.rng.any_u64();
                IpAddr::V6(Ipv6Addr::from((u128::from(hi) << 64) | u128::from(lo)))
            }
            _ => IpAddr::V4(Ipv4Addr::from(self.rng.below(1 << 32) as u32)),
        };
        let bits: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if full {
            bits
        } else {
            match self.rng.below(4) {
                0 => bits,
                1 => *pick(
                    self.rng,
                    if addr.is_ipv4() {
                        &[0u8, 8, 12, 16, 24, 31][..]
                    } else {
                        &[0u8, 7, 10, 32, 48, 64, 96, 127][..]
                    },
                ),
                _ => self.rng.range(0, u64::from(bits)) as u8,
            }
        };
        (mask(addr, prefix), prefix)
    }

    fn net_text(&mut self, full: bool) -> String {
        let (addr, prefix) = self.net(full);
        render_net(self.rng, addr, prefix)
    }

    fn ip_leaf(&mut self, name: &str) -> String {
        match self.rng.weighted(&[20, 5, 35, 40]) {
            0 => {
                let op = *pick(self.rng, &["==", "!="]);
                let net = self.net_text(true);
                format!("{name} {op} {net}")
            }
            1 => {
                let net = self.net_text(true);
                format!("{net} == {name}")
            }
            2 => {
                let net = self.net_text(false);
                format!("{name} {} {net}", self.in_op())
            }
            _ => {
                let list = if self.rng.chance(50) {
                    self.named_list(ListKind::Ip)
                } else {
                    let n = self.list_len();
                    let items: Vec<String> = (0..n).map(|_| self.net_text(false)).collect();
                    self.inline_list(&items)
                };
                format!("{name} {} {list}", self.in_op())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::rng::SplitMix64;

    #[test]
    fn the_same_seed_gives_the_same_policy() {
        let a = policy(&mut SplitMix64::new(9), &Shape::default_shape());
        let b = policy(&mut SplitMix64::new(9), &Shape::default_shape());
        assert_eq!(a, b);
        let c = policy(&mut SplitMix64::new(10), &Shape::default_shape());
        assert_ne!(a, c);
    }

    #[test]
    fn literals_render_in_source_form() {
        let mut r = SplitMix64::new(1);
        for _ in 0..200 {
            let text = render_str(&mut r, "a\"b\\c\nd\u{1}é");
            let checked = polc::check::check_source(
                "t.pol",
                &format!("rule r {{\n    on exec\n    when exec.path == {text}\n    deny\n}}\n"),
            );
            let policy = checked.policy.expect("the literal checks");
            match &policy.rules[0].cond {
                Some(polc::check::policy::Expr::Test(t)) => assert_eq!(
                    t.op,
                    polc::check::policy::TestOp::StrEq("a\"b\\c\nd\u{1}é".into()),
                    "{text}"
                ),
                other => panic!("{other:?}"),
            }
            for value in [0, 2, 10, 123_456, u64::MAX] {
                let n = render_int(&mut r, value);
                let source =
                    format!("rule r {{\n    on exec\n    when proc.cgroup == {n}\n    deny\n}}\n");
                let policy = polc::check::check_source("t.pol", &source)
                    .policy
                    .unwrap_or_else(|| panic!("{source}"));
                match &policy.rules[0].cond {
                    Some(polc::check::policy::Expr::Test(t)) => assert_eq!(
                        t.op,
                        polc::check::policy::TestOp::IntCmp {
                            op: polc::check::policy::CmpOp::Eq,
                            value
                        },
                        "{n}"
                    ),
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(
            mask("10.1.2.3".parse().expect("ip"), 8).to_string(),
            "10.0.0.0"
        );
        assert_eq!(
            mask("fe80::1".parse().expect("ip"), 10).to_string(),
            "fe80::"
        );
        assert_eq!(
            mask("1.2.3.4".parse().expect("ip"), 0).to_string(),
            "0.0.0.0"
        );
    }
}
