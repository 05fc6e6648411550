//! Files as the kernel resolved them: finding a `struct file *` (a context
//! argument, the task's executable, a file descriptor of the task), rendering
//! its path by walking its dentries and mounts up to the root of the mount
//! namespace, and reading its identity (device and inode).
//!
//! The walk is what `d_path` does, done by the program itself so that it is
//! the same on every backend and every kernel: one unrolled step per path
//! component (at most [`MAX_PATH_DEPTH`], counting mount crossings), each
//! copying the component's name right to left into a render buffer in the
//! walk area of the scratch map. Nothing the caller wrote takes part: a
//! relative name, `..`, `//`, a symbolic link, `/proc/self/root`, a dirfd or
//! a chroot all end at the same dentries. A path deeper than the walk, or
//! longer than [`RESOLVED_PATH_MAX`] bytes, is *unresolved*: its length word
//! holds `u64::MAX` ([`crate::abi::UNRESOLVED_PATH`]) and tests on it decide fail-closed (see `branch` in
//! `codegen/mod.rs`).
//!
//! Every kernel pointer is read with `bpf_probe_read_kernel` at CO-RE
//! relocated offsets (pointers from the file descriptor table are plain
//! numbers to the verifier, so one way of reading serves every source). The
//! walk state lives in the scratch map, not in registers: the walk uses r0-r5
//! only, and the verifier, which does not track map memory, prunes the paths
//! that leave it at different levels.
//!
//! A resolved path's slot holds `[u8; 256]` (the first 255 bytes and a NUL),
//! then the length word (the exact length, or [`UNRESOLVED`]), then the
//! identity: `u64 dev, u64 ino` (the key of the identity map lookup), and 8
//! bytes unused.

use super::{Emitter, FP_ABI};
use crate::bpf::asm::{Alu, Asm, Helper, Jmp, Label, Reg, Size};
use crate::check::hooks::{FieldId, FileRef, SockRef, MAX_PATH_DEPTH, RESOLVED_PATH_MAX};
use crate::ir::LeafKind;
use crate::kernel::{Abi, KernelMember, Syscall, CREAT_FLAGS, OPEN_ONLY_FLAGS};

/// Offsets in the walk area of the scratch map.
pub(super) mod walk {
    /// The `struct file *` being resolved (0: none).
    pub const FILE: u32 = 0;
    /// The current dentry.
    pub const DENTRY: u32 = 8;
    /// The current `struct mount *`.
    pub const MOUNT: u32 = 16;
    /// The root dentry of the current mount.
    pub const ROOT: u32 = 24;
    /// The parent of the current dentry, or the parent mount.
    pub const PARENT: u32 = 32;
    /// The current dentry's `d_name.hash_len`.
    pub const HASH_LEN: u32 = 40;
    /// The current dentry's `d_name.name`.
    pub const NAME: u32 = 48;
    /// Where the next component ends in the render buffer.
    pub const OFF: u32 = 56;
    /// Scratch words.
    pub const TMP: u32 = 64;
    pub const TMP2: u32 = 72;
    /// The render buffer: the path is built right to left, ending at
    /// `RENDER + RESOLVED_PATH_MAX` (its NUL); the buffer has room past it
    /// for the verifier's bound on the last copy.
    pub const RENDER: u32 = 80;
    /// Bytes of the walk area.
    pub const LEN: u32 = RENDER + super::RESOLVED_PATH_MAX + 1 + 256 + 8;
}

/// Offset of the length word in a resolved path's slot.
pub const RESOLVED_LEN: u32 = 256;
/// Offset of the identity (`dev`, `ino`: an identity map key) in a resolved path's slot.
pub const RESOLVED_IDENTITY: u32 = 264;

/// `bpf_probe_read_kernel(r7 + dst, size, base + Σ offsetof(members))`.
/// `base` may be any register (it is copied to r3 first).
fn read_kernel(asm: &mut Asm, dst: u32, size: i32, base: Reg, members: &[KernelMember]) {
    if base != Reg::R3 {
        asm.mov(Reg::R3, base);
    }
    for member in members {
        asm.add_member_offset(Reg::R3, *member);
    }
    asm.mov(Reg::R1, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R1, dst as i32);
    asm.mov_imm(Reg::R2, size);
    asm.call(Helper::ProbeReadKernel);
}

/// `reg = *(u64 *)(r7 + off)`.
fn get(asm: &mut Asm, reg: Reg, off: u32) {
    asm.load(Size::DoubleWord, reg, Reg::R7, off as i16);
}

/// `*(u64 *)(r7 + off) = reg`.
fn put(asm: &mut Asm, off: u32, reg: Reg) {
    asm.store(Size::DoubleWord, Reg::R7, off as i16, reg);
}

/// Loads system call argument `idx` of the ABI the syscall guard found into
/// `dst` (not r2), from the task's registers (context argument 0). The ABI
/// is on the stack in guards, in the scratch map once it is looked up.
pub(super) fn syscall_arg(e: &mut Emitter<'_>, idx: u8, dst: Reg, in_guard: bool) {
    let (x64, ia32) = (Abi::X64.arg(idx), Abi::Ia32.arg(idx));
    let asm = &mut e.asm;
    asm.load(Size::DoubleWord, Reg::R2, Reg::R6, 0);
    if x64 == ia32 {
        asm.load_member(Size::DoubleWord, dst, Reg::R2, x64);
        return;
    }
    if in_guard {
        asm.load(Size::DoubleWord, dst, Reg::R10, FP_ABI);
    } else {
        let abi = e.env.layout.abi;
        asm.load(Size::DoubleWord, dst, Reg::R7, abi as i16);
    }
    let compat = asm.label("ia32_arg");
    let done = asm.label("arg_read");
    asm.jump_imm(Jmp::IfNotEqual, dst, 0, compat);
    asm.load_member(Size::DoubleWord, dst, Reg::R2, x64);
    asm.goto(done);
    asm.bind(compat);
    asm.load_member(Size::DoubleWord, dst, Reg::R2, ia32);
    asm.bind(done);
}

