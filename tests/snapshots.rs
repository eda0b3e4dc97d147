//! Snapshots end to end: a restart from a snapshot answers every REST request and WebSocket
//! stream exactly as a full replay of the same journal does; a damaged snapshot falls back to an
//! older one, then to the journal; `[journal] retain` archives or deletes the segments a snapshot
//! covers and the server still restarts.

mod common;

use common::ws::{connect, next_json, send_method};
use common::{
    Signed, TestDir, TestServer, admin_post, admin_state, now_ms, options, public_key, raw_request,
    signed_now, small_orders, user_secret,
};
use ringex::config::{Config, Retain};
use ringex::pipeline::{ServerOptions, recover_with};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TRADERS: [u8; 3] = [31, 32, 33];

/// Test options whose snapshots are taken only when asked (`POST /api/v1/admin/snapshot`).
fn snapshot_options(dir: &Path, retain: Retain) -> ServerOptions {
    let mut options = small_orders(options(dir.to_path_buf()));
    let mut config: Config = (*options.config).clone();
    config.snapshot.every_records = 0;
    config.snapshot.every_s = 0;
    config.journal.retain = retain;
    options.config = Arc::new(config);
    options
}

fn fund(address: SocketAddr) {
    for seed in TRADERS {
        for (symbol, quantity) in [("USDC", "100000"), ("SOL", "1000")] {
            let body = json!({"account": public_key(&user_secret(seed)), "symbol": symbol,
                "quantity": quantity});
            let (status, text) = admin_post(address, "/api/v1/admin/deposit", "adminDeposit", body);
            assert_eq!(status, 200, "{text}");
        }
    }
}

/// A deterministic mix from the three traders: resting orders on both sides, orders that cross
/// them, cancels by client id, one withdrawal. Every answer must be 200.
fn trade(address: SocketAddr, round: u32) {
    for step in 0..40u32 {
        let seed = TRADERS[(step % 3) as usize];
        let secret = user_secret(seed);
        let client_id = round * 1000 + step;
        let (side, price) = match step % 4 {
            0 => ("Bid", 95 + step % 5),
            1 => ("Ask", 105 - step % 5),
            2 => ("Bid", 106),
            _ => ("Ask", 94),
        };
        let body = json!({"symbol": "SOL_USDC", "side": side, "orderType": "Limit",
            "price": format!("{price}.00"), "quantity": format!("0.{:02}", 10 + step % 7),
            "clientId": client_id});
        let request = signed_now(&secret, "POST", "/api/v1/order", "", "orderExecute", Some(body));
        let (status, text) = raw_request(address, &request);
        assert_eq!(status, 200, "{text}");
        if step % 5 == 4 {
            let body = json!({"symbol": "SOL_USDC", "clientId": client_id - 4});
            let request =
                signed_now(&secret, "DELETE", "/api/v1/order", "", "orderCancel", Some(body));
            let (status, text) = raw_request(address, &request);
            assert!([200, 400, 404].contains(&status), "{status} {text}");
        }
    }
    let body = json!({"address": "0xabc", "blockchain": "Solana", "symbol": "USDC",
        "quantity": "10"});
    let secret = user_secret(TRADERS[0]);
    let request =
        signed_now(&secret, "POST", "/wapi/v1/capital/withdrawals", "", "withdraw", Some(body));
    let (status, text) = raw_request(address, &request);
    assert_eq!(status, 200, "{text}");
}

