//! The kernel side of the benchmarks: loading a polc object (through the
//! runtime's own loader, as `polrt run` does), a clang-built object or the
//! empty floor program (through aya), attaching one program at a time to the
//! benchmark hook, reading its run-time statistics (`run_cnt`,
//! `run_time_ns`, with `BPF_ENABLE_STATS` held for the whole run), its code
//! size and its verifier statistics, and draining its ring buffer.
//!
//! Everything it attaches is owned by a value whose drop detaches it;
//! nothing is pinned; the test cgroup is removed on drop.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use aya::maps::{MapData, RingBuf};
use aya::{Ebpf, EbpfLoader};
use polc::abi::{self, Config, ProgramMeta};
use polrt::attach::Attachments;
use polrt::loader::{self, LoadError, ProgramLoad};
use polrt::probe::KernelTypes;

use crate::scenario::Hook;

/// What the kernel reports about one loaded program.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CodeStats {
    /// Instructions in the object file (8-byte slots).
    pub elf_insns: u32,
    /// Instructions after the verifier's rewrites (`xlated_prog_len / 8`).
    pub xlated_insns: u32,
    /// Bytes of JIT-compiled machine code.
    pub jited_bytes: u32,
    /// Instructions the verifier processed (over every path it explored).
    pub verified_insns: Option<u32>,
    /// Milliseconds `BPF_PROG_LOAD` took (the verifier's run).
    pub load_ms: f64,
}

/// The host state every measurement shares: the kernel's BTF, the
/// features polc programs are told about, run-time statistics switched on,
/// and a test cgroup for the cgroup programs and their loads.
pub struct Kernel {
    pub types: KernelTypes,
    pub features: u32,
    pub cgroup: TestCgroup,
    /// Held while run-time statistics are to be kept (see
    /// [`Kernel::statistics`]).
    stats: std::cell::RefCell<Option<OwnedFd>>,
}

impl Kernel {
    pub fn new() -> Result<Kernel, String> {
        polrt::probe::check_privileges().map_err(|e| e.to_string())?;
        polrt::probe::ensure_mounts().map_err(|e| e.to_string())?;
        let types = polrt::probe::kernel_btf().map_err(|e| e.to_string())?;
        let features = polrt::probe::kernel_features().map_err(|e| e.to_string())?;
        let stats = aya::sys::enable_stats(aya::sys::Stats::RunTime)
            .map_err(|e| format!("BPF_ENABLE_STATS: {e}"))?;
        Ok(Kernel {
            types,
            features,
            cgroup: TestCgroup::new()?,
            stats: std::cell::RefCell::new(Some(stats)),
        })
    }

    /// Switches the kernel's run-time statistics on or off. With them on,
    /// every program run reads the clock twice; a measurement of what a
    /// system call costs its caller is made with them off.
    pub fn statistics(&self, on: bool) -> Result<(), String> {
        let mut stats = self.stats.borrow_mut();
        if !on {
            *stats = None;
        } else if stats.is_none() {
            *stats = Some(
                aya::sys::enable_stats(aya::sys::Stats::RunTime)
                    .map_err(|e| format!("BPF_ENABLE_STATS: {e}"))?,
            );
        }
        Ok(())
    }
}

/// A cgroup v2 directory for the benchmark's loads, removed on drop.
pub struct TestCgroup {
    pub path: PathBuf,
}

impl TestCgroup {
    fn new() -> Result<TestCgroup, String> {
        let root = polrt::cgroup::root().map_err(|e| e.to_string())?;
        // Left behind by a run that was killed: its process is gone.
        if let Ok(entries) = std::fs::read_dir(&root) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(pid) = name.strip_prefix("polc-bench-") else {
                    continue;
                };
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir(entry.path());
                }
            }
        }
        let path = root.join(format!("polc-bench-{}", std::process::id()));
        if path.exists() {
            let _ = std::fs::remove_dir(&path);
        }
        std::fs::create_dir(&path).map_err(|e| format!("create {}: {e}", path.display()))?;
        Ok(TestCgroup { path })
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // The loads have exited; a cgroup without tasks can be removed,
        // the ones the loads made below it first.
        for _ in 0..50 {
            if remove_cgroup_tree(&self.path).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "polc-bench: could not remove the test cgroup {}",
            self.path.display()
        );
    }
}

/// Removes the cgroup `path` and every cgroup below it, deepest first.
fn remove_cgroup_tree(path: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(path)?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_cgroup_tree(&entry.path())?;
        }
    }
    std::fs::remove_dir(path)
}

