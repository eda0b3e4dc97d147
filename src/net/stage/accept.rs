//! Accepting connections: the connection slots, the per-IP connection cap, and running out of
//! descriptors without stalling.
//!
//! A connection is refused by accepting it and closing it at once — when every slot is taken, or
//! when its address already has `connections_per_ip_max` open (`net/peers.rs`) — so a refused
//! client learns it at once instead of waiting in the kernel's backlog, and the backlog never
//! fills with connections nobody will serve.
//!
//! **Out of descriptors** (`EMFILE`, `ENFILE`): the waiting connection cannot be accepted, and
//! the edge-triggered listener raises no new event for it, so returning would leave it (and every
//! connection behind it) hanging until another one arrives. net-in keeps one descriptor in
//! reserve (`/dev/null`, opened at start): it closes it, accepts the waiting connection, closes
//! that at once and opens the reserve again — the nginx/libev technique — and goes on until the
//! backlog is empty. Should the reserve be gone (another thread took the descriptor), or accept
//! fail otherwise, it tries again on the next timer tick rather than spinning or stalling.

use super::{NetIn, Phase, State, set_send_buffer};
use crate::clock;
use crate::net::http::HeadScan;
use crate::net::peers::peer_key;
use crate::net::websocket::Message;
use mio::net::TcpStream;
use mio::{Interest, Token};
use std::fs::File;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

/// The descriptor net-in keeps in reserve for shedding connections when out of descriptors.
pub(super) fn reserve_descriptor() -> Option<File> {
    File::open("/dev/null").ok()
}

/// What spending the reserve descriptor did.
enum Shed {
    /// A waiting connection was accepted and closed.
    One,
    /// No connection was waiting.
    BacklogEmpty,
    /// Nothing could be done now (no reserve, or accept failed): the timer tries again.
    Failed,
}

/// Whether an accept error means the process or system is out of descriptors.
fn out_of_descriptors(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

impl NetIn {
    /// Accepts every waiting connection (edge-triggered: until the backlog is empty), serving
    /// those that have a slot and are under their address's cap, closing the others at once.
    pub(super) fn accept(&mut self, state: &mut State) {
        state.accept_retry = false;
        loop {
            let (stream, address) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                // The peer reset it before accept: it is gone, go on with the next one.
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionAborted => continue,
                Err(error) if out_of_descriptors(&error) => match self.shed_connection(state) {
                    Shed::One => continue,
                    Shed::BacklogEmpty => return,
                    Shed::Failed => {
                        state.accept_retry = true;
                        return;
                    }
                },
                Err(_) => {
                    state.accept_retry = true;
                    return;
                }
            };
            let Some(index) = state.free.pop() else {
                continue; // at capacity: `stream` is dropped, so refused by closing
            };
            let key = peer_key(address.ip());
            if !state.peers.admit(key) {
                state.free.push(index);
                continue; // its address holds its share of the slots: refused by closing
            }
            self.serve(state, index, stream, address, key);
        }
    }

    /// Out of descriptors: spends the reserve on the waiting connection, closing it at once, and
    /// takes the reserve back. Linux allocates the descriptor before it looks at the backlog, so
    /// `EMFILE` does not say a connection waits: only this accept tells.
    fn shed_connection(&mut self, state: &mut State) -> Shed {
        let Some(reserve) = state.reserve.take() else {
            state.reserve = reserve_descriptor();
            return Shed::Failed;
        };
        drop(reserve);
        // The accepted stream is closed (dropped) before the reserve is opened again: until
        // then it holds the one descriptor free.
        let shed = match self.listener.accept() {
            Ok(accepted) => {
                drop(accepted);
                Shed::One
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => Shed::BacklogEmpty,
            Err(_) => Shed::Failed,
        };
        state.reserve = reserve_descriptor();
        if state.reserve.is_none() {
            return Shed::Failed; // the timer tries to open it again
        }
        shed
    }

    /// Puts an accepted connection in slot `index`.
    fn serve(
        &mut self,
        state: &mut State,
        index: u32,
        mut stream: TcpStream,
        address: SocketAddr,
        key: u64,
    ) {
        let _ = stream.set_nodelay(true);
        set_send_buffer(&stream, self.connection_options.socket_send_buffer_bytes);
        self.poll
            .registry()
            .register(&mut stream, Token(index as usize), Interest::READABLE)
            .expect("register an accepted connection");
        self.connections.set(index, stream.as_raw_fd());
        let connection = &mut state.connections[index as usize];
        connection.peer = key;
        connection.loopback = address.ip().to_canonical().is_loopback();
        self.metrics.net_in.connections_open.increment();
        connection.stream = Some(stream);
        connection.phase = Phase::Reading;
        connection.input.clear();
        connection.head = HeadScan::default();
        connection.partial_since_ms = 0;
        connection.last_activity_ms = clock::wall_ms();
        connection.backlogged = false;
        connection.peer_closed = false;
        connection.throttled = false;
        connection.websocket = false;
        connection.ws_message = Message::default();
        connection.ws_message_len = 0;
        connection.ws_frame_at = 0;
        connection.ws_close_pending = None;
    }
}
