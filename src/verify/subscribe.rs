//! WebSocket SUBSCRIBE/UNSUBSCRIBE frames (API.md §9) into stream actions, in frame order.
//!
//! A frame is a JSON object: `{"method":"SUBSCRIBE","params":["depth.SOL_USDC",…]}`, likewise
//! `UNSUBSCRIBE` (lower case accepted too), with `"signature":["<b64 key>","<b64 sig>","<ts ms>",
//! "<window ms>"]` when it subscribes to a private stream (three items: window 5000). Keys come in
//! any order; other keys (`"id":1`) are checked as JSON and ignored. What becomes of it, in the
//! slot's `stream_actions` (verdict `StreamActions`):
//! - not such an object (not JSON, no method or params, params not an array of strings, another
//!   method, a key twice): one `Error(InvalidRequest)` (4000);
//! - more than [`STREAMS_PER_CONNECTION_MAX`] names: one `Error(TooManyStreams)` (4008), nothing
//!   else;
//! - otherwise one action per name, in order: `Subscribe`/`Unsubscribe`, or `Error(InvalidStream)`
//!   (4006) for a name that is no stream (one written with a JSON escape never is), the others
//!   still going. `"params":[]` gives none.
//!
//! Private subscriptions (`account.*`) need the frame's signature over
//! `instruction=subscribe&timestamp=<ts>&window=<window>`, checked by the REST rules
//! (`check_signed`) and by verify's clock, then verified in the verify batch like a REST
//! request's. Any failure (no signature, malformed, out of its window, not verifying) drops
//! every private `Subscribe` of the frame and puts **one** `Error(InvalidSignature)` (4007)
//! where the first of them was; public actions stay. So a frame never has more actions than
//! names. On success the slot's `signer` is the key: net-out subscribes that account.
//! UNSUBSCRIBE and frames without private names ignore any signature.
//!
//! verify is the only judge of a subscription's signature (ARCHITECTURE.md, "Which clock decides
//! what"): a subscription changes no engine state, so it is not replay-checked or journaled and
//! the sequencer passes its actions on without a second look.
//!
//! The reader is dedicated to this one shape because `json::FlatObject` refuses arrays as values
//! and keeps nothing but scalars; like it, it borrows the frame and never allocates.

use super::signing::write_subscribe_signing_string;
use super::{Pending, SignedText, Verifier, check_signed, slot_bytes};
use crate::api::streams::{
    STREAM_ACTIONS_PER_FRAME_MAX, STREAMS_PER_CONNECTION_MAX, Stream, StreamAction, StreamError,
};
use crate::config::Config;
use crate::overflow::OverflowPool;
use crate::records::{Auth, RequestSlot, Verdict};
use crate::types::AccountKey;
use ed25519_dalek::Signature;

/// Deepest nesting accepted in the value of an ignored key (bounds the reader's recursion).
const IGNORED_DEPTH_MAX: u32 = 16;

/// Items of a well-formed `signature` array: key, signature, timestamp and (optional) window.
const SIGNATURE_ITEMS_MAX: usize = 4;

/// What a frame asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameMethod {
    /// `SUBSCRIBE`.
    Subscribe,
    /// `UNSUBSCRIBE`.
    Unsubscribe,
}

/// The frame is not a SUBSCRIBE/UNSUBSCRIBE object of string names (4000).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidFrame;

/// A JSON string as written between its quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Text<'a> {
    raw: &'a [u8],
    /// It holds a `\` escape, so `raw` is not its value.
    escaped: bool,
}

impl<'a> Text<'a> {
    const EMPTY: Text<'static> = Text { raw: b"", escaped: false };

    /// The value, when it is written without escapes (the only way anything here is accepted).
    fn plain(self) -> Option<&'a [u8]> {
        (!self.escaped).then_some(self.raw)
    }
}

/// A frame's `signature` array as written.
#[derive(Clone, Copy, Debug)]
struct SignatureItems<'a> {
    items: [Text<'a>; SIGNATURE_ITEMS_MAX],
    /// Items in the array (only the first four are kept).
    count: usize,
}

impl<'a> SignatureItems<'a> {
    /// Key, signature, timestamp and window, if the array has three or four items without
    /// escapes (three: the default window, as an absent `X-Window`).
    fn text(&self) -> Option<SignedText<'a>> {
        let window = match self.count {
            3 => None,
            4 => Some(self.items[3].plain()?),
            _ => return None,
        };
        Some(SignedText {
            key: self.items[0].plain()?,
            signature: self.items[1].plain()?,
            timestamp: self.items[2].plain()?,
            window,
        })
    }
}

