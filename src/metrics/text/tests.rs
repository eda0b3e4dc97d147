use super::*;
use crate::ring::RingLevel;
use std::sync::Arc;

struct FixedLevel(u64, u64);

impl RingLevel for FixedLevel {
    fn occupancy(&self) -> u64 {
        self.0
    }
    fn capacity(&self) -> u64 {
        self.1
    }
}

fn text(out: Vec<u8>) -> String {
    String::from_utf8(out).expect("the exposition is UTF-8")
}

#[test]
fn scaled_values_are_plain_decimals() {
    let cases = [
        (250, 1_000, "0.25"),
        (500, 1_000, "0.5"),
        (1_000, 1_000, "1"),
        (4_000, 1_000, "4"),
        (1_234_567, 1_000, "1234.567"),
        (1_005, 1_000, "1.005"),
        (0, 1_000, "0"),
        (7, 1, "7"),
    ];
    for (value, divisor, expected) in cases {
        let mut out = Vec::new();
        write_scaled(&mut out, value, divisor);
        assert_eq!(text(out), expected, "{value} / {divisor}");
    }
}

#[test]
fn a_histogram_is_cumulative_buckets_then_inf_sum_and_count() {
    let mut counts = [0u64; HISTOGRAM_BUCKETS + 1];
    counts[0] = 1; // ≤ 0.25 µs
    counts[2] = 2; // ≤ 1 µs
    counts[HISTOGRAM_BUCKETS] = 1; // above every bound
    let snapshot = HistogramSnapshot { first_bound: 250, counts, sum: 3_000_000_500 };
    let mut out = Vec::new();
    histogram(&mut out, "x_microseconds", &[("span", "a")], &snapshot, Unit::Microseconds);
    let out = text(out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), HISTOGRAM_BUCKETS + 3);
    assert_eq!(
        lines[..4],
        [
            r#"x_microseconds_bucket{span="a",le="0.25"} 1"#,
            r#"x_microseconds_bucket{span="a",le="0.5"} 1"#,
            r#"x_microseconds_bucket{span="a",le="1"} 3"#,
            r#"x_microseconds_bucket{span="a",le="2"} 3"#,
        ]
    );
    assert_eq!(lines[HISTOGRAM_BUCKETS - 1], r#"x_microseconds_bucket{span="a",le="2097152"} 3"#);
    assert_eq!(
        lines[HISTOGRAM_BUCKETS..],
        [
            r#"x_microseconds_bucket{span="a",le="+Inf"} 4"#,
            r#"x_microseconds_sum{span="a"} 3000000.5"#,
            r#"x_microseconds_count{span="a"} 4"#,
        ]
    );
    let mut out = Vec::new();
    let sizes = HistogramSnapshot { first_bound: 1, counts, sum: 9 };
    histogram(&mut out, "g", &[], &sizes, Unit::Count);
    let out = text(out);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..3],
        [r#"g_bucket{le="1"} 1"#, r#"g_bucket{le="2"} 1"#, r#"g_bucket{le="4"} 3"#]
    );
    assert_eq!(lines[HISTOGRAM_BUCKETS + 1..], ["g_sum 9", "g_count 4"]);
}

#[test]
fn label_values_are_escaped() {
    let mut out = Vec::new();
    sample(&mut out, "m", &[("a", "x\"y\\z\nw"), ("b", "c")], 5);
    assert_eq!(text(out), "m{a=\"x\\\"y\\\\z\\nw\",b=\"c\"} 5\n");
}

