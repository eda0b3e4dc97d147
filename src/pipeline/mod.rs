//! Wires every ring and thread, top to bottom, in pipeline order.
//!
//! ```text
//! net-in ─A─► verify ×N ─A─► sequencer ─B─► matcher ─B─► journal
//!                                                  └─C─► net-out (answers held to the durable sequence)
//! ```
//!
//! [`Server::start`] first rebuilds the state from the journal (the same matcher code replays every
//! record; net-out's view and the replay cache are rebuilt from the same pass), then builds the
//! three rings, then starts the stage threads in the chosen [`Layout`] (`layout.rs`: a thread per
//! stage, or verify, sequencer and matcher fused onto one, `fused.rs`), pinned when `--pin`
//! names cores.
//! [`Server::stop`] asks net-in to stop: it publishes `Shutdown` and closes ring A, and each stage
//! drains its input, passes the marker on and exits; the journal syncs last.

use crate::bad_signatures::BadSignatureBoard;
use crate::clock::StageClocks;
use crate::config::Config;
use crate::connections::ConnectionOptions;
use crate::connections::{ConnectionTable, Handback};
use crate::constants::{CLOCK_SKEW_AHEAD_MAX_MS, RING_A_SLOTS, RING_B_SLOTS, RING_C_SLOTS};
use crate::durability::{Durability, DurabilityGate, Durable};
use crate::journal::{JournalWriter, WriterOptions};
use crate::matcher::Matcher;
use crate::matcher::stage::MatcherStage;
use crate::metrics::Metrics;
use crate::net::stage::{NET_IN_LISTENER, NET_IN_NESTED_POLL, NET_IN_WAKER, NetIn, NetInOptions};
use crate::netout::stage::{NET_OUT_WAKER, NetOut};
use crate::netout::view::{View, ViewLimits};
use crate::overflow::OverflowPool;
use crate::records::{OutputSlot, RequestSlot, SequencedSlot};
use crate::ring::{
    Access, BatchPublisher, Consumer, Notify, Producer, RingBuilder, WaitMode, WaitStrategy,
    pin_current_thread,
};
use crate::sequencer::stage::SequencerStage;
use crate::sequencer::{Sequencer, SequencerLimits};
use crate::snapshot::{self, Engine, FollowerOptions, RebuildOptions, Rebuilt, SnapshotControl};
use crate::types::AccountKey;
use crate::verify::Verifier;
use crate::verify::budget::BatchBudget;
use crate::verify::stage::VerifyStage;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

mod fused;
pub mod layout;

use fused::FusedCore;

pub use layout::{Layout, LayoutMode};

/// Everything `serve` is told.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Journal directory.
    pub data_dir: PathBuf,
    /// Assets, markets, limits.
    pub config: Arc<Config>,
    /// Verify threads (`None`: what the layout leaves the cores for).
    pub verify_threads: Option<usize>,
    /// Which stages share a thread.
    pub layout: LayoutMode,
    /// How stages wait.
    pub wait: WaitMode,
    /// Cores to pin the stage threads to, in pipeline order (empty: no pinning).
    pub pin: Vec<usize>,
    /// When answers may go out.
    pub durability: Durability,
    /// The administrator's public key.
    pub admin_key: AccountKey,
    /// net-in's tunables.
    pub net_in: NetInOptions,
    /// The sequencer's tables.
    pub sequencer: SequencerLimits,
    /// net-out's history sizes.
    pub view: ViewLimits,
    /// Journal segment size.
    pub segment_bytes_max: u64,
    /// The clocks that judge request windows: [`StageClocks::REAL`] in `serve`.
    pub clocks: StageClocks,
    /// Back-pressure bounds and WebSocket timers of every connection.
    pub connection: ConnectionOptions,
}

/// Why the server did not start.
#[derive(Debug)]
pub enum StartError {
    /// The journal could not be recovered (corruption is named with segment and offset).
    Journal(String),
    /// The listening socket or another resource could not be set up.
    Io(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Journal(message) => write!(f, "journal: {message}"),
            StartError::Io(message) => write!(f, "{message}"),
        }
    }
}

