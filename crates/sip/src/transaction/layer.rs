//! The transaction layer: owns every live transaction, routes received messages to them by
//! key (RFC 3261 §17.1.3, §17.2.3), creates server transactions for new requests, fires
//! their timers, and drops them once terminated.
//!
//! Messages that match nothing are reported rather than dropped: a response without a
//! client transaction (§18.1.2; a 2xx retransmitted after Timer M, or from another fork) and
//! an ACK without an INVITE server transaction (the ACK for a 2xx once Timer L has fired)
//! are for the TU to judge.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

use crate::message::Message;
use crate::method::Method;

use super::key::{KeyError, TransactionKey};
use super::{
    ClientInvite, ClientNonInvite, Output, ServerInvite, ServerNonInvite, TimerConfig,
    TransactionError,
};

/// What the layer asks of its driver and its TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerOutput {
    /// An output of the transaction with this key.
    Transaction {
        /// Which transaction.
        key: TransactionKey,
        /// What it asks for.
        output: Output,
    },
    /// A request created a server transaction: the TU answers it with
    /// [`TransactionLayer::send_response`] under `key`. For a CANCEL, `cancels` is the live
    /// INVITE server transaction it targets (§9.2), if there is one.
    NewRequest {
        /// The new server transaction.
        key: TransactionKey,
        /// The request, for the TU.
        request: Message,
        /// For a CANCEL: the INVITE transaction to cancel.
        cancels: Option<TransactionKey>,
    },
    /// A response that matched no client transaction.
    StrayResponse(Message),
    /// An ACK that matched no INVITE server transaction (an ACK for a 2xx after Timer L).
    StrayAck(Message),
}

/// All the transactions of one SIP endpoint.
#[derive(Debug, Default)]
pub struct TransactionLayer {
    config: TimerConfig,
    transactions: HashMap<TransactionKey, Entry>,
    /// Entry ids to keys, for the timer heap.
    ids: HashMap<u64, TransactionKey>,
    /// Deadlines by entry id, earliest first. Entries go stale when a transaction re-arms or
    /// ends; a stale entry is recognised by `Entry::scheduled` and skipped.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    next_id: u64,
}

impl TransactionLayer {
    /// An empty layer whose transactions use `config`.
    pub fn new(config: TimerConfig) -> TransactionLayer {
        TransactionLayer {
            config,
            ..TransactionLayer::default()
        }
    }

    /// Handles a message from the transport. `reliable` says whether it came over a
    /// reliable transport; it matters only for a server transaction it creates.
    ///
    /// Fails when the message cannot be keyed (no Via, no CSeq, CSeq method differing from
    /// the request method): the caller answers such a request with a stateless 400 and
    /// drops such a response.
    pub fn receive(
        &mut self,
        message: Message,
        reliable: bool,
        now: Instant,
    ) -> Result<Vec<LayerOutput>, KeyError> {
        let mut out = Vec::new();
        if !message.is_request() {
            let key = TransactionKey::client_for_response(&message)?;
            match self.transactions.get_mut(&key) {
                Some(entry) => {
                    let outputs = entry.txn.receive(message, now);
                    self.settle(key, outputs, &mut out);
                }
                None => out.push(LayerOutput::StrayResponse(message)),
            }
            return Ok(out);
        }
        let key = TransactionKey::server_for_request(&message)?;
        if message.method() == Some(&Method::Ack) {
            let found = if self.transactions.contains_key(&key) {
                Some(key)
            } else {
                key.without_to_tag()
                    .filter(|bare| self.transactions.contains_key(bare))
            };
            match found {
                Some(key) => {
                    if let Some(entry) = self.transactions.get_mut(&key) {
                        let outputs = entry.txn.receive(message, now);
                        self.settle(key, outputs, &mut out);
                    }
                }
                None => out.push(LayerOutput::StrayAck(message)),
            }
            return Ok(out);
        }
        if let Some(entry) = self.transactions.get_mut(&key) {
            let outputs = entry.txn.receive(message, now);
            self.settle(key, outputs, &mut out);
            return Ok(out);
        }
        let cancels = self.find_cancel_target(&message);
        // The key was computed from a request whose method matches its CSeq and is not ACK,
        // so creation only fails on inputs `server_for_request` already refused.
        let created = if message.method() == Some(&Method::Invite) {
            ServerInvite::new(message.clone(), reliable, self.config, now)
                .map(|(txn, outputs)| (Txn::UasInvite(Box::new(txn)), outputs))
        } else {
            ServerNonInvite::new(message.clone(), reliable, self.config)
                .map(|txn| (Txn::UasOther(Box::new(txn)), Vec::new()))
        };
        let Ok((txn, outputs)) = created else {
            return Err(KeyError::NotARequest);
        };
        self.insert(key.clone(), txn);
        out.push(LayerOutput::NewRequest {
            key: key.clone(),
            request: message,
            cancels,
        });
        self.settle(key, outputs, &mut out);
        Ok(out)
    }

