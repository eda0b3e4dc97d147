//! `ringex loadgen` against the real server on a free loopback port: a short open-loop run
//! accounts for every request it sent (acknowledged + rejected + unanswered), times the order
//! events of its subscribers, finds depth in sequence, and agrees with the server's own count of
//! commands; `--find-peak` steps up; the binary refuses bad flags with one line (exit 2) and an
//! unreachable server within a second (exit 1).

mod common;

use common::{TestDir, TestServer, admin_state};
use ringex::loadgen::options::{Mix, Options, PeakSearch};
use ringex::loadgen::schedule::Phase;
use ringex::loadgen::scrape;
use ringex::loadgen::stats::Kind;
use ringex::loadgen::summary::RunSummary;
use std::process::Command;
use std::time::{Duration, Instant};

fn ringex() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ringex"))
}

/// A small run: 200 requests/s for 1.5 s on two connections, three accounts.
fn small_run(target: String, out: std::path::PathBuf) -> Options {
    Options {
        target,
        phases: vec![Phase::steady("steady", 200.0, 1.5)],
        connections: 2,
        mix: Mix::parse("limit=70,cancel=20,market=5,cancel-all=5").unwrap(),
        markets: vec!["SOL_USDC".into()],
        seed: 7,
        label: "smoke".into(),
        admin_seed: ringex::verify::DEV_ADMIN_SEED,
        accounts: 3,
        find_peak: None,
        subscribe: true,
        out: Some(out),
        window_ms: 10_000,
        progress: false,
        spin_us: 0,
    }
}

fn sequence(server: &TestServer) -> u64 {
    admin_state(server.address)["sequence"].as_u64().unwrap()
}

#[test]
fn a_smoke_run_accounts_for_every_request_and_times_events() {
    let dir = TestDir::new("loadgen-smoke");
    let out = TestDir::new("loadgen-smoke-out");
    let server = TestServer::start(common::options(dir.0.clone()));
    let options = small_run(server.address.to_string(), out.0.clone());
    let before = sequence(&server);
    let report = ringex::loadgen::run(&options).expect("the run completes");
    let after = sequence(&server);
    let step = report.main_step();
    let stats = &step.stats;
    let summary = report.render();
    assert_eq!(stats.sent, 300, "{summary}");
    assert_eq!((stats.unsent, stats.unanswered), (0, 0), "{summary}");
    assert_eq!(stats.sent, stats.acknowledged + stats.rejected, "{summary}");
    assert_eq!(stats.ack_ns.len(), stats.acknowledged);
    assert!(stats.acknowledged >= 270, "{summary}");
    for reason in stats.rejections.keys() {
        // The only refusal the mix makes: a cancel whose order a trade took first.
        assert_eq!(reason, "400 INVALID_CLIENT_REQUEST Order not found", "{summary}");
    }
    assert!(stats.errors.is_empty(), "{summary}");
    // The server ran exactly what the client counts: the setup's deposits (two assets for each
    // account) and clean-up (a cancel-all in each of the server's three markets), then every
    // request answered.
    assert_eq!(after - before, 3 * 2 + 3 * 3 + stats.sent, "{summary}");
    // Every acknowledged placement's orderAccepted reached its subscriber.
    let placed = stats.acknowledged_by_kind[Kind::Limit.position()]
        + stats.acknowledged_by_kind[Kind::Market.position()];
    assert!(placed > 0);
    assert_eq!(stats.event_ns.len(), placed, "{summary}");
    assert!(stats.depth_messages > 0, "{summary}");
    assert_eq!(stats.depth_gaps, 0, "{summary}");
    assert!(stats.trade_messages > 0, "{summary}");
    assert_eq!(stats.trade_disorders, 0, "{summary}");
    assert!((step.offered_per_s - 200.0).abs() < 1.0, "{summary}");
    assert!(summary.contains("event (orderAccepted)"), "{summary}");
    // The .hgrm files hold what was recorded.
    let ack = std::fs::read_to_string(out.0.join("smoke-ack.hgrm")).unwrap();
    let total = format!("Total count    = {:>12}]", stats.acknowledged);
    assert!(ack.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)"), "{ack}");
    assert!(ack.contains(&total), "{ack}");
    let event = std::fs::read_to_string(out.0.join("smoke-event.hgrm")).unwrap();
    assert!(event.contains(&format!("Total count    = {placed:>12}]")), "{event}");
    // The server's own counts for the run (GET /metrics before and after) agree with the
    // client's: every acknowledgement a 2xx, every rejection an error response of its reason.
    let server_side = step.server.as_ref().expect("the server's figures for the run");
    assert_eq!(server_side.responses_ok, stats.acknowledged, "{summary}");
    assert_eq!(server_side.responses_error, stats.rejected, "{summary}");
    assert_eq!(server_side.rejections.values().sum::<u64>(), stats.rejected, "{summary}");
    assert!(summary.contains("counts agree: server 2xx"), "{summary}");
    // Every answered request crossed the server's stages, and the stages have figures.
    let total = server_side.stage(scrape::SERVER_TOTAL).unwrap();
    assert!(total.count >= stats.sent && total.mean_us > 0.0, "{summary}");
    for (label, _) in scrape::STAGES {
        assert!(server_side.stage(label).unwrap().count >= stats.acknowledged, "{label}");
    }
    // The run's summary for the report, read back.
    let written = RunSummary::read(&out.0.join("smoke.json")).unwrap();
    assert_eq!((written.sent, written.acknowledged), (stats.sent, stats.acknowledged));
    let written_server = written.server.as_ref().expect("the server's figures, written");
    assert_eq!(written_server.responses_ok, server_side.responses_ok);
    assert_eq!(written_server.rejections, server_side.rejections);
    assert_eq!(written_server.stage(scrape::SERVER_TOTAL).unwrap().count, total.count);
    assert!(written.request_bytes_mean > 200.0, "{}", written.request_bytes_mean);
    server.stop();
}

