//! Facts about the kernel the programs run in, below both the checker and
//! the code generator: the kernel struct members programs read (relocated by
//! CO-RE against the running kernel's BTF), syscall numbers, and the uapi
//! constants the hook table and code generation share.
//!
//! Syscall numbers are per architecture and per ABI ([`SYSCALLS`]); only
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
        }
    }

    /// Size in bytes of the member (stable across the kernels we support;
    /// only offsets are relocated).
    pub fn size(self) -> u32 {
        match self {
            KernelMember::TaskRealParent | KernelMember::BinprmFilename => 8,
            KernelMember::TaskTgid | KernelMember::FileFFlags | KernelMember::FileFMode => 4,
            KernelMember::TaskComm => 16,
            KernelMember::FileFPath => 16,
        }
    }

    /// Every member, for tables and tests.
    pub const ALL: [KernelMember; 7] = [
        KernelMember::TaskRealParent,
        KernelMember::TaskTgid,
        KernelMember::TaskComm,
        KernelMember::BinprmFilename,
        KernelMember::FileFPath,
        KernelMember::FileFFlags,
        KernelMember::FileFMode,
    ];
}

/// `SIGKILL`, sent by `kill` and by `deny` on backends that cannot refuse.
pub const SIGKILL: u64 = 9;
/// `enum kernel_read_file_id::READING_MODULE`.
pub const READING_MODULE: u64 = 2;
/// `enum kernel_load_data_id::LOADING_MODULE`.
pub const LOADING_MODULE: u64 = 2;
/// A system call ABI: the numbering `raw_syscalls:sys_enter` (and
/// `tp_btf/sys_enter`) reports a call under. A 64-bit kernel runs tasks of
/// more than one: 32-bit (`int 0x80`) calls arrive with their own numbers,
/// and do not fire the `syscalls:sys_enter_*` tracepoints at all.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SyscallAbi {
    /// x86_64's native 64-bit calls.
    X86_64,
}

/// The numbers of the system calls the hook table tests, in one ABI.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SyscallNumbers {
    pub abi: SyscallAbi,
    /// `init_module`.
    pub init_module: u64,
    /// `finit_module`.
    pub finit_module: u64,
}

/// Every ABI's numbers, the native one ([`NATIVE`]) first. A program that
/// should also see another ABI's calls (e.g. x86's 32-bit compat numbers,
/// 128 and 350) needs an entry here and a guard that tests it.
pub const SYSCALLS: &[SyscallNumbers] = &[SyscallNumbers {
    abi: SyscallAbi::X86_64,
    init_module: 175,
    finit_module: 313,
}];

/// The architecture the syscall numbers are for, as Rust names it
/// (`std::env::consts::ARCH`); written into every object's metadata.
pub const ARCH: &str = "x86_64";

/// The numbers of the ABI programs are built for.
pub const NATIVE: SyscallNumbers = SYSCALLS[0];

/// Native syscall number of `init_module`.
pub const NR_INIT_MODULE: u64 = NATIVE.init_module;
/// Native syscall number of `finit_module`.
pub const NR_FINIT_MODULE: u64 = NATIVE.finit_module;
/// `FMODE_WRITE` in `struct file.f_mode`.
pub const FMODE_WRITE: u64 = 0x2;
/// `O_ACCMODE` in open flags.
pub const O_ACCMODE: u64 = 0x3;
/// The open flags `creat(2)` implies: `O_CREAT | O_WRONLY | O_TRUNC`.
pub const CREAT_FLAGS: u64 = 0o100 | 0o1 | 0o1000;
