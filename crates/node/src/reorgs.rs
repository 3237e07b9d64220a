//! The node's recent reorgs, kept for the UI: a class watching a fork resolve wants to
//! see which branch lost, how deep, and which payments went back to wait.

use std::collections::VecDeque;

use tabchain_core::{Hash, Timestamp, TxId};

/// Reorgs remembered.
const KEPT: usize = 16;

/// One switch of the active chain to another branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reorg {
    pub at: Timestamp,
    /// The height of the last block both branches share.
    pub fork_height: u64,
    /// Blocks that left the active chain, lowest first.
    pub disconnected: Vec<Hash>,
    /// Blocks that joined it, lowest first.
    pub connected: Vec<Hash>,
    /// Payments of the lost branch that are waiting in the mempool again.
    pub returned: Vec<TxId>,
}

impl Reorg {
    /// How many blocks were undone.
    pub fn depth(&self) -> usize {
        self.disconnected.len()
    }
}

/// The last [`KEPT`] reorgs, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReorgLog(VecDeque<Reorg>);

impl ReorgLog {
    pub(crate) fn push(&mut self, reorg: Reorg) {
        if self.0.len() == KEPT {
            self.0.pop_front();
        }
        self.0.push_back(reorg);
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Reorg> {
        self.0.iter()
    }
}
