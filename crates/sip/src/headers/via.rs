//! The Via header (RFC 3261 §20.42, §18.2.1; `rport` from RFC 3581; IPv6 per RFC 5118).
//!
//! `Via: SIP/2.0/UDP host:port;branch=z9hG4bK...;received=...;rport=...`. White space is
//! allowed around each `/`, around the `:` of `sent-by` and around `;` (RFC 4475 §3.1.1.1).
//! The well-known parameters are checked when the value is parsed, so the accessors only
//! read: `ttl` 0 to 255, `maddr` a host, `received` an IP address (with or without
//! brackets, RFC 5118 §4.6), `rport` empty or a port, `branch` a token.

use std::fmt;
use std::fmt::Write as _;
use std::net::IpAddr;

use super::{parse_number, Header, HeaderError};
use crate::header_name::HeaderName;
use crate::params::Params;
use crate::text;
use crate::uri::{parse_hostport, Host};

/// The prefix of a branch made by an RFC 3261 element (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via value: the hop a request took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// The transport the request was sent over.
    pub transport: Transport,
    /// The host of `sent-by`.
    pub host: Host,
    /// The port of `sent-by`, when written.
    pub port: Option<u16>,
    /// The parameters (`branch`, `received`, `rport`, ...), as written.
    pub params: Params,
}

/// The transport in `SIP/2.0/<transport>` (RFC 3261 §20.42, RFC 7118 for WebSocket).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// SCTP.
    Sctp,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
    /// Any other transport token, as written.
    Other(String),
}

impl Transport {
    /// Reads a transport token (any case).
    pub fn parse(s: &str) -> Option<Transport> {
        if !text::is_token(s) {
            return None;
        }
        let known = [
            ("UDP", Transport::Udp),
            ("TCP", Transport::Tcp),
            ("TLS", Transport::Tls),
            ("SCTP", Transport::Sctp),
            ("WS", Transport::Ws),
            ("WSS", Transport::Wss),
        ];
        Some(
            known
                .into_iter()
                .find(|(name, _)| s.eq_ignore_ascii_case(name))
                .map_or_else(|| Transport::Other(s.to_string()), |(_, t)| t),
        )
    }

