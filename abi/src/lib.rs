//! polc-abi: the one contract between the compiler and the runtime: the metadata
//! section of an object, the event records programs write to the ring buffer,
//! and the layout of the maps the runtime reads or writes.
//!
//! The runtime decodes everything from an object's metadata alone (no source
//! at run time). Changing anything here that an older runtime would misread
//! means bumping [`ABI_VERSION`]; the runtime refuses objects of another
//! version with a clear error.
//!
//! Depends on `serde` and `sha2` only; knows nothing of ELF or of BPF
//! instructions.

use serde::{Deserialize, Serialize};

/// Version of the object/event format. The runtime accepts exactly this one.
///
/// Version 9: [`Metadata::identity_ranks`]: a ranked identity set adds a
/// word to every [`MAP_IDENTITIES`] value ([`identity_words`]), which an
/// older runtime would write too short. Version 8: [`Metadata::accounts`], the user and group names the runtime
/// resolves from the node's databases into [`MAP_ACCOUNTS`] before loading
/// (an older runtime would leave their ids 0). Version 7: the runtime's exemption moved from the frozen [`Config`] to
/// [`MAP_RUNTIME`], and every object carries the guard programs
/// ([`GUARD_PROGRAM_PREFIX`]) and [`MAP_GUARDED`]. Version 6:
/// [`Metadata::automata`], the table the runtime writes into
/// [`MAP_AUTOMATA`] before loading. Version 5: rule kinds, actions, backends
/// and map kinds are typed enums
/// (serialised as the same names as before); every hook lists its backends,
/// strongest first, with what `deny` means on each and what each needs
/// probed ([`BackendMeta`]), so the runtime decides backends from the
/// metadata alone; the metadata carries a hash of the programs' code
/// ([`Metadata::code_hash`]), so an object whose code was changed after polc
/// wrote it is refused, and names the architecture its syscall numbers are
/// for ([`Metadata::arch`]). Version 4: the fields every event header carries
/// ([`HeaderField`]) are decoded from the header only.
pub const ABI_VERSION: u32 = 10;

/// A field every event header carries, so it never needs a slot in the
/// record: rules capture it by its policy name and the runtime decodes it
/// from the header.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum HeaderField {
    /// `proc.pid` (the tgid), at [`header::PID`].
    Pid,
    /// `proc.tid`, at [`header::TID`].
    Tid,
    /// `proc.uid`, at [`header::UID`].
    Uid,
    /// `proc.gid`, at [`header::GID`].
    Gid,
    /// `proc.comm`, at [`header::COMM`].
    Comm,
}

impl HeaderField {
    /// Every header field.
    pub const ALL: [HeaderField; 5] = [
        HeaderField::Pid,
        HeaderField::Tid,
        HeaderField::Uid,
        HeaderField::Gid,
        HeaderField::Comm,
    ];

