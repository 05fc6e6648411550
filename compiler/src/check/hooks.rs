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
    Syscall, CLONE_NEW_FLAGS, FMODE_READ, FMODE_WRITE, LOADING_MODULE, MAP_ANONYMOUS, MODE_BITS,
    MS_MOVE, PROT_EXEC, PTRACE_MODE_ATTACH, PTRACE_STARTS, READING_MODULE, SOCK_TYPE_MASK,
    S_ISUID_ISGID, VM_EXEC,
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
    /// A name is removed from a directory (`unlink`, `unlinkat`).
    FileUnlink,
    /// A file is renamed or moved (`rename`, `renameat`, `renameat2`).
    FileRename,
    /// A hard link is made (`link`, `linkat`).
    FileLink,
    /// A symbolic link is made (`symlink`, `symlinkat`).
    FileSymlink,
    /// A directory is made.
    FileMkdir,
    /// A directory is removed.
    FileRmdir,
    /// A file's mode changes (`chmod`, `fchmod`, `fchmodat`, `fchmodat2`).
    FileChmod,
    /// A file's owner changes (`chown`, `fchown`, `lchown`, `fchownat`).
    FileChown,
    /// A file is truncated (`truncate`, `ftruncate`, `open` with `O_TRUNC`).
    FileTruncate,
    /// Memory becomes executable: an `mmap` with `PROT_EXEC`, or an
    /// `mprotect` adding it.
    FileMmap,
    /// A task is traced or inspected (`ptrace` attach, `/proc/PID/mem`,
    /// `process_vm_readv`).
    ProcPtrace,
    /// A task's user ids change.
    ProcSetuid,
    /// A task's group ids change.
    ProcSetgid,
    /// A task's capability sets change (`capset`).
    ProcCapset,
    /// A signal is sent to a task.
    ProcSignal,
    /// A task enters or creates namespaces (`setns`, `unshare`, `clone`).
    ProcNamespace,
    /// A file system is mounted, or a mount moved.
    Mount,
    /// A file system is unmounted.
    Umount,
    /// The kernel is asked to load a module by name on a task's behalf.
    ModuleRequest,
    /// A socket starts listening.
    NetListen,
    /// A connection is accepted.
    NetAccept,
    /// A socket is created.
    SocketCreate,
}

impl Hook {
    /// Every hook, in a stable order (the order programs are emitted in).
    pub const ALL: [Hook; 28] = [
        Hook::Exec,
        Hook::FileOpen,
        Hook::NetConnect,
        Hook::NetBind,
        Hook::ModuleLoad,
        Hook::Bpf,
        Hook::FileUnlink,
        Hook::FileRename,
        Hook::FileLink,
        Hook::FileSymlink,
        Hook::FileMkdir,
        Hook::FileRmdir,
        Hook::FileChmod,
        Hook::FileChown,
        Hook::FileTruncate,
        Hook::FileMmap,
        Hook::ProcPtrace,
        Hook::ProcSetuid,
        Hook::ProcSetgid,
        Hook::ProcCapset,
        Hook::ProcSignal,
        Hook::ProcNamespace,
        Hook::Mount,
        Hook::Umount,
        Hook::ModuleRequest,
        Hook::NetListen,
        Hook::NetAccept,
        Hook::SocketCreate,
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
    /// System call argument `idx` must have at least one bit of `mask`.
    SyscallArgAnyBits { idx: u8, mask: u64 },
    /// System call argument `idx` must be one of `values`.
    SyscallArgOneOf { idx: u8, values: &'static [u64] },
    /// The `u64` in user memory that system call argument `idx` points to
    /// must have at least one bit of `mask` (`clone3`'s flags).
    SyscallUserAnyBits { idx: u8, mask: u64 },
    /// The socket must be an IPv4 or IPv6 one (its `sk_family`).
    InetSock(SockRef),
    /// When the system call is `call`, its argument `idx` must have every
    /// bit of `mask` (other calls pass).
    CallArgHasBits { call: Syscall, idx: u8, mask: u64 },
    /// When the system call is `call`, its argument `idx` must have none of
    /// the bits of `mask` (other calls pass).
    CallArgLacksBits { call: Syscall, idx: u8, mask: u64 },
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
    /// `Some(why)`: a kernel without this attach point runs the backend
    /// without the program, and `why` says why nothing is missed there
    /// (e.g. kernels before 6.2 have no `file_truncate` hook: `ftruncate`
    /// goes through `path_truncate`); polrt prints it when it skips one.
    /// `None`: the backend needs the program.
    pub absent_means: Option<&'static str>,
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
    /// A NUL-terminated char array member (`member`, e.g. a task's `comm`)
    /// of the struct context argument `arg` points to.
    ArgKernelStrAt { arg: u8, member: KernelMember },
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
    /// `struct bpf_sock_addr.type`: the socket's type.
    SockAddrCtxType,
    /// `struct bpf_sock_addr.protocol`: the socket's protocol.
    SockAddrCtxProtocol,
    /// A constant integer (e.g. the family of a `connect4` program).
    ConstInt(u64),
    /// The address family of a socket: `AF_INET` for an IPv6 socket whose
    /// address (remote, or `local`) is IPv4-mapped.
    SockFamily { sock: SockRef, local: bool },
    /// A socket's address: the remote one, or the `local` one.
    SockAddr { sock: SockRef, local: bool },
    /// A socket's port in host byte order: the remote one, or the `local` one.
    SockPort { sock: SockRef, local: bool },
    /// Whether a file has no links left: deleted while open, or never
    /// linked (a memfd); false without a file.
    FileDeleted(FileRef),
    /// Whether a file is a memfd (`memfd_create`): a file of no mount whose
    /// name starts with `memfd:`; false without a file.
    FileMemfd(FileRef),
    /// The `u64` a kernel pointer in context argument `arg` points to
    /// (`kernel_cap_t`, whose layout differs between kernels but not its
    /// 64 bits).
    ArgPointee { arg: u8 },
    /// The system call argument at the position `calls` gives for the call
    /// being made (0 for a call not listed), masked; the 16-bit id calls'
    /// "unchanged" (`0xffff`) becomes the 32-bit one (`0xffffffff`).
    CallArg {
        calls: &'static [(Syscall, u8)],
        mask: u64,
    },
    /// An id a `set*id` call sets: its argument at the position `calls`
    /// gives, or, for a call not listed or an argument of -1 (unchanged),
    /// the task's current id (the `struct cred` member at the end of
    /// `current`).
    IdArg {
        calls: &'static [(Syscall, u8)],
        current: &'static [KernelMember],
    },
    /// A NUL-terminated string in user memory that system call argument
    /// `idx` points to (what the caller passed: not resolved).
    SyscallUserStr { idx: u8 },
    /// The `u64` in user memory that system call argument `idx` points to,
    /// masked.
    SyscallUserU64 { idx: u8, mask: u64 },
    /// One capability set `capset(2)` asks for (`which`: 0 effective, 1
    /// permitted, 2 inheritable) from its `cap_user_data_t` argument in user
    /// memory: the low 32 bits from the first element, the high ones from the
    /// second (none for a version 1 header).
    CapsetUser { which: u8 },
    /// The empty string: the value is not known to this program.
    EmptyStr,
    // Process context.
    /// The process id as the process's own pid namespace numbers it:
    /// `current->group_leader->thread_pid->numbers[level].nr`.
    TaskVpid,
    /// Whether the task is in the initial pid namespace:
    /// `current->thread_pid->level == 0`.
    TaskHostPidns,
    /// Nanoseconds since the process started: `bpf_ktime_get_ns()` minus
    /// `current->group_leader->start_time` (both on the monotonic clock,
    /// which does not count suspend).
    TaskAge,
    /// The process id of the task's `n`-th ancestor (0: the task itself, 1:
    /// its parent, through `real_parent`); 0 past the top of the tree.
    AncestorPid(u8),
    /// The command name of the task's `n`-th ancestor; empty past the top of
    /// the tree.
    AncestorComm(u8),
    /// Part of the task's container context, decided from the names of its
    /// cgroup v2 directory and its ancestors (`crate::container`).
    Container(ContainerPart),
    // command lines and environment (exec)
    /// `exec.args[N]` in a program after the exec's point of no return: the
    /// table entry's source, which [`FieldSource::at`] makes [`Self::ExecArg`].
    ExecArgs,
    /// Argument `N` of the new program: `argv[N]` of the new program's stack
    /// (`current->mm->start_stack` holds argc, then the argv pointers the
    /// kernel wrote), empty when `N >= argc`.
    ExecArg(u16),
    /// The new program's argc (the u64 at `current->mm->start_stack`).
    ExecArgc,
    /// The current task's command line: `mm->arg_start .. mm->arg_end`, each
    /// NUL between arguments made a space.
    Cmdline,
    /// `exec.env["NAME"]`: the table entry's source, which
    /// [`FieldSource::at`] makes [`Self::ExecEnvVar`].
    ExecEnv,
    /// The value of the environment variable `NAME` in the new program's
    /// environment (the first [`ENV_VARS_MAX`] variables).
    ExecEnvVar(&'static str),
    /// The command line of the current process (`parent`: of its parent)
    /// at its last exec: its entry in the command-line snapshot map
    /// (`abi::MAP_CMDLINES`); empty without one.
    CmdlineSnapshot { parent: bool },
    /// A value this program cannot read where it runs (the new program's
    /// memory before the exec's point of no return): a backend with such a
    /// source for a field a policy uses is left out of the object (W0060).
    Unreadable,
    // user and group names (`proc.user == "root"`)
    /// The table entry of the ids user or group names stand for
    /// ([`account_id_field`]); [`FieldSource::at`] makes it
    /// [`Self::AccountId`].
    AccountIds { group: bool },
    /// The id the node's user database (`group`: its group database) gives
    /// `name`: a slot of `abi::MAP_ACCOUNTS`, written and frozen by the
    /// runtime before any program loads.
    AccountId { group: bool, name: &'static str },
    // overlayfs upper layer (`proc.exe.upper_layer`, `exec.upper_layer`)
    /// Whether a file is in an overlayfs upper layer: its inode
    /// (`f_inode`) is an overlayfs one (`i_sb->s_magic` is
    /// `OVERLAYFS_SUPER_MAGIC`) whose `struct ovl_inode` has an upper
    /// dentry (the pointer right after the `struct inode` it embeds: made or
    /// copied up in the container); false without a file or on another file
    /// system.
    FileUpperLayer(FileRef),
}

impl FieldSource {
    /// The source of one element of an indexed field whose table entry has
    /// this source.
    pub fn at(self, index: Index) -> FieldSource {
        match (self, index) {
            (FieldSource::ExecArgs, Index::At(n)) => FieldSource::ExecArg(n),
            (FieldSource::ExecEnv, Index::Key(key)) => FieldSource::ExecEnvVar(key),
            (FieldSource::AncestorPid(_), Index::At(n)) => FieldSource::AncestorPid(n as u8),
            (FieldSource::AncestorComm(_), Index::At(n)) => FieldSource::AncestorComm(n as u8),
            (FieldSource::ResolvedPath(FileRef::AncestorExe(_)), Index::At(n)) => {
                FieldSource::ResolvedPath(FileRef::AncestorExe(n as u8))
            }
            (FieldSource::AccountIds { group }, Index::Key(name)) => {
                FieldSource::AccountId { group, name }
            }
            (other, _) => other,
        }
    }
}

/// Which part of the container context a [`FieldSource::Container`] field is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ContainerPart {
    Id,
    ShortId,
    Runtime,
    InContainer,
    PodUid,
    PodQos,
}

/// Buffer (with the NUL) of `container.id`.
pub const CONTAINER_ID_LEN: u16 = crate::container::ID_LEN as u16 + 1;
/// Buffer of `container.short_id`.
pub const CONTAINER_SHORT_ID_LEN: u16 = crate::container::SHORT_ID_LEN as u16 + 1;
/// Buffer of `container.runtime` (the longest name, `systemd-nspawn`, and a NUL).
pub const CONTAINER_RUNTIME_LEN: u16 = 16;
/// Buffer of `k8s.pod.uid`.
pub const POD_UID_FIELD_LEN: u16 = crate::container::POD_UID_LEN as u16 + 1;
/// Buffer of `k8s.pod.qos`.
pub const POD_QOS_LEN: u16 = 16;

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
    /// A `struct path *` context argument (e.g. `path_chmod`'s file, the
    /// mount point of `sb_mount`).
    PathArg { arg: u8 },
    /// The dentry in context argument `dentry`, named in the directory whose
    /// `struct path *` is context argument `dir` (the `path_unlink`,
    /// `path_mkdir`, `path_rename` ... hooks): the directory's path and the
    /// dentry's name, even for a name not created yet; its identity is the
    /// dentry's inode (none for a name being created).
    DentryInDir { dir: u8, dentry: u8 },
    /// The mount in context argument `arg` (`struct vfsmount *`): the path
    /// it is mounted on.
    MountArg { arg: u8 },
    /// A name the caller passed to a system call that the kernel has not
    /// resolved where the program runs (a fallback at system call entry):
    /// always unresolved, so tests on it decide fail-closed.
    Unresolved,
    /// `current->fs->pwd`: the task's working directory.
    TaskCwd,
    /// `current->real_parent->mm->exe_file`: the parent's executable (none
    /// for a kernel thread parent: the empty path).
    ParentExe,
    /// The executable of the task's `n`-th ancestor (0: the task itself, 1:
    /// its parent, through `real_parent`); none past the top of the tree or
    /// for a kernel thread: the empty path.
    AncestorExe(u8),
}

/// Where the `struct sock *` of a socket field comes from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SockRef {
    /// The pointer at the end of the walk `path` (pointer members) from
    /// context argument `arg`: `[]` for a `struct sock *` argument,
    /// `[SocketSk]` for a `struct socket *`.
    Arg {
        arg: u8,
        path: &'static [KernelMember],
    },
    /// The socket behind the file descriptor in system call argument `idx`.
    SyscallFdArg { idx: u8 },
    /// The socket behind the file descriptor the system call returned.
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
        match FIELDS.get(usize::from(self.0)) {
            Some(spec) => spec,
            None => instance(self).spec,
        }
    }

