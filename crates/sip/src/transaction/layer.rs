//! The transaction layer: owns every live transaction, routes received messages to them by
//! key (RFC 3261 §17.1.3, §17.2.3), creates server transactions for new requests, fires
//! their timers, and drops them once terminated.
//!
//! Messages that match nothing are reported rather than dropped: a response without a
//! client transaction (§18.1.2; a 2xx retransmitted after Timer M, or from another fork) and
//! an ACK without an INVITE server transaction (the ACK for a 2xx once Timer L has fired)
//! are for the TU to judge.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::hash::BuildHasher;
use std::time::Instant;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::message::Message;
use crate::method::Method;

use super::key::{KeyError, TransactionKey};
use super::{
    ClientInvite, ClientNonInvite, Output, ServerInvite, ServerNonInvite, TimerConfig,
    TransactionError,
};

/// What the layer asks of its driver and its TU. `R` is the route the driver gave the
/// transaction (where its messages go); `()` for a driver that keeps none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerOutput<R = ()> {
    /// An output of the transaction with this key.
    Transaction {
        /// Which transaction.
        key: TransactionKey,
        /// What it asks for.
        output: Output,
        /// The transaction's route, as given when it was created.
        route: R,
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

/// All the transactions of one SIP endpoint, each with the route `R` its driver gave it.
///
/// Every transaction lives in one slot of `slots`, with its key stored once: the hash index
/// and the timer heap refer to it by slot number. A finished transaction lingering for
/// Timers J, L or M (32 s on UDP) so costs its key, its machine and one slot, not three copies
/// of its key in three maps. The index hashes with foldhash (seeded per layer), not SipHash:
/// keys come from the network, and foldhash's per-instance random seed is the cheap answer to
/// flooding with colliding branches that the hot path can afford (docs/decisions.md).
pub struct TransactionLayer<R = ()> {
    config: TimerConfig,
    /// The transactions; `None` is a free slot, listed in `free`.
    slots: Vec<Option<Entry<R>>>,
    free: Vec<u32>,
    /// Slot numbers, found by the hash of their entry's key.
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    /// Deadlines by slot, earliest first. Entries go stale when a transaction re-arms or
    /// ends; a stale entry is recognised by `Entry::scheduled` and skipped (when a reused
    /// slot's transaction is due at that very instant, firing it then is right anyway).
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
}

impl<R> fmt::Debug for TransactionLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransactionLayer")
            .field("config", &self.config)
            .field("live", &self.index.len())
            .finish()
    }
}

impl<R> Default for TransactionLayer<R> {
    fn default() -> TransactionLayer<R> {
        TransactionLayer {
            config: TimerConfig::default(),
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            heap: BinaryHeap::new(),
        }
    }
}

impl TransactionLayer {
    /// An empty layer whose transactions use `config` and keep no route.
    pub fn new(config: TimerConfig) -> TransactionLayer {
        TransactionLayer::routed(config)
    }
}

impl<R: Clone + Default> TransactionLayer<R> {
    /// [`TransactionLayer::receive_from`] with the default route.
    pub fn receive(
        &mut self,
        message: Message,
        reliable: bool,
        now: Instant,
    ) -> Result<Vec<LayerOutput<R>>, KeyError> {
        self.receive_from(message, reliable, R::default(), now)
    }

    /// [`TransactionLayer::send_request_to`] with the default route.
    pub fn send_request(
        &mut self,
        request: Message,
        reliable: bool,
        now: Instant,
    ) -> Result<(TransactionKey, Vec<LayerOutput<R>>), TransactionError> {
        self.send_request_to(request, reliable, R::default(), now)
    }
}

impl<R: Clone> TransactionLayer<R> {
    /// An empty layer whose transactions use `config`, each keeping the route its driver
    /// gives it.
    pub fn routed(config: TimerConfig) -> TransactionLayer<R> {
        TransactionLayer {
            config,
            ..TransactionLayer::default()
        }
    }

