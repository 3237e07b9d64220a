//! The block header: a fixed-size encoding with the nonce last, its hash, and the
//! proof-of-work rule.

use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::time::Timestamp;

/// What a block commits to. Its SHA-256 over [`Header::encode`] is the block's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub version: u32,
    /// The parent block's hash.
    pub prev: Hash,
    /// The merkle root of the block's transaction ids.
    pub merkle_root: Hash,
    pub time: Timestamp,
    /// Expected hashes to find a block: the hash, read as a number, must be at most
    /// `2^256 / difficulty`. It is also the block's work in fork choice.
    pub difficulty: u64,
    pub nonce: u64,
}

impl Header {
    pub const VERSION: u32 = 1;
    /// Bytes in the encoding. Between 64 and 119, so that everything after the first
    /// 64-byte SHA-256 block, padding included, fits in one more block.
    pub const SIZE: usize = 92;
    /// Where the nonce sits in the encoding: last.
    pub const NONCE_OFFSET: usize = Self::SIZE - 8;

    /// version ‖ prev ‖ merkle_root ‖ time ‖ difficulty ‖ nonce, integers little-endian.
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut out = [0; Self::SIZE];
        out[0..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..36].copy_from_slice(&self.prev.0);
        out[36..68].copy_from_slice(&self.merkle_root.0);
        out[68..76].copy_from_slice(&self.time.0.to_le_bytes());
        out[76..84].copy_from_slice(&self.difficulty.to_le_bytes());
        out[84..92].copy_from_slice(&self.nonce.to_le_bytes());
        out
    }

    pub fn hash(&self) -> Hash {
        Hash::digest(&self.encode())
    }

    /// Whether the header's hash meets its own difficulty.
    pub fn meets_difficulty(&self) -> bool {
        meets_difficulty(&self.hash(), self.difficulty)
    }
}

/// Whether `hash` is at most `2^256 / difficulty`. Comparing the top 128 bits against
/// `(2^128 - 1) / difficulty` is exact enough for any `u64` difficulty; zero meets nothing.
pub fn meets_difficulty(hash: &Hash, difficulty: u64) -> bool {
    if difficulty == 0 {
        return false;
    }
    let top = u128::from_be_bytes(hash.0[..16].try_into().expect("16 bytes"));
    top <= u128::MAX / u128::from(difficulty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_is_the_last_eight_bytes() {
        let mut header = Header {
            version: 1,
            prev: Hash::digest(b"p"),
            merkle_root: Hash::digest(b"m"),
            time: Timestamp(5),
            difficulty: 7,
            nonce: 0,
        };
        let before = header.encode();
        header.nonce = u64::MAX;
        let after = header.encode();
        assert_eq!(
            before[..Header::NONCE_OFFSET],
            after[..Header::NONCE_OFFSET]
        );
        assert_eq!(after[Header::NONCE_OFFSET..], [0xff; 8]);
    }

    #[test]
    fn difficulty_bounds_the_hash() {
        let mut low = [0u8; 32];
        low[0] = 0x0f; // below 2^256 / 16
        let mut high = [0u8; 32];
        high[0] = 0x10; // above it
        assert!(meets_difficulty(&Hash(low), 16));
        assert!(!meets_difficulty(&Hash(high), 16));
        assert!(meets_difficulty(&Hash([0xff; 32]), 1));
        assert!(!meets_difficulty(&Hash([0; 32]), 0));
    }
}
