//! One link at a time: the handshake and each reason it refuses, liveness, goodbye,
//! misbehaviour, relays, and the mining hooks.

mod common;

use common::*;
use tabchain_core::{Hash, NodeId, Params, Timestamp};
use tabchain_node::compact::{CompactBlock, Payment, PushKey, ShortId};
use tabchain_node::{
    Action, Config, DecodeError, DropReason, Event, HandshakeError, InvItem, Message, MessageKind,
    Misbehaviour, NodeEvent, Payee, PeerState, Roles, Version,
};

fn refused(error: HandshakeError) -> DropReason {
    DropReason::Refused(error)
}

#[test]
fn two_nodes_shake_hands_and_measure_rtt() {
    let mut duo = Duo::new(node(1), node(2));
    duo.link(b"fp", b"fp");
    let (ida, idb) = (duo.a.id(), duo.b.id());
    assert_eq!(duo.a.peer(&idb).unwrap().state(), PeerState::Connected);
    assert_eq!(duo.b.peer(&ida).unwrap().state(), PeerState::Connected);
    assert!(duo.out_a.events.contains(&NodeEvent::PeerState {
        peer: idb,
        state: PeerState::Handshaking
    }));
    duo.run_until(T0.saturating_add(2_100));
    // Pings every 500 ms, answered at once on this link.
    let peer = duo.a.peer(&idb).unwrap();
    assert_eq!(peer.rtt_history().count(), 4);
    assert_eq!(peer.rtt_ms(), Some(0));
    assert_eq!(peer.last_pong(), Some(T0.saturating_add(2_000)));
    assert!(duo.out_a.events.contains(&NodeEvent::Rtt {
        peer: idb,
        rtt_ms: 0
    }));
    assert!(duo.a.dropped_peers().next().is_none());
}

#[test]
fn a_peer_on_another_chain_is_refused() {
    let other = node_with(2, Config::default(), Params::for_tests("another room"));
    let mut duo = Duo::new(node(1), other);
    duo.link(b"fp", b"fp");
    let idb = duo.b.id();
    assert_eq!(
        duo.out_a.disconnects(),
        vec![(idb, refused(HandshakeError::WrongGenesis))]
    );
    assert!(duo.a.peer(&idb).is_none());
}

#[test]
fn a_signature_over_another_link_is_refused() {
    let mut duo = Duo::new(node(1), node(2));
    // Each side signs its own binding: neither signature covers the other's link.
    duo.link(b"link one", b"link two");
    assert_eq!(
        duo.out_a.disconnects(),
        vec![(duo.b.id(), refused(HandshakeError::BadSignature))]
    );
}

#[test]
fn a_key_that_is_not_the_dialled_id_is_refused() {
    let mut x = node(1);
    let impostor = Scripted::new(2);
    let expected = key(3).public_key().node_id();
    x.handle_event(
        T0,
        Event::PeerConnected {
            peer: expected,
            binding: impostor.binding.clone(),
        },
    )
    .unwrap();
    // The impostor's Version arrives on the link the driver believes leads to node 3.
    x.handle_event(
        T0,
        Event::Message {
            peer: expected,
            bytes: impostor.version(&params(), 0, Hash::ZERO).encode(),
        },
    )
    .unwrap();
    let out = drain(&mut x);
    assert_eq!(
        out.disconnects(),
        vec![(expected, refused(HandshakeError::IdentityMismatch))]
    );
}

#[test]
fn a_link_to_itself_is_refused() {
    let mut x = node(1);
    let own = x.id();
    x.handle_event(
        T0,
        Event::PeerConnected {
            peer: own,
            binding: vec![],
        },
    )
    .unwrap();
    assert_eq!(
        drain(&mut x).disconnects(),
        vec![(own, refused(HandshakeError::SelfConnection))]
    );
    // Its own key presented under another id, as a loop through the mesh would.
    let other = key(9).public_key().node_id();
    x.handle_event(
        T0,
        Event::PeerConnected {
            peer: other,
            binding: vec![7],
        },
    )
    .unwrap();
    let mirror = Version::new(
        &key(1),
        params().genesis().hash(),
        0,
        Hash::ZERO,
        Roles::TAB,
        None,
        &[7],
    );
    x.handle_event(
        T0,
        Event::Message {
            peer: other,
            bytes: Message::Version(mirror).encode(),
        },
    )
    .unwrap();
    assert_eq!(
        drain(&mut x).disconnects(),
        vec![(other, refused(HandshakeError::SelfConnection))]
    );
}

