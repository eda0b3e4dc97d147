//! The state hash: a 128-bit fingerprint of accounts, balances and books, kept up to date on every
//! change so asking for it costs O(markets + assets), never a scan of the books.
//!
//! The hash is a sum over every field of every entity of `coefficient(entity, field) × value`
//! (wrapping, in two independent 64-bit lanes). Coefficients come from a fixed mixing function of
//! the entity's identity salted per field, so the hash depends only on the state, not on the
//! order changes were made in: replay and live state agree exactly when their states do. Updating
//! a field is one coefficient and one multiply per lane: `hash += coefficient × (new − old)`.
//!
//! What keeps the hot path cheap: balances cache their entity's coefficients beside the balance
//! (a write is four multiplies, no mixing), a resting order keeps its whole [`Contribution`],
//! so taking it off the book is a subtraction, and an order's fields are [`fold`]ed into one
//! word before they meet the lanes, so it enters the hash as one field, not seven.
//!
//! Two different states collide only if a random-looking linear combination of their differences
//! vanishes in both lanes, or, for states that differ in one order's fields, if its folds
//! agree (about 2^-64): negligible for a determinism check (this is not a defence against an
//! adversary who can choose the state). `Matcher::recompute_state_hash` rebuilds it from scratch
//! (recomputing every coefficient, so a stale cache shows) and the tests compare the two after
//! every command.

/// Which kind of entity a field belongs to, folded into its coefficient.
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub enum Domain {
    /// `(account, asset)` balance: fields available, locked.
    Balance = 1,
    /// Account: fields key words 0..4, frozen.
    Account = 2,
    /// Resting order: one field, the `fold` of the fields listed in `order_fields`
    /// (matcher/ledger.rs).
    Order = 3,
}

/// The running 128-bit sum, as two lanes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StateHash {
    lane_a: u64,
    lane_b: u64,
}

/// splitmix64's finalizer: a cheap bijective mixer with full avalanche.
#[inline]
pub fn mix64(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

/// Folds words into one: a wrapping sum with a distinct odd weight per position, so a change
/// to any one word changes the fold, and changes to several cancel only when their weighted
/// sum vanishes mod 2^64. Linear, so a change to some words changes the fold by the fold of the
/// changes.
#[inline]
pub fn fold<const N: usize>(words: [u64; N]) -> u64 {
    const { assert!(N <= FOLD_WEIGHTS.len()) };
    let mut sum = 0u64;
    for (word, weight) in words.into_iter().zip(FOLD_WEIGHTS) {
        sum = sum.wrapping_add(word.wrapping_mul(weight));
    }
    sum
}

/// One field's coefficient in one lane: the entity's lane coefficient (odd) salted per field
/// (even), so odd, and every bit of a change stays in play. Field 0's salt is zero: its
/// coefficient is the lane itself.
#[inline]
fn field_coefficient(lane: u64, field: usize) -> u64 {
    lane ^ FIELD_SALTS[field]
}

/// The coefficients of one entity; each field derives its own coefficient from them with one
/// xor. Balances cache theirs (computed when the account is created), so a balance write costs
/// four multiplies and no mixing.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Coefficients {
    lane_a: u64,
    lane_b: u64,
}

/// Distinct odd weights for `fold`: the golden ratio's and e's fractional parts, four of
/// xxHash64's primes and MurmurHash3's first finalizer multiplier.
const FOLD_WEIGHTS: [u64; 7] = [
    0x9E37_79B9_7F4A_7C15,
    0xB7E1_5162_8AED_2A6B,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0x27D4_EB2F_1656_67C5,
    0x85EB_CA77_C2B2_AE63,
    0xFF51_AFD7_ED55_8CCD,
];

/// Distinct even per-field salts: zero, then the first digits of the fractional part of π,
/// made even.
///
/// NB: even salts on odd lanes, field 0's zero, make a coefficient one xor (none for field 0)
/// where odd salts needed the lanes made odd again at every use (callgrind, realistic mix of
/// `cargo bench --bench matcher`: 708.6 -> 689.1 instructions per command).
const FIELD_SALTS: [u64; 8] = [
    0,
    0x243F_6A88_85A3_08D2,
    0x1319_8A2E_0370_7344,
    0xA409_3822_299F_31D0,
    0x082E_FA98_EC4E_6C88,
    0x4528_21E6_38D0_1376,
    0xBE54_66CF_34E9_0C6C,
    0xC0AC_29B7_C97C_50DC,
];
const _: () = {
    let mut field = 0;
    while field < FIELD_SALTS.len() {
        assert!(FIELD_SALTS[field] & 1 == 0, "salts keep the lanes' parity");
        field += 1;
    }
};

impl Coefficients {
    /// The coefficients of entity `id` in `domain`.
    #[inline]
    pub fn of(domain: Domain, id: u64) -> Coefficients {
        let seed = id ^ (domain as u64) << 58 ^ 0x9E37_79B9_7F4A_7C15;
        // Two independent mixes, not one chained into the other, so both lanes compute at once.
        // Odd, so every field's coefficient is (see `field_coefficient`).
        Coefficients { lane_a: mix64(seed) | 1, lane_b: mix64(seed ^ 0x1319_8A2E_0370_7344) | 1 }
    }

    /// The coefficients of one account's balance of one asset.
    #[inline]
    pub fn of_balance(account: u32, asset: u16) -> Coefficients {
        Coefficients::of(Domain::Balance, u64::from(account) << 16 | u64::from(asset))
    }

