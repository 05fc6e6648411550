//! Programs that serve the runtime rather than decide a policy: the probes
//! polrt runs to learn what only the kernel knows (its own process id as
//! the kernel sees it; whether an LSM program attached here actually runs).
//!
//! The probes go into an object of their own
//! ([`crate::compile::runtime_probe_object`]), built in process by polrt;
//! they never appear in a policy's object.
//!
//! Depends on `bpf::asm` and the kernel facts only; knows nothing of
//! policies or of ELF.

use crate::bpf::asm::{Asm, AsmError, Assembled, Helper, Jmp, MapId, Reg, Size};

/// Section of [`self_tgid_program`]: a raw tracepoint program, run with
/// `BPF_PROG_TEST_RUN` (never attached).
pub const SELF_TGID_SECTION: &str = "raw_tracepoint/polc_self_tgid";
/// Symbol of [`self_tgid_program`].
pub const SELF_TGID_SYMBOL: &str = "polc_self_tgid";
/// Section of [`lsm_probe_program`]: the `bpf` LSM hook, which the runtime
/// triggers itself with any `bpf(2)` call.
pub const LSM_PROBE_SECTION: &str = "lsm/bpf";
/// Symbol of [`lsm_probe_program`].
pub const LSM_PROBE_SYMBOL: &str = "polc_lsm_probe";
/// The map [`lsm_probe_program`] marks: an array of one u32, 0 until the
/// program runs.
pub const LSM_PROBE_MAP: &str = "polc_lsm_ran";

/// Stack slot of the map key.
const FP_KEY: i16 = -8;

/// Returns the calling task's thread group id as the kernel sees it
/// (`bpf_get_current_pid_tgid() >> 32`), whatever pid namespace the caller
/// is in: run with `BPF_PROG_TEST_RUN`, the program runs in the caller's
/// context.
pub fn self_tgid_program() -> Result<Assembled, AsmError> {
    let mut asm = Asm::new();
    asm.note("the caller's thread group id, as the kernel sees it");
    asm.call(Helper::GetCurrentPidTgid);
    asm.alu_imm(crate::bpf::asm::Alu::Rhs, Reg::R0, 32);
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
    asm.store_imm(Size::Word, Reg::R10, FP_KEY, 0);
    asm.load_map(Reg::R1, flag);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(crate::bpf::asm::Alu::Add, Reg::R2, i32::from(FP_KEY));
    asm.call(Helper::MapLookupElem);
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, allow);
    asm.store_imm(Size::Word, Reg::R0, 0, 1);
    asm.bind(allow);
    asm.mov_imm(Reg::R0, 0);
    asm.exit();
    asm.assemble()
}

#[cfg(test)]
mod tests {
    use super::*;

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
