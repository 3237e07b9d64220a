//! The room's key: what every tab of a room (and rule set) derives from its name and
//! `?secret=`, and nothing else knows. Notes are encrypted with it, and relays are asked
//! for a topic derived from it, so a relay sees neither the room's name nor its tabs.

use argon2::{Algorithm, Argon2, Params, Version};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use tabchain_core::Hash;

/// Argon2id's cost: OWASP's first recommended setting (19 MiB, two passes). A guess at a
/// room's secret costs a relay as much as a tab pays once per page load (about a tenth
/// of a second in wasm on a laptop).
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;

/// Separates this key from every other use of the room name.
const SALT_DOMAIN: &[u8] = b"tabchain-nostr/v1 salt";

/// The key and topic of one room.
#[derive(Clone)]
pub struct RoomKey {
    /// XChaCha20-Poly1305 key of the notes.
    pub(crate) key: [u8; 32],
    /// The `#t` tag value the room's events carry: 32 hex digits.
    pub(crate) topic: String,
    /// The genesis block of the room's rules: bound into every note's signature.
    pub(crate) genesis: Hash,
}

impl std::fmt::Debug for RoomKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomKey")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl RoomKey {
    /// The key of the room whose rules give `genesis` (the room name is in it), with
    /// the room's password `secret` (empty for none). The salt is the genesis hash, so
    /// one guess serves one room and rule set only.
    pub fn derive(genesis: Hash, secret: &str) -> RoomKey {
        let salt = Sha256::new()
            .chain_update(SALT_DOMAIN)
            .chain_update(genesis.0)
            .finalize();
        let params = Params::new(MEMORY_KIB, PASSES, 1, Some(32)).expect("valid Argon2 costs");
        let mut root = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(secret.as_bytes(), &salt, &mut root)
            .expect("a 32-byte output and a 32-byte salt are within Argon2's limits");
        let hkdf = Hkdf::<Sha256>::from_prk(&root).expect("32 bytes is a valid PRK");
        let mut key = [0u8; 32];
        let mut topic = [0u8; 16];
        hkdf.expand(b"tabchain-nostr/v1 key", &mut key)
            .expect("32 bytes is a valid length");
        hkdf.expand(b"tabchain-nostr/v1 topic", &mut topic)
            .expect("16 bytes is a valid length");
        RoomKey {
            key,
            topic: hex::encode(topic),
            genesis,
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::Params as Rules;

    #[test]
    fn rooms_secrets_and_rules_each_get_their_own_key_and_topic() {
        let lobby = Rules::new("lobby").genesis().hash();
        let other = Rules::new("class-2").genesis().hash();
        let a = RoomKey::derive(lobby, "");
        let again = RoomKey::derive(lobby, "");
        assert_eq!((a.key, &a.topic), (again.key, &again.topic));
        for b in [
            RoomKey::derive(other, ""),
            RoomKey::derive(lobby, "hunter2"),
        ] {
            assert_ne!(a.key, b.key);
            assert_ne!(a.topic, b.topic);
        }
        assert_eq!(a.topic.len(), 32);
        assert!(!a.topic.contains("lobby"));
    }
}
