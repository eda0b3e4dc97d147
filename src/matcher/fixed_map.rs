//! Fixed-capacity maps from `u64` keys to `u32` values, for the matcher's hot path.
//!
//! Hand-written because they sit on the matcher's hot path (order id → pool slot, account and
//! client id → pool slot) where `std::collections::HashMap` would rehash, grow and allocate, and
//! its SipHash costs more than the whole lookup budget. Memory is allocated once at
//! construction; `insert` refuses past `entries_max` instead of growing.
//!
//! - [`FixedMap`], for any keys (client keys): linear probing from the key's Fibonacci hash
//!   over a power-of-two table at most half full, keys and values side by side in one slot,
//!   and backward-shift deletion so no tombstones accumulate.
//! - [`SequenceMap`], for keys that are sequence numbers (order ids): each key has one slot,
//!   its low bits, so the live keys fill a window of the table that stays in cache. Two live
//!   keys share a slot only when they differ by a multiple of the table size (at least twice
//!   `entries_max`); the later one then goes to a [`FixedMap`] beside it, sized for
//!   `entries_max` so it never refuses, though it rarely holds any. Removal empties the slot
//!   and shifts nothing: with linear probing, removing one of a run of consecutive ids (the
//!   common case: the newest orders) scanned the rest of the run.

const EMPTY: u32 = u32::MAX;

/// How far ahead of the key it inserts a [`SequenceMap`] prefetches: eight cache lines of
/// 16-byte entries, some 32 commands ahead of their use.
const PREFETCH_AHEAD_ENTRIES: usize = 32;

/// One slot: key and value side by side, so a probe touches one cache line, not two.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: u64,
    value: u32,
}

const EMPTY_ENTRY: Entry = Entry { key: 0, value: EMPTY };

/// An empty table for `entries_max` entries: a power of two, at most half full.
fn empty_table(entries_max: usize) -> Box<[Entry]> {
    vec![EMPTY_ENTRY; (entries_max.max(4) * 2).next_power_of_two()].into_boxed_slice()
}

/// The entries a table holds, in table order.
fn occupied(table: &[Entry]) -> impl Iterator<Item = (u64, u32)> + '_ {
    (table.iter()).filter(|entry| entry.value != EMPTY).map(|entry| (entry.key, entry.value))
}

/// A map of at most `entries_max` entries, allocated at construction.
pub struct FixedMap {
    entries: Box<[Entry]>,
    shift: u32,
    mask: usize,
    len: usize,
    entries_max: usize,
}

