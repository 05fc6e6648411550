//! Rendering what `polrt run` reports: backend choices, events, losses and
//! the final per-rule counts, as text for terminals or as JSON lines with a
//! stable schema (documented in `docs/runtime.md`; every object has a
//! `type`: `backend`, `event`, `loss`, `error` or `summary`).
//!
//! Also owns wall-clock time: event times are `bpf_ktime_get_boot_ns()`,
//! converted with the CLOCK_REALTIME - CLOCK_BOOTTIME offset read at start
//! and printed as RFC 3339 UTC. Must not depend on aya.

use std::io::{self, Write};

use polc_abi::Verdict;
use serde_json::{json, Map, Value as Json};

use crate::containers::{ContainerInfo, Containers};
use crate::events::{Event, Value};
use crate::journal::{self, Journal};

/// Output format of `polrt run`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Converts boot-time nanoseconds to wall-clock time.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Clock {
    /// CLOCK_REALTIME - CLOCK_BOOTTIME, in nanoseconds.
    pub offset_ns: i128,
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; both clocks exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

impl Clock {
    /// Reads both clocks now.
    pub fn now() -> Clock {
        let boot = clock_ns(libc::CLOCK_BOOTTIME);
        let real = clock_ns(libc::CLOCK_REALTIME);
        Clock {
            offset_ns: real - boot,
        }
    }

    /// RFC 3339 UTC time of boot-time `boot_ns`.
    pub fn rfc3339(&self, boot_ns: u64) -> String {
        rfc3339(i128::from(boot_ns) + self.offset_ns)
    }
}

/// Formats Unix time in nanoseconds as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub fn rfc3339(unix_ns: i128) -> String {
    let secs = unix_ns.div_euclid(1_000_000_000);
    let nanos = unix_ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(days: i128) -> (i128, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

/// The backend chosen for one hook, as reported at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendReport {
    pub hook: String,
    pub backend: String,
    /// What `deny` means with this backend.
    pub deny_means: String,
    /// Programs attached for the hook: symbol and kernel program id.
    pub programs: Vec<(String, u32)>,
    /// Stronger backends that could not be used here, and why.
    pub unavailable: Vec<(String, String)>,
    /// What the policy asks of the hook that this backend cannot do here.
    pub limits: Vec<String>,
}

impl BackendReport {
    /// The human line, e.g. `exec: tracepoint (deny enforced by SIGKILL ...)`.
    pub fn line(&self) -> String {
        let mut line = format!("{}: {} ({})", self.hook, self.backend, self.deny_means);
        for limit in &self.limits {
            line.push_str(&format!("; limit: {limit}"));
        }
        for (backend, why) in &self.unavailable {
            line.push_str(&format!("; {backend} unavailable: {why}"));
        }
        line
    }
}

/// Whether the LSM guards run, as reported at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardReport {
    pub on: bool,
    /// Why they do not run (empty when they do).
    pub reason: String,
    /// The guard programs attached: symbol and kernel program id.
    pub programs: Vec<(String, u32)>,
    /// The scope's cgroup, when there is one.
    pub scope: Option<String>,
}

impl GuardReport {
    /// The human line.
    pub fn line(&self) -> String {
        if self.on {
            format!(
                "guard: on ({} lsm programs): tasks in cgroup {} cannot signal or trace polrt, nor detach, replace or unpin its programs, links and maps; tasks outside it can stop it",
                self.programs.len(),
                self.scope.as_deref().unwrap_or("/")
            )
        } else {
            format!(
                "guard: off: {}; polrt checks its links every second and reports any that is detached, replaced or unpinned",
                self.reason
            )
        }
    }
}

/// What the link watch ([`crate::attach::Attachments::check`]) found wrong
/// with a link, and what it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tamper {
    /// The program whose link it is.
    pub symbol: String,
    pub section: String,
    /// What happened, in words.
    pub problem: String,
    /// Whether polrt repaired it.
    pub repaired: bool,
    /// How it was repaired, or why it could not be.
    pub outcome: String,
}

impl Tamper {
    /// The human line, e.g. `ALERT: program X (cgroup/connect4): its link
    /// (id 5) was detached (BPF_LINK_DETACH); attached again as link 7`.
    pub fn line(&self) -> String {
        format!(
            "ALERT: program {} ({}): {}; {}",
            self.symbol, self.section, self.problem, self.outcome
        )
    }
}

/// One rule's match count at exit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleCount {
    pub rule: String,
    pub hook: String,
    pub matches: u64,
}

/// Where reports go, and in which format.
///
/// A write that fails (a full disk, a closed pipe) never stops polrt: what
/// could not be written is dropped and counted, and the caller learns of it
/// from [`Output::take_failures`] and says so, while enforcement goes on.
pub struct Output {
    out: Sink,
    format: Format,
    clock: Clock,
    /// Writes that failed since the last [`Output::take_failures`], and the
    /// first error among them.
    failures: Option<(u64, io::Error)>,
    /// Writes that failed since the start.
    failures_total: u64,
    /// The policy whose records are written now, and its generation (the
    /// SHA-256 of its source): added to JSON events (see [`Output::set_policy`]).
    policy: Option<(String, String)>,
    /// `policy` as the end of a JSON event: `,"policy":…,"generation":…`
    /// (escaped once, not for every event).
    policy_json: Vec<u8>,
    /// The host name (of polrt's UTS namespace), added to JSON records.
    hostname: String,
    /// Names and images of the containers of events (see
    /// [`crate::containers`]); none: ids only.
    containers: Option<Containers>,
    /// The user and group databases events' uid and gid are named from
    /// (`--passwd`, `--group`); none: ids only.
    accounts: Option<AccountNames>,
    /// The line being written (events are formatted into it, no
    /// intermediate strings), reused for every event.
    buffer: Vec<u8>,
    /// The last second an event time was formatted for, and its
    /// `YYYY-MM-DDTHH:MM:SS` (events come in bursts within one second).
    second: Option<(i64, [u8; 19])>,
}

/// Where [`Output`] writes: a stream (stdout, `--output FILE`) or the
/// journal (`--output journal`, see [`crate::journal`]).
pub enum Sink {
    Stream(Box<dyn Write + Send>),
    Journal(Journal),
}

/// A record's journal metadata: its `POLRT_TYPE`, priority and fields
/// beyond the message.
struct Meta {
    kind: &'static str,
    priority: u8,
    fields: Vec<(String, String)>,
}

impl Meta {
    fn new(kind: &'static str, priority: u8, fields: Vec<(String, String)>) -> Meta {
        Meta {
            kind,
            priority,
            fields,
        }
    }
}