/// What replaying a journal rebuilt.
pub struct RecoveredState {
    /// The engine.
    pub matcher: Matcher,
    /// net-out's view.
    pub view: View,
    /// The sequencer, with its replay cache.
    pub sequencer: Sequencer,
    /// Records replayed (after the snapshot, when one was loaded).
    pub records: u64,
    /// The journal's last record: the state is its records `1..=last_record`.
    pub last_record: u64,
    /// The snapshot start-up loaded, if any.
    pub snapshot: Option<PathBuf>,
    /// The journal, ready to continue (absent with `--durability none`).
    pub writer: Option<JournalWriter>,
    /// What recovery cut off a torn tail, to report.
    pub tail_cut: Option<String>,
    /// A copy of the state for the snapshot thread (absent with `--durability none`).
    pub follower: Option<Engine>,
}

/// Rebuilds the engine, view and sequencer from the data directory (creating it if needed): the
/// newest usable snapshot and the journal after it (see [`snapshot::rebuild`]). With
/// `durability == None` nothing is read or written.
pub fn recover(options: &ServerOptions) -> Result<RecoveredState, StartError> {
    rebuild_state(options, false, true)
}

/// [`recover`] without the snapshot thread's copy of the state (`ringex replay`, tests), and
/// with `from_scratch` from the whole journal, whatever snapshots there are
/// (`ringex replay --from-scratch`).
pub fn recover_with(
    options: &ServerOptions,
    from_scratch: bool,
) -> Result<RecoveredState, StartError> {
    rebuild_state(options, from_scratch, false)
}

/// What [`recover`] and [`recover_with`] share; `follower`: also copy the state for the
/// snapshot thread.
///
/// Journal records are numbered by the journal itself; each holds one applied command with its
/// global sequence number, which must increase from record to record.
fn rebuild_state(
    options: &ServerOptions,
    from_scratch: bool,
    follower: bool,
) -> Result<RecoveredState, StartError> {
    // The known-key set is as large as the matcher's account table.
    let accounts_max = options.config.limits.accounts_max as usize;
    let limits = SequencerLimits { accounts_max, ..options.sequencer };
    if options.durability == Durability::None {
        let Engine { matcher, view, sequencer, .. } =
            Engine::new(options.config.clone(), options.view, limits);
        return Ok(RecoveredState {
            matcher,
            view,
            sequencer,
            records: 0,
            last_record: 0,
            snapshot: None,
            writer: None,
            tail_cut: None,
            follower: None,
        });
    }
    std::fs::create_dir_all(&options.data_dir)
        .map_err(|error| StartError::Io(format!("{}: {error}", options.data_dir.display())))?;
    // The sequencer's clock: it judges the rebuilt replay cache and the restart cutoff.
    let now_ms = (options.clocks.sequencer_us)() / 1000;
    let rebuilt = snapshot::rebuild(&RebuildOptions {
        dir: &options.data_dir,
        config: &options.config,
        view: options.view,
        sequencer: limits,
        now_ms,
        from_scratch,
        through: None,
    })
    .map_err(|error| StartError::Journal(error.to_string()))?;
    let Rebuilt { engine, recovered, snapshot, replayed } = rebuilt;
    let follower = follower.then(|| engine.duplicate(limits));
    let last_record = engine.base.record.0;
    let Engine { matcher, view, mut sequencer, last_time_us, .. } = engine;
    sequencer.continue_after(matcher.last_sequence(), last_time_us);
    if !recovered.segments.is_empty() {
        // An earlier run wrote here: what it rejected is not in the journal (see
        // `Sequencer::refuse_signed_before`). It may have seen requests stamped up to the skew
        // verify allows ahead of its clock, and its clock may have been ahead of ours.
        let last_clock_ms = now_ms.max(last_time_us / 1000);
        sequencer.refuse_signed_before(last_clock_ms + CLOCK_SKEW_AHEAD_MAX_MS + 1);
    }
    let tail_cut = recovered.tail_cut.as_ref().map(|cut| format!("{cut:?}"));
    let writer_options =
        WriterOptions { segment_size_max: options.segment_bytes_max, ..WriterOptions::default() };
    let writer = JournalWriter::resume(recovered, writer_options)
        .map_err(|error| StartError::Journal(error.to_string()))?;
    Ok(RecoveredState {
        matcher,
        view,
        sequencer,
        records: replayed,
        last_record,
        snapshot,
        writer: Some(writer),
        tail_cut,
        follower,
    })
}

