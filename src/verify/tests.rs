//! The verify stage on slots framed from raw HTTP bytes: the signature matrix at unit level.

use super::*;
use crate::command::Action;
use crate::net::http::{Framed, frame, header_slots};
use crate::records::{ReadQuery, RequestSlot};
use ed25519_dalek::{Signer, SigningKey};

const NOW_MS: u64 = 1_700_000_000_000;

fn user() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn admin() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// A signed request's raw bytes; `signing_string` is what the client signs.
fn signed_request(
    key: &SigningKey,
    method: &str,
    target: &str,
    body: &str,
    signing_string: &str,
    extra_headers: &str,
) -> Vec<u8> {
    let signature = key.sign(signing_string.as_bytes());
    format!(
        "{method} {target} HTTP/1.1\r\nHost: x\r\nX-API-Key: {}\r\nX-Signature: {}\r\nX-Timestamp: {NOW_MS}\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        b64(key.verifying_key().as_bytes()),
        b64(&signature.to_bytes()),
        body.len()
    )
    .into_bytes()
}

fn slot_from(bytes: &[u8]) -> Box<RequestSlot> {
    let mut slot = Box::new(RequestSlot::empty());
    let mut headers = header_slots();
    let Framed::Complete(request) = frame(bytes, &mut headers) else { panic!("not a request") };
    match crate::net::route_of(&request) {
        Ok((route, _)) => crate::net::copy_request(&mut slot, &request, route, None),
        Err(error) => slot.kind = RequestKind::Answered(error),
    }
    slot
}

fn verify_all(requests: &[Vec<u8>]) -> Vec<Box<RequestSlot>> {
    verify_from(requests, false)
}

/// As [`verify_all`], from a loopback peer or not.
fn verify_from(requests: &[Vec<u8>], peer_loopback: bool) -> Vec<Box<RequestSlot>> {
    let mut verifier = Verifier::new(
        Arc::new(Config::embedded_default()),
        AccountKey(*admin().verifying_key().as_bytes()),
    );
    let mut slots: Vec<Box<RequestSlot>> = requests.iter().map(|bytes| slot_from(bytes)).collect();
    slots.iter_mut().for_each(|slot| slot.peer_loopback = peer_loopback);
    let mut references: Vec<&mut RequestSlot> = slots.iter_mut().map(|slot| &mut **slot).collect();
    verifier.verify(&mut references[..], &OverflowPool::with_buffers(1), NOW_MS);
    slots
}

fn rejection(slot: &RequestSlot) -> String {
    match slot.verdict {
        Verdict::Reject(error) => format!("{} {}", error.status(), error.message()),
        other => format!("accepted: {other:?}"),
    }
}

const ORDER: &str =
    r#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"150.50","quantity":"1.25"}"#;
const ORDER_STRING: &str = "instruction=orderExecute&orderType=Limit&price=150.50&quantity=1.25&side=Bid&symbol=SOL_USDC&timestamp=1700000000000&window=5000";

#[test]
fn a_signed_order_becomes_a_command() {
    let slots =
        verify_all(&[signed_request(&user(), "POST", "/api/v1/order", ORDER, ORDER_STRING, "")]);
    let slot = &slots[0];
    assert_eq!(slot.verdict, Verdict::Commands { count: 1 });
    let command = slot.items[0].unwrap();
    assert!(matches!(command.action, Action::Place(_)));
    assert_eq!(command.account.0, *user().verifying_key().as_bytes());
    assert_eq!(slot.signer, Some(command.account));
    assert!(slot.replay_checked && !slot.signer_is_admin);
    assert_eq!((slot.auth.timestamp_ms, slot.auth.window_ms), (NOW_MS, 5_000));
    let mut expected_digest = Sha256::new();
    expected_digest.update(user().verifying_key().as_bytes());
    expected_digest.update(ORDER_STRING.as_bytes());
    assert_eq!(slot.auth.replay_digest, <[u8; 32]>::from(expected_digest.finalize()));
}

