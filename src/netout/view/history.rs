//! The per-account histories: fills, orders, deposits and withdrawals, each kind in one global
//! pool of records (`History`) whose records are chained per account (`Chain`, `Linked`), and
//! the record types the history endpoints render ([`FillRecord`], [`OrderRecord`],
//! [`DepositRecord`], [`WithdrawalRecord`]).
//!
//! **Written by** the view's event handlers: a record is pushed when its event arrives; an order
//! record is then rewritten in place as the order changes (`at_slot_mut`, which the caller
//! checks against the order id, since a slot is reused once its record is evicted), and a user
//! withdrawal's record gets its request's extras at `finish`.
//!
//! **Bounds**: one pool per kind of `ViewLimits::{fills_max, orders_max, deposits_max,
//! withdrawals_max}` records (*P*), reserved in `new` and filled in order; each account holds at
//! most its quota *Q* of them (`[server] *_history_per_account_max`, at most *P*). One `Chain`
//! per account of `accounts_max` (20 B) and one bucket head per count `0..=Q` (4 B). Nothing
//! grows after `new`; a push is O(1) and never allocates.
//!
//! **Eviction** (which record a push replaces; always the *oldest* record of the account it
//! takes from, so every account keeps a contiguous run of its newest records):
//! 1. an account holding *Q* records replaces its own oldest;
//! 2. otherwise, while the pool has a free slot, nothing is evicted;
//! 3. otherwise (pool full) the record comes from an account holding the most records: the
//!    pusher itself if nobody holds more than it, else an account holding strictly more.
//!
//! **Guarantee**: an account's record is evicted by *another* account's push only when the pool
//! is full and the evicted account holds strictly more records than the pusher and at least as
//! many as any account. Hence one account's flood evicts only its own records once it holds
//! *Q* (or as many as the largest holder), and every account keeps at least its newest
//! min(*n*, *Q*, ⌊*P* / *A*⌋) records, *n* being how many it pushed and *A* how many accounts
//! hold records when an eviction happens, the pusher counted (the largest of *P* records among
//! the holders is at least their average, and above it when the pusher holds fewer; one less
//! than that is still at least ⌊*P* / *A*⌋). With *A* · *Q* ≤ *P* nobody ever loses a record to
//! anyone else. The unit tests below and `tests/abuse_book.rs` check this.
//!
//! **Queries** walk one account's chain, newest or oldest first, and visit at most
//! `scan_max` records (`[server] history_scan_max`) and never more than the account holds (at
//! most *Q*): records skipped by `offset`, by a filter (symbol, order id) or by the time range
//! count. A query that runs out of that budget answers what it found so far; an `offset` at or
//! past what the walk can reach answers nothing. So a query's work is O(min(*Q*, `scan_max`)),
//! however large its `offset` and whatever its filters; with the default quotas the quota is
//! itself the cap.
//!
//! **Invariants** (`History::check`, run by the unit tests): along an account's chain, records
//! are in push order, hence in engine-time order, so a query stops at the first record past its
//! time range; an account's `count` is its chain's length; the counts sum to the records held;
//! bucket *c* lists exactly the accounts holding *c* records; `count_max` is the largest count.

use crate::event::{OrderState, Transfer, TransferKind};
use crate::records::{Extras, HistoryFilter};
use crate::types::{
    AccountIndex, AssetId, ClientId, ExpiryReason, MarketId, OrderId, PriceTicks, QuantitySteps,
    Side,
};

/// One side of one order fill, as the fill history shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FillRecord {
    /// Trade id.
    pub trade_id: u64,
    /// This side's order.
    pub order_id: OrderId,
    /// Its client id.
    pub client_id: Option<ClientId>,
    /// Market.
    pub market: MarketId,
    /// This side's order side.
    pub side: Side,
    /// Whether this side rested.
    pub is_maker: bool,
    /// The asset the fee is in.
    pub fee_asset: AssetId,
    /// Price.
    pub price: PriceTicks,
    /// Base traded.
    pub quantity: QuantitySteps,
    /// Fee units.
    pub fee: u64,
    /// Engine time, Unix µs.
    pub time_us: u64,
}

/// An order's latest state, as the order history shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderRecord {
    /// The state after the order's last event.
    pub state: OrderState,
    /// Why it expired, when it did.
    pub expiry: Option<ExpiryReason>,
}

/// A deposit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DepositRecord {
    /// Deposit id, from 1.
    pub id: u32,
    /// Asset.
    pub asset: AssetId,
    /// Units credited.
    pub amount: u64,
    /// Engine time, Unix µs.
    pub time_us: u64,
}

