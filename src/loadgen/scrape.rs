//! The server's own account of a run: `GET /metrics` scraped just before and just after it, and
//! the difference.
//!
//! The client measures from the outside (scheduled send → answer read); the server's stage
//! stamps say where inside it the time went (`ringex_stage_latency_microseconds`, one histogram
//! per stretch of the pipeline), and its counters say what it answered
//! (`ringex_http_responses_total`, `ringex_rejections_total`). Subtracting the scrape before the
//! run from the one after leaves what the run cost, as long as nobody else talks to the server
//! meanwhile (the report says so). `GET /metrics` itself is not counted by the server, so two
//! scrapes do not disturb the counts they compare.
//!
//! The server's histograms have power-of-two buckets: a stage's mean is exact (sum / count), its
//! percentiles are interpolated inside a bucket as Prometheus' `histogram_quantile` does, and so
//! are only good to the bucket (within 2x). The report stacks means for that reason.
//!
//! The scrape is signed with the administrator's key (`metricsQuery`), so it works from another
//! host too; a loopback server would answer it unsigned.

use super::http;
use super::sign::{self, Account};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The stage-latency histogram family.
const STAGE_FAMILY: &str = "ringex_stage_latency_microseconds";

/// The stretches of the pipeline, in order, that together make `received_to_answered`, with the
/// name a report gives each.
pub const STAGES: [(&str, &str); 4] = [
    ("received_to_verified", "net-in → verified (queue + signature)"),
    ("verified_to_sequenced", "sequencer"),
    ("sequenced_to_matched", "matcher"),
    ("matched_to_answered", "net-out (+ durability wait)"),
];

/// The whole server-side stretch, first byte parsed to answer written.
pub const SERVER_TOTAL: &str = "received_to_answered";

/// The journal's stretch, sequenced → covered by `fdatasync` (beside the others, not in line).
pub const JOURNAL: &str = "sequenced_to_durable";

/// One series: its name, labels and value.
#[derive(Clone, Debug, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// One `GET /metrics` answer, parsed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    samples: Vec<Sample>,
}

impl Scrape {
    /// Fetches `/metrics` from `target`, signed by `admin`.
    pub fn fetch(target: &str, admin: &Account) -> Result<Scrape, String> {
        let request = sign::Request {
            method: "GET",
            path: "/metrics",
            instruction: "metricsQuery",
            fields: &[],
            timestamp_ms: super::setup::wall_ms(),
            window_ms: 5_000,
        };
        let bytes = sign::request_bytes(admin, target, &request);
        let answers = http::exchange(target, &[bytes]).map_err(|error| error.to_string())?;
        let answer = &answers[0];
        if answer.status != 200 {
            return Err(format!("GET /metrics answered {}", answer.reason()));
        }
        Ok(Scrape::parse(&String::from_utf8_lossy(&answer.body)))
    }

    /// Parses the Prometheus text format (comments skipped; a line that does not parse is
    /// skipped too: a newer server may add what this reader does not know).
    pub fn parse(text: &str) -> Scrape {
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .filter_map(parse_line)
            .collect();
        Scrape { samples }
    }

    /// The value of `name` with every label of `labels` (0 when absent).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .find(|sample| sample.name == name && has_labels(sample, labels))
            .map_or(0.0, |sample| sample.value)
    }

    /// Every sample of `name`.
    fn family<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Sample> + 's {
        self.samples.iter().filter(move |sample| sample.name == name)
    }

    /// `ringex_info`'s labels.
    pub fn info(&self) -> BTreeMap<String, String> {
        self.family("ringex_info").flat_map(|sample| sample.labels.clone()).collect()
    }

    /// A histogram's cumulative buckets (upper bound, count; `+Inf` as infinity), sum and count.
    fn histogram(&self, name: &str, labels: &[(&str, &str)]) -> Buckets {
        let bucket_name = format!("{name}_bucket");
        let mut cumulative: Vec<(f64, f64)> = self
            .family(&bucket_name)
            .filter(|sample| has_labels(sample, labels))
            .filter_map(|sample| {
                let le = label(sample, "le")?;
                let bound = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
                Some((bound, sample.value))
            })
            .collect();
        cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
        Buckets {
            cumulative,
            sum: self.value(&format!("{name}_sum"), labels),
            count: self.value(&format!("{name}_count"), labels),
        }
    }
}

