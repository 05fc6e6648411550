//! polc-sys: the one `bpf(2)` layer of the project. Every raw `bpf()` call
//! of polrt (map contents, freezing), of `polc test` (maps, the test-run
//! program, `BPF_PROG_TEST_RUN`) and of the benchmark goes through here;
//! aya makes its own calls for what it loads.
//!
//! Every command that hands the kernel a buffer checks its size first:
//! keys and values against the map as the kernel describes it
//! (`BPF_OBJ_GET_INFO_BY_FD`, never what an object's metadata claims), and
//! per-CPU values against the kernel's possible CPUs
//! (`/sys/devices/system/cpu/possible`, an error when unreadable, never a
//! guess), so the kernel never reads or writes past a buffer.
//!
//! [`verifier`] reads the verifier's log of a rejected program, for every
//! loader of the project; [`test_gate`] is the gate every kernel test of
//! the project goes through.
//!
//! Depends on `libc` and `thiserror` only; knows nothing of policies,
//! objects or aya.

pub mod test_gate;
pub mod verifier;

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Where the kernel lists its possible CPUs (per-CPU map values hold one
/// slot for each).
pub const POSSIBLE_CPUS: &str = "/sys/devices/system/cpu/possible";

/// `BPF_MAP_UPDATE_ELEM` flag: only insert, never overwrite.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_PROG_TYPE_RAW_TRACEPOINT`.
pub const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
/// `src_reg` of a `LD_IMM64` whose immediate is a map file descriptor.
pub const BPF_PSEUDO_MAP_FD: u8 = 1;

/// The `bpf(2)` commands used here (`enum bpf_cmd`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
enum Cmd {
    MapCreate = 0,
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    MapGetNextKey = 4,
    ProgLoad = 5,
    ProgTestRun = 10,
    ObjPin = 6,
    ObjGet = 7,
    ObjGetInfoByFd = 15,
    BtfLoad = 18,
    MapFreeze = 22,
    MapUpdateBatch = 26,
    LinkUpdate = 29,
    LinkGetFdById = 30,
}

impl Cmd {
    fn name(self) -> &'static str {
        match self {
            Cmd::MapCreate => "BPF_MAP_CREATE",
            Cmd::MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
            Cmd::MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
            Cmd::MapDeleteElem => "BPF_MAP_DELETE_ELEM",
            Cmd::MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
            Cmd::ProgLoad => "BPF_PROG_LOAD",
            Cmd::ProgTestRun => "BPF_PROG_TEST_RUN",
            Cmd::ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
            Cmd::BtfLoad => "BPF_BTF_LOAD",
            Cmd::MapFreeze => "BPF_MAP_FREEZE",
            Cmd::MapUpdateBatch => "BPF_MAP_UPDATE_BATCH",
            Cmd::ObjPin => "BPF_OBJ_PIN",
            Cmd::ObjGet => "BPF_OBJ_GET",
            Cmd::LinkUpdate => "BPF_LINK_UPDATE",
            Cmd::LinkGetFdById => "BPF_LINK_GET_FD_BY_ID",
        }
    }
}

/// A failed command, or a buffer that does not fit the kernel's object.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{cmd}: {source}")]
    Syscall {
        cmd: &'static str,
        source: io::Error,
    },
    #[error(
        "the {what} has {have} bytes, the map's {what}s {want} (as the kernel reports the map)"
    )]
    Size {
        what: &'static str,
        have: usize,
        want: usize,
    },
    #[error("cannot read the possible CPUs from {POSSIBLE_CPUS}: {reason}")]
    PossibleCpus { reason: String },
    #[error("{what} holds a NUL byte")]
    Nul { what: &'static str },
    #[error("{what} is too large ({len})")]
    TooLarge { what: &'static str, len: usize },
}

impl Error {
    /// The errno of a failed command (`None` for a size error).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Syscall { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// The one `bpf(2)` call site. Private: callers go through the commands
/// below, which own their attribute structs and check every buffer those
/// point to.
///
/// # Safety
///
/// `attr` must be a `#[repr(C)]` prefix of `union bpf_attr` for `cmd` with
/// no uninitialised bytes, and every pointer in it must point to a live
/// buffer at least as large as the kernel will read or write for `cmd`.
unsafe fn bpf<T>(cmd: Cmd, attr: &mut T) -> Result<i64, Error> {
    // SAFETY: the caller's contract: `attr` is a valid, initialised prefix of
    // `union bpf_attr` whose buffers are live and large enough; the kernel
    // reads (and for some commands writes) at most `size_of::<T>()` bytes of
    // it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_long,
        )
    };
    if ret < 0 {
        Err(Error::Syscall {
            cmd: cmd.name(),
            source: io::Error::last_os_error(),
        })
    } else {
        Ok(ret)
    }
}

