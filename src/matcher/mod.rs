//! The matcher: the only writer of accounts, balances and books.
//!
//! **Reads** one [`Command`] at a time (ring B in the pipeline, the journal on replay).
//! **Writes** its consequences as [`Event`]s to an [`EventSink`] (ring C in the pipeline).
//! **Owns** every account, balance, order and price level, all preallocated in [`Matcher::new`]
//! from the configured limits.
//!
//! For each command it *clears* (validate, risk-check, decide it can be done), then *matches*
//! (price-time priority, at the maker's price) and *settles* (move balances, charge fees). Clearing
//! decides everything that could reject the command before anything changes, so a rejected
//! command changes nothing but emits `Rejected`.
//!
//! Invariants (checked in full by [`Matcher::check_invariants`] after every command in the tests,
//! cheaply by `debug_assert!` on the hot path):
//! - the book is never crossed: best bid < best ask in every market;
//! - per asset, available + locked over all accounts (fee account included) = deposited − withdrawn;
//! - each account's locked balance equals exactly what its open orders could still spend;
//! - every level's total is the sum of its orders' remaining quantities, FIFO in id order;
//! - the incremental state hash equals the hash recomputed from scratch.
//!
//! It never allocates after construction, never blocks, never reads a clock or an RNG: time and
//! ids come from the command, so the same commands always give byte-identical events.

mod account_orders;
mod accounts;
mod book;
mod order_ids;
mod orders;
pub mod stage;
mod state_hash;

use crate::command::{Action, Command, OrderRef, PlaceOrder};
use crate::config::{Config, MarketSpec};
use crate::event::{Event, EventKind, EventSink, Fill, OrderState, Transfer, TransferKind};
use crate::fixed::FixedMap;
use crate::types::{
    AccountIndex, AccountKey, AssetId, ExpiryReason, MarketId, OrderId, OrderStatus, OrderType,
    PriceTicks, QuantitySteps, RejectReason, SelfTradePrevention, SequenceNumber, Side,
    TimeInForce,
};
use account_orders::AccountOrders;
use accounts::{Accounts, Balance};
use book::BookSide;
use order_ids::OrderIds;
use orders::{NIL, Order, OrderPool};
use state_hash::{Coefficients, Contribution, Domain, StateHash, fold};
use std::hint::select_unpredictable;
use std::sync::Arc;

/// Basis points in one whole.
const BPS_PER_UNIT: u64 = 10_000;

/// Both sides of one market plus its trade counter.
struct MarketBook {
    bids: BookSide,
    asks: BookSide,
    /// The spec's numbers, copied here so placing an order reads them from the book it uses.
    numbers: MarketNumbers,
    /// The next trade id (from 1).
    next_trade_id: u64,
}

impl MarketBook {
    fn side(&self, side: Side) -> &BookSide {
        select_unpredictable(side == Side::Bid, &self.bids, &self.asks)
    }
    fn side_mut(&mut self, side: Side) -> &mut BookSide {
        select_unpredictable(side == Side::Bid, &mut self.bids, &mut self.asks)
    }
}

/// Running totals of one asset, for the conservation check and the admin state query.
#[derive(Clone, Copy, Debug, Default)]
struct AssetLedger {
    deposited: u64,
    withdrawn: u64,
}

