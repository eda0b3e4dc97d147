//! The read-side book: per market and side, the total resting quantity at each price
//! (`DepthSide` of [`DepthLevel`]s), and the levels one command changed ([`DepthUpdate`], for the
//! depth stream). Not the matcher's book (`matcher::book::{BookSide, Level}`, orders in time
//! priority): this one holds only the sum per price, rebuilt from events.
//!
//! **Written by** the view's event handlers: a maker fill, a cancel or an expiry removes resting
//! quantity; the command's own order adds its remainder at `finish` if it rests.
//!
//! **Bounds**: `levels_per_side_max` levels per side (the configuration's, the matcher's own
//! bound), reserved in `new`; one level more is a programmer error (asserted), since the events
//! only ever describe a book the matcher held.
//!
//! **Invariants**: levels are sorted so that the best is last (bids ascending by price, asks
//! descending): the busy top of the book sits at the end of the array. Every level holds a
//! positive quantity (a level that reaches zero is removed), and events remove only quantity
//! that rests (asserted).

use crate::types::{MarketId, PriceTicks, QuantitySteps, Side};

/// One price level of the read-side book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DepthLevel {
    /// Price.
    pub price: PriceTicks,
    /// Total resting quantity (zero in a depth update: the level is gone).
    pub quantity: QuantitySteps,
}

/// The book levels one command changed, with absolute quantities (zero: the level is gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthUpdate<'a> {
    /// The market.
    pub market: MarketId,
    /// First update id covered (`U`); equals `last_update_id`: one command is one update.
    pub first_update_id: u64,
    /// Last update id covered (`u`).
    pub last_update_id: u64,
    /// Engine time of the command, Unix µs.
    pub time_us: u64,
    /// Changed bid levels, ascending by price.
    pub bids: &'a [DepthLevel],
    /// Changed ask levels, ascending by price.
    pub asks: &'a [DepthLevel],
}

/// One side of the read-side book, sorted so that the best level is last (bids ascending by
/// price, asks descending): the busy top of the book sits at the end of the array.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct DepthSide {
    side: Side,
    levels: Vec<DepthLevel>,
}

impl DepthSide {
    /// Room for `levels_max` levels again, after a snapshot was read.
    pub(super) fn restore_capacity(&mut self, levels_max: u32) {
        crate::fixed::reserve_total(&mut self.levels, levels_max as usize);
    }

    pub(super) fn new(side: Side, levels_max: u32) -> DepthSide {
        DepthSide { side, levels: Vec::with_capacity(levels_max as usize) }
    }

    /// The levels, best last.
    pub(super) fn levels(&self) -> &[DepthLevel] {
        &self.levels
    }

    /// The best level, if any.
    pub(super) fn best(&self) -> Option<DepthLevel> {
        self.levels.last().copied()
    }

    fn key(&self, price: PriceTicks) -> u64 {
        match self.side {
            Side::Bid => price.0,
            Side::Ask => !price.0,
        }
    }

    fn find(&self, price: PriceTicks) -> Result<usize, usize> {
        let key = self.key(price);
        if let Some(best) = self.levels.last() {
            if self.key(best.price) == key {
                return Ok(self.levels.len() - 1);
            }
            if self.key(best.price) < key {
                return Err(self.levels.len());
            }
        }
        self.levels.binary_search_by_key(&key, |level| self.key(level.price))
    }

    pub(super) fn add(&mut self, price: PriceTicks, quantity: QuantitySteps) {
        debug_assert!(quantity.0 > 0);
        match self.find(price) {
            Ok(index) => self.levels[index].quantity.0 += quantity.0,
            Err(index) => {
                assert!(self.levels.len() < self.levels.capacity(), "more levels than the matcher");
                self.levels.insert(index, DepthLevel { price, quantity });
            }
        }
    }

    pub(super) fn remove(&mut self, price: PriceTicks, quantity: QuantitySteps) {
        let index = self.find(price).expect("events remove only resting quantity");
        let level = &mut self.levels[index];
        level.quantity.0 =
            level.quantity.0.checked_sub(quantity.0).expect("events remove only resting quantity");
        if level.quantity.0 == 0 {
            self.levels.remove(index);
        }
    }

    pub(super) fn quantity_at(&self, price: PriceTicks) -> QuantitySteps {
        self.find(price).map_or(QuantitySteps(0), |index| self.levels[index].quantity)
    }
}

/// Sorts levels by price and drops repeated prices, in place.
pub(super) fn compact(levels: &mut Vec<DepthLevel>) {
    levels.sort_unstable_by_key(|level| level.price);
    levels.dedup_by_key(|level| level.price);
}
