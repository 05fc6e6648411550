//! The keys of a list file's set map: how each entry becomes a key, and
//! the one function polrt calls to read a list file again when it changes
//! ([`read_keys`]): the same parser the checker uses
//! ([`crate::check::listfile`]), the same key encoding lowering uses.
//!
//! Capacity: a list file's map holds [`capacity`] entries (twice the build's
//! keys, at least 1,024, a power of two, at most twice
//! [`MAX_ENTRIES`]); hash maps and LPM tries alike are created with
//! `BPF_F_NO_PREALLOC`, so unused room costs no kernel memory.

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

/// The keys of one set map: unique, in one buffer (no allocation per key),
/// sorted in data order (an LPM key by its data, then its prefix length),
/// so that two versions are compared by one merge and inserts into an LPM
/// trie walk neighbouring paths one after the other.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keys {
    size: usize,
    lpm: bool,
    data: Vec<u8>,
}

impl Keys {
    /// `data`, keys of `size` bytes one after the other in any order,
    /// sorted and made unique.
    pub fn from_unsorted(size: usize, lpm: bool, data: Vec<u8>) -> Keys {
        let size = size.max(1);
        let skip = if lpm { 4.min(size) } else { 0 };
        let data = match size {
            8 => {
                let mut words: Vec<u64> = data
                    .chunks_exact(8)
                    .map(|k| {
                        let mut ordered = [0u8; 8];
                        ordered[..8 - skip].copy_from_slice(&k[skip..]);
                        ordered[8 - skip..].copy_from_slice(&k[..skip]);
                        u64::from_be_bytes(ordered)
                    })
                    .collect();
                words.sort_unstable();
                words.dedup();
                let mut out = Vec::with_capacity(words.len() * 8);
                for word in words {
                    let ordered = word.to_be_bytes();
                    out.extend_from_slice(&ordered[8 - skip..]);
                    out.extend_from_slice(&ordered[..8 - skip]);
                }
                out
            }
            20 if lpm => {
                let mut pairs: Vec<(u128, u32)> = data
                    .chunks_exact(20)
                    .map(|k| {
                        let mut addr = [0u8; 16];
                        addr.copy_from_slice(&k[4..]);
                        let mut prefix = [0u8; 4];
                        prefix.copy_from_slice(&k[..4]);
                        (u128::from_be_bytes(addr), u32::from_be_bytes(prefix))
                    })
                    .collect();
                pairs.sort_unstable();
                pairs.dedup();
                let mut out = Vec::with_capacity(pairs.len() * 20);
                for (addr, prefix) in pairs {
                    out.extend_from_slice(&prefix.to_be_bytes());
                    out.extend_from_slice(&addr.to_be_bytes());
                }
                out
            }
            _ => {
                let mut keys: Vec<&[u8]> = data.chunks_exact(size).collect();
                keys.sort_unstable_by(|a, b| order(a, b, skip));
                keys.dedup();
                keys.concat()
            }
        };
        Keys { size, lpm, data }
    }

    /// Bytes of one key.
    pub fn key_size(&self) -> usize {
        self.size
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.data.len() / self.size.max(1)
    }

    /// Whether there is no key.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Every key, in order.
    pub fn iter(&self) -> std::slice::ChunksExact<'_, u8> {
        self.data.chunks_exact(self.size.max(1))
    }

    /// Whether `key` is one of them.
    pub fn contains(&self, key: &[u8]) -> bool {
        let skip = if self.lpm { 4.min(self.size) } else { 0 };
        if key.len() != self.size {
            return false;
        }
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = (low + high) / 2;
            let at = &self.data[middle * self.size..(middle + 1) * self.size];
            match order(at, key, skip) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }

    /// The keys of `next` that are not here (to insert, in order), and the
    /// keys here that are not in `next` (to delete): one merge.
    pub fn diff<'a>(&'a self, next: &'a Keys) -> (Vec<u8>, Vec<u8>) {
        let skip = if self.lpm { 4.min(self.size) } else { 0 };
        let (mut old, mut new) = (self.iter().peekable(), next.iter().peekable());
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        loop {
            match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some(o), None) => {
                    removed.extend_from_slice(o);
                    old.next();
                }
                (None, Some(n)) => {
                    added.extend_from_slice(n);
                    new.next();
                }
                (Some(o), Some(n)) => match order(o, n, skip) {
                    std::cmp::Ordering::Less => {
                        removed.extend_from_slice(o);
                        old.next();
                    }
                    std::cmp::Ordering::Greater => {
                        added.extend_from_slice(n);
                        new.next();
                    }
                    std::cmp::Ordering::Equal => {
                        old.next();
                        new.next();
                    }
                },
            }
        }
        (added, removed)
    }
}

