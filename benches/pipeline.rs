//! The whole in-process pipeline — producer → verify (signatures already checked) → sequencer →
//! matcher → journal (behind the matcher on ring B) and consumer — in commands/s, in each
//! durability mode, with the group-commit batch observed, in the same run.
//!
//! Run with `cargo bench --bench pipeline` (about a minute on the 2-core reference machine, once
//! built). Without `--bench` (for example `cargo test --benches`) it runs a short stream once per
//! mode through the same checks, shows that an expired stream fails them, and exits.
//!
//! The producer stands in for net-in (it frames raw HTTP requests with net-in's own functions and
//! publishes them into ring A); the consumer stands in for net-out (it drains ring C under the
//! same durability gate). Verify runs in full except the ED25519 check (`trust_signatures`), which
//! `benches/verify.rs` measures on its own. Two verify threads, the `auto` wait strategy.
//!
//! The stream is built once; every run stamps its `X-Timestamp`s with the wall clock just before
//! the timer starts (the window is 60 s, a run takes about a second), and every run is checked
//! before its time counts: no request refused, every request sequenced (and acknowledged under
//! `sync`), and the same events, resting orders, fees and journal records as the first run. A run
//! whose requests were refused (an expired window answers 401, fast) fails the bench instead of
//! being reported as throughput.
//!
//! Output: criterion's groups `pipeline/none`, `pipeline/async`, `pipeline/sync` (commands/s, each
//! sample one whole stream), then a summary from separate whole-stream runs with the modes
//! interleaved run by run: commands/s per mode (median), the mean group commit (records per
//! `fdatasync`), each stage's p50/p99 and, last, `pipeline_sync_vs_none: <ratio>`: commands/s with
//! `--durability sync` over commands/s without a journal — what group commit keeps of the
//! throughput.
//!
//! The journal goes under `$RINGEX_BENCH_DIR` (default: the system temp dir), as in the journal
//! bench, and is removed after each run.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, SamplingMode, Throughput};
use ringex::config::Config;
use ringex::durability::Durability;
use ringex::harness::{Collected, Harness};
use ringex::matcher::Matcher;
use ringex::net::stage::NetInOptions;
use ringex::netout::view::ViewLimits;
use ringex::pipeline::{CoreOptions, Layout, LayoutMode, ServerOptions, recover};
use ringex::ring::WaitMode;
use ringex::sequencer::SequencerLimits;
use ringex::types::AssetId;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Requests per stream (`cargo bench`), deposits included.
const COMMANDS: usize = 300_000;
/// Requests per stream without `--bench` (a check, not a measurement).
const COMMANDS_CHECK: usize = 3_000;
/// Summary runs per durability mode; the median is reported.
const SUMMARY_RUNS: usize = 5;
/// `X-Window` of every request, in ms.
const WINDOW_MS: u64 = 60_000;
/// Distinct windows the stream cycles through (50 to 60 s).
const UNIQUE_WINDOWS: u64 = 10_000;
/// Digits of an `X-Timestamp` in ms (Unix time has 13 until the year 2286).
const TIMESTAMP_DIGITS: usize = 13;
const MODES: [Durability; 3] = [Durability::None, Durability::Async, Durability::Sync];

fn mode_name(durability: Durability) -> &'static str {
    match durability {
        Durability::None => "none",
        Durability::Async => "async",
        Durability::Sync => "sync",
    }
}

// -------------------------------------------------------------------------------------------------
// The request stream.

fn public_key(seed: u8) -> String {
    STANDARD.encode(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key().as_bytes())
}

/// Raw HTTP requests, built once and stamped with the current time before every run.
struct Stream {
    requests: Vec<Vec<u8>>,
    /// Where each request's `X-Timestamp` value starts (`TIMESTAMP_DIGITS` bytes).
    timestamp_offsets: Vec<usize>,
}

