//! `polc test FILE...`: runs each policy's `test` blocks twice — on the
//! reference interpreter (checked against the block's expectations) and on
//! the compiled decision program in the kernel (checked against the
//! interpreter; a difference there is a compiler bug, reported as one).
//! `--format json` prints one object per test: its file, name and line,
//! whether it passed, both decisions, the compiled program's statistics
//! (instructions, max path, the verifier's processed-instruction count) and
//! the problems found.
//!
//! The kernel half is asked for unless `--interp-only`: when it cannot run
//! (not root), the interpreter's results are still printed and the exit
//! status is 3, so a CI gate never mistakes half a test run for a whole one.
//! A file with errors runs no test: it is reported as such and fails.
//!
//! `--together` runs the files as `polrt run` enforces them together: each
//! test's event goes to every policy, each decides on its own (first match
//! in its own file order) and the strongest verdict wins
//! ([`interp::evaluate_all`]). A test's `expect VERDICT` is then that
//! combined verdict; `by RULE` and `expect traces` name its own policy's
//! rules, whose own decision they check. In the kernel, every policy's
//! compiled program decides the event and each decision is checked against
//! that policy's interpreter decision.

use std::collections::BTreeMap;
use std::process::ExitCode;

use polc::check::hooks::Hook;
use polc::check::policy::{Action, CheckedPolicy};
use polc::compile::{build_test_run, DEFAULT_RINGBUF_BYTES};
use polc::interp::{self, describe_decision as describe, expectation_problems, Decision, Event};
use polc::ir::TestContext;
use serde_json::json;

use super::testrun::{KernelDecision, TestProgram};
use crate::{MessageFormat, TestArgs, EXIT_ERRORS, EXIT_INCOMPLETE, EXIT_USAGE};

/// Runs every test of every file.
pub fn run(args: &TestArgs) -> ExitCode {
    let kernel = if args.interp_only {
        KernelUse::No
    } else {
        kernel_use()
    };
    if let KernelUse::Unavailable(why) = &kernel {
        if std::env::var("POLC_KERNEL_TESTS").is_ok_and(|v| v == "require") {
            eprintln!(
                "polc: the compiled programs cannot be run ({why}) and POLC_KERNEL_TESTS=require"
            );
            return ExitCode::from(EXIT_USAGE);
        }
        eprintln!(
            "polc: error: the compiled programs cannot be run: {why}; only the interpreter is \
             checked (exit status {EXIT_INCOMPLETE}; `--interp-only` asks for the interpreter alone)"
        );
    }
    let files = match super::policy_files(&args.files) {
        Ok(files) => files,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let accounts = std::cell::OnceCell::new();
    let accounts = Accounts {
        read: &accounts,
        args,
    };
    let mut totals = Totals::default();
    let mut usage_error = false;
    let mut together = Vec::new();
    for path in &files {
        let loaded = super::load_policy(path, args.color.enabled(), DEFAULT_RINGBUF_BYTES, true);
        let loaded = match loaded {
            Ok(loaded) => loaded,
            Err(code) => {
                if code == ExitCode::from(EXIT_USAGE) {
                    usage_error = true;
                } else {
                    totals.failed += 1;
                    let name = path.display().to_string();
                    match args.format {
                        MessageFormat::Human => {
                            println!("\nno test ran in {name}: the policy has errors")
                        }
                        MessageFormat::Json => println!(
                            "{}",
                            json!({
                                "file": name,
                                "test": null,
                                "ok": false,
                                "problems": ["no test ran: the policy has errors"],
                            })
                        ),
                    }
                }
                continue;
            }
        };
        if args.together {
            together.push(loaded);
        } else {
            run_file(&loaded, &[], &accounts, &kernel, args.format, &mut totals);
        }
    }
    if args.together && !usage_error {
        if totals.failed > 0 {
            // A file with errors: the set is not what polrt would enforce.
            if args.format == MessageFormat::Human {
                println!(
                    "
no test ran together: a policy of the set has errors"
                );
            }
        } else {
            for (index, loaded) in together.iter().enumerate() {
                let others: Vec<&super::Loaded> = together
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != index)
                    .map(|(_, other)| other)
                    .collect();
                run_file(
                    loaded,
                    &others,
                    &accounts,
                    &kernel,
                    args.format,
                    &mut totals,
                );
            }
        }
    }
    if args.format == MessageFormat::Human {
        let status = if totals.failed == 0 { "ok" } else { "FAILED" };
        let checked_by = match kernel {
            KernelUse::Yes => "interpreter and compiled programs",
            _ => "interpreter only",
        };
        println!(
            "\ntest result: {status}. {} passed; {} failed ({checked_by})",
            totals.passed, totals.failed
        );
    }
    if usage_error {
        ExitCode::from(EXIT_USAGE)
    } else if totals.failed > 0 {
        ExitCode::from(EXIT_ERRORS)
    } else if matches!(kernel, KernelUse::Unavailable(_)) {
        ExitCode::from(EXIT_INCOMPLETE)
    } else {
        ExitCode::SUCCESS
    }
}