/// Which program of a clang-built object to load.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CProgram {
    /// The scenario's C equivalent.
    Equivalent,
    /// The empty program (`bench/c/empty.bpf.c`).
    Floor,
}

/// One loaded program, attachable to its hook.
pub struct Subject {
    pub hook: Hook,
    meta: ProgramMeta,
    ebpf: Ebpf,
    attachments: Option<Attachments>,
    drain: Option<Drain>,
    pub code: CodeStats,
}

/// Run-time statistics of a program since it was loaded.
#[derive(Copy, Clone, Debug, Default)]
pub struct RunStats {
    pub count: u64,
    pub ns: u64,
}

impl Subject {
    /// Loads the measured program of a polc object: config (every task,
    /// nothing exempt, enforcing), set maps, automata, the features map and
    /// the identity map written first, as `polrt run` does.
    pub fn polc(
        kernel: &Kernel,
        object_path: &Path,
        hook: Hook,
        drain: bool,
    ) -> Result<Subject, String> {
        let object = polrt::object::load_path(object_path, polc::compile::DEFAULT_RINGBUF_BYTES)
            .map_err(|e| e.to_string())?;
        let metadata = &object.metadata;
        let meta = metadata
            .programs
            .iter()
            .find(|p| p.symbol == hook.polc_symbol())
            .cloned()
            .ok_or_else(|| format!("the object has no program {}", hook.polc_symbol()))?;
        let ebpf = loader::open(&object, &kernel.types, None).map_err(|e| e.to_string())?;
        let config = Config {
            scope_cgroup: 0,
            scope_level: 0,
            flags: 0,
        };
        loader::write_config(&ebpf, metadata, config).map_err(|e| e.to_string())?;
        loader::fill_sets(&ebpf, metadata).map_err(|e| e.to_string())?;
        loader::write_automata(&ebpf, metadata).map_err(|e| e.to_string())?;
        loader::write_features(&ebpf, metadata, kernel.features).map_err(|e| e.to_string())?;
        // The files the policy names by path, by identity (device and
        // inode), as polrt fills them before attaching.
        polrt::identity::IdentityMap::fill(&ebpf, metadata).map_err(|e| e.to_string())?;
        Subject::load(kernel, hook, meta, ebpf, drain.then_some(abi::MAP_EVENTS))
    }

    /// Loads the program of `hook` of a clang-built object (the run-time
    /// settings keep their defaults: every task, nothing exempt, enforcing),
    /// after filling its set map with `set` (map name, keys; value 1).
    pub fn clang(
        kernel: &Kernel,
        object_path: &Path,
        hook: Hook,
        which: CProgram,
        set: Option<&(String, Vec<Vec<u8>>)>,
        drain: bool,
    ) -> Result<Subject, String> {
        let bytes = std::fs::read(object_path)
            .map_err(|e| format!("read {}: {e}", object_path.display()))?;
        let symbol = match which {
            CProgram::Floor => hook.floor_symbol(),
            CProgram::Equivalent => hook.c_symbol(),
        };
        let elf_insns = elf_function_insns(&bytes, symbol)?;
        let ebpf = EbpfLoader::new()
            .btf(Some(kernel.types.aya))
            .load(&bytes)
            .map_err(|e| format!("aya: {}", loader::error_chain(&e)))?;
        if let Some((name, keys)) = set {
            let map = loader::map(&ebpf, name).map_err(|e| e.to_string())?;
            for key in keys {
                map.update(key, &[1u8], 0)
                    .map_err(|e| format!("filling {name}: {e}"))?;
            }
        }
        let meta = ProgramMeta {
            symbol: symbol.to_string(),
            section: hook.attach_point().to_string(),
            hook: String::new(),
            backend: hook.backend(),
            insns: elf_insns,
            max_path: 0,
            stack: 0,
            absent_means: None,
            role: Default::default(),
        };
        Subject::load(kernel, hook, meta, ebpf, drain.then_some("events"))
    }

    /// Loads the program `meta` names into the kernel, takes its code
    /// statistics and, when `events` names the ring buffer, starts draining
    /// it.
    fn load(
        kernel: &Kernel,
        hook: Hook,
        meta: ProgramMeta,
        mut ebpf: Ebpf,
        events: Option<&str>,
    ) -> Result<Subject, String> {
        let load_ms = load(&mut ebpf, &meta, &kernel.types)?;
        let code = code_stats(&ebpf, &meta.symbol, meta.insns, load_ms)?;
        let drain = events.map(|map| Drain::start(&mut ebpf, map)).transpose()?;
        Ok(Subject {
            hook,
            meta,
            ebpf,
            attachments: None,
            drain,
            code,
        })
    }

