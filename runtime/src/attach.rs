//! Attaching loaded programs, and owning the links: [`Attachments`] holds
//! every link it made or adopted, pins them when asked, watches them, and
//! detaches them all (newest first, removing their pins) when dropped or on
//! [`Attachments::detach_all`] — unless [`Attachments::release`] handed
//! them to their pins (`--persist`). A failed attach leaves nothing
//! attached: the caller drops the `Attachments`, which detaches what was
//! attached.
//!
//! Attach targets come from the section name: `lsm/HOOK` (and the sleepable
//! `lsm.s/HOOK`), `tp_btf/NAME`, `tracepoint/CATEGORY/NAME`,
//! `cgroup/connect4|6|bind4|6` (on the scope's cgroup directory, or the
//! cgroup v2 root).
//!
//! Every link is a BPF link (`bpf_link`, an [`FdLink`]) on the kernels polrt
//! supports, which is what lets it be pinned and watched: LSM and `tp_btf`
//! programs attach through `BPF_RAW_TRACEPOINT_OPEN`, cgroup programs
//! through `BPF_LINK_CREATE` (5.7+), tracepoint programs through a perf
//! event and `BPF_LINK_CREATE` (5.15+; before, aya falls back to
//! `PERF_EVENT_IOC_SET_BPF`, a link that can be neither pinned nor watched,
//! and polrt says so).
//!
//! [`Attachments::check`] is the watch: a link whose program was replaced
//! (`BPF_LINK_UPDATE`), that was detached (`BPF_LINK_DETACH`, which the
//! kernel allows for cgroup links only) or whose pin was removed or
//! replaced is reported ([`Tamper`], plain data that `output` renders),
//! and repaired when possible. Must not depend on output formats.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use aya::programs::links::FdLink;
use aya::programs::trace_point::TracePointLink;
use aya::programs::{
    BtfTracePoint, CgroupAttachMode, CgroupSockAddr, CgroupSockAddrAttachType, FEntry, Lsm,
    Program, ProgramError, TracePoint,
};
use aya::Ebpf;

use crate::loader::{self, error_chain, lsm_hook};
use crate::output::Tamper;

/// Why a program could not be attached, pinned or adopted.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("the object has no program `{0}`")]
    MissingProgram(String),
    #[error("program `{symbol}` has section `{section}`, which polrt cannot attach")]
    UnknownSection { symbol: String, section: String },
    #[error("cannot open cgroup `{path}` to attach `{symbol}`: {source}")]
    Cgroup {
        symbol: String,
        path: String,
        source: std::io::Error,
    },
    #[error("attaching `{symbol}` ({section}): {error}")]
    Attach {
        symbol: String,
        section: String,
        error: String,
    },
    #[error("pinning the link of `{symbol}` at {path}: {error}")]
    Pin {
        symbol: String,
        path: String,
        error: String,
    },
    #[error(
        "the link of `{symbol}` ({section}) cannot be pinned: this kernel attaches tracepoint programs through perf events without BPF links (before 5.15); run without --persist"
    )]
    NotPinnable { symbol: String, section: String },
    #[error("adopting the pinned link {path}: {error}")]
    Adopt { path: String, error: String },
}

/// Where [`Attachments`] finds a program to attach (again): a freshly
/// loaded object, or programs opened from their pins.
pub trait ProgramSource {
    /// The loaded program `symbol` of `section`, if there is one.
    fn program(&mut self, symbol: &str, section: &str) -> Option<&mut Program>;
}

impl ProgramSource for Ebpf {
    fn program(&mut self, symbol: &str, _section: &str) -> Option<&mut Program> {
        self.program_mut(symbol)
    }
}

/// Programs opened from their pins (`DIR/SYMBOL`), on first use.
pub struct PinnedPrograms {
    dir: PathBuf,
    programs: Vec<(String, Program)>,
}

impl PinnedPrograms {
    /// Programs pinned in `dir`.
    pub fn new(dir: PathBuf) -> PinnedPrograms {
        PinnedPrograms {
            dir,
            programs: Vec::new(),
        }
    }
}

impl ProgramSource for PinnedPrograms {
    fn program(&mut self, symbol: &str, section: &str) -> Option<&mut Program> {
        if !self.programs.iter().any(|(s, _)| s == symbol) {
            let program = program_from_pin(&self.dir.join(symbol), section).ok()?;
            self.programs.push((symbol.to_string(), program));
        }
        self.programs
            .iter_mut()
            .find(|(s, _)| s == symbol)
            .map(|(_, p)| p)
    }
}

