//! CO-RE on the compiler's side: the local shapes of the kernel structs that
//! programs read ([`KernelMember`]), the layout the object declares for them,
//! and the access string of each member. Knows nothing of ELF or of the BTF
//! byte format; `btf.rs` encodes these shapes and `elf.rs` writes the code.
//!
//! A shape lists only the members polc reads, with the kinds the kernel uses
//! (an `int` for `pid_t`, a pointer, a `char` array, an embedded struct), so
//! that a loader (aya or libbpf) matches them by name against the running
//! kernel's BTF and rewrites every relocated instruction with the kernel's
//! offset. The local offsets are the natural C layout of the shape; they are
//! written into the instructions too, because libbpf checks that a relocated
//! instruction holds the local offset before patching it.

use super::ObjectError;
use crate::kernel::KernelMember;

/// The C type of a member of a local kernel struct shape.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum MemberType {
    /// `int` (also `pid_t`).
    Int,
    /// `unsigned int` (also `fmode_t`, `dev_t`, `u32`).
    UInt,
    /// `unsigned short` (also `__u16`, `__be16`).
    UShort,
    /// `unsigned long` (also `u64`, `vm_flags_t`).
    ULong,
    /// `char[len]`.
    CharArray(u32),
    /// `const char *`.
    ConstCharPtr,
    /// `void *`.
    VoidPtr,
    /// `struct NAME *`.
    StructPtr(&'static str),
    /// `struct NAME`, embedded.
    Struct(&'static str),
    /// `struct NAME[]`: a flexible array member (only its offset is read).
    StructArray(&'static str),
}

/// The local shape of one kernel struct.
#[derive(Debug)]
pub(super) struct Shape {
    pub name: &'static str,
    pub members: &'static [(&'static str, MemberType)],
}

