//! `Consumer`: one stage reading (and, with `Access::Write`, updating) the slots its gates have
//! passed, in batches.
//!
//! Contract: the stage asks for the exclusive end of what is available ([`Consumer::wait_for`],
//! [`Consumer::try_available`]), processes sequences `next..available_end` (the last one is its
//! `end_of_batch`), then releases them ([`Consumer::release_through`]) to the stages gated on
//! it. It may read ahead before releasing (the journal releases only after `fdatasync`), but never
//! releases past what its gates made available, and never touches a released sequence.
//! A modulo group member processes only the sequences it [`owns`](Consumer::owns) and releases
//! over all of them.

use std::sync::Arc;

use super::cursor::ExternalWaiter;
use super::wait::{gate_min, wait_until};
use super::{Access, RingBuffer, sequence_refused};

/// Everything [`super::RingBuilder::build`] decides about one consumer.
pub(super) struct ConsumerSpec<T> {
    pub(super) ring: Arc<RingBuffer<T>>,
    pub(super) cursor_index: usize,
    pub(super) gates: Box<[usize]>,
    pub(super) access: Access,
    pub(super) member: u64,
    pub(super) member_count: u64,
    pub(super) wake_check: bool,
    pub(super) external_waiter: Option<Arc<ExternalWaiter>>,
}

/// The outcome of [`Consumer::arm_external_wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExternalWait {
    /// Sequences up to this exclusive end are available: process them, do not sleep.
    Available(u64),
    /// Armed: sleep outside the ring until notified (or for any other reason), then disarm.
    Armed,
    /// The producer is gone and everything was consumed: do not sleep, shut down.
    Finished,
}

/// One consumer stage of a ring. `Send`, not `Clone`: one thread runs each stage.
pub struct Consumer<T> {
    ring: Arc<RingBuffer<T>>,
    /// This stage's cursor (index into the ring's cursors).
    cursor_index: usize,
    /// Cursor indices this stage is gated on.
    gates: Box<[usize]>,
    /// Sequences `< cursor_end` are released: this stage's cursor value.
    cursor_end: u64,
    /// Sequences `< available_end` are available: the slowest gate as last read.
    available_end: u64,
    access: Access,
    /// This stage processes sequences `≡ member (mod member_count)`; `member_count` is 1 outside
    /// modulo groups.
    member: u64,
    member_count: u64,
    /// Check for sleepers after each release.
    wake_check: bool,
    external_waiter: Option<Arc<ExternalWaiter>>,
    /// The gate cursor this stage registered an external wait on, if armed.
    external_gate: Option<usize>,
}

impl<T> Consumer<T> {
    pub(super) fn new(spec: ConsumerSpec<T>) -> Self {
        assert!(spec.member < spec.member_count);
        assert!(!spec.gates.is_empty());
        Self {
            ring: spec.ring,
            cursor_index: spec.cursor_index,
            gates: spec.gates,
            cursor_end: 0,
            available_end: 0,
            access: spec.access,
            member: spec.member,
            member_count: spec.member_count,
            wake_check: spec.wake_check,
            external_waiter: spec.external_waiter,
            external_gate: None,
        }
    }

    /// Waits (per the ring's strategy) until sequence `next` is available and returns the
    /// exclusive end of the available batch; `None` once the producer is gone and everything it
    /// published has passed this stage's gates (or once another stage panicked).
    #[inline]
    pub fn wait_for(&mut self, next: u64) -> Option<u64> {
        if let Some(available_end) = self.try_available(next) {
            return Some(available_end);
        }
        let ring = &*self.ring;
        let available_end =
            wait_until(ring.wait, &ring.cursors, &self.gates, next + 1, || ring.finished_at(next))?;
        self.available_end = available_end;
        Some(available_end)
    }

    /// The exclusive end of the available batch if sequence `next` is available, else `None`
    /// (see [`Consumer::is_finished`] to tell "not yet" from "never").
    #[inline]
    pub fn try_available(&mut self, next: u64) -> Option<u64> {
        if next < self.cursor_end {
            sequence_refused(next, "is already released");
        }
        if next < self.available_end {
            return Some(self.available_end);
        }
        let (gate_end, _) = gate_min(&self.ring.cursors, &self.gates);
        self.available_end = gate_end;
        (next < gate_end).then_some(gate_end)
    }

    /// True once the producer is gone and nothing at or after `next` will become available.
    pub fn is_finished(&self, next: u64) -> bool {
        self.ring.finished_at(next)
    }

    /// True when this stage processes `sequence`: always, except in a modulo group, where
    /// member `i` of `N` owns the sequences `≡ i (mod N)`.
    #[inline(always)]
    pub fn owns(&self, sequence: u64) -> bool {
        self.member_count == 1 || sequence % self.member_count == self.member
    }

