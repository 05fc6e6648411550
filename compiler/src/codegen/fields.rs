//! Field loads: every [`FieldSource`] of the hook table to instructions that
//! put the field's value in its scratch slot (ints and bools as u64, strings
//! with their length in the aux area and a NUL right after them, inside the
//! field's buffer — string automata stop there — ips as family + address).
//!
//! Kernel struct members are read through CO-RE relocated instructions
//! (`Asm::load_member`, `Asm::add_member_offset`), never at fixed offsets.
//! Uapi layouts (tracepoint `sys_enter` records, `struct bpf_sock_addr`,
//! `struct sockaddr_in{,6}`) are stable ABI and read at their fixed offsets.

use super::flow::R1;
use super::{kernel_source, path, Emitter};
use crate::bpf::asm::{Alu, Helper, Instruction, Jmp, Reg, Size};
use crate::check::hooks::{FieldId, FieldSource, FieldType, AF_INET, AF_INET6};
use crate::ir::{LeafKind, SetKind, TestContext};
use crate::kernel::KernelMember;

/// Offsets in `struct bpf_sock_addr`.
const SOCK_ADDR_USER_IP4: i16 = 4;
const SOCK_ADDR_USER_IP6: i16 = 8;
const SOCK_ADDR_USER_PORT: i16 = 24;
/// `struct bpf_sock_addr.type`.
const SOCK_ADDR_TYPE: i16 = 32;
/// `struct bpf_sock_addr.protocol`.
const SOCK_ADDR_PROTOCOL: i16 = 36;

/// Emits the load of `field` into its slot.
pub(super) fn load(e: &mut Emitter<'_>, field: FieldId) {
    let ty = field.spec().ty;
    e.asm.note(format!("load {}", field.spec().name));
    match (kernel_source(e.program, field), ty) {
        (None, _) => load_test_context(e, field),
        (Some(FieldSource::ResolvedPath(file)), _) => path::load_resolved_path(e, field, file),
        (Some(FieldSource::Container(part)), _) => super::container::load(e, &[(field, part)]),
        (Some(FieldSource::EmptyStr), _) if field.spec().resolved_path => {
            let slot = e.env.layout.slot(field);
            let asm = &mut e.asm;
            asm.store_imm(Size::Byte, Reg::R7, slot, 0);
            for word in [0i16, 8, 16] {
                asm.store_imm(
                    Size::DoubleWord,
                    Reg::R7,
                    slot + path::RESOLVED_LEN as i16 + word,
                    0,
                );
            }
        }
        (Some(source), FieldType::Str { max }) => load_str(e, field, source, max),
        (Some(source), FieldType::Ip) => load_ip(e, field, source),
        (Some(source), _) => load_int(e, field, source),
    }
}

/// What r1 holds after [`load`] of `field`: int and bool loads end by
/// storing the value from r1.
pub(super) fn r1_after_load(field: FieldId) -> Option<R1> {
    match field.spec().ty {
        FieldType::Int { .. } | FieldType::Bool => Some(R1::Value(field)),
        _ => None,
    }
}

/// Copies the `struct sockaddr` at the end of the walk `path` from context
/// argument `arg` to the aux area, and leaves the program (allowing) unless
/// it is there and IPv4 or IPv6.
pub(super) fn read_sockaddr(e: &mut Emitter<'_>, arg: u8, path: &[KernelMember]) {
    let at = e.env.layout.sockaddr as i16;
    let asm = &mut e.asm;
    asm.note("guard: only IPv4 and IPv6 addresses");
    asm.load(Size::DoubleWord, Reg::R3, Reg::R6, i16::from(arg) * 8);
    for member in path {
        asm.load_member(Size::DoubleWord, Reg::R3, Reg::R3, *member);
    }
    asm.jump_imm(Jmp::IfEqual, Reg::R3, 0, e.exit_allow);
    asm.mov(Reg::R1, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R1, i32::from(at));
    asm.mov_imm(Reg::R2, super::layout::SOCKADDR_COPY as i32);
    asm.call(Helper::ProbeReadKernel);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R0, 0, e.exit_allow);
    let inet = asm.label("inet");
    asm.load(Size::HalfWord, Reg::R1, Reg::R7, at);
    asm.jump_imm(Jmp::IfEqual, Reg::R1, AF_INET as i32, inet);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R1, AF_INET6 as i32, e.exit_allow);
    asm.bind(inet);
}