    /// Starts a client transaction for a request from the TU and returns its key. The top
    /// Via must carry a fresh branch starting with `z9hG4bK`. ACK is refused: an ACK for a
    /// 2xx goes straight to the transport.
    pub fn send_request(
        &mut self,
        request: Message,
        reliable: bool,
        now: Instant,
    ) -> Result<(TransactionKey, Vec<LayerOutput>), TransactionError> {
        if request.method() == Some(&Method::Ack) {
            return Err(TransactionError::AckIsNotATransaction);
        }
        let key = TransactionKey::client_for_request(&request)?;
        if self.transactions.contains_key(&key) {
            return Err(TransactionError::DuplicateKey(key));
        }
        let (txn, outputs) = if request.method() == Some(&Method::Invite) {
            let (txn, outputs) = ClientInvite::start(request, reliable, self.config, now)?;
            (Txn::UacInvite(Box::new(txn)), outputs)
        } else {
            let (txn, outputs) = ClientNonInvite::start(request, reliable, self.config, now)?;
            (Txn::UacOther(Box::new(txn)), outputs)
        };
        self.insert(key.clone(), txn);
        let mut out = Vec::new();
        self.settle(key.clone(), outputs, &mut out);
        Ok((key, out))
    }

    /// Sends a TU response through the server transaction `key`.
    pub fn send_response(
        &mut self,
        key: &TransactionKey,
        response: Message,
        now: Instant,
    ) -> Result<Vec<LayerOutput>, TransactionError> {
        let entry = self
            .transactions
            .get_mut(key)
            .ok_or_else(|| TransactionError::NoSuchTransaction(key.clone()))?;
        let outputs = entry.txn.send_response(response, now)?;
        let mut out = Vec::new();
        self.settle(key.clone(), outputs, &mut out);
        Ok(out)
    }

    /// Reports that the transport failed to send for transaction `key`; it terminates.
    pub fn transport_error(&mut self, key: &TransactionKey) -> Vec<LayerOutput> {
        let mut out = Vec::new();
        if let Some(entry) = self.transactions.get_mut(key) {
            let outputs = entry.txn.transport_error();
            self.settle(key.clone(), outputs, &mut out);
        }
        out
    }

    /// Fires every timer due by `now`, across all transactions.
    pub fn on_timer(&mut self, now: Instant) -> Vec<LayerOutput> {
        let mut out = Vec::new();
        while let Some(&Reverse((at, id))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(key) = self.ids.get(&id).cloned() else {
                continue;
            };
            let Some(entry) = self.transactions.get_mut(&key) else {
                continue;
            };
            if entry.scheduled != Some(at) {
                continue;
            }
            entry.scheduled = None;
            let outputs = entry.txn.on_timer(now);
            self.settle(key, outputs, &mut out);
        }
        out
    }

    /// When [`TransactionLayer::on_timer`] should next be called. It may be early (for a
    /// timer since disarmed), in which case `on_timer` does nothing; it is never late.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// The live INVITE server transaction a CANCEL targets (§9.2), if any.
    pub fn find_cancel_target(&self, cancel: &Message) -> Option<TransactionKey> {
        let target = TransactionKey::cancel_target(cancel).ok()?;
        match self.transactions.get(&target) {
            Some(Entry {
                txn: Txn::UasInvite(_),
                ..
            }) => Some(target),
            _ => None,
        }
    }