    /// The field's name in policies (`proc.pid`, ...).
    pub fn name(self) -> &'static str {
        match self {
            HeaderField::Pid => "proc.pid",
            HeaderField::Tid => "proc.tid",
            HeaderField::Uid => "proc.uid",
            HeaderField::Gid => "proc.gid",
            HeaderField::Comm => "proc.comm",
        }
    }

    /// The header field named `name`, if the header carries it.
    pub fn from_name(name: &str) -> Option<HeaderField> {
        HeaderField::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Name of the ELF section holding the JSON-encoded [`Metadata`].
pub const METADATA_SECTION: &str = ".polc.meta";

/// Ring buffer of events.
pub const MAP_EVENTS: &str = "polc_events";
/// Per-CPU array of u64: one match counter per rule id, then the loss counter.
pub const MAP_COUNTERS: &str = "polc_counters";
/// Array of one [`Config`], written by the runtime before any program is
/// loaded, then frozen. Programs may only read it ([`CONFIG_MAP_FLAGS`]), so
/// the verifier knows the settings and removes the code they turn off (the
/// scope check when every task is in scope, the monitor-mode rewrite when
/// enforcing).
pub const MAP_CONFIG: &str = "polc_config";
/// `map_flags` of [`MAP_CONFIG`]: `BPF_F_RDONLY_PROG`.
pub const CONFIG_MAP_FLAGS: u32 = 1 << 7;
/// Per-CPU scratch buffer (one entry) holding the event record being built.
pub const MAP_SCRATCH: &str = "polc_scratch";
/// Hash: `{ u64 dev; u64 ino }` (little-endian) -> `u64 sets[N]`: the files
/// the policy names by path in `==` and `in` tests on resolved paths
/// ([`Metadata::identities`]), by identity, so that such a test also holds
/// for the same file reached by another name. `dev` is the kernel's `dev_t`
/// of the file system (`major << 20 | minor`), `ino` the inode number; bit
/// `k % 64` of `sets[k / 64]` says a path of identity set `k` leads to the
/// file ([`identity_words`] words, the last of which counts the bits set:
/// a string dispatch reads there whether its literal's bit is the only
/// one). A program looks a file up once and tests bits. Filled and kept
/// current by the runtime.
pub const MAP_IDENTITIES: &str = "polc_identities";
/// Bytes of a [`MAP_IDENTITIES`] key.
pub const IDENTITY_KEY_LEN: usize = 16;

/// A [`MAP_IDENTITIES`] key.
pub fn identity_key(dev: u64, ino: u64) -> [u8; IDENTITY_KEY_LEN] {
    let mut key = [0u8; IDENTITY_KEY_LEN];
    key[0..8].copy_from_slice(&dev.to_le_bytes());
    key[8..16].copy_from_slice(&ino.to_le_bytes());
    key
}

/// `(dev, ino)` of a [`MAP_IDENTITIES`] key; `None` for bytes of another
/// length.
pub fn identity_key_parts(key: &[u8]) -> Option<(u64, u64)> {
    if key.len() != IDENTITY_KEY_LEN {
        return None;
    }
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&key[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    Some((word(0), word(8)))
}

/// The u64 words of a [`MAP_IDENTITIES`] value for `n_sets` identity sets
/// of which `n_ranked` are ranked ([`Metadata::identity_ranks`]): the
/// bitmap, then one word per ranked set (in set order), then the number of
/// the bitmap's bits set.
pub fn identity_words(n_sets: usize, n_ranked: usize) -> usize {
    if n_sets == 0 {
        0
    } else {
        n_sets.div_ceil(64) + n_ranked + 1
    }
}

/// Per identity set of `n_sets`, the word of a [`MAP_IDENTITIES`] value
/// that holds its rank for the file when it is ranked, given the sets'
/// `ranks` ([`Metadata::identity_ranks`]; empty, or empty for a set: not
/// ranked).
pub fn identity_rank_words(n_sets: usize, ranks: &[Vec<u32>]) -> Vec<Option<usize>> {
    let mut next = n_sets.div_ceil(64);
    (0..n_sets)
        .map(|set| {
            ranks.get(set).filter(|r| !r.is_empty()).map(|_| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

/// The contents of [`MAP_IDENTITIES`] for the identity `sets` of a policy
/// ([`Metadata::identities`]) and their `ranks` ([`Metadata::identity_ranks`];
/// empty when no set is ranked), given the file (`dev`, `ino`) each path
/// leads to now: per file, the bitmap of the sets a path of which leads to
/// it; per ranked set, the lowest rank of its paths that lead to the file
/// (`u64::MAX` when none does); the number of bits set.
pub fn identity_entries(
    sets: &[Vec<String>],
    ranks: &[Vec<u32>],
    mut file_at: impl FnMut(&str) -> Option<(u64, u64)>,
) -> std::collections::BTreeMap<(u64, u64), Vec<u64>> {
    let rank_words = identity_rank_words(sets.len(), ranks);
    let words = identity_words(sets.len(), rank_words.iter().flatten().count());
    let bitmap = sets.len().div_ceil(64);
    let mut entries = std::collections::BTreeMap::new();
    for (set, paths) in sets.iter().enumerate() {
        for (i, path) in paths.iter().enumerate() {
            if let Some(file) = file_at(path) {
                let bits = entries.entry(file).or_insert_with(|| {
                    let mut value = vec![0u64; words];
                    value[bitmap..words - 1].fill(u64::MAX);
                    value
                });
                bits[set / 64] |= 1 << (set % 64);
                // (A rank missing from malformed metadata: no rank.)
                let rank = ranks.get(set).and_then(|r| r.get(i));
                if let Some((word, rank)) = rank_words[set].zip(rank) {
                    bits[word] = bits[word].min(u64::from(*rank));
                }
            }
        }
    }
    for bits in entries.values_mut() {
        let count: u64 = bits[..bitmap]
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum();
        *bits.last_mut().expect("a count word") = count;
    }
    entries
}

/// LRU hash: thread id (u32) -> command name (`[u8; 16]`) of the task when
/// it called execve or execveat, written at system call entry, read by the
/// exec fallback, which decides after the exec renamed the task.
pub const MAP_EXEC_CALLERS: &str = "polc_callers";
/// LRU hash: process id (tgid, u32) -> its command line at its last exec
/// (`[u8; 512]`, the arguments joined with spaces, NUL-terminated), written
/// at each exec's point of no return, copied to a new process at fork, and
/// filled by the runtime at start from `/proc/PID/cmdline` for the
/// processes already running. Read by `proc.cmdline` and
/// `proc.parent.cmdline`. Present only in objects that read them.
pub const MAP_CMDLINES: &str = "polc_cmdlines";
/// Per-CPU array of one `[u8; 520]`: where the snapshot program joins a
/// command line before storing it in [`MAP_CMDLINES`].
pub const MAP_CMDLINE_BUF: &str = "polc_cmdbuf";
/// Array of one u32 (little-endian) of `FEATURE_*` bits: what the running
/// kernel allows, probed and written by the runtime before any program is
/// loaded, then frozen. Programs may only read it (`BPF_F_RDONLY_PROG`), so
/// the verifier knows its value and never visits code a feature bit turns
/// off: a call the kernel would refuse there does not fail the load.
/// Present only in objects with such code.
pub const MAP_FEATURES: &str = "polc_features";
/// Bit in [`MAP_FEATURES`]: cgroup programs may call `bpf_send_signal`.
pub const FEATURE_CGROUP_SIGNAL: u32 = 1;
/// `map_flags` of [`MAP_FEATURES`]: `BPF_F_RDONLY_PROG`.
pub const FEATURES_MAP_FLAGS: u32 = 1 << 7;
/// Array of one value: the tables of the policy's string automata
/// (`contains`, long `endswith` lists), written by the runtime from
/// [`Metadata::automata`] before any program is loaded, then frozen.
/// Programs may only read it ([`AUTOMATA_MAP_FLAGS`]). Present only in
/// objects with automata.
pub const MAP_AUTOMATA: &str = "polc_automata";
/// `map_flags` of [`MAP_AUTOMATA`]: `BPF_F_RDONLY_PROG`.
pub const AUTOMATA_MAP_FLAGS: u32 = 1 << 7;

/// Array of one value, a u32 per entry of [`Metadata::accounts`] (in its
/// order): the id the node's user or group database gives each name the
/// policy compares with (`proc.user == "root"`). Written by the runtime and
/// frozen before any program loads (the verifier then knows the ids);
/// present only in objects whose policies name users or groups.
pub const MAP_ACCOUNTS: &str = "polc_accounts";
/// `map_flags` of [`MAP_ACCOUNTS`]: `BPF_F_RDONLY_PROG`.
pub const ACCOUNTS_MAP_FLAGS: u32 = 1 << 7;

/// A user or group name a policy compares with: its id is resolved where
/// the policy is enforced, from the node's `/etc/passwd` (or `/etc/group`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountMeta {
    /// True for a group name (`/etc/group`), false for a user name.
    pub group: bool,
    pub name: String,
}

/// Array of one [`RUNTIME_LEN`]-byte value, `{ u32 tgid; u32 pad; }`: the
/// kernel's thread group id of the runtime process that owns the object's
/// programs, 0 when none. Written by the runtime before anything is attached
/// (and by a runtime that adopts pinned programs); cleared by the
/// `polc_guard_exit` program when that process exits, so a later process
/// that reuses the pid inherits nothing. No rule decides for that process
/// (its operations are neither counted, reported nor enforced), and the
/// guard programs protect it. Not frozen: it changes owner.
pub const MAP_RUNTIME: &str = "polc_runtime";
/// Size in bytes of the value of [`MAP_RUNTIME`].
pub const RUNTIME_LEN: usize = 8;
/// Hash of what the guard programs protect from the tasks in the policy's
/// scope: keys of [`GUARDED_KEY_LEN`] bytes, `{ u32 kind; u32 dev; u64 id;
/// }` little-endian (kinds `GUARDED_*`), values one byte `1`. Written by the
/// runtime after it loads and pins.
pub const MAP_GUARDED: &str = "polc_guarded";
/// Size in bytes of the keys of [`MAP_GUARDED`].
pub const GUARDED_KEY_LEN: usize = 16;
/// Entries of [`MAP_GUARDED`]: the maps, programs and pin directories of two
/// generations of one policy (while one replaces the other) fit easily.
pub const GUARDED_ENTRIES: u32 = 1024;
/// [`MAP_GUARDED`] kind: a map, by id (`dev` 0).
pub const GUARDED_MAP: u32 = 1;
/// [`MAP_GUARDED`] kind: a program, by id (`dev` 0).
pub const GUARDED_PROGRAM: u32 = 2;
/// [`MAP_GUARDED`] kind: a directory of pins, by the kernel's `dev_t` of its
/// file system (`MAJOR << 20 | MINOR`) and its inode number: nothing in it
/// may be unlinked or renamed, nor it removed.
pub const GUARDED_DIRECTORY: u32 = 3;
/// [`MAP_GUARDED`] kind: a file system that may not be unmounted, by its
/// kernel `dev_t` (`id` 0).
pub const GUARDED_FILE_SYSTEM: u32 = 4;
/// Section of the runtime's self-tgid probe (the compiler's
/// `runtime_probe_object`): a raw tracepoint program, run with
/// `BPF_PROG_TEST_RUN` (never attached), that returns the calling process's
/// thread group id as the kernel sees it.
pub const SELF_TGID_SECTION: &str = "raw_tracepoint/polc_self_tgid";
/// Symbol of the self-tgid probe.
pub const SELF_TGID_SYMBOL: &str = "polc_self_tgid";
/// Section of the runtime's LSM probe: the `bpf` LSM hook, which the
/// runtime triggers itself with any `bpf(2)` call.
pub const LSM_PROBE_SECTION: &str = "lsm/bpf";
/// Symbol of the LSM probe.
pub const LSM_PROBE_SYMBOL: &str = "polc_lsm_probe";
/// The map the LSM probe marks: an array of one u32, 0 until the program
/// runs.
pub const LSM_PROBE_MAP: &str = "polc_lsm_ran";
/// Symbols of the guard programs start with this: support programs (no hook)
/// that protect the runtime and the pinned state, rather than decide.
pub const GUARD_PROGRAM_PREFIX: &str = "polc_guard_";
/// The guard program that clears [`MAP_RUNTIME`] when the runtime exits (a
/// `tp_btf` program: it runs on every kernel the runtime supports).
pub const GUARD_EXIT: &str = "polc_guard_exit";

/// The key of [`MAP_GUARDED`] for `kind`, `dev` and `id`.
pub fn guarded_key(kind: u32, dev: u32, id: u64) -> [u8; GUARDED_KEY_LEN] {
    let mut key = [0u8; GUARDED_KEY_LEN];
    key[0..4].copy_from_slice(&kind.to_le_bytes());
    key[4..8].copy_from_slice(&dev.to_le_bytes());
    key[8..16].copy_from_slice(&id.to_le_bytes());
    key
}

/// Size in bytes of [`EventHeader`] at the start of every event record.
pub const EVENT_HEADER_LEN: usize = 48;

/// Bit in [`Config::flags`]: report `deny`/`kill` as would-deny/would-kill and
/// do not enforce them.
pub const CONFIG_MONITOR: u32 = 1;
/// First bit of the byte of [`Config::flags`] that holds log2 of the fill
/// level (bytes waiting in the ring buffer) from which an event wakes the
/// reader at once ([`ring_wake_flags`]); 0 there: every event wakes it.
pub const CONFIG_WAKE_LOG2_SHIFT: u32 = 24;

/// Bytes a record of `len` bytes takes in a ring buffer: the kernel's
/// 8-byte header, the whole rounded up to 8.
pub fn ringbuf_record_bytes(len: u32) -> u32 {
    (len + 8).div_ceil(8) * 8
}

/// Records of a program's own size within which an event wakes the reader
/// as the fill level approaches a quarter, or half, of the ring buffer:
/// an event written while `level - WAKE_BAND_RECORDS × record` <= waiting
/// bytes < `level` forces a wake-up; any other event does not. A band of
/// several records, not one, so that writers on other CPUs adding their
/// records at the same moment cannot carry the level past it unseen.
pub const WAKE_BAND_RECORDS: u32 = 4;

/// The [`Config::flags`] bits that make events wake the reader once a
/// quarter of a ring buffer of `ring_bytes` (a power of two, as the kernel
/// requires) is waiting. The loader knows the size (`--ringbuf-size`); the
/// programs read it from the frozen config instead of asking the ring at
/// every event.
pub fn ring_wake_flags(ring_bytes: u32) -> u32 {
    let quarter = ring_bytes / 4;
    if quarter == 0 {
        return 0;
    }
    quarter.ilog2() << CONFIG_WAKE_LOG2_SHIFT
}

/// Size in bytes of [`Config`] as stored in [`MAP_CONFIG`].
pub const CONFIG_LEN: usize = 16;

/// Run-time configuration, the value of [`MAP_CONFIG`] key 0:
/// `{ u64 scope_cgroup; u32 scope_level; u32 flags; }`, little-endian.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// cgroup v2 id every rule is scoped to (that cgroup and its
    /// descendants); 0 means every task.
    pub scope_cgroup: u64,
    /// Level of `scope_cgroup` in the cgroup v2 hierarchy (root is 0).
    pub scope_level: u32,
    /// [`CONFIG_MONITOR`], ...
    pub flags: u32,
}

/// Offsets of the [`Config`] fields: the code generator's loads and
/// [`Config::to_bytes`] both use these.
pub mod config {
    /// `u64 scope_cgroup`.
    pub const SCOPE_CGROUP: i16 = 0;
    /// `u32 scope_level`.
    pub const SCOPE_LEVEL: i16 = 8;
    /// `u32 flags`.
    pub const FLAGS: i16 = 12;
}

/// Offsets in the value of [`MAP_RUNTIME`], for code generation.
pub mod runtime {
    /// The runtime's tgid (u32).
    pub const TGID: i16 = 0;
}

/// Writes `bytes` at the (non-negative) `offset` of `out`.
fn put(out: &mut [u8], offset: i16, bytes: &[u8]) {
    let at = offset as usize;
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

/// The `N` bytes at the (non-negative) `offset` of `bytes`, which the caller
/// has checked holds them.
fn take<const N: usize>(bytes: &[u8], offset: i16) -> [u8; N] {
    let at = offset as usize;
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

impl Config {
    /// The map value's bytes.
    pub fn to_bytes(self) -> [u8; CONFIG_LEN] {
        let mut out = [0u8; CONFIG_LEN];
        put(
            &mut out,
            config::SCOPE_CGROUP,
            &self.scope_cgroup.to_le_bytes(),
        );
        put(
            &mut out,
            config::SCOPE_LEVEL,
            &self.scope_level.to_le_bytes(),
        );
        put(&mut out, config::FLAGS, &self.flags.to_le_bytes());
        out
    }
}

/// What happened, as written in an event's header.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// An `audit` rule matched: allowed and reported.
    Audit,
    /// A `deny` rule matched and was enforced.
    Deny,
    /// A `kill` rule matched and was enforced.
    Kill,
    /// A `deny` rule matched in monitor mode: not enforced.
    WouldDeny,
    /// A `kill` rule matched in monitor mode: not enforced.
    WouldKill,
    /// A trace fired.
    Trace,
}

impl Verdict {
    /// Every verdict.
    pub const ALL: [Verdict; 6] = [
        Verdict::Audit,
        Verdict::Deny,
        Verdict::Kill,
        Verdict::WouldDeny,
        Verdict::WouldKill,
        Verdict::Trace,
    ];

    /// The code stored in the event header.
    pub fn code(self) -> u8 {
        match self {
            Verdict::Audit => 1,
            Verdict::Deny => 2,
            Verdict::Kill => 3,
            Verdict::WouldDeny => 4,
            Verdict::WouldKill => 5,
            Verdict::Trace => 6,
        }
    }

    /// The verdict stored as `code`.
    pub fn from_code(code: u8) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.code() == code)
    }

    /// The name used in text and JSON output (`would-deny`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Audit => "audit",
            Verdict::Deny => "deny",
            Verdict::Kill => "kill",
            Verdict::WouldDeny => "would-deny",
            Verdict::WouldKill => "would-kill",
            Verdict::Trace => "trace",
        }
    }
}

/// The fixed header of every event record (48 bytes, little-endian):
///
/// ```text
///  0 u64 time_ns      bpf_ktime_get_boot_ns()
///  8 u32 rule_id      index into Metadata::rules
/// 12 u8  verdict      Verdict::code()
/// 13 u8  reserved
/// 14 u16 program      index into Metadata::programs
/// 16 u32 tid
/// 20 u32 pid          tgid
/// 24 u32 uid
/// 28 u32 gid
/// 32 [u8; 16] comm    NUL-terminated
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventHeader {
    pub time_ns: u64,
    pub rule_id: u32,
    pub verdict: u8,
    pub program: u16,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    /// `comm`'s bytes as the kernel wrote them (NUL-padded; see
    /// [`c_string`]).
    pub comm: [u8; header::COMM_LEN],
}

/// Byte offsets of the header fields: the code generator's stores and
/// [`EventHeader::parse`] both use these.
pub mod header {
    /// `u64 time_ns`.
    pub const TIME_NS: i16 = 0;
    /// `u32 rule_id`.
    pub const RULE_ID: i16 = 8;
    /// `u8 verdict`.
    pub const VERDICT: i16 = 12;
    /// `u16 program`.
    pub const PROGRAM: i16 = 14;
    /// `bpf_get_current_pid_tgid()` stored as one u64: tid, then pid.
    pub const TID: i16 = 16;
    /// `u32 pid` (tgid).
    pub const PID: i16 = 20;
    /// `u32 uid`.
    pub const UID: i16 = 24;
    /// `u32 gid`.
    pub const GID: i16 = 28;
    /// `[u8; COMM_LEN] comm`.
    pub const COMM: i16 = 32;
    /// Bytes of `comm`.
    pub const COMM_LEN: usize = 16;
}

impl EventHeader {
    /// Decodes a header; `None` if `bytes` is shorter than [`EVENT_HEADER_LEN`].
    pub fn parse(bytes: &[u8]) -> Option<EventHeader> {
        if bytes.len() < EVENT_HEADER_LEN {
            return None;
        }
        let u32_at = |at: i16| u32::from_le_bytes(take(bytes, at));
        Some(EventHeader {
            time_ns: u64::from_le_bytes(take(bytes, header::TIME_NS)),
            rule_id: u32_at(header::RULE_ID),
            verdict: take::<1>(bytes, header::VERDICT)[0],
            program: u16::from_le_bytes(take(bytes, header::PROGRAM)),
            tid: u32_at(header::TID),
            pid: u32_at(header::PID),
            uid: u32_at(header::UID),
            gid: u32_at(header::GID),
            comm: take(bytes, header::COMM),
        })
    }
}

/// The bytes up to the first NUL (or all of them), lossily as UTF-8.
pub fn c_string(bytes: &[u8]) -> String {
    let mut out = String::new();
    c_string_into(&mut out, bytes);
    out
}

/// [`c_string`] into `out`, replacing what it held (no allocation when
/// `out` has the room).
pub fn c_string_into(out: &mut String, bytes: &[u8]) {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    out.clear();
    match std::str::from_utf8(&bytes[..end]) {
        Ok(text) => out.push_str(text),
        Err(_) => out.push_str(&String::from_utf8_lossy(&bytes[..end])),
    }
}

/// Everything the runtime knows about an object: the JSON in [`METADATA_SECTION`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Must equal [`ABI_VERSION`].
    pub abi_version: u32,
    /// `polc` version that wrote the object.
    pub compiler_version: String,
    /// The architecture whose system call numbers the programs test
    /// (`x86_64`, as Rust's `std::env::consts::ARCH` names it): the runtime
    /// refuses an object built for another.
    pub arch: String,
    /// File name the policy was compiled from.
    pub source_name: String,
    /// SHA-256 of the policy source, hex.
    pub source_hash: String,
    /// Every rule and trace, indexed by rule id.
    pub rules: Vec<RuleMeta>,
    /// Per hook: its backends and the layout of its event records.
    pub hooks: Vec<HookMeta>,
    /// Every program in the object, indexed by the header's `program`.
    pub programs: Vec<ProgramMeta>,
    /// Every map in the object.
    pub maps: Vec<MapMeta>,
    /// Kernel struct members the programs read, as `struct.member`; each must
    /// exist in the running kernel's BTF.
    pub kernel_fields: Vec<String>,
    /// Contents of the set maps (large lists), inserted by the runtime after
    /// loading and before attaching.
    pub sets: Vec<SetMeta>,
    /// The files named by path in `==` and `in` tests on resolved paths, one
    /// list of absolute paths per identity set (its bit in
    /// [`MAP_IDENTITIES`] values). The runtime finds the file at each path
    /// (following symbolic links), writes its identity before attaching, and
    /// keeps the map current while it runs.
    #[serde(default)]
    pub identities: Vec<Vec<String>>,
    /// Per identity set (when any is a list file's), the list file whose
    /// paths it holds: the runtime reads them again when the file changes.
    /// Empty when no set is a list file's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_files: Vec<Option<String>>,
    /// Per identity set, the rank of each of its paths (in the order of
    /// [`Metadata::identities`]' paths), or none: a ranked set's word in
    /// [`MAP_IDENTITIES`] values holds the lowest rank of its paths that
    /// lead to the file (a run of `==` rules sharing one body reads there
    /// the first rule, in order, whose literal names the file). Empty when
    /// no set is ranked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_ranks: Vec<Vec<u32>>,
    /// List files compiled into the programs (`contains` and `endswith`
    /// automata): the runtime reloads the policy (built again from its
    /// source) when one changes, and refuses to for an object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compiled_lists: Vec<String>,
    /// The value of [`MAP_AUTOMATA`] (key 0), hex; empty when the object
    /// has no automata.
    pub automata: String,
    /// The user and group names the policy compares with, in the order of
    /// their ids in [`MAP_ACCOUNTS`]: the runtime resolves each from the
    /// node's databases and refuses to load when one is unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountMeta>,
    /// [`code_hash`] of the programs' sections, in the order of
    /// [`Metadata::programs`]: the runtime refuses an object whose code does
    /// not match it.
    pub code_hash: String,
}

