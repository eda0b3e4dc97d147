//! The fan-out: every WebSocket stream message, rendered once and copied to each subscriber.
//!
//! **Reads** the events of each command net-out takes off ring C (only once the journal covers
//! them, like the REST answer: net-out's durability gate holds the whole record), the read-side
//! [`View`] just after the command's `finish`, the [`Subscriptions`], and the wall clock for `E`
//! and the timed streams. **Writes** whole WebSocket frames into a [`Sink`]: a public stream's
//! message once per group of connections that follow the same streams (net-out sends each
//! group's bytes to every member), an order update into the connection's own outbox.
//! **Owns** the per-market state the timed and deduplicated streams need: the aggregated depth
//! windows, the last bookTicker sent, the open kline buckets.
//!
//! **When each stream speaks** (API.md §9, §10):
//! - `depth.<sym>`: once per accepted order operation on the market, `U` = `u` = the market's new
//!   update id, even when no visible level changed; so every message has `U` = previous `u` + 1;
//! - `depth.<cadence>.<sym>`: once per window (aligned to the wall clock) that had updates: the
//!   absolute quantity now of every price touched in it, `U`..`u` the updates it covers. Touched
//!   prices are kept only while the cadence has subscribers; a window whose price list fills up
//!   (more distinct prices than the book has levels, twice) speaks early rather than forget one;
//! - `trade.<sym>`: per trade, from the maker's fill event (which comes first);
//! - `bookTicker.<sym>`: after a command that changed the best bid or ask (price or quantity);
//! - `ticker.<sym>`: every second on the second, the rolling 24 h;
//! - `kline.<interval>.<sym>`: on the second after trades (at most once a second), and once with
//!   `X: true` on the first second after its bucket closed;
//! - `account.orderUpdate[.<sym>]`: per order event of the account, data rendered once, the
//!   envelope per stream name the connection holds.
//!
//! **Allocation**: none once the scratch buffers have grown to the largest message.

use super::render::streams;
use super::subscriptions::{GroupId, Subscriptions};
use super::view::{DepthLevel, DepthUpdate, OrderRecord, View, settled as view_settled};
use crate::api::streams::{DepthCadence, Stream};
use crate::api::websocket::{Opcode, push_frame};
use crate::config::Config;
use crate::event::{Event, EventKind};
use crate::records::KlineInterval;
use crate::types::{MarketId, OrderType, PriceTicks, Side};

/// The position of the last event of the command's own market order, if it placed one and that
/// event is a fill: the matcher sends no closing event for a market order that spent its budget,
/// so that fill is shown `Filled`, as REST settles it (`view::settled`).
fn market_order_last_event(events: &[Event]) -> Option<usize> {
    let Some(EventKind::OrderAccepted(order)) = events.first().map(|event| event.kind) else {
        return None;
    };
    if order.order_type != OrderType::Market {
        return None;
    }
    let position = events.iter().rposition(|event| match &event.kind {
        EventKind::OrderFill(fill) => fill.order.order_id == order.order_id,
        EventKind::OrderExpired { order: ended, .. } | EventKind::OrderCancelled(ended) => {
            ended.order_id == order.order_id
        }
        _ => false,
    })?;
    matches!(events[position].kind, EventKind::OrderFill(_)).then_some(position)
}

/// The fill event with its order settled.
fn settled(event: &Event) -> Event {
    let mut event = *event;
    if let EventKind::OrderFill(fill) = &mut event.kind {
        fill.order = view_settled(OrderRecord { state: fill.order, expiry: None }).state;
    }
    event
}

/// Where frames go: net-out's outboxes and group buffers.
pub trait Sink {
    /// Appends one whole frame to `connection`'s output.
    fn deliver(&mut self, connection: u32, frame: &[u8]);
    /// Appends one whole frame, once, for every member of `group`.
    fn deliver_to_group(&mut self, group: GroupId, frame: &[u8]);
}

/// The aggregated depth cadences and their windows.
const CADENCES: [(DepthCadence, u64); 3] =
    [(DepthCadence::Ms200, 200), (DepthCadence::Ms600, 600), (DepthCadence::Ms1000, 1_000)];

