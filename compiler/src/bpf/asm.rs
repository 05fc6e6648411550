//! A thin assembler over `bpf-ins`: labels resolved to forward jump offsets,
//! map references and CO-RE field accesses recorded as relocations, notes for
//! the annotated disassembly, the origin of every instruction (which rule
//! and test it was emitted for), and the worst-case path length of the result.
//!
//! Every jump must go forward: a program assembled here is loop-free by
//! construction, and [`Assembled::max_path`] is an exact bound on the
//! instructions one run executes.
//!
//! Depends on `bpf-ins` and on the kernel facts of [`crate::kernel`] (the
//! struct members a CO-RE relocation names); knows nothing of policies, of
//! the checker or its hook table, or of ELF (`tests/layers.rs` checks).

use std::borrow::Cow;
use std::fmt::Write as _;

pub use bpf_ins::{
    ArithmeticOperation as Alu, Instruction, JumpOperation as Jmp, MemoryOpSize as Size,
    Register as Reg,
};

use crate::kernel::KernelMember;
use crate::span::Span;

/// A program's items with their islands, and the label names.
type WithIslands<'a> = (Cow<'a, [Item]>, Cow<'a, [String]>);

/// A jump target inside one program.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label(u32);

/// Index of a map in the object being built.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MapId(pub u32);

/// A kernel helper function, by its number in `enum bpf_func_id`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Helper {
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    KtimeGetNs = 5,
    GetCurrentPidTgid = 14,
    GetCurrentUidGid = 15,
    GetCurrentComm = 16,
    GetCurrentCgroupId = 80,
    SendSignal = 109,
    ProbeReadUserStr = 114,
    ProbeReadKernelStr = 115,
    ProbeReadKernel = 113,
    ProbeReadUser = 112,
    RingbufOutput = 130,
    RingbufQuery = 134,
    GetCurrentAncestorCgroupId = 123,
    KtimeGetBootNs = 125,
    DPath = 147,
    GetCurrentTaskBtf = 158,
}

impl Helper {
    /// The helper's name without the `bpf_` prefix, for disassembly.
    pub fn name(self) -> &'static str {
        match self {
            Helper::MapLookupElem => "map_lookup_elem",
            Helper::MapUpdateElem => "map_update_elem",
            Helper::MapDeleteElem => "map_delete_elem",
            Helper::KtimeGetNs => "ktime_get_ns",
            Helper::GetCurrentPidTgid => "get_current_pid_tgid",
            Helper::GetCurrentUidGid => "get_current_uid_gid",
            Helper::GetCurrentComm => "get_current_comm",
            Helper::GetCurrentCgroupId => "get_current_cgroup_id",
            Helper::SendSignal => "send_signal",
            Helper::ProbeReadUserStr => "probe_read_user_str",
            Helper::ProbeReadKernelStr => "probe_read_kernel_str",
            Helper::ProbeReadKernel => "probe_read_kernel",
            Helper::ProbeReadUser => "probe_read_user",
            Helper::RingbufOutput => "ringbuf_output",
            Helper::RingbufQuery => "ringbuf_query",
            Helper::GetCurrentAncestorCgroupId => "get_current_ancestor_cgroup_id",
            Helper::KtimeGetBootNs => "ktime_get_boot_ns",
            Helper::DPath => "d_path",
            Helper::GetCurrentTaskBtf => "get_current_task_btf",
        }
    }

    fn from_number(n: i64) -> Option<Helper> {
        const ALL: [Helper; 19] = [
            Helper::MapLookupElem,
            Helper::MapUpdateElem,
            Helper::MapDeleteElem,
            Helper::KtimeGetNs,
            Helper::GetCurrentPidTgid,
            Helper::GetCurrentUidGid,
            Helper::GetCurrentComm,
            Helper::GetCurrentCgroupId,
            Helper::SendSignal,
            Helper::ProbeReadUserStr,
            Helper::ProbeReadKernelStr,
            Helper::ProbeReadKernel,
            Helper::ProbeReadUser,
            Helper::RingbufOutput,
            Helper::RingbufQuery,
            Helper::GetCurrentAncestorCgroupId,
            Helper::KtimeGetBootNs,
            Helper::DPath,
            Helper::GetCurrentTaskBtf,
        ];
        ALL.into_iter().find(|h| *h as i64 == n)
    }
}

/// A map reference to patch: the `LD_IMM64` at `slot` loads map `map`'s fd.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MapReloc {
    pub slot: u32,
    pub map: MapId,
}

/// A CO-RE field-offset relocation: the instruction at `slot` uses the byte
/// offset of `member` (in its `off` field for loads, its `imm` for `+=`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CoreReloc {
    pub slot: u32,
    pub member: KernelMember,
}

/// What the instructions from some slot on were emitted for: a rule or
/// trace (by id) and, inside it, a leaf test (by its source span); neither
/// for the code every rule shares (prologue, decision block).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Origin {
    pub rule: Option<u32>,
    pub test: Option<Span>,
}

/// An immediate that the programs assembled from one emission set
/// differently (see [`Assembled::with_params`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Param {
    /// The program's index in the object's metadata (event headers).
    ProgramIndex,
    /// What the program returns to refuse.
    RefuseValue,
}

/// The instruction a [`Param`] is the immediate of.
#[derive(Copy, Clone, Debug, PartialEq)]
enum ParamInsn {
    StoreImm { size: Size, dst: Reg, off: i16 },
    MovImm { dst: Reg },
}

