//! Where callcomp's RTP may go and where it may come from (docs/media.md, "Security").
//!
//! An SDP body names the address callcomp sends RTP to. Whoever writes it could otherwise aim
//! a 64 kbit/s stream per endpoint at any host (reflection), at a broadcast or multicast group,
//! at a privileged service port, or back at callcomp's own RTP ports (a loop that never ends).
//! [`PeerGuard::check`] refuses those with 488 before anything is sent, and, when
//! `media.peers` is set, every address outside it.
//!
//! In the other direction, an endpoint's port is open to anyone who finds it: without a check
//! a stranger could inject audio into a recall or an intrusion. [`RtpSource`] decides which
//! datagrams an endpoint takes: by default only those from the address and port it sends to
//! (symmetric RTP, which every phone we test with does); `"host"` accepts any port of that
//! host, for phones that send from another port than they receive on.

use std::net::{IpAddr, SocketAddr};

use callcomp_media::offer_answer::Negotiated;

use super::MediaError;
use crate::config::cidr::Cidr;
use crate::config::media::{PortRange, RtpSource};

/// The first port a phone's RTP may use; below are the well-known services (RFC 6335 §6).
const FIRST_RTP_PORT: u16 = 1024;

/// Checks the remote side of every negotiated stream.
#[derive(Debug, Clone)]
pub struct PeerGuard {
    own: IpAddr,
    ports: PortRange,
    peers: Vec<Cidr>,
}

impl PeerGuard {
    /// A guard for an RTP plane on `own` with `ports`; `peers` empty means any unicast host.
    pub fn new(own: IpAddr, ports: PortRange, peers: Vec<Cidr>) -> Self {
        PeerGuard { own, ports, peers }
    }

    /// Whether callcomp may send the stream's RTP where its SDP says. A stream that does
    /// not want our media (no address) or names a host by name (callcomp sends nothing then)
    /// passes.
    pub fn check(&self, stream: &Negotiated) -> Result<(), MediaError> {
        let Some(to) = stream.remote.as_ref().and_then(|r| r.socket_addr()) else {
            return Ok(());
        };
        match self.refusal(to) {
            None => Ok(()),
            Some(reason) => Err(MediaError::Destination { to, reason }),
        }
    }

    fn refusal(&self, to: SocketAddr) -> Option<&'static str> {
        let ip = canonical(to.ip());
        if ip.is_multicast() || is_broadcast(ip) {
            return Some("a multicast or broadcast address");
        }
        if to.port() < FIRST_RTP_PORT {
            return Some("a port below 1024");
        }
        if ip == canonical(self.own) && (self.ports.first..=self.ports.last).contains(&to.port()) {
            return Some("callcomp's own RTP ports");
        }
        if !self.peers.is_empty() && !self.peers.iter().any(|c| c.contains(ip)) {
            return Some("an address outside media.peers");
        }
        None
    }
}

/// Whether a datagram from `from` belongs to the stream that sends to `to`.
pub fn accepts(policy: RtpSource, to: Option<SocketAddr>, from: SocketAddr) -> bool {
    let Some(to) = to else {
        return false;
    };
    let same_host = canonical(to.ip()) == canonical(from.ip());
    match policy {
        RtpSource::Negotiated => same_host && to.port() == from.port(),
        RtpSource::Host => same_host,
    }
}

fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcomp_media::offer_answer::{Codec, Remote};
    use callcomp_media::sdp::Direction;

    fn stream(address: &str, port: u16) -> Negotiated {
        Negotiated {
            index: 0,
            remote: Some(Remote {
                address: address.to_owned(),
                port,
            }),
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event: None,
            remote_ptime: 20,
            direction: Direction::SendRecv,
        }
    }

    fn guard(peers: &[&str]) -> PeerGuard {
        PeerGuard::new(
            "192.0.2.10".parse().unwrap(),
            PortRange {
                first: 20000,
                last: 20999,
            },
            peers.iter().map(|p| p.parse().unwrap()).collect(),
        )
    }

    #[test]
    fn a_phone_elsewhere_is_accepted() {
        assert!(guard(&[]).check(&stream("192.0.2.77", 4000)).is_ok());
        assert!(guard(&[]).check(&stream("2001:db8::7", 4000)).is_ok());
    }

    #[test]
    fn destinations_that_reflect_or_loop_are_refused_with_488() {
        let refused = [
            ("224.0.0.1", 4000, "multicast"),
            ("ff02::1", 4000, "multicast"),
            ("255.255.255.255", 4000, "broadcast"),
            ("192.0.2.77", 53, "below 1024"),
            ("192.0.2.10", 20000, "own RTP"),
            ("192.0.2.10", 20999, "own RTP"),
            ("::ffff:192.0.2.10", 20500, "own RTP"),
        ];
        for (address, port, why) in refused {
            let err = guard(&[]).check(&stream(address, port)).unwrap_err();
            assert_eq!(err.status(), 488, "{address}:{port}");
            assert!(err.to_string().contains(why), "{address}:{port}: {err}");
        }
    }

    #[test]
    fn our_own_host_outside_the_rtp_range_is_a_phone_like_any_other() {
        assert!(guard(&[]).check(&stream("192.0.2.10", 21000)).is_ok());
    }

    #[test]
    fn media_peers_limits_destinations_to_its_blocks() {
        let g = guard(&["198.51.100.0/24"]);
        assert!(g.check(&stream("198.51.100.9", 4000)).is_ok());
        let err = g.check(&stream("192.0.2.77", 4000)).unwrap_err();
        assert!(err.to_string().contains("media.peers"), "{err}");
    }

    #[test]
    fn a_held_stream_or_a_host_name_sends_nothing_and_passes() {
        let mut held = stream("192.0.2.77", 4000);
        held.remote = None;
        assert!(guard(&["198.51.100.0/24"]).check(&held).is_ok());
        assert!(guard(&["198.51.100.0/24"])
            .check(&stream("phone.example.com", 4000))
            .is_ok());
    }

    #[test]
    fn the_source_must_be_where_we_send() {
        let to: SocketAddr = "192.0.2.77:4000".parse().unwrap();
        let same: SocketAddr = "192.0.2.77:4000".parse().unwrap();
        let other_port: SocketAddr = "192.0.2.77:4002".parse().unwrap();
        let stranger: SocketAddr = "203.0.113.5:4000".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:192.0.2.77]:4000".parse().unwrap();
        assert!(accepts(RtpSource::Negotiated, Some(to), same));
        assert!(accepts(RtpSource::Negotiated, Some(to), mapped));
        assert!(!accepts(RtpSource::Negotiated, Some(to), other_port));
        assert!(!accepts(RtpSource::Negotiated, Some(to), stranger));
        assert!(accepts(RtpSource::Host, Some(to), other_port));
        assert!(!accepts(RtpSource::Host, Some(to), stranger));
        assert!(!accepts(RtpSource::Host, None, same));
    }
}
