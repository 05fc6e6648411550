//! Container context in the kernel: the `container.*`, `proc.in_container`
//! and `k8s.pod.*` fields from the names of the task's cgroup v2 directory
//! (`task->cgroups->dfl_cgrp->kn`) and its ancestors, decided exactly as
//! [`crate::container::from_names`] decides them.
//!
//! One unrolled step per cgroup, at most [`MAX_CGROUP_LEVELS`]: read the
//! `kernfs_node`'s parent and name pointers (the parent is the pointer right
//! before `name`: `parent` before 6.15, `__parent` since, at the same place),
//! copy the name (at most [`NAME_BUF`] bytes with its NUL) into the walk
//! area, settle what the child's name left pending (a bare id waiting for a
//! `docker` or pod parent, a cgroupfs pod waiting for its QoS parent), then
//! match the name's shapes by length, prefix and suffix, copying the id or
//! uid of a match (a later match is an outer cgroup: the outermost wins).
//! A named container's shape (systemd-nspawn, LXC) has a name of any length:
//! a switch on the name's first byte picks the one shape to test, and its
//! suffix is read again from the kernel's name at its end (indexing the
//! buffer with the length would make the verifier track lengths precisely
//! across the walk). The name's length is kept in the walk area and loaded
//! afresh before each test of it, so that what one test learnt of it is
//! dead where its paths meet: the verifier prunes them there (without this
//! it processes about twice the instructions). Every name is kept pending (its first 64 bytes and its
//! length) for a parent that makes it a container (`docker`, `lxc`, a pod).
//! After the walk, the id must be 64 lowercase hex digits (a named
//! container's: its length, at most 64 bytes, zeros past it) and the uid a
//! uid, or there is no container (pod). A cgroup deeper than the walk, or a
//! kernel read that fails, is the `unknown` container.
//!
//! The walk state lives in the walk area of the scratch map (see
//! [`at`]); the code uses r0-r5 only. Every program type polc attaches can
//! call `bpf_get_current_task_btf` and `bpf_probe_read_kernel{,_str}`, so
//! every backend decides these fields in the kernel.

use super::{leaves, Emitter};
use crate::bpf::asm::{Alu, Asm, Helper, Jmp, Label, Reg, Size};
use crate::check::hooks::{ContainerPart, FieldId};
use crate::container::{
    Qos, Runtime, BARE_PARENTS, CONTAINER_SHAPES, ID_LEN, MAX_CGROUP_LEVELS, NAMED_MONITOR_CHILD,
    NAMED_PARENTS, NAMED_SHAPES, NAME_BUF, POD_DIR_PARENTS, POD_DIR_PREFIX, POD_SHAPES,
    POD_SLICE_SUFFIX, POD_UID_LEN, SHORT_ID_LEN, UID_DASHES, UNKNOWN,
};
use crate::kernel::KernelMember;

/// Offsets in the walk area.
pub(super) mod at {
    /// The next `kernfs_node` to read (0: past the root).
    pub const KN: u32 = 0;
    /// The parent and name pointers of the node being read.
    pub const TMP: u32 = 8;
    /// The container id's length (64 but for a named container's).
    pub const ID_LEN: u32 = 24;
    /// The length of the child's name when it may be a container's name
    /// alone (its first 64 bytes at [`BARE`]); 0: none.
    pub const BARE_PENDING: u32 = 32;
    /// Non-zero when the child's name was a cgroupfs pod (uid at [`DIR_UID`]).
    pub const DIR_PENDING: u32 = 40;
    /// The container's runtime code (0: none).
    pub const RUNTIME: u32 = 48;
    /// The pod's QoS code (0: none).
    pub const QOS: u32 = 56;
    /// The container id (64 bytes).
    pub const ID: u32 = 64;
    /// A bare id waiting for its parent.
    pub const BARE: u32 = 128;
    /// The pod uid (36 bytes).
    pub const UID: u32 = 192;
    /// A cgroupfs pod's uid waiting for its parent.
    pub const DIR_UID: u32 = 232;
    /// The name buffer (`NAME_BUF` bytes, and 8 for word loads past it).
    pub const NAME: u32 = 272;
    /// Non-zero when the child's name was `supervisor` (a named
    /// container's monitor).
    pub const MONITOR: u32 = NAME + super::NAME_BUF as u32 + 8;
    /// The name's length, kept across a helper call.
    pub const NAME_LEN: u32 = MONITOR + 8;
    /// The last bytes of a name, read again from the kernel (a named
    /// shape's suffix).
    pub const SUFFIX: u32 = NAME_LEN + 8;
    /// Bytes used.
    pub const END: u32 = SUFFIX + 8;
}

