//! From a route and its parameters to typed work: commands for the matcher or reads for net-out.
//!
//! The leaves of the verify stage after the signature: every field is checked here, at the edge,
//! once. Unknown body fields are errors (`Unknown field`), unknown query parameters are ignored
//! (they were signed anyway). Decimal strings become ticks, steps and units exactly or the request
//! is refused with the INVALID_PRICE / INVALID_QUANTITY message that names the problem.

use super::json::{FlatObject, ValueKind};
use super::signing::DecodedQuery;
use crate::api::error::{ApiError, ErrorKind};
use crate::api::routes::{Method, Route};
use crate::command::{Action, Command, OrderRef, PlaceOrder};
use crate::config::{Config, PriceError, QuantityError};
use crate::constants::{
    ADDRESS_MAX, BATCH_ORDERS_MAX, DEPTH_LIMIT_MAX, KLINES_MAX, QUERY_LIMIT_DEFAULT,
    TRADES_LIMIT_MAX, WITHDRAWAL_CLIENT_ID_MAX,
};
use crate::records::{BatchItem, Extras, HistoryFilter, KlineInterval, ReadQuery, TickerWindow};
use crate::types::{
    AccountKey, AssetId, ClientId, MarketId, OrderId, OrderType, PriceTicks, QuantitySteps,
    SelfTradePrevention, SequenceNumber, Side, TimeInForce,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A request body after JSON parsing.
#[derive(Clone, Copy)]
pub enum Body<'a, 'b> {
    /// No body (or one that is ignored: GET).
    None,
    /// One flat object.
    Object(&'b FlatObject<'a>),
    /// An array of flat objects (batch).
    Array(&'b [FlatObject<'a>]),
}

/// What a request asks for once its fields are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// `items[..count]` hold commands (or per-item errors in a batch).
    Commands(usize),
    /// A read for net-out.
    Read(ReadQuery),
}

/// Where a field's value came from.
trait Fields {
    fn field(&self, key: &[u8]) -> Option<(&[u8], ValueKind)>;
}

impl Fields for FlatObject<'_> {
    fn field(&self, key: &[u8]) -> Option<(&[u8], ValueKind)> {
        self.get(key).map(|field| (field.value, field.kind))
    }
}

impl Fields for DecodedQuery {
    fn field(&self, key: &[u8]) -> Option<(&[u8], ValueKind)> {
        self.get(key).map(|value| (value, ValueKind::String))
    }
}

fn missing(key: &str) -> ApiError {
    ApiError::with_detail(ErrorKind::MissingField, key.as_bytes())
}

fn invalid(key: &str) -> ApiError {
    ApiError::with_detail(ErrorKind::InvalidValue, key.as_bytes())
}

fn text<'f>(fields: &'f impl Fields, key: &str) -> Option<&'f [u8]> {
    fields.field(key.as_bytes()).map(|(value, _)| value)
}

fn required<'f>(fields: &'f impl Fields, key: &str) -> Result<&'f [u8], ApiError> {
    text(fields, key).ok_or_else(|| missing(key))
}

/// A plain unsigned integer, as a JSON number or a digit string.
fn unsigned(fields: &impl Fields, key: &str) -> Result<Option<u64>, ApiError> {
    let Some((value, kind)) = fields.field(key.as_bytes()) else {
        return Ok(None);
    };
    if kind == ValueKind::Bool {
        return Err(invalid(key));
    }
    parse_u64(value).map(Some).ok_or_else(|| invalid(key))
}

fn boolean(fields: &impl Fields, key: &str) -> Result<Option<bool>, ApiError> {
    match text(fields, key) {
        None => Ok(None),
        Some(b"true") => Ok(Some(true)),
        Some(b"false") => Ok(Some(false)),
        Some(_) => Err(invalid(key)),
    }
}

fn one_of<T: Copy>(
    fields: &impl Fields,
    key: &str,
    choices: &[(&[u8], T)],
) -> Result<Option<T>, ApiError> {
    match text(fields, key) {
        None => Ok(None),
        Some(value) => choices
            .iter()
            .find(|(name, _)| *name == value)
            .map(|(_, choice)| Some(*choice))
            .ok_or_else(|| invalid(key)),
    }
}

fn market(config: &Config, fields: &impl Fields) -> Result<MarketId, ApiError> {
    let symbol = required(fields, "symbol")?;
    config.market_by_symbol(symbol).ok_or(ApiError::new(ErrorKind::InvalidSymbol))
}

fn optional_market(config: &Config, fields: &impl Fields) -> Result<Option<MarketId>, ApiError> {
    match text(fields, "symbol") {
        None => Ok(None),
        Some(symbol) => {
            config.market_by_symbol(symbol).map(Some).ok_or(ApiError::new(ErrorKind::InvalidSymbol))
        }
    }
}

