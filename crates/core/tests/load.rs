//! Loading a stored block set whole: any order of the records gives the chain that
//! stored them, damaged records are named and the rest still loads.

mod common;

use common::*;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tabchain_core::{
    Block, BlockError, Chain, Hash, Ledger, LoadError, Params, Signatures, Transaction, TxError,
};

/// A chain of `length` blocks in which wallet 1 mines and, once its coins mature, pays
/// wallet 2 in every block; every 7th block gets a rival sibling and every 13th a
/// two-block branch from two blocks back. Returns the ledger that built it and every
/// block it was given, in order.
fn built(length: usize) -> (Ledger, Vec<Block>) {
    let mut ledger = Ledger::new(Params::for_tests("load"));
    let genesis = ledger.chain().genesis_hash();
    let mut blocks = Vec::new();
    for n in 1..=length {
        if let Some(coin) = ledger.spendable(&address(1)).into_iter().next() {
            let value = coin.1.output.value;
            let payment = wallet(1)
                .pay(&[coin], address(2), value / 2, 1, &genesis)
                .unwrap();
            ledger.submit_tx(payment).unwrap();
        }
        let time = ledger.chain().tip_header().time.saturating_add(10_000);
        let mut block = ledger.template(address(1), time);
        seal(&mut block);
        ledger.submit_block(block.clone(), LATER).unwrap();
        blocks.push(block);
        if n % 7 == 0 {
            let parent = ledger.chain().tip_header().prev;
            let rival = child(ledger.chain(), parent, Vec::new(), 0, address(3), 12_000);
            ledger.submit_block(rival.clone(), LATER).unwrap();
            blocks.push(rival);
        }
        if n % 13 == 0 {
            let height = ledger.chain().height();
            let fork = ledger.chain().hash_at(height - 2).unwrap();
            let first = child(ledger.chain(), fork, Vec::new(), 0, address(4), 11_000);
            ledger.submit_block(first.clone(), LATER).unwrap();
            let second = child(
                ledger.chain(),
                first.hash(),
                Vec::new(),
                0,
                address(4),
                11_000,
            );
            ledger.submit_block(second.clone(), LATER).unwrap();
            blocks.extend([first, second]);
        }
    }
    (ledger, blocks)
}

fn records(blocks: &[Block]) -> Vec<(Hash, Block)> {
    blocks.iter().map(|b| (b.hash(), b.clone())).collect()
}

fn load(records: Vec<(Hash, Block)>) -> (Chain, tabchain_core::LoadReport) {
    let mut chain = Chain::new(Params::for_tests("load"));
    let report = chain.load_stored(records, LATER, Signatures::Check);
    (chain, report)
}

