//! Loading an object with aya 0.14: the kernel-member check, map creation,
//! map contents (config, sets, the exe map seed) written before anything is
//! attached, and program loads, which double as the backend probe.
//!
//! Backend choice, per hook: try the hook's backends strongest first (the
//! order of `check::hooks`); a backend whose program the kernel refuses with
//! `EPERM` before the verifier runs (an empty verifier log: lockdown), or
//! whose attach target the kernel lacks, is unavailable and the next one is
//! tried; a verifier rejection is an error, never a fallback.
//!
//! Knows nothing of output formats or of attaching (see [`crate::attach`]).

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::{Duration, Instant};

use aya::maps::Map;
use aya::programs::{Program, ProgramError};
use aya::{Ebpf, EbpfLoader};
use polc::abi::{self, Config, Metadata, ProgramMeta};
use polc::check::hooks::{BackendKind, Hook, Signals};

use crate::object::PolicyObject;
use crate::probe::{BpfLsm, KernelTypes};

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "the running kernel lacks kernel struct member{} {} that the policy's programs read (checked against /sys/kernel/btf/vmlinux)",
        if .fields.len() == 1 { "" } else { "s" },
        .fields.join(", ")
    )]
    MissingKernelFields { fields: Vec<String> },
    #[error("the kernel refused the object's maps or BTF: {0}")]
    Open(String),
    #[error("the object has no map `{0}`")]
    MissingMap(String),
    #[error("the object has no program `{0}`")]
    MissingProgram(String),
    #[error("program `{symbol}` is in section `{section}`, which polrt cannot load")]
    UnknownSection { symbol: String, section: String },
    #[error("writing map `{map}`: {reason}")]
    MapWrite { map: String, reason: String },
    #[error("the kernel verifier rejected program `{symbol}` ({section}): {error}\n{log}")]
    Rejected {
        symbol: String,
        section: String,
        error: String,
        log: String,
    },
    #[error("loading program `{symbol}` ({section}): {error}")]
    Load {
        symbol: String,
        section: String,
        error: String,
    },
    #[error("no backend of hook `{hook}` can run on this kernel: {reasons}")]
    NoBackend { hook: String, reasons: String },
    #[error("--require-lsm: {}", .hooks.iter().map(|(hook, backend, why)| format!("hook `{hook}` would fall back to {backend} ({why})")).collect::<Vec<_>>().join("; "))]
    RequireLsm {
        /// Hook, fallback backend, why LSM is unavailable.
        hooks: Vec<(String, String, String)>,
    },
}

/// Outcome of loading one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProgramLoad {
    /// In the kernel, after `duration` of `BPF_PROG_LOAD`.
    Loaded { duration: Duration },
    /// This kernel cannot load programs of this kind; why.
    Unavailable(String),
}

/// Checks the object's kernel members against the kernel's BTF, then parses
/// the object and creates its maps (no program is loaded yet). The ring
/// buffer gets `ringbuf_bytes` when given.
pub fn open(
    object: &PolicyObject,
    types: &KernelTypes,
    ringbuf_bytes: Option<u32>,
) -> Result<Ebpf, LoadError> {
    let missing = types.members.missing(&object.metadata.kernel_fields);
    if !missing.is_empty() {
        return Err(LoadError::MissingKernelFields {
            fields: missing.into_iter().map(str::to_string).collect(),
        });
    }
    let mut loader = EbpfLoader::new();
    loader.btf(Some(&types.aya));
    if let Some(bytes) = ringbuf_bytes {
        loader.map_max_entries(abi::MAP_EVENTS, bytes);
    }
    loader
        .load(&object.bytes)
        .map_err(|e| LoadError::Open(error_chain(&e)))
}

/// An error and its sources, on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

/// The file descriptor of map `name` of a loaded object.
pub fn map_fd(ebpf: &Ebpf, name: &str) -> Result<RawFd, LoadError> {
    let data = ebpf
        .map(name)
        .and_then(map_data)
        .ok_or_else(|| LoadError::MissingMap(name.to_string()))?;
    Ok(data.fd().as_fd().as_raw_fd())
}

/// The map behind `map`, for the kinds of maps polc objects have.
pub fn map_data(map: &Map) -> Option<&aya::maps::MapData> {
    match map {
        Map::Array(d)
        | Map::HashMap(d)
        | Map::LpmTrie(d)
        | Map::LruHashMap(d)
        | Map::PerCpuArray(d)
        | Map::RingBuf(d) => Some(d),
        _ => None,
    }
}

