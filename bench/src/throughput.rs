//! Event throughput of the runtime: `polrt run --format json --output FILE`
//! on a policy that reports every call of one kind the load generator makes
//! (an open of one benchmark-only path, or a UDP connect to one
//! benchmark-only port on 127.0.0.1), scoped to the test cgroup, while the
//! generator makes that call at a fixed rate (or as fast as it can). Counts
//! the events written and the losses the kernel counted, and the runtime's
//! CPU time per event.

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::compile::Tools;
use crate::load::{self, LoadRun};
use crate::scenario::Load;

/// The call whose every occurrence is an event.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Burst {
    /// Opens of /tmp/polc-bench/burst (`file.open`; without BPF LSM on
    /// `tp_btf/sys_exit`, about 2 µs an open: the generator tops out near
    /// 500,000 a second on one core).
    Open,
    /// UDP connects to 127.0.0.1:47999 (`cgroup/connect4`: about 240 ns a
    /// call with the program attached: one core offers millions a second).
    Connect,
}

impl Burst {
    pub const ALL: [Burst; 2] = [Burst::Open, Burst::Connect];

    pub fn name(self) -> &'static str {
        match self {
            Burst::Open => "open",
            Burst::Connect => "connect",
        }
    }

    /// The policy under bench/pol/.
    pub fn policy(self) -> &'static str {
        match self {
            Burst::Open => "throughput.pol",
            Burst::Connect => "throughput_connect.pol",
        }
    }

    /// What the generator does.
    pub fn load(self) -> Load {
        match self {
            Burst::Open => Load::Open {
                path: BURST_PATH.into(),
            },
            Burst::Connect => Load::Connect {
                addr: Ipv4Addr::LOCALHOST,
                port: BURST_PORT,
            },
        }
    }

    /// The rates measured (calls per second; `None`: as fast as the
    /// generator can), up to what the call allows.
    pub fn rates(self) -> Vec<Option<u64>> {
        match self {
            Burst::Open => vec![
                Some(10_000),
                Some(50_000),
                Some(100_000),
                Some(200_000),
                Some(400_000),
                None,
            ],
            Burst::Connect => vec![
                Some(10_000),
                Some(100_000),
                Some(200_000),
                Some(500_000),
                Some(1_000_000),
                Some(1_500_000),
                Some(2_000_000),
                None,
            ],
        }
    }
}

/// Rows measured before there was a connect load are open rows.
fn open_load() -> String {
    Burst::Open.name().to_string()
}

/// One rate at one ring buffer size.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ThroughputRow {
    /// The [`Burst`] by name (`open`, `connect`).
    #[serde(default = "open_load")]
    pub load: String,
    /// The generator and polrt ran at real-time priority (`SCHED_FIFO`).
    #[serde(default)]
    pub realtime: bool,
    pub ringbuf_bytes: u32,
    /// Calls per second asked of the generator; `None`: as fast as it can.
    pub offered_rate: Option<u64>,
    /// Matching calls made.
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

/// The path every event of the open throughput policy is about.
pub const BURST_PATH: &str = "/tmp/polc-bench/burst";

/// The port every event of the connect throughput policy is about
/// (`bench/pol/throughput_connect.pol`; nothing listens there: a UDP
/// connect sends nothing).
pub const BURST_PORT: u16 = 47999;