impl ParamInsn {
    fn insn(self, imm: i32) -> Instruction {
        match self {
            ParamInsn::StoreImm { size, dst, off } => {
                Instruction::store(dst, off, i64::from(imm), size)
            }
            ParamInsn::MovImm { dst } => Instruction::mov64(dst, imm),
        }
    }
}

/// Errors of assembly: all are compiler bugs, never user errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AsmError {
    #[error("label {0} is used but never bound")]
    Unbound(u32),
    #[error("label {0} is bound twice")]
    Rebound(u32),
    #[error("jump at slot {at} to label {label} does not go forward")]
    Backward { at: u32, label: u32 },
    #[error("jump at slot {at} is too far ({distance} slots)")]
    TooFar { at: u32, distance: i64 },
}

#[derive(Clone, Debug)]
enum Item {
    Insn(Instruction),
    /// An instruction whose immediate is a [`Param`] (`insn` holds it set
    /// to 0): recorded in [`Assembled`], set by [`Assembled::with_params`].
    Param {
        insn: Instruction,
        param: Param,
        recipe: ParamInsn,
    },
    Jump {
        insn: Instruction,
        target: Label,
    },
    LdMap {
        dst: Reg,
        map: MapId,
    },
    Core {
        insn: Instruction,
        member: KernelMember,
    },
    Bind(Label),
    Note(String),
    Line(u32),
    /// Starts (`Some`, with what to say instead) or ends (`None`) a range of
    /// instructions the disassembly shows as one line (see [`Asm::elide`]).
    Elide(Option<String>),
    Origin(Origin),
    /// A place where jump islands may be inserted (see [`Asm::island_point`]).
    IslandPoint(usize),
}

/// An island: its skip label (once it has entries) and its entries (proxy
/// label, target label, and the label the chain of islands ends at).
type Island = (Option<Label>, Vec<(Label, Label, Label)>);

/// The longest jump (slots) left as it is. A jump instruction can hold
/// 32767, but the kernel verifier rewrites some instructions into several
/// (inlined helpers and map lookups) and refuses the program when a jump
/// across them no longer fits ("cannot be patched due to 16-bit range"), so
/// jumps keep half the range in reserve.
const MAX_JUMP: i64 = 16_000;
/// How far after a jump an island may be placed, leaving room for islands
/// inserted in between.
const ISLAND_REACH: i64 = 15_000;
/// Most entries of one island: thousands of jumps to distinct far targets
/// (a dispatch over thousands of rules) spread over several islands, so no
/// island grows past the reach of the jumps over it.
const ISLAND_ENTRIES: usize = 512;

/// Builds one program.
#[derive(Clone, Debug, Default)]
pub struct Asm {
    items: Vec<Item>,
    n_labels: u32,
    label_names: Vec<String>,
    /// How many labels have each base name (for unique display names).
    name_counts: std::collections::HashMap<String, usize>,
    n_island_points: usize,
    /// Instructions pushed so far (islands not counted).
    n_insns: usize,
}

impl Asm {
    /// An empty program.
    pub fn new() -> Asm {
        Asm::default()
    }

    fn push_insn(&mut self, item: Item) {
        self.n_insns += 1;
        self.items.push(item);
    }

    /// Instructions emitted so far (before jump islands).
    pub fn n_insns(&self) -> usize {
        self.n_insns
    }

    /// Instructions emitted so far by their [`Origin`], in order of first
    /// appearance: what a program too large to assemble is made of.
    pub fn insns_by_origin(&self) -> Vec<(Origin, u32)> {
        let mut by: Vec<(Origin, u32)> = Vec::new();
        let mut index: std::collections::HashMap<Origin, usize> = Default::default();
        let mut origin = Origin::default();
        for item in &self.items {
            match item {
                Item::Origin(o) => origin = *o,
                Item::Insn(_)
                | Item::Param { .. }
                | Item::Core { .. }
                | Item::Jump { .. }
                | Item::LdMap { .. } => {
                    let k = *index.entry(origin).or_insert_with(|| {
                        by.push((origin, 0));
                        by.len() - 1
                    });
                    by[k].1 += 1;
                }
                _ => {}
            }
        }
        by
    }

    /// A fresh, unbound label; `name` shows in the disassembly (with a
    /// number appended when several labels share it).
    pub fn label(&mut self, name: impl Into<String>) -> Label {
        let name = name.into();
        let count = self.name_counts.entry(name.clone()).or_insert(0);
        let same = *count;
        *count += 1;
        self.n_labels += 1;
        self.label_names.push(if same == 0 {
            name
        } else {
            format!("{name}#{same}")
        });
        Label(self.n_labels - 1)
    }

    /// Binds `label` to the next instruction.
    pub fn bind(&mut self, label: Label) {
        self.items.push(Item::Bind(label));
    }

    /// Attaches a note (shown in `--emit asm`) to the next instruction.
    pub fn note(&mut self, text: impl Into<String>) {
        self.items.push(Item::Note(text.into()));
    }

    /// Shows the instructions emitted until [`Asm::end_elide`] as one line
    /// saying `what` in the disassembly (a long unrolled repetition, such as
    /// the levels of a path walk after the first); the code is unchanged.
    pub fn elide(&mut self, what: impl Into<String>) {
        self.items.push(Item::Elide(Some(what.into())));
    }

