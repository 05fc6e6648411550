//! The promise "a policy that checks is a policy the kernel accepts, and it
//! decides exactly as written", as properties over generated policies
//! (`polc_tests::gen`):
//!
//! - every generated policy checks with no error, builds, writes an object
//!   that polrt's reader reads back to the same metadata, and stays within
//!   its cost bound (`check::cost::hook_bound` ≥ every program's
//!   `--stats` max path);
//! - (kernel) every program the host can load passes the real verifier
//!   (`polrt::loader::verify`, in process); LSM programs, which this host's
//!   lockdown refuses before the verifier runs, are counted as not
//!   verifiable here, never as passed;
//! - (kernel) on generated events, the compiled decision code run with
//!   `BPF_PROG_TEST_RUN` decides as the interpreter does (rule, action,
//!   traces): `polc test --format json` runs generated `test` blocks whose
//!   expectations come from the interpreter, and a "compiler bug" mismatch
//!   fails the property;
//! - the same decision code, run by the instruction-counting executor
//!   (`polc_tests::exec`) on every generated event, decides as the
//!   interpreter, counts and reports exactly what decided, captures the
//!   event's values, and executes at most max-path instructions; in the
//!   kernel property, the verifier's processed-instruction count of the
//!   same program is at least what the executor ran.
//!
//! `POLC_PROP_SEED` (decimal or 0x hex) sets the first policy's seed, and
//! policy `i` uses seed + i; `POLC_PROP_CASES` the number of policies;
//! `POLC_PROP_EVENTS` the events per hook. Every failure prints the seed,
//! the command that reproduces it and the policy's source. Each property
//! prints a summary line (policies, programs, events, ratios, time).

#[path = "e2e/support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Instant;

use polc::check::cost;
use polc::check::hooks::{FieldId, Hook};
use polc::check::policy::{Action, CheckedPolicy, Expr, RuleKind, StrOp, TestOp};
use polc::compile::{self, Build};
use polc::interp::{self, Decision, Event, FieldValue};
use polc::ir::{SetKind, TestContext};
use polc_tests::exec::Executor;
use polc_tests::gen::events::{self, EventGen};
use polc_tests::gen::policy::{self, Shape};
use polc_tests::gen::rng::{Entropy, SplitMix64};
use polc_tests::kernel_tests_enabled;
use polrt::loader::Verification;
use support::{polc_bin, TempDir};

/// Ring buffer size of the generated objects (the smallest allowed: the
/// properties never read it, and small maps are quick to create).
const RINGBUF: u32 = 4096;

struct Settings {
    seed: u64,
    cases: usize,
    events: usize,
}

fn settings(default_cases: usize) -> Settings {
    let number = |name: &str| {
        std::env::var(name).ok().map(|text| {
            let text = text.trim().replace('_', "");
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name}={text} is not a number"))
        })
    };
    Settings {
        seed: number("POLC_PROP_SEED").unwrap_or(0x5eed_0000),
        cases: number("POLC_PROP_CASES").map_or(default_cases, |n| n as usize),
        events: number("POLC_PROP_EVENTS").map_or(12, |n| n as usize),
    }
}

/// One generated policy.
struct Case {
    seed: u64,
    source: String,
    policy: CheckedPolicy,
}

impl Case {
    fn generate(seed: u64) -> Case {
        let source = policy::policy(&mut SplitMix64::new(seed), &Shape::default_shape());
        let checked = polc::check::check_source("generated.pol", &source);
        let errors: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        match checked.policy {
            Some(policy) if errors.is_empty() => Case {
                seed,
                source,
                policy,
            },
            _ => panic!(
                "a generated policy does not check (a generator bug, or a checker bug)\n{}\n{}\n{source}",
                reproduce(seed),
                polc::diag::render_text(&errors, "generated.pol", &source, false)
            ),
        }
    }