/// What the middle of the pipeline needs besides the recovered state.
pub struct CoreOptions {
    /// Assets, markets, limits.
    pub config: Arc<Config>,
    /// Verify threads (in `fused`, the fused thread is the first).
    pub verify_threads: usize,
    /// Which stages share a thread.
    pub layout: Layout,
    /// How every stage waits.
    pub wait: WaitStrategy,
    /// When answers may go out.
    pub durability: Durability,
    /// The administrator's public key.
    pub admin_key: AccountKey,
    /// Benchmarks and tests only: verify parses but trusts signatures (never set by `serve`).
    pub trust_signatures: bool,
    /// The clocks of verify and the sequencer: [`StageClocks::REAL`] in the server, a fixed
    /// engine clock in determinism tests, chosen instants in window tests.
    pub clocks: StageClocks,
}

/// The middle of the pipeline — verify ×N, sequencer, journal, matcher — running on its threads,
/// with ring A's producer and ring C's consumer handed to whoever plays net-in and net-out (the
/// network stages in the server; a producer and a consumer in tests and benchmarks).
pub struct Core {
    /// Ring A's producer (net-in's end).
    pub ring_a: Producer<RequestSlot>,
    /// Ring C's consumer (net-out's end).
    pub ring_c: Consumer<OutputSlot>,
    /// The journal's durable sequence (absent with `--durability none`).
    pub durable: Option<Arc<Durable>>,
    /// Buffers for requests too large for a ring A slot.
    pub overflow: Arc<OverflowPool>,
    /// What the stages measure (the sequencer and the journal write theirs; net-in and net-out
    /// get it to write and render theirs).
    pub metrics: Arc<Metrics>,
    /// How many signatures a verify thread checks before publishing their verdicts.
    pub verify_budget: BatchBudget,
    /// Bad signatures per client IP (`[rate_limits] bad_signatures_per_ip_max`): verify counts
    /// them, net-in refuses their sources.
    pub bad_signatures: Arc<BadSignatureBoard>,
    /// The stage threads.
    pub threads: CoreThreads,
    /// In the server's `fused` layout: the fused stages and their core, for the thread that
    /// also runs net-out.
    fused: Option<(FusedCore, Option<usize>)>,
}

/// A waker for rings whose consumers never sleep outside the ring.
struct NoNotify;

impl Notify for NoNotify {
    fn notify(&self) {}
}

impl Core {
    /// Builds rings A, B and C and starts the verify, sequencer, journal and matcher threads on
    /// `recovered` state. `ring_c_notify` wakes ring C's consumer when it sleeps outside the ring
    /// (net-out in epoll); `pin` hands out cores in pipeline order.
    pub fn start(
        options: CoreOptions,
        recovered: RecoveredState,
        ring_c_notify: Option<Arc<dyn Notify>>,
        pin: impl FnMut() -> Option<usize>,
    ) -> Result<(Core, View), StartError> {
        Core::build(options, recovered, ring_c_notify, pin, false)
    }

