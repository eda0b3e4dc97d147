//! Wires every ring and thread, top to bottom, in pipeline order.
//!
//! ```text
//! net-in ─A─► verify ×N ─A─► sequencer ─B─► journal
//!                                       └B─► matcher ─C─► net-out
//! ```
//!
//! [`Server::start`] first rebuilds the state from the journal (the same matcher code replays every
//! record; net-out's view and the replay cache are rebuilt from the same pass), then builds the
//! three rings, then starts one thread per stage, pinned when `--pin` names cores.
//! [`Server::stop`] asks net-in to stop: it publishes `Shutdown` and closes ring A, and each stage
//! drains its input, passes the marker on and exits; the journal syncs last.

use crate::config::Config;
use crate::constants::{RING_A_SLOTS, RING_B_SLOTS, RING_C_SLOTS};
use crate::event::{Event, EventSink};
use crate::journal::stage::{Durability, Durable};
use crate::journal::{self, JournalWriter, WriterOptions};
use crate::matcher::Matcher;
use crate::net::overflow::OverflowPool;
use crate::net::shared::{ConnectionTable, Links};
use crate::net::stage::{NET_IN_LISTENER, NET_IN_WAKER, NetIn, NetInOptions};
use crate::netout::stage::{NET_OUT_WAKER, NetOut};
use crate::netout::view::{View, ViewLimits};
use crate::records::{Outcome, OutputSlot, RequestSlot, SequencedSlot};
use crate::ring::{Access, BatchPublisher, RingBuilder, WaitMode, pin_current_thread};
use crate::sequencer::{Sequencer, SequencerLimits, record};
use crate::types::{AccountKey, SequenceNumber};
use crate::verify::Verifier;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// Everything `serve` is told.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Address to listen on (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Journal directory.
    pub data_dir: PathBuf,
    /// Assets, markets, limits.
    pub config: Arc<Config>,
    /// Verify threads.
    pub verify_threads: usize,
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
    /// Records replayed.
    pub records: u64,
    /// The journal, ready to continue (absent with `--durability none`).
    pub writer: Option<JournalWriter>,
    /// What recovery cut off a torn tail, to report.
    pub tail_cut: Option<String>,
}

/// Feeds replayed events to net-out's view.
struct ViewSink<'v> {
    view: &'v mut View,
}

impl EventSink for ViewSink<'_> {
    fn push(&mut self, event: Event) {
        self.view.apply(&event);
    }
}

/// Replays the journal in `data_dir` (creating it if needed) into a fresh engine, view and
/// sequencer. With `durability == None` nothing is read or written.
pub fn recover(options: &ServerOptions) -> Result<RecoveredState, StartError> {
    let mut matcher = Matcher::new(options.config.clone());
    let mut view = View::new(options.config.clone(), options.view);
    let mut sequencer = Sequencer::new(options.sequencer, SequenceNumber(0), 0);
    if options.durability == Durability::None {
        return Ok(RecoveredState {
            matcher,
            view,
            sequencer,
            records: 0,
            writer: None,
            tail_cut: None,
        });
    }
    std::fs::create_dir_all(&options.data_dir)
        .map_err(|error| StartError::Io(format!("{}: {error}", options.data_dir.display())))?;
    let now_ms = crate::clock::wall_ms();
    let mut records = 0u64;
    let mut last_time_us = 0u64;
    let mut bad_record = None;
    let recovered = journal::recover_with(&options.data_dir, |sequence, payload| {
        let Ok((command, auth, extras)) = record::decode(payload) else {
            bad_record.get_or_insert(sequence);
            return;
        };
        assert_eq!(command.sequence, sequence, "a record's command carries its sequence");
        matcher.apply(&command, &mut ViewSink { view: &mut view });
        view.finish(&Outcome::Command { sequence, account: command.account }, &extras);
        sequencer.remember(&auth, now_ms);
        last_time_us = command.time_us;
        records += 1;
    })
    .map_err(|error| StartError::Journal(error.to_string()))?;
    if let Some(sequence) = bad_record {
        return Err(StartError::Journal(format!(
            "record {sequence:?} does not decode as a command"
        )));
    }
    sequencer.continue_after(recovered.last_sequence, last_time_us);
    let tail_cut = recovered.tail_cut.as_ref().map(|cut| format!("{cut:?}"));
    let writer_options =
        WriterOptions { segment_size_max: options.segment_bytes_max, ..WriterOptions::default() };
    let writer = JournalWriter::resume(recovered, writer_options)
        .map_err(|error| StartError::Journal(error.to_string()))?;
    Ok(RecoveredState { matcher, view, sequencer, records, writer: Some(writer), tail_cut })
}

