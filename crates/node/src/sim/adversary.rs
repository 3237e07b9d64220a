//! Adversarial nodes. Each runs an honest [`crate::Node`] underneath, so it handshakes
//! and stays linked like anyone else, and the simulator adds its misbehaviour around it:
//! frames it makes up, frames it answers itself, frames it swallows.
//!
//! The kinds after the first four are the attacks of issue 10 (`sim --attack KIND`).
//! Adding one is a variant, its name in [`AdversaryKind::ATTACKS`], and its arms in
//! [`Sim::adversary_tick`] (what it sends on its own), [`Sim::intercept`] (what it answers
//! itself) and [`Sim::swallows`] (what its honest node underneath must not see).

use tabchain_core::{Address, Block, Hash, Header, NodeId, Output, Transaction};

use super::{Job, Role, Sim};
use crate::handshake::{Roles, Version};
use crate::link::Signal;
use crate::message::{
    InvItem, Message, MessageKind, SignedSignal, MAX_INV_ITEMS, PROTOCOL_VERSION,
};

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
    /// Asks for the same block a thousand times in one `GetData`, over and over, and
    /// for headers from genesis and the peer list as fast as it likes.
    GetDataAmplify,
    /// Announces made-up transactions just within the inventory budget and answers
    /// every request for them with `NotFound`, to fill the want table.
    WantFlood,
    /// Relays offers to its peers in the name of honest nodes they are not linked to,
    /// and, when the answer comes back through it, completes the link itself.
    ForgedRelay,
    /// Claims height `u64::MAX` and answers every `GetHeaders` with no headers.
    SyncHog,
    /// Sends a list of a hundred made-up peers five times a second, unasked.
    PeersFlood,
    /// Announces and serves made-up blocks of the lowest difficulty, 48 KB each, whose
    /// parents nobody has.
    OrphanFlood,
    /// Mines branches of valid 48 KB blocks off genesis, as cheap as the difficulty
    /// there allows, and announces and serves them: side branches nobody will build on.
    JunkBranches,
    /// Mines on the tip after every honest block, stamping its blocks as late as a valid
    /// block may be, so the honest block after each looks early: the timewarp that
    /// walks a difficulty down when negative solve times do not count.
    Timewarp,
}

impl AdversaryKind {
    /// The mix `--adversaries` cycles through.
    pub const ALL: [AdversaryKind; 4] = [
        AdversaryKind::Garbage,
        AdversaryKind::InvalidBlocks,
        AdversaryKind::InvFlood,
        AdversaryKind::Withhold,
    ];

    /// The attacks `--attack KIND` runs, by name.
    pub const ATTACKS: [(&'static str, AdversaryKind); 8] = [
        ("getdata-amplify", AdversaryKind::GetDataAmplify),
        ("want-flood", AdversaryKind::WantFlood),
        ("forged-relay", AdversaryKind::ForgedRelay),
        ("sync-hog", AdversaryKind::SyncHog),
        ("peers-flood", AdversaryKind::PeersFlood),
        ("orphan-flood", AdversaryKind::OrphanFlood),
        ("junk-branches", AdversaryKind::JunkBranches),
        ("timewarp", AdversaryKind::Timewarp),
    ];

    /// The attack called `name`.
    pub fn attack(name: &str) -> Option<AdversaryKind> {
        Self::ATTACKS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, kind)| *kind)
    }

    pub fn name(self) -> String {
        Self::ATTACKS
            .iter()
            .find(|(_, kind)| *kind == self)
            .map_or_else(|| format!("{self:?}"), |(name, _)| (*name).to_owned())
    }
}

/// Outputs that pad a made-up block's coinbase to about 48 KB.
const JUNK_OUTPUTS: usize = 2_000;
/// Blocks in each junk branch.
const JUNK_BRANCH: usize = 2;

impl Sim {
    /// Whether node `i` swallows this outgoing frame.
    pub(super) fn withholds(&self, i: usize, frame: &[u8]) -> bool {
        self.nodes[i].role == Role::Adversary(AdversaryKind::Withhold)
            && matches!(
                MessageKind::of_frame(frame),
                Some(MessageKind::Block | MessageKind::CompactBlock | MessageKind::Tx)
            )
    }

