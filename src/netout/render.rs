//! The JSON bodies of every answer, exactly as API.md specifies them.
//!
//! - [`render_error`]: `{"code":"…","message":"…"}` for any [`ApiError`].
//! - [`render_read`]: the public endpoints and the history lists, from the [`View`].
//! - [`render_command`]: the answer to a command the matcher ran, from its events (plus the
//!   request's extras); a `Rejected` event becomes `Err(ApiError)`.
//! - [`streams`]: the WebSocket stream messages and error frames (API.md §9).
//!
//! Types follow API.md §1 and §11: decimals are strings at fixed scale (prices at the tick's,
//! base quantities at the step's, other amounts at the asset's decimals); order ids and
//! `lastUpdateId` are digit strings; trade ids, deposit and withdrawal ids numbers; `createdAt`
//! is ms in REST Order objects and naive ISO (`2025-01-21T06:34:54.691`, UTC, no `Z`) in the
//! history lists, deposits, withdrawals and fills.
//!
//! Every function appends to `out` and allocates nothing once `out` has the capacity; on `Err`
//! nothing has been written.

use super::json::JsonWriter;
use super::view::{
    DepositRecord, FillRecord, Kline, OrderRecord, Ticker, View, WithdrawalRecord, settled,
};
use crate::api::error::{ApiError, ErrorKind};
use crate::api::routes::{Method, Route};
use crate::config::{Config, MarketSpec};
use crate::constants::{DEPTH_LIMIT_MAX, KLINES_MAX, QUERY_LIMIT_DEFAULT, TRADES_LIMIT_MAX};
use crate::event::{Event, EventKind, OrderState, Transfer, TransferKind};
use crate::records::{Extras, HistoryFilter, ReadQuery, Reply};
use crate::types::{AccountKey, AssetId, MarketId, OrderStatus, OrderType, SequenceNumber, Side};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The `Content-Type` of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentType {
    /// `application/json; charset=utf-8`: every answer but two.
    Json,
    /// `text/plain`: `GET /api/v1/ping` and `/time`.
    Text,
    /// The Prometheus text format, version 0.0.4: `GET /metrics`.
    Prometheus,
}

impl ContentType {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Json => "application/json; charset=utf-8",
            ContentType::Text => "text/plain",
            ContentType::Prometheus => crate::metrics::text::CONTENT_TYPE,
        }
    }
}

/// Most records one history answer holds (`limit` above is clamped).
pub const HISTORY_LIMIT_MAX: u32 = 1_000;

/// The `createdAt` of markets: ringex has no listing dates, so one fixed date.
const MARKET_CREATED_AT: &[u8] = b"2025-01-01T00:00:00.000";

/// Order fields Backpack has and ringex never sets: always `null`.
const ORDER_NULL_FIELDS: [&str; 13] = [
    "reduceOnly",
    "relatedOrderId",
    "strategyId",
    "triggerPrice",
    "triggerQuantity",
    "triggerBy",
    "triggeredAt",
    "stopLossTriggerPrice",
    "stopLossLimitPrice",
    "stopLossTriggerBy",
    "takeProfitTriggerPrice",
    "takeProfitLimitPrice",
    "takeProfitTriggerBy",
];

// -------------------------------------------------------------------------------------------------
// Errors.

/// `{"code":"<CODE>","message":"<text>"}`.
pub fn render_error(out: &mut Vec<u8>, error: &ApiError) {
    let mut w = JsonWriter::new(out);
    w.begin_object();
    write_error_fields(&mut w, error);
    w.end_object();
}

/// One batch item verify (or the matcher) rejected:
/// `{"operation":"Err","code":"<CODE>","message":"<text>"}`.
pub fn render_batch_error_item(out: &mut Vec<u8>, error: &ApiError) {
    let mut w = JsonWriter::new(out);
    w.begin_object();
    w.key("operation").string(b"Err");
    write_error_fields(&mut w, error);
    w.end_object();
}

fn write_error_fields(w: &mut JsonWriter<'_>, error: &ApiError) {
    let (before, detail, after) = error.message_parts();
    w.key("code").string(error.code().as_str().as_bytes());
    w.key("message").string_parts(&[before.as_bytes(), detail, after.as_bytes()]);
}

