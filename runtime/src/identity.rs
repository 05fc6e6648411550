//! File identities for `==` and `in` on resolved paths: the runtime finds the
//! file at each path the policy names (following symbolic links, as `stat`
//! does), writes its identity (the kernel's device number and the inode) into
//! the identity map before anything is attached, and keeps the map current
//! while it runs: a path whose file changes (replaced, deleted, created) gets
//! its new identity inserted before the old one is removed. The map's value
//! for a file is the bitmap of the identity sets a path of which leads to it.
//!
//! The device number is the kernel's `dev_t` (`major << 20 | minor`) of the
//! file system `stat` reports. On file systems whose `stat` reports another
//! device than the one the kernel's superblock has (btrfs subvolumes,
//! overlayfs with some options), identities do not match and such a test
//! holds by name only.

use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::os::unix::fs::MetadataExt;

use polc::abi::{self, Metadata};

use crate::loader::{map_fd, map_update, LoadError};

/// The identity of the file at a path, as the kernel's programs see it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
}

impl Identity {
    /// The file `path` leads to now, if any.
    pub fn of(path: &str) -> Option<Identity> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Identity {
            dev: kernel_dev(meta.dev()),
            ino: meta.ino(),
        })
    }
}

/// A user-space `st_dev` as the kernel's internal `dev_t`
/// (`MKDEV(major, minor)`: 12 bits of major above 20 bits of minor).
pub fn kernel_dev(st_dev: u64) -> u64 {
    let major = libc::major(st_dev) as u64;
    let minor = libc::minor(st_dev) as u64;
    (major << 20) | (minor & 0xf_ffff)
}

/// The identity map of a loaded policy and what it holds.
pub struct IdentityMap {
    fd: RawFd,
    /// Per identity set, its paths.
    sets: Vec<Vec<String>>,
    /// What the map holds: per file, the sets a path of which leads to it.
    written: BTreeMap<(u64, u64), Vec<u64>>,
    /// Per named path, the file it led to when last looked up.
    found: BTreeMap<String, Option<Identity>>,
}

impl IdentityMap {
    /// Finds the file at every named path and writes the identity map.
    /// `None` when the policy names no file.
    pub fn fill(ebpf: &aya::Ebpf, metadata: &Metadata) -> Result<Option<IdentityMap>, LoadError> {
        if metadata.identities.is_empty() {
            return Ok(None);
        }
        let fd = map_fd(ebpf, abi::MAP_IDENTITIES)?;
        let mut map = IdentityMap {
            fd,
            sets: metadata.identities.clone(),
            written: BTreeMap::new(),
            found: BTreeMap::new(),
        };
        map.refresh()?;
        Ok(Some(map))
    }

    /// Number of named paths that lead to a file now.
    pub fn found(&self) -> usize {
        self.found.values().filter(|id| id.is_some()).count()
    }

    /// Number of named paths.
    pub fn len(&self) -> usize {
        self.found.len()
    }

    /// Whether the policy names no path.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// Looks every named path up again and updates the map where a file
    /// changed (new entries first, then the ones no path leads to any more);
    /// returns the paths whose file changed.
    pub fn refresh(&mut self) -> Result<Vec<String>, LoadError> {
        let first = self.found.is_empty();
        let mut found: BTreeMap<String, Option<Identity>> = BTreeMap::new();
        let wanted = abi::identity_entries(&self.sets, |path| {
            let id = *found
                .entry(path.to_string())
                .or_insert_with(|| Identity::of(path));
            id.map(|id| (id.dev, id.ino))
        });
        for (key, bits) in &wanted {
            if self.written.get(key) != Some(bits) {
                let value: Vec<u8> = bits.iter().flat_map(|w| w.to_le_bytes()).collect();
                map_update(self.fd, &abi::identity_key(key.0, key.1), &value, 0)
                    .map_err(|e| self.error(e))?;
            }
        }
        for key in self.written.keys() {
            if !wanted.contains_key(key) {
                match crate::loader::map_delete(self.fd, &abi::identity_key(key.0, key.1)) {
                    Err(e) if e.raw_os_error() != Some(libc::ENOENT) => return Err(self.error(e)),
                    _ => {}
                }
            }
        }
        let changed = if first {
            // The first fill is not a change.
            Vec::new()
        } else {
            found
                .iter()
                .filter(|(path, id)| self.found.get(*path) != Some(id))
                .map(|(path, _)| path.clone())
                .collect()
        };
        self.written = wanted;
        self.found = found;
        Ok(changed)
    }

    fn error(&self, e: std::io::Error) -> LoadError {
        LoadError::MapWrite {
            map: abi::MAP_IDENTITIES.into(),
            reason: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_are_the_kernels_encoding() {
        // st_dev of 8:1 (sda1) in glibc's encoding is 0x801.
        assert_eq!(kernel_dev(0x801), (8 << 20) | 1);
        // A large minor: 259:65536 (an nvme partition).
        let st_dev = libc::makedev(259, 65_536);
        assert_eq!(kernel_dev(st_dev), (259 << 20) | 65_536);
    }

    #[test]
    fn identities_follow_symbolic_links_and_name_no_missing_file() {
        let dir = std::env::temp_dir().join(format!("polrt-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("file");
        std::fs::write(&file, b"x").expect("write");
        let link = dir.join("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&file, &link).expect("symlink");
        let of = |p: &std::path::Path| Identity::of(p.to_str().expect("utf-8"));
        assert!(of(&file).is_some());
        assert_eq!(of(&file), of(&link));
        assert_eq!(of(&dir.join("missing")), None);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
