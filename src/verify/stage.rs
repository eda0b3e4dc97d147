//! A verify thread: its share of ring A, verdicts written in place and published a budgeted
//! stretch at a time (`budget.rs`).

use super::budget::{BatchBudget, stretches};
use super::{SlotAccess, Verifier};
use crate::overflow::OverflowPool;
use crate::records::RequestSlot;
use crate::ring::Consumer;

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

/// Runs a verify thread until ring A closes. `clock_us` gives Unix µs (the wall clock, but for
/// tests that place a request at an exact instant of its window). Each ring batch is verified
/// in the stretches `budget` allows, each published (released to the sequencer) before the
/// next is verified.
pub fn run(
    mut input: Consumer<RequestSlot>,
    mut verifier: Verifier,
    overflow: &OverflowPool,
    clock_us: fn() -> u64,
    budget: BatchBudget,
) {
    let mut owned: Vec<u64> = Vec::with_capacity(crate::constants::RING_A_SLOTS);
    let mut next = 0u64;
    while let Some(available_end) = input.wait_for(next) {
        owned.clear();
        owned.extend((next..available_end).filter(|&sequence| input.owns(sequence)));
        for (positions, through) in stretches(&owned, available_end, &budget) {
            let now_ms = clock_us() / 1000;
            let mut slots = OwnedSlots { consumer: &mut input, sequences: &owned[positions] };
            verifier.verify(&mut slots, overflow, now_ms);
            input.release_through(through);
        }
        if owned.is_empty() {
            input.release_through(available_end - 1);
        }
        next = available_end;
    }
}
