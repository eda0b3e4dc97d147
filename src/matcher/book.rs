//! One side of one market's order book: price levels in priority order, each a FIFO of orders.
//!
//! Levels live in a preallocated slab. Two structures find and rank them:
//! - the **window**, [`BOOK_WINDOW_TICKS`] consecutive prices from `base`, indexed directly by
//!   `price − base` and summarised by a three-level occupancy bitmap (64-ary). Finding, adding or
//!   removing a level and finding the next best are O(1) (a load, a few bit scans) however deep in
//!   the book the level is;
//! - **`ranked`**, a sorted array of the levels outside the window, best **last** (bids ascending
//!   by price, asks descending), found by binary search. A book wider than the window stays
//!   correct and pays there what a plain sorted array pays: adding or removing a level shifts the
//!   ones better than it.
//!
//! The window is placed, centred on the price, whenever a level is added while it holds none
//! (the first level, or after the market moved away and its levels went); levels of `ranked`
//! that then fall inside it move in. The best level is cached. A full side refuses a new price
//! level (`ORDER_LIMIT`) before anything changes.
//!
//! Invariants (checked by [`BookSide::check`]): no level of `ranked` lies inside the window; a
//! window slot holds a level iff its occupancy bit is set; the cached best is the best level.

use super::order_index::OrderIndex;
use super::orders::{LEVEL_NIL, OrderPool};
use crate::constants::BOOK_WINDOW_TICKS;
use crate::types::{PriceTicks, QuantitySteps, Side};

/// One price level.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Level {
    /// The level's price.
    pub price: PriceTicks,
    /// Sum of `remaining` over its orders.
    pub total: QuantitySteps,
    /// Oldest order (matched first).
    pub head: OrderIndex,
    /// Newest order.
    pub tail: OrderIndex,
    /// Orders in the FIFO.
    pub orders: u32,
}

#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct Ranked {
    /// Sort key: the price for bids, its complement for asks, so best is the largest key.
    key: u64,
    level: u32,
}

const SUMMARY_WORDS: usize = BOOK_WINDOW_TICKS / 64;
const TOP_WORDS: usize = SUMMARY_WORDS / 64;
const _: () = assert!(BOOK_WINDOW_TICKS.is_power_of_two() && TOP_WORDS >= 1 && TOP_WORDS <= 64);

/// Which window offsets hold a level, three levels deep: bit `i` of `summary[w]` stands for
/// offset `64w + i`, bit `j` of `top[t]` for `summary[64t + j] != 0`, bit `t` of `root` for
/// `top[t] != 0`.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Occupancy {
    root: u64,
    #[serde(with = "serde_big_array::BigArray")]
    top: [u64; TOP_WORDS],
    #[serde(with = "serde_big_array::BigArray")]
    summary: [u64; SUMMARY_WORDS],
}

/// Bits `0..=bit`.
#[inline]
fn through(bit: usize) -> u64 {
    u64::MAX >> (63 - bit)
}

/// Bits `bit..64`.
#[inline]
fn from(bit: usize) -> u64 {
    u64::MAX << bit
}

/// Index of the highest set bit of a non-zero word.
#[inline]
fn highest(word: u64) -> usize {
    63 - word.leading_zeros() as usize
}

/// Index of the lowest set bit of a non-zero word.
#[inline]
fn lowest(word: u64) -> usize {
    word.trailing_zeros() as usize
}

impl Occupancy {
    #[inline]
    fn set(&mut self, offset: usize) {
        let (word, top) = (offset / 64, offset / 4096);
        self.summary[word] |= 1 << (offset % 64);
        self.top[top] |= 1 << (word % 64);
        self.root |= 1 << top;
    }

    #[inline]
    fn clear(&mut self, offset: usize) {
        let (word, top) = (offset / 64, offset / 4096);
        self.summary[word] &= !(1 << (offset % 64));
        if self.summary[word] == 0 {
            self.top[top] &= !(1 << (word % 64));
            if self.top[top] == 0 {
                self.root &= !(1 << top);
            }
        }
    }

    #[cfg(test)]
    fn is_set(&self, offset: usize) -> bool {
        self.summary[offset / 64] & 1 << (offset % 64) != 0
    }