fn price_error(error: PriceError) -> ApiError {
    ApiError::new(match error {
        PriceError::Malformed => ErrorKind::InvalidPrice,
        PriceError::TooManyDecimals => ErrorKind::PriceDecimalTooLong,
        PriceError::NotMultipleOfTick => ErrorKind::PriceNotMultipleOfTick,
        PriceError::OutOfBounds => ErrorKind::PriceOutOfBounds,
    })
}

fn quantity_error(error: QuantityError) -> ApiError {
    ApiError::new(match error {
        QuantityError::Malformed => ErrorKind::InvalidQuantity,
        QuantityError::TooManyDecimals => ErrorKind::QuantityDecimalTooLong,
        QuantityError::NotMultipleOfStep => ErrorKind::QuantityNotMultipleOfStep,
        QuantityError::BelowMinimum => ErrorKind::QuantityBelowMinimum,
        QuantityError::OutOfBounds => ErrorKind::QuantityOutOfBounds,
    })
}

/// Refuses any body key not in `allowed`, naming unsupported features specially.
fn check_keys(object: &FlatObject<'_>, allowed: &[&str]) -> Result<(), ApiError> {
    for field in object.fields() {
        if allowed.iter().any(|key| key.as_bytes() == field.key) {
            continue;
        }
        let unsupported_when_true =
            [&b"reduceOnly"[..], b"autoLend", b"autoLendRedeem", b"autoBorrow", b"autoBorrowRepay"];
        if unsupported_when_true.contains(&field.key) {
            if field.value == b"false" {
                continue;
            }
            return Err(ApiError::with_detail(ErrorKind::FieldNotSupported, field.key));
        }
        let unsupported_prefixes =
            [&b"trigger"[..], b"stopLoss", b"takeProfit", b"slippageTolerance"];
        if unsupported_prefixes.iter().any(|prefix| field.key.starts_with(prefix)) {
            return Err(ApiError::with_detail(ErrorKind::FieldNotSupported, field.key));
        }
        return Err(ApiError::with_detail(ErrorKind::UnknownField, field.key));
    }
    Ok(())
}

const ORDER_KEYS: &[&str] = &[
    "symbol",
    "side",
    "orderType",
    "price",
    "quantity",
    "quoteQuantity",
    "timeInForce",
    "postOnly",
    "selfTradePrevention",
    "clientId",
    "brokerId",
];

/// Parses one order (`POST /api/v1/order` or a batch item).
pub fn parse_order(config: &Config, object: &FlatObject<'_>) -> Result<PlaceOrder, ApiError> {
    check_keys(object, ORDER_KEYS)?;
    let market = market(config, object)?;
    let spec = config.market(market);
    let side = one_of(object, "side", &[(b"Bid", Side::Bid), (b"Ask", Side::Ask)])?
        .ok_or_else(|| missing("side"))?;
    let order_type = one_of(
        object,
        "orderType",
        &[(b"Limit", OrderType::Limit), (b"Market", OrderType::Market)],
    )?
    .ok_or_else(|| missing("orderType"))?;
    let time_in_force = one_of(
        object,
        "timeInForce",
        &[(b"GTC", TimeInForce::Gtc), (b"IOC", TimeInForce::Ioc), (b"FOK", TimeInForce::Fok)],
    )?
    .unwrap_or(TimeInForce::Gtc);
    let self_trade_prevention = one_of(
        object,
        "selfTradePrevention",
        &[
            (b"RejectTaker", SelfTradePrevention::RejectTaker),
            (b"RejectMaker", SelfTradePrevention::RejectMaker),
            (b"RejectBoth", SelfTradePrevention::RejectBoth),
            (b"Allow", SelfTradePrevention::Allow),
        ],
    )?
    .unwrap_or(SelfTradePrevention::RejectTaker);
    let post_only = boolean(object, "postOnly")?.unwrap_or(false);
    let client_id = match unsigned(object, "clientId")? {
        None => None,
        Some(value) => Some(ClientId(u32::try_from(value).map_err(|_| invalid("clientId"))?)),
    };
    let quantity = text(object, "quantity")
        .map(|value| spec.parse_quantity(value).map_err(quantity_error))
        .transpose()?;
    let mut place = PlaceOrder {
        market,
        side,
        order_type,
        time_in_force,
        self_trade_prevention,
        post_only,
        client_id,
        price: PriceTicks(0),
        quantity: quantity.unwrap_or(QuantitySteps(0)),
        quote_quantity: 0,
    };
    match order_type {
        OrderType::Limit => {
            if text(object, "quoteQuantity").is_some() {
                return Err(invalid("quoteQuantity"));
            }
            if post_only && time_in_force != TimeInForce::Gtc {
                return Err(invalid("postOnly"));
            }
            place.price = spec.parse_price(required(object, "price")?).map_err(price_error)?;
            if quantity.is_none() {
                return Err(missing("quantity"));
            }
        }
        OrderType::Market => {
            if text(object, "price").is_some() {
                return Err(invalid("price"));
            }
            if post_only {
                return Err(invalid("postOnly"));
            }
            match (quantity, text(object, "quoteQuantity")) {
                (Some(_), None) => {}
                (None, Some(quote)) => {
                    if time_in_force == TimeInForce::Fok {
                        return Err(invalid("timeInForce"));
                    }
                    let units = config.parse_amount(spec.quote, quote).map_err(quantity_error)?;
                    if units == 0 {
                        return Err(ApiError::new(ErrorKind::QuantityBelowMinimum));
                    }
                    place.quote_quantity = units;
                }
                (Some(_), Some(_)) => return Err(invalid("quoteQuantity")),
                (None, None) => return Err(missing("quantity")),
            }
        }
    }
    Ok(place)
}

