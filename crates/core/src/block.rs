//! Blocks: a header and its transactions, the merkle root that binds them, and the
//! rules a block must meet on its own (checked before it is placed in the chain).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::header::Header;
use crate::tx::{Transaction, TxError, TxId};

/// Most bytes one block may take.
pub const MAX_BLOCK_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub header: Header,
    /// The coinbase first, then payments.
    pub transactions: Vec<Transaction>,
}

/// A rule a block breaks: on its own ([`Block::check`]), in its place in the chain
/// ([`crate::chain`]), or against the coins it spends ([`crate::utxo`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("block hash does not meet its difficulty")]
    BadPow,
    #[error("block is {size} bytes, more than {max}")]
    TooLarge { size: usize, max: usize },
    #[error("block has no transactions")]
    NoTransactions,
    #[error("the first transaction is not a coinbase")]
    NoCoinbase,
    #[error("transaction {index} is a second coinbase")]
    UnexpectedCoinbase { index: usize },
    #[error("transaction {index} appears twice")]
    DuplicateTx { index: usize },
    #[error("merkle root does not match the transactions")]
    BadMerkleRoot,
    #[error("unknown header version {0}")]
    BadVersion(u32),
    #[error("transaction {index}: {error}")]
    Tx { index: usize, error: TxError },
    #[error("the parent block is unknown")]
    UnknownParent,
    #[error("the parent block is invalid")]
    InvalidParent,
    #[error("difficulty is {got}, the chain requires {expected}")]
    BadDifficulty { expected: u64, got: u64 },
    #[error("time is not after the median of the previous blocks")]
    TimeTooOld,
    #[error("time is too far in the future")]
    TimeTooNew,
    #[error("coinbase says height {got}, the block is at {expected}")]
    BadCoinbaseHeight { expected: u64, got: u64 },
    #[error("coinbase pays {paid}, more than reward and fees of {allowed}")]
    CoinbaseTooLarge { paid: u64, allowed: u64 },
}

impl Block {
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("encoding into a Vec cannot fail")
    }

    pub fn coinbase(&self) -> Option<&Transaction> {
        self.transactions.first()
    }

    /// The merkle root of these transactions' ids. An odd node is carried up unpaired
    /// rather than paired with itself, so no two lists of transactions share a root.
    pub fn merkle_root_of(transactions: &[Transaction]) -> Hash {
        merkle_root(transactions.iter().map(Transaction::id).collect())
    }

    /// The rules that need nothing but the block, cheapest first: a junk block costs one
    /// hash (proof of work) before anything heavier runs.
    pub fn check(&self) -> Result<(), BlockError> {
        if !self.header.meets_difficulty() {
            return Err(BlockError::BadPow);
        }
        if self.header.version != Header::VERSION {
            return Err(BlockError::BadVersion(self.header.version));
        }
        let size = self.encode().len();
        if size > MAX_BLOCK_BYTES {
            return Err(BlockError::TooLarge {
                size,
                max: MAX_BLOCK_BYTES,
            });
        }
        match self.transactions.first() {
            None => return Err(BlockError::NoTransactions),
            Some(first) if !first.is_coinbase() => return Err(BlockError::NoCoinbase),
            Some(_) => {}
        }
        if let Some(index) = self
            .transactions
            .iter()
            .skip(1)
            .position(|tx| tx.is_coinbase())
        {
            return Err(BlockError::UnexpectedCoinbase { index: index + 1 });
        }
        let ids: Vec<TxId> = self.transactions.iter().map(Transaction::id).collect();
        let mut seen = HashSet::with_capacity(ids.len());
        if let Some(index) = ids.iter().position(|id| !seen.insert(*id)) {
            return Err(BlockError::DuplicateTx { index });
        }
        if merkle_root(ids) != self.header.merkle_root {
            return Err(BlockError::BadMerkleRoot);
        }
        for (index, tx) in self.transactions.iter().enumerate() {
            tx.check()
                .map_err(|error| BlockError::Tx { index, error })?;
        }
        Ok(())
    }
}

fn merkle_root(mut level: Vec<Hash>) -> Hash {
    if level.is_empty() {
        return Hash::ZERO;
    }
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// One level up the merkle tree: each pair hashed together, an odd last hash carried up
/// as it is.
fn next_level(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => Hash::digest_parts(&[&left.0, &right.0]),
            [odd] => *odd,
            _ => unreachable!("chunks(2) yields one or two"),
        })
        .collect()
}

/// One step from a transaction's id up to the merkle root: the hash it is paired with
/// at that level (none when it is the odd one out and carried up as it is), and on which
/// side that hash goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MerkleStep {
    pub sibling: Option<Hash>,
    /// The sibling goes first: the step hashes `sibling ‖ ours`.
    pub sibling_left: bool,
}