/// One `bpf(2)` call with an attribute of type `T`; the result, or the
/// error.
fn bpf_call<T>(command: libc::c_long, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, fully initialised `bpf_attr` prefix for
    // `command`, of the size passed; the kernel writes at most that many
    // bytes back into it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            command,
            attr as *mut T,
            std::mem::size_of::<T>(),
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// `BPF_MAP_CREATE` of a map of type `map_type` (an `enum bpf_map_type`),
/// named `name` (at most 15 bytes).
pub fn map_create(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
    name: &str,
) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    #[repr(C)]
    struct CreateAttr {
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        map_flags: u32,
        inner_map_fd: u32,
        numa_node: u32,
        map_name: [u8; 16],
    }
    let mut attr = CreateAttr {
        map_type,
        key_size,
        value_size,
        max_entries,
        map_flags: flags,
        inner_map_fd: 0,
        numa_node: 0,
        map_name: [0; 16],
    };
    let n = name.len().min(15);
    attr.map_name[..n].copy_from_slice(&name.as_bytes()[..n]);
    const BPF_MAP_CREATE: libc::c_long = 0;
    let fd = bpf_call(BPF_MAP_CREATE, &mut attr)?;
    // SAFETY: BPF_MAP_CREATE returned a new descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `BPF_OBJ_PIN`: pins the map, program or link `fd` at `path` on a bpffs.
pub fn obj_pin(fd: RawFd, path: &std::path::Path) -> std::io::Result<()> {
    const BPF_OBJ_PIN: libc::c_long = 6;
    obj_call(BPF_OBJ_PIN, path, fd).map(|_| ())
}

/// `BPF_OBJ_GET`: a new descriptor of the object pinned at `path`.
pub fn obj_get(path: &std::path::Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    const BPF_OBJ_GET: libc::c_long = 7;
    let fd = obj_call(BPF_OBJ_GET, path, 0)?;
    // SAFETY: BPF_OBJ_GET returned a new descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `BPF_OBJ_PIN` or `BPF_OBJ_GET` of `path` (and `fd`, for a pin).
fn obj_call(
    command: libc::c_long,
    path: &std::path::Path,
    fd: RawFd,
) -> std::io::Result<libc::c_long> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::other(format!("{} holds a NUL byte", path.display())))?;
    #[repr(C)]
    struct ObjAttr {
        pathname: u64,
        bpf_fd: u32,
        file_flags: u32,
    }
    let mut attr = ObjAttr {
        pathname: path.as_ptr() as u64,
        bpf_fd: fd as u32,
        file_flags: 0,
    };
    bpf_call(command, &mut attr)
}

/// `BPF_LINK_GET_FD_BY_ID`: a new descriptor of link `id`.
pub fn link_fd_by_id(id: u32) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    #[repr(C)]
    struct IdAttr {
        id: u32,
        next_id: u32,
        open_flags: u32,
    }
    let mut attr = IdAttr {
        id,
        next_id: 0,
        open_flags: 0,
    };
    const BPF_LINK_GET_FD_BY_ID: libc::c_long = 30;
    let fd = bpf_call(BPF_LINK_GET_FD_BY_ID, &mut attr)?;
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `BPF_LINK_UPDATE`: makes link `link_fd` run program `prog_fd`.
pub fn link_update(link_fd: RawFd, prog_fd: RawFd) -> std::io::Result<()> {
    #[repr(C)]
    struct UpdateAttr {
        link_fd: u32,
        new_prog_fd: u32,
        flags: u32,
        old_prog_fd: u32,
    }
    let mut attr = UpdateAttr {
        link_fd: link_fd as u32,
        new_prog_fd: prog_fd as u32,
        flags: 0,
        old_prog_fd: 0,
    };
    const BPF_LINK_UPDATE: libc::c_long = 29;
    bpf_call(BPF_LINK_UPDATE, &mut attr).map(|_| ())
}

/// What `BPF_OBJ_GET_INFO_BY_FD` says of a link: its id, its program's id,
/// and, for a cgroup link, its cgroup's id (0 once the link is detached).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LinkState {
    pub id: u32,
    pub prog_id: u32,
    pub link_type: u32,
    pub cgroup_id: u64,
}

/// `BPF_LINK_TYPE_CGROUP`.
pub const LINK_TYPE_CGROUP: u32 = 3;

