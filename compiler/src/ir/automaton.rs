//! String automata: `contains` (one string or a list) and `endswith` lists
//! as one deterministic automaton over the field's bytes (Aho–Corasick),
//! whose table a program reads from a read-only array map.
//!
//! A program runs the automaton over every byte of the field's buffer with
//! no conditional jump per byte (`codegen` emits the scan): a byte is mapped
//! to its byte class, and the next state is loaded from the transition
//! table. The string's NUL leads from every state to one of two absorbing
//! states, so the bytes after it (unspecified in the buffer) change nothing:
//! [`Automaton::accept`] (a literal occurs, or the string ends with one)
//! and [`Automaton::reject`]. For `contains`, reaching any occurrence goes
//! straight to `accept`, which absorbs too. The verifier's work is therefore
//! the same for one string or ten thousand: only the table grows.
//!
//! Table layout (see [`Automaton::encode`]): 256 class bytes, then the
//! transitions as little-endian u32 *premultiplied* states (`state *
//! n_classes`) indexed by `state * n_classes + class`. A program masks the
//! index to a power of two ([`Automaton::table_entries`]) so that the
//! verifier knows every load lies within [`Automaton::reach`] bytes of the
//! table's start; those bytes must lie inside the map value, but past the
//! table's own entries they are never read at run time (every state indexes
//! a real entry), so the next table may use them.
//!
//! Depends on nothing but the standard library; the semantics it must equal
//! is the interpreter's (`interp`), which the unit tests compare it with.

use std::collections::{BTreeMap, VecDeque};

pub use crate::check::glob::{glob_match, MAX_GLOB_STATES};

/// What an automaton decides.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScanKind {
    /// Some literal occurs in the string.
    Contains,
    /// The string ends with some literal.
    EndsWith,
    /// The string matches some glob pattern ([`glob_match`]).
    Glob,
}

/// A deterministic automaton over bytes, with two absorbing final states.
///
/// It keeps the trie of its literals and their failure links (linear in
/// the literals' bytes); the transition table, states times classes, is
/// computed only when encoded, so a list too large to encode costs no more
/// than its trie to compile and measure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Automaton {
    pub kind: ScanKind,
    /// The literals, sorted and unique, none empty.
    pub literals: Vec<Vec<u8>>,
    /// Byte class of every byte (class 0: bytes no literal has, when some
    /// byte is in none; the last class: NUL).
    pub classes: Vec<u8>,
    pub n_classes: u32,
    /// States, the two absorbing ones last.
    pub n_states: u32,
    /// Trie nodes: children by class, failure link, whether a literal ends
    /// there or at a node its failure chain reaches.
    children: Vec<BTreeMap<u32, u32>>,
    fail: Vec<u32>,
    matches: Vec<bool>,
    /// The state of each trie node a scan can stay in (`u32::MAX` for a
    /// `contains` node that matches: the scan accepts there at once).
    state_of: Vec<u32>,
    /// A glob automaton's transitions, built by subset construction
    /// (`None` for the tries, computed when encoded).
    table: Option<Vec<u32>>,
}

