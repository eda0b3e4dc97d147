//! Zero heap allocations per order on the whole server path, net-in to net-out: the pipeline's
//! threads count their heap allocations (the process runs ringex's own allocator, as `serve`
//! does); after a warm-up, hundreds of signed orders, cancels and queries over a keep-alive
//! connection must not add one — while WebSocket subscribers follow every stream of the market
//! (depth realtime and aggregated, trades, bookTicker, ticker, klines, the trader's own order
//! updates), so the fan-out's steady state is measured too. Every request is also recorded in
//! the metrics on its way (`crate::metrics`), and one `GET /metrics` is rendered among them.

mod common;

use common::{
    Signed, TestDir, TestServer, admin_post, now_ms, options, public_key, read_response,
    user_secret, ws,
};
use ringex::alloc::{RingexAllocator, pipeline_heap_allocations};
use serde_json::json;
use std::io::Write;
use std::net::TcpStream;

#[global_allocator]
static ALLOCATOR: RingexAllocator = RingexAllocator;

/// Pre-builds `count` signed requests (placing and cancelling orders, querying balances).
fn requests(secret: &str, first: usize, count: usize) -> Vec<Vec<u8>> {
    let timestamp_ms = now_ms();
    (first..first + count)
        .map(|index| {
            let price = format!("{}.{:02}", 140 + index % 10, index % 100);
            let (method, path, instruction, body) = match index % 4 {
                0 | 1 => (
                    "POST",
                    "/api/v1/order",
                    "orderExecute",
                    Some(json!({"symbol":"SOL_USDC","side": if index % 2 == 0 {"Bid"} else {"Ask"},"orderType":"Limit","price":price,"quantity":"0.10","clientId":index})),
                ),
                2 => ("DELETE", "/api/v1/order", "orderCancel", Some(json!({"symbol":"SOL_USDC","clientId":index - 2}))),
                _ => ("GET", "/api/v1/capital", "balanceQuery", None),
            };
            Signed { secret, method, path, query: "", instruction, body, timestamp_ms, window_ms: Some(60_000) }
                .request(None, "")
        })
        .collect()
}

fn send_all(stream: &mut TcpStream, requests: &[Vec<u8>]) -> usize {
    let mut ok = 0;
    for request in requests {
        stream.write_all(request).unwrap();
        let (status, body) = read_response(stream);
        assert!(status == 200 || body.contains("Order not found"), "{status} {body}");
        ok += usize::from(status == 200);
    }
    ok
}

#[test]
fn no_heap_allocation_per_order_from_net_in_to_net_out() {
    let dir = TestDir::new("server-alloc");
    let server = TestServer::start(options(dir.0.clone()));
    let secret = user_secret(41);
    for (symbol, quantity) in [("USDC", "1000000"), ("SOL", "10000")] {
        let body = json!({"account": public_key(&secret), "symbol": symbol, "quantity": quantity});
        assert_eq!(
            admin_post(server.address, "/api/v1/admin/deposit", "adminDeposit", body).0,
            200
        );
    }
    let subscribers = subscribe_everything(server.address, &secret);
    let warm_up = requests(&secret, 0, 400);
    let measured = requests(&secret, 400, 800);
    let mut stream = TcpStream::connect(server.address).unwrap();
    send_all(&mut stream, &warm_up);
    scrape(&mut stream);
    let before = pipeline_heap_allocations();
    // The counter works: the stage threads allocated their working buffers when they started.
    assert!(before > 0);
    let ok = send_all(&mut stream, &measured);
    // Nor does rendering `GET /metrics` on a connection that was answered one before (the first
    // grows the connection's outbox past its initial 16 KiB once, as any larger answer does).
    scrape(&mut stream);
    let during = pipeline_heap_allocations() - before;
    assert!(ok > 600, "the measured requests mostly succeed: {ok}");
    assert_eq!(
        during,
        0,
        "{during} heap allocations in the pipeline over {} requests",
        measured.len()
    );
    server.stop();
    let frames: usize = subscribers.into_iter().map(|reader| reader.join().unwrap()).sum();
    assert!(frames > 1_000, "the subscribers followed the orders: {frames} frames");
}

/// `GET /metrics` on `stream`.
fn scrape(stream: &mut TcpStream) {
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    let (status, metrics) = read_response(stream);
    assert_eq!(status, 200, "{metrics}");
    assert!(metrics.contains("ringex_stage_latency_microseconds_count"), "{metrics}");
}

/// Two WebSocket subscribers to every stream of SOL_USDC (one of them signed, for the trader's
/// order updates), each read by its own thread until the server closes it; a thread returns the
/// frames it read.
fn subscribe_everything(
    address: std::net::SocketAddr,
    secret: &str,
) -> Vec<std::thread::JoinHandle<usize>> {
    let public = [
        "depth.SOL_USDC",
        "depth.200ms.SOL_USDC",
        "trade.SOL_USDC",
        "bookTicker.SOL_USDC",
        "ticker.SOL_USDC",
        "kline.1m.SOL_USDC",
        "kline.1s.SOL_USDC",
    ];
    let mut readers = Vec::new();
    for signed in [false, true] {
        let mut socket = ws::connect(address);
        let signature = signed.then(|| ws::subscribe_signature(secret, now_ms(), 5_000));
        let streams: Vec<&str> = if signed {
            vec!["account.orderUpdate", "account.orderUpdate.SOL_USDC"]
        } else {
            public.to_vec()
        };
        ws::send_method(&mut socket, "SUBSCRIBE", &streams, signature);
        readers.push(std::thread::spawn(move || {
            let mut frames = 0;
            while let Ok(message) = socket.read() {
                if let tungstenite::Message::Text(text) = message {
                    assert!(!text.contains("\"error\""), "{text}");
                    frames += 1;
                }
            }
            frames
        }));
    }
    readers
}
