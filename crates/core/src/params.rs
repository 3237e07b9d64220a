//! Network parameters and the genesis block they derive: each room is its own chain.

use crate::block::Block;
use crate::hash::Hash;
use crate::header::Header;
use crate::time::Timestamp;
use crate::tx::Transaction;

/// Base units in one coin.
pub const COIN: u64 = 1_000;

/// The rules of one network. Two nodes with different parameters have different genesis
/// blocks, so they refuse each other at handshake instead of disagreeing later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// The room name: it seeds the genesis block.
    pub network: String,
    /// Difficulty (expected hashes per block) of the first blocks, before retargeting
    /// has a window to look at.
    pub initial_difficulty: u64,
    /// The block time retargeting aims for.
    pub target_block_ms: u64,
    /// How many recent solve times the retarget weighs.
    pub retarget_window: usize,
    /// The lowest difficulty retargeting may reach.
    pub min_difficulty: u64,
    /// New coins in each block, paid by its coinbase together with the fees.
    pub block_reward: u64,
    /// How far ahead of the receiver's clock a block's time may be. Retargeting counts a
    /// late stamp's solve time whole (and the on-time one after it as negative), and the
    /// newest solve time weighs most, so this bounds how far one late stamp can swing the
    /// next block's difficulty: zawy12's LWMA asks for a few target times, not hours.
    pub max_future_ms: u64,
    /// How many blocks with unknown parents are kept while their ancestors are fetched.
    pub max_orphans: usize,
    /// How many blocks a coinbase's coins wait before they can be spent: a payment built
    /// on a fresh coinbase would vanish with it in a reorg, and so would every payment
    /// after it that spent its coins.
    pub coinbase_maturity: u64,
}

/// A room's block time unless it picks another.
pub const DEFAULT_BLOCK_MS: u64 = 10_000;
/// Expected hashes for a few browser tabs to find a block in [`DEFAULT_BLOCK_MS`].
const DEFAULT_BLOCK_HASHES: u64 = 1 << 20;
/// The least future-time limit: laptops' clocks in a classroom disagree by seconds, so
/// fast blocks still get this much.
const MIN_FUTURE_MS: u64 = 30_000;

impl Params {
    /// The parameters of a classroom room: 10-second blocks, a difficulty a few browser
    /// tabs reach in about that time.
    pub fn new(network: &str) -> Params {
        Params::with_block_time_ms(network, DEFAULT_BLOCK_MS)
    }

    /// A room whose blocks come every `block_ms` (at least 1 ms): the first blocks'
    /// difficulty scales with it, and the future-time limit is three block times, never
    /// under 30 s. The block time is part of the genesis, so tabs that pick another pace
    /// form another network.
    pub fn with_block_time_ms(network: &str, block_ms: u64) -> Params {
        let block_ms = block_ms.max(1);
        let scaled =
            u128::from(DEFAULT_BLOCK_HASHES) * u128::from(block_ms) / u128::from(DEFAULT_BLOCK_MS);
        Params {
            network: network.to_owned(),
            initial_difficulty: u64::try_from(scaled).unwrap_or(u64::MAX).max(1),
            target_block_ms: block_ms,
            retarget_window: 30,
            min_difficulty: 1,
            block_reward: 50 * COIN,
            max_future_ms: block_ms.saturating_mul(3).max(MIN_FUTURE_MS),
            max_orphans: 256,
            coinbase_maturity: 10,
        }
    }

    /// A room's rules as a page states them: `?block_time=` in seconds and
    /// `?difficulty=` for the first blocks (default: [`Params::new`]'s). Tabs and the
    /// keeper build them here, so the same words give the same genesis.
    pub fn for_room(network: &str, block_time_s: Option<u64>, difficulty: Option<u64>) -> Params {
        let mut params = match block_time_s {
            Some(seconds) => Params::with_block_time_ms(network, seconds.saturating_mul(1000)),
            None => Params::new(network),
        };
        if let Some(difficulty) = difficulty {
            params.initial_difficulty = difficulty;
            params.min_difficulty = params.min_difficulty.min(difficulty);
        }
        params
    }

    /// Parameters for tests: every hash meets difficulty 1, so blocks need no real work.
    pub fn for_tests(network: &str) -> Params {
        Params {
            initial_difficulty: 1,
            ..Params::new(network)
        }
    }

    /// The genesis block of this network. Its parent field holds a digest of the room
    /// name and every parameter, which is what makes each room (and each rule set) a
    /// chain of its own; its proof of work is never checked.
    pub fn genesis(&self) -> Block {
        let coinbase = Transaction::coinbase(0, Vec::new());
        let transactions = vec![coinbase];
        let header = Header {
            version: Header::VERSION,
            prev: self.digest(),
            merkle_root: Block::merkle_root_of(&transactions),
            time: GENESIS_TIME,
            difficulty: self.initial_difficulty,
            nonce: 0,
        };
        Block {
            header,
            transactions,
        }
    }

    fn digest(&self) -> Hash {
        Hash::digest_parts(&[
            b"tabchain-genesis/v1",
            &(self.network.len() as u64).to_le_bytes(),
            self.network.as_bytes(),
            &self.initial_difficulty.to_le_bytes(),
            &self.target_block_ms.to_le_bytes(),
            &(self.retarget_window as u64).to_le_bytes(),
            &self.min_difficulty.to_le_bytes(),
            &self.block_reward.to_le_bytes(),
            &self.max_future_ms.to_le_bytes(),
            &self.coinbase_maturity.to_le_bytes(),
        ])
    }
}

/// 2026-01-01T00:00:00Z: every genesis block carries it, so all tabs derive the same one.
pub const GENESIS_TIME: Timestamp = Timestamp(1_767_225_600_000);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_room_and_rule_set_has_its_own_genesis() {
        let lobby = Params::new("lobby").genesis().hash();
        assert_eq!(lobby, Params::new("lobby").genesis().hash());
        assert_ne!(lobby, Params::new("lobby2").genesis().hash());
        assert_ne!(lobby, Params::for_tests("lobby").genesis().hash());
    }

    #[test]
    fn the_block_time_is_a_rule_of_the_room() {
        let ten = Params::new("lobby");
        let paced = Params {
            target_block_ms: 1_000,
            ..ten.clone()
        };
        assert_ne!(ten.genesis().hash(), paced.genesis().hash());
        assert_eq!(Params::with_block_time_ms("lobby", DEFAULT_BLOCK_MS), ten);

        let fast = Params::with_block_time_ms("lobby", 1_000);
        assert_eq!(
            fast.max_future_ms, 30_000,
            "clock skew needs 30 s whatever the pace"
        );
        assert_eq!(fast.initial_difficulty, DEFAULT_BLOCK_HASHES / 10);
        let slow = Params::with_block_time_ms("lobby", 600_000);
        assert_eq!(slow.max_future_ms, 1_800_000);
        assert_eq!(slow.initial_difficulty, DEFAULT_BLOCK_HASHES * 60);
        assert_eq!(Params::with_block_time_ms("lobby", 0).target_block_ms, 1);
    }
}
