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
//!   updated in place), deposits and withdrawals, each in one global ring of records per kind
//!   where every record links to the previous and next record of its account.
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
//! Architecture Invariant: the view is a pure function of the event stream and the extras of the
//! requests that produced it.

use crate::config::Config;
use crate::event::{Event, EventKind, Fill, OrderState, Transfer, TransferKind};
use crate::matcher::FixedMap;
use crate::netout::calendar::{month_start_s, next_month_start_s, week_start_s};
use crate::records::{Extras, HistoryFilter, KlineInterval, Outcome, TickerWindow};
use crate::types::{
    AccountIndex, AccountKey, AssetId, ClientId, ExpiryReason, MarketId, OrderId, OrderStatus,
    OrderType, PriceTicks, QuantitySteps, SequenceNumber, Side, TimeInForce,
};
use std::sync::Arc;

/// Sizes of the view's history rings. Each ring drops its oldest record when full.
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
    /// `levels_per_side_max` levels (16 B each); per account of `accounts_max`: 64 B of chain
    /// heads and tails, 40 B of key and lookup slots; the resting-order index (`orders_max`).
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

/// One price level of the read-side book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthLevel {
    /// Price.
    pub price: PriceTicks,
    /// Total resting quantity (zero in a depth update: the level is gone).
    pub quantity: QuantitySteps,
}

/// One public trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Open, high, low, close, volumes and trade count of some span of trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    fn of_trade(price: PriceTicks, quantity: QuantitySteps, quote: u64) -> Ohlcv {
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

/// A rolling ticker window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticker {
    /// The window's trades, `None` when it had none.
    pub window: Option<Ohlcv>,
    /// The market's last traded price ever, `None` before the first trade.
    pub last_price: Option<PriceTicks>,
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

/// One side of one order fill, as the fill history shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FillRecord {
    /// Trade id.
    pub trade_id: u64,
    /// This side's order.
    pub order_id: OrderId,
    /// Its client id.
    pub client_id: Option<ClientId>,
    /// Market.
    pub market: MarketId,
    /// This side's order side.
    pub side: Side,
    /// Whether this side rested.
    pub is_maker: bool,
    /// The asset the fee is in.
    pub fee_asset: AssetId,
    /// Price.
    pub price: PriceTicks,
    /// Base traded.
    pub quantity: QuantitySteps,
    /// Fee units.
    pub fee: u64,
    /// Engine time, Unix µs.
    pub time_us: u64,
}

/// An order's latest state, as the order history shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRecord {
    /// The state after the order's last event.
    pub state: OrderState,
    /// Why it expired, when it did.
    pub expiry: Option<ExpiryReason>,
}

/// A deposit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepositRecord {
    /// Deposit id, from 1.
    pub id: u32,
    /// Asset.
    pub asset: AssetId,
    /// Units credited.
    pub amount: u64,
    /// Engine time, Unix µs.
    pub time_us: u64,
}

/// A withdrawal, the user's own or the administrator's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WithdrawalRecord {
    /// Withdrawal id, from 1.
    pub id: u32,
    /// Asset.
    pub asset: AssetId,
    /// Units sent out.
    pub amount: u64,
    /// Fee units paid on top.
    pub fee: u64,
    /// An administrator withdrawal (`blockchain:"Internal"`, `isInternal:true`).
    pub internal: bool,
    /// Engine time, Unix µs.
    pub time_us: u64,
    /// The user's `address` and `clientId`.
    pub extras: Extras,
}

impl DepositRecord {
    /// The record of a deposit `Transfer` at engine time `time_us`.
    pub fn of(transfer: &Transfer, time_us: u64) -> DepositRecord {
        DepositRecord { id: transfer.id, asset: transfer.asset, amount: transfer.amount, time_us }
    }
}

