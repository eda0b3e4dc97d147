//! Recovery: scan every segment in order, check every record and every link, cut a torn tail,
//! refuse anything else; and the reader that replays a recovered journal.
//!
//! Contract: on `Ok`, the directory holds exactly the records `1..=last_sequence`, contiguous,
//! each passing its CRC and its chain link, segments contiguous and correctly named, and nothing
//! after the last record (a torn tail was truncated and fsynced, or a torn last header removed and
//! the directory fsynced). On `Err(Corrupt)` nothing was modified. The decision rules are in the
//! [parent module](super), "Torn tail or corruption".
//!
//! Memory: one window buffer of [`WINDOW_SIZE`] bytes and one [`SegmentSummary`] per segment,
//! whatever the journal's size.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::{
    Chain, HeaderFault, RECORD_SIZE_MAX, RecordFault, SEGMENT_HEADER_SIZE, SegmentHeader,
    SegmentName, decode_record, parse_segment_name,
};
use crate::types::SequenceNumber;

/// Size of the read window in bytes: records are read from it, refilled with one `pread`.
pub const WINDOW_SIZE: usize = 1 << 20;

const _: () = assert!(WINDOW_SIZE >= RECORD_SIZE_MAX);

/// A journal that passed recovery, and the lock on its directory.
///
/// While this value (or the [`JournalWriter`](super::JournalWriter) resumed from it) lives, no
/// other `recover` or writer can open the directory (an exclusive `flock` on it).
#[derive(Debug)]
pub struct Recovered {
    /// The journal directory.
    pub dir: PathBuf,
    /// The last good sequence; `SequenceNumber(0)` for an empty journal.
    pub last_sequence: SequenceNumber,
    /// Chain value of `last_sequence` ([`Chain::GENESIS`] for an empty journal).
    pub chain: Chain,
    /// The segments, in sequence order; the last one may hold no record.
    pub segments: Vec<SegmentSummary>,
    /// What recovery cut off the end of the journal, if anything.
    pub tail_cut: Option<TailCut>,
    /// The directory, opened and exclusively locked.
    pub(super) dir_file: File,
}

/// One checked segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentSummary {
    /// Path of the segment file.
    pub path: PathBuf,
    /// Sequence of its first record (its name and header agree on it).
    pub first_sequence: SequenceNumber,
    /// Sequence of its last record; `first_sequence - 1` when it holds none.
    pub last_sequence: SequenceNumber,
    /// Chain value carried in by its header.
    pub chain_in: Chain,
    /// Size in bytes of its checked content (header and whole records): its file size.
    pub size: u64,
}

/// What recovery removed from the end of the journal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailCut {
    /// The segment file cut (or removed).
    pub segment: PathBuf,
    /// Byte offset of the cut in it: the end of its last good record, or 0 when removed.
    pub offset: u64,
    /// Bytes removed.
    pub cut_size: u64,
    /// Why the bytes at `offset` were not a good record (or header).
    pub fault: TailFault,
    /// Whether the whole file was removed (a torn header).
    pub segment_removed: bool,
}

/// What was wrong with the cut tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TailFault {
    /// A torn last record, or trailing bytes that hold no record.
    Record(RecordFault),
    /// A torn header of the last segment, with nothing after it.
    Header(HeaderFault),
}

impl std::fmt::Display for TailCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.segment_removed { "removed torn segment" } else { "cut torn tail of" };
        write!(
            f,
            "journal recovery {what} {} at byte offset {}: ",
            self.segment.display(),
            self.offset
        )?;
        match self.fault {
            TailFault::Record(fault) => write!(f, "{fault}")?,
            TailFault::Header(fault) => write!(f, "{fault}")?,
        }
        write!(f, "; {} bytes removed", self.cut_size)
    }
}

