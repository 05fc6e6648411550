//! Instruction selection for leaf tests: int compares, word-sized string
//! compares bounded by the field's maximum length, network compares, set
//! map lookups (hash for exact match, LPM trie for prefixes and networks),
//! and string automata run over the field's whole buffer.
//!
//! Every test reads its field from the scratch slot the field was loaded
//! into; strings have their length (without the NUL) in the aux area, and the
//! bytes after the NUL are unspecified, so string compares check the length
//! first and never look past it. An automaton reads every byte of the
//! buffer: the NUL that every string load writes after the string (or the
//! NUL padding of `bpf_get_current_comm`) takes it to an absorbing state,
//! so what lies after it changes nothing.

use std::net::IpAddr;

use super::flow::R1;
use super::{jump_cmp_u64, Emitter};
use crate::bpf::asm::{Alu, Asm, Helper, Jmp, Label, Reg, Size};
use crate::check::hooks::{FieldId, FieldSource, FieldType, AF_INET, AF_INET6};
use crate::check::policy::CmpOp;
use crate::ir::{AutomatonDef, Leaf, LeafKind, Net, SetKind};

/// Emits code that jumps to `target` when `leaf` is `when` and falls through
/// otherwise.
pub(super) fn branch(e: &mut Emitter<'_>, leaf: &Leaf, target: Label, when: bool) {
    let slot = e.env.layout.slot(leaf.field);
    match &leaf.kind {
        LeafKind::Int { op, value } => {
            let op = if when { *op } else { negate(*op) };
            load_value(e, leaf.field, slot);
            jump_cmp_u64(&mut e.asm, jump_op(op), Reg::R1, *value, target);
        }
        LeafKind::Bool => {
            load_value(e, leaf.field, slot);
            let op = if when { Jmp::IfNotEqual } else { Jmp::IfEqual };
            e.asm.jump_imm(op, Reg::R1, 0, target);
        }
        LeafKind::FieldCmp { op, other } => {
            let op = if when { *op } else { negate(*op) };
            let other_slot = e.env.layout.slot(*other);
            load_value(e, leaf.field, slot);
            e.asm.load(Size::DoubleWord, Reg::R2, Reg::R7, other_slot);
            e.asm.jump_reg(jump_op(op), Reg::R1, Reg::R2, target);
        }
        LeafKind::Bits { mask, all } => {
            load_value(e, leaf.field, slot);
            super::fields::apply_mask(&mut e.asm, *mask);
            let (op, value) = match (*all, when) {
                (true, true) => (Jmp::IfEqual, *mask),
                (true, false) => (Jmp::IfNotEqual, *mask),
                (false, true) => (Jmp::IfNotEqual, 0),
                (false, false) => (Jmp::IfEqual, 0),
            };
            jump_cmp_u64(&mut e.asm, op, Reg::R1, value, target);
        }
        _ if !when => check(e, leaf, target),
        _ => {
            let skip = e.asm.label("no");
            check(e, leaf, skip);
            e.asm.goto(target);
            e.asm.bind(skip);
        }
    }
}

/// What r1 holds after the code of `leaf` (and at each of its jumps):
/// int and bool tests leave the field's value, equality and prefix tests
/// the string's length; the others something unknown.
pub(super) fn r1_after(e: &Emitter<'_>, leaf: &Leaf) -> Option<R1> {
    match leaf.kind {
        LeafKind::Int { .. } | LeafKind::Bool | LeafKind::FieldCmp { .. } => {
            Some(R1::Value(leaf.field))
        }
        LeafKind::StrEq(_) | LeafKind::StrPrefix(_) if !without_len(e, leaf.field) => {
            Some(R1::Len(leaf.field))
        }
        _ => None,
    }
}

/// Whether `field` is read without its length (`proc.comm` through
/// `bpf_get_current_comm`, NUL-padded).
pub(super) fn without_len(e: &Emitter<'_>, field: FieldId) -> bool {
    (e.comm_without_len && super::kernel_source(e.program, field) == Some(FieldSource::Comm))
        || e.comm_in_place.contains(&field)
}

