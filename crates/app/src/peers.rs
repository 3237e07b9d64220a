//! The peers panel: one row per link with its state, how it is carried (same machine,
//! direct, through STUN or the TURN relay), round-trip time (and a sparkline of recent
//! ones) and last pong; dropped peers stay below, greyed, with why and when.

use leptos::prelude::*;
use tabchain_web::path::PathInfo;
use tabchain_web::view::{LinkState, PeerRow, PeersInfo};

use crate::format::{abbreviate, clock, duration};

#[component]
pub fn PeersPanel(peers: Memo<PeersInfo>) -> impl IntoView {
    let connected = move || {
        peers.with(|p| {
            p.live
                .iter()
                .filter(|row| row.state == LinkState::Connected)
                .count()
        })
    };
    view! {
        <section class="panel peers">
            <h2>"Peers" <span class="count">{connected} " connected"</span></h2>
            <table>
                <thead>
                    <tr>
                        <th>"peer"</th>
                        <th>"state"</th>
                        <th>"path"</th>
                        <th class="num">"RTT"</th>
                        <th class="wide">"recent RTTs"</th>
                        <th class="num wide">"last pong"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || peers.with(|p| p.live.iter().map(live_row).collect_view())}
                </tbody>
            </table>
            {move || peers.with(|p| p.live.is_empty()).then(|| view! {
                <p class="empty">"No peers yet. Open this page in another tab to grow the network."</p>
            })}
            {move || peers.with(|p| (!p.dropped.is_empty()).then(|| view! {
                <h3>"Dropped"</h3>
                <table class="dropped">
                    <tbody>
                        {p.dropped.iter().map(|row| view! {
                            <tr data-testid="peer-row" data-peer-id=row.id.clone() data-state="dropped">
                                <td>
                                    <span class="peer-name">{row.name.clone()}</span>
                                    <code class="id" title=row.id.clone()>{abbreviate(&row.id)}</code>
                                </td>
                                <td><span class="pill dropped">"dropped"</span></td>
                                <td class="reason" data-testid="peer-reason">{row.reason.clone()}</td>
                                <td class="num">{clock(row.at)}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }))}
        </section>
    }
}

fn live_row(row: &PeerRow) -> impl IntoView {
    let state = row.state.as_str();
    view! {
        <tr data-testid="peer-row" data-peer-id=row.id.clone() data-state=state>
            <td>
                <span class="peer-name">{row.name.clone()}</span>
                <code class="id" title=row.id.clone()>{abbreviate(&row.id)}</code>
                {roles(&row.roles)}
            </td>
            <td><span class=format!("pill {state}")>{state}</span></td>
            <td>{path(row.path.as_ref())}</td>
            <td class="num" data-testid="peer-rtt">
                {row.rtt_ms.map(rtt).unwrap_or_else(|| "–".to_owned())}
            </td>
            <td class="wide">{sparkline(&row.rtt_history)}</td>
            <td class="num wide">
                {row.last_pong_ago_ms.map(|ago| format!("{} ago", duration(ago))).unwrap_or_else(|| "–".to_owned())}
            </td>
        </tr>
    }
}

/// What the peer said it does, as badges; `full` goes without saying (every node so
/// far is one) and is only in `data-roles` and the tooltip.
fn roles(roles: &[&'static str]) -> impl IntoView {
    let badges: Vec<&'static str> = roles
        .iter()
        .copied()
        .filter(|role| *role != "full")
        .collect();
    view! {
        <span class="roles" data-testid="peer-roles" data-roles=roles.join(" ") title=roles.join(", ")>
            {badges.into_iter().map(|role| view! { <span class=format!("role {role}")>{role}</span> }).collect_view()}
        </span>
    }
}

/// How the link is carried; the details (addresses, relay transport) on hover.
fn path(path: Option<&PathInfo>) -> impl IntoView {
    path.map(|info| {
        let name = info.path.as_str();
        view! {
            <span class=format!("path {name}") data-testid="peer-path" title=info.detail.clone()>
                {name}
            </span>
        }
    })
}

fn rtt(ms: u64) -> String {
    if ms == 0 {
        "<1 ms".to_owned()
    } else {
        format!("{ms} ms")
    }
}

/// Recent round trips as a little line, scaled to the largest of them.
fn sparkline(history: &[u64]) -> impl IntoView {
    const WIDTH: f64 = 90.0;
    const HEIGHT: f64 = 18.0;
    let top = history.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = WIDTH / (history.len().max(2) - 1) as f64;
    let points = history
        .iter()
        .enumerate()
        .map(|(i, &ms)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                HEIGHT - 1.0 - (ms as f64 / top) * (HEIGHT - 2.0)
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    view! {
        <svg class="spark" viewBox=format!("0 0 {WIDTH} {HEIGHT}") width=WIDTH height=HEIGHT aria-hidden="true">
            <polyline points=points />
        </svg>
    }
}
