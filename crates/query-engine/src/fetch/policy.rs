//! Which addresses a dataset URL may reach: the blocked ranges of behaviour.md §3.3 and the self-hosting
//! exceptions (`datasets.allowed_hosts`, `datasets.allowed_cidrs`, `datasets.allow_private_networks`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Text that is not `address/prefix`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a network in CIDR form: {0:?}")]
pub struct CidrParseError(pub String);

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = CidrParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let refuse = || CidrParseError(s.to_owned());
        let (address, prefix) = s.trim().split_once('/').ok_or_else(refuse)?;
        let network: IpAddr = address.parse().map_err(|_| refuse())?;
        let prefix: u8 = prefix.parse().map_err(|_| refuse())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(refuse());
        }
        Ok(Self { network, prefix })
    }
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

impl Cidr {
    const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Self {
        Self {
            network: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    const fn v6(segments: [u16; 8], prefix: u8) -> Self {
        let s = segments;
        Self {
            network: IpAddr::V6(Ipv6Addr::new(
                s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
            )),
            prefix,
        }
    }

    /// Whether `ip` is inside this network (families never match each other).
    pub fn contains(&self, ip: IpAddr) -> bool {
        if self.network.is_ipv4() != ip.is_ipv4() {
            return false;
        }
        let ((network, width), (address, _)) = (bits(self.network), bits(ip));
        if self.prefix == 0 {
            return true;
        }
        let shift = u32::from(width - self.prefix);
        (network >> shift) == (address >> shift)
    }
}

const BLOCKED_V4: [Cidr; 15] = [
    Cidr::v4(0, 0, 0, 0, 8),
    Cidr::v4(10, 0, 0, 0, 8),
    Cidr::v4(100, 64, 0, 0, 10),
    Cidr::v4(127, 0, 0, 0, 8),
    Cidr::v4(169, 254, 0, 0, 16),
    Cidr::v4(172, 16, 0, 0, 12),
    Cidr::v4(192, 0, 0, 0, 24),
    Cidr::v4(192, 0, 2, 0, 24),
    Cidr::v4(192, 88, 99, 0, 24),
    Cidr::v4(192, 168, 0, 0, 16),
    Cidr::v4(198, 18, 0, 0, 15),
    Cidr::v4(198, 51, 100, 0, 24),
    Cidr::v4(203, 0, 113, 0, 24),
    Cidr::v4(224, 0, 0, 0, 4),
    Cidr::v4(240, 0, 0, 0, 4),
];

const BLOCKED_V6: [Cidr; 13] = [
    Cidr::v6([0, 0, 0, 0, 0, 0, 0, 0], 128),
    Cidr::v6([0, 0, 0, 0, 0, 0, 0, 1], 128),
    Cidr::v6([0, 0, 0, 0, 0, 0, 0, 0], 96),
    Cidr::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
    Cidr::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
    Cidr::v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
    Cidr::v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
    Cidr::v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),
    Cidr::v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
    Cidr::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
    Cidr::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
    Cidr::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
    Cidr::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
];

/// Networks whose last 32 bits are an IPv4 address that must pass the IPv4 list.
const EMBEDDING_V4: [Cidr; 2] = [
    Cidr::v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96),
    Cidr::v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96),
];

/// Whether an address is in a blocked range (an embedded IPv4 address counts as itself).
pub fn is_blocked(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => BLOCKED_V4.iter().any(|c| c.contains(ip)),
        IpAddr::V6(v6) => {
            if EMBEDDING_V4.iter().any(|c| c.contains(ip)) {
                let o = v6.octets();
                return is_blocked(IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15])));
            }
            BLOCKED_V6.iter().any(|c| c.contains(ip))
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
            || self.allowed_cidrs.iter().any(|c| c.contains(ip))
    }
}
