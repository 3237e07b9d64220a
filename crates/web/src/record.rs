//! One stored block: the IndexedDB record's key is the block's hash in hex, its value the
//! block's encoding. Reading one back checks both, so a record damaged on disk (or by a
//! person with the devtools open) is caught before the node sees it.

use tabchain_core::Block;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the stored bytes do not decode as a block: {0}")]
    Undecodable(postcard::Error),
    #[error("the stored block hashes to {actual}, not to its key {key}")]
    WrongHash { key: String, actual: String },
}

pub fn key_of(block: &Block) -> String {
    block.hash().to_string()
}

pub fn decode(key: &str, bytes: &[u8]) -> Result<Block, RecordError> {
    let block: Block = postcard::from_bytes(bytes).map_err(RecordError::Undecodable)?;
    let actual = key_of(&block);
    if actual != key {
        return Err(RecordError::WrongHash {
            key: key.to_owned(),
            actual,
        });
    }
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::Params;

    #[test]
    fn a_record_reads_back_and_damage_is_caught() {
        let block = Params::for_tests("room").genesis();
        let key = key_of(&block);
        let bytes = block.encode();
        assert_eq!(decode(&key, &bytes), Ok(block.clone()));

        // Tried: a truncated value, a flipped byte in the header (still decodes, but
        // hashes differently), and a good block filed under another key.
        assert!(matches!(
            decode(&key, &bytes[..10]),
            Err(RecordError::Undecodable(_))
        ));
        let mut flipped = bytes.clone();
        flipped[8] ^= 0x01;
        assert!(matches!(
            decode(&key, &flipped),
            Err(RecordError::WrongHash { .. }) | Err(RecordError::Undecodable(_))
        ));
        assert!(matches!(
            decode(&"00".repeat(32), &bytes),
            Err(RecordError::WrongHash { .. })
        ));
    }
}