impl MerkleStep {
    /// The hash one level up.
    pub fn apply(&self, ours: Hash) -> Hash {
        match (self.sibling, self.sibling_left) {
            (None, _) => ours,
            (Some(sibling), true) => Hash::digest_parts(&[&sibling.0, &ours.0]),
            (Some(sibling), false) => Hash::digest_parts(&[&ours.0, &sibling.0]),
        }
    }
}

impl Block {
    /// The path of hashes from transaction `index`'s id up to the merkle root: what
    /// proves the transaction is in the block to someone holding only its header.
    pub fn merkle_proof(&self, index: usize) -> Option<Vec<MerkleStep>> {
        let mut level: Vec<Hash> = self.transactions.iter().map(Transaction::id).collect();
        if index >= level.len() {
            return None;
        }
        let mut at = index;
        let mut steps = Vec::new();
        while level.len() > 1 {
            let sibling = at ^ 1;
            steps.push(MerkleStep {
                sibling: level.get(sibling).copied(),
                sibling_left: sibling < at,
            });
            level = next_level(&level);
            at /= 2;
        }
        Some(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use crate::params::Params;
    use crate::tx::Output;

    fn block_with(transactions: Vec<Transaction>) -> Block {
        let mut block = Params::for_tests("t").genesis();
        block.header.merkle_root = Block::merkle_root_of(&transactions);
        block.transactions = transactions;
        block
    }

    fn coinbase(height: u64) -> Transaction {
        let address = SecretKey::from_seed([1; 32]).public_key().address();
        Transaction::coinbase(height, vec![Output { value: 5, address }])
    }

    #[test]
    fn every_transaction_proves_its_way_to_the_root() {
        let key = SecretKey::from_seed([5; 32]);
        for count in 1..=7u64 {
            let transactions: Vec<Transaction> = (0..count)
                .map(|n| {
                    Transaction::coinbase(
                        n,
                        vec![Output {
                            value: n,
                            address: key.public_key().address(),
                        }],
                    )
                })
                .collect();
            let block = block_with(transactions);
            for (index, tx) in block.transactions.iter().enumerate() {
                let proof = block.merkle_proof(index).unwrap();
                let root = proof.iter().fold(tx.id(), |hash, step| step.apply(hash));
                assert_eq!(
                    root, block.header.merkle_root,
                    "{count} transactions, #{index}"
                );
            }
            assert_eq!(block.merkle_proof(count as usize), None);
        }
    }

    #[test]
    fn merkle_root_commits_to_order_and_count() {
        let (a, b, c) = (coinbase(1), coinbase(2), coinbase(3));
        let abc = Block::merkle_root_of(&[a.clone(), b.clone(), c.clone()]);
        assert_ne!(
            abc,
            Block::merkle_root_of(&[b.clone(), a.clone(), c.clone()])
        );
        assert_ne!(
            abc,
            Block::merkle_root_of(&[a.clone(), b.clone(), c.clone(), c.clone()])
        );
        assert_eq!(Block::merkle_root_of(std::slice::from_ref(&a)), a.id());
    }

    #[test]
    fn each_block_rule_names_itself() {
        assert_eq!(block_with(vec![coinbase(1)]).check(), Ok(()));

        let mut b = block_with(vec![coinbase(1)]);
        b.header.difficulty = u64::MAX;
        assert_eq!(b.check(), Err(BlockError::BadPow));

        let mut b = block_with(vec![coinbase(1)]);
        b.header.version = 2;
        assert_eq!(b.check(), Err(BlockError::BadVersion(2)));

        assert_eq!(block_with(vec![]).check(), Err(BlockError::NoTransactions));

        let b = block_with(vec![coinbase(1), coinbase(2)]);
        assert_eq!(b.check(), Err(BlockError::UnexpectedCoinbase { index: 1 }));

        let mut b = block_with(vec![coinbase(1)]);
        b.transactions[0].outputs[0].value = 6;
        assert_eq!(b.check(), Err(BlockError::BadMerkleRoot));

        let mut cb = coinbase(1);
        cb.outputs[0].value = 0;
        assert_eq!(
            block_with(vec![cb]).check(),
            Err(BlockError::Tx {
                index: 0,
                error: TxError::ZeroValue { output: 0 }
            })
        );

        let big = Transaction::coinbase(1, vec![coinbase(1).outputs[0]; 60_000]);
        assert!(matches!(
            block_with(vec![big]).check(),
            Err(BlockError::TooLarge { .. })
        ));
    }
}
