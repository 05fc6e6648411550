//! Instruction selection: one decision [`Program`] to BPF instructions.
//!
//! Every program has the same shape (see ARCHITECTURE.md): guard, config and
//! scope check, traces, rules (first match decides), one shared "decided"
//! block that counts, reports and enforces, then exit. Conditions are emitted
//! in continuation-passing style with forward jumps only, so `and`/`or`/`not`
//! are target swaps and nothing is materialised as a boolean.
//!
//! Field loads are placed here, lazily: a field is loaded right before the
//! first test that needs it on the path being emitted (or at the match, for
//! a captured field), unless it is loaded on every path to that point (see
//! `flow.rs`). A field that some path would load twice (it was loaded on
//! some paths to a test, not all) is instead loaded at the start of the
//! first step that needs it, and the program is emitted again: no path
//! loads a field twice for its tests (a match may load its captured fields
//! again). A failed test skips the later rules
//! that require it; a run of rules that each first compare the same int
//! field with a constant starts with a binary search on its value.
//!
//! Registers: r6 = context, r7 = per-CPU scratch buffer (the event record
//! being built, with every loaded field at a fixed offset), r9 = the
//! decision (the matching rule's verdict code; its id is in the record
//! header), r8 = `bpf_get_current_pid_tgid()` in the decided block; r0-r5
//! are scratch and clobbered by every helper call. Stack: fp-8 the config
//! value pointer, fp-16 a u32 map key, fp-24 a spill slot, fp-32 the system
//! call ABI, fp-40 the last ancestor reached (a task pointer), fp-48 the next
//! `kernfs_node` of the container walk.
//!
//! Depends on `ir`, `bpf::asm`, `abi` (record header and config layout) and the
//! hook table; knows nothing of ELF.

pub mod cmdline;
mod container;
mod fields;
mod flow;
pub mod guard;
pub mod layout;
mod leaves;
mod path;

use std::collections::{BTreeSet, HashMap};

use crate::abi::{self, header, Verdict, CONFIG_MONITOR};
use crate::bpf::asm::{
    Alu, Asm, AsmError, Assembled, Helper, Jmp, Label, MapId, Origin, Param, Reg, Size,
};
use crate::check::hooks::{FieldId, FieldSource, FieldType, Guard, ReturnConvention, Signals};
use crate::check::policy::Action;
use crate::ir::{Cond, Program, SetId, Step, Target};
use crate::kernel::SIGKILL;

pub use layout::{Layout, SCRATCH_TAIL};

/// Stack slot of the config value pointer.
const FP_CONFIG: i16 = -8;
/// Stack slot of a u32 map key.
const FP_KEY: i16 = -16;

/// `bpf_ringbuf_output` flags and `bpf_ringbuf_query` requests (uapi
/// `BPF_RB_*`).
const BPF_RB_NO_WAKEUP: i32 = 1;
const BPF_RB_FORCE_WAKEUP: i32 = 2;
const BPF_RB_AVAIL_DATA: i32 = 0;
/// Stack slot for spilling a value across a helper call.
const FP_SPILL: i16 = -24;
/// Stack slot of the system call ABI a syscall guard found (0: 64-bit or
/// x32, 1: 32-bit), until the prologue copies it to the scratch map.
const FP_ABI: i16 = -32;
/// Stack slot of the task pointer of the last ancestor an ancestry field
/// load reached (see `flow::Loaded::ancestor`): a spilled pointer keeps its
/// type, so the next ancestor is one `real_parent` step from it.
const FP_ANCESTOR: i16 = -40;
/// Bytes of stack every program uses.
pub const STACK_BYTES: u32 = 40;

/// The maps a program refers to.
#[derive(Clone, Debug)]
pub struct Maps {
    pub events: MapId,
    pub counters: MapId,
    pub config: MapId,
    pub scratch: MapId,
    /// Present when some test compares a resolved path with files named by
    /// path (see [`crate::ir::IdentitySet`]).
    pub identities: Option<MapId>,
    /// Present when some program has code only some kernels allow (see
    /// [`needs_features`]).
    pub features: Option<MapId>,
    /// Present when a program reads the name a task had before its exec
    /// ([`FieldSource::CallerComm`]): thread id -> command name, written
    /// at execve entry by [`exec_callers_program`].
    pub exec_callers: Option<MapId>,
    /// Present when a program reads a command-line snapshot
    /// ([`FieldSource::CmdlineSnapshot`]): `abi::MAP_CMDLINES`.
    pub cmdlines: Option<MapId>,
    /// [`abi::MAP_RUNTIME`]: the runtime's tgid (attach builds only).
    pub runtime: Option<MapId>,
    /// [`abi::MAP_GUARDED`]: what the guard programs protect (attach builds
    /// only).
    pub guarded: Option<MapId>,
    /// One map per [`crate::ir::SetDef`], by set index.
    pub sets: Vec<MapId>,
    /// Present when some program runs a string automaton: the tables of
    /// every [`crate::ir::AutomatonDef`].
    pub automata: Option<MapId>,
    /// Present in test-run builds: the per-CPU copy of the test context
    /// (see [`crate::ir::TestContext`]).
    pub test_context: Option<MapId>,
    /// Present when an attach program compares with a user or group name:
    /// [`abi::MAP_ACCOUNTS`].
    pub accounts: Option<MapId>,
}

impl Maps {
    fn set(&self, set: SetId) -> MapId {
        self.sets[set.0 as usize]
    }
}

/// What a program needs to know about the object it is part of.
#[derive(Clone, Debug)]
pub struct ProgramEnv<'a> {
    pub maps: &'a Maps,
    /// The module's sets (key layouts of the set maps).
    pub sets: &'a [crate::ir::SetDef],
    /// The module's automata (where each table lies in the automata map).
    pub automata: &'a [crate::ir::AutomatonDef],
    pub layout: &'a Layout,
    /// The user and group names of [`abi::MAP_ACCOUNTS`], in the order of
    /// their ids in its value (`(group, name)`).
    pub accounts: &'a [(bool, &'static str)],
    /// Index of this program in the metadata (written into event headers).
    pub program_index: u16,
    /// Number of rules and traces in the policy (the loss counter's index).
    pub n_rules: u32,
    /// Most instructions worth emitting: past them the program is refused
    /// anyway (see `measure`), and emission stops ([`EmitError::TooLarge`]).
    pub max_insns: usize,
    /// What the program does of its decisions ([`abi::ProgramRole`]).
    pub role: abi::ProgramRole,
}

/// Why a program was not emitted.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error(transparent)]
    Asm(#[from] AsmError),
    /// Emission stopped past [`ProgramEnv::max_insns`] instructions.
    #[error("more than {insns} instructions")]
    TooLarge {
        insns: usize,
        /// The instructions emitted, by what they were emitted for.
        by_origin: Vec<(Origin, u32)>,
    },
}

/// r9 before any rule matched.
const NO_MATCH: i32 = 0;
/// r9 after an `allow` rule matched.
const ALLOW_MATCHED: i32 = 8;

/// Verdict codes in r9 while deciding: `Verdict::code()`, or [`ALLOW_MATCHED`].
fn action_code(action: Action) -> i32 {
    match action {
        Action::Allow => ALLOW_MATCHED,
        Action::Audit => i32::from(Verdict::Audit.code()),
        Action::Deny => i32::from(Verdict::Deny.code()),
        Action::Kill => i32::from(Verdict::Kill.code()),
        Action::Trace => i32::from(Verdict::Trace.code()),
    }
}

/// Where the decision goes in the return value of a test-run program:
/// `(rule id + 1) << 8 | verdict code`.
pub const TEST_RUN_RULE_SHIFT: u32 = 8;

/// The return value of a test-run program that could not read its test
/// context (no decision was made).
pub const TEST_RUN_NO_CONTEXT: u32 = u32::MAX;

struct Emitter<'a> {
    asm: Asm,
    env: ProgramEnv<'a>,
    program: &'a Program,
    exit_allow: Label,
    /// Fields loaded at the current point; `None` where it is unreachable.
    here: Option<flow::Loaded>,
    /// Fields loaded on the jumps to each label seen so far (merged).
    at_label: HashMap<Label, flow::Loaded>,
    /// Fields loaded at the start of the first step that needs them rather
    /// than lazily.
    eager: &'a BTreeSet<FieldId>,
    /// Lazily loaded fields that some path loaded twice.
    conflicts: BTreeSet<FieldId>,
    /// `proc.comm` is read without its length (see
    /// [`fields::comm_without_len`]).
    comm_without_len: bool,
    /// Captured fields several rules share, and the label of the block
    /// after the rules that loads them for all of them.
    capture_blocks: Vec<(Vec<FieldId>, Label)>,
    /// Whether an undecided condition makes the step being emitted match
    /// (see [`crate::interp::fails_closed_to_match`]).
    fail_closed_match: bool,
    /// The rule or trace being emitted (for [`Origin`]s).
    rule: Option<u32>,
    /// Ancestors' command names copied from the task with two loads, no
    /// length ([`fields::comm_in_place`]).
    comm_in_place: BTreeSet<FieldId>,
    /// Command lines loaded as read, NULs kept ([`cmdline::raw_cmdline`]).
    raw_cmdline: BTreeSet<FieldId>,
    /// The one-literal `contains` tests decided by a direct search
    /// ([`leaves::direct_searches`]).
    direct: BTreeSet<(FieldId, crate::ir::AutomatonId)>,
    /// The string whose length the last field load left in r1 (set by
    /// [`fields::finish_str`]).
    len_in_r1: Option<FieldId>,
}

/// Emits one program; one past `env.max_insns` instructions is not
/// finished.
pub fn emit_program(program: &Program, env: ProgramEnv<'_>) -> Result<Assembled, EmitError> {
    let (index, role) = (env.program_index, env.role);
    let code = emit_asm(program, env)?.assemble()?;
    Ok(code.with_params(|param| param_value(program, role, index, param)))
}

/// A whole program and its reporting program ([`abi::ProgramRole`]), of
/// index `report_index`: one emission and assembly. The reporting
/// program is the whole program's code with its own index in event
/// headers, returning 0 where the whole one refuses (an fentry program
/// must return 0): the decision, counting, reporting and `kill`'s signal
/// are the same code.
pub fn emit_program_and_report(
    program: &Program,
    env: ProgramEnv<'_>,
    report_index: u16,
) -> Result<(Assembled, Assembled), EmitError> {
    let index = env.program_index;
    let code = emit_asm(program, env)?.assemble()?;
    let whole = code.with_params(|p| param_value(program, abi::ProgramRole::Whole, index, p));
    let report =
        code.with_params(|p| param_value(program, abi::ProgramRole::Report, report_index, p));
    Ok((whole, report))
}

/// The value of `param` in the program of `role` at `index`.
fn param_value(program: &Program, role: abi::ProgramRole, index: u16, param: Param) -> i32 {
    match param {
        Param::ProgramIndex => i32::from(index),
        // LSM: -EPERM; a cgroup hook refuses with 0; tracing programs
        // (the reporting program is one) return 0.
        Param::RefuseValue => match (program.target, role) {
            (
                Target::Attach { backend, .. },
                abi::ProgramRole::Whole | abi::ProgramRole::Refuse,
            ) if backend.ret == ReturnConvention::Lsm => -1,
            _ => 0,
        },
    }
}

/// Emits a program until no field's load conflicts (unassembled).
fn emit_asm(program: &Program, env: ProgramEnv<'_>) -> Result<Asm, EmitError> {
    let mut eager = BTreeSet::new();
    loop {
        let (asm, conflicts) = emit_with(program, env.clone(), &eager);
        if asm.n_insns() > env.max_insns {
            return Err(EmitError::TooLarge {
                insns: asm.n_insns(),
                by_origin: asm.insns_by_origin(),
            });
        }
        if conflicts.is_empty() {
            return Ok(asm);
        }
        // Each round makes at least one more field eager, and eager fields
        // never conflict: this ends within one round per field.
        eager.extend(conflicts);
    }
}

