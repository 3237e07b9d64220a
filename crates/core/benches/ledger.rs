//! Throughput of the ledger's hot paths: proof-of-work hashing (with and without the
//! midstate, and four nonces at a time in lanes: natively a plain `[u32; 4]`, so this
//! measures the lanes' rounds, not the browser's SIMD), block validation, signing and signature checks, a depth-100 reorg, and loading a
//! stored chain of 2000 blocks.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tabchain_core::pow::search_full_hash;
use tabchain_core::{
    Block, Chain, Hash, Header, LaneSearch, Ledger, Output, Params, PowSearch, Signatures,
    Timestamp,
};

const NONCES: u64 = 10_000;

fn pow(c: &mut Criterion) {
    // An impossible difficulty, so every nonce of the range is hashed.
    let header = Header {
        version: Header::VERSION,
        prev: Hash::digest(b"parent"),
        merkle_root: Hash::digest(b"txs"),
        time: Timestamp(1_767_225_600_000),
        difficulty: u64::MAX,
        nonce: 0,
    };
    let mut group = c.benchmark_group("pow");
    group.throughput(Throughput::Elements(NONCES));
    group.bench_function("midstate", |b| {
        let search = PowSearch::new(&header);
        b.iter(|| search.search(0..NONCES))
    });
    group.bench_function("lanes", |b| {
        let search = LaneSearch::new(&header);
        b.iter(|| search.search(0..NONCES))
    });
    group.bench_function("full_hash", |b| {
        b.iter(|| search_full_hash(&header, 0..NONCES))
    });
    group.finish();
}

/// A chain where wallet 1 holds 100 coins, and a valid block of 100 payments on it.
fn hundred_payments() -> (Chain, Block) {
    let mut ledger = Ledger::new(Params::for_tests("bench"));
    let mine = |ledger: &mut Ledger| {
        let mut block = ledger.template(address(1), LATER);
        block.header.time = ledger.chain().tip_header().time.saturating_add(10_000);
        seal(&mut block);
        ledger.submit_block(block.clone(), LATER).unwrap();
        block
    };
    mine(&mut ledger);
    for _ in 0..ledger.chain().params().coinbase_maturity {
        mine(&mut ledger);
    }
    let genesis = ledger.chain().genesis_hash();
    let coins = ledger.spendable(&address(1));
    let mut split = wallet(1).pay(&coins, address(1), 1, 0, &genesis).unwrap();
    split.outputs = vec![
        Output {
            value: 10,
            address: address(1)
        };
        100
    ];
    split.sign_all(wallet(1).key(), &genesis);
    ledger.submit_tx(split).unwrap();
    mine(&mut ledger);
    for coin in ledger
        .spendable(&address(1))
        .into_iter()
        .filter(|c| c.1.output.value == 10)
    {
        let tx = wallet(1).pay(&[coin], address(2), 9, 1, &genesis).unwrap();
        ledger.submit_tx(tx).unwrap();
    }
    let mut block = ledger.template(address(1), LATER);
    block.header.time = ledger.chain().tip_header().time.saturating_add(10_000);
    seal(&mut block);
    assert_eq!(block.transactions.len(), 101);
    (ledger.chain().clone(), block)
}

/// `chain`'s blocks, taken in by a chain that saw none of their payments before.
fn replayed(chain: &Chain) -> Chain {
    let mut fresh = Chain::new(chain.params().clone());
    for height in 1..=chain.height() {
        let hash = chain.hash_at(height).expect("active");
        let block = chain.block(&hash).expect("stored").clone();
        fresh.process_block(block, LATER).expect("valid");
    }
    fresh
}

