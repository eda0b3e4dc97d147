//! `ringex latency-report`: turns a directory of runs into a report — `README.md`, percentile
//! plots with the floor drawn in, the stage breakdown as stacked bars — and keeps
//! `latency-reports/README.md` linking the latest.
//!
//! It reads only what our tools wrote into the directory: `floor.json` (`ringex floor`), one
//! `<label>.json` per run with its `<label>-ack.hgrm` and `<label>-event.hgrm`
//! (`ringex loadgen --out`), and `commands.txt` if the script kept one. Nothing in a report is
//! typed by hand; `scripts/latency-report.sh` makes the runs and calls this last.

use super::LoadgenError;
use super::floor::{self, Floor};
use super::hgrm;
use super::plot::{self, Series, StackedBar};
use super::report::micros;
use super::summary::RunSummary;
use super::targets::{self, Evaluation};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// `ringex latency-report` flags.
#[derive(clap::Args, Clone, Debug)]
pub struct ReportFlags {
    /// The directory of runs (`latency-reports/<date>-<name>`); the report is written into it.
    #[arg(long)]
    pub dir: PathBuf,
    /// The git revision measured (the script passes `git rev-parse`).
    #[arg(long, default_value = "unknown")]
    pub git_rev: String,
    /// The index to rewrite so it links every report, newest first (e.g.
    /// `latency-reports/README.md`; its directory is the one scanned).
    #[arg(long)]
    pub index: Option<PathBuf>,
}

/// A directory's inputs.
pub struct Inputs {
    /// The floor measured with the runs.
    pub floor: Floor,
    /// The runs, in the order the script made them (`commands.txt`), else by label.
    pub runs: Vec<RunSummary>,
    /// The script's commands, one per line, if it kept them.
    pub commands: Vec<String>,
}

impl Inputs {
    /// Reads `dir`.
    pub fn read(dir: &Path) -> Result<Inputs, LoadgenError> {
        let failed =
            |what: String| LoadgenError::Failed(format!("--dir {}: {what}", dir.display()));
        let floor_path = dir.join("floor.json");
        let floor_text = std::fs::read_to_string(&floor_path)
            .map_err(|error| failed(format!("floor.json: {error}")))?;
        let floor: Floor = serde_json::from_str(&floor_text)
            .map_err(|error| failed(format!("floor.json: {error}")))?;
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|error| failed(error.to_string()))?
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|path| {
                path.extension().is_some_and(|extension| extension == "json")
                    && path.file_name().is_some_and(|name| name != "floor.json")
            })
            .collect();
        paths.sort();
        let mut runs = paths
            .iter()
            .map(|path| RunSummary::read(path))
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        if runs.is_empty() {
            return Err(failed("no runs (<label>.json from ringex loadgen --out)".into()));
        }
        let commands: Vec<String> = std::fs::read_to_string(dir.join("commands.txt"))
            .map(|text| text.lines().map(str::to_string).collect())
            .unwrap_or_default();
        // The script's order: a run's position is where its label first appears in a command.
        let position = |run: &RunSummary| {
            let needle = format!("--label {}", run.label);
            commands.iter().position(|command| command.contains(&needle)).unwrap_or(usize::MAX)
        };
        runs.sort_by_key(position);
        Ok(Inputs { floor, runs, commands })
    }
}

/// Facts about this machine for the report's header.
pub struct Machine {
    /// `/proc/cpuinfo`'s model name.
    pub cpu: String,
    /// Vector extensions that matter to ED25519 (`AVX-512F`, `AVX2`).
    pub vector: String,
    /// `/proc/sys/kernel/osrelease`.
    pub kernel: String,
}

impl Machine {
    /// This machine, as Linux describes it ("unknown" where it does not).
    pub fn this() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| {
                line.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let flags = cpuinfo.lines().find(|line| line.starts_with("flags")).unwrap_or("");
        let has = |flag: &str| flags.split_whitespace().any(|word| word == flag);
        let vector = match (has("avx512f"), has("avx2")) {
            (true, _) => "AVX-512F and AVX2",
            (false, true) => "AVX2, no AVX-512",
            (false, false) => "no AVX2",
        };
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|text| format!("Linux {}", text.trim()))
            .unwrap_or_else(|_| "unknown".into());
        Machine { cpu, vector: vector.into(), kernel }
    }
}

