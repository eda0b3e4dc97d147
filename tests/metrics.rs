//! `GET /metrics` on the real server: after signed orders, a bad signature, a rejected order and
//! a key over its rate limit, the exposition shows every stage's latency counted, the journal's
//! fsyncs, each rejection under its reason and the rate-limit hits; a peer that is not on this
//! host needs the administrator's signature.

mod common;

use base64::Engine;
use common::{
    Signed, TestDir, TestServer, admin_post, admin_secret, now_ms, options, public_key,
    raw_request, user_secret,
};
use serde_json::{Value, json};
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

fn fund(address: SocketAddr, secret: &str, symbol: &str, quantity: &str) {
    let body = json!({"account": public_key(secret), "symbol": symbol, "quantity": quantity});
    let (status, answer) = admin_post(address, "/api/v1/admin/deposit", "adminDeposit", body);
    assert_eq!(status, 200, "{answer}");
}

fn order(secret: &str, body: Value) -> Signed<'_> {
    Signed {
        secret,
        method: "POST",
        path: "/api/v1/order",
        query: "",
        instruction: "orderExecute",
        body: Some(body),
        timestamp_ms: now_ms(),
        window_ms: None,
    }
}

fn limit(side: &str, price: &str, quantity: &str) -> Value {
    json!({"symbol": "SOL_USDC", "side": side, "orderType": "Limit", "price": price, "quantity": quantity})
}

/// One exchange on a fresh connection: status, head and body.
fn exchange(address: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(request).unwrap();
    let (head, body) = common::read_head_and_body(&mut stream);
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head, body)
}

const UNSIGNED: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n";

fn admin_signed_metrics(secret: &str) -> Vec<u8> {
    let signed = Signed {
        secret,
        method: "GET",
        path: "/metrics",
        query: "",
        instruction: "metricsQuery",
        body: None,
        timestamp_ms: now_ms(),
        window_ms: None,
    };
    signed.request(None, "")
}

/// The value of the series written exactly as `series` (name and labels).
fn value(exposition: &str, series: &str) -> u64 {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no series {series} in\n{exposition}"))
        .parse::<f64>()
        .unwrap() as u64
}

