//! The writer: appends records into a preallocated batch, writes a batch with one `pwrite`,
//! makes it durable with one `fdatasync`, rolls segments, and fail-stops on the first I/O error.
//!
//! Contract (the journal thread owns the writer; nothing here is shared):
//! - `appended_sequence ≥ written_sequence ≥ durable_sequence`, and `durable_sequence` only ever
//!   names a record that a completed `fdatasync` (or a segment roll's sync) covers.
//! - Every segment but the current one is complete and durable (synced before the next segment's
//!   file was created); the current segment's header and directory entry are durable before any
//!   record is written to it.
//! - Steady state allocates nothing: the batch buffer is allocated once at open and never grows
//!   (a full buffer is written out instead). A segment roll allocates its file name.
//! - Fail-stop: after any failed write, sync or roll the writer is poisoned and every later call
//!   returns an error. It never retries a failed `fdatasync` (after one, the kernel may have
//!   dropped the dirty pages and a retry could "succeed" without the data: fsyncgate).

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::fault::{InjectedFault, Operation};
use super::format::{
    Chain, PAYLOAD_SIZE_MAX, RECORD_HEADER_SIZE, RECORD_SIZE_MAX, RecordHeader,
    SEGMENT_HEADER_SIZE, SegmentHeader, decode_record, encode_record, segment_name,
};
use super::recovery::{Recovered, RecoveryError, TailCut, io_error, recover};
use crate::types::SequenceNumber;

/// Writer limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterOptions {
    /// A segment is rolled before a record would take it past this size, in bytes (a segment
    /// always holds at least one record). ≥ `SEGMENT_HEADER_SIZE + RECORD_SIZE_MAX`.
    pub segment_size_max: u64,
    /// Capacity of the batch buffer in bytes, allocated once: the most one `pwrite` carries. A
    /// batch that would exceed it is written out first. ≥ `RECORD_SIZE_MAX`.
    pub batch_size_max: usize,
}

impl Default for WriterOptions {
    fn default() -> WriterOptions {
        WriterOptions { segment_size_max: 64 << 20, batch_size_max: 1 << 20 }
    }
}

/// The journal's single writer. See the [module docs](super) for the group-commit loop.
#[derive(Debug)]
pub struct JournalWriter {
    dir: PathBuf,
    /// The directory, exclusively `flock`ed for the writer's life; fsynced at segment roll.
    dir_file: File,
    options: WriterOptions,
    /// The current (last) segment, open for writing.
    segment: File,
    /// First sequence of the current segment.
    segment_first_sequence: SequenceNumber,
    /// Bytes written to the current segment (header included; the batch excluded).
    segment_size: u64,
    /// Encoded records not yet written; capacity `options.batch_size_max`, never grown.
    batch: Vec<u8>,
    /// Last sequence appended (in the batch or written).
    appended_sequence: SequenceNumber,
    /// Last sequence handed to the kernel by a completed write.
    written_sequence: SequenceNumber,
    /// Last sequence covered by a completed `fdatasync`.
    durable_sequence: SequenceNumber,
    /// Chain value of `appended_sequence`.
    chain: Chain,
    /// The first error, once one happened: the writer refuses everything after it.
    poison: Option<Poison>,
    /// Tests only: a write or sync made to fail (see `fault`).
    fault: InjectedFault,
    /// What recovery cut when this writer was opened.
    tail_cut: Option<TailCut>,
}

/// The error every call returns once the writer is poisoned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Poison {
    /// The operation that failed first.
    pub operation: &'static str,
    /// Its error kind.
    pub kind: io::ErrorKind,
    /// Its OS error number, if any.
    pub raw_os_error: Option<i32>,
}

impl std::fmt::Display for Poison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "journal writer poisoned: an earlier {} failed ({:?}",
            self.operation, self.kind
        )?;
        if let Some(errno) = self.raw_os_error {
            write!(f, ", os error {errno}")?;
        }
        write!(f, "); no further writes are accepted")
    }
}

impl std::error::Error for Poison {}

impl JournalWriter {
    /// Opens the journal in `dir` for appending: creates `dir` if missing, runs [`recover`],
    /// then [`resume`](JournalWriter::resume)s after the last good record.
    pub fn open(dir: &Path, options: WriterOptions) -> Result<JournalWriter, RecoveryError> {
        if !dir.exists() {
            fs::create_dir_all(dir).map_err(io_error(dir))?;
            // Make the new directory's own name durable.
            let parent = dir.parent().filter(|parent| !parent.as_os_str().is_empty());
            let parent = parent.unwrap_or(Path::new("."));
            File::open(parent).and_then(|file| file.sync_all()).map_err(io_error(parent))?;
        }
        let recovered = recover(dir)?;
        JournalWriter::resume(recovered, options)
    }