const _: () = assert!(at::END <= super::path::walk::LEN);

const _: () = {
    let mut i = 0;
    while i < NAMED_SHAPES.len() {
        assert!(NAMED_SHAPES[i].0.len() <= 15 && NAMED_SHAPES[i].1.len() <= 8);
        i += 1;
    }
};

/// Which parts of the context `part` needs: the container's, the pod's.
fn needs(part: ContainerPart) -> (bool, bool) {
    match part {
        ContainerPart::Id
        | ContainerPart::ShortId
        | ContainerPart::Runtime
        | ContainerPart::InContainer => (true, false),
        ContainerPart::PodUid | ContainerPart::PodQos => (false, true),
    }
}

/// Emits the load of `fields` (each with its part of the context) into
/// their slots, with one walk; the last one's value is left as a single
/// field's load leaves it (r1 for a bool).
pub(super) fn load(e: &mut Emitter<'_>, fields: &[(FieldId, ContainerPart)]) {
    let w = e.env.layout.walk;
    let (container, pod) = fields.iter().fold((false, false), |(c, p), (_, part)| {
        let (c2, p2) = needs(*part);
        (c || c2, p || p2)
    });
    e.asm.note(format!(
        "load {}",
        fields
            .iter()
            .map(|(f, _)| f.spec().name)
            .collect::<Vec<_>>()
            .join(", ")
    ));
    walk(&mut e.asm, w, container, pod);
    for (field, part) in fields {
        write(e, *field, *part);
    }
}

/// `r7 + off` as an i16 offset.
fn off(w: u32, at: u32) -> i16 {
    (w + at) as i16
}

/// `bpf_probe_read_kernel(r7 + w + dst, size, r3)`; jumps to `fail` when
/// the read fails.
fn read(asm: &mut Asm, w: u32, dst: u32, size: i32, fail: Label) {
    asm.mov(Reg::R1, Reg::R7);
    asm.alu_imm(Alu::Add, Reg::R1, (w + dst) as i32);
    asm.mov_imm(Reg::R2, size);
    asm.call(Helper::ProbeReadKernel);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R0, 0, fail);
}

/// Copies `len` bytes at `r7 + w + from` (or `base + from` when `base` is
/// given) to `r7 + w + to`, through r2.
fn copy(asm: &mut Asm, base: Option<Reg>, w: u32, from: u32, to: u32, len: usize) {
    let (src, src_off) = match base {
        Some(reg) => (reg, from as i16),
        None => (Reg::R7, off(w, from)),
    };
    let mut done = 0usize;
    for (size, width) in [(Size::DoubleWord, 8usize), (Size::Word, 4), (Size::Byte, 1)] {
        while len - done >= width {
            asm.load(size, Reg::R2, src, src_off + done as i16);
            asm.store(size, Reg::R7, off(w, to) + done as i16, Reg::R2);
            done += width;
        }
    }
}

/// Loads the name's length into r1 afresh: what a test learnt of it is
/// dead where that test's paths meet again, and the verifier prunes there.
fn name_len(asm: &mut Asm, w: u32) {
    asm.load(Size::DoubleWord, Reg::R1, Reg::R7, off(w, at::NAME_LEN));
}

/// Jumps to `fail` unless the name read (length in r1) is `lit`.
fn name_is(asm: &mut Asm, w: u32, lit: &str, fail: Label) {
    name_len(asm, w);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R1, lit.len() as i32, fail);
    leaves::bytes_eq(asm, Reg::R7, off(w, at::NAME), lit.as_bytes(), fail);
}

/// One step of a walk level: emits its tests of the name read.
type Step = fn(&mut Asm, u32);

