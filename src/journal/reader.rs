//! Reading a recovered journal back, record by record (`ringex replay`, tests).

use std::fs::File;

use super::format::Chain;
use super::format::{RecordFault, SEGMENT_HEADER_SIZE, SegmentHeader};
use super::recovery::{
    Bad, CorruptionReason, Recovered, RecoveryError, Scan, SegmentSummary, Step, Window,
    check_sequence, corrupt, io_error,
};
use crate::types::SequenceNumber;

/// Replays a recovered journal: every record `1..=last_sequence`, in order, checked again (CRC,
/// sequence, chain) as it is read back.
///
/// Not an `Iterator` because each payload borrows the reader's buffer; use
/// `while let Some(record) = reader.next_record()? { … }`.
pub struct JournalReader<'r> {
    recovered: &'r Recovered,
    /// Index in `recovered.segments` of the segment being read; `segments.len()` at the end.
    segment_index: usize,
    window: Window,
    scan: Scan,
    /// Whether `window` holds segment `segment_index` with its header checked.
    segment_open: bool,
}

/// One record read back.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// Its sequence.
    pub sequence: SequenceNumber,
    /// Its chain value (covers it and every record before it).
    pub chain: Chain,
    /// Its payload.
    pub payload: &'a [u8],
}

impl Recovered {
    /// A reader over the records of every segment left, `first..=last_sequence` (from 1 unless
    /// segments a snapshot covered were removed).
    pub fn reader(&self) -> JournalReader<'_> {
        JournalReader {
            recovered: self,
            segment_index: 0,
            window: Window::new(),
            scan: match self.segments.first() {
                Some(first) => {
                    Scan { offset: 0, expected: first.first_sequence, chain: first.chain_in }
                }
                None => Scan { offset: 0, expected: SequenceNumber(1), chain: Chain::GENESIS },
            },
            segment_open: false,
        }
    }
}

impl JournalReader<'_> {
    /// The next record, `None` after `last_sequence`; an error if the files changed since
    /// recovery checked them.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, RecoveryError> {
        loop {
            let Some(segment) = self.recovered.segments.get(self.segment_index) else {
                assert_eq!(self.scan.expected.0, self.recovered.last_sequence.0 + 1);
                return Ok(None);
            };
            if !self.segment_open {
                self.open_segment(segment)?;
                self.segment_open = true;
            }
            if self.scan.offset == segment.size {
                assert_eq!(self.scan.expected.0, segment.last_sequence.0 + 1);
                self.segment_index += 1;
                self.segment_open = false;
                continue;
            }
            let path = &segment.path;
            let step = self.scan.step(&mut self.window).map_err(io_error(path))?;
            return match step {
                Step::Record { sequence, payload } => {
                    Ok(Some(Record { sequence, chain: self.scan.chain, payload }))
                }
                Step::End => unreachable!("scan ends at the checked size"),
                Step::Bad { offset, reason: Bad::Link(reason) } => {
                    Err(corrupt(path, offset, reason))
                }
                Step::Bad { offset, reason: Bad::Record(fault) } => {
                    Err(corrupt(path, offset, CorruptionReason::RecordInSealedSegment(fault)))
                }
            };
        }
    }

    fn open_segment(&mut self, segment: &SegmentSummary) -> Result<(), RecoveryError> {
        let path = &segment.path;
        let file = File::open(path).map_err(io_error(path))?;
        let file_size = file.metadata().map_err(io_error(path))?.len();
        if file_size < segment.size {
            let fault = RecordFault::Incomplete { size: file_size };
            return Err(corrupt(path, file_size, CorruptionReason::RecordInSealedSegment(fault)));
        }
        self.window.reset(file, segment.size);
        let bytes = self.window.read(0, SEGMENT_HEADER_SIZE).map_err(io_error(path))?;
        let header = SegmentHeader::decode(bytes)
            .map_err(|fault| corrupt(path, 0, CorruptionReason::Header(fault)))?;
        if header.first_sequence != segment.first_sequence {
            let header_first_sequence = header.first_sequence;
            return Err(corrupt(path, 0, CorruptionReason::NameMismatch { header_first_sequence }));
        }
        if header.chain_in != self.scan.chain {
            let reason =
                CorruptionReason::ChainBreak { expected: self.scan.chain, found: header.chain_in };
            return Err(corrupt(path, 0, reason));
        }
        check_sequence(path, 0, self.scan.expected, header.first_sequence)?;
        self.scan.offset = SEGMENT_HEADER_SIZE as u64;
        Ok(())
    }
}
