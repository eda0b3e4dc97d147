//! Differential property test: the matcher against a deliberately naive reference model.
//!
//! The model keeps resting orders in one flat `Vec`, finds the best order by scanning it, keeps
//! balances as signed 128-bit numbers in nested vectors, and recomputes every lock from first
//! principles. It shares no code with the matcher beyond the record types, so a bookkeeping or
//! priority bug in either shows up as a difference. After **every** command the test checks:
//! the same events as the model; the same balances and resting orders; the matcher's own full
//! invariant check (book never crossed, conservation per asset, locked = what open orders need,
//! levels and priority consistent, incremental hash = recomputed hash); no negative balance and
//! no fill beyond an order's quantity in the model.

use proptest::prelude::*;
use ringex::command::{Action, Command, OrderRef, PlaceOrder};
use ringex::config::{Config, MarketSpec};
use ringex::event::{Event, EventKind, Fill, OrderState, Transfer, TransferKind};
use ringex::matcher::Matcher;
use ringex::types::*;
use std::sync::Arc;

/// Small units so fee rounding, step limits and funds limits all bite.
const CONFIG: &str = r#"
[[assets]]
symbol = "USD"
decimals = 4
display_name = "Dollar"
blockchain = "Test"
withdrawal_fee = "0.5"

[[assets]]
symbol = "XYZ"
decimals = 3
display_name = "Xyz"
blockchain = "Test"
withdrawal_fee = "0"

[[assets]]
symbol = "ABC"
decimals = 2
display_name = "Abc"
blockchain = "Test"

[[markets]]
symbol = "XYZ_USD"
tick_size = "0.01"
step_size = "0.1"
min_quantity = "0.2"
maker_fee_bps = 25
taker_fee_bps = 50

[[markets]]
symbol = "ABC_USD"
tick_size = "0.5"
step_size = "1"
min_quantity = "1"
min_order_value = "200"
maker_fee_bps = 0
taker_fee_bps = 7

[limits]
orders_max = 40
accounts_max = 6
open_orders_per_account_max = 12
levels_per_side_max = 6
levels_per_side_per_account_max = 3
"#;

const ACCOUNTS: u8 = 5; // keys 1..=5; accounts_max 6 leaves room for exactly that plus the fee account

fn key(account: u8) -> AccountKey {
    let mut bytes = [account; 32];
    bytes[31] = 0xA5;
    AccountKey(bytes)
}

// -------------------------------------------------------------------------------------------------
// The model.

#[derive(Clone, Debug)]
struct ModelOrder {
    id: u64,
    account: u32,
    market: u16,
    side: Side,
    price: u64,
    quantity: u64,
    remaining: u64,
    executed_quote: u64,
    client_id: Option<u32>,
    created_at_us: u64,
    stp: SelfTradePrevention,
    post_only: bool,
}

struct Model {
    config: Arc<Config>,
    keys: Vec<AccountKey>,
    frozen: Vec<bool>,
    /// `[account][asset] = (available, locked)`, signed so a bug shows as a negative number.
    balances: Vec<Vec<(i128, i128)>>,
    resting: Vec<ModelOrder>,
    next_trade_id: Vec<u64>,
    next_deposit_id: u32,
    next_withdrawal_id: u32,
    supply: Vec<i128>,
    deposited: Vec<i128>,
}

struct Walker {
    state: OrderState,
    remaining: u64,
    locked: i128,
    by_quote: bool,
}

impl Model {
    fn new(config: Arc<Config>) -> Model {
        let assets = config.assets.len();
        Model {
            keys: vec![AccountKey([0; 32])],
            frozen: vec![false],
            balances: vec![vec![(0, 0); assets]],
            resting: Vec::new(),
            next_trade_id: vec![1; config.markets.len()],
            next_deposit_id: 1,
            next_withdrawal_id: 1,
            supply: vec![0; assets],
            deposited: vec![0; assets],
            config,
        }
    }

    fn account(&self, key: &AccountKey) -> Option<u32> {
        self.keys.iter().skip(1).position(|k| k == key).map(|i| i as u32 + 1)
    }

