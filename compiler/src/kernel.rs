//! Facts about the kernel the programs run in, below both the checker and
//! the code generator: the kernel struct members programs read (relocated by
//! CO-RE against the running kernel's BTF), syscall numbers, and the uapi
//! constants the hook table and code generation share.
//!
//! Syscall numbers are per architecture and per ABI ([`Syscall::nr`],
//! [`Abi`]: 64-bit, x32 and 32-bit compat calls); only
//! x86_64 is supported, and the crate refuses to build for another target
//! rather than emit programs that would test the wrong numbers. Every
//! object names the architecture in its metadata ([`ARCH`]), and polrt
//! refuses an object built for another than its own (the ELF machine,
//! `EM_BPF`, says nothing of it).
//!
//! Depends on nothing but `std`.

#[cfg(not(target_arch = "x86_64"))]
compile_error!("polc's syscall tables are for x86_64 only (see compiler/src/kernel.rs)");

/// A member of a kernel struct read through BTF, relocated at load time
/// (CO-RE) against the running kernel's BTF: never a hard-coded offset.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KernelMember {
    /// `struct task_struct.real_parent`: `struct task_struct *`.
    TaskRealParent,
    /// `struct task_struct.tgid`: `pid_t`.
    TaskTgid,
    /// `struct task_struct.comm`: `char[16]`.
    TaskComm,
    /// `struct task_struct.mm`: `struct mm_struct *` (NULL for kernel threads).
    TaskMm,
    /// `struct task_struct.files`: `struct files_struct *`.
    TaskFiles,
    /// `struct task_struct.thread_info`: `struct thread_info`, embedded first on x86_64.
    TaskThreadInfo,
    /// `struct thread_info.status`: `u32`: `TS_COMPAT` while a 32-bit system call runs.
    ThreadInfoStatus,
    /// `struct mm_struct.exe_file`: `struct file *`: the task's executable.
    MmExeFile,
    /// `struct files_struct.fdt`: `struct fdtable *`.
    FilesFdt,
    /// `struct fdtable.max_fds`: `unsigned int`.
    FdtableMaxFds,
    /// `struct fdtable.fd`: `struct file **`.
    FdtableFd,
    /// `struct linux_binprm.filename`: `const char *`: the name the program was executed by.
    BinprmFilename,
    /// `struct linux_binprm.file`: `struct file *`: the file being executed.
    BinprmFile,
    /// `struct file.f_path`: `struct path`.
    FileFPath,
    /// `struct file.f_flags`: `unsigned int`.
    FileFFlags,
    /// `struct file.f_mode`: `fmode_t`, an `unsigned int`.
    FileFMode,
    /// `struct file.f_inode`: `struct inode *`.
    FileFInode,
    /// `struct path.mnt`: `struct vfsmount *`.
    PathMnt,
    /// `struct path.dentry`: `struct dentry *`.
    PathDentry,
    /// `struct dentry.d_parent`: `struct dentry *`.
    DentryParent,
    /// `struct dentry.d_name`: `struct qstr`.
    DentryName,
    /// `struct qstr.hash_len`: `u64`: the name's length in the high 32 bits.
    QstrHashLen,
    /// `struct qstr.name`: `const unsigned char *`.
    QstrName,
    /// `struct vfsmount.mnt_root`: `struct dentry *`: the root of the mounted tree.
    VfsmountRoot,
    /// `struct mount.mnt_parent`: `struct mount *` (itself at the root of a namespace).
    MountParent,
    /// `struct mount.mnt_mountpoint`: `struct dentry *` the mount covers.
    MountMountpoint,
    /// `struct mount.mnt`: `struct vfsmount`, embedded: a `struct vfsmount *` points here.
    MountMnt,
    /// `struct inode.i_ino`: `unsigned long`.
    InodeIno,
    /// `struct inode.i_sb`: `struct super_block *`.
    InodeSb,
    /// `struct super_block.s_dev`: `dev_t`.
    SuperBlockDev,
    /// `struct pt_regs.orig_ax`: the system call number.
    PtRegsOrigAx,
    /// `struct pt_regs.bx`: 32-bit system call argument 1.
    PtRegsBx,
    /// `struct pt_regs.cx`: 32-bit system call argument 2.
    PtRegsCx,
    /// `struct pt_regs.dx`: system call argument 3 (both ABIs).
    PtRegsDx,
    /// `struct pt_regs.si`: argument 2 (64-bit) or 4 (32-bit).
    PtRegsSi,
    /// `struct pt_regs.di`: argument 1 (64-bit) or 5 (32-bit).
    PtRegsDi,
    /// `struct pt_regs.bp`: 32-bit system call argument 6.
    PtRegsBp,
    /// `struct pt_regs.r10`: 64-bit system call argument 4.
    PtRegsR10,
    /// `struct pt_regs.r8`: 64-bit system call argument 5.
    PtRegsR8,
    /// `struct pt_regs.r9`: 64-bit system call argument 6.
    PtRegsR9,
    /// `struct msghdr.msg_name`: `void *`: the destination address, or NULL.
    MsghdrName,
    /// `struct vm_area_struct.vm_file`: `struct file *` a mapping maps, or NULL.
    VmAreaFile,
    /// `struct vm_area_struct.vm_flags`: `vm_flags_t`.
    VmAreaFlags,
    /// `struct task_struct.cred`: `const struct cred *`: the task's subjective credentials.
    TaskCred,
    /// `struct dentry.d_inode`: `struct inode *` (NULL for a negative dentry: a name being created).
    DentryInode,
    /// `struct inode.__i_nlink`: `unsigned int`: the file's hard links (0: deleted, or never linked: a memfd).
    InodeNlink,
    /// `struct vfsmount.mnt_sb`: `struct super_block *`.
    VfsmountSb,
    /// `struct super_block.s_type`: `struct file_system_type *`.
    SuperBlockType,
    /// `struct file_system_type.name`: `const char *`: the file system's name (`ext4`, `tmpfs`, ...).
    FsTypeName,
    /// `struct file.private_data`: `void *`: a socket file's `struct socket *`.
    FilePrivateData,
    /// `struct socket.sk`: `struct sock *` (declared as its first member, `struct sock_common`).
    SocketSk,
    /// `struct socket.type`: `short`: the socket type (`SOCK_STREAM`, ...).
    SocketType,
    /// `struct sock.sk_protocol`: `u16` (a bit field before Linux 5.6): the protocol.
    SkProtocol,
    /// `struct sock_common.skc_family`: `unsigned short`: the address family.
    SkcFamily,
    /// `struct sock_common.skc_num`: `__u16`: the local port, host byte order.
    SkcNum,
    /// `struct sock_common.skc_dport`: `__be16`: the remote port.
    SkcDport,
    /// `struct sock_common.skc_daddr`: `__be32`: the remote IPv4 address.
    SkcDaddr,
    /// `struct sock_common.skc_rcv_saddr`: `__be32`: the local IPv4 address.
    SkcRcvSaddr,
    /// `struct sock_common.skc_v6_daddr`: `struct in6_addr`: the remote IPv6 address.
    SkcV6Daddr,
    /// `struct sock_common.skc_v6_rcv_saddr`: `struct in6_addr`: the local IPv6 address.
    SkcV6RcvSaddr,
    /// `struct cred.uid`: `kuid_t`: the real user id.
    CredUid,
    /// `struct cred.euid`: `kuid_t`: the effective user id.
    CredEuid,
    /// `struct cred.gid`: `kgid_t`: the real group id.
    CredGid,
    /// `struct cred.egid`: `kgid_t`: the effective group id.
    CredEgid,
    /// `struct bpf_map.id` (`u32`).
    BpfMapId,
    /// `struct bpf_prog.aux` (`struct bpf_prog_aux *`).
    BpfProgAux,
    /// `struct bpf_prog_aux.id` (`u32`).
    BpfProgAuxId,
    // Process context.
    /// `struct task_struct.loginuid`: `kuid_t`: the login (audit) user id.
    TaskLoginuid,
    /// `struct task_struct.group_leader`: `struct task_struct *`.
    TaskGroupLeader,
    /// `struct task_struct.thread_pid`: `struct pid *`.
    TaskThreadPid,
    /// `struct task_struct.start_time`: `u64`: monotonic ns at the task's start.
    TaskStartTime,
    /// `struct task_struct.fs`: `struct fs_struct *` (NULL for an exiting task).
    TaskFs,
    /// `struct task_struct.signal`: `struct signal_struct *`.
    TaskSignal,
    /// `struct pid.level`: `unsigned int`: the depth of the pid's namespace (0: the initial one).
    PidLevel,
    /// `struct pid.numbers`: `struct upid[]`: the pid in each namespace, outermost first.
    PidNumbers,
    /// `struct fs_struct.pwd`: `struct path`: the working directory.
    FsPwd,
    /// `struct signal_struct.tty`: `struct tty_struct *`: the controlling terminal, or NULL.
    SignalTty,
    /// `struct tty_struct.name`: `char[64]`.
    TtyName,
    /// `struct cred.cap_effective`: `kernel_cap_t`: 64 bits (a `u64` since
    /// Linux 6.3, two `u32` before: the same bytes on little-endian).
    CredCapEffective,
    /// `struct task_struct.cgroups`: `struct css_set *` (RCU): the task's cgroups.
    TaskCgroups,
    /// `struct css_set.dfl_cgrp`: `struct cgroup *`: the task's cgroup in the v2 hierarchy.
    CssSetDflCgrp,
    /// `struct cgroup.kn`: `struct kernfs_node *`: the cgroup's directory.
    CgroupKn,
    /// `struct kernfs_node.name`: `const char *`. The node's parent pointer is
    /// the member right before it on every kernel polc supports (`parent`,
    /// renamed `__parent` in 6.15): programs read it at this offset minus 8.
    KernfsNodeName,
    // command lines and environment (exec)
    /// `struct mm_struct.start_stack`: where argc, then the argv and envp
    /// pointers, lie in the program's memory.
    MmStartStack,
    /// `struct mm_struct.arg_start`: the first byte of the arguments.
    MmArgStart,
    /// `struct mm_struct.arg_end`: past the last argument's NUL.
    MmArgEnd,
    // overlayfs upper layer (`proc.exe.upper_layer`, `exec.upper_layer`)
    /// `struct inode.i_private`: `void *`. The last member of `struct inode`
    /// on every kernel polc supports (6.1, 6.12, 6.18; `i_private` has been
    /// last since 2.6), so this offset plus 8 is `sizeof(struct inode)`:
    /// where overlayfs' `struct ovl_inode` keeps `__upperdentry`, right
    /// after the `struct inode vfs_inode` it embeds (`ovl_inode`'s layout is
    /// in the overlay module's BTF, which polrt does not relocate against).
    InodePrivate,
    /// `struct super_block.s_magic`: `unsigned long`: the file system's
    /// magic number (`OVERLAYFS_SUPER_MAGIC` for overlayfs).
    SuperBlockMagic,
}

