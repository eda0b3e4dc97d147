//! net-out's read-side view: everything the public and history endpoints answer from, built only
//! from the matcher's events, in order.
//!
//! **Reads** every [`Event`] net-out takes off ring C ([`View::apply`]), then the request's
//! `Done` ([`View::finish`], the command boundary). Replaying the journal through the matcher and
//! feeding its events here rebuilds the view exactly: nothing in it comes from a clock or from
//! anything but the events and the request extras.
//!
//! **Keeps**, all preallocated in [`View::new`] (bounded by [`ViewLimits`] and the configuration's
//! limits; nothing grows afterwards):
//! - account index ↔ key (from `AccountCreated`), an open-addressing table for key lookups;
//! - per market: the read-side book (price → total quantity per side), the per-market update id
//!   of API.md §10(a) and the levels the last command changed (for the depth stream); the last
//!   [`ViewLimits::trades_per_market_max`] trades; candles at three granularities — 1 s for the
//!   last hour, 1 min for the last 31 days, 1 h for the last 732 days — from which klines and
//!   the rolling 24 h / 7 d tickers are aggregated at query time;
//! - per account: fills (maker and taker sides), orders (every order with its latest state,
//!   updated in place), deposits and withdrawals, each in one global pool of records per kind
//!   where every record links to the previous and next record of its account, each account
//!   holding at most its quota (`[server] *_history_per_account_max`) and a full pool evicting
//!   from the largest holder (`history.rs` states the guarantee); a query looks at no more than
//!   `[server] history_scan_max` records.
//!
//! **Granularity**: the ticker windows are whole minutes: the minute holding `now` and the 1439
//! (24 h) or 10079 (7 d) minutes before it, so a window covers between 24 h − 60 s and 24 h of
//! trades. Klines are exact for every interval within the retention of the tier they read: `1s`
//! from the 1 s tier (last hour), `1m`..`30m` from the 1 min tier (31 days), `1h` and longer
//! (weeks and months too) from the 1 h tier (732 days); older buckets have dropped out.
//!
//! **Never**: allocates in `apply` or `finish` once built (every buffer is sized up front and
//! rings overwrite their oldest entry), blocks, or reads the clock.
//!
//! **Layout**: one file per read model, each opening with its bounds and invariants:
//! - `accounts.rs`: the account table (key → account index);
//! - `history.rs`: the per-account history pools, their quotas, and their records;
//! - `depth.rs`: the read-side book per side, its levels and the depth update;
//! - `trades.rs`: the recent-trade ring;
//! - `candles.rs`: the candle rings and the kline buckets;
//! - `markets.rs`: one market's book sides, trades and candles side by side, and the ticker.
//!
//! This file holds the [`View`] itself: its limits, the event handlers that write every read
//! model, the command in progress, and the queries.
//!
//! Architecture Invariant: the view is a pure function of the event stream and the extras of the
//! requests that produced it.

mod accounts;
mod candles;
mod depth;
mod history;
mod markets;
mod trades;

pub use candles::{Kline, Ohlcv};
pub use depth::{DepthLevel, DepthUpdate};
pub use history::{DepositRecord, FillRecord, OrderRecord, WithdrawalRecord};
pub use markets::Ticker;
pub use trades::Trade;

use crate::config::Config;
use crate::event::{Event, EventKind, Fill, OrderState, Transfer, TransferKind};
use crate::fixed::FixedMap;
use crate::records::{Extras, HistoryFilter, KlineInterval, Outcome, TickerWindow};
use crate::types::{
    AccountIndex, AccountKey, ExpiryReason, MarketId, OrderStatus, OrderType, PriceTicks,
    QuantitySteps, SequenceNumber, Side, TimeInForce,
};
use accounts::AccountTable;
use candles::{bucket_end_s, bucket_start_s};
use depth::compact;
use history::History;
use markets::MarketView;
use std::sync::Arc;

/// Sizes of the view's history pools (their per-account quotas are the configuration's
/// `[server] *_history_per_account_max`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewLimits {
    /// Fill records over all accounts (one per side of a trade).
    pub fills_max: u32,
    /// Order records over all accounts.
    pub orders_max: u32,
    /// Deposit records over all accounts.
    pub deposits_max: u32,
    /// Withdrawal records (user and administrator) over all accounts.
    pub withdrawals_max: u32,
    /// Recent trades kept per market (`GET /api/v1/trades`, `/trades/history`).
    pub trades_per_market_max: u32,
}

