//! The event record: every consequence of a command, as the matcher emits it onto ring C.
//!
//! Events are fixed-size `Copy` records carrying everything net-out needs to answer the request
//! and feed the WebSocket streams without asking the matcher again: order events carry the order's
//! full state after the event, fills carry both sides of the trade, transfers carry the balance
//! after. Balance movements caused by fills are implied by the fill (price, quantity, fee); every
//! other balance change has its own event.
//!
//! Events of one command are contiguous and in the order the API promises: `OrderAccepted`, then
//! per trade the maker's `OrderFill` before the taker's, then `OrderExpired` if a remainder ends.

use crate::types::{
    AccountIndex, AccountKey, AssetId, ClientId, ExpiryReason, MarketId, OrderId, OrderStatus,
    OrderType, PriceTicks, QuantitySteps, RejectReason, SelfTradePrevention, SequenceNumber, Side,
    TimeInForce,
};

/// One consequence of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The command's sequence number (0 for queries and rejections of them).
    pub sequence: SequenceNumber,
    /// The command's engine time, Unix microseconds.
    pub time_us: u64,
    /// What happened.
    pub kind: EventKind,
}

/// An order's complete state after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OrderState {
    /// Exchange id: the placing command's sequence number.
    pub order_id: OrderId,
    /// Owner.
    pub account: AccountIndex,
    /// Market.
    pub market: MarketId,
    /// Side.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// Time in force as given.
    pub time_in_force: TimeInForce,
    /// Self-trade prevention mode.
    pub self_trade_prevention: SelfTradePrevention,
    /// postOnly flag (Limit).
    pub post_only: bool,
    /// Status after this event.
    pub status: OrderStatus,
    /// Client id if one was given.
    pub client_id: Option<ClientId>,
    /// Limit price; zero for market orders.
    pub price: PriceTicks,
    /// Requested base quantity; zero for a market order by quote.
    pub quantity: QuantitySteps,
    /// Requested quote quantity (market by quote); zero otherwise.
    pub quote_quantity: u64,
    /// Base filled so far.
    pub executed_quantity: QuantitySteps,
    /// Quote filled so far, in quote units.
    pub executed_quote: u64,
    /// Engine time of placement, Unix microseconds.
    pub created_at_us: u64,
}

/// One side's view of one trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// This side's order after the fill.
    pub order: OrderState,
    /// Trade id, per market from 1.
    pub trade_id: u64,
    /// Trade price (the maker's price).
    pub price: PriceTicks,
    /// Base traded.
    pub quantity: QuantitySteps,
    /// Quote traded, in quote units (`price × quantity`, exact).
    pub quote: u64,
    /// Fee charged to this side, in units of `fee_asset` (the asset it received).
    pub fee: u64,
    /// The asset the fee is in.
    pub fee_asset: AssetId,
    /// Whether this side's order was resting.
    pub is_maker: bool,
    /// The other side's order id.
    pub counterparty: OrderId,
}

/// Which kind of transfer a [`Transfer`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferKind {
    /// Administrator deposit.
    Deposit,
    /// Administrator withdrawal (no fee, shown as internal).
    AdminWithdrawal,
    /// The account's own withdrawal (fee to the fee account).
    Withdrawal,
}

/// A deposit or withdrawal and the balance it left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Deposit or withdrawal.
    pub kind: TransferKind,
    /// Deposit id or withdrawal id, per kind from 1.
    pub id: u32,
    /// Account credited or debited.
    pub account: AccountIndex,
    /// Asset.
    pub asset: AssetId,
    /// Units credited, or sent out.
    pub amount: u64,
    /// Fee units paid on top (user withdrawals).
    pub fee: u64,
    /// Available after.
    pub available: u64,
    /// Locked after.
    pub locked: u64,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A key got its account index (first deposit).
    AccountCreated {
        /// The new index.
        account: AccountIndex,
        /// Its key.
        key: AccountKey,
    },
    /// An order was accepted (status `New`).
    OrderAccepted(OrderState),
    /// An order traded.
    OrderFill(Fill),
    /// An order was cancelled by its owner.
    OrderCancelled(OrderState),
    /// The engine ended an order.
    OrderExpired {
        /// The order after expiry.
        order: OrderState,
        /// Why.
        reason: ExpiryReason,
    },
    /// The command was rejected and changed nothing.
    Rejected {
        /// Why.
        reason: RejectReason,
        /// The offending client id for [`RejectReason::DuplicateClientId`], else 0.
        client_id: u32,
    },
    /// A deposit or withdrawal.
    Transfer(Transfer),
    /// An account was frozen or unfrozen.
    FreezeChanged {
        /// Which account.
        account: AccountIndex,
        /// Frozen after.
        frozen: bool,
    },
    /// Query answer: one asset of the account (every configured asset, in order).
    Balance {
        /// Which account.
        account: AccountIndex,
        /// Which asset.
        asset: AssetId,
        /// Available units.
        available: u64,
        /// Locked units.
        locked: u64,
    },
    /// Query answer: one open order.
    OrderSnapshot(OrderState),
    /// Query answer: the engine summary, followed by one `AssetTotals` per asset.
    StateSummary {
        /// Last sequence applied.
        sequence: SequenceNumber,
        /// The state hash as `ringex replay` prints it.
        state_hash: u128,
        /// Accounts, the fee account excluded.
        accounts: u32,
        /// Open orders on all books.
        open_orders: u32,
    },
    /// Query answer: per-asset totals.
    AssetTotals {
        /// Asset.
        asset: AssetId,
        /// Sum of available over all accounts, fee account included.
        available: u64,
        /// Sum of locked.
        locked: u64,
        /// Ever deposited.
        deposited: u64,
        /// Ever withdrawn (fees of user withdrawals excluded: they stay in the fee account).
        withdrawn: u64,
        /// The fee account's balance.
        fees: u64,
    },
}

/// Where the matcher writes events. The pipeline writes them to ring C; tests and benches collect
/// them. The matcher never allocates through a sink: `push` must not either in steady state.
pub trait EventSink {
    /// Takes one event.
    fn push(&mut self, event: Event);
}

impl EventSink for Vec<Event> {
    fn push(&mut self, event: Event) {
        Vec::push(self, event);
    }
}

/// A sink that only counts, for benchmarks that measure the matcher alone.
#[derive(Default, Debug)]
pub struct CountingSink {
    /// Events seen.
    pub events: u64,
}

impl EventSink for CountingSink {
    #[inline]
    fn push(&mut self, event: Event) {
        std::hint::black_box(&event);
        self.events += 1;
    }
}
