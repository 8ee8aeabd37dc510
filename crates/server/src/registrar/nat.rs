//! Where a request to a registered phone goes (`registrar.nat`): the address in its Contact,
//! or the address its REGISTER came from.
//!
//! A phone behind NAT writes its private address in Contact; only the source of its REGISTER
//! (with RFC 3581 `rport`) reaches it, through the binding the NAT keeps open. A phone on a
//! plain network may register from one port and listen on another; only its Contact reaches
//! it. `auto` tells the two apart from what the REGISTER showed: the source is used when the
//! Contact cannot be reached from here (its host is a name, an address other than the
//! source's, RFC 5626 `ob`, a TCP flow), the Contact otherwise. A decision is a pure
//! function of the binding and the mode, so each case is a unit test.

use std::net::{IpAddr, SocketAddr};

use callcomp_sip::uri::{Host, Uri};

use super::Binding;
use crate::config::NatMode;
use crate::transport::{Proto, Target};

/// Why a request to a registered phone goes where it goes (`registrar.nat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteReason {
    /// `nat = "source"`: always where the REGISTER came from.
    SourceConfigured,
    /// `nat = "contact"` (or `auto` with a reachable Contact): the Contact's address.
    Contact,
    /// The binding has no recorded source (stored by an older version): the Contact.
    NoSource,
    /// The Contact's host is a name callcomp does not resolve: the source.
    ContactIsName,
    /// The REGISTER came over TCP: requests reuse that flow (RFC 5626 §5.3).
    TcpFlow,
    /// The Contact has the RFC 5626 `ob` parameter: the flow to the source.
    Outbound,
    /// The Contact's address is a private one other than the source (a phone behind NAT).
    PrivateContact,
    /// The Contact's address is not the one the REGISTER came from.
    AddressMismatch,
}

impl RouteReason {
    /// A short phrase for the log.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteReason::SourceConfigured => "nat=source",
            RouteReason::Contact => "contact reachable",
            RouteReason::NoSource => "no recorded source",
            RouteReason::ContactIsName => "contact host is a name",
            RouteReason::TcpFlow => "registered over TCP (flow reuse)",
            RouteReason::Outbound => "contact has ob (RFC 5626)",
            RouteReason::PrivateContact => "contact address is private and not the source",
            RouteReason::AddressMismatch => "contact address is not the source address",
        }
    }
}

/// Where a request to `binding` (whose contact parsed as `contact`) goes under `mode`, and
/// why; `None` when neither the Contact nor the source gives an address.
pub fn route(binding: &Binding, contact: &Uri, mode: NatMode) -> Option<(Target, RouteReason)> {
    let to_contact = contact_target(contact);
    let source = binding.source;
    let (Some(to_contact), Some(source)) = (to_contact, source) else {
        // One of the two is missing: take the other one.
        return match (to_contact, source) {
            (Some(t), None) => Some((t, RouteReason::NoSource)),
            (None, Some(s)) if mode == NatMode::Source => Some((s, RouteReason::SourceConfigured)),
            (None, Some(s)) => Some((s, RouteReason::ContactIsName)),
            _ => None,
        };
    };
    match mode {
        NatMode::Source => Some((source, RouteReason::SourceConfigured)),
        NatMode::Contact => Some((to_contact, RouteReason::Contact)),
        NatMode::Auto => Some(match auto_reason(contact, to_contact, source) {
            Some(reason) => (source, reason),
            None => (to_contact, RouteReason::Contact),
        }),
    }
}

/// Why `auto` prefers the source, or `None` when the Contact is reachable.
fn auto_reason(contact: &Uri, to_contact: Target, source: Target) -> Option<RouteReason> {
    if source.proto == Proto::Tcp {
        return Some(RouteReason::TcpFlow);
    }
    let ob = contact
        .as_sip()
        .is_some_and(|sip| sip.params.contains("ob"));
    if ob {
        return Some(RouteReason::Outbound);
    }
    // A dual-stack socket reports an IPv4 peer as `::ffff:a.b.c.d`.
    let contact_ip = to_contact.remote.ip().to_canonical();
    let source_ip = source.remote.ip().to_canonical();
    if contact_ip == source_ip {
        return None;
    }
    if is_private(contact_ip) {
        Some(RouteReason::PrivateContact)
    } else {
        Some(RouteReason::AddressMismatch)
    }
}

/// The network destination a SIP URI names when its host is an IP address: its port (5060
/// by default) over its `transport` parameter (UDP by default).
pub fn contact_target(uri: &Uri) -> Option<Target> {
    let sip = uri.as_sip()?;
    let ip = match &sip.host {
        Host::Ipv4(ip) => IpAddr::V4(*ip),
        Host::Ipv6(ip) => IpAddr::V6(*ip),
        Host::Domain(_) => return None,
    };
    let tcp = sip
        .params
        .value("transport")
        .is_some_and(|t| t.eq_ignore_ascii_case("tcp"));
    Some(Target {
        proto: if tcp { Proto::Tcp } else { Proto::Udp },
        remote: SocketAddr::new(ip, sip.port.unwrap_or(5060)),
        conn: None,
    })
}