impl Default for ViewLimits {
    /// 1M fills (96 B each: 96 MB), 1M orders (120 B: 120 MB), 100k deposits (56 B: 5.6 MB),
    /// 100k withdrawals (264 B: 26 MB), 10k trades per market (48 B: 0.5 MB). Rings are reserved
    /// up front and written in order, so their pages are touched only as records arrive. Besides
    /// these, per market: candles (65,808 × 64 B ≈ 4.2 MB) and two book sides of
    /// `levels_per_side_max` levels (16 B each); per account of `accounts_max`: 80 B of chain
    /// heads, tails and counts, 40 B of key and lookup slots; the resting-order index (`orders_max`).
    fn default() -> ViewLimits {
        ViewLimits {
            fills_max: 1_000_000,
            orders_max: 1_000_000,
            deposits_max: 100_000,
            withdrawals_max: 100_000,
            trades_per_market_max: 10_000,
        }
    }
}

/// What the current command did so far; reset at the next command's first event.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct CommandScratch {
    /// Inside a command: events applied since the last `finish`.
    open: bool,
    sequence: SequenceNumber,
    time_us: u64,
    /// The market an accepted order operation touched.
    market: Option<MarketId>,
    /// The command's own order: its latest state, expiry, and order-history slot.
    taker: Option<(OrderRecord, usize)>,
    /// The user withdrawal record the command created: its slot and withdrawal id.
    withdrawal: Option<(usize, u32)>,
    /// Changed bid and ask prices; quantities are filled in at `finish`.
    changed_bids: Vec<DepthLevel>,
    changed_asks: Vec<DepthLevel>,
}

/// net-out's read-side view. See the module documentation.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct View {
    /// Not in a snapshot: restored from the running configuration (`Config::placeholder`
    /// until then), which a snapshot's fingerprint must match.
    #[serde(skip, default = "Config::placeholder")]
    config: Arc<Config>,
    accounts: AccountTable,
    markets: Vec<MarketView>,
    fills: History<FillRecord>,
    orders: History<OrderRecord>,
    deposits: History<DepositRecord>,
    withdrawals: History<WithdrawalRecord>,
    /// Order id → order-history slot, for every resting order.
    resting: FixedMap,
    command: CommandScratch,
}

impl View {
    /// Builds an empty view, allocating every structure from `config.limits` and `limits`.
    pub fn new(config: Arc<Config>, limits: ViewLimits) -> View {
        let accounts_max = config.limits.accounts_max;
        let levels_max = config.limits.levels_per_side_max;
        // A command may touch every level of a side plus the taker's own: dedup keeps it below.
        let changed_max = levels_max as usize + 2;
        let server = &config.server;
        View {
            accounts: AccountTable::new(accounts_max),
            markets: (0..config.markets.len())
                .map(|_| MarketView::new(levels_max, limits.trades_per_market_max))
                .collect(),
            fills: History::new(
                limits.fills_max,
                server.fills_history_per_account_max,
                accounts_max,
            ),
            orders: History::new(
                limits.orders_max,
                server.orders_history_per_account_max,
                accounts_max,
            ),
            deposits: History::new(
                limits.deposits_max,
                server.deposits_history_per_account_max,
                accounts_max,
            ),
            withdrawals: History::new(
                limits.withdrawals_max,
                server.withdrawals_history_per_account_max,
                accounts_max,
            ),
            resting: FixedMap::with_entries_max(config.limits.orders_max as usize),
            command: CommandScratch {
                open: false,
                sequence: SequenceNumber(0),
                time_us: 0,
                market: None,
                taker: None,
                withdrawal: None,
                changed_bids: Vec::with_capacity(changed_max),
                changed_asks: Vec::with_capacity(changed_max),
            },
            config,
        }
    }

