//! File identities for `==` and `in` on resolved paths: the runtime finds the
//! file at each path the policy names (following symbolic links, as `stat`
//! does), writes its identity (the kernel's device number and the inode) into
//! the identity map before anything is attached, and keeps the map current
//! while it runs: a path whose file changes (replaced, deleted, created) gets
//! its new identity inserted before the old one is removed. The map's value
//! for a file is the bitmap of the identity sets a path of which leads to it.
//!
//! The identity is the kernel's own: the inode number of the file the path
//! opens to and the device number of its file system's superblock, read
//! from `/proc/self/fdinfo` and `/proc/self/mountinfo` for an `O_PATH`
//! descriptor of it, exactly what the programs read (`f_inode->i_ino`,
//! `i_sb->s_dev`). `stat` would not do: on overlayfs (containers) and btrfs
//! subvolumes it reports another device than the superblock's.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};

use polc_abi::{self as abi, Metadata};

use crate::loader::{map_fd, LoadError};

/// The identity of the file at a path, as the kernel's programs see it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub dev: u64,
    pub ino: u64,
}

impl Identity {
    /// The file `path` leads to now (symbolic links followed), if any.
    pub fn of(path: &str) -> Option<Identity> {
        Identity::of_with(path, &mount_devices())
    }

    fn of_with(path: &str, devices: &BTreeMap<u32, u64>) -> Option<Identity> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(path)
            .ok()?;
        let info =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd())).ok()?;
        let (mnt_id, ino) = parse_fdinfo(&info)?;
        Some(Identity {
            dev: *devices.get(&mnt_id)?,
            ino,
        })
    }
}

/// `(mnt_id, ino)` of a `/proc/PID/fdinfo/FD` text.
pub fn parse_fdinfo(text: &str) -> Option<(u32, u64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
    };
    Some((
        field("mnt_id:")?.parse().ok()?,
        field("ino:")?.parse().ok()?,
    ))
}

/// Per mount id, the kernel's device number of its superblock
/// (`major << 20 | minor`), from `/proc/self/mountinfo`.
fn mount_devices() -> BTreeMap<u32, u64> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&text)
}

/// `mount_devices` of a mountinfo text.
pub fn parse_mountinfo(text: &str) -> BTreeMap<u32, u64> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let id: u32 = fields.next()?.parse().ok()?;
            let (major, minor) = fields.nth(1)?.split_once(':')?;
            let (major, minor): (u64, u64) = (major.parse().ok()?, minor.parse().ok()?);
            Some((id, (major << 20) | (minor & 0xf_ffff)))
        })
        .collect()
}