/// The tools of `scripts/latency-report.sh` at small scale, through the binary: `ringex floor`,
/// a `loadgen` run, then `ringex latency-report` writes the README, the plots and the index.
#[test]
fn the_report_tools_write_a_report_from_a_real_run() {
    let dir = TestDir::new("loadgen-report");
    let root = TestDir::new("loadgen-report-root");
    let report_dir = root.0.join("2026-01-01-test");
    let mut server_options = common::options(dir.0.clone());
    server_options.durability = ringex::durability::Durability::Async;
    let server = TestServer::start(server_options);
    let floor = ringex()
        .args(["floor", "--samples", "300", "--fsync-samples", "3", "--data-dir"])
        .arg(&dir.0)
        .arg("--json")
        .arg(report_dir.join("floor.json"))
        .output()
        .unwrap();
    assert!(floor.status.success(), "{}", String::from_utf8_lossy(&floor.stderr));
    let mut options = small_run(server.address.to_string(), report_dir.clone());
    options.label = "async-half".into();
    ringex::loadgen::run(&options).expect("the run completes");
    // A second rate: two points of the load curve.
    options.label = "async-300".into();
    options.seed += 1;
    options.phases = vec![Phase::steady("steady", 300.0, 0.5)];
    ringex::loadgen::run(&options).expect("the second run completes");
    let output = ringex()
        .args(["latency-report", "--git-rev", "test", "--dir"])
        .arg(&report_dir)
        .arg("--index")
        .arg(root.0.join("README.md"))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}{}", String::from_utf8_lossy(&output.stderr));
    let last = printed.lines().last().unwrap();
    let ratio: f64 = last.strip_prefix("e2e_p99_vs_floor: ").unwrap().parse().unwrap();
    assert!(ratio > 0.0, "{printed}");
    assert!(printed.contains("p99 ≤ 2x floor"), "{printed}");
    let readme = std::fs::read_to_string(report_dir.join("README.md")).unwrap();
    for part in
        ["## Floor", "## Runs", "## Where the time goes", "## Targets", "`test`", "| agree |"]
    {
        assert!(readme.contains(part), "{part}: {readme}");
    }
    assert_eq!(readme.lines().last(), Some(last));
    // The mode is durability and layout: the server names both.
    let by_mode = format!("latency-async-{}.svg", server.server.placement.layout.name());
    for plot in ["stages.svg", by_mode.as_str(), "load-curve-async.svg"] {
        let svg = std::fs::read_to_string(report_dir.join(plot)).unwrap();
        assert!(svg.contains("<svg"), "{plot}");
    }
    let index = std::fs::read_to_string(root.0.join("README.md")).unwrap();
    assert!(index.contains("Latest: [2026-01-01-test](2026-01-01-test/README.md)"), "{index}");
    let run = RunSummary::read(&report_dir.join("async-half.json")).unwrap();
    assert_eq!(run.server.unwrap().durability(), "async");
    server.stop();
}

#[test]
fn a_run_first_cancels_what_an_earlier_run_left_open_in_any_market() {
    let dir = TestDir::new("loadgen-leftovers");
    let out = TestDir::new("loadgen-leftovers-out");
    let server = TestServer::start(common::options(dir.0.clone()));
    let mut options = small_run(server.address.to_string(), out.0.clone());
    options.subscribe = false;
    options.mix = Mix::parse("limit=1").unwrap();
    options.phases = vec![Phase::steady("steady", 200.0, 0.5)];
    // The first run leaves resting orders in BTC_USDC, clientIds 1..=100.
    options.markets = vec!["BTC_USDC".into()];
    ringex::loadgen::run(&options).expect("the first run completes");
    assert!(admin_state(server.address)["openOrders"].as_u64().unwrap() > 0);
    // The second, same seed and accounts, trades SOL_USDC with the same clientIds: none is
    // refused as already open.
    options.markets = vec!["SOL_USDC".into()];
    let report = ringex::loadgen::run(&options).expect("the second run completes");
    let stats = &report.main_step().stats;
    assert_eq!((stats.acknowledged, stats.rejected), (100, 0), "{}", report.render());
    server.stop();
}

