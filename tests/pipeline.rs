//! The middle of the pipeline on its threads, fed by a stand-in for net-in and drained by a
//! stand-in for net-out (the `harness`): determinism across layouts, verify thread counts and
//! wait strategies, restart = replay, and acknowledgements only after `fdatasync` (in each
//! layout).
//!
//! Command counts come from the environment so the same tests run larger in `scripts/`:
//! `RINGEX_DETERMINISM_COMMANDS` (default 100,000) and `RINGEX_DURABLE_COMMANDS` (acknowledgements
//! checked against the durable sequence per layout, default at least 500,000).

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::TestDir;
use ringex::clock::StageClocks;
use ringex::config::Config;
use ringex::durability::Durability;
use ringex::harness::{Collected, Harness};
use ringex::pipeline::{CoreOptions, Layout, ServerOptions, recover};
use ringex::ring::WaitStrategy;
use std::sync::Arc;

const ENGINE_TIME_US: u64 = 1_700_000_000_000_000;

fn fixed_clock() -> u64 {
    ENGINE_TIME_US
}

fn commands_from_env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

fn public_key(seed: u8) -> String {
    STANDARD.encode(ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key().as_bytes())
}

/// A request with the headers of a signed one. The harness runs verify trusting signatures, so
/// the signature is a placeholder; everything else is checked as usual.
/// A request signed (trusted, so the signature is a placeholder) at `(timestamp_ms, window_ms)`.
fn signed(api_key: &str, method: &str, path: &str, body: &str, stamp: (u64, u64)) -> Vec<u8> {
    let (timestamp_ms, window_ms) = stamp;
    format!(
        "{method} {path} HTTP/1.1\r\nX-API-Key: {api_key}\r\nX-Signature: {}\r\nX-Timestamp: {timestamp_ms}\r\nX-Window: {window_ms}\r\nContent-Length: {}\r\n\r\n{body}",
        STANDARD.encode([7u8; 64]),
        body.len()
    )
    .into_bytes()
}

/// A deterministic mixed stream: deposits for eight accounts, then limit orders around a moving
/// mid, IOC and market orders, cancels by client id, cancel-alls, balance queries. Requests are
/// stamped with the wall clock as they are made (so none expires however long a run takes);
/// every signing string is unique (the window varies with the request's number, 50 to 60 s, and
/// fewer than 10,000 requests are made in one millisecond), so the replay cache never
/// interferes. Everything but the timestamps is a function of
/// the seed.
struct Stream {
    random: XorShift,
    admin: String,
    users: Vec<String>,
    made: usize,
    mid: i64,
    client_id: u32,
}

impl Stream {
    fn new() -> Stream {
        Stream {
            random: XorShift(0x2545_F491_4F6C_DD1D),
            admin: STANDARD.encode(ringex::verify::dev_admin_key().0),
            users: (1..=8).map(public_key).collect(),
            made: 0,
            mid: 15_000,
            client_id: 0,
        }
    }

