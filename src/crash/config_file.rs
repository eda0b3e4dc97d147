//! The configuration `ringex crash-cycles` runs the server with: the embedded default, with the
//! order-history quota and scan bound raised so that every order one cycle acknowledges can be
//! found again, and `[snapshot] every_records` when `--snapshot-every-records` is given.
//!
//! Built as a TOML table rather than by editing text, so another table (or key) is one more
//! `insert` here. `[snapshot] every_records` is set only when asked for (the embedded default's
//! table otherwise).

use super::Error;
use crate::config::{Config, DEFAULT_TOML};
use std::path::{Path, PathBuf};

/// The file's name in the work directory.
pub const FILE_NAME: &str = "ringex.toml";

/// Writes `dir/ringex.toml`; returns its path and the configuration as the server reads it.
pub fn write(
    dir: &Path,
    accounts: usize,
    snapshot_every_records: Option<u64>,
) -> Result<(PathBuf, Config), Error> {
    let mut table: toml::Table = toml::from_str(DEFAULT_TOML).expect("the default parses");
    let server = table
        .entry("server")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .expect("[server] is a table");
    let pool =
        server.get("orders_history_max").and_then(toml::Value::as_integer).unwrap_or(1 << 20);
    // Every account's share of the pool, so no account's records are evicted by another's
    // (history.rs: with accounts × quota ≤ pool nobody loses a record to anyone else).
    let quota = (pool / accounts.max(1) as i64).max(10_000);
    server.insert("orders_history_per_account_max".into(), toml::Value::Integer(quota));
    server.insert("history_scan_max".into(), toml::Value::Integer(quota));
    if let Some(every) = snapshot_every_records {
        let mut snapshot = toml::Table::new();
        snapshot.insert("every_records".into(), toml::Value::Integer(every as i64));
        table.insert("snapshot".into(), toml::Value::Table(snapshot));
    }
    let text = toml::to_string(&table).expect("a table serializes");
    let config = Config::from_toml(&text)
        .map_err(|error| Error::Failed(format!("configuration: {error}")))?;
    let path = dir.join(FILE_NAME);
    std::fs::write(&path, text)
        .map_err(|error| Error::Failed(format!("{}: {error}", path.display())))?;
    Ok((path, config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::test_dir::TempDir;

    #[test]
    fn the_history_quota_is_raised_and_the_snapshot_interval_is_set_only_when_given() {
        let dir = TempDir::new("crash-config");
        let (path, config) = write(&dir.0, 8, None).unwrap();
        assert_eq!(config.server.orders_history_per_account_max, 131_072);
        assert_eq!(config.server.history_scan_max, 131_072);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(Config::from_toml(&text).is_ok());
        // Without the flag, the embedded default's snapshots.
        assert_eq!(config.snapshot, Config::embedded_default().snapshot);
        let (path, config) = write(&dir.0, 8, Some(50_000)).unwrap();
        assert_eq!(config.snapshot.every_records, 50_000);
        let table: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(table["snapshot"]["every_records"].as_integer(), Some(50_000));
        assert_eq!(table["markets"].as_array().unwrap().len(), 3);
    }
}