impl KernelMember {
    /// `(struct name, member name)` as in the kernel's BTF.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            KernelMember::TaskRealParent => ("task_struct", "real_parent"),
            KernelMember::TaskTgid => ("task_struct", "tgid"),
            KernelMember::TaskComm => ("task_struct", "comm"),
            KernelMember::TaskMm => ("task_struct", "mm"),
            KernelMember::TaskFiles => ("task_struct", "files"),
            KernelMember::TaskThreadInfo => ("task_struct", "thread_info"),
            KernelMember::ThreadInfoStatus => ("thread_info", "status"),
            KernelMember::MmExeFile => ("mm_struct", "exe_file"),
            KernelMember::FilesFdt => ("files_struct", "fdt"),
            KernelMember::FdtableMaxFds => ("fdtable", "max_fds"),
            KernelMember::FdtableFd => ("fdtable", "fd"),
            KernelMember::BinprmFilename => ("linux_binprm", "filename"),
            KernelMember::BinprmFile => ("linux_binprm", "file"),
            KernelMember::FileFPath => ("file", "f_path"),
            KernelMember::FileFFlags => ("file", "f_flags"),
            KernelMember::FileFMode => ("file", "f_mode"),
            KernelMember::FileFInode => ("file", "f_inode"),
            KernelMember::PathMnt => ("path", "mnt"),
            KernelMember::PathDentry => ("path", "dentry"),
            KernelMember::DentryParent => ("dentry", "d_parent"),
            KernelMember::DentryName => ("dentry", "d_name"),
            KernelMember::QstrHashLen => ("qstr", "hash_len"),
            KernelMember::QstrName => ("qstr", "name"),
            KernelMember::VfsmountRoot => ("vfsmount", "mnt_root"),
            KernelMember::MountParent => ("mount", "mnt_parent"),
            KernelMember::MountMountpoint => ("mount", "mnt_mountpoint"),
            KernelMember::MountMnt => ("mount", "mnt"),
            KernelMember::InodeIno => ("inode", "i_ino"),
            KernelMember::InodeSb => ("inode", "i_sb"),
            KernelMember::SuperBlockDev => ("super_block", "s_dev"),
            KernelMember::PtRegsOrigAx => ("pt_regs", "orig_ax"),
            KernelMember::PtRegsBx => ("pt_regs", "bx"),
            KernelMember::PtRegsCx => ("pt_regs", "cx"),
            KernelMember::PtRegsDx => ("pt_regs", "dx"),
            KernelMember::PtRegsSi => ("pt_regs", "si"),
            KernelMember::PtRegsDi => ("pt_regs", "di"),
            KernelMember::PtRegsBp => ("pt_regs", "bp"),
            KernelMember::PtRegsR10 => ("pt_regs", "r10"),
            KernelMember::PtRegsR8 => ("pt_regs", "r8"),
            KernelMember::PtRegsR9 => ("pt_regs", "r9"),
            KernelMember::MsghdrName => ("msghdr", "msg_name"),
            KernelMember::VmAreaFile => ("vm_area_struct", "vm_file"),
            KernelMember::VmAreaFlags => ("vm_area_struct", "vm_flags"),
            KernelMember::TaskCred => ("task_struct", "cred"),
            KernelMember::DentryInode => ("dentry", "d_inode"),
            KernelMember::InodeNlink => ("inode", "__i_nlink"),
            KernelMember::VfsmountSb => ("vfsmount", "mnt_sb"),
            KernelMember::SuperBlockType => ("super_block", "s_type"),
            KernelMember::FsTypeName => ("file_system_type", "name"),
            KernelMember::FilePrivateData => ("file", "private_data"),
            KernelMember::SocketSk => ("socket", "sk"),
            KernelMember::SocketType => ("socket", "type"),
            KernelMember::SkProtocol => ("sock", "sk_protocol"),
            KernelMember::SkcFamily => ("sock_common", "skc_family"),
            KernelMember::SkcNum => ("sock_common", "skc_num"),
            KernelMember::SkcDport => ("sock_common", "skc_dport"),
            KernelMember::SkcDaddr => ("sock_common", "skc_daddr"),
            KernelMember::SkcRcvSaddr => ("sock_common", "skc_rcv_saddr"),
            KernelMember::SkcV6Daddr => ("sock_common", "skc_v6_daddr"),
            KernelMember::SkcV6RcvSaddr => ("sock_common", "skc_v6_rcv_saddr"),
            KernelMember::CredUid => ("cred", "uid"),
            KernelMember::CredEuid => ("cred", "euid"),
            KernelMember::CredGid => ("cred", "gid"),
            KernelMember::CredEgid => ("cred", "egid"),
            KernelMember::BpfMapId => ("bpf_map", "id"),
            KernelMember::BpfProgAux => ("bpf_prog", "aux"),
            KernelMember::BpfProgAuxId => ("bpf_prog_aux", "id"),
            KernelMember::TaskLoginuid => ("task_struct", "loginuid"),
            KernelMember::TaskGroupLeader => ("task_struct", "group_leader"),
            KernelMember::TaskThreadPid => ("task_struct", "thread_pid"),
            KernelMember::TaskStartTime => ("task_struct", "start_time"),
            KernelMember::TaskFs => ("task_struct", "fs"),
            KernelMember::TaskSignal => ("task_struct", "signal"),
            KernelMember::PidLevel => ("pid", "level"),
            KernelMember::PidNumbers => ("pid", "numbers"),
            KernelMember::FsPwd => ("fs_struct", "pwd"),
            KernelMember::SignalTty => ("signal_struct", "tty"),
            KernelMember::TtyName => ("tty_struct", "name"),
            KernelMember::CredCapEffective => ("cred", "cap_effective"),
            KernelMember::TaskCgroups => ("task_struct", "cgroups"),
            KernelMember::CssSetDflCgrp => ("css_set", "dfl_cgrp"),
            KernelMember::CgroupKn => ("cgroup", "kn"),
            KernelMember::KernfsNodeName => ("kernfs_node", "name"),
            KernelMember::MmStartStack => ("mm_struct", "start_stack"),
            KernelMember::MmArgStart => ("mm_struct", "arg_start"),
            KernelMember::MmArgEnd => ("mm_struct", "arg_end"),
            // overlayfs upper layer
            KernelMember::InodePrivate => ("inode", "i_private"),
            KernelMember::SuperBlockMagic => ("super_block", "s_magic"),
        }
    }

    /// Size in bytes of the member (stable across the kernels we support;
    /// only offsets are relocated). For an embedded struct whose members are
    /// read one by one (`thread_info`, `vfsmount`), the size of the part the
    /// local shape declares.
    pub fn size(self) -> u32 {
        match self {
            KernelMember::TaskTgid
            | KernelMember::TaskThreadInfo
            | KernelMember::ThreadInfoStatus
            | KernelMember::FdtableMaxFds
            | KernelMember::FileFFlags
            | KernelMember::FileFMode
            | KernelMember::BpfMapId
            | KernelMember::BpfProgAuxId
            | KernelMember::SuperBlockDev => 4,
            KernelMember::TaskRealParent
            | KernelMember::TaskMm
            | KernelMember::TaskFiles
            | KernelMember::MmExeFile
            | KernelMember::FilesFdt
            | KernelMember::FdtableFd
            | KernelMember::BinprmFilename
            | KernelMember::BinprmFile
            | KernelMember::FileFInode
            | KernelMember::PathMnt
            | KernelMember::PathDentry
            | KernelMember::DentryParent
            | KernelMember::QstrHashLen
            | KernelMember::QstrName
            | KernelMember::VfsmountRoot
            | KernelMember::MountParent
            | KernelMember::MountMountpoint
            | KernelMember::InodeIno
            | KernelMember::InodeSb
            | KernelMember::PtRegsOrigAx
            | KernelMember::PtRegsBx
            | KernelMember::PtRegsCx
            | KernelMember::PtRegsDx
            | KernelMember::PtRegsSi
            | KernelMember::PtRegsDi
            | KernelMember::PtRegsBp
            | KernelMember::PtRegsR10
            | KernelMember::PtRegsR8
            | KernelMember::PtRegsR9
            | KernelMember::MsghdrName
            | KernelMember::VmAreaFile
            | KernelMember::VmAreaFlags
            | KernelMember::BpfProgAux => 8,
            KernelMember::TaskComm
            | KernelMember::FileFPath
            | KernelMember::DentryName
            | KernelMember::MountMnt => 16,
            KernelMember::SkcFamily
            | KernelMember::SkcNum
            | KernelMember::SkcDport
            | KernelMember::SocketType
            | KernelMember::SkProtocol => 2,
            KernelMember::InodeNlink
            | KernelMember::SkcDaddr
            | KernelMember::SkcRcvSaddr
            | KernelMember::CredUid
            | KernelMember::CredEuid
            | KernelMember::CredGid
            | KernelMember::CredEgid => 4,
            KernelMember::TaskCred
            | KernelMember::TaskCgroups
            | KernelMember::CssSetDflCgrp
            | KernelMember::CgroupKn
            | KernelMember::KernfsNodeName
            | KernelMember::DentryInode
            | KernelMember::VfsmountSb
            | KernelMember::SuperBlockType
            | KernelMember::FsTypeName
            | KernelMember::FilePrivateData
            | KernelMember::SocketSk
            | KernelMember::MmStartStack
            | KernelMember::MmArgStart
            | KernelMember::MmArgEnd => 8,
            KernelMember::SkcV6Daddr | KernelMember::SkcV6RcvSaddr => 16,
            KernelMember::TaskLoginuid | KernelMember::PidLevel => 4,
            KernelMember::TaskGroupLeader
            | KernelMember::TaskThreadPid
            | KernelMember::TaskStartTime
            | KernelMember::TaskFs
            | KernelMember::TaskSignal
            | KernelMember::SignalTty
            | KernelMember::CredCapEffective => 8,
            // A flexible array: its offset is relocated, its elements
            // (`struct upid`: an `int` and a pointer) are 16 bytes.
            KernelMember::PidNumbers => 0,
            KernelMember::FsPwd => 16,
            KernelMember::TtyName => 64,
            // overlayfs upper layer
            KernelMember::InodePrivate | KernelMember::SuperBlockMagic => 8,
        }
    }

    /// Every member, for tables and tests.
    pub const ALL: [KernelMember; 88] = [
        KernelMember::TaskRealParent,
        KernelMember::TaskTgid,
        KernelMember::TaskComm,
        KernelMember::TaskMm,
        KernelMember::TaskFiles,
        KernelMember::TaskThreadInfo,
        KernelMember::ThreadInfoStatus,
        KernelMember::MmExeFile,
        KernelMember::FilesFdt,
        KernelMember::FdtableMaxFds,
        KernelMember::FdtableFd,
        KernelMember::BinprmFilename,
        KernelMember::BinprmFile,
        KernelMember::FileFPath,
        KernelMember::FileFFlags,
        KernelMember::FileFMode,
        KernelMember::FileFInode,
        KernelMember::PathMnt,
        KernelMember::PathDentry,
        KernelMember::DentryParent,
        KernelMember::DentryName,
        KernelMember::QstrHashLen,
        KernelMember::QstrName,
        KernelMember::VfsmountRoot,
        KernelMember::MountParent,
        KernelMember::MountMountpoint,
        KernelMember::MountMnt,
        KernelMember::InodeIno,
        KernelMember::InodeSb,
        KernelMember::SuperBlockDev,
        KernelMember::PtRegsOrigAx,
        KernelMember::PtRegsBx,
        KernelMember::PtRegsCx,
        KernelMember::PtRegsDx,
        KernelMember::PtRegsSi,
        KernelMember::PtRegsDi,
        KernelMember::PtRegsBp,
        KernelMember::PtRegsR10,
        KernelMember::PtRegsR8,
        KernelMember::PtRegsR9,
        KernelMember::MsghdrName,
        KernelMember::VmAreaFile,
        KernelMember::VmAreaFlags,
        KernelMember::TaskCred,
        KernelMember::DentryInode,
        KernelMember::InodeNlink,
        KernelMember::VfsmountSb,
        KernelMember::SuperBlockType,
        KernelMember::FsTypeName,
        KernelMember::FilePrivateData,
        KernelMember::SocketSk,
        KernelMember::SkcFamily,
        KernelMember::SkcNum,
        KernelMember::SkcDport,
        KernelMember::SkcDaddr,
        KernelMember::SkcRcvSaddr,
        KernelMember::SkcV6Daddr,
        KernelMember::SkcV6RcvSaddr,
        KernelMember::CredUid,
        KernelMember::CredEuid,
        KernelMember::CredGid,
        KernelMember::CredEgid,
        KernelMember::BpfMapId,
        KernelMember::BpfProgAux,
        KernelMember::BpfProgAuxId,
        KernelMember::TaskLoginuid,
        KernelMember::TaskGroupLeader,
        KernelMember::TaskThreadPid,
        KernelMember::TaskStartTime,
        KernelMember::TaskFs,
        KernelMember::TaskSignal,
        KernelMember::PidLevel,
        KernelMember::PidNumbers,
        KernelMember::FsPwd,
        KernelMember::SignalTty,
        KernelMember::TtyName,
        KernelMember::CredCapEffective,
        KernelMember::TaskCgroups,
        KernelMember::CssSetDflCgrp,
        KernelMember::CgroupKn,
        KernelMember::KernfsNodeName,
        KernelMember::MmStartStack,
        KernelMember::MmArgStart,
        KernelMember::MmArgEnd,
        KernelMember::SocketType,
        KernelMember::SkProtocol,
        // overlayfs upper layer
        KernelMember::InodePrivate,
        KernelMember::SuperBlockMagic,
    ];
}

