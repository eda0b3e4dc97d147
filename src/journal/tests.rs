//! Journal tests: round trips across segment rolls, torn tails cut at every byte, corruption
//! refused with segment and offset, and the writer's durability and fail-stop rules.
//!
//! Syncs are slow on the test machines (milliseconds), so journals are written with
//! `commit(false)` unless durability is the point; recovery reads the page cache either way.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::format::{Chain, RECORD_HEADER_SIZE, SEGMENT_HEADER_SIZE, SegmentHeader};
use super::format::{decode_record, encode_record, segment_name};
use super::*;
use crate::types::SequenceNumber;

/// A unique directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = format!("ringex-journal-{}-{unique}-{name}", std::process::id());
        let path = std::env::temp_dir().join(dir);
        let _ = fs::remove_dir_all(&path);
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// splitmix64: a deterministic generator for test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut value = self.0;
        value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        value ^ (value >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// The payload of `sequence` in journal `salt`: 1..=400 bytes, the size derived from `sequence`
/// alone (so journals of different salts have the same segments), the bytes from both.
fn payload(salt: u64, sequence: u64) -> Vec<u8> {
    let size = 1 + Rng(sequence).below(400) as usize;
    let mut rng = Rng(sequence ^ salt.rotate_left(32));
    (0..size).map(|_| rng.next() as u8).collect()
}

const SMALL_SEGMENTS: WriterOptions =
    WriterOptions { segment_size_max: 8 << 10, batch_size_max: 64 << 10 };

/// Writes records `from..=to` of journal `salt` in batches of 1..=32, without syncing.
fn append_range(writer: &mut JournalWriter, salt: u64, from: u64, to: u64) {
    let mut rng = Rng(salt ^ from);
    let mut sequence = from;
    while sequence <= to {
        let batch_end = to.min(sequence + rng.below(32));
        for s in sequence..=batch_end {
            writer.append(SequenceNumber(s), &payload(salt, s)).unwrap();
        }
        writer.commit(false).unwrap();
        sequence = batch_end + 1;
    }
}

/// A journal of records `1..=count` in `dir`.
fn write_journal(dir: &Path, salt: u64, count: u64, options: WriterOptions) {
    let mut writer = JournalWriter::open(dir, options).unwrap();
    append_range(&mut writer, salt, 1, count);
}

/// Recovers `dir` and checks, by reading it back, that it holds exactly records
/// `1..=last_sequence` of journal `salt`.
fn recover_and_check(dir: &Path, salt: u64) -> Result<Recovered, RecoveryError> {
    let mut visited = 0;
    let recovered = recover_with(dir, |sequence, bytes| {
        visited += 1;
        assert_eq!(sequence.0, visited);
        assert_eq!(bytes, payload(salt, sequence.0));
    })?;
    assert_eq!(visited, recovered.last_sequence.0);
    let mut reader = recovered.reader();
    let mut read = 0;
    let mut chain = Chain::GENESIS;
    while let Some(record) = reader.next_record().unwrap() {
        read += 1;
        assert_eq!(record.sequence.0, read);
        assert_eq!(record.payload, payload(salt, read));
        chain = chain.next(record.sequence, record.payload);
        assert_eq!(record.chain, chain);
    }
    assert_eq!(read, recovered.last_sequence.0);
    assert_eq!(chain, recovered.chain);
    Ok(recovered)
}

fn segment_paths(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "journal"))
        .collect();
    paths.sort();
    paths
}

/// `(start, end)` byte offsets of every record in a segment file's bytes.
fn record_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut offset = SEGMENT_HEADER_SIZE;
    while offset < bytes.len() {
        let header = decode_record(&bytes[offset..]).unwrap();
        spans.push((offset, offset + header.record_size()));
        offset += header.record_size();
    }
    spans
}

/// Copies every file of `from` into a fresh directory.
fn copy_dir(from: &Path, name: &str) -> TempDir {
    let to = TempDir::new(name);
    fs::create_dir_all(to.path()).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.path().join(entry.file_name())).unwrap();
    }
    to
}

fn corruption(result: Result<Recovered, RecoveryError>) -> Corruption {
    match result {
        Err(RecoveryError::Corrupt(corruption)) => {
            let message = corruption.to_string();
            let name = corruption.segment.file_name().unwrap().to_str().unwrap();
            assert!(message.contains(name), "{message}");
            assert!(message.contains(&format!("byte offset {}", corruption.offset)), "{message}");
            corruption
        }
        Err(error) => panic!("expected corruption, got {error}"),
        Ok(recovered) => panic!("expected corruption, recovered to {:?}", recovered.last_sequence),
    }
}

