//! Runs a compiled test-run program in the kernel with `BPF_PROG_TEST_RUN`,
//! through the project's `bpf(2)` layer (`polc-sys`, which checks every
//! buffer against the kernel's maps): maps, their contents and the program,
//! with no object file in between.
//!
//! The program is the policy's real decision code with every field read from
//! a test context (see `polc::ir::TestContext`), so running it on an event
//! gives the decision the kernel makes for that event. It is a raw
//! tracepoint program: its one argument is the address of the test context
//! in this process, which it copies in with `bpf_probe_read_user`. Used by
//! `polc test`; needs root. Part of the `polc` binary only: the compiler
//! library never touches the kernel.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use polc::abi::Verdict;
use polc::check::policy::Action;
use polc::codegen::TEST_RUN_RULE_SHIFT;
use polc::compile::Build;
use polc::object::MapDef;
use polc_sys::{MapSpec, ProgSpec};

/// A failure to load or run the program.
#[derive(Debug, thiserror::Error)]
pub enum TestRunError {
    #[error("creating map {map}: {source}")]
    Map {
        map: String,
        source: polc_sys::Error,
    },
    #[error("filling map {map}: {source}")]
    Fill {
        map: String,
        source: polc_sys::Error,
    },
    #[error("the kernel verifier rejected the test program{at}: {reason}\n{log}")]
    Load {
        /// What went wrong ([`polc_sys::verifier::explain`]).
        reason: String,
        /// ` at rule `r` (p.pol:3)` when the failing instruction is in a
        /// rule's code; empty otherwise.
        at: String,
        /// The log trimmed to the failing instruction.
        log: String,
    },
    #[error("BPF_PROG_TEST_RUN: {0}")]
    Run(polc_sys::Error),
    #[error("reading counters: {0}")]
    Counters(polc_sys::Error),
    #[error("the program could not read its test context")]
    NoContext,
    #[error("the build has no map `{0}`")]
    MissingMap(String),
    #[error("set map {map}: key `{key}` is not hex")]
    BadKey { map: String, key: String },
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
    trace_ids: Vec<u32>,
    _maps: Vec<OwnedFd>,
}