// -------------------------------------------------------------------------------------------------
// Reads.

/// The answer to a read net-out serves from its view. `account` is the signer (zero for public
/// reads); `now_us` the server clock, for `GET /time`, tickers and the depth `timestamp`.
pub fn render_read(
    out: &mut Vec<u8>,
    view: &View,
    account: &AccountKey,
    query: &ReadQuery,
    now_us: u64,
) -> Result<ContentType, ApiError> {
    let config = &**view.config();
    check_markets(config, query)?;
    let mut w = JsonWriter::new(out);
    match *query {
        ReadQuery::WebSocket(_) | ReadQuery::Metrics => {
            unreachable!("net-out acts on WebSocket requests and renders metrics itself")
        }
        ReadQuery::Status => {
            w.begin_object().key("status").string(b"Ok").key("message").null().end_object();
        }
        ReadQuery::Ping => {
            w.raw(b"pong");
            return Ok(ContentType::Text);
        }
        ReadQuery::Time => {
            w.u64(now_us / 1_000);
            return Ok(ContentType::Text);
        }
        ReadQuery::Markets { matches } => {
            w.begin_array();
            if matches {
                config.markets.iter().for_each(|market| write_market(&mut w, config, market));
            }
            w.end_array();
        }
        ReadQuery::Market(market) => write_market(&mut w, config, config.market(market)),
        ReadQuery::Assets => write_assets(&mut w, config),
        ReadQuery::Ticker(market, window) => {
            write_ticker(&mut w, config, market, &view.ticker(market, window, now_us));
        }
        ReadQuery::Tickers(window) => {
            w.begin_array();
            for index in 0..config.markets.len() {
                let market = MarketId(index as u16);
                write_ticker(&mut w, config, market, &view.ticker(market, window, now_us));
            }
            w.end_array();
        }
        ReadQuery::Depth { market, limit } => write_depth(&mut w, view, market, limit, now_us),
        ReadQuery::Trades { market, limit, offset } => {
            write_trades(&mut w, view, market, limit, offset);
        }
        ReadQuery::Klines { market, interval, start_s, end_s } => {
            let spec = config.market(market);
            w.begin_array();
            view.for_each_kline(market, interval, start_s, end_s, KLINES_MAX, |kline| {
                write_kline(&mut w, config, spec, kline);
            });
            w.end_array();
        }
        ReadQuery::FillHistory(filter) => {
            w.begin_array();
            view.for_each_fill(account, &clamped(filter), |fill| write_fill(&mut w, config, fill));
            w.end_array();
        }
        ReadQuery::OrderHistory(filter) => {
            w.begin_array();
            view.for_each_order(account, &clamped(filter), |order| {
                write_order(&mut w, config, order, CreatedAt::Iso, false);
            });
            w.end_array();
        }
        ReadQuery::Withdrawals(filter) => {
            w.begin_array();
            view.for_each_withdrawal(account, &clamped(filter), |withdrawal| {
                w.begin_object();
                write_withdrawal_fields(&mut w, config, withdrawal);
                w.end_object();
            });
            w.end_array();
        }
        ReadQuery::Deposits(filter) => {
            w.begin_array();
            view.for_each_deposit(account, &clamped(filter), |deposit| {
                w.begin_object();
                write_deposit_fields(&mut w, config, deposit);
                w.end_object();
            });
            w.end_array();
        }
        ReadQuery::EmptyList => {
            w.begin_array().end_array();
        }
    }
    Ok(ContentType::Json)
}

/// A market id verify did not issue is a programmer error upstream; answer it as an unknown
/// symbol rather than index out of bounds.
fn check_markets(config: &Config, query: &ReadQuery) -> Result<(), ApiError> {
    let market = match *query {
        ReadQuery::Market(market)
        | ReadQuery::Ticker(market, _)
        | ReadQuery::Depth { market, .. }
        | ReadQuery::Trades { market, .. }
        | ReadQuery::Klines { market, .. } => Some(market),
        ReadQuery::FillHistory(filter)
        | ReadQuery::OrderHistory(filter)
        | ReadQuery::Withdrawals(filter)
        | ReadQuery::Deposits(filter) => filter.market,
        _ => None,
    };
    match market {
        Some(market) if market.0 as usize >= config.markets.len() => {
            Err(ApiError::new(ErrorKind::InvalidSymbol))
        }
        _ => Ok(()),
    }
}

