//! Small harnesses for driving nodes by hand: a scripted peer whose frames a test
//! writes itself, and helpers to read what a node did.

#![allow(dead_code)] // each test binary uses its own part of this module

use tabchain_core::{pow, Block, Hash, Ledger, NodeId, Params, SecretKey, Timestamp};
use tabchain_node::{Action, Config, Event, Message, Node, NodeEvent, Roles, Version};

pub const T0: Timestamp = Timestamp(1_800_000_000_000);

pub fn key(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32])
}

pub fn params() -> Params {
    Params::for_tests("tests")
}

pub fn node(n: u8) -> Node {
    node_with(n, Config::default(), params())
}

pub fn node_with(n: u8, config: Config, params: Params) -> Node {
    Node::new(config, key(n), params, u64::from(n), T0)
}

/// Everything a node asked for and showed since the last look.
#[derive(Debug, Default)]
pub struct Output {
    pub actions: Vec<Action>,
    pub events: Vec<NodeEvent>,
}

impl Output {
    /// Messages sent to `peer`, decoded.
    pub fn sent_to(&self, peer: NodeId) -> Vec<Message> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Send { peer: p, bytes } if *p == peer => {
                    Some(Message::decode(bytes).unwrap())
                }
                _ => None,
            })
            .collect()
    }

    pub fn disconnects(&self) -> Vec<(NodeId, tabchain_node::DropReason)> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Disconnect { peer, reason } => Some((*peer, *reason)),
                _ => None,
            })
            .collect()
    }
}

pub fn drain(node: &mut Node) -> Output {
    let mut out = Output::default();
    while let Some(action) = node.poll_action() {
        out.actions.push(action);
    }
    while let Some(event) = node.poll_event() {
        out.events.push(event);
    }
    out
}

/// A peer the test speaks for: it signs its own `Version` and writes raw frames.
pub struct Scripted {
    pub key: SecretKey,
    pub id: NodeId,
    pub binding: Vec<u8>,
}

impl Scripted {
    pub fn new(n: u8) -> Scripted {
        let key = key(n);
        Scripted {
            id: key.public_key().node_id(),
            key,
            binding: vec![n, 0xb1],
        }
    }

    pub fn version(&self, params: &Params, height: u64, tip: tabchain_core::Hash) -> Message {
        let genesis = params.genesis().hash();
        Message::Version(Version::new(
            &self.key,
            genesis,
            height,
            tip,
            Roles::TAB,
            None,
            &self.binding,
        ))
    }

    /// Reports to `node` that a link to this peer opened, with this peer's binding.
    pub fn open_link(&self, node: &mut Node, now: Timestamp) {
        node.handle_event(
            now,
            Event::PeerConnected {
                peer: self.id,
                binding: self.binding.clone(),
            },
        )
        .unwrap();
    }

    /// Links to `node` and completes the handshake as a peer at `height`/`tip`.
    pub fn connect(
        &self,
        node: &mut Node,
        now: Timestamp,
        height: u64,
        tip: tabchain_core::Hash,
    ) -> Output {
        self.open_link(node, now);
        self.send(node, now, &self.version(&params(), height, tip));
        self.send(node, now, &Message::Verack);
        drain(node)
    }

    pub fn send(&self, node: &mut Node, now: Timestamp, message: &Message) {
        self.send_bytes(node, now, message.encode());
    }

    pub fn send_bytes(&self, node: &mut Node, now: Timestamp, bytes: Vec<u8>) {
        node.handle_event(
            now,
            Event::Message {
                peer: self.id,
                bytes,
            },
        )
        .unwrap();
    }
}

/// Blocks as storage hands them back: each under its key, its hash.
pub fn records(blocks: &[Block]) -> Vec<(Hash, Block)> {
    blocks.iter().map(|b| (b.hash(), b.clone())).collect()
}

/// A chain of `count` blocks on `params`' genesis, one second apart, ending before T0.
pub fn chain(count: usize) -> Vec<Block> {
    let params = params();
    let mut ledger = Ledger::new(params);
    let pay_to = key(200).public_key().address();
    (1..=count as u64)
        .map(|n| {
            let time = Timestamp(T0.0 - (count as u64 + 1 - n) * 10_000);
            let mut block = ledger.template(pay_to, time);
            assert!(pow::solve(&mut block.header));
            ledger.submit_block(block.clone(), time).unwrap();
            block
        })
        .collect()
}

/// Two nodes joined by a link that delivers at once (unless cut), driven together.
pub struct Duo {
    pub a: Node,
    pub b: Node,
    pub now: Timestamp,
    /// While set, frames in either direction are lost.
    pub cut: bool,
    pub out_a: Output,
    pub out_b: Output,
}

impl Duo {
    pub fn new(a: Node, b: Node) -> Duo {
        Duo {
            a,
            b,
            now: T0,
            cut: false,
            out_a: Output::default(),
            out_b: Output::default(),
        }
    }

    pub fn link(&mut self, binding_a: &[u8], binding_b: &[u8]) {
        let (ida, idb) = (self.a.id(), self.b.id());
        let now = self.now;
        self.a
            .handle_event(
                now,
                Event::PeerConnected {
                    peer: idb,
                    binding: binding_a.to_vec(),
                },
            )
            .unwrap();
        self.b
            .handle_event(
                now,
                Event::PeerConnected {
                    peer: ida,
                    binding: binding_b.to_vec(),
                },
            )
            .unwrap();
        self.pump();
    }

    /// Delivers frames back and forth until both are quiet.
    pub fn pump(&mut self) {
        loop {
            let mut moved = false;
            for from_a in [true, false] {
                let (from, to) = if from_a {
                    (&mut self.a, &mut self.b)
                } else {
                    (&mut self.b, &mut self.a)
                };
                let out = drain(from);
                let (from_id, to_id) = (from.id(), to.id());
                for action in &out.actions {
                    if let Action::Send { peer, bytes } = action {
                        if *peer == to_id && !self.cut {
                            moved = true;
                            to.handle_event(
                                self.now,
                                Event::Message {
                                    peer: from_id,
                                    bytes: bytes.clone(),
                                },
                            )
                            .unwrap();
                        }
                    }
                }
                let log = if from_a {
                    &mut self.out_a
                } else {
                    &mut self.out_b
                };
                log.actions.extend(out.actions);
                log.events.extend(out.events);
            }
            if !moved {
                return;
            }
        }
    }

    /// Moves time on to `until`, firing both nodes' timers on the way.
    pub fn run_until(&mut self, until: Timestamp) {
        loop {
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(at) if at <= until => {
                    self.now = self.now.max(at);
                    let now = self.now;
                    self.a.handle_timeout(now);
                    self.b.handle_timeout(now);
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = until;
    }
}