#[test]
fn find_peak_steps_the_rate_up_and_names_the_peak() {
    let dir = TestDir::new("loadgen-peak");
    let out = TestDir::new("loadgen-peak-out");
    let server = TestServer::start(common::options(dir.0.clone()));
    let mut options = small_run(server.address.to_string(), out.0.clone());
    options.phases = vec![Phase::steady("step", 100.0, 0.5)];
    options.subscribe = false;
    options.find_peak = Some(PeakSearch { p99_bound_us: 1e9, factor: 2.0, steps_max: 2 });
    let report = ringex::loadgen::run(&options).expect("the search completes");
    let summary = report.render();
    assert_eq!(report.steps.len(), 2, "{summary}");
    assert_eq!(report.peak, Some(1), "{summary}");
    assert_eq!((report.steps[0].stats.sent, report.steps[1].stats.sent), (50, 100));
    assert!(summary.contains("peak: "), "{summary}");
    // A bound no server meets fails the first step: no peak, and the reason.
    options.find_peak = Some(PeakSearch { p99_bound_us: 1.0, factor: 2.0, steps_max: 2 });
    let report = ringex::loadgen::run(&options).expect("the search completes");
    assert_eq!((report.steps.len(), report.peak), (1, None));
    assert!(report.render().contains("peak: none (the first step already failed: p99"));
    server.stop();
}

#[test]
fn the_binary_runs_a_scenario_and_prints_the_summary() {
    let dir = TestDir::new("loadgen-binary");
    let server = TestServer::start(common::options(dir.0.clone()));
    let scenario = dir.0.join("scenario.toml");
    std::fs::write(
        &scenario,
        "[[phases]]\nname = \"warm-up\"\nrate = 100\nduration_s = 0.5\nwarmup = true\n\
         [[phases]]\nname = \"ramp\"\nfrom = 100\nto = 300\nduration_s = 1\n",
    )
    .unwrap();
    let output = ringex()
        .args(["loadgen", "--target", &server.base_url, "--connections", "2", "--label", "cli"])
        .arg("--scenario")
        .arg(&scenario)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    // Only the ramp is recorded: 200 requests (the warm-up's 50 are sent, not counted).
    assert!(stdout.contains("offered             200.0 req/s"), "{stdout}");
    assert!(stdout.contains("sent 200  = acknowledged "), "{stdout}");
    assert!(stdout.contains("+ unanswered 0"), "{stdout}");
    server.stop();
}

#[test]
fn an_unreachable_server_is_a_clear_error_within_a_second() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let begin = Instant::now();
    let output = ringex()
        .args(["loadgen", "--target", &format!("127.0.0.1:{port}"), "--rate", "10"])
        .output()
        .unwrap();
    let elapsed = begin.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!("ringex loadgen: cannot reach 127.0.0.1:{port}: ")),
        "{stderr}"
    );
}

#[test]
fn bad_flags_and_scenarios_exit_2_with_one_line_naming_them() {
    let dir = TestDir::new("loadgen-flags");
    std::fs::create_dir_all(&dir.0).unwrap();
    let scenario = dir.0.join("bad.toml");
    std::fs::write(&scenario, "[[phases]]\nname = \"a\"\nrate = 10\nduration_s = \"long\"\n")
        .unwrap();
    let scenario = scenario.to_str().unwrap().to_string();
    let cases: [(&[&str], &str); 5] = [
        (&["--foo"], "ringex: unexpected argument '--foo' found"),
        (&["--rate", "0"], "ringex: --rate: expected a number"),
        (&["--mix", "limit=1,swap=2"], "ringex: --mix: unknown kind `swap`"),
        (&["--connections", "100000"], "ringex: --connections: expected a number in 1..=512"),
        (&["--scenario", &scenario], "ringex: --scenario: "),
    ];
    for (arguments, expected) in cases {
        let output = ringex().arg("loadgen").args(arguments).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{arguments:?}: {stderr}");
        assert!(stderr.starts_with(expected), "{arguments:?}: {stderr}");
    }
    let output = ringex().args(["loadgen", "--scenario", &scenario]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.trim_end().ends_with("bad.toml: phases[0].duration_s: expected a number"),
        "{stderr}"
    );
}
