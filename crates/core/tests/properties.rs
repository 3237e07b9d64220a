//! Random block trees on competing branches, fed to fresh chains in random arrival
//! orders, or loaded whole as from storage: every order must end on the most-work valid
//! branch with exactly the coins that branch makes when applied from scratch, and no
//! coin created or lost beyond the rewards.

mod common;

use std::collections::{HashMap, HashSet};

use common::*;
use proptest::prelude::*;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tabchain_core::{Block, Chain, Hash, LoadError, Params, Signatures, SpendRules, UtxoSet};

/// A valid block of the generated tree and what the model says about it.
struct Known {
    height: u64,
    work: u128,
    /// The coins after applying genesis..=this block from scratch.
    utxo: UtxoSet,
}

struct Tree {
    params: Params,
    /// Every block made, valid or not, in order of making.
    blocks: Vec<Block>,
    valid: HashMap<Hash, Known>,
}

fn pick(rng: &mut ChaCha8Rng, below: u64) -> u64 {
    rng.next_u64() % below.max(1)
}

fn generate(seed: u64, count: usize) -> Tree {
    let params = Params {
        max_orphans: count,
        ..Params::for_tests("properties")
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // A builder for each valid block, with that block as its tip, so blocks can be built
    // on any of them (one chain keeps only the branches near its tip).
    let first = Chain::new(params.clone());
    let genesis = first.genesis_hash();
    let mut builders = HashMap::from([(genesis, first)]);
    let mut valid = HashMap::from([(
        genesis,
        Known {
            height: 0,
            work: u128::from(params.initial_difficulty),
            utxo: builders[&genesis].utxo().clone(),
        },
    )]);
    let mut order = vec![genesis];
    let mut blocks = Vec::new();
    for _ in 0..count {
        // Mostly extend the newest block, sometimes fork from any earlier one.
        let parent = if pick(&mut rng, 10) < 6 {
            *order.last().unwrap()
        } else {
            order[pick(&mut rng, order.len() as u64) as usize]
        };
        let parent_known = &valid[&parent];
        let mut payments = Vec::new();
        let mut fees = 0;
        for payer in 1..=3u8 {
            let mut coins = parent_known.utxo.coins_of(&address(payer));
            let height = parent_known.height + 1;
            coins.retain(|(_, c)| c.spendable_at(params.coinbase_maturity) <= height);
            if coins.is_empty() || pick(&mut rng, 2) == 0 {
                continue;
            }
            let coin = coins[pick(&mut rng, coins.len() as u64) as usize];
            let value = coin.1.output.value;
            if value < 2 {
                continue;
            }
            let fee = pick(&mut rng, 3).min(value - 1);
            let amount = 1 + pick(&mut rng, value - fee);
            let to = address(1 + pick(&mut rng, 3) as u8);
            payments.push(
                wallet(payer)
                    .pay(&[coin], to, amount.min(value - fee), fee, &genesis)
                    .unwrap(),
            );
            fees += fee;
        }
        let miner = address(1 + pick(&mut rng, 3) as u8);
        let spacing = 2_000 + pick(&mut rng, 23_000);
        let mut block = child(&builders[&parent], parent, payments, fees, miner, spacing);

        if pick(&mut rng, 10) == 0 {
            // An invalid block: its coinbase claims one unit too many. Never built on.
            block.transactions[0].outputs[0].value += 1;
            seal(&mut block);
            blocks.push(block);
            continue;
        }
        let height = parent_known.height + 1;
        let work = parent_known.work + u128::from(block.header.difficulty);
        let mut utxo = parent_known.utxo.clone();
        let rules = SpendRules {
            genesis,
            height,
            maturity: params.coinbase_maturity,
        };
        utxo.connect(&block, &rules, params.block_reward)
            .expect("the model's block is valid");
        let hash = block.hash();
        let mut builder = builders[&parent].clone();
        let _ = builder.process_block(block.clone(), LATER).unwrap();
        builders.insert(hash, builder);
        valid.insert(hash, Known { height, work, utxo });
        order.push(hash);
        blocks.push(block);
    }
    Tree {
        params,
        blocks,
        valid,
    }
}

fn shuffle(blocks: &mut [Block], rng: &mut ChaCha8Rng) {
    for i in (1..blocks.len()).rev() {
        blocks.swap(i, pick(rng, i as u64 + 1) as usize);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_arrival_order_ends_on_the_most_work_branch(
        seed in any::<u64>(),
        count in 5usize..40,
        orders in 2usize..4,
    ) {
        let tree = generate(seed, count);
        let best_work = tree.valid.values().map(|k| k.work).max().unwrap();
        let best: Vec<Hash> = tree
            .valid
            .iter()
            .filter(|(_, k)| k.work == best_work)
            .map(|(h, _)| *h)
            .collect();

        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
        let mut tips = Vec::new();
        for _ in 0..orders {
            let mut arrivals = tree.blocks.clone();
            shuffle(&mut arrivals, &mut rng);
            let mut chain = Chain::new(tree.params.clone());
            for block in arrivals {
                // Invalid blocks are refused; the rest is stored, held while its branch
                // is far behind, or waits as an orphan.
                let _ = chain.process_block(block, LATER);
            }
            // A side branch pruned while behind is fetched again when a descendant needs
            // it, as a node asks its peers for an orphan's missing parent.
            for _ in 0..tree.blocks.len() {
                let missing: Vec<&Block> = tree
                    .blocks
                    .iter()
                    .filter(|b| tree.valid.contains_key(&b.hash()) && !chain.knows(&b.hash()))
                    .collect();
                if missing.is_empty() {
                    break;
                }
                for block in missing {
                    let _ = chain.process_block(block.clone(), LATER);
                }
            }
            let tip = chain.tip();
            prop_assert_eq!(chain.tip_work(), best_work);
            prop_assert!(best.contains(&tip));
            let known = &tree.valid[&tip];
            prop_assert_eq!(chain.height(), known.height);
            prop_assert_eq!(chain.utxo(), &known.utxo);
            prop_assert_eq!(
                chain.utxo().total_value(),
                known.height * tree.params.block_reward,
                "coins beyond the rewards were created or lost"
            );
            prop_assert_eq!(chain.orphan_count(), 0);
            tips.push(tip);
        }
        if best.len() == 1 {
            prop_assert!(tips.iter().all(|t| *t == best[0]), "same tip whatever the order");
        }
    }

    #[test]
    fn a_stored_tree_loads_whole_in_any_order(
        seed in any::<u64>(),
        count in 5usize..60,
        orders in 2usize..4,
    ) {
        let tree = generate(seed, count);
        let best_work = tree.valid.values().map(|k| k.work).max().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x10ad);
        let mut tips = Vec::new();
        for _ in 0..orders {
            let mut stored = tree.blocks.clone();
            shuffle(&mut stored, &mut rng);
            let records = stored.into_iter().map(|b| (b.hash(), b)).collect();
            let mut chain = Chain::new(tree.params.clone());
            let report = chain.load_stored(records, LATER, Signatures::Check);
            let tip = chain.tip();
            prop_assert_eq!(chain.tip_work(), best_work);
            let known = &tree.valid[&tip];
            prop_assert_eq!(chain.height(), known.height);
            prop_assert_eq!(chain.utxo(), &known.utxo);
            prop_assert_eq!(chain.orphan_count() + chain.held_count(), 0);
            // Only invalid blocks (and their descendants, of which there are none) are
            // refused; every valid one is stored, or pruned as too far behind.
            for (key, error) in &report.refused {
                prop_assert!(!tree.valid.contains_key(key), "{:?} refused: {}", key, error);
                prop_assert!(matches!(error, LoadError::Invalid(_)));
            }
            // (The tree may hold one block twice: the same parent, payments, miner and
            // spacing make the same block.)
            let distinct: HashSet<Hash> = tree.blocks.iter().map(Block::hash).collect();
            prop_assert!(report.waiting.is_empty(), "every block of the tree connects");
            let kept = report.stored.len() + report.pruned.len();
            prop_assert_eq!(kept, distinct.len() - report.refused.len());
            tips.push(tip);
        }
        prop_assert!(tips.iter().all(|t| *t == tips[0]), "same tip whatever the order");
    }
}