/// The walk: leaves the runtime code at [`at::RUNTIME`] (and the id at
/// [`at::ID`]) when `container`, the QoS code at [`at::QOS`] (and the uid at
/// [`at::UID`]) when `pod`.
fn walk(asm: &mut Asm, w: u32, container: bool, pod: bool) {
    asm.note("container context: the names of the task's cgroup and its ancestors");
    let unknown = asm.label("cgroup_unknown");
    let walked = asm.label("cgroup_walked");
    for word in [
        at::RUNTIME,
        at::QOS,
        at::BARE_PENDING,
        at::DIR_PENDING,
        at::MONITOR,
    ] {
        asm.store_imm(Size::DoubleWord, Reg::R7, off(w, word), 0);
    }
    // task->cgroups->dfl_cgrp->kn: pointer loads through the task's BTF
    // type (as `real_parent` in the ancestry), no helper call; a fault
    // reads 0, and no node is unknown (as a failed read is). The nodes
    // above are read with one helper call per level.
    asm.call(Helper::GetCurrentTaskBtf);
    asm.load_member(
        Size::DoubleWord,
        Reg::R3,
        Reg::R0,
        KernelMember::TaskCgroups,
    );
    asm.load_member(
        Size::DoubleWord,
        Reg::R3,
        Reg::R3,
        KernelMember::CssSetDflCgrp,
    );
    asm.load_member(Size::DoubleWord, Reg::R3, Reg::R3, KernelMember::CgroupKn);
    asm.jump_imm(Jmp::IfEqual, Reg::R3, 0, unknown);
    asm.store(Size::DoubleWord, Reg::R7, off(w, at::KN), Reg::R3);
    for level in 0..MAX_CGROUP_LEVELS {
        // A long unrolled walk (several in one rule, with its other
        // fields): places for far jumps' islands.
        if level % 4 == 3 {
            asm.island_point();
        }
        asm.note(format!("cgroup level {level}"));
        asm.load(Size::DoubleWord, Reg::R3, Reg::R7, off(w, at::KN));
        asm.jump_imm(Jmp::IfEqual, Reg::R3, 0, walked);
        asm.add_member_offset(Reg::R3, KernelMember::KernfsNodeName);
        asm.alu_imm(Alu::Add, Reg::R3, -8);
        read(asm, w, at::TMP, 16, unknown);
        asm.load(Size::DoubleWord, Reg::R1, Reg::R7, off(w, at::TMP));
        asm.store(Size::DoubleWord, Reg::R7, off(w, at::KN), Reg::R1);
        asm.load(Size::DoubleWord, Reg::R3, Reg::R7, off(w, at::TMP + 8));
        asm.mov(Reg::R1, Reg::R7);
        asm.alu_imm(Alu::Add, Reg::R1, (w + at::NAME) as i32);
        asm.mov_imm(Reg::R2, NAME_BUF as i32);
        asm.call(Helper::ProbeReadKernelStr);
        let read_ok = asm.label("name_read");
        asm.jump_imm(Jmp::IfSignedGreater, Reg::R0, 0, read_ok);
        asm.goto(unknown);
        asm.bind(read_ok);
        asm.alu_imm(Alu::Add, Reg::R0, -1);
        // The name's length, loaded afresh before each test of it (see
        // `name_len`).
        asm.store(Size::DoubleWord, Reg::R7, off(w, at::NAME_LEN), Reg::R0);
        let steps: [(bool, Step); 5] = [
            (container, pending_bare),
            (pod, pending_dir),
            (container, container_name),
            (container, monitor_name),
            (pod, pod_name),
        ];
        for (wanted, step) in steps {
            if wanted {
                name_len(asm, w);
                step(asm, w);
            }
        }
    }
    asm.note("deeper than the walk: unknown");
    asm.load(Size::DoubleWord, Reg::R3, Reg::R7, off(w, at::KN));
    asm.jump_imm(Jmp::IfEqual, Reg::R3, 0, walked);
    let end = asm.label("cgroup_context");
    asm.bind(unknown);
    asm.store_imm(
        Size::DoubleWord,
        Reg::R7,
        off(w, at::RUNTIME),
        Runtime::Unknown.code() as i32,
    );
    asm.store_imm(Size::DoubleWord, Reg::R7, off(w, at::QOS), 0);
    asm.goto(end);
    asm.bind(walked);
    asm.island_point();
    if container {
        validate_id(asm, w);
    }
    if pod {
        validate_uid(asm, w);
    }
    asm.bind(end);
}

