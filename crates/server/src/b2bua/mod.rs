//! The back-to-back user agent (DESIGN §3): every call through callcomp is two dialogs, each
//! with its own Call-ID, tags and CSeqs; SDP bodies pass through byte for byte.
//!
//! - [`call`]: one call, its sides and what it owes on the wire;
//! - [`dialog`]: a dialog on either side, and building the messages in it;
//! - [`fork`]: the outgoing side, forking to every contact of the callee;
//! - [`setup`]: an ordinary call from the caller's INVITE to the answer or the failure;
//! - [`reinvite`]: re-INVITEs of callcomp's own in an established dialog (glare, ACK);
//! - [`relay`]: requests inside the dialogs (ACK, BYE, re-INVITE, UPDATE, INFO, PRACK) passed
//!   across, their responses passed back;
//! - [`held`]: a caller's INVITE held open after a busy, kept by camp-on, put through;
//! - [`intrude`]: an intruder joined into the callee's call;
//! - [`join`]: third-party calls (RFC 3725 flow I), used by `lineMakeCall` and recalls;
//! - [`recall`]: the callback recall with progress: callcomp answers the caller with its own
//!   media (ringback) while the callee rings, then relays the two;
//! - [`recall_join`]: the recall's direct join, re-INVITEing the two to each other;
//! - [`recall_remote`]: the CC call of a request whose callee is on another server;
//! - [`classify`], [`offer`]: failure classification and the RFC 6910 offer;
//! - [`trunk`]: calls to another server's domain, sent to its `[[trunks]]` entry;
//! - [`by_call`]: the indexes and timers, each knowing which call owns an entry.
//!
//! The B2BUA is sans-IO like the layers under it: every entry point takes a [`Ctx`] with the
//! transaction layer, the switch and the time, and leaves its messages in the layer's outbox
//! and its switch events in the context.

pub mod by_call;
pub mod call;
pub mod cc_call;
pub mod classify;
pub mod code_tone;
pub mod completion;
pub mod dialog;
pub mod fork;
pub mod held;
pub mod intrude;
pub mod join;
pub mod offer;
pub mod recall;
pub mod recall_join;
pub mod recall_remote;
pub mod reinvite;
pub mod relay;
pub mod setup;
pub mod trunk;
pub mod trunk_failures;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use callcomp_sip::builder;
use callcomp_sip::message::Message;
use callcomp_sip::transaction::TransactionKey;
use callcomp_sip::uri::Uri;
use callcomp_switch::{CallRef, CompletionFact, CompletionId, Event, Fact, Side, Switch};

use self::by_call::{ByCall, Timers};
use self::call::{Call, Leg, Phase};
use self::fork::Destination;
use crate::config::{Config, LineSettings};
use crate::core::transactions::Transactions;
use crate::core::Now;
use crate::media::MediaHandle;
use crate::registrar::{nat, Registrar};
use crate::transport::Target;

pub use self::join::MakeCallError;

/// RFC 3261 T1, the base of the 2xx retransmission interval.
const T1: Duration = Duration::from_millis(500);
/// RFC 3261 T2, the cap of that interval.
const T2: Duration = Duration::from_secs(4);

/// What every B2BUA entry point works with.
pub struct Ctx<'a> {
    /// The transaction layer and the outbox.
    pub sip: &'a mut Transactions,
    /// The switch, fed with facts as calls progress.
    pub switch: &'a mut Switch,
    /// The switch events caused so far, for the core to publish.
    pub events: &'a mut Vec<Event>,
    /// Where the users are registered.
    pub registrar: &'a Registrar,
    /// The configuration.
    pub config: &'a Config,
    /// callcomp's media plane, when the core has one.
    pub media: Option<&'a MediaHandle>,
    /// The time.
    pub now: Now,
}

