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
    /// One `GetData` naming an item twice, or asking again for what it was just sent.
    #[error("asked again for what it was sent")]
    RepeatedRequest,
    /// More requests waiting to be served than any honest peer has outstanding, or
    /// `GetPeers` faster than any honest peer asks.
    #[error("sent {0:?} past its request budget")]
    RequestFlood(MessageKind),
    /// Announced transactions, then said `NotFound` more often than a race with a block
    /// explains (gossipsub's broken promises, P7).
    #[error("announced what it then did not have, too often")]
    BrokenPromises,
    /// Claimed a chain and then did not show it: no headers, or fewer than it claimed.
    #[error("claimed a better chain than the headers it sent")]
    EmptyPromise,
    /// Sent `Peers` unasked faster than any honest peer lists its links.
    #[error("sent peer lists past its budget")]
    PeersFlood,
    /// A block whose parent we lack, with less work than any chain we could be shown
    /// would demand there.
    #[error("sent an orphan block below the lowest difficulty the chain allows")]
    LowWorkOrphan,
    /// Sent more blocks of branches too light to store than a healing partition needs.
    #[error("sent side-branch blocks past its budget")]
    SideBranchFlood,
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
            | Misbehaviour::RelayFlood
            | Misbehaviour::RequestFlood(MessageKind::GetData)
            | Misbehaviour::LowWorkOrphan => 100,
            Misbehaviour::RequestFlood(_)
            | Misbehaviour::RepeatedRequest
            | Misbehaviour::BrokenPromises
            | Misbehaviour::EmptyPromise
            | Misbehaviour::PeersFlood
            | Misbehaviour::SideBranchFlood => 20,
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

/// Bytes a peer may make us send on its requests (Bitcoin Core serves `getdata` only
/// while the peer's send buffer has room, `ProcessGetData`; a sans-IO node has no send
/// buffer, so the room refills with time instead). A reply may overdraw it; the next
/// waits until the debt is paid back.
#[derive(Debug, Clone)]
pub(crate) struct ByteBudget {
    /// Bytes allowed now, times 1000; negative while a reply's overdraft is paid back.
    milli_bytes: i128,
    burst: i128,
    per_sec: i128,
    at: Timestamp,
}

impl ByteBudget {
    pub(crate) fn new(burst: u64, per_sec: u64, now: Timestamp) -> ByteBudget {
        ByteBudget {
            milli_bytes: i128::from(burst) * 1000,
            burst: i128::from(burst) * 1000,
            per_sec: i128::from(per_sec.max(1)),
            at: now,
        }
    }

    fn refill(&mut self, now: Timestamp) {
        let refill = i128::from(now.since(self.at)) * self.per_sec;
        self.milli_bytes = (self.milli_bytes + refill).min(self.burst);
        self.at = self.at.max(now);
    }

    /// Whether a reply may go out now.
    pub(crate) fn ready(&mut self, now: Timestamp) -> bool {
        self.refill(now);
        self.milli_bytes > 0
    }

    pub(crate) fn spend(&mut self, bytes: usize) {
        self.milli_bytes -= bytes as i128 * 1000;
    }

    /// When the next reply may go out.
    pub(crate) fn ready_at(&self) -> Timestamp {
        let owed = (-self.milli_bytes).max(0);
        let ms = owed / self.per_sec + 1;
        self.at
            .saturating_add(u64::try_from(ms).unwrap_or(u64::MAX))
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
