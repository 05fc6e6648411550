//! End-to-end tests of the container context on the host kernel: real
//! cgroup v2 directories named exactly as docker (systemd and cgroupfs
//! drivers), containerd, CRI-O, podman and Kubernetes (kubepods, both
//! drivers) name them, nested under the test's own cgroup; a real process
//! execs in each, and the `container.*`, `proc.in_container` and `k8s.pod.*`
//! values polrt reports are checked against the expected ones and against
//! the reference parser (`polc::container::from_path`) on the same path. A
//! deny rule on `container.id` refuses (kills, on this host's exec backend)
//! the process in that container only.
//!
//! Safe on a shared host: every rule is scoped to the test cgroup, and every
//! cgroup made here is removed (deepest first) when the test ends.

#[path = "e2e/support.rs"]
mod support;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use polc::container::{from_path, MAX_CGROUP_LEVELS};
use polc_tests::kernel_tests_enabled;
use serde_json::{json, Value};
use support::{copy_executable, run_in, write_policy, Polrt, TempDir, TestCgroup};

const ID: &str = "4c01db0b339c1b4c4f3d2a5a9d1e0f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";
const ID2: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const UID: &str = "7d9e3f2a-1b4c-4d5e-8f6a-0b1c2d3e4f5a";
/// An LXC container name longer than `container.id` (100 bytes).
const LONG_NAME: &str = "long-container-name-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-0123456789-012";

/// Cgroups below the test cgroup, removed deepest first on drop.
struct Nested {
    /// Every directory made, parents first.
    made: Vec<TestCgroup>,
}

impl Nested {
    fn new() -> Nested {
        Nested { made: Vec::new() }
    }

    /// Makes `rel` (components separated by `/`) below `base`, returns the
    /// leaf's path.
    fn make(&mut self, base: &Path, rel: &str) -> PathBuf {
        let mut path = base.to_path_buf();
        for component in rel.split('/') {
            path.push(component);
            if !path.exists() {
                fs::create_dir(&path)
                    .unwrap_or_else(|e| panic!("create cgroup {}: {e}", path.display()));
                self.made.push(TestCgroup { path: path.clone() });
            }
        }
        path
    }

    /// A cgroup made here.
    fn get(&self, path: &Path) -> &TestCgroup {
        self.made
            .iter()
            .find(|c| c.path == path)
            .expect("a cgroup made here")
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        while let Some(cgroup) = self.made.pop() {
            drop(cgroup);
        }
    }
}

/// The path of `cgroup` relative to the cgroup v2 root, as in
/// `/proc/PID/cgroup`.
fn relative(cgroup: &Path) -> String {
    let root = support::cgroup2_root();
    format!(
        "/{}",
        cgroup
            .strip_prefix(&root)
            .expect("below the cgroup root")
            .display()
    )
}

struct Case {
    /// Below the test cgroup.
    rel: String,
    id: &'static str,
    runtime: &'static str,
    pod_uid: &'static str,
    qos: &'static str,
}

fn case(rel: String, id: &'static str, runtime: &'static str) -> Case {
    Case {
        rel,
        id,
        runtime,
        pod_uid: "",
        qos: "",
    }
}

fn pod(mut c: Case, qos: &'static str) -> Case {
    c.pod_uid = UID;
    c.qos = qos;
    c
}

