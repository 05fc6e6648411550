//! Container context from the task's cgroup: the reference parser of the
//! names container runtimes and Kubernetes give cgroup v2 directories.
//!
//! The programs decide the `container.*`, `proc.in_container` and `k8s.pod.*`
//! fields in the kernel (see `codegen/container.rs`), from the names of the
//! task's cgroup (`task->cgroups->dfl_cgrp->kn`) and of its ancestors, read
//! one `kernfs_node` at a time up to the root. This module is the
//! executable definition of what they compute: the unit tests here pin the
//! names real runtimes use, and the host kernel tests (`tests/e2e_container.rs`)
//! check that the programs report exactly what [`from_names`] says for the
//! same cgroups.
//!
//! The rules, applied to the names from the task's own cgroup upwards:
//!
//! - a container is a cgroup named, with `<id>` 64 lowercase hex digits:
//!   `docker-<id>.scope` (docker, systemd driver), `cri-containerd-<id>.scope`
//!   (containerd's CRI plugin, systemd driver), `crio-<id>.scope` or
//!   `crio-<id>` (CRI-O, systemd and cgroupfs drivers), `libpod-<id>.scope`,
//!   `libpod-<id>`, `libpod-payload-<id>.scope` or `libpod-payload-<id>`
//!   (podman); or a cgroup named `<id>` whose parent is named `docker`
//!   (docker, cgroupfs driver: `/docker/<id>`) or `default` (containerd's
//!   default namespace: `ctr`, nerdctl), or whose
//!   parent is a cgroupfs pod (`pod<uid>`, below): runtime `cri`, a CRI
//!   runtime the name does not tell (containerd or CRI-O with the cgroupfs
//!   driver). `crio-conmon-<id>.scope` and `libpod-conmon-<id>.scope` (the
//!   runtimes' monitor processes) are not containers.
//! - a named container (systemd-nspawn, LXC, LXD, Incus) is a cgroup named,
//!   with `<name>` one byte or more: `machine-<name>.scope` or
//!   `systemd-nspawn@<name>.service` (systemd-nspawn, run directly or as
//!   its template service; systemd writes a `-` of the machine name as
//!   `\x2d` in the unit name, and the id is the name as the unit has it),
//!   unless the name directly below it is `supervisor` (nspawn's own
//!   process, the monitor); `lxc.payload.<name>` (LXC 4 and later, LXD,
//!   Incus; `lxc.monitor.<name>` holds the monitor and is no container); or
//!   a cgroup named `<name>` whose parent is `lxc` or `lxc.payload` (older
//!   LXC). The id is the name, cut to its first [`ID_LEN`] bytes.
//! - a pod is a cgroup named `kubepods-pod<uid>.slice` (QoS guaranteed),
//!   `kubepods-burstable-pod<uid>.slice`, `kubepods-besteffort-pod<uid>.slice`
//!   (systemd driver: the uid's dashes written `_`), or `pod<uid>` whose
//!   parent is named `kubepods` (guaranteed), `burstable` or `besteffort`
//!   (cgroupfs driver); `<uid>` is 36 characters: lowercase hex digits with
//!   a dash (or `_`) at positions 8, 13, 18 and 23. The uid is reported with
//!   dashes.
//! - the **outermost** container and the outermost pod win: a task inside a
//!   container can create cgroups below its own (with a delegated cgroup
//!   tree) and name them as it likes, but not above it.
//! - the walk is bounded: it reads at most [`MAX_CGROUP_LEVELS`] cgroups
//!   (the task's own and its ancestors, the root included). A task whose
//!   cgroup is deeper (more than `MAX_CGROUP_LEVELS - 1` directories below
//!   the root) is reported in a container of id and runtime `unknown`
//!   (see [`UNKNOWN`]) and no pod: a rule on `container.id != ""` (or
//!   `proc.in_container`) decides as for a container, fail-closed for the
//!   rules real rule sets write ("… in a container"); `container.id == ""`
//!   (host only) does not hold. A name of [`NAME_BUF`] bytes or more is read
//!   cut to its first `NAME_BUF - 1` bytes; no container or pod name is that
//!   long, so such a name is simply not one.
//! - a container whose `<id>` is not 64 lowercase hex digits, or a pod whose
//!   uid is not a uid, is no container (no pod); the shape test comes first,
//!   so this applies to the outermost name of a container (pod) shape.
//!
//! Cgroup names are chosen by whoever creates the cgroup: root, the
//! runtimes, and any user with a delegated subtree (systemd's
//! `user@UID.service`). Such a user can make a task look as if it were in a
//! container (a cgroup named `docker-<id>.scope` in its own subtree); the
//! fields say where the task is, not that a runtime put it there. Rules that
//! must hold on the host should not depend on `container.id == ""`.
//!
//! Depends on nothing but `std`.

