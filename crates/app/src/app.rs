//! The root component: starts the node and lays out the panels.

use leptos::prelude::*;
use tabchain_web::view::View;
use tabchain_web::Handle;

use crate::chain::ChainPanel;
use crate::fork_tree::ForkTreePanel;
use crate::gossip_trail::GossipTrailPanel;
use crate::inspector::InspectorPanel;
use crate::log::LogPanel;
use crate::miner::MinerPanel;
use crate::node::NodeBar;
use crate::peers::PeersPanel;
use crate::room_map::RoomMapPanel;
use crate::tamper::TamperPanel;
use crate::wallet::WalletPanel;

#[component]
pub fn App() -> impl IntoView {
    let view = RwSignal::new(View::default());
    let handle = Handle::start(move |next| view.set(next));

    let node = Memo::new(move |_| view.with(|v| v.node.clone()));
    let signal = Memo::new(move |_| view.with(|v| v.signal.clone()));
    let peers = Memo::new(move |_| view.with(|v| v.peers.clone()));
    let chain = Memo::new(move |_| view.with(|v| v.chain.clone()));
    let miner = Memo::new(move |_| view.with(|v| v.miner.clone()));
    let wallet = Memo::new(move |_| view.with(|v| v.wallet.clone()));
    let log = Memo::new(move |_| view.with(|v| v.log.clone()));
    let inspected = Memo::new(move |_| view.with(|v| v.inspected.clone()));
    let forks = Memo::new(move |_| view.with(|v| v.forks.clone()));
    let trail = Memo::new(move |_| view.with(|v| v.trail.clone()));
    let map = Memo::new(move |_| view.with(|v| v.map.clone()));
    let tamper = Memo::new(move |_| view.with(|v| v.tamper.clone()));

    // The inspector follows the page's address (`#block=<hash>`), so a block can be
    // linked to, and the back button closes it.
    let follow = {
        let handle = handle.clone();
        move || {
            let fragment = window().location().hash().unwrap_or_default();
            handle.inspect(fragment.strip_prefix("#block="));
        }
    };
    follow();
    let _ = window_event_listener(leptos::ev::hashchange, move |_| follow());

    view! {
        <NodeBar node=node signal=signal />
        {move || node.with(|n| n.error.clone()).map(|error| view! {
            <p class="fatal" role="alert">{error}</p>
        })}
        <main class="grid">
            <PeersPanel peers=peers />
            <RoomMapPanel map=map />
            <InspectorPanel block=inspected />
            <ChainPanel chain=chain handle=handle.clone() />
            <ForkTreePanel forks=forks />
            <GossipTrailPanel trail=trail />
            <MinerPanel miner=miner chain=chain handle=handle.clone() />
            <WalletPanel wallet=wallet handle=handle.clone() />
            <LogPanel log=log />
            <TamperPanel chain=chain inspected=inspected wallet=wallet tamper=tamper handle=handle />
        </main>
    }
}