#[test]
fn a_second_link_to_the_same_node_is_refused_and_the_first_kept() {
    let mut x = node(1);
    let peer = Scripted::new(2);
    peer.connect(&mut x, T0, 0, Hash::ZERO);
    x.handle_event(
        T0,
        Event::PeerConnected {
            peer: peer.id,
            binding: vec![1],
        },
    )
    .unwrap();
    let out = drain(&mut x);
    assert_eq!(
        out.disconnects(),
        vec![(peer.id, refused(HandshakeError::DuplicateConnection))]
    );
    assert!(
        out.sent_to(peer.id).is_empty(),
        "nothing goes down the first link"
    );
    assert_eq!(x.peer(&peer.id).unwrap().state(), PeerState::Connected);
}

#[test]
fn another_protocol_version_is_refused() {
    let mut x = node(1);
    let peer = Scripted::new(2);
    peer.open_link(&mut x, T0);
    let Message::Version(mut version) = peer.version(&params(), 0, Hash::ZERO) else {
        unreachable!()
    };
    version.protocol = 7;
    peer.send(&mut x, T0, &Message::Version(version));
    assert_eq!(
        drain(&mut x).disconnects(),
        vec![(
            peer.id,
            refused(HandshakeError::ProtocolVersion { ours: 1, theirs: 7 })
        )]
    );
    // A node of another version says so in every frame's first byte, before its
    // Version can even be read: refused the same way, not banned as a liar.
    let newer = Scripted::new(3);
    newer.open_link(&mut x, T0);
    let mut frame = newer.version(&params(), 0, Hash::ZERO).encode();
    frame[0] = 2;
    newer.send_bytes(&mut x, T0, frame);
    assert_eq!(
        drain(&mut x).disconnects(),
        vec![(
            newer.id,
            refused(HandshakeError::ProtocolVersion { ours: 1, theirs: 2 })
        )]
    );
}

#[test]
fn a_full_node_refuses_more_links_and_says_why() {
    let config = Config {
        max_peers: 1,
        ..Config::default()
    };
    let mut x = node_with(1, config, params());
    Scripted::new(2).connect(&mut x, T0, 0, Hash::ZERO);
    let late = Scripted::new(3);
    late.open_link(&mut x, T0);
    let out = drain(&mut x);
    assert_eq!(out.sent_to(late.id), vec![Message::Goodbye]);
    assert_eq!(
        out.disconnects(),
        vec![(late.id, refused(HandshakeError::TooManyPeers))]
    );
}

#[test]
fn a_silent_link_times_out_in_the_handshake() {
    let mut x = node(1);
    let mute = Scripted::new(2);
    mute.open_link(&mut x, T0);
    drain(&mut x);
    let deadline = T0.saturating_add(x.config().handshake_timeout_ms);
    x.handle_timeout(Timestamp(deadline.0 - 1));
    assert!(drain(&mut x).disconnects().is_empty());
    x.handle_timeout(deadline);
    assert_eq!(
        drain(&mut x).disconnects(),
        vec![(mute.id, refused(HandshakeError::Timeout))]
    );
}

#[test]
fn a_peer_dropped_for_garbage_is_banned() {
    let mut x = node(1);
    let peer = Scripted::new(2);
    peer.connect(&mut x, T0, 0, Hash::ZERO);
    peer.send_bytes(&mut x, T0, vec![1, 0xee, 0xee]);
    let out = drain(&mut x);
    let why = DropReason::Misbehaved(Misbehaviour::Undecodable(DecodeError::UnknownKind));
    assert_eq!(out.disconnects(), vec![(peer.id, why)]);
    assert_eq!(x.dropped_peers().last().unwrap().reason, why);
    // Reconnecting does not help.
    x.handle_event(
        T0.saturating_add(1_000),
        Event::PeerConnected {
            peer: peer.id,
            binding: peer.binding.clone(),
        },
    )
    .unwrap();
    assert_eq!(
        drain(&mut x).disconnects(),
        vec![(peer.id, refused(HandshakeError::Banned))]
    );
}

