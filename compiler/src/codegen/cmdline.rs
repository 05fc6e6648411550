//! Command lines and environment of the new program (`exec.args[N]`,
//! `exec.argc`, `exec.cmdline`, `exec.env["NAME"]`), read at the exec's
//! point of no return (`tp_btf/sched_process_exec`) from the new program's
//! memory: `current->mm` is the new one, which no other task shares yet, and
//! the new program has not run an instruction, so nothing the caller does
//! can change what is read.
//!
//! The new stack as the kernel wrote it (`create_elf_tables`): at
//! `mm->start_stack` the u64 argc, then the argv pointers, a NULL, the envp
//! pointers, a NULL; the strings themselves lie between `mm->arg_start` and
//! `mm->arg_end` (arguments), then the environment.

use super::fields::{zero_fill, zero_fill_len};
use super::layout::ARGV_BLOCK;
use super::Emitter;
use crate::bpf::asm::{Alu, Helper, Jmp, Label, Reg, Size};
use crate::check::hooks::{FieldId, ENV_VARS_MAX, EXEC_ARGS_MAX};
use crate::kernel::KernelMember;

/// `r3 = current->mm->start_stack`. Clobbers r0-r5.
fn start_stack(e: &mut Emitter<'_>, dst: Reg) {
    e.asm.call(Helper::GetCurrentTaskBtf);
    e.asm
        .load_member(Size::DoubleWord, dst, Reg::R0, KernelMember::TaskMm);
    e.asm
        .load_member(Size::DoubleWord, dst, dst, KernelMember::MmStartStack);
}

/// Reads the u64 of user memory at `r3` into the stack key slot; jumps to
/// `fail` when it cannot be read, else leaves it in `dst`.
fn read_user_u64(e: &mut Emitter<'_>, dst: Reg, fail: Label) {
    let asm = &mut e.asm;
    asm.mov(Reg::R1, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R1, i32::from(super::FP_KEY));
    asm.mov_imm(Reg::R2, 8);
    asm.call(Helper::ProbeReadUser);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R0, 0, fail);
    asm.load(Size::DoubleWord, dst, Reg::R10, super::FP_KEY);
}

/// Reads argc and the first [`EXEC_ARGS_MAX`] argv pointers of the new
/// program's stack into the argv block (`Layout::argv`) with one
/// `bpf_probe_read_user`, unless every path to here has (argc 0 when it
/// cannot be read). The block always lies inside the stack the kernel
/// wrote: after the argv pointers come the envp pointers and the auxiliary
/// vector, far more than [`ARGV_BLOCK`] bytes. Clobbers r0-r5.
fn argv_block(e: &mut Emitter<'_>) {
    if e.argv_read() {
        return;
    }
    let at = e.env.layout.argv as i16;
    e.asm.note(format!(
        "argc and the first {EXEC_ARGS_MAX} argv pointers of the new program's stack, once"
    ));
    start_stack(e, Reg::R3);
    let asm = &mut e.asm;
    asm.mov(Reg::R1, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R1, i32::from(at));
    asm.mov_imm(Reg::R2, ARGV_BLOCK as i32);
    asm.call(Helper::ProbeReadUser);
    let read = asm.label("argv_read");
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, read);
    asm.store_imm(Size::DoubleWord, Reg::R7, at, 0);
    asm.bind(read);
}

/// `r1 = argc` of the new program (0 when unreadable).
pub(super) fn load_argc(e: &mut Emitter<'_>) {
    argv_block(e);
    let at = e.env.layout.argv as i16;
    e.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, at);
}

/// `argv[n]` into the field's slot, then its length (empty when `n >=
/// argc` or unreadable): one `bpf_probe_read_user_str` from the pointer in
/// the argv block. `done` is the string finisher's empty path.
pub(super) fn load_arg(e: &mut Emitter<'_>, field: FieldId, n: u16, max: u16, done: Label) {
    let slot = e.env.layout.slot(field);
    argv_block(e);
    let at = e.env.layout.argv as i16;
    e.asm.note(format!("argv[{n}] of the new program's stack"));
    // Unless a test of argc on every path to here (`exec.argc > N`, the
    // guard of `exec.args[*]`) has shown that argument N exists: argc as
    // the block holds it is at least the field's value (its low 32 bits).
    if e.argc_at_least() <= u64::from(n) {
        e.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, at);
        e.asm
            .jump_imm(Jmp::IfLessThanOrEqual, Reg::R1, i32::from(n), done);
    }
    e.asm
        .load(Size::DoubleWord, Reg::R3, Reg::R7, at + 8 + 8 * n as i16);
    e.asm.jump_imm(Jmp::IfEqual, Reg::R3, 0, done);
    if let Some(len) = zero_fill_len(e, field) {
        zero_fill(e, slot, len);
    }
    e.asm.mov(Reg::R1, Reg::R7);
    e.asm.alu_imm(Alu::Add, Reg::R1, i32::from(slot));
    e.asm.mov_imm(Reg::R2, i32::from(max));
    e.asm.call(Helper::ProbeReadUserStr);
}

