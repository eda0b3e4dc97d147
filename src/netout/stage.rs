//! Net-out (its own thread, or turns on the `fused` and `single` layouts' one thread:
//! [`NetOutLoop`]): ring C → HTTP answers on the connections that asked, and WebSocket frames
//! to upgraded ones (`stage/websocket.rs`: the upgrade's answer, Pongs, Close frames, the
//! subscriptions' actions, Pings; the stream messages come from `fanout.rs`).
//!
//! **Reads** ring C (events, then the `Done` record of each request), in order, and in `sync`
//! durability only up to the journal's durable sequence: a record whose watermark is not yet
//! covered by `fdatasync` waits, and everything behind it (this keeps answers in order per
//! connection and never shows state that a crash could lose). **Writes** HTTP responses into each
//! connection's outbox and flushes every dirty outbox once per ring batch (one `send` per
//! connection per batch). **Owns** the read-side [`View`], the outboxes and its `mio::Poll`
//! (socket writability, wake-ups from the matcher and the journal).
//!
//! Never blocks on a socket (non-blocking sends; leftovers wait for writability), never allocates
//! in steady state (buffers reused), never closes a descriptor (net-in owns them).
//!
//! **Bounded output**: an HTTP connection whose unsent answers pass
//! `ConnectionOptions::http_output_max_bytes` is flagged to net-in, which stops reading it until
//! they drain (an answer larger than the cap is still sent whole); every answer counts down the
//! connection's requests in flight, and net-in is handed back a connection it stopped reading
//! once it is under both bounds again (`crate::connections`). A WebSocket subscriber past
//! `ws_output_max_bytes` gets Close 1008 and nothing more. A closed connection's outbox goes
//! back to its initial capacity.
//!
//! **Metrics**: each answer records its request's stage stamps (and net-out's own, when it is
//! written) and, if it is an error, its reason (`crate::metrics`, net-out's cells);
//! `GET /metrics` sets the gauges only net-out knows and renders every stage's cells.

mod websocket;

use super::fanout::Fanout;
use super::render::{self, CommandAnswer, ContentType};
use super::subscriptions::Subscriptions;
use super::view::View;
use crate::api::error::ApiError;
use crate::api::routes::Route;
use crate::clock;
use crate::connections::{ConnectionOptions, ConnectionTable, Handback};
use crate::durability::DurabilityGate;
use crate::event::Event;
use crate::event::EventKind;
use crate::metrics::Metrics;
use crate::records::{ConnectionToken, Extras, Outcome, Output, OutputSlot, ReadQuery, Reply};
use crate::ring::{Consumer, ExternalWait, WaitStrategy};
use crate::snapshot::SnapshotControl;
use crate::types::SequenceNumber;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use std::io::Write;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

/// The token of net-out's waker in its poll.
pub const NET_OUT_WAKER: Token = Token(usize::MAX - 1);

/// Initial outbox capacity per connection.
const OUTBOX_BYTES_INITIAL: usize = 16 << 10;
/// Events of one command net-out keeps without growing.
const COMMAND_EVENTS_INITIAL: usize = 1 << 16;
/// Longest sleep in the poll when idle (shutdown and timers need no finer grain here).
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How long a closed connection may keep unsent output waiting for a peer that does not read.
const CLOSE_GRACE_MS: u64 = 30_000;
/// How often the WebSocket timers (aggregated depth windows, ticker, klines, Pings) are checked
/// while any connection is upgraded: the 200 ms windows end within this of their boundary.
const WEBSOCKET_TIMER_PERIOD: Duration = Duration::from_millis(10);

/// One connection's output side.
struct Outbox {
    generation: u32,
    descriptor: RawFd,
    buffer: Vec<u8>,
    sent: usize,
    writable_registered: bool,
    /// The peer is gone or too slow: discard everything until `Closed`.
    dead: bool,
    /// `Closed` arrived: hand the connection back once flushed.
    closing: bool,
    /// When `Closed` arrived (wall ms), for the grace period of unsent output.
    closing_since_ms: u64,
    active: bool,
    dirty: bool,
    /// Upgraded: frames only from here on.
    websocket: bool,
    /// A Close frame is queued (its code): nothing more is written.
    ws_close_code: Option<u16>,
    /// When the next Ping is due (wall ms).
    ws_next_ping_ms: u64,
}