impl Automaton {
    /// The automaton deciding `kind` over `literals` (none empty: an empty
    /// literal decides the test without a scan, and lowering folds it).
    pub fn new(kind: ScanKind, literals: &[Vec<u8>]) -> Automaton {
        let mut literals: Vec<Vec<u8>> = literals.to_vec();
        literals.sort();
        literals.dedup();
        debug_assert!(literals.iter().all(|l| !l.is_empty() && !l.contains(&0)));

        // Byte classes: one per byte some literal has, one for all other
        // bytes (0, when there is one), one for NUL (last): at most 256.
        let mut used: Vec<u8> = literals.iter().flatten().copied().collect();
        used.sort_unstable();
        used.dedup();
        let mut classes = vec![0u8; 256];
        let mut n_classes = u32::from(used.len() < 255);
        for byte in used {
            classes[usize::from(byte)] = n_classes as u8;
            n_classes += 1;
        }
        classes[0] = n_classes as u8;
        n_classes += 1;

        // The trie of the literals, by class.
        let mut children: Vec<BTreeMap<u32, u32>> = vec![BTreeMap::new()];
        let mut matches = vec![false];
        for literal in &literals {
            let mut node = 0usize;
            for &byte in literal {
                let class = u32::from(classes[usize::from(byte)]);
                node = match children[node].get(&class) {
                    Some(&child) => child as usize,
                    None => {
                        children.push(BTreeMap::new());
                        matches.push(false);
                        let child = children.len() - 1;
                        children[node].insert(class, child as u32);
                        child
                    }
                };
            }
            matches[node] = true;
        }
        // Failure links in breadth-first order.
        let mut fail = vec![0u32; children.len()];
        let mut queue: VecDeque<usize> = children[0].values().map(|c| *c as usize).collect();
        while let Some(node) = queue.pop_front() {
            matches[node] |= matches[fail[node] as usize];
            let kids: Vec<(u32, u32)> = children[node].iter().map(|(c, k)| (*c, *k)).collect();
            for (class, child) in kids {
                let mut f = fail[node] as usize;
                let target = loop {
                    if let Some(&t) = children[f].get(&class) {
                        break t;
                    }
                    if f == 0 {
                        break 0;
                    }
                    f = fail[f] as usize;
                };
                fail[child as usize] = target;
                queue.push_back(child as usize);
            }
        }

        // States: the trie nodes a scan can stay in (for `contains`, none
        // that matches: it is `accept` at once), then accept and reject.
        let mut state_of = vec![u32::MAX; children.len()];
        let mut n_states = 0u32;
        for (node, state) in state_of.iter_mut().enumerate() {
            if kind == ScanKind::EndsWith || !matches[node] {
                *state = n_states;
                n_states += 1;
            }
        }
        Automaton {
            kind,
            literals,
            classes,
            n_classes,
            n_states: n_states + 2,
            children,
            fail,
            matches,
            state_of,
            table: None,
        }
    }

    /// The automaton deciding whether a string matches any of `patterns`
    /// (glob patterns, see [`glob_match`]): the checker's DFA
    /// ([`crate::check::glob::dfa`]); `None` when it needs more than
    /// [`MAX_GLOB_STATES`] states (the checker reports it).
    pub fn glob(patterns: &[Vec<u8>]) -> Option<Automaton> {
        let dfa = crate::check::glob::dfa(patterns)?;
        Some(Automaton {
            kind: ScanKind::Glob,
            literals: dfa.patterns,
            classes: dfa.classes,
            n_classes: dfa.n_classes,
            n_states: dfa.n_states,
            children: Vec::new(),
            fail: Vec::new(),
            matches: Vec::new(),
            state_of: Vec::new(),
            table: Some(dfa.table),
        })
    }

    /// The absorbing state that decides the test true.
    pub fn accept(&self) -> u32 {
        self.n_states - 2
    }

    /// The absorbing state that decides the test false.
    pub fn reject(&self) -> u32 {
        self.n_states - 1
    }

    /// Entries the index of a transition is masked to: a power of two, at
    /// least the table's.
    pub fn table_entries(&self) -> u64 {
        (u64::from(self.n_states) * u64::from(self.n_classes)).next_power_of_two()
    }

    /// Bytes of the encoded automaton: the class table, then the
    /// transitions.
    pub fn encoded_len(&self) -> u64 {
        256 + 4 * u64::from(self.n_states) * u64::from(self.n_classes)
    }

    /// Bytes from the table's start that a program may read as far as the
    /// verifier knows (the masked index's range): they must lie inside the
    /// map value.
    pub fn reach(&self) -> u64 {
        256 + 4 * self.table_entries()
    }

