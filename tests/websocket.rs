//! The WebSocket API over real sockets (API.md §9): the upgrade, every close code, subscribe and
//! unsubscribe, error frames, the public streams following REST orders, private order updates
//! behind a signature, Pings and the Pong timeout, Close 1001 at shutdown.

mod common;

use common::ws::{
    connect, frame, next_json, next_of, raw_connect, read_close_code, read_frame, send_method,
    subscribe_signature,
};
use common::{
    Signed, TestDir, TestServer, admin_post, now_ms, options, public_key, raw_request, user_secret,
};
use serde_json::{Value, json};
use std::io::Write;
use std::net::SocketAddr;

fn fund(address: SocketAddr, secret: &str, symbol: &str, quantity: &str) {
    let body = json!({"account": public_key(secret), "symbol": symbol, "quantity": quantity});
    let (status, answer) = admin_post(address, "/api/v1/admin/deposit", "adminDeposit", body);
    assert_eq!(status, 200, "{answer}");
}

/// Places an order through REST; returns the answer.
fn order(address: SocketAddr, secret: &str, body: Value) -> Value {
    let (status, answer) = try_order(address, secret, &body);
    assert_eq!(status, 200, "{answer}");
    serde_json::from_str(&answer).unwrap()
}

/// Places an order, re-signing it while the restarted server still refuses requests stamped
/// before its restart cutoff (ARCHITECTURE.md: about a second after a fast restart).
fn order_after_restart(address: SocketAddr, secret: &str, body: Value) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, answer) = try_order(address, secret, &body);
        if status == 401 && answer.contains("expired") && std::time::Instant::now() < deadline {
            // Signed again at a later millisecond: the same signing string would be a replay.
            let refused_ms = now_ms();
            while now_ms() == refused_ms {
                std::thread::yield_now();
            }
            continue;
        }
        assert_eq!(status, 200, "{answer}");
        return serde_json::from_str(&answer).unwrap();
    }
}

fn try_order(address: SocketAddr, secret: &str, body: &Value) -> (u16, String) {
    let signed = Signed {
        secret,
        method: "POST",
        path: "/api/v1/order",
        query: "",
        instruction: "orderExecute",
        body: Some(body.clone()),
        timestamp_ms: now_ms(),
        window_ms: None,
    };
    raw_request(address, &signed.request(None, ""))
}

fn limit(side: &str, price: &str, quantity: &str) -> Value {
    json!({"symbol": "SOL_USDC", "side": side, "orderType": "Limit", "price": price, "quantity": quantity})
}

#[test]
fn every_protocol_violation_closes_with_its_code() {
    let dir = TestDir::new("ws-violations");
    let server = TestServer::start(options(dir.0.clone()));
    let text = |payload: &[u8]| frame(0x81, payload, true);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked", frame(0x81, b"{}", false), 1002),
        ("reserved bit", frame(0xC1, b"{}", true), 1002),
        ("unknown opcode", frame(0x83, b"", true), 1002),
        ("fragmented ping", frame(0x09, b"", true), 1002),
        ("long ping", frame(0x89, &[b'a'; 126], true), 1002),
        ("stray continuation", frame(0x80, b"x", true), 1002),
        ("new message inside another", [frame(0x01, b"{", true), text(b"}")].concat(), 1002),
        ("binary", frame(0x82, b"\x00\x01", true), 1003),
        ("invalid UTF-8", text(b"\xff\xfe"), 1007),
        ("frame over 64 KiB", text(&vec![b' '; 65_537]), 1009),
        (
            "message over 64 KiB",
            [frame(0x01, &vec![b' '; 40_000], true), frame(0x80, &vec![b' '; 40_000], true)]
                .concat(),
            1009,
        ),
        (
            "message over 64 KiB in two large pieces",
            [frame(0x01, &vec![b' '; 60_000], true), frame(0x80, &vec![b' '; 60_000], true)]
                .concat(),
            1009,
        ),
        ("close echoed", frame(0x88, &3000u16.to_be_bytes(), true), 3000),
        ("close with a reserved code", frame(0x88, &1005u16.to_be_bytes(), true), 1002),
    ];
    for (name, bytes, code) in cases {
        let mut stream = raw_connect(server.address);
        stream.write_all(&bytes).unwrap();
        assert_eq!(read_close_code(&mut stream), code, "{name}");
    }
    // Nothing else changed: the server still answers.
    let (status, _) = raw_request(server.address, b"GET /api/v1/status HTTP/1.1\r\n\r\n");
    assert_eq!(status, 200);
    server.stop();
}