/// The program pinned at `path`, typed after its `section`.
fn program_from_pin(path: &Path, section: &str) -> Result<Program, ProgramError> {
    if lsm_hook(section).is_some() {
        Ok(Program::Lsm(Lsm::from_pin(path)?))
    } else if section.starts_with("fentry/") {
        Ok(Program::FEntry(FEntry::from_pin(path)?))
    } else if section.starts_with("tp_btf/") {
        Ok(Program::BtfTracePoint(BtfTracePoint::from_pin(path)?))
    } else if section.starts_with("tracepoint/") {
        Ok(Program::TracePoint(TracePoint::from_pin(path)?))
    } else if let Some(kind) = cgroup_attach_type(section) {
        Ok(Program::CgroupSockAddr(CgroupSockAddr::from_pin(
            path, kind,
        )?))
    } else {
        Err(ProgramError::UnexpectedProgramType)
    }
}

/// The attach type of a `cgroup/...` section polrt knows.
fn cgroup_attach_type(section: &str) -> Option<CgroupSockAddrAttachType> {
    Some(match section.strip_prefix("cgroup/")? {
        "connect4" => CgroupSockAddrAttachType::Connect4,
        "connect6" => CgroupSockAddrAttachType::Connect6,
        "bind4" => CgroupSockAddrAttachType::Bind4,
        "bind6" => CgroupSockAddrAttachType::Bind6,
        _ => return None,
    })
}

/// An owned link.
enum Link {
    /// A BPF link, by a descriptor of our own: pinnable and watchable.
    Bpf(OwnedFd),
    /// A perf event tracepoint attachment of an old kernel.
    Perf(#[expect(dead_code, reason = "held: dropping it detaches the program")] TracePointLink),
}

impl Link {
    /// The descriptor of a BPF link.
    fn fd(&self) -> Option<RawFd> {
        match self {
            Link::Bpf(fd) => Some(fd.as_raw_fd()),
            Link::Perf(_) => None,
        }
    }
}

/// A descriptor of our own for aya's `link` (aya keeps its descriptor
/// private): the same kernel link, reopened by id; aya's is then closed.
fn own(link: FdLink) -> Result<OwnedFd, String> {
    let id = link.info().map_err(|e| error_chain(&e))?.id();
    loader::link_fd_by_id(id).map_err(|e| format!("reopening link {id}: {e}"))
}

/// One attached program.
struct Attached {
    symbol: String,
    section: String,
    link: Link,
    /// The program the link must run.
    prog_id: u32,
    /// Where the link is pinned.
    pin: Option<PathBuf>,
}

/// Every link polrt made or adopted, detached when dropped (unless
/// released).
pub struct Attachments {
    links: Vec<Attached>,
    /// Where cgroup programs attach.
    cgroup: PathBuf,
}

impl Attachments {
    /// No links yet; cgroup programs will attach to `cgroup`.
    pub fn new(cgroup: &Path) -> Attachments {
        Attachments {
            links: Vec::new(),
            cgroup: cgroup.to_path_buf(),
        }
    }

    /// Number of attached programs.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether nothing is attached.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// The id of the program attached as `symbol` (0 if none).
    pub fn program_id(&self, symbol: &str) -> u32 {
        self.links
            .iter()
            .find(|a| a.symbol == symbol)
            .map_or(0, |a| a.prog_id)
    }

    /// The kernel id of the link of `symbol` (0 if none or not a BPF link).
    pub fn link_id(&self, symbol: &str) -> u32 {
        self.links
            .iter()
            .find(|a| a.symbol == symbol)
            .and_then(|a| a.link.fd())
            .and_then(|fd| loader::link_state(fd).ok())
            .map_or(0, |state| state.id)
    }

    /// Attaches the (loaded) program `symbol` of `section` from `programs`.
    pub fn attach(
        &mut self,
        programs: &mut dyn ProgramSource,
        symbol: &str,
        section: &str,
    ) -> Result<(), AttachError> {
        let (link, prog_id) = self.new_link(programs, symbol, section)?;
        self.links.push(Attached {
            symbol: symbol.to_string(),
            section: section.to_string(),
            link,
            prog_id,
            pin: None,
        });
        Ok(())
    }

