//! Opening `--output FILE` safely: polrt runs as root, so the file it writes
//! its events to must not be a trap laid by another user (a symbolic link to
//! `/etc/shadow`, a hard link to a file polrt would otherwise append to, a
//! FIFO another user reads).
//!
//! The file is opened with `O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
//! O_CLOEXEC` and mode 0600 when it is created: never truncated (events are
//! appended to what is there, as log rotation expects), never followed through
//! a symbolic link in its last component. What was opened is then checked on
//! the descriptor itself (`fstat`), so nothing can be swapped in between:
//!
//! - a regular file must belong to polrt's effective uid and have exactly one
//!   link;
//! - a FIFO must belong to polrt's effective uid, and must have a reader
//!   (opening never blocks);
//! - a character device (`/dev/null`, a terminal, a serial console) is
//!   accepted: only root can make one;
//! - anything else (a directory, a socket, a block device) is refused.
//!
//! [`check`] is the decision, pure and unit tested; [`open`] applies it.
//! `polrt run` calls [`open`] again on SIGHUP to follow a rotated file.
//! Knows nothing of output formats.

use std::fs::File;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

/// What `fstat` says about an opened output.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Regular,
    Fifo,
    CharDevice,
    /// A directory, socket or block device.
    Other,
}

/// The facts [`check`] decides on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub kind: Kind,
    pub uid: u32,
    pub nlink: u64,
}

/// Why an opened output is refused, or `None` when it is acceptable for a
/// process whose effective uid is `euid`.
pub fn check(opened: Opened, euid: u32) -> Option<String> {
    let foreign = || {
        format!(
            "it belongs to uid {}, not to polrt's uid {euid}: another user could read or redirect the events",
            opened.uid
        )
    };
    match opened.kind {
        Kind::Regular if opened.uid != euid => Some(foreign()),
        Kind::Regular if opened.nlink != 1 => Some(format!(
            "it has {} hard links: polrt appends only to a file with exactly one name",
            opened.nlink
        )),
        Kind::Fifo if opened.uid != euid => Some(foreign()),
        Kind::Regular | Kind::Fifo | Kind::CharDevice => None,
        Kind::Other => Some(
            "it is not a regular file, a FIFO or a character device (a directory, socket or block device)"
                .to_string(),
        ),
    }
}

/// Opens `path` for appending events, with the checks above. The error is a
/// sentence naming the path.
pub fn open(path: &Path) -> Result<File, String> {
    let refused = |why: String| format!("--output `{}`: {why}", path.display());
    let file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            refused(match e.raw_os_error() {
                Some(libc::ELOOP) => "it is a symbolic link, and polrt never follows one for its output (give the target's own path, or omit --output for standard output)".to_string(),
                Some(libc::ENXIO) => "it is a FIFO that nobody reads".to_string(),
                _ => format!("cannot open it: {e}"),
            })
        })?;
    let meta = file
        .metadata()
        .map_err(|e| refused(format!("cannot stat it: {e}")))?;
    let file_type = meta.file_type();
    let kind = if file_type.is_file() {
        Kind::Regular
    } else if file_type.is_fifo() {
        Kind::Fifo
    } else if file_type.is_char_device() {
        Kind::CharDevice
    } else {
        Kind::Other
    };
    let opened = Opened {
        kind,
        uid: meta.uid(),
        nlink: meta.nlink(),
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if let Some(why) = check(opened, euid) {
        return Err(refused(why));
    }
    set_blocking(&file).map_err(|e| refused(format!("cannot make it blocking: {e}")))?;
    Ok(file)
}

/// Clears `O_NONBLOCK` (set only so that opening a FIFO never waits).
fn set_blocking(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function's caller owns.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above; only O_NONBLOCK changes.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    struct Dir(std::path::PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let path =
                std::env::temp_dir().join(format!("polrt-output-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("temp dir");
            Dir(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const ME: u32 = 1000;

    fn opened(kind: Kind, uid: u32, nlink: u64) -> Opened {
        Opened { kind, uid, nlink }
    }

    #[test]
    fn only_own_single_link_files_fifos_and_devices_are_accepted() {
        assert_eq!(check(opened(Kind::Regular, ME, 1), ME), None);
        assert_eq!(check(opened(Kind::Fifo, ME, 1), ME), None);
        assert_eq!(check(opened(Kind::CharDevice, 0, 1), ME), None);
        let foreign = check(opened(Kind::Regular, 1001, 1), ME).expect("refused");
        assert!(foreign.contains("belongs to uid 1001"), "{foreign}");
        let fifo = check(opened(Kind::Fifo, 1001, 1), ME).expect("refused");
        assert!(fifo.contains("belongs to uid 1001"), "{fifo}");
        let linked = check(opened(Kind::Regular, ME, 2), ME).expect("refused");
        assert!(linked.contains("2 hard links"), "{linked}");
        let other = check(opened(Kind::Other, ME, 1), ME).expect("refused");
        assert!(other.contains("not a regular file"), "{other}");
    }

    #[test]
    fn a_new_file_is_created_with_mode_0600() {
        let dir = Dir::new("mode");
        let path = dir.0.join("events.jsonl");
        let file = open(&path).expect("created");
        drop(file);
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    #[test]
    fn an_existing_file_is_appended_to_never_truncated() {
        let dir = Dir::new("append");
        let path = dir.0.join("events.jsonl");
        std::fs::write(&path, "earlier line\n").expect("write");
        let mut file = open(&path).expect("opened");
        file.write_all(b"new line\n").expect("append");
        drop(file);
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "earlier line\nnew line\n"
        );
    }

    #[test]
    fn a_symbolic_link_is_refused_and_its_target_untouched() {
        let dir = Dir::new("symlink");
        let target = dir.0.join("precious");
        std::fs::write(&target, "keep me\n").expect("write");
        let link = dir.0.join("events.jsonl");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let error = open(&link).expect_err("refused");
        assert!(error.contains("symbolic link"), "{error}");
        let dangling = dir.0.join("dangling.jsonl");
        std::os::unix::fs::symlink(dir.0.join("absent"), &dangling).expect("symlink");
        let error = open(&dangling).expect_err("refused");
        assert!(error.contains("symbolic link"), "{error}");
        assert!(!dir.0.join("absent").exists());
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep me\n");
    }

    #[test]
    fn a_hard_link_is_refused() {
        let dir = Dir::new("hardlink");
        let target = dir.0.join("precious");
        std::fs::write(&target, "keep me\n").expect("write");
        let link = dir.0.join("events.jsonl");
        std::fs::hard_link(&target, &link).expect("hard link");
        let error = open(&link).expect_err("refused");
        assert!(error.contains("2 hard links"), "{error}");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep me\n");
    }

    #[test]
    fn a_directory_is_refused_and_dev_null_accepted() {
        let dir = Dir::new("dir");
        let error = open(&dir.0).expect_err("refused");
        assert!(error.contains("cannot open it"), "{error}");
        open(Path::new("/dev/null")).expect("a character device");
    }

    #[test]
    fn a_fifo_without_a_reader_is_refused_at_once() {
        let dir = Dir::new("fifo");
        let path = dir.0.join("events.fifo");
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let error = open(&path).expect_err("refused");
        assert!(error.contains("FIFO that nobody reads"), "{error}");
    }
}