fn emit_with(
    program: &Program,
    env: ProgramEnv<'_>,
    eager: &BTreeSet<FieldId>,
) -> (Asm, BTreeSet<FieldId>) {
    let mut asm = Asm::new();
    let refuses = |r: &Step| matches!(r.action, Action::Deny | Action::Kill);
    if env.role == abi::ProgramRole::Refuse && !program.rules.iter().any(refuses) {
        asm.note(format!(
            "program for {}: refuses nothing (its policy reports there)",
            program.hook
        ));
        asm.mov_imm(Reg::R0, 0);
        asm.exit();
        return (asm, BTreeSet::new());
    }
    let exit_allow = asm.label("allow");
    let mut e = Emitter {
        asm,
        env,
        program,
        exit_allow,
        here: Some(flow::Loaded::default()),
        at_label: HashMap::new(),
        eager,
        conflicts: BTreeSet::new(),
        comm_without_len: FieldId::from_name("proc.comm")
            .is_some_and(|comm| fields::comm_without_len(program, comm)),
        capture_blocks: Vec::new(),
        fail_closed_match: false,
        rule: None,
        direct: BTreeSet::new(),
        comm_in_place: fields::comm_in_place(program),
        raw_cmdline: BTreeSet::new(),
        len_in_r1: None,
    };
    e.direct = leaves::direct_searches(&e);
    e.raw_cmdline = program
        .fields()
        .into_iter()
        .filter(|f| kernel_source(program, *f) == Some(FieldSource::Cmdline))
        .filter(|f| cmdline::raw_cmdline(program, *f, e.env.automata, &e.direct))
        .collect();
    e.prologue();
    let too_large = |e: &Emitter<'_>| e.asm.n_insns() > e.env.max_insns;
    // Traces only report: a refusing program has none.
    let traces: &[Step] = match e.env.role {
        abi::ProgramRole::Refuse => &[],
        _ => &program.traces,
    };
    for step in traces {
        e.trace(step);
        if too_large(&e) {
            return (e.asm, BTreeSet::new());
        }
    }
    // Rules that load an eager field first: no failed test skips them. A
    // dispatched run loads the eager fields any of its rules needs before
    // its search, so only its first rule can be one.
    let runs = flow::dispatch_runs(program);
    let mut first_needed: BTreeSet<FieldId> = traces
        .iter()
        .flat_map(|t| t.needs())
        .filter(|f| eager.contains(f))
        .collect();
    let mut barriers = vec![false; program.rules.len()];
    let mut k = 0;
    while k < program.rules.len() {
        let end = runs
            .iter()
            .find(|run| run.start == k)
            .map(|run| run.end)
            .or_else(|| {
                program
                    .prefix_dispatches
                    .iter()
                    .find(|d| d.start == k)
                    .map(|d| d.end)
            })
            .unwrap_or(k + 1);
        let new: Vec<FieldId> = program.rules[k..end]
            .iter()
            .flat_map(|rule| rule.needs())
            .filter(|f| eager.contains(f) && !first_needed.contains(f))
            .collect();
        first_needed.extend(new.iter().copied());
        barriers[k] = !new.is_empty();
        k = end;
    }
    // A prefix run is entered at its start only (its rules are emitted in
    // groups, not at their own entries): no failed test lands inside it.
    for d in &program.prefix_dispatches {
        barriers[d.start..d.end].fill(true);
    }
    let plan = flow::RulePlan::new(&mut e.asm, &program.rules, &barriers, &runs, exit_allow);
    let decided = e.asm.label("decided");
    // Captures that several rules share: one block loads them for all.
    let mut sharing: HashMap<&[FieldId], usize> = HashMap::new();
    for rule in &program.rules {
        if !rule.captures.is_empty() {
            *sharing.entry(rule.captures.as_slice()).or_default() += 1;
        }
    }
    for rule in &program.rules {
        let captures = rule.captures.as_slice();
        if sharing.get(captures).is_some_and(|n| *n > 1)
            && !e.capture_blocks.iter().any(|(c, _)| c == captures)
        {
            let label = e.asm.label("captures");
            e.capture_blocks.push((captures.to_vec(), label));
        }
    }
    let mut i = 0;
    while i < program.rules.len() {
        if too_large(&e) {
            return (e.asm, BTreeSet::new());
        }
        match plan.dispatch_of[i] {
            None => match program.prefix_dispatches.iter().position(|d| d.start == i) {
                Some(p) => {
                    e.prefix_dispatch(p, &plan, decided);
                    i = program.prefix_dispatches[p].end;
                }
                None => {
                    e.rule(i, &plan, 0, decided);
                    i += 1;
                }
            },
            Some(d) => {
                // The run's rules are emitted inside the search, each after
                // the block that jumps to it.
                let dispatch = &plan.dispatches[d];
                e.bind(plan.entries[i][0]);
                if e.here.is_some() {
                    e.step_header(&program.rules[i]);
                    // The eager fields of the whole run.
                    for rule in &program.rules[dispatch.start..dispatch.end] {
                        for field in rule.needs() {
                            if e.eager.contains(&field) {
                                e.need(field);
                            }
                        }
                    }
                    e.dispatch(dispatch, &plan, decided);
                }
                i = dispatch.end;
            }
        }
    }
    let more = e.at_label.contains_key(&decided)
        || e.capture_blocks
            .iter()
            .any(|(_, l)| e.at_label.contains_key(l));
    if e.here.is_some() && more {
        // No rule matched: over the blocks below.
        e.goto(exit_allow);
    }
    e.set_rule(None);
    for (captures, label) in std::mem::take(&mut e.capture_blocks) {
        if !e.at_label.contains_key(&label) {
            continue;
        }
        e.asm.island_point();
        e.bind(label);
        if e.here.is_some() {
            e.asm.note("the captures of the rules that jump here");
            for field in captures {
                e.capture(field);
            }
            e.goto(decided);
        }
    }
    if e.at_label.contains_key(&decided) {
        e.asm.island_point();
        e.bind(decided);
        e.decided();
    }
    e.asm.bind(e.exit_allow);
    e.asm.note("allow");
    e.asm.mov_imm(Reg::R0, e.allow_value());
    e.asm.exit();
    let conflicts = std::mem::take(&mut e.conflicts);
    (e.asm, conflicts)
}

