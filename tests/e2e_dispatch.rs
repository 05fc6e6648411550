//! End-to-end test of string dispatch on the real kernel (root): 200 rules
//! `file.path == "..."` (runs of them, between rules whose first term is
//! something else) dispatch through one hash lookup each run, and deny
//! exactly the files they name, under their own names and under another
//! name (a hard link: the identity fallback), with first-match order kept
//! for a literal two rules share.
//!
//! Safe on a shared host: every rule is scoped to the test's own cgroup v2
//! directory, and everything is detached when polrt stops.

#[path = "e2e/support.rs"]
mod support;

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use polc_tests::kernel_tests_enabled;
use support::{polc_bin, run_in, write_policy, Polrt, TempDir, TestCgroup};

/// Whether `cat PATH` in `cgroup` reads the file.
fn reads(cgroup: &TestCgroup, path: &Path) -> bool {
    let mut command = Command::new("cat");
    command.arg(path);
    run_in(cgroup, &mut command).0.success()
}

#[test]
fn two_hundred_path_rules_dispatch_by_one_lookup_and_deny_exactly_their_files() {
    if !kernel_tests_enabled(
        "two_hundred_path_rules_dispatch_by_one_lookup_and_deny_exactly_their_files",
    ) {
        return;
    }
    let work = TempDir::new("dispatch");
    let cgroup = TestCgroup::new("dispatch");
    let dir = work.path.join("files");
    fs::create_dir(&dir).expect("files dir");
    let file = |name: &str| dir.join(name);
    let mut policy = String::new();
    for i in 0..200 {
        fs::write(file(&format!("denied-{i:03}")), "x\n").expect("write");
        let _ = writeln!(
            policy,
            "rule deny_{i:03} {{\n    on file.open\n    when file.path == \"{}\" and proc.uid != 4242\n    deny\n}}\n",
            file(&format!("denied-{i:03}")).display()
        );
        if i % 50 == 49 {
            // A rule whose first term is another test: the runs end here.
            let _ = writeln!(
                policy,
                "rule other_{i:03} {{\n    on file.open\n    when proc.uid == 4242 and file.path == \"{}\"\n    deny\n}}\n",
                file("allowed").display()
            );
        }
        if i == 120 {
            // One literal, two rules: the first whose other terms hold
            // decides (the first of them cannot match: no such command).
            let shared = file("shared").display().to_string();
            let _ = writeln!(
                policy,
                "rule shared_first {{\n    on file.open\n    when file.path == \"{shared}\" and proc.comm == \"no-such-command\"\n    deny\n}}\n\n\
                 rule shared_second {{\n    on file.open\n    when file.path == \"{shared}\" and proc.comm == \"cat\"\n    audit\n}}\n\n\
                 rule shared_third {{\n    on file.open\n    when file.path == \"{shared}\"\n    deny\n}}\n",
            );
        }
    }
    for name in ["allowed", "shared", "unnamed"] {
        fs::write(file(name), "x\n").expect("write");
    }
    fs::hard_link(file("denied-007"), file("other-name-of-007")).expect("hard link");
    let policy = write_policy(&work, "dispatch.pol", &policy);

    // The rules are dispatched: one hash lookup per run, not 200 compares.
    let asm = emit_asm(&policy);
    let lookups = asm
        .lines()
        .filter(|l| l.contains("rules on file.path") && l.contains("by one hash lookup"))
        .count();
    assert!(lookups >= 4, "{lookups} dispatches");

    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    for i in [0, 1, 7, 48, 49, 50, 99, 100, 120, 121, 150, 198, 199] {
        assert!(
            !reads(&cgroup, &file(&format!("denied-{i:03}"))),
            "denied-{i:03} is denied"
        );
    }
    assert!(reads(&cgroup, &file("allowed")), "a file no rule names");
    assert!(reads(&cgroup, &file("unnamed")));
    assert!(
        !reads(&cgroup, &file("other-name-of-007")),
        "a named file under another name is denied too"
    );
    assert!(
        reads(&cgroup, &file("shared")),
        "the second rule of a shared literal decides (audit), not the third"
    );
    let finished = polrt.stop_ok();
    assert!(finished.matches("deny_000") >= 1);
    assert!(finished.matches("deny_199") >= 1);
    assert!(finished.matches("deny_007") >= 2, "by name and by identity");
    assert!(finished.matches("shared_second") >= 1);
    assert_eq!(finished.matches("shared_first"), 0);
    assert_eq!(finished.matches("shared_third"), 0);
    assert_eq!(finished.matches("deny_002"), 0);
}

