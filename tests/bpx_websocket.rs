//! Backpack's official Rust client (`bpx-api-client` 0.23, `ws` feature) subscribed to ringex's
//! WebSocket streams with its own typed messages (`bpx_api_client::types`): `depth`, `trade`,
//! `bookTicker` and the private, client-signed `account.orderUpdate` of two accounts, while
//! those accounts place, fill and cancel orders through REST (API.md §9, §10).
//!
//! There is no subscribe ack, so the test first repeats a probe (a 1.00 × 0.01 bid crossed by an
//! equal ask) until every channel has delivered that probe's last event, bounded in time; every
//! channel is then exactly at a known point and the scenario's events are checked one by one.

mod common;

use bpx_api_client::BpxClient;
use bpx_api_client::types::markets::{OrderBookDepthUpdate, TickerUpdate};
use bpx_api_client::types::order::{
    ExecuteOrderPayload, LimitOrder, Order, OrderStatus, OrderType, OrderUpdate, OrderUpdateType,
    SelfTradePrevention, Side, TimeInForce,
};
use bpx_api_client::types::trade::TradeUpdate;
use common::{TestDir, TestServer, admin_post, options, public_key, user_secret};
use rust_decimal::Decimal;
use serde_json::json;
use std::str::FromStr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{Receiver, channel};
use tokio::time::timeout;

/// The bound on any one expected message (never a synchronisation).
const WAIT: Duration = Duration::from_secs(10);
/// The bound on the whole probe phase (the subscriptions becoming live).
const SYNC_WAIT: Duration = Duration::from_secs(20);
/// How long one probe waits for its last events before the next probe is sent.
const PROBE_WAIT: Duration = Duration::from_millis(500);

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn limit(side: Side, price: &str, quantity: &str, client_id: u32) -> ExecuteOrderPayload {
    ExecuteOrderPayload {
        symbol: "SOL_USDC".into(),
        side,
        order_type: OrderType::Limit,
        price: Some(dec(price)),
        quantity: Some(dec(quantity)),
        time_in_force: Some(TimeInForce::GTC),
        client_id: Some(client_id),
        ..ExecuteOrderPayload::default()
    }
}

fn as_limit(order: Order) -> LimitOrder {
    match order {
        Order::Limit(order) => order,
        Order::Market(order) => panic!("a limit order, not {order:?}"),
    }
}

fn fund(server: &TestServer, secret: &str, symbol: &str, quantity: &str) {
    let body = json!({"account": public_key(secret), "symbol": symbol, "quantity": quantity});
    let (status, answer) =
        admin_post(server.address, "/api/v1/admin/deposit", "adminDeposit", body);
    assert_eq!(status, 200, "{answer}");
}

/// The next message of a channel, within [`WAIT`].
async fn next<T>(receiver: &mut Receiver<T>, what: &str) -> T {
    match timeout(WAIT, receiver.recv()).await {
        Ok(Some(message)) => message,
        Ok(None) => panic!("the {what} subscription ended (its connection closed)"),
        // (The client drops, with only a log line, a message its type cannot parse.)
        Err(_) => panic!("no {what} message within {WAIT:?} (or none bpx-api-types could parse)"),
    }
}

/// Discards messages until one satisfies `wanted` (returned), or `None` after `bound`.
async fn until<T>(
    receiver: &mut Receiver<T>,
    bound: Duration,
    wanted: impl Fn(&T) -> bool,
) -> Option<T> {
    timeout(bound, async {
        loop {
            match receiver.recv().await {
                Some(message) if wanted(&message) => return message,
                Some(_) => continue,
                None => panic!("a subscription ended (its connection closed)"),
            }
        }
    })
    .await
    .ok()
}

/// The five subscriptions, each on its own connection of the official client.
struct Streams {
    depth: Receiver<OrderBookDepthUpdate>,
    trade: Receiver<TradeUpdate>,
    ticker: Receiver<TickerUpdate>,
    alice: Receiver<OrderUpdate>,
    bob: Receiver<OrderUpdate>,
}

fn subscribe<T>(client: &BpxClient, stream: &'static str) -> Receiver<T>
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    let (sender, receiver) = channel(1024);
    let client = client.clone();
    tokio::spawn(async move {
        client.subscribe::<T>(stream, sender).await.expect("the subscription runs");
    });
    receiver
}

/// What one probe produced and where it left every channel.
struct Probe {
    update_id: u64,
    trade_id: u64,
}

