//! THE table of hooks, fields and enforcement backends.
//!
//! Everything the compiler knows about a hook or a field is one entry here: its
//! name, type, which hooks offer it, and, per backend attach point, where its
//! value comes from in the kernel. The checker reads names, types and
//! availability; lowering reads the attach points and [`FieldSource`]s; the
//! build driver copies each backend's kind, what `deny` does and means there
//! and whether its signals need a probe into the object's metadata
//! (`abi::BackendMeta`, strongest first), which is all the runtime reads: it
//! never links this table to decide backends. A new
//! hook or field is one entry in [`HOOKS`] or [`FIELDS`] (plus, for a new
//! kind of kernel access, one [`FieldSource`] variant and its lowering).
//!
//! This module is pure data: it depends on `std` and on the kernel facts of
//! [`crate::kernel`] (struct members, syscall numbers) only.

use std::fmt;

pub use crate::kernel::KernelMember;
use crate::kernel::{
    CREAT_FLAGS, FMODE_WRITE, LOADING_MODULE, NR_FINIT_MODULE, NR_INIT_MODULE, O_ACCMODE,
    READING_MODULE,
};

/// A hook a rule can be attached to with `on HOOK`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    /// A program is executed (`execve`/`execveat`).
    Exec,
    /// A file is opened.
    FileOpen,
    /// A socket connects to an IPv4 or IPv6 address.
    NetConnect,
    /// A socket is bound to a local IPv4 or IPv6 address and port.
    NetBind,
    /// A kernel module is loaded.
    ModuleLoad,
    /// The `bpf(2)` system call is used (tamper protection: who may load
    /// programs, read maps, detach links).
    Bpf,
}

impl Hook {
    /// Every hook, in a stable order (the order programs are emitted in).
    pub const ALL: [Hook; 6] = [
        Hook::Exec,
        Hook::FileOpen,
        Hook::NetConnect,
        Hook::NetBind,
        Hook::ModuleLoad,
        Hook::Bpf,
    ];

    /// The hook's spec entry.
    pub fn spec(self) -> &'static HookSpec {
        HOOKS
            .iter()
            .find(|spec| spec.hook == self)
            .expect("every Hook has a HookSpec entry")
    }

    /// The name written in policies (`exec`, `file.open`, ...).
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Looks a hook up by the name written in policies.
    pub fn from_name(name: &str) -> Option<Hook> {
        HOOKS
            .iter()
            .find(|spec| spec.name == name)
            .map(|spec| spec.hook)
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind of program that implements a hook, strongest first.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BackendKind {
    /// BPF LSM: the hook's return value refuses the operation with `EPERM`.
    Lsm,
    /// A cgroup program (`cgroup/connect4`, ...): refuses with `EPERM`, scoped to
    /// the cgroup it is attached to.
    Cgroup,
    /// A BTF-typed raw tracepoint: cannot refuse; `deny` sends `SIGKILL`.
    TpBtf,
    /// A classic tracepoint: cannot refuse; `deny` sends `SIGKILL`.
    Tracepoint,
}

impl BackendKind {
    /// Short name used in output, metadata and section names.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Lsm => "lsm",
            BackendKind::Cgroup => "cgroup",
            BackendKind::TpBtf => "tp_btf",
            BackendKind::Tracepoint => "tracepoint",
        }
    }

    /// Whether `deny` refuses the operation itself (as opposed to killing the
    /// task after the operation started).
    pub fn refuses(self) -> bool {
        matches!(self, BackendKind::Lsm | BackendKind::Cgroup)
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a program of a backend reports "allow" and "refuse" to the kernel.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ReturnConvention {
    /// LSM: 0 allows, `-EPERM` refuses.
    Lsm,
    /// cgroup sock_addr: 1 allows, 0 refuses (the caller sees `EPERM`).
    CgroupSockAddr,
    /// Tracing programs: the return value is ignored (always 0).
    Ignored,
}

/// A condition an attach point checks before evaluating any rule: events
/// that fail it are not this hook's (e.g. `kernel_read_file` for firmware).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Every event is the hook's.
    None,
    /// The 64-bit context argument `arg` must equal `value`.
    ArgEquals { arg: u8, value: u64 },
    /// The 64-bit context argument `arg` must equal one of `values` (at most 2).
    ArgIn { arg: u8, values: [u64; 2] },
    /// The `sa_family` of the `struct sockaddr *` in context argument `arg`
    /// must be `AF_INET` or `AF_INET6`.
    InetSockaddr { arg: u8 },
}

