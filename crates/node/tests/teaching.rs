//! What the page's teaching panels read from a node: the tip each peer is on, and what
//! peers do with a block a person altered and offered to them.

mod common;

use common::*;
use tabchain_core::{pow, BlockError};
use tabchain_node::{DropReason, Event, Misbehaviour, NodeEvent};

/// Two linked nodes after the first mined a block and both took it.
fn linked_with_a_block() -> (Duo, tabchain_core::Block) {
    let mut duo = Duo::new(node(1), node(2));
    duo.link(b"ab", b"ab");
    let block = chain(1).remove(0);
    let now = duo.now;
    duo.a
        .handle_event(now, Event::MinedBlock(block.clone()))
        .unwrap();
    duo.pump();
    (duo, block)
}

#[test]
fn each_side_knows_the_tip_the_other_holds() {
    let (mut duo, block) = linked_with_a_block();
    let now = duo.now;
    assert_eq!(duo.b.tip(), block.hash());
    // A pushed the block it mined to B.
    let (ida, idb) = (duo.a.id(), duo.b.id());
    assert_eq!(duo.b.peer(&ida).unwrap().best_hash(), block.hash());
    assert_eq!(duo.a.peer(&idb).unwrap().best_hash(), block.hash());
    assert_eq!(duo.a.peer(&idb).unwrap().best_height(), 1);
    // The block's trail on each side: A mined it and pushed it to B (nobody else can
    // have a block just mined); B had it from A, its push counting as A's announcement.
    // A later announcement of it is a duplicate.
    let trail = duo.a.trail(&block.hash()).unwrap();
    assert_eq!(trail.arrived.map(|(from, _)| from), Some(None));
    assert!(trail.told.is_empty() && trail.served.is_empty());
    assert_eq!(
        trail.pushed.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        vec![idb]
    );
    let sent = trail.bytes_out;
    assert!(sent > 0);
    let trail = duo.b.trail(&block.hash()).unwrap();
    assert!(trail.announced.is_empty(), "pushed, not announced");
    assert_eq!(trail.arrived.map(|(from, _)| from), Some(Some(ida)));
    assert_eq!(trail.bytes_in, sent);
    let inv = tabchain_node::Message::Inv(vec![tabchain_node::InvItem::Block(block.hash())]);
    duo.b
        .handle_event(
            now,
            Event::Message {
                peer: ida,
                bytes: inv.encode(),
            },
        )
        .unwrap();
    assert_eq!(duo.b.trail(&block.hash()).unwrap().ignored.len(), 1);
}

#[test]
fn an_offered_tampered_block_is_refused_by_name_and_stored_by_nobody() {
    let (mut duo, block) = linked_with_a_block();
    let now = duo.now;
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