/// `EPERM`: an LSM program refuses with `-EPERM`.
pub const EPERM: i32 = 1;
/// `bpf(2)` commands that detach or replace what a link or an attachment
/// holds: `BPF_PROG_DETACH`, `BPF_LINK_UPDATE`, `BPF_LINK_DETACH`.
pub const BPF_DETACHING_COMMANDS: [i32; 3] = [9, 29, 34];

/// `SIGKILL`, sent by `kill` and by `deny` on backends that cannot refuse.
pub const SIGKILL: u64 = 9;
/// `enum kernel_read_file_id::READING_MODULE`.
pub const READING_MODULE: u64 = 2;
/// `enum kernel_load_data_id::LOADING_MODULE`.
pub const LOADING_MODULE: u64 = 2;
/// The architecture the syscall numbers are for, as Rust names it
/// (`std::env::consts::ARCH`); written into every object's metadata.
pub const ARCH: &str = "x86_64";
/// `FMODE_READ` in `struct file.f_mode`.
pub const FMODE_READ: u64 = 0x1;
/// `FMODE_WRITE` in `struct file.f_mode`.
pub const FMODE_WRITE: u64 = 0x2;
/// `O_ACCMODE` in open flags.
pub const O_ACCMODE: u64 = 0x3;
/// The open flags `creat(2)` implies: `O_CREAT | O_WRONLY | O_TRUNC`.
pub const CREAT_FLAGS: u64 = 0o100 | 0o1 | 0o1000;
/// `TS_COMPAT` in `thread_info.status`: the running system call is a 32-bit
/// one (`int 0x80`, or `sysenter`/`syscall` from 32-bit code).
pub const TS_COMPAT: u64 = 0x2;
/// `__X32_SYSCALL_BIT`: set in the numbers of x32-ABI system calls, which
/// otherwise share the 64-bit numbers (but for a few, see [`Syscall::nr`]).
pub const X32_SYSCALL_BIT: u64 = 0x4000_0000;
/// `PROT_EXEC` in `mmap`/`mprotect` protections.
pub const PROT_EXEC: u64 = 0x4;
/// `MAP_ANONYMOUS` in `mmap` flags.
pub const MAP_ANONYMOUS: u64 = 0x20;
/// `VM_EXEC` in `vm_area_struct.vm_flags`.
pub const VM_EXEC: u64 = 0x4;
/// `S_ISUID | S_ISGID` in a file mode.
pub const S_ISUID_ISGID: u64 = 0o6000;
/// The permission bits of a file mode (with set-id and sticky).
pub const MODE_BITS: u64 = 0o7777;
/// `PTRACE_MODE_ATTACH` in `ptrace_access_check`'s mode (else a read:
/// `PTRACE_MODE_READ`).
pub const PTRACE_MODE_ATTACH: u64 = 0x2;
/// The `ptrace` requests that start tracing: `PTRACE_TRACEME`,
/// `PTRACE_ATTACH`, `PTRACE_SEIZE`.
pub const PTRACE_STARTS: &[u64] = &[0, 16, 0x4206];
/// Every `CLONE_NEW*` flag (`NS`, `CGROUP`, `UTS`, `IPC`, `USER`, `PID`,
/// `NET`, `TIME`).
pub const CLONE_NEW_FLAGS: u64 = 0x0002_0000
    | 0x0200_0000
    | 0x0400_0000
    | 0x0800_0000
    | 0x1000_0000
    | 0x2000_0000
    | 0x4000_0000
    | 0x80;
