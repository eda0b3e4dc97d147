//! The replay cache: refuses a signed request whose signing string was already accepted inside
//! its time window (409 `Duplicate request`).
//!
//! Keyed on SHA-256 of the public key and the signing string (computed by verify), never on the
//! signature bytes, so a second valid signature over the same string is still a duplicate. The
//! digest covers `timestamp` and `window`, so every copy of one request carries one expiry
//! (`timestamp + window`).
//!
//! **Expired is never absent.** The cache keeps its own clock: the latest `now_ms` it was shown,
//! so its time never goes back even when the wall clock does. A request whose expiry is behind
//! that clock is refused as [`ReplayError::Expired`] before the table is looked at, and an entry
//! is removed only once its expiry is behind that same clock. So once an entry is gone, every
//! later copy of its request is refused as expired, and while any copy could still be admitted
//! the entry is there to refuse it as a duplicate: at most one copy is ever admitted, whatever
//! the lag between verify's window check and this one. (Issue 14: the cache used to treat an
//! entry past its expiry as absent, so copies that verify passed just before the end of their
//! window all ran.)
//!
//! Expired entries are swept incrementally on every insert (backward-shift deletion keeps probe
//! runs intact) and in full before the cache declares itself full (429). Fixed capacity,
//! preallocated; owned by the sequencer thread alone, so no lock: the sequencer sees requests in
//! arrival order, and two copies of one request in flight are told apart here. Rebuilt from the
//! journal at start-up (each record keeps its digest, timestamp and window).

/// Why a request did not pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// Its window has passed by the cache's clock (401 `Request has expired`).
    Expired,
    /// Seen inside its window.
    Duplicate,
    /// No room for another live entry.
    Full,
}

use crate::fixed::backward_shift;

#[derive(Clone, Copy, Default)]
struct Entry {
    digest_low: u64,
    digest_high: u64,
    /// Unix ms after which the entry may go; 0 marks an empty cell.
    expires_ms: u64,
}

/// A digest's home cell in a table of `mask + 1` cells (the digest is SHA-256: its low bits are
/// already uniform).
fn home_of(digest_low: u64, mask: usize) -> usize {
    digest_low as usize & mask
}

/// Cells swept per insert: amortised cleaning that stays ahead of the insert rate.
const SWEEP_PER_INSERT: usize = 4;

/// The cache.
pub struct ReplayCache {
    entries: Box<[Entry]>,
    mask: usize,
    occupied: usize,
    entries_max: usize,
    sweep_cursor: usize,
    /// The latest time the cache was shown, Unix ms: it decides expiry for lookups and sweeps
    /// alike, and never goes back.
    clock_ms: u64,
}

impl ReplayCache {
    /// A cache holding up to `entries_max` live entries (the table is at most half full).
    pub fn with_entries_max(entries_max: usize) -> ReplayCache {
        let cells = (entries_max.max(4) * 2).next_power_of_two();
        ReplayCache {
            entries: vec![Entry::default(); cells].into_boxed_slice(),
            mask: cells - 1,
            occupied: 0,
            entries_max,
            sweep_cursor: 0,
            clock_ms: 0,
        }
    }

    /// Entries held (live or not yet swept).
    pub fn len(&self) -> usize {
        self.occupied
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.occupied == 0
    }

    fn split(digest: &[u8; 32]) -> (u64, u64) {
        let low = u64::from_le_bytes(digest[0..8].try_into().unwrap());
        let high = u64::from_le_bytes(digest[8..16].try_into().unwrap());
        // 128 bits of SHA-256: collisions are not a practical concern.
        (low, high)
    }

    fn home(&self, digest_low: u64) -> usize {
        home_of(digest_low, self.mask)
    }

    /// The cache's clock: the latest `now_ms` it was shown.
    pub fn clock_ms(&self) -> u64 {
        self.clock_ms
    }

    /// Moves the cache's clock to `now_ms` unless it is already past it; returns the clock.
    fn advance_clock(&mut self, now_ms: u64) -> u64 {
        self.clock_ms = self.clock_ms.max(now_ms);
        self.clock_ms
    }

