//! Resting orders: putting one on the book, filling one, taking one off, forgetting it.
//!
//! A resting order is in five places at once: the order pool (at its `OrderIndex`), its price
//! level's FIFO, its account's list of open orders, its account's count of orders on that level
//! (`account_levels`), and the order-id index (plus the client-id index when it has one). `rest` puts it in all of them, `forget_order` takes it out of all of
//! them and gives its index back to the pool.
//!
//! Invariants:
//! - a resting order's account has exactly its remainder's worth locked (`lock_needed`): resting
//!   keeps the lock the placement took, a fill spends from it, a removal releases the rest;
//! - its `hash` is what it adds to the state hash, added when it rests, updated by each fill,
//!   subtracted when it leaves the book;
//! - a filled order leaves the book and the hash at once, but keeps its place in the pool, with
//!   its final state, until the caller has emitted the fill and forgets it.

use super::ledger::{ORDER_FIELD, order_contribution, order_fill_fold};
use super::order_index::OrderIndex;
use super::orders::{LEVEL_NIL, Order};
use super::state_hash::{Coefficients, Contribution, Domain};
use super::{Matcher, client_key, emit, spend_asset};
use crate::command::{Command, PlaceOrder};
use crate::event::{EventKind, EventSink, OrderState};
use crate::types::{
    AccountIndex, ExpiryReason, MarketId, OrderId, OrderStatus, OrderType, QuantitySteps, Side,
    TimeInForce,
};
use std::hint::select_unpredictable;

impl Matcher {
    /// Puts the `remaining` steps of the order `command` placed (`place`, by `account`, with
    /// `executed_quote` already traded) on the book; its lock (`locked`) stays.
    ///
    /// NB: read from the command, not from the order's `OrderState`: passing that by reference
    /// kept it in memory, and the accepted event was then copied out of it with wide loads of
    /// fields just stored one by one, which stall on store forwarding.
    pub(super) fn rest(
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
            level: LEVEL_NIL,
            level_prev: OrderIndex::NIL,
            level_next: OrderIndex::NIL,
            bucket_next: OrderIndex::NIL,
            market: place.market,
            side: place.side,
            time_in_force: place.time_in_force,
            self_trade_prevention: place.self_trade_prevention,
            post_only: place.post_only,
            hash: Contribution::ZERO,
        };
        let hash = order_contribution(&resting);
        self.hash.add(hash);
        let index = self.orders.take();
        // One whole write, every field named above: the pool reuses an index, and a field added
        // to `Order` must not keep its previous occupant's value. The links start as NIL;
        // `push_back` and the order-id index set them below.
        *self.orders.get_mut(index) = Order { hash, ..resting };
        self.books[place.market.0 as usize].side_mut(place.side).push_back(&mut self.orders, index);
        let level = self.orders.get(index).level;
        self.account_levels.add(account, place.market, place.side, level);
        self.accounts.get_mut(account).open_orders += 1;
        self.account_orders.push_back(account, index);
        self.order_ids.insert(&mut self.orders, command.sequence.0, index);
        if let Some(client_id) = place.client_id {
            let inserted = self.client_ids.insert(client_key(account, client_id.0), index.0);
            debug_assert!(inserted);
        }
        debug_assert_eq!(
            self.lock_needed(self.orders.get(index)),
            Some(locked),
            "a resting order's lock is exactly what its remainder could spend"
        );
    }

    /// Records a fill of the resting order at `index`. A filled order leaves the book (and the
    /// hash) but keeps its place in the pool, with its final state, until the caller forgets it.
    pub(super) fn fill_resting(&mut self, index: OrderIndex, fill: QuantitySteps, quote: u64) {
        let order = self.orders.get(index);
        let (id, market, side) = (order.id, order.market, order.side);
        let (remaining, executed_quote, hash) = (order.remaining, order.executed_quote, order.hash);
        let book_side = self.books[market.0 as usize].side_mut(side);
        if remaining == fill {
            self.hash.subtract(hash);
            book_side.unlink(&mut self.orders, index);
            let filled = self.orders.get_mut(index);
            filled.remaining = QuantitySteps(0);
            filled.executed_quote += quote;
        } else {
            book_side.reduce(&mut self.orders, index, fill);
            // Only the two mutable fields change: update them instead of rehashing the order.
            // NB: from the values held here, not read back from the order: a vector load of both
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
            let after = self.orders.get_mut(index);
            debug_assert_eq!(after.remaining.0, remaining_after);
            after.executed_quote = executed_quote_after;
            after.hash = after.hash.plus(change);
            self.hash.add(change);
        }
    }

    /// Takes a resting order off the book and releases its lock: cancelled by its owner (`None`)
    /// or expired by the engine. The caller names the order's account and market (`owner`),
    /// which it already knows.
    pub(super) fn remove_resting(
        &mut self,
        command: &Command,
        index: OrderIndex,
        owner: (AccountIndex, MarketId),
        expiry: Option<ExpiryReason>,
        sink: &mut impl EventSink,
    ) {
        // NB: balances and numbers are addressed through `owner`, known before the order is
        // read, not through the order's own fields, so their cache misses overlap the order's
        // instead of following it (exchange-core mix, half cancels: ~6% more commands/s).
        let (account, market) = owner;
        let order = *self.orders.get(index);
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
        self.books[market.0 as usize].side_mut(order.side).unlink(&mut self.orders, index);
        self.forget_order(index, account);
    }

    /// Drops an unlinked order of `owner` from the account list and the indexes, and gives its
    /// index back to the pool.
    pub(super) fn forget_order(&mut self, index: OrderIndex, owner: AccountIndex) {
        let order = self.orders.get(index);
        debug_assert_eq!(order.account, owner);
        let (id, client_id) = (order.id, order.client_id());
        // The level slot stays in the order after `unlink`, and nothing has reused it since.
        self.account_levels.remove(owner, order.market, order.side, order.level);
        self.accounts.get_mut(owner).open_orders -= 1;
        self.account_orders.remove(index);
        self.order_ids.remove(&mut self.orders, id.0, index);
        if let Some(client_id) = client_id {
            let removed = self.client_ids.remove(client_key(owner, client_id.0));
            debug_assert_eq!(removed, Some(index.0));
        }
        self.orders.give_back(index);
    }

    /// What a resting order's remainder could spend: quote at its price for a bid, base for an ask.
    pub(super) fn lock_needed(&self, order: &Order) -> Option<u64> {
        let spec = &self.config.markets[order.market.0 as usize];
        match order.side {
            Side::Bid => spec.notional(order.price, order.remaining),
            Side::Ask => spec.base_units(order.remaining),
        }
    }
}

/// An order's state for an event, with the given status.
#[inline(always)]
pub(super) fn order_state(order: &Order, status: OrderStatus) -> OrderState {
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
pub(super) fn resting_state(order: &Order) -> OrderState {
    let status = if order.remaining == order.quantity {
        OrderStatus::New
    } else {
        OrderStatus::PartiallyFilled
    };
    order_state(order, status)
}
