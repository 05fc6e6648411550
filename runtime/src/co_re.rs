//! CO-RE relocations resolved by polrt before aya sees an object.
//!
//! aya 0.14 resolves each relocation's struct by scanning every type of the
//! kernel's BTF (some 100,000) once per local struct, converting each name
//! on the way: for a policy that reads a dozen kernel structs that is the
//! largest part of `polrt run`'s start-up. polc objects use one form of
//! relocation only: the byte offset of a direct member of a struct (access
//! string `0:N`, kind `FIELD_BYTE_OFFSET`) patched into a load's offset or an
//! add's immediate. [`relocate`] resolves exactly that form through polrt's
//! own BTF reader, which indexes the kernel's structs by name once, patches
//! the instructions and empties the object's relocation table. Anything
//! else (another kind, a nested access string, a member it cannot place
//! unambiguously, an instruction of another class) leaves the object as it
//! is, and aya relocates it: the result is the same either way (a test
//! compares the two on the running kernel).

use object::{Object as _, ObjectSection as _};

use crate::btf::KernelBtf;

/// `bpf_core_relo_kind::BPF_CORE_FIELD_BYTE_OFFSET`.
const FIELD_BYTE_OFFSET: u32 = 0;
const BTF_EXT_MAGIC: u16 = 0xeb9f;
/// Where `core_relo_len` sits in a `.BTF.ext` header.
const CORE_RELO_LEN_AT: usize = 28;

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([word[0], word[1], word[2], word[3]]))
}

/// One relocation: the instruction's byte offset in its section and the
/// offset to write there.
struct Patch {
    /// File offset of the instruction.
    at: usize,
    offset: u32,
}

