//! Loading an object with aya 0.14: the kernel-member check, map creation,
//! map contents (config, sets, the exe map seed) written before anything is
//! attached, and program loads, which double as the backend probe.
//!
//! Backend choice, per hook: try the hook's backends strongest first (the
//! order the object's metadata lists them in, [`abi::HookMeta::backends`]:
//! polrt never reads the compiler's hook table); a backend whose program the kernel refuses with
//! `EPERM` before the verifier runs (an empty verifier log: lockdown), or
//! whose attach target the kernel lacks, is unavailable and the next one is
//! tried; a verifier rejection is an error, never a fallback.
//!
//! Knows nothing of output formats or of attaching (see [`crate::attach`]).

use std::os::fd::{AsFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use aya::maps::Map;
use aya::programs::{Program, ProgramError};
use aya::Ebpf;
use polc_abi::{
    self as abi, Action, BackendKind, BackendMeta, Config, Deny, Metadata, ProgramMeta,
    ProgramRole, Signals,
};

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
    #[error("the kernel verifier rejected program `{symbol}` ({section}){at}: {error}\n{log}")]
    Rejected {
        symbol: String,
        section: String,
        /// What went wrong: a named limit where the log shows one
        /// ([`polc_sys::verifier::explain`]).
        error: String,
        /// Where, when the log's line info says: ` at rule `r` (p.pol:3)`,
        /// or ` at p.pol:3`; empty otherwise.
        at: String,
        /// The log trimmed to the failing instruction.
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
    #[error("{0}: nothing was loaded")]
    UnknownAccounts(String),
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
    /// This kernel has no attach target for the program (an LSM hook or a
    /// tracepoint it does not have); why.
    NoTarget(String),
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
    // aya parses and relocates the object again, against the kernel's BTF
    // this time: under the guard, as when the object was read.
    crate::panics::catch(|| types.load_object(&object.bytes, ringbuf_bytes))
        .map_err(|panic| LoadError::Open(format!("aya panicked: {panic}")))?
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
pub fn map_fd<'e>(ebpf: &'e Ebpf, name: &str) -> Result<BorrowedFd<'e>, LoadError> {
    let data = ebpf
        .map(name)
        .and_then(map_data)
        .ok_or_else(|| LoadError::MissingMap(name.to_string()))?;
    Ok(data.fd().as_fd())
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

/// Map `name` of a loaded object, described by the kernel: every key and
/// value written through it is checked against the kernel's map, not
/// against what the metadata says of it.
pub fn map<'e>(ebpf: &'e Ebpf, name: &str) -> Result<polc_sys::Map<'e>, LoadError> {
    polc_sys::Map::new(map_fd(ebpf, name)?).map_err(|e| LoadError::MapWrite {
        map: name.to_string(),
        reason: e.to_string(),
    })
}

