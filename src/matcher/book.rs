//! One side of one market's order book: price levels in priority order, each a FIFO of orders.
//!
//! Levels live in a preallocated slab; `ranked` lists the occupied ones sorted so that the best
//! price is **last** (bids ascending by price, asks descending), which makes the hot operations —
//! read the best level, drop an emptied best level, add a level near the top — touch the end of the
//! array. Finding a level by price is a binary search from the top. A full side refuses a new
//! price level (`ORDER_LIMIT`) before anything changes.

use super::orders::{NIL, OrderPool};
use crate::types::{PriceTicks, QuantitySteps, Side};

/// One price level.
#[derive(Clone, Copy, Debug)]
pub struct Level {
    /// The level's price.
    pub price: PriceTicks,
    /// Sum of `remaining` over its orders.
    pub total: QuantitySteps,
    /// Oldest order (matched first).
    pub head: u32,
    /// Newest order.
    pub tail: u32,
    /// Orders in the FIFO.
    pub orders: u32,
}

#[derive(Clone, Copy, Debug)]
struct Ranked {
    /// Sort key: the price for bids, its complement for asks, so best is the largest key.
    key: u64,
    level: u32,
}

/// Bids or asks of one market.
pub struct BookSide {
    side: Side,
    levels: Vec<Level>,
    free_levels: Vec<u32>,
    ranked: Vec<Ranked>,
}

impl BookSide {
    /// Allocates room for `levels_max` price levels.
    pub fn with_levels_max(side: Side, levels_max: u32) -> BookSide {
        let empty = Level {
            price: PriceTicks(0),
            total: QuantitySteps(0),
            head: NIL,
            tail: NIL,
            orders: 0,
        };
        BookSide {
            side,
            levels: vec![empty; levels_max as usize],
            free_levels: (0..levels_max).rev().collect(),
            ranked: Vec::with_capacity(levels_max as usize),
        }
    }

    #[inline]
    fn key(&self, price: PriceTicks) -> u64 {
        match self.side {
            Side::Bid => price.0,
            Side::Ask => !price.0,
        }
    }

    /// The best level's slot, if any.
    #[inline]
    pub fn best(&self) -> Option<u32> {
        self.ranked.last().map(|ranked| ranked.level)
    }

    /// The best price, if any.
    #[inline]
    pub fn best_price(&self) -> Option<PriceTicks> {
        self.best().map(|level| self.levels[level as usize].price)
    }

    /// Levels from best to worst.
    pub fn levels_best_first(&self) -> impl Iterator<Item = &Level> + '_ {
        self.ranked.iter().rev().map(|ranked| &self.levels[ranked.level as usize])
    }

    /// The level in `slot`.
    #[inline]
    pub fn level(&self, slot: u32) -> &Level {
        &self.levels[slot as usize]
    }

    #[inline]
    fn rank_of(&self, key: u64) -> Result<usize, usize> {
        // Most activity is at the top of the book: check the best level before searching.
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

    /// Whether an order at `price` would need a new level and none is free.
    #[inline]
    pub fn is_full_for(&self, price: PriceTicks) -> bool {
        self.free_levels.is_empty() && self.rank_of(self.key(price)).is_err()
    }

    /// Appends the order in `slot` to the FIFO at its price, creating the level if needed.
    /// The caller checked `!is_full_for(price)`.
    #[inline]
    pub fn push_back(&mut self, pool: &mut OrderPool, slot: u32) {
        let price = pool.get(slot).price;
        let key = self.key(price);
        let level_slot = match self.rank_of(key) {
            Ok(rank) => self.ranked[rank].level,
            Err(rank) => {
                let level_slot = self.free_levels.pop().expect("level capacity checked first");
                self.levels[level_slot as usize] =
                    Level { price, total: QuantitySteps(0), head: NIL, tail: NIL, orders: 0 };
                self.ranked.insert(rank, Ranked { key, level: level_slot });
                level_slot
            }
        };
        let level = &mut self.levels[level_slot as usize];
        let remaining = pool.get(slot).remaining;
        let previous_tail = level.tail;
        level.tail = slot;
        if previous_tail == NIL {
            level.head = slot;
        }
        level.total.0 += remaining.0;
        level.orders += 1;
        if previous_tail != NIL {
            pool.get_mut(previous_tail).level_next = slot;
        }
        let order = pool.get_mut(slot);
        order.level = level_slot;
        order.level_prev = previous_tail;
        order.level_next = NIL;
    }

    /// Unlinks the order in `slot` from its level, dropping the level if it empties.
    #[inline]
    pub fn unlink(&mut self, pool: &mut OrderPool, slot: u32) {
        let order = *pool.get(slot);
        let level = &mut self.levels[order.level as usize];
        debug_assert!(level.total.0 >= order.remaining.0);
        level.total.0 -= order.remaining.0;
        level.orders -= 1;
        if order.level_prev == NIL {
            level.head = order.level_next;
        } else {
            pool.get_mut(order.level_prev).level_next = order.level_next;
        }
        if order.level_next == NIL {
            level.tail = order.level_prev;
        } else {
            pool.get_mut(order.level_next).level_prev = order.level_prev;
        }
        if level.orders == 0 {
            debug_assert_eq!(level.total.0, 0);
            let rank = self
                .rank_of(self.key(order.price))
                .expect("an order's level is ranked while it has orders");
            self.ranked.remove(rank);
            self.free_levels.push(order.level);
        }
    }

    /// Records that the order in `slot` (still linked) lost `filled` of its remaining quantity.
    #[inline]
    pub fn reduce(&mut self, pool: &mut OrderPool, slot: u32, filled: QuantitySteps) {
        let order = pool.get_mut(slot);
        debug_assert!(order.remaining.0 > filled.0, "a full fill unlinks instead");
        order.remaining.0 -= filled.0;
        self.levels[order.level as usize].total.0 -= filled.0;
    }

    /// Full consistency check of this side against the pool (tests, not the hot path).
    pub fn check(&self, pool: &OrderPool) -> Result<usize, String> {
        let mut orders = 0;
        for pair in self.ranked.windows(2) {
            if pair[0].key >= pair[1].key {
                return Err(format!("{:?} levels out of order", self.side));
            }
        }
        for ranked in &self.ranked {
            let level = &self.levels[ranked.level as usize];
            if self.key(level.price) != ranked.key {
                return Err(format!("{:?} level key mismatch at {:?}", self.side, level.price));
            }
            let mut slot = level.head;
            let mut previous = NIL;
            let mut total = 0u64;
            let mut count = 0u32;
            let mut last_id = 0u64;
            while slot != NIL {
                let order = pool.get(slot);
                if order.level != ranked.level || order.level_prev != previous {
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
                previous = slot;
                slot = order.level_next;
            }
            if previous != level.tail
                || total != level.total.0
                || count != level.orders
                || count == 0
            {
                return Err(format!("level {:?} totals or tail wrong", level.price));
            }
            orders += count as usize;
        }
        Ok(orders)
    }
}
