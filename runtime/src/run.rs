//! `polrt run`: the whole life of the enforced policies, in order — resolve
//! the scope, read or compile every policy (the files given, or those of
//! `--policy-dir`), probe the host, then per policy a session of its own:
//! load (config and sets written before anything is attached), choose
//! backends, attach (support programs, then the identities of the files the
//! policy names, then the hooks); report "ready", stream events and losses
//! until SIGINT/SIGTERM/SIGQUIT (SIGHUP reopens the output and, like a
//! change in a watched directory, reloads the changed policies through
//! [`crate::reload`]; other signals are ignored), then detach and print
//! per-rule counts and total losses.
//!
//! Status lines go to stderr; events, losses and the summary to the output
//! (stdout or `--output`), each record of a policy tagged with its name and
//! generation; `--metrics` is served by [`crate::metrics`]. Depends on
//! every other module; nothing depends on it but `main.rs` and `reload`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aya::maps::{MapData, PerCpuArray, RingBuf};
use polc_abi::Metadata;

use crate::cgroup::{self, Scope};
use crate::guard::{self, GuardState};
use crate::journal::Journal;
use crate::metrics::{Metrics, PolicyMetrics, ProgramMetric, RuleMetric, Snapshot};
use crate::object::PolicyObject;
use crate::output::{
    self, BackendReport, Clock, Format, GuardReport, Output, ReloadReport, RuleCount, Sink,
};
use crate::policies::{self, Origin, Source};
use crate::probe::{BpfLsm, KernelTypes};
use crate::session::{Session, Setup};
use crate::{events, object, output_file, persist, probe, reload, Error};

/// Options of `polrt run`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// `.o` objects or `.pol` sources, each enforced as a policy of its own
    /// (see [`crate::policies`]).
    pub policies: Vec<PathBuf>,
    /// `--policy-dir`: every `*.pol` and `*.o` of this directory instead.
    pub policy_dir: Option<PathBuf>,
    /// Report deny/kill as would-deny/would-kill; enforce nothing.
    pub monitor: bool,
    /// Scope every rule to this cgroup v2 subtree.
    pub cgroup: Option<PathBuf>,
    pub format: Format,
    /// Write events here instead of stdout.
    pub output: Option<PathBuf>,
    /// Refuse to run unless every hook gets its LSM backend.
    pub require_lsm: bool,
    /// Size of the event ring buffer in bytes.
    pub ringbuf_bytes: Option<u32>,
    /// `--metrics ADDR`: serve Prometheus metrics there (see
    /// [`crate::metrics`]).
    pub metrics: Option<String>,
    /// `--persist`: pin the policy under this name, so that it outlives
    /// polrt (see [`crate::persist`]); `Some("")`: each policy under its
    /// own name (its file stem).
    pub persist: Option<String>,
    /// Where the container runtimes keep the state that names the
    /// containers of events (see [`crate::containers`]).
    pub container_state: crate::containers::StateRoots,
    /// `--passwd`, `--group`: where user and group names are resolved.
    pub accounts: AccountFiles,
}

/// The user and group databases a run resolves names from (`--passwd`,
/// `--group`): read again at every load, so that a policy loaded or
/// reloaded later resolves its names with the files as they are then.
#[derive(Clone, Debug)]
pub struct AccountFiles {
    pub passwd: PathBuf,
    pub group: PathBuf,
}

impl AccountFiles {
    /// Reads both files.
    pub fn read(&self) -> Result<polc::accounts::Accounts, String> {
        polc::accounts::Accounts::read(&self.passwd, &self.group)
    }
}

/// What a run ends with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSummary {
    pub counts: Vec<RuleCount>,
    pub lost: u64,
    /// Programs detached at the end.
    pub detached: usize,
    /// Programs left attached by their pins (`--persist`).
    pub kept: usize,
    /// Policies reloaded while polrt ran, and reloads refused.
    pub reloads: u64,
    pub failed_reloads: u64,
}

/// Set by SIGINT, SIGTERM and SIGQUIT.
static STOP: AtomicBool = AtomicBool::new(false);
/// One bit per signal number received and not yet handled (see
/// [`NOTED_SIGNALS`]).
static PENDING: AtomicU64 = AtomicU64::new(0);

/// The signals that stop `polrt run` in order (detach, or leave pinned with
/// `--persist`; report; exit 0).
pub const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGQUIT];

/// The signals whose default action would end polrt (and, without
/// `--persist`, detach every program) but that never stop it: SIGHUP reopens
/// `--output` (log rotation), the others are reported and ignored.
pub const NOTED_SIGNALS: [libc::c_int; 11] = [
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGIO,
    libc::SIGPWR,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGSTKFLT,
];