/// Touched prices of one aggregated window.
struct Window {
    first_update_id: u64,
    last_update_id: u64,
    time_us: u64,
    bids: Vec<PriceTicks>,
    asks: Vec<PriceTicks>,
}

/// A kline bucket that has been reported open.
#[derive(Clone, Copy, Default)]
struct KlineState {
    /// The open bucket's start and end (s), if one was reported.
    open: Option<(u64, u64)>,
    /// A trade at this time (s) has not been reported yet.
    dirty_at_s: Option<u64>,
}

/// Per-market stream state.
struct MarketStreams {
    windows: [Window; 3],
    top: (Option<DepthLevel>, Option<DepthLevel>),
    klines: [KlineState; KlineInterval::COUNT],
}

/// The fan-out. See the module documentation.
pub struct Fanout {
    markets: Vec<MarketStreams>,
    /// One message's JSON.
    payload: Vec<u8>,
    /// One order update's `data` object.
    data: Vec<u8>,
    /// One message as a frame.
    frame: Vec<u8>,
    bids: Vec<DepthLevel>,
    asks: Vec<DepthLevel>,
    window_ends_ms: [u64; 3],
    next_second_ms: u64,
    prices_max: usize,
}

impl Fanout {
    /// Buffers for `config`'s markets, each window holding up to twice a side's level count.
    pub fn new(config: &Config) -> Fanout {
        let prices_max = 2 * config.limits.levels_per_side_max as usize + 2;
        let window = || Window {
            first_update_id: 0,
            last_update_id: 0,
            time_us: 0,
            bids: Vec::with_capacity(prices_max),
            asks: Vec::with_capacity(prices_max),
        };
        Fanout {
            markets: (0..config.markets.len())
                .map(|_| MarketStreams {
                    windows: [window(), window(), window()],
                    top: (None, None),
                    klines: [KlineState::default(); KlineInterval::COUNT],
                })
                .collect(),
            payload: Vec::with_capacity(1 << 20),
            data: Vec::with_capacity(4 << 10),
            frame: Vec::with_capacity(1 << 20),
            bids: Vec::with_capacity(prices_max),
            asks: Vec::with_capacity(prices_max),
            window_ends_ms: [0; 3],
            next_second_ms: 0,
            prices_max,
        }
    }

    /// Frames `self.payload` and hands it to every group in `to`.
    fn send(&mut self, to: &[GroupId], sink: &mut impl Sink) {
        self.frame.clear();
        push_frame(&mut self.frame, Opcode::Text, &self.payload);
        for &group in to {
            sink.deliver_to_group(group, &self.frame);
        }
    }

    /// The streams of one command, just after `view.finish`: its events in order, then depth,
    /// bookTicker and the aggregated windows of the market it touched.
    pub fn on_command(
        &mut self,
        view: &View,
        subscriptions: &Subscriptions,
        events: &[Event],
        now_us: u64,
        sink: &mut impl Sink,
    ) {
        let config = &**view.config();
        let market_taker_last = market_order_last_event(events);
        for (position, event) in events.iter().enumerate() {
            let event = if Some(position) == market_taker_last { settled(event) } else { *event };
            self.on_event(config, subscriptions, &event, now_us, sink);
        }
        let Some(market) = view.last_command_market() else {
            return;
        };
        let update = view.last_depth_update(market).expect("the command touched the market");
        let realtime = Stream::Depth { market, cadence: DepthCadence::Realtime };
        let to = subscriptions.groups(&realtime);
        if !to.is_empty() {
            self.payload.clear();
            streams::begin_message(&mut self.payload, config, &realtime);
            streams::write_depth(&mut self.payload, config, &update, now_us);
            streams::end_message(&mut self.payload);
            self.send(to, sink);
        }
        self.accumulate(view, subscriptions, &update, now_us, sink);
        let top = view.best_bid_ask(market);
        if top != self.markets[market.0 as usize].top {
            self.markets[market.0 as usize].top = top;
            let stream = Stream::BookTicker(market);
            let to = subscriptions.groups(&stream);
            if !to.is_empty() {
                self.payload.clear();
                streams::begin_message(&mut self.payload, config, &stream);
                let (update_id, time_us) = (update.last_update_id, update.time_us);
                streams::write_book_ticker(
                    &mut self.payload,
                    config,
                    market,
                    top,
                    update_id,
                    time_us,
                    now_us,
                );
                streams::end_message(&mut self.payload);
                self.send(to, sink);
            }
        }
    }

