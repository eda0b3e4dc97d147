//! A crash-cycle run as JSON (`ringex crash-cycles --out`), which `ringex reliability-report`
//! reads, and the lines the run prints: one per cycle, then the totals.

use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// One kill-and-restart cycle.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CycleRecord {
    /// 1-based.
    pub cycle: u32,
    /// SIGKILL this long into the load, ms.
    pub kill_after_ms: u64,
    /// Requests written.
    pub sent: u64,
    /// Answered 200: placements, cancels, cancel-alls and the cycle's two transfers.
    pub acknowledged: u64,
    /// Acknowledged placements (each looked up by id after the restart).
    pub orders_acknowledged: u64,
    /// Orders acknowledged as cancelled (each checked not open after the restart).
    pub cancels_acknowledged: u64,
    /// Answered with an error (a cancel whose order a trade took first, mostly).
    pub rejected: u64,
    /// Rejections by status, code and message (numbers folded).
    pub rejections: std::collections::BTreeMap<String, u64>,
    /// Sent and never answered: in flight at the kill, their fate the journal's.
    pub unanswered: u64,
    /// Acknowledgement latency from the schedule, p50 and p99, µs.
    pub ack_p50_us: f64,
    /// See `ack_p50_us`.
    pub ack_p99_us: f64,
    /// Acknowledged commands not found after the restart (or found undone).
    pub lost: u64,
    /// Orders found twice.
    pub duplicated: u64,
    /// Acknowledgements whose answer did not read as what their request asked for (so they
    /// could not be checked): a failure like a loss.
    pub unreadable: u64,
    /// Examples of what was lost, duplicated or unreadable.
    pub findings: Vec<String>,
    /// Per asset, accounts + fee account = deposits − withdrawals, and the engine agrees.
    pub balances_conserved: bool,
    /// `ringex replay` after the kill: journal records.
    pub replay_records: u64,
    /// Its last global sequence number.
    pub replay_sequence: u64,
    /// Its state hash.
    pub replay_hash: String,
    /// Its run time, spawn to exit, s.
    pub replay_s: f64,
    /// The torn tail it cut, if any.
    pub tail_cut: Option<String>,
    /// The restarted server's state hash.
    pub restarted_hash: String,
    /// Restarted hash and sequence equal the replay's.
    pub hashes_agree: bool,
    /// `ringex serve` spawn → first answered request, ms.
    pub restart_ms: f64,
    /// Journal records the restarted server said it replayed (fewer than the journal's once a
    /// snapshot covers the rest).
    pub replayed_at_start: Option<u64>,
    /// Snapshots the killed server reported written.
    pub snapshots_written: u64,
    /// Whether the kill landed while a snapshot was being taken (`None`: the server reported no
    /// snapshots, so nothing tells).
    pub during_snapshot: Option<bool>,
    /// Open orders over the accounts after the restart.
    pub open_orders: u64,
    /// Order-history records read to find the acknowledged orders.
    pub history_read: u64,
}

impl CycleRecord {
    /// Nothing lost or duplicated, the hashes agree, every asset conserved.
    pub fn passed(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.unreadable == 0
            && self.hashes_agree
            && self.balances_conserved
    }

    /// The line the run prints for it.
    pub fn line(&self, cycles: u32) -> String {
        let verdict = |ok: bool| if ok { "ok" } else { "DIFFERENT" };
        let mut line = format!(
            "cycle {:>4}/{cycles}  kill at {:>4} ms  acknowledged {:>6} (orders {}, cancels {})  \
             in flight {}  replay {} records {:.2} s  restart {:.0} ms  lost {}  duplicated {}  \
             hash {}  balances {}",
            self.cycle,
            self.kill_after_ms,
            self.acknowledged,
            self.orders_acknowledged,
            self.cancels_acknowledged,
            self.unanswered,
            self.replay_records,
            self.replay_s,
            self.restart_ms,
            self.lost,
            self.duplicated,
            verdict(self.hashes_agree),
            verdict(self.balances_conserved),
        );
        if let Some(during) = self.during_snapshot {
            let _ = write!(line, "  during snapshot {during}");
        }
        line
    }
}

