//! A run's figures as JSON (`<label>.json` beside its `.hgrm` files with `--out`): what the
//! latency report reads back, so that every figure in a report comes from a run of our tools.

use super::report::{Report, StepResult};
use super::scrape::ServerSide;
use super::stats::Percentiles;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One step of a `--find-peak` search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLine {
    /// Offered requests/s.
    pub offered_per_s: f64,
    /// Answers of any status per second.
    pub answered_per_s: f64,
    /// Acknowledgements per second.
    pub acknowledged_per_s: f64,
    /// Acknowledgement latency.
    pub ack: Percentiles,
}

/// What `--find-peak` found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeakSummary {
    /// Every step, in order.
    pub steps: Vec<StepLine>,
    /// Position of the peak in `steps`, if a step passed.
    pub peak: Option<usize>,
    /// Why the search stopped.
    pub stopped: String,
}

impl PeakSummary {
    /// The peak's answered rate (0 when no step passed).
    pub fn answered_per_s(&self) -> f64 {
        self.peak.map_or(0.0, |peak| self.steps[peak].answered_per_s)
    }
}

/// One run, as the report needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// `--label`.
    pub label: String,
    /// The command line that ran it.
    pub command: String,
    /// `host:port`.
    pub target: String,
    /// Keep-alive connections.
    pub connections: usize,
    /// Accounts trading.
    pub accounts: usize,
    /// Markets traded.
    pub markets: Vec<String>,
    /// `--mix`.
    pub mix: String,
    /// Whether WebSocket subscribers measured events.
    pub subscribe: bool,
    /// Offered requests/s (the detailed step's).
    pub offered_per_s: f64,
    /// Acknowledgements per second.
    pub acknowledged_per_s: f64,
    /// Answers of any status per second.
    pub answered_per_s: f64,
    /// Requests written.
    pub sent: u64,
    /// Answered 200.
    pub acknowledged: u64,
    /// Answered with an error.
    pub rejected: u64,
    /// Never answered.
    pub unanswered: u64,
    /// Rejections by reason.
    pub rejections: BTreeMap<String, u64>,
    /// Mean request size, bytes.
    pub request_bytes_mean: f64,
    /// Mean answer size, bytes.
    pub answer_bytes_mean: f64,
    /// Acknowledgement latency (scheduled send → answer read).
    pub ack: Percentiles,
    /// Its mean, µs.
    pub ack_mean_us: f64,
    /// Event latency (scheduled send → `orderAccepted`), with subscribers.
    pub event: Option<Percentiles>,
    /// The server's own figures, if it gave them.
    pub server: Option<ServerSide>,
    /// With `--find-peak`: the search.
    pub find_peak: Option<PeakSummary>,
}

impl RunSummary {
    /// The summary of `report`'s detailed step, run by `command`.
    pub fn of(report: &Report, command: &str) -> RunSummary {
        let options = &report.options;
        let step = report.main_step();
        let stats = &step.stats;
        let per =
            |bytes: u64, count: u64| if count > 0 { bytes as f64 / count as f64 } else { 0.0 };
        RunSummary {
            label: options.label.clone(),
            command: command.to_string(),
            target: options.target.clone(),
            connections: options.connections,
            accounts: options.accounts,
            markets: options.markets.clone(),
            mix: options.mix.describe(),
            subscribe: options.subscribe,
            offered_per_s: step.offered_per_s,
            acknowledged_per_s: step.acknowledged_per_s,
            answered_per_s: step.answered_per_s,
            sent: stats.sent,
            acknowledged: stats.acknowledged,
            rejected: stats.rejected,
            unanswered: stats.unanswered,
            rejections: stats.rejections.clone(),
            request_bytes_mean: per(stats.sent_bytes, stats.sent),
            answer_bytes_mean: per(stats.answered_bytes, stats.acknowledged + stats.rejected),
            ack: Percentiles::of(&stats.ack_ns),
            ack_mean_us: stats.ack_ns.mean() / 1000.0,
            event: options.subscribe.then(|| Percentiles::of(&stats.event_ns)),
            server: step.server.as_ref().ok().cloned(),
            find_peak: options.find_peak.map(|_| PeakSummary {
                steps: report.steps.iter().map(step_line).collect(),
                peak: report.peak,
                stopped: report.stopped.clone().unwrap_or_default(),
            }),
        }
    }

    /// Writes it as pretty JSON.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text + "\n")
    }

    /// Reads one back.
    pub fn read(path: &Path) -> Result<RunSummary, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
    }
}

fn step_line(step: &StepResult) -> StepLine {
    StepLine {
        offered_per_s: step.offered_per_s,
        answered_per_s: step.answered_per_s,
        acknowledged_per_s: step.acknowledged_per_s,
        ack: Percentiles::of(&step.stats.ack_ns),
    }
}
