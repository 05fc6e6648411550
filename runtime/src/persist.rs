//! `polrt run --persist`: an enforced policy that outlives polrt. Its
//! programs, links and maps are pinned in bpffs, so that killing polrt
//! (SIGKILL) leaves enforcement in place; a later `polrt run --persist` of
//! the same name adopts them, `polrt status` describes them and `polrt
//! stop` removes them.
//!
//! Layout, one directory per policy name under [`PIN_ROOT`]:
//!
//! ```text
//! /sys/fs/bpf/polc/NAME/state        array map: the State record (JSON), frozen
//!                       maps/MAP      every map of the object
//!                       progs/SYMBOL  every attached program
//!                       links/SYMBOL  every link (what keeps a program attached)
//! /sys/fs/bpf/polc/_next_NAME/       the next generation while it replaces NAME
//! ```
//!
//! (bpffs refuses names with a dot; policy names start with a letter or a
//! digit, so `_next_` names never collide with one.)
//!
//! bpffs holds only pinned objects and directories, so the [`State`] record
//! (the policy's metadata, how it was run, which backend each hook got) is
//! a frozen array map: 4096-byte entries holding its JSON, NUL-padded.
//!
//! Knows the layout and the record; the decisions (adopt, replace) are made
//! by `run`. Must not depend on output formats.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use aya::maps::{Map, MapData};
use aya::Ebpf;
use polc_abi::{BackendKind, Metadata};
use serde::{Deserialize, Serialize};

use crate::loader;

/// Where persisted policies are pinned.
pub const PIN_ROOT: &str = "/sys/fs/bpf/polc";
/// Prefix of the directory of a generation being pinned to replace another.
pub const STAGING_PREFIX: &str = "_next_";
/// Version of the [`State`] record.
pub const STATE_FORMAT: u32 = 1;
/// Bytes per entry of the state map.
const STATE_CHUNK: usize = 4096;
/// `BPF_MAP_TYPE_ARRAY`.
const MAP_TYPE_ARRAY: u32 = 2;
/// `BPF_F_RDONLY_PROG`: no program may write the state map.
const RDONLY_PROG: u32 = 1 << 7;

/// Why persisting, adopting or removing failed.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("`{0}` is not a policy name: use 1 to 64 letters, digits, `_` or `-`, starting with a letter or a digit")]
    BadName(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: io::Error,
    },
    #[error("the pinned state {path} cannot be read: {reason}")]
    State { path: String, reason: String },
    #[error("policy `{name}` is run by another polrt (kernel pid {tgid}); stop it first (`polrt stop {name}` stops and removes it)")]
    Busy { name: String, tgid: u32 },
    #[error("no persisted policy is named `{0}` (`polrt status` lists them)")]
    Unknown(String),
    #[error(
        "the pinned policy `{name}` cannot be adopted ({reason}); `polrt stop {name}` removes it"
    )]
    Incomplete { name: String, reason: String },
    #[error("{0}")]
    Reader(String),
}

/// Checks a policy name: it becomes a directory name in bpffs.
pub fn check_name(name: &str) -> Result<(), PersistError> {
    let ok = name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(PersistError::BadName(name.to_string()))
    }
}

/// The name a policy file persists under by default: its file stem, with
/// every character outside `[A-Za-z0-9_-]` replaced by `_`, and leading
/// `_` and `-` dropped.
pub fn default_name(policy: &Path) -> String {
    let stem = policy
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = name.trim_start_matches(['_', '-']);
    if name.is_empty() {
        "policy".to_string()
    } else {
        name.to_string()
    }
}

/// The pin directory of one policy (or of its next generation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinDir {
    /// The policy's name.
    pub name: String,
    pub root: PathBuf,
}

impl PinDir {
    /// `PIN_ROOT/NAME`.
    pub fn named(name: &str) -> PinDir {
        PinDir {
            name: name.to_string(),
            root: Path::new(PIN_ROOT).join(name),
        }
    }