fn order_ref(fields: &impl Fields) -> Result<OrderRef, ApiError> {
    let order_id = unsigned(fields, "orderId")?;
    let client_id = unsigned(fields, "clientId")?;
    match (order_id, client_id) {
        (Some(order_id), None) => Ok(OrderRef::Id(OrderId(order_id))),
        (None, Some(client_id)) => Ok(OrderRef::Client(ClientId(
            u32::try_from(client_id).map_err(|_| invalid("clientId"))?,
        ))),
        _ => Err(ApiError::new(ErrorKind::ClientIdOrOrderId)),
    }
}

/// A bounded count parameter (`limit`), defaulting when absent.
fn limit(fields: &impl Fields, default: usize, maximum: usize) -> Result<u32, ApiError> {
    match unsigned(fields, "limit")? {
        None => Ok(default as u32),
        Some(0) => Err(invalid("limit")),
        Some(value) if value as usize > maximum => Err(invalid("limit")),
        Some(value) => Ok(value as u32),
    }
}

fn offset(fields: &impl Fields) -> Result<u32, ApiError> {
    unsigned(fields, "offset")?
        .map_or(Ok(0), |value| u32::try_from(value).map_err(|_| invalid("offset")))
}

/// Whether a `marketType` filter matches spot markets (absent or `SPOT`).
fn spot_matches(fields: &impl Fields, key: &str) -> bool {
    text(fields, key).is_none_or(|value| value == b"SPOT")
}

fn account_key(fields: &impl Fields) -> Result<AccountKey, ApiError> {
    let value = required(fields, "account")?;
    decode_key(value).ok_or_else(|| invalid("account"))
}

/// A 44-character padded standard base64 encoding of 32 bytes.
pub fn decode_key(text: &[u8]) -> Option<AccountKey> {
    if text.len() != 44 {
        return None;
    }
    let mut key = [0u8; 32];
    match STANDARD.decode_slice(text, &mut key) {
        Ok(32) => Some(AccountKey(key)),
        _ => None,
    }
}

fn command(account: AccountKey, action: Action) -> Command {
    Command { sequence: SequenceNumber(0), time_us: 0, account, action }
}

/// Everything a request's parsing needs besides the request.
pub struct RequestContext<'c> {
    /// Assets and markets.
    pub config: &'c Config,
    /// Server clock, Unix ms (for defaults such as the klines `endTime`).
    pub now_ms: u64,
}

/// A request as verify sees it after framing, JSON and signature checks.
#[derive(Clone, Copy)]
pub struct Request<'q, 'a, 'b> {
    /// The path.
    pub route: Route,
    /// The method.
    pub method: Method,
    /// Decoded query parameters.
    pub query: &'q DecodedQuery,
    /// The parsed body.
    pub body: Body<'a, 'b>,
    /// The signer (zero for public requests).
    pub account: AccountKey,
}

