//! List files (`list NAME = file "PATH"`) kept in their set maps: filled
//! from the file when a policy is loaded, and refilled in place, without
//! reloading any program, when the file changes.
//!
//! A change is applied as: read and check the whole file (the parser and
//! key encoding polc uses, `polc::listfile::read_keys`); if any line is bad,
//! or the keys exceed the map's capacity, refuse it (the maps keep what
//! they hold); otherwise insert the keys that are new, then delete the ones
//! that are gone. An entry in the file before and after is never absent
//! from the map; the change is not one atomic step across keys: for a
//! moment an added entry may already match while a removed one still does.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use aya::Ebpf;
use polc::listfile::Keys;
use polc_abi::{Metadata, SetFile};

use crate::loader::{map_fd, LoadError};
use crate::persist::{self, PinDir};

/// One set map a list file feeds.
struct ListSet {
    map: String,
    file: SetFile,
    fd: OwnedFd,
    /// What the map holds.
    keys: Keys,
}

/// A list file and its maps.
struct ListFile {
    list: String,
    path: PathBuf,
    sets: Vec<ListSet>,
    /// SHA-256 of the bytes last applied or refused.
    fingerprint: Option<String>,
    /// The file's device, inode, size and modification time when it was
    /// last read: unchanged, it is not read again (a directory's other
    /// files changing wakes polrt too).
    stamp: Option<(u64, u64, u64, i64, i64)>,
}

/// What identifies a version of the file without reading it.
fn stamp(path: &Path) -> Option<(u64, u64, u64, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
    ))
}

/// The list files of one loaded policy.
#[derive(Default)]
pub struct Lists {
    files: Vec<ListFile>,
}

/// What reading a list file again did.
pub struct Applied {
    pub list: String,
    pub path: String,
    /// `Ok((added, removed, entries))`, or why the file was refused.
    pub result: Result<(usize, usize, usize), String>,
}

impl Lists {
    /// Fills every list file's maps from the file (a file that cannot be
    /// read or has a bad line fails the load).
    pub fn fill(ebpf: &Ebpf, metadata: &Metadata) -> Result<Lists, LoadError> {
        Lists::open(metadata, |map| {
            map_fd(ebpf, map)?
                .try_clone_to_owned()
                .map_err(|e| write_error(map, &e.to_string()))
        })
    }

    /// The list maps a pinned generation left (`--persist`, adopted):
    /// their keys are read back, then refreshed from the files.
    pub fn adopt(dir: &PinDir, metadata: &Metadata) -> Result<Lists, LoadError> {
        Lists::open(metadata, |map| {
            let opened =
                persist::open_map(dir, map).map_err(|e| write_error(map, &e.to_string()))?;
            let data = crate::loader::map_data(&opened)
                .ok_or_else(|| LoadError::MissingMap(map.to_string()))?;
            data.fd()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| write_error(map, &e.to_string()))
        })
    }

    fn open(
        metadata: &Metadata,
        mut fd_of: impl FnMut(&str) -> Result<OwnedFd, LoadError>,
    ) -> Result<Lists, LoadError> {
        let mut maps = Vec::new();
        for set in &metadata.sets {
            let Some(file) = &set.file else {
                continue;
            };
            maps.push((set.map.clone(), file.clone(), fd_of(&set.map)?));
        }
        Lists::of_maps(maps)
    }

    /// The lists of `maps` (name, what feeds it, its descriptor), each
    /// filled from its file: what loading a policy does, on maps of its
    /// own (the benchmark's).
    pub fn of_maps(maps: Vec<(String, SetFile, OwnedFd)>) -> Result<Lists, LoadError> {
        let mut lists = Lists::default();
        for (map, file, fd) in maps {
            let keys = map_keys(&fd, &file).map_err(|e| write_error(&map, &e))?;
            let entry = ListSet {
                map,
                file: file.clone(),
                fd,
                keys,
            };
            match lists
                .files
                .iter_mut()
                .find(|f| f.path == Path::new(&file.path) && f.list == file.list)
            {
                Some(list) => list.sets.push(entry),
                None => lists.files.push(ListFile {
                    list: file.list.clone(),
                    path: PathBuf::from(&file.path),
                    sets: vec![entry],
                    fingerprint: None,
                    stamp: None,
                }),
            }
        }
        for list in &mut lists.files {
            list.stamp = stamp(&list.path);
            let bytes = std::fs::read(&list.path).unwrap_or_default();
            let fingerprint = persist::sha256(&bytes);
            list.apply(&fingerprint)
                .map_err(|reason| LoadError::MapWrite {
                    map: list.sets[0].map.clone(),
                    reason: format!("list `{}`: {reason}", list.list),
                })?;
        }
        Ok(lists)
    }

    /// The directories of the list files (watched for changes).
    pub fn directories(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .files
            .iter()
            .filter_map(|f| f.path.parent().map(Path::to_path_buf))
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }

    /// Whether the policy has list files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Number of keys in every list map.
    pub fn entries(&self) -> usize {
        self.files
            .iter()
            .flat_map(|f| f.sets.iter())
            .map(|s| s.keys.len())
            .sum()
    }

    /// Reads every list file whose bytes changed since it was last applied
    /// or refused, and applies it (see the module documentation).
    pub fn refresh(&mut self) -> Vec<Applied> {
        let mut applied = Vec::new();
        for list in &mut self.files {
            // A file being replaced or gone for a moment: the next change
            // says (the maps keep what they hold).
            let now = stamp(&list.path);
            if now.is_some() && now == list.stamp {
                continue;
            }
            list.stamp = now;
            let fingerprint = match std::fs::read(&list.path) {
                Ok(bytes) => persist::sha256(&bytes),
                Err(error) if list.fingerprint.is_some() => {
                    let fingerprint = format!("unreadable: {error}");
                    if list.fingerprint.as_deref() == Some(fingerprint.as_str()) {
                        continue;
                    }
                    list.fingerprint = Some(fingerprint);
                    applied.push(Applied {
                        list: list.list.clone(),
                        path: list.path.display().to_string(),
                        result: Err(format!("{}: cannot read it: {error}", list.path.display())),
                    });
                    continue;
                }
                Err(_) => continue,
            };
            if list.fingerprint.as_deref() == Some(fingerprint.as_str()) {
                continue;
            }
            let result = list.apply(&fingerprint);
            applied.push(Applied {
                list: list.list.clone(),
                path: list.path.display().to_string(),
                result,
            });
        }
        applied
    }
}

