//! The matcher alone against the `matchcore` crate: same streams, same process, same run.
//!
//! Run with `cargo bench --bench matcher` (under a minute on the 2-core reference machine, once
//! built).
//! Without `--bench` (for example `cargo test --benches`) it only builds short streams, checks
//! that both engines agree with the model on them, and exits.
//!
//! Two command streams are generated up front from a seeded xorshift, as abstract operations
//! checked against a naive model book (so every cancel names an order that is still resting),
//! then translated into each engine's native commands before anything is timed:
//!
//! - **realistic**: 60% limit GTC near a slowly moving mid (1 in 10 of them marketable),
//!   10% limit IOC a few ticks through the mid, 25% cancel of a random resting order,
//!   5% market; about 2,000 resting orders.
//! - **exchange-core**: exchange-core's published mix, 9% GTC, 3% IOC, 6% cancel, 82% move,
//!   about 1,000 resting orders over about 750 price levels. A move is a cancel-replace pair for
//!   both engines (two commands; the replacement gets a new order id and loses time priority).
//!   matchcore's native price amend (one command per move, same order id) is timed as well and
//!   reported per operation, for information.
//!
//! Both engines are warmed to the steady-state book (untimed prefill) before every timed pass.
//! Fills are the same for both: the bench checks trade, rejection and resting-order counts of
//! both engines against the model before it times anything. matchcore 0.4.0 matches a crossing
//! limit order without its limit price, so a limit order that crosses is given at most the
//! quantity its limit reaches (see `Generator::fit_to_limit`); every such order fills completely
//! within its limit and both engines do the same work. ringex runs the embedded default
//! configuration (SOL_USDC, tick 0.01, step 0.01, fees 10/20 bps, default limits) with
//! self-trade prevention `Allow` over 1,000 generously funded accounts; events go to a
//! `CountingSink`. matchcore's outcomes are passed through `black_box` and dropped, as in its own
//! benches.
//!
//! Output: criterion's groups (commands/s per engine and mix), then a summary from separate
//! whole-stream passes timed with `Instant` (median of several, engines interleaved), the
//! ours/matchcore ratio per mix, ringex's per-command service time (rdtsc, calibrated against
//! `Instant`, timer overhead subtracted), for the realistic mix both engines' mean time per kind
//! of operation (each command timed alone: which kinds make the ratio) and, last,
//! `matcher_vs_matchcore: <lower ratio>`.

use criterion::{Criterion, Throughput};
use hdrhistogram::Histogram;
use matchcore as mc;
use ringex::command::{Action, Command, OrderRef, PlaceOrder};
use ringex::config::Config;
use ringex::event::{CountingSink, Event, EventKind, EventSink};
use ringex::matcher::Matcher;
use ringex::types::{
    AccountKey, AssetId, MarketId, OrderId, OrderType, PriceTicks, QuantitySteps,
    SelfTradePrevention, SequenceNumber, Side, TimeInForce,
};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Accounts the orders are spread over (so self-trades are rare, and allowed anyway).
const ACCOUNTS: u32 = 1_000;
/// Deposit per account: 10^15 units of each asset (10^9 USDC, 10^6 SOL).
const DEPOSIT_UNITS: u64 = 1_000_000_000_000_000;
/// SOL_USDC in the embedded default configuration.
const MARKET: MarketId = MarketId(0);
const ASSET_USDC: AssetId = AssetId(0);
const ASSET_SOL: AssetId = AssetId(1);
/// Where prices start, in ticks (100.00 USDC).
const CENTER_TICKS: u64 = 10_000;
/// exchange-core mix: GTC orders rest up to this many ticks behind the last trade price
/// (quadratically denser near it), which spreads ~1,000 orders over ~750 levels.
const OFFSET_TICKS_MAX: f64 = 1_000.0;
/// Whole-stream passes per engine in the summary; the median is reported.
const SUMMARY_PASSES: usize = 7;
/// Passes over the stream recorded into the service-time histogram.
const LATENCY_PASSES: usize = 3;
/// Per-kind means leave out samples longer than this (ns): the guest being interrupted.
const LABEL_SAMPLE_NS_MAX: f64 = 20_000.0;

// -------------------------------------------------------------------------------------------------
// Deterministic randomness.

/// xorshift64*: enough randomness for a workload, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

// -------------------------------------------------------------------------------------------------
// The abstract workload.

/// What one operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Gtc,
    Ioc,
    Market,
    Cancel,
    Move,
}

/// A new order. `order` numbers placements in stream order; engines map it to their own ids.
#[derive(Clone, Copy, Debug)]
struct Placement {
    order: u32,
    account: u32,
    side: Side,
    kind: Kind,
    /// Limit price; 0 for market orders.
    price_ticks: u64,
    quantity_steps: u64,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Place(Placement),
    Cancel {
        order: u32,
        account: u32,
    },
    /// Cancel `old`, then place `replacement` (same account, side and remaining quantity).
    Move {
        old: u32,
        replacement: Placement,
    },
}

/// The mix: percentages per kind, dealt from a shuffled deck of 100 so every 100 operations hold
/// exactly these counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mix {
    Realistic,
    ExchangeCore,
}

impl Mix {
    fn name(self) -> &'static str {
        match self {
            Mix::Realistic => "realistic",
            Mix::ExchangeCore => "exchange-core",
        }
    }
    fn percentages(self) -> &'static [(Kind, usize)] {
        match self {
            Mix::Realistic => {
                &[(Kind::Gtc, 60), (Kind::Ioc, 10), (Kind::Cancel, 25), (Kind::Market, 5)]
            }
            Mix::ExchangeCore => {
                &[(Kind::Gtc, 9), (Kind::Ioc, 3), (Kind::Cancel, 6), (Kind::Move, 82)]
            }
        }
    }
    fn describe(self) -> &'static str {
        match self {
            Mix::Realistic => "60% GTC near mid, 10% IOC, 25% cancel, 5% market",
            Mix::ExchangeCore => "9% GTC, 3% IOC, 6% cancel, 82% move (cancel + place)",
        }
    }
    /// Resting orders the generator steers towards.
    fn target_orders(self) -> usize {
        match self {
            Mix::Realistic => 2_000,
            Mix::ExchangeCore => 1_000,
        }
    }
}

struct Deck {
    cards: Vec<Kind>,
    next: usize,
}

