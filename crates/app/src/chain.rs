//! The chain panel: height, tip, what was read back from storage, and the recent blocks.

use leptos::prelude::*;
use tabchain_web::view::ChainInfo;

use crate::format::{abbreviate, clock, quantity};

#[component]
pub fn ChainPanel(chain: Memo<ChainInfo>) -> impl IntoView {
    view! {
        <section class="panel chain">
            <h2>"Chain"</h2>
            <div class="stats">
                <div class="stat">
                    <span class="label">"height"</span>
                    <span class="big" data-testid="chain-height">{move || chain.with(|c| c.height)}</span>
                </div>
                <div class="stat">
                    <span class="label">"tip"</span>
                    <code title=move || chain.with(|c| c.tip.clone())>{move || chain.with(|c| abbreviate(&c.tip))}</code>
                </div>
                <div class="stat">
                    <span class="label">"next difficulty"</span>
                    <span>{move || chain.with(|c| quantity(c.next_difficulty))} " hashes"</span>
                </div>
                <div class="stat">
                    <span class="label">"waiting payments"</span>
                    <span>{move || chain.with(|c| c.mempool)}</span>
                </div>
                <div
                    class="stat"
                    data-testid="stored-blocks"
                    data-loaded=move || chain.with(|c| c.loaded.to_string())
                    data-corrupt=move || chain.with(|c| c.corrupt.to_string())
                >
                    <span class="label">"from storage"</span>
                    <span>
                        {move || chain.with(|c| match c.corrupt {
                            0 => format!("{} blocks", c.loaded),
                            n => format!("{} blocks, {n} damaged refetched", c.loaded),
                        })}
                    </span>
                </div>
            </div>
            {move || chain.with(|c| c.sync.map(|(height, target)| view! {
                <p class="sync" data-testid="sync-progress">"Catching up: " {height} " of " {target}</p>
            }))}
            <table>
                <thead>
                    <tr>
                        <th class="num">"#"</th>
                        <th>"hash"</th>
                        <th>"miner"</th>
                        <th class="num wide">"payments"</th>
                        <th class="num">"time"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || chain.with(|c| c.blocks.iter().map(|block| view! {
                        <tr
                            data-testid="block-row"
                            data-height=block.height.to_string()
                            data-hash=block.hash.clone()
                            class:mine=block.mine
                        >
                            <td class="num">{block.height}</td>
                            <td><code title=block.hash.clone()>{abbreviate(&block.hash)}</code></td>
                            <td>{if block.mine { "you".to_owned() } else { block.miner.clone() }}</td>
                            <td class="num wide">{block.transactions}</td>
                            <td class="num">{clock(block.time)}</td>
                        </tr>
                    }).collect_view())}
                </tbody>
            </table>
        </section>
    }
}
