//! The journal thread: ring B → segment files, with group commit.
//!
//! **Reads** ring B behind the matcher (gated on it), in batches: every command of a batch the
//! matcher marked `applied` is appended — a rejected command changes nothing, so it leaves no
//! record — the batch is written with one `write`, and in `sync` mode covered by one `fdatasync`
//! before [`Durable`] advances, so the group-commit batch is whatever arrived while the previous
//! `fdatasync` ran. **Owns** the [`JournalWriter`].
//! `async` writes each batch at once and syncs in the background of the stream (at most every
//! [`ASYNC_SYNC_INTERVAL_MS`]), and answers do not wait for it.
//!
//! A failed write or sync is fatal: acknowledgements stop (the durable sequence never advances
//! again) and the process exits 1 — never retry and go on.

use super::writer::JournalWriter;
use crate::records::{SequencedSlot, Work};
use crate::ring::{Consumer, Notify};
use crate::sequencer::record::{JOURNAL_RECORD_MAX, encode};
use crate::types::SequenceNumber;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};

/// Longest time `async` mode leaves written records unsynced.
pub const ASYNC_SYNC_INTERVAL_MS: u64 = 10;

/// When answers may go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// After `fdatasync` covers the command (group commit).
    Sync,
    /// At once; the journal syncs in the background.
    Async,
    /// No journal at all (benchmarks).
    None,
}

impl Durability {
    /// From the `--durability` value.
    pub fn parse(text: &str) -> Option<Durability> {
        match text {
            "sync" => Some(Durability::Sync),
            "async" => Some(Durability::Async),
            "none" => Some(Durability::None),
            _ => None,
        }
    }
}

/// The last sequence number `fdatasync` covers, published by the journal thread and waited on by
/// net-out (which sleeps in its poll and is woken through its waker).
pub struct Durable {
    sequence: AtomicU64,
    waiting: AtomicBool,
    waker: Arc<dyn Notify>,
    /// Batches committed and records in them (group-commit statistics).
    commits: AtomicU64,
    records: AtomicU64,
}

impl Durable {
    /// Starts at `sequence` (what recovery found on disk), waking `waker` on progress.
    pub fn new(sequence: SequenceNumber, waker: Arc<dyn Notify>) -> Durable {
        Durable {
            sequence: AtomicU64::new(sequence.0),
            waiting: AtomicBool::new(false),
            waker,
            commits: AtomicU64::new(0),
            records: AtomicU64::new(0),
        }
    }

    /// The durable sequence.
    pub fn sequence(&self) -> u64 {
        self.sequence.load(Ordering::Acquire)
    }

    /// Journal thread: `sequence` is durable.
    pub fn publish(&self, sequence: SequenceNumber, records: u64) {
        self.sequence.store(sequence.0, Ordering::Release);
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.records.fetch_add(records, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::Relaxed) && self.waiting.swap(false, Ordering::AcqRel) {
            self.waker.notify();
        }
    }

