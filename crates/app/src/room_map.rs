//! The room's map as far as this node knows it: itself in the middle, its peers on the
//! inner ring (lines coloured by the link's state), and the nodes only its peers link to
//! on the outer ring, with the links those peers listed. Gossip crosses the map hop by
//! hop.

use std::f64::consts::TAU;

use leptos::prelude::*;
use tabchain_web::map::MapInfo;

const SIZE: f64 = 300.0;
const RINGS: [f64; 3] = [0.0, 78.0, 128.0];

#[component]
pub fn RoomMapPanel(map: Memo<MapInfo>) -> impl IntoView {
    let drawing = move || map.with(draw);
    view! {
        <section class="panel room-map" data-testid="room-map">
            <h2>
                "Room map"
                <span class="count">
                    {move || map.with(|m| format!("{} nodes known", m.nodes.len()))}
                </span>
            </h2>
            <svg viewBox=format!("0 0 {SIZE} {SIZE}") role="img" aria-label="the room's nodes and links as this node knows them">
                {drawing}
            </svg>
            <p class="legend">
                <span class="key connected">"linked"</span>
                <span class="key connecting">"connecting"</span>
                <span class="key stale">"no pong lately"</span>
                <span class="key heard">"a peer's link"</span>
            </p>
        </section>
    }
}

fn draw(map: &MapInfo) -> impl IntoView {
    let center = SIZE / 2.0;
    // Place each ring's nodes evenly, the outer ring turned half a step so that its
    // nodes fall between the inner ones.
    let mut counts = [0usize; 3];
    for node in &map.nodes {
        counts[usize::from(node.hops.min(2))] += 1;
    }
    let mut seen = [0usize; 3];
    let places: Vec<(f64, f64)> = map
        .nodes
        .iter()
        .map(|node| {
            let ring = usize::from(node.hops.min(2));
            let i = seen[ring] as f64 + if ring == 2 { 0.5 } else { 0.0 };
            seen[ring] += 1;
            let angle = TAU * i / counts[ring].max(1) as f64 - TAU / 4.0;
            (
                center + RINGS[ring] * angle.cos(),
                center + RINGS[ring] * angle.sin(),
            )
        })
        .collect();
    let links = map
        .links
        .iter()
        .map(|link| {
            let ((x1, y1), (x2, y2)) = (places[link.a], places[link.b]);
            let state = link.state.map_or("heard", |s| s.as_str());
            view! { <line class=format!("map-link {state}") data-state=state x1=x1 y1=y1 x2=x2 y2=y2 /> }
        })
        .collect_view();
    let nodes = map
        .nodes
        .iter()
        .zip(&places)
        .map(|(node, &(x, y))| {
            let own = node.hops == 0;
            view! {
                <g
                    class=format!("map-node hops-{}{}", node.hops, if node.roles.contains(&"keeper") { " keeper" } else { "" })
                    data-testid="map-node"
                    data-peer-id=node.id.clone()
                    data-hops=node.hops.to_string()
                    data-roles=node.roles.join(" ")
                >
                    <title>{format!("{} {} {}", node.name, node.roles.join(", "), node.id)}</title>
                    <circle cx=x cy=y r=if own { 14.0 } else { 9.0 } />
                    <text x=x y=y + if own { 28.0 } else { 21.0 } text-anchor="middle">
                        {if node.roles.contains(&"keeper") { format!("{} · keeper", node.name) } else { node.name.clone() }}
                    </text>
                </g>
            }
        })
        .collect_view();
    view! { {links} {nodes} }
}
