//! Event throughput of the runtime: `polrt run --format json --output FILE`
//! on a policy that reports every open of one benchmark-only path, scoped to
//! the test cgroup, while the load generator opens that path at a fixed rate
//! (or as fast as it can). Counts the events written and the losses the
//! kernel counted, and the runtime's CPU time per event.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::compile::Tools;
use crate::load::{self, LoadRun};
use crate::scenario::Load;

/// One rate at one ring buffer size.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ThroughputRow {
    pub ringbuf_bytes: u32,
    /// Opens per second asked of the generator; `None`: as fast as it can.
    pub offered_rate: Option<u64>,
    /// Matching opens made.
    pub generated: u64,
    pub seconds: f64,
    /// Events written by polrt.
    pub delivered: u64,
    /// Events the kernel counted as lost (ring buffer full).
    pub lost: u64,
    /// Delivered events per second of load.
    pub events_per_s: f64,
    /// polrt's user + system CPU time per delivered event (microseconds).
    pub cpu_us_per_event: f64,
    /// When the run failed: why.
    pub error: Option<String>,
}

/// The path every event of the throughput policy is about.
pub const BURST_PATH: &str = "/tmp/polc-bench/burst";

/// Runs every rate at every ring buffer size.
pub fn run(
    tools: &Tools,
    policy: &Path,
    cgroup: &Path,
    scratch: &Path,
    rates: &[Option<u64>],
    ringbufs: &[u32],
    duration: Duration,
) -> Vec<ThroughputRow> {
    let mut rows = Vec::new();
    for &ringbuf_bytes in ringbufs {
        for &rate in rates {
            let row = one(
                tools,
                policy,
                cgroup,
                scratch,
                rate,
                ringbuf_bytes,
                duration,
            )
            .unwrap_or_else(|error| ThroughputRow {
                ringbuf_bytes,
                offered_rate: rate,
                generated: 0,
                seconds: 0.0,
                delivered: 0,
                lost: 0,
                events_per_s: 0.0,
                cpu_us_per_event: 0.0,
                error: Some(error),
            });
            eprintln!(
                "polc-bench: throughput ring {} KiB, rate {}: {} delivered ({:.0}/s), {} lost",
                ringbuf_bytes / 1024,
                rate.map_or("max".to_string(), |r| r.to_string()),
                row.delivered,
                row.events_per_s,
                row.lost
            );
            rows.push(row);
        }
    }
    rows
}

/// Reads a polrt's standard error (piped) on a thread of its own: the
/// receiver gets a message when its `ready` line comes; the thread returns
/// every line once polrt exits.
pub(crate) fn watch_ready(
    child: &mut std::process::Child,
) -> (
    std::sync::mpsc::Receiver<()>,
    std::thread::JoinHandle<Vec<String>>,
) {
    let stderr = child.stderr.take().expect("piped");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("polrt: ready:") {
                let _ = ready_tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    (ready_rx, reader)
}

/// User + system CPU ticks of a process.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}

fn one(
    tools: &Tools,
    policy: &Path,
    cgroup: &Path,
    scratch: &Path,
    rate: Option<u64>,
    ringbuf_bytes: u32,
    duration: Duration,
) -> Result<ThroughputRow, String> {
    let output = scratch.join(format!(
        "throughput-{}k-{}.jsonl",
        ringbuf_bytes / 1024,
        rate.map_or("max".to_string(), |r| r.to_string())
    ));
    let mut child = Command::new(&tools.polrt)
        .arg("run")
        .arg(policy)
        .args(["--format", "json", "--output"])
        .arg(&output)
        .arg("--cgroup")
        .arg(cgroup)
        .arg("--ringbuf-size")
        .arg(ringbuf_bytes.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting polrt: {e}"))?;
    let pid = child.id();
    let (ready_rx, reader) = watch_ready(&mut child);
    let stop = |child: &mut std::process::Child| {
        // SAFETY: kill has no memory preconditions; the pid is our child's.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
        let _ = child.wait();
    };
    if ready_rx.recv_timeout(Duration::from_secs(30)).is_err() {
        stop(&mut child);
        let lines = reader.join().unwrap_or_default();
        return Err(format!("polrt did not start: {}", lines.join("; ")));
    }
    let cpu_before = cpu_ticks(pid);
    let done = load::run(&LoadRun {
        load: Load::Open {
            path: BURST_PATH.into(),
        },
        duration,
        cgroup: Some(cgroup.to_path_buf()),
        rate,
        realtime: false,
    });
    // Let the runtime catch up with what is in the ring buffer.
    std::thread::sleep(Duration::from_millis(700));
    let cpu_after = cpu_ticks(pid);
    stop(&mut child);
    let _ = reader.join();
    let done = done?;
    let text =
        std::fs::read_to_string(&output).map_err(|e| format!("reading polrt's output: {e}"))?;
    let _ = std::fs::remove_file(&output);
    let (mut delivered, mut lost) = (0u64, 0u64);
    for line in text.lines() {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match value["type"].as_str() {
            Some("event") => delivered += 1,
            Some("summary") => lost = value["lost"].as_u64().unwrap_or(lost),
            _ => {}
        }
    }
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_s = cpu_after.saturating_sub(cpu_before) as f64 / hz;
    Ok(ThroughputRow {
        ringbuf_bytes,
        offered_rate: rate,
        generated: done.calls,
        seconds: done.seconds,
        delivered,
        lost,
        events_per_s: delivered as f64 / done.seconds.max(1e-9),
        cpu_us_per_event: if delivered == 0 {
            0.0
        } else {
            cpu_s * 1e6 / delivered as f64
        },
        error: None,
    })
}