    fn new_link(
        &self,
        programs: &mut dyn ProgramSource,
        symbol: &str,
        section: &str,
    ) -> Result<(Link, u32), AttachError> {
        let program = programs
            .program(symbol, section)
            .ok_or_else(|| AttachError::MissingProgram(symbol.to_string()))?;
        let failed = |error: ProgramError| AttachError::Attach {
            symbol: symbol.to_string(),
            section: section.to_string(),
            error: error_chain(&error),
        };
        let owned = |link: FdLink| {
            own(link)
                .map(Link::Bpf)
                .map_err(|error| AttachError::Attach {
                    symbol: symbol.to_string(),
                    section: section.to_string(),
                    error,
                })
        };
        let unknown = || AttachError::UnknownSection {
            symbol: symbol.to_string(),
            section: section.to_string(),
        };
        let prog_id = program.info().map_err(failed)?.id();
        let link = match program {
            Program::Lsm(p) => {
                let id = p.attach().map_err(failed)?;
                owned(p.take_link(id).map_err(failed)?.into())?
            }
            Program::FEntry(p) => {
                let id = p.attach().map_err(failed)?;
                owned(p.take_link(id).map_err(failed)?.into())?
            }
            Program::BtfTracePoint(p) => {
                let id = p.attach().map_err(failed)?;
                owned(p.take_link(id).map_err(failed)?.into())?
            }
            Program::TracePoint(p) => {
                let target = section
                    .strip_prefix("tracepoint/")
                    .and_then(|rest| rest.split_once('/'))
                    .ok_or_else(unknown)?;
                let id = p.attach(target.0, target.1).map_err(failed)?;
                let link = p.take_link(id).map_err(failed)?;
                // A BPF link on 5.15+; a perf event attachment before.
                match FdLink::try_from(link) {
                    Ok(link) => owned(link)?,
                    Err(_) => {
                        let id = p.attach(target.0, target.1).map_err(failed)?;
                        Link::Perf(p.take_link(id).map_err(failed)?)
                    }
                }
            }
            Program::CgroupSockAddr(p) => {
                let dir = File::open(&self.cgroup).map_err(|source| AttachError::Cgroup {
                    symbol: symbol.to_string(),
                    path: self.cgroup.display().to_string(),
                    source,
                })?;
                // On kernels with BPF links (5.7+), `Single` creates a link
                // with no flags: it coexists with every other program
                // attached to the cgroup and is detached with the link.
                let id = p.attach(&dir, CgroupAttachMode::Single).map_err(failed)?;
                let link = p.take_link(id).map_err(failed)?;
                owned(FdLink::try_from(link).map_err(|e| AttachError::Attach {
                    symbol: symbol.to_string(),
                    section: section.to_string(),
                    error: format!("not a BPF link (kernel before 5.7?): {e}"),
                })?)?
            }
            _ => return Err(unknown()),
        };
        Ok((link, prog_id))
    }

    /// Adopts the link pinned at `path` (`--persist`, a later run): it is
    /// watched, and removed with its pin by [`Attachments::detach_all`].
    pub fn adopt(&mut self, symbol: &str, section: &str, path: &Path) -> Result<(), AttachError> {
        let failed = |error: String| AttachError::Adopt {
            path: path.display().to_string(),
            error,
        };
        let fd = loader::obj_get(path).map_err(|e| failed(e.to_string()))?;
        let state = loader::link_state(fd.as_raw_fd()).map_err(|e| failed(e.to_string()))?;
        self.links.push(Attached {
            symbol: symbol.to_string(),
            section: section.to_string(),
            link: Link::Bpf(fd),
            prog_id: state.prog_id,
            pin: Some(path.to_path_buf()),
        });
        Ok(())
    }

    /// Pins every link not pinned yet at `dir/SYMBOL`.
    pub fn pin_all(&mut self, dir: &Path) -> Result<(), AttachError> {
        for attached in &mut self.links {
            if attached.pin.is_some() {
                continue;
            }
            let Some(fd) = attached.link.fd() else {
                return Err(AttachError::NotPinnable {
                    symbol: attached.symbol.clone(),
                    section: attached.section.clone(),
                });
            };
            let path = dir.join(&attached.symbol);
            loader::obj_pin(fd, &path).map_err(|e| AttachError::Pin {
                symbol: attached.symbol.clone(),
                path: path.display().to_string(),
                error: e.to_string(),
            })?;
            attached.pin = Some(path);
        }
        Ok(())
    }

    /// Moves the recorded pins from under `from` to under `to` (after the
    /// directory holding them was renamed).
    pub fn rebase_pins(&mut self, from: &Path, to: &Path) {
        for attached in &mut self.links {
            if let Some(pin) = &attached.pin {
                if let Ok(rest) = pin.strip_prefix(from) {
                    attached.pin = Some(to.join(rest));
                }
            }
        }
    }

    /// Detaches everything, newest first, removing the pins; returns how
    /// many links it dropped.
    pub fn detach_all(&mut self) -> usize {
        let n = self.links.len();
        while let Some(attached) = self.links.pop() {
            if let Some(pin) = &attached.pin {
                let _ = std::fs::remove_file(pin);
            }
            // Closing the last reference to a link detaches its program.
            drop(attached);
        }
        n
    }