impl Emitter<'_> {
    fn ret(&self) -> Option<ReturnConvention> {
        match self.program.target {
            Target::Attach { backend, .. } => Some(backend.ret),
            Target::TestRun => None,
        }
    }

    fn allow_value(&self) -> i32 {
        match self.ret() {
            Some(ReturnConvention::CgroupSockAddr) => 1,
            _ => 0,
        }
    }

    fn guards(&self) -> &'static [Guard] {
        match self.program.target {
            Target::Attach { attach, .. } => attach.guards,
            Target::TestRun => &[],
        }
    }

    fn prologue(&mut self) {
        let guards = self.guards();
        self.asm.note(format!("program for {}", self.program.hook));
        self.asm.mov(Reg::R6, Reg::R1);
        // Guards that need no scratch buffer first: most events of a
        // system call tracepoint are not the hook's.
        let mut syscall = false;
        for guard in guards {
            self.guard(*guard, &mut syscall);
        }
        let asm = &mut self.asm;
        // Config and scope.
        asm.note("config; scope to a cgroup subtree when set");
        asm.store_imm(Size::Word, Reg::R10, FP_KEY, 0);
        asm.load_map(Reg::R1, self.env.maps.config);
        asm.mov(Reg::R2, Reg::R10);
        asm.alu_imm(Alu::Add, Reg::R2, i32::from(FP_KEY));
        asm.call(Helper::MapLookupElem);
        asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, self.exit_allow);
        asm.store(Size::DoubleWord, Reg::R10, FP_CONFIG, Reg::R0);
        let in_scope = asm.label("in_scope");
        asm.load(Size::DoubleWord, Reg::R1, Reg::R0, 0);
        asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, in_scope);
        asm.store(Size::DoubleWord, Reg::R10, FP_SPILL, Reg::R1);
        asm.load(Size::Word, Reg::R1, Reg::R0, abi::config::SCOPE_LEVEL);
        asm.call(Helper::GetCurrentAncestorCgroupId);
        asm.load(Size::DoubleWord, Reg::R1, Reg::R10, FP_SPILL);
        asm.jump_reg(Jmp::IfNotEqual, Reg::R0, Reg::R1, self.exit_allow);
        asm.bind(in_scope);
        asm.note("per-CPU scratch: the event record and every loaded field");
        asm.load_map(Reg::R1, self.env.maps.scratch);
        asm.mov(Reg::R2, Reg::R10);
        asm.alu_imm(Alu::Add, Reg::R2, i32::from(FP_KEY));
        asm.call(Helper::MapLookupElem);
        asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, self.exit_allow);
        asm.mov(Reg::R7, Reg::R0);
        if syscall {
            // From here on the ABI is read from the scratch map, which the
            // verifier does not track: paths of either ABI prune together.
            asm.load(Size::DoubleWord, Reg::R1, Reg::R10, FP_ABI);
            asm.store(
                Size::DoubleWord,
                Reg::R7,
                self.env.layout.abi as i16,
                Reg::R1,
            );
        }
        for guard in guards {
            match *guard {
                Guard::InetSockaddr { arg, path } => fields::read_sockaddr(self, arg, path),
                Guard::InetSock(sock) => path::inet_sock_guard(self, sock),
                Guard::CallArgHasBits { call, idx, mask } => {
                    path::call_arg_guard(self, call, idx, mask, true)
                }
                Guard::CallArgLacksBits { call, idx, mask } => {
                    path::call_arg_guard(self, call, idx, mask, false)
                }
                _ => {}
            }
        }
        if self.program.target_is_test_run() {
            self.copy_test_context();
            // The copy's calls clobbered r1.
            self.set_r1(None);
        }
    }

    /// Emits one guard that needs no scratch buffer (the sockaddr and
    /// socket guards read into it, and the guards on one call's arguments
    /// read the ABI from it: they run after the lookup).
    fn guard(&mut self, guard: Guard, syscall: &mut bool) {
        let exit = self.exit_allow;
        let asm = &mut self.asm;
        match guard {
            Guard::InetSockaddr { .. }
            | Guard::InetSock(_)
            | Guard::CallArgHasBits { .. }
            | Guard::CallArgLacksBits { .. } => {}
            Guard::SyscallArgAnyBits { idx, mask } => {
                path::syscall_arg(self, idx, Reg::R1, true);
                fields::apply_mask_to(&mut self.asm, Reg::R1, mask);
                self.asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, exit);
            }
            Guard::SyscallArgOneOf { idx, values } => {
                path::syscall_arg(self, idx, Reg::R1, true);
                let asm = &mut self.asm;
                let ours = asm.label("listed_value");
                asm.mov32(Reg::R1, Reg::R1);
                for value in values {
                    jump_cmp_u64(asm, Jmp::IfEqual, Reg::R1, *value, ours);
                }
                asm.goto(exit);
                asm.bind(ours);
            }
            Guard::SyscallUserAnyBits { idx, mask } => {
                path::syscall_arg(self, idx, Reg::R3, true);
                let asm = &mut self.asm;
                asm.note("guard: flags in the caller's memory");
                asm.store_imm(Size::DoubleWord, Reg::R10, FP_SPILL, 0);
                asm.mov(Reg::R1, Reg::R10);
                asm.alu_imm(Alu::Add, Reg::R1, i32::from(FP_SPILL));
                asm.mov_imm(Reg::R2, 8);
                asm.call(Helper::ProbeReadUser);
                asm.load(Size::DoubleWord, Reg::R1, Reg::R10, FP_SPILL);
                fields::apply_mask_to(asm, Reg::R1, mask);
                asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, exit);
            }
            Guard::ArgEquals { arg, value } => {
                asm.note("guard: not this hook's event");
                asm.load(Size::DoubleWord, Reg::R1, Reg::R6, i16::from(arg) * 8);
                jump_if_ne_u64(asm, Reg::R1, value, exit);
            }
            Guard::ArgHasBits { arg, mask } => {
                asm.note("guard: not this hook's event");
                asm.load(Size::DoubleWord, Reg::R1, Reg::R6, i16::from(arg) * 8);
                jump_unless_bits(asm, mask, exit);
            }
            Guard::NonNull { arg, path } => {
                asm.note("guard: not this hook's event");
                asm.load(Size::DoubleWord, Reg::R1, Reg::R6, i16::from(arg) * 8);
                for member in path {
                    asm.load_member(Size::DoubleWord, Reg::R1, Reg::R1, *member);
                }
                asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, exit);
            }
            Guard::MemberLacksBits { arg, path, mask } => {
                asm.note("guard: not this hook's event");
                asm.load(Size::DoubleWord, Reg::R1, Reg::R6, i16::from(arg) * 8);
                for member in path {
                    asm.load_member(fields::load_size(*member), Reg::R1, Reg::R1, *member);
                }
                jump_if_any_bits(asm, mask, exit);
            }
            Guard::Syscall(calls) => {
                *syscall = true;
                path::syscall_guard(asm, calls, exit);
            }
            Guard::SyscallArgHasBits { idx, mask } => {
                path::syscall_arg(self, idx, Reg::R1, true);
                jump_unless_bits(&mut self.asm, mask, exit);
            }
            Guard::SyscallArgLacksBits { idx, mask } => {
                path::syscall_arg(self, idx, Reg::R1, true);
                jump_if_any_bits(&mut self.asm, mask, exit);
            }
            Guard::Succeeded => {
                asm.note("guard: the system call failed");
                asm.load(Size::DoubleWord, Reg::R1, Reg::R6, 8);
                asm.jump_imm(Jmp::IfSignedLessThan, Reg::R1, 0, exit);
            }
        }
    }

    /// Records that a jump to `target` leaves from the current point.
    fn jump_edge(&mut self, target: Label) {
        if let Some(here) = &self.here {
            self.at_label
                .entry(target)
                .and_modify(|at| at.merge(here))
                .or_insert_with(|| here.clone());
        }
    }

    /// `goto target`; what follows is unreachable until a label is bound.
    fn goto(&mut self, target: Label) {
        self.asm.goto(target);
        self.jump_edge(target);
        self.here = None;
    }

    /// Binds `label`, merging the facts of the jumps to it.
    fn bind(&mut self, label: Label) {
        self.asm.bind(label);
        let at = self.at_label.remove(&label);
        self.here = flow::merged(self.here.take(), at.as_ref());
    }

    /// Loads `field` for a test unless every path to here has.
    fn need(&mut self, field: FieldId) {
        self.load_unless_sure(field, false);
    }

    /// Loads a captured `field` at a match unless every path to here has:
    /// a second load on some path is allowed here (one rule match per
    /// event, and each trace's).
    fn capture(&mut self, field: FieldId) {
        self.load_unless_sure(field, true);
    }

    fn load_unless_sure(&mut self, field: FieldId, at_match: bool) {
        let here = self.here.get_or_insert_with(flow::Loaded::default);
        if here.sure.contains(&field) {
            return;
        }
        if here.maybe.contains(&field) && !at_match {
            self.conflicts.insert(field);
        }
        here.sure.insert(field);
        here.maybe.insert(field);
        if let Some(FieldSource::Container(part)) = kernel_source(self.program, field) {
            // One walk of the cgroup names loads every container field
            // of the program that is not loaded yet.
            let mut group = Vec::new();
            for (other, _) in &self.env.layout.slots {
                let Some(FieldSource::Container(other_part)) = kernel_source(self.program, *other)
                else {
                    continue;
                };
                if *other == field || here.sure.contains(other) {
                    continue;
                }
                if here.maybe.contains(other) && !at_match {
                    self.conflicts.insert(*other);
                }
                here.sure.insert(*other);
                here.maybe.insert(*other);
                group.push((*other, other_part));
            }
            group.push((field, part));
            container::load(self, &group);
            self.set_r1(fields::r1_after_load(field));
        } else {
            self.len_in_r1 = None;
            fields::load(self, field);
            let r1 = match self.len_in_r1.take() {
                Some(len) if len == field => Some(flow::R1::Len(field)),
                _ => fields::r1_after_load(field),
            };
            self.set_r1(r1);
        }
    }

    /// Whether the argv block was read on every path to here; from here on
    /// it is (the caller reads it when it was not).
    fn argv_read(&mut self) -> bool {
        let here = self.here.get_or_insert_with(flow::Loaded::default);
        std::mem::replace(&mut here.argv, true)
    }

    /// The least argc a test of `exec.argc` has shown on every path to
    /// here (0: none).
    fn argc_at_least(&self) -> u64 {
        self.here.as_ref().map_or(0, |h| h.argc_at_least)
    }

    /// The ancestor whose task pointer [`FP_ANCESTOR`] holds on every path
    /// to here.
    fn ancestor_spilled(&self) -> Option<u8> {
        self.here.as_ref().and_then(|h| h.ancestor)
    }

    /// Records that [`FP_ANCESTOR`] holds ancestor `n` from here on.
    fn set_ancestor_spilled(&mut self, n: u8) {
        if let Some(here) = &mut self.here {
            here.ancestor = Some(n);
        }
    }

    /// Whether r1 holds `what` on every path to here.
    fn r1_holds(&self, what: flow::R1) -> bool {
        self.here.as_ref().and_then(|h| h.r1) == Some(what)
    }

    /// Records what r1 holds from here on (`None`: something unknown).
    fn set_r1(&mut self, what: Option<flow::R1>) {
        if let Some(here) = &mut self.here {
            here.r1 = what;
        }
    }

    /// Test run: the program's first argument points to the test context
    /// in the runner's memory; copy it into the per-CPU test-context map
    /// and point r6 there, where every field is read from. Without it,
    /// return [`TEST_RUN_NO_CONTEXT`].
    fn copy_test_context(&mut self) {
        let map = self
            .env
            .maps
            .test_context
            .expect("test-run builds have the test-context map");
        let asm = &mut self.asm;
        let failed = asm.label("no_test_context");
        let copied = asm.label("test_context");
        asm.note("test run: copy the test context (args[0] points to it)");
        asm.store_imm(Size::Word, Reg::R10, FP_KEY, 0);
        asm.load_map(Reg::R1, map);
        asm.mov(Reg::R2, Reg::R10);
        asm.alu_imm(Alu::Add, Reg::R2, i32::from(FP_KEY));
        asm.call(Helper::MapLookupElem);
        asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, failed);
        asm.load(Size::DoubleWord, Reg::R3, Reg::R6, 0);
        asm.mov(Reg::R6, Reg::R0);
        asm.mov(Reg::R1, Reg::R0);
        asm.mov_imm(Reg::R2, crate::ir::TestContext::len() as i32);
        asm.call(Helper::ProbeReadUser);
        asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, copied);
        asm.bind(failed);
        asm.mov_imm(Reg::R0, TEST_RUN_NO_CONTEXT as i32);
        asm.exit();
        asm.bind(copied);
    }

    /// Attributes the instructions from here on to `rule` (a rule id).
    fn set_rule(&mut self, rule: Option<u32>) {
        self.rule = rule;
        self.asm.origin(Origin { rule, test: None });
    }

    fn step_header(&mut self, step: &Step) {
        self.asm.island_point();
        self.set_rule(Some(step.rule_id));
        let kind = if step.action == Action::Trace {
            "trace"
        } else {
            "rule"
        };
        self.asm.line(step.line);
        self.asm
            .note(format!("{kind} {} (line {})", step.name, step.line));
        for field in step.needs() {
            if self.eager.contains(&field) {
                self.need(field);
            }
        }
    }

    fn trace(&mut self, step: &Step) {
        self.step_header(step);
        self.fail_closed_match = crate::interp::fails_closed_to_match(step.action);
        let skip = self.asm.label(format!("{}.end", step.name));
        self.branch(&step.cond, skip, false, true);
        for field in &step.captures {
            self.capture(*field);
        }
        self.count(CounterKey::Const(step.rule_id));
        self.emit_event(
            Some(step.rule_id),
            Operand::Const(u32::from(Verdict::Trace.code())),
            false,
        );
        self.set_r1(None);
        self.bind(skip);
    }

    /// Rule `k` of the plan from its term `start` on (past terms a dispatch
    /// has decided): the labels before each of its terms and of its match,
    /// and where each failed term continues. A part that nothing reaches
    /// (earlier failures skip past it) is not emitted: the verifier rejects
    /// unreachable instructions.
    fn rule(&mut self, k: usize, plan: &flow::RulePlan, start: usize, decided: Label) {
        let step = &self.program.rules[k];
        self.fail_closed_match = crate::interp::fails_closed_to_match(step.action);
        let (entries, fail) = (&plan.entries[k], &plan.fail[k]);
        let terms = step.conjuncts();
        self.bind(entries[start]);
        if start == 0 && self.here.is_some() {
            self.step_header(step);
        } else {
            self.asm.island_point();
            self.set_rule(Some(step.rule_id));
            if start > 0 {
                self.asm.line(step.line);
                self.asm.note(format!(
                    "rule {} (line {}), after the dispatch",
                    step.name, step.line
                ));
            }
        }
        for (i, term) in terms.iter().enumerate().skip(start) {
            if i > start {
                self.bind(entries[i]);
            }
            if self.here.is_some() {
                self.branch(term, fail[i], false, true);
            }
        }
        if terms.len() > start {
            self.bind(entries[terms.len()]);
        }
        if self.here.is_none() {
            return;
        }
        self.matched(step, decided);
    }

    /// A rule's match: its id and verdict, its captures, then the decided
    /// block.
    fn matched(&mut self, step: &Step, decided: Label) {
        self.asm
            .note(format!("{} matched: {}", step.name, step.action.keyword()));
        self.asm
            .store_imm(Size::Word, Reg::R7, header::RULE_ID, step.rule_id as i32);
        self.verdict_and_captures(step, decided);
    }

    /// A match past its rule id: the verdict in r9, the step's captures
    /// (or the block that loads them for every rule that has them), then
    /// the decided block.
    fn verdict_and_captures(&mut self, step: &Step, decided: Label) {
        self.asm.mov_imm(Reg::R9, action_code(step.action));
        if self.env.role == abi::ProgramRole::Refuse {
            // Nothing is reported: nothing to capture.
            self.goto(decided);
            return;
        }
        let sure = |f: &FieldId| self.here.as_ref().is_some_and(|h| h.sure.contains(f));
        let shared = (!step.captures.iter().all(sure))
            .then(|| {
                self.capture_blocks
                    .iter()
                    .find(|(fields, _)| *fields == step.captures)
                    .map(|(_, label)| *label)
            })
            .flatten();
        match shared {
            Some(block) => self.goto(block),
            None => {
                for field in &step.captures {
                    self.capture(*field);
                }
                self.goto(decided);
            }
        }
    }

    /// A binary search on the dispatch's field: each value of the run jumps
    /// past the first term of the first rule that requires it, any other
    /// to the dispatch's miss label. r1 holds the value throughout.
    ///
    /// The rules of each block of values follow the block, so the search's
    /// jumps stay short whatever the run's size.
    fn dispatch(&mut self, dispatch: &flow::Dispatch, plan: &flow::RulePlan, decided: Label) {
        if let Some(d) = dispatch.str_dispatch {
            let def = &self.program.str_dispatches[d];
            return self.str_dispatch(dispatch, def, plan, decided);
        }
        self.asm.note(format!(
            "dispatch: {} rules on {} by binary search",
            dispatch.end - dispatch.start,
            dispatch.field.spec().name
        ));
        self.need(dispatch.field);
        let r1 = flow::R1::Value(dispatch.field);
        if !self.r1_holds(r1) {
            let slot = self.env.layout.slot(dispatch.field);
            self.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, slot);
            self.set_r1(Some(r1));
        }
        self.search(&dispatch.values, dispatch.miss, plan, decided);
    }

    /// A string dispatch: one hash lookup of the field's bytes gives the
    /// group index of the literal it equals, searched as an int dispatch's
    /// value. A value longer than the longest literal, or none of them,
    /// continues at the dispatch's miss label.
    ///
    /// On a resolved path the first terms also hold for the file at the
    /// literal's path, and an unresolved path is undecided (refusing rules
    /// match, allowing rules do not): the lookup decides alone when none of
    /// the run's identity bits is set but the bit of the found literal's
    /// own file. Otherwise (the file is also another literal's, or it is
    /// named only by another name, or the path is unresolved) the run's
    /// rules are tested in order by [`Emitter::dispatch_fallback`].
    fn str_dispatch(
        &mut self,
        dispatch: &flow::Dispatch,
        def: &crate::ir::StrDispatch,
        plan: &flow::RulePlan,
        decided: Label,
    ) {
        if let Some(shared) = &def.shared {
            return self.shared_dispatch(dispatch, def, shared.ranked, decided);
        }
        let field = dispatch.field;
        let resolved = self.str_run_start(dispatch, "by one hash lookup");
        // The identity bitmap words the run's files' bits are in, and
        // their bits.
        let mut words: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
        for set in def.identities.iter().flatten() {
            *words.entry(set.0 / 64).or_default() |= 1u64 << (set.0 % 64);
        }
        let identity_at = if words.is_empty() {
            None
        } else {
            Some(
                self.env
                    .layout
                    .identity_sets(field)
                    .expect("internal error: identity tests without identity sets"),
            )
        };
        let no_string = self.asm.label("dispatch.no_string");
        let fallback = self.asm.label("dispatch.fallback");
        let unresolved = self.asm.label("dispatch.unresolved");
        self.str_lookup(
            def,
            resolved.then_some((unresolved, "the run in order")),
            no_string,
            "the literal's group",
        );
        self.asm.load(Size::Word, Reg::R1, Reg::R0, 0);
        let words_total = self.env.layout.identity_words;
        if let Some(at) = identity_at {
            // The last identity word counts the file's bits: none, or only
            // the found literal's own file's, and the lookup decides.
            let count = (at + 8 * (words_total - 1)) as i16;
            let plain = self.asm.label("dispatch.by_name");
            self.asm.note(
                "the file's identity bits: none, or the found literal's alone (else in order)",
            );
            self.asm.load(Size::DoubleWord, Reg::R2, Reg::R7, count);
            self.asm.jump_imm(Jmp::IfEqual, Reg::R2, 0, plain);
            self.asm.store(
                Size::DoubleWord,
                Reg::R7,
                self.env.layout.dispatch as i16,
                Reg::R1,
            );
            self.asm.jump_imm(Jmp::IfNotEqual, Reg::R2, 1, fallback);
            self.jump_edge(fallback);
            self.asm.load(Size::Word, Reg::R3, Reg::R0, 4);
            self.asm.jump_imm(
                Jmp::IfGreaterOrEqual,
                Reg::R3,
                (words_total - 1) as i32,
                fallback,
            );
            self.jump_edge(fallback);
            self.asm.alu_imm(Alu::Lhs, Reg::R3, 3);
            self.asm.mov(Reg::R2, Reg::R7);
            self.asm.alu(Alu::Add, Reg::R2, Reg::R3);
            self.asm.load(Size::DoubleWord, Reg::R2, Reg::R2, at as i16);
            self.asm.load(Size::DoubleWord, Reg::R4, Reg::R0, 8);
            self.asm.alu(Alu::And, Reg::R2, Reg::R4);
            self.asm.jump_imm(Jmp::IfEqual, Reg::R2, 0, fallback);
            self.jump_edge(fallback);
            self.asm.bind(plain);
        }
        self.search(&dispatch.values, dispatch.miss, plan, decided);
        self.set_rule(Some(self.program.rules[dispatch.start].rule_id));
        self.bind(no_string);
        if self.here.is_some() {
            if let Some(at) = identity_at {
                self.asm
                    .note("no literal: in order if the file is one of the run's");
                let count = (at + 8 * (words_total - 1)) as i16;
                self.asm.load(Size::DoubleWord, Reg::R2, Reg::R7, count);
                self.asm.jump_imm(Jmp::IfEqual, Reg::R2, 0, dispatch.miss);
                self.jump_edge(dispatch.miss);
                self.asm.store_imm(
                    Size::DoubleWord,
                    Reg::R7,
                    self.env.layout.dispatch as i16,
                    -1,
                );
                for (&word, &mask) in &words {
                    self.asm
                        .load(Size::DoubleWord, Reg::R2, Reg::R7, (at + 8 * word) as i16);
                    and_mask(&mut self.asm, Reg::R2, mask);
                    self.asm.jump_imm(Jmp::IfNotEqual, Reg::R2, 0, fallback);
                    self.jump_edge(fallback);
                }
            }
            self.goto(dispatch.miss);
        }
        if resolved {
            self.bind(unresolved);
            if self.here.is_some() {
                self.asm.store_imm(
                    Size::DoubleWord,
                    Reg::R7,
                    self.env.layout.dispatch as i16,
                    -2,
                );
                self.goto(fallback);
            }
        }
        self.bind(fallback);
        if self.here.is_some() {
            self.dispatch_fallback(dispatch, resolved, decided);
        }
    }

    /// The start of a string dispatch: its note (`how` it dispatches), its
    /// field loaded; whether the field is one whose `==` an unresolved
    /// value leaves undecided (a resolved path).
    fn str_run_start(&mut self, dispatch: &flow::Dispatch, how: &str) -> bool {
        let field = dispatch.field;
        self.asm.note(format!(
            "dispatch: {} rules on {} {how}",
            dispatch.end - dispatch.start,
            field.spec().name
        ));
        self.need(field);
        let program = self.program;
        let eq_leaf = match program.rules[dispatch.start].conjuncts().first() {
            Some(Cond::Leaf(leaf)) => leaf,
            Some(Cond::Or(items)) => match &items[0] {
                Cond::Leaf(leaf) => leaf,
                _ => panic!("internal error: a string dispatch without its equality"),
            },
            _ => panic!("internal error: a string dispatch without its equality"),
        };
        self.undecided_when(eq_leaf).is_some()
    }

    /// The hash lookup of a string dispatch's field in `def`'s map,
    /// leaving the value's address in r0: a value as long as a key or
    /// longer, or none in the map, continues at `none`; with `unresolved`,
    /// an unresolved path (length -1) continues at its label (its note
    /// saying what happens there). `what` names the value.
    fn str_lookup(
        &mut self,
        def: &crate::ir::StrDispatch,
        unresolved: Option<(Label, &str)>,
        none: Label,
        what: &str,
    ) {
        let crate::ir::SetKind::StrHash { key_len } = self.env.sets[def.set.0 as usize].kind else {
            panic!("internal error: a string dispatch on a non-string set");
        };
        let field = def.field;
        if !leaves::without_len(self, field) {
            let len_in_r1 = flow::R1::Len(field);
            if !self.r1_holds(len_in_r1) {
                let len = self.env.layout.len_slot(field);
                self.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, len);
                self.set_r1(Some(len_in_r1));
            }
            if let Some((to, then)) = unresolved {
                self.asm
                    .note(format!("{} unresolved: {then}", field.spec().name));
                self.asm.jump_imm(Jmp::IfEqual, Reg::R1, -1, to);
                self.jump_edge(to);
            }
            self.asm
                .note("longer than the longest literal: none of them");
            self.asm
                .jump_imm(Jmp::IfGreaterOrEqual, Reg::R1, key_len as i32, none);
            self.jump_edge(none);
        }
        let map = self.env.maps.set(def.set);
        self.asm.note(format!(
            "{what}: {} strings, keys of {key_len} bytes",
            def.literals.len()
        ));
        self.asm.load_map(Reg::R1, map);
        self.asm.mov(Reg::R2, Reg::R7);
        self.asm
            .alu_imm(Alu::Add, Reg::R2, i32::from(self.env.layout.slot(field)));
        self.asm.call(Helper::MapLookupElem);
        self.set_r1(None);
        self.asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, none);
        self.jump_edge(none);
    }

    /// A shared run's dispatch (see [`crate::ir::SharedRun`]): the rule id
    /// that decides is the lower of the one the hash lookup of the field's
    /// bytes gives and, on a resolved path whose file one of the run's
    /// literals names, the rank the identity map holds for the file (the
    /// first rule, in order, whose literal leads to it); on an unresolved
    /// path, a rule that fails closed matches from the run's first rule on.
    /// Its later terms are tested once, for whichever rule that is, and
    /// the rule id goes into the record from the scratch map's dispatch
    /// slot (where the verifier does not track it: the body is verified
    /// once). No rule: the dispatch's miss label.
    fn shared_dispatch(
        &mut self,
        dispatch: &flow::Dispatch,
        def: &crate::ir::StrDispatch,
        ranked: Option<crate::ir::IdentitySetId>,
        decided: Label,
    ) {
        let field = dispatch.field;
        let step = &self.program.rules[dispatch.start];
        let resolved = self.str_run_start(dispatch, "sharing one body, by one hash lookup");
        let rule_slot = self.env.layout.dispatch as i16;
        let by_file = self.asm.label("shared.by_file");
        let pick = self.asm.label("shared.pick");
        let body = self.asm.label("shared.body");
        let unresolved = self.asm.label("shared.unresolved");
        self.asm.note("no rule yet (u64::MAX)");
        self.asm.store_imm(Size::DoubleWord, Reg::R7, rule_slot, -1);
        // Undecided: a rule that fails closed matches; one that does not
        // matches by the file only.
        let undecided = if crate::interp::fails_closed_to_match(step.action) {
            (unresolved, "the first rule matches")
        } else {
            (by_file, "by the file only")
        };
        self.str_lookup(
            def,
            resolved.then_some(undecided),
            by_file,
            "the first rule with the literal",
        );
        self.asm.load(Size::Word, Reg::R1, Reg::R0, 0);
        self.asm
            .store(Size::DoubleWord, Reg::R7, rule_slot, Reg::R1);
        self.goto(by_file);
        self.bind(unresolved);
        if self.here.is_some() {
            self.asm
                .note("undecided: the run's first rule matches (it fails closed)");
            self.asm
                .store_imm(Size::DoubleWord, Reg::R7, rule_slot, step.rule_id as i32);
            self.goto(body);
        }
        self.bind(by_file);
        if self.here.is_some() {
            if let Some(set) = ranked {
                let at = self
                    .env
                    .layout
                    .identity_sets(field)
                    .expect("internal error: identity tests without identity sets");
                let word = self.env.layout.identity_rank_words[set.0 as usize]
                    .expect("internal error: a shared run's identity set is not ranked");
                self.asm.note(
                    "a file one of the literals names: the first rule whose literal leads to it",
                );
                self.asm.load(
                    Size::DoubleWord,
                    Reg::R2,
                    Reg::R7,
                    (at + 8 * (set.0 / 64)) as i16,
                );
                and_mask(&mut self.asm, Reg::R2, 1u64 << (set.0 % 64));
                self.asm.jump_imm(Jmp::IfEqual, Reg::R2, 0, pick);
                self.jump_edge(pick);
                self.asm
                    .load(Size::DoubleWord, Reg::R2, Reg::R7, (at + 8 * word) as i16);
                self.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, rule_slot);
                self.asm
                    .jump_reg(Jmp::IfGreaterOrEqual, Reg::R2, Reg::R1, pick);
                self.jump_edge(pick);
                self.asm
                    .store(Size::DoubleWord, Reg::R7, rule_slot, Reg::R2);
            }
            self.goto(pick);
        }
        self.bind(pick);
        if self.here.is_some() {
            self.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, rule_slot);
            self.set_r1(None);
            self.asm.jump_imm(Jmp::IfEqual, Reg::R1, -1, dispatch.miss);
            self.jump_edge(dispatch.miss);
            self.goto(body);
        }
        self.bind(body);
        if self.here.is_none() {
            return;
        }
        self.asm.island_point();
        self.set_rule(Some(step.rule_id));
        self.asm.line(step.line);
        self.asm
            .note("the run's later terms, once for whichever rule decides");
        self.fail_closed_match = crate::interp::fails_closed_to_match(step.action);
        for term in &step.conjuncts()[1..] {
            if self.here.is_some() {
                self.branch(term, dispatch.miss, false, true);
            }
        }
        if self.here.is_none() {
            return;
        }
        self.asm.note(format!(
            "a rule of the run matched: {}, its id from the dispatch",
            step.action.keyword()
        ));
        self.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, rule_slot);
        self.set_r1(None);
        self.asm
            .store(Size::Word, Reg::R7, header::RULE_ID, Reg::R1);
        self.verdict_and_captures(step, decided);
    }

    /// The run of a string dispatch in order, for the events its lookup
    /// does not decide alone: rule `k`'s first term holds when the
    /// dispatch found its literal (the group index in the scratch map's [`Layout::dispatch`] slot), when
    /// the path is unresolved and the rule refuses (-2 there), or when the
    /// file is the one at its literal's path (its identity bit). A failed
    /// first term continues at the next rule of the run by a jump (no
    /// fall-through continues the run: the verifier's pending branches do
    /// not grow with it); a failed later term skips the rules that require
    /// it too.
    fn dispatch_fallback(&mut self, dispatch: &flow::Dispatch, resolved: bool, decided: Label) {
        let mut group_of = HashMap::new();
        for (value, rules) in &dispatch.values {
            for &k in rules {
                group_of.insert(k, *value);
            }
        }
        let run = self.in_order_run(
            (dispatch.start..dispatch.end).collect(),
            "dispatch.in_order",
            dispatch.miss,
        );
        for (i, &k) in run.rules.iter().enumerate() {
            if !self.open_in_order(&run, i, "in order after the dispatch") {
                continue;
            }
            let step = &self.program.rules[k];
            let fail = run.next[i];
            let body = self.asm.label("dispatch.body");
            let not_found = self.asm.label("dispatch.not_found");
            self.asm.load(
                Size::DoubleWord,
                Reg::R1,
                Reg::R7,
                self.env.layout.dispatch as i16,
            );
            self.set_r1(None);
            jump_cmp_u64(
                &mut self.asm,
                Jmp::IfNotEqual,
                Reg::R1,
                group_of[&k],
                not_found,
            );
            self.jump_edge(not_found);
            self.goto(body);
            self.bind(not_found);
            if resolved && crate::interp::fails_closed_to_match(step.action) {
                let resolved_path = self.asm.label("dispatch.resolved");
                self.asm
                    .jump_imm(Jmp::IfNotEqual, Reg::R1, -2, resolved_path);
                self.jump_edge(resolved_path);
                self.goto(body);
                self.bind(resolved_path);
            }
            match crate::ir::lower::str_eq_term(step).and_then(|(_, _, id)| id) {
                Some(set) => {
                    let at = self
                        .env
                        .layout
                        .identity_sets(dispatch.field)
                        .expect("internal error: identity tests without identity sets");
                    self.asm.load(
                        Size::DoubleWord,
                        Reg::R1,
                        Reg::R7,
                        (at + 8 * (set.0 / 64)) as i16,
                    );
                    and_mask(&mut self.asm, Reg::R1, 1u64 << (set.0 % 64));
                    self.asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, fail);
                    self.jump_edge(fail);
                }
                None => self.goto(fail),
            }
            self.bind(body);
            if self.here.is_some() {
                self.finish_in_order(&run, i, decided);
            }
        }
    }

    /// A prefix dispatch (see [`crate::ir::PrefixDispatch`]): one LPM trie
    /// lookup of the field's first bytes gives the group index of the
    /// longest of the run's literals the value starts with; a binary search
    /// on it reaches that group's rules (those whose literal is a prefix of
    /// it, in order), each tested past its first test, which holds for
    /// them and for no other rule of the run. No literal: past the run. An
    /// unresolved path (its tests undecided) tests, in order, the run's
    /// rules that fail closed to a match.
    ///
    /// Each group's rules follow the search block that jumps to them, so
    /// its jumps stay short; a failed test continues at the group's next
    /// rule by a jump, so the verifier's pending branches do not grow with
    /// the run.
    fn prefix_dispatch(&mut self, p: usize, plan: &flow::RulePlan, decided: Label) {
        let def = self.program.prefix_dispatches[p].clone();
        let (start, end, field) = (def.start, def.end, def.field);
        let miss = if end < self.program.rules.len() {
            plan.entries[end][0]
        } else {
            self.exit_allow
        };
        self.bind(plan.entries[start][0]);
        if self.here.is_none() {
            return;
        }
        self.step_header(&self.program.rules[start]);
        // The eager fields of the whole run.
        for rule in &self.program.rules[start..end] {
            for f in rule.needs() {
                if self.eager.contains(&f) {
                    self.need(f);
                }
            }
        }
        self.asm.note(format!(
            "prefix dispatch: {} rules on {} by one LPM trie lookup",
            end - start,
            field.spec().name
        ));
        self.need(field);
        let crate::ir::SetKind::StrPrefix { data_len } = self.env.sets[def.set.0 as usize].kind
        else {
            panic!("internal error: a prefix dispatch on a non-prefix set");
        };
        let slot = self.env.layout.slot(field);
        let unresolved = self.asm.label("prefix_dispatch.unresolved");
        let mut has_unresolved = false;
        // Where the LPM key { u32 prefixlen; data } is: in place before a
        // prefix run's field, in the reversed key area for a suffix run.
        // (Or there, past the run's common prefix.)
        let common = def.common;
        let key = if def.suffix || common > 0 {
            self.env.layout.reversed as i16 - 4
        } else {
            slot - 4
        };
        if def.suffix {
            assert!(
                !leaves::without_len(self, field),
                "internal error: a suffix dispatch on a string without its length"
            );
            let crate::check::hooks::FieldType::Str { max } = field.spec().ty else {
                panic!("internal error: a suffix dispatch on a non-string field");
            };
            let what = flow::R1::Len(field);
            if !self.r1_holds(what) {
                let len = self.env.layout.len_slot(field);
                self.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, len);
                self.set_r1(Some(what));
            }
            let Some(Cond::Leaf(leaf)) = self.program.rules[start].conjuncts().first().cloned()
            else {
                panic!("internal error: a suffix dispatch without its test");
            };
            // Past its buffer, the value is undecided on a resolved path
            // (as `endswith` alone), and fails otherwise; the bound is also
            // the one the verifier needs for the variable offsets below.
            let bound = u64::from(max) - 1;
            if let Some(undecided) = self.undecided_when(&leaf) {
                debug_assert_eq!(undecided, bound);
                has_unresolved = true;
                self.asm.note(format!(
                    "{} longer than its buffer (or unresolved): the refusing rules in order",
                    field.spec().name
                ));
                jump_cmp_u64(&mut self.asm, Jmp::IfGreater, Reg::R1, bound, unresolved);
                self.jump_edge(unresolved);
            } else {
                jump_cmp_u64(&mut self.asm, Jmp::IfGreater, Reg::R1, bound, miss);
                self.jump_edge(miss);
            }
            if common > 0 {
                self.suffix_common(&def, slot, miss);
            }
            suffix_key(
                &mut self.asm,
                slot,
                self.env.layout.reversed as i16,
                data_len,
            );
            self.set_r1(None);
        } else if leaves::without_len(self, field) {
            if common > 0 {
                self.prefix_common(&def, slot, miss);
            }
            self.asm
                .note("NUL-padded: the literal's bytes decide (prefixlen = data_len * 8)");
            self.asm
                .store_imm(Size::Word, Reg::R7, key, (data_len * 8) as i32);
        } else {
            let what = flow::R1::Len(field);
            if !self.r1_holds(what) {
                let len = self.env.layout.len_slot(field);
                self.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, len);
                self.set_r1(Some(what));
            }
            let Some(Cond::Leaf(leaf)) = self.program.rules[start].conjuncts().first().cloned()
            else {
                panic!("internal error: a prefix dispatch without its test");
            };
            if self.undecided_when(&leaf).is_some() {
                has_unresolved = true;
                self.asm.note(format!(
                    "{} unresolved: the refusing rules in order",
                    field.spec().name
                ));
                self.asm.jump_imm(Jmp::IfEqual, Reg::R1, -1, unresolved);
                self.jump_edge(unresolved);
            }
            if common > 0 {
                self.asm
                    .note("shorter than the common prefix: past the run");
                self.asm
                    .jump_imm(Jmp::IfLessThan, Reg::R1, common as i32, miss);
                self.jump_edge(miss);
                self.prefix_common(&def, slot, miss);
            }
            let short = self.asm.label("short");
            let limit = data_len as i32 + common as i32;
            self.asm
                .jump_imm(Jmp::IfLessThanOrEqual, Reg::R1, limit, short);
            self.asm.mov_imm(Reg::R1, limit);
            self.asm.bind(short);
            if common > 0 {
                self.asm
                    .note("LPM key { u32 prefixlen = (min(len, longest) - common) * 8; the rest }");
                self.asm.alu_imm(Alu::Add, Reg::R1, -(common as i32));
                self.set_r1(None);
            } else {
                self.asm
                    .note("LPM key { u32 prefixlen = min(len, data_len) * 8; data } in place");
            }
            self.asm.alu_imm(Alu::Lhs, Reg::R1, 3);
            self.asm.store(Size::Word, Reg::R7, key, Reg::R1);
        }
        if common > 0 && !def.suffix {
            // The bytes past the common prefix, copied to the key area (the
            // field's own bytes stay as they are for the rules' later
            // tests and records); past the value's length, masked by
            // prefixlen.
            let at = self.env.layout.reversed as i16;
            for k in 0..data_len.div_ceil(8) as i16 {
                self.asm.load(
                    Size::DoubleWord,
                    Reg::R3,
                    Reg::R7,
                    slot + common as i16 + 8 * k,
                );
                self.asm
                    .store(Size::DoubleWord, Reg::R7, at + 8 * k, Reg::R3);
            }
        }
        let map = self.env.maps.set(def.set);
        self.asm.note(format!(
            "the longest literal's group: {} prefixes, {} bytes at most",
            def.literals.len(),
            data_len
        ));
        self.asm.load_map(Reg::R1, map);
        self.asm.mov(Reg::R2, Reg::R7);
        self.asm.alu_imm(Alu::Add, Reg::R2, i32::from(key));
        self.asm.call(Helper::MapLookupElem);
        self.set_r1(None);
        self.asm
            .note("no literal the value starts (ends) with: past the run");
        self.asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, miss);
        self.jump_edge(miss);
        self.asm.load(Size::Word, Reg::R1, Reg::R0, 0);
        let groups: Vec<(u64, Vec<usize>)> = def
            .groups
            .iter()
            .enumerate()
            .map(|(g, rules)| {
                (
                    g as u64,
                    rules.iter().map(|&r| start + r as usize).collect(),
                )
            })
            .collect();
        self.prefix_search(&groups, miss, decided);
        if has_unresolved {
            self.bind(unresolved);
            if self.here.is_some() {
                let refusing: Vec<usize> = (start..end)
                    .filter(|&k| crate::interp::fails_closed_to_match(self.program.rules[k].action))
                    .collect();
                self.asm.note(format!(
                    "{} unresolved: the run's refusing rules match their first test",
                    field.spec().name
                ));
                self.prefix_group(&refusing, miss, decided);
            }
        }
    }

    /// `if the field's first bytes are not the run's common prefix goto
    /// miss` (every literal starts with them). Keeps r1.
    fn prefix_common(&mut self, def: &crate::ir::PrefixDispatch, slot: i16, miss: Label) {
        let common = &def.literals[0][..def.common];
        self.asm.note(format!(
            "the {} bytes every literal starts with, inline: past the run unless they are the value's",
            common.len()
        ));
        leaves::bytes_eq(&mut self.asm, Reg::R7, slot, common, miss);
        self.jump_edge(miss);
    }

    /// `if the value (of length r1, at most its buffer less its NUL) does
    /// not end with the run's common suffix goto miss` (every literal ends
    /// with it); then r1 is the length before it, what the key reverses.
    fn suffix_common(&mut self, def: &crate::ir::PrefixDispatch, slot: i16, miss: Label) {
        let common: Vec<u8> = def.literals[0][..def.common]
            .iter()
            .rev()
            .copied()
            .collect();
        let n = common.len() as i32;
        self.asm.note(format!(
            "the {n} bytes every literal ends with, inline: past the run unless the value ends with them"
        ));
        self.asm.jump_imm(Jmp::IfLessThan, Reg::R1, n, miss);
        self.jump_edge(miss);
        self.asm.alu_imm(Alu::Add, Reg::R1, -n);
        self.set_r1(None);
        self.asm.mov(Reg::R2, Reg::R7);
        self.asm.alu(Alu::Add, Reg::R2, Reg::R1);
        leaves::bytes_eq(&mut self.asm, Reg::R2, slot, &common, miss);
        self.jump_edge(miss);
    }

    /// The binary search of a prefix dispatch on r1 (a group index), each
    /// block of at most four groups followed by their rules.
    fn prefix_search(&mut self, groups: &[(u64, Vec<usize>)], miss: Label, decided: Label) {
        if groups.len() <= 4 {
            let labels: Vec<Label> = groups
                .iter()
                .map(|_| self.asm.label("prefix_dispatch.group"))
                .collect();
            for ((g, _), label) in groups.iter().zip(&labels) {
                jump_cmp_u64(&mut self.asm, Jmp::IfEqual, Reg::R1, *g, *label);
                self.jump_edge(*label);
            }
            self.goto(miss);
            for ((_, rules), label) in groups.iter().zip(labels) {
                self.bind(label);
                if self.here.is_some() {
                    self.prefix_group(rules, miss, decided);
                }
            }
            return;
        }
        let mid = groups.len() / 2;
        let upper = self.asm.label("upper");
        jump_cmp_u64(
            &mut self.asm,
            Jmp::IfGreaterOrEqual,
            Reg::R1,
            groups[mid].0,
            upper,
        );
        self.jump_edge(upper);
        self.prefix_search(&groups[..mid], miss, decided);
        self.bind(upper);
        self.prefix_search(&groups[mid..], miss, decided);
    }

    /// `rules` (of one prefix group, ascending) in order, each past its
    /// first test: a failed later test continues at the first later rule
    /// of the group that does not require it, by a jump; the last to
    /// `miss`.
    fn prefix_group(&mut self, rules: &[usize], miss: Label, decided: Label) {
        let run = self.in_order_run(rules.to_vec(), "prefix_dispatch.next", miss);
        for i in 0..run.rules.len() {
            if self.open_in_order(&run, i, "its prefix found") {
                self.finish_in_order(&run, i, decided);
            }
        }
    }

    /// `rules` (ascending) to test in order past their first test, each
    /// but the last with the label of the next (`label`), the last's
    /// `miss`.
    fn in_order_run(&mut self, rules: Vec<usize>, label: &str, miss: Label) -> InOrderRun {
        let mut next: Vec<Label> = (1..rules.len()).map(|_| self.asm.label(label)).collect();
        next.push(miss);
        let keys = rules
            .iter()
            .map(|&k| {
                let rule = &self.program.rules[k];
                rule.conjuncts()
                    .iter()
                    .map(|t| flow::term_key(rule, t))
                    .collect()
            })
            .collect();
        InOrderRun {
            rules,
            next,
            keys,
            miss,
        }
    }

    /// Opens the `i`-th rule of `run`: where the rule before it failed
    /// (past the first), its rule id, line and a note `rule NAME (line N),
    /// {what}`. False when nothing reaches it.
    fn open_in_order(&mut self, run: &InOrderRun, i: usize, what: &str) -> bool {
        if i > 0 {
            self.bind(run.next[i - 1]);
            if self.here.is_none() {
                return false;
            }
        }
        let step = &self.program.rules[run.rules[i]];
        self.asm.island_point();
        self.set_rule(Some(step.rule_id));
        self.asm.line(step.line);
        self.asm
            .note(format!("rule {} (line {}), {what}", step.name, step.line));
        true
    }

    /// The `i`-th rule of `run` past its first test: its later tests, a
    /// failed one continuing at the first later rule of the run that does
    /// not require it (the run's miss past the last), then its match.
    fn finish_in_order(&mut self, run: &InOrderRun, i: usize, decided: Label) {
        let step = &self.program.rules[run.rules[i]];
        self.fail_closed_match = crate::interp::fails_closed_to_match(step.action);
        for (j, term) in step.conjuncts().iter().enumerate().skip(1) {
            if self.here.is_some() {
                // A failed term also fails the run's later rules that
                // require it: on to the first that does not.
                let failed = &run.keys[i][j];
                let skip_to = (i + 1..run.rules.len())
                    .find(|&r| !run.keys[r].contains(failed))
                    .map_or(run.miss, |r| run.next[r - 1]);
                self.branch(term, skip_to, false, true);
            }
        }
        if self.here.is_some() {
            self.matched(step, decided);
        }
    }

    fn search(
        &mut self,
        values: &[(u64, Vec<usize>)],
        miss: Label,
        plan: &flow::RulePlan,
        decided: Label,
    ) {
        self.set_rule(Some(self.program.rules[values[0].1[0]].rule_id));
        if values.len() <= 4 {
            for (value, rules) in values {
                let target = plan.entries[rules[0]][1];
                jump_cmp_u64(&mut self.asm, Jmp::IfEqual, Reg::R1, *value, target);
                self.jump_edge(target);
            }
            self.goto(miss);
            for (_, rules) in values {
                for &k in rules {
                    self.rule(k, plan, 1, decided);
                }
            }
            return;
        }
        let mid = values.len() / 2;
        let upper = self.asm.label("upper");
        jump_cmp_u64(
            &mut self.asm,
            Jmp::IfGreaterOrEqual,
            Reg::R1,
            values[mid].0,
            upper,
        );
        self.jump_edge(upper);
        self.search(&values[..mid], miss, plan, decided);
        self.bind(upper);
        self.search(&values[mid..], miss, plan, decided);
    }

    /// The shared block every matching rule jumps to (emitted only when one
    /// does).
    fn decided(&mut self) {
        let rules = &self.program.rules;
        let actions: Vec<Action> = rules.iter().map(|r| r.action).collect();
        let has = |a: Action| actions.contains(&a);
        // Only a matching rule gets here: no match goes straight to allow.
        self.asm.note("decided: count, report, enforce");
        let done = self.asm.label("done");
        if !self.program.target_is_test_run() {
            self.asm
                .note("the runtime's own process is exempt from every rule");
            let not_exempt = self.asm.label("not_exempt");
            let runtime = self
                .env
                .maps
                .runtime
                .expect("attach programs have the runtime map");
            self.asm.call(Helper::GetCurrentPidTgid);
            self.asm.mov(Reg::R8, Reg::R0);
            self.asm.store_imm(Size::Word, Reg::R10, FP_KEY, 0);
            self.asm.load_map(Reg::R1, runtime);
            self.asm.mov(Reg::R2, Reg::R10);
            self.asm.alu_imm(Alu::Add, Reg::R2, i32::from(FP_KEY));
            self.asm.call(Helper::MapLookupElem);
            self.asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, not_exempt);
            self.asm
                .load(Size::Word, Reg::R1, Reg::R0, abi::runtime::TGID);
            self.asm.mov(Reg::R2, Reg::R8);
            self.asm.alu_imm(Alu::Rhs, Reg::R2, 32);
            self.asm
                .jump_reg(Jmp::IfNotEqual, Reg::R1, Reg::R2, not_exempt);
            self.asm.mov_imm(Reg::R9, NO_MATCH);
            self.asm.goto(done);
            self.asm.bind(not_exempt);
        }
        let role = self.env.role;
        if role != abi::ProgramRole::Refuse {
            // The rule id is read back from the record, not kept in a
            // register: a register holding a different constant per rule
            // would keep the verifier from pruning this block, exploring it
            // once per rule.
            self.asm.load(Size::Word, Reg::R1, Reg::R7, header::RULE_ID);
            self.count(CounterKey::Reg(Reg::R1));
        }
        if has(Action::Allow) {
            self.asm
                .jump_imm(Jmp::IfEqual, Reg::R9, ALLOW_MATCHED, done);
        }
        if (has(Action::Deny) || has(Action::Kill)) && !self.program.target_is_test_run() {
            let report = self.asm.label("report");
            self.asm.jump_imm(
                Jmp::IfLessThan,
                Reg::R9,
                i32::from(Verdict::Deny.code()),
                report,
            );
            self.asm
                .load(Size::DoubleWord, Reg::R1, Reg::R10, FP_CONFIG);
            self.asm.load(Size::Word, Reg::R1, Reg::R1, 12);
            self.asm.alu_imm(Alu::And, Reg::R1, CONFIG_MONITOR as i32);
            self.asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, report);
            self.asm
                .note("monitor mode: deny -> would-deny, kill -> would-kill");
            self.asm.alu_imm(Alu::Add, Reg::R9, 2);
            self.asm.bind(report);
        }
        if role != abi::ProgramRole::Refuse {
            let pid_tgid_in_r8 = !self.program.target_is_test_run();
            self.emit_event(None, Operand::Reg(Reg::R9), pid_tgid_in_r8);
        }
        self.asm.bind(done);
        if self.program.target_is_test_run() {
            self.asm
                .note("test run: return (rule id + 1) << 8 | verdict (0 for allow)");
            let ret = self.asm.label("return");
            self.asm.mov_imm(Reg::R0, 0);
            self.asm.jump_imm(Jmp::IfEqual, Reg::R9, NO_MATCH, ret);
            self.asm.load(Size::Word, Reg::R0, Reg::R7, header::RULE_ID);
            self.asm.alu_imm(Alu::Add, Reg::R0, 1);
            self.asm
                .alu_imm(Alu::Lhs, Reg::R0, TEST_RUN_RULE_SHIFT as i32);
            self.asm.jump_imm(Jmp::IfEqual, Reg::R9, ALLOW_MATCHED, ret);
            self.asm.alu(Alu::Or, Reg::R0, Reg::R9);
            self.asm.bind(ret);
            self.asm.exit();
            return;
        }
        if !(has(Action::Deny) || has(Action::Kill)) {
            self.asm.goto(self.exit_allow);
            return;
        }
        let refuse = self.asm.label("refuse");
        let kill = self.asm.label("kill");
        // The refusing program of an LSM hook sends no signal: its
        // reporting program (this code, returning 0) kills a kill.
        let sends_signal_on_deny = self.ret() == Some(ReturnConvention::Ignored);
        let signals = role != abi::ProgramRole::Refuse;
        if has(Action::Kill) && signals {
            self.asm
                .jump_imm(Jmp::IfEqual, Reg::R9, i32::from(Verdict::Kill.code()), kill);
        }
        if has(Action::Deny) {
            let target = if sends_signal_on_deny { kill } else { refuse };
            self.asm.jump_imm(
                Jmp::IfEqual,
                Reg::R9,
                i32::from(Verdict::Deny.code()),
                target,
            );
        }
        if has(Action::Kill) && !signals {
            self.asm.jump_imm(
                Jmp::IfEqual,
                Reg::R9,
                i32::from(Verdict::Kill.code()),
                refuse,
            );
        }
        self.asm.goto(self.exit_allow);
        if (has(Action::Kill) && signals) || sends_signal_on_deny {
            self.asm.bind(kill);
            if self.signals() == Signals::Probed {
                self.skip_unless_feature(abi::FEATURE_CGROUP_SIGNAL, refuse);
            }
            self.asm.note("kill: SIGKILL the current task");
            self.asm.mov_imm(Reg::R1, SIGKILL as i32);
            self.asm.call(Helper::SendSignal);
        }
        self.asm.bind(refuse);
        self.asm.note("refuse");
        self.asm.mov_param(Reg::R0, Param::RefuseValue);
        self.asm.exit();
    }

    /// Whether the header's `comm` is the name before an exec (the exec
    /// fallback, which runs after the exec replaced it).
    fn header_comm_is_callers(&self) -> bool {
        FieldId::from_name("proc.comm")
            .is_some_and(|comm| kernel_source(self.program, comm) == Some(FieldSource::CallerComm))
    }

    /// Jumps to `target` unless the runtime set `feature` in the features
    /// map. The map is read-only for programs and frozen before they load,
    /// so the verifier knows the bit: where it is clear, the code up to
    /// `target` is never visited (a helper this kernel refuses there does not
    /// fail the load) and is removed as dead code.
    fn skip_unless_feature(&mut self, feature: u32, target: Label) {
        let map = self
            .env
            .maps
            .features
            .expect("programs that need kernel features have the features map");
        self.asm
            .note("only where the kernel allows it (features map, read-only)");
        self.asm.store_imm(Size::Word, Reg::R10, FP_KEY, 0);
        self.asm.load_map(Reg::R1, map);
        self.asm.mov(Reg::R2, Reg::R10);
        self.asm.alu_imm(Alu::Add, Reg::R2, i32::from(FP_KEY));
        self.asm.call(Helper::MapLookupElem);
        self.asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, target);
        self.asm.load(Size::Word, Reg::R1, Reg::R0, 0);
        self.asm.alu_imm(Alu::And, Reg::R1, feature as i32);
        self.asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, target);
    }

    fn signals(&self) -> Signals {
        match self.program.target {
            Target::Attach { backend, .. } => backend.signals,
            Target::TestRun => Signals::Always,
        }
    }

    /// Increments a per-CPU counter.
    fn count(&mut self, key: CounterKey) {
        match key {
            CounterKey::Const(k) => self.asm.store_imm(Size::Word, Reg::R10, FP_KEY, k as i32),
            CounterKey::Reg(r) => self.asm.store(Size::Word, Reg::R10, FP_KEY, r),
        }
        let skip = self.asm.label("counted");
        self.asm.load_map(Reg::R1, self.env.maps.counters);
        self.asm.mov(Reg::R2, Reg::R10);
        self.asm.alu_imm(Alu::Add, Reg::R2, i32::from(FP_KEY));
        self.asm.call(Helper::MapLookupElem);
        self.asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, skip);
        self.asm.load(Size::DoubleWord, Reg::R1, Reg::R0, 0);
        self.asm.alu_imm(Alu::Add, Reg::R1, 1);
        self.asm.store(Size::DoubleWord, Reg::R0, 0, Reg::R1);
        self.asm.bind(skip);
    }

    /// Fills the record header and writes the record to the ring buffer;
    /// a full ring buffer increments the loss counter. With
    /// `pid_tgid_in_r8`, r8 holds `bpf_get_current_pid_tgid()` already.
    fn emit_event(&mut self, rule: Option<u32>, verdict: Operand, pid_tgid_in_r8: bool) {
        let captured: Vec<FieldId> = self
            .raw_cmdline
            .iter()
            .copied()
            .filter(|f| {
                self.program
                    .traces
                    .iter()
                    .chain(&self.program.rules)
                    .any(|step| step.captures.contains(f))
            })
            .collect();
        for field in captured {
            let FieldType::Str { max } = field.spec().ty else {
                continue;
            };
            let (slot, len) = (self.env.layout.slot(field), self.env.layout.len_slot(field));
            cmdline::join_for_event(&mut self.asm, slot, len, max);
        }
        let asm = &mut self.asm;
        asm.note("event: header, then bpf_ringbuf_output of the record");
        asm.call(Helper::KtimeGetBootNs);
        asm.store(Size::DoubleWord, Reg::R7, header::TIME_NS, Reg::R0);
        if let Some(id) = rule {
            asm.store_imm(Size::Word, Reg::R7, header::RULE_ID, id as i32);
        }
        match verdict {
            Operand::Const(code) => {
                asm.store_imm(Size::Byte, Reg::R7, header::VERDICT, code as i32)
            }
            Operand::Reg(r) => asm.store(Size::Byte, Reg::R7, header::VERDICT, r),
        }
        asm.store_param(
            Size::HalfWord,
            Reg::R7,
            header::PROGRAM,
            Param::ProgramIndex,
        );
        if pid_tgid_in_r8 {
            asm.store(Size::DoubleWord, Reg::R7, header::TID, Reg::R8);
        } else {
            asm.call(Helper::GetCurrentPidTgid);
            asm.store(Size::DoubleWord, Reg::R7, header::TID, Reg::R0);
        }
        asm.call(Helper::GetCurrentUidGid);
        asm.store(Size::DoubleWord, Reg::R7, header::UID, Reg::R0);
        if self.header_comm_is_callers() {
            fields::caller_comm(self);
            let asm = &mut self.asm;
            asm.mov(Reg::R1, Reg::R7);
            asm.alu_imm(Alu::Add, Reg::R1, i32::from(header::COMM));
            asm.mov_imm(Reg::R2, 16);
            asm.call(Helper::ProbeReadKernel);
        } else {
            let asm = &mut self.asm;
            asm.mov(Reg::R1, Reg::R7);
            asm.alu_imm(Alu::Add, Reg::R1, i32::from(header::COMM));
            asm.mov_imm(Reg::R2, 16);
            asm.call(Helper::GetCurrentComm);
        }
        let asm = &mut self.asm;
        asm.note("wake the reader as the ring buffer fills to a quarter, and to half");
        // The reader polls on a short timer (polrt's event loop), so a record
        // need not wake it: waking it per record costs the writing task an
        // interrupt (irq_work) and the reader a context switch per event.
        // The records written as the waiting bytes reach a quarter of the
        // ring wake it at once, however fast its timer, so that a flood
        // never fills the ring between two ticks; those reaching half do
        // again, in case the first were missed. Only those: a wake-up per
        // record past the level would slow the writers while the reader,
        // already woken, catches up. The band is `WAKE_BAND_RECORDS` of
        // this program's records wide below each level. The size is not
        // compiled in (the loader may resize the ring, `--ringbuf-size`):
        // the loader writes log2 of a quarter of it into the frozen
        // config's flags, which the verifier reads as a constant; 0 there
        // (a loader that does not) wakes per record.
        let in_ring = abi::ringbuf_record_bytes(self.env.layout.record_len);
        let band = (abi::WAKE_BAND_RECORDS * in_ring) as i32;
        let quiet = asm.label("quiet");
        let wake = asm.label("wake");
        let past_quarter = asm.label("past_quarter");
        asm.load_map(Reg::R1, self.env.maps.events);
        asm.mov_imm(Reg::R2, BPF_RB_AVAIL_DATA);
        asm.call(Helper::RingbufQuery);
        asm.load(Size::DoubleWord, Reg::R1, Reg::R10, FP_CONFIG);
        asm.load(Size::Word, Reg::R1, Reg::R1, abi::config::FLAGS);
        asm.alu_imm(Alu::Rhs, Reg::R1, abi::CONFIG_WAKE_LOG2_SHIFT as i32);
        asm.mov_imm(Reg::R4, BPF_RB_FORCE_WAKEUP);
        asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, quiet);
        asm.mov_imm(Reg::R2, 1);
        asm.alu(Alu::Lhs, Reg::R2, Reg::R1);
        asm.mov(Reg::R3, Reg::R0);
        asm.alu_imm(Alu::Add, Reg::R3, band);
        asm.mov_imm(Reg::R4, BPF_RB_NO_WAKEUP);
        asm.jump_reg(Jmp::IfGreaterOrEqual, Reg::R0, Reg::R2, past_quarter);
        asm.jump_reg(Jmp::IfGreaterOrEqual, Reg::R3, Reg::R2, wake);
        asm.goto(quiet);
        asm.bind(past_quarter);
        asm.alu_imm(Alu::Lhs, Reg::R2, 1);
        asm.jump_reg(Jmp::IfGreaterOrEqual, Reg::R0, Reg::R2, quiet);
        asm.jump_reg(Jmp::IfLessThan, Reg::R3, Reg::R2, quiet);
        asm.bind(wake);
        asm.mov_imm(Reg::R4, BPF_RB_FORCE_WAKEUP);
        asm.bind(quiet);
        asm.load_map(Reg::R1, self.env.maps.events);
        asm.mov(Reg::R2, Reg::R7);
        asm.mov_imm(Reg::R3, self.env.layout.record_len as i32);
        asm.call(Helper::RingbufOutput);
        let sent = asm.label("sent");
        asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, sent);
        self.asm.note("ring buffer full: count the loss");
        self.count(CounterKey::Const(self.env.n_rules));
        self.asm.bind(sent);
    }

    /// Emits code that jumps to `target` when `cond` evaluates to `when` and
    /// falls through otherwise. `positive` is false under an odd number of
    /// `not`s: an undecided leaf takes the value that makes the step's
    /// condition come out as it fails closed ([`Emitter::fail_closed_match`]),
    /// which is three-valued evaluation followed by the fail-closed choice.
    fn branch(&mut self, cond: &Cond, target: Label, when: bool, positive: bool) {
        match cond {
            Cond::True => {
                if when {
                    self.goto(target);
                }
            }
            Cond::False => {
                if !when {
                    self.goto(target);
                }
            }
            Cond::Not(inner) => self.branch(inner, target, !when, !positive),
            Cond::Or(items) if flow::guarded_run(items) => {
                // A failed guard decides the whole `or`: every later
                // item's guard fails too.
                if when {
                    let none = self.asm.label("none_left");
                    for item in items {
                        self.branch_guarded(item, target, true, positive, none);
                    }
                    self.bind(none);
                } else {
                    let holds = self.asm.label("skip");
                    let (last, init) = items.split_last().expect("or has items");
                    for item in init {
                        self.branch_guarded(item, holds, true, positive, target);
                    }
                    self.branch(last, target, false, positive);
                    self.bind(holds);
                }
            }
            Cond::And(items) | Cond::Or(items) => {
                let is_and = matches!(cond, Cond::And(_));
                // and/false and or/true: every item may jump straight to target.
                if is_and != when {
                    for item in items {
                        self.branch(item, target, when, positive);
                    }
                } else {
                    let skip = self.asm.label("skip");
                    let (last, init) = items.split_last().expect("and/or has items");
                    for item in init {
                        self.branch(item, skip, !when, positive);
                    }
                    self.branch(last, target, when, positive);
                    self.bind(skip);
                }
            }
            Cond::Leaf(leaf) => {
                // Conditions of thousands of tests need islands inside.
                self.asm.island_point();
                self.asm.origin(Origin {
                    rule: self.rule,
                    test: Some(leaf.span),
                });
                if let crate::ir::LeafKind::FieldCmp { other, .. } = leaf.kind {
                    self.need(other);
                }
                self.need(leaf.field);
                let decided = self.asm.label("decided");
                let undecided = self.undecided_when(leaf).map(|bound| {
                    let favored = self.fail_closed_match == positive;
                    let dest = if favored == when { target } else { decided };
                    self.jump_if_undecided(leaf.field, bound, dest);
                    dest
                });
                // Every jump a leaf test makes leaves with the loads of its
                // start, as its fall-through does, and r1 as it leaves it.
                let mut here = self.here.clone();
                leaves::branch(self, leaf, target, when);
                if let Some(here) = &mut here {
                    here.r1 = leaves::r1_after(self, leaf);
                }
                self.here = here;
                self.jump_edge(target);
                // Past it, the test came out `!when`: a test of argc bounds
                // the arguments that exist (`cmdline::load_arg`).
                if kernel_source(self.program, leaf.field) == Some(FieldSource::ExecArgc) {
                    if let (Some(n), Some(here)) = (flow::at_least(leaf, !when), &mut self.here) {
                        here.argc_at_least = here.argc_at_least.max(n);
                    }
                }
                if undecided == Some(decided) {
                    self.bind(decided);
                }
                self.asm.origin(Origin {
                    rule: self.rule,
                    test: None,
                });
            }
        }
    }

    /// [`Self::branch`] of an `and` whose first term is a guard (see
    /// [`flow::guarded_run`]), except that a failed guard jumps to `exit`.
    fn branch_guarded(
        &mut self,
        item: &Cond,
        target: Label,
        when: bool,
        positive: bool,
        exit: Label,
    ) {
        let Cond::And(terms) = item else {
            unreachable!("a guarded item is an and");
        };
        let (guard, rest) = terms.split_first().expect("a guard and a test");
        self.branch(guard, exit, false, positive);
        if when {
            let skip = self.asm.label("skip");
            let (last, init) = rest.split_last().expect("a guard and a test");
            for term in init {
                self.branch(term, skip, false, positive);
            }
            self.branch(last, target, true, positive);
            self.bind(skip);
        } else {
            for term in rest {
                self.branch(term, target, false, positive);
            }
        }
    }

    /// When `leaf` may be undecided here: on a resolved path this program
    /// renders (or a test run's context gives), `Some(bound)` with the
    /// largest length word that decides it — [`u64::MAX`]` - 1` for tests
    /// the first bytes decide (only an unresolved path leaves them
    /// undecided), the buffer's content length for `endswith` and
    /// `contains`, which need the whole string.
    fn undecided_when(&self, leaf: &crate::ir::Leaf) -> Option<u64> {
        use crate::ir::LeafKind;
        let field = leaf.field;
        if !field.spec().resolved_path {
            return None;
        }
        match kernel_source(self.program, field) {
            None | Some(FieldSource::ResolvedPath(_)) => {}
            Some(_) => return None,
        }
        match &leaf.kind {
            LeafKind::IdentityIn(_) => None,
            LeafKind::StrSuffix(_) | LeafKind::Scan(_) => match field.spec().ty {
                crate::check::hooks::FieldType::Str { max } => Some(u64::from(max) - 1),
                _ => None,
            },
            _ => Some(u64::MAX - 1),
        }
    }

    /// `if len(field) > bound goto dest`, leaving the length in r1.
    fn jump_if_undecided(&mut self, field: FieldId, bound: u64, dest: Label) {
        let what = flow::R1::Len(field);
        if !self.r1_holds(what) {
            let len = self.env.layout.len_slot(field);
            self.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, len);
            self.set_r1(Some(what));
        }
        if bound == u64::MAX - 1 {
            self.asm
                .note(format!("{} unresolved: fail closed", field.spec().name));
            self.asm.jump_imm(Jmp::IfEqual, Reg::R1, -1, dest);
        } else {
            self.asm.note(format!(
                "{} longer than its buffer (or unresolved): fail closed",
                field.spec().name
            ));
            jump_cmp_u64(&mut self.asm, Jmp::IfGreater, Reg::R1, bound, dest);
        }
        self.jump_edge(dest);
    }
}

