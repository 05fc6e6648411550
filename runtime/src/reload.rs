//! Hot reload: after SIGHUP or a change in a watched directory, `run`
//! calls `refresh`, which looks at every policy file again and acts on
//! those whose bytes changed, and only on those:
//!
//! - a changed file is read, checked, compiled and measured as at start;
//!   its new generation is loaded and attached (with `--persist`, pinned
//!   beside the old one) **before** the old generation's links are closed,
//!   so that at every moment one of them, or both, decide: the operation
//!   sees the old verdict, the new one or both (the strongest wins, as
//!   between policies), never none. The old ring buffer is drained, so
//!   every event is written with the generation that decided it;
//! - a file that fails to read, check, verify or attach is refused: the
//!   old generation stays enforced, and the refusal is reported (a status
//!   line and a `reload` record); the same bytes are not tried again;
//! - with `--policy-dir`, a new file is loaded and a removed one unloaded
//!   (with `--persist`, its pins removed).
//!
//! Changes are coalesced: however many notifications arrive, `run` calls
//! this at most once per turn of its event loop (200 ms at most), and a
//! file is reloaded only when its fingerprint differs from the loaded one.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::output::{ListReport, Output, ReloadReport};
use crate::policies::{self, Origin, Source};
use crate::run::{announce, enforce, status, Enforced, Host, ReloadStats};
use crate::{object, Error};

/// Looks at every policy of `origin` again and loads, reloads or unloads
/// what changed (see the module documentation). `refused` remembers the
/// fingerprints of files refused while not enforced (a directory's new
/// broken file), so that they are not tried again until they change.
pub(crate) fn refresh(
    host: &Host,
    origin: &Origin,
    enforced: &mut Vec<Enforced>,
    refused: &mut BTreeMap<PathBuf, String>,
    stats: &mut ReloadStats,
    output: &mut Output,
) {
    let (sources, problems) = match origin.sources() {
        Ok(found) => found,
        Err(error) => {
            status(&format!(
                "warning: reload: {error}; every policy stays as it is"
            ));
            return;
        }
    };
    for problem in problems {
        status(&format!("warning: --policy-dir: {problem}"));
    }
    if let Origin::Dir(_) = origin {
        // Files gone from the directory: their policies are unloaded.
        let mut index = 0;
        while index < enforced.len() {
            if sources
                .iter()
                .any(|s| s.path == enforced[index].source.path)
            {
                index += 1;
                continue;
            }
            let mut gone = enforced.remove(index);
            unload(&mut gone, output);
            stats.reloads += 1;
        }
        refused.retain(|path, _| sources.iter().any(|s| &s.path == path));
    }
    for source in sources {
        let Some(fingerprint) = policies::fingerprint(&source.path) else {
            // Being replaced, or gone for a moment: the next change says.
            continue;
        };
        match enforced.iter_mut().find(|p| p.source.path == source.path) {
            Some(current) => {
                let fingerprint = policies::fingerprint_with_lists(
                    &source.path,
                    &current.session.metadata.compiled_lists,
                )
                .unwrap_or(fingerprint);
                if current.fingerprint == fingerprint
                    || current.refused.as_deref() == Some(fingerprint.as_str())
                {
                    continue;
                }
                match replace(host, current, &fingerprint, output) {
                    Ok(report) => {
                        stats.reloads += 1;
                        status(&report.line());
                        output.reload(&report);
                    }
                    Err(error) => {
                        stats.failed += 1;
                        current.refused = Some(fingerprint);
                        let report = ReloadReport::refused(
                            &current.source.name,
                            &current.generation,
                            &error,
                        );
                        status(&report.line());
                        output.reload(&report);
                    }
                }
            }
            None => {
                if refused.get(&source.path) == Some(&fingerprint) {
                    continue;
                }
                match load_new(host, &source, &fingerprint, output) {
                    Ok(policy) => {
                        refused.remove(&source.path);
                        stats.reloads += 1;
                        let report = ReloadReport {
                            policy: source.name.clone(),
                            result: "loaded",
                            generation: policy.generation.clone(),
                            previous: String::new(),
                            detail: String::new(),
                        };
                        status(&report.line());
                        output.reload(&report);
                        announce(&policy, true, output);
                        enforced.push(policy);
                    }
                    Err(error) => {
                        stats.failed += 1;
                        refused.insert(source.path.clone(), fingerprint);
                        let report = ReloadReport::refused(&source.name, "", &error);
                        status(&report.line());
                        output.reload(&report);
                    }
                }
            }
        }
    }
    output.flush();
}

