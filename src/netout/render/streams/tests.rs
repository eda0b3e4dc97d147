//! Stream messages byte for byte (API.md §9's examples), and deserialized into Backpack's own
//! Rust WebSocket types (`bpx_api_client::types`, i.e. bpx-api-types 0.23) where it has one:
//! `OrderBookDepthUpdate` (depth), `TradeUpdate`, `TickerUpdate` (which is bookTicker's shape),
//! `OrderUpdate`. It has none for `ticker`, and its `KlineUpdate` wants integer `t`/`T` where
//! API.md sends ISO strings: those two are checked field by field as `serde_json::Value`.

use super::*;
use crate::command::{Action, OrderRef, PlaceOrder};
use crate::netout::test_support::*;
use crate::netout::view::Ohlcv;
use crate::records::{KlineInterval, TickerWindow};
use crate::types::{
    AccountIndex, ClientId, OrderId, OrderStatus, PriceTicks, QuantitySteps, SelfTradePrevention,
    SequenceNumber, TimeInForce,
};
use bpx_api_client::types as bpx;
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

/// API.md's `E` and `T`.
const E_US: u64 = 1_700_000_000_123_456;
const T_US: u64 = 1_700_000_000_123_400;

fn decimal(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn written(write: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    write(&mut out);
    String::from_utf8(out).unwrap()
}

fn level(price_ticks: u64, quantity_steps: u64) -> DepthLevel {
    DepthLevel { price: PriceTicks(price_ticks), quantity: QuantitySteps(quantity_steps) }
}

// -------------------------------------------------------------------------------------------------
// Envelope and errors.

#[test]
fn the_envelope_echoes_the_name_as_subscribed() {
    let config = Config::embedded_default();
    for name in [
        "depth.SOL_USDC",
        "depth.200ms.SOL_USDC",
        "trade.BTC_USDC",
        "bookTicker.ETH_USDC",
        "ticker.SOL_USDC",
        "kline.1month.BTC_USDC",
        "account.orderUpdate",
        "account.orderUpdate.SOL_USDC",
    ] {
        let stream = Stream::parse(name.as_bytes(), &config).unwrap();
        let message = written(|out| {
            begin_message(out, &config, &stream);
            write_stream_error(out, StreamError::InvalidStream);
            end_message(out);
        });
        let expected = format!(
            r#"{{"stream":"{name}","data":{{"id":null,"error":{{"code":4006,"message":"Invalid stream"}}}}}}"#
        );
        assert_eq!(message, expected);
        serde_json::from_str::<Value>(&message).unwrap();
    }
}

#[test]
fn error_frames() {
    let cases = [
        (StreamError::InvalidRequest, 4000, "Invalid request"),
        (StreamError::InvalidStream, 4006, "Invalid stream"),
        (StreamError::InvalidSignature, 4007, "Invalid signature"),
        (StreamError::TooManyStreams, 4008, "Too many streams"),
    ];
    for (error, code, message) in cases {
        let frame = written(|out| write_stream_error(out, error));
        let expected = format!(r#"{{"id":null,"error":{{"code":{code},"message":"{message}"}}}}"#);
        assert_eq!(frame, expected);
    }
}

// -------------------------------------------------------------------------------------------------
// Market streams: API.md's examples.

#[test]
fn depth_golden_and_rust_type() {
    let config = Config::embedded_default();
    let update = DepthUpdate {
        market: SOL_USDC,
        first_update_id: 1042,
        last_update_id: 1042,
        time_us: T_US,
        bids: &[level(15050, 250)],
        asks: &[],
    };
    let data = written(|out| write_depth(out, &config, &update, E_US));
    assert_eq!(
        data,
        concat!(
            r#"{"e":"depth","E":1700000000123456,"s":"SOL_USDC","a":[],"b":[["150.50","2.50"]],"#,
            r#""U":1042,"u":1042,"T":1700000000123400}"#
        )
    );
    // Deleted levels carry the zero at step scale; both sides ascending as given.
    let update = DepthUpdate { bids: &[level(15040, 0), level(15050, 250)], asks: &[], ..update };
    let update = DepthUpdate { asks: &[level(15060, 300), level(15070, 0)], ..update };
    let data = written(|out| write_depth(out, &config, &update, E_US));
    assert!(
        data.contains(r#""a":[["150.60","3.00"],["150.70","0.00"]],"b":[["150.40","0.00"],"#),
        "{data}"
    );
    let depth: bpx::markets::OrderBookDepthUpdate = serde_json::from_str(&data).unwrap();
    assert_eq!((depth.event_type.as_str(), depth.symbol.as_str()), ("depth", "SOL_USDC"));
    assert_eq!((depth.event_time, depth.timestamp), (E_US as i64, T_US as i64));
    assert_eq!((depth.first_update_id, depth.last_update_id), (1042, 1042));
    assert_eq!(depth.asks[1], (decimal("150.70"), Decimal::ZERO));
    assert_eq!(
        depth.bids,
        vec![(decimal("150.40"), Decimal::ZERO), (decimal("150.50"), decimal("2.5"))]
    );
}

fn maker_state(order_id: u64, side: Side) -> OrderState {
    OrderState {
        order_id: OrderId(order_id),
        account: AccountIndex(1),
        market: SOL_USDC,
        side,
        order_type: OrderType::Limit,
        time_in_force: TimeInForce::Gtc,
        self_trade_prevention: SelfTradePrevention::RejectTaker,
        post_only: false,
        status: OrderStatus::PartiallyFilled,
        client_id: None,
        price: PriceTicks(15050),
        quantity: QuantitySteps(250),
        quote_quantity: 0,
        executed_quantity: QuantitySteps(125),
        executed_quote: 188_125_000,
        created_at_us: T_US - 1_000_000,
    }
}

fn maker_fill(order: OrderState, trade_id: u64, counterparty: u64) -> Fill {
    Fill {
        order,
        trade_id,
        price: PriceTicks(15050),
        quantity: QuantitySteps(125),
        quote: 188_125_000,
        fee: 1_250_000,
        fee_asset: SOL,
        is_maker: true,
        counterparty: OrderId(counterparty),
    }
}

#[test]
fn trade_golden_and_rust_type() {
    let config = Config::embedded_default();
    let fill = maker_fill(maker_state(1_099_511_627_776, Side::Bid), 88, 1_099_511_627_801);
    let data = written(|out| write_trade(out, &config, &fill, T_US, E_US));
    assert_eq!(
        data,
        concat!(
            r#"{"e":"trade","E":1700000000123456,"s":"SOL_USDC","p":"150.50","q":"1.25","#,
            r#""b":"1099511627776","a":"1099511627801","t":88,"T":1700000000123400,"m":true}"#
        )
    );
    // A resting ask: the taker is the buyer.
    let fill = maker_fill(maker_state(5, Side::Ask), 89, 9);
    let data = written(|out| write_trade(out, &config, &fill, T_US, E_US));
    let trade: bpx::trade::TradeUpdate = serde_json::from_str(&data).unwrap();
    assert_eq!((trade.buyer_order_id.as_str(), trade.seller_order_id.as_str()), ("9", "5"));
    assert!(!trade.buyer_is_maker);
    assert_eq!((trade.trade_id, trade.event_time, trade.timestamp), (89, E_US as i64, T_US as i64));
    assert_eq!((trade.price, trade.quantity), (decimal("150.50"), decimal("1.25")));
}

#[test]
fn book_ticker_golden_and_rust_type() {
    let config = Config::embedded_default();
    let best = (Some(level(15050, 250)), Some(level(15060, 300)));
    let data = written(|out| write_book_ticker(out, &config, SOL_USDC, best, 1042, T_US, E_US));
    assert_eq!(
        data,
        concat!(
            r#"{"e":"bookTicker","E":1700000000123456,"s":"SOL_USDC","a":"150.60","A":"3.00","#,
            r#""b":"150.50","B":"2.50","u":1042,"T":1700000000123400}"#
        )
    );
    let ticker: bpx::markets::TickerUpdate = serde_json::from_str(&data).unwrap();
    assert_eq!((ticker.ask_price, ticker.bid_quantity), (decimal("150.60"), decimal("2.50")));
    assert_eq!((ticker.update_id, ticker.timestamp), (1042, T_US));
    // An empty side is "0"/"0".
    let best = (None, Some(level(15060, 300)));
    let data = written(|out| write_book_ticker(out, &config, SOL_USDC, best, 7, T_US, E_US));
    assert!(data.contains(r#""a":"150.60","A":"3.00","b":"0","B":"0","u":7,"#), "{data}");
    let ticker: bpx::markets::TickerUpdate = serde_json::from_str(&data).unwrap();
    assert_eq!((ticker.bid_price, ticker.bid_quantity), (Decimal::ZERO, Decimal::ZERO));
    let data = written(|out| write_book_ticker(out, &config, BTC_USDC, (None, None), 0, 0, 0));
    assert!(data.contains(r#""s":"BTC_USDC","a":"0","A":"0","b":"0","B":"0","u":0,"T":0}"#));
}

/// The keys of a data object with their JSON types, sorted by key (the golden bytes check the
/// order).
fn shape(data: &str) -> Vec<(String, &'static str)> {
    let value: serde_json::Map<String, Value> = serde_json::from_str(data).unwrap();
    let kind = |value: &Value| match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(number) if number.is_u64() => "u64",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    value.iter().map(|(key, value)| (key.clone(), kind(value))).collect()
}

fn expected_shape(fields: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
    let mut shape: Vec<_> = fields.iter().map(|&(key, kind)| (key.to_string(), kind)).collect();
    shape.sort();
    shape
}

#[test]
fn ticker_golden_and_field_types() {
    let config = Config::embedded_default();
    let window = Ohlcv {
        open: PriceTicks(15000),
        high: PriceTicks(15100),
        low: PriceTicks(14980),
        close: PriceTicks(15050),
        volume: QuantitySteps(1250),
        quote: 1_879_250_000,
        trades: 7,
    };
    let ticker = Ticker { window: Some(window), last_price: Some(PriceTicks(15050)) };
    let data = written(|out| write_ticker(out, &config, SOL_USDC, &ticker, 1_700_000_001_000_000));
    assert_eq!(
        data,
        concat!(
            r#"{"e":"ticker","E":1700000001000000,"s":"SOL_USDC","o":"150.00","c":"150.50","#,
            r#""h":"151.00","l":"149.80","v":"12.50","V":"1879.250000","n":7}"#
        )
    );
    let string = "string";
    assert_eq!(
        shape(&data),
        expected_shape(&[
            ("e", string),
            ("E", "u64"),
            ("s", string),
            ("o", string),
            ("c", string),
            ("h", string),
            ("l", string),
            ("v", string),
            ("V", string),
            ("n", "u64"),
        ])
    );
    // No trade in the window: the last price four times, zero volumes (as REST).
    let quiet = Ticker { window: None, last_price: Some(PriceTicks(14950)) };
    let data = written(|out| write_ticker(out, &config, SOL_USDC, &quiet, 1));
    assert!(data.ends_with(
        r#""o":"149.50","c":"149.50","h":"149.50","l":"149.50","v":"0.00","V":"0.000000","n":0}"#
    ));
    let never = Ticker { window: None, last_price: None };
    let data = written(|out| write_ticker(out, &config, BTC_USDC, &never, 1));
    assert!(data.ends_with(
        r#""o":"0.0","c":"0.0","h":"0.0","l":"0.0","v":"0.00000","V":"0.000000","n":0}"#
    ));
}

#[test]
fn kline_golden_and_field_types() {
    let config = Config::embedded_default();
    let stats = Ohlcv {
        open: PriceTicks(15000),
        high: PriceTicks(15050),
        low: PriceTicks(15000),
        close: PriceTicks(15050),
        volume: QuantitySteps(250),
        quote: 375_625_000,
        trades: 2,
    };
    // 2023-11-14T22:13:00 .. 22:14:00.
    let kline = Kline { start_s: 1_699_999_980, end_s: 1_700_000_040, stats };
    let data =
        written(|out| write_kline(out, &config, SOL_USDC, &kline, false, 1_700_000_030_000_000));
    assert_eq!(
        data,
        concat!(
            r#"{"e":"kline","E":1700000030000000,"s":"SOL_USDC","t":"2023-11-14T22:13:00","#,
            r#""T":"2023-11-14T22:14:00","o":"150.00","c":"150.50","h":"150.50","l":"150.00","#,
            r#""v":"2.50","n":2,"X":false}"#
        )
    );
    let string = "string";
    assert_eq!(
        shape(&data),
        expected_shape(&[
            ("e", string),
            ("E", "u64"),
            ("s", string),
            ("t", string),
            ("T", string),
            ("o", string),
            ("c", string),
            ("h", string),
            ("l", string),
            ("v", string),
            ("n", "u64"),
            ("X", "bool"),
        ])
    );
    let data = written(|out| write_kline(out, &config, SOL_USDC, &kline, true, 0));
    assert!(data.ends_with(r#""n":2,"X":true}"#));
}

// -------------------------------------------------------------------------------------------------
// account.orderUpdate.

#[test]
fn order_update_golden() {
    let config = Config::embedded_default();
    let order =
        OrderState { client_id: Some(ClientId(43)), ..maker_state(1_099_511_627_790, Side::Bid) };
    let event = Event {
        sequence: SequenceNumber(1_099_511_627_801),
        time_us: T_US,
        kind: EventKind::OrderFill(maker_fill(order, 89, 1_099_511_627_801)),
    };
    let data = written(|out| assert!(write_order_update(out, &config, &event, E_US)));
    let expected = concat!(
        r#"{"e":"orderFill","E":1700000000123456,"s":"SOL_USDC","c":43,"S":"Bid","o":"LIMIT","#,
        r#""f":"GTC","q":"2.50","Q":"376.250000","p":"150.50","y":false,"X":"PartiallyFilled","#,
        r#""i":"1099511627790","t":89,"l":"1.25","L":"150.50","m":true,"n":"0.001250000","#,
        r#""N":"SOL","z":"1.25","Z":"188.125000","V":"RejectTaker","T":1700000000123400,"#,
        r#""O":"USER","r":false}"#
    );
    assert_eq!(data, expected);
    let update: bpx::order::OrderUpdate = serde_json::from_str(&data).unwrap();
    assert!(matches!(update.event_type, bpx::order::OrderUpdateType::OrderFill));
    assert_eq!((update.client_order_id, update.trade_id), (Some(43), Some(89)));
    assert_eq!(update.order_type, bpx::order::OrderType::Limit);
    assert_eq!(update.quantity_in_quote, Some(decimal("376.25")));
    assert_eq!((update.fee, update.fee_symbol.as_deref()), (Some(decimal("0.00125")), Some("SOL")));
    // The whole message.
    let stream = Stream::OrderUpdate { market: None };
    let message = written(|out| {
        begin_message(out, &config, &stream);
        write_order_update(out, &config, &event, E_US);
        end_message(out);
    });
    assert_eq!(message, format!(r#"{{"stream":"account.orderUpdate","data":{expected}}}"#));
}

fn order_update(config: &Config, event: &Event) -> (String, bpx::order::OrderUpdate) {
    let data = written(|out| assert!(write_order_update(out, config, event, E_US)));
    let update = serde_json::from_str(&data).unwrap_or_else(|error| panic!("{error}: {data}"));
    for key in ["I", "H", "P", "B", "a", "b", "d", "g", "Y"] {
        assert!(!data.contains(&format!(r#""{key}":"#)), "{key} in {data}");
    }
    (data, update)
}

#[test]
fn order_updates_of_real_commands() {
    let mut h = Harness::funded();
    let ask = PlaceOrder { client_id: Some(ClientId(7)), ..limit(Side::Ask, 15000, 300) };
    let events = h.run(BOB, Action::Place(ask)); // order 7
    let (data, accepted) = order_update(&h.config, &events[0]);
    assert!(data.starts_with(r#"{"e":"orderAccepted","E":1700000000123456,"s":"SOL_USDC","c":7,"#));
    assert!(data.contains(r#""q":"3.00","Q":"450.000000","p":"150.00","y":false,"X":"New","#));
    assert!(data.contains(r#""i":"7","t":null,"z":"0.00","Z":"0.000000","V":"RejectTaker","#));
    assert_eq!(accepted.timestamp, T0_US as i64 + 6_000);
    // An IOC bid through the ask: accepted, the maker's fill, the taker's, the remainder expires.
    let bid = PlaceOrder { time_in_force: TimeInForce::Ioc, ..limit(Side::Bid, 15100, 400) };
    let events = h.run(ALICE, Action::Place(bid)); // order 8
    let updates: Vec<_> = events.iter().map(|event| order_update(&h.config, event)).collect();
    let kinds: Vec<Value> = updates
        .iter()
        .map(|(data, _)| serde_json::from_str::<Value>(data).unwrap()["e"].clone())
        .collect();
    assert_eq!(kinds, ["orderAccepted", "orderFill", "orderFill", "orderExpired"]);
    let (maker_data, maker) = &updates[1];
    assert_eq!((maker.order_id.as_str(), maker.was_maker), ("7", Some(true)));
    assert_eq!(maker.order_status, bpx::order::OrderStatus::Filled);
    assert_eq!((maker.fill_quantity, maker.fill_price), (Some(decimal("3")), Some(decimal("150"))));
    assert_eq!((maker.fee, maker.fee_symbol.as_deref()), (Some(decimal("0.45")), Some("USDC")));
    assert!(maker_data.contains(r#""t":1,"l":"3.00","L":"150.00","m":true,"n":"0.450000","#));
    let (_, taker) = &updates[2];
    assert_eq!((taker.order_id.as_str(), taker.was_maker), ("8", Some(false)));
    assert_eq!(taker.order_status, bpx::order::OrderStatus::PartiallyFilled);
    assert_eq!((taker.fee, taker.fee_symbol.as_deref()), (Some(decimal("0.006")), Some("SOL")));
    assert_eq!(taker.time_in_force, bpx::order::TimeInForce::IOC);
    let (expired_data, expired) = &updates[3];
    assert_eq!(expired.order_status, bpx::order::OrderStatus::Expired);
    assert_eq!(expired.order_expiry_reason.as_deref(), Some("ImmediateOrCancel"));
    assert_eq!((expired.trade_id, expired.fill_quantity), (None, None));
    assert!(expired_data.contains(r#""t":null,"R":"ImmediateOrCancel","z":"3.00","#));
    // The trade, the depth update and the top of the book of that command.
    let fill = match events[1].kind {
        EventKind::OrderFill(fill) => fill,
        other => panic!("{other:?}"),
    };
    let data = written(|out| write_trade(out, &h.config, &fill, events[1].time_us, E_US));
    let trade: bpx::trade::TradeUpdate = serde_json::from_str(&data).unwrap();
    assert_eq!((trade.buyer_order_id.as_str(), trade.seller_order_id.as_str()), ("8", "7"));
    assert!(!trade.buyer_is_maker);
    let update = h.view.last_depth_update(SOL_USDC).unwrap();
    let data = written(|out| write_depth(out, &h.config, &update, E_US));
    assert!(data.contains(r#""a":[["150.00","0.00"]],"b":[],"U":2,"u":2,"#), "{data}");
    let depth: bpx::markets::OrderBookDepthUpdate = serde_json::from_str(&data).unwrap();
    assert_eq!(depth.first_update_id, 2);
    let best = h.view.best_bid_ask(SOL_USDC);
    let update_id = h.view.update_id(SOL_USDC);
    let data = written(|out| write_book_ticker(out, &h.config, SOL_USDC, best, update_id, 0, 0));
    assert!(data.contains(r#""a":"0","A":"0","b":"0","B":"0","u":2,"#), "{data}");
    // A market bid by quote: q "0", Q the budget, no p or y; it buys 0.10 and runs dry.
    h.run(BOB, Action::Place(limit(Side::Ask, 15000, 10))); // order 9
    let events = h.run(CAROL, Action::Place(market(Side::Bid, 0, usdc(100)))); // order 10
    let (data, update) = order_update(&h.config, &events[0]);
    assert!(data.contains(r#""o":"MARKET","f":"GTC","q":"0","Q":"100.000000","X":"New","#));
    assert_eq!((update.quantity, update.price), (Decimal::ZERO, None));
    assert_eq!(update.order_type, bpx::order::OrderType::Market);
    let (data, _) = order_update(&h.config, events.last().unwrap());
    assert!(data.starts_with(r#"{"e":"orderExpired""#), "{data}");
    // A market ask by quantity: no Q. A cancel.
    h.run(ALICE, Action::Place(limit(Side::Bid, 14000, 500))); // order 11
    let events = h.run(CAROL, Action::Place(market(Side::Ask, 50, 0)));
    let (data, _) = order_update(&h.config, &events[0]);
    assert!(data.contains(r#""o":"MARKET","f":"GTC","q":"0.50","X":"New","#), "{data}");
    let cancel = Action::Cancel { market: SOL_USDC, target: OrderRef::Id(OrderId(11)) };
    let events = h.run(ALICE, cancel);
    let (_, cancelled) = order_update(&h.config, &events[0]);
    assert!(matches!(cancelled.event_type, bpx::order::OrderUpdateType::OrderCancelled));
    assert_eq!(cancelled.order_status, bpx::order::OrderStatus::Cancelled);
    assert_eq!(cancelled.executed_quantity, decimal("0.5"));
    // Anything else writes nothing.
    let events = h.run(ALICE, Action::Deposit { asset: USDC, amount: usdc(1) });
    let mut out = b"kept".to_vec();
    assert!(events.iter().all(|event| !write_order_update(&mut out, &h.config, event, 0)));
    assert_eq!(out, b"kept");
}

#[test]
fn no_allocation_once_capacity_suffices() {
    let mut h = Harness::funded();
    h.trade_at(T0_US / 1_000_000 + 60, 15000, 125);
    let config = h.config.clone();
    let events = h.run(ALICE, Action::Place(limit(Side::Bid, 14900, 10)));
    let update = h.view.last_depth_update(SOL_USDC).unwrap();
    let ticker = h.view.ticker(SOL_USDC, TickerWindow::Day, T0_US + 61_000_000);
    let stream = Stream::Kline { market: SOL_USDC, interval: KlineInterval::Month };
    let fill = maker_fill(maker_state(1, Side::Bid), 1, 2);
    let kline = Kline { start_s: 0, end_s: 60, stats: ticker.shown() };
    let mut out = Vec::with_capacity(4_096);
    let pointer = out.as_ptr();
    for _ in 0..3 {
        out.clear();
        begin_message(&mut out, &config, &stream);
        write_depth(&mut out, &config, &update, E_US);
        write_trade(&mut out, &config, &fill, T_US, E_US);
        write_book_ticker(&mut out, &config, SOL_USDC, h.view.best_bid_ask(SOL_USDC), 1, 2, 3);
        write_ticker(&mut out, &config, SOL_USDC, &ticker, E_US);
        write_kline(&mut out, &config, SOL_USDC, &kline, true, E_US);
        for event in &events {
            write_order_update(&mut out, &config, event, E_US);
        }
        write_stream_error(&mut out, StreamError::TooManyStreams);
        end_message(&mut out);
    }
    assert_eq!((out.as_ptr(), out.capacity()), (pointer, 4_096), "the buffer was reallocated");
}
