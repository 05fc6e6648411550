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
    Syscall, FMODE_WRITE, LOADING_MODULE, MAP_ANONYMOUS, PROT_EXEC, READING_MODULE, VM_EXEC,
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
/// An attach point's guards are checked in order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Guard {
    /// The 64-bit context argument `arg` must equal `value`.
    ArgEquals { arg: u8, value: u64 },
    /// The 64-bit context argument `arg` must have every bit of `mask`.
    ArgHasBits { arg: u8, mask: u64 },
    /// The pointer at the end of the walk `path` (pointer members) from
    /// context argument `arg` must not be NULL (`path` empty: the argument).
    NonNull {
        arg: u8,
        path: &'static [KernelMember],
    },
    /// The integer member at the end of the walk `path` from context
    /// argument `arg` must have none of the bits of `mask`.
    MemberLacksBits {
        arg: u8,
        path: &'static [KernelMember],
        mask: u64,
    },
    /// The `struct sockaddr *` at the end of the walk `path` from context
    /// argument `arg` must be non-NULL and `AF_INET` or `AF_INET6`; it is
    /// copied for the `net.*` fields.
    InetSockaddr {
        arg: u8,
        path: &'static [KernelMember],
    },
    /// A system call tracepoint (`tp_btf/sys_enter` or `tp_btf/sys_exit`,
    /// whose context argument 0 is the task's `struct pt_regs *`): the
    /// system call must be one of these, in the 64-bit, x32 or 32-bit
    /// (compat) ABI. Later syscall guards and sources read the arguments of
    /// the ABI found here.
    Syscall(&'static [Syscall]),
    /// System call argument `idx` must have every bit of `mask`.
    SyscallArgHasBits { idx: u8, mask: u64 },
    /// System call argument `idx` must have none of the bits of `mask`.
    SyscallArgLacksBits { idx: u8, mask: u64 },
    /// `tp_btf/sys_exit`: the system call must have succeeded (its return
    /// value, context argument 1, is not negative).
    Succeeded,
}