/// `r1 = field's value`, unless r1 holds it already.
fn load_value(e: &mut Emitter<'_>, field: FieldId, slot: i16) {
    if !e.r1_holds(R1::Value(field)) {
        e.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, slot);
    }
}

/// `r1 = field's length`, unless r1 holds it already.
fn load_len(e: &mut Emitter<'_>, field: FieldId) {
    if !e.r1_holds(R1::Len(field)) {
        let len = e.env.layout.len_slot(field);
        e.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, len);
    }
}

fn negate(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Ge => CmpOp::Lt,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
    }
}

fn jump_op(op: CmpOp) -> Jmp {
    match op {
        CmpOp::Eq => Jmp::IfEqual,
        CmpOp::Ne => Jmp::IfNotEqual,
        CmpOp::Lt => Jmp::IfLessThan,
        CmpOp::Le => Jmp::IfLessThanOrEqual,
        CmpOp::Gt => Jmp::IfGreater,
        CmpOp::Ge => Jmp::IfGreaterOrEqual,
    }
}

/// Emits code that falls through when `leaf` holds and jumps to `fail` otherwise.
fn check(e: &mut Emitter<'_>, leaf: &Leaf, fail: Label) {
    let field = leaf.field;
    let slot = e.env.layout.slot(field);
    let max = match field.spec().ty {
        FieldType::Str { max } => i32::from(max),
        _ => 0,
    };
    match &leaf.kind {
        LeafKind::Int { .. }
        | LeafKind::Bool
        | LeafKind::Bits { .. }
        | LeafKind::FieldCmp { .. } => {
            branch(e, leaf, fail, false);
        }
        LeafKind::StrEq(lit) if without_len(e, field) => {
            // The literal and its NUL: the buffer is NUL-padded.
            let mut with_nul = lit.clone();
            with_nul.push(0);
            bytes_eq(&mut e.asm, Reg::R7, slot, &with_nul, fail);
        }
        LeafKind::StrPrefix(lit) if without_len(e, field) => {
            // A shorter string has its NUL where the literal has a byte.
            bytes_eq(&mut e.asm, Reg::R7, slot, lit, fail);
        }
        LeafKind::StrEq(lit) => {
            load_len(e, field);
            jump_cmp_u64(&mut e.asm, Jmp::IfNotEqual, Reg::R1, lit.len() as u64, fail);
            bytes_eq(&mut e.asm, Reg::R7, slot, lit, fail);
        }
        LeafKind::StrPrefix(lit) => {
            load_len(e, field);
            e.asm
                .jump_imm(Jmp::IfLessThan, Reg::R1, lit.len() as i32, fail);
            bytes_eq(&mut e.asm, Reg::R7, slot, lit, fail);
        }
        LeafKind::StrSuffix(lit) => {
            let n = lit.len() as i32;
            load_len(e, field);
            e.asm.jump_imm(Jmp::IfLessThan, Reg::R1, n, fail);
            e.asm.alu_imm(Alu::Add, Reg::R1, -n);
            // The bound the verifier needs for the variable offset below.
            e.asm.jump_imm(Jmp::IfGreater, Reg::R1, max - 1 - n, fail);
            e.asm.mov(Reg::R2, Reg::R7);
            e.asm.alu(Alu::Add, Reg::R2, Reg::R1);
            bytes_eq(&mut e.asm, Reg::R2, slot, lit, fail);
        }
        LeafKind::Scan(automaton) if e.direct.contains(&(field, *automaton)) => {
            let lit = e.env.automata[automaton.0 as usize].automaton.literals[0].clone();
            search(e, field, slot, max, &lit, fail)
        }
        LeafKind::Scan(automaton) => {
            let def = &e.env.automata[automaton.0 as usize];
            scan(e, slot, max, def, fail)
        }
        LeafKind::Ip(net) => {
            let family = known_family(e, field);
            ip_in(&mut e.asm, slot, net, family, fail)
        }
        LeafKind::InSet(set) => {
            let map = e.env.maps.set(*set);
            // A NUL-padded buffer needs no length check: a string too long
            // for the keys has no NUL in the key's bytes, and every key has.
            if let (SetKind::StrHash { key_len }, false) =
                (e.env.sets[set.0 as usize].kind, without_len(e, field))
            {
                load_len(e, field);
                e.asm
                    .jump_imm(Jmp::IfGreaterOrEqual, Reg::R1, key_len as i32, fail);
            }
            lookup(&mut e.asm, map, slot, fail);
        }
        LeafKind::PrefixInSet(set) => {
            let map = e.env.maps.set(*set);
            let SetKind::StrPrefix { data_len } = e.env.sets[set.0 as usize].kind else {
                panic!("internal error: prefix test on a non-prefix set");
            };
            let len = e.env.layout.len_slot(field);
            let short = e.asm.label("short");
            e.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, len);
            e.asm
                .jump_imm(Jmp::IfLessThanOrEqual, Reg::R1, data_len as i32, short);
            e.asm.mov_imm(Reg::R1, data_len as i32);
            e.asm.bind(short);
            e.asm
                .note("LPM key { u32 prefixlen = min(len, data_len) * 8; data } in place");
            e.asm.alu_imm(Alu::Lhs, Reg::R1, 3);
            e.asm.store(Size::Word, Reg::R7, slot - 4, Reg::R1);
            lookup(&mut e.asm, map, slot - 4, fail);
        }
        LeafKind::IdentityIn(set) => {
            let at = e
                .env
                .layout
                .identity_sets(field)
                .expect("internal error: an identity test without identity sets");
            let word = at + 8 * (set.0 / 64);
            e.asm
                .note("the same file by identity: its bit among the identity sets");
            e.asm.load(Size::DoubleWord, Reg::R1, Reg::R7, word as i16);
            let bit = 1u64 << (set.0 % 64);
            super::fields::apply_mask(&mut e.asm, bit);
            e.asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, fail);
        }
        LeafKind::IpInSet(set) => {
            let map = e.env.maps.set(*set);
            let (family, bits) = match e.env.sets[set.0 as usize].kind {
                SetKind::Ip4 => (AF_INET, 32),
                _ => (AF_INET6, 128),
            };
            if known_family(e, field) != Some(family) {
                e.asm.load(Size::Word, Reg::R1, Reg::R7, slot);
                e.asm
                    .jump_imm(Jmp::IfNotEqual, Reg::R1, family as i32, fail);
            }
            e.asm.store_imm(Size::Word, Reg::R7, slot + 4, bits);
            lookup(&mut e.asm, map, slot + 4, fail);
        }
    }
}