/// Addresses that do not route on the Internet: RFC 1918, RFC 6598 shared (carrier NAT),
/// link-local, and IPv6 unique-local and link-local.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || v4.is_link_local() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::ConnId;

    fn binding(contact: &str, source: Option<(Proto, &str)>) -> (Binding, Uri) {
        let uri = match Uri::parse(contact) {
            Ok(uri) => uri,
            Err(e) => panic!("bad test URI {contact}: {e}"),
        };
        let source = source.map(|(proto, addr)| Target {
            proto,
            remote: addr.parse().unwrap_or_else(|e| panic!("{addr}: {e}")),
            conn: (proto == Proto::Tcp).then_some(ConnId(7)),
        });
        let b = Binding {
            aor: "sip:bob@example.com".into(),
            contact_uri: contact.into(),
            expires_at_ms: 1,
            q: None,
            call_id: "c".into(),
            cseq: 1,
            source,
            user_agent: None,
            instance: None,
            updated_at_ms: 0,
        };
        (b, uri)
    }

    fn decide(
        contact: &str,
        source: Option<(Proto, &str)>,
        mode: NatMode,
    ) -> (String, RouteReason) {
        let (b, uri) = binding(contact, source);
        match route(&b, &uri, mode) {
            Some((t, why)) => (format!("{}:{}", t.proto.as_str(), t.remote), why),
            None => panic!("no route for {contact}"),
        }
    }

    /// contact, source, mode, expected destination, expected reason.
    type Row = (
        &'static str,
        Option<(Proto, &'static str)>,
        NatMode,
        &'static str,
        RouteReason,
    );

    const PHONE_UDP: Option<(Proto, &str)> = Some((Proto::Udp, "203.0.113.5:40000"));

    /// Each row: contact, source, mode → destination, reason.
    #[test]
    fn decision_table() {
        use NatMode::*;
        use RouteReason as R;
        let rows: &[Row] = &[
            // Same address, another port: the phone listens where its Contact says.
            (
                "sip:bob@203.0.113.5:5062",
                PHONE_UDP,
                Auto,
                "UDP:203.0.113.5:5062",
                R::Contact,
            ),
            (
                "sip:bob@203.0.113.5:5062",
                PHONE_UDP,
                Contact,
                "UDP:203.0.113.5:5062",
                R::Contact,
            ),
            (
                "sip:bob@203.0.113.5:5062",
                PHONE_UDP,
                Source,
                "UDP:203.0.113.5:40000",
                R::SourceConfigured,
            ),
            // Behind NAT: a private Contact, a public source.
            (
                "sip:bob@192.168.1.20:5060",
                PHONE_UDP,
                Auto,
                "UDP:203.0.113.5:40000",
                R::PrivateContact,
            ),
            (
                "sip:bob@10.0.0.9",
                PHONE_UDP,
                Auto,
                "UDP:203.0.113.5:40000",
                R::PrivateContact,
            ),
            (
                "sip:bob@100.64.3.3",
                PHONE_UDP,
                Auto,
                "UDP:203.0.113.5:40000",
                R::PrivateContact,
            ),
            (
                "sip:bob@192.168.1.20:5060",
                PHONE_UDP,
                Source,
                "UDP:203.0.113.5:40000",
                R::SourceConfigured,
            ),
            (
                "sip:bob@192.168.1.20:5060",
                PHONE_UDP,
                Contact,
                "UDP:192.168.1.20:5060",
                R::Contact,
            ),
            // A public Contact that is not the source.
            (
                "sip:bob@198.51.100.7",
                PHONE_UDP,
                Auto,
                "UDP:203.0.113.5:40000",
                R::AddressMismatch,
            ),
            // RFC 5626 outbound and TCP flows stay on the flow.
            (
                "sip:bob@203.0.113.5:5062;ob",
                PHONE_UDP,
                Auto,
                "UDP:203.0.113.5:40000",
                R::Outbound,
            ),
            (
                "sip:bob@203.0.113.5:5062;transport=tcp",
                Some((Proto::Tcp, "203.0.113.5:40001")),
                Auto,
                "TCP:203.0.113.5:40001",
                R::TcpFlow,
            ),
            // A name is never resolved: the source, whatever the mode.
            (
                "sip:bob@phone.example.com",
                PHONE_UDP,
                Contact,
                "UDP:203.0.113.5:40000",
                R::ContactIsName,
            ),
            (
                "sip:bob@phone.example.com",
                PHONE_UDP,
                Auto,
                "UDP:203.0.113.5:40000",
                R::ContactIsName,
            ),
            // No recorded source: the Contact.
            (
                "sip:bob@192.168.1.20:5070",
                None,
                Source,
                "UDP:192.168.1.20:5070",
                R::NoSource,
            ),
            (
                "sip:bob@203.0.113.5:5062",
                Some((Proto::Udp, "[::ffff:203.0.113.5]:40000")),
                Auto,
                "UDP:203.0.113.5:5062",
                R::Contact,
            ),
            (
                "sip:bob@[fd00::5]:5060",
                Some((Proto::Udp, "[2001:db8::1]:5060")),
                Auto,
                "UDP:[2001:db8::1]:5060",
                R::PrivateContact,
            ),
        ];
        for (contact, source, mode, want, why) in rows {
            let got = decide(contact, *source, *mode);
            assert_eq!(
                got,
                (want.to_string(), *why),
                "{contact} {source:?} {mode:?}"
            );
        }
    }

    #[test]
    fn tcp_flow_keeps_its_connection() {
        let (b, uri) = binding(
            "sip:bob@203.0.113.5:5062;transport=tcp",
            Some((Proto::Tcp, "203.0.113.5:40001")),
        );
        let (target, _) = route(&b, &uri, NatMode::Auto).unwrap_or_else(|| panic!("no route"));
        assert_eq!(target.conn, Some(ConnId(7)));
    }

    #[test]
    fn nothing_to_route_to() {
        let (b, uri) = binding("sip:bob@phone.example.com", None);
        assert_eq!(route(&b, &uri, NatMode::Auto), None);
    }
}