/// A new file descriptor returned by a command.
fn owned_fd(raw: i64) -> OwnedFd {
    // SAFETY: the bpf syscall just returned this new file descriptor and
    // nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(raw as i32) }
}

fn len_u32(what: &'static str, len: usize) -> Result<u32, Error> {
    u32::try_from(len).map_err(|_| Error::TooLarge { what, len })
}

/// Number of possible CPUs, as the kernel counts them for per-CPU map
/// values (`num_possible_cpus()`, the set bits of [`POSSIBLE_CPUS`]).
pub fn possible_cpus() -> Result<usize, Error> {
    let text = std::fs::read_to_string(POSSIBLE_CPUS).map_err(|e| Error::PossibleCpus {
        reason: e.to_string(),
    })?;
    parse_cpu_list(&text).ok_or_else(|| Error::PossibleCpus {
        reason: format!("`{}` is not a CPU list", text.trim()),
    })
}

/// The number of CPUs in a kernel CPU list (`0-3,5,7-8`); `None` if it is
/// malformed or empty.
pub fn parse_cpu_list(text: &str) -> Option<usize> {
    let mut n = 0usize;
    for part in text.trim().split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?),
            None => {
                let cpu = part.parse::<usize>().ok()?;
                (cpu, cpu)
            }
        };
        n += last.checked_sub(first)? + 1;
    }
    (n > 0).then_some(n)
}

/// A map as the kernel describes it (`struct bpf_map_info`, its start).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// `enum bpf_map_type`.
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
}

/// `BPF_MAP_TYPE_PERCPU_HASH`, `_PERCPU_ARRAY`, `_LRU_PERCPU_HASH`,
/// `_PERCPU_CGROUP_STORAGE`: values hold one slot per possible CPU.
const PER_CPU_MAP_TYPES: [u32; 4] = [5, 6, 10, 21];

impl MapInfo {
    /// Whether each value holds one slot per possible CPU.
    pub fn per_cpu(&self) -> bool {
        PER_CPU_MAP_TYPES.contains(&self.map_type)
    }

    /// Bytes of one value as user space reads and writes it: the value
    /// size, or for per-CPU maps the value size rounded up to 8 bytes once
    /// per possible CPU.
    pub fn value_buffer_len(&self) -> Result<usize, Error> {
        let value = self.value_size as usize;
        if self.per_cpu() {
            Ok(value.next_multiple_of(8) * possible_cpus()?)
        } else {
            Ok(value)
        }
    }
}

#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

