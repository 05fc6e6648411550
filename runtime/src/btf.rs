//! Checking the kernel struct members an object reads against the running
//! kernel's BTF, before anything is loaded, so that a member missing from
//! this kernel is an error naming it rather than a relocation failure deep in
//! the loader.
//!
//! A small reader of the BTF type section (header, types, strings) that knows
//! just enough to find a struct by name and its members, through anonymous
//! embedded structs and unions as CO-RE does. It also reads an object's own
//! `.BTF` before aya does, to refuse what aya-obj would misread (see
//! [`BtfError::BadVarLinkage`]). Pure: takes bytes; the caller reads
//! `/sys/kernel/btf/vmlinux` or the object. Must not depend on aya.

use std::collections::HashMap;

/// Why BTF could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BtfError {
    #[error("not BTF (bad magic)")]
    BadMagic,
    #[error("BTF is truncated")]
    Truncated,
    #[error("BTF type kind {0} is unknown to polrt")]
    UnknownKind(u32),
    #[error("BTF type {id} is a variable with linkage {linkage} (0, 1 or 2 expected)")]
    BadVarLinkage { id: usize, linkage: u32 },
}

const BTF_MAGIC: u16 = 0xeb9f;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;

/// Members programs read past, as the end of their struct: `inode.i_private`
/// is the last member of `struct inode`, and what follows a `struct inode`
/// embedded last but one in overlayfs' `struct ovl_inode` is its upper
/// dentry (`polc::kernel::KernelMember::InodePrivate`). A kernel where one
/// of these is not its struct's last member lacks it, for the loader.
const READ_PAST: &[&str] = &["inode.i_private"];

#[derive(Clone, Debug)]
struct Member {
    name: u32,
    ty: u32,
    /// Offset in bits from the start of the composite; `None` for a
    /// bitfield (no byte offset).
    bits: Option<u32>,
}

#[derive(Clone, Debug)]
struct Type {
    kind: u32,
    name: u32,
    /// For modifiers and typedefs: the type referred to.
    referred: u32,
    members: Vec<Member>,
}

/// The parts of a BTF blob polrt needs: composite types and their members.
#[derive(Clone, Debug)]
pub struct KernelBtf {
    /// Index 0 is `void`.
    types: Vec<Type>,
    strings: Vec<u8>,
    /// Struct/union type ids by name.
    by_name: HashMap<String, Vec<u32>>,
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, BtfError> {
    let slice = bytes.get(at..at + 4).ok_or(BtfError::Truncated)?;
    Ok(u32::from_le_bytes([slice[0], slice[1], slice[2], slice[3]]))
}

impl KernelBtf {
    /// Parses a little-endian BTF blob (such as `/sys/kernel/btf/vmlinux`).
    pub fn parse(bytes: &[u8]) -> Result<KernelBtf, BtfError> {
        let magic = bytes.get(0..2).ok_or(BtfError::Truncated)?;
        if u16::from_le_bytes([magic[0], magic[1]]) != BTF_MAGIC {
            return Err(BtfError::BadMagic);
        }
        let hdr_len = u32_at(bytes, 4)? as usize;
        let type_off = u32_at(bytes, 8)? as usize;
        let type_len = u32_at(bytes, 12)? as usize;
        let str_off = u32_at(bytes, 16)? as usize;
        let str_len = u32_at(bytes, 20)? as usize;
        let type_start = hdr_len.checked_add(type_off).ok_or(BtfError::Truncated)?;
        let type_end = type_start
            .checked_add(type_len)
            .ok_or(BtfError::Truncated)?;
        let str_start = hdr_len.checked_add(str_off).ok_or(BtfError::Truncated)?;
        let str_end = str_start.checked_add(str_len).ok_or(BtfError::Truncated)?;
        let type_bytes = bytes.get(type_start..type_end).ok_or(BtfError::Truncated)?;
        let strings = bytes
            .get(str_start..str_end)
            .ok_or(BtfError::Truncated)?
            .to_vec();
        let mut types = vec![Type {
            kind: 0,
            name: 0,
            referred: 0,
            members: Vec::new(),
        }];
        let mut at = 0usize;
        while at < type_bytes.len() {
            let name = u32_at(type_bytes, at)?;
            let info = u32_at(type_bytes, at + 4)?;
            let size_or_type = u32_at(type_bytes, at + 8)?;
            at += 12;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let mut members = Vec::new();
            if kind == 14 {
                // aya-obj 0.3 reads this u32 into a Rust enum of four
                // variants without checking it (undefined behaviour, a crash
                // here): refused before aya ever sees the BTF.
                let linkage = u32_at(type_bytes, at)?;
                if linkage > 2 {
                    return Err(BtfError::BadVarLinkage {
                        id: types.len(),
                        linkage,
                    });
                }
            }
            let extra = match kind {
                1 | 14 | 17 => 4, // int, var, decl_tag
                3 => 12,          // array
                4 | 5 => {
                    // With the kind flag, the offset word also holds a
                    // bitfield's size in its top byte.
                    let kind_flag = info >> 31 == 1;
                    for i in 0..vlen {
                        let offset = u32_at(type_bytes, at + i * 12 + 8)?;
                        let bits = match kind_flag {
                            true if offset >> 24 != 0 => None,
                            true => Some(offset & 0x00ff_ffff),
                            false => Some(offset),
                        };
                        members.push(Member {
                            name: u32_at(type_bytes, at + i * 12)?,
                            ty: u32_at(type_bytes, at + i * 12 + 4)?,
                            bits,
                        });
                    }
                    vlen * 12
                }
                6 | 13 => vlen * 8,   // enum, func_proto
                15 | 19 => vlen * 12, // datasec, enum64
                2 | 7..=12 | 16 | 18 => 0,
                other => return Err(BtfError::UnknownKind(other)),
            };
            at += extra;
            if at > type_bytes.len() {
                return Err(BtfError::Truncated);
            }
            types.push(Type {
                kind,
                name,
                referred: size_or_type,
                members,
            });
        }
        let mut btf = KernelBtf {
            types,
            strings,
            by_name: HashMap::new(),
        };
        let mut by_name: HashMap<String, Vec<u32>> = HashMap::new();
        for (id, ty) in btf.types.iter().enumerate() {
            if matches!(ty.kind, KIND_STRUCT | KIND_UNION) && ty.name != 0 {
                by_name
                    .entry(btf.string(ty.name).to_string())
                    .or_default()
                    .push(id as u32);
            }
        }
        btf.by_name = by_name;
        Ok(btf)
    }

