//! Setting up an ordinary call: the caller's INVITE is routed to the callee's phones, their
//! responses come back to the caller, and the call ends answered or classified as failed.
//!
//! Routing: the Request-URI's user part names the callee line (a configured user, or under
//! open registration any user that registered). Unknown → 404; known but without a binding
//! → 480 with `m=NL`; `call_waiting = false` and already in a call → 486 with `m=BS`
//! (busy-on-busy, DESIGN §2.3). Otherwise the call forks to every binding, provisional
//! responses other than 100 are relayed (the first one with the completion offer, RFC 6910
//! §7.1), the first 2xx is relayed and wins, and when every fork failed the best failure is
//! classified ([`super::classify`]) and relayed with the offer where one applies. The
//! no-answer timer (`no_answer_timeout` of the callee's line) cancels the forks and answers
//! 480 with `m=NR`. A CANCEL from the caller cancels the forks and answers 487.

use callcomp_sip::builder;
use callcomp_sip::check::Essentials;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::numbers::MaxForwards;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::transaction::TransactionKey;
use callcomp_switch::{CallRef, Caller, CallerLeg, CompletionFact, Fact, Party, Side};

use super::call::{Attempt, Call, Incoming, Leg, PendingAck, Phase};
use super::classify::{classify, Outcome};
use super::dialog::{copy_end_to_end, relay_response, Dialog};
use super::fork::{ForkEvent, Outgoing};
use super::offer::add_offer;
use super::{B2bua, Client, Ctx, Timer};
use crate::api::metrics as m;
use crate::core::ids;
use crate::identity::{self, Identity};
use crate::registrar::aor_user;
use crate::transport::Target;

impl B2bua {
    /// A new INVITE outside any dialog, from `peer`, speaking for `identity` (decided by
    /// the identity gate, never by the From alone): a local user's line places the call.
    /// `cc_call`: the request whose CC call this is (its outcome is reported, `super::cc_call`).
    #[allow(clippy::too_many_arguments)]
    pub fn invite(
        &mut self,
        cx: &mut Ctx<'_>,
        key: TransactionKey,
        request: Message,
        ess: &Essentials,
        peer: Target,
        identity: Identity,
        cc_call: Option<callcomp_switch::CompletionId>,
    ) {
        let tag = ids::tag();
        let Some(dialog) = Dialog::as_uas(&request, &tag, peer) else {
            let response = builder::response(&request, 400, Some("Missing From tag"), &tag);
            cx.sip.respond(&key, response, cx.now.instant);
            return;
        };
        let id = self.new_ref();
        let caller_line = identity
            .user()
            .filter(|u| cx.switch.line(u).is_some())
            .map(str::to_owned);
        let trunk = request
            .uri()
            .and_then(|uri| super::trunk::trunk_of(cx.config, uri))
            .cloned();
        let callee = request
            .uri()
            .filter(|_| trunk.is_none())
            .and_then(aor_user)
            .filter(|u| cx.switch.line(u).is_some() || cx.registrar.policy().users.contains_key(u));
        let dialed = callee.as_deref().map_or_else(
            || request.uri().map(ToString::to_string).unwrap_or_default(),
            |c| cx.aor(c),
        );
        let from = match &caller_line {
            Some(line) => Party::Line(line.clone()),
            None => Party::External(ess.from.uri.to_string()),
        };
        cx.fact(Fact::Dialed {
            call: id,
            from,
            to: dialed,
        });
        self.index_dialog(&dialog.call_id, &tag, id, Side::Caller);
        self.servers.insert(key.clone(), id);
        let incoming = Incoming {
            invite: request,
            server: Some(key),
            dialog,
            offered: false,
        };
        let trunk_caller = caller_line
            .is_none()
            .then(|| super::trunk_failures::trunk_caller(cx.config, peer, &ess.from.uri))
            .flatten();
        let mut call = Call::new(id, Leg::In(incoming));
        call.caller_line = caller_line.clone();
        call.trunk_caller = trunk_caller.clone();
        call.cc_call = cc_call;
        self.calls.insert(id, call);

        if let Some(trunk) = trunk {
            self.send_to_trunk(cx, id, &trunk, ess);
            return;
        }
        let Some(callee) = callee else {
            self.fail(
                cx,
                id,
                None,
                Outcome::Response {
                    status: 404,
                    reason: "Not Found".into(),
                },
            );
            return;
        };
        if let Some(call) = self.calls.get_mut(&id) {
            call.callee_line = Some(callee.clone());
        }
        let settings = cx.line_settings(&callee);
        if !settings.call_waiting && cx.switch.line_in_call(&callee) {
            self.fail(cx, id, None, Outcome::BusyOnBusy);
            return;
        }
        let destinations = cx.destinations(&callee);
        if destinations.is_empty() {
            self.fail(cx, id, None, Outcome::NotRegistered);
            return;
        }
        let caller = match (&caller_line, trunk_caller) {
            (Some(line), _) => Some(Caller::Line(line.clone())),
            (None, trunk) => trunk.map(Caller::Trunk),
        };
        if cx.switch.is_reserved_for(&callee, caller.as_ref()) {
            // The callee is kept for a completion waiter (guard or recall): busy for others.
            self.fail(cx, id, None, Outcome::BusyOnBusy);
            return;
        }
        cx.fact(Fact::Proceeding { call: id });
        cx.fact(Fact::offered(id, callee.clone()));
        self.send_to_callee(cx, id, &callee, destinations, ess);
    }

