//! A node's whole ledger: the chain and the mempool kept in step (confirmed transactions
//! leave the mempool; a reorg's orphaned ones come back), block templates for miners,
//! and balances for wallets.

use crate::block::{Block, BlockError, MAX_BLOCK_BYTES};
use crate::chain::{Accepted, Chain, LoadReport, TipChange};
use crate::hash::Hash;
use crate::header::Header;
use crate::keys::Address;
use crate::mempool::{Mempool, MempoolError, DEFAULT_MEMPOOL_BYTES};
use crate::params::Params;
use crate::time::Timestamp;
use crate::tx::{OutPoint, Output, Transaction, TxId};
use crate::utxo::{Signatures, Utxo};

/// Room left in a template for the header, the coinbase and the encoding's lengths.
const TEMPLATE_OVERHEAD: usize = 1024;

/// What an address holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Balance {
    /// In coins on the active chain that the next block may spend.
    pub confirmed: u64,
    /// In coinbase coins on the active chain that are not spendable yet (see
    /// [`Params::coinbase_maturity`]).
    pub maturing: u64,
    /// Of those, spent by transactions still waiting for a block.
    pub pending_out: u64,
    /// Paid to it by transactions still waiting for a block.
    pub pending_in: u64,
}

#[derive(Debug, Clone)]
pub struct Ledger {
    chain: Chain,
    mempool: Mempool,
}

impl Ledger {
    pub fn new(params: Params) -> Ledger {
        Ledger {
            chain: Chain::new(params),
            mempool: Mempool::new(DEFAULT_MEMPOOL_BYTES),
        }
    }

    // Getters.

    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    pub fn mempool(&self) -> &Mempool {
        &self.mempool
    }

    /// `address`'s coins that the next block may spend and no waiting transaction spends
    /// yet, oldest first.
    pub fn spendable(&self, address: &Address) -> Vec<(OutPoint, Utxo)> {
        let rules = self.chain.next_spend_rules();
        let mut coins = self.chain.utxo().coins_of(address);
        coins.retain(|(outpoint, coin)| {
            coin.spendable_at(rules.maturity) <= rules.height && !self.mempool.spends(outpoint)
        });
        coins
    }

    pub fn balance(&self, address: &Address) -> Balance {
        let rules = self.chain.next_spend_rules();
        let mut balance = Balance::default();
        for (outpoint, coin) in self.chain.utxo().coins_of(address) {
            if coin.spendable_at(rules.maturity) > rules.height {
                balance.maturing += coin.output.value;
                continue;
            }
            balance.confirmed += coin.output.value;
            if self.mempool.spends(&outpoint) {
                balance.pending_out += coin.output.value;
            }
        }
        for entry in self.mempool.by_priority() {
            balance.pending_in += entry
                .tx
                .outputs
                .iter()
                .filter(|o| o.address == *address)
                .map(|o| o.value)
                .sum::<u64>();
        }
        balance
    }

    /// A block for a miner to solve on the current tip: the best-paying waiting
    /// transactions, a coinbase paying `pay_to` the reward and their fees, the required
    /// difficulty, and nonce zero.
    pub fn template(&self, pay_to: Address, now: Timestamp) -> Block {
        let tip = self.chain.tip();
        let height = self.chain.height() + 1;
        let median = self
            .chain
            .median_time_past(&tip)
            .expect("the tip is stored");
        let mut payments = Vec::new();
        let mut fees = 0u64;
        let mut room = MAX_BLOCK_BYTES - TEMPLATE_OVERHEAD;
        for entry in self.mempool.by_priority() {
            if entry.size <= room {
                room -= entry.size;
                fees += entry.fee;
                payments.push(entry.tx.clone());
            }
        }
        let coinbase = Transaction::coinbase(
            height,
            vec![Output {
                value: self.chain.params().block_reward + fees,
                address: pay_to,
            }],
        );
        let mut transactions = vec![coinbase];
        transactions.extend(payments);
        Block {
            header: Header {
                version: Header::VERSION,
                prev: tip,
                merkle_root: Block::merkle_root_of(&transactions),
                time: now.max(median.saturating_add(1)),
                difficulty: self.chain.next_difficulty(&tip).expect("the tip is stored"),
                nonce: 0,
            },
            transactions,
        }
    }

    // Commands.

    /// Hands `block` to the chain and brings the mempool in step with any tip change.
    pub fn submit_block(&mut self, block: Block, now: Timestamp) -> Result<Accepted, BlockError> {
        let accepted = self.chain.process_block(block, now)?;
        if let Accepted::Stored {
            tip_change: Some(change),
            ..
        } = &accepted
        {
            self.follow_tip(change);
        }
        Ok(accepted)
    }

    /// Loads blocks from storage through [`Chain::load_stored`] and brings the mempool
    /// in step with the tip it settles on.
    pub fn load_stored(
        &mut self,
        records: Vec<(Hash, Block)>,
        now: Timestamp,
        signatures: Signatures,
    ) -> LoadReport {
        let report = self.chain.load_stored(records, now, signatures);
        if let Some(change) = &report.tip_change {
            self.follow_tip(change);
        }
        report
    }

    pub fn submit_tx(&mut self, tx: Transaction) -> Result<TxId, MempoolError> {
        let txid = self
            .mempool
            .add(tx, self.chain.utxo(), &self.chain.next_spend_rules())?;
        self.chain.note_verified(txid);
        Ok(txid)
    }

    fn follow_tip(&mut self, change: &TipChange) {
        if !change.is_reorg() {
            for hash in &change.connected {
                let block = self.chain.block(hash).expect("connected blocks are stored");
                self.mempool.remove_confirmed(block);
            }
            return;
        }
        // The orphaned branch's payments go back first (they are older), then what was
        // waiting; each is checked again against the new coins, so whatever the new
        // branch confirmed or conflicts with falls out.
        let mut waiting: Vec<Transaction> = change
            .disconnected
            .iter()
            .flat_map(|hash: &Hash| {
                let block = self
                    .chain
                    .block(hash)
                    .expect("disconnected blocks stay stored");
                block.transactions.iter().skip(1).cloned()
            })
            .collect();
        waiting.extend(self.mempool.drain());
        let rules = self.chain.next_spend_rules();
        for tx in waiting {
            // A transaction the new chain makes invalid is simply not waiting any more.
            if let Ok(txid) = self.mempool.add(tx, self.chain.utxo(), &rules) {
                self.chain.note_verified(txid);
            }
        }
    }
}