    /// Continues the journal `recovered` describes (after replaying it, typically): appends go to
    /// its last segment, or to a new first segment for an empty journal.
    pub fn resume(
        recovered: Recovered,
        options: WriterOptions,
    ) -> Result<JournalWriter, RecoveryError> {
        assert!(options.batch_size_max >= RECORD_SIZE_MAX);
        assert!(options.segment_size_max >= (SEGMENT_HEADER_SIZE + RECORD_SIZE_MAX) as u64);
        let Recovered { dir, last_sequence, chain, segments, tail_cut, dir_file } = recovered;
        let (segment, segment_first_sequence, segment_size) = match segments.last() {
            Some(last) => {
                assert_eq!(last.last_sequence, last_sequence);
                let file = File::options().write(true).open(&last.path);
                let file = file.map_err(io_error(&last.path))?;
                let file_size = file.metadata().map_err(io_error(&last.path))?.len();
                assert_eq!(file_size, last.size, "segment changed since recovery");
                (file, last.first_sequence, last.size)
            }
            None => {
                assert_eq!(last_sequence, SequenceNumber(0));
                let first_sequence = SequenceNumber(1);
                let file = create_segment(&dir, &dir_file, first_sequence, chain);
                let file = file.map_err(io_error(&dir))?;
                (file, first_sequence, SEGMENT_HEADER_SIZE as u64)
            }
        };
        Ok(JournalWriter {
            dir,
            dir_file,
            options,
            segment,
            segment_first_sequence,
            segment_size,
            batch: Vec::with_capacity(options.batch_size_max),
            appended_sequence: last_sequence,
            written_sequence: last_sequence,
            durable_sequence: last_sequence,
            chain,
            poison: None,
            fault: InjectedFault::from_env(),
            tail_cut,
        })
    }

    /// Appends the record for `sequence` to the batch.
    ///
    /// Panics unless `sequence` is exactly `appended_sequence() + 1` and `payload` is at most
    /// [`PAYLOAD_SIZE_MAX`] bytes (both are the caller's bugs). Does I/O only when the batch is
    /// full (it is written out first) or the segment is full (it is rolled first).
    pub fn append(&mut self, sequence: SequenceNumber, payload: &[u8]) -> io::Result<()> {
        self.check_poison()?;
        assert_eq!(sequence.0, self.appended_sequence.0 + 1, "journal sequence not contiguous");
        assert!(payload.len() <= PAYLOAD_SIZE_MAX, "journal payload too large");
        let record_size = RECORD_HEADER_SIZE + payload.len();
        if self.batch.len() + record_size > self.batch.capacity() {
            self.write_batch()?;
        }
        let segment_has_records = self.appended_sequence >= self.segment_first_sequence;
        let segment_size_after = self.segment_size + (self.batch.len() + record_size) as u64;
        if segment_has_records && segment_size_after > self.options.segment_size_max {
            self.roll()?;
        }
        let capacity = self.batch.capacity();
        let start = self.batch.len();
        let chain = self.chain.next(sequence, payload);
        encode_record(&mut self.batch, sequence, chain, payload);
        debug_assert_eq!(self.batch.capacity(), capacity, "the batch buffer never grows");
        debug_assert_eq!(
            decode_record(&self.batch[start..]),
            Ok(RecordHeader { payload_size: payload.len() as u32, sequence, chain }),
            "the record reads back as written"
        );
        self.appended_sequence = sequence;
        self.chain = chain;
        Ok(())
    }

    /// Writes every appended record to the current segment with one `pwrite` (looping only on a
    /// short write). Returns `written_sequence`. Does not sync.
    pub fn write_batch(&mut self) -> io::Result<SequenceNumber> {
        self.check_poison()?;
        if self.batch.is_empty() {
            assert_eq!(self.written_sequence, self.appended_sequence);
            return Ok(self.written_sequence);
        }
        assert!(self.appended_sequence > self.written_sequence);
        let written = match self.fault.hit(Operation::Write) {
            Some(error) => Err(error),
            None => write_all_at(&self.segment, &self.batch, self.segment_size),
        };
        if let Err(error) = written {
            return Err(self.poisoned_by("write", error));
        }
        self.segment_size += self.batch.len() as u64;
        self.batch.clear();
        self.written_sequence = self.appended_sequence;
        Ok(self.written_sequence)
    }

