//! Difficulty retargeting: every block, from the solve times of a window of recent
//! blocks, weighted so the newest count most (LWMA), then clamped.
//!
//! A classroom's hashrate jumps when tabs open or close; weighting recent blocks lets the
//! difficulty follow within a few blocks, and the clamp keeps one odd timestamp from
//! swinging it far.
//!
//! A solve time may be negative (a block stamped before its parent), and it counts as
//! negative, as in zawy12's LWMA (github.com/zawy12/difficulty-algorithms, issue 3):
//! consecutive solve times then add up to the real time the window spans, so a miner who
//! stamps one block late and the next early gains nothing. Clamping each at zero instead
//! would let every late/early pair add a late stamp's worth of time and walk the
//! difficulty down (a timewarp). A negative solve time counts at most as the future-time
//! limit, the furthest a valid block can be stamped ahead.

use crate::params::Params;
use crate::time::Timestamp;

/// Most a difficulty moves in one block: up to this factor, or down to its inverse.
const MAX_STEP: u64 = 2;
/// A solve time counts as at most this many target times (or a target time plus the
/// future-time limit, if that is longer), so a block after a long pause (every tab
/// stopped mining) does not drop the difficulty to nothing.
const MAX_SOLVE_TARGETS: u64 = 6;

/// The difficulty the next block must carry, given `(time, difficulty)` of the recent
/// blocks after genesis, oldest first, ending with the parent. With fewer than two of
/// them there is no solve time to weigh yet and the parent's difficulty stays.
pub fn next_difficulty(
    params: &Params,
    parent_difficulty: u64,
    recent: &[(Timestamp, u64)],
) -> u64 {
    let window = &recent[recent.len().saturating_sub(params.retarget_window + 1)..];
    if window.len() < 2 {
        return parent_difficulty.max(params.min_difficulty);
    }
    let target = u128::from(params.target_block_ms.max(1));
    let n = (window.len() - 1) as u128;
    // A late stamp's solve time (up to a block plus the future limit) must count whole,
    // or the on-time stamp after it would look like a burst of blocks and a miner could
    // drive the difficulty up; a longer one is a pause, capped.
    let future = i128::from(params.max_future_ms);
    let longest = (target as i128 * i128::from(MAX_SOLVE_TARGETS)).max(target as i128 + future);
    let (mut weighted_time, mut difficulty_sum) = (0i128, 0u128);
    for (i, pair) in window.windows(2).enumerate() {
        let solve = i128::from(pair[1].0 .0) - i128::from(pair[0].0 .0);
        let solve = solve.clamp(-future, longest);
        weighted_time += (i as i128 + 1) * solve;
        difficulty_sum += u128::from(pair[1].1);
    }
    // Negative stamps may outweigh the rest; the step clamp below bounds the result, this
    // only keeps the division defined (zawy12 floors the sum the same way).
    let weighted_time = weighted_time.max(1) as u128;
    // avg_difficulty * target * (1 + 2 + .. + n) / weighted_time, multiplied out so that
    // integer division comes last.
    let next = difficulty_sum * target * (n + 1) / 2 / weighted_time;
    let parent = u128::from(parent_difficulty);
    let step = u128::from(MAX_STEP);
    let next = next.clamp(parent / step, parent * step);
    u64::try_from(next)
        .unwrap_or(u64::MAX)
        .max(params.min_difficulty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn params() -> Params {
        Params::new("difficulty")
    }

    /// Blocks spaced `spacing_ms` apart, all at `difficulty`.
    fn steady(count: u64, spacing_ms: u64, difficulty: u64) -> Vec<(Timestamp, u64)> {
        (0..count)
            .map(|i| (Timestamp(i * spacing_ms), difficulty))
            .collect()
    }

    #[test]
    fn on_target_blocks_keep_the_difficulty() {
        let p = params();
        assert_eq!(
            next_difficulty(&p, 1000, &steady(40, p.target_block_ms, 1000)),
            1000
        );
    }

    #[test]
    fn fast_blocks_raise_it_slow_blocks_lower_it_within_the_clamp() {
        let p = params();
        let fast = next_difficulty(&p, 1000, &steady(40, p.target_block_ms / 2, 1000));
        assert_eq!(fast, 2000);
        let slow = next_difficulty(&p, 1000, &steady(40, p.target_block_ms * 2, 1000));
        assert_eq!(slow, 500);
        let instant = next_difficulty(&p, 1000, &steady(40, 0, 1000));
        assert_eq!(instant, 2000, "clamped to one step");
    }

    #[test]
    fn stamping_blocks_late_then_early_does_not_walk_it_down() {
        // A timewarp: blocks come every target time, but every other one is stamped as
        // late as a valid block may be, the next one back on time. Counting only the late
        // stamps (negative solve times clamped at zero) made the chain look three times
        // slower than it is, block after block, down to the minimum difficulty.
        let p = params();
        let mut history = vec![(Timestamp(1_000_000), 1000)];
        for i in 1..300u64 {
            let parent = history.last().unwrap().1;
            let difficulty = next_difficulty(&p, parent, &history);
            let late = if i % 2 == 1 { p.max_future_ms } else { 0 };
            history.push((
                Timestamp(1_000_000 + i * p.target_block_ms + late),
                difficulty,
            ));
        }
        let tail = &history[200..];
        let mean = tail.iter().map(|(_, d)| *d as f64).sum::<f64>() / tail.len() as f64;
        // The newest stamp weighs most, so the difficulty swings block to block (down
        // after a late stamp, up after an on-time one), by as much as the future limit is
        // long next to the window; on average it stays.
        assert!((850.0..1150.0).contains(&mean), "mean difficulty {mean}");
    }

    #[test]
    fn too_short_a_history_keeps_the_parents_difficulty() {
        let p = params();
        assert_eq!(next_difficulty(&p, 77, &[]), 77);
        assert_eq!(next_difficulty(&p, 77, &[(Timestamp(5), 77)]), 77);
        assert_eq!(next_difficulty(&p, 0, &[]), p.min_difficulty);
    }

    /// Mines 300 blocks with exponential solve times at `hashes_per_ms` and returns the
    /// mean block time of the last 200, once retargeting has found its level.
    fn mean_block_ms(hashes_per_ms: f64, seed: u64) -> f64 {
        let p = params();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut history = vec![(Timestamp(0), p.initial_difficulty)];
        for _ in 0..300 {
            let (time, parent) = *history.last().unwrap();
            let difficulty = next_difficulty(&p, parent, &history);
            let uniform = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let solve_ms = -(1.0 - uniform).ln() * difficulty as f64 / hashes_per_ms;
            history.push((time.saturating_add(solve_ms as u64), difficulty));
        }
        let tail = &history[100..];
        tail.last().unwrap().0.since(tail[0].0) as f64 / (tail.len() - 1) as f64
    }

    #[test]
    fn one_miner_or_forty_keep_near_the_target_time() {
        // One tab at ~4 MH/s, and forty of them.
        for (hashes_per_ms, seed) in [(4_000.0, 1), (160_000.0, 2)] {
            let mean = mean_block_ms(hashes_per_ms, seed);
            assert!(
                (7_000.0..13_000.0).contains(&mean),
                "{hashes_per_ms} H/ms: mean block time {mean} ms"
            );
        }
    }
}
