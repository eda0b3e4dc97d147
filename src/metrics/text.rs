//! [`Metrics`] in the Prometheus text exposition format, version 0.0.4: what `GET /metrics`
//! answers (`Content-Type: text/plain; version=0.0.4; charset=utf-8`).
//!
//! Each family is one `# HELP` line, one `# TYPE` line, then its series, all contiguous.
//! Histograms are cumulative `_bucket{…,le="…"}` series ending with `le="+Inf"`, then `_sum` and
//! `_count` (the `+Inf` bucket's value). Latencies are in microseconds (bounds 0.25, 0.5, 1, 2, …
//! µs; sums with up to three decimals); counts are plain integers.
//!
//! | family | type | labels |
//! |---|---|---|
//! | `ringex_stage_latency_microseconds` | histogram | `span`: `received_to_verified`, `verified_to_sequenced`, `sequenced_to_matched`, `matched_to_answered`, `received_to_answered` (net-out), `sequenced_to_durable` (journal) |
//! | `ringex_journal_fsync_latency_microseconds` | histogram | — |
//! | `ringex_journal_group_commands` | histogram | — (commands per `fdatasync`) |
//! | `ringex_ring_occupancy_slots`, `ringex_ring_capacity_slots` | gauge | `ring`: `a`, `b`, `c` |
//! | `ringex_connections_open` | gauge | — |
//! | `ringex_websocket_connections`, `ringex_websocket_subscribers`, `ringex_websocket_groups` | gauge | — |
//! | `ringex_journal_durable_sequence` | gauge | — |
//! | `ringex_rejections_total` | counter | `reason` (the error kind), `code`, `status`; only reasons seen so far |
//! | `ringex_rate_limited_total` | counter | `limit`: `ip` (net-in), `key` (sequencer) |
//! | `ringex_http_responses_total` | counter | `class`: `2xx` … `5xx` (`GET /metrics` itself not counted) |
//! | `ringex_journal_records_total`, `ringex_journal_bytes_total` | counter | — (headers included) |
//! | `ringex_info` | gauge (1) | `verify_batch_max`, `version`, `durability`, `verify_threads`, `wait`, `layout` |
//! | `process_cpu_seconds_total`, `ringex_context_switches_total` | counter | — (every thread of the process, `getrusage`) |

use super::{HISTOGRAM_BUCKETS, HistogramSnapshot, Metrics, SEQUENCED_TO_DURABLE, Span};
use crate::api::error::{ApiError, ErrorKind};
use crate::snapshot::SnapshotControl;
use std::io::Write;

/// The `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How a histogram's values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    /// Recorded in nanoseconds, written in microseconds.
    Microseconds,
    /// Written as recorded.
    Count,
}

impl Unit {
    fn divisor(self) -> u64 {
        match self {
            Unit::Microseconds => 1_000,
            Unit::Count => 1,
        }
    }
}