/// Every struct a [`KernelMember`] can live in, plus the structs they embed.
/// Order here is the order of the types in `.BTF`.
pub(super) const SHAPES: &[Shape] = &[
    Shape {
        name: "task_struct",
        members: &[
            ("tgid", MemberType::Int),
            ("real_parent", MemberType::StructPtr("task_struct")),
            ("comm", MemberType::CharArray(16)),
            ("mm", MemberType::StructPtr("mm_struct")),
            ("files", MemberType::StructPtr("files_struct")),
            ("thread_info", MemberType::Struct("thread_info")),
            ("cred", MemberType::StructPtr("cred")),
            ("loginuid", MemberType::Struct("kid")),
            ("group_leader", MemberType::StructPtr("task_struct")),
            ("thread_pid", MemberType::StructPtr("pid")),
            ("start_time", MemberType::ULong),
            ("fs", MemberType::StructPtr("fs_struct")),
            ("signal", MemberType::StructPtr("signal_struct")),
            ("cgroups", MemberType::StructPtr("css_set")),
        ],
    },
    Shape {
        name: "linux_binprm",
        members: &[
            ("filename", MemberType::ConstCharPtr),
            ("file", MemberType::StructPtr("file")),
        ],
    },
    Shape {
        name: "file",
        members: &[
            ("f_path", MemberType::Struct("path")),
            ("f_flags", MemberType::UInt),
            ("f_mode", MemberType::UInt),
            ("f_inode", MemberType::StructPtr("inode")),
            ("private_data", MemberType::VoidPtr),
        ],
    },
    Shape {
        name: "path",
        members: &[
            ("mnt", MemberType::VoidPtr),
            ("dentry", MemberType::VoidPtr),
        ],
    },
    Shape {
        name: "thread_info",
        members: &[("status", MemberType::UInt)],
    },
    Shape {
        name: "mm_struct",
        members: &[
            ("exe_file", MemberType::StructPtr("file")),
            // command lines and environment (exec)
            ("start_stack", MemberType::ULong),
            ("arg_start", MemberType::ULong),
            ("arg_end", MemberType::ULong),
        ],
    },
    Shape {
        name: "files_struct",
        members: &[("fdt", MemberType::StructPtr("fdtable"))],
    },
    Shape {
        name: "fdtable",
        members: &[("max_fds", MemberType::UInt), ("fd", MemberType::VoidPtr)],
    },
    Shape {
        name: "dentry",
        members: &[
            ("d_parent", MemberType::StructPtr("dentry")),
            ("d_name", MemberType::Struct("qstr")),
            ("d_inode", MemberType::StructPtr("inode")),
        ],
    },
    Shape {
        name: "qstr",
        members: &[
            ("hash_len", MemberType::ULong),
            ("name", MemberType::ConstCharPtr),
        ],
    },
    Shape {
        name: "vfsmount",
        members: &[
            ("mnt_root", MemberType::StructPtr("dentry")),
            ("mnt_sb", MemberType::StructPtr("super_block")),
        ],
    },
    Shape {
        name: "mount",
        members: &[
            ("mnt_parent", MemberType::StructPtr("mount")),
            ("mnt_mountpoint", MemberType::StructPtr("dentry")),
            ("mnt", MemberType::Struct("vfsmount")),
        ],
    },
    Shape {
        name: "bpf_map",
        members: &[("id", MemberType::UInt)],
    },
    Shape {
        name: "bpf_prog",
        members: &[("aux", MemberType::StructPtr("bpf_prog_aux"))],
    },
    Shape {
        name: "bpf_prog_aux",
        members: &[("id", MemberType::UInt)],
    },
    Shape {
        name: "css_set",
        members: &[("dfl_cgrp", MemberType::StructPtr("cgroup"))],
    },
    Shape {
        name: "cgroup",
        members: &[("kn", MemberType::StructPtr("kernfs_node"))],
    },
    Shape {
        name: "kernfs_node",
        members: &[("name", MemberType::ConstCharPtr)],
    },
    Shape {
        name: "inode",
        members: &[
            ("i_ino", MemberType::ULong),
            ("i_sb", MemberType::StructPtr("super_block")),
            ("__i_nlink", MemberType::UInt),
            // overlayfs upper layer: the last member (see KernelMember::InodePrivate)
            ("i_private", MemberType::VoidPtr),
        ],
    },
    Shape {
        name: "super_block",
        members: &[
            ("s_dev", MemberType::UInt),
            ("s_type", MemberType::StructPtr("file_system_type")),
            // overlayfs upper layer
            ("s_magic", MemberType::ULong),
        ],
    },
    Shape {
        name: "pt_regs",
        members: &[
            ("orig_ax", MemberType::ULong),
            ("bx", MemberType::ULong),
            ("cx", MemberType::ULong),
            ("dx", MemberType::ULong),
            ("si", MemberType::ULong),
            ("di", MemberType::ULong),
            ("bp", MemberType::ULong),
            ("r10", MemberType::ULong),
            ("r8", MemberType::ULong),
            ("r9", MemberType::ULong),
        ],
    },
    Shape {
        name: "msghdr",
        members: &[("msg_name", MemberType::VoidPtr)],
    },
    Shape {
        name: "vm_area_struct",
        members: &[
            ("vm_file", MemberType::StructPtr("file")),
            ("vm_flags", MemberType::ULong),
        ],
    },
    Shape {
        name: "file_system_type",
        members: &[("name", MemberType::ConstCharPtr)],
    },
    Shape {
        // `sk` is a `struct sock *`, whose first member is its
        // `struct sock_common`: the members read through it are that one's.
        name: "socket",
        members: &[
            ("sk", MemberType::StructPtr("sock_common")),
            // `short`: read as its two bytes, masked.
            ("type", MemberType::UShort),
        ],
    },
    Shape {
        // The `struct sock` behind `socket.sk` (the same pointer as its
        // `sock_common`), for its protocol.
        name: "sock",
        members: &[("sk_protocol", MemberType::UShort)],
    },
    Shape {
        name: "sock_common",
        members: &[
            ("skc_family", MemberType::UShort),
            ("skc_num", MemberType::UShort),
            ("skc_dport", MemberType::UShort),
            ("skc_daddr", MemberType::UInt),
            ("skc_rcv_saddr", MemberType::UInt),
            ("skc_v6_daddr", MemberType::Struct("in6_addr")),
            ("skc_v6_rcv_saddr", MemberType::Struct("in6_addr")),
        ],
    },
    Shape {
        name: "in6_addr",
        members: &[("in6_u", MemberType::CharArray(16))],
    },
    Shape {
        // `kuid_t` and `kgid_t`: a struct holding the id (any struct name
        // matches the kernel's typedef of an anonymous struct).
        name: "kid",
        members: &[("val", MemberType::UInt)],
    },
    Shape {
        name: "cred",
        members: &[
            ("uid", MemberType::Struct("kid")),
            ("gid", MemberType::Struct("kid")),
            ("euid", MemberType::Struct("kid")),
            ("egid", MemberType::Struct("kid")),
            ("cap_effective", MemberType::Struct("kcap")),
        ],
    },
    Shape {
        // `kernel_cap_t`: a struct of 64 bits (any struct name matches the
        // kernel's typedef of an anonymous struct, whatever its members).
        name: "kcap",
        members: &[("val", MemberType::ULong)],
    },
    Shape {
        name: "pid",
        members: &[
            ("level", MemberType::UInt),
            ("numbers", MemberType::StructArray("upid")),
        ],
    },
    Shape {
        name: "upid",
        members: &[("nr", MemberType::Int), ("ns", MemberType::VoidPtr)],
    },
    Shape {
        name: "fs_struct",
        members: &[("pwd", MemberType::Struct("path"))],
    },
    Shape {
        name: "signal_struct",
        members: &[("tty", MemberType::StructPtr("tty_struct"))],
    },
    Shape {
        name: "tty_struct",
        members: &[("name", MemberType::CharArray(64))],
    },
];

