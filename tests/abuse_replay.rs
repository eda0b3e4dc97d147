//! Hostile clients, issue 19 item 2 (first fixed by issue 14): one signed request runs at most
//! once, even when its copies reach the server at the end of its window. The real server on
//! loopback, many concurrent copies of one signed order and one signed withdrawal, balances,
//! open orders and withdrawal records checked after each round.
//!
//! The first test freezes the two clocks that judge a window (verify's and the sequencer's) at
//! chosen instants, so a copy verified in the window's last millisecond and sequenced in the next
//! is what happens every time, not what timing luck might produce: the bug this guards against
//! ran such copies every time. The second keeps the wall clock and sends the copies timed around
//! the end of a short window, as an attacker with a captured request would.

mod common;

use common::{Signed, TestDir, TestServer, admin_post, now_ms, options, public_key, user_secret};
use serde_json::json;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

/// Concurrent copies of one request per burst.
const COPIES: usize = 48;
/// The window of the requests the frozen-clock test copies, ms.
const WINDOW_MS: u64 = 1_000;
/// The window on the wall clock: long enough that the early copy's round trip fits in it even
/// on a loaded two-core machine.
const WALL_WINDOW_MS: u64 = 2_000;
/// Price and quantity of the copied order (it rests, locking 10 USDC).
const ORDER_LOCKS_USDC: u64 = 10;
/// Quantity of the copied withdrawal, USDC.
const WITHDRAWAL_USDC: u64 = 10;

static VERIFY_MS: AtomicU64 = AtomicU64::new(0);
static SEQUENCER_MS: AtomicU64 = AtomicU64::new(0);

fn verify_clock_us() -> u64 {
    VERIFY_MS.load(Ordering::SeqCst) * 1000
}

fn sequencer_clock_us() -> u64 {
    SEQUENCER_MS.load(Ordering::SeqCst) * 1000
}

/// Sets the instants verify and the sequencer read for every request sent from now on.
fn set_clocks(verify_ms: u64, sequencer_ms: u64) {
    VERIFY_MS.store(verify_ms, Ordering::SeqCst);
    SEQUENCER_MS.store(sequencer_ms, Ordering::SeqCst);
}

/// The test server's options, with room for several bursts' connections at once (a burst's
/// sockets may still be closing when the next one connects).
fn server_options(dir: &TestDir) -> ringex::pipeline::ServerOptions {
    let mut options = options(dir.0.clone());
    options.net_in.connections_max = 1024;
    options
}

/// What one copy was answered.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    executed: usize,
    duplicate: usize,
    expired: usize,
}

