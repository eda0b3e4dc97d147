//! The fuzz targets: one function per decoder at ringex's edges, taking arbitrary bytes and
//! asserting the decoder's contract on them (issue 20 item 6).
//!
//! Both runners call these same functions, so what the fuzzer checks and what CI checks cannot
//! drift apart: `fuzz/` (cargo-fuzz, libFuzzer; `scripts/soak.sh`) and `tests/fuzz.rs` (a seeded
//! mutator over the seed corpus in `fuzz/corpus/<target>/`, run by `cargo test`).
//!
//! **Contract of every target:** it never panics on any input unless a decoder broke its own
//! contract: a panic *is* the finding. Each decoder answers garbage with its error value (never a
//! panic, an out-of-bounds slice or a wrapped length); where it is cheap, a target also checks a
//! round trip (`decode(encode(x)) == x`), an oracle, or that feeding the same bytes in pieces
//! gives the same answer as feeding them whole.
//!
//! The targets are: [`http_framer`], [`websocket_frames`], [`signing_string`], [`decimal`],
//! [`journal_record`] and [`snapshot`]. They may
//! allocate: they are test code living in the library only so that both runners can reach it.
//! This module is neutral ground: it calls into the stages, no stage calls into it.

use crate::api::error::ErrorKind;
use crate::api::websocket::{CONTROL_PAYLOAD_MAX, MESSAGE_BYTES_MAX, Opcode};
use crate::config::{Config, DEFAULT_TOML};
use crate::constants::{REQUEST_BODY_MAX, REQUEST_HEADERS_BYTES_MAX};
use crate::journal::payload::{self, JOURNAL_RECORD_MAX};
use crate::journal::{
    Chain, PAYLOAD_SIZE_MAX, RECORD_HEADER_SIZE, SEGMENT_HEADER_SIZE, SegmentHeader, decode_record,
    encode_record,
};
use crate::money::{DecimalError, SCALE_MAX, UNITS_TEXT_MAX, parse_units, write_units};
use crate::net::http::{Framed, HeadScan, frame, frame_from, header_slots};
use crate::net::websocket::{Message, Progress, close_code, decode_header, unmask};
use crate::types::{AssetId, MarketId, SequenceNumber};
use crate::verify::json::{self, FlatObject};
use crate::verify::signing::{
    DecodedQuery, QUERY_PAIRS_MAX, write_batch_signing_string, write_signing_string,
};

/// A fuzz target: arbitrary bytes in, a panic if a contract broke.
pub type Target = fn(&[u8]);

/// Every target by name: the names of `fuzz/fuzz_targets/*.rs` and `fuzz/corpus/*/`.
pub const TARGETS: [(&str, Target); 6] = [
    ("http_framer", http_framer),
    ("websocket_frames", websocket_frames),
    ("signing_string", signing_string),
    ("decimal", decimal),
    ("journal_record", journal_record),
    ("snapshot", snapshot),
];

/// Most requests framed from one input (pipelined requests, one after another).
const PIPELINED_MAX: usize = 16;

/// HTTP framing of arbitrary bytes as a connection's input: every answer is `Incomplete`, a
/// `Complete` request inside the buffer, or a framing error (400, 411, 413, 431); the same bytes
/// arriving in three pieces (framed with [`frame_from`] resuming its [`HeadScan`]) get the same
/// answer; pipelined requests after the first are framed in turn.
pub fn http_framer(bytes: &[u8]) {
    let mut rest = bytes;
    for _ in 0..PIPELINED_MAX {
        let whole = frame(rest, &mut header_slots());
        let mut scan = HeadScan::default();
        let cuts = [rest.len() / 3, rest.len() * 2 / 3, rest.len()];
        let mut pieces = None;
        for cut in cuts {
            match frame_from(&rest[..cut], &mut scan, &mut header_slots()) {
                Framed::Incomplete => {}
                framed => {
                    pieces = Some(format!("{framed:?}"));
                    break;
                }
            }
        }
        let pieces = pieces.unwrap_or_else(|| format!("{:?}", Framed::Incomplete));
        assert_eq!(format!("{whole:?}"), pieces, "whole and in pieces disagree");
        match whole {
            Framed::Incomplete => {
                assert!(rest.len() <= REQUEST_HEADERS_BYTES_MAX + REQUEST_BODY_MAX);
                return;
            }
            Framed::Refused(error) => {
                assert!(
                    matches!(
                        error.kind,
                        ErrorKind::MalformedRequest
                            | ErrorKind::HeadersTooLarge
                            | ErrorKind::BodyTooLarge
                            | ErrorKind::LengthRequired
                    ),
                    "not a framing error: {error:?}"
                );
                return;
            }
            Framed::Complete(request) => {
                assert!(request.length <= rest.len() && request.body.len() <= REQUEST_BODY_MAX);
                let head_len = request.length - request.body.len();
                assert!(head_len <= REQUEST_HEADERS_BYTES_MAX);
                assert!(rest[..head_len].ends_with(b"\r\n\r\n"));
                assert_eq!(request.body, &rest[head_len..request.length]);
                assert!(request.target.starts_with(request.path));
                assert!(request.target.ends_with(request.query));
                assert!(request.length > 0);
                rest = &rest[request.length..];
            }
        }
    }
}

