//! A fixed-capacity open-addressing map from `u64` keys to `u32` values.
//!
//! Hand-written because it sits on the matcher's hot path (order id → pool slot, account and
//! client id → pool slot) where `std::collections::HashMap` would rehash, grow and allocate, and
//! its SipHash costs more than the whole lookup budget. Linear probing over a power-of-two table
//! at most half full, keys and values side by side in one slot, and backward-shift deletion so
//! no tombstones accumulate. The probe starts at the key's Fibonacci hash ([`KeyHashing::Spread`],
//! for client keys) or at its low bits ([`KeyHashing::Sequential`], for order ids: they are
//! sequence numbers, so the live ones fill a window of the table that stays in cache, where a
//! spread hash would put each on a cold line of a table sized for `orders_max`).
//!
//! Memory is allocated once in [`FixedMap::with_hashing`]; `insert` refuses past `entries_max`
//! instead of growing.

const EMPTY: u32 = u32::MAX;

/// One slot: key and value side by side, so a probe touches one cache line, not two.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: u64,
    value: u32,
}

const EMPTY_ENTRY: Entry = Entry { key: 0, value: EMPTY };

/// Where a key's probe starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHashing {
    /// Fibonacci hashing: spreads any keys evenly.
    Spread,
    /// The key's low bits: for keys that mostly increase (order ids are sequence numbers), so
    /// live keys sit in a window of the table that stays in cache instead of one cold line
    /// per key anywhere in it. Keys only collide when they differ by a multiple of the table
    /// size.
    Sequential,
}

/// A map of at most `entries_max` entries, allocated at construction.
pub struct FixedMap {
    entries: Box<[Entry]>,
    hashing: KeyHashing,
    shift: u32,
    mask: usize,
    len: usize,
    entries_max: usize,
}

impl FixedMap {
    /// Allocates room for `entries_max` entries (the table is at most half full).
    pub fn with_entries_max(entries_max: usize) -> FixedMap {
        FixedMap::with_hashing(entries_max, KeyHashing::Spread)
    }

    /// Like [`FixedMap::with_entries_max`], with the given probe start.
    pub fn with_hashing(entries_max: usize, hashing: KeyHashing) -> FixedMap {
        let slots = (entries_max.max(4) * 2).next_power_of_two();
        FixedMap {
            entries: vec![EMPTY_ENTRY; slots].into_boxed_slice(),
            hashing,
            shift: 64 - slots.trailing_zeros(),
            mask: slots - 1,
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
        match self.hashing {
            KeyHashing::Spread => (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize,
            KeyHashing::Sequential => key as usize & self.mask,
        }
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
        self.entries
            .iter()
            .filter(|entry| entry.value != EMPTY)
            .map(|entry| (entry.key, entry.value))
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

    proptest! {
        /// Agrees with std's HashMap over random insert/remove/get sequences with colliding keys,
        /// under both probe starts.
        #[test]
        fn agrees_with_hashmap(
            operations in proptest::collection::vec((0u8..3, 0u64..64), 1..400),
            sequential in any::<bool>(),
        ) {
            let hashing = if sequential { KeyHashing::Sequential } else { KeyHashing::Spread };
            let mut map = FixedMap::with_hashing(40, hashing);
            let mut model: HashMap<u64, u32> = HashMap::new();
            for (index, (operation, key)) in operations.into_iter().enumerate() {
                // Shape keys so they share home slots: high bits for Fibonacci hashing, equal
                // low bits (the table has 128 slots) for sequential probing.
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
            for (key, value) in &model {
                prop_assert_eq!(map.get(*key), Some(*value));
            }
        }
    }
}
