//! Corrupted objects, made from real ones: byte flips (anywhere, or inside
//! one section), truncation, section shuffles (two section headers swapped,
//! or two sections' contents), and metadata edits that keep the metadata
//! valid JSON (written back through the object writer, so the rest of the
//! object is intact). Seeded by any [`Entropy`], so a failure reproduces
//! from its seed; the corrupted-objects test and the `corrupt` fuzz target
//! use the same code.
//!
//! Pure: builds objects with the compiler library and edits bytes.

use std::sync::OnceLock;

use polc::abi::{self, BackendKind, MapKind, Metadata};
use polc::compile::Build;

use crate::gen::rng::{pick, Entropy};

/// The policies the corrupted objects are made from: between them, every
/// hook, set maps (hash and LPM trie), the exe tracker's support programs,
/// the features map and messages.
const POLICIES: &[(&str, &str)] = &[
    ("overview.pol", include_str!("../examples/overview.pol")),
    ("shells.pol", include_str!("../examples/shells.pol")),
    ("egress.pol", include_str!("../examples/egress.pol")),
    ("tamper.pol", include_str!("../examples/tamper.pol")),
    (
        "mixed.pol",
        "rule smtp {\n    on net.connect\n    when net.dport == 25\n    kill\n}\n\
         rule tmp {\n    on exec\n    when proc.exe startswith \"/tmp/\"\n    deny \"{proc.exe} {exec.path}\"\n}\n\
         trace opens {\n    on file.open\n    when file.path in [\"/a\", \"/b\", \"/c\", \"/d\", \"/e\", \"/f\", \"/g\", \"/h\", \"/i\"]\n    emit file.path, proc.pid\n}\n",
    ),
];

/// A policy's build and its object's bytes.
pub struct Base {
    pub name: &'static str,
    pub build: Build,
    pub bytes: Vec<u8>,
}

/// Every base object, built once.
pub fn bases() -> &'static [Base] {
    static BASES: OnceLock<Vec<Base>> = OnceLock::new();
    BASES.get_or_init(|| {
        POLICIES
            .iter()
            .map(|(name, source)| {
                let checked = polc::check::check_source(name, source);
                let policy = checked
                    .policy
                    .unwrap_or_else(|| panic!("{name} does not check"));
                let build = polc::compile::build(&policy, source, 4096)
                    .unwrap_or_else(|e| panic!("{name} does not build: {e}"));
                let bytes = build
                    .object_bytes()
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                Base { name, build, bytes }
            })
            .collect()
    })
}

/// One corrupted object and what was done to it.
pub struct Corrupted {
    pub bytes: Vec<u8>,
    /// The base policy and the mutations, for a failure message.
    pub what: String,
}

/// A corrupted object: one base, then one to three mutations.
pub fn corrupt(rng: &mut impl Entropy) -> Corrupted {
    let base = pick(rng, bases());
    let mut what = vec![base.name.to_string()];
    // Metadata edits come first: they rewrite the whole object.
    let mut bytes = if rng.chance(35) {
        let (bytes, edit) = edit_metadata(base, rng);
        what.push(edit);
        bytes
    } else {
        base.bytes.clone()
    };
    let n = rng.range(usize::from(what.len() == 1) as u64, 2);
    for _ in 0..n {
        what.push(mutate(&mut bytes, rng));
    }
    Corrupted {
        bytes,
        what: what.join(", "),
    }
}

/// A section of an ELF64 little-endian object: `(header offset, data
/// offset, data size)`, for those the section header table describes
/// within the file.
fn sections(bytes: &[u8]) -> Vec<(usize, usize, usize)> {
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u64_at = |at: usize| {
        bytes.get(at..at + 8).map(|b| {
            let mut word = [0u8; 8];
            word.copy_from_slice(b);
            u64::from_le_bytes(word) as usize
        })
    };
    let (Some(shoff), Some(shnum)) = (u64_at(0x28), u16_at(0x3c)) else {
        return Vec::new();
    };
    (1..usize::from(shnum))
        .filter_map(|i| {
            let header = shoff.checked_add(i * 64)?;
            let offset = u64_at(header + 0x18)?;
            let size = u64_at(header + 0x20)?;
            Some((header, offset, size))
        })
        .filter(|(_, offset, size)| offset.saturating_add(*size) <= bytes.len())
        .collect()
}