/// One program: where it attaches and how it reads its context.
#[derive(Copy, Clone, Debug)]
pub struct AttachPoint {
    /// ELF section name in libbpf's convention, e.g. `lsm/file_open`.
    pub section: &'static str,
    /// Symbol name of the program (unique in an object, a C identifier).
    pub symbol: &'static str,
    /// The events this program sees that belong to the hook.
    pub guards: &'static [Guard],
    /// Per hook field, where its value comes from in this program.
    pub sources: &'static [(&'static str, FieldSource)],
    /// Only `deny` and `kill` act here: an `audit` match allows silently and
    /// traces do not run (the exec hook's executable mappings, which happen
    /// for every shared library a program loads).
    pub enforcing_only: bool,
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
    /// At the exec's point of no return (`tp_btf/sched_process_exec`,
    /// context argument 1 the thread id before the exec): the command name
    /// the task had when it called execve, which the exec has replaced;
    /// recorded at system call entry in the exec-callers map (the task's
    /// current name if no record is there).
    CallerComm,
    /// `bpf_get_current_cgroup_id()`.
    CgroupId,
    /// An integer read by walking BTF pointers from `bpf_get_current_task_btf()`;
    /// every member but the last is a pointer.
    TaskInt(&'static [KernelMember]),
    /// A char array at the end of a BTF pointer walk from the current task.
    TaskStr(&'static [KernelMember]),
    /// The path of a file as the kernel resolved it: rendered from its
    /// dentries and mounts up to the root of the task's mount namespace
    /// (so neither a relative name, `..`, a symbolic link, `/proc/self/root`
    /// nor a chroot changes it), with the file's identity (device and inode)
    /// for `==`/`in` (see [`FieldSpec::resolved_path`]).
    ResolvedPath(FileRef),
    /// An integer member of a file (`path` from the `struct file`), masked
    /// with `mask`; 0 when there is no file. A `Bool` field is true when the
    /// masked value is non-zero.
    FileInt {
        file: FileRef,
        path: &'static [KernelMember],
        mask: u64,
    },
    /// The open flags of the file a system call opened (`tp_btf/sys_exit`):
    /// `f_flags`, plus the flags only the call knows (`O_CREAT`, `O_EXCL`,
    /// `O_NOCTTY`, `O_TRUNC`, which the kernel clears from `f_flags`) from
    /// its arguments.
    OpenFlags,
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
    /// `sa_family` of the sockaddr the attach point's guard copied, `AF_INET`
    /// for an IPv4-mapped IPv6 address.
    SockaddrFamily,
    /// Address of the sockaddr the guard copied.
    SockaddrAddr,
    /// Port (host byte order) of the sockaddr the guard copied.
    SockaddrPort,
    /// System call argument `idx` (of the ABI the syscall guard found),
    /// masked with `mask`; a `Bool` field is true when the masked value is
    /// non-zero.
    SyscallArg { idx: u8, mask: u64 },
    /// `struct bpf_sock_addr.user_ip4` (cgroup/connect4).
    SockAddrCtxIp4,
    /// `struct bpf_sock_addr.user_ip6` (cgroup/connect6).
    SockAddrCtxIp6,
    /// The family of `struct bpf_sock_addr.user_ip6`: `AF_INET6`, or
    /// `AF_INET` for an IPv4-mapped address.
    SockAddrCtxFamily6,
    /// `struct bpf_sock_addr.user_port`, converted to host byte order.
    SockAddrCtxPort,
    /// A constant integer (e.g. the family of a `connect4` program).
    ConstInt(u64),
    /// The empty string: the value is not known to this program.
    EmptyStr,
}

/// Where the `struct file *` of a [`FieldSource::ResolvedPath`] or
/// [`FieldSource::FileInt`] comes from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FileRef {
    /// The pointer at the end of the walk `path` (pointer members) from
    /// context argument `arg`: `[]` for a `struct file *` argument,
    /// `[BinprmFile]` for a `struct linux_binprm *`.
    Arg {
        arg: u8,
        path: &'static [KernelMember],
    },
    /// `current->mm->exe_file`: the task's executable (none for kernel
    /// threads: the empty path).
    TaskExe,
    /// The current task's open file behind the file descriptor in system
    /// call argument `idx`.
    SyscallFdArg { idx: u8 },
    /// The current task's open file behind the file descriptor the system
    /// call returned (`tp_btf/sys_exit`).
    ReturnedFd,
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
    /// A file's path as the kernel resolved it ([`FieldSource::ResolvedPath`]
    /// wherever it is known): its value may be longer than the field's
    /// buffer (the buffer holds its first bytes, the length is exact), it
    /// may be *unresolved* (deeper than [`MAX_PATH_DEPTH`] components,
    /// longer than [`RESOLVED_PATH_MAX`] bytes, or unreadable), and `==` and
    /// `in` also match the same file reached by another name (by device and
    /// inode). Tests whose outcome such a value leaves undecided decide
    /// fail-closed (see `interp`).
    pub resolved_path: bool,
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

    /// Where this field's value comes from in `attach`'s program: the
    /// attach point's own source, else (for common fields) the common one.
    pub fn source(self, attach: &AttachPoint) -> Option<FieldSource> {
        let spec = self.spec();
        attach
            .sources
            .iter()
            .find(|(name, _)| *name == spec.name)
            .map(|(_, source)| *source)
            .or(spec.common_source)
    }
}

