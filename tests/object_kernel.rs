//! Kernel tests of the object writer: objects assembled by hand with
//! `polc::bpf::asm`, written by `polc::object::write_object`, then loaded into
//! this machine's kernel by aya 0.14 and by libbpf (`bpftool`). They prove
//! that the object's `.BTF` is accepted by the kernel, that CO-RE relocations
//! resolve against the kernel's BTF (values read match `getpid`/`getppid`),
//! that both loaders accept the same file, and that line info carries `.pol`
//! source lines into verifier messages.
//!
//! Needs root (skipped otherwise, unless `POLC_KERNEL_TESTS=require`). Safe to
//! run on a shared host: the one attached program filters on this test's own
//! tgid and is detached when the `Ebpf` is dropped; everything pinned or
//! written to disk is removed by a guard, even when an assertion fails.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use aya::maps::{Array, RingBuf};
use aya::programs::{BtfTracePoint, CgroupSockAddr, ProgramError, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};
use polc::bpf::asm::{Alu, Asm, Helper, Jmp, MapId, Reg, Size};
use polc::kernel::KernelMember;
use polc::object::{write_object, MapDef, MapKind, ObjectImage, ProgramImage};
use polc_tests::kernel_tests_enabled;

/// The policy text the line info of the test objects points into.
const SOURCE: &str = "\
# object writer kernel test
rule parent_of_caller {
    on exec
    when proc.ppid == 1
    audit \"{proc.comm}\"
}
";

/// Bytes of one event: tgid (u64), parent's tgid (u64), comm (16 bytes).
const EVENT_LEN: i32 = 32;
/// Stack offsets: the map key, then the event below it.
const KEY: i16 = -4;
const EVENT: i16 = -40;

const FILTER: MapId = MapId(0);
const EVENTS: MapId = MapId(1);
const LAST: MapId = MapId(2);

fn maps() -> Vec<MapDef> {
    vec![
        MapDef {
            name: "filter".into(),
            kind: MapKind::Array,
            key_size: 4,
            value_size: 4,
            max_entries: 1,
            flags: 0,
        },
        MapDef {
            name: "events".into(),
            kind: MapKind::Ringbuf,
            key_size: 0,
            value_size: 0,
            max_entries: 1 << 12,
            flags: 0,
        },
        MapDef {
            name: "last".into(),
            kind: MapKind::Array,
            key_size: 4,
            value_size: EVENT_LEN as u32,
            max_entries: 1,
            flags: 0,
        },
    ]
}