/// `limit` 0 (absent) is the default 100; at most [`HISTORY_LIMIT_MAX`].
fn clamped(filter: HistoryFilter) -> HistoryFilter {
    let limit = match filter.limit {
        0 => QUERY_LIMIT_DEFAULT as u32,
        limit => limit.min(HISTORY_LIMIT_MAX),
    };
    HistoryFilter { limit, ..filter }
}

fn write_market(w: &mut JsonWriter<'_>, config: &Config, market: &MarketSpec) {
    let min_quantity_units = market.min_quantity_steps.0 * market.step.units;
    w.begin_object();
    w.key("symbol").string(market.symbol.as_bytes());
    w.key("baseSymbol").string(config.asset(market.base).symbol.as_bytes());
    w.key("quoteSymbol").string(config.asset(market.quote).symbol.as_bytes());
    w.key("marketType").string(b"SPOT");
    w.key("filters").begin_object();
    w.key("price").begin_object();
    w.key("minPrice").units(market.tick.units, market.tick.scale);
    w.key("maxPrice").null();
    w.key("tickSize").units(market.tick.units, market.tick.scale);
    w.end_object();
    w.key("quantity").begin_object();
    w.key("minQuantity").units(min_quantity_units, market.step.scale);
    w.key("maxQuantity").null();
    w.key("stepSize").units(market.step.units, market.step.scale);
    w.end_object();
    w.end_object();
    w.key("orderBookState").string(b"Open");
    w.key("visible").bool(true);
    w.key("createdAt").string(MARKET_CREATED_AT);
    w.end_object();
}

fn write_assets(w: &mut JsonWriter<'_>, config: &Config) {
    w.begin_array();
    for (index, asset) in config.assets.iter().enumerate() {
        w.begin_object();
        w.key("symbol").string(asset.symbol.as_bytes());
        w.key("displayName").string(asset.display_name.as_bytes());
        w.key("coingeckoId").null();
        w.key("tokens").begin_array().begin_object();
        w.key("blockchain").string(asset.blockchain.as_bytes());
        w.key("contractAddress").null();
        w.key("depositEnabled").bool(true);
        w.key("withdrawEnabled").bool(true);
        w.key("displayName").string(asset.display_name.as_bytes());
        w.key("minimumDeposit").string(b"0");
        w.key("minimumWithdrawal").string(b"0");
        w.key("maximumWithdrawal").null();
        w.key("withdrawalFee").amount(config, AssetId(index as u16), asset.withdrawal_fee_units);
        w.end_object().end_array();
        w.end_object();
    }
    w.end_array();
}

/// Decimals of `priceChangePercent` (a fraction: `0.003333` is 0.3333 %).
const PERCENT_SCALE: u32 = 6;

fn write_ticker(w: &mut JsonWriter<'_>, config: &Config, market: MarketId, ticker: &Ticker) {
    let spec = config.market(market);
    let stats = ticker.shown();
    let (first, last) = (stats.open, stats.close);
    let falling = last < first;
    let change_ticks = last.0.abs_diff(first.0);
    // Truncated toward zero; `first` is at least one tick whenever there were trades.
    let change_fraction = if first.0 == 0 {
        0
    } else {
        (u128::from(change_ticks) * 10u128.pow(PERCENT_SCALE) / u128::from(first.0)) as u64
    };
    let change_units = u128::from(change_ticks) * u128::from(spec.tick.units);
    w.begin_object();
    w.key("symbol").string(spec.symbol.as_bytes());
    w.key("firstPrice").price(spec, first);
    w.key("lastPrice").price(spec, last);
    w.key("priceChange").signed_units(falling, saturate(change_units), spec.tick.scale);
    w.key("priceChangePercent").signed_units(falling, change_fraction, PERCENT_SCALE);
    w.key("high").price(spec, stats.high);
    w.key("low").price(spec, stats.low);
    w.key("volume").quantity(spec, stats.volume);
    w.key("quoteVolume").amount(config, spec.quote, stats.quote);
    w.key("trades").u64_string(stats.trades);
    w.end_object();
}

