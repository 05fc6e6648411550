//! An enforced policy as `polrt run` holds it: loaded now (the maps
//! written, the backends chosen, the guarded map filled, then everything
//! attached), or, with `--persist`, also pinned, or adopted from the pins a
//! previous run left, or loaded to replace them (the new programs attached
//! before the old links are removed, so that there is never a moment with
//! neither).
//!
//! Holds the links, the ring buffer, the counters and the runtime map; the
//! event loop and the reports are `run`'s.

use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use aya::maps::{Map, MapData, PerCpuArray, RingBuf};
use aya::Ebpf;
use polc_abi::{self as abi, Config, Metadata, CONFIG_MONITOR};

use crate::attach::{Attachments, PinnedPrograms, ProgramSource};
use crate::cgroup::Scope;
use crate::guard::{self, GuardState};
use crate::identity::IdentityMap;
use crate::lists::Lists;
use crate::loader::{self, HookPlan, LoadError};
use crate::object::PolicyObject;
use crate::output::{self, BackendReport};
use crate::persist::{self, HookState, PersistError, PinDir, ProgramState, ScopeState, State};
use crate::probe::{BpfLsm, KernelTypes};
use crate::Error;

/// What loading needs, gathered by `run`.
pub struct Setup<'a> {
    pub policy: &'a PolicyObject,
    pub types: &'a KernelTypes,
    pub ringbuf_bytes: Option<u32>,
    pub scope: Option<&'a Scope>,
    pub monitor: bool,
    pub require_lsm: bool,
    /// Where cgroup programs attach.
    pub cgroup_dir: &'a Path,
    /// polrt's tgid as the kernel sees it.
    pub tgid: u32,
    pub lsm: &'a BpfLsm,
    pub guard: &'a GuardState,
    pub features: u32,
    /// Where the policy's user and group names are resolved.
    pub accounts: &'a crate::run::AccountFiles,
    /// Whether several policies run: on LSM hooks each runs its reporting
    /// and refusing programs ([`abi::ProgramRole`]).
    pub several: bool,
}

impl Setup<'_> {
    /// What this run would enforce (see [`persist::Enforcement`]).
    fn enforcement(&self) -> persist::Enforcement {
        persist::Enforcement {
            object_sha256: persist::sha256(&self.policy.bytes),
            scope: self.scope.map(|s| (s.id, s.level)),
            monitor: self.monitor,
            ringbuf_bytes: self.ringbuf_bytes,
            guards: *self.guard == GuardState::On,
            split_lsm: self.several
                && self.lsm.unavailable().is_none()
                && self
                    .policy
                    .metadata
                    .programs
                    .iter()
                    .any(|p| p.role != abi::ProgramRole::Whole),
        }
    }
}

/// The programs a session attaches again when a link is detached: the
/// object it loaded, or the programs pinned by the run it adopted.
enum Programs {
    Loaded(Box<Ebpf>),
    Pinned(PinnedPrograms),
}

/// An enforced policy: its links, ring buffer, counters and runtime map.
pub struct Session {
    pub metadata: Metadata,
    // Declared before `programs`: links are closed before the programs'
    // descriptors (either order is safe: a link holds its program).
    pub attachments: Attachments,
    programs: Programs,
    pub ring: RingBuf<MapData>,
    /// How full `ring` is (`None` when it could not be mapped).
    pub ring_fill: Option<RingFill>,
    pub counters: PerCpuArray<MapData, u64>,
    runtime: MapData,
    /// One per hook, in the metadata's order.
    pub hooks: Vec<HookState>,
    /// Support programs attached.
    pub support: Vec<ProgramState>,
    pub guard: GuardState,
    /// The identities of the files the policy names by path, kept current
    /// by `run` (`None`: the policy names none).
    pub identities: Option<IdentityMap>,
    /// The list files feeding set maps, refilled in place by `run` when
    /// they change.
    pub lists: Lists,
    /// Where the session is pinned (`--persist`).
    pub pins: Option<PinDir>,
    /// How the session came to be, for the start-up line.
    pub origin: String,
}

