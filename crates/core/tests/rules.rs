//! Every block and transaction rule, each shown by tampering one thing in an otherwise
//! valid block and expecting the error that names the rule.

mod common;

use common::*;
use tabchain_core::{
    Accepted, Block, BlockError, Chain, Params, PublicKey, Signature, Timestamp, TxError,
};

/// A chain where the miner (wallet 1) owns two mature coinbases, difficulty high
/// enough that a tampered nonce fails proof of work.
fn setup() -> (Chain, Block) {
    let params = Params {
        initial_difficulty: 64,
        ..Params::for_tests("rules")
    };
    let mut chain = chain_of(params, 2, address(1));
    mature(&mut chain);
    let valid = payment_block(&chain, 10);
    (chain, valid)
}

/// A block on the tip in which wallet 1 pays wallet 2 `amount` with a fee of 1.
fn payment_block(chain: &Chain, amount: u64) -> Block {
    let coins = chain.utxo().coins_of(&address(1));
    let tx = wallet(1)
        .pay(&coins[..1], address(2), amount, 1, &chain.genesis_hash())
        .unwrap();
    child(chain, chain.tip(), vec![tx], 1, address(1), 10_000)
}

fn refused(chain: &mut Chain, block: Block) -> BlockError {
    chain.process_block(block, LATER).unwrap_err()
}

#[test]
fn the_untampered_block_is_accepted() {
    let (mut chain, block) = setup();
    let hash = block.hash();
    assert!(matches!(
        chain.process_block(block, LATER),
        Ok(Accepted::Stored {
            tip_change: Some(_),
            ..
        })
    ));
    assert_eq!(chain.tip(), hash);
}

#[test]
fn bad_pow() {
    let (mut chain, mut block) = setup();
    while block.header.meets_difficulty() {
        block.header.nonce += 1;
    }
    assert_eq!(refused(&mut chain, block), BlockError::BadPow);
}

#[test]
fn bad_merkle_root() {
    let (mut chain, mut block) = setup();
    block.transactions[1].outputs[0].value += 1;
    tabchain_core::pow::solve(&mut block.header);
    assert_eq!(refused(&mut chain, block), BlockError::BadMerkleRoot);
}

#[test]
fn no_coinbase_and_second_coinbase_and_duplicate_tx() {
    let (mut chain, block) = setup();
    let mut no_coinbase = block.clone();
    no_coinbase.transactions.remove(0);
    seal(&mut no_coinbase);
    assert_eq!(refused(&mut chain, no_coinbase), BlockError::NoCoinbase);

    let mut two = block.clone();
    two.transactions.push(two.transactions[0].clone());
    seal(&mut two);
    assert_eq!(
        refused(&mut chain, two),
        BlockError::UnexpectedCoinbase { index: 2 }
    );

    let mut dup = block;
    dup.transactions.push(dup.transactions[1].clone());
    seal(&mut dup);
    assert_eq!(
        refused(&mut chain, dup),
        BlockError::DuplicateTx { index: 2 }
    );
}

#[test]
fn unknown_and_invalid_parent() {
    let (chain, block) = setup();
    let mut header = block.header;
    header.prev = tabchain_core::Hash::digest(b"nowhere");
    assert_eq!(
        chain.check_header(&header, LATER),
        Err(BlockError::UnknownParent)
    );

    // A block that breaks a coin rule is stored as invalid; its child is refused for it.
    let (mut chain, mut bad) = setup();
    bad.transactions[0].outputs[0].value += 1;
    seal(&mut bad);
    let bad_hash = bad.hash();
    assert!(matches!(
        refused(&mut chain, bad),
        BlockError::CoinbaseTooLarge { .. }
    ));
    let mut child_of_bad = next(&chain, address(1));
    child_of_bad.header.prev = bad_hash;
    seal(&mut child_of_bad);
    assert_eq!(refused(&mut chain, child_of_bad), BlockError::InvalidParent);
}

#[test]
fn bad_difficulty() {
    let (mut chain, mut block) = setup();
    let expected = block.header.difficulty;
    block.header.difficulty *= 2;
    seal(&mut block);
    assert_eq!(
        refused(&mut chain, block),
        BlockError::BadDifficulty {
            expected,
            got: expected * 2
        }
    );
}

