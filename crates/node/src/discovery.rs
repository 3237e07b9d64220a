//! Discovery: the ids of nodes this node has heard of (from the signaling server's list
//! and from peers' `Peers` replies), when each may be dialled again, who is banned, and
//! the dials under way.

use std::collections::{BTreeMap, BTreeSet};

use tabchain_core::{NodeId, Timestamp};

use crate::random::Rng;

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Not dialled (or, if banned, not accepted) before this.
    retry_at: Timestamp,
    banned: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct AddressBook {
    own: NodeId,
    known: BTreeMap<NodeId, Entry>,
    capacity: usize,
    /// Dials under way: each ends with the link opening or the driver's `DialFailed`
    /// (the link manager gives up on a dial at its deadline).
    dialing: BTreeSet<NodeId>,
}

impl AddressBook {
    pub(crate) fn new(own: NodeId, capacity: usize) -> AddressBook {
        AddressBook {
            own,
            known: BTreeMap::new(),
            capacity,
            dialing: BTreeSet::new(),
        }
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.known.keys().copied()
    }

    /// Learns of `id`. When full, a random entry that is neither banned nor waiting
    /// goes, so a peer listing junk ids cannot push out the bans.
    pub(crate) fn add(&mut self, id: NodeId, now: Timestamp, rng: &mut Rng) {
        if id == self.own || self.known.contains_key(&id) {
            return;
        }
        if self.known.len() >= self.capacity {
            let evictable: Vec<NodeId> = self
                .known
                .iter()
                .filter(|(_, e)| !e.banned && e.retry_at <= now)
                .map(|(id, _)| *id)
                .collect();
            if evictable.is_empty() {
                return;
            }
            self.known.remove(&evictable[rng.index(evictable.len())]);
        }
        self.known.insert(
            id,
            Entry {
                retry_at: now,
                banned: false,
            },
        );
    }

    pub(crate) fn knows(&self, id: &NodeId) -> bool {
        *id == self.own || self.known.contains_key(id)
    }

    pub(crate) fn is_banned(&self, id: &NodeId, now: Timestamp) -> bool {
        self.known
            .get(id)
            .is_some_and(|e| e.banned && e.retry_at > now)
    }

    /// The ids banned at `now`.
    pub(crate) fn banned(&self, now: Timestamp) -> impl Iterator<Item = &NodeId> + '_ {
        (self.known.iter())
            .filter(move |(_, e)| e.banned && e.retry_at > now)
            .map(|(id, _)| id)
    }

    /// Not to be dialled again before `until`.
    pub(crate) fn back_off(&mut self, id: NodeId, until: Timestamp) {
        if let Some(entry) = self.known.get_mut(&id) {
            entry.retry_at = entry.retry_at.max(until);
        }
    }

    /// Refused and not dialled before `until`. A ban is kept even past the capacity.
    pub(crate) fn ban(&mut self, id: NodeId, until: Timestamp) {
        let entry = self.known.entry(id).or_insert(Entry {
            retry_at: until,
            banned: true,
        });
        entry.retry_at = entry.retry_at.max(until);
        entry.banned = true;
    }

    /// Known ids that may be dialled now, leaving out `linked` ones and dials under way.
    pub(crate) fn candidates(
        &self,
        now: Timestamp,
        linked: impl Fn(&NodeId) -> bool,
    ) -> Vec<NodeId> {
        self.known
            .iter()
            .filter(|(id, e)| e.retry_at <= now && !linked(id) && !self.dialing.contains(id))
            .map(|(id, _)| *id)
            .collect()
    }

    pub(crate) fn dialing(&self) -> usize {
        self.dialing.len()
    }

    pub(crate) fn dial(&mut self, id: NodeId) {
        self.dialing.insert(id);
    }

    /// The dial to `id` ended (the link opened, or the driver gave up).
    pub(crate) fn dial_done(&mut self, id: &NodeId) -> bool {
        self.dialing.remove(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> NodeId {
        NodeId([n; 16])
    }

    #[test]
    fn backoff_bans_and_dials_limit_the_candidates() {
        let mut rng = Rng::new(1);
        let mut book = AddressBook::new(id(0), 3);
        for n in 0..=3 {
            book.add(id(n), Timestamp(0), &mut rng);
        }
        assert_eq!(book.ids().count(), 3, "never itself");
        book.back_off(id(1), Timestamp(10));
        book.ban(id(2), Timestamp(100));
        book.dial(id(3));
        assert!(book.candidates(Timestamp(0), |_| false).is_empty());
        assert!(book.dial_done(&id(3)));
        assert_eq!(
            book.candidates(Timestamp(10), |_| false),
            vec![id(1), id(3)]
        );
        assert_eq!(book.candidates(Timestamp(10), |i| *i == id(1)), vec![id(3)]);
        assert!(book.is_banned(&id(2), Timestamp(99)));
        assert!(!book.is_banned(&id(2), Timestamp(100)));
        assert_eq!(book.banned(Timestamp(99)).collect::<Vec<_>>(), [&id(2)]);
        assert_eq!(book.banned(Timestamp(100)).count(), 0);
        // Full: a new id replaces an evictable one, never the ban.
        book.add(id(4), Timestamp(50), &mut rng);
        assert_eq!(book.ids().count(), 3);
        assert!(book.is_banned(&id(2), Timestamp(50)));
    }
}