/// One program: where it attaches and how it reads its context.
#[derive(Copy, Clone, Debug)]
pub struct AttachPoint {
    /// ELF section name in libbpf's convention, e.g. `lsm/file_open`.
    pub section: &'static str,
    /// Symbol name of the program (unique in an object, a C identifier).
    pub symbol: &'static str,
    /// The events this program sees that belong to the hook.
    pub guard: Guard,
    /// Per hook field, where its value comes from in this program.
    pub sources: &'static [(&'static str, FieldSource)],
}

/// Whether a backend's programs may send signals (`bpf_send_signal`, how
/// `kill`, and `deny` on backends that cannot refuse, kill the task).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Signals {
    /// On every kernel that loads the program type (tracing and LSM
    /// programs).
    Always,
    /// Only on kernels that let the program type call `bpf_send_signal`
    /// (cgroup programs: Linux 6.18 does, 6.12 and 6.1 refuse the program).
    /// The runtime probes the kernel and tells the programs through the
    /// read-only features map; the verifier then drops the call where it is
    /// not allowed, and `kill` refuses and reports without killing.
    Probed,
}

/// One way of implementing a hook.
#[derive(Copy, Clone, Debug)]
pub struct BackendSpec {
    pub kind: BackendKind,
    pub ret: ReturnConvention,
    /// Whether its programs can send `SIGKILL`.
    pub signals: Signals,
    /// What `deny` means with this backend, for humans (copied into the
    /// metadata; printed by the runtime at start-up and by `polrt inspect`).
    pub deny_means: &'static str,
    /// Every program needed to cover the hook with this backend.
    pub attach: &'static [AttachPoint],
}

/// A hook's spec: its name and its backends, strongest first.
#[derive(Copy, Clone, Debug)]
pub struct HookSpec {
    pub hook: Hook,
    pub name: &'static str,
    pub doc: &'static str,
    pub backends: &'static [BackendSpec],
}

/// The type of a field's value.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// An unsigned integer of `bits` bits (16, 32 or 64).
    Int { bits: u8 },
    /// A string of at most `max - 1` bytes (the kernel buffer holds `max`
    /// bytes including the terminating NUL); longer values are truncated.
    Str { max: u16 },
    /// An IPv4 or IPv6 address.
    Ip,
    /// A boolean.
    Bool,
}

impl FieldType {
    /// The name used in diagnostics and docs (`int`, `str`, `ip`, `bool`).
    pub fn kind_name(self) -> &'static str {
        match self {
            FieldType::Int { .. } => "int",
            FieldType::Str { .. } => "str",
            FieldType::Ip => "ip",
            FieldType::Bool => "bool",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldType::Int { bits } => write!(f, "int (u{bits})"),
            FieldType::Str { max } => write!(f, "str (at most {} bytes)", max - 1),
            FieldType::Ip => f.write_str("ip"),
            FieldType::Bool => f.write_str("bool"),
        }
    }
}

/// Which hooks offer a field.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FieldScope {
    /// Every hook (the `proc.*` fields).
    Common,
    /// Only this hook.
    Hook(Hook),
    /// These hooks.
    Hooks(&'static [Hook]),
}

impl FieldScope {
    /// Whether rules on `hook` can use a field of this scope.
    pub fn includes(self, hook: Hook) -> bool {
        match self {
            FieldScope::Common => true,
            FieldScope::Hook(h) => h == hook,
            FieldScope::Hooks(hooks) => hooks.contains(&hook),
        }
    }

