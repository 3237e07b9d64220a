//! The tabchain ledger: what every tab agrees on.
//!
//! Pure Rust with no I/O, no clock and no randomness of its own: the current time comes
//! in as a [`Timestamp`] argument and keys are made from a caller's RNG or seed, so the
//! same code runs natively, in a simulator and in a browser tab.

pub mod hash;
pub mod keys;

pub use hash::Hash;
pub use keys::{Address, KeyError, NodeId, PublicKey, SecretKey, Signature};
