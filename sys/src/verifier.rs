//! Reading a verifier rejection: what the kernel's verifier log says went
//! wrong, in words a policy author can act on, the failing instruction and
//! the source line the log points at (from the program's line info), and
//! the log trimmed to the failing instruction. Shared by `polrt` (loading,
//! `polrt verify`) and `polc test`.
//!
//! The verifier's complexity limits are named as such: without this, "The
//! sequence of 8193 jumps is too complex" reaches the user as `Bad address
//! (os error 14)`, the errno the kernel returns for it. Pure: reads text.

/// Lines of context kept above the failing instruction.
const LOG_CONTEXT: usize = 6;

/// What a verifier rejection means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The reason, a named limit where the log shows one (`too many
    /// branches for the verifier: ...`, `program too large: ...`), else the
    /// verifier's own last message, else the errno.
    pub reason: String,
    /// The last instruction the log shows (the failing one), by its slot.
    pub insn: Option<u32>,
    /// The source line the log's line info points at for the failing
    /// instruction: `(file, line)`.
    pub source: Option<(String, u32)>,
    /// The log trimmed to the failing instruction ([`trim`]).
    pub log: String,
}

/// Reads a rejection from the error of `BPF_PROG_LOAD` (its errno and
/// text) and the log.
pub fn explain(errno: Option<i32>, error: &str, log: &str) -> Rejection {
    Rejection {
        reason: limit(log).or_else(|| last_message(log)).unwrap_or_else(|| {
            if errno == Some(libc::E2BIG) {
                format!("program too large: more instructions than this kernel loads ({error})")
            } else {
                error.to_string()
            }
        }),
        insn: last_insn(log).map(|(_, insn)| insn),
        source: source_line(log),
        log: trim(log),
    }
}

/// A verifier limit the log reports, named.
fn limit(log: &str) -> Option<String> {
    for line in log.lines().rev() {
        let line = line.trim();
        if line.starts_with("The sequence of ") {
            let what = line.trim_end_matches('.').to_lowercase();
            return Some(format!(
                "too many branches for the verifier: {what} (it keeps at most 8192 branches \
                 pending); split the rule or shorten its lists"
            ));
        }
        if let Some(rest) = line.strip_prefix("BPF program is too large. ") {
            return Some(format!(
                "program too large: the verifier {} instructions, more than its limit of \
                 1,000,000; split the rule or shorten its lists",
                rest.to_lowercase().replace("insn", "").trim()
            ));
        }
        if line.starts_with("combined stack size") {
            return Some(format!("stack too large: \"{line}\""));
        }
        if line.contains("back-edge") || line.starts_with("infinite loop detected") {
            return Some(format!("a loop, which polc never emits: \"{line}\""));
        }
    }
    None
}

/// Whether `line` is the verifier's statistics or timing, not a message.
fn is_statistics(line: &str) -> bool {
    line.starts_with("processed ")
        || line.starts_with("verification time")
        || line.starts_with("stack depth")
        || line.starts_with("max_states_per_insn")
}

/// The verifier's last message: the last line after the failing
/// instruction that is not statistics.
fn last_message(log: &str) -> Option<String> {
    let lines: Vec<&str> = log.lines().collect();
    let after = last_insn(log).map_or(0, |(at, _)| at + 1);
    lines[after.min(lines.len())..]
        .iter()
        .map(|l| l.trim())
        .rfind(|l| !l.is_empty() && !is_statistics(l) && !l.starts_with("; "))
        .map(str::to_string)
}

/// The slot of an instruction line (`12: (b7) r0 = 0`).
fn insn_of(line: &str) -> Option<u32> {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && line[digits..].starts_with(": (") {
        line[..digits].parse().ok()
    } else {
        None
    }
}

/// The last instruction line: its index among the lines and its slot.
fn last_insn(log: &str) -> Option<(usize, u32)> {
    log.lines()
        .enumerate()
        .filter_map(|(at, line)| insn_of(line).map(|insn| (at, insn)))
        .last()
}