    /// net-out: about to sleep until the durable sequence moves past `observed`. Returns false
    /// (do not sleep) if it already has.
    pub fn arm(&self, observed: u64) -> bool {
        self.waiting.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if self.sequence() != observed {
            self.waiting.store(false, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// net-out: awake again.
    pub fn disarm(&self) {
        self.waiting.store(false, Ordering::Relaxed);
    }

    /// `(commits, records)` so far: records / commits is the mean group-commit batch.
    pub fn statistics(&self) -> (u64, u64) {
        (self.commits.load(Ordering::Relaxed), self.records.load(Ordering::Relaxed))
    }
}

/// The rule net-out answers by: a ring C record may be handled only once the journal covers its
/// watermark (in `sync` mode), and every acknowledged command is checked against it — an assert
/// on the answer path, counted so tests can show it held for every command.
pub struct DurabilityGate {
    durable: Option<Arc<Durable>>,
    enforce: bool,
    /// Commands acknowledged under the check.
    pub acknowledged: u64,
}

impl DurabilityGate {
    /// A gate on `durable`, enforced when `enforce` (`--durability sync`).
    pub fn new(durable: Option<Arc<Durable>>, enforce: bool) -> DurabilityGate {
        assert!(!enforce || durable.is_some(), "sync durability needs a journal");
        DurabilityGate { durable, enforce, acknowledged: 0 }
    }

    /// The durable sequence now (0 without a journal).
    pub fn durable_sequence(&self) -> u64 {
        self.durable.as_ref().map_or(0, |durable| durable.sequence())
    }

    /// `None` when a record with `watermark` may be handled now, else the durable sequence it
    /// waits behind.
    pub fn blocked(&self, watermark: SequenceNumber) -> Option<u64> {
        if !self.enforce {
            return None;
        }
        let durable = self.durable_sequence();
        (watermark.0 > durable).then_some(durable)
    }

    /// Called as the answer to sequenced command `sequence` is released.
    pub fn acknowledge(&mut self, sequence: SequenceNumber) {
        if self.enforce && sequence.0 != 0 {
            assert!(sequence.0 <= self.durable_sequence(), "acknowledged before durable");
            self.acknowledged += 1;
        }
    }

    /// Sleeps are armed on the durable cursor through this.
    pub fn durable(&self) -> Option<&Arc<Durable>> {
        self.durable.as_ref()
    }
}

/// Runs the journal thread until ring B closes (after `Shutdown`), then syncs. Exits the process
/// with status 1 on any I/O error.
///
/// Records are numbered contiguously by the journal (the writer's sequence); each carries its
/// command's global sequence number inside. Commands the matcher rejected are not journaled, so
/// the durable point is expressed in global sequence numbers: the watermark of the last ring B
/// slot whose batch is synced.
pub fn run(
    mut input: Consumer<SequencedSlot>,
    mut writer: JournalWriter,
    durable: Arc<Durable>,
    durability: Durability,
) {
    let sync_each_batch = durability == Durability::Sync;
    let mut record = [0u8; JOURNAL_RECORD_MAX];
    let mut next = 0u64;
    let mut last_sync_ms = crate::clock::wall_ms();
    // Written but not yet synced: the global sequence it reaches and the records in it.
    let mut unsynced: Option<(u64, u64)> = None;
    let fail = |what: &str, error: std::io::Error| -> ! {
        eprintln!("ringex: journal {what} failed: {error}; stopping without acknowledging more");
        std::process::exit(1);
    };
    let sync = |writer: &mut JournalWriter, watermark: u64, records: u64| {
        // The batch's write first, so the reason names the operation that failed.
        if let Err(error) = writer.write_batch() {
            fail("write", error);
        }
        if let Err(error) = writer.commit(true) {
            fail("sync", error);
        }
        durable.publish(SequenceNumber(watermark), records);
    };
    loop {
        let available_end = match input.try_available(next) {
            Some(available_end) => available_end,
            None => {
                // Idle: make everything written durable before sleeping (async mode's background
                // sync; in sync mode nothing is ever left unsynced here).
                if let Some((watermark, records)) = unsynced.take() {
                    sync(&mut writer, watermark, records);
                    last_sync_ms = crate::clock::wall_ms();
                }
                match input.wait_for(next) {
                    Some(available_end) => available_end,
                    None => break,
                }
            }
        };
        let mut appended = 0u64;
        for sequence in next..available_end {
            let slot = input.slot(sequence);
            if let Work::Command(command) = slot.work
                && slot.applied
            {
                let length = encode(&command, &slot.auth, &slot.extras, &mut record);
                let record_number = SequenceNumber(writer.appended_sequence().0 + 1);
                if let Err(error) = writer.append(record_number, &record[..length]) {
                    fail("write", error);
                }
                appended += 1;
            }
        }
        let watermark = input.slot(available_end - 1).watermark.0;
        let now_ms = crate::clock::wall_ms();
        if sync_each_batch || now_ms >= last_sync_ms + ASYNC_SYNC_INTERVAL_MS {
            let pending = unsynced.take().map_or(0, |(_, records)| records);
            if appended + pending > 0 {
                sync(&mut writer, watermark, appended + pending);
                last_sync_ms = now_ms;
            } else {
                // Nothing new to write: the batch's commands were rejected or reads.
                durable.publish(SequenceNumber(watermark), 0);
            }
        } else {
            if appended > 0
                && let Err(error) = writer.commit(false)
            {
                fail("write", error);
            }
            let pending = unsynced.map_or(0, |(_, records)| records);
            unsynced = Some((watermark, pending + appended));
        }
        input.release_through(available_end - 1);
        next = available_end;
    }
    let (watermark, records) = unsynced.unwrap_or((durable.sequence(), 0));
    sync(&mut writer, watermark, records);
}
