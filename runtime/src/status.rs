//! `polrt status` and `polrt stop`: the policies pinned by `polrt run
//! --persist` (under [`persist::PIN_ROOT`]), as their pins say.
//!
//! `status` reads each policy's state record, its links (which program each
//! runs), its counters and the runtime map (which polrt, if any, reads its
//! events). `stop` asks that polrt to exit (SIGTERM; it leaves the pins),
//! waits until the runtime map says it has, then removes every pin, links
//! first: the kernel detaches a link when its last reference goes.
//! Rendering is here too (text and JSON); the pin layout is `persist`'s.

use std::fmt::Write as _;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use aya::maps::{Map, PerCpuArray};
use polc_abi as abi;
use serde_json::{json, Value as Json};

use crate::output::RuleCount;
use crate::persist::{self, PersistError, PinDir, State};
use crate::{guard, loader, Error};

/// One attached program of a persisted policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramStatus {
    pub symbol: String,
    pub section: String,
    /// Hook and backend; empty for a support program.
    pub hook: String,
    pub backend: String,
    /// The program its pinned link runs, and the link's id; `None` when the
    /// link is not pinned where it should be.
    pub ids: Option<(u32, u32)>,
}

/// What `polrt status` says of one persisted policy.
#[derive(Clone, Debug)]
pub struct PolicyStatus {
    pub name: String,
    pub root: String,
    /// The state record; `None` when it cannot be read (see `problems`).
    pub state: Option<State>,
    /// The tgid of the polrt that reads its events (0: none), if readable.
    pub owner: Option<u32>,
    pub programs: Vec<ProgramStatus>,
    pub counts: Vec<RuleCount>,
    pub lost: Option<u64>,
    /// What is wrong with the pins.
    pub problems: Vec<String>,
}

/// The status of policy `name`, or of every persisted policy.
pub fn status(name: Option<&str>) -> Result<Vec<PolicyStatus>, Error> {
    let names = match name {
        Some(name) => {
            persist::check_name(name)?;
            if !PinDir::named(name).exists() {
                return Err(PersistError::Unknown(name.to_string()).into());
            }
            vec![name.to_string()]
        }
        None => persist::list(),
    };
    Ok(names.iter().map(|name| policy_status(name)).collect())
}

fn policy_status(name: &str) -> PolicyStatus {
    let dir = PinDir {
        name: name.to_string(),
        root: std::path::Path::new(persist::PIN_ROOT).join(name),
    };
    let mut status = PolicyStatus {
        name: name.to_string(),
        root: dir.root.display().to_string(),
        state: None,
        owner: None,
        programs: Vec::new(),
        counts: Vec::new(),
        lost: None,
        problems: Vec::new(),
    };
    if name.starts_with(persist::STAGING_PREFIX) {
        status
            .problems
            .push("left by an interrupted replacement: a new `polrt run --persist` of its name or `polrt stop` removes it".into());
    }
    let state = match persist::read_state(&dir) {
        Ok(state) => state,
        Err(error) => {
            status.problems.push(error.to_string());
            return status;
        }
    };
    match persist::open_map(&dir, abi::MAP_RUNTIME) {
        Ok(Map::Array(data)) => status.owner = guard::read_runtime(guard::raw_fd(&data)).ok(),
        Ok(_) => status
            .problems
            .push("the runtime map is not an array".into()),
        Err(error) => status.problems.push(error.to_string()),
    }
    for (hook, backend, program) in state
        .support
        .iter()
        .map(|p| (String::new(), String::new(), p))
        .chain(state.hooks.iter().flat_map(|h| {
            h.programs
                .iter()
                .map(move |p| (h.hook.clone(), h.backend.to_string(), p))
        }))
    {
        let path = dir.links().join(&program.symbol);
        let ids = loader::obj_get(&path)
            .and_then(|fd| loader::link_state(fd.as_raw_fd()))
            .map(|s| (s.prog_id, s.id));
        if let Err(error) = &ids {
            status.problems.push(format!(
                "the link of {} is not pinned ({error})",
                program.symbol
            ));
        }
        status.programs.push(ProgramStatus {
            symbol: program.symbol.clone(),
            section: program.section.clone(),
            hook,
            backend,
            ids: ids.ok(),
        });
    }
    match persist::open_map(&dir, abi::MAP_COUNTERS).map(PerCpuArray::<_, u64>::try_from) {
        Ok(Ok(counters)) => {
            let sum = |index: u32| -> u64 {
                counters
                    .get(&index, 0)
                    .map(|values| values.iter().sum())
                    .unwrap_or(0)
            };
            status.counts = state
                .metadata
                .rules
                .iter()
                .map(|rule| RuleCount {
                    rule: rule.name.clone(),
                    hook: rule.hook.clone(),
                    matches: sum(rule.id),
                })
                .collect();
            status.lost = Some(sum(state.metadata.rules.len() as u32));
        }
        Ok(Err(error)) => status.problems.push(error.to_string()),
        Err(error) => status.problems.push(error.to_string()),
    }
    status.state = Some(state);
    status
}