/// The journal priority of a reload or list record: a refusal is a
/// warning, anything else information.
fn result_priority(result: &str) -> u8 {
    if result == "refused" {
        journal::WARNING
    } else {
        journal::INFO
    }
}

/// A reload of one policy: done, or refused (the old generation stays).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReloadReport {
    pub policy: String,
    /// `loaded`, `reloaded`, `refused`, `unloaded`.
    pub result: &'static str,
    /// The generation enforced afterwards (empty when none is).
    pub generation: String,
    /// The generation it replaced, or that stays when refused (empty when none).
    pub previous: String,
    /// Why it was refused, or how it was done.
    pub detail: String,
}

/// A list file read again after it changed (`list` records).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListReport {
    pub policy: String,
    /// The list's name in the policy.
    pub list: String,
    /// The file, as the policy resolved it.
    pub path: String,
    /// `updated` (its maps now hold the file's entries) or `refused` (the
    /// file is not valid: the maps keep what they held).
    pub result: &'static str,
    /// Keys inserted and deleted (over the list's maps).
    pub added: usize,
    pub removed: usize,
    /// Keys in the list's maps afterwards.
    pub entries: usize,
    /// Why it was refused (empty when updated).
    pub reason: String,
}

impl ListReport {
    /// The status line (stderr).
    pub fn line(&self) -> String {
        match self.result {
            "refused" => format!(
                "list `{}` of policy `{}`: {} refused, the old entries stay enforced: {}",
                self.list, self.policy, self.path, self.reason
            ),
            _ => format!(
                "list `{}` of policy `{}`: {} read again: {} added, {} removed, {} entries (updated in place, no program reloaded)",
                self.list, self.policy, self.path, self.added, self.removed, self.entries
            ),
        }
    }
}

impl ReloadReport {
    /// A version of `policy` that could not be loaded; `previous`, the
    /// generation that stays enforced (empty when none does).
    pub fn refused(policy: &str, previous: &str, error: &dyn std::fmt::Display) -> ReloadReport {
        ReloadReport {
            policy: policy.to_string(),
            result: "refused",
            generation: previous.to_string(),
            previous: previous.to_string(),
            detail: crate::run::one_line(&error.to_string()),
        }
    }

    /// The status line (stderr).
    pub fn line(&self) -> String {
        let short = |g: &str| g.get(..12).unwrap_or(g).to_string();
        match self.result {
            "refused" if self.previous.is_empty() => format!(
                "reload: policy `{}` refused, nothing enforced under its name: {}",
                self.policy, self.detail
            ),
            "refused" => format!(
                "reload: policy `{}` refused, generation {} stays enforced: {}",
                self.policy,
                short(&self.previous),
                self.detail
            ),
            "unloaded" => format!(
                "reload: policy `{}` (generation {}) unloaded: {}",
                self.policy,
                short(&self.previous),
                self.detail
            ),
            result => format!(
                "reload: policy `{}` {result}: generation {}{}{}",
                self.policy,
                short(&self.generation),
                if self.previous.is_empty() {
                    String::new()
                } else {
                    format!(" replaces {}", short(&self.previous))
                },
                if self.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", self.detail)
                }
            ),
        }
    }
}

impl Output {
    /// Reports to `out` in `format`, converting times with `clock`.
    pub fn new(out: Box<dyn Write + Send>, format: Format, clock: Clock) -> Output {
        Output::to_sink(Sink::Stream(out), format, clock)
    }

    /// Reports to `sink` in `format`, converting times with `clock`.
    pub fn to_sink(out: Sink, format: Format, clock: Clock) -> Output {
        Output {
            out,
            format,
            clock,
            failures: None,
            failures_total: 0,
            policy: None,
            policy_json: Vec::new(),
            hostname: hostname(),
            containers: None,
            accounts: None,
            buffer: Vec::with_capacity(1024),
            second: None,
        }
    }

    /// Names events' uid and gid from the databases of `files` (JSON
    /// `user` and `group`, text `uid=ID(NAME)`), as they are when each
    /// event is written (read again, at most once a second, when changed).
    pub fn name_accounts(&mut self, files: crate::run::AccountFiles) {
        self.accounts = Some(AccountNames::new(files));
    }

    /// Looks the names and images of events' containers up in `containers`.
    pub fn name_containers(&mut self, containers: Containers) {
        self.containers = Some(containers);
    }

    /// Names the policy and generation of the records written from now on:
    /// JSON events carry them as `policy` and `generation`.
    pub fn set_policy(&mut self, name: &str, generation: &str) {
        if let Some((policy, held)) = &self.policy {
            if policy == name && held == generation {
                return;
            }
        }
        self.policy = Some((name.to_string(), generation.to_string()));
        self.policy_json.clear();
        self.policy_json.extend_from_slice(b",\"policy\":");
        json_str(&mut self.policy_json, name);
        self.policy_json.extend_from_slice(b",\"generation\":");
        json_str(&mut self.policy_json, generation);
    }

    /// `record` with the current policy and generation (when named), as a
    /// line.
    fn tagged(&self, mut record: Json) -> String {
        if let Some(object) = record.as_object_mut() {
            if let Some((policy, generation)) = &self.policy {
                object.insert("policy".into(), json!(policy));
                object.insert("generation".into(), json!(generation));
            }
            object.insert("hostname".into(), json!(self.hostname));
        }
        record.to_string()
    }

    /// A policy loaded, reloaded, refused or unloaded while polrt runs
    /// (JSON: a `reload` record; text: the status line).
    pub fn reload(&mut self, report: &ReloadReport) {
        let text = match self.format {
            Format::Json => json!({
                "type": "reload",
                "policy": report.policy,
                "result": report.result,
                "generation": report.generation,
                "previous": report.previous,
                "detail": report.detail,
            })
            .to_string(),
            Format::Text => report.line(),
        };
        let priority = result_priority(report.result);
        self.emit(&text, || {
            Meta::new(
                "reload",
                priority,
                vec![
                    ("POLRT_POLICY".into(), report.policy.clone()),
                    ("POLRT_RESULT".into(), report.result.into()),
                    ("POLRT_GENERATION".into(), report.generation.clone()),
                ],
            )
        });
    }

    /// Writes a `list` record: a list file read again, or refused.
    pub fn list(&mut self, report: &ListReport) {
        let text = match self.format {
            Format::Json => json!({
                "type": "list",
                "policy": report.policy,
                "list": report.list,
                "path": report.path,
                "result": report.result,
                "added": report.added,
                "removed": report.removed,
                "entries": report.entries,
                "reason": report.reason,
            })
            .to_string(),
            Format::Text => report.line(),
        };
        let priority = result_priority(report.result);
        self.emit(&text, || {
            Meta::new(
                "list",
                priority,
                vec![
                    ("POLRT_POLICY".into(), report.policy.clone()),
                    ("POLRT_LIST".into(), report.list.clone()),
                    ("POLRT_RESULT".into(), report.result.into()),
                ],
            )
        });
    }

