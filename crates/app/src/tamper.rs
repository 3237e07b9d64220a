//! The tamper lab: pick a block and a field, change it on a copy, and read what the
//! core's rules say: the merkle root no longer matches, a signature fails, and once the
//! header is recomputed the hash changes, its proof of work fails and the next block's
//! link breaks. It says how much work rewriting from there would take at this tab's
//! hashrate, and can offer the copy to peers, who refuse it and punish this tab: the
//! cost is shown before the button is pressed.

use std::str::FromStr;

use leptos::prelude::*;
use tabchain_core::{Address, Hash};
use tabchain_web::inspect::BlockDetail;
use tabchain_web::tamper::{Broken, Edit, OfferReport, RemineInfo, Tamper, TamperReport};
use tabchain_web::view::{parse_coins, ChainInfo, TamperInfo, WalletInfo};
use tabchain_web::Handle;

use crate::format::{abbreviate, duration, quantity};

#[component]
pub fn TamperPanel(
    chain: Memo<ChainInfo>,
    /// The block open in the inspector: any block of the chain can be tampered with,
    /// not only the recent ones listed.
    inspected: Memo<Option<BlockDetail>>,
    wallet: Memo<WalletInfo>,
    tamper: Memo<TamperInfo>,
    handle: Handle,
) -> impl IntoView {
    let block = RwSignal::new(String::new());
    let field = RwSignal::new("amount".to_owned());
    let tx = RwSignal::new("0".to_owned());
    let index = RwSignal::new("0".to_owned());
    let value = RwSignal::new("1000".to_owned());
    let problem = RwSignal::new(None::<String>);
    let apply = {
        let handle = handle.clone();
        move |_| {
            let chosen = block.get_untracked();
            let hash = if chosen.is_empty() {
                chain.with_untracked(|c| c.tip.clone())
            } else {
                chosen
            };
            match edit(
                &field.get_untracked(),
                &tx.get_untracked(),
                &index.get_untracked(),
                &value.get_untracked(),
                &wallet.with_untracked(|w| w.address.clone()),
            ) {
                Ok(edit) => match tabchain_core::keys::parse_hex::<32>(&hash) {
                    Ok(bytes) => {
                        problem.set(None);
                        handle.tamper(Some(Tamper {
                            block: Hash(bytes),
                            edit,
                        }));
                    }
                    Err(_) => problem.set(Some("pick a block".to_owned())),
                },
                Err(text) => problem.set(Some(text)),
            }
        }
    };
    let offer = {
        let handle = handle.clone();
        move |_| handle.offer_tampered()
    };
    let remine = {
        let handle = handle.clone();
        move |_| handle.remine_tampered()
    };
    let clear = move |_| handle.tamper(None);
    let needs_value = move || matches!(field.get().as_str(), "amount" | "time");
    view! {
        <section class="panel tamper" data-testid="tamper-lab">
            <h2>"Tamper lab" <span class="count">"a copy; the real chain is never touched"</span></h2>
            <div class="tamper-form">
                <label>"block"
                    <select data-testid="tamper-block" on:change=move |ev| block.set(event_target_value(&ev))>
                        {move || inspected.with(|open| open.as_ref()
                            .filter(|open| open.height > 0 && chain.with(|c| c.blocks.iter().all(|b| b.hash != open.hash)))
                            .map(|open| view! {
                                <option value=open.hash.clone() selected=block.with(|h| *h == open.hash)>
                                    {format!("{} · {} (open in the inspector)", open.height, abbreviate(&open.hash))}
                                </option>
                            }))}
                        {move || chain.with(|c| c.blocks.iter().filter(|b| b.height > 0).map(|b| view! {
                            <option value=b.hash.clone() selected=block.with(|h| *h == b.hash)>
                                {format!("{} · {}", b.height, abbreviate(&b.hash))}
                            </option>
                        }).collect_view())}
                    </select>
                </label>
                <label>"change"
                    <select data-testid="tamper-field" on:change=move |ev| field.set(event_target_value(&ev))>
                        <option value="amount">"an output's amount"</option>
                        <option value="address">"an output's address (to you)"</option>
                        <option value="time">"the time"</option>
                        <option value="input">"a transaction's input"</option>
                    </select>
                </label>
                <label class="short">"transaction #"
                    <input data-testid="tamper-tx" inputmode="numeric" prop:value=move || tx.get() on:input=move |ev| tx.set(event_target_value(&ev)) />
                </label>
                <label class="short">{move || if field.get() == "input" { "input #" } else { "output #" }}
                    <input data-testid="tamper-index" inputmode="numeric" prop:value=move || index.get() on:input=move |ev| index.set(event_target_value(&ev)) />
                </label>
                <label class="short" class:hidden=move || !needs_value()>
                    {move || if field.get() == "time" { "seconds later" } else { "coins" }}
                    <input data-testid="tamper-value" inputmode="decimal" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
                </label>
                <button class="primary" data-testid="tamper-apply" on:click=apply>"Change the copy"</button>
                <button on:click=clear>"Clear"</button>
            </div>
            {move || problem.get().map(|text| view! { <p class="bad">{text}</p> })}
            {move || tamper.with(|t| t.report.clone()).map(|report| match report {
                Ok(report) => findings(&report).into_any(),
                Err(text) => view! { <p class="bad" data-testid="tamper-result">{text}</p> }.into_any(),
            })}
            <div class="offer" class:hidden=move || !tamper.with(|t| matches!(t.report, Some(Ok(_))))>
                <button data-testid="tamper-remine" on:click=remine title="stops this tab's own mining">"Re-mine it in the workers"</button>
                <button class="danger" data-testid="tamper-offer" on:click=offer>"Offer it to peers"</button>
                <span class="hint">"Peers fetch it and check it; an invalid block counts against this tab: expect to be dropped and banned for a while."</span>
            </div>
            {move || tamper.with(|t| t.remine.clone()).map(|r| remining(&r))}
            {move || tamper.with(|t| t.offer.clone()).map(|offer| offered(&offer))}
        </section>
    }
}