/// A `polc-sys` error as an `io::Error` with the same errno, for callers
/// that tell `ENOENT` or `EPERM` apart.
fn io_error(error: polc_sys::Error) -> std::io::Error {
    match error.raw_os_error() {
        Some(errno) => std::io::Error::from_raw_os_error(errno),
        None => std::io::Error::other(error.to_string()),
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
    polc_sys::map_create(&polc_sys::MapSpec {
        map_type,
        key_size,
        value_size,
        max_entries,
        map_flags: flags,
        name,
    })
    .map_err(io_error)
}

/// `fd` borrowed for one call. The guards, the pins and the link watch
/// keep the descriptors of maps and links as the kernel numbers them (aya's
/// `MapData` and polrt's own link descriptors own them); each is open for
/// as long as its owner lives, which outlives every call made with it.
fn with_fd<R>(fd: RawFd, call: impl FnOnce(BorrowedFd<'_>) -> R) -> R {
    // SAFETY: `fd` is open for the duration of `call` (see above), and the
    // borrow does not outlive `call`.
    call(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// `BPF_OBJ_PIN`: pins the map, program or link `fd` at `path` on a bpffs.
pub fn obj_pin(fd: RawFd, path: &std::path::Path) -> std::io::Result<()> {
    with_fd(fd, |fd| polc_sys::obj_pin(fd, path)).map_err(io_error)
}

/// `BPF_OBJ_GET`: a new descriptor of the object pinned at `path`.
pub fn obj_get(path: &std::path::Path) -> std::io::Result<std::os::fd::OwnedFd> {
    polc_sys::obj_get(path).map_err(io_error)
}

/// `BPF_LINK_GET_FD_BY_ID`: a new descriptor of link `id`.
pub fn link_fd_by_id(id: u32) -> std::io::Result<std::os::fd::OwnedFd> {
    polc_sys::link_fd_by_id(id).map_err(io_error)
}

/// `BPF_LINK_UPDATE`: makes link `link` run program `prog`.
pub fn link_update(link: RawFd, prog: RawFd) -> std::io::Result<()> {
    with_fd(link, |link| {
        with_fd(prog, |prog| polc_sys::link_update(link, prog))
    })
    .map_err(io_error)
}

/// What the kernel says of a link (see [`polc_sys::LinkInfo`]).
pub type LinkState = polc_sys::LinkInfo;

/// `BPF_LINK_TYPE_CGROUP`.
pub const LINK_TYPE_CGROUP: u32 = polc_sys::LINK_TYPE_CGROUP;

/// [`LinkState`] of link `fd`.
pub fn link_state(fd: RawFd) -> std::io::Result<LinkState> {
    with_fd(fd, polc_sys::link_info).map_err(io_error)
}

/// `BPF_MAP_LOOKUP_ELEM`, key and value checked against the kernel's map.
pub fn map_lookup(fd: RawFd, key: &[u8], value: &mut [u8]) -> std::io::Result<()> {
    with_fd(fd, |fd| {
        polc_sys::Map::new(fd).and_then(|map| map.lookup(key, value))
    })
    .map_err(io_error)
}

/// `BPF_MAP_UPDATE_ELEM`, key and value checked against the kernel's map.
pub fn map_update(fd: RawFd, key: &[u8], value: &[u8], flags: u64) -> std::io::Result<()> {
    with_fd(fd, |fd| {
        polc_sys::Map::new(fd).and_then(|map| map.update(key, value, flags))
    })
    .map_err(io_error)
}

/// `BPF_MAP_FREEZE`.
pub fn map_freeze(fd: RawFd) -> std::io::Result<()> {
    with_fd(fd, |fd| polc_sys::Map::new(fd).and_then(|map| map.freeze())).map_err(io_error)
}

/// Whether the metadata lists map `name` (the object's maps were checked
/// against it when it was read).
fn has_map(metadata: &Metadata, name: &str) -> Result<(), LoadError> {
    if metadata.maps.iter().any(|m| m.name == name) {
        Ok(())
    } else {
        Err(LoadError::MissingMap(name.to_string()))
    }
}

/// Writes `value` at key 0 of the one-entry array `name` and freezes it.
fn write_frozen(ebpf: &Ebpf, name: &str, value: &[u8]) -> Result<(), LoadError> {
    let bad = |reason: String| LoadError::MapWrite {
        map: name.into(),
        reason,
    };
    let map = map(ebpf, name)?;
    map.update(&0u32.to_le_bytes(), value, 0)
        .map_err(|e| bad(e.to_string()))?;
    map.freeze().map_err(|e| bad(format!("freezing it: {e}")))
}

/// Writes the run-time configuration (scope, monitor flag) and freezes it.
/// Must run before any program is loaded: the verifier reads the frozen,
/// program-read-only value as constants and removes the code it turns off.
/// The events' wake-up level ([`abi::ring_wake_flags`]) is added from the
/// size of the object's ring buffer as created.
pub fn write_config(ebpf: &Ebpf, metadata: &Metadata, config: Config) -> Result<(), LoadError> {
    has_map(metadata, abi::MAP_CONFIG)?;
    let mut config = config;
    if let Some(info) = ebpf
        .map(abi::MAP_EVENTS)
        .and_then(map_data)
        .and_then(|data| data.info().ok())
    {
        config.flags |= abi::ring_wake_flags(info.max_entries());
    }
    write_frozen(ebpf, abi::MAP_CONFIG, &config.to_bytes())
}

/// Writes the kernel features (`FEATURE_*` bits, from
/// [`crate::probe::kernel_features`]) into the features map, when the object
/// has one, and freezes it. Must run before any program is loaded: the
/// verifier reads the frozen value and skips the code it turns off.
pub fn write_features(ebpf: &Ebpf, metadata: &Metadata, features: u32) -> Result<(), LoadError> {
    if has_map(metadata, abi::MAP_FEATURES).is_err() {
        return Ok(());
    }
    write_frozen(ebpf, abi::MAP_FEATURES, &features.to_le_bytes())
}

/// Writes the tables of the object's string automata ([`Metadata::automata`])
/// into the automata map, when the object has one, and freezes it: neither
/// programs nor user space can change a table once the policy runs. Must run
/// before any program is attached.
pub fn write_automata(ebpf: &Ebpf, metadata: &Metadata) -> Result<(), LoadError> {
    let Some(meta) = metadata.maps.iter().find(|m| m.name == abi::MAP_AUTOMATA) else {
        return Ok(());
    };
    let bad = |reason: String| LoadError::MapWrite {
        map: abi::MAP_AUTOMATA.into(),
        reason,
    };
    let value =
        abi::unhex(&metadata.automata).ok_or_else(|| bad("its tables are not hex".into()))?;
    if meta.key_size != 4 || meta.value_size as usize != value.len() {
        return Err(bad(format!(
            "its values have {} bytes, the tables {}",
            meta.value_size,
            value.len()
        )));
    }
    write_frozen(ebpf, abi::MAP_AUTOMATA, &value)
}

/// The ids of the user and group names the object compares with
/// ([`Metadata::accounts`]), from the node's databases as they are now; an
/// error naming every name they lack (nothing is loaded then).
pub fn resolve_accounts(
    metadata: &Metadata,
    files: &crate::run::AccountFiles,
) -> Result<Vec<u32>, LoadError> {
    if metadata.accounts.is_empty() {
        return Ok(Vec::new());
    }
    files
        .read()
        .and_then(|accounts| accounts.resolve(&metadata.accounts))
        .map_err(LoadError::UnknownAccounts)
}

/// Writes the ids of the object's user and group names into the accounts
/// map, when the object has one, and freezes it. Must run before any
/// program is loaded: the verifier reads the frozen value as constants.
pub fn write_accounts(ebpf: &Ebpf, metadata: &Metadata, ids: &[u32]) -> Result<(), LoadError> {
    let Some(meta) = metadata.maps.iter().find(|m| m.name == abi::MAP_ACCOUNTS) else {
        return Ok(());
    };
    if meta.value_size as usize != 4 * ids.len() || ids.len() != metadata.accounts.len() {
        return Err(LoadError::MapWrite {
            map: abi::MAP_ACCOUNTS.into(),
            reason: format!(
                "its values have {} bytes, for {} names",
                meta.value_size,
                metadata.accounts.len()
            ),
        });
    }
    let value: Vec<u8> = ids.iter().flat_map(|id| id.to_le_bytes()).collect();
    write_frozen(ebpf, abi::MAP_ACCOUNTS, &value)
}

/// Inserts every key of every set map (value `1`, or the set's own values).
pub fn fill_sets(ebpf: &Ebpf, metadata: &Metadata) -> Result<usize, LoadError> {
    let mut inserted = 0;
    for set in &metadata.sets {
        let map = map(ebpf, &set.map)?;
        let bad = |reason: String| LoadError::MapWrite {
            map: set.map.clone(),
            reason,
        };
        if !set.values.is_empty() && set.values.len() != set.keys.len() {
            return Err(bad(format!(
                "{} keys but {} values",
                set.keys.len(),
                set.values.len()
            )));
        }
        for (i, key) in set.keys.iter().enumerate() {
            let bytes = abi::unhex(key).ok_or_else(|| bad(format!("key `{key}` is not hex")))?;
            let value = match set.values.get(i) {
                Some(value) => {
                    abi::unhex(value).ok_or_else(|| bad(format!("value `{value}` is not hex")))?
                }
                None => vec![1u8],
            };
            map.update(&bytes, &value, 0)
                .map_err(|e| bad(format!("key `{key}`: {e}")))?;
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

/// Whether the program of `section` runs only where BPF LSM does: on an
/// LSM hook, or (a reporting program, [`abi::ProgramRole::Report`]) fentry
/// on a hook's `bpf_lsm_` function, which the kernel calls only then.
pub fn runs_with_bpf_lsm(section: &str) -> bool {
    lsm_hook(section).is_some() || section.starts_with("fentry/bpf_lsm_")
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
    if !matches!(
        program,
        Program::Lsm(_)
            | Program::FEntry(_)
            | Program::BtfTracePoint(_)
            | Program::TracePoint(_)
            | Program::CgroupSockAddr(_)
    ) || (matches!(program, Program::Lsm(_)) && !is_lsm)
    {
        return Err(LoadError::UnknownSection {
            symbol: meta.symbol.clone(),
            section: meta.section.clone(),
        });
    }
    let started = Instant::now();
    // aya reads the program's BTF func and line info here: under the guard.
    let result =
        crate::panics::catch(|| load_as_its_kind(program, section, types)).map_err(|panic| {
            LoadError::Load {
                symbol: meta.symbol.clone(),
                section: meta.section.clone(),
                error: format!("aya panicked: {panic}"),
            }
        })?;
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
            let rejection =
                polc_sys::verifier::explain(io_error.raw_os_error(), &io_error.to_string(), &log);
            Err(LoadError::Rejected {
                symbol: meta.symbol.clone(),
                section: meta.section.clone(),
                error: rejection.reason,
                at: rejection
                    .source
                    .map(|(file, line)| format!(" at {file}:{line}"))
                    .unwrap_or_default(),
                log: rejection.log,
            })
        }
        ProgramError::Btf(error)
            if is_lsm
                || meta.section.starts_with("tp_btf/")
                || meta.section.starts_with("fentry/") =>
        {
            Ok(ProgramLoad::NoTarget(format!(
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

/// Names the rule of a rejection's source line ([`Metadata::rule_at`]).
pub fn name_rule(error: LoadError, metadata: &Metadata, hook: &str) -> LoadError {
    let LoadError::Rejected {
        symbol,
        section,
        error,
        at,
        log,
    } = error
    else {
        return error;
    };
    let line = at
        .rsplit_once(':')
        .and_then(|(_, line)| line.parse::<u32>().ok());
    let rule = line.and_then(|line| metadata.rule_at(hook, line));
    let at = match rule {
        Some(rule) => format!(
            " at rule `{}` ({}:{})",
            rule.name,
            metadata.source_name,
            line.unwrap_or(rule.line)
        ),
        None => at,
    };
    LoadError::Rejected {
        symbol,
        section,
        error,
        at,
        log,
    }
}

/// The backend chosen for one hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookPlan {
    pub hook: String,
    pub backend: BackendKind,
    /// [`BackendMeta::deny_means`] of the backend.
    pub deny_means: String,
    /// Its programs (loaded).
    pub programs: Vec<ProgramMeta>,
    /// Stronger backends that are unavailable here, and why.
    pub unavailable: Vec<(BackendKind, String)>,
    /// What the policy asks of this hook that the backend cannot do on this
    /// kernel (see [`limits`]).
    pub limits: Vec<String>,
}

/// The object's backends for `hook`, strongest first (empty for a hook the
/// metadata does not describe).
pub fn backends_of<'m>(metadata: &'m Metadata, hook: &str) -> &'m [BackendMeta] {
    metadata
        .hooks
        .iter()
        .find(|h| h.name == hook)
        .map_or(&[], |h| h.backends.as_slice())
}

/// What `metadata`'s rules on `hook` ask that `backend` cannot do on a
/// kernel with `features` (`FEATURE_*` bits): a signal (`kill`, or `deny`
/// where the backend cannot refuse) from programs that may send one only
/// where a probed feature allows it.
pub fn limits(
    metadata: &Metadata,
    hook: &str,
    backend: &BackendMeta,
    features: u32,
) -> Vec<String> {
    let Signals::Probed(feature) = backend.signals else {
        return Vec::new();
    };
    if features & feature.bit() != 0 {
        return Vec::new();
    }
    let asks = |action: Action| {
        metadata
            .rules
            .iter()
            .any(|rule| rule.hook == hook && rule.action == action)
    };
    let name = backend.kind;
    let mut limits = Vec::new();
    if asks(Action::Kill) {
        limits.push(format!(
            "this kernel does not let {name} programs send signals (bpf_send_signal): \
             kill refuses and reports, but does not kill the task"
        ));
    }
    if asks(Action::Deny) && backend.deny == Deny::Kills {
        limits.push(format!(
            "this kernel does not let {name} programs send signals (bpf_send_signal): \
             deny reports, but neither refuses nor kills"
        ));
    }
    limits
}

fn unload(ebpf: &mut Ebpf, symbol: &str) {
    if let Some(program) = ebpf.program_mut(symbol) {
        let _ = match program {
            Program::Lsm(p) => p.unload(),
            Program::FEntry(p) => p.unload(),
            Program::BtfTracePoint(p) => p.unload(),
            Program::TracePoint(p) => p.unload(),
            Program::CgroupSockAddr(p) => p.unload(),
            _ => Ok(()),
        };
    }
}

/// Whether `program` runs: with `several` policies, an LSM program's
/// reporting and refusing programs run in its place (where the object has
/// them, see [`abi::ProgramRole`]); otherwise the whole program.
pub fn runs(metadata: &Metadata, program: &ProgramMeta, several: bool) -> bool {
    let split = |whole: &str| {
        several
            && metadata.programs.iter().any(|p| {
                p.role == ProgramRole::Report && p.symbol == ProgramRole::Report.symbol(whole)
            })
    };
    match program.role {
        ProgramRole::Whole => !split(&program.symbol),
        ProgramRole::Report | ProgramRole::Refuse => several,
    }
}

/// Loads the support programs (no hook; the LSM guards only when `guards`)
/// and, per hook, the programs of the strongest backend this kernel can
/// load and will run: the `lsm` backend only where `lsm` says BPF LSM
/// programs run here; with `several` policies, see [`runs`].
pub fn choose_backends(
    ebpf: &mut Ebpf,
    metadata: &Metadata,
    types: &KernelTypes,
    features: u32,
    lsm: &BpfLsm,
    guards: bool,
    several: bool,
) -> Result<(Vec<ProgramMeta>, Vec<HookPlan>), LoadError> {
    let mut support = Vec::new();
    let wanted = |p: &&ProgramMeta| p.hook.is_empty() && (guards || !crate::guard::is_lsm_guard(p));
    for program in metadata.programs.iter().filter(wanted) {
        match load_program(ebpf, program, types)? {
            ProgramLoad::Loaded { .. } => support.push(program.clone()),
            ProgramLoad::Unavailable(why) | ProgramLoad::NoTarget(why) => {
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
        let mut unavailable: Vec<(BackendKind, String)> = Vec::new();
        let mut chosen = None;
        for backend in &hook.backends {
            if let (BackendKind::Lsm, Some(why)) = (backend.kind, lsm.unavailable()) {
                unavailable.push((backend.kind, why.to_string()));
                continue;
            }
            let programs: Vec<ProgramMeta> = metadata
                .programs
                .iter()
                .filter(|p| p.hook == hook.name && p.backend == backend.kind)
                .filter(|p| runs(metadata, p, several))
                .cloned()
                .collect();
            let mut loaded: Vec<&str> = Vec::new();
            let mut absent: Vec<String> = Vec::new();
            let mut why_not = None;
            for program in &programs {
                match load_program(ebpf, program, types) {
                    Ok(ProgramLoad::Loaded { .. }) => loaded.push(&program.symbol),
                    Ok(ProgramLoad::NoTarget(why)) if program.absent_means.is_some() => {
                        let means = program.absent_means.as_deref().unwrap_or_default();
                        absent.push(format!("{} absent here ({why}): {means}", program.section));
                    }
                    Ok(ProgramLoad::Unavailable(why) | ProgramLoad::NoTarget(why)) => {
                        why_not = Some(why);
                        break;
                    }
                    Err(error) => {
                        for symbol in &loaded {
                            unload(ebpf, symbol);
                        }
                        return Err(name_rule(error, metadata, &hook.name));
                    }
                }
            }
            match why_not {
                None => {
                    let programs = programs
                        .iter()
                        .filter(|p| loaded.contains(&p.symbol.as_str()))
                        .cloned()
                        .collect::<Vec<_>>();
                    chosen = Some((backend, programs, absent));
                    break;
                }
                Some(why) => {
                    for symbol in &loaded {
                        unload(ebpf, symbol);
                    }
                    unavailable.push((backend.kind, why));
                }
            }
        }
        let Some((backend, programs, absent)) = chosen else {
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
        let mut limits = limits(metadata, &hook.name, backend, features);
        limits.extend(absent);
        plans.push(HookPlan {
            deny_means: backend.deny_means.clone(),
            limits,
            hook: hook.name.clone(),
            backend: backend.kind,
            programs,
            unavailable,
        });
    }
    Ok((support, plans))
}

/// With `--require-lsm`: every hook that has an LSM backend must have got it.
pub fn require_lsm(plans: &[HookPlan]) -> Result<(), LoadError> {
    let fallbacks: Vec<(String, String, String)> = plans
        .iter()
        .filter(|plan| plan.backend != BackendKind::Lsm)
        .map(|plan| {
            let why = plan
                .unavailable
                .iter()
                .find(|(b, _)| *b == BackendKind::Lsm)
                .map(|(_, why)| why.clone())
                .unwrap_or_else(|| "the object has no lsm program for it".to_string());
            (plan.hook.clone(), plan.backend.to_string(), why)
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
    /// This kernel has no attach target for a program its backend runs
    /// without here (the object says why nothing is missed).
    Absent(String),
    /// Rejected: why (a named limit where the log shows one, and where:
    /// the rule and `.pol` line) and the trimmed log.
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
    // The verifier's view of a loaded policy: its names' ids constants (of
    // no node in particular).
    write_accounts(
        &ebpf,
        &object.metadata,
        &vec![0; object.metadata.accounts.len()],
    )?;
    let mut results = Vec::new();
    for program in &object.metadata.programs {
        let loaded = load_program(&mut ebpf, program, types)
            .map_err(|e| name_rule(e, &object.metadata, &program.hook));
        let outcome = match loaded {
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
            Ok(ProgramLoad::NoTarget(why)) if program.absent_means.is_some() => {
                Verification::Absent(format!(
                    "{why}: {}",
                    program.absent_means.as_deref().unwrap_or_default()
                ))
            }
            Ok(ProgramLoad::Unavailable(why) | ProgramLoad::NoTarget(why)) => {
                Verification::NotVerifiable(why)
            }
            Err(LoadError::Rejected { error, at, log, .. }) if !full_log => {
                Verification::Rejected {
                    error: where_why(&at, error),
                    log,
                }
            }
            Err(LoadError::Rejected { error, at, .. }) => {
                // Load again to keep the whole log.
                Verification::Rejected {
                    error: where_why(&at, error),
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

/// A rejection's place, then its reason: `at rule `r` (p.pol:3): ...`.
fn where_why(at: &str, why: String) -> String {
    if at.is_empty() {
        why
    } else {
        format!("{}: {why}", at.trim_start())
    }
}

/// `load` of a program of a kind polrt loads (others: `Ok`, nothing done).
fn load_as_its_kind(
    program: &mut Program,
    section: &str,
    types: &KernelTypes,
) -> Result<(), ProgramError> {
    match program {
        Program::Lsm(p) => p.load(lsm_hook(section).unwrap_or_default(), types.aya),
        Program::FEntry(p) => p.load(
            section_target(section, "fentry/").unwrap_or_default(),
            types.aya,
        ),
        Program::BtfTracePoint(p) => p.load(
            section_target(section, "tp_btf/").unwrap_or_default(),
            types.aya,
        ),
        Program::TracePoint(p) => p.load(),
        Program::CgroupSockAddr(p) => p.load(),
        _ => Ok(()),
    }
}

fn full_verifier_log(ebpf: &mut Ebpf, meta: &ProgramMeta, types: &KernelTypes) -> String {
    let Some(program) = ebpf.program_mut(&meta.symbol) else {
        return String::new();
    };
    match crate::panics::catch(|| load_as_its_kind(program, &meta.section, types)) {
        Ok(Err(ProgramError::LoadError { verifier_log, .. })) => verifier_log.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metadata of `source`, compiled as `polc build` would.
    fn compiled(source: &str) -> Metadata {
        crate::object::compile_source("t.pol", source, 4096)
            .expect("builds")
            .metadata
    }

    #[test]
    fn several_policies_run_an_lsm_programs_reporting_and_refusing_programs_in_its_place() {
        let metadata =
            compiled("rule r {\n    on file.open\n    when file.path == \"/x\"\n    deny\n}\n");
        let running = |several: bool| -> Vec<(&str, &str)> {
            metadata
                .programs
                .iter()
                .filter(|p| p.hook == "file.open" && runs(&metadata, p, several))
                .map(|p| (p.symbol.as_str(), p.section.as_str()))
                .collect()
        };
        assert_eq!(
            running(false),
            [
                ("file_open_lsm", "lsm/file_open"),
                ("file_open_tp_btf", "tp_btf/sys_exit")
            ]
        );
        assert_eq!(
            running(true),
            [
                ("file_open_lsm_report", "fentry/bpf_lsm_file_open"),
                ("file_open_lsm_refuse", "lsm/file_open"),
                ("file_open_tp_btf", "tp_btf/sys_exit")
            ]
        );
        // Support programs have one role.
        let guard = metadata
            .programs
            .iter()
            .find(|p| p.symbol == "polc_guard_kill")
            .expect("a guard");
        assert!(runs(&metadata, guard, true) && runs(&metadata, guard, false));
    }

    #[test]
    fn backends_come_from_the_metadata_strongest_first() {
        let metadata =
            compiled("rule r {\n    on file.open\n    when file.path == \"/x\"\n    deny\n}\n");
        let backends = backends_of(&metadata, "file.open");
        let kinds: Vec<BackendKind> = backends.iter().map(|b| b.kind).collect();
        assert_eq!(kinds, vec![BackendKind::Lsm, BackendKind::TpBtf]);
        assert_eq!(backends[0].deny, Deny::Refuses);
        assert!(backends[0].deny_means.contains("EPERM"), "{backends:?}");
        assert_eq!(backends[1].deny, Deny::Kills);
        assert!(backends[1].deny_means.contains("SIGKILL"), "{backends:?}");
        assert!(backends_of(&metadata, "exec").is_empty());
    }

    #[test]
    fn kill_on_a_backend_that_cannot_signal_here_is_a_named_limit() {
        let source = |action: &str| {
            format!("rule r {{\n    on net.connect\n    when net.dport == 25\n    {action}\n}}\n")
        };
        let metadata = compiled(&source("kill"));
        let backend = |kind: BackendKind| {
            backends_of(&metadata, "net.connect")
                .iter()
                .find(|b| b.kind == kind)
                .cloned()
                .expect("the backend")
        };
        let cgroup = backend(BackendKind::Cgroup);
        assert_eq!(cgroup.signals, Signals::Probed(abi::Feature::CgroupSignal));
        let found = limits(&metadata, "net.connect", &cgroup, 0);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("does not kill the task"), "{found:?}");
        let all = abi::FEATURE_CGROUP_SIGNAL;
        assert!(limits(&metadata, "net.connect", &cgroup, all).is_empty());
        let lsm = backend(BackendKind::Lsm);
        assert!(limits(&metadata, "net.connect", &lsm, 0).is_empty());
        let denies = compiled(&source("deny"));
        assert!(limits(&denies, "net.connect", &cgroup, 0).is_empty());
    }

    #[test]
    fn require_lsm_names_each_fallback_and_why() {
        let plans = vec![
            HookPlan {
                hook: "exec".into(),
                backend: BackendKind::TpBtf,
                deny_means: String::new(),
                programs: vec![],
                unavailable: vec![(BackendKind::Lsm, "lockdown".into())],
                limits: vec![],
            },
            HookPlan {
                hook: "net.connect".into(),
                backend: BackendKind::Lsm,
                deny_means: String::new(),
                programs: vec![],
                unavailable: vec![],
                limits: vec![],
            },
        ];
        let error = require_lsm(&plans).expect_err("exec falls back");
        let text = error.to_string();
        assert!(
            text.contains("`exec` would fall back to tp_btf (lockdown)"),
            "{text}"
        );
        assert!(!text.contains("net.connect"), "{text}");
        assert!(require_lsm(&plans[1..]).is_ok());
    }

    #[test]
    fn a_kernel_member_missing_from_the_running_kernel_is_named_before_loading() {
        const TEST: &str =
            "a_kernel_member_missing_from_the_running_kernel_is_named_before_loading";
        let types = match crate::probe::kernel_btf() {
            Ok(types) => types,
            Err(error) => return polc_sys::test_gate::skip(TEST, &error.to_string()),
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

/// The command-line snapshots of the processes already running, when the
/// object keeps snapshots ([`abi::MAP_CMDLINES`]): each one's
/// `/proc/PID/cmdline` now, arguments joined with spaces, as the exec
/// program keeps them. Runs once the snapshot programs are attached, and
/// never replaces a snapshot they made meanwhile (`BPF_NOEXIST`). A process
/// that exits or is unreadable meanwhile is skipped.
pub fn fill_cmdlines(ebpf: &Ebpf, metadata: &Metadata) -> Result<usize, LoadError> {
    let Some(meta) = metadata.maps.iter().find(|m| m.name == abi::MAP_CMDLINES) else {
        return Ok(0);
    };
    let len = meta.value_size as usize;
    let map = map(ebpf, abi::MAP_CMDLINES)?;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Ok(0);
    };
    const BPF_NOEXIST: u64 = 1;
    let mut filled = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let value = joined_cmdline(&raw, len);
        if map.update(&pid.to_le_bytes(), &value, BPF_NOEXIST).is_ok() {
            filled += 1;
        }
    }
    Ok(filled)
}

/// A `/proc/PID/cmdline` as the exec program joins one: the NULs between
/// arguments made spaces, the last one dropped, cut to `len - 1` bytes and
/// NUL-padded to `len`.
pub fn joined_cmdline(raw: &[u8], len: usize) -> Vec<u8> {
    let body = raw.strip_suffix(&[0]).unwrap_or(raw);
    let mut value: Vec<u8> = body
        .iter()
        .take(len.saturating_sub(1))
        .map(|b| if *b == 0 { b' ' } else { *b })
        .collect();
    value.resize(len, 0);
    value
}

#[cfg(test)]
mod cmdline_tests {
    use super::joined_cmdline;

    #[test]
    fn proc_cmdlines_are_joined_as_the_exec_program_joins_them() {
        let value = joined_cmdline(b"sh\0-c\0echo a\0", 16);
        assert_eq!(&value[..12], b"sh -c echo a");
        assert!(value[12..].iter().all(|b| *b == 0));
        assert_eq!(value.len(), 16);
        // Cut to len - 1 bytes, the NUL kept.
        let long = joined_cmdline(b"abcdefghijklmnopqrstuvwxyz\0", 8);
        assert_eq!(long, b"abcdefg\0");
        // An empty last argument leaves a space; no arguments, nothing.
        assert_eq!(&joined_cmdline(b"a\0\0", 4)[..], b"a \0\0");
        assert_eq!(joined_cmdline(b"", 4), vec![0; 4]);
    }
}