    /// The hooks of a hook-specific scope (empty for common fields).
    pub fn hooks(self) -> Vec<Hook> {
        match self {
            FieldScope::Common => Vec::new(),
            FieldScope::Hook(h) => vec![h],
            FieldScope::Hooks(hooks) => hooks.to_vec(),
        }
    }
}

/// Where a field's value comes from in one program.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FieldSource {
    /// `bpf_get_current_pid_tgid() >> 32`.
    Tgid,
    /// `bpf_get_current_pid_tgid() & 0xffffffff`.
    Tid,
    /// `bpf_get_current_uid_gid() & 0xffffffff`.
    Uid,
    /// `bpf_get_current_uid_gid() >> 32`.
    Gid,
    /// `bpf_get_current_comm()`.
    Comm,
    /// `bpf_get_current_cgroup_id()`.
    CgroupId,
    /// An integer read by walking BTF pointers from `bpf_get_current_task_btf()`;
    /// every member but the last is a pointer.
    TaskInt(&'static [KernelMember]),
    /// A char array at the end of a BTF pointer walk from the current task.
    TaskStr(&'static [KernelMember]),
    /// The executable path recorded at exec time in the process map (seeded
    /// from `/proc` by the runtime for processes that predate it).
    ExePath,
    /// A NUL-terminated kernel string pointed to by the member at the end of a
    /// BTF walk from context argument `arg`.
    ArgKernelStr {
        arg: u8,
        path: &'static [KernelMember],
    },
    /// An integer member at the end of a BTF walk from context argument `arg`,
    /// masked with `mask` (all ones for the plain value); a `Bool` field is
    /// true when the masked value is non-zero.
    ArgInt {
        arg: u8,
        path: &'static [KernelMember],
        mask: u64,
    },
    /// `bpf_d_path()` of the `struct path` at the end of a BTF walk from
    /// context argument `arg` (LSM programs only).
    ArgDPath {
        arg: u8,
        path: &'static [KernelMember],
    },
    /// `sa_family` of the `struct sockaddr *` in context argument `arg`.
    SockaddrFamily { arg: u8 },
    /// Address of the `struct sockaddr_in`/`sockaddr_in6 *` in context argument `arg`.
    SockaddrAddr { arg: u8 },
    /// Port (host byte order) of the `struct sockaddr_in`/`_in6 *` in context argument `arg`.
    SockaddrPort { arg: u8 },
    /// A syscall tracepoint argument (`args[idx]` of `struct trace_event_raw_sys_enter`),
    /// masked with `mask`; a `Bool` field is true when the masked value is non-zero.
    SyscallArg { idx: u8, mask: u64 },
    /// A user-space string whose pointer is syscall tracepoint argument `args[idx]`.
    SyscallUserStr { idx: u8 },
    /// The first 64-bit word of the user-space struct whose pointer is
    /// syscall tracepoint argument `args[idx]` (e.g. `open_how.flags`),
    /// masked with `mask`; zero when it cannot be read. A `Bool` field is
    /// true when the masked value is non-zero.
    SyscallUserU64 { idx: u8, mask: u64 },
    /// `struct bpf_sock_addr.user_ip4` (cgroup/connect4).
    SockAddrCtxIp4,
    /// `struct bpf_sock_addr.user_ip6` (cgroup/connect6).
    SockAddrCtxIp6,
    /// `struct bpf_sock_addr.user_port`, converted to host byte order.
    SockAddrCtxPort,
    /// A constant integer (e.g. the family of a `connect4` program).
    ConstInt(u64),
    /// The empty string: the value is not known to this program.
    EmptyStr,
}

/// A field a condition, message or `emit` can name.
#[derive(Copy, Clone, Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: FieldType,
    pub scope: FieldScope,
    pub doc: &'static str,
    /// For `Common` fields: where the value comes from in every program
    /// (hook fields list theirs per attach point).
    pub common_source: Option<FieldSource>,
}