/// Maximum length, including the NUL, of path-like string fields.
pub const PATH_MAX_LEN: u16 = 256;
/// Most components (directories and mount crossings) a resolved path is
/// rendered through; a deeper path is unresolved.
pub const MAX_PATH_DEPTH: u32 = 64;
/// Longest resolved path, in bytes (`PATH_MAX` without the NUL); a longer
/// one is unresolved.
pub const RESOLVED_PATH_MAX: u32 = 4095;
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
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.tid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "thread id",
        common_source: Some(FieldSource::Tid),
        resolved_path: false,
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
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.uid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "real user id",
        common_source: Some(FieldSource::Uid),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.gid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "real group id",
        common_source: Some(FieldSource::Gid),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.comm",
        ty: FieldType::Str { max: COMM_LEN },
        scope: FieldScope::Common,
        doc: "command name (at most 15 bytes, as in /proc/PID/comm)",
        common_source: Some(FieldSource::Comm),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.exe",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Common,
        doc: "path of the task's executable (`mm->exe_file`), resolved by the kernel; \
              empty for kernel threads",
        common_source: Some(FieldSource::ResolvedPath(FileRef::TaskExe)),
        resolved_path: true,
    },
    FieldSpec {
        name: "proc.cgroup",
        ty: FieldType::Int { bits: 64 },
        scope: FieldScope::Common,
        doc: "cgroup v2 id of the task's cgroup (the inode number of its directory)",
        common_source: Some(FieldSource::CgroupId),
        resolved_path: false,
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
        resolved_path: false,
    },
    FieldSpec {
        name: "exec.path",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Hook(Hook::Exec),
        doc: "path of the file being executed (or mapped executable), resolved by the kernel: \
              the script or its interpreter for a `#!` script, the program for the dynamic loader",
        common_source: None,
        resolved_path: true,
    },
    FieldSpec {
        name: "exec.filename",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Hook(Hook::Exec),
        doc: "the name the program was executed by, as the caller passed it (possibly \
              relative; `/dev/fd/N` for execveat and fexecve); empty for executable mappings",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "file.path",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Hook(Hook::FileOpen),
        doc: "path of the opened file, resolved by the kernel",
        common_source: None,
        resolved_path: true,
    },
    FieldSpec {
        name: "file.flags",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::FileOpen),
        doc: "open flags (O_RDONLY, O_WRONLY, O_CREAT, ... as a number)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "file.write",
        ty: FieldType::Bool,
        scope: FieldScope::Hook(Hook::FileOpen),
        doc: "true when the file is opened for writing (O_WRONLY or O_RDWR)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "net.family",
        ty: FieldType::Int { bits: 16 },
        scope: FieldScope::Hooks(&[Hook::NetConnect, Hook::NetBind]),
        doc: "address family of the socket address: 2 (AF_INET) or 10 (AF_INET6)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "net.daddr",
        ty: FieldType::Ip,
        scope: FieldScope::Hook(Hook::NetConnect),
        doc: "destination address (IPv4 or IPv6; an IPv4-mapped IPv6 address, ::ffff:a.b.c.d, is the IPv4 address a.b.c.d)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "net.dport",
        ty: FieldType::Int { bits: 16 },
        scope: FieldScope::Hook(Hook::NetConnect),
        doc: "destination port",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "net.saddr",
        ty: FieldType::Ip,
        scope: FieldScope::Hook(Hook::NetBind),
        doc: "local address being bound (0.0.0.0 or :: for every address; an IPv4-mapped IPv6 \
              address is the IPv4 address)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "net.sport",
        ty: FieldType::Int { bits: 16 },
        scope: FieldScope::Hook(Hook::NetBind),
        doc: "local port being bound (0: the kernel picks one)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "module.path",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Hook(Hook::ModuleLoad),
        doc: "path of the module file, resolved by the kernel (finit_module); empty when \
              the module comes from memory (init_module)",
        common_source: None,
        resolved_path: true,
    },
    FieldSpec {
        name: "bpf.cmd",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::Bpf),
        doc: "the bpf(2) command: 0 BPF_MAP_CREATE, 1 BPF_MAP_LOOKUP_ELEM, 5 BPF_PROG_LOAD, \
              28 BPF_LINK_CREATE, ... (include/uapi/linux/bpf.h)",
        common_source: None,
        resolved_path: false,
    },
];

const BPRM_FILE: &[KernelMember] = &[KernelMember::BinprmFile];
const BPRM_FILENAME: &[KernelMember] = &[KernelMember::BinprmFilename];
const VMA_FILE: &[KernelMember] = &[KernelMember::VmAreaFile];

