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
//! **Measures** (into [`Metrics`], its journal cells only): each `fdatasync`'s latency and the
//! commands it made durable, and for the commands of the batch a sync ends, the time from their
//! sequencer stamp to that sync's return (`sequenced_to_durable`).
//!
//! A failed write or sync is fatal: acknowledgements stop (the durable sequence never advances
//! again) and the process exits 1 — never retry and go on.

use super::format::RECORD_HEADER_SIZE;
use super::payload::{JOURNAL_RECORD_MAX, encode};
use super::writer::JournalWriter;
use crate::clock;
use crate::durability::{Durability, Durable};
use crate::metrics::Metrics;
use crate::records::{SequencedSlot, Work};
use crate::ring::Consumer;
use crate::types::SequenceNumber;
use std::ops::Range;
use std::sync::Arc;

/// Longest time `async` mode leaves written records unsynced.
pub const ASYNC_SYNC_INTERVAL_MS: u64 = 10;

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
    metrics: Arc<Metrics>,
) {
    let sync_each_batch = durability == Durability::Sync;
    let mut record = [0u8; JOURNAL_RECORD_MAX];
    let mut next = 0u64;
    let mut last_sync_ms = crate::clock::wall_ms();
    // Written but not yet synced: the global sequence it reaches and the records in it.
    let mut unsynced: Option<(u64, u64)> = None;
    let fail = |what: &str, segment: &std::path::Path, error: std::io::Error| -> ! {
        eprintln!(
            "ringex: journal {what} failed: {}: {error}; stopping without acknowledging more",
            segment.display()
        );
        std::process::exit(1);
    };
    let sync = |writer: &mut JournalWriter, watermark: u64, records: u64| {
        // The batch's write first, so the reason names the operation that failed.
        if let Err(error) = writer.write_batch() {
            fail("write", &writer.segment_path(), error);
        }
        let started_ns = clock::monotonic_ns();
        if let Err(error) = writer.commit(true) {
            fail("sync", &writer.segment_path(), error);
        }
        durable.publish_record(writer.durable_sequence());
        if records > 0 {
            metrics.journal.fsync_ns.record(clock::monotonic_ns() - started_ns);
            metrics.journal.group_commands.record(records);
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
                    fail("write", &writer.segment_path(), error);
                }
                appended += 1;
                metrics.journal.records.add(1);
                metrics.journal.bytes.add((RECORD_HEADER_SIZE + length) as u64);
            }
        }
        let watermark = input.slot(available_end - 1).watermark.0;
        let now_ms = crate::clock::wall_ms();
        if sync_each_batch || now_ms >= last_sync_ms + ASYNC_SYNC_INTERVAL_MS {
            let pending = unsynced.take().map_or(0, |(_, records)| records);
            if appended + pending > 0 {
                sync(&mut writer, watermark, appended + pending);
                last_sync_ms = now_ms;
                record_durable(&input, next..available_end, &metrics);
            } else {
                // Nothing new to write: the batch's commands were rejected or reads.
                durable.publish(SequenceNumber(watermark), 0);
            }
        } else {
            if appended > 0
                && let Err(error) = writer.commit(false)
            {
                fail("write", &writer.segment_path(), error);
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

/// The batch `sequences` was just made durable: records, per journaled command in it, the time
/// since the sequencer stamped it.
fn record_durable(input: &Consumer<SequencedSlot>, sequences: Range<u64>, metrics: &Metrics) {
    let durable_ns = clock::monotonic_ns();
    for sequence in sequences {
        let slot = input.slot(sequence);
        let sequenced_ns = slot.reply.times.sequenced_ns;
        if matches!(slot.work, Work::Command(_)) && slot.applied && sequenced_ns != 0 {
            let elapsed_ns = durable_ns.saturating_sub(sequenced_ns);
            metrics.journal.sequenced_to_durable_ns.record(elapsed_ns);
        }
    }
}
