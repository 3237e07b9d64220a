//! The tamper lab: a copy of a block with one field changed, and what the core's rules
//! say about it. The copy as edited keeps its header, so its hash stays and its merkle
//! root no longer matches; resealed (the root recomputed to commit to the edit) its
//! hash changes, so its proof of work fails and the next block's link breaks. Redoing
//! that work for this block and every later one is the cost of rewriting history. The
//! copies live here only: the node's chain and storage never see them.

use tabchain_core::{Address, Block, BlockError, Chain, Hash, Timestamp};
use tabchain_node::{Config, Misbehaviour};

use crate::view::{format_coins, short_address};

/// One field of one block to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Output `output` of transaction `tx` pays `value` base units instead.
    Amount {
        tx: usize,
        output: usize,
        value: u64,
    },
    /// Output `output` of transaction `tx` pays `to` instead.
    Address {
        tx: usize,
        output: usize,
        to: Address,
    },
    /// The header's time, moved by `by_ms`.
    Time { by_ms: i64 },
    /// Input `input` of transaction `tx` spends the next output of the same earlier
    /// transaction instead.
    Input { tx: usize, input: usize },
}

/// What the lab was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tamper {
    pub block: Hash,
    pub edit: Edit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TamperError {
    #[error("this node does not hold that block")]
    NoSuchBlock,
    #[error("the block has no transaction {0}")]
    NoSuchTx(usize),
    #[error("that transaction has no output {0}")]
    NoSuchOutput(usize),
    #[error("that transaction has no input {0} (a coinbase has none)")]
    NoSuchInput(usize),
}

/// A rule the core says a block breaks: its variant's name and its sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// `BadMerkleRoot`, `BadPow`, `BadSignature`…
    pub name: String,
    pub text: String,
}

impl From<BlockError> for Broken {
    fn from(error: BlockError) -> Broken {
        // A transaction's own rule is the one to name, not the wrapper.
        let name = match error {
            BlockError::Tx { error, .. } => variant(&format!("{error:?}")),
            _ => variant(&format!("{error:?}")),
        };
        Broken {
            name,
            text: error.to_string(),
        }
    }
}

fn variant(debug: &str) -> String {
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TamperReport {
    pub block: String,
    pub height: u64,
    /// The edit in words.
    pub edit: String,
    pub original_hash: String,
    /// The copy as edited, its header untouched (unless the edit is the header's).
    pub copy_hash: String,
    /// The first rule the copy breaks, checking the block alone; `None` if none.
    pub verdict: Option<Broken>,
    pub merkle_ok: bool,
    /// The first signature of the copy that no longer verifies.
    pub signature: Option<Broken>,
    /// The copy with its merkle root recomputed: a new hash, whose work is not done.
    pub resealed_hash: String,
    pub resealed_pow: Option<Broken>,
    /// The next block of the main chain, whose `prev` still names the original.
    pub next: Option<(u64, String)>,
    /// Blocks to mine again to make the rewrite the main chain: this one and every
    /// later one, and the hashes that takes on average.
    pub redo_blocks: u64,
    pub redo_hashes: u64,
    /// At this tab's hashrate, if it is mining.
    pub redo_ms: Option<u64>,
}

/// The copy offered to peers, and what it will cost this tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferReport {
    pub hash: String,
    /// Peers it was announced to.
    pub peers: usize,
    /// The rule a peer finds broken first; `None` if it breaks none (a valid block on a
    /// side branch, which peers keep).
    pub refusal: Option<Broken>,
    /// Points each peer adds to this tab's score, out of the limit at which it drops and
    /// bans this tab for `ban_ms`.
    pub penalty: u32,
    pub limit: u32,
    pub ban_ms: u64,
}

/// The workers re-mining the resealed copy: what redoing one block's work feels like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemineInfo {
    pub started: Timestamp,
    /// The hashes it should take on average.
    pub difficulty: u64,
    /// When the workers found a nonce, and the copy's new hash.
    pub found: Option<(Timestamp, String)>,
    /// The tab's own mining took the workers back first.
    pub interrupted: bool,
}

