//! What goes into a node and what comes out: [`Event`]s from the driver, [`Action`]s
//! for the driver to carry out, [`NodeEvent`]s for the UI, and the errors of the API.

use tabchain_core::{Block, BlockError, Hash, MempoolError, NodeId, Transaction, WalletError};

use crate::handshake::HandshakeError;
use crate::message::MessageKind;
use crate::peer::PeerState;
use crate::score::Misbehaviour;

/// Something that happened outside the node, passed to [`crate::Node::handle_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A link to `peer` opened (either side dialled). `peer` is who the driver believes
    /// it reached; the handshake proves it. `binding` is bytes only this link has, the
    /// same on both sides: in the browser the two DTLS fingerprints, sorted and joined.
    PeerConnected { peer: NodeId, binding: Vec<u8> },
    /// The link to `peer` closed without the node asking.
    PeerDisconnected { peer: NodeId },
    /// A [`Action::Connect`] to `peer` failed (no answer to the offer, ICE failed).
    DialFailed { peer: NodeId },
    /// One frame from `peer`'s data channel.
    Message { peer: NodeId, bytes: Vec<u8> },
    /// The miner solved a template.
    MinedBlock(Block),
    /// The wallet made a payment.
    SubmitTx(Transaction),
    /// Node ids heard of outside the mesh, e.g. the signaling server's peer list.
    PeersKnown(Vec<NodeId>),
}

/// Something for the driver to do, from [`crate::Node::poll_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this frame on `peer`'s data channel.
    Send { peer: NodeId, bytes: Vec<u8> },
    /// Close the link to `peer`, after sending what was queued for it (a `Goodbye`
    /// usually is). The node has already forgotten the peer; do not report
    /// `PeerDisconnected` for it. After a refused `PeerConnected`, this means the link
    /// just reported: a refused duplicate leaves the first link to that peer alone.
    Disconnect { peer: NodeId, reason: DropReason },
    /// Open a link to `peer` (through the signaling server, or with
    /// [`crate::Node::send_signal`] through the mesh), then report `PeerConnected` or
    /// `DialFailed`.
    Connect { peer: NodeId },
    /// A signaling payload `from` sent us through the mesh.
    Signal { from: NodeId, payload: Vec<u8> },
    /// Mine on this block: abandon any older template at once.
    MineTemplate(Block),
    /// Mining was switched off.
    StopMining,
    /// Persist this block (it was accepted into the block tree).
    StoreBlock(Block),
    /// Delete this stored block (by the key it is filed under): its side branch fell too
    /// far behind the tip and the block tree let it go, or [`crate::Node::load_stored`]
    /// refused the record.
    ForgetBlock(Hash),
}

/// Why a link ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    #[error("the link closed")]
    Closed,
    #[error("the peer said goodbye")]
    Goodbye,
    #[error("no pong in time")]
    Timeout,
    #[error("refused: {0}")]
    Refused(HandshakeError),
    #[error("misbehaved: {0}")]
    Misbehaved(Misbehaviour),
    #[error("one link too many: let go to keep the peer count bounded")]
    Trimmed,
    #[error("this node is shutting down")]
    Shutdown,
}

/// What the UI may show, from [`crate::Node::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    PeerState {
        peer: NodeId,
        state: PeerState,
    },
    PeerDropped {
        peer: NodeId,
        reason: DropReason,
    },
    /// A peer lost points; past the limit a `PeerDropped` follows.
    Misbehaved {
        peer: NodeId,
        what: Misbehaviour,
        score: u32,
    },
    Rtt {
        peer: NodeId,
        rtt_ms: u64,
    },
    /// A block joined the block tree; `from` is `None` for our own or stored blocks.
    BlockAccepted {
        hash: Hash,
        height: u64,
        from: Option<NodeId>,
    },
    NewTip {
        hash: Hash,
        height: u64,
    },
    /// The active chain switched branches above `fork_height`.
    Reorg {
        fork_height: u64,
        disconnected: Vec<Hash>,
        connected: Vec<Hash>,
    },
    /// Catching up: `height` of the `target` the best known header is at.
    SyncProgress {
        height: u64,
        target: u64,
    },
    MempoolChanged {
        transactions: usize,
        bytes: usize,
    },
    MessageIn {
        peer: NodeId,
        kind: MessageKind,
        bytes: usize,
    },
    MessageOut {
        peer: NodeId,
        kind: MessageKind,
        bytes: usize,
    },
}

/// A local input the node refused. Peers' bytes never cause one: they become a drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    #[error("the mined block is invalid: {0}")]
    InvalidMinedBlock(BlockError),
    #[error("the transaction was refused: {0}")]
    Tx(MempoolError),
    #[error("{0}")]
    Wallet(#[from] WalletError),
}

/// Why [`crate::Node::send_signal`] could not route a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("no linked peer lists that node among its peers")]
    NoRoute,
    #[error("payload of {size} bytes, the cap is {max}")]
    TooLarge { size: usize, max: usize },
}
