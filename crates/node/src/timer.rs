//! Timer tables: each kind of timer a piece of state needs gets one slot holding when it
//! next fires. The earliest slot is what the owner reports to `poll_timeout`, and
//! `handle_timeout` fires the slots that are due (as quinn-proto's `TimerTable`).

use std::marker::PhantomData;

use tabchain_core::Timestamp;

/// An enum of timer kinds. `ALL` lists them in slot order (`ALL[k.index()] == k`); `N`
/// in [`Timers`] must equal its length.
pub(crate) trait TimerKind: Copy + 'static {
    const ALL: &'static [Self];
    fn index(self) -> usize;
}

#[derive(Debug, Clone)]
pub(crate) struct Timers<K, const N: usize> {
    at: [Option<Timestamp>; N],
    kind: PhantomData<K>,
}

impl<K: TimerKind, const N: usize> Timers<K, N> {
    pub(crate) fn new() -> Self {
        debug_assert_eq!(K::ALL.len(), N);
        Timers {
            at: [None; N],
            kind: PhantomData,
        }
    }

    pub(crate) fn set(&mut self, kind: K, at: Timestamp) {
        self.at[kind.index()] = Some(at);
    }

    pub(crate) fn stop(&mut self, kind: K) {
        self.at[kind.index()] = None;
    }

    /// When the earliest timer fires.
    pub(crate) fn next(&self) -> Option<Timestamp> {
        // Plain loops: this runs after every input, and simulations run unoptimised in
        // tests.
        let mut next: Option<Timestamp> = None;
        for slot in &self.at {
            if let Some(at) = *slot {
                if next.is_none_or(|n| at < n) {
                    next = Some(at);
                }
            }
        }
        next
    }

    /// Clears and returns one timer that is due at `now`, in slot order; call until
    /// `None`.
    pub(crate) fn pop_expired(&mut self, now: Timestamp) -> Option<K> {
        for (index, slot) in self.at.iter_mut().enumerate() {
            if slot.is_some_and(|at| at <= now) {
                *slot = None;
                return Some(K::ALL[index]);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        A,
        B,
    }

    impl TimerKind for Kind {
        const ALL: &'static [Kind] = &[Kind::A, Kind::B];
        fn index(self) -> usize {
            self as usize
        }
    }

    #[test]
    fn fires_due_timers_once_and_reports_the_earliest() {
        let mut timers = Timers::<Kind, 2>::new();
        assert_eq!(timers.next(), None);
        timers.set(Kind::B, Timestamp(5));
        timers.set(Kind::A, Timestamp(9));
        assert_eq!(timers.next(), Some(Timestamp(5)));
        assert_eq!(timers.pop_expired(Timestamp(4)), None);
        assert_eq!(timers.pop_expired(Timestamp(9)), Some(Kind::A));
        assert_eq!(timers.pop_expired(Timestamp(9)), Some(Kind::B));
        assert_eq!(timers.pop_expired(Timestamp(9)), None);
        timers.set(Kind::A, Timestamp(1));
        timers.stop(Kind::A);
        assert_eq!(timers.next(), None);
    }
}
