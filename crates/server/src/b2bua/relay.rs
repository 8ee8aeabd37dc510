//! Requests inside a call's dialogs, passed across (RFC 3261 §12.2, §13.2.2.4, RFC 3262,
//! RFC 3311, RFC 6086): a request the peer on one side sends in its dialog becomes the same
//! request in the dialog on the other side, with that dialog's Call-ID, tags, CSeq and
//! target; its responses come back the same way. The body and the end-to-end headers travel
//! untouched; RAck is renumbered to the other side's INVITE. A request is taken only from
//! that side's peer (the address the dialog was set up with, or its Contact;
//! [`identity::from_dialog_peer`]): anyone else gets 403, so knowing a Call-ID and tags is
//! not enough to hang up or re-route someone's call.
//!
//! ACK for a 2xx is end to end as well: the ACK for a relayed 2xx is sent on the other side
//! when the side that got the 2xx acknowledges it, carrying its body (an answer, when the
//! INVITE had no offer).

use callcomp_sip::builder;
use callcomp_sip::check::Essentials;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::numbers::MaxForwards;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::transaction::TransactionKey;
use callcomp_switch::{CallRef, Fact, Side};

use super::call::{other, Leg, PendingAck, Phase};
use super::dialog::{copy_end_to_end, relay_response, rewrite_rack};
use super::{B2bua, Client, Ctx, Timer};
use crate::api::metrics as m;
use crate::identity;
use crate::transport::Target;

/// A request relayed from one side to the other, waiting for its responses.
#[derive(Debug, Clone)]
pub struct Relayed {
    /// The server transaction of the original request.
    pub server: TransactionKey,
    /// The original request.
    pub request: Message,
    /// The side it came from.
    pub from: Side,
    /// The CSeq number of the relayed copy on the other side.
    pub seq: u32,
}

impl B2bua {
    /// A request with a To tag (other than ACK and CANCEL): find its dialog and pass it on.
    pub fn in_dialog(
        &mut self,
        cx: &mut Ctx<'_>,
        key: TransactionKey,
        request: Message,
        ess: &Essentials,
        source: Target,
    ) {
        let respond = |cx: &mut Ctx<'_>, status: u16, reason: Option<&str>| {
            let response = builder::response(&request, status, reason, "");
            cx.sip.respond(&key, response, cx.now.instant);
        };
        let to_tag = ess.to.tag().unwrap_or_default().to_owned();
        let Some(&(id, side)) = self.dialogs.get(&(ess.call_id.0.clone(), to_tag)) else {
            return respond(cx, 481, None);
        };
        let method = ess.cseq.method.clone();
        let from_tag = ess.from.tag().unwrap_or_default().to_owned();
        let glare = method == Method::Invite && self.reinvite_pending(id, side);
        let intrusion = self.is_intruder(id) || self.is_intruded(id);
        let takes_bye = self.takes_bye(id);
        let Some(call) = self.calls.get_mut(&id) else {
            return respond(cx, 481, None);
        };
        let Some(dialog) = call
            .leg_mut(side)
            .and_then(|l| l.dialog_with_tag(&from_tag))
        else {
            return respond(cx, 481, None);
        };
        if !identity::from_dialog_peer(source, dialog.target, &dialog.remote_target) {
            tracing::debug!(remote = %source.remote, call_id = %ess.call_id.0, %method, "in-dialog request not from the dialog's peer");
            ::metrics::counter!(m::AUTH_REFUSALS, m::LABEL_REASON => "not-dialog-peer")
                .increment(1);
            return respond(cx, 403, Some("Not from the dialog's peer"));
        }
        if !dialog.accept_remote_seq(ess.cseq.seq) {
            return respond(cx, 500, Some("CSeq out of order"));
        }
        if glare {
            // RFC 3261 §14.2: our own re-INVITE is pending in this dialog.
            return respond(cx, 491, None);
        }
        if takes_bye && method == Method::Bye {
            respond(cx, 200, None);
            self.intrusion_bye(cx, id, side);
            return;
        }

