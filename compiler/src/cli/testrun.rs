//! Runs a compiled test-run program in the kernel with `BPF_PROG_TEST_RUN`,
//! through raw `bpf(2)` calls (maps, their contents and the program, with
//! no object file in between).
//!
//! The program is the policy's real decision code with every field read from
//! a test context (see `polc::ir::TestContext`), so running it on an event
//! gives the decision the kernel makes for that event. It is a raw
//! tracepoint program: its one argument is the address of the test context
//! in this process, which it copies in with `bpf_probe_read_user`. Used by
//! `polc test`; needs root. Part of the `polc` binary only: the compiler
//! library never touches the kernel.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use polc::check::policy::Action;
use polc::codegen::TEST_RUN_RULE_SHIFT;
use polc::compile::Build;
use polc::object::MapDef;

const BPF_MAP_CREATE: u32 = 0;
const BPF_MAP_LOOKUP_ELEM: u32 = 1;
const BPF_MAP_UPDATE_ELEM: u32 = 2;
const BPF_PROG_LOAD: u32 = 5;
const BPF_PROG_TEST_RUN: u32 = 10;
const BPF_OBJ_GET_INFO_BY_FD: u32 = 15;
/// Bytes of `struct bpf_prog_info` up to and including `attach_btf_id`.
const PROG_INFO_LEN: usize = 232;
/// Offset of `verified_insns` in `struct bpf_prog_info` (Linux 5.16 and later).
const PROG_INFO_VERIFIED_INSNS: usize = 216;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
const BPF_PSEUDO_MAP_FD: u64 = 1;

/// A failure to load or run the program.
#[derive(Debug, thiserror::Error)]
pub enum TestRunError {
    #[error("creating map {map}: {source}")]
    Map { map: String, source: io::Error },
    #[error("filling map {map}: {source}")]
    Fill { map: String, source: io::Error },
    #[error("the kernel verifier rejected the test program: {source}\n{log}")]
    Load { source: io::Error, log: String },
    #[error("BPF_PROG_TEST_RUN: {0}")]
    Run(io::Error),
    #[error("reading counters: {0}")]
    Counters(io::Error),
    #[error("the program could not read its test context")]
    NoContext,
}

/// The decision the compiled program made for one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelDecision {
    pub rule: Option<u32>,
    pub action: Action,
    /// Rule ids of the traces whose counters moved, ascending.
    pub traces: Vec<u32>,
}

/// What the kernel and the compiler say about a loaded test-run program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramStats {
    pub symbol: String,
    /// Instructions (`LD_IMM64` once).
    pub insns: u32,
    /// The compiler's worst case of executed instructions (`--stats`).
    pub max_path: u32,
    /// Instructions the verifier processed while checking it, when the
    /// kernel reports it: every instruction a run can execute was processed
    /// at least once.
    pub verified_insns: Option<u32>,
}

/// A loaded test-run program and its maps.
pub struct TestProgram {
    stats: ProgramStats,
    prog: OwnedFd,
    counters: OwnedFd,
    n_counters: u32,
    trace_ids: Vec<u32>,
    n_cpus: usize,
    _maps: Vec<OwnedFd>,
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

#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
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

fn bpf<T>(cmd: u32, attr: &mut T) -> io::Result<i64> {
    // SAFETY: `attr` is a live, initialised `#[repr(C)]` prefix of `union
    // bpf_attr`; the kernel reads (and for some commands writes) at most
    // `size_of::<T>()` bytes of it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_long,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn fd(raw: i64) -> OwnedFd {
    // SAFETY: the bpf syscall just returned this new file descriptor; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(raw as i32) }
}

fn create_map(def: &MapDef) -> Result<OwnedFd, TestRunError> {
    let mut attr = MapCreateAttr {
        map_type: def.kind as u32,
        key_size: def.key_size,
        value_size: def.value_size,
        max_entries: def.max_entries,
        map_flags: def.flags,
        ..Default::default()
    };
    let name = def.name.as_bytes();
    let n = name.len().min(15);
    attr.map_name[..n].copy_from_slice(&name[..n]);
    bpf(BPF_MAP_CREATE, &mut attr)
        .map(fd)
        .map_err(|source| TestRunError::Map {
            map: def.name.clone(),
            source,
        })
}

fn update(map: &OwnedFd, key: &[u8], value: &[u8]) -> io::Result<()> {
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        value: value.as_ptr() as u64,
        ..Default::default()
    };
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr).map(|_| ())
}