impl Stream {
    /// Deposits, then limit orders around a mid (some crossing) and cancels by client id: 60%
    /// place, 10% IOC through the book, 30% cancel. Unique signing strings: request `i` has the
    /// window `WINDOW_MS − i mod 10,000` and is stamped `i / 10,000` ms before the others.
    fn build(count: usize) -> Stream {
        let mut stream = Stream {
            requests: Vec::with_capacity(count),
            timestamp_offsets: Vec::with_capacity(count),
        };
        let admin = STANDARD.encode(ringex::verify::dev_admin_key().0);
        let users: Vec<String> = (1..=16).map(public_key).collect();
        for user in &users {
            for (symbol, quantity) in [("USDC", "1000000000"), ("SOL", "10000000")] {
                let body = format!(
                    r#"{{"account":"{user}","symbol":"{symbol}","quantity":"{quantity}"}}"#
                );
                stream.push(&admin, "POST", "/api/v1/admin/deposit", &body);
            }
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let mut index = 0u32;
        while stream.requests.len() < count {
            index += 1;
            let user = &users[next(16) as usize];
            let side = if next(2) == 0 { "Bid" } else { "Ask" };
            let ticks =
                15_000 + if side == "Bid" { -(next(50) as i64) - 1 } else { next(50) as i64 + 1 };
            let path = "/api/v1/order";
            let body = match next(10) {
                0..6 => format!(
                    r#"{{"symbol":"SOL_USDC","side":"{side}","orderType":"Limit","price":"{}.{:02}","quantity":"1.00","clientId":{index}}}"#,
                    ticks / 100,
                    ticks % 100
                ),
                6 => format!(
                    r#"{{"symbol":"SOL_USDC","side":"{side}","orderType":"Limit","price":"{}","quantity":"1.00","timeInForce":"IOC"}}"#,
                    if side == "Bid" { "151.00" } else { "149.00" }
                ),
                _ => {
                    let body = format!(
                        r#"{{"symbol":"SOL_USDC","clientId":{}}}"#,
                        index.saturating_sub(1 + next(100) as u32)
                    );
                    stream.push(user, "DELETE", path, &body);
                    continue;
                }
            };
            stream.push(user, "POST", path, &body);
        }
        assert_eq!(stream.requests.len(), count);
        stream
    }

    /// Appends one request with a placeholder timestamp (zeros: `stamp` overwrites it).
    fn push(&mut self, api_key: &str, method: &str, path: &str, body: &str) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nX-API-Key: {api_key}\r\nX-Signature: {}\r\nX-Timestamp: ",
            STANDARD.encode([7u8; 64])
        );
        let window_ms = WINDOW_MS - (self.requests.len() as u64 % UNIQUE_WINDOWS);
        let tail =
            format!("\r\nX-Window: {window_ms}\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        let mut request = head.into_bytes();
        self.timestamp_offsets.push(request.len());
        request.extend_from_slice(&[b'0'; TIMESTAMP_DIGITS]);
        request.extend_from_slice(tail.as_bytes());
        self.requests.push(request);
    }

    /// Writes `timestamp_ms` into every request's `X-Timestamp`, less a millisecond per
    /// `UNIQUE_WINDOWS` requests before it (so no two share a timestamp and a window).
    fn stamp(&mut self, timestamp_ms: u64) {
        let offsets = self.requests.iter_mut().zip(&self.timestamp_offsets).enumerate();
        for (index, (request, &offset)) in offsets {
            let stamped_ms = timestamp_ms - index as u64 / UNIQUE_WINDOWS;
            let digits = format!("{stamped_ms:0width$}", width = TIMESTAMP_DIGITS);
            assert_eq!(digits.len(), TIMESTAMP_DIGITS, "timestamp {stamped_ms} ms");
            request[offset..offset + TIMESTAMP_DIGITS].copy_from_slice(digits.as_bytes());
        }
    }

    fn len(&self) -> usize {
        self.requests.len()
    }
}

// -------------------------------------------------------------------------------------------------
// One run: a fresh pipeline, the whole stream, then the checks.

/// What one run did.
struct Run {
    durability: Durability,
    /// Requests sent (the stream's length).
    requests: u64,
    elapsed: Duration,
    collected: Collected,
    matcher: Matcher,
}

/// What every run must end with, whatever the durability: the matcher is deterministic. (Not
/// the state hash: it covers the orders' engine times, which the sequencer reads from the clock.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    events: u64,
    open_orders: usize,
    /// Fees collected in USDC and SOL (the market's two assets), `(available, locked)`.
    fees: [(u64, u64); 2],
}

/// What the first checked run ended with; every later run must end the same.
#[derive(Default)]
struct Reference {
    fingerprint: Option<Fingerprint>,
    /// Records journaled (`async` and `sync`): the commands the matcher applied, not those it
    /// rejected (a cancel of an order no longer resting).
    journaled: Option<u64>,
}

