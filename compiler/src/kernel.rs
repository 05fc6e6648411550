//! Facts about the kernel the programs run in, below both the checker and
//! the code generator: the kernel struct members programs read (relocated by
//! CO-RE against the running kernel's BTF), syscall numbers, and the uapi
//! constants the hook table and code generation share.
//!
//! Syscall numbers are per architecture; only x86_64 is supported, and the
//! crate refuses to build for another target rather than emit programs that
//! would test the wrong numbers.
//!
//! Depends on nothing but `std`.

#[cfg(not(target_arch = "x86_64"))]
compile_error!("polc's syscall tables are for x86_64 only (see compiler/src/kernel.rs)");

/// A member of a kernel struct read through BTF, relocated at load time
/// (CO-RE) against the running kernel's BTF: never a hard-coded offset.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KernelMember {
    /// `struct task_struct.real_parent` (`struct task_struct *`).
    TaskRealParent,
    /// `struct task_struct.tgid` (`pid_t`).
    TaskTgid,
    /// `struct task_struct.comm` (`char[16]`).
    TaskComm,
    /// `struct linux_binprm.filename` (`const char *`).
    BinprmFilename,
    /// `struct file.f_path` (`struct path`).
    FileFPath,
    /// `struct file.f_flags` (`unsigned int`).
    FileFFlags,
    /// `struct file.f_mode` (`fmode_t`, an `unsigned int`).
    FileFMode,
    /// `struct bpf_map.id` (`u32`).
    BpfMapId,
    /// `struct bpf_prog.aux` (`struct bpf_prog_aux *`).
    BpfProgAux,
    /// `struct bpf_prog_aux.id` (`u32`).
    BpfProgAuxId,
    /// `struct inode.i_ino` (`unsigned long`).
    InodeIno,
    /// `struct inode.i_sb` (`struct super_block *`).
    InodeSb,
    /// `struct super_block.s_dev` (`dev_t`, a `u32`: `MAJOR << 20 | MINOR`).
    SuperBlockDev,
    /// `struct vfsmount.mnt_sb` (`struct super_block *`).
    VfsmountSb,
}

impl KernelMember {
    /// `(struct name, member name)` as in the kernel's BTF.
    pub fn names(self) -> (&'static str, &'static str) {
        match self {
            KernelMember::TaskRealParent => ("task_struct", "real_parent"),
            KernelMember::TaskTgid => ("task_struct", "tgid"),
            KernelMember::TaskComm => ("task_struct", "comm"),
            KernelMember::BinprmFilename => ("linux_binprm", "filename"),
            KernelMember::FileFPath => ("file", "f_path"),
            KernelMember::FileFFlags => ("file", "f_flags"),
            KernelMember::FileFMode => ("file", "f_mode"),
            KernelMember::BpfMapId => ("bpf_map", "id"),
            KernelMember::BpfProgAux => ("bpf_prog", "aux"),
            KernelMember::BpfProgAuxId => ("bpf_prog_aux", "id"),
            KernelMember::InodeIno => ("inode", "i_ino"),
            KernelMember::InodeSb => ("inode", "i_sb"),
            KernelMember::SuperBlockDev => ("super_block", "s_dev"),
            KernelMember::VfsmountSb => ("vfsmount", "mnt_sb"),
        }
    }

    /// Size in bytes of the member (stable across the kernels we support;
    /// only offsets are relocated).
    pub fn size(self) -> u32 {
        match self {
            KernelMember::TaskRealParent
            | KernelMember::BinprmFilename
            | KernelMember::BpfProgAux
            | KernelMember::InodeIno
            | KernelMember::InodeSb
            | KernelMember::VfsmountSb => 8,
            KernelMember::TaskTgid
            | KernelMember::FileFFlags
            | KernelMember::FileFMode
            | KernelMember::BpfMapId
            | KernelMember::BpfProgAuxId
            | KernelMember::SuperBlockDev => 4,
            KernelMember::TaskComm => 16,
            KernelMember::FileFPath => 16,
        }
    }

    /// Every member, for tables and tests.
    pub const ALL: [KernelMember; 14] = [
        KernelMember::TaskRealParent,
        KernelMember::TaskTgid,
        KernelMember::TaskComm,
        KernelMember::BinprmFilename,
        KernelMember::FileFPath,
        KernelMember::FileFFlags,
        KernelMember::FileFMode,
        KernelMember::BpfMapId,
        KernelMember::BpfProgAux,
        KernelMember::BpfProgAuxId,
        KernelMember::InodeIno,
        KernelMember::InodeSb,
        KernelMember::SuperBlockDev,
        KernelMember::VfsmountSb,
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
/// x86_64 syscall number of `init_module`.
pub const NR_INIT_MODULE: u64 = 175;
/// x86_64 syscall number of `finit_module`.
pub const NR_FINIT_MODULE: u64 = 313;
/// `FMODE_WRITE` in `struct file.f_mode`.
pub const FMODE_WRITE: u64 = 0x2;
/// `O_ACCMODE` in open flags.
pub const O_ACCMODE: u64 = 0x3;
/// The open flags `creat(2)` implies: `O_CREAT | O_WRONLY | O_TRUNC`.
pub const CREAT_FLAGS: u64 = 0o100 | 0o1 | 0o1000;
