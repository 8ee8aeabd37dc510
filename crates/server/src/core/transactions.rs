//! The transaction layer as the core drives it: every transaction remembers where its
//! messages go, outputs that only concern the wire are turned into [`Outbound`]s here, and
//! what the transaction user must decide comes back as a [`TuEvent`].
//!
//! This is also where callcomp's own Via and Contact are made (RFC 3261 §8.1.1.7, §18.1.1,
//! RFC 3581 `rport`), and where SIP messages are counted for the metrics.

use std::net::SocketAddr;
use std::time::Instant;

use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::via::{Transport, Via};
use callcomp_sip::message::Message;
use callcomp_sip::transaction::{
    LayerOutput, Output, TimerConfig, TransactionKey, TransactionLayer,
};
use callcomp_sip::uri::Host;

use super::ids::Ids;
use super::meters::{Role, SipMeters, Way};
use super::trace::{Direction, SipTrace};
use crate::transport::{Outbound, Proto, Target};

/// callcomp's `User-Agent` (requests) and `Server` (responses) value: every request and
/// response that starts or answers a transaction carries it; one leg's own never reaches the
/// other (`b2bua::dialog::copy_end_to_end`).
pub const AGENT: &str = concat!("callcomp/", env!("CARGO_PKG_VERSION"));

/// What the transaction layer hands up to the transaction user.
#[derive(Debug)]
pub enum TuEvent {
    /// A new request with its server transaction.
    NewRequest {
        /// The server transaction; answer under this key.
        key: TransactionKey,
        /// The request.
        request: Message,
        /// For a CANCEL: the INVITE server transaction it targets.
        cancels: Option<TransactionKey>,
    },
    /// A response to a request the TU sent.
    Response {
        /// The client transaction.
        key: TransactionKey,
        /// The response.
        response: Message,
    },
    /// A client transaction got no final response in time (Timer B or F): treat as 408.
    TimedOut(TransactionKey),
    /// A response that matched no client transaction (a 2xx retransmitted late).
    StrayResponse(Message),
    /// An ACK for a 2xx.
    Ack(Message),
}

/// The transaction layer (each live transaction keeping its destination as its route) and
/// the outbox.
pub struct Transactions {
    layer: TransactionLayer<Target>,
    outbox: Vec<Outbound>,
    advertise: SocketAddr,
    trace: SipTrace,
    meters: SipMeters,
    /// The generator of our tags, branches and Call-IDs.
    ids: Ids,
}

impl Transactions {
    /// An empty layer; `advertise` is the address put in our Via and Contact headers.
    pub fn new(timers: TimerConfig, advertise: SocketAddr) -> Transactions {
        Transactions {
            layer: TransactionLayer::routed(timers),
            outbox: Vec::new(),
            advertise,
            trace: SipTrace::default(),
            meters: SipMeters::default(),
            ids: Ids::from_os_rng(),
        }
    }

    /// The same layer drawing its identifiers from `ids` (seeded in tests).
    pub fn with_ids(mut self, ids: Ids) -> Transactions {
        self.ids = ids;
        self
    }

    /// A new From/To tag.
    pub fn tag(&mut self) -> String {
        self.ids.tag()
    }

    /// A new Call-ID on our address.
    pub fn call_id(&mut self) -> String {
        self.ids.call_id(&self.advertise.ip().to_string())
    }

    /// A random wait of `ms` milliseconds (the glare wait), from the same generator.
    pub fn random_wait(&mut self, ms: std::ops::RangeInclusive<u64>) -> std::time::Duration {
        self.ids.wait(ms)
    }

    /// The same layer tracing SIP through `trace` (`log.sip_trace`).
    pub fn with_trace(mut self, trace: SipTrace) -> Transactions {
        self.trace = trace;
        self
    }

    /// The SIP trace, for the lines written outside the wire boundary (routing decisions).
    pub fn trace(&self) -> &SipTrace {
        &self.trace
    }

    /// The address in our Via and Contact.
    pub fn advertise(&self) -> SocketAddr {
        self.advertise
    }

    /// Changes the advertised address (once the transport knows its real ports).
    pub fn set_advertise(&mut self, addr: SocketAddr) {
        self.advertise = addr;
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.layer.len()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.layer.is_empty()
    }

