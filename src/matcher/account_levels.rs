//! Which price levels each account holds orders on, so that one account cannot take a whole
//! side's levels (`[limits] levels_per_side_per_account_max`).
//!
//! Two tables, both preallocated in `new`:
//! - **orders per (account, market, side, level)**: an open-addressing table (linear probing,
//!   Fibonacci hash, backward-shift deletion: `crate::fixed`'s scheme) from that quadruple,
//!   packed into a `u64`, to how many of the account's resting orders sit on the level. An
//!   entry exists iff the count is positive, so at most `orders_max` entries; the table has the
//!   next power of two ≥ 2 × `orders_max` cells of 16 B (8 MiB at the default 262,144);
//! - **distinct levels per (account, market, side)**: a flat array of `accounts_max × markets × 2`
//!   counts (4 B each: 1.5 MiB at the default 65,536 accounts and 3 markets).
//!
//! A level is named by its slot in its `BookSide`, not its price: the slot is fixed while the
//! level has orders, and a level with an order of the account has orders, so an entry never
//! outlives its level.
//!
//! **Written by** `Matcher::rest` (`add`) and `Matcher::forget_order` (`remove`), in step with
//! the book; `Matcher::check_invariants` recounts both tables from the resting orders.
//!
//! **Invariants**: an entry's count is the number of the account's resting orders on that level;
//! `distinct` is the number of entries of that (account, market, side).

use crate::fixed::{FIBONACCI, backward_shift};
use crate::types::{AccountIndex, MarketId, Side};

#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct Entry {
    key: u64,
    /// Orders of the account on the level; 0 marks an empty cell.
    orders: u32,
}

const EMPTY: Entry = Entry { key: 0, orders: 0 };

/// What `contents` lists: (level key, orders) sorted by key, and (side index, distinct levels)
/// for every non-zero count, by index.
pub type Contents = (Vec<(u64, u32)>, Vec<(usize, u32)>);

/// The levels each account holds orders on, per market and side.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct AccountLevels {
    entries: Box<[Entry]>,
    shift: u32,
    mask: usize,
    distinct: Box<[u32]>,
    markets: u64,
    levels_max: u64,
}

impl AccountLevels {
    /// Room for `orders_max` resting orders of `accounts_max` accounts on `markets` markets of
    /// `levels_max` levels per side.
    pub fn new(orders_max: u32, accounts_max: u32, markets: usize, levels_max: u32) -> Self {
        let sides = u64::from(accounts_max) * markets as u64 * 2;
        assert!(
            sides.checked_mul(u64::from(levels_max)).is_some(),
            "accounts × markets × 2 × levels_per_side_max must fit 64 bits"
        );
        let cells = (orders_max as usize).max(4).saturating_mul(2).next_power_of_two();
        AccountLevels {
            entries: vec![EMPTY; cells].into_boxed_slice(),
            shift: 64 - cells.trailing_zeros(),
            mask: cells - 1,
            distinct: vec![0; sides as usize].into_boxed_slice(),
            markets: markets as u64,
            levels_max: u64::from(levels_max),
        }
    }

    #[inline]
    fn side_index(&self, account: AccountIndex, market: MarketId, side: Side) -> usize {
        ((u64::from(account.0) * self.markets + u64::from(market.0)) * 2
            + u64::from(side == Side::Ask)) as usize
    }