    /// Fails with the seed and the source.
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n{}\n---- generated.pol ----\n{}",
            reproduce(self.seed),
            self.source
        )
    }

    fn build(&self) -> Build {
        compile::build(&self.policy, &self.source, RINGBUF)
            .unwrap_or_else(|e| self.fail(&format!("the policy checks but does not build: {e}")))
    }

    fn build_test_run(&self, hook: Hook) -> Build {
        compile::build_test_run(&self.policy, &self.source, hook).unwrap_or_else(|e| {
            self.fail(&format!(
                "the test-run program of {hook} does not build: {e}"
            ))
        })
    }

    /// The hooks events are generated for: the policy's, and now and then
    /// one it has no rule on (the program of an empty hook decides too).
    fn event_hooks(&self) -> Vec<Hook> {
        let mut hooks = self.policy.hooks();
        let mut rng = SplitMix64::new(self.seed ^ 0x40_0c5);
        if rng.chance(20) {
            let other: Vec<Hook> = Hook::ALL
                .into_iter()
                .filter(|h| !hooks.contains(h))
                .collect();
            if !other.is_empty() {
                hooks.push(other[rng.index(other.len())]);
            }
        }
        hooks
    }

    /// `n` raw events on `hook`, the same in every property.
    fn events(&self, hook: Hook, n: usize) -> Vec<Event> {
        let gen = EventGen::new(&self.policy, hook);
        let mut rng = SplitMix64::new(self.seed ^ 0xe7e7_0000 ^ hook as u64);
        (0..n).map(|_| gen.event(&mut rng)).collect()
    }
}

fn reproduce(seed: u64) -> String {
    format!(
        "seed {seed:#x}; reproduce with: POLC_PROP_SEED={seed:#x} POLC_PROP_CASES=1 cargo test -p polc-tests --test properties"
    )
}

fn cases(settings: &Settings) -> impl Iterator<Item = Case> + '_ {
    (0..settings.cases as u64).map(|i| Case::generate(settings.seed.wrapping_add(i)))
}

/// Min, median and max of some ratios, for summaries.
fn spread(mut values: Vec<f64>) -> String {
    if values.is_empty() {
        return "-".into();
    }
    values.sort_by(f64::total_cmp);
    format!(
        "min {:.2}, median {:.2}, max {:.2}",
        values[0],
        values[values.len() / 2],
        values[values.len() - 1]
    )
}

/// What a corpus exercised, as feature names.
#[derive(Default)]
struct Coverage {
    seen: BTreeSet<String>,
}

impl Coverage {
    fn add(&mut self, feature: impl Into<String>) {
        self.seen.insert(feature.into());
    }

    fn policy(&mut self, policy: &CheckedPolicy, build: &Build) {
        for rule in &policy.rules {
            self.add(format!("hook {}", rule.hook.name()));
            self.add(format!("action {}", rule.action.keyword()));
            if rule.message.is_some() {
                self.add("message");
            }
            if rule.cond.is_none() {
                self.add(format!("{:?} without when", rule.kind));
            }
            if let Some(cond) = &rule.cond {
                self.expr(policy, cond);
            }
        }
        for set in &build.module.sets {
            self.add(match set.kind {
                SetKind::IntHash => "set int hash",
                SetKind::StrHash { .. } => "set string hash",
                SetKind::StrPrefix { .. } => "set string prefix trie",
                SetKind::Ip4 => "set IPv4 trie",
                SetKind::Ip6 => "set IPv6 trie",
            });
        }
    }

    fn expr(&mut self, policy: &CheckedPolicy, expr: &Expr) {
        match expr {
            Expr::And(items) | Expr::Or(items) => {
                self.add(if matches!(expr, Expr::And(_)) {
                    "and"
                } else {
                    "or"
                });
                items.iter().for_each(|e| self.expr(policy, e));
            }
            Expr::Not(inner) => {
                self.add("not");
                self.expr(policy, inner);
            }
            Expr::Test(test) => {
                self.add(format!("field {}", test.field.spec().name));
                let op = match &test.op {
                    TestOp::IntCmp { op, .. } => format!("int {}", op.symbol()),
                    TestOp::StrEq(_) => "str ==".into(),
                    TestOp::Str { op, .. } => format!("str {}", str_op(*op)),
                    TestOp::StrAny { op, .. } => format!("str {} list", str_op(*op)),
                    TestOp::IpIn { addr, prefix } => {
                        let full = if addr.is_ipv4() { 32 } else { 128 };
                        format!(
                            "ip {} {}",
                            if addr.is_ipv4() { "v4" } else { "v6" },
                            if *prefix == full {
                                "address"
                            } else {
                                "network"
                            }
                        )
                    }
                    TestOp::IsTrue => "bool".into(),
                    TestOp::In(list) => {
                        let named = policy.list(*list).name.is_some();
                        format!(
                            "{} in {} list",
                            test.field.spec().ty.kind_name(),
                            if named { "named" } else { "inline" }
                        )
                    }
                };
                self.add(op);
            }
        }
    }

