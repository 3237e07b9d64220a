//! The set of unspent outputs, and the rules that need it: a payment spends coins that
//! exist, belong to its keys, and are not spent twice; a block's coinbase claims no more
//! than the reward and fees. Connecting a block yields the undo data that disconnects it.

use std::collections::{HashMap, HashSet};

use crate::block::{Block, BlockError};
use crate::hash::Hash;
use crate::keys::Address;
use crate::recent::RecentSet;
use crate::tx::{sum_values, OutPoint, Output, Transaction, TxError, TxId};

/// An unspent output, the height of the block that created it, and whether a coinbase
/// did (its coins must mature before they are spent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utxo {
    pub output: Output,
    pub height: u64,
    pub coinbase: bool,
}

impl Utxo {
    /// The first height of a block that may spend this coin under `maturity`.
    pub fn spendable_at(&self, maturity: u64) -> u64 {
        if self.coinbase {
            self.height.saturating_add(maturity)
        } else {
            0
        }
    }
}

/// The rules a payment is checked under besides its coins: the room it is signed for,
/// and the height of the block it would be in, for coinbase maturity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendRules {
    /// The room's genesis block hash: every signature commits to it.
    pub genesis: Hash,
    /// The height of the block the payment is (or would be) in.
    pub height: u64,
    /// How many blocks a coinbase's coins wait, from [`crate::Params`].
    pub maturity: u64,
}

/// Whether connecting a block verifies its payments' signatures. Everything else about
/// the coins is checked either way; see [`crate::Chain::load_stored`] for when trusting
/// them is sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signatures {
    Check,
    /// Taken as verified: the blocks were checked whole before they were stored.
    Trust,
}

/// What a connected block spent, so a reorg can give it back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Undo {
    spent: Vec<(OutPoint, Utxo)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UtxoSet {
    coins: HashMap<OutPoint, Utxo>,
}

impl UtxoSet {
    pub fn get(&self, outpoint: &OutPoint) -> Option<&Utxo> {
        self.coins.get(outpoint)
    }

    pub fn len(&self) -> usize {
        self.coins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.coins.is_empty()
    }

