//! Which client an address stands for, wherever clients are counted or limited per address.

use std::net::{IpAddr, Ipv6Addr};

/// The group a client address counts in: an IPv4 address on its own, an IPv6 address by its /64
/// (one host usually holds a whole /64, and could otherwise take a fresh address per request). An
/// IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as a dual-stack socket reports IPv4 peers) is
/// the IPv4 address it maps.
pub fn address_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(text: &str) -> String {
        address_group(text.parse().unwrap()).to_string()
    }

    #[test]
    fn ipv6_counts_by_its_64_and_ipv4_alone() {
        assert_eq!(group("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(group("2001:db8:1:2:aaaa::1"), group("2001:db8:1:2:bbbb::2"));
        assert_ne!(group("2001:db8:1:2::1"), group("2001:db8:1:3::1"));
        assert_eq!(group("192.0.2.1"), "192.0.2.1");
        assert_ne!(group("192.0.2.1"), group("192.0.2.2"));
        assert_eq!(group("::ffff:192.0.2.1"), "192.0.2.1", "an IPv4-mapped peer is its IPv4 address");
    }
}
