//! Start-up: the newest usable snapshot, then the journal after it; or, when no snapshot is
//! usable (or `--from-scratch`), the whole journal. Every snapshot passed over is named on
//! stderr with the reason, so a fallback is never silent.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::engine::{BadRecord, Engine};
use super::file;
use crate::config::Config;
use crate::journal::{self, Base, Recovered, RecoveryError};
use crate::netout::view::ViewLimits;
use crate::sequencer::SequencerLimits;
use crate::types::SequenceNumber;

/// How to rebuild.
pub struct RebuildOptions<'a> {
    /// The data directory (journal segments and snapshots).
    pub dir: &'a Path,
    /// The running configuration.
    pub config: &'a Arc<Config>,
    /// net-out's history sizes.
    pub view: ViewLimits,
    /// The sequencer's table sizes.
    pub sequencer: SequencerLimits,
    /// The wall clock (ms) the sequencer judges replayed signatures by.
    pub now_ms: u64,
    /// Ignore snapshots: replay the journal from record 1.
    pub from_scratch: bool,
    /// Apply no record past this one (the rest is still checked): `ringex snapshot
    /// --at-record`. `None`: the whole journal.
    pub through: Option<SequenceNumber>,
}

/// What start-up rebuilt.
pub struct Rebuilt {
    /// The state after the journal's last record.
    pub engine: Engine,
    /// The journal, checked (and its torn tail cut), locked.
    pub recovered: Recovered,
    /// The snapshot it started from, if any.
    pub snapshot: Option<PathBuf>,
    /// Journal records replayed after it.
    pub replayed: u64,
}

/// Why start-up could not rebuild the state.
#[derive(Debug)]
pub enum RebuildError {
    /// The journal was refused or unreadable.
    Journal(RecoveryError),
    /// A journal record did not decode as the next command.
    Record(BadRecord),
}

impl std::fmt::Display for RebuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RebuildError::Journal(error) => write!(f, "{error}"),
            RebuildError::Record(record) => write!(f, "{record}"),
        }
    }
}

/// Loads the newest snapshot that passes every check and continues it with the journal;
/// falls back, loudly, to older snapshots, then to the whole journal.
pub fn rebuild(options: &RebuildOptions<'_>) -> Result<Rebuilt, RebuildError> {
    let mut candidates =
        if options.from_scratch { Vec::new() } else { file::list(options.dir).unwrap_or_default() };
    if let Some(through) = options.through {
        candidates.retain(|&(record, _)| record <= through);
    }
    for (_, path) in &candidates {
        let started = Instant::now();
        let engine = match file::read(path, options.config, options.sequencer) {
            Ok(engine) => engine,
            Err(refusal) => {
                eprintln!("ringex: snapshot {} not used: {refusal}", path.display());
                continue;
            }
        };
        eprintln!(
            "ringex: loaded snapshot {} (journal record {}) in {:.2} s",
            path.display(),
            engine.base.record.0,
            started.elapsed().as_secs_f64()
        );
        match replay_after(engine, options) {
            Ok((engine, recovered, replayed)) => {
                let snapshot = Some(path.clone());
                return Ok(Rebuilt { engine, recovered, snapshot, replayed });
            }
            Err(RebuildError::Journal(error @ RecoveryError::BaseMismatch { .. })) => {
                eprintln!("ringex: snapshot {} not used: {error}", path.display());
            }
            Err(error) => return Err(error),
        }
    }
    if !candidates.is_empty() {
        eprintln!("ringex: no usable snapshot: replaying the whole journal");
    }
    let engine = Engine::new(options.config.clone(), options.view, options.sequencer);
    let (engine, recovered, replayed) = replay_after(engine, options)?;
    Ok(Rebuilt { engine, recovered, snapshot: None, replayed })
}

/// Replays the journal records after `engine.base` into it, showing progress on a terminal.
fn replay_after(
    mut engine: Engine,
    options: &RebuildOptions<'_>,
) -> Result<(Engine, Recovered, u64), RebuildError> {
    let base = engine.base;
    let progress = Progress::new(journal_bytes_after(options.dir, base));
    let mut replayed = 0u64;
    let mut bad_record = None;
    let recovered = journal::recover_after(options.dir, base, |record, chain, payload| {
        if bad_record.is_some() {
            return;
        }
        if options.through.is_some_and(|through| record > through) {
            return;
        }
        match engine.apply(record, chain, payload, Some(options.now_ms)) {
            Ok(()) => {
                replayed += 1;
                progress.advance(replayed, payload.len());
            }
            Err(error) => bad_record = Some(error),
        }
    })
    .map_err(RebuildError::Journal)?;
    progress.finish(replayed);
    if let Some(record) = bad_record {
        return Err(RebuildError::Record(record));
    }
    let last = recovered.last_sequence.max(base.record);
    debug_assert_eq!(engine.base.record, options.through.map_or(last, |through| through.min(last)));
    Ok((engine, recovered, replayed))
}

/// Bytes of the journal segments that may hold records after `base` (the progress bar's
/// length; an estimate, the segment holding `base.record` counts whole).
fn journal_bytes_after(dir: &Path, base: Base) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut segments: Vec<(u64, u64)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let first = journal::parse_segment_name_first(entry.file_name().to_str()?)?;
            Some((first.0, entry.metadata().ok()?.len()))
        })
        .collect();
    segments.sort_unstable();
    let start = segments.iter().rposition(|&(first, _)| first <= base.record.0 + 1).unwrap_or(0);
    segments[start.min(segments.len())..].iter().map(|&(_, size)| size).sum()
}

/// Start-up progress on a terminal: records replayed, their rate, and the time left by bytes.
/// Draws nothing when stderr is not a terminal (indicatif's default).
struct Progress {
    bar: indicatif::ProgressBar,
    started: Instant,
}

impl Progress {
    fn new(total_bytes: u64) -> Progress {
        let bar = indicatif::ProgressBar::new(total_bytes);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "ringex: replaying [{bar:30}] {percent:>3}% {msg} ({eta} left)",
            )
            .expect("a valid template"),
        );
        Progress { bar, started: Instant::now() }
    }

    fn advance(&self, records: u64, payload_bytes: usize) {
        self.bar.inc((payload_bytes + journal::RECORD_HEADER_SIZE) as u64);
        if records.is_multiple_of(65_536) {
            let rate = records as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            self.bar.set_message(format!("{records} records, {rate:.0}/s"));
        }
    }

    fn finish(&self, records: u64) {
        self.bar.finish_and_clear();
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = records as f64 / seconds.max(1e-9);
        eprintln!("ringex: replayed {records} journal records in {seconds:.2} s ({rate:.0}/s)");
    }
}