impl Session {
    /// Loads and attaches the policy; with `pins`, also pins it there.
    pub fn load(setup: &Setup<'_>, pins: Option<&PinDir>) -> Result<Session, Error> {
        let metadata = &setup.policy.metadata;
        // Names first: a policy naming a user this node lacks creates nothing.
        let account_ids = loader::resolve_accounts(metadata, setup.accounts)?;
        let mut ebpf = loader::open(setup.policy, setup.types, setup.ringbuf_bytes)?;
        let config = Config {
            scope_cgroup: setup.scope.map_or(0, |s| s.id),
            scope_level: setup.scope.map_or(0, |s| s.level),
            flags: if setup.monitor { CONFIG_MONITOR } else { 0 },
        };
        loader::write_config(&ebpf, metadata, config)?;
        // polrt never decides for itself: a rule on its own output file, or
        // on bpf(), must not stop the runtime that enforces it.
        guard::write_runtime(
            loader::map_fd(&ebpf, abi::MAP_RUNTIME)?.as_raw_fd(),
            setup.tgid,
        )
        .map_err(|e| LoadError::MapWrite {
            map: abi::MAP_RUNTIME.into(),
            reason: e.to_string(),
        })?;
        loader::fill_sets(&ebpf, metadata)?;
        let lists = Lists::fill(&ebpf, metadata)?;
        loader::write_automata(&ebpf, metadata)?;
        loader::write_features(&ebpf, metadata, setup.features)?;
        loader::write_accounts(&ebpf, metadata, &account_ids)?;
        let guards = *setup.guard == GuardState::On;
        let (support, plans) = loader::choose_backends(
            &mut ebpf,
            metadata,
            setup.types,
            setup.features,
            setup.lsm,
            guards,
            setup.several,
        )?;
        if setup.require_lsm {
            loader::require_lsm(&plans)?;
        }
        // What the guards protect is known before anything is attached.
        let dirs = match pins {
            Some(pins) => {
                pins.create()?;
                pins.guarded_dirs()
            }
            None => Vec::new(),
        };
        let dirs: Vec<&Path> = dirs.iter().map(|d| d.as_path()).collect();
        guard::protect(
            loader::map_fd(&ebpf, abi::MAP_GUARDED)?.as_raw_fd(),
            &ebpf,
            &dirs,
        )?;

        let mut attachments = Attachments::new(setup.cgroup_dir);
        for program in &support {
            attachments.attach(&mut ebpf, &program.symbol, &program.section)?;
        }
        // Once every exec and fork keeps them: the processes already running.
        loader::fill_cmdlines(&ebpf, metadata)?;
        // Before the hook programs: a test on a file named by path holds
        // for that file under any name from the first event on.
        let identities = IdentityMap::fill(&ebpf, metadata)?;
        for plan in &plans {
            for program in &plan.programs {
                attachments.attach(&mut ebpf, &program.symbol, &program.section)?;
            }
        }
        let hooks: Vec<HookState> = plans.iter().map(hook_state).collect();
        let support: Vec<ProgramState> = support
            .iter()
            .map(|p| ProgramState {
                symbol: p.symbol.clone(),
                section: p.section.clone(),
            })
            .collect();
        if let Some(pins) = pins {
            persist::pin_maps(&ebpf, pins)?;
            let symbols = support
                .iter()
                .chain(hooks.iter().flat_map(|h| h.programs.iter()))
                .map(|p| p.symbol.as_str());
            persist::pin_programs(&mut ebpf, symbols, pins)?;
            attachments.pin_all(&pins.links())?;
        }
        let (ring, ring_fill) = ring_buffer(take_map(&mut ebpf, abi::MAP_EVENTS)?)?;
        let counters = counters(take_map(&mut ebpf, abi::MAP_COUNTERS)?)?;
        let runtime = map_data(take_map(&mut ebpf, abi::MAP_RUNTIME)?, abi::MAP_RUNTIME)?;
        Ok(Session {
            metadata: metadata.clone(),
            attachments,
            programs: Programs::Loaded(Box::new(ebpf)),
            ring,
            ring_fill,
            counters,
            runtime,
            hooks,
            support,
            guard: setup.guard.clone(),
            identities,
            lists,
            pins: pins.cloned(),
            origin: "loaded".to_string(),
        })
    }

