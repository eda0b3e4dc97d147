//! Net-in: the listening socket and every connection's reads → ring A. It runs on a thread of
//! its own, or on the `single` layout's one thread, in turns (`turns.rs`).
//!
//! **Reads** sockets (mio, edge-triggered), each connection into its own preallocated input buffer.
//! **Writes** ring A: one slot per framed request (route resolved, per-IP rate limit applied,
//! HTTP-level errors already decided) — or, once a connection is upgraded to WebSocket, per
//! frame that needs an answer (`stage/upgraded.rs`) — then a `Closed` slot when a connection will
//! send no more, and a final `Shutdown` slot. A connection over its requests in flight or its
//! output cap is not read until net-out hands it back (`crate::connections`). **Owns** the listener, the connection table, the overflow buffers'
//! free list, the per-IP rate limiter and connection counts (`stage/accept.rs`). Does no JSON and no crypto. Marks each request
//! `peer_loopback` (for `GET /metrics`); counts connections open and per-IP limit hits.
//!
//! **The per-IP rate limit and the administrator.** API.md's check order puts the per-IP limit
//! before JSON, auth headers and the signature, and exempts the administrator; but which key signed
//! a request is known only once its signature verifies (in verify). So net-in takes the IP's token
//! for every routed request and, when the bucket is empty, refuses it 429 at once — unless its
//! `X-API-Key` names the administrator: such a request goes on, marked with its `Retry-After`
//! ([`RequestSlot::ip_retry_after_s`]), and verify answers it 429 unless the administrator's
//! signature verifies on it (a failure at any earlier check is the per-IP limit's 429 too, as the
//! order says). The administrator's requests still spend the IP's tokens while there are some (they
//! cannot be told apart sooner); they are never refused for lack of one. The cost of the deferral
//! — a signature check per over-limit request claiming the administrator's key — is what any
//! signed request costs within the limit.
//!
//! Back-pressure: when ring A (or the overflow pool) is full, a connection's framed requests wait
//! in its buffer and net-in stops reading it; it retries after the next poll — nothing is dropped
//! and nothing blocks. Timeouts: a request incomplete after [`REQUEST_TIMEOUT_MS`] is answered 408
//! and its connection closed; an idle keep-alive connection is closed after the idle timeout.
//!
//! **Lingering close** (as nginx's `lingering_close`): a connection net-out hands back has had its
//! last answer flushed and its write side shut down (`shutdown(SHUT_WR)`), but its peer may still
//! be sending — the body of a request answered 413, the rest of a request refused 431 or 400, a
//! request cut short by 408. Closing a socket with unread input makes Linux send a reset, and a
//! reset makes the peer's kernel drop the answer it has not read yet. So net-in closes only once
//! the peer has closed its side; until then it reads and discards, bounded by
//! [`LINGER_BYTES_MAX`], [`LINGER_IDLE_MS`] without input and [`LINGER_TIME_MS`] in all. One path
//! serves every close; a peer already known gone (end of stream or error) is closed at once.

mod accept;
mod admission;
mod turns;
mod upgraded;

pub use turns::NetInLoop;

use super::http::{Framed, HeadScan, frame_from, header_slots};
use super::input::Input;
use super::websocket::Message;
use super::{copy_request, fits_inline, route_of};
use crate::api::error::{ApiError, ErrorKind};
use crate::bad_signatures::BadSignatureBoard;
use crate::clock;
use crate::connections::{ConnectionOptions, ConnectionTable, Handback};
use crate::constants::{REQUEST_BODY_MAX, REQUEST_HEADERS_BYTES_MAX, REQUEST_TARGET_MAX};
use crate::metrics::Metrics;
use crate::net::peers::PeerConnections;
use crate::overflow::OverflowPool;
use crate::rate_limit::RateLimiter;
use crate::records::{ConnectionToken, RequestKind, RequestSlot};
use crate::ring::Producer;
use admission::Limits;
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Poll, Token};
use std::collections::VecDeque;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The listener's token.
pub const NET_IN_LISTENER: Token = Token(usize::MAX - 2);
/// The token of net-in's waker (net-out's releases and aborts, shutdown).
pub const NET_IN_WAKER: Token = Token(usize::MAX - 1);
/// The token of another poll watched from net-in's (`single` layout: net-out's, so the one
/// thread sleeps in one place).
pub const NET_IN_NESTED_POLL: Token = Token(usize::MAX - 3);

