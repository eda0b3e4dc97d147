//! net-out's side of WebSocket connections: the upgrade answer, Pongs, Close frames, the
//! subscriptions, the fan-out into outboxes, Pings, and the wait for the clients' Close at
//! shutdown.
//!
//! Each subscriber's unsent output is capped (`ConnectionOptions::ws_output_max_bytes`): a
//! subscriber past it gets a Close 1008 `slow consumer` queued behind what it has not read, no
//! more frames, and net-in stops reading it; everyone else's messages were already copied into
//! their own outboxes, so no one waits for it.

use super::{NetOut, Outbox, State, mark_dirty};
use crate::api::streams::{StreamAction, StreamError};
use crate::api::websocket::{Opcode, push_close, push_frame, push_upgrade_response};
use crate::clock;
use crate::connections::Handback;
use crate::event::Event;
use crate::netout::fanout::{Fanout, Sink};
use crate::netout::render::streams::write_stream_error;
use crate::netout::subscriptions::{GroupId, Subscriptions};
use crate::records::{ConnectionToken, Extras, Outcome, Reply, WsRequest};
use crate::types::AccountKey;
use std::time::{Duration, Instant};

/// The close reason of a dropped slow subscriber.
const SLOW_CONSUMER: &str = "slow consumer";

/// The outboxes and group buffers as the fan-out's sink.
pub(super) struct Outboxes<'a> {
    outboxes: &'a mut [Outbox],
    dirty: &'a mut Vec<u32>,
    groups: &'a mut [Vec<u8>],
    dirty_groups: &'a mut Vec<GroupId>,
    handback: &'a Handback,
    output_max_bytes: usize,
}

impl Sink for Outboxes<'_> {
    fn deliver_to_group(&mut self, group: GroupId, frame: &[u8]) {
        let buffer = &mut self.groups[group as usize];
        if buffer.is_empty() {
            self.dirty_groups.push(group);
        }
        buffer.extend_from_slice(frame);
    }

    fn deliver(&mut self, connection: u32, frame: &[u8]) {
        let outbox = &mut self.outboxes[connection as usize];
        if outbox.dead || outbox.ws_close_code.is_some() || !outbox.active {
            return;
        }
        if outbox.unsent() + frame.len() > self.output_max_bytes {
            cut_slow_consumer(outbox, connection, self.handback);
        } else {
            outbox.buffer.extend_from_slice(frame);
        }
        if !outbox.dirty {
            outbox.dirty = true;
            self.dirty.push(connection);
        }
    }
}

/// Queues Close 1008 behind what the subscriber has not read, and nothing more after it; net-in
/// stops reading the connection.
fn cut_slow_consumer(outbox: &mut Outbox, connection: u32, handback: &Handback) {
    push_close(&mut outbox.buffer, 1008, SLOW_CONSUMER);
    outbox.ws_close_code = Some(1008);
    handback.abort(ConnectionToken { index: connection, generation: outbox.generation });
}

/// Sends as much of `bytes` as the socket takes now; returns how much. An error is left for the
/// outbox's own send to meet (and give up on).
fn send_now(descriptor: std::os::fd::RawFd, bytes: &[u8]) -> usize {
    let mut sent = 0;
    while sent < bytes.len() {
        let pending = &bytes[sent..];
        // SAFETY: `descriptor` is open (net-in closes it only after net-out's release) and
        // `pending` is a valid buffer of `pending.len()` bytes.
        let written = unsafe {
            libc::send(
                descriptor,
                pending.as_ptr().cast(),
                pending.len(),
                libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
            )
        };
        let interrupted =
            || std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted;
        if written > 0 {
            sent += written as usize;
        } else if !(written < 0 && interrupted()) {
            break;
        }
    }
    sent
}

/// `state` split into the fan-out, the subscriptions, the command's events and the sink.
fn split<'a>(
    state: &'a mut State,
    handback: &'a Handback,
    output_max_bytes: usize,
) -> (&'a mut Fanout, &'a Subscriptions, &'a [Event], Outboxes<'a>) {
    let State {
        outboxes, dirty, events, subscriptions, fanout, group_buffers, dirty_groups, ..
    } = state;
    let sink = Outboxes {
        outboxes,
        dirty,
        groups: group_buffers,
        dirty_groups,
        handback,
        output_max_bytes,
    };
    (fanout, subscriptions, events, sink)
}

impl NetOut {
    /// A WebSocket request: the upgrade, a Pong, a Close, or one action of a SUBSCRIBE frame.
    pub(super) fn answer_websocket(
        &mut self,
        state: &mut State,
        reply: &Reply,
        account: &AccountKey,
        request: WsRequest,
        extras: &Extras,
    ) {
        let index = reply.connection.index;
        let interval_ms = self.options.ws_ping_interval_ms;
        let outbox = self.outbox(state, reply.connection);
        if outbox.dead || outbox.ws_close_code.is_some() {
            if request == WsRequest::Upgrade {
                self.answered(reply.connection);
            }
            return;
        }
        match request {
            WsRequest::Upgrade => {
                push_upgrade_response(&mut outbox.buffer, extras.address());
                outbox.websocket = true;
                outbox.ws_next_ping_ms = clock::wall_ms() + interval_ms;
                state.websockets += 1;
                self.answered(reply.connection);
            }
            WsRequest::Pong => push_frame(&mut outbox.buffer, Opcode::Pong, extras.address()),
            WsRequest::Close { code } => {
                push_close(&mut outbox.buffer, code, "");
                outbox.ws_close_code = Some(code);
            }
            WsRequest::Stream(action) => {
                let result = match action {
                    StreamAction::Subscribe(stream) => {
                        let account_index = self.view.account_index(account);
                        state.subscriptions.subscribe(index, stream, *account, account_index)
                    }
                    StreamAction::Unsubscribe(stream) => {
                        state.subscriptions.unsubscribe(index, stream);
                        Ok(())
                    }
                    StreamAction::Error(error) => Err(error),
                };
                if let Err(error) = result {
                    self.error_frame(state, index, error);
                }
                // A new group gets its buffer now, off the delivery path.
                let groups = state.subscriptions.groups_len();
                if state.group_buffers.len() < groups {
                    state.group_buffers.resize_with(groups, || Vec::with_capacity(16 << 10));
                }
            }
        }
        // Pongs and error frames answer what the client sends: a client that sends without
        // reading meets the same cap as a slow subscriber.
        let outbox = &mut state.outboxes[index as usize];
        if outbox.ws_close_code.is_none() && outbox.unsent() > self.options.ws_output_max_bytes {
            cut_slow_consumer(outbox, index, &self.handback);
        }
        mark_dirty(state, index);
    }