fn load_int(e: &mut Emitter<'_>, field: FieldId, source: FieldSource) {
    let sockaddr = e.env.layout.sockaddr as i16;
    let slot = e.env.layout.slot(field);
    // Sources that read the program's context through the walk area.
    match source {
        FieldSource::SyscallArg { idx, mask } => {
            path::syscall_arg(e, idx, Reg::R1, false);
            apply_mask(&mut e.asm, mask);
        }
        FieldSource::FileInt { file, path, mask } => path::load_file_int(e, file, path, mask),
        FieldSource::OpenFlags => path::load_open_flags(e),
        FieldSource::FileDeleted(file) => path::load_file_deleted(e, file),
        FieldSource::FileMemfd(file) => path::load_file_memfd(e, file),
        FieldSource::SockPort { sock, local } => path::sock_port(e, sock, local),
        FieldSource::SockFamily { sock, local } => {
            let at = e.env.layout.walk + path::walk::RENDER;
            path::sock_addr(e, sock, local, at);
            e.asm.load(Size::Word, Reg::R1, Reg::R7, at as i16);
            family_of_mapped(&mut e.asm, Reg::R7, at as i16 + 8, 8);
        }
        FieldSource::ArgPointee { arg } => path::load_arg_pointee(e, arg),
        FieldSource::CallArg { calls, mask } => path::load_call_arg(e, calls, mask, None),
        FieldSource::IdArg { calls, current } => {
            path::load_call_arg(e, calls, u64::MAX, Some(current))
        }
        FieldSource::SyscallUserU64 { idx, mask } => path::load_user_u64(e, idx, mask),
        FieldSource::CapsetUser { which } => path::load_capset_user(e, which),
        FieldSource::TaskVpid => load_task_vpid(e),
        FieldSource::ExecArgc => super::cmdline::load_argc(e),
        FieldSource::AncestorPid(n) => ancestor_walk(e, Reg::R1, n),
        FieldSource::AccountId { group, name } => load_account_id(e, group, name),
        // overlayfs upper layer
        FieldSource::FileUpperLayer(file) => path::load_file_upper_layer(e, file),
        _ => {}
    }
    let asm = &mut e.asm;
    // Sources that produce exactly 32 bits need no truncation.
    let mut fits_32 = false;
    match source {
        FieldSource::SyscallArg { .. }
        | FieldSource::FileInt { .. }
        | FieldSource::OpenFlags
        | FieldSource::FileDeleted(_)
        | FieldSource::FileMemfd(_)
        | FieldSource::SockPort { .. }
        | FieldSource::SockFamily { .. }
        | FieldSource::ArgPointee { .. }
        | FieldSource::CallArg { .. }
        | FieldSource::IdArg { .. }
        | FieldSource::SyscallUserU64 { .. }
        | FieldSource::CapsetUser { .. }
        | FieldSource::ExecArgc
        | FieldSource::AccountId { .. }
        | FieldSource::FileUpperLayer(_) => {}
        FieldSource::TaskVpid => fits_32 = true,
        FieldSource::AncestorPid(_) => {
            asm.load_member(Size::Word, Reg::R1, Reg::R1, KernelMember::TaskTgid);
            asm.mov32(Reg::R1, Reg::R1);
            fits_32 = true;
        }
        FieldSource::TaskHostPidns => {
            asm.note("the initial pid namespace: current->thread_pid->level == 0");
            asm.call(Helper::GetCurrentTaskBtf);
            asm.load_member(
                Size::DoubleWord,
                Reg::R1,
                Reg::R0,
                KernelMember::TaskThreadPid,
            );
            asm.load_member(Size::Word, Reg::R2, Reg::R1, KernelMember::PidLevel);
            let nested = asm.label("nested_pidns");
            asm.mov_imm(Reg::R1, 0);
            asm.jump_imm(Jmp::IfNotEqual, Reg::R2, 0, nested);
            asm.mov_imm(Reg::R1, 1);
            asm.bind(nested);
        }
        FieldSource::TaskAge => {
            asm.note("age: ktime_get_ns() - current->group_leader->start_time");
            asm.call(Helper::GetCurrentTaskBtf);
            asm.load_member(
                Size::DoubleWord,
                Reg::R1,
                Reg::R0,
                KernelMember::TaskGroupLeader,
            );
            asm.load_member(
                Size::DoubleWord,
                Reg::R1,
                Reg::R1,
                KernelMember::TaskStartTime,
            );
            asm.store(Size::DoubleWord, Reg::R7, slot, Reg::R1);
            asm.call(Helper::KtimeGetNs);
            asm.load(Size::DoubleWord, Reg::R2, Reg::R7, slot);
            asm.mov(Reg::R1, Reg::R0);
            asm.alu(Alu::Sub, Reg::R1, Reg::R2);
        }
        FieldSource::Tgid | FieldSource::Gid => {
            let helper = if source == FieldSource::Tgid {
                Helper::GetCurrentPidTgid
            } else {
                Helper::GetCurrentUidGid
            };
            asm.call(helper);
            asm.alu_imm(Alu::Rhs, Reg::R0, 32);
            asm.mov(Reg::R1, Reg::R0);
            fits_32 = true;
        }
        FieldSource::Tid | FieldSource::Uid => {
            let helper = if source == FieldSource::Tid {
                Helper::GetCurrentPidTgid
            } else {
                Helper::GetCurrentUidGid
            };
            asm.call(helper);
            asm.mov32(Reg::R1, Reg::R0);
            fits_32 = true;
        }
        FieldSource::CgroupId => {
            asm.call(Helper::GetCurrentCgroupId);
            asm.mov(Reg::R1, Reg::R0);
        }
        FieldSource::TaskInt(path) => {
            asm.call(Helper::GetCurrentTaskBtf);
            asm.mov(Reg::R1, Reg::R0);
            walk(asm, Reg::R1, path);
        }
        FieldSource::ArgInt { arg, path, mask } => {
            asm.load(Size::DoubleWord, Reg::R1, Reg::R6, i16::from(arg) * 8);
            walk(asm, Reg::R1, path);
            apply_mask(asm, mask);
        }
        FieldSource::SockaddrFamily => {
            asm.load(Size::HalfWord, Reg::R1, Reg::R7, sockaddr);
            family_of_mapped(asm, Reg::R7, sockaddr + 8, 8);
        }
        FieldSource::SockaddrPort => {
            asm.load(Size::HalfWord, Reg::R1, Reg::R7, sockaddr + 2);
            asm.insn(be16(Reg::R1));
        }
        FieldSource::SockAddrCtxFamily6 => {
            asm.mov_imm(Reg::R1, AF_INET6 as i32);
            family_of_mapped(asm, Reg::R6, SOCK_ADDR_USER_IP6, 4);
        }
        FieldSource::SockAddrCtxPort => {
            asm.load(Size::Word, Reg::R1, Reg::R6, SOCK_ADDR_USER_PORT);
            asm.insn(be16(Reg::R1));
        }
        FieldSource::SockAddrCtxType => asm.load(Size::Word, Reg::R1, Reg::R6, SOCK_ADDR_TYPE),
        FieldSource::SockAddrCtxProtocol => {
            asm.load(Size::Word, Reg::R1, Reg::R6, SOCK_ADDR_PROTOCOL)
        }
        FieldSource::ConstInt(value) => asm.load_imm64(Reg::R1, value),
        other => panic!("internal error: {other:?} is not an int source"),
    }
    if !(fits_32 && field.spec().ty == (FieldType::Int { bits: 32 })) {
        normalize_int(&mut e.asm, field);
    }
    e.asm.store(Size::DoubleWord, Reg::R7, slot, Reg::R1);
}