    /// Handles a message from the transport. `reliable` says whether it came over a
    /// reliable transport and `route` is where the answers go; both matter only for a
    /// server transaction it creates.
    ///
    /// Fails when the message cannot be keyed (no Via, no CSeq, CSeq method differing from
    /// the request method): the caller answers such a request with a stateless 400 and
    /// drops such a response.
    pub fn receive_from(
        &mut self,
        message: Message,
        reliable: bool,
        route: R,
        now: Instant,
    ) -> Result<Vec<LayerOutput<R>>, KeyError> {
        let mut out = Vec::new();
        if !message.is_request() {
            let key = TransactionKey::client_for_response(&message)?;
            match self.find(&key) {
                Some(slot) => self.feed(slot, message, now, &mut out),
                None => out.push(LayerOutput::StrayResponse(message)),
            }
            return Ok(out);
        }
        let key = TransactionKey::server_for_request(&message)?;
        if message.method() == Some(&Method::Ack) {
            let found = self
                .find(&key)
                .or_else(|| key.without_to_tag().and_then(|bare| self.find(&bare)));
            match found {
                Some(slot) => self.feed(slot, message, now, &mut out),
                None => out.push(LayerOutput::StrayAck(message)),
            }
            return Ok(out);
        }
        if let Some(slot) = self.find(&key) {
            self.feed(slot, message, now, &mut out);
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
        let slot = self.insert(key.clone(), txn, route);
        out.push(LayerOutput::NewRequest {
            key,
            request: message,
            cancels,
        });
        self.settle(slot, outputs, &mut out);
        Ok(out)
    }

    /// Starts a client transaction for a request from the TU, its messages going to
    /// `route`, and returns its key. The top Via must carry a fresh branch starting with
    /// `z9hG4bK`. ACK is refused: an ACK for a 2xx goes straight to the transport.
    pub fn send_request_to(
        &mut self,
        request: Message,
        reliable: bool,
        route: R,
        now: Instant,
    ) -> Result<(TransactionKey, Vec<LayerOutput<R>>), TransactionError> {
        if request.method() == Some(&Method::Ack) {
            return Err(TransactionError::AckIsNotATransaction);
        }
        let key = TransactionKey::client_for_request(&request)?;
        if self.find(&key).is_some() {
            return Err(TransactionError::DuplicateKey(key));
        }
        let (txn, outputs) = if request.method() == Some(&Method::Invite) {
            let (txn, outputs) = ClientInvite::start(request, reliable, self.config, now)?;
            (Txn::UacInvite(Box::new(txn)), outputs)
        } else {
            let (txn, outputs) = ClientNonInvite::start(request, reliable, self.config, now)?;
            (Txn::UacOther(Box::new(txn)), outputs)
        };
        let slot = self.insert(key.clone(), txn, route);
        let mut out = Vec::new();
        self.settle(slot, outputs, &mut out);
        Ok((key, out))
    }

    /// Sends a TU response through the server transaction `key`.
    pub fn send_response(
        &mut self,
        key: &TransactionKey,
        response: Message,
        now: Instant,
    ) -> Result<Vec<LayerOutput<R>>, TransactionError> {
        let slot = self
            .find(key)
            .ok_or_else(|| TransactionError::NoSuchTransaction(key.clone()))?;
        let Some(entry) = self.entry_mut(slot) else {
            return Err(TransactionError::NoSuchTransaction(key.clone()));
        };
        let outputs = entry.txn.send_response(response, now)?;
        let mut out = Vec::new();
        self.settle(slot, outputs, &mut out);
        Ok(out)
    }

    /// Reports that the transport failed to send for transaction `key`; it terminates.
    pub fn transport_error(&mut self, key: &TransactionKey) -> Vec<LayerOutput<R>> {
        let mut out = Vec::new();
        if let Some(slot) = self.find(key) {
            if let Some(entry) = self.entry_mut(slot) {
                let outputs = entry.txn.transport_error();
                self.settle(slot, outputs, &mut out);
            }
        }
        out
    }

    /// Fires every timer due by `now`, across all transactions.
    pub fn on_timer(&mut self, now: Instant) -> Vec<LayerOutput<R>> {
        let mut out = Vec::new();
        while let Some(&Reverse((at, slot))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(entry) = self.entry_mut(slot) else {
                continue;
            };
            if entry.scheduled != Some(at) {
                continue;
            }
            entry.scheduled = None;
            let outputs = entry.txn.on_timer(now);
            self.settle(slot, outputs, &mut out);
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
        let slot = self.find(&target)?;
        match self.slots.get(slot as usize) {
            Some(Some(Entry {
                txn: Txn::UasInvite(_),
                ..
            })) => Some(target),
            _ => None,
        }
    }

    /// True when a live transaction has this key.
    pub fn contains(&self, key: &TransactionKey) -> bool {
        self.find(key).is_some()
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The slot of the live transaction with this key.
    fn find(&self, key: &TransactionKey) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        let slots = &self.slots;
        self.index
            .find(
                hash,
                |&slot| matches!(slots.get(slot as usize), Some(Some(e)) if e.key == *key),
            )
            .copied()
    }

    fn entry_mut(&mut self, slot: u32) -> Option<&mut Entry<R>> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Hands a received message to the transaction in `slot`.
    fn feed(&mut self, slot: u32, message: Message, now: Instant, out: &mut Vec<LayerOutput<R>>) {
        if let Some(entry) = self.entry_mut(slot) {
            let outputs = entry.txn.receive(message, now);
            self.settle(slot, outputs, out);
        }
    }

    fn insert(&mut self, key: TransactionKey, txn: Txn, route: R) -> u32 {
        let hash = self.hasher.hash_one(&key);
        let entry = Entry {
            key,
            txn,
            route,
            scheduled: None,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(free) = self.slots.get_mut(slot as usize) {
                    *free = Some(entry);
                }
                slot
            }
            None => {
                self.slots.push(Some(entry));
                // Slots past u32::MAX would need 4 billion live transactions.
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index
            .insert_unique(hash, slot, |&s| match slots.get(s as usize) {
                Some(Some(e)) => hasher.hash_one(&e.key),
                _ => 0,
            });
        slot
    }

    /// Frees `slot`, dropping its transaction.
    fn remove(&mut self, slot: u32) {
        let Some(entry) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        let hash = self.hasher.hash_one(&entry.key);
        if let Ok(found) = self.index.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        self.free.push(slot);
    }

    /// Tags `outputs` with the transaction's key and route, drops the transaction if it
    /// terminated, and otherwise keeps its next deadline in the heap.
    fn settle(&mut self, slot: u32, outputs: Vec<Output>, out: &mut Vec<LayerOutput<R>>) {
        let Some(entry) = self.slots.get_mut(slot as usize).and_then(Option::as_mut) else {
            return;
        };
        out.extend(outputs.into_iter().map(|output| LayerOutput::Transaction {
            key: entry.key.clone(),
            output,
            route: entry.route.clone(),
        }));
        if entry.txn.is_terminated() {
            self.remove(slot);
            return;
        }
        let next = entry.txn.poll_timeout();
        if next != entry.scheduled {
            entry.scheduled = next;
            if let Some(at) = next {
                self.heap.push(Reverse((at, slot)));
            }
        }
    }
}

#[derive(Debug)]
struct Entry<R> {
    key: TransactionKey,
    txn: Txn,
    route: R,
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
                LayerOutput::Transaction { key, output, .. } => {
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

    /// `key-kind -> route: output` lines for sends, for a layer with `u8` routes.
    fn show_routed(outputs: &[LayerOutput<u8>]) -> Vec<String> {
        outputs
            .iter()
            .filter_map(|o| match o {
                LayerOutput::Transaction {
                    key,
                    output: Output::Send(m),
                    route,
                } => {
                    let side = if key.is_client() { "client" } else { "server" };
                    let what = match (m.method(), m.status()) {
                        (Some(method), _) => method.to_string(),
                        (None, status) => status.unwrap_or(0).to_string(),
                    };
                    Some(format!("{side} {} -> {route}: send {what}", key.method()))
                }
                _ => None,
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
    fn every_output_carries_the_route_its_transaction_was_given() {
        let t0 = Instant::now();
        let mut layer: TransactionLayer<u8> = TransactionLayer::routed(TimerConfig::default());
        let (client, out) = layer
            .send_request_to(request("OPTIONS", "z9hG4bKc"), false, 7, t0)
            .unwrap();
        let routes = |out: &[LayerOutput<u8>]| -> Vec<u8> {
            out.iter()
                .filter_map(|o| match o {
                    LayerOutput::Transaction { route, .. } => Some(*route),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(routes(&out), [7, 7, 7], "{out:?}");
        let out = layer.receive_from(invite(), false, 9, t0).unwrap();
        let LayerOutput::NewRequest { key, .. } = &out[0] else {
            panic!("{out:?}");
        };
        let server = key.clone();
        // A retransmission from elsewhere does not move the transaction.
        layer.receive_from(invite(), false, 3, t0 + ms(10)).unwrap();
        let out = layer
            .send_response(&server, invite_response(486), t0 + ms(20))
            .unwrap();
        assert_eq!(routes(&out), [9, 9, 9], "{out:?}");
        let out = layer.on_timer(t0 + ms(500));
        assert_eq!(show_routed(&out), ["client OPTIONS -> 7: send OPTIONS"]);
        let out = layer.on_timer(t0 + ms(520));
        assert_eq!(show_routed(&out), ["server INVITE -> 9: send 486"]);
        assert!(layer.contains(&client));
    }

    #[test]
    fn a_freed_slot_serves_a_new_transaction_under_its_own_key_only() {
        let t0 = Instant::now();
        let mut layer = TransactionLayer::new(TimerConfig::default());
        let (first, _) = layer
            .send_request(request("OPTIONS", "z9hG4bK1"), true, t0)
            .unwrap();
        let (second, _) = layer
            .send_request(request("OPTIONS", "z9hG4bK2"), true, t0)
            .unwrap();
        layer.transport_error(&first);
        assert!(!layer.contains(&first));
        let (third, _) = layer
            .send_request(request("OPTIONS", "z9hG4bK3"), true, t0 + ms(1))
            .unwrap();
        assert_eq!(layer.len(), 2);
        assert!(!layer.contains(&first));
        assert!(layer.contains(&second) && layer.contains(&third));
        // A late response for the freed transaction is a stray, not the new one's.
        let late = layer
            .receive(response(200, "OPTIONS", "z9hG4bK1"), true, t0 + ms(2))
            .unwrap();
        assert_eq!(show(&late, t0), ["stray 200"]);
        let out = layer
            .receive(response(200, "OPTIONS", "z9hG4bK3"), true, t0 + ms(3))
            .unwrap();
        assert_eq!(
            show(&out, t0),
            ["client OPTIONS: tu 200", "client OPTIONS: terminated"]
        );
        // The first transaction's Timer F entry is stale; only the second's fires.
        let out = layer.on_timer(t0 + Duration::from_secs(32));
        assert_eq!(
            show(&out, t0),
            ["client OPTIONS: timeout", "client OPTIONS: terminated"]
        );
        assert!(layer.is_empty());
        // The third's Timer F entry is stale too: it wakes the driver once, for nothing.
        assert!(layer.on_timer(t0 + ms(32_001)).is_empty());
        assert_eq!(layer.poll_timeout(), None);
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
