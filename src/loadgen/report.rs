//! What a person sees: a progress line while a run goes (indicatif, only on a terminal) and the
//! summary table at its end.

use super::options::Options;
use super::scrape::{self, ServerSide};
use super::stats::{Kind, Percentiles, Stats};
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often the progress line is redrawn.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Shows `stats` growing until `done`: elapsed time, acknowledged rate over the last interval,
/// errors, and p50/p99 of the acknowledgements so far.
pub fn show_progress(title: &str, total_s: f64, stats: &Mutex<Stats>, done: &AtomicBool) {
    let bar = ProgressBar::new((total_s * 1000.0).ceil() as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:16}] {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(title.to_string());
    let start = Instant::now();
    let mut last = (Instant::now(), 0u64);
    while !done.load(Ordering::Acquire) {
        std::thread::sleep(PROGRESS_INTERVAL);
        let (acknowledged, errors, figures) = {
            let stats = stats.lock().expect("stats lock");
            let errors = stats.rejected + stats.unanswered + stats.errors.len() as u64;
            (stats.acknowledged, errors, Percentiles::of(&stats.ack_ns))
        };
        let now = Instant::now();
        let rate = (acknowledged - last.1) as f64 / (now - last.0).as_secs_f64();
        last = (now, acknowledged);
        bar.set_position(start.elapsed().as_millis() as u64);
        bar.set_message(format!(
            "{rate:>7.0} acks/s err {errors} p50 {} p99 {}",
            micros(figures.p50_us),
            micros(figures.p99_us)
        ));
    }
    bar.finish_and_clear();
}

/// A latency in µs, or in ms/s when large, for a column.
pub fn micros(us: f64) -> String {
    if us >= 10_000_000.0 {
        format!("{:.1}s", us / 1e6)
    } else if us >= 10_000.0 {
        format!("{:.1}ms", us / 1e3)
    } else {
        format!("{us:.1}µs")
    }
}

/// One timed run (a whole run, or one step of `--find-peak`).
#[derive(Clone)]
pub struct StepResult {
    /// Rate offered over the recorded phases, requests/s.
    pub offered_per_s: f64,
    /// Acknowledged answers per second over the recorded phases (and their drain).
    pub acknowledged_per_s: f64,
    /// Answers of any status per second, likewise.
    pub answered_per_s: f64,
    /// Everything measured.
    pub stats: Stats,
    /// The server's own figures for the step (`GET /metrics` before and after), or why there
    /// are none.
    pub server: Result<ServerSide, String>,
}

impl StepResult {
    /// The result of a run that offered `offered` requests over `offered_s` seconds of recorded
    /// phases starting `recorded_start_ns` into the run.
    pub fn new(stats: Stats, offered: u64, offered_s: f64, recorded_start_ns: u64) -> StepResult {
        let answered_s = stats.last_answer_ns.saturating_sub(recorded_start_ns) as f64 / 1e9;
        let span_s = offered_s.max(answered_s).max(1e-9);
        StepResult {
            offered_per_s: offered as f64 / offered_s.max(1e-9),
            acknowledged_per_s: stats.acknowledged as f64 / span_s,
            answered_per_s: (stats.acknowledged + stats.rejected) as f64 / span_s,
            stats,
            server: Err("not scraped".into()),
        }
    }
}

/// The end of a run: what was asked, what each step did, and (with --find-peak) the peak.
pub struct Report {
    /// The options of the run.
    pub options: Options,
    /// Each timed run, in order (one unless --find-peak).
    pub steps: Vec<StepResult>,
    /// With --find-peak: the position in `steps` of the best passing step.
    pub peak: Option<usize>,
    /// Why the search stopped.
    pub stopped: Option<String>,
}

impl Report {
    /// The step the summary details: the peak's, or the only one.
    pub fn main_step(&self) -> &StepResult {
        &self.steps[self.peak.unwrap_or(self.steps.len() - 1)]
    }

    /// The summary table.
    pub fn render(&self) -> String {
        let options = &self.options;
        let mut text = String::new();
        let _ = writeln!(
            text,
            "ringex loadgen \"{}\": target {}, {} connections, {} accounts, markets {}, mix {}, seed {}",
            options.label,
            options.target,
            options.connections,
            options.accounts,
            options.markets.join(","),
            options.mix.describe(),
            options.seed
        );
        if self.options.find_peak.is_some() {
            self.render_steps(&mut text);
        }
        let step = self.main_step();
        let stats = &step.stats;
        let _ = writeln!(text, "offered      {:>12.1} req/s", step.offered_per_s);
        let _ = writeln!(text, "acknowledged {:>12.1} req/s", step.acknowledged_per_s);
        let _ = writeln!(text, "answered     {:>12.1} req/s", step.answered_per_s);
        let _ = writeln!(
            text,
            "sent {}  = acknowledged {} + rejected {} + unanswered {}   (unsent {})",
            stats.sent, stats.acknowledged, stats.rejected, stats.unanswered, stats.unsent
        );
        let by_kind: Vec<String> = Kind::ALL
            .iter()
            .map(|kind| format!("{} {}", kind.name(), stats.acknowledged_by_kind[kind.position()]))
            .collect();
        let _ = writeln!(text, "acknowledged by kind: {}", by_kind.join(", "));
        if stats.sent + stats.unsent > super::run::PRESIGNED_MAX as u64 {
            let _ = writeln!(
                text,
                "note: {} requests were signed during the run, beyond the {} signed ahead: that \
                 signing shared the machine with the server",
                stats.sent + stats.unsent - super::run::PRESIGNED_MAX as u64,
                super::run::PRESIGNED_MAX
            );
        }
        let _ = writeln!(
            text,
            "{:<24} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "latency (from schedule)", "count", "p50", "p90", "p99", "p99.9", "max"
        );
        latency_row(&mut text, "acknowledgement", &Percentiles::of(&stats.ack_ns));
        latency_row(&mut text, "send lag (client)", &Percentiles::of(&stats.send_lag_ns));
        if options.subscribe {
            latency_row(&mut text, "event (orderAccepted)", &Percentiles::of(&stats.event_ns));
            let _ = writeln!(
                text,
                "depth: {} messages, {} sequence gaps; trades: {} messages, {} out of order",
                stats.depth_messages, stats.depth_gaps, stats.trade_messages, stats.trade_disorders
            );
        }
        if !stats.rejections.is_empty() {
            let _ = writeln!(text, "rejections (not throughput):");
            for (reason, count) in &stats.rejections {
                let _ = writeln!(text, "  {count:>10}  {reason}");
            }
        }
        match &step.server {
            Ok(server) => render_server(&mut text, server, stats, options.has_warm_up()),
            Err(reason) => {
                let _ = writeln!(text, "server side: not available ({reason})");
            }
        }
        for error in stats.errors.iter().take(10) {
            let _ = writeln!(text, "error: {error}");
        }
        text
    }

