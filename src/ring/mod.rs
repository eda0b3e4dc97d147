//! Disruptor-style ring buffers linking the pipeline stages, hand-written for the hot path.
//!
//! A ring is a power-of-two array of slots preallocated by a factory and filled at start-up, one
//! producer thread, and a graph of consumer stages. Each stage owns a [`Cursor`]: its value `c`
//! means "every sequence `< c` is done". Sequences are `u64`, start at 0 and never wrap in
//! practice (2^64 records). Sequence `s` lives in slot `s & (slot_count - 1)`.
//!
//! ```text
//!   producer ──► cursor 0 ──gate──► verifier 0..N (modulo, write) ──gate──► sequencer
//!      ▲                                                                       │
//!      └──────────────────────────── gate (the last consumers) ◄───────────────┘
//! ```
//!
//! # Vocabulary
//! - *claim*: the producer reserves the next sequence(s); it may then write their slots.
//! - *publish*: the producer moves its cursor past written slots (one store for a batch).
//! - *gate*: the cursors a stage waits on. A consumer reading the producer directly is gated on
//!   the producer's cursor; a downstream consumer on its upstream stages' cursors (the sequencer
//!   on all N verifiers); the producer on the ring's last consumers (those nobody is gated on).
//!   A stage may touch sequence `s` only once the slowest of its gates is past `s`.
//! - *batch*: a consumer learns the exclusive end of everything available
//!   ([`Consumer::wait_for`]) and processes it in one go; the last sequence of a batch is its
//!   `end_of_batch`, where a stage flushes (one journal write, one socket flush).
//! - *release*: a consumer moves its cursor past processed sequences
//!   ([`Consumer::release_through`]), handing them to the stages gated on it.
//!
//! # Construction: the dependency graph is encoded, so slot access is safe
//! [`RingBuilder`] declares the stages in order, each gated on earlier ones, with an [`Access`]
//! (read, or write into the slots it consumes). [`RingBuilder::build`] gates the producer on the
//! last consumers, checks the graph, and only then hands out [`Producer`] and [`Consumer`]
//! handles. The ownership argument:
//!
//! 1. A consumer's cursor never passes its gates (release asserts it), and cursors only grow, so
//!    along every dependency chain upstream cursors are `>=` downstream ones.
//! 2. The producer is gated on every last consumer, hence (by 1) on every consumer, and claims
//!    `s` only when all of them are past `s - slot_count`: it never writes a slot that any stage
//!    still owns. Consumers read `s` only after the producer's cursor passed `s`.
//! 3. A writing stage W may mutate `s` while it owns it. `build` panics unless every other stage
//!    is either upstream of W (done with `s` before W may start) or downstream of W (may not
//!    start on `s` before W releases it). The one exception is a modulo group
//!    ([`RingBuilder::modulo_consumers`]): its N members are siblings, but member `i` may only
//!    touch sequences `s ≡ i (mod N)` (asserted on every access), so they never share a slot.
//! 4. Handles return `&T` / `&mut T` borrowed from the handle, and releasing or publishing needs
//!    `&mut self`, so no reference outlives the ownership it was derived from.
//!
//! So slot ownership passes along the graph — producer → verifier `i` → sequencer → back to the
//! producer — and no two stages can touch one slot at the same time.
//!
//! # Waiting
//! Every stage waits with the ring's [`WaitStrategy`]; consumers waiting for data and the
//! producer waiting for space are woken the same way (see `cursor.rs`). A consumer that must
//! also wait on epoll (net-out) registers a [`Notify`] with [`RingBuilder::notify_with`] and uses
//! [`Consumer::arm_external_wait`]. Dropping the producer closes the ring: consumers drain what
//! was published, then [`Consumer::wait_for`] returns `None`. A consumer dropped while its
//! thread panics poisons the ring instead of leaving the others waiting forever: every
//! `wait_for` returns `None` and a producer waiting for space panics too.
//!
//! # Hot-path rules
//! No allocation after [`RingBuilder::build`], no locks, no syscalls except when a waiter
//! actually sleeps (futex wait) or a stage wakes a registered sleeper (futex wake, `Notify`).
//! Cursor owners skip the sleeper check entirely on rings that never sleep.
//!
//! # Example: the verify pattern
//! ```
//! use ringex::ring::{Access, RingBuilder, WaitStrategy};
//!
//! #[derive(Clone, Copy, Default)]
//! struct Request { payload: u64, verdict: u64 }
//!
//! let mut builder = RingBuilder::new(8, WaitStrategy::Yield, Request::default);
//! let verifiers = builder.modulo_consumers(&[], 2, Access::Write);
//! let sequencer = builder.consumer(&verifiers, Access::Read);
//! let mut handles = builder.build();
//! let mut producer = handles.producer();
//! let mut sequencer = handles.consumer(sequencer);
//!
//! std::thread::scope(|scope| {
//!     for id in verifiers {
//!         let mut verifier = handles.consumer(id);
//!         scope.spawn(move || {
//!             let mut next = 0;
//!             while let Some(available_end) = verifier.wait_for(next) {
//!                 for sequence in next..available_end {
//!                     if verifier.owns(sequence) {
//!                         let request = verifier.slot_mut(sequence);
//!                         request.verdict = request.payload * 2;
//!                     }
//!                 }
//!                 verifier.release_through(available_end - 1);
//!                 next = available_end;
//!             }
//!         });
//!     }
//!     scope.spawn(move || {
//!         for payload in 0..100 {
//!             let sequence = producer.claim();
//!             producer.slot_mut(sequence).payload = payload;
//!             producer.publish(sequence);
//!         }
//!     }); // Dropping the producer closes the ring.
//!     let mut next = 0;
//!     while let Some(available_end) = sequencer.wait_for(next) {
//!         for sequence in next..available_end {
//!             assert_eq!(sequencer.slot(sequence).verdict, sequence * 2);
//!         }
//!         sequencer.release_through(available_end - 1);
//!         next = available_end;
//!     }
//!     assert_eq!(next, 100);
//! });
//! ```
//!
//! # Tests
//! - `cargo test --release --lib ring` — ordering, wrap-around, every wait strategy, gated and
//!   modulo stages, back-pressure, external wake through a real `mio::Poll`.
//! - `cargo test --release --test ring_loom` — loom models of the memory orderings and of the
//!   sleep/wake protocol (`loom_tests.rs`; the shim in `sync.rs` swaps in loom's atomics, cell and
//!   a futex emulation). It builds this folder alone as the crate in `tests/loom/` under
//!   `--cfg ringex_loom` (not `loom`, which would reconfigure tokio), in `target/loom`, so the
//!   models check the code that ships without rebuilding the whole dependency tree.
//! - `cargo bench --bench ring` — against the `disruptor` crate and `crossbeam::channel`.