    /// Looks a field up by its dotted name, or by the name of one element of
    /// an indexed field (`exec.args[1]`, `exec.env["PATH"]`; see
    /// [`resolve_indexed`], which says why a name is not one).
    pub fn from_name(name: &str) -> Option<FieldId> {
        if name.contains('[') {
            return resolve_indexed(name).ok();
        }
        FIELDS
            .iter()
            .position(|f| f.name == name)
            .map(|i| FieldId(i as u16))
    }

    /// For one element of an indexed field: the field's table entry (named
    /// `exec.args[N]`) and the element's index.
    pub fn element(self) -> Option<(FieldId, Index)> {
        if usize::from(self.0) < FIELDS.len() {
            return None;
        }
        let instance = instance(self);
        Some((instance.family, instance.index))
    }

    /// Whether this is the table entry of an indexed field (`exec.args[N]`),
    /// which conditions name one element of, never itself.
    pub fn is_indexed(self) -> bool {
        usize::from(self.0) < FIELDS.len() && indexed_spec(self).is_some()
    }

    /// The table fields and every indexed-field element named so far, in id
    /// order (elements are appended as they are first named, so an id and
    /// everything before it keep their place).
    pub fn all_with_elements() -> impl Iterator<Item = FieldId> {
        let elements = INSTANCES.read().map(|list| list.len()).unwrap_or(0);
        (0..FIELDS.len() + elements).map(|i| FieldId(i as u16))
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
        if let Some((family, index)) = self.element() {
            return family.source(attach).map(|source| source.at(index));
        }
        let spec = self.spec();
        attach
            .sources
            .iter()
            .find(|(name, _)| *name == spec.name)
            .map(|(_, source)| *source)
            .or(spec.common_source)
    }
}

/// One element of an indexed field: a position (`exec.args[2]`) or a key
/// (`exec.env["LD_PRELOAD"]`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Index {
    At(u16),
    Key(&'static str),
}

impl fmt::Display for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Index::At(n) => write!(f, "{n}"),
            Index::Key(key) => f.write_str(&crate::syntax::quote_key(key)),
        }
    }
}

/// How an indexed field is indexed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum IndexKind {
    /// By position, `first ..= bound - 1` (the table name is written `BASE[N]`).
    Int { first: u16, bound: u16 },
    /// By a key of at most `max_len` bytes, each an ASCII letter, digit or
    /// `_` (the table name is written `BASE["NAME"]`).
    Key { max_len: u16 },
}

/// What the checker needs to know of an indexed field beyond its
/// [`FieldSpec`] (whose `name` is the written form, `exec.args[N]` or
/// `exec.env["NAME"]`, optionally followed by a member: `proc.ancestors[N].comm`).
#[derive(Copy, Clone, Debug)]
pub struct IndexedSpec {
    /// The [`FieldSpec::name`] of the field.
    pub name: &'static str,
    pub kind: IndexKind,
    /// For a positional field: the int field counting the elements that
    /// exist. `FIELD[*]` tests only elements below it; without one, every
    /// position up to the bound.
    pub count: Option<&'static str>,
}

/// Every indexed field. A new one is an entry here, a [`FIELDS`] entry of
/// the same name, and a [`FieldSource`] that [`FieldSource::at`] turns into
/// each element's source.
pub static INDEXED: &[IndexedSpec] = &[
    // command lines and environment (exec)
    IndexedSpec {
        name: "exec.args[N]",
        kind: IndexKind::Int {
            first: 0,
            bound: EXEC_ARGS_MAX,
        },
        count: Some("exec.argc"),
    },
    IndexedSpec {
        name: "exec.env[\"NAME\"]",
        kind: IndexKind::Key {
            max_len: ENV_NAME_MAX,
        },
        count: None,
    },
    // ancestry: 1 is the parent, 2 the grandparent, ...
    IndexedSpec {
        name: "proc.ancestors[N].pid",
        kind: IndexKind::Int {
            first: 1,
            bound: ANCESTORS_MAX + 1,
        },
        count: None,
    },
    IndexedSpec {
        name: "proc.ancestors[N].comm",
        kind: IndexKind::Int {
            first: 1,
            bound: ANCESTORS_MAX + 1,
        },
        count: None,
    },
    IndexedSpec {
        name: "proc.ancestors[N].exe",
        kind: IndexKind::Int {
            first: 1,
            bound: ANCESTORS_MAX + 1,
        },
        count: None,
    },
];

/// The [`IndexedSpec`] of a table field, if it is indexed.
pub fn indexed_spec(field: FieldId) -> Option<&'static IndexedSpec> {
    let name = FIELDS.get(usize::from(field.0))?.name;
    INDEXED.iter().find(|spec| spec.name == name)
}

/// The parts of an indexed name: `(base, index text, member)`, e.g.
/// `("proc.ancestors", "2", ".comm")`.
pub fn split_indexed(name: &str) -> Option<(&str, &str, &str)> {
    let open = name.find('[')?;
    let close = name.rfind(']')?;
    if close < open {
        return None;
    }
    Some((&name[..open], &name[open + 1..close], &name[close + 1..]))
}

/// Why a name with an index is not one element of an indexed field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexError {
    /// No field, indexed or not, has this base (and member).
    Unknown,
    /// The base is a plain field (`proc.uid[0]`).
    NotIndexed(FieldId),
    /// A position past the field's bound.
    OutOfRange { field: FieldId, bound: u16 },
    /// A key where positions are written (`exec.args["x"]`).
    KeyOnPositional(FieldId),
    /// A position where keys are written (`exec.env[0]`).
    PositionOnKeyed(FieldId),
    /// Not a number the field accepts (`exec.args[0x1]`, `exec.args[-1]`).
    BadPosition(FieldId),
    /// A key the field cannot have (empty, too long, other characters).
    BadKey { field: FieldId, why: String },
    /// `[*]`: any element, which only a test can use.
    Any(FieldId),
}

struct Instance {
    spec: &'static FieldSpec,
    family: FieldId,
    index: Index,
}

static INSTANCES: std::sync::RwLock<Vec<Instance>> = std::sync::RwLock::new(Vec::new());

fn instance(field: FieldId) -> Instance {
    let list = INSTANCES.read().unwrap_or_else(|e| e.into_inner());
    let at = usize::from(field.0) - FIELDS.len();
    let found = list
        .get(at)
        .expect("internal error: a field id that names no field");
    Instance {
        spec: found.spec,
        family: found.family,
        index: found.index,
    }
}

/// An element's index while it is looked up (a key not yet copied).
#[derive(Copy, Clone)]
enum IndexRef<'a> {
    At(u16),
    Key(&'a str),
}

/// The id of element `index` of `family` (made the first time it is named).
fn element_id(family: FieldId, index: IndexRef<'_>) -> FieldId {
    let same = |i: &Instance| match (i.index, index) {
        (Index::At(a), IndexRef::At(b)) => a == b,
        (Index::Key(a), IndexRef::Key(b)) => a == b,
        _ => false,
    };
    let find = |list: &Vec<Instance>| {
        list.iter()
            .position(|i| i.family == family && same(i))
            .map(|at| FieldId((FIELDS.len() + at) as u16))
    };
    if let Some(id) = find(&INSTANCES.read().unwrap_or_else(|e| e.into_inner())) {
        return id;
    }
    let mut list = INSTANCES.write().unwrap_or_else(|e| e.into_inner());
    if let Some(id) = find(&list) {
        return id;
    }
    let base = family.spec();
    let (stem, _, member) = split_indexed(base.name).expect("an indexed name");
    let index = match index {
        IndexRef::At(n) => Index::At(n),
        IndexRef::Key(key) => Index::Key(Box::leak(key.to_string().into_boxed_str())),
    };
    let name: &'static str = Box::leak(format!("{stem}[{index}]{member}").into_boxed_str());
    let spec: &'static FieldSpec = Box::leak(Box::new(FieldSpec { name, ..*base }));
    list.push(Instance {
        spec,
        family,
        index,
    });
    FieldId((FIELDS.len() + list.len() - 1) as u16)
}

/// Decodes a key written in an index (`"PATH"`, quotes included; the
/// escapes of [`crate::syntax::quote_key`]).
fn unquote_key(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Resolves `BASE[INDEX]MEMBER` to the element's field id.
pub fn resolve_indexed(name: &str) -> Result<FieldId, IndexError> {
    let (base, index, member) = split_indexed(name).ok_or(IndexError::Unknown)?;
    let family = INDEXED
        .iter()
        .find(|spec| split_indexed(spec.name).is_some_and(|(b, _, m)| b == base && m == member))
        .and_then(|spec| FieldId::from_name_exact(spec.name).map(|id| (id, spec)));
    let Some((family, spec)) = family else {
        return match FieldId::from_name(&format!("{base}{member}")) {
            Some(plain) if member.is_empty() => Err(IndexError::NotIndexed(plain)),
            _ => Err(IndexError::Unknown),
        };
    };
    if index == "*" {
        return Err(IndexError::Any(family));
    }
    let quoted = index.starts_with('"');
    match spec.kind {
        IndexKind::Int { first, bound } => {
            if quoted {
                return Err(IndexError::KeyOnPositional(family));
            }
            if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                return Err(IndexError::BadPosition(family));
            }
            match index.parse::<u16>() {
                Ok(n) if (first..bound).contains(&n) => Ok(element_id(family, IndexRef::At(n))),
                _ => Err(IndexError::OutOfRange {
                    field: family,
                    bound,
                }),
            }
        }
        IndexKind::Key { max_len } => {
            if !quoted {
                return Err(IndexError::PositionOnKeyed(family));
            }
            let key = unquote_key(index).ok_or(IndexError::BadPosition(family))?;
            let why = if key.is_empty() {
                Some("the name is empty".to_string())
            } else if key.len() > usize::from(max_len) {
                Some(format!("names are at most {max_len} bytes"))
            } else if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                Some("names are ASCII letters, digits and `_`".to_string())
            } else {
                None
            };
            if let Some(why) = why {
                return Err(IndexError::BadKey { field: family, why });
            }
            Ok(element_id(family, IndexRef::Key(&key)))
        }
    }
}

impl FieldId {
    /// Looks a table field up by its exact name (indexed ones by their
    /// written form, `exec.args[N]`).
    pub fn from_name_exact(name: &str) -> Option<FieldId> {
        FIELDS
            .iter()
            .position(|f| f.name == name)
            .map(|i| FieldId(i as u16))
    }
}

/// The indexed fields written `BASE[...]` (one per member: `proc.ancestors`
/// has `.comm`, `.exe`, ...), in table order.
pub fn indexed_by_base(base: &str) -> Vec<FieldId> {
    INDEXED
        .iter()
        .filter(|spec| split_indexed(spec.name).is_some_and(|(b, _, _)| b == base))
        .filter_map(|spec| FieldId::from_name_exact(spec.name))
        .collect()
}

/// The elements `FIELD[*]` stands for: every position of a positional field
/// (with the field counting them), or `None` for a keyed one.
pub fn any_elements(family: FieldId) -> Option<(Vec<FieldId>, Option<FieldId>)> {
    let spec = indexed_spec(family)?;
    let IndexKind::Int { first, bound } = spec.kind else {
        return None;
    };
    let elements = (first..bound)
        .map(|n| element_id(family, IndexRef::At(n)))
        .collect();
    Some((elements, spec.count.and_then(FieldId::from_name)))
}

/// The field holding the id the node's user database (`group`: group
/// database) gives `name`: an element of `account.uid["NAME"]` or
/// `account.gid["NAME"]`, which no hook offers and no policy names; the
/// checker compares the user's id field with it (`proc.user == "root"` is
/// `proc.uid == account.uid["root"]`).
pub fn account_id_field(group: bool, name: &str) -> FieldId {
    let family = if group {
        "account.gid[\"NAME\"]"
    } else {
        "account.uid[\"NAME\"]"
    };
    let family = FieldId::from_name_exact(family).expect("the account id fields are in FIELDS");
    element_id(family, IndexRef::Key(name))
}

/// The database and name of a field [`account_id_field`] made.
pub fn account_of(field: FieldId) -> Option<(bool, &'static str)> {
    let (family, index) = field.element()?;
    match (family.spec().common_source, index) {
        (Some(FieldSource::AccountIds { group }), Index::Key(name)) => Some((group, name)),
        _ => None,
    }
}

impl FieldSpec {
    /// Whether no hook offers this field (the ids behind user and group
    /// names): never listed, never written in a policy.
    pub fn internal(&self) -> bool {
        matches!(self.scope, FieldScope::Hooks([]))
    }
}

/// Ancestors `proc.ancestors[N]` reads: `N` from 1 (the parent) to this.
pub const ANCESTORS_MAX: u16 = 8;
/// Arguments of the new program `exec.args[N]` reads (`N` below this).
pub const EXEC_ARGS_MAX: u16 = 16;
/// Length, including the NUL, of each `exec.args[N]`.
pub const EXEC_ARG_LEN: u16 = 128;
/// Length, including the NUL, of `exec.cmdline` and `proc.cmdline`.
pub const CMDLINE_LEN: u16 = 512;
/// Longest variable name `exec.env["NAME"]` takes.
pub const ENV_NAME_MAX: u16 = 32;
/// Length, including the NUL, of `exec.env["NAME"]`'s value.
pub const ENV_VALUE_LEN: u16 = 256;
/// Variables of the new program's environment `exec.env["NAME"]` looks
/// at (the first ones, in the order the caller passed them).
pub const ENV_VARS_MAX: u16 = 64;

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
/// Length, including the NUL, of a terminal's name (`tty_struct.name`).
pub const TTY_NAME_LEN: u16 = 64;

/// `AF_INET`.
pub const AF_INET: u64 = 2;
/// `AF_INET6`.
pub const AF_INET6: u64 = 10;

const ALL_BITS: u64 = u64::MAX;