/// The edit the form describes; `to_you` is this tab's address.
fn edit(field: &str, tx: &str, index: &str, value: &str, to_you: &str) -> Result<Edit, String> {
    let number = |text: &str, what: &str| {
        text.trim()
            .parse::<usize>()
            .map_err(|_| format!("{what} must be a whole number"))
    };
    let (tx, index) = (number(tx, "the transaction")?, number(index, "the index")?);
    match field {
        "amount" => {
            let value = parse_coins(value).ok_or("the amount must be coins, like 12.5")?;
            Ok(Edit::Amount {
                tx,
                output: index,
                value,
            })
        }
        "address" => {
            let to = Address::from_str(to_you).map_err(|_| "this tab has no address yet")?;
            Ok(Edit::Address {
                tx,
                output: index,
                to,
            })
        }
        "time" => {
            let seconds: i64 = value
                .trim()
                .parse()
                .map_err(|_| "the time shift must be whole seconds, like 60 or -30")?;
            Ok(Edit::Time {
                by_ms: seconds.saturating_mul(1000),
            })
        }
        _ => Ok(Edit::Input { tx, input: index }),
    }
}

fn broken(found: &Option<Broken>, fine: &'static str) -> impl IntoView {
    match found {
        Some(b) => {
            view! { <span class="bad"><code>{b.name.clone()}</code> ": " {b.text.clone()}</span> }
                .into_any()
        }
        None => view! { <span class="ok">{fine}</span> }.into_any(),
    }
}

