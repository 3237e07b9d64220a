//! The mempool kept in step with the chain, templates, balances and the wallet.

mod common;

use common::*;
use tabchain_core::mempool::Mempool;
use tabchain_core::recent::RecentSet;
use tabchain_core::utxo::Signatures;
use tabchain_core::{
    Accepted, Block, BlockError, Ledger, MempoolError, Params, Transaction, TxError, WalletError,
};

fn params() -> Params {
    Params::for_tests("ledger")
}

/// A ledger where wallet 1 mined `blocks` blocks, and wallet 9 enough after them for
/// wallet 1's coins to mature.
fn funded(blocks: usize) -> Ledger {
    let mut ledger = Ledger::new(params());
    let maturity = params().coinbase_maturity as usize;
    for i in 0..blocks + maturity {
        let miner = if i < blocks { 1 } else { 9 };
        let block = next(ledger.chain(), address(miner));
        ledger.submit_block(block, LATER).unwrap();
    }
    ledger
}

/// Wallet 1 pays `to` from its `coin`-th spendable coin.
fn pay(ledger: &Ledger, coin: usize, to: u8, amount: u64, fee: u64) -> Transaction {
    let coins = ledger.spendable(&address(1));
    wallet(1)
        .pay(
            &coins[coin..=coin],
            address(to),
            amount,
            fee,
            &ledger.chain().genesis_hash(),
        )
        .unwrap()
}

fn mine(ledger: &mut Ledger, miner: u8) -> Block {
    let mut block = ledger.template(address(miner), LATER);
    block.header.time = ledger.chain().tip_header().time.saturating_add(10_000);
    seal(&mut block);
    ledger.submit_block(block.clone(), LATER).unwrap();
    block
}

#[test]
fn the_mempool_refuses_conflicts_duplicates_and_coinbases() {
    let mut ledger = funded(2);
    let tx = pay(&ledger, 0, 2, 10, 1);
    ledger.submit_tx(tx.clone()).unwrap();
    assert_eq!(ledger.submit_tx(tx.clone()), Err(MempoolError::Duplicate));

    let coins = ledger.chain().utxo().coins_of(&address(1));
    let conflict = wallet(1)
        .pay(
            &coins[..1],
            address(3),
            20,
            1,
            &ledger.chain().genesis_hash(),
        )
        .unwrap();
    assert_eq!(
        ledger.submit_tx(conflict),
        Err(MempoolError::Invalid(TxError::DoubleSpend { input: 0 }))
    );
    assert_eq!(
        ledger.submit_tx(Transaction::coinbase(3, tx.outputs.clone())),
        Err(MempoolError::Coinbase)
    );
    let mut forged = pay(&ledger, 0, 2, 10, 1);
    forged.outputs[0].value += 1;
    assert_eq!(
        ledger.submit_tx(forged),
        Err(MempoolError::Invalid(TxError::BadSignature { input: 0 }))
    );
    assert_eq!(ledger.mempool().len(), 1);
}

#[test]
fn a_full_mempool_keeps_the_best_fee_rates() {
    let ledger = funded(4);
    let low = pay(&ledger, 0, 2, 10, 1);
    let mid = pay(&ledger, 1, 2, 10, 5);
    let high = pay(&ledger, 2, 2, 10, 9);
    let room = low.encode().len() + mid.encode().len();
    let mut mempool = Mempool::new(room);
    let utxo = ledger.chain().utxo();
    let rules = ledger.chain().next_spend_rules();
    mempool.add(mid.clone(), utxo, &rules).unwrap();
    mempool.add(high.clone(), utxo, &rules).unwrap();
    assert_eq!(
        mempool.add(low.clone(), utxo, &rules),
        Err(MempoolError::Full)
    );
    let order: Vec<_> = mempool.by_priority().iter().map(|e| e.tx.id()).collect();
    assert_eq!(order, vec![high.id(), mid.id()]);
    assert!(mempool.bytes() <= room);
}

