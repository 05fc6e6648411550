//! A user-space executor for compiled test-run programs
//! (`polc::compile::build_test_run`): runs the encoded instruction slots on
//! an event's context and counts every instruction it executes, which the
//! kernel cannot tell (`BPF_PROG_TEST_RUN` reports a duration, not a count).
//!
//! It is written from the kernel's definition of each instruction, not from
//! the compiler's: it decodes the raw 8-byte slots itself (not with
//! `bpf-ins`), implements ALU64/ALU32 (wrapping arithmetic, shifts masked to
//! the width, division by zero giving 0 and modulo by zero keeping the
//! dividend, 32-bit results zero-extended, byte swaps), 64- and 32-bit
//! conditional jumps, `LD_IMM64` with map references, loads and stores of
//! every size, and the few helpers a test-run program calls (map lookups in
//! array, per-CPU array, hash and LPM trie maps; `probe_read_user` of the
//! test context, whose address is the program's one argument;
//! `probe_read_kernel_str` with the kernel's truncation and return value;
//! `ringbuf_output`, `ringbuf_query`; the current-task helpers with fixed answers). It is stricter than the kernel
//! where a difference would hide a bug: registers a helper call clobbered
//! are unreadable, pointers are tagged with the memory they point into and
//! every access is bounds-checked, uninitialised stack is unreadable,
//! backward jumps are refused, and the per-CPU scratch buffer starts every
//! run full of pseudo-random bytes (in the kernel it holds the previous
//! event's leftovers), so code that reads bytes it did not write decides
//! differently from the interpreter and is caught.
//!
//! Its decisions are checked against the interpreter on every generated
//! event and against the kernel (through `polc test`) on every event a test
//! block can carry: that is what makes its instruction counts trustworthy.
//! Depends on `polc` (the build, its maps and metadata) only.

use std::fmt;

use polc::check::policy::Action;
use polc::codegen::TEST_RUN_RULE_SHIFT;
use polc::compile::Build;
use polc::interp::FieldValue;
use polc::object::{MapDef, MapKind};

use crate::gen::rng::SplitMix64;

/// Why a run stopped before `exit`: each is a compiler bug (or an executor
/// limit, named as such).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Slot of the faulting instruction.
    pub slot: usize,
    pub what: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slot {}: {}", self.slot, self.what)
    }
}

/// What memory a pointer points into.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Region {
    /// The program's context: one argument, the test context's address.
    Ctx,
    Stack,
    /// The value of entry `entry` of map `map`.
    Value {
        map: usize,
        entry: usize,
    },
    /// A map itself (helper argument only).
    Map(usize),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Val {
    Uninit,
    Scalar(u64),
    Ptr(Region, i64),
}

#[derive(Clone, Debug)]
enum Store {
    /// Array and per-CPU array (one CPU): a value per index.
    Array(Vec<Vec<u8>>),
    /// Hash: exact keys.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// LPM trie: `{ u32 prefixlen; data }` keys.
    Lpm(Vec<(Vec<u8>, Vec<u8>)>),
    Ringbuf,
}

#[derive(Clone, Debug)]
struct Map {
    def: MapDef,
    store: Store,
}

/// The outcome of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// `r0` at `exit`.
    pub retval: u64,
    /// Instructions executed (`LD_IMM64` counts once, a helper call once).
    pub executed: u32,
    /// Records written with `bpf_ringbuf_output`, in order.
    pub records: Vec<Vec<u8>>,
    /// The per-rule counters after the run (they start at 0), then losses.
    pub counters: Vec<u64>,
}

impl Run {
    /// The deciding rule, from the return value (`(id + 1) << 8 | verdict`).
    pub fn rule(&self) -> Option<u32> {
        ((self.retval >> TEST_RUN_RULE_SHIFT) as u32).checked_sub(1)
    }

    /// The decided action, from the return value; `None` for a code no
    /// action has.
    pub fn action(&self) -> Option<Action> {
        match self.retval & 0xff {
            0 => Some(Action::Allow),
            1 => Some(Action::Audit),
            2 => Some(Action::Deny),
            3 => Some(Action::Kill),
            _ => None,
        }
    }
}

/// A test-run program with its maps, ready to run events.
pub struct Executor {
    slots: Vec<u64>,
    /// Map index of each relocated `LD_IMM64`, by slot.
    map_at: Vec<Option<usize>>,
    /// Whether each slot is the second half of an `LD_IMM64`.
    second_half: Vec<bool>,
    maps: Vec<Map>,
    counters: usize,
    scratch: usize,
}

const STACK: usize = 512;
/// Fixed answers of the current-task helpers.
const PID_TGID: u64 = (4242 << 32) | 4243;
const UID_GID: u64 = (77 << 32) | 1000;
const COMM: &[u8] = b"polc-exec";
const EFAULT: i64 = 14;
const EINVAL: i64 = 22;

