//! `ringex restart-time`: how long `ringex serve` takes on a data directory, from spawn to its
//! first answered request (the administrator's state query, which runs through the matcher:
//! the engine is up, not just the socket), then SIGTERM. It only times start-up, so it measures
//! whatever start-up does: today a replay of the whole journal, with snapshots the newest
//! snapshot plus the journal after it (the server's `replayed N journal records` line says
//! which, and is reported beside the journal's length).
//!
//! `--cold` first drops the directory's files from the page cache (`posix_fadvise(DONTNEED)`
//! of clean pages: no privileges needed), as after a reboot; the other runs read a warm cache,
//! as after a crash of the process alone.

use super::Error;
use super::server::{self, Spawn};
use crate::loadgen::sign::Account;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The target: restart in at most this after 10 million journaled commands.
pub const TARGET_S: f64 = 5.0;

/// The journal length the target is stated for.
pub const TARGET_RECORDS: u64 = 10_000_000;

/// `ringex restart-time`'s flags.
#[derive(clap::Args, Clone, Debug)]
pub struct RestartFlags {
    /// The data directory to start on.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The configuration its journal was written with.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Records in its journal, for the report (default: what the server says it replayed).
    #[arg(long)]
    pub journal_records: Option<u64>,
    /// Warm restarts to time.
    #[arg(long, default_value_t = 1)]
    pub runs: u32,
    /// Time one more restart first, from a cold page cache.
    #[arg(long)]
    pub cold: bool,
    /// Also time `ringex replay` of the directory.
    #[arg(long)]
    pub replay: bool,
    /// Write the figures as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seconds a start-up may take before it counts as failed.
    #[arg(long, default_value_t = 3600)]
    pub startup_timeout_s: u64,
}

/// One timed restart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestartRun {
    /// From a cold page cache.
    pub cold: bool,
    /// Spawn → first answered request, s.
    pub seconds: f64,
    /// Records the server said it replayed at start.
    pub replayed_at_start: Option<u64>,
    /// Its state hash.
    pub state_hash: String,
}

/// The figures of one data directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestartTime {
    /// Records in the journal.
    pub journal_records: u64,
    /// Bytes of the data directory's files.
    pub data_bytes: u64,
    /// Every restart timed.
    pub runs: Vec<RestartRun>,
    /// `ringex replay` of the directory, spawn to exit, s.
    pub replay_s: Option<f64>,
}

impl RestartTime {
    /// The slowest restart, s.
    pub fn worst_s(&self) -> f64 {
        self.runs.iter().map(|run| run.seconds).fold(0.0, f64::max)
    }

    /// One row: records, size, what start-up replayed, the restarts (cold, then warm), the best
    /// rate, `ringex replay`; and, at the target's journal length, whether the target holds.
    pub fn render(&self) -> String {
        let seconds = |cold: bool| -> String {
            let runs: Vec<String> = (self.runs.iter())
                .filter(|run| run.cold == cold)
                .map(|run| format!("{:.2}", run.seconds))
                .collect();
            if runs.is_empty() { "-".into() } else { runs.join(", ") + " s" }
        };
        let best_s = self.runs.iter().map(|run| run.seconds).fold(f64::INFINITY, f64::min);
        let replayed = self.runs.first().and_then(|run| run.replayed_at_start);
        let mut text = format!(
            "journal {:>9} records {:>6.0} MB  replayed at start {:>9}  restart cold {}, warm {}  \
             ({:.0} records/s)  ringex replay {}\n",
            self.journal_records,
            self.data_bytes as f64 / 1e6,
            replayed.map_or("-".into(), |records| records.to_string()),
            seconds(true),
            seconds(false),
            self.journal_records as f64 / best_s,
            self.replay_s.map_or("-".into(), |replay_s| format!("{replay_s:.2} s")),
        );
        if self.journal_records == TARGET_RECORDS {
            let worst_s = self.worst_s();
            let verdict = if worst_s <= TARGET_S { "met" } else { "MISSED" };
            text.push_str(&format!(
                "target: restart in at most {TARGET_S} s after {TARGET_RECORDS} records: \
                 {verdict} (slowest restart {worst_s:.2} s)\n"
            ));
        }
        text
    }
}

/// Times the restarts.
pub fn run(flags: &RestartFlags) -> Result<RestartTime, Error> {
    if !flags.data_dir.is_dir() {
        return Err(Error::Usage(format!(
            "--data-dir: {} is not a directory",
            flags.data_dir.display()
        )));
    }
    let binary = std::env::current_exe()
        .map_err(|error| Error::Failed(format!("cannot find this binary: {error}")))?;
    let spawn = Spawn {
        binary,
        data_dir: flags.data_dir.clone(),
        config: flags.config.clone(),
        durability: "sync".into(),
        startup_timeout: Duration::from_secs(flags.startup_timeout_s),
    };
    let admin = Account::from_seed(crate::verify::DEV_ADMIN_SEED);
    let mut runs = Vec::new();
    let colds = std::iter::repeat_n(true, usize::from(flags.cold));
    for cold in colds.chain(std::iter::repeat_n(false, flags.runs as usize)) {
        if cold {
            evict(&flags.data_dir)?;
        }
        let served = spawn.start()?;
        let (state, answered) = served.admin_state(&admin)?;
        let seconds = (answered - served.spawned).as_secs_f64();
        let replayed_at_start = served.stderr_lines().iter().find_map(|line| {
            line.strip_prefix("ringex: replayed ")?.split_whitespace().next()?.parse().ok()
        });
        let (code, lines) = served.terminate();
        if code != Some(0) {
            return Err(Error::Failed(format!(
                "ringex serve did not stop cleanly ({code:?}): {}",
                lines.last().map_or("", String::as_str)
            )));
        }
        let state_hash = state["stateHash"].as_str().unwrap_or("").to_string();
        runs.push(RestartRun { cold, seconds, replayed_at_start, state_hash });
    }
    let replay_s = match flags.replay {
        true => Some(server::replay(&spawn)?.seconds),
        false => None,
    };
    let journal_records = flags
        .journal_records
        .or_else(|| runs.first().and_then(|run| run.replayed_at_start))
        .unwrap_or(0);
    let figures =
        RestartTime { journal_records, data_bytes: bytes_of(&flags.data_dir), runs, replay_s };
    if let Some(out) = &flags.out {
        let text = serde_json::to_string_pretty(&figures).expect("figures serialize");
        std::fs::write(out, text + "\n")
            .map_err(|error| Error::Failed(format!("--out {}: {error}", out.display())))?;
    }
    Ok(figures)
}

/// The files of `dir` (and its subdirectories).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn bytes_of(dir: &Path) -> u64 {
    files(dir).iter().filter_map(|path| path.metadata().ok()).map(|meta| meta.len()).sum()
}

/// Drops the directory's files from the page cache (their pages are clean: the journal syncs
/// what it writes).
fn evict(dir: &Path) -> Result<(), Error> {
    use std::os::fd::AsRawFd;
    for path in files(dir) {
        let file = std::fs::File::open(&path)
            .map_err(|error| Error::Failed(format!("{}: {error}", path.display())))?;
        // SAFETY: a valid open descriptor; the advice changes only the cache.
        let result =
            unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if result != 0 {
            return Err(Error::Failed(format!(
                "{}: posix_fadvise: error {result}",
                path.display()
            )));
        }
    }
    Ok(())
}
