//! A set that forgets its oldest entries past a capacity: for what a node remembers
//! only to save work (what a peer was told, which payments' signatures were checked),
//! where forgetting costs doing that work again, never a wrong answer.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

#[derive(Debug, Clone)]
pub struct RecentSet<T> {
    set: HashSet<T>,
    order: VecDeque<T>,
    capacity: usize,
}

impl<T: Copy + Eq + Hash> RecentSet<T> {
    pub fn new(capacity: usize) -> RecentSet<T> {
        RecentSet {
            set: HashSet::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    pub fn contains(&self, item: &T) -> bool {
        self.set.contains(item)
    }

    /// Adds `item`; false if it was there already.
    pub fn insert(&mut self, item: T) -> bool {
        if !self.set.insert(item) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.set.remove(&oldest);
            }
        }
        self.order.push_back(item);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_forgets_the_oldest() {
        let mut k = RecentSet::new(2);
        assert!(k.insert(1));
        assert!(!k.insert(1));
        k.insert(2);
        k.insert(3);
        assert!(!k.contains(&1));
        assert!(k.contains(&3));
    }
}