mod consumer;
mod cursor;
mod pin;
mod producer;
mod sync;
mod wait;

#[cfg(all(test, ringex_loom))]
mod loom_tests;
#[cfg(all(test, not(ringex_loom)))]
mod tests;

use std::sync::Arc;

use crossbeam::utils::CachePadded;

pub use consumer::{Consumer, ExternalWait};
pub use cursor::{Cursor, Notify};
pub use pin::{PIN_CORES_MAX, PinParseError, parse_cores, pin_current_thread};
pub use producer::{BatchPublisher, Producer};
pub use wait::{PARK_TIMEOUT_NS, WaitMode, WaitModeUnknown, WaitStrategy};

use cursor::ExternalWaiter;
use sync::{AtomicU32, Ordering, SlotCell, fence};

/// What one non-blocking turn of a stage did (`poll` on the stages a fused thread calls in
/// turn; see `pipeline/fused.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// Processed something or moved a cursor: call again.
    Worked,
    /// Nothing available on its input.
    Idle,
    /// Input available, but no room on its output ring for it.
    Blocked,
    /// Its input is closed and drained: it will never work again.
    Finished,
}

/// `RingBuffer::shutdown` flag: the producer is gone.
const SHUTDOWN_CLOSED: u32 = 1;
/// `RingBuffer::shutdown` flag: a consumer stage panicked.
const SHUTDOWN_PANICKED: u32 = 2;

/// Most stages (consumers) one ring may have; the graph checks use a `u64` bit set.
pub const STAGES_MAX: usize = 64;

/// The slots and cursors one producer and its consumers share. Reached only through the
/// [`Producer`] and [`Consumer`] handles, which enforce the ownership rules in the module doc.
pub struct RingBuffer<T> {
    /// `slot_count` preallocated slots; sequence `s` lives at `s & index_mask`.
    slots: Box<[SlotCell<T>]>,
    /// `slot_count - 1`.
    index_mask: u64,
    /// Cursor 0 is the producer's; cursor `1 + i` is stage `i`'s.
    cursors: Box<[CachePadded<Cursor>]>,
    /// Per cursor: the external waiters gated on it, notified by the cursor's owner.
    external_waiters: Box<[Box<[Arc<ExternalWaiter>]>]>,
    /// `SHUTDOWN_CLOSED` once the producer is dropped (nothing is published after);
    /// `SHUTDOWN_PANICKED` once a consumer stage panicked (nothing will be released).
    shutdown: CachePadded<AtomicU32>,
    /// How every stage of this ring waits.
    wait: WaitStrategy,
}

