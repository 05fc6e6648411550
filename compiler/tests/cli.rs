//! The `polc` command line: exit codes (0 clean, 1 errors, 2 usage or I/O),
//! output formats, colour choice and `polc explain`.

use std::path::PathBuf;
use std::process::{Command, Output};

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
        stdout.contains("Example:") && stdout.contains("proc.user"),
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