    /// Every coin, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&OutPoint, &Utxo)> {
        self.coins.iter()
    }

    /// The coins paid to `address`, oldest first.
    pub fn coins_of(&self, address: &Address) -> Vec<(OutPoint, Utxo)> {
        let mut coins: Vec<_> = self
            .coins
            .iter()
            .filter(|(_, utxo)| utxo.output.address == *address)
            .map(|(outpoint, utxo)| (*outpoint, *utxo))
            .collect();
        coins.sort_by_key(|(outpoint, utxo)| (utxo.height, *outpoint));
        coins
    }

    /// Total value of all coins: the money supply.
    pub fn total_value(&self) -> u64 {
        self.coins.values().map(|utxo| utxo.output.value).sum()
    }

    /// Validates `block` (already checked on its own) against these coins as the block
    /// at `rules.height` paying at most `reward` plus fees, and applies it. On any error
    /// nothing has changed.
    pub fn connect(
        &mut self,
        block: &Block,
        rules: &SpendRules,
        reward: u64,
    ) -> Result<Undo, BlockError> {
        self.connect_with(block, rules, reward, Signatures::Check, &RecentSet::new(0))
    }

    /// [`UtxoSet::connect`], verifying the payments' signatures or not, and not those
    /// of payments already `verified`.
    pub fn connect_with(
        &mut self,
        block: &Block,
        rules: &SpendRules,
        reward: u64,
        signatures: Signatures,
        verified: &RecentSet<TxId>,
    ) -> Result<Undo, BlockError> {
        let height = rules.height;
        let mut created: HashMap<OutPoint, Utxo> = HashMap::new();
        let mut spent: HashSet<OutPoint> = HashSet::new();
        let mut fees = 0u64;
        for (index, tx) in block.transactions.iter().enumerate().skip(1) {
            let fee = check_spends(tx, rules, |input, outpoint| {
                if spent.contains(outpoint) {
                    return Err(TxError::DoubleSpend { input });
                }
                created
                    .get(outpoint)
                    .or_else(|| self.coins.get(outpoint))
                    .copied()
                    .ok_or(TxError::MissingInput { input })
            })
            .and_then(|fee| {
                if signatures == Signatures::Check && !verified.contains(&tx.id()) {
                    tx.check_signatures(&rules.genesis)?;
                }
                Ok(fee)
            })
            .map_err(|error| BlockError::Tx { index, error })?;
            fees = sum_values([fees, fee]).map_err(|error| BlockError::Tx { index, error })?;
            spent.extend(tx.inputs.iter().map(|input| input.prev));
            add_outputs(&mut created, tx, height);
        }
        let coinbase = block.coinbase().ok_or(BlockError::NoTransactions)?;
        if coinbase.height != height {
            return Err(BlockError::BadCoinbaseHeight {
                expected: height,
                got: coinbase.height,
            });
        }
        let allowed = reward.saturating_add(fees);
        let paid = coinbase
            .output_value()
            .map_err(|error| BlockError::Tx { index: 0, error })?;
        if paid > allowed {
            return Err(BlockError::CoinbaseTooLarge { paid, allowed });
        }
        add_outputs(&mut created, coinbase, height);

        let mut undo = Undo::default();
        for outpoint in spent {
            match created.remove(&outpoint) {
                Some(_) => {} // created and spent within this block
                None => {
                    let utxo = self.coins.remove(&outpoint).expect("checked above");
                    undo.spent.push((outpoint, utxo));
                }
            }
        }
        self.coins.extend(created);
        Ok(undo)
    }

    /// Reverses [`UtxoSet::connect`] of `block` with the undo data it returned.
    pub fn disconnect(&mut self, block: &Block, undo: &Undo) {
        for tx in &block.transactions {
            let txid = tx.id();
            for index in 0..tx.outputs.len() as u32 {
                self.coins.remove(&OutPoint { txid, index });
            }
        }
        self.coins.extend(undo.spent.iter().copied());
    }
}

fn add_outputs(coins: &mut HashMap<OutPoint, Utxo>, tx: &Transaction, height: u64) {
    let txid = tx.id();
    for (index, output) in tx.outputs.iter().enumerate() {
        let outpoint = OutPoint {
            txid,
            index: index as u32,
        };
        coins.insert(
            outpoint,
            Utxo {
                output: *output,
                height,
                coinbase: tx.is_coinbase(),
            },
        );
    }
}

/// Checks payment `tx`'s inputs against the coins `lookup` finds (it names why a coin
/// is not there) under `rules`, and returns the fee. Lookups, maturity and key matches
/// come first; the costly signature checks only run once everything else holds.
pub fn check_payment(
    tx: &Transaction,
    rules: &SpendRules,
    lookup: impl FnMut(usize, &OutPoint) -> Result<Utxo, TxError>,
) -> Result<u64, TxError> {
    let fee = check_spends(tx, rules, lookup)?;
    tx.check_signatures(&rules.genesis)?;
    Ok(fee)
}

/// Everything [`check_payment`] checks but the signatures.
fn check_spends(
    tx: &Transaction,
    rules: &SpendRules,
    mut lookup: impl FnMut(usize, &OutPoint) -> Result<Utxo, TxError>,
) -> Result<u64, TxError> {
    let mut values = Vec::with_capacity(tx.inputs.len());
    for (input, spend) in tx.inputs.iter().enumerate() {
        let coin = lookup(input, &spend.prev)?;
        let matures_at = coin.spendable_at(rules.maturity);
        if rules.height < matures_at {
            return Err(TxError::ImmatureCoinbase { input, matures_at });
        }
        if spend.public_key.address() != coin.output.address {
            return Err(TxError::WrongKey { input });
        }
        values.push(coin.output.value);
    }
    let inputs = sum_values(values)?;
    let outputs = tx.output_value()?;
    if outputs > inputs {
        return Err(TxError::OutputsExceedInputs { inputs, outputs });
    }
    Ok(inputs - outputs)
}
