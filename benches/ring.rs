//! One ring hop, 1 producer → 1 consumer on two pinned threads: ringex's ring against the
//! `disruptor` crate and `crossbeam::channel::bounded` in the same run, with the same settings
//! (1024 slots, busy-spin, a 64-byte payload written whole, a consumer that stores every value
//! into a shared sink), single and batched (64) publish; then the cross-core hop latency of our
//! ring (ping-pong, half the round trip, HdrHistogram).
//!
//! Two measurements: criterion's report for each contestant, then a "duel" that alternates short
//! runs of ringex and the disruptor and takes the median of the paired ratios, so load from other
//! processes on a shared machine hits both sides alike. The ratio printed last comes from the
//! duel.
//!
//! Run: `cargo bench --bench ring` (about 30 s after the build). The last line is
//! `ring_vs_disruptor: <ratio>`, our throughput over the disruptor's, the lower of the single
//! and batched ratios.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, Throughput, measurement::WallTime};
use crossbeam::channel::{Sender, TryRecvError, TrySendError};
use disruptor::{BusySpin, ProcessorSettings as _};
use ringex::ring::{Access, Producer, RingBuilder, WaitStrategy, pin_current_thread};

/// Slots in every ring and channel.
const SLOT_COUNT: usize = 1024;
/// Items published per iteration (criterion's and the duel's).
const ITEMS_PER_ITERATION: u64 = 1 << 16;
/// Items per batched publish.
const BATCH_COUNT: usize = 64;
/// Duel: rounds, and how long each contestant runs per round (after a warm-up), so both sides
/// are exposed to interference from other processes for the same time.
const DUEL_ROUNDS: usize = 9;
const DUEL_MEASURE: Duration = Duration::from_millis(200);
const DUEL_WARM_UP: Duration = Duration::from_millis(50);
/// Round trips measured by the latency ping-pong, after as many for warm-up.
const ROUND_TRIPS: u64 = 200_000;
/// The producer's core and the consumer's core.
const CORE_PRODUCER: usize = 0;
const CORE_CONSUMER: usize = 1;

/// The record on every ring: one cache line, written whole by the producer.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Payload {
    value: u64,
    rest: [u64; 7],
}

impl Payload {
    #[inline(always)]
    fn new(value: u64) -> Self {
        Payload { value, rest: [value; 7] }
    }
}

/// One contestant, set up with its consumer thread running; dropping it stops the thread.
trait Hop {
    /// Publishes `ITEMS_PER_ITERATION` values, `first_value` and up.
    fn publish_items(&mut self, first_value: u64);
    /// The value the consumer stored last.
    fn sink(&self) -> &AtomicU64;
}

/// Runs `iterations` iterations, each publishing then waiting for the consumer to drain.
/// `next_value` carries the value sequence across calls.
fn run_iterations(hop: &mut dyn Hop, next_value: &mut u64, iterations: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iterations {
        hop.publish_items(*next_value);
        *next_value += ITEMS_PER_ITERATION;
        while hop.sink().load(Ordering::Acquire) != *next_value - 1 {
            std::hint::spin_loop();
        }
    }
    start.elapsed()
}

fn items_per_s(items: u64, elapsed: Duration) -> f64 {
    items as f64 / elapsed.as_secs_f64()
}

/// Our ring; `batched` publishes up to `BATCH_COUNT` slots per claim and publish.
struct RingexHop {
    producer: Option<Producer<Payload>>,
    consumer_thread: Option<JoinHandle<()>>,
    sink: Arc<AtomicU64>,
    batched: bool,
}