/// A withdrawal, the user's own or the administrator's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WithdrawalRecord {
    /// Withdrawal id, from 1.
    pub id: u32,
    /// Asset.
    pub asset: AssetId,
    /// Units sent out.
    pub amount: u64,
    /// Fee units paid on top.
    pub fee: u64,
    /// An administrator withdrawal (`blockchain:"Internal"`, `isInternal:true`).
    pub internal: bool,
    /// Engine time, Unix µs.
    pub time_us: u64,
    /// The user's `address` and `clientId`.
    pub extras: Extras,
}

impl DepositRecord {
    /// The record of a deposit `Transfer` at engine time `time_us`.
    pub fn of(transfer: &Transfer, time_us: u64) -> DepositRecord {
        DepositRecord { id: transfer.id, asset: transfer.asset, amount: transfer.amount, time_us }
    }
}

impl WithdrawalRecord {
    /// The record of a withdrawal `Transfer` at engine time `time_us`, with the request's
    /// `extras` (address, client id).
    pub fn of(transfer: &Transfer, time_us: u64, extras: Extras) -> WithdrawalRecord {
        WithdrawalRecord {
            id: transfer.id,
            asset: transfer.asset,
            amount: transfer.amount,
            fee: transfer.fee,
            internal: transfer.kind == TransferKind::AdminWithdrawal,
            time_us,
            extras,
        }
    }
}

/// "No record" / "no account".
const NONE: u32 = u32::MAX;

/// An account's records of one kind: newest and oldest record slots (`NONE` when it holds none),
/// how many it holds, and its neighbours among the accounts holding as many.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Chain {
    head: u32,
    tail: u32,
    count: u32,
    peer_prev: u32,
    peer_next: u32,
}

/// A record in its pool, linked to its account's neighbours.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Linked<T> {
    /// The account's previous (older) record's slot, or `NONE`.
    prev: u32,
    /// The account's next (newer) record's slot, or `NONE`.
    next: u32,
    value: T,
}

/// A bounded history of records per account, in one global pool, evicting by the rules of the
/// module documentation.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct History<T> {
    records: Vec<Linked<T>>,
    capacity: u32,
    /// Most records one account holds.
    quota: u32,
    chains: Vec<Chain>,
    /// `buckets[c]`: the first account holding `c ≥ 1` records, or `NONE`.
    buckets: Vec<u32>,
    /// The largest count any account holds (0: the pool is empty).
    count_max: u32,
}

impl<T: Copy> History<T> {
    /// Room for `capacity` records again, after a snapshot was read.
    pub(super) fn restore_capacity(&mut self) {
        crate::fixed::reserve_total(&mut self.records, self.capacity as usize);
    }

    /// A pool of `capacity` records, at most `quota` (capped at `capacity`) per account.
    pub(super) fn new(capacity: u32, quota: u32, accounts_max: u32) -> History<T> {
        assert!(capacity > 0 && quota > 0, "a history needs room for one record");
        let quota = quota.min(capacity);
        let empty = Chain { head: NONE, tail: NONE, count: 0, peer_prev: NONE, peer_next: NONE };
        History {
            records: Vec::with_capacity(capacity as usize),
            capacity,
            quota,
            chains: vec![empty; accounts_max as usize],
            buckets: vec![NONE; quota as usize + 1],
            count_max: 0,
        }
    }

    /// Appends a record of `account`, evicting one if needed; returns its slot.
    pub(super) fn push(&mut self, account: AccountIndex, value: T) -> usize {
        let a = account.0;
        let count = self.chains[a as usize].count;
        let slot = if count >= self.quota {
            self.evict_oldest(a)
        } else if self.records.len() < self.capacity as usize {
            let placeholder = Linked { prev: NONE, next: NONE, value };
            self.records.push(placeholder);
            (self.records.len() - 1) as u32
        } else if count == self.count_max {
            self.evict_oldest(a)
        } else {
            let victim = self.buckets[self.count_max as usize];
            debug_assert!(victim != NONE && victim != a);
            self.evict_oldest(victim)
        };
        let chain = &mut self.chains[a as usize];
        let (prev, held) = (chain.head, chain.count);
        chain.head = slot;
        if prev == NONE {
            chain.tail = slot;
        } else {
            self.records[prev as usize].next = slot;
        }
        self.records[slot as usize] = Linked { prev, next: NONE, value };
        self.set_count(a, held + 1);
        slot as usize
    }

    /// Drops `account`'s oldest record from its chain and returns its slot, now unused.
    fn evict_oldest(&mut self, account: u32) -> u32 {
        let chain = &mut self.chains[account as usize];
        let (slot, held) = (chain.tail, chain.count);
        assert!(slot != NONE, "an account evicted from holds a record");
        let next = self.records[slot as usize].next;
        chain.tail = next;
        if next == NONE {
            chain.head = NONE;
        } else {
            self.records[next as usize].prev = NONE;
        }
        self.set_count(account, held - 1);
        slot
    }