    /// What adversary `i` puts on the wire instead of its honest node's frame.
    pub(super) fn rewrite(&self, i: usize, frame: Vec<u8>) -> Vec<u8> {
        if self.nodes[i].role != Role::Adversary(AdversaryKind::SyncHog) {
            return frame;
        }
        match Message::decode(&frame) {
            // The signature covers the genesis and the link, not the height.
            Ok(Message::Version(mut version)) => {
                version.best_height = u64::MAX;
                version.best_hash = Hash([0x5e; 32]);
                Message::Version(version).encode()
            }
            _ => frame,
        }
    }

    /// Whether adversary `to` keeps this incoming frame from its honest node (which
    /// would answer it honestly, or blame the sender for what the adversary asked).
    pub(super) fn swallows(&self, to: usize, frame: &[u8]) -> bool {
        let Role::Adversary(kind) = self.nodes[to].role else {
            return false;
        };
        let kind_of = MessageKind::of_frame(frame);
        match kind {
            AdversaryKind::GetDataAmplify => matches!(
                kind_of,
                Some(
                    MessageKind::Block
                        | MessageKind::CompactBlock
                        | MessageKind::Headers
                        | MessageKind::Peers
                )
            ),
            AdversaryKind::SyncHog => kind_of == Some(MessageKind::GetHeaders),
            AdversaryKind::OrphanFlood | AdversaryKind::JunkBranches => {
                kind_of == Some(MessageKind::GetData)
                    && matches!(Message::decode(frame), Ok(Message::GetData(items))
                        if items.iter().any(|item| matches!(item,
                            InvItem::Block(hash) if self.junk.contains_key(hash))))
            }
            _ => false,
        }
    }

    /// An adversary `to` answers some frames from `from` itself.
    pub(super) fn intercept(&mut self, to: usize, from: usize, frame: &[u8]) {
        let Role::Adversary(kind) = self.nodes[to].role else {
            return;
        };
        match kind {
            AdversaryKind::InvalidBlocks
            | AdversaryKind::OrphanFlood
            | AdversaryKind::JunkBranches => {
                let Ok(Message::GetData(items)) = Message::decode(frame) else {
                    return;
                };
                for item in items {
                    if let InvItem::Block(hash) = item {
                        let block = self.bad_blocks.get(&hash).or(self.junk.get(&hash));
                        if let Some(block) = block {
                            let frame = Message::block_frame(block);
                            self.transmit(to, from, frame);
                        }
                    }
                }
            }
            AdversaryKind::SyncHog
                if MessageKind::of_frame(frame) == Some(MessageKind::GetHeaders) =>
            {
                self.transmit(to, from, Message::Headers(Vec::new()).encode());
            }
            _ => {}
        }
    }

    /// Node `i` sends `signal` for a link to `peer`: if the link answers an offer an
    /// attacker forged, the attacker carries the signal, as whoever relays it can.
    pub(super) fn hijacks(&mut self, i: usize, peer: NodeId, signal: &Signal) -> bool {
        let Signal::Answer { session, .. } = signal else {
            return false;
        };
        let Some(attacker) = self.forged.remove(&(i, *session)) else {
            return false;
        };
        let at = self.now.saturating_add(2 * self.config.wire.latency_ms);
        self.queue.push(
            at,
            Job::ForgedOpen {
                honest: i,
                attacker,
                victim: peer,
                session: *session,
            },
        );
        true
    }

