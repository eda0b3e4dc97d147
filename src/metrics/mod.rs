//! Metrics: what the stages measure as they run, kept off their hot paths, and its Prometheus text
//! (`GET /metrics`, which net-out answers; see [`text`]).
//!
//! One [`Metrics`] is built in `pipeline` once the rings exist and handed to every stage that
//! writes it as an `Arc`. It is neutral, like `durability.rs`: the stages share it, none owns it.
//!
//! **One writer per cell.** Each group of cells ([`NetInMetrics`], [`SequencerMetrics`],
//! [`JournalMetrics`], [`NetOutMetrics`]) is written by one thread only, on its own cache lines,
//! and its fields say which. A single writer needs no read-modify-write: a [`Counter`] adds with a
//! relaxed load and a relaxed store (no locked instruction), and a [`Histogram`] is a fixed array
//! of such counters. No lock, no allocation after construction, no clock read: a stage records
//! the stamps it already has (`records::StageTimes`) or takes its own off the hot modules (the
//! journal times its `fdatasync`; net-out stamps its answer).
//!
//! **Readers.** net-out renders everything with relaxed loads while the writers go on, so a
//! scrape is a recent view, not one instant: a histogram's buckets are read one by one (its
//! `_count` is rendered as the sum of the buckets read, so it always equals the `+Inf` bucket,
//! while its `_sum` may include a record or two the buckets missed); ring occupancy is read from
//! the cursors at render time ([`RingLevel`]); the few values only net-out knows (WebSocket
//! connections, subscribers and groups, the durable sequence) are set by net-out just before it
//! renders.
//!
//! # `GET /metrics` and who may read it
//! Served by net-out like the other public reads (route → verify → a `ReadQuery::Metrics` that
//! passes the sequencer and the matcher → net-out renders [`text`]). API.md does not name it, so
//! its rules are here:
//! - from a **loopback peer** (net-in records whether each connection's peer address is
//!   loopback, IPv4-mapped included) it needs no signature: the operator's own host. A reverse
//!   proxy on the same host must therefore not forward `/metrics`;
//! - from **any other peer** it must be signed by the administrator's key like a signed GET, with
//!   the instruction `metricsQuery` (`instruction=metricsQuery&timestamp=…&window=…`). Every
//!   failure — no headers, a bad header, the window, the signature, another key — is the same
//!   **403** `{"code":"UNAUTHORIZED","message":"Administrator key required"}`, naming no check.
//!   (A window that expires between verify and the sequencer is the usual 401.) 403 rather than
//!   404: the path answers 405 to other methods anyway, so hiding it would be only partial.
//!
//! It is subject to the per-IP rate limit like any request. The answer is about 18 KiB; the
//! first one on a connection grows its outbox past the initial 16 KiB once.
//!
//! # What is measured, and by whom
//! | cells | writer | when |
//! |---|---|---|
//! | stage latencies (received → verified → sequenced → matched → answered, and the total) | net-out | as it answers each request, from the stamps the request carries |
//! | sequenced → durable | journal | for the commands of a batch, when the `fdatasync` that covers them returns (with `--durability async`, a sample: only the batch in hand when the periodic sync runs, the earlier ones being released already) |
//! | `fdatasync` latency, commands per `fdatasync` | journal | each group commit |
//! | connections open, per-IP rate-limit hits | net-in | accept and close; each 429 of the per-IP limit |
//! | per-key rate-limit hits | sequencer | its count, published once per ring batch |
//! | rejections by reason | net-out | every answer that is an error (an `ApiError` or a command the matcher rejected) |
//! | WebSocket connections, subscribers, groups; durable sequence | net-out | just before rendering |
//! | ring occupancy (A, B, C) | — (the cursors' owners) | read at render time |

pub mod text;

