//! The decision IR: per hook and per program (backend attach point), one
//! loop-free decision program — traces (all evaluated, independently), then
//! rules in file order where the first match decides.
//!
//! Lowering ([`lower()`]) folds what a program knows statically (e.g.
//! `net.family` in a `connect4` program, `module.path` where it is unknown),
//! drops rules that can never be reached, turns large lists into set maps
//! (hash for exact match, LPM trie for prefixes and networks) and lists the
//! fields each step captures when it matches. Printing ([`mod@print`]) gives
//! the `--emit ir` text. Codegen turns each [`Program`] into instructions and
//! places the field loads (each field right before the first test that needs
//! it, on every path).
//!
//! Depends on `check` (checked policy, field table), `interp` (the
//! semantics used for folding) and the ABI's list of header fields (what a
//! record need not carry); knows nothing of instructions or ELF.

pub mod automaton;
pub mod lower;
pub mod print;

use std::net::IpAddr;

use crate::check::hooks::{AttachPoint, BackendSpec, FieldId, Hook};
use crate::check::policy::{Action, CmpOp, ListId};
use crate::span::Span;

pub use lower::{lower, record_fields};

/// Lists longer than this become set maps (one lookup whatever their size);
/// shorter ones are compared inline.
pub const INLINE_LIST_MAX: usize = 8;

/// Everything lowered from one policy.
#[derive(Clone, Debug)]
pub struct Module {
    /// One program per (hook, attach point) of every backend, in hook order.
    pub programs: Vec<Program>,
    /// Set maps, shared by every program that tests the same list the same way.
    pub sets: Vec<SetDef>,
    /// Sets of files named by path (`==` and `in` on resolved paths), each
    /// matched by identity through the identity map.
    pub identities: Vec<IdentitySet>,
    /// String automata, shared likewise; their tables lie one after the
    /// other in the one value of the automata map.
    pub automata: Vec<AutomatonDef>,
    /// List files whose contents are compiled into the programs (`contains`
    /// and `endswith` automata, tests decided at build time): a change
    /// needs the policy built and loaded again.
    pub compiled_lists: Vec<String>,
}

impl Module {
    /// Bytes of the automata map's value: every table, and the reach of
    /// each (see [`automaton::Automaton::reach`]), a multiple of 8.
    pub fn automata_len(&self) -> u64 {
        self.automata
            .iter()
            .map(|a| a.offset + a.automaton.reach())
            .max()
            .unwrap_or(0)
            .next_multiple_of(8)
    }

    /// The automata map's value: every table at its offset.
    pub fn automata_table(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.automata_len() as usize];
        for def in &self.automata {
            let table = def.automaton.encode();
            let at = def.offset as usize;
            out[at..at + table.len()].copy_from_slice(&table);
        }
        out
    }
}

/// The files a policy names by path in one `==` literal or one list, whose
/// identities (device and inode) the runtime looks up and keeps current in
/// the identity map, keyed `{ dev, ino, set index }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdentitySet {
    /// The paths, sorted and unique (a ranked set's: in rank order).
    pub paths: Vec<String>,
    /// A list file's set: the file's absolute path (the runtime reads the
    /// paths again when it changes).
    pub file: Option<String>,
    /// A ranked set's rank of each path (see [`SharedRun`]); empty for a
    /// plain set.
    pub ranks: Vec<u32>,
}

/// Index of a set in [`Module::identities`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentitySetId(pub u32);

/// What a program runs as.
#[derive(Copy, Clone, Debug)]
pub enum Target {
    /// A real kernel attach point of a backend.
    Attach {
        backend: &'static BackendSpec,
        attach: &'static AttachPoint,
    },
    /// A raw tracepoint program run with `BPF_PROG_TEST_RUN`: its first
    /// argument points to a test context in the runner's memory, laid out
    /// by [`TestContext`], which it copies into a per-CPU map and reads
    /// every field from. Used by `polc test` and the differential tests to
    /// run the decision code itself. (Not `BPF_PROG_TYPE_SYSCALL`, whose
    /// context would be the test context itself: syscall programs are
    /// sleepable, and sleepable programs may not use LPM tries.)
    TestRun,
}

