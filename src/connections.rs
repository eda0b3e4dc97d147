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

use crate::records::ConnectionToken;
use crossbeam::queue::ArrayQueue;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

/// Connection index → socket descriptor (`-1` when the entry is free).
pub struct ConnectionTable {
    descriptors: Box<[AtomicI32]>,
}

impl ConnectionTable {
    /// A table for `connections_max` connections.
    pub fn new(connections_max: usize) -> ConnectionTable {
        ConnectionTable { descriptors: (0..connections_max).map(|_| AtomicI32::new(-1)).collect() }
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
    pub fn set(&self, index: u32, descriptor: RawFd) {
        self.descriptors[index as usize].store(descriptor, Ordering::Release);
    }

    /// net-out: the entry's descriptor.
    pub fn get(&self, index: u32) -> RawFd {
        self.descriptors[index as usize].load(Ordering::Acquire)
    }
}

/// The two queues from net-out back to net-in, and net-in's waker.
pub struct Handback {
    /// Connections net-out has finished with: net-in may close and reuse them.
    pub released: ArrayQueue<ConnectionToken>,
    /// Connections net-out gave up on: net-in stops reading them and publishes `Closed`.
    pub aborted: ArrayQueue<ConnectionToken>,
    /// Wakes net-in's poll after pushing to either queue.
    pub net_in_waker: Arc<mio::Waker>,
}

impl Handback {
    /// Queues sized for every connection at once (so pushes never fail).
    pub fn new(connections_max: usize, net_in_waker: Arc<mio::Waker>) -> Handback {
        Handback {
            released: ArrayQueue::new(connections_max.max(1)),
            aborted: ArrayQueue::new(connections_max.max(1)),
            net_in_waker,
        }
    }

    /// net-out: hands a connection back.
    pub fn release(&self, token: ConnectionToken) {
        self.released.push(token).expect("one release per connection fits");
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