/// Appends the exposition of `metrics` to `out`.
pub fn render(metrics: &Metrics, out: &mut Vec<u8>) {
    let (net_in, net_out, journal) = (&metrics.net_in, &metrics.net_out, &metrics.journal);

    let name = "ringex_info";
    family(out, name, "gauge", "How this server runs (always 1).");
    out.extend_from_slice(metrics.info_line());

    let name = "ringex_stage_latency_microseconds";
    family(
        out,
        name,
        "histogram",
        "Time between two stamps of a request, per stretch of the pipeline.",
    );
    for span in Span::ALL {
        let snapshot = net_out.spans[span as usize].snapshot();
        histogram(out, name, &[("span", span.label())], &snapshot, Unit::Microseconds);
    }
    let snapshot = journal.sequenced_to_durable_ns.snapshot();
    histogram(out, name, &[("span", SEQUENCED_TO_DURABLE)], &snapshot, Unit::Microseconds);

    let name = "ringex_journal_fsync_latency_microseconds";
    family(out, name, "histogram", "Time each group commit's fdatasync took.");
    histogram(out, name, &[], &journal.fsync_ns.snapshot(), Unit::Microseconds);

    let name = "ringex_journal_group_commands";
    family(out, name, "histogram", "Commands made durable by each fdatasync.");
    histogram(out, name, &[], &journal.group_commands.snapshot(), Unit::Count);

    let name = "ringex_ring_occupancy_slots";
    family(out, name, "gauge", "Slots published and not yet released by every consumer.");
    for (ring, level) in metrics.rings() {
        sample(out, name, &[("ring", ring)], level.occupancy());
    }
    let name = "ringex_ring_capacity_slots";
    family(out, name, "gauge", "Slots in the ring.");
    for (ring, level) in metrics.rings() {
        sample(out, name, &[("ring", ring)], level.capacity());
    }

    let gauges = [
        ("ringex_connections_open", "TCP connections open.", net_in.connections_open.get()),
        (
            "ringex_websocket_connections",
            "Connections upgraded to WebSocket.",
            net_out.websocket_connections.get(),
        ),
        (
            "ringex_websocket_subscribers",
            "WebSocket connections following at least one stream.",
            net_out.websocket_subscribers.get(),
        ),
        (
            "ringex_websocket_groups",
            "Groups of WebSocket connections following the same public streams.",
            net_out.subscription_groups.get(),
        ),
        (
            "ringex_journal_durable_sequence",
            "The last sequence number fdatasync covers, as net-out sees it.",
            net_out.durable_sequence.get(),
        ),
    ];
    for (name, help, value) in gauges {
        family(out, name, "gauge", help);
        sample(out, name, &[], value);
    }

    let name = "ringex_journal_records_total";
    family(out, name, "counter", "Records appended to the journal.");
    sample(out, name, &[], journal.records.get());
    let name = "ringex_journal_bytes_total";
    family(out, name, "counter", "Bytes appended to the journal, record headers included.");
    sample(out, name, &[], journal.bytes.get());

    let name = "ringex_http_responses_total";
    family(out, name, "counter", "HTTP responses by status class, GET /metrics left out.");
    for (class, label) in [(2, "2xx"), (3, "3xx"), (4, "4xx"), (5, "5xx")] {
        sample(out, name, &[("class", label)], net_out.responses[class].get());
    }

    let name = "ringex_rejections_total";
    family(out, name, "counter", "Error answers and rejected commands, by reason.");
    for kind in ErrorKind::ALL {
        let count = net_out.rejections[kind as usize].get();
        if count > 0 {
            rejection(out, name, kind, count);
        }
    }

    let name = "ringex_rate_limited_total";
    family(out, name, "counter", "Requests refused 429 by a rate limit.");
    sample(out, name, &[("limit", "ip")], net_in.ip_rate_limited.get());
    sample(out, name, &[("limit", "key")], metrics.sequencer.key_rate_limited.get());
    sample(out, name, &[("limit", "bad_signatures")], net_in.bad_signature_refused.get());

    process(out);
}

/// What the kernel counts for the whole process, every thread (`getrusage(RUSAGE_SELF)`: one
/// system call, no allocation): CPU time (user + system) and context switches (voluntary and
/// involuntary). A scraper's difference over a run is the server's CPU share and its switches
/// per second.
fn process(out: &mut Vec<u8>) {
    // SAFETY: an all-zero `rusage` is valid, and getrusage only writes into the one given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer to an `rusage`.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return;
    }
    let micros = |time: libc::timeval| time.tv_sec as u64 * 1_000_000 + time.tv_usec as u64;
    let cpu_us = micros(usage.ru_utime) + micros(usage.ru_stime);
    let name = "process_cpu_seconds_total";
    family(out, name, "counter", "User and system CPU time of every thread, seconds.");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    write_scaled(out, cpu_us, 1_000_000);
    out.push(b'\n');
    let name = "ringex_context_switches_total";
    family(out, name, "counter", "Voluntary and involuntary context switches, every thread.");
    sample(out, name, &[], (usage.ru_nvcsw + usage.ru_nivcsw) as u64);
}