/// `reg = ` the current task's `n`-th ancestor through `real_parent` (0:
/// the task itself): `n` unrolled steps. Past the top of the tree the walk
/// stays at the idle task (pid 0), whose `real_parent` is itself.
pub(super) fn ancestor(asm: &mut crate::bpf::asm::Asm, reg: Reg, n: u8) {
    asm.note(format!("ancestor {n}: current->real_parent x {n}"));
    asm.call(Helper::GetCurrentTaskBtf);
    asm.mov(reg, Reg::R0);
    for _ in 0..n {
        asm.load_member(Size::DoubleWord, reg, reg, KernelMember::TaskRealParent);
    }
}

/// `reg = ` the current task's `n`-th ancestor, as [`ancestor`], but from
/// the nearest ancestor below it that an earlier load on every path to here
/// reached (its pointer spilled to the stack), one `real_parent` step per
/// generation: `proc.ancestors[*]` walks the tree once.
pub(super) fn ancestor_walk(e: &mut Emitter<'_>, reg: Reg, n: u8) {
    match e.ancestor_spilled().filter(|m| *m <= n) {
        Some(m) => {
            e.asm.note(format!(
                "ancestor {n}: ancestor {m}->real_parent x {}",
                n - m
            ));
            e.asm
                .load(Size::DoubleWord, reg, Reg::R10, super::FP_ANCESTOR);
            for _ in m..n {
                e.asm
                    .load_member(Size::DoubleWord, reg, reg, KernelMember::TaskRealParent);
            }
        }
        None => ancestor(&mut e.asm, reg, n),
    }
    if n > 0 {
        e.asm
            .store(Size::DoubleWord, Reg::R10, super::FP_ANCESTOR, reg);
        e.set_ancestor_spilled(n);
    }
}