    /// Ends the range [`Asm::elide`] started.
    pub fn end_elide(&mut self) {
        self.items.push(Item::Elide(None));
    }

    /// Marks the next instructions as coming from source line `line` (1-based).
    pub fn line(&mut self, line: u32) {
        self.items.push(Item::Line(line));
    }

    /// Marks the next instructions (up to the next origin) as emitted for
    /// `origin`.
    pub fn origin(&mut self, origin: Origin) {
        self.items.push(Item::Origin(origin));
    }

    /// Any instruction without a label or relocation.
    pub fn insn(&mut self, insn: Instruction) {
        self.push_insn(Item::Insn(insn));
    }

    /// `*(size *)(dst + off) = param`, the value given at assembly.
    pub fn store_param(&mut self, size: Size, dst: Reg, off: i16, param: Param) {
        self.param(param, ParamInsn::StoreImm { size, dst, off });
    }

    /// `dst = param`, the value given at assembly.
    pub fn mov_param(&mut self, dst: Reg, param: Param) {
        self.param(param, ParamInsn::MovImm { dst });
    }

    fn param(&mut self, param: Param, recipe: ParamInsn) {
        self.push_insn(Item::Param {
            insn: recipe.insn(0),
            param,
            recipe,
        });
    }

    /// `dst = imm` (64-bit; sign-extended 32-bit immediate).
    pub fn mov_imm(&mut self, dst: Reg, imm: i32) {
        self.insn(Instruction::mov64(dst, imm));
    }

    /// `dst = src`.
    pub fn mov(&mut self, dst: Reg, src: Reg) {
        self.insn(Instruction::movx64(dst, src));
    }

    /// `dst = (u32) src`: zero-extends the low 32 bits.
    pub fn mov32(&mut self, dst: Reg, src: Reg) {
        self.insn(Instruction::movx32(dst, src));
    }

    /// `dst = imm` for any 64-bit value (`LD_IMM64` when it does not fit 32 bits signed).
    pub fn load_imm64(&mut self, dst: Reg, imm: u64) {
        match i32::try_from(imm as i64) {
            Ok(small) => self.mov_imm(dst, small),
            Err(_) => self.insn(Instruction::load(dst, imm as i64, Size::DoubleWord)),
        }
    }

    /// `dst OP= imm` (64-bit).
    pub fn alu_imm(&mut self, op: Alu, dst: Reg, imm: i32) {
        self.insn(Instruction::alu64(dst, imm, op));
    }

    /// `dst OP= src` (64-bit).
    pub fn alu(&mut self, op: Alu, dst: Reg, src: Reg) {
        self.insn(Instruction::alux64(dst, src, op));
    }

    /// `dst = *(size *)(src + off)`.
    pub fn load(&mut self, size: Size, dst: Reg, src: Reg, off: i16) {
        self.insn(Instruction::loadx(dst, src, off, size));
    }

    /// `*(size *)(dst + off) = src`.
    pub fn store(&mut self, size: Size, dst: Reg, off: i16, src: Reg) {
        self.insn(Instruction::storex(dst, off, src, size));
    }

    /// `*(size *)(dst + off) = imm`.
    pub fn store_imm(&mut self, size: Size, dst: Reg, off: i16, imm: i32) {
        self.insn(Instruction::store(dst, off, i64::from(imm), size));
    }

    /// `dst = *(size *)(src + offsetof(member))`, relocated at load time.
    pub fn load_member(&mut self, size: Size, dst: Reg, src: Reg, member: KernelMember) {
        self.push_insn(Item::Core {
            insn: Instruction::loadx(dst, src, 0, size),
            member,
        });
    }

    /// `dst += offsetof(member)`, relocated at load time.
    pub fn add_member_offset(&mut self, dst: Reg, member: KernelMember) {
        self.push_insn(Item::Core {
            insn: Instruction::add64(dst, 0),
            member,
        });
    }

    /// `if dst OP imm goto target`.
    pub fn jump_imm(&mut self, op: Jmp, dst: Reg, imm: i32, target: Label) {
        self.push_insn(Item::Jump {
            insn: Instruction::jmp_if(dst, op, i64::from(imm), 0),
            target,
        });
    }

    /// `if dst OP src goto target`.
    pub fn jump_reg(&mut self, op: Jmp, dst: Reg, src: Reg, target: Label) {
        self.push_insn(Item::Jump {
            insn: Instruction::jmp_ifx(dst, op, src, 0),
            target,
        });
    }

    /// `goto target`.
    pub fn goto(&mut self, target: Label) {
        self.push_insn(Item::Jump {
            insn: Instruction::jmp_abs(0),
            target,
        });
    }

    /// `dst = &map` (an `LD_IMM64` pseudo map fd, relocated).
    pub fn load_map(&mut self, dst: Reg, map: MapId) {
        self.push_insn(Item::LdMap { dst, map });
    }

    /// `call helper`.
    pub fn call(&mut self, helper: Helper) {
        self.insn(Instruction::call(helper as u32));
    }

    /// `exit`.
    pub fn exit(&mut self) {
        self.insn(Instruction::exit());
    }