/// A well-formed frame, borrowing its text.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// SUBSCRIBE or UNSUBSCRIBE.
    pub method: FrameMethod,
    /// The `params` array's text, `[` through `]`.
    params: &'a [u8],
    /// How many names `params` holds.
    pub names: usize,
    signature: Option<SignatureItems<'a>>,
}

impl<'a> Frame<'a> {
    /// The names in order; `None` for a name written with an escape (never a stream).
    pub fn names(&self) -> impl Iterator<Item = Option<&'a [u8]>> + 'a {
        let mut reader = Reader { bytes: self.params, position: 0 };
        std::iter::from_fn(move || {
            if matches!(reader.peek()?, b'[' | b',') {
                reader.position += 1;
            }
            match reader.peek()? {
                b'"' => reader.string().ok().map(Text::plain),
                _ => None,
            }
        })
    }
}

/// Reads a frame; checks its JSON and shape, not its names.
pub fn parse_frame(text: &[u8]) -> Result<Frame<'_>, InvalidFrame> {
    let mut reader = Reader { bytes: text, position: 0 };
    let mut method = None;
    let mut params = None;
    let mut signature = None;
    reader.expect(b'{')?;
    if reader.peek() == Some(b'}') {
        reader.position += 1;
    } else {
        loop {
            let key = reader.string()?;
            reader.expect(b':')?;
            match key.raw {
                b"method" if method.is_none() => method = Some(reader.string()?),
                b"params" if params.is_none() => params = Some(reader.params()?),
                b"signature" if signature.is_none() => signature = Some(reader.signature()?),
                b"method" | b"params" | b"signature" => return Err(InvalidFrame),
                _ => reader.skip_value(0)?,
            }
            match reader.next() {
                Some(b',') => {}
                Some(b'}') => break,
                _ => return Err(InvalidFrame),
            }
        }
    }
    if reader.peek().is_some() {
        return Err(InvalidFrame);
    }
    let method = match method.and_then(Text::plain) {
        Some(b"SUBSCRIBE" | b"subscribe") => FrameMethod::Subscribe,
        Some(b"UNSUBSCRIBE" | b"unsubscribe") => FrameMethod::Unsubscribe,
        _ => return Err(InvalidFrame),
    };
    let (params, names) = params.ok_or(InvalidFrame)?;
    Ok(Frame { method, params, names, signature })
}

/// What a frame's names became.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameActions {
    /// Actions written.
    pub count: usize,
    /// Some of them subscribe to a private stream (they need the signature).
    pub private: bool,
}

/// Writes a frame's actions into `out`, in frame order (see the module doc).
pub fn frame_actions(
    frame: &Frame<'_>,
    config: &Config,
    out: &mut [StreamAction; STREAM_ACTIONS_PER_FRAME_MAX],
) -> FrameActions {
    if frame.names > STREAMS_PER_CONNECTION_MAX {
        out[0] = StreamAction::Error(StreamError::TooManyStreams);
        return FrameActions { count: 1, private: false };
    }
    let mut private = false;
    for (action, name) in out.iter_mut().zip(frame.names()) {
        let stream = name.and_then(|name| Stream::parse(name, config));
        *action = match (stream, frame.method) {
            (None, _) => StreamAction::Error(StreamError::InvalidStream),
            (Some(stream), FrameMethod::Subscribe) => {
                private |= stream.is_private();
                StreamAction::Subscribe(stream)
            }
            (Some(stream), FrameMethod::Unsubscribe) => StreamAction::Unsubscribe(stream),
        };
    }
    FrameActions { count: frame.names, private }
}

/// Drops the private subscriptions of `actions`, putting one `Error(InvalidSignature)` where the
/// first was; returns how many actions are left (never more than before).
pub fn refuse_private(actions: &mut [StreamAction]) -> usize {
    let mut kept = 0;
    let mut refused = false;
    for index in 0..actions.len() {
        let action = actions[index];
        if matches!(action, StreamAction::Subscribe(stream) if stream.is_private()) {
            if refused {
                continue;
            }
            refused = true;
            actions[kept] = StreamAction::Error(StreamError::InvalidSignature);
        } else {
            actions[kept] = action;
        }
        kept += 1;
    }
    kept
}