    /// Writes one record: a line on a stream; on the journal, an entry whose
    /// message is `text`, with the fields `meta` gives.
    fn emit(&mut self, text: &str, meta: impl FnOnce() -> Meta) {
        let written = match &mut self.out {
            Sink::Stream(out) => out
                .write_all(escaped_line(text).as_bytes())
                .and_then(|()| out.write_all(b"\n")),
            Sink::Journal(journal) => {
                let meta = meta();
                let mut fields = vec![
                    ("MESSAGE".to_string(), text.to_string()),
                    ("PRIORITY".to_string(), meta.priority.to_string()),
                    ("SYSLOG_IDENTIFIER".to_string(), "polrt".to_string()),
                    ("POLRT_TYPE".to_string(), meta.kind.to_string()),
                ];
                if let Some((policy, generation)) = &self.policy {
                    if !meta.fields.iter().any(|(name, _)| name == "POLRT_POLICY") {
                        fields.push(("POLRT_POLICY".into(), policy.clone()));
                        fields.push(("POLRT_GENERATION".into(), generation.clone()));
                    }
                }
                fields.extend(meta.fields);
                journal.send(&fields)
            }
        };
        self.note(written);
    }

    fn note(&mut self, result: io::Result<()>) {
        if let Err(error) = result {
            self.failures_total += 1;
            match &mut self.failures {
                Some((count, _)) => *count += 1,
                None => self.failures = Some((1, error)),
            }
        }
    }

    /// Flushes buffered lines.
    pub fn flush(&mut self) {
        if let Some(accounts) = &mut self.accounts {
            accounts.unchecked = 0;
        }
        if let Sink::Stream(out) = &mut self.out {
            let flushed = out.flush();
            self.note(flushed);
        }
    }

    /// How many writes failed since polrt started.
    pub fn failures_total(&self) -> u64 {
        self.failures_total
    }

    /// How many writes failed since the last call, and the first error.
    pub fn take_failures(&mut self) -> Option<(u64, io::Error)> {
        self.failures.take()
    }

    /// Flushes what is buffered for the current writer, then writes to `out`
    /// from now on (the old writer is dropped: a reopened `--output`).
    pub fn set_writer(&mut self, out: Box<dyn Write + Send>) {
        self.flush();
        self.out = Sink::Stream(out);
    }

    /// The backend chosen for a hook (JSON, and the journal: text output
    /// shows it on stderr, where the caller prints [`BackendReport::line`]).
    pub fn backend(&mut self, report: &BackendReport) {
        let meta = || {
            Meta::new(
                "backend",
                journal::INFO,
                vec![
                    ("POLRT_HOOK".into(), report.hook.clone()),
                    ("POLRT_BACKEND".into(), report.backend.clone()),
                ],
            )
        };
        if self.format == Format::Text {
            if matches!(self.out, Sink::Journal(_)) {
                self.emit(&report.line(), meta);
            }
            return;
        }
        let programs = programs_json(&report.programs);
        let unavailable: Vec<Json> = report
            .unavailable
            .iter()
            .map(|(backend, why)| json!({"backend": backend, "reason": why}))
            .collect();
        let record = json!({
            "type": "backend",
            "hook": report.hook,
            "backend": report.backend,
            "deny_means": report.deny_means,
            "programs": programs,
            "unavailable": unavailable,
            "limits": report.limits,
        });
        let text = self.tagged(record);
        self.emit(&text, meta)
    }

    /// Whether the guards run (JSON, and the journal: text output shows it
    /// on stderr, where the caller prints [`GuardReport::line`]).
    pub fn guard(&mut self, report: &GuardReport) {
        if self.format == Format::Text {
            if matches!(self.out, Sink::Journal(_)) {
                self.emit(&report.line(), || {
                    Meta::new("guard", journal::INFO, Vec::new())
                });
            }
            return;
        }
        let programs = programs_json(&report.programs);
        let record = json!({
            "type": "guard",
            "state": if report.on { "on" } else { "off" },
            "reason": report.reason,
            "programs": programs,
        });
        let text = self.tagged(record);
        self.emit(&text, || Meta::new("guard", journal::INFO, Vec::new()));
    }

    /// A link found detached, replaced or unpinned, and what polrt did.
    pub fn tamper(&mut self, tamper: &Tamper) {
        let text = match self.format {
            Format::Json => json!({
                "type": "tamper",
                "program": tamper.symbol,
                "section": tamper.section,
                "problem": tamper.problem,
                "repaired": tamper.repaired,
                "outcome": tamper.outcome,
            })
            .to_string(),
            Format::Text => tamper.line(),
        };
        self.emit(&text, || {
            Meta::new(
                "tamper",
                journal::WARNING,
                vec![("POLRT_PROGRAM".into(), tamper.symbol.clone())],
            )
        });
    }