    /// Marks a place where the assembler may insert a jump island: `goto
    /// over; a: goto far_a; b: goto far_b; over:`. Jumps whose target is
    /// further than a jump instruction can reach (32767 slots) are routed
    /// through islands. Executing an island changes no register, so any
    /// instruction boundary is a valid place; codegen marks rule boundaries
    /// and long unrolled scans.
    pub fn island_point(&mut self) {
        self.items.push(Item::IslandPoint(self.n_island_points));
        self.n_island_points += 1;
    }

    /// Routes every out-of-reach jump through islands; returns the items with
    /// islands in place, and the label names (islands add labels).
    fn with_islands(&self) -> Result<WithIslands<'_>, AsmError> {
        // Most programs need no island: nothing is copied then.
        let mut items: Cow<'_, [Item]> = Cow::Borrowed(&self.items);
        let mut names: Cow<'_, [String]> = Cow::Borrowed(&self.label_names);
        // Per island point: its skip label (once it has entries) and its
        // entries (proxy label, target label, final target).
        let mut islands: Vec<Island> = vec![(None, Vec::new()); self.n_island_points];
        // The original target of each jump routed through an island.
        let mut item_end: Vec<Option<Label>> = vec![None; items.len()];
        // Island points that nothing falls through to (after a `goto` or an
        // `exit`): their islands need no jump over them, and must not have
        // one, which the verifier would reject as unreachable.
        let mut dead_point = vec![false; self.n_island_points];
        let mut dead = false;
        for item in items.iter() {
            match item {
                Item::Insn(insn) | Item::Jump { insn, .. } | Item::Param { insn, .. } => {
                    dead = matches!(insn.encode().0 & 0xff, 0x05 | 0x95);
                }
                Item::LdMap { .. } | Item::Core { .. } | Item::Bind(_) => dead = false,
                Item::IslandPoint(p) => dead_point[*p] = dead,
                Item::Note(_) | Item::Line(_) | Item::Elide(_) | Item::Origin(_) => {}
            }
        }
        loop {
            // Layout.
            let mut label_slot: Vec<Option<i64>> = vec![None; names.len()];
            let mut point_slot = vec![0i64; islands.len()];
            let mut item_slot = vec![0i64; items.len()];
            let mut slot = 0i64;
            for (i, item) in items.iter().enumerate() {
                item_slot[i] = slot;
                match item {
                    Item::Bind(label) => label_slot[label.0 as usize] = Some(slot),
                    Item::IslandPoint(p) => {
                        point_slot[*p] = slot;
                        let (skip, entries) = &islands[*p];
                        if let Some(skip) = skip {
                            let over = i64::from(!dead_point[*p]);
                            for (k, (proxy, _, _)) in entries.iter().enumerate() {
                                label_slot[proxy.0 as usize] = Some(slot + over + k as i64);
                            }
                            slot += over + entries.len() as i64;
                            label_slot[skip.0 as usize] = Some(slot);
                        }
                    }
                    Item::Note(_) | Item::Line(_) | Item::Elide(_) | Item::Origin(_) => {}
                    Item::LdMap { .. } => slot += 2,
                    Item::Insn(insn)
                    | Item::Param { insn, .. }
                    | Item::Core { insn, .. }
                    | Item::Jump { insn, .. } => {
                        slot += if insn.is_wide() { 2 } else { 1 };
                    }
                }
            }
            // Every jump, with where it is and where it goes.
            enum JumpRef {
                Item(usize),
                Island(usize, usize),
            }
            // Each far jump, where it is, its target and its final target.
            let mut far: Vec<(JumpRef, i64, Label, Label)> = Vec::new();
            let distance = |from: i64, to: Label| label_slot[to.0 as usize].map(|t| t - from - 1);
            for (i, item) in items.iter().enumerate() {
                if let Item::Jump { target, .. } = item {
                    if distance(item_slot[i], *target).is_some_and(|d| d > MAX_JUMP) {
                        let end = item_end[i].unwrap_or(*target);
                        far.push((JumpRef::Item(i), item_slot[i], *target, end));
                    }
                }
            }
            for (p, (_, entries)) in islands.iter().enumerate() {
                for (k, (_, target, end)) in entries.iter().enumerate() {
                    let at = point_slot[p] + i64::from(!dead_point[p]) + k as i64;
                    if distance(at, *target).is_some_and(|d| d > MAX_JUMP) {
                        far.push((JumpRef::Island(p, k), at, *target, *end));
                    }
                }
            }
            if far.is_empty() {
                break;
            }
            for (jump, at, target, end) in far {
                // The farthest island point still comfortably in reach.
                // Island points are in program order, so their slots ascend.
                // Prefer the farthest point in reach that already has an
                // island (islands cluster, and falling through each costs a
                // goto), else the farthest point in reach.
                let reach_end = point_slot.partition_point(|slot| *slot <= at + ISLAND_REACH);
                let reach_start = point_slot.partition_point(|slot| *slot <= at);
                let in_reach = reach_start..reach_end;
                let has_room = |p: &usize| {
                    let (_, entries) = &islands[*p];
                    entries.len() < ISLAND_ENTRIES || entries.iter().any(|(_, _, e)| *e == end)
                };
                let point = in_reach
                    .clone()
                    .rev()
                    .take(64)
                    .find(|p| islands[*p].0.is_some() && has_room(p))
                    .or_else(|| in_reach.clone().rev().find(has_room))
                    .ok_or(AsmError::TooFar {
                        at: at as u32,
                        distance: label_slot[target.0 as usize].unwrap_or(at) - at - 1,
                    })?;
                let (skip, entries) = &mut islands[point];
                if skip.is_none() {
                    names.to_mut().push(format!("island{point}.over"));
                    *skip = Some(Label(names.len() as u32 - 1));
                }
                let proxy = match entries.iter().find(|(_, _, e)| *e == end) {
                    Some((proxy, _, _)) => *proxy,
                    None => {
                        let name = format!("island{point}.{}", names[end.0 as usize]);
                        names.to_mut().push(name);
                        let proxy = Label(names.len() as u32 - 1);
                        entries.push((proxy, target, end));
                        proxy
                    }
                };
                match jump {
                    JumpRef::Item(i) => {
                        if let Item::Jump { target, .. } = &mut items.to_mut()[i] {
                            item_end[i].get_or_insert(*target);
                            *target = proxy;
                        }
                    }
                    JumpRef::Island(p, k) => islands[p].1[k].1 = proxy,
                }
            }
        }
        // Drop the entries no jump uses any more (a jump rerouted through a
        // later island leaves its first entry behind): the verifier rejects
        // unreachable instructions. Dropping slots only shortens jumps.
        loop {
            let mut used: std::collections::HashSet<Label> = items
                .iter()
                .filter_map(|item| match item {
                    Item::Jump { target, .. } => Some(*target),
                    _ => None,
                })
                .collect();
            used.extend(
                islands
                    .iter()
                    .flat_map(|(_, entries)| entries.iter().map(|(_, target, _)| *target)),
            );
            let mut dropped = false;
            for (skip, entries) in &mut islands {
                let before = entries.len();
                entries.retain(|(proxy, _, _)| used.contains(proxy));
                dropped |= entries.len() != before;
                if entries.is_empty() {
                    *skip = None;
                }
            }
            if !dropped {
                break;
            }
        }
        // Materialise the islands.
        if islands.iter().all(|(skip, _)| skip.is_none()) {
            return Ok((items, names));
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items.iter() {
            match item {
                Item::IslandPoint(p) => {
                    let (skip, entries) = &islands[*p];
                    if let Some(skip) = skip {
                        if !dead_point[*p] {
                            out.push(Item::Jump {
                                insn: Instruction::jmp_abs(0),
                                target: *skip,
                            });
                        }
                        for (proxy, target, _) in entries {
                            out.push(Item::Bind(*proxy));
                            out.push(Item::Jump {
                                insn: Instruction::jmp_abs(0),
                                target: *target,
                            });
                        }
                        out.push(Item::Bind(*skip));
                    }
                }
                other => out.push(other.clone()),
            }
        }
        Ok((Cow::Owned(out), names))
    }

