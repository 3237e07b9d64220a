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
        ..
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
    // Slow blocks lower the difficulty; fast blocks raise it. Each branch is built on
    // its own copy: a builder keeps only branches close to its tip.
    let slow = branch(&mut builder.clone(), fork, 5, 60_000, 2);
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
    let losing = branch(&mut builder.clone(), prefix[2].hash(), 20, 10_000, 2);
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
        ..
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
        Ok(Accepted::Stored {
            tip_change: None,
            ..
        })
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

#[test]
fn a_branch_far_behind_the_tip_is_held_not_stored_and_buried_branches_are_pruned() {
    let mut builder = Chain::new(params());
    let main = branch(&mut builder.clone(), genesis(), 20, 10_000, 1);
    // A junk branch off genesis: each block costs one block of work, while the tip is
    // twenty ahead. Storing them would let a peer fill our storage for next to nothing.
    let junk = branch(&mut builder, genesis(), 10, 10_000, 2);
    let mut chain = Chain::new(params());
    for block in &main {
        chain.process_block(block.clone(), LATER).unwrap();
    }
    for block in &junk {
        assert_eq!(
            chain.process_block(block.clone(), LATER),
            Ok(Accepted::Held)
        );
    }
    assert_eq!(chain.stored_count(), 21, "genesis and the main chain only");
    assert_eq!(chain.held_count(), 10);

    // A rival to the tip is stored, then pruned once the tip is buried under it by more
    // than the allowed deficit; the result names it so storage can forget it too.
    let mut rival_builder = chain.clone();
    let rival = branch(&mut rival_builder, main[18].hash(), 1, 10_000, 3);
    assert!(matches!(
        chain.process_block(rival[0].clone(), LATER),
        Ok(Accepted::Stored {
            tip_change: None,
            ..
        })
    ));
    let mut main_builder = chain.clone();
    let more = branch(&mut main_builder, main[19].hash(), 8, 10_000, 1);
    let mut pruned = Vec::new();
    for block in &more {
        if let Ok(Accepted::Stored { pruned: p, .. }) = chain.process_block(block.clone(), LATER) {
            pruned.extend(p);
        }
    }
    assert_eq!(pruned, [rival[0].hash()]);
    assert!(!chain.knows(&rival[0].hash()));
    assert_eq!(chain.stored_count(), 29);
}

#[test]
fn a_heavier_branch_from_a_deep_fork_still_wins_block_by_block() {
    // Two halves of a class mined apart; when they meet, the lighter half receives the
    // other branch from the fork point on, each block far behind its own tip at first.
    let mut builder = Chain::new(params());
    let prefix = branch(&mut builder, genesis(), 2, 10_000, 1);
    let ours = branch(&mut builder.clone(), prefix[1].hash(), 15, 10_000, 1);
    let theirs = branch(&mut builder, prefix[1].hash(), 25, 10_000, 2);
    let mut chain = Chain::new(params());
    for block in prefix.iter().chain(&ours).chain(&theirs) {
        chain.process_block(block.clone(), LATER).unwrap();
    }
    assert_eq!(chain.tip(), theirs[24].hash());
    assert_eq!(chain.held_count(), 0);
}

#[test]
fn header_runs_are_checked_in_context() {
    let p = Params {
        initial_difficulty: 16,
        ..params()
    };
    let mut builder = Chain::new(p.clone());
    // Fast blocks: the difficulty climbs.
    let blocks = branch(&mut builder, p.genesis().hash(), 6, 1_000, 1);
    let headers: Vec<_> = blocks.iter().map(|b| b.header).collect();
    let chain = Chain::new(p);
    let context = chain.check_headers(&headers, LATER).unwrap().unwrap();
    assert_eq!(context.hash(), blocks[5].hash());
    assert_eq!(context.height(), 6);

    // A header that meets its own, lower difficulty but not the one its parent requires:
    // header sync must refuse it as block validation would.
    let mut cheap = headers.clone();
    cheap[3].difficulty = 1;
    cheap[3].nonce = 0;
    assert!(tabchain_core::pow::solve(&mut cheap[3]));
    let required = builder.next_difficulty(&blocks[2].hash()).unwrap();
    assert_eq!(
        chain.check_headers(&cheap[..4], LATER),
        Err((
            3,
            BlockError::BadDifficulty {
                expected: required,
                got: 1
            }
        ))
    );
}