    /// Attaches the program (cgroup programs to the test cgroup).
    pub fn attach(&mut self, kernel: &Kernel) -> Result<(), String> {
        let mut attachments = Attachments::new(&kernel.cgroup.path);
        attachments
            .attach(&mut self.ebpf, &self.meta.symbol, &self.meta.section)
            .map_err(|e| e.to_string())?;
        self.attachments = Some(attachments);
        Ok(())
    }

    /// Detaches the program.
    pub fn detach(&mut self) {
        self.attachments = None;
    }

    /// `run_cnt` and `run_time_ns` since the program was loaded.
    pub fn stats(&self) -> Result<RunStats, String> {
        let info = self
            .ebpf
            .program(&self.meta.symbol)
            .ok_or_else(|| format!("no program {}", self.meta.symbol))?
            .info()
            .map_err(|e| e.to_string())?;
        Ok(RunStats {
            count: info.run_count(),
            ns: info.run_time().as_nanos() as u64,
        })
    }

    /// The kernel's id of the loaded program.
    pub fn id(&self) -> Option<u32> {
        self.ebpf
            .program(&self.meta.symbol)
            .and_then(|p| p.info().ok())
            .map(|info| info.id())
    }

    /// Records drained from the ring buffer so far.
    pub fn drained(&self) -> u64 {
        self.drain.as_ref().map_or(0, Drain::count)
    }
}

impl Drop for Subject {
    fn drop(&mut self) {
        self.detach();
        if let Some(drain) = self.drain.take() {
            drain.stop();
        }
    }
}

/// Loads one program; the verifier's time in milliseconds.
fn load(ebpf: &mut Ebpf, meta: &ProgramMeta, types: &KernelTypes) -> Result<f64, String> {
    match loader::load_program(ebpf, meta, types) {
        Ok(ProgramLoad::Loaded { duration }) => Ok(duration.as_secs_f64() * 1e3),
        Ok(ProgramLoad::Unavailable(why) | ProgramLoad::NoTarget(why)) => Err(why),
        Err(LoadError::Rejected { error, at, .. }) => {
            Err(format!("the verifier rejected it{at}: {error}"))
        }
        Err(other) => Err(other.to_string()),
    }
}

fn code_stats(
    ebpf: &Ebpf,
    symbol: &str,
    elf_insns: u32,
    load_ms: f64,
) -> Result<CodeStats, String> {
    let info = ebpf
        .program(symbol)
        .ok_or_else(|| format!("no program {symbol}"))?
        .info()
        .map_err(|e| e.to_string())?;
    Ok(CodeStats {
        elf_insns,
        xlated_insns: info.size_translated().unwrap_or(0) / 8,
        jited_bytes: info.size_jitted(),
        verified_insns: info.verified_instruction_count(),
        load_ms,
    })
}

/// Instructions of function `symbol` in a BPF ELF object.
fn elf_function_insns(bytes: &[u8], symbol: &str) -> Result<u32, String> {
    use object::{Object, ObjectSymbol};
    let file = object::File::parse(bytes).map_err(|e| format!("not an ELF object: {e}"))?;
    file.symbols()
        .find(|s| s.name() == Ok(symbol))
        .map(|s| (s.size() / 8) as u32)
        .ok_or_else(|| format!("the object has no function {symbol}"))
}

/// A thread that consumes a ring buffer (counting its records), so that
/// matching loads measure a successful output rather than a full buffer.
struct Drain {
    stop: Arc<AtomicBool>,
    count: Arc<std::sync::atomic::AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Drain {
    fn start(ebpf: &mut Ebpf, map: &str) -> Result<Drain, String> {
        let map = ebpf
            .take_map(map)
            .ok_or_else(|| format!("the object has no map {map}"))?;
        let mut ring: RingBuf<MapData> =
            RingBuf::try_from(map).map_err(|e| format!("ring buffer: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (stop_flag, counter) = (stop.clone(), count.clone());
        // No poll: the thread wakes every millisecond and reads what is
        // there, so a busy ring buffer rarely has a caught-up consumer to
        // wake (the same for every program measured).
        let thread = std::thread::spawn(move || {
            while !stop_flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
                let mut n = 0;
                while ring.next().is_some() {
                    n += 1;
                }
                counter.fetch_add(n, Ordering::Relaxed);
            }
        });
        Ok(Drain {
            stop,
            count,
            thread: Some(thread),
        })
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
