//! ELF layout of a polc object, written with the `object` crate: sections,
//! symbols and map relocations. Takes the code, the `.maps` layout and the
//! encoded BTF as plain bytes; knows nothing of the BTF format or of CO-RE.
//!
//! Sections, in this order: one executable `PROGBITS` section per program
//! section name (8-byte aligned; programs that share a name follow one
//! another in it) with its `.rel<section>`; `.maps`
//! (writable data, zeros, one 8-byte-aligned definition per map); `license`
//! (`"GPL\0"`); `.BTF`; `.BTF.ext` (when there are programs); `.polc.meta`
//! (not allocated: loaders skip it). Symbols are all global with default
//! visibility (libbpf refuses static programs and treats hidden ones as
//! static): one `STT_FUNC` per program at its offset spanning its code, one
//! `STT_OBJECT` per map at its definition. Every map reference is an
//! `R_BPF_64_64` relocation against the map's symbol at the byte offset of
//! its `LD_IMM64`.

use object::write::{Object, Relocation, Symbol, SymbolSection};
use object::{
    elf, Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags,
    SymbolKind, SymbolScope,
};

use super::btf::{Encoded, MapSlot};
use super::{ObjectError, ObjectImage};
use crate::abi::METADATA_SECTION;

/// What goes into the ELF file besides the image itself.
#[derive(Debug)]
pub(super) struct ElfInput<'a> {
    pub image: &'a ObjectImage,
    /// Per program, its code as bytes (CO-RE instructions already patched).
    pub code: &'a [Vec<u8>],
    pub map_slots: &'a [MapSlot],
    pub maps_size: u32,
    pub btf: &'a Encoded,
}

fn global_symbol(name: &str, kind: SymbolKind, section: object::write::SectionId) -> Symbol {
    Symbol {
        name: name.as_bytes().to_vec(),
        value: 0,
        size: 0,
        kind,
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Section(section),
        flags: SymbolFlags::None,
    }
}

/// Writes the object file.
pub(super) fn write(input: &ElfInput<'_>) -> Result<Vec<u8>, ObjectError> {
    let image = input.image;
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);

    let mut program_sections = Vec::with_capacity(image.programs.len());
    let mut by_name: Vec<(&str, object::write::SectionId)> = Vec::new();
    let offsets = super::section_offsets(image);
    for ((program, code), offset) in image.programs.iter().zip(input.code).zip(&offsets) {
        let section = match by_name.iter().find(|(name, _)| *name == program.section) {
            Some((_, id)) => *id,
            None => {
                let id = obj.add_section(
                    Vec::new(),
                    program.section.as_bytes().to_vec(),
                    SectionKind::Text,
                );
                by_name.push((&program.section, id));
                id
            }
        };
        let at = obj.append_section_data(section, code, 8);
        debug_assert_eq!(at, u64::from(*offset));
        obj.add_symbol(Symbol {
            value: at,
            size: code.len() as u64,
            ..global_symbol(&program.symbol, SymbolKind::Text, section)
        });
        program_sections.push((section, at));
    }

    let mut map_symbols = Vec::with_capacity(image.maps.len());
    if !image.maps.is_empty() {
        let section = obj.add_section(Vec::new(), b".maps".to_vec(), SectionKind::Data);
        obj.set_section_data(section, vec![0u8; input.maps_size as usize], 8);
        for (map, slot) in image.maps.iter().zip(input.map_slots) {
            map_symbols.push(obj.add_symbol(Symbol {
                value: u64::from(slot.offset),
                size: u64::from(slot.size),
                ..global_symbol(&map.name, SymbolKind::Data, section)
            }));
        }
    }

    let license = obj.add_section(Vec::new(), b"license".to_vec(), SectionKind::Data);
    obj.set_section_data(license, &b"GPL\0"[..], 1);
    let btf = obj.add_section(Vec::new(), b".BTF".to_vec(), SectionKind::Other);
    obj.set_section_data(btf, input.btf.btf.clone(), 4);
    if let Some(ext) = &input.btf.ext {
        let section = obj.add_section(Vec::new(), b".BTF.ext".to_vec(), SectionKind::Other);
        obj.set_section_data(section, ext.clone(), 4);
    }
    let meta = obj.add_section(
        Vec::new(),
        METADATA_SECTION.as_bytes().to_vec(),
        SectionKind::Other,
    );
    obj.set_section_data(meta, image.metadata.clone(), 1);

    for (program, (section, at)) in image.programs.iter().zip(program_sections) {
        for reloc in &program.code.map_relocs {
            let symbol = map_symbols
                .get(reloc.map.0 as usize)
                .copied()
                .ok_or_else(|| ObjectError::UnknownMap {
                    program: program.symbol.clone(),
                    map: reloc.map.0,
                    n_maps: image.maps.len(),
                })?;
            obj.add_relocation(
                section,
                Relocation {
                    offset: at + u64::from(reloc.slot) * 8,
                    symbol,
                    addend: 0,
                    flags: RelocationFlags::Elf {
                        r_type: elf::R_BPF_64_64,
                    },
                },
            )
            .map_err(|err| ObjectError::Elf(err.to_string()))?;
        }
    }

    obj.write().map_err(|err| ObjectError::Elf(err.to_string()))
}
