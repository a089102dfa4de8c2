//! A small deterministic generator for randomized unit tests (xorshift64):
//! the same inputs on every run, so that a failure can be replayed.

pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        // Zero is xorshift's one fixed point.
        Rng(seed.max(1))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// An index below `n` (which is not 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A copy of `seed` with `flips` bits flipped, cut short at a random
    /// length when `cut` (damaged input for decoders).
    pub(crate) fn damaged(&mut self, seed: &[u8], flips: usize, cut: bool) -> Vec<u8> {
        let mut data = seed.to_vec();
        if data.is_empty() {
            return data;
        }
        for _ in 0..flips {
            let at = self.below(data.len());
            data[at] ^= 1 << self.below(8);
        }
        if cut {
            data.truncate(self.below(data.len()));
        }
        data
    }

    /// `n` random bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 24) as u8).collect()
    }
}