/// WebSocket frames back to back as a client sends them, decoded and assembled as net-in does:
/// every frame header is whole and inside the buffer (and one byte less is "not yet", never a
/// frame), control frames are final and short, unmasking twice is the identity, a Close payload's
/// code is sendable, and a complete message is at most [`MESSAGE_BYTES_MAX`] of UTF-8.
pub fn websocket_frames(bytes: &[u8]) {
    let mut buffer = bytes.to_vec();
    let mut at = 0;
    let mut message = Message::default();
    let mut text: Vec<u8> = Vec::new();
    loop {
        let header = match decode_header(&buffer[at..], text.len()) {
            Ok(Some(header)) => header,
            Ok(None) | Err(_) => return,
        };
        let length = header.length();
        assert!(length <= buffer.len() - at);
        assert!(matches!(header.header_len, 6 | 8 | 14));
        assert_eq!(decode_header(&buffer[at..at + length - 1], text.len()), Ok(None));
        let payload = &mut buffer[at + header.header_len..at + length];
        let masked = payload.to_vec();
        unmask(payload, header.mask);
        let mut again = payload.to_vec();
        unmask(&mut again, header.mask);
        assert_eq!(again, masked, "unmasking twice is not the identity");
        at += length;
        if header.opcode.is_control() {
            assert!(header.fin && payload.len() <= CONTROL_PAYLOAD_MAX);
            if header.opcode == Opcode::Close {
                match close_code(payload) {
                    Ok(code) => assert!(matches!(code, 1000..=1003 | 1007..=1011 | 3000..=4999)),
                    Err(_) => return,
                }
            }
            continue;
        }
        text.extend_from_slice(payload);
        match message.take(header.opcode, header.fin, header.payload_len, &text) {
            Err(_) => return,
            Ok(Progress::Partial) => assert!(text.len() <= MESSAGE_BYTES_MAX),
            Ok(Progress::Complete) => {
                assert!(text.len() <= MESSAGE_BYTES_MAX);
                assert!(std::str::from_utf8(&text).is_ok());
                text.clear();
            }
        }
    }
}

/// The signing string from a query and a body (the input split at its first `\n`): the decoded
/// query has at most [`QUERY_PAIRS_MAX`] unique UTF-8 pairs; the body is refused or a flat
/// object (or array of them); the string is `instruction=…`, the pairs, `&timestamp=…&window=…`,
/// exactly as long as its parts, and UTF-8.
pub fn signing_string(bytes: &[u8]) {
    let (query_bytes, body) = match bytes.iter().position(|&byte| byte == b'\n') {
        Some(newline) => (&bytes[..newline], &bytes[newline + 1..]),
        None => (bytes, &bytes[bytes.len()..]),
    };
    let mut query = DecodedQuery::default();
    if query.decode(query_bytes).is_err() {
        query.decode(b"").expect("the empty query");
    }
    assert!(query.len() <= QUERY_PAIRS_MAX);
    for (index, pair) in query.pairs().enumerate() {
        assert!(std::str::from_utf8(pair.key).is_ok() && std::str::from_utf8(pair.value).is_ok());
        assert!(query.pairs().skip(index + 1).all(|other| other.key != pair.key));
        assert_eq!(query.get(pair.key), Some(pair.value));
    }
    let pairs_len = |pairs: &mut dyn Iterator<Item = (&[u8], &[u8])>| -> usize {
        pairs.map(|(key, value)| 2 + key.len() + value.len()).sum()
    };
    let timestamp_ms = u64::from_le_bytes(std::array::from_fn(|i| *bytes.get(i).unwrap_or(&0)));
    let window_ms = bytes.len() as u64;
    let suffix = format!("&timestamp={timestamp_ms}&window={window_ms}");
    let mut out = Vec::new();
    let expected = if json::is_array(body) {
        let mut items = [FlatObject::default(); 11];
        let Ok(count) = json::parse_array(body, &mut items) else { return };
        write_batch_signing_string(&mut out, &items[..count], timestamp_ms, window_ms);
        let items_len: usize = items[..count]
            .iter()
            .map(|item| {
                b"instruction=orderExecute".len()
                    + pairs_len(&mut item.fields().iter().map(|field| (field.key, field.value)))
            })
            .sum();
        items_len + count.saturating_sub(1)
    } else {
        let object = json::parse_object(body).ok();
        write_signing_string(
            &mut out,
            "orderExecute",
            &query,
            object.as_ref(),
            timestamp_ms,
            window_ms,
        );
        let body_len = object.map_or(0, |object| {
            pairs_len(&mut object.fields().iter().map(|field| (field.key, field.value)))
        });
        b"instruction=orderExecute".len()
            + pairs_len(&mut query.pairs().map(|pair| (pair.key, pair.value)))
            + body_len
    };
    assert!(out.starts_with(b"instruction=orderExecute") || out.starts_with(b"&timestamp="));
    assert!(out.ends_with(suffix.as_bytes()));
    assert_eq!(out.len(), expected + suffix.len());
    assert!(std::str::from_utf8(&out).is_ok(), "signing string not UTF-8");
}