#[test]
fn a_template_pays_the_fees_and_confirms_the_mempool() {
    let mut ledger = funded(3);
    let a = pay(&ledger, 0, 2, 100, 3);
    let b = pay(&ledger, 1, 2, 100, 7);
    ledger.submit_tx(a.clone()).unwrap();
    ledger.submit_tx(b.clone()).unwrap();
    let block = mine(&mut ledger, 3);
    assert_eq!(block.transactions[1], b, "higher fee rate first");
    assert_eq!(block.transactions[2], a);
    assert_eq!(
        block.transactions[0].outputs[0].value,
        params().block_reward + 10
    );
    assert!(ledger.mempool().is_empty());
    assert_eq!(ledger.balance(&address(2)).confirmed, 200);
    assert_eq!(
        ledger.balance(&address(3)).maturing,
        params().block_reward + 10,
        "a fresh coinbase matures first"
    );
}

#[test]
fn balances_show_what_is_pending() {
    let mut ledger = funded(2);
    let coin = ledger.spendable(&address(1))[0].1.output.value;
    ledger.submit_tx(pay(&ledger, 0, 2, 30, 2)).unwrap();
    let payer = ledger.balance(&address(1));
    assert_eq!(payer.confirmed, 2 * params().block_reward);
    assert_eq!(payer.pending_out, coin);
    assert_eq!(payer.pending_in, coin - 32, "the change");
    assert_eq!(ledger.balance(&address(2)).pending_in, 30);
    assert_eq!(ledger.spendable(&address(1)).len(), 1);
}

#[test]
fn a_reorg_returns_the_losing_branchs_transactions_unless_they_conflict() {
    let mut ledger = funded(3);
    let fork = ledger.chain().tip();
    let coins = ledger.spendable(&address(1));
    let kept = wallet(1)
        .pay(
            &coins[0..1],
            address(2),
            10,
            1,
            &ledger.chain().genesis_hash(),
        )
        .unwrap();
    let conflicted = wallet(1)
        .pay(
            &coins[1..2],
            address(2),
            10,
            1,
            &ledger.chain().genesis_hash(),
        )
        .unwrap();
    ledger.submit_tx(kept.clone()).unwrap();
    ledger.submit_tx(conflicted.clone()).unwrap();
    mine(&mut ledger, 1);
    assert!(ledger.mempool().is_empty());

    // A rival branch, one block longer, spends the coin `conflicted` spent.
    let rival_spend = wallet(1)
        .pay(
            &coins[1..2],
            address(4),
            5,
            0,
            &ledger.chain().genesis_hash(),
        )
        .unwrap();
    let r1 = child(
        ledger.chain(),
        fork,
        vec![rival_spend.clone()],
        0,
        address(5),
        10_000,
    );
    ledger.submit_block(r1.clone(), LATER).unwrap();
    let r2 = child(ledger.chain(), r1.hash(), vec![], 0, address(5), 10_000);
    let outcome = ledger.submit_block(r2.clone(), LATER).unwrap();
    assert!(matches!(outcome, Accepted::Stored { tip_change: Some(ref c), .. } if c.is_reorg()));
    assert_eq!(ledger.chain().tip(), r2.hash());

    assert!(ledger.mempool().contains(&kept.id()));
    assert!(!ledger.mempool().contains(&conflicted.id()));
    assert_eq!(ledger.mempool().len(), 1);
    assert_eq!(ledger.balance(&address(4)).confirmed, 5);
}

