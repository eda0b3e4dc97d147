//! The load generator's own signer: Backpack's scheme (API.md §2), written here rather than
//! borrowed from `verify` so that the client and the server check each other instead of sharing
//! a mistake.
//!
//! Bodies are flat JSON objects of strings and plain non-negative integers: exactly what the
//! signing string can express (the value's JSON text without its quotes).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// A value of a request body's field.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A JSON string (never holding `"`, `\` or control characters).
    Text(String),
    /// A JSON integer.
    Integer(u64),
}

/// One signed request, before it becomes bytes.
pub struct Request<'a> {
    /// `GET`, `POST` or `DELETE`.
    pub method: &'a str,
    /// The path, with its query if any (`/api/v1/order`).
    pub path: &'a str,
    /// The instruction the path and method stand for (`orderExecute`).
    pub instruction: &'a str,
    /// The body's fields, in the order they are written (the signing string sorts them).
    pub fields: &'a [(&'a str, Value)],
    /// `X-Timestamp`, Unix ms.
    pub timestamp_ms: u64,
    /// `X-Window`, ms (1..=60000).
    pub window_ms: u64,
}

/// An account: an ED25519 key and its `X-API-Key` text.
#[derive(Clone)]
pub struct Account {
    signing: SigningKey,
    /// Padded standard base64 of the public key: the account's name on the wire.
    pub key_base64: String,
}

impl Account {
    /// The account of a 32-byte secret seed.
    pub fn from_seed(seed: [u8; 32]) -> Account {
        let signing = SigningKey::from_bytes(&seed);
        let key_base64 = STANDARD.encode(signing.verifying_key().as_bytes());
        Account { signing, key_base64 }
    }

    /// Account `index` of the run seeded with `seed`: the same seed gives the same accounts, so
    /// a second run can find (and clean up) what the first one left.
    pub fn derived(seed: u64, index: usize) -> Account {
        let mut hash = Sha256::new();
        hash.update(b"ringex-loadgen-account");
        hash.update(seed.to_le_bytes());
        hash.update((index as u64).to_le_bytes());
        Account::from_seed(hash.finalize().into())
    }

    /// Base64 of the signature of `message`.
    pub fn sign_base64(&self, message: &str) -> String {
        STANDARD.encode(self.signing.sign(message.as_bytes()).to_bytes())
    }
}

/// A value's text in the signing string: its JSON text without quotes.
fn raw(value: &Value) -> String {
    match value {
        Value::Text(text) => text.clone(),
        Value::Integer(number) => number.to_string(),
    }
}

/// `instruction=…&<sorted pairs>&timestamp=…&window=…`.
pub fn signing_string(
    instruction: &str,
    fields: &[(&str, Value)],
    timestamp_ms: u64,
    window_ms: u64,
) -> String {
    let mut pairs: Vec<(&str, String)> = fields.iter().map(|(key, v)| (*key, raw(v))).collect();
    pairs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut text = format!("instruction={instruction}");
    for (key, value) in pairs {
        let _ = write!(text, "&{key}={value}");
    }
    let _ = write!(text, "&timestamp={timestamp_ms}&window={window_ms}");
    text
}

/// The body's JSON text (`{}`-less when there are no fields: no body at all).
pub fn body_json(fields: &[(&str, Value)]) -> String {
    if fields.is_empty() {
        return String::new();
    }
    let mut text = String::from("{");
    for (position, (key, value)) in fields.iter().enumerate() {
        if position > 0 {
            text.push(',');
        }
        match value {
            Value::Text(string) => {
                debug_assert!(!string.contains(['"', '\\']), "{string}");
                let _ = write!(text, "\"{key}\":\"{string}\"");
            }
            Value::Integer(number) => {
                let _ = write!(text, "\"{key}\":{number}");
            }
        }
    }
    text.push('}');
    text
}

/// The request's HTTP/1.1 bytes, signed by `account`, for the server called `host`.
pub fn request_bytes(account: &Account, host: &str, request: &Request) -> Vec<u8> {
    let signature = signature(account, request);
    let body = body_json(request.fields);
    let mut bytes = String::with_capacity(400 + body.len());
    let _ = write!(
        bytes,
        "{} {} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {}\r\nX-Signature: {signature}\r\n\
         X-Timestamp: {}\r\nX-Window: {}\r\n",
        request.method, request.path, account.key_base64, request.timestamp_ms, request.window_ms
    );
    if !body.is_empty() {
        let _ =
            write!(bytes, "Content-Type: application/json\r\nContent-Length: {}\r\n", body.len());
    }
    bytes.push_str("\r\n");
    bytes.push_str(&body);
    bytes.into_bytes()
}

/// A signed GET's bytes: `request.fields` go into the query string, in the order given, and
/// into the signing string (sorted there), and there is no body. Values must need no percent
/// encoding (letters, digits, `-_.`), which is all the tools send.
pub fn query_bytes(account: &Account, host: &str, request: &Request) -> Vec<u8> {
    assert_eq!(request.method, "GET");
    let signature = signature(account, request);
    let pairs: Vec<String> = request
        .fields
        .iter()
        .map(|(key, value)| {
            let value = raw(value);
            assert!(value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
            format!("{key}={value}")
        })
        .collect();
    let path = match pairs.is_empty() {
        true => request.path.to_string(),
        false => format!("{}?{}", request.path, pairs.join("&")),
    };
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {}\r\nX-Signature: {}\r\n\
         X-Timestamp: {}\r\nX-Window: {}\r\n\r\n",
        account.key_base64, signature, request.timestamp_ms, request.window_ms
    )
    .into_bytes()
}