/// Sends `copies` copies of `request` at once, each on its own connection (all connected first,
/// then written together), and tallies the answers; any other answer fails the test.
fn send_copies(address: SocketAddr, request: &[u8], copies: usize) -> Tally {
    let barrier = Arc::new(Barrier::new(copies));
    let threads: Vec<_> = (0..copies)
        .map(|_| {
            let barrier = barrier.clone();
            let request = request.to_vec();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(address).unwrap();
                stream.set_nodelay(true).unwrap();
                barrier.wait();
                stream.write_all(&request).unwrap();
                common::read_response(&mut stream)
            })
        })
        .collect();
    let mut tally = Tally::default();
    for thread in threads {
        let (status, body) = thread.join().unwrap();
        match status {
            200 => tally.executed += 1,
            409 => {
                assert_eq!(
                    body,
                    r#"{"code":"INVALID_CLIENT_REQUEST","message":"Duplicate request"}"#
                );
                tally.duplicate += 1;
            }
            401 => {
                assert_eq!(
                    body,
                    r#"{"code":"INVALID_CLIENT_REQUEST","message":"Request has expired"}"#
                );
                tally.expired += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    tally
}

fn tally(executed: usize, duplicate: usize, expired: usize) -> Tally {
    Tally { executed, duplicate, expired }
}

/// A resting bid for 0.1 SOL at 100 USDC: locks 10 USDC.
fn order(secret: &str, timestamp_ms: u64, window_ms: u64) -> Vec<u8> {
    let body = json!({"symbol":"SOL_USDC","side":"Bid","orderType":"Limit","price":"100","quantity":"0.1"});
    signed(secret, "POST", "/api/v1/order", "orderExecute", Some(body), timestamp_ms, window_ms)
}

fn withdrawal(secret: &str, timestamp_ms: u64, window_ms: u64) -> Vec<u8> {
    let body = json!({
        "address": "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin",
        "blockchain": "Solana",
        "quantity": WITHDRAWAL_USDC.to_string(),
        "symbol": "USDC",
    });
    let path = "/wapi/v1/capital/withdrawals";
    signed(secret, "POST", path, "withdraw", Some(body), timestamp_ms, window_ms)
}

fn signed(
    secret: &str,
    method: &str,
    path: &str,
    instruction: &str,
    body: Option<serde_json::Value>,
    timestamp_ms: u64,
    window_ms: u64,
) -> Vec<u8> {
    let query = "";
    let window_ms = Some(window_ms);
    Signed { secret, method, path, query, instruction, body, timestamp_ms, window_ms }
        .request(None, "")
}

/// A signed GET at `timestamp_ms`, answered 200: its JSON.
fn query(
    address: SocketAddr,
    secret: &str,
    path: &str,
    instruction: &str,
    at_ms: u64,
) -> serde_json::Value {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let window_ms = Some(WINDOW_MS);
    let request = Signed {
        secret,
        method: "GET",
        path,
        query,
        instruction,
        body: None,
        timestamp_ms: at_ms,
        window_ms,
    }
    .request(None, "");
    let (status, body) = common::raw_request(address, &request);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// What the account holds and has done, read at `at_ms`.
#[derive(Debug, PartialEq)]
struct Account {
    usdc_available: String,
    usdc_locked: String,
    open_orders: usize,
    withdrawals: usize,
}

fn account(address: SocketAddr, secret: &str, at_ms: u64) -> Account {
    let balances = query(address, secret, "/api/v1/capital", "balanceQuery", at_ms);
    let orders = query(address, secret, "/api/v1/orders?symbol=SOL_USDC", "orderQueryAll", at_ms);
    let withdrawals =
        query(address, secret, "/wapi/v1/capital/withdrawals", "withdrawalQueryAll", at_ms);
    Account {
        usdc_available: balances["USDC"]["available"].as_str().unwrap().to_string(),
        usdc_locked: balances["USDC"]["locked"].as_str().unwrap().to_string(),
        open_orders: orders.as_array().unwrap().len(),
        withdrawals: withdrawals.as_array().unwrap().len(),
    }
}

/// Waits for the wall clock to pass `at_ms` (the test's own schedule, not a synchronisation).
fn sleep_until_ms(at_ms: u64) {
    while now_ms() <= at_ms {
        std::thread::sleep(std::time::Duration::from_millis(at_ms + 1 - now_ms().min(at_ms)));
    }
}

fn usdc(units: u64) -> String {
    format!("{units}.000000")
}

/// One copied request: an early copy or none, then bursts at the end of its window, with verify
/// reading `timestamp + window` and the sequencer the same instant, one millisecond later and a
/// whole window later. Exactly one copy runs.
fn attack_with_frozen_clocks(address: SocketAddr, request: &[u8], timestamp_ms: u64, early: bool) {
    let end_ms = timestamp_ms + WINDOW_MS;
    let mut executed = 0;
    if early {
        set_clocks(timestamp_ms, timestamp_ms);
        assert_eq!(send_copies(address, request, 1), tally(1, 0, 0));
        executed += 1;
    }
    set_clocks(end_ms, end_ms);
    let burst = send_copies(address, request, COPIES);
    assert_eq!(burst.executed + executed, 1, "{burst:?}");
    assert_eq!(burst.duplicate + burst.executed, COPIES, "{burst:?}");
    set_clocks(end_ms, end_ms + 1);
    assert_eq!(send_copies(address, request, COPIES), tally(0, 0, COPIES));
    set_clocks(end_ms, end_ms + WINDOW_MS);
    assert_eq!(send_copies(address, request, COPIES), tally(0, 0, COPIES));
}

#[test]
fn copies_verified_in_the_last_millisecond_of_their_window_run_once() {
    let dir = TestDir::new("replay-window-frozen");
    let mut options = server_options(&dir);
    options.clocks =
        ringex::clock::StageClocks { verify_us: verify_clock_us, sequencer_us: sequencer_clock_us };
    let start_ms = now_ms();
    set_clocks(start_ms, start_ms);
    let server = TestServer::start(options);
    let address = server.address;
    let secret = user_secret(41);
    let deposit_usdc = 1_000;
    let body = json!({"account": public_key(&secret), "symbol": "USDC", "quantity": deposit_usdc.to_string()});
    let admin = common::admin_secret();
    let deposit = signed(
        &admin,
        "POST",
        "/api/v1/admin/deposit",
        "adminDeposit",
        Some(body),
        start_ms,
        WINDOW_MS,
    );
    assert_eq!(send_copies(address, &deposit, 1), tally(1, 0, 0));

    // Each round moves both clocks a minute on (the sequencer's never goes back) and copies four
    // requests: an order and a withdrawal, each with and without an early copy.
    let rounds = 4;
    for round in 0..rounds {
        let base_ms = start_ms + 60_000 * (round + 1);
        for (offset_ms, early) in [(0, true), (20_000, false)] {
            let at_ms = base_ms + offset_ms;
            attack_with_frozen_clocks(address, &order(&secret, at_ms, WINDOW_MS), at_ms, early);
            let at_ms = at_ms + 10_000;
            let request = withdrawal(&secret, at_ms, WINDOW_MS);
            attack_with_frozen_clocks(address, &request, at_ms, early);
        }
        let read_ms = base_ms + 50_000;
        set_clocks(read_ms, read_ms);
        let done = 2 * (round + 1);
        let expected = Account {
            usdc_available: usdc(deposit_usdc - done * (ORDER_LOCKS_USDC + WITHDRAWAL_USDC)),
            usdc_locked: usdc(done * ORDER_LOCKS_USDC),
            open_orders: done as usize,
            withdrawals: done as usize,
        };
        assert_eq!(account(address, &secret, read_ms), expected, "after round {round}");
    }
    let engine = server.stop();
    engine.check_invariants().unwrap();
}

#[test]
fn copies_timed_around_the_end_of_the_window_on_the_wall_clock_run_once() {
    let dir = TestDir::new("replay-window-wall");
    let server = TestServer::start(server_options(&dir));
    let address = server.address;
    let secret = user_secret(42);
    let deposit_usdc = 1_000;
    let body = json!({"account": public_key(&secret), "symbol": "USDC", "quantity": deposit_usdc.to_string()});
    let (status, answer) = admin_post(address, "/api/v1/admin/deposit", "adminDeposit", body);
    assert_eq!(status, 200, "{answer}");

    // The copies are released together a few milliseconds before the window ends; where each
    // lands relative to the end is up to the scheduler, and whatever it is, at most one runs.
    let rounds = 2;
    let (mut orders, mut withdrawals) = (0u64, 0u64);
    for round in 0..rounds {
        for (is_order, early) in [(true, true), (true, false), (false, true), (false, false)] {
            let timestamp_ms = now_ms();
            let request = if is_order {
                order(&secret, timestamp_ms, WALL_WINDOW_MS)
            } else {
                withdrawal(&secret, timestamp_ms, WALL_WINDOW_MS)
            };
            let mut executed = 0;
            if early {
                assert_eq!(send_copies(address, &request, 1), tally(1, 0, 0));
                executed += 1;
            }
            // Scheduling the attack, not synchronising with the server.
            let release_ms = timestamp_ms + WALL_WINDOW_MS - 2;
            sleep_until_ms(release_ms);
            let burst = send_copies(address, &request, COPIES);
            executed += burst.executed;
            let case = format!("round {round}, order {is_order}, early copy {early}: {burst:?}");
            assert!(executed <= 1, "{case}");
            // Past the end by every clock: expired.
            sleep_until_ms(timestamp_ms + WALL_WINDOW_MS + 1);
            assert_eq!(send_copies(address, &request, 1), tally(0, 0, 1), "{case}");
            if is_order {
                orders += executed as u64;
            } else {
                withdrawals += executed as u64;
            }
        }
    }
    // What ran is what the account shows.
    let expected = Account {
        usdc_available: usdc(
            deposit_usdc - orders * ORDER_LOCKS_USDC - withdrawals * WITHDRAWAL_USDC,
        ),
        usdc_locked: usdc(orders * ORDER_LOCKS_USDC),
        open_orders: orders as usize,
        withdrawals: withdrawals as usize,
    };
    assert_eq!(account(address, &secret, now_ms()), expected);
    let engine = server.stop();
    engine.check_invariants().unwrap();
}