/// The value of a field an event header carries (pid, tid, uid, gid, comm;
/// `polc::abi::is_header_field`) as the executor's current-task helpers
/// report it. Records decode those fields from the header, which programs
/// fill from these helpers, not from the test context.
pub fn current_task_value(name: &str) -> Option<FieldValue> {
    match name {
        "proc.pid" => Some(FieldValue::Int(PID_TGID >> 32)),
        "proc.tid" => Some(FieldValue::Int(PID_TGID & 0xffff_ffff)),
        "proc.uid" => Some(FieldValue::Int(UID_GID & 0xffff_ffff)),
        "proc.gid" => Some(FieldValue::Int(UID_GID >> 32)),
        "proc.comm" => Some(FieldValue::Str(COMM.to_vec())),
        _ => None,
    }
}

/// Where the test context sits in the (modelled) runner's memory: the
/// program gets this address as its argument and reads the context with
/// `bpf_probe_read_user`.
const USER_CONTEXT: u64 = 0x7f12_3456_0000;

impl Executor {
    /// The program of `build` (a `build_test_run` output) with its maps
    /// created and its set maps and automata filled from the metadata.
    pub fn new(build: &Build) -> Result<Executor, String> {
        let program = build
            .image
            .programs
            .first()
            .ok_or("the build has no program")?;
        let mut maps: Vec<Map> = build
            .image
            .maps
            .iter()
            .map(|def| {
                let store = match def.kind {
                    MapKind::Array | MapKind::PercpuArray => Store::Array(
                        (0..def.max_entries)
                            .map(|_| vec![0u8; def.value_size as usize])
                            .collect(),
                    ),
                    MapKind::Hash | MapKind::LruHash => Store::Hash(Vec::new()),
                    MapKind::LpmTrie => Store::Lpm(Vec::new()),
                    MapKind::Ringbuf => Store::Ringbuf,
                };
                Map {
                    def: def.clone(),
                    store,
                }
            })
            .collect();
        for set in &build.metadata.sets {
            let map = maps
                .iter_mut()
                .find(|m| m.def.name == set.map)
                .ok_or_else(|| format!("set map {} is not in the build", set.map))?;
            for (i, key) in set.keys.iter().enumerate() {
                let key = polc::abi::unhex(key).ok_or_else(|| format!("bad key {key}"))?;
                if key.len() != map.def.key_size as usize {
                    return Err(format!(
                        "key of {} bytes for map {} of key size {}",
                        key.len(),
                        map.def.name,
                        map.def.key_size
                    ));
                }
                let value = match set.values.get(i) {
                    Some(value) => {
                        polc::abi::unhex(value).ok_or_else(|| format!("bad value {value}"))?
                    }
                    None => vec![1u8; map.def.value_size as usize],
                };
                if value.len() != map.def.value_size as usize {
                    return Err(format!(
                        "value of {} bytes for map {} of value size {}",
                        value.len(),
                        map.def.name,
                        map.def.value_size
                    ));
                }
                match &mut map.store {
                    Store::Hash(entries) | Store::Lpm(entries) => entries.push((key, value)),
                    _ => return Err(format!("set map {} is not a hash or LPM trie", set.map)),
                }
            }
        }
        if let Some(map) = maps
            .iter_mut()
            .find(|m| m.def.name == polc::abi::MAP_AUTOMATA)
        {
            let table =
                polc::abi::unhex(&build.metadata.automata).ok_or("the automata are not hex")?;
            match &mut map.store {
                Store::Array(values) if values.len() == 1 && values[0].len() == table.len() => {
                    values[0] = table
                }
                _ => return Err("the automata map is not one value of the tables' size".into()),
            }
        }
        let index_of = |name: &str| {
            build
                .image
                .maps
                .iter()
                .position(|m| m.name == name)
                .ok_or_else(|| format!("no map {name}"))
        };
        let mut map_at = vec![None; program.code.slots.len()];
        for reloc in &program.code.map_relocs {
            map_at[reloc.slot as usize] = Some(reloc.map.0 as usize);
        }
        Ok(Executor {
            second_half: second_halves(&program.code.slots),
            slots: program.code.slots.clone(),
            map_at,
            counters: index_of(polc::abi::MAP_COUNTERS)?,
            scratch: index_of(polc::abi::MAP_SCRATCH)?,
            maps,
        })
    }

    /// Fills the identity map (if the build has one) as the runtime would
    /// when the paths of `sets` lead to the files `named` says.
    pub fn name_files(
        &mut self,
        sets: &[Vec<String>],
        ranks: &[Vec<u32>],
        named: &std::collections::BTreeMap<String, polc::interp::FileIdentity>,
    ) {
        let Some(map) = self
            .maps
            .iter_mut()
            .find(|m| m.def.name == polc::abi::MAP_IDENTITIES)
        else {
            return;
        };
        let entries = polc::abi::identity_entries(sets, ranks, |path| {
            named.get(path).map(|id| (id.dev, id.ino))
        });
        if let Store::Hash(store) = &mut map.store {
            *store = entries
                .into_iter()
                .map(|((dev, ino), bits)| {
                    (
                        polc::abi::identity_key(dev, ino).to_vec(),
                        bits.iter().flat_map(|w| w.to_le_bytes()).collect(),
                    )
                })
                .collect();
        }
    }

