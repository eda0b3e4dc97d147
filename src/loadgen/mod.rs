//! `ringex loadgen`: drives a running ringex over its public API, open loop, and measures it.
//!
//! A tool, not a pipeline stage: it runs in its own process (or a test), talks to the server
//! only through sockets, and imports nothing of the stages but the development key. It owns:
//! the run's accounts (derived from `--seed`, funded through the administrator endpoints), the
//! schedule (every request's send time, fixed before the run), the signed request bytes (made
//! ahead of their send time, off the timed path), one writer and one reader thread per
//! keep-alive connection, optional WebSocket subscribers, and the measurements.
//!
//! **Open loop.** Latency is *answer read time − scheduled send time*, never the actual send
//! time, and nothing waits for an answer before sending the next request: a server that stalls
//! shows as latency of every request scheduled during the stall, not as a lower send rate
//! (coordinated omission; `connection.rs`).
//!
//! **Hand-written or crates.** HdrHistogram (`hdrhistogram`), progress (`indicatif`), JSON of
//! answers and events (`serde_json`), TOML (`toml`), signatures (`ed25519-dalek`) and flags
//! (`clap`) are crates. The HTTP client, the WebSocket client and the signer are written here:
//! no client crate pipelines requests on one connection while timing each answer against its
//! own schedule, the subscriber needs only a few lines of RFC 6455, and a signer of our own
//! checks the server's verifier instead of sharing its mistakes. The `.hgrm` text writer is
//! here because the crate writes only the binary histogram format.
//!
//! # Layout
//!
//! 1. [`options`]: flags → [`Options`] (bad input: one line naming the flag, exit 2);
//!    [`scenario`]: TOML phases.
//! 2. [`setup`]: markets, accounts, funding, leftover orders.
//! 3. [`schedule`] and [`workload`]: when each request is due, and what it is, signed.
//! 4. [`run`]: one timed run: [`connection`] writers and readers, [`subscriber`]s, progress.
//! 5. [`stats`], [`hgrm`], [`report`]: what was measured, the `.hgrm` files, the summary;
//!    [`scrape`]: the server's own figures for the run, from `GET /metrics`; [`summary`]: the
//!    run as JSON for the latency report.
//! 6. [`floor`]: `ringex floor`, what the machine allows any server (loopback round trip, one
//!    verification, one `fdatasync`), for the report to compare with — the one import of a
//!    stage beyond the development key: the server's own verifier, timed.
//! 7. [`latency_report`]: `ringex latency-report`, a directory of runs and its floor → README,
//!    [`targets`] judged, [`plot`]s (SVG), the index of reports.

pub mod connection;
pub mod floor;
pub mod hgrm;
pub mod http;
pub mod latency_report;
pub mod options;
pub mod plot;
pub mod report;
pub mod run;
pub mod scenario;
pub mod schedule;
pub mod scrape;
pub mod setup;
pub mod sign;
pub mod stats;
pub mod subscriber;
pub mod summary;
pub mod targets;
#[cfg(test)]
pub(crate) mod test_dir;
pub mod workload;

pub use options::{Flags, Options};
pub use report::Report;

use report::StepResult;
use schedule::Phase;
use stats::Percentiles;

/// Why a run did not happen or did not finish.
#[derive(Debug)]
pub enum LoadgenError {
    /// A bad flag or scenario: one line naming it (exit 2).
    Usage(String),
    /// The target cannot be reached (exit 1).
    Unreachable(String),
    /// Anything else (exit 1).
    Failed(String),
}

impl std::fmt::Display for LoadgenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadgenError::Usage(line) | LoadgenError::Failed(line) => f.write_str(line),
            LoadgenError::Unreachable(line) => write!(f, "cannot reach {line}"),
        }
    }
}

impl LoadgenError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            LoadgenError::Usage(_) => 2,
            LoadgenError::Unreachable(_) | LoadgenError::Failed(_) => 1,
        }
    }
}

/// What the timed runs need from the setup.
pub struct Setup {
    /// The markets traded.
    pub markets: Vec<workload::Market>,
    /// Every market of the server (cleaned up before a run).
    pub symbols: Vec<String>,
    /// The run's accounts.
    pub accounts: Vec<sign::Account>,
    /// The administrator (funds the accounts, reads `/metrics`).
    pub admin: sign::Account,
}