        if intrusion && matches!(method, Method::Invite | Method::Update) {
            // The party talks to callcomp's mixer: a new offer would be passed to someone
            // no longer at the other end.
            return respond(cx, 488, Some("Call is being intruded on"));
        }
        if matches!(method, Method::Invite | Method::Update) {
            dialog.refresh_target(&request);
        }
        if method == Method::Options {
            return respond(cx, 200, None);
        }
        if ess.max_forwards == Some(0) {
            return respond(cx, 483, None);
        }
        let ended = call.phase == Phase::Ended;
        let invite_seq = match call.leg_mut(other(side)) {
            Some(Leg::Out(o)) => o.invite_seq,
            Some(Leg::In(i)) => i.dialog.remote_seq.unwrap_or(0),
            None => 0,
        };
        if method == Method::Bye && ended {
            return respond(cx, 200, None);
        }
        if method == Method::Bye && side == Side::Caller && self.recall_caller_bye(cx, id) {
            return respond(cx, 200, None);
        }
        if method == Method::Bye && side == Side::Caller && self.code_caller_bye(id) {
            return respond(cx, 200, None);
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return respond(cx, 481, None);
        };
        let Some(peer) = call.leg_mut(other(side)).and_then(Leg::dialog_mut) else {
            if method == Method::Bye {
                // The other side has no dialog yet: the BYE ends the call attempt.
                respond(cx, 200, None);
                self.drop_call(cx, id, side);
                return;
            }
            return respond(cx, 481, None);
        };
        let mut relayed = peer.request(method.clone(), cx.sip);
        let seq = peer.local_seq;
        let target = peer.target;
        copy_end_to_end(&request, &mut relayed);
        if let Some(hops) = ess.max_forwards {
            relayed.set(&MaxForwards(hops.saturating_sub(1)));
        }
        if let Some(rack) = request.get_str(&HeaderName::RAck) {
            if let Some(value) = rewrite_rack(&rack, invite_seq) {
                relayed.set_raw(HeaderName::RAck, value);
            }
        }
        call.note_sdp(other(side), &relayed);
        let Some(client) = cx.sip.request(relayed, target, cx.now.instant) else {
            return respond(cx, 500, None);
        };
        let relay = Relayed {
            server: key,
            request,
            from: side,
            seq,
        };
        self.clients
            .insert(client, (id, Client::Relay(Box::new(relay))));
        if method == Method::Bye {
            if let Some(call) = self.calls.get_mut(&id) {
                call.phase = Phase::Ended;
            }
            self.disarm(id, Timer::NoAnswer);
            cx.fact(Fact::Hangup { call: id, by: side });
            self.shadow_fact(cx, id, |call| Fact::Hangup { call, by: side });
            if intrusion {
                // The call ends while it is being joined or put back: the intrusion is over.
                self.abandon_intrusion(cx, id);
            }
        }
    }

    /// A response to a relayed request: pass it back.
    pub(super) fn relayed_response(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        relayed: Box<Relayed>,
        response: Message,
    ) {
        let status = response.status().unwrap_or(500);
        if status == 100 {
            return;
        }
        let method = relayed.request.method().cloned();
        let is_invite = method == Some(Method::Invite);
        let contact = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.leg_mut(relayed.from))
            .and_then(Leg::dialog_mut)
            .map(|d| {
                let proto = d.target.proto;
                (d.remote_seq.unwrap_or(0), d.target, proto)
            });
        let contact_value = contact.map(|(_, _, proto)| cx.sip.contact(proto));
        let out = relay_response(&relayed.request, &response, "", contact_value.as_deref());
        if let Some(call) = self.calls.get_mut(&id) {
            call.note_sdp(relayed.from, &out);
        }
        if is_invite && (200..300).contains(&status) {
            if let Some(call) = self.calls.get_mut(&id) {
                if let Some(dialog) = call.leg_mut(other(relayed.from)).and_then(Leg::dialog_mut) {
                    dialog.refresh_target(&response);
                }
                let from_seq = relayed
                    .request
                    .header::<callcomp_sip::headers::cseq::CSeq>()
                    .and_then(Result::ok)
                    .map_or(0, |c| c.seq);
                call.pending_acks
                    .retain(|p| !(p.from == relayed.from && p.from_seq == from_seq));
                call.pending_acks.push(PendingAck {
                    from: relayed.from,
                    from_seq,
                    to_seq: relayed.seq,
                });
                if let Some((_, target, _)) = contact {
                    cx.sip.respond(&relayed.server, out.clone(), cx.now.instant);
                    self.track_2xx(cx, id, relayed.from, from_seq, out, target);
                    return;
                }
            }
        }
        cx.sip.respond(&relayed.server, out, cx.now.instant);
        if status >= 200 {
            self.after_relay(cx, id, &relayed);
        }
    }

    /// After the final response to a relayed request: a BYE ends the call for good.
    pub(super) fn after_relay(&mut self, _cx: &mut Ctx<'_>, id: CallRef, relayed: &Relayed) {
        if relayed.request.method() == Some(&Method::Bye) {
            self.reap(id);
        }
    }

    /// An ACK for a 2xx from `source`: stop retransmitting that 2xx and pass the ACK across if
    /// one is owed. Only the dialog's peer is heard.
    pub fn ack(&mut self, cx: &mut Ctx<'_>, ack: &Message, source: Target) {
        let Ok(ess) = callcomp_sip::check::check_request(ack) else {
            return;
        };
        let Some(tag) = ess.to.tag() else { return };
        let Some(&(id, side)) = self.dialogs.get(&(ess.call_id.0.clone(), tag.to_owned())) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        // An ACK from anyone but that side's peer is dropped (an ACK gets no answer).
        let from_tag = ess.from.tag().unwrap_or_default();
        let from_peer = call
            .leg_mut(side)
            .and_then(|l| l.dialog_with_tag(from_tag))
            .is_some_and(|d| identity::from_dialog_peer(source, d.target, &d.remote_target));
        if !from_peer {
            tracing::debug!(remote = %source.remote, call_id = %ess.call_id.0, "ACK not from the dialog's peer dropped");
            ::metrics::counter!(m::AUTH_REFUSALS, m::LABEL_REASON => "not-dialog-peer")
                .increment(1);
            return;
        }
        let seq = ess.cseq.seq;
        call.unacked.retain(|u| !(u.side == side && u.seq == seq));
        let Some(pos) = call
            .pending_acks
            .iter()
            .position(|p| p.from == side && p.from_seq == seq)
        else {
            return;
        };
        let pending = call.pending_acks.remove(pos);
        let Some(peer) = call.leg_mut(other(side)).and_then(Leg::dialog_mut) else {
            return;
        };
        let mut relayed = peer.ack(pending.to_seq, cx.sip);
        let target = peer.target;
        copy_end_to_end(ack, &mut relayed);
        cx.sip.send(&relayed, target);
        call.note_sdp(other(side), &relayed);
        call.sent_acks
            .insert((other(side), pending.to_seq), (relayed, target));
    }

    /// Resends the ACK for the INVITE 2xx of `side`, when the 2xx came again.
    pub(super) fn resend_ack(&mut self, cx: &mut Ctx<'_>, id: CallRef, side: Side) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(Leg::Out(out)) = (match side {
            Side::Caller => Some(&call.caller),
            Side::Callee => call.callee.as_ref(),
        }) else {
            return;
        };
        if let Some((ack, target)) = call.sent_acks.get(&(side, out.invite_seq)) {
            cx.sip.send(ack, *target);
        }
    }

    /// Sends the ACK for the INVITE 2xx of `side` ourselves (with `body`, if any), unless
    /// one was sent already.
    pub(super) fn ack_out(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        side: Side,
        body: Option<&Message>,
    ) {
        self.ack_out_with(cx, id, side, |ack| {
            if let Some(from) = body {
                copy_end_to_end(from, ack);
            }
        });
    }

    /// Sends the ACK for the INVITE 2xx of `side` ourselves, `fill` adding its body, unless
    /// one was sent already.
    pub(super) fn ack_out_with(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        side: Side,
        fill: impl FnOnce(&mut Message),
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(Leg::Out(out)) = call.leg_mut(side) else {
            return;
        };
        let seq = out.invite_seq;
        if call.sent_acks.contains_key(&(side, seq)) {
            return;
        }
        let Some(Leg::Out(out)) = call.leg_mut(side) else {
            return;
        };
        let Some(dialog) = out.dialog.as_ref() else {
            return;
        };
        let mut ack = dialog.ack(seq, cx.sip);
        fill(&mut ack);
        let target = dialog.target;
        cx.sip.send(&ack, target);
        call.pending_acks
            .retain(|p| p.to_seq != seq || p.from != other(side));
        call.sent_acks.insert((side, seq), (ack, target));
    }
}