/// The hooks on files, whose `file.path` is the file the operation is on.
const FILE_HOOKS: &[Hook] = &[
    Hook::FileOpen,
    Hook::FileUnlink,
    Hook::FileRename,
    Hook::FileLink,
    Hook::FileSymlink,
    Hook::FileMkdir,
    Hook::FileRmdir,
    Hook::FileChmod,
    Hook::FileChown,
    Hook::FileTruncate,
    Hook::FileMmap,
];

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
        scope: FieldScope::Hooks(FILE_HOOKS),
        doc: "path of the file the operation is on, resolved by the kernel: the file opened, \
              removed, renamed (its old name), linked to, made (the new directory or \
              symbolic link), changed or truncated; the file mapped (empty for anonymous \
              memory)",
        common_source: None,
        resolved_path: true,
    },
    FieldSpec {
        name: "file.flags",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::FileOpen),
        doc: "open flags, tested with `has` and the O_* constants (`file.flags has O_TRUNC`); \
              O_RDONLY is 0, no bit: see `file.read`",
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
        scope: FieldScope::Hooks(&[Hook::NetConnect, Hook::NetBind, Hook::NetListen, Hook::NetAccept]),
        doc: "address family of the socket address: 2 (AF_INET) or 10 (AF_INET6; 2 for an \
              IPv4-mapped address)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "net.daddr",
        ty: FieldType::Ip,
        scope: FieldScope::Hooks(&[Hook::NetConnect, Hook::NetAccept]),
        doc: "remote address: the destination of a connect, the peer of an accepted \
              connection (IPv4 or IPv6; an IPv4-mapped IPv6 address, ::ffff:a.b.c.d, is the IPv4 address a.b.c.d)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "net.dport",
        ty: FieldType::Int { bits: 16 },
        scope: FieldScope::Hooks(&[Hook::NetConnect, Hook::NetAccept]),
        doc: "remote port: the destination port of a connect, the peer's port of an \
              accepted connection",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "net.saddr",
        ty: FieldType::Ip,
        scope: FieldScope::Hooks(&[Hook::NetBind, Hook::NetListen, Hook::NetAccept]),
        doc: "local address: being bound, listened on, or of an accepted connection (0.0.0.0 \
              or :: for every address; an IPv4-mapped IPv6 address is the IPv4 address)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "net.sport",
        ty: FieldType::Int { bits: 16 },
        scope: FieldScope::Hooks(&[Hook::NetBind, Hook::NetListen, Hook::NetAccept]),
        doc: "local port: being bound (0: the kernel picks one), listened on, or of an \
              accepted connection",
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
    FieldSpec {
        name: "file.newpath",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Hooks(&[Hook::FileRename, Hook::FileLink]),
        doc: "the new name of a rename or hard link, resolved by the kernel (its directory's path and the name)",
        common_source: None,
        resolved_path: true,
    },
    FieldSpec {
        name: "file.target",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Hook(Hook::FileSymlink),
        doc: "the text a symbolic link holds, as the caller passed it (not resolved: a link may point anywhere, or nowhere)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "file.mode",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hooks(&[Hook::FileChmod, Hook::FileMkdir]),
        doc: "the permission bits (with set-id and sticky, 0o7777) of a chmod, or of a new directory",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "file.setid",
        ty: FieldType::Bool,
        scope: FieldScope::Hook(Hook::FileChmod),
        doc: "true when the new mode sets the set-user-ID or set-group-ID bit (S_ISUID, S_ISGID)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "file.uid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::FileChown),
        doc: "the new owner's user id (4294967295: unchanged)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "file.gid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::FileChown),
        doc: "the new group id (4294967295: unchanged)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "file.deleted",
        ty: FieldType::Bool,
        scope: FieldScope::Hook(Hook::FileMmap),
        doc: "true when the mapped file has no name left: deleted while open, or never linked (a memfd)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "file.memfd",
        ty: FieldType::Bool,
        scope: FieldScope::Hook(Hook::FileMmap),
        doc: "true when the mapped file is a memfd (memfd_create): fileless code",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "mmap.prot",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::FileMmap),
        doc: "the protection asked for (PROT_READ 1, PROT_WRITE 2, PROT_EXEC 4)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "mmap.flags",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::FileMmap),
        doc: "mmap flags (MAP_SHARED 1, MAP_PRIVATE 2, MAP_FIXED 0x10, MAP_ANONYMOUS 0x20, ...); 0 for mprotect",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "mmap.mprotect",
        ty: FieldType::Bool,
        scope: FieldScope::Hook(Hook::FileMmap),
        doc: "true for an mprotect making existing memory executable, false for a new mapping",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "ptrace.attach",
        ty: FieldType::Bool,
        scope: FieldScope::Hook(Hook::ProcPtrace),
        doc: "true when the access lets the task control the target (ptrace attach, process_vm_writev, writing /proc/PID/mem), false for a read (/proc/PID/environ, ...)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "target.pid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hooks(&[Hook::ProcPtrace, Hook::ProcSignal]),
        doc: "process id of the task traced or signalled",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "target.comm",
        ty: FieldType::Str { max: COMM_LEN },
        scope: FieldScope::Hooks(&[Hook::ProcPtrace, Hook::ProcSignal]),
        doc: "command name of the task traced or signalled",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "setuid.uid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::ProcSetuid),
        doc: "the real user id the task is to have (proc.uid is the one it has)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "setuid.euid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::ProcSetuid),
        doc: "the effective user id the task is to have",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "setgid.gid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::ProcSetgid),
        doc: "the real group id the task is to have (proc.gid is the one it has)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "setgid.egid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::ProcSetgid),
        doc: "the effective group id the task is to have",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "capset.effective",
        ty: FieldType::Int { bits: 64 },
        scope: FieldScope::Hook(Hook::ProcCapset),
        doc: "the effective capability set asked for (bit N: capability N, e.g. 1 << 21 CAP_SYS_ADMIN)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "capset.permitted",
        ty: FieldType::Int { bits: 64 },
        scope: FieldScope::Hook(Hook::ProcCapset),
        doc: "the permitted capability set asked for",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "capset.inheritable",
        ty: FieldType::Int { bits: 64 },
        scope: FieldScope::Hook(Hook::ProcCapset),
        doc: "the inheritable capability set asked for",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "signal.sig",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::ProcSignal),
        doc: "the signal number (9 SIGKILL, 15 SIGTERM, ...; 0 only checks the target exists)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "ns.flags",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::ProcNamespace),
        doc: "the CLONE_NEW* flags: the namespaces created (unshare, clone) or the type joined (setns; 0: whatever the descriptor is)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "ns.setns",
        ty: FieldType::Bool,
        scope: FieldScope::Hook(Hook::ProcNamespace),
        doc: "true when the task joins an existing namespace (setns), false when it creates some",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "mount.source",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Hook(Hook::Mount),
        doc: "the source as the caller passed it (a device, a directory for a bind mount, any text for virtual file systems); empty for a moved mount",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "mount.target",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Hooks(&[Hook::Mount, Hook::Umount]),
        doc: "the mount point, resolved by the kernel",
        common_source: None,
        resolved_path: true,
    },
    FieldSpec {
        name: "mount.fstype",
        ty: FieldType::Str { max: 64 },
        scope: FieldScope::Hook(Hook::Mount),
        doc: "the file system type (ext4, tmpfs, proc, overlay, ...): as the caller passed it to mount, the mount's own for a moved mount",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "mount.flags",
        ty: FieldType::Int { bits: 64 },
        scope: FieldScope::Hooks(&[Hook::Mount, Hook::Umount]),
        doc: "mount flags (MS_RDONLY 1, MS_BIND 4096, MS_MOVE 8192, MS_REMOUNT 32, ...) or umount flags (MNT_FORCE 1, MNT_DETACH 2)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "module.name",
        ty: FieldType::Str { max: 64 },
        scope: FieldScope::Hook(Hook::ModuleRequest),
        doc: "the name or alias the kernel is asked to load (net-pf-10, fs-cramfs, ...)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "socket.family",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::SocketCreate),
        doc: "address family (1 AF_UNIX, 2 AF_INET, 10 AF_INET6, 16 AF_NETLINK, 17 AF_PACKET)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "socket.type",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::SocketCreate),
        doc: "socket type without its flags (1 SOCK_STREAM, 2 SOCK_DGRAM, 3 SOCK_RAW, 5 SOCK_SEQPACKET, 10 SOCK_PACKET)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "socket.protocol",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::SocketCreate),
        doc: "protocol (0 the family's default, 6 TCP, 17 UDP, 1 ICMP, 255 raw; for AF_PACKET the ethertype in network byte order)",
        common_source: None,
        resolved_path: false,
    },    // Bit tests and named constants: "opened for reading", which no bit
    // of the open flags says (O_RDONLY is 0).
    FieldSpec {
        name: "file.read",
        ty: FieldType::Bool,
        scope: FieldScope::Hook(Hook::FileOpen),
        doc: "true when the file is opened for reading (O_RDONLY or O_RDWR: `FMODE_READ`)",
        common_source: None,
        resolved_path: false,
    },
    // Transport protocol and socket type of the socket connecting or being
    // bound.
    FieldSpec {
        name: "net.protocol",
        ty: FieldType::Int { bits: 16 },
        scope: FieldScope::Hooks(&[Hook::NetConnect, Hook::NetBind]),
        doc: "the socket's protocol (6 IPPROTO_TCP, 17 IPPROTO_UDP, 1 IPPROTO_ICMP, 58 IPPROTO_ICMPV6, 132 IPPROTO_SCTP, 262 IPPROTO_MPTCP, 255 IPPROTO_RAW, ...)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "net.type",
        ty: FieldType::Int { bits: 16 },
        scope: FieldScope::Hooks(&[Hook::NetConnect, Hook::NetBind]),
        doc: "the socket's type (1 SOCK_STREAM, 2 SOCK_DGRAM, 3 SOCK_RAW, 5 SOCK_SEQPACKET)",
        common_source: None,
        resolved_path: false,
    },
    // Process context: identities, pid namespace, capabilities, terminal,
    // working directory, parent's executable, age.
    FieldSpec {
        name: "proc.euid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "effective user id (`cred->euid`: 0 while a set-user-ID root program runs)",
        common_source: Some(FieldSource::TaskInt(&[
            KernelMember::TaskCred,
            KernelMember::CredEuid,
        ])),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.egid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "effective group id (`cred->egid`)",
        common_source: Some(FieldSource::TaskInt(&[
            KernelMember::TaskCred,
            KernelMember::CredEgid,
        ])),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.auid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "login user id (audit `loginuid`, kept across su and sudo); 4294967295 when \
              unset (daemons started at boot)",
        common_source: Some(FieldSource::TaskInt(&[KernelMember::TaskLoginuid])),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.vpid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "process id as the process's own pid namespace numbers it (1 for a container's \
              init; proc.pid in the initial namespace)",
        common_source: Some(FieldSource::TaskVpid),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.host_pidns",
        ty: FieldType::Bool,
        scope: FieldScope::Common,
        doc: "true when the task is in the initial (host) pid namespace",
        common_source: Some(FieldSource::TaskHostPidns),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.cap_effective",
        ty: FieldType::Int { bits: 64 },
        scope: FieldScope::Common,
        doc: "effective capability set (bit N: capability N, e.g. 1 << 21 CAP_SYS_ADMIN)",
        common_source: Some(FieldSource::TaskInt(&[
            KernelMember::TaskCred,
            KernelMember::CredCapEffective,
        ])),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.tty",
        ty: FieldType::Str { max: TTY_NAME_LEN },
        scope: FieldScope::Common,
        doc: "the controlling terminal as the kernel names it (pts0, tty1, ttyS0), empty \
              without one",
        common_source: Some(FieldSource::TaskStr(&[
            KernelMember::TaskSignal,
            KernelMember::SignalTty,
            KernelMember::TtyName,
        ])),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.cwd",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Common,
        doc: "working directory (`fs->pwd`), resolved by the kernel",
        common_source: Some(FieldSource::ResolvedPath(FileRef::TaskCwd)),
        resolved_path: true,
    },
    FieldSpec {
        name: "proc.parent.exe",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Common,
        doc: "path of the parent's executable (`real_parent->mm->exe_file`), resolved by the \
              kernel; empty for a kernel thread parent",
        common_source: Some(FieldSource::ResolvedPath(FileRef::ParentExe)),
        resolved_path: true,
    },
    FieldSpec {
        name: "proc.age",
        ty: FieldType::Int { bits: 64 },
        scope: FieldScope::Common,
        doc: "nanoseconds since the process started (its thread group leader's \
              `start_time`, on the monotonic clock: suspend not counted)",
        common_source: Some(FieldSource::TaskAge),
        resolved_path: false,
    },
    // Container context: from the names of the task's cgroup v2 directory
    // and its ancestors (see `crate::container`).
    FieldSpec {
        name: "container.id",
        ty: FieldType::Str { max: CONTAINER_ID_LEN },
        scope: FieldScope::Common,
        doc: "id (64 hex digits) of the container the task is in, from its cgroup's name \
              (docker, containerd, CRI-O, podman, Kubernetes), or the container's name \
              (systemd-nspawn, LXC, LXD, Incus; its first 64 bytes); empty outside containers; \
              `unknown` when the cgroup is deeper than the 16 levels the program reads",
        common_source: Some(FieldSource::Container(ContainerPart::Id)),
        resolved_path: false,
    },
    FieldSpec {
        name: "container.short_id",
        ty: FieldType::Str { max: CONTAINER_SHORT_ID_LEN },
        scope: FieldScope::Common,
        doc: "the first 12 bytes of `container.id` (the id as `docker ps` and Falco show it)",
        common_source: Some(FieldSource::Container(ContainerPart::ShortId)),
        resolved_path: false,
    },
    FieldSpec {
        name: "container.runtime",
        ty: FieldType::Str { max: CONTAINER_RUNTIME_LEN },
        scope: FieldScope::Common,
        doc: "runtime the container's cgroup name says: `docker`, `containerd`, `crio`, `podman`, \
              `cri` (a CRI runtime under Kubernetes' cgroupfs driver), `systemd-nspawn`, `lxc` \
              (LXC, LXD, Incus) or `unknown`; empty outside containers",
        common_source: Some(FieldSource::Container(ContainerPart::Runtime)),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.in_container",
        ty: FieldType::Bool,
        scope: FieldScope::Common,
        doc: "whether the task is in a container (`container.id` is not empty)",
        common_source: Some(FieldSource::Container(ContainerPart::InContainer)),
        resolved_path: false,
    },
    FieldSpec {
        name: "k8s.pod.uid",
        ty: FieldType::Str { max: POD_UID_FIELD_LEN },
        scope: FieldScope::Common,
        doc: "uid of the Kubernetes pod the task is in, from the kubepods cgroup path; \
              empty outside pods",
        common_source: Some(FieldSource::Container(ContainerPart::PodUid)),
        resolved_path: false,
    },
    FieldSpec {
        name: "k8s.pod.qos",
        ty: FieldType::Str { max: POD_QOS_LEN },
        scope: FieldScope::Common,
        doc: "QoS class of the Kubernetes pod the task is in: `guaranteed`, `burstable` or \
              `besteffort`; empty outside pods",
        common_source: Some(FieldSource::Container(ContainerPart::PodQos)),
        resolved_path: false,
    },
    // command lines and environment (exec)
    FieldSpec {
        name: "exec.args[N]",
        ty: FieldType::Str { max: EXEC_ARG_LEN },
        scope: FieldScope::Hook(Hook::Exec),
        doc: "argument N (0 to 15; 0 is usually the program's name) of the new program, as the kernel placed it in the new program's memory; empty past the last; `exec.args[*]` tests every argument that exists",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "exec.argc",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hook(Hook::Exec),
        doc: "number of arguments of the new program (all of them, not only those `exec.args[N]` reads)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "exec.cmdline",
        ty: FieldType::Str { max: CMDLINE_LEN },
        scope: FieldScope::Hook(Hook::Exec),
        doc: "command line of the new program: its arguments joined with single spaces (as `/proc/PID/cmdline` with its NULs made spaces)",
        common_source: None,
        resolved_path: false,
    },
    FieldSpec {
        name: "exec.env[\"NAME\"]",
        ty: FieldType::Str { max: ENV_VALUE_LEN },
        scope: FieldScope::Hook(Hook::Exec),
        doc: "value of the environment variable NAME (e.g. `exec.env[\"LD_PRELOAD\"]`) in the new program's environment; empty when it is not set",
        common_source: None,
        resolved_path: false,
    },
    // ancestry
    FieldSpec {
        name: "proc.ancestors[N].pid",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Common,
        doc: "process id of the N-th ancestor (1 to 8: 1 the parent, 2 the grandparent, ... \
              through `real_parent`); 0 past the top of the process tree; \
              `proc.ancestors[*].pid` tests every one",
        common_source: Some(FieldSource::AncestorPid(0)),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.ancestors[N].comm",
        ty: FieldType::Str { max: COMM_LEN },
        scope: FieldScope::Common,
        doc: "command name of the N-th ancestor (1 to 8); empty past the top of the process tree",
        common_source: Some(FieldSource::AncestorComm(0)),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.ancestors[N].exe",
        ty: FieldType::Str { max: PATH_MAX_LEN },
        scope: FieldScope::Common,
        doc: "path of the N-th ancestor's executable (1 to 8), resolved by the kernel; empty \
              past the top of the process tree and for kernel threads",
        common_source: Some(FieldSource::ResolvedPath(FileRef::AncestorExe(0))),
        resolved_path: true,
    },
    FieldSpec {
        name: "proc.cmdline",
        ty: FieldType::Str { max: CMDLINE_LEN },
        scope: FieldScope::Common,
        doc: "command line of the process at its last exec, arguments joined with single spaces (kept by polc: what the process later writes over its arguments does not change it); on `exec`, the new program's (`exec.cmdline`)",
        common_source: Some(FieldSource::CmdlineSnapshot { parent: false }),
        resolved_path: false,
    },
    FieldSpec {
        name: "proc.parent.cmdline",
        ty: FieldType::Str { max: CMDLINE_LEN },
        scope: FieldScope::Common,
        doc: "command line of the parent process at its last exec (as `proc.cmdline`)",
        common_source: Some(FieldSource::CmdlineSnapshot { parent: true }),
        resolved_path: false,
    },
    // user and group names: the ids names stand for (no hook offers them:
    // the checker makes `proc.user == "NAME"` a comparison with one of
    // their elements, see `account_id_field`)
    FieldSpec {
        name: "account.uid[\"NAME\"]",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hooks(&[]),
        doc: "the user id the node's user database gives NAME",
        common_source: Some(FieldSource::AccountIds { group: false }),
        resolved_path: false,
    },
    FieldSpec {
        name: "account.gid[\"NAME\"]",
        ty: FieldType::Int { bits: 32 },
        scope: FieldScope::Hooks(&[]),
        doc: "the group id the node's group database gives NAME",
        common_source: Some(FieldSource::AccountIds { group: true }),
        resolved_path: false,
    },
    // overlayfs upper layer (Falco's `proc.is_exe_upper_layer`)
    FieldSpec {
        name: "proc.exe.upper_layer",
        ty: FieldType::Bool,
        scope: FieldScope::Common,
        doc: "true when the task's executable (`proc.exe`) is in an overlayfs upper layer: \
              written (or modified, so copied up) in the container after it started, not \
              shipped in its image (Falco's `proc.is_exe_upper_layer`); false on other file systems",
        common_source: Some(FieldSource::FileUpperLayer(FileRef::TaskExe)),
        resolved_path: false,
    },
    FieldSpec {
        name: "exec.upper_layer",
        ty: FieldType::Bool,
        scope: FieldScope::Hook(Hook::Exec),
        doc: "true when the file being executed or mapped (`exec.path`) is in an overlayfs \
              upper layer (as `proc.exe.upper_layer`); true for an mprotect making a \
              file's mapping executable (lsm), whose layer the kernel does not say",
        common_source: None,
        resolved_path: false,
    },
];

