//! Starting the transports, the handle the core sends through, and what UDP and TCP share:
//! turning parsed bytes into [`Inbound`] events or stateless answers.
//!
//! Tasks: one receiver per UDP socket, one acceptor per TCP listener, one task per TCP
//! connection, and one dispatcher that takes [`Outbound`] messages from the handle's queue
//! and hands them to a UDP socket or a connection's write queue. Every task watches one stop
//! signal, raised by [`TransportHandle::shutdown`] or by dropping the last handle.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use callcomp_sip::message::Message;
use callcomp_sip::parse::ParseError;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use super::lanes::{self, InboundRx, InboundTx, Lane};
use super::malformed::{self, Tally, MALFORMED};
use super::overload;
use super::reject::{is_response, reject};
// The metric names are the API's (it serves /metrics); the transport only counts.
use super::stamp::stamp_via;
use super::tcp::{self, Conns};
use super::udp;
use super::{Inbound, Outbound, Peer, Proto, TransportLimits};
use crate::api::metrics as m;

/// How many outbound messages wait for the dispatcher before [`TransportHandle::send`] refuses.
const OUTBOUND_QUEUE: usize = 4096;

/// Why the transports could not start.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A socket could not be bound to a configured address.
    #[error("cannot bind {proto:?} on {addr}: {source}")]
    Bind {
        /// The protocol of the socket.
        proto: Proto,
        /// The address it was bound to.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A bound socket did not report its local address.
    #[error("cannot read the local address of {proto:?} socket on {addr}: {source}")]
    LocalAddr {
        /// The protocol of the socket.
        proto: Proto,
        /// The address it was bound to.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// No address or no protocol was given, so there is nothing to listen on.
    #[error("no listen address or no transport protocol configured")]
    NothingToListenOn,
}

/// Why [`TransportHandle::send`] did not queue a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The outbound queue is full: the sockets are not keeping up.
    #[error("outbound queue full")]
    QueueFull,
    /// The transports were shut down.
    #[error("transports stopped")]
    Stopped,
}

/// Counts since start, for logs and (later) metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Well-formed messages delivered to the core.
    pub messages_in: u64,
    /// Messages written to a socket.
    pub messages_out: u64,
    /// Inbound messages the parser refused (or whose top Via was unusable).
    pub parse_errors: u64,
    /// Stateless answers sent to requests that failed to parse.
    pub rejected: u64,
    /// Well-formed UDP messages dropped because the core's queue was full.
    pub inbound_dropped: u64,
    /// Outbound messages dropped (queue full, no socket, connection failed).
    pub outbound_dropped: u64,
    /// TCP connections refused because `max_connections` were open.
    pub connections_refused: u64,
    /// New INVITEs answered `503` because the core's queue was behind (overload).
    pub overload_refused: u64,
}

/// The core's side of the transports: send messages, learn the bound addresses, stop.
///
/// Clones share the same transports; they stop when [`TransportHandle::shutdown`] is called
/// or the last clone is dropped.
#[derive(Debug, Clone)]
pub struct TransportHandle {
    inner: Arc<HandleInner>,
}

