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
//!
//! # Layout
//!
//! This file holds the state ([`Matcher`], its books and ledgers), its construction and
//! [`Matcher::apply`], the one `match` on the command. The work is in `impl Matcher` blocks by
//! concern, in child modules so they reach the private fields:
//! - `place`: a placement cleared, matched against the book and settled (the taker's walk);
//! - `resting`: orders on the book: resting one, filling one, taking one off;
//! - `cancel`: cancels by the order's owner;
//! - `funds`: deposits, withdrawals, freezing an account;
//! - `queries`: the read-only commands and the public accessors;
//! - `ledger`: every balance write, and each entity's terms in the state hash;
//! - `invariants`: the full check of the invariants above.
//!
//! The tables they use: `book` (price levels of one side), `orders` (the order slab),
//! `accounts`, `account_orders`, `account_levels` (the levels each account holds), `order_ids`
//! and `state_hash`; `crate::fixed::FixedMap` for
//! client ids. `order_index` holds what `orders` and `order_ids` share, so neither imports the
//! other.

mod account_levels;
mod account_orders;
mod accounts;
mod book;
mod cancel;
mod funds;
mod invariants;
mod ledger;
mod order_ids;
mod order_index;
mod orders;
mod place;
mod queries;
mod resting;
pub mod stage;
mod state_hash;

use crate::command::{Action, Command};
use crate::config::{Config, MarketSpec};
use crate::event::{Event, EventKind, EventSink, TransferKind};
use crate::fixed::FixedMap;
use crate::types::{AccountIndex, AssetId, SequenceNumber, Side};
use account_levels::AccountLevels;
use account_orders::AccountOrders;
use accounts::Accounts;
use book::BookSide;
use order_ids::OrderIds;
use orders::OrderPool;
use state_hash::StateHash;
use std::hint::select_unpredictable;
use std::sync::Arc;

/// Both sides of one market plus its trade counter.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
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
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
struct AssetLedger {
    deposited: u64,
    withdrawn: u64,
}

/// The matching engine's state.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct Matcher {
    /// Not in a snapshot: restored from the running configuration (`Config::placeholder`
    /// until then), which a snapshot's fingerprint must match.
    #[serde(skip, default = "Config::placeholder")]
    config: Arc<Config>,
    books: Vec<MarketBook>,
    orders: OrderPool,
    accounts: Accounts,
    /// Each account's open orders, oldest first.
    account_orders: AccountOrders,
    /// The price levels each account holds orders on, per market and side.
    account_levels: AccountLevels,
    /// Order id → order index, for every resting order.
    order_ids: OrderIds,
    /// `account << 32 | client id` → order index, for resting orders with a client id. The map
    /// is generic (net-out uses it too) and holds the index's bare `u32`: convert at its calls.
    client_ids: FixedMap,
    ledgers: Vec<AssetLedger>,
    next_deposit_id: u32,
    next_withdrawal_id: u32,
    last_sequence: SequenceNumber,
    hash: StateHash,
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
            account_levels: AccountLevels::new(
                limits.orders_max,
                limits.accounts_max,
                config.markets.len(),
                limits.levels_per_side_max,
            ),
            order_ids: OrderIds::with_orders_max(limits.orders_max),
            client_ids: FixedMap::with_entries_max(limits.orders_max as usize),
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

    /// This engine, read from a snapshot, made ready to run `config` (the one whose state
    /// fingerprint the snapshot carries): the configuration put back and every growable table
    /// given back its preallocated room.
    pub fn restore(&mut self, config: Arc<Config>) {
        let levels_max = config.limits.levels_per_side_max;
        for book in &mut self.books {
            book.bids.restore_capacity(levels_max);
            book.asks.restore_capacity(levels_max);
        }
        self.orders.restore_capacity();
        self.accounts.restore_capacity();
        self.config = config;
    }

    /// The last sequence number applied.
    pub fn last_sequence(&self) -> SequenceNumber {
        self.last_sequence
    }

    /// Applies one command, writing its events to `sink`. The only entry point that changes state.
    ///
    /// A command with sequence 0 is a query, or the command of a key the sequencer never saw a
    /// deposit to (`sequencer::accounts`): such a key has no account here, so the command is
    /// answered (rejected, or a cancel-all of nothing) and changes nothing.
    pub fn apply(&mut self, command: &Command, sink: &mut impl EventSink) {
        if command.sequence.0 != 0 {
            assert!(command.sequence > self.last_sequence, "sequence numbers must increase");
            self.last_sequence = command.sequence;
        } else if !command.action.is_query() {
            debug_assert!(
                self.accounts.find(&command.account).is_none(),
                "an unsequenced command from a key with an account"
            );
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
}

/// The per-market numbers the hot path needs, copied out of the spec so the matcher can borrow
/// itself mutably while using them.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
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

fn is_crossed(book: &MarketBook) -> bool {
    match (book.bids.best_price(), book.asks.best_price()) {
        (Some(bid), Some(ask)) => bid >= ask,
        _ => false,
    }
}

#[inline]
fn client_key(account: AccountIndex, client_id: u32) -> u64 {
    u64::from(account.0) << 32 | u64::from(client_id)
}

#[inline(always)]
fn emit(sink: &mut impl EventSink, command: &Command, kind: EventKind) {
    sink.push(Event { sequence: command.sequence, time_us: command.time_us, kind });
}

#[cfg(test)]
pub(crate) mod test_orders;
#[cfg(test)]
mod tests;