/// The child's bare name: a container of the runtime its parent's name
/// says ([`BARE_PARENTS`]: a 64-byte name, the id; [`NAMED_PARENTS`]: the
/// name, cut to 64 bytes), a CRI one (64 bytes) under a cgroupfs pod.
fn pending_bare(asm: &mut Asm, w: u32) {
    let skip = asm.label("no_bare_child");
    asm.load(Size::DoubleWord, Reg::R2, Reg::R7, off(w, at::BARE_PENDING));
    asm.jump_imm(Jmp::IfEqual, Reg::R2, 0, skip);
    asm.store_imm(Size::DoubleWord, Reg::R7, off(w, at::BARE_PENDING), 0);
    let commit = asm.label("bare_container");
    let commit_named = asm.label("bare_named_container");
    for (parent, runtime) in BARE_PARENTS {
        let next = asm.label("not_this_parent");
        name_is(asm, w, parent, next);
        asm.jump_imm(Jmp::IfNotEqual, Reg::R2, ID_LEN as i32, skip);
        asm.mov_imm(Reg::R4, runtime.code() as i32);
        asm.goto(commit);
        asm.bind(next);
    }
    for (parent, runtime) in NAMED_PARENTS {
        let next = asm.label("not_this_named_parent");
        name_is(asm, w, parent, next);
        asm.mov_imm(Reg::R4, runtime.code() as i32);
        asm.goto(commit_named);
        asm.bind(next);
    }
    name_len(asm, w);
    asm.jump_imm(
        Jmp::IfNotEqual,
        Reg::R1,
        (POD_DIR_PREFIX.len() + POD_UID_LEN) as i32,
        skip,
    );
    leaves::bytes_eq(
        asm,
        Reg::R7,
        off(w, at::NAME),
        POD_DIR_PREFIX.as_bytes(),
        skip,
    );
    asm.jump_imm(Jmp::IfNotEqual, Reg::R2, ID_LEN as i32, skip);
    asm.mov_imm(Reg::R4, Runtime::Cri.code() as i32);
    asm.goto(commit);
    asm.bind(commit_named);
    let fits = asm.label("bare_name_fits");
    asm.jump_imm(Jmp::IfLessThanOrEqual, Reg::R2, ID_LEN as i32, fits);
    asm.mov_imm(Reg::R2, ID_LEN as i32);
    asm.bind(fits);
    asm.bind(commit);
    asm.store(Size::DoubleWord, Reg::R7, off(w, at::RUNTIME), Reg::R4);
    asm.store(Size::DoubleWord, Reg::R7, off(w, at::ID_LEN), Reg::R2);
    copy(asm, None, w, at::BARE, at::ID, ID_LEN);
    asm.bind(skip);
}

/// The child's cgroupfs pod: a pod when this is `kubepods`, `burstable` or
/// `besteffort`.
fn pending_dir(asm: &mut Asm, w: u32) {
    let skip = asm.label("no_pod_child");
    asm.load(Size::DoubleWord, Reg::R2, Reg::R7, off(w, at::DIR_PENDING));
    asm.jump_imm(Jmp::IfEqual, Reg::R2, 0, skip);
    asm.store_imm(Size::DoubleWord, Reg::R7, off(w, at::DIR_PENDING), 0);
    let commit = asm.label("pod_dir");
    for (parent, qos) in POD_DIR_PARENTS {
        let next = asm.label("not_qos_dir");
        name_is(asm, w, parent, next);
        asm.mov_imm(Reg::R4, qos.code() as i32);
        asm.goto(commit);
        asm.bind(next);
    }
    asm.goto(skip);
    asm.bind(commit);
    asm.store(Size::DoubleWord, Reg::R7, off(w, at::QOS), Reg::R4);
    copy(asm, None, w, at::DIR_UID, at::UID, POD_UID_LEN);
    asm.bind(skip);
}