/// Binds every address in `listen` for every protocol in `protos` and starts serving them.
///
/// Port 0 lets the operating system choose; for an address served over UDP and TCP, TCP
/// then takes the port UDP got when it is free. Returns the handle and the inbound lanes.
pub async fn start(
    listen: &[SocketAddr],
    protos: &[Proto],
    limits: TransportLimits,
) -> Result<(TransportHandle, InboundRx), TransportError> {
    if listen.is_empty() || protos.is_empty() {
        return Err(TransportError::NothingToListenOn);
    }
    let (udp_sockets, tcp_listeners) = bind_all(listen, protos).await?;

    let (inbound_tx, inbound_rx) = lanes::lanes(limits.inbound_queue);
    let (out_tx, out_rx) = mpsc::channel(OUTBOUND_QUEUE);
    let (stop_tx, stop_rx) = watch::channel(false);
    let ctx = Arc::new(Ctx {
        limits,
        inbound: inbound_tx,
        conns: Mutex::new(Conns::default()),
        next_conn: AtomicU64::new(1),
        counters: Counters::default(),
        tally: Tally::default(),
        stop: stop_rx,
    });
    tokio::spawn(malformed::report(ctx.clone()));

    let mut local_addrs = Vec::new();
    for (local, socket) in &udp_sockets {
        local_addrs.push((Proto::Udp, *local));
        tokio::spawn(udp::receive(socket.clone(), *local, ctx.clone()));
    }
    for (local, listener) in tcp_listeners {
        local_addrs.push((Proto::Tcp, local));
        tokio::spawn(tcp::accept(listener, local, ctx.clone()));
    }
    tokio::spawn(dispatch(out_rx, udp_sockets.clone(), ctx.clone()));
    info!(addrs = ?local_addrs, "SIP transports listening");

    let handle = TransportHandle {
        inner: Arc::new(HandleInner {
            out: out_tx,
            udp_sockets,
            local_addrs,
            stop: stop_tx,
            ctx,
        }),
    };
    Ok((handle, inbound_rx))
}

impl TransportHandle {
    /// Sends a message without waiting. Over UDP it goes straight to the socket from the
    /// caller's task (`try_send_to`) and is queued only when the socket would block, or when
    /// earlier messages still wait in the queue (so it does not overtake them); over TCP it is
    /// queued for `target.conn` when still open, else for an open connection to
    /// `target.remote`, else for a new connection. Failures after queuing are logged and
    /// counted.
    pub fn send(&self, message: Outbound) -> Result<(), SendError> {
        if *self.inner.stop.borrow() {
            return Err(SendError::Stopped);
        }
        let queue_empty = self.inner.out.capacity() == self.inner.out.max_capacity();
        if message.target.proto == Proto::Udp && queue_empty {
            let Some(socket) = udp::pick_socket(&self.inner.udp_sockets, message.target.remote)
            else {
                bump(&self.inner.ctx.counters.outbound_dropped);
                warn!(remote = %message.target.remote, "no UDP socket for this address family; message dropped");
                return Ok(());
            };
            match udp::try_send(socket, &message, &self.inner.ctx) {
                Ok(()) => return Ok(()),
                // The socket's buffer is full: the dispatcher waits for it.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Ok(()),
            }
        }
        self.inner.out.try_send(message).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                self.inner
                    .ctx
                    .counters
                    .outbound_dropped
                    .fetch_add(1, Ordering::Relaxed);
                SendError::QueueFull
            }
            mpsc::error::TrySendError::Closed(_) => SendError::Stopped,
        })
    }

    /// The bound addresses, with the ports the operating system chose.
    pub fn local_addrs(&self) -> Vec<(Proto, SocketAddr)> {
        self.inner.local_addrs.clone()
    }

    /// The first bound address of a protocol.
    pub fn local_addr(&self, proto: Proto) -> Option<SocketAddr> {
        self.inner
            .local_addrs
            .iter()
            .find(|(p, _)| *p == proto)
            .map(|(_, a)| *a)
    }

    /// Counts since start.
    pub fn stats(&self) -> TransportStats {
        self.inner.ctx.counters.snapshot()
    }

    /// Stops every transport task and closes every socket and connection.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
    }
}

/// What the tasks share.
pub(crate) struct Ctx {
    pub(crate) limits: TransportLimits,
    pub(crate) inbound: InboundTx,
    pub(crate) conns: Mutex<Conns>,
    pub(crate) next_conn: AtomicU64,
    pub(crate) counters: Counters,
    /// Bad input and refusals, summarised in the log once per interval.
    pub(crate) tally: Tally,
    pub(crate) stop: watch::Receiver<bool>,
}