    fn apply(&mut self, command: &Command) -> Vec<Event> {
        let mut out = Vec::new();
        let result = match command.action {
            Action::Place(place) => self.place(command, &place, &mut out),
            Action::Cancel { market, target } => self.cancel(command, market, target, &mut out),
            Action::CancelAll { market } => {
                if let Some(account) = self.account(&command.account) {
                    let mut ids: Vec<u64> = self
                        .resting
                        .iter()
                        .filter(|o| o.account == account && o.market == market.0)
                        .map(|o| o.id)
                        .collect();
                    ids.sort();
                    for id in ids {
                        let index = self.resting.iter().position(|o| o.id == id).unwrap();
                        self.take_off(command, index, None, &mut out);
                    }
                }
                Ok(())
            }
            Action::Deposit { asset, amount } => self.deposit(command, asset, amount, &mut out),
            Action::AdminWithdraw { asset, amount } => {
                self.withdraw(command, asset, amount, false, &mut out)
            }
            Action::Withdraw { asset, amount } => {
                self.withdraw(command, asset, amount, true, &mut out)
            }
            Action::Freeze | Action::Unfreeze => match self.account(&command.account) {
                None => Err(RejectReason::AccountNotFound),
                Some(account) => {
                    let frozen = command.action == Action::Freeze;
                    self.frozen[account as usize] = frozen;
                    push(
                        &mut out,
                        command,
                        EventKind::FreezeChanged { account: AccountIndex(account), frozen },
                    );
                    Ok(())
                }
            },
            Action::QueryBalances => {
                if let Some(account) = self.account(&command.account) {
                    for asset in 0..self.config.assets.len() {
                        let (available, locked) = self.balances[account as usize][asset];
                        push(
                            &mut out,
                            command,
                            EventKind::Balance {
                                account: AccountIndex(account),
                                asset: AssetId(asset as u16),
                                available: available as u64,
                                locked: locked as u64,
                            },
                        );
                    }
                }
                Ok(())
            }
            Action::QueryOpenOrders { market } => {
                if let Some(account) = self.account(&command.account) {
                    let mut mine: Vec<&ModelOrder> = self
                        .resting
                        .iter()
                        .filter(|o| o.account == account && market.is_none_or(|m| m.0 == o.market))
                        .collect();
                    mine.sort_by_key(|o| o.id);
                    for order in mine {
                        push(&mut out, command, EventKind::OrderSnapshot(snapshot(order)));
                    }
                }
                Ok(())
            }
            Action::QueryOrder { market, target } => match self.find(command, market, target) {
                Some(index) => {
                    push(
                        &mut out,
                        command,
                        EventKind::OrderSnapshot(snapshot(&self.resting[index])),
                    );
                    Ok(())
                }
                None => Err(RejectReason::OrderNotFoundQuery),
            },
            Action::QueryState => unreachable!("not generated"),
        };
        if let Err(reason) = result {
            let client_id = match (reason, command.action) {
                (RejectReason::DuplicateClientId, Action::Place(place)) => {
                    place.client_id.unwrap().0
                }
                _ => 0,
            };
            out.clear();
            push(&mut out, command, EventKind::Rejected { reason, client_id });
        }
        out
    }

    fn find(&self, command: &Command, market: MarketId, target: OrderRef) -> Option<usize> {
        let account = self.account(&command.account)?;
        self.resting.iter().position(|o| {
            o.account == account
                && o.market == market.0
                && match target {
                    OrderRef::Id(id) => o.id == id.0,
                    OrderRef::Client(client) => o.client_id == Some(client.0),
                }
        })
    }

    fn cancel(
        &mut self,
        command: &Command,
        market: MarketId,
        target: OrderRef,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let index = self.find(command, market, target).ok_or(RejectReason::OrderNotFound)?;
        self.take_off(command, index, None, out);
        Ok(())
    }

    /// What a resting order needs locked, computed from scratch.
    fn need(&self, order: &ModelOrder) -> (usize, i128) {
        let spec = &self.config.markets[order.market as usize];
        match order.side {
            Side::Bid => (
                spec.quote.0 as usize,
                order.price as i128
                    * order.remaining as i128
                    * spec.quote_units_per_tick_step as i128,
            ),
            Side::Ask => {
                (spec.base.0 as usize, order.remaining as i128 * spec.base_units_per_step as i128)
            }
        }
    }

    fn take_off(
        &mut self,
        command: &Command,
        index: usize,
        expiry: Option<ExpiryReason>,
        out: &mut Vec<Event>,
    ) {
        let order = self.resting.remove(index);
        let (asset, amount) = self.need(&order);
        let balance = &mut self.balances[order.account as usize][asset];
        balance.0 += amount;
        balance.1 -= amount;
        let mut state = snapshot(&order);
        match expiry {
            None => {
                state.status = OrderStatus::Cancelled;
                push(out, command, EventKind::OrderCancelled(state));
            }
            Some(reason) => {
                state.status = OrderStatus::Expired;
                push(out, command, EventKind::OrderExpired { order: state, reason });
            }
        }
    }