/// `SOCK_TYPE_MASK`: the socket type without `SOCK_NONBLOCK`/`SOCK_CLOEXEC`.
pub const SOCK_TYPE_MASK: u64 = 0xf;
/// `MS_MOVE` in mount flags.
pub const MS_MOVE: u64 = 8192;
/// The open flags the kernel clears from `file.f_flags` once a file is open
/// (`O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC`): a program that sees the open
/// file takes them from the system call's arguments.
pub const OPEN_ONLY_FLAGS: u64 = 0o100 | 0o200 | 0o400 | 0o1000;

/// A system call ABI of an x86_64 kernel.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Abi {
    /// The 64-bit ABI (and x32, whose numbers carry [`X32_SYSCALL_BIT`]).
    X64,
    /// The 32-bit (ia32) compat ABI: `int 0x80` and 32-bit processes.
    Ia32,
}

impl Abi {
    /// Both ABIs.
    pub const ALL: [Abi; 2] = [Abi::X64, Abi::Ia32];

    /// The `pt_regs` member holding system call argument `idx` (0-based).
    pub fn arg(self, idx: u8) -> KernelMember {
        const X64: [KernelMember; 6] = [
            KernelMember::PtRegsDi,
            KernelMember::PtRegsSi,
            KernelMember::PtRegsDx,
            KernelMember::PtRegsR10,
            KernelMember::PtRegsR8,
            KernelMember::PtRegsR9,
        ];
        const IA32: [KernelMember; 6] = [
            KernelMember::PtRegsBx,
            KernelMember::PtRegsCx,
            KernelMember::PtRegsDx,
            KernelMember::PtRegsSi,
            KernelMember::PtRegsDi,
            KernelMember::PtRegsBp,
        ];
        let table = match self {
            Abi::X64 => &X64,
            Abi::Ia32 => &IA32,
        };
        table[usize::from(idx).min(5)]
    }
}

