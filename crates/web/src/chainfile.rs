//! A room's chain as a file: what the chain panel saves, and loads back (a lesson kept for
//! the next day, a chain a teacher prepared). The file names its room and genesis, so a
//! chain of another room (or other rules) is refused by name before any block is read;
//! the blocks themselves are then checked by the node like any peer's
//! ([`tabchain_node::Node::import`]).
//!
//! The format: postcard of [`ChainFile`], which starts with the 8 bytes `TABCHAIN`.

use serde::{Deserialize, Serialize};
use tabchain_core::{Block, Hash};

const MAGIC: [u8; 8] = *b"TABCHAIN";
const VERSION: u16 = 1;

/// The biggest file the page reads: 20 000 full blocks.
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

/// The suggested file name's extension.
pub const EXTENSION: &str = "tabchain";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ChainFile {
    magic: [u8; 8],
    version: u16,
    /// The room's name, to name it in an error.
    room: String,
    genesis: Hash,
    /// The active chain, oldest first, without the genesis.
    blocks: Vec<Block>,
}

/// Why a file is not a chain of this room.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFileError {
    #[error("this is not a tabchain chain file")]
    NotAChainFile,
    #[error("the file is {size} bytes; at most {MAX_FILE_BYTES} are read")]
    TooLarge { size: usize },
    #[error("the file is of a newer tabchain (format {0})")]
    Version(u16),
    #[error(
        "the file is a chain of room {room:?} (or of other rules): this room's genesis is another"
    )]
    OtherRoom { room: String },
    #[error("the file is cut short or damaged: {0}")]
    Truncated(String),
}

/// The file of `blocks` (oldest first) of room `room` with genesis `genesis`.
pub fn encode(room: &str, genesis: Hash, blocks: Vec<Block>) -> Vec<u8> {
    let file = ChainFile {
        magic: MAGIC,
        version: VERSION,
        room: room.to_owned(),
        genesis,
        blocks,
    };
    postcard::to_stdvec(&file).expect("encoding into a Vec cannot fail")
}

/// The blocks of a file of the room whose genesis is `genesis`.
pub fn decode(bytes: &[u8], genesis: Hash) -> Result<Vec<Block>, ChainFileError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ChainFileError::TooLarge { size: bytes.len() });
    }
    if !bytes.starts_with(&MAGIC) {
        return Err(ChainFileError::NotAChainFile);
    }
    // The header first, so another room's file is named as such even when cut short.
    let (_, rest) =
        postcard::take_from_bytes::<[u8; 8]>(bytes).map_err(|_| ChainFileError::NotAChainFile)?;
    let (version, rest) =
        postcard::take_from_bytes::<u16>(rest).map_err(|_| ChainFileError::NotAChainFile)?;
    if version != VERSION {
        return Err(ChainFileError::Version(version));
    }
    let (room, rest) = postcard::take_from_bytes::<String>(rest)
        .map_err(|err| ChainFileError::Truncated(err.to_string()))?;
    let (file_genesis, rest) = postcard::take_from_bytes::<Hash>(rest)
        .map_err(|err| ChainFileError::Truncated(err.to_string()))?;
    if file_genesis != genesis {
        return Err(ChainFileError::OtherRoom { room });
    }
    match postcard::take_from_bytes::<Vec<Block>>(rest) {
        Ok((blocks, [])) => Ok(blocks),
        Ok((_, extra)) => Err(ChainFileError::Truncated(format!(
            "{} bytes after the last block",
            extra.len()
        ))),
        Err(err) => Err(ChainFileError::Truncated(err.to_string())),
    }
}

/// The file name the page suggests: `<room>-height-<n>.tabchain`.
pub fn file_name(room: &str, height: u64) -> String {
    format!("{room}-height-{height}.{EXTENSION}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::{pow, Address, Ledger, Params};

    fn lesson(room: &str, count: u64) -> (Hash, Vec<Block>) {
        let params = Params::for_tests(room);
        let genesis = params.genesis().hash();
        let mut ledger = Ledger::new(params);
        let blocks = (1..=count)
            .map(|n| {
                let time = tabchain_core::params::GENESIS_TIME.saturating_add(n * 10_000);
                let mut block = ledger.template(Address([7; 20]), time);
                assert!(pow::solve(&mut block.header));
                ledger.submit_block(block.clone(), time).unwrap();
                block
            })
            .collect();
        (genesis, blocks)
    }

    #[test]
    fn a_saved_chain_loads_back_in_its_room_only() {
        let (genesis, blocks) = lesson("owls", 5);
        let file = encode("owls", genesis, blocks.clone());
        assert!(file.starts_with(b"TABCHAIN"));
        assert_eq!(decode(&file, genesis), Ok(blocks));
        // Tried: the file loaded in another room.
        let (larks, _) = lesson("larks", 0);
        assert_eq!(
            decode(&file, larks),
            Err(ChainFileError::OtherRoom {
                room: "owls".into()
            })
        );
        assert_eq!(file_name("owls", 5), "owls-height-5.tabchain");
    }

    #[test]
    fn damaged_files_are_refused_by_name() {
        let (genesis, blocks) = lesson("owls", 5);
        let file = encode("owls", genesis, blocks);
        // Tried: the file cut in half, cut inside its header, with bytes added, a
        // picture, and a file of a later format.
        assert!(matches!(
            decode(&file[..file.len() / 2], genesis),
            Err(ChainFileError::Truncated(_))
        ));
        assert!(matches!(
            decode(&file[..12], genesis),
            Err(ChainFileError::Truncated(_))
        ));
        let mut longer = file.clone();
        longer.extend_from_slice(b"junk");
        assert!(matches!(
            decode(&longer, genesis),
            Err(ChainFileError::Truncated(_))
        ));
        assert_eq!(
            decode(b"\x89PNG\r\n\x1a\n....", genesis),
            Err(ChainFileError::NotAChainFile)
        );
        let mut later = file.clone();
        later[8] = 2;
        assert_eq!(decode(&later, genesis), Err(ChainFileError::Version(2)));
    }
}
