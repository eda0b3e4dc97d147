//! The vocabulary of engine tests (the embedded default configuration's ids, three accounts,
//! order builders), shared by the matcher's tests and net-out's.

use crate::command::PlaceOrder;
use crate::types::{
    AccountKey, AssetId, MarketId, OrderType, PriceTicks, QuantitySteps, SelfTradePrevention, Side,
    TimeInForce,
};

pub const USDC: AssetId = AssetId(0);
pub const SOL: AssetId = AssetId(1);
pub const SOL_USDC: MarketId = MarketId(0);
pub const BTC_USDC: MarketId = MarketId(1);

pub const ALICE: u8 = 1;
pub const BOB: u8 = 2;
pub const CAROL: u8 = 3;

/// The key of test account `name`.
pub fn key(name: u8) -> AccountKey {
    AccountKey([name; 32])
}

/// A GTC limit order on SOL_USDC (self-trade prevention RejectTaker).
pub fn limit(side: Side, price_ticks: u64, quantity_steps: u64) -> PlaceOrder {
    PlaceOrder {
        market: SOL_USDC,
        side,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Gtc,
        self_trade_prevention: SelfTradePrevention::RejectTaker,
        post_only: false,
        client_id: None,
        price: PriceTicks(price_ticks),
        quantity: QuantitySteps(quantity_steps),
        quote_quantity: 0,
    }
}

/// A market order on SOL_USDC by quantity (`quote_units` 0) or by quote.
pub fn market(side: Side, quantity_steps: u64, quote_units: u64) -> PlaceOrder {
    PlaceOrder {
        order_type: OrderType::Market,
        price: PriceTicks(0),
        quote_quantity: quote_units,
        ..limit(side, 0, quantity_steps)
    }
}
