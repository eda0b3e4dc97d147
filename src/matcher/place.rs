//! Placement: a new order cleared, matched against the opposite side and settled.
//!
//! `place` clears the order (`clear`: everything that could reject it) and emits
//! `OrderAccepted`. A limit order that does not cross trades nothing: a GTC one locks its funds
//! and rests whole, an IOC or FOK one expires without locking anything. Any other order locks
//! what it may spend and, unless it is post-only or a FOK the book cannot fill (`fok_fillable`
//! checks without changing anything), walks the opposite side (`walk`): one `trade` per maker,
//! in price-time priority, at the maker's price. What is left of it then expires, rests (a GTC
//! limit remainder, lock and all) or has its unspent lock released.
//!
//! Invariants:
//! - a rejected placement changes nothing: `clear` decides every rejection before the first
//!   write;
//! - a taker's lock shrinks by exactly what each trade uses; what is left is released or carried
//!   whole into its resting order;
//! - a trade settles six balances and adds their hash changes to the state hash at once;
//! - a walk ends only when the taker is done, is stopped, or no longer crosses: it never leaves
//!   the book crossed.

use super::order_index::OrderIndex;
use super::resting::order_state;
use super::{MarketBook, MarketNumbers, Matcher, client_key, emit, spend_asset};
use crate::command::{Command, PlaceOrder};
use crate::config::MarketSpec;
use crate::event::{EventKind, EventSink, Fill, OrderState};
use crate::types::{
    AccountIndex, ExpiryReason, OrderId, OrderStatus, OrderType, PriceTicks, QuantitySteps,
    RejectReason, SelfTradePrevention, Side, TimeInForce,
};
use std::hint::select_unpredictable;

/// Basis points in one whole.
const BPS_PER_UNIT: u64 = 10_000;

/// How a taker's walk through the book ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WalkEnd {
    /// Quantity filled completely, or a quote budget cannot buy one more step.
    Done,
    /// The book ran out or stopped crossing the limit price.
    NoLiquidity,
    /// The funds behind a market order ran out.
    NoFunds,
    /// Self-trade prevention stopped the taker.
    SelfTrade,
}

/// An incoming order while it walks the book.
///
/// NB: it holds what changes and borrows the placement for the rest, instead of carrying a whole
/// `OrderState`: each fill event would otherwise copy that state out of the taker with wide loads
/// of fields stored one by one shortly before, which stall on store forwarding.
struct Taker<'p> {
    place: &'p PlaceOrder,
    order_id: OrderId,
    account: AccountIndex,
    created_at_us: u64,
    /// Base filled so far.
    executed_quantity: u64,
    /// Quote filled so far, in quote units.
    executed_quote: u64,
    /// Base still wanted; unused (zero) for market orders by quote.
    remaining: u64,
    /// Funds still locked for it, in the asset it spends.
    locked: u64,
    by_quote: bool,
}

impl Taker<'_> {
    /// The taker's order state after its latest change, with `status`.
    #[inline]
    fn state(&self, status: OrderStatus) -> OrderState {
        let executed = (QuantitySteps(self.executed_quantity), self.executed_quote);
        placed_state(self.place, self.order_id, self.account, self.created_at_us, executed, status)
    }
}

/// The state of the order `place` made (`order_id`, by `account`, at `created_at_us`), having
/// executed `(quantity, quote)`, with `status`. Built from values, never copied out of a
/// stored state (see `Taker`).
#[inline(always)]
fn placed_state(
    place: &PlaceOrder,
    order_id: OrderId,
    account: AccountIndex,
    created_at_us: u64,
    (executed_quantity, executed_quote): (QuantitySteps, u64),
    status: OrderStatus,
) -> OrderState {
    OrderState {
        order_id,
        account,
        market: place.market,
        side: place.side,
        order_type: place.order_type,
        time_in_force: place.time_in_force,
        self_trade_prevention: place.self_trade_prevention,
        post_only: place.post_only,
        status,
        client_id: place.client_id,
        price: place.price,
        quantity: place.quantity,
        quote_quantity: place.quote_quantity,
        executed_quantity,
        executed_quote,
        created_at_us,
    }
}

