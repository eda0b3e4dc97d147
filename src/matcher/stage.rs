//! The matcher's work: ring B → [`Matcher`] → ring C. [`MatcherStage::run`] is a thread of its
//! own; [`MatcherStage::poll`] applies what is sequenced without waiting for input, for a
//! thread that also verifies and sequences (`pipeline/fused.rs`).
//!
//! **Reads** ring B (gated on the sequencer). **Writes** ring C: each command's events, then one
//! `Done` record per request carrying the reply, so net-out answers with everything in hand.
//! Reads, rejections and closes pass through as `Done` records in order. Also marks each ring B
//! slot `applied` when its command changed state: the journal thread, gated on the matcher, keeps
//! only those, so a rejected command, or one that emitted no event (a cancel-all of nothing),
//! leaves nothing in the journal. **Owns** the [`Matcher`].
//! Matching never waits for the disk: net-out holds answers back until the journal is durable.
//!
//! Invariant: the matcher never waits for room on ring C while holding back on ring B a command
//! it has finished (or one certain to apply). Net-out releases ring C only once the journal is
//! durable past a slot's watermark, and the journal reads only what the matcher has released on
//! ring B; so before waiting for ring C the matcher releases everything it can
//! ([`RingSink::make_room`]), or one batch with more output than ring C holds would stop all
//! three for good.

use super::Matcher;
use crate::clock;
use crate::event::{Event, EventKind, EventSink};
use crate::records::{Outcome, Output, OutputSlot, SequencedSlot, Work};
use crate::ring::{BatchPublisher, Consumer, Poll};
use crate::types::SequenceNumber;

/// Publishes events into ring C as the matcher emits them, noting a rejection.
struct RingSink<'p> {
    publisher: &'p mut BatchPublisher<OutputSlot>,
    input: &'p mut Consumer<SequencedSlot>,
    /// The ring B sequence of the command being applied.
    sequence: u64,
    /// Whether the command is journaled when it applies (it has a sequence number).
    journaled: bool,
    watermark: SequenceNumber,
    rejected: bool,
    /// Whether any event was pushed for the command.
    emitted: bool,
}

impl EventSink for RingSink<'_> {
    // NB: inlined into each emit site so the event is stored from values into its ring slot. Out
    // of line, it copied each event from the caller's stack with wide loads of fields stored
    // one by one just before (store-forwarding failures), then again into the slot.
    #[inline(always)]
    fn push(&mut self, event: Event) {
        let rejection = matches!(event.kind, EventKind::Rejected { .. });
        debug_assert!(!(rejection && self.emitted), "a rejection is a command's only event");
        self.rejected |= rejection;
        if !self.publisher.has_room() {
            self.make_room();
        }
        let slot = OutputSlot { watermark: self.watermark, output: Output::Event(event) };
        self.publisher.push(slot);
        self.emitted = true;
    }
}

impl RingSink<'_> {
    /// Ring C is full: releases on ring B everything before this command, and the command
    /// itself once it has emitted an event other than a rejection (it then applies: a rejected
    /// command emits only its rejection, before changing anything), so the journal can make it
    /// durable and net-out can drain ring C.
    #[cold]
    #[inline(never)]
    fn make_room(&mut self) {
        self.publisher.flush();
        if self.input.cursor_end() > self.sequence {
            return; // released when ring C was full earlier in this command
        }
        if self.emitted && !self.rejected {
            if self.journaled {
                self.input.slot_mut(self.sequence).applied = true;
            }
            self.input.release_through(self.sequence);
        } else if self.sequence > self.input.cursor_end() {
            self.input.release_through(self.sequence - 1);
        }
    }
}

/// The matcher and its two rings.
pub struct MatcherStage {
    input: Consumer<SequencedSlot>,
    output: BatchPublisher<OutputSlot>,
    matcher: Matcher,
    next: u64,
}

impl MatcherStage {
    /// A matcher reading ring B `input` and writing ring C `output`.
    pub fn new(
        input: Consumer<SequencedSlot>,
        output: BatchPublisher<OutputSlot>,
        matcher: Matcher,
    ) -> MatcherStage {
        MatcherStage { input, output, matcher, next: 0 }
    }

