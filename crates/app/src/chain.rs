//! The chain panel: height, tip, the room's pace, how far the chain is stored, the recent
//! blocks, and saving the chain to a file or loading one (picked, or dropped on the
//! panel).

use leptos::prelude::*;
use tabchain_web::chainfile::EXTENSION;
use tabchain_web::view::ChainInfo;
use tabchain_web::Handle;
use wasm_bindgen::JsCast;
use web_sys::{DragEvent, HtmlInputElement};

use crate::format::{abbreviate, clock, duration, quantity};
use crate::inspector::link_to;

#[component]
pub fn ChainPanel(chain: Memo<ChainInfo>, handle: Handle) -> impl IntoView {
    let dragging = RwSignal::new(false);
    let save = {
        let handle = handle.clone();
        move |_| handle.save_chain()
    };
    let picked = {
        let handle = handle.clone();
        move |event: leptos::ev::Event| {
            let input: HtmlInputElement = event.target().expect("from the input").unchecked_into();
            if let Some(file) = input.files().and_then(|files| files.get(0)) {
                handle.load_chain(file);
            }
            // The same file can be picked again.
            input.set_value("");
        }
    };
    let dropped = move |event: DragEvent| {
        event.prevent_default();
        dragging.set(false);
        if let Some(file) = event
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|f| f.get(0))
        {
            handle.load_chain(file);
        }
    };
    let stored = move || {
        chain.with(|c| match (&c.stored.error, c.stored.writing) {
            (Some(error), _) => format!("up to {} · writes fail: {error}", c.stored.height),
            (None, 0) => format!("up to height {}", c.stored.height),
            (None, n) => format!("up to height {} · writing {n}", c.stored.height),
        })
    };
    view! {
        <section
            class="panel chain"
            class:dragging=move || dragging.get()
            on:dragover=move |event: DragEvent| {
                event.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=dropped
        >
            <h2>
                "Chain"
                <span class="actions">
                    <button class="small" data-testid="save-chain" on:click=save title="Download this room's chain as a file">
                        "Save chain"
                    </button>
                    <label class="small button" title="Load a chain file of this room (or drop one on this panel)">
                        "Load chain…"
                        <input
                            type="file"
                            data-testid="load-chain"
                            accept=format!(".{EXTENSION}")
                            on:change=picked
                        />
                    </label>
                </span>
            </h2>
            {move || chain.with(|c| c.import.clone()).map(|import| view! {
                <p class="import" data-testid="import-status" data-state=import.state>
                    <strong>{import.file}</strong> ": " {import.text}
                </p>
            })}
            <div class="stats">
                <div class="stat">
                    <span class="label">"height"</span>
                    <span class="big" data-testid="chain-height">{move || chain.with(|c| c.height)}</span>
                </div>
                <div class="stat">
                    <span class="label">"tip"</span>
                    <code title=move || chain.with(|c| c.tip.clone())>{move || chain.with(|c| abbreviate(&c.tip))}</code>
                </div>
                <div class="stat" title="A rule of this room, like the difficulty: ?block_time= in seconds">
                    <span class="label">"block time"</span>
                    <span data-testid="block-time" data-ms=move || chain.with(|c| c.block_time_ms.to_string())>
                        {move || chain.with(|c| duration(c.block_time_ms))}
                    </span>
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
                <div
                    class="stat"
                    data-testid="stored-height"
                    data-height=move || chain.with(|c| c.stored.height.to_string())
                    data-error=move || chain.with(|c| c.stored.error.clone().unwrap_or_default())
                    class:failing=move || chain.with(|c| c.stored.error.is_some())
                    title="Blocks of this chain written to the browser's storage (IndexedDB)"
                >
                    <span class="label">"stored"</span>
                    <span>{stored}</span>
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
                            class="link"
                            title="open this block"
                            on:click={
                                let hash = block.hash.clone();
                                move |_| {
                                    let _ = window().location().set_hash(&link_to(&hash));
                                }
                            }
                        >
                            <td class="num">{block.height}</td>
                            <td><code title=block.hash.clone()>{abbreviate(&block.hash)}</code></td>
                            <td data-testid="block-miner">{if block.mine { "you".to_owned() } else { block.miner.clone() }}</td>
                            <td class="num wide">{block.transactions}</td>
                            <td class="num">{clock(block.time)}</td>
                        </tr>
                    }).collect_view())}
                </tbody>
            </table>
        </section>
    }
}