/// The identity map of a loaded policy and what it holds.
pub struct IdentityMap {
    fd: OwnedFd,
    /// Per identity set, its paths.
    sets: Vec<Vec<String>>,
    /// Per identity set, the list file its paths come from, if any.
    files: Vec<Option<String>>,
    /// Per identity set, the ranks of its paths (empty: not ranked).
    ranks: Vec<Vec<u32>>,
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
        let fd = map_fd(ebpf, abi::MAP_IDENTITIES)?
            .try_clone_to_owned()
            .map_err(|e| LoadError::MapWrite {
                map: abi::MAP_IDENTITIES.into(),
                reason: e.to_string(),
            })?;
        let mut map = IdentityMap {
            fd,
            sets: metadata.identities.clone(),
            files: metadata.identity_files.clone(),
            ranks: metadata.identity_ranks.clone(),
            written: BTreeMap::new(),
            found: BTreeMap::new(),
        };
        map.read_list_files()?;
        map.refresh()?;
        Ok(Some(map))
    }

    /// The identity map a pinned generation of the policy left (`--persist`,
    /// adopted): its entries are taken as unknown, so the first
    /// [`IdentityMap::refresh`] rewrites the ones still wanted and removes
    /// the others. `None` when the policy names no file.
    pub fn adopt(fd: OwnedFd, metadata: &Metadata) -> Result<Option<IdentityMap>, LoadError> {
        if metadata.identities.is_empty() {
            return Ok(None);
        }
        let mut map = IdentityMap {
            fd,
            sets: metadata.identities.clone(),
            files: metadata.identity_files.clone(),
            ranks: metadata.identity_ranks.clone(),
            written: BTreeMap::new(),
            found: BTreeMap::new(),
        };
        map.read_list_files()?;
        let keys = polc_sys::Map::new(map.fd.as_fd())
            .and_then(|m| m.keys())
            .map_err(|e| map.error(e))?;
        for key in keys {
            if let Some((dev, ino)) = abi::identity_key_parts(&key) {
                map.written.insert((dev, ino), Vec::new());
            }
        }
        map.refresh()?;
        Ok(Some(map))
    }

    /// Reads the paths of every identity set a list file feeds (at load:
    /// the file as it is now, not as it was at build time).
    fn read_list_files(&mut self) -> Result<(), LoadError> {
        let files: Vec<String> = self.files.iter().flatten().cloned().collect();
        for file in files {
            self.read_list_file(&file)?;
        }
        Ok(())
    }

    /// Reads the paths of the identity sets the list file `file` feeds
    /// again; returns whether any set has it. The map is updated by the
    /// next [`IdentityMap::refresh`].
    pub fn read_list_file(&mut self, file: &str) -> Result<bool, LoadError> {
        let mut any = false;
        for (index, source) in self.files.iter().enumerate() {
            if source.as_deref() != Some(file) {
                continue;
            }
            let mut paths: Vec<String> = polc::listfile::read_strings(std::path::Path::new(file))
                .map_err(|e| LoadError::MapWrite {
                    map: abi::MAP_IDENTITIES.into(),
                    reason: e.to_string(),
                })?
                .into_iter()
                .filter(|p| p.starts_with('/'))
                .collect();
            paths.sort();
            paths.dedup();
            if let Some(set) = self.sets.get_mut(index) {
                *set = paths;
            }
            any = true;
        }
        Ok(any)
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
        let devices = mount_devices();
        let mut found: BTreeMap<String, Option<Identity>> = BTreeMap::new();
        let wanted = abi::identity_entries(&self.sets, &self.ranks, |path| {
            let id = *found
                .entry(path.to_string())
                .or_insert_with(|| Identity::of_with(path, &devices));
            id.map(|id| (id.dev, id.ino))
        });
        let map = polc_sys::Map::new(self.fd.as_fd()).map_err(|e| self.error(e))?;
        for (key, bits) in &wanted {
            if self.written.get(key) != Some(bits) {
                let value: Vec<u8> = bits.iter().flat_map(|w| w.to_le_bytes()).collect();
                map.update(&abi::identity_key(key.0, key.1), &value, 0)
                    .map_err(|e| self.error(e))?;
            }
        }
        for key in self.written.keys() {
            if !wanted.contains_key(key) {
                match map.delete(&abi::identity_key(key.0, key.1)) {
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

    fn error(&self, e: polc_sys::Error) -> LoadError {
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
    fn identities_come_from_fdinfo_and_the_superblock_device_of_the_mount() {
        let info = "pos:\t0\nflags:\t012100000\nmnt_id:\t27\nino:\t1234567\n";
        assert_eq!(parse_fdinfo(info), Some((27, 1_234_567)));
        assert_eq!(parse_fdinfo("pos:\t0\n"), None);
        let mountinfo = "\
27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
31 27 0:42 / /tmp rw shared:5 - tmpfs tmpfs rw
40 27 259:65536 /sub /srv rw - btrfs /dev/nvme0n1p1 rw
";
        let devices = parse_mountinfo(mountinfo);
        assert_eq!(devices[&27], (254 << 20) | 1);
        assert_eq!(devices[&31], 42);
        assert_eq!(devices[&40], (259 << 20) | 65_536);
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
