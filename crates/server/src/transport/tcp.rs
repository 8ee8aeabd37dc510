//! SIP over TCP (RFC 3261 §18.3): Content-Length framing over a byte stream, connection
//! reuse, and the bounds on connections and idle time.
//!
//! Bounds (`docs/security.md`): at most `max_connections` open and `max_per_address`
//! accepted from one source IP; a message must arrive whole within `message_timeout` of its
//! first byte; the idle timer is reset only by whole messages and keep-alives, in either
//! direction, never by stray bytes, so one byte now and then cannot hold a connection open.
//!
//! Each connection is one task that reads, frames and delivers, and writes what the
//! dispatcher queues for it. Delivering waits for room in the inbound queue, so a slow
//! core slows the peer down instead of losing messages. Between messages, CRLFs are
//! ignored and a double-CRLF ping is answered with a single CRLF pong (RFC 5626 §3.5.1).
//! A framing error is answered with 400 when it was a request, and the connection closes:
//! after it, where the next message starts is unknown.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use callcomp_sip::message::Message;
use callcomp_sip::parse::{Framed, Limits, ParseError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::lanes::Lane;
use super::runtime::{admit, bump, refused, stopped, Ctx, Verdict};
use super::{ConnId, Inbound, Outbound, Peer, Proto, Target, TransportLimits};
use crate::api::metrics as m;

/// How many outbound messages may wait for one connection.
const WRITE_QUEUE: usize = 256;
/// How long connecting to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read at a time.
const READ_CHUNK: usize = 16 * 1024;

/// The open connections, by id and by remote address.
#[derive(Default)]
pub(crate) struct Conns {
    by_id: HashMap<ConnId, Conn>,
    /// The newest connection to each remote address.
    by_remote: HashMap<SocketAddr, ConnId>,
    /// Accepted connections per source IP.
    accepted_from: HashMap<IpAddr, usize>,
}

struct Conn {
    remote: SocketAddr,
    writer: mpsc::Sender<Vec<u8>>,
    accepted: bool,
}

/// Why a connection was not registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// `max_connections` are open.
    Total,
    /// `max_per_address` are open from this source IP.
    PerAddress,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::Total => "sip_tcp_total",
            Refusal::PerAddress => "sip_tcp_per_address",
        }
    }
}

impl Conns {
    /// Registers a connection unless a bound forbids it. `accepted` is for connections a
    /// peer opened, which count against their source's `max_per_address`.
    fn insert(
        &mut self,
        id: ConnId,
        remote: SocketAddr,
        writer: mpsc::Sender<Vec<u8>>,
        accepted: bool,
        limits: &TransportLimits,
    ) -> Result<(), Refusal> {
        if self.by_id.len() >= limits.max_connections {
            return Err(Refusal::Total);
        }
        if accepted {
            let from = self.accepted_from.entry(remote.ip()).or_default();
            if *from >= limits.max_per_address {
                return Err(Refusal::PerAddress);
            }
            *from += 1;
        }
        self.by_id.insert(
            id,
            Conn {
                remote,
                writer,
                accepted,
            },
        );
        self.by_remote.insert(remote, id);
        Ok(())
    }

    fn remove(&mut self, id: ConnId) {
        if let Some(conn) = self.by_id.remove(&id) {
            if self.by_remote.get(&conn.remote) == Some(&id) {
                self.by_remote.remove(&conn.remote);
            }
            if conn.accepted {
                let ip = conn.remote.ip();
                if let Some(n) = self.accepted_from.get_mut(&ip) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.accepted_from.remove(&ip);
                    }
                }
            }
        }
    }

    /// The write queue for a target: its connection when open, else one to its address.
    fn route(&self, target: &Target) -> Option<mpsc::Sender<Vec<u8>>> {
        let id = target
            .conn
            .filter(|id| self.by_id.contains_key(id))
            .or_else(|| self.by_remote.get(&target.remote).copied())?;
        self.by_id.get(&id).map(|c| c.writer.clone())
    }
}