/// `r1 = ` the process id in the process's own pid namespace:
/// `current->group_leader->thread_pid->numbers[level].nr`, read with
/// `bpf_probe_read_kernel` (the index is only known at run time); 0 when it
/// cannot be read. `struct upid` (an `int` and a pointer) is 16 bytes on
/// every kernel; `level` is at most 32 (`MAX_PID_NS_LEVEL`).
fn load_task_vpid(e: &mut Emitter<'_>) {
    let tmp = e.env.layout.walk + path::walk::TMP;
    let nr = e.env.layout.walk + path::walk::TMP2;
    let asm = &mut e.asm;
    asm.note("vpid: current->group_leader->thread_pid->numbers[level].nr");
    asm.call(Helper::GetCurrentTaskBtf);
    asm.load_member(
        Size::DoubleWord,
        Reg::R1,
        Reg::R0,
        KernelMember::TaskGroupLeader,
    );
    asm.load_member(
        Size::DoubleWord,
        Reg::R1,
        Reg::R1,
        KernelMember::TaskThreadPid,
    );
    asm.store(Size::DoubleWord, Reg::R7, tmp as i16, Reg::R1);
    asm.load_member(Size::Word, Reg::R2, Reg::R1, KernelMember::PidLevel);
    asm.alu_imm(Alu::And, Reg::R2, 0x3f);
    asm.alu_imm(Alu::Lhs, Reg::R2, 4);
    asm.load(Size::DoubleWord, Reg::R3, Reg::R7, tmp as i16);
    asm.add_member_offset(Reg::R3, KernelMember::PidNumbers);
    asm.alu(Alu::Add, Reg::R3, Reg::R2);
    asm.store_imm(Size::DoubleWord, Reg::R7, nr as i16, 0);
    asm.mov(Reg::R1, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R1, nr as i32);
    asm.mov_imm(Reg::R2, 4);
    asm.call(Helper::ProbeReadKernel);
    asm.load(Size::Word, Reg::R1, Reg::R7, nr as i16);
}

/// Truncates r1 to the field's width; bools become 0 or 1.
fn normalize_int(asm: &mut crate::bpf::asm::Asm, field: FieldId) {
    match field.spec().ty {
        FieldType::Int { bits: 32 } => asm.mov32(Reg::R1, Reg::R1),
        FieldType::Int { bits: 16 } => asm.alu_imm(Alu::And, Reg::R1, 0xffff),
        FieldType::Int { bits: 8 } => asm.alu_imm(Alu::And, Reg::R1, 0xff),
        FieldType::Bool => {
            let zero = asm.label("false");
            asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, zero);
            asm.mov_imm(Reg::R1, 1);
            asm.bind(zero);
        }
        _ => {}
    }
}

/// `r1 &= mask`.
pub(super) fn apply_mask(asm: &mut crate::bpf::asm::Asm, mask: u64) {
    apply_mask_to(asm, Reg::R1, mask);
}

/// `reg &= mask` (r2 is clobbered for masks wider than 31 bits).
pub(super) fn apply_mask_to(asm: &mut crate::bpf::asm::Asm, reg: Reg, mask: u64) {
    if mask == u64::MAX {
        return;
    }
    match i32::try_from(mask) {
        Ok(imm) => asm.alu_imm(Alu::And, reg, imm),
        Err(_) => {
            asm.load_imm64(Reg::R2, mask);
            asm.alu(Alu::And, reg, Reg::R2);
        }
    }
}

/// Follows `path` from the pointer in `reg`: every member but the last is a
/// pointer; the last is loaded with its own size. Leaves the value in `reg`.
fn walk(asm: &mut crate::bpf::asm::Asm, reg: Reg, path: &[KernelMember]) {
    for member in path {
        asm.load_member(load_size(*member), reg, reg, *member);
    }
}

/// The load size of a scalar or pointer member.
pub(super) fn load_size(member: KernelMember) -> Size {
    match member.size() {
        8 => Size::DoubleWord,
        4 => Size::Word,
        2 => Size::HalfWord,
        1 => Size::Byte,
        _ => panic!("internal error: {member:?} is not a scalar or pointer member"),
    }
}

/// `dst = be16(dst)`: network to host byte order of a 16-bit value.
pub(super) fn be16(dst: Reg) -> Instruction {
    // BPF_ALU | BPF_END | BPF_TO_BE, imm 16: bpf-ins has no constructor for it.
    let raw = 0xdc_u64 | (u64::from(dst.as_num()) << 8) | (16u64 << 32);
    Instruction::decode(&[raw]).expect("be16 is a valid instruction")
}

/// `dst = bswap64(dst)` (`be64`, on the little-endian hosts polc targets):
/// a suffix dispatch reverses a word of a string with it.
pub(super) fn be64(dst: Reg) -> Instruction {
    // BPF_ALU | BPF_END | BPF_TO_BE, imm 64.
    let raw = 0xdc_u64 | (u64::from(dst.as_num()) << 8) | (64u64 << 32);
    Instruction::decode(&[raw]).expect("be64 is a valid instruction")
}