/// Most cgroups (the task's own and its ancestors, the root included) the
/// programs read.
pub const MAX_CGROUP_LEVELS: usize = 16;
/// Bytes of the buffer a cgroup name is read into, with its NUL.
pub const NAME_BUF: usize = 128;
/// Length of a container id.
pub const ID_LEN: usize = 64;
/// Length of `container.short_id` (the docker CLI's and Falco's short id).
pub const SHORT_ID_LEN: usize = 12;
/// Length of a pod uid.
pub const POD_UID_LEN: usize = 36;
/// Id and runtime of a task whose cgroup is deeper than the walk.
pub const UNKNOWN: &str = "unknown";

/// Container name shapes: `(prefix, suffix, runtime)`; the id sits between
/// the prefix and the suffix. The runtimes here identify containers by a
/// 64-digit hex id ([`Runtime::named`] is false).
pub const CONTAINER_SHAPES: &[(&str, &str, Runtime)] = &[
    ("docker-", ".scope", Runtime::Docker),
    ("cri-containerd-", ".scope", Runtime::Containerd),
    ("crio-", ".scope", Runtime::Crio),
    ("crio-", "", Runtime::Crio),
    ("libpod-", ".scope", Runtime::Podman),
    ("libpod-", "", Runtime::Podman),
    ("libpod-payload-", ".scope", Runtime::Podman),
    ("libpod-payload-", "", Runtime::Podman),
];

/// Named container shapes (systemd-nspawn, LXC): `(prefix, suffix,
/// runtime)`; the name (one byte or more, cut to [`ID_LEN`]) sits between
/// the prefix and the suffix.
pub const NAMED_SHAPES: &[(&str, &str, Runtime)] = &[
    ("machine-", ".scope", Runtime::SystemdNspawn),
    ("systemd-nspawn@", ".service", Runtime::SystemdNspawn),
    ("lxc.payload.", "", Runtime::Lxc),
];
const _: () = {
    // The programs switch on a named shape's first byte: one shape a byte.
    let mut i = 0;
    while i < NAMED_SHAPES.len() {
        let mut j = i + 1;
        while j < NAMED_SHAPES.len() {
            assert!(NAMED_SHAPES[i].0.as_bytes()[0] != NAMED_SHAPES[j].0.as_bytes()[0]);
            j += 1;
        }
        i += 1;
    }
};
/// The name, directly below a cgroup of a [`NAMED_SHAPES`] name, of the
/// cgroup of systemd-nspawn's own process: that cgroup is no container.
pub const NAMED_MONITOR_CHILD: &str = "supervisor";
/// The parents of a named container's directory (older LXC: `lxc/<name>`,
/// `lxc.payload/<name>`).
pub const NAMED_PARENTS: &[(&str, Runtime)] =
    &[("lxc", Runtime::Lxc), ("lxc.payload", Runtime::Lxc)];

