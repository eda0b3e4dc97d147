//! HTTP/1.1 request framing: is a whole request in the buffer, and where are its parts.
//!
//! Check-then-parse at the edge: [`frame`] looks at a connection's input bytes and answers
//! `Incomplete` (read more), `Complete` (a request and its length in the buffer) or `Refused` (an
//! HTTP-level error that closes the connection). httparse does the header parsing; this module
//! adds the limits: header block over 8 KiB (also when split across reads) or over 100 lines →
//! 431, `Content-Length` over the body cap → 413 as soon as the headers are in (the body is never
//! read), a body without `Content-Length` (chunked) → 411, anything malformed → 400.
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

/// Frames the request at the start of `buffer`.
pub fn frame<'b>(
    buffer: &'b [u8],
    headers: &mut [httparse::Header<'b>; REQUEST_HEADERS_MAX],
) -> Framed<'b> {
    let mut request = httparse::Request::new(headers);
    let header_length = match request.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => {
            return if buffer.len() > REQUEST_HEADERS_BYTES_MAX {
                Framed::Refused(ApiError::new(ErrorKind::HeadersTooLarge))
            } else {
                Framed::Incomplete
            };
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Framed::Refused(ApiError::new(ErrorKind::HeadersTooLarge));
        }
        Err(_) => return Framed::Refused(ApiError::new(ErrorKind::MalformedRequest)),
    };
    if header_length > REQUEST_HEADERS_BYTES_MAX {
        return Framed::Refused(ApiError::new(ErrorKind::HeadersTooLarge));
    }
    let (Some(method), Some(target), Some(version)) =
        (request.method, request.path, request.version)
    else {
        return Framed::Refused(ApiError::new(ErrorKind::MalformedRequest));
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
        length: header_length,
    };
    let mut content_length: Option<usize> = None;
    for header in request.headers.iter() {
        let (name, value) = (header.name, header.value);
        if header_named(name, "content-length") {
            let parsed =
                std::str::from_utf8(value).ok().and_then(|text| text.trim().parse::<usize>().ok());
            match (parsed, content_length) {
                (Some(length), None) => content_length = Some(length),
                (Some(length), Some(previous)) if length == previous => {}
                _ => return Framed::Refused(ApiError::new(ErrorKind::MalformedRequest)),
            }
        } else if header_named(name, "transfer-encoding") {
            return Framed::Refused(ApiError::new(ErrorKind::LengthRequired));
        } else if header_named(name, "connection") {
            if contains_token(value, "close") {
                framed.keep_alive = false;
            } else if contains_token(value, "keep-alive") {
                framed.keep_alive = true;
            }
        } else if header_named(name, "x-api-key") {
            framed.api_key = Some(value);
        } else if header_named(name, "x-signature") {
            framed.signature = Some(value);
        } else if header_named(name, "x-timestamp") {
            framed.timestamp = Some(value);
        } else if header_named(name, "x-window") {
            framed.window = Some(value);
        } else if header_named(name, "upgrade") {
            framed.websocket_upgrade = contains_token(value, "websocket");
        } else if header_named(name, "sec-websocket-key") {
            framed.websocket_key = Some(value);
        }
    }
    let body_length = content_length.unwrap_or(0);
    if body_length > REQUEST_BODY_MAX {
        return Framed::Refused(ApiError::new(ErrorKind::BodyTooLarge));
    }
    if buffer.len() < header_length + body_length {
        return Framed::Incomplete;
    }
    framed.body = &buffer[header_length..header_length + body_length];
    framed.length = header_length + body_length;
    Framed::Complete(framed)
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
}
