//! Ping/pong liveness of one peer: pings waiting for their pong, when the last pong
//! came, and the round-trip time (smoothed as TCP does, plus recent samples to chart).

use std::collections::VecDeque;

use tabchain_core::Timestamp;

/// Pings remembered while waiting for pongs; older ones are given up on.
const OUTSTANDING: usize = 8;

/// Where a pong leaves the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pong {
    /// It answered one of our pings after this many milliseconds.
    Answered { rtt_ms: u64 },
    /// Its nonce is not one we are waiting for (a late pong to a forgotten ping).
    Unknown,
}

#[derive(Debug, Clone)]
pub(crate) struct Liveness {
    waiting: VecDeque<(u64, Timestamp)>,
    last_pong: Timestamp,
    smoothed_ms: Option<u64>,
    samples: VecDeque<u64>,
    history: usize,
}

impl Liveness {
    /// Liveness of a peer that just finished its handshake at `now`: that counts as a
    /// pong, so missed pongs are counted from there.
    pub(crate) fn new(now: Timestamp, history: usize) -> Liveness {
        Liveness {
            waiting: VecDeque::with_capacity(OUTSTANDING),
            last_pong: now,
            smoothed_ms: None,
            samples: VecDeque::with_capacity(history),
            history,
        }
    }

    pub(crate) fn last_pong(&self) -> Timestamp {
        self.last_pong
    }

    pub(crate) fn smoothed_ms(&self) -> Option<u64> {
        self.smoothed_ms
    }

    pub(crate) fn samples(&self) -> &VecDeque<u64> {
        &self.samples
    }

    pub(crate) fn ping_sent(&mut self, nonce: u64, now: Timestamp) {
        if self.waiting.len() == OUTSTANDING {
            self.waiting.pop_front();
        }
        self.waiting.push_back((nonce, now));
    }

    pub(crate) fn pong(&mut self, nonce: u64, now: Timestamp) -> Pong {
        let Some(at) = self.waiting.iter().position(|(n, _)| *n == nonce) else {
            return Pong::Unknown;
        };
        let (_, sent) = self.waiting[at];
        // Pongs to earlier pings are not coming any more: the channel is ordered.
        self.waiting.drain(..=at);
        let rtt_ms = now.since(sent);
        self.last_pong = now;
        self.smoothed_ms = Some(match self.smoothed_ms {
            None => rtt_ms,
            Some(s) => (7 * s + rtt_ms) / 8,
        });
        if self.samples.len() == self.history {
            self.samples.pop_front();
        }
        if self.history > 0 {
            self.samples.push_back(rtt_ms);
        }
        Pong::Answered { rtt_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtt_is_measured_smoothed_and_kept() {
        let mut l = Liveness::new(Timestamp(0), 2);
        l.ping_sent(1, Timestamp(100));
        assert_eq!(l.pong(1, Timestamp(180)), Pong::Answered { rtt_ms: 80 });
        assert_eq!(l.pong(1, Timestamp(190)), Pong::Unknown, "answered once");
        l.ping_sent(2, Timestamp(200));
        l.ping_sent(3, Timestamp(300));
        assert_eq!(l.pong(3, Timestamp(340)), Pong::Answered { rtt_ms: 40 });
        assert_eq!(l.pong(2, Timestamp(350)), Pong::Unknown, "overtaken");
        assert_eq!(l.smoothed_ms(), Some((7 * 80 + 40) / 8));
        assert_eq!(l.last_pong(), Timestamp(340));
        l.ping_sent(4, Timestamp(400));
        l.pong(4, Timestamp(410));
        assert_eq!(l.samples().iter().copied().collect::<Vec<_>>(), [40, 10]);
    }
}