/// One timed run between two scrapes of the server's `/metrics`: the step with the server's own
/// figures for it ([`scrape`]). A server that refuses the scrape leaves the step without them.
fn measured_step(
    options: &Options,
    setup: &Setup,
    phases: &[Phase],
    client_id_base: u32,
) -> Result<StepResult, LoadgenError> {
    let before = scrape::Scrape::fetch(&options.target, &setup.admin);
    let started = std::time::Instant::now();
    let mut step = run::run_step(options, setup, phases, client_id_base)?;
    step.server = before.and_then(|before| {
        let after = scrape::Scrape::fetch(&options.target, &setup.admin)?;
        let mut server = scrape::ServerSide::between(&before, &after);
        server.wall_s = started.elapsed().as_secs_f64();
        Ok(server)
    });
    Ok(step)
}

/// Sets up, runs (one run, or the `--find-peak` steps), writes the `.hgrm` files, and returns
/// the report.
pub fn run(options: &Options) -> Result<Report, LoadgenError> {
    let (markets, symbols) = setup::markets(&options.target, &options.markets)?;
    let accounts = setup::accounts(options.seed, options.accounts);
    let admin = sign::Account::from_seed(options.admin_seed);
    setup::fund(&options.target, &admin, &accounts, &markets)?;
    setup::cancel_everything(&options.target, &accounts, &symbols)?;
    let setup = Setup { markets, symbols, accounts, admin };
    let report = match options.find_peak {
        None => {
            let step = measured_step(options, &setup, &options.phases, 0)?;
            Report { options: options.clone(), steps: vec![step], peak: None, stopped: None }
        }
        Some(_) => find_peak(options, &setup)?,
    };
    if let Some(dir) = &options.out {
        write_histograms(dir, &options.label, report.main_step())?;
        let path = dir.join(format!("{}.json", options.label));
        summary::RunSummary::of(&report, &command_line())
            .write(&path)
            .map_err(|error| LoadgenError::Failed(format!("--out {}: {error}", path.display())))?;
    }
    Ok(report)
}

/// Steps the offered rate up by the search's factor until a step fails ([`verdict`]). The peak
/// is the last passing step.
fn find_peak(options: &Options, setup: &Setup) -> Result<Report, LoadgenError> {
    let search = options.find_peak.expect("called with --find-peak");
    let first = &options.phases[0];
    let mut steps: Vec<StepResult> = Vec::new();
    let mut peak: Option<usize> = None;
    let mut stopped = None;
    let mut client_id_base = 0u32;
    for number in 0..search.steps_max {
        let rate = first.rate_from_per_s * search.factor.powi(number as i32);
        let phase = Phase::steady(&format!("step {}", number + 1), rate, first.duration_s);
        let count = u32::try_from(phase.count()).ok();
        let Some(next_base) = count.and_then(|count| client_id_base.checked_add(count)) else {
            stopped = Some("the search ran out of clientIds".into());
            break;
        };
        let step = measured_step(options, setup, &[phase], client_id_base)?;
        client_id_base = next_base;
        setup::cancel_everything(&options.target, &setup.accounts, &setup.symbols)?;
        let verdict = verdict(&step, search.p99_bound_us);
        steps.push(step);
        if verdict.is_some() {
            stopped = verdict;
            break;
        }
        peak = Some(steps.len() - 1);
    }
    if stopped.is_none() {
        stopped = Some(format!("{} steps, every one passed", steps.len()));
    }
    Ok(Report { options: options.clone(), steps, peak, stopped })
}

/// Why a `--find-peak` step fails, if it does: the server stopped following the offered rate
/// (answers per second below 95% of it), or its p99 acknowledgement latency passed the bound,
/// or more than 1% of the requests were refused for lateness or load (401 expired, 429, 503).
///
/// Answers of every status count as following, not only acknowledgements: a cancel whose order
/// a trade took first (`400 Order not found`) cost the server a whole signed command, and the
/// mix makes some of those at any rate. The summary shows the acknowledged rate beside it.
pub fn verdict(step: &StepResult, p99_bound_us: f64) -> Option<String> {
    let p99_us = Percentiles::of(&step.stats.ack_ns).p99_us;
    let overload: u64 = step
        .stats
        .rejections
        .iter()
        .filter(|(reason, _)| {
            ["401 ", "429 ", "503 "].iter().any(|status| reason.starts_with(status))
        })
        .map(|(_, count)| count)
        .sum();
    if step.answered_per_s < 0.95 * step.offered_per_s {
        Some(format!(
            "answered {:.0}/s < 95% of offered {:.0}/s",
            step.answered_per_s, step.offered_per_s
        ))
    } else if p99_us > p99_bound_us {
        Some(format!("p99 {p99_us:.0} µs > bound {p99_bound_us:.0} µs"))
    } else if overload * 100 > step.stats.sent {
        Some(format!("{overload} of {} requests refused as late or over a limit", step.stats.sent))
    } else {
        None
    }
}