use crate::api::error::ErrorKind;
use crate::records::StageTimes;
use crate::ring::RingLevel;
use crossbeam::utils::CachePadded;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonic count with a single writer.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Zero.
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    /// Writer only: adds `amount` (a load and a store: correct because nobody else writes).
    #[inline]
    pub fn add(&self, amount: u64) {
        let value = self.0.load(Ordering::Relaxed).wrapping_add(amount);
        self.0.store(value, Ordering::Relaxed);
    }

    /// Writer only: publishes a count kept elsewhere (the sequencer's own).
    #[inline]
    pub fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// The count now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A level that goes up and down, with a single writer.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Zero.
    pub const fn new() -> Gauge {
        Gauge(AtomicU64::new(0))
    }

    /// Writer only.
    #[inline]
    pub fn set(&self, value: u64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// Writer only: one more.
    #[inline]
    pub fn increment(&self) {
        self.set(self.get() + 1);
    }

    /// Writer only: one less (never below zero).
    #[inline]
    pub fn decrement(&self) {
        self.set(self.get().saturating_sub(1));
    }

    /// The level now.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Finite buckets of every [`Histogram`]; one more counts what is above them all (`+Inf`).
pub const HISTOGRAM_BUCKETS: usize = 24;

/// A histogram with fixed, log-spaced buckets and a single writer: bucket `i` counts values
/// `≤ first_bound · 2^i` (and above the bucket before); the last one everything larger. Stored
/// per bucket (not cumulative): one counter moves per record. Latency histograms record
/// nanoseconds from a first bound of 250 ns (0.25 µs … 2.1 s); size histograms counts from 1
/// (1 … 8,388,608).
#[derive(Debug)]
pub struct Histogram {
    /// Upper bound of bucket 0, in the recorded unit.
    first_bound: u64,
    /// Per bucket; index [`HISTOGRAM_BUCKETS`] is `+Inf`.
    counts: [Counter; HISTOGRAM_BUCKETS + 1],
    /// Sum of the recorded values.
    sum: Counter,
}

/// A copy of a histogram's counters, read one by one (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Upper bound of bucket 0, in the recorded unit.
    pub first_bound: u64,
    /// Per bucket (not cumulative); the last is `+Inf`.
    pub counts: [u64; HISTOGRAM_BUCKETS + 1],
    /// Sum of the recorded values.
    pub sum: u64,
}

impl HistogramSnapshot {
    /// Values recorded (the sum of the buckets).
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The upper bound of finite bucket `index`.
    pub fn bound(&self, index: usize) -> u64 {
        self.first_bound << index
    }
}

/// First bucket bound of the latency histograms: 250 ns.
pub const LATENCY_FIRST_BOUND_NS: u64 = 250;

impl Histogram {
    /// Empty, bucket 0 ending at `first_bound` (≥ 1).
    pub const fn new(first_bound: u64) -> Histogram {
        assert!(first_bound >= 1);
        Histogram {
            first_bound,
            counts: [const { Counter::new() }; HISTOGRAM_BUCKETS + 1],
            sum: Counter::new(),
        }
    }

    /// A latency histogram (nanoseconds; buckets from 0.25 µs).
    pub const fn latency() -> Histogram {
        Histogram::new(LATENCY_FIRST_BOUND_NS)
    }

    /// The bucket `value` falls in: the first whose bound is `≥ value`, or `+Inf`.
    #[inline]
    pub fn bucket_of(&self, value: u64) -> usize {
        // Bucket i holds values with (value - 1) / first_bound in [2^(i-1), 2^i - 1].
        let steps = value.saturating_sub(1) / self.first_bound;
        ((u64::BITS - steps.leading_zeros()) as usize).min(HISTOGRAM_BUCKETS)
    }

    /// Writer only: counts one value.
    #[inline]
    pub fn record(&self, value: u64) {
        self.counts[self.bucket_of(value)].add(1);
        self.sum.add(value);
    }

