//! Connections open per client address, for the per-IP connection cap (`[server]
//! connections_per_ip_max`).
//!
//! A client address is keyed by what one party can hold: an IPv4 address whole, an IPv6 address
//! by its /64 (the prefix one subscriber line or host usually gets, so stepping through its
//! 2⁶⁴ addresses gains nothing). An IPv4-mapped IPv6 address counts as its IPv4 address. The two
//! kinds share one `u64` key space: an IPv4 key has its high 32 bits zero, which no IPv6 /64 a
//! client can connect from has (`::/32` holds only reserved space; `::1` and `::` are the only
//! such peers, and they collide only with `0.0.0.0`, which never connects).
//!
//! The table is a [`FixedMap`] sized for `connections_max` addresses, allocated once: a key is
//! counted from accept to close, so there are never more keys than connection slots, and
//! accepting allocates nothing.

use crate::fixed::FixedMap;
use std::net::IpAddr;

/// The connection-cap key of a client address (see the module doc).
pub fn peer_key(address: IpAddr) -> u64 {
    match address.to_canonical() {
        IpAddr::V4(ip) => u64::from(u32::from(ip)),
        IpAddr::V6(ip) => (u128::from(ip) >> 64) as u64,
    }
}

/// Open connections per client key, capped.
pub struct PeerConnections {
    counts: FixedMap,
    per_peer_max: u32,
}

impl PeerConnections {
    /// A table for `connections_max` connections, at most `per_peer_max` per key.
    pub fn new(connections_max: usize, per_peer_max: u32) -> PeerConnections {
        PeerConnections { counts: FixedMap::with_entries_max(connections_max), per_peer_max }
    }

    /// Counts one more connection of `key`, unless it already has its maximum (false).
    pub fn admit(&mut self, key: u64) -> bool {
        let open = self.counts.remove(key).unwrap_or(0);
        let admitted = open < self.per_peer_max;
        let now_open = if admitted { open + 1 } else { open };
        let inserted = self.counts.insert(key, now_open);
        assert!(inserted, "a key per connection slot fits");
        admitted
    }

    /// One connection of `key` closed.
    pub fn release(&mut self, key: u64) {
        let open = self.counts.remove(key).expect("released only what was admitted");
        if open > 1 {
            self.counts.insert(key, open - 1);
        }
    }

    /// Connections open for `key`.
    pub fn open(&self, key: u64) -> u32 {
        self.counts.get(key).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_by_address_ipv6_by_its_64() {
        let v4 = |text: &str| peer_key(text.parse().unwrap());
        assert_ne!(v4("127.0.0.1"), v4("127.0.0.2"));
        assert_eq!(v4("::ffff:127.0.0.1"), v4("127.0.0.1"), "IPv4-mapped is the IPv4 address");
        assert_eq!(v4("2001:db8:1:2::1"), v4("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_ne!(v4("2001:db8:1:2::1"), v4("2001:db8:1:3::1"));
        assert_ne!(v4("2001:db8::1"), v4("32.1.13.184"), "the first word of 2001:db8:: as IPv4");
    }

    #[test]
    fn caps_each_key_and_frees_on_release() {
        let mut peers = PeerConnections::new(8, 2);
        assert!(peers.admit(1) && peers.admit(1));
        assert!(!peers.admit(1), "the third from one key is refused");
        assert!(peers.admit(2), "another key is not");
        assert_eq!((peers.open(1), peers.open(2)), (2, 1));
        peers.release(1);
        assert!(peers.admit(1));
        peers.release(1);
        peers.release(1);
        peers.release(2);
        assert_eq!((peers.open(1), peers.open(2)), (0, 0));
        // Every slot can still hold a distinct key.
        assert!((10..18).all(|key| peers.admit(key)));
    }
}
