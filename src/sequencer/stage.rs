//! The sequencer thread: ring A (after every verifier) → ring B. After each ring batch it
//! publishes its per-key rate-limit count to [`Metrics`] (one relaxed store).

use super::Sequencer;
use crate::clock;
use crate::metrics::Metrics;
use crate::records::{RequestSlot, SequencedSlot, Verdict};
use crate::ring::{BatchPublisher, Consumer};
use std::sync::Arc;

/// Runs the sequencer until ring A closes; ring B closes when it returns (after passing
/// `Shutdown` on). `engine_clock` gives Unix µs (the wall clock, but for determinism tests).
pub fn run(
    mut input: Consumer<RequestSlot>,
    mut output: BatchPublisher<SequencedSlot>,
    mut sequencer: Sequencer,
    engine_clock: fn() -> u64,
    metrics: Arc<Metrics>,
) {
    let mut next = 0u64;
    while let Some(available_end) = input.wait_for(next) {
        let now_us = engine_clock();
        for sequence in next..available_end {
            let slot = input.slot(sequence);
            debug_assert!(slot.verdict != Verdict::Pending, "gated on the verifiers");
            sequencer.sequence(slot, now_us, |mut record| {
                record.reply.times.sequenced_ns = clock::monotonic_ns(); // tidy: latency stamp
                output.push(record);
            });
        }
        output.flush();
        metrics.sequencer.key_rate_limited.set(sequencer.key_rate_limited());
        input.release_through(available_end - 1);
        next = available_end;
    }
}
