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
    ///
    /// The size of the segment is taken again whenever the bytes at hand end before the next
    /// record does: the writer appends while this reads, and a size taken in the middle of a
    /// write ends inside a record that is whole (and durable) by the time it is asked for.
    pub fn read_through(
        &mut self,
        last: SequenceNumber,
        mut visit: impl FnMut(SequenceNumber, Chain, &[u8]),
    ) -> Result<(), RecoveryError> {
        while self.scan.expected <= last {
            let step = self.scan.step(&mut self.window).map_err(io_error(&self.segment))?;
            let fault = match step {
                Step::Record { sequence, payload } => {
                    visit(sequence, self.scan.chain, payload);
                    continue;
                }
                Step::Bad { offset, reason: Bad::Link(reason) } => {
                    return Err(corrupt(&self.segment, offset, reason));
                }
                Step::End => None,
                Step::Bad { offset, reason: Bad::Record(fault) } => Some((offset, fault)),
            };
            if self.refresh_size()? {
                continue; // the segment grew: read the record again
            }
            match fault {
                // A durable record past the end of this segment is in the next one.
                None => {
                    let (next, chain_in) = (self.scan.expected, self.scan.chain);
                    self.open_segment(next, Some(chain_in))?;
                }
                Some((offset, fault)) => {
                    let reason = CorruptionReason::RecordInSealedSegment(fault);
                    return Err(corrupt(&self.segment, offset, reason));
                }
            }
        }
        Ok(())
    }

    /// Takes the segment's current size; whether it grew.
    fn refresh_size(&mut self) -> Result<bool, RecoveryError> {
        let size = std::fs::metadata(&self.segment).map_err(io_error(&self.segment))?.len();
        let grew = size > self.window.file_size;
        self.window.grow(size);
        Ok(grew)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{JournalWriter, WriterOptions, encode_record};
    use std::io::Write;

    #[test]
    fn a_record_half_written_when_the_size_was_taken_is_read_once_it_is_whole() {
        let dir = std::env::temp_dir().join(format!("ringex-tail-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut writer = JournalWriter::open(&dir, WriterOptions::default()).unwrap();
        for record in 1..=3 {
            writer.append(SequenceNumber(record), &[record as u8; 40]).unwrap();
        }
        writer.commit(true).unwrap();
        let mut record_4 = Vec::new();
        let chain_4 = writer.chain().next(SequenceNumber(4), &[4; 40]);
        encode_record(&mut record_4, SequenceNumber(4), chain_4, &[4; 40]);
        drop(writer);
        let segment = dir.join(segment_name(SequenceNumber(1)));
        let mut file = std::fs::OpenOptions::new().append(true).open(&segment).unwrap();
        // Half of record 4 is there when the reader takes the size.
        file.write_all(&record_4[..30]).unwrap();
        let mut tail = JournalTail::open(&dir, Base::GENESIS).unwrap();
        let mut seen = Vec::new();
        tail.read_through(SequenceNumber(3), |record, _, _| seen.push(record.0)).unwrap();
        file.write_all(&record_4[30..]).unwrap();
        tail.read_through(SequenceNumber(4), |record, _, _| seen.push(record.0)).unwrap();
        assert_eq!(seen, [1, 2, 3, 4]);
        assert_eq!(tail.position().record, SequenceNumber(4));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
