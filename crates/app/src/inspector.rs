//! The block inspector: one block taken apart, opened by clicking a row of the chain
//! panel. The open block is in the page's address (`#block=<hash>`), so a link to it can
//! be shared. Every header field, the hash against the target, each transaction's
//! inputs (with the core's signature check), outputs and merkle proof.

use leptos::prelude::*;
use tabchain_web::inspect::{BlockDetail, TxDetail};

use crate::format::{abbreviate, clock, quantity};

/// The fragment that opens block `hash`.
pub fn link_to(hash: &str) -> String {
    format!("#block={hash}")
}

#[component]
pub fn InspectorPanel(block: Memo<Option<BlockDetail>>) -> impl IntoView {
    // The transaction whose merkle proof is shown.
    let picked = RwSignal::new(None::<usize>);
    move || {
        block.get().map(|b| {
            let close = move |_| {
                let _ = window().location().set_hash("");
            };
            let proof_of = b.clone();
            view! {
                <section class="panel inspector" data-testid="block-inspector" data-hash=b.hash.clone()>
                    <h2>
                        "Block " {b.height}
                        <span class="count">{if b.main { "on the main chain" } else { "on a side branch" }}</span>
                        <span class="actions"><button class="small" on:click=close>"Close"</button></span>
                    </h2>
                    <dl class="fields">
                        <dt>"hash"</dt><dd><code data-testid="inspect-hash">{b.hash.clone()}</code></dd>
                        <dt>"version"</dt><dd>{b.version}</dd>
                        <dt>"prev"</dt>
                        <dd><a href=link_to(&b.prev) title="the parent block"><code>{b.prev.clone()}</code></a></dd>
                        <dt>"merkle root"</dt><dd><code data-testid="inspect-merkle-root">{b.merkle_root.clone()}</code></dd>
                        <dt>"time"</dt><dd>{clock(tabchain_core::Timestamp(b.time_ms))}</dd>
                        <dt>"difficulty"</dt><dd>{quantity(b.difficulty)} " expected hashes"</dd>
                        <dt>"nonce"</dt><dd>{b.nonce}</dd>
                        <dt>"work"</dt>
                        <dd data-testid="inspect-work">
                            "the hash starts with " <strong>{b.zero_bits_found}</strong> " zero bits; this difficulty asks about "
                            <strong>{b.zero_bits_needed}</strong>
                        </dd>
                    </dl>
                    <h3>"Transactions"</h3>
                    <ol class="txs">
                        {b.transactions.iter().enumerate().map(|(index, tx)| transaction(index, tx, picked)).collect_view()}
                    </ol>
                    {move || picked.get().and_then(|i| proof_of.transactions.get(i).cloned()).map(|tx| proof(&tx, &proof_of.merkle_root))}
                </section>
            }
        })
    }
}

fn transaction(index: usize, tx: &TxDetail, picked: RwSignal<Option<usize>>) -> impl IntoView {
    view! {
        <li class="tx" data-testid="inspect-tx" data-txid=tx.txid.clone()>
            <button class="link" on:click=move |_| picked.set(Some(index)) title="show its merkle proof">
                <code>{abbreviate(&tx.txid)}</code>
            </button>
            {if tx.coinbase { " new coins (coinbase)" } else { "" }}
            <ul class="io">
                {tx.inputs.iter().map(|input| view! {
                    <li data-testid="inspect-input" data-signature-ok=input.signature_ok.to_string()>
                        "spends " <code>{abbreviate(&input.spends)}</code> " signed by " <code>{abbreviate(&input.from)}</code>
                        <span class=if input.signature_ok { "ok" } else { "bad" }>
                            {if input.signature_ok { " ✓ signature" } else { " ✗ signature" }}
                        </span>
                    </li>
                }).collect_view()}
                {tx.outputs.iter().map(|output| view! {
                    <li>"pays " <strong>{output.coins.clone()} " TC"</strong> " to " <code title=output.address.clone()>{output.name.clone()}</code></li>
                }).collect_view()}
            </ul>
        </li>
    }
}

fn proof(tx: &TxDetail, root: &str) -> impl IntoView {
    view! {
        <div class="proof" data-testid="merkle-proof" data-txid=tx.txid.clone() data-root=root.to_owned()>
            <h3>"Merkle proof of " <code>{abbreviate(&tx.txid)}</code></h3>
            <p class="hint">
                {if tx.proof.is_empty() {
                    "The block's only transaction: its id is the merkle root."
                } else {
                    "Hash the id with each sibling in turn (on its side); the last result must be the block's merkle root."
                }}
            </p>
            <ol>
                {tx.proof.iter().map(|step| view! {
                    <li
                        data-testid="proof-step"
                        data-sibling=step.sibling.clone()
                        data-sibling-left=step.sibling_left.to_string()
                        data-result=step.result.clone()
                    >
                        {if step.sibling.is_empty() {
                            "carried up alone".to_owned()
                        } else if step.sibling_left {
                            format!("SHA-256({} ‖ ours)", abbreviate(&step.sibling))
                        } else {
                            format!("SHA-256(ours ‖ {})", abbreviate(&step.sibling))
                        }}
                        " → " <code>{abbreviate(&step.result)}</code>
                    </li>
                }).collect_view()}
            </ol>
        </div>
    }
}