    /// Resolves labels and encodes the program; its [`Param`]s are 0 until
    /// [`Assembled::with_params`] sets them.
    pub fn assemble(&self) -> Result<Assembled, AsmError> {
        let (items, label_names) = self.with_islands()?;
        // First pass: slot of every item and of every label.
        let mut label_slot: Vec<Option<u32>> = vec![None; label_names.len()];
        let mut slot = 0u32;
        for item in items.iter() {
            match item {
                Item::Bind(label) => {
                    let entry = &mut label_slot[label.0 as usize];
                    if entry.is_some() {
                        return Err(AsmError::Rebound(label.0));
                    }
                    *entry = Some(slot);
                }
                Item::Note(_)
                | Item::Line(_)
                | Item::IslandPoint(_)
                | Item::Elide(_)
                | Item::Origin(_) => {}
                Item::LdMap { .. } => slot += 2,
                Item::Insn(insn)
                | Item::Param { insn, .. }
                | Item::Core { insn, .. }
                | Item::Jump { insn, .. } => {
                    slot += if insn.is_wide() { 2 } else { 1 };
                }
            }
        }

        let mut out = Assembled::default();
        let mut pending_notes: Vec<String> = Vec::new();
        let mut labels_here: Vec<Label> = Vec::new();
        let mut eliding: Option<(u32, String)> = None;
        for item in items.iter() {
            let at = out.slots.len() as u32;
            let insn = match item {
                Item::IslandPoint(_) => continue,
                Item::Elide(Some(what)) => {
                    eliding = Some((at, what.clone()));
                    continue;
                }
                Item::Elide(None) => {
                    if let Some((start, what)) = eliding.take() {
                        out.elided.push((start, at, what));
                    }
                    continue;
                }
                Item::Bind(label) => {
                    labels_here.push(*label);
                    continue;
                }
                Item::Note(text) => {
                    pending_notes.push(text.clone());
                    continue;
                }
                Item::Line(line) => {
                    out.lines.push((at, *line));
                    continue;
                }
                Item::Origin(origin) => {
                    if out.origins.last().is_some_and(|(slot, _)| *slot == at) {
                        out.origins.pop();
                    }
                    out.origins.push((at, *origin));
                    continue;
                }
                Item::Insn(insn) => *insn,
                Item::Param {
                    insn,
                    param,
                    recipe,
                } => {
                    out.params
                        .push((at, out.insns.len() as u32, *param, *recipe));
                    *insn
                }
                Item::Core { insn, member } => {
                    out.core_relocs.push(CoreReloc {
                        slot: at,
                        member: *member,
                    });
                    *insn
                }
                Item::LdMap { dst, map } => {
                    out.map_relocs.push(MapReloc {
                        slot: at,
                        map: *map,
                    });
                    Instruction::loadtype(*dst, 0, bpf_ins::MemoryOpLoadType::Map)
                }
                Item::Jump { insn, target } => {
                    let to = label_slot[target.0 as usize].ok_or(AsmError::Unbound(target.0))?;
                    if to <= at {
                        return Err(AsmError::Backward {
                            at,
                            label: target.0,
                        });
                    }
                    let distance = i64::from(to) - i64::from(at) - 1;
                    let offset =
                        i16::try_from(distance).map_err(|_| AsmError::TooFar { at, distance })?;
                    out.jump_labels.push((at, *target));
                    with_offset(insn, offset)
                }
            };
            for label in labels_here.drain(..) {
                out.labels.push((at, label));
            }
            for note in pending_notes.drain(..) {
                out.notes.push((at, note));
            }
            let (first, second) = insn.encode();
            out.slots.push(first);
            if let Some(second) = second {
                out.slots.push(second);
            }
            out.insns.push((at, insn));
        }
        // Labels bound after the last instruction would be jumps past the end.
        if let Some(label) = labels_here.first() {
            return Err(AsmError::Unbound(label.0));
        }
        out.label_names = label_names.into_owned();
        Ok(out)
    }
}

