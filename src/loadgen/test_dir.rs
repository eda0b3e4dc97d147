//! Tests only: a directory of a test's own under the system's temporary directory.

use std::path::PathBuf;

/// `ringex-<name>-<pid>` under the temporary directory, empty when made, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Makes it (replacing what an earlier run left).
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("ringex-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