impl Tamper {
    /// The copy as edited: the header is left alone unless the edit is its time.
    pub fn copy(&self, chain: &Chain) -> Result<Block, TamperError> {
        let mut block = chain
            .block(&self.block)
            .ok_or(TamperError::NoSuchBlock)?
            .clone();
        match self.edit {
            Edit::Amount { tx, output, value } => output_of(&mut block, tx, output)?.value = value,
            Edit::Address { tx, output, to } => output_of(&mut block, tx, output)?.address = to,
            Edit::Time { by_ms } => {
                let time = block.header.time.millis().saturating_add_signed(by_ms);
                block.header.time = Timestamp(time);
            }
            Edit::Input { tx, input } => {
                let spend = block
                    .transactions
                    .get_mut(tx)
                    .ok_or(TamperError::NoSuchTx(tx))?
                    .inputs
                    .get_mut(input)
                    .ok_or(TamperError::NoSuchInput(input))?;
                spend.prev.index = spend.prev.index.wrapping_add(1);
            }
        }
        Ok(block)
    }

    /// The copy with its header committing to the edited transactions: what someone
    /// rewriting history would have to mine, and what the lab offers to peers.
    pub fn resealed(&self, chain: &Chain) -> Result<Block, TamperError> {
        let mut block = self.copy(chain)?;
        block.header.merkle_root = Block::merkle_root_of(&block.transactions);
        Ok(block)
    }

    pub fn report(&self, chain: &Chain, hashrate: u64) -> Result<TamperReport, TamperError> {
        let original = chain.block(&self.block).ok_or(TamperError::NoSuchBlock)?;
        let height = chain.height_of(&self.block).unwrap_or(0);
        let copy = self.copy(chain)?;
        let resealed = self.resealed(chain)?;
        let genesis = chain.genesis_hash();
        let signature = copy
            .transactions
            .iter()
            .enumerate()
            .find_map(|(index, tx)| {
                let error = tx.check_signatures(&genesis).err()?;
                Some(Broken::from(BlockError::Tx { index, error }))
            });
        let resealed_hash = resealed.hash();
        let (redo_blocks, redo_hashes) = if chain.is_active(&self.block) {
            (height..=chain.height())
                .filter_map(|h| chain.block(&chain.hash_at(h)?))
                .fold((0, 0u64), |(n, work), b| {
                    (n + 1, work.saturating_add(b.header.difficulty))
                })
        } else {
            (1, original.header.difficulty)
        };
        Ok(TamperReport {
            block: self.block.to_string(),
            height,
            edit: self.describe(original),
            original_hash: self.block.to_string(),
            copy_hash: copy.hash().to_string(),
            verdict: copy.check().err().map(Broken::from),
            merkle_ok: Block::merkle_root_of(&copy.transactions) == copy.header.merkle_root,
            signature,
            resealed_hash: resealed_hash.to_string(),
            resealed_pow: (!resealed.header.meets_difficulty())
                .then(|| Broken::from(BlockError::BadPow)),
            next: chain
                .hash_at(height + 1)
                .filter(|_| chain.is_active(&self.block))
                .map(|next| (height + 1, next.to_string())),
            redo_blocks,
            redo_hashes,
            redo_ms: (hashrate > 0).then(|| redo_hashes.saturating_mul(1000) / hashrate),
        })
    }

    /// What offering the resealed copy (or, once the workers re-mined it, that block)
    /// to peers will cost: a copy of this node's chain takes it by the very rules the
    /// peers run, and the refusal's penalty is the node's own.
    pub fn offer(
        &self,
        chain: &Chain,
        config: &Config,
        remined: Option<Block>,
        now: Timestamp,
    ) -> Result<(Block, OfferReport), TamperError> {
        let block = match remined {
            Some(block) => block,
            None => self.resealed(chain)?,
        };
        let error = chain.clone().process_block(block.clone(), now).err();
        // A clock ahead of the peer's is not held against anyone.
        let penalty = match error {
            None | Some(BlockError::TimeTooNew) => 0,
            Some(e) => Misbehaviour::InvalidBlock(e).penalty(),
        };
        let report = OfferReport {
            hash: block.hash().to_string(),
            // Set once it is announced.
            peers: 0,
            refusal: error.map(Broken::from),
            penalty,
            limit: config.score_limit,
            ban_ms: config.ban_ms,
        };
        Ok((block, report))
    }