/// Why recovery refused a journal (or could not read it).
#[derive(Debug)]
pub enum RecoveryError {
    /// An I/O error on `path`.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        error: io::Error,
    },
    /// Another recovery or writer holds the directory.
    Locked {
        /// The journal directory.
        dir: PathBuf,
    },
    /// The journal is damaged somewhere other than a torn tail: refused, nothing modified.
    Corrupt(Corruption),
    /// The journal does not continue the state a recovery started from ([`Base`]): it ends
    /// before the base's record, or that record's chain value differs. Nothing was visited.
    BaseMismatch {
        /// The journal directory.
        dir: PathBuf,
        /// What the recovery started from.
        base: Base,
        /// The chain value the journal holds for `base.record`, if it holds that record.
        found: Option<Chain>,
        /// The journal's last record.
        last_sequence: SequenceNumber,
    },
}

/// Where and why the journal is corrupt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corruption {
    /// The segment file.
    pub segment: PathBuf,
    /// Byte offset in it of the bad header (0) or record.
    pub offset: u64,
    /// What is wrong.
    pub reason: CorruptionReason,
}

/// What is wrong with a corrupt journal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorruptionReason {
    /// A `*.journal` file whose stem is not 20 decimal digits.
    SegmentName,
    /// A bad segment header in a segment that is not the last, or followed by data.
    Header(HeaderFault),
    /// The header's first sequence differs from the one in the file name.
    NameMismatch {
        /// What the header says.
        header_first_sequence: SequenceNumber,
    },
    /// A segment or record with a later sequence than expected: a segment or records missing.
    SequenceGap {
        /// The sequence that should be there.
        expected: SequenceNumber,
        /// The sequence that is there.
        found: SequenceNumber,
    },
    /// A segment or record with an earlier sequence than expected: duplicated, overlapping or
    /// reordered data.
    SequenceRepeat {
        /// The sequence that should be there.
        expected: SequenceNumber,
        /// The sequence that is there.
        found: SequenceNumber,
    },
    /// A header or record whose chain value does not continue the chain.
    ChainBreak {
        /// The chain value computed from the records before.
        expected: Chain,
        /// The chain value stored.
        found: Chain,
    },
    /// A bad record in a segment that is not the last one.
    RecordInSealedSegment(RecordFault),
    /// A bad record in the last segment followed by a valid record: not a torn tail.
    RecordBeforeValid {
        /// What is wrong with the record.
        fault: RecordFault,
        /// Offset of the valid record found after it.
        valid_offset: u64,
    },
}

impl std::fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecoveryError::Io { path, error } => {
                write!(f, "journal I/O error on {}: {error}", path.display())
            }
            RecoveryError::Locked { dir } => {
                write!(f, "journal directory {} is locked by another writer", dir.display())
            }
            RecoveryError::Corrupt(corruption) => write!(f, "{corruption}"),
            RecoveryError::BaseMismatch { dir, base, found: Some(found), .. } => write!(
                f,
                "journal {} holds chain value {:#018x} at record {}, not {:#018x}: \
                 a snapshot of another history",
                dir.display(),
                found.0,
                base.record.0,
                base.chain.0
            ),
            RecoveryError::BaseMismatch { dir, base, found: None, last_sequence } => write!(
                f,
                "journal {} ends at record {}, before record {} a snapshot covers",
                dir.display(),
                last_sequence.0,
                base.record.0
            ),
        }
    }
}

impl std::error::Error for RecoveryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecoveryError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl std::fmt::Display for Corruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "journal corrupt: segment {} at byte offset {}: ",
            self.segment.display(),
            self.offset
        )?;
        match self.reason {
            CorruptionReason::SegmentName => write!(f, "malformed segment file name"),
            CorruptionReason::Header(fault) => write!(f, "{fault}"),
            CorruptionReason::NameMismatch { header_first_sequence } => write!(
                f,
                "header says first sequence {} but the file name says otherwise \
                 (copied or renamed segment)",
                header_first_sequence.0
            ),
            CorruptionReason::SequenceGap { expected, found } => write!(
                f,
                "sequence gap: found {}, expected {} (missing segment or records)",
                found.0, expected.0
            ),
            CorruptionReason::SequenceRepeat { expected, found } => write!(
                f,
                "sequence repeat: found {}, expected {} \
                 (duplicated, overlapping or reordered data)",
                found.0, expected.0
            ),
            CorruptionReason::ChainBreak { expected, found } => write!(
                f,
                "hash chain break: stored {:#018x}, expected {:#018x} (data from another history)",
                found.0, expected.0
            ),
            CorruptionReason::RecordInSealedSegment(fault) => {
                write!(f, "{fault} in a segment that is followed by another")
            }
            CorruptionReason::RecordBeforeValid { fault, valid_offset } => write!(
                f,
                "{fault}, followed by a valid record at byte offset {valid_offset} \
                 (mid-journal corruption, not a torn tail)"
            ),
        }
    }
}

