//! `ringex reliability-report`: turns a directory of fault-suite results into
//! `latency-reports/reliability.md` — what was tried, how often, restart times against journal
//! length, what was lost or duplicated, on which machine and revision. Nothing in it is typed by
//! hand: `scripts/reliability-report.sh` makes the runs and calls this last.
//!
//! It reads only what the tools and the script wrote into the directory:
//! - `parts.tsv`: one line per part the script ran: name, exit code, seconds, command;
//! - `crash-cycles.json` (`ringex crash-cycles --out`);
//! - `restart-*.json` (`ringex restart-time --out`), one per journal length;
//! - `disk-faults.log`: `cargo test` output of the disk-fault tests (`test NAME ... ok`);
//! - `fuzz.log`: `scripts/soak.sh`'s fuzz output (`NAME: N inputs` from the mutator, or
//!   libFuzzer's `Done N runs in S second(s)` after `cargo fuzz: NAME for Ss`).
//!
//! The report states its sizes, and calls itself a reduced run when any part is smaller than the
//! soak ([`SOAK_CYCLES`], [`SOAK_JOURNALS`], [`SOAK_FUZZ_S`]).

use super::Error;
use super::restart::{RestartTime, TARGET_RECORDS, TARGET_S};
use super::summary::CrashSummary;
use crate::loadgen::latency_report::Machine;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Crash cycles of the soak.
pub const SOAK_CYCLES: u32 = 500;

/// Journal lengths the soak times restarts at.
pub const SOAK_JOURNALS: [u64; 3] = [1_000_000, 3_000_000, 10_000_000];

/// Seconds of fuzzing per target in the soak.
pub const SOAK_FUZZ_S: u64 = 600;

/// `ringex reliability-report`'s flags.
#[derive(clap::Args, Clone, Debug)]
pub struct ReportFlags {
    /// The directory of results.
    #[arg(long)]
    pub dir: PathBuf,
    /// The report to write.
    #[arg(long, default_value = "latency-reports/reliability.md")]
    pub out: PathBuf,
    /// The git revision measured (the script passes `git rev-parse`).
    #[arg(long, default_value = "unknown")]
    pub git_rev: String,
}

/// One part the script ran.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// Its name.
    pub name: String,
    /// Its exit code.
    pub exit_code: i32,
    /// Its wall time, s.
    pub seconds: f64,
    /// The command.
    pub command: String,
}

/// One fuzz target's run.
#[derive(Clone, Debug, PartialEq)]
pub struct FuzzRun {
    /// The target.
    pub target: String,
    /// Seconds it was given.
    pub seconds: u64,
    /// Inputs run.
    pub inputs: Option<u64>,
}

/// A directory's inputs.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// The parts, in the order run.
    pub parts: Vec<Part>,
    /// The crash cycles, if run.
    pub crash: Option<CrashSummary>,
    /// Restart times, by journal length.
    pub restarts: Vec<RestartTime>,
    /// Disk-fault tests and whether each passed.
    pub disk_faults: Vec<(String, bool)>,
    /// Fuzz targets run.
    pub fuzz: Vec<FuzzRun>,
}

