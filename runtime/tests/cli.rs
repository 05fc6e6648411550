//! The `polrt` binary on bad input, without root: every case is a clear
//! error with its documented exit code (2 usage, 1 policy/object), decided
//! before anything touches the kernel; and `inspect` of a real object.
//!
//! (Being an integration test of this crate also makes `cargo test` build
//! `target/<profile>/polrt`, which the kernel tests in `tests/` run.)

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const POLRT: &str = env!("CARGO_BIN_EXE_polrt");

const POLICY: &str = "\
trace execs {
    on exec
    emit proc.pid, exec.path
}
";

fn polrt(args: &[&str]) -> Output {
    Command::new(POLRT).args(args).output().expect("run polrt")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let path = std::env::temp_dir().join(format!("polrt-cli-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("temp dir");
        Dir(path)
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.0.join(name);
        fs::write(&path, bytes).expect("write");
        path.display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn object_bytes() -> Vec<u8> {
    let checked = polc::check::check_source("t.pol", POLICY);
    let policy = checked.policy.expect("checks");
    let build = polc::compile::build(&policy, POLICY, 4096).expect("builds");
    polc::object::write_object(&build.image).expect("writes")
}

/// Replaces the first occurrence of `from` with `to` (same length).
fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    bytes[at..at + to.len()].copy_from_slice(to);
}

#[test]
fn inspect_describes_a_real_object() {
    let dir = Dir::new("inspect");
    let path = dir.file("t.o", &object_bytes());
    let out = polrt(&["inspect", &path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout.contains("#0   trace execs"), "{stdout}");
    assert!(stdout.contains("exec_tp_btf"), "{stdout}");
    assert!(stdout.contains("polc_events"), "{stdout}");
    assert!(stdout.contains("deny enforced by SIGKILL"), "{stdout}");
    let out = polrt(&["inspect", "--json", &path]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON metadata");
    assert_eq!(json["rules"][0]["name"], "execs");
}

#[test]
fn inspect_into_a_closed_pipe_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let dir = Dir::new("inspect-pipe");
    let path = dir.file("t.o", &object_bytes());
    // A pipe whose reading end is already closed: every write is EPIPE.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = Command::new(POLRT)
        .args(["inspect", &path])
        .stdout(writer)
        .output()
        .expect("run polrt");
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{}", stderr(&out));
}

#[test]
fn corrupt_truncated_and_foreign_objects_are_clear_errors() {
    let dir = Dir::new("corrupt");
    let bytes = object_bytes();
    let cases: Vec<(String, &str)> = vec![
        (
            dir.file("text.o", b"not an object at all"),
            "is not an ELF object",
        ),
        (dir.file("half.o", &bytes[..bytes.len() / 2]), "corrupt"),
        (
            dir.file("host.o", &fs::read(POLRT).expect("read polrt")),
            "not a 64-bit little-endian BPF object",
        ),
    ];
    for (path, expected) in cases {
        let out = polrt(&["inspect", &path]);
        assert_eq!(out.status.code(), Some(1), "{path}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{path}: {}", stderr(&out));
        let out = polrt(&["run", &path]);
        assert_eq!(out.status.code(), Some(1), "{path}: {}", stderr(&out));
    }
}

#[test]
fn missing_metadata_and_other_abi_versions_are_named() {
    let dir = Dir::new("abi");
    let mut stripped = object_bytes();
    patch(&mut stripped, b".polc.meta", b".polc.xxxx");
    let path = dir.file("stripped.o", &stripped);
    let out = polrt(&["inspect", &path]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has no `.polc.meta` section"),
        "{}",
        stderr(&out)
    );

    let mut newer = object_bytes();
    // One more than this polrt reads; the patch keeps the section's
    // length: a longer number takes its bytes from the compiler's version
    // string that follows it.
    let version = format!("\"compiler_version\":\"{}\"", env!("CARGO_PKG_VERSION"));
    let current = format!("\"abi_version\":{},{version}", polc::abi::ABI_VERSION);
    let next = format!("\"abi_version\":{},", polc::abi::ABI_VERSION + 1);
    let cut = version.len() - (next.len() - (current.len() - version.len())) - 1;
    let next = format!("{next}{}\"", &version[..cut]);
    assert_eq!(next.len(), current.len());
    patch(&mut newer, current.as_bytes(), next.as_bytes());
    let path = dir.file("newer.o", &newer);
    let out = polrt(&["inspect", &path]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.contains(&format!(
            "object format version {}",
            polc::abi::ABI_VERSION + 1
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "this polrt reads version {}",
            polc::abi::ABI_VERSION
        )),
        "{text}"
    );
}

#[test]
fn a_policy_with_errors_prints_diagnostics_and_exits_1() {
    let dir = Dir::new("diag");
    let path = dir.file(
        "bad.pol",
        b"rule r {\n    on exec\n    when no.such == 1\n    deny\n}\n",
    );
    let out = polrt(&["run", &path]);
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(text.contains("no.such"), "{text}");
    assert!(text.contains("bad.pol:3"), "{text}");
}

#[test]
fn usage_errors_exit_2_before_anything_loads() {
    let dir = Dir::new("usage");
    let policy = dir.file("t.pol", POLICY.as_bytes());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", "/nonexistent/p.o"], "cannot read"),
        (
            vec!["run", &policy, "--cgroup", "/nonexistent/cgroup"],
            "does not exist",
        ),
        (
            vec!["run", &policy, "--cgroup", "/tmp"],
            "not a cgroup v2 directory",
        ),
        (
            vec!["run", &policy, "--ringbuf-size", "1000"],
            "power of two",
        ),
        (vec!["run", &policy, "--format", "yaml"], "invalid value"),
        (vec!["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, expected) in cases {
        let out = polrt(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(Path::new(POLRT).exists());
}

#[test]
fn without_privileges_run_and_verify_say_what_is_missing() {
    let dir = Dir::new("unprivileged");
    let policy = dir.file("t.pol", POLICY.as_bytes());
    for subcommand in ["run", "verify"] {
        let mut command = Command::new(POLRT);
        command.args([subcommand, &policy]);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            command.uid(65534).gid(65534);
        }
        let out = command.output().expect("run polrt");
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let text = stderr(&out);
        assert!(text.contains("polrt needs root"), "{text}");
        assert!(text.contains("CAP_BPF"), "{text}");
    }
}

#[test]
fn the_backend_table_of_docs_runtime_md_names_every_attach_point() {
    let doc = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/runtime.md"))
        .expect("docs/runtime.md");
    for hook in polc::check::hooks::HOOKS {
        assert!(
            doc.contains(&format!("| `{}` |", hook.name)),
            "hook {}",
            hook.name
        );
        for backend in hook.backends {
            for attach in backend.attach {
                let section = attach.section;
                let shown = section.rsplit('/').next().unwrap_or(section);
                assert!(
                    doc.contains(section) || doc.contains(&format!("`{shown}`")),
                    "docs/runtime.md does not mention {section}"
                );
            }
        }
    }
}
