//! Queries: the read-only commands, and the public accessors for tests, the replay tool and the
//! read side.
//!
//! Invariants:
//! - nothing here changes state: every function takes `&self`;
//! - a query command emits its answer as events and takes no sequence number (`apply` skips the
//!   sequence check for it);
//! - the accessors that return a `Vec` (`depth`, `resting_orders`) allocate: they serve tests
//!   and tools, never the matcher's thread.

use super::resting::resting_state;
use super::{Matcher, emit};
use crate::command::{Command, OrderRef};
use crate::event::{EventKind, EventSink, OrderState};
use crate::types::{
    AccountIndex, AccountKey, AssetId, MarketId, PriceTicks, QuantitySteps, RejectReason, Side,
};

impl Matcher {
    pub(super) fn query_balances(
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

    pub(super) fn query_order(
        &self,
        command: &Command,
        market: MarketId,
        target: OrderRef,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        let (index, _) =
            self.find_open(command, market, target).map_err(|reason| match reason {
                RejectReason::OrderNotFound => (RejectReason::OrderNotFoundQuery, 0),
                other => (other, 0),
            })?;
        emit(sink, command, EventKind::OrderSnapshot(resting_state(self.orders.get(index))));
        Ok(())
    }

    pub(super) fn query_open_orders(
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
        while let Some(index) = cursor {
            let order = self.orders.get(index);
            if market.is_none_or(|market| order.market == market) {
                emit(sink, command, EventKind::OrderSnapshot(resting_state(order)));
            }
            cursor = self.account_orders.after(account, index);
        }
        Ok(())
    }

    pub(super) fn query_state(
        &self,
        command: &Command,
        sink: &mut impl EventSink,
    ) -> Result<(), (RejectReason, u32)> {
        let summary = EventKind::StateSummary {
            sequence: self.last_sequence,
            state_hash: self.state_hash(),
            accounts: self.accounts.len() as u32 - 1,
            open_orders: self.orders.used_count() as u32,
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
        self.orders.used_count()
    }

    /// Accounts, the fee account excluded.
    pub fn accounts(&self) -> usize {
        self.accounts.len() - 1
    }

    /// Price levels best first, as `(price, total quantity, orders)`, for one side of one market.
    // tidy: diagnostics (a copy for tests and tools, not a command's path)
    pub fn depth(&self, market: MarketId, side: Side) -> Vec<(PriceTicks, QuantitySteps, u32)> {
        self.books[market.0 as usize]
            .side(side)
            .levels_best_first()
            .map(|level| (level.price, level.total, level.orders))
            .collect()
    }

    /// Resting orders of one side of one market in priority order, as their current state.
    // tidy: diagnostics (a copy for tests and tools, not a command's path)
    pub fn resting_orders(&self, market: MarketId, side: Side) -> Vec<OrderState> {
        let mut states = Vec::new();
        for level in self.books[market.0 as usize].side(side).levels_best_first() {
            let mut index = level.head;
            while !index.is_nil() {
                states.push(resting_state(self.orders.get(index)));
                index = self.orders.get(index).level_next;
            }
        }
        states
    }
}
