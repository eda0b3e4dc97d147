//! net-in's side of a WebSocket connection: the upgrade, then frames instead of HTTP requests.
//!
//! **Reads** the connection's input buffer once it is upgraded. **Writes** ring A: a `WsText`
//! slot per complete text message (SUBSCRIBE/UNSUBSCRIBE, for verify), a `WsControl(Pong)` per
//! Ping, a `WsControl(Close)` when the connection must end (the client's Close echoed, a protocol
//! violation with its code, the Pong timeout, shutdown's 1001), then `Closed` as for HTTP. net-out
//! writes every frame; net-in writes none.
//!
//! A frame is acted on only once whatever it needs is claimed (a ring slot, an overflow buffer):
//! [`decode_header`] reads without modifying, so a frame that must wait stays in the buffer as it
//! arrived. Frames are consumed from the front of the input without moving what follows
//! (`net/input.rs`). A fragmented message's payloads are moved together at the front as they
//! arrive (each payload byte once; the headers between them dropped), so the whole message is one
//! slice when it completes; control frames between its pieces are handled where they are and
//! skipped (`ws_frame_at`), the gap they leave closed only if the buffer fills.

use super::{Connection, NetIn, Phase, State, answered_slot, claim, mark_backlogged};
use crate::api::error::{ApiError, ErrorKind};
use crate::api::routes::Method;
use crate::api::websocket::Opcode;
use crate::clock;
use crate::net::http::Request;
use crate::net::websocket::{
    Progress, accept_key, close_code, decode_header, is_valid_key, unmask,
};
use crate::net::{copy_message, fits_inline_len};
use crate::records::{ConnectionToken, Extras, RequestKind, RequestSlot, WsRequest};

/// Fills `slot` with the answer to an upgrade request: `WsUpgrade` with the accept key for a
/// valid one (returns true), else 400 and the connection closes (returns false).
pub(super) fn upgrade_slot(
    slot: &mut RequestSlot,
    token: ConnectionToken,
    request: &Request<'_>,
) -> bool {
    let key = request.websocket_key.filter(|key| is_valid_key(key));
    let Some(key) = key.filter(|_| request.method == Method::Get) else {
        answered_slot(slot, token, ApiError::new(ErrorKind::MalformedRequest), false);
        return false;
    };
    websocket_slot(slot, token, RequestKind::WsUpgrade, Extras::with_bytes(&accept_key(key)));
    true
}

impl Connection {
    /// Unmasks the data frame at `ws_frame_at` and joins its payload to the message at the
    /// front of the input, leaving `ws_frame_at` past the frame.
    fn join_payload(&mut self, header: &crate::net::websocket::FrameHeader) {
        let (start, message_len) = (self.ws_frame_at, self.ws_message_len);
        debug_assert!(message_len > 0 || start == 0, "outside a message frames are consumed");
        let payload = start + header.header_len..start + header.length();
        unmask(&mut self.input.pending_mut()[payload.clone()], header.mask);
        if message_len == 0 {
            // A message's first frame is at the front: drop its header, move nothing.
            self.input.consume(header.header_len);
            self.ws_frame_at = header.payload_len;
        } else {
            // A later piece joins the message: only its payload moves.
            self.input.move_back(payload, message_len);
            self.ws_frame_at = start + header.length();
        }
    }

    /// The frame of `length` bytes at `ws_frame_at` is done with: consumed at once outside a
    /// message, else skipped (consumed with the message).
    fn skip_frame(&mut self, length: usize) {
        self.ws_frame_at += length;
        if self.ws_message_len == 0 {
            self.input.consume(self.ws_frame_at);
            self.ws_frame_at = 0;
        }
    }
}

impl NetIn {
    /// Frames and publishes every complete WebSocket frame at the start of the buffer.
    pub(super) fn frame_messages(&mut self, state: &mut State, index: u32) {
        loop {
            let connection = &mut state.connections[index as usize];
            if connection.phase != Phase::Reading || connection.backlogged {
                return;
            }
            if let Some(code) = connection.ws_close_pending {
                return self.close_websocket(state, index, code);
            }
            let start = connection.ws_frame_at;
            let message_len = connection.ws_message_len;
            let header = match decode_header(&connection.input.pending()[start..], message_len) {
                Ok(Some(header)) => header,
                Ok(None) => return,
                Err(violation) => return self.close_websocket(state, index, violation.code()),
            };
            let payload = start + header.header_len..start + header.length();
            match header.opcode {
                Opcode::Pong => {
                    connection.ws_last_pong_ms = clock::wall_ms();
                    connection.skip_frame(header.length());
                }
                Opcode::Ping => {
                    let Some(sequence) = claim(&mut self.output, &mut state.claimed_end) else {
                        return mark_backlogged(state, index);
                    };
                    let bytes = &mut connection.input.pending_mut()[payload];
                    unmask(bytes, header.mask);
                    let extras = Extras::with_bytes(bytes);
                    let token = ConnectionToken { index, generation: connection.generation };
                    control_slot(self.output.slot_mut(sequence), token, WsRequest::Pong, extras);
                    connection.skip_frame(header.length());
                }
                Opcode::Close => {
                    let bytes = &mut connection.input.pending_mut()[payload];
                    unmask(bytes, header.mask);
                    let code = close_code(bytes).unwrap_or_else(|violation| violation.code());
                    return self.close_websocket(state, index, code);
                }
                Opcode::Text | Opcode::Binary | Opcode::Continuation => {
                    if !self.take_data_frame(state, index, header) {
                        return;
                    }
                }
            }
        }
    }

