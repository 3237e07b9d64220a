//! Fork choice, reorgs and orphans in the block tree.

mod common;

use common::*;
use tabchain_core::{Accepted, Block, BlockError, Chain, Params};

fn params() -> Params {
    Params::for_tests("chain")
}

fn genesis() -> tabchain_core::Hash {
    params().genesis().hash()
}

/// `count` blocks on `parent`, `spacing_ms` apart, built in `builder` (which stores
/// them so the next can be built on them) and returned for another chain to receive.
fn branch(
    builder: &mut Chain,
    parent: tabchain_core::Hash,
    count: usize,
    spacing_ms: u64,
    miner: u8,
) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut parent = parent;
    for _ in 0..count {
        let block = child(builder, parent, vec![], 0, address(miner), spacing_ms);
        parent = block.hash();
        builder.process_block(block.clone(), LATER).unwrap();
        blocks.push(block);
    }
    blocks
}

#[test]
fn orphans_wait_for_their_parents_then_connect() {
    let mut builder = Chain::new(params());
    let blocks = branch(&mut builder, genesis(), 5, 10_000, 1);
    let mut chain = Chain::new(params());
    // Each waits, naming the nearest ancestor that is neither stored nor waiting.
    for (index, missing) in [(2, 1), (3, 1), (4, 1), (1, 0)] {
        let outcome = chain.process_block(blocks[index].clone(), LATER).unwrap();
        assert_eq!(
            outcome,
            Accepted::Orphan {
                missing: blocks[missing].hash()
            }
        );
    }
    assert_eq!(chain.orphan_count(), 4);
    assert_eq!(
        chain.process_block(blocks[3].clone(), LATER),
        Ok(Accepted::Duplicate)
    );
    let Accepted::Stored {
        tip_change: Some(change),
    } = chain.process_block(blocks[0].clone(), LATER).unwrap()
    else {
        panic!("the parent arrives and the whole branch connects");
    };
    assert_eq!(
        change.connected,
        blocks.iter().map(Block::hash).collect::<Vec<_>>()
    );
    assert_eq!(chain.tip(), builder.tip());
    assert_eq!(chain.orphan_count(), 0);
    assert_eq!(chain.utxo(), builder.utxo());
}

#[test]
fn the_orphan_pool_is_bounded() {
    let mut builder = Chain::new(Params {
        max_orphans: 3,
        ..params()
    });
    let blocks = branch(&mut builder, genesis(), 6, 10_000, 1);
    let mut chain = Chain::new(Params {
        max_orphans: 3,
        ..params()
    });
    for block in &blocks[1..] {
        chain.process_block(block.clone(), LATER).unwrap();
    }
    assert_eq!(chain.orphan_count(), 3);
}

#[test]
fn equal_work_keeps_the_first_seen_tip() {
    let mut builder = Chain::new(params());
    let a = branch(&mut builder, genesis(), 2, 10_000, 1);
    let b = branch(&mut builder, genesis(), 2, 10_000, 2);
    for (first, second) in [(&a, &b), (&b, &a)] {
        let mut chain = Chain::new(params());
        for block in first.iter().chain(second.iter()) {
            chain.process_block(block.clone(), LATER).unwrap();
        }
        assert_eq!(chain.tip(), first[1].hash());
    }
}

#[test]
fn most_work_wins_over_most_blocks() {
    let p = Params {
        initial_difficulty: 16,
        ..params()
    };
    let mut builder = Chain::new(p.clone());
    let prefix = branch(&mut builder, p.genesis().hash(), 3, 10_000, 1);
    let fork = prefix[2].hash();
    // Slow blocks lower the difficulty; fast blocks raise it.
    let slow = branch(&mut builder, fork, 5, 60_000, 2);
    let fast = branch(&mut builder, fork, 3, 1_000, 3);
    let work = |blocks: &[Block]| blocks.iter().map(|b| b.header.difficulty).sum::<u64>();
    assert!(
        fast.len() < slow.len() && work(&fast) > work(&slow),
        "the scenario holds"
    );

    let mut chain = Chain::new(p);
    for block in prefix.iter().chain(&slow).chain(&fast) {
        chain.process_block(block.clone(), LATER).unwrap();
    }
    assert_eq!(chain.tip(), fast[2].hash());
    assert_eq!(chain.height(), 6);
}