    fn deposit(
        &mut self,
        command: &Command,
        asset: AssetId,
        amount: u64,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        if asset.0 as usize >= self.config.assets.len() {
            return Err(RejectReason::InvalidAsset);
        }
        if amount == 0 {
            return Err(RejectReason::InvalidQuantity);
        }
        if self.supply[asset.0 as usize] + amount as i128 > u64::MAX as i128
            || self.deposited[asset.0 as usize] + amount as i128 > u64::MAX as i128
        {
            return Err(RejectReason::QuantityOutOfBounds);
        }
        let account = match self.account(&command.account) {
            Some(account) => account,
            None => {
                if self.keys.len() >= self.config.limits.accounts_max as usize {
                    return Err(RejectReason::AccountLimit);
                }
                self.keys.push(command.account);
                self.frozen.push(false);
                self.balances.push(vec![(0, 0); self.config.assets.len()]);
                let account = self.keys.len() as u32 - 1;
                push(
                    out,
                    command,
                    EventKind::AccountCreated {
                        account: AccountIndex(account),
                        key: command.account,
                    },
                );
                account
            }
        };
        self.supply[asset.0 as usize] += amount as i128;
        self.deposited[asset.0 as usize] += amount as i128;
        self.balances[account as usize][asset.0 as usize].0 += amount as i128;
        let (available, locked) = self.balances[account as usize][asset.0 as usize];
        let transfer = Transfer {
            kind: TransferKind::Deposit,
            id: self.next_deposit_id,
            account: AccountIndex(account),
            asset,
            amount,
            fee: 0,
            available: available as u64,
            locked: locked as u64,
        };
        self.next_deposit_id += 1;
        push(out, command, EventKind::Transfer(transfer));
        Ok(())
    }

    fn withdraw(
        &mut self,
        command: &Command,
        asset: AssetId,
        amount: u64,
        user: bool,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        if asset.0 as usize >= self.config.assets.len() {
            return Err(RejectReason::InvalidAsset);
        }
        if amount == 0 {
            return Err(RejectReason::InvalidQuantity);
        }
        let Some(account) = self.account(&command.account) else {
            return Err(if user {
                RejectReason::InsufficientFunds
            } else {
                RejectReason::AccountNotFound
            });
        };
        if user && self.frozen[account as usize] {
            return Err(RejectReason::AccountFrozen);
        }
        let fee = if user { self.config.assets[asset.0 as usize].withdrawal_fee_units } else { 0 };
        if self.balances[account as usize][asset.0 as usize].0 < amount as i128 + fee as i128 {
            return Err(RejectReason::InsufficientFunds);
        }
        self.balances[account as usize][asset.0 as usize].0 -= amount as i128 + fee as i128;
        self.balances[0][asset.0 as usize].0 += fee as i128;
        self.supply[asset.0 as usize] -= amount as i128;
        let (available, locked) = self.balances[account as usize][asset.0 as usize];
        let transfer = Transfer {
            kind: if user { TransferKind::Withdrawal } else { TransferKind::AdminWithdrawal },
            id: self.next_withdrawal_id,
            account: AccountIndex(account),
            asset,
            amount,
            fee,
            available: available as u64,
            locked: locked as u64,
        };
        self.next_withdrawal_id += 1;
        push(out, command, EventKind::Transfer(transfer));
        Ok(())
    }