#[test]
fn time_too_old_and_too_new() {
    let (mut chain, mut old) = setup();
    old.header.time = chain.median_time_past(&chain.tip()).unwrap();
    seal(&mut old);
    assert_eq!(refused(&mut chain, old), BlockError::TimeTooOld);

    let (mut chain, block) = setup();
    let now = Timestamp(block.header.time.0 - chain.params().max_future_ms - 1);
    assert_eq!(
        chain.process_block(block.clone(), now),
        Err(BlockError::TimeTooNew)
    );
    // Not a permanent fault: once the clock catches up the same block is fine.
    assert!(chain.process_block(block, LATER).is_ok());
}

#[test]
fn bad_coinbase_height_and_coinbase_too_large() {
    let (mut chain, mut block) = setup();
    block.transactions[0].height += 1;
    seal(&mut block);
    let height = chain.height() + 1;
    assert_eq!(
        refused(&mut chain, block),
        BlockError::BadCoinbaseHeight {
            expected: height,
            got: height + 1
        }
    );

    let (mut chain, mut block) = setup();
    let allowed = block.transactions[0].outputs[0].value;
    block.transactions[0].outputs[0].value += 1;
    seal(&mut block);
    assert_eq!(
        refused(&mut chain, block),
        BlockError::CoinbaseTooLarge {
            paid: allowed + 1,
            allowed
        }
    );
}

fn tx_error(block: Block, chain: &mut Chain) -> TxError {
    match refused(chain, block) {
        BlockError::Tx { index: _, error } => error,
        other => panic!("expected a transaction error, got {other:?}"),
    }
}

#[test]
fn double_spend_within_a_block() {
    let (mut chain, mut block) = setup();
    let coins = chain.utxo().coins_of(&address(1));
    let again = wallet(1)
        .pay(&coins[..1], address(3), 5, 0, &chain.genesis_hash())
        .unwrap();
    block.transactions.push(again);
    seal(&mut block);
    assert_eq!(
        tx_error(block, &mut chain),
        TxError::DoubleSpend { input: 0 }
    );
}

#[test]
fn missing_input() {
    let (mut chain, mut block) = setup();
    block.transactions[1].inputs[0].prev.index = 7;
    block.transactions[1].sign_all(wallet(1).key(), &chain.genesis_hash());
    seal(&mut block);
    assert_eq!(
        tx_error(block, &mut chain),
        TxError::MissingInput { input: 0 }
    );
}

#[test]
fn wrong_key_bad_key_and_bad_signature() {
    let (mut chain, mut block) = setup();
    // Wallet 2 signs for wallet 1's coin: a valid signature, by the wrong key.
    block.transactions[1].inputs[0].public_key = wallet(2).key().public_key();
    block.transactions[1].sign_all(wallet(2).key(), &chain.genesis_hash());
    seal(&mut block);
    assert_eq!(tx_error(block, &mut chain), TxError::WrongKey { input: 0 });

    let (mut chain, mut block) = setup();
    block.transactions[1].inputs[0].signature = Signature([7; 64]);
    seal(&mut block);
    assert_eq!(
        tx_error(block, &mut chain),
        TxError::BadSignature { input: 0 }
    );

    // A signature over a different transaction (the amount changed after signing).
    let (mut chain, mut block) = setup();
    block.transactions[1].outputs[0].value -= 1;
    block.transactions[0].outputs[0].value += 1;
    seal(&mut block);
    assert_eq!(
        tx_error(block, &mut chain),
        TxError::BadSignature { input: 0 }
    );

    // Bytes that are no curve point cannot be anyone's key, so they match no address;
    // the key check comes before the (costlier) point decoding.
    let (mut chain, mut block) = setup();
    block.transactions[1].inputs[0].public_key = PublicKey([2; 32]);
    seal(&mut block);
    assert_eq!(tx_error(block, &mut chain), TxError::WrongKey { input: 0 });

    // Coins paid to the address of such bytes can be spent by no one.
    let (mut chain, _) = setup();
    let not_a_point = PublicKey([2; 32]);
    let paid = child(
        &chain,
        chain.tip(),
        vec![],
        0,
        not_a_point.address(),
        10_000,
    );
    chain.process_block(paid, LATER).unwrap();
    mature(&mut chain);
    let coins = chain.utxo().coins_of(&not_a_point.address());
    let mut tx = wallet(1)
        .pay(&coins, address(1), 5, 0, &chain.genesis_hash())
        .unwrap();
    tx.inputs[0].public_key = not_a_point;
    let block = child(&chain, chain.tip(), vec![tx], 0, address(1), 10_000);
    assert_eq!(
        tx_error(block, &mut chain),
        TxError::BadPublicKey { input: 0 }
    );
}