impl std::error::Error for Corruption {}

/// Scans, checks and repairs the journal in `dir` (which must exist); see [`recover_with`].
pub fn recover(dir: &Path) -> Result<Recovered, RecoveryError> {
    recover_with(dir, |_, _| {})
}

/// Scans, checks and repairs the journal in `dir`, calling `visit(sequence, payload)` for every
/// good record in order, in the same pass.
///
/// `visit` sees records before recovery has seen the whole journal: if this returns `Err`, what
/// the visitor built must be thrown away (the process is expected to stop). On `Ok` the visitor
/// saw exactly the records `1..=last_sequence`.
pub fn recover_with(
    dir: &Path,
    mut visit: impl FnMut(SequenceNumber, &[u8]),
) -> Result<Recovered, RecoveryError> {
    recover_after(dir, Base::GENESIS, |sequence, _, payload| visit(sequence, payload))
}

/// Where a recovery starts: the records `1..=record` are already accounted for (by a snapshot)
/// and `chain` is the chain value of `record`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Base {
    /// The last record the caller already holds; 0 for none.
    pub record: SequenceNumber,
    /// That record's chain value ([`Chain::GENESIS`] for none).
    pub chain: Chain,
}

impl Base {
    /// Nothing accounted for: recover from record 1.
    pub const GENESIS: Base = Base { record: SequenceNumber(0), chain: Chain::GENESIS };
}

/// [`recover_with`] after `base`: segments wholly at or before `base.record` are neither read
/// nor required (only their headers are checked, so a segment deleted once a snapshot covered it
/// is no gap), the segment holding record `base.record + 1` is checked from its header, the chain
/// value of `base.record` must equal `base.chain` (a [`RecoveryError::BaseMismatch`] otherwise,
/// before anything is visited), and `visit(sequence, chain, payload)` sees only the records
/// after `base.record`.
///
/// On `Ok`, the records `base.record + 1..=last_sequence` were checked and visited, and
/// `last_sequence ≥ base.record`.
pub fn recover_after(
    dir: &Path,
    base: Base,
    mut visit: impl FnMut(SequenceNumber, Chain, &[u8]),
) -> Result<Recovered, RecoveryError> {
    let dir_file = lock_dir(dir)?;
    let names = list_segments(dir)?;
    let (start, mut segments, mut progress) = skip_covered(dir, &names, base)?;
    let mut tail_cut = None;
    let mut window = Window::new();
    let mut base_chain = (progress.last_sequence >= base.record).then_some(progress.chain);
    let mut visit_after = |sequence: SequenceNumber, chain: Chain, payload: &[u8]| {
        if sequence > base.record {
            visit(sequence, chain, payload);
        } else if sequence == base.record {
            base_chain = Some(chain);
        }
    };
    for (index, (name_sequence, path)) in names.iter().enumerate().skip(start) {
        let is_last = index + 1 == names.len();
        let outcome = check_segment(
            path,
            *name_sequence,
            is_last,
            &mut progress,
            &mut window,
            &mut visit_after,
        )?;
        match outcome {
            SegmentOutcome::Whole(summary) => segments.push(summary),
            SegmentOutcome::TornTail(summary, cut) => {
                assert!(is_last);
                truncate(path, cut.offset)?;
                segments.push(summary);
                tail_cut = Some(cut);
            }
            SegmentOutcome::TornHeader(cut) => {
                assert!(is_last);
                fs::remove_file(path).map_err(io_error(path))?;
                dir_file.sync_all().map_err(io_error(dir))?;
                tail_cut = Some(cut);
            }
        }
    }
    if let Some(last) = segments.last() {
        assert_eq!(last.last_sequence, progress.last_sequence);
    }
    match base_chain {
        Some(chain) if chain == base.chain => {}
        found => {
            let last_sequence = progress.last_sequence;
            return Err(RecoveryError::BaseMismatch {
                dir: dir.to_path_buf(),
                base,
                found,
                last_sequence,
            });
        }
    }
    Ok(Recovered {
        dir: dir.to_path_buf(),
        last_sequence: progress.last_sequence,
        chain: progress.chain,
        segments,
        tail_cut,
        dir_file,
    })
}