    /// An answer for a request that is not WebSocket, on a connection that is: an error frame
    /// for a refusal, nothing otherwise (a WebSocket connection has no HTTP answers).
    pub(super) fn answer_on_websocket(
        &mut self,
        state: &mut State,
        reply: &Reply,
        outcome: &Outcome,
    ) {
        if let Outcome::Reject(_) = outcome {
            self.error_frame(state, reply.connection.index, StreamError::InvalidRequest);
            mark_dirty(state, reply.connection.index);
        }
    }

    fn error_frame(&mut self, state: &mut State, index: u32, error: StreamError) {
        state.body.clear();
        write_stream_error(&mut state.body, error);
        let outbox = &mut state.outboxes[index as usize];
        push_frame(&mut outbox.buffer, Opcode::Text, &state.body);
    }

    /// The streams of the command just finished, to every subscriber.
    pub(super) fn fan_out(&mut self, state: &mut State) {
        let now_us = clock::wall_us();
        let (fanout, subscriptions, events, mut sink) =
            split(state, &self.handback, self.options.ws_output_max_bytes);
        fanout.on_command(&self.view, subscriptions, events, now_us, &mut sink);
    }

    /// Sends each dirty group's bytes to every member: straight from the group's buffer to a
    /// member that is caught up (nothing waits in its outbox), into the member's outbox behind
    /// what waits there otherwise (and whatever a socket does not take). Called after the
    /// outboxes are flushed, so a member's older output (the upgrade's answer, Pongs) goes first.
    pub(super) fn flush_groups(&mut self, state: &mut State) {
        while let Some(group) = state.dirty_groups.pop() {
            let mut bytes = std::mem::take(&mut state.group_buffers[group as usize]);
            for &member in state.subscriptions.members(group) {
                let outbox = &mut state.outboxes[member as usize];
                if !outbox.active || outbox.dead || outbox.ws_close_code.is_some() {
                    continue;
                }
                let caught_up = outbox.unsent() == 0;
                let sent = if caught_up { send_now(outbox.descriptor, &bytes) } else { 0 };
                if sent < bytes.len() {
                    outbox.buffer.extend_from_slice(&bytes[sent..]);
                    if outbox.unsent() > self.options.ws_output_max_bytes {
                        cut_slow_consumer(outbox, member, &self.handback);
                    }
                    if !outbox.dirty {
                        outbox.dirty = true;
                        state.dirty.push(member);
                    }
                }
            }
            bytes.clear();
            state.group_buffers[group as usize] = bytes;
        }
        // Leftovers: sent as far as the sockets take them, the rest on writability.
        self.flush_outboxes(state);
    }

    /// The timed streams and the Pings.
    pub(super) fn websocket_timers(&mut self, state: &mut State) {
        let now_us = clock::wall_us();
        let (fanout, subscriptions, _, mut sink) =
            split(state, &self.handback, self.options.ws_output_max_bytes);
        fanout.on_timer(&self.view, subscriptions, now_us, &mut sink);
        let now_ms = now_us / 1_000;
        for index in 0..state.outboxes.len() as u32 {
            let outbox = &mut state.outboxes[index as usize];
            let due = outbox.active && outbox.websocket && now_ms >= outbox.ws_next_ping_ms;
            if due && !outbox.dead && outbox.ws_close_code.is_none() {
                push_frame(&mut outbox.buffer, Opcode::Ping, &[]);
                outbox.ws_next_ping_ms = now_ms + self.options.ws_ping_interval_ms;
                mark_dirty(state, index);
            }
        }
    }

    /// Shutdown: waits (up to the grace period) for each client sent Close 1001 to answer with
    /// its own Close or to hang up.
    pub(super) fn await_peer_close(&mut self, state: &mut State) {
        let deadline = Instant::now() + Duration::from_millis(self.options.ws_close_grace_ms);
        let mut scratch = [0u8; 4096];
        while !state.awaiting_close.is_empty() && Instant::now() < deadline {
            state.awaiting_close.retain(|&descriptor| {
                // SAFETY: the descriptor stays open until net-in's streams drop, after we return;
                // `scratch` is a valid buffer of its length.
                let read = unsafe {
                    libc::recv(
                        descriptor,
                        scratch.as_mut_ptr().cast(),
                        scratch.len(),
                        libc::MSG_DONTWAIT,
                    )
                };
                let would_block = read < 0
                    && std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock;
                // Waiting only while nothing came: a Close (or anything else) or the end ends it.
                would_block
            });
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
