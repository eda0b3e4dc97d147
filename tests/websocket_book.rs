//! The reference local order book of API.md §10, kept from `depth.SOL_USDC` and from
//! `depth.200ms.SOL_USDC` while a flood of random orders and cancels goes through REST, must end
//! equal, level for level, to the REST snapshot.
//!
//! Four keep-alive connections pipeline signed requests as fast as the server answers them
//! (placements pre-signed before the flood; cancels, of the connection's own open orders by id,
//! signed when chosen). Each stream is followed by its own thread running the client algorithm:
//! buffer, snapshot, retry until `lastUpdateId` ≥ the first buffered `u`, drop `u ≤ L`, then
//! require contiguous `U` (the aggregated stream: apply the first message with `u > L`, then
//! require `U` = last `u` + 1) and apply absolute levels, zero deleting.

mod common;

use common::ws::connect;
use common::{Signed, TestDir, TestServer, admin_post, now_ms, options, public_key, user_secret};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use tungstenite::Message;

/// Order connections (each with its own accounts and thread).
const CONNECTIONS: usize = 4;
/// Accounts per connection.
const ACCOUNTS_PER_CONNECTION: usize = 2;
/// Orders and cancels per connection.
const OPERATIONS_PER_CONNECTION: usize = 25_000;
/// Requests in flight per connection (the server's default cap on a connection).
const PIPELINE_DEPTH: usize = 64;
/// Open orders a connection lets itself believe it has before it must cancel.
const OPEN_ORDERS_SOFT_MAX: usize = 300;
/// The mid price in ticks (100.00).
const MID_TICKS: i64 = 10_000;
/// The whole test's bound.
const DEADLINE: Duration = Duration::from_secs(240);

/// A price of ticks (tick 0.01) as the API writes it.
fn price_text(ticks: i64) -> String {
    format!("{}.{:02}", ticks / 100, ticks % 100)
}

/// Parses a fixed-scale price (exactly two decimals, as the API renders SOL_USDC prices).
fn ticks(text: &str) -> i64 {
    let (whole, fraction) = text.split_once('.').unwrap_or_else(|| panic!("price {text}"));
    assert_eq!(fraction.len(), 2, "price at tick scale: {text}");
    whole.parse::<i64>().unwrap() * 100 + fraction.parse::<i64>().unwrap()
}

fn is_zero(quantity: &str) -> bool {
    quantity.bytes().all(|byte| byte == b'0' || byte == b'.')
}

/// One side of a book: price in ticks → quantity as rendered.
type Side = BTreeMap<i64, String>;

#[derive(Debug, Default, PartialEq)]
struct Book {
    bids: Side,
    asks: Side,
}

fn levels(value: &Value) -> Vec<(i64, String)> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("levels: {value}"))
        .iter()
        .map(|level| {
            let price = level[0].as_str().unwrap();
            let quantity = level[1].as_str().unwrap();
            (ticks(price), quantity.to_string())
        })
        .collect()
}

impl Book {
    /// A REST snapshot (`GET /api/v1/depth`): both sides ascending, no zero level.
    fn from_snapshot(snapshot: &Value) -> Book {
        let mut book = Book::default();
        for (key, side) in [("bids", &mut book.bids), ("asks", &mut book.asks)] {
            let list = levels(&snapshot[key]);
            assert!(list.windows(2).all(|pair| pair[0].0 < pair[1].0), "{key} ascending");
            for (price, quantity) in list {
                assert!(!is_zero(&quantity), "no empty level in a snapshot");
                side.insert(price, quantity);
            }
        }
        book
    }

    /// Applies a depth message's absolute levels; zero deletes.
    fn apply(&mut self, depth: &Depth) {
        for (updates, side) in [(&depth.bids, &mut self.bids), (&depth.asks, &mut self.asks)] {
            for (price, quantity) in updates {
                if is_zero(quantity) {
                    side.remove(price);
                } else {
                    side.insert(*price, quantity.clone());
                }
            }
        }
    }

    fn crossed(&self) -> bool {
        match (self.bids.keys().next_back(), self.asks.keys().next()) {
            (Some(bid), Some(ask)) => bid >= ask,
            _ => false,
        }
    }
}

