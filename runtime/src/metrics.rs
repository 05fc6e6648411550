//! `polrt run --metrics ADDR`: the Prometheus text exposition format
//! (version 0.0.4) over HTTP, for a Prometheus server to scrape.
//!
//! The event loop renders a [`Snapshot`] into text once a second and after
//! every reload ([`Metrics::publish`]); a thread of its own accepts
//! connections and answers each with the last text. A client is given two
//! seconds to send its request and to take the answer (one that never
//! reads is dropped then); the event loop, and so enforcement and event
//! output, never waits for a client.
//!
//! Pure but for the listener: [`render`] is unit tested.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Error;

/// How long a client may take to send its request or to read the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// One rule's counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMetric {
    pub rule: String,
    pub hook: String,
    /// `allow`, `audit`, `deny`, `kill`, `trace`.
    pub action: String,
    pub matches: u64,
}

/// A program attached for a policy, with the kernel's run statistics
/// (`None` when the kernel does not count: `bpf_stats` off).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramMetric {
    pub symbol: String,
    pub id: u32,
    pub run_time_ns: Option<u64>,
    pub run_count: Option<u64>,
}

/// One enforced policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyMetrics {
    pub name: String,
    pub generation: String,
    pub rules: Vec<RuleMetric>,
    /// Events lost (the ring buffer was full), all generations.
    pub lost: u64,
    /// Per hook: the backend it got.
    pub backends: Vec<(String, String)>,
    pub programs: Vec<ProgramMetric>,
    /// Bytes in its ring buffer not yet read by polrt, and the buffer's
    /// size (`None` when the buffer's positions could not be mapped).
    pub ring: Option<(u64, u64)>,
}

/// Everything `--metrics` reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub policies: Vec<PolicyMetrics>,
    pub reloads: u64,
    pub failed_reloads: u64,
    /// List files read again and applied in place, and refused.
    pub list_updates: u64,
    pub list_refusals: u64,
    /// Records that could not be written to the output (a full disk, a
    /// journal that could not keep up), since polrt started.
    pub output_failures: u64,
}

/// A label value, escaped as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text of `snapshot`.
pub fn render(snapshot: &Snapshot) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, u64)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {value}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
    };
    let policy_labels = |p: &PolicyMetrics| {
        format!(
            "policy=\"{}\",generation=\"{}\"",
            label(&p.name),
            label(&p.generation)
        )
    };
    family(
        "polrt_policy_info",
        "gauge",
        "A policy enforced, with its generation (the SHA-256 of its source).",
        snapshot
            .policies
            .iter()
            .map(|p| (policy_labels(p), 1))
            .collect(),
    );
    family(
        "polrt_rule_matches_total",
        "counter",
        "Matches of each rule and trace (events delivered and lost; allow rules too).",
        snapshot
            .policies
            .iter()
            .flat_map(|p| {
                p.rules.iter().map(move |r| {
                    (
                        format!(
                            "policy=\"{}\",rule=\"{}\",hook=\"{}\",action=\"{}\"",
                            label(&p.name),
                            label(&r.rule),
                            label(&r.hook),
                            label(&r.action)
                        ),
                        r.matches,
                    )
                })
            })
            .collect(),
    );
    family(
        "polrt_verdicts_total",
        "counter",
        "Matches per verdict (the action of the matching rules), per policy.",
        snapshot
            .policies
            .iter()
            .flat_map(|p| {
                let mut by_action: std::collections::BTreeMap<&str, u64> = Default::default();
                for rule in &p.rules {
                    *by_action.entry(rule.action.as_str()).or_default() += rule.matches;
                }
                by_action.into_iter().map(move |(action, n)| {
                    (
                        format!(
                            "policy=\"{}\",verdict=\"{}\"",
                            label(&p.name),
                            label(action)
                        ),
                        n,
                    )
                })
            })
            .collect(),
    );
    family(
        "polrt_lost_events_total",
        "counter",
        "Events the kernel could not put in the ring buffer (it was full).",
        snapshot
            .policies
            .iter()
            .map(|p| (format!("policy=\"{}\"", label(&p.name)), p.lost))
            .collect(),
    );
    let ring = |value: fn((u64, u64)) -> u64| -> Vec<(String, u64)> {
        snapshot
            .policies
            .iter()
            .filter_map(|p| {
                p.ring
                    .map(|r| (format!("policy=\"{}\"", label(&p.name)), value(r)))
            })
            .collect()
    };
    family(
        "polrt_ringbuf_used_bytes",
        "gauge",
        "Bytes in the policy's event ring buffer that polrt has not read yet (when it reaches the size, events are lost).",
        ring(|(used, _)| used),
    );
    family(
        "polrt_ringbuf_size_bytes",
        "gauge",
        "Size of the policy's event ring buffer.",
        ring(|(_, size)| size),
    );
    family(
        "polrt_output_failures_total",
        "counter",
        "Records polrt could not write to its output (their events are lost; enforcement goes on).",
        vec![(String::new(), snapshot.output_failures)],
    );
    family(
        "polrt_backend_info",
        "gauge",
        "The backend each hook of each policy got.",
        snapshot
            .policies
            .iter()
            .flat_map(|p| {
                p.backends.iter().map(move |(hook, backend)| {
                    (
                        format!(
                            "policy=\"{}\",hook=\"{}\",backend=\"{}\"",
                            label(&p.name),
                            label(hook),
                            label(backend)
                        ),
                        1,
                    )
                })
            })
            .collect(),
    );
    let programs = |value: fn(&ProgramMetric) -> Option<u64>| -> Vec<(String, u64)> {
        snapshot
            .policies
            .iter()
            .flat_map(|p| {
                p.programs.iter().filter_map(move |prog| {
                    value(prog).map(|v| {
                        (
                            format!(
                                "policy=\"{}\",program=\"{}\",id=\"{}\"",
                                label(&p.name),
                                label(&prog.symbol),
                                prog.id
                            ),
                            v,
                        )
                    })
                })
            })
            .collect()
    };
    let run_time = programs(|p| p.run_time_ns);
    let run_count = programs(|p| p.run_count);
    family(
        "polrt_program_run_time_ns_total",
        "counter",
        "Time the kernel spent running each program (bpf_stats, enabled while polrt serves metrics).",
        run_time,
    );
    family(
        "polrt_program_runs_total",
        "counter",
        "Runs of each program (bpf_stats).",
        run_count,
    );
    family(
        "polrt_reloads_total",
        "counter",
        "Policies loaded, reloaded or unloaded while polrt runs.",
        vec![(String::new(), snapshot.reloads)],
    );
    family(
        "polrt_reloads_failed_total",
        "counter",
        "Reloads refused (the old generation stayed).",
        vec![(String::new(), snapshot.failed_reloads)],
    );
    family(
        "polrt_list_updates_total",
        "counter",
        "List files read again and applied to their maps in place.",
        vec![(String::new(), snapshot.list_updates)],
    );
    family(
        "polrt_list_refusals_total",
        "counter",
        "List files refused when read again (their old entries stayed).",
        vec![(String::new(), snapshot.list_refusals)],
    );
    out
}