#[test]
fn round_trip_across_segment_rolls_and_reopen() {
    let dir = TempDir::new("round-trip");
    let salt = 1;
    // A batch buffer of one maximal record forces writes from `append` as well.
    let options = WriterOptions { batch_size_max: super::RECORD_SIZE_MAX, ..SMALL_SEGMENTS };
    write_journal(dir.path(), salt, 300, options);
    let recovered = recover_and_check(dir.path(), salt).unwrap();
    assert_eq!(recovered.last_sequence, SequenceNumber(300));
    assert!(recovered.tail_cut.is_none());
    assert!(recovered.segments.len() >= 5, "{} segments", recovered.segments.len());
    let mut next = SequenceNumber(1);
    for segment in &recovered.segments {
        assert_eq!(segment.first_sequence, next);
        assert_eq!(segment.path.file_name().unwrap().to_str(), Some(&*segment_name(next)));
        assert!(segment.size <= SMALL_SEGMENTS.segment_size_max);
        assert_eq!(fs::metadata(&segment.path).unwrap().len(), segment.size);
        next = SequenceNumber(segment.last_sequence.0 + 1);
    }
    assert_eq!(next, SequenceNumber(301));

    let mut writer = JournalWriter::resume(recovered, SMALL_SEGMENTS).unwrap();
    assert_eq!(writer.appended_sequence(), SequenceNumber(300));
    assert_eq!(writer.durable_sequence(), SequenceNumber(300));
    append_range(&mut writer, salt, 301, 400);
    let chain = writer.chain();
    assert_eq!(writer.commit(true).unwrap(), SequenceNumber(400));
    drop(writer);
    let recovered = recover_and_check(dir.path(), salt).unwrap();
    assert_eq!(recovered.last_sequence, SequenceNumber(400));
    assert_eq!(recovered.chain, chain);
}

#[test]
fn empty_journal_and_empty_last_segment() {
    let dir = TempDir::new("empty");
    let writer = JournalWriter::open(dir.path(), WriterOptions::default()).unwrap();
    assert_eq!(writer.durable_sequence(), SequenceNumber(0));
    drop(writer);
    // A header-only segment is a good, empty journal, continued in place.
    let recovered = recover_and_check(dir.path(), 2).unwrap();
    assert_eq!(recovered.last_sequence, SequenceNumber(0));
    assert_eq!(recovered.segments.len(), 1);
    let mut writer = JournalWriter::resume(recovered, WriterOptions::default()).unwrap();
    append_range(&mut writer, 2, 1, 10);
    drop(writer);
    let recovered = recover_and_check(dir.path(), 2).unwrap();
    assert_eq!(recovered.last_sequence, SequenceNumber(10));
    assert_eq!(segment_paths(dir.path()).len(), 1);
}

#[test]
fn torn_tail_at_every_byte_of_the_last_record() {
    let dir = TempDir::new("torn-every-byte");
    let salt = 3;
    let count = 20;
    write_journal(dir.path(), salt, count, WriterOptions::default());
    let path = segment_paths(dir.path()).pop().unwrap();
    let original = fs::read(&path).unwrap();
    let (start, end) = *record_spans(&original).last().unwrap();
    assert_eq!(end, original.len());
    for cut in start..end {
        fs::write(&path, &original[..cut]).unwrap();
        let recovered = recover_and_check(dir.path(), salt).unwrap();
        assert_eq!(recovered.last_sequence, SequenceNumber(count - 1), "cut at {cut}");
        assert_eq!(fs::metadata(&path).unwrap().len(), start as u64);
        if cut == start {
            // Cut exactly at a record boundary: nothing torn.
            assert!(recovered.tail_cut.is_none());
            continue;
        }
        let tail_cut = recovered.tail_cut.as_ref().expect("a cut is reported");
        assert_eq!(tail_cut.segment, path);
        assert_eq!(tail_cut.offset, start as u64);
        assert_eq!(tail_cut.cut_size, (cut - start) as u64);
        assert!(!tail_cut.segment_removed);
        let fault = RecordFault::Incomplete { size: (cut - start) as u64 };
        assert_eq!(tail_cut.fault, TailFault::Record(fault));
        assert!(tail_cut.to_string().contains(&format!("byte offset {start}")));
    }
}

