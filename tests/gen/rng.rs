//! The random source of the generators: a seeded SplitMix64 for the
//! property tests, and the bytes of a fuzz input for the fuzz targets, behind
//! one trait so the same generator code serves both.
//!
//! Pure and dependency-free: the generators must be reproducible from a seed
//! (or from the fuzz input) alone.

/// A source of random choices. Every choice the generators make goes through
/// [`Entropy::below`], so a fuzz input maps to a policy choice by choice.
pub trait Entropy {
    /// A value uniformly (or, for bytes, as given) in `0..n`; 0 when `n` is 0.
    fn below(&mut self, n: u64) -> u64;

    /// A value in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        match (hi - lo).checked_add(1) {
            Some(n) => lo + self.below(n),
            None => lo.wrapping_add(self.below(u64::MAX)),
        }
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Any 64-bit value.
    fn any_u64(&mut self) -> u64 {
        (self.below(1 << 32) << 32) | self.below(1 << 32)
    }

    /// An index into a slice of `len` elements (0 when empty).
    fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// An index chosen with the given relative weights.
    fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut pick = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                return i;
            }
            pick -= w;
        }
        0
    }
}

/// Picks an element of a non-empty slice.
pub fn pick<'a, T>(rng: &mut impl Entropy, items: &'a [T]) -> &'a T {
    &items[rng.index(items.len())]
}

/// SplitMix64 (Steele, Lea and Flood): tiny, fast, and good enough for
/// choosing test cases; one `u64` of state, so a seed is the whole story.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Entropy for SplitMix64 {
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Rejection sampling keeps the choice unbiased.
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }
}

/// The bytes of a fuzz input as choices: each choice takes as few bytes as
/// it needs, and an exhausted input answers 0 to everything, so every input
/// (including the empty one) yields a finite, valid policy.
#[derive(Clone, Debug)]
pub struct ByteEntropy<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> ByteEntropy<'a> {
    /// Choices read from `bytes`.
    pub fn new(bytes: &'a [u8]) -> ByteEntropy<'a> {
        ByteEntropy { bytes, at: 0 }
    }
}

impl Entropy for ByteEntropy<'_> {
    fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let mut value: u64 = 0;
        let mut span: u64 = 1;
        while span < n {
            let byte = self.bytes.get(self.at).copied().unwrap_or(0);
            self.at += 1;
            value = (value << 8) | u64::from(byte);
            span = span.saturating_mul(256);
        }
        value % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_reproduces_its_sequence() {
        let a: Vec<u64> = {
            let mut r = SplitMix64::new(42);
            (0..8).map(|_| r.below(1000)).collect()
        };
        let mut r = SplitMix64::new(42);
        let b: Vec<u64> = (0..8).map(|_| r.below(1000)).collect();
        assert_eq!(a, b);
        let mut other = SplitMix64::new(43);
        let c: Vec<u64> = (0..8).map(|_| other.below(1000)).collect();
        assert_ne!(a, c);
        assert!(a.iter().all(|x| *x < 1000));
    }

    #[test]
    fn bytes_are_read_as_needed_and_run_out_as_zeros() {
        let mut e = ByteEntropy::new(&[5, 1, 2, 7]);
        assert_eq!(e.below(10), 5);
        assert_eq!(e.below(1000), 258);
        assert_eq!(e.below(2), 1);
        assert_eq!(e.below(300), 0);
        assert_eq!(e.range(3, 9), 3);
        assert!(!e.chance(50) || e.chance(50));
    }

    #[test]
    fn weights_and_ranges_stay_in_bounds() {
        let mut r = SplitMix64::new(7);
        let mut seen = [0u32; 3];
        for _ in 0..3000 {
            seen[r.weighted(&[1, 0, 3])] += 1;
            let x = r.range(10, 12);
            assert!((10..=12).contains(&x));
        }
        assert_eq!(seen[1], 0);
        assert!(seen[2] > seen[0]);
        assert_eq!(r.range(5, 5), 5);
        let _ = r.range(0, u64::MAX);
    }
}
