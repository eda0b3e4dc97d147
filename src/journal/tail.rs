//! Following a live journal from outside the journal thread: the snapshot thread reads the
//! records the writer has made durable, segment after segment, checking each one (CRC, sequence,
//! chain) as recovery does.
//!
//! Contract: the caller asks only for records the writer reported durable
//! ([`crate::durability::Durable::record`]), so every byte asked for is complete on disk: a
//! record that fails its checks is corruption, never a torn tail. Nothing here writes, locks or
//! truncates; the writer keeps appending to the last segment while this reads it.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::format::{Chain, SEGMENT_HEADER_SIZE, SegmentHeader, segment_name};
use super::recovery::{
    Bad, Base, CorruptionReason, RecoveryError, Scan, Step, Window, check_sequence, corrupt,
    io_error,
};
use crate::types::SequenceNumber;

/// A reader positioned after some record of a live journal.
pub struct JournalTail {
    dir: PathBuf,
    /// The segment being read and where it starts.
    segment: PathBuf,
    window: Window,
    scan: Scan,
}

impl JournalTail {
    /// A reader after `base`: it finds the segment holding record `base.record + 1` (or the
    /// one `base.record` ends), checks its records up to `base.record` and that the chain there
    /// equals `base.chain`, and stops there.
    pub fn open(dir: &Path, base: Base) -> Result<JournalTail, RecoveryError> {
        let wanted = SequenceNumber(base.record.0 + 1);
        let first = covering_segment(dir, wanted)?;
        let mut tail = JournalTail {
            dir: dir.to_path_buf(),
            segment: PathBuf::new(),
            window: Window::new(),
            scan: Scan { offset: 0, expected: first, chain: Chain::GENESIS },
        };
        tail.open_segment(first, None)?;
        if tail.scan.expected <= base.record {
            tail.read_through(base.record, |_, _, _| {})?;
        }
        if tail.scan.chain != base.chain {
            let found = Some(tail.scan.chain);
            let (dir, last_sequence) = (dir.to_path_buf(), base.record);
            return Err(RecoveryError::BaseMismatch { dir, base, found, last_sequence });
        }
        Ok(tail)
    }

    /// The last record read and its chain value.
    pub fn position(&self) -> Base {
        Base { record: SequenceNumber(self.scan.expected.0 - 1), chain: self.scan.chain }
    }

    /// Reads the records after [`position`](Self::position) up to `last` (which the writer
    /// reported durable), calling `visit(record, chain, payload)` for each.
    pub fn read_through(
        &mut self,
        last: SequenceNumber,
        mut visit: impl FnMut(SequenceNumber, Chain, &[u8]),
    ) -> Result<(), RecoveryError> {
        while self.scan.expected <= last {
            self.refresh_size()?;
            let step = self.scan.step(&mut self.window).map_err(io_error(&self.segment))?;
            match step {
                Step::Record { sequence, payload } => visit(sequence, self.scan.chain, payload),
                Step::End => {
                    // A durable record past the end of this segment is in the next one.
                    let (next, chain_in) = (self.scan.expected, self.scan.chain);
                    self.open_segment(next, Some(chain_in))?;
                }
                Step::Bad { offset, reason: Bad::Link(reason) } => {
                    return Err(corrupt(&self.segment, offset, reason));
                }
                Step::Bad { offset, reason: Bad::Record(fault) } => {
                    let reason = CorruptionReason::RecordInSealedSegment(fault);
                    return Err(corrupt(&self.segment, offset, reason));
                }
            }
        }
        Ok(())
    }

    /// The segment file grows while it is read: take its current size.
    fn refresh_size(&mut self) -> Result<(), RecoveryError> {
        if self.scan.offset < self.window.file_size {
            return Ok(());
        }
        let size = std::fs::metadata(&self.segment).map_err(io_error(&self.segment))?.len();
        self.window.grow(size);
        Ok(())
    }

    /// Opens the segment named `first` and checks its header (and, when known, that it carries
    /// `chain_in`).
    fn open_segment(
        &mut self,
        first: SequenceNumber,
        chain_in: Option<Chain>,
    ) -> Result<(), RecoveryError> {
        let path = self.dir.join(segment_name(first));
        let file = File::open(&path).map_err(io_error(&path))?;
        let size = file.metadata().map_err(io_error(&path))?.len();
        self.window.reset(file, size);
        let bytes = self.window.read(0, SEGMENT_HEADER_SIZE).map_err(io_error(&path))?;
        let header = SegmentHeader::decode(bytes)
            .map_err(|fault| corrupt(&path, 0, CorruptionReason::Header(fault)))?;
        check_sequence(&path, 0, first, header.first_sequence)?;
        if let Some(expected) = chain_in
            && header.chain_in != expected
        {
            return Err(corrupt(
                &path,
                0,
                CorruptionReason::ChainBreak { expected, found: header.chain_in },
            ));
        }
        self.scan =
            Scan { offset: SEGMENT_HEADER_SIZE as u64, expected: first, chain: header.chain_in };
        self.segment = path;
        Ok(())
    }
}

/// The first sequence of the segment holding record `wanted`: the last segment starting at or
/// before it.
fn covering_segment(dir: &Path, wanted: SequenceNumber) -> Result<SequenceNumber, RecoveryError> {
    let mut best = None;
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if let super::format::SegmentName::Segment(first) = super::format::parse_segment_name(&name)
            && first <= wanted
            && best.is_none_or(|best| first > best)
        {
            best = Some(first);
        }
    }
    best.ok_or_else(|| {
        let reason = CorruptionReason::SequenceGap { expected: wanted, found: SequenceNumber(0) };
        corrupt(dir, 0, reason)
    })
}