fn texts_at(list: &[(u32, String)], slot: u32) -> impl Iterator<Item = &str> {
    list.iter()
        .filter(move |(s, _)| *s == slot)
        .map(|(_, text)| text.as_str())
}

fn with_offset(insn: &Instruction, offset: i16) -> Instruction {
    let (first, _) = insn.encode();
    let raw = (first & !0xffff_0000) | (u64::from(offset as u16) << 16);
    Instruction::decode(&[raw]).expect("re-encoding a jump keeps it valid")
}

/// An assembled program.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Assembled {
    /// Encoded 8-byte instruction slots (`LD_IMM64` takes two).
    pub slots: Vec<u64>,
    /// Each instruction with its first slot.
    pub insns: Vec<(u32, Instruction)>,
    pub map_relocs: Vec<MapReloc>,
    pub core_relocs: Vec<CoreReloc>,
    /// Source line of the instructions from a slot on.
    pub lines: Vec<(u32, u32)>,
    /// What the instructions from a slot on were emitted for, by ascending
    /// slot (instructions before the first entry: [`Origin::default`]).
    pub origins: Vec<(u32, Origin)>,
    /// Notes attached to slots, for disassembly.
    pub notes: Vec<(u32, String)>,
    /// Labels bound at slots, for disassembly.
    pub labels: Vec<(u32, Label)>,
    /// Target label name of each jump, by the jump's slot.
    pub jump_labels: Vec<(u32, Label)>,
    /// The name of each label.
    pub label_names: Vec<String>,
    /// Slot ranges `start..end` the disassembly shows as one line saying
    /// what they are.
    pub elided: Vec<(u32, u32, String)>,
    /// The instructions whose immediate is a [`Param`]: slot, index in
    /// `insns`, param, and how to build the instruction.
    params: Vec<(u32, u32, Param, ParamInsn)>,
}

impl Assembled {
    /// The program with its [`Param`]s set to `value`: one emission and
    /// assembly, several programs that differ only there.
    pub fn with_params(&self, value: impl Fn(Param) -> i32) -> Assembled {
        let mut out = self.clone();
        for &(slot, index, param, recipe) in &self.params {
            let insn = recipe.insn(value(param));
            out.slots[slot as usize] = insn.encode().0;
            out.insns[index as usize].1 = insn;
        }
        out
    }

    /// Number of instructions (an `LD_IMM64` counts once).
    pub fn n_insns(&self) -> usize {
        self.insns.len()
    }

    /// The most instructions one run can execute: the longest path through
    /// the forward-only control flow graph, ending at an `exit`.
    pub fn max_path(&self) -> u32 {
        let n = self.insns.len();
        let index_of_slot = |slot: u32| self.insns.binary_search_by_key(&slot, |(s, _)| *s).ok();
        // longest[i] = most instructions executed from instruction i to an exit.
        let mut longest = vec![0u32; n + 1];
        for i in (0..n).rev() {
            let (slot, insn) = &self.insns[i];
            let next = longest.get(i + 1).copied().unwrap_or(0);
            longest[i] = match insn.get_opcode() {
                bpf_ins::Opcode::Jump(jump) => match jump.get_operation() {
                    Jmp::Exit => 1,
                    Jmp::Call => 1 + next,
                    op => {
                        let target_slot = slot + 1 + insn.get_offset() as u32;
                        let taken = index_of_slot(target_slot).map_or(0, |t| longest[t]);
                        if *op == Jmp::Absolute {
                            1 + taken
                        } else {
                            1 + taken.max(next)
                        }
                    }
                },
                _ => 1 + next,
            };
        }
        longest.first().copied().unwrap_or(0)
    }