    /// The highest occupied offset `<= at`.
    #[inline]
    fn highest_through(&self, at: usize) -> Option<usize> {
        let (word, top) = (at / 64, at / 4096);
        let bits = self.summary[word] & through(at % 64);
        if bits != 0 {
            return Some(word * 64 + highest(bits));
        }
        let words = self.top[top] & !from(word % 64);
        let word = if words != 0 {
            top * 64 + highest(words)
        } else {
            let tops = self.root & !from(top);
            if tops == 0 {
                return None;
            }
            let top = highest(tops);
            top * 64 + highest(self.top[top])
        };
        Some(word * 64 + highest(self.summary[word]))
    }

    /// The lowest occupied offset `>= at`.
    #[inline]
    fn lowest_from(&self, at: usize) -> Option<usize> {
        let (word, top) = (at / 64, at / 4096);
        let bits = self.summary[word] & from(at % 64);
        if bits != 0 {
            return Some(word * 64 + lowest(bits));
        }
        let words = self.top[top] & !through(word % 64);
        let word = if words != 0 {
            top * 64 + lowest(words)
        } else {
            let tops = self.root & !through(top);
            if tops == 0 {
                return None;
            }
            let top = lowest(tops);
            top * 64 + lowest(self.top[top])
        };
        Some(word * 64 + lowest(self.summary[word]))
    }
}

/// Bids or asks of one market.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct BookSide {
    side: Side,
    /// XORed into a price to give its sort key: zero for bids, all ones for asks.
    key_flip: u64,
    levels: Vec<Level>,
    free_levels: Vec<u32>,
    /// The price at window offset 0.
    base: u64,
    /// Level slot per window offset, or `LEVEL_NIL`.
    window: Box<[u32]>,
    occupancy: Box<Occupancy>,
    /// Levels in the window.
    window_levels: u32,
    /// Levels outside the window, best last.
    ranked: Vec<Ranked>,
    /// The best level's slot, or `LEVEL_NIL` when the side is empty.
    best: u32,
}

impl BookSide {
    /// Room for `levels_max` levels in the growable lists again, after a snapshot was read.
    pub fn restore_capacity(&mut self, levels_max: u32) {
        crate::fixed::reserve_total(&mut self.ranked, levels_max as usize);
        crate::fixed::reserve_total(&mut self.free_levels, levels_max as usize);
    }

    /// Allocates room for `levels_max` price levels.
    pub fn with_levels_max(side: Side, levels_max: u32) -> BookSide {
        let empty = Level {
            price: PriceTicks(0),
            total: QuantitySteps(0),
            head: OrderIndex::NIL,
            tail: OrderIndex::NIL,
            orders: 0,
        };
        BookSide {
            side,
            key_flip: if side == Side::Bid { 0 } else { u64::MAX },
            levels: vec![empty; levels_max as usize],
            free_levels: (0..levels_max).rev().collect(),
            base: 0,
            window: vec![LEVEL_NIL; BOOK_WINDOW_TICKS].into_boxed_slice(),
            occupancy: Box::new(Occupancy {
                root: 0,
                top: [0; TOP_WORDS],
                summary: [0; SUMMARY_WORDS],
            }),
            window_levels: 0,
            ranked: Vec::with_capacity(levels_max as usize),
            best: LEVEL_NIL,
        }
    }

    #[inline]
    fn key(&self, price: PriceTicks) -> u64 {
        // Branch-free: the side is a coin flip from one command to the next.
        price.0 ^ self.key_flip
    }

    /// `price`'s offset in the window, if it lies inside.
    #[inline]
    fn offset(&self, price: PriceTicks) -> Option<usize> {
        let offset = price.0.wrapping_sub(self.base);
        (offset < BOOK_WINDOW_TICKS as u64).then_some(offset as usize)
    }

    /// Whether `a` is a better price than `b` on this side.
    #[inline]
    fn better(&self, a: PriceTicks, b: PriceTicks) -> bool {
        self.key(a) > self.key(b)
    }

    /// The best level's slot, if any.
    #[inline]
    pub fn best(&self) -> Option<u32> {
        (self.best != LEVEL_NIL).then_some(self.best)
    }