    /// True when a live transaction has this key.
    pub fn contains(&self, key: &TransactionKey) -> bool {
        self.transactions.contains_key(key)
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.transactions.len()
    }

    /// True when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.transactions.is_empty()
    }

    fn insert(&mut self, key: TransactionKey, txn: Txn) {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.ids.insert(id, key.clone());
        self.transactions.insert(
            key,
            Entry {
                txn,
                id,
                scheduled: None,
            },
        );
    }

    /// Tags `outputs` with `key`, drops the transaction if it terminated, and otherwise
    /// keeps its next deadline in the heap.
    fn settle(&mut self, key: TransactionKey, outputs: Vec<Output>, out: &mut Vec<LayerOutput>) {
        out.extend(outputs.into_iter().map(|output| LayerOutput::Transaction {
            key: key.clone(),
            output,
        }));
        let Some(entry) = self.transactions.get_mut(&key) else {
            return;
        };
        if entry.txn.is_terminated() {
            let id = entry.id;
            self.transactions.remove(&key);
            self.ids.remove(&id);
            return;
        }
        let next = entry.txn.poll_timeout();
        if next != entry.scheduled {
            entry.scheduled = next;
            if let Some(at) = next {
                self.heap.push(Reverse((at, entry.id)));
            }
        }
    }
}

#[derive(Debug)]
struct Entry {
    txn: Txn,
    id: u64,
    /// The deadline of this entry's live heap element.
    scheduled: Option<Instant>,
}

/// Any of the four machines.
#[derive(Debug)]
enum Txn {
    UacInvite(Box<ClientInvite>),
    UacOther(Box<ClientNonInvite>),
    UasInvite(Box<ServerInvite>),
    UasOther(Box<ServerNonInvite>),
}

impl Txn {
    fn receive(&mut self, message: Message, now: Instant) -> Vec<Output> {
        match self {
            Txn::UacInvite(t) => t.receive_response(message, now),
            Txn::UacOther(t) => t.receive_response(message, now),
            Txn::UasInvite(t) => t.receive_request(message, now),
            Txn::UasOther(t) => t.receive_request(message, now),
        }
    }

    fn send_response(
        &mut self,
        response: Message,
        now: Instant,
    ) -> Result<Vec<Output>, TransactionError> {
        match self {
            Txn::UasInvite(t) => t.send_response(response, now),
            Txn::UasOther(t) => t.send_response(response, now),
            Txn::UacInvite(_) | Txn::UacOther(_) => Err(TransactionError::WrongMessageKind {
                expected: "server transaction key",
            }),
        }
    }

    fn on_timer(&mut self, now: Instant) -> Vec<Output> {
        match self {
            Txn::UacInvite(t) => t.on_timer(now),
            Txn::UacOther(t) => t.on_timer(now),
            Txn::UasInvite(t) => t.on_timer(now),
            Txn::UasOther(t) => t.on_timer(now),
        }
    }

