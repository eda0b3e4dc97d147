//! The timed path of one keep-alive connection: a writer that sends each pre-signed request at
//! its scheduled time (pipelined, never waiting for answers), and a reader that takes the
//! answers in order and records each one's latency from its *scheduled* send time.
//!
//! The writer hands the reader each request's index and kind just before writing it, so the
//! reader can match the n-th answer to the n-th request. When the server stalls, the writer
//! keeps to its schedule until the socket's buffers are full and then blocks in `write`; every
//! request it sends late, and every answer that comes late, is late by the full stall in the
//! histograms. Nothing in the loop slows the offered load down to what the server manages.

use super::http::AnswerReader;
use super::schedule::Schedule;
use super::stats::{FLUSH_INTERVAL, Kind, Stats};
use super::workload::Planned;
use crossbeam::channel::{Receiver, Sender, TryRecvError};
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Bytes the writer gathers into one `write` when several requests are due at once.
const BATCH_BYTES_MAX: usize = 1 << 16;

/// How long a reader blocks in `read` before it looks at the clock and its flags.
const READ_POLL: Duration = Duration::from_millis(20);

/// The run's time origin: the instant request 0 of the schedule is due.
#[derive(Clone, Copy, Debug)]
pub struct RunClock {
    /// When the schedule starts.
    pub start: Instant,
}

impl RunClock {
    /// Nanoseconds from the start to `at` (0 before it).
    pub fn ns_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.start).as_nanos() as u64
    }

    /// The instant `ns` after the start.
    pub fn instant(&self, ns: u64) -> Instant {
        self.start + Duration::from_nanos(ns)
    }
}

/// What one connection's writer and reader share with the rest of the run.
pub struct Lane<'a> {
    /// The run's schedule.
    pub schedule: &'a Schedule,
    /// The run's time origin.
    pub clock: RunClock,
    /// The run's totals.
    pub stats: &'a Mutex<Stats>,
    /// After this instant the reader stops waiting for answers.
    pub drain_deadline: Instant,
}

/// Lets this thread's sleeps end within microseconds of their deadline rather than Linux's
/// default 50 µs slack: a writer that wakes late adds its lateness to every latency.
fn tighten_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and changes only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Sends `chunks` of pre-signed requests, each at its scheduled time. `connection` is this
/// connection's position among `connections` (for counting what a failure leaves unsent).
pub fn write_loop(
    mut stream: TcpStream,
    chunks: Receiver<Vec<Planned>>,
    sent: Sender<(u64, Kind)>,
    lane: &Lane,
    (connection, connections): (usize, usize),
) {
    tighten_timer_slack();
    let mut local = Stats::new();
    let mut batch: Vec<u8> = Vec::with_capacity(BATCH_BYTES_MAX);
    let mut last_index = None;
    'chunks: for chunk in chunks.iter() {
        for planned in chunk {
            let due = lane.clock.instant(lane.schedule.send_time_ns(planned.index));
            let now = Instant::now();
            if now < due {
                if flush(&mut stream, &mut batch, &mut local) {
                    break 'chunks;
                }
                std::thread::sleep(due - now);
            }
            if sent.send((planned.index, planned.kind)).is_err() {
                break 'chunks;
            }
            last_index = Some(planned.index);
            local.sent += u64::from(lane.schedule.is_recorded(planned.index));
            batch.extend_from_slice(&planned.bytes);
            if batch.len() >= BATCH_BYTES_MAX && flush(&mut stream, &mut batch, &mut local) {
                break 'chunks;
            }
        }
        // Nothing gathered waits while the signer prepares the next chunk.
        if flush(&mut stream, &mut batch, &mut local) {
            break;
        }
    }
    // A failed connection leaves the rest of its share unsent; dropping `chunks` stops its
    // signer.
    local.unsent = lane
        .schedule
        .indices_of(connection, connections)
        .filter(|index| last_index.is_none_or(|last| *index > last))
        .filter(|index| lane.schedule.is_recorded(*index))
        .count() as u64;
    lane.stats.lock().expect("stats lock").merge_from(&mut local);
}

/// Writes the gathered batch; true if the connection failed.
fn flush(stream: &mut TcpStream, batch: &mut Vec<u8>, local: &mut Stats) -> bool {
    if batch.is_empty() {
        return false;
    }
    let result = stream.write_all(batch);
    batch.clear();
    match result {
        Ok(()) => false,
        Err(error) => {
            local.errors.push(format!("writing: {error}"));
            true
        }
    }
}

/// Reads answers until every sent request is answered (the writer has finished) or the drain
/// deadline passes; then shuts the connection, which also ends a writer blocked on it.
pub fn read_loop(
    mut stream: TcpStream,
    sent: Receiver<(u64, Kind)>,
    writer_done: &AtomicBool,
    lane: &Lane,
) {
    let _ = stream.set_read_timeout(Some(READ_POLL));
    let mut reader = AnswerReader::new();
    let mut local = Stats::new();
    let mut last_flush = Instant::now();
    loop {
        match reader.fill(&mut stream) {
            Ok(0) => {
                local.errors.push("the server closed the connection".into());
                break;
            }
            Ok(_) => {
                let read_ns = lane.clock.ns_at(Instant::now());
                if let Err(error) = take_answers(&mut reader, &sent, read_ns, lane, &mut local) {
                    local.errors.push(error.to_string());
                    break;
                }
            }
            Err(error)
                if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(error) => {
                local.errors.push(format!("reading: {error}"));
                break;
            }
        }
        if last_flush.elapsed() >= FLUSH_INTERVAL {
            lane.stats.lock().expect("stats lock").merge_from(&mut local);
            last_flush = Instant::now();
        }
        let finished = writer_done.load(Ordering::Acquire) && sent.is_empty();
        if finished || Instant::now() >= lane.drain_deadline {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    // Whatever was sent and is still unanswered will not be: count it, never drop it.
    loop {
        match sent.try_recv() {
            Ok((index, _)) => local.unanswered += u64::from(lane.schedule.is_recorded(index)),
            Err(TryRecvError::Empty) if !writer_done.load(Ordering::Acquire) => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(_) => break,
        }
    }
    lane.stats.lock().expect("stats lock").merge_from(&mut local);
}

/// Records every whole answer in the reader's buffer, read at `read_ns`.
fn take_answers(
    reader: &mut AnswerReader,
    sent: &Receiver<(u64, Kind)>,
    read_ns: u64,
    lane: &Lane,
    local: &mut Stats,
) -> io::Result<()> {
    while let Some(answer) = reader.next()? {
        // The writer hands over a request before writing it, so its answer finds it here.
        let (index, kind) = sent.try_recv().map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, "an answer to a request never sent")
        })?;
        if !lane.schedule.is_recorded(index) {
            continue;
        }
        let reason = (answer.status != 200).then(|| answer.reason());
        local.record_answer(kind, lane.schedule.send_time_ns(index), read_ns, reason);
    }
    Ok(())
}