/// The command line (`mm->arg_start .. mm->arg_end`, NULs made spaces, at
/// most `max - 1` bytes) into the field's slot; r0 = its length + 1 for the
/// string finisher, or a jump to `done` when there is none.
///
/// A field in `Emitter::raw_cmdline` keeps its NULs: every test of it
/// decides the same on them as on spaces, and [`join_for_event`] makes them
/// spaces before an event reports it.
pub(super) fn load_cmdline(e: &mut Emitter<'_>, field: FieldId, max: u16, done: Label) {
    let slot = e.env.layout.slot(field);
    let len_slot = e.env.layout.len_slot(field);
    let join = !e.raw_cmdline.contains(&field);
    join_cmdline(&mut e.asm, slot, len_slot, max, done, join);
}

/// Whether every test of the command line `field` decides the same on its
/// arguments as read (NUL-separated) as on them joined with spaces: an
/// equality, a prefix, a suffix or a direct search (`direct`) of a literal
/// with no space (a NUL or a space where the literal has another byte
/// fails either way), with no string dispatch on it.
pub(super) fn raw_cmdline(
    program: &crate::ir::Program,
    field: FieldId,
    automata: &[crate::ir::AutomatonDef],
    direct: &std::collections::BTreeSet<(FieldId, crate::ir::AutomatonId)>,
) -> bool {
    use crate::ir::LeafKind;
    let no_space = |lit: &[u8]| !lit.contains(&b' ');
    !program.str_dispatches.iter().any(|d| d.field == field)
        && program
            .leaves()
            .iter()
            .filter(|leaf| leaf.field == field)
            .all(|leaf| match &leaf.kind {
                LeafKind::StrEq(lit) | LeafKind::StrPrefix(lit) | LeafKind::StrSuffix(lit) => {
                    no_space(lit)
                }
                LeafKind::Scan(id) => {
                    direct.contains(&(field, *id))
                        && no_space(&automata[id.0 as usize].automaton.literals[0])
                }
                _ => false,
            })
}

/// Before an event: the NULs of a command line loaded as read made spaces
/// (its length from its length slot; a stale length from another event
/// only changes bytes no test or report of this event reads). Uses r1-r4.
pub(super) fn join_for_event(asm: &mut crate::bpf::asm::Asm, slot: i16, len_slot: i16, max: u16) {
    asm.note("the command line as reported: NULs made spaces");
    let last = i32::from(max) - 1;
    asm.load(Size::DoubleWord, Reg::R2, Reg::R7, len_slot);
    nuls_to_spaces(asm, slot, last);
    // The word loop may have made the string's own NUL a space: again.
    let ok = asm.label("cmdline_reported");
    asm.jump_imm(Jmp::IfLessThanOrEqual, Reg::R2, last, ok);
    asm.mov_imm(Reg::R2, last);
    asm.bind(ok);
    asm.mov(Reg::R1, Reg::R7);
    asm.alu(Alu::Add, Reg::R1, Reg::R2);
    asm.store_imm(Size::Byte, Reg::R1, slot, 0);
}

