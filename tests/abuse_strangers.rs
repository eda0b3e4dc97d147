//! Hostile clients, issue 19 items 1 and 3: strangers with fresh keys and no funds cannot fill
//! the replay cache or grow the journal, and a funded client trading beside them is still
//! served. The real server on loopback, real sockets, `sync` durability.
//!
//! Item 1 was: every signed write from any key entered the replay cache, so 1,998 requests from
//! fresh keys filled a 2,000-entry cache and a funded client's orders got 429. Item 3 was: a
//! cancel-all from a key without an account, or with no open orders, took a sequence number, an
//! fdatasync and a journal record. Item 8: a source of bad signatures taxed everyone whose request
//! shared its verification batch; now, past its share, its requests are refused unread.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{
    Signed, TestDir, TestServer, admin_post, admin_state, journal_bytes, now_ms, options,
    public_key, read_response, signed_now, user_secret,
};
use serde_json::json;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};

/// Requests written before their answers are read: well under the server's in-flight cap, and
/// small enough that the socket buffers hold them whole.
const PIPELINE_DEPTH: usize = 32;

/// A secret no other test uses, from a counter: a fresh key with no account.
fn stranger_secret(index: u32) -> String {
    let mut seed = [0xA5u8; 32];
    seed[..4].copy_from_slice(&index.to_le_bytes());
    STANDARD.encode(seed)
}

fn order(secret: &str, price: &str, client_id: u32) -> Vec<u8> {
    let body = json!({"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit",
        "price": price, "quantity": "1", "clientId": client_id});
    signed_now(secret, "POST", "/api/v1/order", "", "orderExecute", Some(body))
}

fn cancel_all(secret: &str, timestamp_ms: u64) -> Vec<u8> {
    let body = json!({"symbol": "SOL_USDC"});
    let signed = Signed {
        secret,
        method: "DELETE",
        path: "/api/v1/orders",
        query: "",
        instruction: "orderCancelAll",
        body: Some(body),
        timestamp_ms,
        window_ms: None,
    };
    signed.request(None, "")
}

/// Sends every request on one connection, `PIPELINE_DEPTH` at a time, and returns the answers.
fn pipelined(address: SocketAddr, requests: &[Vec<u8>]) -> Vec<(u16, String)> {
    let mut stream = TcpStream::connect(address).unwrap();
    let mut answers = Vec::with_capacity(requests.len());
    for chunk in requests.chunks(PIPELINE_DEPTH) {
        stream.write_all(&chunk.concat()).unwrap();
        answers.extend(chunk.iter().map(|_| read_response(&mut stream)));
    }
    answers
}

fn deposit_usdc(address: SocketAddr, secret: &str, quantity: &str) {
    let body = json!({"account": public_key(secret), "symbol": "USDC", "quantity": quantity});
    let (status, answer) = admin_post(address, "/api/v1/admin/deposit", "adminDeposit", body);
    assert_eq!(status, 200, "{answer}");
}

fn sequence_of(address: SocketAddr) -> u64 {
    admin_state(address)["sequence"].as_u64().expect("the state names its sequence")
}

#[test]
fn fresh_keys_fill_neither_the_replay_cache_nor_the_journal() {
    const STRANGERS: u32 = 3_000;
    let dir = TestDir::new("abuse-strangers");
    let mut options = options(dir.0.clone());
    // The setting: a cache that 1,998 strangers used to fill.
    options.sequencer.replay_entries_max = 2_000;
    let server = TestServer::start(options);
    let trader = user_secret(61);
    deposit_usdc(server.address, &trader, "100000");
    let journal_before = journal_bytes(&dir.0);
    let sequence_before = sequence_of(server.address);

    let requests: Vec<Vec<u8>> = (0..STRANGERS)
        .map(|index| {
            let secret = stranger_secret(index);
            match index % 2 {
                0 => order(&secret, "100", index),
                _ => cancel_all(&secret, now_ms()),
            }
        })
        .collect();
    let answers = pipelined(server.address, &requests);
    for (index, (status, body)) in answers.iter().enumerate() {
        match index % 2 {
            0 => assert_eq!((*status, body.contains("INSUFFICIENT_FUNDS")), (400, true), "{body}"),
            _ => assert_eq!((*status, body.as_str()), (200, "[]")),
        }
    }
    assert_eq!(journal_bytes(&dir.0), journal_before, "strangers grew the journal");
    assert_eq!(sequence_of(server.address), sequence_before, "strangers took sequence numbers");

    // The funded client beside them: every order accepted.
    let orders: Vec<Vec<u8>> =
        (0..5).map(|index| order(&trader, &format!("9{index}"), 1_000 + index)).collect();
    for (status, body) in pipelined(server.address, &orders) {
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"status\":\"New\""), "{body}");
    }
    assert!(journal_bytes(&dir.0) > journal_before, "the funded client's orders are journaled");
    server.stop();
}

