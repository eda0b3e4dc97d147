//! What net-in and net-out share about connections, besides the rings between them.
//!
//! Both stages use the same sockets: net-in reads, net-out writes. net-in owns each socket's
//! lifetime (it accepts it and it closes it), so a file descriptor is never closed while net-out
//! may still write to it, and a reused descriptor is never written with an old connection's bytes:
//! - net-in stores the descriptor in [`ConnectionTable`] before it publishes the connection's
//!   first request (ring A's release/acquire chain carries the store to net-out);
//! - when net-in is done reading a connection it publishes a `Closed` record behind its last
//!   request; net-out answers everything before it, flushes, and hands the connection back
//!   through [`Handback::released`]; only then does net-in close the descriptor and reuse its
//!   entry;
//! - net-out asks net-in to stop reading a connection it gave up on (peer gone, slow consumer)
//!   through [`Handback::aborted`].
//!
//! **Back-pressure per connection** (so a client that sends and never reads cannot grow the
//! server): net-in counts the requests it published and net-out the ones it answered
//! ([`ConnectionTable::in_flight`]), and net-out flags a connection whose unsent output passed its
//! cap ([`ConnectionTable::set_output_full`]). net-in stops reading a connection that is over
//! either bound ([`ConnectionTable::must_wait`]) and is handed it back through
//! [`Handback::resumed`] once it is under both again. The flag pair `reader_waiting` /
//! condition is the Dekker pattern with sequentially consistent operations on both sides, so a
//! resume is never lost: net-in raises `reader_waiting` and then re-reads the condition; net-out
//! changes the condition and then takes `reader_waiting`.

use crate::records::ConnectionToken;
use crossbeam::queue::ArrayQueue;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};

/// One connection's shared state.
#[derive(Default)]
struct Entry {
    descriptor: AtomicI32,
    /// Requests net-in published that net-out has not answered yet.
    in_flight: AtomicU32,
    /// net-out: the unsent output is over its cap.
    output_full: AtomicBool,
    /// net-in stopped reading and waits for a resume.
    reader_waiting: AtomicBool,
}

/// Connection index → socket descriptor (`-1` when the entry is free) and back-pressure state.
pub struct ConnectionTable {
    descriptors: Box<[Entry]>,
}

impl ConnectionTable {
    /// A table for `connections_max` connections.
    pub fn new(connections_max: usize) -> ConnectionTable {
        let entry = || Entry { descriptor: AtomicI32::new(-1), ..Entry::default() };
        ConnectionTable { descriptors: (0..connections_max).map(|_| entry()).collect() }
    }

    /// Entries (the most connections at once).
    pub fn len(&self) -> usize {
        self.descriptors.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.descriptors.is_empty()
    }

    /// net-in: the entry now holds `descriptor` (or `-1`).
    /// A new connection starts with nothing in flight.
    pub fn set(&self, index: u32, descriptor: RawFd) {
        let entry = &self.descriptors[index as usize];
        if descriptor >= 0 {
            entry.in_flight.store(0, Ordering::SeqCst);
            entry.output_full.store(false, Ordering::SeqCst);
            entry.reader_waiting.store(false, Ordering::SeqCst);
        }
        entry.descriptor.store(descriptor, Ordering::Release);
    }

    /// net-out: the entry's descriptor.
    pub fn get(&self, index: u32) -> RawFd {
        self.descriptors[index as usize].descriptor.load(Ordering::Acquire)
    }

    /// net-in: one more request published for the connection.
    pub fn request_published(&self, index: u32) {
        self.descriptors[index as usize].in_flight.fetch_add(1, Ordering::SeqCst);
    }

    /// net-out: one request answered; whether net-in waits for a resume that is now due.
    #[must_use = "a due resume must be handed back"]
    pub fn request_answered(&self, index: u32, in_flight_max: u32) -> bool {
        let entry = &self.descriptors[index as usize];
        let before = entry.in_flight.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(before > 0, "answered more than published");
        before <= in_flight_max && self.resume_due(entry)
    }

    /// net-out: the connection's unsent output is (or is no longer) over its cap; whether net-in
    /// waits for a resume that is now due. net-out is the flag's only writer, so an unchanged
    /// value costs one relaxed load.
    #[must_use = "a due resume must be handed back"]
    pub fn set_output_full(&self, index: u32, full: bool) -> bool {
        let entry = &self.descriptors[index as usize];
        if entry.output_full.load(Ordering::Relaxed) == full {
            return false;
        }
        entry.output_full.store(full, Ordering::SeqCst);
        !full && self.resume_due(entry)
    }