/// `if !bpf_map_lookup_elem(map, r7 + key) goto fail`.
fn lookup(asm: &mut Asm, map: crate::bpf::asm::MapId, key: i16, fail: Label) {
    asm.load_map(Reg::R1, map);
    asm.mov(Reg::R2, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R2, i32::from(key));
    asm.call(Helper::MapLookupElem);
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, fail);
}

/// Compares `lit.len()` bytes at `base + off` with `lit`: 8-byte words, then
/// a 4-, 2- and 1-byte tail; jumps to `fail` at the first difference.
/// Uses r3 (and r5 for wide immediates).
pub(super) fn bytes_eq(asm: &mut Asm, base: Reg, off: i16, lit: &[u8], fail: Label) {
    let mut at = 0usize;
    for (size, width) in [
        (Size::DoubleWord, 8usize),
        (Size::Word, 4),
        (Size::HalfWord, 2),
        (Size::Byte, 1),
    ] {
        while lit.len() - at >= width {
            let mut word = [0u8; 8];
            word[..width].copy_from_slice(&lit[at..at + width]);
            asm.load(size, Reg::R3, base, off + at as i16);
            jump_cmp_u64(
                asm,
                Jmp::IfNotEqual,
                Reg::R3,
                u64::from_le_bytes(word),
                fail,
            );
            at += width;
            if width < 8 {
                break;
            }
        }
    }
}

