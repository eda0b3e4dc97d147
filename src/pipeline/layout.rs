//! Which stages share a thread: `--layout auto|split|fused`.
//!
//! - `split`: a thread per stage (net-in, verify ×N, sequencer, journal, matcher, net-out), as
//!   LMAX runs it: with a core for each, pinned and busy-spinning, a hop between stages costs a
//!   cache-line transfer and nothing else.
//! - `fused`: verify, sequencer, matcher and net-out called in turn on one thread (`fused.rs`),
//!   with net-in and the journal on their own (plus `N − 1` helper verify threads if asked
//!   for). With fewer cores than threads every hop between stage threads is a scheduler
//!   wake-up (64 µs p50 between the two vCPUs measured by `ringex floor` on the Intel VM, against
//!   a 3.8 µs loopback round trip on one core); fused, a request meets one, between net-in and
//!   the fused thread, instead of four.
//! - `single`: net-in too on that thread, which sleeps in its poll: a request wakes one thread,
//!   the one that answers it; the journal keeps its own (it waits on the disk).
//!
//! `auto` picks `split` when every thread of a split pipeline with one verifier has a core of its
//! own, and `single` otherwise.

use std::fmt;
use std::str::FromStr;

/// Threads of a split pipeline besides the verifiers: net-in, sequencer, journal, matcher,
/// net-out.
pub const SPLIT_FIXED_THREADS: usize = 5;
/// Threads of a fused pipeline besides its helper verifiers: net-in, the fused thread (the
/// first verifier, the sequencer, the matcher and net-out), journal.
pub const FUSED_FIXED_THREADS: usize = 3;
/// Threads of a single-thread pipeline besides its helper verifiers: the one thread, journal.
pub const SINGLE_FIXED_THREADS: usize = 2;

/// A resolved layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A thread per stage.
    Split,
    /// Verify, sequencer, matcher and net-out on one thread.
    Fused,
    /// Net-in, verify, sequencer, matcher and net-out on one thread.
    Single,
}

impl Layout {
    /// Its `--layout` name.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Split => "split",
            Layout::Fused => "fused",
            Layout::Single => "single",
        }
    }

    /// Verify threads when `--verify-threads` is not given: the cores a split pipeline leaves
    /// to verification; for a fused one, the fused thread plus a helper per core beyond its
    /// fixed threads.
    pub fn verify_threads_default(self, cores: usize) -> usize {
        match self {
            Layout::Split => cores.saturating_sub(SPLIT_FIXED_THREADS).max(1),
            Layout::Fused => 1 + cores.saturating_sub(FUSED_FIXED_THREADS),
            Layout::Single => 1 + cores.saturating_sub(SINGLE_FIXED_THREADS),
        }
    }

    /// The pipeline's threads with `verify_threads` verifiers (the journal's included: it is
    /// there in both durable modes).
    pub fn threads(self, verify_threads: usize) -> usize {
        let verify_threads = verify_threads.max(1);
        match self {
            Layout::Split => SPLIT_FIXED_THREADS + verify_threads,
            Layout::Fused => FUSED_FIXED_THREADS + verify_threads - 1,
            Layout::Single => SINGLE_FIXED_THREADS + verify_threads - 1,
        }
    }

    /// One line for the start-up log.
    pub fn describe(self, verify_threads: usize) -> String {
        let fused = match self {
            Layout::Split => {
                let plural = if verify_threads == 1 { "" } else { "s" };
                return format!(
                    "layout split: a thread per stage, {verify_threads} verify thread{plural}"
                );
            }
            Layout::Fused => "verify, sequencer, matcher and net-out",
            Layout::Single => "net-in, verify, sequencer, matcher and net-out",
        };
        let helpers = match verify_threads.saturating_sub(1) {
            0 => String::new(),
            helpers => format!(", with {helpers} helper verify thread(s)"),
        };
        format!("layout {}: {fused} on one thread{helpers}", self.name())
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `--layout` choice, before `auto` is resolved against the core count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutMode {
    /// `auto`: see the module doc.
    Auto,
    /// `split`.
    Split,
    /// `fused`.
    Fused,
    /// `single`.
    Single,
}

impl LayoutMode {
    /// The layout on `cores` cores.
    pub fn resolve(self, cores: usize) -> Layout {
        match self {
            LayoutMode::Auto if cores > SPLIT_FIXED_THREADS => Layout::Split,
            LayoutMode::Auto => Layout::Single,
            LayoutMode::Split => Layout::Split,
            LayoutMode::Fused => Layout::Fused,
            LayoutMode::Single => Layout::Single,
        }
    }
}

/// A `--layout` value that is none of `auto|split|fused`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayoutModeUnknown;

impl fmt::Display for LayoutModeUnknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("expected one of auto, split, fused, single")
    }
}

impl std::error::Error for LayoutModeUnknown {}

impl FromStr for LayoutMode {
    type Err = LayoutModeUnknown;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(LayoutMode::Auto),
            "split" => Ok(LayoutMode::Split),
            "fused" => Ok(LayoutMode::Fused),
            "single" => Ok(LayoutMode::Single),
            _ => Err(LayoutModeUnknown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_splits_only_with_a_core_per_thread() {
        // A split pipeline with one verifier is six threads.
        for (cores, expected) in
            [(1, Layout::Single), (2, Layout::Single), (5, Layout::Single), (6, Layout::Split)]
        {
            assert_eq!(LayoutMode::Auto.resolve(cores), expected, "{cores} cores");
        }
        assert_eq!(LayoutMode::Split.resolve(2), Layout::Split);
        assert_eq!(LayoutMode::Fused.resolve(64), Layout::Fused);
    }

    #[test]
    fn verify_threads_fill_the_cores_the_other_stages_leave() {
        assert_eq!(Layout::Split.verify_threads_default(2), 1);
        assert_eq!(Layout::Split.verify_threads_default(20), 15);
        assert_eq!(Layout::Fused.verify_threads_default(2), 1);
        assert_eq!(Layout::Fused.verify_threads_default(3), 1);
        assert_eq!(Layout::Fused.verify_threads_default(5), 3);
        // Threads per layout: split 5 + N, fused 3 + helpers.
        assert_eq!(Layout::Split.threads(15), 20);
        assert_eq!(Layout::Fused.threads(1), 3);
        assert_eq!(Layout::Fused.threads(2), 4);
        assert_eq!(Layout::Single.verify_threads_default(2), 1);
        assert_eq!(Layout::Single.threads(1), 2);
    }

    #[test]
    fn layout_parses_the_cli_strings() {
        assert_eq!("auto".parse(), Ok(LayoutMode::Auto));
        assert_eq!("split".parse(), Ok(LayoutMode::Split));
        assert_eq!("fused".parse(), Ok(LayoutMode::Fused));
        assert_eq!("single".parse(), Ok(LayoutMode::Single));
        assert_eq!("Fused".parse::<LayoutMode>(), Err(LayoutModeUnknown));
        assert_eq!(
            Layout::Fused.describe(1),
            "layout fused: verify, sequencer, matcher and net-out on one thread"
        );
        assert!(Layout::Single.describe(3).ends_with("one thread, with 2 helper verify thread(s)"));
        assert_eq!(Layout::Split.describe(1), "layout split: a thread per stage, 1 verify thread");
        assert!(Layout::Split.describe(3).contains("3 verify threads"));
    }
}
