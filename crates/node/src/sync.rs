//! Header-first sync: headers are fetched from one peer at a time (cheap, and they show
//! at once how far behind this node is); the blocks they name are then fetched from
//! every peer that has them, a window at a time so that the chain's orphan pool can hold
//! whatever arrives out of order.

use std::collections::{BTreeSet, HashMap};

use tabchain_core::{BlockError, Chain, Hash, Header, HeaderContext, NodeId, Timestamp};

/// Why a `Headers` reply was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeadersError {
    #[error("the first header's parent is neither stored nor the last header taken in")]
    UnknownStart,
    #[error("header {0} does not follow the one before it")]
    Broken(usize),
    /// Checked in context: the difficulty its ancestry requires, proof of work, time. A
    /// header's own claim of difficulty is not enough: a branch of self-declared
    /// difficulty 1 would cost nothing to make.
    #[error("header {0}: {1}")]
    Invalid(usize, BlockError),
}

/// Most headers kept pending: a sync stops asking for more past it (a classroom chain
/// is far shorter; it bounds what a peer with cheap proof of work can make us hold).
const MAX_PENDING: usize = 100_000;

#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderSync {
    /// The peer whose `Headers` we are waiting for.
    peer: Option<NodeId>,
    /// Headers whose blocks are not stored yet: their heights.
    pending: HashMap<Hash, u64>,
    /// The same, in height order; those within the window are being fetched.
    by_height: BTreeSet<(u64, Hash)>,
    /// What the header after the last one taken in must satisfy, so that the next batch
    /// of a long sync is checked in context too.
    last: Option<HeaderContext>,
}

impl HeaderSync {
    pub(crate) fn peer(&self) -> Option<NodeId> {
        self.peer
    }

    pub(crate) fn start(&mut self, peer: NodeId) {
        self.peer = Some(peer);
    }

    pub(crate) fn stop(&mut self) {
        self.peer = None;
    }

    /// The highest header known: what the UI shows sync progress against.
    pub(crate) fn target(&self) -> Option<u64> {
        self.by_height.last().map(|(height, _)| *height)
    }

    /// Whether more headers may be taken in.
    pub(crate) fn has_room(&self) -> bool {
        self.pending.len() < MAX_PENDING
    }

    /// Whether this header is pending (its block is not stored yet).
    pub(crate) fn has(&self, hash: &Hash) -> bool {
        self.pending.contains_key(hash)
    }

    /// Takes in a `Headers` reply. Every header must follow the one before, and the
    /// first a stored block or the last header taken in; each is checked in its place
    /// (difficulty, proof of work, time). Returns the last header's hash and height, if
    /// any.
    pub(crate) fn add_headers(
        &mut self,
        headers: &[Header],
        chain: &Chain,
        now: Timestamp,
    ) -> Result<Option<(Hash, u64)>, HeadersError> {
        let Some(first) = headers.first() else {
            return Ok(None);
        };
        if let Some(i) = (1..headers.len()).find(|&i| headers[i].prev != headers[i - 1].hash()) {
            return Err(HeadersError::Broken(i));
        }
        let context = if chain.header_context(&first.prev).is_some() {
            chain
                .check_headers(headers, now)
                .map_err(|(i, error)| HeadersError::Invalid(i, error))?
                .expect("headers is not empty")
        } else {
            let mut context = self
                .last
                .clone()
                .filter(|last| last.hash() == first.prev)
                .ok_or(HeadersError::UnknownStart)?;
            context
                .extend_all(chain.params(), headers, now)
                .map_err(|(i, error)| HeadersError::Invalid(i, error))?;
            context
        };
        let (prev, mut height) = (context.hash(), context.height() - headers.len() as u64);
        self.last = Some(context);
        for header in headers {
            height += 1;
            let hash = header.hash();
            if !chain.knows(&hash) && self.pending.insert(hash, height).is_none() {
                self.by_height.insert((height, hash));
            }
        }
        Ok(Some((prev, height)))
    }

    /// A block arrived (or was refused): its header is no longer pending.
    pub(crate) fn block_done(&mut self, hash: &Hash) {
        if let Some(height) = self.pending.remove(hash) {
            self.by_height.remove(&(height, *hash));
        }
    }