    /// As [`Core::start`]; with `network_fused` in the `fused` and `single` layouts the fused
    /// thread is left to the caller (`Core::fused`), to run with net-out (and net-in), whose
    /// waker (`ring_c_notify`) then also wakes it for ring A.
    fn build(
        options: CoreOptions,
        recovered: RecoveredState,
        ring_c_notify: Option<Arc<dyn Notify>>,
        mut pin: impl FnMut() -> Option<usize>,
        network_fused: bool,
    ) -> Result<(Core, View), StartError> {
        let fused_here = options.layout != Layout::Split;
        let network_fused = network_fused && fused_here;
        let RecoveredState { matcher: engine, view, sequencer, writer, .. } = recovered;
        let wait = options.wait;
        let verify_threads = options.verify_threads.max(1);
        let overflow = Arc::new(OverflowPool::default());

        // 1. Ring A: net-in → verify ×N (modulo, writing verdicts) → sequencer.
        let mut ring_a = RingBuilder::new(RING_A_SLOTS, wait, RequestSlot::empty);
        let verifier_ids = ring_a.modulo_consumers(&[], verify_threads, Access::Write);
        let sequencer_id = ring_a.consumer(&verifier_ids, Access::Read);
        if network_fused {
            let notify = ring_c_notify.clone().expect("net-out's waker");
            ring_a.notify_with(verifier_ids[0], notify);
        }
        let mut ring_a = ring_a.build();

        // 2. Ring B: sequencer → matcher (marks applied commands) → journal.
        let mut ring_b = RingBuilder::new(RING_B_SLOTS, wait, SequencedSlot::empty);
        let matcher_id = ring_b.consumer(&[], Access::Write);
        let journal_id = writer.is_some().then(|| ring_b.consumer(&[matcher_id], Access::Read));
        let mut ring_b = ring_b.build();

        // 3. Ring C: matcher → net-out.
        let mut ring_c = RingBuilder::new(RING_C_SLOTS, wait, OutputSlot::empty);
        let net_out_id = ring_c.consumer(&[], Access::Read);
        let notify: Arc<dyn Notify> = match ring_c_notify {
            Some(notify) => {
                ring_c.notify_with(net_out_id, notify.clone());
                notify
            }
            None => Arc::new(NoNotify),
        };
        let mut ring_c = ring_c.build();
        let durable = writer.as_ref().map(|writer| {
            let record = writer.durable_sequence();
            Arc::new(Durable::new(engine.last_sequence(), record, notify))
        });
        let rings = vec![("a", ring_a.level()), ("b", ring_b.level()), ("c", ring_c.level())];
        // How many signatures a verify thread checks before publishing (measured once, here).
        let verify_budget = if options.trust_signatures {
            BatchBudget::unbounded()
        } else {
            let budget_us = options.config.server.verify_batch_budget_us;
            BatchBudget::calibrate((budget_us > 0).then_some(u64::from(budget_us)))
        };
        let info = vec![
            ("verify_batch_max", verify_budget.batch_max.to_string()),
            ("version", env!("CARGO_PKG_VERSION").to_string()),
            ("durability", options.durability.name().to_string()),
            ("verify_threads", verify_threads.to_string()),
            ("wait", format!("{wait:?}").to_lowercase()),
            ("layout", options.layout.name().to_string()),
        ];
        let metrics = Arc::new(Metrics::new(rings).with_info(info));

        let rates = options.config.rate_limits;
        let bad_signatures = Arc::new(BadSignatureBoard::new(
            rates.bad_signatures_per_ip_max,
            rates.bad_signature_window_s,
        ));
        let mut threads = Vec::new();
        let new_verifier = |id| {
            let mut verifier = Verifier::new(options.config.clone(), options.admin_key)
                .counting_bad_signatures(bad_signatures.clone());
            if options.trust_signatures {
                verifier = verifier.trusting_signatures();
            }
            let clock = options.clocks.verify_us;
            VerifyStage::new(ring_a.consumer(id), verifier, overflow.clone(), clock, verify_budget)
        };
        let mut verifiers: Vec<VerifyStage> = verifier_ids.into_iter().map(new_verifier).collect();
        // Unless split, the first verifier runs on the fused thread, the others on their own.
        let fused_verifier = fused_here.then(|| verifiers.remove(0));
        let sequencer = SequencerStage::new(
            ring_a.consumer(sequencer_id),
            BatchPublisher::new(ring_b.producer()),
            sequencer,
            options.clocks.sequencer_us,
            metrics.clone(),
        );
        let matcher_stage = MatcherStage::new(
            ring_b.consumer(matcher_id),
            BatchPublisher::new(ring_c.producer()),
            engine,
        );

        // 4. The stage threads, in pipeline order (the order `--pin` hands out cores).
        let (mut matcher, mut fused) = (None, None);
        match fused_verifier {
            Some(verify) => {
                let core = FusedCore::new(verify, sequencer, matcher_stage);
                if network_fused {
                    fused = Some((core, pin()));
                } else {
                    matcher = Some(spawn_stage("fused", pin(), move || core.run())?);
                }
                for (index, verify) in verifiers.into_iter().enumerate() {
                    let name = format!("verify-helper-{index}");
                    threads.push(spawn_stage(&name, pin(), move || verify.run())?);
                }
            }
            None => {
                for (index, verify) in verifiers.into_iter().enumerate() {
                    let name = format!("verify-{index}");
                    threads.push(spawn_stage(&name, pin(), move || verify.run())?);
                }
                threads.push(spawn_stage("sequencer", pin(), move || sequencer.run())?);
                matcher = Some(spawn_stage("matcher", pin(), move || matcher_stage.run())?);
            }
        }
        if let (Some(id), Some(writer), Some(durable)) = (journal_id, writer, durable.clone()) {
            let input = ring_b.consumer(id);
            let durability = options.durability;
            let metrics = metrics.clone();
            let work =
                move || crate::journal::stage::run(input, writer, durable, durability, metrics);
            threads.push(spawn_stage("journal", pin(), work)?);
        }

        let core = Core {
            ring_a: ring_a.producer(),
            ring_c: ring_c.consumer(net_out_id),
            durable,
            overflow,
            metrics,
            threads: CoreThreads { threads, matcher },
            verify_budget,
            bad_signatures,
            fused,
        };
        Ok((core, view))
    }
}