/// r1 holds an address family; when it is `AF_INET6` and the 16 address
/// bytes at `base + off` are an IPv4-mapped address (`::ffff:a.b.c.d`), r1
/// becomes `AF_INET`: that is IPv4 traffic. `width` is the widest load the
/// memory allows (8 in the scratch map, 4 in a `bpf_sock_addr` context).
fn family_of_mapped(asm: &mut crate::bpf::asm::Asm, base: Reg, off: i16, width: i16) {
    let done = asm.label("family");
    asm.jump_imm(Jmp::IfNotEqual, Reg::R1, AF_INET6 as i32, done);
    if width == 8 {
        asm.load(Size::DoubleWord, Reg::R2, base, off);
        asm.jump_imm(Jmp::IfNotEqual, Reg::R2, 0, done);
    } else {
        for word in 0..2 {
            asm.load(Size::Word, Reg::R2, base, off + 4 * word);
            asm.jump_imm(Jmp::IfNotEqual, Reg::R2, 0, done);
        }
    }
    // Bytes 8..12 are 00 00 ff ff: 0xffff0000 as a little-endian u32.
    asm.load(Size::Word, Reg::R2, base, off + 8);
    asm.load_imm64(Reg::R3, 0xffff_0000);
    asm.jump_reg(Jmp::IfNotEqual, Reg::R2, Reg::R3, done);
    asm.mov_imm(Reg::R1, AF_INET as i32);
    asm.bind(done);
}

/// The key length a string field must be zero-padded to (hash set lookups).
pub(super) fn zero_fill_len(e: &Emitter<'_>, field: FieldId) -> Option<u32> {
    e.program
        .leaves()
        .into_iter()
        .filter(|leaf| leaf.field == field)
        .filter_map(|leaf| match leaf.kind {
            LeafKind::InSet(set) => match e.env.sets[set.0 as usize].kind {
                SetKind::StrHash { key_len } => Some(key_len),
                _ => None,
            },
            _ => None,
        })
        // A string dispatch looks its key up in place too.
        .chain(
            e.program
                .str_dispatches
                .iter()
                .filter(|d| d.field == field)
                .filter_map(|d| match e.env.sets[d.set.0 as usize].kind {
                    SetKind::StrHash { key_len } => Some(key_len),
                    _ => None,
                }),
        )
        .max()
}

pub(super) fn zero_fill(e: &mut Emitter<'_>, slot: i16, len: u32) {
    for at in (0..len).step_by(8) {
        e.asm
            .store_imm(Size::DoubleWord, Reg::R7, slot + at as i16, 0);
    }
}

/// Whether `field` is `proc.comm` read by `bpf_get_current_comm` (the
/// whole buffer, NUL-padded, and no length): when every test of it in the
/// program is an equality, a prefix or a hash set lookup, each of which a
/// NUL-padded buffer decides without the length.
pub(super) fn comm_without_len(program: &crate::ir::Program, field: FieldId) -> bool {
    kernel_source(program, field) == Some(FieldSource::Comm)
        && program
            .leaves()
            .iter()
            .filter(|leaf| leaf.field == field)
            .all(|leaf| {
                matches!(
                    leaf.kind,
                    LeafKind::StrEq(_) | LeafKind::StrPrefix(_) | LeafKind::InSet(_)
                )
            })
}

/// The ancestors' command names (`proc.ancestors[N].comm`) that are
/// copied from the task's `comm` with two 8-byte loads, no helper call and
/// no length: those whose every test is an equality, a prefix or a scan
/// (each decided on the bytes up to the NUL the kernel always keeps in
/// `comm`, never on the bytes past it), with no string dispatch on them.
pub(super) fn comm_in_place(program: &crate::ir::Program) -> std::collections::BTreeSet<FieldId> {
    let leaves = program.leaves();
    program
        .fields()
        .into_iter()
        .filter(|field| matches!(kernel_source(program, *field), Some(FieldSource::AncestorComm(n)) if n > 0))
        .filter(|field| !program.str_dispatches.iter().any(|d| d.field == *field))
        .filter(|field| {
            leaves.iter().filter(|leaf| leaf.field == *field).all(|leaf| {
                matches!(
                    leaf.kind,
                    LeafKind::StrEq(_) | LeafKind::StrPrefix(_) | LeafKind::Scan(_)
                )
            })
        })
        .collect()
}