#[repr(C)]
#[derive(Default)]
struct MapInfoRaw {
    map_type: u32,
    id: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    name: [u8; 16],
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a map.
pub fn map_info(map: BorrowedFd<'_>) -> Result<MapInfo, Error> {
    let mut raw = MapInfoRaw::default();
    let mut attr = InfoAttr {
        bpf_fd: map.as_raw_fd() as u32,
        info_len: std::mem::size_of::<MapInfoRaw>() as u32,
        info: &mut raw as *mut MapInfoRaw as u64,
    };
    // SAFETY: `attr` is the `info` prefix of `bpf_attr`; `info` points to
    // `raw`, live for the call, and `info_len` is its size: the kernel
    // writes at most that many bytes.
    unsafe { bpf(Cmd::ObjGetInfoByFd, &mut attr) }?;
    Ok(MapInfo {
        map_type: raw.map_type,
        id: raw.id,
        key_size: raw.key_size,
        value_size: raw.value_size,
        max_entries: raw.max_entries,
        map_flags: raw.map_flags,
    })
}

#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

#[repr(C)]
#[derive(Default)]
struct MapBatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

#[repr(C)]
#[derive(Default)]
struct MapFdAttr {
    map_fd: u32,
}

/// A map file descriptor with the kernel's description of the map: every
/// key and value buffer is checked against it before the kernel sees it.
#[derive(Debug)]
pub struct Map<'fd> {
    fd: BorrowedFd<'fd>,
    info: MapInfo,
    value_len: usize,
}