/// `name{k="v",…} value` or `name value`.
fn parse_line(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let Some((name, rest)) = series.split_once('{') else {
        return Some(Sample { name: series.to_string(), labels: Vec::new(), value });
    };
    let body = rest.strip_suffix('}')?;
    let mut labels = Vec::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if chars.next() != Some('"') {
            return None;
        }
        let mut text = String::new();
        loop {
            match chars.next()? {
                '\\' => match chars.next()? {
                    'n' => text.push('\n'),
                    other => text.push(other),
                },
                '"' => break,
                other => text.push(other),
            }
        }
        labels.push((key, text));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    Some(Sample { name: name.to_string(), labels, value })
}

fn label<'s>(sample: &'s Sample, key: &str) -> Option<&'s str> {
    sample.labels.iter().find(|(name, _)| name == key).map(|(_, value)| value.as_str())
}

fn has_labels(sample: &Sample, labels: &[(&str, &str)]) -> bool {
    labels.iter().all(|(key, value)| label(sample, key) == Some(value))
}

/// A histogram as scraped.
#[derive(Clone, Debug, Default, PartialEq)]
struct Buckets {
    /// (upper bound, cumulative count), ascending.
    cumulative: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

impl Buckets {
    /// `self − before`, bucket by bucket (same layout: the same server).
    fn minus(&self, before: &Buckets) -> Buckets {
        let earlier = |bound: f64| {
            before.cumulative.iter().find(|(b, _)| *b == bound).map_or(0.0, |(_, count)| *count)
        };
        Buckets {
            cumulative: self
                .cumulative
                .iter()
                .map(|&(bound, count)| (bound, (count - earlier(bound)).max(0.0)))
                .collect(),
            sum: (self.sum - before.sum).max(0.0),
            count: (self.count - before.count).max(0.0),
        }
    }

    /// The `quantile` (0..1), interpolated linearly inside its bucket (the first bucket from 0);
    /// in the `+Inf` bucket, the last finite bound.
    fn quantile(&self, quantile: f64) -> f64 {
        let total = self.cumulative.last().map_or(0.0, |(_, count)| *count);
        if total <= 0.0 {
            return 0.0;
        }
        let rank = quantile * total;
        let mut lower = (0.0, 0.0);
        for &(bound, count) in &self.cumulative {
            if count >= rank {
                if bound.is_infinite() {
                    return lower.0;
                }
                let inside = (count - lower.1).max(f64::MIN_POSITIVE);
                return lower.0 + (bound - lower.0) * (rank - lower.1) / inside;
            }
            lower = (bound, count);
        }
        lower.0
    }

    fn figures(&self, name: &str) -> StageFigures {
        StageFigures {
            name: name.to_string(),
            count: self.count as u64,
            mean_us: if self.count > 0.0 { self.sum / self.count } else { 0.0 },
            p50_us: self.quantile(0.5),
            p99_us: self.quantile(0.99),
        }
    }
}

/// One stretch's figures over a run, µs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageFigures {
    /// The span label (`received_to_verified`, …) or histogram name.
    pub name: String,
    /// Requests that crossed it.
    pub count: u64,
    /// Exact mean.
    pub mean_us: f64,
    /// Median, good to its power-of-two bucket.
    pub p50_us: f64,
    /// 99th percentile, likewise.
    pub p99_us: f64,
}

/// What the server says about one run: the difference of two scrapes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerSide {
    /// `ringex_info`'s labels: version, durability, verify threads, wait strategy.
    pub info: BTreeMap<String, String>,
    /// The stretches of [`STAGES`], then [`SERVER_TOTAL`] and [`JOURNAL`].
    pub stages: Vec<StageFigures>,
    /// The journal's `fdatasync`s.
    pub fsync: StageFigures,
    /// Mean commands made durable per `fdatasync`.
    pub commands_per_fsync: f64,
    /// HTTP responses with a 2xx status.
    pub responses_ok: u64,
    /// HTTP responses with a 4xx or 5xx status.
    pub responses_error: u64,
    /// Error answers and rejected commands by reason (`reason code status`).
    pub rejections: BTreeMap<String, u64>,
    /// Requests refused by a rate limit.
    pub rate_limited: u64,
    /// CPU time of every server thread, s.
    pub cpu_s: f64,
    /// Context switches of every server thread.
    pub context_switches: u64,
    /// Records appended to the journal.
    pub journal_records: u64,
    /// Bytes appended to the journal, record headers included.
    pub journal_bytes: u64,
    /// Wall time between the two scrapes, s (set by whoever timed them).
    pub wall_s: f64,
}