/// [`LinkState`] of link `fd`.
pub fn link_state(fd: RawFd) -> std::io::Result<LinkState> {
    #[repr(C)]
    struct InfoAttr {
        bpf_fd: u32,
        info_len: u32,
        info: u64,
    }
    // struct bpf_link_info: type, id, prog_id, then a union aligned to 8
    // bytes (for a cgroup link: u64 cgroup_id, u32 attach_type).
    let mut info = [0u8; 64];
    let mut attr = InfoAttr {
        bpf_fd: fd as u32,
        info_len: info.len() as u32,
        info: info.as_mut_ptr() as u64,
    };
    const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
    bpf_call(BPF_OBJ_GET_INFO_BY_FD, &mut attr)?;
    let u32_at =
        |at: usize| u32::from_le_bytes([info[at], info[at + 1], info[at + 2], info[at + 3]]);
    let mut cgroup = [0u8; 8];
    cgroup.copy_from_slice(&info[16..24]);
    let link_type = u32_at(0);
    Ok(LinkState {
        link_type,
        id: u32_at(4),
        prog_id: u32_at(8),
        cgroup_id: if link_type == LINK_TYPE_CGROUP {
            u64::from_le_bytes(cgroup)
        } else {
            0
        },
    })
}

/// `BPF_MAP_LOOKUP_ELEM` with raw key and value bytes (their lengths must be
/// the map's key and value sizes).
pub fn map_lookup(fd: RawFd, key: &[u8], value: &mut [u8]) -> std::io::Result<()> {
    const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
    map_elem(BPF_MAP_LOOKUP_ELEM, fd, key, value.as_mut_ptr() as u64, 0)
}

/// `BPF_MAP_UPDATE_ELEM` flag: only insert, never overwrite.
pub const BPF_NOEXIST: u64 = 1;

/// `BPF_MAP_UPDATE_ELEM` with raw key and value bytes (their lengths must be
/// the map's key and value sizes; callers check against the metadata).
pub fn map_update(fd: RawFd, key: &[u8], value: &[u8], flags: u64) -> std::io::Result<()> {
    const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
    map_elem(BPF_MAP_UPDATE_ELEM, fd, key, value.as_ptr() as u64, flags)
}

/// A map element command: `key` and the buffer at `value` must hold the
/// map's key and value sizes (the kernel reads or writes exactly those).
fn map_elem(
    command: libc::c_long,
    fd: RawFd,
    key: &[u8],
    value: u64,
    flags: u64,
) -> std::io::Result<()> {
    #[repr(C)]
    struct ElemAttr {
        map_fd: u32,
        pad: u32,
        key: u64,
        value: u64,
        flags: u64,
    }
    let mut attr = ElemAttr {
        map_fd: fd as u32,
        pad: 0,
        key: key.as_ptr() as u64,
        value,
        flags,
    };
    bpf_call(command, &mut attr).map(|_| ())
}

fn map_meta<'m>(metadata: &'m Metadata, name: &str) -> Result<&'m abi::MapMeta, LoadError> {
    metadata
        .maps
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| LoadError::MissingMap(name.to_string()))
}

/// Writes the run-time configuration (scope, monitor flag) and freezes it.
/// Must run before any program is loaded: the verifier reads the frozen,
/// program-read-only value as constants and removes the code it turns off.
pub fn write_config(ebpf: &Ebpf, metadata: &Metadata, config: Config) -> Result<(), LoadError> {
    let meta = map_meta(metadata, abi::MAP_CONFIG)?;
    let value = config.to_bytes();
    if meta.value_size as usize != value.len() || meta.key_size != 4 {
        return Err(LoadError::MapWrite {
            map: abi::MAP_CONFIG.into(),
            reason: format!(
                "its value has {} bytes, the config {}",
                meta.value_size,
                value.len()
            ),
        });
    }
    let fd = map_fd(ebpf, abi::MAP_CONFIG)?;
    let bad = |reason: String| LoadError::MapWrite {
        map: abi::MAP_CONFIG.into(),
        reason,
    };
    map_update(fd, &0u32.to_le_bytes(), &value, 0).map_err(|e| bad(e.to_string()))?;
    map_freeze(fd).map_err(|e| bad(format!("freezing it: {e}")))
}