    /// Moves `account` from the bucket of its count to the bucket of `count`.
    fn set_count(&mut self, account: u32, count: u32) {
        let chain = self.chains[account as usize];
        if chain.count == count {
            return;
        }
        if chain.count > 0 {
            if chain.peer_prev == NONE {
                self.buckets[chain.count as usize] = chain.peer_next;
            } else {
                self.chains[chain.peer_prev as usize].peer_next = chain.peer_next;
            }
            if chain.peer_next != NONE {
                self.chains[chain.peer_next as usize].peer_prev = chain.peer_prev;
            }
        }
        // An account joins its new bucket at the front; accounts holding nothing are in none.
        let (peer_prev, mut peer_next) = (NONE, NONE);
        if count > 0 {
            peer_next = self.buckets[count as usize];
            if peer_next != NONE {
                self.chains[peer_next as usize].peer_prev = account;
            }
            self.buckets[count as usize] = account;
        }
        let chain = &mut self.chains[account as usize];
        let old = chain.count;
        *chain = Chain { count, peer_prev, peer_next, ..*chain };
        // Counts move by one, so the largest falls by one only when its bucket empties.
        if count > self.count_max {
            self.count_max = count;
        } else if old == self.count_max && self.buckets[old as usize] == NONE {
            self.count_max = old - 1;
        }
    }

    /// The record in `slot`, if the slot was ever written (it may hold another record since).
    pub(super) fn at_slot_mut(&mut self, slot: usize) -> Option<&mut T> {
        self.records.get_mut(slot).map(|linked| &mut linked.value)
    }

    /// Records `account` holds.
    #[cfg(test)]
    pub(super) fn count(&self, account: AccountIndex) -> u32 {
        self.chains[account.0 as usize].count
    }

    /// Visits the account's records that pass `filter` (time, offset, limit) and `matches`, in
    /// the filter's order, looking at no more than `scan_max` records (module documentation).
    /// Records are in time order along a chain, so the walk stops at the first record past the
    /// time range.
    pub(super) fn query(
        &self,
        account: AccountIndex,
        filter: &HistoryFilter,
        scan_max: u32,
        time_us: impl Fn(&T) -> u64,
        matches: impl Fn(&T) -> bool,
        mut emit: impl FnMut(&T),
    ) {
        let Some(chain) = self.chains.get(account.0 as usize) else {
            return;
        };
        let mut slot = if filter.ascending { chain.tail } else { chain.head };
        let (mut skipped, mut emitted, mut scanned) = (0u32, 0u32, 0u32);
        while emitted < filter.limit && slot != NONE && scanned < scan_max {
            scanned += 1;
            let linked = &self.records[slot as usize];
            slot = if filter.ascending { linked.next } else { linked.prev };
            let time_ms = time_us(&linked.value) / 1_000;
            let before = filter.from_ms.is_some_and(|from_ms| time_ms < from_ms);
            let after = filter.to_ms.is_some_and(|to_ms| time_ms > to_ms);
            if before || after {
                // Past the range in walking direction: nothing further can match.
                if before != filter.ascending {
                    break;
                }
                continue;
            }
            if !matches(&linked.value) {
                continue;
            }
            if skipped < filter.offset {
                skipped += 1;
                continue;
            }
            emit(&linked.value);
            emitted += 1;
        }
    }