impl<'fd> Map<'fd> {
    /// Asks the kernel what `fd` is (one `BPF_OBJ_GET_INFO_BY_FD`).
    pub fn new(fd: BorrowedFd<'fd>) -> Result<Map<'fd>, Error> {
        let info = map_info(fd)?;
        Ok(Map {
            fd,
            info,
            value_len: info.value_buffer_len()?,
        })
    }

    /// The kernel's description of the map.
    pub fn info(&self) -> &MapInfo {
        &self.info
    }

    /// Bytes of one value as user space passes it (see
    /// [`MapInfo::value_buffer_len`]).
    pub fn value_len(&self) -> usize {
        self.value_len
    }

    fn check(&self, key: usize, value: usize) -> Result<(), Error> {
        let want_key = self.info.key_size as usize;
        if key != want_key {
            return Err(Error::Size {
                what: "key",
                have: key,
                want: want_key,
            });
        }
        if value != self.value_len {
            return Err(Error::Size {
                what: "value",
                have: value,
                want: self.value_len,
            });
        }
        Ok(())
    }

    /// `BPF_MAP_UPDATE_ELEM` (`flags`: 0 or [`BPF_NOEXIST`], ...).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), Error> {
        self.check(key.len(), value.len())?;
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.as_ptr() as u64,
            value: value.as_ptr() as u64,
            flags,
            ..Default::default()
        };
        // SAFETY: `attr` is the element prefix of `bpf_attr`; `key` and
        // `value` are live for the call and hold exactly the map's key size
        // and value buffer length (checked above against the kernel's own
        // description of the map), which is what the kernel reads.
        unsafe { bpf(Cmd::MapUpdateElem, &mut attr) }.map(|_| ())
    }

    /// `BPF_MAP_UPDATE_BATCH`: `keys` holds whole keys one after the
    /// other, each with `value` (one value's bytes). Returns how many were
    /// written; on an error, the kernel may have written some of them
    /// (`Err` with the count done). Kernels or map types without batch
    /// updates fail with `EINVAL`/`ENOTSUPP` and write nothing.
    pub fn update_batch(
        &self,
        keys: &[u8],
        value: &[u8],
        flags: u64,
    ) -> Result<usize, (usize, Error)> {
        let key_len = self.info.key_size as usize;
        if key_len == 0 || !keys.len().is_multiple_of(key_len) {
            return Err((
                0,
                Error::Size {
                    what: "keys",
                    have: keys.len(),
                    want: key_len,
                },
            ));
        }
        self.check(key_len, value.len()).map_err(|e| (0, e))?;
        let count = keys.len() / key_len;
        let values = value.repeat(count);
        let mut attr = MapBatchAttr {
            keys: keys.as_ptr() as u64,
            values: values.as_ptr() as u64,
            count: u32::try_from(count).unwrap_or(u32::MAX),
            map_fd: self.fd.as_raw_fd() as u32,
            elem_flags: flags,
            ..Default::default()
        };
        // SAFETY: the batch prefix of `bpf_attr`; `keys` and `values` are
        // live for the call and hold `count` keys and values of exactly the
        // map's key size and value buffer length (checked above), which is
        // what the kernel reads; it writes only `count` in `attr`.
        match unsafe { bpf(Cmd::MapUpdateBatch, &mut attr) } {
            Ok(_) => Ok(count),
            Err(e) => Err((attr.count as usize, e)),
        }
    }

    /// `BPF_MAP_DELETE_ELEM` (`ENOENT` when the key is not there).
    pub fn delete(&self, key: &[u8]) -> Result<(), Error> {
        self.check(key.len(), self.value_len)?;
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.as_ptr() as u64,
            ..Default::default()
        };
        // SAFETY: as in `update`; the kernel reads only the key, which holds
        // exactly the map's key size.
        unsafe { bpf(Cmd::MapDeleteElem, &mut attr) }.map(|_| ())
    }

    /// Every key of a hash map (`BPF_MAP_GET_NEXT_KEY` from no key until
    /// `ENOENT`); at most `max_entries` of them, so a map written to while
    /// this runs cannot make it loop.
    pub fn keys(&self) -> Result<Vec<Vec<u8>>, Error> {
        let len = self.info.key_size as usize;
        let mut keys: Vec<Vec<u8>> = Vec::new();
        while keys.len() < self.info.max_entries as usize {
            let mut next = vec![0u8; len];
            let mut attr = MapElemAttr {
                map_fd: self.fd.as_raw_fd() as u32,
                // No key: the first one.
                key: keys.last().map_or(0, |k| k.as_ptr() as u64),
                value: next.as_mut_ptr() as u64,
                ..Default::default()
            };
            // SAFETY: the element prefix of `bpf_attr`; `key` is null or the
            // previous key (the map's key size), `value` (the next key's
            // buffer) holds exactly the map's key size, which the kernel
            // writes.
            match unsafe { bpf(Cmd::MapGetNextKey, &mut attr) } {
                Ok(_) => keys.push(next),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(keys)
    }

    /// `BPF_MAP_LOOKUP_ELEM` into `value`.
    pub fn lookup(&self, key: &[u8], value: &mut [u8]) -> Result<(), Error> {
        self.check(key.len(), value.len())?;
        let mut attr = MapElemAttr {
            map_fd: self.fd.as_raw_fd() as u32,
            key: key.as_ptr() as u64,
            value: value.as_mut_ptr() as u64,
            ..Default::default()
        };
        // SAFETY: as in `update`; the kernel writes exactly the value buffer
        // length, which `value` holds.
        unsafe { bpf(Cmd::MapLookupElem, &mut attr) }.map(|_| ())
    }

    /// `BPF_MAP_FREEZE`: user space may no longer write the map either,
    /// which (with `BPF_F_RDONLY_PROG`) lets the verifier treat its
    /// contents as constants.
    pub fn freeze(&self) -> Result<(), Error> {
        let mut attr = MapFdAttr {
            map_fd: self.fd.as_raw_fd() as u32,
        };
        // SAFETY: `attr` is the `map_fd` prefix of `bpf_attr`; no pointers.
        unsafe { bpf(Cmd::MapFreeze, &mut attr) }.map(|_| ())
    }
}

/// A map to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec<'n> {
    /// `enum bpf_map_type`.
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    /// Truncated to the kernel's 15 bytes.
    pub name: &'n str,
}

#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// `BPF_MAP_CREATE`.
pub fn map_create(spec: &MapSpec<'_>) -> Result<OwnedFd, Error> {
    let mut attr = MapCreateAttr {
        map_type: spec.map_type,
        key_size: spec.key_size,
        value_size: spec.value_size,
        max_entries: spec.max_entries,
        map_flags: spec.map_flags,
        ..Default::default()
    };
    let name = spec.name.as_bytes();
    let n = name.len().min(15);
    attr.map_name[..n].copy_from_slice(&name[..n]);
    // SAFETY: `attr` is the map-creation prefix of `bpf_attr`, the name
    // inline and NUL-terminated; no pointers.
    unsafe { bpf(Cmd::MapCreate, &mut attr) }.map(owned_fd)
}