fn cases() -> Vec<Case> {
    let u = UID.replace('-', "_");
    let deep = vec!["d"; MAX_CGROUP_LEVELS].join("/");
    vec![
        case(format!("system.slice/docker-{ID}.scope"), ID, "docker"),
        case(format!("docker/{ID2}"), ID2, "docker"),
        case(format!("system.slice/docker-{ID2}.scope/init.scope"), ID2, "docker"),
        case(format!("system.slice/cri-containerd-{ID}.scope"), ID, "containerd"),
        case(format!("machine.slice/crio-{ID}.scope"), ID, "crio"),
        case(format!("machine.slice/crio-conmon-{ID}.scope"), "", ""),
        case(format!("machine.slice/libpod-{ID}.scope"), ID, "podman"),
        case(format!("machine.slice/libpod-conmon-{ID2}.scope"), "", ""),
        case(format!("libpod_parent/libpod-{ID2}"), ID2, "podman"),
        case(format!("machine.slice/libpod-payload-{ID}.scope"), ID, "podman"),
        case(format!("default/{ID}"), ID, "containerd"),
        pod(
            case(
                format!(
                    "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{u}.slice/cri-containerd-{ID}.scope"
                ),
                ID,
                "containerd",
            ),
            "burstable",
        ),
        pod(
            case(
                format!(
                    "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{u}.slice/crio-{ID2}.scope"
                ),
                ID2,
                "crio",
            ),
            "besteffort",
        ),
        pod(
            case(format!("kubepods.slice/kubepods-pod{u}.slice/cri-containerd-{ID2}.scope"), ID2, "containerd"),
            "guaranteed",
        ),
        pod(case(format!("kubepods/burstable/pod{UID}/{ID}"), ID, "cri"), "burstable"),
        pod(case(format!("kubepods/pod{UID}/{ID2}"), ID2, "cri"), "guaranteed"),
        case("plain.slice/sshd.service".to_string(), "", ""),
        // Named containers: systemd-nspawn (run directly, as its template
        // service, with a `-` in the machine name as systemd writes it in
        // the unit) and its supervisor; LXC 4+ / LXD / Incus and its
        // monitor; older LXC; a name longer than an id, cut.
        case("machine.slice/machine-web.scope/payload".to_string(), "web", "systemd-nspawn"),
        case("machine.slice/machine-web.scope/supervisor".to_string(), "", ""),
        case(
            r"machine.slice/machine-web\x2d1.scope/payload/system.slice/sshd.service".to_string(),
            r"web\x2d1",
            "systemd-nspawn",
        ),
        case("machine.slice/systemd-nspawn@db.service/payload".to_string(), "db", "systemd-nspawn"),
        case("machine.slice/systemd-nspawn@db.service/supervisor".to_string(), "", ""),
        case("lxc.payload.u1".to_string(), "u1", "lxc"),
        case("lxc.payload.u2/init.scope".to_string(), "u2", "lxc"),
        case("lxc.monitor.u1".to_string(), "", ""),
        // A child's longer name read before leaves nothing in the id.
        case(
            "lxc.payload.u3/a-child-cgroup-with-a-name-longer-than-its-parents".to_string(),
            "u3",
            "lxc",
        ),
        case("lxc/old".to_string(), "old", "lxc"),
        case(format!("lxc.payload.{LONG_NAME}"), &LONG_NAME[..64], "lxc"),
        // Deeper than the walk: the unknown container.
        case(deep, "unknown", "unknown"),
        // Exactly at the bound (the test cgroup is one below the root): 15
        // directories below the root are walked (16 cgroups with the root),
        // 16 are not.
        case(vec!["e"; MAX_CGROUP_LEVELS - 2].join("/"), "", ""),
        case(vec!["f"; MAX_CGROUP_LEVELS - 1].join("/"), "unknown", "unknown"),
        // A docker container at the bound is found; one level deeper, the
        // container's cgroup is past the walk: unknown.
        case(
            format!("{}/docker-{ID}.scope", vec!["g"; MAX_CGROUP_LEVELS - 3].join("/")),
            ID,
            "docker",
        ),
    ]
}

fn probe_policy(probe: &Path) -> String {
    format!(
        r#"
rule c_exec {{
    on exec
    when exec.path == "{probe}"
    audit "{{container.id}} {{container.short_id}} {{container.runtime}} {{proc.in_container}} {{k8s.pod.uid}} {{k8s.pod.qos}}"
}}
"#,
        probe = probe.display()
    )
}