impl Metadata {
    /// The rule on `hook` whose code a line-info line (a `.pol` line, as in
    /// `.BTF.ext` and verifier logs) points into: each rule's code carries
    /// the line of its declaration, so the rule declared last at or before
    /// `line`. `None` for line 0 (code of no rule).
    pub fn rule_at(&self, hook: &str, line: u32) -> Option<&RuleMeta> {
        self.rules
            .iter()
            .filter(|rule| rule.hook == hook && rule.line <= line && line > 0)
            .max_by_key(|rule| rule.line)
    }
}

/// SHA-256 (hex) of the programs' code: for each program, in the order of
/// [`Metadata::programs`], its section name, a NUL byte, the code's length
/// (u64, little-endian) and the code's bytes as they are in the ELF section
/// (map references not yet resolved, CO-RE offsets those of the object's
/// BTF).
pub fn code_hash<'a>(programs: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (section, code) in programs {
        hasher.update(section.as_bytes());
        hasher.update([0u8]);
        hasher.update((code.len() as u64).to_le_bytes());
        hasher.update(code);
    }
    hex(&hasher.finalize())
}

/// Lower-case hex of `bytes`: how [`SetMeta::keys`] are written.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes lower-case or upper-case hex; `None` if `text` is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The keys of one set map (hash or LPM trie); every value is one byte `1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetMeta {
    /// Name of the map.
    pub map: String,
    /// Every key, hex-encoded, each exactly the map's key size. Empty for
    /// a list file's set in an object to attach: the runtime reads the file.
    pub keys: Vec<String>,
    /// The set of a list file (`list NAME = file "PATH"`): the runtime
    /// fills it from the file when it loads the object and again, in place,
    /// whenever the file changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<SetFile>,
    /// Per key, its value, hex-encoded (a string dispatch's group and
    /// identity bit); empty: every value is the byte `1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// Where a set map's keys come from when a list file feeds it, and how each
