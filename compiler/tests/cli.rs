//! The `polc` command line: exit codes (0 clean, 1 errors, 2 usage or I/O,
//! 3 a test run without its kernel half), output formats, colour choice,
//! `polc explain`; `fmt` (files, directories, `--check`, standard input),
//! `check DIR` and `-D warnings`, `fields`, `--version`, completions and man
//! pages, and `polc test` when the kernel half cannot run.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn polc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polc"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("polc runs")
}

fn repo(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    root.parent()
        .expect("a parent")
        .join(path)
        .display()
        .to_string()
}

fn temp_policy(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("polc-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write policy");
    path.display().to_string()
}

#[test]
fn clean_examples_exit_zero_silently() {
    let out = polc(&[
        "check",
        &repo("examples/overview.pol"),
        &repo("examples/egress.pol"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty() && out.stdout.is_empty());
}

#[test]
fn errors_exit_one_with_rendered_diagnostics() {
    let path = temp_policy(
        "bad.pol",
        "rule r {\n    on exec\n    when proc.uid == \"root\"\n    deny\n}\n",
    );
    let out = polc(&["check", "--color", "never", &path]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error[E0207]: mismatched types"),
        "{stderr}"
    );
    assert!(
        stderr.contains("polc: 1 error: the policy is rejected"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "no colour when asked: {stderr}");
    let coloured = polc(&["check", "--color", "always", &path]);
    assert!(String::from_utf8_lossy(&coloured.stderr).contains('\u{1b}'));
}

#[test]
fn warnings_alone_exit_zero() {
    let path = temp_policy("warn.pol", "list unused = [1]\n");
    let out = polc(&["check", &path]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning[W0001]"));
}

#[test]
fn json_lines_on_stdout() {
    let path = temp_policy("json.pol", "list e = []\nrule r { on nowhere deny }\n");
    let out = polc(&["check", "--format", "json", &path]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with('{') && lines[0].contains("\"code\":\"E0212\""),
        "{stdout}"
    );
    assert!(
        lines[1].contains("\"code\":\"E0301\"") && lines[1].contains("\"line_start\":2"),
        "{stdout}"
    );
}

#[test]
fn missing_file_and_bad_usage_exit_two() {
    let out = polc(&["check", "/nonexistent/policy.pol"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("cannot read `/nonexistent/policy.pol`"),
        "{stderr}"
    );
    assert_eq!(polc(&["check"]).status.code(), Some(2));
    assert_eq!(polc(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        polc(&["check", "--message-format", "xml", "x.pol"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn explain_prints_the_code_doc() {
    let out = polc(&["explain", "e0201"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("E0201 (error): unknown field"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Example:") && stdout.contains("proc.usr"),
        "{stdout}"
    );
    assert_eq!(polc(&["explain", "E9999"]).status.code(), Some(2));
}

#[test]
fn a_closed_output_pipe_ends_polc_quietly() {
    use std::os::unix::process::ExitStatusExt;
    // A pipe whose reading end is already closed: every write is EPIPE.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_polc"))
        .args(["explain", "E0201"])
        .stdout(writer)
        .output()
        .expect("polc runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "polc panicked:\n{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "polc should end by SIGPIPE like a Unix filter: {:?}\n{stderr}",
        out.status
    );
}

/// The fixture exercises rule skipping, entries past known terms and a
/// dispatch by binary search; `polc test` checks the compiled decision
/// programs against the interpreter on every test block (as root; without
/// root it runs the interpreter only, and POLC_KERNEL_TESTS=require makes
/// that an error).
#[test]
fn compiled_skips_and_dispatches_decide_as_the_interpreter() {
    let fixture = repo("compiler/tests/fixtures/skips_and_dispatch.pol");
    let asm = polc(&["build", "--emit", "asm", &fixture]);
    let text = String::from_utf8_lossy(&asm.stdout);
    assert!(
        text.contains("dispatch: 12 rules on net.dport by binary search"),
        "{text}"
    );
    assert!(text.contains("goto b.1"), "{text}");
    let out = polc(&["test", "--color", "never", &fixture]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("14 passed; 0 failed"), "{stdout}");
}

#[test]
fn an_output_of_dash_is_standard_output() {
    let policy = temp_policy(
        "dash_output.pol",
        "trace t {\n    on exec\n    emit proc.comm\n}\n",
    );
    let cwd = std::env::temp_dir().join(format!("polc-cli-dash-{}", std::process::id()));
    std::fs::create_dir_all(&cwd).expect("temp dir");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_polc"))
            .args(args)
            .current_dir(&cwd)
            .output()
            .expect("polc runs")
    };
    let object = run(&["build", &policy, "-o", "-"]);
    assert!(object.status.success(), "{object:?}");
    assert!(
        object.stdout.starts_with(b"\x7fELF"),
        "the object goes to standard output: {:?}",
        &object.stdout[..object.stdout.len().min(16)]
    );
    let asm = run(&["build", "--emit", "asm", &policy, "-o", "-"]);
    assert!(asm.status.success(), "{asm:?}");
    assert!(String::from_utf8_lossy(&asm.stdout).contains("exit"));
    assert!(!cwd.join("-").exists(), "no file called `-` is written");
    assert!(
        !std::path::Path::new(&policy).with_extension("o").exists(),
        "nor the default object path"
    );
    let _ = std::fs::remove_dir_all(&cwd);
}

fn polc_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_polc"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("polc runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("polc ends")
}

/// A fresh directory of its own for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("polc-cli-authoring-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const UNFORMATTED: &str = "rule r{on exec   when proc.uid==0 deny}  # why\n";
const FORMATTED: &str = "rule r {\n    on exec\n    when proc.uid == 0\n    deny\n}  # why\n";

#[test]
fn fmt_rewrites_files_and_check_reports_a_diff() {
    let dir = temp_dir("fmt");
    let path = dir.join("p.pol");
    std::fs::write(&path, UNFORMATTED).expect("write");
    let path = path.display().to_string();
    let check = polc(&["fmt", "--check", &path]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check.stderr));
    let diff = text(&check.stdout);
    assert!(diff.contains(&format!("--- {path}")), "{diff}");
    assert!(
        diff.contains("-rule r{on exec   when proc.uid==0 deny}  # why"),
        "{diff}"
    );
    assert!(diff.contains("+    when proc.uid == 0"), "{diff}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), UNFORMATTED);
    // A directory: every .pol in it, rewritten in place.
    let out = polc(&["fmt", &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&path).expect("read"), FORMATTED);
    let check = polc(&["fmt", "--check", &path]);
    assert_eq!(check.status.code(), Some(0));
    assert!(check.stdout.is_empty());
}

#[test]
fn fmt_reads_standard_input_and_refuses_syntax_errors() {
    let out = polc_stdin(&["fmt"], UNFORMATTED);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), FORMATTED);
    let out = polc_stdin(&["fmt", "-", "--check"], FORMATTED);
    assert_eq!(out.status.code(), Some(0));
    let out = polc_stdin(
        &["fmt", "--color", "never"],
        "rule r { on exec when a = 1 deny }\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("error[E0101]"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_a_directory_and_deny_warnings() {
    let dir = temp_dir("check");
    std::fs::write(dir.join("a.pol"), "rule r { on exec deny }\n").expect("write");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::write(dir.join("sub/b.pol"), "list unused = [1]\n").expect("write");
    std::fs::write(dir.join("notes.txt"), "not a policy").expect("write");
    let dir = dir.display().to_string();
    let out = polc(&["check", "--color", "never", &dir]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("warning[W0001]"));
    for deny in [&["-D", "warnings"][..], &["--deny-warnings"][..]] {
        let mut args = vec!["check", "--color", "never"];
        args.extend_from_slice(deny);
        args.push(&dir);
        let out = polc(&args);
        assert_eq!(out.status.code(), Some(1), "{deny:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("error[W0001]"), "{stderr}");
        assert!(stderr.contains("-D warnings"), "{stderr}");
    }
    let empty = temp_dir("empty");
    let out = polc(&["check", &empty.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no .pol file"));
}

#[test]
fn explain_without_a_code_lists_every_code() {
    let out = polc(&["explain"]);
    assert_eq!(out.status.code(), Some(0));
    let list = text(&out.stdout);
    for code in polc::diag::Code::ALL {
        assert!(
            list.contains(&format!("{code}  ")),
            "{code} missing from\n{list}"
        );
    }
}

#[test]
fn fields_prints_the_table_of_one_hook_or_all() {
    let out = polc(&["fields", "net.connect"]);
    assert_eq!(out.status.code(), Some(0));
    let table = text(&out.stdout);
    assert!(table.starts_with("net.connect: "), "{table}");
    assert!(table.contains("net.daddr"), "{table}");
    assert!(!table.contains("exec.path"), "{table}");
    let all = text(&polc(&["fields"]).stdout);
    assert!(
        all.contains("exec.path") && all.contains("bpf.cmd"),
        "{all}"
    );
    let out = polc(&["fields", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("the hooks are exec, file.open"));
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let version = text(&polc(&["--version"]).stdout);
    assert!(version.starts_with("polc 0."), "{version}");
    assert!(
        version.contains(" (commit ") && version.contains(", built 20"),
        "{version}"
    );
}

#[test]
fn completions_and_man_pages() {
    let bash = polc(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    let script = text(&bash.stdout);
    assert!(
        script.contains("fmt") && script.contains("--deny-warnings"),
        "{script}"
    );
    let dir = temp_dir("man");
    let out = polc(&["man", &dir.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(dir.join("polc-fmt.1")).expect("polc-fmt.1");
    assert!(page.contains(".TH polc-fmt 1"), "{page}");
    assert!(dir.join("polc.1").is_file() && dir.join("polc-check.1").is_file());
}

const TESTED: &str = "rule r {\n    on exec\n    when proc.uid == 0\n    deny\n}\n\ntest \"root\" {\n    on exec with proc.uid = 0\n    expect deny by r\n}\n";

#[test]
fn test_exits_three_when_the_kernel_half_cannot_run() {
    let dir = temp_dir("test-user");
    let path = dir.join("t.pol");
    std::fs::write(&path, TESTED).expect("write");
    // Readable by an unprivileged user.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut command = Command::new(env!("CARGO_BIN_EXE_polc"));
    command
        .args(["test", &path.display().to_string()])
        .env_remove("POLC_KERNEL_TESTS");
    if root {
        command.uid(65534).gid(65534);
    }
    let out = command.output().expect("polc runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("the compiled programs cannot be run"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("test root ... ok"));
    // Asking for the interpreter alone is a whole run.
    let mut command = Command::new(env!("CARGO_BIN_EXE_polc"));
    command.args(["test", "--interp-only", &path.display().to_string()]);
    if root {
        command.uid(65534).gid(65534);
    }
    assert_eq!(command.output().expect("polc runs").status.code(), Some(0));
}

#[test]
fn test_of_a_policy_with_errors_says_no_test_ran() {
    let dir = temp_dir("test-errors");
    let path = dir.join("bad.pol");
    std::fs::write(&path, TESTED.replace("proc.uid == 0", "proc.uid == \"x\"")).expect("write");
    let out = polc(&[
        "test",
        "--interp-only",
        "--color",
        "never",
        &path.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("no test ran in"), "{stdout}");
    assert!(stdout.contains("the policy has errors"), "{stdout}");
}

/// `polc test --together`: each test expects the strongest verdict of every
/// policy of the set (as `polrt run A B` enforces them), with `by RULE`
/// naming its own policy's deciding rule; alone, the same tests fail where
/// another policy's verdict is needed; a set with a broken file runs none.
#[test]
fn test_together_expects_the_strongest_verdict_of_the_set() {
    let dir = temp_dir("test-together");
    let first = dir.join("first.pol");
    std::fs::write(
        &first,
        "rule allow_root {\n    on exec\n    when proc.uid == 0\n    allow\n}\n\nrule audit_all {\n    on exec\n    audit\n}\n\n\
         test \"root runs x: the other policy denies it\" {\n    on exec with proc.uid = 0, exec.path = \"/bin/x\"\n    expect deny\n}\n\n\
         test \"a user runs y: audited here, allowed there\" {\n    on exec with proc.uid = 1000, exec.path = \"/bin/y\"\n    expect audit by audit_all\n}\n",
    )
    .expect("write");
    let second = dir.join("second.pol");
    std::fs::write(
        &second,
        "rule block_x {\n    on exec\n    when exec.path == \"/bin/x\"\n    deny\n}\n\n\
         test \"x is denied, by this policy\" {\n    on exec with proc.uid = 0, exec.path = \"/bin/x\"\n    expect deny by block_x\n}\n\n\
         test \"y: this policy allows, the other audits\" {\n    on exec with proc.uid = 1000, exec.path = \"/bin/y\"\n    expect audit\n}\n",
    )
    .expect("write");
    let (first, second) = (first.display().to_string(), second.display().to_string());
    let out = polc(&["test", "--together", "--color", "never", &first, &second]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("running 2 tests in"), "{stdout}");
    assert!(stdout.contains("first.pol together with /"), "{stdout}");
    assert!(stdout.contains("second.pol together with /"), "{stdout}");
    assert!(stdout.contains("4 passed; 0 failed"), "{stdout}");

    let out = polc(&[
        "test",
        "--together",
        "--format",
        "json",
        "--color",
        "never",
        &first,
        &second,
    ]);
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let root_x = lines
        .iter()
        .find(|l| l["test"] == "root runs x: the other policy denies it")
        .expect("the test");
    assert_eq!(root_x["verdict"], "deny");
    assert_eq!(root_x["interpreter"]["action"], "allow");
    assert_eq!(root_x["interpreter"]["rule"], "allow_root");

    // Alone, each policy decides by itself: two tests fail.
    let out = polc(&["test", "--color", "never", &first, &second]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("2 passed; 2 failed"), "{stdout}");

    // A broken policy in the set: no test runs.
    let broken = dir.join("broken.pol");
    std::fs::write(&broken, "rule r {\n    on exec\n    deny\n").expect("write");
    let out = polc(&[
        "test",
        "--together",
        "--color",
        "never",
        &first,
        &broken.display().to_string(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("no test ran together: a policy of the set has errors"),
        "{stdout}"
    );
    assert!(!stdout.contains("test root runs x"), "{stdout}");
}

/// `polc test --passwd FILE --group FILE`: the names a policy compares
/// with resolve through the given files (the fixture gives `daemon` an id
/// no host does), in the interpreter and in the compiled programs alike; a
/// name the files lack fails every test of the policy, naming it.
#[test]
fn polc_test_resolves_user_names_through_the_files_it_is_given() {
    let fixture = repo("compiler/tests/fixtures/accounts.pol");
    let passwd = repo("examples/accounts/passwd");
    let group = repo("examples/accounts/group");
    let out = polc(&[
        "test", "--color", "never", "--passwd", &passwd, "--group", &group, &fixture,
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("7 passed; 0 failed"), "{stdout}");

    let dir = temp_dir("accounts");
    let lacking = dir.join("passwd");
    std::fs::write(&lacking, "root:x:0:0::/root:/bin/sh\n").expect("write");
    let lacking = lacking.display().to_string();
    let out = polc(&[
        "test",
        "--interp-only",
        "--color",
        "never",
        "--passwd",
        &lacking,
        "--group",
        &group,
        &fixture,
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("0 passed; 7 failed"), "{stdout}");
    assert!(
        stdout.contains(&format!("user `polc-test-user` (not in {lacking})")),
        "{stdout}"
    );
    assert!(!stdout.contains("group `wheel`"), "{stdout}");
}