fn validation(c: &mut Criterion) {
    let (chain, block) = hundred_payments();
    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(1));
    // As a node that took the payments into its mempool first, then a node that sees
    // them for the first time in the block and checks their signatures.
    let unseen = replayed(&chain);
    for (name, chain) in [
        ("block_of_100_payments", &chain),
        ("block_of_100_unseen", &unseen),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || (chain.clone(), block.clone()),
                |(mut chain, block)| chain.process_block(block, LATER).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    let key = wallet(1).key().clone();
    let message = Hash::digest(b"signed").0;
    let signature = key.sign(&message);
    group.bench_function("signature", |b| {
        b.iter(|| key.public_key().verify(&message, &signature).unwrap())
    });
    // What every link's handshake costs each side.
    group.bench_function("sign", |b| b.iter(|| key.sign(&message)));
    group.finish();
}

fn reorg(c: &mut Criterion) {
    let params = Params::for_tests("bench");
    // Each branch from a builder of its own: one chain would not store a branch that
    // trails its tip by 100 blocks, so it could not build on it.
    let grow = |miner: u8, count: usize| {
        let mut builder = Chain::new(params.clone());
        let mut blocks = Vec::new();
        for _ in 0..count {
            let block = child(&builder, builder.tip(), vec![], 0, address(miner), 10_000);
            builder.process_block(block.clone(), LATER).unwrap();
            blocks.push(block);
        }
        blocks
    };
    let current = grow(1, 100);
    let mut rival = grow(2, 101);
    let last = rival.pop().unwrap();
    // The rival's first 100 blocks trail the current branch, so they are held until the
    // last brings the branch ahead.
    let mut chain = Chain::new(params);
    for block in current.into_iter().chain(rival) {
        chain.process_block(block, LATER).unwrap();
    }
    c.bench_function("reorg_depth_100", |b| {
        b.iter_batched(
            || (chain.clone(), last.clone()),
            |(mut chain, last)| {
                chain.process_block(last, LATER).unwrap();
                assert_eq!(chain.height(), 101);
            },
            BatchSize::LargeInput,
        )
    });
}

/// A chain of `length` blocks in which wallet 1 mines, and from the 12th block on pays
/// wallet 2 three times a block from its oldest coins, so that loading it replays
/// payments, not only coinbases.
fn paying_chain(length: usize) -> Vec<Block> {
    let mut ledger = Ledger::new(Params::for_tests("bench"));
    let genesis = ledger.chain().genesis_hash();
    (0..length)
        .map(|_| {
            for coin in ledger.spendable(&address(1)).into_iter().take(3) {
                let tx = wallet(1)
                    .pay(&[coin], address(2), 1_000, 1, &genesis)
                    .unwrap();
                ledger.submit_tx(tx).unwrap();
            }
            let mut block = ledger.template(address(1), LATER);
            block.header.time = ledger.chain().tip_header().time.saturating_add(10_000);
            seal(&mut block);
            ledger.submit_block(block.clone(), LATER).unwrap();
            block
        })
        .collect()
}

fn load(c: &mut Criterion) {
    let blocks = paying_chain(2_000);
    let payments: usize = blocks.iter().map(|b| b.transactions.len() - 1).sum();
    assert!(payments > 5_000, "{payments} payments");
    // In key order, as the browser's store hands them back.
    let mut records: Vec<(Hash, Block)> = blocks.iter().map(|b| (b.hash(), b.clone())).collect();
    records.sort_by_key(|(key, _)| *key);
    let params = Params::for_tests("bench");
    let mut group = c.benchmark_group("load_2000_blocks");
    group.sample_size(10);
    for (name, signatures) in [
        ("signatures_checked", Signatures::Check),
        ("signatures_trusted", Signatures::Trust),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || (Chain::new(params.clone()), records.clone()),
                |(mut chain, records)| {
                    chain.load_stored(records, LATER, signatures);
                    assert_eq!(chain.height(), 2_000);
                },
                BatchSize::LargeInput,
            )
        });
    }
    // For comparison: the blocks handed over one by one in chain order, as from a peer.
    group.bench_function("one_by_one_in_chain_order", |b| {
        b.iter_batched(
            || (Chain::new(params.clone()), blocks.clone()),
            |(mut chain, blocks)| {
                for block in blocks {
                    chain.process_block(block, LATER).unwrap();
                }
                assert_eq!(chain.height(), 2_000);
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, pow, validation, reorg, load);
criterion_main!(benches);
