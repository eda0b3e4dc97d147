//! The replay cache: refuses a signed request whose signing string was already accepted inside
//! its time window (409 `Duplicate request`).
//!
//! Keyed on SHA-256 of the public key and the signing string (computed by verify), never on the
//! signature bytes, so a second valid signature over the same string is still a duplicate. An
//! entry lives until the request it stands for would have expired (`timestamp + window`); expired
//! entries are swept incrementally on every insert (backward-shift deletion keeps probe runs
//! intact) and in full before the cache declares itself full (429).
//!
//! Fixed capacity, preallocated; owned by the sequencer thread alone, so no lock: the sequencer
//! sees requests in arrival order, and two copies of one request in flight are told apart here.
//! Rebuilt from the journal at start-up (each record keeps its digest, timestamp and window).

/// Why a request did not pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// Seen inside its window.
    Duplicate,
    /// No room for another live entry.
    Full,
}

#[derive(Clone, Copy, Default)]
struct Entry {
    digest_low: u64,
    digest_high: u64,
    /// Unix ms after which the entry may go; 0 marks an empty slot.
    expires_ms: u64,
}

/// Slots swept per insert: amortised cleaning that stays ahead of the insert rate.
const SWEEP_PER_INSERT: usize = 4;

/// The cache.
pub struct ReplayCache {
    entries: Box<[Entry]>,
    mask: usize,
    occupied: usize,
    entries_max: usize,
    sweep_cursor: usize,
}

impl ReplayCache {
    /// A cache holding up to `entries_max` live entries (the table is at most half full).
    pub fn with_entries_max(entries_max: usize) -> ReplayCache {
        let slots = (entries_max.max(4) * 2).next_power_of_two();
        ReplayCache {
            entries: vec![Entry::default(); slots].into_boxed_slice(),
            mask: slots - 1,
            occupied: 0,
            entries_max,
            sweep_cursor: 0,
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
        digest_low as usize & self.mask
    }

    /// Admits a request seen at `now_ms` that expires at `expires_ms`, or says why not.
    pub fn admit(
        &mut self,
        digest: &[u8; 32],
        expires_ms: u64,
        now_ms: u64,
    ) -> Result<(), ReplayError> {
        assert!(expires_ms > 0);
        let (low, high) = Self::split(digest);
        self.sweep(now_ms, SWEEP_PER_INSERT);
        let mut slot = self.home(low);
        loop {
            let entry = &mut self.entries[slot];
            if entry.expires_ms == 0 {
                break;
            }
            if entry.digest_low == low && entry.digest_high == high {
                if entry.expires_ms >= now_ms {
                    return Err(ReplayError::Duplicate);
                }
                entry.expires_ms = expires_ms;
                return Ok(());
            }
            slot = (slot + 1) & self.mask;
        }
        if self.occupied >= self.entries_max {
            self.sweep(now_ms, self.entries.len());
            if self.occupied >= self.entries_max {
                return Err(ReplayError::Full);
            }
            // The sweep may have moved entries: find the empty slot again.
            return self.admit(digest, expires_ms, now_ms);
        }
        self.entries[slot] = Entry { digest_low: low, digest_high: high, expires_ms };
        self.occupied += 1;
        Ok(())
    }

    /// Removes expired entries among the next `slots` slots.
    pub fn sweep(&mut self, now_ms: u64, slots: usize) {
        for _ in 0..slots.min(self.entries.len()) {
            let slot = self.sweep_cursor;
            let entry = self.entries[slot];
            if entry.expires_ms != 0 && entry.expires_ms < now_ms {
                self.remove_at(slot);
                // The slot may now hold a shifted entry: look at it again next time round.
            } else {
                self.sweep_cursor = (slot + 1) & self.mask;
            }
        }
    }

    fn remove_at(&mut self, mut hole: usize) {
        self.occupied -= 1;
        let mut slot = (hole + 1) & self.mask;
        while self.entries[slot].expires_ms != 0 {
            let home = self.home(self.entries[slot].digest_low);
            let distance_to_slot = slot.wrapping_sub(home) & self.mask;
            let distance_to_hole = hole.wrapping_sub(home) & self.mask;
            if distance_to_hole < distance_to_slot {
                self.entries[hole] = self.entries[slot];
                hole = slot;
            }
            slot = (slot + 1) & self.mask;
        }
        self.entries[hole] = Entry::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u64) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        // Colliding home slots for small n, distinct digests.
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
        // After expiry the same string is new again (it would be refused as expired anyway).
        assert_eq!(cache.admit(&digest(1), 3_000, 1_001), Ok(()));
        assert_eq!(cache.admit(&digest(1), 3_000, 1_002), Err(ReplayError::Duplicate));
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
}