    /// The link `honest` answered for `victim` comes up, but DTLS ends at `attacker`,
    /// which then sends a `Version` of its own: it cannot sign as the victim.
    pub(super) fn forged_open(
        &mut self,
        honest: usize,
        attacker: usize,
        victim: NodeId,
        session: u64,
    ) {
        if !self.nodes[honest].alive || self.nodes[honest].links.session(&victim) != Some(session) {
            return;
        }
        self.nodes[honest].links.channel_open(victim, session);
        self.after_call(honest);
        let binding = session.to_le_bytes().to_vec();
        let genesis = self.config.params.genesis().hash();
        let key = tabchain_core::SecretKey::from_seed(self.nodes[attacker].key_seed);
        let version = Version::new(&key, genesis, 0, genesis, Roles::TAB, None, &binding);
        let now = self.now;
        let bytes = Message::Version(version).encode();
        self.stats.from_attackers += bytes.len() as u64;
        let _ = self.nodes[honest].node.handle_event(
            now,
            crate::Event::Message {
                peer: victim,
                bytes,
            },
        );
        self.after_call(honest);
    }

    /// Keeps `blocks` to serve when asked, and announces them to `peers`.
    fn announce_junk(&mut self, i: usize, blocks: Vec<Block>, peers: &[usize]) {
        let items = blocks
            .into_iter()
            .map(|block| {
                let hash = block.hash();
                self.junk.insert(hash, block);
                InvItem::Block(hash)
            })
            .collect();
        let frame = Message::Inv(items).encode();
        for &j in peers {
            self.transmit(i, j, frame.clone());
        }
    }

    /// A made-up block of the lowest difficulty whose parent nobody has.
    fn junk_block(&mut self, i: usize) -> Block {
        let address = self.address(i);
        let height = self.nodes[i].node.height() + 2;
        let outputs = (0..JUNK_OUTPUTS)
            .map(|n| Output {
                value: n as u64 + 1,
                address,
            })
            .collect();
        let transactions = vec![Transaction::coinbase(height, outputs)];
        let mut header = Header {
            version: Header::VERSION,
            prev: Hash(self.rng.bytes32()),
            merkle_root: Block::merkle_root_of(&transactions),
            time: self.now,
            difficulty: self.config.params.min_difficulty,
            nonce: 0,
        };
        assert!(tabchain_core::pow::solve(&mut header));
        Block {
            header,
            transactions,
        }
    }

    /// A branch of [`JUNK_BRANCH`] valid blocks off genesis, 48 KB each: every header
    /// carries the difficulty its parent requires.
    fn junk_branch(&mut self, i: usize) -> Vec<Block> {
        let params = self.config.params.clone();
        let chain = self.nodes[i].node.ledger().chain();
        let mut context = chain
            .header_context(&chain.genesis_hash())
            .expect("genesis is stored");
        // Another address each time, so that no two branches share a block.
        let address = Address(self.rng.bytes32()[..20].try_into().expect("20 bytes"));
        let mut blocks = Vec::new();
        for _ in 0..JUNK_BRANCH {
            let outputs = vec![Output { value: 1, address }; JUNK_OUTPUTS];
            let transactions = vec![Transaction::coinbase(context.height() + 1, outputs)];
            let time = context
                .median_time_past()
                .saturating_add(1)
                .max(self.now.saturating_add(blocks.len() as u64));
            let mut header = Header {
                version: Header::VERSION,
                prev: context.hash(),
                merkle_root: Block::merkle_root_of(&transactions),
                time,
                difficulty: context.next_difficulty(&params),
                nonce: 0,
            };
            assert!(tabchain_core::pow::solve(&mut header));
            context
                .extend(&params, &header, self.now)
                .expect("a junk header is valid in its place");
            blocks.push(Block {
                header,
                transactions,
            });
        }
        blocks
    }