impl Outbox {
    fn new() -> Outbox {
        Outbox {
            generation: u32::MAX,
            descriptor: -1,
            buffer: Vec::with_capacity(OUTBOX_BYTES_INITIAL),
            sent: 0,
            writable_registered: false,
            dead: false,
            closing: false,
            closing_since_ms: 0,
            active: false,
            dirty: false,
            websocket: false,
            ws_close_code: None,
            ws_next_ping_ms: 0,
        }
    }

    /// Bytes not yet sent.
    fn unsent(&self) -> usize {
        self.buffer.len() - self.sent
    }
}

/// Everything net-out needs, built in `pipeline`.
pub struct NetOut {
    /// Ring C.
    pub input: Consumer<OutputSlot>,
    /// The read-side view (already rebuilt from the journal).
    pub view: View,
    /// Its own poll; its waker is registered as [`NET_OUT_WAKER`].
    pub poll: Poll,
    /// Socket descriptors by connection slot.
    pub connections: Arc<ConnectionTable>,
    /// The way back to net-in.
    pub handback: Arc<Handback>,
    /// The journal's durable sequence and whether answers wait for it (`sync`).
    pub gate: DurabilityGate,
    /// Where `POST /api/v1/admin/snapshot` asks for a snapshot (absent without a journal).
    pub snapshots: Option<Arc<SnapshotControl>>,
    /// How ring waits behave (busy-spin polls with a zero timeout).
    pub wait: WaitStrategy,
    /// Output caps and WebSocket timers.
    pub options: ConnectionOptions,
    /// What net-out measures (its cells), and what it renders for `GET /metrics` (all of it).
    pub metrics: Arc<Metrics>,
}

struct State {
    outboxes: Vec<Outbox>,
    dirty: Vec<u32>,
    events: Vec<Event>,
    body: Vec<u8>,
    batch: Vec<u8>,
    subscriptions: Subscriptions,
    fanout: Fanout,
    /// Upgraded connections open now (timers run only when there are some).
    websockets: usize,
    /// WebSocket connections that were sent Close 1001 and whose peer's Close is awaited.
    awaiting_close: Vec<RawFd>,
    /// Per subscription group, the frames of this batch for its members.
    group_buffers: Vec<Vec<u8>>,
    /// Groups with frames to send.
    dirty_groups: Vec<u32>,
}

/// What one [`NetOutLoop::answer_available`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answered {
    /// Handled records (answers written to outboxes and flushed).
    Progressed,
    /// Nothing it may handle yet.
    Idle,
    /// `Shutdown` was handled: call [`NetOutLoop::finish`].
    Shutdown,
}

/// Net-out between turns: the stage, its state and where it is in ring C. [`NetOut::run`]
/// turns it on a thread of its own; the `fused` layout turns it after the matcher on the
/// matcher's thread (`pipeline/fused.rs`), sleeping in its poll.
pub struct NetOutLoop {
    stage: NetOut,
    state: State,
    poll_events: Events,
    next: u64,
    /// The durable sequence the last turn stopped at, if the gate held it.
    blocked_on: Option<u64>,
    progressed: bool,
    next_grace_check_ms: u64,
    next_websocket_timers_ms: u64,
}

impl NetOut {
    /// Runs until the `Shutdown` record has been answered and every outbox flushed (or given up).
    pub fn run(self) {
        let mut turns = self.into_loop();
        while turns.answer_available() != Answered::Shutdown {
            turns.wait(true);
        }
        turns.finish();
    }