/// The segments wholly at or before `base.record`: their headers checked (name, order), their
/// records left unread. Returns the index of the first segment to scan, the summaries of those
/// before it, and the progress the scan starts from.
fn skip_covered(
    dir: &Path,
    names: &[(SequenceNumber, PathBuf)],
    base: Base,
) -> Result<(usize, Vec<SegmentSummary>, Progress), RecoveryError> {
    let genesis = Progress { last_sequence: SequenceNumber(0), chain: Chain::GENESIS };
    if base.record.0 == 0 {
        return Ok((0, Vec::with_capacity(names.len()), genesis));
    }
    // The last segment starting at or before the first record after the base.
    let Some(start) = names.iter().rposition(|(first, _)| first.0 <= base.record.0 + 1) else {
        let expected = SequenceNumber(base.record.0 + 1);
        return match names.first() {
            Some((found, path)) => {
                Err(corrupt(path, 0, CorruptionReason::SequenceGap { expected, found: *found }))
            }
            None => Err(RecoveryError::BaseMismatch {
                dir: dir.to_path_buf(),
                base,
                found: None,
                last_sequence: SequenceNumber(0),
            }),
        };
    };
    let mut segments = Vec::with_capacity(names.len());
    let mut headers = Vec::with_capacity(start + 1);
    for (name_sequence, path) in &names[..=start] {
        let header = read_header(path)?;
        if header.first_sequence != *name_sequence || name_sequence.0 == 0 {
            let header_first_sequence = header.first_sequence;
            return Err(corrupt(path, 0, CorruptionReason::NameMismatch { header_first_sequence }));
        }
        headers.push(header);
    }
    for (index, (first, path)) in names[..start].iter().enumerate() {
        let size = fs::metadata(path).map_err(io_error(path))?.len();
        segments.push(SegmentSummary {
            path: path.clone(),
            first_sequence: *first,
            last_sequence: SequenceNumber(names[index + 1].0.0 - 1),
            chain_in: headers[index].chain_in,
            size,
        });
    }
    let first = names[start].0;
    let progress = if first.0 == base.record.0 + 1 {
        let chain_in = headers[start].chain_in;
        if chain_in != base.chain {
            let (dir, found, last_sequence) = (dir.to_path_buf(), Some(chain_in), base.record);
            return Err(RecoveryError::BaseMismatch { dir, base, found, last_sequence });
        }
        Progress { last_sequence: base.record, chain: base.chain }
    } else {
        Progress { last_sequence: SequenceNumber(first.0 - 1), chain: headers[start].chain_in }
    };
    Ok((start, segments, progress))
}

/// A segment's header, read and decoded (nothing else is read).
fn read_header(path: &Path) -> Result<SegmentHeader, RecoveryError> {
    let file = File::open(path).map_err(io_error(path))?;
    let mut bytes = [0u8; SEGMENT_HEADER_SIZE];
    file.read_exact_at(&mut bytes, 0).map_err(io_error(path))?;
    SegmentHeader::decode(&bytes).map_err(|fault| corrupt(path, 0, CorruptionReason::Header(fault)))
}

/// What recovery has checked so far: the last good record and its chain value.
#[derive(Clone, Copy, Debug)]
struct Progress {
    last_sequence: SequenceNumber,
    chain: Chain,
}

enum SegmentOutcome {
    /// Every byte checked.
    Whole(SegmentSummary),
    /// Checked up to `TailCut::offset`; the rest is to be truncated.
    TornTail(SegmentSummary, TailCut),
    /// The header is torn and nothing follows it: the file is to be removed.
    TornHeader(TailCut),
}

