//! Hostile clients, issue 19's corpus: 10,000+ malformed requests (garbage, huge and split
//! headers, bad lengths, chunked bodies, bad JSON and UTF-8, bad decimals and signatures,
//! out-of-window timestamps) against the real server on loopback. Each is answered with a 4xx
//! and Backpack's JSON error body, or the connection is closed; the server stays up, its resident
//! memory stays within a stated bound, and nothing changes: the state hash, the sequence and the
//! journal are as before. A funded client trades before and after.
//!
//! The corpus is generated from a fixed seed, so a failure names a request that can be rebuilt.
//! Each request goes on its own connection, whose write side the client then shuts, so a request
//! the server is still waiting on (a body shorter than its `Content-Length`) ends in a close.

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{
    Signed, TestDir, TestServer, admin_post, admin_state, journal_bytes, now_ms, options,
    public_key, user_secret,
};
use serde_json::json;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};

/// Where the corpus comes from.
const ATTACKER: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 2);
/// Requests in the corpus (CI); `RINGEX_ABUSE_CORPUS` sets another size (`scripts/abuse-soak.sh`).
const CORPUS_SIZE: usize = 10_240;

fn corpus_size() -> usize {
    std::env::var("RINGEX_ABUSE_CORPUS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(CORPUS_SIZE)
}
/// Client threads sending it.
const SENDERS: usize = 4;
/// Bound on the server's resident growth over the corpus (its tables are preallocated; this is
/// the kernel's and allocator's slack).
const GROWTH_MAX_BYTES: u64 = 64 << 20;

/// The corpus's numbers: the tests' xorshift, with what the corpus draws from it.
struct Noise(common::Rng);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0.next()
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.0.below(bound)
    }

    fn bytes(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| self.next() as u8).collect()
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// A signed order from a key with no account, with `price` and the signature's parts as given.
fn order(secret: &str, price: &str, timestamp_ms: u64, window_ms: Option<u64>) -> Vec<u8> {
    let body = json!({"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit",
        "price": price, "quantity": "1"});
    Signed {
        secret,
        method: "POST",
        path: "/api/v1/order",
        query: "",
        instruction: "orderExecute",
        body: Some(body),
        timestamp_ms,
        window_ms,
    }
    .request(None, "")
}

fn with_body(head: &str, body: &[u8]) -> Vec<u8> {
    let mut request = head.as_bytes().to_vec();
    request.extend_from_slice(body);
    request
}

/// Request `index` of the corpus.
fn malformed(index: usize, noise: &mut Noise, secret: &str) -> Vec<u8> {
    let now = now_ms();
    match index % 12 {
        0 => {
            let length = 1 + noise.below(2_000) as usize;
            let mut garbage = noise.bytes(length);
            garbage.extend_from_slice(b"\r\n\r\n");
            garbage
        }
        1 => {
            // Past the header block's cap, however it is split.
            let name = "X-".to_string()
                + &"a".repeat(
                    ringex::constants::REQUEST_HEADERS_BYTES_MAX + noise.below(100_000) as usize,
                );
            format!("GET /api/v1/ping HTTP/1.1\r\n{name}: 1\r\n\r\n").into_bytes()
        }
        2 => {
            let length = noise.pick(&[
                "+5",
                "-1",
                "5 5",
                "5,5",
                "0x5",
                "99999999999999999999999",
                " ",
                "5\t",
            ]);
            with_body(
                &format!("POST /api/v1/order HTTP/1.1\r\nContent-Length: {length}\r\n\r\n"),
                b"{}{}{",
            )
        }
        3 => with_body(
            "POST /api/v1/order HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
        ),
        4 => {
            // Bare LF, a missing version, a method no route takes, a bad request line.
            let line = noise.pick(&[
                "GET /api/v1/ping HTTP/1.1\n\n",
                "GET /api/v1/ping\r\n\r\n",
                "BREW /api/v1/ping HTTP/1.1\r\n\r\n",
                "GET  HTTP/1.1\r\n\r\n",
                "GET /api/v1/ping HTTP/9.9\r\n\r\n",
                "\r\n\r\n",
                "GET /api/v1/ping HTTP/1.1\r\nHost\r\n\r\n",
            ]);
            line.as_bytes().to_vec()
        }
        5 => {
            let body = noise.pick(&[
                "{",
                "{\"symbol\":}",
                "[1,2",
                "{\"a\":\"\\u12\"}",
                "nul",
                "{\"symbol\":\"SOL_USDC\",}",
            ]);
            let head = format!(
                "POST /api/v1/order HTTP/1.1\r\nX-API-Key: {}\r\nX-Signature: AAAA\r\nX-Timestamp: {now}\r\nContent-Length: {}\r\n\r\n",
                public_key(secret),
                body.len()
            );
            with_body(&head, body.as_bytes())
        }
        6 => {
            // Bytes that are not UTF-8 inside a JSON string.
            let mut body = b"{\"symbol\":\"SOL_".to_vec();
            body.extend_from_slice(
                &noise.bytes(4).iter().map(|byte| byte | 0x80).collect::<Vec<_>>(),
            );
            body.extend_from_slice(b"\"}");
            let head = format!(
                "POST /api/v1/order HTTP/1.1\r\nX-API-Key: {}\r\nX-Signature: AAAA\r\nX-Timestamp: {now}\r\nContent-Length: {}\r\n\r\n",
                public_key(secret),
                body.len()
            );
            with_body(&head, &body)
        }
        7 => {
            let price = noise.pick(&[
                "1e5",
                "-1",
                "NaN",
                "1.2.3",
                "0x10",
                "",
                " 1",
                "1.0000000000000000000001",
                "99999999999999999999999999999",
                "١٢٣",
            ]);
            order(secret, price, now, None)
        }
        8 => {
            let signature = match noise.below(3) {
                0 => STANDARD.encode(noise.bytes(64)),
                1 => {
                    let length = noise.below(100) as usize;
                    STANDARD.encode(noise.bytes(length))
                }
                _ => "not base64 at all!".to_string(),
            };
            let mut request = order(secret, "100", now, None);
            let text = String::from_utf8(request.clone()).unwrap();
            let start = text.find("X-Signature: ").unwrap() + "X-Signature: ".len();
            let end = start + text[start..].find("\r\n").unwrap();
            request.splice(start..end, signature.into_bytes());
            request
        }
        9 => {
            let (timestamp_ms, window_ms) = match noise.below(5) {
                0 => (now - 120_000, None),
                1 => (now + 120_000, None),
                2 => (now, Some(0)),
                3 => (now, Some(999_999)),
                _ => (noise.next() >> 1, Some(noise.next())),
            };
            order(secret, "100", timestamp_ms, window_ms)
        }
        10 => {
            // An over-long signed header.
            let digits = "9".repeat(20 + noise.below(200) as usize);
            let mut request = order(secret, "100", now, None);
            let text = String::from_utf8(request.clone()).unwrap();
            let start = text.find("X-Timestamp: ").unwrap() + "X-Timestamp: ".len();
            let end = start + text[start..].find("\r\n").unwrap();
            request.splice(start..end, digits.into_bytes());
            request
        }
        _ => {
            // A body shorter than its Content-Length: the close ends it.
            let head = "POST /api/v1/order HTTP/1.1\r\nContent-Length: 500\r\n\r\n";
            let length = noise.below(499) as usize;
            with_body(head, &noise.bytes(length))
        }
    }
}