impl RingexHop {
    fn start(batched: bool) -> Self {
        let mut builder = RingBuilder::new(SLOT_COUNT, WaitStrategy::BusySpin, Payload::default);
        let reader = builder.consumer(&[], Access::Read);
        let mut handles = builder.build();
        let mut reader = handles.consumer(reader);
        let sink = Arc::new(AtomicU64::new(0));
        let consumer_sink = Arc::clone(&sink);
        let consumer_thread = thread::spawn(move || {
            pin_current_thread(Some(CORE_CONSUMER));
            let mut next = 0;
            while let Some(available_end) = reader.wait_for(next) {
                for sequence in next..available_end {
                    consumer_sink.store(reader.slot(sequence).value, Ordering::Release);
                }
                reader.release_through(available_end - 1);
                next = available_end;
            }
        });
        let producer = Some(handles.producer());
        RingexHop { producer, consumer_thread: Some(consumer_thread), sink, batched }
    }
}

impl Hop for RingexHop {
    fn publish_items(&mut self, first_value: u64) {
        let producer = self.producer.as_mut().unwrap();
        let end_value = first_value + ITEMS_PER_ITERATION;
        if self.batched {
            let mut value = first_value;
            while value < end_value {
                let batch = producer.claim_batch(BATCH_COUNT.min((end_value - value) as usize));
                for sequence in batch.clone() {
                    *producer.slot_mut(sequence) = Payload::new(black_box(value));
                    value += 1;
                }
                producer.publish_through(batch.end - 1);
            }
        } else {
            for value in first_value..end_value {
                let sequence = producer.claim();
                *producer.slot_mut(sequence) = Payload::new(black_box(value));
                producer.publish(sequence);
            }
        }
    }

    fn sink(&self) -> &AtomicU64 {
        &self.sink
    }
}

impl Drop for RingexHop {
    fn drop(&mut self) {
        drop(self.producer.take()); // Closes the ring.
        self.consumer_thread.take().unwrap().join().unwrap();
    }
}

/// The `disruptor` crate, same settings; its managed consumer thread is pinned the same way.
struct DisruptorHop<P: disruptor::Producer<Payload>> {
    producer: P,
    sink: Arc<AtomicU64>,
    batched: bool,
}

fn disruptor_hop(batched: bool) -> DisruptorHop<impl disruptor::Producer<Payload>> {
    let sink = Arc::new(AtomicU64::new(0));
    let handler_sink = Arc::clone(&sink);
    let handler = move |payload: &Payload, _sequence: i64, _end_of_batch: bool| {
        handler_sink.store(payload.value, Ordering::Release);
    };
    // The disruptor refuses to pin to a core outside the building thread's affinity mask.
    unpin_current_thread();
    let producer = disruptor::build_single_producer(SLOT_COUNT, Payload::default, BusySpin)
        .pin_at_core(CORE_CONSUMER)
        .handle_events_with(handler)
        .build();
    pin_current_thread(Some(CORE_PRODUCER));
    DisruptorHop { producer, sink, batched }
}

impl<P: disruptor::Producer<Payload>> Hop for DisruptorHop<P> {
    fn publish_items(&mut self, first_value: u64) {
        let end_value = first_value + ITEMS_PER_ITERATION;
        if self.batched {
            let mut value = first_value;
            while value < end_value {
                let count = BATCH_COUNT.min((end_value - value) as usize);
                self.producer.batch_publish(count, |payloads| {
                    for payload in payloads {
                        *payload = Payload::new(black_box(value));
                        value += 1;
                    }
                });
            }
        } else {
            for value in first_value..end_value {
                self.producer.publish(|payload| *payload = Payload::new(black_box(value)));
            }
        }
    }

    fn sink(&self) -> &AtomicU64 {
        &self.sink
    }
}
// Dropping a disruptor producer stops and joins its consumer thread.

/// Lets the calling thread run on every online core again.
fn unpin_current_thread() {
    // SAFETY: `cpu_set_t` is plain data whose all-zero value is the empty set; CPU_SET writes
    // inside it, and sched_setaffinity(0, ..) only reads it, for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        // Not `available_parallelism`: it counts only the cores of the current mask.
        let cores = libc::sysconf(libc::_SC_NPROCESSORS_ONLN).max(1) as usize;
        for core in 0..cores {
            libc::CPU_SET(core, &mut set);
        }
        let result = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(result, 0, "sched_setaffinity failed");
    }
}

