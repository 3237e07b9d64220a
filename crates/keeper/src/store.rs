//! The room's blocks on disk: one redb table from block hash to the block's encoding.
//!
//! A write is one transaction, committed with redb's default durability (fsync before
//! `commit` returns), so every block the keeper counts as stored survives `kill -9`
//! and a power cut; a crash mid-write leaves the last committed state, never half of
//! one. Reading back only parses records: [`tabchain_node::Node::load_stored`] checks
//! that each block hashes to its key and fits the chain.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tabchain_core::{Block, Hash};

const BLOCKS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("blocks");

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the block database: {0}")]
    Open(#[from] redb::DatabaseError),
    #[error("block database transaction failed: {0}")]
    Transaction(#[from] redb::TransactionError),
    #[error("block database table failed: {0}")]
    Table(#[from] redb::TableError),
    #[error("block database read or write failed: {0}")]
    Storage(#[from] redb::StorageError),
    #[error("block database commit failed: {0}")]
    Commit(#[from] redb::CommitError),
}

/// What was read back: the blocks, and the keys of records that did not decode (they
/// are deleted, and the node fetches those blocks again from its peers).
#[derive(Debug, Default)]
pub struct Loaded {
    pub blocks: Vec<(Hash, Block)>,
    pub undecodable: Vec<Hash>,
}

#[derive(Debug)]
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens the database at `path`, creating it (and its table) if there is none.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(BLOCKS)?;
        txn.commit()?;
        Ok(Store { db })
    }

    /// Every stored block, in key order (the node puts them in chain order).
    pub fn load(&self) -> Result<Loaded, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOCKS)?;
        let mut loaded = Loaded::default();
        for record in table.iter()? {
            let (key, value) = record?;
            let hash = Hash(*key.value());
            match postcard::from_bytes::<Block>(value.value()) {
                Ok(block) => loaded.blocks.push((hash, block)),
                Err(_) => loaded.undecodable.push(hash),
            }
        }
        drop(table);
        drop(txn);
        if !loaded.undecodable.is_empty() {
            self.forget(&loaded.undecodable)?;
        }
        Ok(loaded)
    }

    /// Stores `blocks` in one durable transaction: all of them or none.
    pub fn put_all(&self, blocks: &[Block]) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(BLOCKS)?;
            for block in blocks {
                table.insert(&block.hash().0, block.encode().as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Deletes the records of `hashes` (blocks the node refused or let go).
    pub fn forget(&self, hashes: &[Hash]) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(BLOCKS)?;
            for hash in hashes {
                table.remove(&hash.0)?;
            }
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::Params;

    #[test]
    fn blocks_come_back_after_a_reopen_and_garbage_is_named_and_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blocks.redb");
        let genesis = Params::for_tests("keeper").genesis();
        {
            let store = Store::open(&path).unwrap();
            store.put_all(std::slice::from_ref(&genesis)).unwrap();
            // Tried: a record whose bytes are not a block.
            let txn = store.db.begin_write().unwrap();
            txn.open_table(BLOCKS)
                .unwrap()
                .insert(&[7; 32], [1u8, 2, 3].as_slice())
                .unwrap();
            txn.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded.blocks, vec![(genesis.hash(), genesis.clone())]);
        assert_eq!(loaded.undecodable, vec![Hash([7; 32])]);
        assert!(store.load().unwrap().undecodable.is_empty());
        store.forget(&[genesis.hash()]).unwrap();
        assert!(store.load().unwrap().blocks.is_empty());
    }
}