impl Deck {
    fn new(mix: Mix) -> Deck {
        let cards: Vec<Kind> = mix
            .percentages()
            .iter()
            .flat_map(|&(kind, percent)| std::iter::repeat_n(kind, percent))
            .collect();
        assert_eq!(cards.len(), 100, "a mix's percentages add up to 100");
        Deck { next: cards.len(), cards }
    }
    fn deal(&mut self, rng: &mut Rng) -> Kind {
        if self.next == self.cards.len() {
            for index in (1..self.cards.len()).rev() {
                self.cards.swap(index, rng.below(index as u64 + 1) as usize);
            }
            self.next = 0;
        }
        self.next += 1;
        self.cards[self.next - 1]
    }
}

// -------------------------------------------------------------------------------------------------
// The model: a naive price-time book that tells the generator what rests, and the checks what
// both engines must have done.

struct Resting {
    account: u32,
    side: Side,
    price_ticks: u64,
    remaining_steps: u64,
    live_index: usize,
}

#[derive(Default)]
struct Model {
    bids: BTreeMap<u64, VecDeque<u32>>,
    asks: BTreeMap<u64, VecDeque<u32>>,
    resting: HashMap<u32, Resting>,
    /// Resting order numbers, for picking one uniformly.
    live: Vec<u32>,
    bid_orders: usize,
    ask_orders: usize,
    last_trade_ticks: u64,
    trades: u64,
    next_order: u32,
}

impl Model {
    fn levels(&self) -> usize {
        self.bids.len() + self.asks.len()
    }

    /// Places an order: it trades against the opposite side, a GTC remainder rests.
    fn place(&mut self, account: u32, side: Side, kind: Kind, price_ticks: u64, quantity: u64) {
        let order = self.next_order;
        self.next_order += 1;
        let limit = (kind != Kind::Market).then_some(price_ticks);
        let left = self.take(side, limit, quantity);
        if left > 0 && kind == Kind::Gtc {
            let book = if side == Side::Bid { &mut self.bids } else { &mut self.asks };
            book.entry(price_ticks).or_default().push_back(order);
            let live_index = self.live.len();
            self.live.push(order);
            let resting = Resting { account, side, price_ticks, remaining_steps: left, live_index };
            self.resting.insert(order, resting);
            *self.side_orders(side) += 1;
        }
    }

    /// Matches a taker on `side` up to `quantity`; returns what is left.
    fn take(&mut self, side: Side, limit: Option<u64>, mut quantity: u64) -> u64 {
        while quantity > 0 {
            let makers = if side == Side::Bid { &mut self.asks } else { &mut self.bids };
            let best = if side == Side::Bid { makers.first_entry() } else { makers.last_entry() };
            let Some(mut level) = best else { break };
            let price = *level.key();
            let crosses = match side {
                Side::Bid => limit.is_none_or(|limit| price <= limit),
                Side::Ask => limit.is_none_or(|limit| price >= limit),
            };
            if !crosses {
                break;
            }
            let maker = *level.get().front().expect("levels are never empty");
            let resting = self.resting.get_mut(&maker).expect("queued orders rest");
            let fill = resting.remaining_steps.min(quantity);
            resting.remaining_steps -= fill;
            quantity -= fill;
            self.trades += 1;
            self.last_trade_ticks = price;
            if resting.remaining_steps == 0 {
                level.get_mut().pop_front();
                if level.get().is_empty() {
                    level.remove();
                }
                self.forget(maker);
            }
        }
        quantity
    }

    fn cancel(&mut self, order: u32) {
        let resting = &self.resting[&order];
        let book = if resting.side == Side::Bid { &mut self.bids } else { &mut self.asks };
        let queue = book.get_mut(&resting.price_ticks).expect("a resting order's level exists");
        let position = queue.iter().position(|&queued| queued == order).expect("queued");
        queue.remove(position);
        if queue.is_empty() {
            book.remove(&resting.price_ticks);
        }
        self.forget(order);
    }

    fn forget(&mut self, order: u32) {
        let resting = self.resting.remove(&order).expect("forgetting a resting order");
        self.live.swap_remove(resting.live_index);
        if let Some(&moved) = self.live.get(resting.live_index) {
            self.resting.get_mut(&moved).expect("live orders rest").live_index = resting.live_index;
        }
        *self.side_orders(resting.side) -= 1;
    }

    fn side_orders(&mut self, side: Side) -> &mut usize {
        match side {
            Side::Bid => &mut self.bid_orders,
            Side::Ask => &mut self.ask_orders,
        }
    }

    /// What a taker on `side` limited at `limit` could take, counted up to `enough`.
    fn crossing_volume(&self, side: Side, limit: u64, enough: u64) -> u64 {
        let levels: Box<dyn Iterator<Item = &VecDeque<u32>>> = match side {
            Side::Bid => Box::new(self.asks.range(..=limit).map(|(_, queue)| queue)),
            Side::Ask => Box::new(self.bids.range(limit..).rev().map(|(_, queue)| queue)),
        };
        let mut volume = 0;
        for order in levels.flatten() {
            volume += self.resting[order].remaining_steps;
            if volume >= enough {
                break;
            }
        }
        volume
    }

    /// Remaining quantity of the first `orders` orders a taker on `side` would meet.
    fn top_volume(&self, side: Side, orders: usize) -> u64 {
        let makers = if side == Side::Bid { &self.asks } else { &self.bids };
        let levels: Box<dyn Iterator<Item = &VecDeque<u32>>> = match side {
            Side::Bid => Box::new(makers.values()),
            Side::Ask => Box::new(makers.values().rev()),
        };
        levels.flatten().take(orders).map(|order| self.resting[order].remaining_steps).sum()
    }
}

// -------------------------------------------------------------------------------------------------
// The generator.

struct Workload {
    mix: Mix,
    ops: Vec<Op>,
    /// The first `prefill_ops` operations build the steady-state book; the rest are timed.
    prefill_ops: usize,
    /// Placements, so translators can size their id maps.
    orders: usize,
    model: Model,
    /// Resting orders and price levels when the timed stream starts.
    start_orders: usize,
    start_levels: usize,
    /// Trades in the timed stream.
    stream_trades: u64,
    /// Timed-stream limit orders whose quantity was cut to what their limit reaches, and moves
    /// sent away from the last trade price instead (see [`Generator::fit_to_limit`]).
    capped: usize,
    redirected: usize,
}

struct Generator {
    mix: Mix,
    rng: Rng,
    model: Model,
    ops: Vec<Op>,
    /// The realistic mix's mid, in ticks (a slow random walk).
    mid_ticks: u64,
    capped: usize,
    redirected: usize,
}

