//! HTTP/1.1 request framing: is a whole request in the buffer, and where are its parts.
//!
//! Check-then-parse at the edge: [`frame`] looks at a connection's unconsumed input and answers
//! `Incomplete` (read more), `Complete` (a request and its length in the buffer) or `Refused` (an
//! HTTP-level error that closes the connection). httparse does the header parsing; this module
//! adds the limits: header block over 8 KiB (also when split across reads) or over 100 lines →
//! 431, `Content-Length` over the body cap → 413 as soon as the headers are in (the body is never
//! read), a body without `Content-Length` (chunked) → 411, anything malformed → 400.
//!
//! **Strict framing** (so no two parsers on the path can disagree about where a request ends):
//! lines end in CRLF only (a bare LF anywhere in the head is 400, never taken as a line end);
//! `Content-Length` is `1*DIGIT` and nothing else (no sign, no inner space, no overflow, a
//! repeat only with the same value); each of `X-API-Key`, `X-Signature`, `X-Timestamp` and
//! `X-Window` appears at most once (a second copy could be read by one hop and signed by another).
//!
//! **Linear in the bytes received**: a head that arrives in pieces is scanned for its end once,
//! resuming where the last read stopped ([`HeadScan`]); httparse runs only on a whole head (at
//! most twice per request: once to learn the body's length, once when the body is in).
//!
//! No allocation: the request borrows the buffer; header slots are caller-provided.

use crate::api::error::{ApiError, ErrorKind};
use crate::api::routes::Method;
use crate::constants::{REQUEST_BODY_MAX, REQUEST_HEADERS_BYTES_MAX, REQUEST_HEADERS_MAX};

/// A complete request, borrowing the connection's buffer.
#[derive(Debug)]
pub struct Request<'b> {
    /// The method.
    pub method: Method,
    /// The path, without the query.
    pub path: &'b [u8],
    /// The query, without the `?` (empty if none).
    pub query: &'b [u8],
    /// Path and query as sent.
    pub target: &'b [u8],
    /// Keep the connection open after the answer.
    pub keep_alive: bool,
    /// `X-API-Key`.
    pub api_key: Option<&'b [u8]>,
    /// `X-Signature`.
    pub signature: Option<&'b [u8]>,
    /// `X-Timestamp`.
    pub timestamp: Option<&'b [u8]>,
    /// `X-Window`.
    pub window: Option<&'b [u8]>,
    /// `Upgrade: websocket` was asked for.
    pub websocket_upgrade: bool,
    /// `Sec-WebSocket-Key`.
    pub websocket_key: Option<&'b [u8]>,
    /// The body.
    pub body: &'b [u8],
    /// Bytes of the buffer this request used (headers and body).
    pub length: usize,
}

/// What the buffer holds.
#[derive(Debug)]
pub enum Framed<'b> {
    /// Not a whole request yet.
    Incomplete,
    /// A whole request.
    Complete(Request<'b>),
    /// An HTTP-level error: answer it and close.
    Refused(ApiError),
}

fn header_named(name: &str, wanted: &str) -> bool {
    name.eq_ignore_ascii_case(wanted)
}