    fn describe(&self, block: &Block) -> String {
        let output = |tx: usize, output: usize| {
            block
                .transactions
                .get(tx)
                .and_then(|t| t.outputs.get(output))
                .copied()
        };
        match self.edit {
            Edit::Amount {
                tx,
                output: o,
                value,
            } => format!(
                "output {o} of transaction {tx} pays {} instead of {}",
                format_coins(value),
                output(tx, o).map_or_else(String::new, |out| format_coins(out.value))
            ),
            Edit::Address { tx, output: o, to } => format!(
                "output {o} of transaction {tx} pays {} instead of {}",
                short_address(&to),
                output(tx, o).map_or_else(String::new, |out| short_address(&out.address))
            ),
            Edit::Time { by_ms } => format!("the time moved by {} s", by_ms / 1000),
            Edit::Input { tx, input } => {
                format!("input {input} of transaction {tx} spends another coin")
            }
        }
    }
}

fn output_of(
    block: &mut Block,
    tx: usize,
    output: usize,
) -> Result<&mut tabchain_core::Output, TamperError> {
    block
        .transactions
        .get_mut(tx)
        .ok_or(TamperError::NoSuchTx(tx))?
        .outputs
        .get_mut(output)
        .ok_or(TamperError::NoSuchOutput(output))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::{pow, Ledger, Params, SecretKey};
    use tabchain_node::Config;

    #[test]
    fn an_edited_amount_breaks_the_merkle_root_and_resealing_breaks_the_work_and_the_link() {
        let params = Params::for_tests("tamper");
        let mut ledger = Ledger::new(params);
        let pay_to = SecretKey::from_seed([1; 32]).public_key().address();
        let mut hashes = Vec::new();
        for n in 1..=2 {
            let time = tabchain_core::params::GENESIS_TIME.saturating_add(n * 10_000);
            let mut block = ledger.template(pay_to, time);
            assert!(pow::solve(&mut block.header));
            hashes.push(block.hash());
            ledger.submit_block(block, time).unwrap();
        }
        let chain = ledger.chain();
        let tamper = Tamper {
            block: hashes[0],
            edit: Edit::Amount {
                tx: 0,
                output: 0,
                value: 1,
            },
        };
        let report = tamper.report(chain, 1_000).unwrap();
        assert_eq!(
            report.copy_hash, report.original_hash,
            "the header is untouched"
        );
        assert_eq!(report.verdict.as_ref().unwrap().name, "BadMerkleRoot");
        assert!(!report.merkle_ok);
        assert_ne!(report.resealed_hash, report.original_hash);
        assert_eq!(report.next, Some((2, hashes[1].to_string())));
        assert_eq!(report.redo_blocks, 2, "this block and the next");
        assert_eq!(
            chain.block(&hashes[0]).unwrap().transactions[0].outputs[0].value,
            50_000,
            "a copy"
        );
        // Another field, another rule.
        let time = Tamper {
            block: hashes[1],
            edit: Edit::Time { by_ms: 1_000 },
        };
        let report = time.report(chain, 0).unwrap();
        assert_ne!(report.copy_hash, report.original_hash);
        assert!(report.merkle_ok && report.next.is_none() && report.redo_ms.is_none());
        // Offered at difficulty 1, the resealed copy has its work and its root: a copy of
        // the chain keeps it, as peers would, on a side branch whose coins nobody checks
        // unless it grows heavier. The real chain never sees it.
        let config = Config::default();
        let raise = Tamper {
            block: hashes[0],
            edit: Edit::Amount {
                tx: 0,
                output: 0,
                value: 1_000_000,
            },
        };
        let (block, offer) = raise
            .offer(chain, &config, None, Timestamp(u64::MAX / 2))
            .unwrap();
        assert_ne!(block.hash(), hashes[0]);
        assert_eq!((offer.refusal, offer.penalty, offer.limit), (None, 0, 100));
        assert!(!chain.knows(&block.hash()));
        let missing = Tamper {
            block: hashes[0],
            edit: Edit::Input { tx: 0, input: 0 },
        };
        assert_eq!(missing.report(chain, 0), Err(TamperError::NoSuchInput(0)));
    }
}