/// Opens `dir` and takes an exclusive, non-blocking `flock` on it.
fn lock_dir(dir: &Path) -> Result<File, RecoveryError> {
    let dir_file = File::open(dir).map_err(io_error(dir))?;
    match dir_file.try_lock() {
        Ok(()) => Ok(dir_file),
        Err(fs::TryLockError::WouldBlock) => Err(RecoveryError::Locked { dir: dir.to_path_buf() }),
        Err(fs::TryLockError::Error(error)) => {
            Err(RecoveryError::Io { path: dir.to_path_buf(), error })
        }
    }
}

/// The segment files of `dir`, sorted by the first sequence their names claim.
fn list_segments(dir: &Path) -> Result<Vec<(SequenceNumber, PathBuf)>, RecoveryError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        match parse_segment_name(name) {
            SegmentName::Other => {}
            SegmentName::Segment(sequence) => segments.push((sequence, path)),
            SegmentName::Malformed => {
                return Err(corrupt(&path, 0, CorruptionReason::SegmentName));
            }
        }
    }
    segments.sort_unstable_by_key(|(sequence, _)| *sequence);
    Ok(segments)
}

/// Checks one segment: header, name, link to the previous segment, then every record.
fn check_segment(
    path: &Path,
    name_sequence: SequenceNumber,
    is_last: bool,
    progress: &mut Progress,
    window: &mut Window,
    visit: &mut impl FnMut(SequenceNumber, Chain, &[u8]),
) -> Result<SegmentOutcome, RecoveryError> {
    let file = File::open(path).map_err(io_error(path))?;
    let file_size = file.metadata().map_err(io_error(path))?.len();
    window.reset(file, file_size);
    let header = match check_header(path, name_sequence, is_last, *progress, window)? {
        HeaderCheck::Good(header) => header,
        HeaderCheck::Torn(cut) => return Ok(SegmentOutcome::TornHeader(cut)),
    };
    let mut scan = Scan {
        offset: SEGMENT_HEADER_SIZE as u64,
        expected: header.first_sequence,
        chain: header.chain_in,
    };
    let mut summary = SegmentSummary {
        path: path.to_path_buf(),
        first_sequence: header.first_sequence,
        last_sequence: progress.last_sequence,
        chain_in: header.chain_in,
        size: SEGMENT_HEADER_SIZE as u64,
    };
    loop {
        let step = scan.step(window).map_err(io_error(path))?;
        let (offset, fault) = match step {
            Step::End => break,
            Step::Record { sequence, payload } => {
                visit(sequence, scan.chain, payload);
                summary.last_sequence = sequence;
                summary.size = scan.offset;
                *progress = Progress { last_sequence: sequence, chain: scan.chain };
                continue;
            }
            Step::Bad { offset, reason: Bad::Link(reason) } => {
                return Err(corrupt(path, offset, reason));
            }
            Step::Bad { offset, reason: Bad::Record(fault) } => (offset, fault),
        };
        let cut = check_torn_tail(path, is_last, window, offset, fault)?;
        assert_eq!(cut.offset, summary.size);
        return Ok(SegmentOutcome::TornTail(summary, cut));
    }
    assert_eq!(summary.size, file_size);
    Ok(SegmentOutcome::Whole(summary))
}

enum HeaderCheck {
    Good(SegmentHeader),
    /// The last segment's header is torn and nothing follows it.
    Torn(TailCut),
}

