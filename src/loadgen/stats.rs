//! What a run measured: counts by outcome, rejections by reason, and latencies in
//! HdrHistograms (nanoseconds, three significant digits, up to an hour: a stall of any length
//! is recorded, never clipped away).
//!
//! Each reader thread fills its own [`Stats`] and merges it into the run's shared one every
//! [`FLUSH_INTERVAL`] and at its end, so the threads never contend per answer and progress can
//! read a recent total.

use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::time::Duration;

/// How often a reader merges what it recorded into the shared total.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// Longest latency a histogram holds exactly (longer ones saturate at it), ns: an hour.
const LATENCY_NS_MAX: u64 = 3_600_000_000_000;

/// Significant decimal digits of the histograms.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A new latency histogram.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_NS_MAX, SIGNIFICANT_DIGITS).expect("valid bounds")
}

/// The kinds of request the load generator sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `POST /api/v1/order`, a Limit order.
    Limit,
    /// `DELETE /api/v1/order` by clientId.
    Cancel,
    /// `POST /api/v1/order`, a Market order.
    Market,
    /// `DELETE /api/v1/orders`.
    CancelAll,
    /// `GET /api/v1/ping`, unsigned: the server's path with no signature and no engine work.
    Ping,
}

impl Kind {
    /// Every kind, in the order `--mix` names them.
    pub const ALL: [Kind; 5] =
        [Kind::Limit, Kind::Cancel, Kind::Market, Kind::CancelAll, Kind::Ping];

    /// The kind's name in `--mix`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Limit => "limit",
            Kind::Cancel => "cancel",
            Kind::Market => "market",
            Kind::CancelAll => "cancel-all",
            Kind::Ping => "ping",
        }
    }

    /// Position in [`Kind::ALL`].
    pub fn position(self) -> usize {
        self as usize
    }
}

/// The measurements of one run (or of one reader's share of it).
#[derive(Clone)]
pub struct Stats {
    /// Scheduled send → answer read, of acknowledged (200) requests, ns.
    pub ack_ns: Histogram<u64>,
    /// Scheduled send → the order's `orderAccepted` event read, ns.
    pub event_ns: Histogram<u64>,
    /// Scheduled send → the writer taking the request up, ns: how far behind its schedule the
    /// client was (its own CPU, signing, or a server whose full socket blocked the writer).
    pub send_lag_ns: Histogram<u64>,
    /// Requests written to the server.
    pub sent: u64,
    /// Bytes of the requests written (the floor's echo is sized from their mean).
    pub sent_bytes: u64,
    /// Bytes of the answers read, head and body.
    pub answered_bytes: u64,
    /// Answered 200: the throughput.
    pub acknowledged: u64,
    /// Answered with an error status (counted by reason in `rejections`).
    pub rejected: u64,
    /// Sent but never answered (the connection closed or the drain timed out).
    pub unanswered: u64,
    /// Scheduled but never written (the connection failed first).
    pub unsent: u64,
    /// Acknowledged, by [`Kind::position`].
    pub acknowledged_by_kind: [u64; Kind::ALL.len()],
    /// Rejections by [`crate::loadgen::http::Answer::reason`].
    pub rejections: BTreeMap<String, u64>,
    /// `depth.<sym>` messages read.
    pub depth_messages: u64,
    /// Depth messages whose `U` was not the previous `u` + 1.
    pub depth_gaps: u64,
    /// `trade.<sym>` messages read.
    pub trade_messages: u64,
    /// Trade messages whose id was not above the previous one's.
    pub trade_disorders: u64,
    /// Nanoseconds from the run's start to the last answer of a recorded request.
    pub last_answer_ns: u64,
    /// Transport failures (connection lost, malformed answer), one line each.
    pub errors: Vec<String>,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    /// Nothing measured yet.
    pub fn new() -> Stats {
        Stats {
            ack_ns: latency_histogram(),
            event_ns: latency_histogram(),
            send_lag_ns: latency_histogram(),
            sent: 0,
            sent_bytes: 0,
            answered_bytes: 0,
            acknowledged: 0,
            rejected: 0,
            unanswered: 0,
            unsent: 0,
            acknowledged_by_kind: [0; Kind::ALL.len()],
            rejections: BTreeMap::new(),
            depth_messages: 0,
            depth_gaps: 0,
            trade_messages: 0,
            trade_disorders: 0,
            last_answer_ns: 0,
            errors: Vec::new(),
        }
    }

    /// Records an answer to a request scheduled at `scheduled_ns` and read at `read_ns` (both
    /// from the run's start). Its latency is counted from the schedule, not from when it was
    /// actually written: a late send is part of the latency.
    pub fn record_answer(
        &mut self,
        kind: Kind,
        scheduled_ns: u64,
        read_ns: u64,
        reason: Option<String>,
    ) {
        self.last_answer_ns = self.last_answer_ns.max(read_ns);
        match reason {
            None => {
                self.acknowledged += 1;
                self.acknowledged_by_kind[kind.position()] += 1;
                self.ack_ns.saturating_record(read_ns.saturating_sub(scheduled_ns).max(1));
            }
            Some(reason) => {
                self.rejected += 1;
                *self.rejections.entry(reason).or_insert(0) += 1;
            }
        }
    }

