//! Glob patterns (`matches`, and the `file.dir` / `file.name` tests lowered
//! to them): their semantics ([`glob_match`], what the interpreter decides),
//! their bounds, and the deterministic automaton a program runs
//! ([`dfa`], which `ir::automaton` encodes and the checker sizes).
//!
//! Pure functions over bytes; depends on nothing but `std`.

use std::collections::BTreeMap;

/// A glob automaton: byte classes (the last one NUL), and the transitions
/// `table[state * n_classes + class]`, the two absorbing states last
/// (accept, then reject).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobDfa {
    /// The patterns, sorted and unique.
    pub patterns: Vec<Vec<u8>>,
    pub classes: Vec<u8>,
    pub n_classes: u32,
    pub n_states: u32,
    pub table: Vec<u32>,
}

/// The DFA deciding whether a string matches any of `patterns`, built by
/// subset construction over the patterns' positions; `None` when it needs
/// more than [`MAX_GLOB_STATES`] states.
pub fn dfa(patterns: &[Vec<u8>]) -> Option<GlobDfa> {
    let mut patterns: Vec<Vec<u8>> = patterns.to_vec();
    patterns.sort();
    patterns.dedup();
    let variants: Vec<Vec<Tok>> = patterns.iter().flat_map(|p| variants(p)).collect();
    // Byte classes: one per literal byte of a pattern and `/`, one for
    // every other byte (0, when there is one), one for NUL (last).
    let mut used: Vec<u8> = variants
        .iter()
        .flatten()
        .filter_map(|t| match t {
            Tok::Byte(b) | Tok::Esc(b) => Some(*b),
            _ => None,
        })
        .chain([b'/'])
        .collect();
    used.sort_unstable();
    used.dedup();
    let mut classes = vec![0u8; 256];
    let mut n_classes = u32::from(used.len() < 255);
    let mut representative: Vec<u8> = Vec::new();
    if n_classes == 1 {
        let other = (1..=255u8).find(|b| !used.contains(b)).unwrap_or(1);
        representative.push(other);
    }
    for &byte in &used {
        classes[usize::from(byte)] = n_classes as u8;
        representative.push(byte);
        n_classes += 1;
    }
    classes[0] = n_classes as u8;
    n_classes += 1;

    const ACCEPT: u32 = u32::MAX - 1;
    const REJECT: u32 = u32::MAX;
    type Set = Vec<(u32, u32)>;
    let start: Set = closure(
        &variants,
        (0..variants.len() as u32).map(|v| (v, 0)).collect(),
    );
    let mut ids: BTreeMap<Set, u32> = BTreeMap::new();
    let mut sets: Vec<Set> = vec![start.clone()];
    ids.insert(start, 0);
    let mut rows: Vec<Vec<u32>> = Vec::new();
    let mut k = 0;
    while k < sets.len() {
        let set = sets[k].clone();
        let mut row = Vec::with_capacity(n_classes as usize);
        for class in 0..n_classes - 1 {
            let byte = representative[class as usize];
            let next = closure(&variants, step(&variants, &set, byte));
            let to = if next.is_empty() {
                REJECT
            } else if next.iter().any(|&(v, p)| sure(&variants[v as usize], p)) {
                ACCEPT
            } else if let Some(&id) = ids.get(&next) {
                id
            } else {
                let id = sets.len() as u32;
                if id >= MAX_GLOB_STATES - 2 {
                    return None;
                }
                ids.insert(next.clone(), id);
                sets.push(next);
                id
            };
            row.push(to);
        }
        let ends = set
            .iter()
            .any(|&(v, p)| p as usize == variants[v as usize].len());
        row.push(if ends { ACCEPT } else { REJECT });
        rows.push(row);
        k += 1;
    }
    let n_states = sets.len() as u32 + 2;
    let (accept, reject) = (n_states - 2, n_states - 1);
    let mut table: Vec<u32> = rows
        .into_iter()
        .flatten()
        .map(|to| match to {
            ACCEPT => accept,
            REJECT => reject,
            state => state,
        })
        .collect();
    for absorbing in [accept, reject] {
        table.extend(std::iter::repeat_n(absorbing, n_classes as usize));
    }
    Some(GlobDfa {
        patterns,
        classes,
        n_classes,
        n_states,
        table,
    })
}

/// Most wildcards (`*`, `**`, `?`) one glob pattern may have.
pub const MAX_GLOB_WILDCARDS: usize = 8;
/// Most `**` one glob pattern may have.
pub const MAX_GLOB_DOUBLE_STARS: usize = 2;
/// Most states the automaton of one `matches` test (a pattern or a list of
/// them) may have.
pub const MAX_GLOB_STATES: u32 = 1024;

