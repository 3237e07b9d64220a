//! The miner panel: start and stop, how many workers, how fast, and how long a block
//! should take at that speed.

use leptos::prelude::*;
use tabchain_web::settings::MAX_WORKERS;
use tabchain_web::view::{ChainInfo, MinerInfo, SearchPath};
use tabchain_web::Handle;

use crate::format::{duration, hashrate, quantity, search_path};

#[component]
pub fn MinerPanel(miner: Memo<MinerInfo>, chain: Memo<ChainInfo>, handle: Handle) -> impl IntoView {
    let mining = move || miner.with(|m| m.mining);
    let toggle = {
        let handle = handle.clone();
        move |_| handle.set_mining(!mining())
    };
    let change_workers = move |delta: isize| {
        let handle = handle.clone();
        move |_| {
            let count = miner
                .with_untracked(|m| m.workers)
                .saturating_add_signed(delta);
            handle.set_workers(count.clamp(1, MAX_WORKERS));
        }
    };
    let expected = move || {
        let rate = miner.with(|m| m.hashrate);
        let difficulty = chain.with(|c| c.next_difficulty);
        match (mining(), rate) {
            (true, rate) if rate > 0 => format!(
                "about {} per block",
                duration(difficulty.saturating_mul(1000) / rate)
            ),
            _ => "–".to_owned(),
        }
    };
    view! {
        <section class="panel miner">
            <h2>"Miner"</h2>
            <div class="miner-controls">
                <button
                    class="mine"
                    class:on=mining
                    data-testid="mine-toggle"
                    aria-pressed=move || if mining() { "true" } else { "false" }
                    on:click=toggle
                >
                    {move || if mining() { "Stop mining" } else { "Start mining" }}
                </button>
                <div class="workers" role="group" aria-label="mining workers">
                    <button on:click=change_workers(-1) aria-label="fewer workers">"−"</button>
                    <span data-testid="worker-count">{move || miner.with(|m| m.workers)}</span>
                    <span class="label">" workers"</span>
                    <button on:click=change_workers(1) aria-label="more workers">"+"</button>
                </div>
            </div>
            <div class="stats">
                <div class="stat">
                    <span class="label">"hashrate"</span>
                    <span class="big" data-testid="hashrate" data-hps=move || miner.with(|m| m.hashrate.to_string())>
                        {move || hashrate(miner.with(|m| m.hashrate))}
                    </span>
                </div>
                <div class="stat" title="SIMD hashes four nonces per instruction; ?simd=off forces one at a time">
                    <span class="label">"search"</span>
                    <span
                        data-testid="miner-path"
                        data-path=move || match miner.with(|m| m.path) {
                            Some(SearchPath::Lanes) => "lanes",
                            Some(SearchPath::Scalar) => "scalar",
                            None => "",
                        }
                    >
                        {move || search_path(miner.with(|m| m.path))}
                    </span>
                </div>
                <div class="stat">
                    <span class="label">"difficulty"</span>
                    <span>{move || chain.with(|c| quantity(c.next_difficulty))} " hashes"</span>
                </div>
                <div class="stat">
                    <span class="label">"expected"</span>
                    <span>{expected}</span>
                </div>
                <div class="stat">
                    <span class="label">"blocks found here"</span>
                    <span>{move || miner.with(|m| m.blocks_found)}</span>
                </div>
            </div>
        </section>
    }
}