    /// Records an order's first event, read at `read_ns`, of a request scheduled at
    /// `scheduled_ns`.
    pub fn record_event(&mut self, scheduled_ns: u64, read_ns: u64) {
        self.event_ns.saturating_record(read_ns.saturating_sub(scheduled_ns).max(1));
    }

    /// Adds `other` into `self` and empties `other`.
    pub fn merge_from(&mut self, other: &mut Stats) {
        self.ack_ns.add(&other.ack_ns).expect("histograms of one shape");
        self.event_ns.add(&other.event_ns).expect("histograms of one shape");
        self.send_lag_ns.add(&other.send_lag_ns).expect("histograms of one shape");
        self.sent += other.sent;
        self.sent_bytes += other.sent_bytes;
        self.answered_bytes += other.answered_bytes;
        self.acknowledged += other.acknowledged;
        self.rejected += other.rejected;
        self.unanswered += other.unanswered;
        self.unsent += other.unsent;
        for (total, part) in self.acknowledged_by_kind.iter_mut().zip(other.acknowledged_by_kind) {
            *total += part;
        }
        for (reason, count) in std::mem::take(&mut other.rejections) {
            *self.rejections.entry(reason).or_insert(0) += count;
        }
        self.depth_messages += other.depth_messages;
        self.depth_gaps += other.depth_gaps;
        self.trade_messages += other.trade_messages;
        self.trade_disorders += other.trade_disorders;
        self.last_answer_ns = self.last_answer_ns.max(other.last_answer_ns);
        self.errors.append(&mut other.errors);
        *other = Stats { last_answer_ns: other.last_answer_ns, ..Stats::new() };
    }

    /// Sent requests not yet accounted for as acknowledged, rejected or unanswered.
    pub fn outstanding(&self) -> u64 {
        self.sent.saturating_sub(self.acknowledged + self.rejected + self.unanswered)
    }
}

/// The latency figures the summary prints, µs.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// 50th percentile, µs.
    pub p50_us: f64,
    /// 90th percentile, µs.
    pub p90_us: f64,
    /// 99th percentile, µs.
    pub p99_us: f64,
    /// 99.9th percentile, µs.
    pub p999_us: f64,
    /// Largest value, µs.
    pub max_us: f64,
}

impl Percentiles {
    /// The figures of a nanosecond histogram.
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        let us = |ns: u64| ns as f64 / 1000.0;
        let at = |quantile: f64| us(histogram.value_at_quantile(quantile));
        Percentiles {
            count: histogram.len(),
            p50_us: at(0.5),
            p90_us: at(0.9),
            p99_us: at(0.99),
            p999_us: at(0.999),
            max_us: us(histogram.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_are_counted_from_the_schedule_and_rejections_by_reason() {
        let mut stats = Stats::new();
        stats.sent = 4;
        stats.record_answer(Kind::Limit, 1_000, 51_000, None);
        stats.record_answer(Kind::Cancel, 2_000, 2_000_000, None);
        stats.record_answer(Kind::Cancel, 3_000, 9_000, Some("400 X gone".into()));
        stats.record_answer(Kind::Limit, 4_000, 10_000, Some("400 X gone".into()));
        assert_eq!(stats.acknowledged, 2);
        assert_eq!(stats.rejected, 2);
        assert_eq!(stats.outstanding(), 0);
        assert_eq!(stats.acknowledged_by_kind, [1, 1, 0, 0, 0]);
        assert_eq!(stats.rejections["400 X gone"], 2);
        assert_eq!(stats.ack_ns.len(), 2, "rejections are not acknowledgement latency");
        let figures = Percentiles::of(&stats.ack_ns);
        assert!((figures.p50_us - 50.0).abs() < 0.1, "{figures:?}");
        assert!((figures.max_us - 1998.0).abs() < 2.0, "{figures:?}");
        assert_eq!(stats.last_answer_ns, 2_000_000);
    }

    #[test]
    fn merging_adds_everything_and_empties_the_part() {
        let mut total = Stats::new();
        let mut part = Stats::new();
        part.sent = 3;
        part.record_answer(Kind::Market, 0, 1_000_000, None);
        part.record_answer(Kind::Limit, 0, 5_000_000, Some("401 E expired".into()));
        part.record_event(0, 2_000_000);
        part.send_lag_ns.record(5).unwrap();
        part.depth_gaps = 1;
        part.errors.push("lost".into());
        total.merge_from(&mut part);
        total.merge_from(&mut Stats::new());
        assert_eq!((total.sent, total.acknowledged, total.rejected), (3, 1, 1));
        assert_eq!(total.outstanding(), 1);
        assert_eq!(total.event_ns.len(), 1);
        assert_eq!(total.send_lag_ns.len(), 1);
        assert_eq!(total.depth_gaps, 1);
        assert_eq!(total.errors, ["lost"]);
        assert_eq!(total.last_answer_ns, 5_000_000);
        assert_eq!((part.sent, part.ack_ns.len(), part.rejections.len()), (0, 0, 0));
    }

    #[test]
    fn an_hour_long_stall_is_recorded_not_dropped() {
        let mut stats = Stats::new();
        stats.record_answer(Kind::Limit, 0, 2 * LATENCY_NS_MAX, None);
        assert_eq!(stats.ack_ns.len(), 1);
        assert!(stats.ack_ns.max() >= LATENCY_NS_MAX / 2);
    }
}