    /// Runs the program once on the test context `ctx` (a
    /// `TestContext::encode` output), the scratch buffer filled with bytes
    /// from `noise_seed` and the counters at zero.
    pub fn run(&mut self, ctx: &[u8], noise_seed: u64) -> Result<Run, Fault> {
        let mut noise = SplitMix64::new(noise_seed);
        for (i, map) in self.maps.iter_mut().enumerate() {
            if let Store::Array(values) = &mut map.store {
                for value in values.iter_mut() {
                    if i == self.scratch {
                        for byte in value.iter_mut() {
                            *byte = noise.next_u64() as u8;
                        }
                    } else if i == self.counters {
                        value.fill(0);
                    }
                }
            }
        }
        let mut machine = Machine {
            exec: self,
            ctx: USER_CONTEXT.to_le_bytes().to_vec(),
            user: ctx.to_vec(),
            stack: [0; STACK],
            stack_init: [false; STACK],
            spills: [None; STACK / 8],
            regs: [Val::Uninit; 11],
            executed: 0,
            records: Vec::new(),
            time: 1_000_000,
        };
        let retval = machine.execute()?;
        let executed = machine.executed;
        let records = machine.records;
        let counters = match &self.maps[self.counters].store {
            Store::Array(values) => values
                .iter()
                .map(|v| {
                    let mut word = [0u8; 8];
                    word.copy_from_slice(&v[..8]);
                    u64::from_le_bytes(word)
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Run {
            retval,
            executed,
            records,
            counters,
        })
    }
}

/// Which slots are the second half of an `LD_IMM64`.
fn second_halves(slots: &[u64]) -> Vec<bool> {
    let mut out = vec![false; slots.len()];
    let mut pc = 0;
    while pc < slots.len() {
        if slots[pc] as u8 == 0x18 && pc + 1 < slots.len() {
            out[pc + 1] = true;
            pc += 2;
        } else {
            pc += 1;
        }
    }
    out
}

struct Machine<'e> {
    exec: &'e mut Executor,
    ctx: Vec<u8>,
    /// The runner's memory: the test context at [`USER_CONTEXT`].
    user: Vec<u8>,
    stack: [u8; STACK],
    stack_init: [bool; STACK],
    /// Pointers spilled to the stack, by 8-byte slot.
    spills: [Option<Val>; STACK / 8],
    regs: [Val; 11],
    executed: u32,
    records: Vec<Vec<u8>>,
    time: u64,
}

/// One decoded instruction slot.
struct Insn {
    code: u8,
    dst: usize,
    src: usize,
    off: i16,
    imm: i32,
}

fn decode(raw: u64) -> Insn {
    Insn {
        code: raw as u8,
        dst: ((raw >> 8) & 0xf) as usize,
        src: ((raw >> 12) & 0xf) as usize,
        off: (raw >> 16) as u16 as i16,
        imm: (raw >> 32) as u32 as i32,
    }
}

impl Machine<'_> {
    fn execute(&mut self) -> Result<u64, Fault> {
        self.regs[1] = Val::Ptr(Region::Ctx, 0);
        self.regs[10] = Val::Ptr(Region::Stack, STACK as i64);
        let n = self.exec.slots.len();
        let mut pc = 0usize;
        loop {
            if pc >= n {
                return Err(Fault {
                    slot: pc,
                    what: "ran past the last instruction".into(),
                });
            }
            let insn = decode(self.exec.slots[pc]);
            self.executed += 1;
            let fault = |what: String| Fault { slot: pc, what };
            let class = insn.code & 0x07;
            let mut next = pc + 1;
            match class {
                0x00 => {
                    // LD: only LD_IMM64.
                    if insn.code != 0x18 || pc + 1 >= n {
                        return Err(fault(format!("unsupported LD opcode {:#x}", insn.code)));
                    }
                    let high = decode(self.exec.slots[pc + 1]);
                    let value = match (insn.src, self.exec.map_at[pc]) {
                        (0, None) => Val::Scalar(
                            u64::from(insn.imm as u32) | (u64::from(high.imm as u32) << 32),
                        ),
                        (1, Some(map)) => Val::Ptr(Region::Map(map), 0),
                        (src, map) => {
                            return Err(fault(format!(
                                "LD_IMM64 with src {src} and map relocation {map:?}"
                            )))
                        }
                    };
                    self.set(insn.dst, value).map_err(fault)?;
                    next = pc + 2;
                }
                0x01 => {
                    // LDX
                    if insn.code & 0xe0 != 0x60 {
                        return Err(fault(format!("unsupported LDX mode {:#x}", insn.code)));
                    }
                    let size = size_of(insn.code);
                    let base = self.get(insn.src).map_err(&fault)?;
                    let value = self.load(base, insn.off, size).map_err(&fault)?;
                    self.set(insn.dst, value).map_err(fault)?;
                }
                0x02 | 0x03 => {
                    // ST (immediate) and STX (register)
                    if insn.code & 0xe0 != 0x60 {
                        return Err(fault(format!("unsupported store mode {:#x}", insn.code)));
                    }
                    let size = size_of(insn.code);
                    let value = if class == 0x02 {
                        Val::Scalar(i64::from(insn.imm) as u64)
                    } else {
                        self.get(insn.src).map_err(&fault)?
                    };
                    let base = self.get(insn.dst).map_err(&fault)?;
                    self.store(base, insn.off, size, value).map_err(fault)?;
                }
                0x04 | 0x07 => self.alu(&insn, class == 0x07).map_err(fault)?,
                0x05 | 0x06 => {
                    let op = insn.code & 0xf0;
                    let wide = class == 0x05;
                    match op {
                        0x80 if wide => {
                            if insn.src != 0 {
                                return Err(fault(
                                    "bpf-to-bpf and kfunc calls are not used".into(),
                                ));
                            }
                            let ret = self.call(insn.imm).map_err(&fault)?;
                            self.regs[0] = ret;
                            for r in 1..=5 {
                                self.regs[r] = Val::Uninit;
                            }
                        }
                        0x90 if wide => {
                            return match self.regs[0] {
                                Val::Scalar(v) => Ok(v),
                                other => Err(fault(format!("exit with r0 = {other:?}"))),
                            };
                        }
                        _ => {
                            let taken = if op == 0x00 {
                                if !wide {
                                    return Err(fault("JMP32 JA is not used".into()));
                                }
                                true
                            } else {
                                self.condition(&insn, wide).map_err(&fault)?
                            };
                            if taken {
                                if insn.off < 0 {
                                    return Err(fault(format!("backward jump ({})", insn.off)));
                                }
                                next = pc + 1 + insn.off as usize;
                                if self.exec.second_half.get(next).copied().unwrap_or(false) {
                                    return Err(fault("jump into the middle of LD_IMM64".into()));
                                }
                            }
                        }
                    }
                }
                _ => unreachable!("three-bit class"),
            }
            pc = next;
        }
    }