/// The join handles of a [`Core`]'s threads.
pub struct CoreThreads {
    threads: Vec<JoinHandle<()>>,
    /// The thread that returns the engine (the matcher's or the fused one).
    matcher: Option<JoinHandle<Matcher>>,
}

impl CoreThreads {
    /// Joins them (after ring A's producer was dropped and ring C drained); returns the engine
    /// as it stopped.
    pub fn join(self) -> Result<Matcher, String> {
        for handle in self.threads {
            handle.join().map_err(|_| "a pipeline thread panicked".to_string())?;
        }
        let matcher = self.matcher.ok_or("the matcher never started")?;
        matcher.join().map_err(|_| "the matcher panicked".to_string())
    }
}

/// The environment variable naming a stage thread (`single`, `net-in`, `journal`, …) that
/// panics as it starts: the test-only hook with which `tests/cli.rs` shows that a panicking
/// stage ends the process (`serve`'s panic hook). Read once per stage thread, at its start.
pub const INJECT_PANIC_ENV: &str = "RINGEX_INJECT_PANIC";

/// Panics if [`INJECT_PANIC_ENV`] names this thread.
fn inject_panic_if_asked() {
    let name = std::thread::current().name().map(str::to_owned);
    if name.is_some() && std::env::var(INJECT_PANIC_ENV).ok() == name {
        panic!("injected by {INJECT_PANIC_ENV}");
    }
}

/// Starts one stage's thread: named, pinned to `core` if given, its heap allocations counted.
fn spawn_stage<T: Send + 'static>(
    name: &str,
    core: Option<usize>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, StartError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            pin_current_thread(core);
            crate::alloc::count_this_thread();
            inject_panic_if_asked();
            work()
        })
        .map_err(|error| StartError::Io(format!("spawn {name}: {error}")))
}

/// How the pipeline runs on this machine: `options`' choices, `auto` resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Which stages share a thread.
    pub layout: Layout,
    /// Verify threads (in `fused`, the fused thread is the first).
    pub verify_threads: usize,
    /// How every stage waits.
    pub wait: WaitStrategy,
    /// The cores the threads may run on.
    pub cores: usize,
}

impl Placement {
    /// Resolves `options` against the cores online (or pinned).
    pub fn of(options: &ServerOptions) -> Placement {
        let online = std::thread::available_parallelism().map_or(1, usize::from);
        let cores = cores_available(&options.pin, online);
        let layout = options.layout.resolve(cores);
        let verify_threads =
            options.verify_threads.unwrap_or_else(|| layout.verify_threads_default(cores));
        // A fused thread sleeps in epoll between requests: auto busy-spins only a split
        // pipeline with a core per thread.
        let wait = match (options.wait, layout) {
            (WaitMode::Auto, Layout::Fused | Layout::Single) => WaitStrategy::Backoff,
            (mode, _) => mode.resolve(layout.threads(verify_threads), cores),
        };
        Placement { layout, verify_threads, wait, cores }
    }

    /// One line for the start-up log.
    pub fn describe(&self) -> String {
        let wait = format!("{:?}", self.wait).to_lowercase();
        let layout = self.layout.describe(self.verify_threads);
        format!("{layout}; wait {wait}; {} core(s)", self.cores)
    }
}

/// The cores the pipeline's threads may run on: every online core, or, when pinned, the distinct
/// cores named that exist (`--pin 0-7` on two cores is two cores, not eight).
fn cores_available(pin: &[usize], online: usize) -> usize {
    if pin.is_empty() {
        return online;
    }
    let mut named: Vec<usize> = pin.iter().copied().filter(|&core| core < online).collect();
    named.sort_unstable();
    named.dedup();
    named.len().max(1)
}

