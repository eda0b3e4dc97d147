//! The journal through its public API only: the group-commit loop the pipeline runs, a restart
//! that replays and continues, a crash that tears the tail, and corruption that is refused.

use std::fs;
use std::path::PathBuf;

use ringex::journal::{
    CorruptionReason, JournalWriter, RecoveryError, WriterOptions, recover, recover_with,
};
use ringex::types::SequenceNumber;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = format!("ringex-journal-it-{}-{name}", std::process::id());
        let path = std::env::temp_dir().join(dir);
        let _ = fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A 200-byte payload naming its sequence.
fn payload(sequence: u64) -> [u8; 200] {
    let mut bytes = [0u8; 200];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = (sequence as usize).wrapping_mul(31).wrapping_add(index) as u8;
    }
    bytes[..8].copy_from_slice(&sequence.to_le_bytes());
    bytes
}

const OPTIONS: WriterOptions =
    WriterOptions { segment_size_max: 16 << 10, batch_size_max: 1 << 16 };

/// The journal thread's loop: everything available, appended, one write, one fdatasync,
/// then the durable sequence is published.
fn group_commit(writer: &mut JournalWriter, batches: &[u64]) -> Vec<SequenceNumber> {
    let mut published = Vec::new();
    for &batch_size in batches {
        let first = writer.appended_sequence().0 + 1;
        for sequence in first..first + batch_size {
            writer.append(SequenceNumber(sequence), &payload(sequence)).unwrap();
        }
        let durable = writer.commit(true).unwrap();
        assert_eq!(durable.0, first + batch_size - 1);
        published.push(durable);
    }
    published
}

fn replay(dir: &std::path::Path) -> Result<(u64, ringex::journal::Recovered), RecoveryError> {
    let mut count = 0;
    let recovered = recover_with(dir, |sequence, bytes| {
        count += 1;
        assert_eq!(sequence.0, count);
        assert_eq!(bytes, payload(count));
    })?;
    Ok((count, recovered))
}

#[test]
fn restart_replays_and_continues_after_a_torn_tail() {
    let dir = TempDir::new("restart");
    let mut writer = JournalWriter::open(&dir.0, OPTIONS).unwrap();
    let published = group_commit(&mut writer, &[1, 16, 100, 3, 256]);
    assert_eq!(published.last(), Some(&SequenceNumber(376)));
    // A batch written but not synced when the "crash" happens.
    for sequence in 377..=380 {
        writer.append(SequenceNumber(sequence), &payload(sequence)).unwrap();
    }
    writer.commit(false).unwrap();
    drop(writer);

    // The crash tore the last record: 13 bytes of it reached the disk.
    let (count, recovered) = replay(&dir.0).unwrap();
    assert_eq!(count, 380);
    let last = recovered.segments.last().unwrap().clone();
    drop(recovered);
    let size = fs::metadata(&last.path).unwrap().len();
    let file = fs::File::options().write(true).open(&last.path).unwrap();
    file.set_len(size - 224 + 13).unwrap();
    drop(file);

    let (count, recovered) = replay(&dir.0).unwrap();
    assert_eq!(count, 379);
    let cut = recovered.tail_cut.clone().unwrap();
    assert_eq!((cut.segment, cut.offset, cut.cut_size), (last.path, size - 224, 13));
    let mut writer = JournalWriter::resume(recovered, OPTIONS).unwrap();
    assert_eq!(writer.durable_sequence(), SequenceNumber(379));
    group_commit(&mut writer, &[21]);
    drop(writer);
    assert_eq!(replay(&dir.0).unwrap().0, 400);
}

#[test]
fn corruption_in_a_sealed_segment_is_refused_by_name_and_offset() {
    let dir = TempDir::new("corrupt");
    let mut writer = JournalWriter::open(&dir.0, OPTIONS).unwrap();
    group_commit(&mut writer, &[200]);
    drop(writer);
    let recovered = recover(&dir.0).unwrap();
    assert!(recovered.segments.len() >= 2);
    let first = recovered.segments[0].path.clone();
    drop(recovered);
    let mut bytes = fs::read(&first).unwrap();
    let offset = 40 + 224 * 5; // the sixth record
    bytes[offset + 100] ^= 0x20;
    fs::write(&first, &bytes).unwrap();
    let error = recover(&dir.0).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("00000000000000000001.journal"), "{message}");
    assert!(message.contains(&format!("byte offset {offset}")), "{message}");
    match error {
        RecoveryError::Corrupt(corruption) => {
            assert!(matches!(corruption.reason, CorruptionReason::RecordInSealedSegment(_)));
        }
        other => panic!("{other}"),
    }
    assert!(JournalWriter::open(&dir.0, OPTIONS).is_err(), "no writer on a corrupt journal");
}
