//! The gossip trail: how one block (the inspected one, else the tip) spread through this
//! node, in order and in plain words: who said they had it, whom it was fetched from,
//! which announcements were ignored as duplicates, whom this node told, who fetched
//! it from here and whom it was pushed to.

use leptos::prelude::*;
use tabchain_core::Timestamp;
use tabchain_web::gossip::{Step, TrailInfo};

use crate::format::{abbreviate, clock, duration};

#[component]
pub fn GossipTrailPanel(trail: Memo<Option<TrailInfo>>) -> impl IntoView {
    view! {
        <section class="panel trail">
            <h2>"Gossip trail"</h2>
            <p class="hint">
                "Gossip: a node that gets a new block tells its peers \"I have it\" (an "
                <code>"Inv"</code> "). A peer that lacks it asks for it (" <code>"GetData"</code>
                ") and tells its own peers in turn. A node that already has the block ignores the news: the hash says it is the same block. "
                "To save the round trip of asking, each tab also asks the few peers that lately told it of new blocks first to push it new ones at once, and a tab that mines a block pushes it to every peer: nobody can have it yet."
            </p>
            {move || match trail.get() {
                Some(t) => steps(&t).into_any(),
                None => view! { <p class="empty">"Nothing to show yet: no block has reached this tab by gossip."</p> }.into_any(),
            }}
        </section>
    }
}

fn steps(trail: &TrailInfo) -> impl IntoView {
    let start = [
        trail.announced.first().map(|s| s.at),
        trail.arrived.as_ref().map(|(_, at)| *at),
    ]
    .into_iter()
    .flatten()
    .min();
    let after = move |at: Timestamp| match start {
        Some(start) if at > start => format!("{} (+{})", clock(at), duration(at.since(start))),
        _ => clock(at),
    };
    let mut lines: Vec<(Timestamp, &'static str, Option<String>, String)> = Vec::new();
    for (i, s) in trail.announced.iter().enumerate() {
        let text = if i == 0 {
            format!(
                "{} said it has this block (Inv). New to this tab, so it asked for it.",
                s.name
            )
        } else {
            format!("{} said so too; this tab had already asked.", s.name)
        };
        lines.push((s.at, "announced", Some(s.id.clone()), text));
    }
    if let Some((from, at)) = &trail.arrived {
        let pushed = from
            .as_ref()
            .is_some_and(|s| !trail.announced.iter().any(|a| a.id == s.id));
        let text = match from {
            Some(s) if pushed => format!(
                "{} pushed the block to this tab without being asked ({} bytes): it checked out, stored.",
                s.name, trail.bytes_in
            ),
            Some(s) => format!(
                "The block came from {} ({} bytes) and checked out: stored.",
                s.name, trail.bytes_in
            ),
            None if trail.mined => "This tab mined it.".to_owned(),
            None => "It was loaded here.".to_owned(),
        };
        lines.push((*at, "arrived", from.as_ref().map(|s| s.id.clone()), text));
    }
    for s in &trail.ignored {
        lines.push((
            s.at,
            "ignored",
            Some(s.id.clone()),
            format!(
                "{} announced or sent it again: ignored, a duplicate (same hash).",
                s.name
            ),
        ));
    }
    // One line for each way this tab passed the block on, naming everyone it reached.
    for (kind, verb, list) in [
        ("told", "told", &trail.told),
        ("pushed", "pushed it at once to", &trail.pushed),
    ] {
        if let Some(first) = list.first() {
            let text = format!("This tab {verb} {}: {}.", count(list.len()), names(list));
            lines.push((first.at, kind, None, text));
        }
    }
    for s in &trail.served {
        lines.push((
            s.at,
            "served",
            Some(s.id.clone()),
            format!("{} fetched it from this tab.", s.name),
        ));
    }
    lines.sort_by_key(|(at, ..)| *at);
    view! {
        <p class="trail-of" data-testid="gossip-trail" data-hash=trail.hash.clone() data-bytes-in=trail.bytes_in.to_string() data-bytes-out=trail.bytes_out.to_string()>
            "Block " {trail.height} " " <code>{abbreviate(&trail.hash)}</code>
            {format!(" · {} bytes in, {} bytes out", trail.bytes_in, trail.bytes_out)}
        </p>
        <ol class="trail-steps">
            {lines.into_iter().map(|(at, kind, peer, text)| view! {
                <li data-testid="trail-step" data-kind=kind data-peer-id=peer.unwrap_or_default()>
                    <time>{after(at)}</time> " " {text}
                </li>
            }).collect_view()}
        </ol>
    }
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 peer".to_owned()
    } else {
        format!("{n} peers")
    }
}

fn names(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