/// Emits the syscall guard: finds the ABI (`TS_COMPAT` in the task's
/// `thread_info.status`), stores it at [`FP_ABI`] (0 for 64-bit and x32,
/// 1 for 32-bit), and leaves (allowing) unless the system call number in
/// the registers is one of `calls` in that ABI.
pub(super) fn syscall_guard(asm: &mut Asm, calls: &[Syscall], not_ours: Label) {
    asm.note(format!(
        "guard: one of {} (64-bit, x32 or 32-bit)",
        calls
            .iter()
            .map(|c| format!("{c:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let compat = asm.label("ia32");
    let ours = asm.label("our_syscall");
    asm.call(Helper::GetCurrentTaskBtf);
    asm.add_member_offset(Reg::R0, KernelMember::TaskThreadInfo);
    asm.load_member(Size::Word, Reg::R1, Reg::R0, KernelMember::ThreadInfoStatus);
    asm.alu_imm(Alu::And, Reg::R1, crate::kernel::TS_COMPAT as i32);
    asm.load(Size::DoubleWord, Reg::R2, Reg::R6, 0);
    asm.load_member(
        Size::DoubleWord,
        Reg::R2,
        Reg::R2,
        KernelMember::PtRegsOrigAx,
    );
    asm.jump_imm(Jmp::IfNotEqual, Reg::R1, 0, compat);
    asm.store_imm(Size::DoubleWord, Reg::R10, FP_ABI, 0);
    for call in calls {
        for nr in [call.nr(Abi::X64), call.x32_nr()].into_iter().flatten() {
            asm.jump_imm(Jmp::IfEqual, Reg::R2, nr as i32, ours);
        }
    }
    asm.goto(not_ours);
    asm.bind(compat);
    asm.store_imm(Size::DoubleWord, Reg::R10, FP_ABI, 1);
    for call in calls {
        if let Some(nr) = call.nr(Abi::Ia32) {
            asm.jump_imm(Jmp::IfEqual, Reg::R2, nr as i32, ours);
        }
    }
    asm.goto(not_ours);
    asm.bind(ours);
}

/// Emits code that leaves `file`'s `struct file *` in the walk area's
/// [`walk::FILE`] (0 when there is none).
fn find_file(e: &mut Emitter<'_>, file: FileRef) {
    let w = e.env.layout.walk;
    match file {
        FileRef::Arg { arg, path } => {
            let asm = &mut e.asm;
            asm.load(Size::DoubleWord, Reg::R1, Reg::R6, i16::from(arg) * 8);
            for member in path {
                asm.load_member(Size::DoubleWord, Reg::R1, Reg::R1, *member);
            }
            put(asm, w + walk::FILE, Reg::R1);
        }
        FileRef::TaskExe => {
            let asm = &mut e.asm;
            asm.note("the task's executable: current->mm->exe_file (none without an mm)");
            asm.call(Helper::GetCurrentTaskBtf);
            asm.load_member(Size::DoubleWord, Reg::R1, Reg::R0, KernelMember::TaskMm);
            asm.load_member(Size::DoubleWord, Reg::R1, Reg::R1, KernelMember::MmExeFile);
            put(asm, w + walk::FILE, Reg::R1);
        }
        FileRef::ParentExe => {
            let asm = &mut e.asm;
            asm.note("the parent's executable: current->real_parent->mm->exe_file");
            asm.call(Helper::GetCurrentTaskBtf);
            asm.load_member(
                Size::DoubleWord,
                Reg::R1,
                Reg::R0,
                KernelMember::TaskRealParent,
            );
            asm.load_member(Size::DoubleWord, Reg::R1, Reg::R1, KernelMember::TaskMm);
            asm.load_member(Size::DoubleWord, Reg::R1, Reg::R1, KernelMember::MmExeFile);
            put(asm, w + walk::FILE, Reg::R1);
        }
        FileRef::AncestorExe(n) => {
            let asm = &mut e.asm;
            let none = asm.label("no_ancestor");
            let done = asm.label("ancestor_exe");
            super::fields::ancestor(asm, Reg::R1, n);
            asm.load_member(Size::Word, Reg::R2, Reg::R1, KernelMember::TaskTgid);
            asm.jump_imm(Jmp::IfEqual, Reg::R2, 0, none);
            asm.load_member(Size::DoubleWord, Reg::R1, Reg::R1, KernelMember::TaskMm);
            asm.load_member(Size::DoubleWord, Reg::R1, Reg::R1, KernelMember::MmExeFile);
            put(asm, w + walk::FILE, Reg::R1);
            asm.goto(done);
            asm.bind(none);
            asm.store_imm(Size::DoubleWord, Reg::R7, (w + walk::FILE) as i16, 0);
            asm.bind(done);
        }
        FileRef::TaskCwd => {
            let asm = &mut e.asm;
            let none = asm.label("no_fs");
            asm.note("the working directory: &current->fs->pwd (none without an fs)");
            asm.call(Helper::GetCurrentTaskBtf);
            asm.load_member(Size::DoubleWord, Reg::R1, Reg::R0, KernelMember::TaskFs);
            put(asm, w + walk::FILE, Reg::R1);
            get(asm, Reg::R1, w + walk::FILE);
            asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, none);
            asm.add_member_offset(Reg::R1, KernelMember::FsPwd);
            put(asm, w + walk::FILE, Reg::R1);
            asm.bind(none);
        }
        FileRef::SyscallFdArg { idx } => {
            syscall_arg(e, idx, Reg::R4, false);
            file_of_fd(&mut e.asm, w, Reg::R4);
        }
        FileRef::ReturnedFd => {
            e.asm.load(Size::DoubleWord, Reg::R4, Reg::R6, 8);
            file_of_fd(&mut e.asm, w, Reg::R4);
        }
        FileRef::PathArg { arg } | FileRef::MountArg { arg } => {
            e.asm
                .load(Size::DoubleWord, Reg::R1, Reg::R6, i16::from(arg) * 8);
            put(&mut e.asm, w + walk::FILE, Reg::R1);
        }
        FileRef::DentryInDir { dir, dentry } => {
            let asm = &mut e.asm;
            asm.load(Size::DoubleWord, Reg::R1, Reg::R6, i16::from(dentry) * 8);
            put(asm, w + walk::DENTRY, Reg::R1);
            asm.load(Size::DoubleWord, Reg::R1, Reg::R6, i16::from(dir) * 8);
            put(asm, w + walk::FILE, Reg::R1);
        }
        FileRef::Unresolved => {
            e.asm
                .note("a name the kernel has not resolved here: unresolved");
            e.asm
                .store_imm(Size::DoubleWord, Reg::R7, (w + walk::FILE) as i16, 0);
        }
    }
}

/// From what [`find_file`] left in the walk area (a non-NULL `FILE` word),
/// leaves the location's dentry in `DENTRY`, its `struct vfsmount *` in
/// `TMP` and its inode in `NAME` (0 for a name not created yet).
fn locate(e: &mut Emitter<'_>, file: FileRef) {
    let w = e.env.layout.walk;
    let asm = &mut e.asm;
    get(asm, Reg::R1, w + walk::FILE);
    match file {
        FileRef::PathArg { .. } | FileRef::TaskCwd => {
            read_kernel(
                asm,
                w + walk::DENTRY,
                8,
                Reg::R1,
                &[KernelMember::PathDentry],
            );
            get(asm, Reg::R1, w + walk::FILE);
            read_kernel(asm, w + walk::TMP, 8, Reg::R1, &[KernelMember::PathMnt]);
        }
        FileRef::DentryInDir { .. } => {
            asm.note("the dentry's own name, in its directory's mount");
            read_kernel(asm, w + walk::TMP, 8, Reg::R1, &[KernelMember::PathMnt]);
        }
        FileRef::MountArg { .. } => {
            asm.note("the root of the mount, in the mount: its mount point");
            put(asm, w + walk::TMP, Reg::R1);
            read_kernel(
                asm,
                w + walk::DENTRY,
                8,
                Reg::R1,
                &[KernelMember::VfsmountRoot],
            );
        }
        _ => {
            read_kernel(asm, w + walk::NAME, 8, Reg::R1, &[KernelMember::FileFInode]);
            get(asm, Reg::R1, w + walk::FILE);
            read_kernel(
                asm,
                w + walk::DENTRY,
                8,
                Reg::R1,
                &[KernelMember::FileFPath, KernelMember::PathDentry],
            );
            get(asm, Reg::R1, w + walk::FILE);
            read_kernel(
                asm,
                w + walk::TMP,
                8,
                Reg::R1,
                &[KernelMember::FileFPath, KernelMember::PathMnt],
            );
            return;
        }
    }
    get(asm, Reg::R1, w + walk::DENTRY);
    read_kernel(
        asm,
        w + walk::NAME,
        8,
        Reg::R1,
        &[KernelMember::DentryInode],
    );
}

/// The current task's open file behind the descriptor in `fd` (r4): its
/// `struct file *` in the walk area's `FILE` word, 0 for a descriptor that
/// is not open.
fn file_of_fd(asm: &mut Asm, w: u32, fd: Reg) {
    let none = asm.label("no_file");
    let done = asm.label("file_found");
    asm.note("the file behind the descriptor: current->files->fdt->fd[fd]");
    asm.mov32(fd, fd);
    put(asm, w + walk::TMP2, fd);
    asm.call(Helper::GetCurrentTaskBtf);
    asm.load_member(Size::DoubleWord, Reg::R1, Reg::R0, KernelMember::TaskFiles);
    asm.load_member(Size::DoubleWord, Reg::R1, Reg::R1, KernelMember::FilesFdt);
    put(asm, w + walk::TMP, Reg::R1);
    asm.load_member(Size::Word, Reg::R2, Reg::R1, KernelMember::FdtableMaxFds);
    get(asm, Reg::R4, w + walk::TMP2);
    asm.jump_reg(Jmp::IfGreaterOrEqual, Reg::R4, Reg::R2, none);
    asm.load_member(Size::DoubleWord, Reg::R3, Reg::R1, KernelMember::FdtableFd);
    asm.alu_imm(Alu::Lhs, Reg::R4, 3);
    asm.alu(Alu::Add, Reg::R3, Reg::R4);
    asm.mov(Reg::R1, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R1, (w + walk::FILE) as i32);
    asm.mov_imm(Reg::R2, 8);
    asm.call(Helper::ProbeReadKernel);
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, done);
    asm.bind(none);
    asm.store_imm(Size::DoubleWord, Reg::R7, (w + walk::FILE) as i16, 0);
    asm.bind(done);
}

/// Loads a resolved path into `field`'s slot: its first 255 bytes and NUL,
/// its exact length (or `u64::MAX`: unresolved) and its identity.
pub(super) fn load_resolved_path(e: &mut Emitter<'_>, field: FieldId, file: FileRef) {
    // A string used as a hash key is compared with its zeros past the NUL.
    if let Some(len) = super::fields::zero_fill_len(e, field) {
        let slot = e.env.layout.slot(field);
        super::fields::zero_fill(e, slot, len);
    }
    find_file(e, file);
    let slot = e.env.layout.slot(field) as u32;
    let w = e.env.layout.walk;
    let rb = w + walk::RENDER;
    let end = rb + RESOLVED_PATH_MAX;
    let asm = &mut e.asm;
    let no_file = asm.label("no_file");
    let resolved = asm.label("resolved");
    let unresolved = asm.label("unresolved");
    let out = asm.label("path_done");
    get(asm, Reg::R1, w + walk::FILE);
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, no_file);

    locate(e, file);
    let asm = &mut e.asm;
    asm.note("identity: inode->i_sb->s_dev, inode->i_ino (none without an inode)");
    for word in [0, 8] {
        asm.store_imm(
            Size::DoubleWord,
            Reg::R7,
            (slot + RESOLVED_IDENTITY + word) as i16,
            0,
        );
    }
    let no_inode = asm.label("no_inode");
    get(asm, Reg::R3, w + walk::NAME);
    asm.jump_imm(Jmp::IfEqual, Reg::R3, 0, no_inode);
    read_kernel(
        asm,
        slot + RESOLVED_IDENTITY + 8,
        8,
        Reg::R3,
        &[KernelMember::InodeIno],
    );
    get(asm, Reg::R3, w + walk::NAME);
    read_kernel(asm, w + walk::TMP2, 8, Reg::R3, &[KernelMember::InodeSb]);
    get(asm, Reg::R3, w + walk::TMP2);
    read_kernel(
        asm,
        slot + RESOLVED_IDENTITY,
        4,
        Reg::R3,
        &[KernelMember::SuperBlockDev],
    );
    asm.bind(no_inode);

    asm.note("the path: walk the dentries and mounts up to the namespace root");
    // The mount holding the vfsmount: container_of(mnt, struct mount, mnt).
    get(asm, Reg::R3, w + walk::TMP);
    asm.mov_imm(Reg::R4, 0);
    asm.add_member_offset(Reg::R4, KernelMember::MountMnt);
    asm.alu(Alu::Sub, Reg::R3, Reg::R4);
    put(asm, w + walk::MOUNT, Reg::R3);
    get(asm, Reg::R3, w + walk::TMP);
    read_kernel(
        asm,
        w + walk::ROOT,
        8,
        Reg::R3,
        &[KernelMember::VfsmountRoot],
    );
    asm.mov_imm(Reg::R1, RESOLVED_PATH_MAX as i32);
    put(asm, w + walk::OFF, Reg::R1);
    asm.store_imm(Size::Byte, Reg::R7, end as i16, 0);

    for level in 0..MAX_PATH_DEPTH {
        if level % 8 == 7 {
            asm.island_point();
        }
        if level == 1 {
            asm.elide(format!(
                "{} more levels like the one above",
                MAX_PATH_DEPTH - 1
            ));
        }
        let not_mount_root = asm.label("component");
        let next = asm.label("next_level");
        // At the root of a mount: continue in the parent mount, from the
        // dentry it is mounted on (the namespace root has itself as parent).
        get(asm, Reg::R1, w + walk::DENTRY);
        get(asm, Reg::R2, w + walk::ROOT);
        asm.jump_reg(Jmp::IfNotEqual, Reg::R1, Reg::R2, not_mount_root);
        get(asm, Reg::R3, w + walk::MOUNT);
        read_kernel(
            asm,
            w + walk::PARENT,
            8,
            Reg::R3,
            &[KernelMember::MountParent],
        );
        get(asm, Reg::R1, w + walk::PARENT);
        get(asm, Reg::R2, w + walk::MOUNT);
        asm.jump_reg(Jmp::IfEqual, Reg::R1, Reg::R2, resolved);
        asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, resolved);
        read_kernel(
            asm,
            w + walk::DENTRY,
            8,
            Reg::R2,
            &[KernelMember::MountMountpoint],
        );
        get(asm, Reg::R3, w + walk::PARENT);
        put(asm, w + walk::MOUNT, Reg::R3);
        read_kernel(
            asm,
            w + walk::ROOT,
            8,
            Reg::R3,
            &[KernelMember::MountMnt, KernelMember::VfsmountRoot],
        );
        asm.goto(next);

        // A component: `/name` before what is rendered so far.
        asm.bind(not_mount_root);
        read_kernel(
            asm,
            w + walk::PARENT,
            8,
            Reg::R1,
            &[KernelMember::DentryParent],
        );
        get(asm, Reg::R3, w + walk::DENTRY);
        read_kernel(
            asm,
            w + walk::HASH_LEN,
            8,
            Reg::R3,
            &[KernelMember::DentryName, KernelMember::QstrHashLen],
        );
        get(asm, Reg::R3, w + walk::DENTRY);
        read_kernel(
            asm,
            w + walk::NAME,
            8,
            Reg::R3,
            &[KernelMember::DentryName, KernelMember::QstrName],
        );
        get(asm, Reg::R4, w + walk::HASH_LEN);
        asm.alu_imm(Alu::Rhs, Reg::R4, 32);
        asm.jump_imm(Jmp::IfGreater, Reg::R4, 255, unresolved);
        get(asm, Reg::R5, w + walk::OFF);
        asm.alu(Alu::Sub, Reg::R5, Reg::R4);
        asm.alu_imm(Alu::Add, Reg::R5, -1);
        asm.jump_imm(Jmp::IfSignedLessThan, Reg::R5, 0, unresolved);
        // Never true; the verifier needs the bound.
        asm.jump_imm(
            Jmp::IfGreater,
            Reg::R5,
            RESOLVED_PATH_MAX as i32 - 1,
            unresolved,
        );
        put(asm, w + walk::OFF, Reg::R5);
        asm.mov(Reg::R1, Reg::R7);
        asm.alu_imm(Alu::Add, Reg::R1, rb as i32);
        asm.alu(Alu::Add, Reg::R1, Reg::R5);
        asm.store_imm(Size::Byte, Reg::R1, 0, i32::from(b'/'));
        asm.alu_imm(Alu::Add, Reg::R1, 1);
        asm.mov(Reg::R2, Reg::R4);
        get(asm, Reg::R3, w + walk::NAME);
        asm.call(Helper::ProbeReadKernel);
        // A dentry that is its own parent is the root of a file system
        // mounted nowhere in this namespace (a pipe, a memfd, a detached
        // mount): its name is the whole path.
        get(asm, Reg::R1, w + walk::PARENT);
        get(asm, Reg::R2, w + walk::DENTRY);
        asm.jump_reg(Jmp::IfEqual, Reg::R1, Reg::R2, resolved);
        put(asm, w + walk::DENTRY, Reg::R1);
        asm.bind(next);
    }
    asm.end_elide();
    asm.note(format!(
        "deeper than {MAX_PATH_DEPTH} components: unresolved"
    ));
    asm.goto(unresolved);

    asm.bind(resolved);
    let copy = asm.label("copy_head");
    get(asm, Reg::R3, w + walk::OFF);
    // Never true; the verifier needs the bound for the pointer below.
    asm.jump_imm(
        Jmp::IfGreater,
        Reg::R3,
        RESOLVED_PATH_MAX as i32,
        unresolved,
    );
    asm.jump_imm(Jmp::IfNotEqual, Reg::R3, RESOLVED_PATH_MAX as i32, copy);
    asm.note("the root directory itself: `/`");
    asm.store_imm(Size::Byte, Reg::R7, (end - 1) as i16, i32::from(b'/'));
    asm.mov_imm(Reg::R3, RESOLVED_PATH_MAX as i32 - 1);
    put(asm, w + walk::OFF, Reg::R3);
    asm.bind(copy);
    asm.mov_imm(Reg::R1, RESOLVED_PATH_MAX as i32);
    asm.alu(Alu::Sub, Reg::R1, Reg::R3);
    put(asm, slot + RESOLVED_LEN, Reg::R1);
    asm.alu_imm(Alu::Add, Reg::R3, rb as i32);
    asm.alu(Alu::Add, Reg::R3, Reg::R7);
    asm.mov(Reg::R1, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R1, slot as i32);
    asm.mov_imm(Reg::R2, 256);
    asm.call(Helper::ProbeReadKernelStr);
    asm.goto(out);

    asm.bind(no_file);
    if matches!(
        file,
        FileRef::TaskExe | FileRef::ParentExe | FileRef::AncestorExe(_) | FileRef::Arg { .. }
    ) {
        asm.note("no file (a kernel thread's executable, anonymous memory): the empty path");
        asm.store_imm(Size::Byte, Reg::R7, slot as i16, 0);
        asm.store_imm(Size::DoubleWord, Reg::R7, (slot + RESOLVED_LEN) as i16, 0);
        for word in [0, 8] {
            asm.store_imm(
                Size::DoubleWord,
                Reg::R7,
                (slot + RESOLVED_IDENTITY + word) as i16,
                0,
            );
        }
        asm.goto(out);
    } else {
        for word in [0, 8] {
            asm.store_imm(
                Size::DoubleWord,
                Reg::R7,
                (slot + RESOLVED_IDENTITY + word) as i16,
                0,
            );
        }
    }
    asm.bind(unresolved);
    asm.note("unresolved: tests on it decide fail-closed");
    asm.store_imm(Size::Byte, Reg::R7, slot as i16, 0);
    asm.store_imm(Size::DoubleWord, Reg::R7, (slot + RESOLVED_LEN) as i16, -1);
    asm.bind(out);
    identity_sets(e, field);
}