    /// The slot of an available, unreleased `sequence` this stage owns, for reading.
    #[inline]
    pub fn slot(&self, sequence: u64) -> &T {
        self.assert_holds(sequence);
        // SAFETY: this stage holds `sequence` (asserted): its gates passed it, it has not
        // released it, and no stage may write it now (module doc, points 2 and 3). The borrow of
        // `self` ends before `release_through`, which takes `&mut self`.
        self.ring.slot_cell(sequence).with(|slot| unsafe { &*slot })
    }

    /// The slot of an available, unreleased `sequence` this stage owns, for writing; the stage
    /// must have been declared with `Access::Write`.
    #[inline]
    pub fn slot_mut(&mut self, sequence: u64) -> &mut T {
        assert_eq!(self.access, Access::Write, "slot_mut on a read-only stage");
        self.assert_holds(sequence);
        // SAFETY: as in `slot`, and `RingBuilder::build` checked that every other stage is
        // upstream of this one (done with `sequence`) or downstream (cannot reach it before we
        // release it), except modulo siblings, which never hold the sequences this member owns.
        // `&mut self` keeps this reference unique among the stage's own borrows.
        self.ring.slot_cell(sequence).with_mut(|slot| unsafe { &mut *slot })
    }

    #[inline(always)]
    fn assert_holds(&self, sequence: u64) {
        if sequence < self.cursor_end {
            sequence_refused(sequence, "is already released");
        }
        if sequence >= self.available_end {
            sequence_refused(sequence, "is not available");
        }
        if !self.owns(sequence) {
            sequence_refused(sequence, "belongs to another modulo member");
        }
    }

    /// Releases every sequence up to and including `sequence` to the stages gated on this one.
    #[inline]
    pub fn release_through(&mut self, sequence: u64) {
        self.set_cursor(sequence + 1);
    }

    /// Moves this stage's cursor to `cursor_end` (exclusive); it may not move back, nor past
    /// what the gates made available.
    #[inline]
    pub fn set_cursor(&mut self, cursor_end: u64) {
        if cursor_end < self.cursor_end {
            sequence_refused(cursor_end, "is behind the cursor: a cursor never moves back");
        }
        if cursor_end > self.available_end {
            sequence_refused(
                cursor_end,
                "is past the available end: release of unavailable sequence",
            );
        }
        if cursor_end == self.cursor_end {
            return;
        }
        self.cursor_end = cursor_end;
        let cursor = &self.ring.cursors[self.cursor_index];
        cursor.store(cursor_end);
        if self.wake_check {
            cursor.wake_waiters(&self.ring.external_waiters[self.cursor_index]);
        }
    }

    /// This stage's cursor: sequences below it are released.
    pub fn cursor_end(&self) -> u64 {
        self.cursor_end
    }

    /// Prepares to sleep outside the ring (e.g. in `epoll_wait`) until `next` is available.
    /// On [`ExternalWait::Armed`] the stage may sleep: the next move of the blocking gate cursor,
    /// or the producer closing, calls its [`super::Notify`] once; after waking, call
    /// [`Consumer::disarm_external_wait`]. On the other outcomes it must not sleep. Needs
    /// [`super::RingBuilder::notify_with`].
    pub fn arm_external_wait(&mut self, next: u64) -> ExternalWait {
        assert!(self.external_gate.is_none(), "external wait already armed");
        if let Some(available_end) = self.try_available(next) {
            return ExternalWait::Available(available_end);
        }
        let waiter = self.external_waiter.as_ref().expect("stage has no Notify");
        let (_, slowest) = gate_min(&self.ring.cursors, &self.gates);
        waiter.arm();
        self.ring.cursors[slowest].register_external();
        self.external_gate = Some(slowest);
        // Re-check after registering (Dekker, see cursor.rs): a publish or close before this
        // point is seen here; one after it sees the registration and notifies.
        if let Some(available_end) = self.try_available(next) {
            self.disarm_external_wait();
            return ExternalWait::Available(available_end);
        }
        if self.is_finished(next) {
            self.disarm_external_wait();
            return ExternalWait::Finished;
        }
        ExternalWait::Armed
    }

    /// Ends an external wait armed by [`Consumer::arm_external_wait`]; a no-op if none is armed.
    pub fn disarm_external_wait(&mut self) {
        if let Some(gate) = self.external_gate.take() {
            self.ring.cursors[gate].unregister_external();
            self.external_waiter.as_ref().expect("armed without a waiter").disarm();
        }
    }
}

impl<T> Drop for Consumer<T> {
    /// A stage that dies by panicking poisons the ring, so the other stages stop instead of
    /// waiting forever for its cursor.
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.ring.shut_down(super::SHUTDOWN_PANICKED);
        }
    }
}

impl<T> std::fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("cursor_index", &self.cursor_index)
            .field("cursor_end", &self.cursor_end)
            .field("available_end", &self.available_end)
            .field("access", &self.access)
            .field("member", &self.member)
            .field("member_count", &self.member_count)
            .finish_non_exhaustive()
    }
}