    /// Runs until ring B closes (after `Shutdown`); ring C closes when it returns.
    pub fn run(mut self) -> Matcher {
        while let Some(available_end) = self.input.wait_for(self.next) {
            self.match_until(available_end);
        }
        self.matcher
    }

    /// Applies everything sequenced, waiting only for room on ring C (net-out frees it).
    pub fn poll(&mut self) -> Poll {
        match self.input.try_available(self.next) {
            Some(available_end) => {
                self.match_until(available_end);
                Poll::Worked
            }
            None if self.input.is_finished(self.next) => Poll::Finished,
            None => Poll::Idle,
        }
    }

    /// Waits (per ring B's strategy) until a command is sequenced.
    pub fn wait_for_input(&mut self) {
        let _ = self.input.wait_for(self.next);
    }

    /// The engine, as it stopped.
    pub fn into_matcher(self) -> Matcher {
        self.matcher
    }

    /// Applies `self.next..available_end`, publishing one batch of output on ring C.
    fn match_until(&mut self, available_end: u64) {
        let MatcherStage { input, output, matcher, next } = self;
        for sequence in *next..available_end {
            // Copied out before the command runs: ring B may release this slot during it
            // (`RingSink::make_room`), and then the sequencer may reuse it. (Not the whole slot:
            // that would also copy the journal's signature data, which the matcher never reads.)
            let slot = input.slot(sequence);
            let (watermark, mut reply, extras) = (slot.watermark, slot.reply, slot.extras);
            let mut applied = false;
            let outcome = match slot.work {
                Work::Command(command) => {
                    let mut sink = RingSink {
                        publisher: output,
                        input,
                        sequence,
                        journaled: command.sequence.0 != 0,
                        watermark,
                        rejected: false,
                        emitted: false,
                    };
                    matcher.apply(&command, &mut sink);
                    // Every change of state emits an event: a command that emitted none (a
                    // cancel-all with nothing to cancel) changed nothing and is not journaled.
                    applied = command.sequence.0 != 0 && sink.emitted && !sink.rejected;
                    Outcome::Command { sequence: command.sequence, account: command.account }
                }
                Work::Read { account, query } => Outcome::Read { account, query },
                Work::Reject(error) => Outcome::Reject(error),
                Work::Close => Outcome::Close,
                Work::Shutdown => Outcome::Shutdown,
            };
            if input.cursor_end() <= sequence {
                input.slot_mut(sequence).applied = applied;
            }
            reply.times.matched_ns = clock::monotonic_ns(); // tidy: latency stamp
            if !output.has_room() {
                // This slot is finished: release it and everything before it first (see the
                // module doc).
                output.flush();
                input.release_through(sequence);
            }
            let done = Output::Done { reply, outcome, extras };
            output.push(OutputSlot { watermark, output: done });
        }
        // end_of_batch: one publish for everything this batch produced.
        output.flush();
        if input.cursor_end() < available_end {
            input.release_through(available_end - 1);
        }
        *next = available_end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Action, Command};
    use crate::config::Config;
    use crate::matcher::test_orders::{ALICE, BOB, SOL, USDC, key, limit, market};
    use crate::ring::{Access, RingBuilder, WaitStrategy};
    use crate::types::{AccountKey, Side};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    /// Ring C's size in these tests: far less than the output of their streams.
    const RING_C_SLOTS: usize = 16;