fn saturate(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

fn write_depth(w: &mut JsonWriter<'_>, view: &View, market: MarketId, limit: u16, now_us: u64) {
    let spec = view.config().market(market);
    let limit = match limit as usize {
        0 => DEPTH_LIMIT_MAX,
        limit => limit.min(DEPTH_LIMIT_MAX),
    };
    let write_level = |w: &mut JsonWriter<'_>, level: &super::view::DepthLevel| {
        w.begin_array().price(spec, level.price).quantity(spec, level.quantity).end_array();
    };
    w.begin_object();
    // Both sides ascending by price: asks are held best (lowest) last, bids best (highest) last.
    w.key("asks").begin_array();
    view.best_levels(market, Side::Ask, limit).iter().rev().for_each(|level| write_level(w, level));
    w.end_array();
    w.key("bids").begin_array();
    view.best_levels(market, Side::Bid, limit).iter().for_each(|level| write_level(w, level));
    w.end_array();
    w.key("lastUpdateId").u64_string(view.update_id(market));
    w.key("timestamp").u64(now_us);
    w.end_object();
}

fn write_trades(w: &mut JsonWriter<'_>, view: &View, market: MarketId, limit: u16, offset: u32) {
    let config = &**view.config();
    let spec = config.market(market);
    let limit = match limit as usize {
        0 => QUERY_LIMIT_DEFAULT,
        limit => limit.min(TRADES_LIMIT_MAX),
    };
    w.begin_array();
    for trade in view.trades(market, limit, offset as usize) {
        w.begin_object();
        w.key("id").u64(trade.id);
        w.key("price").price(spec, trade.price);
        w.key("quantity").quantity(spec, trade.quantity);
        w.key("quoteQuantity").amount(config, spec.quote, trade.quote);
        w.key("timestamp").u64(trade.time_us / 1_000);
        w.key("isBuyerMaker").bool(trade.is_buyer_maker);
        w.end_object();
    }
    w.end_array();
}

fn write_kline(w: &mut JsonWriter<'_>, config: &Config, spec: &MarketSpec, kline: &Kline) {
    let stats = &kline.stats;
    w.begin_object();
    w.key("start").kline_time(kline.start_s);
    w.key("end").kline_time(kline.end_s);
    w.key("open").price(spec, stats.open);
    w.key("high").price(spec, stats.high);
    w.key("low").price(spec, stats.low);
    w.key("close").price(spec, stats.close);
    w.key("volume").quantity(spec, stats.volume);
    w.key("quoteVolume").amount(config, spec.quote, stats.quote);
    w.key("trades").u64_string(stats.trades);
    w.end_object();
}

fn write_fill(w: &mut JsonWriter<'_>, config: &Config, fill: &FillRecord) {
    let spec = config.market(fill.market);
    w.begin_object();
    w.key("tradeId").u64(fill.trade_id);
    w.key("orderId").u64_string(fill.order_id.0);
    w.key("clientId");
    match fill.client_id {
        Some(client_id) => w.u64_string(u64::from(client_id.0)),
        None => w.null(),
    };
    w.key("symbol").string(spec.symbol.as_bytes());
    w.key("side").string(fill.side.as_str().as_bytes());
    w.key("price").price(spec, fill.price);
    w.key("quantity").quantity(spec, fill.quantity);
    w.key("fee").amount(config, fill.fee_asset, fill.fee);
    w.key("feeSymbol").string(config.asset(fill.fee_asset).symbol.as_bytes());
    w.key("isMaker").bool(fill.is_maker);
    w.key("systemOrderType").null();
    w.key("timestamp").iso_ms(fill.time_us);
    w.end_object();
}

fn write_deposit_fields(w: &mut JsonWriter<'_>, config: &Config, deposit: &DepositRecord) {
    w.key("id").u64(u64::from(deposit.id));
    w.key("source").string(b"administrator");
    w.key("status").string(b"confirmed");
    w.key("symbol").string(config.asset(deposit.asset).symbol.as_bytes());
    w.key("quantity").amount(config, deposit.asset, deposit.amount);
    w.key("createdAt").iso_ms(deposit.time_us);
}

