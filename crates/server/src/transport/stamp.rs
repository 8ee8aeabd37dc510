//! The `received` and `rport` stamp on the top Via of an inbound request (RFC 3261 §18.2.1,
//! RFC 3581 §4).
//!
//! A server notes where a request really came from, so that responses find their way back
//! through NAT: `received` holds the source IP when it differs from the Via `sent-by` host
//! (or always, when the client asked for `rport`), and an empty `rport` gets the source port.
//! Only the top Via value changes; the other Via values keep their bytes.

use std::net::{IpAddr, SocketAddr};

use callcomp_sip::headers::via::Via;
use callcomp_sip::message::{InvalidHeader, Message};
use callcomp_sip::uri::Host;
use callcomp_sip::HeaderName;

/// Why a request's top Via could not be stamped; the request is answered with 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StampError {
    /// The request has no Via header at all (RFC 3261 §8.1.1.7 requires one).
    #[error("Missing Via header")]
    Missing,
    /// The top Via value does not parse.
    #[error("Invalid Via header")]
    Invalid(#[source] InvalidHeader),
}

/// Stamps the top Via of `request` with `received`/`rport` for a request from `source`.
///
/// Leaves the message untouched (still byte for byte as received) when nothing needs adding.
pub fn stamp_via(request: &mut Message, source: SocketAddr) -> Result<(), StampError> {
    let mut via = match request.header::<Via>() {
        None => return Err(StampError::Missing),
        Some(Err(e)) => return Err(StampError::Invalid(e)),
        Some(Ok(via)) => via,
    };
    if !stamp(&mut via, source) {
        return Ok(());
    }
    // Swap the top value for the stamped one. `remove_first_value` keeps the rest of the first
    // field (if it held several values) and every later Via field as they are; `prepend`
    // then puts the stamped value above them.
    request.remove_first_value(&HeaderName::Via);
    request.prepend(&via);
    Ok(())
}

/// Applies the RFC 3581 rules to one Via value; returns whether it changed.
pub fn stamp(via: &mut Via, source: SocketAddr) -> bool {
    // A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6 addresses.
    let ip = source.ip().to_canonical();
    let rport = via.rport();
    let mut changed = false;
    let differs = !host_is(&via.host, ip);
    if (differs || rport.is_some()) && via.received() != Some(ip) {
        via.set_received(ip);
        changed = true;
    }
    if rport == Some(None) {
        via.set_rport(Some(source.port()));
        changed = true;
    }
    changed
}

/// Whether a Via `sent-by` host is literally the address `ip`.
fn host_is(host: &Host, ip: IpAddr) -> bool {
    match (host, ip) {
        (Host::Ipv4(h), IpAddr::V4(a)) => *h == a,
        (Host::Ipv6(h), IpAddr::V6(a)) => *h == a,
        (Host::Ipv6(h), IpAddr::V4(a)) => h.to_ipv4_mapped() == Some(a),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcomp_sip::parse::Limits;

    const SRC: &str = "192.0.2.7:40000";

    fn request(vias: &str) -> Message {
        let text = format!(
            "OPTIONS sip:x@example.com SIP/2.0\r\n{vias}Call-ID: a\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap()
    }

    /// Every row: the Via field(s) as received, from `SRC`; the top Via value expected after
    /// the stamp (RFC 3261 §18.2.1, RFC 3581 §4).
    #[test]
    fn stamp_table() {
        let rows: &[(&str, &str)] = &[
            // sent-by equals the source: nothing to add.
            (
                "Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1\r\n",
                "SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1",
            ),
            // A different IP: received.
            (
                "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n",
                "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;received=192.0.2.7",
            ),
            // A host name is never the source address: received.
            (
                "Via: SIP/2.0/TCP phone.example.com;branch=z9hG4bK1\r\n",
                "SIP/2.0/TCP phone.example.com;branch=z9hG4bK1;received=192.0.2.7",
            ),
            // Empty rport: filled in, and received added even though sent-by matches.
            (
                "Via: SIP/2.0/UDP 192.0.2.7:5060;rport;branch=z9hG4bK1\r\n",
                "SIP/2.0/UDP 192.0.2.7:5060;rport=40000;branch=z9hG4bK1;received=192.0.2.7",
            ),
            // Empty rport behind NAT.
            (
                "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;rport\r\n",
                "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;rport=40000;received=192.0.2.7",
            ),
            // A stale received is corrected.
            (
                "Via: SIP/2.0/UDP 10.0.0.1;received=10.9.9.9;branch=z9hG4bK1\r\n",
                "SIP/2.0/UDP 10.0.0.1;received=192.0.2.7;branch=z9hG4bK1",
            ),
            // Only the top value of a multi-value field changes.
            (
                "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2\r\n",
                "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;received=192.0.2.7",
            ),
            // Compact form.
            (
                "v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n",
                "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;received=192.0.2.7",
            ),
        ];
        let src: SocketAddr = SRC.parse().unwrap();
        for (vias, expected) in rows {
            let mut m = request(vias);
            stamp_via(&mut m, src).unwrap();
            let top = m.get_all_raw(&HeaderName::Via).next().unwrap();
            let top = String::from_utf8_lossy(top);
            let top = top.split(", ").next().unwrap();
            assert_eq!(top, *expected, "input {vias:?}");
        }
    }

    #[test]
    fn untouched_request_keeps_its_bytes() {
        let mut m = request("Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1\r\n");
        let before = m.to_bytes();
        stamp_via(&mut m, SRC.parse().unwrap()).unwrap();
        assert_eq!(m.to_bytes(), before);
    }

    #[test]
    fn later_via_values_keep_their_bytes() {
        let mut m = request(
            "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1,  SIP/2.0/UDP  p1.example;branch=z9hG4bKa\r\nVIA: SIP/2.0/TCP p2.example;branch=z9hG4bKb\r\n",
        );
        stamp_via(&mut m, SRC.parse().unwrap()).unwrap();
        let all: Vec<String> = m
            .get_all_raw(&HeaderName::Via)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        assert_eq!(
            all,
            [
                "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;received=192.0.2.7",
                "SIP/2.0/UDP  p1.example;branch=z9hG4bKa",
                "SIP/2.0/TCP p2.example;branch=z9hG4bKb",
            ]
        );
        // The untouched second field is written exactly as received, name spelling included.
        let wire = String::from_utf8(m.to_bytes()).unwrap();
        assert!(wire.contains("\r\nVIA: SIP/2.0/TCP p2.example;branch=z9hG4bKb\r\n"));
        let vias = m.header_all::<Via>().unwrap();
        assert_eq!(vias.len(), 3);
    }

    #[test]
    fn ipv4_mapped_source_compares_as_ipv4() {
        let mut m = request("Via: SIP/2.0/UDP 192.0.2.7;rport;branch=z9hG4bK1\r\n");
        stamp_via(&mut m, "[::ffff:192.0.2.7]:5062".parse().unwrap()).unwrap();
        let via = m.header::<Via>().unwrap().unwrap();
        assert_eq!(via.received(), Some("192.0.2.7".parse().unwrap()));
        assert_eq!(via.rport(), Some(Some(5062)));
    }

    #[test]
    fn missing_or_broken_via_is_an_error() {
        let mut m = request("");
        assert_eq!(
            stamp_via(&mut m, SRC.parse().unwrap()),
            Err(StampError::Missing)
        );
        let mut m = request("Via: SIP/3.0/UDP host;branch=z9hG4bK1\r\n");
        assert!(matches!(
            stamp_via(&mut m, SRC.parse().unwrap()),
            Err(StampError::Invalid(_))
        ));
    }
}
