//! Transactions in the UTXO model: what they look like, their ids and signing hash, and
//! the rules a transaction must meet on its own, before anyone looks at the coins it
//! spends (those are in [`crate::utxo`]).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::keys::{Address, PublicKey, SecretKey, Signature};
use crate::params::COIN;

/// A transaction's id: SHA-256 of its encoding, signatures included.
pub type TxId = Hash;

/// Most bytes one transaction may take.
pub const MAX_TX_BYTES: usize = 64 * 1024;
/// Most base units that can ever exist: any value or sum above it is an overflow.
pub const MAX_MONEY: u64 = 21_000_000 * COIN;

/// One output of an earlier transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OutPoint {
    pub txid: TxId,
    pub index: u32,
}

/// Spends an output: the key its address was made from, and a signature by that key over
/// the transaction's [`Transaction::signing_hash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    pub prev: OutPoint,
    pub public_key: PublicKey,
    pub signature: Signature,
}

/// Coins paid to an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    pub value: u64,
    pub address: Address,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Outputs spent; empty only in a coinbase.
    pub inputs: Vec<Input>,
    pub outputs: Vec<Output>,
    /// In a coinbase, the height of its block, which makes every coinbase's id unique.
    /// Zero in a payment.
    pub height: u64,
}

/// A rule a transaction breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("transaction is {size} bytes, more than {max}")]
    TooLarge { size: usize, max: usize },
    #[error("a transaction must pay at least one output")]
    NoOutputs,
    #[error("a payment carries a block height")]
    PaymentHeight,
    #[error("output {output} pays zero")]
    ZeroValue { output: usize },
    #[error("values add up past the money supply")]
    ValueOverflow,
    #[error("input {input} spends the same output as an earlier input")]
    DuplicateInput { input: usize },
    #[error("input {input} spends an output that does not exist or is already spent")]
    MissingInput { input: usize },
    #[error("input {input} spends an output already spent by another transaction")]
    DoubleSpend { input: usize },
    #[error("input {input}'s key does not match the address of the output it spends")]
    WrongKey { input: usize },
    #[error("input {input}'s public key is malformed")]
    BadPublicKey { input: usize },
    #[error("input {input}'s signature is invalid (or was made for another room)")]
    BadSignature { input: usize },
    #[error("input {input} spends a coinbase that matures at height {matures_at}")]
    ImmatureCoinbase { input: usize, matures_at: u64 },
    #[error("outputs pay {outputs}, more than the {inputs} the inputs hold")]
    OutputsExceedInputs { inputs: u64, outputs: u64 },
}

impl Transaction {
    /// A coinbase for the block at `height` paying `outputs`.
    pub fn coinbase(height: u64, outputs: Vec<Output>) -> Transaction {
        Transaction {
            inputs: Vec::new(),
            outputs,
            height,
        }
    }

    pub fn is_coinbase(&self) -> bool {
        self.inputs.is_empty()
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("encoding into a Vec cannot fail")
    }

    pub fn id(&self) -> TxId {
        Hash::digest(&self.encode())
    }

    /// What every input signs: the room's `genesis` hash and the transaction with all
    /// signatures blanked. Committing to the genesis means a payment signed in one room
    /// cannot be replayed in another where the same key holds coins.
    pub fn signing_hash(&self, genesis: &Hash) -> Hash {
        let mut blank = self.clone();
        for input in &mut blank.inputs {
            input.signature = Signature::EMPTY;
        }
        Hash::digest_parts(&[b"tabchain-tx/v2", &genesis.0, &blank.encode()])
    }

    /// Signs every input with `key` (a wallet's transactions spend only its own coins)
    /// for the room whose genesis is `genesis`.
    /// Each input's signature over the transaction's signing hash in the room of
    /// `genesis`.
    pub fn check_signatures(&self, genesis: &Hash) -> Result<(), TxError> {
        let signing_hash = self.signing_hash(genesis);
        (0..self.inputs.len()).try_for_each(|input| self.check_input(input, &signing_hash))
    }

    /// Input `input`'s signature alone (what the block inspector marks).
    pub fn check_signature(&self, input: usize, genesis: &Hash) -> Result<(), TxError> {
        self.check_input(input, &self.signing_hash(genesis))
    }

    fn check_input(&self, input: usize, signing_hash: &Hash) -> Result<(), TxError> {
        let spend = self
            .inputs
            .get(input)
            .ok_or(TxError::BadSignature { input })?;
        spend
            .public_key
            .verify(signing_hash.as_bytes(), &spend.signature)
            .map_err(|error| match error {
                crate::keys::KeyError::BadPublicKey => TxError::BadPublicKey { input },
                crate::keys::KeyError::BadSignature => TxError::BadSignature { input },
            })
    }

