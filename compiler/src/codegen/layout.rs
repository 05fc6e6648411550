//! The per-hook layout of the scratch buffer: the event record (header, then
//! every field the hook's programs load, each at a fixed offset) followed by
//! an auxiliary area (string lengths, a sockaddr copy) that is never sent.
//!
//! Strings get 8 bytes before their slot so that an LPM trie key
//! `{ u32 prefixlen; u8 data[] }` can be formed in place (prefixlen written
//! just before the data); ips are `u32 family, u32 (prefixlen scratch),
//! u8[16]` for the same reason.

use super::path;
use crate::abi::{FieldEncoding, FieldSlot, HeaderField, EVENT_HEADER_LEN};
use crate::check::hooks::{FieldId, FieldType, Hook, EXEC_ARGS_MAX};

/// Bytes after the last used byte of the scratch buffer, so that 8-byte
/// loads at the end of a string (suffix and substring tests) stay in bounds.
pub const SCRATCH_TAIL: u32 = 16;

/// Bytes of the sockaddr copy in the auxiliary area.
pub const SOCKADDR_COPY: u32 = 24;

/// Where everything sits in the scratch buffer for one hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub hook: Hook,
    /// Bytes sent per event (header and field slots).
    pub record_len: u32,
    /// Each loaded field's slot.
    pub slots: Vec<(FieldId, u32)>,
    /// Each string field's length (u64, without the NUL), in the aux area.
    pub lens: Vec<(FieldId, u32)>,
    /// The sockaddr copy, in the aux area.
    pub sockaddr: u32,
    /// The system call ABI a syscall guard found (u64), in the aux area.
    pub abi: u32,
    /// The walk area of resolved paths (see `codegen/path.rs`), last in the
    /// aux area.
    pub walk: u32,
    /// Per resolved path, the identity sets its file is in (the identity
    /// map's value for it, `identity_words` u64 words), in the aux area.
    pub identity_sets: Vec<(FieldId, u32)>,
    /// Words of an identity map value.
    pub identity_words: u32,
    /// Per identity set, the word of an identity map value holding its
    /// rank for the file, if it is ranked ([`crate::abi::identity_rank_words`]).
    pub identity_rank_words: Vec<Option<u32>>,
    /// A string dispatch's group index for its in-order fallback (u64),
    /// after the walk area: in the map, where the verifier does not track
    /// it, so that the fallback's entries share one verification.
    pub dispatch: u32,
    /// The new program's argc and its first [`EXEC_ARGS_MAX`] argv
    /// pointers (u64 each), read once per event by the first load of
    /// `exec.argc` or an `exec.args[N]` (see `codegen/cmdline.rs`), in the
    /// aux area; 0 when the hook's programs read neither.
    pub argv: u32,
    /// Bytes of scratch buffer this layout needs.
    pub scratch_len: u32,
    /// A suffix dispatch's LPM trie key (`u32 prefixlen` at `reversed - 4`,
    /// then the value's last bytes reversed, [`REVERSED_LEN`] bytes), in
    /// the aux area, 8-byte aligned.
    pub reversed: u32,
}

/// Bytes of a suffix dispatch's reversed key data: an LPM trie key's data
/// limit (`LPM_DATA_SIZE_MAX`), in whole words.
pub const REVERSED_LEN: u32 = 256;

/// Bytes of the argv block: argc, then [`EXEC_ARGS_MAX`] pointers.
pub const ARGV_BLOCK: u32 = 8 + 8 * EXEC_ARGS_MAX as u32;

/// Whether `field` is read from the argv block (`exec.argc`, `exec.args[N]`).
pub fn reads_argv(field: FieldId) -> bool {
    field.spec().name == "exec.argc"
        || field
            .element()
            .is_some_and(|(family, _)| family.spec().name == "exec.args[N]")
}