impl FixedMap {
    /// Allocates room for `entries_max` entries (the table is at most half full).
    pub fn with_entries_max(entries_max: usize) -> FixedMap {
        let entries = empty_table(entries_max);
        FixedMap {
            shift: 64 - entries.len().trailing_zeros(),
            mask: entries.len() - 1,
            entries,
            len: 0,
            entries_max,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// The value stored for `key`.
    #[inline]
    pub fn get(&self, key: u64) -> Option<u32> {
        let mut slot = self.home(key);
        loop {
            let entry = self.entries[slot];
            if entry.value == EMPTY {
                return None;
            }
            if entry.key == key {
                return Some(entry.value);
            }
            slot = (slot + 1) & self.mask;
        }
    }

    /// Inserts a new key. Returns `false` (and changes nothing) when full or the key is present.
    #[inline]
    pub fn insert(&mut self, key: u64, value: u32) -> bool {
        assert!(value != EMPTY, "u32::MAX is the empty marker");
        if self.len == self.entries_max {
            return false;
        }
        let mut slot = self.home(key);
        loop {
            let entry = &mut self.entries[slot];
            if entry.value == EMPTY {
                *entry = Entry { key, value };
                self.len += 1;
                return true;
            }
            if entry.key == key {
                return false;
            }
            slot = (slot + 1) & self.mask;
        }
    }

    /// Removes `key`, returning its value.
    #[inline]
    pub fn remove(&mut self, key: u64) -> Option<u32> {
        let mut slot = self.home(key);
        loop {
            let entry = self.entries[slot];
            if entry.value == EMPTY {
                return None;
            }
            if entry.key == key {
                self.backward_shift(slot);
                self.len -= 1;
                return Some(entry.value);
            }
            slot = (slot + 1) & self.mask;
        }
    }

    /// Closes the gap at `hole` by moving later entries of the probe run back, so lookups never
    /// stop early at a hole their key was probed past.
    fn backward_shift(&mut self, mut hole: usize) {
        let mut slot = (hole + 1) & self.mask;
        while self.entries[slot].value != EMPTY {
            let home = self.home(self.entries[slot].key);
            // The entry may move into the hole iff the hole lies on its probe path home..=slot.
            let distance_to_slot = slot.wrapping_sub(home) & self.mask;
            let distance_to_hole = hole.wrapping_sub(home) & self.mask;
            if distance_to_hole < distance_to_slot {
                self.entries[hole] = self.entries[slot];
                hole = slot;
            }
            slot = (slot + 1) & self.mask;
        }
        self.entries[hole].value = EMPTY;
    }

    /// Every entry, in table order (for invariant checks and hashing, not the hot path).
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        occupied(&self.entries)
    }
}

/// A map of at most `entries_max` entries whose keys are mostly increasing sequence numbers:
/// one slot per key at `key mod slots`, and a [`FixedMap`] for a key whose slot another live
/// key holds.
pub struct SequenceMap {
    slots: Box<[Entry]>,
    mask: usize,
    /// Keys whose slot was taken when they arrived.
    displaced: FixedMap,
    len: usize,
    entries_max: usize,
}

impl SequenceMap {
    /// Allocates room for `entries_max` entries, every one of which may be displaced.
    pub fn with_entries_max(entries_max: usize) -> SequenceMap {
        let slots = empty_table(entries_max);
        SequenceMap {
            mask: slots.len() - 1,
            slots,
            displaced: FixedMap::with_entries_max(entries_max),
            len: 0,
            entries_max,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the map holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The value stored for `key`.
    #[inline]
    pub fn get(&self, key: u64) -> Option<u32> {
        let entry = self.slots[key as usize & self.mask];
        if entry.value != EMPTY && entry.key == key {
            return Some(entry.value);
        }
        if self.displaced.is_empty() { None } else { self.displaced.get(key) }
    }

    /// Inserts a new key. Returns `false` (and changes nothing) when full or the key is present.
    #[inline]
    pub fn insert(&mut self, key: u64, value: u32) -> bool {
        assert!(value != EMPTY, "u32::MAX is the empty marker");
        if self.len == self.entries_max {
            return false;
        }
        // NB: keys arrive in ascending order, so the slots ahead are the next ones written; their
        // lines were last touched a whole table ago (out of every cache but the last).
        crate::cache::prefetch(&self.slots[(key as usize + PREFETCH_AHEAD_ENTRIES) & self.mask]);
        let entry = &mut self.slots[key as usize & self.mask];
        let inserted = if entry.value == EMPTY {
            // The key may still be displaced (its slot emptied after it arrived).
            if !self.displaced.is_empty() && self.displaced.get(key).is_some() {
                return false;
            }
            *entry = Entry { key, value };
            true
        } else {
            // `displaced.insert` refuses a key it holds; it never refuses for room, as it holds
            // `entries_max`.
            entry.key != key && self.displaced.insert(key, value)
        };
        self.len += usize::from(inserted);
        inserted
    }

    /// Removes `key`, returning its value.
    #[inline]
    pub fn remove(&mut self, key: u64) -> Option<u32> {
        let entry = &mut self.slots[key as usize & self.mask];
        let value = if entry.value != EMPTY && entry.key == key {
            let value = entry.value;
            entry.value = EMPTY;
            value
        } else if self.displaced.is_empty() {
            return None;
        } else {
            self.displaced.remove(key)?
        };
        self.len -= 1;
        Some(value)
    }

    /// Every entry, in no particular order (for invariant checks and hashing, not the hot path).
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        occupied(&self.slots).chain(self.displaced.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn refuses_past_capacity() {
        let mut map = FixedMap::with_entries_max(3);
        assert!(map.insert(1, 10));
        assert!(map.insert(2, 20));
        assert!(!map.insert(2, 21), "duplicate");
        assert!(map.insert(3, 30));
        assert!(!map.insert(4, 40), "full");
        assert_eq!(map.remove(2), Some(20));
        assert!(map.insert(4, 40));
        assert_eq!(map.get(4), Some(40));
        assert_eq!(map.get(2), None);
    }

    #[test]
    fn sequence_map_displaces_keys_that_share_a_slot() {
        // 4 entries: 8 slots, so keys 1, 9 and 17 share slot 1.
        let mut map = SequenceMap::with_entries_max(4);
        assert!(map.insert(1, 10));
        assert!(map.insert(9, 90));
        assert!(map.insert(17, 170));
        assert!(!map.insert(9, 91), "duplicate");
        assert!(map.insert(2, 20));
        assert!(!map.insert(3, 30), "full");
        assert_eq!(map.remove(1), Some(10));
        assert_eq!(map.get(9), Some(90), "a displaced key is found with its slot empty");
        assert_eq!(map.get(1), None);
        assert!(map.insert(25, 250), "the free slot takes a new key");
        assert_eq!(map.remove(17), Some(170));
        let mut entries: Vec<_> = map.iter().collect();
        entries.sort();
        assert_eq!(entries, vec![(2, 20), (9, 90), (25, 250)]);
        assert_eq!(map.len(), 3);
    }

    /// Either map, so one property test drives both.
    enum Map {
        Fixed(FixedMap),
        Sequence(SequenceMap),
    }

    impl Map {
        fn insert(&mut self, key: u64, value: u32) -> bool {
            match self {
                Map::Fixed(map) => map.insert(key, value),
                Map::Sequence(map) => map.insert(key, value),
            }
        }
        fn remove(&mut self, key: u64) -> Option<u32> {
            match self {
                Map::Fixed(map) => map.remove(key),
                Map::Sequence(map) => map.remove(key),
            }
        }
        fn get(&self, key: u64) -> Option<u32> {
            match self {
                Map::Fixed(map) => map.get(key),
                Map::Sequence(map) => map.get(key),
            }
        }
        fn len(&self) -> usize {
            match self {
                Map::Fixed(map) => map.len(),
                Map::Sequence(map) => map.len(),
            }
        }
        fn entries(&self) -> HashMap<u64, u32> {
            match self {
                Map::Fixed(map) => map.iter().collect(),
                Map::Sequence(map) => map.iter().collect(),
            }
        }
    }

    proptest! {
        /// Both maps agree with std's HashMap over random insert/remove/get sequences with
        /// colliding keys.
        #[test]
        fn agrees_with_hashmap(
            operations in proptest::collection::vec((0u8..3, 0u64..64), 1..400),
            sequential in any::<bool>(),
        ) {
            let mut map = if sequential {
                Map::Sequence(SequenceMap::with_entries_max(40))
            } else {
                Map::Fixed(FixedMap::with_entries_max(40))
            };
            let mut model: HashMap<u64, u32> = HashMap::new();
            for (index, (operation, key)) in operations.into_iter().enumerate() {
                // Shape keys so they share slots: high bits for Fibonacci hashing, equal low
                // bits (the table has 128 slots) for the sequence map.
                let key = if sequential { (key & 7) | (key >> 3) << 7 } else { key << 58 | key };
                match operation {
                    0 => {
                        let inserted = map.insert(key, index as u32);
                        let expected = model.len() < 40 && !model.contains_key(&key);
                        prop_assert_eq!(inserted, expected);
                        if expected {
                            model.insert(key, index as u32);
                        }
                    }
                    1 => prop_assert_eq!(map.remove(key), model.remove(&key)),
                    _ => prop_assert_eq!(map.get(key), model.get(&key).copied()),
                }
                prop_assert_eq!(map.len(), model.len());
            }
            prop_assert_eq!(map.entries(), model);
        }
    }
}