/// Writes the report into `flags.dir` (and the index), and returns what it prints: the targets
/// and, last, `e2e_p99_vs_floor: <ratio>`.
pub fn run(flags: &ReportFlags) -> Result<String, LoadgenError> {
    let inputs = Inputs::read(&flags.dir)?;
    let evaluation = targets::evaluate(&inputs.floor, &inputs.runs);
    let failed =
        |error: String| LoadgenError::Failed(format!("--dir {}: {error}", flags.dir.display()));
    let plots = write_plots(&flags.dir, &inputs).map_err(failed)?;
    let readme =
        render_readme(&flags.dir, &inputs, &evaluation, &Machine::this(), &flags.git_rev, &plots);
    std::fs::write(flags.dir.join("README.md"), &readme)
        .map_err(|error| failed(error.to_string()))?;
    if let Some(index) = &flags.index {
        write_index(index).map_err(|error| {
            LoadgenError::Failed(format!("--index {}: {error}", index.display()))
        })?;
    }
    let mut printed = render_targets(&evaluation);
    printed.push_str(&headline_line(&evaluation));
    Ok(printed)
}

/// The last line: `e2e_p99_vs_floor: <ratio>` (`n/a` without an `async` run).
pub fn headline_line(evaluation: &Evaluation) -> String {
    match evaluation.e2e_p99_vs_floor {
        Some(ratio) => format!("e2e_p99_vs_floor: {ratio:.2}\n"),
        None => "e2e_p99_vs_floor: n/a (no async run)\n".into(),
    }
}

/// The plots written, as (file name, caption).
fn write_plots(dir: &Path, inputs: &Inputs) -> Result<Vec<(String, String)>, String> {
    let mut written = Vec::new();
    let floor = &inputs.floor;
    for mode in &targets::modes_of(&inputs.runs) {
        let mut series = Vec::new();
        let plotted = inputs.runs.iter().filter(|run| run.find_peak.is_none());
        for run in plotted.filter(|run| &targets::mode_of(run) == mode) {
            let ack = dir.join(format!("{}-ack.hgrm", run.label));
            if let Ok(points) = hgrm::read_file(&ack) {
                series.push(Series { label: format!("{} ack", run.label), points });
            }
            let event = dir.join(format!("{}-event.hgrm", run.label));
            if let Ok(points) = hgrm::read_file(&event).and_then(non_empty) {
                series.push(Series { label: format!("{} event", run.label), points });
            }
        }
        if series.is_empty() {
            continue;
        }
        let mut floor_lines = vec![(
            format!("floor: loopback + 1 verification ({})", micros(floor.floor_us())),
            floor.floor_us(),
        )];
        if mode.starts_with("sync") {
            let fsync = floor.fdatasync.p50_us;
            floor_lines.push((format!("fdatasync p50 ({})", micros(fsync)), fsync));
        }
        let name = format!("latency-{mode}.svg");
        let title = format!("{mode}: latency from scheduled send, by percentile");
        plot::percentile_plot(&dir.join(&name), &title, &series, &floor_lines)?;
        written.push((name, format!("Acknowledgement and event latency, {mode}")));
    }
    written.extend(write_load_curves(dir, inputs)?);
    let bars: Vec<StackedBar> = inputs
        .runs
        .iter()
        .filter(|run| run.find_peak.is_none())
        .map(|run| StackedBar { label: run.label.clone(), segments: targets::segments(run) })
        .filter(|bar| !bar.segments.is_empty())
        .collect();
    if !bars.is_empty() {
        plot::stage_bars(&dir.join("stages.svg"), "Where the mean acknowledgement goes", &bars)?;
        written.push(("stages.svg".into(), "Mean acknowledgement by stretch, per run".into()));
    }
    Ok(written)
}

