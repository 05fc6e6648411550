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
    #[error("cannot learn polrt's own process id as the kernel sees it (BPF_PROG_TEST_RUN of a raw tracepoint program): {reason}")]
    SelfTgid { reason: String },
    #[error("{what} is not mounted at {path} and mounting it failed: {source}")]
    Mount {
        what: &'static str,
        path: &'static str,
        source: std::io::Error,
    },
}

/// The kernel's BTF, as aya needs it and as the member check needs it, and
/// the one object loader of the process.
pub struct KernelTypes {
    /// aya's parse of the kernel's BTF: one per process ([`kernel_btf`]),
    /// which the loader uses too.
    pub aya: &'static aya::Btf,
    pub members: KernelBtf,
    /// aya 0.14's `EbpfLoader::new` reads and parses the kernel's BTF every
    /// time it is called (about as long as verifying a small policy), so
    /// every object of the process goes through this one, which is given
    /// [`KernelTypes::aya`] (see [`loader_without_btf`]).
    loader: std::sync::Mutex<aya::EbpfLoader<'static>>,
}

impl KernelTypes {
    /// Parses and relocates `bytes` against the kernel's BTF and creates
    /// its maps (no program is loaded); map `events` gets `ringbuf_bytes`
    /// entries when given.
    pub fn load_object(
        &self,
        bytes: &[u8],
        ringbuf_bytes: Option<u32>,
    ) -> Result<aya::Ebpf, aya::EbpfError> {
        // A panic while loading leaves the loader as it was: it keeps no
        // state of a load.
        let mut loader = self
            .loader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entries) = ringbuf_bytes {
            loader.map_max_entries(polc_abi::MAP_EVENTS, entries);
        }
        match crate::co_re::relocate(bytes, &self.members) {
            Some(relocated) => loader.load(&relocated),
            None => loader.load(bytes),
        }
    }
}

/// aya's parse of the kernel's BTF, once per process: the kernel's BTF does
/// not change while it runs, and the loaders and program loads of every
/// [`KernelTypes`] borrow it for as long as the process lives.
static AYA_BTF: std::sync::OnceLock<aya::Btf> = std::sync::OnceLock::new();

/// Reads the kernel's BTF: parsed by polrt's reader and by aya (each parse
/// on its own thread, beside the caller's compiling: together they are
/// most of `polrt run`'s start-up), for a loader that does not parse it
/// again.
pub fn kernel_btf() -> Result<KernelTypes, ProbeError> {
    let loader = std::thread::spawn(loader_without_btf);
    let bytes = kernel_btf_bytes().map_err(|source| ProbeError::NoBtf { source })?;
    let (members, aya) = std::thread::scope(|scope| {
        let members = scope.spawn(|| KernelBtf::parse_static(bytes));
        let aya = match AYA_BTF.get() {
            Some(btf) => Ok(btf),
            None => aya::Btf::parse(bytes, aya::Endianness::default())
                .map(|btf| AYA_BTF.get_or_init(|| btf)),
        };
        (members.join(), aya)
    });
    let panicked = |_| ProbeError::BadBtf("its reader panicked".to_string());
    let members = members
        .map_err(panicked)?
        .map_err(|e: BtfError| ProbeError::BadBtf(e.to_string()))?;
    let aya = aya.map_err(|e| ProbeError::BadBtf(e.to_string()))?;
    let mut loader = loader.join().map_err(panicked)?;
    loader.btf(Some(aya));
    Ok(KernelTypes {
        aya,
        members,
        loader: std::sync::Mutex::new(loader),
    })
}

/// The directory of the kernel's BTF files: it has no `sys/` of its own.
const KERNEL_BTF_DIR: &str = "/sys/kernel/btf";

/// An `EbpfLoader` that has not parsed the kernel's BTF, for
/// [`kernel_btf`] to give it the process's own parse. aya 0.14's only
/// constructor, `EbpfLoader::new`, reads `/sys/kernel/btf/vmlinux` and
/// parses it (a third parse of 5 MB, most of the start-up's CPU time). It
/// runs here on a thread of its own whose root directory (that thread's
/// only: `unshare(CLONE_FS)`) is the BTF directory, where that path does not
/// exist, so its read fails at once and it keeps no BTF; the thread ends
/// with the call. Where the process may not `chroot` (no CAP_SYS_CHROOT),
/// `EbpfLoader::new` parses as before: slower, the same loader.
fn loader_without_btf() -> aya::EbpfLoader<'static> {
    use std::ffi::CString;
    let dir = CString::new(KERNEL_BTF_DIR).expect("no NUL");
    // SAFETY: `unshare(CLONE_FS)` gives this thread (the calling task) its
    // own root, working directory and umask; it touches no memory. `chroot`
    // reads a valid NUL-terminated path. The working directory stays where
    // it was (outside the new root): this thread opens no relative path.
    let _hidden = unsafe { libc::unshare(libc::CLONE_FS) == 0 && libc::chroot(dir.as_ptr()) == 0 };
    aya::EbpfLoader::new()
}

