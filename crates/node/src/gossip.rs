//! Announce-and-fetch bookkeeping: the fetcher, which asks one announcer at a time for
//! each wanted item and moves on to the next when that one times out, says `NotFound`
//! or leaves.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use tabchain_core::{NodeId, Timestamp};

use crate::message::InvItem;

/// Most items of each class (blocks; transactions) wanted at once. Announcements past
/// it are ignored until some arrive: a peer announcing junk within its budget cannot
/// grow the table without bound. Blocks have a table of their own, so that no flood of
/// transactions can keep a block from being fetched.
const MAX_WANTS: usize = 16_384;
/// Most wants of each class one peer's announcements may have open at once (Bitcoin
/// Core's `MAX_PEER_TX_ANNOUNCEMENTS` is the same idea): past it, that peer's new
/// announcements wait, and nobody else's do.
const MAX_WANTS_PER_PEER: usize = 2_048;
/// Request slots per peer only blocks may take: transactions asked of a peer never
/// keep a block from being asked of it.
const BLOCK_SLOTS: usize = 8;

#[derive(Debug, Clone)]
struct Want {
    /// Fetch order: lower first (blocks by height, transactions last).
    priority: u64,
    /// Whose announcement made it: it counts against that peer's share.
    origin: NodeId,
    /// Peers it was asked of: never asked of them again.
    tried: Vec<NodeId>,
    /// Peers that have it, in the order they said so, not yet tried.
    sources: Vec<NodeId>,
    /// Whom it is asked of now, and when.
    asked: Option<Asked>,
}

#[derive(Debug, Clone, Copy)]
struct Asked {
    peer: NodeId,
    at: Timestamp,
    deadline: Timestamp,
}

/// Forgets `peer` as a source of `item`; if the request was out with it, puts the item
/// back in the queue for the next source.
fn drop_source(
    want: &mut Want,
    item: InvItem,
    peer: NodeId,
    deadlines: &mut BTreeSet<(Timestamp, InvItem)>,
    queue: &mut BTreeSet<(u64, InvItem)>,
) {
    want.sources.retain(|p| *p != peer);
    if let Some(asked) = want.asked {
        if asked.peer == peer {
            want.asked = None;
            deadlines.remove(&(asked.deadline, item));
            queue.insert((want.priority, item));
        }
    }
}

/// Items to fetch and whom they are asked of.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fetcher {
    wants: HashMap<InvItem, Want>,
    /// Wants not asked of anyone yet, in fetch order.
    queue: BTreeSet<(u64, InvItem)>,
    /// Asked wants by deadline.
    deadlines: BTreeSet<(Timestamp, InvItem)>,
    /// Open wants by origin and class (whether a block).
    shares: HashMap<(NodeId, bool), usize>,
    /// Open wants by class: (transactions, blocks).
    totals: [usize; 2],
}

/// What [`Fetcher::assign`] decided.
#[derive(Debug, Default)]
pub(crate) struct Assignment {
    pub(crate) requests: BTreeMap<NodeId, Vec<InvItem>>,
    /// Items every source has failed to deliver: nobody left to ask.
    pub(crate) abandoned: Vec<InvItem>,
}

impl Fetcher {
    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// Notes that `source` has `item`. Returns true if that gives the fetcher something
    /// new to ask for.
    pub(crate) fn want(&mut self, item: InvItem, source: NodeId, priority: u64) -> bool {
        match self.wants.get_mut(&item) {
            Some(want) => {
                if want.sources.contains(&source)
                    || want.tried.contains(&source)
                    || want.asked.is_some_and(|asked| asked.peer == source)
                {
                    return false;
                }
                want.sources.push(source);
                want.asked.is_none()
            }
            None => {
                let block = matches!(item, InvItem::Block(_));
                let share = self.shares.entry((source, block)).or_default();
                if self.totals[usize::from(block)] >= MAX_WANTS || *share >= MAX_WANTS_PER_PEER {
                    return false;
                }
                *share += 1;
                self.totals[usize::from(block)] += 1;
                self.wants.insert(
                    item,
                    Want {
                        priority,
                        origin: source,
                        tried: Vec::new(),
                        sources: vec![source],
                        asked: None,
                    },
                );
                self.queue.insert((priority, item));
                true
            }
        }
    }

    /// Whether any want waits for a source to be asked.
    pub(crate) fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Whether someone announced `item` and it has not arrived.
    pub(crate) fn is_wanted(&self, item: &InvItem) -> bool {
        self.wants.contains_key(item)
    }

    /// Asks for queued wants, in order, of sources with free slots in `free`
    /// (decremented as slots are used), preferring the source with the most free slots
    /// so that a long download spreads over every peer that has it. A request to `peer`
    /// waits `timeout_ms(peer)`.
    pub(crate) fn assign(
        &mut self,
        now: Timestamp,
        timeout_ms: impl Fn(&NodeId) -> u64,
        free: &mut BTreeMap<NodeId, usize>,
    ) -> Assignment {
        let mut out = Assignment::default();
        let queued: Vec<(u64, InvItem)> = self.queue.iter().copied().collect();
        for (priority, item) in queued {
            let reserved = match item {
                InvItem::Block(_) => 0,
                InvItem::Tx(_) => BLOCK_SLOTS,
            };
            // Transactions come last in the queue: once they cannot go, nothing can.
            if free.values().all(|&n| n <= reserved) {
                break;
            }
            let want = self.wants.get_mut(&item).expect("queued items are wanted");
            want.sources.retain(|peer| free.contains_key(peer));
            if want.sources.is_empty() {
                let want = self.wants.remove(&item).expect("just looked at it");
                self.queue.remove(&(priority, item));
                self.release_share(&item, &want);
                out.abandoned.push(item);
                continue;
            }
            let best = want
                .sources
                .iter()
                .enumerate()
                .filter(|(_, peer)| free[peer] > reserved)
                .max_by_key(|(i, peer)| (free[peer], std::cmp::Reverse(*i)))
                .map(|(i, _)| i);
            let Some(best) = best else { continue };
            let peer = want.sources.remove(best);
            want.tried.push(peer);
            *free.get_mut(&peer).expect("filtered above") -= 1;
            let deadline = now.saturating_add(timeout_ms(&peer));
            want.asked = Some(Asked {
                peer,
                at: now,
                deadline,
            });
            self.queue.remove(&(priority, item));
            self.deadlines.insert((deadline, item));
            out.requests.entry(peer).or_default().push(item);
        }
        out
    }

