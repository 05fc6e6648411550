//! Programs that serve the runtime rather than decide a policy.
//!
//! **Guards**, in every policy object (support programs: no hook; symbols
//! start with [`abi::GUARD_PROGRAM_PREFIX`]):
//!
//! - `polc_guard_exit` (`tp_btf/sched_process_exit`): when the runtime's
//!   process exits, clears its tgid in [`abi::MAP_RUNTIME`], so no later
//!   process that gets the same pid inherits its exemption (pinned programs
//!   outlive the runtime).
//! - LSM guards, which refuse with `-EPERM` what a task **in the policy's
//!   scope** (the config's cgroup subtree), other than the runtime itself,
//!   could do to stop enforcement: signal the runtime (`task_kill`, any
//!   signal but 0) or trace it (`ptrace_access_check`: ptrace, `/proc/PID/mem`,
//!   `pidfd_getfd`); detach or replace any BPF link or attachment (`bpf`:
//!   `BPF_PROG_DETACH`, `BPF_LINK_UPDATE`, `BPF_LINK_DETACH`); get a file
//!   descriptor of the runtime's maps or programs (`bpf_map`, `bpf_prog`:
//!   their ids are in [`abi::MAP_GUARDED`]); unlink, rename or remove the
//!   pins in its directories (`inode_unlink`, `inode_rename`, `inode_rmdir`:
//!   directories by file system and inode in [`abi::MAP_GUARDED`]); unmount
//!   its bpffs (`sb_umount`). Tasks outside the scope are never refused:
//!   that is who may stop a guarded policy.
//!
//! **Probes**, in an object of their own
//! ([`crate::compile::runtime_probe_object`], built in process by polrt,
//! never part of a policy's object): the runtime's own process id as the
//! kernel sees it, and whether an LSM program attached here actually runs.
//!
//! Depends on `bpf::asm`, `abi` and the kernel facts only; knows nothing of
//! policies or of ELF.

use crate::abi;
use crate::bpf::asm::{Alu, Asm, AsmError, Assembled, Helper, Jmp, Label, MapId, Reg, Size};
use crate::kernel::{KernelMember, BPF_DETACHING_COMMANDS, EPERM};

pub use crate::abi::{
    LSM_PROBE_MAP, LSM_PROBE_SECTION, LSM_PROBE_SYMBOL, SELF_TGID_SECTION, SELF_TGID_SYMBOL,
};

/// Stack slot of the map key.
const FP_KEY: i16 = -8;
/// Stack slots of a [`abi::MAP_GUARDED`] key: kind, dev (u32 each), id (u64).
const FP_GUARDED_KIND: i16 = -24;
const FP_GUARDED_DEV: i16 = -20;
const FP_GUARDED_ID: i16 = -16;

/// The maps a guard program refers to.
#[derive(Copy, Clone, Debug)]
pub struct GuardMaps {
    pub config: MapId,
    pub runtime: MapId,
    pub guarded: MapId,
}

/// One guard program: its section, symbol and code.
pub struct GuardProgram {
    pub section: &'static str,
    pub symbol: &'static str,
    pub code: Assembled,
}

