//! The tabchain ledger: what every tab agrees on.
//!
//! Pure Rust with no I/O, no clock and no randomness of its own: the current time comes
//! in as a [`Timestamp`] argument and keys are made from a caller's RNG or seed, so the
//! same code runs natively, in a simulator and in a browser tab.
//!
//! - [`Block`]s of [`Transaction`]s under a fixed-size [`Header`] whose nonce comes last,
//!   so [`PowSearch`] hashes one SHA-256 block per nonce ([`LaneSearch`]: four nonces at
//!   once, in wasm SIMD lanes where the build has them).
//! - [`Chain`]: the block tree, fork choice by most work, reorgs with undo data, orphans,
//!   and loading a stored block set whole ([`Chain::load_stored`]).
//! - [`Mempool`] and [`Ledger`], which keeps both in step and builds miners' templates.
//! - [`Wallet`]: payments with change and a fee.
//!
//! Every broken rule is a typed error naming the rule: [`BlockError`], [`TxError`],
//! [`MempoolError`], [`WalletError`].

pub mod block;
pub mod chain;
pub mod context;
pub mod difficulty;
pub mod hash;
pub mod header;
pub mod keys;
pub mod ledger;
pub mod mempool;
pub mod orphans;
pub mod params;
pub mod pow;
pub mod recent;
pub mod time;
pub mod tx;
pub mod utxo;
pub mod wallet;

pub use block::{Block, BlockError, MerkleStep};
pub use chain::{Accepted, Chain, LoadError, LoadReport, TipChange, MAX_BRANCH_DEFICIT};
pub use context::HeaderContext;
pub use hash::Hash;
pub use header::Header;
pub use keys::{Address, KeyError, NodeId, PublicKey, SecretKey, Signature};
pub use ledger::{Balance, Ledger};
pub use mempool::{Mempool, MempoolError};
pub use params::{Params, COIN};
pub use pow::lanes::LaneSearch;
pub use pow::PowSearch;
pub use time::Timestamp;
pub use tx::{Input, OutPoint, Output, Transaction, TxError, TxId};
pub use utxo::{Signatures, SpendRules, Utxo, UtxoSet};
pub use wallet::{Wallet, WalletError};
