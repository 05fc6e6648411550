//! The `polc` commands around the checker: `fmt` (files, directories,
//! `--check`, standard input), `check DIR` and `-D warnings`, `explain`
//! with no code, `fields`, `--version`, completions and man pages, and
//! `polc test`'s exit status when the kernel half cannot run.

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
