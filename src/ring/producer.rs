//! `Producer`: the single thread that claims slots, writes them and publishes them.
//!
//! Contract: sequences are claimed in order, written through [`Producer::slot_mut`] while claimed
//! and unpublished, and published in order (asserted). The producer is gated on the ring's last
//! consumers and caches the slowest gate value, so a claim reads shared cursors only when the
//! cached value says the ring may be full. Dropping the producer closes the ring.

use std::ops::Range;
use std::sync::Arc;

use super::wait::{gate_min, wait_until};
use super::{RingBuffer, sequence_refused};

/// How far ahead of the slot it writes the producer prefetches (for writing), in bytes.
// NB: the cache line of a slot is last held by the consumer that read it a lap ago; fetching it
// for writing before the producer stores into it overlaps that cross-core transfer with the
// work on earlier slots. 1 KiB (16 slots of 64 bytes) was the best of 4, 8 and 16 slots and
// multiplied single-publish throughput several times (benches/ring.rs, benches/README.md).
const PREFETCH_AHEAD_BYTES: usize = 1024;

/// The single producer of a ring. `Send`, not `Clone`: exactly one thread publishes.
pub struct Producer<T> {
    ring: Arc<RingBuffer<T>>,
    /// Cursor indices of the last consumers.
    gates: Box<[usize]>,
    /// Sequences `< claim_end` are claimed; the next claim returns `claim_end`.
    claim_end: u64,
    /// Sequences `< published_end` are published: this producer's cursor value.
    // NB: kept here rather than read back from the cursor: consumers spin on the cursor's line,
    // and reading it back per publish cost several times the throughput (benches/ring.rs).
    published_end: u64,
    /// Sequences `< free_end` are free to claim, from the slowest gate as last read plus
    /// `slot_count`; stale by design (the real value can only be larger).
    free_end: u64,
    /// Check for sleepers after each publish (the ring's strategy parks, or a consumer waits
    /// externally on the producer's cursor).
    wake_check: bool,
}

impl<T> Producer<T> {
    /// Slots between the one being written and the one prefetched (at least 1).
    const PREFETCH_AHEAD_SLOTS: u64 = match PREFETCH_AHEAD_BYTES.checked_div(size_of::<T>()) {
        Some(0) | None => 1,
        Some(slots) => slots as u64,
    };

    pub(super) fn new(ring: Arc<RingBuffer<T>>, gates: Box<[usize]>, wake_check: bool) -> Self {
        assert!(!gates.is_empty());
        let free_end = ring.slot_count() as u64;
        Self { ring, gates, claim_end: 0, published_end: 0, free_end, wake_check }
    }

    /// Number of slots in the ring.
    pub fn slot_count(&self) -> usize {
        self.ring.slot_count()
    }

    /// Exclusive end of the published sequences (this producer's cursor).
    #[inline(always)]
    pub fn published_end(&self) -> u64 {
        self.published_end
    }

    /// Claims the next sequence, waiting (per the ring's strategy) while the ring is full.
    #[inline]
    pub fn claim(&mut self) -> u64 {
        let sequence = self.claim_end;
        if sequence >= self.free_end {
            self.wait_for_free(sequence + 1);
        }
        self.claim_end = sequence + 1;
        sequence
    }

    /// Claims the next sequence, or returns `None` at once when the ring is full (net-in then
    /// stops reading sockets: back-pressure instead of blocking).
    #[inline]
    pub fn try_claim(&mut self) -> Option<u64> {
        if !self.has_free() {
            return None;
        }
        let sequence = self.claim_end;
        self.claim_end = sequence + 1;
        Some(sequence)
    }

    /// Whether the next claim finds a free slot without waiting (re-reads the gates only when
    /// the cached value says the ring may be full).
    #[inline]
    pub fn has_free(&mut self) -> bool {
        self.claim_end < self.free_end || self.claim_end < self.refresh_free_end()
    }