    /// `PIN_ROOT/_next_NAME`: the next generation, while it replaces the
    /// current one.
    pub fn staging(name: &str) -> PinDir {
        PinDir {
            name: name.to_string(),
            root: Path::new(PIN_ROOT).join(format!("{STAGING_PREFIX}{name}")),
        }
    }

    pub fn maps(&self) -> PathBuf {
        self.root.join("maps")
    }

    pub fn progs(&self) -> PathBuf {
        self.root.join("progs")
    }

    pub fn links(&self) -> PathBuf {
        self.root.join("links")
    }

    pub fn state(&self) -> PathBuf {
        self.root.join("state")
    }

    /// Whether the directory exists.
    pub fn exists(&self) -> bool {
        self.root.is_dir()
    }

    /// Creates the directory and its subdirectories (mode 0700).
    pub fn create(&self) -> Result<(), PersistError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true).mode(0o700);
        for dir in [self.root.clone(), self.maps(), self.progs(), self.links()] {
            builder.create(&dir).map_err(|source| PersistError::Io {
                what: "cannot create",
                path: dir.display().to_string(),
                source,
            })?;
        }
        Ok(())
    }

    /// The directories the guards protect: the pin root and this policy's.
    pub fn guarded_dirs(&self) -> Vec<PathBuf> {
        vec![
            PathBuf::from(PIN_ROOT),
            self.root.clone(),
            self.maps(),
            self.progs(),
            self.links(),
        ]
    }

    /// Removes every pin (links first: that detaches them, then programs,
    /// maps and the state) and the directories. Returns how many pins it
    /// removed.
    pub fn remove(&self) -> Result<usize, PersistError> {
        let mut removed = 0;
        for dir in [self.links(), self.progs(), self.maps()] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                unlink(&entry.path())?;
                removed += 1;
            }
            std::fs::remove_dir(&dir).map_err(|source| PersistError::Io {
                what: "cannot remove",
                path: dir.display().to_string(),
                source,
            })?;
        }
        if self.state().exists() {
            unlink(&self.state())?;
            removed += 1;
        }
        if self.root.exists() {
            std::fs::remove_dir(&self.root).map_err(|source| PersistError::Io {
                what: "cannot remove",
                path: self.root.display().to_string(),
                source,
            })?;
        }
        Ok(removed)
    }

    /// Renames this directory to `to`'s place (which must not exist).
    pub fn rename_to(&self, to: &PinDir) -> Result<(), PersistError> {
        std::fs::rename(&self.root, &to.root).map_err(|source| PersistError::Io {
            what: "cannot rename",
            path: format!("{} to {}", self.root.display(), to.root.display()),
            source,
        })
    }
}

fn unlink(path: &Path) -> Result<(), PersistError> {
    std::fs::remove_file(path).map_err(|source| PersistError::Io {
        what: "cannot unpin",
        path: path.display().to_string(),
        source,
    })
}

/// The names of the policies pinned under [`PIN_ROOT`] (with the leftovers
/// of an interrupted replacement, `_next_NAME`), sorted.
pub fn list() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(PIN_ROOT)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The scope a persisted policy was run with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeState {
    pub path: String,
    pub id: u64,
    pub level: u32,
}

/// One program, by symbol and section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramState {
    pub symbol: String,
    pub section: String,
}

/// The backend one hook got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookState {
    pub hook: String,
    pub backend: BackendKind,
    pub deny_means: String,
    /// Stronger backends that were unavailable, and why.
    pub unavailable: Vec<(BackendKind, String)>,
    pub limits: Vec<String>,
    pub programs: Vec<ProgramState>,
}

/// Everything about a persisted policy that its pins do not say: the
/// object's metadata and hash, how it was run, which backend each hook
/// got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`STATE_FORMAT`].
    pub format: u32,
    pub name: String,
    /// The policy as given to `polrt run`.
    pub policy: String,
    /// SHA-256 of the object's bytes, hex.
    pub object_sha256: String,
    pub metadata: Metadata,
    pub scope: Option<ScopeState>,
    pub monitor: bool,
    /// `--ringbuf-size`, when given.
    pub ringbuf_bytes: Option<u32>,
    pub hooks: Vec<HookState>,
    /// Support programs attached (exe tracker, guards).
    pub support: Vec<ProgramState>,
    /// Why the LSM guards do not run; `None`: they do.
    pub guard_off: Option<String>,
    /// When this generation was pinned (RFC 3339).
    pub pinned_at: String,
}