    /// What `field` changing from `old` to `new` adds to the hash.
    #[inline]
    pub fn delta(self, field: usize, old: u64, new: u64) -> Contribution {
        let delta = new.wrapping_sub(old);
        Contribution {
            lane_a: field_coefficient(self.lane_a, field).wrapping_mul(delta),
            lane_b: field_coefficient(self.lane_b, field).wrapping_mul(delta),
        }
    }

    /// What moving `amount` from field `from` to field `to` of the entity adds to the hash:
    /// `(coefficient(to) − coefficient(from)) × amount`, one multiply per lane where two
    /// `delta`s take two.
    #[inline]
    pub fn moved(self, from: usize, to: usize, amount: u64) -> Contribution {
        Contribution {
            lane_a: field_coefficient(self.lane_a, to)
                .wrapping_sub(field_coefficient(self.lane_a, from))
                .wrapping_mul(amount),
            lane_b: field_coefficient(self.lane_b, to)
                .wrapping_sub(field_coefficient(self.lane_b, from))
                .wrapping_mul(amount),
        }
    }
}

/// One entity's share of the running sum (or a change to it), per lane. Resting orders keep
/// theirs, so taking one off the book subtracts it instead of recomputing it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Contribution {
    lane_a: u64,
    lane_b: u64,
}

impl Contribution {
    /// Nothing.
    pub const ZERO: Contribution = Contribution { lane_a: 0, lane_b: 0 };

    /// The wrapping sum of two contributions.
    #[inline]
    pub fn plus(self, other: Contribution) -> Contribution {
        Contribution {
            lane_a: self.lane_a.wrapping_add(other.lane_a),
            lane_b: self.lane_b.wrapping_add(other.lane_b),
        }
    }
}

impl StateHash {
    /// Accounts for `field` of the entity changing from `old` to `new`.
    #[inline]
    pub fn update(&mut self, entity: Coefficients, field: usize, old: u64, new: u64) {
        self.add(entity.delta(field, old, new));
    }

    /// Adds an entity's contribution (or a change to it).
    #[inline]
    pub fn add(&mut self, contribution: Contribution) {
        self.lane_a = self.lane_a.wrapping_add(contribution.lane_a);
        self.lane_b = self.lane_b.wrapping_add(contribution.lane_b);
    }

    /// Takes an entity's contribution back out.
    #[inline]
    pub fn subtract(&mut self, contribution: Contribution) {
        self.lane_a = self.lane_a.wrapping_sub(contribution.lane_a);
        self.lane_b = self.lane_b.wrapping_sub(contribution.lane_b);
    }

    /// Folds the running sum with the counters (`words`) into the final 128-bit value.
    pub fn finish(&self, words: impl IntoIterator<Item = u64>) -> u128 {
        let mut high = mix64(self.lane_a ^ 0xA409_3822_299F_31D0);
        let mut low = mix64(self.lane_b ^ 0x082E_FA98_EC4E_6C89);
        for word in words {
            high = mix64(high ^ word);
            low = mix64(low.wrapping_add(word).rotate_left(23));
        }
        u128::from(high) << 64 | u128::from(low)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_updates_does_not_matter() {
        let one = Coefficients::of(Domain::Balance, 1);
        let two = Coefficients::of(Domain::Balance, 2);
        let mut forward = StateHash::default();
        forward.update(one, 0, 0, 100);
        forward.update(one, 0, 100, 40);
        forward.update(two, 1, 0, 60);
        let mut backward = StateHash::default();
        backward.update(two, 1, 0, 60);
        backward.update(one, 0, 0, 40);
        assert_eq!(forward, backward);
        assert_eq!(forward.finish([1, 2]), backward.finish([1, 2]));
        assert_ne!(forward.finish([1, 2]), backward.finish([2, 1]));
    }

    #[test]
    fn a_move_between_fields_is_the_two_deltas_it_stands_for() {
        for (id, amount) in [(1, 1), (7, 123_456_789), (u64::MAX, u64::MAX)] {
            let entity = Coefficients::of(Domain::Balance, id);
            let two_deltas = entity.delta(0, amount, 0).plus(entity.delta(1, 0, amount));
            assert_eq!(entity.moved(0, 1, amount), two_deltas);
            let back = entity.delta(1, amount, 0).plus(entity.delta(0, 0, amount));
            assert_eq!(entity.moved(1, 0, amount), back);
        }
    }

    #[test]
    fn a_fold_changes_with_any_one_word() {
        let words = [7, 0, u64::MAX, 1 << 40, 123];
        for position in 0..words.len() {
            for change in [1, 2, 1 << 63, u64::MAX] {
                let mut changed = words;
                changed[position] = changed[position].wrapping_add(change);
                assert_ne!(fold(changed), fold(words), "word {position} + {change}");
            }
        }
        let mut swapped = words;
        swapped.swap(0, 2);
        assert_ne!(fold(swapped), fold(words), "positions are weighed apart");
    }

    #[test]
    fn moving_value_between_entities_changes_it() {
        let mut one = StateHash::default();
        one.update(Coefficients::of(Domain::Balance, 1), 0, 0, 100);
        let mut other = StateHash::default();
        other.update(Coefficients::of(Domain::Balance, 2), 0, 0, 100);
        assert_ne!(one, other);
        let mut fields = StateHash::default();
        fields.update(Coefficients::of(Domain::Balance, 1), 1, 0, 100);
        assert_ne!(one, fields);
        let mut domains = StateHash::default();
        domains.update(Coefficients::of(Domain::Order, 1), 0, 0, 100);
        assert_ne!(one, domains);
    }
}