    /// The string at `offset` of the string section ("" when there is none).
    pub fn string(&self, offset: u32) -> &str {
        let Some(rest) = self.strings.get(offset as usize..) else {
            return "";
        };
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        std::str::from_utf8(&rest[..end]).unwrap_or("")
    }

    /// Whether some struct or union named `strukt` has a member `member`
    /// (directly or in an anonymous struct or union it embeds).
    pub fn has_member(&self, strukt: &str, member: &str) -> bool {
        self.by_name.get(strukt).is_some_and(|ids| {
            ids.iter()
                .any(|id| self.find_member(*id, member, 0).is_some())
        })
    }

    /// The byte offset of `member` in `strukt` (directly or in an anonymous
    /// struct or union it embeds, as CO-RE finds it); `None` when no struct
    /// of that name has it, when it is a bitfield or not byte-aligned, or
    /// when structs of that name disagree.
    pub fn member_offset(&self, strukt: &str, member: &str) -> Option<u32> {
        let mut found = None;
        for id in self.by_name.get(strukt)? {
            let Some(bits) = self.find_member(*id, member, 0) else {
                continue;
            };
            let offset = bits.filter(|b| b.is_multiple_of(8))? / 8;
            match found {
                None => found = Some(offset),
                Some(other) if other != offset => return None,
                Some(_) => {}
            }
        }
        found
    }

    /// `member` of composite `id`, directly or in an anonymous struct or
    /// union it embeds: `Some` of its offset in bits from the start of `id`
    /// (`Some(None)` for a bitfield, which has none), `None` when it has no
    /// such member.
    fn find_member(&self, id: u32, member: &str, depth: u32) -> Option<Option<u32>> {
        let ty = self.types.get(id as usize)?;
        if depth > 8 || !matches!(ty.kind, KIND_STRUCT | KIND_UNION) {
            return None;
        }
        ty.members.iter().find_map(|m| {
            if m.name == 0 {
                let inner = self.find_member(self.skip_modifiers(m.ty), member, depth + 1)?;
                Some(
                    m.bits
                        .zip(inner)
                        .and_then(|(base, at)| base.checked_add(at)),
                )
            } else {
                (self.string(m.name) == member).then_some(m.bits)
            }
        })
    }