/// On `getppid` by a thread of the process whose tgid is in `filter`: reads
/// the current task's tgid, its real parent's tgid and its comm through CO-RE,
/// and writes them to `events` and `last`.
fn getppid_probe() -> ProgramImage {
    let mut asm = Asm::new();
    let done = asm.label("done");
    asm.line(2);
    asm.call(Helper::GetCurrentPidTgid);
    asm.alu_imm(Alu::Rhs, Reg::R0, 32);
    asm.mov(Reg::R7, Reg::R0);
    asm.line(3);
    asm.store_imm(Size::Word, Reg::R10, KEY, 0);
    asm.load_map(Reg::R1, FILTER);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, KEY.into());
    asm.call(Helper::MapLookupElem);
    asm.jump_imm(Jmp::IfEqual, Reg::R0, 0, done);
    asm.load(Size::Word, Reg::R1, Reg::R0, 0);
    asm.jump_reg(Jmp::IfNotEqual, Reg::R1, Reg::R7, done);
    asm.line(4);
    asm.call(Helper::GetCurrentTaskBtf);
    asm.mov(Reg::R6, Reg::R0);
    asm.load_member(
        Size::DoubleWord,
        Reg::R1,
        Reg::R6,
        KernelMember::TaskRealParent,
    );
    asm.load_member(Size::Word, Reg::R1, Reg::R1, KernelMember::TaskTgid);
    asm.store(Size::DoubleWord, Reg::R10, EVENT + 8, Reg::R1);
    asm.load_member(Size::Word, Reg::R1, Reg::R6, KernelMember::TaskTgid);
    asm.store(Size::DoubleWord, Reg::R10, EVENT, Reg::R1);
    asm.line(5);
    asm.mov(Reg::R1, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R1, (EVENT + 16).into());
    asm.mov_imm(Reg::R2, 16);
    asm.mov(Reg::R3, Reg::R6);
    asm.add_member_offset(Reg::R3, KernelMember::TaskComm);
    asm.call(Helper::ProbeReadKernelStr);
    asm.load_map(Reg::R1, EVENTS);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, EVENT.into());
    asm.mov_imm(Reg::R3, EVENT_LEN);
    asm.mov_imm(Reg::R4, 0);
    asm.call(Helper::RingbufOutput);
    asm.load_map(Reg::R1, LAST);
    asm.mov(Reg::R2, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R2, KEY.into());
    asm.mov(Reg::R3, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R3, EVENT.into());
    asm.mov_imm(Reg::R4, 0);
    asm.call(Helper::MapUpdateElem);
    asm.bind(done);
    asm.mov_imm(Reg::R0, 0);
    asm.exit();
    ProgramImage {
        section: "tracepoint/syscalls/sys_enter_getppid".into(),
        symbol: "getppid_probe".into(),
        code: asm.assemble().expect("getppid probe assembles"),
    }
}

/// Reads `bprm->filename` (third argument of `sched_process_exec`) through
/// CO-RE and copies the string to the stack.
fn exec_probe() -> ProgramImage {
    let mut asm = Asm::new();
    asm.line(3);
    asm.load(Size::DoubleWord, Reg::R1, Reg::R1, 16);
    asm.load_member(
        Size::DoubleWord,
        Reg::R3,
        Reg::R1,
        KernelMember::BinprmFilename,
    );
    asm.mov(Reg::R1, Reg::R10);
    asm.alu_imm(Alu::Add, Reg::R1, -64);
    asm.mov_imm(Reg::R2, 64);
    asm.call(Helper::ProbeReadKernelStr);
    asm.mov_imm(Reg::R0, 0);
    asm.exit();
    ProgramImage {
        section: "tp_btf/sched_process_exec".into(),
        symbol: "exec_probe".into(),
        code: asm.assemble().expect("exec probe assembles"),
    }
}

/// Allows every connect.
fn connect4() -> ProgramImage {
    let mut asm = Asm::new();
    asm.line(5);
    asm.mov_imm(Reg::R0, 1);
    asm.exit();
    ProgramImage {
        section: "cgroup/connect4".into(),
        symbol: "connect4".into(),
        code: asm.assemble().expect("connect4 assembles"),
    }
}

/// The object every loader must accept.
fn host_object() -> Vec<u8> {
    write_object(&ObjectImage {
        programs: vec![getppid_probe(), exec_probe(), connect4()],
        maps: maps(),
        metadata: br#"{"test":"object_kernel"}"#.to_vec(),
        source_name: "parent.pol".into(),
        source: SOURCE.into(),
    })
    .expect("host object writes")
}

fn kernel_btf() -> Btf {
    Btf::from_sys_fs().expect("kernel BTF at /sys/kernel/btf/vmlinux")
}

fn load_with_aya(bytes: &[u8], btf: &Btf) -> Ebpf {
    EbpfLoader::new()
        .btf(Some(btf))
        .load(bytes)
        .unwrap_or_else(|err| panic!("aya loads the object: {err:?}"))
}

/// Mounts `fstype` at `path` unless something is mounted there already.
fn ensure_mounted(path: &str, fstype: &str) {
    let mounts = fs::read_to_string("/proc/mounts").expect("/proc/mounts");
    if mounts
        .lines()
        .any(|line| line.split(' ').nth(1) == Some(path))
    {
        return;
    }
    let status = Command::new("mount")
        .args(["-t", fstype, fstype, path])
        .status()
        .expect("runs mount");
    assert!(status.success(), "mount -t {fstype} {path} failed");
}