fn load_str(e: &mut Emitter<'_>, field: FieldId, source: FieldSource, max: u16) {
    let slot = e.env.layout.slot(field);
    if source == FieldSource::Comm && e.comm_without_len {
        e.asm
            .note("bpf_get_current_comm: NUL-padded, no length needed");
        e.asm.mov(Reg::R1, Reg::R7);
        e.asm.alu_imm(Alu::Add, Reg::R1, i32::from(slot));
        e.asm.mov_imm(Reg::R2, i32::from(max));
        e.asm.call(Helper::GetCurrentComm);
        return;
    }
    if let (FieldSource::AncestorComm(n), true) = (source, e.comm_in_place.contains(&field)) {
        let empty = e.asm.label("no_ancestor");
        let end = e.asm.label("ancestor_comm");
        ancestor_walk(e, Reg::R3, n);
        let asm = &mut e.asm;
        asm.note("its comm, two loads (NUL-terminated, no length needed)");
        asm.load_member(Size::Word, Reg::R1, Reg::R3, KernelMember::TaskTgid);
        asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, empty);
        asm.add_member_offset(Reg::R3, KernelMember::TaskComm);
        for word in [0i16, 8] {
            asm.load(Size::DoubleWord, Reg::R1, Reg::R3, word);
            asm.store(Size::DoubleWord, Reg::R7, slot + word, Reg::R1);
        }
        asm.goto(end);
        asm.bind(empty);
        asm.store_imm(Size::Byte, Reg::R7, slot, 0);
        asm.bind(end);
        return;
    }
    let fill = zero_fill_len(e, field);
    let done = e.asm.label("no_string");
    // Reads that fill the slot themselves (after using it, or before
    // knowing the length).
    match source {
        FieldSource::ExecArg(n) => {
            super::cmdline::load_arg(e, field, n, max, done);
            finish_str(e, field, fill, done);
            return;
        }
        FieldSource::Cmdline => {
            if let Some(len) = fill {
                zero_fill(e, slot, len);
            }
            super::cmdline::load_cmdline(e, field, max, done);
            finish_str(e, field, fill, done);
            return;
        }
        FieldSource::CmdlineSnapshot { parent } => {
            super::cmdline::snapshot(e, parent, done);
            if let Some(len) = fill {
                zero_fill(e, slot, len);
            }
            read_str(e, slot, max, Helper::ProbeReadKernelStr);
            finish_str(e, field, fill, done);
            return;
        }
        FieldSource::ExecEnvVar(key) => {
            super::cmdline::load_env(e, field, key, max, done);
            finish_str(e, field, fill, done);
            return;
        }
        _ => {}
    }
    if let Some(len) = fill {
        zero_fill(e, slot, len);
    }
    let helper = match source {
        FieldSource::Comm => {
            e.asm.call(Helper::GetCurrentTaskBtf);
            e.asm.mov(Reg::R3, Reg::R0);
            e.asm.add_member_offset(Reg::R3, KernelMember::TaskComm);
            Helper::ProbeReadKernelStr
        }
        FieldSource::CallerComm => {
            caller_comm(e);
            Helper::ProbeReadKernelStr
        }
        FieldSource::AncestorComm(n) => {
            ancestor_walk(e, Reg::R3, n);
            e.asm
                .load_member(Size::Word, Reg::R1, Reg::R3, KernelMember::TaskTgid);
            e.asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, done);
            e.asm.add_member_offset(Reg::R3, KernelMember::TaskComm);
            Helper::ProbeReadKernelStr
        }
        FieldSource::TaskStr(path) => {
            e.asm.call(Helper::GetCurrentTaskBtf);
            e.asm.mov(Reg::R3, Reg::R0);
            let (last, init) = path.split_last().expect("a task path has members");
            walk(&mut e.asm, Reg::R3, init);
            e.asm.add_member_offset(Reg::R3, *last);
            Helper::ProbeReadKernelStr
        }
        FieldSource::ArgKernelStr { arg, path } => {
            e.asm
                .load(Size::DoubleWord, Reg::R3, Reg::R6, i16::from(arg) * 8);
            walk(&mut e.asm, Reg::R3, path);
            Helper::ProbeReadKernelStr
        }
        FieldSource::ArgKernelStrAt { arg, member } => {
            e.asm
                .load(Size::DoubleWord, Reg::R3, Reg::R6, i16::from(arg) * 8);
            e.asm.add_member_offset(Reg::R3, member);
            Helper::ProbeReadKernelStr
        }
        FieldSource::SyscallUserStr { idx } => {
            path::syscall_arg(e, idx, Reg::R3, false);
            Helper::ProbeReadUserStr
        }
        FieldSource::EmptyStr => {
            e.asm.mov_imm(Reg::R0, 0);
            finish_str(e, field, fill, done);
            return;
        }
        other => panic!("internal error: {other:?} is not a string source"),
    };
    read_str(e, slot, max, helper);
    finish_str(e, field, fill, done);
}

