//! Hashes per second over a sliding window, from the workers' progress reports.

use std::collections::VecDeque;

use tabchain_core::Timestamp;

/// Long enough to smooth the chunked reports, short enough to follow a stop at once.
const WINDOW_MS: u64 = 2_000;

#[derive(Debug, Default)]
pub struct HashMeter {
    reports: VecDeque<(Timestamp, u64)>,
}

impl HashMeter {
    pub fn add(&mut self, now: Timestamp, hashes: u64) {
        self.reports.push_back((now, hashes));
        self.forget_before(now);
    }

    /// Hashes per second over the last two seconds (0 once reports stop).
    pub fn rate(&mut self, now: Timestamp) -> u64 {
        self.forget_before(now);
        self.reports.iter().map(|(_, hashes)| hashes).sum::<u64>() * 1000 / WINDOW_MS
    }

    fn forget_before(&mut self, now: Timestamp) {
        while let Some(&(at, _)) = self.reports.front() {
            if now.since(at) < WINDOW_MS {
                break;
            }
            self.reports.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_covers_the_last_two_seconds() {
        let mut meter = HashMeter::default();
        for i in 0..40 {
            meter.add(Timestamp(10_000 + i * 50), 5_000); // 100 kH/s for two seconds
        }
        assert_eq!(meter.rate(Timestamp(11_999)), 100_000);
        // A second later only the 19 reports of the last two seconds count.
        assert_eq!(meter.rate(Timestamp(13_000)), 47_500);
        assert_eq!(meter.rate(Timestamp(20_000)), 0);
    }
}