impl Generator {
    fn generate(mix: Mix, warm_ops: usize, stream_ops: usize, seed: u64) -> Workload {
        assert_eq!(stream_ops % 100, 0, "whole decks, so the mix is exact");
        let mut generator = Generator {
            mix,
            rng: Rng::new(seed),
            model: Model { last_trade_ticks: CENTER_TICKS, ..Model::default() },
            ops: Vec::new(),
            mid_ticks: CENTER_TICKS,
            capped: 0,
            redirected: 0,
        };
        while generator.model.live.len() < mix.target_orders() {
            generator.step(Kind::Gtc);
        }
        let mut deck = Deck::new(mix);
        for _ in 0..warm_ops {
            let kind = deck.deal(&mut generator.rng);
            generator.step(kind);
        }
        let prefill_ops = generator.ops.len();
        let start_orders = generator.model.live.len();
        let start_levels = generator.model.levels();
        let start_trades = generator.model.trades;
        (generator.capped, generator.redirected) = (0, 0);
        let mut deck = Deck::new(mix);
        for _ in 0..stream_ops {
            let kind = deck.deal(&mut generator.rng);
            generator.step(kind);
        }
        let stream_trades = generator.model.trades - start_trades;
        Workload {
            mix,
            orders: generator.model.next_order as usize,
            ops: generator.ops,
            prefill_ops,
            model: generator.model,
            start_orders,
            start_levels,
            stream_trades,
            capped: generator.capped,
            redirected: generator.redirected,
        }
    }

    fn step(&mut self, kind: Kind) {
        let op = match self.mix {
            Mix::Realistic => self.realistic(kind),
            Mix::ExchangeCore => self.exchange_core(kind),
        };
        match op {
            Op::Place(placement) => self.apply_placement(&placement),
            Op::Cancel { order, .. } => self.model.cancel(order),
            Op::Move { old, replacement } => {
                self.model.cancel(old);
                self.apply_placement(&replacement);
            }
        }
        self.ops.push(op);
    }

    fn apply_placement(&mut self, placement: &Placement) {
        assert_eq!(placement.order, self.model.next_order);
        let p = placement;
        self.model.place(p.account, p.side, p.kind, p.price_ticks, p.quantity_steps);
    }

    fn placement(&mut self, side: Side, kind: Kind, price_ticks: u64, quantity: u64) -> Op {
        Op::Place(Placement {
            order: self.model.next_order,
            account: self.rng.below(u64::from(ACCOUNTS)) as u32,
            side,
            kind,
            price_ticks,
            quantity_steps: quantity,
        })
    }

    /// matchcore 0.4.0 matches a crossing limit order as if it had no limit (its
    /// `submit_crossable_order` and price amend call `match_order` with `None`), so a buy limit
    /// 100 for 2 against asks 1@100 and 1@105 fills both. To give both engines the same work, a
    /// limit order that crosses gets at most the quantity its limit reaches: it fills completely
    /// within its limit and the missing check never matters.
    fn fit_to_limit(&mut self, side: Side, price_ticks: u64, quantity: u64) -> u64 {
        match self.model.crossing_volume(side, price_ticks, quantity) {
            0 => quantity,
            volume if volume < quantity => {
                self.capped += 1;
                volume
            }
            _ => quantity,
        }
    }

    /// A random resting order's number.
    fn pick_resting(&mut self) -> u32 {
        assert!(!self.model.live.is_empty(), "the steady-state book is never empty");
        self.model.live[self.rng.below(self.model.live.len() as u64) as usize]
    }

    /// The side with fewer resting orders is more likely, so both sides stay about even.
    fn balanced_side(&mut self) -> Side {
        let lean = (self.model.ask_orders as i64 - self.model.bid_orders as i64).clamp(-40, 40);
        if (self.rng.below(100) as i64) < 50 + lean { Side::Bid } else { Side::Ask }
    }

    fn random_side(&mut self) -> Side {
        if self.rng.below(2) == 0 { Side::Bid } else { Side::Ask }
    }

    /// Takers sized to keep the book near its target: above it, a taker sweeps the first few
    /// resting orders it meets (more the further above); otherwise it is small.
    fn taker_quantity(&mut self, side: Side, orders_per_step: usize, small: u64) -> u64 {
        let excess = self.model.live.len().saturating_sub(self.mix.target_orders());
        if excess == 0 {
            return small;
        }
        let orders = (1 + excess / orders_per_step).min(32);
        self.model.top_volume(side, orders).max(1)
    }

    /// 1 to 100 steps, mostly small.
    fn realistic_quantity(&mut self) -> u64 {
        1 + (self.rng.unit().powi(3) * 99.0) as u64
    }

    fn realistic(&mut self, kind: Kind) -> Op {
        match self.rng.below(64) {
            0 => self.mid_ticks += 1,
            1 => self.mid_ticks -= 1,
            _ => {}
        }
        let mid = self.mid_ticks;
        match kind {
            Kind::Gtc => {
                let side = self.balanced_side();
                let price = if self.rng.below(10) == 0 {
                    through(mid, side, self.rng.below(3))
                } else {
                    behind(mid, side, 1 + (self.rng.unit().powi(2) * 40.0) as u64)
                };
                let quantity = self.realistic_quantity();
                let quantity = self.fit_to_limit(side, price, quantity);
                self.placement(side, Kind::Gtc, price, quantity)
            }
            Kind::Ioc | Kind::Market => {
                let side = self.random_side();
                let small = self.realistic_quantity();
                let quantity = self.taker_quantity(side, 16, small);
                if kind == Kind::Market {
                    return self.placement(side, kind, 0, quantity);
                }
                let price = through(mid, side, 3);
                let quantity = self.fit_to_limit(side, price, quantity);
                self.placement(side, kind, price, quantity)
            }
            Kind::Cancel => {
                let order = self.pick_resting();
                Op::Cancel { order, account: self.model.resting[&order].account }
            }
            Kind::Move => unreachable!("not in the realistic mix"),
        }
    }

    /// exchange-core's sizes: 1 + a·b·c with a, b, c uniform in 0..6.
    fn exchange_core_quantity(&mut self) -> u64 {
        1 + self.rng.below(6) * self.rng.below(6) * self.rng.below(6)
    }