/// The snapshot thread's figures (`crate::snapshot::SnapshotControl`), after [`render`] when
/// the server keeps a journal.
pub fn render_snapshots(snapshots: &SnapshotControl, out: &mut Vec<u8>) {
    let name = "ringex_snapshots_written_total";
    family(out, name, "counter", "Snapshots written since start.");
    sample(out, name, &[], snapshots.written());
    let name = "ringex_snapshot_record";
    family(out, name, "gauge", "Journal record the newest snapshot written since start covers.");
    sample(out, name, &[], snapshots.last_record());
    let (bytes, write_ms) = snapshots.last_written();
    let name = "ringex_snapshot_bytes";
    family(out, name, "gauge", "Size of the newest snapshot written since start.");
    sample(out, name, &[], bytes);
    let name = "ringex_snapshot_write_milliseconds";
    family(out, name, "gauge", "Time the newest snapshot written since start took to write.");
    sample(out, name, &[], write_ms);
}

/// `# HELP` and `# TYPE`.
fn family(out: &mut Vec<u8>, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// `name{labels} value`.
pub(super) fn sample(out: &mut Vec<u8>, name: &str, labels: &[(&str, &str)], value: u64) {
    out.extend_from_slice(name.as_bytes());
    write_labels(out, labels, None);
    let _ = writeln!(out, " {value}");
}

fn rejection(out: &mut Vec<u8>, name: &str, kind: ErrorKind, count: u64) {
    let error = ApiError::new(kind);
    let _ = write!(out, "{name}{{reason=\"{kind:?}\",code=\"{}\"", error.code().as_str());
    let _ = writeln!(out, ",status=\"{}\"}} {count}", error.status());
}

/// A histogram's series: cumulative buckets, `+Inf`, `_sum`, `_count`.
fn histogram(
    out: &mut Vec<u8>,
    name: &str,
    labels: &[(&str, &str)],
    snapshot: &HistogramSnapshot,
    unit: Unit,
) {
    let mut cumulative = 0u64;
    for index in 0..=HISTOGRAM_BUCKETS {
        cumulative += snapshot.counts[index];
        let _ = write!(out, "{name}_bucket");
        let bound = (index < HISTOGRAM_BUCKETS).then(|| snapshot.bound(index));
        write_labels(out, labels, Some((bound, unit)));
        let _ = writeln!(out, " {cumulative}");
    }
    let _ = write!(out, "{name}_sum");
    write_labels(out, labels, None);
    out.push(b' ');
    write_scaled(out, snapshot.sum, unit.divisor());
    out.push(b'\n');
    let _ = write!(out, "{name}_count");
    write_labels(out, labels, None);
    let _ = writeln!(out, " {cumulative}");
}

/// `{k="v",…}` (nothing when there are no labels), with `le` last when given (`None`: `+Inf`).
fn write_labels(out: &mut Vec<u8>, labels: &[(&str, &str)], le: Option<(Option<u64>, Unit)>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push(b'{');
    for (index, (key, value)) in labels.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        let _ = write!(out, "{key}=\"");
        for &byte in value.as_bytes() {
            match byte {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'"' => out.extend_from_slice(b"\\\""),
                b'\n' => out.extend_from_slice(b"\\n"),
                _ => out.push(byte),
            }
        }
        out.push(b'"');
    }
    if let Some((bound, unit)) = le {
        if !labels.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(b"le=\"");
        match bound {
            Some(bound) => write_scaled(out, bound, unit.divisor()),
            None => out.extend_from_slice(b"+Inf"),
        }
        out.push(b'"');
    }
    out.push(b'}');
}

/// `value / divisor` (a power of ten) as a decimal, without trailing zeros: `250 / 1000` is
/// `0.25`, `4000 / 1000` is `4`.
fn write_scaled(out: &mut Vec<u8>, value: u64, divisor: u64) {
    debug_assert!(divisor >= 1);
    let _ = write!(out, "{}", value / divisor);
    let mut fraction = value % divisor;
    if fraction == 0 {
        return;
    }
    out.push(b'.');
    let mut digit = divisor / 10;
    while fraction > 0 && digit > 0 {
        out.push(b'0' + (fraction / digit) as u8);
        fraction %= digit;
        digit /= 10;
    }
}

#[cfg(test)]
mod tests;