/// This name as a container: one of the shapes (id copied, runtime set), a
/// named container's shape (name copied, unless the child was its
/// monitor), or a name alone (kept pending).
fn container_name(asm: &mut Asm, w: u32) {
    let end = asm.label("container_name_done");
    let record = asm.label("container_name");
    let record_named = asm.label("named_container_name");
    let name = off(w, at::NAME);
    for (prefix, suffix, runtime) in CONTAINER_SHAPES {
        let next = asm.label("not_this_shape");
        let len = prefix.len() + ID_LEN + suffix.len();
        name_len(asm, w);
        asm.jump_imm(Jmp::IfNotEqual, Reg::R1, len as i32, next);
        leaves::bytes_eq(asm, Reg::R7, name, prefix.as_bytes(), next);
        let suffix_at = name + (len - suffix.len()) as i16;
        leaves::bytes_eq(asm, Reg::R7, suffix_at, suffix.as_bytes(), next);
        asm.mov_imm(Reg::R4, runtime.code() as i32);
        asm.mov(Reg::R0, Reg::R7);
        asm.alu_imm(Alu::Add, Reg::R0, i32::from(name) + prefix.len() as i32);
        asm.goto(record);
        asm.bind(next);
    }
    // The named shapes' prefixes start with different bytes: a switch on
    // the first byte puts one of them at most on any path.
    let not_named = asm.label("not_named_shape");
    let shapes: Vec<Label> = NAMED_SHAPES
        .iter()
        .map(|_| asm.label("named_shape"))
        .collect();
    asm.load(Size::Byte, Reg::R2, Reg::R7, name);
    for ((prefix, _, _), label) in NAMED_SHAPES.iter().zip(&shapes) {
        asm.jump_imm(
            Jmp::IfEqual,
            Reg::R2,
            i32::from(prefix.as_bytes()[0]),
            *label,
        );
    }
    asm.goto(not_named);
    for ((prefix, suffix, runtime), label) in NAMED_SHAPES.iter().zip(&shapes) {
        let next = not_named;
        asm.bind(*label);
        name_len(asm, w);
        let least = prefix.len() + suffix.len() + 1;
        asm.jump_imm(Jmp::IfLessThan, Reg::R1, least as i32, next);
        asm.jump_imm(Jmp::IfGreater, Reg::R1, NAME_BUF as i32 - 1, next);
        leaves::bytes_eq(asm, Reg::R7, name, prefix.as_bytes(), next);
        if !suffix.is_empty() {
            // The suffix ends where the name does, at a variable offset:
            // read those bytes again from the kernel's name (its pointer is
            // still at TMP + 8) rather than index the buffer with the
            // length, which would make the verifier track the length
            // precisely at every branch of the walk (and prune less).
            assert!(suffix.len() <= 8);
            asm.load(Size::DoubleWord, Reg::R3, Reg::R7, off(w, at::TMP + 8));
            asm.alu(Alu::Add, Reg::R3, Reg::R1);
            asm.alu_imm(Alu::Add, Reg::R3, -(suffix.len() as i32));
            asm.mov(Reg::R1, Reg::R7);
            asm.alu_imm(Alu::Add, Reg::R1, (w + at::SUFFIX) as i32);
            asm.mov_imm(Reg::R2, suffix.len() as i32);
            asm.call(Helper::ProbeReadKernel);
            asm.load(Size::DoubleWord, Reg::R1, Reg::R7, off(w, at::NAME_LEN));
            asm.jump_imm(Jmp::IfNotEqual, Reg::R0, 0, next);
            leaves::bytes_eq(asm, Reg::R7, off(w, at::SUFFIX), suffix.as_bytes(), next);
        }
        // Below it, its monitor's cgroup: no container, nothing pending.
        asm.load(Size::DoubleWord, Reg::R2, Reg::R7, off(w, at::MONITOR));
        asm.jump_imm(Jmp::IfNotEqual, Reg::R2, 0, end);
        asm.mov_imm(Reg::R4, runtime.code() as i32);
        asm.mov(Reg::R2, Reg::R1);
        asm.alu_imm(Alu::Add, Reg::R2, -((prefix.len() + suffix.len()) as i32));
        asm.mov(Reg::R0, Reg::R7);
        asm.alu_imm(Alu::Add, Reg::R0, i32::from(name) + prefix.len() as i32);
        asm.goto(record_named);
    }
    asm.bind(not_named);
    // Every name, pending for its parent (the root's, empty, is no name:
    // its length 0 is "none"; it has no parent anyway).
    name_len(asm, w);
    copy(asm, None, w, at::NAME, at::BARE, ID_LEN);
    asm.store(Size::DoubleWord, Reg::R7, off(w, at::BARE_PENDING), Reg::R1);
    asm.goto(end);
    asm.bind(record_named);
    let fits = asm.label("name_fits");
    asm.jump_imm(Jmp::IfLessThanOrEqual, Reg::R2, ID_LEN as i32, fits);
    asm.mov_imm(Reg::R2, ID_LEN as i32);
    asm.bind(fits);
    asm.store(Size::DoubleWord, Reg::R7, off(w, at::ID_LEN), Reg::R2);
    let stored = asm.label("id_len_stored");
    asm.goto(stored);
    asm.bind(record);
    asm.store_imm(Size::DoubleWord, Reg::R7, off(w, at::ID_LEN), ID_LEN as i32);
    asm.bind(stored);
    asm.store(Size::DoubleWord, Reg::R7, off(w, at::RUNTIME), Reg::R4);
    copy(asm, Some(Reg::R0), w, 0, at::ID, ID_LEN);
    asm.bind(end);
}