extern "C" fn on_stop(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

extern "C" fn on_noted(signal: libc::c_int) {
    PENDING.fetch_or(1u64 << (signal as u32 & 63), Ordering::SeqCst);
}

/// Installs the handlers of [`STOP_SIGNALS`] (ask [`run`] to stop) and of
/// [`NOTED_SIGNALS`] (note the signal for the event loop), all without
/// `SA_RESTART`, so a blocked `poll` returns at once.
pub fn install_signal_handlers() {
    let handlers: [(&[libc::c_int], extern "C" fn(libc::c_int)); 2] =
        [(&STOP_SIGNALS, on_stop), (&NOTED_SIGNALS, on_noted)];
    for (signals, handler) in handlers {
        for &signal in signals {
            // SAFETY: `action` is fully initialised; the handlers only store
            // to atomics, which is async-signal-safe.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                libc::sigemptyset(&mut action.sa_mask);
                action.sa_flags = 0;
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    }
}

/// The conventional name of a signal (`SIGHUP`), for status lines.
pub fn signal_name(signal: libc::c_int) -> String {
    let names = [
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGVTALRM, "SIGVTALRM"),
        (libc::SIGPROF, "SIGPROF"),
        (libc::SIGIO, "SIGIO"),
        (libc::SIGPWR, "SIGPWR"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGXFSZ, "SIGXFSZ"),
        (libc::SIGSTKFLT, "SIGSTKFLT"),
    ];
    names
        .iter()
        .find(|(number, _)| *number == signal)
        .map_or_else(|| format!("signal {signal}"), |(_, name)| name.to_string())
}

/// Checks a ring buffer size: a power of two and a multiple of the page size.
pub fn check_ringbuf_size(bytes: u32) -> Result<u32, Error> {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u32;
    if bytes.is_power_of_two() && bytes.is_multiple_of(page) {
        Ok(bytes)
    } else {
        Err(Error::Usage(format!(
            "--ringbuf-size {bytes}: the ring buffer size must be a power of two and a multiple of the page size ({page} bytes)"
        )))
    }
}

/// Prints a status line on stderr (`polrt: LINE`).
pub(crate) fn status(line: &str) {
    eprintln!("polrt: {}", crate::output::escaped_line(line));
}

/// What every policy of a run shares: the host, as probed once, and the
/// options that apply to each policy.
pub(crate) struct Host {
    pub(crate) types: KernelTypes,
    pub(crate) ringbuf_bytes: Option<u32>,
    pub(crate) scope: Option<Scope>,
    pub(crate) monitor: bool,
    pub(crate) require_lsm: bool,
    pub(crate) cgroup_dir: PathBuf,
    pub(crate) tgid: u32,
    pub(crate) lsm: BpfLsm,
    pub(crate) guard: GuardState,
    pub(crate) features: u32,
    /// `--persist`: `Some("")` pins each policy under its own name.
    pub(crate) persist: Option<String>,
    pub(crate) accounts: AccountFiles,
    /// Several policies run (or may, from a policy directory): see
    /// [`Setup::several`].
    pub(crate) several: bool,
}

impl Host {
    pub(crate) fn setup<'a>(&'a self, policy: &'a PolicyObject) -> Setup<'a> {
        Setup {
            policy,
            types: &self.types,
            ringbuf_bytes: self.ringbuf_bytes,
            scope: self.scope.as_ref(),
            monitor: self.monitor,
            require_lsm: self.require_lsm,
            cgroup_dir: &self.cgroup_dir,
            tgid: self.tgid,
            lsm: &self.lsm,
            guard: &self.guard,
            features: self.features,
            accounts: &self.accounts,
            several: self.several,
        }
    }

    /// The ring buffer size of every policy.
    pub(crate) fn ringbuf(&self) -> u32 {
        self.ringbuf_bytes
            .unwrap_or(polc::compile::DEFAULT_RINGBUF_BYTES)
    }

    /// The name `source` is pinned under, with `--persist`.
    pub(crate) fn pin_name<'a>(&'a self, source: &'a Source) -> Option<&'a str> {
        match self.persist.as_deref() {
            None => None,
            Some("") => Some(&source.name),
            Some(name) => Some(name),
        }
    }
}

/// One policy enforced by this run: its file, the generation loaded from
/// it, and the session that enforces it.
pub(crate) struct Enforced {
    pub(crate) source: Source,
    /// SHA-256 of the file's bytes when it was loaded.
    pub(crate) fingerprint: String,
    /// The policy's generation: its metadata's source hash.
    pub(crate) generation: String,
    /// The fingerprint of a version of the file that was refused (not
    /// tried again until the file changes).
    pub(crate) refused: Option<String>,
    pub(crate) session: Session,
    pub(crate) reports: Vec<BackendReport>,
    pub(crate) guard: GuardReport,
    /// Loss counter read so far (of this generation).
    pub(crate) lost: u64,
    /// Matches and losses of the generations this one replaced.
    pub(crate) carried: BTreeMap<(String, String), u64>,
    pub(crate) carried_lost: u64,
    /// Generations replaced by a reload, detached, whose ring buffers
    /// still hold events: drained over the next turns of the event loop
    /// (so that a reload never waits for a backlog), then dropped.
    pub(crate) retired: Vec<(String, Session)>,
}

impl Enforced {
    /// Writes the records of this policy's events waiting in its ring
    /// buffer, at most `limit` of them (while its programs are attached, a
    /// flood could otherwise keep polrt here forever); returns how many.
    pub(crate) fn drain(&mut self, output: &mut Output, limit: usize) -> usize {
        let mut n = 0;
        let name = &self.source.name;
        // A retired generation is detached: once its ring buffer is empty
        // (fewer records than `limit`), it is gone for good.
        self.retired.retain_mut(|(generation, session)| {
            output.set_policy(name, generation);
            let drained = drain_some(&mut session.ring, &session.metadata, output, limit);
            n += drained;
            drained == limit
        });
        output.set_policy(&self.source.name, &self.generation);
        n + drain_some(
            &mut self.session.ring,
            &self.session.metadata,
            output,
            limit,
        )
    }

    /// Reports the losses of this generation since the last call.
    pub(crate) fn report_losses(&mut self, output: &mut Output) {
        output.set_policy(&self.source.name, &self.generation);
        let n_rules = self.session.metadata.rules.len() as u32;
        report_losses(&self.session.counters, n_rules, &mut self.lost, output);
    }

    /// Per rule (and hook): matches of this generation and the ones it
    /// replaced.
    pub(crate) fn counts(&self) -> BTreeMap<(String, String), u64> {
        let mut counts = self.carried.clone();
        for rule in &self.session.metadata.rules {
            *counts
                .entry((rule.name.clone(), rule.hook.clone()))
                .or_default() += counter(&self.session.counters, rule.id);
        }
        counts
    }

    /// Writes the `backend` and `guard` records (a new output file starts
    /// with them too).
    pub(crate) fn headers(&self, output: &mut Output) {
        output.set_policy(&self.source.name, &self.generation);
        for report in &self.reports {
            output.backend(report);
        }
        output.guard(&self.guard);
    }
}

/// The sources of `options`: files, or a directory.
fn origin(options: &RunOptions) -> Result<Origin, Error> {
    match (&options.policy_dir, options.policies.is_empty()) {
        (Some(dir), true) => Ok(Origin::Dir(dir.clone())),
        (None, false) => Ok(Origin::Files(options.policies.clone())),
        (Some(_), false) => Err(Error::Usage(
            "give policy files or --policy-dir, not both".to_string(),
        )),
        (None, true) => Err(Error::Usage(
            "no policy: give policy files or --policy-dir DIR".to_string(),
        )),
    }
}

/// Runs the policies until SIGINT, SIGTERM or SIGQUIT.
pub fn run(options: &RunOptions) -> Result<RunSummary, Error> {
    let ringbuf_bytes = options.ringbuf_bytes.map(check_ringbuf_size).transpose()?;
    let scope = options.cgroup.as_deref().map(Scope::resolve).transpose()?;
    let origin = origin(options)?;
    if let Some(name) = options.persist.as_deref().filter(|n| !n.is_empty()) {
        persist::check_name(name)?;
        if !matches!(&origin, Origin::Files(files) if files.len() == 1) {
            return Err(Error::Usage(format!(
                "--persist={name} names one policy; with several, give --persist alone: each is pinned under its own name"
            )));
        }
    }
    let (sources, problems) = origin.sources()?;
    // Reading the kernel's BTF takes about as long as compiling a small
    // policy: both at once.
    let kernel_types = std::thread::spawn(probe::kernel_btf);
    let metrics = Metrics::default();
    if let Some(addr) = &options.metrics {
        let bound = metrics.serve(addr)?;
        status(&format!(
            "metrics: serving Prometheus text on http://{bound}/metrics"
        ));
    }
    // Policies named on the command line are all read (and compiled) before
    // anything is loaded: a broken one stops polrt here.
    let mut objects = Vec::new();
    for source in &sources {
        let fingerprint = policies::fingerprint(&source.path).unwrap_or_default();
        match object::load_path(
            &source.path,
            ringbuf_bytes.unwrap_or(polc::compile::DEFAULT_RINGBUF_BYTES),
        ) {
            Ok(policy) => objects.push((source.clone(), fingerprint, Ok(policy))),
            Err(error) if matches!(origin, Origin::Dir(_)) => {
                objects.push((source.clone(), fingerprint, Err(error)))
            }
            Err(error) => return Err(error.into()),
        }
    }
    probe::check_privileges()?;
    let types = kernel_types
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    for note in probe::ensure_mounts()? {
        status(&note);
    }
    let cgroup_dir = match &scope {
        Some(scope) => scope.path.clone(),
        None => cgroup::root()?,
    };
    let mut output = Output::to_sink(
        open_output(options.output.as_deref())?,
        options.format,
        Clock::now(),
    );
    output.name_containers(crate::containers::Containers::new(
        options.container_state.clone(),
    ));
    output.name_accounts(options.accounts.clone());
    // The file SIGHUP reopens (none for stdout and the journal).
    let output_file = options.output.as_deref().filter(|path| !is_journal(path));

    // The programs compare the kernel's tgid, which differs from
    // std::process::id() in a pid namespace (a container).
    let tgid = probe::kernel_tgid(&types)?;
    let lsm = probe::bpf_lsm(&types);
    let guard = guard::decide(options.monitor, scope.is_some(), &lsm);
    let host = Host {
        types,
        ringbuf_bytes,
        scope,
        monitor: options.monitor,
        require_lsm: options.require_lsm,
        cgroup_dir,
        tgid,
        lsm,
        guard,
        features: probe::kernel_features()?,
        persist: options.persist.clone(),
        accounts: options.accounts.clone(),
        // A policy directory may get a second policy at any time.
        several: !matches!(&origin, Origin::Files(files) if files.len() == 1),
    };
    let mut stats = ReloadStats::default();
    for problem in &problems {
        status(&format!("warning: --policy-dir: {problem}"));
    }
    let mut enforced: Vec<Enforced> = Vec::new();
    let mut refused: BTreeMap<PathBuf, String> = BTreeMap::new();
    let several = sources.len() > 1 || matches!(origin, Origin::Dir(_));
    for (source, fingerprint, policy) in objects {
        let loaded = policy
            .map_err(Error::from)
            .and_then(|policy| enforce(&host, &source, &fingerprint, &policy, &mut output));
        match loaded {
            Ok(policy) => enforced.push(policy),
            Err(error) if matches!(origin, Origin::Dir(_)) => {
                refused.insert(source.path.clone(), fingerprint.clone());
                stats.failed += 1;
                let report = ReloadReport::refused(&source.name, "", &error);
                status(&report.line());
                output.reload(&report);
            }
            Err(error) => {
                release_all(&mut enforced);
                return Err(error);
            }
        }
    }
    for policy in &enforced {
        announce(policy, several, &mut output);
    }
    let mut split = split_hooks(&enforced);
    note_split_hooks(&split);
    output.flush();
    let watch = policies::Watch::new(&origin.directories())?;
    // List files are watched where they are (each policy's, as it loads).
    let mut watched_lists: Vec<PathBuf> = Vec::new();
    watch_lists(&watch, &enforced, &mut watched_lists);
    // The kernel counts programs' runs and run time only while asked to.
    let bpf_stats = match options.metrics {
        Some(_) => match aya::sys::enable_stats(aya::sys::Stats::RunTime) {
            Ok(fd) => Some(fd),
            Err(error) => {
                status(&format!(
                    "warning: metrics: the kernel's program statistics (bpf_stats) cannot be enabled: {error}; run time and counts are not reported"
                ));
                None
            }
        },
        None => None,
    };
    if options.metrics.is_some() {
        metrics.publish(&snapshot(
            &enforced,
            &stats,
            bpf_stats.is_some(),
            output.failures_total(),
        ));
    }
    ready_line(&host, &enforced, several);

    let mut next_check = Instant::now();
    let mut check_sources = false;
    let mut waiter = Waiter::default();
    let mut pace = Pace::new(Instant::now());
    while !STOP.load(Ordering::SeqCst) {
        let rings: Vec<i32> = enforced
            .iter()
            .map(|p| p.session.ring.as_raw_fd())
            .collect();
        waiter.wait(&rings, watch.raw_fd(), pace.timeout(Instant::now()));
        // Events that came before a SIGHUP go to the file it rotates away.
        let mut read = 0;
        let mut full = false;
        for policy in &mut enforced {
            let n = policy.drain(&mut output, DRAIN_PER_TURN);
            read += n;
            full |= n >= DRAIN_PER_TURN;
        }
        pace.turn(Instant::now(), read, full);
        let hup = handle_noted_signals(output_file, &mut output, &|output| {
            for policy in &enforced {
                policy.headers(output);
            }
        });
        if watch.changed() || hup {
            check_sources = true;
        }
        if check_sources {
            check_sources = false;
            // A reload may replace a ring buffer by one whose descriptor
            // has the same number: register them all again.
            waiter.reset();
            reload::refresh(
                &host,
                &origin,
                &mut enforced,
                &mut refused,
                &mut stats,
                &mut output,
            );
            reload::refresh_lists(&mut enforced, &mut stats, &mut output);
            let now = split_hooks(&enforced);
            if now != split {
                note_split_hooks(&now);
                split = now;
            }
            watch_lists(&watch, &enforced, &mut watched_lists);
            if options.metrics.is_some() {
                metrics.publish(&snapshot(
                    &enforced,
                    &stats,
                    bpf_stats.is_some(),
                    output.failures_total(),
                ));
            }
        }
        if Instant::now() >= next_check {
            for policy in &mut enforced {
                policy.report_losses(&mut output);
                for tamper in policy.session.check_links() {
                    status(&tamper.line());
                    output.tamper(&tamper);
                    output.flush();
                }
                if let Some(map) = &mut policy.session.identities {
                    // A failed refresh leaves the last identities in place:
                    // enforcement goes on, and the next second tries again.
                    match map.refresh() {
                        Ok(changed) => {
                            for path in changed {
                                status(&format!(
                                    "the file at {path} changed: its identity is updated"
                                ));
                            }
                        }
                        Err(error) => status(&format!(
                            "warning: the identities of the files named by path could not be refreshed: {error}"
                        )),
                    }
                }
            }
            report_output_failures(&mut output);
            if options.metrics.is_some() {
                metrics.publish(&snapshot(
                    &enforced,
                    &stats,
                    bpf_stats.is_some(),
                    output.failures_total(),
                ));
            }
            next_check = Instant::now() + Duration::from_secs(1);
        }
        // Whatever this turn wrote (events, reload and loss records) is
        // out before the loop waits again.
        output.flush();
    }

    let mut detached = 0;
    let mut kept = 0;
    let mut counts = Vec::new();
    let mut lost = 0;
    for policy in &mut enforced {
        policy.drain(&mut output, DRAIN_PER_TURN);
        let (d, k) = policy.session.finish();
        detached += d;
        kept += k;
        policy.drain(&mut output, usize::MAX);
        policy.report_losses(&mut output);
        lost += policy.lost + policy.carried_lost;
        for ((rule, hook), matches) in policy.counts() {
            counts.push(RuleCount {
                rule: if several {
                    format!("{}/{rule}", policy.source.name)
                } else {
                    rule
                },
                hook,
                matches,
            });
        }
        if let Some(pins) = &policy.session.pins {
            status(&format!(
                "stopped: policy `{}` stays enforced by {k} pinned programs under {} (`polrt stop {}` removes it)",
                pins.name,
                pins.root.display(),
                pins.name
            ));
        }
    }
    if kept == 0 || detached > 0 {
        status(&format!("stopped: {detached} programs detached"));
    }
    if several {
        counts.sort_by(|a, b| a.rule.cmp(&b.rule));
    } else if let Some(policy) = enforced.first() {
        // One policy: its rules in the policy's order, as before.
        let order: Vec<&str> = policy
            .session
            .metadata
            .rules
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        counts.sort_by_key(|c| order.iter().position(|r| *r == c.rule));
    }
    output.summary(&counts, lost);
    output.flush();
    report_output_failures(&mut output);
    if options.format == Format::Json || options.output.is_some() {
        eprint!("{}", output::summary_text(&counts, lost));
    }
    for policy in &enforced {
        policy.session.clear_runtime();
    }
    Ok(RunSummary {
        counts,
        lost,
        detached,
        kept,
        reloads: stats.reloads,
        failed_reloads: stats.failed,
    })
}

/// Reloads done and refused by a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ReloadStats {
    pub(crate) reloads: u64,
    pub(crate) failed: u64,
    /// List files read again and applied in place, and refused.
    pub(crate) list_updates: u64,
    pub(crate) list_refusals: u64,
}

