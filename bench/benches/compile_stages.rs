//! `cargo bench -p polc-bench`: where `polc build`'s time goes, in process —
//! check (parse, names, types, lints), lowering, codegen and assembly, the
//! cost measurement, and object writing — for policies of 1 to 10,000 rules (the
//! `open_rules` shape of the benchmark harness). Prints a table of medians;
//! nothing is asserted.

use std::time::Instant;

/// `open_rules`: rule i compares the path with its own literal.
fn open_rules(n: usize) -> String {
    let mut source = String::new();
    for i in 0..n {
        source.push_str(&format!(
            "rule r{i:05} {{\n    on file.open\n    when file.path == \"/srv/polc-bench/rule-{i:05}\" and proc.uid != 0\n    audit \"{{proc.comm}} (uid {{proc.uid}}) opened {{file.path}}\"\n}}\n"
        ));
    }
    source
}

/// `connect_rules`: rule i compares the port with 20000 + i.
fn connect_rules(n: usize) -> String {
    let mut source = String::new();
    for i in 0..n {
        source.push_str(&format!(
            "rule r{i:05} {{\n    on net.connect\n    when net.dport == {}\n    audit \"{{proc.comm}} connecting to {{net.daddr}} port {{net.dport}}\"\n}}\n",
            20_000 + i
        ));
    }
    source
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep it short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let sizes: &[usize] = if quick {
        &[1, 10]
    } else {
        &[1, 10, 100, 1000, 10_000]
    };
    let reps = if quick { 1 } else { 5 };
    for (shape, policy) in [
        ("open_rules", open_rules as fn(usize) -> String),
        ("connect_rules", connect_rules),
    ] {
        println!(
            "{shape:<14} {:>7}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  (ms, median of {reps})",
            "rules", "check", "lower", "codegen", "measure", "object", "total"
        );
        stages_of(policy, sizes, reps);
    }
}

fn stages_of(policy: fn(usize) -> String, sizes: &[usize], reps: usize) {
    for &n in sizes {
        let source = policy(n);
        let mut stages: [Vec<f64>; 5] = Default::default();
        for _ in 0..reps {
            let t0 = Instant::now();
            let checked = polc::check::check_source("bench.pol", &source);
            let t1 = Instant::now();
            let errors = checked.has_errors();
            let Some(policy) = checked.policy.filter(|_| !errors) else {
                println!(
                    "{:<14} {n:>7}  rejected: {}",
                    "", checked.diagnostics[0].message
                );
                break;
            };
            let module = polc::ir::lower(&policy);
            let t2 = Instant::now();
            drop(module);
            let build = polc::compile::build(&policy, &source, 1 << 20).expect("builds");
            let t3 = Instant::now();
            // What `compile_source` adds: the test-run programs and the
            // measurement of every program.
            let test_runs: Vec<_> = policy
                .hooks()
                .into_iter()
                .map(|hook| polc::compile::build_test_run(&policy, &source, hook).expect("builds"))
                .collect();
            let diagnostics = polc::measure::measure(&policy, &build, &test_runs);
            let t4 = Instant::now();
            let bytes = build.object_bytes().expect("writes");
            let t5 = Instant::now();
            assert!(!bytes.is_empty());
            if !diagnostics.is_empty() {
                println!("{:<14} {n:>7}  rejected: {}", "", diagnostics[0].message);
                break;
            }
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
            stages[0].push(ms(t0, t1));
            stages[1].push(ms(t1, t2));
            // `build` lowers again: codegen is its time less lowering's.
            stages[2].push((ms(t2, t3) - ms(t1, t2)).max(0.0));
            stages[3].push(ms(t3, t4));
            stages[4].push(ms(t4, t5));
        }
        if stages[0].is_empty() {
            continue;
        }
        let m: Vec<f64> = stages.into_iter().map(median).collect();
        println!(
            "{:<14} {n:>7}  {:>8.2}  {:>8.2}  {:>8.2}  {:>8.2}  {:>8.2}  {:>8.2}",
            "",
            m[0],
            m[1],
            m[2],
            m[3],
            m[4],
            m.iter().sum::<f64>()
        );
    }
}