/// Parses a request whose signature (if any) is already checked. Writes commands into `items`
/// and withdrawal extras into `extras`.
pub fn parse(
    context: &RequestContext<'_>,
    request: Request<'_, '_, '_>,
    items: &mut [BatchItem; BATCH_ORDERS_MAX],
    extras: &mut Extras,
) -> Result<Parsed, ApiError> {
    let Request { route, method, query, body, account } = request;
    // The slot is reused: whatever an earlier request left in its extras (a withdrawal address, a
    // clientId, a WebSocket key) must not ride along in this command's journal record.
    *extras = Extras::default();
    let config = context.config;
    let empty = FlatObject::default();
    let object = match body {
        Body::Object(object) => object,
        _ => &empty,
    };
    let single = |items: &mut [BatchItem; BATCH_ORDERS_MAX], action| {
        items[0] = Ok(command(account, action));
        Ok(Parsed::Commands(1))
    };
    match (route, method) {
        (Route::Order, Method::Post) => {
            let place = parse_order(config, object)?;
            single(items, Action::Place(place))
        }
        (Route::Orders, Method::Post) => {
            let Body::Array(orders) = body else {
                return Err(ApiError::new(ErrorKind::InvalidJsonBody));
            };
            for (slot, order) in items.iter_mut().zip(orders) {
                *slot =
                    parse_order(config, order).map(|place| command(account, Action::Place(place)));
            }
            Ok(Parsed::Commands(orders.len()))
        }
        (Route::Order, Method::Delete) => {
            check_keys(object, &["symbol", "orderId", "clientId"])?;
            let market = market(config, object)?;
            single(items, Action::Cancel { market, target: order_ref(object)? })
        }
        (Route::Orders, Method::Delete) => {
            check_keys(object, &["symbol", "orderType"])?;
            let market = market(config, object)?;
            match text(object, "orderType") {
                None | Some(b"RestingLimitOrder") => single(items, Action::CancelAll { market }),
                Some(b"ConditionalOrder") => Ok(Parsed::Read(ReadQuery::EmptyList)),
                Some(_) => Err(invalid("orderType")),
            }
        }
        (Route::Order, Method::Get) => {
            let market = market(config, query)?;
            single(items, Action::QueryOrder { market, target: order_ref(query)? })
        }
        (Route::Orders, Method::Get) => {
            let market = optional_market(config, query)?;
            if !spot_matches(query, "marketType") {
                return Ok(Parsed::Read(ReadQuery::EmptyList));
            }
            single(items, Action::QueryOpenOrders { market })
        }
        (Route::Capital, Method::Get) => single(items, Action::QueryBalances),
        (Route::Withdrawals, Method::Post) => {
            parse_withdrawal(config, object, account, items, extras)
        }
        (Route::AdminDeposit | Route::AdminWithdraw, Method::Post) => {
            check_keys(object, &["account", "symbol", "quantity"])?;
            let target = account_key(object)?;
            let asset = config
                .asset_by_symbol(required(object, "symbol")?)
                .ok_or(ApiError::new(ErrorKind::InvalidAsset))?;
            let amount = positive_amount(config, asset, required(object, "quantity")?)?;
            let action = match route {
                Route::AdminDeposit => Action::Deposit { asset, amount },
                _ => Action::AdminWithdraw { asset, amount },
            };
            items[0] = Ok(command(target, action));
            Ok(Parsed::Commands(1))
        }
        (Route::AdminFreeze | Route::AdminUnfreeze, Method::Post) => {
            check_keys(object, &["account"])?;
            let target = account_key(object)?;
            let action =
                if route == Route::AdminFreeze { Action::Freeze } else { Action::Unfreeze };
            items[0] = Ok(command(target, action));
            Ok(Parsed::Commands(1))
        }
        (Route::AdminState, Method::Get) => single(items, Action::QueryState),
        // The snapshot thread does the work (net-out hands it the request); the answer is the
        // state summary at the request's place in the stream.
        (Route::AdminSnapshot, Method::Post) => {
            check_keys(object, &[])?;
            single(items, Action::QueryState)
        }
        _ => parse_read(context, route, query).map(Parsed::Read),
    }
}

fn positive_amount(config: &Config, asset: AssetId, text: &[u8]) -> Result<u64, ApiError> {
    match config.parse_amount(asset, text).map_err(quantity_error)? {
        0 => Err(ApiError::new(ErrorKind::QuantityBelowMinimum)),
        amount => Ok(amount),
    }
}

