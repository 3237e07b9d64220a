//! The fork tree: every block this node holds near its tip, side branches beside the
//! main chain, each linked peer's tip flagged on its block, and a log of the reorgs:
//! how deep each went and which payments it sent back to wait. A block opens in the
//! inspector.

use leptos::prelude::*;
use tabchain_web::forks::{ForkBlock, ForkInfo, ReorgRow};

use crate::format::{abbreviate, clock};
use crate::inspector::link_to;

/// A lane holds a block and, right of it, the names of the peers whose tip it is.
const LANE: f64 = 200.0;
const ROW: f64 = 34.0;
const BLOCK_W: f64 = 84.0;
const BLOCK_H: f64 = 22.0;
const MARGIN: f64 = 10.0;
const TIP_LINE: f64 = 11.0;

#[component]
pub fn ForkTreePanel(forks: Memo<ForkInfo>) -> impl IntoView {
    view! {
        <section class="panel forks" data-testid="fork-tree">
            <h2>
                "Fork tree"
                <span class="count">
                    {move || forks.with(|f| {
                        let side = f.blocks.iter().filter(|b| !b.main).count();
                        match side {
                            0 => "one chain".to_owned(),
                            1 => "1 block on a side branch".to_owned(),
                            n => format!("{n} blocks on side branches"),
                        }
                    })}
                </span>
            </h2>
            <p class="hint">
                "The longest (most work) chain wins; blocks of a losing branch stay here, off to the side. "
                "A flag marks the best block each linked peer has."
            </p>
            <div class="tree">{move || forks.with(tree)}</div>
            <h3>"Reorgs"</h3>
            {move || forks.with(|f| if f.reorgs.is_empty() {
                view! { <p class="empty">"None yet: this node never had to switch branches."</p> }.into_any()
            } else {
                view! { <ol class="reorgs">{f.reorgs.iter().map(reorg).collect_view()}</ol> }.into_any()
            })}
        </section>
    }
}

fn tree(forks: &ForkInfo) -> impl IntoView {
    let top = forks.blocks.iter().map(|b| b.height).max().unwrap_or(0);
    let bottom = forks.blocks.iter().map(|b| b.height).min().unwrap_or(0);
    let lanes = forks.blocks.iter().map(|b| b.lane).max().unwrap_or(0) + 1;
    let width = MARGIN * 2.0 + lanes as f64 * LANE;
    // Room below for a long list of tips on the lowest blocks.
    let tips = forks.blocks.iter().map(|b| b.tips.len()).max().unwrap_or(0);
    let height = MARGIN * 2.0 + (top - bottom + 1) as f64 * ROW + tips as f64 * TIP_LINE;
    let at = |block: &ForkBlock| {
        (
            MARGIN + block.lane as f64 * LANE,
            MARGIN + (top - block.height) as f64 * ROW,
        )
    };
    let links = forks
        .blocks
        .iter()
        .filter_map(|child| {
            let parent = forks.blocks.iter().find(|b| b.hash == child.prev)?;
            let (cx, cy) = at(child);
            let (px, py) = at(parent);
            Some(view! {
                <line
                    class:side=!child.main
                    x1=px + BLOCK_W / 2.0 y1=py + BLOCK_H / 2.0
                    x2=cx + BLOCK_W / 2.0 y2=cy + BLOCK_H / 2.0
                />
            })
        })
        .collect_view();
    let blocks = forks
        .blocks
        .iter()
        .map(|block| {
            let (x, y) = at(block);
            let hash = block.hash.clone();
            let open = move |_| {
                let _ = window().location().set_hash(&link_to(&hash));
            };
            view! {
                <g
                    class="fork-block"
                    class:main=block.main
                    class:mine=block.mine
                    data-testid="fork-block"
                    data-hash=block.hash.clone()
                    data-height=block.height.to_string()
                    data-main=block.main.to_string()
                    on:click=open
                >
                    <title>{format!("block {} {}", block.height, block.hash)}</title>
                    <rect x=x y=y width=BLOCK_W height=BLOCK_H rx="5" />
                    <text x=x + 6.0 y=y + 15.0>{format!("{} …{}", block.height, &block.hash[block.hash.len() - 5..])}</text>
                    {block.tips.iter().enumerate().map(|(i, tip)| view! {
                        <g class="peer-tip" data-testid="peer-tip" data-peer-id=tip.id.clone()>
                            <title>{format!("{}'s best block", tip.name)}</title>
                            <text x=x + BLOCK_W + 6.0 y=y + 9.0 + TIP_LINE * i as f64>{format!("⚑ {}", tip.name)}</text>
                        </g>
                    }).collect_view()}
                </g>
            }
        })
        .collect_view();
    view! {
        <svg
            viewBox=format!("0 0 {width} {height}")
            width=width
            role="img"
            aria-label="the blocks this node holds, as a tree"
        >
            {links}
            {blocks}
        </svg>
    }
}

fn reorg(row: &ReorgRow) -> impl IntoView {
    let blocks = |n: usize| {
        if n == 1 {
            "1 block".to_owned()
        } else {
            format!("{n} blocks")
        }
    };
    view! {
        <li data-testid="reorg" data-depth=row.depth.to_string() data-fork-height=row.fork_height.to_string()>
            <time>{clock(row.at)}</time> " "
            <strong>"switched branch above height " {row.fork_height}</strong>
            ": " {blocks(row.depth)} " undone ("
            {row.lost.iter().map(|h| abbreviate(h)).collect::<Vec<_>>().join(", ")}
            "), " {blocks(row.connected)} " of the longer branch in. "
            {match row.returned.len() {
                0 => "No payments went back to waiting.".to_owned(),
                n => format!(
                    "{n} payment{} went back to waiting: {}",
                    if n == 1 { "" } else { "s" },
                    row.returned.iter().map(|t| abbreviate(t)).collect::<Vec<_>>().join(", ")
                ),
            }}
        </li>
    }
}
