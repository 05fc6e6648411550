//! End-to-end test of `exec.upper_layer` and `proc.exe.upper_layer` on the
//! host's backends (tp_btf: this kernel refuses LSM programs): a real
//! overlayfs mounted in a private mount namespace, with a lower layer
//! holding the "image's" programs; a program run from the lower layer runs,
//! one copied into the merged directory after the mount (the upper layer),
//! and one of the image's modified in place (copied up into the upper
//! layer), are killed at their exec's point of no return; the events carry
//! the real value of both fields, on `exec` and on `file.open`.
//! The LSM backend (where the kill is a refusal) is the VM's to test.
//!
//! Safe on a shared host: the rules are scoped to the test cgroup, the
//! mount lives in a mount namespace of its own (gone when its last process
//! exits, unmounted by the workload before), and every file is under the
//! test's own directory.

#[path = "e2e/support.rs"]
mod support;

use std::fs;
use std::process::Command;

use polc_tests::kernel_tests_enabled;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

use support::{resolved, run_in, write_policy, Polrt, TempDir, TestCgroup};

/// Every upper-layer program is killed at its exec but `upper-cat`, left
/// to run so that `proc.exe.upper_layer` is seen on the file it opens.
fn policy(merged: &str) -> String {
    format!(
        r#"
rule dropped_binary {{
    on exec
    when exec.upper_layer and exec.name != "upper-cat"
    deny "{{exec.path}} is in the upper layer"
}}

trace overlay_exec {{
    on exec
    when exec.path startswith "{merged}/"
    emit exec.path, exec.upper_layer, proc.exe, proc.exe.upper_layer
}}

trace overlay_read {{
    on file.open
    when file.path == "{merged}/marker"
    emit proc.exe, proc.exe.upper_layer
}}
"#
    )
}

/// The workload, in a private mount namespace: mount the overlay, run the
/// image's programs, drop two programs into it and modify one of the
/// image's (`touch` copies it up), run them, unmount. Each run's exit
/// status is written to `statuses`.
const WORKLOAD: &str = r#"
set -u
lower=$1/lower upper=$1/upper work=$1/work merged=$1/merged
report=$1/statuses
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$merged" || exit 90
"$merged/image-true"; echo "image-true $?" >>"$report"
"$merged/image-cat" "$merged/marker" >/dev/null; echo "image-cat $?" >>"$report"
cp "$merged/image-true" "$merged/upper-true"
"$merged/upper-true"; echo "upper-true $?" >>"$report"
cp "$merged/image-cat" "$merged/upper-cat"
"$merged/upper-cat" "$merged/marker" >/dev/null; echo "upper-cat $?" >>"$report"
touch "$merged/modified-true"
"$merged/modified-true"; echo "modified-true $?" >>"$report"
umount "$merged"
"#;

