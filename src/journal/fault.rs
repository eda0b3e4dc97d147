//! A test-only hook that makes the journal's Nth `write` or `fdatasync` fail as a full or broken
//! disk would, so the suite can show the fail-stop path end to end (`tests/cli.rs`) without a
//! special filesystem. Read once, when the writer opens, from [`INJECT_FAULT_ENV`]:
//! `write-enospc:N` (the Nth batch write fails with ENOSPC) or `fdatasync-eio:N` (the Nth sync
//! fails with EIO). Unset in every real run: nothing is injected.

use std::io;

/// The environment variable naming the fault.
pub const INJECT_FAULT_ENV: &str = "RINGEX_INJECT_JOURNAL_FAULT";

/// The operation a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A batch's `pwrite`.
    Write,
    /// An `fdatasync`.
    Sync,
}

/// The fault to inject, if any, and how many of its operations have run.
#[derive(Debug, Default)]
pub struct InjectedFault {
    fault: Option<(Operation, u64, i32)>,
    seen: u64,
}

impl InjectedFault {
    /// The fault [`INJECT_FAULT_ENV`] names (none when unset or unreadable).
    pub fn from_env() -> InjectedFault {
        let fault = std::env::var(INJECT_FAULT_ENV).ok().and_then(|text| {
            let (name, count) = text.split_once(':')?;
            let count: u64 = count.parse().ok()?;
            match name {
                "write-enospc" => Some((Operation::Write, count, libc::ENOSPC)),
                "fdatasync-eio" => Some((Operation::Sync, count, libc::EIO)),
                _ => None,
            }
        });
        InjectedFault { fault, seen: 0 }
    }

    /// Counts one `operation`; the error to fail it with when it is the Nth of the fault's kind.
    #[inline]
    pub fn hit(&mut self, operation: Operation) -> Option<io::Error> {
        let (kind, count, errno) = self.fault?;
        if kind != operation {
            return None;
        }
        self.seen += 1;
        (self.seen == count).then(|| io::Error::from_raw_os_error(errno))
    }
}
