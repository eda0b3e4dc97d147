//! The snapshot thread: a second copy of the engine that follows the journal and writes it to a
//! snapshot file every `[snapshot] every_records` records or `every_s` seconds, or when the
//! administrator asks (`POST /api/v1/admin/snapshot`).
//!
//! **Reads** the journal files, only records the journal thread reported durable
//! ([`Durable::record`]), through [`JournalTail`]; **owns** its [`Engine`] (built from the same
//! recovered state as the live one, so it is the live state as of the record it has read);
//! **writes** snapshot files, and removes (or archives, per `[journal] retain`) older snapshots
//! and the segments the oldest one kept covers. It shares nothing with the pipeline but
//! [`Durable`] and [`SnapshotControl`]: the matcher never waits for it, and a snapshot never
//! covers a record that is not durable.
//!
//! A snapshot that fails to write stops the process (exit 1, naming the file), like a failed
//! journal write: the disk under the journal is failing. A journal the follower cannot read
//! turns snapshots off, loudly, and leaves the exchange running on its journal.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::engine::Engine;
use super::file;
use crate::config::{Retain, SnapshotSettings};
use crate::durability::Durable;
use crate::journal::{JournalTail, parse_segment_name_first};
use crate::types::SequenceNumber;

/// How long the thread sleeps when the journal has nothing new (it polls: it is a background
/// reader and must not add a wakeup to the journal thread's path).
const IDLE_POLL: Duration = Duration::from_millis(5);
/// Records applied between checks of the stop flag and the triggers.
const RECORDS_PER_STEP: u64 = 65_536;
/// Nice value of the thread: the pipeline's threads come first on a shared core.
const NICE: i32 = 10;
/// The test hook: `write-enospc:N` fails the Nth snapshot write with ENOSPC; `stall:N` stops the
/// Nth one for good after its payload, before its file is synced and renamed, so a test can kill
/// the process in the middle of a snapshot.
pub const INJECT_FAULT_ENV: &str = "RINGEX_INJECT_SNAPSHOT_FAULT";

/// What the test hook injects into which snapshot write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InjectedFault {
    NoSpace(u64),
    Stall(u64),
}

impl InjectedFault {
    fn from_env() -> Option<InjectedFault> {
        let text = std::env::var(INJECT_FAULT_ENV).ok()?;
        let (kind, count) = text.split_once(':')?;
        let count = count.parse().ok()?;
        match kind {
            "write-enospc" => Some(InjectedFault::NoSpace(count)),
            "stall" => Some(InjectedFault::Stall(count)),
            _ => None,
        }
    }
}

/// What the pipeline and the thread share: requests, the stop flag, and what was written.
#[derive(Debug, Default)]
pub struct SnapshotControl {
    requested: AtomicU64,
    stop: AtomicBool,
    written: AtomicU64,
    last_record: AtomicU64,
    last_bytes: AtomicU64,
    last_write_ms: AtomicU64,
}

impl SnapshotControl {
    /// Asks for a snapshot of everything durable now (net-out, on the admin command).
    pub fn request(&self) {
        self.requested.fetch_add(1, Ordering::Release);
    }

    /// Snapshots written since start.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// The journal record the newest snapshot written since start covers (0: none yet).
    pub fn last_record(&self) -> u64 {
        self.last_record.load(Ordering::Acquire)
    }

    /// Size (bytes) and write time (ms) of the newest snapshot written since start.
    pub fn last_written(&self) -> (u64, u64) {
        (self.last_bytes.load(Ordering::Acquire), self.last_write_ms.load(Ordering::Acquire))
    }

    /// Stops the thread at its next step.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Where and when to write.
#[derive(Clone, Debug)]
pub struct FollowerOptions {
    /// The data directory.
    pub dir: PathBuf,
    /// The running configuration's state fingerprint.
    pub fingerprint: u64,
    /// `[snapshot]`.
    pub settings: SnapshotSettings,
    /// `[journal] retain`.
    pub retain: Retain,
}

/// Starts the snapshot thread on `engine` (a copy of the recovered state).
pub fn spawn(
    engine: Engine,
    durable: Arc<Durable>,
    control: Arc<SnapshotControl>,
    options: FollowerOptions,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("snapshot".into())
        .spawn(move || Follower::new(engine, durable, control, options).run())
}

struct Follower {
    engine: Engine,
    durable: Arc<Durable>,
    control: Arc<SnapshotControl>,
    options: FollowerOptions,
    /// The record of the newest snapshot on disk.
    last_record: SequenceNumber,
    last_at: Instant,
    requests_served: u64,
    writes: u64,
    fault: Option<InjectedFault>,
}

impl Follower {
    fn new(
        engine: Engine,
        durable: Arc<Durable>,
        control: Arc<SnapshotControl>,
        options: FollowerOptions,
    ) -> Follower {
        let newest = file::list(&options.dir).ok().and_then(|list| list.first().map(|f| f.0));
        Follower {
            engine,
            durable,
            control,
            options,
            last_record: newest.unwrap_or(SequenceNumber(0)),
            last_at: Instant::now(),
            requests_served: 0,
            writes: 0,
            fault: InjectedFault::from_env(),
        }
    }