/// Asks for a snapshot and waits until the snapshot thread wrote it.
fn snapshot_now(server: &TestServer) {
    let control = server.server.snapshots().expect("a journal, so snapshots").clone();
    let written = control.written();
    let (status, text) =
        admin_post(server.address, "/api/v1/admin/snapshot", "adminSnapshot", json!({}));
    assert_eq!(status, 200, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(body["stateHash"].is_string(), "{text}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while control.written() == written {
        assert!(Instant::now() < deadline, "no snapshot written within 60 s of the request");
        std::thread::sleep(Duration::from_millis(5));
    }
    // `/metrics` says so too.
    let request = b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n";
    let (status, text) = raw_request(server.address, request);
    assert_eq!(status, 200);
    let line = format!("ringex_snapshots_written_total {}", written + 1);
    assert!(text.lines().any(|sample| sample == line), "{line} in\n{text}");
    let record = format!("ringex_snapshot_record {}", control.last_record());
    assert!(text.lines().any(|sample| sample == record), "{record} in\n{text}");
}

/// Every read the API offers, public and per trader, with fixed parameters.
fn reads(address: SocketAddr) -> Vec<(String, u16, String)> {
    let mut answers = Vec::new();
    let public = [
        "/api/v1/depth?symbol=SOL_USDC",
        "/api/v1/trades?symbol=SOL_USDC&limit=1000",
        "/api/v1/klines?symbol=SOL_USDC&interval=1m&startTime=0",
        "/api/v1/klines?symbol=SOL_USDC&interval=1s&startTime=0",
        "/api/v1/markets",
    ];
    for target in public {
        let request = format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n");
        let (status, mut body) = raw_request(address, request.as_bytes());
        if target.starts_with("/api/v1/depth") {
            // The snapshot's own `timestamp` is the time it was asked for.
            let mut depth: Value = serde_json::from_str(&body).unwrap();
            depth.as_object_mut().unwrap().remove("timestamp");
            body = depth.to_string();
        }
        answers.push((target.to_string(), status, body));
    }
    let private = [
        ("/api/v1/orders", "symbol=SOL_USDC", "orderQueryAll"),
        ("/api/v1/capital", "", "balanceQuery"),
        ("/wapi/v1/history/orders", "limit=1000", "orderHistoryQueryAll"),
        ("/wapi/v1/history/fills", "limit=1000", "fillHistoryQueryAll"),
        ("/wapi/v1/capital/deposits", "limit=1000", "depositQueryAll"),
        ("/wapi/v1/capital/withdrawals", "limit=1000", "withdrawalQueryAll"),
    ];
    for seed in TRADERS {
        for (path, query, instruction) in private {
            let request = signed_now(&user_secret(seed), "GET", path, query, instruction, None);
            let (status, body) = raw_request(address, &request);
            answers.push((format!("{seed} {path}?{query}"), status, body));
        }
    }
    let mut state = admin_state(address);
    state.as_object_mut().unwrap().remove("durableSequence");
    answers.push(("admin state".into(), 200, state.to_string()));
    answers
}

/// Removes the keys that carry the server's clock (event and engine times).
fn without_times(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        for key in ["E", "T"] {
            map.remove(key);
        }
        for (_, inner) in map.iter_mut() {
            *inner = without_times(inner.take());
        }
    }
    value
}

/// Subscribes to the market's depth and trades, sends one order that crosses the book, and
/// returns the first depth and trade messages with the server's clock taken out.
fn streams_after_one_cross(address: SocketAddr) -> (Value, Value) {
    let mut socket = connect(address);
    // The unknown stream's refusal comes back once the others are subscribed.
    let streams = ["depth.SOL_USDC", "trade.SOL_USDC", "depth.NOPE_USDC"];
    send_method(&mut socket, "SUBSCRIBE", &streams, None);
    assert_eq!(next_json(&mut socket)["error"]["code"], 4006);
    let body = json!({"symbol": "SOL_USDC", "side": "Bid", "orderType": "Limit",
        "price": "106.00", "quantity": "0.05", "clientId": 999_999,
        "selfTradePrevention": "Allow"});
    let secret = user_secret(TRADERS[1]);
    let signed = Signed {
        secret: &secret,
        method: "POST",
        path: "/api/v1/order",
        query: "",
        instruction: "orderExecute",
        body: Some(body),
        // A restart refuses what was signed before it, up to the clock skew verify allows
        // ahead (`Sequencer::refuse_signed_before`): sign at the front of that allowance.
        timestamp_ms: now_ms() + ringex::constants::CLOCK_SKEW_AHEAD_MAX_MS,
        window_ms: None,
    };
    let (status, text) = raw_request(address, &signed.request(None, ""));
    assert_eq!(status, 200, "{text}");
    let (mut depth, mut trade) = (None, None);
    while depth.is_none() || trade.is_none() {
        let message = next_json(&mut socket);
        let data = without_times(message["data"].clone());
        match message["stream"].as_str() {
            Some("depth.SOL_USDC") => depth = depth.or(Some(data)),
            Some("trade.SOL_USDC") => trade = trade.or(Some(data)),
            _ => {}
        }
    }
    (depth.unwrap(), trade.unwrap())
}

fn copy_dir_without_snapshots(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with(".journal") {
            std::fs::copy(entry.path(), to.join(name)).unwrap();
        }
    }
}