    fn on_event(
        &mut self,
        config: &Config,
        subscriptions: &Subscriptions,
        event: &Event,
        now_us: u64,
        sink: &mut impl Sink,
    ) {
        let order = match &event.kind {
            EventKind::OrderFill(fill) => {
                let market = fill.order.market;
                if fill.is_maker {
                    let stream = Stream::Trade(market);
                    let to = subscriptions.groups(&stream);
                    if !to.is_empty() {
                        self.payload.clear();
                        streams::begin_message(&mut self.payload, config, &stream);
                        streams::write_trade(
                            &mut self.payload,
                            config,
                            fill,
                            event.time_us,
                            now_us,
                        );
                        streams::end_message(&mut self.payload);
                        self.send(to, sink);
                    }
                    for kline in &mut self.markets[market.0 as usize].klines {
                        kline.dirty_at_s = Some(event.time_us / 1_000_000);
                    }
                }
                &fill.order
            }
            EventKind::OrderAccepted(order) | EventKind::OrderCancelled(order) => order,
            EventKind::OrderExpired { order, .. } => order,
            _ => return,
        };
        let to = subscriptions.order_update_connections(order.account);
        if to.is_empty() {
            return;
        }
        self.data.clear();
        if !streams::write_order_update(&mut self.data, config, event, now_us) {
            return;
        }
        for &connection in to {
            for stream in subscriptions.order_update_streams(connection, order.market) {
                self.payload.clear();
                streams::begin_message(&mut self.payload, config, &stream);
                self.payload.extend_from_slice(&self.data);
                streams::end_message(&mut self.payload);
                self.frame.clear();
                push_frame(&mut self.frame, Opcode::Text, &self.payload);
                sink.deliver(connection, &self.frame);
            }
        }
    }

    /// Adds a command's touched prices to the market's open aggregated windows.
    fn accumulate(
        &mut self,
        view: &View,
        subscriptions: &Subscriptions,
        update: &DepthUpdate<'_>,
        now_us: u64,
        sink: &mut impl Sink,
    ) {
        let market = update.market;
        for (slot, (cadence, _)) in CADENCES.iter().enumerate() {
            let stream = Stream::Depth { market, cadence: *cadence };
            if !subscriptions.has_subscribers(&stream) {
                let window = &mut self.markets[market.0 as usize].windows[slot];
                window.first_update_id = 0;
                window.bids.clear();
                window.asks.clear();
                continue;
            }
            let window = &mut self.markets[market.0 as usize].windows[slot];
            let room = self.prices_max;
            let fits = |prices: &mut Vec<PriceTicks>, adding: usize| {
                if prices.len() + adding > room {
                    prices.sort_unstable();
                    prices.dedup();
                }
                prices.len() + adding <= room
            };
            let (bids, asks) = (update.bids.len(), update.asks.len());
            if !(fits(&mut window.bids, bids) && fits(&mut window.asks, asks)) {
                self.emit_window(view, subscriptions, market, slot, now_us, sink);
            }
            let window = &mut self.markets[market.0 as usize].windows[slot];
            if window.first_update_id == 0 {
                window.first_update_id = update.first_update_id;
            }
            window.last_update_id = update.last_update_id;
            window.time_us = update.time_us;
            window.bids.extend(update.bids.iter().map(|level| level.price));
            window.asks.extend(update.asks.iter().map(|level| level.price));
        }
    }