/// What decides whether a new run adopts the pinned links as they are: the
/// same object, scope, mode, ring buffer and guards. Otherwise it replaces
/// them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enforcement {
    pub object_sha256: String,
    /// Scope cgroup id and level.
    pub scope: Option<(u64, u32)>,
    pub monitor: bool,
    pub ringbuf_bytes: Option<u32>,
    pub guards: bool,
    /// Whether its LSM hooks run the reporting and refusing programs
    /// (several policies) rather than the whole ones.
    pub split_lsm: bool,
}

impl State {
    /// What this generation enforces (see [`Enforcement`]).
    pub fn enforcement(&self) -> Enforcement {
        Enforcement {
            object_sha256: self.object_sha256.clone(),
            scope: self.scope.as_ref().map(|s| (s.id, s.level)),
            monitor: self.monitor,
            ringbuf_bytes: self.ringbuf_bytes,
            guards: self.guard_off.is_none(),
            split_lsm: self
                .hooks
                .iter()
                .flat_map(|h| &h.programs)
                .any(|p| p.section.starts_with("fentry/")),
        }
    }

    /// Every program attached: support programs, then each hook's.
    pub fn programs(&self) -> impl Iterator<Item = &ProgramState> {
        self.support
            .iter()
            .chain(self.hooks.iter().flat_map(|h| h.programs.iter()))
    }
}

/// SHA-256 of `bytes`, hex.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(bytes))
}

/// The state record as entries of the state map: its JSON, NUL-padded to
/// whole entries.
pub fn state_entries(state: &State) -> Vec<Vec<u8>> {
    let json = serde_json::to_vec(state).expect("the state record serialises");
    json.chunks(STATE_CHUNK)
        .chain(
            // A record that fills its last entry gets a NUL entry after it.
            json.len().is_multiple_of(STATE_CHUNK).then_some(&[][..]),
        )
        .map(|chunk| {
            let mut entry = chunk.to_vec();
            entry.resize(STATE_CHUNK, 0);
            entry
        })
        .collect()
}

/// The state record from the entries of the state map.
pub fn state_from_entries(entries: &[Vec<u8>]) -> Result<State, String> {
    let bytes: Vec<u8> = entries
        .iter()
        .flatten()
        .copied()
        .take_while(|b| *b != 0)
        .collect();
    let state: State = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if state.format != STATE_FORMAT {
        return Err(format!(
            "state format {} (this polrt reads {STATE_FORMAT})",
            state.format
        ));
    }
    Ok(state)
}

/// Writes `state` into a new frozen state map pinned at `dir/state`;
/// returns the map's id (for the guards).
pub fn write_state(dir: &PinDir, state: &State) -> Result<u32, PersistError> {
    let path = dir.state();
    let failed = |reason: String| PersistError::State {
        path: path.display().to_string(),
        reason,
    };
    let entries = state_entries(state);
    let fd = loader::map_create(
        MAP_TYPE_ARRAY,
        4,
        STATE_CHUNK as u32,
        entries.len() as u32,
        RDONLY_PROG,
        "polc_state",
    )
    .map_err(|e| failed(format!("creating the map: {e}")))?;
    for (index, entry) in entries.iter().enumerate() {
        loader::map_update(fd.as_raw_fd(), &(index as u32).to_le_bytes(), entry, 0)
            .map_err(|e| failed(format!("writing the map: {e}")))?;
    }
    loader::map_freeze(fd.as_raw_fd()).map_err(|e| failed(format!("freezing the map: {e}")))?;
    let _ = std::fs::remove_file(&path);
    loader::obj_pin(fd.as_raw_fd(), &path).map_err(|e| failed(format!("pinning the map: {e}")))?;
    let data = MapData::from_fd(
        fd.as_fd()
            .try_clone_to_owned()
            .map_err(|e| failed(e.to_string()))?,
    )
    .map_err(|e| failed(loader::error_chain(&e)))?;
    data.info()
        .map(|info| info.id())
        .map_err(|e| failed(loader::error_chain(&e)))
}