    pub fn sign_all(&mut self, key: &SecretKey, genesis: &Hash) {
        let signature = key.sign(self.signing_hash(genesis).as_bytes());
        for input in &mut self.inputs {
            input.signature = signature;
        }
    }

    /// Sum of the outputs, refusing overflow.
    pub fn output_value(&self) -> Result<u64, TxError> {
        sum_values(self.outputs.iter().map(|o| o.value))
    }

    /// The rules that need nothing but the transaction: cheap, so they run before any
    /// lookup or signature check.
    pub fn check(&self) -> Result<(), TxError> {
        let size = self.encode().len();
        if size > MAX_TX_BYTES {
            return Err(TxError::TooLarge {
                size,
                max: MAX_TX_BYTES,
            });
        }
        if self.outputs.is_empty() && !self.is_coinbase() {
            return Err(TxError::NoOutputs);
        }
        if !self.is_coinbase() && self.height != 0 {
            return Err(TxError::PaymentHeight);
        }
        if let Some(output) = self.outputs.iter().position(|o| o.value == 0) {
            return Err(TxError::ZeroValue { output });
        }
        self.output_value()?;
        let mut seen = HashSet::with_capacity(self.inputs.len());
        if let Some(input) = self.inputs.iter().position(|i| !seen.insert(i.prev)) {
            return Err(TxError::DuplicateInput { input });
        }
        Ok(())
    }
}

/// Adds values, refusing any sum above [`MAX_MONEY`].
pub fn sum_values(values: impl IntoIterator<Item = u64>) -> Result<u64, TxError> {
    values.into_iter().try_fold(0u64, |sum, value| {
        sum.checked_add(value)
            .filter(|&s| s <= MAX_MONEY)
            .ok_or(TxError::ValueOverflow)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment() -> Transaction {
        let key = SecretKey::from_seed([9; 32]);
        let mut tx = Transaction {
            inputs: vec![Input {
                prev: OutPoint {
                    txid: Hash::digest(b"earlier"),
                    index: 0,
                },
                public_key: key.public_key(),
                signature: Signature::EMPTY,
            }],
            outputs: vec![Output {
                value: 10,
                address: key.public_key().address(),
            }],
            height: 0,
        };
        tx.sign_all(&key, &ROOM);
        tx
    }

    const ROOM: Hash = Hash([7; 32]);

    #[test]
    fn a_well_formed_payment_passes() {
        assert_eq!(payment().check(), Ok(()));
    }

    #[test]
    fn the_signature_does_not_sign_itself_but_the_id_covers_it() {
        let tx = payment();
        let mut other = tx.clone();
        other.inputs[0].signature = Signature([1; 64]);
        assert_eq!(tx.signing_hash(&ROOM), other.signing_hash(&ROOM));
        assert_ne!(tx.id(), other.id());
    }

    #[test]
    fn the_signature_commits_to_the_room() {
        let tx = payment();
        let key = SecretKey::from_seed([9; 32]).public_key();
        let here = tx.signing_hash(&ROOM);
        let elsewhere = tx.signing_hash(&Hash([8; 32]));
        assert_ne!(here, elsewhere);
        assert!(key.verify(here.as_bytes(), &tx.inputs[0].signature).is_ok());
        assert!(key
            .verify(elsewhere.as_bytes(), &tx.inputs[0].signature)
            .is_err());
    }

    #[test]
    fn each_context_free_rule_names_itself() {
        let mut tx = payment();
        tx.outputs.clear();
        assert_eq!(tx.check(), Err(TxError::NoOutputs));

        let mut tx = payment();
        tx.height = 3;
        assert_eq!(tx.check(), Err(TxError::PaymentHeight));

        let mut tx = payment();
        tx.outputs[0].value = 0;
        assert_eq!(tx.check(), Err(TxError::ZeroValue { output: 0 }));

        let mut tx = payment();
        tx.outputs[0].value = MAX_MONEY;
        tx.outputs.push(tx.outputs[0]);
        assert_eq!(tx.check(), Err(TxError::ValueOverflow));

        let mut tx = payment();
        tx.outputs[0].value = u64::MAX;
        assert_eq!(tx.check(), Err(TxError::ValueOverflow));

        let mut tx = payment();
        tx.inputs.push(tx.inputs[0]);
        assert_eq!(tx.check(), Err(TxError::DuplicateInput { input: 1 }));

        let mut tx = payment();
        tx.outputs = vec![tx.outputs[0]; MAX_TX_BYTES / 20];
        assert!(matches!(tx.check(), Err(TxError::TooLarge { .. })));
    }
}