/// Pod name shapes of the systemd driver: `(prefix, qos)`, then the uid,
/// then `.slice`.
pub const POD_SHAPES: &[(&str, Qos)] = &[
    ("kubepods-pod", Qos::Guaranteed),
    ("kubepods-burstable-pod", Qos::Burstable),
    ("kubepods-besteffort-pod", Qos::BestEffort),
];
/// The suffix of a systemd pod slice.
pub const POD_SLICE_SUFFIX: &str = ".slice";
/// The prefix of a cgroupfs pod directory.
pub const POD_DIR_PREFIX: &str = "pod";
/// The parents of a container directory named by its id alone, and the
/// runtime each means: docker's cgroupfs driver, containerd's `default`
/// namespace (`ctr`, nerdctl).
pub const BARE_PARENTS: &[(&str, Runtime)] = &[
    ("docker", Runtime::Docker),
    ("default", Runtime::Containerd),
];
/// The parents of a cgroupfs pod directory and the QoS each means.
pub const POD_DIR_PARENTS: &[(&str, Qos)] = &[
    ("kubepods", Qos::Guaranteed),
    ("burstable", Qos::Burstable),
    ("besteffort", Qos::BestEffort),
];
/// Positions of the dashes in a pod uid.
pub const UID_DASHES: [usize; 4] = [8, 13, 18, 23];

/// The runtime a container name says.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Runtime {
    Docker,
    Containerd,
    Crio,
    Podman,
    /// A CRI runtime under Kubernetes' cgroupfs driver (the name is the id).
    Cri,
    /// The task's cgroup is deeper than [`MAX_CGROUP_LEVELS`].
    Unknown,
    /// systemd-nspawn (a machine systemd-machined registered).
    SystemdNspawn,
    /// LXC, LXD, Incus.
    Lxc,
}

impl Runtime {
    /// Every runtime, in code order (code = index + 1; 0 is no container).
    pub const ALL: [Runtime; 8] = [
        Runtime::Docker,
        Runtime::Containerd,
        Runtime::Crio,
        Runtime::Podman,
        Runtime::Cri,
        Runtime::Unknown,
        Runtime::SystemdNspawn,
        Runtime::Lxc,
    ];

    /// `container.runtime`'s value.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::Crio => "crio",
            Runtime::Podman => "podman",
            Runtime::Cri => "cri",
            Runtime::Unknown => UNKNOWN,
            Runtime::SystemdNspawn => "systemd-nspawn",
            Runtime::Lxc => "lxc",
        }
    }

    /// Whether the runtime's containers are named (the id is a name of 1
    /// to [`ID_LEN`] bytes) rather than a 64-digit hex id.
    pub fn named(self) -> bool {
        matches!(self, Runtime::SystemdNspawn | Runtime::Lxc)
    }

    /// The code the programs keep while they walk (never 0).
    pub fn code(self) -> u64 {
        Runtime::ALL.iter().position(|r| *r == self).unwrap() as u64 + 1
    }
}

/// A pod's QoS class.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Qos {
    Guaranteed,
    Burstable,
    BestEffort,
}

impl Qos {
    /// Every class, in code order (code = index + 1; 0 is no pod).
    pub const ALL: [Qos; 3] = [Qos::Guaranteed, Qos::Burstable, Qos::BestEffort];

    /// `k8s.pod.qos`'s value.
    pub fn name(self) -> &'static str {
        match self {
            Qos::Guaranteed => "guaranteed",
            Qos::Burstable => "burstable",
            Qos::BestEffort => "besteffort",
        }
    }

    /// The code the programs keep while they walk (never 0).
    pub fn code(self) -> u64 {
        Qos::ALL.iter().position(|q| *q == self).unwrap() as u64 + 1
    }
}

/// What the programs know of a task's container and pod.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerContext {
    /// The container and its runtime; `None` outside containers.
    pub container: Option<(String, Runtime)>,
    /// The pod's uid (with dashes) and QoS class; `None` outside pods.
    pub pod: Option<(String, Qos)>,
}

impl ContainerContext {
    /// `container.id`: the 64-digit id, a named container's name,
    /// [`UNKNOWN`], or empty.
    pub fn id(&self) -> &str {
        self.container.as_ref().map_or("", |(id, _)| id)
    }

    /// `container.short_id`: the first [`SHORT_ID_LEN`] bytes of the id.
    pub fn short_id(&self) -> &str {
        let id = self.id();
        let mut n = id.len().min(SHORT_ID_LEN);
        while !id.is_char_boundary(n) {
            n -= 1;
        }
        &id[..n]
    }