impl Matcher {
    pub(super) fn place(
        &mut self,
        command: &Command,
        place: &PlaceOrder,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        let (account, lock) = self.clear(command, place)?;
        let spec = self.books[place.market.0 as usize].numbers;
        let spend_asset = spend_asset(&spec, place.side);
        let order_id = OrderId(command.sequence.0);
        let nothing = (QuantitySteps(0), 0);
        let state =
            placed_state(place, order_id, account, command.time_us, nothing, OrderStatus::New);
        // NB: emitted from the value, before it is stored in the taker: copying it back out of
        // the taker just after its fields were stored one by one stalls on store forwarding.
        emit(sink, command, EventKind::OrderAccepted(state));
        // A limit order that does not cross trades nothing, so it needs no taker and no walk: a
        // GTC one rests whole (the common case), an IOC or FOK one expires without its funds
        // ever being locked (locking then releasing them would leave the same state).
        let book = &self.books[place.market.0 as usize];
        if place.order_type == OrderType::Limit && !crosses_best(book, place.side, place.price) {
            let reason = match place.time_in_force {
                TimeInForce::Gtc => {
                    self.move_to_locked(account, spend_asset, lock);
                    self.rest(command, place, account, place.quantity.0, lock, 0);
                    return Ok(());
                }
                TimeInForce::Ioc => ExpiryReason::ImmediateOrCancel,
                TimeInForce::Fok => ExpiryReason::FillOrKill,
            };
            let order = OrderState { status: OrderStatus::Expired, ..state };
            emit(sink, command, EventKind::OrderExpired { order, reason });
            return Ok(());
        }
        self.move_to_locked(account, spend_asset, lock);
        let mut taker = Taker {
            place,
            order_id,
            account,
            created_at_us: command.time_us,
            executed_quantity: 0,
            executed_quote: 0,
            remaining: place.quantity.0,
            locked: lock,
            by_quote: place.order_type == OrderType::Market && place.quantity.0 == 0,
        };

        let book = &self.books[place.market.0 as usize];
        let end = if place.post_only && crosses_best(book, place.side, place.price) {
            Some(ExpiryReason::PostOnlyTaker)
        } else if place.time_in_force == TimeInForce::Fok && !self.fok_fillable(&taker, &spec) {
            Some(ExpiryReason::FillOrKill)
        } else {
            let walk_end = self.walk(command, &mut taker, &spec, sink);
            self.end_reason(&taker, walk_end)
        };
        match end {
            Some(reason) => {
                self.release_lock(account, spend_asset, taker.locked);
                taker.locked = 0;
                let order = taker.state(OrderStatus::Expired);
                emit(sink, command, EventKind::OrderExpired { order, reason });
            }
            // Only a limit GTC remainder gets here with quantity left: it rests, lock and all.
            None if !taker.by_quote && taker.remaining > 0 => {
                let executed_quote = taker.executed_quote;
                self.rest(command, place, account, taker.remaining, taker.locked, executed_quote)
            }
            None => {
                // A quote budget's walk can end after its last fill event was emitted (an own
                // maker expired in between); the order is filled all the same.
                // Market budgets may leave funds unspent; limit locks are used up exactly.
                debug_assert!(place.order_type == OrderType::Market || taker.locked == 0);
                self.release_lock(account, spend_asset, taker.locked);
            }
        }
        Ok(())
    }