/// Checks a segment's header, its name, and its link to the segments before it.
fn check_header(
    path: &Path,
    name_sequence: SequenceNumber,
    is_last: bool,
    progress: Progress,
    window: &mut Window,
) -> Result<HeaderCheck, RecoveryError> {
    let file_size = window.file_size;
    let expected = SequenceNumber(progress.last_sequence.0 + 1);
    let bytes = window.read(0, SEGMENT_HEADER_SIZE).map_err(io_error(path))?;
    let header = match SegmentHeader::decode(bytes) {
        Ok(header) => header,
        // A crash between creating the file and syncing its header leaves a short or garbled
        // header and nothing else (records are written only after the header and the
        // directory entry were synced). Anything after a bad header is corruption.
        Err(fault) if is_last && file_size <= SEGMENT_HEADER_SIZE as u64 => {
            check_sequence(path, 0, expected, name_sequence)?;
            return Ok(HeaderCheck::Torn(TailCut {
                segment: path.to_path_buf(),
                offset: 0,
                cut_size: file_size,
                fault: TailFault::Header(fault),
                segment_removed: true,
            }));
        }
        Err(fault) => return Err(corrupt(path, 0, CorruptionReason::Header(fault))),
    };
    if header.first_sequence != name_sequence {
        let header_first_sequence = header.first_sequence;
        return Err(corrupt(path, 0, CorruptionReason::NameMismatch { header_first_sequence }));
    }
    check_sequence(path, 0, expected, header.first_sequence)?;
    if header.chain_in != progress.chain {
        let reason =
            CorruptionReason::ChainBreak { expected: progress.chain, found: header.chain_in };
        return Err(corrupt(path, 0, reason));
    }
    Ok(HeaderCheck::Good(header))
}

/// Decides whether the bad record at `offset` starts a torn tail (returns the cut) or is
/// corruption (refused): only in the last segment, and only if no valid record follows it.
fn check_torn_tail(
    path: &Path,
    is_last: bool,
    window: &mut Window,
    offset: u64,
    fault: RecordFault,
) -> Result<TailCut, RecoveryError> {
    if !is_last {
        return Err(corrupt(path, offset, CorruptionReason::RecordInSealedSegment(fault)));
    }
    if let Some(valid_offset) = find_valid_record(window, offset + 1).map_err(io_error(path))? {
        let reason = CorruptionReason::RecordBeforeValid { fault, valid_offset };
        return Err(corrupt(path, offset, reason));
    }
    Ok(TailCut {
        segment: path.to_path_buf(),
        offset,
        cut_size: window.file_size - offset,
        fault: TailFault::Record(fault),
        segment_removed: false,
    })
}

/// Refuses a segment or record whose sequence is not the expected one.
pub(super) fn check_sequence(
    path: &Path,
    offset: u64,
    expected: SequenceNumber,
    found: SequenceNumber,
) -> Result<(), RecoveryError> {
    if found > expected {
        return Err(corrupt(path, offset, CorruptionReason::SequenceGap { expected, found }));
    }
    if found < expected {
        return Err(corrupt(path, offset, CorruptionReason::SequenceRepeat { expected, found }));
    }
    Ok(())
}

/// The first offset at or after `from` where a record passes its own checks (size bound,
/// completeness, CRC), whatever its sequence: evidence that the bad bytes before it are not a
/// torn tail.
///
/// Tries every byte offset: a corrupt size field tells nothing about where the next record
/// starts. Random bytes pass with probability below 2⁻⁵⁰ per offset (a size ≤ 4096 in a `u32`,
/// then a CRC32C).
fn find_valid_record(window: &mut Window, from: u64) -> io::Result<Option<u64>> {
    let file_size = window.file_size;
    let mut offset = from;
    while offset < file_size {
        let bytes = window.read(offset, RECORD_SIZE_MAX)?;
        if decode_record(bytes).is_ok() {
            return Ok(Some(offset));
        }
        offset += 1;
    }
    Ok(None)
}

/// Truncates the segment at `path` to `size` bytes and fsyncs it.
fn truncate(path: &Path, size: u64) -> Result<(), RecoveryError> {
    let file = File::options().write(true).open(path).map_err(io_error(path))?;
    file.set_len(size).map_err(io_error(path))?;
    file.sync_all().map_err(io_error(path))?;
    assert_eq!(file.metadata().map_err(io_error(path))?.len(), size);
    Ok(())
}

/// A cursor over the records of one segment, checking each one's continuity.
pub(super) struct Scan {
    /// Offset of the next record.
    pub(super) offset: u64,
    /// Sequence the next record must carry.
    pub(super) expected: SequenceNumber,
    /// Chain value of the previous record.
    pub(super) chain: Chain,
}

pub(super) enum Step<'a> {
    /// A good record; the scan advanced past it.
    Record { sequence: SequenceNumber, payload: &'a [u8] },
    /// The end of the window's file.
    End,
    /// The bytes at `offset` are not a good continuation; the scan did not advance.
    Bad { offset: u64, reason: Bad },
}

