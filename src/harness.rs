//! An in-process driver for the middle of the pipeline: it stands in for net-in (publishing
//! requests into ring A exactly as net-in frames them) and for net-out (consuming ring C under
//! the same durability gate), so tests and benchmarks exercise verify, sequencer, journal and
//! matcher threads without sockets.
//!
//! Not used by `serve`. Requests are raw HTTP bytes, framed by [`crate::net::http::frame`] and
//! copied by [`crate::net::copy_request`], the functions net-in uses.

use crate::durability::{Durability, DurabilityGate};
use crate::event::Event;
use crate::matcher::Matcher;
use crate::net::http::{Framed, frame, header_slots};
use crate::net::{copy_request, route_of};
use crate::pipeline::{Core, CoreOptions, CoreThreads, RecoveredState};
use crate::records::{ConnectionToken, Outcome, Output, OutputSlot, RequestKind, RequestSlot};
use crate::ring::{Consumer, Producer};
use std::hash::Hasher;
use std::thread::JoinHandle;

/// Per-stage latency of every answered request, from the stamps each stage writes
/// (`StageTimes`): net-in → verify, verify → sequencer, sequencer → matcher, matcher → answer.
#[derive(Debug, Clone)]
pub struct StageLatencies {
    /// Nanoseconds from framing to the verdict.
    pub verify_ns: hdrhistogram::Histogram<u64>,
    /// Nanoseconds from the verdict to the sequence number.
    pub sequence_ns: hdrhistogram::Histogram<u64>,
    /// Nanoseconds from the sequence number to the matcher's end of the request.
    pub match_ns: hdrhistogram::Histogram<u64>,
    /// Nanoseconds from the matcher to the answer (net-out's stand-in, after the durability gate).
    pub answer_ns: hdrhistogram::Histogram<u64>,
}

impl Default for StageLatencies {
    fn default() -> Self {
        let histogram = || {
            hdrhistogram::Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
        };
        StageLatencies {
            verify_ns: histogram(),
            sequence_ns: histogram(),
            match_ns: histogram(),
            answer_ns: histogram(),
        }
    }
}

impl StageLatencies {
    fn record(&mut self, times: &crate::records::StageTimes, answered_ns: u64) {
        let record = |histogram: &mut hdrhistogram::Histogram<u64>, from: u64, to: u64| {
            if from != 0 && to >= from {
                let _ = histogram.record((to - from).max(1));
            }
        };
        record(&mut self.verify_ns, times.received_ns, times.verified_ns);
        record(&mut self.sequence_ns, times.verified_ns, times.sequenced_ns);
        record(&mut self.match_ns, times.sequenced_ns, times.matched_ns);
        record(&mut self.answer_ns, times.matched_ns, answered_ns);
    }
}

/// What the consumer saw. Equality compares what is deterministic (not the latencies).
#[derive(Debug, Default, Clone)]
pub struct Collected {
    /// Events seen.
    pub events: u64,
    /// Requests answered (one per `Done`).
    pub answers: u64,
    /// Sequenced commands acknowledged under the durability check.
    pub acknowledged: u64,
    /// A hash of every event's full content, in order (equal hashes: identical event streams).
    pub events_hash: u64,
    /// The first events, kept whole for exact comparison and inspection.
    pub first_events: Vec<Event>,
    /// Error answers among the answers.
    pub errors: u64,
    /// Journal commits (`fdatasync`s) and records journaled: their ratio is the group-commit
    /// batch.
    pub commits: u64,
    /// Records journaled.
    pub journaled: u64,
    /// Stage-by-stage latency.
    pub latencies: StageLatencies,
}

impl PartialEq for Collected {
    fn eq(&self, other: &Collected) -> bool {
        (self.events, self.answers, self.acknowledged, self.events_hash, self.errors)
            == (other.events, other.answers, other.acknowledged, other.events_hash, other.errors)
            && self.first_events == other.first_events
    }
}

/// Feeds a formatter's output into a hasher without allocating.
struct HashWriter<'h>(&'h mut std::collections::hash_map::DefaultHasher);

impl std::fmt::Write for HashWriter<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.0.write(text.as_bytes());
        Ok(())
    }
}

/// Events kept whole in [`Collected::first_events`].
const FIRST_EVENTS_KEPT: usize = 4096;