    /// The name of type `id` and of its member number `index`, when `id`
    /// is a named struct or union that has one (an object's own BTF: what
    /// a CO-RE access string `0:index` names).
    pub fn struct_member_name(&self, id: u32, index: usize) -> Option<(&str, &str)> {
        let ty = self.types.get(id as usize)?;
        if !matches!(ty.kind, KIND_STRUCT | KIND_UNION) || ty.name == 0 {
            return None;
        }
        let member = ty.members.get(index)?;
        if member.name == 0 {
            return None;
        }
        Some((self.string(ty.name), self.string(member.name)))
    }

    /// Follows typedefs and const/volatile/restrict/type tags.
    fn skip_modifiers(&self, mut id: u32) -> u32 {
        for _ in 0..16 {
            match self.types.get(id as usize) {
                Some(ty) if matches!(ty.kind, 8..=11 | 18) => id = ty.referred,
                _ => break,
            }
        }
        id
    }

    /// The entries of `fields` (`struct.member`) this BTF lacks. A member
    /// programs read past (see [`KernelBtf::ends_its_struct`]) counts as
    /// missing unless it is its struct's last one.
    pub fn missing<'f>(&self, fields: &'f [String]) -> Vec<&'f str> {
        fields
            .iter()
            .filter(|field| match field.split_once('.') {
                Some((strukt, member)) => {
                    !self.has_member(strukt, member)
                        || (READ_PAST.contains(&field.as_str())
                            && !self.ends_its_struct(strukt, member))
                }
                None => true,
            })
            .map(String::as_str)
            .collect()
    }

    /// The size in bytes of the struct named `strukt`; `None` when there is
    /// none, or structs of that name disagree.
    pub fn struct_size(&self, strukt: &str) -> Option<u32> {
        let mut found = None;
        for id in self.by_name.get(strukt)? {
            let ty = self.types.get(*id as usize)?;
            if ty.kind != KIND_STRUCT {
                continue;
            }
            match found {
                None => found = Some(ty.referred),
                Some(other) if other != ty.referred => return None,
                Some(_) => {}
            }
        }
        found
    }

    // overlayfs upper layer (`proc.exe.upper_layer`, `exec.upper_layer`)
    /// Whether the 8-byte `member` ends `strukt`: its offset plus 8 is the
    /// struct's size (a kernel built with a randomized struct layout may
    /// place it elsewhere).
    pub fn ends_its_struct(&self, strukt: &str, member: &str) -> bool {
        match (self.member_offset(strukt, member), self.struct_size(strukt)) {
            (Some(offset), Some(size)) => offset.checked_add(8) == Some(size),
            _ => false,
        }
    }
}