/// Most conditional jumps on one path that the direct searches of a
/// program may add (see [`direct_searches`]): the verifier's pending
/// branches are bounded (E0402), and a search has one or two per position
/// where an automaton has one per [`SCAN_CHECK_EVERY`] bytes.
const DIRECT_SEARCH_BRANCHES: usize = 2_200;

/// The `contains` tests of one literal that [`search`] decides instead of
/// an automaton, as `(field, automaton)`: those of string fields of at most
/// 512 bytes read with their length, in the order the program first tests
/// them, while their conditional jumps on one path (every occurrence of
/// each) stay within [`DIRECT_SEARCH_BRANCHES`]. The others scan.
pub(super) fn direct_searches(
    e: &Emitter<'_>,
) -> std::collections::BTreeSet<(FieldId, crate::ir::AutomatonId)> {
    let mut order: Vec<((FieldId, crate::ir::AutomatonId), usize)> = Vec::new();
    for leaf in e.program.leaves() {
        let LeafKind::Scan(id) = leaf.kind else {
            continue;
        };
        let automaton = &e.env.automata[id.0 as usize].automaton;
        let FieldType::Str { max } = leaf.field.spec().ty else {
            continue;
        };
        if automaton.kind != crate::ir::automaton::ScanKind::Contains
            || automaton.literals.len() != 1
            || max > 512
            || without_len(e, leaf.field)
            || leaf.field.spec().resolved_path
        {
            continue;
        }
        match order.iter_mut().find(|(key, _)| *key == (leaf.field, id)) {
            Some((_, n)) => *n += 1,
            None => order.push(((leaf.field, id), 1)),
        }
    }
    let mut total = 0;
    let mut chosen = std::collections::BTreeSet::new();
    for ((field, id), n) in order {
        let FieldType::Str { max } = field.spec().ty else {
            continue;
        };
        let l = e.env.automata[id.0 as usize].automaton.literals[0].len();
        let positions = usize::from(max).saturating_sub(l);
        let per_position = match l {
            0..=8 => 1,
            9..=16 => 2,
            _ => 2 + (l - 8).div_ceil(4),
        };
        let cost = n * (positions * per_position + positions / l.clamp(1, 8) + 2);
        if total + cost <= DIRECT_SEARCH_BRANCHES {
            total += cost;
            chosen.insert((field, id));
        }
    }
    chosen
}