/// Index of a field in [`FIELDS`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub u16);

impl FieldId {
    /// The field's spec entry.
    pub fn spec(self) -> &'static FieldSpec {
        &FIELDS[usize::from(self.0)]
    }

    /// Looks a field up by its dotted name.
    pub fn from_name(name: &str) -> Option<FieldId> {
        FIELDS
            .iter()
            .position(|f| f.name == name)
            .map(|i| FieldId(i as u16))
    }

    /// Every field, in table order.
    pub fn all() -> impl Iterator<Item = FieldId> {
        (0..FIELDS.len()).map(|i| FieldId(i as u16))
    }

    /// Whether rules on `hook` can use this field.
    pub fn available_on(self, hook: Hook) -> bool {
        self.spec().scope.includes(hook)
    }

    /// Where this field's value comes from in `attach`'s program.
    pub fn source(self, attach: &AttachPoint) -> Option<FieldSource> {
        let spec = self.spec();
        spec.common_source.or_else(|| {
            attach
                .sources
                .iter()
                .find(|(name, _)| *name == spec.name)
                .map(|(_, source)| *source)
        })
    }
}

/// Maximum length, including the NUL, of path-like string fields.
pub const PATH_MAX_LEN: u16 = 256;
/// Length, including the NUL, of `comm` strings (`TASK_COMM_LEN`).
pub const COMM_LEN: u16 = 16;

/// `AF_INET`.
pub const AF_INET: u64 = 2;
/// `AF_INET6`.
pub const AF_INET6: u64 = 10;

const ALL_BITS: u64 = u64::MAX;

