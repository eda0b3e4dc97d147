//! The ledger: every balance write, and what each entity adds to the state hash.
//!
//! Every write of a balance goes through the functions here, which keep the incremental state
//! hash in step. The hash terms of a field that does not change are zero, so each writes only the
//! terms of the fields it changes (a move between available and locked is one term:
//! `Coefficients::moved`). The `_unhashed` ones return their change for the caller to add, so a
//! trade adds its six balance changes at once. The terms of an account's key and of a resting
//! order are defined here too (`hash_account`, `order_contribution`); `resting` adds, updates
//! and subtracts the order terms as orders rest, fill and leave.
//!
//! Invariants:
//! - the incremental state hash equals [`Matcher::recompute_state_hash`], which visits everything;
//! - a move or a spend never takes more than the balance holds (`debug_assert!`ed in each).

use super::Matcher;
use super::accounts::Balance;
use super::orders::Order;
use super::state_hash::{Coefficients, Contribution, Domain, StateHash, fold};
use crate::types::{AccountIndex, AssetId};

impl Matcher {
    pub(super) fn set_balance(&mut self, account: AccountIndex, asset: AssetId, new: Balance) {
        let (balance, entity) = self.accounts.balance_mut(account, asset);
        self.hash.update(entity, BALANCE_AVAILABLE_FIELD, balance.available, new.available);
        self.hash.update(entity, BALANCE_LOCKED_FIELD, balance.locked, new.locked);
        *balance = new;
    }

    pub(super) fn credit(&mut self, account: AccountIndex, asset: AssetId, amount: u64) {
        let change = self.credit_unhashed(account, asset, amount);
        self.hash.add(change);
    }

    /// [`Matcher::credit`] returning its state-hash change instead of adding it, so a trade adds
    /// its six balance changes to the hash at once (each `self.hash` update is a load and a store
    /// the next one waits for: the compiler cannot keep it in a register across balance writes).
    #[inline(always)]
    pub(super) fn credit_unhashed(
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
    pub(super) fn move_to_locked(&mut self, account: AccountIndex, asset: AssetId, amount: u64) {
        let (balance, entity) = self.accounts.balance_mut(account, asset);
        debug_assert!(balance.available >= amount);
        self.hash.add(entity.moved(BALANCE_AVAILABLE_FIELD, BALANCE_LOCKED_FIELD, amount));
        balance.available -= amount;
        balance.locked += amount;
    }

    #[inline(always)]
    pub(super) fn release_lock(&mut self, account: AccountIndex, asset: AssetId, amount: u64) {
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
    pub(super) fn spend_locked_unhashed(
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
    pub(super) fn hash_account(&mut self, account: AccountIndex) {
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
        for (_, index) in self.order_ids.iter(&self.orders) {
            let order = self.orders.get(index);
            hash.add(order_contribution(order));
        }
        hash.finish(self.hash_counters())
    }
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
pub(super) fn order_contribution(order: &Order) -> Contribution {
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
pub(super) fn order_fill_fold(remaining: (u64, u64), executed_quote: (u64, u64)) -> u64 {
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
pub(super) const ORDER_FIELD: usize = 0;
/// Words in `order_fields`.
const ORDER_WORDS: usize = 7;
/// `order_fields` position of `remaining`.
const ORDER_REMAINING_WORD: usize = 5;
/// `order_fields` position of `executed_quote`.
const ORDER_EXECUTED_QUOTE_WORD: usize = 6;