/// `load-curve-<durability>.svg`: ack p50 and p99 against the offered rate, a line each per
/// layout (one plot per durability mode, so that no two lines share a colour), the floor drawn
/// in; a mode with fewer than two fixed-rate runs has no line.
fn write_load_curves(dir: &Path, inputs: &Inputs) -> Result<Vec<(String, String)>, String> {
    // Orders only: a ping run's point would sit on the orders' line.
    let fixed_rate = || {
        let orders = |run: &&RunSummary| !run.label.ends_with(targets::PING_SUFFIX);
        inputs.runs.iter().filter(|run| run.find_peak.is_none()).filter(orders)
    };
    let durabilities: std::collections::BTreeSet<String> =
        fixed_rate().map(targets::durability_of).collect();
    let floor_us = inputs.floor.floor_us();
    let floors = [(format!("floor: loopback + 1 verification ({})", micros(floor_us)), floor_us)];
    let mut written = Vec::new();
    for durability in &durabilities {
        let mut series = Vec::new();
        for mode in &targets::modes_of(&inputs.runs) {
            let runs: Vec<&RunSummary> = fixed_rate()
                .filter(|run| &targets::mode_of(run) == mode)
                .filter(|run| &targets::durability_of(run) == durability)
                .collect();
            if runs.len() < 2 {
                continue;
            }
            for (name, figure) in [("p50", Figure::P50), ("p99", Figure::P99)] {
                let points = runs.iter().map(|run| (run.offered_per_s, figure.of(run))).collect();
                series.push(Series { label: format!("{mode} {name}"), points });
            }
        }
        if series.is_empty() {
            continue;
        }
        let name = format!("load-curve-{durability}.svg");
        let title = format!("{durability}: acknowledgement latency against offered load");
        plot::load_curve(&dir.join(&name), &title, &series, &floors)?;
        let caption = format!("Ack p50 and p99 against offered load, `--durability {durability}`");
        written.push((name, caption));
    }
    Ok(written)
}

/// A point of the load curve.
#[derive(Clone, Copy)]
enum Figure {
    P50,
    P99,
}

impl Figure {
    fn of(self, run: &RunSummary) -> f64 {
        match self {
            Figure::P50 => run.ack.p50_us,
            Figure::P99 => run.ack.p99_us,
        }
    }
}

fn non_empty(points: Vec<(f64, f64)>) -> Result<Vec<(f64, f64)>, String> {
    if points.is_empty() { Err("empty".into()) } else { Ok(points) }
}

/// The targets as printed and in the README.
pub fn render_targets(evaluation: &Evaluation) -> String {
    let mut text = String::new();
    for verdict in &evaluation.verdicts {
        let mark = if verdict.met { "met" } else { "NOT MET" };
        let _ = write!(
            text,
            "{:<8} {:<18} {:<58} {}",
            mark, verdict.run, verdict.target, verdict.figure
        );
        if let Some(held_by) = &verdict.held_by {
            let _ = write!(text, "; held by {held_by}");
        }
        text.push('\n');
    }
    text
}

