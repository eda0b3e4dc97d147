//! A tiny JSON writer into a reused byte buffer.
//!
//! Hand-written rather than serde because it runs on the hot path of every answer net-out sends:
//! serde_json would build `String`s for decimals and keys, and a `Serialize` model of each answer
//! would mean copying engine records into owned structs first. This writer appends straight into
//! the connection's preallocated `Vec<u8>`; once its capacity suffices, writing never allocates
//! (no `format!`, no `String`, numbers and decimals formatted on the stack).
//!
//! Commas are automatic: every value (or key) written after a sibling is preceded by `,`. Keys are
//! `&'static str` literals of the API and are written unescaped (they are plain ASCII by
//! construction); string values are escaped.

use super::calendar::civil_time;
use crate::config::{Config, MarketSpec};
use crate::money::{UNITS_TEXT_MAX, write_units};
use crate::types::{AssetId, PriceTicks, QuantitySteps};

/// Writes JSON into a borrowed buffer, appending.
pub struct JsonWriter<'a> {
    out: &'a mut Vec<u8>,
    /// No separator is due: just opened a container, or just wrote a key.
    first: bool,
}

impl<'a> JsonWriter<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> JsonWriter<'a> {
        JsonWriter { out, first: true }
    }

    #[inline]
    fn separate(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    /// `{`.
    pub fn begin_object(&mut self) -> &mut Self {
        self.separate();
        self.out.push(b'{');
        self.first = true;
        self
    }

    /// `}`.
    pub fn end_object(&mut self) -> &mut Self {
        self.out.push(b'}');
        self.first = false;
        self
    }

    /// `[`.
    pub fn begin_array(&mut self) -> &mut Self {
        self.separate();
        self.out.push(b'[');
        self.first = true;
        self
    }

    /// `]`.
    pub fn end_array(&mut self) -> &mut Self {
        self.out.push(b']');
        self.first = false;
        self
    }

    /// `"key":` — the value follows.
    pub fn key(&mut self, key: &str) -> &mut Self {
        debug_assert!(key.bytes().all(|byte| byte.is_ascii_graphic() && byte != b'"'));
        self.separate();
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.first = true;
        self
    }

    /// A string value, escaped.
    pub fn string(&mut self, text: &[u8]) -> &mut Self {
        self.string_parts(&[text])
    }

    /// One string value made of several parts, each escaped (error messages around a detail).
    pub fn string_parts(&mut self, parts: &[&[u8]]) -> &mut Self {
        self.separate();
        self.out.push(b'"');
        for part in parts {
            escape_into(self.out, part);
        }
        self.out.push(b'"');
        self
    }

    /// An unsigned integer.
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.separate();
        self.digits(value, 0);
        self
    }

    /// A signed integer.
    pub fn i64(&mut self, value: i64) -> &mut Self {
        self.separate();
        if value < 0 {
            self.out.push(b'-');
        }
        self.digits(value.unsigned_abs(), 0);
        self
    }

    /// An unsigned integer as a string of digits (order ids, `lastUpdateId`, REST `trades`).
    pub fn u64_string(&mut self, value: u64) -> &mut Self {
        self.units(value, 0)
    }

    /// `true` / `false`.
    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.separate();
        self.out.extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    /// `null`.
    pub fn null(&mut self) -> &mut Self {
        self.separate();
        self.out.extend_from_slice(b"null");
        self
    }

    /// A decimal string `"units × 10^-scale"` with exactly `scale` fractional digits.
    pub fn units(&mut self, units: u64, scale: u32) -> &mut Self {
        self.signed_units(false, units, scale)
    }

    /// A decimal string with a leading `-` when `negative` (and the value is not zero).
    pub fn signed_units(&mut self, negative: bool, units: u64, scale: u32) -> &mut Self {
        self.separate();
        self.out.push(b'"');
        if negative && units != 0 {
            self.out.push(b'-');
        }
        self.digits(units, scale);
        self.out.push(b'"');
        self
    }

    /// A price at the market's tick scale, as a string.
    pub fn price(&mut self, market: &MarketSpec, price: PriceTicks) -> &mut Self {
        let mut text = [0u8; UNITS_TEXT_MAX];
        let length = market.write_price(price, &mut text);
        self.plain_string(&text[..length])
    }

    /// A base quantity at the market's step scale, as a string.
    pub fn quantity(&mut self, market: &MarketSpec, quantity: QuantitySteps) -> &mut Self {
        let mut text = [0u8; UNITS_TEXT_MAX];
        let length = market.write_quantity(quantity, &mut text);
        self.plain_string(&text[..length])
    }

    /// An amount of `asset` at the asset's decimals, as a string.
    pub fn amount(&mut self, config: &Config, asset: AssetId, units: u64) -> &mut Self {
        let mut text = [0u8; UNITS_TEXT_MAX];
        let length = config.write_amount(asset, units, &mut text);
        self.plain_string(&text[..length])
    }

    /// Unix microseconds as naive ISO with milliseconds: `"2025-01-21T06:34:54.691"` (UTC, no Z).
    pub fn iso_ms(&mut self, time_us: u64) -> &mut Self {
        let time_ms = time_us / 1_000;
        self.separate();
        self.out.push(b'"');
        self.date_time(time_ms / 1_000, b'T');
        self.out.push(b'.');
        self.padded(time_ms % 1_000, 3);
        self.out.push(b'"');
        self
    }

    /// Unix seconds as `"2025-07-19 13:09:00"` (REST kline `start` / `end`).
    pub fn kline_time(&mut self, unix_s: u64) -> &mut Self {
        self.separate();
        self.out.push(b'"');
        self.date_time(unix_s, b' ');
        self.out.push(b'"');
        self
    }

    /// Unix seconds as naive ISO without a fraction: `"2025-08-06T22:00:00"` (UTC, no Z;
    /// WebSocket kline `t` / `T`).
    pub fn iso_s(&mut self, unix_s: u64) -> &mut Self {
        self.separate();
        self.out.push(b'"');
        self.date_time(unix_s, b'T');
        self.out.push(b'"');
        self
    }

    /// Bytes already known to be a valid JSON value, written as they are.
    pub fn raw(&mut self, value: &[u8]) -> &mut Self {
        self.separate();
        self.out.extend_from_slice(value);
        self
    }

    /// A string value known to need no escaping (decimals, hex, base64).
    pub fn plain_string(&mut self, text: &[u8]) -> &mut Self {
        debug_assert!(text.iter().all(|&byte| byte != b'"' && byte != b'\\' && byte >= 0x20));
        self.separate();
        self.out.push(b'"');
        self.out.extend_from_slice(text);
        self.out.push(b'"');
        self
    }

    fn digits(&mut self, units: u64, scale: u32) {
        let mut text = [0u8; UNITS_TEXT_MAX];
        let length = write_units(units, scale, &mut text);
        self.out.extend_from_slice(&text[..length]);
    }

    fn padded(&mut self, value: u64, width: usize) {
        let mut text = [b'0'; 20];
        let mut rest = value;
        for position in (0..width).rev() {
            text[position] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        debug_assert_eq!(rest, 0, "{value} does not fit {width} digits");
        self.out.extend_from_slice(&text[..width]);
    }

    /// `YYYY-MM-DD<separator>HH:MM:SS`.
    fn date_time(&mut self, unix_s: u64, separator: u8) {
        let civil = civil_time(unix_s);
        self.padded(civil.year, 4);
        self.out.push(b'-');
        self.padded(u64::from(civil.month), 2);
        self.out.push(b'-');
        self.padded(u64::from(civil.day), 2);
        self.out.push(separator);
        self.padded(u64::from(civil.hour), 2);
        self.out.push(b':');
        self.padded(u64::from(civil.minute), 2);
        self.out.push(b':');
        self.padded(u64::from(civil.second), 2);
    }
}