/// Starts a pipeline on an empty data directory, stamps the stream `age_ms` before now, sends it
/// and waits until every stage has drained. Timed: from starting the stages to their last join.
fn run_stream(durability: Durability, stream: &mut Stream, age_ms: u64) -> Run {
    // Like the journal bench: `$RINGEX_BENCH_DIR` picks the disk, the temp dir by default.
    let base = std::env::var_os("RINGEX_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("ringex-bench-pipeline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.clone(),
        config: Arc::new(Config::embedded_default()),
        verify_threads: Some(2),
        layout: LayoutMode::Split,
        wait: WaitMode::Auto,
        pin: Vec::new(),
        durability,
        admin_key: ringex::verify::dev_admin_key(),
        net_in: NetInOptions::default(),
        sequencer: SequencerLimits { replay_entries_max: 1 << 21, ..SequencerLimits::default() },
        view: ViewLimits {
            fills_max: 1 << 10,
            orders_max: 1 << 10,
            deposits_max: 1 << 10,
            withdrawals_max: 1 << 10,
            trades_per_market_max: 1 << 10,
        },
        segment_bytes_max: 256 << 20,
        clocks: ringex::clock::StageClocks::REAL,
        connection: ringex::connections::ConnectionOptions::default(),
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let recovered = recover(&options).unwrap();
    let core = CoreOptions {
        config: options.config.clone(),
        verify_threads: 2,
        layout: Layout::Split,
        wait: WaitMode::Auto.resolve(7, cores),
        durability,
        admin_key: options.admin_key,
        trust_signatures: true,
        clocks: ringex::clock::StageClocks::REAL,
    };
    stream.stamp(ringex::clock::wall_ms() - age_ms);
    let started = Instant::now();
    let mut harness = Harness::start_with(core, recovered, false);
    for request in &stream.requests {
        harness.send(request);
    }
    let (collected, matcher) = harness.finish();
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    Run { durability, requests: stream.len() as u64, elapsed, collected, matcher }
}

impl Run {
    /// Every request answered as a sequenced command: none refused before the matcher (an
    /// expired window, a bad header), each with a sequence number, acknowledged under the
    /// durability gate with `sync`.
    fn check(&self) -> Result<Fingerprint, String> {
        let (collected, requests) = (&self.collected, self.requests);
        let mode = mode_name(self.durability);
        if collected.errors != 0 {
            return Err(format!(
                "{mode}: {} of {requests} requests refused before the matcher",
                collected.errors
            ));
        }
        // One answer per request, plus the `Shutdown` that ends the run.
        if collected.answers != requests + 1 {
            return Err(format!("{mode}: {} answers to {requests} requests", collected.answers));
        }
        // Refused requests and reads get no sequence number: the last one is the count of
        // commands the matcher applied.
        let sequenced = self.matcher.last_sequence().0;
        if sequenced != requests {
            return Err(format!("{mode}: {sequenced} of {requests} requests sequenced"));
        }
        if self.durability == Durability::Sync && collected.acknowledged != requests {
            return Err(format!("{mode}: {} of {requests} acknowledged", collected.acknowledged));
        }
        Ok(Fingerprint {
            events: collected.events,
            open_orders: self.matcher.open_orders(),
            fees: [AssetId(0), AssetId(1)].map(|asset| self.matcher.fee_balance(asset)),
        })
    }
}

/// Runs the stream freshly stamped and panics unless the run passes its checks and ends exactly
/// as the first checked run did.
fn checked_run(durability: Durability, stream: &mut Stream, reference: &mut Reference) -> Run {
    let run = run_stream(durability, stream, 0);
    let mode = mode_name(durability);
    let fingerprint = run.check().unwrap_or_else(|error| panic!("a failed run: {error}"));
    let expected = *reference.fingerprint.get_or_insert(fingerprint);
    assert_eq!(fingerprint, expected, "{mode}: not the first run's events and end state");
    if durability != Durability::None {
        let journaled = run.collected.journaled;
        let expected = *reference.journaled.get_or_insert(journaled);
        assert_eq!(journaled, expected, "{mode}: not the first journaled run's record count");
    }
    run
}

// -------------------------------------------------------------------------------------------------
// Timing.

fn criterion_groups(criterion: &mut Criterion, stream: &mut Stream, reference: &mut Reference) {
    for durability in MODES {
        let mut group = criterion.benchmark_group(format!("pipeline/{}", mode_name(durability)));
        group.throughput(Throughput::Elements(stream.len() as u64));
        // One whole stream (about a second) per sample: 10 samples, no more.
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(5));
        group.bench_function("stream", |bencher| {
            bencher.iter_custom(|streams| {
                (0..streams).map(|_| checked_run(durability, stream, reference).elapsed).sum()
            })
        });
        group.finish();
    }
}

