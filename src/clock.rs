//! Time, read only where a stage may read it: verify (the request window), the sequencer (engine
//! time, stamped into each command), net-in/net-out (timeouts, `GET /time`, emission stamps) and
//! the stage stamps for latency breakdowns. The matcher never reads a clock.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The clocks that decide whether a signed request is in time, Unix µs: [`StageClocks::REAL`]
/// in `serve`. A test that must put a request at an exact instant of its window (verify passing it
/// in the window's last millisecond, the sequencer reading the next) hands the stages clocks of
/// its own; so does a determinism test, which fixes the engine time stamped into commands.
#[derive(Clone, Copy, Debug)]
pub struct StageClocks {
    /// verify's: the first window check, before any signature is paid for.
    pub verify_us: fn() -> u64,
    /// The sequencer's: the window check that decides, replay-cache expiry, the per-key rate
    /// limit, and (never below the journal's last command) the time stamped into each command.
    pub sequencer_us: fn() -> u64,
}

impl StageClocks {
    /// The server's: verify reads the wall clock, the sequencer [`engine_us`].
    pub const REAL: StageClocks = StageClocks { verify_us: wall_us, sequencer_us: engine_us };
}

impl Default for StageClocks {
    fn default() -> Self {
        StageClocks::REAL
    }
}

/// The engine clock's source, Unix µs: the wall clock at the process's first reading plus the
/// monotonic time since, so a step of the wall clock (a bad NTP answer, an operator's `date`)
/// never moves it; slewing still keeps it with the wall clock. Request windows are judged by it.
pub fn engine_us() -> u64 {
    // Both halves of the anchor are read together: pairing the wall clock with `epoch()`, which
    // `monotonic_ns` may have started long before, would put this clock ahead by the gap.
    static ANCHOR: OnceLock<(u64, Instant)> = OnceLock::new();
    let (wall_at_anchor_us, anchor) = *ANCHOR.get_or_init(|| (wall_us(), Instant::now()));
    wall_at_anchor_us + anchor.elapsed().as_micros() as u64
}

/// Unix time in microseconds (vDSO `clock_gettime`, no syscall).
pub fn wall_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_micros() as u64)
}

/// Unix time in milliseconds.
pub fn wall_ms() -> u64 {
    wall_us() / 1000
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Monotonic nanoseconds since the process's clock epoch (first use), never 0.
pub fn monotonic_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64 + 1
}
