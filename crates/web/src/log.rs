//! The protocol log: one line per thing worth seeing, worded for a class watching it.

use std::collections::VecDeque;

use tabchain_core::Timestamp;
use tabchain_node::{MessageKind, NodeEvent};

use crate::names::friendly_name;
use crate::view::{LogKind, LogLine};

/// Lines kept; older ones scroll away.
const KEEP: usize = 200;

#[derive(Debug, Default)]
pub struct Log {
    lines: VecDeque<LogLine>,
}

impl Log {
    pub fn push(&mut self, at: Timestamp, kind: LogKind, text: impl Into<String>) {
        if self.lines.len() == KEEP {
            self.lines.pop_front();
        }
        self.lines.push_back(LogLine {
            at,
            kind,
            text: text.into(),
        });
    }

    /// Logs what the node reported, if it is worth a line.
    pub fn node_event(&mut self, at: Timestamp, event: &NodeEvent) {
        if let Some((kind, text)) = describe(event) {
            self.push(at, kind, text);
        }
    }

    /// Oldest first.
    pub fn lines(&self) -> &VecDeque<LogLine> {
        &self.lines
    }
}

/// Pings, pongs and handshake messages would drown everything else: they are left out
/// (the peers panel shows their effect as round-trip times).
fn describe(event: &NodeEvent) -> Option<(LogKind, String)> {
    let line = match event {
        NodeEvent::PeerState { peer, state } => (
            LogKind::Peer,
            format!("{} is {state:?}", friendly_name(peer)).to_lowercase(),
        ),
        NodeEvent::PeerDropped { peer, reason } => (
            LogKind::Peer,
            format!("dropped {}: {reason}", friendly_name(peer)),
        ),
        NodeEvent::Misbehaved { peer, what, score } => (
            LogKind::Warning,
            format!("{} misbehaved ({what}), score {score}", friendly_name(peer)),
        ),
        NodeEvent::BlockAccepted { hash, height, from } => (
            LogKind::Block,
            match from {
                Some(peer) => format!(
                    "block {height} {} from {}",
                    hash.short(),
                    friendly_name(peer)
                ),
                None => format!("block {height} {}", hash.short()),
            },
        ),
        NodeEvent::NewTip { hash, height } => {
            (LogKind::Block, format!("new tip {height} {}", hash.short()))
        }
        NodeEvent::Reorg {
            fork_height,
            disconnected,
            connected,
        } => (
            LogKind::Warning,
            format!(
                "reorg above {fork_height}: {} blocks out, {} in",
                disconnected.len(),
                connected.len()
            ),
        ),
        NodeEvent::SyncProgress { height, target } => {
            (LogKind::Block, format!("syncing: {height} of {target}"))
        }
        NodeEvent::MessageIn { peer, kind, bytes } if talks(*kind) => (
            LogKind::Message,
            format!("← {kind:?} {bytes} B from {}", friendly_name(peer)),
        ),
        NodeEvent::MessageOut { peer, kind, bytes } if talks(*kind) => (
            LogKind::Message,
            format!("→ {kind:?} {bytes} B to {}", friendly_name(peer)),
        ),
        NodeEvent::Rtt { .. }
        | NodeEvent::MempoolChanged { .. }
        | NodeEvent::MessageIn { .. }
        | NodeEvent::MessageOut { .. } => return None,
    };
    Some(line)
}

fn talks(kind: MessageKind) -> bool {
    !matches!(
        kind,
        MessageKind::Ping | MessageKind::Pong | MessageKind::Version | MessageKind::Verack
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::{Hash, NodeId};
    use tabchain_node::DropReason;

    #[test]
    fn keeps_the_latest_lines_and_skips_pings() {
        let mut log = Log::default();
        let peer = NodeId([0; 16]);
        for kind in [MessageKind::Ping, MessageKind::Pong, MessageKind::Inv] {
            log.node_event(
                Timestamp(1),
                &NodeEvent::MessageIn {
                    peer,
                    kind,
                    bytes: 9,
                },
            );
        }
        assert_eq!(log.lines().len(), 1);
        assert_eq!(log.lines()[0].text, "← Inv 9 B from amber-ant");
        log.node_event(
            Timestamp(2),
            &NodeEvent::PeerDropped {
                peer,
                reason: DropReason::Timeout,
            },
        );
        assert_eq!(log.lines()[1].text, "dropped amber-ant: no pong in time");
        for height in 0..300 {
            log.node_event(
                Timestamp(3),
                &NodeEvent::NewTip {
                    hash: Hash::digest(b"x"),
                    height,
                },
            );
        }
        assert_eq!(log.lines().len(), KEEP);
        assert!(log.lines().back().unwrap().text.starts_with("new tip 299 "));
    }
}
