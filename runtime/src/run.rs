//! `polrt run`: the whole life of an enforced policy, in order — resolve the
//! scope, read or compile the policy, probe the host, load (config and sets
//! written before anything is attached), choose backends, attach (support
//! programs, then the identities of the files the policy names, then the
//! hooks), report "ready", stream events and losses until
//! SIGINT/SIGTERM/SIGQUIT (SIGHUP reopens the output, other signals are
//! ignored), then detach and print per-rule
//! counts and total losses.
//!
//! Status lines go to stderr; events, losses and the summary to the output
//! (stdout or `--output`). Depends on every other module; nothing depends
//! on it but `main.rs`.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aya::maps::{MapData, PerCpuArray, RingBuf};
use polc_abi::Metadata;

use crate::cgroup::{self, Scope};
use crate::guard::{self, GuardState};
use crate::output::{self, BackendReport, Clock, Format, GuardReport, Output, RuleCount};
use crate::session::{Session, Setup};
use crate::{events, object, output_file, persist, probe, Error};

/// Options of `polrt run`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// A `.o` object or a `.pol` source.
    pub policy: PathBuf,
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
    /// `--persist`: pin the policy under this name, so that it outlives
    /// polrt (see [`crate::persist`]).
    pub persist: Option<String>,
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
    eprintln!("polrt: {line}");
}