/// Reads the state record pinned in `dir`.
pub fn read_state(dir: &PinDir) -> Result<State, PersistError> {
    let path = dir.state();
    let failed = |reason: String| PersistError::State {
        path: path.display().to_string(),
        reason,
    };
    let data = MapData::from_pin(&path).map_err(|e| failed(loader::error_chain(&e)))?;
    let info = data.info().map_err(|e| failed(loader::error_chain(&e)))?;
    if info.value_size() as usize != STATE_CHUNK || info.key_size() != 4 {
        return Err(failed("not a polrt state map".into()));
    }
    let fd = data.fd().as_fd().as_raw_fd();
    let mut entries = Vec::new();
    for index in 0..info.max_entries() {
        let mut entry = vec![0u8; STATE_CHUNK];
        loader::map_lookup(fd, &index.to_le_bytes(), &mut entry)
            .map_err(|e| failed(e.to_string()))?;
        entries.push(entry);
    }
    state_from_entries(&entries).map_err(failed)
}

/// Opens map `name` pinned in `dir`.
pub fn open_map(dir: &PinDir, name: &str) -> Result<Map, PersistError> {
    let path = dir.maps().join(name);
    let failed = |reason: String| PersistError::State {
        path: path.display().to_string(),
        reason,
    };
    let data = MapData::from_pin(&path).map_err(|e| failed(loader::error_chain(&e)))?;
    Map::from_map_data(data).map_err(|e| failed(loader::error_chain(&e)))
}

/// Pins every map of `ebpf` at `dir/maps/NAME` (before any is taken out of
/// it).
pub fn pin_maps(ebpf: &Ebpf, dir: &PinDir) -> Result<(), PersistError> {
    for (name, map) in ebpf.maps() {
        let path = dir.maps().join(name);
        map.pin(&path).map_err(|e| PersistError::Io {
            what: "cannot pin map at",
            path: path.display().to_string(),
            source: io::Error::other(loader::error_chain(&e)),
        })?;
    }
    Ok(())
}