/// What an LSM guard refuses, besides "a task in scope, not the runtime".
enum Protects {
    /// The task in argument `arg` is the runtime (`task_kill` only when the
    /// signal in argument `signal` is not 0).
    Runtime { arg: i16, signal: Option<i16> },
    /// The `bpf(2)` command in argument 0 is one of these.
    Commands(&'static [i32]),
    /// The object in argument `arg` is in the guarded map: its id is found
    /// through `path` (the last member is the id).
    Object {
        arg: i16,
        kind: u32,
        path: &'static [KernelMember],
    },
    /// The inode of a directory in one of the arguments `args` is guarded.
    Directory { args: &'static [i16] },
    /// The file system of the `struct vfsmount *` in argument 0 is guarded.
    FileSystem,
}

/// The LSM guards: hook, symbol, what each refuses. The `bpf` guard is
/// sleepable (`lsm.s/`), which that hook allows, so that its section does
/// not collide with a policy's own `lsm/bpf` program.
const LSM_GUARDS: &[(&str, &str, Protects)] = &[
    (
        "lsm/task_kill",
        "polc_guard_kill",
        Protects::Runtime {
            arg: 0,
            signal: Some(2),
        },
    ),
    (
        "lsm/ptrace_access_check",
        "polc_guard_ptrace",
        Protects::Runtime {
            arg: 0,
            signal: None,
        },
    ),
    (
        "lsm.s/bpf",
        "polc_guard_bpf",
        Protects::Commands(&BPF_DETACHING_COMMANDS),
    ),
    (
        "lsm/bpf_map",
        "polc_guard_bpf_map",
        Protects::Object {
            arg: 0,
            kind: abi::GUARDED_MAP,
            path: &[KernelMember::BpfMapId],
        },
    ),
    (
        "lsm/bpf_prog",
        "polc_guard_bpf_prog",
        Protects::Object {
            arg: 0,
            kind: abi::GUARDED_PROGRAM,
            path: &[KernelMember::BpfProgAux, KernelMember::BpfProgAuxId],
        },
    ),
    (
        "lsm/inode_unlink",
        "polc_guard_unlink",
        Protects::Directory { args: &[0] },
    ),
    (
        "lsm/inode_rmdir",
        "polc_guard_rmdir",
        Protects::Directory { args: &[0] },
    ),
    (
        "lsm/inode_rename",
        "polc_guard_rename",
        Protects::Directory { args: &[0, 2] },
    ),
    ("lsm/sb_umount", "polc_guard_umount", Protects::FileSystem),
];

/// Every guard program of a policy object: the exit guard, then the LSM
/// guards.
pub fn guard_programs(maps: GuardMaps) -> Result<Vec<GuardProgram>, AsmError> {
    let mut programs = vec![GuardProgram {
        section: "tp_btf/sched_process_exit",
        symbol: abi::GUARD_EXIT,
        code: exit_guard(maps)?,
    }];
    for (section, symbol, protects) in LSM_GUARDS {
        programs.push(GuardProgram {
            section,
            symbol,
            code: lsm_guard(maps, protects)?,
        });
    }
    Ok(programs)
}

/// `r0 = &map[0]`, or a jump to `missing` when the lookup fails.
fn lookup_first(asm: &mut Asm, map: MapId, missing: Label) {
    asm.store_imm(Size::Word, Reg::R10, FP_KEY, 0);
    asm.load_map(Reg::R1, map);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, i32::from(FP_KEY));
    asm.call(Helper::MapLookupElem);
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, missing);
}

/// Clears the runtime's tgid when its process (its thread group leader)
/// exits.
fn exit_guard(maps: GuardMaps) -> Result<Assembled, AsmError> {
    let mut asm = Asm::new();
    let out = asm.label("out");
    asm.note("the runtime exits: no later process inherits its exemption");
    asm.call(Helper::GetCurrentPidTgid);
    asm.mov(Reg::R6, Reg::R0);
    lookup_first(&mut asm, maps.runtime, out);
    asm.load(Size::Word, Reg::R1, Reg::R0, abi::runtime::TGID);
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, out);
    asm.mov(Reg::R2, Reg::R6);
    asm.alu_imm(Alu::Rhs, Reg::R2, 32);
    asm.jump_reg(Jmp::IfNotEqual, Reg::R1, Reg::R2, out);
    asm.note("only when the thread group leader exits");
    asm.mov32(Reg::R3, Reg::R6);
    asm.jump_reg(Jmp::IfNotEqual, Reg::R3, Reg::R2, out);
    asm.store_imm(Size::Word, Reg::R0, abi::runtime::TGID, 0);
    asm.bind(out);
    asm.mov_imm(Reg::R0, 0);
    asm.exit();
    asm.assemble()
}

