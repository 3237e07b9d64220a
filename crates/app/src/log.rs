//! The protocol log, newest first.

use leptos::prelude::*;
use tabchain_web::view::{LogKind, LogLine};

use crate::format::clock;

/// Lines shown; the driver keeps a few more.
const SHOWN: usize = 80;

#[component]
pub fn LogPanel(log: Memo<Vec<LogLine>>) -> impl IntoView {
    view! {
        <section class="panel log">
            <h2>"Protocol log"</h2>
            <ol>
                {move || log.with(|lines| lines.iter().take(SHOWN).map(|line| view! {
                    <li class=kind(line.kind)>
                        <time>{clock(line.at)}</time>
                        <span>{line.text.clone()}</span>
                    </li>
                }).collect_view())}
            </ol>
        </section>
    }
}

fn kind(kind: LogKind) -> &'static str {
    match kind {
        LogKind::Peer => "peer",
        LogKind::Block => "block",
        LogKind::Message => "message",
        LogKind::Warning => "warning",
    }
}