/// The whole run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CrashSummary {
    /// The command line that made it.
    pub command: String,
    /// Cycles run.
    pub cycles: u32,
    /// Offered load, requests/s.
    pub rate_per_s: f64,
    /// `--durability`.
    pub durability: String,
    /// Keep-alive connections of the load.
    pub connections: usize,
    /// Accounts trading.
    pub accounts: usize,
    /// The request mix.
    pub mix: String,
    /// Markets traded.
    pub markets: Vec<String>,
    /// Seed of kills and requests.
    pub seed: u64,
    /// The kill delay's range, ms.
    pub kill_after_ms: [u64; 2],
    /// `--snapshot-every-records`, passed to the server's `[snapshot]` table.
    pub snapshot_every_records: Option<u64>,
    /// Acknowledged over all cycles.
    pub acknowledged: u64,
    /// Acknowledged placements over all cycles.
    pub orders_acknowledged: u64,
    /// Lost over all cycles.
    pub lost: u64,
    /// Duplicated over all cycles.
    pub duplicated: u64,
    /// Cycles whose restarted hash differed from the replay's.
    pub hash_disagreements: u32,
    /// Cycles where some asset was not conserved.
    pub balance_failures: u32,
    /// Kills that landed during a snapshot (`None`: no snapshots reported).
    pub kills_during_snapshot: Option<u32>,
    /// Restart time over the cycles, ms: median and largest.
    pub restart_ms_p50: f64,
    /// See `restart_ms_p50`.
    pub restart_ms_max: f64,
    /// Journal records at the last kill.
    pub journal_records: u64,
    /// The final SIGTERM's exit code, and whether the hash it printed is the last restart's.
    pub final_exit_code: Option<i32>,
    /// See `final_exit_code`.
    pub final_hash_agrees: bool,
    /// Wall time of the run, s.
    pub seconds: f64,
    /// Every cycle.
    pub per_cycle: Vec<CycleRecord>,
}

impl CrashSummary {
    /// Whether nothing was lost, duplicated or disagreed, and the server stopped cleanly.
    pub fn passed(&self) -> bool {
        self.per_cycle.iter().all(CycleRecord::passed)
            && self.per_cycle.len() == self.cycles as usize
            && self.final_exit_code == Some(0)
            && self.final_hash_agrees
    }

    /// Adds up the cycles into the totals.
    pub fn total(&mut self) {
        let cycles = &self.per_cycle;
        self.acknowledged = cycles.iter().map(|cycle| cycle.acknowledged).sum();
        self.orders_acknowledged = cycles.iter().map(|cycle| cycle.orders_acknowledged).sum();
        self.lost = cycles.iter().map(|cycle| cycle.lost).sum();
        self.duplicated = cycles.iter().map(|cycle| cycle.duplicated).sum();
        self.hash_disagreements = cycles.iter().filter(|cycle| !cycle.hashes_agree).count() as u32;
        self.balance_failures =
            cycles.iter().filter(|cycle| !cycle.balances_conserved).count() as u32;
        let during: Vec<bool> = cycles.iter().filter_map(|cycle| cycle.during_snapshot).collect();
        self.kills_during_snapshot =
            (!during.is_empty()).then(|| during.iter().filter(|during| **during).count() as u32);
        let mut restarts: Vec<f64> = cycles.iter().map(|cycle| cycle.restart_ms).collect();
        restarts.sort_by(f64::total_cmp);
        self.restart_ms_p50 = restarts.get(restarts.len() / 2).copied().unwrap_or(0.0);
        self.restart_ms_max = restarts.last().copied().unwrap_or(0.0);
        self.journal_records = cycles.last().map_or(0, |cycle| cycle.replay_records);
    }

    /// The totals, as the run prints them last.
    pub fn render(&self) -> String {
        let mean = |total: u64| total as f64 / (self.per_cycle.len().max(1)) as f64;
        let mut text = format!(
            "{} cycles at {:.0} requests/s ({} durability): acknowledged {} ({:.0} a cycle; \
             orders {}), lost {}, duplicated {}, hash disagreements {}, balance failures {}\n",
            self.per_cycle.len(),
            self.rate_per_s,
            self.durability,
            self.acknowledged,
            mean(self.acknowledged),
            self.orders_acknowledged,
            self.lost,
            self.duplicated,
            self.hash_disagreements,
            self.balance_failures,
        );
        let _ = writeln!(
            text,
            "restart (spawn → first answer): median {:.0} ms, max {:.0} ms; journal {} records; \
             final SIGTERM exit {:?}, hash {}",
            self.restart_ms_p50,
            self.restart_ms_max,
            self.journal_records,
            self.final_exit_code,
            if self.final_hash_agrees { "agrees" } else { "DIFFERENT" },
        );
        if let Some(during) = self.kills_during_snapshot {
            let _ = writeln!(text, "kills during a snapshot: {during}");
        }
        let _ = writeln!(text, "{}", if self.passed() { "PASSED" } else { "FAILED" });
        text
    }
}
