//! A picture of this node's links: it sits in the middle, its peers around it, each
//! line coloured by the link's state.

use std::f64::consts::TAU;

use leptos::prelude::*;
use tabchain_web::view::{NodeInfo, PeersInfo};

const SIZE: f64 = 240.0;
const RADIUS: f64 = 88.0;

#[component]
pub fn MeshPanel(node: Memo<NodeInfo>, peers: Memo<PeersInfo>) -> impl IntoView {
    let center = SIZE / 2.0;
    let drawing = move || {
        peers.with(|p| {
            let count = p.live.len().max(1) as f64;
            p.live
                .iter()
                .enumerate()
                .map(|(i, row)| {
                    let angle = TAU * i as f64 / count - TAU / 4.0;
                    let (x, y) = (center + RADIUS * angle.cos(), center + RADIUS * angle.sin());
                    let state = row.state.as_str();
                    view! {
                        <g class=format!("mesh-peer {state}")>
                            <line x1=center y1=center x2=x y2=y />
                            <circle cx=x cy=y r="11" />
                            <text x=x y=y + 25.0 text-anchor="middle">{row.name.clone()}</text>
                        </g>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section class="panel mesh">
            <h2>"Mesh"</h2>
            <svg viewBox=format!("0 0 {SIZE} {SIZE}") role="img" aria-label="this node and its links">
                {drawing}
                <circle class="mesh-self" cx=center cy=center r="16" />
                <text class="mesh-self-name" x=center y=center + 32.0 text-anchor="middle">
                    {move || node.with(|n| n.name.clone())}
                </text>
            </svg>
        </section>
    }
}