#[test]
fn torn_tail_random_cuts_in_the_last_three_records_then_continue() {
    let original = TempDir::new("torn-random-original");
    let salt = 4;
    let count = 120;
    write_journal(original.path(), salt, count, SMALL_SEGMENTS);
    let last_path = segment_paths(original.path()).pop().unwrap();
    let last_name = last_path.file_name().unwrap().to_owned();
    let bytes = fs::read(&last_path).unwrap();
    let spans = record_spans(&bytes);
    assert!(spans.len() >= 3, "the last three records are in the last segment");
    let mut rng = Rng(44);
    for trial in 0..24 {
        let back = 1 + rng.below(3) as usize; // 1 = the last record
        let (start, end) = spans[spans.len() - back];
        let cut = start + rng.below((end - start) as u64) as usize;
        let dir = copy_dir(original.path(), "torn-random");
        let path = dir.path().join(&last_name);
        fs::write(&path, &bytes[..cut]).unwrap();
        let kept = count - back as u64;
        let recovered = recover_and_check(dir.path(), salt).unwrap();
        assert_eq!(recovered.last_sequence, SequenceNumber(kept), "cut at {cut}");
        assert_eq!(recovered.tail_cut.is_some(), cut > start);
        if trial % 6 == 0 {
            // Continue after the cut: the journal reads back contiguous.
            let mut writer = JournalWriter::resume(recovered, SMALL_SEGMENTS).unwrap();
            append_range(&mut writer, salt, kept + 1, kept + 40);
            drop(writer);
            let recovered = recover_and_check(dir.path(), salt).unwrap();
            assert_eq!(recovered.last_sequence, SequenceNumber(kept + 40));
            assert!(recovered.tail_cut.is_none());
        }
    }
}

#[test]
fn damaged_or_trailing_bytes_at_the_tail_are_cut() {
    let original = TempDir::new("tail-damage-original");
    let salt = 5;
    let count = 30;
    write_journal(original.path(), salt, count, WriterOptions::default());
    let name = segment_paths(original.path()).pop().unwrap().file_name().unwrap().to_owned();
    let bytes = fs::read(original.path().join(&name)).unwrap();
    let (start, end) = *record_spans(&bytes).last().unwrap();
    let mut cases: Vec<(&str, Vec<u8>, u64, usize)> = Vec::new();
    // A bit flipped in the very last record's payload, its size, its checksum, its sequence.
    let flips =
        [("payload", end - 1), ("size", start), ("crc", start + 5), ("sequence", start + 8)];
    for (label, byte) in flips {
        let mut damaged = bytes.clone();
        damaged[byte] ^= 0x04;
        cases.push((label, damaged, count - 1, start));
    }
    let mut damaged = bytes.clone();
    damaged[start + 3] ^= 0x80; // size > 4096
    cases.push(("size too large", damaged, count - 1, start));
    let mut zeros = bytes.clone();
    zeros.resize(bytes.len() + 4096, 0);
    cases.push(("trailing zeros", zeros, count, end));
    let mut garbage = bytes.clone();
    let mut rng = Rng(55);
    garbage.extend((0..777).map(|_| rng.next() as u8));
    cases.push(("trailing garbage", garbage, count, end));
    let mut zeroed = bytes.clone();
    zeroed[start..].fill(0); // the file system extended the file but never wrote the record
    cases.push(("zeroed last record", zeroed, count - 1, start));
    for (label, content, kept, offset) in cases {
        let dir = copy_dir(original.path(), "tail-damage");
        let path = dir.path().join(&name);
        fs::write(&path, &content).unwrap();
        let recovered = recover_and_check(dir.path(), salt).unwrap();
        assert_eq!(recovered.last_sequence, SequenceNumber(kept), "{label}");
        let tail_cut = recovered.tail_cut.as_ref().expect(label);
        assert_eq!(tail_cut.offset, offset as u64, "{label}");
        assert_eq!(tail_cut.cut_size, (content.len() - offset) as u64, "{label}");
        assert_eq!(fs::metadata(&path).unwrap().len(), offset as u64, "{label}");
        if label == "payload" {
            assert_eq!(tail_cut.fault, TailFault::Record(RecordFault::Checksum));
        }
    }
}