const EXEC_LSM: &[(&str, FieldSource)] = &[
    (
        "exec.path",
        FieldSource::ResolvedPath(FileRef::Arg {
            arg: 0,
            path: BPRM_FILE,
        }),
    ),
    (
        "exec.filename",
        FieldSource::ArgKernelStr {
            arg: 0,
            path: BPRM_FILENAME,
        },
    ),
];
const EXEC_MMAP_LSM: &[(&str, FieldSource)] = &[
    (
        "exec.path",
        FieldSource::ResolvedPath(FileRef::Arg { arg: 0, path: &[] }),
    ),
    ("exec.filename", FieldSource::EmptyStr),
];
const EXEC_MPROTECT_LSM: &[(&str, FieldSource)] = &[
    (
        "exec.path",
        FieldSource::ResolvedPath(FileRef::Arg {
            arg: 0,
            path: VMA_FILE,
        }),
    ),
    ("exec.filename", FieldSource::EmptyStr),
];
/// `sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)`.
const EXEC_TP_BTF: &[(&str, FieldSource)] = &[
    ("proc.comm", FieldSource::CallerComm),
    (
        "exec.path",
        FieldSource::ResolvedPath(FileRef::Arg {
            arg: 2,
            path: BPRM_FILE,
        }),
    ),
    (
        "exec.filename",
        FieldSource::ArgKernelStr {
            arg: 2,
            path: BPRM_FILENAME,
        },
    ),
];
/// `mmap(addr, len, prot, flags, fd, offset)` at system call entry.
const EXEC_MMAP_TP_BTF: &[(&str, FieldSource)] = &[
    (
        "exec.path",
        FieldSource::ResolvedPath(FileRef::SyscallFdArg { idx: 4 }),
    ),
    ("exec.filename", FieldSource::EmptyStr),
];
const FILE_OPEN_LSM: &[(&str, FieldSource)] = &[
    (
        "file.path",
        FieldSource::ResolvedPath(FileRef::Arg { arg: 0, path: &[] }),
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
const FILE_OPEN_TP_BTF: &[(&str, FieldSource)] = &[
    ("file.path", FieldSource::ResolvedPath(FileRef::ReturnedFd)),
    ("file.flags", FieldSource::OpenFlags),
    (
        "file.write",
        FieldSource::FileInt {
            file: FileRef::ReturnedFd,
            path: &[KernelMember::FileFMode],
            mask: FMODE_WRITE,
        },
    ),
];
const NET_CONNECT_LSM: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::SockaddrFamily),
    ("net.daddr", FieldSource::SockaddrAddr),
    ("net.dport", FieldSource::SockaddrPort),
];
const NET_CONNECT4: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::ConstInt(AF_INET)),
    ("net.daddr", FieldSource::SockAddrCtxIp4),
    ("net.dport", FieldSource::SockAddrCtxPort),
];
const NET_CONNECT6: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::SockAddrCtxFamily6),
    ("net.daddr", FieldSource::SockAddrCtxIp6),
    ("net.dport", FieldSource::SockAddrCtxPort),
];
const NET_BIND_LSM: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::SockaddrFamily),
    ("net.saddr", FieldSource::SockaddrAddr),
    ("net.sport", FieldSource::SockaddrPort),
];
const NET_BIND4: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::ConstInt(AF_INET)),
    ("net.saddr", FieldSource::SockAddrCtxIp4),
    ("net.sport", FieldSource::SockAddrCtxPort),
];
const NET_BIND6: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::SockAddrCtxFamily6),
    ("net.saddr", FieldSource::SockAddrCtxIp6),
    ("net.sport", FieldSource::SockAddrCtxPort),
];
const MODULE_READ_FILE_LSM: &[(&str, FieldSource)] = &[(
    "module.path",
    FieldSource::ResolvedPath(FileRef::Arg { arg: 0, path: &[] }),
)];
const MODULE_NO_PATH: &[(&str, FieldSource)] = &[("module.path", FieldSource::EmptyStr)];
const MODULE_FINIT_TP_BTF: &[(&str, FieldSource)] = &[(
    "module.path",
    FieldSource::ResolvedPath(FileRef::SyscallFdArg { idx: 0 }),
)];

const BPF_LSM: &[(&str, FieldSource)] = &[(
    "bpf.cmd",
    FieldSource::ArgInt {
        arg: 0,
        path: &[],
        mask: ALL_BITS,
    },
)];
const BPF_TP_BTF: &[(&str, FieldSource)] = &[(
    "bpf.cmd",
    FieldSource::SyscallArg {
        idx: 0,
        mask: ALL_BITS,
    },
)];