/// The human report of `statuses`.
pub fn render(statuses: &[PolicyStatus]) -> String {
    let mut out = String::new();
    if statuses.is_empty() {
        let _ = writeln!(
            out,
            "no policy is persisted (nothing under {})",
            persist::PIN_ROOT
        );
    }
    for status in statuses {
        let _ = writeln!(out, "{} (pinned at {})", status.name, status.root);
        if let Some(state) = &status.state {
            let _ = writeln!(
                out,
                "  policy:  {} (object sha256 {}, polc {}), pinned since {}",
                state.policy, state.object_sha256, state.metadata.compiler_version, state.pinned_at
            );
            let scope = state.scope.as_ref().map_or("every task".to_string(), |s| {
                format!("cgroup {} (id {})", s.path, s.id)
            });
            let mode = if state.monitor {
                "monitor"
            } else {
                "enforcing"
            };
            let _ = writeln!(out, "  scope:   {scope}, {mode}");
            let guard = match &state.guard_off {
                None => "on".to_string(),
                Some(why) => format!("off ({why})"),
            };
            let _ = writeln!(out, "  guard:   {guard}");
        }
        let owner = match status.owner {
            Some(0) => "none: the programs enforce, events wait in the ring buffer".to_string(),
            Some(tgid) => format!("polrt, kernel pid {tgid}"),
            None => "unknown".to_string(),
        };
        let _ = writeln!(out, "  reader:  {owner}");
        for program in &status.programs {
            let what = if program.hook.is_empty() {
                "support".to_string()
            } else {
                format!("{} {}", program.hook, program.backend)
            };
            let ids = match program.ids {
                Some((prog, link)) => format!("program {prog}, link {link}"),
                None => "NOT PINNED".to_string(),
            };
            let _ = writeln!(out, "  {what:<24} {:<28} {ids}", program.symbol);
        }
        for count in &status.counts {
            let _ = writeln!(
                out,
                "  matches  {:<24} {:<12} {}",
                count.rule, count.hook, count.matches
            );
        }
        if let Some(lost) = status.lost {
            let _ = writeln!(out, "  lost events: {lost}");
        }
        for problem in &status.problems {
            let _ = writeln!(out, "  problem: {problem}");
        }
    }
    out
}

/// The JSON report of `statuses`: one object per policy.
pub fn to_json(statuses: &[PolicyStatus]) -> Json {
    Json::Array(
        statuses
            .iter()
            .map(|status| {
                let state = status.state.as_ref();
                json!({
                    "name": status.name,
                    "pinned_at": status.root,
                    "policy": state.map(|s| s.policy.clone()),
                    "object_sha256": state.map(|s| s.object_sha256.clone()),
                    "since": state.map(|s| s.pinned_at.clone()),
                    "scope": state.and_then(|s| s.scope.as_ref()).map(|s| json!({"path": s.path, "id": s.id})),
                    "monitor": state.map(|s| s.monitor),
                    "guard": state.map(|s| match &s.guard_off {
                        None => json!({"state": "on"}),
                        Some(why) => json!({"state": "off", "reason": why}),
                    }),
                    "reader_tgid": status.owner,
                    "programs": status.programs.iter().map(|p| json!({
                        "symbol": p.symbol,
                        "section": p.section,
                        "hook": p.hook,
                        "backend": p.backend,
                        "id": p.ids.map(|(prog, _)| prog),
                        "link_id": p.ids.map(|(_, link)| link),
                    })).collect::<Vec<_>>(),
                    "rules": status.counts.iter().map(|c| json!({"rule": c.rule, "hook": c.hook, "matches": c.matches})).collect::<Vec<_>>(),
                    "lost": status.lost,
                    "problems": status.problems,
                })
            })
            .collect(),
    )
}

/// What `polrt stop` did to one policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopReport {
    pub name: String,
    /// The polrt it stopped (kernel pid), if one was running.
    pub stopped: Option<u32>,
    /// Pins removed.
    pub removed: usize,
}

/// How long `stop` waits for the running polrt to exit.
const STOP_WAIT: Duration = Duration::from_secs(15);

