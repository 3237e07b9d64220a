//! Which sockets the server takes: every accepted TCP connection is counted from the
//! moment `accept` returns until its file descriptor is closed, against the server's
//! limit and against its client address's share.
//!
//! Counting only upgraded WebSockets (as the server once did) let half-open HTTP
//! requests pile up unseen and unbounded. Like Bitcoin Core's `CConnman::AcceptConnection`
//! (which drops an inbound socket at once when `-maxconnections` is reached), a socket
//! over a limit is closed before a byte of it is read: it costs nothing to refuse.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A client address as the limits see it: an IPv4 address, or an IPv6 /64.
///
/// One IPv6 host picks any address in its /64 (privacy addresses, RFC 8981), so
/// counting whole IPv6 addresses would let one laptop escape the per-address cap; a
/// /64 is what one network (or one host) gets. An IPv4-mapped IPv6 address (a
/// dual-stack listener on `[::]`) is its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address(IpAddr);

impl Address {
    /// 127.0.0.1.
    #[cfg(test)]
    pub const LOOPBACK: Address = Address(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    pub fn of(ip: IpAddr) -> Address {
        match ip {
            IpAddr::V4(v4) => Address(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Address(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Address(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// Why an accepted socket is closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    #[error("the server holds its maximum of {0} connections")]
    ServerFull(usize),
    #[error("{address} holds its maximum of {max} connections")]
    AddressFull { address: Address, max: usize },
}

/// The open connections: in all and by address. One mutex covers both counts, so a
/// socket is admitted against both limits at once; it is taken once per accept and
/// once per close, never while anything else is held.
#[derive(Debug)]
pub struct Connections {
    max: usize,
    max_per_address: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    // An address with no connection has no entry, so the map is bounded by the
    // connections themselves.
    by_address: HashMap<Address, usize>,
}

impl Connections {
    pub fn new(max: usize, max_per_address: usize) -> Connections {
        Connections {
            max,
            max_per_address,
            counts: Mutex::new(Counts::default()),
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // The counts are changed in single statements that cannot panic halfway.
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a socket from `address` if both limits allow it; the returned slot
    /// uncounts it when dropped, with the socket.
    pub fn admit(self: &Arc<Self>, address: Address) -> Result<Admitted, AdmitError> {
        let mut counts = self.counts();
        if counts.total >= self.max {
            return Err(AdmitError::ServerFull(self.max));
        }
        let held = counts.by_address.entry(address).or_insert(0);
        if *held >= self.max_per_address {
            return Err(AdmitError::AddressFull {
                address,
                max: self.max_per_address,
            });
        }
        *held += 1;
        counts.total += 1;
        Ok(Admitted {
            connections: self.clone(),
            address,
        })
    }

    /// Open connections, and the addresses they come from.
    pub fn open(&self) -> (usize, usize) {
        let counts = self.counts();
        (counts.total, counts.by_address.len())
    }
}

/// One counted socket; dropping it uncounts it.
#[derive(Debug)]
pub struct Admitted {
    connections: Arc<Connections>,
    address: Address,
}

impl Admitted {
    pub fn address(&self) -> Address {
        self.address
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut counts = self.connections.counts();
        counts.total -= 1;
        if let Some(held) = counts.by_address.get_mut(&self.address) {
            *held -= 1;
            if *held == 0 {
                counts.by_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(text: &str) -> Address {
        Address::of(text.parse().unwrap())
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(address("2001:db8:1:2::1"), address("2001:db8:1:2:ffff::9"));
        assert_ne!(address("2001:db8:1:2::1"), address("2001:db8:1:3::1"));
        assert_eq!(address("::ffff:10.0.0.7"), address("10.0.0.7"));
        assert_ne!(address("10.0.0.7"), address("10.0.0.8"));
        assert_eq!(address("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn the_per_address_cap_leaves_other_addresses_in() {
        let connections = Arc::new(Connections::new(4, 2));
        let a = address("127.0.0.1");
        let b = address("127.0.0.2");
        let first = connections.admit(a).unwrap();
        let _second = connections.admit(a).unwrap();
        assert_eq!(
            connections.admit(a).unwrap_err(),
            AdmitError::AddressFull { address: a, max: 2 }
        );
        let _other = connections.admit(b).unwrap();
        assert_eq!(connections.open(), (3, 2));
        drop(first);
        let _again = connections.admit(a).unwrap();
        let _b2 = connections.admit(b).unwrap();
        assert_eq!(
            connections.admit(address("127.0.0.3")).unwrap_err(),
            AdmitError::ServerFull(4)
        );
    }

    #[test]
    fn closing_everything_leaves_no_entry_behind() {
        let connections = Arc::new(Connections::new(100, 100));
        let slots: Vec<_> = (1..=50)
            .map(|n| connections.admit(address(&format!("10.0.0.{n}"))).unwrap())
            .collect();
        assert_eq!(connections.open(), (50, 50));
        drop(slots);
        assert_eq!(connections.open(), (0, 0));
        assert!(connections.counts().by_address.is_empty());
    }
}