fn load_new(
    host: &Host,
    source: &Source,
    fingerprint: &str,
    output: &mut Output,
) -> Result<Enforced, Error> {
    let policy = object::load_path(&source.path, host.ringbuf())?;
    enforce(host, source, fingerprint, &policy, output)
}

/// Replaces `current` by the generation now in its file: the new one
/// attached first, then the old one's events drained and its links closed.
fn replace(
    host: &Host,
    current: &mut Enforced,
    fingerprint: &str,
    output: &mut Output,
) -> Result<ReloadReport, Error> {
    let policy = object::load_path(&current.source.path, host.ringbuf())?;
    let mut next = enforce(host, &current.source, fingerprint, &policy, output)?;
    // Both generations decide now; the old one goes.
    if current.session.pins.is_some() {
        // Its pins were removed by the replacement (`Session::persist`):
        // closing its links detaches them.
        current.session.attachments.release();
    } else {
        current.session.finish();
    }
    // Detached: what is left in its ring buffer is all it will write, and
    // is drained over the next turns, with its generation.
    current.report_losses(output);
    next.carried = current.counts();
    next.carried_lost = current.carried_lost + current.lost;
    next.retired = std::mem::take(&mut current.retired);
    let report = ReloadReport {
        policy: current.source.name.clone(),
        result: "reloaded",
        generation: next.generation.clone(),
        previous: current.generation.clone(),
        detail: format!("{} programs attached", next.session.attachments.len()),
    };
    let programs: Vec<String> = next.reports.iter().map(|r| r.line()).collect();
    let old = std::mem::replace(current, next);
    current.retired.push((old.generation, old.session));
    current.headers(output);
    for line in programs {
        status(&format!("policy `{}`: {line}", current.source.name));
    }
    Ok(report)
}

/// Unloads a policy whose file is gone: detached, and with `--persist`
/// its pins removed.
fn unload(policy: &mut Enforced, output: &mut Output) {
    let detached = policy.session.attachments.detach_all();
    let mut detail = format!("its file is gone; {detached} programs detached");
    if let Some(pins) = &policy.session.pins {
        match pins.remove() {
            Ok(_) => detail.push_str(&format!(", {} removed", pins.root.display())),
            Err(error) => detail.push_str(&format!(", but its pins stay: {error}")),
        }
    }
    policy.drain(output, usize::MAX);
    policy.report_losses(output);
    let report = ReloadReport {
        policy: policy.source.name.clone(),
        result: "unloaded",
        generation: String::new(),
        previous: policy.generation.clone(),
        detail,
    };
    status(&report.line());
    output.reload(&report);
}

/// Reads again every list file of every policy that changed since it was
/// applied, and refills its maps in place (`crate::lists`): no program is
/// loaded or detached. A bad file is refused, its old entries stay
/// enforced; each is reported (a status line and a `list` record).
pub(crate) fn refresh_lists(
    enforced: &mut [Enforced],
    stats: &mut ReloadStats,
    output: &mut Output,
) {
    for policy in enforced.iter_mut() {
        for applied in policy.session.lists.refresh() {
            // The files a path list names are matched by identity too:
            // those of the new paths are written, the old ones' removed.
            let applied = match (&applied.result, &mut policy.session.identities) {
                (Ok(_), Some(map)) => {
                    let identities = map.read_list_file(&applied.path).and_then(|any| {
                        if any {
                            map.refresh().map(|_| ())
                        } else {
                            Ok(())
                        }
                    });
                    match identities {
                        Ok(()) => applied,
                        Err(error) => crate::lists::Applied {
                            result: Err(format!(
                                "its maps were updated, but the identities of its paths were not: {error}"
                            )),
                            ..applied
                        },
                    }
                }
                _ => applied,
            };
            let report = match applied.result {
                Ok((added, removed, entries)) => {
                    stats.list_updates += 1;
                    ListReport {
                        policy: policy.source.name.clone(),
                        list: applied.list,
                        path: applied.path,
                        result: "updated",
                        added,
                        removed,
                        entries,
                        reason: String::new(),
                    }
                }
                Err(reason) => {
                    stats.list_refusals += 1;
                    ListReport {
                        policy: policy.source.name.clone(),
                        list: applied.list,
                        path: applied.path,
                        result: "refused",
                        added: 0,
                        removed: 0,
                        entries: 0,
                        reason: crate::run::one_line(&reason),
                    }
                }
            };
            status(&report.line());
            output.set_policy(&policy.source.name, &policy.generation);
            output.list(&report);
        }
    }
    output.flush();
}
