//! The sequencer's work: ring A (after every verifier) → ring B. After each batch it publishes
//! its per-key rate-limit count to [`Metrics`] (one relaxed store).
//!
//! [`SequencerStage::run`] is a thread of its own; [`SequencerStage::poll`] sequences what is
//! verified without waiting, for a thread that also runs the matcher (`pipeline/fused.rs`).
//! There it never waits for room on ring B: the room it would wait for is freed by the matcher
//! on the same thread, so it sequences a request only once ring B holds all its records.

use super::Sequencer;
use crate::clock;
use crate::metrics::Metrics;
use crate::records::{RequestSlot, SequencedSlot, Verdict};
use crate::ring::{BatchPublisher, Consumer, Poll};
use std::sync::Arc;

/// The sequencer and its two rings.
pub struct SequencerStage {
    input: Consumer<RequestSlot>,
    output: BatchPublisher<SequencedSlot>,
    sequencer: Sequencer,
    /// Unix µs: the wall clock, but for determinism tests.
    engine_clock: fn() -> u64,
    metrics: Arc<Metrics>,
    next: u64,
}

impl SequencerStage {
    /// A sequencer reading `input` (gated on every verifier) and writing `output`.
    pub fn new(
        input: Consumer<RequestSlot>,
        output: BatchPublisher<SequencedSlot>,
        sequencer: Sequencer,
        engine_clock: fn() -> u64,
        metrics: Arc<Metrics>,
    ) -> SequencerStage {
        SequencerStage { input, output, sequencer, engine_clock, metrics, next: 0 }
    }

    /// Runs until ring A closes; ring B closes when it returns (after passing `Shutdown` on).
    pub fn run(mut self) {
        while let Some(available_end) = self.input.wait_for(self.next) {
            self.sequence_until(available_end);
        }
    }

    /// Sequences what is verified, as far as ring B has room, without waiting.
    pub fn poll(&mut self) -> Poll {
        let Some(available_end) = self.input.try_available(self.next) else {
            return if self.input.is_finished(self.next) { Poll::Finished } else { Poll::Idle };
        };
        let (mut end, mut records) = (self.next, 0);
        while end < available_end {
            records += records_max(self.input.slot(end));
            if !self.output.has_room_for(records) {
                break;
            }
            end += 1;
        }
        if end == self.next {
            return Poll::Blocked;
        }
        self.sequence_until(end);
        Poll::Worked
    }

    /// Waits (per ring A's strategy) until a request is verified.
    pub fn wait_for_input(&mut self) {
        let _ = self.input.wait_for(self.next);
    }

    /// Waits (per ring B's strategy) until ring B has room for the next request's records.
    pub fn wait_for_room(&mut self) {
        if self.input.try_available(self.next).is_some() {
            let needed = records_max(self.input.slot(self.next));
            self.output.wait_for_room(needed);
        }
    }

    /// Requests below this are sequenced.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Sequences `self.next..end` (available), publishes them, releases them on ring A.
    fn sequence_until(&mut self, end: u64) {
        let now_us = (self.engine_clock)();
        for sequence in self.next..end {
            let slot = self.input.slot(sequence);
            debug_assert!(slot.verdict != Verdict::Pending, "gated on the verifiers");
            let output = &mut self.output;
            self.sequencer.sequence(slot, now_us, |mut record| {
                record.reply.times.sequenced_ns = clock::monotonic_ns(); // tidy: latency stamp
                output.push(record);
            });
        }
        self.output.flush();
        self.metrics.sequencer.key_rate_limited.set(self.sequencer.key_rate_limited());
        self.input.release_through(end - 1);
        self.next = end;
    }
}

/// The most ring B records one request becomes: one per item of a batch or action of a
/// WebSocket frame, one for anything else (a rejection included).
fn records_max(slot: &RequestSlot) -> u64 {
    match slot.verdict {
        Verdict::Commands { count } => u64::from(count).max(1),
        Verdict::StreamActions { count } => u64::from(count).max(1),
        _ => 1,
    }
}
