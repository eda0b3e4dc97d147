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
//! **Expiry is amortised, never a sweep of the table.** Each entry also sits in a time wheel:
//! [`BUCKETS`] buckets of [`BUCKET_MS`], an entry in the bucket of its expiry. Every admission
//! empties at most [`DRAIN_PER_ADMIT`] entries from buckets the clock has wholly passed, which
//! stays ahead of the insert rate since every entry expires within about a minute; only a full
//! cache drains further (every passed bucket, then the expired entries of the current one)
//! before it answers [`ReplayError::Full`], so "full" means full of live entries. An expiry
//! beyond the wheel's span (a clock that jumped) waits in its bucket for a later lap. The work
//! is proportional to the entries inserted, never to the table's size.
//!
//! Fixed capacity, preallocated: a table of (digest low half, node) cells at most half full
//! (backward-shift deletion keeps probe runs intact), and `entries_max` nodes holding the rest.
//! Owned by the sequencer thread alone, so no lock: the sequencer sees requests in arrival
//! order, and two copies of one request in flight are told apart here. Rebuilt from the journal
//! at start-up (each record keeps its digest, timestamp and window).
//!
//! Who may hold entries is the sequencer's decision: a key with no account gets none (nothing it
//! signs can change state), and the per-key rate limit is taken before an entry is made.
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

/// Width of one wheel bucket.
pub const BUCKET_MS: u64 = 256;
/// Buckets in the wheel: 131 s, more than the longest window plus the clock skew allowed ahead.
pub const BUCKETS: usize = 512;
/// Entries a single admission may drain from passed buckets.
pub const DRAIN_PER_ADMIT: usize = 8;

const NONE: u32 = u32::MAX;

/// A table cell: the low half of a digest and the node holding the rest.
#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Cell {
    digest_low: u64,
    /// `NONE` marks an empty cell.
    node: u32,
}

const EMPTY_CELL: Cell = Cell { digest_low: 0, node: NONE };

/// One entry, linked into its expiry bucket (or, free, into the free list).
#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Node {
    digest_low: u64,
    digest_high: u64,
    /// Unix ms after which the entry may go.
    expires_ms: u64,
    next: u32,
}

/// A digest's home cell in a table of `mask + 1` cells (the digest is SHA-256: its low bits are
/// already uniform).
fn home_of(digest_low: u64, mask: usize) -> usize {
    digest_low as usize & mask
}

/// The wheel slot of an absolute bucket number.
fn slot_of(bucket: u64) -> usize {
    (bucket % BUCKETS as u64) as usize
}

/// The cache.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct ReplayCache {
    cells: Box<[Cell]>,
    mask: usize,
    nodes: Box<[Node]>,
    free: u32,
    /// Each slot's list of nodes: those whose `expires_ms / BUCKET_MS` falls in it.
    heads: Box<[u32]>,
    occupied: usize,
    entries_max: usize,
    /// The absolute bucket drained next: every bucket before it holds no expired entry.
    drain_bucket: u64,
    /// Nodes of `drain_bucket` kept for a later lap while it is drained.
    kept: u32,
    /// The latest time the cache was shown, Unix ms: it decides expiry for lookups and drains
    /// alike, and never goes back.
    clock_ms: u64,
}

impl ReplayCache {
    /// A cache holding up to `entries_max` live entries (the table is at most half full).
    pub fn with_entries_max(entries_max: usize) -> ReplayCache {
        let cells = (entries_max.max(4) * 2).next_power_of_two();
        let node_count = entries_max.max(1);
        assert!(node_count < NONE as usize, "replay cache too large");
        let nodes = (0..node_count)
            .map(|index| Node {
                digest_low: 0,
                digest_high: 0,
                expires_ms: 0,
                next: if index + 1 < node_count { index as u32 + 1 } else { NONE },
            })
            .collect();
        ReplayCache {
            cells: vec![EMPTY_CELL; cells].into_boxed_slice(),
            mask: cells - 1,
            nodes,
            free: 0,
            heads: vec![NONE; BUCKETS].into_boxed_slice(),
            occupied: 0,
            entries_max,
            drain_bucket: 0,
            kept: NONE,
            clock_ms: 0,
        }
    }