#[test]
fn a_stored_chain_loads_whole_in_every_order() {
    let (builder, blocks) = built(80);
    let built = builder.chain();
    assert!(
        built.utxo().coins_of(&address(2)).len() > 50,
        "payments were made"
    );

    let mut shuffled = records(&blocks);
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    for i in (1..shuffled.len()).rev() {
        shuffled.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    let mut reversed = records(&blocks);
    reversed.reverse();
    let mut by_key = records(&blocks);
    by_key.sort_by_key(|(key, _)| key.to_string());

    for (name, order) in [
        ("as stored", records(&blocks)),
        ("shuffled", shuffled),
        ("reversed", reversed),
        ("by key", by_key),
    ] {
        let (chain, report) = load(order);
        assert_eq!(chain.tip(), built.tip(), "{name}");
        assert_eq!(chain.utxo(), built.utxo(), "{name}");
        assert_eq!(report.refused, [], "{name}");
        assert_eq!(chain.stored_count(), built.stored_count(), "{name}");
        assert_eq!(
            report.stored.len() + report.pruned.len(),
            blocks.len(),
            "{name}: every block stored, or pruned as its branch fell behind"
        );
        assert!(report.pruned.iter().all(|h| !built.is_active(h)), "{name}");
        assert_eq!(chain.orphan_count() + chain.held_count(), 0, "{name}");
    }
}

#[test]
fn a_600_block_chain_filed_by_hash_loads_to_its_tip() {
    let params = Params::for_tests("load");
    let chain = chain_of(params.clone(), 600, address(1));
    let mut by_key: Vec<Block> = (1..=600)
        .map(|h| chain.block(&chain.hash_at(h).unwrap()).unwrap().clone())
        .collect();
    by_key.sort_by_key(|b| b.hash().to_string());

    // Tried: the old way, each record handed to the chain as it comes in key order.
    // Children wait for their parents in the orphan pool, which keeps 256 and evicts
    // the rest, so most of the chain is lost: it reached height 3.
    let mut one_by_one = Chain::new(params.clone());
    for block in by_key.clone() {
        let _ = one_by_one.process_block(block, LATER);
    }
    assert!(one_by_one.height() < 600, "the old way reached the tip");

    let (loaded, report) = load(records(&by_key));
    assert_eq!(loaded.height(), 600);
    assert_eq!(loaded.tip(), chain.tip());
    assert_eq!((report.stored.len(), report.refused.len()), (600, 0));
}

#[test]
fn damaged_records_are_named_and_the_rest_loads() {
    let (builder, blocks) = built(30);
    let main: Vec<Block> = (1..=30)
        .map(|h| {
            let chain = builder.chain();
            chain.block(&chain.hash_at(h).unwrap()).unwrap().clone()
        })
        .collect();
    let mut stored = records(&main);

    // A byte flipped in block 30's header: it no longer hashes to its key.
    stored[29].1.header.nonce ^= 1;
    // Block 29 filed under another key.
    stored[28].0 = Hash::digest(b"another key");
    // Block 28's transactions changed, its header kept: the merkle root gives it away.
    stored[27].1.transactions[0].outputs[0].value += 1;
    // Block 20 lost: 21 to 27 cannot connect.
    let lost = stored.remove(19).0;

    let (chain, report) = load(stored);
    assert_eq!(chain.height(), 19);
    assert_eq!(chain.tip(), main[18].hash());
    let refused: Vec<(Hash, LoadError)> = report.refused.clone();
    assert!(refused.contains(&(
        main[29].hash(),
        LoadError::WrongKey {
            actual: {
                let mut flipped = main[29].header;
                flipped.nonce ^= 1;
                flipped.hash()
            }
        }
    )));
    assert!(refused.contains(&(
        Hash::digest(b"another key"),
        LoadError::WrongKey {
            actual: main[28].hash()
        }
    )));
    assert!(refused.contains(&(
        main[27].hash(),
        LoadError::Invalid(BlockError::BadMerkleRoot)
    )));
    // The descendants of the lost block are kept, waiting for it: a lone tab may have no
    // peer to fetch them from again.
    let mut waiting = report.waiting.clone();
    waiting.sort();
    let mut expected: Vec<Hash> = main[20..27].iter().map(Block::hash).collect();
    expected.sort();
    assert_eq!(waiting, expected);
    assert!(!refused.iter().any(|(key, _)| *key == lost));
    assert_eq!(refused.len(), 3);
    assert_eq!(report.stored.len(), 19);
    assert!(
        blocks.len() > main.len(),
        "the side branches were not stored here"
    );
    // The lost block comes back (from a peer): the waiting ones connect behind it.
    let mut chain = chain;
    chain.process_block(main[19].clone(), LATER).unwrap();
    assert_eq!(chain.height(), 27);
}

/// A payment of wallet 1's coin signed by wallet 2, in a block re-mined on `parent`.
fn forged_on(chain: &Chain, parent: Hash) -> Block {
    let genesis = chain.genesis_hash();
    let coin = chain.utxo().coins_of(&address(1))[0];
    let mut theft: Transaction = wallet(1)
        .pay(&[coin], address(2), coin.1.output.value, 0, &genesis)
        .unwrap();
    theft.sign_all(wallet(2).key(), &genesis);
    child(chain, parent, vec![theft], 0, address(2), 10_000)
}

#[test]
fn a_forged_signature_is_refused_only_when_signatures_are_checked() {
    let params = Params::for_tests("load");
    let mut chain = chain_of(params.clone(), 1, address(1));
    mature(&mut chain);
    let forged = forged_on(&chain, chain.tip());
    let mut stored: Vec<Block> = (1..=chain.height())
        .map(|h| chain.block(&chain.hash_at(h).unwrap()).unwrap().clone())
        .collect();
    stored.push(forged.clone());

    let mut checked = Chain::new(params.clone());
    let report = checked.load_stored(records(&stored), LATER, Signatures::Check);
    assert_eq!(checked.tip(), chain.tip());
    assert_eq!(
        report.refused,
        [(
            forged.hash(),
            LoadError::Invalid(BlockError::Tx {
                index: 1,
                error: TxError::BadSignature { input: 0 }
            })
        )]
    );

    // Trusted, the forgery fools this chain only: a peer checks it in full.
    let mut trusting = Chain::new(params);
    let report = trusting.load_stored(records(&stored), LATER, Signatures::Trust);
    assert_eq!((trusting.tip(), report.refused.len()), (forged.hash(), 0));
    assert!(chain.process_block(forged, LATER).is_err());
}