/// entry becomes a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetFile {
    /// The list's name in the policy.
    pub list: String,
    /// The file's absolute path, as polc resolved it at build time.
    pub path: String,
    /// How an entry becomes a key.
    pub keys: SetKeys,
    /// The map's maximum number of entries: a file with more keys is
    /// refused (the policy must be rebuilt or reloaded).
    pub capacity: u32,
}

/// How a list file's entries become the keys of its set map.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SetKeys {
    /// Integers as u64 little-endian; at most `bits` bits (the field's width).
    Int { bits: u8 },
    /// Strings NUL-padded to `key_len` bytes (shorter than `key_len` and
    /// than `max`, the field's size).
    Str { key_len: u32, max: u16 },
    /// LPM keys `{ u32 prefixlen; u8 data[data_len] }` of string prefixes
    /// (at most `data_len` bytes, shorter than `max`).
    StrPrefix { data_len: u32, max: u16 },
    /// LPM keys `{ u32 prefixlen; u8 addr[4] }` of the IPv4 entries.
    Ip4,
    /// LPM keys `{ u32 prefixlen; u8 addr[16] }` of the IPv6 entries.
    Ip6,
}

impl SetKeys {
    /// Whether the keys are an LPM trie's (`{ u32 prefixlen; data }`).
    pub fn is_lpm(self) -> bool {
        matches!(
            self,
            SetKeys::StrPrefix { .. } | SetKeys::Ip4 | SetKeys::Ip6
        )
    }
}

