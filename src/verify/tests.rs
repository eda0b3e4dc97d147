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
    let mut verifier = Verifier::new(
        Arc::new(Config::embedded_default()),
        AccountKey(*admin().verifying_key().as_bytes()),
    );
    let mut slots: Vec<Box<RequestSlot>> = requests.iter().map(|bytes| slot_from(bytes)).collect();
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