fn contains_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&byte| byte == b',')
        .any(|part| part.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// How far framing of the request at the start of a connection's input has got, kept between
/// reads so no byte of a head is scanned twice however it is split. Reset with
/// [`HeadScan::next_request`] whenever the request is consumed (or the input is moved, by the
/// same amount: its offsets are relative to the request's first byte).
#[derive(Clone, Copy, Debug, Default)]
pub struct HeadScan {
    /// Bytes of the head scanned without finding its end.
    scanned: usize,
    /// The head's length once its end (CRLF CRLF) is found, else 0.
    head_len: usize,
    /// The whole request's length once its head is parsed, else 0.
    request_len: usize,
    /// Bytes looked at so far, over every request (the linearity tests read it).
    pub examined_bytes: u64,
}

impl HeadScan {
    /// The request was consumed: the next one starts from nothing.
    pub fn next_request(&mut self) {
        *self = HeadScan { examined_bytes: self.examined_bytes, ..HeadScan::default() };
    }
}

/// Scans `buffer[from..]` for the end of the head, refusing a bare LF: the head's length, or
/// `Ok(None)` with everything scanned.
fn find_head_end(buffer: &[u8], from: usize) -> Result<Option<usize>, ApiError> {
    let mut at = from;
    while let Some(offset) = buffer[at..].iter().position(|&byte| byte == b'\n') {
        let lf = at + offset;
        if lf == 0 || buffer[lf - 1] != b'\r' {
            return Err(ApiError::new(ErrorKind::MalformedRequest));
        }
        if lf >= 3 && &buffer[lf - 3..lf - 1] == b"\r\n" {
            return Ok(Some(lf + 1));
        }
        at = lf + 1;
    }
    Ok(None)
}

/// A `Content-Length` value: `1*DIGIT` without sign or space; `None` on anything else or on
/// overflow.
fn content_length(value: &[u8]) -> Option<usize> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0usize, |length, &byte| {
        let digit = byte.is_ascii_digit().then(|| usize::from(byte - b'0'))?;
        length.checked_mul(10)?.checked_add(digit)
    })
}

/// Frames the request at the start of `buffer` (a request seen whole, as the in-process harness
/// has it; net-in resumes with [`frame_from`]).
pub fn frame<'b>(
    buffer: &'b [u8],
    headers: &mut [httparse::Header<'b>; REQUEST_HEADERS_MAX],
) -> Framed<'b> {
    frame_from(buffer, &mut HeadScan::default(), headers)
}

/// Frames the request at the start of `buffer` (a connection's unconsumed input), resuming from
/// `scan`. Work is linear in the bytes: see the module doc.
pub fn frame_from<'b>(
    buffer: &'b [u8],
    scan: &mut HeadScan,
    headers: &mut [httparse::Header<'b>; REQUEST_HEADERS_MAX],
) -> Framed<'b> {
    if scan.head_len == 0 {
        match find_head_end(buffer, scan.scanned) {
            Err(error) => return Framed::Refused(error),
            Ok(Some(head_len)) => {
                scan.examined_bytes += (head_len - scan.scanned) as u64;
                scan.head_len = head_len;
            }
            Ok(None) => {
                scan.examined_bytes += (buffer.len() - scan.scanned) as u64;
                scan.scanned = buffer.len();
                return if buffer.len() > REQUEST_HEADERS_BYTES_MAX {
                    Framed::Refused(ApiError::new(ErrorKind::HeadersTooLarge))
                } else {
                    Framed::Incomplete
                };
            }
        }
        if scan.head_len > REQUEST_HEADERS_BYTES_MAX {
            return Framed::Refused(ApiError::new(ErrorKind::HeadersTooLarge));
        }
    }
    if scan.request_len != 0 && buffer.len() < scan.request_len {
        return Framed::Incomplete; // the body is still arriving: nothing to look at again
    }
    scan.examined_bytes += scan.head_len as u64;
    let mut framed = match parse_head(&buffer[..scan.head_len], headers) {
        Ok(framed) => framed,
        Err(error) => return Framed::Refused(error),
    };
    let request_len = framed.length;
    if buffer.len() < request_len {
        scan.request_len = request_len;
        return Framed::Incomplete;
    }
    framed.body = &buffer[scan.head_len..request_len];
    framed.length = request_len;
    Framed::Complete(framed)
}