/// One decision program.
#[derive(Clone, Debug)]
pub struct Program {
    pub hook: Hook,
    pub target: Target,
    /// Every trace on the hook, in file order (after folding; never-firing
    /// traces are dropped).
    pub traces: Vec<Step>,
    /// The rules that can decide, in file order.
    pub rules: Vec<Step>,
    /// Whether an event can pass every rule without a match.
    pub can_fall_through: bool,
    /// Runs of rules whose first test compares one string field with a
    /// literal, dispatched by one hash lookup (see [`StrDispatch`]).
    pub str_dispatches: Vec<StrDispatch>,
    /// Runs of rules whose first test is `FIELD startswith "literal"` (or
    /// all `FIELD endswith "literal"`), dispatched by one LPM trie lookup
    /// (see [`PrefixDispatch`]).
    pub prefix_dispatches: Vec<PrefixDispatch>,
}

/// A run of at least [`DISPATCH_MIN`] consecutive rules whose first `and`
/// term is `FIELD startswith "literal"` on the same string field (a
/// literal of 1 to [`PREFIX_DISPATCH_MAX`] bytes). One lookup in the LPM
/// trie `set`, keyed `{ u32 prefixlen; data }` by the field's first bytes,
/// finds the longest of the run's literals the value starts with, valued by
/// its group index (its rank among the literals). Every literal the value
/// starts with is a prefix of that longest one, and no other: the rules of
/// the run whose first test holds are exactly those of its group
/// ([`PrefixDispatch::groups`]), which codegen tests in order, each past its
/// first test. A miss skips the run.
///
/// A run of `FIELD endswith "literal"` rules ([`PrefixDispatch::suffix`])
/// is the same on reversed strings: a suffix of the value is a prefix of
/// the value reversed. Its keys are the literals reversed, and the lookup's
/// key is the value's last bytes (at most the longest literal's length),
/// reversed; its string field is read with its length.
#[derive(Clone, Debug, PartialEq)]
pub struct PrefixDispatch {
    /// The rules `start..end` of the program.
    pub start: usize,
    pub end: usize,
    pub field: FieldId,
    pub set: SetId,
    /// Whether the run's first tests are `endswith` (keys reversed).
    pub suffix: bool,
    /// Bytes every literal of a prefix run starts with (at least
    /// [`PREFIX_COMMON_MIN`], or none): compared inline before the lookup,
    /// whose keys are the literals past them, so that the trie's walk does
    /// not compare them again at every node. For a suffix run, the bytes
    /// every literal ends with (the reversed literals' common prefix),
    /// compared inline at the value's end.
    pub common: usize,
    /// The run's literals as the trie holds them (reversed for a suffix
    /// run), sorted and unique: group `i` is `literals[i]`.
    pub literals: Vec<Vec<u8>>,
    /// Per literal, the offsets (from `start`, ascending) of the rules of
    /// the run whose literal is a prefix of it (itself included): the
    /// first is the first rule in order whose first test holds.
    pub groups: Vec<Vec<u32>>,
}

/// Fewest bytes a prefix run's literals share for them to be compared
/// inline, before the lookup ([`PrefixDispatch::common`]).
pub const PREFIX_COMMON_MIN: usize = 8;

/// Longest literal a prefix dispatch holds: an LPM trie key's data is at
/// most 256 bytes (`LPM_DATA_SIZE_MAX`); a rule with a longer one ends
/// the run.
pub const PREFIX_DISPATCH_MAX: usize = 256;

/// A run of at least [`DISPATCH_MIN`] consecutive rules whose first `and`
/// term is `FIELD == "literal"` on the same string field (on a resolved
/// path: `or` the file is the one at that path). One lookup in the set map
/// `set`, keyed by the field's bytes as a `StrHash` key, gives the index of
/// the literal's group (its rank among the run's literals, sorted) and,
/// for a resolved path, which identity bit its file has
/// ([`dispatch_value`]); codegen searches that index as it searches an int
/// field's constants.
#[derive(Clone, Debug, PartialEq)]
pub struct StrDispatch {
    /// The rules `start..end` of the program.
    pub start: usize,
    pub end: usize,
    pub field: FieldId,
    pub set: SetId,
    /// The run's literals, sorted and unique: group `i` is `literals[i]`.
    pub literals: Vec<Vec<u8>>,
    /// Per group, the identity set of its literal's file, if the first
    /// terms test one (none in a shared run).
    pub identities: Vec<Option<IdentitySetId>>,
    /// The run's rules share one body: the map's values are rule ids.
    pub shared: Option<SharedRun>,
}

