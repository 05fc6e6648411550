//! Attaching loaded programs, and owning the links: [`Attachments`] holds
//! every link it made and detaches them all (newest first) when dropped or
//! on [`Attachments::detach_all`]. A failed attach leaves nothing attached:
//! the caller drops the `Attachments`, which detaches what was attached.
//!
//! Attach targets come from the section name: `lsm/HOOK`, `tp_btf/NAME`,
//! `tracepoint/CATEGORY/NAME`, `cgroup/connect4|6` (on the scope's cgroup
//! directory, or the cgroup v2 root). Must not depend on output formats.

use std::fs::File;
use std::path::Path;

use aya::programs::cgroup_sock_addr::CgroupSockAddrLink;
use aya::programs::lsm::LsmLink;
use aya::programs::tp_btf::BtfTracePointLink;
use aya::programs::trace_point::TracePointLink;
use aya::programs::{CgroupAttachMode, Program, ProgramError};
use aya::Ebpf;
use polc_abi::ProgramMeta;

use crate::loader::error_chain;

/// Why a program could not be attached.
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
}

/// An owned link; dropping it detaches the program.
enum Link {
    Lsm(LsmLink),
    BtfTracePoint(BtfTracePointLink),
    TracePoint(TracePointLink),
    CgroupSockAddr(CgroupSockAddrLink),
}

/// Every link polrt made, detached when dropped.
#[derive(Default)]
pub struct Attachments {
    links: Vec<(String, Link)>,
}

impl Attachments {
    /// No links yet.
    pub fn new() -> Attachments {
        Attachments::default()
    }

    /// Number of attached programs.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether nothing is attached.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// Attaches `meta`'s (loaded) program; cgroup programs attach to `cgroup`.
    pub fn attach(
        &mut self,
        ebpf: &mut Ebpf,
        meta: &ProgramMeta,
        cgroup: &Path,
    ) -> Result<(), AttachError> {
        let program = ebpf
            .program_mut(&meta.symbol)
            .ok_or_else(|| AttachError::MissingProgram(meta.symbol.clone()))?;
        let failed = |error: ProgramError| AttachError::Attach {
            symbol: meta.symbol.clone(),
            section: meta.section.clone(),
            error: error_chain(&error),
        };
        let unknown = || AttachError::UnknownSection {
            symbol: meta.symbol.clone(),
            section: meta.section.clone(),
        };
        let link = match program {
            Program::Lsm(p) => {
                let id = p.attach().map_err(failed)?;
                Link::Lsm(p.take_link(id).map_err(failed)?)
            }
            Program::BtfTracePoint(p) => {
                let id = p.attach().map_err(failed)?;
                Link::BtfTracePoint(p.take_link(id).map_err(failed)?)
            }
            Program::TracePoint(p) => {
                let target = meta
                    .section
                    .strip_prefix("tracepoint/")
                    .and_then(|rest| rest.split_once('/'))
                    .ok_or_else(unknown)?;
                let id = p.attach(target.0, target.1).map_err(failed)?;
                Link::TracePoint(p.take_link(id).map_err(failed)?)
            }
            Program::CgroupSockAddr(p) => {
                let dir = File::open(cgroup).map_err(|source| AttachError::Cgroup {
                    symbol: meta.symbol.clone(),
                    path: cgroup.display().to_string(),
                    source,
                })?;
                // On kernels with BPF links (5.7+), `Single` creates a link
                // with no flags: it coexists with every other program
                // attached to the cgroup and is detached with the link.
                let id = p.attach(&dir, CgroupAttachMode::Single).map_err(failed)?;
                Link::CgroupSockAddr(p.take_link(id).map_err(failed)?)
            }
            _ => return Err(unknown()),
        };
        self.links.push((meta.symbol.clone(), link));
        Ok(())
    }

    /// Detaches everything, newest first; returns how many links it dropped.
    pub fn detach_all(&mut self) -> usize {
        let n = self.links.len();
        while let Some((_, link)) = self.links.pop() {
            // Dropping an owned aya link detaches its program.
            match link {
                Link::Lsm(link) => drop(link),
                Link::BtfTracePoint(link) => drop(link),
                Link::TracePoint(link) => drop(link),
                Link::CgroupSockAddr(link) => drop(link),
            }
        }
        n
    }
}

impl Drop for Attachments {
    fn drop(&mut self) {
        self.detach_all();
    }
}