/// The NULs among the first r2 bytes at `r7 + slot` (at most `last`) made
/// spaces. Uses r1-r4.
fn nuls_to_spaces(asm: &mut crate::bpf::asm::Asm, slot: i16, last: i32) {
    let joined = asm.label("cmdline_joined");
    // A word at a time, no branch per byte: in each word of the line, 0x80
    // marks exactly the NUL bytes (`~(((w & 0x7f..) + 0x7f..) | w |
    // 0x7f..)`), and 0x80 >> 2 is a space. Bytes past the length may change
    // too: the NUL written below ends the string before them.
    asm.load_imm64(Reg::R4, 0x7f7f_7f7f_7f7f_7f7f);
    for w in 0..(last + 7) / 8 {
        if w % 8 == 7 {
            asm.island_point();
        }
        let at = slot + 8 * w as i16;
        asm.jump_imm(Jmp::IfLessThanOrEqual, Reg::R2, 8 * w, joined);
        asm.load(Size::DoubleWord, Reg::R1, Reg::R7, at);
        asm.mov(Reg::R3, Reg::R1);
        asm.alu(Alu::And, Reg::R3, Reg::R4);
        asm.alu(Alu::Add, Reg::R3, Reg::R4);
        asm.alu(Alu::Or, Reg::R3, Reg::R1);
        asm.alu(Alu::Or, Reg::R3, Reg::R4);
        asm.alu_imm(Alu::Xor, Reg::R3, -1);
        asm.alu_imm(Alu::Rhs, Reg::R3, 2);
        asm.alu(Alu::Or, Reg::R1, Reg::R3);
        asm.store(Size::DoubleWord, Reg::R7, at, Reg::R1);
    }
    asm.bind(joined);
}

/// [`load_cmdline`] into `r7 + slot`, its length in `r7 + len_slot`.
fn join_cmdline(
    asm: &mut crate::bpf::asm::Asm,
    slot: i16,
    len_slot: i16,
    max: u16,
    done: Label,
    join: bool,
) {
    let last = i32::from(max) - 1;
    asm.note(if join {
        "the arguments, mm->arg_start .. mm->arg_end, NULs made spaces a word at a time"
    } else {
        "the arguments, mm->arg_start .. mm->arg_end, as read (NUL-separated)"
    });
    asm.call(Helper::GetCurrentTaskBtf);
    asm.load_member(Size::DoubleWord, Reg::R4, Reg::R0, KernelMember::TaskMm);
    asm.load_member(Size::DoubleWord, Reg::R3, Reg::R4, KernelMember::MmArgStart);
    asm.load_member(Size::DoubleWord, Reg::R2, Reg::R4, KernelMember::MmArgEnd);
    asm.alu(Alu::Sub, Reg::R2, Reg::R3);
    // With the last argument's NUL: at least 2 bytes for a non-empty line.
    asm.jump_imm(Jmp::IfSignedLessThanOrEqual, Reg::R2, 1, done);
    asm.alu_imm(Alu::Add, Reg::R2, -1);
    let fits = asm.label("cmdline_fits");
    asm.jump_imm(Jmp::IfLessThanOrEqual, Reg::R2, last, fits);
    asm.mov_imm(Reg::R2, last);
    asm.bind(fits);
    asm.store(Size::DoubleWord, Reg::R7, len_slot, Reg::R2);
    asm.mov(Reg::R1, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R1, i32::from(slot));
    asm.call(Helper::ProbeReadUser);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R0, 0, done);
    asm.load(Size::DoubleWord, Reg::R2, Reg::R7, len_slot);
    if join {
        nuls_to_spaces(asm, slot, last);
    }
    asm.alu_imm(Alu::And, Reg::R2, 0x7fff);
    let ok = asm.label("cmdline_in_slot");
    asm.jump_imm(Jmp::IfLessThanOrEqual, Reg::R2, last, ok);
    asm.mov_imm(Reg::R2, last);
    asm.bind(ok);
    asm.mov(Reg::R1, Reg::R7);
    asm.alu(Alu::Add, Reg::R1, Reg::R2);
    asm.store_imm(Size::Byte, Reg::R1, slot, 0);
    asm.mov(Reg::R0, Reg::R2);
    asm.alu_imm(Alu::Add, Reg::R0, 1);
}