#[test]
fn outputs_exceed_inputs_and_overflow() {
    let (mut chain, mut block) = setup();
    let held = chain.utxo().coins_of(&address(1))[0].1.output.value;
    block.transactions[1].outputs[0].value = held + 1;
    block.transactions[1].outputs.truncate(1);
    block.transactions[1].sign_all(wallet(1).key(), &chain.genesis_hash());
    seal(&mut block);
    assert_eq!(
        tx_error(block, &mut chain),
        TxError::OutputsExceedInputs {
            inputs: held,
            outputs: held + 1
        }
    );

    let (mut chain, mut block) = setup();
    block.transactions[1].outputs[0].value = u64::MAX;
    block.transactions[1].sign_all(wallet(1).key(), &chain.genesis_hash());
    seal(&mut block);
    assert_eq!(tx_error(block, &mut chain), TxError::ValueOverflow);
}

#[test]
fn a_hostile_block_of_any_size_costs_one_hash() {
    // 2 MB of outputs with an unsolved header: refused by proof of work before its
    // size, transactions or merkle root are even looked at.
    let (mut chain, mut block) = setup();
    let output = block.transactions[0].outputs[0];
    block.transactions[0].outputs = vec![output; 100_000];
    while block.header.meets_difficulty() {
        block.header.nonce += 1;
    }
    assert_eq!(refused(&mut chain, block.clone()), BlockError::BadPow);
    // Solved, it is refused for its size.
    tabchain_core::pow::solve(&mut block.header);
    assert!(matches!(
        refused(&mut chain, block),
        BlockError::TooLarge { .. }
    ));
}

#[test]
fn immature_coinbase() {
    // Wallet 2's coinbase is one block too young when the payment would confirm.
    let (mut chain, _) = setup();
    let fresh = child(&chain, chain.tip(), vec![], 0, address(2), 10_000);
    chain.process_block(fresh.clone(), LATER).unwrap();
    for _ in 1..chain.params().coinbase_maturity - 1 {
        let block = next(&chain, address(9));
        chain.process_block(block, LATER).unwrap();
    }
    let coins = chain.utxo().coins_of(&address(2));
    let tx = wallet(2)
        .pay(&coins, address(3), 5, 0, &chain.genesis_hash())
        .unwrap();
    let block = child(&chain, chain.tip(), vec![tx.clone()], 0, address(1), 10_000);
    let matures_at = chain.height_of(&fresh.hash()).unwrap() + chain.params().coinbase_maturity;
    assert_eq!(chain.height() + 1, matures_at - 1);
    assert_eq!(
        tx_error(block, &mut chain),
        TxError::ImmatureCoinbase {
            input: 0,
            matures_at
        }
    );
    // One block later it may be spent.
    let block = next(&chain, address(9));
    chain.process_block(block, LATER).unwrap();
    let block = child(&chain, chain.tip(), vec![tx], 0, address(1), 10_000);
    assert!(chain.process_block(block, LATER).is_ok());
}

#[test]
fn a_payment_signed_for_another_room() {
    // The same keys hold coins in another room; a payment signed there is replayed here.
    let (mut chain, _) = setup();
    let coins = chain.utxo().coins_of(&address(1));
    let elsewhere = Params::for_tests("another room").genesis().hash();
    let tx = wallet(1)
        .pay(&coins[..1], address(2), 10, 1, &elsewhere)
        .unwrap();
    let block = child(&chain, chain.tip(), vec![tx], 1, address(1), 10_000);
    assert_eq!(
        tx_error(block, &mut chain),
        TxError::BadSignature { input: 0 }
    );
}