    /// Sends one aggregated window's message (absolute quantities now) and empties it.
    fn emit_window(
        &mut self,
        view: &View,
        subscriptions: &Subscriptions,
        market: MarketId,
        slot: usize,
        now_us: u64,
        sink: &mut impl Sink,
    ) {
        let window = &mut self.markets[market.0 as usize].windows[slot];
        if window.first_update_id == 0 {
            return;
        }
        let level_of =
            |side, price| DepthLevel { price, quantity: view.level_quantity(market, side, price) };
        for (prices, levels, side) in [
            (&mut window.bids, &mut self.bids, Side::Bid),
            (&mut window.asks, &mut self.asks, Side::Ask),
        ] {
            prices.sort_unstable();
            prices.dedup();
            levels.clear();
            levels.extend(prices.iter().map(|&price| level_of(side, price)));
            prices.clear();
        }
        let update = DepthUpdate {
            market,
            first_update_id: window.first_update_id,
            last_update_id: window.last_update_id,
            time_us: window.time_us,
            bids: &self.bids,
            asks: &self.asks,
        };
        window.first_update_id = 0;
        let stream = Stream::Depth { market, cadence: CADENCES[slot].0 };
        let config = &**view.config();
        self.payload.clear();
        streams::begin_message(&mut self.payload, config, &stream);
        streams::write_depth(&mut self.payload, config, &update, now_us);
        streams::end_message(&mut self.payload);
        let to = subscriptions.groups(&stream);
        self.send(to, sink);
    }

    /// The timed streams: aggregated depth windows that ended, and on each new second the
    /// tickers and klines.
    pub fn on_timer(
        &mut self,
        view: &View,
        subscriptions: &Subscriptions,
        now_us: u64,
        sink: &mut impl Sink,
    ) {
        let now_ms = now_us / 1_000;
        for (slot, (_, window_ms)) in CADENCES.iter().enumerate() {
            if now_ms < self.window_ends_ms[slot] {
                continue;
            }
            self.window_ends_ms[slot] = (now_ms / window_ms + 1) * window_ms;
            for market in 0..self.markets.len() {
                self.emit_window(view, subscriptions, MarketId(market as u16), slot, now_us, sink);
            }
        }
        if now_ms < self.next_second_ms {
            return;
        }
        self.next_second_ms = (now_ms / 1_000 + 1) * 1_000;
        for market in 0..self.markets.len() {
            let market = MarketId(market as u16);
            self.tick_ticker(view, subscriptions, market, now_us, sink);
            for interval in KlineInterval::all() {
                self.tick_kline(view, subscriptions, market, interval, now_us, sink);
            }
        }
    }

    fn tick_ticker(
        &mut self,
        view: &View,
        subscriptions: &Subscriptions,
        market: MarketId,
        now_us: u64,
        sink: &mut impl Sink,
    ) {
        let stream = Stream::Ticker(market);
        let to = subscriptions.groups(&stream);
        if to.is_empty() {
            return;
        }
        let config = &**view.config();
        let ticker = view.ticker(market, crate::records::TickerWindow::Day, now_us);
        self.payload.clear();
        streams::begin_message(&mut self.payload, config, &stream);
        streams::write_ticker(&mut self.payload, config, market, &ticker, now_us);
        streams::end_message(&mut self.payload);
        self.send(to, sink);
    }

    fn tick_kline(
        &mut self,
        view: &View,
        subscriptions: &Subscriptions,
        market: MarketId,
        interval: KlineInterval,
        now_us: u64,
        sink: &mut impl Sink,
    ) {
        let stream = Stream::Kline { market, interval };
        let state = &mut self.markets[market.0 as usize].klines[interval.index()];
        if !subscriptions.has_subscribers(&stream) {
            *state = KlineState::default();
            return;
        }
        let now_s = now_us / 1_000_000;
        let mut report = [None, None];
        if let Some((start_s, end_s)) = state.open
            && now_s >= end_s
        {
            report[0] = view.kline_at(market, interval, start_s).map(|kline| (kline, true));
            state.open = None;
        }
        if let Some(time_s) = state.dirty_at_s.take()
            && let Some(kline) = view.kline_at(market, interval, time_s)
        {
            let closed = now_s >= kline.end_s;
            if !closed {
                state.open = Some((kline.start_s, kline.end_s));
            }
            if report[0].is_none_or(|(reported, _)| reported.start_s != kline.start_s) {
                report[1] = Some((kline, closed));
            }
        }
        let config = &**view.config();
        for (kline, closed) in report.into_iter().flatten() {
            self.payload.clear();
            streams::begin_message(&mut self.payload, config, &stream);
            streams::write_kline(&mut self.payload, config, market, &kline, closed, now_us);
            streams::end_message(&mut self.payload);
            self.send(subscriptions.groups(&stream), sink);
        }
    }
}
