//! Wait strategies: what a stage does while the cursors it is gated on have not moved far enough.
//!
//! Contract: every strategy returns as soon as it observes the gate at or past its target; the
//! ones that sleep (`Park`, `Backoff`) register on the slowest gate cursor first, so the owner of
//! that cursor wakes them (see `cursor.rs` for the protocol). Consumers waiting for data and
//! producers waiting for space use the same loop, [`wait_until`].
//!
//! `--wait auto|busy-spin|yield|park` parses into a [`WaitMode`]; [`WaitMode::resolve`] turns
//! `auto` into `BusySpin` when every pinned pipeline thread has a core of its own, and into
//! `Backoff` (spin, then yield, then park) when threads share cores.

use std::fmt;
use std::str::FromStr;

use crossbeam::utils::CachePadded;

use super::cursor::Cursor;
use super::sync::{spin_loop, yield_now};

/// Attempts spent spinning before a `Yield`, `Park` or `Backoff` waiter moves on.
#[cfg(not(ringex_loom))]
const SPIN_ATTEMPTS_MAX: u32 = 128;
/// Attempts spent yielding before a `Backoff` waiter parks.
#[cfg(not(ringex_loom))]
const YIELD_ATTEMPTS_MAX: u32 = 64;
// Loom explores every interleaving of every attempt: keep the phases one attempt long.
#[cfg(ringex_loom)]
const SPIN_ATTEMPTS_MAX: u32 = 1;
#[cfg(ringex_loom)]
const YIELD_ATTEMPTS_MAX: u32 = 1;

/// Upper bound on one futex sleep. Belt and braces only: every sleeper is woken by the cursor's
/// owner (or by close), so correctness never depends on this timeout expiring.
pub const PARK_TIMEOUT_NS: u64 = 10_000_000;

/// How a stage waits for the cursors it is gated on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Re-read the gate in a tight loop: lowest latency; needs a core per waiting thread.
    BusySpin,
    /// Spin briefly, then `thread::yield_now` between reads.
    Yield,
    /// Spin briefly, then sleep on a futex until the gate's owner wakes us.
    Park,
    /// Spin briefly, then yield for a while, then park: `auto` on a machine with fewer cores
    /// than pinned pipeline threads.
    Backoff,
}

/// One step of a wait loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Busy,
    Spin,
    Yield,
    Park,
}

impl WaitStrategy {
    /// `BusySpin` when the machine has at least one core per pinned pipeline thread, `Backoff`
    /// otherwise.
    pub fn auto_for(threads: usize, cores: usize) -> WaitStrategy {
        assert!(threads > 0);
        if cores >= threads { WaitStrategy::BusySpin } else { WaitStrategy::Backoff }
    }

    /// True when a waiter may sleep, so cursor owners must check for sleepers after each store.
    pub fn may_park(self) -> bool {
        match self {
            WaitStrategy::BusySpin | WaitStrategy::Yield => false,
            WaitStrategy::Park | WaitStrategy::Backoff => true,
        }
    }

    fn step(self, attempt: u32) -> Step {
        match self {
            WaitStrategy::BusySpin => Step::Busy,
            _ if attempt < SPIN_ATTEMPTS_MAX => Step::Spin,
            WaitStrategy::Yield => Step::Yield,
            WaitStrategy::Park => Step::Park,
            WaitStrategy::Backoff if attempt < SPIN_ATTEMPTS_MAX + YIELD_ATTEMPTS_MAX => {
                Step::Yield
            }
            WaitStrategy::Backoff => Step::Park,
        }
    }
}

/// The `--wait` command-line choice, before `auto` is resolved against the core count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitMode {
    /// `auto`: see [`WaitStrategy::auto_for`].
    Auto,
    /// `busy-spin`.
    BusySpin,
    /// `yield`.
    Yield,
    /// `park`.
    Park,
}

impl WaitMode {
    /// The strategy for `threads` pinned pipeline threads on `cores` cores.
    pub fn resolve(self, threads: usize, cores: usize) -> WaitStrategy {
        match self {
            WaitMode::Auto => WaitStrategy::auto_for(threads, cores),
            WaitMode::BusySpin => WaitStrategy::BusySpin,
            WaitMode::Yield => WaitStrategy::Yield,
            WaitMode::Park => WaitStrategy::Park,
        }
    }
}

/// A `--wait` value that is none of `auto|busy-spin|yield|park`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitModeUnknown;

impl fmt::Display for WaitModeUnknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected one of auto, busy-spin, yield, park")
    }
}

impl std::error::Error for WaitModeUnknown {}

