//! `.BTF` and `.BTF.ext` encoding: the type table, the string table, and the
//! func info, line info and CO-RE relocation records of one object. Knows the
//! byte formats of `include/uapi/linux/btf.h` and of libbpf's `.BTF.ext`;
//! knows nothing of ELF (`elf.rs` places the bytes in sections).
//!
//! Type ids are assigned in this fixed order, so the same image always gives
//! the same bytes:
//!
//! 1. `int` (signed, 4 bytes), `__ARRAY_SIZE_TYPE__` (the index type of every
//!    array, as clang names it), `void *`;
//! 2. per map, in image order: an `int (*)[N]` pointer-to-array for each
//!    field value not seen before (shared between maps), the anonymous map
//!    struct, then its `VAR` (global, allocated); after the last map, one
//!    `DATASEC .maps` with each variable's real offset and size, sorted by
//!    offset, and the section's real size (clang leaves these zero for the
//!    loader to fill in; we know them);
//! 3. one `FUNC_PROTO` `int (void *ctx)` shared by every program, then one
//!    global `FUNC` per program named after its symbol;
//! 4. the local kernel struct shapes the object's CO-RE relocations need
//!    (`co_re::SHAPES` order), then the scalar, array and pointer types their
//!    members use.
//!
//! `.BTF.ext` carries, per program section: one func info record (offset 0,
//! the program's `FUNC`); line info records, byte offsets of instructions,
//! each naming the policy file, the line's text and `line << 10` (column 0),
//! the first always at offset 0 (the kernel requires it; a line-0 record with
//! empty text covers code emitted before the first source line); and one
//! `BPF_CORE_FIELD_BYTE_OFFSET` record per relocated instruction (byte
//! offset, the root struct's type id, access string `0:<member index>`).
//! A subsection with no records is left out entirely (libbpf refuses one
//! that holds only its record size).

use std::collections::HashMap;

use super::co_re::{self, MemberRef, MemberType, SHAPES};
use super::{MapDef, MapKind, ObjectError, ObjectImage};
use crate::bpf::asm::Assembled;

// Type kinds (`BTF_KIND_*`).
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_CONST: u32 = 10;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;

const BTF_MAGIC: u16 = 0xeb9f;
const BTF_VERSION: u8 = 1;
const BTF_HEADER_LEN: u32 = 24;
const BTF_EXT_HEADER_LEN: u32 = 32;
const INT_SIGNED: u32 = 1;
const FUNC_GLOBAL: u32 = 1;
const VAR_GLOBAL_ALLOCATED: u32 = 1;
const CORE_FIELD_BYTE_OFFSET: u32 = 0;
/// Line numbers take the upper 22 bits of `line_col`.
const MAX_LINE: u32 = (1 << 22) - 1;
/// `vlen` is 16 bits wide.
const MAX_VLEN: usize = 0xffff;

/// One BTF type, with string offsets and type ids already resolved.
#[derive(Clone, Debug)]
enum Type {
    Int {
        name: u32,
        size: u32,
        encoding: u32,
        bits: u32,
    },
    Ptr(u32),
    Const(u32),
    Array {
        elem: u32,
        index: u32,
        len: u32,
    },
    Struct {
        name: u32,
        size: u32,
        members: Vec<Member>,
    },
    FuncProto {
        ret: u32,
        params: Vec<(u32, u32)>,
    },
    Func {
        name: u32,
        proto: u32,
    },
    Var {
        name: u32,
        ty: u32,
    },
    DataSec {
        name: u32,
        size: u32,
        vars: Vec<SecVar>,
    },
}

#[derive(Clone, Debug)]
struct Member {
    name: u32,
    ty: u32,
    bit_offset: u32,
}

#[derive(Clone, Debug)]
struct SecVar {
    var: u32,
    offset: u32,
    size: u32,
}

/// The string table: offset 0 is the empty string; equal strings share one
/// entry.
#[derive(Debug)]
struct Strings {
    bytes: Vec<u8>,
    offsets: HashMap<String, u32>,
}

impl Strings {
    fn new() -> Strings {
        Strings {
            bytes: vec![0],
            offsets: HashMap::new(),
        }
    }

