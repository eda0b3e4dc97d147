//! The whole in-process pipeline — producer → verify (signatures already checked) → sequencer →
//! journal → matcher → consumer — in commands/s, in each durability mode, with the group-commit
//! batch observed, in the same run.
//!
//! The producer stands in for net-in (it frames raw HTTP requests with net-in's own functions and
//! publishes them into ring A); the consumer stands in for net-out (it drains ring C under the
//! same durability gate). Verify runs in full except the ED25519 check (`trust_signatures`), which
//! `benches/verify.rs` measures on its own. Two verify threads, the `auto` wait strategy.
//!
//! The last line is `pipeline_sync_vs_none: <ratio>`: commands/s with `--durability sync` over
//! commands/s without a journal — what group commit keeps of the throughput.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ringex::config::Config;
use ringex::harness::Harness;
use ringex::journal::stage::Durability;
use ringex::net::stage::NetInOptions;
use ringex::netout::view::ViewLimits;
use ringex::pipeline::{CoreOptions, ServerOptions, recover};
use ringex::ring::WaitMode;
use ringex::sequencer::SequencerLimits;
use std::sync::Arc;
use std::time::Instant;

const COMMANDS: usize = 300_000;
const ROUNDS: usize = 3;

fn public_key(seed: u8) -> String {
    STANDARD.encode(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key().as_bytes())
}

fn request(api_key: &str, method: &str, path: &str, body: &str, timestamp_ms: u64) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nX-API-Key: {api_key}\r\nX-Signature: {}\r\nX-Timestamp: {timestamp_ms}\r\nX-Window: 60000\r\nContent-Length: {}\r\n\r\n{body}",
        STANDARD.encode([7u8; 64]),
        body.len()
    )
    .into_bytes()
}

/// Deposits, then limit orders around a mid (some crossing) and cancels by client id: 60% place,
/// 10% IOC through the book, 30% cancel. Unique signing strings (a `nonce` query parameter).
fn requests(count: usize) -> Vec<Vec<u8>> {
    let timestamp_ms = ringex::clock::wall_ms();
    let admin = STANDARD.encode(ringex::verify::dev_admin_key().0);
    let users: Vec<String> = (1..=16).map(public_key).collect();
    let mut out = Vec::with_capacity(count);
    for user in &users {
        for (symbol, quantity) in [("USDC", "1000000000"), ("SOL", "10000000")] {
            let body =
                format!(r#"{{"account":"{user}","symbol":"{symbol}","quantity":"{quantity}"}}"#);
            out.push(request(&admin, "POST", "/api/v1/admin/deposit", &body, timestamp_ms));
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
    while out.len() < count {
        index += 1;
        let user = &users[next(16) as usize];
        let side = if next(2) == 0 { "Bid" } else { "Ask" };
        let ticks =
            15_000 + if side == "Bid" { -(next(50) as i64) - 1 } else { next(50) as i64 + 1 };
        let path = format!("/api/v1/order?nonce={index}");
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
                out.push(request(user, "DELETE", &path, &body, timestamp_ms));
                continue;
            }
        };
        out.push(request(user, "POST", &path, &body, timestamp_ms));
    }
    out
}

struct Measured {
    commands_per_s: f64,
    mean_group_commit: f64,
    stages: String,
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

fn run(durability: Durability, requests: &[Vec<u8>]) -> Measured {
    let dir = std::env::temp_dir().join(format!("ringex-bench-pipeline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.clone(),
        config: Arc::new(Config::embedded_default()),
        verify_threads: 2,
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
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let recovered = recover(&options).unwrap();
    let core = CoreOptions {
        config: options.config.clone(),
        verify_threads: 2,
        wait: WaitMode::Auto.resolve(7, cores),
        durability,
        admin_key: options.admin_key,
        trust_signatures: true,
        clock: ringex::clock::wall_us,
    };
    let started = Instant::now();
    let mut harness = Harness::start_with(core, recovered, false);
    for request in requests {
        harness.send(request);
    }
    let (collected, _matcher) = harness.finish();
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(collected.answers, requests.len() as u64 + 1);
    let _ = std::fs::remove_dir_all(&dir);
    let commits = collected.commits.max(1);
    Measured {
        commands_per_s: requests.len() as f64 / elapsed,
        mean_group_commit: collected.journaled as f64 / commits as f64,
        stages: stage_summary(&collected.latencies),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() {
    if std::env::args().any(|argument| argument == "--list") {
        return;
    }
    let requests = requests(COMMANDS);
    let mut results = Vec::new();
    for durability in [Durability::None, Durability::Async, Durability::Sync] {
        let runs: Vec<Measured> = (0..ROUNDS).map(|_| run(durability, &requests)).collect();
        let rate = median(runs.iter().map(|run| run.commands_per_s).collect());
        let batch = median(runs.iter().map(|run| run.mean_group_commit).collect());
        println!(
            "pipeline/{durability:?}: {rate:.0} commands/s (median of {ROUNDS}), mean group commit {batch:.1} records per fdatasync"
        );
        println!("  stages (last run): {}", runs[ROUNDS - 1].stages);
        results.push(rate);
    }
    println!("pipeline_sync_vs_none: {:.3}", results[2] / results[0]);
}