#[repr(C)]
#[derive(Default)]
struct ObjAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

fn c_path(path: &std::path::Path) -> Result<CString, Error> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Nul {
        what: "the pin path",
    })
}

/// `BPF_OBJ_PIN`: pins the map, program or link `fd` at `path` (on a
/// bpffs).
pub fn obj_pin(fd: BorrowedFd<'_>, path: &std::path::Path) -> Result<(), Error> {
    let path = c_path(path)?;
    let mut attr = ObjAttr {
        pathname: path.as_ptr() as u64,
        bpf_fd: fd.as_raw_fd() as u32,
        file_flags: 0,
    };
    // SAFETY: `attr` is the object prefix of `bpf_attr`; `pathname` points
    // to a live NUL-terminated string the kernel only reads.
    unsafe { bpf(Cmd::ObjPin, &mut attr) }.map(|_| ())
}

/// `BPF_OBJ_GET`: a new descriptor of the object pinned at `path`.
pub fn obj_get(path: &std::path::Path) -> Result<OwnedFd, Error> {
    let path = c_path(path)?;
    let mut attr = ObjAttr {
        pathname: path.as_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: as in `obj_pin`.
    unsafe { bpf(Cmd::ObjGet, &mut attr) }.map(owned_fd)
}

#[repr(C)]
#[derive(Default)]
struct GetByIdAttr {
    id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `BPF_LINK_GET_FD_BY_ID`: a new descriptor of link `id`.
pub fn link_fd_by_id(id: u32) -> Result<OwnedFd, Error> {
    let mut attr = GetByIdAttr {
        id,
        ..Default::default()
    };
    // SAFETY: `attr` is the id prefix of `bpf_attr`; no pointers.
    unsafe { bpf(Cmd::LinkGetFdById, &mut attr) }.map(owned_fd)
}

#[repr(C)]
#[derive(Default)]
struct LinkUpdateAttr {
    link_fd: u32,
    new_prog_fd: u32,
    flags: u32,
    old_prog_fd: u32,
}

/// `BPF_LINK_UPDATE`: makes `link` run `prog`.
pub fn link_update(link: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<(), Error> {
    let mut attr = LinkUpdateAttr {
        link_fd: link.as_raw_fd() as u32,
        new_prog_fd: prog.as_raw_fd() as u32,
        ..Default::default()
    };
    // SAFETY: `attr` is the link-update prefix of `bpf_attr`; no pointers.
    unsafe { bpf(Cmd::LinkUpdate, &mut attr) }.map(|_| ())
}

/// What `BPF_OBJ_GET_INFO_BY_FD` says of a link: its id, type, its
/// program's id, and, for a cgroup link, its cgroup's id (0 once the link
/// is detached).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    pub id: u32,
    pub prog_id: u32,
    pub link_type: u32,
    pub cgroup_id: u64,
}

/// `BPF_LINK_TYPE_CGROUP`.
pub const LINK_TYPE_CGROUP: u32 = 3;

/// [`LinkInfo`] of link `fd`.
pub fn link_info(fd: BorrowedFd<'_>) -> Result<LinkInfo, Error> {
    // struct bpf_link_info: type, id, prog_id, then a union aligned to 8
    // bytes (for a cgroup link: u64 cgroup_id, u32 attach_type).
    let mut info = [0u8; 64];
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: info.len() as u32,
        info: info.as_mut_ptr() as u64,
    };
    // SAFETY: `attr` is the info prefix of `bpf_attr`; `info` points to
    // `info_len` live bytes, the most the kernel writes.
    unsafe { bpf(Cmd::ObjGetInfoByFd, &mut attr) }?;
    let u32_at =
        |at: usize| u32::from_le_bytes([info[at], info[at + 1], info[at + 2], info[at + 3]]);
    let mut cgroup = [0u8; 8];
    cgroup.copy_from_slice(&info[16..24]);
    let link_type = u32_at(0);
    Ok(LinkInfo {
        link_type,
        id: u32_at(4),
        prog_id: u32_at(8),
        cgroup_id: if link_type == LINK_TYPE_CGROUP {
            u64::from_le_bytes(cgroup)
        } else {
            0
        },
    })
}

/// A program to load.
#[derive(Debug)]
pub struct ProgSpec<'a> {
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// Instructions, 8 bytes each, map references already resolved to file
    /// descriptors.
    pub insns: &'a [u64],
    pub license: &'a str,
    /// Truncated to the kernel's 15 bytes.
    pub name: &'a str,
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// `BPF_PROG_LOAD`. `log`, when not empty, receives the verifier's log
/// (level 1); a large program's log can overflow any buffer and fail the
/// load, so load without one first and ask for it only to explain a
/// rejection.
pub fn prog_load(spec: &ProgSpec<'_>, log: &mut [u8]) -> Result<OwnedFd, Error> {
    let license = CString::new(spec.license).map_err(|_| Error::Nul {
        what: "the license",
    })?;
    let mut attr = ProgLoadAttr {
        prog_type: spec.prog_type,
        insn_cnt: len_u32("the program", spec.insns.len())?,
        insns: spec.insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: len_u32("the log buffer", log.len())?,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        ..Default::default()
    };
    let name = spec.name.as_bytes();
    let n = name.len().min(15);
    attr.prog_name[..n].copy_from_slice(&name[..n]);
    // SAFETY: `attr` is the program-load prefix of `bpf_attr`; `insns`
    // points to `insn_cnt` live 8-byte instructions, `license` to a live
    // NUL-terminated string, and `log_buf` (when set) to `log_size` live
    // writable bytes.
    unsafe { bpf(Cmd::ProgLoad, &mut attr) }.map(owned_fd)
}

#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    /// Explicit, so it is zero: the kernel rejects non-zero bytes past the
    /// fields it knows.
    _pad: u32,
}