impl ListFile {
    /// Reads the file and makes every map hold exactly its keys: all
    /// checked first, then new keys inserted, then old ones deleted.
    /// Returns `(added, removed, entries)`.
    fn apply(&mut self, fingerprint: &str) -> Result<(usize, usize, usize), String> {
        self.fingerprint = Some(fingerprint.to_string());
        let files: Vec<SetFile> = self.sets.iter().map(|s| s.file.clone()).collect();
        let wanted =
            polc::listfile::read_keys_all(&files, &self.path).map_err(|e| e.to_string())?;
        let changes: Vec<(Vec<u8>, Vec<u8>)> = self
            .sets
            .iter()
            .zip(&wanted)
            .map(|(set, keys)| set.keys.diff(keys))
            .collect();
        // Every map gets its new keys (in key order: an LPM trie's inserts
        // then walk neighbouring paths) before any loses an old one (an
        // address list's IPv4 and IPv6 maps alike).
        let mut added = 0;
        for (set, (new, _)) in self.sets.iter_mut().zip(&changes) {
            if let Err(error) = insert(set, new) {
                // What the map holds now, whatever got in.
                set.keys = map_keys(&set.fd, &set.file).unwrap_or_default();
                return Err(error);
            }
            added += new.len() / set.keys.key_size().max(1);
        }
        let mut removed = 0;
        for (set, (_, gone)) in self.sets.iter().zip(&changes) {
            let map = polc_sys::Map::new(set.fd.as_fd()).map_err(|e| e.to_string())?;
            for key in gone.chunks_exact(set.keys.key_size().max(1)) {
                match map.delete(key) {
                    Err(e) if e.raw_os_error() != Some(libc::ENOENT) => {
                        return Err(format!("{}: deleting a key: {e}", set.map));
                    }
                    _ => removed += 1,
                }
            }
        }
        let mut entries = 0;
        for (set, keys) in self.sets.iter_mut().zip(wanted) {
            entries += keys.len();
            set.keys = keys;
        }
        Ok((added, removed, entries))
    }
}

/// Keys per `BPF_MAP_UPDATE_BATCH`.
const BATCH: usize = 8192;

/// Inserts `keys` (whole keys one after the other) into `set`'s map: in
/// batches where the kernel has batch updates for the map's type, one by
/// one otherwise.
fn insert(set: &ListSet, keys: &[u8]) -> Result<(), String> {
    let map = polc_sys::Map::new(set.fd.as_fd()).map_err(|e| e.to_string())?;
    let size = map.info().key_size as usize;
    let value = vec![1u8; map.value_len()];
    let mut batches = true;
    for chunk in keys.chunks(BATCH * size.max(1)) {
        if batches {
            match map.update_batch(chunk, &value, 0) {
                Ok(_) => continue,
                Err((0, e))
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL | libc::EOPNOTSUPP | 524 /* ENOTSUPP */)
                    ) =>
                {
                    batches = false;
                }
                Err((_, e)) => return Err(format!("{}: inserting keys: {e}", set.map)),
            }
        }
        for key in chunk.chunks_exact(size.max(1)) {
            map.update(key, &value, 0)
                .map_err(|e| format!("{}: inserting a key: {e}", set.map))?;
        }
    }
    Ok(())
}

/// What the map at `fd` holds.
fn map_keys(fd: &OwnedFd, file: &SetFile) -> Result<Keys, String> {
    let map = polc_sys::Map::new(fd.as_fd()).map_err(|e| e.to_string())?;
    let size = map.info().key_size as usize;
    let keys = map.keys().map_err(|e| e.to_string())?;
    Ok(Keys::from_unsorted(size, file.keys.is_lpm(), keys.concat()))
}

fn write_error(map: &str, reason: &str) -> LoadError {
    LoadError::MapWrite {
        map: map.to_string(),
        reason: reason.to_string(),
    }
}
