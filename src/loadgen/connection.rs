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
    /// How long before each send time the writer stops sleeping and yields instead.
    pub spin: Duration,
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
                wait_until(due, lane.spin);
            }
            if sent.send((planned.index, planned.kind)).is_err() {
                break 'chunks;
            }
            last_index = Some(planned.index);
            if lane.schedule.is_recorded(planned.index) {
                local.sent += 1;
                local.sent_bytes += planned.bytes.len() as u64;
                let lag_ns = Instant::now().saturating_duration_since(due).as_nanos() as u64;
                local.send_lag_ns.saturating_record(lag_ns.max(1));
            }
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

/// Returns at `due` or just after: sleeps until `spin` before it, then yields in a loop. A
/// sleeping thread wakes tens of µs late on a busy machine, and that lateness is latency; the
/// loop buys it back with CPU, which on a small machine is the server's (`--spin-us`:
/// measured on 2 shared cores, 60 µs cut the send lag's p50 from 84 to 20 µs but left the
/// acknowledgement p50 where it was and raised its p99).
fn wait_until(due: Instant, spin: Duration) {
    let now = Instant::now();
    if due > now + spin {
        std::thread::sleep(due - now - spin);
    }
    while Instant::now() < due {
        std::thread::yield_now();
    }
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
    while let Some(answer) = reader.next_answer()? {
        // The writer hands over a request before writing it, so its answer finds it here.
        let (index, kind) = sent.try_recv().map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, "an answer to a request never sent")
        })?;
        if !lane.schedule.is_recorded(index) {
            continue;
        }
        let reason = (answer.status != 200).then(|| answer.reason());
        local.answered_bytes += answer.length_bytes as u64;
        local.record_answer(kind, lane.schedule.send_time_ns(index), read_ns, reason);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::schedule::Phase;
    use crate::loadgen::stats::Percentiles;
    use std::io::Read;
    use std::net::TcpListener;

    /// Requests the test offers: 1,000/s for half a second.
    const REQUESTS: u64 = 500;

    /// The request at which the server stalls: it reads and answers nothing for [`STALL`].
    const STALLED_AT: u64 = 100;

    const STALL: Duration = Duration::from_millis(200);

    /// Socket buffer sizes of the test's connection (the kernel doubles them): small enough
    /// that a stalled server's full buffers block the writer, as they would under load.
    const SOCKET_BUFFER_BYTES: libc::c_int = 8192;

    fn set_buffer(socket: &impl std::os::fd::AsRawFd, option: libc::c_int) {
        let size = SOCKET_BUFFER_BYTES;
        // SAFETY: a valid socket, a c_int option value of the size given.
        let result = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(result, 0);
    }

    /// A server that answers each request as it reads it, except that at one request it stops
    /// reading and answering for a while: what a pause in the engine looks like from outside.
    /// Returns when each request arrived, ns from `origin`.
    fn stalling_server(listener: TcpListener, origin: Instant) -> Vec<u64> {
        let (mut stream, _) = listener.accept().unwrap();
        let mut arrivals_ns = Vec::new();
        let (mut bytes, mut buffer) = (Vec::new(), [0u8; 4096]);
        while (arrivals_ns.len() as u64) < REQUESTS {
            let read = stream.read(&mut buffer).unwrap();
            assert!(read > 0);
            let now_ns = origin.elapsed().as_nanos() as u64;
            bytes.extend_from_slice(&buffer[..read]);
            while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                bytes.drain(..end + 4);
                if arrivals_ns.len() as u64 == STALLED_AT {
                    std::thread::sleep(STALL);
                }
                arrivals_ns.push(now_ns);
                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").unwrap();
            }
        }
        arrivals_ns
    }

    #[test]
    fn a_stalled_server_shows_as_latency_from_the_schedule_not_as_a_lower_send_rate() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        set_buffer(&listener, libc::SO_RCVBUF);
        let address = listener.local_addr().unwrap();
        let schedule = Schedule::new(&[Phase::steady("steady", 1000.0, 0.5)]);
        assert_eq!(schedule.count(), REQUESTS);
        let (chunks_in, chunks) = crossbeam::channel::unbounded();
        // About 1 KiB each, so the stall fills the socket buffers within a few dozen requests.
        let request =
            format!("GET /api/v1/ping HTTP/1.1\r\nHost: t\r\nX-Pad: {}\r\n\r\n", "p".repeat(1000));
        let planned = (0..REQUESTS).map(|index| Planned {
            index,
            kind: Kind::Limit,
            account: 0,
            bytes: request.clone().into_bytes(),
        });
        chunks_in.send(planned.collect()).unwrap();
        drop(chunks_in);
        let stats = Mutex::new(Stats::new());
        let clock = RunClock { start: Instant::now() + Duration::from_millis(50) };
        let lane = Lane {
            schedule: &schedule,
            clock,
            stats: &stats,
            drain_deadline: clock.instant(schedule.duration_ns()) + Duration::from_secs(10),
            spin: Duration::ZERO,
        };
        let writer_done = AtomicBool::new(false);
        let arrivals_ns = std::thread::scope(|scope| {
            let server = scope.spawn(|| stalling_server(listener, clock.start));
            let stream = std::net::TcpStream::connect(address).unwrap();
            set_buffer(&stream, libc::SO_SNDBUF);
            let (sent, answers) = crossbeam::channel::unbounded();
            let writer_stream = stream.try_clone().unwrap();
            let (lane, writer_done) = (&lane, &writer_done);
            scope.spawn(move || {
                write_loop(writer_stream, chunks, sent, lane, (0, 1));
                writer_done.store(true, Ordering::Release);
            });
            read_loop(stream, answers, writer_done, lane);
            server.join().unwrap()
        });
        let stats = stats.into_inner().unwrap();
        assert_eq!((stats.sent, stats.acknowledged, stats.unanswered), (REQUESTS, REQUESTS, 0));
        // The send rate did not drop to what the server managed: nothing was sent early, and
        // once the server read again the writer caught up at once, the last request reaching it
        // soon after its due time (a closed loop would still be 200 ms behind).
        for (index, arrival_ns) in arrivals_ns.iter().enumerate() {
            assert!(
                *arrival_ns + 1_000_000 >= schedule.send_time_ns(index as u64),
                "{index} early"
            );
        }
        let last_due_ns = schedule.send_time_ns(REQUESTS - 1);
        assert!(arrivals_ns[REQUESTS as usize - 1] <= last_due_ns + 60_000_000, "{arrivals_ns:?}");
        // Every request due during the stall waited for its end: about 200 of them, late by
        // 200 ms down to 0, also those the full buffers held in the writer. Timed from their
        // actual sends, the held ones would look fast; timed from answers, only one would.
        let figures = Percentiles::of(&stats.ack_ns);
        assert!(figures.max_us >= 190_000.0, "{figures:?}");
        let slow = stats.ack_ns.iter_recorded().filter(|v| v.value_iterated_to() >= 50_000_000);
        let slow: u64 = slow.map(|v| v.count_at_value()).sum();
        assert!((120..=220).contains(&slow), "{slow} answers over 50 ms: {figures:?}");
        assert!(figures.p50_us < 50_000.0, "{figures:?}");
    }
}