/// When a test compares `field` with files named by path: looks its file's
/// identity up once in the identity map and copies the identity sets the
/// file is in (none when it is not there) for the tests' bit checks.
pub(super) fn identity_sets(e: &mut Emitter<'_>, field: FieldId) {
    let tested = e
        .program
        .leaves()
        .iter()
        .any(|leaf| leaf.field == field && matches!(leaf.kind, LeafKind::IdentityIn(_)));
    let (Some(at), Some(map), true) = (
        e.env.layout.identity_sets(field),
        e.env.maps.identities,
        tested,
    ) else {
        return;
    };
    let slot = e.env.layout.slot(field) as u32;
    let words = e.env.layout.identity_words;
    let asm = &mut e.asm;
    let none = asm.label("named_by_no_path");
    let done = asm.label("identity_sets");
    asm.note("which named paths lead to this file: one identity map lookup");
    asm.load_map(Reg::R1, map);
    asm.mov(Reg::R2, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R2, (slot + RESOLVED_IDENTITY) as i32);
    asm.call(Helper::MapLookupElem);
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, none);
    for word in 0..words {
        asm.load(Size::DoubleWord, Reg::R1, Reg::R0, (8 * word) as i16);
        put(asm, at + 8 * word, Reg::R1);
    }
    asm.goto(done);
    asm.bind(none);
    for word in 0..words {
        asm.store_imm(Size::DoubleWord, Reg::R7, (at + 8 * word) as i16, 0);
    }
    asm.bind(done);
}

