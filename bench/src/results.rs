//! The machine-readable results of a benchmark run (`results.json`) and the
//! description of the machine they were measured on.
//!
//! Each phase replaces its own part, so phases can be run (and re-run)
//! separately and rendered together.

use std::path::Path;

use crate::compile::{CompileRow, Tools, VmlinuxRow};
use crate::cost::{EventRow, FloorRow, SizeRow};
use crate::limit::LimitRow;
use crate::throughput::ThroughputRow;

/// Everything measured.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Results {
    pub machine: Machine,
    /// The command line of the run that wrote each phase.
    pub commands: Vec<String>,
    pub settings: Settings,
    pub vmlinux: Option<VmlinuxRow>,
    pub compile: Vec<CompileRow>,
    pub floors: Vec<FloorRow>,
    pub events: Vec<EventRow>,
    pub sizes: Vec<SizeRow>,
    #[serde(default)]
    pub limits: Vec<LimitRow>,
    pub throughput: Vec<ThroughputRow>,
}

/// Repetitions and durations used.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    pub reps: usize,
    /// Milliseconds of load per per-event run.
    pub load_ms: u64,
    pub sizes: Vec<usize>,
}

/// Where the numbers come from.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub os: String,
    pub clang: Option<String>,
    pub bpftrace: Option<String>,
    pub bpftool: Option<String>,
    pub polc: String,
    /// UTC, RFC 3339.
    pub date: String,
    /// /proc/loadavg when the run started (other work on the machine).
    pub load_average: String,
}

impl Machine {
    pub fn describe(tools: &Tools) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or_else(|| "unknown".to_string(), |(_, v)| v.trim().to_string());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string();
        let os = std::fs::read_to_string("/etc/os-release")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        Machine {
            cpu,
            cores,
            memory_gib: (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel,
            os,
            clang: Tools::version(&tools.clang),
            bpftrace: Tools::version(&tools.bpftrace),
            bpftool: Tools::version(&tools.bpftool),
            polc: env!("CARGO_PKG_VERSION").to_string(),
            date: polrt::output::rfc3339(now),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

impl Results {
    /// Reads `path`, or empty results when there is none.
    pub fn load(path: &Path) -> Result<Results, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("{} is not a results file: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Results::default()),
            Err(e) => Err(format!("reading {}: {e}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, text + "\n").map_err(|e| format!("writing {}: {e}", path.display()))
    }
}