/// A running server.
pub struct Server {
    local_addr: SocketAddr,
    shutdown: Arc<AtomicBool>,
    net_in_waker: Arc<mio::Waker>,
    net_in: JoinHandle<Vec<mio::net::TcpStream>>,
    net_out: JoinHandle<()>,
    matcher: JoinHandle<Matcher>,
    others: Vec<JoinHandle<()>>,
    durable: Option<Arc<Durable>>,
    /// Records replayed at start-up.
    pub replayed_records: u64,
    /// The torn tail recovery cut, if any.
    pub tail_cut: Option<String>,
}

/// Threads in the pipeline besides the verifiers (net-in, sequencer, journal, matcher, net-out).
const FIXED_THREADS: usize = 5;

impl Server {
    /// Recovers, binds and starts every stage.
    pub fn start(options: ServerOptions) -> Result<Server, StartError> {
        let io = |what: &'static str| {
            move |error: std::io::Error| StartError::Io(format!("{what}: {error}"))
        };
        // 0. State from the journal.
        let recovered = recover(&options)?;
        let replayed_records = recovered.records;
        let tail_cut = recovered.tail_cut.clone();
        let verify_threads = options.verify_threads.max(1);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let threads = FIXED_THREADS + verify_threads;
        let wait = options
            .wait
            .resolve(threads, if options.pin.is_empty() { cores } else { options.pin.len() });
        let mut cores_in_order = options.pin.iter().copied().cycle();
        let mut next_core = || (!options.pin.is_empty()).then(|| cores_in_order.next()).flatten();

        // 1. Sockets and the shared connection tables.
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
        let connections = Arc::new(ConnectionTable::new(options.net_in.connections_max));
        let links = Arc::new(Links::new(options.net_in.connections_max, net_in_waker.clone()));
        let overflow = Arc::new(OverflowPool::default());
        let shutdown = Arc::new(AtomicBool::new(false));

        // 2. Ring A: net-in → verify ×N (modulo, writing verdicts) → sequencer.
        let mut ring_a = RingBuilder::new(RING_A_SLOTS, wait, RequestSlot::empty);
        let verifier_ids = ring_a.modulo_consumers(&[], verify_threads, Access::Write);
        let sequencer_id = ring_a.consumer(&verifier_ids, Access::Read);
        let mut ring_a = ring_a.build();

        // 3. Ring B: sequencer → journal and matcher.
        let mut ring_b = RingBuilder::new(RING_B_SLOTS, wait, SequencedSlot::empty);
        let matcher_id = ring_b.consumer(&[], Access::Write);
        let journal_id =
            recovered.writer.is_some().then(|| ring_b.consumer(&[matcher_id], Access::Read));
        let mut ring_b = ring_b.build();

        // 4. Ring C: matcher → net-out (which also sleeps in epoll: woken through its waker).
        let mut ring_c = RingBuilder::new(RING_C_SLOTS, wait, OutputSlot::empty);
        let net_out_id = ring_c.consumer(&[], Access::Read);
        ring_c.notify_with(net_out_id, net_out_waker.clone());
        let mut ring_c = ring_c.build();

