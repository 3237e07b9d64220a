//! The wallet of this browser profile, in an IndexedDB database of its own
//! (`tabchain-wallet`), so that a student who closes the tab (as the lesson asks) and
//! opens the page again has the same address and coins. Each tab is still its own node
//! (its node key is per tab, [`crate::identity`]); the wallet is shared by the tabs of
//! the profile.
//!
//! Tabs sharing a wallet must not spend the same coins at once. A payment is built inside
//! one IndexedDB read-write transaction over the coins reserved by the profile's tabs
//! (IndexedDB runs such transactions one at a time across tabs, on any page, secure
//! context or not): it reads the reservations, leaves those coins out, and reserves the
//! ones it spends, until they confirm or [`RESERVED_MS`] passes.

use std::collections::HashSet;

use js_sys::{Array, Uint8Array};
use tabchain_core::{OutPoint, Timestamp};
use wasm_bindgen::prelude::*;
use web_sys::{IdbDatabase, IdbTransactionMode};

use crate::store::{committed, error_name, finished, open_database};

const DATABASE: &str = "tabchain-wallet";
const KEYS: &str = "keys";
const RESERVED: &str = "reserved";
const SEED: &str = "seed";

/// How long a coin stays reserved by a payment that never confirms (dropped by every
/// mempool, say): then the wallet may spend it again.
pub const RESERVED_MS: u64 = 10 * 60_000;

#[derive(Debug, Clone)]
pub struct WalletStore {
    db: IdbDatabase,
}

impl WalletStore {
    pub async fn open() -> Result<WalletStore, JsValue> {
        Ok(WalletStore {
            db: open_database(DATABASE, &[KEYS, RESERVED]).await?,
        })
    }

    /// The profile's wallet seed: the stored one, or `fresh`, stored now. Two tabs
    /// opened at once both offer theirs; `add` lets only the first in, and the other
    /// reads it back.
    pub async fn seed(&self, fresh: [u8; 32]) -> Result<[u8; 32], JsValue> {
        let tx = self
            .db
            .transaction_with_str_and_mode(KEYS, IdbTransactionMode::Readwrite)?;
        let keys = tx.object_store(KEYS)?;
        let stored = finished(&keys.get(&JsValue::from_str(SEED))?).await?;
        if let Ok(bytes) = stored.dyn_into::<Uint8Array>() {
            if let Ok(seed) = <[u8; 32]>::try_from(bytes.to_vec()) {
                return Ok(seed);
            }
        }
        keys.put_with_key(&Uint8Array::from(&fresh[..]), &JsValue::from_str(SEED))?;
        committed(&tx).await?;
        Ok(fresh)
    }

    /// Makes `seed` the profile's wallet (a restored backup).
    pub async fn replace_seed(&self, seed: [u8; 32]) -> Result<(), String> {
        let write = async {
            let tx = self
                .db
                .transaction_with_str_and_mode(KEYS, IdbTransactionMode::Readwrite)?;
            tx.object_store(KEYS)?
                .put_with_key(&Uint8Array::from(&seed[..]), &JsValue::from_str(SEED))?;
            committed(&tx).await
        };
        write.await.map_err(|err| error_name(&err))
    }

    /// Builds a payment with the coins of room `network` that no tab has reserved:
    /// `build` gets those reserved and returns its result with the coins it spent, which
    /// are reserved in the same transaction.
    pub async fn spend<T, E>(
        &self,
        network: &str,
        now: Timestamp,
        build: impl FnOnce(&HashSet<OutPoint>) -> Result<(T, Vec<OutPoint>), E>,
    ) -> Result<Result<T, E>, String> {
        let prefix = format!("{network}/");
        let work = async {
            let tx = self
                .db
                .transaction_with_str_and_mode(RESERVED, IdbTransactionMode::Readwrite)?;
            let store = tx.object_store(RESERVED)?;
            // Both requests before either is awaited: the transaction stays busy.
            let (keys, until) = (store.get_all_keys()?, store.get_all()?);
            let keys: Array = finished(&keys).await?.dyn_into()?;
            let until: Array = finished(&until).await?.dyn_into()?;
            let mut reserved = HashSet::new();
            for (key, until) in keys.iter().zip(until.iter()) {
                let key = key.as_string().unwrap_or_default();
                let live = until
                    .as_f64()
                    .is_some_and(|until| until > now.millis() as f64);
                match key.strip_prefix(&prefix).and_then(parse_outpoint) {
                    Some(outpoint) if live => {
                        reserved.insert(outpoint);
                    }
                    _ if !live => {
                        store.delete(&JsValue::from_str(&key))?;
                    }
                    _ => {}
                }
            }
            // Still inside the transaction: no other tab's payment can read or write the
            // reservations until this one is built and its coins reserved.
            let built = build(&reserved);
            if let Ok((_, spent)) = &built {
                let until = JsValue::from_f64(now.saturating_add(RESERVED_MS).millis() as f64);
                for outpoint in spent {
                    let key = format!("{prefix}{}", outpoint_key(outpoint));
                    store.put_with_key(&until, &JsValue::from_str(&key))?;
                }
            }
            committed(&tx).await?;
            Ok::<_, JsValue>(built.map(|(value, _)| value))
        };
        work.await.map_err(|err| error_name(&err))
    }
}

fn outpoint_key(outpoint: &OutPoint) -> String {
    hex::encode(postcard::to_stdvec(outpoint).expect("an outpoint always encodes"))
}

fn parse_outpoint(key: &str) -> Option<OutPoint> {
    postcard::from_bytes(&hex::decode(key).ok()?).ok()
}