    /// Admits a request seen at `now_ms` that expires at `expires_ms` (its `timestamp + window`),
    /// or says why not. In time iff `expires_ms` is at or after the cache's clock.
    pub fn admit(
        &mut self,
        digest: &[u8; 32],
        expires_ms: u64,
        now_ms: u64,
    ) -> Result<(), ReplayError> {
        assert!(expires_ms > 0);
        let now_ms = self.advance_clock(now_ms);
        if expires_ms < now_ms {
            return Err(ReplayError::Expired);
        }
        let (low, high) = Self::split(digest);
        self.sweep(now_ms, SWEEP_PER_INSERT);
        let mut cell = self.home(low);
        loop {
            let entry = &self.entries[cell];
            if entry.expires_ms == 0 {
                break;
            }
            if entry.digest_low == low && entry.digest_high == high {
                // Not swept, so not behind the clock: still inside its window.
                debug_assert!(entry.expires_ms >= now_ms);
                return Err(ReplayError::Duplicate);
            }
            cell = (cell + 1) & self.mask;
        }
        if self.occupied >= self.entries_max {
            self.sweep(now_ms, self.entries.len());
            if self.occupied >= self.entries_max {
                return Err(ReplayError::Full);
            }
            // The sweep may have moved entries: find the empty cell again.
            return self.admit(digest, expires_ms, now_ms);
        }
        self.entries[cell] = Entry { digest_low: low, digest_high: high, expires_ms };
        self.occupied += 1;
        Ok(())
    }

    /// Removes the entries among the next `cells` cells whose expiry is behind the cache's clock
    /// (moved to `now_ms` first if that is later).
    pub fn sweep(&mut self, now_ms: u64, cells: usize) {
        let now_ms = self.advance_clock(now_ms);
        for _ in 0..cells.min(self.entries.len()) {
            let cell = self.sweep_cursor;
            let entry = self.entries[cell];
            if entry.expires_ms != 0 && entry.expires_ms < now_ms {
                self.remove_at(cell);
                // The cell may now hold a shifted entry: look at it again next time round.
            } else {
                self.sweep_cursor = (cell + 1) & self.mask;
            }
        }
    }

