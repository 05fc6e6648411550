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
use crate::check::hooks::{FieldId, FileRef, MAX_PATH_DEPTH, RESOLVED_PATH_MAX};
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
        FileRef::SyscallFdArg { idx } => {
            syscall_arg(e, idx, Reg::R4, false);
            file_of_fd(&mut e.asm, w, Reg::R4);
        }
        FileRef::ReturnedFd => {
            e.asm.load(Size::DoubleWord, Reg::R4, Reg::R6, 8);
            file_of_fd(&mut e.asm, w, Reg::R4);
        }
    }
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

    asm.note("identity: f_inode->i_sb->s_dev, f_inode->i_ino");
    asm.store_imm(
        Size::DoubleWord,
        Reg::R7,
        (slot + RESOLVED_IDENTITY) as i16,
        0,
    );
    read_kernel(asm, w + walk::TMP, 8, Reg::R1, &[KernelMember::FileFInode]);
    get(asm, Reg::R3, w + walk::TMP);
    read_kernel(
        asm,
        slot + RESOLVED_IDENTITY + 8,
        8,
        Reg::R3,
        &[KernelMember::InodeIno],
    );
    get(asm, Reg::R3, w + walk::TMP);
    read_kernel(asm, w + walk::TMP, 8, Reg::R3, &[KernelMember::InodeSb]);
    get(asm, Reg::R3, w + walk::TMP);
    read_kernel(
        asm,
        slot + RESOLVED_IDENTITY,
        4,
        Reg::R3,
        &[KernelMember::SuperBlockDev],
    );

    asm.note("the path: walk the dentries and mounts up to the namespace root");
    get(asm, Reg::R3, w + walk::FILE);
    read_kernel(
        asm,
        w + walk::DENTRY,
        8,
        Reg::R3,
        &[KernelMember::FileFPath, KernelMember::PathDentry],
    );
    get(asm, Reg::R3, w + walk::FILE);
    read_kernel(
        asm,
        w + walk::TMP,
        8,
        Reg::R3,
        &[KernelMember::FileFPath, KernelMember::PathMnt],
    );
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
    if file == FileRef::TaskExe {
        asm.note("no executable (a kernel thread): the empty path");
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