#[test]
fn anything_but_the_handshake_first_is_out_of_turn() {
    let mut x = node(1);
    let peer = Scripted::new(2);
    peer.open_link(&mut x, T0);
    peer.send(&mut x, T0, &Message::Inv(vec![InvItem::Block(Hash::ZERO)]));
    assert_eq!(
        drain(&mut x).disconnects(),
        vec![(
            peer.id,
            DropReason::Misbehaved(Misbehaviour::OutOfTurn(MessageKind::Inv))
        )]
    );
    // A Verack before the Version ends the link, but is no reason for a ban: honest
    // tabs were seen to cause it while a link came up under load.
    let other = Scripted::new(3);
    other.open_link(&mut x, T0);
    other.send(&mut x, T0, &Message::Verack);
    assert_eq!(
        drain(&mut x).disconnects(),
        vec![(other.id, refused(HandshakeError::OutOfOrder))]
    );
    other.open_link(&mut x, T0);
    assert_eq!(
        drain(&mut x).disconnects(),
        vec![],
        "it may link again at once"
    );
}

#[test]
fn a_peer_that_stops_answering_goes_stale_then_is_dropped() {
    let mut duo = Duo::new(node(1), node(2));
    duo.link(b"fp", b"fp");
    let idb = duo.b.id();
    duo.run_until(T0.saturating_add(1_000));
    let last_pong = duo.a.peer(&idb).unwrap().last_pong().unwrap();
    duo.cut = true; // b's tab froze: nothing comes back any more
    duo.run_until(last_pong.saturating_add(999));
    assert_eq!(duo.a.peer(&idb).unwrap().state(), PeerState::Connected);
    duo.run_until(last_pong.saturating_add(1_000));
    assert_eq!(duo.a.peer(&idb).unwrap().state(), PeerState::Stale);
    duo.run_until(last_pong.saturating_add(1_999));
    assert!(duo.a.peer(&idb).is_some());
    duo.run_until(last_pong.saturating_add(2_000));
    assert!(
        duo.a.peer(&idb).is_none(),
        "dropped 2 s after the last pong"
    );
    assert!(duo
        .out_a
        .disconnects()
        .contains(&(idb, DropReason::Timeout)));
    let stale = NodeEvent::PeerState {
        peer: idb,
        state: PeerState::Stale,
    };
    assert!(duo.out_a.events.contains(&stale));
}

#[test]
fn a_stale_peer_that_answers_again_is_connected_again() {
    let mut duo = Duo::new(node(1), node(2));
    duo.link(b"fp", b"fp");
    let idb = duo.b.id();
    duo.cut = true;
    duo.run_until(T0.saturating_add(1_200));
    assert_eq!(duo.a.peer(&idb).unwrap().state(), PeerState::Stale);
    duo.cut = false;
    duo.run_until(T0.saturating_add(1_600));
    assert_eq!(duo.a.peer(&idb).unwrap().state(), PeerState::Connected);
}

#[test]
fn goodbye_drops_at_once() {
    let mut duo = Duo::new(node(1), node(2));
    duo.link(b"fp", b"fp");
    let (ida, idb) = (duo.a.id(), duo.b.id());
    let now = duo.now;
    duo.b.shutdown(now);
    duo.pump();
    assert!(duo.a.peer(&idb).is_none());
    assert_eq!(duo.out_a.disconnects(), vec![(idb, DropReason::Goodbye)]);
    assert_eq!(duo.out_b.disconnects(), vec![(ida, DropReason::Shutdown)]);
    // A closed link the driver reports is dropped at once too, without a Disconnect.
    let mut x = node(3);
    let peer = Scripted::new(4);
    peer.connect(&mut x, T0, 0, Hash::ZERO);
    x.handle_event(T0, Event::PeerDisconnected { peer: peer.id })
        .unwrap();
    let out = drain(&mut x);
    assert!(out.disconnects().is_empty());
    assert!(out.events.contains(&NodeEvent::PeerDropped {
        peer: peer.id,
        reason: DropReason::Closed
    }));
}

