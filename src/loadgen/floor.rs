//! `ringex floor`: the floor of what any server on this machine could do, measured on the
//! machine itself so the latency report can set the server's figures beside it.
//!
//! Three costs no server here escapes, each timed into an HdrHistogram (ns; reported in µs):
//!
//! - **Loopback round trip**: a request of the load generator's size to a minimal echo on
//!   `127.0.0.1` and an answer of the server's size back, over a socket set up as the load
//!   generator's are (TCP_NODELAY, one keep-alive connection), one in flight at a time: what
//!   the network path costs a server that does nothing.
//! - **One ED25519 verification** with the server's own verifier ([`crate::verify::signature`]),
//!   singly and per signature in full batches: what every order costs before it is sequenced.
//! - **One `fdatasync`** of a journal-sized append in the data directory: what durability costs
//!   each batch in `sync` mode.
//!
//! [`Floor::floor_us`] (loopback + one verification, p50) is the latency no server here can
//! beat for a signed order; [`Floor::batch_capacity_per_s`] the signatures per second every
//! core could verify doing nothing else.
//!
//! **Why measured, and in the same run.** Each figure depends on the machine (CPU model and
//! frequency, the kernel, virtualisation, the disk under the data directory), and on a shared
//! machine it drifts between runs: a floor copied from elsewhere would compare the server with
//! another machine.
//!
//! **Hand-written or crates.** The echo is a few lines of std written here: a server crate
//! would add its own buffering and threads to the very path being measured. Histograms are
//! `hdrhistogram`, keys and signatures `ed25519-dalek`, the verification the server's own.

use super::LoadgenError;
use super::report::micros;
use super::stats::{Percentiles, latency_histogram};
use crate::verify::budget::SampleSignature;
use crate::verify::signature::{Check, SIGNATURE_BATCH_MAX, SignatureVerifier, verify_single};
use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Default loopback round trips and verifications recorded.
pub const SAMPLES_DEFAULT: usize = 20_000;
/// Default `fdatasync`s recorded (each can take milliseconds on a real disk).
pub const FSYNC_SAMPLES_DEFAULT: usize = 200;
/// Default request size, bytes: a signed Limit order of the load generator, headers included.
pub const REQUEST_BYTES_DEFAULT: usize = 420;
/// Default answer size, bytes: the server's answer to it, headers included.
pub const ANSWER_BYTES_DEFAULT: usize = 330;
/// Default bytes appended before each `fdatasync`: about one journal record.
pub const JOURNAL_WRITE_BYTES_DEFAULT: usize = 256;

/// `--samples` accepted: enough for a p99, few enough to finish in minutes.
const SAMPLES_RANGE: RangeInclusive<usize> = 100..=10_000_000;
/// `--fsync-samples` accepted.
const FSYNC_SAMPLES_RANGE: RangeInclusive<usize> = 1..=100_000;
/// `--request-bytes`, `--answer-bytes` and `--journal-write-bytes` accepted: up to 1 MiB.
const MESSAGE_BYTES_RANGE: RangeInclusive<usize> = 1..=1 << 20;
/// `--batch-size` accepted: a batch of one is verified singly, so two at least.
const BATCH_SIZE_RANGE: RangeInclusive<usize> = 2..=SIGNATURE_BATCH_MAX;

/// Round trips before the recorded ones: the connection's buffers, the caches and the CPU's
/// frequency settle first.
const WARM_UP_ROUND_TRIPS: usize = 1_000;
/// Single verifications before the recorded ones.
const WARM_UP_VERIFICATIONS: usize = 200;
/// Batches before the recorded ones (the first fills the verifier's arena).
const WARM_UP_BATCHES: usize = 4;
/// `fdatasync`s before the recorded ones (the first allocates the file's first blocks).
const WARM_UP_SYNCS: usize = 2;