    /// One data frame: its payload joins the message; a complete message is published. Returns
    /// false when framing must stop (waiting for room, or the connection is closing).
    fn take_data_frame(
        &mut self,
        state: &mut State,
        index: u32,
        header: crate::net::websocket::FrameHeader,
    ) -> bool {
        let connection = &mut state.connections[index as usize];
        let total = connection.ws_message_len + header.payload_len;
        // A final piece is published: claim what that needs before touching the buffer.
        let needs_overflow = !fits_inline_len(total);
        if header.fin && needs_overflow && state.overflow_free.is_empty() {
            mark_backlogged(state, index);
            return false;
        }
        let claimed = if header.fin {
            let Some(sequence) = claim(&mut self.output, &mut state.claimed_end) else {
                mark_backlogged(state, index);
                return false;
            };
            Some(sequence)
        } else {
            None
        };
        connection.join_payload(&header);
        let taken = connection.ws_message.take(
            header.opcode,
            header.fin,
            header.payload_len,
            &connection.input.pending()[..total],
        );
        let token = ConnectionToken { index, generation: connection.generation };
        match (taken, claimed) {
            (Err(violation), Some(sequence)) => {
                let close = WsRequest::Close { code: violation.code() };
                control_slot(self.output.slot_mut(sequence), token, close, Extras::default());
                self.stop_reading(state, index);
                false
            }
            (Err(violation), None) => {
                self.close_websocket(state, index, violation.code());
                false
            }
            (Ok(Progress::Partial), _) => {
                connection.ws_message_len = total;
                true
            }
            (Ok(Progress::Complete), claimed) => {
                let sequence = claimed.expect("a complete message ends with a final frame");
                let overflow = needs_overflow.then(|| {
                    let buffer = state.overflow_free.pop().expect("checked above");
                    state.overflow_in_use.push_back((buffer, sequence));
                    // SAFETY: a free buffer is attached to no slot in flight.
                    (buffer, unsafe { self.overflow.buffer_mut(buffer) })
                });
                let slot = self.output.slot_mut(sequence);
                copy_message(slot, &connection.input.pending()[..total], overflow);
                slot.reply.connection = token;
                slot.reply.times = Default::default();
                slot.reply.times.received_ns = clock::monotonic_ns();
                connection.input.consume(connection.ws_frame_at);
                connection.ws_frame_at = 0;
                connection.ws_message_len = 0;
                true
            }
        }
    }

    /// Ends a WebSocket connection with a Close frame of `code` (net-out writes it): published
    /// now, or, without a free slot, remembered and retried with the backlog.
    pub(super) fn close_websocket(&mut self, state: &mut State, index: u32, code: u16) {
        let connection = &mut state.connections[index as usize];
        let Some(sequence) = claim(&mut self.output, &mut state.claimed_end) else {
            connection.ws_close_pending = Some(code);
            return mark_backlogged(state, index);
        };
        connection.ws_close_pending = None;
        let token = ConnectionToken { index, generation: connection.generation };
        let close = WsRequest::Close { code };
        control_slot(self.output.slot_mut(sequence), token, close, Extras::default());
        self.stop_reading(state, index);
    }

    /// Closes (1000) a WebSocket connection that sent no Pong within the timeout.
    pub(super) fn check_pong_timeout(&mut self, state: &mut State, index: u32, now_ms: u64) {
        let connection = &state.connections[index as usize];
        let timeout_ms = self.connection_options.ws_pong_timeout_ms;
        if now_ms.saturating_sub(connection.ws_last_pong_ms) >= timeout_ms {
            self.close_websocket(state, index, 1000);
        }
    }

    /// Shutdown: a Close 1001 ahead of the connection's `Closed` (waiting for ring space if need
    /// be: the consumers are running).
    pub(super) fn going_away(&mut self, state: &mut State, index: u32) {
        let sequence = match claim(&mut self.output, &mut state.claimed_end) {
            Some(sequence) => sequence,
            None => {
                self.publish(state);
                let sequence = self.output.claim();
                state.claimed_end = Some(sequence + 1);
                sequence
            }
        };
        let connection = &state.connections[index as usize];
        let token = ConnectionToken { index, generation: connection.generation };
        let close = WsRequest::Close { code: 1001 };
        control_slot(self.output.slot_mut(sequence), token, close, Extras::default());
    }
}

/// A slot carrying a WebSocket Pong or Close for net-out.
fn control_slot(
    slot: &mut RequestSlot,
    token: ConnectionToken,
    request: WsRequest,
    extras: Extras,
) {
    websocket_slot(slot, token, RequestKind::WsControl(request), extras);
}

/// A slot of a WebSocket connection that net-out acts on.
fn websocket_slot(
    slot: &mut RequestSlot,
    token: ConnectionToken,
    kind: RequestKind,
    extras: Extras,
) {
    slot.kind = kind;
    slot.extras = extras;
    slot.reply.connection = token;
    slot.reply.keep_alive = true;
    slot.reply.item = 0;
    slot.reply.items = 0;
    slot.reply.times = Default::default();
    slot.reply.times.received_ns = clock::monotonic_ns();
}
