//! Building blocks on any branch for the core's tests and benchmarks.
#![allow(dead_code)] // each test file uses its own part of the kit

use tabchain_core::pow::solve;
use tabchain_core::{
    Address, Block, Chain, Hash, Header, Output, Params, SecretKey, Timestamp, Transaction, Wallet,
};

/// A clock far enough ahead that no test block is "too new".
pub const LATER: Timestamp = Timestamp(u64::MAX / 2);

pub fn wallet(n: u8) -> Wallet {
    Wallet::new(SecretKey::from_seed([n; 32]))
}

pub fn address(n: u8) -> Address {
    wallet(n).address()
}

/// A solved child of `parent` (stored in `chain`) carrying `payments`, its coinbase
/// paying `miner` the reward plus `fees`, `spacing_ms` after its parent.
pub fn child(
    chain: &Chain,
    parent: Hash,
    payments: Vec<Transaction>,
    fees: u64,
    miner: Address,
    spacing_ms: u64,
) -> Block {
    let parent_block = chain.block(&parent).expect("parent stored");
    let height = chain.height_of(&parent).unwrap() + 1;
    let coinbase = Transaction::coinbase(
        height,
        vec![Output {
            value: chain.params().block_reward + fees,
            address: miner,
        }],
    );
    let mut transactions = vec![coinbase];
    transactions.extend(payments);
    let mut block = Block {
        header: Header {
            version: Header::VERSION,
            prev: parent,
            merkle_root: Hash::ZERO,
            time: parent_block.header.time.saturating_add(spacing_ms),
            difficulty: chain.next_difficulty(&parent).unwrap(),
            nonce: 0,
        },
        transactions,
    };
    seal(&mut block);
    block
}

/// An empty block on the tip, on target time.
pub fn next(chain: &Chain, miner: Address) -> Block {
    child(
        chain,
        chain.tip(),
        Vec::new(),
        0,
        miner,
        chain.params().target_block_ms,
    )
}

/// Recomputes the merkle root and solves the proof of work again after a test edits
/// a block, so that only the rule under test is broken.
pub fn seal(block: &mut Block) {
    block.header.merkle_root = Block::merkle_root_of(&block.transactions);
    assert!(solve(&mut block.header));
}

/// A chain with `blocks` empty blocks mined by `miner` on top of genesis.
pub fn chain_of(params: Params, blocks: usize, miner: Address) -> Chain {
    let mut chain = Chain::new(params);
    for _ in 0..blocks {
        let block = next(&chain, miner);
        chain.process_block(block, LATER).unwrap();
    }
    chain
}

/// Mines enough empty blocks (paying wallet 9) on the tip for every coinbase below them
/// to mature.
pub fn mature(chain: &mut Chain) {
    for _ in 0..chain.params().coinbase_maturity {
        let block = next(chain, address(9));
        chain.process_block(block, LATER).unwrap();
    }
}
