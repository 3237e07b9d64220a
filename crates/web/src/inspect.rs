//! One block taken apart for the block inspector: every header field, the hash against
//! the target, and each transaction with its inputs (whose signatures the core checks
//! again here), its outputs and its merkle proof.

use tabchain_core::{Address, Block, Chain, Hash};

use crate::view::{format_coins, short_address};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockDetail {
    pub hash: String,
    pub height: u64,
    /// On the active chain (else on a side branch this node holds).
    pub main: bool,
    pub version: u32,
    pub prev: String,
    pub merkle_root: String,
    pub time_ms: u64,
    pub difficulty: u64,
    pub nonce: u64,
    /// Leading zero bits the difficulty asks of the hash, and those it has.
    pub zero_bits_needed: u32,
    pub zero_bits_found: u32,
    pub transactions: Vec<TxDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxDetail {
    pub txid: String,
    pub coinbase: bool,
    pub inputs: Vec<InputDetail>,
    pub outputs: Vec<OutputDetail>,
    /// From the txid up to the merkle root.
    pub proof: Vec<ProofStep>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputDetail {
    /// `txid:index` of the coin spent.
    pub spends: String,
    /// The address of the key that signed.
    pub from: String,
    pub signature_ok: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputDetail {
    pub coins: String,
    pub address: String,
    /// `you` for this tab's wallet, else the address shortened.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofStep {
    /// The hash paired with ours at this level; empty when ours is carried up alone.
    pub sibling: String,
    pub sibling_left: bool,
    /// The hash one level up.
    pub result: String,
}

impl BlockDetail {
    /// Block `hash` as `chain` holds it; `ours` is this tab's wallet address.
    pub fn of(chain: &Chain, hash: &Hash, ours: &Address) -> Option<BlockDetail> {
        let block = chain.block(hash)?;
        let header = &block.header;
        let genesis = chain.genesis_hash();
        Some(BlockDetail {
            hash: hash.to_string(),
            height: chain.height_of(hash)?,
            main: chain.is_active(hash),
            version: header.version,
            prev: header.prev.to_string(),
            merkle_root: header.merkle_root.to_string(),
            time_ms: header.time.millis(),
            difficulty: header.difficulty,
            nonce: header.nonce,
            zero_bits_needed: header.difficulty.max(1).ilog2(),
            zero_bits_found: hash.leading_zero_bits(),
            transactions: block
                .transactions
                .iter()
                .enumerate()
                .map(|(index, tx)| TxDetail {
                    txid: tx.id().to_string(),
                    coinbase: tx.is_coinbase(),
                    inputs: (0..tx.inputs.len())
                        .map(|input| InputDetail {
                            spends: format!(
                                "{}:{}",
                                tx.inputs[input].prev.txid, tx.inputs[input].prev.index
                            ),
                            from: tx.inputs[input].public_key.address().to_string(),
                            signature_ok: tx.check_signature(input, &genesis).is_ok(),
                        })
                        .collect(),
                    outputs: tx
                        .outputs
                        .iter()
                        .map(|output| OutputDetail {
                            coins: format_coins(output.value),
                            address: output.address.to_string(),
                            name: if output.address == *ours {
                                "you".to_owned()
                            } else {
                                short_address(&output.address)
                            },
                        })
                        .collect(),
                    proof: proof(block, index),
                })
                .collect(),
        })
    }
}

fn proof(block: &Block, index: usize) -> Vec<ProofStep> {
    let mut ours = block.transactions[index].id();
    block
        .merkle_proof(index)
        .unwrap_or_default()
        .into_iter()
        .map(|step| {
            ours = step.apply(ours);
            ProofStep {
                sibling: step.sibling.map(|h| h.to_string()).unwrap_or_default(),
                sibling_left: step.sibling_left,
                result: ours.to_string(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::{pow, Ledger, Params, SecretKey, Wallet, COIN};

    #[test]
    fn a_block_shows_its_fields_work_signatures_and_proofs() {
        let params = Params::for_tests("inspect");
        let genesis = params.genesis().hash();
        let mut ledger = Ledger::new(params.clone());
        let miner = Wallet::new(SecretKey::from_seed([1; 32]));
        let friend = Wallet::new(SecretKey::from_seed([2; 32]));
        let mut last = Hash::ZERO;
        for n in 1..=(params.coinbase_maturity + 2) {
            let time = tabchain_core::params::GENESIS_TIME.saturating_add(n * 10_000);
            if let Some(coin) = ledger.spendable(&miner.address()).first().copied() {
                let tx = miner
                    .pay(&[coin], friend.address(), COIN, 1, &genesis)
                    .unwrap();
                ledger.submit_tx(tx).unwrap();
            }
            let mut block = ledger.template(miner.address(), time);
            assert!(pow::solve(&mut block.header));
            last = block.hash();
            ledger.submit_block(block, time).unwrap();
        }
        let chain = ledger.chain();
        let detail = BlockDetail::of(chain, &last, &miner.address()).unwrap();
        assert_eq!(detail.height, chain.height());
        assert!(detail.main);
        assert_eq!(detail.zero_bits_needed, 0, "difficulty 1 asks nothing");
        assert_eq!(detail.transactions.len(), 2, "the coinbase and a payment");
        let payment = &detail.transactions[1];
        assert!(payment.inputs.iter().all(|input| input.signature_ok));
        assert_eq!(payment.outputs[0].coins, "1.000");
        assert_eq!(detail.transactions[0].outputs[0].name, "you");
        // The proof climbs to the root the header states.
        assert_eq!(payment.proof.last().unwrap().result, detail.merkle_root);
        assert_eq!(BlockDetail::of(chain, &Hash::ZERO, &miner.address()), None);
    }
}