const BPRM_FILE: &[KernelMember] = &[KernelMember::BinprmFile];
const BPRM_FILENAME: &[KernelMember] = &[KernelMember::BinprmFilename];
const VMA_FILE: &[KernelMember] = &[KernelMember::VmAreaFile];

/// Command lines and environment where the new program's memory is not
/// current yet (`bprm_check_security`: the kernel has copied the strings
/// into a memory no BPF helper reads).
const EXEC_ARGS_UNREADABLE: [(&str, FieldSource); 5] = [
    ("exec.args[N]", FieldSource::Unreadable),
    ("exec.argc", FieldSource::Unreadable),
    ("exec.cmdline", FieldSource::Unreadable),
    ("exec.env[\"NAME\"]", FieldSource::Unreadable),
    ("proc.cmdline", FieldSource::Unreadable),
];
/// Command lines and environment at an executable mapping: not the exec's
/// (the running program may have rewritten its own), so none.
const EXEC_ARGS_NONE: [(&str, FieldSource); 4] = [
    ("exec.args[N]", FieldSource::EmptyStr),
    ("exec.argc", FieldSource::ConstInt(0)),
    ("exec.cmdline", FieldSource::EmptyStr),
    ("exec.env[\"NAME\"]", FieldSource::EmptyStr),
];
/// Command lines and environment at the exec's point of no return, from
/// the new program's memory.
const EXEC_ARGS_NEW: [(&str, FieldSource); 5] = [
    ("exec.args[N]", FieldSource::ExecArgs),
    ("exec.argc", FieldSource::ExecArgc),
    ("exec.cmdline", FieldSource::Cmdline),
    ("exec.env[\"NAME\"]", FieldSource::ExecEnv),
    ("proc.cmdline", FieldSource::Cmdline),
];

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
    EXEC_ARGS_UNREADABLE[0],
    EXEC_ARGS_UNREADABLE[1],
    EXEC_ARGS_UNREADABLE[2],
    EXEC_ARGS_UNREADABLE[3],
    EXEC_ARGS_UNREADABLE[4],
    // overlayfs upper layer
    (
        "exec.upper_layer",
        FieldSource::FileUpperLayer(FileRef::Arg {
            arg: 0,
            path: BPRM_FILE,
        }),
    ),
];
const EXEC_MMAP_LSM: &[(&str, FieldSource)] = &[
    (
        "exec.path",
        FieldSource::ResolvedPath(FileRef::Arg { arg: 0, path: &[] }),
    ),
    ("exec.filename", FieldSource::EmptyStr),
    EXEC_ARGS_NONE[0],
    EXEC_ARGS_NONE[1],
    EXEC_ARGS_NONE[2],
    EXEC_ARGS_NONE[3],
    // overlayfs upper layer
    (
        "exec.upper_layer",
        FieldSource::FileUpperLayer(FileRef::Arg { arg: 0, path: &[] }),
    ),
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
    EXEC_ARGS_NONE[0],
    EXEC_ARGS_NONE[1],
    EXEC_ARGS_NONE[2],
    EXEC_ARGS_NONE[3],
    // overlayfs upper layer
    // `ovl_mmap` put overlayfs' underlying file into the mapping, whose
    // inode is not an overlayfs one: the layer is not known, and a deny
    // rule on it decides fail-closed (true).
    ("exec.upper_layer", FieldSource::ConstInt(1)),
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
    EXEC_ARGS_NEW[0],
    EXEC_ARGS_NEW[1],
    EXEC_ARGS_NEW[2],
    EXEC_ARGS_NEW[3],
    EXEC_ARGS_NEW[4],
    // overlayfs upper layer
    (
        "exec.upper_layer",
        FieldSource::FileUpperLayer(FileRef::Arg {
            arg: 2,
            path: BPRM_FILE,
        }),
    ),
];
/// `mmap(addr, len, prot, flags, fd, offset)` at system call entry.
const EXEC_MMAP_TP_BTF: &[(&str, FieldSource)] = &[
    (
        "exec.path",
        FieldSource::ResolvedPath(FileRef::SyscallFdArg { idx: 4 }),
    ),
    ("exec.filename", FieldSource::EmptyStr),
    EXEC_ARGS_NONE[0],
    EXEC_ARGS_NONE[1],
    EXEC_ARGS_NONE[2],
    EXEC_ARGS_NONE[3],
    // overlayfs upper layer
    (
        "exec.upper_layer",
        FieldSource::FileUpperLayer(FileRef::SyscallFdArg { idx: 4 }),
    ),
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
    (
        "file.read",
        FieldSource::ArgInt {
            arg: 0,
            path: &[KernelMember::FileFMode],
            mask: FMODE_READ,
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
    (
        "file.read",
        FieldSource::FileInt {
            file: FileRef::ReturnedFd,
            path: &[KernelMember::FileFMode],
            mask: FMODE_READ,
        },
    ),
];
const NET_CONNECT_LSM: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::SockaddrFamily),
    ("net.daddr", FieldSource::SockaddrAddr),
    ("net.dport", FieldSource::SockaddrPort),
    ("net.protocol", SOCKET_ARG0_PROTOCOL),
    ("net.type", SOCKET_ARG0_TYPE),
];
const NET_CONNECT4: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::ConstInt(AF_INET)),
    ("net.daddr", FieldSource::SockAddrCtxIp4),
    ("net.dport", FieldSource::SockAddrCtxPort),
    ("net.protocol", FieldSource::SockAddrCtxProtocol),
    ("net.type", FieldSource::SockAddrCtxType),
];
const NET_CONNECT6: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::SockAddrCtxFamily6),
    ("net.daddr", FieldSource::SockAddrCtxIp6),
    ("net.dport", FieldSource::SockAddrCtxPort),
    ("net.protocol", FieldSource::SockAddrCtxProtocol),
    ("net.type", FieldSource::SockAddrCtxType),
];
const NET_BIND_LSM: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::SockaddrFamily),
    ("net.saddr", FieldSource::SockaddrAddr),
    ("net.sport", FieldSource::SockaddrPort),
    ("net.protocol", SOCKET_ARG0_PROTOCOL),
    ("net.type", SOCKET_ARG0_TYPE),
];
const NET_BIND4: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::ConstInt(AF_INET)),
    ("net.saddr", FieldSource::SockAddrCtxIp4),
    ("net.sport", FieldSource::SockAddrCtxPort),
    ("net.protocol", FieldSource::SockAddrCtxProtocol),
    ("net.type", FieldSource::SockAddrCtxType),
];
const NET_BIND6: &[(&str, FieldSource)] = &[
    ("net.family", FieldSource::SockAddrCtxFamily6),
    ("net.saddr", FieldSource::SockAddrCtxIp6),
    ("net.sport", FieldSource::SockAddrCtxPort),
    ("net.protocol", FieldSource::SockAddrCtxProtocol),
    ("net.type", FieldSource::SockAddrCtxType),
];
/// `socket->sk->sk_protocol` of a `struct socket *` context argument 0
/// (`socket_connect`, `socket_sendmsg`, `socket_bind`).
const SOCKET_ARG0_PROTOCOL: FieldSource = FieldSource::ArgInt {
    arg: 0,
    path: &[KernelMember::SocketSk, KernelMember::SkProtocol],
    mask: 0xffff,
};
/// `socket->type` of a `struct socket *` context argument 0.
const SOCKET_ARG0_TYPE: FieldSource = FieldSource::ArgInt {
    arg: 0,
    path: &[KernelMember::SocketType],
    mask: 0xffff,
};
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

// The hooks on files, operations, processes, mounts and sockets. Their LSM
// programs read what the kernel resolved (a `struct path`, a dentry in its
// directory, the new credentials, the socket); their fallbacks decide at
// system call entry or exit, where a name the caller passed is not resolved
// yet (`FileRef::Unresolved`: tests on it decide fail-closed) but a file
// descriptor is.

/// `path_unlink`, `path_rmdir`, `path_mkdir`, `path_symlink`
/// `(const struct path *dir, struct dentry *dentry, ...)`.
const DENTRY_IN_DIR: FieldSource =
    FieldSource::ResolvedPath(FileRef::DentryInDir { dir: 0, dentry: 1 });
const UNRESOLVED: FieldSource = FieldSource::ResolvedPath(FileRef::Unresolved);
const PATH_ARG0: FieldSource = FieldSource::ResolvedPath(FileRef::PathArg { arg: 0 });

const FILE_DENTRY_LSM: &[(&str, FieldSource)] = &[("file.path", DENTRY_IN_DIR)];
const FILE_UNRESOLVED: &[(&str, FieldSource)] = &[("file.path", UNRESOLVED)];