/// Removes the files and directories a test creates, even when it panics.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = fs::remove_dir_all(path);
            let _ = fs::remove_file(path);
        }
    }
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("polc-object-{}-{name}", std::process::id()))
}

#[test]
fn aya_resolves_co_re_reads_of_the_current_task() {
    if !kernel_tests_enabled("aya_resolves_co_re_reads_of_the_current_task") {
        return;
    }
    ensure_mounted("/sys/kernel/tracing", "tracefs");
    let btf = kernel_btf();
    let mut ebpf = load_with_aya(&host_object(), &btf);

    let me = std::process::id();
    let mut filter: Array<_, u32> =
        Array::try_from(ebpf.map_mut("filter").expect("filter map")).expect("array");
    filter.set(0, me, 0).expect("sets the filter");

    let probe: &mut TracePoint = ebpf
        .program_mut("getppid_probe")
        .expect("getppid_probe")
        .try_into()
        .expect("a tracepoint");
    probe
        .load()
        .unwrap_or_else(|err| panic!("getppid_probe loads: {err:?}"));
    let info = probe.info().expect("program info");
    assert!(
        info.btf_id().is_some(),
        "the kernel holds the program's BTF"
    );
    probe
        .attach("syscalls", "sys_enter_getppid")
        .expect("attaches to sys_enter_getppid");

    // SAFETY: getppid has no preconditions and cannot fail.
    let parent = unsafe { libc::syscall(libc::SYS_getppid) } as u64;
    let comm = fs::read_to_string("/proc/thread-self/comm").expect("own comm");

    let mut ring = RingBuf::try_from(ebpf.take_map("events").expect("events map")).expect("ring");
    let deadline = Instant::now() + Duration::from_secs(2);
    let event = loop {
        if let Some(item) = ring.next() {
            break item.to_vec();
        }
        assert!(Instant::now() < deadline, "no event from getppid_probe");
        std::thread::sleep(Duration::from_millis(10));
    };
    let last: Array<_, [u8; 32]> =
        Array::try_from(ebpf.map("last").expect("last map")).expect("array");
    let stored = last.get(&0, 0).expect("reads last");
    assert_eq!(event, stored, "ring buffer and map hold the same record");

    let word = |at: usize| u64::from_le_bytes(event[at..at + 8].try_into().expect("8 bytes"));
    assert_eq!(word(0), u64::from(me), "task->tgid is getpid()");
    assert_eq!(word(8), parent, "task->real_parent->tgid is getppid()");
    let read_comm = event[16..].split(|b| *b == 0).next().unwrap_or_default();
    assert_eq!(read_comm, comm.trim_end_matches('\n').as_bytes());

    // The other host programs pass the verifier too (not attached).
    let exec: &mut BtfTracePoint = ebpf
        .program_mut("exec_probe")
        .expect("exec_probe")
        .try_into()
        .expect("a tp_btf program");
    exec.load("sched_process_exec", &btf)
        .unwrap_or_else(|err| panic!("exec_probe loads: {err:?}"));
    let connect: &mut CgroupSockAddr = ebpf
        .program_mut("connect4")
        .expect("connect4")
        .try_into()
        .expect("a cgroup/connect4 program");
    connect
        .load()
        .unwrap_or_else(|err| panic!("connect4 loads: {err:?}"));
    drop(ebpf); // detaches getppid_probe
}