#[test]
fn the_container_context_of_real_cgroups() {
    if !kernel_tests_enabled("the_container_context_of_real_cgroups") {
        return;
    }
    let work = TempDir::new("container-ctx");
    let cgroup = TestCgroup::new("container-ctx");
    assert_eq!(
        relative(&cgroup.path).matches('/').count(),
        1,
        "the cases at the bound assume the test cgroup is a child of the root"
    );
    let probe = copy_executable("/bin/true", &work, "ctr-probe");
    let policy = write_policy(&work, "ctx.pol", &probe_policy(&probe));
    // The runtimes' local state polrt names containers from: docker's
    // config.v2.json of ID, containerd's OCI bundle of ID2.
    let state = TempDir::under(&work.path, "state");
    let docker_config = state
        .path
        .join(format!("docker/containers/{ID}/config.v2.json"));
    fs::create_dir_all(docker_config.parent().unwrap()).unwrap();
    fs::write(
        &docker_config,
        r#"{"Name":"/web","Config":{"Image":"nginx:1.27"},"State":{"Running":true}}"#,
    )
    .unwrap();
    let bundle = state.path.join(format!(
        "containerd/io.containerd.runtime.v2.task/k8s.io/{ID2}/config.json"
    ));
    fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    fs::write(
        &bundle,
        r#"{"ociVersion":"1.1.0","annotations":{"io.kubernetes.cri.container-name":"app","io.kubernetes.cri.image-name":"registry.example/app:2"}}"#,
    )
    .unwrap();
    let docker_root = state.path.join("docker");
    let containerd_state = state.path.join("containerd");
    let polrt = Polrt::start(
        &policy,
        &cgroup,
        &work,
        &[
            "--docker-root",
            docker_root.to_str().unwrap(),
            "--containerd-state",
            containerd_state.to_str().unwrap(),
        ],
    );
    let mut nested = Nested::new();
    let mut ran: Vec<(u32, PathBuf)> = Vec::new();
    let cases = cases();
    for c in &cases {
        let leaf = nested.make(&cgroup.path, &c.rel);
        let (status, pid, stderr) = run_in(nested.get(&leaf), &mut Command::new(&probe));
        assert!(status.success(), "{}: {status} {stderr}", c.rel);
        ran.push((pid, leaf));
    }
    // And in the test cgroup itself.
    let (status, own_pid, _) = run_in(&cgroup, &mut Command::new(&probe));
    assert!(status.success());
    let finished = polrt.stop_ok();
    drop(nested);
    let events = finished.events();
    let by_pid = |pid: u32| -> &Value {
        let found: Vec<&&Value> = events
            .iter()
            .filter(|e| e["rule"] == "c_exec" && e["pid"] == pid)
            .collect();
        assert_eq!(found.len(), 1, "pid {pid}: {events:?}");
        &found[0]["fields"]
    };
    for (c, (pid, path)) in cases.iter().zip(&ran) {
        let f = by_pid(*pid);
        let reference = from_path(&relative(path));
        let short = &c.id[..c.id.len().min(12)];
        let got = (
            f["container.id"].as_str().unwrap_or("?"),
            f["container.short_id"].as_str().unwrap_or("?"),
            f["container.runtime"].as_str().unwrap_or("?"),
            f["proc.in_container"].as_bool(),
            f["k8s.pod.uid"].as_str().unwrap_or("?"),
            f["k8s.pod.qos"].as_str().unwrap_or("?"),
        );
        let expected = (
            c.id,
            short,
            c.runtime,
            Some(!c.id.is_empty()),
            c.pod_uid,
            c.qos,
        );
        assert_eq!(got, expected, "{}", c.rel);
        let referenced = (
            reference.id(),
            reference.short_id(),
            reference.runtime(),
            Some(reference.in_container()),
            reference.pod_uid(),
            reference.pod_qos(),
        );
        assert_eq!(got, referenced, "the reference parser on {}", c.rel);
        // The event's container: the id, and the name and image the
        // runtime's state gives.
        let event = events
            .iter()
            .find(|e| e["rule"] == "c_exec" && e["pid"] == *pid)
            .unwrap();
        let container = &event["container"];
        if c.id.is_empty() {
            assert_eq!(*container, Value::Null, "{}", c.rel);
            continue;
        }
        assert_eq!(container["id"], c.id, "{}", c.rel);
        assert_eq!(container["short_id"], short, "{}", c.rel);
        let (name, image) = match c.id {
            ID => (json!("web"), json!("nginx:1.27")),
            ID2 => (json!("app"), json!("registry.example/app:2")),
            _ => (Value::Null, Value::Null),
        };
        assert_eq!(
            (&container["name"], &container["image"]),
            (&name, &image),
            "{}",
            c.rel
        );
    }
    let own = by_pid(own_pid);
    assert_eq!(own["container.id"], "");
    assert_eq!(own["proc.in_container"], false);
}

