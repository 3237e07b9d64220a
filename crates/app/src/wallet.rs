//! The wallet panel: the address and balance of this browser's wallet (shared by its
//! tabs, kept when a tab closes), a form to pay another tab, the payments still waiting
//! for a block, and the wallet's backup code (text and QR code) with a way to restore one.

use leptos::prelude::*;
use leptos::task::spawn_local;
use qrcode::render::svg;
use qrcode::QrCode;
use tabchain_web::view::{format_coins, WalletInfo};
use tabchain_web::Handle;

#[component]
pub fn WalletPanel(wallet: Memo<WalletInfo>, handle: Handle) -> impl IntoView {
    let to = RwSignal::new(String::new());
    let amount = RwSignal::new(String::new());
    // (ok, message) of the last attempt.
    let status = RwSignal::new(None::<(bool, String)>);
    let send = {
        let handle = handle.clone();
        move |event: leptos::ev::SubmitEvent| {
            event.prevent_default();
            let handle = handle.clone();
            spawn_local(async move {
                let outcome = handle.pay(to.get_untracked(), amount.get_untracked()).await;
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
            });
        }
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
            <Backup handle=handle />
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

/// The backup code, shown on request (it is the wallet), and the restore form.
#[component]
fn Backup(handle: Handle) -> impl IntoView {
    let code = RwSignal::new(None::<String>);
    let typed = RwSignal::new(String::new());
    let restore_error = RwSignal::new(None::<String>);
    let show = {
        let handle = handle.clone();
        move |_| {
            code.set(if code.get_untracked().is_some() {
                None
            } else {
                handle.wallet_code()
            })
        }
    };
    let restore = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let handle = handle.clone();
        spawn_local(async move {
            if let Err(err) = handle.restore_wallet(typed.get_untracked()).await {
                restore_error.set(Some(err));
            }
        });
    };
    view! {
        <details class="backup">
            <summary>"Back up or restore this wallet"</summary>
            <p class="hint">
                "This browser keeps the wallet when a tab closes. To take it to another device, "
                "copy its code or scan it there, and restore it. Whoever has the code has the coins."
            </p>
            <button type="button" class="small" data-testid="show-backup" on:click=show>
                {move || if code.get().is_some() { "Hide the code" } else { "Show the code" }}
            </button>
            {move || code.get().map(|code| {
                let qr = QrCode::new(code.as_bytes())
                    .map(|qr| qr.render::<svg::Color>().min_dimensions(168, 168).quiet_zone(true).build())
                    .unwrap_or_default();
                view! {
                    <div class="code">
                        <code data-testid="backup-code">{code}</code>
                        <div class="qr" inner_html=qr></div>
                    </div>
                }
            })}
            <form class="restore" on:submit=restore>
                <input
                    data-testid="restore-code"
                    placeholder="tcw1… code of a wallet"
                    autocomplete="off"
                    spellcheck="false"
                    prop:value=move || typed.get()
                    on:input=move |ev| typed.set(event_target_value(&ev))
                />
                <button type="submit" class="small" data-testid="restore-button">"Restore"</button>
            </form>
            {move || restore_error.get().map(|err| view! {
                <p class="restore-error" data-testid="restore-error" role="alert">{err}</p>
            })}
        </details>
    }
}