/// Jumps to `fail` unless `lit` (no NUL in it) occurs in the string at
/// `slot`: its first (up to) 8 bytes compared at each start position in
/// turn, one load and one compare, the rest only where they match. The
/// positions past the last start are checked every `min(len, 8)`
/// positions only: those tested in between overlap the NUL right after
/// the string, which the literal does not have. Uses r0-r5.
fn search(e: &mut Emitter<'_>, field: FieldId, slot: i16, max: i32, lit: &[u8], fail: Label) {
    let len_slot = e.env.layout.len_slot(field);
    let asm = &mut e.asm;
    let l = lit.len();
    asm.note(format!(
        "search: contains {:?} over {max} bytes",
        String::from_utf8_lossy(lit)
    ));
    let last = max - 1 - l as i32;
    if last < 0 || l == 0 {
        asm.goto(fail);
        return;
    }
    let word = |bytes: &[u8]| {
        let mut w = [0u8; 8];
        w[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(w)
    };
    let mask = |n: usize| u64::MAX >> (8 * (8 - n));
    let size = |n: usize| match n {
        1 => (Size::Byte, false),
        2 => (Size::HalfWord, false),
        4 => (Size::Word, false),
        8 => (Size::DoubleWord, false),
        _ => (Size::DoubleWord, true),
    };
    // r0: the last start position.
    asm.load(Size::DoubleWord, Reg::R0, Reg::R7, len_slot);
    asm.jump_imm(Jmp::IfLessThan, Reg::R0, l as i32, fail);
    asm.alu_imm(Alu::Add, Reg::R0, -(l as i32));
    let head = &lit[..l.min(8)];
    let rest = &lit[head.len()..];
    let (size0, masked0) = size(head.len());
    asm.load_imm64(Reg::R1, word(head));
    if masked0 {
        asm.load_imm64(Reg::R2, mask(head.len()));
    }
    let second = (!rest.is_empty() && rest.len() <= 8).then(|| size(rest.len()));
    if let Some((_, masked1)) = second {
        asm.load_imm64(Reg::R4, word(rest));
        if masked1 {
            asm.load_imm64(Reg::R2, mask(rest.len()));
        }
    }
    let step = l.min(8) as i32;
    let found = asm.label("found");
    for p in 0..=last {
        // (Position 0 is a start: the length is at least the literal's.)
        if p % step == 0 && p > 0 {
            asm.jump_imm(Jmp::IfLessThan, Reg::R0, p, fail);
        }
        if p % 32 == 31 {
            asm.island_point();
        }
        let at = slot + p as i16;
        asm.load(size0, Reg::R3, Reg::R7, at);
        if masked0 {
            asm.alu(Alu::And, Reg::R3, Reg::R2);
        }
        if rest.is_empty() {
            asm.jump_reg(Jmp::IfEqual, Reg::R3, Reg::R1, found);
            continue;
        }
        let next = asm.label("not_here");
        asm.jump_reg(Jmp::IfNotEqual, Reg::R3, Reg::R1, next);
        match second {
            Some((size1, masked1)) => {
                asm.load(size1, Reg::R3, Reg::R7, at + 8);
                if masked1 {
                    asm.alu(Alu::And, Reg::R3, Reg::R2);
                }
                asm.jump_reg(Jmp::IfEqual, Reg::R3, Reg::R4, found);
            }
            None => {
                // (r3 and r5: r0, r1 and r2 are kept.)
                bytes_eq(asm, Reg::R7, at + 8, rest, next);
                asm.goto(found);
            }
        }
        asm.bind(next);
    }
    asm.goto(fail);
    asm.bind(found);
}

/// Bytes scanned between two checks for an absorbing state: a scan ends
/// early (a short string, an early occurrence) with one conditional jump
/// per this many bytes, whatever the number of strings.
const SCAN_CHECK_EVERY: i32 = 16;

/// Runs the automaton of `def` over the `max` bytes of the buffer at
/// `slot` and jumps to `fail` unless it accepts. No conditional jump per
/// byte: r2 holds the state (premultiplied by the number of classes), and
/// each byte is a class lookup and a transition lookup, the transition
/// index masked into the table. Uses r0-r5.
fn scan(e: &mut Emitter<'_>, slot: i16, max: i32, def: &AutomatonDef, fail: Label) {
    let map = e
        .env
        .maps
        .automata
        .expect("internal error: an automaton without the automata map");
    let automaton = &def.automaton;
    let n_classes = automaton.n_classes as i32;
    // Tables too large for an immediate are rejected by the measurement
    // (E0404) long before this mask would wrap.
    let mask = (automaton.table_entries() - 1) as i32;
    let absorbing = (automaton.n_states as i32 - 2) * n_classes;
    let asm = &mut e.asm;
    asm.note(format!(
        "scan: {} over {max} bytes, {} states x {n_classes} classes",
        def.purpose, automaton.n_states
    ));
    asm.store_imm(Size::Word, Reg::R10, super::FP_KEY, 0);
    asm.load_map(Reg::R1, map);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, i32::from(super::FP_KEY));
    asm.call(Helper::MapLookupElem);
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, fail);
    asm.mov(Reg::R4, Reg::R0);
    if def.offset > 0 {
        asm.alu_imm(Alu::Add, Reg::R4, def.offset as i32);
    }
    asm.mov_imm(Reg::R2, 0);
    let done = asm.label("scanned");
    for i in 0..max {
        if i > 0 && i % SCAN_CHECK_EVERY == 0 {
            asm.jump_imm(Jmp::IfGreaterOrEqual, Reg::R2, absorbing, done);
        }
        if i % 64 == 63 {
            asm.island_point();
        }
        asm.load(Size::Byte, Reg::R3, Reg::R7, slot + i as i16);
        asm.alu(Alu::Add, Reg::R3, Reg::R4);
        asm.load(Size::Byte, Reg::R3, Reg::R3, 0);
        asm.alu(Alu::Add, Reg::R2, Reg::R3);
        asm.alu_imm(Alu::And, Reg::R2, mask);
        asm.alu_imm(Alu::Lhs, Reg::R2, 2);
        asm.alu(Alu::Add, Reg::R2, Reg::R4);
        asm.load(Size::Word, Reg::R2, Reg::R2, 256);
    }
    asm.bind(done);
    let accept = automaton.accept() as i32 * n_classes;
    asm.jump_imm(Jmp::IfNotEqual, Reg::R2, accept, fail);
}

