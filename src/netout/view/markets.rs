//! One market's read models side by side (`MarketView`): its two depth sides, its update id, its
//! trade ring, its candles at three granularities and its last price; and [`Ticker`], the rolling
//! window the view aggregates from them.
//!
//! **Written by** the view's event handlers (book changes, trades) and its `finish` (the update
//! id).
//!
//! **Bounds**: the depth sides' and the trade ring's (their files), and three candle tiers
//! allocated in full: 1 s × 3,600 (the last hour), 1 min × 44,640 (31 days), 1 h × 17,568 (732
//! days), 65,808 candles of 64 B ≈ 4.2 MB per market.
//!
//! **Invariants**: `update_id` counts the accepted order operations on the market (API.md
//! §10(a)); `last_price` is the last trade's price ever, also once its candles are out of
//! retention.

use super::candles::{CandleRing, Ohlcv};
use super::depth::DepthSide;
use super::trades::{Trade, TradeRing};
use crate::types::{PriceTicks, QuantitySteps, Side};

/// A rolling ticker window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticker {
    /// The window's trades, `None` when it had none.
    pub window: Option<Ohlcv>,
    /// The market's last traded price ever, `None` before the first trade.
    pub last_price: Option<PriceTicks>,
}

impl Ticker {
    /// The figures a ticker shows, REST and stream alike (API.md §5, **ringex**): the window's
    /// trades; with none in the window, the last traded price (zero before the first trade) as
    /// open, high, low and close, and zero volumes and trade count.
    pub fn shown(&self) -> Ohlcv {
        self.window.unwrap_or_else(|| {
            let price = self.last_price.unwrap_or(PriceTicks(0));
            Ohlcv {
                open: price,
                high: price,
                low: price,
                close: price,
                volume: QuantitySteps(0),
                quote: 0,
                trades: 0,
            }
        })
    }
}

const SECOND_BUCKETS: usize = 3_600; // 1 hour
const MINUTE_BUCKETS: usize = 31 * 1_440; // 31 days
const HOUR_BUCKETS: usize = 732 * 24; // 732 days

/// One market's book sides, update id, trades, candles and last price.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct MarketView {
    bids: DepthSide,
    asks: DepthSide,
    /// API.md §10(a): +1 per accepted order operation; 0 before any.
    pub(super) update_id: u64,
    /// The last trades.
    pub(super) trades: TradeRing,
    /// 1 s candles.
    pub(super) seconds: CandleRing,
    /// 1 min candles.
    pub(super) minutes: CandleRing,
    /// 1 h candles.
    pub(super) hours: CandleRing,
    /// The last trade's price, `None` before the first trade.
    pub(super) last_price: Option<PriceTicks>,
}

impl MarketView {
    /// Room for `levels_max` levels per side and the trade ring again, after a snapshot was read.
    pub(super) fn restore_capacity(&mut self, levels_max: u32) {
        self.bids.restore_capacity(levels_max);
        self.asks.restore_capacity(levels_max);
        self.trades.restore_capacity();
    }

    pub(super) fn new(levels_max: u32, trades_max: u32) -> MarketView {
        MarketView {
            bids: DepthSide::new(Side::Bid, levels_max),
            asks: DepthSide::new(Side::Ask, levels_max),
            update_id: 0,
            trades: TradeRing::new(trades_max),
            seconds: CandleRing::new(1, SECOND_BUCKETS),
            minutes: CandleRing::new(60, MINUTE_BUCKETS),
            hours: CandleRing::new(3_600, HOUR_BUCKETS),
            last_price: None,
        }
    }

    pub(super) fn side_mut(&mut self, side: Side) -> &mut DepthSide {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    pub(super) fn side(&self, side: Side) -> &DepthSide {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    pub(super) fn record_trade(&mut self, trade: Trade) {
        let stats = Ohlcv::of_trade(trade.price, trade.quantity, trade.quote);
        let time_s = trade.time_us / 1_000_000;
        self.seconds.record(time_s, &stats);
        self.minutes.record(time_s, &stats);
        self.hours.record(time_s, &stats);
        self.last_price = Some(trade.price);
        self.trades.push(trade);
    }
}
