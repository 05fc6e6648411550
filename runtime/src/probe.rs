//! What the running kernel and this process can do, checked before anything
//! is loaded: privileges (CAP_BPF/CAP_PERFMON or CAP_SYS_ADMIN), the kernel's
//! BTF (parsed both by aya for loading and by [`crate::btf`] for the
//! member check), and the tracefs and bpffs mounts (mounted when absent).
//!
//! Which backend each hook gets is decided in [`crate::loader`] by loading
//! its programs: the load itself is the probe. What a program type may do
//! beyond loading (e.g. cgroup programs sending signals) is probed here,
//! with libbpf's method (aya's `is_helper_supported`), and handed to the
//! programs through the features map ([`kernel_features`]). Must not depend
//! on the output format.

use std::path::Path;

use crate::btf::{BtfError, KernelBtf};

/// Where the kernel exposes its BTF.
pub const KERNEL_BTF: &str = "/sys/kernel/btf/vmlinux";
/// Where tracefs is mounted (tracepoint programs attach through it).
pub const TRACEFS: &str = "/sys/kernel/tracing";
/// Where bpffs is mounted.
pub const BPFFS: &str = "/sys/fs/bpf";

const CAP_SYS_ADMIN: u32 = 21;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// Why the host cannot run a policy.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(
        "polrt needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN) to load BPF programs; this process has {missing}"
    )]
    NotPrivileged { missing: String },
    #[error("this kernel has no BTF ({KERNEL_BTF}: {source}); polc objects need a kernel built with CONFIG_DEBUG_INFO_BTF=y")]
    NoBtf { source: std::io::Error },
    #[error("the kernel's BTF ({KERNEL_BTF}) cannot be read: {0}")]
    BadBtf(String),
    #[error("probing which helpers {program_type} programs may call failed: {reason}")]
    Features {
        program_type: &'static str,
        reason: String,
    },
    #[error("{what} is not mounted at {path} and mounting it failed: {source}")]
    Mount {
        what: &'static str,
        path: &'static str,
        source: std::io::Error,
    },
}

/// The kernel's BTF, as aya needs it and as the member check needs it.
pub struct KernelTypes {
    pub aya: aya::Btf,
    pub members: KernelBtf,
}

/// Reads the kernel's BTF.
pub fn kernel_btf() -> Result<KernelTypes, ProbeError> {
    let bytes = std::fs::read(KERNEL_BTF).map_err(|source| ProbeError::NoBtf { source })?;
    let members =
        KernelBtf::parse(&bytes).map_err(|e: BtfError| ProbeError::BadBtf(e.to_string()))?;
    let aya = aya::Btf::parse(&bytes, aya::Endianness::default())
        .map_err(|e| ProbeError::BadBtf(e.to_string()))?;
    Ok(KernelTypes { aya, members })
}

/// The `FEATURE_*` bits of [`polc_abi::MAP_FEATURES`] this kernel allows.
pub fn kernel_features() -> Result<u32, ProbeError> {
    use aya::programs::ProgramType;
    use aya::sys::{is_helper_supported, BpfHelper};
    let cgroup_signal =
        is_helper_supported(ProgramType::CgroupSockAddr, BpfHelper::BPF_FUNC_send_signal).map_err(
            |e| ProbeError::Features {
                program_type: "cgroup sock_addr",
                reason: crate::loader::error_chain(&e),
            },
        )?;
    Ok(if cgroup_signal {
        polc_abi::FEATURE_CGROUP_SIGNAL
    } else {
        0
    })
}

/// Parses the `CapEff:` line of `/proc/self/status` text.
pub fn effective_caps(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
}

/// Which required capabilities `caps` lacks (empty: enough to run).
pub fn missing_caps(caps: u64) -> Vec<&'static str> {
    let has = |bit: u32| caps & (1u64 << bit) != 0;
    if has(CAP_SYS_ADMIN) {
        return Vec::new();
    }
    let mut missing = Vec::new();
    if !has(CAP_BPF) {
        missing.push("CAP_BPF");
    }
    if !has(CAP_PERFMON) {
        missing.push("CAP_PERFMON");
    }
    missing
}

/// Checks this process may load and attach programs.
pub fn check_privileges() -> Result<(), ProbeError> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let caps = effective_caps(&status).unwrap_or(0);
    let missing = missing_caps(caps);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ProbeError::NotPrivileged {
            missing: format!("neither CAP_SYS_ADMIN nor {}", missing.join(" nor ")),
        })
    }
}

/// Whether `mountinfo` text lists a mount of `fstype` at `path`.
pub fn is_mounted(mountinfo: &str, fstype: &str, path: &str) -> bool {
    mountinfo.lines().any(|line| {
        let Some((left, right)) = line.split_once(" - ") else {
            return false;
        };
        right.split_whitespace().next() == Some(fstype)
            && left.split_whitespace().nth(4) == Some(path)
    })
}

/// Mounts tracefs and bpffs where they are expected, when they are not.
/// Returns a note per file system mounted.
pub fn ensure_mounts() -> Result<Vec<String>, ProbeError> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut notes = Vec::new();
    for (what, fstype, path) in [("tracefs", "tracefs", TRACEFS), ("bpffs", "bpf", BPFFS)] {
        if is_mounted(&mountinfo, fstype, path) {
            continue;
        }
        if fstype == "tracefs" && Path::new(TRACEFS).join("events").is_dir() {
            continue;
        }
        mount(fstype, path).map_err(|source| ProbeError::Mount { what, path, source })?;
        notes.push(format!("mounted {what} at {path}"));
    }
    Ok(notes)
}

fn mount(fstype: &str, path: &str) -> std::io::Result<()> {
    use std::ffi::CString;
    let to_c = |s: &str| CString::new(s).map_err(std::io::Error::other);
    let (source, target, fs) = (to_c(fstype)?, to_c(path)?, to_c(fstype)?);
    // SAFETY: every pointer is a valid NUL-terminated string; no data.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fs.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_come_from_cap_eff() {
        let status = "Name:\tpolrt\nCapPrm:\t0\nCapEff:\t000001fffeffffff\n";
        let caps = effective_caps(status).expect("parsed");
        assert_eq!(caps, 0x1ff_feff_ffff);
        assert!(missing_caps(caps).is_empty());
        assert_eq!(missing_caps(0), vec!["CAP_BPF", "CAP_PERFMON"]);
        assert_eq!(missing_caps(1 << CAP_BPF), vec!["CAP_PERFMON"]);
        assert!(missing_caps((1 << CAP_BPF) | (1 << CAP_PERFMON)).is_empty());
        assert!(missing_caps(1 << CAP_SYS_ADMIN).is_empty());
        assert_eq!(effective_caps("Name: x\n"), None);
    }

    #[test]
    fn mounts_are_found_by_type_and_path() {
        let info = "\
35 24 0:30 / /sys/kernel/tracing rw,relatime shared:15 - tracefs none rw
36 24 0:31 / /sys/fs/bpf rw,relatime shared:16 - bpf bpf rw
";
        assert!(is_mounted(info, "tracefs", TRACEFS));
        assert!(is_mounted(info, "bpf", BPFFS));
        assert!(!is_mounted(info, "bpf", TRACEFS));
        assert!(!is_mounted("", "tracefs", TRACEFS));
    }
}