#[test]
fn time_that_goes_backwards_is_ignored() {
    let mut duo = Duo::new(node(1), node(2));
    duo.link(b"fp", b"fp");
    let idb = duo.b.id();
    duo.cut = true;
    duo.a.handle_timeout(T0.saturating_add(1_500));
    duo.a.handle_timeout(T0); // an earlier time changes nothing
    assert_eq!(duo.a.now(), T0.saturating_add(1_500));
    assert_eq!(duo.a.peer(&idb).unwrap().state(), PeerState::Stale);
}

#[test]
fn signals_are_relayed_through_a_common_peer_and_spoofs_refused() {
    // b - c first, then a joins c and learns c's peers.
    let (mut a, mut b, mut c) = (node(1), node(2), node(3));
    let (ida, idb, idc) = (a.id(), b.id(), c.id());
    let mut nodes = [&mut a, &mut b, &mut c];
    let ids = [ida, idb, idc];
    let mut signals = Vec::new();
    type Three<'a> = [&'a mut tabchain_node::Node; 3];
    let pump = |nodes: &mut Three, signals: &mut Vec<(usize, Action)>| loop {
        let mut moved = false;
        for i in 0..3 {
            while let Some(action) = nodes[i].poll_action() {
                match action {
                    Action::Send { peer, bytes } => {
                        let j = ids.iter().position(|id| *id == peer).unwrap();
                        nodes[j]
                            .handle_event(
                                T0,
                                Event::Message {
                                    peer: ids[i],
                                    bytes,
                                },
                            )
                            .unwrap();
                        moved = true;
                    }
                    other @ Action::Signal { .. } => signals.push((i, other)),
                    _ => {}
                }
            }
        }
        if !moved {
            return;
        }
    };
    for (x, y) in [(1usize, 2usize), (0, 2)] {
        let binding = vec![x as u8, y as u8];
        nodes[x]
            .handle_event(
                T0,
                Event::PeerConnected {
                    peer: ids[y],
                    binding: binding.clone(),
                },
            )
            .unwrap();
        nodes[y]
            .handle_event(
                T0,
                Event::PeerConnected {
                    peer: ids[x],
                    binding,
                },
            )
            .unwrap();
        pump(&mut nodes, &mut signals);
    }
    assert!(nodes[0].peer(&idc).unwrap().neighbours().any(|n| n == idb));
    assert_eq!(
        nodes[0].send_signal(key(9).public_key().node_id(), vec![1]),
        Err(tabchain_node::SignalError::NoRoute)
    );
    nodes[0].send_signal(idb, b"offer".to_vec()).unwrap();
    pump(&mut nodes, &mut signals);
    assert_eq!(
        signals,
        vec![(
            1,
            Action::Signal {
                from: ida,
                payload: b"offer".to_vec()
            }
        )]
    );
    // A peer asking for a hop in someone else's name is lying.
    let mut c_via_a = node(4);
    let fake = Scripted::new(1);
    fake.connect(&mut c_via_a, T0, 0, Hash::ZERO);
    fake.send(
        &mut c_via_a,
        T0,
        &Message::Relay {
            to: idb,
            from: idc,
            payload: vec![],
        },
    );
    assert_eq!(
        drain(&mut c_via_a).disconnects(),
        vec![(fake.id, DropReason::Misbehaved(Misbehaviour::BadRelay))]
    );
}