#[test]
fn a_reorg_leaves_the_utxo_set_of_the_winning_branch() {
    let mut builder = Chain::new(params());
    let prefix = branch(&mut builder, genesis(), 3, 10_000, 1);
    let losing = branch(&mut builder, prefix[2].hash(), 20, 10_000, 2);
    let winning = branch(&mut builder, prefix[2].hash(), 21, 10_000, 3);

    let mut chain = Chain::new(params());
    for block in prefix.iter().chain(&losing) {
        chain.process_block(block.clone(), LATER).unwrap();
    }
    let mut outcome = None;
    for block in &winning {
        outcome = Some(chain.process_block(block.clone(), LATER).unwrap());
    }
    let Some(Accepted::Stored {
        tip_change: Some(change),
    }) = outcome
    else {
        panic!("the 21st block of the winning branch moves the tip");
    };
    assert_eq!(change.fork_height, 3);
    assert_eq!(
        change.disconnected,
        losing.iter().map(Block::hash).collect::<Vec<_>>()
    );
    assert_eq!(
        change.connected,
        winning.iter().map(Block::hash).collect::<Vec<_>>()
    );

    let mut straight = Chain::new(params());
    for block in prefix.iter().chain(&winning) {
        straight.process_block(block.clone(), LATER).unwrap();
    }
    assert_eq!(chain.utxo(), straight.utxo());
    assert!(chain.utxo().coins_of(&address(2)).is_empty());
}

#[test]
fn a_heavier_branch_with_an_invalid_block_is_abandoned() {
    let mut builder = Chain::new(params());
    let prefix = branch(&mut builder, genesis(), 1, 10_000, 1);
    let current = branch(&mut builder, prefix[0].hash(), 2, 10_000, 1);

    // b1 is fine, b2 claims too much, b3 builds on b2: only b3 makes the branch heavier.
    let b1 = child(&builder, prefix[0].hash(), vec![], 0, address(2), 10_000);
    builder.process_block(b1.clone(), LATER).unwrap();
    let mut b2 = child(&builder, b1.hash(), vec![], 0, address(2), 10_000);
    b2.transactions[0].outputs[0].value += 1;
    seal(&mut b2);
    let mut b3 = child(&builder, b1.hash(), vec![], 0, address(2), 10_000);
    b3.header.prev = b2.hash();
    b3.transactions[0].height = 4;
    seal(&mut b3);

    let mut chain = Chain::new(params());
    for block in prefix.iter().chain(&current) {
        chain.process_block(block.clone(), LATER).unwrap();
    }
    let utxo_before = chain.utxo().clone();
    chain.process_block(b1, LATER).unwrap();
    assert!(matches!(
        chain.process_block(b2.clone(), LATER),
        Ok(Accepted::Stored { tip_change: None })
    ));
    assert_eq!(
        chain.process_block(b3.clone(), LATER),
        Err(BlockError::InvalidParent)
    );
    assert_eq!(chain.tip(), current[1].hash());
    assert_eq!(chain.utxo(), &utxo_before);
    // Both are remembered as invalid and refused at once when seen again.
    assert!(matches!(
        chain.process_block(b2, LATER),
        Err(BlockError::CoinbaseTooLarge { .. })
    ));
    assert_eq!(
        chain.process_block(b3, LATER),
        Err(BlockError::InvalidParent)
    );
}

#[test]
fn locator_and_headers_after_find_the_fork() {
    let mut builder = Chain::new(params());
    let main = branch(&mut builder, genesis(), 30, 10_000, 1);
    let mut behind = Chain::new(params());
    for block in &main[..12] {
        behind.process_block(block.clone(), LATER).unwrap();
    }
    let locator = behind.locator();
    assert_eq!(locator[0], main[11].hash());
    assert_eq!(*locator.last().unwrap(), builder.genesis_hash());
    let headers = builder.headers_after(&locator, None, 100);
    assert_eq!(headers.len(), 18);
    assert_eq!(headers[0], main[12].header);
    assert_eq!(
        builder
            .headers_after(&locator, Some(main[14].hash()), 100)
            .len(),
        3
    );
    assert_eq!(builder.headers_after(&locator, None, 5).len(), 5);
    // A locator with nothing in common starts after genesis.
    assert_eq!(
        builder
            .headers_after(&[tabchain_core::Hash::ZERO], None, 100)
            .len(),
        30
    );
}