    fn get(&self, reg: usize) -> Result<Val, String> {
        match self.regs.get(reg) {
            Some(Val::Uninit) => Err(format!(
                "r{reg} is read before it is written (or after a call clobbered it)"
            )),
            Some(v) => Ok(*v),
            None => Err(format!("no register r{reg}")),
        }
    }

    fn scalar(&self, reg: usize) -> Result<u64, String> {
        match self.get(reg)? {
            Val::Scalar(v) => Ok(v),
            other => Err(format!("r{reg} = {other:?} where a number is needed")),
        }
    }

    fn set(&mut self, reg: usize, value: Val) -> Result<(), String> {
        if reg >= 10 {
            return Err(format!("write to r{reg}"));
        }
        self.regs[reg] = value;
        Ok(())
    }

    fn alu(&mut self, insn: &Insn, wide: bool) -> Result<(), String> {
        let op = insn.code & 0xf0;
        let uses_reg = insn.code & 0x08 != 0;
        if insn.off != 0 {
            return Err(format!(
                "ALU with offset {} (signed forms are not used)",
                insn.off
            ));
        }
        if op == 0xd0 {
            // Byte swaps: in the ALU class the source bit picks big endian.
            let v = self.scalar(insn.dst)?;
            let to_be = wide || uses_reg;
            let result = match (insn.imm, to_be) {
                (16, true) => u64::from((v as u16).swap_bytes()),
                (32, true) => u64::from((v as u32).swap_bytes()),
                (64, true) => v.swap_bytes(),
                (16, false) => u64::from(v as u16),
                (32, false) => u64::from(v as u32),
                (64, false) => v,
                (bits, _) => return Err(format!("byte swap of {bits} bits")),
            };
            return self.set(insn.dst, Val::Scalar(result));
        }
        let src = if uses_reg {
            self.get(insn.src)?
        } else if wide {
            Val::Scalar(i64::from(insn.imm) as u64)
        } else {
            Val::Scalar(u64::from(insn.imm as u32))
        };
        if op == 0xb0 {
            // MOV
            let value = match (wide, src) {
                (true, v) => v,
                (false, Val::Scalar(v)) => Val::Scalar(u64::from(v as u32)),
                (false, other) => return Err(format!("32-bit move of {other:?}")),
            };
            return self.set(insn.dst, value);
        }
        let dst = self.get(insn.dst)?;
        let result = match (dst, src) {
            (Val::Scalar(a), Val::Scalar(b)) => Val::Scalar(if wide {
                alu64(op, a, b)?
            } else {
                u64::from(alu32(op, a as u32, b as u32)?)
            }),
            (Val::Ptr(region, off), Val::Scalar(b)) if wide && (op == 0x00 || op == 0x10) => {
                let delta = b as i64;
                Val::Ptr(
                    region,
                    if op == 0x00 {
                        off.wrapping_add(delta)
                    } else {
                        off.wrapping_sub(delta)
                    },
                )
            }
            (Val::Scalar(a), Val::Ptr(region, off)) if wide && op == 0x00 => {
                Val::Ptr(region, off.wrapping_add(a as i64))
            }
            (a, b) => return Err(format!("ALU op {op:#x} on {a:?} and {b:?}")),
        };
        self.set(insn.dst, result)
    }