/// Loads an integer member of a file (`path` from the `struct file`) into
/// r1, masked; 0 when there is no file.
pub(super) fn load_file_int(e: &mut Emitter<'_>, file: FileRef, path: &[KernelMember], mask: u64) {
    find_file(e, file);
    let w = e.env.layout.walk;
    let (last, init) = path.split_last().expect("a file member path has members");
    let asm = &mut e.asm;
    let done = asm.label("file_int");
    get(asm, Reg::R1, w + walk::FILE);
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, done);
    asm.store_imm(Size::DoubleWord, Reg::R7, (w + walk::TMP) as i16, 0);
    let mut members: Vec<KernelMember> = init.to_vec();
    members.push(*last);
    read_kernel(asm, w + walk::TMP, last.size() as i32, Reg::R1, &members);
    get(asm, Reg::R1, w + walk::TMP);
    asm.bind(done);
    super::fields::apply_mask(asm, mask);
}

/// Loads into r1 the open flags of the file an open call returned
/// (`tp_btf/sys_exit`): `f_flags`, plus the flags the kernel clears from it
/// once the file is open, from the call's arguments.
pub(super) fn load_open_flags(e: &mut Emitter<'_>) {
    load_file_int(
        e,
        FileRef::ReturnedFd,
        &[KernelMember::FileFFlags],
        u64::MAX,
    );
    let w = e.env.layout.walk;
    let abi = e.env.layout.abi as i16;
    put(&mut e.asm, w + walk::TMP2, Reg::R1);
    let done = e.asm.label("open_flags");
    let merge = e.asm.label("merge_flags");
    e.asm
        .note("with O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC from the call's arguments");
    e.asm.load(Size::DoubleWord, Reg::R2, Reg::R6, 0);
    e.asm.load_member(
        Size::DoubleWord,
        Reg::R5,
        Reg::R2,
        KernelMember::PtRegsOrigAx,
    );
    let calls = [
        Syscall::Open,
        Syscall::Openat,
        Syscall::OpenByHandleAt,
        Syscall::Creat,
        Syscall::Openat2,
    ];
    for abi_kind in Abi::ALL {
        let next_abi = e.asm.label("other_abi");
        e.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, abi);
        let is_compat = i32::from(abi_kind == Abi::Ia32);
        e.asm
            .jump_imm(Jmp::IfNotEqual, Reg::R1, is_compat, next_abi);
        for call in calls {
            let next = e.asm.label("other_call");
            let mut nrs: Vec<u64> = call.nr(abi_kind).into_iter().collect();
            if abi_kind == Abi::X64 {
                nrs.extend(call.x32_nr());
            }
            let this = e.asm.label("this_call");
            for nr in nrs {
                e.asm.jump_imm(Jmp::IfEqual, Reg::R5, nr as i32, this);
            }
            e.asm.goto(next);
            e.asm.bind(this);
            let regs_arg = |idx: u8| abi_kind.arg(idx);
            match call {
                Syscall::Creat => {
                    e.asm.mov_imm(Reg::R1, CREAT_FLAGS as i32);
                }
                Syscall::Openat2 => {
                    // `struct open_how { u64 flags; ... }` in user memory.
                    e.asm
                        .load_member(Size::DoubleWord, Reg::R3, Reg::R2, regs_arg(2));
                    e.asm.mov(Reg::R1, Reg::R7);
                    e.asm.alu_imm(Alu::Add, Reg::R1, (w + walk::TMP) as i32);
                    e.asm.mov_imm(Reg::R2, 8);
                    e.asm.call(Helper::ProbeReadUser);
                    get(&mut e.asm, Reg::R1, w + walk::TMP);
                }
                other => {
                    let idx = other.open_flags_arg().expect("an open call has flags");
                    e.asm
                        .load_member(Size::DoubleWord, Reg::R1, Reg::R2, regs_arg(idx));
                }
            }
            e.asm.goto(merge);
            e.asm.bind(next);
        }
        e.asm.goto(done);
        e.asm.bind(next_abi);
    }
    e.asm.goto(done);
    e.asm.bind(merge);
    e.asm.alu_imm(Alu::And, Reg::R1, OPEN_ONLY_FLAGS as i32);
    get(&mut e.asm, Reg::R2, w + walk::TMP2);
    e.asm.alu(Alu::Or, Reg::R1, Reg::R2);
    put(&mut e.asm, w + walk::TMP2, Reg::R1);
    e.asm.bind(done);
    get(&mut e.asm, Reg::R1, w + walk::TMP2);
}