    /// Everything that could reject a placement, decided before anything changes.
    /// Returns the account and the funds to lock (in the asset the order spends).
    #[inline(always)]
    fn clear(
        &self,
        command: &Command,
        place: &PlaceOrder,
    ) -> Result<(AccountIndex, u64), (RejectReason, u32)> {
        let reject = |reason| Err((reason, 0));
        let Some(spec) = self.config.markets.get(place.market.0 as usize) else {
            return reject(RejectReason::InvalidSymbol);
        };
        // An unknown key holds nothing, so it cannot pay for anything.
        let Some(account) = self.accounts.find(&command.account) else {
            return reject(RejectReason::InsufficientFunds);
        };
        if self.accounts.get(account).frozen {
            return reject(RejectReason::AccountFrozen);
        }
        check_shape(spec, place).map_err(|reason| (reason, 0))?;
        if self.is_below_min_value(spec, place) {
            return reject(RejectReason::OrderValueBelowMinimum);
        }
        if let Some(client_id) = place.client_id
            && self.client_ids.get(client_key(account, client_id.0)).is_some()
        {
            return Err((RejectReason::DuplicateClientId, client_id.0));
        }
        let may_rest =
            place.order_type == OrderType::Limit && place.time_in_force == TimeInForce::Gtc;
        if may_rest
            && (self.orders.free_count() == 0
                || self.accounts.get(account).open_orders
                    >= self.config.limits.open_orders_per_account_max
                || self.books[place.market.0 as usize].side(place.side).is_full_for(place.price)
                || self.would_pass_level_cap(account, place))
        {
            return reject(RejectReason::OrderLimit);
        }
        let available = self.accounts.balance(account, spend_asset(spec, place.side)).available;
        let lock = match (place.order_type, place.side, place.quantity.0 == 0) {
            // NB: both computed, then selected without a branch: the side is a coin flip no
            // predictor learns (see `select_unpredictable` beside `MarketBook::side`).
            (OrderType::Limit, _, _) => select_unpredictable(
                place.side == Side::Bid,
                spec.notional(place.price, place.quantity),
                spec.base_units(place.quantity),
            ),
            (OrderType::Market, Side::Ask, false) => spec.base_units(place.quantity),
            (OrderType::Market, Side::Bid, true) => Some(place.quote_quantity),
            // Market orders with an open-ended spend may use everything available.
            (OrderType::Market, Side::Bid, false) | (OrderType::Market, Side::Ask, true) => {
                Some(available).filter(|&available| available > 0)
            }
        };
        let Some(lock) = lock else {
            return if available == 0 {
                reject(RejectReason::InsufficientFunds)
            } else {
                reject(RejectReason::QuantityOutOfBounds)
            };
        };
        if lock > available {
            return reject(RejectReason::InsufficientFunds);
        }
        Ok((account, lock))
    }

    /// Whether the order is worth less than the market's `min_order_value` (quote units): a
    /// limit order by price × quantity, a market order by its quote budget, or by quantity ×
    /// the best opposite price (with no opposite order it cannot trade, and expires, whatever
    /// its size). A value past `u64` is not below anything.
    #[inline(always)]
    fn is_below_min_value(&self, spec: &MarketSpec, place: &PlaceOrder) -> bool {
        let minimum = spec.min_order_value_units;
        if minimum == 0 {
            return false;
        }
        let price = match place.order_type {
            OrderType::Limit => Some(place.price),
            OrderType::Market if place.quantity.0 == 0 => return place.quote_quantity < minimum,
            OrderType::Market => {
                let book = &self.books[place.market.0 as usize];
                book.side(place.side.opposite()).best_price()
            }
        };
        price.is_some_and(|price| {
            spec.notional(price, place.quantity).is_some_and(|value| value < minimum)
        })
    }

    /// Whether resting this order would put the account on more distinct levels of its side
    /// than `levels_per_side_per_account_max`: it holds that many and none at this price.
    #[inline(always)]
    fn would_pass_level_cap(&self, account: AccountIndex, place: &PlaceOrder) -> bool {
        let (market, side) = (place.market, place.side);
        if self.account_levels.distinct(account, market, side)
            < self.config.limits.levels_per_side_per_account_max
        {
            return false;
        }
        let book_side = self.books[market.0 as usize].side(side);
        book_side
            .level_at(place.price)
            .is_none_or(|level| !self.account_levels.holds(account, market, side, level))
    }

    /// Whether a FOK taker would fill completely, walking the book without changing it.
    fn fok_fillable(&self, taker: &Taker, spec: &MarketNumbers) -> bool {
        debug_assert!(!taker.by_quote, "FOK needs a quantity");
        let book = &self.books[taker.place.market.0 as usize];
        let mut needed = taker.remaining;
        let mut budget = taker.locked;
        for level in book.side(taker.place.side.opposite()).levels_best_first() {
            if taker.place.order_type == OrderType::Limit
                && !price_crosses(taker.place.side, taker.place.price, level.price)
            {
                return false;
            }
            let unit_cost = level.price.0 * spec.quote_units_per_tick_step;
            let mut index = level.head;
            while !index.is_nil() {
                let maker = self.orders.get(index);
                index = maker.level_next;
                if maker.account == taker.account {
                    match taker.place.self_trade_prevention {
                        SelfTradePrevention::Allow => {}
                        SelfTradePrevention::RejectMaker => continue,
                        SelfTradePrevention::RejectTaker | SelfTradePrevention::RejectBoth => {
                            return false;
                        }
                    }
                }
                let take = maker.remaining.0.min(needed);
                if taker.place.order_type == OrderType::Market && taker.place.side == Side::Bid {
                    if budget / unit_cost < take {
                        return false;
                    }
                    budget -= take * unit_cost;
                }
                needed -= take;
                if needed == 0 {
                    return true;
                }
            }
        }
        false
    }