    /// Runs `actions` (one command each, numbered from 1) through the matcher stage as one batch
    /// of ring B, with a 16-slot ring C drained by a net-out stand-in that releases a slot only
    /// once a journal stand-in, gated on the matcher, has seen its watermark. Returns the answers
    /// net-out got and the commands the journal saw applied. Before the matcher released ring B
    /// ahead of waiting for ring C, all three waited on each other.
    fn through_a_small_ring_c(actions: &[(AccountKey, Action)]) -> (u64, u64) {
        let commands = actions.len() as u64;
        let mut ring_b = RingBuilder::new(256, WaitStrategy::Yield, SequencedSlot::empty);
        let matcher_id = ring_b.consumer(&[], Access::Write);
        let journal_id = ring_b.consumer(&[matcher_id], Access::Read);
        let mut ring_b = ring_b.build();
        let mut ring_c = RingBuilder::new(RING_C_SLOTS, WaitStrategy::Yield, OutputSlot::empty);
        let net_out_id = ring_c.consumer(&[], Access::Read);
        let mut ring_c = ring_c.build();

        // The whole stream is on ring B before the matcher starts: it sees one batch.
        let mut sequencer = BatchPublisher::new(ring_b.producer());
        for (number, &(account, action)) in (1..).zip(actions) {
            let command =
                Command { sequence: SequenceNumber(number), time_us: number, account, action };
            let mut slot = SequencedSlot::empty();
            slot.work = Work::Command(command);
            slot.watermark = SequenceNumber(number);
            sequencer.push(slot);
        }
        sequencer.flush();

        let durable = Arc::new(AtomicU64::new(0));
        let mut journal = ring_b.consumer(journal_id);
        let journal_durable = durable.clone();
        let journal = std::thread::spawn(move || {
            let (mut next, mut applied) = (0, 0);
            while next < commands {
                let available_end = journal.wait_for(next).expect("ring B open");
                for sequence in next..available_end {
                    let slot = journal.slot(sequence);
                    applied += u64::from(slot.applied);
                    journal_durable.store(slot.watermark.0, Ordering::Release);
                }
                journal.release_through(available_end - 1);
                next = available_end;
            }
            applied
        });
        let mut net_out = ring_c.consumer(net_out_id);
        let (answered, answers) = mpsc::channel();
        std::thread::spawn(move || {
            let (mut next, mut done) = (0, 0);
            while done < commands {
                let available_end = net_out.wait_for(next).expect("ring C open");
                for sequence in next..available_end {
                    let watermark = net_out.slot(sequence).watermark.0;
                    while durable.load(Ordering::Acquire) < watermark {
                        std::thread::yield_now();
                    }
                    done += u64::from(matches!(net_out.slot(sequence).output, Output::Done { .. }));
                    net_out.release_through(sequence);
                }
                next = available_end;
            }
            answered.send(done).unwrap();
        });
        let input = ring_b.consumer(matcher_id);
        let output = BatchPublisher::new(ring_c.producer());
        let matcher = Matcher::new(Arc::new(Config::embedded_default()));
        let matcher = std::thread::spawn(move || MatcherStage::new(input, output, matcher).run());

        // A deadline only to report a deadlock as a failure rather than a hung test.
        let done = answers.recv_timeout(Duration::from_secs(120)).expect("answers stopped coming");
        let applied = journal.join().unwrap();
        drop(sequencer);
        let matcher = matcher.join().unwrap();
        assert_eq!(matcher.last_sequence(), SequenceNumber(commands));
        (done, applied)
    }

    #[test]
    fn a_batch_with_more_output_than_ring_c_holds_is_answered_in_full() {
        // Each deposit creates its account: two events and an answer.
        let deposits: Vec<_> = (1..=200u8)
            .map(|name| (key(name), Action::Deposit { asset: USDC, amount: 1_000 }))
            .collect();
        assert_eq!(through_a_small_ring_c(&deposits), (200, 200));
    }

    #[test]
    fn one_command_with_more_events_than_ring_c_holds_is_answered() {
        // Forty one-step asks, then one market buy taking them all: 81 events in one command.
        let mut actions = vec![
            (key(ALICE), Action::Deposit { asset: SOL, amount: 1_000_000_000_000 }),
            (key(BOB), Action::Deposit { asset: USDC, amount: 1_000_000_000_000 }),
        ];
        actions.extend((0..40).map(|_| (key(ALICE), Action::Place(limit(Side::Ask, 15000, 1)))));
        actions.push((key(BOB), Action::Place(market(Side::Bid, 40, 0))));
        const { assert!(2 * 40 + 1 > RING_C_SLOTS) };
        assert_eq!(through_a_small_ring_c(&actions), (43, 43));
    }
}