/// Loads into r1 whether `file` has no links left (`f_inode->__i_nlink`
/// is 0: deleted while open, or a memfd); 0 when there is no file.
pub(super) fn load_file_deleted(e: &mut Emitter<'_>, file: FileRef) {
    load_file_int(e, file, &[KernelMember::FileFInode], u64::MAX);
    let w = e.env.layout.walk;
    let asm = &mut e.asm;
    let done = asm.label("deleted");
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, done);
    read_kernel(asm, w + walk::TMP, 4, Reg::R1, &[KernelMember::InodeNlink]);
    asm.load(Size::Word, Reg::R2, Reg::R7, (w + walk::TMP) as i16);
    asm.mov_imm(Reg::R1, 1);
    asm.jump_imm(Jmp::IfEqual, Reg::R2, 0, done);
    asm.mov_imm(Reg::R1, 0);
    asm.bind(done);
}

// overlayfs upper layer (`proc.exe.upper_layer`, `exec.upper_layer`)
/// `OVERLAYFS_SUPER_MAGIC` (include/uapi/linux/magic.h).
const OVERLAYFS_SUPER_MAGIC: i32 = 0x794c_7630;

/// Loads into r1 whether `file` is in an overlayfs upper layer: its inode's
/// super block is overlayfs' and the `struct ovl_inode` around the inode
/// has an upper dentry, a positive one; 0 when there is no file or another
/// file system.
///
/// `struct ovl_inode` (fs/overlayfs/ovl_entry.h, 6.1 to 6.18) embeds the
/// `struct inode vfs_inode` the file points to and follows it with
/// `struct dentry *__upperdentry`, NULL while the file is only in a lower
/// layer. Its layout is in the overlay module's BTF, not the kernel's, so
/// the pointer is read at `sizeof(struct inode)` past the inode: the offset
/// of `i_private`, the last member of `struct inode`, plus its 8 bytes (a
/// field-offset relocation like every other; polrt refuses a kernel where
/// `i_private` is not last, see `runtime/src/btf.rs`). A file copied up
/// (an image's binary modified or replaced in place) has an upper dentry
/// too, and is in the upper layer: its content is the container's (as in
/// Falco's modern BPF driver today; its earlier drivers compared the upper
/// inode's number with the file's, which misses a copied-up file where
/// overlayfs keeps the lower inode number across the copy-up). The layout
/// was checked in the BTF of Debian's 6.1 and 6.12 overlay modules and of
/// 6.18's: `__upperdentry` at `vfs_inode`'s offset plus the inode's size.
pub(super) fn load_file_upper_layer(e: &mut Emitter<'_>, file: FileRef) {
    load_file_int(e, file, &[KernelMember::FileFInode], u64::MAX);
    let w = e.env.layout.walk;
    let asm = &mut e.asm;
    asm.note("overlayfs upper layer: i_sb->s_magic, then the ovl_inode's upper dentry");
    let no = asm.label("not_upper");
    let done = asm.label("upper_layer");
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, no);
    put(asm, w + walk::TMP2, Reg::R1);
    asm.store_imm(Size::DoubleWord, Reg::R7, (w + walk::TMP) as i16, 0);
    read_kernel(asm, w + walk::TMP, 8, Reg::R1, &[KernelMember::InodeSb]);
    get(asm, Reg::R3, w + walk::TMP);
    asm.jump_imm(Jmp::IfEqual, Reg::R3, 0, no);
    read_kernel(
        asm,
        w + walk::TMP,
        8,
        Reg::R3,
        &[KernelMember::SuperBlockMagic],
    );
    get(asm, Reg::R1, w + walk::TMP);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R1, OVERLAYFS_SUPER_MAGIC, no);
    // The upper dentry: the 8 bytes after `struct inode` (`i_private` + 8).
    get(asm, Reg::R3, w + walk::TMP2);
    asm.add_member_offset(Reg::R3, KernelMember::InodePrivate);
    asm.alu_imm(Alu::Add, Reg::R3, 8);
    asm.mov(Reg::R1, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R1, (w + walk::TMP) as i32);
    asm.mov_imm(Reg::R2, 8);
    asm.call(Helper::ProbeReadKernel);
    get(asm, Reg::R3, w + walk::TMP);
    asm.jump_imm(Jmp::IfEqual, Reg::R3, 0, no);
    // A positive upper dentry (it has an inode).
    read_kernel(asm, w + walk::TMP, 8, Reg::R3, &[KernelMember::DentryInode]);
    get(asm, Reg::R2, w + walk::TMP);
    asm.jump_imm(Jmp::IfEqual, Reg::R2, 0, no);
    asm.mov_imm(Reg::R1, 1);
    asm.goto(done);
    asm.bind(no);
    asm.mov_imm(Reg::R1, 0);
    asm.bind(done);
}