/// One LSM guard: refuse with `-EPERM` when the operation touches what
/// `protects` names and the current task is in the policy's scope and is
/// not the runtime. Registers: r6 the context, r7 the config, r8 the
/// current tgid, r9 the runtime's tgid.
fn lsm_guard(maps: GuardMaps, protects: &Protects) -> Result<Assembled, AsmError> {
    let mut asm = Asm::new();
    let allow = asm.label("allow");
    asm.mov(Reg::R6, Reg::R1);
    asm.note("the runtime's tgid");
    asm.mov_imm(Reg::R9, 0);
    let no_runtime = asm.label("no_runtime");
    lookup_first(&mut asm, maps.runtime, no_runtime);
    asm.load(Size::Word, Reg::R9, Reg::R0, abi::runtime::TGID);
    asm.bind(no_runtime);
    match protects {
        Protects::Runtime { arg, signal } => {
            if let Some(signal) = signal {
                asm.note("signal 0 only checks that the task exists");
                asm.load(Size::DoubleWord, Reg::R1, Reg::R6, signal * 8);
                asm.mov32(Reg::R1, Reg::R1);
                asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, allow);
            }
            asm.note("is the target task the runtime?");
            asm.jump_imm(Jmp::IfEqual, Reg::R9, 0, allow);
            asm.load(Size::DoubleWord, Reg::R1, Reg::R6, arg * 8);
            asm.load_member(Size::Word, Reg::R1, Reg::R1, KernelMember::TaskTgid);
            asm.jump_reg(Jmp::IfNotEqual, Reg::R1, Reg::R9, allow);
        }
        Protects::Commands(commands) => {
            asm.note("a command that detaches or replaces a link or an attachment?");
            let refuse = asm.label("command");
            asm.load(Size::DoubleWord, Reg::R1, Reg::R6, 0);
            asm.mov32(Reg::R1, Reg::R1);
            for command in *commands {
                asm.jump_imm(Jmp::IfEqual, Reg::R1, *command, refuse);
            }
            asm.goto(allow);
            asm.bind(refuse);
        }
        Protects::Object { arg, kind, path } => {
            asm.note("one of the runtime's maps or programs?");
            asm.load(Size::DoubleWord, Reg::R1, Reg::R6, arg * 8);
            for (i, member) in path.iter().enumerate() {
                let size = if i + 1 == path.len() {
                    Size::Word
                } else {
                    Size::DoubleWord
                };
                asm.load_member(size, Reg::R1, Reg::R1, *member);
            }
            guarded_key(&mut asm, *kind, None, Reg::R1);
            guarded_or(&mut asm, maps.guarded, allow);
        }
        Protects::Directory { args } => {
            asm.note("in one of the runtime's pin directories?");
            let refuse = asm.label("guarded_directory");
            for (i, arg) in args.iter().enumerate() {
                asm.load(Size::DoubleWord, Reg::R1, Reg::R6, arg * 8);
                asm.load_member(Size::DoubleWord, Reg::R2, Reg::R1, KernelMember::InodeSb);
                asm.load_member(Size::Word, Reg::R2, Reg::R2, KernelMember::SuperBlockDev);
                asm.load_member(Size::DoubleWord, Reg::R1, Reg::R1, KernelMember::InodeIno);
                guarded_key(&mut asm, abi::GUARDED_DIRECTORY, Some(Reg::R2), Reg::R1);
                if i + 1 == args.len() {
                    guarded_or(&mut asm, maps.guarded, allow);
                } else {
                    let next = asm.label("next_directory");
                    guarded_or(&mut asm, maps.guarded, next);
                    asm.goto(refuse);
                    asm.bind(next);
                }
            }
            asm.bind(refuse);
        }
        Protects::FileSystem => {
            asm.note("the runtime's bpffs?");
            asm.load(Size::DoubleWord, Reg::R1, Reg::R6, 0);
            asm.load_member(Size::DoubleWord, Reg::R1, Reg::R1, KernelMember::VfsmountSb);
            asm.load_member(Size::Word, Reg::R2, Reg::R1, KernelMember::SuperBlockDev);
            asm.mov_imm(Reg::R1, 0);
            guarded_key(&mut asm, abi::GUARDED_FILE_SYSTEM, Some(Reg::R2), Reg::R1);
            guarded_or(&mut asm, maps.guarded, allow);
        }
    }
    in_scope_or(&mut asm, maps.config, allow);
    asm.note("the runtime itself may");
    asm.call(Helper::GetCurrentPidTgid);
    asm.alu_imm(Alu::Rhs, Reg::R0, 32);
    asm.jump_reg(Jmp::IfEqual, Reg::R0, Reg::R9, allow);
    asm.note("refuse");
    asm.mov_imm(Reg::R0, -EPERM);
    asm.exit();
    asm.bind(allow);
    asm.mov_imm(Reg::R0, 0);
    asm.exit();
    asm.assemble()
}

/// Writes the [`abi::MAP_GUARDED`] key `{kind, dev, id}` to the stack (`dev`
/// 0 when `None`).
fn guarded_key(asm: &mut Asm, kind: u32, dev: Option<Reg>, id: Reg) {
    asm.store_imm(Size::Word, Reg::R10, FP_GUARDED_KIND, kind as i32);
    match dev {
        Some(dev) => asm.store(Size::Word, Reg::R10, FP_GUARDED_DEV, dev),
        None => asm.store_imm(Size::Word, Reg::R10, FP_GUARDED_DEV, 0),
    }
    asm.store(Size::DoubleWord, Reg::R10, FP_GUARDED_ID, id);
}

/// Looks the stack's key up in the guarded map; jumps to `not_guarded`
/// when it is not there.
fn guarded_or(asm: &mut Asm, guarded: MapId, not_guarded: Label) {
    asm.load_map(Reg::R1, guarded);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, i32::from(FP_GUARDED_KIND));
    asm.call(Helper::MapLookupElem);
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, not_guarded);
}