    fn condition(&self, insn: &Insn, wide: bool) -> Result<bool, String> {
        let op = insn.code & 0xf0;
        let a = self.get(insn.dst)?;
        let b = if insn.code & 0x08 != 0 {
            self.get(insn.src)?
        } else if wide {
            Val::Scalar(i64::from(insn.imm) as u64)
        } else {
            Val::Scalar(u64::from(insn.imm as u32))
        };
        let (a, b) = match (a, b) {
            (Val::Scalar(a), Val::Scalar(b)) => (a, b),
            // A pointer (never null) against 0: the null checks after lookups.
            (Val::Ptr(..), Val::Scalar(0)) if op == 0x10 || op == 0x50 => {
                return Ok(op == 0x50);
            }
            (a, b) => return Err(format!("jump {op:#x} compares {a:?} with {b:?}")),
        };
        let (a, b) = if wide {
            (a, b)
        } else {
            (u64::from(a as u32), u64::from(b as u32))
        };
        let (sa, sb) = if wide {
            (a as i64, b as i64)
        } else {
            (i64::from(a as u32 as i32), i64::from(b as u32 as i32))
        };
        Ok(match op {
            0x10 => a == b,
            0x20 => a > b,
            0x30 => a >= b,
            0x40 => a & b != 0,
            0x50 => a != b,
            0x60 => sa > sb,
            0x70 => sa >= sb,
            0xa0 => a < b,
            0xb0 => a <= b,
            0xc0 => sa < sb,
            0xd0 => sa <= sb,
            other => return Err(format!("unknown jump op {other:#x}")),
        })
    }

    /// The bytes `region[off..off + len]`, bounds-checked.
    fn bytes(&mut self, region: Region, off: i64, len: usize) -> Result<&mut [u8], String> {
        let (buf, name): (&mut [u8], String) = match region {
            Region::Ctx => (&mut self.ctx[..], "the context".into()),
            Region::Stack => (&mut self.stack[..], "the stack".into()),
            Region::Value { map, entry } => {
                let m = &mut self.exec.maps[map];
                let name = format!("a value of map {}", m.def.name);
                let value = match &mut m.store {
                    Store::Array(values) => values.get_mut(entry),
                    Store::Hash(entries) | Store::Lpm(entries) => {
                        entries.get_mut(entry).map(|(_, v)| v)
                    }
                    Store::Ringbuf => None,
                };
                (value.ok_or("a dangling map value")?.as_mut_slice(), name)
            }
            Region::Map(_) => return Err("memory access through a map pointer".into()),
        };
        let size = buf.len();
        if off < 0 || (off as usize).saturating_add(len) > size {
            return Err(format!(
                "access of {len} bytes at offset {off} of {name} ({size} bytes)"
            ));
        }
        Ok(&mut buf[off as usize..off as usize + len])
    }

    fn load(&mut self, base: Val, off: i16, size: usize) -> Result<Val, String> {
        let Val::Ptr(region, at) = base else {
            return Err(format!("load through {base:?}"));
        };
        let at = at + i64::from(off);
        if region == Region::Stack {
            let start = at.max(0) as usize;
            let slot = start / 8;
            if size == 8 && at % 8 == 0 && start + 8 <= STACK {
                if let Some(spilled) = self.spills[slot] {
                    return Ok(spilled);
                }
            }
            for i in start..(start + size).min(STACK) {
                if self.spills[i / 8].is_some() {
                    return Err(format!(
                        "partial read of a spilled pointer at fp{}",
                        at - STACK as i64
                    ));
                }
                if !self.stack_init[i] {
                    return Err(format!(
                        "read of uninitialised stack at fp{}",
                        at - STACK as i64
                    ));
                }
            }
        }
        let bytes = self.bytes(region, at, size)?;
        let mut word = [0u8; 8];
        word[..size].copy_from_slice(bytes);
        Ok(Val::Scalar(u64::from_le_bytes(word)))
    }