/// `"memfd:"` as the little-endian low 6 bytes of a word.
const MEMFD_PREFIX: u64 = u64::from_le_bytes(*b"memfd:\0\0");

/// Loads into r1 whether `file` is a memfd: its dentry is its own parent
/// (a file of no mount: `memfd_create` makes one on an internal mount) and
/// its name starts with `memfd:`; 0 when there is no file.
pub(super) fn load_file_memfd(e: &mut Emitter<'_>, file: FileRef) {
    find_file(e, file);
    let w = e.env.layout.walk;
    let asm = &mut e.asm;
    let no = asm.label("not_memfd");
    let done = asm.label("memfd");
    get(asm, Reg::R1, w + walk::FILE);
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, no);
    read_kernel(
        asm,
        w + walk::DENTRY,
        8,
        Reg::R1,
        &[KernelMember::FileFPath, KernelMember::PathDentry],
    );
    get(asm, Reg::R3, w + walk::DENTRY);
    read_kernel(
        asm,
        w + walk::PARENT,
        8,
        Reg::R3,
        &[KernelMember::DentryParent],
    );
    get(asm, Reg::R1, w + walk::PARENT);
    get(asm, Reg::R2, w + walk::DENTRY);
    asm.jump_reg(Jmp::IfNotEqual, Reg::R1, Reg::R2, no);
    get(asm, Reg::R3, w + walk::DENTRY);
    read_kernel(
        asm,
        w + walk::NAME,
        8,
        Reg::R3,
        &[KernelMember::DentryName, KernelMember::QstrName],
    );
    asm.store_imm(Size::DoubleWord, Reg::R7, (w + walk::TMP) as i16, 0);
    get(asm, Reg::R3, w + walk::NAME);
    read_kernel(asm, w + walk::TMP, 6, Reg::R3, &[]);
    get(asm, Reg::R1, w + walk::TMP);
    asm.load_imm64(Reg::R2, MEMFD_PREFIX);
    asm.jump_reg(Jmp::IfNotEqual, Reg::R1, Reg::R2, no);
    asm.mov_imm(Reg::R1, 1);
    asm.goto(done);
    asm.bind(no);
    asm.mov_imm(Reg::R1, 0);
    asm.bind(done);
}

/// Emits code that leaves `sock`'s `struct sock *` in the walk area's
/// `FILE` word (0 when there is none: a descriptor that is not open).
/// Sockets behind descriptors are `file->private_data`, a `struct socket *`
/// (the system call succeeded on them, so they are sockets).
pub(super) fn find_sock(e: &mut Emitter<'_>, sock: SockRef) {
    let w = e.env.layout.walk;
    match sock {
        SockRef::Arg { arg, path } => {
            let asm = &mut e.asm;
            asm.load(Size::DoubleWord, Reg::R1, Reg::R6, i16::from(arg) * 8);
            for member in path {
                asm.load_member(Size::DoubleWord, Reg::R1, Reg::R1, *member);
            }
            put(asm, w + walk::FILE, Reg::R1);
            return;
        }
        SockRef::SyscallFdArg { idx } => {
            find_file(e, FileRef::SyscallFdArg { idx });
        }
        SockRef::ReturnedFd => find_file(e, FileRef::ReturnedFd),
    }
    let asm = &mut e.asm;
    let done = asm.label("sock_found");
    asm.note("the socket behind the descriptor: file->private_data->sk");
    get(asm, Reg::R1, w + walk::FILE);
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, done);
    read_kernel(
        asm,
        w + walk::FILE,
        8,
        Reg::R1,
        &[KernelMember::FilePrivateData],
    );
    get(asm, Reg::R1, w + walk::FILE);
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, done);
    read_kernel(asm, w + walk::FILE, 8, Reg::R1, &[KernelMember::SocketSk]);
    asm.bind(done);
}