/// The matching engine's state.
pub struct Matcher {
    config: Arc<Config>,
    books: Vec<MarketBook>,
    orders: OrderPool,
    accounts: Accounts,
    /// Each account's open orders, oldest first.
    account_orders: AccountOrders,
    /// Order id → pool slot, for every resting order.
    order_slots: OrderIds,
    /// `account << 32 | client id` → pool slot, for resting orders with a client id.
    client_slots: FixedMap,
    ledgers: Vec<AssetLedger>,
    next_deposit_id: u32,
    next_withdrawal_id: u32,
    last_sequence: SequenceNumber,
    hash: StateHash,
}

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
    /// Builds an empty engine, allocating every pool from `config.limits`.
    pub fn new(config: Arc<Config>) -> Matcher {
        let limits = &config.limits;
        let books = (config.markets.iter())
            .map(|spec| MarketBook {
                bids: BookSide::with_levels_max(Side::Bid, limits.levels_per_side_max),
                asks: BookSide::with_levels_max(Side::Ask, limits.levels_per_side_max),
                numbers: spec.clone_numbers(),
                next_trade_id: 1,
            })
            .collect();
        let mut matcher = Matcher {
            books,
            orders: OrderPool::with_orders_max(limits.orders_max),
            accounts: Accounts::new(limits.accounts_max, config.assets.len()),
            account_orders: AccountOrders::new(limits.orders_max, limits.accounts_max),
            order_slots: OrderIds::with_slots_max(limits.orders_max),
            client_slots: FixedMap::with_entries_max(limits.orders_max as usize),
            ledgers: vec![AssetLedger::default(); config.assets.len()],
            next_deposit_id: 1,
            next_withdrawal_id: 1,
            last_sequence: SequenceNumber(0),
            hash: StateHash::default(),
            config,
        };
        matcher.hash_account(AccountIndex::FEE);
        matcher
    }

    /// The configuration the engine runs.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The last sequence number applied.
    pub fn last_sequence(&self) -> SequenceNumber {
        self.last_sequence
    }

    /// Applies one command, writing its events to `sink`. The only entry point that changes state.
    pub fn apply(&mut self, command: &Command, sink: &mut impl EventSink) {
        if !command.action.is_query() {
            assert!(command.sequence > self.last_sequence, "sequence numbers must increase");
            self.last_sequence = command.sequence;
        }
        let outcome = match command.action {
            Action::Place(place) => self.place(command, &place, sink),
            Action::Cancel { market, target } => self.cancel(command, market, target, sink),
            Action::CancelAll { market } => self.cancel_all(command, market, sink),
            Action::Deposit { asset, amount } => self.deposit(command, asset, amount, sink),
            Action::AdminWithdraw { asset, amount } => {
                self.withdraw(command, asset, amount, TransferKind::AdminWithdrawal, sink)
            }
            Action::Withdraw { asset, amount } => {
                self.withdraw(command, asset, amount, TransferKind::Withdrawal, sink)
            }
            Action::Freeze => self.set_frozen(command, true, sink),
            Action::Unfreeze => self.set_frozen(command, false, sink),
            Action::QueryBalances => self.query_balances(command, sink),
            Action::QueryOrder { market, target } => {
                self.query_order(command, market, target, sink)
            }
            Action::QueryOpenOrders { market } => self.query_open_orders(command, market, sink),
            Action::QueryState => self.query_state(command, sink),
        };
        if let Err((reason, client_id)) = outcome {
            emit(sink, command, EventKind::Rejected { reason, client_id });
        }
        debug_assert!(self.books.iter().all(|book| !is_crossed(book)), "book crossed");
    }

    // ---------------------------------------------------------------------------------------------
    // Placement: clear, match, settle.

    fn place(
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
        if let Some(client_id) = place.client_id
            && self.client_slots.get(client_key(account, client_id.0)).is_some()
        {
            return Err((RejectReason::DuplicateClientId, client_id.0));
        }
        let may_rest =
            place.order_type == OrderType::Limit && place.time_in_force == TimeInForce::Gtc;
        if may_rest
            && (self.orders.free_slots() == 0
                || self.accounts.get(account).open_orders
                    >= self.config.limits.open_orders_per_account_max
                || self.books[place.market.0 as usize].side(place.side).is_full_for(place.price))
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
            let mut slot = level.head;
            while slot != NIL {
                let maker = self.orders.get(slot);
                slot = maker.level_next;
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
            let maker_slot = self.books[market].side(maker_side).level(level).head;
            let maker = self.orders.get(maker_slot);
            let maker_remaining = maker.remaining.0;
            if maker.account == taker.account {
                match taker.place.self_trade_prevention {
                    SelfTradePrevention::Allow => {}
                    SelfTradePrevention::RejectTaker => return WalkEnd::SelfTrade,
                    SelfTradePrevention::RejectMaker => {
                        let owner = (taker.account, taker.place.market);
                        let reason = Some(ExpiryReason::SelfTradePrevention);
                        self.remove_resting(command, maker_slot, owner, reason, sink);
                        continue;
                    }
                    SelfTradePrevention::RejectBoth => {
                        let owner = (taker.account, taker.place.market);
                        let reason = Some(ExpiryReason::SelfTradePrevention);
                        self.remove_resting(command, maker_slot, owner, reason, sink);
                        return WalkEnd::SelfTrade;
                    }
                }
            }
            let fill = QuantitySteps(maker_remaining.min(capacity));
            self.trade(command, taker, maker_slot, price, fill, spec, sink);
            if !taker.by_quote && taker.remaining == 0 {
                return WalkEnd::Done;
            }
        }
    }

    /// Settles one trade between the taker and the maker in `maker_slot`, emitting the maker's
    /// fill then the taker's.
    #[allow(clippy::too_many_arguments)]
    fn trade(
        &mut self,
        command: &Command,
        taker: &mut Taker,
        maker_slot: u32,
        price: PriceTicks,
        fill: QuantitySteps,
        spec: &MarketNumbers,
        sink: &mut impl EventSink,
    ) {
        let market = taker.place.market;
        let maker = self.orders.get(maker_slot);
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
        self.fill_resting(maker_slot, fill, quote);
        let maker_status =
            if maker_filled { OrderStatus::Filled } else { OrderStatus::PartiallyFilled };
        emit(
            sink,
            command,
            EventKind::OrderFill(Fill {
                order: order_state(self.orders.get(maker_slot), maker_status),
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
            self.forget_order(maker_slot, maker_account);
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

    // ---------------------------------------------------------------------------------------------
    // Resting orders.

    /// Puts the `remaining` steps of the order `command` placed (`place`, by `account`, with
    /// `executed_quote` already traded) on the book; its lock (`locked`) stays.
    ///
    /// NB: read from the command, not from the order's `OrderState`: passing that by reference
    /// kept it in memory, and the accepted event was then copied out of it with wide loads of
    /// fields just stored one by one, which stall on store forwarding.
    fn rest(
        &mut self,
        command: &Command,
        place: &PlaceOrder,
        account: AccountIndex,
        remaining: u64,
        locked: u64,
        executed_quote: u64,
    ) {
        debug_assert!(
            place.order_type == OrderType::Limit && place.time_in_force == TimeInForce::Gtc
        );
        debug_assert!(remaining > 0);
        let resting = Order {
            id: OrderId(command.sequence.0),
            price: place.price,
            quantity: place.quantity,
            remaining: QuantitySteps(remaining),
            executed_quote,
            created_at_us: command.time_us,
            account,
            client_id_value: place.client_id.map_or(0, |client_id| client_id.0),
            has_client_id: place.client_id.is_some(),
            level: NIL,
            level_prev: NIL,
            level_next: NIL,
            bucket_next: NIL,
            market: place.market,
            side: place.side,
            time_in_force: place.time_in_force,
            self_trade_prevention: place.self_trade_prevention,
            post_only: place.post_only,
            hash: Contribution::ZERO,
        };
        let hash = order_contribution(&resting);
        self.hash.add(hash);
        let slot = self.orders.take_slot();
        // NB: written field by field into the slot: a whole `Order` built first was copied
        // through the stack (`take(order)`: 2% fewer commands/s; `*slot = Order { hash,
        // ..resting }` measured no better than this).
        let order = self.orders.get_mut(slot);
        order.id = resting.id;
        order.price = resting.price;
        order.quantity = resting.quantity;
        order.remaining = resting.remaining;
        order.executed_quote = resting.executed_quote;
        order.created_at_us = resting.created_at_us;
        order.account = resting.account;
        order.client_id_value = resting.client_id_value;
        order.has_client_id = resting.has_client_id;
        order.market = resting.market;
        order.side = resting.side;
        order.time_in_force = resting.time_in_force;
        order.self_trade_prevention = resting.self_trade_prevention;
        order.post_only = resting.post_only;
        order.hash = hash;
        self.books[place.market.0 as usize].side_mut(place.side).push_back(&mut self.orders, slot);
        self.accounts.get_mut(account).open_orders += 1;
        self.account_orders.push_back(account, slot);
        self.order_slots.insert(&mut self.orders, command.sequence.0, slot);
        if let Some(client_id) = place.client_id {
            let inserted = self.client_slots.insert(client_key(account, client_id.0), slot);
            debug_assert!(inserted);
        }
        debug_assert_eq!(
            self.lock_needed(self.orders.get(slot)),
            Some(locked),
            "a resting order's lock is exactly what its remainder could spend"
        );
    }

    /// Records a fill of the resting order in `slot`. A filled order leaves the book (and the
    /// hash) but keeps its slot, with its final state, until the caller forgets it.
    fn fill_resting(&mut self, slot: u32, fill: QuantitySteps, quote: u64) {
        let order = self.orders.get(slot);
        let (id, market, side) = (order.id, order.market, order.side);
        let (remaining, executed_quote, hash) = (order.remaining, order.executed_quote, order.hash);
        let book_side = self.books[market.0 as usize].side_mut(side);
        if remaining == fill {
            self.hash.subtract(hash);
            book_side.unlink(&mut self.orders, slot);
            let filled = self.orders.get_mut(slot);
            filled.remaining = QuantitySteps(0);
            filled.executed_quote += quote;
        } else {
            book_side.reduce(&mut self.orders, slot, fill);
            // Only the two mutable fields change: update them instead of rehashing the order.
            // NB: from the values held here, not read back from the slot: a vector load of both
            // fields just after `reduce` stored one of them fails store forwarding.
            let entity = Coefficients::of(Domain::Order, id.0);
            let (remaining_after, executed_quote_after) =
                (remaining.0 - fill.0, executed_quote + quote);
            let change = entity.delta(
                ORDER_FIELD,
                0,
                order_fill_fold(
                    (remaining.0, remaining_after),
                    (executed_quote, executed_quote_after),
                ),
            );
            let after = self.orders.get_mut(slot);
            debug_assert_eq!(after.remaining.0, remaining_after);
            after.executed_quote = executed_quote_after;
            after.hash = after.hash.plus(change);
            self.hash.add(change);
        }
    }

    /// Takes a resting order off the book and releases its lock: cancelled by its owner (`None`)
    /// or expired by the engine. The caller names the order's account and market (`owner`),
    /// which it already knows.
    fn remove_resting(
        &mut self,
        command: &Command,
        slot: u32,
        owner: (AccountIndex, MarketId),
        expiry: Option<ExpiryReason>,
        sink: &mut impl EventSink,
    ) {
        // NB: balances and numbers are addressed through `owner`, known before the order is
        // read, not through the order's own fields, so their cache misses overlap the order's
        // instead of following it (exchange-core mix, half cancels: ~6% more commands/s).
        let (account, market) = owner;
        let order = *self.orders.get(slot);
        debug_assert_eq!((order.account, order.market), owner);
        // NB: emitted first, while the order's fields are fresh in registers: emitted after the
        // calls below, they were spilled to the stack and reloaded (callgrind, realistic mix of
        // `cargo bench --bench matcher`: 286 -> 262 instructions per cancel here).
        let kind = match expiry {
            None => EventKind::OrderCancelled(order_state(&order, OrderStatus::Cancelled)),
            Some(reason) => {
                EventKind::OrderExpired { order: order_state(&order, OrderStatus::Expired), reason }
            }
        };
        emit(sink, command, kind);
        self.hash.subtract(order.hash);
        let numbers = self.books[market.0 as usize].numbers;
        // Both sides' amounts are computed (then one selected without a branch), so wrapping:
        // the one selected fits, checked at placement, but an ask's notional never was.
        let lock = select_unpredictable(
            order.side == Side::Bid,
            (order.price.0.wrapping_mul(order.remaining.0))
                .wrapping_mul(numbers.quote_units_per_tick_step),
            order.remaining.0.wrapping_mul(numbers.base_units_per_step),
        );
        debug_assert_eq!(Some(lock), self.lock_needed(&order), "checked when it was placed");
        self.release_lock(account, spend_asset(&numbers, order.side), lock);
        self.books[market.0 as usize].side_mut(order.side).unlink(&mut self.orders, slot);
        self.forget_order(slot, account);
    }

    /// Drops an unlinked order of `owner` from the account list and the indexes, and frees its
    /// slot.
    fn forget_order(&mut self, slot: u32, owner: AccountIndex) {
        let order = self.orders.get(slot);
        debug_assert_eq!(order.account, owner);
        let (id, client_id) = (order.id, order.client_id());
        self.accounts.get_mut(owner).open_orders -= 1;
        self.account_orders.remove(slot);
        self.order_slots.remove(&mut self.orders, id.0, slot);
        if let Some(client_id) = client_id {
            let removed = self.client_slots.remove(client_key(owner, client_id.0));
            debug_assert_eq!(removed, Some(slot));
        }
        self.orders.give_back(slot);
    }

    /// What a resting order's remainder could spend: quote at its price for a bid, base for an ask.
    fn lock_needed(&self, order: &Order) -> Option<u64> {
        let spec = &self.config.markets[order.market.0 as usize];
        match order.side {
            Side::Bid => spec.notional(order.price, order.remaining),
            Side::Ask => spec.base_units(order.remaining),
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Cancels.

    fn cancel(
        &mut self,
        command: &Command,
        market: MarketId,
        target: OrderRef,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        let (slot, account) = self
            .find_open(command, market, target)
            .map_err(|_| (RejectReason::OrderNotFound, 0))?;
        self.remove_resting(command, slot, (account, market), None, sink);
        Ok(())
    }

    fn cancel_all(
        &mut self,
        command: &Command,
        market: MarketId,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        if market.0 as usize >= self.books.len() {
            return Err((RejectReason::InvalidSymbol, 0));
        }
        // An unknown account has no orders: cancelling none is not an error.
        let Some(account) = self.accounts.find(&command.account) else {
            return Ok(());
        };
        let mut cursor = self.account_orders.first(account);
        while let Some(slot) = cursor {
            cursor = self.account_orders.after(account, slot);
            if self.orders.get(slot).market == market {
                self.remove_resting(command, slot, (account, market), None, sink);
            }
        }
        Ok(())
    }

    /// The pool slot of the account's open order `target` in `market`, and the account.
    fn find_open(
        &self,
        command: &Command,
        market: MarketId,
        target: OrderRef,
    ) -> Result<(u32, AccountIndex), RejectReason> {
        if market.0 as usize >= self.books.len() {
            return Err(RejectReason::InvalidSymbol);
        }
        // NB: the signer's lookup and the order's are independent, so their cache misses
        // overlap; checking the owner through `order.account` instead chains three misses
        // (`cargo bench --bench matcher`, exchange-core: 5% slower).
        let account = self.accounts.find(&command.account).ok_or(RejectReason::OrderNotFound)?;
        let slot = match target {
            OrderRef::Id(order_id) => self.order_slots.get(&self.orders, order_id.0),
            OrderRef::Client(client_id) => self.client_slots.get(client_key(account, client_id.0)),
        }
        .ok_or(RejectReason::OrderNotFound)?;
        let order = self.orders.get(slot);
        if order.account != account || order.market != market {
            return Err(RejectReason::OrderNotFound);
        }
        Ok((slot, account))
    }

    // ---------------------------------------------------------------------------------------------
    // Funds and administration.

    fn deposit(
        &mut self,
        command: &Command,
        asset: AssetId,
        amount: u64,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        if asset.0 as usize >= self.ledgers.len() {
            return Err((RejectReason::InvalidAsset, 0));
        }
        if amount == 0 {
            return Err((RejectReason::InvalidQuantity, 0));
        }
        // Every balance and every sum of balances fits a u64 because the supply does.
        let ledger = self.ledgers[asset.0 as usize];
        let supply = ledger.deposited - ledger.withdrawn;
        if supply.checked_add(amount).is_none() || ledger.deposited.checked_add(amount).is_none() {
            return Err((RejectReason::QuantityOutOfBounds, 0));
        }
        let account = match self.accounts.find(&command.account) {
            Some(account) => account,
            None if !self.accounts.has_room() => return Err((RejectReason::AccountLimit, 0)),
            None => {
                let account = self.accounts.create(command.account);
                self.hash_account(account);
                emit(sink, command, EventKind::AccountCreated { account, key: command.account });
                account
            }
        };
        self.ledgers[asset.0 as usize].deposited += amount;
        self.credit(account, asset, amount);
        let id = self.next_deposit_id;
        self.next_deposit_id += 1;
        let balance = self.accounts.balance(account, asset);
        let transfer = Transfer {
            kind: TransferKind::Deposit,
            id,
            account,
            asset,
            amount,
            fee: 0,
            available: balance.available,
            locked: balance.locked,
        };
        emit(sink, command, EventKind::Transfer(transfer));
        Ok(())
    }

    fn withdraw(
        &mut self,
        command: &Command,
        asset: AssetId,
        amount: u64,
        kind: TransferKind,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        let reject = |reason| Err((reason, 0));
        if asset.0 as usize >= self.ledgers.len() {
            return reject(RejectReason::InvalidAsset);
        }
        if amount == 0 {
            return reject(RejectReason::InvalidQuantity);
        }
        let user = kind == TransferKind::Withdrawal;
        let Some(account) = self.accounts.find(&command.account) else {
            return reject(if user {
                RejectReason::InsufficientFunds
            } else {
                RejectReason::AccountNotFound
            });
        };
        if user && self.accounts.get(account).frozen {
            return reject(RejectReason::AccountFrozen);
        }
        let fee = if user { self.config.assets[asset.0 as usize].withdrawal_fee_units } else { 0 };
        let Some(debit) = amount.checked_add(fee) else {
            return reject(RejectReason::QuantityOutOfBounds);
        };
        let before = self.accounts.balance(account, asset);
        if before.available < debit {
            return reject(RejectReason::InsufficientFunds);
        }
        self.set_balance(account, asset, Balance { available: before.available - debit, ..before });
        self.credit(AccountIndex::FEE, asset, fee);
        self.ledgers[asset.0 as usize].withdrawn += amount;
        let id = self.next_withdrawal_id;
        self.next_withdrawal_id += 1;
        let balance = self.accounts.balance(account, asset);
        let transfer = Transfer {
            kind,
            id,
            account,
            asset,
            amount,
            fee,
            available: balance.available,
            locked: balance.locked,
        };
        emit(sink, command, EventKind::Transfer(transfer));
        Ok(())
    }

    fn set_frozen(
        &mut self,
        command: &Command,
        frozen: bool,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        let account =
            self.accounts.find(&command.account).ok_or((RejectReason::AccountNotFound, 0))?;
        let was = self.accounts.get(account).frozen;
        self.hash.update(
            Coefficients::of(Domain::Account, u64::from(account.0)),
            4,
            u64::from(was),
            u64::from(frozen),
        );
        self.accounts.get_mut(account).frozen = frozen;
        emit(sink, command, EventKind::FreezeChanged { account, frozen });
        Ok(())
    }

    // ---------------------------------------------------------------------------------------------
    // Queries: read, emit, change nothing.

    fn query_balances(
        &self,
        command: &Command,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        if let Some(account) = self.accounts.find(&command.account) {
            for asset in 0..self.ledgers.len() {
                let asset = AssetId(asset as u16);
                let balance = self.accounts.balance(account, asset);
                let kind = EventKind::Balance {
                    account,
                    asset,
                    available: balance.available,
                    locked: balance.locked,
                };
                emit(sink, command, kind);
            }
        }
        Ok(())
    }

    fn query_order(
        &self,
        command: &Command,
        market: MarketId,
        target: OrderRef,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        let (slot, _) = self.find_open(command, market, target).map_err(|reason| match reason {
            RejectReason::OrderNotFound => (RejectReason::OrderNotFoundQuery, 0),
            other => (other, 0),
        })?;
        emit(sink, command, EventKind::OrderSnapshot(resting_state(self.orders.get(slot))));
        Ok(())
    }

    fn query_open_orders(
        &self,
        command: &Command,
        market: Option<MarketId>,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        if let Some(market) = market
            && market.0 as usize >= self.books.len()
        {
            return Err((RejectReason::InvalidSymbol, 0));
        }
        let Some(account) = self.accounts.find(&command.account) else {
            return Ok(());
        };
        let mut cursor = self.account_orders.first(account);
        while let Some(slot) = cursor {
            let order = self.orders.get(slot);
            if market.is_none_or(|market| order.market == market) {
                emit(sink, command, EventKind::OrderSnapshot(resting_state(order)));
            }
            cursor = self.account_orders.after(account, slot);
        }
        Ok(())
    }

    fn query_state(
        &self,
        command: &Command,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        let summary = EventKind::StateSummary {
            sequence: self.last_sequence,
            state_hash: self.state_hash(),
            accounts: self.accounts.len() as u32 - 1,
            open_orders: self.orders.used_slots() as u32,
        };
        emit(sink, command, summary);
        for (index, ledger) in self.ledgers.iter().enumerate() {
            let asset = AssetId(index as u16);
            let (available, locked) = self
                .accounts
                .iter()
                .map(|(account, _)| self.accounts.balance(account, asset))
                .fold((0u64, 0u64), |(available, locked), balance| {
                    (available + balance.available, locked + balance.locked)
                });
            let totals = EventKind::AssetTotals {
                asset,
                available,
                locked,
                deposited: ledger.deposited,
                withdrawn: ledger.withdrawn,
                fees: self.accounts.balance(AccountIndex::FEE, asset).available,
            };
            emit(sink, command, totals);
        }
        Ok(())
    }

    // ---------------------------------------------------------------------------------------------
    // Balances: every write goes through these, which keep the state hash in step. The hash
    // terms of a field that does not change are zero, so each writes only the terms of the
    // fields it changes (a move between available and locked is one term: `Coefficients::moved`).

    fn set_balance(&mut self, account: AccountIndex, asset: AssetId, new: Balance) {
        let (balance, entity) = self.accounts.balance_mut(account, asset);
        self.hash.update(entity, BALANCE_AVAILABLE_FIELD, balance.available, new.available);
        self.hash.update(entity, BALANCE_LOCKED_FIELD, balance.locked, new.locked);
        *balance = new;
    }

    fn credit(&mut self, account: AccountIndex, asset: AssetId, amount: u64) {
        let change = self.credit_unhashed(account, asset, amount);
        self.hash.add(change);
    }

    /// [`Matcher::credit`] returning its state-hash change instead of adding it, so a trade adds
    /// its six balance changes to the hash at once (each `self.hash` update is a load and a store
    /// the next one waits for: the compiler cannot keep it in a register across balance writes).
    #[inline(always)]
    fn credit_unhashed(
        &mut self,
        account: AccountIndex,
        asset: AssetId,
        amount: u64,
    ) -> Contribution {
        if amount == 0 {
            return Contribution::ZERO;
        }
        let (balance, entity) = self.accounts.balance_mut(account, asset);
        balance.available += amount;
        entity.delta(BALANCE_AVAILABLE_FIELD, 0, amount)
    }

    #[inline(always)]
    fn move_to_locked(&mut self, account: AccountIndex, asset: AssetId, amount: u64) {
        let (balance, entity) = self.accounts.balance_mut(account, asset);
        debug_assert!(balance.available >= amount);
        self.hash.add(entity.moved(BALANCE_AVAILABLE_FIELD, BALANCE_LOCKED_FIELD, amount));
        balance.available -= amount;
        balance.locked += amount;
    }

    #[inline(always)]
    fn release_lock(&mut self, account: AccountIndex, asset: AssetId, amount: u64) {
        if amount == 0 {
            return;
        }
        let (balance, entity) = self.accounts.balance_mut(account, asset);
        debug_assert!(balance.locked >= amount);
        self.hash.add(entity.moved(BALANCE_LOCKED_FIELD, BALANCE_AVAILABLE_FIELD, amount));
        balance.available += amount;
        balance.locked -= amount;
    }

    /// Takes `used` out of locked: `used − refund` leaves the account, `refund` returns to
    /// available. Returns the state-hash change for the caller to add (see `credit_unhashed`).
    #[inline(always)]
    fn spend_locked_unhashed(
        &mut self,
        account: AccountIndex,
        asset: AssetId,
        used: u64,
        refund: u64,
    ) -> Contribution {
        let (balance, entity) = self.accounts.balance_mut(account, asset);
        debug_assert!(balance.locked >= used && used >= refund);
        let spent = used - refund;
        let mut change = entity.delta(BALANCE_LOCKED_FIELD, spent, 0);
        if refund > 0 {
            change =
                change.plus(entity.moved(BALANCE_LOCKED_FIELD, BALANCE_AVAILABLE_FIELD, refund));
        }
        balance.available += refund;
        balance.locked -= used;
        change
    }

    // ---------------------------------------------------------------------------------------------
    // The state hash.

    /// Adds a new account's key to the hash (accounts are never deleted).
    fn hash_account(&mut self, account: AccountIndex) {
        let key = self.accounts.get(account).key;
        let entity = Coefficients::of(Domain::Account, u64::from(account.0));
        for (field, word) in key.0.chunks_exact(8).enumerate() {
            self.hash.update(entity, field, 0, u64::from_le_bytes(word.try_into().unwrap()));
        }
    }

    /// The state hash over accounts, balances, books and counters: O(markets + assets).
    pub fn state_hash(&self) -> u128 {
        self.hash.finish(self.hash_counters())
    }

    fn hash_counters(&self) -> impl Iterator<Item = u64> + '_ {
        let ids = [u64::from(self.next_deposit_id), u64::from(self.next_withdrawal_id)];
        let trades = self.books.iter().map(|book| book.next_trade_id);
        let ledgers = self.ledgers.iter().flat_map(|ledger| [ledger.deposited, ledger.withdrawn]);
        ids.into_iter().chain(trades).chain(ledgers)
    }

    /// Rebuilds the state hash from scratch by visiting everything (tests and recovery checks).
    pub fn recompute_state_hash(&self) -> u128 {
        let mut hash = StateHash::default();
        for (account, entry) in self.accounts.iter() {
            let entity = Coefficients::of(Domain::Account, u64::from(account.0));
            for (field, word) in entry.key.0.chunks_exact(8).enumerate() {
                hash.update(entity, field, 0, u64::from_le_bytes(word.try_into().unwrap()));
            }
            hash.update(entity, 4, 0, u64::from(entry.frozen));
            for asset in 0..self.ledgers.len() {
                let asset = AssetId(asset as u16);
                let balance = self.accounts.balance(account, asset);
                let entity = Coefficients::of_balance(account.0, asset.0);
                hash.update(entity, BALANCE_AVAILABLE_FIELD, 0, balance.available);
                hash.update(entity, BALANCE_LOCKED_FIELD, 0, balance.locked);
            }
        }
        for (_, slot) in self.order_slots.iter(&self.orders) {
            let order = self.orders.get(slot);
            hash.add(order_contribution(order));
        }
        hash.finish(self.hash_counters())
    }

    // ---------------------------------------------------------------------------------------------
    // Inspection for tests, the replay tool and the read side.

    /// Available and locked of one account's asset, by key (`None` for an unknown key).
    pub fn balance_of(&self, key: &AccountKey, asset: AssetId) -> Option<(u64, u64)> {
        let account = self.accounts.find(key)?;
        let balance = self.accounts.balance(account, asset);
        Some((balance.available, balance.locked))
    }

    /// Available and locked of the fee account.
    pub fn fee_balance(&self, asset: AssetId) -> (u64, u64) {
        let balance = self.accounts.balance(AccountIndex::FEE, asset);
        (balance.available, balance.locked)
    }

    /// Open orders on all books.
    pub fn open_orders(&self) -> usize {
        self.orders.used_slots()
    }

    /// Accounts, the fee account excluded.
    pub fn accounts(&self) -> usize {
        self.accounts.len() - 1
    }

    /// Price levels best first, as `(price, total quantity, orders)`, for one side of one market.
    pub fn depth(&self, market: MarketId, side: Side) -> Vec<(PriceTicks, QuantitySteps, u32)> {
        self.books[market.0 as usize]
            .side(side)
            .levels_best_first()
            .map(|level| (level.price, level.total, level.orders))
            .collect()
    }

    /// Resting orders of one side of one market in priority order, as their current state.
    pub fn resting_orders(&self, market: MarketId, side: Side) -> Vec<OrderState> {
        let mut states = Vec::new();
        for level in self.books[market.0 as usize].side(side).levels_best_first() {
            let mut slot = level.head;
            while slot != NIL {
                states.push(resting_state(self.orders.get(slot)));
                slot = self.orders.get(slot).level_next;
            }
        }
        states
    }

    /// Checks every invariant in full; `Err` names the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut resting = 0;
        for (index, book) in self.books.iter().enumerate() {
            if is_crossed(book) {
                return Err(format!("market {index} is crossed"));
            }
            resting += book.bids.check(&self.orders)?;
            resting += book.asks.check(&self.orders)?;
        }
        self.order_slots.check(&self.orders)?;
        if resting != self.orders.used_slots() || resting != self.order_slots.len() {
            return Err(format!(
                "{resting} orders on books, {} slots used, {} indexed",
                self.orders.used_slots(),
                self.order_slots.len()
            ));
        }
        let assets = self.ledgers.len();
        let mut needed = vec![0u128; self.accounts.len() * assets];
        let mut open_per_account = vec![0u32; self.accounts.len()];
        let mut clients = 0;
        for (_, slot) in self.order_slots.iter(&self.orders) {
            let order = self.orders.get(slot);
            let spec = &self.config.markets[order.market.0 as usize];
            let asset = spend_asset(spec, order.side);
            needed[order.account.0 as usize * assets + asset.0 as usize] +=
                u128::from(self.lock_needed(order).ok_or("lock overflow")?);
            open_per_account[order.account.0 as usize] += 1;
            if let Some(client_id) = order.client_id() {
                clients += 1;
                if self.client_slots.get(client_key(order.account, client_id.0)) != Some(slot) {
                    return Err(format!("client id of {:?} not indexed", order.id));
                }
            }
        }
        if clients != self.client_slots.len() {
            return Err("stale client id entries".into());
        }
        for (account, entry) in self.accounts.iter() {
            if entry.open_orders != open_per_account[account.0 as usize] {
                return Err(format!("{account:?} open order count wrong"));
            }
            let listed = self.account_orders.check(account)?;
            let mut last_id = 0;
            for &slot in &listed {
                let order = self.orders.get(slot);
                if order.account != account
                    || order.id.0 <= last_id
                    || self.order_slots.get(&self.orders, order.id.0) != Some(slot)
                {
                    return Err(format!("{account:?} order list broken"));
                }
                last_id = order.id.0;
            }
            if listed.len() != entry.open_orders as usize {
                return Err(format!("{account:?} order list length wrong"));
            }
            for asset in 0..assets {
                let balance = self.accounts.balance(account, AssetId(asset as u16));
                if u128::from(balance.locked) != needed[account.0 as usize * assets + asset] {
                    return Err(format!(
                        "{account:?} asset {asset}: locked {} but open orders need {}",
                        balance.locked,
                        needed[account.0 as usize * assets + asset]
                    ));
                }
            }
        }
        for (index, ledger) in self.ledgers.iter().enumerate() {
            let held: u128 = self
                .accounts
                .iter()
                .map(|(account, _)| {
                    let balance = self.accounts.balance(account, AssetId(index as u16));
                    u128::from(balance.available) + u128::from(balance.locked)
                })
                .sum();
            if held != u128::from(ledger.deposited - ledger.withdrawn) {
                return Err(format!(
                    "asset {index}: accounts hold {held}, deposited − withdrawn is {}",
                    ledger.deposited - ledger.withdrawn
                ));
            }
        }
        if self.recompute_state_hash() != self.state_hash() {
            return Err("incremental state hash differs from the recomputed one".into());
        }
        Ok(())
    }
}

/// The per-market numbers the hot path needs, copied out of the spec so the matcher can borrow
/// itself mutably while using them.
#[derive(Clone, Copy, Debug)]
struct MarketNumbers {
    base: AssetId,
    quote: AssetId,
    base_units_per_step: u64,
    quote_units_per_tick_step: u64,
    maker_fee_bps: u32,
    taker_fee_bps: u32,
}

impl MarketSpec {
    fn clone_numbers(&self) -> MarketNumbers {
        MarketNumbers {
            base: self.base,
            quote: self.quote,
            base_units_per_step: self.base_units_per_step,
            quote_units_per_tick_step: self.quote_units_per_tick_step,
            maker_fee_bps: self.maker_fee_bps,
            taker_fee_bps: self.taker_fee_bps,
        }
    }
}

trait SpendAsset {
    fn base_asset(&self) -> AssetId;
    fn quote_asset(&self) -> AssetId;
}

impl SpendAsset for MarketSpec {
    fn base_asset(&self) -> AssetId {
        self.base
    }
    fn quote_asset(&self) -> AssetId {
        self.quote
    }
}

impl SpendAsset for MarketNumbers {
    fn base_asset(&self) -> AssetId {
        self.base
    }
    fn quote_asset(&self) -> AssetId {
        self.quote
    }
}

/// The asset an order on `side` spends (and locks): quote for a bid, base for an ask.
fn spend_asset(spec: &impl SpendAsset, side: Side) -> AssetId {
    select_unpredictable(side == Side::Bid, spec.quote_asset(), spec.base_asset())
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

fn is_crossed(book: &MarketBook) -> bool {
    match (book.bids.best_price(), book.asks.best_price()) {
        (Some(bid), Some(ask)) => bid >= ask,
        _ => false,
    }
}

/// The fee on `received` units at `bps` (at most [`BPS_PER_UNIT`], by configuration), rounded
/// down to the unit: `⌊received × bps / 10⁴⌋` split at a multiple of 10⁴ so it stays exact in
/// `u64` (`q × bps` ≤ `received`, `r × bps` < 10⁸).
#[inline]
fn fee(received: u64, bps: u32) -> u64 {
    // NB: not a `u128` product: its division is a `__udivti3` call on every fill, where a `u64`
    // division by a constant is a multiply (`cargo bench --bench matcher`).
    debug_assert!(u64::from(bps) <= BPS_PER_UNIT);
    let bps = u64::from(bps);
    received / BPS_PER_UNIT * bps + received % BPS_PER_UNIT * bps / BPS_PER_UNIT
}

#[inline]
fn client_key(account: AccountIndex, client_id: u32) -> u64 {
    u64::from(account.0) << 32 | u64::from(client_id)
}

/// What a resting order adds to the state hash: its entity's coefficients times the fold of
/// its fields (`order_fields`).
///
/// NB: the fields are folded into one word before they meet the lanes (one multiply each,
/// shared by both lanes), not given a coefficient each per lane (callgrind, realistic mix of
/// `cargo bench --bench matcher`: 297 -> 270 instructions per resting order). The fold is linear,
/// so a fill still updates it by a delta. The price is strength: two states that differ in one
/// order collide when its folds do, about 2^-64 for a difference no one chose, which a
/// determinism check affords.
#[inline]
fn order_contribution(order: &Order) -> Contribution {
    Coefficients::of(Domain::Order, order.id.0).delta(ORDER_FIELD, 0, fold(order_fields(order)))
}

/// The hashed fields of a resting order, in `fold` order: who, what and how packed into two
/// words, then price, quantity, placement time and the two that change on fills.
fn order_fields(order: &Order) -> [u64; ORDER_WORDS] {
    let identity = u64::from(order.account.0)
        | u64::from(order.market.0) << 32
        | (order.side as u64) << 48
        | (order.time_in_force as u64) << 52
        | (order.self_trade_prevention as u64) << 56
        | u64::from(order.post_only) << 60;
    let client = u64::from(order.has_client_id) << 32 | u64::from(order.client_id_value);
    [
        identity,
        client,
        order.price.0,
        order.quantity.0,
        order.created_at_us,
        order.remaining.0,
        order.executed_quote,
    ]
}

/// What a fill changing an order's remaining and executed quote does to its fold: the fold of
/// the two changes at their `order_fields` positions (the fold is linear).
#[inline]
fn order_fill_fold(remaining: (u64, u64), executed_quote: (u64, u64)) -> u64 {
    let mut changes = [0; ORDER_WORDS];
    changes[ORDER_REMAINING_WORD] = remaining.1.wrapping_sub(remaining.0);
    changes[ORDER_EXECUTED_QUOTE_WORD] = executed_quote.1.wrapping_sub(executed_quote.0);
    fold(changes)
}

/// State-hash field of a balance's `available`.
const BALANCE_AVAILABLE_FIELD: usize = 0;
/// State-hash field of a balance's `locked`.
const BALANCE_LOCKED_FIELD: usize = 1;

/// State-hash field of a resting order: the fold of its fields.
const ORDER_FIELD: usize = 0;
/// Words in `order_fields`.
const ORDER_WORDS: usize = 7;
/// `order_fields` position of `remaining`.
const ORDER_REMAINING_WORD: usize = 5;
/// `order_fields` position of `executed_quote`.
const ORDER_EXECUTED_QUOTE_WORD: usize = 6;

/// An order's state for an event, with the given status.
#[inline(always)]
fn order_state(order: &Order, status: OrderStatus) -> OrderState {
    OrderState {
        order_id: order.id,
        account: order.account,
        market: order.market,
        side: order.side,
        order_type: OrderType::Limit,
        time_in_force: order.time_in_force,
        self_trade_prevention: order.self_trade_prevention,
        post_only: order.post_only,
        status,
        client_id: order.client_id(),
        price: order.price,
        quantity: order.quantity,
        quote_quantity: 0,
        executed_quantity: QuantitySteps(order.quantity.0 - order.remaining.0),
        executed_quote: order.executed_quote,
        created_at_us: order.created_at_us,
    }
}

/// A resting order's state: `New` until something fills, then `PartiallyFilled`.
fn resting_state(order: &Order) -> OrderState {
    let status = if order.remaining == order.quantity {
        OrderStatus::New
    } else {
        OrderStatus::PartiallyFilled
    };
    order_state(order, status)
}

#[inline(always)]
fn emit(sink: &mut impl EventSink, command: &Command, kind: EventKind) {
    sink.push(Event { sequence: command.sequence, time_us: command.time_us, kind });
}

#[cfg(test)]
pub(crate) mod test_orders;
#[cfg(test)]
mod tests;