#[test]
fn pings_get_pongs_and_bad_frames_get_error_frames() {
    let dir = TestDir::new("ws-errors");
    let server = TestServer::start(options(dir.0.clone()));
    let mut stream = raw_connect(server.address);
    stream.write_all(&frame(0x89, b"hello", true)).unwrap();
    assert_eq!(read_frame(&mut stream), (0xA, b"hello".to_vec()));
    let invalid_stream = r#"{"id":null,"error":{"code":4006,"message":"Invalid stream"}}"#;
    let invalid_request = r#"{"id":null,"error":{"code":4000,"message":"Invalid request"}}"#;
    for (sent, expected) in [
        (r#"{"method":"SUBSCRIBE","params":["depth.DOGE_USDC"]}"#, invalid_stream),
        (r#"{"method":"SUBSCRIBE","params":"depth.SOL_USDC"}"#, invalid_request),
        (r#"{"method":"PUBLISH","params":["depth.SOL_USDC"]}"#, invalid_request),
        ("not json", invalid_request),
    ] {
        stream.write_all(&frame(0x81, sent.as_bytes(), true)).unwrap();
        let (opcode, payload) = read_frame(&mut stream);
        assert_eq!(
            (opcode, String::from_utf8(payload).unwrap().as_str()),
            (0x1, expected),
            "{sent}"
        );
    }
    let too_many: Vec<String> = (0..257).map(|_| "trade.SOL_USDC".to_string()).collect();
    let sent = json!({"method": "SUBSCRIBE", "params": too_many}).to_string();
    stream.write_all(&frame(0x81, sent.as_bytes(), true)).unwrap();
    let (_, payload) = read_frame(&mut stream);
    assert_eq!(
        String::from_utf8(payload).unwrap(),
        r#"{"id":null,"error":{"code":4008,"message":"Too many streams"}}"#
    );
    server.stop();
}

#[test]
fn public_streams_follow_rest_orders_and_unsubscribe_stops_them() {
    let dir = TestDir::new("ws-public");
    let server = TestServer::start(options(dir.0.clone()));
    let (alice, bob) = (user_secret(21), user_secret(22));
    fund(server.address, &alice, "USDC", "10000");
    fund(server.address, &bob, "SOL", "100");
    let mut socket = connect(server.address);
    let streams = ["depth.SOL_USDC", "trade.SOL_USDC", "bookTicker.SOL_USDC", "depth.BOGUS"];
    send_method(&mut socket, "SUBSCRIBE", &streams, None);
    // The unknown one is refused alone.
    let error = next_json(&mut socket);
    assert_eq!(error["error"]["code"], 4006);

    order(server.address, &alice, limit("Bid", "150.50", "2"));
    let depth = next_of(&mut socket, "depth.SOL_USDC");
    assert_eq!(depth["e"], "depth");
    assert_eq!(depth["s"], "SOL_USDC");
    assert_eq!(depth["b"], json!([["150.50", "2.00"]]));
    assert_eq!(depth["a"], json!([]));
    assert_eq!((depth["U"].as_u64(), depth["u"].as_u64()), (Some(1), Some(1)));
    let ticker = next_of(&mut socket, "bookTicker.SOL_USDC");
    assert_eq!((ticker["b"].as_str(), ticker["B"].as_str()), (Some("150.50"), Some("2.00")));
    assert_eq!((ticker["a"].as_str(), ticker["A"].as_str()), (Some("0"), Some("0")));

    let sold = order(server.address, &bob, limit("Ask", "150.00", "1.25"));
    let trade = next_of(&mut socket, "trade.SOL_USDC");
    assert_eq!((trade["p"].as_str(), trade["q"].as_str()), (Some("150.50"), Some("1.25")));
    assert_eq!(trade["m"], true);
    assert_eq!(trade["a"], sold["id"]);
    let depth = next_of(&mut socket, "depth.SOL_USDC");
    assert_eq!(depth["b"], json!([["150.50", "0.75"]]));
    assert_eq!((depth["U"].as_u64(), depth["u"].as_u64()), (Some(2), Some(2)));

    // An order that changes no visible level still advances the id and is sent.
    let ioc = json!({"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit", "price": "100",
        "quantity": "1", "timeInForce": "IOC"});
    order(server.address, &alice, ioc);
    let depth = next_of(&mut socket, "depth.SOL_USDC");
    assert_eq!((depth["U"].as_u64(), depth["b"].clone()), (Some(3), json!([])));

    send_method(&mut socket, "UNSUBSCRIBE", &["depth.SOL_USDC", "bookTicker.SOL_USDC"], None);
    order(server.address, &alice, limit("Bid", "140", "1"));
    // A trade comes next; no depth or bookTicker message in between.
    order(server.address, &bob, limit("Ask", "140", "1"));
    let next = next_json(&mut socket);
    assert_eq!(next["stream"], "trade.SOL_USDC", "{next}");
    server.stop();
}

#[test]
fn private_order_updates_follow_one_signed_account() {
    let dir = TestDir::new("ws-private");
    let server = TestServer::start(options(dir.0.clone()));
    let (alice, bob) = (user_secret(31), user_secret(32));
    fund(server.address, &alice, "USDC", "10000");
    let mut socket = connect(server.address);
    // A bad signature subscribes nothing private; the public stream of the frame still goes.
    let mut forged = subscribe_signature(&alice, now_ms(), 5000);
    forged[1] = subscribe_signature(&bob, now_ms(), 5000)[1].clone();
    send_method(&mut socket, "SUBSCRIBE", &["account.orderUpdate", "trade.SOL_USDC"], Some(forged));
    assert_eq!(next_json(&mut socket)["error"]["code"], 4007);
    let expired = subscribe_signature(&alice, now_ms() - 60_000, 5000);
    send_method(&mut socket, "SUBSCRIBE", &["account.orderUpdate"], Some(expired));
    assert_eq!(next_json(&mut socket)["error"]["code"], 4007);

    let signature = subscribe_signature(&alice, now_ms(), 5000);
    send_method(&mut socket, "SUBSCRIBE", &["account.orderUpdate.SOL_USDC"], Some(signature));
    // A second account on the same connection is refused.
    let other = subscribe_signature(&bob, now_ms(), 5000);
    send_method(&mut socket, "SUBSCRIBE", &["account.orderUpdate"], Some(other));
    assert_eq!(next_json(&mut socket)["error"]["code"], 4007);

    let placed = order(server.address, &alice, limit("Bid", "150.50", "2"));
    let update = next_of(&mut socket, "account.orderUpdate.SOL_USDC");
    assert_eq!(update["e"], "orderAccepted");
    assert_eq!(update["i"], placed["id"]);
    assert_eq!((update["o"].as_str(), update["X"].as_str()), (Some("LIMIT"), Some("New")));
    for key in ["e", "E", "s", "S", "o", "f", "q", "X", "i", "z", "Z", "V", "T", "O"] {
        assert!(update.get(key).is_some(), "{key} in {update}");
    }
    server.stop();
}

#[test]
fn pings_start_after_the_interval_and_a_silent_client_is_closed() {
    let dir = TestDir::new("ws-ping");
    let mut options = options(dir.0.clone());
    options.connection.ws_ping_interval_ms = 300;
    options.connection.ws_pong_timeout_ms = 900;
    let server = TestServer::start(options);
    // The server's interval starts at the upgrade, before the handshake's answer reaches us:
    // time it from before the handshake.
    let started = std::time::Instant::now();
    let mut stream = raw_connect(server.address);
    assert_eq!(read_frame(&mut stream).0, 0x9, "a Ping first");
    assert!(started.elapsed() >= std::time::Duration::from_millis(300), "never earlier");
    assert_eq!(read_close_code(&mut stream), 1000);
    // A client that answers stays.
    let mut socket = connect(server.address);
    send_method(&mut socket, "SUBSCRIBE", &["ticker.SOL_USDC"], None);
    for _ in 0..3 {
        assert_eq!(next_of(&mut socket, "ticker.SOL_USDC")["e"], "ticker");
    }
    server.stop();
}

#[test]
fn shutdown_sends_close_1001() {
    let dir = TestDir::new("ws-shutdown");
    let mut options = options(dir.0.clone());
    options.connection.ws_close_grace_ms = 2_000;
    let server = TestServer::start(options);
    let mut stream = raw_connect(server.address);
    let stopping = std::thread::spawn(move || server.stop());
    assert_eq!(read_close_code(&mut stream), 1001);
    stream.write_all(&frame(0x88, &1001u16.to_be_bytes(), true)).unwrap();
    stopping.join().unwrap();
}

#[test]
fn depth_update_ids_continue_across_a_restart() {
    let dir = TestDir::new("ws-restart");
    let alice = user_secret(41);
    let server = TestServer::start(options(dir.0.clone()));
    fund(server.address, &alice, "USDC", "10000");
    order(server.address, &alice, limit("Bid", "150.50", "1"));
    order(server.address, &alice, limit("Bid", "150.40", "1"));
    server.stop();

    let server = TestServer::start(options(dir.0.clone()));
    let (status, body) =
        raw_request(server.address, b"GET /api/v1/depth?symbol=SOL_USDC HTTP/1.1\r\n\r\n");
    assert_eq!(status, 200);
    let snapshot: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(snapshot["lastUpdateId"], "2", "replay recomputed the id");
    let mut socket = connect(server.address);
    send_method(&mut socket, "SUBSCRIBE", &["depth.SOL_USDC"], None);
    // The subscription reaches net-out before the order placed after it is answered.
    let probe = r#"{"method":"SUBSCRIBE","params":["depth.BOGUS"]}"#;
    socket.send(tungstenite::Message::text(probe)).unwrap();
    assert_eq!(next_json(&mut socket)["error"]["code"], 4006);
    order_after_restart(server.address, &alice, limit("Bid", "150.30", "1"));
    let depth = next_of(&mut socket, "depth.SOL_USDC");
    assert_eq!((depth["U"].as_u64(), depth["u"].as_u64()), (Some(3), Some(3)));
    assert_eq!(depth["b"], json!([["150.30", "1.00"]]));
    server.stop();
}

#[test]
fn klines_report_trades_each_second_and_close_their_bucket() {
    let dir = TestDir::new("ws-kline");
    let server = TestServer::start(options(dir.0.clone()));
    let (alice, bob) = (user_secret(43), user_secret(44));
    fund(server.address, &alice, "USDC", "10000");
    fund(server.address, &bob, "SOL", "100");
    let mut socket = connect(server.address);
    send_method(&mut socket, "SUBSCRIBE", &["kline.1s.SOL_USDC", "depth.SOL_USDC"], None);
    // Synchronise on the depth stream: the subscriptions are in once a depth message arrives.
    order(server.address, &alice, limit("Bid", "150.50", "2"));
    next_of(&mut socket, "depth.SOL_USDC");
    order(server.address, &bob, limit("Ask", "150.50", "1.5"));
    let open = next_of(&mut socket, "kline.1s.SOL_USDC");
    assert_eq!(open["e"], "kline");
    assert_eq!((open["o"].as_str(), open["c"].as_str()), (Some("150.50"), Some("150.50")));
    assert_eq!((open["v"].as_str(), open["n"].as_u64()), (Some("1.50"), Some(1)));
    let start = open["t"].as_str().unwrap().to_string();
    let mut closed = open.clone();
    while closed["X"] != true {
        closed = next_of(&mut socket, "kline.1s.SOL_USDC");
    }
    assert_eq!(closed["t"].as_str(), Some(start.as_str()), "the same bucket, closed");
    assert_eq!(closed["v"], "1.50");
    server.stop();
}