    fn next_request(&mut self) -> Vec<u8> {
        let made = self.made;
        let stamp = (ringex::clock::wall_ms(), 60_000 - (made % 10_000) as u64);
        self.made += 1;
        if made < self.users.len() * 2 {
            let user = &self.users[made / 2];
            let (symbol, quantity) =
                if made.is_multiple_of(2) { ("USDC", "100000000") } else { ("SOL", "1000000") };
            let body =
                format!(r#"{{"account":"{user}","symbol":"{symbol}","quantity":"{quantity}"}}"#);
            return signed(&self.admin, "POST", "/api/v1/admin/deposit", &body, stamp);
        }
        let random = &mut self.random;
        let user = &self.users[random.below(self.users.len() as u64) as usize];
        self.mid = (self.mid + random.below(11) as i64 - 5).clamp(10_000, 20_000);
        let mid = self.mid;
        let side = if random.below(2) == 0 { "Bid" } else { "Ask" };
        let offset = random.below(40) as i64 + 1;
        let price = if side == "Bid" { mid - offset } else { mid + offset };
        let price = format!("{}.{:02}", price / 100, price % 100);
        let quantity = format!("{}.{:02}", random.below(5), 1 + random.below(99));
        self.client_id = self.client_id.wrapping_add(1);
        let client_id = self.client_id;
        let order = |body: String| signed(user, "POST", "/api/v1/order", &body, stamp);
        match random.below(100) {
            0..55 => order(format!(
                r#"{{"symbol":"SOL_USDC","side":"{side}","orderType":"Limit","price":"{price}","quantity":"{quantity}","clientId":{client_id}}}"#
            )),
            55..62 => {
                let through = if side == "Bid" { mid + 20 } else { mid - 20 };
                order(format!(
                    r#"{{"symbol":"SOL_USDC","side":"{side}","orderType":"Limit","price":"{}.{:02}","quantity":"{quantity}","timeInForce":"IOC","clientId":{client_id}}}"#,
                    through / 100,
                    through % 100
                ))
            }
            62..66 => order(format!(
                r#"{{"symbol":"SOL_USDC","side":"{side}","orderType":"Market","quantity":"{quantity}","clientId":{client_id}}}"#
            )),
            66..94 => {
                let target = client_id.saturating_sub(1 + random.below(200) as u32).max(1);
                let body = format!(r#"{{"symbol":"SOL_USDC","clientId":{target}}}"#);
                signed(user, "DELETE", "/api/v1/order", &body, stamp)
            }
            94..95 => signed(user, "DELETE", "/api/v1/orders", r#"{"symbol":"SOL_USDC"}"#, stamp),
            _ => signed(user, "GET", "/api/v1/capital", "", stamp),
        }
    }
}

fn core_options(
    layout: Layout,
    verify_threads: usize,
    wait: WaitStrategy,
    durability: Durability,
) -> CoreOptions {
    CoreOptions {
        config: Arc::new(Config::embedded_default()),
        verify_threads,
        layout,
        wait,
        durability,
        admin_key: ringex::verify::dev_admin_key(),
        trust_signatures: true,
        // Requests are stamped with the wall clock; the engine time is fixed.
        clocks: StageClocks { verify_us: ringex::clock::wall_us, sequencer_us: fixed_clock },
    }
}

fn server_options(dir: &TestDir, durability: Durability) -> ServerOptions {
    let mut options = ServerOptions { durability, ..common::options(dir.0.clone()) };
    // Every signed request of a long run stays in the replay cache for its 60 s window.
    options.sequencer.replay_entries_max = 1 << 21;
    options
}

fn run(
    commands: usize,
    layout: Layout,
    verify_threads: usize,
    wait: WaitStrategy,
) -> (Collected, u128) {
    let dir = TestDir::new("determinism");
    let recovered = recover(&server_options(&dir, Durability::None)).unwrap();
    let mut harness =
        Harness::start(core_options(layout, verify_threads, wait, Durability::None), recovered);
    let mut stream = Stream::new();
    for _ in 0..commands {
        harness.send(&stream.next_request());
    }
    let (collected, matcher) = harness.finish();
    matcher.check_invariants().unwrap();
    (collected, matcher.state_hash())
}

#[test]
fn identical_streams_give_identical_events_whatever_the_layout_threads_and_waits() {
    let commands = commands_from_env("RINGEX_DETERMINISM_COMMANDS", 100_000);
    let (reference, reference_hash) = run(commands, Layout::Split, 1, WaitStrategy::Park);
    assert_eq!(reference.answers, commands as u64 + 1, "every request answered, plus shutdown");
    assert!(reference.events > commands as u64, "the stream trades: {} events", reference.events);
    assert!(reference.errors < commands as u64 / 2, "{} errors", reference.errors);
    for layout in [Layout::Split, Layout::Fused] {
        for verify_threads in [1, 2, 4] {
            for wait in [
                WaitStrategy::BusySpin,
                WaitStrategy::Yield,
                WaitStrategy::Park,
                WaitStrategy::Backoff,
            ] {
                let case = format!("{layout}, {verify_threads} verify threads, {wait:?}");
                let (collected, state_hash) = run(commands, layout, verify_threads, wait);
                assert_eq!(collected, reference, "{case}");
                assert_eq!(state_hash, reference_hash, "{case}");
            }
        }
    }
}

#[test]
fn acknowledgements_wait_for_fdatasync_and_restart_equals_replay_split() {
    acknowledgements_wait_for_fdatasync_and_restart_equals_replay(Layout::Split);
}

#[test]
fn acknowledgements_wait_for_fdatasync_and_restart_equals_replay_fused() {
    acknowledgements_wait_for_fdatasync_and_restart_equals_replay(Layout::Fused);
}

fn acknowledgements_wait_for_fdatasync_and_restart_equals_replay(layout: Layout) {
    // At least this many acknowledgements pass the durability assert; 5% of the stream is reads,
    // which get no sequence number, so a few more requests are sent.
    let acknowledged_min = commands_from_env("RINGEX_DURABLE_COMMANDS", 500_000);
    let commands = acknowledged_min * 100 / 94;
    let dir = TestDir::new("durable");
    let options = server_options(&dir, Durability::Sync);
    let recovered = recover(&options).unwrap();
    let mut harness =
        Harness::start(core_options(layout, 2, WaitStrategy::Backoff, Durability::Sync), recovered);
    let mut stream = Stream::new();
    for _ in 0..commands {
        harness.send(&stream.next_request());
    }
    let (collected, live) = harness.finish();
    // Every sequenced command's answer passed the durability assert.
    assert!(
        collected.acknowledged >= acknowledged_min as u64,
        "{} acknowledged of {acknowledged_min}",
        collected.acknowledged
    );
    // (Commands the matcher rejected have sequence numbers too and are answered under the same
    // gate: the count is every sequence number issued.)
    assert_eq!(collected.acknowledged, live.last_sequence().0);
    // A restart replays the journal to the identical state.
    let replayed = recover(&options).unwrap();
    assert_eq!(replayed.matcher.state_hash(), live.state_hash());
    assert_eq!(replayed.matcher.recompute_state_hash(), live.state_hash());
    assert!(replayed.records > 0 && replayed.records <= live.last_sequence().0);
}