#[test]
fn bit_flips_before_the_tail_are_refused_with_segment_and_offset() {
    let original = TempDir::new("bit-flip-original");
    let salt = 6;
    write_journal(original.path(), salt, 100, SMALL_SEGMENTS);
    let segments: Vec<(PathBuf, Vec<u8>)> = segment_paths(original.path())
        .into_iter()
        .map(|path| {
            let bytes = fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    assert!(segments.len() >= 3);
    let mut rng = Rng(66);
    for trial in 0..60 {
        let index = rng.below(segments.len() as u64) as usize;
        let (path, bytes) = &segments[index];
        let spans = record_spans(bytes);
        let is_last = index + 1 == segments.len();
        // A record that is not the journal's last one, or (one trial in five) the header.
        let candidates = if is_last { spans.len() - 1 } else { spans.len() };
        let (start, end, bit) = if trial % 5 == 0 || candidates == 0 {
            (0, SEGMENT_HEADER_SIZE, rng.below(SEGMENT_HEADER_SIZE as u64 * 8) as usize)
        } else {
            let (start, end) = spans[rng.below(candidates as u64) as usize];
            let bit = match trial % 4 {
                0 => rng.below(32) as usize,     // the size field
                1 => rng.below(24 * 8) as usize, // the fixed part
                _ => rng.below((end - start) as u64 * 8) as usize,
            };
            (start, end, bit)
        };
        assert!(start * 8 + bit < end * 8);
        let mut damaged = bytes.clone();
        damaged[start + bit / 8] ^= 1 << (bit % 8);
        let dir = copy_dir(original.path(), "bit-flip");
        let name = path.file_name().unwrap();
        fs::write(dir.path().join(name), &damaged).unwrap();
        let corruption = corruption(recover(dir.path()));
        assert_eq!(corruption.segment, dir.path().join(name), "trial {trial}");
        assert_eq!(corruption.offset, start as u64, "trial {trial}: {corruption}");
        // Refusal modifies nothing.
        assert_eq!(fs::read(dir.path().join(name)).unwrap(), damaged);
    }
}

#[test]
fn missing_duplicated_and_foreign_segments_are_refused() {
    let original = TempDir::new("segments-original");
    let salt = 7;
    write_journal(original.path(), salt, 160, SMALL_SEGMENTS);
    let paths = segment_paths(original.path());
    assert!(paths.len() >= 4);
    let name = |index: usize| paths[index].file_name().unwrap().to_owned();
    let first_of = |index: usize| {
        let bytes = fs::read(&paths[index]).unwrap();
        SegmentHeader::decode(&bytes).unwrap().first_sequence
    };

    // A deleted middle segment: the next one starts too late.
    let dir = copy_dir(original.path(), "missing-middle");
    fs::remove_file(dir.path().join(name(1))).unwrap();
    let found = corruption(recover(dir.path()));
    assert_eq!(found.segment, dir.path().join(name(2)));
    assert_eq!(found.offset, 0);
    let gap = CorruptionReason::SequenceGap { expected: first_of(1), found: first_of(2) };
    assert_eq!(found.reason, gap);

    // A deleted first segment: the journal does not start at 1.
    let dir = copy_dir(original.path(), "missing-first");
    fs::remove_file(dir.path().join(name(0))).unwrap();
    let found = corruption(recover(dir.path()));
    let gap = CorruptionReason::SequenceGap { expected: SequenceNumber(1), found: first_of(1) };
    assert_eq!(found.reason, gap);

    // A segment copied under another name.
    let dir = copy_dir(original.path(), "duplicated");
    let copy = dir.path().join(segment_name(SequenceNumber(first_of(2).0 + 1)));
    fs::copy(&paths[1], &copy).unwrap();
    let found = corruption(recover(dir.path()));
    assert_eq!(found.segment, copy);
    let mismatch = CorruptionReason::NameMismatch { header_first_sequence: first_of(1) };
    assert_eq!(found.reason, mismatch);

    // A malformed segment name.
    let dir = copy_dir(original.path(), "malformed-name");
    fs::copy(&paths[1], dir.path().join("00000000000000000001 (copy).journal")).unwrap();
    assert_eq!(corruption(recover(dir.path())).reason, CorruptionReason::SegmentName);

    // An overlapping segment whose name and header agree: it starts before the previous ends.
    let dir = copy_dir(original.path(), "overlap");
    let overlap_first = SequenceNumber(first_of(2).0 - 1);
    let header = SegmentHeader { first_sequence: overlap_first, chain_in: Chain(9) };
    let overlap = dir.path().join(segment_name(overlap_first));
    fs::write(&overlap, header.encode()).unwrap();
    let found = corruption(recover(dir.path()));
    assert_eq!(found.segment, overlap);
    let repeat = CorruptionReason::SequenceRepeat { expected: first_of(2), found: overlap_first };
    assert_eq!(found.reason, repeat);

    // A segment of another journal with the same sequences: the chain breaks at its header.
    let foreign = TempDir::new("segments-foreign");
    write_journal(foreign.path(), salt + 100, 160, SMALL_SEGMENTS);
    let dir = copy_dir(original.path(), "foreign");
    fs::copy(foreign.path().join(name(2)), dir.path().join(name(2))).unwrap();
    let found = corruption(recover(dir.path()));
    assert_eq!(found.segment, dir.path().join(name(2)));
    assert_eq!(found.offset, 0);
    assert!(matches!(found.reason, CorruptionReason::ChainBreak { .. }), "{found}");
}

/// Writes a single-segment journal of journal `salt` whose records carry `sequences` (in order),
/// each chained to the one before it as written.
fn write_crafted(dir: &Path, salt: u64, sequences: &[u64]) -> Vec<(usize, usize)> {
    fs::create_dir_all(dir).unwrap();
    let header = SegmentHeader { first_sequence: SequenceNumber(1), chain_in: Chain::GENESIS };
    let mut bytes = header.encode().to_vec();
    let mut chain = Chain::GENESIS;
    let mut spans = Vec::new();
    for &sequence in sequences {
        let sequence = SequenceNumber(sequence);
        let body = payload(salt, sequence.0);
        chain = chain.next(sequence, &body);
        let start = bytes.len();
        bytes.reserve(RECORD_HEADER_SIZE + body.len());
        encode_record(&mut bytes, sequence, chain, &body);
        spans.push((start, bytes.len()));
    }
    fs::write(dir.join(segment_name(SequenceNumber(1))), bytes).unwrap();
    spans
}

#[test]
fn sequence_gaps_repeats_and_chain_breaks_inside_a_segment_are_refused() {
    let salt = 8;
    let expected = |sequence| SequenceNumber(sequence);
    // (records, index of the first bad record, reason)
    let cases: [(&[u64], usize, CorruptionReason); 4] = [
        (
            &[1, 2, 3, 5, 6],
            3,
            CorruptionReason::SequenceGap { expected: expected(4), found: expected(5) },
        ),
        (
            &[1, 2, 3, 5],
            3,
            CorruptionReason::SequenceGap { expected: expected(4), found: expected(5) },
        ),
        (
            &[1, 2, 3, 3],
            3,
            CorruptionReason::SequenceRepeat { expected: expected(4), found: expected(3) },
        ),
        (
            &[1, 2, 4, 3],
            2,
            CorruptionReason::SequenceGap { expected: expected(3), found: expected(4) },
        ),
    ];
    for (sequences, bad, reason) in cases {
        let dir = TempDir::new("crafted");
        let spans = write_crafted(dir.path(), salt, sequences);
        let found = corruption(recover(dir.path()));
        assert_eq!(found.offset, spans[bad].0 as u64, "{sequences:?}");
        assert_eq!(found.reason, reason, "{sequences:?}");
    }

    // A well-formed last record whose chain value does not follow from the record before it
    // (a record spliced in from another history) is refused, not cut.
    let dir = TempDir::new("chain-break");
    write_crafted(dir.path(), salt, &[1, 2, 3]);
    let path = dir.path().join(segment_name(SequenceNumber(1)));
    let mut bytes = fs::read(&path).unwrap();
    let start = bytes.len();
    let body = payload(salt, 4);
    bytes.reserve(RECORD_HEADER_SIZE + body.len());
    encode_record(&mut bytes, SequenceNumber(4), Chain(12345), &body);
    fs::write(&path, &bytes).unwrap();
    let found = corruption(recover(dir.path()));
    assert_eq!(found.offset, start as u64);
    assert!(matches!(found.reason, CorruptionReason::ChainBreak { found: Chain(12345), .. }));
}

#[test]
fn torn_header_of_the_last_segment_is_removed() {
    let original = TempDir::new("torn-header-original");
    let salt = 9;
    write_journal(original.path(), salt, 50, SMALL_SEGMENTS);
    let next = SequenceNumber(51);
    let header = SegmentHeader { first_sequence: next, chain_in: Chain(1) }.encode();
    for size in [0, 1, 17, SEGMENT_HEADER_SIZE - 1] {
        let dir = copy_dir(original.path(), "torn-header");
        let path = dir.path().join(segment_name(next));
        fs::write(&path, &header[..size]).unwrap();
        let recovered = recover_and_check(dir.path(), salt).unwrap();
        assert_eq!(recovered.last_sequence, SequenceNumber(50));
        let tail_cut = recovered.tail_cut.clone().unwrap();
        assert!(tail_cut.segment_removed);
        assert_eq!(tail_cut.segment, path);
        assert_eq!(tail_cut.cut_size, size as u64);
        assert!(!path.exists());
        let mut writer = JournalWriter::resume(recovered, SMALL_SEGMENTS).unwrap();
        append_range(&mut writer, salt, 51, 60);
        drop(writer);
        assert_eq!(recover_and_check(dir.path(), salt).unwrap().last_sequence, SequenceNumber(60));
    }
    // A full-size but garbled header is torn too when nothing follows it.
    let dir = copy_dir(original.path(), "torn-header-zeros");
    fs::write(dir.path().join(segment_name(next)), [0u8; SEGMENT_HEADER_SIZE]).unwrap();
    let recovered = recover_and_check(dir.path(), salt).unwrap();
    let fault = recovered.tail_cut.unwrap().fault;
    assert_eq!(fault, TailFault::Header(HeaderFault::Magic));
    // A torn header under a name that does not continue the journal is refused.
    let dir = copy_dir(original.path(), "torn-header-gap");
    let path = dir.path().join(segment_name(SequenceNumber(99)));
    fs::write(&path, &header[..7]).unwrap();
    let found = corruption(recover(dir.path()));
    assert_eq!(found.segment, path);
    assert!(matches!(found.reason, CorruptionReason::SequenceGap { .. }));
    // The only segment, torn at creation: an empty journal.
    let dir = TempDir::new("torn-first-header");
    fs::create_dir_all(dir.path()).unwrap();
    fs::write(dir.path().join(segment_name(SequenceNumber(1))), &header[..5]).unwrap();
    let writer = JournalWriter::open(dir.path(), SMALL_SEGMENTS).unwrap();
    assert!(writer.tail_cut().unwrap().segment_removed);
    assert_eq!(writer.appended_sequence(), SequenceNumber(0));
    assert_eq!(segment_paths(dir.path()).len(), 1);
}

#[test]
fn durable_sequence_never_exceeds_what_was_synced() {
    let dir = TempDir::new("durable");
    let options = WriterOptions { batch_size_max: super::RECORD_SIZE_MAX * 2, ..SMALL_SEGMENTS };
    let mut writer = JournalWriter::open(dir.path(), options).unwrap();
    let check = |writer: &JournalWriter| {
        assert!(writer.durable_sequence() <= writer.written_sequence());
        assert!(writer.written_sequence() <= writer.appended_sequence());
    };
    let mut synced = SequenceNumber(0);
    for sequence in 1..=200 {
        writer.append(SequenceNumber(sequence), &payload(10, sequence)).unwrap();
        check(&writer);
        // Only a sync moves the durable sequence: ours, or a segment roll's (which covers
        // everything before the record that did not fit).
        let durable = writer.durable_sequence();
        assert!(durable == synced || durable == SequenceNumber(sequence - 1), "{sequence}");
        synced = durable;
        if sequence % 50 == 0 {
            let written = writer.write_batch().unwrap();
            assert_eq!(written, SequenceNumber(sequence));
            assert_eq!(writer.durable_sequence(), synced, "a write is not durable");
            assert_eq!(writer.sync().unwrap(), SequenceNumber(sequence));
            synced = writer.durable_sequence();
        }
    }
    writer.append(SequenceNumber(201), b"x").unwrap();
    assert_eq!(writer.commit(false).unwrap(), SequenceNumber(200));
    assert_eq!(writer.commit(true).unwrap(), SequenceNumber(201));
    check(&writer);
}

/// Makes the writer's segment descriptor refer to `/dev/full`: writes fail with ENOSPC and
/// `fdatasync` with EINVAL, through the real syscalls.
fn break_segment(writer: &JournalWriter) {
    let full = fs::File::options().write(true).open("/dev/full").unwrap();
    // SAFETY: both descriptors are open and owned by live `File`s; `dup2` atomically makes the
    // writer's descriptor refer to `/dev/full`, and it stays owned (and closed once) by the
    // writer's `File`.
    let result = unsafe { libc::dup2(full.as_raw_fd(), writer.segment_raw_fd()) };
    assert_eq!(result, writer.segment_raw_fd());
}

#[test]
fn a_failed_write_poisons_the_writer() {
    let dir = TempDir::new("poison-write");
    let mut writer = JournalWriter::open(dir.path(), WriterOptions::default()).unwrap();
    for sequence in 1..=5 {
        writer.append(SequenceNumber(sequence), &payload(11, sequence)).unwrap();
    }
    assert_eq!(writer.commit(true).unwrap(), SequenceNumber(5));
    break_segment(&writer);
    writer.append(SequenceNumber(6), &payload(11, 6)).unwrap();
    let error = writer.commit(true).unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::ENOSPC));
    assert_eq!(writer.poison().unwrap().operation, "write");
    assert_eq!(writer.durable_sequence(), SequenceNumber(5));
    assert!(writer.append(SequenceNumber(7), b"x").is_err());
    assert!(writer.write_batch().is_err());
    assert!(writer.sync().is_err());
    let error = writer.commit(true).unwrap_err();
    assert!(error.to_string().contains("poisoned"), "{error}");
    assert_eq!(writer.durable_sequence(), SequenceNumber(5));
    drop(writer);
    assert_eq!(recover_and_check(dir.path(), 11).unwrap().last_sequence, SequenceNumber(5));
}

