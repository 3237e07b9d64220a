//! The top bar: this node's name, id and room, how it reaches the signaling server, the
//! Nostr relays it meets its room through when there are any, and the room's join link
//! with a QR code for the classroom projector.

use leptos::prelude::*;
use qrcode::render::svg;
use qrcode::QrCode;
use tabchain_web::view::{NodeInfo, SignalInfo, SignalState};

#[component]
pub fn NodeBar(node: Memo<NodeInfo>, signal: Memo<SignalInfo>) -> impl IntoView {
    let joining = RwSignal::new(false);
    let status_text = move || {
        signal.with(|s| {
            let server = match s.state {
                SignalState::Connecting => "connecting to the signaling server",
                SignalState::Connected => "signaling server connected",
                SignalState::Offline => "signaling server offline",
                SignalState::Absent => "no signaling server: meeting through Nostr relays",
            };
            match s.local_tabs {
                0 => server.to_owned(),
                1 => format!("{server} · 1 tab of this browser nearby"),
                n => format!("{server} · {n} tabs of this browser nearby"),
            }
        })
    };
    view! {
        <header class="bar">
            <div class="brand">
                <svg class="logo" viewBox="0 0 32 32" aria-hidden="true">
                    <circle cx="10" cy="11" r="4" fill="#5fd4a4" />
                    <circle cx="22" cy="11" r="4" fill="#5fd4a4" />
                    <circle cx="16" cy="22" r="4" fill="#f2c14e" />
                    <path d="M10 11 22 11 16 22Z" fill="none" stroke="#cfe3f5" stroke-width="1.6" />
                </svg>
                <span class="title">"tabchain"</span>
            </div>
            <div class="who">
                <span class="name">{move || node.with(|n| n.name.clone())}</span>
                <code class="id" data-testid="node-id" title="this node's id: the fingerprint of its key">
                    {move || node.with(|n| n.id.clone())}
                </code>
            </div>
            <div class="room">
                "room " <strong>{move || node.with(|n| n.room.clone())}</strong>
                <button class="small join" data-testid="join-toggle" on:click=move |_| joining.update(|on| *on = !*on)>
                    "Join link"
                </button>
            </div>
            {move || joining.get().then(join_card)}
            <div
                class="signal"
                data-testid="signal-status"
                data-state=move || signal.with(|s| s.state.as_str())
                title=move || signal.with(|s| format!("{} {}", s.url, s.detail))
            >
                <span class="dot" aria-hidden="true"></span>
                <span>{status_text}</span>
                <span class="detail">{move || signal.with(|s| s.detail.clone())}</span>
            </div>
            {move || signal.with(|s| (!s.relays.is_empty()).then(|| view! {
                <ul
                    class="relays"
                    data-testid="relays"
                    data-bytes=s.relay_bytes.to_string()
                    title=format!(
                        "Nostr relays: they only pass on encrypted notes until the first link is up. This tab has published {} bytes to them.",
                        s.relay_bytes
                    )
                >
                    <li class="label">"Nostr relays"</li>
                    {s.relays.iter().map(|relay| view! {
                        <li
                            class="relay"
                            data-testid="relay"
                            data-url=relay.url.clone()
                            data-state=relay.state
                            title=format!(
                                "{} · {} · {} notes heard, {} published {}",
                                relay.url, relay.state, relay.heard, relay.published, relay.detail
                            )
                        >
                            <span class="dot" aria-hidden="true"></span>
                            {relay.host.clone()}
                        </li>
                    }).collect_view()}
                </ul>
            }))}
        </header>
    }
}

/// This page's address (the room and its rules, without an open block), large enough to
/// scan from the back of a classroom.
fn join_card() -> impl IntoView {
    let location = window().location();
    // The workers are this device's business, not the room's.
    let query: Vec<String> = location
        .search()
        .unwrap_or_default()
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("workers="))
        .map(str::to_owned)
        .collect();
    let url = format!(
        "{}{}{}{}",
        location.origin().unwrap_or_default(),
        location.pathname().unwrap_or_default(),
        if query.is_empty() { "" } else { "?" },
        query.join("&")
    );
    let qr = QrCode::new(url.as_bytes())
        .map(|qr| {
            qr.render::<svg::Color>()
                .min_dimensions(240, 240)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default();
    let shown = url.clone();
    view! {
        <div class="join-card" data-testid="join-qr" data-url=url>
            <div class="qr" inner_html=qr></div>
            <code>{shown}</code>
        </div>
    }
}