impl Ctx<'_> {
    /// Feeds a fact to the switch; a refused fact is a B2BUA bug, logged and dropped.
    pub fn fact(&mut self, fact: Fact) {
        let kind = fact.kind();
        match self.switch.handle(fact, self.now.wall) {
            Ok(events) => self.events.extend(events),
            Err(e) => tracing::warn!(error = %e, fact = kind, "switch refused a fact"),
        }
    }

    /// Feeds a completion fact to the switch; a refused one (the request already ended) is
    /// logged and dropped.
    pub fn completion_fact(&mut self, fact: CompletionFact) {
        let kind = fact.kind();
        match self.switch.completion_fact(fact, self.now.wall) {
            Ok(events) => self.events.extend(events),
            Err(e) => tracing::debug!(error = %e, fact = kind, "completion fact refused"),
        }
    }

    /// The settings of line `name` (configured, or an open-registration user).
    pub fn line_settings(&self, name: &str) -> LineSettings {
        self.config
            .line(name)
            .unwrap_or_else(|| self.config.open_line(name))
    }

    /// Where to reach `user`'s phones: the live bindings, best `q` first, at most
    /// `sip.max_forks` of them, each sent to its Contact or to where its REGISTER came from as
    /// `registrar.nat` decides. A destination that is callcomp itself is skipped: it would only
    /// loop (the registrar refuses such bindings; one stored before may remain). Every decision
    /// is a SIP trace line.
    pub fn destinations(&self, user: &str) -> Vec<Destination> {
        let own = &self.registrar.policy().own;
        let max = usize::try_from(self.config.sip.max_forks).unwrap_or(usize::MAX);
        let mode = self.config.registrar.nat;
        let trace = self.sip.trace();
        let out: Vec<Destination> = self
            .registrar
            .contacts(user, self.now.ms())
            .into_iter()
            .filter_map(|b| {
                let uri = Uri::parse(&b.contact_uri).ok()?;
                let (target, why) = nat::route(b, &uri, mode)?;
                if own.is_own(target.remote) || own.is_own_uri(&uri) {
                    tracing::warn!(%user, contact = %uri, "skipping a binding that points at this server");
                    return None;
                }
                trace.route(user, &b.contact_uri, target, why);
                Some(Destination { uri, target })
            })
            .take(max)
            .collect();
        if out.is_empty() {
            trace.unroutable(user);
        }
        out
    }

    /// The AOR of line `name`.
    pub fn aor(&self, name: &str) -> String {
        format!("sip:{name}@{}", self.config.domain)
    }
}

/// The network destination a SIP URI names when its host is an IP address.
pub use crate::registrar::nat::contact_target as target_of;

/// What a client transaction of the B2BUA is for.
#[derive(Debug, Clone)]
enum Client {
    /// An INVITE of the fork set on this side.
    Fork(Side),
    /// A request relayed from side `from`; its responses go back on `server`.
    Relay(Box<relay::Relayed>),
    /// A request whose response needs nothing (CANCEL, our own BYE).
    Fire,
    /// A re-INVITE of our own in the dialog on this side.
    Reinvite(Side),
}

/// Timers of the B2BUA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// The callee rang too long.
    NoAnswer,
    /// Retransmit unacknowledged 2xx responses.
    Retransmit,
    /// A caller held after a busy waited `busy_hold` without a camp-on.
    BusyHold,
    /// A camped-on caller needs a provisional response to keep its INVITE alive.
    Queued,
    /// A re-INVITE of ours on this side met glare (491) and is sent again.
    ReinviteRetry(Side),
    /// A recall's caller heard the busy tone long enough: BYE.
    RecallFarewell,
    /// A feature code's tone has played long enough: BYE.
    CodeTone,
}

/// All calls of the B2BUA and the indexes that find them.
#[derive(Debug, Default)]
pub struct B2bua {
    calls: HashMap<CallRef, Call>,
    next_ref: u64,
    /// (Call-ID, our tag) → the call and side of the dialog.
    dialogs: ByCall<(String, String), (CallRef, Side)>,
    clients: ByCall<TransactionKey, (CallRef, Client)>,
    /// The caller's INVITE server transactions.
    servers: ByCall<TransactionKey, CallRef>,
    timers: Timers<Timer>,
    /// Recalls in progress: completion request → its call.
    recalls: HashMap<CompletionId, CallRef>,
    /// Completions the per-user policy asked for, for the core to run.
    asks: Vec<held::PolicyAsk>,
    /// Re-INVITEs of our own, by call and side.
    reinvites: HashMap<(CallRef, Side), reinvite::OwnReinvite>,
    /// Intrusions, by the call joined.
    intrusions: HashMap<CallRef, intrude::Intrusion>,
    /// Intruders' calls → the call each joins.
    intruders: HashMap<CallRef, CallRef>,
    /// Failed calls from trunks' users, for their subscriptions (callcomp as their monitor).
    trunk_failures: trunk_failures::TrunkFailures,
    /// Feature codes answered with a tone: the call → its endpoint (`code_tone`).
    code_tones: HashMap<CallRef, recall::OwnedEndpoint>,
}

impl B2bua {
    /// No calls.
    pub fn new() -> B2bua {
        B2bua::default()
    }

    /// The number of calls in progress.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// The condition of `caller`'s newest failed call to `callee`, while its offer is open.
    pub fn trunk_failure(
        &self,
        caller: &callcomp_switch::TrunkCaller,
        callee: &str,
        now: Instant,
    ) -> Option<callcomp_switch::CompletionCond> {
        self.trunk_failures.condition(caller, callee, now)
    }