/// Adds the directories of the policies' list files not watched yet.
fn watch_lists(watch: &policies::Watch, enforced: &[Enforced], watched: &mut Vec<PathBuf>) {
    for policy in enforced {
        let compiled = policy
            .session
            .metadata
            .compiled_lists
            .iter()
            .filter_map(|file| Path::new(file).parent().map(Path::to_path_buf));
        for dir in policy
            .session
            .lists
            .directories()
            .into_iter()
            .chain(compiled)
        {
            if watched.contains(&dir) {
                continue;
            }
            if let Err(error) = watch.add(&dir) {
                status(&format!(
                    "warning: {error}; list files there are read again on SIGHUP only"
                ));
            }
            watched.push(dir);
        }
    }
}

/// What `--metrics` serves now: every policy's counters, backends and
/// programs (with the kernel's run statistics when `bpf_stats` is on).
fn snapshot(
    enforced: &[Enforced],
    stats: &ReloadStats,
    bpf_stats: bool,
    output_failures: u64,
) -> Snapshot {
    let mut runs = BTreeMap::new();
    if bpf_stats {
        for info in aya::programs::loaded_programs().flatten() {
            runs.insert(
                info.id(),
                (info.run_time().as_nanos() as u64, info.run_count()),
            );
        }
    }
    let policies = enforced
        .iter()
        .map(|policy| {
            let metadata = &policy.session.metadata;
            let counts = policy.counts();
            let rules = metadata
                .rules
                .iter()
                .map(|rule| RuleMetric {
                    rule: rule.name.clone(),
                    hook: rule.hook.clone(),
                    action: rule.action.to_string(),
                    matches: counts
                        .get(&(rule.name.clone(), rule.hook.clone()))
                        .copied()
                        .unwrap_or(0),
                })
                .collect();
            let programs = policy
                .reports
                .iter()
                .flat_map(|r| r.programs.iter())
                .map(|(symbol, id)| ProgramMetric {
                    symbol: symbol.clone(),
                    id: *id,
                    run_time_ns: runs.get(id).map(|r| r.0),
                    run_count: runs.get(id).map(|r| r.1),
                })
                .collect();
            PolicyMetrics {
                name: policy.source.name.clone(),
                generation: policy.generation.clone(),
                rules,
                lost: policy.lost + policy.carried_lost,
                backends: policy
                    .reports
                    .iter()
                    .map(|r| (r.hook.clone(), r.backend.clone()))
                    .collect(),
                programs,
                ring: policy
                    .session
                    .ring_fill
                    .as_ref()
                    .map(|fill| (fill.used(), fill.size())),
            }
        })
        .collect();
    Snapshot {
        policies,
        reloads: stats.reloads,
        failed_reloads: stats.failed,
        list_updates: stats.list_updates,
        list_refusals: stats.list_refusals,
        output_failures,
    }
}