/// The bytes of `/sys/kernel/btf/vmlinux`, read (mapped) once per process:
/// polrt's reader keeps its strings and types there.
fn kernel_btf_bytes() -> std::io::Result<&'static [u8]> {
    static BYTES: std::sync::OnceLock<KernelBtfBytes> = std::sync::OnceLock::new();
    if let Some(bytes) = BYTES.get() {
        return Ok(bytes);
    }
    let bytes = KernelBtfBytes::read()?;
    Ok(BYTES.get_or_init(|| bytes))
}

/// The bytes of `/sys/kernel/btf/vmlinux`: mapped where the kernel allows
/// it (6.16 and later map the BTF read-only, without a copy), read
/// otherwise.
enum KernelBtfBytes {
    Mapped { at: *mut libc::c_void, len: usize },
    Read(Vec<u8>),
}

// SAFETY: the mapping is read-only and lives as long as the value; nothing
// writes it, and any thread may read or unmap it.
unsafe impl Sync for KernelBtfBytes {}
// SAFETY: as for `Sync`.
unsafe impl Send for KernelBtfBytes {}

impl KernelBtfBytes {
    fn read() -> std::io::Result<KernelBtfBytes> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(KERNEL_BTF)?;
        let len = file.metadata()?.len() as usize;
        if len > 0 {
            // SAFETY: a new private read-only mapping of an open file; no
            // existing memory is affected. Checked for MAP_FAILED below.
            let at = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE,
                    file.as_raw_fd(),
                    0,
                )
            };
            if at != libc::MAP_FAILED {
                return Ok(KernelBtfBytes::Mapped { at, len });
            }
        }
        std::fs::read(KERNEL_BTF).map(KernelBtfBytes::Read)
    }
}

impl std::ops::Deref for KernelBtfBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            // SAFETY: `at` maps `len` readable bytes until `drop`.
            KernelBtfBytes::Mapped { at, len } => unsafe {
                std::slice::from_raw_parts(at.cast::<u8>(), *len)
            },
            KernelBtfBytes::Read(bytes) => bytes,
        }
    }
}

impl Drop for KernelBtfBytes {
    fn drop(&mut self) {
        if let KernelBtfBytes::Mapped { at, len } = *self {
            // SAFETY: the mapping made in `read`, no longer borrowed.
            unsafe { libc::munmap(at, len) };
        }
    }
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

/// Where securityfs is mounted; its `lsm` file lists the active LSMs.
pub const SECURITYFS: &str = "/sys/kernel/security";

/// Whether BPF LSM programs run on this kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BpfLsm {
    /// An LSM program attached here ran: the `lsm` backend enforces.
    Active,
    /// Why the `lsm` backend would not enforce here.
    Unavailable(String),
}

impl BpfLsm {
    /// Why LSM programs do not run here, if they do not.
    pub fn unavailable(&self) -> Option<&str> {
        match self {
            BpfLsm::Active => None,
            BpfLsm::Unavailable(why) => Some(why),
        }
    }
}

/// Why the `lsm` backend cannot enforce, judging by the kernel's list of
/// active LSMs (the text of `/sys/kernel/security/lsm`), or `None` when the
/// list has `bpf`. A kernel whose list lacks `bpf` loads and attaches LSM
/// programs without complaint, and never calls them.
pub fn lsm_list_verdict(list: &str) -> Option<String> {
    let list = list.trim();
    if list.split(',').any(|lsm| lsm == "bpf") {
        return None;
    }
    Some(format!(
        "BPF LSM is not active: the kernel's active LSMs ({SECURITYFS}/lsm) are `{list}`, without `bpf`, so it would load and attach lsm programs and never run them (boot with lsm={list},bpf)"
    ))
}