    /// `container.runtime`.
    pub fn runtime(&self) -> &'static str {
        self.container.as_ref().map_or("", |(_, r)| r.name())
    }

    /// `proc.in_container`.
    pub fn in_container(&self) -> bool {
        self.container.is_some()
    }

    /// `k8s.pod.uid`.
    pub fn pod_uid(&self) -> &str {
        self.pod.as_ref().map_or("", |(uid, _)| uid)
    }

    /// `k8s.pod.qos`.
    pub fn pod_qos(&self) -> &'static str {
        self.pod.as_ref().map_or("", |(_, q)| q.name())
    }

    /// The fields a test event's cgroup decides, with their values here
    /// (`polc test` and the generated policies derive them as the kernel's
    /// walk does).
    pub fn field_values(&self) -> Vec<(crate::check::hooks::FieldId, crate::check::policy::Value)> {
        use crate::check::policy::Value;
        [
            ("container.id", Value::Str(self.id().to_string())),
            (
                "container.short_id",
                Value::Str(self.short_id().to_string()),
            ),
            ("container.runtime", Value::Str(self.runtime().to_string())),
            ("proc.in_container", Value::Bool(self.in_container())),
            ("k8s.pod.uid", Value::Str(self.pod_uid().to_string())),
            ("k8s.pod.qos", Value::Str(self.pod_qos().to_string())),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            crate::check::hooks::FieldId::from_name(name).map(|field| (field, value))
        })
        .collect()
    }
}