    /// The best price, if any.
    #[inline]
    pub fn best_price(&self) -> Option<PriceTicks> {
        self.best().map(|level| self.levels[level as usize].price)
    }

    /// Levels from best to worst.
    pub fn levels_best_first(&self) -> BestFirst<'_> {
        let window_at = match self.side {
            Side::Bid => self.occupancy.highest_through(BOOK_WINDOW_TICKS - 1),
            Side::Ask => self.occupancy.lowest_from(0),
        };
        BestFirst { side: self, window_at, ranked_left: self.ranked.len() }
    }

    /// The level in `slot`.
    #[inline]
    pub fn level(&self, slot: u32) -> &Level {
        &self.levels[slot as usize]
    }

    #[inline]
    fn rank_of(&self, key: u64) -> Result<usize, usize> {
        // Outside the window, most activity is still nearest the top: check the last first.
        if let Some(last) = self.ranked.last() {
            if last.key == key {
                return Ok(self.ranked.len() - 1);
            }
            if last.key < key {
                return Err(self.ranked.len());
            }
        }
        self.ranked.binary_search_by_key(&key, |ranked| ranked.key)
    }

    /// The slot of the level at `price`, if there is one.
    #[inline]
    fn find(&self, price: PriceTicks) -> Option<u32> {
        match self.offset(price) {
            Some(offset) => Some(self.window[offset]).filter(|&slot| slot != LEVEL_NIL),
            None => self.rank_of(self.key(price)).ok().map(|rank| self.ranked[rank].level),
        }
    }

    /// The slot of the level at `price`, if there is one.
    #[inline]
    pub fn level_at(&self, price: PriceTicks) -> Option<u32> {
        self.find(price)
    }

    /// Whether an order at `price` would need a new level and none is free.
    #[inline]
    pub fn is_full_for(&self, price: PriceTicks) -> bool {
        self.free_levels.is_empty() && self.find(price).is_none()
    }

    /// Creates the empty level at `price` (there is none yet; a free slot was checked).
    fn add_level(&mut self, price: PriceTicks) -> u32 {
        let slot = self.free_levels.pop().expect("level capacity checked first");
        self.levels[slot as usize] = Level {
            price,
            total: QuantitySteps(0),
            head: OrderIndex::NIL,
            tail: OrderIndex::NIL,
            orders: 0,
        };
        if self.offset(price).is_none() && self.window_levels == 0 {
            self.place_window(price);
        }
        match self.offset(price) {
            Some(offset) => {
                debug_assert_eq!(self.window[offset], LEVEL_NIL);
                self.window[offset] = slot;
                self.occupancy.set(offset);
                self.window_levels += 1;
            }
            None => {
                let key = self.key(price);
                let rank = self.rank_of(key).expect_err("no level at this price yet");
                self.ranked.insert(rank, Ranked { key, level: slot });
            }
        }
        if self.best == LEVEL_NIL || self.better(price, self.levels[self.best as usize].price) {
            self.best = slot;
        }
        slot
    }

    /// Drops the emptied level in `slot`.
    fn remove_level(&mut self, slot: u32) {
        let price = self.levels[slot as usize].price;
        match self.offset(price) {
            Some(offset) => {
                debug_assert_eq!(self.window[offset], slot);
                self.window[offset] = LEVEL_NIL;
                self.occupancy.clear(offset);
                self.window_levels -= 1;
            }
            None => {
                let rank = self
                    .rank_of(self.key(price))
                    .expect("an order's level is ranked while it has orders");
                self.ranked.remove(rank);
            }
        }
        self.free_levels.push(slot);
        if self.best == slot {
            self.best = self.find_best();
        }
    }

    /// The best level's slot from scratch: the better of the window's and `ranked`'s, or
    /// `LEVEL_NIL`.
    #[inline]
    fn find_best(&self) -> u32 {
        let in_window = match self.side {
            Side::Bid => self.occupancy.highest_through(BOOK_WINDOW_TICKS - 1),
            Side::Ask => self.occupancy.lowest_from(0),
        };
        let in_window = in_window.map(|offset| self.window[offset]);
        let outside = self.ranked.last().map(|ranked| ranked.level);
        match (in_window, outside) {
            (Some(a), Some(b)) => {
                let better =
                    self.better(self.levels[a as usize].price, self.levels[b as usize].price);
                if better { a } else { b }
            }
            (Some(slot), None) | (None, Some(slot)) => slot,
            (None, None) => LEVEL_NIL,
        }
    }

    /// Centres the empty window on `price` and moves in the levels of `ranked` it now covers.
    /// Costs one pass over `ranked`; happens only when the window holds no level.
    #[cold]
    fn place_window(&mut self, price: PriceTicks) {
        assert_eq!(self.window_levels, 0, "only an empty window moves");
        // The window never wraps past u64::MAX (an offset is `price − base`, wrapping).
        let base_max = u64::MAX - (BOOK_WINDOW_TICKS as u64 - 1);
        self.base = price.0.saturating_sub(BOOK_WINDOW_TICKS as u64 / 2).min(base_max);
        let mut kept = 0;
        for index in 0..self.ranked.len() {
            let ranked = self.ranked[index];
            match self.offset(self.levels[ranked.level as usize].price) {
                Some(offset) => {
                    self.window[offset] = ranked.level;
                    self.occupancy.set(offset);
                    self.window_levels += 1;
                }
                None => {
                    self.ranked[kept] = ranked;
                    kept += 1;
                }
            }
        }
        self.ranked.truncate(kept);
    }

    /// Appends the order at `index` to the FIFO at its price, creating the level if needed.
    /// The caller checked `!is_full_for(price)`.
    #[inline]
    pub fn push_back(&mut self, pool: &mut OrderPool, index: OrderIndex) {
        let price = pool.get(index).price;
        let level_slot = match self.find(price) {
            Some(level_slot) => level_slot,
            None => self.add_level(price),
        };
        let level = &mut self.levels[level_slot as usize];
        let remaining = pool.get(index).remaining;
        let previous_tail = level.tail;
        level.tail = index;
        if previous_tail.is_nil() {
            level.head = index;
        }
        level.total.0 += remaining.0;
        level.orders += 1;
        if !previous_tail.is_nil() {
            pool.get_mut(previous_tail).level_next = index;
        }
        let order = pool.get_mut(index);
        order.level = level_slot;
        order.level_prev = previous_tail;
        order.level_next = OrderIndex::NIL;
    }

    /// Unlinks the order at `index` from its level, dropping the level if it empties.
    #[inline]
    pub fn unlink(&mut self, pool: &mut OrderPool, index: OrderIndex) {
        let order = pool.get(index);
        let (level_slot, remaining) = (order.level, order.remaining);
        let (previous, next) = (order.level_prev, order.level_next);
        let level = &mut self.levels[level_slot as usize];
        debug_assert!(level.total.0 >= remaining.0);
        level.total.0 -= remaining.0;
        level.orders -= 1;
        if previous.is_nil() {
            level.head = next;
        } else {
            pool.get_mut(previous).level_next = next;
        }
        if next.is_nil() {
            level.tail = previous;
        } else {
            pool.get_mut(next).level_prev = previous;
        }
        if level.orders == 0 {
            debug_assert_eq!(level.total.0, 0);
            self.remove_level(level_slot);
        }
    }

    /// Records that the order at `index` (still linked) lost `filled` of its remaining quantity.
    #[inline]
    pub fn reduce(&mut self, pool: &mut OrderPool, index: OrderIndex, filled: QuantitySteps) {
        let order = pool.get_mut(index);
        debug_assert!(order.remaining.0 > filled.0, "a full fill unlinks instead");
        order.remaining.0 -= filled.0;
        self.levels[order.level as usize].total.0 -= filled.0;
    }

    /// Full consistency check of this side against the pool (tests, not the hot path).
    // tidy: diagnostics (invariant checks, never on the command path)
    pub fn check(&self, pool: &OrderPool) -> Result<usize, String> {
        let side = self.side;
        for pair in self.ranked.windows(2) {
            if pair[0].key >= pair[1].key {
                return Err(format!("{side:?} levels out of order"));
            }
        }
        for ranked in &self.ranked {
            let price = self.levels[ranked.level as usize].price;
            if self.key(price) != ranked.key || self.offset(price).is_some() {
                return Err(format!("{side:?} ranked level {price:?} misplaced"));
            }
        }
        // Every occupied offset holds its level. (That no slot outside them holds one is
        // `check_window_slots`, a full scan the book's own tests run.)
        let mut in_window = 0;
        for (word, &bits) in self.occupancy.summary.iter().enumerate() {
            let mut bits = bits;
            while bits != 0 {
                let offset = word * 64 + lowest(bits);
                bits &= bits - 1;
                in_window += 1;
                let slot = self.window[offset];
                if slot == LEVEL_NIL
                    || self.offset(self.levels[slot as usize].price) != Some(offset)
                {
                    return Err(format!("{side:?} window offset {offset} occupied but wrong"));
                }
            }
        }
        for (word, &bits) in self.occupancy.summary.iter().enumerate() {
            let top = self.occupancy.top[word / 64] & 1 << (word % 64) != 0;
            if (bits != 0) != top {
                return Err(format!("{side:?} occupancy summary {word} wrong"));
            }
        }
        for (top, &bits) in self.occupancy.top.iter().enumerate() {
            if (bits != 0) != (self.occupancy.root & 1 << top != 0) {
                return Err(format!("{side:?} occupancy root wrong at {top}"));
            }
        }
        let used = self.levels.len() - self.free_levels.len();
        if in_window != self.window_levels as usize || used != in_window + self.ranked.len() {
            return Err(format!("{side:?} level counts wrong"));
        }
        let mut orders = 0;
        let mut previous_price = None;
        for (rank, level) in self.levels_best_first().enumerate() {
            if rank == 0 && self.best().map(|best| self.level(best).price) != Some(level.price) {
                return Err(format!("{side:?} cached best is not the best"));
            }
            if previous_price.is_some_and(|previous| !self.better(previous, level.price)) {
                return Err(format!("{side:?} levels out of order at {:?}", level.price));
            }
            previous_price = Some(level.price);
            orders += self.check_level(level, pool)?;
        }
        if previous_price.is_none() && self.best != LEVEL_NIL {
            return Err(format!("{side:?} empty side with a best level"));
        }
        Ok(orders)
    }

    /// Every window slot holding a level is marked occupied (a scan of the whole window).
    #[cfg(test)]
    // tidy: diagnostics (invariant checks, never on the command path)
    fn check_window_slots(&self) -> Result<(), String> {
        for (offset, &slot) in self.window.iter().enumerate() {
            if (slot != LEVEL_NIL) != self.occupancy.is_set(offset) {
                return Err(format!("{:?} occupancy wrong at window offset {offset}", self.side));
            }
        }
        Ok(())
    }

    /// One level's FIFO against the pool; returns its order count.
    // tidy: diagnostics (invariant checks, never on the command path)
    fn check_level(&self, level: &Level, pool: &OrderPool) -> Result<usize, String> {
        let level_slot = self.find(level.price).ok_or("level not found by its price")?;
        let mut index = level.head;
        let mut previous = OrderIndex::NIL;
        let mut total = 0u64;
        let mut count = 0u32;
        let mut last_id = 0u64;
        while !index.is_nil() {
            let order = pool.get(index);
            if order.level != level_slot || order.level_prev != previous {
                return Err(format!("order {:?} badly linked", order.id));
            }
            if order.price != level.price || order.side != self.side {
                return Err(format!("order {:?} on the wrong level", order.id));
            }
            if order.remaining.0 == 0 {
                return Err(format!("order {:?} rests with nothing remaining", order.id));
            }
            if order.id.0 <= last_id {
                return Err(format!("time priority broken at {:?}", order.id));
            }
            last_id = order.id.0;
            total += order.remaining.0;
            count += 1;
            previous = index;
            index = order.level_next;
        }
        if previous != level.tail || total != level.total.0 || count != level.orders || count == 0 {
            return Err(format!("level {:?} totals or tail wrong", level.price));
        }
        Ok(count as usize)
    }
}