/// An address of this host that is not loopback, if it has one (none in a network namespace
/// with loopback only). No packet is sent: connecting a UDP socket only picks the route.
fn non_loopback_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn metrics_count_requests_per_stage_fsyncs_rejections_and_rate_limits() {
    let dir = TestDir::new("metrics");
    let mut server_options = options(dir.0.clone());
    server_options.listen = "0.0.0.0:0".parse().unwrap();
    server_options.sequencer.key_rate_per_s = 1;
    server_options.sequencer.key_burst = 10;
    let server = TestServer::start(server_options);
    let address = SocketAddr::from(([127, 0, 0, 1], server.address.port()));

    let alice = user_secret(51);
    fund(address, &alice, "USDC", "10000");
    fund(address, &alice, "SOL", "100");
    for (side, price) in [("Bid", "100.00"), ("Bid", "101.00"), ("Ask", "200.00")] {
        let (status, answer) =
            raw_request(address, &order(&alice, limit(side, price, "1.00")).request(None, ""));
        assert_eq!(status, 200, "{answer}");
    }
    // The matcher rejects this one (it changes nothing and leaves nothing in the journal).
    let too_much = order(&alice, limit("Bid", "100.00", "1000.00")).request(None, "");
    let (status, answer) = raw_request(address, &too_much);
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("INSUFFICIENT_FUNDS"), "{answer}");
    // verify refuses this one: signed over other bytes.
    let signature = Some(base64::engine::general_purpose::STANDARD.encode([7u8; 64]));
    let forged = order(&alice, limit("Bid", "100.00", "1.00")).request(signature, "");
    let (status, answer) = raw_request(address, &forged);
    assert_eq!(status, 401, "{answer}");
    assert!(answer.contains("INVALID_SIGNATURE"), "{answer}");
    // The sequencer's per-key limit (10 at once, then 1 a second) refuses some of these.
    let bob = user_secret(53);
    let mut limited = 0;
    for index in 0..15 {
        let capital = Signed {
            secret: &bob,
            method: "GET",
            path: "/api/v1/capital",
            query: "",
            instruction: "balanceQuery",
            body: None,
            timestamp_ms: now_ms() - index,
            window_ms: None,
        };
        limited += u64::from(raw_request(address, &capital.request(None, "")).0 == 429);
    }
    assert!(limited >= 1, "the per-key limit refused none");

    let (status, head, metrics) = exchange(address, UNSIGNED);
    assert_eq!(status, 200, "{metrics}");
    assert!(head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), "{head}");
    // Every request so far passed every stage and was counted at each (2 deposits, 3 orders,
    // 2 refusals, 15 balance queries; this GET too).
    let requests = 2 + 3 + 2 + 15;
    for span in [
        "received_to_verified",
        "verified_to_sequenced",
        "sequenced_to_matched",
        "matched_to_answered",
        "received_to_answered",
    ] {
        let count =
            value(&metrics, &format!("ringex_stage_latency_microseconds_count{{span=\"{span}\"}}"));
        assert!(count >= requests, "{span}: {count} of {requests}");
        let all =
            format!("ringex_stage_latency_microseconds_bucket{{span=\"{span}\",le=\"+Inf\"}}");
        assert_eq!(value(&metrics, &all), count);
    }
    // The journal: 5 commands applied (2 deposits, 3 orders), each made durable by an fsync.
    let durable =
        value(&metrics, "ringex_stage_latency_microseconds_count{span=\"sequenced_to_durable\"}");
    assert_eq!(durable, 5);
    let fsyncs = value(&metrics, "ringex_journal_fsync_latency_microseconds_count");
    assert!((1..=5).contains(&fsyncs), "{fsyncs} fsyncs");
    assert_eq!(value(&metrics, "ringex_journal_group_commands_count"), fsyncs);
    assert_eq!(value(&metrics, "ringex_journal_group_commands_sum"), 5);
    // Each journaled command one record, its bytes counted with its header.
    assert_eq!(value(&metrics, "ringex_journal_records_total"), 5);
    let bytes = value(&metrics, "ringex_journal_bytes_total");
    assert!((5 * 24 + 5..=5 * 1024).contains(&bytes), "{bytes} journal bytes");
    assert!(value(&metrics, "ringex_journal_durable_sequence") >= 5);
    // Each rejection under its reason.
    let reason = |reason: &str, code: &str, status: u16| {
        let series = format!(
            "ringex_rejections_total{{reason=\"{reason}\",code=\"{code}\",status=\"{status}\"}}"
        );
        value(&metrics, &series)
    };
    assert_eq!(reason("InvalidSignature", "INVALID_SIGNATURE", 401), 1);
    assert_eq!(reason("InsufficientFunds", "INSUFFICIENT_FUNDS", 400), 1);
    assert_eq!(reason("TooManyRequests", "TOO_MANY_REQUESTS", 429), limited);
    assert_eq!(value(&metrics, "ringex_rate_limited_total{limit=\"key\"}"), limited);
    assert_eq!(value(&metrics, "ringex_rate_limited_total{limit=\"ip\"}"), 0);
    // Responses by class, this GET left out: the deposits, orders and balances that passed; the
    // rejected order, the forged one and the limited queries.
    let responses =
        |class: &str| value(&metrics, &format!("ringex_http_responses_total{{class=\"{class}\"}}"));
    assert_eq!(responses("2xx"), 2 + 3 + 15 - limited);
    assert_eq!(responses("4xx"), 2 + limited);
    assert_eq!(responses("5xx"), 0);
    let info = metrics.lines().find(|line| line.starts_with("ringex_info{")).unwrap();
    assert!(info.contains("durability=\"sync\"") && info.ends_with("} 1"), "{info}");
    // The layout the server resolved (`auto` here) is the one it names.
    let layout = server.server.placement.layout.name();
    assert!(info.contains(&format!("layout=\"{layout}\"")), "{info}");
    // Levels.
    assert!(value(&metrics, "ringex_connections_open") >= 1);
    for ring in ["a", "b", "c"] {
        let capacity = value(&metrics, &format!("ringex_ring_capacity_slots{{ring=\"{ring}\"}}"));
        let occupancy = value(&metrics, &format!("ringex_ring_occupancy_slots{{ring=\"{ring}\"}}"));
        assert!(capacity.is_power_of_two() && occupancy <= capacity, "{ring}");
    }
    assert_eq!(value(&metrics, "ringex_websocket_connections"), 0);

    // The administrator's signature opens it from anywhere; from this host it is not needed.
    let admin = admin_secret();
    assert_eq!(exchange(address, &admin_signed_metrics(&admin)).0, 200);
    if let Some(ip) = non_loopback_address() {
        let remote = SocketAddr::new(ip, server.address.port());
        let (status, _, body) = exchange(remote, UNSIGNED);
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("Administrator key required"), "{body}");
        let (status, _, body) = exchange(remote, &admin_signed_metrics(&user_secret(54)));
        assert_eq!(status, 403, "another key: {body}");
        let (status, _, body) = exchange(remote, &admin_signed_metrics(&admin));
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("# TYPE ringex_stage_latency_microseconds histogram\n"));
    } else {
        eprintln!("no non-loopback address on this host: the remote half is not checked");
    }
    server.stop();
}
