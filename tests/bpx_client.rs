//! Backpack's official Rust client (`bpx-api-client` 0.23) trading on ringex over real sockets:
//! two funded accounts place, cross, query and cancel orders; balances and fees are checked to
//! the unit; every REST endpoint of API.md is driven through the client.

mod common;

use bpx_api_client::BpxClient;
use bpx_api_client::types::capital::RequestWithdrawalPayload;
use bpx_api_client::types::fill::FillsHistoryParams;
use bpx_api_client::types::order::{
    BatchOrderResponse, CancelOpenOrdersPayload, ExecuteOrderPayload, Order, OrderStatus,
    OrderType, SelfTradePrevention, Side, TimeInForce,
};
use common::{TestDir, TestServer, admin_secret, options, public_key, user_secret};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::str::FromStr;

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn client(server: &TestServer, secret: &str) -> BpxClient {
    BpxClient::builder().base_url(&server.base_url).secret(secret).build().unwrap()
}

/// A signed call the client has no typed method for, through its own signing
/// (`build_signed_request`) and transport (`execute`).
async fn signed(
    client: &BpxClient,
    method: Method,
    path_and_query: &str,
    instruction: &str,
    body: Option<Value>,
) -> Result<Value, bpx_api_client::Error> {
    let url = client.base_url().join(path_and_query).unwrap();
    let request = client.build_signed_request(url, method, instruction, body.as_ref())?;
    Ok(client.execute(request).await?.json().await.unwrap())
}

/// An administrator call.
async fn admin(
    admin: &BpxClient,
    method: Method,
    path: &str,
    instruction: &str,
    body: Option<Value>,
) -> Value {
    signed(admin, method, path, instruction, body).await.expect("administrator call")
}

/// A public call the client has no typed method for, through its unsigned `get`.
async fn public(client: &BpxClient, path_and_query: &str) -> String {
    let url = client.base_url().join(path_and_query).unwrap();
    client.get(url).await.expect("public call").text().await.unwrap()
}

async fn deposit(administrator: &BpxClient, account: &str, symbol: &str, quantity: &str) -> Value {
    let body = json!({"account": account, "symbol": symbol, "quantity": quantity});
    admin(administrator, Method::POST, "/api/v1/admin/deposit", "adminDeposit", Some(body)).await
}

fn limit(side: Side, price: &str, quantity: &str) -> ExecuteOrderPayload {
    ExecuteOrderPayload {
        symbol: "SOL_USDC".into(),
        side,
        order_type: OrderType::Limit,
        price: Some(dec(price)),
        quantity: Some(dec(quantity)),
        time_in_force: Some(TimeInForce::GTC),
        ..ExecuteOrderPayload::default()
    }
}

fn as_limit(order: &Order) -> &bpx_api_client::types::order::LimitOrder {
    match order {
        Order::Limit(order) => order,
        Order::Market(_) => panic!("a limit order"),
    }
}

async fn balance(client: &BpxClient, symbol: &str) -> (Decimal, Decimal) {
    let balances = client.get_balances().await.unwrap();
    let balance = &balances[symbol];
    (balance.available, balance.locked)
}