    /// Checks the invariants of the module documentation (tests, not the hot path).
    // tidy: diagnostics (invariant checks, never on the command path)
    #[cfg(test)]
    pub(super) fn check(&self) -> Result<(), String> {
        let mut held = 0usize;
        let mut largest = 0;
        for (index, chain) in self.chains.iter().enumerate() {
            let (mut slot, mut prev, mut length) = (chain.tail, NONE, 0u32);
            while slot != NONE {
                let linked = &self.records[slot as usize];
                if linked.prev != prev {
                    return Err(format!("account {index}: chain broken at slot {slot}"));
                }
                (prev, slot, length) = (slot, linked.next, length + 1);
            }
            if prev != chain.head || length != chain.count || length > self.quota {
                return Err(format!("account {index}: count {} vs chain {length}", chain.count));
            }
            held += length as usize;
            largest = largest.max(length);
        }
        if held != self.records.len() || largest != self.count_max {
            return Err(format!("held {held} of {}, max {largest}", self.records.len()));
        }
        for (count, &first) in self.buckets.iter().enumerate().skip(1) {
            let (mut account, mut prev) = (first, NONE);
            while account != NONE {
                let chain = &self.chains[account as usize];
                if chain.count as usize != count || chain.peer_prev != prev {
                    return Err(format!("bucket {count}: account {account} misplaced"));
                }
                (prev, account) = (account, chain.peer_next);
            }
        }
        let in_buckets = self.chains.iter().filter(|chain| chain.count > 0).count();
        let listed: usize = (1..self.buckets.len())
            .map(|count| {
                let mut account = self.buckets[count];
                let mut listed = 0;
                while account != NONE {
                    listed += 1;
                    account = self.chains[account as usize].peer_next;
                }
                listed
            })
            .sum();
        if in_buckets != listed {
            return Err(format!("{in_buckets} accounts hold records, {listed} in buckets"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::VecDeque;

    fn values(history: &History<u64>, account: u32) -> Vec<u64> {
        let filter = HistoryFilter { limit: u32::MAX, ascending: true, ..HistoryFilter::default() };
        let mut seen = Vec::new();
        history.query(
            AccountIndex(account),
            &filter,
            u32::MAX,
            |_| 0,
            |_| true,
            |&value| seen.push(value),
        );
        seen
    }

    #[test]
    fn an_account_past_its_quota_evicts_only_its_own_oldest() {
        let mut history = History::<u64>::new(10, 4, 4);
        for value in 1..=3 {
            history.push(AccountIndex(1), value);
        }
        for value in 100..1_000 {
            history.push(AccountIndex(2), value);
            history.check().unwrap();
        }
        assert_eq!(values(&history, 1), vec![1, 2, 3]);
        assert_eq!(values(&history, 2), vec![996, 997, 998, 999]);
        assert_eq!((history.count(AccountIndex(1)), history.count(AccountIndex(2))), (3, 4));
    }

    #[test]
    fn a_full_pool_evicts_from_the_largest_holder_and_never_below_the_fair_share() {
        // 12 records, quota 8, 5 accounts pushing in a skewed pseudo-random order: after every
        // push each account holds exactly its newest records, and a record of another account
        // was evicted only from a largest holder holding more than the pusher.
        let (capacity, quota, accounts) = (12u32, 8u32, 5u32);
        let mut history = History::<u64>::new(capacity, quota, accounts + 1);
        let mut pushed: Vec<VecDeque<u64>> = vec![VecDeque::new(); accounts as usize + 1];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut evicted_for_others = 0;
        for value in 0..20_000u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // Account 1 pushes half the time; the others share the rest.
            let account =
                if seed.is_multiple_of(2) { 1 } else { 2 + (seed >> 8) as u32 % (accounts - 1) };
            let before: Vec<u32> = (0..=accounts).map(|a| history.count(AccountIndex(a))).collect();
            let full = before.iter().sum::<u32>() == capacity;
            history.push(AccountIndex(account), value);
            history.check().unwrap();
            pushed[account as usize].push_back(value);
            // The accounts holding records, the pusher counted even if it holds none yet.
            let holders =
                (0..=accounts).filter(|&a| before[a as usize] > 0 || a == account).count() as u32;
            for other in 1..=accounts {
                let after = history.count(AccountIndex(other));
                let held = &mut pushed[other as usize];
                while held.len() > after as usize {
                    held.pop_front();
                }
                assert_eq!(values(&history, other), Vec::from(held.clone()), "newest kept");
                let (was, pusher) = (before[other as usize], before[account as usize]);
                if other != account && after < was {
                    evicted_for_others += 1;
                    assert!(full && was > pusher, "evicted {other} at {was} for {pusher}");
                    assert!(before.iter().all(|&count| count <= was), "not a largest holder");
                    assert!(after >= capacity / holders, "below the fair share");
                }
            }
        }
        assert!(evicted_for_others > 1_000, "the pool was full often: {evicted_for_others}");
    }

    #[test]
    fn a_query_looks_at_no_more_than_its_scan_budget() {
        let mut history = History::<u64>::new(1_000, 1_000, 2);
        for value in 0..1_000 {
            history.push(AccountIndex(1), value);
        }
        let looked = Cell::new(0u32);
        let time_us = |_: &u64| {
            looked.set(looked.get() + 1);
            0
        };
        let mut found = Vec::new();
        // An offset past everything, then a filter nothing passes: 100 records each, no more.
        let far = HistoryFilter { limit: 10, offset: u32::MAX, ..HistoryFilter::default() };
        history.query(AccountIndex(1), &far, 100, time_us, |_| true, |&v| found.push(v));
        assert_eq!((looked.get(), found.len()), (100, 0));
        let filter = HistoryFilter { limit: 10, ..HistoryFilter::default() };
        history.query(AccountIndex(1), &filter, 100, time_us, |&v| v < 905, |&v| found.push(v));
        assert_eq!((looked.get(), &found[..]), (200, &[904, 903, 902, 901, 900][..]));
        // What the account holds bounds it too: one record, one look.
        history.push(AccountIndex(0), 7);
        history.query(AccountIndex(0), &far, 100, time_us, |_| true, |&v| found.push(v));
        assert_eq!(looked.get(), 201);
    }
}