// SAFETY: the handles give each slot to one writer or to readers at a time (module doc), so
// sharing the ring between threads is sound when `T` may be sent (written by one thread, read by
// another) and shared (read by several consumers at once).
unsafe impl<T: Send + Sync> Sync for RingBuffer<T> {}
// SAFETY: as above; the ring owns its `T`s and drops them on whichever thread drops it last.
unsafe impl<T: Send + Sync> Send for RingBuffer<T> {}

impl<T> RingBuffer<T> {
    /// Number of slots (a power of two).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The slot holding `sequence`.
    #[inline(always)]
    fn slot_cell(&self, sequence: u64) -> &SlotCell<T> {
        let index = (sequence & self.index_mask) as usize;
        debug_assert!(index < self.slots.len());
        // SAFETY: `index_mask == slots.len() - 1` with `slots.len()` a power of two (asserted in
        // `RingBuilder::new`), so `index < slots.len()`.
        unsafe { self.slots.get_unchecked(index) }
    }

    /// Hints the CPU to fetch the slot of `sequence` for writing (its first cache line; the
    /// hardware prefetchers follow a sequential write through larger slots), so the cache-line
    /// transfer from the core that read it last overlaps the producer's work on earlier slots.
    #[inline(always)]
    fn prefetch_for_write(&self, sequence: u64) {
        #[cfg(all(target_arch = "x86_64", not(ringex_loom)))]
        {
            let slot = self.slot_cell(sequence) as *const SlotCell<T> as *const i8;
            // SAFETY: a prefetch never faults and has no architectural effect; the pointer is
            // inside the slot array anyway.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_ET0 }>(slot)
            };
        }
        #[cfg(not(all(target_arch = "x86_64", not(ringex_loom))))]
        let _ = sequence;
    }

    /// True once a consumer stage panicked, or once the producer is gone and `next` is past
    /// everything it published.
    fn finished_at(&self, next: u64) -> bool {
        // The producer stores its last cursor value before it sets `SHUTDOWN_CLOSED` (Release),
        // so after seeing the flag this load returns the final value.
        let shutdown = self.shutdown.load(Ordering::Acquire);
        shutdown & SHUTDOWN_PANICKED != 0
            || (shutdown & SHUTDOWN_CLOSED != 0 && self.cursors[0].load() <= next)
    }

    /// True once a consumer stage panicked.
    fn panicked(&self) -> bool {
        self.shutdown.load(Ordering::Acquire) & SHUTDOWN_PANICKED != 0
    }

    /// Sets a shutdown flag and wakes every sleeper of every cursor, whether or not the cursor
    /// moved; the waiters' stop checks (after their registration fence) see the flag.
    fn shut_down(&self, flag: u32) {
        self.shutdown.fetch_or(flag, Ordering::Release);
        fence(Ordering::SeqCst);
        for (cursor, external) in self.cursors.iter().zip(self.external_waiters.iter()) {
            cursor.wake_all(external);
        }
    }
}

impl<T> std::fmt::Debug for RingBuffer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBuffer")
            .field("slot_count", &self.slots.len())
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

/// Panics because a handle was asked to break an ownership rule for `sequence`.
// NB: a cold function taking the sequence by value: a formatted `assert!` keeps its argument in
// memory, which cost the single-publish hot loop two stack stores per record (benches/ring.rs).
#[cold]
#[inline(never)]
#[track_caller]
fn sequence_refused(sequence: u64, reason: &'static str) -> ! {
    panic!("sequence {sequence} {reason}")
}

/// What a consumer stage may do with the slots it owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read only ([`Consumer::slot`]).
    Read,
    /// Read and write ([`Consumer::slot_mut`]): the verify stage writes its verdict in place.
    Write,
}

/// A stage declared on a [`RingBuilder`]; pass it as a gate to later stages and to
/// [`RingHandles::consumer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StageId(usize);

/// A consumer stage's declaration.
struct StageSpec {
    /// Cursor indices this stage is gated on (0 = the producer).
    gates: Box<[usize]>,
    /// Bit `i` set when stage `i` is upstream of this one, directly or transitively.
    upstream: u64,
    access: Access,
    /// For modulo group members: the group's first stage, this member's index, member count.
    modulo: Option<(usize, u64, u64)>,
    notify: Option<Arc<dyn Notify>>,
}

