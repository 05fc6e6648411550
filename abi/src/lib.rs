//! polc-abi: the one contract between the compiler and the runtime: the metadata
//! section of an object, the event records programs write to the ring buffer,
//! and the layout of the maps the runtime reads or writes.
//!
//! The runtime decodes everything from an object's metadata alone (no source
//! at run time). Changing anything here that an older runtime would misread
//! means bumping [`ABI_VERSION`]; the runtime refuses objects of another
//! version with a clear error.
//!
//! Depends on `serde` only; knows nothing of ELF or of BPF instructions.

use serde::{Deserialize, Serialize};

/// Version of the object/event format. The runtime accepts exactly this one.
/// Version 4: the fields every event header carries ([`is_header_field`])
/// are decoded from the header only; their slots, when a test loaded them,
/// are not written at a match. Version 5: the runtime's exemption moved
/// from the frozen [`Config`] to [`MAP_RUNTIME`], and every object carries
/// the guard programs ([`GUARD_PROGRAM_PREFIX`]) and [`MAP_GUARDED`].
pub const ABI_VERSION: u32 = 5;

/// Whether `field` (a field name) is carried by every event header — pid,
/// tid, uid, gid, comm — and so never needs a slot in the record.
pub fn is_header_field(field: &str) -> bool {
    matches!(
        field,
        "proc.pid" | "proc.tid" | "proc.uid" | "proc.gid" | "proc.comm"
    )
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
/// LRU hash: tgid (u32) -> executable path (`[u8; EXE_PATH_LEN]`), for `proc.exe`.
pub const MAP_EXE: &str = "polc_exe";
/// Length of the values of [`MAP_EXE`].
pub const EXE_PATH_LEN: usize = 256;
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

/// Offsets of the [`Config`] fields, for code generation.
pub mod config {
    pub const SCOPE_CGROUP: i16 = 0;
    pub const SCOPE_LEVEL: i16 = 8;
    pub const FLAGS: i16 = 12;
}

/// Offsets in the value of [`MAP_RUNTIME`], for code generation.
pub mod runtime {
    /// The runtime's tgid (u32).
    pub const TGID: i16 = 0;
}

impl Config {
    /// The map value's bytes.
    pub fn to_bytes(self) -> [u8; CONFIG_LEN] {
        let mut out = [0u8; CONFIG_LEN];
        out[0..8].copy_from_slice(&self.scope_cgroup.to_le_bytes());
        out[8..12].copy_from_slice(&self.scope_level.to_le_bytes());
        out[12..16].copy_from_slice(&self.flags.to_le_bytes());
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
    pub comm: String,
}

/// Byte offsets of the header fields, for code generation.
pub mod header {
    pub const TIME_NS: i16 = 0;
    pub const RULE_ID: i16 = 8;
    pub const VERDICT: i16 = 12;
    pub const PROGRAM: i16 = 14;
    /// `bpf_get_current_pid_tgid()` stored as one u64: tid, then pid.
    pub const TID: i16 = 16;
    pub const PID: i16 = 20;
    pub const UID: i16 = 24;
    pub const GID: i16 = 28;
    pub const COMM: i16 = 32;
}

impl EventHeader {
    /// Decodes a header; `None` if `bytes` is shorter than [`EVENT_HEADER_LEN`].
    pub fn parse(bytes: &[u8]) -> Option<EventHeader> {
        if bytes.len() < EVENT_HEADER_LEN {
            return None;
        }
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let mut time = [0u8; 8];
        time.copy_from_slice(&bytes[0..8]);
        Some(EventHeader {
            time_ns: u64::from_le_bytes(time),
            rule_id: u32_at(8),
            verdict: bytes[12],
            program: u16::from_le_bytes([bytes[14], bytes[15]]),
            tid: u32_at(16),
            pid: u32_at(20),
            uid: u32_at(24),
            gid: u32_at(28),
            comm: c_string(&bytes[32..48]),
        })
    }
}

/// The bytes up to the first NUL (or all of them), lossily as UTF-8.
pub fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Everything the runtime knows about an object: the JSON in [`METADATA_SECTION`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Must equal [`ABI_VERSION`].
    pub abi_version: u32,
    /// `polc` version that wrote the object.
    pub compiler_version: String,
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
}

/// The keys of one set map (hash or LPM trie); every value is one byte `1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetMeta {
    /// Name of the map.
    pub map: String,
    /// Every key, hex-encoded, each exactly the map's key size.
    pub keys: Vec<String>,
}

/// One rule or trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMeta {
    pub id: u32,
    pub name: String,
    /// `rule` or `trace`.
    pub kind: String,
    /// Hook name (`exec`, `file.open`, ...).
    pub hook: String,
    /// `allow`, `audit`, `deny`, `kill` or `trace`.
    pub action: String,
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
}

impl FieldEncoding {
    /// Bytes the field takes in a record.
    pub fn size(self) -> u32 {
        match self {
            FieldEncoding::Int | FieldEncoding::Bool => 8,
            FieldEncoding::Str { len } => len,
            FieldEncoding::Ip => 24,
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
    /// Backend name (`lsm`, `cgroup`, `tp_btf`, `tracepoint`).
    pub backend: String,
    /// Instructions (8-byte slots).
    pub insns: u32,
    /// Worst-case number of instructions executed by one run.
    pub max_path: u32,
    /// Stack bytes used.
    pub stack: u32,
}

/// One map of the object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapMeta {
    pub name: String,
    /// `ringbuf`, `percpu_array`, `array`, `hash`, `lpm_trie`, `lru_hash`.
    pub kind: String,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// What it holds, for `polrt inspect` (e.g. `list shells (12 entries)`).
    pub purpose: String,
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
        assert_eq!(header.comm, "bash");
        assert_eq!(EventHeader::parse(&bytes[..47]), None);
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
}