    /// Every feature a corpus of a few hundred policies must exercise.
    fn assert_complete(&self, what: &str) {
        let mut want: Vec<String> = Vec::new();
        for hook in Hook::ALL {
            want.push(format!("hook {}", hook.name()));
        }
        for field in FieldId::all() {
            want.push(format!("field {}", field.spec().name));
        }
        for action in ["allow", "audit", "deny", "kill", "trace"] {
            want.push(format!("action {action}"));
        }
        for op in ["==", "!=", "<", "<=", ">", ">="] {
            if op != "!=" {
                // `!=` is `not ==` once checked.
                want.push(format!("int {op}"));
            }
        }
        for op in ["startswith", "endswith", "contains"] {
            want.push(format!("str {op}"));
            want.push(format!("str {op} list"));
        }
        for kind in ["int", "str", "ip"] {
            want.push(format!("{kind} in named list"));
            want.push(format!("{kind} in inline list"));
        }
        for v in ["v4", "v6"] {
            want.push(format!("ip {v} address"));
            want.push(format!("ip {v} network"));
        }
        for other in [
            "str ==",
            "bool",
            "and",
            "or",
            "not",
            "message",
            "Rule without when",
            "set int hash",
            "set string hash",
            "set string prefix trie",
            "set IPv4 trie",
            "set IPv6 trie",
        ] {
            want.push(other.to_string());
        }
        let missing: Vec<&String> = want.iter().filter(|w| !self.seen.contains(*w)).collect();
        assert!(
            missing.is_empty(),
            "{what}: the generated corpus never exercised {missing:?} (the generator lost coverage)"
        );
    }
}

fn str_op(op: StrOp) -> &'static str {
    match op {
        StrOp::StartsWith => "startswith",
        StrOp::EndsWith => "endswith",
        StrOp::Contains => "contains",
    }
}

#[test]
fn generated_policies_check_build_and_stay_within_their_bound() {
    let settings = settings(300);
    let started = Instant::now();
    let mut coverage = Coverage::default();
    let (mut n_programs, mut ratios) = (0usize, Vec::new());
    for case in cases(&settings) {
        let build = case.build();
        coverage.policy(&case.policy, &build);
        // The object reads back as what was built.
        let bytes = build
            .object_bytes()
            .unwrap_or_else(|e| case.fail(&format!("writing the object: {e}")));
        let object = polrt::object::parse_object("generated.o", bytes)
            .unwrap_or_else(|e| case.fail(&format!("polrt cannot read the object: {e}")));
        if object.metadata != build.metadata {
            case.fail("the object's metadata differs from the build's");
        }
        for program in &build.programs {
            let in_elf = object
                .elf_programs
                .iter()
                .find(|p| p.section == program.meta.section)
                .map_or(0, |p| p.code_bytes);
            if in_elf < 8 * program.code.slots.len() as u64 {
                case.fail(&format!(
                    "section {} holds {in_elf} bytes, program {} has {} slots",
                    program.meta.section,
                    program.meta.symbol,
                    program.code.slots.len()
                ));
            }
        }
        // The cost model's bound is never below a program's max path.
        let mut programs: Vec<(Hook, compile::BuiltProgram)> = Vec::new();
        for program in &build.programs {
            if let Some(hook) = Hook::from_name(&program.meta.hook) {
                programs.push((hook, program.clone()));
            }
        }
        for hook in case.event_hooks() {
            let test_run = case.build_test_run(hook);
            programs.push((hook, test_run.programs[0].clone()));
        }
        for (hook, program) in programs {
            let bound = cost::hook_bound(&case.policy, hook);
            let max_path = u64::from(program.meta.max_path);
            if max_path > bound {
                case.fail(&format!(
                    "program {} executes up to {max_path} instructions, above the cost model's bound of {bound} for `{hook}`",
                    program.meta.symbol
                ));
            }
            n_programs += 1;
            ratios.push(max_path as f64 / bound as f64);
        }
    }
    eprintln!(
        "properties: {} policies (seeds {:#x}..), {n_programs} programs built; max path / cost bound: {}; {:.1}s",
        settings.cases,
        settings.seed,
        spread(ratios),
        started.elapsed().as_secs_f64()
    );
    if settings.cases >= 200 {
        coverage.assert_complete("generated_policies_check_build_and_stay_within_their_bound");
    }
}