/// One rule or trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMeta {
    pub id: u32,
    pub name: String,
    pub kind: RuleKind,
    /// Hook name (`exec`, `file.open`, ...).
    pub hook: String,
    pub action: Action,
    /// Message template pieces; empty when the rule has no message.
    pub message: Vec<MessagePart>,
    /// Fields captured into this rule's events (message placeholders and
    /// `emit`s), beyond the header.
    pub fields: Vec<String>,
    /// 1-based line of the declaration.
    pub line: u32,
}

/// A piece of a message template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagePart {
    Text(String),
    Field(String),
}

/// A hook the object implements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookMeta {
    /// Hook name.
    pub name: String,
    /// Size in bytes of this hook's event records (header included).
    pub record_len: u32,
    /// Where each captured field sits in this hook's records.
    pub fields: Vec<FieldSlot>,
    /// The hook's backends the object has programs for, strongest first:
    /// the runtime tries them in this order and takes the first this
    /// kernel loads.
    pub backends: Vec<BackendMeta>,
}

/// One way the object implements a hook, as the runtime needs to know it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendMeta {
    pub kind: BackendKind,
    /// What `deny` does on this backend.
    pub deny: Deny,
    /// What `deny` means on this backend for this hook, for humans (printed
    /// at start-up and by `polrt inspect`).
    pub deny_means: String,
    /// Whether this backend's programs may send signals (`kill`, and `deny`
    /// where the backend cannot refuse) on every kernel that loads them, or
    /// only where the runtime's probe of a [`Feature`] says so.
    pub signals: Signals,
}

