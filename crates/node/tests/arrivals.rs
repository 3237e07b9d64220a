//! Blocks arriving out of order, twice, or before their parents: a node ends on the same
//! tip as the chain they came from, fetching what is missing.

mod common;

use common::*;
use tabchain_core::{Block, Hash, Ledger, OutPoint, Timestamp, Transaction, Utxo};
use tabchain_node::{Config, Event, Gossip, InvItem, Message, MessageKind, Node, NodeEvent};

const GET_DATA: MessageKind = MessageKind::GetData;

/// A scripted peer and the chain it serves.
struct Server {
    peer: Scripted,
    ledger: Ledger,
}

impl Server {
    fn new(n: u8, blocks: &[Block]) -> Server {
        let mut ledger = Ledger::new(params());
        for block in blocks {
            ledger.submit_block(block.clone(), T0).unwrap();
        }
        Server {
            peer: Scripted::new(n),
            ledger,
        }
    }
}

/// Answers `x`'s requests to each server, starting with those in `earlier` (what `x` did
/// before), until `x` asks for nothing more. Blocks asked for in one round are sent in
/// the order `scramble` gives.
fn serve(
    x: &mut Node,
    servers: &[Server],
    mut earlier: Vec<Output>,
    scramble: impl Fn(&mut Vec<Block>),
) -> Vec<NodeEvent> {
    let mut events = Vec::new();
    for _ in 0..1000 {
        let mut out = drain(x);
        for before in earlier.drain(..).rev() {
            out.actions.splice(0..0, before.actions);
            out.events.splice(0..0, before.events);
        }
        events.extend(out.events.iter().cloned());
        let mut replied = false;
        for server in servers {
            let mut blocks = Vec::new();
            for message in out.sent_to(server.peer.id) {
                match message {
                    Message::GetData(items) => {
                        for item in items {
                            let InvItem::Block(hash) = item else { continue };
                            blocks.push(server.ledger.chain().block(&hash).unwrap().clone());
                        }
                    }
                    Message::GetHeaders { locator, stop } => {
                        let headers = server.ledger.chain().headers_after(&locator, stop, 2000);
                        server.peer.send(x, T0, &Message::Headers(headers));
                        replied = true;
                    }
                    _ => {}
                }
            }
            scramble(&mut blocks);
            for block in blocks {
                server.peer.send(x, T0, &Message::Block(block));
                replied = true;
            }
        }
        if !replied {
            return events;
        }
    }
    panic!("the node kept asking");
}

fn no_penalties(events: &[NodeEvent]) {
    let penalties: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, NodeEvent::Misbehaved { .. }))
        .collect();
    assert!(penalties.is_empty(), "{penalties:?}");
}

#[test]
fn a_block_whose_parents_are_missing_brings_them_in() {
    let blocks = chain(12);
    let server = Server::new(2, &blocks);
    let mut x = node(1);
    // The peer claims nothing at the handshake, then announces only its tip.
    server
        .peer
        .connect(&mut x, T0, 0, params().genesis().hash());
    let tip = blocks.last().unwrap().hash();
    server
        .peer
        .send(&mut x, T0, &Message::Inv(vec![InvItem::Block(tip)]));
    let events = serve(&mut x, std::slice::from_ref(&server), vec![], |_| {});
    assert_eq!(x.tip(), tip);
    assert_eq!(x.height(), 12);
    no_penalties(&events);
}

#[test]
fn announcements_and_answers_in_any_order_from_two_peers_end_on_the_same_tip() {
    let blocks = chain(20);
    let servers = [Server::new(2, &blocks), Server::new(3, &blocks)];
    let mut x = node(1);
    for server in &servers {
        server
            .peer
            .connect(&mut x, T0, 0, params().genesis().hash());
    }
    // Each announces every block, in a different order, some twice.
    let hashes: Vec<Hash> = blocks.iter().map(Block::hash).collect();
    let mut backwards = hashes.clone();
    backwards.reverse();
    let mut by_hash = hashes.clone();
    by_hash.sort();
    for (server, order) in servers.iter().zip([backwards, by_hash]) {
        let mut items: Vec<InvItem> = order.into_iter().map(InvItem::Block).collect();
        items.extend(items.clone().into_iter().step_by(3));
        server.peer.send(&mut x, T0, &Message::Inv(items));
    }
    let events = serve(&mut x, &servers, vec![], |blocks| {
        blocks.sort_by_key(Block::hash)
    });
    assert_eq!(x.tip(), blocks.last().unwrap().hash());
    no_penalties(&events);
    let accepted = events
        .iter()
        .filter(|e| matches!(e, NodeEvent::BlockAccepted { .. }))
        .count();
    assert_eq!(accepted, 20, "each block taken in once");
}