    /// Offset of `text` (cut at its first NUL, which C strings cannot hold).
    fn add(&mut self, text: &str) -> u32 {
        let text = text.split('\0').next().unwrap_or_default();
        if text.is_empty() {
            return 0;
        }
        if let Some(offset) = self.offsets.get(text) {
            return *offset;
        }
        // An offset past u32 makes the table too large; `encode` reports it.
        let offset = u32::try_from(self.bytes.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(text.as_bytes());
        self.bytes.push(0);
        self.offsets.insert(text.to_string(), offset);
        offset
    }
}

/// A type table being built; ids start at 1 (0 is `void`).
#[derive(Debug)]
struct Types {
    types: Vec<Type>,
    strings: Strings,
}

fn len_u32(len: usize) -> Result<u32, ObjectError> {
    u32::try_from(len).map_err(|_| ObjectError::TooLarge)
}

fn vlen(len: usize) -> Result<u32, ObjectError> {
    if len > MAX_VLEN {
        return Err(ObjectError::TooLarge);
    }
    len_u32(len)
}

fn put(out: &mut Vec<u8>, words: &[u32]) {
    for word in words {
        out.extend_from_slice(&word.to_le_bytes());
    }
}

impl Types {
    fn new() -> Types {
        Types {
            types: Vec::new(),
            strings: Strings::new(),
        }
    }

    fn add(&mut self, ty: Type) -> u32 {
        self.types.push(ty);
        self.types.len() as u32
    }

    fn replace(&mut self, id: u32, ty: Type) {
        self.types[id as usize - 1] = ty;
    }

    /// The whole `.BTF` section.
    fn encode(&self) -> Result<Vec<u8>, ObjectError> {
        let mut types = Vec::new();
        for ty in &self.types {
            encode_type(ty, &mut types)?;
        }
        let type_len = len_u32(types.len())?;
        let str_len = len_u32(self.strings.bytes.len())?;
        let mut out = Vec::with_capacity(BTF_HEADER_LEN as usize + types.len() + str_len as usize);
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[BTF_VERSION, 0]);
        put(&mut out, &[BTF_HEADER_LEN, 0, type_len, type_len, str_len]);
        out.extend_from_slice(&types);
        out.extend_from_slice(&self.strings.bytes);
        Ok(out)
    }
}

fn info(kind: u32, vlen: u32) -> u32 {
    (kind << 24) | vlen
}

fn encode_type(ty: &Type, out: &mut Vec<u8>) -> Result<(), ObjectError> {
    match ty {
        Type::Int {
            name,
            size,
            encoding,
            bits,
        } => put(
            out,
            &[*name, info(KIND_INT, 0), *size, (encoding << 24) | bits],
        ),
        Type::Ptr(target) => put(out, &[0, info(KIND_PTR, 0), *target]),
        Type::Const(target) => put(out, &[0, info(KIND_CONST, 0), *target]),
        Type::Array { elem, index, len } => {
            put(out, &[0, info(KIND_ARRAY, 0), 0, *elem, *index, *len]);
        }
        Type::Struct {
            name,
            size,
            members,
        } => {
            put(
                out,
                &[*name, info(KIND_STRUCT, vlen(members.len())?), *size],
            );
            for member in members {
                put(out, &[member.name, member.ty, member.bit_offset]);
            }
        }
        Type::FuncProto { ret, params } => {
            put(out, &[0, info(KIND_FUNC_PROTO, vlen(params.len())?), *ret]);
            for (name, ty) in params {
                put(out, &[*name, *ty]);
            }
        }
        Type::Func { name, proto } => put(out, &[*name, info(KIND_FUNC, FUNC_GLOBAL), *proto]),
        Type::Var { name, ty } => put(out, &[*name, info(KIND_VAR, 0), *ty, VAR_GLOBAL_ALLOCATED]),
        Type::DataSec { name, size, vars } => {
            put(out, &[*name, info(KIND_DATASEC, vlen(vars.len())?), *size]);
            for var in vars {
                put(out, &[var.var, var.offset, var.size]);
            }
        }
    }
    Ok(())
}

/// The fields of a map's BTF definition, each written as `int (*name)[value]`.
/// A ring buffer has only its type and size.
pub(super) fn map_fields(def: &MapDef) -> Vec<(&'static str, u32)> {
    let mut fields = vec![("type", def.kind as u32), ("max_entries", def.max_entries)];
    if def.kind != MapKind::Ringbuf {
        fields.extend([
            ("key_size", def.key_size),
            ("value_size", def.value_size),
            ("map_flags", def.flags),
        ]);
    }
    fields
}

/// Size in bytes of a map's definition struct in `.maps`: one pointer per field.
pub(super) fn map_def_size(def: &MapDef) -> u32 {
    8 * map_fields(def).len() as u32
}