    /// The transition table: `next[state * n_classes + class]`.
    pub fn transitions(&self) -> Vec<u32> {
        if let Some(table) = &self.table {
            return table.clone();
        }
        let n_classes = self.n_classes as usize;
        let nul_class = self.n_classes - 1;
        let (accept, reject) = (self.accept(), self.reject());
        // The trie's full goto function, row by row in breadth-first order
        // (a node's failure target comes before it).
        let mut order = vec![0usize];
        let mut k = 0;
        while k < order.len() {
            order.extend(self.children[order[k]].values().map(|c| *c as usize));
            k += 1;
        }
        let mut goto = vec![0u32; self.children.len() * n_classes];
        for &node in &order {
            for class in 0..n_classes {
                goto[node * n_classes + class] = match self.children[node].get(&(class as u32)) {
                    Some(&child) => child,
                    None if node == 0 => 0,
                    None => goto[self.fail[node] as usize * n_classes + class],
                };
            }
        }
        let mut next = vec![reject; self.n_states as usize * n_classes];
        for node in 0..self.children.len() {
            let state = self.state_of[node];
            if state == u32::MAX {
                continue;
            }
            for class in 0..self.n_classes {
                let to = if class == nul_class {
                    match self.kind {
                        ScanKind::EndsWith if self.matches[node] => accept,
                        _ => reject,
                    }
                } else {
                    match self.state_of[goto[node * n_classes + class as usize] as usize] {
                        u32::MAX => accept,
                        target => target,
                    }
                };
                next[state as usize * n_classes + class as usize] = to;
            }
        }
        for absorbing in [accept, reject] {
            let row = absorbing as usize * n_classes;
            next[row..row + n_classes].fill(absorbing);
        }
        next
    }