    /// The best resting order on `side` of `market`: best price, then lowest id.
    fn best(&self, market: u16, side: Side) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (index, order) in self.resting.iter().enumerate() {
            if order.market != market || order.side != side {
                continue;
            }
            let better = match best {
                None => true,
                Some(current) => {
                    let current = &self.resting[current];
                    let price_better = match side {
                        Side::Bid => order.price > current.price,
                        Side::Ask => order.price < current.price,
                    };
                    price_better || (order.price == current.price && order.id < current.id)
                }
            };
            if better {
                best = Some(index);
            }
        }
        best
    }

    fn crosses(side: Side, limit: u64, maker_price: u64) -> bool {
        match side {
            Side::Bid => maker_price <= limit,
            Side::Ask => maker_price >= limit,
        }
    }

    /// Price × quantity (a market order by quantity at the best opposite price, by quote its
    /// budget) below the market's minimum; no opposite order: nothing to compare.
    fn below_min_value(&self, spec: &MarketSpec, place: &PlaceOrder) -> bool {
        let minimum = spec.min_order_value_units as i128;
        let by_quote = place.order_type == OrderType::Market && place.quantity.0 == 0;
        let opposite = (self.resting.iter())
            .filter(|o| o.market == place.market.0 && o.side != place.side)
            .map(|o| o.price);
        let price = match place.order_type {
            _ if by_quote => return (place.quote_quantity as i128) < minimum,
            OrderType::Limit => Some(place.price.0),
            OrderType::Market if place.side == Side::Bid => opposite.min(),
            OrderType::Market => opposite.max(),
        };
        price.is_some_and(|price| {
            let value =
                price as i128 * place.quantity.0 as i128 * spec.quote_units_per_tick_step as i128;
            value < minimum
        })
    }

    fn place(
        &mut self,
        command: &Command,
        place: &PlaceOrder,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectReason> {
        let Some(spec) = self.config.markets.get(place.market.0 as usize).cloned() else {
            return Err(RejectReason::InvalidSymbol);
        };
        let account = self.account(&command.account).ok_or(RejectReason::InsufficientFunds)?;
        if self.frozen[account as usize] {
            return Err(RejectReason::AccountFrozen);
        }
        let by_quote = place.order_type == OrderType::Market && place.quantity.0 == 0;
        let quantity_ok = |q: u64| {
            if q < spec.min_quantity_steps.0 {
                Err(RejectReason::QuantityBelowMinimum)
            } else if q > spec.quantity_steps_max {
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
                quantity_ok(place.quantity.0)?;
            }
            OrderType::Market => {
                if place.post_only
                    || place.price.0 != 0
                    || by_quote == (place.quote_quantity == 0)
                    || (by_quote && place.time_in_force == TimeInForce::Fok)
                {
                    return Err(RejectReason::InvalidOrder);
                }
                if !by_quote {
                    quantity_ok(place.quantity.0)?;
                }
            }
        }
        if self.below_min_value(&spec, place) {
            return Err(RejectReason::OrderValueBelowMinimum);
        }
        if let Some(client) = place.client_id
            && self.resting.iter().any(|o| o.account == account && o.client_id == Some(client.0))
        {
            return Err(RejectReason::DuplicateClientId);
        }
        if place.order_type == OrderType::Limit && place.time_in_force == TimeInForce::Gtc {
            let mut prices: Vec<u64> = self
                .resting
                .iter()
                .filter(|o| o.market == place.market.0 && o.side == place.side)
                .map(|o| o.price)
                .collect();
            prices.sort();
            prices.dedup();
            let level_missing = !prices.contains(&place.price.0);
            let mut own: Vec<u64> = (self.resting.iter())
                .filter(|o| o.account == account && o.market == place.market.0)
                .filter(|o| o.side == place.side)
                .map(|o| o.price)
                .collect();
            own.sort();
            own.dedup();
            let own_cap = self.config.limits.levels_per_side_per_account_max as usize;
            if self.resting.len() >= self.config.limits.orders_max as usize
                || self.resting.iter().filter(|o| o.account == account).count()
                    >= self.config.limits.open_orders_per_account_max as usize
                || (level_missing
                    && prices.len() >= self.config.limits.levels_per_side_max as usize)
                || (!own.contains(&place.price.0) && own.len() >= own_cap)
            {
                return Err(RejectReason::OrderLimit);
            }
        }
        let spend = match place.side {
            Side::Bid => spec.quote.0 as usize,
            Side::Ask => spec.base.0 as usize,
        };
        let available = self.balances[account as usize][spend].0;
        let lock: Option<i128> = match (place.order_type, place.side, by_quote) {
            (OrderType::Limit, Side::Bid, _) => Some(
                place.price.0 as i128
                    * place.quantity.0 as i128
                    * spec.quote_units_per_tick_step as i128,
            ),
            (OrderType::Limit, Side::Ask, _) | (OrderType::Market, Side::Ask, false) => {
                Some(place.quantity.0 as i128 * spec.base_units_per_step as i128)
            }
            (OrderType::Market, Side::Bid, true) => Some(place.quote_quantity as i128),
            _ => (available > 0).then_some(available),
        };
        let lock = match lock {
            Some(lock) if lock <= u64::MAX as i128 => lock,
            _ if available == 0 => return Err(RejectReason::InsufficientFunds),
            _ => return Err(RejectReason::QuantityOutOfBounds),
        };
        if lock > available {
            return Err(RejectReason::InsufficientFunds);
        }

        // Accepted: lock the funds.
        self.balances[account as usize][spend].0 -= lock;
        self.balances[account as usize][spend].1 += lock;
        let mut taker = Walker {
            state: OrderState {
                order_id: OrderId(command.sequence.0),
                account: AccountIndex(account),
                market: place.market,
                side: place.side,
                order_type: place.order_type,
                time_in_force: place.time_in_force,
                self_trade_prevention: place.self_trade_prevention,
                post_only: place.post_only,
                status: OrderStatus::New,
                client_id: place.client_id,
                price: place.price,
                quantity: place.quantity,
                quote_quantity: place.quote_quantity,
                executed_quantity: QuantitySteps(0),
                executed_quote: 0,
                created_at_us: command.time_us,
            },
            remaining: place.quantity.0,
            locked: lock,
            by_quote,
        };
        push(out, command, EventKind::OrderAccepted(taker.state));
        let opposite = place.side.opposite();
        let end: Option<ExpiryReason> = if place.post_only
            && self
                .best(place.market.0, opposite)
                .is_some_and(|b| Self::crosses(place.side, place.price.0, self.resting[b].price))
        {
            Some(ExpiryReason::PostOnlyTaker)
        } else if place.time_in_force == TimeInForce::Fok && !self.fok_fills(&taker) {
            Some(ExpiryReason::FillOrKill)
        } else {
            let walk = self.walk(command, &mut taker, out);
            let executed = taker.state.executed_quantity.0 > 0;
            match walk {
                "stp" => Some(ExpiryReason::SelfTradePrevention),
                "done" if executed || !by_quote => None,
                "done" | "funds" => Some(ExpiryReason::InsufficientFunds),
                "liquidity" if place.order_type == OrderType::Market => {
                    Some(ExpiryReason::InsufficientLiquidity)
                }
                "liquidity" if place.time_in_force == TimeInForce::Ioc => {
                    Some(ExpiryReason::ImmediateOrCancel)
                }
                "liquidity" => None,
                _ => unreachable!(),
            }
        };
        match end {
            Some(reason) => {
                self.balances[account as usize][spend].0 += taker.locked;
                self.balances[account as usize][spend].1 -= taker.locked;
                taker.state.status = OrderStatus::Expired;
                push(out, command, EventKind::OrderExpired { order: taker.state, reason });
            }
            None if !by_quote && taker.remaining > 0 => {
                self.resting.push(ModelOrder {
                    id: command.sequence.0,
                    account,
                    market: place.market.0,
                    side: place.side,
                    price: place.price.0,
                    quantity: place.quantity.0,
                    remaining: taker.remaining,
                    executed_quote: taker.state.executed_quote,
                    client_id: place.client_id.map(|c| c.0),
                    created_at_us: command.time_us,
                    stp: place.self_trade_prevention,
                    post_only: place.post_only,
                });
                let (_, need) = self.need(self.resting.last().unwrap());
                assert_eq!(need, taker.locked, "model: resting lock");
            }
            None => {
                self.balances[account as usize][spend].0 += taker.locked;
                self.balances[account as usize][spend].1 -= taker.locked;
            }
        }
        Ok(())
    }

    fn capacity(&self, taker: &Walker, price: u64) -> Result<u64, &'static str> {
        let spec = &self.config.markets[taker.state.market.0 as usize];
        if taker.state.order_type == OrderType::Limit {
            return if Self::crosses(taker.state.side, taker.state.price.0, price) {
                Ok(taker.remaining)
            } else {
                Err("liquidity")
            };
        }
        let step_cost = price as i128 * spec.quote_units_per_tick_step as i128;
        match (taker.state.side, taker.by_quote) {
            (Side::Bid, false) => match (taker.remaining as i128).min(taker.locked / step_cost) {
                0 => Err("funds"),
                n => Ok(n as u64),
            },
            (Side::Bid, true) => match taker.locked / step_cost {
                0 => Err("done"),
                n => Ok(n as u64),
            },
            (Side::Ask, false) => Ok(taker.remaining),
            (Side::Ask, true) => {
                let budget = (taker.state.quote_quantity as i128
                    - taker.state.executed_quote as i128)
                    / step_cost;
                let funded = taker.locked / spec.base_units_per_step as i128;
                if budget == 0 {
                    Err("done")
                } else if funded == 0 {
                    Err("funds")
                } else {
                    Ok(budget.min(funded) as u64)
                }
            }
        }
    }

    fn fok_fills(&self, taker: &Walker) -> bool {
        let spec = &self.config.markets[taker.state.market.0 as usize];
        let mut candidates: Vec<&ModelOrder> = self
            .resting
            .iter()
            .filter(|o| o.market == taker.state.market.0 && o.side == taker.state.side.opposite())
            .collect();
        candidates.sort_by_key(|o| {
            (if o.side == Side::Ask { o.price } else { u64::MAX - o.price }, o.id)
        });
        let mut needed = taker.remaining as i128;
        let mut budget = taker.locked;
        for maker in candidates {
            if taker.state.order_type == OrderType::Limit
                && !Self::crosses(taker.state.side, taker.state.price.0, maker.price)
            {
                return false;
            }
            if maker.account == taker.state.account.0 {
                match taker.state.self_trade_prevention {
                    SelfTradePrevention::Allow => {}
                    SelfTradePrevention::RejectMaker => continue,
                    _ => return false,
                }
            }
            let take = (maker.remaining as i128).min(needed);
            if taker.state.order_type == OrderType::Market && taker.state.side == Side::Bid {
                let cost = take * maker.price as i128 * spec.quote_units_per_tick_step as i128;
                if cost > budget {
                    return false;
                }
                budget -= cost;
            }
            needed -= take;
            if needed == 0 {
                return true;
            }
        }
        false
    }

    fn walk(
        &mut self,
        command: &Command,
        taker: &mut Walker,
        out: &mut Vec<Event>,
    ) -> &'static str {
        let spec = self.config.markets[taker.state.market.0 as usize].clone();
        let opposite = taker.state.side.opposite();
        loop {
            let Some(index) = self.best(taker.state.market.0, opposite) else {
                return "liquidity";
            };
            let price = self.resting[index].price;
            let capacity = match self.capacity(taker, price) {
                Ok(capacity) => capacity,
                Err(end) => return end,
            };
            if self.resting[index].account == taker.state.account.0 {
                match taker.state.self_trade_prevention {
                    SelfTradePrevention::Allow => {}
                    SelfTradePrevention::RejectTaker => return "stp",
                    SelfTradePrevention::RejectMaker => {
                        self.take_off(command, index, Some(ExpiryReason::SelfTradePrevention), out);
                        continue;
                    }
                    SelfTradePrevention::RejectBoth => {
                        self.take_off(command, index, Some(ExpiryReason::SelfTradePrevention), out);
                        return "stp";
                    }
                }
            }
            let fill = self.resting[index].remaining.min(capacity);
            let base = fill as i128 * spec.base_units_per_step as i128;
            let quote = fill as i128 * price as i128 * spec.quote_units_per_tick_step as i128;
            let (b, q) = (spec.base.0 as usize, spec.quote.0 as usize);
            let maker = self.resting[index].clone();
            let fee = |amount: i128, bps: u32| amount * bps as i128 / 10_000;
            // Maker side.
            let maker_fee = match maker.side {
                Side::Bid => {
                    let f = fee(base, spec.maker_fee_bps);
                    self.balances[maker.account as usize][q].1 -= quote;
                    self.balances[maker.account as usize][b].0 += base - f;
                    self.balances[0][b].0 += f;
                    f
                }
                Side::Ask => {
                    let f = fee(quote, spec.maker_fee_bps);
                    self.balances[maker.account as usize][b].1 -= base;
                    self.balances[maker.account as usize][q].0 += quote - f;
                    self.balances[0][q].0 += f;
                    f
                }
            };
            // Taker side.
            let t = taker.state.account.0 as usize;
            let taker_fee = match taker.state.side {
                Side::Bid => {
                    let lock_used = if taker.state.order_type == OrderType::Limit {
                        fill as i128
                            * taker.state.price.0 as i128
                            * spec.quote_units_per_tick_step as i128
                    } else {
                        quote
                    };
                    taker.locked -= lock_used;
                    self.balances[t][q].1 -= lock_used;
                    self.balances[t][q].0 += lock_used - quote;
                    let f = fee(base, spec.taker_fee_bps);
                    self.balances[t][b].0 += base - f;
                    self.balances[0][b].0 += f;
                    f
                }
                Side::Ask => {
                    taker.locked -= base;
                    self.balances[t][b].1 -= base;
                    let f = fee(quote, spec.taker_fee_bps);
                    self.balances[t][q].0 += quote - f;
                    self.balances[0][q].0 += f;
                    f
                }
            };
            let trade_id = self.next_trade_id[taker.state.market.0 as usize];
            self.next_trade_id[taker.state.market.0 as usize] += 1;
            let mut maker_state = snapshot(&maker);
            maker_state.executed_quantity.0 += fill;
            maker_state.executed_quote += quote as u64;
            if maker.remaining == fill {
                maker_state.status = OrderStatus::Filled;
                self.resting.remove(index);
            } else {
                maker_state.status = OrderStatus::PartiallyFilled;
                self.resting[index].remaining -= fill;
                self.resting[index].executed_quote += quote as u64;
            }
            let fee_asset =
                |side: Side| AssetId(if side == Side::Bid { b as u16 } else { q as u16 });
            push(
                out,
                command,
                EventKind::OrderFill(Fill {
                    order: maker_state,
                    trade_id,
                    price: PriceTicks(price),
                    quantity: QuantitySteps(fill),
                    quote: quote as u64,
                    fee: maker_fee as u64,
                    fee_asset: fee_asset(maker.side),
                    is_maker: true,
                    counterparty: taker.state.order_id,
                }),
            );
            if !taker.by_quote {
                taker.remaining -= fill;
            }
            taker.state.executed_quantity.0 += fill;
            taker.state.executed_quote += quote as u64;
            let done = if taker.by_quote {
                self.best(taker.state.market.0, opposite).is_some_and(|next| {
                    self.capacity(taker, self.resting[next].price) == Err("done")
                })
            } else {
                taker.remaining == 0
            };
            taker.state.status =
                if done { OrderStatus::Filled } else { OrderStatus::PartiallyFilled };
            assert!(taker.state.executed_quantity.0 <= taker.state.quantity.0 || taker.by_quote);
            push(
                out,
                command,
                EventKind::OrderFill(Fill {
                    order: taker.state,
                    trade_id,
                    price: PriceTicks(price),
                    quantity: QuantitySteps(fill),
                    quote: quote as u64,
                    fee: taker_fee as u64,
                    fee_asset: fee_asset(taker.state.side),
                    is_maker: false,
                    counterparty: OrderId(maker.id),
                }),
            );
            if !taker.by_quote && taker.remaining == 0 {
                return "done";
            }
        }
    }
}