    /// One event, formatted straight into the reused line buffer.
    pub fn event(&mut self, event: &Event) {
        let mut line = std::mem::take(&mut self.buffer);
        line.clear();
        let unix_ns = i128::from(event.time_ns) + self.clock.offset_ns;
        let id = event_container(event);
        let info = id.map(|id| match &mut self.containers {
            Some(containers) => containers.lookup(id),
            None => ContainerInfo::default(),
        });
        let container = id.zip(info.as_ref());
        match self.format {
            Format::Json => {
                write_event_json(&mut line, event, container, |out| self.time(out, unix_ns));
                line.pop();
                line.extend_from_slice(&self.policy_json);
                line.extend_from_slice(b",\"hostname\":");
                json_str(&mut line, &self.hostname);
                if let Some(accounts) = &mut self.accounts {
                    let (user, group) = accounts.names(event.uid, event.gid);
                    for (key, name) in [(&b",\"user\":"[..], user), (b",\"group\":", group)] {
                        if let Some(name) = name {
                            line.extend_from_slice(key);
                            json_str(&mut line, name);
                        }
                    }
                }
                line.push(b'}');
            }
            Format::Text => {
                write_event_text(&mut line, event, container, |out| self.time(out, unix_ns));
                if let Some(user) = self
                    .accounts
                    .as_mut()
                    .and_then(|a| a.names(event.uid, event.gid).0)
                {
                    // `uid=ID(NAME)`, as id(1) writes it.
                    let needle = format!(" uid={} comm=", event.uid);
                    if let Some(at) = line
                        .windows(needle.len())
                        .position(|w| w == needle.as_bytes())
                    {
                        let end = at + needle.len() - " comm=".len();
                        let named: Vec<u8> = format!("({user})")
                            .bytes()
                            .filter(|b| *b >= 0x20 && *b != 0x7f)
                            .collect();
                        line.splice(end..end, named);
                    }
                }
            }
        }
        match &mut self.out {
            Sink::Stream(out) => {
                line.push(b'\n');
                let written = out.write_all(&line);
                self.note(written);
            }
            Sink::Journal(_) => {
                let text = String::from_utf8_lossy(&line).into_owned();
                let clock = self.clock;
                let names: Vec<(String, String)> = match &mut self.accounts {
                    Some(accounts) => {
                        let (user, group) = accounts.names(event.uid, event.gid);
                        [("POLRT_USER", user), ("POLRT_GROUP", group)]
                            .into_iter()
                            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
                            .collect()
                    }
                    None => Vec::new(),
                };
                self.emit(&text, || {
                    let mut meta = event_meta(event, &clock);
                    meta.fields.extend(names);
                    if let Some((_, info)) = container {
                        for (field, value) in [
                            ("POLRT_CONTAINER_NAME", &info.name),
                            ("POLRT_CONTAINER_IMAGE", &info.image),
                        ] {
                            if let Some(value) = value {
                                meta.fields.push((field.to_string(), value.clone()));
                            }
                        }
                    }
                    meta
                });
            }
        }
        self.buffer = line;
    }

    /// Appends the RFC 3339 form of `unix_ns`, reusing the formatted date
    /// and time of day while events stay within one second.
    fn time(&mut self, out: &mut Vec<u8>, unix_ns: i128) {
        // In 64 bits (to the year 2262) the division is a machine one.
        let (secs, nanos) = match i64::try_from(unix_ns) {
            Ok(ns) => (
                ns.div_euclid(1_000_000_000),
                ns.rem_euclid(1_000_000_000) as u32,
            ),
            Err(_) => (
                unix_ns.div_euclid(1_000_000_000) as i64,
                unix_ns.rem_euclid(1_000_000_000) as u32,
            ),
        };
        let prefix = match self.second {
            Some((second, prefix)) if second == secs => prefix,
            _ => {
                let mut prefix = [0u8; 19];
                let text = rfc3339(i128::from(secs) * 1_000_000_000);
                prefix.copy_from_slice(&text.as_bytes()[..19]);
                self.second = Some((secs, prefix));
                prefix
            }
        };
        out.extend_from_slice(&prefix);
        out.push(b'.');
        push_padded(out, u64::from(nanos), 9);
        out.push(b'Z');
    }

    /// A record that could not be decoded.
    pub fn decode_error(&mut self, message: &str) {
        let text = match self.format {
            Format::Json => json!({"type": "error", "message": message}).to_string(),
            Format::Text => format!("error: {message}"),
        };
        self.emit(&text, || Meta::new("error", journal::ERR, Vec::new()))
    }

    /// `count` more events were lost because the ring buffer was full.
    pub fn loss(&mut self, count: u64) {
        let text = match self.format {
            Format::Json => self.tagged(json!({"type": "loss", "count": count})),
            Format::Text => format!("lost {count} events: the ring buffer was full"),
        };
        self.emit(&text, || {
            Meta::new(
                "loss",
                journal::WARNING,
                vec![("POLRT_LOST".into(), count.to_string())],
            )
        })
    }

    /// Final per-rule match counts and total losses.
    pub fn summary(&mut self, counts: &[RuleCount], lost: u64) {
        match self.format {
            Format::Json => {
                let rules: Vec<Json> = counts
                    .iter()
                    .map(|c| json!({"rule": c.rule, "hook": c.hook, "matches": c.matches}))
                    .collect();
                let record = json!({"type": "summary", "rules": rules, "lost": lost});
                self.emit(&record.to_string(), || {
                    Meta::new("summary", journal::INFO, Vec::new())
                });
            }
            Format::Text => {
                let text = summary_text(counts, lost);
                self.emit(text.trim_end(), || {
                    Meta::new("summary", journal::INFO, Vec::new())
                });
            }
        }
    }
}

/// Programs as JSON: `[{"symbol": ..., "id": ...}, ...]`.
fn programs_json(programs: &[(String, u32)]) -> Vec<Json> {
    programs
        .iter()
        .map(|(symbol, id)| json!({"symbol": symbol, "id": id}))
        .collect()
}

/// The text summary printed at exit.
pub fn summary_text(counts: &[RuleCount], lost: u64) -> String {
    let mut text = String::from("matches per rule:\n");
    for count in counts {
        text.push_str(&format!(
            "  {:<24} {:<12} {}\n",
            count.rule, count.hook, count.matches
        ));
    }
    text.push_str(&format!("lost events: {lost}\n"));
    text
}

fn value_json(value: &Value) -> Json {
    match value {
        Value::Int(v) => json!(v),
        Value::Bool(v) => json!(v),
        Value::Str(v) => json!(v),
        Value::Ip(v) => json!(v.to_string()),
        Value::LongPath { .. } => json!(value.to_string()),
        Value::Unresolved => Json::Null,
    }
}

/// Appends `s` as a JSON string: quoted, with `"`, `\\` and control
/// characters escaped as serde_json escapes them.
fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Every byte looked at, no early exit: the compiler makes this a few
    // vector compares where `any` was a branch per byte.
    let plain = bytes.iter().fold(true, |plain, &b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    });
    if plain {
        // Most strings need no escape: one copy.
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends `n` in decimal.
fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(crate::events::decimal(&mut [0; 20], n));
}

/// Appends an IPv4 address as its `Display` writes it (`a.b.c.d`), without
/// the formatting machinery.
fn push_ipv4(out: &mut Vec<u8>, ip: &std::net::Ipv4Addr) {
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_u64(out, u64::from(octet));
    }
}