    /// Whether the next `count` claims find free slots without waiting.
    #[inline]
    pub fn has_free_for(&mut self, count: u64) -> bool {
        let end_needed = self.claim_end + count;
        end_needed <= self.free_end || end_needed <= self.refresh_free_end()
    }

    /// Waits (per the ring's strategy) until the next `count` claims find free slots; `count`
    /// may not exceed the ring.
    pub fn wait_for_free_count(&mut self, count: u64) {
        assert!(count <= self.ring.slot_count() as u64, "more than the ring holds");
        if !self.has_free_for(count) {
            self.wait_for_free(self.claim_end + count);
        }
    }

    /// Claims between 1 and `count_max` contiguous sequences, as many as are free, waiting while
    /// none is. It never waits for the whole batch: a consumer that releases only after reading
    /// further (the journal releases after `fdatasync`) would deadlock with a producer that did.
    #[inline]
    pub fn claim_batch(&mut self, count_max: usize) -> Range<u64> {
        let start = self.claim_end;
        let end_wanted = start + self.batch_count(count_max);
        if end_wanted > self.free_end && start >= self.refresh_free_end() {
            self.wait_for_free(start + 1);
        }
        let end = end_wanted.min(self.free_end);
        self.claim_end = end;
        start..end
    }

    /// Claims between 1 and `count_max` contiguous sequences, as many as are free, or returns
    /// `None` at once when none is.
    #[inline]
    pub fn try_claim_batch(&mut self, count_max: usize) -> Option<Range<u64>> {
        let start = self.claim_end;
        let end_wanted = start + self.batch_count(count_max);
        if end_wanted > self.free_end && start >= self.refresh_free_end() {
            return None;
        }
        let end = end_wanted.min(self.free_end);
        self.claim_end = end;
        Some(start..end)
    }

    /// The slot of a claimed, unpublished `sequence`, for writing.
    #[inline]
    pub fn slot_mut(&mut self, sequence: u64) -> &mut T {
        self.assert_claimed(sequence);
        let ahead = sequence + Self::PREFETCH_AHEAD_SLOTS;
        // Only slots every consumer is done with: prefetching a slot still being read would
        // take its line away from the reader.
        if ahead < self.free_end {
            self.ring.prefetch_for_write(ahead);
        }
        // SAFETY: `sequence` is claimed and unpublished, so no consumer may touch its slot
        // (module doc, point 2), and the `&mut self` borrow ends before `publish`.
        self.ring.slot_cell(sequence).with_mut(|slot| unsafe { &mut *slot })
    }

    /// Publishes `sequence`, which must be the next unpublished one (publishes are contiguous).
    #[inline]
    pub fn publish(&mut self, sequence: u64) {
        if sequence != self.published_end() {
            sequence_refused(sequence, "is published out of order");
        }
        if sequence >= self.claim_end {
            sequence_refused(sequence, "is not claimed");
        }
        self.store_published_end(sequence + 1);
    }

    /// Publishes every claimed sequence up to and including `sequence` with one store.
    #[inline]
    pub fn publish_through(&mut self, sequence: u64) {
        self.assert_claimed(sequence);
        self.store_published_end(sequence + 1);
    }

    /// Asserts that `sequence` is claimed and unpublished.
    #[inline(always)]
    fn assert_claimed(&self, sequence: u64) {
        if sequence < self.published_end() {
            sequence_refused(sequence, "is already published");
        }
        if sequence >= self.claim_end {
            sequence_refused(sequence, "is not claimed");
        }
    }

    #[inline(always)]
    fn store_published_end(&mut self, published_end: u64) {
        self.published_end = published_end;
        let cursor = &self.ring.cursors[0];
        cursor.store(published_end);
        if self.wake_check {
            cursor.wake_waiters(&self.ring.external_waiters[0]);
        }
    }

    #[inline(always)]
    fn batch_count(&self, count_max: usize) -> u64 {
        assert!(count_max >= 1, "a batch claims at least one slot");
        count_max.min(self.ring.slot_count()) as u64
    }