/// Whether this name is a named container's monitor's, for the parent.
fn monitor_name(asm: &mut Asm, w: u32) {
    let end = asm.label("monitor_done");
    asm.store_imm(Size::DoubleWord, Reg::R7, off(w, at::MONITOR), 0);
    name_is(asm, w, NAMED_MONITOR_CHILD, end);
    asm.store_imm(Size::DoubleWord, Reg::R7, off(w, at::MONITOR), 1);
    asm.bind(end);
}

/// This name as a pod: a systemd pod slice (uid copied, QoS set), or a
/// cgroupfs pod directory (kept pending).
fn pod_name(asm: &mut Asm, w: u32) {
    let end = asm.label("pod_name_done");
    let record = asm.label("pod_name");
    let name = off(w, at::NAME);
    for (prefix, qos) in POD_SHAPES {
        let next = asm.label("not_this_pod_shape");
        let len = prefix.len() + POD_UID_LEN + POD_SLICE_SUFFIX.len();
        name_len(asm, w);
        asm.jump_imm(Jmp::IfNotEqual, Reg::R1, len as i32, next);
        leaves::bytes_eq(asm, Reg::R7, name, prefix.as_bytes(), next);
        let suffix_at = name + (len - POD_SLICE_SUFFIX.len()) as i16;
        leaves::bytes_eq(asm, Reg::R7, suffix_at, POD_SLICE_SUFFIX.as_bytes(), next);
        asm.mov_imm(Reg::R4, qos.code() as i32);
        asm.mov(Reg::R0, Reg::R7);
        asm.alu_imm(Alu::Add, Reg::R0, i32::from(name) + prefix.len() as i32);
        asm.goto(record);
        asm.bind(next);
    }
    let dir_len = POD_DIR_PREFIX.len() + POD_UID_LEN;
    name_len(asm, w);
    asm.jump_imm(Jmp::IfNotEqual, Reg::R1, dir_len as i32, end);
    leaves::bytes_eq(asm, Reg::R7, name, POD_DIR_PREFIX.as_bytes(), end);
    copy(
        asm,
        None,
        w,
        at::NAME + POD_DIR_PREFIX.len() as u32,
        at::DIR_UID,
        POD_UID_LEN,
    );
    asm.store_imm(Size::DoubleWord, Reg::R7, off(w, at::DIR_PENDING), 1);
    asm.goto(end);
    asm.bind(record);
    asm.store(Size::DoubleWord, Reg::R7, off(w, at::QOS), Reg::R4);
    copy(asm, Some(Reg::R0), w, 0, at::UID, POD_UID_LEN);
    asm.bind(end);
}

/// Jumps to `bad` unless the byte in r2 is a lowercase hex digit (uses r3).
fn hex_digit(asm: &mut Asm, bad: Label) {
    let ok = asm.label("hex_digit");
    asm.mov(Reg::R3, Reg::R2);
    asm.alu_imm(Alu::Add, Reg::R3, -i32::from(b'0'));
    asm.jump_imm(Jmp::IfLessThanOrEqual, Reg::R3, 9, ok);
    asm.mov(Reg::R3, Reg::R2);
    asm.alu_imm(Alu::Add, Reg::R3, -i32::from(b'a'));
    asm.jump_imm(Jmp::IfGreater, Reg::R3, 5, bad);
    asm.bind(ok);
}