/// The address family an ip field always has in this program, when its
/// source fixes it (`cgroup/connect4` and `bind4` see IPv4 only; lowering
/// has already folded the tests of the other family away).
fn known_family(e: &Emitter<'_>, field: FieldId) -> Option<u64> {
    match super::kernel_source(e.program, field) {
        Some(FieldSource::SockAddrCtxIp4) => Some(AF_INET),
        _ => None,
    }
}

/// Family check (unless the family is `known`), then the masked address
/// words.
fn ip_in(asm: &mut Asm, slot: i16, net: &Net, known: Option<u64>, fail: Label) {
    let (family, bytes): (u64, Vec<u8>) = match net.addr {
        IpAddr::V4(a) => (AF_INET, a.octets().to_vec()),
        IpAddr::V6(a) => (AF_INET6, a.octets().to_vec()),
    };
    if known != Some(family) {
        asm.load(Size::Word, Reg::R1, Reg::R7, slot);
        asm.jump_imm(Jmp::IfNotEqual, Reg::R1, family as i32, fail);
    }
    let word_len = if family == AF_INET { 4 } else { 8 };
    let prefix = usize::from(net.prefix);
    for (i, chunk) in bytes.chunks(word_len).enumerate() {
        let first_bit = i * word_len * 8;
        if prefix <= first_bit {
            break;
        }
        let mut mask = vec![0u8; word_len];
        for bit in 0..(prefix - first_bit).min(word_len * 8) {
            mask[bit / 8] |= 0x80 >> (bit % 8);
        }
        let mut m = [0u8; 8];
        m[..word_len].copy_from_slice(&mask);
        let mut v = [0u8; 8];
        v[..word_len].copy_from_slice(chunk);
        let (mask, value) = (u64::from_le_bytes(m), u64::from_le_bytes(v));
        let size = if word_len == 4 {
            Size::Word
        } else {
            Size::DoubleWord
        };
        asm.load(size, Reg::R1, Reg::R7, slot + 8 + (i * word_len) as i16);
        let full = if word_len == 4 {
            u64::from(u32::MAX)
        } else {
            u64::MAX
        };
        if mask != full {
            match i32::try_from(mask) {
                Ok(imm) if imm >= 0 => asm.alu_imm(Alu::And, Reg::R1, imm),
                _ => {
                    asm.load_imm64(Reg::R2, mask);
                    asm.alu(Alu::And, Reg::R1, Reg::R2);
                }
            }
        }
        jump_cmp_u64(asm, Jmp::IfNotEqual, Reg::R1, value & mask, fail);
    }
}