/// A run of `==` rules that differ only in their literal shares one body:
/// the hash map's value is the rule id, and on a resolved path the identity
/// map holds, per file, the first rule whose literal leads to it. On the
/// real kernel (root) the run denies exactly the files it names, and each
/// decision is counted for the first rule, in order, whose first test
/// holds: by name, by another name (a hard link, a symbolic link), and for
/// a later rule's literal that is a hard link of an earlier rule's file.
#[test]
fn a_run_sharing_one_body_decides_for_the_first_rule_by_name_or_by_file() {
    if !kernel_tests_enabled("a_run_sharing_one_body_decides_for_the_first_rule_by_name_or_by_file")
    {
        return;
    }
    let work = TempDir::new("shared-run");
    let cgroup = TestCgroup::new("shared-run");
    let dir = work.path.join("files");
    fs::create_dir(&dir).expect("files dir");
    let file = |name: &str| dir.join(name);
    let mut policy = String::new();
    for i in 0..40 {
        let _ = writeln!(
            policy,
            "rule deny_{i:02} {{\n    on file.open\n    when file.path == \"{}\" and proc.uid != 4242\n    deny \"{{proc.comm}} opened {{file.path}}\"\n}}\n",
            file(&format!("f-{i:02}")).display()
        );
        // f-12 is another name of f-03's file; f-30 names no file.
        if i != 12 && i != 30 {
            fs::write(file(&format!("f-{i:02}")), "x\n").expect("write");
        }
    }
    fs::hard_link(file("f-03"), file("f-12")).expect("hard link");
    fs::hard_link(file("f-07"), file("alias-of-07")).expect("hard link");
    std::os::unix::fs::symlink(file("f-09"), file("link-to-09")).expect("symlink");
    fs::write(file("unnamed"), "x\n").expect("write");
    let policy = write_policy(&work, "shared.pol", &policy);

    let asm = emit_asm(&policy);
    assert!(
        asm.contains("40 rules on file.path sharing one body"),
        "the run shares one body:\n{asm}"
    );
    assert!(
        !asm.contains("deny_39 matched"),
        "no rule of the run has code of its own"
    );

    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    for name in [
        "f-00",
        "f-05",
        "f-03",
        "f-12",
        "f-39",
        "alias-of-07",
        "link-to-09",
    ] {
        assert!(!reads(&cgroup, &file(name)), "{name} is denied");
    }
    assert!(reads(&cgroup, &file("unnamed")), "a file no rule names");
    let finished = polrt.stop_ok();
    for rule in ["deny_00", "deny_05", "deny_39", "deny_07", "deny_09"] {
        assert!(finished.matches(rule) >= 1, "{rule} decided");
    }
    assert!(
        finished.matches("deny_03") >= 2,
        "f-03 by name, and f-12 (its file) by the earlier rule"
    );
    for rule in ["deny_12", "deny_01", "deny_30"] {
        assert_eq!(finished.matches(rule), 0, "{rule} never decides");
    }
    let events = finished.of_type("event");
    let opened_12 = events
        .iter()
        .filter(|e| e["rule"] == "deny_03")
        .any(|e| e.to_string().contains("f-12"));
    assert!(
        opened_12,
        "the open of f-12 is reported by deny_03: {events:?}"
    );
}

/// `polc build --emit asm` of `policy`.
fn emit_asm(policy: &Path) -> String {
    let asm = Command::new(polc_bin())
        .args(["build", "--emit", "asm", "-o", "-"])
        .arg(policy)
        .output()
        .expect("polc build");
    assert!(
        asm.status.success(),
        "{}",
        String::from_utf8_lossy(&asm.stderr)
    );
    String::from_utf8_lossy(&asm.stdout).into_owned()
}

/// `polc build --emit asm` of `policy`: the prefix dispatches in it.
fn prefix_lookups(policy: &Path) -> usize {
    emit_asm(policy)
        .lines()
        .filter(|l| l.contains("by one LPM trie lookup"))
        .count()
}

