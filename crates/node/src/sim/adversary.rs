//! Adversarial nodes. Each runs an honest [`crate::Node`] underneath, so it handshakes
//! and stays linked like anyone else, and the simulator adds its misbehaviour around it:
//! frames it makes up, frames it answers itself, frames it swallows.

use tabchain_core::{Hash, Transaction};

use super::{Role, Sim};
use crate::message::{InvItem, Message, MessageKind, MAX_INV_ITEMS, PROTOCOL_VERSION};

/// What an adversary does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AdversaryKind {
    /// Sends frames of random bytes.
    Garbage,
    /// Mines blocks whose coinbase pays too much, announces them and serves them.
    InvalidBlocks,
    /// Announces a thousand made-up transactions five times a second.
    InvFlood,
    /// Announces blocks (real ones it relays, and made-up ones) and never delivers any.
    Withhold,
}

impl AdversaryKind {
    pub const ALL: [AdversaryKind; 4] = [
        AdversaryKind::Garbage,
        AdversaryKind::InvalidBlocks,
        AdversaryKind::InvFlood,
        AdversaryKind::Withhold,
    ];
}

impl Sim {
    /// Whether node `i` swallows this outgoing frame.
    pub(super) fn withholds(&self, i: usize, frame: &[u8]) -> bool {
        self.nodes[i].role == Role::Adversary(AdversaryKind::Withhold)
            && matches!(
                MessageKind::of_frame(frame),
                Some(MessageKind::Block | MessageKind::Tx)
            )
    }

    /// An adversary `to` answers a request for one of its invalid blocks itself.
    pub(super) fn intercept(&mut self, to: usize, from: usize, frame: &[u8]) {
        if self.nodes[to].role != Role::Adversary(AdversaryKind::InvalidBlocks) {
            return;
        }
        let Ok(Message::GetData(items)) = Message::decode(frame) else {
            return;
        };
        for item in items {
            if let InvItem::Block(hash) = item {
                if let Some(block) = self.bad_blocks.get(&hash) {
                    let frame = Message::block_frame(block);
                    self.transmit(to, from, frame);
                }
            }
        }
    }

    /// Node `i`'s periodic misbehaviour towards its linked peers.
    pub(super) fn adversary_tick(&mut self, i: usize) {
        let Role::Adversary(kind) = self.nodes[i].role else {
            return;
        };
        let peers: Vec<usize> = self.nodes[i]
            .node
            .peers()
            .filter(|p| p.is_ready())
            .filter_map(|p| self.index_of(&p.id()))
            .collect();
        if peers.is_empty() {
            return;
        }
        match kind {
            AdversaryKind::Garbage => {
                for j in peers {
                    // At least 16 bytes, so that no one-byte message (a `Goodbye`) can
                    // come out by chance.
                    let len = 16 + self.rng.index(64);
                    let mut frame = vec![PROTOCOL_VERSION];
                    frame.extend((0..len).map(|_| self.rng.next_u64() as u8));
                    self.transmit(i, j, frame);
                }
            }
            AdversaryKind::InvFlood => {
                for j in peers {
                    let items = (0..MAX_INV_ITEMS)
                        .map(|_| InvItem::Tx(Hash(self.rng.bytes32())))
                        .collect();
                    self.transmit(i, j, Message::Inv(items).encode());
                }
            }
            AdversaryKind::InvalidBlocks => {
                let address = self.address(i);
                let now = self.now;
                let mut block = self.nodes[i].node.ledger().template(address, now);
                let reward = self.config.params.block_reward;
                block.transactions[0] = Transaction::coinbase(
                    block.transactions[0].height,
                    vec![tabchain_core::Output {
                        value: 2 * reward + 1,
                        address,
                    }],
                );
                block.header.merkle_root =
                    tabchain_core::Block::merkle_root_of(&block.transactions);
                assert!(tabchain_core::pow::solve(&mut block.header));
                let hash = block.hash();
                self.bad_blocks.insert(hash, block);
                let frame = Message::Inv(vec![InvItem::Block(hash)]).encode();
                for j in peers {
                    self.transmit(i, j, frame.clone());
                }
            }
            AdversaryKind::Withhold => {
                let frame = Message::Inv(vec![InvItem::Block(Hash(self.rng.bytes32()))]).encode();
                for j in peers {
                    self.transmit(i, j, frame.clone());
                }
            }
        }
    }
}