/// What `deny` does on a backend.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deny {
    /// The operation fails with `EPERM` (LSM, cgroup programs).
    Refuses,
    /// The operation cannot be refused: the task is killed with `SIGKILL`
    /// (tracing programs).
    Kills,
}

/// Whether a backend's programs may send signals.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signals {
    /// On every kernel that loads the program type.
    Always,
    /// Only where the kernel allows this feature, which the runtime probes
    /// and writes into [`MAP_FEATURES`]; where it does not, `kill` refuses
    /// and reports without killing.
    Probed(Feature),
}

/// A kernel ability the runtime probes and hands to the programs as a bit
/// of [`MAP_FEATURES`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// cgroup programs may call `bpf_send_signal` ([`FEATURE_CGROUP_SIGNAL`]).
    CgroupSignal,
}

impl Feature {
    /// The feature's bit in [`MAP_FEATURES`].
    pub fn bit(self) -> u32 {
        match self {
            Feature::CgroupSignal => FEATURE_CGROUP_SIGNAL,
        }
    }
}

/// The kind of program that implements a hook. The declaration order is
/// the order of strength (strongest first), which [`HookMeta::backends`]
/// follows.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum BackendKind {
    /// BPF LSM: the hook's return value refuses the operation.
    #[serde(rename = "lsm")]
    Lsm,
    /// A cgroup program (`cgroup/connect4`, ...), scoped to the cgroup it is
    /// attached to.
    #[serde(rename = "cgroup")]
    Cgroup,
    /// A BTF-typed raw tracepoint.
    #[serde(rename = "tp_btf")]
    TpBtf,
    /// A classic tracepoint.
    #[serde(rename = "tracepoint")]
    Tracepoint,
    /// A test-run program (`polc test`), never attached.
    #[serde(rename = "test-run")]
    TestRun,
}

impl BackendKind {
    /// Every backend kind, strongest first.
    pub const ALL: [BackendKind; 5] = [
        BackendKind::Lsm,
        BackendKind::Cgroup,
        BackendKind::TpBtf,
        BackendKind::Tracepoint,
        BackendKind::TestRun,
    ];

    /// The name used in output, metadata and section names.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Lsm => "lsm",
            BackendKind::Cgroup => "cgroup",
            BackendKind::TpBtf => "tp_btf",
            BackendKind::Tracepoint => "tracepoint",
            BackendKind::TestRun => "test-run",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// Whether a declaration is a `rule` or a `trace`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    Rule,
    Trace,
}

impl RuleKind {
    /// The keyword (`rule`, `trace`).
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::Rule => "rule",
            RuleKind::Trace => "trace",
        }
    }
}

impl std::fmt::Display for RuleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// What a matching rule does.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    Audit,
    Deny,
    Kill,
    Trace,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 5] = [
        Action::Allow,
        Action::Audit,
        Action::Deny,
        Action::Kill,
        Action::Trace,
    ];

    /// The keyword written in policies.
    pub fn name(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Audit => "audit",
            Action::Deny => "deny",
            Action::Kill => "kill",
            Action::Trace => "trace",
        }
    }

    /// The verdict an enforced match of this action reports (`None` for
    /// `allow`, which reports nothing).
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            Action::Allow => None,
            Action::Audit => Some(Verdict::Audit),
            Action::Deny => Some(Verdict::Deny),
            Action::Kill => Some(Verdict::Kill),
            Action::Trace => Some(Verdict::Trace),
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// One field in an event record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSlot {
    /// Dotted field name.
    pub name: String,
    /// Byte offset in the record.
    pub offset: u32,
    pub encoding: FieldEncoding,
}

/// How a field's value is stored in an event record.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum FieldEncoding {
    /// u64, little-endian.
    Int,
    /// u64, little-endian, 0 or 1.
    Bool,
    /// `len` bytes, NUL-terminated (NUL-padded).
    Str { len: u32 },
    /// u32 address family (2 or 10), 4 bytes of padding, then 16 address
    /// bytes in network order (IPv4 in the first 4).
    Ip,
    /// A path the kernel resolved: its first bytes, NUL-terminated, in
    /// `len` bytes; then a u64, its exact length in bytes
    /// ([`UNRESOLVED_PATH`] when the kernel could not resolve it; longer
    /// than `len - 1` when the head is cut); then the file's identity: u64
    /// device (the kernel's `dev_t`: major << 20 | minor), u64 inode, and 8
    /// bytes the record does not use.
    ResolvedPath { len: u32 },
}

/// The length word of a [`FieldEncoding::ResolvedPath`] the kernel could
/// not resolve (deeper than the walk or longer than `PATH_MAX`).
pub const UNRESOLVED_PATH: u64 = u64::MAX;

impl FieldEncoding {
    /// Bytes the field takes in a record.
    pub fn size(self) -> u32 {
        match self {
            FieldEncoding::Int | FieldEncoding::Bool => 8,
            FieldEncoding::Str { len } => len,
            FieldEncoding::Ip => 24,
            FieldEncoding::ResolvedPath { len } => len + 32,
        }
    }
}

