//! Address blocks written as CIDR (RFC 4632 §3.1 for IPv4, RFC 4291 §2.3 for IPv6):
//! `"192.0.2.0/24"`, `"2001:db8::/32"`, or a bare address for a single host. Used by
//! `sip.trusted`, the peers whose requests are not challenged.
//!
//! An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket reports for an
//! IPv4 peer) matches the IPv4 blocks, so a trust list does not depend on how the listener
//! was bound.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One address block: the network address and the prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Why a CIDR string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The part before `/` is not an IP address.
    #[error("{text:?} is not an IP address or a block such as \"192.0.2.0/24\"")]
    NotAnAddress {
        /// The text as written.
        text: String,
    },
    /// The prefix length is not a number within the family's bits.
    #[error("prefix length {prefix:?} is not 0 to {max}")]
    BadPrefix {
        /// The prefix as written.
        prefix: String,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
    /// Bits are set after the prefix (`192.0.2.1/24`): probably a typo for the host or the
    /// network, so it is refused rather than guessed.
    #[error("{text:?} has host bits set; write the network address ({network}/{prefix})")]
    HostBits {
        /// The text as written.
        text: String,
        /// The network address the prefix implies.
        network: IpAddr,
        /// The prefix length.
        prefix: u8,
    },
}

impl Cidr {
    /// Whether `ip` is inside the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Cidr, CidrError> {
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| CidrError::NotAnAddress {
                text: text.to_owned(),
            })
            .map(canonical)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max && !p.starts_with('+'))
                .ok_or_else(|| CidrError::BadPrefix {
                    prefix: p.to_owned(),
                    max,
                })?,
        };
        let network = mask(addr, prefix);
        if network != addr {
            return Err(CidrError::HostBits {
                text: text.to_owned(),
                network,
                prefix,
            });
        }
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, everything else unchanged.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::from(mask_octets(v4.octets(), prefix)),
        IpAddr::V6(v6) => IpAddr::from(mask_octets(v6.octets(), prefix)),
    }
}

fn prefix_eq<const N: usize>(a: &[u8; N], b: &[u8; N], prefix: u8) -> bool {
    mask_octets(*a, prefix) == mask_octets(*b, prefix)
}

/// The first `prefix` bits of `octets`, the rest zero.
fn mask_octets<const N: usize>(octets: [u8; N], prefix: u8) -> [u8; N] {
    let mut out = octets;
    for (i, byte) in out.iter_mut().enumerate() {
        let start = (i * 8) as u32;
        let keep = u32::from(prefix).saturating_sub(start).min(8);
        *byte &= if keep == 0 { 0 } else { 0xffu8 << (8 - keep) };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses() {
        let rows = [
            ("192.0.2.0/24", "192.0.2.77", true),
            ("192.0.2.0/24", "192.0.3.1", false),
            ("10.0.0.0/8", "10.255.0.1", true),
            ("192.0.2.128/25", "192.0.2.127", false),
            ("192.0.2.128/25", "192.0.2.200", true),
            ("192.0.2.7", "192.0.2.7", true),
            ("192.0.2.7", "192.0.2.8", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("::1", "::1", true),
            // A dual-stack socket's spelling of an IPv4 peer.
            ("127.0.0.0/8", "::ffff:127.0.0.2", true),
            ("::ffff:127.0.0.1", "127.0.0.1", true),
        ];
        for (block, addr, inside) in rows {
            let cidr: Cidr = block.parse().unwrap();
            assert_eq!(cidr.contains(ip(addr)), inside, "{block} ∋ {addr}");
        }
    }

    #[test]
    fn bad_blocks_are_refused_with_a_reason() {
        let rows = [
            ("example.com", "is not an IP address"),
            ("192.0.2.0/33", "prefix length \"33\" is not 0 to 32"),
            ("2001:db8::/129", "is not 0 to 128"),
            ("192.0.2.0/", "prefix length \"\""),
            ("192.0.2.0/+8", "prefix length \"+8\""),
            ("192.0.2.1/24", "write the network address (192.0.2.0/24)"),
        ];
        for (text, message) in rows {
            let err = text.parse::<Cidr>().unwrap_err().to_string();
            assert!(err.contains(message), "{text}: {err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["192.0.2.0/24", "10.1.2.3/32", "2001:db8::/48"] {
            let cidr: Cidr = text.parse().unwrap();
            assert_eq!(cidr.to_string(), text);
            assert_eq!(cidr.to_string().parse::<Cidr>().unwrap(), cidr);
        }
    }
}