fn parse_withdrawal(
    config: &Config,
    object: &FlatObject<'_>,
    account: AccountKey,
    items: &mut [BatchItem; BATCH_ORDERS_MAX],
    extras: &mut Extras,
) -> Result<Parsed, ApiError> {
    check_keys(
        object,
        &["address", "blockchain", "quantity", "symbol", "clientId", "twoFactorToken"],
    )?;
    let asset = config
        .asset_by_symbol(required(object, "symbol")?)
        .ok_or(ApiError::new(ErrorKind::InvalidAsset))?;
    if required(object, "blockchain")? != config.asset(asset).blockchain.as_bytes() {
        return Err(invalid("blockchain"));
    }
    let address = required(object, "address")?;
    if address.is_empty()
        || address.len() > ADDRESS_MAX
        || !address.iter().all(|byte| (0x20..0x7F).contains(byte))
    {
        return Err(invalid("address"));
    }
    let amount = positive_amount(config, asset, required(object, "quantity")?)?;
    *extras = Extras::default();
    extras.address[..address.len()].copy_from_slice(address);
    extras.address_len = address.len() as u8;
    if let Some((client_id, _)) = object.field(b"clientId") {
        if client_id.len() > WITHDRAWAL_CLIENT_ID_MAX {
            return Err(invalid("clientId"));
        }
        extras.client_id[..client_id.len()].copy_from_slice(client_id);
        extras.client_id_len = client_id.len() as u8;
        extras.has_client_id = true;
    }
    items[0] = Ok(command(account, Action::Withdraw { asset, amount }));
    Ok(Parsed::Commands(1))
}

fn ticker_window(query: &DecodedQuery) -> Result<TickerWindow, ApiError> {
    Ok(one_of(query, "interval", &[(b"1d", TickerWindow::Day), (b"1w", TickerWindow::Week)])?
        .unwrap_or(TickerWindow::Day))
}

/// Milliseconds of an optional `from`/`to` parameter.
fn time_filter(query: &DecodedQuery, filter: &mut HistoryFilter) -> Result<(), ApiError> {
    filter.from_ms = unsigned(query, "from")?;
    filter.to_ms = unsigned(query, "to")?;
    Ok(())
}

/// Reads a parameter that bpx-api-client sends in snake_case: either spelling, not both.
fn either_spelling<'q>(
    query: &'q DecodedQuery,
    camel: &str,
    snake: &str,
) -> Result<Option<&'q [u8]>, ApiError> {
    match (query.get(camel.as_bytes()), query.get(snake.as_bytes())) {
        (Some(_), Some(_)) => Err(invalid(camel)),
        (value, None) | (None, value) => Ok(value),
    }
}

fn sort_direction(value: Option<&[u8]>) -> Result<bool, ApiError> {
    match value {
        None | Some(b"Desc") => Ok(false),
        Some(b"Asc") => Ok(true),
        Some(_) => Err(invalid("sortDirection")),
    }
}

fn history_filter(config: &Config, query: &DecodedQuery) -> Result<HistoryFilter, ApiError> {
    let mut filter = HistoryFilter {
        market: optional_market(config, query)?,
        limit: limit(query, QUERY_LIMIT_DEFAULT, TRADES_LIMIT_MAX)?,
        offset: offset(query)?,
        ..HistoryFilter::default()
    };
    time_filter(query, &mut filter)?;
    Ok(filter)
}

fn parse_read(
    context: &RequestContext<'_>,
    route: Route,
    query: &DecodedQuery,
) -> Result<ReadQuery, ApiError> {
    let config = context.config;
    Ok(match route {
        Route::Status => ReadQuery::Status,
        Route::Ping => ReadQuery::Ping,
        Route::Time => ReadQuery::Time,
        Route::Markets => ReadQuery::Markets { matches: spot_matches(query, "marketType") },
        Route::Market => ReadQuery::Market(market(config, query)?),
        Route::Assets => ReadQuery::Assets,
        Route::Ticker => ReadQuery::Ticker(market(config, query)?, ticker_window(query)?),
        Route::Tickers => ReadQuery::Tickers(ticker_window(query)?),
        Route::Depth => ReadQuery::Depth {
            market: market(config, query)?,
            limit: limit(query, DEPTH_LIMIT_MAX, DEPTH_LIMIT_MAX)? as u16,
        },
        Route::Trades => ReadQuery::Trades {
            market: market(config, query)?,
            limit: limit(query, QUERY_LIMIT_DEFAULT, TRADES_LIMIT_MAX)? as u16,
            offset: 0,
        },
        Route::TradesHistory => ReadQuery::Trades {
            market: market(config, query)?,
            limit: limit(query, QUERY_LIMIT_DEFAULT, TRADES_LIMIT_MAX)? as u16,
            offset: offset(query)?,
        },
        Route::Klines => parse_klines(context, query)?,
        Route::FillHistory => {
            let mut filter = history_filter(config, query)?;
            filter.order_id = either_spelling(query, "orderId", "order_id")?
                .map(|value| parse_u64(value).map(OrderId).ok_or_else(|| invalid("orderId")))
                .transpose()?;
            filter.ascending =
                sort_direction(either_spelling(query, "sortDirection", "sort_direction")?)?;
            let fill_type = either_spelling(query, "fillType", "fill_type")?;
            let market_type = either_spelling(query, "marketType", "market_type")?;
            either_spelling(query, "strategyId", "strategy_id")?;
            if fill_type.is_some_and(|value| value != b"User")
                || market_type.is_some_and(|value| value != b"SPOT")
            {
                return Ok(ReadQuery::EmptyList);
            }
            ReadQuery::FillHistory(filter)
        }
        Route::OrderHistory => {
            let mut filter = history_filter(config, query)?;
            filter.order_id = unsigned(query, "orderId")?.map(OrderId);
            filter.ascending = sort_direction(query.get(b"sortDirection"))?;
            if !spot_matches(query, "marketType") {
                return Ok(ReadQuery::EmptyList);
            }
            ReadQuery::OrderHistory(filter)
        }
        Route::Withdrawals => ReadQuery::Withdrawals(history_filter(config, query)?),
        Route::Deposits => ReadQuery::Deposits(history_filter(config, query)?),
        Route::Metrics => ReadQuery::Metrics,
        _ => return Err(ApiError::new(ErrorKind::MethodNotAllowed)),
    })
}