fn create_map(def: &MapDef) -> Result<OwnedFd, TestRunError> {
    polc_sys::map_create(&MapSpec {
        map_type: def.kind.map_type(),
        key_size: def.key_size,
        value_size: def.value_size,
        max_entries: def.max_entries,
        map_flags: def.flags,
        name: &def.name,
    })
    .map_err(|source| TestRunError::Map {
        map: def.name.clone(),
        source,
    })
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
                .ok_or_else(|| TestRunError::MissingMap(set.map.clone()))?;
            let fill = |source| TestRunError::Fill {
                map: set.map.clone(),
                source,
            };
            let map = polc_sys::Map::new(maps[index].as_fd()).map_err(fill)?;
            for (i, key) in set.keys.iter().enumerate() {
                let bad = |key: &String| TestRunError::BadKey {
                    map: set.map.clone(),
                    key: key.clone(),
                };
                let bytes = polc::abi::unhex(key).ok_or_else(|| bad(key))?;
                let value = match set.values.get(i) {
                    Some(value) => polc::abi::unhex(value).ok_or_else(|| bad(value))?,
                    None => vec![1],
                };
                map.update(&bytes, &value, 0).map_err(fill)?;
            }
        }
        if let Some(index) = build
            .image
            .maps
            .iter()
            .position(|m| m.name == polc::abi::MAP_AUTOMATA)
        {
            let fill = |source| TestRunError::Fill {
                map: polc::abi::MAP_AUTOMATA.into(),
                source,
            };
            let table =
                polc::abi::unhex(&build.metadata.automata).ok_or_else(|| TestRunError::BadKey {
                    map: polc::abi::MAP_AUTOMATA.into(),
                    key: "(the automata's tables)".into(),
                })?;
            polc_sys::Map::new(maps[index].as_fd())
                .map_err(fill)?
                .update(&0u32.to_le_bytes(), &table, 0)
                .map_err(fill)?;
        }
        let program = &build.image.programs[0];
        let mut slots = program.code.slots.clone();
        for reloc in &program.code.map_relocs {
            let slot = &mut slots[reloc.slot as usize];
            let fd = maps[reloc.map.0 as usize].as_raw_fd() as u32 as u64;
            *slot = (*slot & 0x0000_0000_ffff_ffff & !(0xf << 12))
                | (u64::from(polc_sys::BPF_PSEUDO_MAP_FD) << 12)
                | (fd << 32);
        }
        let spec = ProgSpec {
            prog_type: polc_sys::BPF_PROG_TYPE_RAW_TRACEPOINT,
            insns: &slots,
            license: "GPL",
            name: "polc_test_run",
        };
        // Load without a log first (a large program's log can overflow any
        // buffer, which fails the load); ask for the log only to explain a
        // rejection.
        let prog = match polc_sys::prog_load(&spec, &mut []) {
            Ok(prog) => prog,
            Err(error) => {
                let mut log = vec![0u8; 16 << 20];
                let _ = polc_sys::prog_load(&spec, &mut log);
                let rejection = polc_sys::verifier::explain(
                    error.raw_os_error(),
                    &error.to_string(),
                    &polc::abi::c_string(&log),
                );
                return Err(TestRunError::Load {
                    at: rejection
                        .insn
                        .and_then(|slot| rule_at(build, slot))
                        .unwrap_or_default(),
                    reason: rejection.reason,
                    log: rejection.log,
                });
            }
        };
        let counters_index = build
            .image
            .maps
            .iter()
            .position(|m| m.name == polc::abi::MAP_COUNTERS)
            .ok_or_else(|| TestRunError::MissingMap(polc::abi::MAP_COUNTERS.into()))?;
        let counters = maps.remove(counters_index);
        let trace_ids = build
            .metadata
            .rules
            .iter()
            .filter(|r| r.kind == polc::abi::RuleKind::Trace)
            .map(|r| r.id)
            .collect();
        let meta = &build.programs[0].meta;
        let stats = ProgramStats {
            symbol: meta.symbol.clone(),
            insns: meta.insns,
            max_path: meta.max_path,
            verified_insns: polc_sys::prog_verified_insns(prog.as_fd()),
        };
        Ok(TestProgram {
            stats,
            prog,
            counters,
            trace_ids,
            _maps: maps,
        })
    }

    /// The program's statistics.
    pub fn stats(&self) -> &ProgramStats {
        &self.stats
    }

    /// The sum over CPUs of counter `key`. The buffer is as large as the
    /// kernel says the per-CPU map's values are.
    fn counter(&self, key: u32) -> Result<u64, TestRunError> {
        let map = polc_sys::Map::new(self.counters.as_fd()).map_err(TestRunError::Counters)?;
        let mut value = vec![0u8; map.value_len()];
        map.lookup(&key.to_le_bytes(), &mut value)
            .map_err(TestRunError::Counters)?;
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
        let args = [context.as_ptr() as u64];
        let retval =
            polc_sys::prog_test_run(self.prog.as_fd(), &args).map_err(TestRunError::Run)?;
        drop(context);
        if retval == polc::codegen::TEST_RUN_NO_CONTEXT {
            return Err(TestRunError::NoContext);
        }
        let mut traces = Vec::new();
        for (id, old) in self.trace_ids.iter().zip(before) {
            if self.counter(*id)? != old {
                traces.push(*id);
            }
        }
        let rule = (retval >> TEST_RUN_RULE_SHIFT).checked_sub(1);
        // The low byte is the verdict code of the header (0: allowed).
        let action = match Verdict::from_code((retval & 0xff) as u8) {
            None => Action::Allow,
            Some(Verdict::Audit) => Action::Audit,
            Some(Verdict::Deny | Verdict::WouldDeny) => Action::Deny,
            Some(Verdict::Kill | Verdict::WouldKill) => Action::Kill,
            Some(Verdict::Trace) => Action::Trace,
        };
        Ok(KernelDecision {
            rule,
            action,
            traces,
        })
    }
}