#[test]
fn a_deny_on_a_named_container_refuses_it_and_not_its_monitor() {
    if !kernel_tests_enabled("a_deny_on_a_named_container_refuses_it_and_not_its_monitor") {
        return;
    }
    let work = TempDir::new("container-named");
    let cgroup = TestCgroup::new("container-named");
    let probe = copy_executable("/bin/true", &work, "ctr-named");
    let policy = write_policy(
        &work,
        "deny.pol",
        &format!(
            r#"
rule no_shell_in_those_containers {{
    on exec
    when container.id in ["u1", "web", "u3"] and exec.path == "{probe}"
    deny "shell in {{container.runtime}} container {{container.id}}"
}}
"#,
            probe = probe.display()
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let mut nested = Nested::new();
    let lxc = nested.make(&cgroup.path, "lxc.payload.u1");
    let lxc_monitor = nested.make(&cgroup.path, "lxc.monitor.u1");
    let nspawn = nested.make(&cgroup.path, "machine.slice/machine-web.scope/payload");
    let supervisor = nested.make(&cgroup.path, "machine.slice/machine-web.scope/supervisor");
    let other = nested.make(&cgroup.path, "lxc.payload.u10");
    // The id compared whole: nothing of the longer child's name is left.
    let below = nested.make(
        &cgroup.path,
        "lxc.payload.u3/a-child-cgroup-with-a-name-longer-than-its-parents",
    );
    let (in_lxc, lxc_pid, _) = run_in(nested.get(&lxc), &mut Command::new(&probe));
    let (in_nspawn, nspawn_pid, _) = run_in(nested.get(&nspawn), &mut Command::new(&probe));
    let (in_below, below_pid, _) = run_in(nested.get(&below), &mut Command::new(&probe));
    let mut allowed = Vec::new();
    for place in [&lxc_monitor, &supervisor, &other] {
        allowed.push(run_in(nested.get(place), &mut Command::new(&probe)).0);
    }
    let finished = polrt.stop();
    drop(nested);
    assert!(finished.status.success(), "polrt: {}", finished.stderr);
    assert_eq!(in_lxc.signal(), Some(libc::SIGKILL), "in lxc u1: {in_lxc}");
    assert_eq!(
        in_nspawn.signal(),
        Some(libc::SIGKILL),
        "in machine web: {in_nspawn}"
    );
    assert_eq!(
        in_below.signal(),
        Some(libc::SIGKILL),
        "below lxc u3: {in_below}"
    );
    for status in allowed {
        assert!(status.success(), "a monitor or another container: {status}");
    }
    let events = finished.events();
    let denials: Vec<&&Value> = events
        .iter()
        .filter(|e| e["rule"] == "no_shell_in_those_containers")
        .collect();
    assert_eq!(denials.len(), 3, "{events:?}");
    for (pid, id, runtime) in [
        (below_pid, "u3", "lxc"),
        (lxc_pid, "u1", "lxc"),
        (nspawn_pid, "web", "systemd-nspawn"),
    ] {
        let denial = denials
            .iter()
            .find(|e| e["pid"] == pid)
            .unwrap_or_else(|| panic!("no denial of {pid}: {events:?}"));
        assert_eq!(denial["fields"]["container.id"], id);
        assert_eq!(denial["fields"]["container.runtime"], runtime);
        assert_eq!(denial["container"]["id"], id);
    }
}

#[test]
fn a_deny_on_a_container_id_refuses_only_that_container() {
    if !kernel_tests_enabled("a_deny_on_a_container_id_refuses_only_that_container") {
        return;
    }
    let work = TempDir::new("container-deny");
    let cgroup = TestCgroup::new("container-deny");
    let probe = copy_executable("/bin/true", &work, "ctr-shell");
    let policy = write_policy(
        &work,
        "deny.pol",
        &format!(
            r#"
rule no_shell_in_that_container {{
    on exec
    when container.id == "{ID}" and exec.path == "{probe}"
    deny "shell in {{container.runtime}} container {{container.short_id}}"
}}
"#,
            probe = probe.display()
        ),
    );
    let polrt = Polrt::start(&policy, &cgroup, &work, &[]);
    let mut nested = Nested::new();
    let target = nested.make(&cgroup.path, &format!("system.slice/docker-{ID}.scope"));
    let other = nested.make(&cgroup.path, &format!("system.slice/docker-{ID2}.scope"));
    let (denied, denied_pid, _) = run_in(nested.get(&target), &mut Command::new(&probe));
    let (allowed, _, _) = run_in(nested.get(&other), &mut Command::new(&probe));
    let (host, _, _) = run_in(&cgroup, &mut Command::new(&probe));
    let finished = polrt.stop();
    drop(nested);
    assert!(finished.status.success(), "polrt: {}", finished.stderr);
    assert_eq!(denied.signal(), Some(libc::SIGKILL), "in {ID}: {denied}");
    assert!(allowed.success(), "another container: {allowed}");
    assert!(host.success(), "no container: {host}");
    let events = finished.events();
    let denials: Vec<&&Value> = events
        .iter()
        .filter(|e| e["rule"] == "no_shell_in_that_container")
        .collect();
    assert_eq!(denials.len(), 1, "{events:?}");
    assert_eq!(denials[0]["pid"], denied_pid);
    assert_eq!(denials[0]["fields"]["container.short_id"], &ID[..12]);
    assert_eq!(denials[0]["fields"]["container.runtime"], "docker");
}

/// The programs read a `kernfs_node`'s parent 8 bytes before its `name`
/// (relocated by CO-RE): `parent` before 6.15, `__parent` since. This
/// kernel's BTF must say so.
#[test]
fn the_kernfs_parent_is_right_before_its_name() {
    if !kernel_tests_enabled("the_kernfs_parent_is_right_before_its_name") {
        return;
    }
    let output = Command::new("bpftool")
        .args(["btf", "dump", "file", "/sys/kernel/btf/vmlinux"])
        .output()
        .expect("run bpftool");
    assert!(output.status.success(), "bpftool btf dump failed");
    let dump = String::from_utf8_lossy(&output.stdout);
    let start = dump
        .find("STRUCT 'kernfs_node' ")
        .expect("kernfs_node in the kernel's BTF");
    let members: Vec<(&str, u64)> = dump[start..]
        .lines()
        .skip(1)
        .take_while(|line| line.starts_with('\t'))
        .filter_map(|line| {
            let name = line.trim().strip_prefix('\'')?.split('\'').next()?;
            let offset = line.rsplit("bits_offset=").next()?.trim().parse().ok()?;
            Some((name, offset))
        })
        .collect();
    let name = members
        .iter()
        .position(|(member, _)| *member == "name")
        .expect("kernfs_node.name");
    assert!(name > 0, "{members:?}");
    let (parent, parent_offset) = members[name - 1];
    assert!(parent == "parent" || parent == "__parent", "{members:?}");
    assert_eq!(parent_offset + 64, members[name].1, "{members:?}");
}