impl Inputs {
    /// Reads `dir`.
    pub fn read(dir: &Path) -> Result<Inputs, Error> {
        let failed = |what: String| Error::Failed(format!("--dir {}: {what}", dir.display()));
        let text = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        let mut inputs = Inputs {
            parts: text("parts.tsv").map(|text| parts(&text)).unwrap_or_default(),
            ..Inputs::default()
        };
        if let Some(json) = text("crash-cycles.json") {
            let crash = serde_json::from_str(&json)
                .map_err(|error| failed(format!("crash-cycles.json: {error}")))?;
            inputs.crash = Some(crash);
        }
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|error| failed(error.to_string()))?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.starts_with("restart-") && name.ends_with(".json"))
            .collect();
        names.sort();
        for name in names {
            let json = text(&name).unwrap_or_default();
            let restart: RestartTime =
                serde_json::from_str(&json).map_err(|error| failed(format!("{name}: {error}")))?;
            inputs.restarts.push(restart);
        }
        inputs.restarts.sort_by_key(|restart| restart.journal_records);
        inputs.disk_faults =
            text("disk-faults.log").map(|log| test_results(&log)).unwrap_or_default();
        inputs.fuzz = text("fuzz.log").map(|log| fuzz_runs(&log)).unwrap_or_default();
        Ok(inputs)
    }

    /// What falls short of the soak, one phrase each (empty: soak-sized).
    pub fn shortfalls(&self) -> Vec<String> {
        let mut short = Vec::new();
        match &self.crash {
            Some(crash) if crash.cycles >= SOAK_CYCLES => {}
            Some(crash) => short.push(format!("{} crash cycles, not {SOAK_CYCLES}", crash.cycles)),
            None => short.push("no crash cycles".into()),
        }
        let lengths: Vec<u64> =
            self.restarts.iter().map(|restart| restart.journal_records).collect();
        if !SOAK_JOURNALS.iter().all(|length| lengths.contains(length)) {
            short.push(format!("restart times at {lengths:?} records, not {SOAK_JOURNALS:?}"));
        }
        if self.disk_faults.is_empty() {
            short.push("no disk-fault tests".into());
        }
        match self.fuzz.iter().map(|run| run.seconds).min() {
            Some(seconds) if seconds >= SOAK_FUZZ_S => {}
            Some(seconds) => {
                short.push(format!("fuzzing {seconds} s per target, not {SOAK_FUZZ_S}"))
            }
            None => short.push("no fuzzing".into()),
        }
        short
    }
}

/// `parts.tsv`'s lines.
fn parts(text: &str) -> Vec<Part> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(4, '\t');
            Some(Part {
                name: fields.next()?.to_string(),
                exit_code: fields.next()?.trim().parse().ok()?,
                seconds: fields.next()?.trim().parse().ok()?,
                command: fields.next().unwrap_or("").trim().to_string(),
            })
        })
        .collect()
}

/// `test NAME ... ok|FAILED` lines of a `cargo test` log.
fn test_results(log: &str) -> Vec<(String, bool)> {
    log.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("test ")?;
            let (name, verdict) = rest.split_once(" ... ")?;
            Some((name.to_string(), verdict.trim() == "ok"))
        })
        .collect()
}

/// The fuzz targets of `scripts/soak.sh`'s log, with their seconds and inputs.
fn fuzz_runs(log: &str) -> Vec<FuzzRun> {
    let mut runs: Vec<FuzzRun> = Vec::new();
    for line in log.lines() {
        // `mutator: NAME for Ss (seed …)` or `cargo fuzz: NAME for Ss` opens a target.
        let opened = line.strip_prefix("mutator: ").or_else(|| line.strip_prefix("cargo fuzz: "));
        if let Some((target, rest)) = opened.and_then(|rest| rest.split_once(" for ")) {
            let seconds = rest.split('s').next().and_then(|s| s.parse().ok()).unwrap_or(0);
            runs.push(FuzzRun { target: target.to_string(), seconds, inputs: None });
            continue;
        }
        let Some(run) = runs.last_mut() else { continue };
        if let Some(count) = line.strip_prefix(&format!("{}: ", run.target)) {
            run.inputs = count.split_whitespace().next().and_then(|n| n.parse().ok());
        } else if let Some(done) = line.find("Done ").map(|at| &line[at + 5..]) {
            run.inputs = done.split_whitespace().next().and_then(|n| n.parse().ok());
        }
    }
    runs
}

/// Writes the report; returns what it prints (its verdict lines).
pub fn run(flags: &ReportFlags) -> Result<String, Error> {
    let inputs = Inputs::read(&flags.dir)?;
    let text = render(&inputs, &Machine::this(), &flags.git_rev, &today());
    if let Some(parent) = flags.out.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|error| Error::Failed(format!("{}: {error}", parent.display())))?;
    }
    std::fs::write(&flags.out, &text)
        .map_err(|error| Error::Failed(format!("--out {}: {error}", flags.out.display())))?;
    let mut printed = format!("wrote {}\n", flags.out.display());
    for line in verdicts(&inputs) {
        let _ = writeln!(printed, "{line}");
    }
    Ok(printed)
}