/// The default configuration, parsed once.
fn default_config() -> &'static Config {
    static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    CONFIG.get_or_init(|| Config::from_toml(DEFAULT_TOML).expect("the default configuration"))
}

/// [`parse_units`] by a slower, independent route (u128 arithmetic). Errors come in the product's
/// order: the integer digits left to right (a non-digit is `Malformed`, a value past `u64::MAX`
/// is `Overflow`, whichever comes first), then the fraction's digits, then its length.
fn parse_units_oracle(text: &[u8], scale: u32) -> Result<u64, DecimalError> {
    let (integer, fraction) = match text.iter().position(|&byte| byte == b'.') {
        Some(dot) => (&text[..dot], Some(&text[dot + 1..])),
        None => (text, None),
    };
    if integer.is_empty() || fraction.is_some_and(<[u8]>::is_empty) {
        return Err(DecimalError::Malformed);
    }
    let mut value: u128 = 0;
    for &byte in integer {
        if !byte.is_ascii_digit() {
            return Err(DecimalError::Malformed);
        }
        value = value * 10 + u128::from(byte - b'0');
        if value > u128::from(u64::MAX) {
            return Err(DecimalError::Overflow);
        }
    }
    let fraction = fraction.unwrap_or(b"");
    if !fraction.iter().all(u8::is_ascii_digit) {
        return Err(DecimalError::Malformed);
    }
    if fraction.len() > scale as usize {
        return Err(DecimalError::TooManyDecimals);
    }
    let ten = |exponent: usize| 10u128.pow(exponent as u32);
    let fraction_value =
        fraction.iter().fold(0u128, |sum, &byte| sum * 10 + u128::from(byte - b'0'));
    let units = value * ten(scale as usize) + fraction_value * ten(scale as usize - fraction.len());
    u64::try_from(units).map_err(|_| DecimalError::Overflow)
}

/// The decimal converter (the input's first byte picks the scale, the rest is the text):
/// [`parse_units`] agrees with an independent oracle, `write_units` of what it parsed parses back
/// to the same units, and the default market's price, quantity and amount parsers accept only
/// what `parse_units` accepts, within their bounds and on their tick and step.
pub fn decimal(bytes: &[u8]) {
    let Some((&first, text)) = bytes.split_first() else { return };
    let scale = u32::from(first) % (SCALE_MAX + 1);
    let parsed = parse_units(text, scale);
    assert_eq!(parsed, parse_units_oracle(text, scale), "text {:?}", String::from_utf8_lossy(text));
    if let Ok(units) = parsed {
        let mut written = [0u8; UNITS_TEXT_MAX];
        let length = write_units(units, scale, &mut written);
        assert_eq!(parse_units(&written[..length], scale), Ok(units));
    }
    let config = default_config();
    let market = config.market(MarketId(0));
    if let Ok(ticks) = config.market(MarketId(0)).parse_price(text) {
        assert!(ticks.0 >= 1 && ticks.0 <= market.price_ticks_max);
        assert_eq!(parse_units(text, market.tick.scale), Ok(ticks.0 * market.tick.units));
    }
    if let Ok(steps) = market.parse_quantity(text) {
        assert!(steps.0 >= market.min_quantity_steps.0 && steps.0 <= market.quantity_steps_max);
        assert_eq!(parse_units(text, market.step.scale), Ok(steps.0 * market.step.units));
    }
    let asset = AssetId(0);
    if let Ok(units) = config.parse_amount(asset, text) {
        assert_eq!(parse_units(text, config.asset(asset).decimals), Ok(units));
    }
}

