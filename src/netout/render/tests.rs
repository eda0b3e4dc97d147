//! Golden bodies (API.md's examples, byte for byte) and deserialization into Backpack's official
//! Rust types (`bpx_api_client::types`, i.e. bpx-api-types 0.23).

use super::*;
use crate::api::error::ApiError;
use crate::command::{Action, OrderRef, PlaceOrder};
use crate::event::Fill;
use crate::netout::calendar::days_from_civil;
use crate::netout::test_support::*;
use crate::records::{KlineInterval, TickerWindow};
use crate::types::{
    AccountIndex, ClientId, ExpiryReason, OrderId, PriceTicks, QuantitySteps, RejectReason,
    SelfTradePrevention, TimeInForce,
};
use bpx_api_client::types as bpx;
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::str::FromStr;

/// The `X-API-Key` of API.md's test vectors.
const VECTOR_KEY: &str = "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";

fn vector_key() -> AccountKey {
    AccountKey(BASE64.decode(VECTOR_KEY).unwrap().try_into().unwrap())
}

fn decimal(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn text(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap()
}

fn read(h: &Harness, account: u8, query: ReadQuery, now_us: u64) -> String {
    let mut out = Vec::new();
    let content_type = render_read(&mut out, &h.view, &key(account), &query, now_us).unwrap();
    assert_eq!(content_type, ContentType::Json);
    text(out)
}

fn command(
    config: &Config,
    route: Route,
    method: Method,
    account: &AccountKey,
    events: &[Event],
    extras: &Extras,
) -> Result<String, ApiError> {
    let reply = Reply { route, method, ..Reply::default() };
    let sequence = events.first().map_or(SequenceNumber(0), |event| event.sequence);
    let answer = CommandAnswer {
        reply: &reply,
        account,
        sequence,
        events,
        extras,
        durable_sequence: SequenceNumber(0),
    };
    let mut out = Vec::new();
    render_command(&mut out, config, &answer).map(|()| text(out))
}

/// Runs `action` for `account` and renders its answer on `route`/`method`.
fn run(h: &mut Harness, account: u8, action: Action, route: Route, method: Method) -> String {
    let events = h.run(account, action);
    command(&h.config, route, method, &key(account), &events, &Extras::default()).unwrap()
}

// -------------------------------------------------------------------------------------------------
// Errors.

#[test]
fn errors() {
    let cases = [
        (
            ApiError::with_detail(ErrorKind::UnknownField, b"a\"b"),
            r#"{"code":"INVALID_CLIENT_REQUEST","message":"Unknown field `a\"b`"}"#,
        ),
        (
            ApiError::from_reject(RejectReason::DuplicateClientId, 42),
            r#"{"code":"INVALID_ORDER","message":"Order with client ID already exists: 42"}"#,
        ),
        (
            ApiError::new(ErrorKind::NotFound),
            r#"{"code":"RESOURCE_NOT_FOUND","message":"Not found"}"#,
        ),
    ];
    for (error, expected) in cases {
        let mut out = Vec::new();
        render_error(&mut out, &error);
        assert_eq!(text(out), expected);
    }
    let mut out = Vec::new();
    render_batch_error_item(&mut out, &ApiError::new(ErrorKind::InsufficientFunds));
    let body = text(out);
    assert_eq!(
        body,
        r#"{"operation":"Err","code":"INSUFFICIENT_FUNDS","message":"Insufficient funds"}"#
    );
    let item: bpx::order::BatchOrderResponse = serde_json::from_str(&body).unwrap();
    assert!(matches!(item, bpx::order::BatchOrderResponse::Error(e) if e.operation == "Err"));
}

// -------------------------------------------------------------------------------------------------
// Public reads.

#[test]
fn status_ping_time_and_empty_lists() {
    let h = Harness::new();
    let mut out = Vec::new();
    assert_eq!(render_read(&mut out, &h.view, &key(0), &ReadQuery::Ping, 0), Ok(ContentType::Text));
    assert_eq!(out, b"pong");
    let mut out = Vec::new();
    let time = render_read(&mut out, &h.view, &key(0), &ReadQuery::Time, 1_700_000_000_123_456);
    assert_eq!((time, text(out)), (Ok(ContentType::Text), "1700000000123".to_string()));
    assert_eq!(read(&h, 0, ReadQuery::Status, 0), r#"{"status":"Ok","message":null}"#);
    assert_eq!(read(&h, 0, ReadQuery::EmptyList, 0), "[]");
    assert_eq!(read(&h, 0, ReadQuery::Markets { matches: false }, 0), "[]");
    let filter = HistoryFilter::default();
    for query in [
        ReadQuery::FillHistory(filter),
        ReadQuery::OrderHistory(filter),
        ReadQuery::Withdrawals(filter),
        ReadQuery::Deposits(filter),
    ] {
        assert_eq!(read(&h, 7, query, 0), "[]");
    }
    let mut out = Vec::new();
    let unknown = ReadQuery::Depth { market: MarketId(99), limit: 10 };
    let error = render_read(&mut out, &h.view, &key(0), &unknown, 0).unwrap_err();
    assert_eq!((error.kind, out.len()), (ErrorKind::InvalidSymbol, 0));
    assert_eq!(ContentType::Json.as_str(), "application/json; charset=utf-8");
    assert_eq!(ContentType::Text.as_str(), "text/plain");
}

#[test]
fn markets() {
    let h = Harness::new();
    let expected = concat!(
        r#"{"symbol":"SOL_USDC","baseSymbol":"SOL","quoteSymbol":"USDC","marketType":"SPOT","#,
        r#""filters":{"price":{"minPrice":"0.01","maxPrice":null,"tickSize":"0.01"},"#,
        r#""quantity":{"minQuantity":"0.01","maxQuantity":null,"stepSize":"0.01"}},"#,
        r#""orderBookState":"Open","visible":true,"createdAt":"2025-01-01T00:00:00.000"}"#
    );
    assert_eq!(read(&h, 0, ReadQuery::Market(SOL_USDC), 0), expected);
    let body = read(&h, 0, ReadQuery::Markets { matches: true }, 0);
    let markets: Vec<bpx::markets::Market> = serde_json::from_str(&body).unwrap();
    assert_eq!(markets.len(), 3);
    let btc = &markets[1];
    assert_eq!((btc.symbol.as_str(), btc.base_symbol.as_str()), ("BTC_USDC", "BTC"));
    assert_eq!(btc.filters.price.tick_size, decimal("0.1"));
    assert_eq!(btc.filters.quantity.step_size, decimal("0.00001"));
    assert_eq!(btc.filters.quantity.min_quantity, decimal("0.00001"));
    assert_eq!((btc.price_decimal_places(), btc.quantity_decimal_places()), (1, 5));
    assert_eq!(btc.order_book_state, bpx::markets::OrderBookState::Open);
    assert!(btc.visible);
}

#[test]
fn assets() {
    let h = Harness::new();
    let body = read(&h, 0, ReadQuery::Assets, 0);
    let sol = concat!(
        r#"{"symbol":"SOL","displayName":"Solana","coingeckoId":null,"tokens":[{"blockchain":"#,
        r#""Solana","contractAddress":null,"depositEnabled":true,"withdrawEnabled":true,"#,
        r#""displayName":"Solana","minimumDeposit":"0","minimumWithdrawal":"0","#,
        r#""maximumWithdrawal":null,"withdrawalFee":"0.000000000"}]}"#
    );
    assert!(body.contains(sol), "{body}");
    let assets: Vec<bpx::markets::Asset> = serde_json::from_str(&body).unwrap();
    assert_eq!(assets.len(), 4);
    assert_eq!(assets[2].tokens[0].blockchain, bpx::Blockchain::Bitcoin);
    assert_eq!(assets[3].tokens[0].blockchain, bpx::Blockchain::Ethereum);
    assert_eq!(assets[0].tokens[0].withdrawal_fee, Decimal::ZERO);
}

#[test]
fn ticker_golden_and_rust_types() {
    let mut h = Harness::funded();
    let now_s = 1_700_100_000;
    // API.md's example: seven trades, 12.50 SOL for 1879.25 USDC, 150.00 → 150.50.
    let trades = [
        (15000, 200),
        (15100, 100),
        (14980, 100),
        (15020, 300),
        (15055, 200),
        (15050, 200),
        (15050, 150),
    ];
    for (index, (price, quantity)) in trades.into_iter().enumerate() {
        h.trade_at(now_s - 3_600 + index as u64, price, quantity);
    }
    let expected = concat!(
        r#"{"symbol":"SOL_USDC","firstPrice":"150.00","lastPrice":"150.50","priceChange":"0.50","#,
        r#""priceChangePercent":"0.003333","high":"151.00","low":"149.80","volume":"12.50","#,
        r#""quoteVolume":"1879.250000","trades":"7"}"#
    );
    let query = ReadQuery::Ticker(SOL_USDC, TickerWindow::Day);
    assert_eq!(read(&h, 0, query, now_s * 1_000_000), expected);
    let ticker: bpx::markets::Ticker = serde_json::from_str(expected).unwrap();
    assert_eq!(ticker.price_change_percent, decimal("0.003333"));
    // All markets; a falling price and a market without trades.
    h.trade_at(now_s, 14950, 10);
    let body = read(&h, 0, ReadQuery::Tickers(TickerWindow::Week), now_s * 1_000_000);
    let tickers: Vec<bpx::markets::Ticker> = serde_json::from_str(&body).unwrap();
    assert_eq!(tickers[0].price_change, decimal("-0.50"));
    assert_eq!(tickers[0].price_change_percent, decimal("-0.003333"));
    assert_eq!(tickers[0].trades, "8");
    let btc = &tickers[1];
    assert_eq!(
        (btc.first_price, btc.last_price, btc.high),
        (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO)
    );
    assert_eq!((btc.volume, btc.trades.as_str()), (Decimal::ZERO, "0"));
    assert!(body.contains(r#""firstPrice":"0.0","lastPrice":"0.0","priceChange":"0.0","priceChangePercent":"0.000000""#));
    // Later: no trade in the window, the four prices are the last price.
    let later = read(&h, 0, query, (now_s + 2 * 86_400) * 1_000_000);
    assert!(later.contains(r#""firstPrice":"149.50","lastPrice":"149.50","priceChange":"0.00""#));
    assert!(later.contains(
        r#""high":"149.50","low":"149.50","volume":"0.00","quoteVolume":"0.000000","trades":"0"}"#
    ));
}

#[test]
fn depth_golden_and_rust_types() {
    let mut h = Harness::funded();
    h.run(ALICE, Action::Place(limit(Side::Bid, 15040, 50)));
    h.run(ALICE, Action::Place(limit(Side::Bid, 15050, 250)));
    h.run(BOB, Action::Place(limit(Side::Ask, 15060, 300)));
    // 1,039 more updates: 519 place-and-cancel pairs and one post-only expiry.
    for _ in 0..519 {
        h.run(CAROL, Action::Place(limit(Side::Bid, 10000, 1)));
        let target = OrderRef::Id(OrderId(h.sequence));
        h.run(CAROL, Action::Cancel { market: SOL_USDC, target });
    }
    h.run(CAROL, Action::Place(PlaceOrder { post_only: true, ..limit(Side::Bid, 15060, 1) }));
    let query = ReadQuery::Depth { market: SOL_USDC, limit: 0 };
    let body = read(&h, 0, query, 1_700_000_000_123_456);
    assert_eq!(
        body,
        concat!(
            r#"{"asks":[["150.60","3.00"]],"bids":[["150.40","0.50"],["150.50","2.50"]],"#,
            r#""lastUpdateId":"1042","timestamp":1700000000123456}"#
        )
    );
    let depth: bpx::markets::OrderBookDepth = serde_json::from_str(&body).unwrap();
    assert_eq!(depth.last_update_id, 1042);
    assert_eq!(depth.bids[1], (decimal("150.50"), decimal("2.50")));
    // Limits keep the best levels, both sides still ascending.
    for price in [15070, 15080] {
        h.run(BOB, Action::Place(limit(Side::Ask, price, 100)));
    }
    let body = read(&h, 0, ReadQuery::Depth { market: SOL_USDC, limit: 1 }, 0);
    assert!(body.starts_with(r#"{"asks":[["150.60","3.00"]],"bids":[["150.50","2.50"]],"#));
    let body = read(&h, 0, ReadQuery::Depth { market: SOL_USDC, limit: 2 }, 0);
    assert!(body.starts_with(r#"{"asks":[["150.60","3.00"],["150.70","1.00"]],"#), "{body}");
    assert_eq!(
        read(&h, 0, ReadQuery::Depth { market: BTC_USDC, limit: 5 }, 7),
        r#"{"asks":[],"bids":[],"lastUpdateId":"0","timestamp":7}"#
    );
}

#[test]
fn trades_golden_and_rust_types() {
    let mut h = Harness::funded();
    for index in 0..87 {
        h.trade_at_us(T0_US + 10_000 + index, 15000, 1);
    }
    // Trade 88: Alice's bid rests, Bob's ask takes it; the buyer is the maker.
    h.time_us = 1_700_000_000_123_000;
    h.run(ALICE, Action::Place(limit(Side::Bid, 15050, 125)));
    h.time_us = 1_700_000_000_123_000;
    h.run(BOB, Action::Place(limit(Side::Ask, 15050, 125)));
    let body = read(&h, 0, ReadQuery::Trades { market: SOL_USDC, limit: 1, offset: 0 }, 0);
    assert_eq!(
        body,
        concat!(
            r#"[{"id":88,"price":"150.50","quantity":"1.25","quoteQuantity":"188.125000","#,
            r#""timestamp":1700000000123,"isBuyerMaker":true}]"#
        )
    );
    let body = read(&h, 0, ReadQuery::Trades { market: SOL_USDC, limit: 0, offset: 1 }, 0);
    let trades: Vec<bpx::trade::Trade> = serde_json::from_str(&body).unwrap();
    assert_eq!(trades.len(), 87);
    assert_eq!((trades[0].id, trades[86].id), (1, 87));
    assert!(!trades[0].is_buyer_maker);
    assert_eq!(trades[0].quote_quantity, decimal("1.500000"));
}

#[test]
fn klines_golden_and_rust_types() {
    let mut h = Harness::funded();
    let t = days_from_civil(2025, 7, 19) * 86_400 + 13 * 3_600 + 9 * 60;
    h.trade_at(t + 1, 15000, 125);
    h.trade_at(t + 59, 15050, 125);
    h.trade_at(t + 60, 15100, 1);
    let query = ReadQuery::Klines {
        market: SOL_USDC,
        interval: KlineInterval::Seconds(60),
        start_s: t,
        end_s: t + 60,
    };
    let body = read(&h, 0, query, 0);
    assert_eq!(
        body,
        concat!(
            r#"[{"start":"2025-07-19 13:09:00","end":"2025-07-19 13:10:00","open":"150.00","#,
            r#""high":"150.50","low":"150.00","close":"150.50","volume":"2.50","#,
            r#""quoteVolume":"375.625000","trades":"2"}]"#
        )
    );
    let query = ReadQuery::Klines {
        market: SOL_USDC,
        interval: KlineInterval::Month,
        start_s: t,
        end_s: u64::MAX,
    };
    let klines: Vec<bpx::markets::Kline> = serde_json::from_str(&read(&h, 0, query, 0)).unwrap();
    assert_eq!(klines.len(), 1);
    assert_eq!(klines[0].start, "2025-07-01 00:00:00");
    assert_eq!(klines[0].end.as_deref(), Some("2025-08-01 00:00:00"));
    assert_eq!((klines[0].high, klines[0].trades.as_str()), (Some(decimal("151.00")), "3"));
}

// -------------------------------------------------------------------------------------------------
// The Order object.

fn api_md_order_state() -> OrderState {
    OrderState {
        order_id: OrderId(1_099_511_627_776),
        account: AccountIndex(1),
        market: SOL_USDC,
        side: Side::Bid,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Gtc,
        self_trade_prevention: SelfTradePrevention::RejectTaker,
        post_only: true,
        status: OrderStatus::New,
        client_id: Some(ClientId(42)),
        price: PriceTicks(15050),
        quantity: QuantitySteps(125),
        quote_quantity: 0,
        executed_quantity: QuantitySteps(0),
        executed_quote: 0,
        created_at_us: 1_700_000_000_000_000,
    }
}

const API_MD_ORDER: &str = concat!(
    r#"{"orderType":"Limit","id":"1099511627776","clientId":42,"symbol":"SOL_USDC","side":"Bid","#,
    r#""price":"150.50","quantity":"1.25","executedQuantity":"0.00","#,
    r#""executedQuoteQuantity":"0.000000","postOnly":true,"timeInForce":"GTC","#,
    r#""selfTradePrevention":"RejectTaker","status":"New","expiryReason":null,"#,
    r#""createdAt":1700000000000,"reduceOnly":null,"relatedOrderId":null,"strategyId":null,"#,
    r#""triggerPrice":null,"triggerQuantity":null,"triggerBy":null,"triggeredAt":null,"#,
    r#""stopLossTriggerPrice":null,"stopLossLimitPrice":null,"stopLossTriggerBy":null,"#,
    r#""takeProfitTriggerPrice":null,"takeProfitLimitPrice":null,"takeProfitTriggerBy":null}"#
);

#[test]
fn order_golden() {
    let config = Config::embedded_default();
    let events = [Event {
        sequence: SequenceNumber(1_099_511_627_776),
        time_us: 1_700_000_000_000_000,
        kind: EventKind::OrderAccepted(api_md_order_state()),
    }];
    let body =
        command(&config, Route::Order, Method::Post, &vector_key(), &events, &Extras::default());
    assert_eq!(body.unwrap(), API_MD_ORDER);
}

fn limit_order(body: &str) -> bpx::order::LimitOrder {
    match serde_json::from_str(body).unwrap() {
        bpx::order::Order::Limit(order) => order,
        other => panic!("not a limit order: {other:?}"),
    }
}

fn market_order(body: &str) -> bpx::order::MarketOrder {
    match serde_json::from_str(body).unwrap() {
        bpx::order::Order::Market(order) => order,
        other => panic!("not a market order: {other:?}"),
    }
}

#[test]
fn placed_orders_in_rust_types() {
    let mut h = Harness::funded();
    let resting = PlaceOrder { client_id: Some(ClientId(7)), ..limit(Side::Ask, 15000, 300) };
    let body = run(&mut h, BOB, Action::Place(resting), Route::Order, Method::Post);
    let order = limit_order(&body);
    assert_eq!((order.id.as_str(), order.client_id), ("7", Some(7)));
    assert_eq!(order.status, bpx::order::OrderStatus::New);
    assert_eq!((order.price, order.quantity), (decimal("150.00"), decimal("3.00")));
    assert_eq!(order.created_at, (T0_US / 1_000 + 6) as i64);
    // A limit bid through the ask: partially filled, the rest rests.
    let body =
        run(&mut h, ALICE, Action::Place(limit(Side::Bid, 15100, 400)), Route::Order, Method::Post);
    let order = limit_order(&body);
    assert_eq!(order.status, bpx::order::OrderStatus::PartiallyFilled);
    assert_eq!(order.executed_quantity, decimal("3.00"));
    assert_eq!(order.executed_quote_quantity, decimal("450.000000"));
    assert!(!order.post_only);
    // Market by quantity: quoteQuantity null; by quote: quantity null.
    let body =
        run(&mut h, CAROL, Action::Place(market(Side::Ask, 50, 0)), Route::Order, Method::Post);
    assert!(body.contains(r#""quantity":"0.50","quoteQuantity":null,"#), "{body}");
    assert!(!body.contains("price") && !body.contains("postOnly"));
    let order = market_order(&body);
    assert_eq!((order.quantity, order.quote_quantity), (Some(decimal("0.50")), None));
    assert_eq!(order.status, bpx::order::OrderStatus::Filled);
    assert_eq!(order.executed_quote_quantity, decimal("75.500000"));
    let body = run(
        &mut h,
        CAROL,
        Action::Place(market(Side::Ask, 0, usdc(100))),
        Route::Order,
        Method::Post,
    );
    let order = market_order(&body);
    assert_eq!((order.quantity, order.quote_quantity), (None, Some(decimal("100.000000"))));
    // Book: 0.50 left at 151.00: the quote budget buys 0.50 and expires for want of liquidity.
    assert_eq!(order.status, bpx::order::OrderStatus::Expired);
    assert!(body.contains(r#""expiryReason":"InsufficientLiquidity""#));
    // Post-only crossing: 200, Expired with its reason.
    let crossing = PlaceOrder { post_only: true, ..limit(Side::Ask, 10000, 10) };
    h.run(ALICE, Action::Place(limit(Side::Bid, 14000, 10)));
    let body = run(&mut h, BOB, Action::Place(crossing), Route::Order, Method::Post);
    assert!(body.contains(r#""status":"Expired","expiryReason":"PostOnlyTaker""#), "{body}");
    assert!(limit_order(&body).post_only);
    // A rejected placement is the error.
    let events = h.run(ALICE, Action::Place(limit(Side::Bid, 15000, u64::MAX / 4)));
    let error =
        command(&h.config, Route::Order, Method::Post, &key(ALICE), &events, &Extras::default());
    assert_eq!(error.unwrap_err().kind, ErrorKind::QuantityOutOfBounds);
}

#[test]
fn cancels_queries_and_batches() {
    let mut h = Harness::funded();
    for (price, client_id) in [(14000, 1), (14100, 2), (14200, 3)] {
        let bid =
            PlaceOrder { client_id: Some(ClientId(client_id)), ..limit(Side::Bid, price, 10) };
        h.run(ALICE, Action::Place(bid)); // 7, 8, 9
    }
    let query = Action::QueryOrder { market: SOL_USDC, target: OrderRef::Client(ClientId(2)) };
    let order = limit_order(&run(&mut h, ALICE, query, Route::Order, Method::Get));
    assert_eq!((order.id.as_str(), order.status), ("8", bpx::order::OrderStatus::New));
    let query = Action::QueryOpenOrders { market: None };
    let body = run(&mut h, ALICE, query, Route::Orders, Method::Get);
    let orders: Vec<bpx::order::Order> = serde_json::from_str(&body).unwrap();
    assert_eq!(orders.len(), 3);
    assert_eq!(run(&mut h, BOB, query, Route::Orders, Method::Get), "[]");
    let cancel = Action::Cancel { market: SOL_USDC, target: OrderRef::Id(OrderId(8)) };
    let order = limit_order(&run(&mut h, ALICE, cancel, Route::Order, Method::Delete));
    assert_eq!((order.id.as_str(), order.status), ("8", bpx::order::OrderStatus::Cancelled));
    // Not open any more: 400 on cancel, 404 on query.
    let events = h.run(ALICE, cancel);
    let error =
        command(&h.config, Route::Order, Method::Delete, &key(ALICE), &events, &Extras::default());
    assert_eq!(error.unwrap_err().status(), 400);
    let query = Action::QueryOrder { market: SOL_USDC, target: OrderRef::Id(OrderId(8)) };
    let events = h.run(ALICE, query);
    let error =
        command(&h.config, Route::Order, Method::Get, &key(ALICE), &events, &Extras::default());
    assert_eq!(error.unwrap_err().status(), 404);
    // Cancel-all: ascending id; nothing left: [].
    let body =
        run(&mut h, ALICE, Action::CancelAll { market: SOL_USDC }, Route::Orders, Method::Delete);
    let orders: Vec<bpx::order::Order> = serde_json::from_str(&body).unwrap();
    let ids: Vec<String> = orders
        .into_iter()
        .map(|order| match order {
            bpx::order::Order::Limit(order) => order.id,
            bpx::order::Order::Market(order) => order.id,
        })
        .collect();
    assert_eq!(ids, vec!["7", "9"]);
    assert_eq!(
        run(&mut h, ALICE, Action::CancelAll { market: SOL_USDC }, Route::Orders, Method::Delete),
        "[]"
    );
    // Batch items: an Order with "operation":"Ok", or the item's error.
    let batch =
        Reply { route: Route::Orders, method: Method::Post, item: 0, items: 2, ..Reply::default() };
    let mut body = b"[".to_vec();
    for place in [limit(Side::Bid, 14000, 10), limit(Side::Bid, 14000, u64::MAX / 4)] {
        let events = h.run(ALICE, Action::Place(place));
        let answer = CommandAnswer {
            reply: &batch,
            account: &key(ALICE),
            sequence: SequenceNumber(h.sequence),
            events: &events,
            extras: &Extras::default(),
            durable_sequence: SequenceNumber(0),
        };
        if body.len() > 1 {
            body.push(b',');
        }
        render_command(&mut body, &h.config, &answer).unwrap();
    }
    body.push(b']');
    let body = text(body);
    assert!(body.contains(r#""operation":"Ok"}"#), "{body}");
    let items: Vec<bpx::order::BatchOrderResponse> = serde_json::from_str(&body).unwrap();
    assert!(
        matches!(&items[0], bpx::order::BatchOrderResponse::Order(bpx::order::Order::Limit(o)) if o.id == h.sequence.saturating_sub(1).to_string())
    );
    assert!(
        matches!(&items[1], bpx::order::BatchOrderResponse::Error(e) if e.code == "INVALID_QUANTITY" && e.message == "Quantity out of bounds")
    );
}

// -------------------------------------------------------------------------------------------------
// Funds and administration.

#[test]
fn capital() {
    let mut h = Harness::new();
    h.run(ALICE, Action::Deposit { asset: USDC, amount: usdc(1_000) });
    h.run(ALICE, Action::Place(limit(Side::Bid, 15050, 125)));
    let body = run(&mut h, ALICE, Action::QueryBalances, Route::Capital, Method::Get);
    assert_eq!(
        body,
        concat!(
            r#"{"USDC":{"available":"811.875000","locked":"188.125000","staked":"0"},"#,
            r#""SOL":{"available":"0.000000000","locked":"0.000000000","staked":"0"},"#,
            r#""BTC":{"available":"0.00000000","locked":"0.00000000","staked":"0"},"#,
            r#""ETH":{"available":"0.00000000","locked":"0.00000000","staked":"0"}}"#
        )
    );
    let balances: HashMap<String, bpx::capital::Balance> = serde_json::from_str(&body).unwrap();
    assert_eq!(balances["USDC"].total(), decimal("1000"));
    assert_eq!(run(&mut h, BOB, Action::QueryBalances, Route::Capital, Method::Get), "{}");
}

fn transfer_event(
    kind: TransferKind,
    id: u32,
    asset: AssetId,
    amount: u64,
    available: u64,
) -> Event {
    let transfer = Transfer {
        kind,
        id,
        account: AccountIndex(1),
        asset,
        amount,
        fee: 0,
        available,
        locked: 0,
    };
    Event {
        sequence: SequenceNumber(9),
        time_us: 1_700_000_000_123_456,
        kind: EventKind::Transfer(transfer),
    }
}

#[test]
fn admin_deposit_and_withdrawal_golden() {
    let config = Config::embedded_default();
    let key = vector_key();
    let created = Event {
        sequence: SequenceNumber(9),
        time_us: 1_700_000_000_123_456,
        kind: EventKind::AccountCreated { account: AccountIndex(1), key },
    };
    let events =
        [created, transfer_event(TransferKind::Deposit, 17, USDC, usdc(1_000), usdc(1_000))];
    let body =
        command(&config, Route::AdminDeposit, Method::Post, &key, &events, &Extras::default());
    let body = body.unwrap();
    assert_eq!(
        body,
        concat!(
            r#"{"id":17,"source":"administrator","status":"confirmed","symbol":"USDC","#,
            r#""quantity":"1000.000000","createdAt":"2023-11-14T22:13:20.123","#,
            r#""account":"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=","#,
            r#""balance":{"available":"1000.000000","locked":"0.000000","staked":"0"}}"#
        )
    );
    let deposit: bpx::capital::Deposit = serde_json::from_str(&body).unwrap();
    assert_eq!((deposit.id, deposit.quantity), (17, decimal("1000")));
    assert_eq!(deposit.source, bpx::capital::DepositSource::Administrator);
    assert_eq!(deposit.status, bpx::capital::DepositStatus::Confirmed);
    assert_eq!(deposit.created_at.to_string(), "2023-11-14 22:13:20.123");

    let events = [transfer_event(TransferKind::AdminWithdrawal, 4, SOL, sol(2), sol(3))];
    let body =
        command(&config, Route::AdminWithdraw, Method::Post, &key, &events, &Extras::default());
    let body = body.unwrap();
    assert_eq!(
        body,
        concat!(
            r#"{"id":4,"blockchain":"Internal","clientId":null,"identifier":null,"#,
            r#""quantity":"2.000000000","fee":"0.000000000","symbol":"SOL","status":"confirmed","#,
            r#""subaccountId":null,"toAddress":"administrator","transactionHash":null,"#,
            r#""createdAt":"2023-11-14T22:13:20.123","isInternal":true,"#,
            r#""account":"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=","#,
            r#""balance":{"available":"3.000000000","locked":"0.000000000","staked":"0"}}"#
        )
    );
    let withdrawal: bpx::capital::Withdrawal = serde_json::from_str(&body).unwrap();
    assert_eq!(withdrawal.blockchain, bpx::Blockchain::Internal);

    let freeze = Event {
        sequence: SequenceNumber(10),
        time_us: 0,
        kind: EventKind::FreezeChanged { account: AccountIndex(1), frozen: true },
    };
    let body =
        command(&config, Route::AdminFreeze, Method::Post, &key, &[freeze], &Extras::default());
    assert_eq!(
        body.unwrap(),
        r#"{"account":"A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=","frozen":true}"#
    );
    let rejected = Event {
        sequence: SequenceNumber(11),
        time_us: 0,
        kind: EventKind::Rejected { reason: RejectReason::AccountNotFound, client_id: 0 },
    };
    let error =
        command(&config, Route::AdminUnfreeze, Method::Post, &key, &[rejected], &Extras::default());
    assert_eq!(error.unwrap_err().message(), "Account not found");
}

fn extras(address: &[u8], client_id: Option<&[u8]>) -> Extras {
    let mut extras = Extras::default();
    extras.address[..address.len()].copy_from_slice(address);
    extras.address_len = address.len() as u8;
    if let Some(client_id) = client_id {
        extras.client_id[..client_id.len()].copy_from_slice(client_id);
        extras.client_id_len = client_id.len() as u8;
        extras.has_client_id = true;
    }
    extras
}

#[test]
fn user_withdrawal_golden() {
    let config = Config::embedded_default();
    let events = [transfer_event(TransferKind::Withdrawal, 3, SOL, 1_500_000_000, 0)];
    let no_client = extras(b"<address>", None);
    let body =
        command(&config, Route::Withdrawals, Method::Post, &vector_key(), &events, &no_client);
    let body = body.unwrap();
    assert_eq!(
        body,
        concat!(
            r#"{"id":3,"blockchain":"Solana","clientId":null,"identifier":null,"#,
            r#""quantity":"1.500000000","fee":"0.000000000","symbol":"SOL","status":"confirmed","#,
            r#""subaccountId":null,"toAddress":"<address>","transactionHash":null,"#,
            r#""createdAt":"2023-11-14T22:13:20.123","isInternal":false}"#
        )
    );
    let with_client = extras(b"So1\"ana\\", Some(b"w-42"));
    let body =
        command(&config, Route::Withdrawals, Method::Post, &vector_key(), &events, &with_client);
    let withdrawal: bpx::capital::Withdrawal = serde_json::from_str(&body.unwrap()).unwrap();
    assert_eq!(withdrawal.to_address, "So1\"ana\\");
    assert_eq!(withdrawal.client_id.as_deref(), Some("w-42"));
    assert_eq!(withdrawal.status, bpx::capital::WithdrawalStatus::Confirmed);
    assert_eq!(withdrawal.quantity, decimal("1.5"));
}

#[test]
fn admin_state_golden() {
    let config = Config::embedded_default();
    let state_hash = 0x9f2c_0000_0000_0000_0000_0000_0000_00a1u128;
    let mut events = vec![Event {
        sequence: SequenceNumber(0),
        time_us: 0,
        kind: EventKind::StateSummary {
            sequence: SequenceNumber(5123),
            state_hash,
            accounts: 3,
            open_orders: 12,
        },
    }];
    events.push(Event {
        sequence: SequenceNumber(0),
        time_us: 0,
        kind: EventKind::AssetTotals {
            asset: USDC,
            available: usdc(2_999_000),
            locked: usdc(1_000),
            deposited: usdc(3_000_000),
            withdrawn: 0,
            fees: 188_125,
        },
    });
    let reply = Reply { route: Route::AdminState, method: Method::Get, ..Reply::default() };
    let answer = CommandAnswer {
        reply: &reply,
        account: &vector_key(),
        sequence: SequenceNumber(0),
        events: &events,
        extras: &Extras::default(),
        durable_sequence: SequenceNumber(5120),
    };
    let mut out = Vec::new();
    render_command(&mut out, &config, &answer).unwrap();
    assert_eq!(
        text(out),
        concat!(
            r#"{"sequence":5123,"durableSequence":5120,"#,
            r#""stateHash":"9f2c00000000000000000000000000a1","accounts":3,"openOrders":12,"#,
            r#""totals":{"USDC":{"available":"2999000.000000","locked":"1000.000000","#,
            r#""deposited":"3000000.000000","withdrawn":"0.000000","fees":"0.188125"}}}"#
        )
    );
    assert_eq!(std::str::from_utf8(&hex_u128(state_hash)).unwrap(), format!("{state_hash:032x}"));
}

// -------------------------------------------------------------------------------------------------
// Histories.

#[test]
fn fill_golden() {
    let config = Config::embedded_default();
    let fill = FillRecord {
        trade_id: 88,
        order_id: OrderId(1_099_511_627_776),
        client_id: Some(ClientId(42)),
        market: SOL_USDC,
        side: Side::Bid,
        is_maker: true,
        fee_asset: SOL,
        price: PriceTicks(15050),
        quantity: QuantitySteps(125),
        fee: 1_250_000,
        time_us: 1_700_000_000_123_999,
    };
    let mut out = Vec::new();
    write_fill(&mut JsonWriter::new(&mut out), &config, &fill);
    assert_eq!(
        text(out),
        concat!(
            r#"{"tradeId":88,"orderId":"1099511627776","clientId":"42","symbol":"SOL_USDC","#,
            r#""side":"Bid","price":"150.50","quantity":"1.25","fee":"0.001250000","#,
            r#""feeSymbol":"SOL","isMaker":true,"systemOrderType":null,"#,
            r#""timestamp":"2023-11-14T22:13:20.123"}"#
        )
    );
}

#[test]
fn histories_in_rust_types() {
    let mut h = Harness::funded();
    let bid = PlaceOrder { client_id: Some(ClientId(5)), ..limit(Side::Bid, 15000, 200) };
    h.run(ALICE, Action::Place(bid)); // 7
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 50))); // 8: fills 7 partially
    h.run(ALICE, Action::Place(market(Side::Bid, 0, usdc(10)))); // 9: no ask left: expires
    h.run_with(ALICE, Action::Withdraw { asset: USDC, amount: usdc(5) }, &extras(b"addr", None));

    let all = HistoryFilter { limit: 0, ..HistoryFilter::default() };
    let body = read(&h, ALICE, ReadQuery::FillHistory(all), 0);
    let fills: Vec<bpx::fill::Fill> = serde_json::from_str(&body).unwrap();
    assert_eq!(fills.len(), 1);
    assert_eq!((fills[0].trade_id, fills[0].order_id.as_str()), (Some(1), "7"));
    assert_eq!((fills[0].client_id.as_deref(), fills[0].is_maker), (Some("5"), true));
    assert_eq!((fills[0].fee_symbol.as_str(), fills[0].fee), ("SOL", decimal("0.000500000")));
    assert_eq!(fills[0].quantity, decimal("0.50"));

    let body = read(&h, ALICE, ReadQuery::OrderHistory(all), 0);
    let mut orders: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(orders.len(), 2);
    // createdAt is naive ISO here; as ms it is a plain REST Order.
    let created_at = orders[1]["createdAt"].as_str().unwrap().to_string();
    assert_eq!(created_at, "2023-11-14T22:13:20.006");
    for order in &mut orders {
        order["createdAt"] = serde_json::json!(0);
    }
    let market = match serde_json::from_value(orders[0].clone()).unwrap() {
        bpx::order::Order::Market(order) => order,
        other => panic!("{other:?}"),
    };
    assert_eq!((market.id.as_str(), market.status), ("9", bpx::order::OrderStatus::Expired));
    assert!(body.contains(r#""expiryReason":"InsufficientLiquidity""#));
    let limit = match serde_json::from_value(orders[1].clone()).unwrap() {
        bpx::order::Order::Limit(order) => order,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (limit.status, limit.executed_quantity),
        (bpx::order::OrderStatus::PartiallyFilled, decimal("0.50"))
    );

    let body = read(&h, ALICE, ReadQuery::Withdrawals(all), 0);
    let withdrawals: Vec<bpx::capital::Withdrawal> = serde_json::from_str(&body).unwrap();
    assert_eq!((withdrawals[0].id, withdrawals[0].to_address.as_str()), (1, "addr"));
    let body = read(&h, ALICE, ReadQuery::Deposits(all), 0);
    let deposits: Vec<bpx::capital::Deposit> = serde_json::from_str(&body).unwrap();
    assert_eq!(deposits.iter().map(|deposit| deposit.id).collect::<Vec<_>>(), vec![2, 1]);
    assert!(!body.contains("account") && !body.contains("balance"));
    let oldest = HistoryFilter { limit: 1, ascending: true, ..all };
    let body = read(&h, ALICE, ReadQuery::Deposits(oldest), 0);
    assert!(body.starts_with(r#"[{"id":1,"#), "{body}");
}

#[test]
fn order_in_a_fill_event_is_the_takers_own() {
    // A taker's last own event decides its answer even when a maker's event comes after it.
    let own = api_md_order_state();
    let taker = OrderState {
        status: OrderStatus::PartiallyFilled,
        executed_quantity: QuantitySteps(25),
        ..own
    };
    let maker = OrderState { order_id: OrderId(5), side: Side::Ask, ..own };
    let fill = |order, is_maker| Fill {
        order,
        trade_id: 1,
        price: PriceTicks(15050),
        quantity: QuantitySteps(25),
        quote: 0,
        fee: 0,
        fee_asset: SOL,
        is_maker,
        counterparty: OrderId(0),
    };
    let event = |kind| Event { sequence: SequenceNumber(own.order_id.0), time_us: 0, kind };
    let events = [
        event(EventKind::OrderAccepted(own)),
        event(EventKind::OrderFill(fill(maker, true))),
        event(EventKind::OrderFill(fill(taker, false))),
        event(EventKind::OrderExpired { order: maker, reason: ExpiryReason::SelfTradePrevention }),
    ];
    let record = placed_order(&events, SequenceNumber(own.order_id.0)).unwrap();
    assert_eq!(record, OrderRecord { state: taker, expiry: None });
}
