//! Container names and images for events: what the container runtimes'
//! local state on the node says of a container id the kernel reported
//! (`container.id`), looked up once per id and cached.
//!
//! Only display: the programs decide on the id the kernel read from the
//! task's cgroup, never on anything here. What is read, for a 64-digit id
//! (anything else, such as `unknown`, is not looked up):
//!
//! - docker: `<docker root>/containers/<id>/config.v2.json` (`Name`, without
//!   its leading `/`, and `Config.Image`, the image as the container was
//!   created from it);
//! - containerd (Kubernetes' CRI plugin): the OCI bundle's
//!   `<containerd state>/io.containerd.runtime.v2.task/<namespace>/<id>/config.json`
//!   (annotations `io.kubernetes.cri.container-name` and
//!   `io.kubernetes.cri.image-name`), in the first 16 namespaces;
//! - CRI-O and podman: `<containers storage>/overlay-containers/<id>/userdata/config.json`
//!   (annotations `io.kubernetes.container.name` or
//!   `io.kubernetes.cri-o.ContainerName`, and `io.kubernetes.cri-o.ImageName`),
//!   and podman's `<containers storage>/overlay-containers/containers.json`
//!   (the container's first name) when no annotation names it.
//!
//! Each file is read whole only when it is at most [`MAX_STATE_BYTES`]; a
//! missing, larger or unparsable file names nothing. A lookup is a few
//! reads of local files, done once per id for the run (a miss is cached
//! too, for [`MISS_RETRY`], since an event may come before the runtime
//! has written its state); the cache holds at most [`MAX_CACHED`] ids and
//! starts afresh when full.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// Largest state file read.
pub const MAX_STATE_BYTES: u64 = 1 << 20;
/// Most ids kept.
pub const MAX_CACHED: usize = 4096;
/// How long an id nothing names stays unnamed before it is looked up again.
pub const MISS_RETRY: Duration = Duration::from_secs(5);
/// Most containerd namespaces searched.
const MAX_NAMESPACES: usize = 16;

/// Where the runtimes keep their state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateRoots {
    /// docker's data root (`--data-root`).
    pub docker: PathBuf,
    /// containerd's state directory (`state` in its config).
    pub containerd: PathBuf,
    /// containers/storage's graph root (CRI-O, podman).
    pub containers_storage: PathBuf,
}

impl Default for StateRoots {
    fn default() -> StateRoots {
        StateRoots {
            docker: PathBuf::from("/var/lib/docker"),
            containerd: PathBuf::from("/run/containerd"),
            containers_storage: PathBuf::from("/var/lib/containers/storage"),
        }
    }
}

/// What the runtime's state names of one container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerInfo {
    pub name: Option<String>,
    pub image: Option<String>,
}

impl ContainerInfo {
    fn is_empty(&self) -> bool {
        self.name.is_none() && self.image.is_none()
    }

    fn or(self, other: ContainerInfo) -> ContainerInfo {
        ContainerInfo {
            name: self.name.or(other.name),
            image: self.image.or(other.image),
        }
    }
}

/// The cache of lookups.
pub struct Containers {
    roots: StateRoots,
    cache: HashMap<String, (ContainerInfo, Instant)>,
}

/// Whether `id` is a container id (64 lowercase hex digits).
pub fn is_container_id(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Containers {
    pub fn new(roots: StateRoots) -> Containers {
        Containers {
            roots,
            cache: HashMap::new(),
        }
    }

    /// What the runtimes' state names of container `id` (nothing for an id
    /// that is not one).
    pub fn lookup(&mut self, id: &str) -> ContainerInfo {
        if !is_container_id(id) {
            return ContainerInfo::default();
        }
        if let Some((info, at)) = self.cache.get(id) {
            if !info.is_empty() || at.elapsed() < MISS_RETRY {
                return info.clone();
            }
        }
        let info = lookup(&self.roots, id);
        if self.cache.len() >= MAX_CACHED {
            self.cache.clear();
        }
        self.cache
            .insert(id.to_string(), (info.clone(), Instant::now()));
        info
    }
}

/// Reads `path` as JSON if it is at most [`MAX_STATE_BYTES`].
fn read_json(path: &Path) -> Option<Json> {
    let file = fs::File::open(path).ok()?;
    if file.metadata().ok()?.len() > MAX_STATE_BYTES {
        return None;
    }
    let mut text = Vec::new();
    file.take(MAX_STATE_BYTES).read_to_end(&mut text).ok()?;
    serde_json::from_slice(&text).ok()
}

fn string(value: &Json) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

fn annotation(config: &Json, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|key| string(&config["annotations"][*key]))
}