    fn remove_at(&mut self, hole: usize) {
        self.occupied -= 1;
        let mask = self.mask;
        let home = |entry: &Entry| home_of(entry.digest_low, mask);
        let is_empty = |entry: &Entry| entry.expires_ms == 0;
        backward_shift(&mut self.entries, mask, hole, Entry::default(), is_empty, home);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u64) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        // Colliding home cells for small n, distinct digests.
        bytes[0..8].copy_from_slice(&(n << 40).to_le_bytes());
        bytes[8..16].copy_from_slice(&n.to_le_bytes());
        bytes
    }

    #[test]
    fn duplicates_inside_the_window_only() {
        let mut cache = ReplayCache::with_entries_max(16);
        assert_eq!(cache.admit(&digest(1), 1_000, 500), Ok(()));
        assert_eq!(cache.admit(&digest(1), 1_000, 900), Err(ReplayError::Duplicate));
        assert_eq!(cache.admit(&digest(2), 1_000, 900), Ok(()));
        // The last millisecond of the window is still inside it.
        assert_eq!(cache.admit(&digest(1), 1_000, 1_000), Err(ReplayError::Duplicate));
    }

    #[test]
    fn expired_is_never_absent() {
        let mut cache = ReplayCache::with_entries_max(16);
        assert_eq!(cache.admit(&digest(1), 1_000, 500), Ok(()));
        // Never admitted and past its window: refused, not admitted late.
        assert_eq!(cache.admit(&digest(3), 1_000, 1_001), Err(ReplayError::Expired));
        // One millisecond past the window: expired, not new again.
        assert_eq!(cache.admit(&digest(1), 1_000, 1_001), Err(ReplayError::Expired));
        assert_eq!(cache.admit(&digest(1), 1_000, 1_002), Err(ReplayError::Expired));
        // Swept: the entry is gone, and every copy is still refused.
        cache.sweep(60_000, usize::MAX);
        assert!(cache.is_empty());
        assert_eq!(cache.admit(&digest(1), 1_000, 60_000), Err(ReplayError::Expired));
        // A caller whose clock is behind the cache's is judged by the cache's.
        assert_eq!(cache.admit(&digest(1), 1_000, 900), Err(ReplayError::Expired));
        assert_eq!(cache.clock_ms(), 60_000);
    }

    #[test]
    fn full_means_full_until_entries_expire() {
        let mut cache = ReplayCache::with_entries_max(4);
        for n in 0..4 {
            assert_eq!(cache.admit(&digest(n), 100 + n, 10), Ok(()));
        }
        assert_eq!(cache.admit(&digest(9), 1_000, 10), Err(ReplayError::Full));
        // Two expire at 102: room again, and the survivors are still found after the shifts.
        assert_eq!(cache.admit(&digest(9), 1_000, 102), Ok(()));
        assert_eq!(cache.admit(&digest(2), 1_000, 102), Err(ReplayError::Duplicate));
        assert_eq!(cache.admit(&digest(3), 1_000, 102), Err(ReplayError::Duplicate));
        assert!(cache.len() <= 4);
    }

    #[test]
    fn sweeping_never_loses_a_live_entry() {
        let mut cache = ReplayCache::with_entries_max(4096);
        for round in 0..20u64 {
            for n in 0..200u64 {
                let id = round * 1_000 + n;
                // Half of each round expires quickly.
                let expires = if n % 2 == 0 { round * 10 + 5 } else { 1_000_000 };
                assert_eq!(cache.admit(&digest(id), expires, round * 10), Ok(()));
            }
            for n in (1..200u64).step_by(2) {
                let id = round * 1_000 + n;
                assert_eq!(
                    cache.admit(&digest(id), 1_000_000, round * 10 + 6),
                    Err(ReplayError::Duplicate)
                );
            }
        }
    }

    /// Half the model's requests share home cell 0, the other half spread over the table, so
    /// probe runs both collide and wrap past the last cell, and deletion moves some entries and
    /// leaves others.
    fn model_digest(request: u64) -> [u8; 32] {
        if request.is_multiple_of(2) {
            return digest(request);
        }
        let mut bytes = digest(request);
        bytes[0..8].copy_from_slice(&request.wrapping_mul(crate::fixed::FIBONACCI).to_le_bytes());
        bytes
    }

    /// A copy of one of the model's requests reaching the cache at `now_ms`.
    #[derive(Clone, Copy, Debug)]
    struct Arrival {
        request: u64,
        now_ms: u64,
    }

    fn copies() -> impl proptest::strategy::Strategy<Value = Vec<Arrival>> {
        use proptest::prelude::*;
        // Twelve requests, arrival times that wander and jump back, a cache that fills.
        proptest::collection::vec(
            (0u64..12, 0u64..4_000).prop_map(|(request, now_ms)| Arrival { request, now_ms }),
            1..400,
        )
    }

    proptest::proptest! {
        /// The cache against a plain model: a copy is expired iff its expiry is behind the
        /// latest time seen, a duplicate iff its request was admitted before, full iff the
        /// live entries fill the cache; so no request is ever admitted twice.
        #[test]
        fn matches_a_model_and_never_admits_twice(copies in copies(), entries_max in 1usize..8) {
            let mut cache = ReplayCache::with_entries_max(entries_max);
            let expiry = |request: u64| 500 + request * 250;
            let mut admitted = std::collections::BTreeSet::new();
            let mut clock_ms = 0;
            for copy in copies {
                clock_ms = u64::max(clock_ms, copy.now_ms);
                let expires_ms = expiry(copy.request);
                let live = admitted.iter().filter(|&&request| expiry(request) >= clock_ms).count();
                let expected = if expires_ms < clock_ms {
                    Err(ReplayError::Expired)
                } else if admitted.contains(&copy.request) {
                    Err(ReplayError::Duplicate)
                } else if live >= entries_max {
                    Err(ReplayError::Full)
                } else {
                    Ok(())
                };
                let got = cache.admit(&model_digest(copy.request), expires_ms, copy.now_ms);
                proptest::prop_assert_eq!(got, expected, "{:?} at clock {}", copy, clock_ms);
                if got.is_ok() {
                    proptest::prop_assert!(admitted.insert(copy.request), "admitted twice");
                }
                proptest::prop_assert!(cache.len() <= entries_max);
            }
        }
    }
}
