//! A verify thread's work: its share of ring A, verdicts written in place and published a
//! budgeted stretch at a time (`budget.rs`).
//!
//! [`VerifyStage::run`] is a thread of its own (the `split` layout, and the helper verifiers of
//! `fused`); [`VerifyStage::poll`] is one stretch without waiting, for a thread that calls the
//! sequencer and the matcher in turn after it (`pipeline/fused.rs`).

use super::budget::{BatchBudget, stretches};
use super::{SlotAccess, Verifier};
use crate::overflow::OverflowPool;
use crate::records::RequestSlot;
use crate::ring::{Consumer, ExternalWait, Poll};
use std::sync::Arc;

/// This verifier's slots of one ring batch, handed out one at a time.
struct OwnedSlots<'c> {
    consumer: &'c mut Consumer<RequestSlot>,
    sequences: &'c [u64],
}

impl SlotAccess for OwnedSlots<'_> {
    fn count(&self) -> usize {
        self.sequences.len()
    }
    fn slot(&mut self, index: usize) -> &mut RequestSlot {
        self.consumer.slot_mut(self.sequences[index])
    }
}

/// One verifier (a member of ring A's modulo group) and where it is.
pub struct VerifyStage {
    input: Consumer<RequestSlot>,
    verifier: Verifier,
    overflow: Arc<OverflowPool>,
    /// Unix µs: the wall clock, but for tests that place a request at an exact instant of its
    /// window.
    clock_us: fn() -> u64,
    budget: BatchBudget,
    /// The sequences this member owns in the batch at hand (preallocated to ring A's size).
    owned: Vec<u64>,
    next: u64,
}

impl VerifyStage {
    /// A verifier reading `input`.
    pub fn new(
        input: Consumer<RequestSlot>,
        verifier: Verifier,
        overflow: Arc<OverflowPool>,
        clock_us: fn() -> u64,
        budget: BatchBudget,
    ) -> VerifyStage {
        let owned = Vec::with_capacity(crate::constants::RING_A_SLOTS);
        VerifyStage { input, verifier, overflow, clock_us, budget, owned, next: 0 }
    }

    /// Runs until ring A closes: each ring batch is verified in the stretches the budget
    /// allows, each published (released to the sequencer) before the next is verified.
    pub fn run(mut self) {
        while let Some(available_end) = self.input.wait_for(self.next) {
            self.collect_owned(available_end);
            let mut released = false;
            let Self { input, verifier, overflow, clock_us, budget, owned, .. } = &mut self;
            for (positions, through) in stretches(owned, available_end, budget) {
                let stretch = Stretch { sequences: &owned[positions], through };
                stretch.verify_and_release(input, verifier, overflow, *clock_us);
                released = true;
            }
            if !released {
                self.input.release_through(available_end - 1);
            }
            self.next = available_end;
        }
    }

    /// Verifies and publishes the first budgeted stretch of what is available, without waiting.
    pub fn poll(&mut self) -> Poll {
        let Some(available_end) = self.input.try_available(self.next) else {
            return self.idle_or_finished();
        };
        self.collect_owned(available_end);
        let Self { input, verifier, overflow, clock_us, budget, owned, .. } = self;
        let through = match stretches(owned, available_end, budget).next() {
            Some((positions, through)) => {
                let stretch = Stretch { sequences: &owned[positions], through };
                stretch.verify_and_release(input, verifier, overflow, *clock_us);
                through
            }
            None => {
                input.release_through(available_end - 1);
                available_end - 1
            }
        };
        self.next = through + 1;
        Poll::Worked
    }

    /// Waits (per ring A's strategy) until something is available to this verifier.
    pub fn wait(&mut self) {
        let _ = self.input.wait_for(self.next);
    }

    /// Prepares to sleep outside the ring (in net-out's poll, `fused` layout) until a request
    /// arrives: true when armed (sleep, then [`VerifyStage::disarm_external_wait`]), false when
    /// one is already there or ring A is closed (do not sleep).
    pub fn arm_external_wait(&mut self) -> bool {
        self.input.arm_external_wait(self.next) == ExternalWait::Armed
    }

    /// Ends what [`VerifyStage::arm_external_wait`] armed (a no-op if nothing is).
    pub fn disarm_external_wait(&mut self) {
        self.input.disarm_external_wait();
    }

    /// Sequences below this are verified and published.
    pub fn released_end(&self) -> u64 {
        self.input.cursor_end()
    }

    fn idle_or_finished(&self) -> Poll {
        if self.input.is_finished(self.next) { Poll::Finished } else { Poll::Idle }
    }

    fn collect_owned(&mut self, available_end: u64) {
        let input = &self.input;
        self.owned.clear();
        self.owned.extend((self.next..available_end).filter(|&sequence| input.owns(sequence)));
    }
}

/// Requests a verifier checks together, and the sequence it then releases through.
struct Stretch<'o> {
    sequences: &'o [u64],
    through: u64,
}

impl Stretch<'_> {
    fn verify_and_release(
        self,
        input: &mut Consumer<RequestSlot>,
        verifier: &mut Verifier,
        overflow: &OverflowPool,
        clock_us: fn() -> u64,
    ) {
        let now_ms = clock_us() / 1000;
        let mut slots = OwnedSlots { consumer: input, sequences: self.sequences };
        verifier.verify(&mut slots, overflow, now_ms);
        input.release_through(self.through);
    }
}
