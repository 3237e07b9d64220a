//! Compact blocks: how a block is pushed. A classroom block is a few hundred bytes,
//! most of it the header and the coinbase, and a peer that is pushed one already holds
//! its parent and, usually, its payments. So a push carries only what the receiver
//! cannot work out (BIP152's `cmpctblock`, cut further for blocks this small): the
//! header without its merkle root, which the transactions give, and with 8 bytes of
//! its parent's hash instead of 32; the coinbase; and 8 bytes of each payment's id,
//! for the receiver to find in its mempool. Payments the pusher has only just seen go
//! whole (BIP152's prefilled transactions): a payment travels by announce and fetch,
//! a round trip and a half per hop, and a block mined right after it, pushed at half a
//! round trip per hop, outruns it. The rebuilt header must meet its own difficulty, so
//! a wrong guess (a parent or payment that only shares the short id) is caught before
//! the block is checked as any other. A receiver that cannot rebuild one asks the
//! pusher for the whole block ([`crate::Message::GetPushed`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tabchain_core::{Block, Chain, Hash, Header, Mempool, Timestamp, Transaction, TxId};

/// How many blocks back from the tip of the active chain a compact block's parent is
/// looked for (side branches are searched too): a push is of a new block.
const PARENT_DEPTH: u64 = 8;

/// The first 8 bytes of a block hash or transaction id. Ids are not salted (BIP152
/// keys SipHash with the header): two payments whose ids share 8 bytes take some 2^32
/// signatures to find, and cost a block that carries one a round trip, not its validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShortId(pub [u8; 8]);

impl ShortId {
    pub fn of(hash: &Hash) -> ShortId {
        ShortId(hash.0[..8].try_into().expect("a hash has 32 bytes"))
    }
}

/// A block as it is pushed (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactBlock {
    pub version: u32,
    pub parent: ShortId,
    pub time: Timestamp,
    pub difficulty: u64,
    pub nonce: u64,
    pub coinbase: Transaction,
    /// The payments, in the block's order.
    pub payments: Vec<Payment>,
}

/// A payment in a compact block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payment {
    /// For the receiver to find in its mempool.
    Short(ShortId),
    /// One the receiver may not have yet.
    Whole(Transaction),
}

/// Names a pushed block to its pusher before the receiver knows its hash: the header's
/// time and nonce, which the compact form carries whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PushKey {
    pub time: Timestamp,
    pub nonce: u64,
}

impl PushKey {
    pub fn of(header: &Header) -> PushKey {
        PushKey {
            time: header.time,
            nonce: header.nonce,
        }
    }
}

/// Why a compact block could not be rebuilt here. None of these is the pusher's fault:
/// the receiver asks it for the whole block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RebuildError {
    #[error("its parent is not among the last blocks here")]
    UnknownParent,
    #[error("{0} of its payments are not in the mempool here")]
    MissingPayments(usize),
    #[error("the rebuilt header misses its difficulty: a short id matched something else")]
    Mismatch,
}

impl CompactBlock {
    /// The compact form of `block`, with the payments `whole` picks sent whole; none for
    /// a block without transactions, which no valid block is.
    pub fn of(block: &Block, whole: impl Fn(&TxId) -> bool) -> Option<CompactBlock> {
        let (coinbase, payments) = block.transactions.split_first()?;
        let header = &block.header;
        Some(CompactBlock {
            version: header.version,
            parent: ShortId::of(&header.prev),
            time: header.time,
            difficulty: header.difficulty,
            nonce: header.nonce,
            coinbase: coinbase.clone(),
            payments: payments
                .iter()
                .map(|tx| {
                    let txid = tx.id();
                    if whole(&txid) {
                        Payment::Whole(tx.clone())
                    } else {
                        Payment::Short(ShortId::of(&txid))
                    }
                })
                .collect(),
        })
    }

    pub fn key(&self) -> PushKey {
        PushKey {
            time: self.time,
            nonce: self.nonce,
        }
    }

    /// The block, from the parent in `chain` and the payments in `mempool` that the
    /// short ids name; or the block `chain` holds already, whose payments have left
    /// the mempool.
    pub fn rebuild(&self, chain: &Chain, mempool: &Mempool) -> Result<Block, RebuildError> {
        let prev = self.find_parent(chain).ok_or(RebuildError::UnknownParent)?;
        if let Some(held) = self.find_held(chain, &prev) {
            return Ok(held.clone());
        }
        let mut transactions = Vec::with_capacity(1 + self.payments.len());
        transactions.push(self.coinbase.clone());
        let short = |p: &Payment| matches!(p, Payment::Short(_));
        let waiting: HashMap<ShortId, &Transaction> = if self.payments.iter().any(short) {
            mempool
                .entries()
                .map(|(txid, entry)| (ShortId::of(txid), &entry.tx))
                .collect()
        } else {
            HashMap::new()
        };
        let mut missing = 0;
        for payment in &self.payments {
            let found = match payment {
                Payment::Short(id) => waiting.get(id).copied(),
                Payment::Whole(tx) => Some(tx),
            };
            match found {
                Some(tx) => transactions.push(tx.clone()),
                None => missing += 1,
            }
        }
        if missing > 0 {
            return Err(RebuildError::MissingPayments(missing));
        }
        let header = Header {
            version: self.version,
            prev,
            merkle_root: Block::merkle_root_of(&transactions),
            time: self.time,
            difficulty: self.difficulty,
            nonce: self.nonce,
        };
        if !header.meets_difficulty() {
            return Err(RebuildError::Mismatch);
        }
        Ok(Block {
            header,
            transactions,
        })
    }

