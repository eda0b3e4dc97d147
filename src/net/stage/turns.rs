//! Net-in between turns. [`NetIn::run`] turns it on a thread of its own; the `single` layout
//! turns it on the fused thread (`pipeline/fused.rs`), which sleeps in net-in's poll with
//! net-out's poll watched from it ([`super::NET_IN_NESTED_POLL`]).

use super::accept::reserve_descriptor;
use super::{
    Connection, INPUT_BYTES_INITIAL, NET_IN_LISTENER, NET_IN_NESTED_POLL, NET_IN_WAKER, NetIn,
    Phase, SIGNALLED, State, TIMER_PERIOD_MS,
};
use crate::clock;
use crate::net::http::HeadScan;
use crate::net::input::Input;
use crate::net::peers::PeerConnections;
use crate::net::websocket::Message;
use crate::rate_limit::RateLimiter;
use crate::records::{ConnectionToken, RequestKind};
use mio::Events;
use mio::net::TcpStream;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Net-in, its state and its timers, between turns.
pub struct NetInLoop {
    stage: NetIn,
    state: State,
    events: Events,
    next_timer_ms: u64,
}

impl NetIn {
    /// Runs until shutdown; returns the open streams, which the caller drops only after net-out
    /// has finished (so no descriptor is closed under it).
    pub fn run(self) -> Vec<TcpStream> {
        let mut turns = self.into_loop();
        loop {
            let timeout = turns.timeout_max();
            if turns.turn(timeout) {
                return turns.stop(None);
            }
        }
    }

    /// Net-in ready to turn, its connection table allocated.
    pub fn into_loop(self) -> NetInLoop {
        let connections_max = self.options.connections_max;
        let state = State {
            connections: (0..connections_max).map(|_| Connection::free()).collect(),
            free: (0..connections_max as u32).rev().collect(),
            overflow_free: (0..self.overflow.len() as u32).rev().collect(),
            overflow_in_use: VecDeque::with_capacity(self.overflow.len()),
            ip_limiter: RateLimiter::new(
                self.options.ip_rate_per_s,
                self.options.ip_burst,
                1 << 16,
            ),
            peers: PeerConnections::new(connections_max, self.options.connections_per_ip_max),
            reserve: reserve_descriptor(),
            accept_retry: false,
            claimed_end: None,
            backlog: Vec::with_capacity(connections_max),
        };
        NetInLoop {
            stage: self,
            state,
            events: Events::with_capacity(1024),
            next_timer_ms: clock::wall_ms() + TIMER_PERIOD_MS,
        }
    }
}

impl Connection {
    /// An unused slot of the connection table.
    fn free() -> Connection {
        Connection {
            stream: None,
            generation: 0,
            phase: Phase::Free,
            input: Input::with_capacity(INPUT_BYTES_INITIAL),
            head: HeadScan::default(),
            partial_since_ms: 0,
            last_activity_ms: 0,
            peer: 0,
            loopback: false,
            backlogged: false,
            peer_closed: false,
            linger_since_ms: 0,
            linger_bytes: 0,
            throttled: false,
            websocket: false,
            ws_message: Message::default(),
            ws_message_len: 0,
            ws_frame_at: 0,
            ws_last_pong_ms: 0,
            ws_close_pending: None,
        }
    }
}

impl NetInLoop {
    /// The longest a turn may sleep: the timers' period, or 1 ms while connections wait for
    /// ring space.
    pub fn timeout_max(&self) -> Duration {
        let timeout_ms = if self.state.backlog.is_empty() { TIMER_PERIOD_MS } else { 1 };
        Duration::from_millis(timeout_ms)
    }

    /// One turn: polls (sleeping at most `timeout` if nothing is ready), accepts, reads and
    /// frames, retries what waited for ring space, runs the timers and publishes into ring A.
    /// True once the server is asked to stop: then call [`NetInLoop::stop`].
    pub fn turn(&mut self, timeout: Duration) -> bool {
        let (stage, state) = (&mut self.stage, &mut self.state);
        match stage.poll.poll(&mut self.events, Some(timeout)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => panic!("net-in poll failed: {error}"),
        }
        for event in self.events.iter() {
            match event.token() {
                NET_IN_LISTENER => stage.accept(state),
                NET_IN_WAKER | NET_IN_NESTED_POLL => {}
                token => stage.read(state, token.0 as u32),
            }
        }
        stage.handle_handback(state);
        stage.retry_backlog(state);
        let now_ms = clock::wall_ms();
        if now_ms >= self.next_timer_ms {
            if state.accept_retry {
                stage.accept(state);
            }
            stage.check_timeouts(state, now_ms);
            self.next_timer_ms = now_ms + TIMER_PERIOD_MS;
        }
        stage.publish(state);
        stage.shutdown.load(Ordering::Acquire) || SIGNALLED.load(Ordering::Acquire)
    }

    /// Shutdown: stops accepting and reading, closes every connection behind what it already
    /// sent, publishes `Shutdown` last and closes ring A. Returns the open streams. While ring A
    /// is full it calls `make_room` (the thread that also consumes ring A runs its stages), or,
    /// without one, waits for the consumers on their threads.
    pub fn stop(self, mut make_room: Option<&mut dyn FnMut()>) -> Vec<TcpStream> {
        let NetInLoop { stage: mut net_in, mut state, .. } = self;
        let _ = net_in.poll.registry().deregister(&mut net_in.listener);
        for index in 0..state.connections.len() as u32 {
            if state.connections[index as usize].phase == Phase::Reading {
                if state.connections[index as usize].websocket {
                    net_in.going_away(&mut state, index);
                }
                net_in.stop_reading(&mut state, index);
            }
        }
        // Closes that waited for ring space: wait for it now (the consumers are running).
        net_in.publish(&mut state);
        let mut claim = |net_in: &mut NetIn| loop {
            match make_room.as_mut() {
                None => return net_in.output.claim(),
                Some(make_room) => match net_in.output.try_claim() {
                    Some(sequence) => return sequence,
                    None => make_room(),
                },
            }
        };
        for index in 0..state.connections.len() as u32 {
            if state.connections[index as usize].phase == Phase::ClosePending {
                let sequence = claim(&mut net_in);
                let token = ConnectionToken {
                    index,
                    generation: state.connections[index as usize].generation,
                };
                let slot = net_in.output.slot_mut(sequence);
                slot.kind = RequestKind::Closed;
                slot.reply.connection = token;
                net_in.output.publish(sequence);
                state.connections[index as usize].phase = Phase::Closing;
            }
        }
        let sequence = claim(&mut net_in);
        net_in.output.slot_mut(sequence).kind = RequestKind::Shutdown;
        net_in.output.publish(sequence);
        // Dropping the producer closes ring A: every stage drains and exits in turn.
        drop(net_in.output);
        state.connections.into_iter().filter_map(|connection| connection.stream).collect()
    }
}