fn findings(report: &TamperReport) -> impl IntoView {
    let same_hash = report.copy_hash == report.original_hash;
    let verdict = match &report.verdict {
        Some(b) => format!("Refused: {} ({})", b.name, b.text),
        None => "The block alone breaks no rule; peers would still check it against their chain."
            .to_owned(),
    };
    view! {
        <div class="findings">
            <p class="edit">"On a copy of block " {report.height} ", " {report.edit.clone()} "."</p>
            <p class="verdict" class:bad=report.verdict.is_some() data-testid="tamper-result" data-error=report.verdict.as_ref().map(|b| b.name.clone()).unwrap_or_default()>
                {verdict}
            </p>
            <dl class="fields">
                <dt>"hash"</dt>
                <dd>
                    {if same_hash {
                        "unchanged: the header was not edited, and it still commits to the old transactions".to_owned()
                    } else {
                        format!("{} → {}", abbreviate(&report.original_hash), abbreviate(&report.copy_hash))
                    }}
                </dd>
                <dt>"merkle root"</dt>
                <dd>{broken(&(!report.merkle_ok).then(|| Broken { name: "BadMerkleRoot".into(), text: "the transactions no longer hash to the header's root".into() }), "still matches")}</dd>
                <dt>"signatures"</dt>
                <dd>{broken(&report.signature, "all still verify")}</dd>
                <dt>"header fixed"</dt>
                <dd>
                    "with the root recomputed the hash becomes " <code>{abbreviate(&report.resealed_hash)}</code> ": "
                    {broken(&report.resealed_pow, "it happens to meet the difficulty")}
                </dd>
                <dt>"next block"</dt>
                <dd>
                    {match &report.next {
                        Some((height, hash)) => format!("block {height} ({}) names the old hash as its prev: the link breaks", abbreviate(hash)),
                        None => "none yet: this is the tip".to_owned(),
                    }}
                </dd>
                <dt>"to rewrite"</dt>
                <dd data-testid="tamper-work" data-blocks=report.redo_blocks.to_string() data-hashes=report.redo_hashes.to_string()>
                    {format!("{} block{} to mine again, about {} hashes", report.redo_blocks, if report.redo_blocks == 1 { "" } else { "s" }, quantity(report.redo_hashes))}
                    {match report.redo_ms {
                        Some(ms) => format!(", {} at this tab's hashrate, while the room keeps adding blocks", duration(ms)),
                        None => ", at a speed known once this tab mines".to_owned(),
                    }}
                </dd>
            </dl>
        </div>
    }
}

fn offered(offer: &OfferReport) -> impl IntoView {
    let cost = match &offer.refusal {
        Some(b) => format!(
            "Each refuses it: {} ({}). That costs this tab {} of the {} points a peer tolerates{}.",
            b.name,
            b.text,
            offer.penalty,
            offer.limit,
            if offer.penalty >= offer.limit {
                format!(
                    ", so it drops this tab and bans it for {}",
                    duration(offer.ban_ms)
                )
            } else {
                String::new()
            }
        ),
        None => "It breaks no rule: peers keep it, on a side branch behind the longer chain, and this tab loses nothing.".to_owned(),
    };
    view! {
        <p class="offer-status" data-testid="tamper-offer-status" data-peers=offer.peers.to_string() data-penalty=offer.penalty.to_string()>
            "Offered " <code>{abbreviate(&offer.hash)}</code> " to " {offer.peers} " peer" {if offer.peers == 1 { "" } else { "s" }} ". " {cost}
        </p>
    }
}

fn remining(remine: &RemineInfo) -> impl IntoView {
    let (state, text) = match (&remine.found, remine.interrupted) {
        (Some((at, hash)), _) => (
            "found",
            format!(
                "The workers found a nonce after {}: the copy's hash is now {}, and it meets its difficulty. The next block still names the old hash, so every later block must be mined again too, while the room keeps adding blocks.",
                duration(at.since(remine.started)),
                abbreviate(hash)
            ),
        ),
        (None, true) => ("interrupted", "Re-mining stopped: the tab's own mining took the workers back.".to_owned()),
        (None, false) => (
            "mining",
            format!("The workers are re-mining the copy: about {} hashes on average, at this tab's full speed…", quantity(remine.difficulty)),
        ),
    };
    view! { <p class="remine" data-testid="tamper-remine-status" data-state=state>{text}</p> }
}