    #[inline]
    fn key(&self, side_index: usize, level: u32) -> u64 {
        side_index as u64 * self.levels_max + u64::from(level)
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(FIBONACCI) >> self.shift) as usize
    }

    /// The cell holding `key`, or the empty cell where it would go.
    #[inline]
    fn probe(&self, key: u64) -> (usize, bool) {
        let mut cell = self.home(key);
        loop {
            let entry = self.entries[cell];
            if entry.orders == 0 {
                return (cell, false);
            }
            if entry.key == key {
                return (cell, true);
            }
            cell = (cell + 1) & self.mask;
        }
    }

    /// Distinct levels the account holds orders on, on one side of one market.
    #[inline]
    pub fn distinct(&self, account: AccountIndex, market: MarketId, side: Side) -> u32 {
        self.distinct[self.side_index(account, market, side)]
    }

    /// Whether the account holds an order on the level in slot `level`.
    #[inline]
    pub fn holds(&self, account: AccountIndex, market: MarketId, side: Side, level: u32) -> bool {
        self.probe(self.key(self.side_index(account, market, side), level)).1
    }

    /// One more order of the account rests on the level in slot `level`.
    #[inline]
    pub fn add(&mut self, account: AccountIndex, market: MarketId, side: Side, level: u32) {
        let side_index = self.side_index(account, market, side);
        let key = self.key(side_index, level);
        let (cell, found) = self.probe(key);
        if found {
            self.entries[cell].orders += 1;
        } else {
            self.entries[cell] = Entry { key, orders: 1 };
            self.distinct[side_index] += 1;
        }
    }

    /// One order of the account left the level in slot `level`.
    #[inline]
    pub fn remove(&mut self, account: AccountIndex, market: MarketId, side: Side, level: u32) {
        let side_index = self.side_index(account, market, side);
        let (cell, found) = self.probe(self.key(side_index, level));
        assert!(found, "an order leaves a level its account holds");
        self.entries[cell].orders -= 1;
        if self.entries[cell].orders == 0 {
            let shift = self.shift;
            let home = |entry: &Entry| (entry.key.wrapping_mul(FIBONACCI) >> shift) as usize;
            let is_empty = |entry: &Entry| entry.orders == 0;
            backward_shift(&mut self.entries, self.mask, cell, EMPTY, is_empty, home);
            self.distinct[side_index] -= 1;
        }
    }

    /// Every (account, market, side, level) with its order count, and every non-zero distinct
    /// count (invariant checks, not the hot path).
    // tidy: diagnostics (invariant checks, never on the command path)
    pub fn contents(&self) -> Contents {
        let entries = self.entries.iter().filter(|entry| entry.orders > 0);
        let mut held: Vec<(u64, u32)> = entries.map(|entry| (entry.key, entry.orders)).collect();
        held.sort_unstable();
        let distinct = self.distinct.iter().enumerate().filter(|(_, count)| **count > 0);
        (held, distinct.map(|(index, &count)| (index, count)).collect())
    }

    /// The key `contents` names an order's level by.
    pub fn key_of(&self, account: AccountIndex, market: MarketId, side: Side, level: u32) -> u64 {
        self.key(self.side_index(account, market, side), level)
    }

    /// The index `contents` names an (account, market, side) by.
    pub fn index_of(&self, account: AccountIndex, market: MarketId, side: Side) -> usize {
        self.side_index(account, market, side)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_count_orders_and_distinct_levels_through_removal() {
        let (alice, bob, market) = (AccountIndex(1), AccountIndex(2), MarketId(1));
        let mut levels = AccountLevels::new(16, 3, 2, 8);
        for level in [3, 3, 5, 7] {
            levels.add(alice, market, Side::Bid, level);
        }
        levels.add(bob, market, Side::Bid, 3);
        levels.add(alice, market, Side::Ask, 3);
        assert_eq!(levels.distinct(alice, market, Side::Bid), 3);
        assert_eq!(levels.distinct(alice, market, Side::Ask), 1);
        assert_eq!(levels.distinct(alice, MarketId(0), Side::Bid), 0);
        assert!(
            levels.holds(alice, market, Side::Bid, 7) && !levels.holds(bob, market, Side::Bid, 7)
        );
        levels.remove(alice, market, Side::Bid, 3);
        assert!(levels.holds(alice, market, Side::Bid, 3));
        levels.remove(alice, market, Side::Bid, 3);
        levels.remove(alice, market, Side::Bid, 7);
        assert!(!levels.holds(alice, market, Side::Bid, 3));
        assert_eq!(levels.distinct(alice, market, Side::Bid), 1);
        assert!(
            levels.holds(bob, market, Side::Bid, 3) && levels.holds(alice, market, Side::Bid, 5)
        );
        assert_eq!(levels.contents().0.len(), 3);
    }
}