/// A system call a fallback program decides on, with its number in each ABI
/// (`None` where the ABI has no such call: the 16-bit id calls exist only in
/// the 32-bit ABI, `accept` only in the 64-bit one).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Syscall {
    Execve,
    Execveat,
    Open,
    Openat,
    Openat2,
    Creat,
    OpenByHandleAt,
    InitModule,
    FinitModule,
    Bpf,
    /// `mmap(addr, len, prot, flags, fd, off)`; 32-bit code calls it `mmap2`
    /// (the offset in pages), with the same argument order.
    Mmap,
    /// The 32-bit `old_mmap(struct mmap_arg_struct *)`: its arguments are in
    /// user memory.
    OldMmap,
    Mprotect,
    PkeyMprotect,
    Unlink,
    Unlinkat,
    Rmdir,
    Rename,
    Renameat,
    Renameat2,
    Link,
    Linkat,
    Symlink,
    Symlinkat,
    Mkdir,
    Mkdirat,
    Chmod,
    Fchmod,
    Fchmodat,
    Fchmodat2,
    /// `chown` (32-bit code: `chown32`).
    Chown,
    /// `lchown` (32-bit code: `lchown32`).
    Lchown,
    /// `fchown` (32-bit code: `fchown32`).
    Fchown,
    /// The 32-bit ABI's 16-bit `chown`.
    Chown16,
    Lchown16,
    Fchown16,
    Fchownat,
    Truncate,
    Ftruncate,
    Truncate64,
    Ftruncate64,
    Ptrace,
    ProcessVmReadv,
    ProcessVmWritev,
    /// `setuid` (32-bit code: `setuid32`); likewise below.
    Setuid,
    Setreuid,
    Setresuid,
    Setfsuid,
    /// The 32-bit ABI's 16-bit `setuid`; likewise below.
    Setuid16,
    Setreuid16,
    Setresuid16,
    Setfsuid16,
    Setgid,
    Setregid,
    Setresgid,
    Setfsgid,
    Setgid16,
    Setregid16,
    Setresgid16,
    Setfsgid16,
    Capset,
    Kill,
    Tkill,
    Tgkill,
    RtSigqueueinfo,
    RtTgsigqueueinfo,
    PidfdSendSignal,
    Setns,
    Unshare,
    Clone,
    Clone3,
    Mount,
    Umount2,
    /// The 32-bit `umount(target)` (no flags).
    Umount,
    MoveMount,
    Socket,
    Listen,
    Accept,
    Accept4,
}

