//! net-in: the listening socket, every connection's reads, HTTP/1.1 framing → ring A.
//!
//! - [`stage`]: the event loop (mio, edge-triggered): accepts, reads, frames, applies the per-IP
//!   limit and publishes one ring A slot per request;
//! - [`http`]: HTTP/1.1 framing over a connection's buffer, without allocating;
//! - [`input`]: a connection's input buffer, consumed from the front without moving bytes;
//! - [`peers`]: connections open per client address (the per-IP connection cap);
//! - [`descriptors`]: the process's descriptor limit, raised at start for the connections;
//! - below: the route lookup and the copy of a framed request into its slot.
//!
//! What net-in shares with other stages lives beside `records.rs`: the connection table and the
//! hand-back queue from net-out (`crate::connections`), the overflow buffers verify reads
//! (`crate::overflow`).

pub mod descriptors;
pub mod http;
pub mod input;
pub mod peers;
pub mod stage;
pub mod websocket;

use crate::api::error::{ApiError, ErrorKind};
use crate::api::routes::{Method, Route};
use crate::constants::REQUEST_INLINE_MAX;
use crate::records::{AuthHeaders, HeaderValue, NO_OVERFLOW, RequestKind, RequestSlot};

/// The route a framed request asks for: 404 for an unknown path, 405 for a method the path does
/// not serve, 400 ``Invalid value for `query` `` for a POST or DELETE with a query string.
///
/// Why the last: a handler must read exactly the parameters that were signed. Backpack's
/// signing string puts the query's pairs and the body's together, and every POST and DELETE
/// handler reads only the body, so a query on one would be signed but not read — a man in the
/// middle could move a signed body field (`clientId`, say) into the query and the command would
/// run without it. No Backpack client sends one (they sign the body of every POST and DELETE).
pub fn route_of(request: &http::Request<'_>) -> Result<(Route, Method), ApiError> {
    let route = Route::from_path(request.path).ok_or(ApiError::new(ErrorKind::NotFound))?;
    if !route.allows(request.method) {
        return Err(ApiError::new(ErrorKind::MethodNotAllowed));
    }
    if request.method != Method::Get && !request.query.is_empty() {
        return Err(ApiError::with_detail(ErrorKind::InvalidValue, b"query"));
    }
    Ok((route, request.method))
}

/// Records an authentication header whole, or, longer than its slot, as present and empty
/// (`too_long`): verify refuses it (``Invalid header `X-…` ``), never a truncated value that
/// could still verify — `X-Timestamp: 000…0001700000000000` with junk past the slot would
/// otherwise be read as its first 24 characters.
fn set_whole<const N: usize>(header: &mut HeaderValue<N>, value: &[u8]) {
    if value.len() > N {
        header.set(&[]);
        header.too_long = true;
    } else {
        header.set(value);
    }
}

/// Whether a request's target and body fit a slot inline.
pub fn fits_inline(request: &http::Request<'_>) -> bool {
    fits_inline_len(request.target.len() + request.body.len())
}

/// Whether `length` bytes of request fit a slot inline.
pub fn fits_inline_len(length: usize) -> bool {
    length <= REQUEST_INLINE_MAX
}

/// Copies a WebSocket text message into a ring A slot as a `WsText` body (no target), into
/// `overflow` when it does not fit inline.
pub fn copy_message(slot: &mut RequestSlot, message: &[u8], overflow: Option<(u32, &mut [u8])>) {
    slot.kind = RequestKind::WsText;
    slot.reply.keep_alive = true;
    slot.reply.item = 0;
    slot.reply.items = 0;
    slot.ip_retry_after_s = 0;
    slot.headers = AuthHeaders::default();
    slot.target_len = 0;
    slot.body_len = message.len() as u32;
    let (destination, index) = match overflow {
        Some((index, buffer)) => (buffer, index),
        None => (&mut slot.inline[..], NO_OVERFLOW),
    };
    destination[..message.len()].copy_from_slice(message);
    slot.overflow = index;
}

/// Copies a framed request into a ring A slot: route, keep-alive, auth headers, target and body
/// (into `overflow` — a buffer index and its bytes — when it does not fit inline).
pub fn copy_request(
    slot: &mut RequestSlot,
    request: &http::Request<'_>,
    route: Route,
    overflow: Option<(u32, &mut [u8])>,
) {
    slot.kind = RequestKind::Http;
    slot.reply.route = route;
    slot.reply.method = request.method;
    slot.reply.keep_alive = request.keep_alive;
    slot.reply.item = 0;
    slot.reply.items = 0;
    slot.ip_retry_after_s = 0;
    let mut headers = AuthHeaders::default();
    if let Some(value) = request.api_key {
        set_whole(&mut headers.api_key, value);
    }
    if let Some(value) = request.signature {
        set_whole(&mut headers.signature, value);
    }
    if let Some(value) = request.timestamp {
        set_whole(&mut headers.timestamp, value);
    }
    if let Some(value) = request.window {
        set_whole(&mut headers.window, value);
    }
    slot.headers = headers;
    slot.target_len = request.target.len() as u32;
    slot.body_len = request.body.len() as u32;
    let (destination, index) = match overflow {
        Some((index, buffer)) => (buffer, index),
        None => (&mut slot.inline[..], NO_OVERFLOW),
    };
    let target_len = request.target.len();
    destination[..target_len].copy_from_slice(request.target);
    destination[target_len..target_len + request.body.len()].copy_from_slice(request.body);
    slot.overflow = index;
}