impl ServerSide {
    /// What happened between `before` and `after`.
    pub fn between(before: &Scrape, after: &Scrape) -> ServerSide {
        let span = |label: &str| {
            let labels = [("span", label)];
            after
                .histogram(STAGE_FAMILY, &labels)
                .minus(&before.histogram(STAGE_FAMILY, &labels))
                .figures(label)
        };
        let mut stages: Vec<StageFigures> = STAGES.iter().map(|(label, _)| span(label)).collect();
        stages.push(span(SERVER_TOTAL));
        stages.push(span(JOURNAL));
        let histogram_delta =
            |name: &str| after.histogram(name, &[]).minus(&before.histogram(name, &[]));
        let groups = histogram_delta("ringex_journal_group_commands");
        let counter = |name: &str, labels: &[(&str, &str)]| {
            (after.value(name, labels) - before.value(name, labels)).max(0.0) as u64
        };
        let responses = "ringex_http_responses_total";
        let mut rejections = BTreeMap::new();
        for sample in after.family("ringex_rejections_total") {
            let labels: Vec<(&str, &str)> =
                sample.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let count = counter("ringex_rejections_total", &labels);
            if count > 0 {
                let name = |key| label(sample, key).unwrap_or("-");
                let reason = format!("{} {} {}", name("status"), name("code"), name("reason"));
                rejections.insert(reason, count);
            }
        }
        ServerSide {
            info: after.info(),
            stages,
            fsync: histogram_delta("ringex_journal_fsync_latency_microseconds").figures("fsync"),
            commands_per_fsync: if groups.count > 0.0 { groups.sum / groups.count } else { 0.0 },
            responses_ok: counter(responses, &[("class", "2xx")]),
            responses_error: counter(responses, &[("class", "4xx")])
                + counter(responses, &[("class", "5xx")]),
            rejections,
            rate_limited: counter("ringex_rate_limited_total", &[]),
            cpu_s: (after.value("process_cpu_seconds_total", &[])
                - before.value("process_cpu_seconds_total", &[]))
            .max(0.0),
            context_switches: counter("ringex_context_switches_total", &[]),
            journal_records: counter("ringex_journal_records_total", &[]),
            journal_bytes: counter("ringex_journal_bytes_total", &[]),
            wall_s: 0.0,
        }
    }

    /// The server's CPU over the run, in cores (1.0: one core busy throughout); 0 untimed.
    pub fn cpu_cores(&self) -> f64 {
        if self.wall_s > 0.0 { self.cpu_s / self.wall_s } else { 0.0 }
    }

    /// Context switches per second over the run; 0 untimed.
    pub fn switches_per_s(&self) -> f64 {
        if self.wall_s > 0.0 { self.context_switches as f64 / self.wall_s } else { 0.0 }
    }

    /// Whether the server answered what a client counted: its 2xx responses are the client's
    /// acknowledgements and its error responses the client's rejections.
    pub fn agrees_with(&self, acknowledged: u64, rejected: u64) -> bool {
        self.responses_ok == acknowledged && self.responses_error == rejected
    }

    /// The figures of one span label.
    pub fn stage(&self, name: &str) -> Option<&StageFigures> {
        self.stages.iter().find(|stage| stage.name == name)
    }

    /// The durability mode the server ran in (`?` from a server that does not say).
    pub fn durability(&self) -> &str {
        self.info.get("durability").map_or("?", String::as_str)
    }