fn consume(
    mut input: Consumer<OutputSlot>,
    mut gate: DurabilityGate,
    hash_events: bool,
) -> Collected {
    use std::fmt::Write;
    let mut collected = Collected::default();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut next = 0u64;
    while let Some(available_end) = input.wait_for(next) {
        let mut sequence = next;
        let mut stop = false;
        while sequence < available_end {
            let slot = *input.slot(sequence);
            if gate.blocked(slot.watermark).is_some() {
                // Wait for the journal; the ring keeps everything behind this slot in place.
                std::hint::spin_loop();
                std::thread::yield_now();
                continue;
            }
            match slot.output {
                Output::Event(event) => {
                    collected.events += 1;
                    if hash_events {
                        let _ = write!(HashWriter(&mut hasher), "{event:?}");
                    }
                    if hash_events && collected.first_events.len() < FIRST_EVENTS_KEPT {
                        collected.first_events.push(event);
                    }
                }
                Output::Done { outcome, reply, .. } => {
                    collected.answers += 1;
                    collected.latencies.record(&reply.times, crate::clock::monotonic_ns());
                    match outcome {
                        Outcome::Command { sequence, .. } => gate.acknowledge(sequence),
                        Outcome::Reject(_) => collected.errors += 1,
                        Outcome::Shutdown => stop = true,
                        Outcome::Read { .. } | Outcome::Close => {}
                    }
                }
            }
            sequence += 1;
        }
        input.release_through(sequence - 1);
        next = sequence;
        if stop {
            break;
        }
    }
    collected.acknowledged = gate.acknowledged;
    collected.events_hash = hasher.finish();
    collected
}

/// A running middle pipeline with a producer in the caller's hands and a consumer thread.
pub struct Harness {
    ring_a: Producer<RequestSlot>,
    threads: CoreThreads,
    consumer: JoinHandle<Collected>,
    durable: Option<std::sync::Arc<crate::durability::Durable>>,
}

impl Harness {
    /// Starts the pipeline on `recovered` state; the consumer applies the durability gate that
    /// `options.durability` implies and hashes every event.
    pub fn start(options: CoreOptions, recovered: RecoveredState) -> Harness {
        Harness::start_with(options, recovered, true)
    }

    /// As [`Harness::start`]; `hash_events: false` skips the event hash (benchmarks: formatting
    /// every event would make the stand-in consumer the bottleneck).
    pub fn start_with(
        options: CoreOptions,
        recovered: RecoveredState,
        hash_events: bool,
    ) -> Harness {
        let durability = options.durability;
        let (core, _view) =
            Core::start(options, recovered, None, || None).expect("the core starts");
        let Core { ring_a, ring_c, durable, threads, .. } = core;
        let gate = DurabilityGate::new(durable.clone(), durability == Durability::Sync);
        let consumer = std::thread::Builder::new()
            .name("harness-out".into())
            .spawn(move || consume(ring_c, gate, hash_events))
            .expect("spawn the consumer");
        Harness { ring_a, threads, consumer, durable }
    }

    /// Publishes one raw HTTP request into ring A, as net-in would.
    pub fn send(&mut self, request: &[u8]) {
        let mut headers = header_slots();
        let Framed::Complete(framed) = frame(request, &mut headers) else {
            panic!("the harness sends whole, valid requests: {}", String::from_utf8_lossy(request));
        };
        let sequence = self.ring_a.claim();
        let slot = self.ring_a.slot_mut(sequence);
        match route_of(&framed) {
            Ok((route, _)) => copy_request(slot, &framed, route, None),
            Err(error) => slot.kind = RequestKind::Answered(error),
        }
        slot.reply.connection = ConnectionToken::default();
        slot.reply.times = Default::default();
        slot.reply.times.received_ns = crate::clock::monotonic_ns();
        self.ring_a.publish(sequence);
    }

    /// Publishes `Shutdown`, waits for every stage to drain, and returns what the consumer saw
    /// and the engine as it stopped.
    pub fn finish(self) -> (Collected, Matcher) {
        let Harness { mut ring_a, threads, consumer, durable } = self;
        let sequence = ring_a.claim();
        ring_a.slot_mut(sequence).kind = RequestKind::Shutdown;
        ring_a.publish(sequence);
        drop(ring_a);
        let mut collected = consumer.join().expect("the consumer");
        let matcher = threads.join().expect("clean stage threads");
        if let Some(durable) = durable {
            (collected.commits, collected.journaled) = durable.statistics();
        }
        (collected, matcher)
    }
}
