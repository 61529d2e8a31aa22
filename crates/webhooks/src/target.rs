//! Where outbound deliveries may go: never to this machine, a private network or link-local
//! addresses (cloud metadata services live there), unless the operator allows it
//! (`WEBHOOK_ALLOW_PRIVATE_TARGETS`). The HTTP adapter applies [`is_forbidden`] to every address a
//! name resolves to, at connect time, so that a name re-pointed after the subscription was made
//! (DNS rebinding) cannot get through.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether deliveries must not go to `ip`: loopback, private, shared (CGNAT), link-local,
/// unspecified, broadcast, multicast, documentation and benchmarking ranges, IPv6 unique-local,
/// and IPv4 addresses wrapped in IPv6 that are any of those.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..=127).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // IPv4-compatible (deprecated) and NAT64 forms can smuggle an internal IPv4 address.
        || ip.to_ipv4().is_some_and(forbidden_v4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forbidden(s: &str) -> bool {
        is_forbidden(s.parse().unwrap())
    }

    #[test]
    fn internal_addresses_are_refused_and_public_ones_allowed() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(forbidden(internal), "{internal} must be refused");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "172.32.0.1"] {
            assert!(!forbidden(public), "{public} is public");
        }
    }
}