#[test]
fn a_failed_sync_poisons_the_writer() {
    let dir = TempDir::new("poison-sync");
    let mut writer = JournalWriter::open(dir.path(), WriterOptions::default()).unwrap();
    for sequence in 1..=5 {
        writer.append(SequenceNumber(sequence), &payload(12, sequence)).unwrap();
    }
    assert_eq!(writer.write_batch().unwrap(), SequenceNumber(5));
    break_segment(&writer);
    let error = writer.sync().unwrap_err();
    assert_eq!(error.raw_os_error(), Some(libc::EINVAL));
    assert_eq!(writer.poison().unwrap().operation, "fdatasync");
    // Written but never synced: not durable, and never retried.
    assert_eq!(writer.written_sequence(), SequenceNumber(5));
    assert_eq!(writer.durable_sequence(), SequenceNumber(0));
    assert!(writer.sync().is_err());
    assert!(writer.append(SequenceNumber(6), b"x").is_err());
    assert_eq!(writer.durable_sequence(), SequenceNumber(0));
}

#[test]
fn a_locked_directory_is_refused() {
    let dir = TempDir::new("locked");
    let writer = JournalWriter::open(dir.path(), WriterOptions::default()).unwrap();
    assert!(matches!(recover(dir.path()), Err(RecoveryError::Locked { .. })));
    assert!(matches!(
        JournalWriter::open(dir.path(), WriterOptions::default()),
        Err(RecoveryError::Locked { .. })
    ));
    drop(writer);
    assert!(recover(dir.path()).is_ok());
}

