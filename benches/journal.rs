//! Journal benchmarks: what one `fdatasync` costs on this disk, and what group commit buys.
//!
//! - `journal/fdatasync`: one 200-byte `pwrite` at the end of a file, then `fdatasync`.
//! - `journal/group_commit/{1,16,256}`: the journal thread's loop with batches of that many
//!   200-byte records: append them all, one `pwrite`, one `fdatasync` (`commit(true)`).
//!
//! Then a summary measured outside criterion, on a fresh journal each: records/s with batches of
//! 1 and of 256, and the line `journal_group_commit_vs_single: <ratio>` (records/s with batches
//! of 256 over records/s with batches of 1).
//!
//! Files go to `$RINGEX_BENCH_DIR` (default: the system temp dir), so another disk can be
//! measured; they are removed at the end. Run: `cargo bench --bench journal`.

use std::fs;
use std::hint::black_box;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use ringex::journal::{JournalWriter, WriterOptions};
use ringex::types::SequenceNumber;

const PAYLOAD_SIZE: usize = 200;
const BATCH_SIZES: [u64; 3] = [1, 16, 256];

fn bench_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("RINGEX_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = base.join(format!("ringex-bench-journal-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

/// One group commit of `batch_size` records.
fn commit_batch(writer: &mut JournalWriter, payload: &[u8], batch_size: u64) -> SequenceNumber {
    let first = writer.appended_sequence().0 + 1;
    for sequence in first..first + batch_size {
        writer.append(SequenceNumber(sequence), payload).expect("append");
    }
    writer.commit(true).expect("commit")
}

fn criterion_benches(criterion: &mut Criterion) {
    let payload = [0x5Au8; PAYLOAD_SIZE];
    let mut group = criterion.benchmark_group("journal");
    group.sample_size(30).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));

    let dir = bench_dir("fdatasync");
    fs::create_dir_all(&dir).expect("bench dir");
    let file = fs::File::options()
        .create(true)
        .truncate(true)
        .write(true)
        .open(dir.join("file"))
        .expect("file");
    let mut offset = 0u64;
    group.throughput(Throughput::Elements(1));
    group.bench_function("fdatasync", |bencher| {
        bencher.iter(|| {
            file.write_all_at(&payload, offset).expect("pwrite");
            offset += PAYLOAD_SIZE as u64;
            file.sync_data().expect("fdatasync");
        })
    });
    drop(file);
    let _ = fs::remove_dir_all(&dir);

    for batch_size in BATCH_SIZES {
        let dir = bench_dir(&format!("group-{batch_size}"));
        let mut writer = JournalWriter::open(&dir, WriterOptions::default()).expect("open");
        group.throughput(Throughput::Elements(batch_size));
        group.bench_with_input(
            BenchmarkId::new("group_commit", batch_size),
            &batch_size,
            |bencher, &batch_size| {
                bencher.iter(|| black_box(commit_batch(&mut writer, &payload, batch_size)))
            },
        );
        drop(writer);
        let _ = fs::remove_dir_all(&dir);
    }
    group.finish();
}

/// Records/s over `commits` group commits of `batch_size` records, on a fresh journal.
fn records_per_second(batch_size: u64, commits: u64) -> f64 {
    let payload = [0xA5u8; PAYLOAD_SIZE];
    let dir = bench_dir(&format!("summary-{batch_size}"));
    let mut writer = JournalWriter::open(&dir, WriterOptions::default()).expect("open");
    commit_batch(&mut writer, &payload, batch_size); // the first sync also flushes the header
    let start = Instant::now();
    for _ in 0..commits {
        commit_batch(&mut writer, &payload, batch_size);
    }
    let elapsed = start.elapsed();
    assert_eq!(writer.durable_sequence().0, batch_size * (commits + 1));
    drop(writer);
    let _ = fs::remove_dir_all(&dir);
    (batch_size * commits) as f64 / elapsed.as_secs_f64()
}

fn main() {
    let mut criterion = Criterion::default().without_plots().configure_from_args();
    criterion_benches(&mut criterion);
    criterion.final_summary();

    let commits = 300;
    let single = records_per_second(1, commits);
    let grouped = records_per_second(256, commits);
    let mut out = std::io::stdout().lock();
    writeln!(out, "journal_records_per_second_batch_1: {single:.0}").unwrap();
    writeln!(out, "journal_records_per_second_batch_256: {grouped:.0}").unwrap();
    writeln!(out, "journal_group_commit_vs_single: {:.1}", grouped / single).unwrap();
}