#[test]
fn the_wallet_builds_change_and_refuses_what_it_cannot_pay() {
    let ledger = funded(2);
    let coins = ledger.spendable(&address(1));
    let reward = params().block_reward;
    let tx = wallet(1)
        .pay(
            &coins,
            address(2),
            reward + 5,
            2,
            &ledger.chain().genesis_hash(),
        )
        .unwrap();
    assert_eq!(tx.inputs.len(), 2);
    assert_eq!(tx.outputs[0].value, reward + 5);
    assert_eq!(tx.outputs[1].value, reward - 7);
    assert_eq!(tx.outputs[1].address, address(1));

    let exact = wallet(1)
        .pay(
            &coins[..1],
            address(2),
            reward - 1,
            1,
            &ledger.chain().genesis_hash(),
        )
        .unwrap();
    assert_eq!(exact.outputs.len(), 1, "no change output of zero");

    assert_eq!(
        wallet(1).pay(
            &coins,
            address(2),
            2 * reward,
            1,
            &ledger.chain().genesis_hash()
        ),
        Err(WalletError::InsufficientFunds {
            available: 2 * reward,
            needed: 2 * reward + 1
        })
    );
    assert_eq!(
        wallet(1).pay(&coins, address(2), 0, 1, &ledger.chain().genesis_hash()),
        Err(WalletError::ZeroAmount)
    );
    assert_eq!(
        wallet(1).pay(
            &coins,
            address(2),
            u64::MAX,
            1,
            &ledger.chain().genesis_hash()
        ),
        Err(WalletError::ValueOverflow)
    );
}

#[test]
fn coinbase_coins_mature_before_they_can_be_spent() {
    let mut ledger = Ledger::new(params());
    let reward = params().block_reward;
    mine(&mut ledger, 1);
    let fresh = ledger.balance(&address(1));
    assert_eq!((fresh.confirmed, fresh.maturing), (0, reward));
    assert!(ledger.spendable(&address(1)).is_empty());

    // Spending it anyway is refused, naming the height it matures at.
    let coins = ledger.chain().utxo().coins_of(&address(1));
    let early = wallet(1)
        .pay(&coins, address(2), 10, 1, &ledger.chain().genesis_hash())
        .unwrap();
    let maturity = params().coinbase_maturity;
    assert_eq!(
        ledger.submit_tx(early.clone()),
        Err(MempoolError::Invalid(TxError::ImmatureCoinbase {
            input: 0,
            matures_at: 1 + maturity
        }))
    );
    for _ in 1..maturity {
        mine(&mut ledger, 9);
    }
    // The next block is at height 1 + maturity: it may spend the coin.
    let matured = ledger.balance(&address(1));
    assert_eq!((matured.confirmed, matured.maturing), (reward, 0));
    assert_eq!(ledger.spendable(&address(1)).len(), 1);
    ledger.submit_tx(early).unwrap();
}

#[test]
fn a_payment_the_mempool_checked_is_not_checked_again_in_a_block_but_a_resigned_copy_is() {
    let mut ledger = funded(3);
    let paid = pay(&ledger, 0, 2, 100, 3);
    ledger.submit_tx(paid.clone()).unwrap();
    let template = ledger.template(address(3), LATER);
    assert_eq!(template.transactions[1], paid);

    // The same payment with one signature byte flipped is another id, never checked.
    let mut forged = paid.clone();
    forged.inputs[0].signature.0[0] ^= 1;
    let mut block = template.clone();
    block.transactions[1] = forged.clone();
    block.header.time = ledger.chain().tip_header().time.saturating_add(10_000);
    seal(&mut block);
    assert!(matches!(
        ledger.submit_block(block.clone(), LATER),
        Err(BlockError::Tx {
            index: 1,
            error: TxError::BadSignature { .. }
        })
    ));

    // What the cache saves, shown on the coins directly: an id taken as verified skips
    // the check (only the mempool ever marks one, after checking it).
    let rules = ledger.chain().next_spend_rules();
    let reward = params().block_reward;
    let mut verified = RecentSet::new(1);
    let mut coins = ledger.chain().utxo().clone();
    assert!(coins
        .connect_with(&block, &rules, reward, Signatures::Check, &verified)
        .is_err());
    verified.insert(forged.id());
    assert!(coins
        .connect_with(&block, &rules, reward, Signatures::Check, &verified)
        .is_ok());

    // The real payment's block connects, its signatures checked once, in the mempool.
    let mut block = template;
    block.header.time = ledger.chain().tip_header().time.saturating_add(10_000);
    seal(&mut block);
    ledger.submit_block(block, LATER).unwrap();
    assert_eq!(ledger.balance(&address(2)).confirmed, 100);
}