/// `BPF_MAP_FREEZE`: user space may no longer write the map either, which
/// (with `BPF_F_RDONLY_PROG`) lets the verifier treat its contents as
/// constants.
pub fn map_freeze(fd: RawFd) -> std::io::Result<()> {
    #[repr(C)]
    struct FreezeAttr {
        map_fd: u32,
    }
    const BPF_MAP_FREEZE: libc::c_long = 22;
    let attr = FreezeAttr { map_fd: fd as u32 };
    // SAFETY: `attr` is a valid, live `bpf_attr` prefix for BPF_MAP_FREEZE.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_FREEZE,
            &attr as *const FreezeAttr,
            std::mem::size_of::<FreezeAttr>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Writes the kernel features (`FEATURE_*` bits, from
/// [`crate::probe::kernel_features`]) into the features map, when the object
/// has one, and freezes it. Must run before any program is loaded: the
/// verifier reads the frozen value and skips the code it turns off.
pub fn write_features(ebpf: &Ebpf, metadata: &Metadata, features: u32) -> Result<(), LoadError> {
    let Some(meta) = metadata.maps.iter().find(|m| m.name == abi::MAP_FEATURES) else {
        return Ok(());
    };
    let bad = |reason: String| LoadError::MapWrite {
        map: abi::MAP_FEATURES.into(),
        reason,
    };
    if meta.key_size != 4 || meta.value_size != 4 {
        return Err(bad(format!(
            "its keys have {} bytes and its values {}; the features are a u32 at key 0",
            meta.key_size, meta.value_size
        )));
    }
    let fd = map_fd(ebpf, abi::MAP_FEATURES)?;
    map_update(fd, &0u32.to_le_bytes(), &features.to_le_bytes(), 0)
        .map_err(|e| bad(e.to_string()))?;
    map_freeze(fd).map_err(|e| bad(format!("freezing it: {e}")))
}

/// Decodes lower-case or upper-case hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Inserts every key of every set map (value `1`).
pub fn fill_sets(ebpf: &Ebpf, metadata: &Metadata) -> Result<usize, LoadError> {
    let mut inserted = 0;
    for set in &metadata.sets {
        let meta = map_meta(metadata, &set.map)?;
        let fd = map_fd(ebpf, &set.map)?;
        let bad = |reason: String| LoadError::MapWrite {
            map: set.map.clone(),
            reason,
        };
        if meta.value_size != 1 {
            return Err(bad(format!(
                "set values must be 1 byte, the map's are {}",
                meta.value_size
            )));
        }
        for key in &set.keys {
            let bytes = unhex(key).ok_or_else(|| bad(format!("key `{key}` is not hex")))?;
            if bytes.len() != meta.key_size as usize {
                return Err(bad(format!(
                    "key `{key}` has {} bytes, the map's keys {}",
                    bytes.len(),
                    meta.key_size
                )));
            }
            map_update(fd, &bytes, &[1u8], 0).map_err(|e| bad(e.to_string()))?;
            inserted += 1;
        }
    }
    Ok(inserted)
}

/// The value of an exe map entry: the path, NUL-padded (and truncated to
/// leave room for the NUL).
pub fn exe_value(path: &[u8]) -> [u8; abi::EXE_PATH_LEN] {
    let mut value = [0u8; abi::EXE_PATH_LEN];
    let n = path.len().min(abi::EXE_PATH_LEN - 1);
    value[..n].copy_from_slice(&path[..n]);
    value
}

/// Seeds the exe map (when the object has one) from `/proc/*/exe` for
/// processes that predate the policy; entries the exec tracker already
/// wrote are kept. Returns the number of entries inserted.
pub fn seed_exe(ebpf: &Ebpf, metadata: &Metadata) -> Result<usize, LoadError> {
    if !metadata.maps.iter().any(|m| m.name == abi::MAP_EXE) {
        return Ok(0);
    }
    use std::os::unix::ffi::OsStrExt;
    let fd = map_fd(ebpf, abi::MAP_EXE)?;
    let mut inserted = 0;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Ok(0);
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // Kernel threads have no exe, and processes may exit meanwhile.
        let Ok(path) = std::fs::read_link(entry.path().join("exe")) else {
            continue;
        };
        let value = exe_value(path.as_os_str().as_bytes());
        if map_update(fd, &pid.to_le_bytes(), &value, BPF_NOEXIST).is_ok() {
            inserted += 1;
        }
    }
    Ok(inserted)
}

/// The part of a section name after its kind prefix.
fn section_target<'s>(section: &'s str, prefix: &str) -> Option<&'s str> {
    section.strip_prefix(prefix)
}

/// The LSM hook of an `lsm/HOOK` or (sleepable) `lsm.s/HOOK` section.
pub fn lsm_hook(section: &str) -> Option<&str> {
    section_target(section, "lsm/").or_else(|| section_target(section, "lsm.s/"))
}

