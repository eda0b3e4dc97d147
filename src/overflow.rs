//! Buffers for requests whose target and body do not fit a ring A slot inline.
//!
//! Most requests (every single order, cancel and query) fit the slot's inline bytes; a large batch
//! or a long query borrows one of a few preallocated buffers instead. Ownership follows the ring:
//! net-in fills a free buffer, attaches its index to the slot and publishes; verify reads it while
//! it owns the slot; once the sequencer's cursor has passed the slot, net-in takes the buffer back.
//! Hand-written (an `UnsafeCell` per buffer) because that ownership is the ring's, which the type
//! system cannot see.

use crate::constants::{REQUEST_BODY_MAX, REQUEST_OVERFLOW_BUFFERS, REQUEST_TARGET_MAX};
use std::cell::UnsafeCell;

/// Bytes of one overflow buffer: the largest target plus the largest body.
pub const OVERFLOW_BUFFER_BYTES: usize = REQUEST_TARGET_MAX + REQUEST_BODY_MAX;

/// The shared buffers.
pub struct OverflowPool {
    buffers: Box<[UnsafeCell<Box<[u8]>>]>,
}

// SAFETY: a buffer is accessed by one thread at a time, as handed over along ring A (see the
// module doc): net-in writes it before publishing the slot, verify reads it after the slot is
// published and before it releases it, and net-in writes it again only after the sequencer's
// cursor (which follows every verifier) has passed the slot. The ring's release/acquire ordering
// on those cursors orders the accesses.
unsafe impl Sync for OverflowPool {}

impl Default for OverflowPool {
    fn default() -> Self {
        OverflowPool::with_buffers(REQUEST_OVERFLOW_BUFFERS)
    }
}

impl OverflowPool {
    /// Allocates `count` buffers.
    pub fn with_buffers(count: usize) -> OverflowPool {
        let buffers = (0..count)
            .map(|_| UnsafeCell::new(vec![0u8; OVERFLOW_BUFFER_BYTES].into_boxed_slice()))
            .collect();
        OverflowPool { buffers }
    }

    /// Number of buffers.
    pub fn len(&self) -> usize {
        self.buffers.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.buffers.is_empty()
    }

    /// Buffer `index` for writing.
    ///
    /// # Safety
    /// The caller is net-in and owns the buffer: it is not attached to any ring A slot the
    /// sequencer has not yet passed.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn buffer_mut(&self, index: u32) -> &mut [u8] {
        // SAFETY: exclusive access per the caller's contract.
        unsafe { &mut *self.buffers[index as usize].get() }
    }

    /// Buffer `index` for reading.
    ///
    /// # Safety
    /// The caller owns (or follows, in the ring's order) a published ring A slot the buffer is
    /// attached to, and the sequencer has not passed that slot.
    pub unsafe fn buffer(&self, index: u32) -> &[u8] {
        // SAFETY: no writer while the slot is in flight, per the caller's contract.
        unsafe { &*self.buffers[index as usize].get() }
    }
}
