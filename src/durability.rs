//! Durability: when an answer may leave, shared by the journal (which publishes how far
//! `fdatasync` reaches) and net-out (which answers no further than that).
//!
//! Neither stage imports the other: the journal thread writes [`Durable`]'s sequence after each
//! group commit, net-out reads it through a [`DurabilityGate`] and sleeps on it when it is
//! behind. One writer (the journal thread), one reader (net-out), no lock.

use crate::ring::Notify;
use crate::types::SequenceNumber;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};

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

    /// The `--durability` value.
    pub fn name(self) -> &'static str {
        match self {
            Durability::Sync => "sync",
            Durability::Async => "async",
            Durability::None => "none",
        }
    }
}

/// The last sequence number `fdatasync` covers, published by the journal thread and waited on by
/// net-out (which sleeps in its poll and is woken through its waker).
pub struct Durable {
    sequence: AtomicU64,
    /// The last journal record `fdatasync` covers (the journal's own numbering): what the
    /// snapshot thread may read (`crate::snapshot`).
    record: AtomicU64,
    waiting: AtomicBool,
    waker: Arc<dyn Notify>,
    /// Batches committed and records in them (group-commit statistics).
    commits: AtomicU64,
    records: AtomicU64,
}

impl Durable {
    /// Starts at `sequence` and journal record `record` (what recovery found on disk), waking
    /// `waker` on progress.
    pub fn new(
        sequence: SequenceNumber,
        record: SequenceNumber,
        waker: Arc<dyn Notify>,
    ) -> Durable {
        Durable {
            sequence: AtomicU64::new(sequence.0),
            record: AtomicU64::new(record.0),
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

    /// The last durable journal record.
    pub fn record(&self) -> SequenceNumber {
        SequenceNumber(self.record.load(Ordering::Acquire))
    }

    /// Journal thread: the records up to `record` are durable (before [`publish`](Self::publish)).
    pub fn publish_record(&self, record: SequenceNumber) {
        self.record.store(record.0, Ordering::Release);
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
