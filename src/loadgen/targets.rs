//! The latency targets, judged from a report's runs and its floor: each target beside its
//! figure, met or not, and where one is missed, the stretch that holds the time.
//!
//! The targets (issue 17), at every offered rate up to 80% of the mode's peak, open loop:
//! - `none` and `async`: acknowledgement p50 ≤ floor + 20 µs and p99 ≤ 2x floor, where floor =
//!   loopback round trip p50 + one single verification p50 (both measured in the same run);
//! - `sync`: p50 ≤ 1.2x the same-run `fdatasync` p50;
//! - peak answered requests/s ≥ 0.85x the raw batch-verification capacity of the cores;
//! - event p99 ≤ acknowledgement p99 + 50 µs;
//! - a ping run (issue 18; labelled [`PING_SUFFIX`]): p50 ≤ loopback round trip p50 + 10 µs.
//!
//! The headline figure is `e2e_p99_vs_floor`: the acknowledgement p99 of the `async` run at half
//! of peak over the floor.

use super::floor::Floor;
use super::scrape::{self, ServerSide};
use super::summary::RunSummary;
use crate::pipeline::LayoutMode;

/// A run labelled `…-ping` sends unsigned pings only (`--mix ping=1`): it is held to the ping
/// target (p50 ≤ the loopback round trip + 10 µs) instead of the order targets.
pub const PING_SUFFIX: &str = "-ping";

/// Runs up to this fraction of peak are held to the latency targets.
pub const HELD_UP_TO_PEAK_FRACTION: f64 = 0.8;

/// One target against one figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// What is promised (`p99 ≤ 2x floor (380.0µs)`).
    pub target: String,
    /// The run it is judged on.
    pub run: String,
    /// The figure measured.
    pub figure: String,
    /// Whether the figure meets the target.
    pub met: bool,
    /// Where missed: the stretch that holds most of the time.
    pub held_by: Option<String>,
}

/// Every verdict of a report, and the headline ratio.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// In report order: per mode, per run, then the peaks.
    pub verdicts: Vec<Verdict>,
    /// The `async` half-of-peak run's acknowledgement p99 over the floor.
    pub e2e_p99_vs_floor: Option<f64>,
}

/// The durability mode a run measured: the server's own word, else its label's first word.
pub fn durability_of(run: &RunSummary) -> String {
    match run.server.as_ref().map(ServerSide::durability) {
        Some(mode) if mode != "?" => mode.to_string(),
        _ => run.label.split(['-', '_']).next().unwrap_or("?").to_string(),
    }
}

/// What a run measured, the unit runs are grouped, plotted and judged by: its durability mode
/// and, from a server that names it, its thread layout (`async-fused`).
pub fn mode_of(run: &RunSummary) -> String {
    let durability = durability_of(run);
    match run.server.as_ref().and_then(ServerSide::layout) {
        Some(layout) => format!("{durability}-{layout}"),
        None => durability,
    }
}

/// The modes `runs` measured, each once, in order.
pub fn modes_of(runs: &[RunSummary]) -> Vec<String> {
    let modes: std::collections::BTreeSet<String> = runs.iter().map(mode_of).collect();
    modes.into_iter().collect()
}

/// The mode's peak (answered requests/s of the best passing `--find-peak` step), if searched.
pub fn peak_of(runs: &[RunSummary], mode: &str) -> Option<f64> {
    runs.iter()
        .filter(|run| mode_of(run) == mode)
        .filter_map(|run| run.find_peak.as_ref())
        .map(|search| search.answered_per_s())
        .fold(None, |best: Option<f64>, peak| Some(best.map_or(peak, |best| best.max(peak))))
}

/// Where a run's mean acknowledgement went: the client and network (the client's mean less the
/// server's own), then each stretch of the pipeline by its mean, µs. Empty without the server's
/// figures.
pub fn segments(run: &RunSummary) -> Vec<(String, f64)> {
    let Some(server) = &run.server else {
        return Vec::new();
    };
    let mean = |label: &str| server.stage(label).map_or(0.0, |stage| stage.mean_us);
    let mut segments = vec![(
        "client + network + kernel".to_string(),
        (run.ack_mean_us - mean(scrape::SERVER_TOTAL)).max(0.0),
    )];
    segments.extend(scrape::STAGES.iter().map(|(label, name)| (name.to_string(), mean(label))));
    segments
}