fn write_withdrawal_fields(w: &mut JsonWriter<'_>, config: &Config, record: &WithdrawalRecord) {
    let asset = config.asset(record.asset);
    w.key("id").u64(u64::from(record.id));
    w.key("blockchain");
    if record.internal {
        w.string(b"Internal")
    } else {
        w.string(asset.blockchain.as_bytes())
    };
    w.key("clientId");
    match record.extras.client_id() {
        Some(client_id) if !record.internal => w.string(client_id),
        _ => w.null(),
    };
    w.key("identifier").null();
    w.key("quantity").amount(config, record.asset, record.amount);
    w.key("fee").amount(config, record.asset, record.fee);
    w.key("symbol").string(asset.symbol.as_bytes());
    w.key("status").string(b"confirmed");
    w.key("subaccountId").null();
    w.key("toAddress");
    if record.internal {
        w.string(b"administrator")
    } else {
        w.string(record.extras.address())
    };
    w.key("transactionHash").null();
    w.key("createdAt").iso_ms(record.time_us);
    w.key("isInternal").bool(record.internal);
}

// -------------------------------------------------------------------------------------------------
// The Order object.

/// How an Order's `createdAt` is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CreatedAt {
    /// Unix ms (REST answers).
    Ms,
    /// Naive ISO (order history).
    Iso,
}

/// The Order object of API.md §6, tagged by `orderType`; `operation: "Ok"` for batch items.
fn write_order(
    w: &mut JsonWriter<'_>,
    config: &Config,
    record: &OrderRecord,
    created_at: CreatedAt,
    batch_item: bool,
) {
    let state = &record.state;
    let spec = config.market(state.market);
    debug_assert!(state.status != OrderStatus::Expired || record.expiry.is_some());
    w.begin_object();
    w.key("orderType").string(state.order_type.as_str().as_bytes());
    w.key("id").u64_string(state.order_id.0);
    w.key("clientId");
    match state.client_id {
        Some(client_id) => w.u64(u64::from(client_id.0)),
        None => w.null(),
    };
    w.key("symbol").string(spec.symbol.as_bytes());
    w.key("side").string(state.side.as_str().as_bytes());
    match state.order_type {
        OrderType::Limit => {
            w.key("price").price(spec, state.price);
            w.key("quantity").quantity(spec, state.quantity);
        }
        OrderType::Market => {
            // By quote: no base quantity; by quantity: no quote quantity.
            w.key("quantity");
            if state.quantity.0 == 0 {
                w.null()
            } else {
                w.quantity(spec, state.quantity)
            };
            w.key("quoteQuantity");
            if state.quote_quantity == 0 {
                w.null()
            } else {
                w.amount(config, spec.quote, state.quote_quantity)
            };
        }
    }
    w.key("executedQuantity").quantity(spec, state.executed_quantity);
    w.key("executedQuoteQuantity").amount(config, spec.quote, state.executed_quote);
    if state.order_type == OrderType::Limit {
        w.key("postOnly").bool(state.post_only);
    }
    w.key("timeInForce").string(state.time_in_force.as_str().as_bytes());
    w.key("selfTradePrevention").string(state.self_trade_prevention.as_str().as_bytes());
    w.key("status").string(state.status.as_str().as_bytes());
    w.key("expiryReason");
    match record.expiry {
        Some(reason) if state.status == OrderStatus::Expired => {
            w.string(reason.as_str().as_bytes())
        }
        _ => w.null(),
    };
    w.key("createdAt");
    match created_at {
        CreatedAt::Ms => w.u64(state.created_at_us / 1_000),
        CreatedAt::Iso => w.iso_ms(state.created_at_us),
    };
    for key in ORDER_NULL_FIELDS {
        w.key(key).null();
    }
    if batch_item {
        w.key("operation").string(b"Ok");
    }
    w.end_object();
}

// -------------------------------------------------------------------------------------------------
// Commands.

/// Everything about one finished command that its answer depends on.
#[derive(Clone, Copy, Debug)]
pub struct CommandAnswer<'a> {
    /// Route, method and batch position.
    pub reply: &'a Reply,
    /// The signer, or the administrator's target account.
    pub account: &'a AccountKey,
    /// The command's sequence number (0 for queries).
    pub sequence: SequenceNumber,
    /// The command's events, in order.
    pub events: &'a [Event],
    /// The request's extras (withdrawal address and client id).
    pub extras: &'a Extras,
    /// The last sequence number covered by `fdatasync` (admin state query).
    pub durable_sequence: SequenceNumber,
}