impl Verifier {
    /// A WebSocket text message: its actions and verdict in the slot, and, when it subscribes to
    /// private streams, its signature queued for the batch.
    pub(super) fn prepare_ws_text(
        &mut self,
        index: usize,
        slot: &mut RequestSlot,
        overflow: &OverflowPool,
        now_ms: u64,
    ) {
        let total = (slot.target_len + slot.body_len) as usize;
        let target_len = slot.target_len as usize;
        let RequestSlot { inline, overflow: overflow_index, stream_actions, verdict, .. } = slot;
        let text = &slot_bytes(&inline[..], *overflow_index, overflow, total)[target_len..];
        let count = match parse_frame(text) {
            Err(InvalidFrame) => {
                stream_actions[0] = StreamAction::Error(StreamError::InvalidRequest);
                1
            }
            Ok(frame) => {
                let actions = frame_actions(&frame, &self.config, stream_actions);
                let queued = actions.private && self.queue_subscribe(index, &frame, now_ms);
                if actions.private && !queued {
                    refuse_private(&mut stream_actions[..actions.count])
                } else {
                    actions.count
                }
            }
        };
        *verdict = Verdict::StreamActions { count: count as u16 };
    }

    /// Checks a SUBSCRIBE's signature values by this verifier's clock and queues the signature;
    /// false if they fail before the signature (missing, malformed, out of the window, weak key).
    fn queue_subscribe(&mut self, index: usize, frame: &Frame<'_>, now_ms: u64) -> bool {
        let Some(text) = frame.signature.and_then(|items| items.text()) else {
            return false;
        };
        let Ok(signed) = check_signed(&text, now_ms) else {
            return false;
        };
        let Some(key) = self.keys.get(&signed.key) else {
            return false;
        };
        let start = self.messages.len();
        write_subscribe_signing_string(&mut self.messages, signed.timestamp_ms, signed.window_ms);
        self.pending.push(Pending {
            slot: index,
            key,
            signature: Signature::from_bytes(&signed.signature),
            message: (start, self.messages.len()),
            // Not replay-checked, so no digest: the times are kept for whoever reads the slot.
            auth: Auth {
                signature: signed.signature,
                replay_digest: [0; 32],
                timestamp_ms: signed.timestamp_ms,
                window_ms: signed.window_ms,
            },
            is_admin: false,
            replay_checked: false,
            subscribe: true,
        });
        true
    }
}