/// `BPF_PROG_TEST_RUN` of a raw tracepoint program with `args` as its
/// context (its `u64` arguments); returns the program's return value.
pub fn prog_test_run(prog: BorrowedFd<'_>, args: &[u64]) -> Result<u32, Error> {
    let mut attr = TestRunAttr {
        prog_fd: prog.as_raw_fd() as u32,
        ctx_size_in: len_u32("the context", std::mem::size_of_val(args))?,
        ctx_in: args.as_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `attr` is the test-run prefix of `bpf_attr`; `ctx_in` points
    // to `ctx_size_in` live bytes, which the kernel only reads; no output
    // buffers are given.
    unsafe { bpf(Cmd::ProgTestRun, &mut attr) }?;
    Ok(attr.retval)
}

#[repr(C)]
#[derive(Default)]
struct BtfLoadAttr {
    btf: u64,
    btf_log_buf: u64,
    btf_size: u32,
    btf_log_size: u32,
    btf_log_level: u32,
}

/// `BPF_BTF_LOAD` of raw `.BTF` bytes; `log`, when not empty, receives the
/// kernel's log (level 1).
pub fn btf_load(btf: &[u8], log: &mut [u8]) -> Result<OwnedFd, Error> {
    let mut attr = BtfLoadAttr {
        btf: btf.as_ptr() as u64,
        btf_size: len_u32("the BTF", btf.len())?,
        btf_log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        btf_log_size: len_u32("the log buffer", log.len())?,
        btf_log_level: u32::from(!log.is_empty()),
    };
    // SAFETY: `attr` is the BTF-load prefix of `bpf_attr`; `btf` points to
    // `btf_size` live bytes the kernel only reads, and `btf_log_buf` (when
    // set) to `btf_log_size` live writable bytes.
    unsafe { bpf(Cmd::BtfLoad, &mut attr) }.map(owned_fd)
}

/// Bytes of `struct bpf_prog_info` up to and including `attach_btf_id`.
const PROG_INFO_LEN: usize = 232;
/// Offset of `verified_insns` in `struct bpf_prog_info` (Linux 5.16 and later).
const PROG_INFO_VERIFIED_INSNS: usize = 216;

/// The verifier's processed-instruction count of a loaded program, if the
/// kernel reports one.
pub fn prog_verified_insns(prog: BorrowedFd<'_>) -> Option<u32> {
    let mut info = [0u8; PROG_INFO_LEN];
    let mut attr = InfoAttr {
        bpf_fd: prog.as_raw_fd() as u32,
        info_len: PROG_INFO_LEN as u32,
        info: info.as_mut_ptr() as u64,
    };
    // SAFETY: `attr` is the `info` prefix of `bpf_attr`; `info` points to
    // `PROG_INFO_LEN` live bytes, which `info_len` says: the kernel writes
    // at most that many.
    unsafe { bpf(Cmd::ObjGetInfoByFd, &mut attr) }.ok()?;
    let end = PROG_INFO_VERIFIED_INSNS + 4;
    if (attr.info_len as usize) < end {
        return None;
    }
    let mut bytes = [0u8; 4];
    bytes.copy_from_slice(&info[PROG_INFO_VERIFIED_INSNS..end]);
    Some(u32::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_count_every_cpu() {
        assert_eq!(parse_cpu_list("0\n"), Some(1));
        assert_eq!(parse_cpu_list("0-3\n"), Some(4));
        assert_eq!(parse_cpu_list("0-3,5,7-8"), Some(7));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("0-x"), None);
    }

    #[test]
    fn this_machine_lists_its_possible_cpus() {
        let n = possible_cpus().expect("readable");
        assert!(n >= 1);
        let online = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(n >= online, "{n} possible, {online} online");
    }

    #[test]
    fn per_cpu_values_are_sized_for_every_possible_cpu() {
        let info = MapInfo {
            map_type: 6,
            id: 1,
            key_size: 4,
            value_size: 12,
            max_entries: 1,
            map_flags: 0,
        };
        let cpus = possible_cpus().expect("readable");
        assert_eq!(info.value_buffer_len().expect("sized"), 16 * cpus);
        let plain = MapInfo {
            map_type: 2,
            ..info
        };
        assert_eq!(plain.value_buffer_len().expect("sized"), 12);
    }

    #[test]
    fn buffers_are_checked_against_the_kernel_map() {
        if !test_gate::kernel_tests_enabled("buffers_are_checked_against_the_kernel_map") {
            return;
        }
        let fd = map_create(&MapSpec {
            map_type: 6, // per-CPU array
            key_size: 4,
            value_size: 8,
            max_entries: 2,
            map_flags: 0,
            name: "polc_sys_test",
        })
        .expect("created");
        use std::os::fd::AsFd;
        let map = Map::new(fd.as_fd()).expect("described");
        assert_eq!(map.info().key_size, 4);
        let cpus = possible_cpus().expect("readable");
        assert_eq!(map.value_len(), 8 * cpus);
        let value: Vec<u8> = (0..8 * cpus).map(|i| i as u8).collect();
        map.update(&1u32.to_le_bytes(), &value, 0).expect("updated");
        let mut back = vec![0u8; 8 * cpus];
        map.lookup(&1u32.to_le_bytes(), &mut back).expect("found");
        assert_eq!(back, value);
        // A value sized for one CPU, as a metadata-sized buffer would be,
        // is refused before the kernel reads past it.
        let short = map.update(&1u32.to_le_bytes(), &[0u8; 8], 0);
        if cpus > 1 {
            assert!(
                matches!(short, Err(Error::Size { what: "value", .. })),
                "{short:?}"
            );
        }
        let error = map.update(&[0u8; 8], &value, 0).expect_err("an 8-byte key");
        assert!(error.to_string().contains("key has 8 bytes"), "{error}");
        map.freeze().expect("frozen");
        let frozen = map
            .update(&0u32.to_le_bytes(), &value, 0)
            .expect_err("frozen");
        assert_eq!(frozen.raw_os_error(), Some(libc::EPERM), "{frozen}");
    }
}