impl Program {
    fn target_is_test_run(&self) -> bool {
        matches!(self.target, Target::TestRun)
    }
}

/// Rules tested in order past their first test (a string dispatch's
/// in-order fallback, a prefix group): see [`Emitter::in_order_run`].
struct InOrderRun {
    /// The rules (program indices, ascending).
    rules: Vec<usize>,
    /// Per rule, where a failed test continues: the next rule's label, the
    /// last's `miss`.
    next: Vec<Label>,
    /// Per rule, its terms' keys ([`flow::term_key`]).
    keys: Vec<Vec<String>>,
    miss: Label,
}

#[derive(Copy, Clone)]
enum CounterKey {
    Const(u32),
    Reg(Reg),
}

#[derive(Copy, Clone)]
enum Operand {
    Const(u32),
    Reg(Reg),
}

/// `reg &= mask` (r0 holds masks wider than 31 bits).
fn and_mask(asm: &mut Asm, reg: Reg, mask: u64) {
    match i32::try_from(mask) {
        Ok(imm) => asm.alu_imm(Alu::And, reg, imm),
        Err(_) => {
            asm.load_imm64(Reg::R0, mask);
            asm.alu(Alu::And, reg, Reg::R0);
        }
    }
}

fn jump_if_ne_u64(asm: &mut Asm, reg: Reg, value: u64, target: Label) {
    jump_cmp_u64(asm, Jmp::IfNotEqual, reg, value, target);
}

