//! Misbehaviour: what a peer can do wrong, how many points each costs, and the rate
//! budgets whose overrun counts as flooding. A peer whose points reach
//! [`crate::Config::score_limit`] is dropped with the reason that tipped it over.

use tabchain_core::{BlockError, MempoolError, Timestamp};

use crate::message::{DecodeError, MessageKind};

/// A named wrong a peer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Misbehaviour {
    #[error("sent a frame that does not decode: {0}")]
    Undecodable(DecodeError),
    /// A message its state does not allow: anything but the handshake before it is done,
    /// a second `Version`, a `Verack` before its `Version`.
    #[error("sent {0:?} out of turn")]
    OutOfTurn(MessageKind),
    #[error("sent an invalid block: {0}")]
    InvalidBlock(BlockError),
    #[error("sent headers that do not chain or lack proof of work")]
    InvalidHeaders,
    #[error("sent an invalid transaction: {0}")]
    InvalidTx(MempoolError),
    #[error("sent {0:?} nobody asked for")]
    UnrequestedData(MessageKind),
    #[error("announced more than its inventory budget")]
    InvFlood,
    #[error("did not deliver what it was asked for")]
    Withheld,
    #[error("relayed a signal under another sender's name")]
    BadRelay,
    #[error("relayed more signals than its budget")]
    RelayFlood,
}

impl Misbehaviour {
    /// Points added to the peer's score. 100 (the default limit) is for what an honest
    /// node never does; less for what a slow or unlucky honest node might.
    pub fn penalty(self) -> u32 {
        match self {
            Misbehaviour::Undecodable(_)
            | Misbehaviour::OutOfTurn(_)
            | Misbehaviour::InvalidBlock(_)
            | Misbehaviour::InvalidHeaders
            | Misbehaviour::InvFlood
            | Misbehaviour::BadRelay
            | Misbehaviour::RelayFlood => 100,
            Misbehaviour::InvalidTx(_) => 50,
            Misbehaviour::UnrequestedData(_) => 25,
            Misbehaviour::Withheld => 20,
        }
    }
}

/// A token bucket: `burst` tokens at most, refilled at `per_sec`, counted in node time.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    /// Tokens times 1000, so that a refill of a fraction of a token per millisecond
    /// adds up exactly.
    milli_tokens: u64,
    burst: u64,
    per_sec: u64,
    at: Timestamp,
}

impl Budget {
    pub(crate) fn new(burst: u32, per_sec: u32, now: Timestamp) -> Budget {
        Budget {
            milli_tokens: u64::from(burst) * 1000,
            burst: u64::from(burst) * 1000,
            per_sec: u64::from(per_sec),
            at: now,
        }
    }

    /// Takes `n` tokens if there are that many.
    pub(crate) fn take(&mut self, n: usize, now: Timestamp) -> bool {
        let refill = now.since(self.at).saturating_mul(self.per_sec);
        self.milli_tokens = self.milli_tokens.saturating_add(refill).min(self.burst);
        self.at = self.at.max(now);
        let cost = (n as u64).saturating_mul(1000);
        if cost > self.milli_tokens {
            return false;
        }
        self.milli_tokens -= cost;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_allows_its_burst_then_its_rate() {
        let mut b = Budget::new(10, 2, Timestamp(0));
        assert!(b.take(10, Timestamp(0)));
        assert!(!b.take(1, Timestamp(0)));
        assert!(!b.take(1, Timestamp(499)));
        assert!(b.take(1, Timestamp(500)));
        assert!(b.take(10, Timestamp(100_000)));
        assert!(!b.take(1, Timestamp(100_000)), "refill stops at the burst");
    }
}