    fn exchange_core(&mut self, kind: Kind) -> Op {
        let last = self.model.last_trade_ticks;
        match kind {
            Kind::Gtc => {
                let side = self.balanced_side();
                let offset = 1 + (self.rng.unit().powi(2) * OFFSET_TICKS_MAX) as u64;
                let price = behind(last, side, offset);
                let quantity = self.exchange_core_quantity();
                let quantity = self.fit_to_limit(side, price, quantity);
                self.placement(side, Kind::Gtc, price, quantity)
            }
            Kind::Ioc => {
                // Lean against the drift so the last trade price stays near the centre.
                let lean = ((CENTER_TICKS as i64 - last as i64) / 20).clamp(-30, 30);
                let side =
                    if (self.rng.below(100) as i64) < 50 + lean { Side::Bid } else { Side::Ask };
                let small = 1 + self.rng.below(3);
                let quantity = self.taker_quantity(side, 8, small);
                let price = through(last, side, 500);
                let quantity = self.fit_to_limit(side, price, quantity);
                self.placement(side, Kind::Ioc, price, quantity)
            }
            Kind::Cancel => {
                let order = self.pick_resting();
                Op::Cancel { order, account: self.model.resting[&order].account }
            }
            Kind::Move => {
                // Towards the last trade price by 1% of the distance, at least a tick.
                let old = self.pick_resting();
                let resting = &self.model.resting[&old];
                let price = resting.price_ticks;
                let (account, side, quantity) =
                    (resting.account, resting.side, resting.remaining_steps);
                let step = 1 + price.abs_diff(last) / 100;
                let mut new_price = match price.cmp(&last) {
                    std::cmp::Ordering::Less => price + step,
                    std::cmp::Ordering::Greater => price - step,
                    std::cmp::Ordering::Equal if self.rng.below(2) == 0 => price + 1,
                    std::cmp::Ordering::Equal => price - 1,
                };
                // A replacement that would cross for more than its limit reaches moves away
                // from the book instead (see `fit_to_limit`; a move keeps its quantity).
                let volume = self.model.crossing_volume(side, new_price, quantity);
                if volume > 0 && volume < quantity {
                    self.redirected += 1;
                    new_price = behind(price, side, step);
                }
                let replacement = Placement {
                    order: self.model.next_order,
                    account,
                    side,
                    kind: Kind::Gtc,
                    price_ticks: new_price,
                    quantity_steps: quantity,
                };
                Op::Move { old, replacement }
            }
            Kind::Market => unreachable!("not in the exchange-core mix"),
        }
    }
}

/// A price `ticks` on the passive side of `reference` (below for a bid).
fn behind(reference: u64, side: Side, ticks: u64) -> u64 {
    match side {
        Side::Bid => reference - ticks,
        Side::Ask => reference + ticks,
    }
}

/// A price `ticks` on the aggressive side of `reference` (above for a bid).
fn through(reference: u64, side: Side, ticks: u64) -> u64 {
    match side {
        Side::Bid => reference + ticks,
        Side::Ask => reference - ticks,
    }
}

// -------------------------------------------------------------------------------------------------
// Translation into each engine's native commands, before anything is timed.

/// One engine's command language.
trait Dialect {
    type Command;
    fn place(&self, sequence: u64, placement: &Placement) -> Self::Command;
    fn cancel(&self, sequence: u64, account: u32, order_id: u64) -> Self::Command;
    /// A native price amend keeping the order id, if the dialect uses one for moves.
    fn amend(&self, _sequence: u64, _order_id: u64, _price_ticks: u64) -> Option<Self::Command> {
        None
    }
}

/// A workload in one dialect: `setup` (untimed) then `stream` (timed).
struct Translated<C> {
    setup: Vec<C>,
    stream: Vec<C>,
}

/// Sequence numbers run from `first_sequence` without gaps; an order's id is the sequence of
/// the command that placed it (both engines assign ids that way).
fn translate<D: Dialect>(
    dialect: &D,
    workload: &Workload,
    mut setup: Vec<D::Command>,
    first_sequence: u64,
) -> Translated<D::Command> {
    let mut ids = vec![u64::MAX; workload.orders];
    let mut sequence = first_sequence;
    let mut stream = Vec::new();
    for (index, op) in workload.ops.iter().enumerate() {
        let out = if index < workload.prefill_ops { &mut setup } else { &mut stream };
        match op {
            Op::Place(placement) => {
                ids[placement.order as usize] = sequence;
                out.push(dialect.place(sequence, placement));
                sequence += 1;
            }
            Op::Cancel { order, account } => {
                out.push(dialect.cancel(sequence, *account, ids[*order as usize]));
                sequence += 1;
            }
            Op::Move { old, replacement } => {
                let old_id = ids[*old as usize];
                if let Some(amend) = dialect.amend(sequence, old_id, replacement.price_ticks) {
                    ids[replacement.order as usize] = old_id;
                    out.push(amend);
                    sequence += 1;
                } else {
                    out.push(dialect.cancel(sequence, replacement.account, old_id));
                    ids[replacement.order as usize] = sequence + 1;
                    out.push(dialect.place(sequence + 1, replacement));
                    sequence += 2;
                }
            }
        }
    }
    Translated { setup, stream }
}

/// ringex: accounts named by 32-byte keys, funded by deposits that take the first sequences.
struct Ours {
    keys: Vec<AccountKey>,
}

impl Ours {
    fn new() -> Ours {
        let keys = (0..u64::from(ACCOUNTS))
            .map(|index| {
                let mut key = [0u8; 32];
                for (word, chunk) in key.chunks_exact_mut(8).enumerate() {
                    let value = splitmix(index * 4 + word as u64 + 1);
                    chunk.copy_from_slice(&value.to_le_bytes());
                }
                AccountKey(key)
            })
            .collect();
        Ours { keys }
    }

    fn deposits(&self) -> Vec<Command> {
        let mut commands = Vec::new();
        for key in &self.keys {
            for asset in [ASSET_USDC, ASSET_SOL] {
                let sequence = commands.len() as u64 + 1;
                commands.push(Command {
                    sequence: SequenceNumber(sequence),
                    time_us: sequence,
                    account: *key,
                    action: Action::Deposit { asset, amount: DEPOSIT_UNITS },
                });
            }
        }
        commands
    }

    fn translate(&self, workload: &Workload) -> Translated<Command> {
        let deposits = self.deposits();
        let first_sequence = deposits.len() as u64 + 1;
        translate(self, workload, deposits, first_sequence)
    }
}