/// One real-open dispatch test (root): `n` rules `deny_<i>` whose first
/// test is `first_test(dir, i)` (then `and proc.uid != 4242`), each naming
/// file `file(i)` under the test's files directory `dir`, then the rules
/// `more(dir)`, and the files `others`. The rules are dispatched (one LPM
/// trie lookup at least). While polrt runs them in the test's cgroup, the
/// files of rules 0, 1, 5, 10 and the last, and `denied`, are refused and
/// `readable` read; afterwards those rules and `reported` have matched,
/// `deny_02` and `never` not.
struct OpenCase<'a> {
    name: &'a str,
    n: usize,
    file: fn(usize) -> String,
    first_test: fn(&Path, usize) -> String,
    more: fn(&Path) -> String,
    others: &'a [&'a str],
    denied: &'a [&'a str],
    readable: &'a [(&'a str, &'a str)],
    reported: &'a [&'a str],
    never: &'a [&'a str],
}

fn run_open_case(case: &OpenCase<'_>) {
    let work = TempDir::new(case.name);
    let cgroup = TestCgroup::new(case.name);
    let dir = work.path.join("files");
    let create = |name: &str| {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().expect("a parent")).expect("dir");
        fs::write(&path, "x\n").expect("write");
    };
    let mut policy = String::new();
    for i in 0..case.n {
        create(&(case.file)(i));
        let _ = writeln!(
            policy,
            "rule deny_{i:02} {{\n    on file.open\n    when {} and proc.uid != 4242\n    deny\n}}\n",
            (case.first_test)(&dir, i)
        );
    }
    policy += &(case.more)(&dir);
    for name in case.others {
        create(name);
    }
    let policy = write_policy(&work, &format!("{}.pol", case.name), &policy);
    assert!(prefix_lookups(&policy) >= 1, "the rules are dispatched");

    let sampled = [0, 1, 5, 10, case.n - 1];
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    for i in sampled {
        let name = (case.file)(i);
        assert!(!reads(&cgroup, &dir.join(&name)), "{name} is denied");
    }
    for name in case.denied {
        assert!(!reads(&cgroup, &dir.join(name)), "{name} is denied");
    }
    for (name, why) in case.readable {
        assert!(reads(&cgroup, &dir.join(name)), "{name}: {why}");
    }
    let finished = polrt.stop_ok();
    for i in sampled {
        assert!(
            finished.matches(&format!("deny_{i:02}")) >= 1,
            "deny_{i:02}"
        );
    }
    assert_eq!(finished.matches("deny_02"), 0);
    for rule in case.reported {
        assert!(finished.matches(rule) >= 1, "{rule}");
    }
    for rule in case.never {
        assert_eq!(finished.matches(rule), 0, "{rule}");
    }
}

/// Prefix dispatch on the real kernel (root): rules whose first test is
/// `file.path startswith "..."` (20 of them, then three that overlap)
/// dispatch through one LPM trie lookup, deny exactly the files under
/// their prefixes, and keep first-match order where the longest prefix is
/// not the first rule whose prefix holds.
#[test]
fn prefix_rules_dispatch_by_one_lpm_lookup_in_first_match_order() {
    if !kernel_tests_enabled("prefix_rules_dispatch_by_one_lpm_lookup_in_first_match_order") {
        return;
    }
    run_open_case(&OpenCase {
        name: "prefix-dispatch",
        n: 20,
        file: |i| format!("d{i:02}/f"),
        first_test: |dir, i| {
            format!(
                "file.path startswith \"{}/\"",
                dir.join(format!("d{i:02}")).display()
            )
        },
        // Overlapping prefixes: "ov/in/" is the longest match for a file
        // under it, but "ov/" comes first in order (and fails on its
        // command), then "ov/in/" audits before the last "ov/" rule denies.
        more: |dir| {
            format!(
                "rule ov_first {{\n    on file.open\n    when file.path startswith \"{ov}/\" and proc.comm == \"no-such-command\"\n    deny\n}}\n\n\
                 rule ov_in_audit {{\n    on file.open\n    when file.path startswith \"{ov}/in/\"\n    audit\n}}\n\n\
                 rule ov_deny {{\n    on file.open\n    when file.path startswith \"{ov}/\"\n    deny\n}}\n\n",
                ov = dir.join("ov").display()
            )
        },
        others: &["ov/in/f", "ov/g", "unnamed", "d05-not-a-dir"],
        denied: &["ov/g"],
        readable: &[
            ("unnamed", "a file no prefix names"),
            (
                "d05-not-a-dir",
                "a name that starts like a prefix without its slash",
            ),
            (
                "ov/in/f",
                "the second rule in order decides (audit), not the last",
            ),
        ],
        reported: &["ov_in_audit", "ov_deny"],
        never: &["ov_first"],
    });
}

