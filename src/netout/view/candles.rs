//! Candles: open, high, low, close and volumes per time bucket ([`Ohlcv`]) in one ring per bucket
//! size (`CandleRing`), from which klines ([`Kline`]) and the rolling tickers are aggregated at
//! query time; and the kline buckets' bounds (`bucket_start_s`, `bucket_end_s`: aligned to the
//! epoch, weeks to Monday, months to the 1st, UTC).
//!
//! **Written by** the view on every trade, into each of the market's tiers, at the trade's engine
//! time (never a clock's).
//!
//! **Bounds**: a ring of `buckets` slots, allocated in full in `new` (the tiers' sizes are in
//! `markets.rs`); a trade whose bucket maps to a slot holding an older bucket overwrites it.
//!
//! **Invariants**: a slot holds the bucket whose start it records and is read only when that
//! start is the one asked for, so a stale slot is never taken for a current one; buckets more
//! than `(buckets − 1) × bucket_s` before the newest bucket with a trade are out of retention
//! and never read.

use crate::netout::calendar::{month_start_s, next_month_start_s, week_start_s};
use crate::records::KlineInterval;
use crate::types::{PriceTicks, QuantitySteps};

/// Open, high, low, close, volumes and trade count of some span of trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ohlcv {
    /// First trade's price.
    pub open: PriceTicks,
    /// Highest price.
    pub high: PriceTicks,
    /// Lowest price.
    pub low: PriceTicks,
    /// Last trade's price.
    pub close: PriceTicks,
    /// Base volume in steps (saturating).
    pub volume: QuantitySteps,
    /// Quote volume in quote units (saturating).
    pub quote: u64,
    /// Trades.
    pub trades: u64,
}

impl Ohlcv {
    pub(super) fn of_trade(price: PriceTicks, quantity: QuantitySteps, quote: u64) -> Ohlcv {
        Ohlcv {
            open: price,
            high: price,
            low: price,
            close: price,
            volume: quantity,
            quote,
            trades: 1,
        }
    }

    /// Folds a later span into this one.
    fn merge(&mut self, later: &Ohlcv) {
        self.high = self.high.max(later.high);
        self.low = self.low.min(later.low);
        self.close = later.close;
        self.volume = QuantitySteps(self.volume.0.saturating_add(later.volume.0));
        self.quote = self.quote.saturating_add(later.quote);
        self.trades += later.trades;
    }

    fn merge_into(slot: &mut Option<Ohlcv>, later: &Ohlcv) {
        match slot {
            Some(stats) => stats.merge(later),
            None => *slot = Some(*later),
        }
    }
}

/// One kline bucket with trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kline {
    /// Bucket start, Unix s.
    pub start_s: u64,
    /// Bucket end (exclusive), Unix s.
    pub end_s: u64,
    /// The bucket's trades.
    pub stats: Ohlcv,
}

/// Candles of one size in a ring indexed by bucket number.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct CandleRing {
    bucket_s: u64,
    /// `(bucket start, stats)`; a slot is current iff its start is the bucket asked for.
    candles: Vec<(u64, Ohlcv)>,
    /// Start of the newest bucket with a trade.
    newest_start_s: Option<u64>,
}

impl CandleRing {
    pub(super) fn new(bucket_s: u64, buckets: usize) -> CandleRing {
        let empty = Ohlcv::of_trade(PriceTicks(0), QuantitySteps(0), 0);
        CandleRing { bucket_s, candles: vec![(u64::MAX, empty); buckets], newest_start_s: None }
    }

    fn slot(&self, start_s: u64) -> usize {
        (start_s / self.bucket_s % self.candles.len() as u64) as usize
    }

    pub(super) fn record(&mut self, time_s: u64, trade: &Ohlcv) {
        let start_s = time_s - time_s % self.bucket_s;
        let slot = self.slot(start_s);
        let (slot_start_s, stats) = &mut self.candles[slot];
        if *slot_start_s == start_s {
            stats.merge(trade);
        } else {
            *slot_start_s = start_s;
            *stats = *trade;
        }
        self.newest_start_s = Some(self.newest_start_s.map_or(start_s, |s| s.max(start_s)));
    }

    /// The oldest and newest bucket starts still held, if any trade was recorded.
    pub(super) fn retained(&self) -> Option<(u64, u64)> {
        let newest = self.newest_start_s?;
        let span = (self.candles.len() as u64 - 1) * self.bucket_s;
        Some((newest.saturating_sub(span), newest))
    }

    fn get(&self, start_s: u64) -> Option<&Ohlcv> {
        let (slot_start_s, stats) = &self.candles[self.slot(start_s)];
        (*slot_start_s == start_s).then_some(stats)
    }

    /// Merges the buckets starting in `from_s..=to_s` (aligned to the bucket size) into `into`.
    pub(super) fn fold(&self, from_s: u64, to_s: u64, into: &mut Option<Ohlcv>) {
        let Some((oldest, newest)) = self.retained() else {
            return;
        };
        let mut start_s = from_s.max(oldest);
        debug_assert_eq!(start_s % self.bucket_s, 0);
        while start_s <= to_s.min(newest) {
            if let Some(stats) = self.get(start_s) {
                Ohlcv::merge_into(into, stats);
            }
            start_s += self.bucket_s;
        }
    }
}

/// Start of the kline bucket holding `unix_s`.
pub(super) fn bucket_start_s(interval: KlineInterval, unix_s: u64) -> u64 {
    match interval {
        KlineInterval::Seconds(604_800) => week_start_s(unix_s),
        KlineInterval::Seconds(size) => unix_s - unix_s % u64::from(size),
        KlineInterval::Month => month_start_s(unix_s),
    }
}

/// End (exclusive) of the kline bucket starting at `start_s`.
pub(super) fn bucket_end_s(interval: KlineInterval, start_s: u64) -> u64 {
    match interval {
        KlineInterval::Seconds(size) => start_s.saturating_add(u64::from(size)),
        KlineInterval::Month => next_month_start_s(start_s),
    }
}
