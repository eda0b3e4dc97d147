//! `[snapshot]` and `[journal]`: when the engine's state is written to a snapshot, how many are
//! kept, and what becomes of journal segments a snapshot covers. None of it changes the state,
//! so none of it is in [`Config::state_fingerprint`](super::Config::state_fingerprint).

use serde::Deserialize;

/// `[snapshot]`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotSettings {
    /// A snapshot once this many journal records were written since the last one; 0: never by
    /// count.
    pub every_records: u64,
    /// A snapshot once this many seconds passed since the last one, if any record was written
    /// since; 0: never by time.
    pub every_s: u64,
    /// Snapshots kept in the data directory (the newest ones; ≥ 1).
    pub keep: u32,
}

impl Default for SnapshotSettings {
    fn default() -> SnapshotSettings {
        SnapshotSettings { every_records: 1_000_000, every_s: 600, keep: 2 }
    }
}

/// What happens to journal segments wholly covered by the oldest snapshot kept.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Retain {
    /// Kept where they are: a restart can still replay from record 1 (`--from-scratch`).
    #[default]
    All,
    /// Moved to `archive/` under the data directory, out of the restart's way.
    Archive,
    /// Deleted.
    Delete,
}

/// `[journal]`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct JournalSettings {
    /// What becomes of segments a snapshot covers.
    pub retain: Retain,
}

/// Checks `[snapshot]`.
pub(super) fn validate_snapshot(settings: &SnapshotSettings) -> Result<(), String> {
    if settings.keep == 0 {
        return Err("snapshot.keep: at least 1".into());
    }
    Ok(())
}