    /// The configuration the view was built for.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// This view, read from a snapshot, made ready for `config` (the one whose state
    /// fingerprint the snapshot carries): the configuration put back and every growable table
    /// given back its preallocated room.
    pub fn restore(&mut self, config: Arc<Config>) {
        let levels_max = config.limits.levels_per_side_max;
        self.accounts.restore_capacity(config.limits.accounts_max);
        for market in &mut self.markets {
            market.restore_capacity(levels_max);
        }
        self.fills.restore_capacity();
        self.orders.restore_capacity();
        self.deposits.restore_capacity();
        self.withdrawals.restore_capacity();
        let changed_max = levels_max as usize + 2;
        crate::fixed::reserve_total(&mut self.command.changed_bids, changed_max);
        crate::fixed::reserve_total(&mut self.command.changed_asks, changed_max);
        self.config = config;
    }

    /// Takes one event, in ring order.
    pub fn apply(&mut self, event: &Event) {
        self.begin_command();
        self.command.sequence = event.sequence;
        self.command.time_us = event.time_us;
        match event.kind {
            EventKind::AccountCreated { account, key } => self.accounts.insert(account, key),
            EventKind::OrderAccepted(state) => self.on_accepted(&state),
            EventKind::OrderFill(fill) => self.on_fill(&fill, event.time_us),
            EventKind::OrderCancelled(state) => self.on_closed(&state, None),
            EventKind::OrderExpired { order, reason } => self.on_closed(&order, Some(reason)),
            EventKind::Transfer(transfer) => self.on_transfer(&transfer, event.time_us),
            EventKind::Rejected { .. }
            | EventKind::FreezeChanged { .. }
            | EventKind::Balance { .. }
            | EventKind::OrderSnapshot(_)
            | EventKind::StateSummary { .. }
            | EventKind::AssetTotals { .. } => {}
        }
    }

    /// Ends the request whose events came before: rests the command's own order if it stays
    /// open, attaches a withdrawal's extras, advances the market's update id.
    pub fn finish(&mut self, outcome: &Outcome, extras: &Extras) {
        self.begin_command();
        if let Outcome::Command { sequence, .. } = outcome
            && self.command.sequence != SequenceNumber(0)
        {
            assert_eq!(*sequence, self.command.sequence, "events of another command");
        }
        if let Some((record, slot)) = self.command.taker.take() {
            self.settle_taker(record, slot);
        }
        if let Some((slot, id)) = self.command.withdrawal.take()
            && let Some(record) = self.withdrawals.at_slot_mut(slot)
            && record.id == id
        {
            record.extras = *extras;
        }
        if let Some(market) = self.command.market {
            self.markets[market.0 as usize].update_id += 1;
            self.settle_depth_update(market);
        }
        self.command.open = false;
    }

    fn begin_command(&mut self) {
        if self.command.open {
            return;
        }
        let command = &mut self.command;
        command.open = true;
        command.sequence = SequenceNumber(0);
        command.market = None;
        command.taker = None;
        command.withdrawal = None;
        command.changed_bids.clear();
        command.changed_asks.clear();
    }

    fn on_accepted(&mut self, state: &OrderState) {
        assert_eq!(state.order_id.0, self.command.sequence.0, "accepted: the command's order");
        self.command.market = Some(state.market);
        let record = OrderRecord { state: *state, expiry: None };
        let slot = self.orders.push(state.account, record);
        self.command.taker = Some((record, slot));
    }

    fn on_fill(&mut self, fill: &Fill, time_us: u64) {
        let order = &fill.order;
        self.command.market = Some(order.market);
        if fill.is_maker {
            self.book_remove(order.market, order.side, fill.price, fill.quantity);
            let trade = Trade {
                id: fill.trade_id,
                price: fill.price,
                quantity: fill.quantity,
                quote: fill.quote,
                time_us,
                is_buyer_maker: order.side == Side::Bid,
            };
            self.markets[order.market.0 as usize].record_trade(trade);
            self.update_resting(order, None);
        } else {
            self.update_taker(order, None);
        }
        let record = FillRecord {
            trade_id: fill.trade_id,
            order_id: order.order_id,
            client_id: order.client_id,
            market: order.market,
            side: order.side,
            is_maker: fill.is_maker,
            fee_asset: fill.fee_asset,
            price: fill.price,
            quantity: fill.quantity,
            fee: fill.fee,
            time_us,
        };
        self.fills.push(order.account, record);
    }