#[test]
fn upper_layer_programs_are_told_from_the_images() {
    if !kernel_tests_enabled("upper_layer_programs_are_told_from_the_images") {
        return;
    }
    let filesystems = fs::read_to_string("/proc/filesystems").unwrap_or_default();
    assert!(
        filesystems.lines().any(|l| l.ends_with("\toverlay")),
        "the kernel has no overlay file system"
    );
    let work = TempDir::new("overlay");
    let root = resolved(&work.path);
    for dir in ["lower", "upper", "work", "merged"] {
        fs::create_dir(work.path.join(dir)).expect("create an overlay directory");
    }
    let lower = work.path.join("lower");
    for (source, name) in [
        ("/bin/true", "image-true"),
        ("/bin/true", "modified-true"),
        ("/bin/cat", "image-cat"),
    ] {
        fs::copy(source, lower.join(name)).unwrap_or_else(|e| panic!("copy {source}: {e}"));
        fs::set_permissions(lower.join(name), fs::Permissions::from_mode(0o755))
            .expect("chmod 0755");
    }
    fs::write(lower.join("marker"), "marker\n").expect("write the marker");
    let merged = format!("{root}/merged");

    let cgroup = TestCgroup::new("overlay");
    let policy = write_policy(&work, "overlay.pol", &policy(&merged));
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let (status, _pid, stderr) = run_in(
        &cgroup,
        Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                WORKLOAD,
                "sh",
            ])
            .arg(&root),
    );
    let finished = polrt.stop_ok();
    assert_eq!(finished.summary()["lost"], 0, "{}", finished.summary());
    assert!(status.success(), "workload: {status}\n{stderr}");
    // The mount was the namespace's: nothing is left on the host's tree.
    let mounts = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(&merged), "{merged} is still mounted");

    let events = finished.events();
    let execs: Vec<&Value> = events
        .iter()
        .copied()
        .filter(|e| e["rule"] == "overlay_exec")
        .collect();
    let exec_of = |name: &str| -> &Value {
        let path = format!("{merged}/{name}");
        let found: Vec<&&Value> = execs
            .iter()
            .filter(|e| e["fields"]["exec.path"] == path.as_str())
            .collect();
        assert_eq!(found.len(), 1, "{name}: {execs:?}");
        &found[0]["fields"]
    };
    // The image's programs are in the lower layer; what was written into
    // the container, or modified there, in the upper one. On the tp_btf
    // fallback the exec is decided after it replaced the program, so
    // `proc.exe` is the new program too.
    for (name, upper) in [
        ("image-true", false),
        ("image-cat", false),
        ("upper-true", true),
        ("upper-cat", true),
        ("modified-true", true),
    ] {
        let fields = exec_of(name);
        assert_eq!(fields["exec.upper_layer"], upper, "{name}: {fields}");
        assert_eq!(fields["proc.exe.upper_layer"], upper, "{name}: {fields}");
        assert_eq!(fields["proc.exe"], format!("{merged}/{name}"), "{fields}");
    }
    // Only the upper layer's programs the rule names were killed.
    let denied: Vec<String> = events
        .iter()
        .filter(|e| e["rule"] == "dropped_binary")
        .map(|e| {
            assert_eq!(e["verdict"], "deny", "{e}");
            e["fields"]["exec.path"].as_str().unwrap_or("").to_string()
        })
        .collect();
    assert_eq!(
        denied,
        vec![
            format!("{merged}/upper-true"),
            format!("{merged}/modified-true")
        ],
        "{events:?}"
    );
    // The workload's own report: the killed ones died of SIGKILL (128 + 9).
    let report = fs::read_to_string(work.path.join("statuses")).expect("the workload's report");
    assert_eq!(
        report,
        "image-true 0\nimage-cat 0\nupper-true 137\nupper-cat 0\nmodified-true 137\n"
    );

    // On `file.open`, the program reading the marker: the image's cat, then
    // the dropped one.
    let reads: Vec<(String, bool)> = events
        .iter()
        .filter(|e| e["rule"] == "overlay_read")
        .map(|e| {
            (
                e["fields"]["proc.exe"].as_str().unwrap_or("").to_string(),
                e["fields"]["proc.exe.upper_layer"] == true,
            )
        })
        .collect();
    assert_eq!(
        reads,
        vec![
            (format!("{merged}/image-cat"), false),
            (format!("{merged}/upper-cat"), true)
        ]
    );
}

/// The `test` blocks of `tests/e2e/overlay.pol` (a Falco-style "drop and
/// execute a new binary in a container" rule, and the executable's layer on
/// `net.connect` and `file.open`), decided by the interpreter and by the
/// compiled programs in the kernel alike.
#[test]
fn polc_test_decides_the_upper_layer_in_the_kernel() {
    if !kernel_tests_enabled("polc_test_decides_the_upper_layer_in_the_kernel") {
        return;
    }
    support::assert_polc_test_in_kernel(&polc_tests::repo_root().join("tests/e2e/overlay.pol"), 7);
}