    fn resume_due(&self, entry: &Entry) -> bool {
        entry.reader_waiting.load(Ordering::SeqCst)
            && entry.reader_waiting.swap(false, Ordering::SeqCst)
    }

    /// net-in: whether to stop reading the connection (over `in_flight_max` requests or its output
    /// cap). When it says so, net-in is registered for a resume and must not read again until
    /// [`Handback::resumed`] hands the connection back.
    pub fn must_wait(&self, index: u32, in_flight_max: u32) -> bool {
        let entry = &self.descriptors[index as usize];
        let blocked = || {
            entry.in_flight.load(Ordering::SeqCst) >= in_flight_max
                || entry.output_full.load(Ordering::SeqCst)
        };
        if !blocked() {
            return false;
        }
        entry.reader_waiting.store(true, Ordering::SeqCst);
        if blocked() {
            return true;
        }
        // Unblocked meanwhile: take the registration back, unless net-out already took it (then
        // a resume is on its way and must be waited for).
        !entry.reader_waiting.swap(false, Ordering::SeqCst)
    }
}

/// The two queues from net-out back to net-in, and net-in's waker.
pub struct Handback {
    /// Connections net-out has finished with: net-in may close and reuse them.
    pub released: ArrayQueue<ConnectionToken>,
    /// Connections net-out gave up on: net-in stops reading them and publishes `Closed`.
    pub aborted: ArrayQueue<ConnectionToken>,
    /// Connections net-in stopped reading ([`ConnectionTable::must_wait`]) that may read again.
    pub resumed: ArrayQueue<ConnectionToken>,
    /// Wakes net-in's poll after pushing to either queue.
    pub net_in_waker: Arc<mio::Waker>,
}

impl Handback {
    /// Queues sized for every connection at once (so pushes never fail).
    pub fn new(connections_max: usize, net_in_waker: Arc<mio::Waker>) -> Handback {
        Handback {
            released: ArrayQueue::new(connections_max.max(1)),
            aborted: ArrayQueue::new(connections_max.max(1)),
            resumed: ArrayQueue::new(connections_max.max(1)),
            net_in_waker,
        }
    }

    /// net-out: hands a connection back.
    pub fn release(&self, token: ConnectionToken) {
        self.released.push(token).expect("one release per connection fits");
        let _ = self.net_in_waker.wake();
    }

    /// net-out: lets net-in read a connection again (at most one resume per wait, so it fits).
    pub fn resume(&self, token: ConnectionToken) {
        self.resumed.push(token).expect("one resume per waiting connection fits");
        let _ = self.net_in_waker.wake();
    }

    /// net-out: asks net-in to stop reading a connection.
    pub fn abort(&self, token: ConnectionToken) {
        // A second abort of the same connection may find the queue full of others: net-in will
        // close it through the first one anyway.
        let _ = self.aborted.push(token);
        let _ = self.net_in_waker.wake();
    }
}

/// The WebSocket timers and the per-connection output caps, shared by net-in (which reads) and
/// net-out (which writes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// net-out Pings every WebSocket connection this often, the first one this long after the
    /// upgrade (API.md §9: 60 s, never earlier).
    pub ws_ping_interval_ms: u64,
    /// net-in closes (1000) a WebSocket connection that sent no Pong for this long.
    pub ws_pong_timeout_ms: u64,
    /// At shutdown net-out sends Close 1001 and waits this long for the client's Close.
    pub ws_close_grace_ms: u64,
    /// A WebSocket subscriber whose unsent output passes this is dropped with Close 1008.
    pub ws_output_max_bytes: usize,
    /// net-in stops reading an HTTP connection whose unsent answers pass this, until they drain
    /// (a response larger than this is still sent whole).
    pub http_output_max_bytes: usize,
    /// net-in stops reading a connection with this many requests it has not been answered yet.
    pub requests_in_flight_max: u32,
    /// The kernel's send buffer of each accepted socket (`SO_SNDBUF`), 0 for the kernel's
    /// autotuning (up to `net.ipv4.tcp_wmem`'s maximum, 4 MiB on most systems). A smaller buffer
    /// bounds the kernel memory a client that does not read can hold, at some cost to throughput
    /// per connection.
    pub socket_send_buffer_bytes: u32,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        ConnectionOptions {
            ws_ping_interval_ms: 60_000,
            ws_pong_timeout_ms: 120_000,
            ws_close_grace_ms: 30_000,
            ws_output_max_bytes: 4 << 20,
            http_output_max_bytes: 256 << 10,
            requests_in_flight_max: 64,
            socket_send_buffer_bytes: 0,
        }
    }
}