/// Loads and attaches `policy` (read from `source`), or with `--persist`
/// pins it, adopts or replaces its pinned generation.
pub(crate) fn enforce(
    host: &Host,
    source: &Source,
    fingerprint: &str,
    policy: &PolicyObject,
    output: &mut Output,
) -> Result<Enforced, Error> {
    if let Some(warnings) = &policy.warnings {
        eprint!("{warnings}");
    }
    let generation = policy.metadata.source_hash.clone();
    let setup = host.setup(policy);
    output.set_policy(&source.name, &generation);
    let session = match host.pin_name(source) {
        None => Session::load(&setup, None)?,
        Some(name) => Session::persist(&setup, name, output)?,
    };
    let reports = session.backend_reports();
    let guard = GuardReport {
        on: session.guard == GuardState::On,
        reason: match &session.guard {
            GuardState::On => String::new(),
            GuardState::Off(why) => why.clone(),
        },
        programs: session.guard_programs(),
        scope: host.scope.as_ref().map(|s| s.path.display().to_string()),
    };
    // A list file compiled into the programs is part of what a `.pol`
    // source's generation was built from.
    // The fingerprint of the bytes that were compiled: a source is read
    // again to be compiled and may have changed since `fingerprint` was
    // taken (a storm of writes); its hash is the SHA-256 of what was
    // compiled, so the next look at a newer file reloads it.
    let own = if source.path.extension().is_some_and(|e| e == "pol") {
        policy.metadata.source_hash.clone()
    } else {
        fingerprint.to_string()
    };
    let fingerprint = policies::with_lists(&source.path, own, &policy.metadata.compiled_lists);
    if !policy.metadata.compiled_lists.is_empty() {
        let how = if source.path.extension().is_some_and(|e| e == "pol") {
            "a change reloads the policy (built again from its source)"
        } else {
            "this object must be rebuilt with polc for a change to take effect"
        };
        status(&format!(
            "policy `{}`: list files compiled into its programs (contains/endswith): {}; {how}",
            source.name,
            policy.metadata.compiled_lists.join(", ")
        ));
    }
    Ok(Enforced {
        source: source.clone(),
        fingerprint,
        generation,
        refused: None,
        session,
        reports,
        guard,
        lost: 0,
        carried: BTreeMap::new(),
        carried_lost: 0,
        retired: Vec::new(),
    })
}