/// Every field.
pub static FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "proc.pid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "process id (the thread group id, what `ps` shows as PID)",
        common_source: Some(FieldSource::Tgid),
    },
    FieldSpec {
        name: "proc.tid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "thread id",
        common_source: Some(FieldSource::Tid),
    },
    FieldSpec {
        name: "proc.ppid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "process id of the parent (`task_struct.real_parent->tgid`)",
        common_source: Some(FieldSource::TaskInt(&[
            KernelMember::TaskRealParent,
            KernelMember::TaskTgid,
        ])),
    },
    FieldSpec {
        name: "proc.uid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "real user id",
        common_source: Some(FieldSource::Uid),
    },
    FieldSpec {
        name: "proc.gid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "real group id",
        common_source: Some(FieldSource::Gid),
    },
    FieldSpec {
        name: "proc.comm",
        ty: FieldType::Str { max: COMM_LEN },
        scope: FieldScope::Common,
        doc: "command name (at most 15 bytes, as in /proc/PID/comm)",
        common_source: Some(FieldSource::Comm),
    },
    FieldSpec {
        name: "proc.exe",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Common,
        doc: "path of the executable, as given to execve when the process started \
              (from /proc/PID/exe for processes older than the policy); empty if unknown",
        common_source: Some(FieldSource::ExePath),
    },
    FieldSpec {
        name: "proc.cgroup",
        ty: FieldType::Int { bits: 64 },
        scope: FieldScope::Common,
        doc: "cgroup v2 id of the task's cgroup (the inode number of its directory)",
        common_source: Some(FieldSource::CgroupId),
    },
    FieldSpec {
        name: "proc.parent.comm",
        ty: FieldType::Str { max: COMM_LEN },
        scope: FieldScope::Common,
        doc: "command name of the parent process",
        common_source: Some(FieldSource::TaskStr(&[
            KernelMember::TaskRealParent,
            KernelMember::TaskComm,
        ])),
    },
    FieldSpec {
        name: "exec.path",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Hook(Hook::Exec),
        doc: "path of the program being executed, as passed to execve",
        common_source: None,
    },
    FieldSpec {
        name: "file.path",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Hook(Hook::FileOpen),
        doc: "path of the file (absolute with the lsm backend; as passed to open with the tracepoint backend)",
        common_source: None,
    },
    FieldSpec {
        name: "file.flags",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::FileOpen),
        doc: "open flags (O_RDONLY, O_WRONLY, O_CREAT, ... as a number)",
        common_source: None,
    },
    FieldSpec {
        name: "file.write",
        ty: FieldType::Bool,
        scope: FieldScope::Hook(Hook::FileOpen),
        doc: "true when the file is opened for writing (O_WRONLY or O_RDWR)",
        common_source: None,
    },
    FieldSpec {
        name: "net.family",
        ty: FieldType::Int { bits: 16 },
        scope: FieldScope::Hooks(&[Hook::NetConnect, Hook::NetBind]),
        doc: "address family of the socket address: 2 (AF_INET) or 10 (AF_INET6)",
        common_source: None,
    },
    FieldSpec {
        name: "net.daddr",
        ty: FieldType::Ip,
        scope: FieldScope::Hook(Hook::NetConnect),
        doc: "destination address (IPv4 or IPv6; an IPv4-mapped IPv6 address, ::ffff:a.b.c.d, is the IPv4 address a.b.c.d)",
        common_source: None,
    },
    FieldSpec {
        name: "net.dport",
        ty: FieldType::Int { bits: 16 },
        scope: FieldScope::Hook(Hook::NetConnect),
        doc: "destination port",
        common_source: None,
    },
    FieldSpec {
        name: "net.saddr",
        ty: FieldType::Ip,
        scope: FieldScope::Hook(Hook::NetBind),
        doc: "local address being bound (0.0.0.0 or :: for every address; an IPv4-mapped IPv6 \
              address is the IPv4 address)",
        common_source: None,
    },
    FieldSpec {
        name: "net.sport",
        ty: FieldType::Int { bits: 16 },
        scope: FieldScope::Hook(Hook::NetBind),
        doc: "local port being bound (0: the kernel picks one)",
        common_source: None,
    },
    FieldSpec {
        name: "module.path",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Hook(Hook::ModuleLoad),
        doc: "path of the module file when the kernel reads it from a file (finit_module \
              with the lsm backend); empty otherwise",
        common_source: None,
    },
    FieldSpec {
        name: "bpf.cmd",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::Bpf),
        doc: "the bpf(2) command: 0 BPF_MAP_CREATE, 1 BPF_MAP_LOOKUP_ELEM, 5 BPF_PROG_LOAD, \
              28 BPF_LINK_CREATE, ... (include/uapi/linux/bpf.h)",
        common_source: None,
    },
];

const EXEC_LSM: &[(&str, FieldSource)] = &[(
    "exec.path",
    FieldSource::ArgKernelStr {
        arg: 0,
        path: &[KernelMember::BinprmFilename],
    },
)];
const EXECVE_TP: &[(&str, FieldSource)] = &[("exec.path", FieldSource::SyscallUserStr { idx: 0 })];
const EXECVEAT_TP: &[(&str, FieldSource)] =
    &[("exec.path", FieldSource::SyscallUserStr { idx: 1 })];