    /// The thread layout the server ran (`None` from a server that does not say).
    pub fn layout(&self) -> Option<&str> {
        self.info.get("layout").map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "\
# HELP ringex_info How this server runs (always 1).
# TYPE ringex_info gauge
ringex_info{version=\"0.1.0\",durability=\"async\",verify_threads=\"2\",wait=\"backoff\"} 1
ringex_stage_latency_microseconds_bucket{span=\"received_to_verified\",le=\"64\"} 10
ringex_stage_latency_microseconds_bucket{span=\"received_to_verified\",le=\"128\"} 10
ringex_stage_latency_microseconds_bucket{span=\"received_to_verified\",le=\"+Inf\"} 10
ringex_stage_latency_microseconds_sum{span=\"received_to_verified\"} 500.5
ringex_stage_latency_microseconds_count{span=\"received_to_verified\"} 10
ringex_http_responses_total{class=\"2xx\"} 7
ringex_http_responses_total{class=\"4xx\"} 3
ringex_rejections_total{reason=\"OrderNotFound\",code=\"RESOURCE_NOT_FOUND\",status=\"404\"} 3
process_cpu_seconds_total 1.5
ringex_context_switches_total 100
";

    /// 100 more requests: 50 within 64 µs, 40 within 128 µs, 10 beyond.
    const AFTER: &str = "\
ringex_info{version=\"0.1.0\",durability=\"async\",verify_threads=\"2\",wait=\"backoff\"} 1
ringex_stage_latency_microseconds_bucket{span=\"received_to_verified\",le=\"64\"} 60
ringex_stage_latency_microseconds_bucket{span=\"received_to_verified\",le=\"128\"} 100
ringex_stage_latency_microseconds_bucket{span=\"received_to_verified\",le=\"+Inf\"} 110
ringex_stage_latency_microseconds_sum{span=\"received_to_verified\"} 10500.5
ringex_stage_latency_microseconds_count{span=\"received_to_verified\"} 110
ringex_http_responses_total{class=\"2xx\"} 97
ringex_http_responses_total{class=\"4xx\"} 8
ringex_http_responses_total{class=\"5xx\"} 1
ringex_rejections_total{reason=\"OrderNotFound\",code=\"RESOURCE_NOT_FOUND\",status=\"404\"} 8
ringex_rejections_total{reason=\"Internal\",code=\"INTERNAL_ERROR\",status=\"500\"} 1
process_cpu_seconds_total 3.5
ringex_context_switches_total 1100
";

    #[test]
    fn a_run_is_the_difference_of_two_scrapes() {
        let side = ServerSide::between(&Scrape::parse(BEFORE), &Scrape::parse(AFTER));
        assert_eq!(side.durability(), "async");
        assert_eq!(side.info["verify_threads"], "2");
        let verify = side.stage("received_to_verified").unwrap();
        assert_eq!(verify.count, 100);
        assert_eq!(verify.mean_us, 100.0);
        // The 50th of 100 is the last of the first 50, at the top of the 0..64 bucket.
        assert_eq!(verify.p50_us, 64.0);
        // The 99th falls in +Inf: the last finite bound.
        assert_eq!(verify.p99_us, 128.0);
        assert_eq!((side.responses_ok, side.responses_error), (90, 6));
        let expected: BTreeMap<String, u64> = [
            ("404 RESOURCE_NOT_FOUND OrderNotFound".to_string(), 5),
            ("500 INTERNAL_ERROR Internal".to_string(), 1),
        ]
        .into_iter()
        .collect();
        assert_eq!(side.rejections, expected);
        // 2 s of CPU and 1,000 switches; over 4 s of wall time, half a core.
        let mut side = side;
        assert_eq!((side.cpu_s, side.context_switches, side.cpu_cores()), (2.0, 1000, 0.0));
        side.wall_s = 4.0;
        assert_eq!((side.cpu_cores(), side.switches_per_s()), (0.5, 250.0));
        // Spans the server did not report are empty, not missing.
        assert_eq!(side.stage(JOURNAL).unwrap().count, 0);
    }

    #[test]
    fn labels_with_escapes_and_unlabelled_series_parse() {
        let scrape = Scrape::parse("a{k=\"x\\\"y\",le=\"+Inf\"} 3\nb 4.5\nnot a sample\n");
        assert_eq!(scrape.value("a", &[("k", "x\"y")]), 3.0);
        assert_eq!(scrape.value("b", &[]), 4.5);
        assert_eq!(scrape.value("missing", &[]), 0.0);
    }

    #[test]
    fn a_quantile_interpolates_inside_its_bucket() {
        let buckets = Buckets {
            cumulative: vec![(1.0, 0.0), (2.0, 100.0), (f64::INFINITY, 100.0)],
            sum: 150.0,
            count: 100.0,
        };
        assert_eq!(buckets.quantile(0.5), 1.5);
        assert_eq!(buckets.quantile(0.99), 1.99);
        assert_eq!(Buckets::default().quantile(0.5), 0.0);
    }
}
