//! Transactions waiting for a block: each valid against the UTXO set, none spending what
//! another spends, bounded in bytes, ordered by fee rate.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::block::Block;
use crate::tx::{OutPoint, Transaction, TxError, TxId};
use crate::utxo::{check_payment, SpendRules, UtxoSet};

/// Bytes of transactions a mempool holds by default: a few full blocks' worth.
pub const DEFAULT_MEMPOOL_BYTES: usize = 4 * 1024 * 1024;

/// Why a transaction was not taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    #[error("already in the mempool")]
    Duplicate,
    #[error("a coinbase only comes in a block")]
    Coinbase,
    #[error("the mempool is full of transactions paying a higher fee rate")]
    Full,
    #[error(transparent)]
    Invalid(#[from] TxError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MempoolEntry {
    pub tx: Transaction,
    pub fee: u64,
    pub size: usize,
    arrival: u64,
}

impl MempoolEntry {
    /// Higher fee per byte first, then earlier arrival.
    fn priority(&self, other: &MempoolEntry) -> Ordering {
        let mine = u128::from(self.fee) * other.size as u128;
        let theirs = u128::from(other.fee) * self.size as u128;
        mine.cmp(&theirs).then(other.arrival.cmp(&self.arrival))
    }
}

#[derive(Debug, Clone)]
pub struct Mempool {
    entries: HashMap<TxId, MempoolEntry>,
    /// Which transaction spends each outpoint: conflicts are found here.
    spends: HashMap<OutPoint, TxId>,
    bytes: usize,
    max_bytes: usize,
    arrivals: u64,
}

impl Mempool {
    pub fn new(max_bytes: usize) -> Mempool {
        Mempool {
            entries: HashMap::new(),
            spends: HashMap::new(),
            bytes: 0,
            max_bytes,
            arrivals: 0,
        }
    }

    // Getters.

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn contains(&self, txid: &TxId) -> bool {
        self.entries.contains_key(txid)
    }

    pub fn get(&self, txid: &TxId) -> Option<&MempoolEntry> {
        self.entries.get(txid)
    }

    /// Every waiting transaction with its id, in no order.
    pub fn entries(&self) -> impl Iterator<Item = (&TxId, &MempoolEntry)> {
        self.entries.iter()
    }

    /// Whether a waiting transaction already spends `outpoint`.
    pub fn spends(&self, outpoint: &OutPoint) -> bool {
        self.spends.contains_key(outpoint)
    }

    /// Entries, best fee rate first.
    pub fn by_priority(&self) -> Vec<&MempoolEntry> {
        let mut entries: Vec<_> = self.entries.values().collect();
        entries.sort_by(|a, b| b.priority(a));
        entries
    }

    // Commands.

    /// Validates `tx` against `utxo` and the waiting transactions, as a payment in the
    /// block `rules` describe (the next one), and takes it in, evicting lower fee rates
    /// if full.
    pub fn add(
        &mut self,
        tx: Transaction,
        utxo: &UtxoSet,
        rules: &SpendRules,
    ) -> Result<TxId, MempoolError> {
        let txid = tx.id();
        if self.entries.contains_key(&txid) {
            return Err(MempoolError::Duplicate);
        }
        if tx.is_coinbase() {
            return Err(MempoolError::Coinbase);
        }
        tx.check()?;
        let fee = check_payment(&tx, rules, |input, outpoint| {
            if self.spends.contains_key(outpoint) {
                return Err(TxError::DoubleSpend { input });
            }
            utxo.get(outpoint)
                .copied()
                .ok_or(TxError::MissingInput { input })
        })?;
        let entry = MempoolEntry {
            size: tx.encode().len(),
            tx,
            fee,
            arrival: self.arrivals,
        };
        self.make_room_for(&entry)?;
        self.arrivals += 1;
        self.bytes += entry.size;
        for input in &entry.tx.inputs {
            self.spends.insert(input.prev, txid);
        }
        self.entries.insert(txid, entry);
        Ok(txid)
    }

    fn make_room_for(&mut self, entry: &MempoolEntry) -> Result<(), MempoolError> {
        if entry.size > self.max_bytes {
            return Err(MempoolError::Full);
        }
        let mut evict = Vec::new();
        let mut freed = 0;
        let lowest_first = self.by_priority().into_iter().rev();
        for victim in lowest_first {
            if self.bytes - freed + entry.size <= self.max_bytes {
                break;
            }
            if victim.priority(entry) != Ordering::Less {
                return Err(MempoolError::Full);
            }
            freed += victim.size;
            evict.push(victim.tx.id());
        }
        for txid in evict {
            self.remove(&txid);
        }
        Ok(())
    }

    pub fn remove(&mut self, txid: &TxId) -> Option<MempoolEntry> {
        let entry = self.entries.remove(txid)?;
        self.bytes -= entry.size;
        for input in &entry.tx.inputs {
            self.spends.remove(&input.prev);
        }
        Some(entry)
    }

    /// Drops what `block` confirmed, and whatever spends a coin the block spent.
    pub fn remove_confirmed(&mut self, block: &Block) {
        for tx in &block.transactions {
            self.remove(&tx.id());
            for input in &tx.inputs {
                if let Some(conflict) = self.spends.get(&input.prev).copied() {
                    self.remove(&conflict);
                }
            }
        }
    }

    /// Empties the mempool, returning its transactions in arrival order.
    pub fn drain(&mut self) -> Vec<Transaction> {
        let mut entries: Vec<_> = self.entries.drain().map(|(_, e)| e).collect();
        entries.sort_by_key(|e| e.arrival);
        self.spends.clear();
        self.bytes = 0;
        entries.into_iter().map(|e| e.tx).collect()
    }
}