/// One program of the object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramMeta {
    /// Symbol (function) name, unique in the object.
    pub symbol: String,
    /// ELF section, libbpf style (`lsm/file_open`, `cgroup/connect4`, ...).
    pub section: String,
    /// Hook name; empty for support programs (e.g. the exec tracker).
    pub hook: String,
    /// Its backend (support programs: the program type they use).
    pub backend: BackendKind,
    /// Instructions (8-byte slots).
    pub insns: u32,
    /// Worst-case number of instructions executed by one run.
    pub max_path: u32,
    /// Stack bytes used.
    pub stack: u32,
    /// When the kernel has no attach target for this program, its backend
    /// runs without it and this says why nothing is missed on such a kernel
    /// (e.g. kernels before 6.2 have no `file_truncate` LSM hook:
    /// `ftruncate` goes through `path_truncate`). `None`: the backend
    /// needs the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent_means: Option<String>,
    /// What the program does of its hook's decisions (see
    /// [`ProgramRole`]); [`ProgramRole::Whole`] when absent.
    #[serde(default, skip_serializing_if = "ProgramRole::is_whole")]
    pub role: ProgramRole,
}

/// What a decision program does of its hook's decisions.
///
/// The kernel runs the LSM programs of one hook in turn and stops at the
/// first that refuses, so of several policies' whole programs on an LSM
/// hook only those before the first refusal would report. So each whole
/// LSM program (`lsm/HOOK`) comes with two programs made from the same
/// rules: one that reports and one that refuses. The kernel runs every
/// `fentry` program of a hook's function before any of its LSM programs,
/// and an `fentry` program cannot refuse: with every policy's reporting
/// program there and its refusing program on the LSM hook, every policy
/// reports every operation, and the operation is refused when any policy
/// refuses it. polrt uses them where several policies run.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgramRole {
    /// Decides, counts, reports and enforces.
    #[default]
    Whole,
    /// `fentry/bpf_lsm_HOOK`: decides as the whole program, counts,
    /// reports and sends `kill`'s signal; never refuses.
    Report,
    /// `lsm/HOOK`: decides as the whole program and refuses where it
    /// would (`deny`, `kill`); counts, reports and signals nothing.
    Refuse,
}

impl ProgramRole {
    /// Whether this is [`ProgramRole::Whole`] (serde's skip test).
    pub fn is_whole(&self) -> bool {
        *self == ProgramRole::Whole
    }

    /// The symbol of the program of this role made from the whole program
    /// `whole`.
    pub fn symbol(self, whole: &str) -> String {
        match self {
            ProgramRole::Whole => whole.to_string(),
            ProgramRole::Report => format!("{whole}_report"),
            ProgramRole::Refuse => format!("{whole}_refuse"),
        }
    }

    /// The section of the program of this role made from the whole LSM
    /// program of section `whole` (`lsm/HOOK`); `None` for another
    /// section.
    pub fn section(self, whole: &str) -> Option<String> {
        let hook = whole.strip_prefix("lsm/")?;
        Some(match self {
            ProgramRole::Whole | ProgramRole::Refuse => whole.to_string(),
            ProgramRole::Report => format!("fentry/bpf_lsm_{hook}"),
        })
    }
}

/// One map of the object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapMeta {
    pub name: String,
    pub kind: MapKind,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// What it holds, for `polrt inspect` (e.g. `list shells (12 entries)`).
    pub purpose: String,
}

/// Map types of polc objects; the values are `enum bpf_map_type`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u32)]
pub enum MapKind {
    Hash = 1,
    Array = 2,
    PercpuArray = 6,
    LruHash = 9,
    LpmTrie = 11,
    Ringbuf = 27,
}

impl MapKind {
    /// Every map kind.
    pub const ALL: [MapKind; 6] = [
        MapKind::Hash,
        MapKind::Array,
        MapKind::PercpuArray,
        MapKind::LruHash,
        MapKind::LpmTrie,
        MapKind::Ringbuf,
    ];

    /// The map's `enum bpf_map_type` value.
    pub fn map_type(self) -> u32 {
        self as u32
    }

    /// Whether each value holds one slot per possible CPU.
    pub fn per_cpu(self) -> bool {
        matches!(self, MapKind::PercpuArray)
    }

    /// The name in metadata and `polrt inspect` (`percpu_array`, ...).
    pub fn name(self) -> &'static str {
        match self {
            MapKind::Hash => "hash",
            MapKind::Array => "array",
            MapKind::PercpuArray => "percpu_array",
            MapKind::LruHash => "lru_hash",
            MapKind::LpmTrie => "lpm_trie",
            MapKind::Ringbuf => "ringbuf",
        }
    }
}

