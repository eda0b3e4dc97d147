//! The per-account histories: fills, orders, deposits and withdrawals, each kind in one global
//! ring of records (`History`) whose records are chained per account (`Chain`, `Linked`), and
//! the record types the history endpoints render ([`FillRecord`], [`OrderRecord`],
//! [`DepositRecord`], [`WithdrawalRecord`]).
//!
//! **Written by** the view's event handlers: a record is pushed when its event arrives; an order
//! record is then rewritten in place as the order changes (`at_slot_mut`), and a user
//! withdrawal's record gets its request's extras at `finish` (`get_mut`).
//!
//! **Bounds**: one ring per kind of `ViewLimits::{fills_max, orders_max, deposits_max,
//! withdrawals_max}` records, reserved in `new` and written in order; a full ring overwrites its
//! oldest record. One `Chain` per account of `accounts_max`. Nothing grows after `new`.
//!
//! **Invariants**: record numbers are global and increasing; record *n* sits in slot
//! *n* mod capacity and is live iff it is among the last `capacity` pushed. Along an account's
//! chain, records are in push order, hence in engine-time order, so a query stops at the first
//! record past its time range. The ring's oldest record is always its account's oldest (asserted
//! on eviction), so evicting it only moves that account's tail.

use crate::event::{OrderState, Transfer, TransferKind};
use crate::records::{Extras, HistoryFilter};
use crate::types::{
    AccountIndex, AssetId, ClientId, ExpiryReason, MarketId, OrderId, PriceTicks, QuantitySteps,
    Side,
};

/// One side of one order fill, as the fill history shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderRecord {
    /// The state after the order's last event.
    pub state: OrderState,
    /// Why it expired, when it did.
    pub expiry: Option<ExpiryReason>,
}

/// A deposit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// "No record".
const NONE: u64 = u64::MAX;

/// An account's records of one kind: newest and oldest live record numbers, or `NONE` for both.
#[derive(Clone, Copy, Debug)]
pub(super) struct Chain {
    head: u64,
    tail: u64,
}

/// A record in its ring, linked to its account's neighbours.
#[derive(Clone, Copy, Debug)]
pub(super) struct Linked<T> {
    /// Global record number (the ring slot is `number % capacity`).
    number: u64,
    /// The account's previous (older) record, or `NONE`.
    prev: u64,
    /// The account's next (newer) record, or `NONE`.
    next: u64,
    account: AccountIndex,
    value: T,
}

/// A bounded history of records per account, in one global ring: pushing into a full ring drops
/// the oldest record, which is always the oldest of its account, so its account's `tail` moves
/// to the next one. A record is live iff it is among the last `capacity` pushed.
pub(super) struct History<T> {
    records: Vec<Linked<T>>,
    capacity: u64,
    next_number: u64,
    chains: Vec<Chain>,
}

impl<T: Copy> History<T> {
    pub(super) fn new(capacity: u32, accounts_max: u32) -> History<T> {
        assert!(capacity > 0, "a history ring needs room for one record");
        History {
            records: Vec::with_capacity(capacity as usize),
            capacity: u64::from(capacity),
            next_number: 0,
            chains: vec![Chain { head: NONE, tail: NONE }; accounts_max as usize],
        }
    }

    fn slot(&self, number: u64) -> Option<usize> {
        let live = number < self.next_number && self.next_number - number <= self.capacity;
        live.then_some((number % self.capacity) as usize)
    }

    fn linked(&self, number: u64) -> Option<&Linked<T>> {
        self.slot(number).map(|slot| &self.records[slot])
    }

    /// Appends a record of `account`; returns its ring slot.
    pub(super) fn push(&mut self, account: AccountIndex, value: T) -> usize {
        let number = self.next_number;
        self.next_number += 1;
        let slot = (number % self.capacity) as usize;
        if slot < self.records.len() {
            self.evict(slot);
        }
        let chain = &mut self.chains[account.0 as usize];
        let prev = chain.head;
        chain.head = number;
        if prev == NONE {
            chain.tail = number;
        }
        let linked = Linked { number, prev, next: NONE, account, value };
        if slot < self.records.len() {
            self.records[slot] = linked;
        } else {
            debug_assert_eq!(slot, self.records.len());
            self.records.push(linked);
        }
        if let Some(prev_slot) = self.slot(prev) {
            self.records[prev_slot].next = number;
        }
        slot
    }

    /// Drops the record in `slot` (the oldest live one) from its account's chain.
    fn evict(&mut self, slot: usize) {
        let old = self.records[slot];
        let chain = &mut self.chains[old.account.0 as usize];
        assert_eq!(chain.tail, old.number, "the ring's oldest is its account's oldest");
        chain.tail = old.next;
        if old.next == NONE {
            chain.head = NONE;
        }
    }

    /// The number of the record pushed last (only after a push).
    pub(super) fn newest_number(&self) -> u64 {
        self.next_number - 1
    }

    /// The record in `slot`, if the slot was ever written.
    pub(super) fn at_slot_mut(&mut self, slot: usize) -> Option<&mut T> {
        self.records.get_mut(slot).map(|linked| &mut linked.value)
    }

    /// The record with this number, if still live.
    pub(super) fn get_mut(&mut self, number: u64) -> Option<&mut T> {
        self.slot(number).map(|slot| &mut self.records[slot].value)
    }

    /// Visits the account's records that pass `filter` (time, offset, limit) and `matches`, in
    /// the filter's order. Records are in time order along a chain, so the walk stops at the
    /// first record past the time range: O(offset + limit) without filters.
    pub(super) fn query(
        &self,
        account: AccountIndex,
        filter: &HistoryFilter,
        time_us: impl Fn(&T) -> u64,
        matches: impl Fn(&T) -> bool,
        mut emit: impl FnMut(&T),
    ) {
        let Some(chain) = self.chains.get(account.0 as usize) else {
            return;
        };
        let mut number = if filter.ascending { chain.tail } else { chain.head };
        let (mut skipped, mut emitted) = (0u32, 0u32);
        while emitted < filter.limit {
            let Some(linked) = self.linked(number) else {
                break;
            };
            number = if filter.ascending { linked.next } else { linked.prev };
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
}
