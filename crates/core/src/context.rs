//! The context a header is checked in: what its parent's ancestry says the next block
//! must carry (the retargeted difficulty, a time after the median past). The chain checks
//! each block's header with it, and header-first sync checks a run of headers before any
//! of their blocks is stored, extending the context header by header.

use std::collections::VecDeque;

use crate::block::BlockError;
use crate::difficulty::next_difficulty;
use crate::hash::Hash;
use crate::header::Header;
use crate::params::Params;
use crate::time::Timestamp;

/// How many ancestors' times give the median a new block's time must exceed.
pub const MEDIAN_TIME_SPAN: usize = 11;

/// A block (stored, or a header checked in this context) as the parent of the next:
/// its hash, height, cumulative work, and the times and difficulties of it and its
/// nearest ancestors, as many as retargeting and the median time need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderContext {
    hash: Hash,
    height: u64,
    work: u128,
    /// `(height, time, difficulty)`, oldest first, ending with this block.
    recent: VecDeque<(u64, Timestamp, u64)>,
    keep: usize,
}

impl HeaderContext {
    /// The context after `hash` at `height` with cumulative `work`, given `recent`:
    /// `(height, time, difficulty)` of it and its ancestors, oldest first.
    pub(crate) fn new(
        params: &Params,
        hash: Hash,
        height: u64,
        work: u128,
        recent: impl IntoIterator<Item = (u64, Timestamp, u64)>,
    ) -> HeaderContext {
        let keep = Self::span(params);
        let mut recent: VecDeque<_> = recent.into_iter().collect();
        while recent.len() > keep {
            recent.pop_front();
        }
        HeaderContext {
            hash,
            height,
            work,
            recent,
            keep,
        }
    }

    /// How many ancestors a context needs: the retarget window and the median's span.
    pub(crate) fn span(params: &Params) -> usize {
        (params.retarget_window + 1).max(MEDIAN_TIME_SPAN)
    }

    // Getters.

    /// The block the next header must name as its parent.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    pub fn height(&self) -> u64 {
        self.height
    }

    /// Cumulative difficulty up to and including this block.
    pub fn work(&self) -> u128 {
        self.work
    }

    /// The difficulty the next block must carry.
    pub fn next_difficulty(&self, params: &Params) -> u64 {
        let window = params.retarget_window + 1;
        let after_genesis: Vec<_> = self
            .recent
            .iter()
            .filter(|(height, _, _)| *height > 0)
            .map(|(_, time, difficulty)| (*time, *difficulty))
            .collect();
        let from = after_genesis.len().saturating_sub(window);
        let parent = self.recent.back().map_or(0, |(_, _, d)| *d);
        next_difficulty(params, parent, &after_genesis[from..])
    }

    /// The median time of this block and its ten ancestors: the next must be later.
    pub fn median_time_past(&self) -> Timestamp {
        let mut times: Vec<_> = self
            .recent
            .iter()
            .rev()
            .take(MEDIAN_TIME_SPAN)
            .map(|(_, time, _)| *time)
            .collect();
        times.sort();
        times[times.len() / 2]
    }

    /// The rules for `header` as the next block, cheapest first: it follows this block,
    /// carries the difficulty this block's ancestry requires and meets it, and is stamped
    /// after the median past and not too far past `now`.
    pub fn check(
        &self,
        params: &Params,
        header: &Header,
        now: Timestamp,
    ) -> Result<(), BlockError> {
        if header.prev != self.hash {
            return Err(BlockError::UnknownParent);
        }
        let expected = self.next_difficulty(params);
        if header.difficulty != expected {
            return Err(BlockError::BadDifficulty {
                expected,
                got: header.difficulty,
            });
        }
        if !header.meets_difficulty() {
            return Err(BlockError::BadPow);
        }
        if header.time <= self.median_time_past() {
            return Err(BlockError::TimeTooOld);
        }
        if header.time > now.saturating_add(params.max_future_ms) {
            return Err(BlockError::TimeTooNew);
        }
        Ok(())
    }

    // Commands.

    /// Checks `header` as the next block and, if it passes, moves on to it.
    pub fn extend(
        &mut self,
        params: &Params,
        header: &Header,
        now: Timestamp,
    ) -> Result<(), BlockError> {
        self.check(params, header, now)?;
        self.push(header);
        Ok(())
    }

    /// Checks a run of headers, each the child of the one before, the first a child of
    /// this block; moves on to the last that passes. `Err` names the first that fails.
    pub fn extend_all(
        &mut self,
        params: &Params,
        headers: &[Header],
        now: Timestamp,
    ) -> Result<(), (usize, BlockError)> {
        for (index, header) in headers.iter().enumerate() {
            self.extend(params, header, now)
                .map_err(|error| (index, error))?;
        }
        Ok(())
    }

    /// Moves on to `header` without checking it (it was checked in this context before).
    pub(crate) fn push(&mut self, header: &Header) {
        self.hash = header.hash();
        self.height += 1;
        self.work += u128::from(header.difficulty);
        self.recent
            .push_back((self.height, header.time, header.difficulty));
        if self.recent.len() > self.keep {
            self.recent.pop_front();
        }
    }
}
