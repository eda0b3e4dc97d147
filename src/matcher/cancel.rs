//! Cancels: one open order by id or client id, or all of an account's orders in one market.
//!
//! A cancel takes the order off the book through `remove_resting` (in `resting`), which
//! releases its lock and emits `OrderCancelled`; `find_open` also serves the order query.
//!
//! Invariants:
//! - only an order's owner cancels it: an order of another account, or of another market than
//!   the one named, is "not found", exactly like an order that does not exist;
//! - a rejected cancel changes nothing; cancelling everything of an account that has nothing (or
//!   does not exist) is not an error and changes nothing either.

use super::order_index::OrderIndex;
use super::{Matcher, client_key};
use crate::command::{Command, OrderRef};
use crate::event::EventSink;
use crate::types::{AccountIndex, MarketId, RejectReason};

impl Matcher {
    pub(super) fn cancel(
        &mut self,
        command: &Command,
        market: MarketId,
        target: OrderRef,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        let (index, account) = self
            .find_open(command, market, target)
            .map_err(|_| (RejectReason::OrderNotFound, 0))?;
        self.remove_resting(command, index, (account, market), None, sink);
        Ok(())
    }

    pub(super) fn cancel_all(
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
        while let Some(index) = cursor {
            cursor = self.account_orders.after(account, index);
            if self.orders.get(index).market == market {
                self.remove_resting(command, index, (account, market), None, sink);
            }
        }
        Ok(())
    }

    /// The index of the account's open order `target` in `market`, and the account.
    pub(super) fn find_open(
        &self,
        command: &Command,
        market: MarketId,
        target: OrderRef,
    ) -> Result<(OrderIndex, AccountIndex), RejectReason> {
        if market.0 as usize >= self.books.len() {
            return Err(RejectReason::InvalidSymbol);
        }
        // NB: the signer's lookup and the order's are independent, so their cache misses
        // overlap; checking the owner through `order.account` instead chains three misses
        // (`cargo bench --bench matcher`, exchange-core: 5% slower).
        let account = self.accounts.find(&command.account).ok_or(RejectReason::OrderNotFound)?;
        let index = match target {
            OrderRef::Id(order_id) => self.order_ids.get(&self.orders, order_id.0),
            OrderRef::Client(client_id) => {
                self.client_ids.get(client_key(account, client_id.0)).map(OrderIndex)
            }
        }
        .ok_or(RejectReason::OrderNotFound)?;
        let order = self.orders.get(index);
        if order.account != account || order.market != market {
            return Err(RejectReason::OrderNotFound);
        }
        Ok((index, account))
    }
}
