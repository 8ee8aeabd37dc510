//! SIP transports: UDP and TCP sockets on every `sip.listen` address (RFC 3261 §18).
//!
//! The transport owns the sockets and nothing else. Inbound bytes become [`Inbound`] events
//! on one channel that the server core reads; the core hands back [`Outbound`] messages with
//! a [`Target`]. Framing, the RFC 3581 `received`/`rport` stamp on the top Via of every
//! inbound request, stateless `400`/`505`/`513` answers to requests that do not parse, TCP
//! connection reuse, and the bounds on connections and idle time all live here, so the core
//! only ever sees well-formed messages with a known peer.
//!
//! Interface (shared with the core; the implementation is in the submodules):
//! - [`start`] binds every configured address and protocol and returns a [`TransportHandle`]
//!   and the receiving end of the inbound channel;
//! - [`TransportHandle::send`] sends an outbound message without blocking the caller (UDP
//!   straight from the caller's task, queued only when the socket would block);
//! - [`Target::reply_to`] is where a response to a request from a peer goes: the same TCP
//!   connection, or the UDP source address and port (symmetric response routing, which
//!   is what RFC 3581 `rport` asks for and what phones behind NAT need).
//!
//! Layout: `runtime` (binding, the handle, the dispatcher, what UDP and TCP share), `udp`,
//! `tcp` (framing, keep-alives, connection table and bounds), `stamp` (RFC 3581), `reject`
//! (stateless answers built from bytes that did not parse), `malformed` (the rate-limited
//! log of malformed input), `lanes` (the two inbound queues: calls in progress before new
//! work), `overload` (new calls refused with `503` while the core's queues are behind).
//!
//! Counts of messages in and out, parse errors and drops are kept in [`TransportStats`]
//! and logged through `tracing`; the `metrics` facade is not wired in yet.

mod lanes;
mod malformed;
mod overload;
mod reject;
mod runtime;
mod stamp;
mod tcp;
mod udp;

pub use lanes::InboundRx;
pub use overload::OVERLOAD_RETRY_AFTER_SECS;
pub use reject::reject;
pub use runtime::{start, SendError, TransportError, TransportHandle, TransportStats};
pub use stamp::{stamp_via, StampError};

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use callcomp_sip::message::Message;

/// The transport protocol a message came over or goes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// UDP: one message per datagram, unreliable (transactions retransmit).
    Udp,
    /// TCP: a byte stream framed by Content-Length, reliable.
    Tcp,
}

impl Proto {
    /// Whether the transport is reliable (RFC 3261 §17: no retransmissions, zero linger).
    pub fn is_reliable(self) -> bool {
        matches!(self, Proto::Tcp)
    }

    /// The Via transport token (`UDP`, `TCP`).
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
        }
    }
}

/// Identifies one TCP connection for as long as it is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The protocol it came over.
    pub proto: Proto,
    /// The remote address and port.
    pub remote: SocketAddr,
    /// Our address it arrived on.
    pub local: SocketAddr,
    /// The TCP connection, for TCP.
    pub conn: Option<ConnId>,
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    /// The protocol to use.
    pub proto: Proto,
    /// The remote address and port.
    pub remote: SocketAddr,
    /// A TCP connection to reuse when it is still open; otherwise a connection to `remote`
    /// is reused or opened.
    pub conn: Option<ConnId>,
}

impl Target {
    /// Where responses to a request from `peer` go: back over the same connection, or to
    /// the UDP source address.
    pub fn reply_to(peer: &Peer) -> Target {
        Target {
            proto: peer.proto,
            remote: peer.remote,
            conn: peer.conn,
        }
    }
}

/// What the transport delivers to the core.
// One event per message, moved straight through the channel: boxing the message would only
// add an allocation (the same choice as `callcomp_sip::parse::Framed`).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Inbound {
    /// A well-formed message. Requests carry `received`/`rport` on their top Via already.
    Message {
        /// The message.
        message: Message,
        /// Where it came from.
        peer: Peer,
        /// When its last byte was read.
        at: Instant,
    },
    /// A TCP connection closed (by the peer, an error, or the idle bound); messages
    /// targeted at it must find another way.
    Closed(ConnId),
}

/// A message for the transport to send.
#[derive(Debug)]
pub struct Outbound {
    /// Where it goes.
    pub target: Target,
    /// The serialized message.
    pub bytes: Vec<u8>,
}

/// Bounds on what the transport keeps open.
#[derive(Debug, Clone)]
pub struct TransportLimits {
    /// At most this many TCP connections at once; new ones beyond it are refused.
    pub max_connections: usize,
    /// At most this many accepted TCP connections from one source IP address.
    pub max_per_address: usize,
    /// A TCP connection that carries no whole message nor keep-alive for this long is closed.
    pub idle_timeout: Duration,
    /// Once the first byte of a message came over TCP, the whole message must arrive within
    /// this time (bytes that trickle in do not extend it), else the connection is closed.
    pub message_timeout: Duration,
    /// Malformed input is logged as one summary line per this interval.
    pub malformed_interval: Duration,
    /// Parser limits for every message.
    pub parse: callcomp_sip::parse::Limits,
    /// At most this many inbound messages wait for the core in each of its two lanes
    /// (`lanes.rs`): beyond it UDP drops and TCP stops reading.
    pub inbound_queue: usize,
    /// Once this many inbound messages wait for the core (both lanes), new requests are answered `503`
    /// with `Retry-After` by the transport (overload; see `overload.rs`).
    pub shed_at: usize,
}

/// The default bound of the inbound queue: about a second of messages at 2,500 calls/s
/// (six messages a call), so that a core held up for a moment (a busy machine) loses nothing.
pub const INBOUND_QUEUE: usize = 16_384;

impl TransportLimits {
    /// The limits of the `[sip]` and `[log]` configuration.
    pub fn from_config(config: &crate::config::Config) -> TransportLimits {
        let size = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        TransportLimits {
            max_connections: size(config.sip.tcp_max_connections),
            max_per_address: size(config.sip.tcp_max_per_address),
            idle_timeout: config.sip.tcp_idle_timeout,
            message_timeout: config.sip.tcp_message_timeout,
            malformed_interval: config.log.malformed_interval,
            parse: callcomp_sip::parse::Limits::default(),
            inbound_queue: INBOUND_QUEUE,
            shed_at: INBOUND_QUEUE / 4,
        }
    }
}

impl Default for TransportLimits {
    fn default() -> TransportLimits {
        TransportLimits::from_config(&crate::config::Config::default())
    }
}