/// The request's `X-Signature`: `account`'s signature of its signing string.
fn signature(account: &Account, request: &Request) -> String {
    assert!((1..=60_000).contains(&request.window_ms), "window {}", request.window_ms);
    let message = signing_string(
        request.instruction,
        request.fields,
        request.timestamp_ms,
        request.window_ms,
    );
    account.sign_base64(&message)
}

/// A public GET's bytes.
pub fn get_bytes(host: &str, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
}

/// The `signature` array of a WebSocket SUBSCRIBE to private streams, as JSON text.
pub fn subscribe_signature(account: &Account, timestamp_ms: u64, window_ms: u64) -> String {
    let message = signing_string("subscribe", &[], timestamp_ms, window_ms);
    format!(
        "[\"{}\",\"{}\",\"{timestamp_ms}\",\"{window_ms}\"]",
        account.key_base64,
        account.sign_base64(&message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// API.md §2's test key: seed bytes 0x00..0x1f.
    fn vector_account() -> Account {
        Account::from_seed(std::array::from_fn(|i| i as u8))
    }

    #[test]
    fn the_order_test_vector_signs_to_the_documented_bytes() {
        let account = vector_account();
        assert_eq!(account.key_base64, "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=");
        let text = |s: &str| Value::Text(s.to_string());
        let fields = [
            ("symbol", text("SOL_USDC")),
            ("side", text("Bid")),
            ("orderType", text("Limit")),
            ("price", text("150.50")),
            ("quantity", text("1.25")),
            ("timeInForce", text("GTC")),
            ("postOnly", text("true")),
            ("clientId", Value::Integer(42)),
            ("selfTradePrevention", text("RejectTaker")),
        ];
        let message = signing_string("orderExecute", &fields, 1_700_000_000_000, 5000);
        assert_eq!(
            message,
            "instruction=orderExecute&clientId=42&orderType=Limit&postOnly=true&price=150.50\
             &quantity=1.25&selfTradePrevention=RejectTaker&side=Bid&symbol=SOL_USDC&timeInForce=GTC\
             &timestamp=1700000000000&window=5000"
        );
        assert_eq!(
            account.sign_base64(&message),
            "Ol95LLGlNy678vgdKPQP5f5uMWhLGzftzk1owvrxcxu1TCFhGiNfJOVf8vf8VIMhEt12mpfzg6OwElEQitxLDA=="
        );
    }

    #[test]
    fn the_no_parameter_and_subscribe_vectors_sign_to_the_documented_bytes() {
        let account = vector_account();
        let balance = signing_string("balanceQuery", &[], 1_700_000_000_000, 5000);
        assert_eq!(
            account.sign_base64(&balance),
            "ogsyh1c6LnY10GiJaCoAEdHpkK2BT4KgS7NAd1PW2DQndw1OnR0WbY0M753KwW9Mq6Dmw3k+Kdw+wPxzKMCiAg=="
        );
        let subscribe = subscribe_signature(&account, 1_700_000_000_000, 5000);
        assert!(subscribe.contains(
            "mxIdZT3relFG10SYkdl4nIzm1LhhlW8oC6qF2MO03/JWvhFiRSeHidCVk8UGX+cyLu3UdxatFYnoPs+ngqkdBQ=="
        ));
    }

    #[test]
    fn a_request_carries_its_headers_and_a_framed_body() {
        let account = Account::derived(7, 3);
        let fields = [("symbol", Value::Text("SOL_USDC".into())), ("clientId", Value::Integer(9))];
        let request = Request {
            method: "DELETE",
            path: "/api/v1/order",
            instruction: "orderCancel",
            fields: &fields,
            timestamp_ms: 1_700_000_000_000,
            window_ms: 10_000,
        };
        let bytes = String::from_utf8(request_bytes(&account, "h:1", &request)).unwrap();
        let body = r#"{"symbol":"SOL_USDC","clientId":9}"#;
        assert!(bytes.starts_with("DELETE /api/v1/order HTTP/1.1\r\nHost: h:1\r\n"), "{bytes}");
        assert!(bytes.contains("X-Window: 10000\r\n"));
        assert!(bytes.contains(&format!("Content-Length: {}\r\n\r\n{body}", body.len())));
        assert!(bytes.ends_with(body));
        assert_ne!(Account::derived(7, 3).key_base64, Account::derived(7, 4).key_base64);
        // A signed GET carries its fields in the query and signs them like a body's.
        let query = [("limit", Value::Integer(1000)), ("offset", Value::Integer(0))];
        let get = Request {
            method: "GET",
            path: "/wapi/v1/history/orders",
            instruction: "orderHistoryQueryAll",
            fields: &query,
            ..request
        };
        let bytes = String::from_utf8(query_bytes(&account, "h:1", &get)).unwrap();
        assert!(bytes.starts_with("GET /wapi/v1/history/orders?limit=1000&offset=0 HTTP/1.1\r\n"));
        assert!(bytes.ends_with("X-Window: 10000\r\n\r\n"), "{bytes}");
        let message = signing_string("orderHistoryQueryAll", &query, 1_700_000_000_000, 10_000);
        assert!(bytes.contains(&account.sign_base64(&message)));
        assert_ne!(Account::derived(7, 3).key_base64, Account::derived(8, 3).key_base64);
    }
}