#[test]
fn a_node_behind_syncs_header_first_and_shows_progress() {
    let blocks = chain(300);
    let tip = blocks.last().unwrap().hash();
    let servers = [Server::new(2, &blocks), Server::new(3, &blocks)];
    let mut x = node(1);
    // The handshake tells x how far behind it is.
    let handshakes = servers
        .iter()
        .map(|server| server.peer.connect(&mut x, T0, 300, tip))
        .collect();
    let events = serve(&mut x, &servers, handshakes, |_| {});
    assert_eq!(x.tip(), tip);
    no_penalties(&events);
    let progress: Vec<(u64, u64)> = events
        .iter()
        .filter_map(|e| match e {
            NodeEvent::SyncProgress { height, target } => Some((*height, *target)),
            _ => None,
        })
        .collect();
    assert_eq!(progress.first(), Some(&(0, 300)));
    assert_eq!(progress.last(), Some(&(300, 300)));
    assert!(progress.windows(2).all(|w| w[0].0 <= w[1].0));
    // Headers came from one peer; blocks from both.
    let asked = |id| {
        events
            .iter()
            .filter(|e| match e {
                NodeEvent::MessageOut { peer, kind, .. } => *peer == id && *kind == GET_DATA,
                _ => false,
            })
            .count()
    };
    assert!(asked(servers[0].peer.id) > 0 && asked(servers[1].peer.id) > 0);
    assert_eq!(x.sync_progress(), None);
}

#[test]
fn pushed_blocks_twice_and_shuffled_end_on_the_same_tip() {
    let blocks = chain(15);
    let config = Config {
        gossip: Gossip::Flood,
        ..Config::default()
    };
    let mut x = node_with(1, config, params());
    let server = Server::new(2, &blocks);
    server
        .peer
        .connect(&mut x, T0, 0, params().genesis().hash());
    let mut pushed: Vec<Block> = blocks.iter().rev().cloned().collect();
    pushed.extend(blocks.iter().cloned());
    pushed.sort_by_key(Block::hash);
    for block in pushed {
        server.peer.send(&mut x, T0, &Message::Block(block));
    }
    let events = serve(&mut x, std::slice::from_ref(&server), vec![], |_| {});
    assert_eq!(x.tip(), blocks.last().unwrap().hash());
    no_penalties(&events);
}

#[test]
fn a_stored_chain_reloads_in_any_order_without_being_announced_again() {
    let blocks = chain(10);
    let mut x = node(1);
    let mut by_key = records(&blocks);
    by_key.sort_by_key(|(key, _)| *key);
    let report = x.load_stored(T0, by_key);
    assert_eq!((report.stored.len(), report.refused.len()), (10, 0));
    assert_eq!(x.tip(), blocks.last().unwrap().hash());
    let out = drain(&mut x);
    assert!(
        out.actions.is_empty(),
        "nothing to store or send: {:?}",
        out.actions
    );
    // A block from the future is refused as the caller's mistake.
    let mut late = x
        .ledger()
        .template(key(1).public_key().address(), Timestamp(T0.0 + 3_600_000));
    assert!(tabchain_core::pow::solve(&mut late.header));
    assert!(x.handle_event(T0, Event::MinedBlock(late)).is_err());
}

#[test]
fn a_block_is_announced_once_to_each_peer_and_never_back_to_its_sender() {
    let blocks = chain(1);
    let hash = blocks[0].hash();
    let (p, q) = (Server::new(2, &blocks), Server::new(3, &blocks));
    let mut x = node(1);
    let genesis = params().genesis().hash();
    p.peer.connect(&mut x, T0, 0, genesis);
    q.peer.connect(&mut x, T0, 0, genesis);
    p.peer
        .send(&mut x, T0, &Message::Inv(vec![InvItem::Block(hash)]));
    // x fetches it from p, then announces it to q only.
    let out = drain(&mut x);
    assert_eq!(
        out.sent_to(p.peer.id),
        vec![Message::GetData(vec![InvItem::Block(hash)])]
    );
    p.peer.send(&mut x, T0, &Message::Block(blocks[0].clone()));
    let out = drain(&mut x);
    assert!(out.sent_to(p.peer.id).is_empty());
    assert_eq!(
        out.sent_to(q.peer.id),
        vec![Message::Inv(vec![InvItem::Block(hash)])]
    );
    // q announcing it back is not fetched, and nothing goes out again.
    q.peer
        .send(&mut x, T0, &Message::Inv(vec![InvItem::Block(hash)]));
    let out = drain(&mut x);
    assert!(out.sent_to(p.peer.id).is_empty() && out.sent_to(q.peer.id).is_empty());
}

/// Extends `ledger` by one block paying `pay_to`, at `time`.
fn extend(ledger: &mut Ledger, pay_to: u8, time: Timestamp) -> Block {
    let mut block = ledger.template(key(pay_to).public_key().address(), time);
    assert!(tabchain_core::pow::solve(&mut block.header));
    ledger.submit_block(block.clone(), time).unwrap();
    block
}

/// Node 1's coinbase (block 1) and enough blocks after it (paying node 9) for it to
/// mature, at times `t(1)..`; returns the blocks.
fn matured_coin(ledger: &mut Ledger, t: impl Fn(u64) -> Timestamp) -> Vec<Block> {
    let maturity = ledger.chain().params().coinbase_maturity;
    (1..=1 + maturity)
        .map(|n| extend(ledger, if n == 1 { 1 } else { 9 }, t(n)))
        .collect()
}

