//! The keys of a list file's set map: how each entry becomes a key, and
//! the one function polrt calls to read a list file again when it changes
//! ([`read_keys`]): the same parser the checker uses
//! ([`crate::check::listfile`]), the same key encoding lowering uses.
//!
//! Capacity: a list file's map holds [`capacity`] entries (twice the build's
//! keys, at least 1,024, a power of two, at most twice
//! [`MAX_ENTRIES`]); hash maps and LPM tries alike are created with
//! `BPF_F_NO_PREALLOC`, so unused room costs no kernel memory.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;

use crate::abi::{SetFile, SetKeys};
use crate::check::listfile::{self, ListFileError};
use crate::check::policy::Value;
use crate::ir::{SetKind, SetSource};

pub use crate::check::listfile::{MAX_BYTES, MAX_ENTRIES};

/// Key width of a string hash set fed by a file: room for entries of at
/// least 63 bytes (or the longest at build time), at most what the field
/// holds, a multiple of 8.
pub fn str_key_len(longest: usize, max: u16) -> u32 {
    let natural = u32::from(max).next_multiple_of(8).max(8);
    ((longest as u32 + 1).max(64).next_multiple_of(8)).min(natural)
}

/// Data width of a string prefix set fed by a file: at least 64 bytes (or
/// the longest prefix at build time), shorter than the field.
pub fn prefix_data_len(longest: usize, max: u16) -> u32 {
    let limit = u32::from(max.saturating_sub(1)).max(1);
    (longest as u32).max(64).min(limit).max(1)
}

/// Entries of a list file's map for `keys` keys at build time.
pub fn capacity(keys: usize) -> u32 {
    let max = 2 * MAX_ENTRIES as u32;
    (2 * keys as u32)
        .clamp(1024, max)
        .next_power_of_two()
        .min(max)
}

/// The ABI description of a list file's set.
pub fn set_file(source: &SetSource, keys: usize) -> SetFile {
    SetFile {
        list: source.name.clone(),
        path: source.path.clone(),
        keys: match source.kind {
            SetKind::IntHash => SetKeys::Int { bits: source.bits },
            SetKind::StrHash { key_len } => SetKeys::Str {
                key_len,
                max: source.max,
            },
            SetKind::StrPrefix { data_len } => SetKeys::StrPrefix {
                data_len,
                max: source.max,
            },
            SetKind::Ip4 => SetKeys::Ip4,
            SetKind::Ip6 => SetKeys::Ip6,
        },
        capacity: capacity(keys),
    }
}

fn source_of(file: &SetFile) -> SetSource {
    let (kind, bits, max) = match file.keys {
        SetKeys::Int { bits } => (SetKind::IntHash, bits, 0),
        SetKeys::Str { key_len, max } => (SetKind::StrHash { key_len }, 64, max),
        SetKeys::StrPrefix { data_len, max } => (SetKind::StrPrefix { data_len }, 64, max),
        SetKeys::Ip4 => (SetKind::Ip4, 64, 0),
        SetKeys::Ip6 => (SetKind::Ip6, 64, 0),
    };
    SetSource {
        name: file.list.clone(),
        path: file.path.clone(),
        kind,
        bits,
        max,
    }
}

/// The key of `value` in the set `source` describes: `Ok(None)` when the
/// value belongs to another set of the list (an address of the other
/// family), `Err` when it cannot be a key (of another type, wider than the
/// field, longer than the keys).
pub fn key(source: &SetSource, value: &Value) -> Result<Option<Vec<u8>>, String> {
    match (source.kind, value) {
        (SetKind::IntHash, Value::Int(v)) => {
            let max = if source.bits >= 64 {
                u64::MAX
            } else {
                (1u64 << source.bits) - 1
            };
            if *v > max {
                return Err(format!("{v} does not fit the field (u{})", source.bits));
            }
            Ok(Some(v.to_le_bytes().to_vec()))
        }
        (SetKind::StrHash { key_len }, Value::Str(s)) => {
            if s.len() >= usize::from(source.max) {
                return Err(format!(
                    "{} bytes, longer than the field holds ({})",
                    s.len(),
                    source.max.saturating_sub(1)
                ));
            }
            if s.len() >= key_len as usize {
                return Err(too_long(s.len(), key_len as usize - 1));
            }
            let mut key = s.as_bytes().to_vec();
            key.resize(key_len as usize, 0);
            Ok(Some(key))
        }
        (SetKind::StrPrefix { data_len }, Value::Str(s)) => {
            if s.len() >= usize::from(source.max) {
                return Err(format!(
                    "{} bytes, longer than the field holds ({})",
                    s.len(),
                    source.max.saturating_sub(1)
                ));
            }
            if s.len() > data_len as usize {
                return Err(too_long(s.len(), data_len as usize));
            }
            let mut key = ((s.len() as u32) * 8).to_le_bytes().to_vec();
            key.extend_from_slice(s.as_bytes());
            key.resize(4 + data_len as usize, 0);
            Ok(Some(key))
        }
        (SetKind::Ip4, Value::Ip { addr, prefix }) => Ok(match addr {
            IpAddr::V4(a) => {
                let mut key = u32::from(*prefix).to_le_bytes().to_vec();
                key.extend_from_slice(&a.octets());
                Some(key)
            }
            IpAddr::V6(_) => None,
        }),
        (SetKind::Ip6, Value::Ip { addr, prefix }) => Ok(match addr {
            IpAddr::V6(a) => {
                let mut key = u32::from(*prefix).to_le_bytes().to_vec();
                key.extend_from_slice(&a.octets());
                Some(key)
            }
            IpAddr::V4(_) => None,
        }),
        _ => Err("an entry of another type than the list's".to_string()),
    }
}