pub(super) enum Bad {
    /// Not a record (torn or damaged).
    Record(RecordFault),
    /// A record, but not the next one (always corruption).
    Link(CorruptionReason),
}

impl Scan {
    pub(super) fn step<'w>(&mut self, window: &'w mut Window) -> io::Result<Step<'w>> {
        if self.offset == window.file_size {
            return Ok(Step::End);
        }
        assert!(self.offset < window.file_size);
        let offset = self.offset;
        let bytes = window.read(offset, RECORD_SIZE_MAX)?;
        let header = match decode_record(bytes) {
            Ok(header) => header,
            Err(fault) => return Ok(Step::Bad { offset, reason: Bad::Record(fault) }),
        };
        let expected = self.expected;
        let found = header.sequence;
        if found > expected {
            let reason = CorruptionReason::SequenceGap { expected, found };
            return Ok(Step::Bad { offset, reason: Bad::Link(reason) });
        }
        if found < expected {
            let reason = CorruptionReason::SequenceRepeat { expected, found };
            return Ok(Step::Bad { offset, reason: Bad::Link(reason) });
        }
        let payload = &bytes[super::format::RECORD_HEADER_SIZE..header.record_size()];
        let chain = self.chain.next(header.sequence, payload);
        if header.chain != chain {
            let reason = CorruptionReason::ChainBreak { expected: chain, found: header.chain };
            return Ok(Step::Bad { offset, reason: Bad::Link(reason) });
        }
        self.offset += header.record_size() as u64;
        self.expected = SequenceNumber(found.0 + 1);
        self.chain = chain;
        Ok(Step::Record { sequence: found, payload })
    }
}

/// A read-only view of one file through a fixed buffer, refilled by `pread`.
pub(super) struct Window {
    file: Option<File>,
    /// Bytes of the file that may be read (its size, or a checked prefix of it).
    pub(super) file_size: u64,
    buffer: Vec<u8>,
    /// File offset of `buffer[0]`.
    buffer_offset: u64,
    /// Valid bytes in `buffer`.
    buffer_size: usize,
}

impl Window {
    pub(super) fn new() -> Window {
        Window {
            file: None,
            file_size: 0,
            buffer: vec![0; WINDOW_SIZE],
            buffer_offset: 0,
            buffer_size: 0,
        }
    }

    pub(super) fn reset(&mut self, file: File, file_size: u64) {
        self.file = Some(file);
        self.file_size = file_size;
        self.buffer_offset = 0;
        self.buffer_size = 0;
    }

    /// The file grew to `file_size` (a live journal being followed).
    pub(super) fn grow(&mut self, file_size: u64) {
        self.file_size = self.file_size.max(file_size);
    }

    /// The bytes `[offset, min(offset + size_max, file_size))`; `size_max ≤ WINDOW_SIZE`.
    pub(super) fn read(&mut self, offset: u64, size_max: usize) -> io::Result<&[u8]> {
        assert!(size_max <= WINDOW_SIZE);
        assert!(offset <= self.file_size);
        let end = self.file_size.min(offset + size_max as u64);
        let buffer_end = self.buffer_offset + self.buffer_size as u64;
        if offset < self.buffer_offset || end > buffer_end {
            let size = (self.file_size - offset).min(WINDOW_SIZE as u64) as usize;
            let file = self.file.as_ref().expect("window has a file");
            file.read_exact_at(&mut self.buffer[..size], offset)?;
            self.buffer_offset = offset;
            self.buffer_size = size;
        }
        let start = (offset - self.buffer_offset) as usize;
        let stop = (end - self.buffer_offset) as usize;
        Ok(&self.buffer[start..stop])
    }
}

pub(super) fn corrupt(path: &Path, offset: u64, reason: CorruptionReason) -> RecoveryError {
    RecoveryError::Corrupt(Corruption { segment: path.to_path_buf(), offset, reason })
}

/// Wraps an `io::Error` with the path it happened on.
pub(super) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> RecoveryError + '_ {
    move |error| RecoveryError::Io { path: path.to_path_buf(), error }
}