    /// Steps the taker can take at `price` by its own limits (quantity, budget, funds), or why
    /// it cannot take any.
    #[inline(always)]
    fn taker_capacity(
        &self,
        taker: &Taker,
        spec: &MarketNumbers,
        price: PriceTicks,
    ) -> Result<u64, WalkEnd> {
        if taker.place.order_type == OrderType::Limit {
            if !price_crosses(taker.place.side, taker.place.price, price) {
                return Err(WalkEnd::NoLiquidity);
            }
            return Ok(taker.remaining);
        }
        let unit_cost = price.0 * spec.quote_units_per_tick_step;
        match (taker.place.side, taker.by_quote) {
            (Side::Bid, false) => match taker.remaining.min(taker.locked / unit_cost) {
                0 => Err(WalkEnd::NoFunds),
                steps => Ok(steps),
            },
            (Side::Bid, true) => match taker.locked / unit_cost {
                0 => Err(WalkEnd::Done),
                steps => Ok(steps),
            },
            (Side::Ask, false) => Ok(taker.remaining),
            (Side::Ask, true) => {
                let budget_steps = (taker.place.quote_quantity - taker.executed_quote) / unit_cost;
                let funded_steps = taker.locked / spec.base_units_per_step;
                if budget_steps == 0 {
                    Err(WalkEnd::Done)
                } else if funded_steps == 0 {
                    Err(WalkEnd::NoFunds)
                } else {
                    Ok(budget_steps.min(funded_steps))
                }
            }
        }
    }

    /// Matches the taker against the opposite side until it is done or stopped.
    fn walk(
        &mut self,
        command: &Command,
        taker: &mut Taker,
        spec: &MarketNumbers,
        sink: &mut impl EventSink,
    ) -> WalkEnd {
        let market = taker.place.market.0 as usize;
        let maker_side = taker.place.side.opposite();
        loop {
            let Some(price) = self.books[market].side(maker_side).best_price() else {
                return WalkEnd::NoLiquidity;
            };
            let capacity = match self.taker_capacity(taker, spec, price) {
                Ok(capacity) => capacity,
                Err(end) => return end,
            };
            let level = self.books[market].side(maker_side).best().expect("best price has a level");
            let maker_index = self.books[market].side(maker_side).level(level).head;
            let maker = self.orders.get(maker_index);
            let maker_remaining = maker.remaining.0;
            if maker.account == taker.account {
                match taker.place.self_trade_prevention {
                    SelfTradePrevention::Allow => {}
                    SelfTradePrevention::RejectTaker => return WalkEnd::SelfTrade,
                    SelfTradePrevention::RejectMaker => {
                        let owner = (taker.account, taker.place.market);
                        let reason = Some(ExpiryReason::SelfTradePrevention);
                        self.remove_resting(command, maker_index, owner, reason, sink);
                        continue;
                    }
                    SelfTradePrevention::RejectBoth => {
                        let owner = (taker.account, taker.place.market);
                        let reason = Some(ExpiryReason::SelfTradePrevention);
                        self.remove_resting(command, maker_index, owner, reason, sink);
                        return WalkEnd::SelfTrade;
                    }
                }
            }
            let fill = QuantitySteps(maker_remaining.min(capacity));
            self.trade(command, taker, maker_index, price, fill, spec, sink);
            if !taker.by_quote && taker.remaining == 0 {
                return WalkEnd::Done;
            }
        }
    }

