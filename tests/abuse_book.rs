//! Hostile clients against the real server on loopback (issue 19 item 7): accounts that flood
//! the shared histories and the book, while a funded, well-behaved client keeps trading beside
//! them and must keep its history and get its orders accepted.
//!
//! The server runs small tables so the floods reach every limit quickly: order and fill
//! histories of 48 records with a quota of 16 per account; 64 resting orders, at most 20 per
//! account and 5 price levels per side per account; SOL_USDC orders worth at least 5 USDC.

mod common;

use common::{Signed, TestDir, TestServer, admin_post, now_ms, options, public_key, user_secret};
use common::{raw_request, read_response};
use ringex::config::Config;
use serde_json::{Value, json};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const HISTORY_MAX: u32 = 48;
const QUOTA: u32 = 16;
const OPEN_MAX: u32 = 20;
const LEVELS_MAX: u32 = 5;

fn start(name: &str) -> (TestDir, TestServer) {
    let dir = TestDir::new(name);
    let mut options = options(dir.0.clone());
    let mut config = Config::embedded_default();
    config.server.orders_history_per_account_max = QUOTA;
    config.server.fills_history_per_account_max = QUOTA;
    config.server.history_scan_max = 1_000;
    config.limits.orders_max = 64;
    config.limits.open_orders_per_account_max = OPEN_MAX;
    config.limits.levels_per_side_per_account_max = LEVELS_MAX;
    config.markets[0].min_order_value_units = 5_000_000; // 5 USDC
    options.config = Arc::new(config);
    options.view.orders_max = HISTORY_MAX;
    options.view.fills_max = HISTORY_MAX;
    let server = TestServer::start(options);
    (dir, server)
}

fn fund(server: &TestServer, secret: &str) {
    for (symbol, quantity) in [("USDC", "100000"), ("SOL", "1000")] {
        let body = json!({"account": public_key(secret), "symbol": symbol, "quantity": quantity});
        let (status, answer) =
            admin_post(server.address, "/api/v1/admin/deposit", "adminDeposit", body);
        assert_eq!(status, 200, "{answer}");
    }
}

/// A distinct client id per order, so identical orders never sign the same string (409).
fn next_client_id() -> u32 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed) as u32
}

fn order_request(secret: &str, mut body: Value) -> Vec<u8> {
    body["clientId"] = json!(next_client_id());
    common::signed_now(secret, "POST", "/api/v1/order", "", "orderExecute", Some(body))
}

fn limit(side: &str, price: &str, quantity: &str, time_in_force: &str) -> Value {
    json!({"symbol":"SOL_USDC","side":side,"orderType":"Limit","price":price,"quantity":quantity,
           "timeInForce":time_in_force})
}

/// One order on its own connection: status and body.
fn place(address: SocketAddr, secret: &str, body: Value) -> (u16, Value) {
    let (status, answer) = raw_request(address, &order_request(secret, body));
    (status, serde_json::from_str(&answer).unwrap_or_else(|_| panic!("not JSON: {answer}")))
}

/// `bodies` pipelined on one connection, 32 at a time; every answer must be `status`.
fn flood(address: SocketAddr, secret: &str, bodies: impl Iterator<Item = Value>, status: u16) {
    let mut stream = TcpStream::connect(address).unwrap();
    let bodies: Vec<Value> = bodies.collect();
    for batch in bodies.chunks(32) {
        let bytes: Vec<u8> =
            batch.iter().flat_map(|body| order_request(secret, body.clone())).collect();
        stream.write_all(&bytes).unwrap();
        for _ in batch {
            let (answered, answer) = read_response(&mut stream);
            assert_eq!(answered, status, "{answer}");
        }
    }
}

fn history(address: SocketAddr, secret: &str, kind: &str, query: &str) -> Vec<Value> {
    let instruction = match kind {
        "orders" => "orderHistoryQueryAll",
        _ => "fillHistoryQueryAll",
    };
    let signed = Signed {
        secret,
        method: "GET",
        path: &format!("/wapi/v1/history/{kind}"),
        query,
        instruction,
        body: None,
        timestamp_ms: now_ms(),
        window_ms: None,
    };
    let (status, body) = raw_request(address, &signed.request(None, ""));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap().as_array().unwrap().clone()
}

fn ids(records: &[Value], field: &str) -> Vec<String> {
    records.iter().map(|record| record[field].to_string()).collect()
}

fn error(answer: &Value) -> (&str, &str) {
    (answer["code"].as_str().unwrap(), answer["message"].as_str().unwrap())
}