#[test]
fn generated_policies_pass_the_kernel_verifier() {
    if !kernel_tests_enabled("generated_policies_pass_the_kernel_verifier") {
        return;
    }
    let settings = settings(150);
    let started = Instant::now();
    let types = polrt::probe::kernel_btf().unwrap_or_else(|e| panic!("kernel BTF: {e}"));
    let features = polrt::probe::kernel_features().unwrap_or_else(|e| panic!("features: {e}"));
    let (mut passed, mut not_verifiable) = (0usize, 0usize);
    let mut ratios = Vec::new();
    let mut below = 0usize;
    let mut by_section: BTreeMap<String, usize> = BTreeMap::new();
    for case in cases(&settings) {
        let build = case.build();
        let bytes = build
            .object_bytes()
            .unwrap_or_else(|e| case.fail(&format!("writing the object: {e}")));
        let object = polrt::object::parse_object("generated.o", bytes)
            .unwrap_or_else(|e| case.fail(&format!("polrt cannot read the object: {e}")));
        let results = polrt::loader::verify(&object, &types, features, false)
            .unwrap_or_else(|e| case.fail(&format!("the object does not load: {e}")));
        for (meta, verification) in results {
            match verification {
                Verification::Passed { verified_insns, .. } => {
                    passed += 1;
                    *by_section.entry(meta.section.clone()).or_default() += 1;
                    let verified = verified_insns.unwrap_or_else(|| {
                        case.fail("the kernel reports no verified instruction count")
                    });
                    ratios.push(f64::from(verified) / f64::from(meta.max_path.max(1)));
                    below += usize::from(verified < meta.max_path);
                }
                Verification::NotVerifiable(why) => {
                    if !meta.section.starts_with("lsm/") {
                        case.fail(&format!(
                            "program {} ({}) could not be loaded here: {why}",
                            meta.symbol, meta.section
                        ));
                    }
                    not_verifiable += 1;
                }
                Verification::Rejected { error, log } => case.fail(&format!(
                    "the kernel verifier rejected program {} ({}): {error}\n{log}",
                    meta.symbol, meta.section
                )),
            }
        }
    }
    let total = passed + not_verifiable;
    eprintln!(
        "properties: {} policies, {total} programs: {passed} passed the verifier, 0 rejected \
         (acceptance 100% of the {passed} loadable here), {not_verifiable} LSM programs not \
         verifiable on this host; verifier-processed / max path: {} ({below} programs below 1); {:.1}s",
        settings.cases,
        spread(ratios),
        started.elapsed().as_secs_f64()
    );
    assert!(
        settings.cases == 0 || passed > 0,
        "no program was verified at all"
    );
    eprintln!("properties: programs verified per section: {by_section:?}");
}

/// A decision as `polc test --format json` prints it.
fn decision_json(policy: &CheckedPolicy, decision: &Decision) -> serde_json::Value {
    serde_json::json!({
        "action": decision.action.keyword(),
        "rule": decision.rule.map(|id| policy.rules[id as usize].name.clone()),
        "traces": decision
            .traces
            .iter()
            .map(|id| policy.rules[*id as usize].name.clone())
            .collect::<Vec<_>>(),
    })
}