/// `if (r1 & mask) != mask goto target` (r1 is clobbered).
fn jump_unless_bits(asm: &mut Asm, mask: u64, target: Label) {
    fields::apply_mask_to(asm, Reg::R1, mask);
    jump_if_ne_u64(asm, Reg::R1, mask, target);
}

/// The LPM trie key of a suffix dispatch at `data - 4` from r1, the length
/// (at most the field's buffer less its NUL) of the string at `slot`:
/// `prefixlen = min(len, data_len) * 8`, then the string's last
/// `min(len, data_len)` bytes reversed, a word at a time: each word ending
/// where the last ended, byte-swapped; the first bytes of the string (less
/// than a word) once, byte-swapped and shifted. At most
/// `ceil(data_len / 8)` words (`data_len` is at most 256): bounded,
/// forward jumps only. Uses r1 to r4.
fn suffix_key(asm: &mut Asm, slot: i16, data: i16, data_len: u32) {
    asm.note("LPM key { u32 prefixlen = min(len, data_len) * 8; the last bytes reversed }");
    asm.mov(Reg::R4, Reg::R1);
    let short = asm.label("short");
    asm.jump_imm(Jmp::IfLessThanOrEqual, Reg::R1, data_len as i32, short);
    asm.mov_imm(Reg::R1, data_len as i32);
    asm.bind(short);
    asm.alu_imm(Alu::Lhs, Reg::R1, 3);
    asm.store(Size::Word, Reg::R7, data - 4, Reg::R1);
    let words = data_len.div_ceil(8) as i16;
    let done = asm.label("reversed");
    let tails: Vec<Label> = (0..words).map(|_| asm.label("reversed.tail")).collect();
    asm.note("r4: bytes left; each word: the 8 bytes before them, swapped");
    for (k, tail) in tails.iter().enumerate() {
        asm.jump_imm(Jmp::IfLessThan, Reg::R4, 8, *tail);
        asm.mov(Reg::R2, Reg::R4);
        asm.alu_imm(Alu::Add, Reg::R2, -8);
        asm.mov(Reg::R3, Reg::R7);
        asm.alu(Alu::Add, Reg::R3, Reg::R2);
        asm.load(Size::DoubleWord, Reg::R3, Reg::R3, slot);
        asm.insn(fields::be64(Reg::R3));
        asm.store(Size::DoubleWord, Reg::R7, data + 8 * k as i16, Reg::R3);
        asm.alu_imm(Alu::Add, Reg::R4, -8);
    }
    asm.goto(done);
    for (k, tail) in tails.into_iter().enumerate() {
        asm.bind(tail);
        asm.note("less than a word left: the string's first word, swapped, shifted");
        asm.jump_imm(Jmp::IfEqual, Reg::R4, 0, done);
        asm.load(Size::DoubleWord, Reg::R3, Reg::R7, slot);
        asm.insn(fields::be64(Reg::R3));
        asm.mov_imm(Reg::R2, 8);
        asm.alu(Alu::Sub, Reg::R2, Reg::R4);
        asm.alu_imm(Alu::Lhs, Reg::R2, 3);
        asm.alu(Alu::Rhs, Reg::R3, Reg::R2);
        asm.store(Size::DoubleWord, Reg::R7, data + 8 * k as i16, Reg::R3);
        if k + 1 < words as usize {
            asm.goto(done);
        }
    }
    asm.bind(done);
}