/// `r1 = ` the socket's `skc_family` (0 without a socket), after
/// [`find_sock`].
pub(super) fn sock_family(e: &mut Emitter<'_>) {
    let w = e.env.layout.walk;
    let asm = &mut e.asm;
    let done = asm.label("family_read");
    get(asm, Reg::R1, w + walk::FILE);
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, done);
    asm.store_imm(Size::DoubleWord, Reg::R7, (w + walk::TMP) as i16, 0);
    read_kernel(asm, w + walk::TMP, 2, Reg::R1, &[KernelMember::SkcFamily]);
    get(asm, Reg::R1, w + walk::TMP);
    asm.bind(done);
}

/// Reads a socket's address (remote, or `local`) into `dst` in the scratch
/// map: the family word (`AF_INET` or `AF_INET6`), then 16 address bytes
/// (an IPv4 address in the first 4), as an `ip` slot holds them; all zero
/// without a socket.
pub(super) fn sock_addr(e: &mut Emitter<'_>, sock: SockRef, local: bool, dst: u32) {
    find_sock(e, sock);
    sock_family(e);
    let w = e.env.layout.walk;
    let asm = &mut e.asm;
    for word in [0, 8, 16] {
        asm.store_imm(Size::DoubleWord, Reg::R7, (dst + word) as i16, 0);
    }
    let v6 = asm.label("sock_v6");
    let done = asm.label("sock_addr");
    asm.store(Size::Word, Reg::R7, dst as i16, Reg::R1);
    asm.jump_imm(
        Jmp::IfEqual,
        Reg::R1,
        crate::check::hooks::AF_INET6 as i32,
        v6,
    );
    asm.jump_imm(
        Jmp::IfNotEqual,
        Reg::R1,
        crate::check::hooks::AF_INET as i32,
        done,
    );
    let (v4_member, v6_member) = if local {
        (KernelMember::SkcRcvSaddr, KernelMember::SkcV6RcvSaddr)
    } else {
        (KernelMember::SkcDaddr, KernelMember::SkcV6Daddr)
    };
    get(asm, Reg::R1, w + walk::FILE);
    read_kernel(asm, dst + 8, 4, Reg::R1, &[v4_member]);
    asm.goto(done);
    asm.bind(v6);
    get(asm, Reg::R1, w + walk::FILE);
    read_kernel(asm, dst + 8, 16, Reg::R1, &[v6_member]);
    asm.bind(done);
}

/// `r1 = ` a socket's port in host byte order (the remote one, or
/// `local`); 0 without a socket.
pub(super) fn sock_port(e: &mut Emitter<'_>, sock: SockRef, local: bool) {
    find_sock(e, sock);
    let w = e.env.layout.walk;
    let asm = &mut e.asm;
    let done = asm.label("port_read");
    get(asm, Reg::R1, w + walk::FILE);
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, done);
    asm.store_imm(Size::DoubleWord, Reg::R7, (w + walk::TMP) as i16, 0);
    let member = if local {
        KernelMember::SkcNum
    } else {
        KernelMember::SkcDport
    };
    read_kernel(asm, w + walk::TMP, 2, Reg::R1, &[member]);
    get(asm, Reg::R1, w + walk::TMP);
    if !local {
        asm.insn(super::fields::be16(Reg::R1));
    }
    asm.bind(done);
}

/// Emits the guard "an IPv4 or IPv6 socket" (leaving, allowing, unless it
/// is), after the scratch map lookup.
pub(super) fn inet_sock_guard(e: &mut Emitter<'_>, sock: SockRef) {
    find_sock(e, sock);
    sock_family(e);
    let exit = e.exit_allow;
    let asm = &mut e.asm;
    asm.note("guard: only IPv4 and IPv6 sockets");
    let inet = asm.label("inet_sock");
    asm.jump_imm(
        Jmp::IfEqual,
        Reg::R1,
        crate::check::hooks::AF_INET as i32,
        inet,
    );
    asm.jump_imm(
        Jmp::IfNotEqual,
        Reg::R1,
        crate::check::hooks::AF_INET6 as i32,
        exit,
    );
    asm.bind(inet);
}

/// Jumps to `this` when the system call (its number in r5, the ABI word in
/// the scratch map) is `call`; clobbers r1.
fn jump_if_call(e: &mut Emitter<'_>, call: Syscall, this: Label) {
    let abi = e.env.layout.abi as i16;
    let asm = &mut e.asm;
    let ia32 = asm.label("ia32_call");
    let other = asm.label("other_call");
    asm.load(Size::DoubleWord, Reg::R1, Reg::R7, abi);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R1, 0, ia32);
    for nr in [call.nr(Abi::X64), call.x32_nr()].into_iter().flatten() {
        asm.jump_imm(Jmp::IfEqual, Reg::R5, nr as i32, this);
    }
    asm.goto(other);
    asm.bind(ia32);
    if let Some(nr) = call.nr(Abi::Ia32) {
        asm.jump_imm(Jmp::IfEqual, Reg::R5, nr as i32, this);
    }
    asm.bind(other);
}

/// `r5 = ` the system call number (from the task's registers, context
/// argument 0 of a system call tracepoint).
fn syscall_nr(asm: &mut Asm) {
    asm.load(Size::DoubleWord, Reg::R2, Reg::R6, 0);
    asm.load_member(
        Size::DoubleWord,
        Reg::R5,
        Reg::R2,
        KernelMember::PtRegsOrigAx,
    );
}