/// Runs every rate at every ring buffer size; `rates` replaces the load's
/// own list when not empty.
#[allow(clippy::too_many_arguments)]
pub fn run(
    tools: &Tools,
    pol_dir: &Path,
    burst: Burst,
    cgroup: &Path,
    scratch: &Path,
    rates: &[Option<u64>],
    ringbufs: &[u32],
    duration: Duration,
    realtime: bool,
) -> Vec<ThroughputRow> {
    let rates = if rates.is_empty() {
        burst.rates()
    } else {
        rates.to_vec()
    };
    let policy = pol_dir.join(burst.policy());
    let mut rows = Vec::new();
    for &ringbuf_bytes in ringbufs {
        for &rate in &rates {
            let row = one(
                tools,
                &policy,
                burst,
                cgroup,
                scratch,
                rate,
                ringbuf_bytes,
                duration,
                realtime,
            )
            .unwrap_or_else(|error| ThroughputRow {
                load: burst.name().to_string(),
                realtime,
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
                "polc-bench: throughput {} ring {} KiB, rate {}: {} made ({:.0}/s), {} delivered ({:.0}/s), {} lost, {:.3} µs polrt CPU/event{}",
                burst.name(),
                ringbuf_bytes / 1024,
                rate.map_or("max".to_string(), |r| r.to_string()),
                row.generated,
                row.generated as f64 / row.seconds.max(1e-9),
                row.delivered,
                row.events_per_s,
                row.lost,
                row.cpu_us_per_event,
                row.error
                    .as_ref()
                    .map_or(String::new(), |e| format!(" (fails: {e})"))
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

/// Puts every thread of `pid` in `SCHED_FIFO` 1, as the generator is with
/// `realtime`: the two then have the machine's cores before other work.
fn fifo_threads(pid: u32) -> Result<(), String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| e.to_string())?;
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<i32>().ok())
        else {
            continue;
        };
        let param = libc::sched_param { sched_priority: 1 };
        // SAFETY: `param` is a valid sched_param; `tid` is a thread of our child.
        if unsafe { libc::sched_setscheduler(tid, libc::SCHED_FIFO, &param) } != 0 {
            return Err(format!(
                "SCHED_FIFO for polrt: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
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

#[allow(clippy::too_many_arguments)]
fn one(
    tools: &Tools,
    policy: &Path,
    burst: Burst,
    cgroup: &Path,
    scratch: &Path,
    rate: Option<u64>,
    ringbuf_bytes: u32,
    duration: Duration,
    realtime: bool,
) -> Result<ThroughputRow, String> {
    let output = scratch.join(format!(
        "throughput-{}-{}k-{}.jsonl",
        burst.name(),
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
    if realtime {
        if let Err(error) = fifo_threads(pid) {
            stop(&mut child);
            return Err(error);
        }
    }
    let cpu_before = cpu_ticks(pid);
    let done = load::run(&LoadRun {
        load: burst.load(),
        duration,
        cgroup: Some(cgroup.to_path_buf()),
        rate,
        realtime,
    });
    // Let the runtime catch up with what is in the ring buffer.
    std::thread::sleep(Duration::from_millis(700));
    let cpu_after = cpu_ticks(pid);
    stop(&mut child);
    let _ = reader.join();
    let done = done?;
    let counted = count_output(&output);
    let _ = std::fs::remove_file(&output);
    let (delivered, lost) = counted?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu_s = cpu_after.saturating_sub(cpu_before) as f64 / hz;
    Ok(ThroughputRow {
        load: burst.name().to_string(),
        realtime,
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

/// Events in polrt's JSON output, and the losses its summary gives. Read a
/// line at a time (millions of events make a file of gigabytes); an event
/// line is known by its start (polrt writes `{"type":"event",` first), any
/// other line is parsed.
fn count_output(path: &Path) -> Result<(u64, u64), String> {
    const EVENT: &[u8] = b"{\"type\":\"event\",";
    let file = std::fs::File::open(path).map_err(|e| format!("reading polrt's output: {e}"))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let (mut delivered, mut lost) = (0u64, 0u64);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("reading polrt's output: {e}"))?;
        if n == 0 {
            break;
        }
        if line.starts_with(EVENT) {
            delivered += 1;
            continue;
        }
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&line) else {
            continue;
        };
        match value["type"].as_str() {
            Some("event") => delivered += 1,
            Some("summary") => lost = value["lost"].as_u64().unwrap_or(lost),
            _ => {}
        }
    }
    Ok((delivered, lost))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_counted_by_line_and_the_summary_gives_the_losses() {
        let dir = std::env::temp_dir().join(format!("polc-bench-count-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("out.jsonl");
        let text = concat!(
            "{\"type\":\"backend\",\"hook\":\"net.connect\"}\n",
            "{\"type\":\"event\",\"time\":\"x\"}\n",
            "{\"type\":\"event\",\"time\":\"y\"}\n",
            "{\"time\":\"z\",\"type\":\"event\"}\n",
            "{\"type\":\"loss\",\"count\":5}\n",
            "{\"type\":\"summary\",\"rules\":[],\"lost\":7}\n",
        );
        std::fs::write(&path, text).expect("write");
        assert_eq!(count_output(&path), Ok((3, 7)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn connect_rates_reach_two_million() {
        assert!(Burst::Connect.rates().contains(&Some(2_000_000)));
        assert!(Burst::Connect.rates().contains(&None));
    }
}
