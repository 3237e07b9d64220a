//! When to try a signaling route again (the signaling server, a Nostr relay): doubling
//! waits up to a ceiling, each shortened by a random part, so a class of tabs does not
//! reconnect in one burst when a server comes back.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

#[derive(Debug)]
pub struct Backoff {
    first_ms: u64,
    longest_ms: u64,
    failures: u32,
    rng: ChaCha8Rng,
}

impl Backoff {
    /// Waits from `first_ms`, doubling up to `longest_ms`.
    pub fn new(first_ms: u64, longest_ms: u64, seed: u64) -> Backoff {
        Backoff {
            first_ms,
            longest_ms,
            failures: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// The wait before the next attempt, after one more failure.
    pub fn next_delay_ms(&mut self) -> u64 {
        let full = self
            .first_ms
            .saturating_mul(1 << self.failures.min(16))
            .min(self.longest_ms);
        self.failures = self.failures.saturating_add(1);
        full - self.rng.next_u64() % (full / 4 + 1)
    }

    /// It answered: the next failure starts from the shortest wait again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_ceiling_and_reset() {
        let mut backoff = Backoff::new(500, 5_000, 1);
        let waits: Vec<u64> = (0..6).map(|_| backoff.next_delay_ms()).collect();
        let ceilings = [500, 1000, 2000, 4000, 5000, 5000];
        for (wait, ceiling) in waits.iter().zip(ceilings) {
            assert!(*wait <= ceiling && *wait >= ceiling * 3 / 4, "{waits:?}");
        }
        backoff.reset();
        assert!(backoff.next_delay_ms() <= 500);
    }
}