/// Appends `n` in decimal, zero-padded to `width` digits.
fn push_padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut rest = n;
    for at in (0..width).rev() {
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

/// Appends a value as JSON (what [`value_json`] gives, without building it).
fn write_value_json(out: &mut Vec<u8>, value: &Value) {
    use std::io::Write as _;
    match value {
        Value::Int(v) => push_u64(out, *v),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Str(v) => json_str(out, v),
        Value::Ip(std::net::IpAddr::V4(v)) => {
            out.push(b'"');
            push_ipv4(out, v);
            out.push(b'"');
        }
        Value::Ip(v) => {
            out.push(b'"');
            let _ = write!(out, "{v}");
            out.push(b'"');
        }
        Value::LongPath { .. } => json_str(out, &value.to_string()),
        Value::Unresolved => out.extend_from_slice(b"null"),
    }
}

/// The container of an event: its `container.id`, when the event carries
/// a non-empty one (the rule names the field).
pub fn event_container(event: &Event) -> Option<&str> {
    event.fields.iter().find_map(|(name, value)| match value {
        Value::Str(id) if name == "container.id" && !id.is_empty() => Some(id.as_str()),
        _ => None,
    })
}

/// The first 12 bytes of a container id (all of a shorter one).
fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Appends the JSON object of one event (the members [`event_json`] has,
/// in its documented order); `time` appends the event's RFC 3339 time;
/// `container`: its container's id and what the runtime's state names of it.
fn write_event_json(
    out: &mut Vec<u8>,
    event: &Event,
    container: Option<(&str, &ContainerInfo)>,
    time: impl FnOnce(&mut Vec<u8>),
) {
    out.extend_from_slice(b"{\"type\":\"event\",\"time\":\"");
    time(out);
    out.extend_from_slice(b"\",\"rule\":");
    json_str(out, &event.rule);
    out.extend_from_slice(b",\"rule_id\":");
    push_u64(out, u64::from(event.rule_id));
    out.extend_from_slice(b",\"hook\":");
    json_str(out, &event.hook);
    out.extend_from_slice(b",\"action\":");
    json_str(out, &event.action);
    out.extend_from_slice(b",\"verdict\":");
    json_str(out, event.verdict.name());
    out.extend_from_slice(b",\"backend\":");
    json_str(out, &event.backend);
    for (name, value) in [
        (&b",\"pid\":"[..], event.pid),
        (b",\"tid\":", event.tid),
        (b",\"uid\":", event.uid),
        (b",\"gid\":", event.gid),
    ] {
        out.extend_from_slice(name);
        push_u64(out, u64::from(value));
    }
    out.extend_from_slice(b",\"comm\":");
    json_str(out, &event.comm);
    out.extend_from_slice(b",\"fields\":{");
    for (i, (name, value)) in event.fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str(out, name);
        out.push(b':');
        write_value_json(out, value);
    }
    out.extend_from_slice(b"},\"message\":");
    json_str(out, &event.message);
    if let Some((id, info)) = container {
        out.extend_from_slice(b",\"container\":{\"id\":");
        json_str(out, id);
        out.extend_from_slice(b",\"short_id\":");
        json_str(out, short_id(id));
        for (key, value) in [
            (&b",\"name\":"[..], &info.name),
            (b",\"image\":", &info.image),
        ] {
            out.extend_from_slice(key);
            match value {
                Some(value) => json_str(out, value),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.push(b'}');
    }
    out.push(b'}');
}

/// Rewrites the control characters of `line[from..]` as `\\n`, `\\r`,
/// `\\t` or `\\xNN`, so that a text event stays one line whatever a
/// task names itself or its files (a `comm` or a path may hold a newline,
/// which would otherwise forge a line of its own).
fn escape_controls(line: &mut Vec<u8>, from: usize) {
    if !line[from..].iter().any(|b| *b < 0x20 || *b == 0x7f) {
        return;
    }
    let tail = line.split_off(from);
    for b in tail {
        match b {
            b'\n' => line.extend_from_slice(b"\\n"),
            b'\r' => line.extend_from_slice(b"\\r"),
            b'\t' => line.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                line.extend_from_slice(b"\\x");
                line.push(HEX[usize::from(b >> 4)]);
                line.push(HEX[usize::from(b & 0xf)]);
            }
            _ => line.push(b),
        }
    }
}

/// `text` with its control characters written as escapes (as
/// event lines do): a status or record line names policies, list
/// files and reasons that may hold a newline, which would forge a line.
pub fn escaped_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut bytes = text.as_bytes().to_vec();
    escape_controls(&mut bytes, 0);
    // Escaping replaces ASCII bytes by ASCII: still UTF-8.
    std::borrow::Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())
}

/// Appends the text line of one event (what [`event_text`] gives), with
/// its container's short id, name and image when it has one.
fn write_event_text(
    out: &mut Vec<u8>,
    event: &Event,
    container: Option<(&str, &ContainerInfo)>,
    time: impl FnOnce(&mut Vec<u8>),
) {
    use std::io::Write as _;
    let start = out.len();
    time(out);
    let _ = write!(
        out,
        " {:<10} {} [{}] pid={} uid={} comm={}",
        event.verdict.name(),
        event.rule,
        event.hook,
        event.pid,
        event.uid,
        event.comm
    );
    if let Some((id, info)) = container {
        let _ = write!(out, " container={}", short_id(id));
        if let Some(name) = &info.name {
            let _ = write!(out, " container.name={name}");
        }
        if let Some(image) = &info.image {
            let _ = write!(out, " container.image={image}");
        }
    }
    if event.message.is_empty() {
        for (name, value) in &event.fields {
            let _ = write!(out, " {name}={value}");
        }
    } else {
        out.extend_from_slice(b": ");
        out.extend_from_slice(event.message.as_bytes());
    }
    escape_controls(out, start);
}

/// The JSON object of one event; `container`: its container's id and what
/// the runtime's state names of it.
pub fn event_json(event: &Event, clock: &Clock, container: Option<(&str, &ContainerInfo)>) -> Json {
    let mut fields = Map::new();
    for (name, value) in &event.fields {
        fields.insert(name.clone(), value_json(value));
    }
    let mut record = json!({
        "type": "event",
        "time": clock.rfc3339(event.time_ns),
        "rule": event.rule,
        "rule_id": event.rule_id,
        "hook": event.hook,
        "action": event.action,
        "verdict": event.verdict.name(),
        "backend": event.backend,
        "pid": event.pid,
        "tid": event.tid,
        "uid": event.uid,
        "gid": event.gid,
        "comm": event.comm,
        "fields": fields,
        "message": event.message,
    });
    if let (Some((id, info)), Some(object)) = (container, record.as_object_mut()) {
        object.insert(
            "container".into(),
            json!({
                "id": id,
                "short_id": short_id(id),
                "name": info.name,
                "image": info.image,
            }),
        );
    }
    record
}

/// The host name records carry: `$POLRT_HOSTNAME` when set (the
/// DaemonSet sets the node's name), else that of polrt's UTS namespace;
/// empty if unreadable.
fn hostname() -> String {
    match std::env::var("POLRT_HOSTNAME") {
        Ok(name) if !name.is_empty() => name,
        _ => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_string())
            .unwrap_or_default(),
    }
}