/// This process's command line, each argument quoted for a POSIX shell where it needs it.
pub fn command_line() -> String {
    let quoted: Vec<String> = std::env::args()
        .map(|argument| {
            let plain = argument
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-_.,:/=@%+".contains(&byte));
            if plain && !argument.is_empty() {
                argument
            } else {
                format!("'{}'", argument.replace('\'', "'\\''"))
            }
        })
        .collect();
    quoted.join(" ")
}

/// `<label>-ack.hgrm` and `<label>-event.hgrm` (µs) in `dir`.
fn write_histograms(
    dir: &std::path::Path,
    label: &str,
    step: &StepResult,
) -> Result<(), LoadgenError> {
    let failed =
        |error: std::io::Error| LoadgenError::Failed(format!("--out {}: {error}", dir.display()));
    std::fs::create_dir_all(dir).map_err(failed)?;
    hgrm::write_file(&dir.join(format!("{label}-ack.hgrm")), &step.stats.ack_ns).map_err(failed)?;
    hgrm::write_file(&dir.join(format!("{label}-event.hgrm")), &step.stats.event_ns)
        .map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stats::{Kind, Stats};

    /// A step that offered 1,000 requests in one second and got `acknowledged` answers within
    /// `latency_ns` each, the rest rejected for `reason`.
    fn step(acknowledged: u64, rejected: u64, reason: &str, latency_ns: u64) -> StepResult {
        let mut stats = Stats::new();
        stats.sent = acknowledged + rejected;
        for index in 0..acknowledged + rejected {
            let scheduled_ns = index * 1_000_000;
            let answer = (index >= acknowledged).then(|| reason.to_string());
            stats.record_answer(Kind::Limit, scheduled_ns, scheduled_ns + latency_ns, answer);
        }
        StepResult::new(stats, 1000, 1.0, 0)
    }

    #[test]
    fn a_step_passes_while_the_server_follows_within_the_bound() {
        let order_gone = "400 INVALID_CLIENT_REQUEST Order not found";
        assert_eq!(verdict(&step(1000, 0, "", 500_000), 1000.0), None);
        // Answers that refuse a cancel still follow the offered rate.
        assert_eq!(verdict(&step(900, 100, order_gone, 500_000), 1000.0), None);
        let slow = verdict(&step(1000, 0, "", 2_000_000), 1000.0).unwrap();
        assert!(slow.starts_with("p99 2001 µs > bound 1000 µs"), "{slow}");
        let behind = verdict(&step(800, 0, "", 500_000), 1000.0).unwrap();
        assert!(behind.starts_with("answered 800/s < 95% of offered 1000/s"), "{behind}");
        let late = verdict(
            &step(980, 20, "401 INVALID_CLIENT_REQUEST Request has expired", 500_000),
            1000.0,
        );
        assert_eq!(late.unwrap(), "20 of 1000 requests refused as late or over a limit");
    }

    #[test]
    fn the_summary_shows_rates_counts_latencies_and_rejections_by_reason() {
        let flags = <Flags as clap::FromArgMatches>::from_arg_matches(
            &<Flags as clap::Args>::augment_args(clap::Command::new("loadgen"))
                .get_matches_from(["loadgen", "--label", "unit"]),
        )
        .unwrap();
        let options = flags.options().unwrap();
        let report = Report {
            options,
            steps: vec![step(990, 10, "400 INVALID_CLIENT_REQUEST Order not found", 250_000)],
            peak: None,
            stopped: None,
        };
        let text = report.render();
        assert!(text.starts_with("ringex loadgen \"unit\": target 127.0.0.1:8080, 4 connections"));
        assert!(text.contains("offered            1000.0 req/s\n"), "{text}");
        assert!(
            text.contains("sent 1000  = acknowledged 990 + rejected 10 + unanswered 0"),
            "{text}"
        );
        assert!(text.contains("acknowledgement                 990    250.1µs"), "{text}");
        assert!(
            text.contains("          10  400 INVALID_CLIENT_REQUEST Order not found"),
            "{text}"
        );
        assert!(!text.contains("event"), "no subscribers, no event row: {text}");
    }
}