/// A running server.
pub struct Server {
    local_addr: SocketAddr,
    shutdown: Arc<AtomicBool>,
    net_in_waker: Arc<mio::Waker>,
    /// Net-in's own thread (none when it runs on the single thread).
    net_in: Option<JoinHandle<Vec<mio::net::TcpStream>>>,
    /// Net-out's own thread (none when it runs on the fused thread).
    net_out: Option<JoinHandle<()>>,
    core: CoreThreads,
    durable: Option<Arc<Durable>>,
    metrics: Arc<Metrics>,
    /// Records replayed at start-up.
    pub replayed_records: u64,
    /// How many signatures a verify thread checks before publishing their verdicts.
    pub verify_budget: BatchBudget,
    /// Layout, verify threads and wait strategy as resolved on this machine.
    pub placement: Placement,
    /// The torn tail recovery cut, if any.
    pub tail_cut: Option<String>,
    /// The snapshot thread and what it shares (absent with `--durability none`).
    snapshots: Option<(Arc<SnapshotControl>, JoinHandle<()>)>,
}

impl Server {
    /// Recovers, binds and starts every stage.
    pub fn start(options: ServerOptions) -> Result<Server, StartError> {
        let io = |what: &'static str| {
            move |error: std::io::Error| StartError::Io(format!("{what}: {error}"))
        };
        // 0. State from the newest snapshot and the journal.
        let mut recovered = recover(&options)?;
        let follower = recovered.follower.take();
        let replayed_records = recovered.records;
        let tail_cut = recovered.tail_cut.clone();
        let placement = Placement::of(&options);
        let wait = placement.wait;
        let mut cores_in_order = options.pin.clone().into_iter().cycle();
        let pinning = !options.pin.is_empty();
        let mut pin = move || if pinning { cores_in_order.next() } else { None };

        // 1. Sockets, wakers and the tables net-in and net-out share.
        let net_in_poll = mio::Poll::new().map_err(io("poll"))?;
        let net_in_waker =
            Arc::new(mio::Waker::new(net_in_poll.registry(), NET_IN_WAKER).map_err(io("waker"))?);
        let net_out_poll = mio::Poll::new().map_err(io("poll"))?;
        let net_out_waker =
            Arc::new(mio::Waker::new(net_out_poll.registry(), NET_OUT_WAKER).map_err(io("waker"))?);
        let mut listener = mio::net::TcpListener::bind(options.listen).map_err(io("listen"))?;
        let local_addr = listener.local_addr().map_err(io("listen"))?;
        net_in_poll
            .registry()
            .register(&mut listener, NET_IN_LISTENER, mio::Interest::READABLE)
            .map_err(io("listen"))?;
        let single = placement.layout == Layout::Single;
        if single {
            // One thread sleeps in net-in's poll: it watches net-out's too.
            use std::os::fd::AsRawFd;
            let nested = net_out_poll.as_raw_fd();
            let interest = mio::Interest::READABLE;
            let mut source = mio::unix::SourceFd(&nested);
            let registry = net_in_poll.registry();
            registry.register(&mut source, NET_IN_NESTED_POLL, interest).map_err(io("poll"))?;
        }
        let connections = Arc::new(ConnectionTable::new(options.net_in.connections_max));
        let handback =
            Arc::new(Handback::new(options.net_in.connections_max, net_in_waker.clone()));
        let shutdown = Arc::new(AtomicBool::new(false));

        // 2. net-in: its thread comes first in pipeline order (and in pinning), unless it runs on
        // the single thread.
        let net_in_core = if single { None } else { pin() };

        // 3. verify ×N, sequencer, journal, matcher, and rings A, B, C.
        let core_options = CoreOptions {
            config: options.config.clone(),
            verify_threads: placement.verify_threads,
            layout: placement.layout,
            wait,
            durability: options.durability,
            admin_key: options.admin_key,
            trust_signatures: false,
            clocks: options.clocks,
        };
        let notify: Arc<dyn Notify> = net_out_waker.clone();
        let (core, view) = Core::build(core_options, recovered, Some(notify), &mut pin, true)?;
        let Core {
            ring_a,
            ring_c,
            durable,
            overflow,
            metrics,
            verify_budget,
            bad_signatures,
            threads: mut core,
            fused,
        } = core;
        let snapshots = match (follower, &durable) {
            (Some(engine), Some(durable)) => {
                let control = Arc::new(SnapshotControl::default());
                let follower_options = FollowerOptions {
                    dir: options.data_dir.clone(),
                    fingerprint: options.config.state_fingerprint(),
                    settings: options.config.snapshot,
                    retain: options.config.journal.retain,
                };
                let durable = durable.clone();
                let thread =
                    snapshot::follower::spawn(engine, durable, control.clone(), follower_options)
                        .map_err(io("snapshot thread"))?;
                Some((control, thread))
            }
            _ => None,
        };