    /// Routes the held caller INVITE of camp-on `cid` to its callee.
    pub(super) fn route_held(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        cid: callcomp_switch::CompletionId,
    ) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Leg::In(incoming) = &call.caller else {
            return;
        };
        let Some(callee) = call.callee_line.clone() else {
            return;
        };
        let Ok(ess) = callcomp_sip::check::check_request(&incoming.invite) else {
            return;
        };
        let destinations = cx.destinations(&callee);
        if destinations.is_empty() {
            self.fail(cx, id, None, Outcome::NotRegistered);
            return;
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.attempt = Attempt::Calling;
        }
        cx.fact(Fact::Offered {
            call: id,
            line: callee.clone(),
            reason: callcomp_switch::CallReason::Callcompletion,
            completion_id: Some(cid.get()),
        });
        self.send_to_callee(cx, id, &callee, destinations, &ess);
    }

    /// Forks the caller's INVITE of call `id` to the callee's phones and arms the no-answer
    /// timer.
    fn send_to_callee(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        callee: &str,
        destinations: Vec<super::fork::Destination>,
        ess: &Essentials,
    ) {
        let settings = cx.line_settings(callee);
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Leg::In(incoming) = &call.caller else {
            return;
        };
        let invite = callee_invite(cx, &incoming.invite, ess, &cx.aor(callee));
        let out = Outgoing::start(&invite, &destinations, cx.sip, cx.now);
        if let Some(call) = self.calls.get_mut(&id) {
            call.note_sdp(Side::Callee, &invite);
        }
        self.attach_callee(id, out);
        let at = cx.now.instant + settings.no_answer_timeout;
        if let Some(call) = self.calls.get_mut(&id) {
            call.ringing_timer = Some(at);
        }
        self.arm(at, id, Timer::NoAnswer);
        self.check_all_failed(cx, id);
    }

    /// Makes `out` the callee side of `id` and indexes its dialog and transactions.
    pub(super) fn attach_callee(&mut self, id: CallRef, out: Outgoing) {
        self.index_dialog(&out.call_id, &out.tag, id, Side::Callee);
        for key in out.forks.iter().filter_map(|f| f.key.clone()) {
            self.clients.insert(key, (id, Client::Fork(Side::Callee)));
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.callee = Some(Leg::Out(out));
        }
    }

    /// Every fork may have failed at once (nothing could be sent).
    pub(super) fn check_all_failed(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        let failed = self
            .calls
            .get(&id)
            .and_then(|c| c.callee.as_ref())
            .is_some_and(|l| match l {
                Leg::Out(o) => o.winner.is_none() && o.settled() && !o.abandoned,
                Leg::In(_) => false,
            });
        if failed {
            self.callee_failed(cx, id);
        }
    }

    /// A response to a fork on `side`.
    pub(super) fn fork_response(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        side: Side,
        key: &TransactionKey,
        response: Message,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(out) = call.leg_mut(side).and_then(Leg::as_out_mut) else {
            return;
        };
        let Some(index) = out.fork_of(key) else {
            return;
        };
        let event = out.on_response(index, response, cx.sip, cx.now);
        if call.third_party.is_some() {
            self.join_event(cx, id, side, event);
            return;
        }
        match event {
            ForkEvent::Nothing => {}
            ForkEvent::Retransmitted => self.resend_ack(cx, id, side),
            ForkEvent::Provisional(response) => self.callee_provisional(cx, id, &response),
            ForkEvent::Answered(response) => self.callee_answered(cx, id, &response),
            ForkEvent::Failed => self.callee_failed(cx, id),
        }
        self.reap(id);
    }

    /// A fork on `side` timed out.
    pub(super) fn fork_timed_out(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        side: Side,
        key: &TransactionKey,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(out) = call.leg_mut(side).and_then(Leg::as_out_mut) else {
            return;
        };
        let Some(index) = out.fork_of(key) else {
            return;
        };
        let event = out.on_timeout(index);
        if call.third_party.is_some() {
            self.join_event(cx, id, side, event);
        } else if matches!(event, ForkEvent::Failed) {
            self.callee_failed(cx, id);
        }
        self.reap(id);
    }

    fn callee_provisional(&mut self, cx: &mut Ctx<'_>, id: CallRef, response: &Message) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase != Phase::Setup {
            return;
        }
        let ringing = matches!(response.status(), Some(180 | 183));
        let first_ring = ringing && call.attempt.ring();
        let Leg::In(incoming) = &mut call.caller else {
            return;
        };
        let Some(key) = incoming.server.clone() else {
            return;
        };
        let contact = cx.sip.contact(incoming.dialog.target.proto);
        let mut relayed = relay_response(
            &incoming.invite,
            response,
            &incoming.dialog.local_tag,
            Some(&contact),
        );
        if !incoming.offered {
            incoming.offered = true;
            add_offer(&mut relayed, &cx.config.domain, "NR");
        }
        cx.sip.respond(&key, relayed, cx.now.instant);
        if first_ring {
            cx.fact(Fact::Ringing { call: id });
        }
    }

    fn callee_answered(&mut self, cx: &mut Ctx<'_>, id: CallRef, response: &Message) {
        self.disarm(id, Timer::NoAnswer);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let callee_seq = match &call.callee {
            Some(Leg::Out(o)) => o.invite_seq,
            _ => return,
        };
        if call.phase != Phase::Setup {
            return;
        }
        call.phase = Phase::Connected;
        let Leg::In(incoming) = &mut call.caller else {
            return;
        };
        let Some(key) = incoming.server.take() else {
            return;
        };
        let contact = cx.sip.contact(incoming.dialog.target.proto);
        let relayed = relay_response(
            &incoming.invite,
            response,
            &incoming.dialog.local_tag,
            Some(&contact),
        );
        let caller_seq = incoming.dialog.remote_seq.unwrap_or(0);
        let target = incoming.dialog.target;
        call.pending_acks.push(PendingAck {
            from: Side::Caller,
            from_seq: caller_seq,
            to_seq: callee_seq,
        });
        call.note_sdp(Side::Caller, &relayed);
        cx.sip.respond(&key, relayed.clone(), cx.now.instant);
        self.track_2xx(cx, id, Side::Caller, caller_seq, relayed, target);
        cx.fact(Fact::Answered { call: id });
        self.cc_call_outcome(cx, id, |id| CompletionFact::RecallConnected { id });
    }

    /// Every fork failed: classify, answer the caller, tell the switch.
    fn callee_failed(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(Leg::Out(out)) = &call.callee else {
            return;
        };
        let outcome = match (&out.best, out.timed_out) {
            (Some((status, reason)), _) => Outcome::Response {
                status: *status,
                reason: reason.clone(),
            },
            (None, _) => Outcome::TimedOut,
        };
        let rang = call.attempt.rang();
        self.fail(cx, id, Some(rang), outcome);
    }

    /// Ends the caller's INVITE with the classified failure and reports it.
    pub(super) fn fail(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        rang: Option<bool>,
        outcome: Outcome,
    ) {
        self.disarm(id, Timer::NoAnswer);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase != Phase::Setup {
            return;
        }
        let classified = classify(&outcome, rang.unwrap_or(call.attempt.rang()));
        self.keep_remote_target(cx, id);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        // A CC call is not held after a busy: its request goes back to the queue.
        let hold = call.cc_call.is_none()
            && classified.failure == callcomp_switch::Failure::Busy
            && call.caller_line.as_deref().is_some_and(|line| {
                let s = cx.line_settings(line);
                !s.busy_hold.is_zero() || s.on_busy == crate::config::Policy::Campon
            });
        if hold {
            return self.hold_caller(cx, id, classified);
        }
        call.phase = Phase::Ended;
        if let Leg::In(incoming) = &mut call.caller {
            if let Some(key) = incoming.server.take() {
                let mut response = builder::response(
                    &incoming.invite,
                    classified.status,
                    classified.reason.as_deref(),
                    &incoming.dialog.local_tag,
                );
                if let Some(m) = classified.offer_mode() {
                    add_offer(&mut response, &cx.config.domain, m);
                }
                cx.sip.respond(&key, response, cx.now.instant);
            }
        }
        let offered = classified.offer_mode().is_some();
        let condition = super::trunk_failures::condition_of(classified.failure);
        if let (true, Some(trunk), Some(callee), Some(condition)) = (
            offered,
            call.trunk_caller.clone(),
            call.callee_line.clone(),
            condition,
        ) {
            let until = cx.now.instant + cx.config.completion.offer_window;
            self.trunk_failures
                .record(trunk, &callee, condition, cx.now.instant, until);
        }
        cx.fact(Fact::Failed {
            call: id,
            cause: classified.failure,
            caller_leg: CallerLeg::Released,
        });
        if self.is_cc_call(id) {
            self.cc_call_outcome(cx, id, super::cc_call::failed(classified.failure));
        } else {
            self.apply_policy(cx, id, classified.failure);
        }
        self.reap(id);
    }

    /// The no-answer timer of call `id` fired: cancel the forks, answer 480 with `m=NR`.
    pub(super) fn no_answer(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.ringing_timer = None;
        if call.phase != Phase::Setup {
            return;
        }
        if let Some(Leg::Out(out)) = &mut call.callee {
            out.abandon(cx.sip, cx.now);
        }
        if call.third_party.is_some() {
            self.join_failed(cx, id, Outcome::NoAnswerTimer);
            return;
        }
        self.fail(cx, id, Some(true), Outcome::NoAnswerTimer);
    }

    /// A CANCEL from `source`; `cancels` is the INVITE server transaction it matched. Only
    /// the caller's peer may cancel (403 otherwise, and the call goes on).
    pub fn cancel(
        &mut self,
        cx: &mut Ctx<'_>,
        key: TransactionKey,
        request: Message,
        cancels: Option<TransactionKey>,
        source: Target,
    ) {
        let Some(invite_key) = cancels else {
            let response = builder::response(&request, 481, None, &ids::tag());
            cx.sip.respond(&key, response, cx.now.instant);
            return;
        };
        let id = self.servers.get(&invite_key).copied();
        let caller_peer = id
            .and_then(|id| self.calls.get(&id))
            .and_then(|call| match &call.caller {
                Leg::In(incoming) => Some(&incoming.dialog),
                Leg::Out(_) => None,
            })
            .map(|d| identity::from_dialog_peer(source, d.target, &d.remote_target));
        if caller_peer == Some(false) {
            tracing::debug!(remote = %source.remote, "CANCEL not from the caller's peer");
            ::metrics::counter!(m::AUTH_REFUSALS, m::LABEL_REASON => "not-dialog-peer")
                .increment(1);
            let response = builder::response(
                &request,
                403,
                Some("Not from the dialog's peer"),
                &ids::tag(),
            );
            cx.sip.respond(&key, response, cx.now.instant);
            return;
        }
        let response = builder::response(&request, 200, None, &ids::tag());
        cx.sip.respond(&key, response, cx.now.instant);
        let Some(id) = id else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase != Phase::Setup {
            return;
        }
        self.drop_call(cx, id, Side::Caller);
    }
}

/// The INVITE to the callee for the caller's INVITE: a new Call-ID, a new From tag, CSeq 1,
/// the caller's identity in From, the callee's AOR in To, Max-Forwards one less, and the
/// body and end-to-end headers as they came.
pub(super) fn callee_invite(
    cx: &Ctx<'_>,
    caller: &Message,
    ess: &Essentials,
    callee_aor: &str,
) -> Message {
    let mut invite = Message::new_request(Method::Invite, ess.to.uri.clone());
    let mut from = ess.from.clone();
    from.params.remove("tag");
    from.set_tag(&ids::tag());
    invite.push(&MaxForwards(
        ess.max_forwards.map_or(70, |m| m.saturating_sub(1)),
    ));
    invite.push(&from);
    invite.push_raw(HeaderName::To, format!("<{callee_aor}>"));
    invite.push_raw(
        HeaderName::CallId,
        ids::call_id(&cx.sip.advertise().ip().to_string()),
    );
    invite.push(&CSeq::new(1, Method::Invite));
    copy_end_to_end(caller, &mut invite);
    invite
}
