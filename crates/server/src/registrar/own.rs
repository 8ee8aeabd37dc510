//! callcomp's own SIP addresses, so that nothing is ever sent back to callcomp itself.
//!
//! A binding whose contact or source is one of our listen addresses would make every call to
//! its user fork back into callcomp, once per hop until Max-Forwards runs out (RFC 3261 §16.3
//! item 4 describes such loops). The registrar refuses such contacts, the B2BUA skips such
//! destinations, and the core answers a request that carries our own Via with 482.

use std::net::{IpAddr, SocketAddr};

use callcomp_sip::uri::{Host, Uri};

/// The default SIP port (RFC 3261 §19.1.2) for a URI or Via without one.
const SIP_PORT: u16 = 5060;
/// The default SIPS port.
const SIPS_PORT: u16 = 5061;

/// The addresses callcomp listens on and advertises, and the names that mean it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnAddrs {
    addrs: Vec<SocketAddr>,
    /// Host names that reach this host (`localhost`, the configured domain when a name).
    names: Vec<String>,
}

impl OwnAddrs {
    /// Our listen addresses and the SIP domain.
    pub fn new(listen: &[SocketAddr], domain: &str) -> OwnAddrs {
        let mut names = vec!["localhost".to_owned()];
        if domain.parse::<IpAddr>().is_err() && !domain.starts_with('[') {
            names.push(domain.trim_end_matches('.').to_ascii_lowercase());
        }
        OwnAddrs {
            addrs: listen.to_vec(),
            names,
        }
    }

    /// Adds an address (the one advertised once the sockets are bound).
    pub fn add(&mut self, addr: SocketAddr) {
        if !self.addrs.contains(&addr) {
            self.addrs.push(addr);
        }
    }

    /// Whether sending to `remote` would reach callcomp itself. A listen address on the
    /// unspecified IP (`0.0.0.0`, `::`) is reached through any loopback or unspecified IP.
    pub fn is_own(&self, remote: SocketAddr) -> bool {
        self.addrs.iter().any(|own| {
            own.port() == remote.port()
                && (own.ip() == remote.ip()
                    || remote.ip().is_unspecified()
                    || (own.ip().is_unspecified() && remote.ip().is_loopback()))
        })
    }

    /// Whether a host and port (as in a URI or a Via) name callcomp itself. Host names are
    /// not resolved: `localhost` and our domain count as ours.
    pub fn is_own_host(&self, host: &Host, port: Option<u16>, secure: bool) -> bool {
        let port = port.unwrap_or(if secure { SIPS_PORT } else { SIP_PORT });
        match host {
            Host::Ipv4(ip) => self.is_own(SocketAddr::new(IpAddr::V4(*ip), port)),
            Host::Ipv6(ip) => self.is_own(SocketAddr::new(IpAddr::V6(*ip), port)),
            Host::Domain(name) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                self.names.contains(&name) && self.addrs.iter().any(|a| a.port() == port)
            }
        }
    }

    /// Whether a SIP URI names callcomp itself.
    pub fn is_own_uri(&self, uri: &Uri) -> bool {
        uri.as_sip()
            .is_some_and(|sip| self.is_own_host(&sip.host, sip.port, sip.secure))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> OwnAddrs {
        OwnAddrs::new(
            &[
                "127.0.0.1:5070".parse().unwrap(),
                "[::]:5080".parse().unwrap(),
            ],
            "pbx.example.com",
        )
    }

    #[test]
    fn own_addresses_and_names() {
        let own = own();
        let rows: &[(&str, bool)] = &[
            ("sip:a@127.0.0.1:5070", true),
            ("sip:a@127.0.0.1:5071", false),
            ("sip:a@127.0.0.2:5070", false),
            ("sip:a@0.0.0.0:5070", true),
            ("sip:a@[::1]:5080", true),
            ("sip:a@[::]:5080", true),
            ("sip:a@[2001:db8::1]:5080", false),
            ("sip:a@localhost:5070", true),
            ("sip:a@LOCALHOST:5080", true),
            ("sip:a@pbx.example.com:5070", true),
            ("sip:a@pbx.example.com", false),
            ("sip:a@phone.example.com:5070", false),
            ("sip:a@192.0.2.1", false),
        ];
        for (uri, want) in rows {
            let uri = Uri::parse(uri).unwrap();
            assert_eq!(own.is_own_uri(&uri), *want, "{uri}");
        }
    }

    #[test]
    fn default_port_and_added_address() {
        let mut own = OwnAddrs::new(&["192.0.2.5:5060".parse().unwrap()], "192.0.2.5");
        assert!(own.is_own_uri(&Uri::parse("sip:x@192.0.2.5").unwrap()));
        assert!(!own.is_own_uri(&Uri::parse("sips:x@192.0.2.5").unwrap()));
        assert!(!own.is_own("198.51.100.7:5060".parse().unwrap()));
        own.add("198.51.100.7:5060".parse().unwrap());
        assert!(own.is_own("198.51.100.7:5060".parse().unwrap()));
    }
}
