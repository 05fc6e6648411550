//! List files (`list NAME = file "PATH"`): reading and parsing one, the
//! same way for the checker (`polc`, at build time) and for polrt (when the
//! file changes at run time).
//!
//! The format: one entry per line, written as an inline list's entry is,
//! except that a string needs no quotes. Surrounding whitespace is trimmed;
//! blank lines and lines whose first non-blank character is `#` are skipped.
//! A line is
//! - a quoted string (`"..."`, the escapes of `.pol` strings): a string;
//! - else, when it starts with a digit, or contains a `:` and reads as an
//!   IPv6 address or network: an IP address or network (`10.0.0.0/8`,
//!   `fd00::/8`) when it contains `.`, `:` or `/`, otherwise an integer
//!   (decimal, `0x`, `0o`);
//! - else a string, taken as it is (a path, a command name).
//!
//! Every entry has the type of the first one (strings that start with a
//! digit are written quoted). At most [`MAX_ENTRIES`] entries and
//! [`MAX_BYTES`] bytes; an empty file (no entry) is an error.
//!
//! Pure except for [`read`], which reads the file (bounded).

use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::check::literal::{self, IntError, IpError};
use crate::check::policy::Value;

/// The most entries a list file may hold.
pub const MAX_ENTRIES: usize = 1 << 20;

/// The largest list file, in bytes.
pub const MAX_BYTES: u64 = 64 << 20;

/// The type of a list file's entries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Str,
    Int,
    Ip,
}

impl EntryKind {
    /// The type's name in `.pol` (`str`, `int`, `ip`).
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::Str => "str",
            EntryKind::Int => "int",
            EntryKind::Ip => "ip",
        }
    }
}

/// A list file's entries, in file order (repetitions kept).
#[derive(Clone, Debug, PartialEq)]
pub struct ListFile {
    pub kind: EntryKind,
    pub values: Vec<Value>,
    /// The 1-based line of each value.
    pub lines: Vec<u32>,
}

/// Why a list file cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListFileError {
    /// Missing, unreadable, a directory, not UTF-8.
    Read { reason: String },
    /// Over [`MAX_BYTES`] bytes or [`MAX_ENTRIES`] entries.
    TooLarge { what: String },
    /// No entry at all.
    Empty,
    /// A line that is not an entry of the list's type.
    BadLine {
        line: u32,
        text: String,
        why: String,
        help: String,
    },
}

impl fmt::Display for ListFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListFileError::Read { reason } => write!(f, "cannot read it: {reason}"),
            ListFileError::TooLarge { what } => write!(f, "too large: {what}"),
            ListFileError::Empty => write!(f, "it has no entry"),
            ListFileError::BadLine {
                line, text, why, ..
            } => write!(f, "line {line}: `{text}`: {why}"),
        }
    }
}

/// Where the list file `file` of the policy read from `source_name` is: an
/// absolute path as it is, a relative one from `dir` (the policy's
/// directory), made absolute from the current directory.
pub fn resolve(dir: &Path, file: &str) -> PathBuf {
    let joined = dir.join(file);
    std::path::absolute(&joined).unwrap_or(joined)
}

/// The directory of the policy `source_name` (a path, or a `file://` URI).
pub fn policy_dir(source_name: &str) -> PathBuf {
    let path = Path::new(source_name.strip_prefix("file://").unwrap_or(source_name));
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Reads the list file at `path` (at most [`MAX_BYTES`] bytes).
pub fn read(path: &Path) -> Result<String, ListFileError> {
    let read_error = |e: std::io::Error| ListFileError::Read {
        reason: e.to_string(),
    };
    // Never wait for a writer: a FIFO or a terminal named as a list file
    // must not stop `polc`, the language server or polrt.
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    let kind = meta.file_type();
    if meta.is_dir() {
        return Err(ListFileError::Read {
            reason: "it is a directory".to_string(),
        });
    }
    if kind.is_fifo() || kind.is_socket() {
        return Err(ListFileError::Read {
            reason: "it is a pipe or a socket, not a file".to_string(),
        });
    }
    if meta.len() > MAX_BYTES {
        return Err(too_many_bytes());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(too_many_bytes());
    }
    String::from_utf8(bytes).map_err(|e| ListFileError::Read {
        reason: format!("not UTF-8 text (at byte {})", e.utf8_error().valid_up_to()),
    })
}

fn too_many_bytes() -> ListFileError {
    ListFileError::TooLarge {
        what: format!("more than {MAX_BYTES} bytes"),
    }
}

/// Reads and parses the list file at `path`.
pub fn load(path: &Path) -> Result<ListFile, ListFileError> {
    parse(&read(path)?)
}

/// Parses a list file's text.
pub fn parse(text: &str) -> Result<ListFile, ListFileError> {
    let mut kind: Option<(EntryKind, u32)> = None;
    let mut values = Vec::new();
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let entry = raw.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        let bad = |why: String, help: &str| ListFileError::BadLine {
            line,
            text: entry.to_string(),
            why,
            help: help.to_string(),
        };
        let (entry_kind, value) = parse_entry(entry).map_err(|(why, help)| bad(why, &help))?;
        match kind {
            None => kind = Some((entry_kind, line)),
            Some((first, first_line)) if first != entry_kind => {
                return Err(bad(
                    format!(
                        "this is {}, but the list's first entry (line {first_line}) is {}",
                        article(entry_kind.name()),
                        article(first.name())
                    ),
                    &if first == EntryKind::Str {
                        "a list holds values of one type: write a string that starts with a digit in double quotes".to_string()
                    } else {
                        "a list holds values of one type: split it into one file per type"
                            .to_string()
                    },
                ));
            }
            Some(_) => {}
        }
        if values.len() == MAX_ENTRIES {
            return Err(ListFileError::TooLarge {
                what: format!("more than {MAX_ENTRIES} entries"),
            });
        }
        values.push(value);
        lines.push(line);
    }
    let Some((kind, _)) = kind else {
        return Err(ListFileError::Empty);
    };
    Ok(ListFile {
        kind,
        values,
        lines,
    })
}