#[test]
#[should_panic(expected = "journal sequence not contiguous")]
fn append_asserts_contiguity() {
    let dir = TempDir::new("contiguity");
    let mut writer = JournalWriter::open(dir.path(), WriterOptions::default()).unwrap();
    writer.append(SequenceNumber(1), b"a").unwrap();
    let _ = writer.append(SequenceNumber(3), b"c");
}

#[test]
fn a_hole_before_a_valid_record_in_the_last_segment_is_refused() {
    let dir = TempDir::new("hole");
    let salt = 13;
    write_journal(dir.path(), salt, 10, WriterOptions::default());
    let path = segment_paths(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let spans = record_spans(&bytes);
    let (start, end) = spans[spans.len() - 2];
    bytes[start..end].fill(0); // e.g. pages persisted out of order before a crash
    fs::write(&path, &bytes).unwrap();
    let found = corruption(recover(dir.path()));
    assert_eq!(found.segment, path);
    assert_eq!(found.offset, start as u64);
    let fault = RecordFault::Checksum;
    let reason = CorruptionReason::RecordBeforeValid { fault, valid_offset: end as u64 };
    assert_eq!(found.reason, reason);
    assert!(found.to_string().contains("not a torn tail"), "{found}");
    assert_eq!(fs::read(&path).unwrap(), bytes, "refusal modifies nothing");
}