impl Syscall {
    /// Every system call of the table, for tests.
    pub const ALL: [Syscall; 79] = [
        Syscall::Execve,
        Syscall::Execveat,
        Syscall::Open,
        Syscall::Openat,
        Syscall::Openat2,
        Syscall::Creat,
        Syscall::OpenByHandleAt,
        Syscall::InitModule,
        Syscall::FinitModule,
        Syscall::Bpf,
        Syscall::Mmap,
        Syscall::OldMmap,
        Syscall::Mprotect,
        Syscall::PkeyMprotect,
        Syscall::Unlink,
        Syscall::Unlinkat,
        Syscall::Rmdir,
        Syscall::Rename,
        Syscall::Renameat,
        Syscall::Renameat2,
        Syscall::Link,
        Syscall::Linkat,
        Syscall::Symlink,
        Syscall::Symlinkat,
        Syscall::Mkdir,
        Syscall::Mkdirat,
        Syscall::Chmod,
        Syscall::Fchmod,
        Syscall::Fchmodat,
        Syscall::Fchmodat2,
        Syscall::Chown,
        Syscall::Lchown,
        Syscall::Fchown,
        Syscall::Chown16,
        Syscall::Lchown16,
        Syscall::Fchown16,
        Syscall::Fchownat,
        Syscall::Truncate,
        Syscall::Ftruncate,
        Syscall::Truncate64,
        Syscall::Ftruncate64,
        Syscall::Ptrace,
        Syscall::ProcessVmReadv,
        Syscall::ProcessVmWritev,
        Syscall::Setuid,
        Syscall::Setreuid,
        Syscall::Setresuid,
        Syscall::Setfsuid,
        Syscall::Setuid16,
        Syscall::Setreuid16,
        Syscall::Setresuid16,
        Syscall::Setfsuid16,
        Syscall::Setgid,
        Syscall::Setregid,
        Syscall::Setresgid,
        Syscall::Setfsgid,
        Syscall::Setgid16,
        Syscall::Setregid16,
        Syscall::Setresgid16,
        Syscall::Setfsgid16,
        Syscall::Capset,
        Syscall::Kill,
        Syscall::Tkill,
        Syscall::Tgkill,
        Syscall::RtSigqueueinfo,
        Syscall::RtTgsigqueueinfo,
        Syscall::PidfdSendSignal,
        Syscall::Setns,
        Syscall::Unshare,
        Syscall::Clone,
        Syscall::Clone3,
        Syscall::Mount,
        Syscall::Umount2,
        Syscall::Umount,
        Syscall::MoveMount,
        Syscall::Socket,
        Syscall::Listen,
        Syscall::Accept,
        Syscall::Accept4,
    ];