/// Today's UTC date, `YYYY-MM-DD`.
fn today() -> String {
    let days = crate::clock::wall_ms() / 86_400_000;
    let (year, month, day) = crate::netout::calendar::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// One line per part: what it found.
pub fn verdicts(inputs: &Inputs) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(crash) = &inputs.crash {
        lines.push(format!(
            "crash cycles: {} cycles, {} acknowledged, lost {}, duplicated {}, hash disagreements \
             {}, balance failures {}: {}",
            crash.per_cycle.len(),
            crash.acknowledged,
            crash.lost,
            crash.duplicated,
            crash.hash_disagreements,
            crash.balance_failures,
            if crash.passed() { "passed" } else { "FAILED" }
        ));
    }
    for restart in &inputs.restarts {
        lines.push(format!("restart: {}", restart.render().trim_end()));
    }
    let failed_faults = inputs.disk_faults.iter().filter(|(_, passed)| !passed).count();
    lines.push(format!("disk faults: {} tests, {failed_faults} failed", inputs.disk_faults.len()));
    for part in inputs.parts.iter().filter(|part| part.exit_code != 0) {
        lines.push(format!("part {} exited {}", part.name, part.exit_code));
    }
    lines
}

/// The report's text.
pub fn render(inputs: &Inputs, machine: &Machine, git_rev: &str, date: &str) -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mut text = String::from("# Reliability report\n\n");
    let _ = writeln!(
        text,
        "Written by `ringex reliability-report` from the runs of `scripts/reliability-report.sh` \
         on {date}, git `{git_rev}`, on {} ({cores} cores, {}).\n",
        machine.cpu, machine.kernel
    );
    let shortfalls = inputs.shortfalls();
    if shortfalls.is_empty() {
        text.push_str("**Soak-sized run**: every part at the soak's size.\n\n");
    } else {
        let _ = writeln!(
            text,
            "**Reduced run, not the soak**: {}. The soak is {SOAK_CYCLES} crash cycles, restart \
             times at 1, 3 and 10 million journaled commands, and {SOAK_FUZZ_S} s of fuzzing per \
             target.\n",
            shortfalls.join("; ")
        );
    }
    super::report_sections::summary_table(&mut text, inputs);
    super::report_sections::crash(&mut text, inputs.crash.as_ref());
    super::report_sections::restarts(&mut text, &inputs.restarts, (TARGET_RECORDS, TARGET_S));
    super::report_sections::disk_faults(&mut text, &inputs.disk_faults);
    super::report_sections::fuzz(&mut text, &inputs.fuzz);
    super::report_sections::parts(&mut text, &inputs.parts);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_read_for_tests_fuzz_targets_and_parts() {
        let log = "running 2 tests\ntest a_full_disk ... ok\ntest a_failed_write ... FAILED\n";
        assert_eq!(
            test_results(log),
            [("a_full_disk".to_string(), true), ("a_failed_write".to_string(), false)]
        );
        let fuzz = "mutator: decimal for 5s (seed 20260101)\nrunning 1 test\ndecimal: 81234 \
                    inputs\ncargo fuzz: http_framer for 600s\n#123 DONE\nDone 4567 runs in 600 \
                    second(s)\n";
        let runs = fuzz_runs(fuzz);
        assert_eq!(runs[0], FuzzRun { target: "decimal".into(), seconds: 5, inputs: Some(81_234) });
        assert_eq!(runs[1].inputs, Some(4567));
        assert_eq!(runs[1].seconds, 600);
        let parts = parts("crash\t0\t12.5\tringex crash-cycles --cycles 5\nbad line\n");
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].command, "ringex crash-cycles --cycles 5");
    }

    #[test]
    fn a_small_run_says_it_is_not_the_soak() {
        let inputs = Inputs {
            crash: Some(CrashSummary { cycles: 10, ..CrashSummary::default() }),
            ..Inputs::default()
        };
        let machine = Machine { cpu: "CPU".into(), vector: String::new(), kernel: "Linux".into() };
        let text = render(&inputs, &machine, "abc", "2026-01-01");
        assert!(text.contains("**Reduced run, not the soak**: 10 crash cycles, not 500"), "{text}");
        assert!(text.contains("git `abc`"));
    }
}