fn lookup(map: &OwnedFd, key: &[u8], value: &mut [u8]) -> io::Result<()> {
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        value: value.as_mut_ptr() as u64,
        ..Default::default()
    };
    bpf(BPF_MAP_LOOKUP_ELEM, &mut attr).map(|_| ())
}

/// Number of possible CPUs (per-CPU map values hold one slot each).
fn possible_cpus() -> usize {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    let mut n = 0;
    for part in text.trim().split(',') {
        let mut ends = part.split('-').filter_map(|x| x.parse::<usize>().ok());
        match (ends.next(), ends.next()) {
            (Some(a), Some(b)) => n = n.max(b + 1).max(a + 1),
            (Some(a), None) => n = n.max(a + 1),
            _ => {}
        }
    }
    n.max(1)
}

impl TestProgram {
    /// Creates the maps of `build` (a `compile::build_test_run` output), fills
    /// the set maps and the automata map and loads its one program.
    pub fn load(build: &Build) -> Result<TestProgram, TestRunError> {
        let mut maps = Vec::new();
        for def in &build.image.maps {
            maps.push(create_map(def)?);
        }
        for set in &build.metadata.sets {
            let index = build
                .image
                .maps
                .iter()
                .position(|m| m.name == set.map)
                .expect("every set names a map of the build");
            for key in &set.keys {
                let key = unhex(key);
                update(&maps[index], &key, &[1]).map_err(|source| TestRunError::Fill {
                    map: set.map.clone(),
                    source,
                })?;
            }
        }
        if let Some(index) = build
            .image
            .maps
            .iter()
            .position(|m| m.name == polc::abi::MAP_AUTOMATA)
        {
            let table = unhex(&build.metadata.automata);
            update(&maps[index], &0u32.to_le_bytes(), &table).map_err(|source| {
                TestRunError::Fill {
                    map: polc::abi::MAP_AUTOMATA.into(),
                    source,
                }
            })?;
        }
        let program = &build.image.programs[0];
        let mut slots = program.code.slots.clone();
        for reloc in &program.code.map_relocs {
            let slot = &mut slots[reloc.slot as usize];
            let fd = maps[reloc.map.0 as usize].as_raw_fd() as u32 as u64;
            *slot = (*slot & 0x0000_0000_ffff_ffff & !(0xf << 12))
                | (BPF_PSEUDO_MAP_FD << 12)
                | (fd << 32);
        }
        let license = CString::new("GPL").expect("no NUL");
        // Load without a log first (a large program's log can overflow any
        // buffer, which fails the load); ask for the log only to explain a
        // rejection.
        let load = |log: &mut [u8]| {
            let mut attr = ProgLoadAttr {
                prog_type: BPF_PROG_TYPE_RAW_TRACEPOINT,
                insn_cnt: slots.len() as u32,
                insns: slots.as_ptr() as u64,
                license: license.as_ptr() as u64,
                log_level: u32::from(!log.is_empty()),
                log_size: log.len() as u32,
                log_buf: if log.is_empty() {
                    0
                } else {
                    log.as_mut_ptr() as u64
                },
                ..Default::default()
            };
            let name = b"polc_test_run";
            attr.prog_name[..name.len()].copy_from_slice(name);
            bpf(BPF_PROG_LOAD, &mut attr).map(fd)
        };
        let prog = match load(&mut []) {
            Ok(prog) => prog,
            Err(source) => {
                let mut log = vec![0u8; 16 << 20];
                let _ = load(&mut log);
                return Err(TestRunError::Load {
                    source,
                    log: trim_log(&polc::abi::c_string(&log)),
                });
            }
        };
        let counters_index = build
            .image
            .maps
            .iter()
            .position(|m| m.name == polc::abi::MAP_COUNTERS)
            .expect("every build has counters");
        let counters = maps.remove(counters_index);
        let trace_ids = build
            .metadata
            .rules
            .iter()
            .filter(|r| r.kind == "trace")
            .map(|r| r.id)
            .collect();
        let meta = &build.programs[0].meta;
        let stats = ProgramStats {
            symbol: meta.symbol.clone(),
            insns: meta.insns,
            max_path: meta.max_path,
            verified_insns: verified_insns(&prog),
        };
        Ok(TestProgram {
            stats,
            prog,
            n_counters: build.image.maps[counters_index].max_entries,
            counters,
            trace_ids,
            n_cpus: possible_cpus(),
            _maps: maps,
        })
    }

