//! The object writer: turns assembled programs, map definitions and metadata
//! into one ELF64 little-endian `EM_BPF` object that aya 0.14 and libbpf
//! (bpftool) both load. Owns everything about ELF, `.BTF` and `.BTF.ext`; no
//! other module knows either format.
//!
//! Input is plain data ([`ObjectImage`]); output is bytes ([`write_object`]).
//! Never touches the kernel or the file system.
//!
//! ```text
//! ObjectImage ─validate─▶ .maps layout + code bytes with CO-RE offsets (co_re)
//!             ─btf─▶ .BTF + .BTF.ext ─elf─▶ ELF64 LE EM_BPF relocatable object
//! ```
//!
//! - `co_re.rs`: the local shapes of the kernel structs programs read, their
//!   layout and access strings; patches each relocated instruction with the
//!   local offset (libbpf checks it before relocating).
//! - `btf.rs`: the `.BTF` type table and the `.BTF.ext` func info, line info
//!   and CO-RE records; its module docs give the exact type layout.
//! - `elf.rs`: sections, symbols and `R_BPF_64_64` map relocations.
//!
//! The result follows the conventions clang and libbpf use, so aya 0.14
//! (`EbpfLoader`) and libbpf (`bpftool prog loadall`, `bpftool btf dump`)
//! both load it: programs in libbpf-named executable sections with one global
//! `STT_FUNC` each, BTF-defined maps in `.maps` (`int (*type)[N]` members),
//! `license` = `"GPL"`, and the policy metadata in
//! [`METADATA_SECTION`](crate::abi::METADATA_SECTION), which loaders ignore.
//! Every error is an internal compiler error: after `check`, a policy never
//! fails here.

mod btf;
mod co_re;

pub use co_re::patch_offset;
mod elf;

use std::collections::HashSet;

use crate::bpf::asm::Assembled;

/// Everything that goes into one object.
#[derive(Clone, Debug, Default)]
pub struct ObjectImage {
    /// Programs, in the order they are written.
    pub programs: Vec<ProgramImage>,
    /// Maps; `bpf::asm::MapId(i)` refers to `maps[i]`.
    pub maps: Vec<MapDef>,
    /// Bytes of the `.polc.meta` section (JSON `abi::Metadata`).
    pub metadata: Vec<u8>,
    /// File name of the policy, for BTF line info.
    pub source_name: String,
    /// Source text of the policy, for BTF line info (line text of each record).
    pub source: String,
}

/// One program.
#[derive(Clone, Debug)]
pub struct ProgramImage {
    /// ELF section name, libbpf style (`lsm/file_open`, `cgroup/connect4`, ...).
    pub section: String,
    /// Function symbol name; unique in the object.
    pub symbol: String,
    /// The code, with its map and CO-RE relocations and line info.
    pub code: Assembled,
}

/// One BTF-defined map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    /// Map name (at most 15 bytes: the kernel's limit).
    pub name: String,
    /// Map type.
    pub kind: MapKind,
    /// Key size in bytes (0 for a ring buffer).
    pub key_size: u32,
    /// Value size in bytes (0 for a ring buffer).
    pub value_size: u32,
    /// Entries; for a ring buffer, its size in bytes (a power of two multiple of the page size).
    pub max_entries: u32,
    /// `map_flags` (e.g. `BPF_F_NO_PREALLOC` for an LPM trie).
    pub flags: u32,
}

/// Map types used by polc objects (values are `enum bpf_map_type`): the
/// ABI's, as the metadata names them.
pub use crate::abi::MapKind;

/// `BPF_F_NO_PREALLOC`, required for LPM tries.
pub const BPF_F_NO_PREALLOC: u32 = 1;

/// The kernel's limit on map names, in bytes (`BPF_OBJ_NAME_LEN` - 1).
pub const MAX_MAP_NAME_LEN: usize = 15;