/// A string dispatch whose rules differ only in their literal (same
/// action, same later terms, same captures): one body serves them all, the
/// rule id a value of the data. The map's value for a literal is the id of
/// the first rule, in order, with that literal; on a resolved path, the
/// file's word of the ranked identity set `ranked` (the run's absolute
/// literals, each ranked by its rule's id) holds the lowest id of the
/// rules whose literal leads to the file. The rule that decides is the
/// lower of the two (rule ids grow in file order), and its later terms
/// are the run's: tested once, for whichever rule it is. Its code does not
/// grow with the run.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedRun {
    pub ranked: Option<IdentitySetId>,
}

/// Runs of consecutive rules this long or longer whose first term compares
/// the same field with a constant are dispatched (a binary search on an int
/// field, a hash lookup on a string field).
pub const DISPATCH_MIN: usize = 8;

/// Bytes of a string dispatch map's value: `u32` group index, `u32` word of
/// the identity bitmap its file's bit is in (`u32::MAX`: no identity set),
/// `u64` that bit.
pub const DISPATCH_VALUE_LEN: usize = 16;

/// The value of a string dispatch map for group `group` whose literal's
/// file is identity set `identity`.
pub fn dispatch_value(group: u32, identity: Option<IdentitySetId>) -> Vec<u8> {
    let (word, bit) = match identity {
        Some(set) => (set.0 / 64, 1u64 << (set.0 % 64)),
        None => (u32::MAX, 0),
    };
    let mut value = Vec::with_capacity(DISPATCH_VALUE_LEN);
    value.extend_from_slice(&group.to_le_bytes());
    value.extend_from_slice(&word.to_le_bytes());
    value.extend_from_slice(&bit.to_le_bytes());
    value
}

impl Program {
    /// Every field the program may load, in table order.
    pub fn fields(&self) -> Vec<FieldId> {
        let mut fields: Vec<FieldId> = self
            .traces
            .iter()
            .chain(&self.rules)
            .flat_map(|step| step.needs())
            .collect();
        fields.sort_unstable();
        fields.dedup();
        fields
    }

    /// Every leaf of every condition.
    pub fn leaves(&self) -> Vec<&Leaf> {
        let mut out = Vec::new();
        for step in self.traces.iter().chain(&self.rules) {
            step.cond.collect_leaves(&mut out);
        }
        out
    }
}

/// One rule or trace in a program.
#[derive(Clone, Debug)]
pub struct Step {
    pub rule_id: u32,
    pub name: String,
    pub line: u32,
    pub action: Action,
    pub cond: Cond,
    /// Fields the step's events carry beyond the header (none for `allow`;
    /// pid, tid, uid, gid and comm are in every header), loaded when it
    /// matches if no test has loaded them yet.
    pub captures: Vec<FieldId>,
}

impl Step {
    /// Every field the step reads: its condition's, then its captures.
    pub fn needs(&self) -> Vec<FieldId> {
        let mut fields = self.cond.fields();
        for field in &self.captures {
            if !fields.contains(field) {
                fields.push(*field);
            }
        }
        fields
    }

    /// The `and` terms of the condition: a rule matches when every one
    /// holds (none for `true`).
    pub fn conjuncts(&self) -> &[Cond] {
        match &self.cond {
            Cond::True => &[],
            Cond::And(items) => items,
            other => std::slice::from_ref(other),
        }
    }
}

/// A simplified condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    True,
    False,
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Leaf(Leaf),
}

impl Cond {
    fn collect_leaves<'a>(&'a self, out: &mut Vec<&'a Leaf>) {
        match self {
            Cond::True | Cond::False => {}
            Cond::And(items) | Cond::Or(items) => items.iter().for_each(|c| c.collect_leaves(out)),
            Cond::Not(inner) => inner.collect_leaves(out),
            Cond::Leaf(leaf) => out.push(leaf),
        }
    }

    /// Structural equality that ignores source spans: two conditions that
    /// decide the same way on every event.
    pub fn same_as(&self, other: &Cond) -> bool {
        match (self, other) {
            (Cond::True, Cond::True) | (Cond::False, Cond::False) => true,
            (Cond::And(a), Cond::And(b)) | (Cond::Or(a), Cond::Or(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
            }
            (Cond::Not(a), Cond::Not(b)) => a.same_as(b),
            (Cond::Leaf(a), Cond::Leaf(b)) => a.field == b.field && a.kind == b.kind,
            _ => false,
        }
    }

    /// Fields the condition reads, in table order.
    pub fn fields(&self) -> Vec<FieldId> {
        let mut leaves = Vec::new();
        self.collect_leaves(&mut leaves);
        let mut fields: Vec<FieldId> = leaves.iter().map(|leaf| leaf.field).collect();
        fields.extend(leaves.iter().filter_map(|leaf| match leaf.kind {
            LeafKind::FieldCmp { other, .. } => Some(other),
            _ => None,
        }));
        fields.sort_unstable();
        fields.dedup();
        fields
    }
}