/// What the machine allows any server, measured (latencies µs).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Floor {
    /// Cores available to this process.
    pub cores: usize,
    /// Bytes of each loopback request.
    pub request_bytes: usize,
    /// Bytes of each loopback answer.
    pub answer_bytes: usize,
    /// Request written → whole answer read, one in flight, client and echo on the same core
    /// (no wake-up of another core: the network path itself).
    pub loopback_round_trip: Percentiles,
    /// The same with the echo on another core: what a cross-core wake-up adds on this machine
    /// (on a VM, an idle vCPU can take tens of µs to wake). Absent with one core.
    #[serde(default)]
    pub loopback_cross_core: Option<Percentiles>,
    /// One `verify_single` call.
    pub verify_single: Percentiles,
    /// Signatures per timed batch.
    pub batch_size: usize,
    /// One `SignatureVerifier::verify` of a full batch ÷ `batch_size`, counted once per
    /// signature (whole batches: the count is `samples` rounded up to a multiple of it).
    pub verify_batch_per_signature: Percentiles,
    /// Bytes appended before each `fdatasync`.
    pub journal_write_bytes: usize,
    /// One append and its `fdatasync`, timed together.
    pub fdatasync: Percentiles,
    /// The directory whose file system was synced.
    pub data_dir: String,
}

impl Floor {
    /// The targets' floor, µs: loopback round trip p50 + one single verification p50.
    pub fn floor_us(&self) -> f64 {
        self.loopback_round_trip.p50_us + self.verify_single.p50_us
    }

    /// Raw batch-verification capacity of `cores` cores, signatures/s: cores · 10^6 / the
    /// per-signature p50 in µs.
    pub fn batch_capacity_per_s(&self) -> f64 {
        self.cores as f64 * 1e6 / self.verify_batch_per_signature.p50_us
    }
}

/// What to measure, and how much.
#[derive(Clone, Debug, PartialEq)]
pub struct FloorOptions {
    /// Where the `fdatasync` probe file goes (created if missing): the server's data directory.
    pub data_dir: PathBuf,
    /// Loopback round trips, single verifications and batch-verified signatures recorded.
    pub samples: usize,
    /// `fdatasync`s recorded.
    pub fsync_samples: usize,
    /// Bytes of each loopback request.
    pub request_bytes: usize,
    /// Bytes of each loopback answer.
    pub answer_bytes: usize,
    /// Signatures per batch, 2..=[`SIGNATURE_BATCH_MAX`].
    pub batch_size: usize,
    /// Bytes appended before each `fdatasync`.
    pub journal_write_bytes: usize,
}

impl Default for FloorOptions {
    fn default() -> Self {
        FloorOptions {
            data_dir: PathBuf::from("."),
            samples: SAMPLES_DEFAULT,
            fsync_samples: FSYNC_SAMPLES_DEFAULT,
            request_bytes: REQUEST_BYTES_DEFAULT,
            answer_bytes: ANSWER_BYTES_DEFAULT,
            batch_size: SIGNATURE_BATCH_MAX,
            journal_write_bytes: JOURNAL_WRITE_BYTES_DEFAULT,
        }
    }
}

/// Measures the floor: loopback, then verification, then `fdatasync`, one after another so
/// none competes with another for the cores. The data directory is created if missing; the
/// probe file in it is removed whatever happens. The error says which measurement failed.
pub fn measure(options: &FloorOptions) -> io::Result<Floor> {
    assert!(options.samples > 0);
    assert!(options.fsync_samples > 0);
    assert!(options.request_bytes > 0 && options.answer_bytes > 0);
    assert!(BATCH_SIZE_RANGE.contains(&options.batch_size));
    assert!(options.journal_write_bytes > 0);
    let core_ids = core_affinity::get_core_ids().unwrap_or_default();
    let first = core_ids.first().copied();
    let loopback =
        loopback_round_trips(options, first, first).map_err(context("loopback round trip"))?;
    let cross_core = match core_ids.get(1) {
        Some(&second) => Some(
            loopback_round_trips(options, first, Some(second))
                .map_err(context("loopback round trip across cores"))?,
        ),
        None => None,
    };
    let orders = SampleSignature::made_up(SIGNATURE_BATCH_MAX);
    let checks: Vec<Check<'_>> = orders.iter().map(SampleSignature::check).collect();
    let single = verify_single_ns(&checks, options.samples).map_err(context("verification"))?;
    let batch = verify_batch_per_signature_ns(&checks[..options.batch_size], options.samples)
        .map_err(context("batch verification"))?;
    let data_dir = options.data_dir.display().to_string();
    let fdatasync = fdatasyncs(options).map_err(context(&format!("fdatasync in {data_dir}")))?;
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    Ok(Floor {
        cores,
        request_bytes: options.request_bytes,
        answer_bytes: options.answer_bytes,
        loopback_round_trip: Percentiles::of(&loopback),
        loopback_cross_core: cross_core.as_ref().map(Percentiles::of),
        verify_single: Percentiles::of(&single),
        batch_size: options.batch_size,
        verify_batch_per_signature: Percentiles::of(&batch),
        journal_write_bytes: options.journal_write_bytes,
        fdatasync: Percentiles::of(&fdatasync),
        data_dir,
    })
}