    /// The program's statistics.
    pub fn stats(&self) -> &ProgramStats {
        &self.stats
    }

    fn counter(&self, key: u32) -> Result<u64, TestRunError> {
        let mut value = vec![0u8; 8 * self.n_cpus];
        lookup(&self.counters, &key.to_le_bytes(), &mut value).map_err(TestRunError::Counters)?;
        Ok(value
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .sum())
    }

    /// Runs the program once on `ctx` (a `TestContext::encode` output).
    pub fn run(&self, ctx: &[u8]) -> Result<KernelDecision, TestRunError> {
        let before: Vec<u64> = self
            .trace_ids
            .iter()
            .map(|id| self.counter(*id))
            .collect::<Result<_, _>>()?;
        // The program copies exactly one test context from this address.
        let mut context = ctx.to_vec();
        context.resize(polc::ir::TestContext::len() as usize, 0);
        let mut args = [context.as_ptr() as u64];
        let mut attr = TestRunAttr {
            prog_fd: self.prog.as_raw_fd() as u32,
            ctx_size_in: std::mem::size_of_val(&args) as u32,
            ctx_in: args.as_mut_ptr() as u64,
            ..Default::default()
        };
        bpf(BPF_PROG_TEST_RUN, &mut attr).map_err(TestRunError::Run)?;
        drop(context);
        if attr.retval == polc::codegen::TEST_RUN_NO_CONTEXT {
            return Err(TestRunError::NoContext);
        }
        let mut traces = Vec::new();
        for (id, old) in self.trace_ids.iter().zip(before) {
            if self.counter(*id)? != old {
                traces.push(*id);
            }
        }
        let rule = (attr.retval >> TEST_RUN_RULE_SHIFT).checked_sub(1);
        let action = match attr.retval & 0xff {
            0 => Action::Allow,
            1 => Action::Audit,
            2 => Action::Deny,
            3 => Action::Kill,
            _ => Action::Trace,
        };
        debug_assert!(self.n_counters as usize > self.trace_ids.len());
        Ok(KernelDecision {
            rule,
            action,
            traces,
        })
    }
}

/// The verifier's processed-instruction count of a loaded program, if the
/// kernel reports one.
fn verified_insns(prog: &OwnedFd) -> Option<u32> {
    let mut info = [0u8; PROG_INFO_LEN];
    let mut attr = InfoAttr {
        bpf_fd: prog.as_raw_fd() as u32,
        info_len: PROG_INFO_LEN as u32,
        info: info.as_mut_ptr() as u64,
    };
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr).ok()?;
    let end = PROG_INFO_VERIFIED_INSNS + 4;
    if (attr.info_len as usize) < end {
        return None;
    }
    let bytes = &info[PROG_INFO_VERIFIED_INSNS..end];
    Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// The last lines of a verifier log: the failing instruction and the summary.
