//! The HTTP layer and the signature checks over raw loopback sockets: every bad request gets a
//! Backpack JSON error with the right status and changes nothing (same state hash, same journal).

mod common;

use common::{
    Signed, TestDir, TestServer, admin_post, admin_state, journal_bytes, now_ms, options,
    public_key, raw_request, read_head_and_body, read_response, user_secret,
};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;

fn order_body() -> serde_json::Value {
    json!({"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"150.50","quantity":"1.25"})
}

fn fund(server: &TestServer, secret: &str, symbol: &str, quantity: &str) {
    let body = json!({"account": public_key(secret), "symbol": symbol, "quantity": quantity});
    let (status, answer) =
        admin_post(server.address, "/api/v1/admin/deposit", "adminDeposit", body);
    assert_eq!(status, 200, "{answer}");
}

fn order<'a>(secret: &'a str, timestamp_ms: u64) -> Signed<'a> {
    Signed {
        secret,
        method: "POST",
        path: "/api/v1/order",
        query: "",
        instruction: "orderExecute",
        body: Some(order_body()),
        timestamp_ms,
        window_ms: None,
    }
}

fn error_of(status: u16, body: &str) -> (u16, String, String) {
    let value: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    (
        status,
        value["code"].as_str().unwrap().to_string(),
        value["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn the_signature_matrix_changes_nothing() {
    let dir = TestDir::new("matrix");
    let server = TestServer::start(options(dir.0.clone()));
    let alice = user_secret(21);
    let frozen = user_secret(22);
    fund(&server, &alice, "USDC", "100000");
    fund(&server, &frozen, "USDC", "100000");
    let (status, _) = admin_post(
        server.address,
        "/api/v1/admin/freeze",
        "adminFreeze",
        json!({"account": public_key(&frozen)}),
    );
    assert_eq!(status, 200);
    // One good order, so the replay below has something to replay.
    let replayed = order(&alice, now_ms()).request(None, "");
    let (status, body) = raw_request(server.address, &replayed);
    assert_eq!(status, 200, "{body}");

    let state_before = admin_state(server.address);
    let journal_before = journal_bytes(&dir.0);
    let now = now_ms();
    let good = order(&alice, now);
    let mut flipped = good.request(None, "");
    let text = String::from_utf8(flipped.clone()).unwrap();
    let at = text.find("X-Signature: ").unwrap() + 13 + 5;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    let changed_parameter = {
        let mut signed = order(&alice, now);
        let signature = {
            use base64::Engine;
            use ed25519_dalek::Signer;
            let seed: [u8; 32] = base64::engine::general_purpose::STANDARD
                .decode(&alice)
                .unwrap()
                .try_into()
                .unwrap();
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            base64::engine::general_purpose::STANDARD
                .encode(key.sign(signed.signing_string().as_bytes()).to_bytes())
        };
        signed.body = Some(
            json!({"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"150.51","quantity":"1.25"}),
        );
        signed.request(Some(signature), "")
    };
    let changed_instruction =
        Signed { instruction: "orderCancel", ..order(&alice, now) }.request(None, "");
    let extra_field = {
        let signed = order(&alice, now);
        let request = String::from_utf8(signed.request(None, "")).unwrap();
        // Same signature, one more (unsigned) field in the body.
        let body = order_body().to_string();
        let longer = body.replace('}', r#","clientId":1}"#);
        request
            .replace(
                &format!("Content-Length: {}", body.len()),
                &format!("Content-Length: {}", longer.len()),
            )
            .replace(&body, &longer)
            .into_bytes()
    };
    let strip = |request: Vec<u8>, header: &str| -> Vec<u8> {
        let text = String::from_utf8(request).unwrap();
        text.split("\r\n")
            .filter(|line| !line.starts_with(header))
            .collect::<Vec<_>>()
            .join("\r\n")
            .into_bytes()
    };
    let missing_key = strip(order(&alice, now + 1).request(None, ""), "X-API-Key");
    let missing_signature = strip(order(&alice, now + 2).request(None, ""), "X-Signature");
    let missing_timestamp = strip(order(&alice, now + 3).request(None, ""), "X-Timestamp");
    let non_numeric = String::from_utf8(order(&alice, now + 4).request(None, ""))
        .unwrap()
        .replace(&format!("X-Timestamp: {}", now + 4), "X-Timestamp: yesterday")
        .into_bytes();
    let expired = order(&alice, now - 10_000).request(None, "");
    let future = order(&alice, now + 60_000).request(None, "");
    let oversized_window =
        Signed { window_ms: Some(60_001), ..order(&alice, now + 5) }.request(None, "");
    let unknown_key = order(&user_secret(99), now).request(None, "");
    let frozen_account = order(&frozen, now).request(None, "");
    type Expected = (u16, &'static str, &'static str);
    let cases: Vec<(&str, Vec<u8>, Expected)> = vec![
        ("flipped signature bit", flipped, (401, "INVALID_SIGNATURE", "Invalid signature")),
        ("changed parameter", changed_parameter, (401, "INVALID_SIGNATURE", "Invalid signature")),
        (
            "changed instruction",
            changed_instruction,
            (401, "INVALID_SIGNATURE", "Invalid signature"),
        ),
        ("extra field", extra_field, (401, "INVALID_SIGNATURE", "Invalid signature")),
        (
            "missing X-API-Key",
            missing_key,
            (400, "INVALID_CLIENT_REQUEST", "Missing header `X-API-Key`"),
        ),
        (
            "missing X-Signature",
            missing_signature,
            (400, "INVALID_CLIENT_REQUEST", "Missing header `X-Signature`"),
        ),
        (
            "missing X-Timestamp",
            missing_timestamp,
            (400, "INVALID_CLIENT_REQUEST", "Missing header `X-Timestamp`"),
        ),
        (
            "non-numeric timestamp",
            non_numeric,
            (400, "INVALID_CLIENT_REQUEST", "Invalid header `X-Timestamp`"),
        ),
        ("expired", expired, (401, "INVALID_CLIENT_REQUEST", "Request has expired")),
        ("future", future, (400, "INVALID_CLIENT_REQUEST", "Request timestamp is in the future")),
        (
            "oversized window",
            oversized_window,
            (400, "INVALID_CLIENT_REQUEST", "Invalid header `X-Window`"),
        ),
        ("unknown key", unknown_key, (400, "INSUFFICIENT_FUNDS", "Insufficient funds")),
        ("frozen account", frozen_account, (403, "FORBIDDEN", "Account is frozen")),
        ("replayed request", replayed, (409, "INVALID_CLIENT_REQUEST", "Duplicate request")),
    ];
    for (name, request, (status, code, message)) in &cases {
        let (got_status, body) = raw_request(server.address, request);
        assert_eq!(
            error_of(got_status, &body),
            (*status, code.to_string(), message.to_string()),
            "{name}"
        );
    }
    let state_after = admin_state(server.address);
    assert_eq!(state_after["stateHash"], state_before["stateHash"]);
    assert_eq!(journal_bytes(&dir.0), journal_before, "nothing journaled");
    server.stop();
}

#[test]
fn http_limits_and_pipelining() {
    let dir = TestDir::new("http");
    let mut server_options = options(dir.0.clone());
    server_options.net_in.request_timeout_ms = 300;
    let server = TestServer::start(server_options);
    let address = server.address;
    // Pipelining: three requests in one write, three answers in order on one connection.
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .write_all(b"GET /api/v1/ping HTTP/1.1\r\n\r\nGET /api/v1/nope HTTP/1.1\r\n\r\nGET /api/v1/status HTTP/1.1\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut stream), (200, "pong".to_string()));
    let (status, body) = read_response(&mut stream);
    assert_eq!(error_of(status, &body), (404, "RESOURCE_NOT_FOUND".into(), "Not found".into()));
    assert_eq!(read_response(&mut stream).0, 200);
    drop(stream);

    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("method", b"PUT /api/v1/order HTTP/1.1\r\n\r\n".to_vec(), 405),
        ("malformed", b"GET\r\n\r\n".to_vec(), 400),
        (
            "chunked",
            b"POST /api/v1/order HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
            411,
        ),
        (
            "headers over 8 KiB",
            format!("GET /api/v1/ping HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(9000))
                .into_bytes(),
            431,
        ),
        (
            "over 100 headers",
            format!(
                "GET /api/v1/ping HTTP/1.1\r\n{}\r\n",
                (0..101).map(|i| format!("H{i}: v\r\n")).collect::<String>()
            )
            .into_bytes(),
            431,
        ),
        (
            "bad JSON",
            b"POST /api/v1/order HTTP/1.1\r\nX-API-Key: a\r\nContent-Length: 3\r\n\r\n{x}".to_vec(),
            400,
        ),
        ("unknown symbol", b"GET /api/v1/depth?symbol=DOGE_USDC HTTP/1.1\r\n\r\n".to_vec(), 400),
    ];
    for (name, request, status) in cases {
        let (got, body) = raw_request(address, &request);
        assert_eq!(got, status, "{name}: {body}");
        error_of(got, &body);
    }

    // Headers over 8 KiB arriving in pieces are refused as soon as the limit is passed.
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(b"GET /api/v1/ping HTTP/1.1\r\n").unwrap();
    // 8 pieces of 1,030 bytes: past 8 KiB with no end of headers, and nothing more is sent.
    for _ in 0..8 {
        stream.write_all(format!("X-Pad: {}\r\n", "b".repeat(1022)).as_bytes()).unwrap();
    }
    assert_eq!(read_response(&mut stream).0, 431);

    // 413 comes before the body is sent, and the connection closes.
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(b"POST /api/v1/order HTTP/1.1\r\nContent-Length: 70000\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut stream).0, 413);
    let mut rest = Vec::new();
    assert_eq!(stream.read_to_end(&mut rest).unwrap_or(0), 0, "closed after the error");

    // A request that never completes: 408, then the connection closes.
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(b"GET /api/v1/ping HTTP/1.1\r\nHost: slow").unwrap();
    assert_eq!(read_response(&mut stream).0, 408);

    // Connection: close is honoured.
    let mut stream = TcpStream::connect(address).unwrap();
    stream.write_all(b"GET /api/v1/ping HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut stream).0, 200);
    let mut rest = Vec::new();
    assert_eq!(stream.read_to_end(&mut rest).unwrap_or(0), 0);
    server.stop();
}

#[test]
fn rate_limits_answer_429_with_retry_after() {
    let dir = TestDir::new("rate");
    let mut server_options = options(dir.0.clone());
    server_options.sequencer.key_rate_per_s = 1;
    server_options.sequencer.key_burst = 2;
    let server = TestServer::start(server_options);
    let alice = user_secret(31);
    let capital = |timestamp_ms| Signed {
        secret: &alice,
        method: "GET",
        path: "/api/v1/capital",
        query: "",
        instruction: "balanceQuery",
        body: None,
        timestamp_ms,
        window_ms: None,
    };
    let now = now_ms();
    let statuses: Vec<u16> = (0..3)
        .map(|i| raw_request(server.address, &capital(now - i).request(None, "")).0)
        .collect();
    assert_eq!(statuses, vec![200, 200, 429]);
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream.write_all(&capital(now - 5).request(None, "")).unwrap();
    let mut head = [0u8; 512];
    let read = stream.read(&mut head).unwrap();
    let head = String::from_utf8_lossy(&head[..read]);
    assert!(head.contains("429") && head.contains("Retry-After: 1"), "{head}");
    // The administrator is exempt.
    for _ in 0..5 {
        admin_state(server.address);
    }
    server.stop();
}

#[test]
fn a_replayed_request_is_refused_across_a_restart() {
    let dir = TestDir::new("replay-restart");
    let server = TestServer::start(options(dir.0.clone()));
    let alice = user_secret(51);
    fund(&server, &alice, "USDC", "100000");
    let request = order(&alice, now_ms()).request(None, "");
    let (status, body) = raw_request(server.address, &request);
    assert_eq!(status, 200, "{body}");
    let hash = admin_state(server.address)["stateHash"].clone();
    server.stop();
    // The same bytes, inside their window, after a restart: the journal rebuilt the cache.
    let server = TestServer::start(options(dir.0.clone()));
    assert_eq!(server.server.replayed_records, 2);
    let (status, body) = raw_request(server.address, &request);
    assert_eq!(
        error_of(status, &body),
        (409, "INVALID_CLIENT_REQUEST".into(), "Duplicate request".into())
    );
    assert_eq!(admin_state(server.address)["stateHash"], hash);
    server.stop();
}

#[test]
fn a_request_rejected_before_a_restart_does_not_run_after_it() {
    let dir = TestDir::new("rejected-restart");
    let server = TestServer::start(options(dir.0.clone()));
    let alice = user_secret(52);
    fund(&server, &user_secret(53), "USDC", "1");
    // Alice has no USDC: the matcher rejects the orders, and a rejection is not journaled. One
    // is stamped now, one 900 ms ahead (verify accepts up to 1,000 ms ahead of its clock).
    let request = order(&alice, now_ms()).request(None, "");
    let ahead = order(&alice, now_ms() + 900).request(None, "");
    for request in [&request, &ahead] {
        let (status, body) = raw_request(server.address, request);
        assert_eq!(
            error_of(status, &body),
            (400, "INSUFFICIENT_FUNDS".into(), "Insufficient funds".into())
        );
    }
    server.stop();
    let server = TestServer::start(options(dir.0.clone()));
    // The restarted server refuses everything stamped up to 1,000 ms past the moment its
    // recovery began (the last run may have seen it): a client's next request is stamped after.
    let restarted_ms = now_ms();
    while now_ms() <= restarted_ms + 1_000 {
        let left_ms = (restarted_ms + 1_001).saturating_sub(now_ms());
        std::thread::sleep(std::time::Duration::from_millis(left_ms));
    }
    fund(&server, &alice, "USDC", "100000");
    let hash = admin_state(server.address)["stateHash"].clone();
    // The same bytes, inside their windows: now fundable, but signed before the restart, and the
    // journal cannot say whether the last run saw them.
    for request in [&request, &ahead] {
        let (status, body) = raw_request(server.address, request);
        assert_eq!(
            error_of(status, &body),
            (401, "INVALID_CLIENT_REQUEST".into(), "Request has expired".into())
        );
    }
    assert_eq!(admin_state(server.address)["stateHash"], hash);
    // Signed again, it runs.
    let (status, body) = raw_request(server.address, &order(&alice, now_ms()).request(None, ""));
    assert_eq!(status, 200, "{body}");
    server.stop();
}

#[test]
fn connections_beyond_the_cap_are_refused() {
    let dir = TestDir::new("cap");
    let mut server_options = options(dir.0.clone());
    server_options.net_in.connections_max = 2;
    let server = TestServer::start(server_options);
    let mut first = TcpStream::connect(server.address).unwrap();
    let mut second = TcpStream::connect(server.address).unwrap();
    for stream in [&mut first, &mut second] {
        stream.write_all(b"GET /api/v1/ping HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(read_response(stream).0, 200);
    }
    let mut third = TcpStream::connect(server.address).unwrap();
    let _ = third.write_all(b"GET /api/v1/ping HTTP/1.1\r\n\r\n");
    let mut rest = Vec::new();
    let closed = matches!(third.read_to_end(&mut rest), Ok(0) | Err(_));
    assert!(closed && rest.is_empty(), "the third connection is closed unanswered");
    // Closing one makes room again.
    drop(first);
    let mut fourth = loop {
        let mut stream = TcpStream::connect(server.address).unwrap();
        if stream.write_all(b"GET /api/v1/ping HTTP/1.1\r\n\r\n").is_ok() {
            let mut byte = [0u8; 1];
            if stream.peek(&mut byte).map(|read| read > 0).unwrap_or(false) {
                break stream;
            }
        }
    };
    assert_eq!(read_response(&mut fourth).0, 200);
    server.stop();
}

/// A generous deadline for anything a test waits on: reads fail instead of hanging forever.
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

#[test]
fn a_413_reaches_a_client_still_sending_its_body() {
    let dir = TestDir::new("413-in-flight");
    let server = TestServer::start(options(dir.0.clone()));
    // Headers and a body far over the 64 KiB cap, in one stream of writes from another thread
    // (the server stops reading at the headers, so a single-threaded writer could block forever).
    // More than the kernel buffers on both sides hold (the client's send buffer is fixed small
    // below; the server's receive buffer grows only as it reads), so the client is still writing
    // when the server is done: closing then would reset the connection under it.
    let body_bytes = 2 << 20;
    let mut request =
        format!("POST /api/v1/order HTTP/1.1\r\nHost: t\r\nContent-Length: {body_bytes}\r\n\r\n")
            .into_bytes();
    request.resize(request.len() + body_bytes, b'x');
    for _ in 0..3 {
        let mut stream = TcpStream::connect(server.address).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream.set_write_timeout(Some(DEADLINE)).unwrap();
        let send_buffer_bytes: libc::c_int = 64 << 10;
        // SAFETY: setting an int socket option on an open socket, with its size.
        let set = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&stream),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&raw const send_buffer_bytes).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(set, 0);
        let mut writer = stream.try_clone().unwrap();
        let request = request.clone();
        // The server may close before taking every byte: a failed write is not the question.
        let sender = std::thread::spawn(move || writer.write_all(&request).is_ok());
        let (status, body) = read_response(&mut stream);
        assert_eq!(
            error_of(status, &body),
            (413, "INVALID_CLIENT_REQUEST".into(), "Payload too large".into())
        );
        let mut rest = Vec::new();
        assert_eq!(stream.read_to_end(&mut rest).unwrap(), 0, "then end of stream, no reset");
        assert!(sender.join().unwrap(), "the server read and discarded the whole body: no reset");
    }
    // The server is still serving.
    assert_eq!(raw_request(server.address, b"GET /api/v1/ping HTTP/1.1\r\n\r\n").0, 200);
    server.stop();
}

#[test]
fn an_idle_connection_is_closed_and_a_busy_one_is_not() {
    let dir = TestDir::new("idle");
    let mut server_options = options(dir.0.clone());
    let idle_timeout_ms = 2_000;
    server_options.net_in.idle_timeout_ms = idle_timeout_ms;
    let server = TestServer::start(server_options);
    let ping = b"GET /api/v1/ping HTTP/1.1\r\n\r\n";
    let mut idle = TcpStream::connect(server.address).unwrap();
    idle.set_read_timeout(Some(DEADLINE)).unwrap();
    let started = std::time::Instant::now(); // before the idle connection's last activity
    idle.write_all(ping).unwrap();
    assert_eq!(read_response(&mut idle), (200, "pong".to_string()));
    let mut busy = TcpStream::connect(server.address).unwrap();
    busy.set_read_timeout(Some(DEADLINE)).unwrap();
    // The idle connection, read on its own thread: blocked until the server closes it.
    let idle_reader = std::thread::spawn(move || {
        let mut rest = Vec::new();
        let read = idle.read_to_end(&mut rest);
        (read.map_err(|error| error.kind()), rest)
    });
    // The busy one asks back to back (each answer is its next request's go) until the idle one
    // is closed: every request must be answered on the same connection.
    let mut answered = 0u64;
    while !idle_reader.is_finished() {
        assert!(started.elapsed() < DEADLINE, "the idle connection was never closed");
        busy.write_all(ping).unwrap();
        assert_eq!(read_response(&mut busy), (200, "pong".to_string()));
        answered += 1;
    }
    let (read, rest) = idle_reader.join().unwrap();
    assert_eq!(read, Ok(0), "closed with an end of stream, nothing sent");
    assert!(rest.is_empty());
    let waited = started.elapsed();
    // (The server counts whole wall-clock milliseconds: up to 1 ms of rounding.)
    let timeout = std::time::Duration::from_millis(idle_timeout_ms - 1);
    assert!(waited >= timeout, "closed before the timeout: {waited:?}, {answered} answered");
    // The busy connection is still open after the idle one's timeout passed.
    busy.write_all(ping).unwrap();
    assert_eq!(read_response(&mut busy), (200, "pong".to_string()));
    assert!(answered > 0);
    server.stop();
}

#[test]
fn the_per_ip_limit_answers_429_and_exempts_the_administrator() {
    let dir = TestDir::new("ip-rate");
    let mut server_options = options(dir.0.clone());
    server_options.net_in.ip_rate_per_s = 1;
    server_options.net_in.ip_burst = 2;
    let server = TestServer::start(server_options);
    let ping = b"GET /api/v1/ping HTTP/1.1\r\n\r\n";
    let mut stream = TcpStream::connect(server.address).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    // Back to back, the bucket (2 tokens, 1 a second) runs dry within a few requests.
    let mut answers = 0;
    let (head, body) = loop {
        answers += 1;
        assert!(answers < 1_000, "never limited");
        stream.write_all(ping).unwrap();
        let (head, body) = read_head_and_body(&mut stream);
        if !head.starts_with("HTTP/1.1 200 ") {
            break (head, body);
        }
    };
    assert!(head.starts_with("HTTP/1.1 429 Too Many Requests\r\n"), "{head}");
    let retry_after_s: u64 = head
        .lines()
        .find_map(|line| line.strip_prefix("Retry-After: "))
        .unwrap_or_else(|| panic!("no Retry-After: {head}"))
        .parse()
        .unwrap();
    assert!(retry_after_s >= 1);
    assert!(head.contains("Content-Type: application/json; charset=utf-8\r\n"), "{head}");
    assert_eq!(body, r#"{"code":"TOO_MANY_REQUESTS","message":"Too many requests"}"#);
    // The limit does not close the connection.
    stream.write_all(ping).unwrap();
    let (head, _) = read_head_and_body(&mut stream);
    assert!(head.starts_with("HTTP/1.1 429 ") || head.starts_with("HTTP/1.1 200 "), "{head}");

    // The administrator is exempt: from the same IP, far more requests than the bucket holds
    // (2 + 1 a second), all answered.
    for _ in 0..30 {
        admin_state(server.address);
    }
    // Claiming the administrator's key is not enough: signed by another key, over the limit the
    // request is refused by the limit (before its signature, as API.md orders the checks).
    let secret = user_secret(41);
    let claimed = Signed {
        secret: &secret,
        method: "GET",
        path: "/api/v1/capital",
        query: "",
        instruction: "balanceQuery",
        body: None,
        timestamp_ms: now_ms(),
        window_ms: None,
    };
    let request = String::from_utf8(claimed.request(None, ""))
        .unwrap()
        .replace(&public_key(&secret), &public_key(&common::admin_secret()))
        .into_bytes();
    let mut refused = 0;
    for _ in 0..30 {
        stream.write_all(&request).unwrap();
        let (head, body) = read_head_and_body(&mut stream);
        let status: u16 = head[9..12].parse().unwrap();
        match error_of(status, &body) {
            (429, code, _) if code == "TOO_MANY_REQUESTS" => refused += 1,
            // A token came back in the meantime: then the signature answers.
            (401, code, _) if code == "INVALID_SIGNATURE" => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(refused > 0, "over the limit, a false administrator claim is limited");
    server.stop();
}