#[test]
fn libbpf_loads_and_dumps_the_same_object() {
    if !kernel_tests_enabled("libbpf_loads_and_dumps_the_same_object") {
        return;
    }
    ensure_mounted("/sys/fs/bpf", "bpf");
    let object = temp_path("host.o");
    let pins = PathBuf::from(format!(
        "/sys/fs/bpf/polc-object-test-{}",
        std::process::id()
    ));
    let _cleanup = Cleanup(vec![pins.clone(), object.clone()]);
    fs::write(&object, host_object()).expect("writes the object");

    let output = Command::new("bpftool")
        .arg("prog")
        .arg("loadall")
        .arg(&object)
        .arg(&pins)
        .output()
        .expect("runs bpftool");
    assert!(
        output.status.success(),
        "bpftool prog loadall failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut pinned: Vec<String> = fs::read_dir(&pins)
        .expect("pin directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    pinned.sort();
    assert_eq!(pinned, ["connect4", "exec_probe", "getppid_probe"]);

    let output = Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(&object)
        .output()
        .expect("runs bpftool");
    let dump = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "bpftool btf dump failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "STRUCT 'task_struct' size=120 vlen=14",
        "STRUCT 'linux_binprm' size=16 vlen=2",
        "FUNC 'getppid_probe' type_id=",
        "VAR 'events' type_id=",
        "DATASEC '.maps' size=96 vlen=3",
    ] {
        assert!(dump.contains(expected), "{expected:?} missing in:\n{dump}");
    }
}

/// Loads raw `.BTF` bytes into the kernel; the kernel's log on refusal.
fn kernel_load_btf(btf: &[u8]) -> Result<(), String> {
    let mut log = vec![0u8; 1 << 16];
    polc_sys::btf_load(btf, &mut log).map(drop).map_err(|err| {
        let text = String::from_utf8_lossy(&log);
        format!("{err}: {}", text.trim_end_matches('\0'))
    })
}

fn section<'a>(elf: &'a [u8], name: &str) -> &'a [u8] {
    use object::{Object as _, ObjectSection as _};
    let file = object::File::parse(elf).expect("ELF parses");
    let section = file.section_by_name(name).expect("section present");
    section.data().expect("section data")
}

#[test]
fn kernel_accepts_the_object_btf_as_written() {
    if !kernel_tests_enabled("kernel_accepts_the_object_btf_as_written") {
        return;
    }
    let bytes = host_object();
    if let Err(log) = kernel_load_btf(section(&bytes, ".BTF")) {
        panic!("the kernel refuses the object's .BTF: {log}");
    }
}

#[test]
fn verifier_rejection_points_at_the_pol_line() {
    if !kernel_tests_enabled("verifier_rejection_points_at_the_pol_line") {
        return;
    }
    let mut asm = Asm::new();
    asm.line(2);
    asm.mov_imm(Reg::R1, 0);
    asm.line(4);
    asm.mov(Reg::R0, Reg::R2); // r2 is never written
    asm.exit();
    let image = ObjectImage {
        programs: vec![ProgramImage {
            section: "tracepoint/syscalls/sys_enter_getppid".into(),
            symbol: "reads_r2".into(),
            code: asm.assemble().expect("assembles"),
        }],
        source_name: "/policies/parent.pol".into(),
        source: SOURCE.into(),
        ..ObjectImage::default()
    };
    let bytes = write_object(&image).expect("writes");
    let mut ebpf = load_with_aya(&bytes, &kernel_btf());
    let program: &mut TracePoint = ebpf
        .program_mut("reads_r2")
        .expect("reads_r2")
        .try_into()
        .expect("a tracepoint");
    match program.load() {
        Err(ProgramError::LoadError { verifier_log, .. }) => {
            let log = format!("{verifier_log:?}");
            assert!(log.contains("R2 !read_ok"), "unexpected rejection:\n{log}");
            assert!(
                log.contains("when proc.ppid == 1 @ parent.pol:4"),
                "no .pol line in the verifier log:\n{log}"
            );
        }
        Ok(()) => panic!("the verifier accepted a read of an uninitialised register"),
        Err(err) => panic!("unexpected load error: {err:?}"),
    }
}