/// Prefixes an error with the measurement it ended.
fn context(what: &str) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |error| io::Error::new(error.kind(), format!("{what}: {error}"))
}

/// Nanoseconds since `start`, at least 1 (the histograms' lowest value).
fn elapsed_ns(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX).max(1)
}

// ---------------------------------------------------------------------------------------------
// Loopback

/// `options.samples` round trips through an in-process echo, ns each, after
/// [`WARM_UP_ROUND_TRIPS`] unrecorded, the client pinned to `client_core` and the echo to
/// `echo_core` (where given): placement decides whether each answer wakes another core, and
/// left to the scheduler the figure swings between runs (4.5 µs or 63 µs at p50 on the same
/// Intel VM). The echo and client threads are joined before this returns, on every path.
fn loopback_round_trips(
    options: &FloorOptions,
    client_core: Option<core_affinity::CoreId>,
    echo_core: Option<core_affinity::CoreId>,
) -> io::Result<Histogram<u64>> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    // Connected before the echo thread exists: the kernel completes the handshake from the
    // listen backlog, so no thread ever waits in `accept` for a client that failed.
    let mut client = super::http::connect(&listener.local_addr()?.to_string())?;
    let (server, _) = listener.accept()?;
    server.set_nodelay(true)?;
    let (request_bytes, answer_bytes) = (options.request_bytes, options.answer_bytes);
    let echo = std::thread::Builder::new().name("floor-echo".into()).spawn(move || {
        if let Some(core) = echo_core {
            core_affinity::set_for_current(core);
        }
        echo(server, request_bytes, answer_bytes)
    })?;
    let timed = std::thread::scope(|scope| {
        let client = &mut client;
        let timing = scope.spawn(move || {
            if let Some(core) = client_core {
                core_affinity::set_for_current(core);
            }
            time_round_trips(client, options)
        });
        timing.join().unwrap_or_else(|_| Err(io::Error::other("the timing thread panicked")))
    });
    // Closing the client ends the echo: at a request boundary its read sees the end of the
    // stream; mid-request (the client failed) its read fails.
    drop(client);
    let echoed = echo.join().map_err(|_| io::Error::other("the echo thread panicked"))?;
    let histogram = timed?;
    echoed?;
    Ok(histogram)
}

/// The client's side: one request written, its whole answer read, timed together.
fn time_round_trips(client: &mut TcpStream, options: &FloorOptions) -> io::Result<Histogram<u64>> {
    let request = vec![b'q'; options.request_bytes];
    let mut answer = vec![0u8; options.answer_bytes];
    let mut histogram = latency_histogram();
    for round_trip in 0..WARM_UP_ROUND_TRIPS + options.samples {
        let start = Instant::now();
        client.write_all(&request)?;
        client.read_exact(&mut answer)?;
        let round_trip_ns = elapsed_ns(start);
        if round_trip >= WARM_UP_ROUND_TRIPS {
            histogram.saturating_record(round_trip_ns);
        }
    }
    assert_eq!(histogram.len(), options.samples as u64);
    Ok(histogram)
}

/// The minimal server: reads each whole request and answers it, until the client closes.
fn echo(mut stream: TcpStream, request_bytes: usize, answer_bytes: usize) -> io::Result<()> {
    let mut request = vec![0u8; request_bytes];
    let answer = vec![b'a'; answer_bytes];
    while read_request(&mut stream, &mut request)? {
        stream.write_all(&answer)?;
    }
    Ok(())
}