    /// Closes every link without detaching the pinned ones: their pins keep
    /// them (and their programs) in the kernel; links that are not pinned
    /// are detached. Returns how many stay.
    pub fn release(&mut self) -> usize {
        let kept = self.links.iter().filter(|a| a.pin.is_some()).count();
        self.links.clear();
        kept
    }

    /// Checks every link: it must still run its program, be attached (a
    /// cgroup link) and be where it was pinned. Repairs what it can, with
    /// programs from `programs`; returns what it found.
    pub fn check(&mut self, programs: &mut dyn ProgramSource) -> Vec<Tamper> {
        (0..self.links.len())
            .filter_map(|index| self.check_one(index, programs))
            .collect()
    }

    fn check_one(&mut self, index: usize, programs: &mut dyn ProgramSource) -> Option<Tamper> {
        let attached = &self.links[index];
        let fd = attached.link.fd()?;
        let (symbol, section) = (attached.symbol.clone(), attached.section.clone());
        let tamper = |problem: String, outcome: Result<String, String>| Tamper {
            symbol: symbol.clone(),
            section: section.clone(),
            problem,
            repaired: outcome.is_ok(),
            outcome: outcome.unwrap_or_else(|why| why),
        };
        let state = match loader::link_state(fd) {
            Ok(state) => state,
            Err(error) => {
                return Some(tamper(
                    format!("its link cannot be read: {error}"),
                    Err("nothing polrt can do".into()),
                ))
            }
        };
        if state.prog_id != attached.prog_id {
            let problem = format!(
                "its link (id {}) was made to run program {} instead (BPF_LINK_UPDATE)",
                state.id, state.prog_id
            );
            let expected = attached.prog_id;
            let restored = programs
                .program(&symbol, &section)
                .ok_or_else(|| "its program is not available".to_string())
                .and_then(|p| {
                    p.fd()
                        .map_err(|e| e.to_string())
                        .map(|prog| prog.as_fd().as_raw_fd())
                })
                .and_then(|prog_fd| loader::link_update(fd, prog_fd).map_err(|e| e.to_string()));
            return Some(tamper(
                problem,
                restored
                    .map(|()| format!("restored: the link runs program {expected} again"))
                    .map_err(|why| format!("not restored: {why}")),
            ));
        }
        if state.link_type == loader::LINK_TYPE_CGROUP && state.cgroup_id == 0 {
            let problem = format!("its link (id {}) was detached (BPF_LINK_DETACH)", state.id);
            let outcome = self.reattach(index, programs);
            return Some(tamper(problem, outcome));
        }
        let pin = self.links[index].pin.clone()?;
        let pinned_id = loader::obj_get(&pin)
            .ok()
            .and_then(|pinned| loader::link_state(pinned.as_raw_fd()).ok())
            .map(|s| s.id);
        if pinned_id == Some(state.id) {
            return None;
        }
        let problem = match pinned_id {
            None => format!("its pin {} was removed", pin.display()),
            Some(other) => format!("its pin {} holds link {other} instead", pin.display()),
        };
        let outcome = self
            .repin(index)
            .map(|()| format!("pinned again at {}", pin.display()))
            .map_err(|why| format!("not pinned again: {why}"));
        Some(tamper(problem, outcome))
    }

    /// Replaces link `index` by a new one of the same program (pinned where
    /// the old one was).
    fn reattach(
        &mut self,
        index: usize,
        programs: &mut dyn ProgramSource,
    ) -> Result<String, String> {
        let symbol = self.links[index].symbol.clone();
        let section = self.links[index].section.clone();
        let (link, prog_id) = self
            .new_link(programs, &symbol, &section)
            .map_err(|e| format!("not attached again: {e}"))?;
        let old = std::mem::replace(&mut self.links[index].link, link);
        self.links[index].prog_id = prog_id;
        drop(old);
        self.repin(index)
            .map_err(|why| format!("attached again, but not pinned again: {why}"))?;
        Ok(format!("attached again as link {}", self.link_id(&symbol)))
    }

    /// Pins link `index` again where it was pinned (removing whatever is
    /// there now).
    fn repin(&mut self, index: usize) -> Result<(), String> {
        let attached = &self.links[index];
        let (Some(path), Some(fd)) = (attached.pin.clone(), attached.link.fd()) else {
            return Ok(());
        };
        let _ = std::fs::remove_file(&path);
        loader::obj_pin(fd, &path).map_err(|e| e.to_string())
    }
}

impl Drop for Attachments {
    fn drop(&mut self) {
        self.detach_all();
    }
}
