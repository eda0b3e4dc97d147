//! Time, read only where a stage may read it: verify (the request window), the sequencer (engine
//! time, stamped into each command), net-in/net-out (timeouts, `GET /time`, emission stamps) and
//! the stage stamps for latency breakdowns. The matcher never reads a clock.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

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