#[test]
fn a_command_carries_no_extras_from_what_its_slot_held_before() {
    let order = signed_request(&user(), "POST", "/api/v1/order", ORDER, ORDER_STRING, "");
    let clean = verify_all(std::slice::from_ref(&order)).remove(0);
    // The same order in a slot an earlier withdrawal left its address and clientId in.
    let mut dirty = slot_from(&order);
    dirty.extras.address[..5].copy_from_slice(b"addr1");
    dirty.extras.address_len = 5;
    dirty.extras.client_id[..3].copy_from_slice(b"w-1");
    dirty.extras.client_id_len = 3;
    dirty.extras.has_client_id = true;
    let mut verifier = Verifier::new(
        Arc::new(Config::embedded_default()),
        AccountKey(*admin().verifying_key().as_bytes()),
    );
    let mut references = [&mut *dirty];
    verifier.verify(&mut references[..], &OverflowPool::with_buffers(1), NOW_MS);
    assert_eq!(dirty.verdict, Verdict::Commands { count: 1 });
    assert_eq!(dirty.extras, clean.extras);
    assert!(dirty.extras.is_empty());
    assert_eq!(dirty.items[0], clean.items[0]);
}

#[test]
fn the_signature_matrix() {
    let good = || signed_request(&user(), "POST", "/api/v1/order", ORDER, ORDER_STRING, "");
    let mut flipped = good();
    let text = String::from_utf8(flipped.clone()).unwrap();
    let position = text.find("X-Signature: ").unwrap() + 13;
    flipped[position + 2] = if flipped[position + 2] == b'A' { b'B' } else { b'A' };
    let changed_parameter = signed_request(
        &user(),
        "POST",
        "/api/v1/order",
        &ORDER.replace("150.50", "150.51"),
        ORDER_STRING,
        "",
    );
    let changed_instruction = signed_request(
        &user(),
        "POST",
        "/api/v1/order",
        ORDER,
        &ORDER_STRING.replace("orderExecute", "orderCancel"),
        "",
    );
    let extra_field = signed_request(
        &user(),
        "POST",
        "/api/v1/order",
        &ORDER.replace('}', r#","foo":"1"}"#),
        ORDER_STRING,
        "",
    );
    let oversized_window = signed_request(
        &user(),
        "POST",
        "/api/v1/order",
        ORDER,
        ORDER_STRING,
        "X-Window: 60001\r\n",
    );
    let zero_window =
        signed_request(&user(), "POST", "/api/v1/order", ORDER, ORDER_STRING, "X-Window: 0\r\n");
    let expired = String::from_utf8(good())
        .unwrap()
        .replace(&NOW_MS.to_string(), &(NOW_MS - 5_001).to_string())
        .into_bytes();
    let future = String::from_utf8(good())
        .unwrap()
        .replace(&NOW_MS.to_string(), &(NOW_MS + 1_001).to_string())
        .into_bytes();
    let non_numeric =
        String::from_utf8(good()).unwrap().replace(&NOW_MS.to_string(), "soon").into_bytes();
    let missing_signature = String::from_utf8(good())
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("X-Signature"))
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes();
    let bad_json =
        signed_request(&user(), "POST", "/api/v1/order", r#"{"symbol":"#, ORDER_STRING, "");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (good(), "accepted"),
        (flipped, "401 Invalid signature"),
        (changed_parameter, "401 Invalid signature"),
        (changed_instruction, "401 Invalid signature"),
        // The signature is checked before the fields: an extra (unsigned) field fails the signature.
        (extra_field, "401 Invalid signature"),
        (oversized_window, "400 Invalid header `X-Window`"),
        (zero_window, "400 Invalid header `X-Window`"),
        (expired, "401 Request has expired"),
        (future, "400 Request timestamp is in the future"),
        (non_numeric, "400 Invalid header `X-Timestamp`"),
        (missing_signature, "400 Missing header `X-Signature`"),
        (bad_json, "400 Invalid JSON body"),
    ];
    let requests: Vec<Vec<u8>> = cases.iter().map(|(bytes, _)| bytes.clone()).collect();
    // All in one verify batch: verdicts must not depend on the company.
    let slots = verify_all(&requests);
    for ((_, expected), slot) in cases.iter().zip(&slots) {
        assert!(rejection(slot).starts_with(expected), "{} vs {expected}", rejection(slot));
    }
    // And one at a time, the same verdicts.
    for (bytes, expected) in &cases {
        let slots = verify_all(std::slice::from_ref(bytes));
        assert!(rejection(&slots[0]).starts_with(expected));
    }
}