/// Runs a policy until SIGINT, SIGTERM or SIGQUIT.
pub fn run(options: &RunOptions) -> Result<RunSummary, Error> {
    let ringbuf_bytes = options.ringbuf_bytes.map(check_ringbuf_size).transpose()?;
    let scope = options.cgroup.as_deref().map(Scope::resolve).transpose()?;
    if let Some(name) = &options.persist {
        persist::check_name(name)?;
    }
    let policy = object::load_path(
        &options.policy,
        ringbuf_bytes.unwrap_or(polc::compile::DEFAULT_RINGBUF_BYTES),
    )?;
    if let Some(warnings) = &policy.warnings {
        eprint!("{warnings}");
    }
    probe::check_privileges()?;
    let types = probe::kernel_btf()?;
    for note in probe::ensure_mounts()? {
        status(&note);
    }
    let cgroup_dir = match &scope {
        Some(scope) => scope.path.clone(),
        None => cgroup::root()?,
    };
    let mut output = Output::new(
        open_output(options.output.as_deref())?,
        options.format,
        Clock::now(),
    );

    // The programs compare the kernel's tgid, which differs from
    // std::process::id() in a pid namespace (a container).
    let tgid = probe::kernel_tgid(&types)?;
    let lsm = probe::bpf_lsm(&types);
    let guard = guard::decide(options.monitor, scope.is_some(), &lsm);
    let setup = Setup {
        policy: &policy,
        types: &types,
        ringbuf_bytes,
        scope: scope.as_ref(),
        monitor: options.monitor,
        require_lsm: options.require_lsm,
        cgroup_dir: &cgroup_dir,
        tgid,
        lsm: &lsm,
        guard: &guard,
        features: probe::kernel_features()?,
    };
    let mut session = match &options.persist {
        None => Session::load(&setup, None)?,
        Some(name) => Session::persist(&setup, name, &mut output)?,
    };
    let metadata = session.metadata.clone();

    let reports = session.backend_reports();
    for report in &reports {
        status(&report.line());
        output.backend(report);
    }
    let guard_report = GuardReport {
        on: session.guard == GuardState::On,
        reason: match &session.guard {
            GuardState::On => String::new(),
            GuardState::Off(why) => why.clone(),
        },
        programs: session.guard_programs(),
        scope: scope.as_ref().map(|s| s.path.display().to_string()),
    };
    status(&guard_report.line());
    output.guard(&guard_report);
    output.flush();
    let scope_text = match &scope {
        Some(scope) => format!(
            "scoped to cgroup {} (id {})",
            scope.path.display(),
            scope.id
        ),
        None => "every task".to_string(),
    };
    let mode = if options.monitor {
        "monitor mode: deny/kill are reported as would-deny/would-kill, not enforced"
    } else {
        "enforcing"
    };
    let seeded_text = match &session.identities {
        Some(map) => format!(
            ", {} of {} files named by path found (matched by identity too)",
            map.found(),
            map.len()
        ),
        None => String::new(),
    };
    let persist_text = match &session.pins {
        Some(pins) => format!(
            "; {}: it stays enforced when polrt exits or dies (`polrt stop {}` removes it)",
            session.origin, pins.name
        ),
        None => String::new(),
    };
    status(&format!(
        "ready: {} programs attached, {scope_text}, {mode}{seeded_text}{persist_text}",
        session.attachments.len()
    ));

    let n_rules = metadata.rules.len() as u32;
    let mut lost = 0u64;
    let mut next_check = Instant::now();
    while !STOP.load(Ordering::SeqCst) {
        wait_readable(session.ring.as_raw_fd(), Duration::from_millis(200));
        // Events that came before a SIGHUP go to the file it rotates away.
        drain(&mut session.ring, &metadata, &mut output);
        handle_noted_signals(
            options.output.as_deref(),
            &reports,
            &guard_report,
            &mut output,
        );
        if Instant::now() >= next_check {
            report_losses(&session.counters, n_rules, &mut lost, &mut output);
            for tamper in session.check_links() {
                status(&tamper.line());
                output.tamper(&tamper);
                output.flush();
            }
            if let Some(map) = &mut session.identities {
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
            report_output_failures(&mut output);
            next_check = Instant::now() + Duration::from_secs(1);
        }
    }

    drain(&mut session.ring, &metadata, &mut output);
    let (detached, kept) = session.finish();
    drain(&mut session.ring, &metadata, &mut output);
    report_losses(&session.counters, n_rules, &mut lost, &mut output);
    let counts: Vec<RuleCount> = metadata
        .rules
        .iter()
        .map(|rule| RuleCount {
            rule: rule.name.clone(),
            hook: rule.hook.clone(),
            matches: counter(&session.counters, rule.id),
        })
        .collect();
    match &session.pins {
        Some(pins) => status(&format!(
            "stopped: policy `{}` stays enforced by {kept} pinned programs under {} (`polrt stop {}` removes it)",
            pins.name,
            pins.root.display(),
            pins.name
        )),
        None => status(&format!("stopped: {detached} programs detached")),
    }
    output.summary(&counts, lost);
    output.flush();
    report_output_failures(&mut output);
    if options.format == Format::Json || options.output.is_some() {
        eprint!("{}", output::summary_text(&counts, lost));
    }
    session.clear_runtime();
    Ok(RunSummary {
        counts,
        lost,
        detached,
        kept,
    })
}

fn open_output(path: Option<&Path>) -> Result<Box<dyn Write + Send>, Error> {
    match path {
        None => Ok(Box::new(std::io::LineWriter::new(std::io::stdout()))),
        Some(path) => {
            let file = output_file::open(path).map_err(Error::Usage)?;
            Ok(Box::new(std::io::BufWriter::new(file)))
        }
    }
}

/// Acts on the [`NOTED_SIGNALS`] received since the last call: SIGHUP
/// reopens `--output` (after a rotation, the path names a new file, which
/// starts with the `backend` and `guard` records again; when the new file is refused or
/// cannot be opened, polrt says so and keeps writing to the one it has),
/// every other one is reported and ignored. Enforcement never stops here.
fn handle_noted_signals(
    path: Option<&Path>,
    backends: &[BackendReport],
    guard: &GuardReport,
    output: &mut Output,
) {
    let pending = PENDING.swap(0, Ordering::SeqCst);
    if pending == 0 {
        return;
    }
    for signal in NOTED_SIGNALS {
        if pending & (1u64 << signal) == 0 {
            continue;
        }
        match (signal, path) {
            (libc::SIGHUP, Some(path)) => match output_file::open(path) {
                Ok(file) => {
                    output.set_writer(Box::new(std::io::BufWriter::new(file)));
                    for report in backends {
                        output.backend(report);
                    }
                    output.guard(guard);
                    output.flush();
                    status(&format!("SIGHUP: reopened --output {}", path.display()));
                }
                Err(why) => status(&format!(
                    "warning: SIGHUP: cannot reopen {why}; still writing to the file opened before"
                )),
            },
            _ => status(&format!(
                "{} ignored: polrt stops only on SIGINT, SIGTERM or SIGQUIT; enforcement continues",
                signal_name(signal)
            )),
        }
    }
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

fn wait_readable(fd: i32, timeout: Duration) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; an error (EINTR on a signal) just returns.
    unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
}

/// Writes every record waiting in `ring` to `output`; returns how many.
pub(crate) fn drain(
    ring: &mut RingBuf<MapData>,
    metadata: &Metadata,
    output: &mut Output,
) -> usize {
    let mut n = 0;
    while let Some(item) = ring.next() {
        n += 1;
        match events::decode(metadata, &item) {
            Ok(event) => output.event(&event),
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