    fn render_steps(&self, text: &mut String) {
        let _ = writeln!(
            text,
            "{:>5} {:>12} {:>12} {:>12} {:>10} {:>10}  verdict",
            "step", "offered/s", "answered/s", "acked/s", "p50", "p99"
        );
        for (position, step) in self.steps.iter().enumerate() {
            let figures = Percentiles::of(&step.stats.ack_ns);
            let verdict = if Some(position) == self.peak { "peak" } else { "" };
            let _ = writeln!(
                text,
                "{:>5} {:>12.1} {:>12.1} {:>12.1} {:>10} {:>10}  {verdict}",
                position + 1,
                step.offered_per_s,
                step.answered_per_s,
                step.acknowledged_per_s,
                micros(figures.p50_us),
                micros(figures.p99_us)
            );
        }
        match self.peak {
            Some(peak) => {
                let _ = writeln!(
                    text,
                    "peak: {:.1} answered req/s, {:.1} acknowledged (offered {:.1}/s); stopped: {}",
                    self.steps[peak].answered_per_s,
                    self.steps[peak].acknowledged_per_s,
                    self.steps[peak].offered_per_s,
                    self.stopped.as_deref().unwrap_or("-")
                );
            }
            None => {
                let _ = writeln!(
                    text,
                    "peak: none (the first step already failed: {})",
                    self.stopped.as_deref().unwrap_or("-")
                );
            }
        }
    }
}

fn latency_row(text: &mut String, name: &str, figures: &Percentiles) {
    let _ = writeln!(
        text,
        "{name:<24} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        figures.count,
        micros(figures.p50_us),
        micros(figures.p90_us),
        micros(figures.p99_us),
        micros(figures.p999_us),
        micros(figures.max_us)
    );
}

/// The server's figures for the run: where the time went, by stage, and whether its counts agree
/// with the client's.
fn render_server(text: &mut String, server: &ServerSide, stats: &Stats, warm_up: bool) {
    let info: Vec<String> =
        server.info.iter().map(|(key, value)| format!("{key} {value}")).collect();
    let _ = writeln!(text, "server (GET /metrics, this run): {}", info.join(", "));
    let _ = writeln!(
        text,
        "  {:<34} {:>10} {:>10} {:>10} {:>10}",
        "stage (server stamps)", "count", "mean", "~p50", "~p99"
    );
    let names = scrape::STAGES
        .iter()
        .copied()
        .chain([(scrape::SERVER_TOTAL, "server total"), (scrape::JOURNAL, "journal (beside)")]);
    for (label, name) in names {
        if let Some(stage) = server.stage(label).filter(|stage| stage.count > 0) {
            let _ = writeln!(
                text,
                "  {name:<34} {:>10} {:>10} {:>10} {:>10}",
                stage.count,
                micros(stage.mean_us),
                micros(stage.p50_us),
                micros(stage.p99_us)
            );
        }
    }
    if server.fsync.count > 0 {
        let _ = writeln!(
            text,
            "  fdatasync: {} calls, mean {}, {:.1} commands each",
            server.fsync.count,
            micros(server.fsync.mean_us),
            server.commands_per_fsync
        );
    }
    if server.journal_records > 0 {
        let _ = writeln!(
            text,
            "  journal: {} records, {:.0} bytes each, {:.2} MB/s",
            server.journal_records,
            server.journal_bytes as f64 / server.journal_records as f64,
            server.journal_bytes as f64 / 1e6 / server.wall_s.max(1e-9)
        );
    }
    let _ = writeln!(
        text,
        "  server CPU: {:.2} cores over {:.1} s, {:.0} context switches/s",
        server.cpu_cores(),
        server.wall_s,
        server.switches_per_s()
    );
    let _ = writeln!(text, "  {}", agreement(server, stats, warm_up));
}

/// Whether the server answered what the client counted: its 2xx responses against the client's
/// acknowledgements, its error responses against the client's rejections.
pub fn agreement(server: &ServerSide, stats: &Stats, warm_up: bool) -> String {
    let counts = format!(
        "server 2xx {} / client acknowledged {}; server errors {} / client rejected {}",
        server.responses_ok, stats.acknowledged, server.responses_error, stats.rejected
    );
    if warm_up {
        format!("counts (server includes the warm-up the client does not record): {counts}")
    } else if server.agrees_with(stats.acknowledged, stats.rejected) {
        format!("counts agree: {counts}")
    } else {
        format!("counts DISAGREE (another client, or answers lost): {counts}")
    }
}