/// Node 1 pays `to` from its spendable coins, signed for `ledger`'s room.
fn payment(ledger: &Ledger, coins: &[(OutPoint, Utxo)], to: u8) -> Transaction {
    tabchain_core::Wallet::new(key(1))
        .pay(
            coins,
            key(to).public_key().address(),
            5,
            1,
            &ledger.chain().genesis_hash(),
        )
        .unwrap()
}

#[test]
fn a_payment_a_reorg_drops_comes_back_when_the_chain_switches_back() {
    let t = |n: u64| Timestamp(T0.0 - 100_000 + n * 1_000);
    let mut a = Ledger::new(params());
    let prefix = matured_coin(&mut a, t);
    let h = prefix.len() as u64; // the next block's time slot
    let mut b = a.clone();
    // a2 turns node 1's coinbase into the coin the payment spends.
    let fund = payment(&a, &a.spendable(&key(1).public_key().address()), 1);
    a.submit_tx(fund.clone()).unwrap();
    let a2 = extend(&mut a, 9, t(h + 1));
    assert!(a2.transactions.contains(&fund));
    let b_branch = [extend(&mut b, 9, t(h + 1)), extend(&mut b, 9, t(h + 2))];
    let a_more = [extend(&mut a, 9, t(h + 2)), extend(&mut a, 9, t(h + 3))];

    let mut x = node(1);
    for block in prefix.into_iter().chain([a2.clone()]) {
        x.handle_event(T0, Event::MinedBlock(block)).unwrap();
    }
    let coin_of_a2: Vec<_> = x
        .ledger()
        .spendable(&key(1).public_key().address())
        .into_iter()
        .filter(|(outpoint, _)| outpoint.txid == fund.id())
        .collect();
    let pay = payment(x.ledger(), &coin_of_a2, 2);
    x.handle_event(T0, Event::SubmitTx(pay.clone())).unwrap();
    // Branch b has more work: its coins lack a2's, so the payment cannot wait.
    for block in b_branch {
        x.handle_event(T0, Event::MinedBlock(block)).unwrap();
    }
    assert!(!x.ledger().mempool().contains(&pay.id()));
    // The switch is logged for the UI: one block undone, its payment waiting again.
    let reorg = x.reorgs().last().expect("the reorg is logged");
    assert_eq!((reorg.depth(), reorg.fork_height), (1, h));
    assert_eq!(reorg.returned, vec![fund.id()]);
    // Branch a overtakes again: the payment is back.
    for block in a_more {
        x.handle_event(T0, Event::MinedBlock(block)).unwrap();
    }
    assert_eq!(x.height(), h + 3);
    assert!(x.ledger().mempool().contains(&pay.id()));
}

#[test]
fn a_payment_confirmed_on_an_abandoned_branch_waits_again_once_its_coin_returns() {
    let t = |n: u64| Timestamp(T0.0 - 100_000 + n * 1_000);
    let mut a = Ledger::new(params());
    let prefix = matured_coin(&mut a, t);
    let h = prefix.len() as u64;
    let mut b = a.clone();
    let coinbase = a.spendable(&key(1).public_key().address());
    let fund = payment(&a, &coinbase, 1);
    a.submit_tx(fund.clone()).unwrap();
    let a2 = extend(&mut a, 9, t(h + 1));
    let mut a_again = a.clone();
    let coins: Vec<_> = a
        .spendable(&key(1).public_key().address())
        .into_iter()
        .filter(|(outpoint, _)| outpoint.txid == fund.id())
        .collect();
    let pay = payment(&a, &coins, 2);
    a.submit_tx(pay.clone()).unwrap();
    let a3 = extend(&mut a, 9, t(h + 2));
    assert!(a3.transactions.contains(&pay));
    // Branch b spends the coinbase elsewhere, so neither payment can wait there.
    b.submit_tx(payment(&b, &coinbase, 3)).unwrap();
    let b_branch: Vec<Block> = (1..=3).map(|n| extend(&mut b, 8, t(h + n))).collect();
    // The same coin again (a2), but later blocks without the payment.
    let a_again: Vec<Block> = (2..=4).map(|n| extend(&mut a_again, 7, t(h + n))).collect();

    let mut x = node(1);
    for block in prefix.into_iter().chain([a2, a3]) {
        x.handle_event(T0, Event::MinedBlock(block)).unwrap();
    }
    for block in b_branch {
        x.handle_event(T0, Event::MinedBlock(block)).unwrap();
    }
    assert!(x.ledger().mempool().is_empty(), "its coin is gone");
    for block in a_again {
        x.handle_event(T0, Event::MinedBlock(block)).unwrap();
    }
    assert_eq!(x.height(), h + 4);
    assert!(x.ledger().mempool().contains(&pay.id()));
}
