//! The object writer: turns assembled programs, map definitions and metadata
//! into one ELF64 little-endian `EM_BPF` object that aya 0.14 and libbpf
//! (bpftool) both load. Owns everything about ELF, `.BTF` and `.BTF.ext`; no
//! other module knows either format.
//!
//! Input is plain data ([`ObjectImage`]); output is bytes. Never touches the
//! kernel or the file system.

use crate::bpf::asm::Assembled;

/// Everything that goes into one object.
#[derive(Clone, Debug, Default)]
pub struct ObjectImage {
    /// Programs, in the order they are written.
    pub programs: Vec<ProgramImage>,
    /// Maps; `bpf::asm::MapId(i)` refers to `maps[i]`.
    pub maps: Vec<MapDef>,
    /// Bytes of the `.polc.meta` section (JSON `abi::Metadata`).
    pub metadata: Vec<u8>,
    /// File name of the policy, for BTF line info.
    pub source_name: String,
    /// Source text of the policy, for BTF line info (line text of each record).
    pub source: String,
}

/// One program.
#[derive(Clone, Debug)]
pub struct ProgramImage {
    /// ELF section name, libbpf style (`lsm/file_open`, `cgroup/connect4`, ...).
    pub section: String,
    /// Function symbol name; unique in the object.
    pub symbol: String,
    /// The code, with its map and CO-RE relocations and line info.
    pub code: Assembled,
}

/// One BTF-defined map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    /// Map name (at most 15 bytes: the kernel's limit).
    pub name: String,
    pub kind: MapKind,
    /// Key size in bytes (0 for a ring buffer).
    pub key_size: u32,
    /// Value size in bytes (0 for a ring buffer).
    pub value_size: u32,
    /// Entries; for a ring buffer, its size in bytes (a power of two multiple of the page size).
    pub max_entries: u32,
    /// `map_flags` (e.g. `BPF_F_NO_PREALLOC` for an LPM trie).
    pub flags: u32,
}

/// Map types used by polc objects (values are `enum bpf_map_type`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MapKind {
    Hash = 1,
    Array = 2,
    PercpuArray = 6,
    LruHash = 9,
    LpmTrie = 11,
    Ringbuf = 27,
}

/// `BPF_F_NO_PREALLOC`, required for LPM tries.
pub const BPF_F_NO_PREALLOC: u32 = 1;
