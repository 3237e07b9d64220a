//! The wallet panel: this tab's address and balance, a form to pay another tab, and the
//! payments still waiting for a block.

use leptos::prelude::*;
use tabchain_web::view::{format_coins, WalletInfo};
use tabchain_web::Handle;

#[component]
pub fn WalletPanel(wallet: Memo<WalletInfo>, handle: Handle) -> impl IntoView {
    let to = RwSignal::new(String::new());
    let amount = RwSignal::new(String::new());
    // (ok, message) of the last attempt.
    let status = RwSignal::new(None::<(bool, String)>);
    let send = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let outcome = handle.pay(&to.get_untracked(), &amount.get_untracked());
        status.set(Some(match outcome {
            Ok(txid) => {
                amount.set(String::new());
                (
                    true,
                    format!("Sent. Payment {} waits for the next block.", &txid[..12]),
                )
            }
            Err(err) => (false, err.to_string()),
        }));
    };
    view! {
        <section class="panel wallet">
            <h2>"Wallet"</h2>
            <div class="stat">
                <span class="label">"address"</span>
                <code class="address" data-testid="wallet-address">{move || wallet.with(|w| w.address.clone())}</code>
            </div>
            <div
                class="stat"
                data-testid="wallet-balance"
                data-confirmed=move || wallet.with(|w| w.confirmed.to_string())
                data-maturing=move || wallet.with(|w| w.maturing.to_string())
                data-pending-in=move || wallet.with(|w| w.pending_in.to_string())
                data-pending-out=move || wallet.with(|w| w.pending_out.to_string())
            >
                <span class="label">"balance"</span>
                <span class="big">{move || wallet.with(|w| format_coins(w.confirmed))} " TC"</span>
                // Fresh coinbases wait some blocks, so that a reorg cannot take back coins
                // already passed on.
                <span class="maturing" data-testid="wallet-maturing">
                    {move || wallet.with(|w| match w.maturing {
                        0 => String::new(),
                        maturing => format!("+{} maturing", format_coins(maturing)),
                    })}
                </span>
                <span class="pending">
                    {move || wallet.with(|w| match (w.pending_in, w.pending_out) {
                        (0, 0) => String::new(),
                        (incoming, outgoing) => format!("+{} / −{} waiting", format_coins(incoming), format_coins(outgoing)),
                    })}
                </span>
            </div>
            <form class="send" on:submit=send>
                <label>
                    "pay to"
                    <input
                        data-testid="send-to"
                        placeholder="tc… address of another tab"
                        autocomplete="off"
                        spellcheck="false"
                        prop:value=move || to.get()
                        on:input=move |ev| to.set(event_target_value(&ev))
                    />
                </label>
                <label class="amount">
                    "amount"
                    <input
                        data-testid="send-amount"
                        inputmode="decimal"
                        placeholder="12.5"
                        prop:value=move || amount.get()
                        on:input=move |ev| amount.set(event_target_value(&ev))
                    />
                </label>
                <button data-testid="send-button" type="submit">"Send"</button>
            </form>
            <p class="fee">"fee " {move || format_coins(wallet.with(|w| w.fee))} " TC, paid to the miner"</p>
            {move || status.get().map(|(ok, message)| view! {
                <p class="send-status" data-testid="send-status" data-state={if ok { "ok" } else { "error" }} role="status">
                    {message}
                </p>
            })}
            {move || wallet.with(|w| (!w.pending.is_empty()).then(|| view! {
                <h3>"Waiting for a block"</h3>
                <ul class="pending-list">
                    {w.pending.iter().map(|row| view! {
                        <li data-testid="pending-tx">
                            <code>{row.txid.clone()}</code>
                            <span class={if row.net >= 0 { "in" } else { "out" }}>
                                {if row.net >= 0 { "+" } else { "−" }}
                                {format_coins(row.net.unsigned_abs())}
                                " TC"
                            </span>
                        </li>
                    }).collect_view()}
                </ul>
            }))}
        </section>
    }
}