/// A test on one field, ready for instruction selection.
#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    pub field: FieldId,
    pub kind: LeafKind,
    /// The source expression it comes from.
    pub span: Span,
}

/// The tests instruction selection knows.
#[derive(Clone, Debug, PartialEq)]
pub enum LeafKind {
    /// `int OP value` (value already fits the field's width).
    Int {
        op: CmpOp,
        value: u64,
    },
    /// `value & mask == mask` (`all`) or `value & mask != 0` (a single bit
    /// is always `!all`); the mask is not 0.
    Bits {
        mask: u64,
        all: bool,
    },
    /// `int OP other int field` (both of them loaded).
    FieldCmp {
        op: CmpOp,
        other: FieldId,
    },
    /// Exact string equality.
    StrEq(Vec<u8>),
    StrPrefix(Vec<u8>),
    StrSuffix(Vec<u8>),
    /// The address is in the network (same family only).
    Ip(Net),
    /// The bool field is true.
    Bool,
    /// Exact membership in a set map (int hash or string hash).
    InSet(SetId),
    /// Some element of an LPM set is a prefix of the string.
    PrefixInSet(SetId),
    /// The address (of the set's family) is in one of the set's networks.
    IpInSet(SetId),
    /// The file behind a resolved path is one of the set's files (the same
    /// device and inode, whatever name it was reached by).
    IdentityIn(IdentitySetId),
    /// The automaton, run over the string, accepts it (`contains`, and
    /// `endswith` a list of more than [`INLINE_LIST_MAX`] strings).
    Scan(AutomatonId),
}

/// Index of an automaton in [`Module::automata`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AutomatonId(pub u32);

/// A string automaton and where its table lies in the automata map's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutomatonDef {
    pub automaton: automaton::Automaton,
    /// Byte offset of its table in the map's value (a multiple of 8): the
    /// tables lie one after the other, each reaching into the next.
    pub offset: u64,
    /// Human description (`contains, 12 strings`).
    pub purpose: String,
}

/// An IPv4 or IPv6 network with its prefix length; bits past the prefix are zero.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

/// Index of a set in [`Module::sets`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SetId(pub u32);

/// A set map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetDef {
    /// The list it holds (`None`: a string dispatch's literals).
    pub list: Option<ListId>,
    pub kind: SetKind,
    /// Every key, exactly `kind.key_size()` bytes, sorted and unique.
    pub keys: Vec<Vec<u8>>,
    /// Human description for `polrt inspect` (`list shells, exact`).
    pub purpose: String,
    /// A list file's set: what the runtime needs to refill it.
    pub file: Option<SetSource>,
    /// Per key, its value (a string dispatch's, [`dispatch_value`]); empty:
    /// every value is the byte `1`.
    pub values: Vec<Vec<u8>>,
}

impl SetDef {
    /// Bytes of the map's values.
    pub fn value_size(&self) -> u32 {
        self.values.first().map_or(1, |v| v.len() as u32)
    }
}

/// Where a list file's set map gets its keys, and how (the runtime makes
/// them again when the file changes: `crate::listfile::key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetSource {
    /// The list's name.
    pub name: String,
    /// The file's absolute path, as resolved at build time.
    pub path: String,
    /// The map's layout and key width.
    pub kind: SetKind,
    /// Width of the int field the set is tested on (64 otherwise).
    pub bits: u8,
    /// Size of the string field the set is tested on (0 otherwise).
    pub max: u16,
}

/// Key layouts of set maps.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SetKind {
    /// Hash keyed by the u64 value.
    IntHash,
    /// Hash keyed by the string, NUL-terminated and zero-padded to `key_len` bytes.
    StrHash { key_len: u32 },
    /// LPM trie keyed by `{ u32 prefixlen; u8 data[data_len] }` (string prefixes).
    StrPrefix { data_len: u32 },
    /// LPM trie keyed by `{ u32 prefixlen; u8 addr[4] }`.
    Ip4,
    /// LPM trie keyed by `{ u32 prefixlen; u8 addr[16] }`.
    Ip6,
}