impl Ctx {
    /// The connection table; a panic elsewhere while it was held leaves it usable.
    pub(crate) fn conns(&self) -> MutexGuard<'_, Conns> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counters behind [`TransportStats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) messages_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) parse_errors: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) inbound_dropped: AtomicU64,
    pub(crate) outbound_dropped: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    pub(crate) overload_refused: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> TransportStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TransportStats {
            messages_in: get(&self.messages_in),
            messages_out: get(&self.messages_out),
            parse_errors: get(&self.parse_errors),
            rejected: get(&self.rejected),
            inbound_dropped: get(&self.inbound_dropped),
            outbound_dropped: get(&self.outbound_dropped),
            connections_refused: get(&self.connections_refused),
            overload_refused: get(&self.overload_refused),
        }
    }
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What to do with a parsed inbound message.
// Built once per message and matched at once; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Verdict {
    /// Deliver it to the core, in this lane.
    Deliver(Inbound, Lane),
    /// Answer the peer with these bytes and drop the message.
    Answer(Vec<u8>),
    /// Drop it.
    Drop,
}

/// Readies a parsed message for the core: requests get the RFC 3581 stamp, and a request
/// whose top Via is missing or broken is answered with 400 instead.
pub(crate) fn admit(mut message: Message, peer: Peer, ctx: &Ctx) -> Verdict {
    if overload::shedding(ctx) && overload::is_new_call(&message) {
        bump(&ctx.counters.overload_refused);
        bump(&ctx.counters.messages_in);
        count_answer("INVITE", 503);
        debug!(peer = %peer.remote, "core behind; new call refused with 503");
        return Verdict::Answer(overload::refusal(&message));
    }
    if message.is_request() {
        if let Err(e) = stamp_via(&mut message, peer.remote) {
            bump(&ctx.counters.parse_errors);
            count_parse_error(&peer);
            debug!(peer = %peer.remote, proto = ?peer.proto, error = %e, "request with unusable Via");
            ctx.tally.note(MALFORMED, peer.remote, &e);
            let reason = e.to_string();
            let method = message.method().map(|m| m.as_str().to_owned());
            return match reject(&message.to_bytes(), 400, &reason) {
                Some(answer) => {
                    bump(&ctx.counters.rejected);
                    count_answer(method.as_deref().unwrap_or("-"), 400);
                    Verdict::Answer(answer)
                }
                None => Verdict::Drop,
            };
        }
    }
    bump(&ctx.counters.messages_in);
    let lane = lanes::lane(&message);
    Verdict::Deliver(
        Inbound::Message {
            message,
            peer,
            at: Instant::now(),
        },
        lane,
    )
}

/// Handles bytes the parser refused: a request gets a stateless answer, anything else is
/// dropped. Keep-alives (`Empty`) are not errors and are dropped quietly.
pub(crate) fn refused(input: &[u8], error: &ParseError, peer: &Peer, ctx: &Ctx) -> Option<Vec<u8>> {
    if *error == ParseError::Empty {
        return None;
    }
    bump(&ctx.counters.parse_errors);
    count_parse_error(peer);
    ctx.tally.note(MALFORMED, peer.remote, error);
    if is_response(input) {
        debug!(peer = %peer.remote, proto = ?peer.proto, %error, "dropping malformed response");
        return None;
    }
    let answer = reject(input, error.status(), &error.to_string());
    match &answer {
        Some(_) => {
            bump(&ctx.counters.rejected);
            count_answer(first_word(input), error.status());
            debug!(peer = %peer.remote, proto = ?peer.proto, %error, status = error.status(), "answering malformed request");
        }
        None => {
            debug!(peer = %peer.remote, proto = ?peer.proto, %error, "dropping unparseable input")
        }
    }
    answer
}

/// Resolves when the transports are told to stop or the last handle is gone.
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: stop as well.
    let _ = stop.wait_for(|s| *s).await;
}

struct HandleInner {
    out: mpsc::Sender<Outbound>,
    /// The UDP sockets, for sending straight from the caller's task.
    udp_sockets: UdpSockets,
    local_addrs: Vec<(Proto, SocketAddr)>,
    stop: watch::Sender<bool>,
    ctx: Arc<Ctx>,
}

impl std::fmt::Debug for HandleInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportHandle")
            .field("local_addrs", &self.local_addrs)
            .finish()
    }
}