/// The answer to a command the matcher ran. A `Rejected` event is `Err` (nothing written) —
/// except in a batch (`reply.items > 0`), where it is the item's `{"operation":"Err",…}`. For a
/// batch this writes ONE array element; the caller writes `[`, the commas and `]`.
pub fn render_command(
    out: &mut Vec<u8>,
    config: &Config,
    answer: &CommandAnswer<'_>,
) -> Result<(), ApiError> {
    let reply = answer.reply;
    let batch_item = reply.items > 0;
    if let Some(error) = rejection(answer.events) {
        if batch_item {
            render_batch_error_item(out, &error);
            return Ok(());
        }
        return Err(error);
    }
    let mut w = JsonWriter::new(out);
    let mut orders = answer.events.iter().filter_map(|event| order_of(event, answer.sequence));
    match (reply.route, reply.method) {
        (Route::Order | Route::Orders, Method::Post) => {
            let record = placed_order(answer.events, answer.sequence).ok_or_else(server_error)?;
            write_order(&mut w, config, &record, CreatedAt::Ms, batch_item);
        }
        (Route::Order, Method::Delete | Method::Get) => {
            let record = orders.next().ok_or_else(server_error)?;
            write_order(&mut w, config, &record, CreatedAt::Ms, false);
        }
        (Route::Orders, Method::Delete | Method::Get) => {
            w.begin_array();
            orders.for_each(|record| write_order(&mut w, config, &record, CreatedAt::Ms, false));
            w.end_array();
        }
        (Route::Capital, Method::Get) => write_balances(&mut w, config, answer.events),
        (Route::Withdrawals | Route::AdminDeposit | Route::AdminWithdraw, Method::Post) => {
            let (transfer, time_us) = transfer_of(answer.events).ok_or_else(server_error)?;
            write_transfer(&mut w, config, answer, &transfer, time_us);
        }
        (Route::AdminFreeze | Route::AdminUnfreeze, Method::Post) => {
            let frozen = answer.events.iter().find_map(|event| match event.kind {
                EventKind::FreezeChanged { frozen, .. } => Some(frozen),
                _ => None,
            });
            let frozen = frozen.ok_or_else(server_error)?;
            w.begin_object();
            w.key("account").plain_string(&base64_key(answer.account));
            w.key("frozen").bool(frozen);
            w.end_object();
        }
        (Route::AdminState, Method::Get) | (Route::AdminSnapshot, Method::Post) => {
            write_state(&mut w, config, answer.events, answer.durable_sequence)?;
        }
        _ => return Err(server_error()),
    }
    Ok(())
}

fn server_error() -> ApiError {
    ApiError::new(ErrorKind::ServerError)
}

fn rejection(events: &[Event]) -> Option<ApiError> {
    events.iter().find_map(|event| match event.kind {
        EventKind::Rejected { reason, client_id } => Some(ApiError::from_reject(reason, client_id)),
        _ => None,
    })
}

/// The order a cancel or a query names (cancels and snapshots; never the command's own order).
fn order_of(event: &Event, sequence: SequenceNumber) -> Option<OrderRecord> {
    match event.kind {
        EventKind::OrderCancelled(state) | EventKind::OrderSnapshot(state) => {
            debug_assert_ne!(state.order_id.0, sequence.0);
            Some(OrderRecord { state, expiry: None })
        }
        _ => None,
    }
}

/// The placed order's final state: its last event in the command (`OrderAccepted`, its own
/// `OrderFill`s, `OrderExpired`), settled as the view settles it.
pub fn placed_order(events: &[Event], sequence: SequenceNumber) -> Option<OrderRecord> {
    let own = |state: &OrderState| state.order_id.0 == sequence.0;
    let last = events.iter().rev().find_map(|event| match event.kind {
        EventKind::OrderAccepted(state) if own(&state) => Some(OrderRecord { state, expiry: None }),
        EventKind::OrderFill(fill) if own(&fill.order) => {
            Some(OrderRecord { state: fill.order, expiry: None })
        }
        EventKind::OrderExpired { order, reason } if own(&order) => {
            Some(OrderRecord { state: order, expiry: Some(reason) })
        }
        _ => None,
    })?;
    Some(settled(last))
}