/// Index of a shape in [`SHAPES`] by struct name.
pub(super) fn shape_index(name: &str) -> Option<usize> {
    SHAPES.iter().position(|shape| shape.name == name)
}

impl MemberType {
    /// Size in bytes (`None` for an embedded struct with no shape: a table bug).
    pub(super) fn size(self) -> Option<u32> {
        match self {
            MemberType::Int | MemberType::UInt => Some(4),
            MemberType::UShort => Some(2),
            MemberType::CharArray(len) => Some(len),
            MemberType::ULong
            | MemberType::ConstCharPtr
            | MemberType::VoidPtr
            | MemberType::StructPtr(_) => Some(8),
            MemberType::Struct(name) => Some(layout(&SHAPES[shape_index(name)?])?.size),
            MemberType::StructArray(_) => Some(0),
        }
    }

    /// Alignment in bytes.
    fn align(self) -> Option<u32> {
        match self {
            MemberType::CharArray(_) => Some(1),
            MemberType::Struct(name) | MemberType::StructArray(name) => {
                Some(layout(&SHAPES[shape_index(name)?])?.align)
            }
            other => other.size(),
        }
    }
}

/// Natural C layout of a shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Layout {
    /// Byte offset of each member.
    pub offsets: Vec<u32>,
    pub size: u32,
    pub align: u32,
}

/// The natural C layout of `shape`; `None` when it embeds an unknown struct.
pub(super) fn layout(shape: &Shape) -> Option<Layout> {
    let mut offsets = Vec::with_capacity(shape.members.len());
    let mut end = 0u32;
    let mut align = 1u32;
    for (_, ty) in shape.members {
        let member_align = ty.align()?;
        let offset = end.next_multiple_of(member_align);
        offsets.push(offset);
        end = offset + ty.size()?;
        align = align.max(member_align);
    }
    Some(Layout {
        offsets,
        size: end.next_multiple_of(align),
        align,
    })
}

/// The layout of shape number `shape`, computed once per process (every
/// relocation of every program asks).
fn layout_of(shape: usize) -> Option<&'static Layout> {
    static LAYOUTS: std::sync::OnceLock<Vec<Option<Layout>>> = std::sync::OnceLock::new();
    LAYOUTS
        .get_or_init(|| SHAPES.iter().map(layout).collect())
        .get(shape)?
        .as_ref()
}

/// Where a [`KernelMember`] lives in the local shapes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct MemberRef {
    /// Index of the struct in [`SHAPES`].
    pub shape: usize,
    /// Index of the member in the struct.
    pub index: usize,
    /// Local byte offset of the member.
    pub offset: u32,
}

impl MemberRef {
    /// The CO-RE access string: `0` (the struct the base pointer points at),
    /// then the member's index.
    pub(super) fn access_string(self) -> String {
        format!("0:{}", self.index)
    }
}

/// Finds `member` in the local shapes.
pub(super) fn resolve(member: KernelMember) -> Result<MemberRef, ObjectError> {
    let (strukt, name) = member.names();
    let unknown = || ObjectError::UnknownKernelMember {
        strukt,
        member: name,
    };
    let shape = shape_index(strukt).ok_or_else(unknown)?;
    let index = SHAPES[shape]
        .members
        .iter()
        .position(|(member_name, _)| *member_name == name)
        .ok_or_else(unknown)?;
    let offset = layout_of(shape).ok_or_else(unknown)?.offsets[index];
    Ok(MemberRef {
        shape,
        index,
        offset,
    })
}

/// The shapes `roots` need, closed over the structs their members point at or
/// embed, as a sorted list of indices into [`SHAPES`].
pub(super) fn needed_shapes(roots: impl IntoIterator<Item = usize>) -> Vec<usize> {
    let mut needed = vec![false; SHAPES.len()];
    let mut work: Vec<usize> = roots.into_iter().collect();
    while let Some(shape) = work.pop() {
        if std::mem::replace(&mut needed[shape], true) {
            continue;
        }
        for (_, ty) in SHAPES[shape].members {
            if let MemberType::Struct(name)
            | MemberType::StructPtr(name)
            | MemberType::StructArray(name) = ty
            {
                work.extend(shape_index(name));
            }
        }
    }
    (0..SHAPES.len()).filter(|i| needed[*i]).collect()
}