    /// Settles one trade between the taker and the maker at `maker_index`, emitting the maker's
    /// fill then the taker's.
    #[allow(clippy::too_many_arguments)]
    fn trade(
        &mut self,
        command: &Command,
        taker: &mut Taker,
        maker_index: OrderIndex,
        price: PriceTicks,
        fill: QuantitySteps,
        spec: &MarketNumbers,
        sink: &mut impl EventSink,
    ) {
        let market = taker.place.market;
        let maker = self.orders.get(maker_index);
        let (maker_id, maker_account, maker_side) = (maker.id, maker.account, maker.side);
        let maker_filled = maker.remaining == fill;
        debug_assert!(fill.0 > 0 && fill.0 <= maker.remaining.0);
        debug_assert_eq!(maker.price, price);
        let base = fill.0 * spec.base_units_per_step;
        let quote = fill.0 * price.0 * spec.quote_units_per_tick_step;
        let maker_fee = fee(if maker_side == Side::Bid { base } else { quote }, spec.maker_fee_bps);
        let taker_fee = fee(if maker_side == Side::Bid { quote } else { base }, spec.taker_fee_bps);

        // The maker's lock is at its own price, which is the trade price: it spends exactly.
        // The taker's lock may be at a worse limit: release the difference.
        let taker_lock_used = match (taker.place.side, taker.place.order_type) {
            (Side::Bid, OrderType::Limit) => {
                fill.0 * taker.place.price.0 * spec.quote_units_per_tick_step
            }
            (Side::Bid, OrderType::Market) => quote,
            (Side::Ask, _) => base,
        };
        taker.locked -= taker_lock_used;
        let (buyer, buyer_fee, seller, seller_fee, buyer_lock_used, seller_lock_used) =
            match maker_side {
                Side::Bid => {
                    (maker_account, maker_fee, taker.account, taker_fee, quote, taker_lock_used)
                }
                Side::Ask => {
                    (taker.account, taker_fee, maker_account, maker_fee, taker_lock_used, base)
                }
            };
        let refund = buyer_lock_used - quote;
        let change = (self.spend_locked_unhashed(buyer, spec.quote, buyer_lock_used, refund))
            .plus(self.credit_unhashed(buyer, spec.base, base - buyer_fee))
            .plus(self.spend_locked_unhashed(seller, spec.base, seller_lock_used, 0))
            .plus(self.credit_unhashed(seller, spec.quote, quote - seller_fee))
            .plus(self.credit_unhashed(AccountIndex::FEE, spec.base, buyer_fee))
            .plus(self.credit_unhashed(AccountIndex::FEE, spec.quote, seller_fee));
        self.hash.add(change);

        let trade_id = {
            let book = &mut self.books[market.0 as usize];
            let trade_id = book.next_trade_id;
            book.next_trade_id += 1;
            trade_id
        };
        self.fill_resting(maker_index, fill, quote);
        let maker_status =
            if maker_filled { OrderStatus::Filled } else { OrderStatus::PartiallyFilled };
        emit(
            sink,
            command,
            EventKind::OrderFill(Fill {
                order: order_state(self.orders.get(maker_index), maker_status),
                trade_id,
                price,
                quantity: fill,
                quote,
                fee: maker_fee,
                fee_asset: if maker_side == Side::Bid { spec.base } else { spec.quote },
                is_maker: true,
                counterparty: taker.order_id,
            }),
        );
        if maker_filled {
            self.forget_order(maker_index, maker_account);
        }

        if !taker.by_quote {
            taker.remaining -= fill.0;
        }
        taker.executed_quantity += fill.0;
        taker.executed_quote += quote;
        let status = if self.taker_is_done(taker, spec) {
            OrderStatus::Filled
        } else {
            OrderStatus::PartiallyFilled
        };
        emit(
            sink,
            command,
            EventKind::OrderFill(Fill {
                order: taker.state(status),
                trade_id,
                price,
                quantity: fill,
                quote,
                fee: taker_fee,
                fee_asset: if taker.place.side == Side::Bid { spec.base } else { spec.quote },
                is_maker: false,
                counterparty: maker_id,
            }),
        );
    }

    /// Whether the taker's walk would end as done before taking anything more: its quantity is
    /// filled, or its quote budget cannot buy a step at the next price the book offers.
    #[inline(always)]
    fn taker_is_done(&self, taker: &Taker, spec: &MarketNumbers) -> bool {
        if !taker.by_quote {
            return taker.remaining == 0;
        }
        self.quote_budget_is_spent(taker, spec)
    }