#[test]
fn templates_follow_the_tip_and_the_mempool() {
    let mut x = node(1);
    let address = key(1).public_key().address();
    x.set_mining(T0, Some(address));
    let out = drain(&mut x);
    let Some(Action::MineTemplate(template)) = out.actions.first().cloned() else {
        panic!("a template at once: {:?}", out.actions)
    };
    assert_eq!(template.header.prev, x.tip());
    let mut block = template;
    assert!(tabchain_core::pow::solve(&mut block.header));
    x.handle_event(T0, Event::MinedBlock(block.clone()))
        .unwrap();
    let out = drain(&mut x);
    assert!(out.actions.contains(&Action::StoreBlock(block.clone())));
    let next = out.actions.iter().find_map(|a| match a {
        Action::MineTemplate(t) => Some(t.clone()),
        _ => None,
    });
    assert_eq!(
        next.as_ref().unwrap().header.prev,
        block.hash(),
        "a new tip, a new template"
    );
    assert!(out.events.contains(&NodeEvent::NewTip {
        hash: block.hash(),
        height: 1
    }));
    // A solution the node refuses (here: one timed before its parent) still gets the
    // miner a template on the current tip, instead of leaving it idle.
    let mut refused = next.clone().unwrap();
    refused.header.time = Timestamp(0);
    assert!(tabchain_core::pow::solve(&mut refused.header));
    assert!(x.handle_event(T0, Event::MinedBlock(refused)).is_err());
    let again = drain(&mut x).actions.iter().find_map(|a| match a {
        Action::MineTemplate(t) => Some(t.header.prev),
        _ => None,
    });
    assert_eq!(again, Some(block.hash()));
    // Coinbases mature before they can be spent: mine until the first one has.
    for _ in 1..params().coinbase_maturity {
        let mut block = x.ledger().template(address, T0);
        assert!(tabchain_core::pow::solve(&mut block.header));
        x.handle_event(T0, Event::MinedBlock(block)).unwrap();
    }
    drain(&mut x);
    // A payment changes the template too; the node's wallet pays its configured fee.
    let wallet = tabchain_core::Wallet::new(key(1));
    let to = key(2).public_key().address();
    // Coins another tab of the same wallet is spending are left alone.
    let reserved: std::collections::HashSet<_> = x
        .ledger()
        .spendable(&wallet.address())
        .into_iter()
        .map(|(outpoint, _)| outpoint)
        .collect();
    assert!(!reserved.is_empty());
    assert!(x.pay(T0, &wallet, to, 5, &reserved).is_err());
    let id = x.pay(T0, &wallet, to, 5, &Default::default()).unwrap();
    let out = drain(&mut x);
    let tx = x
        .ledger()
        .mempool()
        .get(&id)
        .expect("in the mempool")
        .tx
        .clone();
    assert_eq!(
        tx.outputs.iter().map(|o| o.value).sum::<u64>() + Config::default().payment_fee,
        params().block_reward
    );
    let next = out.actions.iter().find_map(|a| match a {
        Action::MineTemplate(t) => Some(t.clone()),
        _ => None,
    });
    assert!(next.unwrap().transactions.contains(&tx));
    assert!(out.events.contains(&NodeEvent::MempoolChanged {
        transactions: 1,
        bytes: tx.encode().len()
    }));
    // The same payment again is the caller's mistake, not a peer's.
    assert!(x.handle_event(T0, Event::SubmitTx(tx)).is_err());
    x.set_mining(T0, None);
    assert_eq!(drain(&mut x).actions, vec![Action::StopMining]);
}