/// The user and group databases (`--passwd`, `--group`), read when a
/// policy first names a user or group.
struct Accounts<'a> {
    read: &'a std::cell::OnceCell<Result<polc::accounts::Accounts, String>>,
    args: &'a TestArgs,
}

impl Accounts<'_> {
    /// The values of the fields holding the ids of the names `policy`
    /// compares with, as polrt would write them.
    fn values(
        &self,
        policy: &CheckedPolicy,
    ) -> Result<Vec<(polc::check::hooks::FieldId, polc::check::policy::Value)>, String> {
        if polc::accounts::account_fields(policy).is_empty() {
            return Ok(Vec::new());
        }
        self.read
            .get_or_init(|| polc::accounts::Accounts::read(&self.args.passwd, &self.args.group))
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|accounts| accounts.event_values(policy))
    }
}

enum KernelUse {
    Yes,
    No,
    Unavailable(String),
}

fn kernel_use() -> KernelUse {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return KernelUse::Unavailable("running them needs root (BPF_PROG_TEST_RUN)".into());
    }
    KernelUse::Yes
}

#[derive(Default)]
struct Totals {
    passed: usize,
    failed: usize,
}

/// One policy's compiled test programs, by hook, loaded when a test first
/// needs one.
struct Programs<'a> {
    loaded: &'a super::Loaded,
    programs: BTreeMap<Hook, Result<TestProgram, String>>,
    /// The first test of a hook whose program cannot load reports why (with
    /// the verifier's log); the others name that test.
    load_failure_reported: BTreeMap<Hook, String>,
}