/// `r3 = ` the command name the task had when it called execve: its record
/// in the exec-callers map, keyed by the thread id before the exec (context
/// argument 1 of `sched_process_exec`), or the task's current name when no
/// record is there. Clobbers r0-r5.
pub(super) fn caller_comm(e: &mut Emitter<'_>) {
    let callers = e
        .env
        .maps
        .exec_callers
        .expect("internal error: the caller's name without the exec-callers map");
    let asm = &mut e.asm;
    let found = asm.label("caller_found");
    let done = asm.label("caller_comm");
    asm.note("the name before the exec, recorded at execve entry");
    asm.load(Size::DoubleWord, Reg::R1, Reg::R6, 8);
    asm.store(Size::Word, Reg::R10, super::FP_KEY, Reg::R1);
    asm.load_map(Reg::R1, callers);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, i32::from(super::FP_KEY));
    asm.call(Helper::MapLookupElem);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R0, 0, found);
    asm.call(Helper::GetCurrentTaskBtf);
    asm.mov(Reg::R3, Reg::R0);
    asm.add_member_offset(Reg::R3, KernelMember::TaskComm);
    asm.goto(done);
    asm.bind(found);
    asm.mov(Reg::R3, Reg::R0);
    asm.bind(done);
}

/// `helper(r7 + slot, max, r3)`: a `probe_read_*_str` into the slot.
fn read_str(e: &mut Emitter<'_>, slot: i16, max: u16, helper: Helper) {
    e.asm.mov(Reg::R1, Reg::R7);
    e.asm.alu_imm(Alu::Add, Reg::R1, i32::from(slot));
    e.asm.mov_imm(Reg::R2, i32::from(max));
    e.asm.call(helper);
}

/// Turns the helper's return value in r0 (bytes with the NUL, or an error)
/// into the string length, in its length slot and in r1; a failed read is
/// the empty string. `done` is where paths that have no string jump with
/// r0 = 0.
fn finish_str(
    e: &mut Emitter<'_>,
    field: FieldId,
    fill: Option<u32>,
    done: crate::bpf::asm::Label,
) {
    let slot = e.env.layout.slot(field);
    let len = e.env.layout.len_slot(field);
    let ok = e.asm.label("read_ok");
    e.asm.jump_imm(Jmp::IfSignedGreater, Reg::R0, 0, ok);
    e.asm.bind(done);
    e.asm.note("no string: empty");
    match fill {
        Some(bytes) => zero_fill(e, slot, bytes),
        None => e.asm.store_imm(Size::Byte, Reg::R7, slot, 0),
    }
    e.asm.mov_imm(Reg::R0, 1);
    e.asm.bind(ok);
    // The length stays in r1 for the test that follows the load.
    e.asm.mov(Reg::R1, Reg::R0);
    e.asm.alu_imm(Alu::Add, Reg::R1, -1);
    e.asm.store(Size::DoubleWord, Reg::R7, len, Reg::R1);
    e.len_in_r1 = Some(field);
}

fn load_ip(e: &mut Emitter<'_>, field: FieldId, source: FieldSource) {
    let slot = e.env.layout.slot(field);
    let sockaddr = e.env.layout.sockaddr as i16;
    let asm = &mut e.asm;
    match source {
        FieldSource::SockaddrAddr => {
            let v6 = asm.label("v6");
            let done = asm.label("addr_done");
            asm.load(Size::HalfWord, Reg::R1, Reg::R7, sockaddr);
            asm.store(Size::Word, Reg::R7, slot, Reg::R1);
            asm.jump_imm(Jmp::IfNotEqual, Reg::R1, AF_INET as i32, v6);
            asm.load(Size::Word, Reg::R1, Reg::R7, sockaddr + 4);
            asm.store(Size::Word, Reg::R7, slot + 8, Reg::R1);
            asm.goto(done);
            asm.bind(v6);
            for word in 0..2 {
                asm.load(Size::DoubleWord, Reg::R1, Reg::R7, sockaddr + 8 + 8 * word);
                asm.store(Size::DoubleWord, Reg::R7, slot + 8 + 8 * word, Reg::R1);
            }
            asm.bind(done);
        }
        FieldSource::SockAddrCtxIp4 => {
            asm.store_imm(Size::Word, Reg::R7, slot, AF_INET as i32);
            asm.load(Size::Word, Reg::R1, Reg::R6, SOCK_ADDR_USER_IP4);
            asm.store(Size::Word, Reg::R7, slot + 8, Reg::R1);
            // An IPv4 address: nothing to unmap.
            return;
        }
        FieldSource::SockAddrCtxIp6 => {
            asm.store_imm(Size::Word, Reg::R7, slot, AF_INET6 as i32);
            for word in 0..4 {
                asm.load(Size::Word, Reg::R1, Reg::R6, SOCK_ADDR_USER_IP6 + 4 * word);
                asm.store(Size::Word, Reg::R7, slot + 8 + 4 * word, Reg::R1);
            }
        }
        FieldSource::SockAddr { sock, local } => {
            path::sock_addr(e, sock, local, slot as u32);
        }
        other => panic!("internal error: {other:?} is not an ip source"),
    }
    unmap_ipv4(&mut e.asm, slot);
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what an IPv6 socket
/// connects to when it talks IPv4) becomes the IPv4 address `a.b.c.d`, so
/// that IPv4 rules see IPv4 traffic whatever the socket's family.
fn unmap_ipv4(asm: &mut crate::bpf::asm::Asm, slot: i16) {
    let done = asm.label("not_mapped");
    asm.load(Size::Word, Reg::R1, Reg::R7, slot);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R1, AF_INET6 as i32, done);
    asm.load(Size::DoubleWord, Reg::R1, Reg::R7, slot + 8);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R1, 0, done);
    // Bytes 8..12 are 00 00 ff ff: 0xffff0000 as a little-endian u32.
    asm.load(Size::Word, Reg::R1, Reg::R7, slot + 16);
    asm.load_imm64(Reg::R2, 0xffff_0000);
    asm.jump_reg(Jmp::IfNotEqual, Reg::R1, Reg::R2, done);
    asm.store_imm(Size::Word, Reg::R7, slot, AF_INET as i32);
    asm.load(Size::Word, Reg::R1, Reg::R7, slot + 20);
    asm.store(Size::Word, Reg::R7, slot + 8, Reg::R1);
    asm.bind(done);
}

