//! The last trades of one market ([`Trade`] in a `TradeRing`), for `GET /api/v1/trades` and
//! `/trades/history`.
//!
//! **Written by** the view on every maker fill (one trade each), through the market's
//! `record_trade`.
//!
//! **Bounds**: `ViewLimits::trades_per_market_max` trades per market, reserved in `new` and written
//! in order; a full ring overwrites its oldest trade.
//!
//! **Invariants**: trades arrive in trade-id order; the ring holds the last
//! `min(count, capacity)` of them, trade number *n* (from 0) in slot *n* mod capacity.

use crate::types::{PriceTicks, QuantitySteps};

/// One public trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Trade {
    /// Trade id, per market from 1.
    pub id: u64,
    /// Price (the maker's).
    pub price: PriceTicks,
    /// Base traded.
    pub quantity: QuantitySteps,
    /// Quote traded, in quote units.
    pub quote: u64,
    /// Engine time, Unix µs.
    pub time_us: u64,
    /// Whether the buyer's order was resting.
    pub is_buyer_maker: bool,
}

/// The last trades of one market.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct TradeRing {
    trades: Vec<Trade>,
    capacity: u64,
    /// Trades ever recorded.
    count: u64,
}

impl TradeRing {
    /// Room for `capacity` trades again, after a snapshot was read.
    pub(super) fn restore_capacity(&mut self) {
        crate::fixed::reserve_total(&mut self.trades, self.capacity as usize);
    }

    pub(super) fn new(capacity: u32) -> TradeRing {
        assert!(capacity > 0, "the trade ring needs room for one trade");
        TradeRing {
            trades: Vec::with_capacity(capacity as usize),
            capacity: u64::from(capacity),
            count: 0,
        }
    }

    pub(super) fn push(&mut self, trade: Trade) {
        let slot = (self.count % self.capacity) as usize;
        if slot < self.trades.len() {
            self.trades[slot] = trade;
        } else {
            self.trades.push(trade);
        }
        self.count += 1;
    }

    /// The newest `limit` trades after skipping the `offset` newest, oldest first.
    pub(super) fn latest(&self, limit: u64, offset: u64) -> impl Iterator<Item = &Trade> + '_ {
        let oldest = self.count - self.trades.len() as u64;
        let end = self.count.saturating_sub(offset).max(oldest);
        let start = end.saturating_sub(limit).max(oldest);
        (start..end).map(move |index| &self.trades[(index % self.capacity) as usize])
    }
}
