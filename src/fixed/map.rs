//! A fixed-capacity map from `u64` keys to `u32` values: the matcher's client ids
//! (`account << 32 | client id` → order-pool index; order ids have their own index,
//! `matcher::order_ids`) and net-out's resting orders. Memory is allocated once at
//! construction; `insert` refuses past `entries_max` instead of growing.
//!
//! [`FixedMap`], for any keys: linear probing from the key's Fibonacci hash over a power-of-two
//! table at most half full, keys and values side by side in one cell, and backward-shift
//! deletion so no tombstones accumulate.

use super::{FIBONACCI, backward_shift};

const EMPTY: u32 = u32::MAX;

/// One cell: key and value side by side, so a probe touches one cache line, not two.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct Entry {
    key: u64,
    value: u32,
}

const EMPTY_ENTRY: Entry = Entry { key: 0, value: EMPTY };

/// A key's home cell in a table of 2^(64 − `shift`) cells: Fibonacci hashing reads the high bits.
#[inline]
fn home_of(key: u64, shift: u32) -> usize {
    (key.wrapping_mul(FIBONACCI) >> shift) as usize
}

/// A map of at most `entries_max` entries, allocated at construction.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
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
        // A power of two, at most half full.
        let cells = (entries_max.max(4) * 2).next_power_of_two();
        let entries = vec![EMPTY_ENTRY; cells].into_boxed_slice();
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
        home_of(key, self.shift)
    }

    /// Where `key` is stored, if it is.
    #[inline]
    fn position(&self, key: u64) -> Option<usize> {
        let mut cell = self.home(key);
        loop {
            let entry = self.entries[cell];
            if entry.value == EMPTY {
                return None;
            }
            if entry.key == key {
                return Some(cell);
            }
            cell = (cell + 1) & self.mask;
        }
    }

    /// The value stored for `key`.
    #[inline]
    pub fn get(&self, key: u64) -> Option<u32> {
        self.position(key).map(|cell| self.entries[cell].value)
    }

    /// Inserts a new key. Returns `false` (and changes nothing) when full or the key is present.
    #[inline]
    pub fn insert(&mut self, key: u64, value: u32) -> bool {
        assert!(value != EMPTY, "u32::MAX is the empty marker");
        if self.len == self.entries_max {
            return false;
        }
        let mut cell = self.home(key);
        loop {
            let entry = &mut self.entries[cell];
            if entry.value == EMPTY {
                *entry = Entry { key, value };
                self.len += 1;
                return true;
            }
            if entry.key == key {
                return false;
            }
            cell = (cell + 1) & self.mask;
        }
    }

    /// Removes `key`, returning its value.
    #[inline]
    pub fn remove(&mut self, key: u64) -> Option<u32> {
        let cell = self.position(key)?;
        let value = self.entries[cell].value;
        let shift = self.shift;
        let home = |entry: &Entry| home_of(entry.key, shift);
        let is_empty = |entry: &Entry| entry.value == EMPTY;
        backward_shift(&mut self.entries, self.mask, cell, EMPTY_ENTRY, is_empty, home);
        self.len -= 1;
        Some(value)
    }

    /// Every entry, in table order (for invariant checks and hashing, not the hot path).
    pub fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        let occupied = self.entries.iter().filter(|entry| entry.value != EMPTY);
        occupied.map(|entry| (entry.key, entry.value))
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
        /// Agrees with std's HashMap over random insert/remove/get sequences with colliding
        /// keys.
        #[test]
        fn agrees_with_hashmap(
            operations in proptest::collection::vec((0u8..3, 0u64..64), 1..400),
        ) {
            let mut map = FixedMap::with_entries_max(40);
            let mut model: HashMap<u64, u32> = HashMap::new();
            for (index, (operation, key)) in operations.into_iter().enumerate() {
                // Shape keys so they share home cells: Fibonacci hashing reads the high bits.
                let key = key << 58 | key;
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
            prop_assert_eq!(map.iter().collect::<HashMap<_, _>>(), model);
        }
    }
}