/// One trimmed, non-blank, non-comment line as a value; `Err((why, help))`.
fn parse_entry(entry: &str) -> Result<(EntryKind, Value), (String, String)> {
    if entry.starts_with('"') {
        let mut diags = Vec::new();
        let lit = crate::syntax::decode_str(entry, 0, &mut diags);
        let closed = entry.len() >= 2 && entry.ends_with('"') && !entry.ends_with("\\\"");
        if let Some(d) = diags.first() {
            return Err((d.message.clone(), "write the string as in a policy".into()));
        }
        if !closed || lit.span.end as usize != entry.len() {
            return Err((
                "an unterminated or malformed quoted string".into(),
                "end the string with `\"` and write nothing after it".into(),
            ));
        }
        return Ok((EntryKind::Str, Value::Str(lit.value)));
    }
    let starts_with_digit = entry.as_bytes()[0].is_ascii_digit();
    let looks_ipv6 =
        entry.contains(':') && literal::parse_ip(entry).is_ok_and(|(a, _)| a.is_ipv6());
    if !starts_with_digit && !looks_ipv6 {
        return Ok((EntryKind::Str, Value::Str(entry.to_string())));
    }
    if entry.contains(['.', ':', '/']) {
        return match literal::parse_ip(entry) {
            Ok((addr, prefix)) => Ok((EntryKind::Ip, ip_value(addr, prefix))),
            Err(IpError::Malformed(why)) => Err((
                format!("not an IP address or network: {why}"),
                "write an IPv4 address (`10.1.2.3`), an IPv6 address (`fd00::1`), or either with a `/prefix`; quote a string that starts with a digit".into(),
            )),
            Err(IpError::PrefixTooLong { max }) => Err((
                format!("the prefix is at most /{max}"),
                "correct the prefix length".into(),
            )),
            Err(IpError::HostBits { network }) => Err((
                "bits set past the network's prefix".into(),
                format!("the network is `{network}`"),
            )),
        };
    }
    match literal::parse_int(entry) {
        Ok(value) => Ok((EntryKind::Int, Value::Int(value))),
        Err(error) => Err((
            match error {
                IntError::Malformed => "not a number".to_string(),
                IntError::Negative => "a negative number (fields are unsigned)".to_string(),
                IntError::TooLarge => "does not fit in 64 bits".to_string(),
            },
            "write a decimal number, `0x` hex or `0o` octal; quote a string that starts with a digit"
                .into(),
        )),
    }
}

fn ip_value(addr: IpAddr, prefix: u8) -> Value {
    Value::Ip { addr, prefix }
}

fn article(kind: &str) -> String {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {kind}")
    } else {
        format!("a {kind}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_and_quoted_entries_comments_and_blanks() {
        let list = parse("# nets\n\n  10.0.0.0/8  \n192.168.1.1\nfd00::/8\n").expect("parses");
        assert_eq!(list.kind, EntryKind::Ip);
        assert_eq!(list.lines, vec![3, 4, 5]);
        let list = parse("/bin/sh\n\"42\"\n  # x\n\"a\\tb\"\n").expect("parses");
        assert_eq!(list.kind, EntryKind::Str);
        assert_eq!(
            list.values,
            vec![
                Value::Str("/bin/sh".into()),
                Value::Str("42".into()),
                Value::Str("a\tb".into())
            ]
        );
        let list = parse("22\n0x1bb\n").expect("parses");
        assert_eq!(list.values, vec![Value::Int(22), Value::Int(443)]);
    }

    #[test]
    fn bad_lines_name_their_line() {
        let Err(ListFileError::BadLine { line, text, .. }) = parse("10.0.0.0/8\n\n10.0.0.300\n")
        else {
            panic!("a bad address is refused");
        };
        assert_eq!((line, text.as_str()), (3, "10.0.0.300"));
        let Err(ListFileError::BadLine { line, why, .. }) = parse("22\n/bin/sh\n") else {
            panic!("mixed types are refused");
        };
        assert_eq!(line, 2);
        assert!(why.contains("first entry (line 1) is an int"), "{why}");
        assert!(matches!(
            parse("10.0.0.1/8\n"),
            Err(ListFileError::BadLine { .. })
        ));
        assert!(matches!(
            parse("\"open\n"),
            Err(ListFileError::BadLine { .. })
        ));
        assert_eq!(parse("# only\n\n"), Err(ListFileError::Empty));
    }

    #[test]
    fn limits() {
        let many = "1\n".repeat(MAX_ENTRIES + 1);
        assert!(matches!(parse(&many), Err(ListFileError::TooLarge { .. })));
        assert!(parse(&"1\n".repeat(MAX_ENTRIES)).is_ok());
        assert!(matches!(
            read(Path::new("/nonexistent/polc-list")),
            Err(ListFileError::Read { .. })
        ));
        // A pipe with no writer is refused, never waited on.
        let fifo = std::env::temp_dir().join(format!("polc-list-fifo-{}", std::process::id()));
        let c = std::ffi::CString::new(fifo.to_str().expect("utf-8")).expect("no NUL");
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(read(&fifo), Err(ListFileError::Read { .. })));
        std::fs::remove_file(&fifo).expect("clean");
    }
}
