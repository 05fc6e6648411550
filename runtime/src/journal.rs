//! `--output journal`: records sent to the systemd journal over its native
//! protocol (`/run/systemd/journal/socket`, one datagram per record), with
//! structured fields beside the message, so that `journalctl
//! SYSLOG_IDENTIFIER=polrt POLRT_VERDICT=deny` selects events and syslog
//! daemons that read the journal (rsyslog's imjournal, journald's
//! `ForwardToSyslog=`) get them too.
//!
//! Each record has `MESSAGE` (the line `--format` renders), `PRIORITY`
//! (warning for enforced deny/kill, losses and tampering; notice for audit
//! and monitor-mode verdicts; info for traces and status; error for records
//! that could not be decoded), `SYSLOG_IDENTIFIER=polrt` and `POLRT_TYPE`
//! (`event`, `loss`, `reload`, ...). Events add `POLRT_RULE`, `POLRT_HOOK`,
//! `POLRT_VERDICT`, `POLRT_ACTION`, `POLRT_BACKEND`, `POLRT_PID`,
//! `POLRT_TID`, `POLRT_UID`, `POLRT_GID`, `POLRT_COMM`, `POLRT_TIME` (when
//! the kernel saw it, RFC 3339), `POLRT_POLICY` and `POLRT_GENERATION`, one
//! `POLRT_FIELD_<NAME>` per captured field (`file.path` becomes
//! `POLRT_FIELD_FILE_PATH`), and `OBJECT_PID`, with which journald adds the
//! acting process's own metadata (`OBJECT_EXE`, `OBJECT_CMDLINE`, ...) when
//! that process still exists. The journal adds the host name
//! (`_HOSTNAME`) and its own time.
//!
//! The socket is not blocking: a journal that cannot keep up makes a send
//! fail, which [`crate::output::Output`] counts and reports like a failed
//! write, while enforcement goes on. Each send names the socket's path, so a
//! restarted journald is found again without reconnecting.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// Where journald listens for the native protocol.
pub const SOCKET: &str = "/run/systemd/journal/socket";

/// Journal priorities (syslog levels).
pub const ERR: u8 = 3;
pub const WARNING: u8 = 4;
pub const NOTICE: u8 = 5;
pub const INFO: u8 = 6;

/// A connection to the journal.
pub struct Journal {
    socket: UnixDatagram,
    path: PathBuf,
}

impl Journal {
    /// Opens a socket for the journal at [`SOCKET`]; fails, with a reason a
    /// user can act on, when no journal listens there.
    pub fn open() -> Result<Journal, String> {
        Journal::open_at(Path::new(SOCKET))
    }

    /// Opens a socket for a journal listening at `path`.
    pub fn open_at(path: &Path) -> Result<Journal, String> {
        let socket = UnixDatagram::unbound()
            .map_err(|e| format!("--output journal: cannot create a socket: {e}"))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| format!("--output journal: {e}"))?;
        let journal = Journal {
            socket,
            path: path.to_path_buf(),
        };
        // An empty datagram is ignored by journald; sending it checks that
        // something listens.
        journal.socket.send_to(b"", &journal.path).map_err(|e| {
            format!(
                "--output journal: no systemd journal at {} ({e}); \
                 is systemd-journald running?",
                path.display()
            )
        })?;
        Ok(journal)
    }

    /// Sends one entry made of `fields` (names as [`field_name`] makes
    /// them).
    pub fn send(&self, fields: &[(String, String)]) -> io::Result<()> {
        let datagram = encode(fields);
        self.socket.send_to(&datagram, &self.path).map(|_| ())
    }
}

/// The native protocol's encoding of one entry: `NAME=value\n` per field,
/// or, for a value holding a newline, `NAME\n`, its length as a
/// little-endian `u64`, the value and `\n`.
pub fn encode(fields: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    for (name, value) in fields {
        out.extend_from_slice(name.as_bytes());
        if value.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
        } else {
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

/// A journal field name from `prefix` and a policy field's name: upper
/// case, every character other than a letter or digit an underscore
/// (journal field names are `[A-Z0-9_]`, at most 64 bytes, and do not start
/// with an underscore, which marks the journal's own trusted fields).
pub fn field_name(prefix: &str, name: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + name.len());
    out.push_str(prefix);
    for c in name.chars() {
        out.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    let out = out.trim_start_matches('_').to_string();
    match out.char_indices().nth(64) {
        Some((end, _)) => out[..end].to_string(),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_name_equals_value_lines() {
        let fields = vec![
            ("MESSAGE".to_string(), "hello".to_string()),
            ("PRIORITY".to_string(), "4".to_string()),
        ];
        assert_eq!(encode(&fields), b"MESSAGE=hello\nPRIORITY=4\n");
    }

    #[test]
    fn values_with_newlines_are_length_prefixed() {
        let fields = vec![("MESSAGE".to_string(), "a\nb".to_string())];
        let mut expected = b"MESSAGE\n".to_vec();
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(b"a\nb\n");
        assert_eq!(encode(&fields), expected);
    }

    #[test]
    fn field_names_are_upper_case_and_underscored() {
        assert_eq!(
            field_name("POLRT_FIELD_", "file.path"),
            "POLRT_FIELD_FILE_PATH"
        );
        assert_eq!(field_name("", "_x.y"), "X_Y");
        assert_eq!(field_name("P_", &"a".repeat(100)).len(), 64);
    }

    #[test]
    fn opening_without_a_journal_says_so() {
        let dir = std::env::temp_dir().join(format!("polrt-journal-{}", std::process::id()));
        let error = match Journal::open_at(&dir.join("socket")) {
            Ok(_) => panic!("no journal listens there"),
            Err(error) => error,
        };
        assert!(error.contains("no systemd journal at"), "{error}");
    }

    #[test]
    fn entries_reach_a_listening_socket() {
        let dir = std::env::temp_dir().join(format!("polrt-journal-ok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("socket");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).expect("bind");
        let journal = Journal::open_at(&path).expect("open");
        journal
            .send(&[("MESSAGE".to_string(), "x".to_string())])
            .expect("send");
        let mut buf = [0u8; 64];
        // The probe datagram first, then the entry.
        assert_eq!(listener.recv(&mut buf).expect("probe"), 0);
        let n = listener.recv(&mut buf).expect("entry");
        assert_eq!(&buf[..n], b"MESSAGE=x\n");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