    /// Human-readable disassembly: labels, notes, one instruction a line with
    /// its slot, jumps shown with their target label, maps by `map_name`.
    pub fn disassemble_with(&self, map_name: &dyn Fn(MapId) -> String) -> String {
        let mut out = String::new();
        for (slot, insn) in &self.insns {
            if let Some((start, end, what)) = self
                .elided
                .iter()
                .find(|(start, end, _)| (*start..*end).contains(slot))
            {
                if slot == start {
                    let n = self
                        .insns
                        .iter()
                        .filter(|(s, _)| (*start..*end).contains(s))
                        .count();
                    let _ = writeln!(out, "{slot:5}  ... {what} ({n} instructions)");
                }
                continue;
            }
            for (_, label) in self.labels.iter().filter(|(s, _)| s == slot) {
                let _ = writeln!(out, "{}:", self.label_name(*label));
            }
            for note in texts_at(&self.notes, *slot) {
                let _ = writeln!(out, "      ; {note}");
            }
            let text = self.format_insn(*slot, insn, map_name);
            let _ = writeln!(out, "{slot:5}  {text}");
        }
        out
    }

    fn label_name(&self, label: Label) -> &str {
        self.label_names
            .get(label.0 as usize)
            .map_or("?", String::as_str)
    }

    /// [`Self::disassemble_with`] naming maps `map#N`.
    pub fn disassemble(&self) -> String {
        self.disassemble_with(&|map| format!("map#{}", map.0))
    }

    fn format_insn(
        &self,
        slot: u32,
        insn: &Instruction,
        map_name: &dyn Fn(MapId) -> String,
    ) -> String {
        let (raw, next) = insn.encode();
        let code = (raw & 0xff) as u8;
        let dst = ((raw >> 8) & 0xf) as u8;
        let src = ((raw >> 12) & 0xf) as u8;
        let off = (raw >> 16) as u16 as i16;
        let imm = (raw >> 32) as u32 as i32;
        let class = code & 0x07;
        let size = match code & 0x18 {
            0x00 => "u32",
            0x08 => "u16",
            0x10 => "u8",
            _ => "u64",
        };
        let mem = |reg: u8, off: i16| match off {
            0 => format!("*({size} *)(r{reg})"),
            o if o < 0 => format!("*({size} *)(r{reg} - {})", -i32::from(o)),
            o => format!("*({size} *)(r{reg} + {o})"),
        };
        let relocated = self.core_relocs.iter().find(|r| r.slot == slot).map(|r| {
            let (strukt, member) = r.member.names();
            format!("  ; offsetof({strukt}, {member}), CO-RE")
        });
        let text = match class {
            // LD_IMM64
            0x00 => match self.map_relocs.iter().find(|r| r.slot == slot) {
                Some(reloc) => format!("r{dst} = {} ll", map_name(reloc.map)),
                None => {
                    let value = (raw >> 32) | (next.unwrap_or(0) & 0xffff_ffff_0000_0000);
                    format!("r{dst} = {} ll", number(value as i64))
                }
            },
            0x01 => format!("r{dst} = {}", mem(src, off)),
            0x02 => format!("{} = {}", mem(dst, off), number(i64::from(imm))),
            0x03 => format!("{} = r{src}", mem(dst, off)),
            0x04 | 0x07 => {
                let reg = if class == 0x07 { 'r' } else { 'w' };
                let op = code & 0xf0;
                let operand = if code & 0x08 != 0 {
                    format!("{reg}{src}")
                } else {
                    number(i64::from(imm))
                };
                match op {
                    0xd0 => {
                        let order = if code & 0x08 != 0 { "be" } else { "le" };
                        format!("r{dst} = {order}{imm} r{dst}")
                    }
                    0x80 => format!("{reg}{dst} = -{reg}{dst}"),
                    _ => {
                        let sym = match op {
                            0x00 => "+=",
                            0x10 => "-=",
                            0x20 => "*=",
                            0x30 => "/=",
                            0x40 => "|=",
                            0x50 => "&=",
                            0x60 => "<<=",
                            0x70 => ">>=",
                            0x90 => "%=",
                            0xa0 => "^=",
                            0xb0 => "=",
                            _ => "s>>=",
                        };
                        format!("{reg}{dst} {sym} {operand}")
                    }
                }
            }
            _ => {
                let op = code & 0xf0;
                let target = self
                    .jump_labels
                    .iter()
                    .find(|(s, _)| *s == slot)
                    .map(|(_, label)| self.label_name(*label).to_string())
                    .unwrap_or_else(|| format!("{:+}", off));
                let operand = if code & 0x08 != 0 {
                    format!("r{src}")
                } else {
                    number(i64::from(imm))
                };
                match op {
                    0x00 => format!("goto {target}"),
                    0x80 => match Helper::from_number(i64::from(imm)) {
                        Some(helper) => format!("call bpf_{}", helper.name()),
                        None => format!("call {imm}"),
                    },
                    0x90 => "exit".to_string(),
                    _ => {
                        let sym = match op {
                            0x10 => "==",
                            0x20 => ">",
                            0x30 => ">=",
                            0x40 => "&",
                            0x50 => "!=",
                            0x60 => "s>",
                            0x70 => "s>=",
                            0xa0 => "<",
                            0xb0 => "<=",
                            0xc0 => "s<",
                            _ => "s<=",
                        };
                        format!("if r{dst} {sym} {operand} goto {target}")
                    }
                }
            }
        };
        match relocated {
            Some(note) => text + &note,
            None => text,
        }
    }
}