fn snapshot(order: &ModelOrder) -> OrderState {
    OrderState {
        order_id: OrderId(order.id),
        account: AccountIndex(order.account),
        market: MarketId(order.market),
        side: order.side,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Gtc,
        self_trade_prevention: order.stp,
        post_only: order.post_only,
        status: if order.remaining == order.quantity {
            OrderStatus::New
        } else {
            OrderStatus::PartiallyFilled
        },
        client_id: order.client_id.map(ClientId),
        price: PriceTicks(order.price),
        quantity: QuantitySteps(order.quantity),
        quote_quantity: 0,
        executed_quantity: QuantitySteps(order.quantity - order.remaining),
        executed_quote: order.executed_quote,
        created_at_us: order.created_at_us,
    }
}

fn push(out: &mut Vec<Event>, command: &Command, kind: EventKind) {
    out.push(Event { sequence: command.sequence, time_us: command.time_us, kind });
}

// -------------------------------------------------------------------------------------------------
// Command generation.

fn place_strategy() -> impl Strategy<Value = PlaceOrder> {
    (
        0u16..2,
        prop_oneof![Just(Side::Bid), Just(Side::Ask)],
        prop_oneof![4 => Just(OrderType::Limit), 1 => Just(OrderType::Market)],
        prop_oneof![6 => Just(TimeInForce::Gtc), 2 => Just(TimeInForce::Ioc), 1 => Just(TimeInForce::Fok)],
        prop_oneof![
            4 => Just(SelfTradePrevention::RejectTaker),
            1 => Just(SelfTradePrevention::RejectMaker),
            1 => Just(SelfTradePrevention::RejectBoth),
            2 => Just(SelfTradePrevention::Allow),
        ],
        prop::bool::weighted(0.1),
        prop::option::weighted(0.3, 1u32..5),
        95u64..106,
        prop_oneof![8 => 1u64..12, 1 => 0u64..2, 1 => 1u64..200],
        prop_oneof![3 => Just(0u64), 1 => 1u64..500_000],
    )
        .prop_map(
            |(market, side, order_type, tif, stp, post_only, client, price, quantity, quote)| {
                let market_order = order_type == OrderType::Market;
                let by_quote = market_order && quote > 0;
                PlaceOrder {
                    market: MarketId(market),
                    side,
                    order_type,
                    time_in_force: tif,
                    self_trade_prevention: stp,
                    post_only,
                    client_id: client.map(ClientId),
                    // Market 1 ticks are 0.5: scale the band so both books see crossings.
                    price: PriceTicks(if market_order { 0 } else if market == 0 { price * 100 } else { price * 2 }),
                    quantity: QuantitySteps(if by_quote { 0 } else { quantity }),
                    quote_quantity: if market_order { quote } else { 0 },
                }
            },
        )
}