    /// Net-out ready to turn, its buffers allocated.
    pub fn into_loop(self) -> NetOutLoop {
        let state = State {
            outboxes: (0..self.connections.len()).map(|_| Outbox::new()).collect(),
            dirty: Vec::with_capacity(self.connections.len()),
            events: Vec::with_capacity(COMMAND_EVENTS_INITIAL),
            body: Vec::with_capacity(1 << 20),
            batch: Vec::with_capacity(1 << 20),
            subscriptions: Subscriptions::new(
                self.view.config().markets.len(),
                self.connections.len(),
            ),
            fanout: Fanout::new(self.view.config()),
            websockets: 0,
            awaiting_close: Vec::with_capacity(self.connections.len()),
            group_buffers: Vec::new(),
            dirty_groups: Vec::with_capacity(self.connections.len()),
        };
        NetOutLoop {
            stage: self,
            state,
            poll_events: Events::with_capacity(1024),
            next: 0,
            blocked_on: None,
            progressed: false,
            next_grace_check_ms: clock::wall_ms() + IDLE_POLL.as_millis() as u64,
            next_websocket_timers_ms: 0,
        }
    }
}

impl NetOutLoop {
    /// Answers every record of ring C the durability gate lets through, and flushes.
    pub fn answer_available(&mut self) -> Answered {
        let (processed_end, blocked_on, shutdown) = self.stage.process(&mut self.state, self.next);
        self.blocked_on = blocked_on;
        self.progressed = processed_end > self.next;
        if self.progressed {
            self.stage.input.release_through(processed_end - 1);
            self.next = processed_end;
        }
        self.stage.flush(&mut self.state);
        match (shutdown, self.progressed) {
            (true, _) => Answered::Shutdown,
            (false, true) => Answered::Progressed,
            (false, false) => Answered::Idle,
        }
    }

    /// Polls its sockets and wakers — sleeping, if `may_sleep` and nothing is pending, until
    /// ring C, the journal or a socket has something for it, or its [`super::NET_OUT_WAKER`]
    /// is woken — then writes to the sockets that became writable and runs its timers.
    pub fn wait(&mut self, may_sleep: bool) {
        let timeout = if may_sleep { self.prepare_sleep() } else { Duration::ZERO };
        self.poll_and_serve(timeout);
    }

    /// How long it may sleep, its wakers armed (ring C, the journal): zero with work pending.
    /// Sleep in this poll or in one that watches it, then call [`NetOutLoop::poll_and_serve`].
    pub fn prepare_sleep(&mut self) -> Duration {
        let stage = &mut self.stage;
        let mut timeout = stage.sleep_timeout(self.next, self.blocked_on, self.progressed);
        if self.state.websockets > 0 {
            timeout = timeout.min(WEBSOCKET_TIMER_PERIOD);
        }
        timeout
    }

    /// Polls (sleeping at most `timeout` if nothing is ready), disarms its wakers, writes to the
    /// sockets that became writable and runs its timers.
    pub fn poll_and_serve(&mut self, timeout: Duration) {
        let stage = &mut self.stage;
        match stage.poll.poll(&mut self.poll_events, Some(timeout)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => panic!("net-out poll failed: {error}"),
        }
        if let Some(durable) = stage.gate.durable() {
            durable.disarm();
        }
        stage.input.disarm_external_wait();
        for event in self.poll_events.iter() {
            if event.token() != NET_OUT_WAKER && event.is_writable() {
                let index = event.token().0 as u32;
                stage.write_out(&mut self.state, index);
            }
        }
        let now_ms = clock::wall_ms();
        if self.state.websockets > 0 && now_ms >= self.next_websocket_timers_ms {
            stage.websocket_timers(&mut self.state);
            stage.flush(&mut self.state);
            self.next_websocket_timers_ms = now_ms + WEBSOCKET_TIMER_PERIOD.as_millis() as u64;
        }
        if now_ms >= self.next_grace_check_ms {
            stage.expire_closing(&mut self.state, now_ms);
            self.next_grace_check_ms = now_ms + IDLE_POLL.as_millis() as u64;
        }
    }

