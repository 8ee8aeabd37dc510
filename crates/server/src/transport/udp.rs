//! SIP over UDP (RFC 3261 §18.1.1, §18.2.1): one message per datagram.
//!
//! The receiver parses each datagram on its own and never waits for the core: when its
//! lane to the core is full the message is dropped and counted (the sender's transaction will
//! retransmit). Responses go back to the source address and port of the request
//! ([`Target::reply_to`](super::Target::reply_to)), as RFC 3581 asks.

use std::net::SocketAddr;
use std::sync::Arc;

use callcomp_sip::message::Message;
use tokio::net::UdpSocket;
use tracing::{debug, warn};

use super::lanes::NotQueued;
use super::malformed::UDP_DROPPED;
use super::runtime::{admit, bump, refused, stopped, Ctx, Verdict};
use super::{Outbound, Peer, Proto};

/// The largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// Receives and handles datagrams on one socket until the transports stop.
pub(crate) async fn receive(socket: Arc<UdpSocket>, local: SocketAddr, ctx: Arc<Ctx>) {
    let mut stop = ctx.stop.clone();
    // One byte over the limit, so that an oversized datagram is seen as such and not
    // silently cut to size.
    let size = ctx
        .limits
        .parse
        .max_message_size
        .saturating_add(1)
        .min(MAX_DATAGRAM);
    let mut buf = vec![0u8; size];
    loop {
        let (n, remote) = tokio::select! {
            _ = stopped(&mut stop) => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    debug!(%local, error = %e, "UDP receive error");
                    continue;
                }
            },
        };
        let peer = Peer {
            proto: Proto::Udp,
            remote,
            local,
            conn: None,
        };
        let datagram = &buf[..n];
        let verdict = match Message::parse_datagram(datagram, &ctx.limits.parse) {
            Ok(message) => admit(message, peer, &ctx),
            Err(e) => match refused(datagram, &e, &peer, &ctx) {
                Some(answer) => Verdict::Answer(answer),
                None => Verdict::Drop,
            },
        };
        match verdict {
            Verdict::Deliver(event, lane) => match ctx.inbound.try_send(event, lane) {
                Ok(()) => {}
                Err(NotQueued::Full) => {
                    bump(&ctx.counters.inbound_dropped);
                    // A flood fills the queue: summarised, not one line per datagram.
                    debug!(peer = %remote, "inbound queue full; UDP message dropped");
                    ctx.tally.note(UDP_DROPPED, remote, "");
                }
                Err(NotQueued::Closed) => {
                    debug!(peer = %remote, "no one reads inbound messages; UDP message dropped");
                }
            },
            Verdict::Answer(bytes) => {
                if let Err(e) = socket.send_to(&bytes, remote).await {
                    debug!(peer = %remote, error = %e, "cannot send stateless answer");
                } else {
                    bump(&ctx.counters.messages_out);
                }
            }
            Verdict::Drop => {}
        }
    }
}

/// Sends one message from a UDP socket.
pub(crate) async fn send(socket: &UdpSocket, message: &Outbound, ctx: &Ctx) {
    match socket.send_to(&message.bytes, message.target.remote).await {
        Ok(_) => bump(&ctx.counters.messages_out),
        Err(e) => {
            bump(&ctx.counters.outbound_dropped);
            warn!(remote = %message.target.remote, error = %e, "UDP send failed");
        }
    }
}

/// Sends one message from a UDP socket if it can without waiting; `WouldBlock` when the
/// socket's buffer is full (nothing is counted then: the caller queues the message). Other
/// errors are logged and counted as drops.
pub(crate) fn try_send(socket: &UdpSocket, message: &Outbound, ctx: &Ctx) -> std::io::Result<()> {
    match socket.try_send_to(&message.bytes, message.target.remote) {
        Ok(_) => {
            bump(&ctx.counters.messages_out);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(e),
        Err(e) => {
            bump(&ctx.counters.outbound_dropped);
            warn!(remote = %message.target.remote, error = %e, "UDP send failed");
            Err(e)
        }
    }
}

/// The socket to send to `remote` from: one of the same address family, preferring one
/// bound to loopback for a loopback destination and one not bound to loopback otherwise.
pub(crate) fn pick_socket(
    sockets: &[(SocketAddr, Arc<UdpSocket>)],
    remote: SocketAddr,
) -> Option<&UdpSocket> {
    let same_family = sockets
        .iter()
        .filter(|(local, _)| local.is_ipv4() == remote.is_ipv4());
    let fits = |local: &SocketAddr| local.ip().is_loopback() == remote.ip().is_loopback();
    same_family
        .clone()
        .find(|(local, _)| fits(local))
        .or_else(|| same_family.clone().next())
        .map(|(_, socket)| socket.as_ref())
}