/// Declares a ring's stages, then builds the ring and its handles; see the module doc.
pub struct RingBuilder<T> {
    slots: Box<[SlotCell<T>]>,
    wait: WaitStrategy,
    stages: Vec<StageSpec>,
}

impl<T> RingBuilder<T> {
    /// A ring of `slot_count` slots (a power of two), each filled by `factory` now, so the memory
    /// is touched at start-up and never allocated again.
    pub fn new(slot_count: usize, wait: WaitStrategy, mut factory: impl FnMut() -> T) -> Self {
        assert!(slot_count.is_power_of_two(), "slot_count {slot_count} is not a power of two");
        let slots: Box<[SlotCell<T>]> = (0..slot_count).map(|_| SlotCell::new(factory())).collect();
        Self { slots, wait, stages: Vec::new() }
    }

    /// Declares a consumer gated on the stages in `after`, or on the producer when `after` is
    /// empty.
    pub fn consumer(&mut self, after: &[StageId], access: Access) -> StageId {
        self.declare(after, access, None)
    }

    /// Declares `member_count` sibling consumers gated on `after` (or the producer), where member
    /// `i` processes only sequences `≡ i (mod member_count)` but releases over all of them; gate
    /// the next stage on all members. The verify stage is such a group with `Access::Write`.
    // tidy: start-up (rings are built before any stage runs)
    pub fn modulo_consumers(
        &mut self,
        after: &[StageId],
        member_count: usize,
        access: Access,
    ) -> Vec<StageId> {
        assert!(member_count >= 1);
        let first = self.stages.len();
        (0..member_count)
            .map(|member| {
                let modulo = Some((first, member as u64, member_count as u64));
                self.declare(after, access, modulo)
            })
            .collect()
    }

    /// Lets `stage` wait outside the ring ([`Consumer::arm_external_wait`]): whoever moves one
    /// of its gate cursors calls `notify` when the stage has announced that it sleeps.
    pub fn notify_with(&mut self, stage: StageId, notify: Arc<dyn Notify>) {
        let spec = &mut self.stages[stage.0];
        assert!(spec.notify.is_none(), "stage {} already has a Notify", stage.0);
        spec.notify = Some(notify);
    }

    // tidy: start-up (rings are built before any stage runs)
    fn declare(
        &mut self,
        after: &[StageId],
        access: Access,
        modulo: Option<(usize, u64, u64)>,
    ) -> StageId {
        let index = self.stages.len();
        assert!(index < STAGES_MAX, "more than {STAGES_MAX} stages on one ring");
        let mut upstream = 0u64;
        for gate in after {
            assert!(gate.0 < index, "stage {} is not declared on this ring", gate.0);
            upstream |= (1 << gate.0) | self.stages[gate.0].upstream;
        }
        let gates: Box<[usize]> = if after.is_empty() {
            Box::new([0])
        } else {
            after.iter().map(|gate| 1 + gate.0).collect()
        };
        self.stages.push(StageSpec { gates, upstream, access, modulo, notify: None });
        StageId(index)
    }

