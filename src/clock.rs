//! Time, read only where a stage may read it: verify (the request window), the sequencer (engine
//! time, stamped into each command), net-in/net-out (timeouts, `GET /time`, emission stamps) and
//! the stage stamps for latency breakdowns. The matcher never reads a clock.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The clocks that decide whether a signed request is in time, Unix µs: the wall clock in
/// `serve`. A test that must put a request at an exact instant of its window (verify passing it
/// in the window's last millisecond, the sequencer reading the next) hands the stages clocks of
/// its own; so does a determinism test, which fixes the engine time stamped into commands.
#[derive(Clone, Copy, Debug)]
pub struct StageClocks {
    /// verify's: the first window check, before any signature is paid for.
    pub verify_us: fn() -> u64,
    /// The sequencer's (the engine clock): the window check that decides, replay-cache expiry,
    /// the per-key rate limit, and the time stamped into each command.
    pub sequencer_us: fn() -> u64,
}

impl StageClocks {
    /// Both read the wall clock.
    pub const WALL: StageClocks = StageClocks { verify_us: wall_us, sequencer_us: wall_us };
}

impl Default for StageClocks {
    fn default() -> Self {
        StageClocks::WALL
    }
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