/// Where one map's definition sits in `.maps`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct MapSlot {
    pub offset: u32,
    pub size: u32,
}

/// What the BTF writer needs beyond the image: the `.maps` layout and each
/// program's CO-RE relocations resolved against the local shapes.
#[derive(Debug)]
pub(super) struct BtfInput<'a> {
    pub image: &'a ObjectImage,
    pub map_slots: &'a [MapSlot],
    pub maps_size: u32,
    /// Per program, `(slot, member)` of every relocated instruction.
    pub core: &'a [Vec<(u32, MemberRef)>],
}

/// The encoded `.BTF` and `.BTF.ext` sections.
#[derive(Debug)]
pub(super) struct Encoded {
    pub btf: Vec<u8>,
    /// `None` for an object without programs.
    pub ext: Option<Vec<u8>>,
}

/// Builds both sections for one object.
pub(super) fn build(input: &BtfInput<'_>) -> Result<Encoded, ObjectError> {
    let image = input.image;
    let mut types = Types::new();
    let int_name = types.strings.add("int");
    let int = types.add(Type::Int {
        name: int_name,
        size: 4,
        encoding: INT_SIGNED,
        bits: 32,
    });
    let index_name = types.strings.add("__ARRAY_SIZE_TYPE__");
    let index = types.add(Type::Int {
        name: index_name,
        size: 4,
        encoding: 0,
        bits: 32,
    });
    let void_ptr = types.add(Type::Ptr(0));

    add_maps(&mut types, input, int, index)?;

    let mut func_ids = Vec::with_capacity(image.programs.len());
    if !image.programs.is_empty() {
        let ctx = types.strings.add("ctx");
        let proto = types.add(Type::FuncProto {
            ret: int,
            params: vec![(ctx, void_ptr)],
        });
        for program in &image.programs {
            let name = types.strings.add(&program.symbol);
            func_ids.push(types.add(Type::Func { name, proto }));
        }
    }

    let shape_ids = add_shapes(&mut types, input, int, index, void_ptr)?;

    let ext = build_ext(&mut types, input, &func_ids, &shape_ids)?;
    Ok(Encoded {
        btf: types.encode()?,
        ext,
    })
}

fn add_maps(
    types: &mut Types,
    input: &BtfInput<'_>,
    int: u32,
    index: u32,
) -> Result<(), ObjectError> {
    let maps = &input.image.maps;
    if maps.is_empty() {
        return Ok(());
    }
    let mut field_types: HashMap<u32, u32> = HashMap::new();
    let mut vars = Vec::with_capacity(maps.len());
    for (def, slot) in maps.iter().zip(input.map_slots) {
        let mut members = Vec::new();
        for (bit_offset, (field, value)) in (0u32..).step_by(64).zip(map_fields(def)) {
            let ty = match field_types.get(&value) {
                Some(ty) => *ty,
                None => {
                    let array = types.add(Type::Array {
                        elem: int,
                        index,
                        len: value,
                    });
                    let ptr = types.add(Type::Ptr(array));
                    field_types.insert(value, ptr);
                    ptr
                }
            };
            let name = types.strings.add(field);
            members.push(Member {
                name,
                ty,
                bit_offset,
            });
        }
        let strukt = types.add(Type::Struct {
            name: 0,
            size: slot.size,
            members,
        });
        let name = types.strings.add(&def.name);
        let var = types.add(Type::Var { name, ty: strukt });
        vars.push(SecVar {
            var,
            offset: slot.offset,
            size: slot.size,
        });
    }
    vars.sort_by_key(|var| var.offset);
    let name = types.strings.add(".maps");
    types.add(Type::DataSec {
        name,
        size: input.maps_size,
        vars,
    });
    Ok(())
}

/// Type ids of the members of the local shapes, each type added once.
struct MemberTypes<'t> {
    types: &'t mut Types,
    int: u32,
    index: u32,
    void_ptr: u32,
    shape_ids: Vec<u32>,
    added: HashMap<MemberType, u32>,
    char_id: Option<u32>,
}