    /// `--persist=NAME`: pins a new policy, adopts the pinned one when it
    /// enforces exactly what this run would, or replaces it (the new
    /// programs attached before the old links go). Events the old
    /// generation left in its ring buffer are written to `output`.
    pub fn persist(
        setup: &Setup<'_>,
        name: &str,
        output: &mut output::Output,
    ) -> Result<Session, Error> {
        let named = PinDir::named(name);
        let staging = PinDir::staging(name);
        if !named.exists() && staging.exists() {
            // A replacement was interrupted after the old generation went.
            staging.rename_to(&named)?;
        }
        if !named.exists() {
            let session = Session::load_pinned(setup, &named)?;
            return Ok(Session {
                origin: format!("pinned as `{name}` at {}", named.root.display()),
                ..session
            });
        }
        let old = persist::read_state(&named).map_err(|e| PersistError::Incomplete {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        let old_runtime = map_data(
            persist::open_map(&named, abi::MAP_RUNTIME)?,
            abi::MAP_RUNTIME,
        )?;
        let runtime_fd = guard::raw_fd(&old_runtime);
        let owner = guard::read_runtime(runtime_fd).map_err(|e| map_error(abi::MAP_RUNTIME, &e))?;
        if owner != 0 && owner != setup.tgid {
            return Err(persist::PersistError::Busy {
                name: name.to_string(),
                tgid: owner,
            }
            .into());
        }
        // From now on the old programs exempt this process too.
        guard::write_runtime(runtime_fd, setup.tgid)
            .map_err(|e| map_error(abi::MAP_RUNTIME, &e))?;
        if old.enforcement() == setup.enforcement() {
            if setup.require_lsm {
                let plans: Vec<HookPlan> = old.hooks.iter().map(hook_plan).collect();
                loader::require_lsm(&plans)?;
            }
            return Session::adopt(setup, &named, old);
        }
        if staging.exists() {
            staging.remove()?;
        }
        let (mut old_ring, _) = ring_buffer(persist::open_map(&named, abi::MAP_EVENTS)?)?;
        let mut session = Session::load_pinned(setup, &staging)?;
        // The new generation enforces: the old one goes (its links first).
        named.remove()?;
        // At most what a full ring buffer holds: a reload of a running
        // polrt still holds the old links (they go once this returns) and
        // drains the rest itself.
        let capacity = old
            .ringbuf_bytes
            .unwrap_or(polc::compile::DEFAULT_RINGBUF_BYTES) as usize
            / 8;
        let drained = crate::run::drain_some(&mut old_ring, &old.metadata, output, capacity);
        if let Err(error) = staging.rename_to(&named) {
            // The new generation is the only one left: it stays pinned (a
            // later run or `polrt stop` finds it under its staging name).
            session.attachments.release();
            return Err(error.into());
        }
        session.attachments.rebase_pins(&staging.root, &named.root);
        session.pins = Some(named.clone());
        session.origin = format!(
            "replaced the pinned generation of `{name}` (object {} by {}; the old programs were detached after the new ones attached; {drained} of its events drained)",
            short(&old.object_sha256),
            short(&setup.enforcement().object_sha256),
        );
        Ok(session)
    }

    /// Loads, attaches and pins at `dir`, and writes the state record; on
    /// failure nothing stays pinned there.
    fn load_pinned(setup: &Setup<'_>, dir: &PinDir) -> Result<Session, Error> {
        let loaded = Session::load(setup, Some(dir)).and_then(|session| {
            let state = session.state(setup, &dir.name);
            let id = persist::write_state(dir, &state)?;
            let guarded = persist::open_map(dir, abi::MAP_GUARDED)?;
            let key = abi::guarded_key(abi::GUARDED_MAP, 0, u64::from(id));
            guard::write_keys(guard::raw_fd(&map_data(guarded, abi::MAP_GUARDED)?), &[key])?;
            Ok(session)
        });
        if loaded.is_err() {
            let _ = dir.remove();
        }
        loaded
    }

    /// Adopts the generation pinned at `dir`, which enforces what this run
    /// would: its links, maps and programs as they are.
    fn adopt(setup: &Setup<'_>, dir: &PinDir, state: State) -> Result<Session, Error> {
        let incomplete = |e: Error| {
            Error::Persist(PersistError::Incomplete {
                name: dir.name.clone(),
                reason: e.to_string(),
            })
        };
        let mut attachments = Attachments::new(setup.cgroup_dir);
        for program in state.programs() {
            let path = dir.links().join(&program.symbol);
            attachments
                .adopt(&program.symbol, &program.section, &path)
                .map_err(|e| incomplete(e.into()))?;
        }
        let (ring, ring_fill) = ring_buffer(
            persist::open_map(dir, abi::MAP_EVENTS).map_err(|e| incomplete(e.into()))?,
        )?;
        let counters =
            counters(persist::open_map(dir, abi::MAP_COUNTERS).map_err(|e| incomplete(e.into()))?)?;
        let runtime = map_data(
            persist::open_map(dir, abi::MAP_RUNTIME).map_err(|e| incomplete(e.into()))?,
            abi::MAP_RUNTIME,
        )?;
        let identities = if state.metadata.identities.is_empty() {
            None
        } else {
            let map = map_data(
                persist::open_map(dir, abi::MAP_IDENTITIES).map_err(|e| incomplete(e.into()))?,
                abi::MAP_IDENTITIES,
            )?;
            let fd = map
                .fd()
                .as_fd()
                .try_clone_to_owned()
                .map_err(|e| map_error(abi::MAP_IDENTITIES, &e))?;
            IdentityMap::adopt(fd, &state.metadata)?
        };
        let lists = Lists::adopt(dir, &state.metadata).map_err(|e| incomplete(e.into()))?;
        Ok(Session {
            metadata: state.metadata,
            attachments,
            programs: Programs::Pinned(PinnedPrograms::new(dir.progs())),
            ring,
            ring_fill,
            counters,
            runtime,
            hooks: state.hooks,
            support: state.support,
            guard: match state.guard_off {
                None => GuardState::On,
                Some(why) => GuardState::Off(why),
            },
            identities,
            lists,
            pins: Some(dir.clone()),
            origin: format!(
                "adopted `{}` as pinned at {} since {} (same object, scope and mode; no program was detached or reloaded)",
                dir.name,
                dir.root.display(),
                state.pinned_at
            ),
        })
    }

    /// The state record of this session, as `--persist=name` pins it.
    fn state(&self, setup: &Setup<'_>, name: &str) -> State {
        State {
            format: persist::STATE_FORMAT,
            name: name.to_string(),
            policy: setup.policy.path.clone(),
            object_sha256: persist::sha256(&setup.policy.bytes),
            metadata: self.metadata.clone(),
            scope: setup.scope.map(|s| ScopeState {
                path: s.path.display().to_string(),
                id: s.id,
                level: s.level,
            }),
            monitor: setup.monitor,
            ringbuf_bytes: setup.ringbuf_bytes,
            hooks: self.hooks.clone(),
            support: self.support.clone(),
            guard_off: match &self.guard {
                GuardState::On => None,
                GuardState::Off(why) => Some(why.clone()),
            },
            pinned_at: now_rfc3339(),
        }
    }

    /// The backend each hook got, with program ids, for the reports.
    pub fn backend_reports(&self) -> Vec<BackendReport> {
        self.hooks
            .iter()
            .map(|hook| BackendReport {
                hook: hook.hook.clone(),
                backend: hook.backend.to_string(),
                deny_means: hook.deny_means.clone(),
                programs: hook
                    .programs
                    .iter()
                    .map(|p| (p.symbol.clone(), self.attachments.program_id(&p.symbol)))
                    .collect(),
                unavailable: hook
                    .unavailable
                    .iter()
                    .map(|(backend, why)| (backend.to_string(), why.clone()))
                    .collect(),
                limits: hook.limits.clone(),
            })
            .collect()
    }

    /// The hooks where the policy runs its reporting and refusing programs
    /// ([`abi::ProgramRole`]) in place of the whole ones.
    pub fn split_hooks(&self) -> impl Iterator<Item = &str> {
        self.hooks
            .iter()
            .filter(|h| h.programs.iter().any(|p| p.section.starts_with("fentry/")))
            .map(|h| h.hook.as_str())
    }

    /// The LSM guards attached, with program ids.
    pub fn guard_programs(&self) -> Vec<(String, u32)> {
        self.support
            .iter()
            .filter(|p| loader::lsm_hook(&p.section).is_some())
            .map(|p| (p.symbol.clone(), self.attachments.program_id(&p.symbol)))
            .collect()
    }

    /// Checks every link (see [`Attachments::check`]).
    pub fn check_links(&mut self) -> Vec<output::Tamper> {
        let programs: &mut dyn ProgramSource = match &mut self.programs {
            Programs::Loaded(ebpf) => ebpf.as_mut(),
            Programs::Pinned(pinned) => pinned,
        };
        self.attachments.check(programs)
    }

    /// Ends polrt's hold on the links: when pinned, leaves them in place
    /// (returns `(0, kept)`), otherwise detaches everything (returns
    /// `(detached, 0)`).
    pub fn finish(&mut self) -> (usize, usize) {
        if self.pins.is_some() {
            (0, self.attachments.release())
        } else {
            (self.attachments.detach_all(), 0)
        }
    }

    /// Clears polrt's tgid from the runtime map: its last act, as it no
    /// longer is exempt from pinned programs afterwards (the exit guard
    /// would clear it anyway when polrt exits).
    pub fn clear_runtime(&self) {
        let _ = guard::write_runtime(guard::raw_fd(&self.runtime), 0);
    }
}

fn hook_state(plan: &HookPlan) -> HookState {
    HookState {
        hook: plan.hook.clone(),
        backend: plan.backend,
        deny_means: plan.deny_means.clone(),
        unavailable: plan.unavailable.clone(),
        limits: plan.limits.clone(),
        programs: plan
            .programs
            .iter()
            .map(|p| ProgramState {
                symbol: p.symbol.clone(),
                section: p.section.clone(),
            })
            .collect(),
    }
}

/// The plan a pinned hook was given (without its programs' metadata).
fn hook_plan(hook: &HookState) -> HookPlan {
    HookPlan {
        hook: hook.hook.clone(),
        backend: hook.backend,
        deny_means: hook.deny_means.clone(),
        programs: Vec::new(),
        unavailable: hook.unavailable.clone(),
        limits: hook.limits.clone(),
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Now, RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    output::rfc3339(now)
}

fn map_error(map: &str, error: &dyn std::fmt::Display) -> Error {
    Error::Load(LoadError::MapWrite {
        map: map.to_string(),
        reason: error.to_string(),
    })
}

fn take_map(ebpf: &mut Ebpf, name: &str) -> Result<Map, Error> {
    ebpf.take_map(name)
        .ok_or_else(|| LoadError::MissingMap(name.into()).into())
}

fn open_error(name: &str, error: &dyn std::error::Error) -> Error {
    Error::Load(LoadError::Open(format!(
        "{name}: {}",
        loader::error_chain(error)
    )))
}

fn ring_buffer(map: Map) -> Result<(RingBuf<MapData>, Option<RingFill>), Error> {
    let fill = match &map {
        Map::RingBuf(data) => RingFill::new(data),
        _ => None,
    };
    let ring = RingBuf::try_from(map).map_err(|e| open_error(abi::MAP_EVENTS, &e))?;
    Ok((ring, fill))
}

/// How full a ring buffer is: the kernel's consumer and producer positions,
/// read from a read-only mapping of the map's first two pages (the kernel
/// lets any holder of the map's descriptor map them read-only; aya keeps
/// its own mapping and does not expose them).
pub struct RingFill {
    base: std::ptr::NonNull<libc::c_void>,
    page: usize,
    size: u64,
}

// SAFETY: the mapping is read-only and only read with atomic loads; it
// lives as long as the value, which owns it.
unsafe impl Send for RingFill {}

impl RingFill {
    /// Maps the position pages of the ring buffer `data`; `None` if the
    /// kernel refuses (then the fill is not reported).
    fn new(data: &MapData) -> Option<RingFill> {
        let size = u64::from(data.info().ok()?.max_entries());
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
        // SAFETY: a new shared read-only mapping of two pages of the map's
        // descriptor, which stays open while the mapping is made; the
        // mapping stays valid after the descriptor is closed.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ,
                libc::MAP_SHARED,
                data.fd().as_fd().as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        Some(RingFill {
            base: std::ptr::NonNull::new(base)?,
            page,
            size,
        })
    }

    /// Bytes written by the programs and not yet read by polrt (records
    /// reserved but not yet committed included).
    pub fn used(&self) -> u64 {
        // SAFETY: both positions are naturally aligned u64s at the start of
        // the mapping's two pages, written by the kernel with atomic
        // stores; they are only read here, atomically.
        let (consumer, producer) = unsafe {
            let consumer = &*(self.base.as_ptr() as *const std::sync::atomic::AtomicU64);
            let producer = &*(self.base.as_ptr().cast::<u8>().add(self.page)
                as *const std::sync::atomic::AtomicU64);
            (
                consumer.load(std::sync::atomic::Ordering::Acquire),
                producer.load(std::sync::atomic::Ordering::Acquire),
            )
        };
        producer.saturating_sub(consumer)
    }

    /// The ring buffer's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for RingFill {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made, once.
        unsafe { libc::munmap(self.base.as_ptr(), 2 * self.page) };
    }
}

fn counters(map: Map) -> Result<PerCpuArray<MapData, u64>, Error> {
    PerCpuArray::try_from(map).map_err(|e| open_error(abi::MAP_COUNTERS, &e))
}

fn map_data(map: Map, name: &str) -> Result<MapData, Error> {
    match map {
        Map::Array(data) | Map::HashMap(data) => Ok(data),
        _ => Err(LoadError::MissingMap(name.into()).into()),
    }
}
