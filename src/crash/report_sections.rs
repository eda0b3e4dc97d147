//! The sections of `latency-reports/reliability.md` ([`super::report`] reads the inputs).

use super::report::{FuzzRun, Inputs, Part};
use super::restart::RestartTime;
use super::summary::{CrashSummary, CycleRecord};
use std::fmt::Write;

/// Cycles listed one by one at most (a longer run lists the ones with findings).
const CYCLES_LISTED_MAX: usize = 30;

/// One figure of a cycle, for the distribution table.
type Figure = fn(&CycleRecord) -> f64;

fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "**NO**" }
}

/// The table of parts: what was tried, how often, what was found.
pub fn summary_table(text: &mut String, inputs: &Inputs) {
    text.push_str("| part | what was tried | how often | lost or duplicated | passed |\n");
    text.push_str("|---|---|---|---|---|\n");
    if let Some(crash) = &inputs.crash {
        let _ = writeln!(
            text,
            "| crash cycles | SIGKILL `ringex serve` under load, `ringex replay`, restart, look up \
             every acknowledged order | {} cycles, {} commands acknowledged | lost {}, duplicated \
             {} | {} |",
            crash.per_cycle.len(),
            crash.acknowledged,
            crash.lost,
            crash.duplicated,
            yes(crash.passed()),
        );
    }
    if !inputs.restarts.is_empty() {
        let lengths: Vec<String> =
            inputs.restarts.iter().map(|restart| restart.journal_records.to_string()).collect();
        let _ = writeln!(
            text,
            "| restart time | `ringex serve` spawn → first answer on a journal of N commands | N = \
             {} | – | see below |",
            lengths.join(", ")
        );
    }
    if !inputs.disk_faults.is_empty() {
        let passed = inputs.disk_faults.iter().all(|(_, passed)| *passed);
        let _ = writeln!(
            text,
            "| disk faults | a write past the file-size limit (EFBIG), injected ENOSPC and \
             fdatasync EIO, SIGTERM under load (`tests/cli.rs`) | {} tests | acknowledged = journal prefix | {} |",
            inputs.disk_faults.len(),
            yes(passed),
        );
    }
    if !inputs.fuzz.is_empty() {
        let inputs_run: u64 = inputs.fuzz.iter().filter_map(|run| run.inputs).sum();
        let fuzz_part = inputs.parts.iter().find(|part| part.name == "fuzz");
        let _ = writeln!(
            text,
            "| fuzzing | every decoder of `ringex::fuzz_targets` | {} targets, {} inputs | – | {} |",
            inputs.fuzz.len(),
            inputs_run,
            fuzz_part.map_or("–", |part| yes(part.exit_code == 0)),
        );
    }
    text.push('\n');
}

/// The crash cycles: settings, distributions, and the cycles (or those with findings).
pub fn crash(text: &mut String, crash: Option<&CrashSummary>) {
    let Some(crash) = crash else { return };
    text.push_str("## Crash cycles\n\n");
    let _ = writeln!(
        text,
        "`{}`\n\n{} cycles on one data directory at {:.0} signed requests/s (`--durability {}`, \
         {} connections, {} accounts, mix `{}`, markets {}), SIGKILL {}–{} ms into each cycle's \
         load (seed {}). After each kill: `ringex replay`, a restart, the restarted state hash \
         against the replay's, every acknowledged order looked up by id in its account (open \
         orders and order history), every acknowledged cancel checked, and per asset the \
         accounts' balances plus the fee account's against deposits minus withdrawals.\n",
        crash.command,
        crash.per_cycle.len(),
        crash.rate_per_s,
        crash.durability,
        crash.connections,
        crash.accounts,
        crash.mix,
        crash.markets.join(", "),
        crash.kill_after_ms[0],
        crash.kill_after_ms[1],
        crash.seed,
    );
    let cycles = &crash.per_cycle;
    let spread = |values: Vec<f64>| -> String {
        let mut values = values;
        values.sort_by(f64::total_cmp);
        let at = |quantile: f64| values[((values.len() - 1) as f64 * quantile) as usize];
        if values.is_empty() {
            return "–".into();
        }
        format!("{:.0} / {:.0} / {:.0}", at(0.0), at(0.5), at(1.0))
    };
    text.push_str("| per cycle | min / median / max |\n|---|---|\n");
    let rows: [(&str, Figure); 7] = [
        ("kill after, ms", |c| c.kill_after_ms as f64),
        ("acknowledged", |c| c.acknowledged as f64),
        ("orders acknowledged", |c| c.orders_acknowledged as f64),
        ("in flight at the kill", |c| c.unanswered as f64),
        ("restart, spawn → first answer, ms", |c| c.restart_ms),
        ("`ringex replay`, ms", |c| c.replay_s * 1000.0),
        ("acknowledgement p99, µs", |c| c.ack_p99_us),
    ];
    for (name, value) in rows {
        let _ = writeln!(text, "| {name} | {} |", spread(cycles.iter().map(value).collect()));
    }
    let _ = writeln!(
        text,
        "\nTotals: {} acknowledged ({} orders); lost {}, duplicated {}; hash disagreements {}; \
         balance failures {}; journal {} records at the last kill; kills during a snapshot: {}; \
         final SIGTERM exit {:?}, hash {}. Run time {:.0} s.\n",
        crash.acknowledged,
        crash.orders_acknowledged,
        crash.lost,
        crash.duplicated,
        crash.hash_disagreements,
        crash.balance_failures,
        crash.journal_records,
        crash.kills_during_snapshot.map_or("not reported (no snapshots)".into(), |n| n.to_string()),
        crash.final_exit_code,
        if crash.final_hash_agrees { "agrees" } else { "**differs**" },
        crash.seconds,
    );
    cycle_table(text, cycles);
}

