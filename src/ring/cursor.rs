//! `Cursor`: one stage's progress through a ring, and the wake-up protocol for threads that sleep
//! while waiting for it to move.
//!
//! Contract: a cursor's value `c` means "every sequence `< c` is done" (published, for the
//! producer's cursor; processed, for a consumer's). It has exactly one writer, the stage that owns
//! it, and only grows. It is stored with `Release` and loaded with `Acquire`, so whoever sees
//! `c` also sees every slot write made before it.
//!
//! Sleeping (the `park` and backoff wait strategies, and external waits through [`Notify`]) is
//! the Dekker pattern: a waiter registers in `waiters`, issues a `SeqCst` fence, then re-checks
//! the cursor; the owner stores the cursor, issues a `SeqCst` fence, then reads `waiters`. One of
//! the two must see the other, so either the waiter sees the new value and does not sleep, or the
//! owner sees the waiter and wakes it. The owner skips the fence entirely on rings whose
//! strategy never sleeps and that have no external waiter, so busy-spin publishing pays nothing.
//!
//! Futex sleepers do not sleep on the cursor itself but on `futex_word`, a 32-bit epoch that the
//! owner bumps before each wake. That way closing the ring (which moves no cursor) can wake them
//! too, and no wake-up is lost between a waiter's last check and its `FUTEX_WAIT`.

use std::sync::Arc;

use super::sync::{AtomicBool, AtomicU32, AtomicU64, FutexWord, Ordering, fence};

/// Added to `Cursor::waiters` by a thread about to sleep on the futex word.
const WAITER_FUTEX: u32 = 1;
/// Added to `Cursor::waiters` by a consumer about to sleep outside the ring (epoll).
const WAITER_EXTERNAL: u32 = 1 << 16;
/// The futex-sleeper count inside `Cursor::waiters`.
const WAITER_FUTEX_MASK: u32 = WAITER_EXTERNAL - 1;

/// One stage's progress through a ring (see the module doc). Stored cache-padded by the ring, so
/// the value, the waiter count and the futex word share a line that no other cursor touches.
#[derive(Debug)]
pub struct Cursor {
    /// Exclusive end of the done sequences; only grows; written only by the owning stage.
    value: AtomicU64,
    /// Threads registered to be woken when `value` moves: `WAITER_FUTEX` per futex sleeper plus
    /// `WAITER_EXTERNAL` per external waiter.
    waiters: AtomicU32,
    /// Epoch that futex sleepers sleep on; bumped by every wake.
    futex_word: FutexWord,
}

impl Cursor {
    pub(crate) fn new() -> Self {
        Self { value: AtomicU64::new(0), waiters: AtomicU32::new(0), futex_word: FutexWord::new() }
    }

    /// The cursor's value with `Acquire`: every slot write made before it was stored is visible.
    #[inline(always)]
    pub(crate) fn load(&self) -> u64 {
        self.value.load(Ordering::Acquire)
    }

    /// Stores a new value (owner only) with `Release`. Callers that may have sleeping waiters
    /// follow with [`Cursor::wake_waiters`].
    #[inline(always)]
    pub(crate) fn store(&self, value: u64) {
        debug_assert!(value >= self.value.load(Ordering::Relaxed));
        self.value.store(value, Ordering::Release);
    }

    /// The owner's half of the Dekker handshake: after a store, wake whoever registered.
    /// `external` lists the external waiters gated on this cursor.
    #[inline(always)]
    pub(crate) fn wake_waiters(&self, external: &[Arc<ExternalWaiter>]) {
        fence(Ordering::SeqCst);
        let waiters = self.waiters.load(Ordering::Acquire);
        if waiters != 0 {
            self.wake(waiters, external);
        }
    }

    /// Wakes every kind of waiter regardless of the count (closing the ring).
    pub(crate) fn wake_all(&self, external: &[Arc<ExternalWaiter>]) {
        self.wake(WAITER_FUTEX | WAITER_EXTERNAL, external);
    }

    #[cold]
    #[inline(never)]
    fn wake(&self, waiters: u32, external: &[Arc<ExternalWaiter>]) {
        if waiters & WAITER_FUTEX_MASK != 0 {
            self.futex_word.value.fetch_add(1, Ordering::Release);
            self.futex_word.wake_all();
        }
        if waiters >= WAITER_EXTERNAL {
            for waiter in external {
                waiter.notify_if_armed();
            }
        }
    }

    /// The waiter's half: sleep until the cursor may have reached `target`, `stop()` may have
    /// become true, or `timeout_ns` passed. May return early; callers re-check in a loop.
    pub(crate) fn sleep_until(&self, target: u64, stop: &impl Fn() -> bool, timeout_ns: u64) {
        // Read the epoch before registering: a wake after this point changes it, and
        // FUTEX_WAIT then returns at once.
        let epoch = self.futex_word.value.load(Ordering::Acquire);
        self.waiters.fetch_add(WAITER_FUTEX, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.load() < target && !stop() {
            self.futex_word.wait(epoch, timeout_ns);
        }
        self.waiters.fetch_sub(WAITER_FUTEX, Ordering::Relaxed);
    }

    /// Registers an external waiter (whose `armed` flag the caller already set); the caller then
    /// re-checks the cursor before sleeping outside the ring.
    pub(crate) fn register_external(&self) {
        self.waiters.fetch_add(WAITER_EXTERNAL, Ordering::SeqCst);
        fence(Ordering::SeqCst);
    }

    /// Undoes [`Cursor::register_external`].
    pub(crate) fn unregister_external(&self) {
        self.waiters.fetch_sub(WAITER_EXTERNAL, Ordering::Relaxed);
    }
}

/// Wakes a thread that sleeps outside the ring, e.g. in `epoll_wait`; net-out waits on ring C and
/// on socket writability at once. Called by the thread that moved the cursor, only when the
/// consumer has announced it is about to sleep, at most once per announcement.
pub trait Notify: Send + Sync {
    /// Wakes the sleeping thread; must not block.
    fn notify(&self);
}

impl Notify for mio::Waker {
    fn notify(&self) {
        // mio's eventfd waker only fails if the kernel refuses the write, which would leave the
        // consumer asleep for good: treat it as fatal.
        self.wake().expect("mio::Waker::wake failed");
    }
}

/// A consumer's registration for external waits, shared with the owners of its gate cursors.
pub(crate) struct ExternalWaiter {
    /// Set by the consumer while it sleeps outside the ring; cleared by whoever notifies it.
    armed: AtomicBool,
    // NB: a trait object, because the waker's type is the caller's (mio, eventfd, test double);
    // it is allocated once at build time and called only when a consumer actually sleeps.
    notify: Arc<dyn Notify>,
}

impl ExternalWaiter {
    pub(crate) fn new(notify: Arc<dyn Notify>) -> Self {
        Self { armed: AtomicBool::new(false), notify }
    }

    pub(crate) fn arm(&self) {
        self.armed.store(true, Ordering::Relaxed);
    }

    pub(crate) fn disarm(&self) {
        self.armed.store(false, Ordering::Relaxed);
    }

    fn notify_if_armed(&self) {
        // NB: compare-exchange rather than swap: no store when the waiter is not armed, which
        // also keeps loom's per-atomic store history (7 entries) from wrapping in the models.
        let armed = self.armed.compare_exchange(true, false, Ordering::AcqRel, Ordering::Relaxed);
        if armed.is_ok() {
            self.notify.notify();
        }
    }
}

impl std::fmt::Debug for ExternalWaiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalWaiter").finish_non_exhaustive()
    }
}