/// Set by the process's SIGTERM/SIGINT handler (signals are process-wide, so this one flag is
/// too); net-in stops as if its shutdown flag were set.
pub static SIGNALLED: AtomicBool = AtomicBool::new(false);

/// A request still incomplete after this long is answered 408 (the default of
/// [`NetInOptions::request_timeout_ms`]).
pub const REQUEST_TIMEOUT_MS: u64 = 10_000;
/// How often timeouts are checked.
const TIMER_PERIOD_MS: u64 = 100;
/// Input buffer per connection: enough for any ordinary request and a few pipelined ones.
const INPUT_BYTES_INITIAL: usize = 16 << 10;
/// Input buffer a connection may grow to for its largest request (once, then kept).
const INPUT_BYTES_MAX: usize = REQUEST_HEADERS_BYTES_MAX + REQUEST_TARGET_MAX + REQUEST_BODY_MAX;
/// Bytes a lingering connection may still send (and have discarded) before it is closed anyway.
pub const LINGER_BYTES_MAX: u64 = 4 << 20;
/// A lingering connection that sends nothing for this long is closed (nginx's
/// `lingering_timeout`).
pub const LINGER_IDLE_MS: u64 = 5_000;
/// A lingering connection is closed after this long in all (nginx's `lingering_time`).
pub const LINGER_TIME_MS: u64 = 30_000;

/// net-in's tunables.
#[derive(Clone, Copy, Debug)]
pub struct NetInOptions {
    /// Connections served at once; more are refused at accept.
    pub connections_max: usize,
    /// Connections one client address (IPv4, or IPv6 /64) may hold open; more are refused at
    /// accept.
    pub connections_per_ip_max: u32,
    /// Requests per second per client IP (0 = off).
    pub ip_rate_per_s: u64,
    /// Burst per client IP.
    pub ip_burst: u64,
    /// HTTP connections with no request under way are closed after this long without input
    /// (WebSocket connections are kept by their Pongs instead: `ws_pong_timeout_ms`).
    pub idle_timeout_ms: u64,
    /// A request still incomplete after this long is answered 408 (API.md: 10 s).
    pub request_timeout_ms: u64,
}