const UNLINK_CALLS: &[Syscall] = &[Syscall::Unlink, Syscall::Unlinkat];
const RMDIR_CALLS: &[Syscall] = &[Syscall::Rmdir, Syscall::Unlinkat];
/// `unlinkat`'s `AT_REMOVEDIR`: the call removes a directory.
const AT_REMOVEDIR: u64 = 0x200;

/// `path_rename(old_dir, old_dentry, new_dir, new_dentry[, flags])`.
const FILE_RENAME_LSM: &[(&str, FieldSource)] = &[
    ("file.path", DENTRY_IN_DIR),
    (
        "file.newpath",
        FieldSource::ResolvedPath(FileRef::DentryInDir { dir: 2, dentry: 3 }),
    ),
];
/// `renameat2`'s `RENAME_EXCHANGE`: both names move.
const RENAME_EXCHANGE: u64 = 2;
/// The other half of an exchange, decided as a rename of its own: the new
/// name's file moves to the old name (`path_rename` is called once, with
/// `flags`, since 6.0).
const FILE_RENAME_EXCHANGE_LSM: &[(&str, FieldSource)] = &[
    (
        "file.path",
        FieldSource::ResolvedPath(FileRef::DentryInDir { dir: 2, dentry: 3 }),
    ),
    ("file.newpath", DENTRY_IN_DIR),
];
const FILE_RENAME_TP_BTF: &[(&str, FieldSource)] =
    &[("file.path", UNRESOLVED), ("file.newpath", UNRESOLVED)];
/// `path_link(old_dentry, new_dir, new_dentry)`: a hard link never crosses
/// mounts, so the old dentry is in the new directory's mount.
const FILE_LINK_LSM: &[(&str, FieldSource)] = &[
    (
        "file.path",
        FieldSource::ResolvedPath(FileRef::DentryInDir { dir: 1, dentry: 0 }),
    ),
    (
        "file.newpath",
        FieldSource::ResolvedPath(FileRef::DentryInDir { dir: 1, dentry: 2 }),
    ),
];
/// `path_symlink(dir, dentry, old_name)`.
const FILE_SYMLINK_LSM: &[(&str, FieldSource)] = &[
    ("file.path", DENTRY_IN_DIR),
    (
        "file.target",
        FieldSource::ArgKernelStr { arg: 2, path: &[] },
    ),
];
/// `symlink(target, linkpath)`, `symlinkat(target, newdirfd, linkpath)`.
const FILE_SYMLINK_TP_BTF: &[(&str, FieldSource)] = &[
    ("file.path", UNRESOLVED),
    ("file.target", FieldSource::SyscallUserStr { idx: 0 }),
];
/// `path_mkdir(dir, dentry, mode)`: the mode after the umask.
const FILE_MKDIR_LSM: &[(&str, FieldSource)] = &[
    ("file.path", DENTRY_IN_DIR),
    (
        "file.mode",
        FieldSource::ArgInt {
            arg: 2,
            path: &[],
            mask: MODE_BITS,
        },
    ),
];
const FILE_MKDIR_TP_BTF: &[(&str, FieldSource)] = &[
    ("file.path", UNRESOLVED),
    (
        "file.mode",
        FieldSource::CallArg {
            calls: &[(Syscall::Mkdir, 1), (Syscall::Mkdirat, 2)],
            mask: MODE_BITS,
        },
    ),
];
/// `path_chmod(path, mode)`.
const FILE_CHMOD_LSM: &[(&str, FieldSource)] = &[
    ("file.path", PATH_ARG0),
    (
        "file.mode",
        FieldSource::ArgInt {
            arg: 1,
            path: &[],
            mask: MODE_BITS,
        },
    ),
    (
        "file.setid",
        FieldSource::ArgInt {
            arg: 1,
            path: &[],
            mask: S_ISUID_ISGID,
        },
    ),
];
const CHMOD_MODE: &[(Syscall, u8)] = &[
    (Syscall::Chmod, 1),
    (Syscall::Fchmod, 1),
    (Syscall::Fchmodat, 2),
    (Syscall::Fchmodat2, 2),
];
const FILE_CHMOD_BY_NAME: &[(&str, FieldSource)] = &[
    ("file.path", UNRESOLVED),
    (
        "file.mode",
        FieldSource::CallArg {
            calls: CHMOD_MODE,
            mask: MODE_BITS,
        },
    ),
    (
        "file.setid",
        FieldSource::CallArg {
            calls: CHMOD_MODE,
            mask: S_ISUID_ISGID,
        },
    ),
];
const FILE_CHMOD_BY_FD: &[(&str, FieldSource)] = &[
    (
        "file.path",
        FieldSource::ResolvedPath(FileRef::SyscallFdArg { idx: 0 }),
    ),
    (
        "file.mode",
        FieldSource::CallArg {
            calls: CHMOD_MODE,
            mask: MODE_BITS,
        },
    ),
    (
        "file.setid",
        FieldSource::CallArg {
            calls: CHMOD_MODE,
            mask: S_ISUID_ISGID,
        },
    ),
];
/// `path_chown(path, kuid_t uid, kgid_t gid)`: the ids by value.
const FILE_CHOWN_LSM: &[(&str, FieldSource)] = &[
    ("file.path", PATH_ARG0),
    (
        "file.uid",
        FieldSource::ArgInt {
            arg: 1,
            path: &[],
            mask: 0xffff_ffff,
        },
    ),
    (
        "file.gid",
        FieldSource::ArgInt {
            arg: 2,
            path: &[],
            mask: 0xffff_ffff,
        },
    ),
];
const CHOWN_UID: &[(Syscall, u8)] = &[
    (Syscall::Chown, 1),
    (Syscall::Lchown, 1),
    (Syscall::Fchown, 1),
    (Syscall::Chown16, 1),
    (Syscall::Lchown16, 1),
    (Syscall::Fchown16, 1),
    (Syscall::Fchownat, 2),
];
const CHOWN_GID: &[(Syscall, u8)] = &[
    (Syscall::Chown, 2),
    (Syscall::Lchown, 2),
    (Syscall::Fchown, 2),
    (Syscall::Chown16, 2),
    (Syscall::Lchown16, 2),
    (Syscall::Fchown16, 2),
    (Syscall::Fchownat, 3),
];
const FILE_CHOWN_BY_NAME: &[(&str, FieldSource)] = &[
    ("file.path", UNRESOLVED),
    (
        "file.uid",
        FieldSource::CallArg {
            calls: CHOWN_UID,
            mask: 0xffff_ffff,
        },
    ),
    (
        "file.gid",
        FieldSource::CallArg {
            calls: CHOWN_GID,
            mask: 0xffff_ffff,
        },
    ),
];
const FILE_CHOWN_BY_FD: &[(&str, FieldSource)] = &[
    (
        "file.path",
        FieldSource::ResolvedPath(FileRef::SyscallFdArg { idx: 0 }),
    ),
    (
        "file.uid",
        FieldSource::CallArg {
            calls: CHOWN_UID,
            mask: 0xffff_ffff,
        },
    ),
    (
        "file.gid",
        FieldSource::CallArg {
            calls: CHOWN_GID,
            mask: 0xffff_ffff,
        },
    ),
];
const FILE_TRUNCATE_FILE_LSM: &[(&str, FieldSource)] = &[(
    "file.path",
    FieldSource::ResolvedPath(FileRef::Arg { arg: 0, path: &[] }),
)];
const FILE_BY_FD0: &[(&str, FieldSource)] = &[(
    "file.path",
    FieldSource::ResolvedPath(FileRef::SyscallFdArg { idx: 0 }),
)];

/// `mmap_file(file, reqprot, prot, flags)`: `file` is NULL for anonymous
/// memory (the empty path).
const MMAP_FILE: FileRef = FileRef::Arg { arg: 0, path: &[] };
const FILE_MMAP_LSM: &[(&str, FieldSource)] = &[
    ("file.path", FieldSource::ResolvedPath(MMAP_FILE)),
    ("file.deleted", FieldSource::FileDeleted(MMAP_FILE)),
    ("file.memfd", FieldSource::FileMemfd(MMAP_FILE)),
    (
        "mmap.prot",
        FieldSource::ArgInt {
            arg: 2,
            path: &[],
            mask: 0xffff_ffff,
        },
    ),
    (
        "mmap.flags",
        FieldSource::ArgInt {
            arg: 3,
            path: &[],
            mask: 0xffff_ffff,
        },
    ),
    ("mmap.mprotect", FieldSource::ConstInt(0)),
];
/// `file_mprotect(vma, reqprot, prot)`.
const MPROTECT_FILE: FileRef = FileRef::Arg {
    arg: 0,
    path: VMA_FILE,
};
const FILE_MPROTECT_LSM: &[(&str, FieldSource)] = &[
    ("file.path", FieldSource::ResolvedPath(MPROTECT_FILE)),
    ("file.deleted", FieldSource::FileDeleted(MPROTECT_FILE)),
    ("file.memfd", FieldSource::FileMemfd(MPROTECT_FILE)),
    (
        "mmap.prot",
        FieldSource::ArgInt {
            arg: 2,
            path: &[],
            mask: 0xffff_ffff,
        },
    ),
    ("mmap.flags", FieldSource::ConstInt(0)),
    ("mmap.mprotect", FieldSource::ConstInt(1)),
];
const MMAP_FD: FileRef = FileRef::SyscallFdArg { idx: 4 };
/// `mmap(addr, len, prot, flags, fd, off)` of a file at system call entry.
const FILE_MMAP_TP_BTF: &[(&str, FieldSource)] = &[
    ("file.path", FieldSource::ResolvedPath(MMAP_FD)),
    ("file.deleted", FieldSource::FileDeleted(MMAP_FD)),
    ("file.memfd", FieldSource::FileMemfd(MMAP_FD)),
    (
        "mmap.prot",
        FieldSource::SyscallArg {
            idx: 2,
            mask: 0xffff_ffff,
        },
    ),
    (
        "mmap.flags",
        FieldSource::SyscallArg {
            idx: 3,
            mask: 0xffff_ffff,
        },
    ),
    ("mmap.mprotect", FieldSource::ConstInt(0)),
];
/// An anonymous `mmap` at system call entry: no file.
const FILE_MMAP_ANON_TP_BTF: &[(&str, FieldSource)] = &[
    ("file.path", FieldSource::EmptyStr),
    ("file.deleted", FieldSource::ConstInt(0)),
    ("file.memfd", FieldSource::ConstInt(0)),
    (
        "mmap.prot",
        FieldSource::SyscallArg {
            idx: 2,
            mask: 0xffff_ffff,
        },
    ),
    (
        "mmap.flags",
        FieldSource::SyscallArg {
            idx: 3,
            mask: 0xffff_ffff,
        },
    ),
    ("mmap.mprotect", FieldSource::ConstInt(0)),
];
/// `mprotect(addr, len, prot)` at entry: which file the memory maps is not
/// known there.
const FILE_MPROTECT_TP_BTF: &[(&str, FieldSource)] = &[
    ("file.path", UNRESOLVED),
    ("file.deleted", FieldSource::ConstInt(0)),
    ("file.memfd", FieldSource::ConstInt(0)),
    (
        "mmap.prot",
        FieldSource::SyscallArg {
            idx: 2,
            mask: 0xffff_ffff,
        },
    ),
    ("mmap.flags", FieldSource::ConstInt(0)),
    ("mmap.mprotect", FieldSource::ConstInt(1)),
];

/// `ptrace_access_check(struct task_struct *child, unsigned int mode)`.
const PROC_PTRACE_LSM: &[(&str, FieldSource)] = &[
    (
        "ptrace.attach",
        FieldSource::ArgInt {
            arg: 1,
            path: &[],
            mask: PTRACE_MODE_ATTACH,
        },
    ),
    (
        "target.pid",
        FieldSource::ArgInt {
            arg: 0,
            path: &[KernelMember::TaskTgid],
            mask: ALL_BITS,
        },
    ),
    (
        "target.comm",
        FieldSource::ArgKernelStrAt {
            arg: 0,
            member: KernelMember::TaskComm,
        },
    ),
];
/// `ptrace_traceme(struct task_struct *parent)`: the parent becomes the
/// tracer; the target is the task itself.
const PROC_TRACEME_LSM: &[(&str, FieldSource)] = &[
    ("ptrace.attach", FieldSource::ConstInt(1)),
    ("target.pid", FieldSource::Tgid),
    ("target.comm", FieldSource::Comm),
];
/// `ptrace(request, pid, addr, data)`, `process_vm_readv(pid, ...)`: the
/// target's name is not known at system call entry.
const PROC_PTRACE_TP_BTF: &[(&str, FieldSource)] = &[
    ("ptrace.attach", FieldSource::ConstInt(1)),
    (
        "target.pid",
        FieldSource::CallArg {
            calls: &[
                (Syscall::Ptrace, 1),
                (Syscall::ProcessVmReadv, 0),
                (Syscall::ProcessVmWritev, 0),
            ],
            mask: 0xffff_ffff,
        },
    ),
    ("target.comm", FieldSource::EmptyStr),
];