    fn store(&mut self, base: Val, off: i16, size: usize, value: Val) -> Result<(), String> {
        let Val::Ptr(region, at) = base else {
            return Err(format!("store through {base:?}"));
        };
        let at = at + i64::from(off);
        match value {
            Val::Scalar(v) => {
                let bytes = self.bytes(region, at, size)?;
                bytes.copy_from_slice(&v.to_le_bytes()[..size]);
                if region == Region::Stack {
                    let start = at as usize;
                    for i in start..start + size {
                        self.stack_init[i] = true;
                        self.spills[i / 8] = None;
                    }
                }
                Ok(())
            }
            Val::Ptr(..) if region == Region::Stack && size == 8 && at % 8 == 0 => {
                self.bytes(region, at, 8)?;
                let start = at as usize;
                self.spills[start / 8] = Some(value);
                for i in start..start + 8 {
                    self.stack_init[i] = true;
                }
                Ok(())
            }
            other => Err(format!("store of {other:?} ({size} bytes) to {region:?}")),
        }
    }

    fn read_bytes(&mut self, ptr: Val, len: usize) -> Result<Vec<u8>, String> {
        match ptr {
            Val::Ptr(region, at) => {
                if region == Region::Stack {
                    let start = at.max(0) as usize;
                    if (start..(start + len).min(STACK)).any(|i| !self.stack_init[i]) {
                        return Err("a helper reads uninitialised stack".into());
                    }
                }
                Ok(self.bytes(region, at, len)?.to_vec())
            }
            other => Err(format!("a helper reads through {other:?}")),
        }
    }

    fn write_bytes(&mut self, ptr: Val, data: &[u8]) -> Result<(), String> {
        match ptr {
            Val::Ptr(region, at) => {
                self.bytes(region, at, data.len())?.copy_from_slice(data);
                if region == Region::Stack {
                    for i in at as usize..at as usize + data.len() {
                        self.stack_init[i] = true;
                        self.spills[i / 8] = None;
                    }
                }
                Ok(())
            }
            other => Err(format!("a helper writes through {other:?}")),
        }
    }

    fn map_arg(&self, reg: usize) -> Result<usize, String> {
        match self.get(reg)? {
            Val::Ptr(Region::Map(map), 0) => Ok(map),
            other => Err(format!("r{reg} = {other:?} where a map is needed")),
        }
    }

    fn call(&mut self, helper: i32) -> Result<Val, String> {
        match helper {
            // bpf_map_lookup_elem(map, key)
            1 => {
                let map = self.map_arg(1)?;
                let key_size = self.exec.maps[map].def.key_size as usize;
                let key = self.read_bytes(self.get(2)?, key_size)?;
                let entry = match &self.exec.maps[map].store {
                    Store::Array(values) => {
                        let mut index = [0u8; 4];
                        index.copy_from_slice(&key[..4]);
                        let index = u32::from_le_bytes(index) as usize;
                        (index < values.len()).then_some(index)
                    }
                    Store::Hash(entries) => entries.iter().position(|(k, _)| *k == key),
                    Store::Lpm(entries) => lpm_lookup(entries, &key),
                    Store::Ringbuf => return Err("lookup in a ring buffer".into()),
                };
                Ok(match entry {
                    Some(entry) => Val::Ptr(Region::Value { map, entry }, 0),
                    None => Val::Scalar(0),
                })
            }
            // bpf_ktime_get_ns, bpf_ktime_get_boot_ns
            5 | 125 => {
                self.time += 1000;
                Ok(Val::Scalar(self.time))
            }
            14 => Ok(Val::Scalar(PID_TGID)),
            15 => Ok(Val::Scalar(UID_GID)),
            // bpf_get_current_comm(buf, size)
            16 => {
                let size = self.scalar(2)? as usize;
                let mut comm = vec![0u8; size];
                let n = COMM.len().min(size.saturating_sub(1));
                comm[..n].copy_from_slice(&COMM[..n]);
                self.write_bytes(self.get(1)?, &comm)?;
                Ok(Val::Scalar(0))
            }
            80 => Ok(Val::Scalar(1)),
            123 => Ok(Val::Scalar(0)),
            // bpf_probe_read_user(dst, size, src): the runner's memory.
            112 => {
                let size = self.scalar(2)? as usize;
                let dst = self.get(1)?;
                let src = self.scalar(3)?;
                let start = src.wrapping_sub(USER_CONTEXT) as usize;
                match self.user.get(start..start.saturating_add(size)) {
                    Some(bytes) if src >= USER_CONTEXT => {
                        let bytes = bytes.to_vec();
                        self.write_bytes(dst, &bytes)?;
                        Ok(Val::Scalar(0))
                    }
                    _ => {
                        self.write_bytes(dst, &vec![0u8; size])?;
                        Ok(Val::Scalar((-EFAULT) as u64))
                    }
                }
            }
            // bpf_probe_read_kernel_str(dst, size, src)
            115 => {
                let size = self.scalar(2)? as usize;
                let dst = self.get(1)?;
                if size == 0 {
                    return Ok(Val::Scalar(0));
                }
                let Val::Ptr(region, at) = self.get(3)? else {
                    self.write_bytes(dst, &vec![0u8; size])?;
                    return Ok(Val::Scalar((-EFAULT) as u64));
                };
                let mut copied = Vec::new();
                loop {
                    if copied.len() + 1 == size {
                        break;
                    }
                    let byte = self.bytes(region, at + copied.len() as i64, 1)?[0];
                    if byte == 0 {
                        break;
                    }
                    copied.push(byte);
                }
                copied.push(0);
                let n = copied.len();
                self.write_bytes(dst, &copied)?;
                Ok(Val::Scalar(n as u64))
            }
            // bpf_ringbuf_output(map, data, size, flags)
            130 => {
                let map = self.map_arg(1)?;
                if !matches!(self.exec.maps[map].store, Store::Ringbuf) {
                    return Err("ringbuf_output to a map that is not a ring buffer".into());
                }
                let size = self.scalar(3)? as usize;
                let record = self.read_bytes(self.get(2)?, size)?;
                // Only BPF_RB_NO_WAKEUP and BPF_RB_FORCE_WAKEUP are flags.
                if self.scalar(4)? & !3 != 0 {
                    return Ok(Val::Scalar((-EINVAL) as u64));
                }
                self.records.push(record);
                Ok(Val::Scalar(0))
            }
            // bpf_ringbuf_query(map, flags): nothing is consumed during a
            // run, so every record written is available data (8 bytes of
            // header each, its length rounded up to 8).
            134 => {
                let map = self.map_arg(1)?;
                if !matches!(self.exec.maps[map].store, Store::Ringbuf) {
                    return Err("ringbuf_query of a map that is not a ring buffer".into());
                }
                let written: u64 = self
                    .records
                    .iter()
                    .map(|r| 8 + (r.len() as u64).div_ceil(8) * 8)
                    .sum();
                Ok(Val::Scalar(match self.scalar(2)? {
                    // BPF_RB_AVAIL_DATA, BPF_RB_PROD_POS
                    0 | 3 => written,
                    // BPF_RB_RING_SIZE
                    1 => u64::from(self.exec.maps[map].def.max_entries),
                    // BPF_RB_CONS_POS; anything else is 0 in the kernel too
                    _ => 0,
                }))
            }
            other => Err(format!(
                "helper {other} is not modelled (a test-run program should not call it)"
            )),
        }
    }
}

