//! The keeper's block store killed with SIGKILL in the middle of writing, again and
//! again: every restart finds every block a commit acknowledged, no record is damaged,
//! and the node loads the whole chain with a UTXO set equal to a replay's.
//!
//! The writer is this test binary run again as a child process (`CHILD` set): it
//! extends the stored chain one durable transaction per block and prints
//! `stored <height>` after each commit returns; the parent kills it at a different
//! point in each round.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use tabchain_core::{pow, Address, Block, Ledger, Params, SecretKey, Timestamp};
use tabchain_keeper::store::Store;
use tabchain_node::{Config, Node};

const CHILD: &str = "TABCHAIN_CRASH_WRITER";
const TEST: &str = "a_store_killed_mid_write_comes_back_consistent";

fn params() -> Params {
    Params::for_tests("crash")
}

fn miner() -> Address {
    SecretKey::from_seed([3; 32]).public_key().address()
}

/// The stored chain, loaded by a node with the node's checks, and the node.
fn load(path: &Path) -> (Node, Vec<Block>) {
    let store = Store::open(path).expect("the store opens after a crash");
    let loaded = store.load().expect("the store reads after a crash");
    assert!(
        loaded.undecodable.is_empty(),
        "a damaged record: {:?}",
        loaded.undecodable
    );
    let blocks: Vec<Block> = loaded
        .blocks
        .iter()
        .map(|(_, block)| block.clone())
        .collect();
    let now = Timestamp(u64::MAX / 4);
    let mut node = Node::new(
        Config::default(),
        SecretKey::from_seed([9; 32]),
        params(),
        1,
        now,
    );
    let report = node.load_stored(now, loaded.blocks);
    assert!(
        report.refused.is_empty(),
        "refused on load: {:?}",
        report.refused
    );
    assert!(
        report.waiting.is_empty(),
        "blocks cut off from the chain: {:?}",
        report.waiting
    );
    (node, blocks)
}

fn writer(dir: &Path) -> ! {
    let path = dir.join("blocks.redb");
    let (node, _) = load(&path);
    let mut ledger = Ledger::new(params());
    let chain = node.ledger().chain();
    for height in 1..=chain.height() {
        let block = chain
            .block(&chain.hash_at(height).unwrap())
            .unwrap()
            .clone();
        let time = block.header.time;
        ledger.submit_block(block, time).unwrap();
    }
    drop(node);
    let store = Store::open(&path).unwrap();
    let mut time = ledger.chain().tip_header().time;
    loop {
        // One target block time apart, so retargeting keeps the test difficulty.
        time = Timestamp(time.0 + params().target_block_ms);
        let mut block = ledger.template(miner(), time);
        assert!(pow::solve(&mut block.header));
        ledger.submit_block(block.clone(), time).unwrap();
        store.put_all(std::slice::from_ref(&block)).unwrap();
        println!("stored {}", ledger.chain().height());
    }
}

#[test]
fn a_store_killed_mid_write_comes_back_consistent() {
    if let Some(dir) = std::env::var_os(CHILD) {
        writer(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.redb");
    let mut acknowledged = 0;
    for round in 0..20u64 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
            .env(CHILD, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Killed after a different number of commits each round, while it writes on.
        let commits = 1 + round * 7 % 13;
        let mut seen = 0;
        for line in lines {
            let line = line.unwrap();
            if let Some(height) = line.strip_prefix("stored ") {
                acknowledged = height.parse().unwrap();
                seen += 1;
                if seen == commits {
                    break;
                }
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let (node, blocks) = load(&path);
        assert!(
            node.height() >= acknowledged,
            "round {round}: height {} after a commit of height {acknowledged} was acknowledged",
            node.height()
        );
        // The UTXO set the node rebuilt on load equals a replay of the chain with every
        // rule checked.
        let mut replay = Ledger::new(params());
        let mut ordered: Vec<&Block> = blocks.iter().collect();
        ordered.sort_by_key(|block| node.ledger().chain().height_of(&block.hash()));
        for block in ordered {
            replay
                .submit_block(block.clone(), block.header.time)
                .unwrap();
        }
        assert_eq!(replay.chain().tip(), node.tip());
        assert_eq!(replay.balance(&miner()), node.ledger().balance(&miner()));
        assert_eq!(
            replay.spendable(&miner()).len(),
            node.ledger().spendable(&miner()).len()
        );
    }
    assert!(
        acknowledged >= 50,
        "the writer got through {acknowledged} blocks"
    );
}