/// One generated test block and what it must come to.
struct Expected {
    event: Event,
    decision: serde_json::Value,
    /// Instructions the executor ran for it.
    executed: u32,
}

#[test]
fn compiled_decisions_equal_the_interpreter_in_the_kernel() {
    if !kernel_tests_enabled("compiled_decisions_equal_the_interpreter_in_the_kernel") {
        return;
    }
    let settings = settings(300);
    let started = Instant::now();
    let dir = TempDir::new("properties");
    let mut sources: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut expected: BTreeMap<(String, String), Expected> = BTreeMap::new();
    let mut decided_by: BTreeMap<&'static str, usize> = BTreeMap::new();
    for case in cases(&settings) {
        let mut source = case.source.clone();
        let file = dir.path.join(format!("case-{:x}.pol", case.seed));
        let file_name = file.display().to_string();
        let mut rng = SplitMix64::new(case.seed ^ 0x7e57);
        let mut n = 0;
        for hook in case.event_hooks() {
            let build = case.build_test_run(hook);
            let mut executor = Executor::new(&build)
                .unwrap_or_else(|e| case.fail(&format!("the executor cannot set up {hook}: {e}")));
            for raw in case.events(hook, settings.events) {
                let event = events::for_test_block(&raw);
                let decision = interp::evaluate(&case.policy, hook, &event);
                let executed = executor
                    .run(&TestContext::encode(&event), case.seed)
                    .unwrap_or_else(|fault| case.fail(&format!("the executor faults: {fault}")))
                    .executed;
                *decided_by
                    .entry(match (decision.rule, decision.action) {
                        (None, _) => "no rule",
                        (_, Action::Allow) => "allow rule",
                        (_, Action::Audit) => "audit",
                        (_, Action::Deny) => "deny",
                        _ => "kill",
                    })
                    .or_default() += 1;
                if !decision.traces.is_empty() {
                    *decided_by.entry("with traces").or_default() += 1;
                }
                let name = format!("e{n}");
                n += 1;
                source.push('\n');
                source.push_str(&events::test_block(
                    &mut rng,
                    &case.policy,
                    &name,
                    hook,
                    &event,
                    &decision,
                ));
                expected.insert(
                    (file_name.clone(), name),
                    Expected {
                        event,
                        decision: decision_json(&case.policy, &decision),
                        executed,
                    },
                );
            }
        }
        std::fs::write(&file, &source).expect("write a generated policy");
        sources.insert(file_name, (case.seed, source));
    }
    // One `polc test` per batch of files.
    let files: Vec<&String> = sources.keys().collect();
    let mut seen = 0usize;
    let mut verified_over_executed = Vec::new();
    for batch in files.chunks(60) {
        let out = Command::new(polc_bin())
            .args(["test", "--format", "json", "--color", "never"])
            .args(batch.iter().map(|f| f.as_str()))
            .env("POLC_KERNEL_TESTS", "require")
            .output()
            .expect("run polc test");
        let stdout = String::from_utf8_lossy(&out.stdout);
        for line in stdout.lines() {
            let result: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
                panic!("polc test printed a line that is not JSON ({e}): {line}")
            });
            let file = result["file"].as_str().unwrap_or_default().to_string();
            let test = result["test"].as_str().unwrap_or_default().to_string();
            let Some(want) = expected.get(&(file.clone(), test.clone())) else {
                panic!("polc test reported a test nobody wrote: {line}");
            };
            let (seed, source) = &sources[&file];
            let fail = |what: String| -> ! {
                panic!(
                    "{what}\nevent: {}\n{}\n---- {file} ----\n{source}",
                    events::describe(&want.event),
                    reproduce(*seed)
                )
            };
            if result["kernel"] != want.decision || result["interpreter"] != want.decision {
                fail(format!(
                    "test {test}: the interpreter says {}, the compiled program in the kernel {}, expected {}; problems: {}",
                    result["interpreter"], result["kernel"], want.decision, result["problems"]
                ));
            }
            if result["ok"] != serde_json::Value::Bool(true) {
                fail(format!("test {test} failed: {}", result["problems"]));
            }
            // Every instruction a run executes, the verifier processed.
            let program = &result["program"];
            let (Some(verified), Some(max_path)) = (
                program["verified_insns"].as_u64(),
                program["max_path"].as_u64(),
            ) else {
                fail(format!("test {test}: no program statistics: {program}"));
            };
            let executed = u64::from(want.executed);
            if executed > verified || executed > max_path {
                fail(format!(
                    "test {test}: the executor ran {executed} instructions; the verifier processed {verified}, max path {max_path}"
                ));
            }
            verified_over_executed.push(verified as f64 / executed as f64);
            seen += 1;
        }
        if !out.status.success() || seen == 0 && !batch.is_empty() {
            panic!(
                "polc test exited with {}:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert_eq!(
        seen,
        expected.len(),
        "polc test ran {seen} of the {} generated tests",
        expected.len()
    );
    eprintln!(
        "properties: {} policies, {seen} events run in the kernel (BPF_PROG_TEST_RUN via polc test), \
         all decided as the interpreter; decisions: {decided_by:?}; verifier-processed / executed \
         instructions: {}; {:.1}s",
        settings.cases,
        spread(verified_over_executed),
        started.elapsed().as_secs_f64()
    );
    for kind in ["no rule", "allow rule", "audit", "deny", "kill"] {
        assert!(
            settings.cases < 100 || decided_by.get(kind).copied().unwrap_or(0) > 0,
            "no generated event was decided by {kind}: {decided_by:?}"
        );
    }
}

