//! The RTP ports of `media.rtp_ports`: each endpoint takes an even port for RTP and the odd
//! one above it for RTCP (RFC 3550 §11: RTP on an even port, RTCP on the next odd one).
//!
//! No table of ports in use is kept: the operating system has it. A cursor walks the even
//! ports round the range and the first pair that binds is taken; a pair in use (by us or by
//! another program) fails to bind and is skipped. Closing an endpoint drops its sockets, which
//! frees the pair. The cursor is shared by the handle's clones, so they spread over the range.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::config::media::PortRange;

use super::endpoint::Sockets;

/// The port pairs of a range.
#[derive(Debug, Clone)]
pub struct PortPool {
    range: PortRange,
    cursor: Arc<AtomicUsize>,
}

impl PortPool {
    /// A pool over `range`.
    pub fn new(range: PortRange) -> Self {
        PortPool {
            range,
            cursor: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The configured range.
    pub fn range(&self) -> PortRange {
        self.range
    }

    /// Binds the next free RTP/RTCP pair on `address`, non-blocking; `None` when every pair is
    /// taken.
    pub fn bind(&self, address: IpAddr) -> Option<Sockets> {
        let pairs = self.range.endpoints();
        for _ in 0..pairs {
            let index = self.cursor.fetch_add(1, Ordering::Relaxed) % pairs;
            let Some(port) = self.range.rtp_ports().nth(index) else {
                continue;
            };
            if let Some(sockets) = bind_pair(address, port) {
                return Some(sockets);
            }
        }
        None
    }
}

fn bind_pair(address: IpAddr, port: u16) -> Option<Sockets> {
    let rtp = UdpSocket::bind(SocketAddr::new(address, port)).ok()?;
    let rtcp = UdpSocket::bind(SocketAddr::new(address, port + 1)).ok()?;
    rtp.set_nonblocking(true).ok()?;
    rtcp.set_nonblocking(true).ok()?;
    Some(Sockets::new(rtp, rtcp, port))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn takes_even_ports_with_their_odd_neighbour_and_skips_pairs_in_use() {
        // 21900 is held by someone else; the range holds two pairs.
        let squatter = UdpSocket::bind((Ipv4Addr::LOCALHOST, 21901));
        let pool = PortPool::new(PortRange {
            first: 21899,
            last: 21903,
        });
        let first = pool.bind(LOOPBACK).expect("a free pair");
        assert_eq!(first.port() % 2, 0);
        if squatter.is_ok() {
            assert_eq!(first.port(), 21902, "21900's RTCP port is taken");
            assert!(pool.bind(LOOPBACK).is_none(), "the range is full");
        }
        drop(first);
        let again = pool
            .bind(LOOPBACK)
            .expect("a closed endpoint frees its pair");
        assert_eq!(again.port() % 2, 0);
    }

    #[test]
    fn a_range_without_a_pair_binds_nothing() {
        let pool = PortPool::new(PortRange {
            first: 21911,
            last: 21912,
        });
        assert!(pool.bind(LOOPBACK).is_none());
    }
}
