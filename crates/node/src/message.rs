//! The messages peers exchange and their wire format.
//!
//! A frame is one data-channel message: a protocol version byte, then the postcard
//! encoding of a [`Message`], whose first byte is the kind. Each kind has a hard size
//! cap checked before anything is parsed, and list lengths are checked after; a frame
//! that breaks any of this is a [`DecodeError`], which the node treats as misbehaviour.

use serde::{Deserialize, Serialize};
use tabchain_core::block::MAX_BLOCK_BYTES;
use tabchain_core::tx::MAX_TX_BYTES;
use tabchain_core::{
    Block, Hash, Header, NodeId, PublicKey, SecretKey, Signature, Timestamp, Transaction, TxId,
};

use crate::compact::{CompactBlock, PushKey};
use crate::handshake::Version;

/// The version byte every frame starts with.
pub const PROTOCOL_VERSION: u8 = 1;

/// Most items in one `Inv`, `GetData` or `NotFound`.
pub const MAX_INV_ITEMS: usize = 1_000;
/// Most headers in one `Headers` reply.
pub const MAX_HEADERS: usize = 2_000;
/// Most hashes in a `GetHeaders` locator (a chain of 2^54 blocks needs fewer).
pub const MAX_LOCATOR: usize = 64;
/// Most peer ids in one `Peers`.
pub const MAX_PEERS_LISTED: usize = 100;
/// Most bytes of one relayed signaling payload (an SDP offer with candidates is a few KB).
pub const MAX_SIGNAL_BYTES: usize = 16 * 1024;
/// Most bytes of a `Relay`'s payload: a signal in its [`SignedSignal`] envelope (a key,
/// a signature, an expiry and length prefixes come to well under 128 bytes).
pub const MAX_RELAY_PAYLOAD: usize = MAX_SIGNAL_BYTES + 128;

/// Separates relay signatures from every other use of a node's key.
const RELAY_DOMAIN: &[u8] = b"tabchain-relay/v1";

/// A signaling payload as its origin signed it: the payload of a `Relay`. Whoever passes
/// it on cannot change the sender, the addressee, the payload or the expiry, so a peer
/// cannot make a node dial, or blame, someone in another's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedSignal {
    /// The origin's key: its id is the `Relay`'s `from`.
    pub public_key: PublicKey,
    /// After this the signal is stale and dropped.
    pub expires: Timestamp,
    pub signal: Vec<u8>,
    /// Over the domain tag `tabchain-relay/v1`, `from`, `to`, `expires` and `signal`.
    pub signature: Signature,
}

fn relay_signed_bytes(from: &NodeId, to: &NodeId, expires: Timestamp, signal: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(RELAY_DOMAIN.len() + 48 + signal.len());
    bytes.extend_from_slice(RELAY_DOMAIN);
    bytes.extend_from_slice(&from.0);
    bytes.extend_from_slice(&to.0);
    bytes.extend_from_slice(&expires.millis().to_le_bytes());
    bytes.extend_from_slice(&(signal.len() as u64).to_le_bytes());
    bytes.extend_from_slice(signal);
    bytes
}

impl SignedSignal {
    /// `signal` from the owner of `key` to `to`, good until `expires`.
    pub fn sign(key: &SecretKey, to: &NodeId, expires: Timestamp, signal: Vec<u8>) -> SignedSignal {
        let public_key = key.public_key();
        let from = public_key.node_id();
        SignedSignal {
            signature: key.sign(&relay_signed_bytes(&from, to, expires, &signal)),
            public_key,
            expires,
            signal,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("encoding into a Vec cannot fail")
    }

    /// The envelope in `payload`, if it is one that `from` signed for `to`.
    pub fn open(payload: &[u8], from: &NodeId, to: &NodeId) -> Option<SignedSignal> {
        let (signed, rest) = postcard::take_from_bytes::<SignedSignal>(payload).ok()?;
        if !rest.is_empty() || signed.public_key.node_id() != *from {
            return None;
        }
        let bytes = relay_signed_bytes(from, to, signed.expires, &signed.signal);
        signed.public_key.verify(&bytes, &signed.signature).ok()?;
        Some(signed)
    }
}

/// Something a node can announce and another fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum InvItem {
    Block(Hash),
    Tx(TxId),
}