/// A `depth` message's data.
struct Depth {
    first: u64,
    last: u64,
    bids: Vec<(i64, String)>,
    asks: Vec<(i64, String)>,
}

impl Depth {
    fn parse(message: &Value, stream: &str) -> Depth {
        assert_eq!(message["stream"], stream, "{message}");
        let data = &message["data"];
        assert_eq!((data["e"].as_str(), data["s"].as_str()), (Some("depth"), Some("SOL_USDC")));
        for key in ["E", "T"] {
            assert!(data[key].is_u64(), "{key} in {data}");
        }
        let depth = Depth {
            first: data["U"].as_u64().unwrap_or_else(|| panic!("U in {data}")),
            last: data["u"].as_u64().unwrap_or_else(|| panic!("u in {data}")),
            bids: levels(&data["b"]),
            asks: levels(&data["a"]),
        };
        assert!(1 <= depth.first && depth.first <= depth.last, "{data}");
        depth
    }
}

/// One HTTP response off a buffered reader: status and body.
fn read_answer(reader: &mut BufReader<TcpStream>, line: &mut String) -> (u16, Vec<u8>) {
    line.clear();
    let read = reader.read_line(line).unwrap();
    assert!(read > 0, "the server closed an order connection");
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    (status, body)
}

/// `GET /api/v1/depth` on a keep-alive connection.
fn get_depth(connection: &mut BufReader<TcpStream>) -> Value {
    connection
        .get_mut()
        .write_all(b"GET /api/v1/depth?symbol=SOL_USDC&limit=1000 HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let (status, body) = read_answer(connection, &mut String::new());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn last_update_id(snapshot: &Value) -> u64 {
    snapshot["lastUpdateId"].as_str().expect("lastUpdateId is a string").parse().unwrap()
}

fn http_connection(address: SocketAddr) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(address).unwrap();
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    BufReader::with_capacity(1 << 16, stream)
}

/// What a stream follower saw.
struct Followed {
    stream: &'static str,
    book: Book,
    last: u64,
    messages: u64,
    snapshot_attempts: u32,
    snapshot_update_id: u64,
    buffered: usize,
    dropped: usize,
}