/// Journal bytes as recovery reads them: records back to back (each checked by
/// [`decode_record`], its payload by [`payload::decode`]); the input as a segment header; and the
/// input's bytes after a record header as a payload, wrapped in a fresh record. Whatever decodes
/// re-encodes to bytes that decode to the same thing; anything else is refused with an error.
pub fn journal_record(bytes: &[u8]) {
    if let Ok(header) = SegmentHeader::decode(bytes) {
        // Payload version 0 decodes as 1 (see `SegmentHeader::decode`): compare headers.
        assert_eq!(SegmentHeader::decode(&header.encode()), Ok(header));
        assert!(bytes.len() >= SEGMENT_HEADER_SIZE);
    }
    let mut at = 0;
    while let Ok(record) = decode_record(&bytes[at..]) {
        let size = record.record_size();
        assert!(size <= bytes.len() - at && record.payload_size as usize <= PAYLOAD_SIZE_MAX);
        let payload = &bytes[at + RECORD_HEADER_SIZE..at + size];
        let mut again = Vec::with_capacity(size);
        encode_record(&mut again, record.sequence, record.chain, payload);
        assert_eq!(again, bytes[at..at + size], "a record that decodes re-encodes differently");
        journal_payload(payload);
        at += size;
    }
    let payload = &bytes[RECORD_HEADER_SIZE.min(bytes.len())..];
    let payload = &payload[..payload.len().min(PAYLOAD_SIZE_MAX)];
    journal_payload(payload);
    let mut record = Vec::with_capacity(RECORD_HEADER_SIZE + payload.len());
    let sequence = SequenceNumber(bytes.len() as u64);
    encode_record(&mut record, sequence, Chain(!0), payload);
    let header = decode_record(&record).expect("a fresh record decodes");
    assert_eq!(
        (header.sequence, header.chain, header.record_size()),
        (sequence, Chain(!0), record.len())
    );
}

/// One record payload: refused, or decoded to a command that re-encodes and decodes the same.
fn journal_payload(payload: &[u8]) {
    let Ok((command, auth, extras)) = payload::decode(payload) else { return };
    let mut out = [0u8; JOURNAL_RECORD_MAX];
    let length = payload::encode(&command, &auth, &extras, &mut out);
    assert!(length <= payload.len(), "re-encoding grew the record");
    assert_eq!(payload::decode(&out[..length]), Ok((command, auth, extras)));
}

/// The smallest configuration the snapshot target decodes for: one market, tables of a few
/// dozen entries, so its own snapshot is as small as a snapshot gets.
pub fn snapshot_config() -> &'static std::sync::Arc<Config> {
    static CONFIG: std::sync::OnceLock<std::sync::Arc<Config>> = std::sync::OnceLock::new();
    CONFIG.get_or_init(|| {
        let mut config = Config::from_toml(DEFAULT_TOML).expect("the default configuration");
        config.markets.truncate(1);
        let limits = &mut config.limits;
        (limits.orders_max, limits.accounts_max, limits.open_orders_per_account_max) = (32, 8, 16);
        (limits.levels_per_side_max, limits.levels_per_side_per_account_max) = (8, 8);
        let server = &mut config.server;
        server.replay_entries_max = 32;
        server.fills_history_per_account_max = 16;
        server.orders_history_per_account_max = 16;
        server.deposits_history_per_account_max = 16;
        server.withdrawals_history_per_account_max = 16;
        std::sync::Arc::new(config)
    })
}

/// The sequencer's table sizes for [`snapshot_config`].
pub fn snapshot_sequencer_limits() -> crate::sequencer::SequencerLimits {
    let config = snapshot_config();
    crate::sequencer::SequencerLimits {
        replay_entries_max: config.server.replay_entries_max as usize,
        accounts_max: config.limits.accounts_max as usize,
        ..crate::sequencer::SequencerLimits::default()
    }
}

/// An empty engine of [`snapshot_config`] (histories of 16 records).
pub fn snapshot_engine() -> crate::snapshot::Engine {
    let view = crate::netout::view::ViewLimits {
        fills_max: 16,
        orders_max: 16,
        deposits_max: 16,
        withdrawals_max: 16,
        trades_per_market_max: 16,
    };
    crate::snapshot::Engine::new(snapshot_config().clone(), view, snapshot_sequencer_limits())
}

/// Snapshot files as start-up reads them ([`crate::snapshot::file::decode`]): the input as a
/// whole file (its header's magic, CRC, versions, fingerprint and sizes meet the bytes as they
/// are), then as a payload behind a header made to describe it (so the table decoding itself
/// meets them). Either is refused with a reason or decodes to an engine that re-encodes to a file
/// decoding to the same state.
pub fn snapshot(bytes: &[u8]) {
    use crate::snapshot::file;
    let (config, limits) = (snapshot_config(), snapshot_sequencer_limits());
    let fingerprint = config.state_fingerprint();
    for input in [bytes.to_vec(), file::framed(bytes, fingerprint)] {
        let Ok(engine) = file::decode(&input, config, limits) else { continue };
        let again = file::decode(&file::to_bytes(&engine, fingerprint), config, limits)
            .expect("a snapshot re-encoded from a decoded one decodes");
        assert_eq!(again.matcher.state_hash(), engine.matcher.state_hash());
        assert_eq!((again.base, again.last_time_us), (engine.base, engine.last_time_us));
    }
}