    /// Exclusive end of the sequences every consumer has released (the slowest gate, read now):
    /// data the producer attached to slots before this point is no longer in use.
    pub fn gate_end(&mut self) -> u64 {
        self.refresh_free_end() - self.ring.slot_count() as u64
    }

    /// Re-reads the gates; returns the new `free_end`.
    #[inline]
    fn refresh_free_end(&mut self) -> u64 {
        let (gate_end, _) = gate_min(&self.ring.cursors, &self.gates);
        self.free_end = gate_end + self.ring.slot_count() as u64;
        self.free_end
    }

    /// Waits until `free_end >= free_end_needed`.
    #[cold]
    #[inline(never)]
    fn wait_for_free(&mut self, free_end_needed: u64) {
        if self.refresh_free_end() >= free_end_needed {
            return;
        }
        let slot_count = self.ring.slot_count() as u64;
        let gate_end = wait_until(
            self.ring.wait,
            &self.ring.cursors,
            &self.gates,
            free_end_needed - slot_count,
            || self.ring.panicked(),
        )
        .expect("a consumer stage of this ring panicked");
        self.free_end = gate_end + slot_count;
    }
}

/// A producer that publishes in batches: [`BatchPublisher::push`] claims and writes one slot,
/// [`BatchPublisher::flush`] publishes everything pushed with one store (a stage calls it at its
/// `end_of_batch`). So that a long batch never holds the ring full of unpublished slots (which its
/// consumers could not drain), it also publishes by itself every quarter of the ring.
pub struct BatchPublisher<T> {
    producer: Producer<T>,
    unpublished: u64,
    flush_every: u64,
}

impl<T> BatchPublisher<T> {
    /// Wraps `producer`.
    pub fn new(producer: Producer<T>) -> Self {
        let flush_every = (producer.slot_count() as u64 / 4).max(1);
        Self { producer, unpublished: 0, flush_every }
    }

    /// Claims the next slot (waiting while the ring is full) and writes `value` into it.
    #[inline]
    pub fn push(&mut self, value: T) {
        if self.unpublished >= self.flush_every {
            self.flush();
        }
        let sequence = self.producer.claim();
        *self.producer.slot_mut(sequence) = value;
        self.unpublished += 1;
    }

    /// Publishes everything pushed so far.
    #[inline]
    pub fn flush(&mut self) {
        if self.unpublished > 0 {
            let last = self.producer.published_end() + self.unpublished - 1;
            self.producer.publish_through(last);
            self.unpublished = 0;
        }
    }

    /// Whether the next [`BatchPublisher::push`] finds a free slot without waiting.
    #[inline]
    pub fn has_room(&mut self) -> bool {
        self.producer.has_free()
    }

    /// Whether the next `count` pushes find free slots without waiting.
    #[inline]
    pub fn has_room_for(&mut self, count: u64) -> bool {
        self.producer.has_free_for(count)
    }

    /// Publishes what is pushed, then waits until the next `count` pushes find free slots.
    pub fn wait_for_room(&mut self, count: u64) {
        self.flush();
        self.producer.wait_for_free_count(count);
    }

    /// The wrapped producer (for `gate_end` and such).
    pub fn producer(&mut self) -> &mut Producer<T> {
        &mut self.producer
    }
}

impl<T> Drop for BatchPublisher<T> {
    /// Publishes what is pending before the ring closes.
    fn drop(&mut self) {
        self.flush();
    }
}

impl<T> Drop for Producer<T> {
    /// Closes the ring: consumers drain what was published, then see the end. Claimed but
    /// unpublished sequences are abandoned.
    fn drop(&mut self) {
        self.ring.shut_down(super::SHUTDOWN_CLOSED);
    }
}

impl<T> std::fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("claim_end", &self.claim_end)
            .field("published_end", &self.published_end())
            .field("free_end", &self.free_end)
            .finish_non_exhaustive()
    }
}