/// Places one probe (Alice bids 1.00 × 0.01, Bob asks the same, they trade) and waits, up to
/// [`PROBE_WAIT`], for the last event the probe causes on every channel, discarding what comes
/// before it. `Some` once every channel delivered it: each channel then stands just past the
/// probe, with nothing of it left to come.
async fn probe(
    alice: &BpxClient,
    bob: &BpxClient,
    streams: &mut Streams,
    number: u32,
) -> Option<Probe> {
    // A client id per probe keeps every signing string new (no 409 within one millisecond).
    let bid =
        as_limit(alice.execute_order(limit(Side::Bid, "1.00", "0.01", number)).await.unwrap());
    let ask = as_limit(bob.execute_order(limit(Side::Ask, "1.00", "0.01", number)).await.unwrap());
    assert_eq!((bid.status, ask.status), (OrderStatus::New, OrderStatus::Filled));
    // Reads go through the pipeline: this snapshot includes the ask's update.
    let update_id = alice.get_order_book_depth("SOL_USDC", None).await.unwrap().last_update_id;
    let update_id = u64::try_from(update_id).unwrap();
    let (depth, trade, ticker, alice_fill, bob_fill) = tokio::join!(
        until(&mut streams.depth, PROBE_WAIT, |m| m.last_update_id as u64 >= update_id),
        until(&mut streams.trade, PROBE_WAIT, |m| m.seller_order_id == ask.id),
        until(&mut streams.ticker, PROBE_WAIT, |m| m.update_id >= update_id),
        until(&mut streams.alice, PROBE_WAIT, |m| {
            m.order_id == bid.id && m.order_status == OrderStatus::Filled
        }),
        until(&mut streams.bob, PROBE_WAIT, |m| {
            m.order_id == ask.id && m.order_status == OrderStatus::Filled
        }),
    );
    let (depth, trade, ticker) = (depth?, trade?, ticker?);
    let (_, _) = (alice_fill?, bob_fill?);
    assert_eq!(depth.last_update_id as u64, update_id, "the probe's last depth message");
    assert_eq!(ticker.update_id, update_id, "the probe's last bookTicker");
    assert_eq!((ticker.bid_price, ticker.ask_price), (dec("0"), dec("0")), "an empty book");
    Some(Probe { update_id, trade_id: trade.trade_id })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_client_streams_follow_rest_orders() {
    let dir = TestDir::new("bpx-ws");
    let server = TestServer::start(common::small_orders(options(dir.0.clone())));
    let (alice_secret, bob_secret) = (user_secret(41), user_secret(42));
    fund(&server, &alice_secret, "USDC", "10000");
    fund(&server, &bob_secret, "SOL", "100");
    let client = |secret: &str| {
        BpxClient::builder()
            .base_url(&server.base_url)
            .ws_url(format!("ws://{}", server.address))
            .secret(secret)
            .build()
            .unwrap()
    };
    let (alice, bob) = (client(&alice_secret), client(&bob_secret));

    let mut streams = Streams {
        depth: subscribe(&alice, "depth.SOL_USDC"),
        trade: subscribe(&alice, "trade.SOL_USDC"),
        ticker: subscribe(&alice, "bookTicker.SOL_USDC"),
        alice: subscribe(&alice, "account.orderUpdate"),
        bob: subscribe(&bob, "account.orderUpdate.SOL_USDC"),
    };

    // Synchronise: probe until every channel has delivered the same probe's last event.
    let started = Instant::now();
    let mut probes = 0u32;
    let mut last = loop {
        assert!(
            started.elapsed() < SYNC_WAIT,
            "the streams were not all live after {probes} probes in {SYNC_WAIT:?}"
        );
        probes += 1;
        if let Some(probe) = probe(&alice, &bob, &mut streams, probes).await {
            break probe;
        }
    };
    println!("streams live after {probes} probe(s), {:?}", started.elapsed());

    // 1. Alice bids 2 at 150.50: it rests.
    let bid = alice.execute_order(limit(Side::Bid, "150.50", "2", 4242)).await.unwrap();
    let bid = as_limit(bid);
    assert_eq!((bid.status, bid.client_id), (OrderStatus::New, Some(4242)));

    let depth = next(&mut streams.depth, "depth").await;
    assert_eq!((depth.event_type.as_str(), depth.symbol.as_str()), ("depth", "SOL_USDC"));
    assert_eq!(depth.first_update_id as u64, last.update_id + 1, "U = previous u + 1");
    assert_eq!(depth.last_update_id, depth.first_update_id, "one operation, one update");
    assert_eq!(depth.bids, vec![(dec("150.50"), dec("2"))]);
    assert!(depth.asks.is_empty(), "{depth:?}");
    let bid_update = depth.last_update_id as u64;
    let bid_time_us = depth.timestamp;

    let ticker = next(&mut streams.ticker, "bookTicker").await;
    assert_eq!(ticker.event_type, "bookTicker");
    assert_eq!((ticker.bid_price, ticker.bid_quantity), (dec("150.50"), dec("2")));
    assert_eq!((ticker.ask_price, ticker.ask_quantity), (dec("0"), dec("0")), "empty side");
    assert_eq!((ticker.update_id, ticker.timestamp as i64), (bid_update, bid_time_us));

    let accepted = next(&mut streams.alice, "Alice's orderUpdate").await;
    assert!(matches!(accepted.event_type, OrderUpdateType::OrderAccepted), "{accepted:?}");
    assert_eq!(accepted.order_id, bid.id);
    assert_eq!(accepted.order_status, OrderStatus::New);
    assert_eq!((accepted.symbol.as_str(), accepted.side), ("SOL_USDC", Side::Bid));
    assert_eq!(accepted.order_type, OrderType::Limit);
    assert_eq!(accepted.time_in_force, TimeInForce::GTC);
    assert_eq!(accepted.client_order_id, Some(4242));
    assert_eq!((accepted.quantity, accepted.price), (dec("2"), Some(dec("150.50"))));
    assert_eq!(accepted.quantity_in_quote, Some(dec("301")));
    assert_eq!(
        (accepted.executed_quantity, accepted.executed_quantity_in_quote),
        (dec("0"), dec("0"))
    );
    assert_eq!(accepted.self_trade_prevention, SelfTradePrevention::RejectTaker);
    assert_eq!(accepted.origin_of_the_update, "USER");
    assert_eq!((accepted.trade_id, accepted.fill_quantity), (None, None));
    assert_eq!(accepted.timestamp, bid_time_us, "T: the command's engine time");
    assert_eq!(accepted.timestamp / 1000, bid.created_at, "createdAt is T in ms");

    // 2. Bob asks 1.25 at 150.00: it trades 1.25 at the maker's 150.50 and is filled; Alice's
    // bid is partially filled.
    let ask = bob.execute_order(limit(Side::Ask, "150.00", "1.25", 4343)).await.unwrap();
    let ask = as_limit(ask);
    assert_eq!(ask.status, OrderStatus::Filled);
    assert_eq!((ask.executed_quantity, ask.executed_quote_quantity), (dec("1.25"), dec("188.125")));

    let trade = next(&mut streams.trade, "trade").await;
    assert_eq!((trade.event_type.as_str(), trade.symbol.as_str()), ("trade", "SOL_USDC"));
    assert_eq!((trade.price, trade.quantity), (dec("150.50"), dec("1.25")));
    assert_eq!((&trade.buyer_order_id, &trade.seller_order_id), (&bid.id, &ask.id));
    assert_eq!(trade.trade_id, last.trade_id + 1, "trade ids count per market");
    assert!(trade.buyer_is_maker, "the resting bid made the trade");

    let depth = next(&mut streams.depth, "depth").await;
    assert_eq!(depth.first_update_id as u64, bid_update + 1, "U = previous u + 1");
    assert_eq!(depth.last_update_id, depth.first_update_id);
    assert_eq!(depth.bids, vec![(dec("150.50"), dec("0.75"))], "the absolute quantity left");
    assert!(depth.asks.is_empty(), "the ask never rested: {depth:?}");
    assert_eq!(trade.timestamp, depth.timestamp, "one command, one engine time");
    let ask_update = depth.last_update_id as u64;

    let ticker = next(&mut streams.ticker, "bookTicker").await;
    assert_eq!((ticker.bid_price, ticker.bid_quantity), (dec("150.50"), dec("0.75")));
    assert_eq!((ticker.ask_price, ticker.ask_quantity), (dec("0"), dec("0")));
    assert_eq!(ticker.update_id, ask_update);

    let maker = next(&mut streams.alice, "Alice's orderUpdate").await;
    assert!(matches!(maker.event_type, OrderUpdateType::OrderFill), "{maker:?}");
    assert_eq!(
        (maker.order_id.as_str(), maker.order_status),
        (bid.id.as_str(), OrderStatus::PartiallyFilled)
    );
    assert_eq!(maker.trade_id, Some(trade.trade_id));
    assert_eq!((maker.fill_quantity, maker.fill_price), (Some(dec("1.25")), Some(dec("150.50"))));
    assert_eq!(maker.was_maker, Some(true));
    assert_eq!(
        (maker.executed_quantity, maker.executed_quantity_in_quote),
        (dec("1.25"), dec("188.125"))
    );
    assert_eq!((maker.fee, maker.fee_symbol.as_deref()), (Some(dec("0.00125")), Some("SOL")));
    assert_eq!((maker.quantity, maker.price), (dec("2"), Some(dec("150.50"))));

    let accepted = next(&mut streams.bob, "Bob's orderUpdate").await;
    assert!(matches!(accepted.event_type, OrderUpdateType::OrderAccepted), "{accepted:?}");
    assert_eq!(
        (accepted.order_id.as_str(), accepted.order_status),
        (ask.id.as_str(), OrderStatus::New)
    );
    assert_eq!((accepted.side, accepted.client_order_id), (Side::Ask, Some(4343)));
    assert_eq!((accepted.quantity, accepted.price), (dec("1.25"), Some(dec("150.00"))));
    let taker = next(&mut streams.bob, "Bob's orderUpdate").await;
    assert!(matches!(taker.event_type, OrderUpdateType::OrderFill), "{taker:?}");
    assert_eq!(
        (taker.order_id.as_str(), taker.order_status),
        (ask.id.as_str(), OrderStatus::Filled)
    );
    assert_eq!(taker.trade_id, Some(trade.trade_id));
    assert_eq!((taker.fill_quantity, taker.fill_price), (Some(dec("1.25")), Some(dec("150.50"))));
    assert_eq!(taker.was_maker, Some(false));
    assert_eq!(
        (taker.executed_quantity, taker.executed_quantity_in_quote),
        (dec("1.25"), dec("188.125"))
    );
    // 0.2 % taker fee on the 188.125 USDC received.
    assert_eq!((taker.fee, taker.fee_symbol.as_deref()), (Some(dec("0.37625")), Some("USDC")));
    assert_eq!(taker.timestamp, maker.timestamp);

    // 3. Alice cancels the rest.
    let cancelled = as_limit(alice.cancel_order("SOL_USDC", Some(&bid.id), None).await.unwrap());
    assert_eq!(
        (cancelled.status, cancelled.executed_quantity),
        (OrderStatus::Cancelled, dec("1.25"))
    );

    let depth = next(&mut streams.depth, "depth").await;
    assert_eq!(depth.first_update_id as u64, ask_update + 1, "U = previous u + 1");
    assert_eq!(depth.last_update_id, depth.first_update_id);
    assert_eq!(depth.bids, vec![(dec("150.50"), dec("0"))], "zero deletes the level");
    assert!(depth.asks.is_empty(), "{depth:?}");
    let cancel_update = depth.last_update_id as u64;

    let ticker = next(&mut streams.ticker, "bookTicker").await;
    assert_eq!((ticker.bid_price, ticker.bid_quantity), (dec("0"), dec("0")), "empty again");
    assert_eq!((ticker.ask_price, ticker.ask_quantity), (dec("0"), dec("0")));
    assert_eq!(ticker.update_id, cancel_update);

    let gone = next(&mut streams.alice, "Alice's orderUpdate").await;
    assert!(matches!(gone.event_type, OrderUpdateType::OrderCancelled), "{gone:?}");
    assert_eq!(
        (gone.order_id.as_str(), gone.order_status),
        (bid.id.as_str(), OrderStatus::Cancelled)
    );
    assert_eq!(
        (gone.executed_quantity, gone.executed_quantity_in_quote),
        (dec("1.25"), dec("188.125"))
    );

    let snapshot = alice.get_order_book_depth("SOL_USDC", None).await.unwrap();
    assert_eq!(snapshot.last_update_id as u64, cancel_update);
    assert!(snapshot.bids.is_empty() && snapshot.asks.is_empty());

    // Nothing else came in between: the next message on every channel is the closing probe's.
    last = Probe { update_id: cancel_update, trade_id: trade.trade_id };
    let bid = as_limit(alice.execute_order(limit(Side::Bid, "1.00", "0.01", 9001)).await.unwrap());
    let ask = as_limit(bob.execute_order(limit(Side::Ask, "1.00", "0.01", 9001)).await.unwrap());
    let depth = next(&mut streams.depth, "depth").await;
    assert_eq!(
        (depth.first_update_id as u64, depth.bids.clone()),
        (last.update_id + 1, vec![(dec("1.00"), dec("0.01"))])
    );
    let depth = next(&mut streams.depth, "depth").await;
    assert_eq!(
        (depth.first_update_id as u64, depth.bids.clone()),
        (last.update_id + 2, vec![(dec("1.00"), dec("0"))])
    );
    let ticker = next(&mut streams.ticker, "bookTicker").await;
    assert_eq!((ticker.update_id, ticker.bid_price), (last.update_id + 1, dec("1.00")));
    let trade = next(&mut streams.trade, "trade").await;
    assert_eq!(
        (trade.trade_id, &trade.buyer_order_id, &trade.seller_order_id),
        (last.trade_id + 1, &bid.id, &ask.id)
    );
    let accepted = next(&mut streams.alice, "Alice's orderUpdate").await;
    assert_eq!(
        (accepted.order_id.as_str(), accepted.order_status),
        (bid.id.as_str(), OrderStatus::New)
    );
    let accepted = next(&mut streams.bob, "Bob's orderUpdate").await;
    assert_eq!(
        (accepted.order_id.as_str(), accepted.order_status),
        (ask.id.as_str(), OrderStatus::New)
    );

    drop(streams);
    let engine = tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
    engine.check_invariants().unwrap();
}
