//! The matcher thread: ring B → [`Matcher`] → ring C.
//!
//! **Reads** ring B (gated on the sequencer). **Writes** ring C: each command's events, then one
//! `Done` record per request carrying the reply, so net-out answers with everything in hand.
//! Reads, rejections and closes pass through as `Done` records in order. Also marks each ring B
//! slot `applied` when its command changed state: the journal thread, gated on the matcher, keeps
//! only those, so a rejected command leaves nothing in the journal. **Owns** the [`Matcher`].
//! Matching never waits for the disk: net-out holds answers back until the journal is durable.

use super::Matcher;
use crate::clock;
use crate::event::{Event, EventKind, EventSink};
use crate::records::{Outcome, Output, OutputSlot, SequencedSlot, Work};
use crate::ring::{BatchPublisher, Consumer};
use crate::types::SequenceNumber;

/// Publishes events into ring C as the matcher emits them, noting a rejection.
struct RingSink<'p> {
    publisher: &'p mut BatchPublisher<OutputSlot>,
    watermark: SequenceNumber,
    rejected: bool,
}

impl EventSink for RingSink<'_> {
    #[inline]
    fn push(&mut self, event: Event) {
        self.rejected |= matches!(event.kind, EventKind::Rejected { .. });
        let slot = OutputSlot { watermark: self.watermark, output: Output::Event(event) };
        self.publisher.push(slot);
    }
}

/// Runs the matcher thread until `Shutdown` (or ring B closes); ring C closes when it returns.
pub fn run(
    mut input: Consumer<SequencedSlot>,
    mut output: BatchPublisher<OutputSlot>,
    mut matcher: Matcher,
) -> Matcher {
    let mut next = 0u64;
    while let Some(available_end) = input.wait_for(next) {
        for sequence in next..available_end {
            // Read in place (a copy of the whole slot would also copy the journal's signature
            // data, which the matcher never reads).
            let slot = input.slot(sequence);
            let watermark = slot.watermark;
            let mut applied = false;
            let outcome = match &slot.work {
                Work::Command(command) => {
                    let mut sink = RingSink { publisher: &mut output, watermark, rejected: false };
                    matcher.apply(command, &mut sink);
                    applied = command.sequence.0 != 0 && !sink.rejected;
                    Outcome::Command { sequence: command.sequence, account: command.account }
                }
                Work::Read { account, query } => Outcome::Read { account: *account, query: *query },
                Work::Reject(error) => Outcome::Reject(*error),
                Work::Close => Outcome::Close,
                Work::Shutdown => Outcome::Shutdown,
            };
            let mut reply = slot.reply;
            reply.times.matched_ns = clock::monotonic_ns();
            let done = Output::Done { reply, outcome, extras: slot.extras };
            output.push(OutputSlot { watermark, output: done });
            input.slot_mut(sequence).applied = applied;
        }
        // end_of_batch: one publish for everything this batch produced.
        output.flush();
        input.release_through(available_end - 1);
        next = available_end;
    }
    matcher
}