    fn run(mut self) {
        lower_priority();
        remove_partial_files(&self.options.dir);
        let mut tail = match JournalTail::open(&self.options.dir, self.engine.base) {
            Ok(tail) => tail,
            Err(error) => return eprintln!("ringex: snapshots off: {error}"),
        };
        while !self.control.stop.load(Ordering::Acquire) {
            let durable = self.durable.record();
            let target = durable.min(SequenceNumber(self.engine.base.record.0 + RECORDS_PER_STEP));
            if target > self.engine.base.record {
                let engine = &mut self.engine;
                let mut bad = None;
                let read = tail.read_through(target, |record, chain, payload| {
                    if bad.is_none() {
                        bad = engine.apply(record, chain, payload, None).err();
                    }
                });
                if let Err(error) = read {
                    return eprintln!("ringex: snapshots off: reading the journal: {error}");
                }
                if let Some(record) = bad {
                    return eprintln!("ringex: snapshots off: {record}");
                }
            }
            let caught_up = target == durable;
            if caught_up && self.due() {
                self.take();
            } else if caught_up {
                std::thread::sleep(IDLE_POLL);
            }
        }
    }

    /// Whether a trigger fired: a request, the record count, or the time with records new.
    fn due(&self) -> bool {
        let settings = self.options.settings;
        let new_records = self.engine.base.record.0.saturating_sub(self.last_record.0);
        let requested = self.control.requested.load(Ordering::Acquire) > self.requests_served;
        let by_count = settings.every_records > 0 && new_records >= settings.every_records;
        let by_time = settings.every_s > 0
            && new_records > 0
            && self.last_at.elapsed() >= Duration::from_secs(settings.every_s);
        requested || by_count || by_time
    }

    /// Writes a snapshot (unless the newest on disk already covers the same record), then
    /// prunes old snapshots and covered segments. A failed write ends the process.
    fn take(&mut self) {
        self.requests_served = self.control.requested.load(Ordering::Acquire);
        self.last_at = Instant::now();
        if self.engine.base.record <= self.last_record {
            return;
        }
        self.writes += 1;
        let record = self.engine.base.record.0;
        eprintln!(
            "ringex: snapshot at record {record} (sequence {}) begun",
            self.engine.matcher.last_sequence().0
        );
        let fault = match self.fault {
            Some(InjectedFault::NoSpace(at)) if at == self.writes => {
                file::Fault::Fail(io::Error::from_raw_os_error(libc::ENOSPC))
            }
            Some(InjectedFault::Stall(at)) if at == self.writes => file::Fault::Stall,
            _ => file::Fault::None,
        };
        let started = Instant::now();
        let dir = &self.options.dir;
        match file::write(dir, &self.engine, self.options.fingerprint, fault) {
            Ok(written) => {
                let write_ms = started.elapsed().as_millis() as u64;
                self.control.last_bytes.store(written.bytes, Ordering::Release);
                self.control.last_write_ms.store(write_ms, Ordering::Release);
                eprintln!(
                    "ringex: snapshot at record {record} written to {}: {} bytes in {} ms",
                    written.path.display(),
                    written.bytes,
                    write_ms
                );
            }
            Err(failure) => {
                eprintln!(
                    "ringex: snapshot write failed: {}: {}; stopping without acknowledging more",
                    failure.path.display(),
                    failure.error
                );
                std::process::exit(1);
            }
        }
        self.last_record = self.engine.base.record;
        self.control.last_record.store(self.last_record.0, Ordering::Release);
        self.control.written.fetch_add(1, Ordering::AcqRel);
        if let Err(error) = prune(dir, self.options.settings.keep, self.options.retain) {
            eprintln!("ringex: pruning old snapshots and segments in {}: {error}", dir.display());
        }
    }
}

/// Keeps the newest `keep` snapshots and applies `retain` to the segments wholly covered by the
/// oldest one kept (never the last segment, which the journal thread writes).
fn prune(dir: &Path, keep: u32, retain: Retain) -> io::Result<()> {
    let snapshots = file::list(dir)?;
    for (_, path) in snapshots.iter().skip(keep as usize) {
        fs::remove_file(path)?;
    }
    let kept = (keep as usize).min(snapshots.len());
    let Some(&(oldest_kept, _)) = kept.checked_sub(1).and_then(|last| snapshots.get(last)) else {
        return Ok(());
    };
    if retain == Retain::All {
        return Ok(());
    }
    let mut segments: Vec<(SequenceNumber, PathBuf)> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let first = parse_segment_name_first(entry.file_name().to_str()?)?;
            Some((first, entry.path()))
        })
        .collect();
    segments.sort_unstable();
    // A segment is covered when the next one starts at or before the record after the snapshot.
    let covered = segments.windows(2).take_while(|pair| pair[1].0.0 <= oldest_kept.0 + 1).count();
    if covered == 0 {
        return Ok(());
    }
    let archive = dir.join("archive");
    if retain == Retain::Archive {
        fs::create_dir_all(&archive)?;
    }
    for (_, path) in &segments[..covered] {
        match retain {
            Retain::Archive => fs::rename(path, archive.join(path.file_name().expect("a file")))?,
            _ => fs::remove_file(path)?,
        }
    }
    fs::File::open(dir)?.sync_all()
}

/// A crash mid-snapshot leaves `*.snap.tmp`: garbage, never read.
fn remove_partial_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        if entry.file_name().to_str().is_some_and(|name| name.ends_with(".snap.tmp")) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Gives the pipeline's threads the core first when they share it with this one.
fn lower_priority() {
    // SAFETY: `gettid` and `setpriority` take no pointers; a failure leaves the priority as it
    // was, which is harmless.
    unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, NICE);
    }
}
