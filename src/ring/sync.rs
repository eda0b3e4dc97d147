//! The few synchronisation primitives the ring uses, from `std` in normal builds and from `loom`
//! under `--cfg ringex_loom`, so the loom tests model exactly the code that ships.
//!
//! Besides re-exports this holds the two OS-dependent pieces: the futex (`futex_wait`,
//! `futex_wake`) and the slot cell (`SlotCell`, an `UnsafeCell` with loom's closure API, so loom
//! can track every slot access).

#[cfg(not(ringex_loom))]
pub(crate) use std::{
    hint::spin_loop,
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering, fence},
    thread::yield_now,
};

#[cfg(ringex_loom)]
pub(crate) use ::loom::{
    hint::spin_loop,
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering, fence},
    thread::yield_now,
};

/// A slot's cell. Normal builds wrap `std::cell::UnsafeCell`; loom builds use loom's, which
/// records every access and reports any pair not ordered by happens-before.
#[cfg(not(ringex_loom))]
#[derive(Debug)]
pub(crate) struct SlotCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(ringex_loom))]
impl<T> SlotCell<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a pointer for reading. The caller must hold read access to the slot.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with a pointer for writing. The caller must hold write access to the slot.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(ringex_loom)]
pub(crate) use ::loom::cell::UnsafeCell as SlotCell;

/// A futex word: the 32-bit value a sleeping waiter watches. Loom has no futex, so loom builds
/// emulate one with a mutex and condition variable (same semantics: the value check and the
/// enqueue are atomic with respect to a wake).
#[derive(Debug)]
pub(crate) struct FutexWord {
    pub(crate) value: AtomicU32,
    #[cfg(ringex_loom)]
    parking: (::loom::sync::Mutex<()>, ::loom::sync::Condvar), // tidy: loom builds only
}

impl FutexWord {
    pub(crate) fn new() -> Self {
        Self {
            value: AtomicU32::new(0),
            #[cfg(ringex_loom)]
            parking: (::loom::sync::Mutex::new(()), ::loom::sync::Condvar::new()),
        }
    }
}

#[cfg(not(ringex_loom))]
impl FutexWord {
    /// Sleeps while the word equals `expected`, for at most `timeout_ns`; may return spuriously.
    pub(crate) fn wait(&self, expected: u32, timeout_ns: u64) {
        let timeout = libc::timespec {
            tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: FUTEX_WAIT reads the aligned 32-bit word at `value.as_ptr()`, which lives as
        // long as `self`; the timeout points at a live `timespec`. The kernel only compares and
        // queues; any result (woken, EAGAIN, ETIMEDOUT, EINTR) is fine because every caller
        // re-checks its condition in a loop.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.value.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                &timeout as *const libc::timespec,
            );
        }
    }

    /// Wakes every thread sleeping on the word.
    pub(crate) fn wake_all(&self) {
        // SAFETY: FUTEX_WAKE only uses the address as a key to find sleepers; it does not
        // dereference user memory beyond that.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.value.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                i32::MAX,
            );
        }
    }
}

#[cfg(ringex_loom)]
impl FutexWord {
    /// Sleeps while the word equals `expected`. No timeout under loom: a lost wake-up must show
    /// up as a deadlock.
    pub(crate) fn wait(&self, expected: u32, _timeout_ns: u64) {
        let guard = self.parking.0.lock().expect("futex mutex poisoned");
        if self.value.load(Ordering::Relaxed) == expected {
            drop(self.parking.1.wait(guard).expect("futex mutex poisoned"));
        }
    }

    /// Wakes every thread sleeping on the word.
    pub(crate) fn wake_all(&self) {
        let _guard = self.parking.0.lock().expect("futex mutex poisoned");
        self.parking.1.notify_all();
    }
}
