//! The written-range set: which global ranges of a region have been written
//! to its shadow. Reads consult it to choose the shadow or the inputs for
//! each byte ([`RangeSet::within`]); the commit consults it to copy in only
//! the bytes never written ([`RangeSet::gaps`]).
//!
//! [`RangeSet`] is the plain data structure (disjoint, non-adjacent ranges
//! in a `BTreeMap`, start -> end); [`Written`] shares it between the threads
//! of a parallel run, with a flag that lets reads of a region nothing has
//! been written to skip the lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A set of disjoint, non-adjacent, non-empty ranges `[start, end)` of
/// global offsets, merged as they are added.
#[derive(Debug, Default)]
pub(super) struct RangeSet(BTreeMap<u64, u64>);

impl RangeSet {
    /// Adds `[s, e)`, merging it with the ranges it overlaps or touches. An
    /// empty range adds nothing.
    pub(super) fn insert(&mut self, mut s: u64, mut e: u64) {
        if s >= e {
            return;
        }
        let w = &mut self.0;
        if let Some((&ps, &pe)) = w.range(..=s).next_back() {
            if pe >= s {
                s = ps;
                e = e.max(pe);
                w.remove(&ps);
            }
        }
        while let Some((&ns, &ne)) = w.range(s..).next() {
            if ns > e {
                break;
            }
            e = e.max(ne);
            w.remove(&ns);
        }
        w.insert(s, e);
    }

    /// The ranges of the set that overlap `[start, end)`, clipped to it, in
    /// order (none for an empty window).
    pub(super) fn within(&self, start: u64, end: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let w = &self.0;
        let first = w
            .range(..=start)
            .next_back()
            .filter(|&(_, &e)| e > start)
            .map(|(&s, &e)| (s, e));
        let rest = w
            .range(start.saturating_add(1)..end.max(start.saturating_add(1)))
            .map(|(&s, &e)| (s, e));
        first
            .into_iter()
            .chain(rest)
            .map(move |(s, e)| (s.max(start), e.min(end)))
            .filter(|(s, e)| s < e)
    }

    /// The ranges of `[start, end)` not in the set, in order.
    pub(super) fn gaps(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut at = start;
        for (s, e) in self.within(start, end) {
            if at < s {
                gaps.push((at, s));
            }
            at = e;
        }
        if at < end {
            gaps.push((at, end));
        }
        gaps
    }
}

/// A [`RangeSet`] shared by the threads that write one region.
#[derive(Debug, Default)]
pub(super) struct Written {
    set: Mutex<RangeSet>,
    /// Whether `set` is not empty (a read checks this first).
    any: AtomicBool,
}

impl Written {
    /// An empty set.
    pub(super) fn new() -> Written {
        Written::default()
    }

    fn lock(&self) -> MutexGuard<'_, RangeSet> {
        // A panic elsewhere cannot leave the map half-updated in a way that
        // matters here: `insert` keeps it a valid set at every step.
        self.set.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `ranges`.
    pub(super) fn record(&self, ranges: impl IntoIterator<Item = (u64, u64)>) {
        let mut w = self.lock();
        for (a, b) in ranges {
            w.insert(a, b);
        }
        self.any.store(true, Ordering::Release);
    }

    /// The set, locked, or `None` if nothing was ever written.
    pub(super) fn lock_if_any(&self) -> Option<MutexGuard<'_, RangeSet>> {
        self.any.load(Ordering::Acquire).then(|| self.lock())
    }

    /// As [`RangeSet::gaps`].
    pub(super) fn gaps(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        self.lock().gaps(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runs of `want` in `model[start..end]`, as ranges.
    fn runs(model: &[bool], start: u64, end: u64, want: bool) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut i = start;
        while i < end {
            if model[i as usize] == want {
                let s = i;
                while i < end && model[i as usize] == want {
                    i += 1;
                }
                out.push((s, i));
            } else {
                i += 1;
            }
        }
        out
    }

    #[test]
    fn merges_overlapping_and_touching_ranges() {
        let mut set = RangeSet::default();
        set.insert(10, 20);
        set.insert(30, 40);
        set.insert(20, 25); // touches the first
        set.insert(5, 5); // empty: nothing
        assert_eq!(set.within(0, 100).collect::<Vec<_>>(), [(10, 25), (30, 40)]);
        set.insert(24, 31); // bridges both
        assert_eq!(set.within(0, 100).collect::<Vec<_>>(), [(10, 40)]);
        assert_eq!(set.within(12, 15).collect::<Vec<_>>(), [(12, 15)]);
        assert_eq!(set.within(40, 50).count(), 0);
        assert_eq!(set.gaps(0, 100), [(0, 10), (40, 100)]);
        assert_eq!(set.gaps(10, 40), []);
        assert_eq!(set.gaps(7, 7), []);
    }

    /// Random inserts, checked after each against a byte-per-offset model:
    /// the ranges stay disjoint, sorted and non-adjacent, and `within` and
    /// `gaps` of random windows are exactly the model's runs.
    #[test]
    fn random_inserts_match_a_byte_model() {
        let mut seed = 0x5eed_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        const N: u64 = 500;
        for _ in 0..50 {
            let mut set = RangeSet::default();
            let mut model = vec![false; N as usize];
            for _ in 0..40 {
                let s = next(N);
                let e = (s + next(40)).min(N);
                set.insert(s, e);
                model[s as usize..e as usize].fill(true);
                let all: Vec<_> = set.0.iter().map(|(&s, &e)| (s, e)).collect();
                for pair in all.windows(2) {
                    assert!(pair[0].1 < pair[1].0, "disjoint, non-adjacent: {all:?}");
                }
                assert!(all.iter().all(|&(s, e)| s < e), "{all:?}");
                let a = next(N + 1);
                let b = a + next(N + 1 - a);
                assert_eq!(
                    set.within(a, b).collect::<Vec<_>>(),
                    runs(&model, a, b, true),
                    "within({a}, {b})"
                );
                assert_eq!(set.gaps(a, b), runs(&model, a, b, false), "gaps({a}, {b})");
            }
        }
    }

    #[test]
    fn shared_set_reports_nothing_until_written() {
        let w = Written::new();
        assert!(w.lock_if_any().is_none());
        assert_eq!(w.gaps(0, 10), [(0, 10)]);
        w.record([(2, 4), (4, 6)]);
        let set = w.lock_if_any().expect("written");
        assert_eq!(set.within(0, 10).collect::<Vec<_>>(), [(2, 6)]);
        drop(set);
        assert_eq!(w.gaps(0, 10), [(0, 2), (6, 10)]);
    }
}