/// `polc test` on tests/e2e/prefix_dispatch.pol: the interpreter and the
/// compiled programs (`BPF_PROG_TEST_RUN`) decide every test alike, with
/// the prefix runs dispatched.
#[test]
fn polc_test_decides_prefix_dispatch_in_the_kernel_as_the_interpreter() {
    if !kernel_tests_enabled("polc_test_decides_prefix_dispatch_in_the_kernel_as_the_interpreter") {
        return;
    }
    let policy = polc_tests::repo_root().join("tests/e2e/prefix_dispatch.pol");
    assert!(
        prefix_lookups(&policy) >= 3,
        "the three runs are dispatched"
    );
    support::assert_polc_test_in_kernel(&policy, 27);
}

// suffix dispatch (LPM trie of reversed literals)
/// Suffix dispatch on the real kernel (root): rules whose first test is
/// `file.path endswith "..."` (16 of them, then overlapping ones) dispatch
/// through one LPM trie lookup of the path's last bytes reversed, deny
/// exactly the files with their suffixes, and keep first-match order where
/// the longest suffix is not the first rule whose suffix holds.
#[test]
fn suffix_rules_dispatch_by_one_lpm_lookup_in_first_match_order() {
    if !kernel_tests_enabled("suffix_rules_dispatch_by_one_lpm_lookup_in_first_match_order") {
        return;
    }
    run_open_case(&OpenCase {
        name: "suffix-dispatch",
        n: 16,
        file: |i| format!("f.sfx{i:02}"),
        first_test: |_, i| format!("file.path endswith \".sfx{i:02}\""),
        // Overlapping suffixes: "cert.pem" is the longest match for
        // "server-cert.pem", but ".pem" comes first in order (and fails on
        // its command), then "cert.pem" audits before the last ".pem" rule
        // denies.
        more: |_| {
            "rule pem_first {\n    on file.open\n    when file.path endswith \".pem\" and proc.comm == \"no-such-command\"\n    deny\n}\n\n\
             rule cert_pem_audit {\n    on file.open\n    when file.path endswith \"cert.pem\"\n    audit\n}\n\n\
             rule key_deny {\n    on file.open\n    when file.path endswith \".key\"\n    deny\n}\n\n\
             rule pem_deny {\n    on file.open\n    when file.path endswith \".pem\"\n    deny\n}\n\n"
                .to_string()
        },
        others: &[
            "server-cert.pem",
            "ca.pem",
            "tls.key",
            "unnamed",
            "f.sfx05.bak",
            "key",
        ],
        denied: &["ca.pem", "tls.key"],
        readable: &[
            ("unnamed", "a file no suffix names"),
            ("f.sfx05.bak", "a name that has a suffix before its end"),
            ("key", "a name shorter than the suffix"),
            (
                "server-cert.pem",
                "the second rule in order decides (audit), not the last",
            ),
        ],
        reported: &["cert_pem_audit", "pem_deny", "key_deny"],
        never: &["pem_first"],
    });
}

/// `polc test` on tests/e2e/suffix_dispatch.pol: the interpreter and the
/// compiled programs (`BPF_PROG_TEST_RUN`) decide every test alike, with
/// the suffix runs (on a resolved path, one with a common suffix, on
/// `proc.comm`, on `exec.cmdline` past an LPM key's 256 bytes) dispatched.
#[test]
fn polc_test_decides_suffix_dispatch_in_the_kernel_as_the_interpreter() {
    if !kernel_tests_enabled("polc_test_decides_suffix_dispatch_in_the_kernel_as_the_interpreter") {
        return;
    }
    let policy = polc_tests::repo_root().join("tests/e2e/suffix_dispatch.pol");
    assert!(prefix_lookups(&policy) >= 4, "the four runs are dispatched");
    support::assert_polc_test_in_kernel(&policy, 42);
}