/// Sends one request (in a few pieces, as a slow client would), shuts the write side, and checks
/// every answer until the server closes: 4xx with a JSON error body, or nothing.
fn send_and_check(address: SocketAddr, request: &[u8], index: usize, noise: &mut Noise) {
    // From an address of its own, as an attacker would be.
    let mut stream = common::connect_from(ATTACKER, address).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let mut rest = request;
    while !rest.is_empty() {
        let piece = (1 + noise.below(rest.len() as u64) as usize).min(rest.len());
        if stream.write_all(&rest[..piece]).is_err() {
            break; // the server already answered and closed
        }
        rest = &rest[piece..];
    }
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    if let Err(error) = stream.read_to_end(&mut answer) {
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "request {index}: {error}");
    }
    let shown = String::from_utf8_lossy(&request[..request.len().min(160)]).into_owned();
    check_answers(&answer, &format!("{index} ({shown:?})"));
}

/// Every response in `answer` is a 4xx with a JSON body naming a code and a message.
fn check_answers(mut answer: &[u8], index: &str) {
    while !answer.is_empty() {
        let text = String::from_utf8_lossy(answer);
        let head_end = text.find("\r\n\r\n").unwrap_or_else(|| panic!("request {index}: {text}"));
        let head = &text[..head_end];
        let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!((400..500).contains(&status), "request {index}: {head}");
        let length = common::content_length(head)
            .unwrap_or_else(|| panic!("request {index}: no length: {head}"));
        let body = &answer[head_end + 4..head_end + 4 + length];
        let json: serde_json::Value = serde_json::from_slice(body)
            .unwrap_or_else(|_| panic!("request {index}: {}", String::from_utf8_lossy(body)));
        assert!(json["code"].is_string() && json["message"].is_string(), "request {index}: {json}");
        answer = &answer[head_end + 4 + length..];
    }
}

#[test]
fn ten_thousand_malformed_requests_change_nothing() {
    let dir = TestDir::new("abuse-corpus");
    let mut options = options(dir.0.clone());
    options.net_in.connections_max = 256;
    // Every request reaches the parsers and verify: the bad-signature throttle would soon answer
    // them all 429 unread (it has its own test, in abuse_strangers.rs).
    let mut config = (*options.config).clone();
    config.rate_limits.bad_signatures_per_ip_max = 0;
    options.config = std::sync::Arc::new(config);
    let server = TestServer::start(options);
    let trader = user_secret(63);
    let body = json!({"account": public_key(&trader), "symbol": "USDC", "quantity": "1000"});
    assert_eq!(admin_post(server.address, "/api/v1/admin/deposit", "adminDeposit", body).0, 200);
    let state_before = admin_state(server.address);
    let journal_before = journal_bytes(&dir.0);
    let resident_before = common::resident_bytes();

    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let address = server.address;
            std::thread::spawn(move || {
                let mut noise = Noise(common::Rng::new(0xC0_4405 + sender as u64));
                let secret = STANDARD.encode([0xC3u8 ^ sender as u8; 32]);
                for index in (sender..corpus_size()).step_by(SENDERS) {
                    let request = malformed(index, &mut noise, &secret);
                    send_and_check(address, &request, index, &mut noise);
                }
            })
        })
        .collect();
    senders.into_iter().for_each(|sender| sender.join().unwrap());

    let resident_after = common::resident_bytes();
    println!(
        "{} malformed requests; resident {} → {} MB",
        corpus_size(),
        resident_before >> 20,
        resident_after >> 20
    );
    assert!(resident_after.saturating_sub(resident_before) < GROWTH_MAX_BYTES);
    let state_after = admin_state(server.address);
    for field in ["sequence", "stateHash", "accounts", "openOrders"] {
        assert_eq!(state_after[field], state_before[field], "{field}");
    }
    assert_eq!(journal_bytes(&dir.0), journal_before);
    // The funded client is still served.
    let (status, answer) =
        common::raw_request(server.address, &order(&trader, "1", now_ms(), None));
    assert_eq!(status, 200, "{answer}");
    server.stop();
}