/// No container unless the id found is 64 lowercase hex digits; a named
/// container's id has its bytes past its length zeroed.
fn validate_id(asm: &mut Asm, w: u32) {
    asm.note("the id: 64 lowercase hex digits, or a name");
    let done = asm.label("id_checked");
    let bad = asm.label("id_bad");
    let named = asm.label("id_named");
    asm.load(Size::DoubleWord, Reg::R1, Reg::R7, off(w, at::RUNTIME));
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, done);
    for runtime in Runtime::ALL.iter().filter(|r| r.named()) {
        asm.jump_imm(Jmp::IfEqual, Reg::R1, runtime.code() as i32, named);
    }
    for i in 0..ID_LEN {
        asm.load(Size::Byte, Reg::R2, Reg::R7, off(w, at::ID) + i as i16);
        hex_digit(asm, bad);
    }
    asm.goto(done);
    asm.bind(bad);
    asm.store_imm(Size::DoubleWord, Reg::R7, off(w, at::RUNTIME), 0);
    asm.goto(done);
    asm.bind(named);
    // Past its length the id has what the name buffer held (a suffix, or
    // a longer name read before): zero 64 bytes from the length read back
    // from the walk area (a value the verifier need not have tracked
    // through the walk: indexing with a length there would make it keep
    // the walk's lengths precise, and prune less). Past the id they fall in
    // the (then unused) area of a pending name.
    asm.load(Size::DoubleWord, Reg::R1, Reg::R7, off(w, at::ID_LEN));
    asm.jump_imm(Jmp::IfGreater, Reg::R1, ID_LEN as i32, done);
    asm.mov(Reg::R2, Reg::R7);
    asm.alu(Alu::Add, Reg::R2, Reg::R1);
    for word in 0..ID_LEN / 8 {
        asm.store_imm(
            Size::DoubleWord,
            Reg::R2,
            off(w, at::ID) + 8 * word as i16,
            0,
        );
    }
    asm.bind(done);
}

const _: () = assert!(at::ID + 2 * ID_LEN as u32 <= at::UID);

/// No pod unless the uid found is hex digits with dashes (or `_`, made
/// dashes) at [`UID_DASHES`].
fn validate_uid(asm: &mut Asm, w: u32) {
    asm.note("the pod uid: hex digits and four dashes");
    let done = asm.label("uid_checked");
    let bad = asm.label("uid_bad");
    asm.load(Size::DoubleWord, Reg::R1, Reg::R7, off(w, at::QOS));
    asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, done);
    for i in 0..POD_UID_LEN {
        let at_byte = off(w, at::UID) + i as i16;
        asm.load(Size::Byte, Reg::R2, Reg::R7, at_byte);
        if UID_DASHES.contains(&i) {
            let dash = asm.label("dash");
            asm.jump_imm(Jmp::IfEqual, Reg::R2, i32::from(b'-'), dash);
            asm.jump_imm(Jmp::IfNotEqual, Reg::R2, i32::from(b'_'), bad);
            asm.store_imm(Size::Byte, Reg::R7, at_byte, i32::from(b'-'));
            asm.bind(dash);
        } else {
            hex_digit(asm, bad);
        }
    }
    asm.goto(done);
    asm.bind(bad);
    asm.store_imm(Size::DoubleWord, Reg::R7, off(w, at::QOS), 0);
    asm.bind(done);
}

/// Writes `lit` (and its NUL) at `slot` and its length at `len`.
fn write_lit(asm: &mut Asm, slot: i16, len: i16, lit: &[u8]) {
    let mut at = 0usize;
    while lit.len() - at >= 4 {
        let word = i32::from_le_bytes(lit[at..at + 4].try_into().unwrap());
        asm.store_imm(Size::Word, Reg::R7, slot + at as i16, word);
        at += 4;
    }
    for (i, b) in lit[at..].iter().enumerate() {
        asm.store_imm(Size::Byte, Reg::R7, slot + (at + i) as i16, i32::from(*b));
    }
    asm.store_imm(Size::Byte, Reg::R7, slot + lit.len() as i16, 0);
    asm.store_imm(Size::DoubleWord, Reg::R7, len, lit.len() as i32);
}

/// Writes the name of the code at `r7 + w + code` among `names` (code =
/// index + 1; anything else the empty string).
fn write_name(asm: &mut Asm, w: u32, code: u32, slot: i16, len: i16, names: &[&str]) {
    let done = asm.label("name_written");
    asm.load(Size::DoubleWord, Reg::R1, Reg::R7, off(w, code));
    for (i, name) in names.iter().enumerate() {
        let next = asm.label("not_this_name");
        asm.jump_imm(Jmp::IfNotEqual, Reg::R1, i as i32 + 1, next);
        write_lit(asm, slot, len, name.as_bytes());
        asm.goto(done);
        asm.bind(next);
    }
    write_lit(asm, slot, len, b"");
    asm.bind(done);
}

