//! The bad-signature board: how many signatures from each client IP failed lately, so net-in
//! can refuse (429) a source of bad signatures before verify pays for another one.
//!
//! **Why.** A bad signature is the one request that costs full price and buys nothing: checked
//! in a batch, it fails the batch and makes verify find it among the others, a tax on every
//! client whose request shared the batch (`cargo bench --bench verify_bad` measures it). The
//! per-IP rate limit bounds how often an address may ask; this bounds how often it may be wrong.
//!
//! **Shared, lock-free, fixed.** Verify threads write (each failure one compare-and-swap on one
//! cell), net-in reads (one load per request). Neutral ground: neither stage imports the other.
//! A cell packs the address's tag, the window it counts in and the count; an address whose cell
//! holds another's tag starts over in it, so a collision can only forget failures, never blame
//! an address for another's. The administrator is not exempt: a signature that claims to be the
//! administrator's costs as much to check as any other.
//!
//! Counting is per fixed window (`window_s`): past `failures_max` failures in the current
//! window, the address is refused until the window ends.

use std::sync::atomic::{AtomicU64, Ordering};

/// Cells in the board: addresses tracked at once (a power of two).
pub const BOARD_CELLS: usize = 1 << 14;

/// Failures counted per cell saturate here.
const COUNT_MAX: u64 = 0xFFFF;

/// Per-IP failure counts, shared by the verify threads (writers) and net-in (reader).
pub struct BadSignatureBoard {
    cells: Box<[AtomicU64]>,
    /// Failures an address may have in one window before it is refused; 0 turns the board off.
    failures_max: u64,
    window_s: u64,
}

/// A cell's fields: the address's tag (32 bits), the window's number (16 bits, wrapping), the
/// failures in it (16 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cell {
    tag: u32,
    window: u16,
    count: u16,
}

impl Cell {
    fn unpack(bits: u64) -> Cell {
        Cell { tag: (bits >> 32) as u32, window: (bits >> 16) as u16, count: bits as u16 }
    }

    fn pack(self) -> u64 {
        u64::from(self.tag) << 32 | u64::from(self.window) << 16 | u64::from(self.count)
    }
}

impl BadSignatureBoard {
    /// A board refusing an address after `failures_max` bad signatures in a `window_s`-second
    /// window (`failures_max` 0: never).
    pub fn new(failures_max: u64, window_s: u64) -> BadSignatureBoard {
        BadSignatureBoard {
            cells: (0..BOARD_CELLS).map(|_| AtomicU64::new(0)).collect(),
            failures_max: failures_max.min(COUNT_MAX),
            window_s: window_s.max(1),
        }
    }

    /// Whether the board refuses anything.
    pub fn is_enabled(&self) -> bool {
        self.failures_max > 0
    }

    /// The cell of an address and the tag that names it there (a nonzero tag: an empty cell
    /// matches no address).
    fn locate(&self, peer: u128) -> (&AtomicU64, u32) {
        let hash = (peer as u64 ^ (peer >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let cell = &self.cells[hash as usize & (BOARD_CELLS - 1)];
        (cell, ((hash >> 32) as u32).max(1))
    }

    fn window_of(&self, now_ms: u64) -> u16 {
        (now_ms / 1000 / self.window_s) as u16
    }

    /// Verify found a bad signature from `peer` at `now_ms`.
    pub fn note_failure(&self, peer: u128, now_ms: u64) {
        if !self.is_enabled() {
            return;
        }
        let (cell, tag) = self.locate(peer);
        let window = self.window_of(now_ms);
        let mut bits = cell.load(Ordering::Relaxed);
        loop {
            let old = Cell::unpack(bits);
            let count = if old.tag == tag && old.window == window { old.count } else { 0 };
            let new = Cell { tag, window, count: count.saturating_add(1) };
            match cell.compare_exchange_weak(bits, new.pack(), Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(current) => bits = current,
            }
        }
    }

    /// `Some(retry_after_s)` when `peer` has had more than its share of bad signatures in the
    /// current window: refuse its request unread.
    #[inline]
    pub fn refusal(&self, peer: u128, now_ms: u64) -> Option<u32> {
        if !self.is_enabled() {
            return None;
        }
        let (cell, tag) = self.locate(peer);
        let found = Cell::unpack(cell.load(Ordering::Relaxed));
        let refused = found.tag == tag
            && found.window == self.window_of(now_ms)
            && u64::from(found.count) >= self.failures_max;
        refused.then(|| {
            let window_ms = self.window_s * 1000;
            let left_ms = window_ms - now_ms % window_ms;
            left_ms.div_ceil(1000).max(1) as u32
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_refused_after_its_failures_until_the_window_ends() {
        let board = BadSignatureBoard::new(3, 10);
        let (attacker, neighbour) = (0x7F00_0001u128, 0x7F00_0002u128);
        let start_ms = 1_700_000_000_000; // a window boundary: 10 s divides it
        for _ in 0..3 {
            assert_eq!(board.refusal(attacker, start_ms), None);
            board.note_failure(attacker, start_ms);
        }
        assert_eq!(board.refusal(attacker, start_ms + 2_500), Some(8));
        assert_eq!(board.refusal(neighbour, start_ms), None, "only the address that failed");
        assert_eq!(board.refusal(attacker, start_ms + 10_000), None, "a new window");
    }

    #[test]
    fn off_refuses_nothing() {
        let board = BadSignatureBoard::new(0, 10);
        board.note_failure(1, 5_000);
        assert_eq!(board.refusal(1, 5_000), None);
    }

    #[test]
    fn failures_from_threads_add_up() {
        let board = std::sync::Arc::new(BadSignatureBoard::new(400, 60));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let board = board.clone();
                std::thread::spawn(move || (0..100).for_each(|_| board.note_failure(9, 60_000)))
            })
            .collect();
        threads.into_iter().for_each(|thread| thread.join().unwrap());
        assert!(board.refusal(9, 60_000).is_some());
    }
}