fn action_strategy() -> impl Strategy<Value = (u8, Action)> {
    let account = 1u8..=ACCOUNTS;
    prop_oneof![
        50 => (account.clone(), place_strategy()).prop_map(|(a, p)| (a, Action::Place(p))),
        10 => (account.clone(), 0u16..2, 1u64..400).prop_map(|(a, m, id)| {
            (a, Action::Cancel { market: MarketId(m), target: OrderRef::Id(OrderId(id)) })
        }),
        5 => (account.clone(), 0u16..2, 1u32..5).prop_map(|(a, m, c)| {
            (a, Action::Cancel { market: MarketId(m), target: OrderRef::Client(ClientId(c)) })
        }),
        2 => (account.clone(), 0u16..2).prop_map(|(a, m)| (a, Action::CancelAll { market: MarketId(m) })),
        8 => (account.clone(), 0u16..3, prop_oneof![1u64..2_000_000, Just(0u64)])
            .prop_map(|(a, asset, amount)| (a, Action::Deposit { asset: AssetId(asset), amount })),
        2 => (account.clone(), 0u16..3, 0u64..200_000)
            .prop_map(|(a, asset, amount)| (a, Action::Withdraw { asset: AssetId(asset), amount })),
        1 => (account.clone(), 0u16..3, 0u64..200_000)
            .prop_map(|(a, asset, amount)| (a, Action::AdminWithdraw { asset: AssetId(asset), amount })),
        1 => account.clone().prop_map(|a| (a, Action::Freeze)),
        2 => account.clone().prop_map(|a| (a, Action::Unfreeze)),
        2 => account.clone().prop_map(|a| (a, Action::QueryBalances)),
        2 => (account.clone(), prop::option::of(0u16..2))
            .prop_map(|(a, m)| (a, Action::QueryOpenOrders { market: m.map(MarketId) })),
        2 => (account, 0u16..2, 1u64..400).prop_map(|(a, m, id)| {
            (a, Action::QueryOrder { market: MarketId(m), target: OrderRef::Id(OrderId(id)) })
        }),
    ]
}