impl SetKind {
    /// Size in bytes of the map's keys.
    pub fn key_size(self) -> u32 {
        match self {
            SetKind::IntHash => 8,
            SetKind::StrHash { key_len } => key_len,
            SetKind::StrPrefix { data_len } => 4 + data_len,
            SetKind::Ip4 => 8,
            SetKind::Ip6 => 20,
        }
    }

    /// Whether the map is an LPM trie.
    pub fn is_lpm(self) -> bool {
        matches!(
            self,
            SetKind::StrPrefix { .. } | SetKind::Ip4 | SetKind::Ip6
        )
    }
}

/// Layout of the test context a [`Target::TestRun`] program reads: each
/// field of the table at a fixed offset (ints and bools as u64, strings as `max` bytes
/// NUL-padded, ips as `u32 family, u32 0, u8[16]`, resolved paths as their
/// record encoding: the first bytes, the exact length or `u64::MAX` when
/// unresolved, then `u64 dev, u64 ino, u64 0`).
pub struct TestContext;

impl TestContext {
    /// Byte offset of `field` in the context.
    pub fn offset(field: FieldId) -> u32 {
        FieldId::all_with_elements()
            .take_while(|f| *f != field)
            .map(Self::size)
            .sum()
    }

    /// Bytes `field` takes in the context (a multiple of 8).
    pub fn size(field: FieldId) -> u32 {
        use crate::check::hooks::FieldType;
        if field.spec().resolved_path {
            return crate::codegen::layout::encoding(field).size();
        }
        match field.spec().ty {
            FieldType::Int { .. } | FieldType::Bool => 8,
            FieldType::Str { max } => u32::from(max).next_multiple_of(8),
            FieldType::Ip => 24,
        }
    }

    /// Total size of the context.
    pub fn len() -> u32 {
        FieldId::all_with_elements().map(Self::size).sum()
    }

    /// The context bytes for `event` (what the kernel programs would read:
    /// strings cut like the interpreter cuts them, ints at full width — the
    /// program truncates them to the field's width itself).
    pub fn encode(event: &crate::interp::Event) -> Vec<u8> {
        use crate::check::hooks::FieldType;
        use crate::check::policy::Value;
        let mut out = vec![0u8; Self::len() as usize];
        for field in FieldId::all_with_elements().filter(|f| f.spec().resolved_path) {
            let at = Self::offset(field) as usize;
            let FieldType::Str { max } = field.spec().ty else {
                continue;
            };
            let len = match event.get(field) {
                crate::interp::FieldValue::Str(bytes) => {
                    let head = crate::interp::kernel_string(&bytes, max);
                    out[at..at + head.len()].copy_from_slice(&head);
                    bytes.len() as u64
                }
                _ => u64::MAX,
            };
            let words = at + usize::from(max);
            out[words..words + 8].copy_from_slice(&len.to_le_bytes());
            if let Some(id) = event.identities.get(&field) {
                out[words + 8..words + 16].copy_from_slice(&id.dev.to_le_bytes());
                out[words + 16..words + 24].copy_from_slice(&id.ino.to_le_bytes());
            }
        }
        for (field, value) in &event.values {
            if field.spec().resolved_path {
                continue;
            }
            let at = Self::offset(*field) as usize;
            match (field.spec().ty, value) {
                (FieldType::Int { .. }, Value::Int(n)) => {
                    out[at..at + 8].copy_from_slice(&n.to_le_bytes())
                }
                (FieldType::Bool, Value::Bool(b)) => out[at] = u8::from(*b),
                (FieldType::Str { max }, Value::Str(s)) => {
                    let bytes = crate::interp::kernel_string(s.as_bytes(), max);
                    out[at..at + bytes.len()].copy_from_slice(&bytes);
                }
                (FieldType::Ip, Value::Ip { addr, .. }) => {
                    let (family, octets): (u32, Vec<u8>) = match addr {
                        IpAddr::V4(a) => (2, a.octets().to_vec()),
                        IpAddr::V6(a) => (10, a.octets().to_vec()),
                    };
                    out[at..at + 4].copy_from_slice(&family.to_le_bytes());
                    out[at + 8..at + 8 + octets.len()].copy_from_slice(&octets);
                }
                _ => {}
            }
        }
        // An absent ip is 0.0.0.0 (the interpreter's default), family AF_INET.
        for field in FieldId::all_with_elements() {
            if field.spec().ty == crate::check::hooks::FieldType::Ip
                && !event.values.contains_key(&field)
            {
                let at = Self::offset(field) as usize;
                out[at..at + 4].copy_from_slice(&2u32.to_le_bytes());
            }
        }
        out
    }
}