    /// The counters now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            first_bound: self.first_bound,
            counts: std::array::from_fn(|index| self.counts[index].get()),
            sum: self.sum.get(),
        }
    }
}

/// A stretch of a request's way through the pipeline, between two of its stamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// net-in framed it → verify's verdict (signature included).
    ReceivedToVerified,
    /// verify → the sequencer stamped it.
    VerifiedToSequenced,
    /// The sequencer → the matcher finished it.
    SequencedToMatched,
    /// The matcher → net-out wrote its answer (in `sync` durability: the wait for the journal).
    MatchedToAnswered,
    /// net-in → net-out: the server's whole share of the latency.
    ReceivedToAnswered,
}

impl Span {
    /// Every span net-out records, in pipeline order.
    pub const ALL: [Span; 5] = [
        Span::ReceivedToVerified,
        Span::VerifiedToSequenced,
        Span::SequencedToMatched,
        Span::MatchedToAnswered,
        Span::ReceivedToAnswered,
    ];

    /// The `span` label.
    pub fn label(self) -> &'static str {
        match self {
            Span::ReceivedToVerified => "received_to_verified",
            Span::VerifiedToSequenced => "verified_to_sequenced",
            Span::SequencedToMatched => "sequenced_to_matched",
            Span::MatchedToAnswered => "matched_to_answered",
            Span::ReceivedToAnswered => "received_to_answered",
        }
    }

    /// Its start and end stamps (0 when not reached), with `answered_ns` as the last.
    fn stamps(self, times: &StageTimes, answered_ns: u64) -> (u64, u64) {
        match self {
            Span::ReceivedToVerified => (times.received_ns, times.verified_ns),
            Span::VerifiedToSequenced => (times.verified_ns, times.sequenced_ns),
            Span::SequencedToMatched => (times.sequenced_ns, times.matched_ns),
            Span::MatchedToAnswered => (times.matched_ns, answered_ns),
            Span::ReceivedToAnswered => (times.received_ns, answered_ns),
        }
    }
}

/// The `span` label of the journal's stretch: sequencer stamp → the covering `fdatasync` returned.
pub const SEQUENCED_TO_DURABLE: &str = "sequenced_to_durable";

/// Written by net-in only.
#[derive(Debug, Default)]
pub struct NetInMetrics {
    /// Sockets open: accepted and not yet closed (lingering ones included).
    pub connections_open: Gauge,
    /// Requests refused 429 by the per-IP limit (or passed on to verify over it because they
    /// claim the administrator's key).
    pub ip_rate_limited: Counter,
    /// Requests refused 429 unread because their address sent too many bad signatures lately.
    pub bad_signature_refused: Counter,
}

/// Written by the sequencer's thread only (its stage loop, once per ring batch).
#[derive(Debug, Default)]
pub struct SequencerMetrics {
    /// Signed requests refused 429 by the per-key limit.
    pub key_rate_limited: Counter,
}

/// Written by the journal thread only.
#[derive(Debug)]
pub struct JournalMetrics {
    /// Nanoseconds each group commit's `fdatasync` took (the write before it excluded).
    pub fsync_ns: Histogram,
    /// Commands each `fdatasync` made durable.
    pub group_commands: Histogram,
    /// Per journaled command, sequencer stamp → the `fdatasync` covering it returned (ns);
    /// recorded for the commands of the ring batch a sync ends (in `async` mode, the interval
    /// syncs' older pending commands and the idle syncs are not recorded).
    pub sequenced_to_durable_ns: Histogram,
    /// Records appended to the journal.
    pub records: Counter,
    /// Bytes appended to the journal, record headers included.
    pub bytes: Counter,
}

impl Default for JournalMetrics {
    fn default() -> JournalMetrics {
        JournalMetrics {
            fsync_ns: Histogram::latency(),
            group_commands: Histogram::new(1),
            sequenced_to_durable_ns: Histogram::latency(),
            records: Counter::new(),
            bytes: Counter::new(),
        }
    }
}