    /// The system call's numbers `(64-bit, 32-bit)` (x32 numbers are the
    /// 64-bit ones with [`X32_SYSCALL_BIT`]; `execve` and `execveat` have
    /// x32 numbers of their own, see [`Syscall::x32_nr`]).
    fn numbers(self) -> (Option<u64>, Option<u64>) {
        let both = |x64: u64, ia32: u64| (Some(x64), Some(ia32));
        let ia32_only = |ia32: u64| (None, Some(ia32));
        match self {
            Syscall::Execve => both(59, 11),
            Syscall::Execveat => both(322, 358),
            Syscall::Open => both(2, 5),
            Syscall::Openat => both(257, 295),
            Syscall::Openat2 => both(437, 437),
            Syscall::Creat => both(85, 8),
            Syscall::OpenByHandleAt => both(304, 342),
            Syscall::InitModule => both(175, 128),
            Syscall::FinitModule => both(313, 350),
            Syscall::Bpf => both(321, 357),
            Syscall::Mmap => both(9, 192),
            Syscall::OldMmap => ia32_only(90),
            Syscall::Mprotect => both(10, 125),
            Syscall::PkeyMprotect => both(329, 380),
            Syscall::Unlink => both(87, 10),
            Syscall::Unlinkat => both(263, 301),
            Syscall::Rmdir => both(84, 40),
            Syscall::Rename => both(82, 38),
            Syscall::Renameat => both(264, 302),
            Syscall::Renameat2 => both(316, 353),
            Syscall::Link => both(86, 9),
            Syscall::Linkat => both(265, 303),
            Syscall::Symlink => both(88, 83),
            Syscall::Symlinkat => both(266, 304),
            Syscall::Mkdir => both(83, 39),
            Syscall::Mkdirat => both(258, 296),
            Syscall::Chmod => both(90, 15),
            Syscall::Fchmod => both(91, 94),
            Syscall::Fchmodat => both(268, 306),
            Syscall::Fchmodat2 => both(452, 452),
            Syscall::Chown => both(92, 212),
            Syscall::Lchown => both(94, 198),
            Syscall::Fchown => both(93, 207),
            Syscall::Chown16 => ia32_only(182),
            Syscall::Lchown16 => ia32_only(16),
            Syscall::Fchown16 => ia32_only(95),
            Syscall::Fchownat => both(260, 298),
            Syscall::Truncate => both(76, 92),
            Syscall::Ftruncate => both(77, 93),
            Syscall::Truncate64 => ia32_only(193),
            Syscall::Ftruncate64 => ia32_only(194),
            Syscall::Ptrace => both(101, 26),
            Syscall::ProcessVmReadv => both(310, 347),
            Syscall::ProcessVmWritev => both(311, 348),
            Syscall::Setuid => both(105, 213),
            Syscall::Setreuid => both(113, 203),
            Syscall::Setresuid => both(117, 208),
            Syscall::Setfsuid => both(122, 215),
            Syscall::Setuid16 => ia32_only(23),
            Syscall::Setreuid16 => ia32_only(70),
            Syscall::Setresuid16 => ia32_only(164),
            Syscall::Setfsuid16 => ia32_only(138),
            Syscall::Setgid => both(106, 214),
            Syscall::Setregid => both(114, 204),
            Syscall::Setresgid => both(119, 210),
            Syscall::Setfsgid => both(123, 216),
            Syscall::Setgid16 => ia32_only(46),
            Syscall::Setregid16 => ia32_only(71),
            Syscall::Setresgid16 => ia32_only(170),
            Syscall::Setfsgid16 => ia32_only(139),
            Syscall::Capset => both(126, 185),
            Syscall::Kill => both(62, 37),
            Syscall::Tkill => both(200, 238),
            Syscall::Tgkill => both(234, 270),
            Syscall::RtSigqueueinfo => both(129, 178),
            Syscall::RtTgsigqueueinfo => both(297, 335),
            Syscall::PidfdSendSignal => both(424, 424),
            Syscall::Setns => both(308, 346),
            Syscall::Unshare => both(272, 310),
            Syscall::Clone => both(56, 120),
            Syscall::Clone3 => both(435, 435),
            Syscall::Mount => both(165, 21),
            Syscall::Umount2 => both(166, 52),
            Syscall::Umount => ia32_only(22),
            Syscall::MoveMount => both(429, 429),
            Syscall::Socket => both(41, 359),
            Syscall::Listen => both(50, 363),
            Syscall::Accept => (Some(43), None),
            Syscall::Accept4 => both(288, 364),
        }
    }