    /// Whether a taker with a quote budget cannot buy a step at the next price the book offers.
    #[inline(never)]
    fn quote_budget_is_spent(&self, taker: &Taker, spec: &MarketNumbers) -> bool {
        let book = &self.books[taker.place.market.0 as usize];
        match book.side(taker.place.side.opposite()).best_price() {
            Some(price) => self.taker_capacity(taker, spec, price) == Err(WalkEnd::Done),
            None => false,
        }
    }

    /// Turns how the walk ended into the taker's expiry reason, or `None` if it is filled or rests.
    #[inline(always)]
    fn end_reason(&self, taker: &Taker, end: WalkEnd) -> Option<ExpiryReason> {
        let executed = taker.executed_quantity > 0;
        match (end, taker.place.order_type) {
            (WalkEnd::SelfTrade, _) => Some(ExpiryReason::SelfTradePrevention),
            (WalkEnd::Done, _) if executed || !taker.by_quote => None,
            // A quote budget too small for a single step at the best price bought nothing.
            (WalkEnd::Done, _) => Some(ExpiryReason::InsufficientFunds),
            (WalkEnd::NoFunds, _) => Some(ExpiryReason::InsufficientFunds),
            (WalkEnd::NoLiquidity, OrderType::Market) => Some(ExpiryReason::InsufficientLiquidity),
            (WalkEnd::NoLiquidity, OrderType::Limit) => match taker.place.time_in_force {
                TimeInForce::Gtc => None,
                TimeInForce::Ioc => Some(ExpiryReason::ImmediateOrCancel),
                TimeInForce::Fok => unreachable!("a FOK taker is simulated before it walks"),
            },
        }
    }
}

/// Field-level checks of a placement against its market: the shape of the order.
fn check_shape(spec: &MarketSpec, place: &PlaceOrder) -> Result<(), RejectReason> {
    let check_quantity = |quantity: QuantitySteps| {
        if quantity.0 < spec.min_quantity_steps.0 {
            Err(RejectReason::QuantityBelowMinimum)
        } else if quantity.0 > spec.quantity_steps_max {
            Err(RejectReason::QuantityOutOfBounds)
        } else {
            Ok(())
        }
    };
    match place.order_type {
        OrderType::Limit => {
            if place.quote_quantity != 0
                || (place.post_only && place.time_in_force != TimeInForce::Gtc)
            {
                return Err(RejectReason::InvalidOrder);
            }
            if place.price.0 == 0 || place.price.0 > spec.price_ticks_max {
                return Err(RejectReason::PriceOutOfBounds);
            }
            check_quantity(place.quantity)
        }
        OrderType::Market => {
            let by_quote = place.quantity.0 == 0;
            if place.post_only
                || place.price.0 != 0
                || by_quote == (place.quote_quantity == 0)
                || (by_quote && place.time_in_force == TimeInForce::Fok)
            {
                return Err(RejectReason::InvalidOrder);
            }
            if by_quote { Ok(()) } else { check_quantity(place.quantity) }
        }
    }
}

/// Whether a taker on `side` with limit `limit` trades with a maker at `maker_price`.
#[inline]
fn price_crosses(side: Side, limit: PriceTicks, maker_price: PriceTicks) -> bool {
    select_unpredictable(side == Side::Bid, maker_price <= limit, maker_price >= limit)
}

/// Whether a limit order at `price` on `side` would trade with the opposite best.
#[inline(always)]
fn crosses_best(book: &MarketBook, side: Side, price: PriceTicks) -> bool {
    book.side(side.opposite()).best_price().is_some_and(|best| price_crosses(side, price, best))
}

/// The fee on `received` units at `bps` (at most [`BPS_PER_UNIT`], by configuration), rounded
/// down to the unit: `⌊received × bps / 10⁴⌋` split at a multiple of 10⁴ so it stays exact in
/// `u64` (`q × bps` ≤ `received`, `r × bps` < 10⁸).
#[inline]
pub(super) fn fee(received: u64, bps: u32) -> u64 {
    // NB: not a `u128` product: its division is a `__udivti3` call on every fill, where a `u64`
    // division by a constant is a multiply (`cargo bench --bench matcher`).
    debug_assert!(u64::from(bps) <= BPS_PER_UNIT);
    let bps = u64::from(bps);
    received / BPS_PER_UNIT * bps + received % BPS_PER_UNIT * bps / BPS_PER_UNIT
}
