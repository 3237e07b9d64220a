//! This tab's ed25519 key: kept in sessionStorage, so a reload keeps the node's id (and
//! its peers see the same node come back) while every other tab gets its own.

use tabchain_core::SecretKey;

use crate::js::{random_bytes, warn, window};

const KEY: &str = "tabchain-key";

pub fn load_or_create() -> SecretKey {
    let storage = window().session_storage().ok().flatten();
    let stored = storage
        .as_ref()
        .and_then(|storage| storage.get_item(KEY).ok().flatten())
        .and_then(|hex| tabchain_core::keys::parse_hex::<32>(&hex).ok());
    if let Some(seed) = stored {
        return SecretKey::from_seed(seed);
    }
    let key = SecretKey::from_seed(random_bytes());
    match storage {
        Some(storage) if storage.set_item(KEY, &hex::encode(key.seed())).is_ok() => {}
        _ => warn("no sessionStorage: this tab gets a new identity on reload"),
    }
    key
}

/// Forgets this tab's key: the next load makes a new one.
pub fn forget() {
    if let Some(storage) = window().session_storage().ok().flatten() {
        let _ = storage.remove_item(KEY);
    }
}