impl std::fmt::Display for MapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_through_bytes() {
        let mut bytes = vec![0u8; EVENT_HEADER_LEN];
        bytes[0..8].copy_from_slice(&123_456u64.to_le_bytes());
        bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
        bytes[12] = Verdict::WouldKill.code();
        bytes[14..16].copy_from_slice(&3u16.to_le_bytes());
        bytes[16..20].copy_from_slice(&101u32.to_le_bytes());
        bytes[20..24].copy_from_slice(&100u32.to_le_bytes());
        bytes[24..28].copy_from_slice(&1000u32.to_le_bytes());
        bytes[28..32].copy_from_slice(&1001u32.to_le_bytes());
        bytes[32..36].copy_from_slice(b"bash");
        let header = EventHeader::parse(&bytes).expect("long enough");
        assert_eq!(header.time_ns, 123_456);
        assert_eq!(header.rule_id, 7);
        assert_eq!(Verdict::from_code(header.verdict), Some(Verdict::WouldKill));
        assert_eq!(header.program, 3);
        assert_eq!(
            (header.pid, header.tid, header.uid, header.gid),
            (100, 101, 1000, 1001)
        );
        assert_eq!(c_string(&header.comm), "bash");
        assert_eq!(EventHeader::parse(&bytes[..47]), None);
    }

    #[test]
    fn identity_entries_hold_each_ranked_sets_lowest_rank() {
        let sets = vec![
            vec!["/a".to_string()],
            vec!["/b".to_string(), "/c".to_string(), "/d".to_string()],
            vec!["/e".to_string()],
        ];
        let ranks = vec![vec![], vec![12, 3, 7], vec![]];
        // /b and /c are one file, /d another; /a and /e name /d's file.
        let file = |path: &str| match path {
            "/b" | "/c" => Some((1, 10)),
            "/d" | "/a" | "/e" => Some((1, 11)),
            _ => None,
        };
        assert_eq!(identity_words(3, 1), 3);
        assert_eq!(identity_rank_words(3, &ranks), vec![None, Some(1), None]);
        assert_eq!(identity_rank_words(3, &[]), vec![None; 3]);
        let entries = identity_entries(&sets, &ranks, file);
        assert_eq!(entries[&(1, 10)], vec![0b010, 3, 1]);
        assert_eq!(entries[&(1, 11)], vec![0b111, 7, 3]);
        let plain = identity_entries(&sets, &[], file);
        assert_eq!(plain[&(1, 11)], vec![0b111, 3]);
        // A ranked set none of whose paths leads to the file: no rank.
        let entries = identity_entries(&sets[..1], &[vec![5]], |_| Some((2, 2)));
        assert_eq!(entries[&(2, 2)], vec![1, 5, 1]);
        let entries = identity_entries(&sets, &ranks, |p| (p == "/a").then_some((3, 3)));
        assert_eq!(entries[&(3, 3)], vec![0b001, u64::MAX, 1]);
    }

    #[test]
    fn verdict_codes_are_distinct_and_round_trip() {
        for verdict in Verdict::ALL {
            assert_eq!(Verdict::from_code(verdict.code()), Some(verdict));
        }
        assert_eq!(Verdict::from_code(0), None);
    }

    #[test]
    fn config_bytes_are_little_endian() {
        let config = Config {
            scope_cgroup: 0x0102_0304_0506_0708,
            scope_level: 3,
            flags: CONFIG_MONITOR,
        };
        let bytes = config.to_bytes();
        assert_eq!(bytes[0], 0x08);
        assert_eq!(bytes[8], 3);
        assert_eq!(bytes[12], 1);
    }

    #[test]
    fn guarded_keys_are_kind_dev_id_little_endian() {
        let key = guarded_key(GUARDED_DIRECTORY, 0x2a, 0x0102_0304_0506_0708);
        assert_eq!(key[0], 3);
        assert_eq!(key[4], 0x2a);
        assert_eq!(key[8], 0x08);
        assert_eq!(key[15], 0x01);
    }

    #[test]
    fn header_fields_lie_inside_the_header_without_overlapping() {
        let fields = [
            (header::TIME_NS, 8),
            (header::RULE_ID, 4),
            (header::VERDICT, 1),
            (header::PROGRAM, 2),
            (header::TID, 4),
            (header::PID, 4),
            (header::UID, 4),
            (header::GID, 4),
            (header::COMM, header::COMM_LEN),
        ];
        let mut used = [false; EVENT_HEADER_LEN];
        for (offset, size) in fields {
            let at = usize::try_from(offset).expect("non-negative");
            for byte in &mut used[at..at + size] {
                assert!(!*byte, "header field at {offset} overlaps another");
                *byte = true;
            }
        }
        // The code generator stores tid and pid with one 8-byte store.
        assert_eq!(header::PID, header::TID + 4);
    }

    #[test]
    fn ring_wake_flags_hold_log2_of_a_quarter_in_the_top_byte() {
        assert_eq!(ring_wake_flags(1 << 20) >> CONFIG_WAKE_LOG2_SHIFT, 18);
        assert_eq!(ring_wake_flags(4096) >> CONFIG_WAKE_LOG2_SHIFT, 10);
        assert_eq!(ring_wake_flags(1 << 31) >> CONFIG_WAKE_LOG2_SHIFT, 29);
        assert_eq!(ring_wake_flags(0), 0);
        assert_eq!(ring_wake_flags(4) & CONFIG_MONITOR, 0);
        assert_eq!(
            ring_wake_flags(1 << 24) & ((1 << CONFIG_WAKE_LOG2_SHIFT) - 1),
            0
        );
    }

    #[test]
    fn config_fields_lie_inside_the_config_without_overlapping() {
        let fields = [
            (config::SCOPE_CGROUP, 8),
            (config::SCOPE_LEVEL, 4),
            (config::FLAGS, 4),
        ];
        let mut used = [false; CONFIG_LEN];
        for (offset, size) in fields {
            let at = usize::try_from(offset).expect("non-negative");
            for byte in &mut used[at..at + size] {
                assert!(!*byte, "config field at {offset} overlaps another");
                *byte = true;
            }
        }
    }

    #[test]
    fn typed_names_serialise_as_their_names() {
        for kind in BackendKind::ALL {
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
        for kind in MapKind::ALL {
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
        for action in Action::ALL {
            let json = serde_json::to_string(&action).expect("serialises");
            assert_eq!(json, format!("\"{}\"", action.name()));
        }
        for kind in [RuleKind::Rule, RuleKind::Trace] {
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
        let probed = serde_json::to_string(&Signals::Probed(Feature::CgroupSignal)).expect("json");
        assert_eq!(probed, r#"{"probed":"cgroup_signal"}"#);
        assert!(serde_json::from_str::<BackendKind>("\"kprobe\"").is_err());
    }

    #[test]
    fn header_fields_are_found_by_name() {
        for field in HeaderField::ALL {
            assert_eq!(HeaderField::from_name(field.name()), Some(field));
        }
        assert_eq!(HeaderField::from_name("proc.exe"), None);
    }

    #[test]
    fn actions_report_their_verdicts() {
        assert_eq!(Action::Allow.verdict(), None);
        assert_eq!(Action::Kill.verdict(), Some(Verdict::Kill));
        assert_eq!(Action::Trace.verdict(), Some(Verdict::Trace));
    }

    #[test]
    fn hex_keys_round_trip() {
        assert_eq!(hex(&[0, 255, 16]), "00ff10");
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("00FF10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("é0"), None);
        assert_eq!(unhex(""), Some(vec![]));
    }

    #[test]
    fn the_code_hash_covers_names_lengths_and_bytes() {
        let one = code_hash([("a", &[1u8, 2][..]), ("b", &[3u8][..])]);
        assert_eq!(one.len(), 64);
        assert_eq!(one, code_hash([("a", &[1u8, 2][..]), ("b", &[3u8][..])]));
        assert_ne!(one, code_hash([("a", &[1u8][..]), ("b", &[2u8, 3][..])]));
        assert_ne!(one, code_hash([("b", &[3u8][..]), ("a", &[1u8, 2][..])]));
        assert_ne!(one, code_hash([("a", &[1u8, 2][..]), ("b", &[4u8][..])]));
    }
}