    /// `item` arrived (from anyone): it is no longer wanted.
    pub(crate) fn received(&mut self, item: &InvItem) {
        if let Some(want) = self.wants.remove(item) {
            self.unlist(item, &want);
            self.release_share(item, &want);
        }
    }

    fn release_share(&mut self, item: &InvItem, want: &Want) {
        let block = matches!(item, InvItem::Block(_));
        self.totals[usize::from(block)] -= 1;
        if let Some(share) = self.shares.get_mut(&(want.origin, block)) {
            *share -= 1;
            if *share == 0 {
                self.shares.remove(&(want.origin, block));
            }
        }
    }

    /// `peer` said it does not have `item`: ask the next source.
    pub(crate) fn not_found(&mut self, item: &InvItem, peer: NodeId) {
        if let Some(want) = self.wants.get_mut(item) {
            drop_source(want, *item, peer, &mut self.deadlines, &mut self.queue);
        }
    }

    /// Requests past their deadline, with whom they were asked of and when; each goes
    /// back in the queue for its next source.
    pub(crate) fn expire(&mut self, now: Timestamp) -> Vec<(InvItem, NodeId, Timestamp)> {
        let mut expired = Vec::new();
        while let Some(&(deadline, item)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            let want = self.wants.get_mut(&item).expect("deadlines are of wants");
            if let Some(asked) = want.asked.take() {
                expired.push((item, asked.peer, asked.at));
            }
            self.queue.insert((want.priority, item));
        }
        expired
    }

    /// `peer` is gone: forget it as a source, and ask someone else for what it owed.
    pub(crate) fn peer_gone(&mut self, peer: NodeId) {
        for (item, want) in &mut self.wants {
            drop_source(want, *item, peer, &mut self.deadlines, &mut self.queue);
        }
    }

    fn unlist(&mut self, item: &InvItem, want: &Want) {
        match want.asked {
            Some(asked) => self.deadlines.remove(&(asked.deadline, *item)),
            None => self.queue.remove(&(want.priority, *item)),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tabchain_core::Hash;

    fn id(n: u8) -> NodeId {
        NodeId([n; 16])
    }

    fn item(n: u8) -> InvItem {
        InvItem::Block(Hash([n; 32]))
    }

    fn free(slots: &[(u8, usize)]) -> BTreeMap<NodeId, usize> {
        slots.iter().map(|(n, s)| (id(*n), *s)).collect()
    }

    #[test]
    fn a_request_moves_to_the_next_source_on_timeout_and_notfound() {
        let mut f = Fetcher::default();
        assert!(f.want(item(1), id(1), 5));
        assert!(f.want(item(1), id(2), 5), "a new source may be free");
        assert!(!f.want(item(1), id(2), 5), "a known source is nothing new");
        f.want(item(1), id(3), 5);
        let mut slots = free(&[(1, 1), (2, 1), (3, 1)]);
        let a = f.assign(Timestamp(0), |_| 100, &mut slots);
        // Equal free slots: the first announcer is asked.
        assert_eq!(a.requests[&id(1)], vec![item(1)]);
        assert_eq!(f.next_deadline(), Some(Timestamp(100)));
        assert_eq!(f.expire(Timestamp(99)), vec![]);
        assert_eq!(
            f.expire(Timestamp(100)),
            vec![(item(1), id(1), Timestamp(0))]
        );
        let a = f.assign(Timestamp(100), |_| 100, &mut slots);
        assert_eq!(a.requests[&id(2)], vec![item(1)]);
        f.not_found(&item(1), id(2));
        let a = f.assign(Timestamp(150), |_| 100, &mut slots);
        assert_eq!(a.requests[&id(3)], vec![item(1)]);
        f.peer_gone(id(3));
        let mut slots = free(&[(1, 1), (2, 1)]);
        let a = f.assign(Timestamp(160), |_| 100, &mut slots);
        assert_eq!(a.abandoned, vec![item(1)]);
        assert!(!f.wants.contains_key(&item(1)));
    }

    #[test]
    fn downloads_spread_over_sources_in_priority_order() {
        let mut f = Fetcher::default();
        for n in (1..=6).rev() {
            f.want(item(n), id(1), u64::from(n));
            f.want(item(n), id(2), u64::from(n));
        }
        let mut slots = free(&[(1, 2), (2, 2)]);
        let a = f.assign(Timestamp(0), |_| 100, &mut slots);
        assert_eq!(a.requests[&id(1)], vec![item(1), item(3)]);
        assert_eq!(a.requests[&id(2)], vec![item(2), item(4)]);
        f.received(&item(1));
        assert!(!f.wants.contains_key(&item(1)));
        assert!(f.wants.contains_key(&item(5)));
    }
}