/// One byte-level mutation of `bytes`; says what it did.
fn mutate(bytes: &mut Vec<u8>, rng: &mut impl Entropy) -> String {
    if bytes.is_empty() {
        return "nothing left to mutate".into();
    }
    let sections = sections(bytes);
    match rng.weighted(&[30, 35, 10, 15, 10]) {
        0 => {
            let n = rng.range(1, 8);
            for _ in 0..n {
                let at = rng.index(bytes.len());
                bytes[at] ^= rng.range(1, 255) as u8;
            }
            format!("{n} byte flips")
        }
        1 if !sections.is_empty() => {
            let (header, offset, size) = *pick(rng, &sections);
            if size == 0 {
                return format!("no flip in the empty section at header {header:#x}");
            }
            let n = rng.range(1, 4);
            for _ in 0..n {
                let at = offset + rng.index(size);
                bytes[at] ^= rng.range(1, 255) as u8;
            }
            format!("{n} byte flips in the section at {offset:#x}")
        }
        2 => {
            let len = rng.index(bytes.len());
            bytes.truncate(len);
            format!("truncated to {len} bytes")
        }
        3 if sections.len() >= 2 => {
            let (a, _, _) = *pick(rng, &sections);
            let (b, _, _) = *pick(rng, &sections);
            for i in 0..64 {
                bytes.swap(a + i, b + i);
            }
            format!("section headers at {a:#x} and {b:#x} swapped")
        }
        4 if sections.len() >= 2 => {
            let (a, _, _) = *pick(rng, &sections);
            let (b, _, _) = *pick(rng, &sections);
            // sh_offset and sh_size: the two sections trade contents.
            for i in 0x18..0x28 {
                bytes.swap(a + i, b + i);
            }
            format!("contents of the sections at headers {a:#x} and {b:#x} swapped")
        }
        _ => {
            let at = rng.index(bytes.len());
            bytes[at] = !bytes[at];
            format!("byte {at:#x} inverted")
        }
    }
}

/// The base object with one edit of its metadata (still valid JSON of the
/// ABI's types), written back through the object writer.
fn edit_metadata(base: &Base, rng: &mut impl Entropy) -> (Vec<u8>, String) {
    let mut meta = base.build.metadata.clone();
    let edit = apply_edit(&mut meta, rng);
    let mut image = base.build.image.clone();
    image.metadata = serde_json::to_vec(&meta).expect("metadata serialises");
    match polc::object::write_object(&image) {
        Ok(bytes) => (bytes, edit),
        // The writer refuses nothing of the metadata; keep the base.
        Err(e) => (base.bytes.clone(), format!("{edit} (not written: {e})")),
    }
}