/// Data order: the bytes after `skip` (an LPM key's data), then the first
/// `skip` (its prefix length).
fn order(a: &[u8], b: &[u8], skip: usize) -> std::cmp::Ordering {
    a[skip..].cmp(&b[skip..]).then(a[..skip].cmp(&b[..skip]))
}

/// Key size of a set's keys.
fn key_size(keys: SetKeys) -> usize {
    match keys {
        SetKeys::Int { .. } | SetKeys::Ip4 => 8,
        SetKeys::Str { key_len, .. } => key_len as usize,
        SetKeys::StrPrefix { data_len, .. } => 4 + data_len as usize,
        SetKeys::Ip6 => 20,
    }
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
pub fn read_keys(file: &SetFile, path: Option<&Path>) -> Result<Keys, KeysError> {
    let path = path.unwrap_or_else(|| Path::new(&file.path));
    let mut keys = read_keys_all(std::slice::from_ref(file), path)?;
    Ok(keys.pop().unwrap_or_default())
}

/// [`read_keys`] of every set one list file feeds (its IPv4 and IPv6
/// sets, ...), the file read and parsed once: all or none.
pub fn read_keys_all(files: &[SetFile], path: &Path) -> Result<Vec<Keys>, KeysError> {
    let parsed = listfile::load(path).map_err(|e| match e {
        ListFileError::Read { .. } | ListFileError::TooLarge { .. } | ListFileError::Empty => {
            KeysError(format!("{}: {e}", path.display()))
        }
        ListFileError::BadLine { .. } => KeysError(format!("{}:{}", path.display(), strip(&e))),
    })?;
    let mut all = Vec::with_capacity(files.len());
    for file in files {
        let source = source_of(file);
        let size = key_size(file.keys);
        let mut data = Vec::with_capacity(parsed.values.len() * size);
        for (value, line) in parsed.values.iter().zip(&parsed.lines) {
            match key(&source, value) {
                Ok(Some(k)) => data.extend_from_slice(&k),
                Ok(None) => {}
                Err(why) => {
                    return Err(KeysError(format!(
                        "{}:{line}: bad entry: {why}",
                        path.display()
                    )))
                }
            }
        }
        let keys = Keys::from_unsorted(size, file.keys.is_lpm(), data);
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
        assert!(keys.contains(&[8, 0, 0, 0, 10, 0, 0, 0]));
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
    fn key_sets_are_sorted_in_data_order_unique_and_diffed_by_one_merge() {
        let ip4 = |prefix: u8, a: [u8; 4]| {
            let mut k = u32::from(prefix).to_le_bytes().to_vec();
            k.extend_from_slice(&a);
            k
        };
        let flat = |keys: &[Vec<u8>]| keys.concat();
        let old = Keys::from_unsorted(
            8,
            true,
            flat(&[
                ip4(24, [10, 0, 2, 0]),
                ip4(8, [10, 0, 0, 0]),
                ip4(24, [10, 0, 2, 0]),
                ip4(32, [1, 2, 3, 4]),
            ]),
        );
        assert_eq!(old.len(), 3);
        let order: Vec<&[u8]> = old.iter().collect();
        assert_eq!(
            order,
            [
                &ip4(32, [1, 2, 3, 4])[..],
                &ip4(8, [10, 0, 0, 0]),
                &ip4(24, [10, 0, 2, 0])
            ]
        );
        let new = Keys::from_unsorted(
            8,
            true,
            flat(&[ip4(8, [10, 0, 0, 0]), ip4(16, [192, 168, 0, 0])]),
        );
        let (added, removed) = old.diff(&new);
        assert_eq!(added, ip4(16, [192, 168, 0, 0]));
        assert_eq!(
            removed,
            flat(&[ip4(32, [1, 2, 3, 4]), ip4(24, [10, 0, 2, 0])])
        );
        assert!(new.contains(&ip4(8, [10, 0, 0, 0])) && !new.contains(&ip4(9, [10, 0, 0, 0])));
        // Other sizes: byte order.
        let strs = Keys::from_unsorted(3, false, b"bbbaaabbb".to_vec());
        assert_eq!(strs.iter().collect::<Vec<_>>(), [b"aaa", b"bbb"]);
        let v6 = Keys::from_unsorted(20, true, [[0u8; 20], [1u8; 20], [0u8; 20]].concat());
        assert_eq!(v6.len(), 2);
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