    /// A cancel, or an expiry of the command's own order or of a resting one.
    fn on_closed(&mut self, state: &OrderState, expiry: Option<ExpiryReason>) {
        self.command.market = Some(state.market);
        if state.order_id.0 == self.command.sequence.0 {
            assert!(expiry.is_some(), "a command never cancels its own order");
            self.update_taker(state, expiry);
            return;
        }
        let remaining = QuantitySteps(state.quantity.0 - state.executed_quantity.0);
        self.book_remove(state.market, state.side, state.price, remaining);
        self.update_resting(state, expiry);
    }

    fn on_transfer(&mut self, transfer: &Transfer, time_us: u64) {
        match transfer.kind {
            TransferKind::Deposit => {
                self.deposits.push(transfer.account, DepositRecord::of(transfer, time_us));
            }
            TransferKind::AdminWithdrawal | TransferKind::Withdrawal => {
                let record = WithdrawalRecord::of(transfer, time_us, Extras::default());
                let slot = self.withdrawals.push(transfer.account, record);
                if !record.internal {
                    self.command.withdrawal = Some((slot, record.id));
                }
            }
        }
    }

    fn update_taker(&mut self, state: &OrderState, expiry: Option<ExpiryReason>) {
        let (record, _) = self.command.taker.as_mut().expect("the command's order was accepted");
        assert_eq!(record.state.order_id, state.order_id);
        *record = OrderRecord { state: *state, expiry };
    }

    /// Writes a resting order's new state into its history record (if still held); forgets it
    /// once it is closed.
    fn update_resting(&mut self, state: &OrderState, expiry: Option<ExpiryReason>) {
        let id = state.order_id.0;
        let slot =
            if state.status.is_open() { self.resting.get(id) } else { self.resting.remove(id) };
        let slot = slot.expect("events name only resting orders besides the command's own");
        if let Some(record) = self.orders.at_slot_mut(slot as usize)
            && record.state.order_id == state.order_id
        {
            *record = OrderRecord { state: *state, expiry };
        }
    }

    /// The command's own order at the end of the command: rests if still open.
    fn settle_taker(&mut self, record: OrderRecord, slot: usize) {
        let record = settled(record);
        let state = &record.state;
        if state.status.is_open() {
            assert!(state.order_type == OrderType::Limit, "only limit orders rest");
            assert!(state.time_in_force == TimeInForce::Gtc, "only GTC orders rest");
            let remaining = QuantitySteps(state.quantity.0 - state.executed_quantity.0);
            self.book_add(state.market, state.side, state.price, remaining);
            let inserted = self.resting.insert(state.order_id.0, slot as u32);
            assert!(inserted, "more resting orders than the matcher holds");
        }
        if let Some(held) = self.orders.at_slot_mut(slot)
            && held.state.order_id == state.order_id
        {
            *held = record;
        }
    }

    fn book_add(&mut self, market: MarketId, side: Side, price: PriceTicks, q: QuantitySteps) {
        self.markets[market.0 as usize].side_mut(side).add(price, q);
        self.note_changed(side, price);
    }

    fn book_remove(&mut self, market: MarketId, side: Side, price: PriceTicks, q: QuantitySteps) {
        if q.0 == 0 {
            return;
        }
        self.markets[market.0 as usize].side_mut(side).remove(price, q);
        self.note_changed(side, price);
    }

    fn note_changed(&mut self, side: Side, price: PriceTicks) {
        let changed = match side {
            Side::Bid => &mut self.command.changed_bids,
            Side::Ask => &mut self.command.changed_asks,
        };
        if changed.last().is_some_and(|level| level.price == price) {
            return;
        }
        if changed.len() == changed.capacity() {
            compact(changed);
        }
        assert!(changed.len() < changed.capacity(), "more changed levels than levels");
        changed.push(DepthLevel { price, quantity: QuantitySteps(0) });
    }