/// One element of a glob pattern.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Tok {
    /// This byte.
    Byte(u8),
    /// This byte, escaped with a backslash (a `/` so written never makes `/**/`).
    Esc(u8),
    /// `?`: one byte, not `/`.
    One,
    /// `*`: any bytes but `/`, maybe none.
    Star,
    /// `**`: any bytes, maybe none.
    Any,
}

fn tokens(pattern: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'*' => {
                let run = pattern[i..].iter().take_while(|b| **b == b'*').count();
                out.push(if run == 1 { Tok::Star } else { Tok::Any });
                i += run;
            }
            b'?' => {
                out.push(Tok::One);
                i += 1;
            }
            b'\\' if i + 1 < pattern.len() => {
                out.push(Tok::Esc(pattern[i + 1]));
                i += 2;
            }
            byte => {
                out.push(Tok::Byte(byte));
                i += 1;
            }
        }
    }
    out
}

/// The wildcards (`*`, `**` and `?`) of a pattern, and its `**`s.
pub fn glob_wildcards(pattern: &[u8]) -> (usize, usize) {
    let toks = tokens(pattern);
    let wild = toks
        .iter()
        .filter(|t| !matches!(t, Tok::Byte(_) | Tok::Esc(_)))
        .count();
    let any = toks.iter().filter(|t| **t == Tok::Any).count();
    (wild, any)
}

/// The token sequences a pattern stands for: each `/**/` also as `/`
/// (no directory in between).
fn variants(pattern: &[u8]) -> Vec<Vec<Tok>> {
    let mut out = vec![Vec::new()];
    let toks = tokens(pattern);
    let mut i = 0;
    while i < toks.len() {
        let dirs = toks[i] == Tok::Byte(b'/')
            && toks.get(i + 1) == Some(&Tok::Any)
            && toks.get(i + 2) == Some(&Tok::Byte(b'/'));
        if dirs {
            let mut with_none: Vec<Vec<Tok>> = out.clone();
            for v in &mut with_none {
                v.push(Tok::Byte(b'/'));
            }
            for v in &mut out {
                v.extend([Tok::Byte(b'/'), Tok::Any, Tok::Byte(b'/')]);
            }
            out.extend(with_none);
            i += 3;
        } else {
            for v in &mut out {
                v.push(toks[i]);
            }
            i += 1;
        }
    }
    out
}

/// The positions reachable without a byte: past `*` and `**`.
fn closure(variants: &[Vec<Tok>], mut set: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    let mut k = 0;
    while k < set.len() {
        let (v, p) = set[k];
        if let Some(Tok::Star | Tok::Any) = variants[v as usize].get(p as usize) {
            if !set.contains(&(v, p + 1)) {
                set.push((v, p + 1));
            }
        }
        k += 1;
    }
    set.sort_unstable();
    set.dedup();
    set
}

/// The positions after `byte` (before their closure).
fn step(variants: &[Vec<Tok>], set: &[(u32, u32)], byte: u8) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for &(v, p) in set {
        match variants[v as usize].get(p as usize) {
            Some(Tok::Byte(b) | Tok::Esc(b)) if *b == byte => out.push((v, p + 1)),
            Some(Tok::One) if byte != b'/' => out.push((v, p + 1)),
            Some(Tok::Star) if byte != b'/' => out.push((v, p)),
            Some(Tok::Any) => out.push((v, p)),
            _ => {}
        }
    }
    out
}

/// Whether every string matches from position `p` on (only `**` left).
fn sure(toks: &[Tok], p: u32) -> bool {
    let rest = &toks[p as usize..];
    !rest.is_empty() && rest.iter().all(|t| *t == Tok::Any)
}

/// Whether `s` matches the glob `pattern`: `*` is any bytes but `/` (maybe
/// none), `**` any bytes (maybe none), `?` one byte but `/`, a backslash makes the
/// byte after it itself (`\\*` is a star), and every other byte is itself;
/// `/**/` also matches a single `/`. The whole string
/// must match. Decided by running the patterns' positions over the bytes
/// (no backtracking): what the kernel's automaton does.
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    let variants = variants(pattern);
    let mut set = closure(
        &variants,
        (0..variants.len() as u32).map(|v| (v, 0)).collect(),
    );
    for &byte in s {
        set = closure(&variants, step(&variants, &set, byte));
        if set.is_empty() {
            return false;
        }
    }
    set.iter()
        .any(|&(v, p)| p as usize == variants[v as usize].len())
}