/// Loads into r1 the argument of the system call being made at the
/// position `calls` gives for it (0 for a call not listed), masked. A 16-bit
/// id call's `0xffff` ("unchanged") becomes `0xffffffff`, as the kernel
/// widens it. With `current`, a call not listed, or an argument of -1 (as
/// 32 bits), gives the task's current id (the `struct cred` member at the end
/// of `current` from the task) instead.
pub(super) fn load_call_arg(
    e: &mut Emitter<'_>,
    calls: &[(Syscall, u8)],
    mask: u64,
    current: Option<&[KernelMember]>,
) {
    let done = e.asm.label("call_arg");
    let none = e.asm.label("call_not_listed");
    e.asm.note("the argument where this system call has it");
    for (call, idx) in calls {
        let this = e.asm.label("this_call");
        let next = e.asm.label("next_call");
        syscall_nr(&mut e.asm);
        jump_if_call(e, *call, this);
        e.asm.goto(next);
        e.asm.bind(this);
        syscall_arg(e, *idx, Reg::R1, false);
        e.asm.mov32(Reg::R1, Reg::R1);
        if is_16bit_id_call(*call) {
            let wide = e.asm.label("id_16");
            e.asm.alu_imm(Alu::And, Reg::R1, 0xffff);
            e.asm.jump_imm(Jmp::IfNotEqual, Reg::R1, 0xffff, wide);
            e.asm.load_imm64(Reg::R1, 0xffff_ffff);
            e.asm.bind(wide);
        }
        e.asm.goto(done);
        e.asm.bind(next);
    }
    e.asm.bind(none);
    e.asm.mov_imm(Reg::R1, -1);
    e.asm.mov32(Reg::R1, Reg::R1);
    if current.is_none() {
        e.asm.mov_imm(Reg::R1, 0);
    }
    e.asm.bind(done);
    if let Some(path) = current {
        let asm = &mut e.asm;
        let keep = asm.label("id_given");
        asm.load_imm64(Reg::R2, 0xffff_ffff);
        asm.jump_reg(Jmp::IfNotEqual, Reg::R1, Reg::R2, keep);
        asm.note("unchanged: the task's current id");
        asm.call(Helper::GetCurrentTaskBtf);
        asm.mov(Reg::R1, Reg::R0);
        let (last, init) = path.split_last().expect("an id path has members");
        for member in init {
            asm.load_member(Size::DoubleWord, Reg::R1, Reg::R1, *member);
        }
        asm.load_member(Size::Word, Reg::R1, Reg::R1, *last);
        asm.bind(keep);
    }
    super::fields::apply_mask(&mut e.asm, mask);
}

/// The 32-bit ABI's 16-bit id calls, whose "unchanged" is `0xffff`.
fn is_16bit_id_call(call: Syscall) -> bool {
    matches!(
        call,
        Syscall::Chown16
            | Syscall::Lchown16
            | Syscall::Fchown16
            | Syscall::Setuid16
            | Syscall::Setreuid16
            | Syscall::Setresuid16
            | Syscall::Setfsuid16
            | Syscall::Setgid16
            | Syscall::Setregid16
            | Syscall::Setresgid16
            | Syscall::Setfsgid16
    )
}

/// When the system call is `call`, leaves the program (allowing) unless
/// its argument `idx` has every bit of `mask` (`has`), or if it has any of
/// them (not `has`); other calls pass.
pub(super) fn call_arg_guard(e: &mut Emitter<'_>, call: Syscall, idx: u8, mask: u64, has: bool) {
    let exit = e.exit_allow;
    let this = e.asm.label("guarded_call");
    let pass = e.asm.label("guard_passed");
    e.asm.note(format!(
        "guard: {} argument {idx} {} {mask:#x}",
        format!("{call:?}").to_lowercase(),
        if has { "has" } else { "lacks" }
    ));
    syscall_nr(&mut e.asm);
    jump_if_call(e, call, this);
    e.asm.goto(pass);
    e.asm.bind(this);
    syscall_arg(e, idx, Reg::R1, false);
    if has {
        super::jump_unless_bits(&mut e.asm, mask, exit);
    } else {
        super::jump_if_any_bits(&mut e.asm, mask, exit);
    }
    e.asm.bind(pass);
}

/// Loads into r1 the `u64` in user memory that system call argument `idx`
/// points to (0 when it cannot be read), masked.
pub(super) fn load_user_u64(e: &mut Emitter<'_>, idx: u8, mask: u64) {
    let w = e.env.layout.walk;
    syscall_arg(e, idx, Reg::R3, false);
    let asm = &mut e.asm;
    asm.store_imm(Size::DoubleWord, Reg::R7, (w + walk::TMP) as i16, 0);
    asm.mov(Reg::R1, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R1, (w + walk::TMP) as i32);
    asm.mov_imm(Reg::R2, 8);
    asm.call(Helper::ProbeReadUser);
    get(asm, Reg::R1, w + walk::TMP);
    super::fields::apply_mask(asm, mask);
}

/// `_LINUX_CAPABILITY_VERSION_1`: one 32-bit `cap_user_data` element.
const CAPABILITY_VERSION_1: i32 = 0x1998_0330;

/// Loads into r1 capability set `which` (0 effective, 1 permitted, 2
/// inheritable) of a `capset(hdrp, datap)` call from the caller's memory:
/// `datap[0].which | datap[1].which << 32` (no second element for a version
/// 1 header).
pub(super) fn load_capset_user(e: &mut Emitter<'_>, which: u8) {
    let w = e.env.layout.walk;
    let off = i32::from(which) * 4;
    // The header's version.
    syscall_arg(e, 0, Reg::R3, false);
    {
        let asm = &mut e.asm;
        asm.store_imm(Size::DoubleWord, Reg::R7, (w + walk::TMP2) as i16, 0);
        asm.mov(Reg::R1, Reg::R7);
        asm.alu_imm(Alu::Add, Reg::R1, (w + walk::TMP2) as i32);
        asm.mov_imm(Reg::R2, 4);
        asm.call(Helper::ProbeReadUser);
    }
    syscall_arg(e, 1, Reg::R3, false);
    let asm = &mut e.asm;
    put(asm, w + walk::PARENT, Reg::R3);
    asm.store_imm(Size::DoubleWord, Reg::R7, (w + walk::TMP) as i16, 0);
    asm.alu_imm(Alu::Add, Reg::R3, off);
    asm.mov(Reg::R1, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R1, (w + walk::TMP) as i32);
    asm.mov_imm(Reg::R2, 4);
    asm.call(Helper::ProbeReadUser);
    let done = asm.label("caps_read");
    asm.load(Size::Word, Reg::R1, Reg::R7, (w + walk::TMP2) as i16);
    asm.jump_imm(Jmp::IfEqual, Reg::R1, CAPABILITY_VERSION_1, done);
    get(asm, Reg::R3, w + walk::PARENT);
    asm.alu_imm(Alu::Add, Reg::R3, 12 + off);
    asm.mov(Reg::R1, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R1, (w + walk::TMP) as i32 + 4);
    asm.mov_imm(Reg::R2, 4);
    asm.call(Helper::ProbeReadUser);
    asm.bind(done);
    get(asm, Reg::R1, w + walk::TMP);
}

/// Loads into r1 the `u64` a kernel pointer in context argument `arg`
/// points to (0 when it cannot be read).
pub(super) fn load_arg_pointee(e: &mut Emitter<'_>, arg: u8) {
    let w = e.env.layout.walk;
    let asm = &mut e.asm;
    asm.load(Size::DoubleWord, Reg::R3, Reg::R6, i16::from(arg) * 8);
    asm.store_imm(Size::DoubleWord, Reg::R7, (w + walk::TMP) as i16, 0);
    read_kernel(asm, w + walk::TMP, 8, Reg::R3, &[]);
    get(asm, Reg::R1, w + walk::TMP);
}