    /// Nobody delivered this pending block: forget it and every pending header at its
    /// height or above, which cannot connect without it. Headers of a branch that does
    /// exist come back with the next sync.
    pub(crate) fn block_lost(&mut self, hash: &Hash) {
        let Some(height) = self.pending.get(hash).copied() else {
            return;
        };
        let lost = self.by_height.split_off(&(height, Hash::ZERO));
        for (_, hash) in lost {
            self.pending.remove(&hash);
        }
    }

    /// Pending blocks within `window` of `tip_height`, lowest first, to be fetched.
    pub(crate) fn in_window(&self, tip_height: u64, window: u64) -> Vec<(u64, Hash)> {
        self.by_height
            .range(..=(tip_height.saturating_add(window), Hash([0xff; 32])))
            .copied()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::{pow, Params};

    const NOW: Timestamp = Timestamp(tabchain_core::params::GENESIS_TIME.0 + 3_600_000);

    /// `count` headers on the chain's tip as an honest miner makes them: the difficulty
    /// each place requires, a block time apart. `cheat` sets every difficulty instead.
    fn headers_on(chain: &Chain, count: usize, cheat: Option<u64>) -> Vec<Header> {
        let mut context = chain.header_context(&chain.tip()).unwrap();
        let mut prev = chain.tip();
        let start = tabchain_core::params::GENESIS_TIME.0;
        (0..count)
            .map(|i| {
                let mut header = Header {
                    version: Header::VERSION,
                    prev,
                    merkle_root: Hash::digest(&[i as u8]),
                    time: Timestamp(start + (i as u64 + 1) * chain.params().target_block_ms),
                    difficulty: cheat.unwrap_or_else(|| context.next_difficulty(chain.params())),
                    nonce: 0,
                };
                assert!(pow::solve(&mut header));
                if cheat.is_none() {
                    context.extend(chain.params(), &header, NOW).unwrap();
                }
                prev = header.hash();
                header
            })
            .collect()
    }

    #[test]
    fn headers_must_chain_from_something_known() {
        let chain = Chain::new(Params::for_tests("sync"));
        let headers = headers_on(&chain, 5, None);
        let mut sync = HeaderSync::default();
        assert_eq!(
            sync.add_headers(&headers[1..], &chain, NOW),
            Err(HeadersError::UnknownStart)
        );
        let mut broken = headers.clone();
        broken.swap(2, 3);
        assert_eq!(
            sync.add_headers(&broken, &chain, NOW),
            Err(HeadersError::Broken(2))
        );
        assert_eq!(
            sync.add_headers(&headers[..3], &chain, NOW),
            Ok(Some((headers[2].hash(), 3)))
        );
        // A later batch continues from the last header taken in.
        assert_eq!(
            sync.add_headers(&headers[3..], &chain, NOW),
            Ok(Some((headers[4].hash(), 5)))
        );
        assert_eq!(sync.target(), Some(5));
        let window: Vec<u64> = sync.in_window(0, 2).iter().map(|(h, _)| *h).collect();
        assert_eq!(window, [1, 2]);
        sync.block_done(&headers[0].hash());
        assert_eq!(sync.in_window(1, 1).len(), 1);
        sync.block_lost(&headers[2].hash());
        assert_eq!(sync.target(), Some(2), "nothing above a lost block stays");
        assert!(sync.has(&headers[1].hash()) && !sync.has(&headers[4].hash()));
    }

    #[test]
    fn a_header_of_self_declared_low_difficulty_is_refused() {
        // Tried: a peer answers GetHeaders with headers that meet the difficulty they
        // claim, 1, instead of what their place in the chain requires: a branch that
        // costs one hash a header. Each header's own proof of work passes; in context,
        // the first fails, and so does a later batch that tries to go on from it.
        let chain = Chain::new(Params {
            initial_difficulty: 64,
            ..Params::for_tests("sync")
        });
        let cheap = headers_on(&chain, 3, Some(1));
        assert!(cheap.iter().all(Header::meets_difficulty));
        let mut sync = HeaderSync::default();
        let refused = sync.add_headers(&cheap, &chain, NOW);
        assert!(
            matches!(
                refused,
                Err(HeadersError::Invalid(0, BlockError::BadDifficulty { .. }))
            ),
            "{refused:?}"
        );
        assert_eq!(sync.target(), None, "nothing of it is pending");
        assert_eq!(
            sync.add_headers(&cheap[1..], &chain, NOW),
            Err(HeadersError::UnknownStart)
        );
    }
}