fn size_of(code: u8) -> usize {
    match code & 0x18 {
        0x00 => 4,
        0x08 => 2,
        0x10 => 1,
        _ => 8,
    }
}

fn alu64(op: u8, a: u64, b: u64) -> Result<u64, String> {
    Ok(match op {
        0x00 => a.wrapping_add(b),
        0x10 => a.wrapping_sub(b),
        0x20 => a.wrapping_mul(b),
        0x30 => a.checked_div(b).unwrap_or(0),
        0x40 => a | b,
        0x50 => a & b,
        0x60 => a << (b & 63),
        0x70 => a >> (b & 63),
        0x80 => a.wrapping_neg(),
        0x90 => a.checked_rem(b).unwrap_or(a),
        0xa0 => a ^ b,
        0xc0 => ((a as i64) >> (b & 63)) as u64,
        other => return Err(format!("unknown ALU op {other:#x}")),
    })
}

fn alu32(op: u8, a: u32, b: u32) -> Result<u32, String> {
    Ok(match op {
        0x00 => a.wrapping_add(b),
        0x10 => a.wrapping_sub(b),
        0x20 => a.wrapping_mul(b),
        0x30 => a.checked_div(b).unwrap_or(0),
        0x40 => a | b,
        0x50 => a & b,
        0x60 => a << (b & 31),
        0x70 => a >> (b & 31),
        0x80 => a.wrapping_neg(),
        0x90 => a.checked_rem(b).unwrap_or(a),
        0xa0 => a ^ b,
        0xc0 => ((a as i32) >> (b & 31)) as u32,
        other => return Err(format!("unknown ALU op {other:#x}")),
    })
}