impl Default for NetInOptions {
    fn default() -> Self {
        NetInOptions {
            connections_max: 1024,
            connections_per_ip_max: 256,
            ip_rate_per_s: 0,
            ip_burst: 0,
            idle_timeout_ms: 30_000,
            request_timeout_ms: REQUEST_TIMEOUT_MS,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Slot unused.
    Free,
    /// Reading and framing requests.
    Reading,
    /// No more requests will be read; the `Closed` record is still to publish.
    ClosePending,
    /// `Closed` published: waiting for net-out to hand the connection back.
    Closing,
    /// Handed back, answers flushed and write side shut: discarding input until the peer closes.
    Lingering,
}

struct Connection {
    stream: Option<TcpStream>,
    generation: u32,
    phase: Phase,
    input: Input,
    /// Framing progress of the HTTP request at the front of `input`.
    head: HeadScan,
    /// When the unfinished request at the start of `input` began arriving (0: none).
    partial_since_ms: u64,
    last_activity_ms: u64,
    /// Its address's key for the per-IP limits (`net/peers.rs`).
    peer: u64,
    /// The peer is on this host (`GET /metrics` needs no signature).
    loopback: bool,
    /// Framed requests wait for ring space.
    backlogged: bool,
    /// The peer closed its side or the socket failed: nothing more will arrive.
    peer_closed: bool,
    /// When lingering began (wall ms).
    linger_since_ms: u64,
    /// Bytes discarded while lingering.
    linger_bytes: u64,
    /// Over its in-flight or output bound: not read until net-out resumes it.
    throttled: bool,
    /// Upgraded: the input is WebSocket frames.
    websocket: bool,
    /// The WebSocket data message being assembled.
    ws_message: Message,
    /// Bytes of that message's payload so far, at the front of `input`.
    ws_message_len: usize,
    /// Where the next frame starts in `input` (at or past `ws_message_len`: the gap between is
    /// control frames taken from the middle of the message).
    ws_frame_at: usize,
    /// When the last Pong (or the upgrade) arrived (wall ms).
    ws_last_pong_ms: u64,
    /// A Close that waits for ring space.
    ws_close_pending: Option<u16>,
}

/// Everything net-in needs, built in `pipeline`.
pub struct NetIn {
    /// Its own poll, with the listener and its waker registered.
    pub poll: Poll,
    /// The bound listener.
    pub listener: TcpListener,
    /// Ring A.
    pub output: Producer<RequestSlot>,
    /// Buffers for requests too large for a slot.
    pub overflow: Arc<OverflowPool>,
    /// Socket descriptors by connection slot, shared with net-out.
    pub connections: Arc<ConnectionTable>,
    /// The way back from net-out.
    pub handback: Arc<Handback>,
    /// Set to stop the server.
    pub shutdown: Arc<AtomicBool>,
    /// Tunables.
    pub options: NetInOptions,
    /// The administrator's key as `X-API-Key` carries it (base64, 44 characters).
    pub admin_api_key: [u8; 44],
    /// Back-pressure bounds and WebSocket timers.
    pub connection_options: ConnectionOptions,
    /// What net-in measures: connections open, per-IP rate-limit hits.
    pub metrics: Arc<Metrics>,
    /// Bad signatures per client address, counted by verify: a source past its share is refused
    /// here, unread.
    pub bad_signatures: Arc<BadSignatureBoard>,
}

struct State {
    connections: Vec<Connection>,
    free: Vec<u32>,
    overflow_free: Vec<u32>,
    /// Overflow buffers attached to ring A slots, as (buffer, ring sequence), oldest first.
    overflow_in_use: VecDeque<(u32, u64)>,
    ip_limiter: RateLimiter,
    /// Connections open per client address.
    peers: PeerConnections,
    /// The descriptor spent to shed a connection when out of descriptors (`stage/accept.rs`).
    reserve: Option<std::fs::File>,
    /// Accept stopped on an error with connections maybe still waiting: try on the next tick.
    accept_retry: bool,
    /// Claimed, written, not yet published ring A sequences end here.
    claimed_end: Option<u64>,
    backlog: Vec<u32>,
}

impl NetIn {
    /// Reads everything the socket has (edge-triggered), framing as the buffer fills.
    fn read(&mut self, state: &mut State, index: u32) {
        if state.connections[index as usize].phase == Phase::Lingering {
            return self.linger(state, index);
        }
        loop {
            let connection = &mut state.connections[index as usize];
            if !connection.readable() {
                return;
            }
            if connection.input.tail_full() {
                self.frame_requests(state, index);
                let connection = &mut state.connections[index as usize];
                if !connection.readable() {
                    return;
                }
                if connection.input.tail_full() {
                    connection.make_room();
                }
                continue;
            }
            let stream = connection.stream.as_mut().expect("a reading connection has a stream");
            match stream.read(connection.input.tail_mut()) {
                Ok(0) => {
                    connection.peer_closed = true;
                    self.frame_requests(state, index);
                    self.stop_reading(state, index);
                    return;
                }
                Ok(read) => {
                    connection.input.filled(read);
                    connection.last_activity_ms = clock::wall_ms();
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    connection.peer_closed = true;
                    self.stop_reading(state, index);
                    return;
                }
            }
        }
        self.frame_requests(state, index);
    }

    /// Reads and discards a lingering connection's input; closes it at the peer's end of stream,
    /// on an error, or past [`LINGER_BYTES_MAX`].
    fn linger(&mut self, state: &mut State, index: u32) {
        let connection = &mut state.connections[index as usize];
        debug_assert_eq!(connection.phase, Phase::Lingering);
        let stream = connection.stream.as_mut().expect("a lingering connection has a stream");
        loop {
            match stream.read(connection.input.scratch_mut()) {
                Ok(0) => break,
                Ok(read) => {
                    connection.linger_bytes += read as u64;
                    connection.last_activity_ms = clock::wall_ms();
                    if connection.linger_bytes > LINGER_BYTES_MAX {
                        break;
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.close(state, index);
    }

    /// Closes the socket and frees the slot.
    fn close(&mut self, state: &mut State, index: u32) {
        let connection = &mut state.connections[index as usize];
        debug_assert_eq!(connection.phase, Phase::Lingering);
        if let Some(stream) = connection.stream.as_mut() {
            let _ = self.poll.registry().deregister(stream);
        }
        connection.stream = None; // closes the socket
        self.metrics.net_in.connections_open.decrement();
        connection.phase = Phase::Free;
        // A buffer grown for one large request goes back to its preallocated size.
        connection.input.reset(INPUT_BYTES_INITIAL);
        state.peers.release(connection.peer);
        state.free.push(index);
    }

    /// Frames and publishes every complete request at the start of the buffer.
    fn frame_requests(&mut self, state: &mut State, index: u32) {
        loop {
            let mut headers = header_slots();
            let connection = &mut state.connections[index as usize];
            if connection.phase != Phase::Reading
                || connection.input.is_empty()
                || connection.throttled
            {
                return;
            }
            if connection.websocket {
                return self.frame_messages(state, index);
            }
            let in_flight_max = self.connection_options.requests_in_flight_max;
            if self.connections.must_wait(index, in_flight_max) {
                connection.throttled = true;
                return;
            }
            let token = ConnectionToken { index, generation: connection.generation };
            let mut upgrading = false;
            let buffer = connection.input.pending();
            let (consumed, keep_reading) =
                match frame_from(buffer, &mut connection.head, &mut headers) {
                    Framed::Incomplete => {
                        if connection.partial_since_ms == 0 {
                            connection.partial_since_ms = clock::wall_ms();
                        }
                        return;
                    }
                    Framed::Refused(error) => {
                        let Some(sequence) = claim(&mut self.output, &mut state.claimed_end) else {
                            mark_backlogged(state, index);
                            return;
                        };
                        let slot = self.output.slot_mut(sequence);
                        answered_slot(slot, token, error, false);
                        self.connections.request_published(index);
                        (0, false)
                    }
                    Framed::Complete(request) if request.websocket_upgrade => {
                        let Some(sequence) = claim(&mut self.output, &mut state.claimed_end) else {
                            mark_backlogged(state, index);
                            return;
                        };
                        let slot = self.output.slot_mut(sequence);
                        let upgraded = upgraded::upgrade_slot(slot, token, &request);
                        self.connections.request_published(index);
                        upgrading = upgraded;
                        (request.length, upgraded)
                    }
                    Framed::Complete(request) => {
                        let limits = Limits {
                            ip_limiter: &mut state.ip_limiter,
                            bad_signatures: &self.bad_signatures,
                            admin_api_key: &self.admin_api_key,
                            metrics: &self.metrics,
                        };
                        let (kind, ip_retry_after_s) = limits.admit(&request, connection.peer);
                        let needs_overflow = kind == RequestKind::Http && !fits_inline(&request);
                        if needs_overflow && state.overflow_free.is_empty() {
                            mark_backlogged(state, index);
                            return;
                        }
                        let Some(sequence) = claim(&mut self.output, &mut state.claimed_end) else {
                            mark_backlogged(state, index);
                            return;
                        };
                        let slot = self.output.slot_mut(sequence);
                        match kind {
                            RequestKind::Http => {
                                let route = route_of(&request).expect("checked above").0;
                                let overflow = if needs_overflow {
                                    let buffer = state.overflow_free.pop().expect("checked above");
                                    state.overflow_in_use.push_back((buffer, sequence));
                                    // SAFETY: a free buffer is attached to no slot in flight.
                                    Some((buffer, unsafe { self.overflow.buffer_mut(buffer) }))
                                } else {
                                    None
                                };
                                copy_request(slot, &request, route, overflow);
                                slot.ip_retry_after_s = ip_retry_after_s;
                                slot.peer_loopback = connection.loopback;
                                slot.peer = u128::from(connection.peer);
                                slot.reply.connection = token;
                                slot.reply.times = Default::default();
                                slot.reply.times.received_ns = clock::monotonic_ns();
                            }
                            RequestKind::Answered(error) => {
                                answered_slot(slot, token, error, request.keep_alive)
                            }
                            _ => unreachable!("net-in frames only HTTP here"),
                        }
                        self.connections.request_published(index);
                        (request.length, request.keep_alive)
                    }
                };
            let connection = &mut state.connections[index as usize];
            connection.input.consume(consumed);
            connection.head.next_request();
            connection.partial_since_ms =
                if connection.input.is_empty() { 0 } else { clock::wall_ms() };
            if upgrading {
                // What follows the upgrade request is WebSocket frames.
                connection.websocket = true;
                connection.ws_last_pong_ms = clock::wall_ms();
                connection.partial_since_ms = 0;
            }
            if !keep_reading {
                self.stop_reading(state, index);
                return;
            }
        }
    }

    /// No more requests from this connection: deregister it and publish `Closed` (now, or when
    /// ring space allows).
    fn stop_reading(&mut self, state: &mut State, index: u32) {
        let connection = &mut state.connections[index as usize];
        if connection.phase != Phase::Reading {
            return;
        }
        if let Some(stream) = connection.stream.as_mut() {
            let _ = self.poll.registry().deregister(stream);
        }
        connection.phase = Phase::ClosePending;
        self.publish_close(state, index);
    }

    fn publish_close(&mut self, state: &mut State, index: u32) {
        let connection = &mut state.connections[index as usize];
        debug_assert_eq!(connection.phase, Phase::ClosePending);
        let token = ConnectionToken { index, generation: connection.generation };
        let Some(sequence) = claim(&mut self.output, &mut state.claimed_end) else {
            mark_backlogged(state, index);
            return;
        };
        let slot = self.output.slot_mut(sequence);
        slot.kind = RequestKind::Closed;
        slot.reply.connection = token;
        slot.reply.times = Default::default();
        state.connections[index as usize].phase = Phase::Closing;
    }

    /// Retries connections that waited for ring space.
    fn retry_backlog(&mut self, state: &mut State) {
        if state.backlog.is_empty() {
            return;
        }
        self.reclaim_overflow(state);
        let waiting = std::mem::take(&mut state.backlog);
        for &index in &waiting {
            let connection = &mut state.connections[index as usize];
            connection.backlogged = false;
            match connection.phase {
                Phase::Reading => {
                    self.frame_requests(state, index);
                    // Bytes that arrived while backlogged raised no new edge: read them now.
                    self.read(state, index);
                }
                Phase::ClosePending => self.publish_close(state, index),
                Phase::Free | Phase::Closing | Phase::Lingering => {}
            }
        }
        state.backlog = waiting;
        state.backlog.retain(|&index| state.connections[index as usize].backlogged);
    }

    /// Takes back overflow buffers whose slots the sequencer has passed.
    fn reclaim_overflow(&mut self, state: &mut State) {
        let consumed_end = self.output.gate_end();
        while let Some(&(buffer, sequence)) = state.overflow_in_use.front() {
            if sequence >= consumed_end {
                break;
            }
            state.overflow_in_use.pop_front();
            state.overflow_free.push(buffer);
        }
    }

    /// net-out's releases (close and reuse) and aborts (stop reading).
    fn handle_handback(&mut self, state: &mut State) {
        while let Some(token) = self.handback.resumed.pop() {
            let connection = &mut state.connections[token.index as usize];
            if connection.generation == token.generation && connection.throttled {
                connection.throttled = false;
                self.frame_requests(state, token.index);
                // Bytes that arrived while throttled raised no new edge: read them now.
                self.read(state, token.index);
            }
        }
        while let Some(token) = self.handback.aborted.pop() {
            let connection = &state.connections[token.index as usize];
            if connection.generation == token.generation {
                self.stop_reading(state, token.index);
            }
        }
        while let Some(token) = self.handback.released.pop() {
            let connection = &mut state.connections[token.index as usize];
            assert_eq!(connection.generation, token.generation, "a connection is released once");
            assert_eq!(connection.phase, Phase::Closing, "released only after Closed");
            // net-out is done with it: the pipeline's connection ends here (a stale abort no
            // longer matches); the socket lingers until its peer closes.
            self.connections.set(token.index, -1);
            connection.generation = connection.generation.wrapping_add(1);
            connection.phase = Phase::Lingering;
            connection.linger_since_ms = clock::wall_ms();
            connection.last_activity_ms = connection.linger_since_ms;
            connection.linger_bytes = 0;
            let registered = !connection.peer_closed && {
                let stream = connection.stream.as_mut().expect("a closing connection has a stream");
                let token = Token(token.index as usize);
                self.poll.registry().register(stream, token, Interest::READABLE).is_ok()
            };
            if !registered {
                self.close(state, token.index);
                continue;
            }
            // Input that arrived while nobody read raises no new edge: read it now.
            self.linger(state, token.index);
        }
        if !state.overflow_in_use.is_empty() {
            self.reclaim_overflow(state);
        }
    }

    fn check_timeouts(&mut self, state: &mut State, now_ms: u64) {
        for index in 0..state.connections.len() as u32 {
            let connection = &state.connections[index as usize];
            if connection.phase == Phase::Lingering {
                let idle = now_ms.saturating_sub(connection.last_activity_ms) >= LINGER_IDLE_MS;
                let over = now_ms.saturating_sub(connection.linger_since_ms) >= LINGER_TIME_MS;
                if idle || over {
                    self.close(state, index);
                }
                continue;
            }
            if connection.phase != Phase::Reading || connection.backlogged || connection.throttled {
                continue;
            }
            if connection.websocket {
                self.check_pong_timeout(state, index, now_ms);
                continue;
            }
            let timed_out = connection.partial_since_ms != 0
                && now_ms.saturating_sub(connection.partial_since_ms)
                    >= self.options.request_timeout_ms;
            let idle = connection.input.is_empty()
                && now_ms.saturating_sub(connection.last_activity_ms)
                    >= self.options.idle_timeout_ms;
            if timed_out {
                let token = ConnectionToken { index, generation: connection.generation };
                let Some(sequence) = claim(&mut self.output, &mut state.claimed_end) else {
                    return;
                };
                answered_slot(
                    self.output.slot_mut(sequence),
                    token,
                    ApiError::new(ErrorKind::RequestTimeout),
                    false,
                );
                self.stop_reading(state, index);
            } else if idle {
                self.stop_reading(state, index);
            }
        }
    }

    /// Publishes everything claimed so far (one store for the batch).
    fn publish(&mut self, state: &mut State) {
        if let Some(end) = state.claimed_end.take() {
            self.output.publish_through(end - 1);
        }
    }
}

impl Connection {
    /// Whether its socket may be read now.
    fn readable(&self) -> bool {
        self.phase == Phase::Reading && !self.backlogged && !self.throttled
    }

    /// The input's tail is full after framing: moves the unconsumed bytes to the front, or
    /// closes the gap control frames left in a fragmented WebSocket message, or grows the
    /// buffer once for one request larger than it (up to the largest allowed).
    fn make_room(&mut self) {
        if self.input.make_room() {
            return;
        }
        if self.websocket && self.ws_frame_at > self.ws_message_len {
            let gap = self.ws_frame_at - self.ws_message_len;
            self.input.remove(self.ws_message_len, gap);
            self.ws_frame_at = self.ws_message_len;
            return;
        }
        assert!(self.input.capacity() < INPUT_BYTES_MAX, "frame refuses larger requests");
        self.input.grow(INPUT_BYTES_MAX);
    }
}

/// Sets the socket's kernel send buffer (`SO_SNDBUF`), unless `bytes` is 0.
fn set_send_buffer(stream: &TcpStream, bytes: u32) {
    if bytes == 0 {
        return;
    }
    let value = bytes as libc::c_int;
    // SAFETY: `setsockopt` on an open socket with a pointer to a live `c_int` and its size.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn mark_backlogged(state: &mut State, index: u32) {
    let connection = &mut state.connections[index as usize];
    if !connection.backlogged {
        connection.backlogged = true;
        state.backlog.push(index);
    }
}

/// Claims the next ring A slot without waiting, remembering it for the batch publish.
fn claim(output: &mut Producer<RequestSlot>, claimed_end: &mut Option<u64>) -> Option<u64> {
    let sequence = output.try_claim()?;
    *claimed_end = Some(sequence + 1);
    Some(sequence)
}

/// A slot net-in has already answered (HTTP-level error, unknown route, rate limit).
fn answered_slot(
    slot: &mut RequestSlot,
    token: ConnectionToken,
    error: ApiError,
    keep_alive: bool,
) {
    slot.kind = RequestKind::Answered(error);
    slot.reply.connection = token;
    slot.reply.keep_alive = keep_alive && !error.closes_connection();
    slot.reply.item = 0;
    slot.reply.items = 0;
    slot.reply.times = Default::default();
    slot.reply.times.received_ns = clock::monotonic_ns();
}