const FILE_OPEN_LSM: &[(&str, FieldSource)] = &[
    (
        "file.path",
        FieldSource::ArgDPath {
            arg: 0,
            path: &[KernelMember::FileFPath],
        },
    ),
    (
        "file.flags",
        FieldSource::ArgInt {
            arg: 0,
            path: &[KernelMember::FileFFlags],
            mask: ALL_BITS,
        },
    ),
    (
        "file.write",
        FieldSource::ArgInt {
            arg: 0,
            path: &[KernelMember::FileFMode],
            mask: FMODE_WRITE,
        },
    ),
];
const FILE_OPENAT_TP: &[(&str, FieldSource)] = &[
    ("file.path", FieldSource::SyscallUserStr { idx: 1 }),
    (
        "file.flags",
        FieldSource::SyscallArg {
            idx: 2,
            mask: ALL_BITS,
        },
    ),
    (
        "file.write",
        FieldSource::SyscallArg {
            idx: 2,
            mask: O_ACCMODE,
        },
    ),
];
const FILE_OPEN_TP: &[(&str, FieldSource)] = &[
    ("file.path", FieldSource::SyscallUserStr { idx: 0 }),
    (
        "file.flags",
        FieldSource::SyscallArg {
            idx: 1,
            mask: ALL_BITS,
        },
    ),
    (
        "file.write",
        FieldSource::SyscallArg {
            idx: 1,
            mask: O_ACCMODE,
        },
    ),
];
const FILE_OPENAT2_TP: &[(&str, FieldSource)] = &[
    ("file.path", FieldSource::SyscallUserStr { idx: 1 }),
    (
        "file.flags",
        FieldSource::SyscallUserU64 {
            idx: 2,
            mask: ALL_BITS,
        },
    ),
    (
        "file.write",
        FieldSource::SyscallUserU64 {
            idx: 2,
            mask: O_ACCMODE,
        },
    ),
];
const FILE_CREAT_TP: &[(&str, FieldSource)] = &[
    ("file.path", FieldSource::SyscallUserStr { idx: 0 }),
    ("file.flags", FieldSource::ConstInt(CREAT_FLAGS)),
    ("file.write", FieldSource::ConstInt(1)),
];
const NET_CONNECT_LSM: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::SockaddrFamily { arg: 1 }),
    ("net.daddr", FieldSource::SockaddrAddr { arg: 1 }),
    ("net.dport", FieldSource::SockaddrPort { arg: 1 }),
];
const NET_CONNECT4: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::ConstInt(AF_INET)),
    ("net.daddr", FieldSource::SockAddrCtxIp4),
    ("net.dport", FieldSource::SockAddrCtxPort),
];
const NET_CONNECT6: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::ConstInt(AF_INET6)),
    ("net.daddr", FieldSource::SockAddrCtxIp6),
    ("net.dport", FieldSource::SockAddrCtxPort),
];
const NET_BIND_LSM: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::SockaddrFamily { arg: 1 }),
    ("net.saddr", FieldSource::SockaddrAddr { arg: 1 }),
    ("net.sport", FieldSource::SockaddrPort { arg: 1 }),
];
const NET_BIND4: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::ConstInt(AF_INET)),
    ("net.saddr", FieldSource::SockAddrCtxIp4),
    ("net.sport", FieldSource::SockAddrCtxPort),
];
const NET_BIND6: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::ConstInt(AF_INET6)),
    ("net.saddr", FieldSource::SockAddrCtxIp6),
    ("net.sport", FieldSource::SockAddrCtxPort),
];
const MODULE_READ_FILE_LSM: &[(&str, FieldSource)] = &[(
    "module.path",
    FieldSource::ArgDPath {
        arg: 0,
        path: &[KernelMember::FileFPath],
    },
)];
const MODULE_NO_PATH: &[(&str, FieldSource)] = &[("module.path", FieldSource::EmptyStr)];

const BPF_LSM: &[(&str, FieldSource)] = &[(
    "bpf.cmd",
    FieldSource::ArgInt {
        arg: 0,
        path: &[],
        mask: ALL_BITS,
    },
)];
const BPF_TP: &[(&str, FieldSource)] = &[(
    "bpf.cmd",
    FieldSource::SyscallArg {
        idx: 0,
        mask: ALL_BITS,
    },
)];