    /// The system call's number in `abi`, if that ABI has the call.
    pub fn nr(self, abi: Abi) -> Option<u64> {
        let (x64, ia32) = self.numbers();
        match abi {
            Abi::X64 => x64,
            Abi::Ia32 => ia32,
        }
    }

    /// The x32 number, where the 64-bit ABI has the call: the 64-bit one
    /// with the x32 bit, but for the calls that have x32 numbers of their own.
    pub fn x32_nr(self) -> Option<u64> {
        match self {
            Syscall::Execve => Some(X32_SYSCALL_BIT | 520),
            Syscall::Execveat => Some(X32_SYSCALL_BIT | 545),
            other => other.nr(Abi::X64).map(|nr| X32_SYSCALL_BIT | nr),
        }
    }

    /// The argument (0-based) holding the open flags, for the calls that
    /// open files (`creat` implies [`CREAT_FLAGS`]; `openat2` holds them in
    /// the `struct open_how` its argument 2 points to).
    pub fn open_flags_arg(self) -> Option<u8> {
        match self {
            Syscall::Open => Some(1),
            Syscall::Openat | Syscall::OpenByHandleAt => Some(2),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_numbers_are_distinct_per_abi() {
        for abi in Abi::ALL {
            let mut nrs: Vec<u64> = Syscall::ALL.iter().filter_map(|s| s.nr(abi)).collect();
            let n = nrs.len();
            nrs.sort_unstable();
            nrs.dedup();
            assert_eq!(nrs.len(), n, "{abi:?}");
        }
        // 32-bit 175 is rt_sigprocmask, not init_module.
        assert_ne!(Syscall::InitModule.nr(Abi::Ia32), Some(175));
        assert_eq!(Syscall::Execve.x32_nr(), Some(X32_SYSCALL_BIT | 520));
        assert_eq!(Syscall::Openat.x32_nr(), Some(X32_SYSCALL_BIT | 257));
        // The 16-bit id calls are 32-bit only; 32-bit code has no accept.
        assert_eq!(Syscall::Setuid16.nr(Abi::X64), None);
        assert_eq!(Syscall::Setuid16.x32_nr(), None);
        assert_eq!(Syscall::Setuid.nr(Abi::Ia32), Some(213));
        assert_eq!(Syscall::Accept.nr(Abi::Ia32), None);
    }

    #[test]
    fn system_call_arguments_follow_each_abi() {
        assert_eq!(Abi::X64.arg(0), KernelMember::PtRegsDi);
        assert_eq!(Abi::X64.arg(3), KernelMember::PtRegsR10);
        assert_eq!(Abi::Ia32.arg(0), KernelMember::PtRegsBx);
        assert_eq!(Abi::Ia32.arg(4), KernelMember::PtRegsDi);
    }
}