fn compare_state(matcher: &Matcher, model: &Model, step: usize) -> Result<(), TestCaseError> {
    for (account, key) in model.keys.iter().enumerate().skip(1) {
        for asset in 0..model.config.assets.len() {
            let (available, locked) = model.balances[account][asset];
            prop_assert!(available >= 0 && locked >= 0, "step {step}: model balance negative");
            prop_assert_eq!(
                matcher.balance_of(key, AssetId(asset as u16)),
                Some((available as u64, locked as u64)),
                "step {}: account {} asset {}",
                step,
                account,
                asset
            );
        }
    }
    for asset in 0..model.config.assets.len() {
        prop_assert_eq!(
            matcher.fee_balance(AssetId(asset as u16)).0 as i128,
            model.balances[0][asset].0
        );
    }
    for market in 0..model.config.markets.len() {
        for side in [Side::Bid, Side::Ask] {
            let mut expected: Vec<&ModelOrder> = model
                .resting
                .iter()
                .filter(|o| o.market == market as u16 && o.side == side)
                .collect();
            expected.sort_by_key(|o| {
                (if side == Side::Ask { o.price } else { u64::MAX - o.price }, o.id)
            });
            let expected: Vec<OrderState> = expected.into_iter().map(snapshot).collect();
            prop_assert_eq!(
                matcher.resting_orders(MarketId(market as u16), side),
                expected,
                "step {}",
                step
            );
        }
    }
    Ok(())
}