/// Accepts connections on one listener until the transports stop.
pub(crate) async fn accept(listener: TcpListener, local: SocketAddr, ctx: Arc<Ctx>) {
    let mut stop = ctx.stop.clone();
    loop {
        let (stream, remote) = tokio::select! {
            _ = stopped(&mut stop) => return,
            r = listener.accept() => match r {
                Ok(r) => r,
                Err(e) => {
                    // Out of file descriptors, say: wait a little instead of spinning.
                    warn!(%local, error = %e, "TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (writer, queue) = mpsc::channel(WRITE_QUEUE);
        let id = next_id(&ctx);
        let inserted = ctx.conns().insert(id, remote, writer, true, &ctx.limits);
        if let Err(refusal) = inserted {
            bump(&ctx.counters.connections_refused);
            metrics::counter!(m::LIMIT_REFUSALS, m::LABEL_LIMIT => refusal.label()).increment(1);
            match refusal {
                Refusal::Total => {
                    debug!(peer = %remote, max = ctx.limits.max_connections, "TCP connection refused: too many open")
                }
                Refusal::PerAddress => {
                    debug!(peer = %remote, max = ctx.limits.max_per_address, "TCP connection refused: too many from this address")
                }
            }
            ctx.tally.note(refusal.label(), remote, "");
            drop(stream);
            continue;
        }
        debug!(peer = %remote, conn = id.0, "TCP connection accepted");
        let peer = Peer {
            proto: Proto::Tcp,
            remote,
            local,
            conn: Some(id),
        };
        tokio::spawn(run(stream, peer, queue, ctx.clone()));
    }
}

/// Queues a message on the target's connection, opening one when there is none.
pub(crate) fn send(ctx: &Arc<Ctx>, message: Outbound) {
    let Outbound { target, bytes } = message;
    let queued = ctx.conns().route(&target);
    let bytes = match queued {
        Some(writer) => match writer.try_send(bytes) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(_)) => {
                bump(&ctx.counters.outbound_dropped);
                warn!(remote = %target.remote, "TCP write queue full; message dropped");
                return;
            }
            // The connection is closing: open a new one.
            Err(mpsc::error::TrySendError::Closed(bytes)) => bytes,
        },
        None => bytes,
    };

    let (writer, queue) = mpsc::channel(WRITE_QUEUE);
    let id = next_id(ctx);
    let inserted = ctx
        .conns()
        .insert(id, target.remote, writer.clone(), false, &ctx.limits);
    if let Err(refusal) = inserted {
        metrics::counter!(m::LIMIT_REFUSALS, m::LABEL_LIMIT => refusal.label()).increment(1);
        bump(&ctx.counters.connections_refused);
        bump(&ctx.counters.outbound_dropped);
        warn!(remote = %target.remote, "cannot open a TCP connection: too many open; message dropped");
        return;
    }
    // The queue is new and empty, so this cannot fail; later messages to the same address
    // find this connection and queue behind it while it connects.
    let _ = writer.try_send(bytes);
    tokio::spawn(connect(id, target.remote, queue, ctx.clone()));
}

fn next_id(ctx: &Ctx) -> ConnId {
    ConnId(ctx.next_conn.fetch_add(1, Ordering::Relaxed))
}

/// Opens a connection registered as `id` and serves it.
async fn connect(id: ConnId, remote: SocketAddr, queue: mpsc::Receiver<Vec<u8>>, ctx: Arc<Ctx>) {
    let mut stop = ctx.stop.clone();
    let result = tokio::select! {
        _ = stopped(&mut stop) => {
            ctx.conns().remove(id);
            return;
        }
        r = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(remote)) => r,
    };
    let stream = match result {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return connect_failed(id, remote, &e.to_string(), &ctx),
        Err(_) => return connect_failed(id, remote, "timed out", &ctx),
    };
    let local = match stream.local_addr() {
        Ok(local) => local,
        Err(e) => return connect_failed(id, remote, &e.to_string(), &ctx),
    };
    debug!(%remote, conn = id.0, "TCP connection opened");
    let peer = Peer {
        proto: Proto::Tcp,
        remote,
        local,
        conn: Some(id),
    };
    run(stream, peer, queue, ctx).await;
}

fn connect_failed(id: ConnId, remote: SocketAddr, error: &str, ctx: &Ctx) {
    ctx.conns().remove(id);
    bump(&ctx.counters.outbound_dropped);
    warn!(%remote, error, "TCP connect failed; queued messages dropped");
}

/// Why a connection ended, for the log.
#[derive(Debug)]
enum End {
    Shutdown,
    PeerClosed,
    Idle,
    MessageTimeout,
    ReadError,
    WriteError,
    FramingError,
    CoreGone,
}

/// Serves one connection, then unregisters it and tells the core it closed.
async fn run(mut stream: TcpStream, peer: Peer, mut queue: mpsc::Receiver<Vec<u8>>, ctx: Arc<Ctx>) {
    let end = serve(&mut stream, &peer, &mut queue, &ctx).await;
    let Some(id) = peer.conn else { return };
    ctx.conns().remove(id);
    let _ = stream.shutdown().await;
    drop(stream);
    debug!(peer = %peer.remote, conn = id.0, reason = ?end, "TCP connection closed");
    if !matches!(end, End::Shutdown | End::CoreGone) {
        let mut stop = ctx.stop.clone();
        tokio::select! {
            _ = stopped(&mut stop) => {}
            _ = ctx.inbound.send(Inbound::Closed(id), Lane::Dialog) => {}
        }
    }
}

async fn serve(
    stream: &mut TcpStream,
    peer: &Peer,
    queue: &mut mpsc::Receiver<Vec<u8>>,
    ctx: &Ctx,
) -> End {
    let mut stop = ctx.stop.clone();
    let idle = ctx.limits.idle_timeout;
    // Reset only by whole messages and keep-alives, in or out.
    let mut idle_deadline = Instant::now() + idle;
    // Set when a message starts arriving; cleared when it is whole.
    let mut message_deadline: Option<Instant> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    loop {
        // Hand on everything complete in the buffer before reading more.
        loop {
            let frame = next_frame(&mut buf, &ctx.limits.parse);
            if matches!(frame, Frame::Ping | Frame::Message(_)) {
                idle_deadline = Instant::now() + idle;
                message_deadline = None;
            }
            match frame {
                Frame::Need => break,
                Frame::Ping => {
                    if write(stream, b"\r\n", peer).await.is_err() {
                        return End::WriteError;
                    }
                }
                Frame::Message(message) => match admit(*message, *peer, ctx) {
                    Verdict::Deliver(event, lane) => {
                        tokio::select! {
                            _ = stopped(&mut stop) => return End::Shutdown,
                            r = ctx.inbound.send(event, lane) => if r.is_err() {
                                return End::CoreGone;
                            },
                        }
                    }
                    Verdict::Answer(answer) => {
                        if write(stream, &answer, peer).await.is_err() {
                            return End::WriteError;
                        }
                        bump(&ctx.counters.messages_out);
                    }
                    Verdict::Drop => {}
                },
                Frame::Error(error) => {
                    if let Some(answer) = refused(&buf, &error, peer, ctx) {
                        if write(stream, &answer, peer).await.is_ok() {
                            bump(&ctx.counters.messages_out);
                        }
                    }
                    return End::FramingError;
                }
            }
        }
        if buf.iter().any(|&b| b != b'\r' && b != b'\n') {
            message_deadline.get_or_insert(Instant::now() + ctx.limits.message_timeout);
        } else {
            message_deadline = None;
        }
        let deadline = message_deadline.map_or(idle_deadline, |m| m.min(idle_deadline));

        buf.reserve(READ_CHUNK);
        tokio::select! {
            _ = stopped(&mut stop) => return End::Shutdown,
            r = stream.read_buf(&mut buf) => match r {
                Ok(0) => return End::PeerClosed,
                Ok(_) => {}
                Err(e) => {
                    debug!(peer = %peer.remote, error = %e, "TCP read error");
                    return End::ReadError;
                }
            },
            out = queue.recv() => {
                // The sender lives in the connection table until this task removes it.
                let Some(bytes) = out else { return End::Shutdown };
                if write(stream, &bytes, peer).await.is_err() {
                    bump(&ctx.counters.outbound_dropped);
                    return End::WriteError;
                }
                bump(&ctx.counters.messages_out);
                idle_deadline = Instant::now() + idle;
            }
            _ = tokio::time::sleep_until(deadline) => {
                if message_deadline.is_some_and(|m| m <= Instant::now()) {
                    metrics::counter!(m::LIMIT_REFUSALS, m::LABEL_LIMIT => "sip_tcp_message_timeout").increment(1);
                    debug!(peer = %peer.remote, timeout = ?ctx.limits.message_timeout, "closing a TCP connection whose message did not arrive whole in time");
                    ctx.tally.note("sip_tcp_message_timeout", peer.remote, "");
                    return End::MessageTimeout;
                }
                info!(peer = %peer.remote, idle = ?idle, "closing idle TCP connection");
                return End::Idle;
            }
        }
    }
}

async fn write(stream: &mut TcpStream, bytes: &[u8], peer: &Peer) -> std::io::Result<()> {
    let r = stream.write_all(bytes).await;
    if let Err(e) = &r {
        debug!(peer = %peer.remote, error = %e, "TCP write error");
    }
    r
}

/// What the front of a connection's buffer holds.
#[derive(Debug)]
enum Frame {
    /// Not enough bytes for anything yet.
    Need,
    /// A double-CRLF keep-alive ping, now removed from the buffer.
    Ping,
    /// A whole message, now removed from the buffer.
    Message(Box<Message>),
    /// The bytes at the front are not a message; the buffer is left as it was.
    Error(ParseError),
}

/// Takes the next keep-alive or message off the front of `buf`.
fn next_frame(buf: &mut Vec<u8>, limits: &Limits) -> Frame {
    let breaks = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    if breaks > 0 {
        if buf.starts_with(b"\r\n\r\n") {
            buf.drain(..4);
            return Frame::Ping;
        }
        if breaks == buf.len() && breaks < 4 {
            // Could still become a ping.
            return Frame::Need;
        }
        // A CRLF between messages, or line breaks that are no ping: ignored.
        buf.drain(..breaks);
        if buf.is_empty() {
            return Frame::Need;
        }
    }
    match Message::parse_stream(buf, limits) {
        Ok(Framed::Partial) => Frame::Need,
        Ok(Framed::Complete(message, used)) => {
            buf.drain(..used.min(buf.len()));
            Frame::Message(Box::new(message))
        }
        Err(e) => Frame::Error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8]) -> (Vec<String>, Vec<u8>) {
        let mut buf = input.to_vec();
        let mut out = Vec::new();
        loop {
            match next_frame(&mut buf, &Limits::default()) {
                Frame::Need => break,
                Frame::Ping => out.push("ping".to_string()),
                Frame::Message(m) => out.push(m.method().unwrap().to_string()),
                Frame::Error(e) => {
                    out.push(format!("error: {e}"));
                    break;
                }
            }
        }
        (out, buf)
    }

    #[test]
    fn keep_alives_between_messages() {
        let msg = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n";
        let rows: &[(&[u8], &[&str], &[u8])] = &[
            (b"", &[], b""),
            (b"\r\n", &[], b"\r\n"),
            (b"\r\n\r\n", &["ping"], b""),
            (b"\r\n\r\n\r\n\r\n", &["ping", "ping"], b""),
            (b"\r\n\r\n\r\n", &["ping"], b"\r\n"),
            (b"\n\n\n\n", &[], b""),
        ];
        for (input, expected, rest) in rows {
            let (got, left) = frames(input);
            assert_eq!(got, *expected, "{input:?}");
            assert_eq!(left, *rest, "{input:?}");
        }
        let mut input = b"\r\n".to_vec();
        input.extend_from_slice(msg);
        input.extend_from_slice(b"\r\n");
        input.extend_from_slice(msg);
        input.extend_from_slice(b"\r\n\r\n");
        input.extend_from_slice(&msg[..10]);
        let (got, left) = frames(&input);
        assert_eq!(got, ["OPTIONS", "OPTIONS", "ping"]);
        assert_eq!(left, &msg[..10]);
    }

    #[test]
    fn framing_error_leaves_the_bytes() {
        let input = b"OPTIONS sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n";
        let (got, left) = frames(input);
        assert_eq!(got, ["error: Content-Length required on stream transports"]);
        assert_eq!(left, input);
    }
}
