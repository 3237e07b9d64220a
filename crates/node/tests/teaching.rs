//! What the page's teaching panels read from a node: the tip each peer is on, and what
//! peers do with a block a person altered and offered to them.

mod common;

use common::*;
use tabchain_core::{pow, BlockError};
use tabchain_node::{DropReason, Event, Misbehaviour, NodeEvent};

#[test]
fn each_side_knows_the_tip_the_other_holds() {
    let mut duo = Duo::new(node(1), node(2));
    duo.link(b"ab", b"ab");
    let block = chain(1).remove(0);
    let now = duo.now;
    duo.a
        .handle_event(now, Event::MinedBlock(block.clone()))
        .unwrap();
    duo.pump();
    assert_eq!(duo.b.tip(), block.hash());
    // B heard it announced and fetched it; A served it.
    let (ida, idb) = (duo.a.id(), duo.b.id());
    assert_eq!(duo.b.peer(&ida).unwrap().best_hash(), block.hash());
    assert_eq!(duo.a.peer(&idb).unwrap().best_hash(), block.hash());
    assert_eq!(duo.a.peer(&idb).unwrap().best_height(), 1);
}

#[test]
fn an_offered_tampered_block_is_refused_by_name_and_stored_by_nobody() {
    let mut duo = Duo::new(node(1), node(2));
    duo.link(b"ab", b"ab");
    let block = chain(1).remove(0);
    let now = duo.now;
    duo.a
        .handle_event(now, Event::MinedBlock(block.clone()))
        .unwrap();
    duo.pump();
    // More coins to the miner, and new work so that its hash is new and meets the
    // difficulty: only the merkle root gives it away.
    let mut tampered = block.clone();
    tampered.transactions[0].outputs[0].value += 1;
    tampered.header.nonce = 0;
    tampered.header.time = tampered.header.time.saturating_add(1);
    assert!(pow::solve(&mut tampered.header));
    assert_eq!(tampered.check(), Err(BlockError::BadMerkleRoot));

    assert_eq!(duo.a.offer_block(now, tampered.clone()), 1);
    duo.pump();
    let refused = Misbehaviour::InvalidBlock(BlockError::BadMerkleRoot);
    assert!(
        duo.out_b.events.iter().any(|e| matches!(e,
            NodeEvent::PeerDropped { reason: DropReason::Misbehaved(what), .. } if *what == refused)),
        "{:?}",
        duo.out_b.events
    );
    assert!(duo.b.peer(&duo.a.id()).is_none(), "B dropped A");
    for node in [&duo.a, &duo.b] {
        assert!(!node.ledger().chain().knows(&tampered.hash()));
        assert_eq!(node.tip(), block.hash());
    }
}
