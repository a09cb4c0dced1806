//! A deterministic random number generator for the tests' random inputs (the engine's sequence
//! fuzz here, the parsers' mutation fuzz in the driver crate): the same sequence on every
//! machine for a seed, so a failure replays from the seed it prints.

/// xorshift64*: no dependency; good enough to pick mutations and operations.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        self.below64(n as u64) as usize
    }

    pub fn below64(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}