fn too_long(len: usize, room: usize) -> String {
    format!(
        "{len} bytes, longer than the map's keys hold ({room}, chosen at build time from the longest entry): rebuild or reload the policy"
    )
}

/// Why a list file's keys cannot be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeysError(pub String);

impl std::fmt::Display for KeysError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeysError {}

/// Reads the list file of `file` (at `path`, or the path recorded at
/// build time) and makes its keys: every entry checked as at build time,
/// the keys unique, no more than the map's capacity.
pub fn read_keys(file: &SetFile, path: Option<&Path>) -> Result<HashSet<Vec<u8>>, KeysError> {
    let path = path.unwrap_or_else(|| Path::new(&file.path));
    let mut keys = read_keys_all(std::slice::from_ref(file), path)?;
    Ok(keys.pop().unwrap_or_default())
}

/// [`read_keys`] of every set one list file feeds (its IPv4 and IPv6
/// sets, ...), the file read and parsed once: all or none.
pub fn read_keys_all(files: &[SetFile], path: &Path) -> Result<Vec<HashSet<Vec<u8>>>, KeysError> {
    let parsed = listfile::load(path).map_err(|e| match e {
        ListFileError::Read { .. } | ListFileError::TooLarge { .. } | ListFileError::Empty => {
            KeysError(format!("{}: {e}", path.display()))
        }
        ListFileError::BadLine { .. } => KeysError(format!("{}:{}", path.display(), strip(&e))),
    })?;
    let mut all = Vec::with_capacity(files.len());
    for file in files {
        let source = source_of(file);
        let mut keys = HashSet::with_capacity(parsed.values.len());
        for (value, line) in parsed.values.iter().zip(&parsed.lines) {
            match key(&source, value) {
                Ok(Some(k)) => {
                    keys.insert(k);
                }
                Ok(None) => {}
                Err(why) => {
                    return Err(KeysError(format!(
                        "{}:{line}: bad entry: {why}",
                        path.display()
                    )))
                }
            }
        }
        if keys.len() > file.capacity as usize {
            return Err(KeysError(format!(
                "{}: {} keys, more than the map built for it holds ({}): rebuild or reload the policy",
                path.display(),
                keys.len(),
                file.capacity
            )));
        }
        all.push(keys);
    }
    Ok(all)
}

/// `line N: ...` of a bad line, as `N: ...`.
fn strip(error: &ListFileError) -> String {
    let text = error.to_string();
    text.strip_prefix("line ").unwrap_or(&text).to_string()
}

/// The strings of a list file (for the identity sets of path lists).
pub fn read_strings(path: &Path) -> Result<Vec<String>, KeysError> {
    let parsed = listfile::load(path).map_err(|e| KeysError(format!("{}: {e}", path.display())))?;
    Ok(parsed
        .values
        .into_iter()
        .filter_map(|v| match v {
            Value::Str(s) => Some(s),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(keys: SetKeys) -> SetFile {
        SetFile {
            list: "l".into(),
            path: "/nonexistent".into(),
            keys,
            capacity: 1024,
        }
    }

    #[test]
    fn keys_from_a_file_match_lowering_and_refuse_what_does_not_fit() {
        let dir = std::env::temp_dir().join(format!("polc-listfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("nets.txt");
        std::fs::write(&path, "10.0.0.0/8\n# c\nfd00::/8\n192.168.1.1\n").expect("write");
        let keys = read_keys(&meta(SetKeys::Ip4), Some(&path)).expect("reads");
        assert_eq!(keys.len(), 2);
        assert!(keys.contains([8, 0, 0, 0, 10, 0, 0, 0].as_slice()));
        assert_eq!(
            read_keys(&meta(SetKeys::Ip6), Some(&path))
                .expect("reads")
                .len(),
            1
        );
        std::fs::write(&path, "22\n70000\n").expect("write");
        let error = read_keys(&meta(SetKeys::Int { bits: 16 }), Some(&path)).expect_err("wide");
        assert!(
            error
                .0
                .ends_with("nets.txt:2: bad entry: 70000 does not fit the field (u16)"),
            "{error}"
        );
        std::fs::write(&path, "22\nx\n").expect("write");
        let error = read_keys(&meta(SetKeys::Int { bits: 16 }), Some(&path)).expect_err("mixed");
        assert!(error.0.contains("nets.txt:2:"), "{error}");
        let mut small = meta(SetKeys::Int { bits: 16 });
        small.capacity = 1;
        std::fs::write(&path, "22\n23\n").expect("write");
        assert!(read_keys(&small, Some(&path)).is_err());
        std::fs::remove_dir_all(&dir).expect("clean");
    }

    #[test]
    fn widths() {
        assert_eq!(str_key_len(3, 16), 16);
        assert_eq!(str_key_len(3, 256), 64);
        assert_eq!(str_key_len(100, 256), 104);
        assert_eq!(prefix_data_len(3, 256), 64);
        assert_eq!(prefix_data_len(3, 16), 15);
        assert_eq!(capacity(10), 1024);
        assert_eq!(capacity(1_000_000), 2_097_152);
    }
}