#[test]
fn unrequested_data_and_inv_floods_cost_points() {
    let mut x = node(1);
    // The first four peers linked are asked to push blocks; the fifth is not.
    for n in 3..7 {
        Scripted::new(n).connect(&mut x, T0, 0, Hash::ZERO);
    }
    let (miner, peer) = (Scripted::new(7), Scripted::new(2));
    miner.connect(&mut x, T0, 0, Hash::ZERO);
    peer.connect(&mut x, T0, 0, Hash::ZERO);
    let block = chain(1).remove(0);
    // A block nobody told us of yet is welcome unasked: a miner pushes its own.
    miner.send(&mut x, T0, &Message::Block(block.clone()));
    let out = drain(&mut x);
    assert_eq!(x.tip(), block.hash());
    assert!(!out
        .events
        .iter()
        .any(|e| matches!(e, NodeEvent::Misbehaved { .. })));
    // Another peer, not asked to push, sends the same block: it may be a miner's push
    // that crossed the block's arrival from the miner's neighbour. Once is forgiven.
    peer.send(&mut x, T0, &Message::Block(block.clone()));
    assert_eq!(misbehaved(&drain(&mut x)), vec![]);
    // Tried: the same block again: bytes that asking first would have saved.
    peer.send(&mut x, T0, &Message::Block(block.clone()));
    let out = drain(&mut x);
    assert!(out.events.contains(&NodeEvent::Misbehaved {
        peer: peer.id,
        what: Misbehaviour::UnrequestedData(MessageKind::Block),
        score: 25
    }));
    // Tried: a third peer sends that block once the tip has moved past it: no push
    // crosses an arrival that long ago.
    let mut child = x.ledger().template(key(9).public_key().address(), T0);
    assert!(tabchain_core::pow::solve(&mut child.header));
    miner.send(&mut x, T0, &Message::Block(child.clone()));
    drain(&mut x);
    assert_eq!(x.tip(), child.hash());
    let third = Scripted::new(8);
    third.connect(&mut x, T0, 0, Hash::ZERO);
    third.send(&mut x, T0, &Message::Block(block.clone()));
    assert_eq!(
        misbehaved(&drain(&mut x)),
        vec![(third.id, Misbehaviour::UnrequestedData(MessageKind::Block))]
    );
    let flood: Vec<InvItem> = (0..1000u32)
        .map(|n| InvItem::Tx(Hash::digest(&n.to_le_bytes())))
        .collect();
    peer.send(&mut x, T0, &Message::Inv(flood.clone()));
    peer.send(&mut x, T0, &Message::Inv(flood.clone()));
    assert!(drain(&mut x).disconnects().is_empty(), "within the burst");
    peer.send(&mut x, T0, &Message::Inv(flood));
    assert_eq!(
        drain(&mut x).disconnects(),
        vec![(peer.id, DropReason::Misbehaved(Misbehaviour::InvFlood))]
    );
}

#[test]
fn a_proven_wallet_address_names_its_node_and_a_copied_one_is_a_forgery() {
    let mut x = node(1);
    let wallet = key(40);
    let honest = Scripted::new(2);
    honest.open_link(&mut x, T0);
    let Message::Version(mut version) = honest.version(&params(), 0, Hash::ZERO) else {
        unreachable!()
    };
    let payee = Payee::new(&wallet, &honest.key.public_key());
    version.payee = Some(payee.clone());
    honest.send(&mut x, T0, &Message::Version(version));
    assert!(drain(&mut x).disconnects().is_empty());
    assert_eq!(x.payee_of(&wallet.public_key().address()), Some(honest.id));

    // Tried: another node presents the same proof, to have the honest tab's blocks
    // shown under its own name.
    let thief = Scripted::new(3);
    thief.open_link(&mut x, T0);
    let Message::Version(mut version) = thief.version(&params(), 0, Hash::ZERO) else {
        unreachable!()
    };
    version.payee = Some(payee);
    thief.send(&mut x, T0, &Message::Version(version));
    assert_eq!(
        drain(&mut x).disconnects(),
        vec![(thief.id, refused(HandshakeError::BadPayee))]
    );
    assert_eq!(x.payee_of(&wallet.public_key().address()), Some(honest.id));
}