impl FromStr for WaitMode {
    type Err = WaitModeUnknown;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(WaitMode::Auto),
            "busy-spin" => Ok(WaitMode::BusySpin),
            "yield" => Ok(WaitMode::Yield),
            "park" => Ok(WaitMode::Park),
            _ => Err(WaitModeUnknown),
        }
    }
}

impl fmt::Display for WaitMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitMode::Auto => "auto",
            WaitMode::BusySpin => "busy-spin",
            WaitMode::Yield => "yield",
            WaitMode::Park => "park",
        })
    }
}

/// The slowest of `gates` (indices into `cursors`): its value and its index.
#[inline(always)]
pub(crate) fn gate_min(cursors: &[CachePadded<Cursor>], gates: &[usize]) -> (u64, usize) {
    let mut slowest = gates[0];
    let mut gate_end = cursors[slowest].load();
    for &gate in &gates[1..] {
        let end = cursors[gate].load();
        if end < gate_end {
            gate_end = end;
            slowest = gate;
        }
    }
    (gate_end, slowest)
}

/// Waits with `strategy` until the slowest of `gates` reaches `target`, and returns its value;
/// returns `None` as soon as `stop()` is true while the gate is still short of `target`.
#[cold]
#[inline(never)]
pub(crate) fn wait_until(
    strategy: WaitStrategy,
    cursors: &[CachePadded<Cursor>],
    gates: &[usize],
    target: u64,
    stop: impl Fn() -> bool,
) -> Option<u64> {
    let mut attempt: u32 = 0;
    loop {
        let (gate_end, slowest) = gate_min(cursors, gates);
        if gate_end >= target {
            return Some(gate_end);
        }
        if stop() {
            return None;
        }
        match strategy.step(attempt) {
            // NB: busy-spin re-reads with PAUSE between reads, as LMAX's BusySpinWaitStrategy
            // (onSpinWait) does: without it the waiter re-reads the gate line so often that the
            // writer keeps losing it, and throughput drops (benches/ring.rs).
            Step::Busy | Step::Spin => spin_loop(),
            Step::Yield => yield_now(),
            Step::Park => cursors[slowest].sleep_until(target, &stop, PARK_TIMEOUT_NS),
        }
        attempt = attempt.saturating_add(1);
    }
}

#[cfg(all(test, not(ringex_loom)))]
mod tests {
    use super::*;

    #[test]
    fn wait_mode_parses_the_cli_strings() {
        let cases = [
            ("auto", Ok(WaitMode::Auto)),
            ("busy-spin", Ok(WaitMode::BusySpin)),
            ("yield", Ok(WaitMode::Yield)),
            ("park", Ok(WaitMode::Park)),
            ("spin", Err(WaitModeUnknown)),
            ("", Err(WaitModeUnknown)),
            ("Park", Err(WaitModeUnknown)),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<WaitMode>(), expected, "{text:?}");
            if let Ok(mode) = expected {
                assert_eq!(mode.to_string(), text);
            }
        }
    }

    #[test]
    fn auto_busy_spins_only_with_a_core_per_thread() {
        let cases = [
            (1, 1, WaitStrategy::BusySpin),
            (2, 2, WaitStrategy::BusySpin),
            (4, 8, WaitStrategy::BusySpin),
            (3, 2, WaitStrategy::Backoff),
            (6, 2, WaitStrategy::Backoff),
        ];
        for (threads, cores, expected) in cases {
            assert_eq!(WaitStrategy::auto_for(threads, cores), expected, "{threads} on {cores}");
            assert_eq!(WaitMode::Auto.resolve(threads, cores), expected);
        }
        assert_eq!(WaitMode::Park.resolve(6, 2), WaitStrategy::Park);
        assert_eq!(WaitMode::BusySpin.resolve(6, 2), WaitStrategy::BusySpin);
    }

    #[test]
    fn backoff_spins_then_yields_then_parks() {
        let strategy = WaitStrategy::Backoff;
        assert_eq!(strategy.step(0), Step::Spin);
        assert_eq!(strategy.step(SPIN_ATTEMPTS_MAX), Step::Yield);
        assert_eq!(strategy.step(SPIN_ATTEMPTS_MAX + YIELD_ATTEMPTS_MAX), Step::Park);
        assert_eq!(WaitStrategy::Park.step(SPIN_ATTEMPTS_MAX), Step::Park);
        assert_eq!(WaitStrategy::Yield.step(u32::MAX), Step::Yield);
        assert_eq!(WaitStrategy::BusySpin.step(u32::MAX), Step::Busy);
    }
}