/// Everything one peer says to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Opens the handshake: who we are, on which chain, how far along.
    Version(Version),
    /// Accepts the other side's `Version`.
    Verack,
    Ping {
        nonce: u64,
    },
    Pong {
        nonce: u64,
    },
    /// The sender is closing the link (a tab closing, or a peer it lets go): drop it now
    /// rather than waiting for missed pongs.
    Goodbye,
    /// "I have these": blocks (on the sender's best chain) and transactions (in its
    /// mempool).
    Inv(Vec<InvItem>),
    /// "Send me these", answered with `Block`/`Tx` messages and one `NotFound`.
    GetData(Vec<InvItem>),
    NotFound(Vec<InvItem>),
    Block(Block),
    Tx(Transaction),
    /// "Send the headers of your best chain after the first of these you have."
    GetHeaders {
        locator: Vec<Hash>,
        stop: Option<Hash>,
    },
    /// Up to [`MAX_HEADERS`] consecutive headers; fewer means that was the end.
    Headers(Vec<Header>),
    /// "Which peers are you linked to?"
    GetPeers,
    /// The sender's current peers: candidates to dial, and where `Relay`s can go.
    Peers(Vec<NodeId>),
    /// A WebRTC signaling payload from `from` to `to`, passed on by a peer of both, so
    /// that new links can be made without the signaling server. `payload` is a
    /// [`SignedSignal`] that `from` signed.
    Relay {
        to: NodeId,
        from: NodeId,
        payload: Vec<u8>,
    },
    /// "Push me your new blocks at once, without announcing them" (`true`), or "stop"
    /// (`false`): a node asks the few peers that lately told it of new blocks first
    /// (BIP152's `sendcmpct` high-bandwidth mode).
    FastRelay(bool),
    /// A new block pushed in compact form (see [`crate::compact`]).
    CompactBlock(CompactBlock),
    /// "I could not rebuild the block you pushed me with this time and nonce: send it
    /// whole."
    GetPushed(PushKey),
}

/// A message's kind, for logs, caps and misbehaviour reasons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageKind {
    Version,
    Verack,
    Ping,
    Pong,
    Goodbye,
    Inv,
    GetData,
    NotFound,
    Block,
    Tx,
    GetHeaders,
    Headers,
    GetPeers,
    Peers,
    Relay,
    FastRelay,
    CompactBlock,
    GetPushed,
}

impl MessageKind {
    /// In the order of [`Message`]'s variants: postcard encodes a variant as its index.
    const BY_TAG: [MessageKind; 18] = [
        MessageKind::Version,
        MessageKind::Verack,
        MessageKind::Ping,
        MessageKind::Pong,
        MessageKind::Goodbye,
        MessageKind::Inv,
        MessageKind::GetData,
        MessageKind::NotFound,
        MessageKind::Block,
        MessageKind::Tx,
        MessageKind::GetHeaders,
        MessageKind::Headers,
        MessageKind::GetPeers,
        MessageKind::Peers,
        MessageKind::Relay,
        MessageKind::FastRelay,
        MessageKind::CompactBlock,
        MessageKind::GetPushed,
    ];

    /// The kind's byte in a frame (a variant index below 128 is one varint byte).
    pub fn tag(self) -> u8 {
        Self::BY_TAG
            .iter()
            .position(|k| *k == self)
            .expect("every kind has a tag") as u8
    }

    /// The kind a frame claims to be, from its second byte.
    pub fn of_frame(frame: &[u8]) -> Option<MessageKind> {
        Self::BY_TAG.get(usize::from(*frame.get(1)?)).copied()
    }

    /// The most bytes a frame of this kind may take, version byte included.
    pub fn max_frame(self) -> usize {
        const ITEM: usize = 33;
        const HEADER: usize = 100; // the largest postcard encoding of a Header is 99
        match self {
            // Its largest encoding, with a payee, is 274 bytes.
            MessageKind::Version => 384,
            MessageKind::Verack | MessageKind::Goodbye | MessageKind::GetPeers => 2,
            MessageKind::Ping | MessageKind::Pong => 12,
            MessageKind::FastRelay => 3,
            // Two varints of at most 10 bytes.
            MessageKind::GetPushed => 22,
            MessageKind::Inv | MessageKind::GetData | MessageKind::NotFound => {
                8 + MAX_INV_ITEMS * ITEM
            }
            MessageKind::Block | MessageKind::CompactBlock => 8 + MAX_BLOCK_BYTES,
            MessageKind::Tx => 8 + MAX_TX_BYTES,
            MessageKind::GetHeaders => 48 + MAX_LOCATOR * 32,
            MessageKind::Headers => 8 + MAX_HEADERS * HEADER,
            MessageKind::Peers => 8 + MAX_PEERS_LISTED * 16,
            MessageKind::Relay => 48 + MAX_RELAY_PAYLOAD,
        }
    }
}