/// What an OCI bundle's `config.json` names.
fn oci(config: &Json) -> ContainerInfo {
    ContainerInfo {
        name: annotation(
            config,
            &[
                "io.kubernetes.cri.container-name",
                "io.kubernetes.container.name",
                "io.kubernetes.cri-o.ContainerName",
            ],
        ),
        image: annotation(
            config,
            &[
                "io.kubernetes.cri.image-name",
                "io.kubernetes.cri-o.ImageName",
            ],
        ),
    }
}

fn lookup(roots: &StateRoots, id: &str) -> ContainerInfo {
    // docker
    let docker = roots
        .docker
        .join("containers")
        .join(id)
        .join("config.v2.json");
    if let Some(config) = read_json(&docker) {
        let info = ContainerInfo {
            name: string(&config["Name"]).map(|n| n.trim_start_matches('/').to_string()),
            image: string(&config["Config"]["Image"]),
        };
        if !info.is_empty() {
            return info;
        }
    }
    // containerd
    let tasks = roots.containerd.join("io.containerd.runtime.v2.task");
    if let Ok(namespaces) = fs::read_dir(&tasks) {
        for namespace in namespaces.flatten().take(MAX_NAMESPACES) {
            let bundle = namespace.path().join(id).join("config.json");
            if let Some(config) = read_json(&bundle) {
                let info = oci(&config);
                if !info.is_empty() {
                    return info;
                }
            }
        }
    }
    // CRI-O and podman (containers/storage)
    let storage = roots.containers_storage.join("overlay-containers");
    let mut info = read_json(&storage.join(id).join("userdata/config.json"))
        .map(|config| oci(&config))
        .unwrap_or_default();
    if info.name.is_none() {
        if let Some(Json::Array(list)) = read_json(&storage.join("containers.json")) {
            let named = list
                .iter()
                .find(|c| c["id"] == id)
                .and_then(|c| string(&c["names"][0]));
            info = info.or(ContainerInfo {
                name: named,
                image: None,
            });
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4c01db0b339c1b4c4f3d2a5a9d1e0f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";

    fn roots(dir: &Path) -> StateRoots {
        StateRoots {
            docker: dir.join("docker"),
            containerd: dir.join("containerd"),
            containers_storage: dir.join("storage"),
        }
    }

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("polrt-containers-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(path: PathBuf, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn docker_names_and_images() {
        let dir = temp("docker");
        write(
            dir.join(format!("docker/containers/{ID}/config.v2.json")),
            r#"{"ID":"x","Name":"/web","Config":{"Image":"nginx:1.27"}}"#,
        );
        let mut containers = Containers::new(roots(&dir));
        let info = containers.lookup(ID);
        assert_eq!(info.name.as_deref(), Some("web"));
        assert_eq!(info.image.as_deref(), Some("nginx:1.27"));
        // Cached: gone from disk, still named.
        fs::remove_dir_all(dir.join("docker")).unwrap();
        assert_eq!(containers.lookup(ID), info);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn containerd_and_crio_annotations_and_podman_names() {
        let dir = temp("cri");
        write(
            dir.join(format!(
                "containerd/io.containerd.runtime.v2.task/k8s.io/{ID}/config.json"
            )),
            r#"{"annotations":{"io.kubernetes.cri.container-name":"app","io.kubernetes.cri.image-name":"registry.k8s.io/pause:3.9"}}"#,
        );
        let info = Containers::new(roots(&dir)).lookup(ID);
        assert_eq!(info.name.as_deref(), Some("app"));
        assert_eq!(info.image.as_deref(), Some("registry.k8s.io/pause:3.9"));
        fs::remove_dir_all(dir.join("containerd")).unwrap();
        write(
            dir.join("storage/overlay-containers/containers.json"),
            &format!(r#"[{{"id":"{ID}","names":["db"],"image":"abc"}}]"#),
        );
        let info = Containers::new(roots(&dir)).lookup(ID);
        assert_eq!((info.name.as_deref(), info.image), (Some("db"), None));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_ids_are_looked_up_and_big_files_are_not_read() {
        let dir = temp("bounds");
        let mut containers = Containers::new(roots(&dir));
        assert_eq!(containers.lookup("unknown"), ContainerInfo::default());
        assert_eq!(containers.lookup("../../etc"), ContainerInfo::default());
        let big = format!(
            r#"{{"Name":"/big","Config":{{"Image":"x"}},"pad":"{}"}}"#,
            "x".repeat(MAX_STATE_BYTES as usize)
        );
        write(
            dir.join(format!("docker/containers/{ID}/config.v2.json")),
            &big,
        );
        assert_eq!(containers.lookup(ID), ContainerInfo::default());
        fs::remove_dir_all(&dir).unwrap();
    }
}