fn transfer_of(events: &[Event]) -> Option<(Transfer, u64)> {
    events.iter().find_map(|event| match event.kind {
        EventKind::Transfer(transfer) => Some((transfer, event.time_us)),
        _ => None,
    })
}

fn write_balances(w: &mut JsonWriter<'_>, config: &Config, events: &[Event]) {
    w.begin_object();
    for event in events {
        if let EventKind::Balance { asset, available, locked, .. } = event.kind {
            w.key(&config.asset(asset).symbol);
            write_balance(w, config, asset, available, locked);
        }
    }
    w.end_object();
}

fn write_balance(
    w: &mut JsonWriter<'_>,
    config: &Config,
    asset: AssetId,
    available: u64,
    locked: u64,
) {
    w.begin_object();
    w.key("available").amount(config, asset, available);
    w.key("locked").amount(config, asset, locked);
    w.key("staked").string(b"0");
    w.end_object();
}

/// A user withdrawal's record; an administrator deposit's or withdrawal's record plus `account`
/// and `balance`.
fn write_transfer(
    w: &mut JsonWriter<'_>,
    config: &Config,
    answer: &CommandAnswer<'_>,
    transfer: &Transfer,
    time_us: u64,
) {
    w.begin_object();
    match transfer.kind {
        TransferKind::Deposit => {
            write_deposit_fields(w, config, &DepositRecord::of(transfer, time_us));
        }
        TransferKind::AdminWithdrawal | TransferKind::Withdrawal => {
            let record = WithdrawalRecord::of(transfer, time_us, *answer.extras);
            write_withdrawal_fields(w, config, &record);
        }
    }
    if transfer.kind != TransferKind::Withdrawal {
        w.key("account").plain_string(&base64_key(answer.account));
        w.key("balance");
        write_balance(w, config, transfer.asset, transfer.available, transfer.locked);
    }
    w.end_object();
}

fn write_state(
    w: &mut JsonWriter<'_>,
    config: &Config,
    events: &[Event],
    durable_sequence: SequenceNumber,
) -> Result<(), ApiError> {
    let (sequence, state_hash, accounts, open_orders) = events
        .iter()
        .find_map(|event| match event.kind {
            EventKind::StateSummary { sequence, state_hash, accounts, open_orders } => {
                Some((sequence, state_hash, accounts, open_orders))
            }
            _ => None,
        })
        .ok_or_else(server_error)?;
    w.begin_object();
    w.key("sequence").u64(sequence.0);
    w.key("durableSequence").u64(durable_sequence.0);
    w.key("stateHash").plain_string(&hex_u128(state_hash));
    w.key("accounts").u64(u64::from(accounts));
    w.key("openOrders").u64(u64::from(open_orders));
    w.key("totals").begin_object();
    for event in events {
        if let EventKind::AssetTotals { asset, available, locked, deposited, withdrawn, fees } =
            event.kind
        {
            w.key(&config.asset(asset).symbol).begin_object();
            w.key("available").amount(config, asset, available);
            w.key("locked").amount(config, asset, locked);
            w.key("deposited").amount(config, asset, deposited);
            w.key("withdrawn").amount(config, asset, withdrawn);
            w.key("fees").amount(config, asset, fees);
            w.end_object();
        }
    }
    w.end_object();
    w.end_object();
    Ok(())
}

/// 32 lowercase hex digits, as `ringex replay` prints the state hash (`{:032x}`).
fn hex_u128(value: u128) -> [u8; 32] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 32];
    for (index, digit) in text.iter_mut().enumerate() {
        *digit = HEX[((value >> (4 * (31 - index))) & 0xf) as usize];
    }
    text
}

/// An account key as the API names it: padded standard base64, 44 characters.
fn base64_key(key: &AccountKey) -> [u8; 44] {
    let mut text = [0u8; 44];
    let length = BASE64.encode_slice(key.0, &mut text).expect("32 bytes encode to 44");
    debug_assert_eq!(length, 44);
    text
}

pub mod streams;

#[cfg(test)]
mod tests;