/// The value of the environment variable `key` (the first `KEY=` among the
/// first [`ENV_VARS_MAX`] variables) into the field's slot; r0 as
/// `probe_read_user_str` returns it, or a jump to `done` when it is not set.
pub(super) fn load_env(e: &mut Emitter<'_>, field: FieldId, key: &str, max: u16, done: Label) {
    let slot = e.env.layout.slot(field);
    let mut prefix = key.as_bytes().to_vec();
    prefix.push(b'=');
    let words = prefix.len().div_ceil(8);
    e.asm.note(format!(
        "environment variable {key}: the first of the new program's first {ENV_VARS_MAX} variables"
    ));
    // envp = start_stack + 8 * (argc + 2), kept in the spill slot.
    start_stack(e, Reg::R3);
    e.asm
        .store(Size::DoubleWord, Reg::R10, super::FP_SPILL, Reg::R3);
    read_user_u64(e, Reg::R1, done);
    e.asm.jump_imm(Jmp::IfGreater, Reg::R1, 0x7fff_ffff, done);
    e.asm.alu_imm(Alu::Add, Reg::R1, 2);
    e.asm.alu_imm(Alu::Lhs, Reg::R1, 3);
    e.asm
        .load(Size::DoubleWord, Reg::R3, Reg::R10, super::FP_SPILL);
    e.asm.alu(Alu::Add, Reg::R3, Reg::R1);
    e.asm
        .store(Size::DoubleWord, Reg::R10, super::FP_SPILL, Reg::R3);
    let found = e.asm.label("env_found");
    for _ in 0..ENV_VARS_MAX {
        let next = e.asm.label("env_next");
        e.asm.island_point();
        // r3 = envp[j]; the end of the array is the end of the search.
        e.asm
            .load(Size::DoubleWord, Reg::R3, Reg::R10, super::FP_SPILL);
        read_user_u64(e, Reg::R3, done);
        e.asm.jump_imm(Jmp::IfEqual, Reg::R3, 0, done);
        e.asm
            .store(Size::DoubleWord, Reg::R10, super::FP_KEY, Reg::R3);
        // Its first bytes (a string read stops at its NUL, never past it).
        e.asm.mov(Reg::R1, Reg::R7);
        e.asm.alu_imm(Alu::Add, Reg::R1, i32::from(slot));
        e.asm.mov_imm(Reg::R2, (prefix.len() + 1) as i32);
        e.asm.call(Helper::ProbeReadUserStr);
        e.asm.jump_imm(
            Jmp::IfSignedLessThanOrEqual,
            Reg::R0,
            prefix.len() as i32,
            next,
        );
        for w in 0..words {
            let chunk = &prefix[w * 8..prefix.len().min(w * 8 + 8)];
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            e.asm
                .load(Size::DoubleWord, Reg::R1, Reg::R7, slot + 8 * w as i16);
            if chunk.len() < 8 {
                let mask = u64::MAX >> (8 * (8 - chunk.len()));
                e.asm.load_imm64(Reg::R2, mask);
                e.asm.alu(Alu::And, Reg::R1, Reg::R2);
            }
            e.asm.load_imm64(Reg::R2, u64::from_le_bytes(word));
            e.asm.jump_reg(Jmp::IfNotEqual, Reg::R1, Reg::R2, next);
        }
        e.asm.goto(found);
        e.asm.bind(next);
        e.asm
            .load(Size::DoubleWord, Reg::R3, Reg::R10, super::FP_SPILL);
        e.asm.alu_imm(Alu::Add, Reg::R3, 8);
        e.asm
            .store(Size::DoubleWord, Reg::R10, super::FP_SPILL, Reg::R3);
    }
    e.asm.goto(done);
    e.asm.bind(found);
    if let Some(len) = zero_fill_len(e, field) {
        zero_fill(e, slot, len);
    }
    e.asm
        .load(Size::DoubleWord, Reg::R3, Reg::R10, super::FP_KEY);
    e.asm.alu_imm(Alu::Add, Reg::R3, prefix.len() as i32);
    e.asm.mov(Reg::R1, Reg::R7);
    e.asm.alu_imm(Alu::Add, Reg::R1, i32::from(slot));
    e.asm.mov_imm(Reg::R2, i32::from(max));
    e.asm.call(Helper::ProbeReadUserStr);
}