/// Writes the field's value from what the walk left.
fn write(e: &mut Emitter<'_>, field: FieldId, part: ContainerPart) {
    let w = e.env.layout.walk;
    let slot = e.env.layout.slot(field);
    let fill = super::fields::zero_fill_len(e, field);
    if part == ContainerPart::InContainer {
        let asm = &mut e.asm;
        let none = asm.label("not_in_container");
        asm.load(Size::DoubleWord, Reg::R1, Reg::R7, off(w, at::RUNTIME));
        asm.jump_imm(Jmp::IfEqual, Reg::R1, 0, none);
        asm.mov_imm(Reg::R1, 1);
        asm.bind(none);
        asm.store(Size::DoubleWord, Reg::R7, slot, Reg::R1);
        return;
    }
    if let Some(bytes) = fill {
        super::fields::zero_fill(e, slot, bytes);
    }
    let len = e.env.layout.len_slot(field);
    let asm = &mut e.asm;
    match part {
        ContainerPart::Runtime => {
            let names: Vec<&str> = Runtime::ALL.iter().map(|r| r.name()).collect();
            write_name(asm, w, at::RUNTIME, slot, len, &names);
        }
        ContainerPart::PodQos => {
            let names: Vec<&str> = Qos::ALL.iter().map(|q| q.name()).collect();
            write_name(asm, w, at::QOS, slot, len, &names);
        }
        ContainerPart::Id | ContainerPart::ShortId => {
            let n = if part == ContainerPart::Id {
                ID_LEN
            } else {
                SHORT_ID_LEN
            };
            let done = asm.label("id_written");
            let some = asm.label("in_container");
            let known = asm.label("known_container");
            asm.load(Size::DoubleWord, Reg::R1, Reg::R7, off(w, at::RUNTIME));
            asm.jump_imm(Jmp::IfNotEqual, Reg::R1, 0, some);
            write_lit(asm, slot, len, b"");
            asm.goto(done);
            asm.bind(some);
            asm.jump_imm(
                Jmp::IfNotEqual,
                Reg::R1,
                Runtime::Unknown.code() as i32,
                known,
            );
            write_lit(asm, slot, len, UNKNOWN.as_bytes());
            asm.goto(done);
            asm.bind(known);
            copy_to_slot(asm, w, at::ID, slot, n);
            asm.store_imm(Size::Byte, Reg::R7, slot + n as i16, 0);
            // The length: the id's (64 but for a name), at most n.
            let fits = asm.label("id_len_fits");
            asm.load(Size::DoubleWord, Reg::R1, Reg::R7, off(w, at::ID_LEN));
            asm.jump_imm(Jmp::IfLessThanOrEqual, Reg::R1, n as i32, fits);
            asm.mov_imm(Reg::R1, n as i32);
            asm.bind(fits);
            asm.store(Size::DoubleWord, Reg::R7, len, Reg::R1);
            asm.bind(done);
        }
        ContainerPart::PodUid => {
            let done = asm.label("uid_written");
            let some = asm.label("in_pod");
            asm.load(Size::DoubleWord, Reg::R1, Reg::R7, off(w, at::QOS));
            asm.jump_imm(Jmp::IfNotEqual, Reg::R1, 0, some);
            write_lit(asm, slot, len, b"");
            asm.goto(done);
            asm.bind(some);
            copy_to_slot(asm, w, at::UID, slot, POD_UID_LEN);
            asm.store_imm(Size::Byte, Reg::R7, slot + POD_UID_LEN as i16, 0);
            asm.store_imm(Size::DoubleWord, Reg::R7, len, POD_UID_LEN as i32);
            asm.bind(done);
        }
        ContainerPart::InContainer => unreachable!(),
    }
}

/// Copies `n` bytes from the walk area to a field slot.
fn copy_to_slot(asm: &mut Asm, w: u32, from: u32, slot: i16, n: usize) {
    let mut done = 0usize;
    for (size, width) in [(Size::DoubleWord, 8usize), (Size::Word, 4), (Size::Byte, 1)] {
        while n - done >= width {
            asm.load(size, Reg::R2, Reg::R7, off(w, from) + done as i16);
            asm.store(size, Reg::R7, slot + done as i16, Reg::R2);
            done += width;
        }
    }
}