/// Loads one program into the kernel (the verifier runs here).
pub fn load_program(
    ebpf: &mut Ebpf,
    meta: &ProgramMeta,
    types: &KernelTypes,
) -> Result<ProgramLoad, LoadError> {
    let program = ebpf
        .program_mut(&meta.symbol)
        .ok_or_else(|| LoadError::MissingProgram(meta.symbol.clone()))?;
    let section = meta.section.as_str();
    let is_lsm = lsm_hook(section).is_some();
    let started = Instant::now();
    let result = match program {
        Program::Lsm(p) if is_lsm => p.load(lsm_hook(section).unwrap_or_default(), &types.aya),
        Program::BtfTracePoint(p) => {
            let target = section_target(section, "tp_btf/").unwrap_or_default();
            p.load(target, &types.aya)
        }
        Program::TracePoint(p) => p.load(),
        Program::CgroupSockAddr(p) => p.load(),
        _ => {
            return Err(LoadError::UnknownSection {
                symbol: meta.symbol.clone(),
                section: meta.section.clone(),
            })
        }
    };
    let duration = started.elapsed();
    match result {
        Ok(()) => Ok(ProgramLoad::Loaded { duration }),
        Err(error) => classify(meta, is_lsm, error),
    }
}

/// Why a kind of program is unavailable when the kernel refuses it with
/// `EPERM` and an empty verifier log; `{kind}` stands for the kind.
pub const LOCKDOWN_REFUSAL: &str =
    "the kernel refuses {kind} programs with EPERM before the verifier runs (kernel lockdown)";

/// Sorts a load failure into "this kernel cannot" and a real error.
fn classify(
    meta: &ProgramMeta,
    is_lsm: bool,
    error: ProgramError,
) -> Result<ProgramLoad, LoadError> {
    let kind = if is_lsm {
        "lsm"
    } else {
        meta.section.split('/').next().unwrap_or_default()
    }
    .to_string();
    match error {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            if io_error.raw_os_error() == Some(libc::EPERM) && log.trim().is_empty() {
                return Ok(ProgramLoad::Unavailable(
                    LOCKDOWN_REFUSAL.replace("{kind}", &kind),
                ));
            }
            Err(LoadError::Rejected {
                symbol: meta.symbol.clone(),
                section: meta.section.clone(),
                error: io_error.to_string(),
                log: trim_verifier_log(&log),
            })
        }
        ProgramError::Btf(error) if is_lsm || meta.section.starts_with("tp_btf/") => {
            Ok(ProgramLoad::Unavailable(format!(
                "the kernel has no attach target for {}: {error}",
                meta.section
            )))
        }
        other => Err(LoadError::Load {
            symbol: meta.symbol.clone(),
            section: meta.section.clone(),
            error: error_chain(&other),
        }),
    }
}

/// Lines of context kept above the failing instruction.
const LOG_CONTEXT: usize = 6;