/// `object` with every CO-RE relocation applied against `kernel` and its
/// relocation table emptied; `None` when it has none, or when one of them is
/// not of the form polc writes (then aya does them all).
pub fn relocate(object: &[u8], kernel: &KernelBtf) -> Option<Vec<u8>> {
    let file = object::File::parse(object).ok()?;
    let range = |name: &str| -> Option<(usize, usize)> {
        let (start, len) = file.section_by_name(name)?.file_range()?;
        let start = usize::try_from(start).ok()?;
        Some((start, start.checked_add(usize::try_from(len).ok()?)?))
    };
    let (btf_start, btf_end) = range(".BTF")?;
    let (ext_start, ext_end) = range(".BTF.ext")?;
    let ext = object.get(ext_start..ext_end)?;
    let magic = ext.get(0..2)?;
    if u16::from_le_bytes([magic[0], magic[1]]) != BTF_EXT_MAGIC {
        return None;
    }
    let hdr_len = u32_at(ext, 4)? as usize;
    if hdr_len < CORE_RELO_LEN_AT + 4 {
        return None;
    }
    let core_off = u32_at(ext, 24)? as usize;
    let core_len = u32_at(ext, CORE_RELO_LEN_AT)? as usize;
    if core_len == 0 {
        return None;
    }
    let core_start = hdr_len.checked_add(core_off)?;
    let relos = ext.get(core_start..core_start.checked_add(core_len)?)?;
    let local_bytes = object.get(btf_start..btf_end)?;
    let local = KernelBtf::parse(local_bytes).ok()?;
    // An offset with no string gives "": no section, no access string.
    let local_string = |offset: u32| Some(local.string(offset)).filter(|s| !s.is_empty());

    let record_size = u32_at(relos, 0)? as usize;
    if record_size < 16 {
        return None;
    }
    let mut patches = Vec::new();
    let mut at = 4;
    while at < relos.len() {
        let section = local_string(u32_at(relos, at)?)?;
        let count = u32_at(relos, at + 4)? as usize;
        at += 8;
        let (code_start, code_end) = range(section)?;
        for _ in 0..count {
            let insn_off = u32_at(relos, at)? as usize;
            let type_id = u32_at(relos, at + 4)?;
            let access = local_string(u32_at(relos, at + 8)?)?;
            let kind = u32_at(relos, at + 12)?;
            at = at.checked_add(record_size)?;
            if kind != FIELD_BYTE_OFFSET {
                return None;
            }
            let index: usize = access.strip_prefix("0:")?.parse().ok()?;
            let (strukt, member) = local.struct_member_name(type_id, index)?;
            let offset = kernel.member_offset(strukt, member)?;
            let insn = code_start.checked_add(insn_off)?;
            if insn.checked_add(8)? > code_end || !insn_off.is_multiple_of(8) {
                return None;
            }
            patches.push(Patch { at: insn, offset });
        }
    }

    let mut out = object.to_vec();
    for patch in patches {
        let insn = out.get_mut(patch.at..patch.at + 8)?;
        polc::object::patch_offset(insn, patch.offset)?;
    }
    let len_at = ext_start.checked_add(CORE_RELO_LEN_AT)?;
    out.get_mut(len_at..len_at + 4)?
        .copy_from_slice(&0u32.to_le_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every program's instructions after aya relocated `object` against
    /// `kernel` (aya-obj, as `EbpfLoader::load` does).
    /// Without `kernel`, as they are in the object.
    fn aya_instructions(
        object: &[u8],
        kernel: Option<&aya_obj::btf::Btf>,
    ) -> Vec<(String, Vec<u64>)> {
        let mut obj = aya_obj::Object::parse(object).expect("aya parses the object");
        if let Some(kernel) = kernel {
            obj.relocate_btf(kernel).expect("aya relocates");
        }
        let mut programs: Vec<(String, Vec<u64>)> = obj
            .functions
            .values()
            .map(|function| {
                let words = function
                    .instructions
                    .iter()
                    .map(|insn| {
                        // SAFETY: `bpf_insn` is 8 plain bytes.
                        let bytes: [u8; 8] = unsafe { std::mem::transmute_copy(insn) };
                        u64::from_le_bytes(bytes)
                    })
                    .collect();
                (function.name.clone(), words)
            })
            .collect();
        programs.sort();
        programs
    }

    fn source_object(source: &str) -> Vec<u8> {
        crate::object::compile_source("t.pol", source, 4096)
            .expect("builds")
            .bytes
    }

    #[test]
    fn relocating_first_gives_what_aya_gives_on_the_running_kernel() {
        const TEST: &str = "relocating_first_gives_what_aya_gives_on_the_running_kernel";
        let bytes = match std::fs::read(crate::probe::KERNEL_BTF) {
            Ok(bytes) => bytes,
            Err(error) => return polc_sys::test_gate::skip(TEST, &error.to_string()),
        };
        let members = KernelBtf::parse(&bytes).expect("kernel BTF parses");
        let kernel = aya_obj::btf::Btf::parse(&bytes, aya::Endianness::default())
            .expect("aya parses the kernel BTF");
        // Fields that read many kernel structs, on several hooks.
        let source = "trace t {\n    on exec\n    when proc.ancestors[*].comm == \"sshd\" and container.id != \"\"\n    emit proc.ppid, proc.euid, proc.cwd, proc.tty, exec.path, proc.parent.exe\n}\n\
                      trace o {\n    on file.open\n    when file.path startswith \"/etc/\"\n    emit file.flags, proc.auid, proc.cap_effective\n}\n\
                      trace u {\n    on exec\n    when exec.upper_layer or proc.exe.upper_layer\n    emit exec.path\n}\n";
        let object = source_object(source);
        let relocated = relocate(&object, &members).expect("polrt resolves polc's relocations");
        let by_aya = aya_instructions(&object, Some(&kernel));
        assert_ne!(
            aya_instructions(&object, None),
            by_aya,
            "the kernel's offsets differ from polc's local ones"
        );
        // Patched as aya patches, and nothing left for aya to do.
        assert_eq!(aya_instructions(&relocated, None), by_aya);
        assert_eq!(aya_instructions(&relocated, Some(&kernel)), by_aya);
    }

    #[test]
    fn a_member_the_kernel_lacks_leaves_the_relocation_to_aya() {
        let object = source_object("trace t {\n    on exec\n    emit proc.ppid\n}\n");
        // A kernel BTF without task_struct.
        let members = KernelBtf::parse(&crate::btf::tiny_btf()).expect("parses");
        assert_eq!(relocate(&object, &members), None);
    }

    #[test]
    fn garbage_is_left_to_aya() {
        let members = KernelBtf::parse(&crate::btf::tiny_btf()).expect("parses");
        assert_eq!(relocate(b"\x7fELF garbage", &members), None);
        assert_eq!(relocate(&[], &members), None);
    }
}
