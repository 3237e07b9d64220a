//! The proof-of-work search the miner runs: it hashes only the header's last 64-byte
//! SHA-256 block per nonce, starting from the cached state after the first block (the
//! midstate). The browser's worker calls exactly this code, or [`lanes`], which finds
//! the same nonces four at a time.

pub mod lanes;

use std::ops::Range;

use sha2::digest::generic_array::GenericArray;

use crate::hash::Hash;
use crate::header::{meets_difficulty, Header};

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Where the nonce lands in the second SHA-256 block.
const TAIL_NONCE: usize = Header::NONCE_OFFSET - 64;

/// A header prepared for mining: the state after its first 64 bytes, and its padded tail.
#[derive(Debug, Clone)]
pub struct PowSearch {
    midstate: [u32; 8],
    tail: [u8; 64],
    difficulty: u64,
}

impl PowSearch {
    pub fn new(header: &Header) -> PowSearch {
        let bytes = header.encode();
        let mut midstate = SHA256_IV;
        sha2::compress256(&mut midstate, &[*GenericArray::from_slice(&bytes[..64])]);
        let mut tail = [0; 64];
        let rest = &bytes[64..];
        tail[..rest.len()].copy_from_slice(rest);
        tail[rest.len()] = 0x80;
        tail[56..].copy_from_slice(&((Header::SIZE as u64) * 8).to_be_bytes());
        PowSearch {
            midstate,
            tail,
            difficulty: header.difficulty,
        }
    }

    /// The header's hash with this nonce: one SHA-256 compression.
    pub fn hash(&self, nonce: u64) -> Hash {
        let mut block = self.tail;
        block[TAIL_NONCE..TAIL_NONCE + 8].copy_from_slice(&nonce.to_le_bytes());
        let mut state = self.midstate;
        sha2::compress256(&mut state, &[GenericArray::from(block)]);
        let mut out = [0; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        Hash(out)
    }

    /// The first nonce in `nonces` whose hash meets the difficulty.
    pub fn search(&self, nonces: Range<u64>) -> Option<u64> {
        nonces
            .into_iter()
            .find(|&nonce| meets_difficulty(&self.hash(nonce), self.difficulty))
    }
}

/// Solves `header` in place by trying every nonce from zero: for tests, simulations and
/// tiny difficulties. Returns false only if no `u64` nonce works.
pub fn solve(header: &mut Header) -> bool {
    match PowSearch::new(header).search(0..u64::MAX) {
        Some(nonce) => {
            header.nonce = nonce;
            true
        }
        None => false,
    }
}

/// The same search hashing the whole header per nonce: the baseline the midstate beats.
pub fn search_full_hash(header: &Header, nonces: Range<u64>) -> Option<u64> {
    let mut header = *header;
    nonces.into_iter().find(|&nonce| {
        header.nonce = nonce;
        header.meets_difficulty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn header(difficulty: u64) -> Header {
        Header {
            version: 1,
            prev: Hash::digest(b"parent"),
            merkle_root: Hash::digest(b"txs"),
            time: Timestamp(1_700_000_000_000),
            difficulty,
            nonce: 0,
        }
    }

    #[test]
    fn midstate_hash_equals_the_full_hash() {
        let h = header(1);
        let search = PowSearch::new(&h);
        for nonce in [0, 1, 255, 1 << 40, u64::MAX] {
            let full = Header { nonce, ..h }.hash();
            assert_eq!(search.hash(nonce), full, "nonce {nonce}");
        }
    }

    #[test]
    fn both_searches_find_the_same_first_nonce() {
        let h = header(64);
        let found = PowSearch::new(&h)
            .search(0..100_000)
            .expect("1 in 64 hashes meets it");
        assert_eq!(search_full_hash(&h, 0..100_000), Some(found));
        assert!(Header { nonce: found, ..h }.meets_difficulty());
        assert_eq!(PowSearch::new(&h).search(0..found), None);
    }
}