/// `task_fix_setuid(struct cred *new, const struct cred *old, int flags)`.
const PROC_SETUID_LSM: &[(&str, FieldSource)] = &[
    (
        "setuid.uid",
        FieldSource::ArgInt {
            arg: 0,
            path: &[KernelMember::CredUid],
            mask: ALL_BITS,
        },
    ),
    (
        "setuid.euid",
        FieldSource::ArgInt {
            arg: 0,
            path: &[KernelMember::CredEuid],
            mask: ALL_BITS,
        },
    ),
];
const SETUID_CALLS: &[Syscall] = &[
    Syscall::Setuid,
    Syscall::Setreuid,
    Syscall::Setresuid,
    Syscall::Setfsuid,
    Syscall::Setuid16,
    Syscall::Setreuid16,
    Syscall::Setresuid16,
    Syscall::Setfsuid16,
];
const PROC_SETUID_TP_BTF: &[(&str, FieldSource)] = &[
    (
        "setuid.uid",
        FieldSource::IdArg {
            calls: &[
                (Syscall::Setuid, 0),
                (Syscall::Setreuid, 0),
                (Syscall::Setresuid, 0),
                (Syscall::Setuid16, 0),
                (Syscall::Setreuid16, 0),
                (Syscall::Setresuid16, 0),
            ],
            current: &[KernelMember::TaskCred, KernelMember::CredUid],
        },
    ),
    (
        "setuid.euid",
        FieldSource::IdArg {
            calls: &[
                (Syscall::Setuid, 0),
                (Syscall::Setreuid, 1),
                (Syscall::Setresuid, 1),
                (Syscall::Setuid16, 0),
                (Syscall::Setreuid16, 1),
                (Syscall::Setresuid16, 1),
            ],
            current: &[KernelMember::TaskCred, KernelMember::CredEuid],
        },
    ),
];
/// `task_fix_setgid(struct cred *new, const struct cred *old, int flags)`.
const PROC_SETGID_LSM: &[(&str, FieldSource)] = &[
    (
        "setgid.gid",
        FieldSource::ArgInt {
            arg: 0,
            path: &[KernelMember::CredGid],
            mask: ALL_BITS,
        },
    ),
    (
        "setgid.egid",
        FieldSource::ArgInt {
            arg: 0,
            path: &[KernelMember::CredEgid],
            mask: ALL_BITS,
        },
    ),
];
const SETGID_CALLS: &[Syscall] = &[
    Syscall::Setgid,
    Syscall::Setregid,
    Syscall::Setresgid,
    Syscall::Setfsgid,
    Syscall::Setgid16,
    Syscall::Setregid16,
    Syscall::Setresgid16,
    Syscall::Setfsgid16,
];
const PROC_SETGID_TP_BTF: &[(&str, FieldSource)] = &[
    (
        "setgid.gid",
        FieldSource::IdArg {
            calls: &[
                (Syscall::Setgid, 0),
                (Syscall::Setregid, 0),
                (Syscall::Setresgid, 0),
                (Syscall::Setgid16, 0),
                (Syscall::Setregid16, 0),
                (Syscall::Setresgid16, 0),
            ],
            current: &[KernelMember::TaskCred, KernelMember::CredGid],
        },
    ),
    (
        "setgid.egid",
        FieldSource::IdArg {
            calls: &[
                (Syscall::Setgid, 0),
                (Syscall::Setregid, 1),
                (Syscall::Setresgid, 1),
                (Syscall::Setgid16, 0),
                (Syscall::Setregid16, 1),
                (Syscall::Setresgid16, 1),
            ],
            current: &[KernelMember::TaskCred, KernelMember::CredEgid],
        },
    ),
];
/// `capset(new, old, effective, inheritable, permitted)`.
const PROC_CAPSET_LSM: &[(&str, FieldSource)] = &[
    ("capset.effective", FieldSource::ArgPointee { arg: 2 }),
    ("capset.inheritable", FieldSource::ArgPointee { arg: 3 }),
    ("capset.permitted", FieldSource::ArgPointee { arg: 4 }),
];
const PROC_CAPSET_TP_BTF: &[(&str, FieldSource)] = &[
    ("capset.effective", FieldSource::CapsetUser { which: 0 }),
    ("capset.permitted", FieldSource::CapsetUser { which: 1 }),
    ("capset.inheritable", FieldSource::CapsetUser { which: 2 }),
];
/// `task_kill(struct task_struct *p, struct kernel_siginfo *info, int sig,
/// const struct cred *cred)`.
const PROC_SIGNAL_LSM: &[(&str, FieldSource)] = &[
    (
        "signal.sig",
        FieldSource::ArgInt {
            arg: 2,
            path: &[],
            mask: 0xffff_ffff,
        },
    ),
    (
        "target.pid",
        FieldSource::ArgInt {
            arg: 0,
            path: &[KernelMember::TaskTgid],
            mask: ALL_BITS,
        },
    ),
    (
        "target.comm",
        FieldSource::ArgKernelStrAt {
            arg: 0,
            member: KernelMember::TaskComm,
        },
    ),
];
const SIGNAL_CALLS: &[Syscall] = &[
    Syscall::Kill,
    Syscall::Tkill,
    Syscall::Tgkill,
    Syscall::RtSigqueueinfo,
    Syscall::RtTgsigqueueinfo,
    Syscall::PidfdSendSignal,
];
const PROC_SIGNAL_TP_BTF: &[(&str, FieldSource)] = &[
    (
        "signal.sig",
        FieldSource::CallArg {
            calls: &[
                (Syscall::Kill, 1),
                (Syscall::Tkill, 1),
                (Syscall::Tgkill, 2),
                (Syscall::RtSigqueueinfo, 1),
                (Syscall::RtTgsigqueueinfo, 2),
                (Syscall::PidfdSendSignal, 1),
            ],
            mask: 0xffff_ffff,
        },
    ),
    (
        "target.pid",
        FieldSource::CallArg {
            calls: &[
                (Syscall::Kill, 0),
                (Syscall::Tkill, 0),
                (Syscall::Tgkill, 0),
                (Syscall::RtSigqueueinfo, 0),
                (Syscall::RtTgsigqueueinfo, 0),
            ],
            mask: 0xffff_ffff,
        },
    ),
    ("target.comm", FieldSource::EmptyStr),
];
const NS_SETNS: &[(&str, FieldSource)] = &[
    (
        "ns.flags",
        FieldSource::SyscallArg {
            idx: 1,
            mask: CLONE_NEW_FLAGS,
        },
    ),
    ("ns.setns", FieldSource::ConstInt(1)),
];
/// `unshare(flags)`, `clone(flags, ...)` (argument 0 in both ABIs).
const NS_FLAGS_ARG0: &[(&str, FieldSource)] = &[
    (
        "ns.flags",
        FieldSource::SyscallArg {
            idx: 0,
            mask: CLONE_NEW_FLAGS,
        },
    ),
    ("ns.setns", FieldSource::ConstInt(0)),
];
/// `clone3(struct clone_args *args, size)`: the flags are its first `u64`.
const NS_CLONE3: &[(&str, FieldSource)] = &[
    (
        "ns.flags",
        FieldSource::SyscallUserU64 {
            idx: 0,
            mask: CLONE_NEW_FLAGS,
        },
    ),
    ("ns.setns", FieldSource::ConstInt(0)),
];
/// `sb_mount(dev_name, path, type, flags, data)`: the strings are the
/// kernel's copies of the caller's.
const MOUNT_LSM: &[(&str, FieldSource)] = &[
    (
        "mount.source",
        FieldSource::ArgKernelStr { arg: 0, path: &[] },
    ),
    (
        "mount.target",
        FieldSource::ResolvedPath(FileRef::PathArg { arg: 1 }),
    ),
    (
        "mount.fstype",
        FieldSource::ArgKernelStr { arg: 2, path: &[] },
    ),
    (
        "mount.flags",
        FieldSource::ArgInt {
            arg: 3,
            path: &[],
            mask: ALL_BITS,
        },
    ),
];
/// `move_mount(from_path, to_path)`: the type is the moved mount's own.
const MOVE_MOUNT_LSM: &[(&str, FieldSource)] = &[
    ("mount.source", FieldSource::EmptyStr),
    (
        "mount.target",
        FieldSource::ResolvedPath(FileRef::PathArg { arg: 1 }),
    ),
    (
        "mount.fstype",
        FieldSource::ArgKernelStr {
            arg: 0,
            path: &[
                KernelMember::PathMnt,
                KernelMember::VfsmountSb,
                KernelMember::SuperBlockType,
                KernelMember::FsTypeName,
            ],
        },
    ),
    ("mount.flags", FieldSource::ConstInt(MS_MOVE)),
];
/// `mount(source, target, fstype, flags, data)` at entry.
const MOUNT_TP_BTF: &[(&str, FieldSource)] = &[
    ("mount.source", FieldSource::SyscallUserStr { idx: 0 }),
    ("mount.target", UNRESOLVED),
    ("mount.fstype", FieldSource::SyscallUserStr { idx: 2 }),
    (
        "mount.flags",
        FieldSource::SyscallArg {
            idx: 3,
            mask: ALL_BITS,
        },
    ),
];
/// `move_mount(from_dfd, from_path, to_dfd, to_path, flags)` at entry.
const MOVE_MOUNT_TP_BTF: &[(&str, FieldSource)] = &[
    ("mount.source", FieldSource::EmptyStr),
    ("mount.target", UNRESOLVED),
    ("mount.fstype", FieldSource::EmptyStr),
    ("mount.flags", FieldSource::ConstInt(MS_MOVE)),
];
/// `sb_umount(struct vfsmount *mnt, int flags)`.
const UMOUNT_LSM: &[(&str, FieldSource)] = &[
    (
        "mount.target",
        FieldSource::ResolvedPath(FileRef::MountArg { arg: 0 }),
    ),
    (
        "mount.flags",
        FieldSource::ArgInt {
            arg: 1,
            path: &[],
            mask: 0xffff_ffff,
        },
    ),
];
const UMOUNT_TP_BTF: &[(&str, FieldSource)] = &[
    ("mount.target", UNRESOLVED),
    (
        "mount.flags",
        FieldSource::CallArg {
            calls: &[(Syscall::Umount2, 1)],
            mask: 0xffff_ffff,
        },
    ),
];
/// `kernel_module_request(char *kmod_name)`, and the `module_request`
/// tracepoint `(char *name, bool wait, unsigned long ip)`.
const MODULE_REQUEST: &[(&str, FieldSource)] = &[(
    "module.name",
    FieldSource::ArgKernelStr { arg: 0, path: &[] },
)];

const SOCKET_OF_ARG0: SockRef = SockRef::Arg {
    arg: 0,
    path: &[KernelMember::SocketSk],
};
const SOCK_ARG0: SockRef = SockRef::Arg { arg: 0, path: &[] };
const LISTEN_FD: SockRef = SockRef::SyscallFdArg { idx: 0 };

/// The local side of a socket (listen).
const fn local_side(sock: SockRef) -> [(&'static str, FieldSource); 3] {
    [
        ("net.family", FieldSource::SockFamily { sock, local: true }),
        ("net.saddr", FieldSource::SockAddr { sock, local: true }),
        ("net.sport", FieldSource::SockPort { sock, local: true }),
    ]
}

/// Both sides of a connected socket (accept).
const fn both_sides(sock: SockRef) -> [(&'static str, FieldSource); 5] {
    [
        ("net.family", FieldSource::SockFamily { sock, local: false }),
        ("net.daddr", FieldSource::SockAddr { sock, local: false }),
        ("net.dport", FieldSource::SockPort { sock, local: false }),
        ("net.saddr", FieldSource::SockAddr { sock, local: true }),
        ("net.sport", FieldSource::SockPort { sock, local: true }),
    ]
}

const NET_LISTEN_LSM: &[(&str, FieldSource)] = &local_side(SOCKET_OF_ARG0);
const NET_LISTEN_TP_BTF: &[(&str, FieldSource)] = &local_side(LISTEN_FD);
const NET_ACCEPT_LSM: &[(&str, FieldSource)] = &both_sides(SOCK_ARG0);
const NET_ACCEPT_TP_BTF: &[(&str, FieldSource)] = &both_sides(SockRef::ReturnedFd);

/// `socket_create(family, type, protocol, kern)`.
const SOCKET_CREATE_LSM: &[(&str, FieldSource)] = &[
    (
        "socket.family",
        FieldSource::ArgInt {
            arg: 0,
            path: &[],
            mask: 0xffff_ffff,
        },
    ),
    (
        "socket.type",
        FieldSource::ArgInt {
            arg: 1,
            path: &[],
            mask: SOCK_TYPE_MASK,
        },
    ),
    (
        "socket.protocol",
        FieldSource::ArgInt {
            arg: 2,
            path: &[],
            mask: 0xffff_ffff,
        },
    ),
];
const SOCKET_CREATE_TP_BTF: &[(&str, FieldSource)] = &[
    (
        "socket.family",
        FieldSource::SyscallArg {
            idx: 0,
            mask: 0xffff_ffff,
        },
    ),
    (
        "socket.type",
        FieldSource::SyscallArg {
            idx: 1,
            mask: SOCK_TYPE_MASK,
        },
    ),
    (
        "socket.protocol",
        FieldSource::SyscallArg {
            idx: 2,
            mask: 0xffff_ffff,
        },
    ),
];

const PATH_ARG0_ONLY: &[(&str, FieldSource)] = &[("file.path", PATH_ARG0)];

/// An LSM attach point with no guard whose backend needs it.
const fn lsm(
    section: &'static str,
    symbol: &'static str,
    sources: &'static [(&'static str, FieldSource)],
) -> AttachPoint {
    AttachPoint {
        section,
        symbol,
        guards: &[],
        sources,
        enforcing_only: false,
        absent_means: None,
    }
}

