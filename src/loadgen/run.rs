//! One timed run: connect, sign ahead, start the clock, send and read, drain, and total up.
//!
//! Threads, all scoped to the run: per connection a signer (drafts and signs its share in
//! chunks, [`CHUNK_REQUESTS`] at a time, into a bounded channel), a writer and a reader; a
//! follower per subscriber; the progress line. Before the clock starts every signer fills its
//! channel (up to [`PRESIGNED_MAX`] requests in all, the whole run when it fits), so the first
//! seconds never wait on signing; after that the signers keep ahead of the writers in the
//! background, off the timed path. Each request is stamped with its own scheduled wall time,
//! so a run of any length stays inside the signature window.

use super::connection::{self, Lane, RunClock};
use super::report::{self, StepResult};
use super::schedule::{Phase, Schedule};
use super::stats::Stats;
use super::subscriber::{Follow, Subscriber};
use super::workload::{self, PlanContext, Planned, Workload};
use super::{LoadgenError, Options, Setup, http, setup};
use crossbeam::channel::{Receiver, bounded};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests per signed chunk.
pub const CHUNK_REQUESTS: usize = 1024;

/// Requests signed before the clock starts, over all connections (about 450 bytes each: 118
/// MB at most). A run with more signs the rest while it runs, and on a small machine that
/// signing takes CPU from the server it measures (the summary says so): 20 s at 13,000/s fits.
pub const PRESIGNED_MAX: usize = 1 << 18;

/// Accounts followed by `account.orderUpdate` subscribers at most (event latency is sampled
/// from their orders).
const ORDER_SUBSCRIBERS_MAX: usize = 64;

/// How long the subscriptions are given to take effect before the clock starts (the server
/// does not acknowledge a SUBSCRIBE).
const SUBSCRIBE_SETTLE: Duration = Duration::from_millis(300);

/// How long subscribers keep reading after the last answer, for the last events.
const EVENT_GRACE: Duration = Duration::from_millis(300);

/// Runs `phases` once against the server; clientIds start after `client_id_base`.
pub fn run_step(
    options: &Options,
    setup: &Setup,
    phases: &[Phase],
    client_id_base: u32,
) -> Result<StepResult, LoadgenError> {
    let schedule = Schedule::new(phases);
    if u64::from(client_id_base) + schedule.count() >= u64::from(u32::MAX) {
        return Err(LoadgenError::Usage(
            "--rate: the run has more requests than clientIds (2^32)".into(),
        ));
    }
    let connections = options.connections;
    let streams = (0..connections)
        .map(|_| http::connect(&options.target))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| LoadgenError::Unreachable(format!("{}: {error}", options.target)))?;
    let subscribers = subscribe(options, setup)?;
    // Sign ahead: the clock starts once the channels are full, at the estimated instant.
    let capacity = (PRESIGNED_MAX / (connections * CHUNK_REQUESTS)).max(2);
    let presigned = (capacity * CHUNK_REQUESTS * connections).min(schedule.count() as usize);
    let lead = signing_estimate(setup, presigned, connections);
    let planned_start = Instant::now() + lead;
    let context = PlanContext {
        accounts: setup.accounts.clone(),
        host: options.target.clone(),
        schedule: schedule.clone(),
        wall_start_ms: setup::wall_ms() + lead.as_millis() as u64,
        window_ms: options.window_ms,
    };
    let stats = Mutex::new(Stats::new());
    let (offered, offered_s) = schedule.recorded_load();
    let recorded_start_ns = first_recorded_ns(&schedule);
    let signed_all: Vec<AtomicBool> = (0..connections).map(|_| AtomicBool::new(false)).collect();
    std::thread::scope(|scope| {
        let receivers: Vec<_> = signed_all
            .iter()
            .enumerate()
            .map(|(connection, done)| {
                let signer =
                    Signer { options, setup, context: &context, connection, client_id_base };
                signer.spawn(scope, capacity, done)
            })
            .collect();
        let clock = wait_for_presigned(&receivers, &signed_all, planned_start);
        let timed = Timed { options, schedule: &schedule, clock, stats: &stats, client_id_base };
        timed.run(streams, receivers, subscribers);
    });
    let stats = stats.into_inner().expect("stats lock");
    Ok(StepResult::new(stats, offered, offered_s, recorded_start_ns))
}

/// What one connection's signer thread needs.
struct Signer<'a> {
    options: &'a Options,
    setup: &'a Setup,
    context: &'a PlanContext,
    connection: usize,
    client_id_base: u32,
}

impl<'a> Signer<'a> {
    /// Starts the thread that drafts and signs the connection's share of the run, chunk by
    /// chunk, into a channel of `capacity` chunks; `done` is set once it has signed it all.
    fn spawn<'scope>(
        self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        capacity: usize,
        done: &'scope AtomicBool,
    ) -> Receiver<Vec<Planned>>
    where
        'a: 'scope,
    {
        let (sender, receiver) = bounded::<Vec<Planned>>(capacity);
        let connections = self.options.connections;
        let accounts = workload::accounts_of(self.connection, connections, self.options.accounts);
        let mut workload = Workload::new(
            self.options.seed,
            self.connection,
            accounts,
            self.setup.markets.clone(),
            self.options.mix,
            self.client_id_base,
        );
        if self.options.accounts < connections {
            workload.share_accounts(self.connection, connections);
        }
        let (context, connection) = (self.context, self.connection);
        scope.spawn(move || {
            let indices: Vec<u64> = context.schedule.indices_of(connection, connections).collect();
            for chunk in indices.chunks(CHUNK_REQUESTS) {
                if sender.send(workload.plan(chunk.iter().copied(), context)).is_err() {
                    break;
                }
            }
            done.store(true, Ordering::Release);
        });
        receiver
    }
}

