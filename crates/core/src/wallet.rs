//! A wallet: one key, its address, and payments built from its coins with change and a fee.

use crate::hash::Hash;
use crate::keys::{Address, SecretKey, Signature};
use crate::tx::{sum_values, Input, OutPoint, Output, Transaction};
use crate::utxo::Utxo;

/// Why a payment could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    #[error("the amount must be more than zero")]
    ZeroAmount,
    #[error("only {available} available, {needed} needed with the fee")]
    InsufficientFunds { available: u64, needed: u64 },
    #[error("amount and fee add up past the money supply")]
    ValueOverflow,
}

#[derive(Debug, Clone)]
pub struct Wallet {
    key: SecretKey,
}

impl Wallet {
    pub fn new(key: SecretKey) -> Wallet {
        Wallet { key }
    }

    pub fn key(&self) -> &SecretKey {
        &self.key
    }

    pub fn address(&self) -> Address {
        self.key.public_key().address()
    }

    /// A payment of `amount` to `to` plus `fee`, spending from `coins` (this wallet's
    /// spendable coins) in the order given, with change back to this wallet, signed for
    /// the room whose genesis block is `genesis`.
    pub fn pay(
        &self,
        coins: &[(OutPoint, Utxo)],
        to: Address,
        amount: u64,
        fee: u64,
        genesis: &Hash,
    ) -> Result<Transaction, WalletError> {
        if amount == 0 {
            return Err(WalletError::ZeroAmount);
        }
        let needed = sum_values([amount, fee]).map_err(|_| WalletError::ValueOverflow)?;
        let mut gathered = 0u64;
        let mut inputs = Vec::new();
        for (outpoint, coin) in coins {
            if gathered >= needed {
                break;
            }
            gathered = gathered.saturating_add(coin.output.value);
            inputs.push(Input {
                prev: *outpoint,
                public_key: self.key.public_key(),
                signature: Signature::EMPTY,
            });
        }
        if gathered < needed {
            return Err(WalletError::InsufficientFunds {
                available: gathered,
                needed,
            });
        }
        let mut outputs = vec![Output {
            value: amount,
            address: to,
        }];
        if gathered > needed {
            outputs.push(Output {
                value: gathered - needed,
                address: self.address(),
            });
        }
        let mut tx = Transaction {
            inputs,
            outputs,
            height: 0,
        };
        tx.sign_all(&self.key, genesis);
        Ok(tx)
    }
}