/// ` at rule `r` (p.pol:3)`: the rule whose code holds instruction `slot`
/// of the build's one program (by the program's line info: each rule's
/// code carries its declaration's line).
fn rule_at(build: &Build, slot: u32) -> Option<String> {
    let program = build.programs.first()?;
    let line = program
        .code
        .lines
        .iter()
        .take_while(|(from, _)| *from <= slot)
        .last()
        .map(|(_, line)| *line)?;
    let rule = build.metadata.rule_at(&program.meta.hook, line)?;
    Some(format!(
        " at rule `{}` ({}:{line})",
        rule.name, build.metadata.source_name
    ))
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

    use polc_sys::test_gate::kernel_tests_enabled;

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
    fn list_files_run_as_set_maps_in_test_runs_as_the_interpreter_decides() {
        if !kernel_tests_enabled(
            "list_files_run_as_set_maps_in_test_runs_as_the_interpreter_decides",
        ) {
            return;
        }
        let dir = std::env::temp_dir().join(format!("polc-testrun-lists-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        // Few entries: a list file is a set map whatever its size.
        std::fs::write(
            dir.join("nets.txt"),
            "10.0.0.0/8
# v6
fd00::/8
0.0.0.0/0
",
        )
        .expect("nets");
        std::fs::write(
            dir.join("ports.txt"),
            "22
0x1bb
",
        )
        .expect("ports");
        std::fs::write(
            dir.join("dirs.txt"),
            "/opt/
\"/srv/x\"
",
        )
        .expect("dirs");
        std::fs::write(
            dir.join("names.txt"),
            "evil
",
        )
        .expect("names");
        let source = "list nets = file \"nets.txt\"\nlist ports = file \"ports.txt\"\n\
                      list dirs = file \"dirs.txt\"\nlist names = file \"names.txt\"\n\
                      rule net {\n    on net.connect\n    when net.daddr in nets and net.dport in ports\n    deny\n}\n\
                      rule opt {\n    on exec\n    when exec.path startswith dirs or proc.comm in names\n    kill\n}\n";
        let checked = polc::check::check_source_in("lists.pol", source, &dir);
        let policy = checked
            .policy
            .unwrap_or_else(|| panic!("{:?}", checked.diagnostics));
        let field = |name: &str| FieldId::from_name(name).expect("field");
        let ip = |text: &str| Value::Ip {
            addr: text.parse().expect("ip"),
            prefix: if text.contains(':') { 128 } else { 32 },
        };
        let net = |addr: &str, port: u64| {
            (
                Hook::NetConnect,
                vec![
                    (field("net.daddr"), ip(addr)),
                    (field("net.dport"), Value::Int(port)),
                ],
            )
        };
        let exec = |path: &str, comm: &str| {
            (
                Hook::Exec,
                vec![
                    (field("exec.path"), Value::Str(path.into())),
                    (field("proc.comm"), Value::Str(comm.into())),
                ],
            )
        };
        let cases = [
            net("10.1.2.3", 22),
            net("11.1.2.3", 443),
            net("fd00::1", 443),
            net("fe80::1", 443),
            net("10.1.2.3", 80),
            exec("/opt/a", "x"),
            exec("/srv/xy", "x"),
            exec("/srv/", "x"),
            exec("/usr/bin/a", "evil"),
            exec("/usr/bin/a", "good"),
        ];
        let mut matched = 0;
        for (hook, values) in cases {
            let build = polc::compile::build_test_run(&policy, source, hook).expect("builds");
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
        }
        // 0.0.0.0/0 matches every IPv4 address; fd00::/8 the one IPv6.
        assert_eq!(matched, 6);
        std::fs::remove_dir_all(&dir).expect("clean");
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
                file: None,
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

    #[test]
    fn a_verifier_complexity_limit_is_named_with_its_rule() {
        // `proc.uid == 0 or proc.uid == 1 or ...` ten thousand times: each
        // comparison leaves a branch pending, and the host verifier gives up
        // ("The sequence of 8193 jumps is too complex", errno EFAULT). Built
        // without the checker, which refuses it for its branches (E0402).
        if !kernel_tests_enabled("a_verifier_complexity_limit_is_named_with_its_rule") {
            return;
        }
        let uids = (0..10_000)
            .map(|value| {
                t(
                    "proc.uid",
                    TestOp::IntCmp {
                        op: CmpOp::Eq,
                        value,
                    },
                )
            })
            .collect();
        let policy = CheckedPolicy {
            source_name: "secrets.pol".into(),
            source_hash: String::new(),
            lists: vec![],
            rules: vec![CheckedRule {
                id: 0,
                name: "r".into(),
                kind: RuleKind::Rule,
                hook: Hook::FileOpen,
                cond: Some(Expr::Or(uids)),
                action: Action::Deny,
                message: None,
                emit: vec![],
                span: Span::default(),
                name_span: Span::default(),
                line: 3,
            }],
            tests: vec![],
        };
        let build = polc::compile::build_test_run(&policy, "", Hook::FileOpen).expect("builds");
        let Err(error) = TestProgram::load(&build) else {
            panic!("the verifier accepted ten thousand pending branches");
        };
        let TestRunError::Load { reason, at, log } = &error else {
            panic!("not a rejection: {error}");
        };
        assert!(
            reason.starts_with(
                "too many branches for the verifier: the sequence of 8193 jumps is too complex"
            ),
            "{reason}"
        );
        assert_eq!(at, " at rule `r` (secrets.pol:3)");
        assert!(log.contains("The sequence of 8193 jumps"), "{log}");
        let text = error.to_string();
        assert!(!text.contains("Bad address"), "{text}");
        assert_eq!(text.matches("The sequence of 8193").count(), 1, "{text}");
    }
}