/// The segment holding most of a run's time, as `name (mean µs of total)`.
pub fn held_by(run: &RunSummary) -> Option<String> {
    let segments = segments(run);
    let total: f64 = segments.iter().map(|(_, us)| us).sum();
    let (name, us) = segments.into_iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(format!("{name} ({us:.0} of {total:.0} µs mean)"))
}

/// Judges every run of `runs` against the targets, with `floor` from the same report.
pub fn evaluate(floor: &Floor, runs: &[RunSummary]) -> Evaluation {
    let floor_us = floor.floor_us();
    let mut verdicts = Vec::new();
    for mode in &modes_of(runs) {
        let peak = peak_of(runs, mode);
        for run in runs.iter().filter(|run| &mode_of(run) == mode && run.find_peak.is_none()) {
            if let Some(peak) =
                peak.filter(|peak| run.offered_per_s > HELD_UP_TO_PEAK_FRACTION * peak)
            {
                verdicts.push(Verdict {
                    target: format!("not held: offered above 80% of peak ({peak:.0}/s)"),
                    run: run.label.clone(),
                    figure: format!("{:.0}/s", run.offered_per_s),
                    met: true,
                    held_by: None,
                });
                continue;
            }
            latency_verdicts(&mut verdicts, run, floor, floor_us);
        }
        if let Some(peak) = peak {
            let capacity = floor.batch_capacity_per_s();
            let bound = 0.85 * capacity;
            verdicts.push(Verdict {
                target: format!(
                    "peak ≥ 0.85x batch-verify capacity of {} cores ({bound:.0}/s)",
                    floor.cores
                ),
                run: format!("{mode} --find-peak"),
                figure: format!("{peak:.0}/s ({:.2}x capacity)", peak / capacity.max(1e-9)),
                met: peak >= bound,
                held_by: None,
            });
        }
    }
    let auto = LayoutMode::Auto.resolve(floor.cores);
    Evaluation { verdicts, e2e_p99_vs_floor: headline(runs, floor_us, auto.name()) }
}

/// The latency targets of one run held to them.
fn latency_verdicts(verdicts: &mut Vec<Verdict>, run: &RunSummary, floor: &Floor, floor_us: f64) {
    let mut judge = |target: String, figure_us: f64, bound_us: f64| {
        let met = figure_us <= bound_us;
        verdicts.push(Verdict {
            target,
            run: run.label.clone(),
            figure: format!("{figure_us:.1} µs ({:.2}x bound)", figure_us / bound_us.max(1e-9)),
            met,
            held_by: (!met).then(|| held_by(run)).flatten(),
        });
    };
    if run.label.ends_with(PING_SUFFIX) {
        let bound = floor.loopback_round_trip.p50_us + 10.0;
        judge(format!("ping p50 ≤ loopback + 10 µs ({bound:.1} µs)"), run.ack.p50_us, bound);
    } else if durability_of(run) == "sync" {
        let bound = 1.2 * floor.fdatasync.p50_us;
        judge(format!("p50 ≤ 1.2x fdatasync p50 ({bound:.1} µs)"), run.ack.p50_us, bound);
    } else {
        let p50_bound = floor_us + 20.0;
        judge(format!("p50 ≤ floor + 20 µs ({p50_bound:.1} µs)"), run.ack.p50_us, p50_bound);
        let p99_bound = 2.0 * floor_us;
        judge(format!("p99 ≤ 2x floor ({p99_bound:.1} µs)"), run.ack.p99_us, p99_bound);
    }
    if let Some(event) = run.event.filter(|event| event.count > 0) {
        let bound = run.ack.p99_us + 50.0;
        judge(format!("event p99 ≤ ack p99 + 50 µs ({bound:.1} µs)"), event.p99_us, bound);
    }
}