/// The journal fields of one event (see [`crate::journal`]).
fn event_meta(event: &Event, clock: &Clock) -> Meta {
    let priority = match event.verdict {
        Verdict::Deny | Verdict::Kill => journal::WARNING,
        Verdict::Audit | Verdict::WouldDeny | Verdict::WouldKill => journal::NOTICE,
        Verdict::Trace => journal::INFO,
    };
    let mut meta = Meta::new("event", priority, Vec::new());
    let mut push = |name: &str, value: String| meta.fields.push((name.to_string(), value));
    push("POLRT_TIME", clock.rfc3339(event.time_ns));
    push("POLRT_RULE", event.rule.clone());
    push("POLRT_RULE_ID", event.rule_id.to_string());
    push("POLRT_HOOK", event.hook.clone());
    push("POLRT_ACTION", event.action.clone());
    push("POLRT_VERDICT", event.verdict.name().to_string());
    push("POLRT_BACKEND", event.backend.clone());
    push("POLRT_PID", event.pid.to_string());
    push("POLRT_TID", event.tid.to_string());
    push("POLRT_UID", event.uid.to_string());
    push("POLRT_GID", event.gid.to_string());
    push("POLRT_COMM", event.comm.clone());
    push("OBJECT_PID", event.pid.to_string());
    for (name, value) in &event.fields {
        let value = match value {
            Value::Unresolved => String::new(),
            other => other.to_string(),
        };
        meta.fields
            .push((journal::field_name("POLRT_FIELD_", name), value));
    }
    meta
}

/// The text line of one event, control characters written as escapes;
/// with its container's when it has one.
pub fn event_text(
    event: &Event,
    clock: &Clock,
    container: Option<(&str, &ContainerInfo)>,
) -> String {
    let mut line = Vec::with_capacity(256);
    write_event_text(&mut line, event, container, |out| {
        out.extend_from_slice(clock.rfc3339(event.time_ns).as_bytes())
    });
    String::from_utf8_lossy(&line).into_owned()
}

/// The names of events' uid and gid, from the run's user and group
/// databases as they are now (the files are stat'ed at most once a second,
/// and read again when their modification time changed).
struct AccountNames {
    files: crate::run::AccountFiles,
    accounts: polc::accounts::Accounts,
    stamps: Option<(Option<std::time::SystemTime>, Option<std::time::SystemTime>)>,
    checked: Option<std::time::Instant>,
    /// Events that may still be named without reading the clock for the
    /// staleness check: a batch of events (written between two flushes, a
    /// few milliseconds) reads it once, not once an event; a flush sets it
    /// to 0, and it is never more than [`AccountNames::UNCHECKED`].
    unchecked: u32,
}

impl AccountNames {
    /// Events named between two reads of the clock, at most.
    const UNCHECKED: u32 = 1023;

    fn new(files: crate::run::AccountFiles) -> AccountNames {
        AccountNames {
            files,
            accounts: polc::accounts::Accounts::default(),
            stamps: None,
            checked: None,
            unchecked: 0,
        }
    }

