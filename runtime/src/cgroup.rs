//! cgroup v2: where the hierarchy is mounted, and what `--cgroup PATH` means
//! for the programs (the cgroup's id and its depth below the root).
//!
//! The mount point comes from `/proc/self/mountinfo` (on hybrid hosts it is
//! `/sys/fs/cgroup/unified`, not `/sys/fs/cgroup`). Parsing is pure and unit
//! tested; [`Scope::resolve`] stats the path. Must not depend on aya.

use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// `CGROUP2_SUPER_MAGIC`, the `f_type` of a cgroup v2 file system.
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// Why a cgroup path cannot scope a policy.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot read /proc/self/mountinfo: {0}")]
    Mountinfo(std::io::Error),
    #[error("no cgroup v2 hierarchy is mounted (no `cgroup2` line in /proc/self/mountinfo)")]
    NoCgroup2,
    #[error("cgroup `{path}` does not exist: {source}")]
    Missing {
        path: String,
        source: std::io::Error,
    },
    #[error("`{path}` is not a directory, so not a cgroup")]
    NotDirectory { path: String },
    #[error(
        "`{path}` is not a cgroup v2 directory (cgroup v2 is mounted at {mounts}; on hybrid hosts v1 controllers live under /sys/fs/cgroup)"
    )]
    NotCgroup2 { path: String, mounts: String },
}

/// A mounted cgroup v2 hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cgroup2Mount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup the mount shows as its root (the mountinfo "root" field):
    /// `/` unless a subtree is bind-mounted.
    pub root: PathBuf,
}

/// Every cgroup v2 mount listed in `mountinfo` text, in order.
pub fn cgroup2_mounts(mountinfo: &str) -> Vec<Cgroup2Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split_whitespace().next()?;
            if fstype != "cgroup2" {
                return None;
            }
            let fields: Vec<&str> = left.split_whitespace().collect();
            let root = fields.get(3)?;
            let mount_point = fields.get(4)?;
            Some(Cgroup2Mount {
                mount_point: PathBuf::from(unescape(mount_point)),
                root: PathBuf::from(unescape(root)),
            })
        })
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'\\')
            .then(|| bytes.get(i + 1..i + 4))
            .flatten()
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u8::from_str_radix(digits, 8).ok());
        match escaped {
            Some(value) => {
                out.push(value);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup v2 mounts of this process.
pub fn mounts() -> Result<Vec<Cgroup2Mount>, CgroupError> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").map_err(CgroupError::Mountinfo)?;
    Ok(cgroup2_mounts(&text))
}

/// The root of the (first) cgroup v2 mount: where unscoped cgroup programs
/// attach.
pub fn root() -> Result<PathBuf, CgroupError> {
    mounts()?
        .into_iter()
        .next()
        .map(|m| m.mount_point)
        .ok_or(CgroupError::NoCgroup2)
}

/// What `--cgroup PATH` resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// The cgroup's directory (canonical).
    pub path: PathBuf,
    /// cgroup v2 id: the inode number of the directory.
    pub id: u64,
    /// Depth below the hierarchy's root (the root is 0).
    pub level: u32,
}

impl Scope {
    /// Resolves `path`: it must exist, be a directory on a cgroup v2 mount.
    pub fn resolve(path: &Path) -> Result<Scope, CgroupError> {
        let shown = path.display().to_string();
        let canonical = std::fs::canonicalize(path).map_err(|source| CgroupError::Missing {
            path: shown.clone(),
            source,
        })?;
        let meta = std::fs::metadata(&canonical).map_err(|source| CgroupError::Missing {
            path: shown.clone(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(CgroupError::NotDirectory { path: shown });
        }
        let mounts = mounts()?;
        let not_cgroup2 = || CgroupError::NotCgroup2 {
            path: shown.clone(),
            mounts: if mounts.is_empty() {
                "no mount point".to_string()
            } else {
                mounts
                    .iter()
                    .map(|m| m.mount_point.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        };
        if statfs_type(&canonical) != Some(CGROUP2_SUPER_MAGIC) {
            return Err(not_cgroup2());
        }
        let mount = mounts
            .iter()
            .filter(|m| canonical.starts_with(&m.mount_point))
            .max_by_key(|m| m.mount_point.components().count())
            .ok_or_else(not_cgroup2)?;
        let below_mount = canonical
            .strip_prefix(&mount.mount_point)
            .map(depth)
            .unwrap_or(0);
        Ok(Scope {
            id: meta.ino(),
            level: depth(&mount.root) + below_mount,
            path: canonical,
        })
    }
}

/// Number of normal components of `path`.
fn depth(path: &Path) -> u32 {
    path.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count() as u32
}

fn statfs_type(path: &Path) -> Option<i64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs is plain data; c_path is a valid NUL-terminated string
    // and `buf` is a valid out-pointer.
    let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: see above.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), &mut buf) };
    (rc == 0).then_some(buf.f_type as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
28 24 0:25 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
29 28 0:26 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
30 28 0:27 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
41 30 0:40 /sub/tree /mnt/my\\040cg rw,relatime - cgroup2 none rw
";

    #[test]
    fn finds_cgroup2_mounts_on_a_hybrid_host() {
        let mounts = cgroup2_mounts(HYBRID);
        assert_eq!(
            mounts,
            vec![
                Cgroup2Mount {
                    mount_point: "/sys/fs/cgroup/unified".into(),
                    root: "/".into()
                },
                Cgroup2Mount {
                    mount_point: "/mnt/my cg".into(),
                    root: "/sub/tree".into()
                },
            ]
        );
        assert!(cgroup2_mounts("1 2 3:4 / /x rw - ext4 /dev/sda rw\n").is_empty());
    }

    #[test]
    fn depth_counts_components_below_the_root() {
        assert_eq!(depth(Path::new("/")), 0);
        assert_eq!(depth(Path::new("a/b/c")), 3);
        assert_eq!(depth(Path::new("/sub/tree")), 2);
    }

    #[test]
    fn a_missing_path_or_a_plain_directory_is_refused() {
        let missing = Scope::resolve(Path::new("/nonexistent/polc-cgroup")).expect_err("missing");
        assert!(matches!(missing, CgroupError::Missing { .. }), "{missing}");
        let file = Scope::resolve(Path::new("/proc/self/status")).expect_err("a file");
        assert!(matches!(file, CgroupError::NotDirectory { .. }), "{file}");
        let plain = Scope::resolve(Path::new("/tmp")).expect_err("not cgroup2");
        assert!(matches!(plain, CgroupError::NotCgroup2 { .. }), "{plain}");
    }

    #[test]
    fn the_cgroup2_root_resolves_to_level_zero() {
        // Reads the real mountinfo; every Linux host the project supports
        // has a cgroup v2 mount.
        let root = root().expect("cgroup v2 is mounted");
        let scope = Scope::resolve(&root).expect("the root is a cgroup");
        assert_eq!(scope.level, 0);
        assert_ne!(scope.id, 0);
    }
}