/// The text served, shared between the event loop and the server thread.
#[derive(Clone, Default)]
pub struct Metrics {
    text: Arc<Mutex<String>>,
}

impl Metrics {
    /// Replaces the text served.
    pub fn publish(&self, snapshot: &Snapshot) {
        let text = render(snapshot);
        if let Ok(mut served) = self.text.lock() {
            *served = text;
        }
    }

    fn text(&self) -> String {
        self.text.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Listens on `addr` and serves from a thread of its own; the address
    /// actually bound (port 0 picks one).
    pub fn serve(&self, addr: &str) -> Result<SocketAddr, Error> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| Error::Usage(format!("--metrics {addr}: cannot listen there: {e}")))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Usage(format!("--metrics {addr}: {e}")))?;
        let metrics = self.clone();
        std::thread::Builder::new()
            .name("polrt-metrics".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    // One client at a time, each bounded by the timeouts.
                    let _ = answer(stream, &metrics.text());
                }
            })
            .map_err(|e| Error::Usage(format!("--metrics: cannot start its thread: {e}")))?;
        Ok(bound)
    }
}

/// Reads the request's head (any path is answered), writes the text.
fn answer(mut stream: TcpStream, text: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16384 {
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        request.extend_from_slice(&buffer[..n]);
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(text.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            policies: vec![PolicyMetrics {
                name: "web".into(),
                generation: "ab\"12".into(),
                rules: vec![
                    RuleMetric {
                        rule: "block".into(),
                        hook: "net.connect".into(),
                        action: "deny".into(),
                        matches: 3,
                    },
                    RuleMetric {
                        rule: "block6".into(),
                        hook: "net.connect".into(),
                        action: "deny".into(),
                        matches: 4,
                    },
                ],
                lost: 2,
                backends: vec![("net.connect".into(), "cgroup".into())],
                programs: vec![ProgramMetric {
                    symbol: "net_connect_cgroup4".into(),
                    id: 7,
                    run_time_ns: Some(1500),
                    run_count: Some(9),
                }],
                ring: Some((4096, 1 << 20)),
            }],
            reloads: 5,
            failed_reloads: 1,
            list_updates: 0,
            list_refusals: 0,
            output_failures: 6,
        }
    }

    #[test]
    fn the_text_format_names_every_series_with_its_labels() {
        let text = render(&snapshot());
        for line in [
            "# TYPE polrt_rule_matches_total counter",
            "polrt_policy_info{policy=\"web\",generation=\"ab\\\"12\"} 1",
            "polrt_rule_matches_total{policy=\"web\",rule=\"block\",hook=\"net.connect\",action=\"deny\"} 3",
            "polrt_verdicts_total{policy=\"web\",verdict=\"deny\"} 7",
            "polrt_lost_events_total{policy=\"web\"} 2",
            "polrt_backend_info{policy=\"web\",hook=\"net.connect\",backend=\"cgroup\"} 1",
            "polrt_program_run_time_ns_total{policy=\"web\",program=\"net_connect_cgroup4\",id=\"7\"} 1500",
            "polrt_program_runs_total{policy=\"web\",program=\"net_connect_cgroup4\",id=\"7\"} 9",
            "polrt_reloads_total 5",
            "polrt_reloads_failed_total 1",
            "polrt_ringbuf_used_bytes{policy=\"web\"} 4096",
            "polrt_ringbuf_size_bytes{policy=\"web\"} 1048576",
            "polrt_output_failures_total 6",
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line:?} in:\n{text}");
        }
    }

    #[test]
    fn the_server_answers_and_drops_a_client_that_sends_nothing() {
        let metrics = Metrics::default();
        metrics.publish(&snapshot());
        let addr = metrics.serve("127.0.0.1:0").expect("listen");
        // A client that never sends a request does not stop the next one
        // for longer than the timeout.
        let _silent = TcpStream::connect(addr).expect("connect");
        let mut client = TcpStream::connect(addr).expect("connect");
        client
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("request");
        let mut answer = String::new();
        client.read_to_string(&mut answer).expect("answer");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.contains("\npolrt_reloads_total 5\n"), "{answer}");
        let error = Metrics::default()
            .serve("not an address")
            .expect_err("refused");
        assert_eq!(error.exit_code(), crate::EXIT_USAGE);
    }
}
