//! The policies one `polrt run` enforces: the files named on the command
//! line, or every `*.pol` and `*.o` file of `--policy-dir DIR`; each has a
//! name (its file stem, as `--persist` derives it) and a fingerprint (the
//! SHA-256 of the file's bytes), which tells a changed file from an
//! untouched one when polrt looks again (SIGHUP, or a change the
//! [`Watch`] reports).
//!
//! Pure but for reading files and directories, and for [`Watch`], which
//! owns an inotify descriptor. The decisions (load, reload, unload) are
//! `run`'s.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::{persist, Error};

/// One policy file and the name it is enforced under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The file stem, made a valid policy name ([`persist::default_name`]).
    pub name: String,
    pub path: PathBuf,
}

/// Where the policies come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Files named on the command line: each must load at start.
    Files(Vec<PathBuf>),
    /// Every `*.pol` and `*.o` of a directory: files come and go while
    /// polrt runs, and a broken one is reported and skipped.
    Dir(PathBuf),
}

impl Origin {
    /// The policies it holds now, and what is wrong with the rest (a
    /// directory's duplicate names; for files, a duplicate name is a usage
    /// error).
    pub fn sources(&self) -> Result<(Vec<Source>, Vec<String>), Error> {
        match self {
            Origin::Files(paths) => {
                let mut seen = BTreeMap::new();
                let mut sources = Vec::new();
                for path in paths {
                    let name = persist::default_name(path);
                    if let Some(first) = seen.insert(name.clone(), path.clone()) {
                        return Err(Error::Usage(format!(
                            "`{}` and `{}` would both be enforced as policy `{name}`: policies are named after their file stem, which must differ",
                            first.display(),
                            path.display()
                        )));
                    }
                    sources.push(Source {
                        name,
                        path: path.clone(),
                    });
                }
                Ok((sources, Vec::new()))
            }
            Origin::Dir(dir) => {
                let entries = std::fs::read_dir(dir).map_err(|e| {
                    Error::Usage(format!("cannot read --policy-dir {}: {e}", dir.display()))
                })?;
                let mut paths: Vec<PathBuf> = entries
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|path| is_policy_file(path))
                    .collect();
                paths.sort();
                Ok(dir_sources(&paths))
            }
        }
    }

    /// The directories whose changes a [`Watch`] reports.
    pub fn directories(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = match self {
            Origin::Files(paths) => paths
                .iter()
                .map(|p| match p.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                    _ => PathBuf::from("."),
                })
                .collect(),
            Origin::Dir(dir) => vec![dir.clone()],
        };
        dirs.sort();
        dirs.dedup();
        dirs
    }
}

/// Whether a directory entry is a policy: `*.pol` or `*.o`, not hidden
/// (editors' and Kubernetes' ConfigMap temporaries start with a dot).
fn is_policy_file(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .is_none_or(|name| name.as_bytes().first() == Some(&b'.'));
    let policy = path
        .extension()
        .is_some_and(|ext| ext == "pol" || ext == "o");
    !hidden && policy && path.is_file()
}

/// The sources of a directory's sorted policy files; two files with the
/// same name (`a.pol` and `a.o`) are both refused, with a problem each.
fn dir_sources(paths: &[PathBuf]) -> (Vec<Source>, Vec<String>) {
    let mut by_name: BTreeMap<String, Vec<&PathBuf>> = BTreeMap::new();
    for path in paths {
        by_name
            .entry(persist::default_name(path))
            .or_default()
            .push(path);
    }
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for (name, paths) in by_name {
        if let [path] = paths.as_slice() {
            sources.push(Source {
                name,
                path: (*path).clone(),
            });
        } else {
            let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            problems.push(format!(
                "{} would all be enforced as policy `{name}`: none of them is loaded until only one is left",
                list.join(", ")
            ));
        }
    }
    (sources, problems)
}

/// SHA-256 of the file's bytes, hex; `None` when it cannot be read.
pub fn fingerprint(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|bytes| persist::sha256(&bytes))
}