impl<'a> Programs<'a> {
    fn new(loaded: &'a super::Loaded) -> Programs<'a> {
        Programs {
            loaded,
            programs: BTreeMap::new(),
            load_failure_reported: BTreeMap::new(),
        }
    }

    /// Runs the policy's compiled program of `hook` on `event` and checks
    /// it against the interpreter's `decision`: problems go to `problems`;
    /// returns the kernel's decision and the program's statistics as JSON.
    fn check(
        &mut self,
        test_name: &str,
        hook: Hook,
        event: &Event,
        decision: &Decision,
        problems: &mut Vec<String>,
    ) -> (serde_json::Value, serde_json::Value) {
        let (policy, source) = (&self.loaded.policy, &self.loaded.source);
        let test_runs = &self.loaded.test_runs;
        let program = self.programs.entry(hook).or_insert_with(|| {
            // The measured program of the hook, or (a hook no rule is on) a
            // new one.
            let made = test_runs.iter().find(|b| {
                b.programs
                    .first()
                    .is_some_and(|p| p.meta.hook == hook.name())
            });
            match made {
                Some(build) => Ok(build.clone()),
                None => build_test_run(policy, source, hook).map_err(|e| e.to_string()),
            }
            .and_then(|build| TestProgram::load(&build).map_err(|e| format!("compiler bug: {e}")))
        });
        let mut kernel_json = serde_json::Value::Null;
        let mut program_json = serde_json::Value::Null;
        if let Ok(program) = program {
            let stats = program.stats();
            program_json = json!({
                "symbol": stats.symbol,
                "insns": stats.insns,
                "max_path": stats.max_path,
                "verified_insns": stats.verified_insns,
            });
        }
        match program {
            Ok(program) => match program.run(&TestContext::encode(event)) {
                Ok(got) => {
                    kernel_json = decision_json(policy, got.rule, got.action, &got.traces);
                    if !same(&got, decision) {
                        problems.push(format!(
                            "compiler bug: the compiled program of `{}` decided {}, the interpreter {}",
                            self.loaded.name,
                            describe(policy, got.rule, got.action, &got.traces),
                            describe(policy, decision.rule, decision.action, &decision.traces)
                        ));
                    }
                }
                Err(error) => problems.push(format!("running the compiled program: {error}")),
            },
            Err(error) => match self.load_failure_reported.get(&hook) {
                Some(first) => problems.push(format!(
                    "the compiled program of hook `{hook}` could not be loaded (see test `{first}`)"
                )),
                None => {
                    problems.push(error.clone());
                    self.load_failure_reported
                        .insert(hook, test_name.to_string());
                }
            },
        }
        (kernel_json, program_json)
    }
}

/// Runs the tests of `loaded`; with `others` (`--together`), each test's
/// verdict is the strongest of every policy's decision.
fn run_file(
    loaded: &super::Loaded,
    others: &[&super::Loaded],
    accounts: &Accounts<'_>,
    kernel: &KernelUse,
    format: MessageFormat,
    totals: &mut Totals,
) {
    let (name, source, policy) = (&loaded.name, &loaded.source, &loaded.policy);
    if format == MessageFormat::Human {
        let n = policy.tests.len();
        let plural = if n == 1 { "" } else { "s" };
        let with = if others.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = others.iter().map(|o| o.name.as_str()).collect();
            format!(" together with {}", names.join(", "))
        };
        println!("\nrunning {n} test{plural} in {name}{with}");
    }
    let mut programs = Programs::new(loaded);
    let mut other_programs: Vec<Programs> = others.iter().map(|o| Programs::new(o)).collect();
    let mut failures = Vec::new();
    // The ids of the names the policies compare with: every test's event
    // has them, as the kernel's accounts maps would.
    let mut names = Vec::new();
    let mut unresolved = None;
    for p in std::iter::once(policy).chain(others.iter().map(|o| &o.policy)) {
        match accounts.values(p) {
            Ok(values) => names.extend(values),
            Err(why) => unresolved = Some(why),
        }
    }
    for test in &policy.tests {
        let event = Event::new(test.fields.iter().cloned().chain(names.iter().cloned()));
        let own = interp::evaluate(policy, test.hook, &event);
        let other_decisions: Vec<Decision> = others
            .iter()
            .map(|o| interp::evaluate(&o.policy, test.hook, &event))
            .collect();
        // Alone, the policy's own decision; together, its own rule and
        // traces with the strongest verdict of all.
        let verdict = other_decisions
            .iter()
            .map(|d| d.action)
            .chain([own.action])
            .max_by_key(|a| interp::strength(*a))
            .unwrap_or(Action::Allow);
        let decision = Decision {
            action: verdict,
            ..own.clone()
        };
        let mut problems = expectation_problems(policy, test, &decision);
        if let Some(why) = &unresolved {
            problems = vec![format!("{why}: no decision is the node's")];
        }
        if verdict != own.action {
            for problem in &mut problems {
                problem.push_str(&format!(
                    " (with the other policies; `{name}` alone decided {})",
                    describe(policy, own.rule, own.action, &own.traces)
                ));
            }
        }
        let mut kernel_json = serde_json::Value::Null;
        let mut program_json = serde_json::Value::Null;
        if let KernelUse::Yes = kernel {
            (kernel_json, program_json) =
                programs.check(&test.name, test.hook, &event, &own, &mut problems);
            for (other, decision) in other_programs.iter_mut().zip(&other_decisions) {
                other.check(&test.name, test.hook, &event, decision, &mut problems);
            }
        }
        let line = line_of(source, test.span.start as usize);
        let ok = problems.is_empty();
        if ok {
            totals.passed += 1;
        } else {
            totals.failed += 1;
        }
        match format {
            MessageFormat::Human => {
                println!(
                    "test {} ... {}",
                    test.name,
                    if ok { "ok" } else { "FAILED" }
                );
                if !ok {
                    failures.push((test.name.clone(), line, problems.clone()));
                }
            }
            MessageFormat::Json => {
                let object = json!({
                    "file": name,
                    "test": test.name,
                    "line": line,
                    "ok": ok,
                    "interpreter": decision_json(policy, own.rule, own.action, &own.traces),
                    "verdict": verdict.keyword(),
                    "kernel": kernel_json,
                    "program": program_json,
                    "problems": problems,
                });
                println!("{object}");
            }
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:");
        for (test, line, problems) in failures {
            println!("\n---- {test} ({name}:{line}) ----");
            for problem in problems {
                println!("{problem}");
            }
        }
    }
}

fn same(got: &KernelDecision, want: &Decision) -> bool {
    got.rule == want.rule && got.action == want.action && got.traces == want.traces
}

fn decision_json(
    policy: &CheckedPolicy,
    rule: Option<u32>,
    action: Action,
    traces: &[u32],
) -> serde_json::Value {
    json!({
        "action": action.keyword(),
        "rule": rule.map(|id| policy.rules[id as usize].name.clone()),
        "traces": traces.iter().map(|id| policy.rules[*id as usize].name.clone()).collect::<Vec<_>>(),
    })
}

fn line_of(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())].matches('\n').count() + 1
}