impl Layout {
    /// A layout holding `fields` (any order, duplicates ignored), with
    /// `identity_words` words of identity sets per resolved path.
    pub fn new(hook: Hook, fields: &[FieldId], identity_words: u32) -> Layout {
        let mut fields = fields.to_vec();
        fields.sort_unstable();
        fields.dedup();
        // Fields the header carries are decoded from it: their slots (for
        // tests) go after the record, in the part that is never sent.
        let (sent, unsent): (Vec<FieldId>, Vec<FieldId>) = fields
            .iter()
            .partition(|f| HeaderField::from_name(f.spec().name).is_none());
        let mut at = EVENT_HEADER_LEN as u32;
        let mut slots = Vec::new();
        let mut record_len = at;
        for (part, fields) in [sent, unsent].iter().enumerate() {
            for field in fields {
                let ty = field.spec().ty;
                if let FieldType::Str { .. } = ty {
                    at += 8;
                }
                slots.push((*field, at));
                at += encoding(*field).size();
            }
            if part == 0 {
                record_len = at;
            }
        }
        let mut lens = Vec::new();
        for (field, slot) in &slots {
            if field.spec().resolved_path {
                lens.push((*field, slot + path::RESOLVED_LEN));
            } else if let FieldType::Str { .. } = field.spec().ty {
                lens.push((*field, at));
                at += 8;
            }
        }
        let mut identity_sets = Vec::new();
        for (field, _) in &slots {
            if field.spec().resolved_path && identity_words > 0 {
                identity_sets.push((*field, at));
                at += 8 * identity_words;
            }
        }
        let sockaddr = at;
        at += SOCKADDR_COPY;
        let abi = at;
        at += 8;
        let walk = at;
        at += path::walk::LEN;
        let dispatch = at;
        at += 8;
        let argv = if slots.iter().any(|(f, _)| reads_argv(*f)) {
            at += ARGV_BLOCK;
            at - ARGV_BLOCK
        } else {
            0
        };
        // suffix dispatch: the reversed key, its prefixlen just before.
        let reversed = at.next_multiple_of(8) + 8;
        at = reversed + REVERSED_LEN;
        Layout {
            hook,
            record_len,
            slots,
            lens,
            sockaddr,
            abi,
            walk,
            identity_sets,
            identity_words,
            identity_rank_words: Vec::new(),
            dispatch,
            argv,
            scratch_len: at + SCRATCH_TAIL,
            reversed,
        }
    }

    /// Offset of `field`'s slot. Panics if the field is not in the layout
    /// (an internal error: lowering lists every field a program loads).
    pub fn slot(&self, field: FieldId) -> i16 {
        let at = self
            .slots
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, at)| *at)
            .unwrap_or_else(|| panic!("internal error: {} has no slot", field.spec().name));
        at as i16
    }

    /// Offset of the identity sets of resolved path `field`'s file.
    pub fn identity_sets(&self, field: FieldId) -> Option<u32> {
        self.identity_sets
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, at)| *at)
    }

    /// Offset of `field`'s string length.
    pub fn len_slot(&self, field: FieldId) -> i16 {
        let at = self
            .lens
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, at)| *at)
            .unwrap_or_else(|| panic!("internal error: {} has no length slot", field.spec().name));
        at as i16
    }

    /// The record layout for the metadata (the fields sent in the record).
    pub fn field_slots(&self) -> Vec<FieldSlot> {
        self.slots
            .iter()
            .filter(|(_, at)| *at < self.record_len)
            .map(|(field, at)| FieldSlot {
                name: field.spec().name.to_string(),
                offset: *at,
                encoding: encoding(*field),
            })
            .collect()
    }
}

/// How `field` is stored in records.
pub fn encoding(field: FieldId) -> FieldEncoding {
    let ty = field.spec().ty;
    if field.spec().resolved_path {
        if let FieldType::Str { max } = ty {
            return FieldEncoding::ResolvedPath {
                len: u32::from(max),
            };
        }
    }
    match ty {
        FieldType::Int { .. } => FieldEncoding::Int,
        FieldType::Bool => FieldEncoding::Bool,
        FieldType::Str { max } => FieldEncoding::Str {
            len: u32::from(max).next_multiple_of(8),
        },
        FieldType::Ip => FieldEncoding::Ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_header_and_strings_have_room_for_a_prefix_length() {
        let path = FieldId::from_name("exec.path").expect("field");
        let flags = FieldId::from_name("proc.cgroup").expect("field");
        let filename = FieldId::from_name("exec.filename").expect("field");
        let layout = Layout::new(Hook::Exec, &[path, flags, path, filename], 0);
        assert_eq!(layout.slot(flags), 48);
        assert_eq!(layout.slot(path), 48 + 8 + 8);
        assert_eq!(layout.slot(filename), 48 + 8 + 8 + 288 + 8);
        assert_eq!(layout.record_len, 48 + 8 + 8 + 288 + 8 + 256);
        // A resolved path's length is in its slot (and sent); others' in
        // the aux area.
        assert_eq!(layout.len_slot(path), layout.slot(path) + 256);
        assert_eq!(layout.len_slot(filename) as u32, layout.record_len);
        assert!(layout.scratch_len >= layout.sockaddr + SOCKADDR_COPY + SCRATCH_TAIL);
    }

    #[test]
    fn header_fields_are_loaded_for_tests_but_not_sent() {
        let comm = FieldId::from_name("proc.comm").expect("field");
        let uid = FieldId::from_name("proc.uid").expect("field");
        let cgroup = FieldId::from_name("proc.cgroup").expect("field");
        let layout = Layout::new(Hook::Exec, &[comm, uid, cgroup], 0);
        assert_eq!(layout.record_len, 48 + 8);
        assert!(layout.slot(uid) as u32 >= layout.record_len);
        assert!(layout.slot(comm) as u32 >= layout.record_len);
        let names: Vec<String> = layout.field_slots().into_iter().map(|s| s.name).collect();
        assert_eq!(names, vec!["proc.cgroup".to_string()]);
    }
}