    /// Entries held (live or not yet drained).
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
        self.drain_passed(DRAIN_PER_ADMIT);
        if self.contains(low, high) {
            // Not drained, so not behind the clock: still inside its window.
            return Err(ReplayError::Duplicate);
        }
        if self.occupied >= self.entries_max {
            self.drain_passed(usize::MAX);
            self.drain_current();
            if self.occupied >= self.entries_max {
                return Err(ReplayError::Full);
            }
        }
        let node = self.free;
        self.free = self.nodes[node as usize].next;
        let slot = slot_of(expires_ms / BUCKET_MS);
        self.nodes[node as usize] =
            Node { digest_low: low, digest_high: high, expires_ms, next: self.heads[slot] };
        self.heads[slot] = node;
        let mut cell = home_of(low, self.mask);
        while self.cells[cell].node != NONE {
            cell = (cell + 1) & self.mask;
        }
        self.cells[cell] = Cell { digest_low: low, node };
        self.occupied += 1;
        Ok(())
    }

    fn contains(&self, low: u64, high: u64) -> bool {
        let mut cell = home_of(low, self.mask);
        loop {
            let Cell { digest_low, node } = self.cells[cell];
            if node == NONE {
                return false;
            }
            if digest_low == low && self.nodes[node as usize].digest_high == high {
                debug_assert!(self.nodes[node as usize].expires_ms >= self.clock_ms);
                return true;
            }
            cell = (cell + 1) & self.mask;
        }
    }

    /// Removes every entry whose expiry is behind the cache's clock (moved to `now_ms` first if
    /// that is later). Tests only: admissions drain a little at a time.
    #[cfg(test)]
    pub fn expire(&mut self, now_ms: u64) {
        self.advance_clock(now_ms);
        self.drain_passed(usize::MAX);
        self.drain_current();
    }

    /// Drains up to `budget` nodes (and any empty buckets on the way) from the buckets the clock
    /// has wholly passed.
    fn drain_passed(&mut self, mut budget: usize) {
        let current = self.clock_ms / BUCKET_MS;
        if current > self.drain_bucket + BUCKETS as u64 {
            // A jump of more than a lap: every slot is passed, and one lap visits them all.
            self.finish_bucket();
            self.drain_bucket = current - BUCKETS as u64;
        }
        while self.drain_bucket < current && budget > 0 {
            let slot = slot_of(self.drain_bucket);
            let node = self.heads[slot];
            if node == NONE {
                self.finish_bucket();
                self.drain_bucket += 1;
                continue;
            }
            budget -= 1;
            self.heads[slot] = self.nodes[node as usize].next;
            if self.nodes[node as usize].expires_ms < self.clock_ms {
                self.release(node);
            } else {
                // A later lap's entry (an expiry more than a lap ahead).
                self.nodes[node as usize].next = self.kept;
                self.kept = node;
            }
        }
    }

    /// Puts the nodes kept for a later lap back into the slot being drained.
    fn finish_bucket(&mut self) {
        let slot = slot_of(self.drain_bucket);
        while self.kept != NONE {
            let node = self.kept;
            self.kept = self.nodes[node as usize].next;
            self.nodes[node as usize].next = self.heads[slot];
            self.heads[slot] = node;
        }
    }

    /// Removes the expired entries of the bucket the clock is in: a full cache's last resort,
    /// once the passed buckets hold none.
    fn drain_current(&mut self) {
        let slot = slot_of(self.clock_ms / BUCKET_MS);
        let mut before = NONE;
        let mut node = self.heads[slot];
        while node != NONE {
            let next = self.nodes[node as usize].next;
            if self.nodes[node as usize].expires_ms < self.clock_ms {
                match before {
                    NONE => self.heads[slot] = next,
                    before => self.nodes[before as usize].next = next,
                }
                self.release(node);
            } else {
                before = node;
            }
            node = next;
        }
    }

    /// Takes an unlinked node's entry out of the table and frees the node.
    fn release(&mut self, node: u32) {
        let mut hole = home_of(self.nodes[node as usize].digest_low, self.mask);
        while self.cells[hole].node != node {
            debug_assert!(self.cells[hole].node != NONE, "a linked node is in the table");
            hole = (hole + 1) & self.mask;
        }
        let mask = self.mask;
        let home = |cell: &Cell| home_of(cell.digest_low, mask);
        let is_empty = |cell: &Cell| cell.node == NONE;
        backward_shift(&mut self.cells, mask, hole, EMPTY_CELL, is_empty, home);
        self.nodes[node as usize].next = self.free;
        self.free = node;
        self.occupied -= 1;
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
        // Drained: the entry is gone, and every copy is still refused.
        cache.expire(60_000);
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

    /// As [`copies`], with times over several laps of the wheel and expiries more than a lap
    /// ahead of the clock.
    fn copies_over_laps() -> impl proptest::strategy::Strategy<Value = Vec<Arrival>> {
        use proptest::prelude::*;
        proptest::collection::vec(
            (0u64..12, 0u64..1_000_000).prop_map(|(request, now_ms)| Arrival { request, now_ms }),
            1..400,
        )
    }

    /// Replays `copies` against the cache and a plain model: a copy is expired iff its expiry is
    /// behind the latest time seen, a duplicate iff its request was admitted before, full iff
    /// the live entries fill the cache; so no request is ever admitted twice.
    fn check_against_model(
        copies: Vec<Arrival>,
        entries_max: usize,
        expiry: impl Fn(u64) -> u64,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        let mut cache = ReplayCache::with_entries_max(entries_max);
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
        cache.expire(clock_ms);
        let live = admitted.iter().filter(|&&request| expiry(request) >= clock_ms).count();
        proptest::prop_assert_eq!(cache.len(), live, "expire leaves exactly the live entries");
        Ok(())
    }

    proptest::proptest! {
        /// Over several laps of the wheel, with entries a lap or more ahead.
        #[test]
        fn matches_the_model_over_laps(copies in copies_over_laps(), entries_max in 1usize..8) {
            check_against_model(copies, entries_max, |request| 500 + request * 60_000)?;
        }

        /// The cache against a plain model: a copy is expired iff its expiry is behind the
        /// latest time seen, a duplicate iff its request was admitted before, full iff the
        /// live entries fill the cache; so no request is ever admitted twice.
        #[test]
        fn matches_a_model_and_never_admits_twice(copies in copies(), entries_max in 1usize..8) {
            check_against_model(copies, entries_max, |request| 500 + request * 250)?;
        }
    }
}