/// A plain unsigned integer (digits only, no sign or point), exactly or not at all.
fn parse_u64(text: &[u8]) -> Option<u64> {
    crate::money::parse_units(text, 0).ok()
}

fn parse_klines(context: &RequestContext<'_>, query: &DecodedQuery) -> Result<ReadQuery, ApiError> {
    let market = market(context.config, query)?;
    let interval =
        KlineInterval::parse(required(query, "interval")?).ok_or_else(|| invalid("interval"))?;
    let start_s = unsigned(query, "startTime")?.ok_or_else(|| missing("startTime"))?;
    // An explicit endTime is exclusive; without one the klines run up to now, the current
    // bucket included even in the second it starts (an end of `now_s` would leave it out).
    let end_s = unsigned(query, "endTime")?.unwrap_or(context.now_ms / 1000 + 1);
    if end_s < start_s {
        return Err(invalid("endTime"));
    }
    if query.get(b"priceType").is_some_and(|value| value != b"Last") {
        return Err(invalid("priceType"));
    }
    let _ = KLINES_MAX;
    Ok(ReadQuery::Klines { market, interval, start_s, end_s })
}

#[cfg(test)]
mod tests {
    use super::super::json::{parse_array, parse_object};
    use super::*;

    fn context(config: &Config) -> RequestContext<'_> {
        RequestContext { config, now_ms: 1_700_000_000_000 }
    }

    fn parse_body(
        route: Route,
        method: Method,
        body: &[u8],
    ) -> Result<(Parsed, Vec<BatchItem>, Extras), ApiError> {
        let config = Config::embedded_default();
        let mut items = [Err(ApiError::new(ErrorKind::ServerError)); BATCH_ORDERS_MAX];
        let mut extras = Extras::default();
        let query = DecodedQuery::default();
        let parsed = if super::super::json::is_array(body) {
            let mut objects = [FlatObject::default(); BATCH_ORDERS_MAX];
            let count = parse_array(body, &mut objects).unwrap();
            parse(
                &context(&config),
                Request {
                    route,
                    method,
                    query: &query,
                    body: Body::Array(&objects[..count]),
                    account: AccountKey([1; 32]),
                },
                &mut items,
                &mut extras,
            )?
        } else {
            let object = parse_object(body).unwrap();
            parse(
                &context(&config),
                Request {
                    route,
                    method,
                    query: &query,
                    body: Body::Object(&object),
                    account: AccountKey([1; 32]),
                },
                &mut items,
                &mut extras,
            )?
        };
        Ok((parsed, items.to_vec(), extras))
    }

    fn parse_query(
        route: Route,
        method: Method,
        text: &[u8],
    ) -> Result<(Parsed, Vec<BatchItem>), ApiError> {
        let config = Config::embedded_default();
        let mut items = [Err(ApiError::new(ErrorKind::ServerError)); BATCH_ORDERS_MAX];
        let mut extras = Extras::default();
        let mut query = DecodedQuery::default();
        query.decode(text).unwrap();
        let parsed = parse(
            &context(&config),
            Request {
                route,
                method,
                query: &query,
                body: Body::None,
                account: AccountKey([1; 32]),
            },
            &mut items,
            &mut extras,
        )?;
        Ok((parsed, items.to_vec()))
    }

    fn place(body: &[u8]) -> Result<PlaceOrder, ApiError> {
        let (_, items, _) = parse_body(Route::Order, Method::Post, body)?;
        match items[0]?.action {
            Action::Place(place) => Ok(place),
            other => panic!("{other:?}"),
        }
    }

    fn error_message(result: Result<PlaceOrder, ApiError>) -> String {
        result.unwrap_err().message()
    }

    #[test]
    fn orders() {
        let order = place(br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"150.50","quantity":"1.25","timeInForce":"IOC","clientId":42,"selfTradePrevention":"Allow"}"#).unwrap();
        assert_eq!(order.price, PriceTicks(15050));
        assert_eq!(order.quantity, QuantitySteps(125));
        assert_eq!(order.time_in_force, TimeInForce::Ioc);
        assert_eq!(order.client_id, Some(ClientId(42)));
        assert_eq!(order.self_trade_prevention, SelfTradePrevention::Allow);
        let market = place(
            br#"{"symbol":"SOL_USDC","side":"Ask","orderType":"Market","quoteQuantity":"10.5"}"#,
        )
        .unwrap();
        assert_eq!((market.quantity, market.quote_quantity), (QuantitySteps(0), 10_500_000));
        let string_client = place(br#"{"symbol":"SOL_USDC","side":"Ask","orderType":"Market","quantity":"1","clientId":"7","reduceOnly":false}"#).unwrap();
        assert_eq!(string_client.client_id, Some(ClientId(7)));
    }

    #[test]
    fn order_errors_name_the_problem() {
        let cases: &[(&[u8], &str)] = &[
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"150.505","quantity":"1"}"#, "Price decimal too long"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"150.500","quantity":"1"}"#, "Price decimal too long"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"abc","quantity":"1"}"#, "Invalid price"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"0","quantity":"1"}"#, "Price out of bounds"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"1","quantity":"0.001"}"#, "Quantity decimal too long"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"1","quantity":"0"}"#, "Quantity below minimum"),
            (br#"{"symbol":"DOGE_USDC","side":"Bid","orderType":"Limit","price":"1","quantity":"1"}"#, "Invalid symbol"),
            (br#"{"symbol":"SOL_USDC","side":"Buy","orderType":"Limit","price":"1","quantity":"1"}"#, "Invalid value for `side`"),
            (br#"{"symbol":"SOL_USDC","orderType":"Limit","price":"1","quantity":"1"}"#, "Missing field `side`"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","quantity":"1"}"#, "Missing field `price`"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"1","quantity":"1","foo":"1"}"#, "Unknown field `foo`"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"1","quantity":"1","reduceOnly":true}"#, "Field `reduceOnly` is not supported"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"1","quantity":"1","triggerPrice":"2"}"#, "Field `triggerPrice` is not supported"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Market","quantity":"1","quoteQuantity":"1"}"#, "Invalid value for `quoteQuantity`"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Market","price":"1","quantity":"1"}"#, "Invalid value for `price`"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Market","quoteQuantity":"1","timeInForce":"FOK"}"#, "Invalid value for `timeInForce`"),
            (br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"1","quantity":"1","clientId":4294967296}"#, "Invalid value for `clientId`"),
        ];
        for (body, expected) in cases {
            assert_eq!(error_message(place(body)), *expected, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn batch_items_fail_alone() {
        let body = br#"[{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"141","quantity":"12"},{"symbol":"SOL_USDC","side":"Ask","orderType":"Limit","price":"x","quantity":"11"}]"#;
        let (parsed, items, _) = parse_body(Route::Orders, Method::Post, body).unwrap();
        assert_eq!(parsed, Parsed::Commands(2));
        assert!(items[0].is_ok());
        assert_eq!(items[1].unwrap_err().message(), "Invalid price");
    }

    #[test]
    fn cancels_and_queries() {
        let (_, items, _) =
            parse_body(Route::Order, Method::Delete, br#"{"symbol":"SOL_USDC","orderId":"28"}"#)
                .unwrap();
        assert_eq!(
            items[0].unwrap().action,
            Action::Cancel { market: MarketId(0), target: OrderRef::Id(OrderId(28)) }
        );
        let error =
            parse_body(Route::Order, Method::Delete, br#"{"symbol":"SOL_USDC"}"#).unwrap_err();
        assert_eq!(error.message(), "Must specify either `clientId` or `orderId`");
        let (parsed, _, _) = parse_body(
            Route::Orders,
            Method::Delete,
            br#"{"symbol":"SOL_USDC","orderType":"ConditionalOrder"}"#,
        )
        .unwrap();
        assert_eq!(parsed, Parsed::Read(ReadQuery::EmptyList));
        let (_, items) =
            parse_query(Route::Order, Method::Get, b"symbol=SOL_USDC&clientId=5").unwrap();
        assert_eq!(
            items[0].unwrap().action,
            Action::QueryOrder { market: MarketId(0), target: OrderRef::Client(ClientId(5)) }
        );
        let (_, items) = parse_query(Route::Orders, Method::Get, b"").unwrap();
        assert_eq!(items[0].unwrap().action, Action::QueryOpenOrders { market: None });
        let (parsed, _) = parse_query(Route::Orders, Method::Get, b"marketType=PERP").unwrap();
        assert_eq!(parsed, Parsed::Read(ReadQuery::EmptyList));
    }

    #[test]
    fn history_parameters_in_both_spellings() {
        let (parsed, _) =
            parse_query(Route::FillHistory, Method::Get, b"order_id=5&sort_direction=Asc&limit=10")
                .unwrap();
        match parsed {
            Parsed::Read(ReadQuery::FillHistory(filter)) => {
                assert_eq!(
                    (filter.order_id, filter.ascending, filter.limit),
                    (Some(OrderId(5)), true, 10)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_query(Route::FillHistory, Method::Get, b"orderId=5&order_id=5").is_err());
        let (parsed, _) =
            parse_query(Route::FillHistory, Method::Get, b"fill_type=Liquidation").unwrap();
        assert_eq!(parsed, Parsed::Read(ReadQuery::EmptyList));
        assert!(parse_query(Route::FillHistory, Method::Get, b"limit=1001").is_err());
    }

    #[test]
    fn public_reads() {
        let (parsed, _) =
            parse_query(Route::Depth, Method::Get, b"symbol=SOL_USDC&limit=5").unwrap();
        assert_eq!(parsed, Parsed::Read(ReadQuery::Depth { market: MarketId(0), limit: 5 }));
        let (parsed, _) =
            parse_query(Route::Klines, Method::Get, b"symbol=SOL_USDC&interval=1m&startTime=100")
                .unwrap();
        assert_eq!(
            parsed,
            Parsed::Read(ReadQuery::Klines {
                market: MarketId(0),
                interval: KlineInterval::Seconds(60),
                start_s: 100,
                end_s: 1_700_000_001
            }),
            "without endTime, up to and including the current second"
        );
        assert_eq!(
            parse_query(Route::Klines, Method::Get, b"symbol=SOL_USDC&interval=2m&startTime=1")
                .unwrap_err()
                .message(),
            "Invalid value for `interval`"
        );
        assert_eq!(
            parse_query(Route::Ticker, Method::Get, b"symbol=NOPE").unwrap_err().message(),
            "Invalid symbol"
        );
        let (parsed, _) = parse_query(Route::Markets, Method::Get, b"marketType=PERP").unwrap();
        assert_eq!(parsed, Parsed::Read(ReadQuery::Markets { matches: false }));
    }

    #[test]
    fn admin_and_withdrawals() {
        let key = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
        let body = format!(r#"{{"account":"{key}","symbol":"USDC","quantity":"1000"}}"#);
        let (_, items, _) = parse_body(Route::AdminDeposit, Method::Post, body.as_bytes()).unwrap();
        let command = items[0].unwrap();
        assert_eq!(command.account, decode_key(key.as_bytes()).unwrap());
        assert_eq!(command.action, Action::Deposit { asset: AssetId(0), amount: 1_000_000_000 });
        let error = parse_body(
            Route::AdminDeposit,
            Method::Post,
            br#"{"account":"short","symbol":"USDC","quantity":"1"}"#,
        )
        .unwrap_err();
        assert_eq!(error.message(), "Invalid value for `account`");
        let error = parse_body(
            Route::AdminDeposit,
            Method::Post,
            format!(r#"{{"account":"{key}","symbol":"USDC","quantity":"1.0000001"}}"#).as_bytes(),
        )
        .unwrap_err();
        assert_eq!(error.message(), "Quantity decimal too long");
        let body = br#"{"address":"addr1","blockchain":"Solana","quantity":"1.5","symbol":"SOL","clientId":"w-1","twoFactorToken":"x"}"#;
        let (_, items, extras) = parse_body(Route::Withdrawals, Method::Post, body).unwrap();
        assert_eq!(
            items[0].unwrap().action,
            Action::Withdraw { asset: AssetId(1), amount: 1_500_000_000 }
        );
        assert_eq!((extras.address(), extras.client_id()), (&b"addr1"[..], Some(&b"w-1"[..])));
        let wrong_chain =
            br#"{"address":"a","blockchain":"Bitcoin","quantity":"1","symbol":"SOL"}"#;
        assert_eq!(
            parse_body(Route::Withdrawals, Method::Post, wrong_chain).unwrap_err().message(),
            "Invalid value for `blockchain`"
        );
        let borrow = br#"{"address":"a","blockchain":"Solana","quantity":"1","symbol":"SOL","autoBorrow":true}"#;
        assert_eq!(
            parse_body(Route::Withdrawals, Method::Post, borrow).unwrap_err().message(),
            "Field `autoBorrow` is not supported"
        );
    }
}