fn cycle_table(text: &mut String, cycles: &[CycleRecord]) {
    let listed: Vec<&CycleRecord> = if cycles.len() <= CYCLES_LISTED_MAX {
        cycles.iter().collect()
    } else {
        cycles.iter().filter(|cycle| !cycle.passed() || !cycle.findings.is_empty()).collect()
    };
    if listed.is_empty() {
        let _ = writeln!(text, "No cycle found anything ({} cycles).\n", cycles.len());
        return;
    }
    text.push_str(
        "| cycle | kill ms | acknowledged | in flight | journal records | restart ms | lost | \
         duplicated | hash | balances | during snapshot |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for cycle in &listed {
        let _ = writeln!(
            text,
            "| {} | {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} |",
            cycle.cycle,
            cycle.kill_after_ms,
            cycle.acknowledged,
            cycle.unanswered,
            cycle.replay_records,
            cycle.restart_ms,
            cycle.lost,
            cycle.duplicated,
            yes(cycle.hashes_agree),
            yes(cycle.balances_conserved),
            cycle.during_snapshot.map_or("–".into(), |during| during.to_string()),
        );
    }
    for cycle in listed.iter().filter(|cycle| !cycle.findings.is_empty()) {
        let _ = writeln!(text, "\nCycle {}: {}", cycle.cycle, cycle.findings.join("; "));
    }
    text.push('\n');
}

/// Restart time against journal length, and the target.
pub fn restarts(text: &mut String, restarts: &[RestartTime], (records, target_s): (u64, f64)) {
    if restarts.is_empty() {
        return;
    }
    text.push_str("## Restart time against journal length\n\n");
    text.push_str(
        "Journals written by `ringex journal-synth` (the load generator's mix through the \
         matcher, only applied commands journaled), then `ringex restart-time`: `ringex serve` \
         from spawn to its first answered request (the administrator's state query). Cold: the \
         journal's pages dropped from the page cache first.\n\n",
    );
    text.push_str(
        "| journal records | data MB | replayed at start | restart cold, s | restart warm, s | \
         records/s (warm) | `ringex replay`, s |\n|---|---|---|---|---|---|---|\n",
    );
    let seconds = |runs: Vec<f64>| match runs.is_empty() {
        true => "–".to_string(),
        false => runs.iter().map(|s| format!("{s:.2}")).collect::<Vec<_>>().join(", "),
    };
    for restart in restarts {
        let cold: Vec<f64> = restart.runs.iter().filter(|r| r.cold).map(|r| r.seconds).collect();
        let warm: Vec<f64> = restart.runs.iter().filter(|r| !r.cold).map(|r| r.seconds).collect();
        let best_warm = warm.iter().copied().fold(f64::INFINITY, f64::min);
        let _ = writeln!(
            text,
            "| {} | {:.0} | {} | {} | {} | {} | {} |",
            restart.journal_records,
            restart.data_bytes as f64 / 1e6,
            restart
                .runs
                .first()
                .and_then(|run| run.replayed_at_start)
                .map_or("–".into(), |n| n.to_string()),
            seconds(cold),
            seconds(warm),
            match best_warm.is_finite() {
                true => format!("{:.0}", restart.journal_records as f64 / best_warm),
                false => "–".into(),
            },
            restart.replay_s.map_or("–".into(), |s| format!("{s:.2}")),
        );
    }
    match restarts.iter().find(|restart| restart.journal_records == records) {
        Some(restart) => {
            let worst = restart.worst_s();
            let _ = writeln!(
                text,
                "\nTarget: restart in at most {target_s} s after {records} journaled commands: \
                 **{}** (slowest restart {worst:.2} s).\n",
                if worst <= target_s { "met" } else { "missed" }
            );
        }
        None => {
            let _ = writeln!(text, "\nTarget ({target_s} s at {records} records): not measured.\n");
        }
    }
}

/// The disk-fault tests.
pub fn disk_faults(text: &mut String, tests: &[(String, bool)]) {
    if tests.is_empty() {
        return;
    }
    text.push_str(
        "## Disk faults\n\n`tests/cli.rs` against the binary:\n\n| test | passed |\n|---|---|\n",
    );
    for (name, passed) in tests {
        let _ = writeln!(text, "| `{name}` | {} |", yes(*passed));
    }
    text.push('\n');
}

/// The fuzz targets.
pub fn fuzz(text: &mut String, runs: &[FuzzRun]) {
    if runs.is_empty() {
        return;
    }
    text.push_str(
        "## Fuzzing\n\n`scripts/soak.sh` (cargo-fuzz when installed, else the \
                   `tests/fuzz.rs` mutator for the same time):\n\n| target | seconds | inputs |\n\
                   |---|---|---|\n",
    );
    for run in runs {
        let inputs = run.inputs.map_or("–".into(), |inputs| inputs.to_string());
        let _ = writeln!(text, "| `{}` | {} | {inputs} |", run.target, run.seconds);
    }
    text.push('\n');
}

/// The commands the script ran.
pub fn parts(text: &mut String, parts: &[Part]) {
    if parts.is_empty() {
        return;
    }
    text.push_str("## Commands\n\n| part | exit | seconds | command |\n|---|---|---|---|\n");
    for part in parts {
        let _ = writeln!(
            text,
            "| {} | {} | {:.0} | `{}` |",
            part.name, part.exit_code, part.seconds, part.command
        );
    }
}