    /// The user name of `uid` and the group name of `gid`, where known.
    fn names(&mut self, uid: u32, gid: u32) -> (Option<&str>, Option<&str>) {
        let stale = if self.unchecked > 0 {
            self.unchecked -= 1;
            false
        } else {
            self.unchecked = AccountNames::UNCHECKED;
            self.checked
                .is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(1))
        };
        if stale {
            self.checked = Some(std::time::Instant::now());
            let modified =
                |path: &std::path::Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
            let stamps = (modified(&self.files.passwd), modified(&self.files.group));
            if self.stamps != Some(stamps) {
                self.stamps = Some(stamps);
                let read = |path: &std::path::Path| {
                    std::fs::read_to_string(path)
                        .map(|text| polc::accounts::Database::parse(&text))
                        .unwrap_or_default()
                };
                self.accounts.users = read(&self.files.passwd);
                self.accounts.groups = read(&self.files.group);
            }
        }
        (
            self.accounts.users.name(uid),
            self.accounts.groups.name(gid),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polc_abi::Verdict;

    fn event() -> Event {
        Event {
            time_ns: 1_500_000_000,
            rule_id: 2,
            rule: "shadow_read".into(),
            hook: "file.open".into(),
            action: "deny".into(),
            verdict: Verdict::WouldDeny,
            backend: "tracepoint".into(),
            pid: 10,
            tid: 11,
            uid: 0,
            gid: 0,
            comm: "cat".into(),
            fields: vec![
                ("file.path".into(), Value::Str("/etc/shadow".into())),
                ("file.write".into(), Value::Bool(false)),
                (
                    "net.daddr".into(),
                    Value::Ip("10.0.0.1".parse().expect("ip")),
                ),
            ],
            message: "cat opened /etc/shadow".into(),
        }
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(951_782_400_000_000_001),
            "2000-02-29T00:00:00.000000001Z"
        );
        assert_eq!(
            rfc3339(1_709_251_199_500_000_000),
            "2024-02-29T23:59:59.500000000Z"
        );
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn boot_time_is_shifted_by_the_clock_offset() {
        let clock = Clock {
            offset_ns: 1_000_000_000_000_000_000,
        };
        assert_eq!(clock.rfc3339(500), "2001-09-09T01:46:40.000000500Z");
        let now = Clock::now();
        assert!(now.offset_ns > 1_600_000_000 * 1_000_000_000, "{now:?}");
    }

    #[test]
    fn json_events_follow_the_documented_schema() {
        let clock = Clock { offset_ns: 0 };
        let value = event_json(&event(), &clock, None);
        assert_eq!(value["type"], "event");
        assert_eq!(value["time"], "1970-01-01T00:00:01.500000000Z");
        assert_eq!(value["rule"], "shadow_read");
        assert_eq!(value["rule_id"], 2);
        assert_eq!(value["hook"], "file.open");
        assert_eq!(value["action"], "deny");
        assert_eq!(value["verdict"], "would-deny");
        assert_eq!(value["backend"], "tracepoint");
        assert_eq!(value["pid"], 10);
        assert_eq!(value["tid"], 11);
        assert_eq!(value["comm"], "cat");
        assert_eq!(value["fields"]["file.path"], "/etc/shadow");
        assert_eq!(value["fields"]["file.write"], false);
        assert_eq!(value["fields"]["net.daddr"], "10.0.0.1");
        assert_eq!(value["message"], "cat opened /etc/shadow");
    }

    /// With `--passwd`/`--group`, events name their uid and gid from the
    /// files as they are when written: JSON `user` and `group`, text
    /// `uid=ID(NAME)`; an id the files do not name has no name.
    #[test]
    fn events_name_their_uid_and_gid_from_the_databases() {
        let dir = std::env::temp_dir().join(format!("polrt-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let files = crate::run::AccountFiles {
            passwd: dir.join("passwd"),
            group: dir.join("group"),
        };
        std::fs::write(
            &files.passwd,
            "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/:/bin/sh\n",
        )
        .expect("passwd");
        std::fs::write(&files.group, "root:x:0:\n").expect("group");
        let mut alice = event();
        alice.uid = 1000;
        alice.gid = 1000;
        let mut stranger = event();
        stranger.uid = 4242;
        for format in [Format::Json, Format::Text] {
            let buffer = Shared::default();
            let mut output = Output::new(Box::new(buffer.clone()), format, Clock { offset_ns: 0 });
            output.name_accounts(files.clone());
            for e in [&event(), &alice, &stranger] {
                output.event(e);
            }
            output.flush();
            let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf8");
            let lines: Vec<&str> = text.lines().collect();
            match format {
                Format::Json => {
                    let values: Vec<Json> = lines
                        .iter()
                        .map(|l| serde_json::from_str(l).expect("json"))
                        .collect();
                    assert_eq!(values[0]["user"], "root");
                    assert_eq!(values[0]["group"], "root");
                    assert_eq!(values[1]["user"], "alice");
                    assert!(values[1].get("group").is_none(), "{}", values[1]);
                    assert!(values[2].get("user").is_none(), "{}", values[2]);
                }
                Format::Text => {
                    assert!(lines[0].contains(" uid=0(root) comm=cat"), "{}", lines[0]);
                    assert!(lines[1].contains(" uid=1000(alice) comm="), "{}", lines[1]);
                    assert!(lines[2].contains(" uid=4242 comm="), "{}", lines[2]);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The lines `Output::event` writes without intermediate values are
    /// exactly what the documented builders (`event_json` with the policy
    /// tags, `event_text`) give, for strings that need escaping too.
    #[test]
    fn events_written_directly_equal_the_documented_records() {
        let mut nasty = event();
        nasty.comm = "a\"b\\c\n\t\u{1}\u{1f}é".into();
        nasty.message = String::new();
        nasty.fields.push(("file.path".into(), Value::Unresolved));
        nasty.fields.push((
            "exec.path".into(),
            Value::LongPath {
                head: "/x\"y".into(),
                len: 9000,
            },
        ));
        nasty
            .fields
            .push(("net.daddr".into(), Value::Ip("::1".parse().expect("ip"))));
        nasty.fields.push(("big".into(), Value::Int(u64::MAX)));
        let mut later = event();
        later.time_ns += 1_999_999_999;
        for (format, policy) in [
            (Format::Json, true),
            (Format::Json, false),
            (Format::Text, false),
        ] {
            let buffer = Shared::default();
            let clock = Clock {
                offset_ns: 1_700_000_000_123_456_789,
            };
            let mut output = Output::new(Box::new(buffer.clone()), format, clock);
            output.hostname = "node-1".into();
            if policy {
                output.set_policy("web", "ab12");
            }
            let events = [event(), nasty.clone(), later.clone(), event()];
            for e in &events {
                output.event(e);
            }
            output.flush();
            let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf8");
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), events.len());
            for (line, e) in lines.iter().zip(&events) {
                match format {
                    Format::Json => {
                        let got: Json = serde_json::from_str(line).expect("json");
                        let want: Json =
                            serde_json::from_str(&output.tagged(event_json(e, &clock, None)))
                                .expect("json");
                        assert_eq!(got, want, "{line}");
                    }
                    Format::Text => assert_eq!(*line, event_text(e, &clock, None)),
                }
            }
            if format == Format::Text {
                // One line per event: the newline in the command name is
                // written as an escape, so it cannot forge a line.
                assert!(
                    lines[1].contains(r#"comm=a"b\c\n\t\x01\x1fé"#),
                    "{}",
                    lines[1]
                );
                assert!(
                    lines[0].starts_with("2023-11-14T22:13:21.623456789Z "),
                    "{}",
                    lines[0]
                );
            }
        }
    }

    #[test]
    fn text_events_show_the_message_or_the_fields() {
        let clock = Clock { offset_ns: 0 };
        let line = event_text(&event(), &clock, None);
        assert!(line.contains("would-deny"), "{line}");
        assert!(line.ends_with(": cat opened /etc/shadow"), "{line}");
        let mut trace = event();
        trace.message.clear();
        let line = event_text(&trace, &clock, None);
        assert!(
            line.contains(" file.path=/etc/shadow file.write=false"),
            "{line}"
        );
    }

    #[test]
    fn events_with_a_container_id_show_the_container() {
        let clock = Clock { offset_ns: 0 };
        let id = "4c01db0b339c1b4c4f3d2a5a9d1e0f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";
        let mut event = event();
        assert_eq!(event_container(&event), None);
        event
            .fields
            .push(("container.id".into(), Value::Str(id.into())));
        assert_eq!(event_container(&event), Some(id));
        let info = ContainerInfo {
            name: Some("web".into()),
            image: Some("nginx:1.27".into()),
        };
        let value = event_json(&event, &clock, Some((id, &info)));
        assert_eq!(value["container"]["id"], id);
        assert_eq!(value["container"]["short_id"], "4c01db0b339c");
        assert_eq!(value["container"]["name"], "web");
        assert_eq!(value["container"]["image"], "nginx:1.27");
        // The line polrt writes says the same as the JSON value.
        let mut line = Vec::new();
        write_event_json(&mut line, &event, Some((id, &info)), |out| {
            out.extend_from_slice(clock.rfc3339(event.time_ns).as_bytes())
        });
        let written: Json = serde_json::from_slice(&line).expect("a JSON line");
        assert_eq!(written, value);
        let line = event_text(&event, &clock, Some((id, &ContainerInfo::default())));
        assert!(line.contains(" container=4c01db0b339c: "), "{line}");
        let line = event_text(&event, &clock, Some((id, &info)));
        assert!(
            line.contains(
                " container=4c01db0b339c container.name=web container.image=nginx:1.27: "
            ),
            "{line}"
        );
        let value = event_json(&event, &clock, Some((id, &ContainerInfo::default())));
        assert_eq!(value["container"]["name"], Json::Null);
        // An empty id (no container): no container.
        event.fields.last_mut().unwrap().1 = Value::Str(String::new());
        assert_eq!(event_container(&event), None);
    }

    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn losses_and_summary_are_json_lines() {
        let buffer = Shared::default();
        let mut output = Output::new(Box::new(buffer.clone()), Format::Json, Clock::now());
        output.hostname = "node-1".into();
        output.loss(3);
        output.summary(
            &[RuleCount {
                rule: "r".into(),
                hook: "exec".into(),
                matches: 7,
            }],
            3,
        );
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf8");
        let lines: Vec<Json> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(
            lines[0],
            json!({"type": "loss", "count": 3, "hostname": "node-1"})
        );
        assert_eq!(lines[1]["type"], "summary");
        assert_eq!(lines[1]["rules"][0]["matches"], 7);
        assert_eq!(lines[1]["lost"], 3);
    }

    #[test]
    fn guard_and_tamper_records_are_json_lines_and_lines() {
        let guard = GuardReport {
            on: false,
            reason: "lockdown".into(),
            programs: vec![],
            scope: None,
        };
        assert!(
            guard.line().starts_with("guard: off: lockdown;"),
            "{}",
            guard.line()
        );
        let on = GuardReport {
            on: true,
            reason: String::new(),
            programs: vec![("polc_guard_kill".into(), 7)],
            scope: Some("/sys/fs/cgroup/app".into()),
        };
        assert!(
            on.line()
                .contains("tasks in cgroup /sys/fs/cgroup/app cannot signal"),
            "{}",
            on.line()
        );
        let tamper = Tamper {
            symbol: "net_connect_cgroup4".into(),
            section: "cgroup/connect4".into(),
            problem: "its link (id 5) was detached (BPF_LINK_DETACH)".into(),
            repaired: true,
            outcome: "attached again as link 7".into(),
        };
        assert_eq!(
            tamper.line(),
            "ALERT: program net_connect_cgroup4 (cgroup/connect4): its link (id 5) was detached (BPF_LINK_DETACH); attached again as link 7"
        );
        let buffer = Shared::default();
        let mut output = Output::new(Box::new(buffer.clone()), Format::Json, Clock::now());
        output.guard(&on);
        output.tamper(&tamper);
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf8");
        let lines: Vec<Json> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines[0]["type"], "guard");
        assert_eq!(lines[0]["state"], "on");
        assert_eq!(lines[0]["programs"][0]["id"], 7);
        assert_eq!(lines[1]["type"], "tamper");
        assert_eq!(lines[1]["repaired"], true);
        assert_eq!(lines[1]["program"], "net_connect_cgroup4");
    }

    #[test]
    fn text_records_stay_one_line_whatever_a_list_file_is_called() {
        let buffer = Shared::default();
        let mut output = Output::new(Box::new(buffer.clone()), Format::Text, Clock::now());
        output.list(&ListReport {
            policy: "web".into(),
            list: "bad".into(),
            path: "/srv/lists/x\npolrt: ready: forged\t.txt".into(),
            result: "refused",
            added: 0,
            removed: 0,
            entries: 0,
            reason: "line 1\u{7f}".into(),
        });
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf8");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains("/srv/lists/x\\npolrt: ready: forged\\t.txt"),
            "{text}"
        );
        assert!(text.contains("line 1\\x7f"), "{text}");
        assert_eq!(escaped_line("plain"), "plain");
    }

    #[test]
    fn backend_records_carry_programs_fallbacks_and_limits() {
        let report = BackendReport {
            hook: "net.connect".into(),
            backend: "cgroup".into(),
            deny_means: "deny enforced: connect fails with EPERM".into(),
            programs: vec![("net_connect_cgroup4".into(), 41)],
            unavailable: vec![("lsm".into(), "lockdown".into())],
            limits: vec!["kill does not kill the task".into()],
        };
        assert_eq!(
            report.line(),
            "net.connect: cgroup (deny enforced: connect fails with EPERM); \
             limit: kill does not kill the task; lsm unavailable: lockdown"
        );
        let buffer = Shared::default();
        let mut output = Output::new(Box::new(buffer.clone()), Format::Json, Clock::now());
        output.backend(&report);
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf8");
        let record: Json = serde_json::from_str(text.trim()).expect("json line");
        assert_eq!(record["type"], "backend");
        assert_eq!(record["programs"][0]["id"], 41);
        assert_eq!(record["unavailable"][0]["reason"], "lockdown");
        assert_eq!(record["limits"], json!(["kill does not kill the task"]));
    }

    #[test]
    fn records_name_the_policy_and_generation_once_set_and_reloads_are_reported() {
        let buffer = Shared::default();
        let mut output = Output::new(Box::new(buffer.clone()), Format::Json, Clock::now());
        output.event(&event());
        output.hostname = "node-1".into();
        output.set_policy("web", "ab12");
        output.event(&event());
        output.loss(2);
        output.reload(&ReloadReport {
            policy: "web".into(),
            result: "refused",
            generation: "ab12".into(),
            previous: "ab12".into(),
            detail: "error[E0101]".into(),
        });
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf8");
        let lines: Vec<Json> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines[0].get("policy"), None, "no policy named yet");
        assert_eq!(lines[1]["policy"], "web");
        assert_eq!(lines[1]["generation"], "ab12");
        assert_eq!(lines[1]["rule"], "shadow_read");
        assert_eq!(
            lines[2],
            json!({"type": "loss", "count": 2, "policy": "web", "generation": "ab12", "hostname": "node-1"})
        );
        assert_eq!(lines[3]["type"], "reload");
        assert_eq!(lines[3]["result"], "refused");
        let line = ReloadReport {
            policy: "web".into(),
            result: "reloaded",
            generation: "0123456789abcdef".into(),
            previous: "fedcba9876543210".into(),
            detail: String::new(),
        }
        .line();
        assert_eq!(
            line,
            "reload: policy `web` reloaded: generation 0123456789ab replaces fedcba987654"
        );
    }

    #[test]
    fn json_strings_and_addresses_are_written_as_serde_json_writes_them() {
        let mut texts: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        texts.push(String::new());
        texts.push("plain text longer than one vector of bytes, with no escape".into());
        texts.push("a long run of plain bytes and then a quote: \" and more after it".into());
        texts.push("é\u{1}\\tail of \t tabs\n".repeat(5));
        for text in &texts {
            let mut out = Vec::new();
            json_str(&mut out, text);
            assert_eq!(
                String::from_utf8(out).expect("utf8"),
                serde_json::to_string(text).expect("json"),
                "{text:?}"
            );
        }
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "10.0.20.3",
            "::1",
        ] {
            let ip: std::net::IpAddr = ip.parse().expect("ip");
            let mut out = Vec::new();
            write_value_json(&mut out, &Value::Ip(ip));
            assert_eq!(String::from_utf8(out).expect("utf8"), format!("\"{ip}\""));
        }
    }
}