    /// The call with this handle.
    pub fn call(&self, id: CallRef) -> Option<&Call> {
        self.calls.get(&id)
    }

    /// When [`B2bua::on_timer`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _, _)| *at)
    }

    /// Fires the timers due at `cx.now`.
    pub fn on_timer(&mut self, cx: &mut Ctx<'_>) {
        while let Some((_, call, timer)) = self.timers.pop_due(cx.now.instant) {
            match timer {
                Timer::NoAnswer => self.no_answer(cx, call),
                Timer::Retransmit => self.retransmit(cx, call),
                Timer::BusyHold => self.busy_hold_over(cx, call),
                Timer::Queued => self.queued_keepalive(cx, call),
                Timer::ReinviteRetry(side) => self.reinvite_retry(cx, call, side),
                Timer::RecallFarewell => self.recall_farewell_over(cx, call),
                Timer::CodeTone => self.code_tone_over(cx, call),
            }
        }
    }

    /// A response to one of our client transactions.
    pub fn response(&mut self, cx: &mut Ctx<'_>, key: &TransactionKey, response: Message) {
        let is_final = response.status().is_some_and(|s| s >= 200);
        // A final response ends the client's entry, taken, not cloned (a relayed request's
        // copy is a whole message). A fork's stays for the fork set, and a 2xx to an INVITE
        // of ours may come again: the fork or the re-INVITE answers it again.
        let entry = match self.clients.get(key) {
            None => return,
            Some((_, Client::Fork(_) | Client::Reinvite(_))) => self.clients.get(key).cloned(),
            Some(_) if is_final => self.clients.remove(key),
            Some(_) => self.clients.get(key).cloned(),
        };
        let Some((call, client)) = entry else {
            return;
        };
        match client {
            Client::Fork(side) => self.fork_response(cx, call, side, key, response),
            Client::Relay(relayed) => self.relayed_response(cx, call, relayed, response),
            Client::Reinvite(side) => self.reinvite_response(cx, call, side, &response),
            Client::Fire => {}
        }
    }

    /// A client transaction ended without a final response (Timer B/F, transport error).
    pub fn timed_out(&mut self, cx: &mut Ctx<'_>, key: &TransactionKey) {
        let Some((call, client)) = self.clients.remove(key) else {
            return;
        };
        match client {
            Client::Fork(side) => self.fork_timed_out(cx, call, side, key),
            Client::Relay(relayed) => {
                let response = builder::response(&relayed.request, 408, None, "");
                cx.sip.respond(&relayed.server, response, cx.now.instant);
                self.after_relay(cx, call, &relayed);
            }
            Client::Reinvite(side) => self.reinvite_timed_out(cx, call, side),
            Client::Fire => {}
        }
    }

    /// A response that matched no transaction: a 2xx retransmitted after its INVITE client
    /// transaction ended. The ACK sent for it is sent again.
    pub fn stray_response(&mut self, cx: &mut Ctx<'_>, response: &Message) {
        if !response.status().is_some_and(|s| (200..300).contains(&s)) {
            return;
        }
        let Ok(ess) = callcomp_sip::check::check_response(response) else {
            return;
        };
        let Some(tag) = ess.from.tag() else {
            return;
        };
        let Some(&(id, side)) = self.dialogs.get(&(ess.call_id.0.clone(), tag.to_owned())) else {
            return;
        };
        if let Some((ack, target)) = self
            .calls
            .get(&id)
            .and_then(|c| c.sent_acks.get(&(side, ess.cseq.seq)))
        {
            cx.sip.send(ack, *target);
        }
    }

    /// Allocates a fresh call handle.
    fn new_ref(&mut self) -> CallRef {
        self.next_ref += 1;
        CallRef(self.next_ref)
    }

    /// Indexes the dialog (Call-ID, our tag) of `side` of `call`.
    fn index_dialog(&mut self, call_id: &str, tag: &str, call: CallRef, side: Side) {
        self.dialogs
            .insert((call_id.to_owned(), tag.to_owned()), (call, side));
    }

    fn arm(&mut self, at: Instant, call: CallRef, timer: Timer) {
        self.timers.insert(at, call, timer);
    }

    fn disarm(&mut self, call: CallRef, timer: Timer) {
        self.timers.disarm(call, timer);
    }

    /// Starts retransmitting a 2xx sent to `side` over UDP until its ACK arrives.
    fn track_2xx(
        &mut self,
        cx: &Ctx<'_>,
        id: CallRef,
        side: Side,
        seq: u32,
        response: Message,
        target: Target,
    ) {
        if target.proto.is_reliable() {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.unacked.retain(|u| !(u.side == side && u.seq == seq));
        call.unacked.push(call::Unacked {
            side,
            seq,
            response,
            target,
            interval: T1,
            give_up: cx.now.instant + T1 * 64,
        });
        self.arm(cx.now.instant + T1, id, Timer::Retransmit);
    }

    fn retransmit(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let now = cx.now.instant;
        call.unacked.retain(|u| u.give_up > now);
        let mut next: Option<Instant> = None;
        for u in &mut call.unacked {
            cx.sip.send(&u.response, u.target);
            u.interval = (u.interval * 2).min(T2);
            let at = now + u.interval;
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        if let Some(at) = next {
            self.arm(at, id, Timer::Retransmit);
        }
    }

    /// Forgets a call once nothing is left to wait for.
    fn reap(&mut self, id: CallRef) {
        if !self.calls.get(&id).is_some_and(Call::finished) {
            return;
        }
        self.calls.remove(&id);
        self.code_tones.remove(&id);
        self.dialogs.remove_call(id, |_| false);
        self.servers.remove_call(id, |_| false);
        // A relayed request's response still goes back to its sender.
        self.clients
            .remove_call(id, |(_, client)| matches!(client, Client::Relay(_)));
        self.timers.remove_call(id);
        self.reinvites.remove(&(id, Side::Caller));
        self.reinvites.remove(&(id, Side::Callee));
    }

    /// Ends a call in any phase from callcomp's side (lineDrop, shutdown): CANCEL or
    /// failure responses for what is being set up, BYE for what is established. `by` is the
    /// side whose line dropped it, for the switch.
    pub fn drop_call(&mut self, cx: &mut Ctx<'_>, id: CallRef, by: Side) -> bool {
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        if call.phase == Phase::Ended {
            return true;
        }
        // A recall still waiting for its outcome: the caller's side gave up on it.
        self.recall_outcome(cx, id, recall::RecallStage::Settled, |cid| {
            CompletionFact::RecallUnanswered { id: cid }
        });
        if self.calls.get(&id).is_some_and(|c| c.phase == Phase::Setup) {
            self.cc_call_outcome(cx, id, cc_call::dropped(by));
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        let status = if by == Side::Caller { 487 } else { 603 };
        let mut byes = Vec::new();
        for side in [Side::Caller, Side::Callee] {
            let Some(leg) = call.leg_mut(side) else {
                continue;
            };
            match leg {
                Leg::In(incoming) => match incoming.server.take() {
                    Some(key) => {
                        let response = builder::response(
                            &incoming.invite,
                            status,
                            None,
                            &incoming.dialog.local_tag,
                        );
                        cx.sip.respond(&key, response, cx.now.instant);
                    }
                    None => byes.push(side),
                },
                Leg::Out(out) => {
                    let answered = out.dialog.is_some();
                    out.abandon(cx.sip, cx.now);
                    if answered {
                        byes.push(side);
                    }
                }
            }
        }
        for side in byes {
            self.ack_out(cx, id, side, None);
            self.send_bye(cx, id, side);
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.phase = Phase::Ended;
        }
        self.disarm(id, Timer::NoAnswer);
        cx.fact(Fact::Hangup { call: id, by });
        self.shadow_fact(cx, id, |call| Fact::Hangup { call, by });
        self.reap(id);
        true
    }

    /// Reports a fact about the callee's appearance of recall `id` (its second switch handle),
    /// if it has one.
    fn shadow_fact(&self, cx: &mut Ctx<'_>, id: CallRef, fact: impl FnOnce(CallRef) -> Fact) {
        if let Some(shadow) = self.calls.get(&id).and_then(|c| c.shadow) {
            cx.fact(fact(shadow));
        }
    }

    /// Sends a BYE of our own on `side` (its response needs nothing).
    fn send_bye(&mut self, cx: &mut Ctx<'_>, id: CallRef, side: Side) {
        let Some(dialog) = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.leg_mut(side))
            .and_then(Leg::dialog_mut)
        else {
            return;
        };
        let bye = dialog.request(callcomp_sip::Method::Bye, cx.sip);
        let target = dialog.target;
        if let Some(key) = cx.sip.request(bye, target, cx.now.instant) {
            self.clients.insert(key, (id, Client::Fire));
        }
    }

    /// Ends every call (shutdown).
    pub fn drop_all(&mut self, cx: &mut Ctx<'_>) {
        let ids: Vec<CallRef> = self.calls.keys().copied().collect();
        for id in ids {
            self.drop_call(cx, id, Side::Caller);
        }
    }
}

#[cfg(test)]
mod tests;
