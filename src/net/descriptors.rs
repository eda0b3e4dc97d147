//! The process's descriptor limit (`RLIMIT_NOFILE`), raised at start to what the configured
//! connections need.
//!
//! Each connection is a descriptor; the server needs [`DESCRIPTORS_RESERVED`] more of its own
//! (standard streams, the listener, the polls and their wakers, journal segments and directory,
//! net-in's reserve descriptor, one more in flight at accept) — counted generously, since running
//! short costs refused connections and too many costs nothing. Many systems start processes with
//! a soft limit of 1,024, below the default `connections_max` plus these.
//!
//! The soft limit is raised up to the hard limit (which an unprivileged process cannot raise).
//! When even the hard limit is too low, `connections_max` is lowered to what fits and the caller
//! says so on stderr in one line: the server still starts, serving fewer connections, rather than
//! failing at the worst moment with `EMFILE` (which net-in survives anyway: `stage/accept.rs`).

/// Descriptors the server needs besides one per connection.
pub const DESCRIPTORS_RESERVED: u64 = 64;

/// What [`fit_connections`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DescriptorLimit {
    /// The soft limit now in force.
    pub soft: u64,
    /// The hard limit.
    pub hard: u64,
    /// The connections that fit (`connections_max`, or fewer when the hard limit is too low).
    pub connections_max: usize,
}

impl DescriptorLimit {
    /// One line for stderr when `connections_max` had to be lowered from `wanted`, else `None`.
    pub fn warning(&self, wanted: usize) -> Option<String> {
        (self.connections_max < wanted).then(|| {
            format!(
                "warning: the descriptor limit (hard {}) fits {} connections, not \
                 server.connections_max = {wanted}: serving {} (raise `ulimit -Hn`)",
                self.hard, self.connections_max, self.connections_max
            )
        })
    }
}

/// The connections that fit `hard` descriptors, and the soft limit they need.
pub fn plan(connections_max: usize, soft: u64, hard: u64) -> DescriptorLimit {
    let needed = connections_max as u64 + DESCRIPTORS_RESERVED;
    let soft = soft.max(needed.min(hard));
    let fits = hard.saturating_sub(DESCRIPTORS_RESERVED).max(1);
    DescriptorLimit { soft, hard, connections_max: connections_max.min(fits as usize) }
}

/// Raises the soft descriptor limit for `connections_max` connections (see the module doc).
pub fn fit_connections(connections_max: usize) -> std::io::Result<DescriptorLimit> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` writes the current limits into a live `rlimit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let planned = plan(connections_max, limit.rlim_cur, limit.rlim_max);
    if planned.soft != limit.rlim_cur {
        let raised = libc::rlimit { rlim_cur: planned.soft, rlim_max: limit.rlim_max };
        // SAFETY: `setrlimit` reads a live `rlimit`; the soft value is at most the hard one.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(planned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_the_soft_limit_up_to_the_hard_one_and_lowers_connections_past_it() {
        let reserved = DESCRIPTORS_RESERVED;
        assert_eq!(
            plan(1024, 1024, 1 << 20),
            DescriptorLimit { soft: 1024 + reserved, hard: 1 << 20, connections_max: 1024 }
        );
        // Never lowered.
        assert_eq!(plan(1024, 50_000, 1 << 20).soft, 50_000);
        // The hard limit is too low: everything it allows, and fewer connections.
        let low = plan(1024, 256, 512);
        assert_eq!(low, DescriptorLimit { soft: 512, hard: 512, connections_max: 448 });
        assert!(low.warning(1024).unwrap().contains("fits 448 connections"));
        assert_eq!(plan(1024, 1024, 1 << 20).warning(1024), None);
    }
}