/// The fingerprint of a policy file and of the list files compiled into
/// its programs (`contains`/`endswith` lists): a `.pol` source is built
/// again, and so reloaded, when one of those changes too. An object's
/// automata are fixed: its fingerprint is the file's alone.
pub fn fingerprint_with_lists(path: &Path, compiled_lists: &[String]) -> Option<String> {
    let own = fingerprint(path)?;
    if compiled_lists.is_empty() || path.extension().is_none_or(|e| e != "pol") {
        return Some(own);
    }
    let mut all = own;
    for list in compiled_lists {
        all.push(' ');
        all.push_str(&fingerprint(Path::new(list)).unwrap_or_default());
    }
    Some(persist::sha256(all.as_bytes()))
}

/// An inotify descriptor watching directories for files written, moved in
/// or out, created or removed (what an editor's save, `mv` into place,
/// and a Kubernetes ConfigMap's symbolic link swap each do).
pub struct Watch {
    fd: OwnedFd,
}

impl Watch {
    /// Watches `dirs`; a directory that cannot be watched is an error.
    pub fn new(dirs: &[PathBuf]) -> Result<Watch, Error> {
        // SAFETY: inotify_init1 has no preconditions.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(Error::Usage(format!(
                "cannot watch the policy files (inotify): {}",
                std::io::Error::last_os_error()
            )));
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let watch = Watch { fd };
        for dir in dirs {
            watch.add(dir)?;
        }
        Ok(watch)
    }

    /// Watches `dir` too (watching a directory twice is one watch).
    pub fn add(&self, dir: &Path) -> Result<(), Error> {
        let mask = libc::IN_CLOSE_WRITE
            | libc::IN_MOVED_TO
            | libc::IN_MOVED_FROM
            | libc::IN_CREATE
            | libc::IN_DELETE
            | libc::IN_ATTRIB;
        let path = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| Error::Usage(format!("`{}`: a path with a NUL byte", dir.display())))?;
        // SAFETY: a valid descriptor and NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), path.as_ptr(), mask) };
        if wd < 0 {
            return Err(Error::Usage(format!(
                "cannot watch {} for changes: {}",
                dir.display(),
                std::io::Error::last_os_error()
            )));
        }
        Ok(())
    }

    /// The descriptor, for `poll`.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Reads every pending notification; returns whether there was any
    /// (an overflow of the kernel's queue counts as a change).
    pub fn changed(&self) -> bool {
        let mut buffer = [0u8; 4096];
        let mut any = false;
        loop {
            // SAFETY: reads into a buffer of its length.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                )
            };
            if n <= 0 {
                return any;
            }
            any = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_by_stem_and_two_of_one_name_are_refused() {
        let origin = Origin::Files(vec!["a/web.pol".into(), "b/db.o".into()]);
        let (sources, problems) = origin.sources().expect("two names");
        assert!(problems.is_empty());
        let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["web", "db"]);
        let error = Origin::Files(vec!["a/web.pol".into(), "b/web.o".into()])
            .sources()
            .expect_err("same name");
        assert_eq!(error.exit_code(), crate::EXIT_USAGE);
        assert!(error.to_string().contains("policy `web`"), "{error}");
        assert_eq!(
            Origin::Files(vec!["web.pol".into(), "x/db.pol".into()]).directories(),
            [PathBuf::from("."), PathBuf::from("x")]
        );
    }

    #[test]
    fn a_directory_holds_its_pol_and_o_files_and_refuses_clashing_names() {
        let dir = std::env::temp_dir().join(format!("polrt-policies-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        for name in ["b.pol", "a.o", "c.pol", "c.o", ".hidden.pol", "notes.txt"] {
            std::fs::write(dir.join(name), "x").expect("write");
        }
        std::fs::create_dir(dir.join("d.pol")).expect("a directory named like a policy");
        let (sources, problems) = Origin::Dir(dir.clone()).sources().expect("readable");
        let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("policy `c`"), "{problems:?}");
        let missing = Origin::Dir(dir.join("missing")).sources();
        assert!(missing.is_err());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn a_watch_reports_a_file_written_in_its_directory() {
        let dir = std::env::temp_dir().join(format!("polrt-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let watch = Watch::new(std::slice::from_ref(&dir)).expect("inotify");
        assert!(!watch.changed());
        std::fs::write(dir.join("p.pol"), "x").expect("write");
        assert!(watch.changed());
        assert!(!watch.changed(), "every notification was read");
        assert_eq!(fingerprint(&dir.join("p.pol")), Some(persist::sha256(b"x")));
        assert_eq!(fingerprint(&dir.join("none.pol")), None);
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