/// The report's `README.md`.
pub fn render_readme(
    dir: &Path,
    inputs: &Inputs,
    evaluation: &Evaluation,
    machine: &Machine,
    git_rev: &str,
    plots: &[(String, String)],
) -> String {
    let mut text = String::new();
    let name =
        dir.file_name().map_or_else(|| "report".into(), |name| name.to_string_lossy().to_string());
    let _ = writeln!(text, "# Latency report `{name}`\n");
    let _ = writeln!(
        text,
        "Written by `ringex latency-report` from the runs in this directory (made by \
         `scripts/latency-report.sh`); nothing here is typed by hand. Latency is open loop, from \
         each request's scheduled send time.\n"
    );
    let _ = writeln!(
        text,
        "- Machine: {} ({}), {} cores, {}",
        machine.cpu, machine.vector, inputs.floor.cores, machine.kernel
    );
    let _ = writeln!(text, "- git revision: `{git_rev}`");
    let modes = targets::modes_of(&inputs.runs);
    let _ = writeln!(
        text,
        "- Modes (durability, and layout where the server names it): {}",
        modes.join(", ")
    );
    let _ =
        writeln!(text, "- The load generator runs on the same machine and cores as the server.\n");
    let _ = writeln!(
        text,
        "## Floor, measured in the same run\n\n```\n{}```\n",
        floor::render(&inputs.floor)
    );
    render_runs(&mut text, &inputs.runs);
    for (file, caption) in plots {
        let _ = writeln!(text, "![{caption}]({file})\n");
    }
    render_stages(&mut text, &inputs.runs);
    let _ = writeln!(text, "## Targets\n\n```\n{}```\n", render_targets(evaluation));
    if !inputs.commands.is_empty() {
        let _ = writeln!(text, "## Commands\n\n```\n{}\n```\n", inputs.commands.join("\n"));
    }
    text.push_str(&headline_line(evaluation));
    text
}