/// The levels of one side from best to worst: the window's and `ranked`'s merged by price.
pub struct BestFirst<'a> {
    side: &'a BookSide,
    /// The next window offset to yield, if any.
    window_at: Option<usize>,
    /// `ranked[..ranked_left]` is still to come (its best is last).
    ranked_left: usize,
}

impl<'a> Iterator for BestFirst<'a> {
    type Item = &'a Level;

    fn next(&mut self) -> Option<&'a Level> {
        let side = self.side;
        let from_window = self.window_at.map(|offset| side.window[offset]);
        let from_ranked = self.ranked_left.checked_sub(1).map(|rank| side.ranked[rank].level);
        let take_window = match (from_window, from_ranked) {
            (Some(a), Some(b)) => side.better(side.level(a).price, side.level(b).price),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        if take_window {
            let offset = self.window_at.expect("window level present");
            self.window_at = match side.side {
                Side::Bid => {
                    offset.checked_sub(1).and_then(|at| side.occupancy.highest_through(at))
                }
                Side::Ask => Some(offset + 1)
                    .filter(|&at| at < BOOK_WINDOW_TICKS)
                    .and_then(|at| side.occupancy.lowest_from(at)),
            };
            from_window.map(|slot| side.level(slot))
        } else {
            self.ranked_left -= 1;
            from_ranked.map(|slot| side.level(slot))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Occupancy searches agree with a scan, around word and top-word boundaries.
    #[test]
    fn occupancy_searches_agree_with_a_scan() {
        let offsets = [0, 1, 63, 64, 65, 4095, 4096, 4097, 30_000, BOOK_WINDOW_TICKS - 1];
        let mut occupancy = Occupancy { root: 0, top: [0; TOP_WORDS], summary: [0; SUMMARY_WORDS] };
        let mut set = BTreeSet::new();
        for (round, &offset) in offsets.iter().enumerate() {
            if round % 3 == 2 {
                occupancy.clear(offsets[round - 1]);
                set.remove(&offsets[round - 1]);
            }
            occupancy.set(offset);
            set.insert(offset);
            for &at in &offsets {
                assert_eq!(occupancy.highest_through(at), set.range(..=at).next_back().copied());
                assert_eq!(occupancy.lowest_from(at), set.range(at..).next().copied());
            }
        }
    }

    proptest! {
        /// Adding and removing levels anywhere, inside and far outside the window, keeps the
        /// side consistent and ranks levels like a sorted set.
        #[test]
        fn agrees_with_a_sorted_set(
            operations in proptest::collection::vec((any::<bool>(), 0u8..4, 0u64..200), 1..300),
            bid in any::<bool>(),
        ) {
            let side = if bid { Side::Bid } else { Side::Ask };
            let mut book = BookSide::with_levels_max(side, 64);
            let mut pool = OrderPool::with_orders_max(64);
            let mut model = BTreeSet::new();
            let mut resting = Vec::new();
            for (step, (add, spread, value)) in operations.into_iter().enumerate() {
                // Prices near each other, a window away, and at the ends of the range.
                let price = match spread {
                    0 => 1_000_000 + value,
                    1 => 1_000_000 + value * BOOK_WINDOW_TICKS as u64 / 8,
                    2 => 1 + value,
                    _ => u64::MAX - value,
                };
                if add && pool.free_count() > 0 && !book.is_full_for(PriceTicks(price)) {
                    let index = pool.take_with(super::super::orders::Order {
                        id: crate::types::OrderId(step as u64 + 1),
                        price: PriceTicks(price),
                        quantity: QuantitySteps(1),
                        remaining: QuantitySteps(1),
                        side,
                        ..super::super::orders::EMPTY_ORDER
                    });
                    book.push_back(&mut pool, index);
                    model.insert(price);
                    resting.push(index);
                } else if !resting.is_empty() {
                    let index = resting.swap_remove(value as usize % resting.len());
                    let price = pool.get(index).price;
                    book.unlink(&mut pool, index);
                    pool.give_back(index);
                    if book.find(price).is_none() {
                        model.remove(&price.0);
                    }
                }
                book.check(&pool).map_err(TestCaseError::fail)?;
                book.check_window_slots().map_err(TestCaseError::fail)?;
                let ranked: Vec<u64> = book.levels_best_first().map(|level| level.price.0).collect();
                let expected: Vec<u64> = match side {
                    Side::Bid => model.iter().rev().copied().collect(),
                    Side::Ask => model.iter().copied().collect(),
                };
                prop_assert_eq!(ranked, expected);
            }
        }
    }
}