#[test]
fn fast_peers_are_asked_to_push_and_new_blocks_are_pushed_to_whoever_asked() {
    let mut x = node(1);
    let peers: Vec<Scripted> = (2..8).map(Scripted::new).collect();
    let mut asked = Vec::new();
    for peer in &peers {
        let out = peer.connect(&mut x, T0, 0, Hash::ZERO);
        if out.sent_to(peer.id).contains(&Message::FastRelay(true)) {
            asked.push(peer.id);
        }
    }
    // Until blocks show who tells first, the first four linked are the fast peers.
    let first_four: Vec<NodeId> = peers[..4].iter().map(|p| p.id).collect();
    assert_eq!(asked, first_four);

    // Peer 6 tells us of a new block first: it becomes a fast peer, and the one that
    // told us first least recently is asked to stop.
    let blocks = chain(1);
    peers[4].send(
        &mut x,
        T0,
        &Message::Inv(vec![InvItem::Block(blocks[0].hash())]),
    );
    let out = drain(&mut x);
    assert!(out.sent_to(peers[4].id).contains(&Message::FastRelay(true)));
    assert!(out
        .sent_to(peers[0].id)
        .contains(&Message::FastRelay(false)));
    assert!(out
        .sent_to(peers[4].id)
        .contains(&Message::GetData(vec![InvItem::Block(blocks[0].hash())])));

    // Peer 7 asks us to push; the others only hear of the block. The push is compact.
    peers[5].send(&mut x, T0, &Message::FastRelay(true));
    peers[4].send(&mut x, T0, &Message::Block(blocks[0].clone()));
    let out = drain(&mut x);
    assert_eq!(x.tip(), blocks[0].hash());
    let compact = CompactBlock::of(&blocks[0], |_| false).unwrap();
    assert_eq!(
        out.sent_to(peers[5].id),
        vec![Message::CompactBlock(compact.clone())]
    );
    assert_eq!(
        out.sent_to(peers[0].id),
        vec![Message::Inv(vec![InvItem::Block(blocks[0].hash())])]
    );

    // Peer 2, asked to stop, may still push for a while, even a block we had: our word
    // may cross its push.
    peers[0].send(&mut x, T0, &Message::CompactBlock(compact));
    let out = drain(&mut x);
    assert!(!out
        .events
        .iter()
        .any(|e| matches!(e, NodeEvent::Misbehaved { .. })));
}

/// Six peers linked to `x`: the first four are its fast peers.
fn six_peers(x: &mut tabchain_node::Node) -> Vec<Scripted> {
    let peers: Vec<Scripted> = (2..8).map(Scripted::new).collect();
    for peer in &peers {
        peer.connect(x, T0, 0, Hash::ZERO);
    }
    peers
}