#[test]
fn floods_of_cancelled_orders_evict_only_the_flooders_own_history() {
    let (_dir, server) = start("abuse-history");
    let address = server.address;
    let (victim, maker) = (user_secret(71), user_secret(72));
    let flooders = [user_secret(73), user_secret(74), user_secret(75)];
    for secret in [&victim, &maker].into_iter().chain(&flooders) {
        fund(&server, secret);
    }
    // The victim trades first: a bid the maker fills, and a bid that stays open.
    let mut victim_orders = Vec::new();
    for (price, quantity) in [("100", "1"), ("90", "1")] {
        let (status, order) = place(address, &victim, limit("Bid", price, quantity, "GTC"));
        assert_eq!(status, 200, "{order}");
        victim_orders.push(order["id"].to_string());
    }
    let (status, sell) = place(address, &maker, limit("Ask", "100", "1", "IOC"));
    assert_eq!((status, sell["status"].as_str()), (200, Some("Filled")), "{sell}");
    // Three accounts spam non-crossing IOCs (each leaves an expired order record) until the
    // whole order history is theirs to take, while the victim keeps placing orders beside them.
    for round in 0..4 {
        for flooder in &flooders {
            let iocs = (0..15).map(|_| limit("Bid", "50", "1", "IOC"));
            flood(address, flooder, iocs, 200);
        }
        let (status, order) =
            place(address, &victim, limit("Bid", &format!("8{round}"), "1", "GTC"));
        assert_eq!(status, 200, "{order}");
        victim_orders.push(order["id"].to_string());
    }
    // The victim's every order and its fill are still there; each flooder keeps its newest 16.
    let victim_history = history(address, &victim, "orders", "limit=1000&sortDirection=Asc");
    assert_eq!(ids(&victim_history, "id"), victim_orders);
    let fills = history(address, &victim, "fills", "");
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!(fills[0]["orderId"].to_string(), victim_orders[0]);
    for flooder in &flooders {
        let records = history(address, flooder, "orders", "limit=1000");
        assert!(records.len() <= QUOTA as usize, "{}", records.len());
        assert!(records.iter().all(|order| order["status"] == "Expired"));
    }
    // A query's work is bounded whatever it asks: a huge offset or an unmatched filter reads [].
    assert!(history(address, &victim, "orders", "offset=4000000000").is_empty());
    assert!(history(address, &victim, "orders", "symbol=BTC_USDC&limit=1000").is_empty());
    assert!(history(address, &victim, "fills", "orderId=1&limit=1000").is_empty());
    server.stop();
}

#[test]
fn small_groups_of_accounts_cannot_make_the_book_refuse_everyone_else() {
    let (_dir, server) = start("abuse-book");
    let address = server.address;
    let victim = user_secret(81);
    let flooders = [user_secret(82), user_secret(83), user_secret(84)];
    for secret in std::iter::once(&victim).chain(&flooders) {
        fund(&server, secret);
    }
    // Orders worth cents are refused: 0.01 SOL at 100 is 1 USDC, below the 5 USDC minimum.
    let (status, answer) = place(address, &flooders[0], limit("Bid", "100", "0.01", "GTC"));
    assert_eq!((status, error(&answer)), (400, ("INVALID_ORDER", "Order value below minimum")));
    let market =
        json!({"symbol":"SOL_USDC","side":"Bid","orderType":"Market","quoteQuantity":"4.99"});
    let (status, answer) = place(address, &flooders[0], market);
    assert_eq!((status, error(&answer)), (400, ("INVALID_ORDER", "Order value below minimum")));
    // Each flooder spreads over as many bid levels as it may, then piles orders onto them.
    for flooder in &flooders {
        let levels =
            (0..LEVELS_MAX).map(|level| limit("Bid", &(60 + level).to_string(), "0.1", "GTC"));
        flood(address, flooder, levels, 200);
        let (status, answer) = place(address, flooder, limit("Bid", "59", "0.1", "GTC"));
        assert_eq!((status, error(&answer)), (400, ("ORDER_LIMIT", "Order limit reached")));
        let more = (LEVELS_MAX..OPEN_MAX)
            .map(|order| limit("Bid", &(60 + order % LEVELS_MAX).to_string(), "0.1", "GTC"));
        flood(address, flooder, more, 200);
        let (status, answer) = place(address, flooder, limit("Bid", "60", "0.1", "GTC"));
        assert_eq!((status, error(&answer)), (400, ("ORDER_LIMIT", "Order limit reached")));
    }
    // 3 × 20 of 64 resting orders and 3 × 5 bid levels: the victim still rests, on new levels
    // too, and trades (its sell takes the best flooder bid, at 64).
    for price in ["55", "56", "57"] {
        let (status, order) = place(address, &victim, limit("Bid", price, "1", "GTC"));
        assert_eq!((status, order["status"].as_str()), (200, Some("New")), "{order}");
    }
    let (status, order) = place(address, &victim, limit("Ask", "64", "0.1", "IOC"));
    assert_eq!((status, order["status"].as_str()), (200, Some("Filled")), "{order}");
    server.stop();
}