/// The entry whose prefix is the longest one matching `key`
/// (`{ u32 prefixlen; data }`), as the kernel's LPM trie answers.
fn lpm_lookup(entries: &[(Vec<u8>, Vec<u8>)], key: &[u8]) -> Option<usize> {
    let prefixlen = |k: &[u8]| u32::from_le_bytes([k[0], k[1], k[2], k[3]]);
    let want = prefixlen(key);
    let data = &key[4..];
    entries
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| {
            let len = prefixlen(k);
            len <= want
                && (0..len as usize).all(|bit| {
                    let mask = 0x80u8 >> (bit % 8);
                    k[4 + bit / 8] & mask == data[bit / 8] & mask
                })
        })
        .max_by_key(|(_, (k, _))| prefixlen(k))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asm(f: impl FnOnce(&mut polc::bpf::asm::Asm)) -> Vec<u64> {
        let mut a = polc::bpf::asm::Asm::new();
        f(&mut a);
        a.assemble().expect("assembles").slots
    }

    fn run_slots(slots: Vec<u64>) -> Result<Run, Fault> {
        let mut exec = Executor {
            map_at: vec![None; slots.len()],
            second_half: second_halves(&slots),
            slots,
            maps: vec![
                Map {
                    def: MapDef {
                        name: "c".into(),
                        kind: MapKind::PercpuArray,
                        key_size: 4,
                        value_size: 8,
                        max_entries: 1,
                        flags: 0,
                    },
                    store: Store::Array(vec![vec![0; 8]]),
                },
                Map {
                    def: MapDef {
                        name: "s".into(),
                        kind: MapKind::PercpuArray,
                        key_size: 4,
                        value_size: 8,
                        max_entries: 1,
                        flags: 0,
                    },
                    store: Store::Array(vec![vec![0; 8]]),
                },
            ],
            counters: 0,
            scratch: 1,
        };
        exec.run(&[7, 0, 0, 0, 0, 0, 0, 0], 1)
    }

    use polc::bpf::asm::{Alu, Jmp, Reg, Size};

    #[test]
    fn arithmetic_follows_the_kernel() {
        let run = run_slots(asm(|a| {
            a.load_imm64(Reg::R0, 0xffff_ffff_0000_0001);
            a.mov_imm(Reg::R1, 0);
            a.alu(Alu::Div, Reg::R0, Reg::R1); // / 0 = 0
            a.alu_imm(Alu::Add, Reg::R0, 5);
            a.mov_imm(Reg::R2, -1); // sign-extended
            a.mov32(Reg::R3, Reg::R2); // zero-extended
            a.alu(Alu::Add, Reg::R0, Reg::R3);
            a.exit();
        }))
        .expect("runs");
        assert_eq!(run.retval, 5 + 0xffff_ffff);
        assert_eq!(run.executed, 8);
    }

    #[test]
    fn jumps_loads_and_the_test_context() {
        // Copy the test context (at the address in args[0]) to the stack,
        // then branch on its first byte (7).
        let run = run_slots(asm(|a| {
            let big = a.label("big");
            a.load(Size::DoubleWord, Reg::R3, Reg::R1, 0);
            a.mov(Reg::R1, Reg::R10);
            a.alu_imm(Alu::Add, Reg::R1, -8);
            a.mov_imm(Reg::R2, 8);
            a.call(polc::bpf::asm::Helper::ProbeReadUser);
            a.load(Size::Byte, Reg::R2, Reg::R10, -8);
            a.mov_imm(Reg::R0, 1);
            a.jump_imm(Jmp::IfGreater, Reg::R2, 5, big);
            a.mov_imm(Reg::R0, 2);
            a.bind(big);
            a.exit();
        }))
        .expect("runs");
        assert_eq!((run.retval, run.executed), (1, 9));
    }

    #[test]
    fn faults_are_reported_not_hidden() {
        let clobbered = run_slots(asm(|a| {
            a.call(polc::bpf::asm::Helper::KtimeGetBootNs);
            a.mov(Reg::R0, Reg::R1);
            a.exit();
        }));
        assert!(clobbered.expect_err("r1 is clobbered").what.contains("r1"));
        let out_of_bounds = run_slots(asm(|a| {
            a.load(Size::DoubleWord, Reg::R0, Reg::R1, 4);
            a.exit();
        }));
        assert!(out_of_bounds
            .expect_err("past the context")
            .what
            .contains("offset 4"));
        let uninit_stack = run_slots(asm(|a| {
            a.load(Size::Word, Reg::R0, Reg::R10, -8);
            a.exit();
        }));
        assert!(uninit_stack.is_err());
    }

    #[test]
    fn lpm_lookups_take_the_longest_matching_prefix() {
        let key = |len: u32, data: [u8; 4]| {
            let mut k = len.to_le_bytes().to_vec();
            k.extend_from_slice(&data);
            k
        };
        let entries = vec![
            (key(8, [10, 0, 0, 0]), vec![1]),
            (key(16, [10, 1, 0, 0]), vec![1]),
            (key(32, [10, 1, 2, 3]), vec![1]),
        ];
        assert_eq!(lpm_lookup(&entries, &key(32, [10, 1, 2, 3])), Some(2));
        assert_eq!(lpm_lookup(&entries, &key(32, [10, 1, 9, 9])), Some(1));
        assert_eq!(lpm_lookup(&entries, &key(32, [10, 2, 0, 0])), Some(0));
        assert_eq!(lpm_lookup(&entries, &key(32, [11, 0, 0, 0])), None);
        assert_eq!(lpm_lookup(&entries, &key(12, [10, 1, 2, 3])), Some(0));
    }
}
