//! Which addresses a dataset URL may reach: the blocked ranges of docs/api.md, "Datasets" and the self-hosting
//! exceptions (`datasets.allowed_hosts`, `datasets.allowed_cidrs`, `datasets.allow_private_networks`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// An IPv4 or IPv6 network in CIDR form (`10.0.0.0/8`, `fd00::/8`); families never contain each other.
pub type Cidr = IpNet;

/// Text that is not `address/prefix`.
pub type CidrParseError = ipnet::AddrParseError;

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(s: [u16; 8], prefix: u8) -> Ipv6Net {
    Ipv6Net::new_assert(
        Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]),
        prefix,
    )
}

const BLOCKED_V4: [Ipv4Net; 15] = [
    v4(0, 0, 0, 0, 8),
    v4(10, 0, 0, 0, 8),
    v4(100, 64, 0, 0, 10),
    v4(127, 0, 0, 0, 8),
    v4(169, 254, 0, 0, 16),
    v4(172, 16, 0, 0, 12),
    v4(192, 0, 0, 0, 24),
    v4(192, 0, 2, 0, 24),
    v4(192, 88, 99, 0, 24),
    v4(192, 168, 0, 0, 16),
    v4(198, 18, 0, 0, 15),
    v4(198, 51, 100, 0, 24),
    v4(203, 0, 113, 0, 24),
    v4(224, 0, 0, 0, 4),
    v4(240, 0, 0, 0, 4),
];

const BLOCKED_V6: [Ipv6Net; 13] = [
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 96),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
];

/// Networks whose last 32 bits are an IPv4 address that must pass the IPv4 list.
const EMBEDDING_V4: [Ipv6Net; 2] = [
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),
];

/// Whether an address is in a blocked range (an embedded IPv4 address counts as itself).
pub fn is_blocked(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => BLOCKED_V4.iter().any(|c| c.contains(&v4)),
        IpAddr::V6(v6) => {
            if EMBEDDING_V4.iter().any(|c| c.contains(&v6)) {
                let o = v6.octets();
                return is_blocked(IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15])));
            }
            BLOCKED_V6.iter().any(|c| c.contains(&v6))
        }
    }
}

/// The guard's view of the configuration.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// `datasets.allow_private_networks`: skip the address check entirely.
    pub allow_private_networks: bool,
    /// `datasets.allowed_hosts`: exact names or `*.example.org`, lower-cased.
    pub allowed_hosts: Vec<String>,
    /// `datasets.allowed_cidrs`.
    pub allowed_cidrs: Vec<Cidr>,
}

impl AddressPolicy {
    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed_hosts
            .iter()
            .any(|allowed| match allowed.strip_prefix("*.") {
                Some(parent) => host
                    .strip_suffix(parent)
                    .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1),
                None => *allowed == host,
            })
    }

    /// May a connection for `host` go to `ip`?
    pub fn allows(&self, host: Option<&str>, ip: IpAddr) -> bool {
        self.allow_private_networks
            || !is_blocked(ip)
            || host.is_some_and(|h| self.host_allowed(h))
            || self.allowed_cidrs.iter().any(|c| c.contains(&ip))
    }
}