fn is_hex(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// The id in a container name of one of the [`CONTAINER_SHAPES`].
fn container_shape(name: &[u8]) -> Option<(&[u8], Runtime)> {
    CONTAINER_SHAPES
        .iter()
        .find_map(|(prefix, suffix, runtime)| {
            let (p, s) = (prefix.as_bytes(), suffix.as_bytes());
            (name.len() == p.len() + ID_LEN + s.len() && name.starts_with(p) && name.ends_with(s))
                .then(|| (&name[p.len()..p.len() + ID_LEN], *runtime))
        })
}

/// The name in a container name of one of the [`NAMED_SHAPES`] (not yet
/// cut to [`ID_LEN`]).
fn named_shape(name: &[u8]) -> Option<(&[u8], Runtime)> {
    NAMED_SHAPES.iter().find_map(|(prefix, suffix, runtime)| {
        let (p, s) = (prefix.as_bytes(), suffix.as_bytes());
        (name.len() > p.len() + s.len() && name.starts_with(p) && name.ends_with(s))
            .then(|| (&name[p.len()..name.len() - s.len()], *runtime))
    })
}

/// The uid (as written) and QoS of a systemd pod slice name.
fn pod_slice(name: &[u8]) -> Option<(&[u8], Qos)> {
    let s = POD_SLICE_SUFFIX.as_bytes();
    POD_SHAPES.iter().find_map(|(prefix, qos)| {
        let p = prefix.as_bytes();
        (name.len() == p.len() + POD_UID_LEN + s.len() && name.starts_with(p) && name.ends_with(s))
            .then(|| (&name[p.len()..p.len() + POD_UID_LEN], *qos))
    })
}

/// The uid (as written) of a cgroupfs pod directory name.
fn pod_dir(name: &[u8]) -> Option<&[u8]> {
    let p = POD_DIR_PREFIX.as_bytes();
    (name.len() == p.len() + POD_UID_LEN && name.starts_with(p)).then(|| &name[p.len()..])
}

/// A pod uid as written in a cgroup name, with dashes; `None` unless it is
/// lowercase hex digits with a dash or `_` at [`UID_DASHES`].
fn pod_uid(written: &[u8]) -> Option<String> {
    let mut uid = written.to_vec();
    for (i, b) in uid.iter_mut().enumerate() {
        if UID_DASHES.contains(&i) {
            if *b != b'-' && *b != b'_' {
                return None;
            }
            *b = b'-';
        } else if !is_hex(std::slice::from_ref(b)) {
            return None;
        }
    }
    String::from_utf8(uid).ok()
}

/// The name as the programs read it: cut to `NAME_BUF - 1` bytes.
fn as_read(name: &[u8]) -> &[u8] {
    &name[..name.len().min(NAME_BUF - 1)]
}

/// The context of a task from the names of its cgroup and its ancestors,
/// the task's own first, the root's (empty) last. A list longer than
/// [`MAX_CGROUP_LEVELS`] is a cgroup deeper than the programs walk.
pub fn from_names<N: AsRef<[u8]>>(names: &[N]) -> ContainerContext {
    if names.len() > MAX_CGROUP_LEVELS {
        return ContainerContext {
            container: Some((UNKNOWN.to_string(), Runtime::Unknown)),
            pod: None,
        };
    }
    let mut container: Option<(&[u8], Runtime)> = None;
    let mut pod: Option<(&[u8], Qos)> = None;
    let mut bare: Option<&[u8]> = None;
    let mut dir_uid: Option<&[u8]> = None;
    let mut child_is_monitor = false;
    for name in names {
        let name = as_read(name.as_ref());
        // What the child's name left pending, decided by this parent.
        if let Some(id) = bare.take() {
            if let Some((_, runtime)) = BARE_PARENTS.iter().find(|(p, _)| p.as_bytes() == name) {
                if id.len() == ID_LEN {
                    container = Some((id, *runtime));
                }
            } else if let Some((_, runtime)) =
                NAMED_PARENTS.iter().find(|(p, _)| p.as_bytes() == name)
            {
                container = Some((id, *runtime));
            } else if pod_dir(name).is_some() && id.len() == ID_LEN {
                container = Some((id, Runtime::Cri));
            }
        }
        if let Some(uid) = dir_uid.take() {
            if let Some((_, qos)) = POD_DIR_PARENTS.iter().find(|(p, _)| p.as_bytes() == name) {
                pod = Some((uid, *qos));
            }
        }
        // This name.
        if let Some(found) = container_shape(name) {
            container = Some(found);
        } else if let Some(found) = named_shape(name) {
            if !child_is_monitor {
                container = Some(found);
            }
        } else if !name.is_empty() {
            bare = Some(name);
        }
        child_is_monitor = name == NAMED_MONITOR_CHILD.as_bytes();
        if let Some(found) = pod_slice(name) {
            pod = Some(found);
        } else if let Some(uid) = pod_dir(name) {
            dir_uid = Some(uid);
        }
    }
    ContainerContext {
        container: container.and_then(|(id, runtime)| {
            if runtime.named() {
                let id = &id[..id.len().min(ID_LEN)];
                Some((String::from_utf8_lossy(id).into_owned(), runtime))
            } else {
                is_hex(id).then(|| (String::from_utf8_lossy(id).into_owned(), runtime))
            }
        }),
        pod: pod.and_then(|(uid, qos)| pod_uid(uid).map(|uid| (uid, qos))),
    }
}

/// The context of a task in the cgroup at `path`, relative to the cgroup v2
/// root (`/` or empty: the root; as in `/proc/PID/cgroup` after `0::`).
pub fn from_path(path: &str) -> ContainerContext {
    let mut names: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    names.reverse();
    names.push("");
    from_names(&names)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a4b5c6d7e8f90112233445566778899aabbccddeeff00112233445566abcd";
    const UID: &str = "0b5a8c1e-4f2d-4c3b-9a8e-1d2c3b4a5f60";

    fn uid_() -> String {
        UID.replace('-', "_")
    }

    #[test]
    fn the_host_and_plain_services_are_no_container() {
        for path in [
            "/",
            "",
            "/init.scope",
            "/system.slice/sshd.service",
            "/user.slice/user-1000.slice/session-3.scope",
        ] {
            let c = from_path(path);
            assert_eq!(c, ContainerContext::default(), "{path}");
            assert_eq!((c.id(), c.runtime(), c.in_container()), ("", "", false));
        }
    }

    #[test]
    fn docker_under_both_drivers() {
        let c = from_path(&format!("/system.slice/docker-{ID}.scope"));
        assert_eq!((c.id(), c.runtime()), (ID, "docker"));
        assert_eq!(c.short_id(), &ID[..12]);
        assert!(c.in_container());
        let c = from_path(&format!("/docker/{ID}"));
        assert_eq!((c.id(), c.runtime()), (ID, "docker"));
        // A bare id anywhere else is not a container.
        assert_eq!(from_path(&format!("/system.slice/{ID}")).id(), "");
    }

    #[test]
    fn containerd_crio_and_podman() {
        let cases = [
            (format!("/system.slice/cri-containerd-{ID}.scope"), "containerd"),
            (format!("/machine.slice/crio-{ID}.scope"), "crio"),
            (format!("/crio/crio-{ID}"), "crio"),
            (format!("/machine.slice/libpod-{ID}.scope"), "podman"),
            (
                format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"),
                "podman",
            ),
            (format!("/libpod_parent/libpod-{ID}"), "podman"),
            (format!("/machine.slice/libpod-payload-{ID}.scope"), "podman"),
            (format!("/default/{ID}"), "containerd"),
        ];
        for (path, runtime) in cases {
            let c = from_path(&path);
            assert_eq!((c.id(), c.runtime()), (ID, runtime), "{path}");
        }
    }

    #[test]
    fn the_runtimes_monitors_are_not_containers() {
        for path in [
            format!("/machine.slice/crio-conmon-{ID}.scope"),
            format!("/machine.slice/libpod-conmon-{ID}.scope"),
        ] {
            assert_eq!(from_path(&path), ContainerContext::default(), "{path}");
        }
    }

    #[test]
    fn systemd_nspawn_and_lxc_are_named_containers() {
        let cases = [
            ("/machine.slice/machine-web.scope", "web", "systemd-nspawn"),
            (
                "/machine.slice/machine-web.scope/payload",
                "web",
                "systemd-nspawn",
            ),
            (
                "/machine.slice/machine-web\\x2d1.scope/payload/system.slice/sshd.service",
                "web\\x2d1",
                "systemd-nspawn",
            ),
            (
                "/machine.slice/systemd-nspawn@db.service/payload",
                "db",
                "systemd-nspawn",
            ),
            ("/lxc.payload.u1", "u1", "lxc"),
            ("/lxc.payload.u1/init.scope", "u1", "lxc"),
            ("/lxc/old", "old", "lxc"),
            ("/lxc.payload/mid", "mid", "lxc"),
        ];
        for (path, id, runtime) in cases {
            let c = from_path(path);
            assert_eq!(
                (c.id(), c.runtime(), c.in_container()),
                (id, runtime, true),
                "{path}"
            );
            assert_eq!(c.short_id(), &id[..id.len().min(12)]);
        }
        // The monitors: LXC's own cgroup, nspawn's supervisor.
        for path in [
            "/lxc.monitor.u1",
            "/machine.slice/machine-web.scope/supervisor",
            "/machine.slice/systemd-nspawn@db.service/supervisor",
            "/lxc.monitor/u1",
            // The shapes need a name.
            "/machine.slice/machine-.scope",
            "/lxc.payload.",
            "/machine.slice/systemd-nspawn@.service",
        ] {
            assert_eq!(from_path(path), ContainerContext::default(), "{path}");
        }
        // `supervisor` deeper than directly below is just a cgroup.
        let c = from_path("/machine.slice/machine-web.scope/payload/supervisor");
        assert_eq!(c.id(), "web");
        // A long name is cut to 64 bytes; short_id is its first 12.
        let long = "n".repeat(100);
        let c = from_path(&format!("/lxc.payload.{long}"));
        assert_eq!((c.id(), c.short_id()), (&long[..64], &long[..12]));
        let c = from_path(&format!("/lxc/{long}"));
        assert_eq!(c.id(), &long[..64]);
        // A name too long for the name buffer is not read whole: no suffix.
        let c = from_path(&format!("/machine-{}.scope", "m".repeat(NAME_BUF)));
        assert_eq!(c.id(), "");
        // A bare 64-byte name under `lxc` is an LXC name, not a hex id.
        let c = from_path(&format!("/lxc/{}", ID.to_uppercase()));
        assert_eq!((c.id(), c.runtime()), (ID.to_uppercase().as_str(), "lxc"));
        // docker's parent still wants a 64-digit id.
        assert_eq!(from_path("/docker/short").id(), "");
        // The outermost wins across kinds.
        let c = from_path(&format!(
            "/lxc.payload.outer/system.slice/docker-{ID}.scope"
        ));
        assert_eq!((c.id(), c.runtime()), ("outer", "lxc"));
    }

    #[test]
    fn kubepods_under_the_systemd_driver() {
        let u = uid_();
        for (qos_part, qos) in [
            ("", "guaranteed"),
            ("-burstable", "burstable"),
            ("-besteffort", "besteffort"),
        ] {
            let mut path = String::from("/kubepods.slice");
            if !qos_part.is_empty() {
                path += &format!("/kubepods{qos_part}.slice");
            }
            path += &format!("/kubepods{qos_part}-pod{u}.slice/cri-containerd-{ID}.scope");
            let c = from_path(&path);
            assert_eq!(
                (c.id(), c.runtime(), c.pod_uid(), c.pod_qos()),
                (ID, "containerd", UID, qos),
                "{path}"
            );
        }
        let c = from_path(&format!(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{u}.slice/crio-{ID}.scope"
        ));
        assert_eq!((c.runtime(), c.pod_qos()), ("crio", "besteffort"));
        // The pod's own cgroup (the sandbox's parent): a pod, no container.
        let c = from_path(&format!("/kubepods.slice/kubepods-pod{u}.slice"));
        assert_eq!((c.id(), c.pod_uid(), c.pod_qos()), ("", UID, "guaranteed"));
    }

    #[test]
    fn kubepods_under_the_cgroupfs_driver() {
        for (qos_dir, qos) in [
            ("", "guaranteed"),
            ("/burstable", "burstable"),
            ("/besteffort", "besteffort"),
        ] {
            let path = format!("/kubepods{qos_dir}/pod{UID}/{ID}");
            let c = from_path(&path);
            assert_eq!(
                (c.id(), c.runtime(), c.pod_uid(), c.pod_qos()),
                (ID, "cri", UID, qos),
                "{path}"
            );
        }
        let c = from_path(&format!("/kubepods/burstable/pod{UID}/crio-{ID}"));
        assert_eq!((c.runtime(), c.pod_qos()), ("crio", "burstable"));
        // A pod directory elsewhere is no pod, and its bare child no container.
        let c = from_path(&format!("/elsewhere/pod{UID}/{ID}"));
        assert_eq!((c.pod_uid(), c.runtime()), ("", "cri"));
    }

    #[test]
    fn the_outermost_container_wins() {
        let other = "a".repeat(64);
        let c = from_path(&format!(
            "/system.slice/docker-{ID}.scope/sub/docker-{other}.scope"
        ));
        assert_eq!(c.id(), ID);
        let c = from_path(&format!("/system.slice/docker-{ID}.scope/init.scope"));
        assert_eq!(c.id(), ID);
    }

    #[test]
    fn ids_and_uids_must_be_hex() {
        let upper = ID.to_uppercase();
        assert_eq!(from_path(&format!("/docker-{upper}.scope")).id(), "");
        let bad = format!("{}g", &ID[..63]);
        assert_eq!(from_path(&format!("/docker/{bad}")).id(), "");
        let bad_uid = UID.replace('-', "x");
        assert_eq!(from_path(&format!("/kubepods/pod{bad_uid}")).pod_uid(), "");
    }

    #[test]
    fn a_cgroup_deeper_than_the_walk_is_an_unknown_container() {
        let deep = |n: usize| "/d".repeat(n);
        // MAX_CGROUP_LEVELS - 1 directories below the root: walked.
        assert_eq!(
            from_path(&deep(MAX_CGROUP_LEVELS - 1)),
            ContainerContext::default()
        );
        let c = from_path(&deep(MAX_CGROUP_LEVELS));
        assert_eq!(
            (c.id(), c.runtime(), c.in_container()),
            (UNKNOWN, UNKNOWN, true)
        );
        assert_eq!((c.short_id(), c.pod_uid()), ("unknown", ""));
    }

    #[test]
    fn long_names_are_no_container() {
        let long = format!("docker-{ID}.scope{}", "x".repeat(NAME_BUF));
        assert_eq!(from_path(&format!("/{long}")).id(), "");
    }
}