#[test]
fn a_cancel_all_of_nothing_leaves_no_journal_record() {
    const FLOOD: usize = 2_000;
    let dir = TestDir::new("abuse-cancel-all");
    let server = TestServer::start(options(dir.0.clone()));
    let trader = user_secret(62);
    deposit_usdc(server.address, &trader, "100000");
    let journal_before = journal_bytes(&dir.0);
    // Distinct timestamps: each a new request, not a replay.
    let start_ms = now_ms();
    let requests: Vec<Vec<u8>> =
        (0..FLOOD as u64).map(|index| cancel_all(&trader, start_ms - index)).collect();
    for (status, body) in pipelined(server.address, &requests) {
        assert_eq!((status, body.as_str()), (200, "[]"));
    }
    assert_eq!(journal_bytes(&dir.0), journal_before, "cancel-alls of nothing were journaled");

    // With an order open, a cancel-all changes state and is journaled.
    let (status, body) = pipelined(server.address, &[order(&trader, "90", 7)]).remove(0);
    assert_eq!(status, 200, "{body}");
    let with_order = journal_bytes(&dir.0);
    let (status, body) = pipelined(server.address, &[cancel_all(&trader, now_ms())]).remove(0);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"Cancelled\""), "{body}");
    assert!(journal_bytes(&dir.0) > with_order);
    server.stop();
}

#[test]
fn a_source_of_bad_signatures_is_refused_unread_while_others_trade() {
    let dir = TestDir::new("abuse-bad-signatures");
    let options = options(dir.0.clone());
    let failures_max = options.config.rate_limits.bad_signatures_per_ip_max as usize;
    assert!(failures_max > 0, "on by default");
    let server = TestServer::start(options);
    let trader = user_secret(64);
    deposit_usdc(server.address, &trader, "100000");
    let attacker = std::net::Ipv4Addr::new(127, 0, 0, 2);
    let forged = |client_id: u32| {
        let mut request = order(&stranger_secret(9_000 + client_id), "100", client_id);
        let text = String::from_utf8(request.clone()).unwrap();
        let start = text.find("X-Signature: ").unwrap() + "X-Signature: ".len();
        let end = start + text[start..].find("\r\n").unwrap();
        request.splice(start..end, STANDARD.encode([7u8; 64]).into_bytes());
        request
    };
    let from_attacker = |request: &[u8]| {
        let mut stream = common::connect_from(attacker, server.address).unwrap();
        stream.write_all(request).unwrap();
        read_response(&mut stream)
    };
    for client_id in 0..failures_max as u32 {
        let (status, body) = from_attacker(&forged(client_id));
        assert_eq!(status, 401, "{body}");
        // The trader beside it is served all along.
        let (status, body) =
            pipelined(server.address, &[order(&trader, "90", client_id)]).remove(0);
        assert_eq!(status, 200, "{body}");
    }
    // Past its share: refused before its signature is looked at, even a valid one.
    let (status, body) = from_attacker(&forged(1_000));
    assert_eq!(status, 429, "{body}");
    let valid = order(&stranger_secret(9_999), "100", 1);
    assert_eq!(from_attacker(&valid).0, 429);
    let (status, body) = pipelined(server.address, &[order(&trader, "91", 5_000)]).remove(0);
    assert_eq!(status, 200, "{body}");
    let metrics = common::raw_request(server.address, b"GET /metrics HTTP/1.1\r\n\r\n").1;
    assert!(metrics.contains("ringex_rate_limited_total{limit=\"bad_signatures\"} 2"), "{metrics}");
    server.stop();
}