#[cfg(test)]
/// A tiny BTF: `int`, `struct inner { int b; }`,
/// `struct outer { int a; struct inner; /* anonymous */ }`.
pub(crate) fn tiny_btf() -> Vec<u8> {
    let strings = b"\0int\0inner\0b\0outer\0a\0";
    let name = |s: &str| {
        let pat = format!("\0{s}\0");
        strings
            .windows(pat.len())
            .position(|w| w == pat.as_bytes())
            .map(|p| p as u32 + 1)
            .expect("string present")
    };
    let mut types = Vec::new();
    let mut push = |words: &[u32]| {
        for w in words {
            types.extend_from_slice(&w.to_le_bytes());
        }
    };
    // 1: int
    push(&[name("int"), 1 << 24, 4, 32]);
    // 2: struct inner { int b; }
    push(&[name("inner"), (4 << 24) | 1, 4, name("b"), 1, 0]);
    // 3: struct outer { int a; <anon> struct inner; }
    push(&[name("outer"), (4 << 24) | 2, 8, name("a"), 1, 0, 0, 2, 32]);
    let mut out = Vec::new();
    out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&24u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(types.len() as u32).to_le_bytes());
    out.extend_from_slice(&(types.len() as u32).to_le_bytes());
    out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    out.extend_from_slice(&types);
    out.extend_from_slice(strings);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_direct_and_anonymous_members() {
        let btf = KernelBtf::parse(&tiny_btf()).expect("parses");
        assert!(btf.has_member("outer", "a"));
        assert!(btf.has_member("outer", "b"), "through the anonymous member");
        assert!(btf.has_member("inner", "b"));
        assert!(!btf.has_member("outer", "c"));
        assert!(!btf.has_member("nosuch", "a"));
        let fields = vec!["outer.a".to_string(), "outer.zz".to_string()];
        assert_eq!(btf.missing(&fields), vec!["outer.zz"]);
        assert_eq!(btf.struct_size("outer"), Some(8));
        assert_eq!(btf.struct_size("nosuch"), None);
    }

    /// A BTF of `int`, `void *` and `struct inode { void *i_private; int
    /// i_other; }` (size 16), or with the members swapped when `last`.
    fn inode_btf(last: bool) -> Vec<u8> {
        let strings = b"\0int\0inode\0i_private\0i_other\0";
        let at = |s: &str| {
            let pat = format!("\0{s}\0");
            strings
                .windows(pat.len())
                .position(|w| w == pat.as_bytes())
                .map(|p| p as u32 + 1)
                .expect("string present")
        };
        let mut words: Vec<u32> = Vec::new();
        // 1: int; 2: void *
        words.extend([at("int"), 1 << 24, 4, 32]);
        words.extend([0, 2 << 24, 0]);
        let (private_at, other_at) = if last { (64, 0) } else { (0, 64) };
        words.extend([at("inode"), (4 << 24) | 2, 16]);
        words.extend([at("i_private"), 2, private_at, at("i_other"), 1, other_at]);
        let types: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut out = Vec::new();
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for word in [
            24,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.len() as u32,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&types);
        out.extend_from_slice(strings);
        out
    }

    // overlayfs upper layer
    #[test]
    fn inode_private_counts_as_missing_unless_it_ends_struct_inode() {
        let fields = vec!["inode.i_private".to_string(), "inode.i_other".to_string()];
        let last = KernelBtf::parse(&inode_btf(true)).expect("parses");
        assert_eq!(last.struct_size("inode"), Some(16));
        assert!(last.ends_its_struct("inode", "i_private"));
        assert!(last.missing(&fields).is_empty());
        // A randomized layout: the upper dentry is not at i_private + 8.
        let first = KernelBtf::parse(&inode_btf(false)).expect("parses");
        assert!(first.has_member("inode", "i_private"));
        assert!(!first.ends_its_struct("inode", "i_private"));
        assert_eq!(first.missing(&fields), vec!["inode.i_private"]);
    }

    #[test]
    fn truncated_or_foreign_bytes_are_errors() {
        let bytes = tiny_btf();
        assert_eq!(
            KernelBtf::parse(&bytes[..30]).err(),
            Some(BtfError::Truncated)
        );
        assert_eq!(KernelBtf::parse(b"hello").err(), Some(BtfError::BadMagic));
    }

    #[test]
    fn the_running_kernel_has_the_members_polc_reads() {
        // Pure reading of a file, which kernels without BTF lack.
        let bytes = match std::fs::read("/sys/kernel/btf/vmlinux") {
            Ok(bytes) => bytes,
            Err(error) => {
                return polc_sys::test_gate::skip(
                    "the_running_kernel_has_the_members_polc_reads",
                    &format!("/sys/kernel/btf/vmlinux: {error}"),
                )
            }
        };
        let btf = KernelBtf::parse(&bytes).expect("kernel BTF parses");
        for member in polc::kernel::KernelMember::ALL {
            let (strukt, name) = member.names();
            assert!(btf.has_member(strukt, name), "{strukt}.{name}");
        }
        // overlayfs upper layer: read right after a `struct inode`.
        let size = btf.struct_size("inode").expect("struct inode");
        assert!(
            btf.ends_its_struct("inode", "i_private"),
            "inode size {size}"
        );
        assert!(!btf.ends_its_struct("inode", "i_ino"));
        assert!(btf.missing(&["inode.i_private".to_string()]).is_empty());
        assert!(!btf.has_member("task_struct", "no_such_member_here"));
    }

    #[test]
    fn a_variable_with_an_unknown_linkage_is_refused() {
        // Header, one VAR (kind 14) of type 0 with linkage 7, strings "\0".
        let mut bytes = Vec::new();
        for word in [0xeb9f_u32 | (1 << 16), 24, 0, 16, 16, 1] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        for word in [0u32, 14 << 24, 0, 7] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes.push(0);
        assert_eq!(
            KernelBtf::parse(&bytes).err(),
            Some(BtfError::BadVarLinkage { id: 1, linkage: 7 })
        );
        bytes[36] = 1;
        assert!(KernelBtf::parse(&bytes).is_ok());
    }
}
