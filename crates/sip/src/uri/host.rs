//! Hosts and `hostport` (RFC 3261 §25.1 `host`, `port`; RFC 5118 for IPv6 references).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::UriError;

/// The host of a SIP URI or a Via `sent-by`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A host name, as written (its case and any trailing dot kept).
    Domain(String),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written in brackets).
    Ipv6(Ipv6Addr),
}

impl Host {
    /// Parses a host: a host name, a dotted-quad IPv4 address, or an IPv6 reference in
    /// square brackets. An IPv6 address without brackets is refused.
    pub fn parse(s: &str) -> Result<Host, UriError> {
        if s.is_empty() {
            return Err(UriError::EmptyHost);
        }
        if let Some(inner) = s.strip_prefix('[') {
            let Some(inner) = inner.strip_suffix(']') else {
                return Err(UriError::BadIpv6(s.to_string()));
            };
            return parse_ipv6(inner).map(Host::Ipv6);
        }
        if s.contains(':') {
            return Err(UriError::UnbracketedIpv6(s.to_string()));
        }
        if let Some(ip) = parse_ipv4(s) {
            return Ok(Host::Ipv4(ip));
        }
        if is_hostname(s) {
            Ok(Host::Domain(s.to_string()))
        } else {
            Err(UriError::BadHost(s.to_string()))
        }
    }

    /// Host equality as RFC 3261 §19.1.4 wants it: names compare without regard to case,
    /// addresses by value; a name never equals an address.
    pub fn equivalent(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(ip) => write!(f, "{ip}"),
            Host::Ipv6(ip) => write!(f, "[{ip}]"),
        }
    }
}

impl From<std::net::IpAddr> for Host {
    fn from(ip: std::net::IpAddr) -> Host {
        match ip {
            std::net::IpAddr::V4(v4) => Host::Ipv4(v4),
            std::net::IpAddr::V6(v6) => Host::Ipv6(v6),
        }
    }
}

/// Parses `host [":" port]`. `base` is the offset of `s` in the whole input, for errors.
pub(crate) fn parse_hostport(s: &str, base: usize) -> Result<(Host, Option<u16>), UriError> {
    if s.is_empty() {
        return Err(UriError::EmptyHost);
    }
    let (host, port) = if s.starts_with('[') {
        let Some(close) = s.find(']') else {
            return Err(UriError::BadIpv6(s.to_string()));
        };
        let after = &s[close + 1..];
        let port = if after.is_empty() {
            None
        } else if let Some(p) = after.strip_prefix(':') {
            Some(p)
        } else {
            let ch = after.chars().next().unwrap_or(' ');
            return Err(UriError::IllegalChar {
                ch,
                position: base + close + 1,
                part: "host",
            });
        };
        (&s[..=close], port)
    } else {
        match s.find(':') {
            Some(c) if s[c + 1..].contains(':') => {
                return Err(UriError::UnbracketedIpv6(s.to_string()))
            }
            Some(c) => (&s[..c], Some(&s[c + 1..])),
            None => (s, None),
        }
    };
    let host = Host::parse(host)?;
    let port = port.map(parse_port).transpose()?;
    Ok((host, port))
}

/// A port: decimal digits, 1 to 65535 (leading zeros allowed).
pub(crate) fn parse_port(s: &str) -> Result<u16, UriError> {
    let bad = || UriError::BadPort(s.to_string());
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let mut n: u32 = 0;
    for b in s.bytes() {
        n = n * 10 + u32::from(b - b'0');
        if n > 65535 {
            return Err(bad());
        }
    }
    match u16::try_from(n) {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(bad()),
    }
}

fn parse_ipv6(inner: &str) -> Result<Ipv6Addr, UriError> {
    // std accepts exactly RFC 4291 text forms (including the IPv4-suffixed ones) and no
    // zone identifiers, which matches RFC 3261 `IPv6address`.
    if let Ok(addr) = inner.parse::<Ipv6Addr>() {
        return Ok(addr);
    }
    // RFC 5118 §4.10: the RFC 3261 ABNF lets one extra colon through before an IPv4 tail
    // (`2001:db8:::192.0.2.1`); receivers must tolerate it, reading it as `::`.
    match inner.split_once(":::") {
        Some((head, tail)) if !tail.contains("::") && !head.contains("::") => {
            format!("{head}::{tail}")
                .parse::<Ipv6Addr>()
                .map_err(|_| UriError::BadIpv6(format!("[{inner}]")))
        }
        _ => Err(UriError::BadIpv6(format!("[{inner}]"))),
    }
}

/// RFC 3261 `IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT`, each part at
/// most 255 (leading zeros are decimal, not octal).
pub(crate) fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.as_bytes().split(|&b| b == b'.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 {
            return None;
        }
        // At most three digits, so the sum cannot overflow a u16.
        let mut n: u16 = 0;
        for &b in part {
            if !b.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u16::from(b - b'0');
        }
        *octet = u8::try_from(n).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Addr::from(octets))
}

/// RFC 3261 `hostname = *( domainlabel "." ) toplabel [ "." ]`: labels of letters, digits
/// and inner hyphens; the last label starts with a letter.
fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return false;
    }
    let mut last = "";
    for label in s.split('.') {
        let b = label.as_bytes();
        let (Some(first), Some(end)) = (b.first(), b.last()) else {
            return false;
        };
        if !first.is_ascii_alphanumeric()
            || !end.is_ascii_alphanumeric()
            || !b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
        {
            return false;
        }
        last = label;
    }
    last.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_dotted_quads() {
        // RFC 3261 §25.1 IPv4address: four parts of 1 to 3 decimal digits, each at most 255.
        let rows: [(&str, Option<[u8; 4]>); 12] = [
            ("192.0.2.1", Some([192, 0, 2, 1])),
            ("255.255.255.255", Some([255, 255, 255, 255])),
            ("000.010.0.9", Some([0, 10, 0, 9])),
            ("256.0.0.1", None),
            ("1.2.3", None),
            ("1.2.3.4.5", None),
            ("1..2.3", None),
            ("1234.0.0.1", None),
            ("a.b.c.d", None),
            ("1.2.3.4.", None),
            ("+1.2.3.4", None),
            ("", None),
        ];
        for (text, expected) in rows {
            assert_eq!(parse_ipv4(text), expected.map(Ipv4Addr::from), "{text}");
        }
    }
}