/// `r3 = ` the command-line snapshot of the current process (`parent`: of
/// its parent), or a jump to `done` when there is none.
pub(super) fn snapshot(e: &mut Emitter<'_>, parent: bool, done: Label) {
    let map = e
        .env
        .maps
        .cmdlines
        .expect("internal error: a command-line snapshot without its map");
    let asm = &mut e.asm;
    if parent {
        asm.call(Helper::GetCurrentTaskBtf);
        asm.load_member(
            Size::DoubleWord,
            Reg::R1,
            Reg::R0,
            KernelMember::TaskRealParent,
        );
        asm.load_member(Size::Word, Reg::R1, Reg::R1, KernelMember::TaskTgid);
    } else {
        asm.call(Helper::GetCurrentPidTgid);
        asm.mov(Reg::R1, Reg::R0);
        asm.alu_imm(Alu::Rhs, Reg::R1, 32);
    }
    asm.store(Size::Word, Reg::R10, super::FP_KEY, Reg::R1);
    asm.load_map(Reg::R1, map);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, i32::from(super::FP_KEY));
    asm.call(Helper::MapLookupElem);
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, done);
    asm.mov(Reg::R3, Reg::R0);
}

/// The support program at every exec's point of no return
/// (`tp_btf/sched_process_exec`): the new program's command line, joined
/// as `exec.cmdline` is, stored as the process's snapshot.
pub fn snapshot_program(
    cmdlines: crate::bpf::asm::MapId,
    buffer: crate::bpf::asm::MapId,
) -> Result<crate::bpf::asm::Assembled, crate::bpf::asm::AsmError> {
    use crate::check::hooks::CMDLINE_LEN;
    let mut asm = crate::bpf::asm::Asm::new();
    let out = asm.label("out");
    let empty = asm.label("empty");
    let store = asm.label("store");
    asm.note("the command line of every exec, by process id");
    asm.mov(Reg::R6, Reg::R1);
    asm.store_imm(Size::Word, Reg::R10, super::FP_KEY, 0);
    asm.load_map(Reg::R1, buffer);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, i32::from(super::FP_KEY));
    asm.call(Helper::MapLookupElem);
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, out);
    asm.mov(Reg::R7, Reg::R0);
    join_cmdline(&mut asm, 0, CMDLINE_LEN as i16, CMDLINE_LEN, empty, true);
    asm.goto(store);
    asm.bind(empty);
    asm.store_imm(Size::Byte, Reg::R7, 0, 0);
    asm.bind(store);
    asm.call(Helper::GetCurrentPidTgid);
    asm.alu_imm(Alu::Rhs, Reg::R0, 32);
    asm.store(Size::Word, Reg::R10, super::FP_KEY, Reg::R0);
    asm.load_map(Reg::R1, cmdlines);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, i32::from(super::FP_KEY));
    asm.mov(Reg::R3, Reg::R7);
    asm.mov_imm(Reg::R4, 0);
    asm.call(Helper::MapUpdateElem);
    asm.bind(out);
    asm.mov_imm(Reg::R0, 0);
    asm.exit();
    asm.assemble()
}

/// The support program at every fork (`tp_btf/sched_process_fork`, context
/// `(parent, child)`): a new process starts with its parent's snapshot (its
/// memory, arguments included, is a copy); a new thread needs none.
pub fn fork_snapshot_program(
    cmdlines: crate::bpf::asm::MapId,
) -> Result<crate::bpf::asm::Assembled, crate::bpf::asm::AsmError> {
    let mut asm = crate::bpf::asm::Asm::new();
    let out = asm.label("out");
    asm.note("a new process inherits its parent's command line");
    // r1 = ctx: parent at 0, child at 8.
    asm.load(Size::DoubleWord, Reg::R6, Reg::R1, 0);
    asm.load_member(Size::Word, Reg::R6, Reg::R6, KernelMember::TaskTgid);
    asm.load(Size::DoubleWord, Reg::R7, Reg::R1, 8);
    asm.load_member(Size::Word, Reg::R7, Reg::R7, KernelMember::TaskTgid);
    asm.jump_reg(Jmp::IfEqual, Reg::R6, Reg::R7, out);
    asm.store(Size::Word, Reg::R10, super::FP_KEY, Reg::R6);
    asm.load_map(Reg::R1, cmdlines);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, i32::from(super::FP_KEY));
    asm.call(Helper::MapLookupElem);
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, out);
    asm.store(Size::Word, Reg::R10, super::FP_KEY, Reg::R7);
    asm.mov(Reg::R3, Reg::R0);
    asm.load_map(Reg::R1, cmdlines);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, i32::from(super::FP_KEY));
    asm.mov_imm(Reg::R4, 0);
    asm.call(Helper::MapUpdateElem);
    asm.bind(out);
    asm.mov_imm(Reg::R0, 0);
    asm.exit();
    asm.assemble()
}