    /// Sorts and dedups the changed levels and fills in their quantities after the command.
    fn settle_depth_update(&mut self, market: MarketId) {
        let view = &self.markets[market.0 as usize];
        for (side, changed) in [
            (Side::Bid, &mut self.command.changed_bids),
            (Side::Ask, &mut self.command.changed_asks),
        ] {
            compact(changed);
            for level in changed.iter_mut() {
                level.quantity = view.side(side).quantity_at(level.price);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Reads.

    /// The account a key names, if it exists.
    pub fn account_index(&self, key: &AccountKey) -> Option<AccountIndex> {
        self.accounts.find(key)
    }

    /// The key of an account (`None` for an index never created; the fee account has none).
    pub fn account_key(&self, account: AccountIndex) -> Option<&AccountKey> {
        if account == AccountIndex::FEE {
            return None;
        }
        self.accounts.key(account)
    }

    /// The market's update id (API.md §10(a)); 0 before any update.
    pub fn update_id(&self, market: MarketId) -> u64 {
        self.markets[market.0 as usize].update_id
    }

    /// The `limit` best levels of one side, **worst first**: ascending by price for bids,
    /// descending for asks (iterate asks in reverse for ascending order).
    pub fn best_levels(&self, market: MarketId, side: Side, limit: usize) -> &[DepthLevel] {
        let levels = self.markets[market.0 as usize].side(side).levels();
        &levels[levels.len().saturating_sub(limit)..]
    }

    /// The best bid and ask.
    pub fn best_bid_ask(&self, market: MarketId) -> (Option<DepthLevel>, Option<DepthLevel>) {
        let view = &self.markets[market.0 as usize];
        (view.side(Side::Bid).best(), view.side(Side::Ask).best())
    }

    /// The market the last finished command's order operation was on (API.md §10(a): it advanced
    /// that market's update id), if it was one.
    pub fn last_command_market(&self) -> Option<MarketId> {
        if self.command.open { None } else { self.command.market }
    }

    /// The total resting quantity at `price` on one side (zero: no level).
    pub fn level_quantity(&self, market: MarketId, side: Side, price: PriceTicks) -> QuantitySteps {
        self.markets[market.0 as usize].side(side).quantity_at(price)
    }

    /// The bucket of `interval` holding `time_s`, if it has trades.
    pub fn kline_at(
        &self,
        market: MarketId,
        interval: KlineInterval,
        time_s: u64,
    ) -> Option<Kline> {
        let mut found = None;
        self.for_each_kline(market, interval, time_s, time_s + 1, 1, |kline| found = Some(*kline));
        found
    }

    /// The levels the last finished command changed, if it was an order operation on `market`.
    pub fn last_depth_update(&self, market: MarketId) -> Option<DepthUpdate<'_>> {
        if self.command.open || self.command.market != Some(market) {
            return None;
        }
        let update_id = self.update_id(market);
        Some(DepthUpdate {
            market,
            first_update_id: update_id,
            last_update_id: update_id,
            time_us: self.command.time_us,
            bids: &self.command.changed_bids,
            asks: &self.command.changed_asks,
        })
    }

    /// The newest `limit` trades after skipping the `offset` newest, ascending id.
    pub fn trades(
        &self,
        market: MarketId,
        limit: usize,
        offset: usize,
    ) -> impl Iterator<Item = &Trade> + '_ {
        self.markets[market.0 as usize].trades.latest(limit as u64, offset as u64)
    }

    /// The market's last traded price.
    pub fn last_price(&self, market: MarketId) -> Option<PriceTicks> {
        self.markets[market.0 as usize].last_price
    }

    /// Visits the kline buckets with trades overlapping `start_s..end_s`, ascending, at most
    /// `limit`. Buckets align to the epoch, weeks to Monday, months to the 1st (UTC).
    pub fn for_each_kline(
        &self,
        market: MarketId,
        interval: KlineInterval,
        start_s: u64,
        end_s: u64,
        limit: usize,
        mut emit: impl FnMut(&Kline),
    ) {
        let view = &self.markets[market.0 as usize];
        let tier = match interval {
            KlineInterval::Seconds(size) if size % 3_600 == 0 => &view.hours,
            KlineInterval::Seconds(size) if size % 60 == 0 => &view.minutes,
            KlineInterval::Seconds(_) => &view.seconds,
            KlineInterval::Month => &view.hours,
        };
        let Some((oldest_s, newest_s)) = tier.retained() else {
            return;
        };
        let mut bucket_s = bucket_start_s(interval, start_s.max(oldest_s));
        let mut emitted = 0;
        while emitted < limit && bucket_s < end_s && bucket_s <= newest_s {
            let next_s = bucket_end_s(interval, bucket_s);
            let mut stats = None;
            tier.fold(bucket_s, next_s - 1, &mut stats);
            if let Some(stats) = stats {
                emit(&Kline { start_s: bucket_s, end_s: next_s, stats });
                emitted += 1;
            }
            bucket_s = next_s;
        }
    }

    /// The rolling ticker of `market` at `now_us`, at 1-minute granularity (module docs).
    pub fn ticker(&self, market: MarketId, window: TickerWindow, now_us: u64) -> Ticker {
        let view = &self.markets[market.0 as usize];
        let minutes: u64 = match window {
            TickerWindow::Day => 1_440,
            TickerWindow::Week => 10_080,
        };
        let now_s = now_us / 1_000_000;
        let now_minute_s = now_s - now_s % 60;
        let mut stats = None;
        view.minutes.fold(
            now_minute_s.saturating_sub((minutes - 1) * 60),
            now_minute_s,
            &mut stats,
        );
        Ticker { window: stats, last_price: view.last_price }
    }

    /// Visits the account's fills passing `filter` (market, order id, time, offset, limit).
    /// Looks at no more than `[server] history_scan_max` records (`history.rs`).
    pub fn for_each_fill(
        &self,
        key: &AccountKey,
        filter: &HistoryFilter,
        emit: impl FnMut(&FillRecord),
    ) {
        let Some(account) = self.accounts.find(key) else {
            return;
        };
        let matches = |fill: &FillRecord| {
            filter.market.is_none_or(|market| fill.market == market)
                && filter.order_id.is_none_or(|order_id| fill.order_id == order_id)
        };
        let scan_max = self.config.server.history_scan_max;
        self.fills.query(account, filter, scan_max, |fill| fill.time_us, matches, emit);
    }

    /// Visits the account's orders passing `filter`, by placement time.
    /// Looks at no more than `[server] history_scan_max` records (`history.rs`).
    pub fn for_each_order(
        &self,
        key: &AccountKey,
        filter: &HistoryFilter,
        emit: impl FnMut(&OrderRecord),
    ) {
        let Some(account) = self.accounts.find(key) else {
            return;
        };
        let matches = |order: &OrderRecord| {
            filter.market.is_none_or(|market| order.state.market == market)
                && filter.order_id.is_none_or(|order_id| order.state.order_id == order_id)
        };
        let scan_max = self.config.server.history_scan_max;
        let created_at_us = |order: &OrderRecord| order.state.created_at_us;
        self.orders.query(account, filter, scan_max, created_at_us, matches, emit);
    }

    /// Visits the account's deposits passing `filter` (time, offset, limit).
    /// Looks at no more than `[server] history_scan_max` records (`history.rs`).
    pub fn for_each_deposit(
        &self,
        key: &AccountKey,
        filter: &HistoryFilter,
        emit: impl FnMut(&DepositRecord),
    ) {
        if let Some(account) = self.accounts.find(key) {
            let scan_max = self.config.server.history_scan_max;
            let time_us = |deposit: &DepositRecord| deposit.time_us;
            self.deposits.query(account, filter, scan_max, time_us, |_| true, emit);
        }
    }

    /// Visits the account's withdrawals passing `filter` (time, offset, limit).
    /// Looks at no more than `[server] history_scan_max` records (`history.rs`).
    pub fn for_each_withdrawal(
        &self,
        key: &AccountKey,
        filter: &HistoryFilter,
        emit: impl FnMut(&WithdrawalRecord),
    ) {
        if let Some(account) = self.accounts.find(key) {
            let scan_max = self.config.server.history_scan_max;
            let time_us = |withdrawal: &WithdrawalRecord| withdrawal.time_us;
            self.withdrawals.query(account, filter, scan_max, time_us, |_| true, emit);
        }
    }
}

/// An order's state once its command is done: a market order still `New` or `PartiallyFilled`
/// after its last event finished on a spent quote budget, which the matcher reports as `Filled`
/// without another event.
pub fn settled(record: OrderRecord) -> OrderRecord {
    let mut record = record;
    if record.state.order_type == OrderType::Market && record.state.status.is_open() {
        record.state.status = OrderStatus::Filled;
    }
    record
}

#[cfg(test)]
mod tests;
