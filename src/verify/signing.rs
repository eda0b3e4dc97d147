//! Backpack's signing string, rebuilt byte for byte from the request, and its query decoding.
//!
//! `instruction=<instr>&<k>=<v>…&timestamp=<X-Timestamp>&window=<X-Window or 5000>`:
//! - GET: the percent-decoded query pairs (`+` = space), as `url::Url::query_pairs()` yields them
//!   (empty pieces skipped, a piece without `=` has an empty value); a repeated key is an error.
//! - JSON body: one pair per top-level key, the value's raw token without quotes.
//! - Query plus body: query pairs, then body pairs, each group sorted by key **byte-wise**.
//! - Batch array: per element `instruction=orderExecute&<sorted pairs>`, joined by `&`, then
//!   `&timestamp=…&window=…` once.
//! - WebSocket SUBSCRIBE: `instruction=subscribe&timestamp=…&window=…`, no pairs.
//!
//! Everything writes into caller-provided buffers: no allocation once they have their capacity.

use super::json::FlatObject;

/// Most query pairs one request may have.
pub const QUERY_PAIRS_MAX: usize = 32;

/// A key and value, borrowed from the body or from a [`DecodedQuery`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair<'a> {
    /// Key bytes.
    pub key: &'a [u8],
    /// Value bytes.
    pub value: &'a [u8],
}

/// Why a query string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// A key appears twice.
    RepeatedKey,
    /// More than [`QUERY_PAIRS_MAX`] pairs, or a decoded piece that is not UTF-8.
    Invalid,
}

/// A query string decoded into `(key, value)` ranges of an owned scratch buffer.
pub struct DecodedQuery {
    bytes: Vec<u8>,
    ranges: [(u32, u32, u32); QUERY_PAIRS_MAX],
    count: usize,
}

impl Default for DecodedQuery {
    fn default() -> Self {
        DecodedQuery::with_capacity(crate::constants::REQUEST_TARGET_MAX)
    }
}

impl DecodedQuery {
    /// A decoder whose scratch holds `capacity` decoded bytes without growing.
    pub fn with_capacity(capacity: usize) -> DecodedQuery {
        DecodedQuery {
            bytes: Vec::with_capacity(capacity),
            ranges: [(0, 0, 0); QUERY_PAIRS_MAX],
            count: 0,
        }
    }

    /// Decodes `query` (the text after `?`, without it).
    pub fn decode(&mut self, query: &[u8]) -> Result<(), QueryError> {
        self.bytes.clear();
        self.count = 0;
        for piece in query.split(|&byte| byte == b'&') {
            if piece.is_empty() {
                continue;
            }
            if self.count == QUERY_PAIRS_MAX {
                return Err(QueryError::Invalid);
            }
            let (key, value) = match piece.iter().position(|&byte| byte == b'=') {
                Some(equals) => (&piece[..equals], &piece[equals + 1..]),
                None => (piece, &piece[piece.len()..]),
            };
            let key_start = self.bytes.len();
            percent_decode(key, &mut self.bytes);
            let value_start = self.bytes.len();
            percent_decode(value, &mut self.bytes);
            let end = self.bytes.len();
            // Key and value each: a character split across the `=` is two invalid pieces.
            let utf8 =
                |range: std::ops::Range<usize>| std::str::from_utf8(&self.bytes[range]).is_ok();
            if !utf8(key_start..value_start) || !utf8(value_start..end) {
                return Err(QueryError::Invalid);
            }
            let new_key = &self.bytes[key_start..value_start];
            if self.pairs().any(|pair| pair.key == new_key) {
                return Err(QueryError::RepeatedKey);
            }
            self.ranges[self.count] = (key_start as u32, value_start as u32, end as u32);
            self.count += 1;
        }
        Ok(())
    }