fn apply_edit(meta: &mut Metadata, rng: &mut impl Entropy) -> String {
    let bump = |rng: &mut dyn FnMut() -> u64, value: &mut u32| {
        *value = match rng() % 4 {
            0 => 0,
            1 => value.wrapping_add(1),
            2 => value.wrapping_sub(1),
            _ => u32::MAX,
        };
    };
    let mut draw = || rng.any_u64();
    match draw() % 16 {
        0 if !meta.maps.is_empty() => {
            let i = (draw() as usize) % meta.maps.len();
            bump(&mut draw, &mut meta.maps[i].key_size);
            format!(
                "map {} key size {}",
                meta.maps[i].name, meta.maps[i].key_size
            )
        }
        1 if !meta.maps.is_empty() => {
            let i = (draw() as usize) % meta.maps.len();
            bump(&mut draw, &mut meta.maps[i].value_size);
            format!(
                "map {} value size {}",
                meta.maps[i].name, meta.maps[i].value_size
            )
        }
        2 if !meta.maps.is_empty() => {
            let i = (draw() as usize) % meta.maps.len();
            meta.maps[i].kind = MapKind::ALL[(draw() as usize) % MapKind::ALL.len()];
            format!("map {} kind {}", meta.maps[i].name, meta.maps[i].kind)
        }
        3 if !meta.maps.is_empty() => {
            let i = (draw() as usize) % meta.maps.len();
            let map = meta.maps.remove(i);
            format!("map {} dropped", map.name)
        }
        4 if !meta.programs.is_empty() => {
            let i = (draw() as usize) % meta.programs.len();
            meta.programs[i].backend = BackendKind::ALL[(draw() as usize) % BackendKind::ALL.len()];
            format!(
                "program {} backend {}",
                meta.programs[i].symbol, meta.programs[i].backend
            )
        }
        5 if meta.programs.len() >= 2 => {
            let i = (draw() as usize) % meta.programs.len();
            let j = (draw() as usize) % meta.programs.len();
            let section = meta.programs[i].section.clone();
            meta.programs[i].section = meta.programs[j].section.clone();
            meta.programs[j].section = section;
            format!("programs {i} and {j} trade sections")
        }
        6 if !meta.programs.is_empty() => {
            let i = (draw() as usize) % meta.programs.len();
            let program = meta.programs.remove(i);
            format!("program {} dropped", program.symbol)
        }
        7 if !meta.hooks.is_empty() => {
            let i = (draw() as usize) % meta.hooks.len();
            let hook = &mut meta.hooks[i];
            match draw() % 3 {
                0 => {
                    hook.backends.reverse();
                    format!("hook {} backends reversed", hook.name)
                }
                1 if !hook.backends.is_empty() => {
                    hook.backends.remove(0);
                    format!("hook {} loses its strongest backend", hook.name)
                }
                _ => {
                    if let Some(first) = hook.backends.first().cloned() {
                        hook.backends.push(first);
                    }
                    format!("hook {} lists a backend twice", hook.name)
                }
            }
        }
        8 if !meta.hooks.is_empty() => {
            let i = (draw() as usize) % meta.hooks.len();
            bump(&mut draw, &mut meta.hooks[i].record_len);
            format!(
                "hook {} record length {}",
                meta.hooks[i].name, meta.hooks[i].record_len
            )
        }
        9 if !meta.rules.is_empty() => {
            let i = (draw() as usize) % meta.rules.len();
            meta.rules[i].hook = "no.such.hook".into();
            format!("rule {} on an unknown hook", meta.rules[i].name)
        }
        10 if !meta.rules.is_empty() => {
            let i = (draw() as usize) % meta.rules.len();
            meta.rules[i].fields.push("file.path".into());
            meta.rules[i].fields.push("net.daddr".into());
            format!("rule {} captures more fields", meta.rules[i].name)
        }
        11 if !meta.sets.is_empty() => {
            let i = (draw() as usize) % meta.sets.len();
            let key = match draw() % 3 {
                0 => "0".to_string(),
                1 => "zz".repeat(4),
                _ => abi::hex(&[7; 3]),
            };
            meta.sets[i].keys.push(key.clone());
            format!("set {} gets key `{key}`", meta.sets[i].map)
        }
        12 => {
            meta.code_hash = abi::hex(&[0xab; 32]);
            "code hash replaced".into()
        }
        13 if draw() % 2 == 0 => {
            meta.kernel_fields.push("task_struct.no_such_member".into());
            "an unknown kernel member".into()
        }
        13 => {
            meta.arch = "aarch64".into();
            "built for aarch64".into()
        }
        14 if !meta.rules.is_empty() => {
            let i = (draw() as usize) % meta.rules.len();
            meta.rules[i].id = meta.rules[i].id.wrapping_add(1 + (draw() % 3) as u32);
            format!("rule {} id {}", meta.rules[i].name, meta.rules[i].id)
        }
        _ => {
            meta.abi_version = (draw() % 8) as u32;
            format!("abi version {}", meta.abi_version)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::rng::SplitMix64;

    #[test]
    fn every_base_object_reads_back_intact() {
        for base in bases() {
            let object = polrt::object::parse_object(base.name, base.bytes.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", base.name));
            assert_eq!(object.metadata, base.build.metadata);
        }
    }

    #[test]
    fn a_seed_reproduces_its_corruption() {
        let a = corrupt(&mut SplitMix64::new(7));
        let b = corrupt(&mut SplitMix64::new(7));
        assert_eq!((a.bytes, a.what), (b.bytes, b.what));
    }
}