/// Written by net-out only.
#[derive(Debug)]
pub struct NetOutMetrics {
    /// HTTP responses by status class (`status / 100`, 1 to 5), `GET /metrics` itself left out
    /// so that a scrape never counts in the next one: a load generator compares these with its
    /// own counts.
    pub responses: [Counter; 6],
    /// Per [`Span`] (indexed by `span as usize`), nanoseconds, one record per answered request
    /// (a batch counts once, at its last item).
    pub spans: [Histogram; Span::ALL.len()],
    /// Per [`ErrorKind`] (indexed by `kind as usize`): answers that were errors, and commands
    /// the matcher rejected (each batch item counts).
    pub rejections: [Counter; ErrorKind::ALL.len()],
    /// Upgraded connections open (set before rendering).
    pub websocket_connections: Gauge,
    /// Connections following at least one stream (set before rendering).
    pub websocket_subscribers: Gauge,
    /// Groups of connections following the same public streams (set before rendering).
    pub subscription_groups: Gauge,
    /// The journal's durable sequence as net-out sees it (set before rendering).
    pub durable_sequence: Gauge,
}

impl Default for NetOutMetrics {
    fn default() -> NetOutMetrics {
        NetOutMetrics {
            responses: [const { Counter::new() }; 6],
            spans: [const { Histogram::latency() }; Span::ALL.len()],
            rejections: [const { Counter::new() }; ErrorKind::ALL.len()],
            websocket_connections: Gauge::new(),
            websocket_subscribers: Gauge::new(),
            subscription_groups: Gauge::new(),
            durable_sequence: Gauge::new(),
        }
    }
}

impl NetOutMetrics {
    /// Records a request's stamps, answered at `answered_ns`: every span whose two stamps were
    /// both taken (a request answered by net-in or verify skips none: the stages after still
    /// stamp it; a closed connection's record carries none).
    #[inline]
    pub fn record_times(&self, times: &StageTimes, answered_ns: u64) {
        if times.received_ns == 0 {
            return;
        }
        for span in Span::ALL {
            let (start_ns, end_ns) = span.stamps(times, answered_ns);
            if start_ns != 0 && end_ns != 0 {
                self.spans[span as usize].record(end_ns.saturating_sub(start_ns));
            }
        }
    }

    /// One HTTP response of `status` sent.
    #[inline]
    pub fn record_response(&self, status: u16) {
        self.responses[usize::from(status / 100).min(5)].add(1);
    }

    /// Counts one error answer.
    #[inline]
    pub fn record_rejection(&self, kind: ErrorKind) {
        self.rejections[kind as usize].add(1);
    }
}