/// Errors of object writing. Every one is an internal compiler error (a bug
/// in an earlier stage), never a user error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ObjectError {
    #[error("program section name `{0}` is empty, reserved by the loaders or holds a NUL byte")]
    BadSectionName(String),
    #[error("symbol name `{0}` is not a C identifier")]
    BadSymbol(String),
    #[error("map name `{0}` is not a C identifier of at most {MAX_MAP_NAME_LEN} bytes")]
    BadMapName(String),
    #[error("symbol `{0}` is defined twice")]
    DuplicateSymbol(String),
    #[error("program `{0}` has no instructions")]
    EmptyProgram(String),
    #[error("program `{program}` refers to map #{map}, but the object has {n_maps} maps")]
    UnknownMap {
        program: String,
        map: u32,
        n_maps: usize,
    },
    #[error("map reference in program `{program}` at slot {slot} is not on an LD_IMM64")]
    BadMapReloc { program: String, slot: u32 },
    #[error(
        "CO-RE relocation in program `{program}` at slot {slot} is not on a load or a 64-bit add of an immediate"
    )]
    BadCoreReloc { program: String, slot: u32 },
    #[error("no local shape declares kernel member `{strukt}.{member}`")]
    UnknownKernelMember {
        strukt: &'static str,
        member: &'static str,
    },
    #[error("the local shape of struct `{strukt}` embeds a struct with no shape")]
    ShapeTable { strukt: &'static str },
    #[error("line {line} of program `{program}` is beyond what BTF line info can hold")]
    LineTooLarge { program: String, line: u32 },
    #[error("the object is too large for BTF")]
    TooLarge,
    #[error("writing the ELF file: {0}")]
    Elf(String),
}

/// `BPF_LD | BPF_IMM | BPF_DW`: the first slot of an `LD_IMM64`.
const LD_IMM64: u64 = 0x18;

/// Writes one ELF object holding every program and map of `image`, its
/// `.BTF`/`.BTF.ext` and its metadata. The same image always gives the same
/// bytes.
pub fn write_object(image: &ObjectImage) -> Result<Vec<u8>, ObjectError> {
    validate(image)?;

    let mut map_slots = Vec::with_capacity(image.maps.len());
    let mut maps_size = 0u32;
    for map in &image.maps {
        let size = btf::map_def_size(map);
        map_slots.push(btf::MapSlot {
            offset: maps_size,
            size,
        });
        maps_size = maps_size.checked_add(size).ok_or(ObjectError::TooLarge)?;
    }

    let mut code = Vec::with_capacity(image.programs.len());
    let mut core_relocs = Vec::with_capacity(image.programs.len());
    for program in &image.programs {
        let (bytes, relocs) = code_and_relocs(program)?;
        code.push(bytes);
        core_relocs.push(relocs);
    }

    let encoded = btf::build(&btf::BtfInput {
        image,
        map_slots: &map_slots,
        maps_size,
        core: &core_relocs,
    })?;
    elf::write(&elf::ElfInput {
        image,
        code: &code,
        map_slots: &map_slots,
        maps_size,
        btf: &encoded,
    })
}

/// [`crate::abi::code_hash`] of `programs` (in the metadata's order) as
/// [`write_object`] writes their sections: instructions with CO-RE offsets
/// patched to those of the object's BTF.
pub fn code_hash(programs: &[ProgramImage]) -> Result<String, ObjectError> {
    let code = programs
        .iter()
        .map(|program| code_and_relocs(program).map(|(bytes, _)| bytes))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::abi::code_hash(programs.iter().zip(&code).map(
        |(program, code)| (program.section.as_str(), code.as_slice()),
    )))
}

type CoreRelocs = Vec<(u32, co_re::MemberRef)>;

fn code_and_relocs(program: &ProgramImage) -> Result<(Vec<u8>, CoreRelocs), ObjectError> {
    let mut bytes: Vec<u8> = program
        .code
        .slots
        .iter()
        .flat_map(|slot| slot.to_le_bytes())
        .collect();
    let mut relocs = Vec::with_capacity(program.code.core_relocs.len());
    for reloc in &program.code.core_relocs {
        let member = co_re::resolve(reloc.member)?;
        co_re::patch(&mut bytes, &program.symbol, reloc.slot, member)?;
        relocs.push((reloc.slot, member));
    }
    Ok((bytes, relocs))
}

