//! polrt: loads a polc object into the kernel, attaches it, enforces its
//! verdicts there and reports them.
//!
//! ```text
//! .o | .pol ─object─▶ PolicyObject (ELF + abi::Metadata; .pol compiled in process)
//!   ─probe─▶ privileges, kernel BTF, tracefs/bpffs  ─btf─▶ kernel members checked
//!   ─loader (aya 0.14)─▶ maps created, config + sets written, programs loaded:
//!                        the strongest backend per hook that this kernel loads
//!   ─attach─▶ links owned (support programs first, identities written, then hooks)
//!   ─run─▶ ring buffer ─events─▶ Event ─output─▶ text | JSON lines
//! ```
//!
//! `object`, `btf`, `cgroup`, `events` and `output` are pure (no syscalls
//! beyond reading files) and unit tested without root; `output_file` opens
//! `--output` (its checks are pure and unit tested); `probe`, `loader`,
//! `attach` and `run` talk to the kernel, through aya and, for polrt's own
//! `bpf(2)` calls, `polc-sys`. Nothing is left attached on any error:
//! [`attach::Attachments`] detaches on drop, and pins exist only under
//! `--persist`. What an object means comes from its metadata (`polc-abi`)
//! alone, never from the compiler's hook table. No input makes polrt panic:
//! aya's panics on malformed objects are caught and reported as errors
//! ([`panics`]).

pub mod attach;
pub mod btf;
pub mod cgroup;
pub mod co_re;
pub mod containers;
pub mod events;
pub mod guard;
pub mod identity;
pub mod inspect;
pub mod journal;
pub mod lists;
pub mod loader;
pub mod metrics;
pub mod object;
pub mod output;
pub mod output_file;
pub mod panics;
pub mod persist;
pub mod policies;
pub mod probe;
pub mod reload;
pub mod run;
pub mod session;
pub mod status;
pub mod verify;
pub mod vm;

/// Exit code: the policy, the object, the kernel or a program load failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: bad command-line usage (arguments, paths, the cgroup).
pub const EXIT_USAGE: u8 = 2;

/// Any error of a polrt command, with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Object(#[from] object::ObjectError),
    #[error(transparent)]
    Cgroup(#[from] cgroup::CgroupError),
    #[error(transparent)]
    Probe(#[from] probe::ProbeError),
    #[error(transparent)]
    Load(#[from] loader::LoadError),
    #[error(transparent)]
    Attach(#[from] attach::AttachError),
    #[error(transparent)]
    Persist(#[from] persist::PersistError),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Cgroup(_) => EXIT_USAGE,
            Error::Persist(
                persist::PersistError::BadName(_) | persist::PersistError::Unknown(_),
            ) => EXIT_USAGE,
            Error::Object(object::ObjectError::Read { .. }) => EXIT_USAGE,
            _ => EXIT_FAILURE,
        }
    }
}