#[test]
fn a_signed_extra_field_is_a_field_error() {
    let body = ORDER.replace('}', r#","foo":"1"}"#);
    let signing = "instruction=orderExecute&foo=1&orderType=Limit&price=150.50&quantity=1.25&side=Bid&symbol=SOL_USDC&timestamp=1700000000000&window=5000";
    let slots = verify_all(&[signed_request(&user(), "POST", "/api/v1/order", &body, signing, "")]);
    assert_eq!(rejection(&slots[0]), "400 Unknown field `foo`");
}

#[test]
fn administrator_endpoints_need_the_administrator() {
    let target = b64(user().verifying_key().as_bytes());
    let body = format!(r#"{{"account":"{target}","symbol":"USDC","quantity":"1000"}}"#);
    let signing = format!(
        "instruction=adminDeposit&account={target}&quantity=1000&symbol=USDC&timestamp={NOW_MS}&window=5000"
    );
    let slots = verify_all(&[
        signed_request(&user(), "POST", "/api/v1/admin/deposit", &body, &signing, ""),
        signed_request(&admin(), "POST", "/api/v1/admin/deposit", &body, &signing, ""),
    ]);
    assert_eq!(rejection(&slots[0]), "403 Administrator key required");
    assert_eq!(slots[1].verdict, Verdict::Commands { count: 1 });
    assert!(slots[1].signer_is_admin);
}

#[test]
fn metrics_are_open_on_this_host_and_need_the_administrator_elsewhere() {
    let signing = format!("instruction=metricsQuery&timestamp={NOW_MS}&window=5000");
    let requests = [
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        signed_request(&admin(), "GET", "/metrics", "", &signing, ""),
        signed_request(&user(), "GET", "/metrics", "", &signing, ""),
        signed_request(&admin(), "GET", "/metrics", "", "instruction=adminStateQuery", ""),
        signed_request(&admin(), "GET", "/metrics", "", &signing, "X-Window: 0\r\n"),
    ];
    let metrics = Verdict::Read { account: AccountKey::default(), query: ReadQuery::Metrics };
    for slot in verify_from(&requests, true) {
        assert_eq!(slot.verdict, metrics, "anything goes on this host");
    }
    let slots = verify_from(&requests, false);
    let admin_key = AccountKey(*admin().verifying_key().as_bytes());
    assert_eq!(slots[1].verdict, Verdict::Read { account: admin_key, query: ReadQuery::Metrics });
    for index in [0, 2, 3, 4] {
        assert_eq!(rejection(&slots[index]), "403 Administrator key required", "{index}");
    }
}

#[test]
fn reads_batches_and_public_requests() {
    let capital = signed_request(
        &user(),
        "GET",
        "/api/v1/capital",
        "",
        &format!("instruction=balanceQuery&timestamp={NOW_MS}&window=5000"),
        "",
    );
    let fills = signed_request(
        &user(),
        "GET",
        "/wapi/v1/history/fills?",
        "",
        &format!("instruction=fillHistoryQueryAll&timestamp={NOW_MS}&window=5000"),
        "",
    );
    let batch_body = r#"[{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"141","quantity":"12"},{"symbol":"SOL_USDC","side":"Ask","orderType":"Limit","price":"142","quantity":"11"}]"#;
    let batch_string = format!(
        "instruction=orderExecute&orderType=Limit&price=141&quantity=12&side=Bid&symbol=SOL_USDC&instruction=orderExecute&orderType=Limit&price=142&quantity=11&side=Ask&symbol=SOL_USDC&timestamp={NOW_MS}&window=5000"
    );
    let batch = signed_request(&user(), "POST", "/api/v1/orders", batch_body, &batch_string, "");
    let depth = b"GET /api/v1/depth?symbol=SOL_USDC HTTP/1.1\r\n\r\n".to_vec();
    let unknown_path = b"GET /api/v1/account HTTP/1.1\r\n\r\n".to_vec();
    let empty_batch = signed_request(
        &user(),
        "POST",
        "/api/v1/orders",
        "[]",
        &format!("instruction=orderExecute&timestamp={NOW_MS}&window=5000"),
        "",
    );
    let slots = verify_all(&[capital, fills, batch, depth, unknown_path, empty_batch]);
    assert_eq!(slots[0].verdict, Verdict::Commands { count: 1 });
    assert!(!slots[0].replay_checked, "signed GETs are not replay-checked");
    assert!(
        matches!(slots[1].verdict, Verdict::Read { query: ReadQuery::FillHistory(_), .. }),
        "{:?}",
        slots[1].verdict
    );
    assert_eq!(slots[2].verdict, Verdict::Commands { count: 2 });
    assert!(matches!(slots[3].verdict, Verdict::Read { query: ReadQuery::Depth { .. }, .. }));
    assert_eq!(rejection(&slots[4]), "404 Not found");
    assert_eq!(rejection(&slots[5]), "400 Invalid JSON body");
}

/// An order request carrying exactly these key and signature bytes.
fn order_with(key: &[u8; 32], signature: &[u8; 64]) -> Vec<u8> {
    format!(
        "POST /api/v1/order HTTP/1.1\r\nHost: x\r\nX-API-Key: {}\r\nX-Signature: {}\r\nX-Timestamp: {NOW_MS}\r\nContent-Length: {}\r\n\r\n{ORDER}",
        b64(key),
        b64(signature),
        ORDER.len()
    )
    .into_bytes()
}

#[test]
fn encodings_verify_strict_refuses_are_refused_in_a_batch() {
    use curve25519_dalek::{EdwardsPoint, Scalar};
    let good = || signed_request(&user(), "POST", "/api/v1/order", ORDER, ORDER_STRING, "");
    // The identity as key: R = [s]B satisfies the cofactorless equation for every message.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let s = Scalar::from(99u64);
    let mut forged = [0u8; 64];
    forged[..32].copy_from_slice(EdwardsPoint::mul_base(&s).compress().as_bytes());
    forged[32..].copy_from_slice(s.as_bytes());
    // A valid signature with s + ℓ in place of s (ℓ little-endian; s < ℓ, so no overflow).
    let ell: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut malleated = user().sign(ORDER_STRING.as_bytes()).to_bytes();
    let mut carry = 0u16;
    for (byte, ell_byte) in malleated[32..].iter_mut().zip(ell) {
        let sum = u16::from(*byte) + u16::from(ell_byte) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    let requests = vec![
        good(),
        order_with(&identity, &forged),
        good(),
        order_with(user().verifying_key().as_bytes(), &malleated),
        good(),
    ];
    let slots = verify_all(&requests);
    let verdicts: Vec<String> = slots.iter().map(|slot| rejection(slot)).collect();
    for index in [0, 2, 4] {
        assert_eq!(slots[index].verdict, Verdict::Commands { count: 1 });
    }
    assert_eq!(verdicts[1], "401 Invalid signature");
    assert_eq!(verdicts[3], "401 Invalid signature");
}

// WebSocket frames (issue 16).

use crate::api::streams::{Stream, StreamAction, StreamError};
use crate::records::WsRequest;

/// A WebSocket text message as net-in hands it over: the body, no target; in an overflow
/// buffer of `pool` (buffer `index`) when it does not fit inline.
fn ws_slot(text: &str, pool: &OverflowPool, index: u32) -> Box<RequestSlot> {
    let mut slot = Box::new(RequestSlot::empty());
    slot.kind = RequestKind::WsText;
    slot.target_len = 0;
    slot.body_len = text.len() as u32;
    if text.len() <= slot.inline.len() {
        slot.inline[..text.len()].copy_from_slice(text.as_bytes());
    } else {
        // SAFETY: the test owns the pool; nothing else reads the buffer yet.
        unsafe { pool.buffer_mut(index)[..text.len()].copy_from_slice(text.as_bytes()) };
        slot.overflow = index;
    }
    slot
}

/// Verifies `frames` in one batch, at `NOW_MS`.
fn verify_ws(frames: &[String]) -> Vec<Box<RequestSlot>> {
    let pool = OverflowPool::with_buffers(frames.len());
    let mut slots: Vec<Box<RequestSlot>> =
        frames.iter().enumerate().map(|(index, text)| ws_slot(text, &pool, index as u32)).collect();
    let mut verifier = Verifier::new(
        Arc::new(Config::embedded_default()),
        AccountKey(*admin().verifying_key().as_bytes()),
    );
    let mut references: Vec<&mut RequestSlot> = slots.iter_mut().map(|slot| &mut **slot).collect();
    verifier.verify(&mut references[..], &pool, NOW_MS);
    slots
}

fn actions(slot: &RequestSlot) -> Vec<StreamAction> {
    match slot.verdict {
        Verdict::StreamActions { count } => slot.stream_actions[..count as usize].to_vec(),
        other => panic!("not stream actions: {other:?}"),
    }
}

fn stream(name: &str) -> Stream {
    Stream::parse(name.as_bytes(), &Config::embedded_default()).unwrap()
}

fn subscribe(name: &str) -> StreamAction {
    StreamAction::Subscribe(stream(name))
}

const INVALID_SIGNATURE: StreamAction = StreamAction::Error(StreamError::InvalidSignature);
const INVALID_STREAM: StreamAction = StreamAction::Error(StreamError::InvalidStream);
const INVALID_REQUEST: StreamAction = StreamAction::Error(StreamError::InvalidRequest);

/// A SUBSCRIBE of `params` (JSON array text) signed by `key` over
/// `instruction=subscribe&timestamp=<timestamp>&window=<window or 5000>`; `window: None` sends
/// three items.
fn signed_subscribe(
    key: &SigningKey,
    params: &str,
    timestamp_ms: u64,
    window_ms: Option<u64>,
) -> String {
    let signing = format!(
        "instruction=subscribe&timestamp={timestamp_ms}&window={}",
        window_ms.unwrap_or(5_000)
    );
    let signature = b64(&key.sign(signing.as_bytes()).to_bytes());
    let window = window_ms.map_or(String::new(), |window| format!(r#","{window}""#));
    format!(
        r#"{{"method":"SUBSCRIBE","params":{params},"signature":["{}","{signature}","{timestamp_ms}"{window}]}}"#,
        b64(key.verifying_key().as_bytes())
    )
}

#[test]
fn websocket_upgrade_and_control_pass_on_as_reads() {
    let mut verifier = Verifier::new(Arc::new(Config::embedded_default()), dev_admin_key());
    let mut upgrade = Box::new(RequestSlot::empty());
    upgrade.kind = RequestKind::WsUpgrade;
    upgrade.extras = Extras::with_bytes(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    let mut close = Box::new(RequestSlot::empty());
    close.kind = RequestKind::WsControl(WsRequest::Close { code: 1000 });
    let mut slots = [&mut *upgrade, &mut *close];
    verifier.verify(&mut slots[..], &OverflowPool::with_buffers(1), NOW_MS);
    let read = |request| Verdict::Read {
        account: AccountKey::default(),
        query: ReadQuery::WebSocket(request),
    };
    assert_eq!(upgrade.verdict, read(WsRequest::Upgrade));
    assert_eq!(upgrade.extras.address(), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(close.verdict, read(WsRequest::Close { code: 1000 }));
}

#[test]
fn websocket_public_subscribe_and_unsubscribe_in_frame_order() {
    let frames = [
        r#"{"method":"SUBSCRIBE","params":["depth.SOL_USDC","trade.SOL_USDC","kline.1m.BTC_USDC"]}"#,
        // Keys in any order, whitespace, an ignored id, lower case.
        " { \"params\" : [ \"bookTicker.ETH_USDC\" ] ,\n \"id\" : 7 , \"method\" : \"subscribe\" } ",
        // Unsubscribing needs no signature, even from a private stream.
        r#"{"method":"UNSUBSCRIBE","params":["account.orderUpdate","depth.200ms.SOL_USDC"]}"#,
        r#"{"method":"SUBSCRIBE","params":[]}"#,
    ];
    let slots = verify_ws(&frames.map(String::from));
    assert_eq!(
        actions(&slots[0]),
        [subscribe("depth.SOL_USDC"), subscribe("trade.SOL_USDC"), subscribe("kline.1m.BTC_USDC")]
    );
    assert_eq!(actions(&slots[1]), [subscribe("bookTicker.ETH_USDC")]);
    assert_eq!(
        actions(&slots[2]),
        [
            StreamAction::Unsubscribe(stream("account.orderUpdate")),
            StreamAction::Unsubscribe(stream("depth.200ms.SOL_USDC")),
        ]
    );
    assert_eq!(slots[3].verdict, Verdict::StreamActions { count: 0 });
    assert!(slots.iter().all(|slot| slot.signer.is_none() && !slot.replay_checked));
}

#[test]
fn websocket_unknown_names_fail_alone_and_bad_frames_whole() {
    let frames = [
        r#"{"method":"SUBSCRIBE","params":["depth.SOL_USDC","depth.DOGE_USDC","trade\u002eSOL_USDC","trade.SOL_USDC"]}"#,
        "not json",
        r#"{"method":"SUBSCRIBE"}"#,
        r#"{"method":"SUBSCRIBE","params":["trade.SOL_USDC",1]}"#,
        r#"{"method":"LIST_SUBSCRIPTIONS","params":["trade.SOL_USDC"]}"#,
    ];
    let slots = verify_ws(&frames.map(String::from));
    assert_eq!(
        actions(&slots[0]),
        [subscribe("depth.SOL_USDC"), INVALID_STREAM, INVALID_STREAM, subscribe("trade.SOL_USDC")]
    );
    for slot in &slots[1..] {
        assert_eq!(actions(slot), [INVALID_REQUEST]);
    }
}

#[test]
fn websocket_more_than_256_names_is_one_error() {
    let frame = |count: usize| {
        let names = vec![r#""trade.SOL_USDC""#; count].join(",");
        format!(r#"{{"method":"SUBSCRIBE","params":[{names}]}}"#)
    };
    // Both are longer than the inline bytes: read from the overflow buffers.
    let slots = verify_ws(&[frame(256), frame(257)]);
    assert_eq!(actions(&slots[0]), vec![subscribe("trade.SOL_USDC"); 256]);
    assert_eq!(actions(&slots[1]), [StreamAction::Error(StreamError::TooManyStreams)]);
}

#[test]
fn websocket_signed_subscribe_reaches_private_streams() {
    let params = r#"["account.orderUpdate","trade.SOL_USDC","account.orderUpdate.SOL_USDC"]"#;
    // API.md §2 test vector 5, byte for byte (key seed 0x00..0x1f).
    let vector = r#"{"method":"SUBSCRIBE","params":["account.orderUpdate"],"signature":["A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=","mxIdZT3relFG10SYkdl4nIzm1LhhlW8oC6qF2MO03/JWvhFiRSeHidCVk8UGX+cyLu3UdxatFYnoPs+ngqkdBQ==","1700000000000","5000"]}"#;
    let slots = verify_ws(&[
        signed_subscribe(&user(), params, NOW_MS, Some(5_000)),
        // Three items: the default window, 5000, is what was signed.
        signed_subscribe(&user(), params, NOW_MS - 5_000, None),
        vector.to_string(),
    ]);
    let expected = [
        subscribe("account.orderUpdate"),
        subscribe("trade.SOL_USDC"),
        subscribe("account.orderUpdate.SOL_USDC"),
    ];
    let user_key = AccountKey(*user().verifying_key().as_bytes());
    for slot in &slots[..2] {
        assert_eq!(actions(slot), expected);
        assert_eq!(slot.signer, Some(user_key));
        assert!(!slot.replay_checked && !slot.signer_is_admin, "a subscription is not a command");
    }
    assert_eq!(actions(&slots[2]), [subscribe("account.orderUpdate")]);
    let vector_key = SigningKey::from_bytes(&std::array::from_fn(|index| index as u8));
    assert_eq!(slots[2].signer, Some(AccountKey(*vector_key.verifying_key().as_bytes())));
}

#[test]
fn websocket_signature_failures_refuse_only_the_private_streams() {
    let params = r#"["trade.SOL_USDC","account.orderUpdate","ticker.SOL_USDC","account.orderUpdate.SOL_USDC"]"#;
    let good = signed_subscribe(&user(), params, NOW_MS, Some(5_000));
    let other_key = b64(admin().verifying_key().as_bytes());
    let frames = [
        // Signed by another key than the one named.
        good.replace(&b64(user().verifying_key().as_bytes()), &other_key),
        // The signature over another timestamp than the one sent.
        good.replacen(&format!(r#""{NOW_MS}""#), &format!(r#""{}""#, NOW_MS - 1), 1),
        signed_subscribe(&user(), params, NOW_MS - 5_001, Some(5_000)),
        signed_subscribe(&user(), params, NOW_MS + 1_001, Some(5_000)),
        signed_subscribe(&user(), params, NOW_MS, Some(0)),
        signed_subscribe(&user(), params, NOW_MS, Some(60_001)),
        format!(r#"{{"method":"SUBSCRIBE","params":{params}}}"#),
        format!(r#"{{"method":"SUBSCRIBE","params":{params},"signature":["{other_key}"]}}"#),
        // A good one in the same batch: verdicts do not depend on the company.
        good.clone(),
    ];
    let slots = verify_ws(&frames);
    let refused = [subscribe("trade.SOL_USDC"), INVALID_SIGNATURE, subscribe("ticker.SOL_USDC")];
    for (index, slot) in slots[..frames.len() - 1].iter().enumerate() {
        assert_eq!(actions(slot), refused, "frame {index}: {}", frames[index]);
        assert_eq!(slot.signer, None);
    }
    assert_eq!(actions(&slots[frames.len() - 1]).len(), 4);
    // A frame without private names ignores even a bad signature.
    let public = frames[0].replace(params, r#"["trade.SOL_USDC"]"#);
    let slots = verify_ws(&[public]);
    assert_eq!(actions(&slots[0]), [subscribe("trade.SOL_USDC")]);
    assert_eq!(slots[0].signer, None);
}