fn is_c_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Each program's byte offset in its section: programs that attach to the
/// same point (e.g. two `tp_btf/sys_enter` programs) share one section, one
/// after the other, in image order.
pub(super) fn section_offsets(image: &ObjectImage) -> Vec<u32> {
    let mut ends: Vec<(&str, u32)> = Vec::new();
    let mut offsets = Vec::with_capacity(image.programs.len());
    for program in &image.programs {
        let len = program.code.slots.len() as u32 * 8;
        match ends.iter_mut().find(|(name, _)| *name == program.section) {
            Some((_, end)) => {
                offsets.push(*end);
                *end += len;
            }
            None => {
                offsets.push(0);
                ends.push((&program.section, len));
            }
        }
    }
    offsets
}

/// Whether aya or libbpf would treat a section of this name as something
/// other than a program.
fn is_reserved_section(name: &str) -> bool {
    name.starts_with('.')
        || ["license", "version", "maps"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

fn validate(image: &ObjectImage) -> Result<(), ObjectError> {
    let mut symbols = HashSet::new();
    for map in &image.maps {
        if !is_c_identifier(&map.name) || map.name.len() > MAX_MAP_NAME_LEN {
            return Err(ObjectError::BadMapName(map.name.clone()));
        }
        if !symbols.insert(map.name.as_str()) {
            return Err(ObjectError::DuplicateSymbol(map.name.clone()));
        }
    }
    for program in &image.programs {
        let section = &program.section;
        if section.is_empty() || section.contains('\0') || is_reserved_section(section) {
            return Err(ObjectError::BadSectionName(section.clone()));
        }
        if !is_c_identifier(&program.symbol) {
            return Err(ObjectError::BadSymbol(program.symbol.clone()));
        }
        if !symbols.insert(program.symbol.as_str()) {
            return Err(ObjectError::DuplicateSymbol(program.symbol.clone()));
        }
        let slots = &program.code.slots;
        if slots.is_empty() {
            return Err(ObjectError::EmptyProgram(program.symbol.clone()));
        }
        for reloc in &program.code.map_relocs {
            if reloc.map.0 as usize >= image.maps.len() {
                return Err(ObjectError::UnknownMap {
                    program: program.symbol.clone(),
                    map: reloc.map.0,
                    n_maps: image.maps.len(),
                });
            }
            let slot = reloc.slot as usize;
            let is_ld_imm64 = slots.get(slot).is_some_and(|insn| insn & 0xff == LD_IMM64);
            if !is_ld_imm64 || slot + 1 >= slots.len() {
                return Err(ObjectError::BadMapReloc {
                    program: program.symbol.clone(),
                    slot: reloc.slot,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aya_obj::btf::{Btf, BtfKind};
    use aya_obj::generated::bpf_insn;
    use aya_obj::{Object as AyaObject, ProgramSection};
    use object::{Object as _, ObjectSection as _, ObjectSymbol as _};

    use super::*;
    use crate::bpf::asm::{Alu, Asm, Helper, Jmp, MapId, Reg, Size};
    use crate::kernel::KernelMember;

    const SOURCE: &str = "# policy\nrule r {\n    on exec\n    when proc.pid == 1\n    deny\n}\n";

    fn maps() -> Vec<MapDef> {
        vec![
            MapDef {
                name: "polc_config".into(),
                kind: MapKind::Array,
                key_size: 4,
                value_size: 16,
                max_entries: 1,
                flags: 0,
            },
            MapDef {
                name: "polc_events".into(),
                kind: MapKind::Ringbuf,
                key_size: 0,
                value_size: 0,
                max_entries: 1 << 16,
                flags: 0,
            },
            MapDef {
                name: "polc_nets".into(),
                kind: MapKind::LpmTrie,
                key_size: 8,
                value_size: 1,
                max_entries: 64,
                flags: BPF_F_NO_PREALLOC,
            },
        ]
    }

    /// A tracepoint reading the current task's members, line-annotated.
    fn task_program() -> ProgramImage {
        let mut asm = Asm::new();
        let done = asm.label("done");
        asm.line(2);
        asm.mov_imm(Reg::R0, 0);
        asm.line(4);
        asm.load_map(Reg::R1, MapId(0));
        asm.mov(Reg::R2, Reg::R10);
        asm.alu_imm(Alu::Add, Reg::R2, -4);
        asm.store_imm(Size::Word, Reg::R10, -4, 0);
        asm.call(Helper::MapLookupElem);
        asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, done);
        asm.call(Helper::GetCurrentTaskBtf);
        asm.line(5);
        asm.load_member(
            Size::DoubleWord,
            Reg::R6,
            Reg::R0,
            KernelMember::TaskRealParent,
        );
        asm.load_member(Size::Word, Reg::R7, Reg::R6, KernelMember::TaskTgid);
        asm.mov(Reg::R3, Reg::R0);
        asm.add_member_offset(Reg::R3, KernelMember::TaskComm);
        asm.load_map(Reg::R1, MapId(1));
        asm.bind(done);
        asm.mov_imm(Reg::R0, 0);
        asm.exit();
        ProgramImage {
            section: "tracepoint/syscalls/sys_enter_getppid".into(),
            symbol: "task_probe".into(),
            code: asm.assemble().expect("assembles"),
        }
    }

    /// An LSM program reading `struct file` members of its first argument.
    fn file_program() -> ProgramImage {
        let mut asm = Asm::new();
        asm.load(Size::DoubleWord, Reg::R1, Reg::R1, 0);
        asm.line(3);
        asm.load_member(Size::Word, Reg::R2, Reg::R1, KernelMember::FileFMode);
        asm.load_member(Size::Word, Reg::R3, Reg::R1, KernelMember::FileFFlags);
        asm.add_member_offset(Reg::R1, KernelMember::FileFPath);
        asm.load_map(Reg::R4, MapId(2));
        asm.mov_imm(Reg::R0, 0);
        asm.exit();
        ProgramImage {
            section: "lsm/file_open".into(),
            symbol: "file_open".into(),
            code: asm.assemble().expect("assembles"),
        }
    }

    fn exec_program() -> ProgramImage {
        let mut asm = Asm::new();
        asm.load(Size::DoubleWord, Reg::R1, Reg::R1, 16);
        asm.load_member(
            Size::DoubleWord,
            Reg::R3,
            Reg::R1,
            KernelMember::BinprmFilename,
        );
        asm.mov_imm(Reg::R0, 0);
        asm.exit();
        ProgramImage {
            section: "tp_btf/sched_process_exec".into(),
            symbol: "exec".into(),
            code: asm.assemble().expect("assembles"),
        }
    }

    fn image() -> ObjectImage {
        ObjectImage {
            programs: vec![task_program(), file_program(), exec_program()],
            maps: maps(),
            metadata: br#"{"abi":1}"#.to_vec(),
            source_name: "policy.pol".into(),
            source: SOURCE.into(),
        }
    }

    fn written() -> Vec<u8> {
        write_object(&image()).expect("writes")
    }

    #[test]
    fn same_image_gives_same_bytes() {
        assert_eq!(written(), written());
    }

    #[test]
    fn elf_has_programs_maps_symbols_and_relocations() {
        let bytes = written();
        let file = object::File::parse(&*bytes).expect("parses");
        assert_eq!(file.architecture(), object::Architecture::Bpf);
        assert!(file.is_little_endian());
        assert!(file.is_64());
        assert_eq!(file.kind(), object::ObjectKind::Relocatable);

        let section = |name: &str| file.section_by_name(name).expect(name);
        let data = |name: &str| section(name).data().expect("data").to_vec();
        assert_eq!(data("license"), b"GPL\0");
        assert_eq!(data(".polc.meta"), br#"{"abi":1}"#);
        assert_eq!(data(".maps").len(), 40 + 16 + 40);

        let symbols: HashMap<String, object::Symbol<'_, '_>> = file
            .symbols()
            .map(|s| (s.name().expect("name").to_string(), s))
            .collect();
        for program in &image().programs {
            let code = section(&program.section);
            assert_eq!(code.kind(), object::SectionKind::Text);
            assert_eq!(code.size(), 8 * program.code.slots.len() as u64);
            let symbol = &symbols[&program.symbol];
            assert_eq!(symbol.kind(), object::SymbolKind::Text);
            assert!(symbol.is_global());
            assert_eq!(symbol.section_index(), Some(code.index()));
            assert_eq!((symbol.address(), symbol.size()), (0, code.size()));

            let relocs: Vec<(u64, String)> = code
                .relocations()
                .map(|(offset, reloc)| {
                    assert_eq!(
                        reloc.flags(),
                        object::RelocationFlags::Elf {
                            r_type: object::elf::R_BPF_64_64
                        }
                    );
                    let object::RelocationTarget::Symbol(index) = reloc.target() else {
                        panic!("relocation against a non-symbol");
                    };
                    let target = file.symbol_by_index(index).expect("symbol");
                    (offset, target.name().expect("name").to_string())
                })
                .collect();
            let expected: Vec<(u64, String)> = program
                .code
                .map_relocs
                .iter()
                .map(|r| (8 * u64::from(r.slot), maps()[r.map.0 as usize].name.clone()))
                .collect();
            assert_eq!(relocs, expected, "{}", program.symbol);
        }
        let maps_section = section(".maps").index();
        for (name, offset, size) in [
            ("polc_config", 0, 40),
            ("polc_events", 40, 16),
            ("polc_nets", 56, 40),
        ] {
            let symbol = &symbols[name];
            assert_eq!(symbol.kind(), object::SymbolKind::Data);
            assert!(symbol.is_global());
            assert_eq!(symbol.section_index(), Some(maps_section));
            assert_eq!((symbol.address(), symbol.size()), (offset, size));
        }
    }

    #[test]
    fn aya_parses_programs_and_maps() {
        let obj = AyaObject::parse(&written()).expect("aya parses");
        assert_eq!(obj.license.to_str(), Ok("GPL"));
        let mut names: Vec<&str> = obj.programs.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["exec", "file_open", "task_probe"]);
        assert!(matches!(
            obj.programs["task_probe"].section,
            ProgramSection::TracePoint
        ));
        assert!(matches!(
            obj.programs["file_open"].section,
            ProgramSection::Lsm { sleepable: false }
        ));
        assert!(matches!(
            obj.programs["exec"].section,
            ProgramSection::BtfTracePoint
        ));

        let def = |name: &str| {
            let map = &obj.maps[name];
            (
                map.map_type(),
                map.key_size(),
                map.value_size(),
                map.max_entries(),
                map.map_flags(),
            )
        };
        assert_eq!(def("polc_config"), (2, 4, 16, 1, 0));
        assert_eq!(def("polc_events"), (27, 0, 0, 1 << 16, 0));
        assert_eq!(def("polc_nets"), (11, 8, 1, 64, BPF_F_NO_PREALLOC));
    }

    fn function<'a>(obj: &'a AyaObject, name: &str) -> &'a aya_obj::Function {
        obj.functions
            .values()
            .find(|f| f.name == name)
            .expect("function")
    }

    #[test]
    fn aya_rewrites_every_map_reference() {
        let mut obj = AyaObject::parse(&written()).expect("aya parses");
        let fds: HashMap<String, i32> = maps()
            .iter()
            .zip(100..)
            .map(|(map, fd)| (map.name.clone(), fd))
            .collect();
        let maps: Vec<(String, aya_obj::Map)> = obj
            .maps
            .iter()
            .map(|(name, map)| (name.clone(), map.clone()))
            .collect();
        obj.relocate_maps(
            maps.iter()
                .map(|(name, map)| (name.as_str(), fds[name], map)),
            &std::collections::HashSet::new(),
        )
        .expect("relocates");
        for program in &image().programs {
            let insns: &[bpf_insn] = &function(&obj, &program.symbol).instructions;
            for reloc in &program.code.map_relocs {
                let insn = insns[reloc.slot as usize];
                let name = &super::tests::maps()[reloc.map.0 as usize].name;
                assert_eq!(
                    insn.imm, fds[name],
                    "{} slot {}",
                    program.symbol, reloc.slot
                );
                assert_eq!(insn.src_reg(), 1, "BPF_PSEUDO_MAP_FD");
            }
        }
    }

    #[test]
    fn aya_sees_func_and_line_info() {
        let obj = AyaObject::parse(&written()).expect("aya parses");
        let btf = obj.btf.as_ref().expect("object BTF");
        let task = function(&obj, "task_probe");
        assert_eq!(task.func_info.func_info.len(), 1);
        assert_eq!(task.func_info.func_info[0].insn_off, 0);
        assert_eq!(
            btf.id_by_type_name_kind("task_probe", BtfKind::Func).ok(),
            Some(task.func_info.func_info[0].type_id)
        );
        // Marks at slots 0 (line 2), 1 (line 4) and 9 (line 5).
        let lines: Vec<(u32, u32)> = task
            .line_info
            .line_info
            .iter()
            .map(|l| (l.insn_off, l.line_col >> 10))
            .collect();
        assert_eq!(lines, [(0, 2), (1, 4), (9, 5)]);

        // No mark at slot 0: a line-0 record covers the first instructions.
        let file = function(&obj, "file_open");
        let lines: Vec<(u32, u32)> = file
            .line_info
            .line_info
            .iter()
            .map(|l| (l.insn_off, l.line_col >> 10))
            .collect();
        assert_eq!(lines, [(0, 0), (1, 3)]);
    }

    #[test]
    fn btf_declares_maps_funcs_and_kernel_shapes() {
        let bytes = written();
        let file = object::File::parse(&*bytes).expect("parses");
        let data = file
            .section_by_name(".BTF")
            .and_then(|s| s.data().ok())
            .expect(".BTF");
        let little = AyaObject::parse(&bytes).expect("aya parses").endianness;
        let btf = Btf::parse(data, little).expect("aya parses .BTF");
        for (name, kind) in [
            ("task_struct", BtfKind::Struct),
            ("file", BtfKind::Struct),
            ("path", BtfKind::Struct),
            ("linux_binprm", BtfKind::Struct),
            ("task_probe", BtfKind::Func),
            ("file_open", BtfKind::Func),
            ("exec", BtfKind::Func),
            ("polc_events", BtfKind::Var),
            (".maps", BtfKind::DataSec),
        ] {
            assert!(
                btf.id_by_type_name_kind(name, kind).is_ok(),
                "{name} {kind:?}"
            );
        }
    }

    #[test]
    fn btf_omits_shapes_no_relocation_needs() {
        let image = ObjectImage {
            programs: vec![exec_program()],
            ..ObjectImage::default()
        };
        let bytes = write_object(&image).expect("writes");
        let obj = AyaObject::parse(&bytes).expect("aya parses");
        let btf = obj.btf.as_ref().expect("BTF");
        assert!(btf
            .id_by_type_name_kind("linux_binprm", BtfKind::Struct)
            .is_ok());
        assert!(btf
            .id_by_type_name_kind("task_struct", BtfKind::Struct)
            .is_err());
        assert!(obj.maps.is_empty());
    }

    /// A BTF blob written word by word, for a made-up kernel.
    struct RawBtf {
        types: Vec<u32>,
        strings: Vec<u8>,
        n_types: u32,
    }

    impl RawBtf {
        fn new() -> RawBtf {
            RawBtf {
                types: Vec::new(),
                strings: vec![0],
                n_types: 0,
            }
        }

        fn name(&mut self, text: &str) -> u32 {
            if text.is_empty() {
                return 0;
            }
            let offset = self.strings.len() as u32;
            self.strings.extend_from_slice(text.as_bytes());
            self.strings.push(0);
            offset
        }

        /// Adds a type: `kind`, its name, its size or type and its extra words.
        fn add(
            &mut self,
            kind: u32,
            name: &str,
            vlen: u32,
            size_or_type: u32,
            extra: &[u32],
        ) -> u32 {
            let name = self.name(name);
            self.types
                .extend_from_slice(&[name, (kind << 24) | vlen, size_or_type]);
            self.types.extend_from_slice(extra);
            self.n_types += 1;
            self.n_types
        }

        fn member(&mut self, name: &str, ty: u32, byte_offset: u32) -> [u32; 3] {
            [self.name(name), ty, byte_offset * 8]
        }

        fn bytes(&self) -> Vec<u8> {
            let type_len = 4 * self.types.len() as u32;
            let mut out = vec![0x9f, 0xeb, 1, 0];
            for word in [24, 0, type_len, type_len, self.strings.len() as u32]
                .iter()
                .chain(&self.types)
            {
                out.extend_from_slice(&word.to_le_bytes());
            }
            out.extend_from_slice(&self.strings);
            out
        }
    }

    /// A kernel whose structs put the members elsewhere, behind typedefs,
    /// `const` and an anonymous union, as 6.x kernels do.
    fn kernel_btf() -> Vec<u8> {
        let mut k = RawBtf::new();
        let int = k.add(1, "int", 0, 4, &[(1 << 24) | 32]);
        let pid_t = k.add(8, "pid_t", 0, int, &[]);
        // struct task_struct { int state; int pad[2]; pid_t tgid;
        //     struct task_struct *real_parent; char pad2[8]; char comm[16]; }
        let task = k.n_types + 1;
        let task_ptr = task + 1;
        let char_ty = task + 2;
        let comm = task + 3;
        let mut members = Vec::new();
        members.extend(k.member("state", int, 0));
        members.extend(k.member("tgid", pid_t, 12));
        members.extend(k.member("real_parent", task_ptr, 16));
        members.extend(k.member("comm", comm, 32));
        k.add(4, "task_struct", 4, 48, &members);
        k.add(2, "", 0, task, &[]);
        k.add(1, "char", 0, 1, &[(1 << 24) | 8]);
        k.add(3, "", 0, 0, &[char_ty, int, 16]);

        let void_ptr = k.add(2, "", 0, 0, &[]);
        let mut members = Vec::new();
        members.extend(k.member("mnt", void_ptr, 0));
        members.extend(k.member("dentry", void_ptr, 8));
        let path = k.add(4, "path", 2, 16, &members);
        let const_path = k.add(10, "", 0, path, &[]);
        let mut members = Vec::new();
        members.extend(k.member("f_path", const_path, 0));
        members.extend(k.member("__f_path", path, 0));
        let union = k.add(5, "", 2, 16, &members);
        let uint = k.add(1, "unsigned int", 0, 4, &[32]);
        let fmode_t = k.add(8, "fmode_t", 0, uint, &[]);
        // struct file { int f_lock; fmode_t f_mode; unsigned int f_flags; union { ... }; }
        let mut members = Vec::new();
        members.extend(k.member("f_lock", int, 0));
        members.extend(k.member("f_mode", fmode_t, 4));
        members.extend(k.member("f_flags", uint, 8));
        members.extend(k.member("", union, 24));
        k.add(4, "file", 4, 40, &members);

        let const_char = k.add(10, "", 0, char_ty, &[]);
        let filename = k.add(2, "", 0, const_char, &[]);
        let mut members = Vec::new();
        members.extend(k.member("p", void_ptr, 0));
        members.extend(k.member("filename", filename, 72));
        k.add(4, "linux_binprm", 2, 80, &members);
        k.bytes()
    }

    /// `(off, imm)` of the instruction each CO-RE relocation of `program` patches.
    fn relocated(obj: &AyaObject, program: &ProgramImage) -> Vec<(KernelMember, i64)> {
        let insns = &function(obj, &program.symbol).instructions;
        program
            .code
            .core_relocs
            .iter()
            .map(|reloc| {
                let insn = insns[reloc.slot as usize];
                let value = if insn.code & 0x07 == 0x01 {
                    i64::from(insn.off)
                } else {
                    i64::from(insn.imm)
                };
                (reloc.member, value)
            })
            .collect()
    }

    #[test]
    fn code_holds_local_offsets_until_relocated() {
        let obj = AyaObject::parse(&written()).expect("aya parses");
        assert_eq!(
            relocated(&obj, &task_program()),
            [
                (KernelMember::TaskRealParent, 8),
                (KernelMember::TaskTgid, 0),
                (KernelMember::TaskComm, 16),
            ]
        );
    }

    #[test]
    fn aya_relocates_members_against_kernel_btf() {
        let mut obj = AyaObject::parse(&written()).expect("aya parses");
        let kernel = Btf::parse(&kernel_btf(), obj.endianness).expect("kernel BTF parses");
        obj.relocate_btf(&kernel).expect("relocates");
        assert_eq!(
            relocated(&obj, &task_program()),
            [
                (KernelMember::TaskRealParent, 16),
                (KernelMember::TaskTgid, 12),
                (KernelMember::TaskComm, 32),
            ]
        );
        assert_eq!(
            relocated(&obj, &file_program()),
            [
                (KernelMember::FileFMode, 4),
                (KernelMember::FileFFlags, 8),
                (KernelMember::FileFPath, 24),
            ]
        );
        assert_eq!(
            relocated(&obj, &exec_program()),
            [(KernelMember::BinprmFilename, 72)]
        );
    }

    fn with_program(program: ProgramImage) -> Result<Vec<u8>, ObjectError> {
        write_object(&ObjectImage {
            programs: vec![program],
            maps: maps(),
            ..ObjectImage::default()
        })
    }

    #[test]
    fn programs_of_one_attach_point_share_its_section() {
        let mut twice = image();
        let first = twice.programs.len();
        twice.programs.push(ProgramImage {
            symbol: "other".into(),
            ..exec_program()
        });
        let bytes = write_object(&twice).expect("writes");
        let obj = AyaObject::parse(&bytes).expect("aya parses");
        for name in ["exec", "other"] {
            assert!(matches!(
                obj.programs[name].section,
                ProgramSection::BtfTracePoint
            ));
            assert_eq!(
                function(&obj, name).instructions.len(),
                exec_program().code.slots.len(),
                "{name}"
            );
        }
        let offsets = section_offsets(&twice);
        assert_eq!(offsets[first], exec_program().code.slots.len() as u32 * 8);
        assert_eq!(offsets[0], 0);
    }

    #[test]
    fn inconsistent_images_are_internal_errors() {
        let mut clash = image();
        clash.programs[0].symbol = "polc_events".into();
        assert_eq!(
            write_object(&clash),
            Err(ObjectError::DuplicateSymbol("polc_events".into()))
        );

        let mut long = image();
        long.maps[0].name = "a_very_long_map_name".into();
        assert!(matches!(
            write_object(&long),
            Err(ObjectError::BadMapName(_))
        ));

        for section in ["", "license", ".text", "maps/x"] {
            let program = ProgramImage {
                section: section.into(),
                ..exec_program()
            };
            assert_eq!(
                with_program(program),
                Err(ObjectError::BadSectionName(section.into()))
            );
        }
        let program = ProgramImage {
            symbol: "not-an-identifier".into(),
            ..exec_program()
        };
        assert!(matches!(
            with_program(program),
            Err(ObjectError::BadSymbol(_))
        ));

        let mut empty = exec_program();
        empty.code = Assembled::default();
        assert!(matches!(
            with_program(empty),
            Err(ObjectError::EmptyProgram(_))
        ));

        let mut unknown_map = task_program();
        unknown_map.code.map_relocs[0].map = MapId(7);
        assert!(matches!(
            with_program(unknown_map),
            Err(ObjectError::UnknownMap { map: 7, .. })
        ));

        let mut not_ld_imm64 = task_program();
        not_ld_imm64.code.map_relocs[0].slot = 0;
        assert!(matches!(
            with_program(not_ld_imm64),
            Err(ObjectError::BadMapReloc { slot: 0, .. })
        ));

        let mut not_a_load = exec_program();
        not_a_load.code.core_relocs[0].slot = 3; // the exit
        assert!(matches!(
            with_program(not_a_load),
            Err(ObjectError::BadCoreReloc { slot: 3, .. })
        ));
    }
}