/// The kernel's list of active LSMs, mounting securityfs first when it is
/// not mounted; `None` when it cannot be read (then only the probe program
/// decides).
fn active_lsms() -> Option<String> {
    let path = Path::new(SECURITYFS).join("lsm");
    if let Ok(list) = std::fs::read_to_string(&path) {
        return Some(list);
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    if !is_mounted(&mountinfo, "securityfs", SECURITYFS) {
        mount("securityfs", SECURITYFS).ok()?;
    }
    std::fs::read_to_string(&path).ok()
}

/// The runtime's probe programs (`polc::codegen::guard`), loaded as one
/// object: the self-tgid program and the LSM probe.
fn probe_object(types: &KernelTypes) -> Result<aya::Ebpf, String> {
    let bytes = polc::compile::runtime_probe_object().map_err(|e| e.to_string())?;
    types
        .load_object(&bytes, None)
        .map_err(|e| crate::loader::error_chain(&e))
}

/// Whether BPF LSM programs run here: the active LSMs must list `bpf`, and
/// an LSM program on the `bpf` hook must run when this process calls
/// `bpf(2)` (a kernel in lockdown refuses to load it; one whose active LSMs
/// lack `bpf` never calls it).
pub fn bpf_lsm(types: &KernelTypes) -> BpfLsm {
    if let Some(why) = active_lsms().as_deref().and_then(lsm_list_verdict) {
        return BpfLsm::Unavailable(why);
    }
    match run_lsm_probe(types) {
        Ok(true) => BpfLsm::Active,
        Ok(false) => BpfLsm::Unavailable(
            "an lsm program attached here never ran (BPF LSM is not active on this kernel)"
                .to_string(),
        ),
        Err(why) => BpfLsm::Unavailable(why),
    }
}

/// Loads and attaches the LSM probe, calls `bpf(2)`, and says whether the
/// probe ran; an error says why it could not be loaded or attached.
fn run_lsm_probe(types: &KernelTypes) -> Result<bool, String> {
    use aya::maps::Array;
    use aya::programs::{Lsm, ProgramError};
    use polc_abi::{LSM_PROBE_MAP, LSM_PROBE_SECTION, LSM_PROBE_SYMBOL};
    let mut ebpf = probe_object(types)?;
    let program: &mut Lsm = ebpf
        .program_mut(LSM_PROBE_SYMBOL)
        .ok_or("the probe object has no lsm program")?
        .try_into()
        .map_err(|e: ProgramError| e.to_string())?;
    let hook = LSM_PROBE_SECTION.trim_start_matches("lsm/");
    if let Err(error) = program.load(hook, types.aya) {
        if let ProgramError::LoadError {
            io_error,
            verifier_log,
        } = &error
        {
            if io_error.raw_os_error() == Some(libc::EPERM)
                && verifier_log.to_string().trim().is_empty()
            {
                return Err(crate::loader::LOCKDOWN_REFUSAL.replace("{kind}", "lsm"));
            }
        }
        return Err(format!(
            "the lsm probe program could not be loaded: {}",
            crate::loader::error_chain(&error)
        ));
    }
    let link = program.attach().map_err(|e| {
        format!(
            "the lsm probe program could not be attached: {}",
            crate::loader::error_chain(&e)
        )
    })?;
    let ran = {
        let flag: Array<_, u32> = Array::try_from(
            ebpf.map(LSM_PROBE_MAP)
                .ok_or("the probe object has no flag map")?,
        )
        .map_err(|e| e.to_string())?;
        // This bpf(2) call runs the `bpf` hook before it reads the flag.
        flag.get(&0, 0).map_err(|e| e.to_string())? == 1
    };
    let program: &mut Lsm = ebpf
        .program_mut(LSM_PROBE_SYMBOL)
        .ok_or("the probe object has no lsm program")?
        .try_into()
        .map_err(|e: ProgramError| e.to_string())?;
    program
        .detach(link)
        .map_err(|e| format!("detaching the lsm probe: {e}"))?;
    Ok(ran)
}

/// This process's thread group id as the kernel sees it: what
/// `bpf_get_current_pid_tgid() >> 32` returns in this process, whatever pid
/// namespace it runs in (`std::process::id()` is its pid in its own
/// namespace). Learned by running a raw tracepoint program with
/// `BPF_PROG_TEST_RUN`, which runs it in this process's context.
pub fn kernel_tgid(types: &KernelTypes) -> Result<u32, ProbeError> {
    use aya::programs::{RawTracePoint, RawTracePointRunOptions, TestRun};
    use polc_abi::SELF_TGID_SYMBOL;
    let failed = |reason: String| ProbeError::SelfTgid { reason };
    let mut ebpf = probe_object(types).map_err(failed)?;
    let program: &mut RawTracePoint = ebpf
        .program_mut(SELF_TGID_SYMBOL)
        .ok_or_else(|| failed("the probe object has no self-tgid program".into()))?
        .try_into()
        .map_err(|e: aya::programs::ProgramError| failed(e.to_string()))?;
    program
        .load()
        .map_err(|e| failed(crate::loader::error_chain(&e)))?;
    let result = program
        .test_run(RawTracePointRunOptions::new())
        .map_err(|e| failed(crate::loader::error_chain(&e)))?;
    Ok(result.return_value)
}

/// Whether `/proc` numbers processes as the kernel does (its pid namespace
/// is the initial one): `/proc/self` names `tgid`, this process's kernel
/// tgid ([`kernel_tgid`]). In a container, `/proc/N` is not kernel pid N.
pub fn proc_shows_kernel_pids(tgid: u32) -> bool {
    std::fs::read_link("/proc/self").is_ok_and(|link| link.as_os_str() == tgid.to_string().as_str())
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
    fn lsm_is_unavailable_unless_the_active_list_names_bpf() {
        assert_eq!(lsm_list_verdict("lockdown,capability,landlock,bpf\n"), None);
        assert_eq!(lsm_list_verdict("bpf"), None);
        let why = lsm_list_verdict("capability,landlock,yama,apparmor\n").expect("no bpf");
        assert!(why.contains("BPF LSM is not active"), "{why}");
        assert!(
            why.contains("`capability,landlock,yama,apparmor`, without `bpf`"),
            "{why}"
        );
        assert!(
            why.contains("lsm=capability,landlock,yama,apparmor,bpf"),
            "{why}"
        );
        assert!(lsm_list_verdict("bpfilter,selinux").is_some());
        assert!(lsm_list_verdict("").is_some());
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