/// In a test-run program every field is copied from the context.
fn load_test_context(e: &mut Emitter<'_>, field: FieldId) {
    let at = TestContext::offset(field) as i16;
    let slot = e.env.layout.slot(field);
    if field.spec().resolved_path {
        // The head as a string; then the length and identity words.
        if let Some(len) = zero_fill_len(e, field) {
            zero_fill(e, slot, len);
        }
        e.asm.mov(Reg::R3, Reg::R6);
        e.asm.alu_imm(Alu::Add, Reg::R3, i32::from(at));
        read_str(e, slot, 256, Helper::ProbeReadKernelStr);
        for word in 0..3 {
            let off = path::RESOLVED_LEN as i16 + 8 * word;
            e.asm.load(Size::DoubleWord, Reg::R1, Reg::R6, at + off);
            e.asm.store(Size::DoubleWord, Reg::R7, slot + off, Reg::R1);
        }
        path::identity_sets(e, field);
        return;
    }
    match field.spec().ty {
        FieldType::Int { .. } | FieldType::Bool => {
            e.asm.load(Size::DoubleWord, Reg::R1, Reg::R6, at);
            normalize_int(&mut e.asm, field);
            e.asm.store(Size::DoubleWord, Reg::R7, slot, Reg::R1);
        }
        FieldType::Str { max } => {
            let fill = zero_fill_len(e, field);
            if let Some(len) = fill {
                zero_fill(e, slot, len);
            }
            let done = e.asm.label("no_string");
            e.asm.mov(Reg::R3, Reg::R6);
            e.asm.alu_imm(Alu::Add, Reg::R3, i32::from(at));
            read_str(e, slot, max, Helper::ProbeReadKernelStr);
            finish_str(e, field, fill, done);
        }
        FieldType::Ip => {
            for word in 0..3 {
                e.asm
                    .load(Size::DoubleWord, Reg::R1, Reg::R6, at + 8 * word);
                e.asm
                    .store(Size::DoubleWord, Reg::R7, slot + 8 * word, Reg::R1);
            }
            unmap_ipv4(&mut e.asm, slot);
        }
    }
}

/// `r1 = ` the id the node gives a user (`group`: group) name: its u32 in
/// the accounts map's one value, which the runtime wrote and froze before
/// the program loaded (so the verifier knows it). The lookup of key 0 of an
/// array cannot fail; were it to, the id is `u32::MAX - 1`, which names
/// no account the runtime resolved.
fn load_account_id(e: &mut Emitter<'_>, group: bool, name: &'static str) {
    let map = e
        .env
        .maps
        .accounts
        .expect("programs that compare with user names have the accounts map");
    let index = e
        .env
        .accounts
        .iter()
        .position(|a| *a == (group, name))
        .expect("every name compared with has its id in the accounts map");
    let asm = &mut e.asm;
    asm.note(format!(
        "the id of {} `{name}` (accounts map, read-only)",
        if group { "group" } else { "user" }
    ));
    asm.store_imm(Size::Word, Reg::R10, super::FP_KEY, 0);
    asm.load_map(Reg::R1, map);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, i32::from(super::FP_KEY));
    asm.call(Helper::MapLookupElem);
    let done = asm.label("account_id");
    asm.mov_imm(Reg::R1, -2);
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, done);
    asm.load(Size::Word, Reg::R1, Reg::R0, (4 * index) as i16);
    asm.bind(done);
}