/// Follows `stream` with the client algorithm of API.md §10 until it has applied a message with
/// `u` = `target` (set by the main thread once every order has been answered).
fn follow(
    address: SocketAddr,
    stream: &'static str,
    aggregated: bool,
    target: Arc<AtomicU64>,
    started: Instant,
) -> Followed {
    let mut socket = connect(address);
    socket.get_mut().set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let subscribe = json!({"method": "SUBSCRIBE", "params": [stream]}).to_string();
    socket.send(Message::text(subscribe)).unwrap();
    let mut rest = http_connection(address);

    // The next depth message, or None when the read timed out (to look at the target again).
    let mut previous_last: Option<u64> = None;
    let mut messages = 0u64;
    let mut next = |socket: &mut tungstenite::WebSocket<TcpStream>| -> Option<Depth> {
        assert!(started.elapsed() < DEADLINE, "{stream}: no end within {DEADLINE:?}");
        match socket.read() {
            Ok(Message::Text(text)) => {
                let message: Value = serde_json::from_str(&text).unwrap();
                let depth = Depth::parse(&message, stream);
                // The stream itself is contiguous from its first message on.
                if let Some(previous) = previous_last {
                    assert_eq!(depth.first, previous + 1, "{stream}: U = previous u + 1");
                }
                previous_last = Some(depth.last);
                messages += 1;
                Some(depth)
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => None,
            Ok(other) => panic!("{stream}: unexpected frame {other:?}"),
            Err(tungstenite::Error::Io(error))
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(error) => panic!("{stream}: {error}"),
        }
    };

    // 1. Buffer every message.
    let mut buffer: Vec<Depth> = Vec::new();
    while buffer.is_empty() {
        buffer.extend(next(&mut socket));
    }
    // 2. Snapshot; retry until lastUpdateId >= the first buffered u.
    let mut attempts = 0;
    let snapshot = loop {
        attempts += 1;
        let snapshot = get_depth(&mut rest);
        if last_update_id(&snapshot) >= buffer[0].last {
            break snapshot;
        }
        buffer.extend(next(&mut socket));
    };
    // 3. Drop buffered messages with u <= L; book = snapshot; last = L.
    let snapshot_update_id = last_update_id(&snapshot);
    let mut book = Book::from_snapshot(&snapshot);
    let mut last = snapshot_update_id;
    let buffered = buffer.len();
    let mut dropped = 0;
    let mut applied_any = false;
    // 4. Per message: require U == last + 1; apply; last = u.
    let mut apply = |depth: Depth, last: &mut u64, book: &mut Book| {
        if !applied_any && depth.last <= *last {
            dropped += 1;
            return;
        }
        if aggregated && !applied_any {
            // The first aggregated message past the snapshot may cover updates up to L too:
            // absolute levels make it right. It must not leave a gap after L.
            assert!(depth.first <= *last + 1, "{stream}: gap after the snapshot");
        } else {
            assert_eq!(depth.first, *last + 1, "{stream}: U == last + 1");
        }
        applied_any = true;
        book.apply(&depth);
        *last = depth.last;
    };
    for depth in buffer {
        apply(depth, &mut last, &mut book);
    }
    loop {
        let goal = target.load(Ordering::Acquire);
        if goal != 0 && last >= goal {
            assert_eq!(last, goal, "{stream}: a message ends exactly at the final update");
            break;
        }
        if let Some(depth) = next(&mut socket) {
            apply(depth, &mut last, &mut book);
        }
    }
    assert!(!book.crossed(), "{stream}: the local book is crossed");
    drop(socket);
    Followed {
        stream,
        book,
        last,
        messages,
        snapshot_attempts: attempts,
        snapshot_update_id,
        buffered,
        dropped,
    }
}

/// What an order connection did.
#[derive(Default, Debug)]
struct Tally {
    placed: u64,
    /// Placement answers that rested (New or PartiallyFilled).
    rested: u64,
    /// Placements that ended at once (Filled or Expired: crossed, IOC, self-trade).
    ended: u64,
    cancelled: u64,
    /// Cancels of an order that had filled meanwhile (400 Order not found).
    cancel_misses: u64,
}

enum Pending {
    Place { account: usize },
    Cancel,
}

/// One order connection: pre-signs its placements, waits at the barrier, then keeps
/// [`PIPELINE_DEPTH`] requests in flight until its operations are done and answered.
fn trade(
    address: SocketAddr,
    connection: usize,
    secrets: Vec<String>,
    start: Arc<Barrier>,
) -> Tally {
    let mut rng = common::Rng::new(0x5EED_0000 + connection as u64);
    // Placements, pre-signed (a unique clientId per order keeps every signing string new).
    let signed_at = now_ms();
    let placements: Vec<(usize, Vec<u8>)> = (0..OPERATIONS_PER_CONNECTION)
        .map(|index| {
            let account = rng.below(secrets.len() as u64) as usize;
            let bid = rng.below(2) == 0;
            // Mostly passive, about one in seven priced through the mid.
            let offset = rng.below(100) as i64 - 15;
            let price = if bid { MID_TICKS - offset } else { MID_TICKS + offset };
            let quantity = 1 + rng.below(100) as i64;
            let tif = if rng.below(10) == 0 { "IOC" } else { "GTC" };
            let body = json!({
                "symbol": "SOL_USDC",
                "side": if bid { "Bid" } else { "Ask" },
                "orderType": "Limit",
                "price": price_text(price),
                "quantity": price_text(quantity),
                "timeInForce": tif,
                "clientId": (connection * 1_000_000 + index) as u64,
            });
            let signed = Signed {
                secret: &secrets[account],
                method: "POST",
                path: "/api/v1/order",
                query: "",
                instruction: "orderExecute",
                body: Some(body),
                timestamp_ms: signed_at,
                window_ms: Some(60_000),
            };
            (account, signed.request(None, ""))
        })
        .collect();
    let mut placements = placements.into_iter();

    let mut reader = http_connection(address);
    let mut writer = reader.get_ref().try_clone().unwrap();
    let mut open: Vec<Vec<String>> = vec![Vec::new(); secrets.len()];
    let mut in_flight: std::collections::VecDeque<Pending> = Default::default();
    let mut out: Vec<u8> = Vec::with_capacity(PIPELINE_DEPTH * 512);
    let mut line = String::new();
    let mut tally = Tally::default();
    let mut remaining = OPERATIONS_PER_CONNECTION;
    start.wait();
    loop {
        while in_flight.len() < PIPELINE_DEPTH && remaining > 0 {
            remaining -= 1;
            let open_count: usize = open.iter().map(Vec::len).sum();
            let cancel =
                open_count > 0 && (open_count > OPEN_ORDERS_SOFT_MAX || rng.below(100) < 30);
            if cancel {
                let mut account = rng.below(open.len() as u64) as usize;
                while open[account].is_empty() {
                    account = (account + 1) % open.len();
                }
                let which = rng.below(open[account].len() as u64) as usize;
                let order_id = open[account].swap_remove(which);
                let signed = Signed {
                    secret: &secrets[account],
                    method: "DELETE",
                    path: "/api/v1/order",
                    query: "",
                    instruction: "orderCancel",
                    body: Some(json!({"symbol": "SOL_USDC", "orderId": order_id})),
                    timestamp_ms: now_ms(),
                    window_ms: None,
                };
                out.extend_from_slice(&signed.request(None, ""));
                in_flight.push_back(Pending::Cancel);
            } else {
                let (account, request) = placements.next().expect("enough placements");
                out.extend_from_slice(&request);
                in_flight.push_back(Pending::Place { account });
            }
        }
        if !out.is_empty() {
            writer.write_all(&out).unwrap();
            out.clear();
        }
        let Some(_) = in_flight.front() else { break };
        // Read one answer, then every one already buffered.
        loop {
            let pending = in_flight.pop_front().unwrap();
            let (status, body) = read_answer(&mut reader, &mut line);
            let answer: Value = serde_json::from_slice(&body)
                .unwrap_or_else(|_| panic!("{status} {}", String::from_utf8_lossy(&body)));
            match pending {
                Pending::Place { account } => {
                    assert_eq!(status, 200, "placement: {answer}");
                    tally.placed += 1;
                    match answer["status"].as_str().unwrap() {
                        "New" | "PartiallyFilled" => {
                            tally.rested += 1;
                            open[account].push(answer["id"].as_str().unwrap().to_string());
                        }
                        "Filled" | "Expired" => tally.ended += 1,
                        other => panic!("placement status {other}: {answer}"),
                    }
                }
                Pending::Cancel if status == 200 => {
                    assert_eq!(answer["status"], "Cancelled", "{answer}");
                    tally.cancelled += 1;
                }
                Pending::Cancel => {
                    assert_eq!(
                        (status, answer["message"].as_str()),
                        (400, Some("Order not found"))
                    );
                    tally.cancel_misses += 1;
                }
            }
            if in_flight.is_empty() || reader.buffer().is_empty() {
                break;
            }
        }
    }
    tally
}

fn fund(address: SocketAddr, secret: &str, symbol: &str, quantity: &str) {
    let body = json!({"account": public_key(secret), "symbol": symbol, "quantity": quantity});
    let (status, answer) = admin_post(address, "/api/v1/admin/deposit", "adminDeposit", body);
    assert_eq!(status, 200, "{answer}");
}

fn differences(stream: &str, local: &Side, rest: &Side, side: &str) -> Vec<String> {
    let prices: std::collections::BTreeSet<&i64> = local.keys().chain(rest.keys()).collect();
    prices
        .into_iter()
        .filter(|price| local.get(price) != rest.get(price))
        .take(10)
        .map(|price| {
            format!(
                "{stream} {side} {}: local {:?}, REST {:?}",
                price_text(*price),
                local.get(price),
                rest.get(price)
            )
        })
        .collect()
}

#[test]
fn local_books_from_both_depth_streams_match_rest_under_random_flow() {
    let dir = TestDir::new("ws-book");
    let mut options = common::small_orders(options(dir.0.clone()));
    // Pre-signed placements stay in the replay cache for their 60 s window.
    options.sequencer.replay_entries_max = 1 << 18;
    // The followers share two cores with the server and the order threads; one falling behind
    // for a moment (Close 1008, slow consumer) is not what this test is about.
    options.connection.ws_output_max_bytes = 64 << 20;
    let server = TestServer::start(options);
    let address = server.address;
    let started = Instant::now();

    let secrets: Vec<Vec<String>> = (0..CONNECTIONS)
        .map(|connection| {
            (0..ACCOUNTS_PER_CONNECTION)
                .map(|account| {
                    user_secret(100 + (connection * ACCOUNTS_PER_CONNECTION + account) as u8)
                })
                .collect()
        })
        .collect();
    for secret in secrets.iter().flatten() {
        fund(address, secret, "USDC", "10000000");
        fund(address, secret, "SOL", "100000");
    }

    let target = Arc::new(AtomicU64::new(0));
    let followers: Vec<_> = [("depth.SOL_USDC", false), ("depth.200ms.SOL_USDC", true)]
        .into_iter()
        .map(|(stream, aggregated)| {
            let target = target.clone();
            std::thread::spawn(move || follow(address, stream, aggregated, target, started))
        })
        .collect();

    let start = Arc::new(Barrier::new(CONNECTIONS + 1));
    let traders: Vec<_> = secrets
        .into_iter()
        .enumerate()
        .map(|(connection, secrets)| {
            let start = start.clone();
            std::thread::spawn(move || trade(address, connection, secrets, start))
        })
        .collect();
    start.wait();
    println!("funded and pre-signed in {:.2?}", started.elapsed());
    let flood = Instant::now();
    let tallies: Vec<Tally> = traders.into_iter().map(|trader| trader.join().unwrap()).collect();
    let elapsed = flood.elapsed();
    let operations: u64 = tallies.iter().map(|t| t.placed + t.cancelled + t.cancel_misses).sum();
    let accepted: u64 = tallies.iter().map(|t| t.placed + t.cancelled).sum();
    println!(
        "{operations} orders and cancels in {elapsed:.2?}: {:.0} per second over {CONNECTIONS} \
         connections",
        operations as f64 / elapsed.as_secs_f64()
    );
    for (connection, tally) in tallies.iter().enumerate() {
        println!("connection {connection}: {tally:?}");
    }
    assert_eq!(operations, (CONNECTIONS * OPERATIONS_PER_CONNECTION) as u64);

    // Every order is answered: the final snapshot, and the update id it ends at.
    let mut rest = http_connection(address);
    let final_snapshot = get_depth(&mut rest);
    let final_id = last_update_id(&final_snapshot);
    // API.md §10 (a): +1 per accepted order operation on the market, nothing for a rejection.
    assert_eq!(final_id, accepted, "one update per accepted placement or cancel");
    let rest_book = Book::from_snapshot(&final_snapshot);
    assert!(rest_book.bids.len() < 1000 && rest_book.asks.len() < 1000, "the whole book");
    assert!(!rest_book.crossed());
    target.store(final_id, Ordering::Release);

    for follower in followers {
        let followed = follower.join().unwrap();
        println!(
            "{}: {} messages, snapshot at {} after {} attempt(s), {} buffered, {} dropped, \
             {} bids and {} asks",
            followed.stream,
            followed.messages,
            followed.snapshot_update_id,
            followed.snapshot_attempts,
            followed.buffered,
            followed.dropped,
            followed.book.bids.len(),
            followed.book.asks.len()
        );
        assert_eq!(followed.last, final_id);
        let mut wrong = differences(followed.stream, &followed.book.bids, &rest_book.bids, "bid");
        wrong.extend(differences(followed.stream, &followed.book.asks, &rest_book.asks, "ask"));
        assert!(wrong.is_empty(), "the local book differs from REST:\n{}", wrong.join("\n"));
        assert_eq!(followed.book, rest_book);
    }
    println!("total {:.2?}", started.elapsed());
    let engine = server.stop();
    engine.check_invariants().unwrap();
}
