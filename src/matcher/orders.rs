//! The order pool: every resting order of every market, in one preallocated slab.
//!
//! Orders are addressed by their [`OrderIndex`] in the slab, linked into their price level's
//! FIFO (`level_prev`/`level_next`); their account's list of open orders links them by the same
//! index in `AccountOrders`. Indices are taken from and returned to a free list; the slab never
//! grows, so a full pool is an `ORDER_LIMIT` rejection decided before anything changes.

use super::order_index::{Links, OrderIndex};
use super::state_hash::Contribution;
use crate::types::{
    AccountIndex, ClientId, MarketId, OrderId, PriceTicks, QuantitySteps, SelfTradePrevention,
    Side, TimeInForce,
};

/// `Order::level` of an order not yet linked into a price level; the book's "no level".
pub const LEVEL_NIL: u32 = u32::MAX;

/// A resting order.
// NB: 32-byte aligned and 96 bytes long, so every order spans exactly two cache lines. At the
// allocator's alignment the slab started 16 bytes past a line and half the orders spanned
// three. `cargo bench --bench matcher` shows no difference either way (realistic 15.50 vs
// 15.70 M commands/s, within its noise); the layout is kept for being what it says.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
#[repr(align(32))]
pub struct Order {
    /// Exchange id.
    pub id: OrderId,
    /// Limit price.
    pub price: PriceTicks,
    /// Quantity as placed.
    pub quantity: QuantitySteps,
    /// Not yet filled; always > 0 while resting.
    pub remaining: QuantitySteps,
    /// Quote filled so far (it may have filled as a taker before resting).
    pub executed_quote: u64,
    /// Engine time of placement.
    pub created_at_us: u64,
    /// Owner.
    pub account: AccountIndex,
    /// Client id if `has_client_id`, else 0. (Two fields, not an `Option`, which would take 8
    /// bytes and push the order past 96; see `ORDER_BYTES`.)
    pub client_id_value: u32,
    /// Whether the order has a client id.
    pub has_client_id: bool,
    /// Slot of the price level it rests in (within its book side).
    pub level: u32,
    /// Previous order in the level's FIFO (older), or NIL.
    pub level_prev: OrderIndex,
    /// Next order in the level's FIFO (newer), or NIL.
    pub level_next: OrderIndex,
    /// Next order in the same bucket of the order-id index, or NIL (see `order_ids`).
    pub bucket_next: OrderIndex,
    /// Market.
    pub market: MarketId,
    /// Side.
    pub side: Side,
    /// GTC always for a resting order, kept for the API.
    pub time_in_force: TimeInForce,
    /// STP mode given at placement.
    pub self_trade_prevention: SelfTradePrevention,
    /// postOnly flag.
    pub post_only: bool,
    /// What this order adds to the state hash, kept so removing it is one subtraction.
    pub hash: Contribution,
}

pub(super) const EMPTY_ORDER: Order = Order {
    id: OrderId(0),
    price: PriceTicks(0),
    quantity: QuantitySteps(0),
    remaining: QuantitySteps(0),
    executed_quote: 0,
    created_at_us: 0,
    account: AccountIndex(0),
    client_id_value: 0,
    has_client_id: false,
    level: LEVEL_NIL,
    level_prev: OrderIndex::NIL,
    level_next: OrderIndex::NIL,
    bucket_next: OrderIndex::NIL,
    market: MarketId(0),
    side: Side::Bid,
    time_in_force: TimeInForce::Gtc,
    self_trade_prevention: SelfTradePrevention::RejectTaker,
    post_only: false,
    hash: Contribution::ZERO,
};

/// An order's size: with its 32-byte alignment, every order spans exactly two cache lines (a
/// size such as 104 would put some across three).
const ORDER_BYTES: usize = 96;
const _: () = assert!(size_of::<Order>() == ORDER_BYTES && align_of::<Order>() == 32);

impl Order {
    /// The client id, if any.
    #[inline]
    pub fn client_id(&self) -> Option<ClientId> {
        self.has_client_id.then_some(ClientId(self.client_id_value))
    }
}

/// The slab of orders.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct OrderPool {
    orders: Vec<Order>,
    free: Vec<OrderIndex>,
}

impl OrderPool {
    /// Room for every order on the free list again, after a snapshot was read.
    pub fn restore_capacity(&mut self) {
        crate::fixed::reserve_total(&mut self.free, self.orders.len());
    }

    /// Allocates (and touches) room for `orders_max` orders.
    pub fn with_orders_max(orders_max: u32) -> OrderPool {
        let orders = vec![EMPTY_ORDER; orders_max as usize];
        // Hand out low indices first: theirs are the orders the factory already touched.
        let free = (0..orders_max).rev().map(OrderIndex).collect();
        OrderPool { orders, free }
    }

    /// Orders that can still be taken.
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    /// Orders taken and not given back.
    pub fn used_count(&self) -> usize {
        self.orders.len() - self.free.len()
    }

    /// Takes a free order's index; the caller fills the order in (the links are set when it is
    /// linked). The caller checked `free_count() > 0`.
    #[inline]
    pub fn take(&mut self) -> OrderIndex {
        self.free.pop().expect("order pool capacity is checked before matching")
    }

    /// Takes a free order's index and stores `order` there (tests build books this way).
    #[cfg(test)]
    pub fn take_with(&mut self, order: Order) -> OrderIndex {
        let index = self.take();
        self.orders[index.0 as usize] = order;
        index
    }

    /// Returns `index` to the free list.
    #[inline]
    pub fn give_back(&mut self, index: OrderIndex) {
        debug_assert!(self.free.len() < self.orders.len());
        self.orders[index.0 as usize].remaining = QuantitySteps(0);
        self.free.push(index);
    }

    /// The order at `index`.
    #[inline]
    pub fn get(&self, index: OrderIndex) -> &Order {
        &self.orders[index.0 as usize]
    }

    /// The order at `index`, mutably.
    #[inline]
    pub fn get_mut(&mut self, index: OrderIndex) -> &mut Order {
        &mut self.orders[index.0 as usize]
    }
}

/// The order-id index chains through the orders, so finding one reads the order it finds.
impl Links for OrderPool {
    #[inline(always)]
    fn id(&self, index: OrderIndex) -> u64 {
        self.orders[index.0 as usize].id.0
    }

    #[inline(always)]
    fn next(&self, index: OrderIndex) -> OrderIndex {
        self.orders[index.0 as usize].bucket_next
    }

    #[inline(always)]
    fn set_next(&mut self, index: OrderIndex, next: OrderIndex) {
        self.orders[index.0 as usize].bucket_next = next;
    }
}