    fn transport_error(&mut self) -> Vec<Output> {
        match self {
            Txn::UacInvite(t) => t.transport_error(),
            Txn::UacOther(t) => t.transport_error(),
            Txn::UasInvite(t) => t.transport_error(),
            Txn::UasOther(t) => t.transport_error(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Txn::UacInvite(t) => t.poll_timeout(),
            Txn::UacOther(t) => t.poll_timeout(),
            Txn::UasInvite(t) => t.poll_timeout(),
            Txn::UasOther(t) => t.poll_timeout(),
        }
    }

    fn is_terminated(&self) -> bool {
        match self {
            Txn::UacInvite(t) => t.is_terminated(),
            Txn::UacOther(t) => t.is_terminated(),
            Txn::UasInvite(t) => t.is_terminated(),
            Txn::UasOther(t) => t.is_terminated(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::transaction::test_support::*;

    /// `key-kind: output` lines, for whole-flow assertions.
    fn show(outputs: &[LayerOutput], base: Instant) -> Vec<String> {
        outputs
            .iter()
            .map(|o| match o {
                LayerOutput::Transaction { key, output } => {
                    let side = if key.is_client() { "client" } else { "server" };
                    let what = describe(std::slice::from_ref(output), base).join("");
                    format!("{side} {}: {what}", key.method())
                }
                LayerOutput::NewRequest {
                    key,
                    request,
                    cancels,
                } => format!(
                    "new {} {}{}",
                    key.method(),
                    request.method().map(|m| m.to_string()).unwrap_or_default(),
                    if cancels.is_some() { " cancels" } else { "" }
                ),
                LayerOutput::StrayResponse(m) => format!("stray {}", m.status().unwrap_or(0)),
                LayerOutput::StrayAck(_) => "stray ACK".to_string(),
            })
            .collect()
    }

    #[test]
    fn uas_invite_rejected_then_acked() {
        let t0 = Instant::now();
        let mut layer = TransactionLayer::new(TimerConfig::default());
        let out = layer.receive(invite(), false, t0).unwrap();
        assert_eq!(
            show(&out, t0),
            ["new INVITE INVITE", "server INVITE: set 100-Trying +200ms"]
        );
        let LayerOutput::NewRequest { key, .. } = &out[0] else {
            panic!("{out:?}");
        };
        let key = key.clone();
        assert_eq!(layer.len(), 1);
        assert_eq!(layer.poll_timeout(), Some(t0 + ms(200)));
        assert!(layer
            .receive(invite(), false, t0 + ms(100))
            .unwrap()
            .is_empty());
        let out = layer.on_timer(t0 + ms(200));
        assert_eq!(show(&out, t0), ["server INVITE: send 100"]);
        let out = layer
            .send_response(&key, invite_response(486), t0 + ms(300))
            .unwrap();
        assert_eq!(
            show(&out, t0),
            [
                "server INVITE: send 486",
                "server INVITE: set G +800ms",
                "server INVITE: set H +32300ms"
            ]
        );
        let out = layer
            .receive(ack("z9hG4bK776asdhds"), false, t0 + ms(400))
            .unwrap();
        assert_eq!(show(&out, t0), ["server INVITE: set I +5400ms"]);
        // The stale Timer G entry may wake the driver early; it fires nothing.
        assert_eq!(layer.poll_timeout(), Some(t0 + ms(800)));
        assert!(layer.on_timer(t0 + ms(800)).is_empty());
        assert_eq!(layer.poll_timeout(), Some(t0 + ms(5_400)));
        let out = layer.on_timer(t0 + ms(5_400));
        assert_eq!(show(&out, t0), ["server INVITE: terminated"]);
        assert!(layer.is_empty());
        assert_eq!(layer.poll_timeout(), None);
        // An ACK now matches nothing.
        let out = layer
            .receive(ack("z9hG4bK776asdhds"), false, t0 + ms(40_000))
            .unwrap();
        assert_eq!(show(&out, t0), ["stray ACK"]);
    }

    #[test]
    fn cancel_finds_its_invite() {
        let t0 = Instant::now();
        let mut layer = TransactionLayer::new(TimerConfig::default());
        layer.receive(invite(), true, t0).unwrap();
        let cancel = request("CANCEL", "z9hG4bK776asdhds");
        let invite_key = TransactionKey::server_for_request(&invite()).unwrap();
        assert_eq!(layer.find_cancel_target(&cancel), Some(invite_key.clone()));
        let out = layer.receive(cancel.clone(), true, t0).unwrap();
        assert_eq!(show(&out, t0), ["new CANCEL CANCEL cancels"]);
        let cancel_key = TransactionKey::server_for_request(&cancel).unwrap();
        assert_eq!(layer.len(), 2);
        let out = layer
            .send_response(&cancel_key, response(200, "CANCEL", "z9hG4bK776asdhds"), t0)
            .unwrap();
        assert_eq!(
            show(&out, t0),
            ["server CANCEL: send 200", "server CANCEL: terminated"]
        );
        let out = layer
            .send_response(&invite_key, invite_response(487), t0)
            .unwrap();
        assert_eq!(
            show(&out, t0),
            ["server INVITE: send 487", "server INVITE: set H +32000ms"]
        );
        // A CANCEL for an unknown INVITE still gets its own transaction.
        let stray = request("CANCEL", "z9hG4bKnone");
        let out = layer.receive(stray, true, t0).unwrap();
        assert_eq!(show(&out, t0), ["new CANCEL CANCEL"]);
    }

    #[test]
    fn uac_invite_accepted_then_strays() {
        let t0 = Instant::now();
        let mut layer = TransactionLayer::new(TimerConfig::default());
        let (key, out) = layer.send_request(invite(), false, t0).unwrap();
        assert_eq!(
            show(&out, t0),
            [
                "client INVITE: send INVITE",
                "client INVITE: set A +500ms",
                "client INVITE: set B +32000ms"
            ]
        );
        assert!(matches!(
            layer.send_request(invite(), false, t0),
            Err(TransactionError::DuplicateKey(k)) if k == key
        ));
        let out = layer
            .receive(invite_response(180), false, t0 + ms(100))
            .unwrap();
        assert_eq!(show(&out, t0), ["client INVITE: tu 180"]);
        let out = layer
            .receive(invite_response(200), false, t0 + ms(200))
            .unwrap();
        assert_eq!(
            show(&out, t0),
            ["client INVITE: tu 200", "client INVITE: set M +32200ms"]
        );
        let other = response(200, "INVITE", "z9hG4bKother");
        let out = layer.receive(other, false, t0 + ms(300)).unwrap();
        assert_eq!(show(&out, t0), ["stray 200"]);
        let out = layer.on_timer(t0 + ms(32_200));
        assert_eq!(show(&out, t0), ["client INVITE: terminated"]);
        assert!(layer.is_empty());
        let out = layer
            .receive(invite_response(200), false, t0 + ms(32_300))
            .unwrap();
        assert_eq!(show(&out, t0), ["stray 200"]);
    }

    #[test]
    fn uac_non_invite_timeout_and_transport_error() {
        let t0 = Instant::now();
        let mut layer = TransactionLayer::new(TimerConfig::default());
        let (options, _) = layer
            .send_request(request("OPTIONS", "z9hG4bKo"), true, t0)
            .unwrap();
        let (bye, _) = layer
            .send_request(request("BYE", "z9hG4bKb"), true, t0)
            .unwrap();
        assert_eq!(layer.len(), 2);
        let out = layer.transport_error(&bye);
        assert_eq!(
            show(&out, t0),
            ["client BYE: transport error", "client BYE: terminated"]
        );
        let out = layer.on_timer(t0 + Duration::from_secs(32));
        assert_eq!(
            show(&out, t0),
            ["client OPTIONS: timeout", "client OPTIONS: terminated"]
        );
        assert!(layer.is_empty());
        assert!(!layer.contains(&options));
    }

    #[test]
    fn refusals() {
        let t0 = Instant::now();
        let mut layer = TransactionLayer::new(TimerConfig::default());
        assert_eq!(
            layer.send_request(ack("z9hG4bK1"), false, t0).err(),
            Some(TransactionError::AckIsNotATransaction)
        );
        let unknown = TransactionKey::server_for_request(&invite()).unwrap();
        assert_eq!(
            layer
                .send_response(&unknown, invite_response(200), t0)
                .err(),
            Some(TransactionError::NoSuchTransaction(unknown))
        );
        let (client, _) = layer.send_request(invite(), false, t0).unwrap();
        assert!(layer
            .send_response(&client, invite_response(200), t0)
            .is_err());
        let no_via =
            parse("OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(layer.receive(no_via, false, t0), Err(KeyError::MissingVia));
        assert_eq!(layer.len(), 1);
    }

    #[test]
    fn rfc_2543_ack_matches_by_fallback_key() {
        let t0 = Instant::now();
        let mut layer = TransactionLayer::new(TimerConfig::default());
        let old_invite = parse(&invite().to_string().replace("z9hG4bK776asdhds", "old1"));
        let out = layer.receive(old_invite, true, t0).unwrap();
        let LayerOutput::NewRequest { key, .. } = &out[0] else {
            panic!("{out:?}");
        };
        let key = key.clone();
        layer.send_response(&key, invite_response(486), t0).unwrap();
        let out = layer.receive(ack("old1"), true, t0).unwrap();
        assert_eq!(show(&out, t0), ["server INVITE: terminated"]);
    }
}