/// Fills `buffer`: true when it is full, false when the stream ended before its first byte
/// (the client is done); an end of stream inside a request is an error.
fn read_request(stream: &mut TcpStream, buffer: &mut [u8]) -> io::Result<bool> {
    let mut filled_bytes = 0;
    while filled_bytes < buffer.len() {
        match stream.read(&mut buffer[filled_bytes..]) {
            Ok(0) if filled_bytes == 0 => return Ok(false),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(read_bytes) => filled_bytes += read_bytes,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}

// ---------------------------------------------------------------------------------------------
// Verification

/// A refused valid signature: the verifier is wrong, and its timing would mean nothing.
fn wrong_verdict(what: &str) -> io::Error {
    io::Error::other(format!("{what} refused a valid signature"))
}

/// `samples` calls of `verify_single`, ns each, cycling through `checks`.
fn verify_single_ns(checks: &[Check<'_>], samples: usize) -> io::Result<Histogram<u64>> {
    let mut histogram = latency_histogram();
    for sample in 0..WARM_UP_VERIFICATIONS + samples {
        let check = &checks[sample % checks.len()];
        let start = Instant::now();
        let valid = verify_single(check);
        let verify_ns = elapsed_ns(start);
        if !valid {
            return Err(wrong_verdict("verify_single"));
        }
        if sample >= WARM_UP_VERIFICATIONS {
            histogram.saturating_record(verify_ns);
        }
    }
    Ok(histogram)
}

/// Whole batches of `batch` until `samples` signatures are covered: each batch's time ÷ its
/// size, recorded once per signature, ns.
fn verify_batch_per_signature_ns(
    batch: &[Check<'_>],
    samples: usize,
) -> io::Result<Histogram<u64>> {
    let mut verifier = SignatureVerifier::from_os_entropy();
    let mut verdicts = [false; SIGNATURE_BATCH_MAX];
    let mut histogram = latency_histogram();
    let batches = samples.div_ceil(batch.len());
    for round in 0..WARM_UP_BATCHES + batches {
        verdicts.fill(false);
        let start = Instant::now();
        verifier.verify(batch, &mut verdicts);
        let per_signature_ns = (elapsed_ns(start) / batch.len() as u64).max(1);
        if !verdicts[..batch.len()].iter().all(|valid| *valid) {
            return Err(wrong_verdict("SignatureVerifier::verify"));
        }
        if round >= WARM_UP_BATCHES {
            histogram.saturating_record_n(per_signature_ns, batch.len() as u64);
        }
    }
    // A fallback re-verifies every member singly: the time would not be a batch's.
    if verifier.fallbacks > 0 {
        return Err(io::Error::other("a batch of valid signatures failed the batch equation"));
    }
    assert_eq!(histogram.len(), (batches * batch.len()) as u64);
    Ok(histogram)
}

// ---------------------------------------------------------------------------------------------
// fdatasync

/// A new file in the data directory, removed when dropped: on every way out of the
/// measurement, errors included.
struct ProbeFile {
    path: PathBuf,
    file: File,
}

impl ProbeFile {
    /// A file no one else has: the process id and a per-process count in its name, and
    /// `create_new` in case a dead process with the same id left one behind.
    fn create(dir: &Path) -> io::Result<ProbeFile> {
        static PROBES_MADE: AtomicU64 = AtomicU64::new(0);
        let number = PROBES_MADE.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".ringex-floor-probe-{}-{number}", std::process::id()));
        let file = OpenOptions::new().write(true).create_new(true).open(&path)?;
        Ok(ProbeFile { path, file })
    }
}

impl Drop for ProbeFile {
    fn drop(&mut self) {
        // Nothing to do about a failure here: the figures are already taken or already lost.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// `options.fsync_samples` appends of `journal_write_bytes`, each with its `fdatasync`, ns
/// each: the journal appends at the end of its segment and syncs in the same way.
fn fdatasyncs(options: &FloorOptions) -> io::Result<Histogram<u64>> {
    std::fs::create_dir_all(&options.data_dir)?;
    let mut probe = ProbeFile::create(&options.data_dir)?;
    let record = vec![b'j'; options.journal_write_bytes];
    let mut histogram = latency_histogram();
    for sample in 0..WARM_UP_SYNCS + options.fsync_samples {
        let start = Instant::now();
        probe.file.write_all(&record)?;
        probe.file.sync_data()?;
        let sync_ns = elapsed_ns(start);
        if sample >= WARM_UP_SYNCS {
            histogram.saturating_record(sync_ns);
        }
    }
    Ok(histogram)
}

// ---------------------------------------------------------------------------------------------
// Flags and output

/// The flags of `ringex floor`. Numbers are typed (clap refuses text); their ranges are
/// checked by [`FloorFlags::options`].
#[derive(clap::Args, Clone, Debug)]
pub struct FloorFlags {
    /// The server's data directory: the fdatasync is measured on its file system (created if
    /// missing; the probe file is removed afterwards).
    #[arg(long, default_value = "./data")]
    pub data_dir: PathBuf,
    /// Loopback round trips, verifications and batch-verified signatures to record.
    #[arg(long, default_value_t = SAMPLES_DEFAULT)]
    pub samples: usize,
    /// fdatasyncs to record.
    #[arg(long, default_value_t = FSYNC_SAMPLES_DEFAULT)]
    pub fsync_samples: usize,
    /// Bytes of each loopback request (a signed order, headers included).
    #[arg(long, default_value_t = REQUEST_BYTES_DEFAULT)]
    pub request_bytes: usize,
    /// Bytes of each loopback answer.
    #[arg(long, default_value_t = ANSWER_BYTES_DEFAULT)]
    pub answer_bytes: usize,
    /// Signatures per verified batch.
    #[arg(long, default_value_t = SIGNATURE_BATCH_MAX)]
    pub batch_size: usize,
    /// Bytes appended before each fdatasync (about one journal record).
    #[arg(long, default_value_t = JOURNAL_WRITE_BYTES_DEFAULT)]
    pub journal_write_bytes: usize,
    /// Also write the figures to this file as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

impl FloorFlags {
    /// Checks every flag; the error is one line naming the first bad one.
    pub fn options(&self) -> Result<FloorOptions, LoadgenError> {
        Ok(FloorOptions {
            data_dir: self.data_dir.clone(),
            samples: in_range("samples", self.samples, SAMPLES_RANGE)?,
            fsync_samples: in_range("fsync-samples", self.fsync_samples, FSYNC_SAMPLES_RANGE)?,
            request_bytes: in_range("request-bytes", self.request_bytes, MESSAGE_BYTES_RANGE)?,
            answer_bytes: in_range("answer-bytes", self.answer_bytes, MESSAGE_BYTES_RANGE)?,
            batch_size: in_range("batch-size", self.batch_size, BATCH_SIZE_RANGE)?,
            journal_write_bytes: in_range(
                "journal-write-bytes",
                self.journal_write_bytes,
                MESSAGE_BYTES_RANGE,
            )?,
        })
    }
}

/// `value` if `range` holds it, else a usage error naming `--flag`.
fn in_range(flag: &str, value: usize, range: RangeInclusive<usize>) -> Result<usize, LoadgenError> {
    if range.contains(&value) {
        return Ok(value);
    }
    let (min, max) = range.into_inner();
    Err(LoadgenError::Usage(format!("--{flag} must be in {min}..={max}, got {value}")))
}

/// `ringex floor`: checks the flags, measures, and writes the JSON file if asked.
pub fn run(flags: &FloorFlags) -> Result<Floor, LoadgenError> {
    let options = flags.options()?;
    let floor = measure(&options).map_err(|error| LoadgenError::Failed(error.to_string()))?;
    if let Some(path) = &flags.json {
        let json = serde_json::to_string_pretty(&floor).expect("plain numbers and strings");
        let failed = |error: std::io::Error| {
            LoadgenError::Failed(format!("--json {}: {error}", path.display()))
        };
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        std::fs::write(path, json + "\n").map_err(failed)?;
    }
    Ok(floor)
}

/// A short table of the floor for stdout: one line per figure (p50, p99), then the floor and
/// the batch capacity.
pub fn render(floor: &Floor) -> String {
    let mut text = String::new();
    let _ =
        writeln!(text, "ringex floor: {} cores, data directory {}", floor.cores, floor.data_dir);
    let _ = writeln!(text, "{:<44} {:>10} {:>10} {:>8}", "", "p50", "p99", "count");
    let mut rows = vec![(
        format!("loopback round trip, {} B → {} B", floor.request_bytes, floor.answer_bytes),
        &floor.loopback_round_trip,
    )];
    if let Some(figures) = &floor.loopback_cross_core {
        rows.push(("  the same, echo on another core (info)".to_string(), figures));
    }
    rows.extend([
        ("one ED25519 verification".to_string(), &floor.verify_single),
        (
            format!("per signature in batches of {}", floor.batch_size),
            &floor.verify_batch_per_signature,
        ),
        (format!("{} B append + fdatasync", floor.journal_write_bytes), &floor.fdatasync),
    ]);
    for (name, figures) in rows {
        let _ = writeln!(
            text,
            "{name:<44} {:>10} {:>10} {:>8}",
            micros(figures.p50_us),
            micros(figures.p99_us),
            figures.count
        );
    }
    let _ = writeln!(
        text,
        "{:<44} {:>10}",
        "floor: loopback + 1 verification",
        micros(floor.floor_us())
    );
    let _ = writeln!(
        text,
        "batch verification capacity: {:.0} signatures/s on {} cores",
        floor.batch_capacity_per_s(),
        floor.cores
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    use crate::loadgen::test_dir::TempDir;

    fn small(data_dir: &Path) -> FloorOptions {
        FloorOptions {
            data_dir: data_dir.to_path_buf(),
            samples: 200,
            fsync_samples: 5,
            ..FloorOptions::default()
        }
    }

    fn assert_ordered(name: &str, figures: &Percentiles, count: u64) {
        assert_eq!(figures.count, count, "{name}: {figures:?}");
        assert!(figures.p50_us > 0.0, "{name}: {figures:?}");
        assert!(figures.p50_us <= figures.p90_us, "{name}: {figures:?}");
        assert!(figures.p90_us <= figures.p99_us, "{name}: {figures:?}");
        assert!(figures.p99_us <= figures.p999_us, "{name}: {figures:?}");
        assert!(figures.p999_us <= figures.max_us, "{name}: {figures:?}");
    }

    #[test]
    fn the_floor_is_measured_with_every_figure_counted_and_ordered() {
        let dir = TempDir::new("floor-measure");
        let floor = measure(&small(&dir.0)).unwrap();
        assert_ordered("loopback", &floor.loopback_round_trip, 200);
        assert_ordered("single", &floor.verify_single, 200);
        // 200 signatures in whole batches of 64: four batches.
        assert_ordered("batch", &floor.verify_batch_per_signature, 256);
        assert_ordered("fdatasync", &floor.fdatasync, 5);
        assert_eq!((floor.request_bytes, floor.answer_bytes), (420, 330));
        assert_eq!((floor.batch_size, floor.journal_write_bytes), (SIGNATURE_BATCH_MAX, 256));
        assert!(floor.cores >= 1);
        assert_eq!(floor.data_dir, dir.0.display().to_string());
        let sum_us = floor.loopback_round_trip.p50_us + floor.verify_single.p50_us;
        assert_eq!(floor.floor_us(), sum_us);
        let capacity = floor.cores as f64 * 1e6 / floor.verify_batch_per_signature.p50_us;
        assert_eq!(floor.batch_capacity_per_s(), capacity);
        let entries: Vec<_> = std::fs::read_dir(&dir.0).unwrap().collect();
        assert!(entries.is_empty(), "the probe file is removed: {entries:?}");
    }

    #[test]
    fn the_probe_file_is_removed_when_dropped_on_any_way_out() {
        let dir = TempDir::new("floor-probe");
        let mut probe = ProbeFile::create(&dir.0).unwrap();
        let path = probe.path.clone();
        probe.file.write_all(b"record").unwrap();
        assert!(path.exists());
        // A second probe in the same directory gets a name of its own.
        let second = ProbeFile::create(&dir.0).unwrap();
        assert_ne!(second.path, path);
        // An early return by `?` drops it the same way.
        drop(probe);
        drop(second);
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
    }

    #[test]
    fn a_data_directory_that_cannot_exist_is_an_error_naming_it() {
        let dir = TempDir::new("floor-blocked");
        let file = dir.0.join("a-file");
        std::fs::write(&file, b"").unwrap();
        let options = FloorOptions { data_dir: file.join("data"), ..small(&dir.0) };
        let error = measure(&options).unwrap_err().to_string();
        assert!(error.starts_with(&format!("fdatasync in {}", file.display())), "{error}");
    }

    #[test]
    fn the_echo_answers_whole_requests_of_any_size_and_stops_when_the_client_closes() {
        for (request_bytes, answer_bytes) in [(1, 1), (420, 330), (100_000, 3), (3, 100_000)] {
            let options =
                FloorOptions { request_bytes, answer_bytes, samples: 3, ..FloorOptions::default() };
            let histogram = loopback_round_trips(&options, None, None).unwrap();
            assert_eq!(histogram.len(), 3);
        }
    }

    #[test]
    fn the_floor_round_trips_through_json() {
        let figures = |p50_us: f64| Percentiles {
            count: 10,
            p50_us,
            p90_us: p50_us + 1.0,
            p99_us: p50_us + 2.0,
            p999_us: p50_us + 3.0,
            max_us: p50_us + 4.0,
        };
        let floor = Floor {
            cores: 2,
            request_bytes: 420,
            answer_bytes: 330,
            loopback_round_trip: figures(30.5),
            loopback_cross_core: Some(figures(60.0)),
            verify_single: figures(40.25),
            batch_size: 64,
            verify_batch_per_signature: figures(20.0),
            journal_write_bytes: 256,
            fdatasync: figures(900.0),
            data_dir: "/var/lib/ringex".into(),
        };
        let json = serde_json::to_string_pretty(&floor).unwrap();
        assert_eq!(serde_json::from_str::<Floor>(&json).unwrap(), floor);
        assert_eq!(floor.floor_us(), 70.75);
        assert_eq!(floor.batch_capacity_per_s(), 100_000.0);
        let text = render(&floor);
        assert!(text.starts_with("ringex floor: 2 cores, data directory /var/lib/ringex\n"));
        assert!(text.contains("one ED25519 verification"), "{text}");
        assert!(text.contains("70.8µs"), "{text}");
        assert!(text.contains("100000 signatures/s on 2 cores"), "{text}");
    }

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        flags: FloorFlags,
    }

    fn parse(arguments: &[&str]) -> Result<FloorOptions, LoadgenError> {
        let command =
            Command::try_parse_from(std::iter::once("floor").chain(arguments.iter().copied()))
                .expect("clap accepts the arguments");
        command.flags.options()
    }

    #[test]
    fn the_flags_default_to_the_options_defaults_but_the_data_directory() {
        let defaults = parse(&[]).unwrap();
        assert_eq!(defaults, FloorOptions { data_dir: "./data".into(), ..FloorOptions::default() });
        let given = parse(&["--samples", "500", "--batch-size", "2", "--data-dir", "/x"]).unwrap();
        assert_eq!((given.samples, given.batch_size), (500, 2));
        assert_eq!(given.data_dir, PathBuf::from("/x"));
    }

    #[test]
    fn a_flag_out_of_range_is_one_line_naming_it() {
        let cases: &[(&[&str], &str)] = &[
            (&["--samples", "0"], "--samples must be in 100..=10000000, got 0"),
            (&["--fsync-samples", "0"], "--fsync-samples must be in 1..=100000, got 0"),
            (&["--request-bytes", "0"], "--request-bytes must be in 1..=1048576, got 0"),
            (&["--answer-bytes", "2000000"], "--answer-bytes must be in 1..=1048576"),
            (&["--batch-size", "1"], "--batch-size must be in 2..=64, got 1"),
            (&["--batch-size", "65"], "--batch-size must be in 2..=64, got 65"),
            (&["--journal-write-bytes", "0"], "--journal-write-bytes must be in 1..=1048576"),
        ];
        for (arguments, expected) in cases {
            let Err(LoadgenError::Usage(line)) = parse(arguments) else {
                panic!("{arguments:?} is refused as usage");
            };
            assert!(line.starts_with(expected), "{arguments:?}: {line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }
}