/// Pins the programs `symbols` of `ebpf` at `dir/progs/SYMBOL` (what a later
/// run attaches again if a link is detached).
pub fn pin_programs<'s>(
    ebpf: &mut Ebpf,
    symbols: impl IntoIterator<Item = &'s str>,
    dir: &PinDir,
) -> Result<(), PersistError> {
    for symbol in symbols {
        let path = dir.progs().join(symbol);
        let program = ebpf
            .program_mut(symbol)
            .ok_or_else(|| PersistError::State {
                path: path.display().to_string(),
                reason: format!("the object has no program `{symbol}`"),
            })?;
        program.pin(&path).map_err(|e| PersistError::Io {
            what: "cannot pin program at",
            path: path.display().to_string(),
            source: io::Error::other(loader::error_chain(&e)),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::tests::sample_metadata;

    fn state(metadata: Metadata) -> State {
        State {
            format: STATE_FORMAT,
            name: "web".into(),
            policy: "/etc/polc/web.pol".into(),
            object_sha256: "ab".repeat(32),
            metadata,
            scope: Some(ScopeState {
                path: "/sys/fs/cgroup/web".into(),
                id: 42,
                level: 1,
            }),
            monitor: false,
            ringbuf_bytes: None,
            hooks: vec![HookState {
                hook: "file.open".into(),
                backend: BackendKind::Tracepoint,
                deny_means: "SIGKILL".into(),
                unavailable: vec![(BackendKind::Lsm, "lockdown".into())],
                limits: vec![],
                programs: vec![ProgramState {
                    symbol: "file_open_tp_openat".into(),
                    section: "tracepoint/syscalls/sys_enter_openat".into(),
                }],
            }],
            support: vec![ProgramState {
                symbol: "polc_guard_exit".into(),
                section: "tp_btf/sched_process_exit".into(),
            }],
            guard_off: Some("lockdown".into()),
            pinned_at: "2026-12-02T12:00:00.000000000Z".into(),
        }
    }

    #[test]
    fn names_are_checked_and_derived_from_the_file() {
        assert!(check_name("web-frontend_2").is_ok());
        for bad in [
            "",
            ".hidden",
            "a/b",
            "..",
            "x y",
            "_next_x",
            "-x",
            &"n".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(default_name(Path::new("/etc/polc/web.pol")), "web");
        assert_eq!(default_name(Path::new("my policy.v2.o")), "my_policy_v2");
        assert_eq!(default_name(Path::new("/")), "policy");
        assert_eq!(default_name(Path::new("_next_web.pol")), "next_web");
        assert!(check_name(&default_name(Path::new("ünïcode.pol"))).is_ok());
    }

    #[test]
    fn the_state_record_round_trips_through_map_entries() {
        let small = state(sample_metadata());
        let entries = state_entries(&small);
        assert_eq!(entries.len(), 1);
        assert!(entries.iter().all(|e| e.len() == STATE_CHUNK));
        assert_eq!(state_from_entries(&entries), Ok(small.clone()));

        // A record over several entries, and one that fills its last.
        let mut large = small.clone();
        large.policy = "p".repeat(3 * STATE_CHUNK);
        let entries = state_entries(&large);
        assert!(entries.len() >= 4);
        assert_eq!(state_from_entries(&entries), Ok(large));
        let mut exact = small.clone();
        let json_len = serde_json::to_vec(&exact).expect("json").len();
        exact
            .policy
            .push_str(&"q".repeat(2 * STATE_CHUNK - json_len));
        assert_eq!(
            serde_json::to_vec(&exact).expect("json").len(),
            2 * STATE_CHUNK
        );
        let entries = state_entries(&exact);
        assert_eq!(entries.len(), 3);
        assert_eq!(state_from_entries(&entries), Ok(exact));

        let mut other = small.clone();
        other.format = 9;
        let error = state_from_entries(&state_entries(&other)).expect_err("format");
        assert!(error.contains("state format 9"), "{error}");
        assert!(state_from_entries(&[vec![b'{'; 10]]).is_err());
    }

    #[test]
    fn only_the_same_object_scope_and_mode_is_adopted_as_it_is() {
        let base = state(sample_metadata());
        let mut same = base.clone();
        same.pinned_at = "later".into();
        same.policy = "elsewhere/web.o".into();
        same.scope.as_mut().expect("scoped").path = "/elsewhere".into();
        assert_eq!(base.enforcement(), same.enforcement());
        for change in [
            |s: &mut State| s.object_sha256 = "cd".repeat(32),
            |s: &mut State| s.scope = None,
            |s: &mut State| s.monitor = true,
            |s: &mut State| s.ringbuf_bytes = Some(8192),
            |s: &mut State| s.guard_off = None,
        ] {
            let mut other = base.clone();
            change(&mut other);
            assert_ne!(base.enforcement(), other.enforcement(), "{other:?}");
        }
        let symbols: Vec<&str> = base.programs().map(|p| p.symbol.as_str()).collect();
        assert_eq!(symbols, vec!["polc_guard_exit", "file_open_tp_openat"]);
    }

    #[test]
    fn the_layout_is_one_directory_per_name() {
        let dir = PinDir::named("web");
        assert_eq!(dir.root, Path::new("/sys/fs/bpf/polc/web"));
        assert_eq!(dir.links(), Path::new("/sys/fs/bpf/polc/web/links"));
        assert_eq!(dir.state(), Path::new("/sys/fs/bpf/polc/web/state"));
        assert_eq!(
            PinDir::staging("web").root,
            Path::new("/sys/fs/bpf/polc/_next_web")
        );
        assert_eq!(dir.guarded_dirs().len(), 5);
    }
}