/// A `tp_btf/sys_enter` attach point (its guards start with the syscall one).
const fn sys_enter(
    symbol: &'static str,
    guards: &'static [Guard],
    sources: &'static [(&'static str, FieldSource)],
) -> AttachPoint {
    AttachPoint {
        section: "tp_btf/sys_enter",
        symbol,
        guards,
        sources,
        enforcing_only: false,
        absent_means: None,
    }
}

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
                        absent_means: None,
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
                        absent_means: None,
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
                        absent_means: None,
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
                        absent_means: None,
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
                        absent_means: None,
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
                    absent_means: None,
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
                    absent_means: None,
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
                        absent_means: None,
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
                        absent_means: None,
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
                        absent_means: None,
                    },
                    AttachPoint {
                        section: "cgroup/connect6",
                        symbol: "net_connect_cgroup6",
                        guards: &[],
                        sources: NET_CONNECT6,
                        enforcing_only: false,
                        absent_means: None,
                    },
                    AttachPoint {
                        section: "cgroup/sendmsg4",
                        symbol: "net_connect_cgroup_send4",
                        guards: &[],
                        sources: NET_CONNECT4,
                        enforcing_only: false,
                        absent_means: None,
                    },
                    AttachPoint {
                        section: "cgroup/sendmsg6",
                        symbol: "net_connect_cgroup_send6",
                        guards: &[],
                        sources: NET_CONNECT6,
                        enforcing_only: false,
                        absent_means: None,
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
                    absent_means: None,
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
                        absent_means: None,
                    },
                    AttachPoint {
                        section: "cgroup/bind6",
                        symbol: "net_bind_cgroup6",
                        guards: &[],
                        sources: NET_BIND6,
                        enforcing_only: false,
                        absent_means: None,
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
                        absent_means: None,
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
                        absent_means: None,
                    },
                ],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry (init_module, \
                             finit_module; 64- and 32-bit): the task dies before the call \
                             returns, but the kernel may still load the module",
                attach: &[
                    AttachPoint {
                        section: "tp_btf/sys_enter",
                        symbol: "module_load_tp_btf_file",
                        guards: &[Guard::Syscall(&[Syscall::FinitModule])],
                        sources: MODULE_FINIT_TP_BTF,
                        enforcing_only: false,
                        absent_means: None,
                    },
                    AttachPoint {
                        section: "tp_btf/sys_enter",
                        symbol: "module_load_tp_btf_data",
                        guards: &[Guard::Syscall(&[Syscall::InitModule])],
                        sources: MODULE_NO_PATH,
                        enforcing_only: false,
                        absent_means: None,
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
                    absent_means: None,
                }],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at bpf() entry (64- and 32-bit): \
                             the task dies before the call returns and never uses its result, \
                             but the command itself may still take effect",
                attach: &[AttachPoint {
                    section: "tp_btf/sys_enter",
                    symbol: "bpf_tp_btf",
                    guards: &[Guard::Syscall(&[Syscall::Bpf])],
                    sources: BPF_TP_BTF,
                    enforcing_only: false,
                    absent_means: None,
                }],
            },
        ],
    },
    HookSpec {
        hook: Hook::FileUnlink,
        name: "file.unlink",
        doc: "a name is removed from a directory (unlink, unlinkat)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the unlink fails with EPERM (every unlink: unlink, \
                             unlinkat, io_uring, 32-bit calls)",
                attach: &[lsm("lsm/path_unlink", "file_unlink_lsm", FILE_DENTRY_LSM)],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the unlink still \
                             happens, the task dies before it returns (unlink, unlinkat; 64- and \
                             32-bit); file.path is unresolved there (the kernel has not looked \
                             the name up yet), so a rule testing it decides fail-closed: deny and \
                             kill match every unlink, audit none; unlinks through io_uring are \
                             not seen",
                attach: &[AttachPoint {
                    section: "tp_btf/sys_enter",
                    symbol: "file_unlink_tp_btf",
                    guards: &[
                        Guard::Syscall(UNLINK_CALLS),
                        Guard::CallArgLacksBits {
                            call: Syscall::Unlinkat,
                            idx: 2,
                            mask: AT_REMOVEDIR,
                        },
                    ],
                    sources: FILE_UNRESOLVED,
                    enforcing_only: false,
                    absent_means: None,
                }],
            },
        ],
    },
    HookSpec {
        hook: Hook::FileRename,
        name: "file.rename",
        doc: "a file or directory is renamed or moved (rename, renameat, renameat2; an \
              exchange, renameat2 with RENAME_EXCHANGE, is decided as two renames on the LSM \
              backend)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the rename fails with EPERM (every rename: \
                             rename, renameat, renameat2, io_uring, 32-bit calls)",
                attach: &[
                    lsm("lsm/path_rename", "file_rename_lsm", FILE_RENAME_LSM),
                    AttachPoint {
                        section: "lsm/path_rename",
                        symbol: "file_rename_lsm_exchange",
                        guards: &[Guard::ArgHasBits {
                            arg: 4,
                            mask: RENAME_EXCHANGE,
                        }],
                        sources: FILE_RENAME_EXCHANGE_LSM,
                        enforcing_only: false,
                        absent_means: None,
                    },
                ],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the rename still \
                             happens, the task dies before it returns (rename, renameat, \
                             renameat2; 64- and 32-bit); file.path and file.newpath are \
                             unresolved there, so a rule testing them decides fail-closed: deny \
                             and kill match every rename, audit none; renames through io_uring \
                             are not seen",
                attach: &[sys_enter(
                    "file_rename_tp_btf",
                    &[Guard::Syscall(&[
                        Syscall::Rename,
                        Syscall::Renameat,
                        Syscall::Renameat2,
                    ])],
                    FILE_RENAME_TP_BTF,
                )],
            },
        ],
    },
    HookSpec {
        hook: Hook::FileLink,
        name: "file.link",
        doc: "a hard link to a file is made (link, linkat)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the link fails with EPERM (link, linkat, \
                             linkat with AT_EMPTY_PATH, io_uring, 32-bit calls)",
                attach: &[lsm("lsm/path_link", "file_link_lsm", FILE_LINK_LSM)],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the link is \
                             still made, the task dies before it returns (link, linkat; 64- and \
                             32-bit); file.path and file.newpath are unresolved there, so a rule \
                             testing them decides fail-closed: deny and kill match every link, \
                             audit none; links through io_uring are not seen",
                attach: &[sys_enter(
                    "file_link_tp_btf",
                    &[Guard::Syscall(&[Syscall::Link, Syscall::Linkat])],
                    FILE_RENAME_TP_BTF,
                )],
            },
        ],
    },
    HookSpec {
        hook: Hook::FileSymlink,
        name: "file.symlink",
        doc: "a symbolic link is made (symlink, symlinkat)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the symlink fails with EPERM (symlink, symlinkat, \
                             io_uring, 32-bit calls)",
                attach: &[lsm(
                    "lsm/path_symlink",
                    "file_symlink_lsm",
                    FILE_SYMLINK_LSM,
                )],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the link is \
                             still made, the task dies before it returns (symlink, symlinkat; 64- \
                             and 32-bit); file.target is exact, file.path is unresolved there, so \
                             a rule testing it decides fail-closed; symlinks through io_uring are \
                             not seen",
                attach: &[sys_enter(
                    "file_symlink_tp_btf",
                    &[Guard::Syscall(&[Syscall::Symlink, Syscall::Symlinkat])],
                    FILE_SYMLINK_TP_BTF,
                )],
            },
        ],
    },
    HookSpec {
        hook: Hook::FileMkdir,
        name: "file.mkdir",
        doc: "a directory is made (mkdir, mkdirat)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: mkdir fails with EPERM (mkdir, mkdirat, io_uring, \
                             32-bit calls); file.mode is the mode asked for, less the umask \
                             only where the file system has no POSIX ACLs",
                attach: &[lsm("lsm/path_mkdir", "file_mkdir_lsm", FILE_MKDIR_LSM)],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the directory is \
                             still made, the task dies before it returns (mkdir, mkdirat; 64- and \
                             32-bit); file.mode is the mode asked for, before the umask; \
                             file.path is unresolved there, so a rule testing it decides \
                             fail-closed; io_uring is not seen",
                attach: &[sys_enter(
                    "file_mkdir_tp_btf",
                    &[Guard::Syscall(&[Syscall::Mkdir, Syscall::Mkdirat])],
                    FILE_MKDIR_TP_BTF,
                )],
            },
        ],
    },
    HookSpec {
        hook: Hook::FileRmdir,
        name: "file.rmdir",
        doc: "a directory is removed (rmdir, unlinkat with AT_REMOVEDIR)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: rmdir fails with EPERM (rmdir, unlinkat with \
                             AT_REMOVEDIR, io_uring, 32-bit calls)",
                attach: &[lsm("lsm/path_rmdir", "file_rmdir_lsm", FILE_DENTRY_LSM)],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the directory is \
                             still removed, the task dies before it returns (rmdir, unlinkat with \
                             AT_REMOVEDIR; 64- and 32-bit); file.path is unresolved there, so a \
                             rule testing it decides fail-closed; io_uring is not seen",
                attach: &[sys_enter(
                    "file_rmdir_tp_btf",
                    &[
                        Guard::Syscall(RMDIR_CALLS),
                        Guard::CallArgHasBits {
                            call: Syscall::Unlinkat,
                            idx: 2,
                            mask: AT_REMOVEDIR,
                        },
                    ],
                    FILE_UNRESOLVED,
                )],
            },
        ],
    },
    HookSpec {
        hook: Hook::FileChmod,
        name: "file.chmod",
        doc: "a file's mode changes (chmod, fchmod, fchmodat, fchmodat2)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the mode change fails with EPERM (every chmod \
                             call, 32-bit calls included)",
                attach: &[lsm("lsm/path_chmod", "file_chmod_lsm", FILE_CHMOD_LSM)],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the mode still \
                             changes (a set-id bit is set), the task dies before it returns \
                             (chmod, fchmod, fchmodat, fchmodat2; 64- and 32-bit); file.mode and \
                             file.setid are exact, file.path is resolved for fchmod and \
                             unresolved for the calls that take a name, where a rule testing it \
                             decides fail-closed",
                attach: &[
                    sys_enter(
                        "file_chmod_tp_btf",
                        &[Guard::Syscall(&[
                            Syscall::Chmod,
                            Syscall::Fchmodat,
                            Syscall::Fchmodat2,
                        ])],
                        FILE_CHMOD_BY_NAME,
                    ),
                    sys_enter(
                        "file_chmod_tp_btf_fd",
                        &[Guard::Syscall(&[Syscall::Fchmod])],
                        FILE_CHMOD_BY_FD,
                    ),
                ],
            },
        ],
    },
    HookSpec {
        hook: Hook::FileChown,
        name: "file.chown",
        doc: "a file's owner or group changes (chown, fchown, lchown, fchownat)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the owner change fails with EPERM (every chown \
                             call, 32-bit and 16-bit calls included)",
                attach: &[lsm("lsm/path_chown", "file_chown_lsm", FILE_CHOWN_LSM)],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the owner still \
                             changes, the task dies before it returns (chown, lchown, fchown, \
                             fchownat; 64-, 32- and 16-bit); file.uid and file.gid are exact, \
                             file.path is resolved for fchown and unresolved for the calls that \
                             take a name, where a rule testing it decides fail-closed",
                attach: &[
                    sys_enter(
                        "file_chown_tp_btf",
                        &[Guard::Syscall(&[
                            Syscall::Chown,
                            Syscall::Lchown,
                            Syscall::Chown16,
                            Syscall::Lchown16,
                            Syscall::Fchownat,
                        ])],
                        FILE_CHOWN_BY_NAME,
                    ),
                    sys_enter(
                        "file_chown_tp_btf_fd",
                        &[Guard::Syscall(&[Syscall::Fchown, Syscall::Fchown16])],
                        FILE_CHOWN_BY_FD,
                    ),
                ],
            },
        ],
    },
    HookSpec {
        hook: Hook::FileTruncate,
        name: "file.truncate",
        doc: "a file is truncated (truncate, ftruncate; an open with O_TRUNC on the LSM \
              backend)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the truncation fails with EPERM (truncate, \
                             ftruncate, an open with O_TRUNC, 32-bit calls)",
                attach: &[
                    lsm("lsm/path_truncate", "file_truncate_lsm", PATH_ARG0_ONLY),
                    AttachPoint {
                        section: "lsm/file_truncate",
                        symbol: "file_truncate_lsm_file",
                        guards: &[],
                        sources: FILE_TRUNCATE_FILE_LSM,
                        enforcing_only: false,
                        absent_means: Some(
                            "kernels before 6.2 have no file_truncate hook: ftruncate and \
                             O_TRUNC go through path_truncate there",
                        ),
                    },
                ],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the file is \
                             still cut, the task dies before it returns (truncate, ftruncate; 64- \
                             and 32-bit); file.path is resolved for ftruncate and unresolved for \
                             truncate, where a rule testing it decides fail-closed; an open with \
                             O_TRUNC is only seen by file.open",
                attach: &[
                    sys_enter(
                        "file_truncate_tp_btf",
                        &[Guard::Syscall(&[Syscall::Truncate, Syscall::Truncate64])],
                        FILE_UNRESOLVED,
                    ),
                    sys_enter(
                        "file_truncate_tp_btf_fd",
                        &[Guard::Syscall(&[Syscall::Ftruncate, Syscall::Ftruncate64])],
                        FILE_BY_FD0,
                    ),
                ],
            },
        ],
    },
    HookSpec {
        hook: Hook::FileMmap,
        name: "file.mmap",
        doc: "memory becomes executable: an mmap with PROT_EXEC (of a file or anonymous), \
              or an mprotect adding PROT_EXEC to memory that was not executable",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the mmap or mprotect fails with EPERM (every \
                             executable mapping, 32-bit calls included)",
                attach: &[
                    AttachPoint {
                        section: "lsm/mmap_file",
                        symbol: "file_mmap_lsm",
                        guards: &[Guard::ArgHasBits {
                            arg: 2,
                            mask: PROT_EXEC,
                        }],
                        sources: FILE_MMAP_LSM,
                        enforcing_only: false,
                        absent_means: None,
                    },
                    AttachPoint {
                        section: "lsm/file_mprotect",
                        symbol: "file_mmap_lsm_mprotect",
                        guards: &[
                            Guard::ArgHasBits {
                                arg: 2,
                                mask: PROT_EXEC,
                            },
                            Guard::MemberLacksBits {
                                arg: 0,
                                path: &[KernelMember::VmAreaFlags],
                                mask: VM_EXEC,
                            },
                        ],
                        sources: FILE_MPROTECT_LSM,
                        enforcing_only: false,
                        absent_means: None,
                    },
                ],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the memory is \
                             still mapped, the task dies before it returns and never runs it \
                             (mmap, mmap2, mprotect, pkey_mprotect; 64- and 32-bit); an mmap's \
                             file is resolved from its descriptor; an mprotect's file is not \
                             known there (file.path unresolved: a rule testing it decides \
                             fail-closed) and an mprotect of memory already executable is seen \
                             too; the 32-bit old_mmap is not seen",
                attach: &[
                    sys_enter(
                        "file_mmap_tp_btf",
                        &[
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
                        FILE_MMAP_TP_BTF,
                    ),
                    sys_enter(
                        "file_mmap_tp_btf_anon",
                        &[
                            Guard::Syscall(&[Syscall::Mmap]),
                            Guard::SyscallArgHasBits {
                                idx: 2,
                                mask: PROT_EXEC,
                            },
                            Guard::SyscallArgHasBits {
                                idx: 3,
                                mask: MAP_ANONYMOUS,
                            },
                        ],
                        FILE_MMAP_ANON_TP_BTF,
                    ),
                    sys_enter(
                        "file_mmap_tp_btf_mprotect",
                        &[
                            Guard::Syscall(&[Syscall::Mprotect, Syscall::PkeyMprotect]),
                            Guard::SyscallArgHasBits {
                                idx: 2,
                                mask: PROT_EXEC,
                            },
                        ],
                        FILE_MPROTECT_TP_BTF,
                    ),
                ],
            },
        ],
    },
    HookSpec {
        hook: Hook::ProcPtrace,
        name: "proc.ptrace",
        doc: "a task is traced or inspected: ptrace attach (PTRACE_ATTACH, PTRACE_SEIZE, \
              PTRACE_TRACEME), process_vm_readv/writev, /proc/PID/mem and the other files \
              that need ptrace access",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the access fails with EPERM (ptrace attach, \
                             PTRACE_TRACEME, process_vm_readv/writev, /proc/PID/mem, environ, \
                             ...; 32-bit calls included)",
                attach: &[
                    lsm(
                        "lsm/ptrace_access_check",
                        "proc_ptrace_lsm",
                        PROC_PTRACE_LSM,
                    ),
                    lsm(
                        "lsm/ptrace_traceme",
                        "proc_ptrace_lsm_traceme",
                        PROC_TRACEME_LSM,
                    ),
                ],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the tracer still \
                             attaches, and is detached when it dies before the call returns \
                             (ptrace PTRACE_ATTACH, PTRACE_SEIZE, PTRACE_TRACEME, \
                             process_vm_readv/writev, which still copy; 64- and 32-bit); \
                             target.pid is the pid the caller names (0 for PTRACE_TRACEME), \
                             target.comm is empty there; /proc/PID/mem and other /proc accesses \
                             are not seen",
                attach: &[
                    sys_enter(
                        "proc_ptrace_tp_btf",
                        &[
                            Guard::Syscall(&[Syscall::Ptrace]),
                            Guard::SyscallArgOneOf {
                                idx: 0,
                                values: PTRACE_STARTS,
                            },
                        ],
                        PROC_PTRACE_TP_BTF,
                    ),
                    sys_enter(
                        "proc_ptrace_tp_btf_vm",
                        &[Guard::Syscall(&[
                            Syscall::ProcessVmReadv,
                            Syscall::ProcessVmWritev,
                        ])],
                        PROC_PTRACE_TP_BTF,
                    ),
                ],
            },
        ],
    },
    HookSpec {
        hook: Hook::ProcSetuid,
        name: "proc.setuid",
        doc: "a task's user ids change (setuid, setreuid, setresuid, setfsuid)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the call fails with EPERM and the ids stay \
                             (every set*uid call, 32- and 16-bit included); the new ids are \
                             the kernel's",
                attach: &[lsm(
                    "lsm/task_fix_setuid",
                    "proc_setuid_lsm",
                    PROC_SETUID_LSM,
                )],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the ids still \
                             change, the task dies before it returns (setuid, setreuid, \
                             setresuid, setfsuid; 64-, 32- and 16-bit); the new ids are those the \
                             call asks for (-1: the current one), which the kernel may still \
                             refuse",
                attach: &[sys_enter(
                    "proc_setuid_tp_btf",
                    &[Guard::Syscall(SETUID_CALLS)],
                    PROC_SETUID_TP_BTF,
                )],
            },
        ],
    },
    HookSpec {
        hook: Hook::ProcSetgid,
        name: "proc.setgid",
        doc: "a task's group ids change (setgid, setregid, setresgid, setfsgid)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the call fails with EPERM and the ids stay \
                             (every set*gid call, 32- and 16-bit included); the new ids are \
                             the kernel's",
                attach: &[lsm(
                    "lsm/task_fix_setgid",
                    "proc_setgid_lsm",
                    PROC_SETGID_LSM,
                )],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the ids still \
                             change, the task dies before it returns (setgid, setregid, \
                             setresgid, setfsgid; 64-, 32- and 16-bit); the new ids are those the \
                             call asks for (-1: the current one), which the kernel may still \
                             refuse",
                attach: &[sys_enter(
                    "proc_setgid_tp_btf",
                    &[Guard::Syscall(SETGID_CALLS)],
                    PROC_SETGID_TP_BTF,
                )],
            },
        ],
    },
    HookSpec {
        hook: Hook::ProcCapset,
        name: "proc.capset",
        doc: "a task sets its capabilities (capset)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: capset fails with EPERM",
                attach: &[lsm("lsm/capset", "proc_capset_lsm", PROC_CAPSET_LSM)],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the sets still \
                             change, the task dies before it returns (capset; 64- and 32-bit); \
                             the sets are read from the caller's memory",
                attach: &[sys_enter(
                    "proc_capset_tp_btf",
                    &[Guard::Syscall(&[Syscall::Capset])],
                    PROC_CAPSET_TP_BTF,
                )],
            },
        ],
    },
    HookSpec {
        hook: Hook::ProcSignal,
        name: "proc.signal",
        doc: "a signal is sent to a task (kill, tkill, tgkill, rt_sigqueueinfo, \
              pidfd_send_signal)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the signal is refused with EPERM, once per target \
                             (a kill of a process group or of -1 asks for each task)",
                attach: &[lsm("lsm/task_kill", "proc_signal_lsm", PROC_SIGNAL_LSM)],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the signal is \
                             still sent (the target is not protected), the sender dies before it \
                             returns (kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, \
                             pidfd_send_signal; 64- and 32-bit); target.pid is the pid the caller \
                             names (0 or negative for a group, 0 for pidfd_send_signal), \
                             target.comm is empty there",
                attach: &[sys_enter(
                    "proc_signal_tp_btf",
                    &[Guard::Syscall(SIGNAL_CALLS)],
                    PROC_SIGNAL_TP_BTF,
                )],
            },
        ],
    },
    HookSpec {
        hook: Hook::ProcNamespace,
        name: "proc.namespace",
        doc: "a task joins a namespace (setns) or creates some (unshare, clone and clone3 \
              with CLONE_NEW* flags)",
        backends: &[BackendSpec {
            kind: BackendKind::TpBtf,
            ret: ReturnConvention::Ignored,
            signals: Signals::Always,
            deny_means: "deny enforced by SIGKILL sent at system call entry: setns and unshare \
                         still complete and the task dies before they return; a clone or clone3 \
                         creates no task (the kernel stops a fork when a kill is pending) (64- \
                         and 32-bit); the kernel has no LSM hook for these: this is the only \
                         backend",
            attach: &[
                sys_enter(
                    "proc_namespace_tp_btf_setns",
                    &[Guard::Syscall(&[Syscall::Setns])],
                    NS_SETNS,
                ),
                sys_enter(
                    "proc_namespace_tp_btf",
                    &[
                        Guard::Syscall(&[Syscall::Unshare, Syscall::Clone]),
                        Guard::SyscallArgAnyBits {
                            idx: 0,
                            mask: CLONE_NEW_FLAGS,
                        },
                    ],
                    NS_FLAGS_ARG0,
                ),
                sys_enter(
                    "proc_namespace_tp_btf_clone3",
                    &[
                        Guard::Syscall(&[Syscall::Clone3]),
                        Guard::SyscallUserAnyBits {
                            idx: 0,
                            mask: CLONE_NEW_FLAGS,
                        },
                    ],
                    NS_CLONE3,
                ),
            ],
        }],
    },
    HookSpec {
        hook: Hook::Mount,
        name: "mount",
        doc: "a file system is mounted, remounted, bound or moved (mount, move_mount)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: mount and move_mount fail with EPERM",
                attach: &[
                    lsm("lsm/sb_mount", "mount_lsm", MOUNT_LSM),
                    lsm("lsm/move_mount", "mount_lsm_move", MOVE_MOUNT_LSM),
                ],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the mount still \
                             happens, the task dies before it returns (mount, move_mount; 64- and \
                             32-bit); mount.target is unresolved there, so a rule testing it \
                             decides fail-closed",
                attach: &[
                    sys_enter(
                        "mount_tp_btf",
                        &[Guard::Syscall(&[Syscall::Mount])],
                        MOUNT_TP_BTF,
                    ),
                    sys_enter(
                        "mount_tp_btf_move",
                        &[Guard::Syscall(&[Syscall::MoveMount])],
                        MOVE_MOUNT_TP_BTF,
                    ),
                ],
            },
        ],
    },
    HookSpec {
        hook: Hook::Umount,
        name: "umount",
        doc: "a file system is unmounted (umount, umount2)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: umount fails with EPERM",
                attach: &[lsm("lsm/sb_umount", "umount_lsm", UMOUNT_LSM)],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the unmount \
                             still happens, the task dies before it returns (umount2; the 32-bit \
                             umount); mount.target is unresolved there, so a rule testing it \
                             decides fail-closed",
                attach: &[sys_enter(
                    "umount_tp_btf",
                    &[Guard::Syscall(&[Syscall::Umount2, Syscall::Umount])],
                    UMOUNT_TP_BTF,
                )],
            },
        ],
    },
    HookSpec {
        hook: Hook::ModuleRequest,
        name: "module.request",
        doc: "the kernel is asked to load a module by name on a task's behalf (a socket of \
              an unknown family, a file system type, a device): the task that triggered it \
              is the current one",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: the request fails with EPERM and no module is \
                             loaded (the operation that needed it fails as if none existed)",
                attach: &[lsm(
                    "lsm/kernel_module_request",
                    "module_request_lsm",
                    MODULE_REQUEST,
                )],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent when the request is made: modprobe is \
                             still started and may load the module; the task dies before the \
                             operation that asked for it returns",
                attach: &[AttachPoint {
                    section: "tp_btf/module_request",
                    symbol: "module_request_tp_btf",
                    guards: &[],
                    sources: MODULE_REQUEST,
                    enforcing_only: false,
                    absent_means: Some(
                        "this kernel has no module_request tracepoint: it is built without \
                         module support, and never requests a module",
                    ),
                }],
            },
        ],
    },
    HookSpec {
        hook: Hook::NetListen,
        name: "net.listen",
        doc: "an IPv4 or IPv6 socket starts listening (listen)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: listen fails with EPERM",
                attach: &[AttachPoint {
                    section: "lsm/socket_listen",
                    symbol: "net_listen_lsm",
                    guards: &[Guard::InetSock(SOCKET_OF_ARG0)],
                    sources: NET_LISTEN_LSM,
                    enforcing_only: false,
                    absent_means: None,
                }],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL when listen returns: the socket listened \
                             but the task never accepts on it (64-bit, and the 32-bit listen \
                             call; 32-bit socketcall and io_uring are not seen)",
                attach: &[AttachPoint {
                    section: "tp_btf/sys_exit",
                    symbol: "net_listen_tp_btf",
                    guards: &[
                        Guard::Syscall(&[Syscall::Listen]),
                        Guard::Succeeded,
                        Guard::InetSock(LISTEN_FD),
                    ],
                    sources: NET_LISTEN_TP_BTF,
                    enforcing_only: false,
                    absent_means: None,
                }],
            },
        ],
    },
    HookSpec {
        hook: Hook::NetAccept,
        name: "net.accept",
        doc: "an IPv4 or IPv6 connection is accepted (accept, accept4, io_uring on the LSM \
              backend)",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL inside accept, once the peer is known \
                             (sock_graft) and before accept returns: the connection was \
                             established, the task never gets it (accept, accept4, io_uring, \
                             32-bit calls)",
                attach: &[AttachPoint {
                    section: "lsm/sock_graft",
                    symbol: "net_accept_lsm",
                    guards: &[Guard::InetSock(SOCK_ARG0)],
                    sources: NET_ACCEPT_LSM,
                    enforcing_only: false,
                    absent_means: None,
                }],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL when accept returns, before the task \
                             can use the connection (accept, accept4; 32-bit socketcall and \
                             io_uring are not seen)",
                attach: &[AttachPoint {
                    section: "tp_btf/sys_exit",
                    symbol: "net_accept_tp_btf",
                    guards: &[
                        Guard::Syscall(&[Syscall::Accept, Syscall::Accept4]),
                        Guard::Succeeded,
                        Guard::InetSock(SockRef::ReturnedFd),
                    ],
                    sources: NET_ACCEPT_TP_BTF,
                    enforcing_only: false,
                    absent_means: None,
                }],
            },
        ],
    },
    HookSpec {
        hook: Hook::SocketCreate,
        name: "socket.create",
        doc: "a task creates a socket (socket, socketpair): raw and packet sockets, \
              netlink, any family",
        backends: &[
            BackendSpec {
                kind: BackendKind::Lsm,
                ret: ReturnConvention::Lsm,
                signals: Signals::Always,
                deny_means: "deny enforced: socket fails with EPERM (socket, io_uring, \
                             32-bit calls and socketcall)",
                attach: &[AttachPoint {
                    section: "lsm/socket_create",
                    symbol: "socket_create_lsm",
                    guards: &[Guard::ArgEquals { arg: 3, value: 0 }],
                    sources: SOCKET_CREATE_LSM,
                    enforcing_only: false,
                    absent_means: None,
                }],
            },
            BackendSpec {
                kind: BackendKind::TpBtf,
                ret: ReturnConvention::Ignored,
                signals: Signals::Always,
                deny_means: "deny enforced by SIGKILL sent at system call entry: the socket is \
                             still made, the task dies before it returns and never uses it \
                             (64-bit, and the 32-bit socket call; socketpair, 32-bit socketcall \
                             and io_uring are not seen)",
                attach: &[sys_enter(
                    "socket_create_tp_btf",
                    &[Guard::Syscall(&[Syscall::Socket])],
                    SOCKET_CREATE_TP_BTF,
                )],
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
                        let field = FieldId::from_name_exact(name).expect("source names a field");
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
        // (The ids behind user and group names have a source of their own
        // and no hook.)
        for field in FIELDS.iter().filter(|f| !f.internal()) {
            assert_eq!(
                field.common_source.is_some(),
                field.scope == FieldScope::Common,
                "{}",
                field.name
            );
        }
    }
}