impl Dialect for Ours {
    type Command = Command;
    fn place(&self, sequence: u64, placement: &Placement) -> Command {
        let (order_type, time_in_force) = match placement.kind {
            Kind::Gtc => (OrderType::Limit, TimeInForce::Gtc),
            Kind::Ioc => (OrderType::Limit, TimeInForce::Ioc),
            Kind::Market => (OrderType::Market, TimeInForce::Ioc),
            Kind::Cancel | Kind::Move => unreachable!("not a placement"),
        };
        let place = PlaceOrder {
            market: MARKET,
            side: placement.side,
            order_type,
            time_in_force,
            self_trade_prevention: SelfTradePrevention::Allow,
            post_only: false,
            client_id: None,
            price: PriceTicks(placement.price_ticks),
            quantity: QuantitySteps(placement.quantity_steps),
            quote_quantity: 0,
        };
        Command {
            sequence: SequenceNumber(sequence),
            time_us: sequence,
            account: self.keys[placement.account as usize],
            action: Action::Place(place),
        }
    }
    fn cancel(&self, sequence: u64, account: u32, order_id: u64) -> Command {
        Command {
            sequence: SequenceNumber(sequence),
            time_us: sequence,
            account: self.keys[account as usize],
            action: Action::Cancel { market: MARKET, target: OrderRef::Id(OrderId(order_id)) },
        }
    }
}

/// matchcore: one book, sequence numbers from 0 without gaps, no accounts.
struct Peer {
    /// Moves as one native price amend instead of cancel + submit.
    amend_moves: bool,
}

impl Peer {
    fn translate(&self, workload: &Workload) -> Translated<mc::Command> {
        translate(self, workload, Vec::new(), 0)
    }
}

fn peer_meta(sequence: u64) -> mc::CommandMeta {
    mc::CommandMeta {
        sequence_number: mc::SequenceNumber(sequence),
        timestamp: mc::Timestamp(sequence),
    }
}

impl Dialect for Peer {
    type Command = mc::Command;
    fn place(&self, sequence: u64, placement: &Placement) -> mc::Command {
        let side = match placement.side {
            Side::Bid => mc::Side::Buy,
            Side::Ask => mc::Side::Sell,
        };
        let quantity = mc::Quantity(placement.quantity_steps);
        let limit = |time_in_force| {
            let policy = mc::QuantityPolicy::Standard { quantity };
            let flags = mc::OrderFlags::new(side, false, time_in_force);
            mc::NewOrder::Limit(mc::LimitOrder::new(
                mc::Price(placement.price_ticks),
                policy,
                flags,
            ))
        };
        let order = match placement.kind {
            Kind::Gtc => limit(mc::TimeInForce::Gtc),
            Kind::Ioc => limit(mc::TimeInForce::Ioc),
            Kind::Market => mc::NewOrder::Market(mc::MarketOrder::new(quantity, side, false)),
            Kind::Cancel | Kind::Move => unreachable!("not a placement"),
        };
        mc::Command {
            meta: peer_meta(sequence),
            kind: mc::CommandKind::Submit(mc::SubmitCmd { order }),
        }
    }
    fn cancel(&self, sequence: u64, _account: u32, order_id: u64) -> mc::Command {
        let cancel =
            mc::CancelCmd { order_id: mc::OrderId(order_id), order_kind: mc::OrderKind::Limit };
        mc::Command { meta: peer_meta(sequence), kind: mc::CommandKind::Cancel(cancel) }
    }
    fn amend(&self, sequence: u64, order_id: u64, price_ticks: u64) -> Option<mc::Command> {
        self.amend_moves.then(|| {
            let patch = mc::LimitOrderPatch::new().with_price(mc::Price(price_ticks));
            let amend = mc::AmendCmd {
                order_id: mc::OrderId(order_id),
                patch: mc::AmendPatch::Limit(patch),
            };
            mc::Command { meta: peer_meta(sequence), kind: mc::CommandKind::Amend(amend) }
        })
    }
}

fn splitmix(mut value: u64) -> u64 {
    value = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

// -------------------------------------------------------------------------------------------------
// The engines under test.

trait Engine {
    type Command;
    fn fresh(config: &Arc<Config>) -> Self;
    fn apply_all(&mut self, commands: &[Self::Command]);
}

struct OurEngine {
    matcher: Matcher,
    sink: CountingSink,
}

impl Engine for OurEngine {
    type Command = Command;
    fn fresh(config: &Arc<Config>) -> OurEngine {
        OurEngine { matcher: Matcher::new(Arc::clone(config)), sink: CountingSink::default() }
    }
    #[inline(never)]
    fn apply_all(&mut self, commands: &[Command]) {
        for command in commands {
            self.matcher.apply(command, &mut self.sink);
        }
    }
}

struct PeerEngine {
    book: mc::OrderBook,
}

impl Engine for PeerEngine {
    type Command = mc::Command;
    fn fresh(_config: &Arc<Config>) -> PeerEngine {
        PeerEngine { book: mc::OrderBook::new("SOL_USDC") }
    }
    #[inline(never)]
    fn apply_all(&mut self, commands: &[mc::Command]) {
        for command in commands {
            black_box(self.book.execute(command));
        }
    }
}

/// One engine fed one translated workload, continuing where the last timed run stopped. At the
/// end of the stream it is rebuilt (fresh engine + untimed prefill) and starts over.
struct Feed<'a, E: Engine> {
    config: &'a Arc<Config>,
    commands: &'a Translated<E::Command>,
    engine: E,
    cursor: usize,
}

impl<'a, E: Engine> Feed<'a, E> {
    fn new(config: &'a Arc<Config>, commands: &'a Translated<E::Command>) -> Feed<'a, E> {
        let mut feed = Feed { config, commands, engine: E::fresh(config), cursor: 0 };
        feed.rebuild();
        feed
    }

    fn rebuild(&mut self) {
        self.engine = E::fresh(self.config);
        self.engine.apply_all(&self.commands.setup);
        self.cursor = 0;
    }

    /// Times the next `count` commands of the stream (rebuilds in between are not timed).
    fn time_commands(&mut self, mut count: u64) -> Duration {
        let mut elapsed = Duration::ZERO;
        while count > 0 {
            if self.cursor == self.commands.stream.len() {
                self.rebuild();
            }
            let end = (self.cursor + count as usize).min(self.commands.stream.len());
            let batch = &self.commands.stream[self.cursor..end];
            let start = Instant::now();
            self.engine.apply_all(batch);
            elapsed += start.elapsed();
            count -= batch.len() as u64;
            self.cursor = end;
        }
        elapsed
    }

    /// Commands per second over one whole stream from the steady-state book.
    fn stream_rate(&mut self) -> f64 {
        self.rebuild();
        let elapsed = self.time_commands(self.commands.stream.len() as u64);
        self.commands.stream.len() as f64 / elapsed.as_secs_f64()
    }
}

// -------------------------------------------------------------------------------------------------
// Checks: both engines do the model's work, with no rejections.

#[derive(Default)]
struct TallySink {
    trades: u64,
    rejected: u64,
}