/// The whole exposition: every family once, `# HELP` then `# TYPE` then only its own series,
/// each series `name{labels} value` with a number for value, buckets never decreasing.
#[test]
fn the_exposition_is_well_formed_and_carries_every_family() {
    let rings: Vec<(&'static str, Arc<dyn RingLevel>)> =
        vec![("a", Arc::new(FixedLevel(3, 8))), ("b", Arc::new(FixedLevel(0, 16)))];
    let metrics = Metrics::new(rings).with_info(vec![("durability", "sync".into())]);
    metrics.net_out.record_response(200);
    metrics.net_out.record_response(404);
    metrics.net_out.record_response(429);
    metrics.net_in.connections_open.set(2);
    metrics.net_in.ip_rate_limited.add(4);
    metrics.sequencer.key_rate_limited.set(5);
    metrics.journal.fsync_ns.record(2_000_000);
    metrics.journal.group_commands.record(3);
    let times = crate::records::StageTimes {
        received_ns: 1_000,
        verified_ns: 2_000,
        sequenced_ns: 2_500,
        matched_ns: 2_600,
    };
    metrics.net_out.record_times(&times, 3_600);
    metrics.net_out.record_rejection(ErrorKind::InvalidSignature);
    metrics.net_out.record_rejection(ErrorKind::InvalidSignature);
    metrics.net_out.record_rejection(ErrorKind::InsufficientFunds);
    let mut out = Vec::new();
    render(&metrics, &mut out);
    let out = text(out);

    for line in [
        r#"ringex_stage_latency_microseconds_bucket{span="received_to_verified",le="1"} 1"#,
        r#"ringex_stage_latency_microseconds_sum{span="received_to_answered"} 2.6"#,
        r#"ringex_stage_latency_microseconds_count{span="sequenced_to_durable"} 0"#,
        r#"ringex_journal_fsync_latency_microseconds_bucket{le="2048"} 1"#,
        r#"ringex_journal_fsync_latency_microseconds_count 1"#,
        r#"ringex_journal_group_commands_bucket{le="4"} 1"#,
        r#"ringex_ring_occupancy_slots{ring="a"} 3"#,
        r#"ringex_ring_capacity_slots{ring="b"} 16"#,
        "ringex_connections_open 2",
        r#"ringex_rejections_total{reason="InvalidSignature",code="INVALID_SIGNATURE",status="401"} 2"#,
        r#"ringex_rejections_total{reason="InsufficientFunds",code="INSUFFICIENT_FUNDS",status="400"} 1"#,
        r#"ringex_rate_limited_total{limit="ip"} 4"#,
        r#"ringex_rate_limited_total{limit="key"} 5"#,
        r#"ringex_info{durability="sync"} 1"#,
        r#"ringex_http_responses_total{class="2xx"} 1"#,
        r#"ringex_http_responses_total{class="4xx"} 2"#,
        r#"ringex_http_responses_total{class="5xx"} 0"#,
    ] {
        assert!(out.lines().any(|held| held == line), "missing {line}\n{out}");
    }
    assert!(!out.contains("reason=\"NotFound\""), "reasons never seen are left out");

    let mut families = Vec::new();
    let mut family: Option<(String, String)> = None;
    let mut previous_bucket: Option<(String, u64)> = None;
    let mut lines = out.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            let kind = lines.next().and_then(|line| line.strip_prefix("# TYPE ")).unwrap();
            let (typed, kind) = kind.split_once(' ').unwrap();
            assert_eq!(typed, name);
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{kind}");
            assert!(!families.contains(&name), "{name} twice");
            families.push(name.clone());
            family = Some((name, kind.to_string()));
            previous_bucket = None;
            continue;
        }
        assert!(!line.starts_with('#'), "{line}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap();
        let (family_name, kind) = family.as_ref().expect("a series after its family");
        if kind == "histogram" {
            let suffix =
                name.strip_prefix(family_name.as_str()).unwrap_or_else(|| panic!("{line}"));
            assert!(["_bucket", "_sum", "_count"].contains(&suffix), "{line}");
            if suffix == "_bucket" {
                let labels = series.split(",le=").next().unwrap().split("le=").next().unwrap();
                let value: u64 = value.parse().unwrap();
                if let Some((held, before)) = &previous_bucket
                    && held == labels
                {
                    assert!(value >= *before, "buckets are cumulative: {line}");
                }
                previous_bucket = Some((labels.to_string(), value));
            }
        } else {
            assert_eq!(name, family_name, "{line}");
        }
        if series.contains('{') {
            assert!(series.ends_with('}'), "{line}");
        }
    }
    // The process's own CPU time and switches, on Linux.
    assert_eq!(families.len(), 18, "{families:?}");
    assert!(out.ends_with('\n'));
}