/// Appends `text` JSON-escaped (without quotes): `"` `\` and control characters; other bytes,
/// UTF-8 included, pass through.
fn escape_into(out: &mut Vec<u8>, text: &[u8]) {
    let mut start = 0;
    for (index, &byte) in text.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&text[start..index]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = index + 1;
    }
    out.extend_from_slice(&text[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(write: impl FnOnce(&mut JsonWriter<'_>)) -> String {
        let mut out = Vec::new();
        write(&mut JsonWriter::new(&mut out));
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn commas_nest_automatically() {
        let text = written(|w| {
            w.begin_object();
            w.key("a").u64(1);
            w.key("b").begin_array().u64(2).i64(-3).null().bool(true).end_array();
            w.key("c").begin_object().end_object();
            w.key("d").begin_array().begin_object().key("e").bool(false).end_object();
            w.begin_object().end_object().end_array();
            w.end_object();
        });
        assert_eq!(text, r#"{"a":1,"b":[2,-3,null,true],"c":{},"d":[{"e":false},{}]}"#);
        serde_json::from_str::<serde_json::Value>(&text).unwrap();
    }

    #[test]
    fn strings_are_escaped() {
        let cases: &[(&[u8], &str)] = &[
            (b"plain", r#""plain""#),
            (b"a\"b\\c", r#""a\"b\\c""#),
            (b"line\nfeed\ttab\r", r#""line\nfeed\ttab\r""#),
            (b"\x00\x1f\x08\x0c", r#""\u0000\u001f\b\f""#),
            ("café ✓".as_bytes(), "\"café ✓\""),
        ];
        for (input, expected) in cases {
            let text = written(|w| {
                w.string(input);
            });
            assert_eq!(text, *expected);
            let back: String = serde_json::from_str(&text).unwrap();
            assert_eq!(back.as_bytes(), *input);
        }
        let text = written(|w| {
            w.string_parts(&[b"Unknown field `", b"a\"b", b"`"]);
        });
        assert_eq!(text, r#""Unknown field `a\"b`""#);
    }

    #[test]
    fn numbers_and_decimals() {
        let text = written(|w| {
            w.begin_array();
            w.u64(0).u64(u64::MAX).i64(i64::MIN).i64(42);
            w.units(15050, 2).units(5, 3).units(7, 0).signed_units(true, 50, 2);
            w.signed_units(true, 0, 2);
            w.end_array();
        });
        assert_eq!(
            text,
            r#"[0,18446744073709551615,-9223372036854775808,42,"150.50","0.005","7","-0.50","0.00"]"#
        );
    }

    #[test]
    fn market_values() {
        let config = Config::embedded_default();
        let sol_usdc = &config.markets[0];
        let text = written(|w| {
            w.begin_array();
            w.price(sol_usdc, PriceTicks(15050)).quantity(sol_usdc, QuantitySteps(125));
            w.amount(&config, AssetId(0), 188_125_000).amount(&config, AssetId(1), 1_250_000);
            w.end_array();
        });
        assert_eq!(text, r#"["150.50","1.25","188.125000","0.001250000"]"#);
    }

    #[test]
    fn times() {
        let text = written(|w| {
            w.begin_array();
            w.iso_ms(1_700_000_000_123_456).iso_ms(1_737_441_294_691_000);
            w.kline_time(1_752_930_540).kline_time(0);
            w.iso_s(1_754_517_600);
            w.end_array();
        });
        assert_eq!(
            text,
            r#"["2023-11-14T22:13:20.123","2025-01-21T06:34:54.691","2025-07-19 13:09:00","1970-01-01 00:00:00","2025-08-06T22:00:00"]"#
        );
    }

    #[test]
    fn no_allocation_once_capacity_suffices() {
        let mut out = Vec::with_capacity(256);
        let pointer = out.as_ptr();
        for _ in 0..3 {
            out.clear();
            let mut w = JsonWriter::new(&mut out);
            w.begin_object().key("k").string(b"a\"b").key("n").u64(u64::MAX).end_object();
            w.begin_array().iso_ms(1_700_000_000_123_456).units(1, 9).end_array();
        }
        assert_eq!(out.as_ptr(), pointer, "the buffer was reallocated");
    }
}