/// Parses a whole head. The returned request's `length` counts the body too, and its `body` is
/// still empty: the caller points it at the buffer.
fn parse_head<'b>(
    head: &'b [u8],
    headers: &mut [httparse::Header<'b>; REQUEST_HEADERS_MAX],
) -> Result<Request<'b>, ApiError> {
    let malformed = || ApiError::new(ErrorKind::MalformedRequest);
    let mut request = httparse::Request::new(headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(length)) if length == head.len() => {}
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ApiError::new(ErrorKind::HeadersTooLarge));
        }
        // Partial on a whole head: it began with two empty lines.
        _ => return Err(malformed()),
    }
    let (Some(method), Some(target), Some(version)) =
        (request.method, request.path, request.version)
    else {
        return Err(malformed());
    };
    let target = target.as_bytes();
    let (path, query) = match target.iter().position(|&byte| byte == b'?') {
        Some(mark) => (&target[..mark], &target[mark + 1..]),
        None => (target, &target[target.len()..]),
    };
    let mut framed = Request {
        method: Method::parse(method.as_bytes()),
        path,
        query,
        target,
        keep_alive: version == 1,
        api_key: None,
        signature: None,
        timestamp: None,
        window: None,
        websocket_upgrade: false,
        websocket_key: None,
        body: &[],
        length: head.len(),
    };
    let body_length = read_headers(&mut framed, request.headers)?;
    if body_length > REQUEST_BODY_MAX {
        return Err(ApiError::new(ErrorKind::BodyTooLarge));
    }
    // The whole request's length; `frame_from` points the body at the buffer.
    framed.length = head.len() + body_length;
    Ok(framed)
}

/// Reads the headers `framed` needs from a parsed head; returns the body's length.
fn read_headers<'b>(
    framed: &mut Request<'b>,
    headers: &[httparse::Header<'b>],
) -> Result<usize, ApiError> {
    let malformed = || ApiError::new(ErrorKind::MalformedRequest);
    let mut body_length: Option<usize> = None;
    for header in headers {
        let (name, value) = (header.name, header.value);
        let once = |slot: &mut Option<&'b [u8]>| match slot.replace(value) {
            None => Ok(()),
            Some(_) => Err(malformed()),
        };
        if header_named(name, "content-length") {
            match (content_length(value), body_length) {
                (Some(length), None) => body_length = Some(length),
                (Some(length), Some(previous)) if length == previous => {}
                _ => return Err(malformed()),
            }
        } else if header_named(name, "transfer-encoding") {
            return Err(ApiError::new(ErrorKind::LengthRequired));
        } else if header_named(name, "connection") {
            if contains_token(value, "close") {
                framed.keep_alive = false;
            } else if contains_token(value, "keep-alive") {
                framed.keep_alive = true;
            }
        } else if header_named(name, "x-api-key") {
            once(&mut framed.api_key)?;
        } else if header_named(name, "x-signature") {
            once(&mut framed.signature)?;
        } else if header_named(name, "x-timestamp") {
            once(&mut framed.timestamp)?;
        } else if header_named(name, "x-window") {
            once(&mut framed.window)?;
        } else if header_named(name, "upgrade") {
            framed.websocket_upgrade = contains_token(value, "websocket");
        } else if header_named(name, "sec-websocket-key") {
            framed.websocket_key = Some(value);
        }
    }
    Ok(body_length.unwrap_or(0))
}