    /// The token as written on the wire (upper case for the known transports).
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(s) => s,
        }
    }

    /// Whether the transport delivers reliably, which changes the transaction timers
    /// (RFC 3261 §17.1.1.2). Unknown transports count as unreliable.
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp | Transport::Other(_))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Via {
    /// A Via with a branch: `SIP/2.0/<transport> host[:port];branch=<branch>`.
    pub fn new(transport: Transport, host: Host, port: Option<u16>, branch: &str) -> Via {
        let mut params = Params::new();
        params.push("branch", Some(branch.to_string()));
        Via {
            transport,
            host,
            port,
            params,
        }
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// Whether the branch starts with [`MAGIC_COOKIE`] (an RFC 3261 transaction id).
    pub fn has_magic_cookie(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` address, brackets removed.
    pub fn received(&self) -> Option<IpAddr> {
        self.params.value("received").and_then(parse_ip)
    }

    /// `None` without `rport`; `Some(None)` for a bare `rport` (the client asks for it);
    /// `Some(Some(port))` once a server filled it in.
    pub fn rport(&self) -> Option<Option<u16>> {
        let p = self.params.get("rport")?;
        Some(p.value.as_deref().and_then(|v| v.parse().ok()))
    }

    /// The `maddr` parameter as a host.
    pub fn maddr(&self) -> Option<Host> {
        self.params.value("maddr").and_then(|m| Host::parse(m).ok())
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.params.value("ttl").and_then(|t| t.parse().ok())
    }

    /// Sets `received` (RFC 3261 §18.2.1). IPv6 addresses are written without brackets, as
    /// the RFC 3261 grammar has it.
    pub fn set_received(&mut self, ip: IpAddr) {
        self.params.set("received", Some(ip.to_string()));
    }

    /// Sets `rport`: bare with `None`, with a port number otherwise (RFC 3581 §4).
    pub fn set_rport(&mut self, port: Option<u16>) {
        self.params.set("rport", port.map(|p| p.to_string()));
    }

    /// Sets the branch. The caller passes a token.
    pub fn set_branch(&mut self, branch: &str) {
        self.params.set("branch", Some(branch.to_string()));
    }
}

impl Header for Via {
    const NAME: HeaderName = HeaderName::Via;
    const LIST: bool = true;

    fn parse(value: &str) -> Result<Via, HeaderError> {
        let s = text::trim_wsp(value);
        if s.is_empty() {
            return Err(HeaderError::Empty);
        }
        let (name, s) = take_token(s).ok_or(HeaderError::Syntax("missing protocol name"))?;
        let s = slash(s)?;
        let (version, s) = take_token(s).ok_or(HeaderError::Syntax("missing protocol version"))?;
        let s = slash(s)?;
        let (transport, s) = take_token(s).ok_or(HeaderError::Syntax("missing transport"))?;
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err(HeaderError::Syntax("Via protocol must be SIP/2.0"));
        }
        let transport = Transport::parse(transport).ok_or(HeaderError::Syntax("bad transport"))?;
        if !s.starts_with([' ', '\t']) {
            return Err(HeaderError::Syntax("missing sent-by after the transport"));
        }
        let s = s.trim_start_matches([' ', '\t']);
        let end = s.find(';').unwrap_or(s.len());
        // COLON = SWS ":" SWS: drop white space around the ':' before reading host:port.
        // The rewrite (and its allocations) is needed only when there is white space.
        let sent_by = text::trim_wsp(&s[..end]);
        let (host, port) = if sent_by.contains([' ', '\t']) {
            let parts: Vec<&str> = sent_by.split(':').map(text::trim_wsp).collect();
            parse_hostport(&parts.join(":"), 0)?
        } else {
            parse_hostport(sent_by, 0)?
        };
        let params = Params::parse_header_params(&s[end..])?;
        check_params(&params)?;
        Ok(Via {
            transport,
            host,
            port,
            params,
        })
    }

    fn write(&self, out: &mut String) {
        out.push_str("SIP/2.0/");
        out.push_str(self.transport.as_str());
        out.push(' ');
        let _ = write!(out, "{}", self.host);
        if let Some(port) = self.port {
            out.push(':');
            let _ = write!(out, "{}", port);
        }
        let _ = write!(out, "{}", self.params);
    }
}

/// Checks the parameters whose grammar RFC 3261 §20.42 and RFC 3581 fix.
fn check_params(params: &Params) -> Result<(), HeaderError> {
    for p in params.iter() {
        let value = p.value.as_deref();
        // Compared without allocating a lower-case copy: this runs for every Via read.
        let name = ["ttl", "rport", "maddr", "received", "branch"]
            .into_iter()
            .find(|known| p.name.eq_ignore_ascii_case(known))
            .unwrap_or("");
        match (name, value) {
            ("ttl", Some(v)) => {
                parse_number(v, 255)?;
            }
            ("rport", Some(v)) => {
                parse_number(v, 65535)?;
                if crate::uri::parse_port(v).is_err() {
                    return Err(HeaderError::InvalidNumber(v.to_string()));
                }
            }
            ("rport", None) => {}
            ("maddr", Some(v)) => {
                Host::parse(v)?;
            }
            ("received", Some(v)) => {
                parse_ip(v).ok_or(HeaderError::Syntax("received is not an IP address"))?;
            }
            ("branch", Some(v)) if text::is_token(v) => {}
            ("branch", _) => return Err(HeaderError::Syntax("branch must be a token")),
            ("ttl" | "maddr" | "received", None) => {
                return Err(HeaderError::Syntax("Via parameter needs a value"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// An IPv4 or IPv6 address, the latter with or without brackets.
fn parse_ip(s: &str) -> Option<IpAddr> {
    let inner = s
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(s);
    if inner.contains(':') {
        inner.parse().ok().map(IpAddr::V6)
    } else {
        crate::uri::parse_ipv4(inner).map(IpAddr::V4)
    }
}

/// Splits a leading token off `s`.
fn take_token(s: &str) -> Option<(&str, &str)> {
    let end = s
        .bytes()
        .position(|b| !text::is_token_char(b))
        .unwrap_or(s.len());
    (end > 0).then(|| (&s[..end], &s[end..]))
}

/// `SLASH = SWS "/" SWS`.
fn slash(s: &str) -> Result<&str, HeaderError> {
    s.trim_start_matches([' ', '\t'])
        .strip_prefix('/')
        .map(|rest| rest.trim_start_matches([' ', '\t']))
        .ok_or(HeaderError::Syntax("expected '/' in the Via protocol"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::UriError;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn dom(s: &str) -> Host {
        Host::Domain(s.into())
    }

    /// (value, transport, host, port, branch, written form)
    type Row<'a> = (
        &'a str,
        Transport,
        Host,
        Option<u16>,
        Option<&'a str>,
        &'a str,
    );

    #[test]
    fn good_values() {
        let v6 = |s: &str| Host::Ipv6(s.parse::<Ipv6Addr>().unwrap());
        let cases: Vec<Row> = vec![
            (
                "SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw",
                Transport::Udp,
                dom("c.example.com"),
                Some(5060),
                Some("z9hG4bKkdjuw"),
                "SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw",
            ),
            // RFC 4475 §3.1.1.1 wsinv, after unfolding.
            (
                "SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw",
                Transport::Udp,
                Host::Ipv4(Ipv4Addr::new(192, 0, 2, 2)),
                None,
                Some("390skdjuw"),
                "SIP/2.0/UDP 192.0.2.2;branch=390skdjuw",
            ),
            (
                "sip/2.0/tcp sip1.example.com",
                Transport::Tcp,
                dom("sip1.example.com"),
                None,
                None,
                "SIP/2.0/TCP sip1.example.com",
            ),
            (
                "SIP/2.0/SCTP t2.example.com ; branch = z9hG4bKklasjdhf",
                Transport::Sctp,
                dom("t2.example.com"),
                None,
                Some("z9hG4bKklasjdhf"),
                "SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf",
            ),
            (
                "SIP/2.0/TLS h : 5061",
                Transport::Tls,
                dom("h"),
                Some(5061),
                None,
                "SIP/2.0/TLS h:5061",
            ),
            (
                "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks",
                Transport::Wss,
                dom("df7jal23ls0d.invalid"),
                None,
                Some("z9hG4bK56sdasks"),
                "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks",
            ),
            (
                "SIP/2.0/ws h",
                Transport::Ws,
                dom("h"),
                None,
                None,
                "SIP/2.0/WS h",
            ),
            (
                "SIP/2.0/QUIC h",
                Transport::Other("QUIC".into()),
                dom("h"),
                None,
                None,
                "SIP/2.0/QUIC h",
            ),
            // RFC 4475 §3.1.1.x: '%' is a token character, so this branch is well-formed.
            (
                "SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234",
                Transport::Tcp,
                dom("host.example.com"),
                None,
                Some("z9hG4bK209%fzsnel234"),
                "SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234",
            ),
            // RFC 5118 §4.4, §4.5, §4.6.
            (
                "SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19",
                Transport::Udp,
                v6("::ffff:192.0.2.10"),
                Some(19823),
                Some("z9hG4bKbh19"),
                "SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19",
            ),
            (
                "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3",
                Transport::Udp,
                v6("2001:db8::9:1"),
                None,
                Some("z9hG4bKas3"),
                "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3",
            ),
            (
                "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
                Transport::Udp,
                v6("2001:db8::9:1"),
                None,
                Some("z9hG4bKas3-111"),
                "SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111",
            ),
            (
                "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-1;rport;ttl=255;maddr=224.2.0.1",
                Transport::Udp,
                Host::Ipv4(Ipv4Addr::LOCALHOST),
                Some(5070),
                Some("z9hG4bK-d87543-1"),
                "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-1;rport;ttl=255;maddr=224.2.0.1",
            ),
        ];
        for (value, transport, host, port, branch, written) in cases {
            let via = Via::parse(value).unwrap();
            assert_eq!(via.transport, transport, "{value}");
            assert_eq!(via.host, host, "{value}");
            assert_eq!(via.port, port, "{value}");
            assert_eq!(via.branch(), branch, "{value}");
            assert_eq!(via.to_value(), written, "{value}");
            assert_eq!(Via::parse(written), Ok(via), "{value}");
        }
    }

    #[test]
    fn bad_values() {
        let syntax = HeaderError::Syntax;
        let cases: Vec<(&str, HeaderError)> = vec![
            ("", HeaderError::Empty),
            ("SIP/2.0/UDP", syntax("missing sent-by after the transport")),
            (
                "SIP/2.0/UDP ",
                syntax("missing sent-by after the transport"),
            ),
            (
                "SIP/2.0/UDP ;branch=z9hG4bK1",
                HeaderError::Uri(UriError::EmptyHost),
            ),
            // RFC 4475 §3.1.2.x badvers: SIP/7.0.
            (
                "SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw",
                syntax("Via protocol must be SIP/2.0"),
            ),
            ("SIP/2.0 UDP h", syntax("expected '/' in the Via protocol")),
            ("SIP/2.0/ h", syntax("missing sent-by after the transport")),
            ("SIP/2.0/ ;b", syntax("missing transport")),
            ("/2.0/UDP h", syntax("missing protocol name")),
            (
                "SIP/2.0/UDP h:70000",
                HeaderError::Uri(UriError::BadPort("70000".into())),
            ),
            (
                "SIP/2.0/UDP 2001:db8::1",
                HeaderError::Uri(UriError::UnbracketedIpv6("2001:db8::1".into())),
            ),
            (
                "SIP/2.0/UDP h;ttl=256",
                HeaderError::InvalidNumber("256".into()),
            ),
            (
                "SIP/2.0/UDP h;ttl=x",
                HeaderError::InvalidNumber("x".into()),
            ),
            (
                "SIP/2.0/UDP h;rport=0",
                HeaderError::InvalidNumber("0".into()),
            ),
            (
                "SIP/2.0/UDP h;rport=65536",
                HeaderError::InvalidNumber("65536".into()),
            ),
            (
                "SIP/2.0/UDP h;received=example.com",
                syntax("received is not an IP address"),
            ),
            (
                "SIP/2.0/UDP h;received=[1.2.3.4",
                syntax("received is not an IP address"),
            ),
            (
                "SIP/2.0/UDP h;maddr=bad_host",
                HeaderError::Uri(UriError::BadHost("bad_host".into())),
            ),
            ("SIP/2.0/UDP h;branch", syntax("branch must be a token")),
            (
                "SIP/2.0/UDP h;branch=\"x\"",
                syntax("branch must be a token"),
            ),
            ("SIP/2.0/UDP h;ttl", syntax("Via parameter needs a value")),
            (
                "SIP/2.0/UDP h;;",
                HeaderError::Params(crate::params::ParamsError::Empty),
            ),
            (
                "SIP/2.0/UDP h x",
                HeaderError::Uri(UriError::BadHost("h x".into())),
            ),
        ];
        for (value, err) in cases {
            assert_eq!(Via::parse(value), Err(err), "{value}");
        }
    }

    #[test]
    fn accessors_and_setters() {
        let mut via = Via::parse("SIP/2.0/UDP h;branch=z9hG4bK1;rport;ttl=16;maddr=[::1]").unwrap();
        assert!(via.has_magic_cookie());
        assert_eq!(via.rport(), Some(None));
        assert_eq!(via.ttl(), Some(16));
        assert_eq!(via.maddr(), Some(Host::Ipv6(Ipv6Addr::LOCALHOST)));
        assert_eq!(via.received(), None);
        via.set_rport(Some(5062));
        via.set_received("2001:db8::9:255".parse().unwrap());
        via.set_branch("z9hG4bK2");
        assert_eq!(via.rport(), Some(Some(5062)));
        assert_eq!(via.received(), Some("2001:db8::9:255".parse().unwrap()));
        assert_eq!(
            via.to_value(),
            "SIP/2.0/UDP h;branch=z9hG4bK2;rport=5062;ttl=16;maddr=[::1];received=2001:db8::9:255"
        );
        assert_eq!(Via::parse(&via.to_value()), Ok(via.clone()));
        let plain = Via::parse("SIP/2.0/TCP h;branch=1234").unwrap();
        assert!(!plain.has_magic_cookie());
        assert_eq!(plain.rport(), None);
        let built = Via::new(
            Transport::Tls,
            Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
            Some(5061),
            "z9hG4bKx",
        );
        assert_eq!(
            built.to_value(),
            "SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bKx"
        );
        assert!(Transport::Tcp.is_reliable() && !Transport::Udp.is_reliable());
        let with_ip = Via::parse("SIP/2.0/UDP h;received=[2001:db8::1]").unwrap();
        assert_eq!(with_ip.received(), Some("2001:db8::1".parse().unwrap()));
    }
}