/// `crossbeam::channel::bounded`, busy-spinning on `try_send` / `try_recv` (no batch API).
struct CrossbeamHop {
    sender: Option<Sender<Payload>>,
    consumer_thread: Option<JoinHandle<()>>,
    sink: Arc<AtomicU64>,
}

impl CrossbeamHop {
    fn start() -> Self {
        let (sender, receiver) = crossbeam::channel::bounded::<Payload>(SLOT_COUNT);
        let sink = Arc::new(AtomicU64::new(0));
        let consumer_sink = Arc::clone(&sink);
        let consumer_thread = thread::spawn(move || {
            pin_current_thread(Some(CORE_CONSUMER));
            loop {
                match receiver.try_recv() {
                    Ok(payload) => consumer_sink.store(payload.value, Ordering::Release),
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Disconnected) => break,
                }
            }
        });
        CrossbeamHop { sender: Some(sender), consumer_thread: Some(consumer_thread), sink }
    }
}

impl Hop for CrossbeamHop {
    fn publish_items(&mut self, first_value: u64) {
        let sender = self.sender.as_ref().unwrap();
        for value in first_value..first_value + ITEMS_PER_ITERATION {
            let mut payload = Payload::new(black_box(value));
            loop {
                match sender.try_send(payload) {
                    Ok(()) => break,
                    Err(TrySendError::Full(back)) => payload = back,
                    Err(TrySendError::Disconnected(_)) => unreachable!(),
                }
            }
        }
    }

    fn sink(&self) -> &AtomicU64 {
        &self.sink
    }
}

impl Drop for CrossbeamHop {
    fn drop(&mut self) {
        drop(self.sender.take());
        self.consumer_thread.take().unwrap().join().unwrap();
    }
}

/// Criterion's measurement of one contestant.
fn criterion_hop(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, mut hop: impl Hop) {
    let mut next_value = 1;
    group.bench_function(name, |bencher| {
        bencher.iter_custom(|iterations| run_iterations(&mut hop, &mut next_value, iterations))
    });
}

/// Throughput of one fresh contestant over at least `DUEL_MEASURE`, after `DUEL_WARM_UP`.
fn duel_run(mut hop: impl Hop) -> f64 {
    let mut next_value = 1;
    let mut warm_up = Duration::ZERO;
    while warm_up < DUEL_WARM_UP {
        warm_up += run_iterations(&mut hop, &mut next_value, 1);
    }
    let (mut iterations, mut elapsed) = (0, Duration::ZERO);
    while elapsed < DUEL_MEASURE {
        elapsed += run_iterations(&mut hop, &mut next_value, 1);
        iterations += 1;
    }
    items_per_s(iterations * ITEMS_PER_ITERATION, elapsed)
}