fn misbehaved(out: &Output) -> Vec<(NodeId, Misbehaviour)> {
    out.events
        .iter()
        .filter_map(|e| match e {
            NodeEvent::Misbehaved { peer, what, .. } => Some((*peer, *what)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_push_we_cannot_rebuild_is_asked_for_whole_once_and_its_pusher_is_not_blamed() {
    let mut x = node(1);
    let peers = six_peers(&mut x);
    let (pusher, announcer) = (&peers[5], &peers[4]);
    let blocks = chain(2);
    // Tried: a peer we did not ask to push (a miner pushes its own blocks to everyone)
    // pushes the second block before we have the first: its parent is unknown here.
    let compact = CompactBlock::of(&blocks[1], |_| false).unwrap();
    pusher.send(&mut x, T0, &Message::CompactBlock(compact.clone()));
    let out = drain(&mut x);
    let key = PushKey::of(&blocks[1].header);
    assert_eq!(out.sent_to(pusher.id), vec![Message::GetPushed(key)]);
    assert_eq!(misbehaved(&out), vec![]);
    // The same push again is not asked for twice.
    pusher.send(&mut x, T0, &Message::CompactBlock(compact));
    assert_eq!(drain(&mut x).sent_to(pusher.id), vec![]);
    // Meanwhile another peer announces it, and we fetch it there too.
    announcer.send(
        &mut x,
        T0,
        &Message::Inv(vec![InvItem::Block(blocks[1].hash())]),
    );
    drain(&mut x);
    // The whole block we asked for is no unrequested copy, though we were fetching it.
    pusher.send(&mut x, T0, &Message::Block(blocks[1].clone()));
    let out = drain(&mut x);
    assert_eq!(misbehaved(&out), vec![]);
    assert!(
        out.sent_to(pusher.id)
            .contains(&Message::GetData(vec![InvItem::Block(blocks[0].hash())])),
        "the parent is fetched from whoever sent the child"
    );
}

#[test]
fn a_peer_that_could_not_rebuild_our_push_gets_it_whole_once() {
    let mut x = node(1);
    let peers = six_peers(&mut x);
    let (teller, asker) = (&peers[0], &peers[5]);
    let block = chain(1).remove(0);
    asker.send(&mut x, T0, &Message::FastRelay(true));
    teller.send(&mut x, T0, &Message::Block(block.clone()));
    let out = drain(&mut x);
    let compact = CompactBlock::of(&block, |_| false).unwrap();
    assert_eq!(out.sent_to(asker.id), vec![Message::CompactBlock(compact)]);
    // Tried: a key of nothing we pushed it gets nothing.
    let other = PushKey {
        nonce: block.header.nonce + 1,
        ..PushKey::of(&block.header)
    };
    asker.send(&mut x, T0, &Message::GetPushed(other));
    assert_eq!(drain(&mut x).sent_to(asker.id), vec![]);
    let key = PushKey::of(&block.header);
    asker.send(&mut x, T0, &Message::GetPushed(key));
    assert_eq!(drain(&mut x).sent_to(asker.id), vec![Message::Block(block)]);
    // Tried: asking again, for bytes we already sent.
    asker.send(&mut x, T0, &Message::GetPushed(key));
    assert_eq!(
        misbehaved(&drain(&mut x)),
        vec![(asker.id, Misbehaviour::RepeatedRequest)]
    );
}

#[test]
fn a_payment_seen_just_now_is_pushed_whole_and_an_older_one_by_short_id() {
    let mut x = node(1);
    let peers = six_peers(&mut x);
    peers[5].send(&mut x, T0, &Message::FastRelay(true));
    let address = key(1).public_key().address();
    let mine = |x: &mut tabchain_node::Node, now: Timestamp| {
        let mut block = x.ledger().template(address, now);
        assert!(tabchain_core::pow::solve(&mut block.header));
        x.handle_event(now, Event::MinedBlock(block.clone()))
            .unwrap();
        (block, drain(x))
    };
    for _ in 0..=params().coinbase_maturity {
        mine(&mut x, T0);
    }
    let wallet = tabchain_core::Wallet::new(key(1));
    let to = key(2).public_key().address();
    let payments = |block: &tabchain_core::Block, out: &Output| {
        let compact = out.sent_to(peers[5].id).into_iter().find_map(|m| match m {
            Message::CompactBlock(c) => Some(c),
            _ => None,
        });
        assert_eq!(
            compact.as_ref().map(|c| c.payments.len()),
            Some(1),
            "{block:?}"
        );
        compact.unwrap().payments.remove(0)
    };
    // A payment made as the block is found may not have reached the peers yet.
    x.pay(T0, &wallet, to, 5, &Default::default()).unwrap();
    let (block, out) = mine(&mut x, T0);
    assert!(matches!(payments(&block, &out), Payment::Whole(_)));
    // One made a second before has had time to: only its short id goes.
    let later = Timestamp(T0.0 + 1_000);
    let id = x.pay(later, &wallet, to, 5, &Default::default()).unwrap();
    let (block, out) = mine(&mut x, Timestamp(later.0 + 1_000));
    assert_eq!(payments(&block, &out), Payment::Short(ShortId::of(&id)));
    // A payment first seen in a block a peer sent is new to our peers too, however
    // long ago it was made.
    let much_later = Timestamp(later.0 + 60_000);
    let coins = x.ledger().spendable(&wallet.address());
    let genesis = x.ledger().chain().genesis_hash();
    let unseen = wallet.pay(&coins, to, 7, 1, &genesis).unwrap();
    let mut block = x
        .ledger()
        .template(key(3).public_key().address(), much_later);
    block.transactions[0].outputs[0].value += 1;
    block.transactions.push(unseen);
    block.header.merkle_root = tabchain_core::Block::merkle_root_of(&block.transactions);
    assert!(tabchain_core::pow::solve(&mut block.header));
    peers[0].send(&mut x, much_later, &Message::Block(block.clone()));
    let out = drain(&mut x);
    assert_eq!(x.tip(), block.hash());
    assert!(matches!(payments(&block, &out), Payment::Whole(_)));
}
