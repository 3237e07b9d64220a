//! What a node keeps in storage: a stored chain reloads whole whatever order the store
//! hands it back in, damaged records are named for deletion, and over a long run the
//! side branches left behind leave memory and storage both.

mod common;

use std::collections::HashSet;

use common::*;
use tabchain_core::{
    pow, Block, BlockError, Hash, Header, Ledger, LoadError, Output, Timestamp, Transaction,
};
use tabchain_node::{Action, Event};

#[test]
fn a_600_block_chain_filed_by_hash_reloads_to_height_600() {
    // The browser's store is keyed by block hash, so it hands blocks back in hash order.
    // Tried: the old way, `Event::LoadBlock` for each record in that order, reloaded a
    // 300-block chain to height 13 and a 600-block one to height 1: children waited in
    // the 256-block orphan pool for parents still to come, and were evicted
    // (tabchain-core's tests/load.rs shows the same of the chain fed one by one).
    let blocks = chain(600);
    let mut by_key = records(&blocks);
    by_key.sort_by_key(|(key, _)| key.to_string());
    let mut x = node(1);
    let report = x.load_stored(T0, by_key);
    assert_eq!(x.height(), 600);
    assert_eq!(x.tip(), blocks[599].hash());
    assert_eq!((report.stored.len(), report.refused.len()), (600, 0));
    assert!(
        drain(&mut x).actions.is_empty(),
        "nothing to store, forget or send"
    );
}

#[test]
fn damaged_records_are_forgotten_their_descendants_kept_and_the_rest_loads() {
    let blocks = chain(12);
    let mut stored = records(&blocks);
    // Block 12 edited in place: it no longer hashes to its key.
    stored[11].1.header.time = Timestamp(stored[11].1.header.time.0 + 1);
    // Block 11's payment list changed under the same header.
    stored[10].1.transactions[0].outputs[0].value -= 1;
    // Block 6 lost: 7 to 10 cannot connect to genesis.
    stored.remove(5);

    let mut x = node(1);
    let report = x.load_stored(T0, stored);
    assert_eq!(x.tip(), blocks[4].hash());
    let mut edited = blocks[11].header;
    edited.time = Timestamp(edited.time.0 + 1);
    let mut expected = vec![
        (
            blocks[11].hash(),
            LoadError::WrongKey {
                actual: edited.hash(),
            },
        ),
        (
            blocks[10].hash(),
            LoadError::Invalid(BlockError::BadMerkleRoot),
        ),
    ];
    let mut waiting = report.waiting.clone();
    waiting.sort();
    let mut lost_descendants: Vec<Hash> = blocks[6..10].iter().map(Block::hash).collect();
    lost_descendants.sort();
    assert_eq!(waiting, lost_descendants, "7 to 10 wait for 6, kept");
    let mut refused = report.refused.clone();
    refused.sort_by_key(|(key, _)| *key);
    expected.sort_by_key(|(key, _)| *key);
    assert_eq!(refused, expected);

    let forgotten: HashSet<Hash> = drain(&mut x)
        .actions
        .into_iter()
        .filter_map(|action| match action {
            Action::ForgetBlock(key) => Some(key),
            _ => None,
        })
        .collect();
    let keys: HashSet<Hash> = expected.iter().map(|(key, _)| *key).collect();
    assert_eq!(
        forgotten, keys,
        "storage deletes exactly the refused records"
    );
}

/// A rival of the tip: a block on the tip's parent, stamped a moment after the tip.
fn rival(ledger: &Ledger, pay_to: tabchain_core::Address) -> Block {
    let chain = ledger.chain();
    let tip = chain.tip_header();
    let transactions = vec![Transaction::coinbase(
        chain.height(),
        vec![Output {
            value: chain.params().block_reward,
            address: pay_to,
        }],
    )];
    let mut header = Header {
        version: Header::VERSION,
        prev: tip.prev,
        merkle_root: Block::merkle_root_of(&transactions),
        time: tip.time.saturating_add(1),
        difficulty: chain.next_difficulty(&tip.prev).unwrap(),
        nonce: 0,
    };
    assert!(pow::solve(&mut header));
    Block {
        header,
        transactions,
    }
}

#[test]
fn side_branches_left_behind_leave_memory_and_storage() {
    let mut x = node(1);
    let mut builder = Ledger::new(params());
    let (miner, loser) = (key(1).public_key().address(), key(2).public_key().address());
    let mut kept: HashSet<Hash> = HashSet::new();
    let mut rivals = Vec::new();
    for n in 1..=200u64 {
        let time = tabchain_core::params::GENESIS_TIME.saturating_add(n * 10_000);
        let mut block = builder.template(miner, time);
        assert!(pow::solve(&mut block.header));
        builder.submit_block(block.clone(), T0).unwrap();
        x.handle_event(T0, Event::MinedBlock(block)).unwrap();
        if n % 5 == 0 {
            let side = rival(&builder, loser);
            builder.submit_block(side.clone(), T0).unwrap();
            x.handle_event(T0, Event::MinedBlock(side.clone())).unwrap();
            rivals.push(side.hash());
        }
        for action in drain(&mut x).actions {
            match action {
                Action::StoreBlock(block) => {
                    kept.insert(block.hash());
                }
                Action::ForgetBlock(hash) => {
                    kept.remove(&hash);
                }
                _ => {}
            }
        }
    }
    assert_eq!(x.height(), 200);
    let chain = x.ledger().chain();
    // Each rival is dropped once the tip is more than six blocks of work past it.
    let recent = rivals.iter().filter(|h| chain.block(h).is_some()).count();
    assert_eq!(
        recent, 2,
        "only the rivals of blocks 195 and 200 are still kept"
    );
    assert_eq!(chain.stored_count(), 200 + 1 + recent);
    assert_eq!(kept.len(), 200 + recent, "storage keeps what memory keeps");
}

#[test]
fn an_imported_chain_is_checked_stored_and_its_damage_named() {
    let blocks = chain(20);
    let mut x = node(1);
    let report = x.import(T0, blocks.clone());
    assert_eq!(x.height(), 20);
    assert_eq!(report.stored.len(), 20);
    // Unlike blocks read back from storage, these are written.
    let stored: Vec<Hash> = drain(&mut x)
        .actions
        .into_iter()
        .filter_map(|action| match action {
            Action::StoreBlock(block) => Some(block.hash()),
            _ => None,
        })
        .collect();
    assert_eq!(stored, blocks.iter().map(Block::hash).collect::<Vec<_>>());

    // Tried: a file whose block 5 pays its miner one unit more than it says.
    let mut damaged = blocks.clone();
    damaged[4].transactions[0].outputs[0].value += 1;
    let mut y = node(2);
    let report = y.import(T0, damaged.clone());
    assert_eq!(y.height(), 4);
    assert_eq!(
        report.refused,
        [(
            damaged[4].hash(),
            LoadError::Invalid(BlockError::BadMerkleRoot)
        )]
    );
    assert_eq!(report.waiting.len(), 15, "6 to 20 cannot connect");
}