impl EventSink for TallySink {
    fn push(&mut self, event: Event) {
        match event.kind {
            EventKind::OrderFill(fill) if fill.is_maker => self.trades += 1,
            EventKind::Rejected { reason, .. } => {
                if self.rejected == 0 {
                    eprintln!("first rejection: {reason:?} at {:?}", event.sequence);
                }
                self.rejected += 1;
            }
            _ => {}
        }
    }
}

fn check_ours(config: &Arc<Config>, workload: &Workload, commands: &Translated<Command>) {
    let mut matcher = Matcher::new(Arc::clone(config));
    let mut sink = TallySink::default();
    for command in commands.setup.iter().chain(&commands.stream) {
        matcher.apply(command, &mut sink);
    }
    let name = workload.mix.name();
    assert_eq!(sink.rejected, 0, "{name}: ringex rejected commands");
    assert_eq!(sink.trades, workload.model.trades, "{name}: ringex trades differ from the model");
    assert_eq!(matcher.open_orders(), workload.model.live.len(), "{name}: ringex resting orders");
}

fn check_peer(workload: &Workload, commands: &Translated<mc::Command>) {
    let mut book = mc::OrderBook::new("SOL_USDC");
    let (mut trades, mut rejected) = (0u64, 0u64);
    for command in commands.setup.iter().chain(&commands.stream) {
        match book.execute(command) {
            mc::CommandOutcome::Applied(
                mc::CommandReport::Submit(effects) | mc::CommandReport::Amend(effects),
            ) => {
                let outcomes =
                    std::iter::once(effects.target_order()).chain(effects.triggered_orders());
                trades += outcomes
                    .filter_map(|outcome| outcome.match_result())
                    .map(|result| result.trades().len() as u64)
                    .sum::<u64>();
            }
            mc::CommandOutcome::Applied(mc::CommandReport::Cancel) => {}
            mc::CommandOutcome::Rejected(failure) => {
                if rejected == 0 {
                    eprintln!("first matchcore rejection: {failure:?} at {:?}", command.meta);
                }
                rejected += 1;
            }
        }
    }
    let name = workload.mix.name();
    assert_eq!(rejected, 0, "{name}: matchcore rejected commands");
    assert_eq!(trades, workload.model.trades, "{name}: matchcore trades differ from the model");
    assert_eq!(book.limit().orders().len(), workload.model.live.len(), "{name}: matchcore resting");
}

// -------------------------------------------------------------------------------------------------
// Scenarios.

struct Scenario {
    workload: Workload,
    ours: Translated<Command>,
    peer: Translated<mc::Command>,
    /// exchange-core mix only: moves as matchcore's native amend.
    peer_amend: Option<Translated<mc::Command>>,
}

impl Scenario {
    fn build(mix: Mix, warm_ops: usize, stream_ops: usize, config: &Arc<Config>) -> Scenario {
        let seed = match mix {
            Mix::Realistic => 0x5EED_0001,
            Mix::ExchangeCore => 0x5EED_0002,
        };
        let workload = Generator::generate(mix, warm_ops, stream_ops, seed);
        let ours = Ours::new().translate(&workload);
        let peer = Peer { amend_moves: false }.translate(&workload);
        let peer_amend =
            (mix == Mix::ExchangeCore).then(|| Peer { amend_moves: true }.translate(&workload));
        check_ours(config, &workload, &ours);
        check_peer(&workload, &peer);
        if let Some(amend) = &peer_amend {
            check_peer(&workload, amend);
        }
        Scenario { workload, ours, peer, peer_amend }
    }

    fn stream_ops(&self) -> usize {
        self.workload.ops.len() - self.workload.prefill_ops
    }

    fn describe(&self) -> String {
        let mut counts = HashMap::new();
        for op in &self.workload.ops[self.workload.prefill_ops..] {
            let kind = match op {
                Op::Place(placement) => placement.kind,
                Op::Cancel { .. } => Kind::Cancel,
                Op::Move { .. } => Kind::Move,
            };
            *counts.entry(format!("{kind:?}")).or_insert(0usize) += 1;
        }
        let mut counts: Vec<_> = counts.into_iter().collect();
        counts.sort();
        let trades_per_op = self.workload.stream_trades as f64 / self.stream_ops() as f64;
        format!(
            "{} ops -> {} commands; op counts {:?}; book at start: {} resting orders over {} \
             price levels; {:.3} trades per op; {} limit orders capped, {} moves redirected",
            self.stream_ops(),
            self.ours.stream.len(),
            counts,
            self.workload.start_orders,
            self.workload.start_levels,
            trades_per_op,
            self.workload.capped,
            self.workload.redirected
        )
    }
}

/// The embedded markets without their minimum order values: the streams trade in ticks and steps
/// worth cents (matchcore checks no minimum either), and the bench measures matching, not policy.
fn bench_config() -> Arc<Config> {
    Arc::new(Config::embedded_default().without_min_order_values())
}

// -------------------------------------------------------------------------------------------------
// Timing.