    /// After [`Answered::Shutdown`]: sends what can be sent (bounded) and stops.
    pub fn finish(mut self) {
        self.stage.drain_on_shutdown(&mut self.state, &mut self.poll_events);
    }
}

impl NetOut {
    /// Gives up on closed connections whose peer has not taken their last answers within the
    /// grace period, so their slots go back to net-in.
    fn expire_closing(&mut self, state: &mut State, now_ms: u64) {
        for index in 0..state.outboxes.len() as u32 {
            let outbox = &state.outboxes[index as usize];
            if outbox.active
                && outbox.closing
                && now_ms.saturating_sub(outbox.closing_since_ms) >= CLOSE_GRACE_MS
            {
                let token = ConnectionToken { index, generation: outbox.generation };
                self.give_up(state, token);
                self.write_out(state, index);
            }
        }
    }

    /// How long to sleep: not at all with work pending or when busy-spinning; otherwise until
    /// the matcher publishes, the journal syncs, or a socket becomes writable.
    fn sleep_timeout(&mut self, next: u64, blocked_on: Option<u64>, progressed: bool) -> Duration {
        if progressed || self.wait == WaitStrategy::BusySpin {
            return Duration::ZERO;
        }
        if let Some(observed) = blocked_on {
            let durable = self.gate.durable().expect("blocked only when waiting for durability");
            return if durable.arm(observed) { IDLE_POLL } else { Duration::ZERO };
        }
        match self.input.arm_external_wait(next) {
            ExternalWait::Armed => IDLE_POLL,
            ExternalWait::Available(_) | ExternalWait::Finished => Duration::ZERO,
        }
    }

    /// Handles every available record the durability gate lets through. Returns the exclusive end
    /// of what was handled, the durable sequence it stopped at (if it did), and whether
    /// `Shutdown` was seen.
    fn process(&mut self, state: &mut State, next: u64) -> (u64, Option<u64>, bool) {
        let Some(available_end) = self.input.try_available(next) else {
            return (next, None, self.input.is_finished(next));
        };
        let mut sequence = next;
        while sequence < available_end {
            let slot = *self.input.slot(sequence);
            if let Some(durable) = self.gate.blocked(slot.watermark) {
                return (sequence, Some(durable), false);
            }
            sequence += 1;
            match slot.output {
                Output::Event(event) => {
                    self.view.apply(&event);
                    if let EventKind::AccountCreated { account, key } = event.kind {
                        state.subscriptions.account_created(account, &key);
                    }
                    state.events.push(event);
                }
                Output::Done { reply, outcome, extras } => {
                    self.view.finish(&outcome, &extras);
                    if outcome == Outcome::Shutdown {
                        return (sequence, None, true);
                    }
                    self.answer(state, &reply, &outcome, &extras);
                    if matches!(outcome, Outcome::Command { .. }) && state.websockets > 0 {
                        self.fan_out(state);
                    }
                    state.events.clear();
                }
            }
        }
        (sequence, None, false)
    }