/// BPF instruction classes a CO-RE field-offset relocation may patch.
const BPF_LDX: u8 = 0x01;
const BPF_ALU64: u8 = 0x07;
/// `BPF_X` source bit: the operand is a register, not the immediate.
const BPF_X: u8 = 0x08;

/// Writes the local offset of `member` into the instruction at `slot`: the
/// `off` field of a load, or the `imm` of a 64-bit `+=` immediate.
pub(super) fn patch(
    code: &mut [u8],
    program: &str,
    slot: u32,
    member: MemberRef,
) -> Result<(), ObjectError> {
    let bad = || ObjectError::BadCoreReloc {
        program: program.to_string(),
        slot,
    };
    let start = (slot as usize).checked_mul(8).ok_or_else(bad)?;
    let insn = code.get_mut(start..start + 8).ok_or_else(bad)?;
    patch_offset(insn, member.offset).ok_or_else(bad)
}

/// Writes a member's byte `offset` into one instruction (8 bytes) as a
/// CO-RE field-offset relocation does: a load's offset or an add's
/// immediate. `None` for another instruction or an offset that does not
/// fit. What polrt applies when it relocates an object itself.
pub fn patch_offset(insn: &mut [u8], offset: u32) -> Option<()> {
    let opcode = *insn.first()?;
    match opcode & 0x07 {
        BPF_LDX => {
            let off = i16::try_from(offset).ok()?;
            insn.get_mut(2..4)?.copy_from_slice(&off.to_le_bytes());
        }
        BPF_ALU64 if opcode & BPF_X == 0 && opcode & 0xf0 == 0x00 => {
            let imm = i32::try_from(offset).ok()?;
            insn.get_mut(4..8)?.copy_from_slice(&imm.to_le_bytes());
        }
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_member_has_a_local_shape_of_its_size() {
        for member in KernelMember::ALL {
            let found = resolve(member).expect("member resolves");
            let (_, ty) = SHAPES[found.shape].members[found.index];
            assert_eq!(ty.size(), Some(member.size()), "{member:?}");
        }
    }

    #[test]
    fn layouts_are_natural_c_layouts() {
        let task = layout(&SHAPES[0]).expect("layout");
        assert_eq!(
            task.offsets,
            vec![0, 8, 16, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112]
        );
        assert_eq!(task.size, 120);
        let file = layout(&SHAPES[shape_index("file").expect("file")]).expect("layout");
        assert_eq!(file.offsets, vec![0, 16, 20, 24, 32]);
        assert_eq!(file.size, 40);
    }

    #[test]
    fn access_strings_index_the_member() {
        let parent = resolve(KernelMember::TaskRealParent).expect("resolves");
        assert_eq!(parent.access_string(), "0:1");
        assert_eq!(parent.offset, 8);
        assert_eq!(
            resolve(KernelMember::FileFMode)
                .expect("resolves")
                .access_string(),
            "0:2"
        );
    }

    #[test]
    fn needed_shapes_follow_embedded_structs() {
        let path = shape_index("path").expect("path");
        let qstr = shape_index("qstr").expect("qstr");
        let dentry = shape_index("dentry").expect("dentry");
        assert_eq!(needed_shapes([path]), vec![path]);
        let inode = shape_index("inode").expect("inode");
        let super_block = shape_index("super_block").expect("super_block");
        let fs_type = shape_index("file_system_type").expect("file_system_type");
        let mut closure = vec![dentry, qstr, inode, super_block, fs_type];
        closure.sort_unstable();
        assert_eq!(needed_shapes([dentry]), closure);
        assert_eq!(needed_shapes([path, path]), vec![path]);
        assert!(needed_shapes([]).is_empty());
    }

    #[test]
    fn patch_writes_load_offsets_and_add_immediates() {
        // r2 = *(u32 *)(r1 + 0); r3 += 0
        let mut code = vec![0x61, 0x12, 0, 0, 0, 0, 0, 0, 0x07, 0x03, 0, 0, 0, 0, 0, 0];
        let member = MemberRef {
            shape: 0,
            index: 2,
            offset: 16,
        };
        patch(&mut code, "p", 0, member).expect("load patches");
        patch(&mut code, "p", 1, member).expect("add patches");
        assert_eq!(&code[2..4], &16i16.to_le_bytes());
        assert_eq!(&code[12..16], &16i32.to_le_bytes());
        // A call is not a relocatable instruction; nor is a slot past the end.
        let mut call = vec![0x85, 0, 0, 0, 1, 0, 0, 0];
        assert!(patch(&mut call, "p", 0, member).is_err());
        assert!(patch(&mut call, "p", 1, member).is_err());
    }
}