/// Jumps to `outside` unless the current task is in the config's scope
/// (every task when no scope is set).
fn in_scope_or(asm: &mut Asm, config: MapId, outside: Label) {
    asm.note("is the current task in the policy's scope?");
    let in_scope = asm.label("in_scope");
    lookup_first(asm, config, outside);
    asm.mov(Reg::R7, Reg::R0);
    asm.load(
        Size::DoubleWord,
        Reg::R1,
        Reg::R7,
        abi::config::SCOPE_CGROUP,
    );
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, in_scope);
    asm.load(Size::Word, Reg::R1, Reg::R7, abi::config::SCOPE_LEVEL);
    asm.call(Helper::GetCurrentAncestorCgroupId);
    asm.load(
        Size::DoubleWord,
        Reg::R1,
        Reg::R7,
        abi::config::SCOPE_CGROUP,
    );
    asm.jump_reg(Jmp::IfNotEqual, Reg::R0, Reg::R1, outside);
    asm.bind(in_scope);
}

/// Returns the calling task's thread group id as the kernel sees it
/// (`bpf_get_current_pid_tgid() >> 32`), whatever pid namespace the caller
/// is in: run with `BPF_PROG_TEST_RUN`, the program runs in the caller's
/// context.
pub fn self_tgid_program() -> Result<Assembled, AsmError> {
    let mut asm = Asm::new();
    asm.note("the caller's thread group id, as the kernel sees it");
    asm.call(Helper::GetCurrentPidTgid);
    asm.alu_imm(Alu::Rhs, Reg::R0, 32);
    asm.exit();
    asm.assemble()
}

/// An LSM program that allows everything and sets `flag[0]` to 1 when it
/// runs: attached to the `bpf` hook, any `bpf(2)` call then proves that the
/// kernel calls LSM programs (a kernel whose active LSMs lack `bpf` loads
/// and attaches them, but never calls them).
pub fn lsm_probe_program(flag: MapId) -> Result<Assembled, AsmError> {
    let mut asm = Asm::new();
    let allow = asm.label("allow");
    asm.note("mark that an LSM program ran");
    lookup_first(&mut asm, flag, allow);
    asm.store_imm(Size::Word, Reg::R0, 0, 1);
    asm.bind(allow);
    asm.mov_imm(Reg::R0, 0);
    asm.exit();
    asm.assemble()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps() -> GuardMaps {
        GuardMaps {
            config: MapId(0),
            runtime: MapId(1),
            guarded: MapId(2),
        }
    }

    #[test]
    fn every_guard_is_a_hookless_program_with_a_distinct_section() {
        let programs = guard_programs(maps()).expect("assembles");
        assert_eq!(programs[0].symbol, abi::GUARD_EXIT);
        assert!(programs[0].section.starts_with("tp_btf/"));
        let mut sections: Vec<&str> = programs.iter().map(|p| p.section).collect();
        sections.sort_unstable();
        sections.dedup();
        assert_eq!(sections.len(), programs.len());
        for program in &programs {
            assert!(program.symbol.starts_with(abi::GUARD_PROGRAM_PREFIX));
            assert!(program.code.max_path() < 100, "{}", program.symbol);
        }
        // The bpf guard does not take the section of a policy's own
        // `bpf` program on the lsm backend.
        assert!(programs.iter().all(|p| p.section != "lsm/bpf"));
    }

    #[test]
    fn lsm_guards_refuse_with_eperm_and_check_scope_and_the_runtime() {
        for program in guard_programs(maps()).expect("assembles").iter().skip(1) {
            let text = program.code.disassemble();
            assert!(text.contains("get_current_ancestor_cgroup_id"), "{text}");
            assert!(text.contains("the runtime itself may"), "{text}");
            assert!(text.contains("r0 = -1"), "{}: {text}", program.symbol);
        }
        let kill = &guard_programs(maps()).expect("assembles")[1];
        assert!(kill.code.disassemble().contains("signal 0"));
    }

    #[test]
    fn the_probes_are_short_and_loop_free() {
        let tgid = self_tgid_program().expect("assembles");
        assert_eq!(tgid.n_insns(), 3);
        let disassembly = tgid.disassemble();
        assert!(
            disassembly.contains("get_current_pid_tgid"),
            "{disassembly}"
        );
        let lsm = lsm_probe_program(MapId(0)).expect("assembles");
        assert_eq!(lsm.map_relocs.len(), 1);
        assert!(lsm.max_path() <= 10, "{}", lsm.disassemble());
    }
}