    /// Checks the graph (module doc, point 3), gates the producer on the last consumers and
    /// hands out the handles. Panics on a graph that would let two stages touch one slot.
    // tidy: start-up (rings are built before any stage runs)
    pub fn build(self) -> RingHandles<T> {
        assert!(!self.stages.is_empty(), "a ring needs at least one consumer");
        self.assert_writers_exclusive();
        let cursor_count = 1 + self.stages.len();

        let mut gated_on = 0u64; // Stages some other stage is gated on.
        let mut external: Vec<Vec<Arc<ExternalWaiter>>> = vec![Vec::new(); cursor_count];
        let mut waiters: Vec<Option<Arc<ExternalWaiter>>> = Vec::with_capacity(self.stages.len());
        for stage in &self.stages {
            for &gate in &stage.gates {
                if gate > 0 {
                    gated_on |= 1 << (gate - 1);
                }
            }
            let waiter = stage.notify.clone().map(|notify| Arc::new(ExternalWaiter::new(notify)));
            if let Some(waiter) = &waiter {
                for &gate in &stage.gates {
                    external[gate].push(Arc::clone(waiter));
                }
            }
            waiters.push(waiter);
        }
        let last_consumers: Box<[usize]> = (0..self.stages.len())
            .filter(|&stage| gated_on & (1 << stage) == 0)
            .map(|stage| 1 + stage)
            .collect();
        // A cursor's owner checks for sleepers after each store when anyone may sleep on it.
        let wake_check: Vec<bool> =
            external.iter().map(|waiters| self.wait.may_park() || !waiters.is_empty()).collect();

        let ring = Arc::new(RingBuffer {
            index_mask: self.slots.len() as u64 - 1,
            slots: self.slots,
            cursors: (0..cursor_count).map(|_| CachePadded::new(Cursor::new())).collect(),
            external_waiters: external.into_iter().map(Vec::into_boxed_slice).collect(),
            shutdown: CachePadded::new(AtomicU32::new(0)),
            wait: self.wait,
        });
        let producer = Producer::new(Arc::clone(&ring), last_consumers, wake_check[0]);
        let consumers = self
            .stages
            .into_iter()
            .zip(waiters)
            .enumerate()
            .map(|(index, (stage, waiter))| {
                let cursor_index = 1 + index;
                let (member, member_count) = stage.modulo.map_or((0, 1), |(_, m, n)| (m, n));
                Some(Consumer::new(consumer::ConsumerSpec {
                    ring: Arc::clone(&ring),
                    cursor_index,
                    gates: stage.gates,
                    access: stage.access,
                    member,
                    member_count,
                    wake_check: wake_check[cursor_index],
                    external_waiter: waiter,
                }))
            })
            .collect();
        RingHandles { producer: Some(producer), consumers, ring }
    }

    /// Every writing stage must be ordered (upstream or downstream) with every other stage,
    /// except its own modulo group's members.
    fn assert_writers_exclusive(&self) {
        for (writer, spec) in self.stages.iter().enumerate() {
            if spec.access != Access::Write {
                continue;
            }
            for (other, other_spec) in self.stages.iter().enumerate() {
                if other == writer {
                    continue;
                }
                let same_group = match (spec.modulo, other_spec.modulo) {
                    (Some((group, _, _)), Some((other_group, _, _))) => group == other_group,
                    _ => false,
                };
                let downstream = other_spec.upstream & (1 << writer) != 0;
                let upstream = spec.upstream & (1 << other) != 0;
                assert!(
                    same_group || downstream || upstream,
                    "stage {other} may touch slots while stage {writer} writes them: \
                     gate one on the other"
                );
            }
        }
    }
}

/// The handles [`RingBuilder::build`] hands out: take each exactly once and move it to its
/// stage's thread.
pub struct RingHandles<T> {
    producer: Option<Producer<T>>,
    consumers: Vec<Option<Consumer<T>>>,
    ring: Arc<RingBuffer<T>>,
}

impl<T> RingHandles<T> {
    /// The producer's handle. Panics if already taken.
    pub fn producer(&mut self) -> Producer<T> {
        self.producer.take().expect("producer handle already taken")
    }

    /// The handle of a consumer declared on this ring's builder. Panics if already taken.
    pub fn consumer(&mut self, stage: StageId) -> Consumer<T> {
        self.consumers[stage.0].take().expect("consumer handle already taken")
    }

    /// A read-only view of the ring's fill level, for metrics (any number, any thread).
    // tidy: start-up (taken when the pipeline is wired)
    pub fn level(&self) -> Arc<dyn RingLevel>
    where
        T: Send + Sync + 'static,
    {
        Arc::clone(&self.ring) as Arc<dyn RingLevel>
    }
}

/// How full a ring is, read from its cursors by an observer that owns none of them (net-out
/// rendering `GET /metrics`): two `Acquire` loads per cursor, no write, never waits.
pub trait RingLevel: Send + Sync {
    /// Slots published and not yet released by every consumer: the producer's cursor minus the
    /// slowest consumer's (0..=`capacity`). The cursors are read one after another while their
    /// owners move them, so this is a recent value, not an instant's.
    fn occupancy(&self) -> u64;
    /// Slots in the ring.
    fn capacity(&self) -> u64;
}

impl<T: Send + Sync> RingLevel for RingBuffer<T> {
    fn occupancy(&self) -> u64 {
        // Consumers first: every consumer cursor is at most the producer's, and both only grow,
        // so the producer's value read afterwards is at least as far along.
        let consumed = self.cursors[1..].iter().map(|cursor| cursor.load()).min().unwrap_or(0);
        let published = self.cursors[0].load();
        published.saturating_sub(consumed).min(self.capacity())
    }

    fn capacity(&self) -> u64 {
        self.slots.len() as u64
    }
}