/// The `async` run at half of peak (labelled `…-half`, else the one offered nearest half of
/// the peak): its acknowledgement p99 over the floor. Of several layouts, the one `--layout
/// auto` picks on the report's machine (`layout`) counts, as that is what `serve` runs; else
/// the first layout measured.
fn headline(runs: &[RunSummary], floor_us: f64, layout: &str) -> Option<f64> {
    let modes = modes_of(runs);
    let with_layout = format!("async-{layout}");
    let mode = [with_layout.as_str(), "async"]
        .into_iter()
        .find(|mode| modes.iter().any(|one| one == mode))
        .or_else(|| modes.iter().map(String::as_str).find(|mode| mode.starts_with("async-")))?;
    let fixed_rate = || runs.iter().filter(|run| mode_of(run) == mode && run.find_peak.is_none());
    let half = fixed_rate().find(|run| run.label.ends_with("-half")).or_else(|| {
        let half_peak = peak_of(runs, mode)? / 2.0;
        let off = |run: &&RunSummary| (run.offered_per_s - half_peak).abs();
        fixed_rate().min_by(|a, b| off(a).total_cmp(&off(b)))
    })?;
    Some(half.ack.p99_us / floor_us.max(1e-9))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::scrape::StageFigures;
    use crate::loadgen::stats::Percentiles;
    use crate::loadgen::summary::{PeakSummary, StepLine};
    use std::collections::BTreeMap;

    fn figures(p50_us: f64, p99_us: f64) -> Percentiles {
        Percentiles { count: 1000, p50_us, p90_us: p99_us, p99_us, p999_us: p99_us, max_us: p99_us }
    }

    /// Loopback 40 µs + one verification 60 µs: floor 100 µs; 2 cores at 25 µs a signature in a
    /// batch: 80,000 signatures/s; fdatasync 1 ms.
    fn floor() -> Floor {
        Floor {
            cores: 2,
            request_bytes: 420,
            answer_bytes: 330,
            loopback_round_trip: figures(40.0, 60.0),
            loopback_cross_core: None,
            verify_single: figures(60.0, 70.0),
            batch_size: 64,
            verify_batch_per_signature: figures(25.0, 30.0),
            journal_write_bytes: 256,
            fdatasync: figures(1000.0, 3000.0),
            data_dir: "/tmp".into(),
        }
    }

    fn server(mode: &str, stage_means_us: [f64; 5]) -> ServerSide {
        let names = scrape::STAGES.iter().map(|(label, _)| *label).chain([scrape::SERVER_TOTAL]);
        ServerSide {
            info: BTreeMap::from([("durability".to_string(), mode.to_string())]),
            stages: names
                .zip(stage_means_us)
                .map(|(name, mean_us)| StageFigures {
                    name: name.into(),
                    count: 1000,
                    mean_us,
                    p50_us: mean_us,
                    p99_us: mean_us,
                })
                .collect(),
            ..ServerSide::default()
        }
    }

    fn run(label: &str, mode: &str, offered_per_s: f64, ack: Percentiles) -> RunSummary {
        RunSummary {
            label: label.into(),
            command: String::new(),
            target: "127.0.0.1:1".into(),
            connections: 8,
            accounts: 8,
            markets: vec!["SOL_USDC".into()],
            mix: "limit=1".into(),
            subscribe: false,
            offered_per_s,
            acknowledged_per_s: offered_per_s,
            answered_per_s: offered_per_s,
            sent: 1000,
            acknowledged: 1000,
            rejected: 0,
            unanswered: 0,
            rejections: BTreeMap::new(),
            request_bytes_mean: 420.0,
            answer_bytes_mean: 330.0,
            ack,
            ack_mean_us: ack.p50_us,
            event: None,
            server: Some(server(mode, [90.0, 5.0, 5.0, 10.0, 110.0])),
            find_peak: None,
        }
    }

    fn peak_run(mode: &str, peak_per_s: f64) -> RunSummary {
        let step = StepLine {
            offered_per_s: peak_per_s,
            answered_per_s: peak_per_s,
            acknowledged_per_s: peak_per_s,
            ack: figures(100.0, 200.0),
        };
        let mut run = run(&format!("{mode}-peak"), mode, peak_per_s, figures(100.0, 200.0));
        run.find_peak =
            Some(PeakSummary { steps: vec![step], peak: Some(0), stopped: "p99".into() });
        run
    }

    #[test]
    fn each_run_up_to_80_percent_of_peak_is_judged_and_a_miss_names_its_stage() {
        let runs = vec![
            peak_run("async", 70_000.0),
            run("async-half", "async", 35_000.0, figures(115.0, 250.0)),
            run("async-10k", "async", 10_000.0, figures(110.0, 190.0)),
            run("async-60k", "async", 60_000.0, figures(900.0, 5000.0)),
        ];
        let evaluation = evaluate(&floor(), &runs);
        let find = |run: &str, target: &str| {
            evaluation
                .verdicts
                .iter()
                .find(|verdict| verdict.run == run && verdict.target.starts_with(target))
                .unwrap_or_else(|| panic!("{run} {target}: {:?}", evaluation.verdicts))
        };
        assert!(find("async-half", "p50 ≤ floor + 20 µs (120.0 µs)").met);
        let p99 = find("async-half", "p99 ≤ 2x floor (200.0 µs)");
        assert!(!p99.met);
        assert_eq!(p99.figure, "250.0 µs (1.25x bound)");
        // The client's mean is 115 µs, the server's 110: verify holds 90 of it.
        assert_eq!(
            p99.held_by.as_deref(),
            Some("net-in → verified (queue + signature) (90 of 115 µs mean)")
        );
        assert!(find("async-10k", "p99 ≤ 2x floor").met);
        // Above 80% of peak: listed, not held.
        assert!(find("async-60k", "not held").met);
        // 70,000 ≥ 0.85 × 80,000.
        let peak = find("async --find-peak", "peak ≥ 0.85x");
        assert!(peak.met, "{peak:?}");
        assert_eq!(peak.figure, "70000/s (0.88x capacity)");
        assert_eq!(evaluation.e2e_p99_vs_floor, Some(2.5));
    }

    #[test]
    fn sync_is_held_to_the_fdatasync_and_events_to_the_acknowledgement() {
        let mut synced = run("sync-1k", "sync", 1000.0, figures(1100.0, 4000.0));
        synced.event = Some(figures(1200.0, 4100.0));
        let evaluation = evaluate(&floor(), &[synced]);
        assert_eq!(evaluation.verdicts.len(), 2, "{:?}", evaluation.verdicts);
        assert_eq!(evaluation.verdicts[0].target, "p50 ≤ 1.2x fdatasync p50 (1200.0 µs)");
        assert!(evaluation.verdicts[0].met);
        assert_eq!(evaluation.verdicts[1].target, "event p99 ≤ ack p99 + 50 µs (4050.0 µs)");
        assert!(!evaluation.verdicts[1].met);
        // No async run: no headline.
        assert_eq!(evaluation.e2e_p99_vs_floor, None);
    }

    #[test]
    fn the_mode_is_the_servers_word_else_the_labels() {
        let mut unlabelled = run("none-1k", "async", 1.0, figures(1.0, 1.0));
        assert_eq!(mode_of(&unlabelled), "async");
        unlabelled.server = None;
        assert_eq!(mode_of(&unlabelled), "none");
    }

    #[test]
    fn a_ping_run_is_held_to_the_loopback_round_trip() {
        // Loopback 40 µs: a ping may take 50 µs at p50.
        let ping = run("async-single-ping", "async", 1000.0, figures(49.0, 400.0));
        let evaluation = evaluate(&floor(), &[ping]);
        assert_eq!(evaluation.verdicts[0].target, "ping p50 ≤ loopback + 10 µs (50.0 µs)");
        assert!(evaluation.verdicts[0].met);
        assert_eq!(evaluation.verdicts.len(), 1, "no order targets: {:?}", evaluation.verdicts);
    }

    #[test]
    fn layouts_are_modes_of_their_own_and_the_headline_is_autos() {
        let in_layout = |label: &str, layout: &str, p99_us: f64| {
            let mut run = run(label, "async", 1000.0, figures(100.0, p99_us));
            let server = run.server.as_mut().unwrap();
            server.info.insert("layout".into(), layout.into());
            run
        };
        let runs =
            [in_layout("split-half", "split", 900.0), in_layout("fused-half", "fused", 300.0)];
        assert_eq!(mode_of(&runs[0]), "async-split");
        assert_eq!(durability_of(&runs[0]), "async");
        assert_eq!(modes_of(&runs), ["async-fused", "async-split"]);
        // The floor's machine has 2 cores: auto fuses, so the fused run is the headline.
        let evaluation = evaluate(&floor(), &runs);
        let floor_us = floor().floor_us();
        assert_eq!(evaluation.e2e_p99_vs_floor, Some(300.0 / floor_us));
        assert_eq!(headline(&runs, floor_us, "split"), Some(900.0 / floor_us));
        // Auto's layout not measured: the first one that was.
        assert_eq!(headline(&runs[..1], floor_us, "fused"), Some(900.0 / floor_us));
    }
}