/// Stops and removes policy `name`; without a name, the only persisted
/// policy (several: an error naming them).
pub fn stop(name: Option<&str>) -> Result<StopReport, Error> {
    let name = match name {
        Some(name) => {
            persist::check_name(name)?;
            name.to_string()
        }
        None => {
            let names: Vec<String> = persist::list()
                .into_iter()
                .filter(|n| !n.starts_with(persist::STAGING_PREFIX))
                .collect();
            match names.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(Error::Usage(format!(
                        "no policy is persisted (nothing under {})",
                        persist::PIN_ROOT
                    )))
                }
                several => {
                    return Err(Error::Usage(format!(
                        "several policies are persisted ({}): name the one to stop",
                        several.join(", ")
                    )))
                }
            }
        }
    };
    let named = PinDir::named(&name);
    let staging = PinDir::staging(&name);
    if !named.exists() && !staging.exists() {
        return Err(PersistError::Unknown(name).into());
    }
    let mut stopped = None;
    for dir in [&named, &staging] {
        if let Some(tgid) = stop_reader(dir)? {
            stopped = Some(tgid);
        }
    }
    let mut removed = 0;
    for dir in [&named, &staging] {
        if dir.exists() {
            removed += dir.remove()?;
        }
    }
    Ok(StopReport {
        name,
        stopped,
        removed,
    })
}

/// Sends SIGTERM to the polrt that reads `dir`'s events, if there is one,
/// and waits until it has exited (the exit guard clears its tgid).
fn stop_reader(dir: &PinDir) -> Result<Option<u32>, Error> {
    let Ok(Map::Array(runtime)) = persist::open_map(dir, abi::MAP_RUNTIME) else {
        return Ok(None);
    };
    let fd = guard::raw_fd(&runtime);
    let tgid = guard::read_runtime(fd).unwrap_or(0);
    if tgid == 0 {
        return Ok(None);
    }
    // The tgid is the kernel's; this process sees the same numbers only
    // in the initial pid namespace.
    let cmdline = std::fs::read(format!("/proc/{tgid}/cmdline")).unwrap_or_default();
    let is_polrt = cmdline
        .split(|b| *b == 0)
        .any(|arg| arg.ends_with(b"polrt"));
    if !is_polrt {
        return Err(Error::Persist(PersistError::Reader(format!(
            "policy `{}` is read by polrt (kernel pid {tgid}), which this process cannot find in its /proc (another pid namespace?); stop that polrt first",
            dir.name
        ))));
    }
    // SAFETY: kill(2) with a pid and a signal number.
    if unsafe { libc::kill(tgid as libc::pid_t, libc::SIGTERM) } != 0 {
        return Err(Error::Persist(PersistError::Reader(format!(
            "cannot signal polrt (pid {tgid}) reading policy `{}`: {}",
            dir.name,
            std::io::Error::last_os_error()
        ))));
    }
    let deadline = Instant::now() + STOP_WAIT;
    while guard::read_runtime(fd).unwrap_or(0) == tgid {
        if Instant::now() > deadline {
            return Err(Error::Persist(PersistError::Reader(format!(
                "polrt (pid {tgid}) reading policy `{}` did not exit within {} s of SIGTERM",
                dir.name,
                STOP_WAIT.as_secs()
            ))));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Some(tgid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reports_name_the_policy_programs_counts_and_problems() {
        let status = PolicyStatus {
            name: "web".into(),
            root: "/sys/fs/bpf/polc/web".into(),
            state: None,
            owner: Some(0),
            programs: vec![
                ProgramStatus {
                    symbol: "exec_tp_execve".into(),
                    section: "tracepoint/syscalls/sys_enter_execve".into(),
                    hook: "exec".into(),
                    backend: "tracepoint".into(),
                    ids: Some((12, 34)),
                },
                ProgramStatus {
                    symbol: "polc_guard_exit".into(),
                    section: "tp_btf/sched_process_exit".into(),
                    hook: String::new(),
                    backend: String::new(),
                    ids: None,
                },
            ],
            counts: vec![RuleCount {
                rule: "no_shell".into(),
                hook: "exec".into(),
                matches: 3,
            }],
            lost: Some(0),
            problems: vec!["the link of polc_guard_exit is not pinned".into()],
        };
        let text = render(std::slice::from_ref(&status));
        assert!(
            text.starts_with("web (pinned at /sys/fs/bpf/polc/web)"),
            "{text}"
        );
        assert!(text.contains("exec tracepoint"), "{text}");
        assert!(text.contains("program 12, link 34"), "{text}");
        assert!(text.contains("NOT PINNED"), "{text}");
        assert!(text.contains("reader:  none"), "{text}");
        assert!(text.contains("no_shell"), "{text}");
        assert!(
            text.contains("problem: the link of polc_guard_exit"),
            "{text}"
        );
        let json = to_json(&[status]);
        assert_eq!(json[0]["name"], "web");
        assert_eq!(json[0]["programs"][0]["id"], 12);
        assert_eq!(json[0]["programs"][0]["link_id"], 34);
        assert_eq!(json[0]["programs"][1]["id"], Json::Null);
        assert_eq!(json[0]["rules"][0]["matches"], 3);
        assert_eq!(json[0]["reader_tgid"], 0);
        assert!(render(&[]).starts_with("no policy is persisted"));
    }
}
