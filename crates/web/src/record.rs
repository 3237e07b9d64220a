//! One stored block: the IndexedDB record's key is the block's hash in hex, its value the
//! block's encoding. Reading one back only parses both; the node's
//! [`load_stored`](tabchain_node::Node::load_stored) checks that the block hashes to its
//! key and fits the chain, so a record damaged on disk (or by a person with the devtools
//! open) is caught before it counts.

use tabchain_core::{Block, Hash};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the key {0:?} is not a block hash")]
    BadKey(String),
    #[error("the stored bytes do not decode as a block: {0}")]
    Undecodable(postcard::Error),
}

pub fn key_of(block: &Block) -> String {
    block.hash().to_string()
}

/// The hash a record was filed under, and its block.
pub fn decode(key: &str, bytes: &[u8]) -> Result<(Hash, Block), RecordError> {
    let hash = tabchain_core::keys::parse_hex::<32>(key)
        .map(Hash)
        .map_err(|_| RecordError::BadKey(key.to_owned()))?;
    let block = postcard::from_bytes(bytes).map_err(RecordError::Undecodable)?;
    Ok((hash, block))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::Params;

    #[test]
    fn a_record_reads_back_and_unreadable_ones_are_named() {
        let block = Params::for_tests("room").genesis();
        let key = key_of(&block);
        let bytes = block.encode();
        assert_eq!(decode(&key, &bytes), Ok((block.hash(), block.clone())));
        // Tried: a truncated value, and a key that is not a hash. (A block filed under
        // another block's key decodes here; the node refuses it on load.)
        assert!(matches!(
            decode(&key, &bytes[..10]),
            Err(RecordError::Undecodable(_))
        ));
        assert_eq!(
            decode("tip", &bytes),
            Err(RecordError::BadKey("tip".into()))
        );
    }
}