    /// A block `chain` stores on `prev` with this one's time and nonce.
    fn find_held<'c>(&self, chain: &'c Chain, prev: &Hash) -> Option<&'c Block> {
        let height = chain.height_of(prev)? + 1;
        chain
            .hash_at(height)
            .into_iter()
            .chain(chain.side_blocks().copied())
            .filter_map(|hash| chain.block(&hash))
            .find(|block| block.header.prev == *prev && PushKey::of(&block.header) == self.key())
    }

    fn find_parent(&self, chain: &Chain) -> Option<Hash> {
        let height = chain.height();
        (height.saturating_sub(PARENT_DEPTH)..=height)
            .rev()
            .filter_map(|h| chain.hash_at(h))
            .chain(chain.side_blocks().copied())
            .find(|hash| ShortId::of(hash) == self.parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::{Ledger, Params, SecretKey, Wallet};

    /// A second after the tip: blocks a second apart.
    fn next_second(ledger: &Ledger) -> Timestamp {
        ledger.chain().tip_header().time.saturating_add(1_000)
    }

    fn mine(ledger: &mut Ledger, key: &SecretKey) {
        let now = next_second(ledger);
        let mut block = ledger.template(key.public_key().address(), now);
        assert!(tabchain_core::pow::solve(&mut block.header));
        ledger.submit_block(block, now).unwrap();
    }

    /// A ledger whose first coinbase can be spent, with a payment of it waiting, and
    /// the block that mines that payment (not submitted).
    fn with_a_payment() -> (Ledger, Block) {
        let key = SecretKey::from_seed([3; 32]);
        let mut ledger = Ledger::new(Params::for_tests("compact"));
        for _ in 0..=ledger.chain().params().coinbase_maturity {
            mine(&mut ledger, &key);
        }
        let wallet = Wallet::new(key.clone());
        let coins = ledger.spendable(&wallet.address());
        let genesis = ledger.chain().genesis_hash();
        let to = SecretKey::from_seed([4; 32]).public_key().address();
        let pay = wallet.pay(&coins, to, 5, 1, &genesis).unwrap();
        ledger.submit_tx(pay).unwrap();
        let mut block = ledger.template(key.public_key().address(), next_second(&ledger));
        assert!(tabchain_core::pow::solve(&mut block.header));
        assert_eq!(block.transactions.len(), 2, "the payment is in the block");
        (ledger, block)
    }

    #[test]
    fn a_block_rebuilds_from_its_parent_and_the_mempool_at_a_third_of_its_bytes() {
        let (ledger, block) = with_a_payment();
        let compact = CompactBlock::of(&block, |_| false).unwrap();
        assert_eq!(
            compact.rebuild(ledger.chain(), ledger.mempool()),
            Ok(block.clone())
        );
        let bytes = crate::Message::CompactBlock(compact).encode().len();
        assert!(
            bytes * 3 < crate::Message::block_frame(&block).len(),
            "{bytes}"
        );
    }

    #[test]
    fn what_cannot_be_rebuilt_is_named() {
        let (ledger, block) = with_a_payment();
        let compact = CompactBlock::of(&block, |_| false).unwrap();
        let mut orphan = compact.clone();
        orphan.parent = ShortId([0; 8]);
        assert_eq!(
            orphan.rebuild(ledger.chain(), ledger.mempool()),
            Err(RebuildError::UnknownParent)
        );
        let mut unknown = compact.clone();
        unknown.payments[0] = Payment::Short(ShortId([9; 8]));
        assert_eq!(
            unknown.rebuild(ledger.chain(), ledger.mempool()),
            Err(RebuildError::MissingPayments(1))
        );
        // Another nonce: the same transactions, a header that misses its difficulty.
        let mut wrong = compact;
        wrong.nonce += 1;
        while (Header {
            nonce: wrong.nonce,
            ..block.header
        })
        .meets_difficulty()
        {
            wrong.nonce += 1;
        }
        assert_eq!(
            wrong.rebuild(ledger.chain(), ledger.mempool()),
            Err(RebuildError::Mismatch)
        );
    }

    #[test]
    fn a_payment_sent_whole_needs_no_mempool() {
        let (mut ledger, block) = with_a_payment();
        let compact = CompactBlock::of(&block, |_| true).unwrap();
        assert!(matches!(compact.payments[..], [Payment::Whole(_)]));
        // The payment mined: the mempool is empty. Its block's twin (another nonce, the
        // same parent and payment) rebuilds only from a whole payment.
        ledger
            .submit_block(block.clone(), block.header.time)
            .unwrap();
        assert_eq!(ledger.mempool().len(), 0);
        let mut twin = block.clone();
        twin.header.nonce += 1;
        while !twin.header.meets_difficulty() {
            twin.header.nonce += 1;
        }
        let compact = CompactBlock::of(&twin, |_| true).unwrap();
        assert_eq!(
            compact.rebuild(ledger.chain(), ledger.mempool()),
            Ok(twin.clone())
        );
        let short = CompactBlock::of(&twin, |_| false).unwrap();
        assert_eq!(
            short.rebuild(ledger.chain(), ledger.mempool()),
            Err(RebuildError::MissingPayments(1))
        );
    }
}