impl MemberTypes<'_> {
    fn char(&mut self) -> u32 {
        if let Some(id) = self.char_id {
            return id;
        }
        let name = self.types.strings.add("char");
        let id = self.types.add(Type::Int {
            name,
            size: 1,
            encoding: INT_SIGNED,
            bits: 8,
        });
        self.char_id = Some(id);
        id
    }

    fn shape(&self, name: &str) -> u32 {
        co_re::shape_index(name).map_or(0, |i| self.shape_ids[i])
    }

    fn id(&mut self, ty: MemberType) -> u32 {
        match ty {
            MemberType::Int => return self.int,
            MemberType::VoidPtr => return self.void_ptr,
            MemberType::Struct(name) => return self.shape(name),
            _ => {}
        }
        if let Some(id) = self.added.get(&ty) {
            return *id;
        }
        let mut unsigned = |name: &str, size: u32| {
            let name = self.types.strings.add(name);
            self.types.add(Type::Int {
                name,
                size,
                encoding: 0,
                bits: size * 8,
            })
        };
        let id = match ty {
            MemberType::UInt => unsigned("unsigned int", 4),
            MemberType::UShort => unsigned("unsigned short", 2),
            MemberType::ULong => unsigned("unsigned long", 8),
            MemberType::CharArray(len) => {
                let elem = self.char();
                self.types.add(Type::Array {
                    elem,
                    index: self.index,
                    len,
                })
            }
            MemberType::ConstCharPtr => {
                let elem = self.char();
                let constant = self.types.add(Type::Const(elem));
                self.types.add(Type::Ptr(constant))
            }
            MemberType::StructPtr(name) => {
                let target = self.shape(name);
                self.types.add(Type::Ptr(target))
            }
            MemberType::StructArray(name) => {
                let elem = self.shape(name);
                self.types.add(Type::Array {
                    elem,
                    index: self.index,
                    len: 0,
                })
            }
            MemberType::Int | MemberType::VoidPtr | MemberType::Struct(_) => 0,
        };
        self.added.insert(ty, id);
        id
    }
}

/// Adds the shapes the CO-RE relocations need; returns the type id of each
/// shape (0 for a shape not needed).
fn add_shapes(
    types: &mut Types,
    input: &BtfInput<'_>,
    int: u32,
    index: u32,
    void_ptr: u32,
) -> Result<Vec<u32>, ObjectError> {
    let roots = input.core.iter().flatten().map(|(_, member)| member.shape);
    let needed = co_re::needed_shapes(roots);
    let mut shape_ids = vec![0u32; SHAPES.len()];
    let mut layouts = Vec::with_capacity(needed.len());
    for &shape in &needed {
        let layout = co_re::layout(&SHAPES[shape]).ok_or(ObjectError::ShapeTable {
            strukt: SHAPES[shape].name,
        })?;
        let name = types.strings.add(SHAPES[shape].name);
        shape_ids[shape] = types.add(Type::Struct {
            name,
            size: layout.size,
            members: Vec::new(),
        });
        layouts.push(layout);
    }
    let mut member_types = MemberTypes {
        types,
        int,
        index,
        void_ptr,
        shape_ids,
        added: HashMap::new(),
        char_id: None,
    };
    for (&shape, layout) in needed.iter().zip(layouts) {
        let mut members = Vec::new();
        for ((name, ty), offset) in SHAPES[shape].members.iter().zip(&layout.offsets) {
            let ty = member_types.id(*ty);
            let name = member_types.types.strings.add(name);
            members.push(Member {
                name,
                ty,
                bit_offset: offset * 8,
            });
        }
        let id = member_types.shape_ids[shape];
        let name = member_types.types.strings.add(SHAPES[shape].name);
        member_types.types.replace(
            id,
            Type::Struct {
                name,
                size: layout.size,
                members,
            },
        );
    }
    Ok(member_types.shape_ids)
}

/// Line records of one program as `(slot, line)`: sorted by slot, at
/// instruction starts only, one per slot (the last mark at a slot wins), a
/// record only where the line changes, and the first at slot 0 (line 0 when
/// no mark is there).
pub(super) fn line_records(code: &Assembled) -> Vec<(u32, u32)> {
    let n_slots = code.slots.len();
    let is_start = |slot: u32| {
        if code.insns.is_empty() {
            (slot as usize) < n_slots
        } else {
            code.insns
                .binary_search_by_key(&slot, |(start, _)| *start)
                .is_ok()
        }
    };
    let mut marks = code.lines.clone();
    marks.sort_by_key(|(slot, _)| *slot);
    let mut at_slots: Vec<(u32, u32)> = Vec::with_capacity(marks.len() + 1);
    for (slot, line) in marks {
        if !is_start(slot) {
            continue;
        }
        match at_slots.last_mut() {
            Some(last) if last.0 == slot => last.1 = line,
            _ => at_slots.push((slot, line)),
        }
    }
    if at_slots.first().is_none_or(|(slot, _)| *slot != 0) {
        at_slots.insert(0, (0, 0));
    }
    at_slots.dedup_by(|later, earlier| later.1 == earlier.1);
    at_slots
}