/// Small numbers in decimal, large ones in hex.
fn number(value: i64) -> String {
    if (-65_536..=65_536).contains(&value) {
        value.to_string()
    } else {
        format!("{:#x}", value as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_jumps_resolve_to_slot_offsets() {
        let mut asm = Asm::new();
        let done = asm.label("done");
        asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, done);
        asm.load_imm64(Reg::R2, 0x1_0000_0000); // two slots
        asm.mov_imm(Reg::R0, 1);
        asm.bind(done);
        asm.exit();
        let out = asm.assemble().expect("assembles");
        assert_eq!(out.slots.len(), 5);
        assert_eq!(out.insns.len(), 4);
        // target (slot 4) - jump (slot 0) - 1
        assert_eq!(out.insns[0].1.get_offset(), 3);
        assert_eq!(out.max_path(), 4);
    }

    #[test]
    fn params_are_set_in_the_assembled_program_alone() {
        let mut asm = Asm::new();
        let done = asm.label("done");
        asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, done);
        asm.store_param(Size::HalfWord, Reg::R7, 14, Param::ProgramIndex);
        asm.load_imm64(Reg::R2, 0x1_0000_0000);
        asm.bind(done);
        asm.mov_param(Reg::R0, Param::RefuseValue);
        asm.exit();
        let code = asm.assemble().expect("assembles");
        let set = |index: i32, refuse: i32| {
            code.with_params(|p| match p {
                Param::ProgramIndex => index,
                Param::RefuseValue => refuse,
            })
        };
        let (whole, report) = (set(3, -1), set(4, 0));
        let imms =
            |c: &Assembled| -> Vec<i64> { c.insns.iter().map(|(_, i)| i.get_imm()).collect() };
        assert_eq!(imms(&whole), [0, 3, 0x1_0000_0000, -1, 0]);
        assert_eq!(imms(&report), [0, 4, 0x1_0000_0000, 0, 0]);
        // The encoded slots follow: only the two parameters' slots differ.
        let differ: Vec<usize> = (0..whole.slots.len())
            .filter(|&s| whole.slots[s] != report.slots[s])
            .collect();
        assert_eq!(differ, [1, 4]);
        assert_eq!(
            whole.slots[1],
            Instruction::store(Reg::R7, 14, 3, Size::HalfWord)
                .encode()
                .0
        );
        assert_eq!(report.slots[4], Instruction::mov64(Reg::R0, 0).encode().0);
        assert_eq!(whole.insns[0].1.get_offset(), 3);
    }

    #[test]
    fn backward_and_unbound_jumps_are_rejected() {
        let mut asm = Asm::new();
        let top = asm.label("top");
        asm.bind(top);
        asm.goto(top);
        assert!(matches!(asm.assemble(), Err(AsmError::Backward { .. })));

        let mut asm = Asm::new();
        let nowhere = asm.label("nowhere");
        asm.goto(nowhere);
        asm.exit();
        assert_eq!(asm.assemble(), Err(AsmError::Unbound(0)));
    }

    #[test]
    fn far_jumps_go_through_islands() {
        let mut asm = Asm::new();
        let far = asm.label("far");
        asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, far);
        for i in 0..100_000 {
            if i % 1000 == 0 {
                asm.island_point();
            }
            asm.mov_imm(Reg::R0, 0);
        }
        asm.bind(far);
        asm.mov_imm(Reg::R0, 1);
        asm.exit();
        let out = asm.assemble().expect("islands make it reachable");
        // Follow the jump: every hop is in range and it ends at `far`.
        let at = |slot: u32| {
            out.insns
                .iter()
                .find(|(s, _)| *s == slot)
                .map(|(_, i)| *i)
                .expect("an instruction")
        };
        let mut slot = 0u32;
        let mut hops = 0;
        loop {
            let insn = at(slot);
            if matches!(insn.get_opcode(), bpf_ins::Opcode::Arithmetic(_)) {
                break;
            }
            slot = slot + 1 + insn.get_offset() as u32;
            hops += 1;
        }
        assert!(hops >= 4, "{hops} hops");
        assert_eq!(
            at(slot).get_imm(),
            1,
            "the chain of islands ends at the far label"
        );
        // Falling through costs one goto per island crossed.
        assert!(out.max_path() < 100_000 + 200);
    }

    #[test]
    fn max_path_takes_the_longer_branch() {
        let mut asm = Asm::new();
        let short = asm.label("short");
        asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, short);
        for _ in 0..5 {
            asm.mov_imm(Reg::R0, 0);
        }
        asm.exit();
        asm.bind(short);
        asm.mov_imm(Reg::R0, 1);
        asm.exit();
        let out = asm.assemble().expect("assembles");
        assert_eq!(out.max_path(), 7);
    }

    #[test]
    fn relocations_point_at_their_instructions() {
        let mut asm = Asm::new();
        asm.mov_imm(Reg::R0, 0);
        asm.load_map(Reg::R1, MapId(3));
        asm.load_member(
            Size::DoubleWord,
            Reg::R2,
            Reg::R1,
            KernelMember::TaskRealParent,
        );
        asm.exit();
        let out = asm.assemble().expect("assembles");
        assert_eq!(
            out.map_relocs,
            vec![MapReloc {
                slot: 1,
                map: MapId(3)
            }]
        );
        assert_eq!(
            out.core_relocs,
            vec![CoreReloc {
                slot: 3,
                member: KernelMember::TaskRealParent
            }]
        );
        assert!(out.disassemble().contains("map#3"));
    }
}