fn render_runs(text: &mut String, runs: &[RunSummary]) {
    let _ = writeln!(text, "## Runs\n");
    let _ = writeln!(
        text,
        "| run | mode | offered/s | acked/s | ack p50 | p90 | p99 | p99.9 | max | event p50 | event p99 | rejected | unanswered | server counts |"
    );
    let _ = writeln!(text, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for run in runs {
        let (event_p50, event_p99) = match run.event.filter(|event| event.count > 0) {
            Some(event) => (micros(event.p50_us), micros(event.p99_us)),
            None => ("-".into(), "-".into()),
        };
        let counts = match &run.server {
            Some(server) if server.agrees_with(run.acknowledged, run.rejected) => "agree".into(),
            Some(server) => {
                format!("server {} ok / {} errors", server.responses_ok, server.responses_error)
            }
            None => "-".into(),
        };
        let _ = writeln!(
            text,
            "| {} | {} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {event_p50} | {event_p99} | {} | {} | {counts} |",
            run.label,
            targets::mode_of(run),
            run.offered_per_s,
            run.acknowledged_per_s,
            micros(run.ack.p50_us),
            micros(run.ack.p90_us),
            micros(run.ack.p99_us),
            micros(run.ack.p999_us),
            micros(run.ack.max_us),
            run.rejected,
            run.unanswered
        );
    }
    for run in runs {
        if let Some(search) = &run.find_peak {
            let _ = writeln!(
                text,
                "\n`{}`: peak {:.0} answered/s; stopped: {}\n",
                run.label,
                search.answered_per_s(),
                search.stopped
            );
            let _ = writeln!(
                text,
                "| step | offered/s | answered/s | acked/s | p50 | p99 |\n|---:|---:|---:|---:|---:|---:|"
            );
            for (position, step) in search.steps.iter().enumerate() {
                let mark = if Some(position) == search.peak { " (peak)" } else { "" };
                let _ = writeln!(
                    text,
                    "| {}{mark} | {:.0} | {:.0} | {:.0} | {} | {} |",
                    position + 1,
                    step.offered_per_s,
                    step.answered_per_s,
                    step.acknowledged_per_s,
                    micros(step.ack.p50_us),
                    micros(step.ack.p99_us)
                );
            }
        }
    }
    let _ = writeln!(
        text,
        "\nRequest and answer sizes (mean bytes): {}\n",
        runs.iter()
            .map(|run| format!(
                "{} {:.0}/{:.0}",
                run.label, run.request_bytes_mean, run.answer_bytes_mean
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn render_stages(text: &mut String, runs: &[RunSummary]) {
    let _ = writeln!(
        text,
        "## Where the time goes\n\nMeans from the server's own stamps (`GET /metrics` before and \
         after each run); the first column is the client's mean less the server's. Server \
         percentiles are good to a power-of-two bucket, so the bars stack means.\n"
    );
    let _ = writeln!(
        text,
        "| run | client + network | net-in → verified | sequencer | matcher | net-out | server total (~p99) | journal beside (~p99) | fdatasync mean | commands/fdatasync | server CPU (cores) | switches/s |"
    );
    let _ = writeln!(text, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for run in runs.iter().filter(|run| run.find_peak.is_none()) {
        let (Some(server), segments) = (&run.server, targets::segments(run)) else {
            continue;
        };
        let _ = write!(text, "| {} ", run.label);
        for (_, us) in &segments {
            let _ = write!(text, "| {} ", micros(*us));
        }
        let figure = |label: &str| {
            server.stage(label).filter(|stage| stage.count > 0).map_or("-".into(), |stage| {
                format!("{} ({})", micros(stage.mean_us), micros(stage.p99_us))
            })
        };
        let _ = writeln!(
            text,
            "| {} | {} | {} | {:.1} | {:.2} | {:.0} |",
            figure(super::scrape::SERVER_TOTAL),
            figure(super::scrape::JOURNAL),
            if server.fsync.count > 0 { micros(server.fsync.mean_us) } else { "-".into() },
            server.commands_per_fsync,
            server.cpu_cores(),
            server.switches_per_s()
        );
    }
    text.push('\n');
}

/// Rewrites `index` to link every report directory beside it (those with a `README.md`),
/// newest first, each with its headline line.
pub fn write_index(index: &Path) -> std::io::Result<()> {
    let root =
        index.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut reports: Vec<(String, String)> = std::fs::read_dir(root)?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let readme = std::fs::read_to_string(path.join("README.md")).ok()?;
            let headline = readme
                .lines()
                .rev()
                .find(|line| line.starts_with("e2e_p99_vs_floor:"))?
                .to_string();
            Some((path.file_name()?.to_string_lossy().to_string(), headline))
        })
        .collect();
    reports.sort_by(|a, b| b.0.cmp(&a.0));
    let mut text = String::from(
        "# latency-reports/\n\n\
         Reports written by ringex's own tools, never by hand: `scripts/latency-report.sh` runs the \
         server in each durability mode, measures the floor, finds the peak with `ringex loadgen \
         --find-peak`, runs at half of it and at fixed rates, and `ringex latency-report` writes \
         each directory (`.hgrm` percentiles, JSON run summaries, SVG plots, a README naming the \
         machine, the commands and the git revision) and this index. Component figures come from \
         the criterion benches in `benches/` (see `benches/README.md`).\n\n",
    );
    match reports.first() {
        Some((latest, headline)) => {
            let _ = writeln!(text, "Latest: [{latest}]({latest}/README.md) — `{headline}`\n");
        }
        None => text.push_str("No report yet.\n\n"),
    }
    for (name, headline) in &reports {
        let _ = writeln!(text, "- [{name}]({name}/README.md) — `{headline}`");
    }
    std::fs::write(index, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_links_every_report_newest_first_with_its_headline() {
        let root = std::env::temp_dir().join(format!("ringex-index-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (name, ratio) in [("2026-01-02-a", "1.50"), ("2026-03-04-b", "1.20")] {
            std::fs::create_dir_all(root.join(name)).unwrap();
            let readme = format!("# Latency report\n\ne2e_p99_vs_floor: {ratio}\n");
            std::fs::write(root.join(name).join("README.md"), readme).unwrap();
        }
        // A directory without a report is not listed.
        std::fs::create_dir_all(root.join("scratch")).unwrap();
        let index = root.join("README.md");
        write_index(&index).unwrap();
        let text = std::fs::read_to_string(&index).unwrap();
        assert!(
            text.contains(
                "Latest: [2026-03-04-b](2026-03-04-b/README.md) — `e2e_p99_vs_floor: 1.20`"
            ),
            "{text}"
        );
        let newer = text.find("- [2026-03-04-b]").unwrap();
        let older = text.find("- [2026-01-02-a]").unwrap();
        assert!(newer < older, "{text}");
        assert!(!text.contains("scratch"), "{text}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