    /// When [`Transactions::on_timer`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.layer.poll_timeout()
    }

    /// Takes every message queued for the transport.
    pub fn drain(&mut self) -> Vec<Outbound> {
        std::mem::take(&mut self.outbox)
    }

    /// Feeds a message from `peer` through the layer. `Err` when it cannot be keyed (the
    /// caller answers a request statelessly).
    pub fn receive(
        &mut self,
        message: Message,
        from: Target,
        now: Instant,
    ) -> Result<Vec<TuEvent>, callcomp_sip::transaction::KeyError> {
        count(&mut self.meters, Way::In, &message);
        let outputs = self
            .layer
            .receive_from(message, from.proto.is_reliable(), from, now)?;
        Ok(self.settle(outputs))
    }

    /// Fires the layer's timers.
    pub fn on_timer(&mut self, now: Instant) -> Vec<TuEvent> {
        let outputs = self.layer.on_timer(now);
        self.settle(outputs)
    }

    /// Starts a client transaction sending `request` to `target`; `None` if the layer
    /// refused it (a reused branch, which fresh branches make impossible).
    pub fn request(
        &mut self,
        mut request: Message,
        target: Target,
        now: Instant,
    ) -> Option<TransactionKey> {
        if request.get_str(&HeaderName::UserAgent).is_none() {
            request.push_raw(HeaderName::UserAgent, AGENT);
        }
        match self
            .layer
            .send_request_to(request, target.proto.is_reliable(), target, now)
        {
            Ok((key, outputs)) => {
                self.meters.transaction(Role::Client, key.method());
                // Starting a client transaction only ever sends; nothing goes to the TU yet.
                let events = self.settle(outputs);
                if !events.is_empty() {
                    tracing::warn!(%key, "a new client transaction reported to its TU at once");
                }
                Some(key)
            }
            Err(e) => {
                tracing::error!(error = %e, "client transaction refused");
                None
            }
        }
    }

    /// Sends `response` through server transaction `key`. A transaction that has ended
    /// (or cannot send this response now) is logged and skipped.
    pub fn respond(&mut self, key: &TransactionKey, mut response: Message, now: Instant) {
        if response.get_str(&HeaderName::Server).is_none() {
            response.push_raw(HeaderName::Server, AGENT);
        }
        match self.layer.send_response(key, response, now) {
            Ok(outputs) => {
                self.settle(outputs);
            }
            Err(e) => tracing::debug!(error = %e, "response not sent"),
        }
    }

    /// Sends a message outside any transaction: an ACK for a 2xx, a retransmitted 2xx, a
    /// stateless response.
    pub fn send(&mut self, message: &Message, target: Target) {
        count(&mut self.meters, Way::Out, message);
        self.trace
            .message(Direction::Out, message, target.proto, target.remote);
        self.outbox.push(Outbound {
            target,
            bytes: message.to_bytes(),
        });
    }

    /// A new top Via for a request we send over `proto`, with a fresh branch and `rport`.
    pub fn via(&mut self, proto: Proto) -> Via {
        let mut via = Via::new(
            match proto {
                Proto::Udp => Transport::Udp,
                Proto::Tcp => Transport::Tcp,
            },
            host_of(self.advertise),
            Some(self.advertise.port()),
            &self.ids.branch(),
        );
        via.set_rport(None);
        via
    }

    /// Our Contact value for dialogs over `proto`.
    pub fn contact(&self, proto: Proto) -> String {
        let host = host_of(self.advertise);
        let port = self.advertise.port();
        match proto {
            Proto::Udp => format!("<sip:callcomp@{host}:{port}>"),
            Proto::Tcp => format!("<sip:callcomp@{host}:{port};transport=tcp>"),
        }
    }

    fn settle(&mut self, outputs: Vec<LayerOutput<Target>>) -> Vec<TuEvent> {
        let mut events = Vec::new();
        for output in outputs {
            match output {
                LayerOutput::Transaction { key, output, route } => match output {
                    Output::Send(message) => self.send(&message, route),
                    Output::ToTransactionUser(message) if key.is_client() => {
                        events.push(TuEvent::Response {
                            key,
                            response: message,
                        });
                    }
                    Output::ToTransactionUser(message) => events.push(TuEvent::Ack(message)),
                    Output::TimedOut if key.is_client() => events.push(TuEvent::TimedOut(key)),
                    Output::TransportError if key.is_client() => {
                        events.push(TuEvent::TimedOut(key))
                    }
                    Output::Terminated
                    | Output::TimedOut
                    | Output::TransportError
                    | Output::SetTimer(..) => {}
                },
                LayerOutput::NewRequest {
                    key,
                    request,
                    cancels,
                } => {
                    self.meters.transaction(Role::Server, key.method());
                    events.push(TuEvent::NewRequest {
                        key,
                        request,
                        cancels,
                    });
                }
                LayerOutput::StrayResponse(message) => events.push(TuEvent::StrayResponse(message)),
                LayerOutput::StrayAck(message) => events.push(TuEvent::Ack(message)),
            }
        }
        events
    }
}

/// The host of a socket address as a URI host.
fn host_of(addr: SocketAddr) -> Host {
    match addr {
        SocketAddr::V4(a) => Host::Ipv4(*a.ip()),
        SocketAddr::V6(a) => Host::Ipv6(*a.ip()),
    }
}

/// Counts one message, labelled with its method (a response's CSeq method) and status.
fn count(meters: &mut SipMeters, way: Way, message: &Message) {
    match (message.method(), message.status()) {
        (Some(method), _) => meters.message(way, method, None),
        (None, Some(code)) => {
            if let Some(Ok(cseq)) = message.header::<callcomp_sip::headers::cseq::CSeq>() {
                meters.message(way, &cseq.method, Some(code));
            }
        }
        (None, None) => {}
    }
}