/// Trims a verifier log to the failing instruction: the last instruction
/// line, the source line (`; ...` line info) and a few lines before it, and
/// everything after (the error and the statistics).
pub fn trim_verifier_log(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let is_insn = |line: &str| {
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && line[digits..].starts_with(": (")
    };
    let start = match lines.iter().rposition(|l| is_insn(l)) {
        Some(at) => {
            let source = lines[..at]
                .iter()
                .rposition(|l| l.starts_with("; "))
                .filter(|s| at - s <= LOG_CONTEXT);
            source.unwrap_or(at).saturating_sub(LOG_CONTEXT)
        }
        None => lines.len().saturating_sub(20),
    };
    let mut out = String::new();
    if start > 0 {
        out.push_str(&format!(
            "... ({start} earlier lines of the verifier log omitted)\n"
        ));
    }
    for line in &lines[start..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The backend chosen for one hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookPlan {
    pub hook: String,
    pub backend: String,
    /// `BackendSpec::deny_means` of the backend.
    pub deny_means: String,
    /// Its programs (loaded).
    pub programs: Vec<ProgramMeta>,
    /// Stronger backends that are unavailable here, and why.
    pub unavailable: Vec<(String, String)>,
    /// What the policy asks of this hook that the backend cannot do on this
    /// kernel (see [`limits`]).
    pub limits: Vec<String>,
}

/// Position of `backend` among `hook`'s backends in the hook table
/// (strongest first); unknown backends sort last.
fn strength(hook: &str, backend: &str) -> usize {
    Hook::from_name(hook)
        .and_then(|h| {
            h.spec()
                .backends
                .iter()
                .position(|b| b.kind.name() == backend)
        })
        .unwrap_or(usize::MAX)
}

/// `deny_means` of `backend` on `hook`.
pub fn deny_means(hook: &str, backend: &str) -> String {
    Hook::from_name(hook)
        .and_then(|h| h.spec().backends.iter().find(|b| b.kind.name() == backend))
        .map(|b| b.deny_means.to_string())
        .unwrap_or_else(|| "enforcement unknown to this polrt".to_string())
}

/// What `metadata`'s rules on `hook` ask that `backend` cannot do on a
/// kernel with `features` (`FEATURE_*` bits): today, `kill` where the
/// backend's programs may not send signals.
pub fn limits(metadata: &Metadata, hook: &str, backend: &str, features: u32) -> Vec<String> {
    let Some(spec) = Hook::from_name(hook)
        .and_then(|h| h.spec().backends.iter().find(|b| b.kind.name() == backend))
    else {
        return Vec::new();
    };
    let kills = metadata
        .rules
        .iter()
        .any(|rule| rule.hook == hook && rule.action == "kill");
    if kills && spec.signals == Signals::Probed && features & abi::FEATURE_CGROUP_SIGNAL == 0 {
        vec![format!(
            "this kernel does not let {backend} programs send signals (bpf_send_signal): \
             kill refuses and reports, but does not kill the task"
        )]
    } else {
        Vec::new()
    }
}

/// The object's backends for `hook`, strongest first.
pub fn backends_of(metadata: &Metadata, hook: &str) -> Vec<String> {
    let mut backends: Vec<String> = Vec::new();
    for program in metadata.programs.iter().filter(|p| p.hook == hook) {
        if !backends.contains(&program.backend) {
            backends.push(program.backend.clone());
        }
    }
    backends.sort_by_key(|b| strength(hook, b));
    backends
}

fn unload(ebpf: &mut Ebpf, symbol: &str) {
    if let Some(program) = ebpf.program_mut(symbol) {
        let _ = match program {
            Program::Lsm(p) => p.unload(),
            Program::BtfTracePoint(p) => p.unload(),
            Program::TracePoint(p) => p.unload(),
            Program::CgroupSockAddr(p) => p.unload(),
            _ => Ok(()),
        };
    }
}

/// Loads the support programs (no hook; the LSM guards only when `guards`)
/// and, per hook, the programs of the strongest backend this kernel can
/// load and will run: the `lsm` backend only where `lsm` says BPF LSM
/// programs run here.
pub fn choose_backends(
    ebpf: &mut Ebpf,
    metadata: &Metadata,
    types: &KernelTypes,
    features: u32,
    lsm: &BpfLsm,
    guards: bool,
) -> Result<(Vec<ProgramMeta>, Vec<HookPlan>), LoadError> {
    let mut support = Vec::new();
    let wanted = |p: &&ProgramMeta| p.hook.is_empty() && (guards || !crate::guard::is_lsm_guard(p));
    for program in metadata.programs.iter().filter(wanted) {
        match load_program(ebpf, program, types)? {
            ProgramLoad::Loaded { .. } => support.push(program.clone()),
            ProgramLoad::Unavailable(why) => {
                return Err(LoadError::Load {
                    symbol: program.symbol.clone(),
                    section: program.section.clone(),
                    error: why,
                })
            }
        }
    }
    let mut plans = Vec::new();
    for hook in &metadata.hooks {
        let mut unavailable: Vec<(String, String)> = Vec::new();
        let mut chosen = None;
        for backend in backends_of(metadata, &hook.name) {
            if let (true, Some(why)) = (backend == BackendKind::Lsm.name(), lsm.unavailable()) {
                unavailable.push((backend, why.to_string()));
                continue;
            }
            let programs: Vec<ProgramMeta> = metadata
                .programs
                .iter()
                .filter(|p| p.hook == hook.name && p.backend == backend)
                .cloned()
                .collect();
            let mut loaded: Vec<&str> = Vec::new();
            let mut why_not = None;
            for program in &programs {
                match load_program(ebpf, program, types) {
                    Ok(ProgramLoad::Loaded { .. }) => loaded.push(&program.symbol),
                    Ok(ProgramLoad::Unavailable(why)) => {
                        why_not = Some(why);
                        break;
                    }
                    Err(error) => {
                        for symbol in &loaded {
                            unload(ebpf, symbol);
                        }
                        return Err(error);
                    }
                }
            }
            match why_not {
                None => {
                    chosen = Some((backend, programs));
                    break;
                }
                Some(why) => {
                    for symbol in &loaded {
                        unload(ebpf, symbol);
                    }
                    unavailable.push((backend, why));
                }
            }
        }
        let Some((backend, programs)) = chosen else {
            return Err(LoadError::NoBackend {
                hook: hook.name.clone(),
                reasons: if unavailable.is_empty() {
                    "the object has no program for it".to_string()
                } else {
                    unavailable
                        .iter()
                        .map(|(b, why)| format!("{b}: {why}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                },
            });
        };
        plans.push(HookPlan {
            deny_means: deny_means(&hook.name, &backend),
            limits: limits(metadata, &hook.name, &backend, features),
            hook: hook.name.clone(),
            backend,
            programs,
            unavailable,
        });
    }
    Ok((support, plans))
}

/// With `--require-lsm`: every hook that has an LSM backend must have got it.
pub fn require_lsm(plans: &[HookPlan]) -> Result<(), LoadError> {
    let lsm = BackendKind::Lsm.name();
    let fallbacks: Vec<(String, String, String)> = plans
        .iter()
        .filter(|plan| plan.backend != lsm)
        .map(|plan| {
            let why = plan
                .unavailable
                .iter()
                .find(|(b, _)| b == lsm)
                .map(|(_, why)| why.clone())
                .unwrap_or_else(|| "the object has no lsm program for it".to_string());
            (plan.hook.clone(), plan.backend.clone(), why)
        })
        .collect();
    if fallbacks.is_empty() {
        Ok(())
    } else {
        Err(LoadError::RequireLsm { hooks: fallbacks })
    }
}

/// Outcome of verifying one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Accepted by the verifier.
    Passed {
        /// Instructions the verifier processed, when the kernel reports it.
        verified_insns: Option<u32>,
        load_time: Duration,
    },
    /// This host cannot load programs of this kind.
    NotVerifiable(String),
    /// Rejected: the error and the trimmed log.
    Rejected { error: String, log: String },
}

/// Loads every program of the object into the verifier, attaching nothing,
/// with the features map (if any) holding this kernel's `features`.
pub fn verify(
    object: &PolicyObject,
    types: &KernelTypes,
    features: u32,
    full_log: bool,
) -> Result<Vec<(ProgramMeta, Verification)>, LoadError> {
    let mut ebpf = open(object, types, None)?;
    write_features(&ebpf, &object.metadata, features)?;
    let mut results = Vec::new();
    for program in &object.metadata.programs {
        let outcome = match load_program(&mut ebpf, program, types) {
            Ok(ProgramLoad::Loaded { duration }) => {
                let verified_insns = ebpf
                    .program(&program.symbol)
                    .and_then(|p| p.info().ok())
                    .and_then(|info| info.verified_instruction_count());
                unload(&mut ebpf, &program.symbol);
                Verification::Passed {
                    verified_insns,
                    load_time: duration,
                }
            }
            Ok(ProgramLoad::Unavailable(why)) => Verification::NotVerifiable(why),
            Err(LoadError::Rejected { error, log, .. }) if !full_log => {
                Verification::Rejected { error, log }
            }
            Err(LoadError::Rejected { error, .. }) => {
                // Load again to keep the whole log.
                Verification::Rejected {
                    error,
                    log: full_verifier_log(&mut ebpf, program, types),
                }
            }
            Err(other) => Verification::Rejected {
                error: other.to_string(),
                log: String::new(),
            },
        };
        results.push((program.clone(), outcome));
    }
    Ok(results)
}

fn full_verifier_log(ebpf: &mut Ebpf, meta: &ProgramMeta, types: &KernelTypes) -> String {
    let Some(program) = ebpf.program_mut(&meta.symbol) else {
        return String::new();
    };
    let result = match program {
        Program::Lsm(p) => p.load(lsm_hook(&meta.section).unwrap_or_default(), &types.aya),
        Program::BtfTracePoint(p) => p.load(
            section_target(&meta.section, "tp_btf/").unwrap_or_default(),
            &types.aya,
        ),
        Program::TracePoint(p) => p.load(),
        Program::CgroupSockAddr(p) => p.load(),
        _ => Ok(()),
    };
    match result {
        Err(ProgramError::LoadError { verifier_log, .. }) => verifier_log.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::tests::sample_metadata;

    #[test]
    fn verifier_logs_are_trimmed_to_the_failing_instruction() {
        let mut log = String::new();
        for i in 0..40 {
            log.push_str(&format!("{i}: (b7) r{} = 0\n", i % 5));
        }
        log.push_str("; when file.path == \"/etc/shadow\" @ policy.pol:3\n");
        log.push_str("40: (79) r1 = *(u64 *)(r7 +0)\n");
        log.push_str("R7 invalid mem access 'scalar'\n");
        log.push_str("processed 41 insns (limit 1000000)\n");
        let trimmed = trim_verifier_log(&log);
        assert!(trimmed.starts_with("... ("), "{trimmed}");
        assert!(trimmed.contains("policy.pol:3"), "{trimmed}");
        assert!(trimmed.contains("40: (79)"), "{trimmed}");
        assert!(trimmed.contains("invalid mem access"), "{trimmed}");
        assert!(trimmed.contains("processed 41 insns"), "{trimmed}");
        assert!(!trimmed.contains("\n0: (b7)"), "{trimmed}");
        assert!(trimmed.lines().count() < 15, "{trimmed}");
    }

    #[test]
    fn short_logs_are_kept_whole() {
        let log = "invalid func unknown#195896080\nprocessed 0 insns\n";
        assert_eq!(trim_verifier_log(log), log);
    }

    #[test]
    fn hex_keys_decode() {
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(""), Some(vec![]));
    }

    #[test]
    fn exe_values_are_nul_padded_and_truncated() {
        let value = exe_value(b"/usr/bin/true");
        assert_eq!(&value[..13], b"/usr/bin/true");
        assert!(value[13..].iter().all(|b| *b == 0));
        let long = vec![b'a'; 400];
        let value = exe_value(&long);
        assert_eq!(value[abi::EXE_PATH_LEN - 1], 0);
        assert_eq!(value[abi::EXE_PATH_LEN - 2], b'a');
    }

    #[test]
    fn backends_are_tried_strongest_first() {
        let mut metadata = sample_metadata();
        let mut lsm = metadata.programs[0].clone();
        lsm.symbol = "file_open_lsm".into();
        lsm.section = "lsm/file_open".into();
        lsm.backend = "lsm".into();
        metadata.programs.push(lsm);
        assert_eq!(
            backends_of(&metadata, "file.open"),
            vec!["lsm", "tracepoint"]
        );
        assert!(deny_means("file.open", "tracepoint").contains("SIGKILL"));
        assert!(deny_means("file.open", "lsm").contains("EPERM"));
    }

    #[test]
    fn kill_on_a_backend_that_cannot_signal_here_is_a_named_limit() {
        let mut metadata = sample_metadata();
        metadata.rules[0].hook = "net.connect".into();
        metadata.rules[0].action = "kill".into();
        let found = limits(&metadata, "net.connect", "cgroup", 0);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("does not kill the task"), "{found:?}");
        let all = abi::FEATURE_CGROUP_SIGNAL;
        assert!(limits(&metadata, "net.connect", "cgroup", all).is_empty());
        assert!(limits(&metadata, "net.connect", "lsm", 0).is_empty());
        metadata.rules[0].action = "deny".into();
        assert!(limits(&metadata, "net.connect", "cgroup", 0).is_empty());
    }

    #[test]
    fn require_lsm_names_each_fallback_and_why() {
        let plans = vec![
            HookPlan {
                hook: "exec".into(),
                backend: "tracepoint".into(),
                deny_means: String::new(),
                programs: vec![],
                unavailable: vec![("lsm".into(), "lockdown".into())],
                limits: vec![],
            },
            HookPlan {
                hook: "net.connect".into(),
                backend: "lsm".into(),
                deny_means: String::new(),
                programs: vec![],
                unavailable: vec![],
                limits: vec![],
            },
        ];
        let error = require_lsm(&plans).expect_err("exec falls back");
        let text = error.to_string();
        assert!(
            text.contains("`exec` would fall back to tracepoint (lockdown)"),
            "{text}"
        );
        assert!(!text.contains("net.connect"), "{text}");
        assert!(require_lsm(&plans[1..]).is_ok());
    }

    #[test]
    fn a_kernel_member_missing_from_the_running_kernel_is_named_before_loading() {
        let Ok(types) = crate::probe::kernel_btf() else {
            return; // no kernel BTF here: nothing to check against
        };
        let source = "trace t {\n    on exec\n    emit proc.ppid\n}\n";
        let mut object = crate::object::compile_source("t.pol", source, 4096).expect("builds");
        assert!(
            types
                .members
                .missing(&object.metadata.kernel_fields)
                .is_empty(),
            "{:?}",
            object.metadata.kernel_fields
        );
        object
            .metadata
            .kernel_fields
            .push("task_struct.no_such_member".into());
        let error = open(&object, &types, None).expect_err("member missing");
        assert!(
            matches!(&error, LoadError::MissingKernelFields { fields } if fields == &["task_struct.no_such_member"]),
            "{error}"
        );
        assert!(
            error.to_string().contains("task_struct.no_such_member"),
            "{error}"
        );
    }
}
