//! Fixed-capacity tables: the one home of the hand-written open-addressing code that the stages
//! share, so each probe loop, hash and deletion exists once.
//!
//! Hand-written because they sit on the hot paths of the matcher, the sequencer, verify and
//! net-out, where `std::collections::HashMap` would rehash, grow and allocate, and SipHash costs
//! more than the whole lookup budget. Every table is allocated once at construction and refuses
//! (or, for a cache, evicts) instead of growing.
//!
//! - [`FixedMap`]: `u64` key → `u32` value (client ids → order-pool index, resting orders in
//!   net-out's view);
//! - [`AccountKeyIndex`]: account key → account index, for the matcher's accounts and the view's
//!   account table alike, with one hash ([`account_key_hash`]);
//! - [`backward_shift`]: the deletion every linear-probing table here uses (the replay cache,
//!   [`FixedMap`]): no tombstones, so probe runs stay as short as the load allows.
//!
//! Vocabulary: a table's positions are *cells* ("slot" is kept for ring slots).
//!
//! **Invariants**: every table is at most half full (its cells are the next power of two ≥ 2 ×
//! its capacity), so every probe ends at an empty cell; keys are compared in full, so a hash
//! collision costs a probe, never a mix-up.

pub mod account_keys;
pub mod map;

pub use account_keys::AccountKeyIndex;
pub use map::FixedMap;

/// Fibonacci hashing's multiplier (2⁶⁴ / φ): spreads a word's entropy into its high bits.
pub const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

/// The hash of an account key (an ED25519 public key, 32 bytes), used by every table keyed on
/// one. Two of its words are enough: keys are curve points, uniform in those bytes, and only an
/// administrator's deposit creates an account, so a stranger cannot grind colliding keys into a
/// table.
#[inline]
pub fn account_key_hash(key: &[u8; 32]) -> u64 {
    let low = u64::from_le_bytes(key[0..8].try_into().unwrap());
    let high = u64::from_le_bytes(key[24..32].try_into().unwrap());
    (low ^ high.rotate_left(29)).wrapping_mul(FIBONACCI)
}

/// Backward-shift deletion for a linear-probing table of `entries` (a power of two long, `mask`
/// = length − 1): empties `hole` and closes the gap by moving later entries of its probe run
/// back, so a lookup never stops early at a hole its key was probed past. `home` gives an
/// occupied entry's home cell, `is_empty` tells an empty one, `empty` is what an empty cell
/// holds.
#[inline]
pub fn backward_shift<E: Copy>(
    entries: &mut [E],
    mask: usize,
    mut hole: usize,
    empty: E,
    is_empty: impl Fn(&E) -> bool,
    home: impl Fn(&E) -> usize,
) {
    debug_assert!((mask + 1).is_power_of_two() && entries.len() == mask + 1);
    let mut cell = (hole + 1) & mask;
    while !is_empty(&entries[cell]) {
        let home = home(&entries[cell]);
        // The entry may move into the hole iff the hole lies on its probe path home..=cell.
        let distance_to_slot = cell.wrapping_sub(home) & mask;
        let distance_to_hole = hole.wrapping_sub(home) & mask;
        if distance_to_hole < distance_to_slot {
            entries[hole] = entries[cell];
            hole = cell;
        }
        cell = (cell + 1) & mask;
    }
    entries[hole] = empty;
}

/// Gives `vec` room for `total` elements in all, as its constructor did: a table read from a
/// snapshot has only the room its contents take, and the hot path never grows a vector.
pub fn reserve_total<T>(vec: &mut Vec<T>, total: usize) {
    vec.reserve_exact(total.saturating_sub(vec.len()));
}