fn criterion_groups(criterion: &mut Criterion, config: &Arc<Config>, scenarios: &[Scenario]) {
    for scenario in scenarios {
        let mut group =
            criterion.benchmark_group(format!("matcher/{}", scenario.workload.mix.name()));
        group.throughput(Throughput::Elements(1));
        group.sample_size(20);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(4));
        let mut ours = Feed::<OurEngine>::new(config, &scenario.ours);
        group.bench_function("ringex", |bencher| bencher.iter_custom(|n| ours.time_commands(n)));
        drop(ours);
        let mut peer = Feed::<PeerEngine>::new(config, &scenario.peer);
        group.bench_function("matchcore", |bencher| bencher.iter_custom(|n| peer.time_commands(n)));
        group.finish();
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Rates of both engines over whole streams, passes interleaved so a noisy neighbour hurts both.
struct Rates {
    ours: f64,
    peer: f64,
    peer_amend: Option<f64>,
}

fn summary_rates(config: &Arc<Config>, scenario: &Scenario, passes: usize) -> Rates {
    let mut ours = Feed::<OurEngine>::new(config, &scenario.ours);
    let mut peer = Feed::<PeerEngine>::new(config, &scenario.peer);
    let mut amend = scenario.peer_amend.as_ref().map(|t| Feed::<PeerEngine>::new(config, t));
    let (mut ours_rates, mut peer_rates, mut amend_rates) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..passes {
        ours_rates.push(ours.stream_rate());
        peer_rates.push(peer.stream_rate());
        if let Some(amend) = &mut amend {
            amend_rates.push(amend.stream_rate());
        }
    }
    Rates {
        ours: median(ours_rates),
        peer: median(peer_rates),
        peer_amend: (!amend_rates.is_empty()).then(|| median(amend_rates)),
    }
}

/// The time-stamp counter, calibrated against `Instant`.
struct Tsc {
    ns_per_tick: f64,
    /// Ticks a back-to-back begin/end pair costs (the minimum seen), subtracted from samples.
    overhead_ticks: u64,
}

#[cfg(target_arch = "x86_64")]
mod tsc {
    use std::arch::x86_64::{__rdtscp, _mm_lfence, _rdtsc};

    /// Reads the counter once earlier instructions have completed.
    #[inline(always)]
    pub fn begin() -> u64 {
        // SAFETY: lfence and rdtsc have no preconditions on x86_64.
        unsafe {
            _mm_lfence();
            let ticks = _rdtsc();
            _mm_lfence();
            ticks
        }
    }

    /// Reads the counter after the measured instructions have completed.
    #[inline(always)]
    pub fn end() -> u64 {
        let mut aux = 0u32;
        // SAFETY: rdtscp writes only `aux`; lfence has no preconditions.
        unsafe {
            let ticks = __rdtscp(&mut aux);
            _mm_lfence();
            ticks
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod tsc {
    use std::sync::OnceLock;
    use std::time::Instant;

    static EPOCH: OnceLock<Instant> = OnceLock::new();

    /// Nanoseconds since the first call (the fallback where there is no rdtsc).
    pub fn begin() -> u64 {
        EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }

    pub fn end() -> u64 {
        begin()
    }
}

impl Tsc {
    fn calibrate() -> Tsc {
        let start = Instant::now();
        let start_ticks = tsc::begin();
        while start.elapsed() < Duration::from_millis(200) {
            std::hint::spin_loop();
        }
        let ticks = tsc::end() - start_ticks;
        let ns_per_tick = start.elapsed().as_nanos() as f64 / ticks as f64;
        let overhead_ticks = (0..100_000)
            .map(|_| {
                let begin = tsc::begin();
                tsc::end() - begin
            })
            .min()
            .expect("measured");
        Tsc { ns_per_tick, overhead_ticks }
    }
}

/// ringex's service time per command over whole streams, in ns: all passes together, and the
/// p99.99 of the quietest pass (on a shared machine the tail is mostly other processes).
fn service_times(config: &Arc<Config>, scenario: &Scenario, tsc: &Tsc) -> (Histogram<u64>, u64) {
    let new_histogram = || Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("bounds");
    let mut all = new_histogram();
    let mut best_p9999_ns = u64::MAX;
    let mut feed = Feed::<OurEngine>::new(config, &scenario.ours);
    for _ in 0..LATENCY_PASSES {
        let mut pass = new_histogram();
        feed.rebuild();
        let engine = &mut feed.engine;
        for command in &scenario.ours.stream {
            let begin = tsc::begin();
            engine.matcher.apply(command, &mut engine.sink);
            let ticks = (tsc::end() - begin).saturating_sub(tsc.overhead_ticks);
            pass.saturating_record(((ticks as f64 * tsc.ns_per_tick) as u64).max(1));
        }
        best_p9999_ns = best_p9999_ns.min(pass.value_at_quantile(0.9999));
        all.add(&pass).expect("same bounds");
    }
    (all, best_p9999_ns)
}

/// Counts the trades of each command (maker fills), for sorting operations by what they did.
#[derive(Default)]
struct TradesSink {
    trades: u32,
}

impl EventSink for TradesSink {
    fn push(&mut self, event: Event) {
        if let EventKind::OrderFill(fill) = event.kind
            && fill.is_maker
        {
            self.trades += 1;
        }
    }
}

/// What one timed operation of the stream was, by kind and by whether it traded.
fn operation_labels(config: &Arc<Config>, scenario: &Scenario) -> Option<Vec<&'static str>> {
    let ops = &scenario.workload.ops[scenario.workload.prefill_ops..];
    // Only mixes with one command per operation on both sides (not exchange-core's moves).
    if ops.len() != scenario.ours.stream.len() || ops.len() != scenario.peer.stream.len() {
        return None;
    }
    let mut matcher = Matcher::new(Arc::clone(config));
    let mut sink = TradesSink::default();
    for command in &scenario.ours.setup {
        matcher.apply(command, &mut sink);
    }
    let labels = ops
        .iter()
        .zip(&scenario.ours.stream)
        .map(|(op, command)| {
            sink.trades = 0;
            matcher.apply(command, &mut sink);
            let traded = sink.trades > 0;
            match op {
                Op::Place(placement) => match (placement.kind, traded) {
                    (Kind::Gtc, false) => "limit GTC, rests",
                    (Kind::Gtc, true) => "limit GTC, trades",
                    (Kind::Ioc, false) => "limit IOC, no trade",
                    (Kind::Ioc, true) => "limit IOC, trades",
                    (Kind::Market, _) => "market",
                    (Kind::Cancel | Kind::Move, _) => unreachable!("not a placement kind"),
                },
                Op::Cancel { .. } => "cancel",
                Op::Move { .. } => unreachable!("moves are two commands"),
            }
        })
        .collect();
    Some(labels)
}

/// Mean service time per operation label: one pass of `engine` over the stream, each command
/// timed alone. Samples over [`LABEL_SAMPLE_NS_MAX`] (the guest being interrupted) are left out.
fn label_means<E: Engine>(
    config: &Arc<Config>,
    commands: &Translated<E::Command>,
    labels: &[&'static str],
    tsc: &Tsc,
) -> BTreeMap<&'static str, f64> {
    let mut feed = Feed::<E>::new(config, commands);
    feed.rebuild();
    let mut sums: BTreeMap<&'static str, (f64, u64)> = BTreeMap::new();
    for (command, &label) in commands.stream.iter().zip(labels) {
        let begin = tsc::begin();
        feed.engine.apply_all(std::slice::from_ref(command));
        let ticks = (tsc::end() - begin).saturating_sub(tsc.overhead_ticks);
        let ns = ticks as f64 * tsc.ns_per_tick;
        if ns <= LABEL_SAMPLE_NS_MAX {
            let sum = sums.entry(label).or_default();
            sum.0 += ns;
            sum.1 += 1;
        }
    }
    sums.into_iter().map(|(label, (ns, count))| (label, ns / count as f64)).collect()
}

/// Where each engine spends its time on a mix, per kind of operation: which kinds make the ratio.
fn print_label_breakdown(config: &Arc<Config>, scenario: &Scenario, tsc: &Tsc) {
    let Some(labels) = operation_labels(config, scenario) else {
        return;
    };
    let ours = label_means::<OurEngine>(config, &scenario.ours, &labels, tsc);
    let peer = label_means::<PeerEngine>(config, &scenario.peer, &labels, tsc);
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for label in &labels {
        *counts.entry(label).or_default() += 1;
    }
    println!(
        "  {} per kind of operation, mean ns each timed alone (samples over {} us left out):",
        scenario.workload.mix.name(),
        LABEL_SAMPLE_NS_MAX / 1_000.0
    );
    println!(
        "    {:<22} {:>6} {:>9} {:>10} {:>7} {:>14}",
        "operation", "share", "ringex", "matchcore", "ratio", "ns/op (share)"
    );
    for (label, count) in counts {
        let share = count as f64 / labels.len() as f64;
        // A kind whose every sample was an interruption has no mean: shown as NaN, not a panic.
        let mean =
            |means: &BTreeMap<&'static str, f64>| means.get(label).copied().unwrap_or(f64::NAN);
        let (ours_ns, peer_ns) = (mean(&ours), mean(&peer));
        println!(
            "    {label:<22} {:>5.1}% {ours_ns:>9.1} {peer_ns:>10.1} {:>6.2}x {:>6.1} / {:<6.1}",
            share * 100.0,
            peer_ns / ours_ns,
            ours_ns * share,
            peer_ns * share
        );
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

fn print_summary(config: &Arc<Config>, scenarios: &[Scenario]) {
    println!();
    println!(
        "== ringex::Matcher vs matchcore 0.4: whole-stream passes, median of {SUMMARY_PASSES} =="
    );
    let (mut lower_ratio, mut slowest_rate) = (f64::INFINITY, f64::INFINITY);
    for scenario in scenarios {
        let rates = summary_rates(config, scenario, SUMMARY_PASSES);
        print_rates(scenario, &rates);
        lower_ratio = lower_ratio.min(rates.ours / rates.peer);
        slowest_rate = slowest_rate.min(rates.ours);
    }
    let worst_p9999_ns = print_service_times(config, scenarios);
    println!(
        "targets: ratio {lower_ratio:.2}x (>= 1.5x, aim 2x): {}; slowest mix {:.2} M \
         commands/s (>= 12): {}; p99.99 {worst_p9999_ns} ns (<= 2000): {}",
        verdict(lower_ratio >= 1.5),
        slowest_rate / 1e6,
        verdict(slowest_rate >= 12e6),
        verdict(worst_p9999_ns <= 2_000)
    );
    println!("matcher_vs_matchcore: {lower_ratio:.2}");
}

fn print_rates(scenario: &Scenario, rates: &Rates) {
    let mix = scenario.workload.mix;
    println!("mix {} ({}):", mix.name(), mix.describe());
    println!("  {}", scenario.describe());
    println!("  ringex::Matcher    {:>7.2} M commands/s", rates.ours / 1e6);
    println!("  matchcore          {:>7.2} M commands/s", rates.peer / 1e6);
    println!("  ratio ours/matchcore {:.2}x", rates.ours / rates.peer);
    if let (Some(amend), Some(amend_commands)) = (rates.peer_amend, &scenario.peer_amend) {
        // Per operation: ringex runs two commands per move, matchcore's amend one.
        let ops = scenario.stream_ops() as f64;
        let ours_ops = rates.ours * ops / scenario.ours.stream.len() as f64;
        let amend_ops = amend * ops / amend_commands.stream.len() as f64;
        println!(
            "  (info) per operation, moves as matchcore's native amend: ringex {:.2} M ops/s, \
             matchcore {:.2} M ops/s, ratio {:.2}x",
            ours_ops / 1e6,
            amend_ops / 1e6,
            ours_ops / amend_ops
        );
    }
}

/// Prints ringex's service-time percentiles per mix; returns the worst p99.99 in ns.
fn print_service_times(config: &Arc<Config>, scenarios: &[Scenario]) -> u64 {
    let tsc = Tsc::calibrate();
    println!(
        "service time per command, ringex::Matcher ({LATENCY_PASSES} passes; rdtsc at {:.3} GHz, \
         {:.1} ns timer overhead subtracted):",
        1.0 / tsc.ns_per_tick,
        tsc.overhead_ticks as f64 * tsc.ns_per_tick
    );
    let mut worst_p9999_ns = 0;
    for scenario in scenarios {
        let (histogram, quietest_p9999_ns) = service_times(config, scenario, &tsc);
        let p9999_ns = histogram.value_at_quantile(0.9999);
        worst_p9999_ns = worst_p9999_ns.max(p9999_ns);
        println!(
            "  {:<14} p50 {} ns, p99 {} ns, p99.9 {} ns, p99.99 {} ns (quietest pass {} ns), \
             max {} ns; {} samples",
            scenario.workload.mix.name(),
            histogram.value_at_quantile(0.50),
            histogram.value_at_quantile(0.99),
            histogram.value_at_quantile(0.999),
            p9999_ns,
            quietest_p9999_ns,
            histogram.max(),
            histogram.len()
        );
        print_label_breakdown(config, scenario, &tsc);
    }
    worst_p9999_ns
}

fn main() {
    let full = std::env::args().any(|argument| argument == "--bench");
    let config = bench_config();
    let (warm_ops, realistic_ops, exchange_core_ops) =
        if full { (100_000, 600_000, 400_000) } else { (2_000, 2_000, 2_000) };
    let started = Instant::now();
    let scenarios = [
        Scenario::build(Mix::Realistic, warm_ops, realistic_ops, &config),
        Scenario::build(Mix::ExchangeCore, warm_ops, exchange_core_ops, &config),
    ];
    if !full {
        for scenario in &scenarios {
            println!("{}: {}", scenario.workload.mix.name(), scenario.describe());
        }
        println!("checked both engines against the model (run with --bench to time them)");
        return;
    }
    println!("streams generated, translated and checked in {:.1?}", started.elapsed());
    // `--ringex-once`: ringex alone, one pass over the realistic stream, for instruction-level
    // profilers (cachegrind) too slow to sit through the whole bench.
    if std::env::args().any(|argument| argument == "--ringex-once") {
        let mut feed = Feed::<OurEngine>::new(&config, &scenarios[0].ours);
        println!("ringex, realistic, one pass: {:.2} M commands/s", feed.stream_rate() / 1e6);
        return;
    }
    let mut criterion = Criterion::default().without_plots().configure_from_args();
    criterion_groups(&mut criterion, &config, &scenarios);
    criterion.final_summary();
    // `--profile-time N` (criterion's profiling mode) runs the groups only, for a profiler.
    if !std::env::args().any(|argument| argument == "--profile-time") {
        print_summary(&config, &scenarios);
    }
}