/// Alternates ringex and disruptor runs; returns the median throughputs and the median of the
/// paired ratios.
fn duel(batched: bool) -> (f64, f64, f64) {
    let mut ours = Vec::with_capacity(DUEL_ROUNDS);
    let mut theirs = Vec::with_capacity(DUEL_ROUNDS);
    let mut ratios = Vec::with_capacity(DUEL_ROUNDS);
    for round in 0..DUEL_ROUNDS {
        // Alternate who goes first, so neither always runs right after a teardown.
        let (our, their) = if round % 2 == 0 {
            let our = duel_run(RingexHop::start(batched));
            (our, duel_run(disruptor_hop(batched)))
        } else {
            let their = duel_run(disruptor_hop(batched));
            (duel_run(RingexHop::start(batched)), their)
        };
        ours.push(our);
        theirs.push(their);
        ratios.push(our / their);
    }
    (median(&mut ours), median(&mut theirs), median(&mut ratios))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Half-round-trip latency of our ring across cores: this thread publishes on ring "ping", a
/// thread on the other core echoes on ring "pong". Histogram in nanoseconds.
fn ringex_ping_pong() -> hdrhistogram::Histogram<u64> {
    let ring = || {
        let mut builder = RingBuilder::new(SLOT_COUNT, WaitStrategy::BusySpin, Payload::default);
        let reader = builder.consumer(&[], Access::Read);
        let mut handles = builder.build();
        (handles.producer(), handles.consumer(reader))
    };
    let (mut ping_producer, mut ping_reader) = ring();
    let (mut pong_producer, mut pong_reader) = ring();
    let echo_thread = thread::spawn(move || {
        pin_current_thread(Some(CORE_CONSUMER));
        let mut next = 0;
        while let Some(available_end) = ping_reader.wait_for(next) {
            for sequence in next..available_end {
                let value = ping_reader.slot(sequence).value;
                let echo = pong_producer.claim();
                *pong_producer.slot_mut(echo) = Payload::new(value);
                pong_producer.publish(echo);
            }
            ping_reader.release_through(available_end - 1);
            next = available_end;
        }
    });
    let mut histogram = hdrhistogram::Histogram::<u64>::new(3).unwrap();
    for round in 0..2 * ROUND_TRIPS {
        let start = Instant::now();
        let sequence = ping_producer.claim();
        *ping_producer.slot_mut(sequence) = Payload::new(round);
        ping_producer.publish(sequence);
        let available_end = pong_reader.wait_for(round).unwrap();
        assert_eq!(available_end, round + 1);
        assert_eq!(pong_reader.slot(round).value, round);
        pong_reader.release_through(round);
        let round_trip_ns = start.elapsed().as_nanos() as u64;
        if round >= ROUND_TRIPS {
            histogram.record(round_trip_ns / 2).unwrap();
        }
    }
    drop(ping_producer);
    echo_thread.join().unwrap();
    histogram
}

fn main() {
    pin_current_thread(Some(CORE_PRODUCER));
    let mut criterion = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
        .configure_from_args();
    let mut group = criterion.benchmark_group("ring_hop");
    group.throughput(Throughput::Elements(ITEMS_PER_ITERATION));
    criterion_hop(&mut group, "ringex/single", RingexHop::start(false));
    criterion_hop(&mut group, "disruptor/single", disruptor_hop(false));
    criterion_hop(&mut group, "crossbeam/single", CrossbeamHop::start());
    criterion_hop(&mut group, "ringex/batch64", RingexHop::start(true));
    criterion_hop(&mut group, "disruptor/batch64", disruptor_hop(true));
    group.finish();
    criterion.final_summary();

    let (ours_single, theirs_single, ratio_single) = duel(false);
    let (ours_batch, theirs_batch, ratio_batch) = duel(true);
    let latency = ringex_ping_pong();

    println!();
    println!(
        "ring hop 1P1C, cores {CORE_PRODUCER}->{CORE_CONSUMER}, {SLOT_COUNT} slots, busy-spin, \
         64-byte payload; duel of {DUEL_ROUNDS} alternating rounds x {} ms each, medians:",
        DUEL_MEASURE.as_millis()
    );
    println!(
        "  single : ringex {:>6.1} M items/s, disruptor {:>6.1} M items/s, ratio {ratio_single:.2}",
        ours_single / 1e6,
        theirs_single / 1e6
    );
    println!(
        "  batch64: ringex {:>6.1} M items/s, disruptor {:>6.1} M items/s, ratio {ratio_batch:.2}",
        ours_batch / 1e6,
        theirs_batch / 1e6
    );
    println!(
        "ringex cross-core hop latency (half round trip, {ROUND_TRIPS} round trips, including \
         Instant::now): p50 {} ns, p99 {} ns, p99.9 {} ns",
        latency.value_at_quantile(0.50),
        latency.value_at_quantile(0.99),
        latency.value_at_quantile(0.999),
    );
    println!("ring_vs_disruptor: {:.2}", ratio_single.min(ratio_batch));
}
