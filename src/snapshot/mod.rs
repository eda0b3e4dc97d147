//! Snapshots: the engine's whole state at a journal record, so a restart loads it and replays
//! only the journal after it instead of the journal from record 1.
//!
//! # Design
//!
//! A **follower**, not a pause: the snapshot thread ([`follower`]) holds its own copy of the
//! state — matcher, net-out's view, the sequencer's replay cache and known keys ([`Engine`]) —
//! and keeps it current by reading the durable journal with the same code a restart runs
//! ([`Engine::apply`]). Writing a snapshot serializes that copy, so the live matcher never stops
//! for one (its pause is zero by construction, whatever the state's size); the price is a second
//! copy of the state in memory and the follower's CPU (well under a core: applying a record costs
//! about what the matcher spends on it, and the thread runs at a lower priority). The design
//! choices and their measurements are in `ARCHITECTURE.md`.
//!
//! # Contract
//!
//! - A snapshot covers journal records `1..=record` and only records the journal thread made
//!   durable; it is bound to its journal by that record's chain value and to its configuration
//!   by [`Config::state_fingerprint`](crate::config::Config::state_fingerprint).
//! - [`restore::rebuild`] uses the newest snapshot that passes every check ([`file`]), and the
//!   journal after it; any snapshot it passes over is named on stderr with the reason; with none
//!   usable it replays the whole journal. It never starts from a state it could not check.
//! - Segments wholly covered by the oldest snapshot kept are kept, archived or deleted per
//!   `[journal] retain`; the segment being written never is.

pub mod engine;
pub mod file;
pub mod follower;
pub mod restore;

pub use engine::{BadRecord, Engine};
pub use follower::{FollowerOptions, SnapshotControl};
pub use restore::{RebuildOptions, Rebuilt, rebuild};

#[cfg(test)]
mod tests;