impl Drop for HandleInner {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

type UdpSockets = Vec<(SocketAddr, Arc<UdpSocket>)>;
type TcpListeners = Vec<(SocketAddr, TcpListener)>;

/// Binds everything before any task starts, so a failure leaves nothing running.
async fn bind_all(
    listen: &[SocketAddr],
    protos: &[Proto],
) -> Result<(UdpSockets, TcpListeners), TransportError> {
    let mut udp_sockets = Vec::new();
    let mut tcp_listeners = Vec::new();
    for &addr in listen {
        let mut udp_port = None;
        if protos.contains(&Proto::Udp) {
            let socket = UdpSocket::bind(addr)
                .await
                .map_err(|source| TransportError::Bind {
                    proto: Proto::Udp,
                    addr,
                    source,
                })?;
            let local = socket
                .local_addr()
                .map_err(|source| TransportError::LocalAddr {
                    proto: Proto::Udp,
                    addr,
                    source,
                })?;
            udp_port = Some(local.port());
            udp_sockets.push((local, Arc::new(socket)));
        }
        if protos.contains(&Proto::Tcp) {
            let listener = bind_tcp(addr, udp_port).await?;
            let local = listener
                .local_addr()
                .map_err(|source| TransportError::LocalAddr {
                    proto: Proto::Tcp,
                    addr,
                    source,
                })?;
            tcp_listeners.push((local, listener));
        }
    }
    Ok((udp_sockets, tcp_listeners))
}

/// Binds TCP; with port 0 it first tries the port UDP got on the same address.
async fn bind_tcp(addr: SocketAddr, udp_port: Option<u16>) -> Result<TcpListener, TransportError> {
    if let (0, Some(port)) = (addr.port(), udp_port) {
        let shared = SocketAddr::new(addr.ip(), port);
        match TcpListener::bind(shared).await {
            Ok(listener) => return Ok(listener),
            Err(e) => debug!(%shared, error = %e, "TCP cannot share the UDP port; taking another"),
        }
    }
    TcpListener::bind(addr)
        .await
        .map_err(|source| TransportError::Bind {
            proto: Proto::Tcp,
            addr,
            source,
        })
}

/// Takes messages from the handle's queue and sends each over its protocol.
async fn dispatch(mut out: mpsc::Receiver<Outbound>, udp_sockets: UdpSockets, ctx: Arc<Ctx>) {
    let mut stop = ctx.stop.clone();
    loop {
        let message = tokio::select! {
            _ = stopped(&mut stop) => return,
            m = out.recv() => match m {
                Some(m) => m,
                None => return,
            },
        };
        match message.target.proto {
            Proto::Udp => match udp::pick_socket(&udp_sockets, message.target.remote) {
                Some(socket) => udp::send(socket, &message, &ctx).await,
                None => {
                    bump(&ctx.counters.outbound_dropped);
                    warn!(remote = %message.target.remote, "no UDP socket for this address family; message dropped");
                }
            },
            Proto::Tcp => tcp::send(&ctx, message),
        }
    }
}

/// Exports a refused message in the same Prometheus series the core uses for the ones it
/// refuses, so `/metrics` counts every parse error whichever layer saw it.
fn count_parse_error(peer: &Peer) {
    metrics::counter!(m::PARSE_ERRORS, m::LABEL_TRANSPORT => peer.proto.as_str().to_ascii_lowercase())
        .increment(1);
}

/// Counts a stateless answer as a sent message, labelled like the core's.
fn count_answer(method: &str, status: u16) {
    metrics::counter!(m::SIP_MESSAGES_OUT, m::LABEL_METHOD => method.to_owned(), m::LABEL_STATUS => status.to_string())
        .increment(1);
}

/// The request method of refused bytes, for a metric label: the first word when it is a
/// token, else `-`.
fn first_word(input: &[u8]) -> &str {
    let word = input.split(|b| *b == b' ').next().unwrap_or_default();
    match std::str::from_utf8(word) {
        Ok(w) if !w.is_empty() && w.len() <= 32 && callcomp_sip::text::is_token(w) => w,
        _ => "-",
    }
}
