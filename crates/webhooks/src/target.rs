//! Where outbound deliveries may go: never to this machine, a private network or link-local
//! addresses (cloud metadata services live there), unless the operator allows it
//! (`WEBHOOK_ALLOW_PRIVATE_TARGETS`). The HTTP adapter applies [`is_forbidden`] to every address a
//! name resolves to, at connect time, so that a name re-pointed after the subscription was made
//! (DNS rebinding) cannot get through.
//!
//! An IPv6 address can carry an IPv4 one: mapped (`::ffff:a.b.c.d`), IPv4-compatible
//! (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`, which a NAT64 gateway on the way forwards to
//! `a.b.c.d`) and 6to4 (`2002:AABB:CCDD::/48`, relayed to `a.b.c.d`). Each is judged by the
//! IPv4 address it carries, so `64:ff9b::7f00:1` is loopback and `2002:a9fe:a9fe::1` the
//! metadata service.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether deliveries must not go to `ip`: loopback, private, shared (CGNAT), link-local,
/// unspecified, broadcast, multicast, documentation and benchmarking ranges, IPv6 unique-local
/// and the deprecated site-local `fec0::/10`, NAT64's local-use prefix, and IPv6 addresses that
/// carry an IPv4 address (mapped, compatible, NAT64, 6to4) that is any of those.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

/// The IPv4 address an IPv6 address stands for on the way to its destination, if it has one.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = ip.segments();
    let octets = ip.octets();
    match segments {
        // NAT64's well-known prefix (RFC 6052): the IPv4 address is the last 32 bits.
        [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => Some(Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15])),
        // 6to4 (RFC 3056): the relay's IPv4 address is bits 16 to 48.
        [0x2002, ..] => Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5])),
        // Mapped (`::ffff:a.b.c.d`) and, deprecated but still routed by some stacks, compatible
        // (`::a.b.c.d`): `::` and `::1` are IPv6's own, not 0.0.0.0 and 0.0.0.1.
        _ if ip.is_loopback() || ip.is_unspecified() => None,
        _ => ip.to_ipv4(),
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
    let [first, second, ..] = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique-local fc00::/7.
        || (first & 0xfe00) == 0xfc00
        // Link-local fe80::/10.
        || (first & 0xffc0) == 0xfe80
        // Site-local fec0::/10: deprecated (RFC 3879) but still routed inside some networks.
        || (first & 0xffc0) == 0xfec0
        // Documentation 2001:db8::/32.
        || (first == 0x2001 && second == 0x0db8)
        // NAT64's local-use prefix 64:ff9b:1::/48 (RFC 8215): translated inside this network,
        // with the IPv4 address wherever the operator chose to put it.
        || (first == 0x0064 && second == 0xff9b && ip.segments()[2] == 0x0001)
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
            "::127.0.0.1",
        ] {
            assert!(forbidden(internal), "{internal} must be refused");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "172.32.0.1", "::ffff:1.1.1.1"] {
            assert!(!forbidden(public), "{public} is public");
        }
    }

    #[test]
    fn nat64_addresses_are_judged_by_the_ipv4_address_in_their_last_32_bits() {
        for internal in
            ["64:ff9b::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::10.0.0.1", "64:ff9b::c0a8:101"]
        {
            assert!(forbidden(internal), "{internal} must be refused");
        }
        assert_eq!(embedded_v4("64:ff9b::a9fe:a9fe".parse().unwrap()), Some(Ipv4Addr::new(169, 254, 169, 254)));
        for public in ["64:ff9b::1.1.1.1", "64:ff9b::5db8:d822"] {
            assert!(!forbidden(public), "{public} carries a public address");
        }
        assert!(forbidden("64:ff9b:1::1.1.1.1"), "the local-use prefix is translated inside this network");
    }

    #[test]
    fn six_to_four_addresses_are_judged_by_the_ipv4_address_in_bits_16_to_48() {
        for internal in
            ["2002:7f00:1::", "2002:7f00:1::1", "2002:a9fe:a9fe::1", "2002:a00:1:ffff::1", "2002:c0a8:101::"]
        {
            assert!(forbidden(internal), "{internal} must be refused");
        }
        assert_eq!(embedded_v4("2002:a9fe:a9fe::1".parse().unwrap()), Some(Ipv4Addr::new(169, 254, 169, 254)));
        assert!(!forbidden("2002:101:101::1"), "6to4 of 1.1.1.1");
    }

    #[test]
    fn site_local_addresses_are_refused() {
        for internal in ["fec0::1", "fed0::1", "feff:ffff::1"] {
            assert!(forbidden(internal), "{internal} is in fec0::/10");
        }
    }
}