    /// The decoded pairs in query order.
    pub fn pairs(&self) -> impl Iterator<Item = Pair<'_>> + '_ {
        self.ranges[..self.count].iter().map(|&(key, value, end)| Pair {
            key: &self.bytes[key as usize..value as usize],
            value: &self.bytes[value as usize..end as usize],
        })
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.pairs().find(|pair| pair.key == key).map(|pair| pair.value)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// `application/x-www-form-urlencoded` decoding as the `url` crate does it: `+` is a space, a
/// valid `%XX` is its byte, anything else stays as written.
fn percent_decode(text: &[u8], out: &mut Vec<u8>) {
    let mut index = 0;
    while index < text.len() {
        let byte = text[index];
        if byte == b'+' {
            out.push(b' ');
        } else if byte == b'%'
            && let (Some(high), Some(low)) = (
                text.get(index + 1).and_then(|&b| hex_value(b)),
                text.get(index + 2).and_then(|&b| hex_value(b)),
            )
        {
            out.push(high << 4 | low);
            index += 3;
            continue;
        } else {
            out.push(byte);
        }
        index += 1;
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Sorts pairs by key, byte-wise (keys are unique, so stability does not matter).
fn sort_pairs(pairs: &mut [Pair<'_>]) {
    pairs.sort_unstable_by(|a, b| a.key.cmp(b.key));
}

fn append_pairs(out: &mut Vec<u8>, pairs: &[Pair<'_>]) {
    for pair in pairs {
        out.push(b'&');
        out.extend_from_slice(pair.key);
        out.push(b'=');
        out.extend_from_slice(pair.value);
    }
}

fn object_pairs<'a>(
    object: &FlatObject<'a>,
    scratch: &mut [Pair<'a>; super::json::FIELDS_MAX],
) -> usize {
    let fields = object.fields();
    for (slot, field) in scratch.iter_mut().zip(fields) {
        *slot = Pair { key: field.key, value: field.value };
    }
    sort_pairs(&mut scratch[..fields.len()]);
    fields.len()
}

fn append_u64(out: &mut Vec<u8>, value: u64) {
    let mut digits = [0u8; crate::money::UNITS_TEXT_MAX];
    let length = crate::money::write_units(value, 0, &mut digits);
    out.extend_from_slice(&digits[..length]);
}

fn append_time(out: &mut Vec<u8>, timestamp_ms: u64, window_ms: u64) {
    out.extend_from_slice(b"&timestamp=");
    append_u64(out, timestamp_ms);
    out.extend_from_slice(b"&window=");
    append_u64(out, window_ms);
}

/// Appends the signing string of a single (non-batch) request to `out`.
pub fn write_signing_string(
    out: &mut Vec<u8>,
    instruction: &str,
    query: &DecodedQuery,
    body: Option<&FlatObject<'_>>,
    timestamp_ms: u64,
    window_ms: u64,
) {
    out.extend_from_slice(b"instruction=");
    out.extend_from_slice(instruction.as_bytes());
    let mut query_pairs = [Pair { key: b"", value: b"" }; QUERY_PAIRS_MAX];
    for (slot, pair) in query_pairs.iter_mut().zip(query.pairs()) {
        *slot = pair;
    }
    sort_pairs(&mut query_pairs[..query.len()]);
    append_pairs(out, &query_pairs[..query.len()]);
    if let Some(object) = body {
        let mut body_pairs = [Pair { key: b"", value: b"" }; super::json::FIELDS_MAX];
        let count = object_pairs(object, &mut body_pairs);
        append_pairs(out, &body_pairs[..count]);
    }
    append_time(out, timestamp_ms, window_ms);
}

/// Appends the signing string of a WebSocket SUBSCRIBE to `out`:
/// `instruction=subscribe&timestamp=…&window=…` (the stream names are not signed).
pub fn write_subscribe_signing_string(out: &mut Vec<u8>, timestamp_ms: u64, window_ms: u64) {
    out.extend_from_slice(b"instruction=subscribe");
    append_time(out, timestamp_ms, window_ms);
}

/// Appends the signing string of a batch (`POST /api/v1/orders`) to `out`.
pub fn write_batch_signing_string(
    out: &mut Vec<u8>,
    items: &[FlatObject<'_>],
    timestamp_ms: u64,
    window_ms: u64,
) {
    let mut pairs = [Pair { key: b"", value: b"" }; super::json::FIELDS_MAX];
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(b"instruction=orderExecute");
        let count = object_pairs(item, &mut pairs);
        append_pairs(out, &pairs[..count]);
    }
    append_time(out, timestamp_ms, window_ms);
}

#[cfg(test)]
mod tests {
    use super::super::json::{parse_array, parse_object};
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use ed25519_dalek::{Signer, SigningKey};

    const TIMESTAMP: u64 = 1_700_000_000_000;
    const WINDOW: u64 = 5_000;

    fn signing_key() -> SigningKey {
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
        SigningKey::from_bytes(&seed)
    }

    fn check_vector(message: &[u8], expected_text: &str, expected_signature: &str) {
        assert_eq!(std::str::from_utf8(message).unwrap(), expected_text);
        let signature = signing_key().sign(message);
        assert_eq!(STANDARD.encode(signature.to_bytes()), expected_signature);
    }

    #[test]
    fn the_key_of_the_test_vectors() {
        assert_eq!(
            STANDARD.encode(signing_key().verifying_key().as_bytes()),
            "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
        );
    }

    #[test]
    fn vector_1_order_execute() {
        let body = br#"{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"150.50","quantity":"1.25","timeInForce":"GTC","postOnly":true,"clientId":42,"selfTradePrevention":"RejectTaker"}"#;
        let object = parse_object(body).unwrap();
        let mut out = Vec::new();
        write_signing_string(
            &mut out,
            "orderExecute",
            &DecodedQuery::default(),
            Some(&object),
            TIMESTAMP,
            WINDOW,
        );
        check_vector(
            &out,
            "instruction=orderExecute&clientId=42&orderType=Limit&postOnly=true&price=150.50&quantity=1.25&selfTradePrevention=RejectTaker&side=Bid&symbol=SOL_USDC&timeInForce=GTC&timestamp=1700000000000&window=5000",
            "Ol95LLGlNy678vgdKPQP5f5uMWhLGzftzk1owvrxcxu1TCFhGiNfJOVf8vf8VIMhEt12mpfzg6OwElEQitxLDA==",
        );
    }

    #[test]
    fn vector_2_order_query_all() {
        let mut query = DecodedQuery::default();
        query.decode(b"symbol=SOL_USDC").unwrap();
        let mut out = Vec::new();
        write_signing_string(&mut out, "orderQueryAll", &query, None, TIMESTAMP, WINDOW);
        check_vector(
            &out,
            "instruction=orderQueryAll&symbol=SOL_USDC&timestamp=1700000000000&window=5000",
            "CX2dM5lT9EDtdIqKNH3ivG8lj5fnflAG/w87CMMRJuY8VXaXS0bhDVTtQcTX3rhexY1QuR2xVBmTaGPU7f+QBg==",
        );
    }

    #[test]
    fn vector_3_balance_query() {
        let mut out = Vec::new();
        write_signing_string(
            &mut out,
            "balanceQuery",
            &DecodedQuery::default(),
            None,
            TIMESTAMP,
            WINDOW,
        );
        check_vector(
            &out,
            "instruction=balanceQuery&timestamp=1700000000000&window=5000",
            "ogsyh1c6LnY10GiJaCoAEdHpkK2BT4KgS7NAd1PW2DQndw1OnR0WbY0M753KwW9Mq6Dmw3k+Kdw+wPxzKMCiAg==",
        );
    }

    #[test]
    fn vector_4_batch() {
        let body = br#"[{"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"141","quantity":"12"},{"symbol":"SOL_USDC","side":"Ask","orderType":"Limit","price":"142","quantity":"11"}]"#;
        let mut items = [super::super::json::FlatObject::default(); 2];
        let count = parse_array(body, &mut items).unwrap();
        let mut out = Vec::new();
        write_batch_signing_string(&mut out, &items[..count], TIMESTAMP, WINDOW);
        check_vector(
            &out,
            "instruction=orderExecute&orderType=Limit&price=141&quantity=12&side=Bid&symbol=SOL_USDC&instruction=orderExecute&orderType=Limit&price=142&quantity=11&side=Ask&symbol=SOL_USDC&timestamp=1700000000000&window=5000",
            "QKQDEqD1Iz0PQGv76dw+/OfMvdG5bDCPOWexgLHA63jaH7OLkjLm508brpDe6oJKCgAOYLjENhfAevTqRxiyAQ==",
        );
    }

    #[test]
    fn vector_5_subscribe() {
        let mut out = Vec::new();
        write_signing_string(
            &mut out,
            "subscribe",
            &DecodedQuery::default(),
            None,
            TIMESTAMP,
            WINDOW,
        );
        let mut subscribe = Vec::new();
        write_subscribe_signing_string(&mut subscribe, TIMESTAMP, WINDOW);
        assert_eq!(subscribe, out);
        check_vector(
            &out,
            "instruction=subscribe&timestamp=1700000000000&window=5000",
            "mxIdZT3relFG10SYkdl4nIzm1LhhlW8oC6qF2MO03/JWvhFiRSeHidCVk8UGX+cyLu3UdxatFYnoPs+ngqkdBQ==",
        );
    }

    #[test]
    fn backpacks_doc_example() {
        let object = parse_object(br#"{"orderId":28,"symbol":"BTC_USDT"}"#).unwrap();
        let mut out = Vec::new();
        write_signing_string(
            &mut out,
            "orderCancel",
            &DecodedQuery::default(),
            Some(&object),
            1_614_550_000_000,
            5_000,
        );
        assert_eq!(out, b"instruction=orderCancel&orderId=28&symbol=BTC_USDT&timestamp=1614550000000&window=5000");
    }

    #[test]
    fn query_decoding_like_url_query_pairs() {
        let mut query = DecodedQuery::default();
        query.decode(b"b=2&&a=x+y%20z&c&d=%zz&orderType=1&orderId=2").unwrap();
        let pairs: Vec<(&[u8], &[u8])> = query.pairs().map(|p| (p.key, p.value)).collect();
        assert_eq!(
            pairs,
            vec![
                (&b"b"[..], &b"2"[..]),
                (b"a", b"x y z"),
                (b"c", b""),
                (b"d", b"%zz"),
                (b"orderType", b"1"),
                (b"orderId", b"2"),
            ]
        );
        let mut out = Vec::new();
        write_signing_string(&mut out, "x", &query, None, 1, 2);
        assert_eq!(
            out,
            b"instruction=x&a=x y z&b=2&c=&d=%zz&orderId=2&orderType=1&timestamp=1&window=2"
        );
        assert_eq!(query.decode(b"a=1&a=2"), Err(QueryError::RepeatedKey));
        assert_eq!(query.decode(b"a=%ff"), Err(QueryError::Invalid));
        // "€" (E2 82 AC) split across the `=`: whole it would be UTF-8, as pieces it is not
        // (found by the signing_string fuzz target).
        assert_eq!(query.decode(b"a%E2%82=%AC"), Err(QueryError::Invalid));
        assert_eq!(query.decode(b"%E2%82%AC=%E2%82%AC"), Ok(()));
        query.decode(b"").unwrap();
        assert!(query.is_empty());
    }

    #[test]
    fn query_then_body_each_sorted() {
        let mut query = DecodedQuery::default();
        query.decode(b"z=1&y=2").unwrap();
        let object = parse_object(br#"{"b":"1","a":"2"}"#).unwrap();
        let mut out = Vec::new();
        write_signing_string(&mut out, "i", &query, Some(&object), 1, 2);
        assert_eq!(out, b"instruction=i&y=2&z=1&a=2&b=1&timestamp=1&window=2");
    }
}