impl WithdrawalRecord {
    /// The record of a withdrawal `Transfer` at engine time `time_us`, with the request's
    /// `extras` (address, client id).
    pub fn of(transfer: &Transfer, time_us: u64, extras: Extras) -> WithdrawalRecord {
        WithdrawalRecord {
            id: transfer.id,
            asset: transfer.asset,
            amount: transfer.amount,
            fee: transfer.fee,
            internal: transfer.kind == TransferKind::AdminWithdrawal,
            time_us,
            extras,
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Accounts.

const EMPTY_SLOT: u32 = u32::MAX;

/// Account index ↔ key. Keys are compared in full, so a hash collision costs a probe.
struct AccountTable {
    /// By index; index 0 (the fee account) has the zero key and is never looked up.
    keys: Vec<AccountKey>,
    slots: Box<[u32]>,
    mask: usize,
}

impl AccountTable {
    fn new(accounts_max: u32) -> AccountTable {
        let slots = (accounts_max as usize * 2).next_power_of_two();
        let mut keys = Vec::with_capacity(accounts_max as usize);
        keys.push(AccountKey::default());
        AccountTable { keys, slots: vec![EMPTY_SLOT; slots].into_boxed_slice(), mask: slots - 1 }
    }

    fn home(&self, key: &AccountKey) -> usize {
        let mut word = 0u64;
        for chunk in key.0.chunks_exact(8) {
            word = (word ^ u64::from_le_bytes(chunk.try_into().unwrap())).rotate_left(23);
        }
        (word.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    fn insert(&mut self, account: AccountIndex, key: AccountKey) {
        assert_eq!(account.0 as usize, self.keys.len(), "account indices are dense");
        assert!(self.keys.len() < self.keys.capacity(), "more accounts than accounts_max");
        assert!(self.find(&key).is_none(), "an account key appears twice");
        self.keys.push(key);
        let mut slot = self.home(&key);
        while self.slots[slot] != EMPTY_SLOT {
            slot = (slot + 1) & self.mask;
        }
        self.slots[slot] = account.0;
    }

    fn find(&self, key: &AccountKey) -> Option<AccountIndex> {
        let mut slot = self.home(key);
        loop {
            let account = self.slots[slot];
            if account == EMPTY_SLOT {
                return None;
            }
            if self.keys[account as usize] == *key {
                return Some(AccountIndex(account));
            }
            slot = (slot + 1) & self.mask;
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Histories: one ring of records per kind, each record linked to its account's neighbours.

/// "No record".
const NONE: u64 = u64::MAX;

/// An account's records of one kind: newest and oldest live record numbers, or `NONE` for both.
#[derive(Clone, Copy, Debug)]
struct Chain {
    head: u64,
    tail: u64,
}

#[derive(Clone, Copy, Debug)]
struct Linked<T> {
    /// Global record number (the ring slot is `number % capacity`).
    number: u64,
    /// The account's previous (older) record, or `NONE`.
    prev: u64,
    /// The account's next (newer) record, or `NONE`.
    next: u64,
    account: AccountIndex,
    value: T,
}

/// A bounded history of records per account, in one global ring: pushing into a full ring drops
/// the oldest record, which is always the oldest of its account, so its account's `tail` moves
/// to the next one. A record is live iff it is among the last `capacity` pushed.
struct History<T> {
    records: Vec<Linked<T>>,
    capacity: u64,
    next_number: u64,
    chains: Vec<Chain>,
}

impl<T: Copy> History<T> {
    fn new(capacity: u32, accounts_max: u32) -> History<T> {
        assert!(capacity > 0, "a history ring needs room for one record");
        History {
            records: Vec::with_capacity(capacity as usize),
            capacity: u64::from(capacity),
            next_number: 0,
            chains: vec![Chain { head: NONE, tail: NONE }; accounts_max as usize],
        }
    }

    fn slot(&self, number: u64) -> Option<usize> {
        let live = number < self.next_number && self.next_number - number <= self.capacity;
        live.then_some((number % self.capacity) as usize)
    }

    fn linked(&self, number: u64) -> Option<&Linked<T>> {
        self.slot(number).map(|slot| &self.records[slot])
    }

    /// Appends a record of `account`; returns its ring slot.
    fn push(&mut self, account: AccountIndex, value: T) -> usize {
        let number = self.next_number;
        self.next_number += 1;
        let slot = (number % self.capacity) as usize;
        if slot < self.records.len() {
            self.evict(slot);
        }
        let chain = &mut self.chains[account.0 as usize];
        let prev = chain.head;
        chain.head = number;
        if prev == NONE {
            chain.tail = number;
        }
        let linked = Linked { number, prev, next: NONE, account, value };
        if slot < self.records.len() {
            self.records[slot] = linked;
        } else {
            debug_assert_eq!(slot, self.records.len());
            self.records.push(linked);
        }
        if let Some(prev_slot) = self.slot(prev) {
            self.records[prev_slot].next = number;
        }
        slot
    }

    /// Drops the record in `slot` (the oldest live one) from its account's chain.
    fn evict(&mut self, slot: usize) {
        let old = self.records[slot];
        let chain = &mut self.chains[old.account.0 as usize];
        assert_eq!(chain.tail, old.number, "the ring's oldest is its account's oldest");
        chain.tail = old.next;
        if old.next == NONE {
            chain.head = NONE;
        }
    }

    /// The record in `slot`, if the slot was ever written.
    fn at_slot_mut(&mut self, slot: usize) -> Option<&mut T> {
        self.records.get_mut(slot).map(|linked| &mut linked.value)
    }

    /// The record with this number, if still live.
    fn get_mut(&mut self, number: u64) -> Option<&mut T> {
        self.slot(number).map(|slot| &mut self.records[slot].value)
    }

    /// Visits the account's records that pass `filter` (time, offset, limit) and `matches`, in
    /// the filter's order. Records are in time order along a chain, so the walk stops at the
    /// first record past the time range: O(offset + limit) without filters.
    fn query(
        &self,
        account: AccountIndex,
        filter: &HistoryFilter,
        time_us: impl Fn(&T) -> u64,
        matches: impl Fn(&T) -> bool,
        mut emit: impl FnMut(&T),
    ) {
        let Some(chain) = self.chains.get(account.0 as usize) else {
            return;
        };
        let mut number = if filter.ascending { chain.tail } else { chain.head };
        let (mut skipped, mut emitted) = (0u32, 0u32);
        while emitted < filter.limit {
            let Some(linked) = self.linked(number) else {
                break;
            };
            number = if filter.ascending { linked.next } else { linked.prev };
            let time_ms = time_us(&linked.value) / 1_000;
            let before = filter.from_ms.is_some_and(|from_ms| time_ms < from_ms);
            let after = filter.to_ms.is_some_and(|to_ms| time_ms > to_ms);
            if before || after {
                // Past the range in walking direction: nothing further can match.
                if before != filter.ascending {
                    break;
                }
                continue;
            }
            if !matches(&linked.value) {
                continue;
            }
            if skipped < filter.offset {
                skipped += 1;
                continue;
            }
            emit(&linked.value);
            emitted += 1;
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Markets: book, trades, candles.

/// One side of the read-side book, sorted so that the best level is last (bids ascending by
/// price, asks descending): the busy top of the book sits at the end of the array.
struct DepthSide {
    side: Side,
    levels: Vec<DepthLevel>,
}

impl DepthSide {
    fn new(side: Side, levels_max: u32) -> DepthSide {
        DepthSide { side, levels: Vec::with_capacity(levels_max as usize) }
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

    fn add(&mut self, price: PriceTicks, quantity: QuantitySteps) {
        debug_assert!(quantity.0 > 0);
        match self.find(price) {
            Ok(index) => self.levels[index].quantity.0 += quantity.0,
            Err(index) => {
                assert!(self.levels.len() < self.levels.capacity(), "more levels than the matcher");
                self.levels.insert(index, DepthLevel { price, quantity });
            }
        }
    }

    fn remove(&mut self, price: PriceTicks, quantity: QuantitySteps) {
        let index = self.find(price).expect("events remove only resting quantity");
        let level = &mut self.levels[index];
        level.quantity.0 =
            level.quantity.0.checked_sub(quantity.0).expect("events remove only resting quantity");
        if level.quantity.0 == 0 {
            self.levels.remove(index);
        }
    }

    fn quantity_at(&self, price: PriceTicks) -> QuantitySteps {
        self.find(price).map_or(QuantitySteps(0), |index| self.levels[index].quantity)
    }
}

/// The last trades of one market.
struct TradeRing {
    trades: Vec<Trade>,
    capacity: u64,
    /// Trades ever recorded.
    count: u64,
}

impl TradeRing {
    fn new(capacity: u32) -> TradeRing {
        assert!(capacity > 0, "the trade ring needs room for one trade");
        TradeRing {
            trades: Vec::with_capacity(capacity as usize),
            capacity: u64::from(capacity),
            count: 0,
        }
    }

    fn push(&mut self, trade: Trade) {
        let slot = (self.count % self.capacity) as usize;
        if slot < self.trades.len() {
            self.trades[slot] = trade;
        } else {
            self.trades.push(trade);
        }
        self.count += 1;
    }

    /// The newest `limit` trades after skipping the `offset` newest, oldest first.
    fn latest(&self, limit: u64, offset: u64) -> impl Iterator<Item = &Trade> + '_ {
        let oldest = self.count - self.trades.len() as u64;
        let end = self.count.saturating_sub(offset).max(oldest);
        let start = end.saturating_sub(limit).max(oldest);
        (start..end).map(move |index| &self.trades[(index % self.capacity) as usize])
    }
}

/// Candles of one size in a ring indexed by bucket number.
struct CandleRing {
    bucket_s: u64,
    /// `(bucket start, stats)`; a slot is current iff its start is the bucket asked for.
    candles: Vec<(u64, Ohlcv)>,
    /// Start of the newest bucket with a trade.
    newest_start_s: Option<u64>,
}

impl CandleRing {
    fn new(bucket_s: u64, buckets: usize) -> CandleRing {
        let empty = Ohlcv::of_trade(PriceTicks(0), QuantitySteps(0), 0);
        CandleRing { bucket_s, candles: vec![(u64::MAX, empty); buckets], newest_start_s: None }
    }

    fn slot(&self, start_s: u64) -> usize {
        (start_s / self.bucket_s % self.candles.len() as u64) as usize
    }

    fn record(&mut self, time_s: u64, trade: &Ohlcv) {
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
    fn retained(&self) -> Option<(u64, u64)> {
        let newest = self.newest_start_s?;
        let span = (self.candles.len() as u64 - 1) * self.bucket_s;
        Some((newest.saturating_sub(span), newest))
    }

    fn get(&self, start_s: u64) -> Option<&Ohlcv> {
        let (slot_start_s, stats) = &self.candles[self.slot(start_s)];
        (*slot_start_s == start_s).then_some(stats)
    }

    /// Merges the buckets starting in `from_s..=to_s` (aligned to the bucket size) into `into`.
    fn fold(&self, from_s: u64, to_s: u64, into: &mut Option<Ohlcv>) {
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

const SECOND_BUCKETS: usize = 3_600; // 1 hour
const MINUTE_BUCKETS: usize = 31 * 1_440; // 31 days
const HOUR_BUCKETS: usize = 732 * 24; // 732 days

struct MarketView {
    bids: DepthSide,
    asks: DepthSide,
    /// API.md §10(a): +1 per accepted order operation; 0 before any.
    update_id: u64,
    trades: TradeRing,
    seconds: CandleRing,
    minutes: CandleRing,
    hours: CandleRing,
    last_price: Option<PriceTicks>,
}

impl MarketView {
    fn new(levels_max: u32, trades_max: u32) -> MarketView {
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

    fn side_mut(&mut self, side: Side) -> &mut DepthSide {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }

    fn side(&self, side: Side) -> &DepthSide {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        }
    }

    fn record_trade(&mut self, trade: Trade) {
        let stats = Ohlcv::of_trade(trade.price, trade.quantity, trade.quote);
        let time_s = trade.time_us / 1_000_000;
        self.seconds.record(time_s, &stats);
        self.minutes.record(time_s, &stats);
        self.hours.record(time_s, &stats);
        self.last_price = Some(trade.price);
        self.trades.push(trade);
    }
}

/// Start of the kline bucket holding `unix_s`.
fn bucket_start_s(interval: KlineInterval, unix_s: u64) -> u64 {
    match interval {
        KlineInterval::Seconds(604_800) => week_start_s(unix_s),
        KlineInterval::Seconds(size) => unix_s - unix_s % u64::from(size),
        KlineInterval::Month => month_start_s(unix_s),
    }
}

/// End (exclusive) of the kline bucket starting at `start_s`.
fn bucket_end_s(interval: KlineInterval, start_s: u64) -> u64 {
    match interval {
        KlineInterval::Seconds(size) => start_s + u64::from(size),
        KlineInterval::Month => next_month_start_s(start_s),
    }
}

// -------------------------------------------------------------------------------------------------
// The view.

/// What the current command did so far; reset at the next command's first event.
struct CommandScratch {
    /// Inside a command: events applied since the last `finish`.
    open: bool,
    sequence: SequenceNumber,
    time_us: u64,
    /// The market an accepted order operation touched.
    market: Option<MarketId>,
    /// The command's own order: its latest state, expiry, and order-history slot.
    taker: Option<(OrderRecord, usize)>,
    /// The user withdrawal record the command created.
    withdrawal: Option<u64>,
    /// Changed bid and ask prices; quantities are filled in at `finish`.
    changed_bids: Vec<DepthLevel>,
    changed_asks: Vec<DepthLevel>,
}

/// net-out's read-side view. See the module documentation.
pub struct View {
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
        View {
            accounts: AccountTable::new(accounts_max),
            markets: (0..config.markets.len())
                .map(|_| MarketView::new(levels_max, limits.trades_per_market_max))
                .collect(),
            fills: History::new(limits.fills_max, accounts_max),
            orders: History::new(limits.orders_max, accounts_max),
            deposits: History::new(limits.deposits_max, accounts_max),
            withdrawals: History::new(limits.withdrawals_max, accounts_max),
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
        if let Some(number) = self.command.withdrawal.take()
            && let Some(record) = self.withdrawals.get_mut(number)
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
                let internal = record.internal;
                self.withdrawals.push(transfer.account, record);
                if !internal {
                    self.command.withdrawal = Some(self.withdrawals.next_number - 1);
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
        self.accounts.keys.get(account.0 as usize)
    }

    /// The market's update id (API.md §10(a)); 0 before any update.
    pub fn update_id(&self, market: MarketId) -> u64 {
        self.markets[market.0 as usize].update_id
    }

    /// The `limit` best levels of one side, **worst first**: ascending by price for bids,
    /// descending for asks (iterate asks in reverse for ascending order).
    pub fn best_levels(&self, market: MarketId, side: Side, limit: usize) -> &[DepthLevel] {
        let levels = &self.markets[market.0 as usize].side(side).levels;
        &levels[levels.len().saturating_sub(limit)..]
    }

    /// The best bid and ask.
    pub fn best_bid_ask(&self, market: MarketId) -> (Option<DepthLevel>, Option<DepthLevel>) {
        let view = &self.markets[market.0 as usize];
        (view.bids.levels.last().copied(), view.asks.levels.last().copied())
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
        self.fills.query(account, filter, |fill| fill.time_us, matches, emit);
    }

    /// Visits the account's orders passing `filter`, by placement time.
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
        self.orders.query(account, filter, |order| order.state.created_at_us, matches, emit);
    }

    /// Visits the account's deposits passing `filter` (time, offset, limit).
    pub fn for_each_deposit(
        &self,
        key: &AccountKey,
        filter: &HistoryFilter,
        emit: impl FnMut(&DepositRecord),
    ) {
        if let Some(account) = self.accounts.find(key) {
            self.deposits.query(account, filter, |deposit| deposit.time_us, |_| true, emit);
        }
    }

    /// Visits the account's withdrawals passing `filter` (time, offset, limit).
    pub fn for_each_withdrawal(
        &self,
        key: &AccountKey,
        filter: &HistoryFilter,
        emit: impl FnMut(&WithdrawalRecord),
    ) {
        if let Some(account) = self.accounts.find(key) {
            self.withdrawals.query(
                account,
                filter,
                |withdrawal| withdrawal.time_us,
                |_| true,
                emit,
            );
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

/// Sorts levels by price and drops repeated prices, in place.
fn compact(levels: &mut Vec<DepthLevel>) {
    levels.sort_unstable_by_key(|level| level.price);
    levels.dedup_by_key(|level| level.price);
}

#[cfg(test)]
mod tests;