fn trim_log(log: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.is_empty()).collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use polc::check::hooks::{FieldId, Hook};
    use polc::check::policy::*;
    use polc::interp::{self, Event};
    use polc::ir::TestContext;
    use polc::span::Span;

    fn f(name: &str) -> FieldId {
        FieldId::from_name(name).expect("field")
    }

    fn t(name: &str, op: TestOp) -> Expr {
        Expr::Test(Test {
            field: f(name),
            op,
            span: Span::default(),
        })
    }

    /// Whether kernel tests can run (root); when they cannot, skipped with
    /// a note, or a failure when `POLC_KERNEL_TESTS=require`.
    fn kernel_tests_enabled(test: &str) -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            return true;
        }
        assert!(
            !std::env::var("POLC_KERNEL_TESTS").is_ok_and(|v| v == "require"),
            "{test}: kernel tests are required (POLC_KERNEL_TESTS=require) but this process is not root"
        );
        eprintln!("{test}: skipped: needs root");
        false
    }

    #[test]
    fn set_maps_of_every_kind_run_in_test_runs() {
        // Found by the property tests (seed 0x5eed0004): test-run programs
        // were sleepable BPF_PROG_TYPE_SYSCALL programs, which may not use
        // LPM tries, so `polc test` failed on every policy with a large
        // network or prefix list.
        if !kernel_tests_enabled("set_maps_of_every_kind_run_in_test_runs") {
            return;
        }
        let nets4: Vec<String> = (10..20).map(|i| format!("{i}.0.0.0/8")).collect();
        let nets6: Vec<String> = (1..11).map(|i| format!("2001:db8:{i:x}::/48")).collect();
        let prefixes: Vec<String> = (0..10).map(|i| format!("\"/opt/p{i}/\"")).collect();
        let names: Vec<String> = (0..10).map(|i| format!("\"cmd{i}\"")).collect();
        let ports: Vec<String> = (0..10).map(|i| (8000 + i).to_string()).collect();
        let source = format!(
            "list nets = [{}, {}]\nlist prefixes = [{}]\nlist names = [{}]\n\
             rule net {{\n    on net.connect\n    when net.daddr in nets and net.dport in [{}]\n    deny\n}}\n\
             rule opt {{\n    on exec\n    when exec.path startswith prefixes and not proc.comm in names\n    kill\n}}\n",
            nets4.join(", "),
            nets6.join(", "),
            prefixes.join(", "),
            names.join(", "),
            ports.join(", ")
        );
        let checked = polc::check::check_source("sets.pol", &source);
        let policy = checked.policy.expect("the policy checks");
        let field = |name: &str| FieldId::from_name(name).expect("field");
        let ip = |text: &str| Value::Ip {
            addr: text.parse().expect("ip"),
            prefix: if text.contains(':') { 128 } else { 32 },
        };
        let cases = [
            (
                Hook::NetConnect,
                vec![
                    (field("net.daddr"), ip("12.1.2.3")),
                    (field("net.dport"), Value::Int(8003)),
                ],
            ),
            (
                Hook::NetConnect,
                vec![
                    (field("net.daddr"), ip("2001:db8:a::1")),
                    (field("net.dport"), Value::Int(8009)),
                ],
            ),
            (
                Hook::NetConnect,
                vec![
                    (field("net.daddr"), ip("2001:db8:b::1")),
                    (field("net.dport"), Value::Int(8009)),
                ],
            ),
            (
                Hook::NetConnect,
                vec![
                    (field("net.daddr"), ip("9.1.2.3")),
                    (field("net.dport"), Value::Int(8000)),
                ],
            ),
            (
                Hook::Exec,
                vec![
                    (field("exec.path"), Value::Str("/opt/p7/bin".into())),
                    (field("proc.comm"), Value::Str("x".into())),
                ],
            ),
            (
                Hook::Exec,
                vec![
                    (field("exec.path"), Value::Str("/opt/p7/bin".into())),
                    (field("proc.comm"), Value::Str("cmd3".into())),
                ],
            ),
            (
                Hook::Exec,
                vec![
                    (field("exec.path"), Value::Str("/opt/p".into())),
                    (field("proc.comm"), Value::Str("x".into())),
                ],
            ),
        ];
        let mut matched = 0;
        for (hook, values) in cases {
            let build = polc::compile::build_test_run(&policy, &source, hook).expect("builds");
            let program = TestProgram::load(&build).unwrap_or_else(|e| panic!("{hook}: {e}"));
            let event = Event::new(values);
            let want = interp::evaluate(&policy, hook, &event);
            let got = program
                .run(&TestContext::encode(&event))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                (got.rule, got.action),
                (want.rule, want.action),
                "{event:?}"
            );
            matched += usize::from(want.rule.is_some());
            let stats = program.stats();
            assert!(stats.verified_insns.is_some_and(|n| n > 0), "{stats:?}");
            assert_eq!(stats.max_path, build.programs[0].meta.max_path);
        }
        assert_eq!(matched, 3);
    }

    #[test]
    fn decision_code_matches_the_interpreter() {
        if !kernel_tests_enabled("decision_code_matches_the_interpreter") {
            return;
        }
        let shells: Vec<Value> = [
            "/bin/sh",
            "/bin/bash",
            "/usr/bin/bash",
            "/bin/dash",
            "/usr/bin/dash",
            "/bin/zsh",
            "/usr/bin/zsh",
            "/bin/ksh",
            "/bin/fish",
            "/usr/bin/fish",
        ]
        .iter()
        .map(|s| Value::Str(s.to_string()))
        .collect();
        let policy = CheckedPolicy {
            source_name: "t.pol".into(),
            source_hash: String::new(),
            lists: vec![ListDef {
                name: Some("shells".into()),
                elems: shells,
                span: Span::default(),
            }],
            rules: vec![
                CheckedRule {
                    id: 0,
                    name: "tr".into(),
                    kind: RuleKind::Trace,
                    hook: Hook::Exec,
                    cond: Some(t(
                        "proc.comm",
                        TestOp::Str {
                            op: StrOp::Contains,
                            value: "ash".into(),
                        },
                    )),
                    action: Action::Trace,
                    message: None,
                    emit: vec![f("exec.path")],
                    span: Span::default(),
                    name_span: Span::default(),
                    line: 1,
                },
                CheckedRule {
                    id: 1,
                    name: "root".into(),
                    kind: RuleKind::Rule,
                    hook: Hook::Exec,
                    cond: Some(t(
                        "proc.uid",
                        TestOp::IntCmp {
                            op: CmpOp::Eq,
                            value: 0,
                        },
                    )),
                    action: Action::Allow,
                    message: None,
                    emit: vec![],
                    span: Span::default(),
                    name_span: Span::default(),
                    line: 2,
                },
                CheckedRule {
                    id: 2,
                    name: "sh".into(),
                    kind: RuleKind::Rule,
                    hook: Hook::Exec,
                    cond: Some(Expr::And(vec![
                        t("exec.path", TestOp::In(ListId(0))),
                        Expr::Not(Box::new(t(
                            "proc.comm",
                            TestOp::Str {
                                op: StrOp::EndsWith,
                                value: "d".into(),
                            },
                        ))),
                    ])),
                    action: Action::Deny,
                    message: None,
                    emit: vec![],
                    span: Span::default(),
                    name_span: Span::default(),
                    line: 3,
                },
                CheckedRule {
                    id: 3,
                    name: "tmp".into(),
                    kind: RuleKind::Rule,
                    hook: Hook::Exec,
                    cond: Some(t(
                        "exec.path",
                        TestOp::Str {
                            op: StrOp::StartsWith,
                            value: "/tmp/".into(),
                        },
                    )),
                    action: Action::Kill,
                    message: None,
                    emit: vec![],
                    span: Span::default(),
                    name_span: Span::default(),
                    line: 4,
                },
            ],
            tests: vec![],
        };
        let build = polc::compile::build_test_run(&policy, "", Hook::Exec).expect("builds");
        let program = TestProgram::load(&build).unwrap_or_else(|e| panic!("{e}"));
        let cases = [
            (0, "bash", "/bin/bash"),
            (1000, "bash", "/bin/bash"),
            (1000, "sshd", "/bin/bash"),
            (1000, "x", "/tmp/evil"),
            (1000, "x", "/tmp"),
            (1000, "dash", "/usr/bin/fish"),
            (5, "", ""),
        ];
        for (uid, comm, path) in cases {
            let event = Event::new([
                (f("proc.uid"), Value::Int(uid)),
                (f("proc.comm"), Value::Str(comm.into())),
                (f("exec.path"), Value::Str(path.into())),
            ]);
            let want = interp::evaluate(&policy, Hook::Exec, &event);
            let got = program
                .run(&TestContext::encode(&event))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                (got.rule, got.action, got.traces),
                (want.rule, want.action, want.traces),
                "{uid} {comm} {path}"
            );
        }
    }
}