#[test]
fn every_example_ships_tests_that_pass_in_the_kernel() {
    if !kernel_tests_enabled("every_example_ships_tests_that_pass_in_the_kernel") {
        return;
    }
    let mut examples: Vec<String> = std::fs::read_dir(polc_tests::repo_root().join("examples"))
        .expect("examples/")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pol"))
        .map(|p| p.display().to_string())
        .collect();
    examples.sort();
    assert!(!examples.is_empty(), "no examples");
    let out = Command::new(polc_bin())
        .args(["test", "--format", "json", "--color", "never"])
        .args(&examples)
        .env("POLC_KERNEL_TESTS", "require")
        .output()
        .expect("run polc test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "polc test on the examples: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut tests_per_file: BTreeMap<String, usize> = BTreeMap::new();
    for line in stdout.lines() {
        let result: serde_json::Value = serde_json::from_str(line).expect("JSON lines");
        assert_eq!(result["ok"], serde_json::Value::Bool(true), "{line}");
        assert!(!result["kernel"].is_null(), "not run in the kernel: {line}");
        assert_eq!(result["kernel"], result["interpreter"], "{line}");
        *tests_per_file
            .entry(result["file"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    for example in &examples {
        assert!(
            tests_per_file.get(example).copied().unwrap_or(0) > 0,
            "{example} ships no test block"
        );
    }
}

/// A captured field's value as the runtime decodes it from a record.
fn expected_capture(event: &Event, field: FieldId) -> polrt::events::Value {
    match event.get(field) {
        FieldValue::Int(n) => polrt::events::Value::Int(n),
        FieldValue::Bool(b) => polrt::events::Value::Bool(b),
        FieldValue::Str(bytes) => {
            polrt::events::Value::Str(String::from_utf8_lossy(&bytes).into_owned())
        }
        FieldValue::Ip(addr) => polrt::events::Value::Ip(addr),
    }
}

/// Checks one executor run against the interpreter; `Err` says what differs.
fn check_run(
    policy: &CheckedPolicy,
    build: &Build,
    event: &Event,
    decision: &Decision,
    run: &polc_tests::exec::Run,
) -> Result<(), String> {
    let traces: Vec<u32> = policy
        .rules
        .iter()
        .filter(|r| r.kind == RuleKind::Trace && run.counters[r.id as usize] > 0)
        .map(|r| r.id)
        .collect();
    if run.rule() != decision.rule
        || run.action() != Some(decision.action)
        || traces != decision.traces
    {
        return Err(format!(
            "the executor decided rule {:?} action {:?} traces {traces:?} (r0 = {:#x}), the interpreter {decision:?}",
            run.rule(),
            run.action(),
            run.retval
        ));
    }
    // Counters: each fired trace once, the deciding rule once, nothing else.
    for rule in &policy.rules {
        let want = u64::from(decision.traces.contains(&rule.id) || decision.rule == Some(rule.id));
        if run.counters[rule.id as usize] != want {
            return Err(format!(
                "counter of `{}` is {}, expected {want}",
                rule.name, run.counters[rule.id as usize]
            ));
        }
    }
    // Records: one per fired trace, then one for a deciding non-allow rule.
    let mut want: Vec<(u32, polc::abi::Verdict)> = decision
        .traces
        .iter()
        .map(|id| (*id, polc::abi::Verdict::Trace))
        .collect();
    if let (Some(rule), action) = (decision.rule, decision.action) {
        let verdict = match action {
            Action::Audit => Some(polc::abi::Verdict::Audit),
            Action::Deny => Some(polc::abi::Verdict::Deny),
            Action::Kill => Some(polc::abi::Verdict::Kill),
            _ => None,
        };
        if let Some(verdict) = verdict {
            want.push((rule, verdict));
        }
    }
    if run.records.len() != want.len() {
        return Err(format!(
            "{} records written, expected {} ({want:?})",
            run.records.len(),
            want.len()
        ));
    }
    for (record, (rule, verdict)) in run.records.iter().zip(&want) {
        let decoded = polrt::events::decode(&build.metadata, record)
            .map_err(|e| format!("a record does not decode: {e}"))?;
        if decoded.rule_id != *rule || decoded.verdict != *verdict {
            return Err(format!(
                "record of rule {} verdict {:?}, expected rule {rule} verdict {verdict:?}",
                decoded.rule_id, decoded.verdict
            ));
        }
        for (name, value) in &decoded.fields {
            let field = FieldId::from_name(name).ok_or_else(|| format!("unknown field {name}"))?;
            let expected = expected_capture(event, field);
            if *value != expected {
                return Err(format!(
                    "record of `{}` captured {name} = {value:?}, the event holds {expected:?}",
                    policy.rules[*rule as usize].name
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn the_executor_decides_as_the_interpreter_within_max_path() {
    let settings = settings(300);
    let started = Instant::now();
    let (mut runs, mut max_executed, mut ratios) = (0usize, 0u32, Vec::new());
    for case in cases(&settings) {
        for hook in case.event_hooks() {
            let build = case.build_test_run(hook);
            let program = &build.programs[0];
            let max_path = program.meta.max_path;
            let mut executor = Executor::new(&build)
                .unwrap_or_else(|e| case.fail(&format!("the executor cannot set up {hook}: {e}")));
            for (i, raw) in case.events(hook, settings.events).into_iter().enumerate() {
                let clamped = events::for_test_block(&raw);
                for event in [raw, clamped] {
                    let decision = interp::evaluate(&case.policy, hook, &event);
                    let ctx = TestContext::encode(&event);
                    let run = executor
                        .run(&ctx, case.seed ^ i as u64)
                        .unwrap_or_else(|fault| {
                            case.fail(&format!(
                                "the {hook} test-run program faults: {fault}\nevent: {}\n{}",
                                events::describe(&event),
                                build.program_disassembly(program)
                            ))
                        });
                    if let Err(what) = check_run(&case.policy, &build, &event, &decision, &run) {
                        case.fail(&format!(
                            "on `{hook}`: {what}\nevent: {}\n{}",
                            events::describe(&event),
                            build.program_disassembly(program)
                        ));
                    }
                    if run.executed > max_path {
                        case.fail(&format!(
                            "the {hook} test-run program executed {} instructions, above its max path {max_path}",
                            run.executed
                        ));
                    }
                    runs += 1;
                    max_executed = max_executed.max(run.executed);
                    ratios.push(f64::from(run.executed) / f64::from(max_path));
                }
            }
        }
    }
    eprintln!(
        "properties: {} policies, {runs} events run by the executor, all decided as the interpreter; \
         executed / max path: {} (most executed: {max_executed}); {:.1}s",
        settings.cases,
        spread(ratios),
        started.elapsed().as_secs_f64()
    );
}