        let durable = recovered
            .writer
            .as_ref()
            .map(|writer| Arc::new(Durable::new(writer.durable_sequence(), net_out_waker.clone())));
        let mut others = Vec::new();
        let spawn = |name: &str, core: Option<usize>, work: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_string())
                .spawn(move || {
                    pin_current_thread(core);
                    work()
                })
                .map_err(|error| StartError::Io(format!("spawn {name}: {error}")))
        };

        // 5. Threads, in pipeline order.
        let net_in = NetIn {
            poll: net_in_poll,
            listener,
            output: ring_a.producer(),
            overflow: overflow.clone(),
            connections: connections.clone(),
            links: links.clone(),
            shutdown: shutdown.clone(),
            options: options.net_in,
        };
        let core = next_core();
        let net_in = std::thread::Builder::new()
            .name("net-in".into())
            .spawn(move || {
                pin_current_thread(core);
                net_in.run()
            })
            .map_err(io("spawn net-in"))?;
        for (index, id) in verifier_ids.into_iter().enumerate() {
            let input = ring_a.consumer(id);
            let verifier = Verifier::new(options.config.clone(), options.admin_key);
            let overflow = overflow.clone();
            others.push(spawn(
                &format!("verify-{index}"),
                next_core(),
                Box::new(move || crate::verify::stage::run(input, verifier, &overflow)),
            )?);
        }
        let sequencer_input = ring_a.consumer(sequencer_id);
        let sequencer_output = BatchPublisher::new(ring_b.producer());
        let sequencer = recovered.sequencer;
        others.push(spawn(
            "sequencer",
            next_core(),
            Box::new(move || {
                crate::sequencer::stage::run(sequencer_input, sequencer_output, sequencer)
            }),
        )?);
        if let (Some(id), Some(writer), Some(durable)) =
            (journal_id, recovered.writer, durable.clone())
        {
            let input = ring_b.consumer(id);
            let durability = options.durability;
            others.push(spawn(
                "journal",
                next_core(),
                Box::new(move || crate::journal::stage::run(input, writer, durable, durability)),
            )?);
        }
        let matcher_input = ring_b.consumer(matcher_id);
        let matcher_output = BatchPublisher::new(ring_c.producer());
        let engine = recovered.matcher;
        let core = next_core();
        let matcher = std::thread::Builder::new()
            .name("matcher".into())
            .spawn(move || {
                pin_current_thread(core);
                crate::matcher::stage::run(matcher_input, matcher_output, engine)
            })
            .map_err(io("spawn matcher"))?;
        let net_out = NetOut {
            input: ring_c.consumer(net_out_id),
            view: recovered.view,
            poll: net_out_poll,
            connections,
            links,
            durable: durable.clone(),
            gate_on_durable: options.durability == Durability::Sync,
            wait,
        };
        let core = next_core();
        let net_out = std::thread::Builder::new()
            .name("net-out".into())
            .spawn(move || {
                pin_current_thread(core);
                net_out.run()
            })
            .map_err(io("spawn net-out"))?;
        Ok(Server {
            local_addr,
            shutdown,
            net_in_waker,
            net_in,
            net_out,
            matcher,
            others,
            durable,
            replayed_records,
            tail_cut,
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A flag that stops the server when set (signal handlers set it); call [`Server::wake`]
    /// after setting it from another thread.
    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        self.shutdown.clone()
    }

    /// Wakes net-in so it notices the shutdown flag at once.
    pub fn wake(&self) {
        let _ = self.net_in_waker.wake();
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
        let streams = self.net_in.join().map_err(|_| "net-in panicked".to_string())?;
        for handle in self.others {
            handle.join().map_err(|_| "a pipeline thread panicked".to_string())?;
        }
        let matcher = self.matcher.join().map_err(|_| "matcher panicked".to_string())?;
        self.net_out.join().map_err(|_| "net-out panicked".to_string())?;
        // Only now may the sockets close: net-out is done writing to them.
        drop(streams);
        Ok(matcher)
    }
}
