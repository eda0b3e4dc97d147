//! The full check of the matcher's invariants (listed in the `matcher` module's doc), run after
//! every command by the tests and the model-based property tests.
//!
//! It reads everything and allocates, so it is never on the hot path; the hot path has only
//! cheap `debug_assert!`s of the same properties.

use super::{Matcher, client_key, is_crossed, spend_asset};
use crate::types::AssetId;
use std::collections::BTreeMap; // tidy: diagnostics (the checks below only)

impl Matcher {
    /// Checks every invariant in full; `Err` names the first one broken.
    // tidy: diagnostics (invariant checks, never on the command path)
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut resting = 0;
        for (index, book) in self.books.iter().enumerate() {
            if is_crossed(book) {
                return Err(format!("market {index} is crossed"));
            }
            resting += book.bids.check(&self.orders)?;
            resting += book.asks.check(&self.orders)?;
        }
        self.order_ids.check(&self.orders)?;
        if resting != self.orders.used_count() || resting != self.order_ids.len() {
            return Err(format!(
                "{resting} orders on books, {} in the pool, {} indexed",
                self.orders.used_count(),
                self.order_ids.len()
            ));
        }
        let assets = self.ledgers.len();
        let mut needed = vec![0u128; self.accounts.len() * assets];
        let mut open_per_account = vec![0u32; self.accounts.len()];
        let mut clients = 0;
        for (_, index) in self.order_ids.iter(&self.orders) {
            let order = self.orders.get(index);
            let spec = &self.config.markets[order.market.0 as usize];
            let asset = spend_asset(spec, order.side);
            needed[order.account.0 as usize * assets + asset.0 as usize] +=
                u128::from(self.lock_needed(order).ok_or("lock overflow")?);
            open_per_account[order.account.0 as usize] += 1;
            if let Some(client_id) = order.client_id() {
                clients += 1;
                if self.client_ids.get(client_key(order.account, client_id.0)) != Some(index.0) {
                    return Err(format!("client id of {:?} not indexed", order.id));
                }
            }
        }
        if clients != self.client_ids.len() {
            return Err("stale client id entries".into());
        }
        for (account, entry) in self.accounts.iter() {
            if entry.open_orders != open_per_account[account.0 as usize] {
                return Err(format!("{account:?} open order count wrong"));
            }
            let listed = self.account_orders.check(account)?;
            let mut last_id = 0;
            for &index in &listed {
                let order = self.orders.get(index);
                if order.account != account
                    || order.id.0 <= last_id
                    || self.order_ids.get(&self.orders, order.id.0) != Some(index)
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
        self.check_account_levels()?;
        if self.recompute_state_hash() != self.state_hash() {
            return Err("incremental state hash differs from the recomputed one".into());
        }
        Ok(())
    }

    /// The levels each account holds, recounted from the resting orders, match
    /// `account_levels`, and none holds more than `levels_per_side_per_account_max` per side.
    // tidy: diagnostics (invariant checks, never on the command path)
    fn check_account_levels(&self) -> Result<(), String> {
        let mut held = BTreeMap::<u64, u32>::new();
        let mut distinct = BTreeMap::<usize, u32>::new();
        for (_, index) in self.order_ids.iter(&self.orders) {
            let order = self.orders.get(index);
            let (account, market, side) = (order.account, order.market, order.side);
            let orders = held
                .entry(self.account_levels.key_of(account, market, side, order.level))
                .or_default();
            if *orders == 0 {
                *distinct
                    .entry(self.account_levels.index_of(account, market, side))
                    .or_default() += 1;
            }
            *orders += 1;
        }
        let (table_held, table_distinct) = self.account_levels.contents();
        if held.into_iter().collect::<Vec<_>>() != table_held
            || distinct.clone().into_iter().collect::<Vec<_>>() != table_distinct
        {
            return Err("account levels differ from the resting orders".into());
        }
        let cap = self.config.limits.levels_per_side_per_account_max;
        if distinct.values().any(|&count| count > cap) {
            return Err(format!("an account holds more than {cap} levels on one side"));
        }
        Ok(())
    }
}