        let net_in = NetIn {
            connection_options: options.connection,
            poll: net_in_poll,
            listener,
            output: ring_a,
            overflow,
            connections: connections.clone(),
            handback: handback.clone(),
            shutdown: shutdown.clone(),
            options: options.net_in,
            bad_signatures,
            admin_api_key: {
                use base64::Engine;
                let mut text = [0u8; 44];
                let written = base64::engine::general_purpose::STANDARD
                    .encode_slice(options.admin_key.0, &mut text)
                    .expect("32 bytes are 44 base64 characters");
                assert_eq!(written, text.len());
                text
            },
            metrics: metrics.clone(),
        };
        let (net_in, net_in_thread) = if single {
            (Some(net_in), None)
        } else {
            (None, Some(spawn_stage("net-in", net_in_core, move || net_in.run())?))
        };

        // 4. net-out: on its own thread, or after the matcher on the fused one.
        let net_out = NetOut {
            options: options.connection,
            input: ring_c,
            view,
            poll: net_out_poll,
            connections,
            handback,
            gate: DurabilityGate::new(durable.clone(), options.durability == Durability::Sync),
            snapshots: snapshots.as_ref().map(|(control, _)| control.clone()),
            wait,
            metrics: metrics.clone(),
        };
        let net_out = match (fused, net_in) {
            (Some((fused, fused_core)), Some(net_in)) => {
                let work = move || fused.run_with_network(net_in, net_out);
                core.matcher = Some(spawn_stage("single", fused_core, work)?);
                None
            }
            (Some((fused, fused_core)), None) => {
                let work = move || fused.run_with_net_out(net_out);
                core.matcher = Some(spawn_stage("fused", fused_core, work)?);
                None
            }
            (None, _) => Some(spawn_stage("net-out", pin(), move || net_out.run())?),
        };
        Ok(Server {
            local_addr,
            shutdown,
            net_in_waker,
            net_in: net_in_thread,
            net_out,
            core,
            durable,
            metrics,
            replayed_records,
            verify_budget,
            placement,
            tail_cut,
            snapshots,
        })
    }

    /// What the snapshot thread shares (absent with `--durability none`).
    pub fn snapshots(&self) -> Option<&Arc<SnapshotControl>> {
        self.snapshots.as_ref().map(|(control, _)| control)
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A flag that stops the server when set; call [`Server::wake`] after setting it.
    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        self.shutdown.clone()
    }

    /// Wakes net-in so it notices the shutdown flag at once.
    pub fn wake(&self) {
        let _ = self.net_in_waker.wake();
    }

    /// What the stages measure (what `GET /metrics` renders).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// `(commits, records)` of the journal so far.
    pub fn group_commit_statistics(&self) -> Option<(u64, u64)> {
        self.durable.as_ref().map(|durable| durable.statistics())
    }

    /// Stops the server: drains every ring, syncs the journal, joins every thread. Returns the
    /// engine as it stopped (tests compare its state hash with a replay).
    pub fn stop(self) -> Result<Matcher, String> {
        self.shutdown.store(true, Ordering::Release);
        let _ = self.net_in_waker.wake();
        self.join()
    }

    /// Waits until the server stops (after the shutdown flag is set).
    pub fn join(self) -> Result<Matcher, String> {
        let streams = match self.net_in {
            Some(net_in) => net_in.join().map_err(|_| "net-in panicked".to_string())?,
            None => Vec::new(), // the single thread closes them itself
        };
        let matcher = self.core.join()?;
        if let Some(net_out) = self.net_out {
            net_out.join().map_err(|_| "net-out panicked".to_string())?;
        }
        if let Some((control, thread)) = self.snapshots {
            control.stop();
            thread.join().map_err(|_| "the snapshot thread panicked".to_string())?;
        }
        // Only now may the sockets close: net-out is done writing to them.
        drop(streams);
        Ok(matcher)
    }
}

#[cfg(test)]
mod tests {
    use super::cores_available;

    #[test]
    fn pinned_cores_count_only_once_and_only_if_they_exist() {
        assert_eq!(cores_available(&[], 2), 2);
        assert_eq!(cores_available(&[0, 1, 2, 3, 4, 5, 6, 7], 2), 2);
        assert_eq!(cores_available(&[1, 1, 1], 4), 1);
        assert_eq!(cores_available(&[9], 2), 1);
        assert_eq!(cores_available(&[0, 2], 4), 2);
    }
}