    /// The outbox of `token`, (re)initialised for a new connection in its slot.
    fn outbox<'s>(&self, state: &'s mut State, token: ConnectionToken) -> &'s mut Outbox {
        let outbox = &mut state.outboxes[token.index as usize];
        if !outbox.active || outbox.generation != token.generation {
            debug_assert!(!outbox.active, "a slot is reused only after its release");
            outbox.generation = token.generation;
            outbox.descriptor = self.connections.get(token.index);
            outbox.buffer.clear();
            outbox.sent = 0;
            outbox.dead = false;
            outbox.closing = false;
            outbox.active = true;
            outbox.websocket = false;
            outbox.ws_close_code = None;
        }
        outbox
    }

    fn answer(&mut self, state: &mut State, reply: &Reply, outcome: &Outcome, extras: &Extras) {
        if *outcome == Outcome::Close {
            let outbox = self.outbox(state, reply.connection);
            outbox.closing = true;
            outbox.closing_since_ms = clock::wall_ms();
            if outbox.websocket {
                state.subscriptions.remove_connection(reply.connection.index);
            }
            mark_dirty(state, reply.connection.index);
            return;
        }
        self.observe(state, reply, outcome);
        if let Outcome::Read { account, query: ReadQuery::WebSocket(request) } = *outcome {
            return self.answer_websocket(state, reply, &account, request, extras);
        }
        if self.outbox(state, reply.connection).websocket {
            return self.answer_on_websocket(state, reply, outcome);
        }
        if reply.items == 0 || reply.item + 1 == reply.items {
            self.answered(reply.connection);
        }
        let batch_item = reply.items > 0;
        state.body.clear();
        let result: Result<ContentType, ApiError> = match *outcome {
            Outcome::Command { sequence, account } => {
                self.gate.acknowledge(sequence);
                if reply.route == Route::AdminSnapshot
                    && let Some(snapshots) = &self.snapshots
                {
                    snapshots.request();
                }
                let answer = CommandAnswer {
                    reply,
                    account: &account,
                    sequence,
                    events: &state.events,
                    extras,
                    durable_sequence: SequenceNumber(self.gate.durable_sequence()),
                };
                render::render_command(&mut state.body, self.view.config(), &answer)
                    .map(|()| ContentType::Json)
            }
            Outcome::Read { query: ReadQuery::Metrics, .. } => {
                self.publish_gauges(state);
                crate::metrics::text::render(&self.metrics, &mut state.body);
                if let Some(snapshots) = &self.snapshots {
                    crate::metrics::text::render_snapshots(snapshots, &mut state.body);
                }
                Ok(ContentType::Prometheus)
            }
            Outcome::Read { account, query } => {
                render::render_read(&mut state.body, &self.view, &account, &query, clock::wall_us())
            }
            Outcome::Reject(error) if batch_item => {
                render::render_batch_error_item(&mut state.body, &error);
                Ok(ContentType::Json)
            }
            Outcome::Reject(error) => Err(error),
            Outcome::Close | Outcome::Shutdown => unreachable!("handled before"),
        };
        self.count_response(reply, outcome, &result);
        if batch_item {
            // Items arrive consecutively: open the array on the first, close it on the last.
            if reply.item == 0 {
                state.batch.clear();
                state.batch.push(b'[');
            } else {
                state.batch.push(b',');
            }
            match &result {
                Ok(_) => state.batch.extend_from_slice(&state.body),
                Err(error) => render::render_batch_error_item(&mut state.batch, error),
            }
            if reply.item + 1 == reply.items {
                state.batch.push(b']');
                let body = std::mem::take(&mut state.batch);
                self.respond(state, reply, 200, ContentType::Json, &body, None);
                state.batch = body;
            }
            return;
        }
        match result {
            Ok(content_type) => {
                let body = std::mem::take(&mut state.body);
                self.respond(state, reply, 200, content_type, &body, None);
                state.body = body;
            }
            Err(error) => {
                state.body.clear();
                render::render_error(&mut state.body, &error);
                let body = std::mem::take(&mut state.body);
                self.respond(state, reply, error.status(), ContentType::Json, &body, Some(&error));
                state.body = body;
            }
        }
    }

    /// Records what answering one request says about it (`crate::metrics`): its stage stamps,
    /// once per request (a batch at its last item), and the error it is, if it is one.
    fn observe(&self, state: &State, reply: &Reply, outcome: &Outcome) {
        let net_out = &self.metrics.net_out;
        if reply.items == 0 || reply.item + 1 == reply.items {
            net_out.record_times(&reply.times, clock::monotonic_ns());
        }
        match *outcome {
            Outcome::Reject(error) => net_out.record_rejection(error.kind),
            // A rejected command's one event is its rejection.
            Outcome::Command { .. } => {
                if let Some(EventKind::Rejected { reason, .. }) =
                    state.events.first().map(|event| event.kind)
                {
                    net_out.record_rejection(reason.into());
                }
            }
            _ => {}
        }
    }

    /// Counts the HTTP response this answer makes (a batch's once, at its last item: always
    /// 200), leaving `GET /metrics` out so that a scrape does not count in the next one.
    fn count_response(
        &self,
        reply: &Reply,
        outcome: &Outcome,
        result: &Result<ContentType, ApiError>,
    ) {
        if matches!(outcome, Outcome::Read { query: ReadQuery::Metrics, .. }) {
            return;
        }
        let net_out = &self.metrics.net_out;
        match result {
            _ if reply.items > 0 && reply.item + 1 == reply.items => net_out.record_response(200),
            _ if reply.items > 0 => {}
            Ok(_) => net_out.record_response(200),
            Err(error) => net_out.record_response(error.status()),
        }
    }

    /// Sets the gauges only net-out knows, just before `GET /metrics` renders them.
    fn publish_gauges(&self, state: &State) {
        let net_out = &self.metrics.net_out;
        net_out.websocket_connections.set(state.websockets as u64);
        net_out.websocket_subscribers.set(state.subscriptions.subscriber_count() as u64);
        net_out.subscription_groups.set(state.subscriptions.groups_in_use() as u64);
        net_out.durable_sequence.set(self.gate.durable_sequence());
    }

    fn respond(
        &mut self,
        state: &mut State,
        reply: &Reply,
        status: u16,
        content_type: ContentType,
        body: &[u8],
        error: Option<&ApiError>,
    ) {
        let outbox = self.outbox(state, reply.connection);
        if outbox.dead {
            return;
        }
        let close = !reply.keep_alive || error.is_some_and(ApiError::closes_connection);
        let buffer = &mut outbox.buffer;
        let _ = write!(
            buffer,
            "HTTP/1.1 {status} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            reason(status),
            content_type.as_str(),
            body.len()
        );
        if let Some(error) = error.filter(|error| error.retry_after_s > 0) {
            let _ = write!(buffer, "Retry-After: {}\r\n", error.retry_after_s);
        }
        if close {
            buffer.extend_from_slice(b"Connection: close\r\n");
        }
        buffer.extend_from_slice(b"\r\n");
        buffer.extend_from_slice(body);
        self.check_output_cap(state, reply.connection.index);
        mark_dirty(state, reply.connection.index);
    }

    /// One request of `connection` answered: net-in may read it again if it waited for that.
    fn answered(&self, connection: ConnectionToken) {
        let in_flight_max = self.options.requests_in_flight_max;
        if self.connections.request_answered(connection.index, in_flight_max) {
            self.handback.resume(connection);
        }
    }

    /// Tells net-in whether an HTTP connection's unsent output is over its cap (it stops reading
    /// the connection until it is not).
    fn check_output_cap(&self, state: &mut State, index: u32) {
        let outbox = &mut state.outboxes[index as usize];
        if outbox.websocket {
            return;
        }
        let full = outbox.unsent() > self.options.http_output_max_bytes;
        if self.connections.set_output_full(index, full) {
            self.handback.resume(ConnectionToken { index, generation: outbox.generation });
        }
    }

    /// Sends every dirty outbox once.
    fn flush(&mut self, state: &mut State) {
        self.flush_outboxes(state);
        if !state.dirty_groups.is_empty() {
            self.flush_groups(state);
        }
    }

    /// Sends every dirty outbox once.
    fn flush_outboxes(&mut self, state: &mut State) {
        while let Some(index) = state.dirty.pop() {
            state.outboxes[index as usize].dirty = false;
            self.write_out(state, index);
        }
    }

    /// Sends what the socket takes; registers for writability when it takes no more; hands the
    /// connection back once a closing outbox is empty.
    fn write_out(&mut self, state: &mut State, index: u32) {
        let outbox = &mut state.outboxes[index as usize];
        if !outbox.active {
            return;
        }
        while !outbox.dead && outbox.sent < outbox.buffer.len() {
            let pending = &outbox.buffer[outbox.sent..];
            // SAFETY: `descriptor` is open (net-in closes it only after our release) and
            // `pending` is a valid buffer of `pending.len()` bytes.
            let written = unsafe {
                libc::send(
                    outbox.descriptor,
                    pending.as_ptr().cast(),
                    pending.len(),
                    libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                )
            };
            if written >= 0 {
                outbox.sent += written as usize;
                continue;
            }
            let error = std::io::Error::last_os_error();
            match error.kind() {
                std::io::ErrorKind::Interrupted => continue,
                std::io::ErrorKind::WouldBlock => {
                    if !outbox.writable_registered {
                        let source = &mut SourceFd(&outbox.descriptor);
                        self.poll
                            .registry()
                            .register(source, Token(index as usize), Interest::WRITABLE)
                            .expect("register a connection for writability");
                        outbox.writable_registered = true;
                    }
                    return;
                }
                _ => {
                    let token = ConnectionToken { index, generation: outbox.generation };
                    self.give_up(state, token);
                    return self.write_out(state, index);
                }
            }
        }
        if outbox.sent == outbox.buffer.len() {
            outbox.buffer.clear();
            outbox.sent = 0;
        } else if outbox.sent >= OUTBOX_BYTES_INITIAL && outbox.sent * 2 >= outbox.buffer.len() {
            // A reader that stays a little behind never empties its outbox: drop what was sent
            // (less than what stays, so the copy is paid for by the sends it follows) so the
            // buffer stays the size of what is unsent.
            outbox.buffer.drain(..outbox.sent);
            outbox.sent = 0;
        }
        self.check_output_cap(state, index);
        let outbox = &mut state.outboxes[index as usize];
        if outbox.closing && (outbox.buffer.is_empty() || outbox.dead) {
            if outbox.writable_registered {
                let _ = self.poll.registry().deregister(&mut SourceFd(&outbox.descriptor));
                outbox.writable_registered = false;
            }
            // SAFETY: shutting down the write side of an open socket we may write to.
            unsafe { libc::shutdown(outbox.descriptor, libc::SHUT_WR) };
            outbox.active = false;
            if outbox.websocket {
                state.websockets -= 1;
                if outbox.ws_close_code == Some(1001) && !outbox.dead {
                    state.awaiting_close.push(outbox.descriptor);
                }
            }
            // Buffers grown for a large answer or a backlog go back to their initial size.
            outbox.buffer.truncate(OUTBOX_BYTES_INITIAL);
            outbox.buffer.shrink_to(OUTBOX_BYTES_INITIAL);
            self.handback.release(ConnectionToken { index, generation: outbox.generation });
        }
    }

    /// Drops a connection's output (peer gone, or too slow) and asks net-in to stop reading it.
    fn give_up(&mut self, state: &mut State, token: ConnectionToken) {
        let outbox = &mut state.outboxes[token.index as usize];
        if outbox.dead {
            return;
        }
        outbox.dead = true;
        outbox.buffer.clear();
        outbox.sent = 0;
        self.handback.abort(token);
    }

    /// After `Shutdown`: finish sending what can be sent (bounded), then stop.
    fn drain_on_shutdown(&mut self, state: &mut State, poll_events: &mut Events) {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let pending = state
                .outboxes
                .iter()
                .any(|outbox| outbox.active && !outbox.dead && outbox.sent < outbox.buffer.len());
            if !pending || std::time::Instant::now() > deadline {
                break;
            }
            let _ = self.poll.poll(poll_events, Some(Duration::from_millis(10)));
            for index in 0..state.outboxes.len() as u32 {
                self.write_out(state, index);
            }
        }
        self.await_peer_close(state);
        for outbox in state.outboxes.iter_mut().filter(|outbox| outbox.active) {
            // SAFETY: the descriptor is open until net-in (joined after us) drops its streams.
            unsafe { libc::shutdown(outbox.descriptor, libc::SHUT_RDWR) };
        }
    }
}

fn mark_dirty(state: &mut State, index: u32) {
    let outbox = &mut state.outboxes[index as usize];
    if !outbox.dirty {
        outbox.dirty = true;
        state.dirty.push(index);
    }
}

/// The reason phrase of a status code.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}