/// The last line-info annotation (`; TEXT @ FILE:LINE`) before the failing
/// instruction: the kernel prints one whenever the line changes, so this
/// is the failing instruction's line.
pub fn source_line(log: &str) -> Option<(String, u32)> {
    let lines: Vec<&str> = log.lines().collect();
    let end = last_insn(log).map_or(lines.len(), |(at, _)| at);
    lines[..end].iter().rev().find_map(|line| {
        let (_, place) = line.strip_prefix("; ")?.rsplit_once(" @ ")?;
        let (file, number) = place.rsplit_once(':')?;
        Some((file.to_string(), number.trim().parse().ok()?))
    })
}

/// Trims a verifier log to the failing instruction: the last instruction
/// line, the source line (`; ...` line info) and a few lines before it, and
/// everything after (the error and the statistics). A short log is kept
/// whole.
pub fn trim(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let start = match last_insn(log) {
        Some((at, _)) => {
            let source = lines[..at]
                .iter()
                .rposition(|l| l.starts_with("; "))
                .filter(|s| at - s <= LOG_CONTEXT);
            source.unwrap_or(at).saturating_sub(LOG_CONTEXT)
        }
        None => lines.len().saturating_sub(20),
    };
    let mut out = String::new();
    if start > 0 {
        out.push_str(&format!(
            "... ({start} earlier lines of the verifier log omitted)\n"
        ));
    }
    for line in &lines[start..] {
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EFAULT: &str = "Bad address (os error 14)";

    fn explain_efault(log: &str) -> Rejection {
        explain(Some(libc::EFAULT), EFAULT, log)
    }

    fn explain_e2big(log: &str) -> Rejection {
        explain(
            Some(libc::E2BIG),
            "Argument list too long (os error 7)",
            log,
        )
    }

    #[test]
    fn logs_are_trimmed_to_the_failing_instruction() {
        let mut log = String::new();
        for i in 0..40 {
            log.push_str(&format!("{i}: (b7) r{} = 0\n", i % 5));
        }
        log.push_str("; when file.path == \"/etc/shadow\" @ policy.pol:3\n");
        log.push_str("40: (79) r1 = *(u64 *)(r7 +0)\n");
        log.push_str("R7 invalid mem access 'scalar'\n");
        log.push_str("processed 41 insns (limit 1000000)\n");
        let trimmed = trim(&log);
        assert!(trimmed.starts_with("... ("), "{trimmed}");
        assert!(trimmed.contains("policy.pol:3"), "{trimmed}");
        assert!(trimmed.contains("40: (79)"), "{trimmed}");
        assert!(trimmed.contains("invalid mem access"), "{trimmed}");
        assert!(trimmed.contains("processed 41 insns"), "{trimmed}");
        assert!(!trimmed.contains("\n0: (b7)"), "{trimmed}");
        assert!(trimmed.lines().count() < 15, "{trimmed}");
        let rejection = explain_efault(&log);
        assert_eq!(rejection.reason, "R7 invalid mem access 'scalar'");
        assert_eq!(rejection.insn, Some(40));
        assert_eq!(rejection.source, Some(("policy.pol".into(), 3)));
    }

    #[test]
    fn short_logs_are_kept_whole() {
        let log = "invalid func unknown#195896080\nprocessed 0 insns\n";
        assert_eq!(trim(log), log);
        assert_eq!(explain_efault(log).reason, "invalid func unknown#195896080");
    }

    #[test]
    fn complexity_limits_are_named() {
        let log = "; rule r { @ c12.pol:1\n27378: (55) if r3 != 0x31313030 goto pc+3\n\
                   The sequence of 8193 jumps is too complex.\nverification time 174933 usec\n\
                   processed 27585 insns (limit 1000000)\n";
        let rejection = explain_efault(log);
        assert!(
            rejection.reason.starts_with(
                "too many branches for the verifier: the sequence of 8193 jumps is too complex"
            ),
            "{rejection:?}"
        );
        assert!(!rejection.reason.contains("Bad address"), "{rejection:?}");
        assert_eq!(rejection.source, Some(("c12.pol".into(), 1)));
        let log = "12: (07) r1 += 1\nBPF program is too large. Processed 1000001 insn\n";
        let reason = explain_e2big(log).reason;
        assert!(reason.starts_with("program too large: "), "{reason}");
        let reason = explain_e2big("").reason;
        assert!(reason.starts_with("program too large: "), "{reason}");
        assert_eq!(explain_efault("").reason, EFAULT);
    }
}