/// The system calls that open files, decided at their exit.
const OPEN_CALLS: &[Syscall] = &[
    Syscall::Open,
    Syscall::Openat,
    Syscall::Openat2,
    Syscall::Creat,
    Syscall::OpenByHandleAt,
];

/// Every hook, with its backends strongest first.
pub static HOOKS: &[HookSpec] = &[
    HookSpec {
        hook: Hook::Exec,
        name: "exec",
        doc: "a program is executed (execve, execveat, fexecve), or a file is mapped executable",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: execve fails with EPERM (the script and its \
                             interpreter are each decided); an executable mmap or mprotect \
                             of a denied file fails with EPERM",
                attach: &[
                    AttachPoint {
                        section: "lsm/bprm_check_security",
                        symbol: "exec_lsm",
                        guards: &[],
                        sources: EXEC_LSM,
                        enforcing_only: false,
                    },
                    AttachPoint {
                        section: "lsm/mmap_file",
                        symbol: "exec_lsm_mmap",
                        guards: &[
                            Guard::NonNull { arg: 0, path: &[] },
                            Guard::ArgHasBits {
                                arg: 2,
                                mask: PROT_EXEC,
                            },
                        ],
                        sources: EXEC_MMAP_LSM,
                        enforcing_only: true,
                    },
                    AttachPoint {
                        section: "lsm/file_mprotect",
                        symbol: "exec_lsm_mprotect",
                        guards: &[
                            Guard::ArgHasBits {
                                arg: 2,
                                mask: PROT_EXEC,
                            },
                            Guard::NonNull {
                                arg: 0,
                                path: VMA_FILE,
                            },
                            Guard::MemberLacksBits {
                                arg: 0,
                                path: &[KernelMember::VmAreaFlags],
                                mask: VM_EXEC,
                            },
                        ],
                        sources: EXEC_MPROTECT_LSM,
                        enforcing_only: true,
                    },
                ],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL at the exec's point of no return: the new \
                             program never runs an instruction; a script is decided on its \
                             interpreter (exec.path) and on the name it was run by \
                             (exec.filename); an executable mmap of a denied file kills at \
                             mmap entry, an mprotect making a mapping executable is not seen",
                attach: &[
                    AttachPoint {
                        section: "tp_btf/sched_process_exec",
                        symbol: "exec_tp_btf",
                        guards: &[],
                        sources: EXEC_TP_BTF,
                        enforcing_only: false,
                    },
                    AttachPoint {
                        section: "tp_btf/sys_enter",
                        symbol: "exec_tp_btf_mmap",
                        guards: &[
                            Guard::Syscall(&[Syscall::Mmap]),
                            Guard::SyscallArgHasBits {
                                idx: 2,
                                mask: PROT_EXEC,
                            },
                            Guard::SyscallArgLacksBits {
                                idx: 3,
                                mask: MAP_ANONYMOUS,
                            },
                        ],
                        sources: EXEC_MMAP_TP_BTF,
                        enforcing_only: true,
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
                deny_means: "deny enforced: open fails with EPERM (every open: open, openat, \
                             openat2, creat, open_by_handle_at, io_uring, 32-bit calls)",
                attach: &[AttachPoint {
                    section: "lsm/file_open",
                    symbol: "file_open_lsm",
                    guards: &[],
                    sources: FILE_OPEN_LSM,
                    enforcing_only: false,
                }],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL when the open returns, before the task \
                             can use the file (open, openat, openat2, creat, open_by_handle_at, \
                             64- and 32-bit); the open itself happened (O_CREAT created, \
                             O_TRUNC truncated); opens through io_uring are not seen",
                attach: &[AttachPoint {
                    section: "tp_btf/sys_exit",
                    symbol: "file_open_tp_btf",
                    guards: &[Guard::Syscall(OPEN_CALLS), Guard::Succeeded],
                    sources: FILE_OPEN_TP_BTF,
                    enforcing_only: false,
                }],
            },
        ],
    },
    HookSpec {
        hook: Hook::NetConnect,
        name: "net.connect",
        doc: "a socket connects to an IPv4 or IPv6 address, or sends to one without \
              connecting (UDP sendto/sendmsg, TCP Fast Open)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: connect, and sendto/sendmsg naming a destination, \
                             fail with EPERM",
                attach: &[
                    AttachPoint {
                        section: "lsm/socket_connect",
                        symbol: "net_connect_lsm",
                        guards: &[Guard::InetSockaddr { arg: 1, path: &[] }],
                        sources: NET_CONNECT_LSM,
                        enforcing_only: false,
                    },
                    AttachPoint {
                        section: "lsm/socket_sendmsg",
                        symbol: "net_connect_lsm_send",
                        guards: &[Guard::InetSockaddr {
                            arg: 1,
                            path: &[KernelMember::MsghdrName],
                        }],
                        sources: NET_CONNECT_LSM,
                        enforcing_only: false,
                    },
                ],
            },
            BackendSpec {
                kind: BackendKind::Cgroup,
                ret: ReturnConvention::CgroupSockAddr,
                signals: Signals::Probed,
                deny_means: "deny enforced: connect (TCP Fast Open included) and unconnected \
                             UDP sendto/sendmsg fail with EPERM (tasks in the attached cgroup)",
                attach: &[
                    AttachPoint {
                        section: "cgroup/connect4",
                        symbol: "net_connect_cgroup4",
                        guards: &[],
                        sources: NET_CONNECT4,
                        enforcing_only: false,
                    },
                    AttachPoint {
                        section: "cgroup/connect6",
                        symbol: "net_connect_cgroup6",
                        guards: &[],
                        sources: NET_CONNECT6,
                        enforcing_only: false,
                    },
                    AttachPoint {
                        section: "cgroup/sendmsg4",
                        symbol: "net_connect_cgroup_send4",
                        guards: &[],
                        sources: NET_CONNECT4,
                        enforcing_only: false,
                    },
                    AttachPoint {
                        section: "cgroup/sendmsg6",
                        symbol: "net_connect_cgroup_send6",
                        guards: &[],
                        sources: NET_CONNECT6,
                        enforcing_only: false,
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
                    guards: &[Guard::InetSockaddr { arg: 1, path: &[] }],
                    sources: NET_BIND_LSM,
                    enforcing_only: false,
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
                        guards: &[],
                        sources: NET_BIND4,
                        enforcing_only: false,
                    },
                    AttachPoint {
                        section: "cgroup/bind6",
                        symbol: "net_bind_cgroup6",
                        guards: &[],
                        sources: NET_BIND6,
                        enforcing_only: false,
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
                        guards: &[Guard::ArgEquals {
                            arg: 1,
                            value: READING_MODULE,
                        }],
                        sources: MODULE_READ_FILE_LSM,
                        enforcing_only: false,
                    },
                    AttachPoint {
                        section: "lsm/kernel_load_data",
                        symbol: "module_load_lsm_data",
                        guards: &[Guard::ArgEquals {
                            arg: 0,
                            value: LOADING_MODULE,
                        }],
                        sources: MODULE_NO_PATH,
                        enforcing_only: false,
                    },
                ],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL at system call entry (init_module, \
                             finit_module; 64- and 32-bit)",
                attach: &[
                    AttachPoint {
                        section: "tp_btf/sys_enter",
                        symbol: "module_load_tp_btf_file",
                        guards: &[Guard::Syscall(&[Syscall::FinitModule])],
                        sources: MODULE_FINIT_TP_BTF,
                        enforcing_only: false,
                    },
                    AttachPoint {
                        section: "tp_btf/sys_enter",
                        symbol: "module_load_tp_btf_data",
                        guards: &[Guard::Syscall(&[Syscall::InitModule])],
                        sources: MODULE_NO_PATH,
                        enforcing_only: false,
                    },
                ],
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
                    guards: &[],
                    sources: BPF_LSM,
                    enforcing_only: false,
                }],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL at bpf() entry (64- and 32-bit)",
                attach: &[AttachPoint {
                    section: "tp_btf/sys_enter",
                    symbol: "bpf_tp_btf",
                    guards: &[Guard::Syscall(&[Syscall::Bpf])],
                    sources: BPF_TP_BTF,
                    enforcing_only: false,
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