    /// `fdatasync`s the current segment: everything written becomes durable. Returns
    /// `durable_sequence`. Records appended but not yet written are not covered.
    pub fn sync(&mut self) -> io::Result<SequenceNumber> {
        self.check_poison()?;
        if self.durable_sequence == self.written_sequence {
            return Ok(self.durable_sequence);
        }
        let target = self.written_sequence;
        let synced = match self.fault.hit(Operation::Sync) {
            Some(error) => Err(error),
            None => self.segment.sync_data(),
        };
        if let Err(error) = synced {
            return Err(self.poisoned_by("fdatasync", error));
        }
        assert!(target > self.durable_sequence);
        assert!(target <= self.appended_sequence);
        self.durable_sequence = target;
        Ok(target)
    }

    /// One group commit: [`write_batch`](Self::write_batch), then [`sync`](Self::sync) if
    /// `sync`. Returns `durable_sequence` (unchanged when `sync` is false).
    pub fn commit(&mut self, sync: bool) -> io::Result<SequenceNumber> {
        self.write_batch()?;
        if sync {
            self.sync()?;
            assert_eq!(self.durable_sequence, self.appended_sequence);
        }
        Ok(self.durable_sequence)
    }

    /// Last sequence appended (possibly only in the batch buffer).
    pub fn appended_sequence(&self) -> SequenceNumber {
        self.appended_sequence
    }

    /// Last sequence handed to the kernel (in the page cache, not necessarily on disk).
    pub fn written_sequence(&self) -> SequenceNumber {
        self.written_sequence
    }

    /// Last sequence on disk: acknowledgements may be released up to here and no further.
    pub fn durable_sequence(&self) -> SequenceNumber {
        self.durable_sequence
    }

    /// Chain value of `appended_sequence`.
    pub fn chain(&self) -> Chain {
        self.chain
    }

    /// The first error, if the writer is poisoned.
    pub fn poison(&self) -> Option<Poison> {
        self.poison
    }

    /// What recovery cut off the journal's tail when the writer was opened.
    pub fn tail_cut(&self) -> Option<&TailCut> {
        self.tail_cut.as_ref()
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Seals the current segment and starts the next: write and sync the current one, then
    /// create the next, write its header, sync it, and fsync the directory so its name is
    /// durable. Only then may records be written to it.
    fn roll(&mut self) -> io::Result<()> {
        self.write_batch()?;
        self.sync()?;
        assert_eq!(self.durable_sequence, self.appended_sequence);
        let first_sequence = SequenceNumber(self.appended_sequence.0 + 1);
        match create_segment(&self.dir, &self.dir_file, first_sequence, self.chain) {
            Ok(segment) => {
                self.segment = segment;
                self.segment_first_sequence = first_sequence;
                self.segment_size = SEGMENT_HEADER_SIZE as u64;
                Ok(())
            }
            Err(error) => Err(self.poisoned_by("segment roll", error)),
        }
    }

    /// The current segment's descriptor, for tests that make its syscalls fail.
    #[cfg(test)]
    pub(super) fn segment_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.segment)
    }

    fn check_poison(&self) -> io::Result<()> {
        match self.poison {
            None => Ok(()),
            Some(poison) => Err(io::Error::new(poison.kind, poison)),
        }
    }

    /// Poisons the writer with `error` and hands `error` back.
    fn poisoned_by(&mut self, operation: &'static str, error: io::Error) -> io::Error {
        assert!(self.poison.is_none());
        self.poison =
            Some(Poison { operation, kind: error.kind(), raw_os_error: error.raw_os_error() });
        error
    }

    /// The segment being written, for the operator's line when an operation on it fails.
    pub fn segment_path(&self) -> PathBuf {
        self.dir.join(segment_name(self.segment_first_sequence))
    }
}

/// Creates the segment for `first_sequence` with a synced header and a synced directory entry.
fn create_segment(
    dir: &Path,
    dir_file: &File,
    first_sequence: SequenceNumber,
    chain_in: Chain,
) -> io::Result<File> {
    let path = dir.join(segment_name(first_sequence));
    let file = File::options().write(true).create_new(true).open(&path)?;
    let header = SegmentHeader { first_sequence, chain_in }.encode();
    write_all_at(&file, &header, 0)?;
    file.sync_data()?;
    dir_file.sync_all()?;
    Ok(file)
}

/// `pwrite`s all of `bytes` at `offset`: one syscall unless the kernel writes short.
fn write_all_at(file: &File, mut bytes: &[u8], mut offset: u64) -> io::Result<()> {
    while !bytes.is_empty() {
        match file.write_at(bytes, offset) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(written) => {
                bytes = &bytes[written..];
                offset += written as u64;
            }
            // Nothing was written: trying again is not "retry and continue" after a failure.
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}