/// `if (r1 & mask) != 0 goto target` (r1 is clobbered).
fn jump_if_any_bits(asm: &mut Asm, mask: u64, target: Label) {
    fields::apply_mask_to(asm, Reg::R1, mask);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R1, 0, target);
}

/// `if reg OP value goto target` for any u64 `value` (uses r5 when the value
/// does not fit a sign-extended 32-bit immediate).
fn jump_cmp_u64(asm: &mut Asm, op: Jmp, reg: Reg, value: u64, target: Label) {
    match i32::try_from(value) {
        Ok(imm) => asm.jump_imm(op, reg, imm, target),
        Err(_) => {
            asm.load_imm64(Reg::R5, value);
            asm.jump_reg(op, reg, Reg::R5, target);
        }
    }
}

/// The program that records, at the entry of every execve and execveat (64-
/// and 32-bit), the calling task's command name by thread id into the
/// exec-callers map, for [`FieldSource::CallerComm`]: the exec fallback
/// decides after the exec has renamed the task. Attached with the hook's
/// `tp_btf` backend.
pub fn exec_callers_program(maps: &Maps) -> Result<Assembled, AsmError> {
    let callers = maps
        .exec_callers
        .expect("the exec-callers program needs its map");
    let mut asm = Asm::new();
    let out = asm.label("out");
    asm.note("record the caller's name at execve entry, by thread id");
    asm.mov(Reg::R6, Reg::R1);
    path::syscall_guard(
        &mut asm,
        &[
            crate::kernel::Syscall::Execve,
            crate::kernel::Syscall::Execveat,
        ],
        out,
    );
    const FP_COMM: i16 = -48;
    asm.mov(Reg::R1, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R1, i32::from(FP_COMM));
    asm.mov_imm(Reg::R2, 16);
    asm.call(Helper::GetCurrentComm);
    asm.call(Helper::GetCurrentPidTgid);
    asm.store(Size::Word, Reg::R10, FP_KEY, Reg::R0);
    asm.load_map(Reg::R1, callers);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, i32::from(FP_KEY));
    asm.mov(Reg::R3, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R3, i32::from(FP_COMM));
    asm.mov_imm(Reg::R4, 0);
    asm.call(Helper::MapUpdateElem);
    asm.bind(out);
    asm.mov_imm(Reg::R0, 0);
    asm.exit();
    asm.assemble()
}

/// Whether `program` sends signals only where the kernel allows its program
/// type to, which the features map tells it (see [`Signals::Probed`]).
pub fn needs_features(program: &Program) -> bool {
    match program.target {
        Target::Attach { backend, .. } => {
            let signals_on_deny = backend.ret == ReturnConvention::Ignored;
            backend.signals == Signals::Probed
                && program.rules.iter().any(|rule| {
                    rule.action == Action::Kill || (rule.action == Action::Deny && signals_on_deny)
                })
        }
        Target::TestRun => false,
    }
}

/// The kernel field source of `field` in `program`, or `None` in a test-run
/// program (every field comes from the context there).
fn kernel_source(program: &Program, field: crate::check::hooks::FieldId) -> Option<FieldSource> {
    match program.target {
        Target::Attach { attach, .. } => field.source(attach),
        Target::TestRun => None,
    }
}