/// Finishes a slot whose SUBSCRIBE signature the batch judged: the signer on success, else its
/// private subscriptions refused. Neither `replay_checked` nor the administrator flag is set:
/// a subscription is not a command.
pub(super) fn finish_subscribe(slot: &mut RequestSlot, pending: &Pending, valid: bool) {
    if valid {
        slot.signer = Some(AccountKey(*pending.key.as_bytes()));
        slot.auth = pending.auth;
        return;
    }
    if let Verdict::StreamActions { count } = slot.verdict {
        let count = refuse_private(&mut slot.stream_actions[..count as usize]);
        slot.verdict = Verdict::StreamActions { count: count as u16 };
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    /// The next byte that is not JSON whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while let Some(&byte) = self.bytes.get(self.position) {
            if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                return Some(byte);
            }
            self.position += 1;
        }
        None
    }

    /// The next byte that is not JSON whitespace, consumed.
    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.position += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Result<(), InvalidFrame> {
        if self.next() == Some(byte) { Ok(()) } else { Err(InvalidFrame) }
    }

    /// A string, escapes checked (not decoded); control characters refused.
    fn string(&mut self) -> Result<Text<'a>, InvalidFrame> {
        self.expect(b'"')?;
        let start = self.position;
        let mut escaped = false;
        loop {
            match *self.bytes.get(self.position).ok_or(InvalidFrame)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    let hex = self.bytes.get(self.position + 2..self.position + 6);
                    self.position += match self.bytes.get(self.position + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => 2,
                        Some(b'u')
                            if hex.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) =>
                        {
                            6
                        }
                        _ => return Err(InvalidFrame),
                    };
                }
                byte if byte < 0x20 => return Err(InvalidFrame),
                _ => self.position += 1,
            }
        }
        let raw = &self.bytes[start..self.position];
        self.position += 1;
        Ok(Text { raw, escaped })
    }

    /// An array of strings, each handed to `each` with its index; returns how many.
    fn strings(&mut self, mut each: impl FnMut(usize, Text<'a>)) -> Result<usize, InvalidFrame> {
        self.expect(b'[')?;
        if self.peek() == Some(b']') {
            self.position += 1;
            return Ok(0);
        }
        let mut count = 0;
        loop {
            each(count, self.string()?);
            count += 1;
            match self.next() {
                Some(b',') => {}
                Some(b']') => return Ok(count),
                _ => return Err(InvalidFrame),
            }
        }
    }

    /// `params`: its text and how many names.
    fn params(&mut self) -> Result<(&'a [u8], usize), InvalidFrame> {
        self.peek();
        let start = self.position;
        let names = self.strings(|_, _| {})?;
        Ok((&self.bytes[start..self.position], names))
    }

    fn signature(&mut self) -> Result<SignatureItems<'a>, InvalidFrame> {
        let mut items = [Text::EMPTY; SIGNATURE_ITEMS_MAX];
        let count = self.strings(|index, text| {
            if let Some(item) = items.get_mut(index) {
                *item = text;
            }
        })?;
        Ok(SignatureItems { items, count })
    }

    /// Passes over any JSON value (an ignored key's), checking it.
    fn skip_value(&mut self, depth: u32) -> Result<(), InvalidFrame> {
        if depth > IGNORED_DEPTH_MAX {
            return Err(InvalidFrame);
        }
        match self.peek().ok_or(InvalidFrame)? {
            b'"' => self.string().map(drop),
            b'[' => self.skip_members(b']', depth),
            b'{' => self.skip_members(b'}', depth),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(InvalidFrame),
        }
    }

    /// An array's items or (`close` = `}`) an object's members, from the opening bracket.
    fn skip_members(&mut self, close: u8, depth: u32) -> Result<(), InvalidFrame> {
        self.position += 1;
        if self.peek() == Some(close) {
            self.position += 1;
            return Ok(());
        }
        loop {
            if close == b'}' {
                self.string()?;
                self.expect(b':')?;
            }
            self.skip_value(depth + 1)?;
            match self.next() {
                Some(b',') => {}
                Some(byte) if byte == close => return Ok(()),
                _ => return Err(InvalidFrame),
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), InvalidFrame> {
        if self.bytes[self.position..].starts_with(word) {
            self.position += word.len();
            Ok(())
        } else {
            Err(InvalidFrame)
        }
    }

    /// `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`; a digit straight after a leading `0` is
    /// left for the caller, which refuses it.
    fn number(&mut self) -> Result<(), InvalidFrame> {
        self.skip_if(|byte| byte == b'-');
        if !self.skip_if(|byte| byte == b'0') {
            self.digits()?;
        }
        if self.skip_if(|byte| byte == b'.') {
            self.digits()?;
        }
        if self.skip_if(|byte| matches!(byte, b'e' | b'E')) {
            self.skip_if(|byte| matches!(byte, b'+' | b'-'));
            self.digits()?;
        }
        Ok(())
    }

    /// One or more digits.
    fn digits(&mut self) -> Result<(), InvalidFrame> {
        if !self.skip_if(|byte| byte.is_ascii_digit()) {
            return Err(InvalidFrame);
        }
        while self.skip_if(|byte| byte.is_ascii_digit()) {}
        Ok(())
    }

    /// Consumes the next byte (whitespace included) if it is one `accept` takes.
    fn skip_if(&mut self, accept: impl Fn(u8) -> bool) -> bool {
        let taken = self.bytes.get(self.position).is_some_and(|&byte| accept(byte));
        self.position += usize::from(taken);
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<Option<String>> {
        let frame = parse_frame(text.as_bytes()).unwrap();
        let names: Vec<_> = frame
            .names()
            .map(|name| name.map(|name| String::from_utf8(name.to_vec()).unwrap()))
            .collect();
        assert_eq!(names.len(), frame.names);
        names
    }

    #[test]
    fn reads_the_frame_in_any_key_order_ignoring_other_keys() {
        let frame = parse_frame(
            br#" { "id" : 1 , "params" : [ "a.b" , "c\u002ed", "e" ] , "x": {"y":[1,-2.5e3,null,true,"\"z\""]}, "method":"UNSUBSCRIBE" } "#,
        )
        .unwrap();
        assert_eq!((frame.method, frame.names), (FrameMethod::Unsubscribe, 3));
        assert!(frame.signature.is_none());
        let read: Vec<_> = frame.names().collect();
        assert_eq!(read, vec![Some(&b"a.b"[..]), None, Some(b"e")]);
        assert_eq!(names_of(r#"{"method":"subscribe","params":[]}"#), 0);
        assert_eq!(names(r#"{"method":"SUBSCRIBE","params":["x"]}"#), vec![Some("x".into())]);
    }

    fn names_of(text: &str) -> usize {
        parse_frame(text.as_bytes()).unwrap().names
    }

    #[test]
    fn the_signature_array_has_three_or_four_plain_items() {
        let text = |signature: &str| {
            let frame = format!(r#"{{"method":"SUBSCRIBE","params":[],"signature":{signature}}}"#);
            let frame = parse_frame(frame.as_bytes()).unwrap();
            frame
                .signature
                .unwrap()
                .text()
                .map(|text| (text.timestamp.to_vec(), text.window))
                .map(|(timestamp, window)| (timestamp, window.map(<[u8]>::to_vec)))
        };
        assert_eq!(text(r#"["k","s","12","34"]"#), Some((b"12".to_vec(), Some(b"34".to_vec()))));
        assert_eq!(text(r#"["k","s","12"]"#), Some((b"12".to_vec(), None)));
        assert_eq!(text(r#"["k","s"]"#), None);
        assert_eq!(text(r#"["k","s","1","2","3"]"#), None);
        assert_eq!(text(r#"["k","s","1\u0032"]"#), None);
    }

    #[test]
    fn refuses_what_is_not_such_a_frame() {
        let bad = [
            "",
            "[]",
            "SUBSCRIBE",
            r#"{"method":"SUBSCRIBE"}"#,
            r#"{"params":["trade.SOL_USDC"]}"#,
            r#"{"method":"SUBSCRIBE","params":"trade.SOL_USDC"}"#,
            r#"{"method":"SUBSCRIBE","params":[1]}"#,
            r#"{"method":"SUBSCRIBE","params":[["a"]]}"#,
            r#"{"method":"SUBSCRIBE","params":null}"#,
            r#"{"method":"LIST_SUBSCRIPTIONS","params":[]}"#,
            r#"{"method":"Subscribe","params":[]}"#,
            r#"{"method":"SUBSCRIBE","params":[],"method":"SUBSCRIBE"}"#,
            r#"{"method":"SUBSCRIBE","params":["a",]}"#,
            r#"{"method":"SUBSCRIBE","params":["a"],}"#,
            r#"{"method":"SUBSCRIBE","params":["a"]} x"#,
            r#"{"method":"SUBSCRIBE","params":["a"]"#,
            r#"{"method":"SUBSCRIBE","params":["a\x"]}"#,
            "{\"method\":\"SUBSCRIBE\",\"params\":[\"a\nb\"]}",
            r#"{"method":"SUBSCRIBE","params":[],"signature":"k"}"#,
            r#"{"method":"SUBSCRIBE","params":[],"id":01}"#,
            r#"{"method":"SUBSCRIBE","params":[],"id":1.}"#,
            r#"{"method":"SUBSCRIBE","params":[],"id":nul}"#,
            r#"{"method":"SUBSCRIBE","params":[],"id":{"a"}}"#,
            r#"{"method":"SUBSCRIBE","params":[],"id":[1}}"#,
            r#"{"method":"SUBSCRIBE","params":[],"id":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}"#,
        ];
        for text in bad {
            assert_eq!(parse_frame(text.as_bytes()).map(|_| ()), Err(InvalidFrame), "{text}");
        }
    }

    #[test]
    fn refusing_private_keeps_the_order_and_one_error_in_the_first_place() {
        let config = Config::embedded_default();
        let frame = parse_frame(
            br#"{"method":"SUBSCRIBE","params":["trade.SOL_USDC","account.orderUpdate","nope","account.orderUpdate.SOL_USDC","ticker.SOL_USDC"]}"#,
        )
        .unwrap();
        let mut out =
            [StreamAction::Error(StreamError::InvalidRequest); STREAM_ACTIONS_PER_FRAME_MAX];
        let actions = frame_actions(&frame, &config, &mut out);
        assert_eq!(actions, FrameActions { count: 5, private: true });
        let count = refuse_private(&mut out[..5]);
        let market = config.market_by_symbol(b"SOL_USDC").unwrap();
        assert_eq!(
            out[..count],
            [
                StreamAction::Subscribe(Stream::Trade(market)),
                StreamAction::Error(StreamError::InvalidSignature),
                StreamAction::Error(StreamError::InvalidStream),
                StreamAction::Subscribe(Stream::Ticker(market)),
            ]
        );
    }
}