/// Empty header slots for [`frame`].
pub fn header_slots<'b>() -> [httparse::Header<'b>; REQUEST_HEADERS_MAX] {
    [httparse::EMPTY_HEADER; REQUEST_HEADERS_MAX]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(buffer: &[u8]) -> ErrorKind {
        match frame(buffer, &mut header_slots()) {
            Framed::Refused(error) => error.kind,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn frames_pipelined_requests() {
        let bytes = b"POST /api/v1/order?x=1 HTTP/1.1\r\nHost: a\r\nX-API-Key: k\r\nx-signature: s\r\nX-Timestamp: 1\r\nContent-Length: 2\r\n\r\n{}GET /api/v1/ping HTTP/1.1\r\n\r\n";
        let Framed::Complete(first) = frame(bytes, &mut header_slots()) else { panic!() };
        assert_eq!(
            (first.method, first.path, first.query, first.body),
            (Method::Post, &b"/api/v1/order"[..], &b"x=1"[..], &b"{}"[..])
        );
        assert_eq!(
            (first.api_key, first.signature, first.window),
            (Some(&b"k"[..]), Some(&b"s"[..]), None)
        );
        assert!(first.keep_alive);
        let rest = &bytes[first.length..];
        let Framed::Complete(second) = frame(rest, &mut header_slots()) else { panic!() };
        assert_eq!(second.path, b"/api/v1/ping");
        assert_eq!(second.length, rest.len());
    }

    #[test]
    fn incomplete_until_the_body_is_in() {
        let bytes = b"POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345";
        assert!(matches!(frame(bytes, &mut header_slots()), Framed::Incomplete));
        assert!(matches!(
            frame(b"GET /x HTTP/1.1\r\nHost", &mut header_slots()),
            Framed::Incomplete
        ));
    }

    #[test]
    fn limits() {
        let big_header = format!("GET /x HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(9000));
        assert_eq!(refused(big_header.as_bytes()), ErrorKind::HeadersTooLarge);
        // Split across reads: 8 KiB of headers without an end is already too large.
        let partial = format!("GET /x HTTP/1.1\r\nX-Pad: {}", "a".repeat(8200));
        assert_eq!(refused(partial.as_bytes()), ErrorKind::HeadersTooLarge);
        let many: String = (0..101).map(|i| format!("H{i}: v\r\n")).collect();
        assert_eq!(
            refused(format!("GET /x HTTP/1.1\r\n{many}\r\n").as_bytes()),
            ErrorKind::HeadersTooLarge
        );
        // The 413 comes with the headers, before any body byte.
        assert_eq!(
            refused(b"POST /x HTTP/1.1\r\nContent-Length: 70000\r\n\r\n"),
            ErrorKind::BodyTooLarge
        );
        assert_eq!(
            refused(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            ErrorKind::LengthRequired
        );
        assert_eq!(refused(b"GARBAGE\r\n\r\n"), ErrorKind::MalformedRequest);
        assert_eq!(
            refused(b"POST /x HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            ErrorKind::MalformedRequest
        );
        assert_eq!(
            refused(b"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            ErrorKind::MalformedRequest
        );
    }

    #[test]
    fn connection_handling() {
        let Framed::Complete(close) =
            frame(b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n", &mut header_slots())
        else {
            panic!()
        };
        assert!(!close.keep_alive);
        let Framed::Complete(old) = frame(b"GET /x HTTP/1.0\r\n\r\n", &mut header_slots()) else {
            panic!()
        };
        assert!(!old.keep_alive);
        let Framed::Complete(upgrade) = frame(b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: abc\r\n\r\n", &mut header_slots()) else { panic!() };
        assert!(upgrade.websocket_upgrade && upgrade.websocket_key == Some(&b"abc"[..]));
    }

    #[test]
    fn strict_framing() {
        let malformed = |bytes: &[u8]| refused(bytes) == ErrorKind::MalformedRequest;
        for length in ["+5", "-5", " 5 5", "5 5", "0x5", "5.0", "", "99999999999999999999999"] {
            let request = format!("POST /x HTTP/1.1\r\nContent-Length: {length}\r\n\r\nhello");
            assert!(malformed(request.as_bytes()), "Content-Length: {length:?}");
        }
        // Bare LF, as a line end or alone inside the head, and as the head's end.
        assert!(malformed(b"GET /x HTTP/1.1\nHost: a\r\n\r\n"));
        assert!(malformed(b"GET /x HTTP/1.1\r\nHost: a\n\r\n"));
        assert!(malformed(b"GET /x HTTP/1.1\r\nHost: a\r\n\n"));
        assert!(malformed(b"GET /x HTTP/1.1\r\n\n"));
        // Refused as soon as the bare LF is in, before the head is whole.
        assert!(malformed(b"GET /x HTTP/1.1\nHo"));
        // One empty line before the request line is skipped (RFC 9112 §2.2); two end a head
        // with no request in it.
        let leading = frame(b"\r\nGET /x HTTP/1.1\r\n\r\n", &mut header_slots());
        assert!(matches!(leading, Framed::Complete(Request { length: 21, .. })));
        assert!(malformed(b"\r\n\r\nGET /x HTTP/1.1\r\n\r\n"));
        for name in ["X-API-Key", "X-Signature", "X-Timestamp", "X-Window"] {
            let twice = format!("GET /x HTTP/1.1\r\n{name}: 1\r\n{name}: 1\r\n\r\n");
            assert!(malformed(twice.as_bytes()), "{name} twice");
        }
        // Leading zeros are digits; the same length twice is one length.
        let Framed::Complete(request) = frame(
            b"POST /x HTTP/1.1\r\nContent-Length: 002\r\ncontent-length: 2\r\n\r\n{}",
            &mut header_slots(),
        ) else {
            panic!()
        };
        assert_eq!(request.body, b"{}");
    }

    /// Feeds `bytes` to an [`Input`] of `capacity` in reads of `chunk` bytes, framing after each
    /// read as net-in does (consume, compact only when the tail is full); returns the requests
    /// framed and the bytes examined and moved.
    fn feed(bytes: &[u8], chunk: usize, capacity: usize) -> (usize, u64, u64) {
        let mut input = crate::net::input::Input::with_capacity(capacity);
        let mut scan = HeadScan::default();
        let mut framed = 0;
        for piece in bytes.chunks(chunk) {
            let mut piece = piece;
            while !piece.is_empty() {
                if input.tail_full() {
                    assert!(input.make_room(), "every test request fits the buffer");
                }
                let take = piece.len().min(input.tail_mut().len());
                input.tail_mut()[..take].copy_from_slice(&piece[..take]);
                input.filled(take);
                piece = &piece[take..];
                loop {
                    let length = match frame_from(input.pending(), &mut scan, &mut header_slots()) {
                        Framed::Complete(request) => request.length,
                        Framed::Incomplete => break,
                        Framed::Refused(error) => panic!("{error:?}"),
                    };
                    input.consume(length);
                    scan.next_request();
                    framed += 1;
                }
            }
        }
        assert!(input.is_empty());
        (framed, scan.examined_bytes, input.moved_bytes)
    }

    #[test]
    fn framing_is_linear_in_the_bytes() {
        // A pipelined burst of 10,000 small requests in reads of 16 KiB, into a 16 KiB buffer:
        // before, each framed request moved the rest of the buffer (about 8 KiB on average).
        let ping = b"GET /api/v1/ping HTTP/1.1\r\nHost: a\r\n\r\n";
        let burst = ping.repeat(10_000);
        let (framed, examined, moved) = feed(&burst, 16 << 10, 16 << 10);
        assert_eq!(framed, 10_000);
        let bytes = burst.len() as u64;
        assert!(examined <= 2 * bytes, "examined {examined} of {bytes}");
        assert!(moved <= bytes, "moved {moved} of {bytes}");
        // A 7 KiB head (with a body) arriving a byte at a time: before, each read parsed the
        // head from its start, about 25 million bytes for this one request.
        let head = format!(
            "POST /api/v1/order HTTP/1.1\r\nX-Pad: {}\r\nContent-Length: 2\r\n\r\n{{}}",
            "a".repeat(7 << 10)
        );
        let (framed, examined, moved) = feed(head.as_bytes(), 1, 16 << 10);
        assert_eq!(framed, 1);
        let bytes = head.len() as u64;
        assert!(examined <= 3 * bytes, "examined {examined} of {bytes}");
        assert_eq!(moved, 0);
        // Requests of odd sizes a few bytes at a time: the partial one at the end of the buffer
        // is what moves, each byte at most once.
        let mixed: Vec<u8> = (0..2_000)
            .flat_map(|index| {
                let body = "x".repeat(index % 700);
                let length = body.len();
                format!("POST /a HTTP/1.1\r\nContent-Length: {length}\r\n\r\n{body}").into_bytes()
            })
            .collect();
        let (framed, examined, moved) = feed(&mixed, 7, 4 << 10);
        assert_eq!(framed, 2_000);
        let bytes = mixed.len() as u64;
        assert!(examined <= 3 * bytes, "examined {examined} of {bytes}");
        assert!(moved <= bytes, "moved {moved} of {bytes}");
    }
}