/// Everything measured; see the module doc. Each group sits on its own cache lines so the
/// writers never share one.
pub struct Metrics {
    /// net-in's.
    pub net_in: CachePadded<NetInMetrics>,
    /// The sequencer's.
    pub sequencer: CachePadded<SequencerMetrics>,
    /// The journal's.
    pub journal: CachePadded<JournalMetrics>,
    /// net-out's.
    pub net_out: CachePadded<NetOutMetrics>,
    /// The rings, by label (`a`, `b`, `c`), read at render time.
    rings: Vec<(&'static str, Arc<dyn RingLevel>)>,
    /// `ringex_info`'s series line (how the server runs), rendered once at start: a scrape
    /// allocates nothing.
    info_line: Vec<u8>,
}

impl Metrics {
    /// All zero, reading the levels of `rings` (label, ring) when rendered.
    pub fn new(rings: Vec<(&'static str, Arc<dyn RingLevel>)>) -> Metrics {
        Metrics {
            net_in: CachePadded::new(NetInMetrics::default()),
            sequencer: CachePadded::new(SequencerMetrics::default()),
            journal: CachePadded::new(JournalMetrics::default()),
            net_out: CachePadded::new(NetOutMetrics::default()),
            rings,
            info_line: b"ringex_info 1\n".to_vec(),
        }
    }

    /// With `ringex_info`'s labels (durability, verify threads, wait strategy, layout, version): a
    /// report names the mode of the server it measured from the server itself.
    pub fn with_info(mut self, info: Vec<(&'static str, String)>) -> Metrics {
        let labels: Vec<(&str, &str)> =
            info.iter().map(|(key, value)| (*key, value.as_str())).collect();
        self.info_line.clear();
        text::sample(&mut self.info_line, "ringex_info", &labels, 1);
        self
    }

    /// `ringex_info`'s series line.
    pub fn info_line(&self) -> &[u8] {
        &self.info_line
    }

    /// The rings it reports.
    pub fn rings(&self) -> &[(&'static str, Arc<dyn RingLevel>)] {
        &self.rings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_lands_in_the_first_bucket_whose_bound_holds_it() {
        let latency = Histogram::latency();
        let cases = [
            (0, 0),
            (1, 0),
            (250, 0),
            (251, 1),
            (500, 1),
            (501, 2),
            (1_000, 2),
            (1_001, 3),
            (250 << 23, 23),
            ((250 << 23) + 1, HISTOGRAM_BUCKETS),
            (u64::MAX, HISTOGRAM_BUCKETS),
        ];
        for (value, bucket) in cases {
            assert_eq!(latency.bucket_of(value), bucket, "{value} ns");
        }
        let sizes = Histogram::new(1);
        let cases = [(0, 0), (1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (8, 3), (9, 4), (1 << 23, 23)];
        for (value, bucket) in cases {
            assert_eq!(sizes.bucket_of(value), bucket, "{value}");
        }
        assert_eq!(sizes.bucket_of((1 << 23) + 1), HISTOGRAM_BUCKETS);
    }

    #[test]
    fn every_bucket_holds_exactly_the_values_up_to_its_bound() {
        let histogram = Histogram::new(3);
        let snapshot = histogram.snapshot();
        for index in 0..HISTOGRAM_BUCKETS {
            let bound = snapshot.bound(index);
            assert_eq!(histogram.bucket_of(bound), index);
            assert_eq!(histogram.bucket_of(bound + 1), index + 1);
        }
    }

    #[test]
    fn records_count_per_bucket_and_sum() {
        let histogram = Histogram::new(1);
        for value in [1, 1, 2, 7, 100] {
            histogram.record(value);
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count(), 5);
        assert_eq!(snapshot.sum, 111);
        assert_eq!(&snapshot.counts[..8], &[2, 1, 0, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn times_become_spans_and_missing_stamps_are_skipped() {
        let metrics = NetOutMetrics::default();
        let times = StageTimes {
            received_ns: 1_000,
            verified_ns: 3_000,
            sequenced_ns: 3_100,
            matched_ns: 0,
        };
        metrics.record_times(&times, 10_000);
        let sums: Vec<(u64, u64)> = Span::ALL
            .iter()
            .map(|&span| {
                let snapshot = metrics.spans[span as usize].snapshot();
                (snapshot.count(), snapshot.sum)
            })
            .collect();
        assert_eq!(sums, [(1, 2_000), (1, 100), (0, 0), (0, 0), (1, 9_000)]);
        metrics.record_times(&StageTimes::default(), 10_000);
        assert_eq!(metrics.spans[Span::ReceivedToAnswered as usize].snapshot().count(), 1);
    }

    #[test]
    fn counters_and_gauges_have_one_writer_and_add_up() {
        let counter = Counter::new();
        counter.add(2);
        counter.add(3);
        assert_eq!(counter.get(), 5);
        let gauge = Gauge::new();
        gauge.increment();
        gauge.increment();
        gauge.decrement();
        assert_eq!(gauge.get(), 1);
        gauge.decrement();
        gauge.decrement();
        assert_eq!(gauge.get(), 0);
    }
}