/// Nanoseconds from the start to the first recorded request (0 if none is recorded).
fn first_recorded_ns(schedule: &Schedule) -> u64 {
    let mut start_ns = 0;
    for phase in schedule.phases() {
        if phase.recorded {
            return start_ns;
        }
        start_ns += (phase.duration_s * 1e9) as u64;
    }
    0
}

/// How long signing `count` requests on `connections` threads should take, measured on a few,
/// with room to spare (the clock never starts before the stamps, which would be in the future).
fn signing_estimate(setup: &Setup, count: usize, connections: usize) -> Duration {
    let sample = 32;
    let message = "x".repeat(240);
    let begin = Instant::now();
    for _ in 0..sample {
        std::hint::black_box(setup.accounts[0].sign_base64(&message));
    }
    let per_request = begin.elapsed() / sample;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let parallel = connections.min(cores).max(1) as u32;
    per_request * (count as u32) * 3 / 2 / parallel + Duration::from_millis(100)
}

/// Waits until every signer has filled its channel or signed its whole share, then until
/// `planned_start`; returns the run's clock.
fn wait_for_presigned(
    receivers: &[Receiver<Vec<Planned>>],
    signed_all: &[AtomicBool],
    planned_start: Instant,
) -> RunClock {
    let ready = || {
        receivers
            .iter()
            .zip(signed_all)
            .all(|(receiver, done)| receiver.is_full() || done.load(Ordering::Acquire))
    };
    while !ready() {
        std::thread::sleep(Duration::from_millis(2));
    }
    let now = Instant::now();
    if now < planned_start {
        std::thread::sleep(planned_start - now);
    }
    RunClock { start: Instant::now().max(planned_start) }
}

/// Connects the subscribers of `--subscribe`: order updates of the first accounts, depth of
/// every market.
fn subscribe(options: &Options, setup: &Setup) -> Result<Vec<Subscriber>, LoadgenError> {
    if !options.subscribe {
        return Ok(Vec::new());
    }
    let mut follows: Vec<Follow> =
        setup.accounts.iter().take(ORDER_SUBSCRIBERS_MAX).map(Follow::Orders).collect();
    follows.extend(setup.markets.iter().map(|market| Follow::Market(&market.symbol)));
    let subscribers = follows
        .into_iter()
        .map(|follow| Subscriber::connect(&options.target, follow))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| LoadgenError::Failed(format!("subscribing: {error}")))?;
    std::thread::sleep(SUBSCRIBE_SETTLE);
    Ok(subscribers)
}

/// The timed part of a run.
struct Timed<'a> {
    options: &'a Options,
    schedule: &'a Schedule,
    clock: RunClock,
    stats: &'a Mutex<Stats>,
    client_id_base: u32,
}

impl Timed<'_> {
    fn run(
        &self,
        streams: Vec<std::net::TcpStream>,
        receivers: Vec<Receiver<Vec<Planned>>>,
        subscribers: Vec<Subscriber>,
    ) {
        let duration_ns = self.schedule.duration_ns();
        let drain = Duration::from_nanos(duration_ns / 2).max(Duration::from_secs(5));
        let lane = Lane {
            schedule: self.schedule,
            clock: self.clock,
            stats: self.stats,
            drain_deadline: self.clock.instant(duration_ns) + drain,
            spin: Duration::from_micros(self.options.spin_us),
        };
        let stop = AtomicBool::new(false);
        let progress_done = AtomicBool::new(false);
        std::thread::scope(|inner| {
            for subscriber in subscribers {
                let (lane, stop) = (&lane, &stop);
                inner.spawn(move || {
                    subscriber.follow(
                        lane.schedule,
                        lane.clock,
                        self.client_id_base,
                        lane.stats,
                        stop,
                    )
                });
            }
            if self.options.progress {
                let title = format!("{} {}", self.options.label, self.phase_names());
                let (stats, done) = (self.stats, &progress_done);
                let total_s = duration_ns as f64 / 1e9;
                inner.spawn(move || report::show_progress(&title, total_s, stats, done));
            }
            let readers: Vec<_> = streams
                .into_iter()
                .zip(receivers)
                .enumerate()
                .map(|(connection, (stream, chunks))| {
                    self.spawn_connection(inner, &lane, stream, chunks, connection)
                })
                .collect();
            for reader in readers {
                reader.join().expect("a reader does not panic");
            }
            std::thread::sleep(EVENT_GRACE);
            stop.store(true, Ordering::Release);
            progress_done.store(true, Ordering::Release);
        });
    }

    fn spawn_connection<'inner, 'env>(
        &self,
        inner: &'inner std::thread::Scope<'inner, 'env>,
        lane: &'inner Lane<'inner>,
        stream: std::net::TcpStream,
        chunks: Receiver<Vec<Planned>>,
        connection: usize,
    ) -> std::thread::ScopedJoinHandle<'inner, ()> {
        let (sent, answers) = crossbeam::channel::unbounded();
        let writer_stream = stream.try_clone().expect("a socket handle can be cloned");
        let connections = self.options.connections;
        let writer_done = Arc::new(AtomicBool::new(false));
        let done = Arc::clone(&writer_done);
        inner.spawn(move || {
            connection::write_loop(writer_stream, chunks, sent, lane, (connection, connections));
            done.store(true, Ordering::Release);
        });
        inner.spawn(move || connection::read_loop(stream, answers, &writer_done, lane))
    }

    fn phase_names(&self) -> String {
        self.schedule.phases().map(|phase| phase.name.as_str()).collect::<Vec<_>>().join("→")
    }
}