#[test]
fn a_restart_from_a_snapshot_answers_as_a_full_replay_does() {
    let dir = TestDir::new("snapshot-restart");
    let live_hash = trade_with_snapshots(&snapshot_options(&dir.0, Retain::All), 2);

    let scratch = TestDir::new("snapshot-restart-scratch");
    copy_dir_without_snapshots(&dir.0, &scratch.0);
    let from_snapshot = TestServer::start(snapshot_options(&dir.0, Retain::All));
    let from_journal = TestServer::start(snapshot_options(&scratch.0, Retain::All));
    let (partial, whole) =
        (from_snapshot.server.replayed_records, from_journal.server.replayed_records);
    assert!(partial > 0 && partial < whole, "the snapshot was used: {partial} of {whole}");

    let (answers, expected) = (reads(from_snapshot.address), reads(from_journal.address));
    for (answer, expected) in answers.iter().zip(&expected) {
        assert_eq!(answer.1, 200, "{answer:?}");
        assert_eq!(answer, expected);
    }
    // The same new order on both: the depth update ids and trade ids continue alike.
    let (depth, trade) = streams_after_one_cross(from_snapshot.address);
    assert_eq!((depth, trade), streams_after_one_cross(from_journal.address));
    // (The state hashes now differ by the new order's engine time, which is each server's own
    // clock; before it, `reads` compared them through the administrator's state.)
    from_snapshot.stop();
    from_journal.stop();
    let state: Value = serde_json::from_str(&answers.last().unwrap().2).unwrap();
    assert_eq!(state["stateHash"], format!("{live_hash:032x}"), "the state the live server left");
}

/// A server on `options` funds the traders, then trades `rounds` rounds with a snapshot after
/// each but the last; returns the state hash it stopped with.
fn trade_with_snapshots(options: &ServerOptions, rounds: u32) -> u128 {
    let server = TestServer::start(options.clone());
    fund(server.address);
    for round in 1..=rounds {
        trade(server.address, round);
        if round < rounds {
            snapshot_now(&server);
        }
    }
    server.stop().state_hash()
}

/// Flips one byte in the middle of a snapshot's payload.
fn damage(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_damaged_snapshot_falls_back_to_an_older_one_then_to_the_journal() {
    let dir = TestDir::new("snapshot-damaged");
    let options = snapshot_options(&dir.0, Retain::All);
    let live_hash = trade_with_snapshots(&options, 3);
    let snapshots = ringex::snapshot::file::list(&dir.0).unwrap();
    assert_eq!(snapshots.len(), 2, "{snapshots:?}");
    let (newest, older) = (&snapshots[0].1, &snapshots[1].1);

    let state = recover_with(&options, false).unwrap();
    assert_eq!(state.snapshot.as_ref(), Some(newest));
    assert_eq!(state.matcher.state_hash(), live_hash);
    drop(state);

    damage(newest);
    let state = recover_with(&options, false).unwrap();
    assert_eq!(state.snapshot.as_ref(), Some(older), "the damaged newest one is passed over");
    assert_eq!(state.matcher.state_hash(), live_hash);
    drop(state);

    damage(older);
    let state = recover_with(&options, false).unwrap();
    assert_eq!(state.snapshot, None, "both damaged: the whole journal");
    assert_eq!(state.matcher.state_hash(), live_hash);
    assert_eq!(state.records, state.last_record);
}

fn segments(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .filter(|name| name.ends_with(".journal"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn retain_archives_or_deletes_the_segments_a_snapshot_covers_and_the_server_restarts() {
    for retain in [Retain::Archive, Retain::Delete] {
        let dir = TestDir::new("snapshot-retain");
        let mut options = snapshot_options(&dir.0, retain);
        // A segment every few records, so the run rolls many.
        options.segment_bytes_max = 8192;
        let live_hash = trade_with_snapshots(&options, 3);
        let left = segments(&dir.0);
        let archived = segments(&dir.0.join("archive"));
        assert!(!left.is_empty());
        assert!(!left[0].starts_with("00000000000000000001"), "{retain:?}: {left:?}");
        match retain {
            Retain::Archive => assert!(archived.contains(&"00000000000000000001.journal".into())),
            _ => assert!(archived.is_empty(), "{archived:?}"),
        }
        // The restart starts from a snapshot and reaches the same state.
        let state = recover_with(&options, false).unwrap();
        assert!(state.snapshot.is_some());
        assert_eq!(state.matcher.state_hash(), live_hash, "{retain:?}");
        drop(state);
        // From scratch, the journal no longer reaches back to record 1: refused, loudly.
        let error = recover_with(&options, true).err().expect("refused");
        assert!(error.to_string().contains("sequence gap"), "{error}");
    }
}