/// Why a frame is not a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty frame")]
    Empty,
    #[error("protocol version {0}, this node speaks {PROTOCOL_VERSION}")]
    UnsupportedVersion(u8),
    #[error("unknown message kind")]
    UnknownKind,
    #[error("{kind:?} frame of {size} bytes, the cap is {max}")]
    Oversized {
        kind: MessageKind,
        size: usize,
        max: usize,
    },
    #[error("{kind:?} frame does not decode")]
    Malformed { kind: MessageKind },
    #[error("{kind:?} frame has bytes after the message")]
    TrailingBytes { kind: MessageKind },
    #[error("{kind:?} with {count} entries, the cap is {max}")]
    TooManyItems {
        kind: MessageKind,
        count: usize,
        max: usize,
    },
}

impl Message {
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Version(_) => MessageKind::Version,
            Message::Verack => MessageKind::Verack,
            Message::Ping { .. } => MessageKind::Ping,
            Message::Pong { .. } => MessageKind::Pong,
            Message::Goodbye => MessageKind::Goodbye,
            Message::Inv(_) => MessageKind::Inv,
            Message::GetData(_) => MessageKind::GetData,
            Message::NotFound(_) => MessageKind::NotFound,
            Message::Block(_) => MessageKind::Block,
            Message::Tx(_) => MessageKind::Tx,
            Message::GetHeaders { .. } => MessageKind::GetHeaders,
            Message::Headers(_) => MessageKind::Headers,
            Message::GetPeers => MessageKind::GetPeers,
            Message::Peers(_) => MessageKind::Peers,
            Message::Relay { .. } => MessageKind::Relay,
            Message::FastRelay(_) => MessageKind::FastRelay,
            Message::CompactBlock(_) => MessageKind::CompactBlock,
            Message::GetPushed(_) => MessageKind::GetPushed,
        }
    }

    /// The frame for this message.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_extend(self, vec![PROTOCOL_VERSION]).expect("encoding into a Vec cannot fail")
    }

    /// The frame of `Message::Block(block)`, without cloning the block into a message:
    /// the tag byte, then the block as postcard encodes it.
    pub fn block_frame(block: &Block) -> Vec<u8> {
        postcard::to_extend(block, vec![PROTOCOL_VERSION, MessageKind::Block.tag()])
            .expect("encoding into a Vec cannot fail")
    }

    /// The frame of `Message::Tx(tx)`, likewise.
    pub fn tx_frame(tx: &Transaction) -> Vec<u8> {
        postcard::to_extend(tx, vec![PROTOCOL_VERSION, MessageKind::Tx.tag()])
            .expect("encoding into a Vec cannot fail")
    }

    /// Parses a frame, refusing anything oversized before reading it.
    pub fn decode(frame: &[u8]) -> Result<Message, DecodeError> {
        let version = *frame.first().ok_or(DecodeError::Empty)?;
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let kind = MessageKind::of_frame(frame).ok_or(DecodeError::UnknownKind)?;
        if frame.len() > kind.max_frame() {
            return Err(DecodeError::Oversized {
                kind,
                size: frame.len(),
                max: kind.max_frame(),
            });
        }
        let (message, rest) = postcard::take_from_bytes::<Message>(&frame[1..])
            .map_err(|_| DecodeError::Malformed { kind })?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes { kind });
        }
        let (count, max) = match &message {
            Message::Inv(items) | Message::GetData(items) | Message::NotFound(items) => {
                (items.len(), MAX_INV_ITEMS)
            }
            Message::GetHeaders { locator, .. } => (locator.len(), MAX_LOCATOR),
            Message::Headers(headers) => (headers.len(), MAX_HEADERS),
            Message::Peers(ids) => (ids.len(), MAX_PEERS_LISTED),
            Message::Relay { payload, .. } => (payload.len(), MAX_RELAY_PAYLOAD),
            _ => (0, 0),
        };
        if count > max {
            return Err(DecodeError::TooManyItems { kind, count, max });
        }
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::Roles;
    use tabchain_core::{Params, SecretKey};

    fn samples() -> Vec<Message> {
        let key = SecretKey::from_seed([1; 32]);
        let genesis = Params::for_tests("m").genesis();
        let hash = genesis.hash();
        vec![
            Message::Version(Version::new(&key, hash, 3, hash, Roles::TAB, None, b"link")),
            Message::Verack,
            Message::Ping { nonce: u64::MAX },
            Message::Pong { nonce: 7 },
            Message::Goodbye,
            Message::Inv(vec![InvItem::Block(hash), InvItem::Tx(hash)]),
            Message::GetData(vec![InvItem::Tx(hash)]),
            Message::NotFound(vec![]),
            Message::Block(genesis.clone()),
            Message::Tx(genesis.transactions[0].clone()),
            Message::GetHeaders {
                locator: vec![hash],
                stop: Some(hash),
            },
            Message::Headers(vec![genesis.header]),
            Message::GetPeers,
            Message::Peers(vec![key.public_key().node_id()]),
            Message::Relay {
                to: key.public_key().node_id(),
                from: key.public_key().node_id(),
                payload: vec![1, 2, 3],
            },
            Message::FastRelay(true),
            Message::CompactBlock(CompactBlock::of(&genesis, |_| false).expect("a coinbase")),
            Message::GetPushed(PushKey {
                time: tabchain_core::Timestamp(u64::MAX),
                nonce: u64::MAX,
            }),
        ]
    }

    #[test]
    fn every_kind_round_trips_and_its_tag_names_it() {
        for message in samples() {
            let frame = message.encode();
            assert_eq!(frame[0], PROTOCOL_VERSION);
            assert_eq!(MessageKind::of_frame(&frame), Some(message.kind()));
            assert!(
                frame.len() <= message.kind().max_frame(),
                "{:?}",
                message.kind()
            );
            assert_eq!(Message::decode(&frame), Ok(message));
        }
    }

    #[test]
    fn block_and_tx_frames_equal_their_messages() {
        let block = Params::for_tests("m").genesis();
        let frame = Message::block_frame(&block);
        assert_eq!(frame, Message::Block(block.clone()).encode());
        let tx = block.transactions[0].clone();
        assert_eq!(Message::tx_frame(&tx), Message::Tx(tx).encode());
    }

    #[test]
    fn the_largest_header_fits_its_cap() {
        let header = Header {
            version: u32::MAX,
            prev: Hash([0xff; 32]),
            merkle_root: Hash([0xff; 32]),
            time: tabchain_core::Timestamp(u64::MAX),
            difficulty: u64::MAX,
            nonce: u64::MAX,
        };
        assert!(postcard::to_stdvec(&header).unwrap().len() < 100);
    }

    #[test]
    fn bad_frames_are_named_errors() {
        assert_eq!(Message::decode(&[]), Err(DecodeError::Empty));
        assert_eq!(
            Message::decode(&[9, 1]),
            Err(DecodeError::UnsupportedVersion(9))
        );
        assert_eq!(Message::decode(&[1]), Err(DecodeError::UnknownKind));
        assert_eq!(Message::decode(&[1, 200]), Err(DecodeError::UnknownKind));
        let mut ping = Message::Ping { nonce: 1 }.encode();
        ping.push(0);
        assert_eq!(
            Message::decode(&ping),
            Err(DecodeError::TrailingBytes {
                kind: MessageKind::Ping
            })
        );
        assert_eq!(
            Message::decode(&[1, 2]),
            Err(DecodeError::Malformed {
                kind: MessageKind::Ping
            })
        );
        let big = vec![1, 5]
            .into_iter()
            .chain(vec![0; 40_000])
            .collect::<Vec<_>>();
        assert!(matches!(
            Message::decode(&big),
            Err(DecodeError::Oversized {
                kind: MessageKind::Inv,
                ..
            })
        ));
        let header = Params::for_tests("m").genesis().header;
        let many = Message::Headers(vec![header; MAX_HEADERS + 1]).encode();
        assert!(matches!(
            Message::decode(&many),
            Err(DecodeError::TooManyItems { .. })
        ));
    }
}