    /// The table a program reads (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.classes.clone();
        for to in self.transitions() {
            out.extend_from_slice(&(to * self.n_classes).to_le_bytes());
        }
        out
    }

    /// Runs the automaton on `bytes` followed by its NUL, as a program runs
    /// it on a field's buffer: whether it ends in `accept`.
    pub fn decides(&self, bytes: &[u8]) -> bool {
        let next = self.transitions();
        let mut state = 0u32;
        for &byte in bytes.iter().chain(&[0]) {
            let class = u32::from(self.classes[usize::from(byte)]);
            state = next[(state * self.n_classes + class) as usize];
        }
        state == self.accept()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interpreter's semantics, on strings without NUL.
    fn reference(kind: ScanKind, literals: &[Vec<u8>], s: &[u8]) -> bool {
        literals.iter().any(|l| match kind {
            ScanKind::Contains => s.windows(l.len()).any(|w| w == l.as_slice()),
            ScanKind::EndsWith => s.ends_with(l),
            ScanKind::Glob => glob_match(l, s),
        })
    }

    /// A small deterministic generator (no dependency).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
        fn string(&mut self, alphabet: &[u8], max: u64) -> Vec<u8> {
            let n = self.next(max + 1);
            (0..n)
                .map(|_| alphabet[self.next(alphabet.len() as u64) as usize])
                .collect()
        }
    }

    #[test]
    fn decides_as_the_interpreter_on_random_lists_and_strings() {
        let mut rng = Lcg(0x5eed);
        let alphabet = b"ab/.c";
        for _ in 0..400 {
            let n = 1 + rng.next(6) as usize;
            let literals: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let mut l = rng.string(alphabet, 4);
                    if l.is_empty() {
                        l.push(b'a');
                    }
                    l
                })
                .collect();
            for kind in [ScanKind::Contains, ScanKind::EndsWith] {
                let automaton = Automaton::new(kind, &literals);
                for _ in 0..40 {
                    let s = rng.string(b"ab/.cx", 12);
                    assert_eq!(
                        automaton.decides(&s),
                        reference(kind, &literals, &s),
                        "{kind:?} {literals:?} on {s:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn overlapping_literals_and_the_nul() {
        let lits = |l: &[&str]| l.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        let a = Automaton::new(ScanKind::Contains, &lits(&["/secret-0001/", "ecret-00"]));
        assert!(a.decides(b"/x/secret-0009/y"));
        assert!(!a.decides(b"/x/secre/t-00"));
        let e = Automaton::new(ScanKind::EndsWith, &lits(&["shadow", "dow", ".key"]));
        assert!(e.decides(b"/etc/shadow"));
        assert!(e.decides(b"window"));
        assert!(!e.decides(b"/etc/shadow/x"));
        assert!(!e.decides(b""));
        // The two absorbing states stay where they are on every byte.
        let next = e.transitions();
        for s in [e.accept(), e.reject()] {
            for class in 0..e.n_classes {
                assert_eq!(next[(s * e.n_classes + class) as usize], s);
            }
        }
    }

    #[test]
    fn the_encoding_is_masked_into_bounds_and_premultiplied() {
        let a = Automaton::new(ScanKind::Contains, &[b"abc".to_vec(), b"bd".to_vec()]);
        let mut table = a.encode();
        assert_eq!(table.len() as u64, a.encoded_len());
        assert!(a.table_entries().is_power_of_two());
        assert!(a.table_entries() >= u64::from(a.n_states * a.n_classes));
        assert!(a.reach() >= a.encoded_len());
        // Whatever lies past the entries (another table) is never read.
        table.resize(a.reach() as usize, 0xa5);
        // Run the encoded table as a program does.
        let run = |s: &[u8]| {
            let mut state = 0u32;
            for &byte in s.iter().chain(&[0]) {
                let class = u32::from(table[usize::from(byte)]);
                let index = ((u64::from(state + class)) & (a.table_entries() - 1)) as usize;
                let at = 256 + 4 * index;
                state = u32::from_le_bytes(table[at..at + 4].try_into().expect("4 bytes"));
            }
            state == a.accept() * a.n_classes
        };
        assert!(run(b"xxabcx"));
        assert!(run(b"abd"));
        assert!(!run(b"ab"));
    }

    #[test]
    fn globs_match_segments_depths_and_single_bytes() {
        let m = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes());
        assert!(m("/home/*/.ssh/id_*", "/home/alice/.ssh/id_rsa"));
        assert!(m("/home/*/.ssh/id_*", "/home/alice/.ssh/id_"));
        assert!(!m("/home/*/.ssh/id_*", "/home/a/b/.ssh/id_rsa"));
        assert!(!m("/home/*/.ssh/id_*", "/home/alice/.ssh/id_rsa/x"));
        assert!(m("/home/**/id_*", "/home/a/b/c/id_x"));
        assert!(m("/home/**/id_*", "/home/id_x"));
        assert!(!m("/home/**/id_*", "/homeid_x"));
        assert!(m("/etc/**", "/etc/a/b"));
        assert!(m("/etc/**", "/etc/"));
        assert!(!m("/etc/**", "/etc"));
        assert!(m("/tmp/?", "/tmp/a"));
        assert!(!m("/tmp/?", "/tmp/ab"));
        assert!(!m("/tmp/?", "/tmp//"));
        assert!(m("**", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("*.pem", "key.pem"));
        assert!(!m("*.pem", "/etc/key.pem"));
        assert!(m("/tmp/\\*", "/tmp/*"));
        assert!(!m("/tmp/\\*", "/tmp/a"));
        assert!(m("/a\\/**/b", "/a/x/b"));
        assert!(!m("/a\\/**/b", "/a/b"));
    }

    #[test]
    fn glob_automata_decide_as_the_matcher() {
        let mut rng = Lcg(0x6106);
        let pieces: &[&[u8]] = &[
            b"a", b"b", b"/", b"*", b"**", b"?", b".", b"/**/", b"\\*", b"\\/",
        ];
        for _ in 0..300 {
            let n = 1 + rng.next(3) as usize;
            let patterns: Vec<Vec<u8>> = (0..n)
                .map(|_| {
                    let len = rng.next(6);
                    (0..len)
                        .flat_map(|_| pieces[rng.next(pieces.len() as u64) as usize].to_vec())
                        .collect()
                })
                .collect();
            let automaton = Automaton::glob(&patterns).expect("small automaton");
            for _ in 0..60 {
                let s = rng.string(b"ab/.x", 10);
                assert_eq!(
                    automaton.decides(&s),
                    patterns.iter().any(|p| glob_match(p, &s)),
                    "{patterns:?} on {s:?}"
                );
            }
            // The two absorbing states stay where they are on every byte.
            let next = automaton.transitions();
            assert_eq!(next.len() as u32, automaton.n_states * automaton.n_classes);
            for s in [automaton.accept(), automaton.reject()] {
                for class in 0..automaton.n_classes {
                    assert_eq!(next[(s * automaton.n_classes + class) as usize], s);
                }
            }
        }
    }
}