/// Every hook, with its backends strongest first.
pub static HOOKS: &[HookSpec] = &[
    HookSpec {
        hook: Hook::Exec,
        name: "exec",
        doc: "a program is executed (execve, execveat)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: execve fails with EPERM",
                attach: &[AttachPoint {
                    section: "lsm/bprm_check_security",
                    symbol: "exec_lsm",
                    guard: Guard::None,
                    sources: EXEC_LSM,
                }],
            },
            BackendSpec {
                kind: BackendKind::Tracepoint,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL at execve entry: the new program \
                             never runs an instruction (paths as passed, possibly relative)",
                attach: &[
                    AttachPoint {
                        section: "tracepoint/syscalls/sys_enter_execve",
                        symbol: "exec_tp_execve",
                        guard: Guard::None,
                        sources: EXECVE_TP,
                    },
                    AttachPoint {
                        section: "tracepoint/syscalls/sys_enter_execveat",
                        symbol: "exec_tp_execveat",
                        guard: Guard::None,
                        sources: EXECVEAT_TP,
                    },
                ],
            },
        ],
    },
    HookSpec {
        hook: Hook::FileOpen,
        name: "file.open",
        doc: "a file is opened",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: open fails with EPERM",
                attach: &[AttachPoint {
                    section: "lsm/file_open",
                    symbol: "file_open_lsm",
                    guard: Guard::None,
                    sources: FILE_OPEN_LSM,
                }],
            },
            BackendSpec {
                kind: BackendKind::Tracepoint,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL after the syscall starts \
                             (open, openat, openat2 and creat; paths as passed, possibly relative)",
                attach: &[
                    AttachPoint {
                        section: "tracepoint/syscalls/sys_enter_openat",
                        symbol: "file_open_tp_openat",
                        guard: Guard::None,
                        sources: FILE_OPENAT_TP,
                    },
                    AttachPoint {
                        section: "tracepoint/syscalls/sys_enter_open",
                        symbol: "file_open_tp_open",
                        guard: Guard::None,
                        sources: FILE_OPEN_TP,
                    },
                    AttachPoint {
                        section: "tracepoint/syscalls/sys_enter_openat2",
                        symbol: "file_open_tp_openat2",
                        guard: Guard::None,
                        sources: FILE_OPENAT2_TP,
                    },
                    AttachPoint {
                        section: "tracepoint/syscalls/sys_enter_creat",
                        symbol: "file_open_tp_creat",
                        guard: Guard::None,
                        sources: FILE_CREAT_TP,
                    },
                ],
            },
        ],
    },
    HookSpec {
        hook: Hook::NetConnect,
        name: "net.connect",
        doc: "a socket connects to an IPv4 or IPv6 address",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: connect fails with EPERM",
                attach: &[AttachPoint {
                    section: "lsm/socket_connect",
                    symbol: "net_connect_lsm",
                    guard: Guard::InetSockaddr { arg: 1 },
                    sources: NET_CONNECT_LSM,
                }],
            },
            BackendSpec {
                kind: BackendKind::Cgroup,
                ret: ReturnConvention::CgroupSockAddr,
                signals: Signals::Probed,
                deny_means:
                    "deny enforced: connect fails with EPERM (tasks in the attached cgroup)",
                attach: &[
                    AttachPoint {
                        section: "cgroup/connect4",
                        symbol: "net_connect_cgroup4",
                        guard: Guard::None,
                        sources: NET_CONNECT4,
                    },
                    AttachPoint {
                        section: "cgroup/connect6",
                        symbol: "net_connect_cgroup6",
                        guard: Guard::None,
                        sources: NET_CONNECT6,
                    },
                ],
            },
        ],
    },
    HookSpec {
        hook: Hook::NetBind,
        name: "net.bind",
        doc: "a socket is bound to a local IPv4 or IPv6 address and port (e.g. to listen)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: bind fails with EPERM",
                attach: &[AttachPoint {
                    section: "lsm/socket_bind",
                    symbol: "net_bind_lsm",
                    guard: Guard::InetSockaddr { arg: 1 },
                    sources: NET_BIND_LSM,
                }],
            },
            BackendSpec {
                kind: BackendKind::Cgroup,
                ret: ReturnConvention::CgroupSockAddr,
                signals: Signals::Probed,
                deny_means: "deny enforced: bind fails with EPERM (tasks in the attached cgroup)",
                attach: &[
                    AttachPoint {
                        section: "cgroup/bind4",
                        symbol: "net_bind_cgroup4",
                        guard: Guard::None,
                        sources: NET_BIND4,
                    },
                    AttachPoint {
                        section: "cgroup/bind6",
                        symbol: "net_bind_cgroup6",
                        guard: Guard::None,
                        sources: NET_BIND6,
                    },
                ],
            },
        ],
    },
    HookSpec {
        hook: Hook::ModuleLoad,
        name: "module.load",
        doc: "a kernel module is loaded (init_module, finit_module)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the module load fails with EPERM",
                attach: &[
                    AttachPoint {
                        section: "lsm/kernel_read_file",
                        symbol: "module_load_lsm_file",
                        guard: Guard::ArgEquals {
                            arg: 1,
                            value: READING_MODULE,
                        },
                        sources: MODULE_READ_FILE_LSM,
                    },
                    AttachPoint {
                        section: "lsm/kernel_load_data",
                        symbol: "module_load_lsm_data",
                        guard: Guard::ArgEquals {
                            arg: 0,
                            value: LOADING_MODULE,
                        },
                        sources: MODULE_NO_PATH,
                    },
                ],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL at syscall entry (init_module, finit_module)",
                attach: &[AttachPoint {
                    section: "tp_btf/sys_enter",
                    symbol: "module_load_tp_btf",
                    guard: Guard::ArgIn {
                        arg: 1,
                        values: [NR_INIT_MODULE, NR_FINIT_MODULE],
                    },
                    sources: MODULE_NO_PATH,
                }],
            },
        ],
    },
    HookSpec {
        hook: Hook::Bpf,
        name: "bpf",
        doc: "the bpf(2) system call is used (load programs, create and read maps, attach)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: bpf() fails with EPERM",
                attach: &[AttachPoint {
                    section: "lsm/bpf",
                    symbol: "bpf_lsm",
                    guard: Guard::None,
                    sources: BPF_LSM,
                }],
            },
            BackendSpec {
                kind: BackendKind::Tracepoint,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL at bpf() entry",
                attach: &[AttachPoint {
                    section: "tracepoint/syscalls/sys_enter_bpf",
                    symbol: "bpf_tp",
                    guard: Guard::None,
                    sources: BPF_TP,
                }],
            },
        ],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hook_field_has_a_source_in_every_attach_point() {
        for spec in HOOKS {
            for backend in spec.backends {
                for attach in backend.attach {
                    for field in FieldId::all().filter(|f| f.available_on(spec.hook)) {
                        assert!(
                            field.source(attach).is_some(),
                            "{} has no source for {} in {}",
                            spec.name,
                            field.spec().name,
                            attach.section
                        );
                    }
                    for (name, _) in attach.sources {
                        let field = FieldId::from_name(name).expect("source names a field");
                        assert!(
                            field.available_on(spec.hook),
                            "{name} is not a {} field",
                            spec.name
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        names.extend(HOOKS.iter().map(|h| h.name));
        let mut symbols: Vec<&str> = HOOKS
            .iter()
            .flat_map(|h| {
                h.backends
                    .iter()
                    .flat_map(|b| b.attach.iter().map(|a| a.symbol))
            })
            .collect();
        let n = names.len() + symbols.len();
        names.sort_unstable();
        names.dedup();
        symbols.sort_unstable();
        symbols.dedup();
        assert_eq!(names.len() + symbols.len(), n);
    }

    #[test]
    fn every_hook_has_a_spec_and_common_fields_have_sources() {
        let specs: Vec<Hook> = HOOKS.iter().map(|spec| spec.hook).collect();
        assert_eq!(
            specs,
            Hook::ALL.to_vec(),
            "Hook::ALL lists every spec, in table order"
        );
        for hook in Hook::ALL {
            assert_eq!(Hook::from_name(hook.name()), Some(hook));
            assert!(!hook.spec().backends.is_empty());
        }
        for field in FIELDS {
            assert_eq!(
                field.common_source.is_some(),
                field.scope == FieldScope::Common,
                "{}",
                field.name
            );
        }
    }
}