    /// Adversary `i` mines on its tip unless an adversary mined the tip, stamping the
    /// block as late as the future-time limit allows; the block's real mining time is
    /// recorded, so the difficulty check measures against the honest schedule.
    fn timewarp_block(&mut self, i: usize) {
        let tip = self.nodes[i].node.tip();
        let ours = self
            .blocks
            .get(&tip)
            .is_some_and(|record| matches!(self.nodes[record.miner].role, Role::Adversary(_)));
        // One timewarper at a time: two stamping sibling blocks on the same tip would
        // leave the network split between tips of equal work when honest mining stops.
        let first = self
            .nodes
            .iter()
            .position(|n| n.alive && n.role == Role::Adversary(AdversaryKind::Timewarp));
        if ours || first != Some(i) || self.nodes[i].node.height() == 0 {
            return;
        }
        let address = self.address(i);
        let now = self.now;
        let mut block = self.nodes[i].node.ledger().template(address, now);
        // Late by the limit, less the time the block takes to reach everyone.
        let late = self.config.params.max_future_ms.saturating_sub(1_000);
        block.header.time = block.header.time.max(now.saturating_add(late));
        assert!(tabchain_core::pow::solve(&mut block.header));
        let hash = block.hash();
        self.blocks.insert(
            hash,
            super::BlockRecord {
                mined_at: now,
                miner: i,
                size: Message::block_frame(&block).len(),
                arrivals: Vec::new(),
            },
        );
        let _ = self.call(i, crate::Event::MinedBlock(block));
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
            AdversaryKind::GetDataAmplify => {
                let tip = self.nodes[i].node.tip();
                let genesis = self.config.params.genesis().hash();
                let frames = [
                    Message::GetData(vec![InvItem::Block(tip); MAX_INV_ITEMS]).encode(),
                    Message::GetHeaders {
                        locator: vec![genesis],
                        stop: None,
                    }
                    .encode(),
                    Message::GetPeers.encode(),
                ];
                for j in peers {
                    for frame in &frames {
                        self.transmit(i, j, frame.clone());
                    }
                }
            }
            AdversaryKind::WantFlood => {
                // 200 a tick, four ticks a second: within the 1000 a second allowed.
                for j in peers {
                    let items = (0..200)
                        .map(|_| InvItem::Tx(Hash(self.rng.bytes32())))
                        .collect();
                    self.transmit(i, j, Message::Inv(items).encode());
                }
            }
            AdversaryKind::ForgedRelay => {
                for j in peers {
                    let victims: Vec<usize> = self
                        .live_honest()
                        .into_iter()
                        .filter(|&v| {
                            let id = self.nodes[v].node.id();
                            v != j
                                && self.nodes[j].node.peer(&id).is_none()
                                && self.nodes[j].links.session(&id).is_none()
                        })
                        .collect();
                    if victims.is_empty() {
                        continue;
                    }
                    let victim = victims[self.rng.index(victims.len())];
                    let session = self.rng.next_u64();
                    self.forged.insert((j, session), i);
                    let signal = Signal::Offer {
                        session,
                        sdp: "forged offer".into(),
                    };
                    let to = self.nodes[j].node.id();
                    let frame = self.forged_relay(i, victim, to, signal.to_bytes());
                    self.transmit(i, j, frame);
                }
            }
            AdversaryKind::SyncHog => {}
            AdversaryKind::PeersFlood => {
                for j in peers {
                    let ids = (0..crate::message::MAX_PEERS_LISTED)
                        .map(|_| NodeId(self.rng.bytes32()[..16].try_into().expect("16 bytes")))
                        .collect();
                    self.transmit(i, j, Message::Peers(ids).encode());
                }
            }
            AdversaryKind::OrphanFlood => {
                let blocks = vec![self.junk_block(i), self.junk_block(i)];
                self.announce_junk(i, blocks, &peers);
            }
            AdversaryKind::JunkBranches => {
                let blocks = self.junk_branch(i);
                self.announce_junk(i, blocks, &peers);
            }
            AdversaryKind::Timewarp => self.timewarp_block(i),
        }
    }

    /// A `Relay` of `payload` to `to` in `victim`'s name. It cannot sign as the
    /// victim: it signs with its own key under the victim's.
    fn forged_relay(&self, i: usize, victim: usize, to: NodeId, payload: Vec<u8>) -> Vec<u8> {
        let key = tabchain_core::SecretKey::from_seed(self.nodes[i].key_seed);
        let expires = self.now.saturating_add(30_000);
        let mut signed = SignedSignal::sign(&key, &to, expires, payload);
        signed.public_key = self.nodes[victim].node.public_key();
        Message::Relay {
            to,
            from: self.nodes[victim].node.id(),
            payload: signed.encode(),
        }
        .encode()
    }
}