#[tokio::test(flavor = "current_thread")]
async fn two_accounts_trade_through_the_official_client() {
    let dir = TestDir::new("bpx-client");
    let server = TestServer::start(options(dir.0.clone()));
    let administrator = client(&server, &admin_secret());
    let (alice_secret, bob_secret) = (user_secret(11), user_secret(12));
    let (alice, bob) = (client(&server, &alice_secret), client(&server, &bob_secret));

    // Funding.
    let funded = deposit(&administrator, &public_key(&alice_secret), "USDC", "10000").await;
    assert_eq!(funded["quantity"], "10000.000000");
    assert_eq!(funded["balance"]["available"], "10000.000000");
    assert_eq!(funded["source"], "administrator");
    deposit(&administrator, &public_key(&bob_secret), "SOL", "100").await;
    assert_eq!(balance(&alice, "USDC").await, (dec("10000"), dec("0")));

    // Alice bids 2 SOL at 150.50 (client id 42): 301 USDC locked.
    let bid = ExecuteOrderPayload { client_id: Some(42), ..limit(Side::Bid, "150.50", "2") };
    let placed = alice.execute_order(bid).await.unwrap();
    let placed = as_limit(&placed).clone();
    assert_eq!(
        (placed.status, placed.client_id, placed.price),
        (OrderStatus::New, Some(42), dec("150.50"))
    );
    assert_eq!(balance(&alice, "USDC").await, (dec("9699"), dec("301")));

    // Bob sells 1.25 at 150.00: trades at the maker's 150.50.
    let ask = alice_free_ask(&bob).await;
    let ask = as_limit(&ask).clone();
    assert_eq!(ask.status, OrderStatus::Filled);
    assert_eq!((ask.executed_quantity, ask.executed_quote_quantity), (dec("1.25"), dec("188.125")));
    // Bob: + 188.125 USDC − 0.2% taker fee (0.37625); − 1.25 SOL.
    assert_eq!(balance(&bob, "USDC").await, (dec("187.74875"), dec("0")));
    assert_eq!(balance(&bob, "SOL").await, (dec("98.75"), dec("0")));
    // Alice: + 1.25 SOL − 0.1% maker fee (0.00125); 188.125 USDC spent, 0.75 × 150.50 still locked.
    assert_eq!(balance(&alice, "SOL").await, (dec("1.24875"), dec("0")));
    assert_eq!(balance(&alice, "USDC").await, (dec("9699"), dec("112.875")));

    // Queries.
    let open = alice.get_open_orders(Some("SOL_USDC")).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(as_limit(&open[0]).status, OrderStatus::PartiallyFilled);
    assert_eq!(as_limit(&open[0]).executed_quantity, dec("1.25"));
    let by_client = alice.get_open_order("SOL_USDC", None, Some(42)).await.unwrap();
    assert_eq!(as_limit(&by_client).id, placed.id);
    let missing = alice.get_open_order("SOL_USDC", Some("999999"), None).await.unwrap_err();
    assert!(
        missing.to_string().contains("404") || missing.to_string().contains("Not Found"),
        "{missing}"
    );
    let fills = alice.get_historical_fills(FillsHistoryParams::default()).await.unwrap();
    assert_eq!(fills.len(), 1);
    assert!(fills[0].is_maker);
    assert_eq!(
        (fills[0].price, fills[0].quantity, fills[0].fee),
        (dec("150.50"), dec("1.25"), dec("0.00125"))
    );
    assert_eq!(fills[0].fee_symbol, "SOL");
    assert_eq!(fills[0].client_id.as_deref(), Some("42"));
    let trades = bob.get_recent_trades("SOL_USDC", None).await.unwrap();
    assert_eq!(trades.len(), 1);
    assert_eq!(
        (trades[0].price, trades[0].quantity, trades[0].is_buyer_maker),
        (dec("150.50"), dec("1.25"), true)
    );
    let history = bob.get_historical_trades("SOL_USDC", Some(10), Some(0)).await.unwrap();
    assert_eq!(history.len(), 1);
    let depth = bob.get_order_book_depth("SOL_USDC", None).await.unwrap();
    assert_eq!(depth.bids.len(), 1);
    assert_eq!((depth.bids[0].0, depth.bids[0].1), (dec("150.50"), dec("0.75")));
    assert!(depth.asks.is_empty());

    // Cancel: the rest of the lock comes back.
    let cancelled = alice.cancel_order("SOL_USDC", Some(&placed.id), None).await.unwrap();
    assert_eq!(as_limit(&cancelled).status, OrderStatus::Cancelled);
    assert_eq!(balance(&alice, "USDC").await, (dec("9811.875"), dec("0")));
    // (By client id: the same signed cancel again inside its window would be a replay, 409.)
    let again = alice.cancel_order("SOL_USDC", None, Some(42)).await.unwrap_err();
    assert!(again.to_string().contains("Order not found"), "{again}");

    // A batch: each item stands alone.
    let batch = vec![
        limit(Side::Bid, "140", "1"),
        limit(Side::Bid, "140.001", "1"),
        ExecuteOrderPayload { client_id: Some(7), ..limit(Side::Bid, "139", "1") },
    ];
    let results = alice.execute_orders(batch).await.unwrap();
    assert_eq!(results.len(), 3);
    assert!(matches!(results[0], BatchOrderResponse::Order(_)));
    match &results[1] {
        BatchOrderResponse::Error(error) => assert!(format!("{error:?}").contains("INVALID_PRICE")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(results[2], BatchOrderResponse::Order(_)));
    let ids: Vec<u64> = results
        .iter()
        .filter_map(|result| match result {
            BatchOrderResponse::Order(order) => Some(as_limit(order).id.parse().unwrap()),
            BatchOrderResponse::Error(_) => None,
        })
        .collect();
    assert_eq!(ids[1], ids[0] + 1, "batch items get consecutive ids");
    let all_cancelled = alice
        .cancel_open_orders(CancelOpenOrdersPayload { symbol: "SOL_USDC".into() })
        .await
        .unwrap();
    assert_eq!(all_cancelled.len(), 2);
    assert_eq!(balance(&alice, "USDC").await, (dec("9811.875"), dec("0")));

    // Market order by quote quantity and STP: Alice sells into her own bid → RejectTaker expires.
    alice.execute_order(limit(Side::Bid, "100", "1")).await.unwrap();
    let own = ExecuteOrderPayload {
        order_type: OrderType::Market,
        price: None,
        self_trade_prevention: Some(SelfTradePrevention::RejectTaker),
        ..limit(Side::Ask, "1", "0.5")
    };
    match alice.execute_order(own).await.unwrap() {
        Order::Market(order) => assert_eq!(order.status, OrderStatus::Expired),
        other => panic!("{other:?}"),
    }
    let by_quote = ExecuteOrderPayload {
        order_type: OrderType::Market,
        price: None,
        quantity: None,
        quote_quantity: Some(dec("50")),
        ..limit(Side::Ask, "1", "1")
    };
    match bob.execute_order(by_quote).await.unwrap() {
        Order::Market(order) => {
            assert_eq!(order.status, OrderStatus::Filled);
            assert_eq!(order.executed_quantity, dec("0.5"));
        }
        other => panic!("{other:?}"),
    }

    // Withdrawals and deposits history.
    let withdrawal = RequestWithdrawalPayload {
        address: "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin".into(),
        blockchain: "Solana".parse().unwrap(),
        client_id: Some("w-1".into()),
        quantity: dec("10"),
        symbol: "SOL".into(),
        two_factor_token: None,
        auto_lend_redeem: None,
        auto_borrow: None,
    };
    let withdrawn = bob.request_withdrawal(withdrawal).await.unwrap();
    assert_eq!(withdrawn.quantity, dec("10"));
    assert_eq!(bob.get_withdrawals(None, None).await.unwrap().len(), 1);
    assert_eq!(bob.get_deposits(None, None).await.unwrap().len(), 1);
    assert_eq!(balance(&bob, "SOL").await.0, dec("88.25"));

    // Public market data.
    assert_eq!(bob.get_markets().await.unwrap().len(), 3);
    assert_eq!(bob.get_assets().await.unwrap().len(), 4);
    let ticker = bob.get_ticker("SOL_USDC").await.unwrap();
    assert_eq!(ticker.last_price, dec("100"));
    assert_eq!(bob.get_tickers().await.unwrap().len(), 3);
    let now_s =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
            as i64;
    let klines = bob.get_k_lines("SOL_USDC", "1m", now_s - 3600, None).await.unwrap();
    assert!(!klines.is_empty());

    // The administrator's view: conservation per asset, fees collected.
    let state =
        admin(&administrator, Method::GET, "/api/v1/admin/state", "adminStateQuery", None).await;
    let usdc = &state["totals"]["USDC"];
    let available = dec(usdc["available"].as_str().unwrap());
    let locked = dec(usdc["locked"].as_str().unwrap());
    assert_eq!(
        available + locked,
        dec(usdc["deposited"].as_str().unwrap()) - dec(usdc["withdrawn"].as_str().unwrap())
    );
    assert_eq!(state["durableSequence"], state["sequence"], "sync mode answers after fdatasync");
    let engine = server.stop();
    engine.check_invariants().unwrap();
}

/// The endpoints the client has no typed method for — status, ping, time, one market, order
/// history, and the administrator's withdraw, freeze and unfreeze — driven through its generic
/// `get` and its own request signing.
#[tokio::test(flavor = "current_thread")]
async fn the_endpoints_without_a_typed_method_through_the_client() {
    let dir = TestDir::new("bpx-generic");
    let server = TestServer::start(options(dir.0.clone()));
    let administrator = client(&server, &admin_secret());
    let carol_secret = user_secret(13);
    let (carol, carol_key) = (client(&server, &carol_secret), public_key(&carol_secret));

    // Public.
    assert_eq!(public(&carol, "/api/v1/status").await, r#"{"status":"Ok","message":null}"#);
    assert_eq!(public(&carol, "/api/v1/ping").await, "pong");
    let before_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
    let time_ms: u128 = public(&carol, "/api/v1/time").await.parse().expect("bare milliseconds");
    assert!(time_ms + 1_000 >= before_ms && time_ms <= before_ms + 60_000, "{time_ms} {before_ms}");
    let market: bpx_api_client::types::markets::Market =
        serde_json::from_str(&public(&carol, "/api/v1/market?symbol=ETH_USDC").await).unwrap();
    assert_eq!((market.symbol.as_str(), market.base_symbol.as_str()), ("ETH_USDC", "ETH"));
    let markets = carol.get_markets().await.unwrap();
    let listed = markets.iter().find(|listed| listed.symbol == "ETH_USDC").unwrap();
    assert_eq!(listed.filters.price.tick_size, market.filters.price.tick_size);

    // Administrator withdraw: the balance and the record agree.
    deposit(&administrator, &carol_key, "USDC", "500").await;
    let body = json!({"account": carol_key, "symbol": "USDC", "quantity": "120.5"});
    let withdrawn =
        admin(&administrator, Method::POST, "/api/v1/admin/withdraw", "adminWithdraw", Some(body))
            .await;
    assert_eq!(withdrawn["quantity"], "120.500000");
    assert_eq!(withdrawn["account"], carol_key.as_str());
    assert_eq!(withdrawn["balance"]["available"], "379.500000");
    assert_eq!(balance(&carol, "USDC").await, (dec("379.5"), dec("0")));

    // Order history: every order of the account, newest first (API.md §6: Order objects with a
    // naive ISO `createdAt`, which the client has no type for).
    let resting = carol.execute_order(limit(Side::Bid, "100", "1")).await.unwrap();
    let resting_id = as_limit(&resting).id.clone();
    let cancelled_early = carol.execute_order(limit(Side::Bid, "90", "1")).await.unwrap();
    let cancelled_id = as_limit(&cancelled_early).id.clone();
    carol.cancel_order("SOL_USDC", Some(&cancelled_id), None).await.unwrap();
    let history = signed(
        &carol,
        Method::GET,
        "/wapi/v1/history/orders?symbol=SOL_USDC",
        "orderHistoryQueryAll",
        None,
    )
    .await
    .unwrap();
    let history = history.as_array().expect("an array");
    let summary: Vec<(&str, &str, &str)> = history
        .iter()
        .map(|order| {
            let created_at = order["createdAt"].as_str().expect("createdAt");
            assert_eq!((created_at.len(), &created_at[10..11]), (23, "T"), "{created_at}");
            (
                order["id"].as_str().unwrap(),
                order["status"].as_str().unwrap(),
                order["price"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![(cancelled_id.as_str(), "Cancelled", "90.00"), (resting_id.as_str(), "New", "100.00")]
    );

    // Freeze: no placing, no withdrawing; cancelling still works. Unfreeze: trading again.
    let account = json!({"account": carol_key});
    let frozen = admin(
        &administrator,
        Method::POST,
        "/api/v1/admin/freeze",
        "adminFreeze",
        Some(account.clone()),
    )
    .await;
    assert_eq!(frozen, json!({"account": carol_key, "frozen": true}));
    let refused = carol.execute_order(limit(Side::Bid, "99", "1")).await.unwrap_err();
    assert!(refused.to_string().contains("frozen"), "{refused}");
    let cancelled = carol.cancel_order("SOL_USDC", Some(&resting_id), None).await.unwrap();
    assert_eq!(as_limit(&cancelled).status, OrderStatus::Cancelled);
    let unfrozen = admin(
        &administrator,
        Method::POST,
        "/api/v1/admin/unfreeze",
        "adminUnfreeze",
        Some(account),
    )
    .await;
    assert_eq!(unfrozen, json!({"account": carol_key, "frozen": false}));
    // (Not the refused order again: signed in the same millisecond, it would be a replay.)
    let placed = carol.execute_order(limit(Side::Bid, "98", "1")).await.unwrap();
    assert_eq!(as_limit(&placed).status, OrderStatus::New);
    assert_eq!(balance(&carol, "USDC").await, (dec("281.5"), dec("98")));

    let engine = server.stop();
    engine.check_invariants().unwrap();
}

async fn alice_free_ask(bob: &BpxClient) -> Order {
    bob.execute_order(limit(Side::Ask, "150.00", "1.25")).await.unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn administrator_endpoints_refuse_other_keys() {
    let dir = TestDir::new("bpx-admin");
    let server = TestServer::start(options(dir.0.clone()));
    let mallory = client(&server, &user_secret(66));
    let url = mallory.base_url().join("/api/v1/admin/deposit").unwrap();
    let body = json!({"account": public_key(&user_secret(66)), "symbol": "USDC", "quantity": "1"});
    let request =
        mallory.build_signed_request(url, Method::POST, "adminDeposit", Some(&body)).unwrap();
    let error = mallory.execute(request).await.unwrap_err();
    assert!(error.to_string().contains("Administrator key required"), "{error}");
    assert!(mallory.get_balances().await.unwrap().is_empty(), "an unknown key reads as empty");
    server.stop();
}