fn insn_offset(slot: u32) -> Result<u32, ObjectError> {
    slot.checked_mul(8).ok_or(ObjectError::TooLarge)
}

/// Encodes one `.BTF.ext` subsection: the record size, then per program
/// section its name, record count and records. Empty when no section has a
/// record.
fn subsection<const N: usize>(sections: &[(u32, Vec<[u32; N]>)]) -> Result<Vec<u8>, ObjectError> {
    let mut out = Vec::new();
    if sections.iter().all(|(_, records)| records.is_empty()) {
        return Ok(out);
    }
    put(&mut out, &[len_u32(4 * N)?]);
    for (name, records) in sections {
        if records.is_empty() {
            continue;
        }
        put(&mut out, &[*name, len_u32(records.len())?]);
        for record in records {
            put(&mut out, record);
        }
    }
    Ok(out)
}

fn build_ext(
    types: &mut Types,
    input: &BtfInput<'_>,
    func_ids: &[u32],
    shape_ids: &[u32],
) -> Result<Option<Vec<u8>>, ObjectError> {
    let image = input.image;
    if image.programs.is_empty() {
        return Ok(None);
    }
    let file = types.strings.add(&image.source_name);
    let source_lines: Vec<&str> = image.source.lines().collect();
    // One block of records per section, programs in it by their offsets.
    let offsets = super::section_offsets(image);
    let mut funcs: Vec<(u32, Vec<[u32; 2]>)> = Vec::new();
    let mut lines: Vec<(u32, Vec<[u32; 4]>)> = Vec::new();
    let mut relos: Vec<(u32, Vec<[u32; 4]>)> = Vec::new();
    fn block<const N: usize>(
        blocks: &mut Vec<(u32, Vec<[u32; N]>)>,
        name: u32,
    ) -> &mut Vec<[u32; N]> {
        let at = match blocks.iter().position(|(n, _)| *n == name) {
            Some(at) => at,
            None => {
                blocks.push((name, Vec::new()));
                blocks.len() - 1
            }
        };
        &mut blocks[at].1
    }
    for (((program, func), core), base) in image
        .programs
        .iter()
        .zip(func_ids)
        .zip(input.core)
        .zip(&offsets)
    {
        let section = types.strings.add(&program.section);
        block(&mut funcs, section).push([*base, *func]);

        let records = block(&mut lines, section);
        for (slot, line) in line_records(&program.code) {
            if line > MAX_LINE {
                return Err(ObjectError::LineTooLarge {
                    program: program.symbol.clone(),
                    line,
                });
            }
            let text = (line as usize)
                .checked_sub(1)
                .and_then(|index| source_lines.get(index))
                .copied()
                .unwrap_or_default();
            let text = types.strings.add(text);
            records.push([base + insn_offset(slot)?, file, text, line << 10]);
        }

        let records = block(&mut relos, section);
        for (slot, member) in core {
            let access = types.strings.add(&member.access_string());
            records.push([
                base + insn_offset(*slot)?,
                shape_ids[member.shape],
                access,
                CORE_FIELD_BYTE_OFFSET,
            ]);
        }
        records.sort_by_key(|record| record[0]);
    }
    let func_info = subsection(&funcs)?;
    let line_info = subsection(&lines)?;
    let core_relo = subsection(&relos)?;

    let func_len = len_u32(func_info.len())?;
    let line_len = len_u32(line_info.len())?;
    let core_len = len_u32(core_relo.len())?;
    let mut out = Vec::new();
    out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
    out.extend_from_slice(&[BTF_VERSION, 0]);
    put(
        &mut out,
        &[
            BTF_EXT_HEADER_LEN,
            0,
            func_len,
            func_len,
            line_len,
            func_len + line_len,
            core_len,
        ],
    );
    out.extend_from_slice(&func_info);
    out.extend_from_slice(&line_info);
    out.extend_from_slice(&core_relo);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::asm::{Asm, Reg};
    use crate::object::ProgramImage;

    fn word(bytes: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
    }

    fn string(btf: &[u8], offset: u32) -> String {
        let strings = &btf[(BTF_HEADER_LEN + word(btf, 16)) as usize..];
        let text = &strings[offset as usize..];
        let end = text.iter().position(|b| *b == 0).expect("NUL-terminated");
        String::from_utf8_lossy(&text[..end]).into_owned()
    }

    /// `(section name, records)` of one `.BTF.ext` subsection.
    fn records(btf: &[u8], ext: &[u8], which: usize) -> Vec<(String, Vec<Vec<u32>>)> {
        let off = (BTF_EXT_HEADER_LEN + word(ext, 8 + 8 * which)) as usize;
        let len = word(ext, 12 + 8 * which) as usize;
        let mut out = Vec::new();
        if len == 0 {
            return out;
        }
        let rec_words = word(ext, off) as usize / 4;
        let mut at = off + 4;
        while at < off + len {
            let name = string(btf, word(ext, at));
            let n = word(ext, at + 4) as usize;
            at += 8;
            let recs = (0..n)
                .map(|i| {
                    (0..rec_words)
                        .map(|w| word(ext, at + 4 * (i * rec_words + w)))
                        .collect()
                })
                .collect();
            at += 4 * n * rec_words;
            out.push((name, recs));
        }
        out
    }

    fn program(lines: &[(u32, u32)]) -> ProgramImage {
        let mut asm = Asm::new();
        for _ in 0..4 {
            asm.mov_imm(Reg::R0, 0);
        }
        asm.exit();
        let mut code = asm.assemble().expect("assembles");
        code.lines = lines.to_vec();
        ProgramImage {
            section: "tracepoint/a/b".into(),
            symbol: "prog".into(),
            code,
        }
    }

    #[test]
    fn line_records_start_at_zero_keep_the_last_mark_and_skip_repeats() {
        let code = program(&[(1, 3), (1, 4), (2, 4), (4, 5), (9, 6)]).code;
        assert_eq!(line_records(&code), [(0, 0), (1, 4), (4, 5)]);
        let code = program(&[(0, 2), (3, 2)]).code;
        assert_eq!(line_records(&code), [(0, 2)]);
        assert_eq!(line_records(&program(&[]).code), [(0, 0)]);
    }

    fn encode(image: &ObjectImage) -> Encoded {
        build(&BtfInput {
            image,
            map_slots: &[],
            maps_size: 0,
            core: &vec![Vec::new(); image.programs.len()],
        })
        .expect("builds")
    }

    #[test]
    fn line_info_names_the_file_and_the_line_text() {
        let image = ObjectImage {
            programs: vec![program(&[(1, 2), (3, 4)])],
            source_name: "dir/p.pol".into(),
            source: "# one\nrule two {\r\n}\n    deny\n".into(),
            ..ObjectImage::default()
        };
        let encoded = encode(&image);
        let ext = encoded.ext.expect("programs have .BTF.ext");
        let lines = records(&encoded.btf, &ext, 1);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].0, "tracepoint/a/b");
        let decoded: Vec<(u32, String, String, u32)> = lines[0]
            .1
            .iter()
            .map(|r| {
                (
                    r[0],
                    string(&encoded.btf, r[1]),
                    string(&encoded.btf, r[2]),
                    r[3],
                )
            })
            .collect();
        assert_eq!(
            decoded,
            [
                (0, "dir/p.pol".into(), String::new(), 0),
                (8, "dir/p.pol".into(), "rule two {".into(), 2 << 10),
                (24, "dir/p.pol".into(), "    deny".into(), 4 << 10),
            ]
        );
        let funcs = records(&encoded.btf, &ext, 0);
        assert_eq!(
            funcs[0].1,
            [vec![0, 5]],
            "FUNC after int, index, void *, proto"
        );
        assert!(
            records(&encoded.btf, &ext, 2).is_empty(),
            "no CO-RE records"
        );
    }

    #[test]
    fn objects_without_programs_have_no_btf_ext() {
        let encoded = encode(&ObjectImage::default());
        assert!(encoded.ext.is_none());
        assert_eq!(word(&encoded.btf, 0) & 0xffff, u32::from(BTF_MAGIC));
    }

    #[test]
    fn lines_beyond_22_bits_are_refused() {
        let image = ObjectImage {
            programs: vec![program(&[(0, MAX_LINE + 1)])],
            ..ObjectImage::default()
        };
        let err = build(&BtfInput {
            image: &image,
            map_slots: &[],
            maps_size: 0,
            core: &[Vec::new()],
        })
        .expect_err("refused");
        assert!(matches!(err, ObjectError::LineTooLarge { .. }));
    }
}