fn run_stream(actions: &[(u8, Action)]) -> Result<(), TestCaseError> {
    let config = Arc::new(Config::from_toml(CONFIG).unwrap());
    let mut matcher = Matcher::new(config.clone());
    let mut model = Model::new(config);
    let mut sequence = 0u64;
    let mut events = Vec::new();
    for (step, (account, action)) in actions.iter().enumerate() {
        let command = Command {
            sequence: SequenceNumber(if action.is_query() {
                0
            } else {
                sequence += 1;
                sequence
            }),
            time_us: 1_700_000_000_000_000 + step as u64,
            account: key(*account),
            action: *action,
        };
        events.clear();
        matcher.apply(&command, &mut events);
        let expected = model.apply(&command);
        prop_assert_eq!(&events, &expected, "step {}: {:?}", step, command);
        for event in &events {
            if let EventKind::OrderFill(fill) = event.kind
                && fill.order.quantity.0 > 0
            {
                prop_assert!(fill.order.executed_quantity <= fill.order.quantity, "overfilled");
            }
        }
        if let Err(broken) = matcher.check_invariants() {
            return Err(TestCaseError::fail(format!("step {step}: {broken}")));
        }
        compare_state(&matcher, &model, step)?;
    }
    Ok(())
}

fn stream_strategy() -> impl Strategy<Value = Vec<(u8, Action)>> {
    // Fund everyone first so most orders clear, then a random stream.
    let funding: Vec<(u8, Action)> = (1..=ACCOUNTS)
        .flat_map(|a| {
            [
                (a, Action::Deposit { asset: AssetId(0), amount: 50_000_000 }),
                (a, Action::Deposit { asset: AssetId(1), amount: 2_000_000 }),
                (a, Action::Deposit { asset: AssetId(2), amount: 20_000 }),
            ]
        })
        .collect();
    prop::collection::vec(action_strategy(), 1..2000).prop_map(move |stream| {
        let mut all = funding.clone();
        all.extend(stream);
        all
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn matcher_agrees_with_the_naive_model(stream in stream_strategy()) {
        run_stream(&stream)?;
    }
}