/// The summary of one mode's runs.
struct Measured {
    commands_per_s: f64,
    mean_group_commit: f64,
    stages: String,
}

impl Measured {
    fn of(run: &Run) -> Measured {
        let collected = &run.collected;
        Measured {
            commands_per_s: run.requests as f64 / run.elapsed.as_secs_f64(),
            mean_group_commit: collected.journaled as f64 / collected.commits.max(1) as f64,
            stages: stage_summary(&collected.latencies),
        }
    }
}

/// `p50/p99` of each stage, in µs.
fn stage_summary(latencies: &ringex::harness::StageLatencies) -> String {
    let quantiles = |histogram: &hdrhistogram::Histogram<u64>| {
        let microseconds = |quantile| histogram.value_at_quantile(quantile) as f64 / 1e3;
        format!("{:.1}/{:.1}", microseconds(0.5), microseconds(0.99))
    };
    format!(
        "verify {} · sequence {} · match {} · answer {} µs (p50/p99, saturating load)",
        quantiles(&latencies.verify_ns),
        quantiles(&latencies.sequence_ns),
        quantiles(&latencies.match_ns),
        quantiles(&latencies.answer_ns)
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Whole-stream runs, the modes interleaved run by run so load from other processes hits all
/// three alike; one line per mode, the ratio last.
fn print_summary(stream: &mut Stream, reference: &mut Reference) {
    let mut runs: [Vec<Measured>; 3] = Default::default();
    for _ in 0..SUMMARY_RUNS {
        for (index, durability) in MODES.into_iter().enumerate() {
            runs[index].push(Measured::of(&checked_run(durability, stream, reference)));
        }
    }
    println!();
    println!(
        "== pipeline, {} requests per run, every run checked; modes interleaved, median of \
         {SUMMARY_RUNS} ==",
        stream.len()
    );
    let mut rates = [0.0; 3];
    for (index, durability) in MODES.into_iter().enumerate() {
        let runs = &runs[index];
        rates[index] = median(runs.iter().map(|run| run.commands_per_s).collect());
        let batch = median(runs.iter().map(|run| run.mean_group_commit).collect());
        let journal = match durability {
            Durability::None => "no journal".to_string(),
            _ => format!("mean group commit {batch:.1} records per fdatasync"),
        };
        println!("pipeline/{}: {:.0} commands/s, {journal}", mode_name(durability), rates[index]);
        println!("  stages (last run): {}", runs[SUMMARY_RUNS - 1].stages);
    }
    println!("pipeline_sync_vs_none: {:.3}", rates[2] / rates[0]);
}

/// Without `--bench`: the checks must refuse a stream stamped outside its window.
fn check_expired_is_refused(stream: &mut Stream) {
    let run = run_stream(Durability::None, stream, WINDOW_MS + 1_000);
    let error = run.check().expect_err("an expired stream must fail the checks");
    println!("an expired stream fails the checks: {error}");
}

fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    let flag = |name: &str| arguments.iter().any(|argument| argument == name);
    let full = flag("--bench");
    let mut stream = Stream::build(if full { COMMANDS } else { COMMANDS_CHECK });
    let mut reference = Reference::default();
    let mut criterion = Criterion::default().without_plots().configure_from_args();
    criterion_groups(&mut criterion, &mut stream, &mut reference);
    criterion.final_summary();
    if !full {
        check_expired_is_refused(&mut stream);
        println!("checked every mode on {} requests (run with --bench to time them)", stream.len());
        return;
    }
    // `--list` and `--profile-time N` (criterion's profiling mode) run no summary.
    if !flag("--list") && !flag("--profile-time") {
        print_summary(&mut stream, &mut reference);
    }
}