/// The status lines and records of a policy that starts being enforced.
pub(crate) fn announce(policy: &Enforced, several: bool, output: &mut Output) {
    let prefix = if several {
        format!("policy `{}`: ", policy.source.name)
    } else {
        String::new()
    };
    for report in &policy.reports {
        status(&format!("{prefix}{}", report.line()));
    }
    status(&format!("{prefix}{}", policy.guard.line()));
    if !prefix.is_empty() {
        status(&format!(
            "{prefix}generation {} from {}; {}",
            short(&policy.generation),
            policy.source.path.display(),
            policy.session.origin
        ));
    }
    policy.headers(output);
}

/// The hooks where some policy runs reporting and refusing programs.
fn split_hooks(enforced: &[Enforced]) -> Vec<String> {
    let hooks: BTreeSet<&str> = enforced
        .iter()
        .flat_map(|p| p.session.split_hooks())
        .collect();
    hooks.into_iter().map(str::to_string).collect()
}

/// Says at start-up (and when a reload changes them) on which LSM hooks
/// the policies run their reporting and refusing programs, and what that
/// costs.
fn note_split_hooks(hooks: &[String]) {
    if hooks.is_empty() {
        return;
    }
    status(&format!(
        "note: several policies: on the lsm backend of {} each runs a reporting program (fentry, which the kernel runs before any lsm program) and a refusing one, so every policy reports and the strongest verdict wins; a policy that can refuse there decides twice per operation (docs/runtime.md, \"How policies compose\")",
        hooks.join(", ")
    ));
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The first line of an error (a policy's diagnostics span several).
pub(crate) fn one_line(text: &str) -> String {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("").trim().to_string();
    match lines.next() {
        Some(_) => format!("{first} ..."),
        None => first,
    }
}

/// On a failed start: pinned policies stay as they were, the others are
/// detached (by dropping their sessions).
fn release_all(enforced: &mut Vec<Enforced>) {
    for policy in enforced.iter_mut() {
        if policy.session.pins.is_some() {
            policy.session.finish();
        }
    }
    enforced.clear();
}

fn ready_line(host: &Host, enforced: &[Enforced], several: bool) {
    let scope_text = match &host.scope {
        Some(scope) => format!(
            "scoped to cgroup {} (id {})",
            scope.path.display(),
            scope.id
        ),
        None => "every task".to_string(),
    };
    let mode = if host.monitor {
        "monitor mode: deny/kill are reported as would-deny/would-kill, not enforced"
    } else {
        "enforcing"
    };
    let programs: usize = enforced.iter().map(|p| p.session.attachments.len()).sum();
    let policies_text = if several {
        format!(
            "{} {} ({}), ",
            enforced.len(),
            if enforced.len() == 1 {
                "policy"
            } else {
                "policies"
            },
            enforced
                .iter()
                .map(|p| p.source.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        String::new()
    };
    let seeded_text = match enforced.first().and_then(|p| p.session.identities.as_ref()) {
        Some(map) if !several => format!(
            ", {} of {} files named by path found (matched by identity too)",
            map.found(),
            map.len()
        ),
        _ => String::new(),
    };
    let persist_text = match enforced.first() {
        Some(policy) if !several => match &policy.session.pins {
            Some(pins) => format!(
                "; {}: it stays enforced when polrt exits or dies (`polrt stop {}` removes it)",
                policy.session.origin, pins.name
            ),
            None => String::new(),
        },
        _ if host.persist.is_some() => {
            "; pinned: they stay enforced when polrt exits or dies (`polrt stop NAME` removes one)"
                .to_string()
        }
        _ => String::new(),
    };
    status(&format!(
        "ready: {policies_text}{programs} programs attached, {scope_text}, {mode}{seeded_text}{persist_text}"
    ));
}

/// Whether `--output` names the systemd journal (`--output journal`; a file
/// called `journal` is `./journal`).
pub fn is_journal(path: &Path) -> bool {
    path == Path::new("journal")
}

/// Bytes of output buffered before a write (the buffer is flushed at the
/// end of every turn of the event loop, so nothing waits longer than that).
const OUTPUT_BUFFER: usize = 1 << 16;

/// `out` behind an [`OUTPUT_BUFFER`] buffer.
fn buffered(out: impl Write + Send + 'static) -> Box<dyn Write + Send> {
    Box::new(std::io::BufWriter::with_capacity(OUTPUT_BUFFER, out))
}

fn open_output(path: Option<&Path>) -> Result<Sink, Error> {
    match path {
        // Buffered (flushed at the end of each turn of the event loop): one
        // write for a batch of events, not one per line.
        None => Ok(Sink::Stream(buffered(std::io::stdout()))),
        Some(path) if is_journal(path) => Ok(Sink::Journal(Journal::open().map_err(Error::Usage)?)),
        Some(path) => {
            let file = output_file::open(path).map_err(Error::Usage)?;
            Ok(Sink::Stream(buffered(file)))
        }
    }
}

/// Acts on the [`NOTED_SIGNALS`] received since the last call: SIGHUP
/// reopens `--output` (after a rotation, the path names a new file, which
/// starts with the records `headers` writes: `backend` and `guard`; when
/// the new file is refused or cannot be opened, polrt says so and keeps
/// writing to the one it has) and returns true (the caller then looks for
/// changed policies); every other one is reported and ignored.
/// Enforcement never stops here.
fn handle_noted_signals(
    path: Option<&Path>,
    output: &mut Output,
    headers: &dyn Fn(&mut Output),
) -> bool {
    let pending = PENDING.swap(0, Ordering::SeqCst);
    if pending == 0 {
        return false;
    }
    let mut hup = false;
    for signal in NOTED_SIGNALS {
        if pending & (1u64 << signal) == 0 {
            continue;
        }
        match (signal, path) {
            (libc::SIGHUP, Some(path)) => {
                hup = true;
                match output_file::open(path) {
                    Ok(file) => {
                        output.set_writer(buffered(file));
                        headers(output);
                        output.flush();
                        status(&format!("SIGHUP: reopened --output {}", path.display()));
                    }
                    Err(why) => status(&format!(
                        "warning: SIGHUP: cannot reopen {why}; still writing to the file opened before"
                    )),
                }
            }
            (libc::SIGHUP, None) => hup = true,
            _ => status(&format!(
                "{} ignored: polrt stops only on SIGINT, SIGTERM or SIGQUIT; enforcement continues",
                signal_name(signal)
            )),
        }
    }
    hup
}

/// Says, on stderr, that writes to the output failed since the last check:
/// the events are lost, enforcement is not (SIGHUP reopens `--output`).
fn report_output_failures(output: &mut Output) {
    if let Some((count, error)) = output.take_failures() {
        status(&format!(
            "warning: {count} writes to the output failed ({error}); their events are lost, enforcement continues (SIGHUP reopens --output)"
        ));
    }
}

/// Sum over CPUs of counter `index` (0 if unreadable).
fn counter(counters: &PerCpuArray<MapData, u64>, index: u32) -> u64 {
    counters
        .get(&index, 0)
        .map(|values| values.iter().sum())
        .unwrap_or(0)
}

fn report_losses(
    counters: &PerCpuArray<MapData, u64>,
    n_rules: u32,
    lost: &mut u64,
    output: &mut Output,
) {
    let now = counter(counters, n_rules);
    if now > *lost {
        output.loss(now - *lost);
        output.flush();
        *lost = now;
    }
}

/// How often the event loop reads the ring buffers while events come: the
/// programs write their records without waking the reader
/// (`BPF_RB_NO_WAKEUP`) until a ring buffer is a quarter full, so the loop
/// does not wait to be woken but reads on this timer. It bounds how late a
/// record is written while events keep coming.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(5);
/// How often it reads them once no record came for [`IDLE_AFTER`]: the
/// bound on how late the first record after a quiet spell is written.
pub(crate) const IDLE_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// No record read for this long: the loop reads every
/// [`IDLE_POLL_INTERVAL`] instead of every [`POLL_INTERVAL`].
pub(crate) const IDLE_AFTER: Duration = Duration::from_millis(250);

/// When the event loop next reads the ring buffers: every
/// [`POLL_INTERVAL`] while records come, every [`IDLE_POLL_INTERVAL`] once
/// none came for [`IDLE_AFTER`], at once after a turn that read as many as
/// it may (a backlog). A forced wake-up (a ring buffer a quarter full, or a
/// record of an object built before the programs stopped waking the reader)
/// ends any wait early.
#[derive(Clone, Copy, Debug)]
struct Pace {
    last_read: Instant,
    backlog: bool,
}

impl Pace {
    fn new(now: Instant) -> Pace {
        Pace {
            last_read: now,
            backlog: false,
        }
    }

    /// Notes a turn that read `read` records, `full` if a ring buffer had
    /// more than one turn may read.
    fn turn(&mut self, now: Instant, read: usize, full: bool) {
        if read > 0 {
            self.last_read = now;
        }
        self.backlog = full;
    }

    /// How long the loop may wait before its next turn.
    fn timeout(&self, now: Instant) -> Duration {
        if self.backlog {
            Duration::ZERO
        } else if now.duration_since(self.last_read) < IDLE_AFTER {
            POLL_INTERVAL
        } else {
            IDLE_POLL_INTERVAL
        }
    }
}

/// What the event loop waits on: the ring buffers' wake-ups, edge-triggered
/// (a ring buffer holding records does not end the wait; only the kernel
/// waking its readers does: a forced wake-up, or any wake-up of an older
/// object's programs), and the watched directories' notifications.
#[derive(Default)]
struct Waiter {
    epoll: Option<std::os::fd::OwnedFd>,
    /// The descriptors registered: the rings, then the watch.
    registered: Vec<i32>,
}

impl Waiter {
    /// Forgets the registrations (they are made again at the next wait).
    fn reset(&mut self) {
        self.epoll = None;
        self.registered.clear();
    }

    /// Registers `rings` and `watch` with a new epoll instance; `None` if
    /// the kernel refuses one.
    fn register(rings: &[i32], watch: i32) -> Option<std::os::fd::OwnedFd> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain system calls on descriptors this process owns; the
        // new descriptor is owned by the `OwnedFd` from here on.
        unsafe {
            let fd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            if fd < 0 {
                return None;
            }
            let epoll = std::os::fd::OwnedFd::from_raw_fd(fd);
            let edge = (libc::EPOLLIN | libc::EPOLLET) as u32;
            let level = libc::EPOLLIN as u32;
            let targets = rings.iter().map(|&r| (r, edge));
            for (target, events) in targets.chain(std::iter::once((watch, level))) {
                let mut event = libc::epoll_event {
                    events,
                    u64: target as u64,
                };
                if libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, target, &mut event) < 0 {
                    return None;
                }
            }
            Some(epoll)
        }
    }

    /// Waits until a ring buffer's programs wake its reader, the watch has
    /// news, a signal comes or `timeout` passes.
    fn wait(&mut self, rings: &[i32], watch: i32, timeout: Duration) {
        let mut wanted = rings.to_vec();
        wanted.push(watch);
        if self.epoll.is_none() || self.registered != wanted {
            self.epoll = Waiter::register(rings, watch);
            self.registered = wanted;
        }
        let millis = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        match &self.epoll {
            Some(epoll) => {
                let mut events = [libc::epoll_event { events: 0, u64: 0 }; 16];
                // SAFETY: `events` has room for the 16 events asked for; an
                // error (EINTR on a signal) just returns.
                unsafe {
                    libc::epoll_wait(
                        epoll.as_raw_fd(),
                        events.as_mut_ptr(),
                        events.len() as libc::c_int,
                        millis,
                    )
                };
            }
            // Without epoll, a plain sleep on the watch: the timer reads
            // the rings all the same.
            None => wait_readable(&[watch], timeout),
        }
    }
}

/// Waits until one of `fds` is readable, a signal comes or `timeout` passes.
fn wait_readable(fds: &[i32], timeout: Duration) {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` holds `pfds.len()` valid pollfds; an error (EINTR on a
    // signal) just returns.
    unsafe {
        libc::poll(
            pfds.as_mut_ptr(),
            pfds.len() as libc::nfds_t,
            timeout.as_millis() as libc::c_int,
        )
    };
}

/// Records read from one policy's ring buffer per turn of the event loop,
/// at most: the loop goes on to signals, reloads and the link watch however
/// fast events come.
pub(crate) const DRAIN_PER_TURN: usize = 8192;

/// Writes up to `limit` records waiting in `ring` to `output` (every one,
/// with `usize::MAX`, only once no attached program writes to the ring:
/// a flood could otherwise keep polrt here); returns how many.
pub(crate) fn drain_some(
    ring: &mut RingBuf<MapData>,
    metadata: &Metadata,
    output: &mut Output,
    limit: usize,
) -> usize {
    let mut n = 0;
    // One event reused for the batch: decoding allocates nothing once its
    // strings have grown to the policy's records.
    let mut event = events::Event::empty();
    while n < limit {
        let Some(item) = ring.next() else { break };
        n += 1;
        match events::decode_into(metadata, &item, &mut event) {
            Ok(()) => output.event(&event),
            Err(error) => output.decode_error(&error.to_string()),
        }
    }
    if n > 0 {
        output.flush();
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_reads_on_a_short_timer_while_records_come_and_a_longer_one_when_idle() {
        let start = Instant::now();
        let mut pace = Pace::new(start);
        assert_eq!(pace.timeout(start), POLL_INTERVAL);
        // Quiet for longer than IDLE_AFTER: the idle timer.
        let later = start + IDLE_AFTER + Duration::from_millis(1);
        pace.turn(later, 0, false);
        assert_eq!(pace.timeout(later), IDLE_POLL_INTERVAL);
        // A record read: the short timer again, until quiet for IDLE_AFTER.
        pace.turn(later, 1, false);
        assert_eq!(pace.timeout(later), POLL_INTERVAL);
        let quiet = later + IDLE_AFTER - Duration::from_millis(1);
        pace.turn(quiet, 0, false);
        assert_eq!(pace.timeout(quiet), POLL_INTERVAL);
        let idle = later + IDLE_AFTER;
        pace.turn(idle, 0, false);
        assert_eq!(pace.timeout(idle), IDLE_POLL_INTERVAL);
        // A turn that read all it may: no wait before the next.
        pace.turn(idle, DRAIN_PER_TURN, true);
        assert_eq!(pace.timeout(idle), Duration::ZERO);
        pace.turn(idle, 3, false);
        assert_eq!(pace.timeout(idle), POLL_INTERVAL);
        assert!(POLL_INTERVAL < IDLE_POLL_INTERVAL && IDLE_POLL_INTERVAL < IDLE_AFTER);
    }

    #[test]
    fn the_waiter_ends_at_its_timeout_when_nothing_wakes_it() {
        let mut fds = [0; 2];
        // SAFETY: pipe(2) fills `fds`.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let (read, write) = (fds[0], fds[1]);
        let mut waiter = Waiter::default();
        let start = Instant::now();
        waiter.wait(&[], read, Duration::from_millis(20));
        assert!(start.elapsed() >= Duration::from_millis(15));
        assert!(waiter.epoll.is_some());
        // The watch is level-triggered: readable, the wait ends at once.
        // SAFETY: writes one byte from a valid buffer.
        assert_eq!(unsafe { libc::write(write, b"x".as_ptr().cast(), 1) }, 1);
        let start = Instant::now();
        waiter.wait(&[], read, Duration::from_secs(5));
        waiter.wait(&[], read, Duration::from_secs(5));
        assert!(start.elapsed() < Duration::from_secs(4));
        // SAFETY: closes the descriptors this test opened.
        unsafe {
            libc::close(read);
            libc::close(write);
        }
    }

    #[test]
    fn ring_buffer_sizes_must_be_page_multiples_and_powers_of_two() {
        assert_eq!(check_ringbuf_size(4096).ok(), Some(4096));
        assert_eq!(check_ringbuf_size(1 << 20).ok(), Some(1 << 20));
        for bad in [0, 1000, 4096 * 3, 2048] {
            let error = check_ringbuf_size(bad).expect_err("refused");
            assert_eq!(error.exit_code(), crate::EXIT_USAGE);
            assert!(error.to_string().contains("power of two"), "{error}");
        }
    }
}
