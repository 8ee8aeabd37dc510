//! The SIP side of call completion: what the engine's [`Action`](callcomp_switch::Action)s
//! turn into on the wire, and the outcomes reported back as completion facts.
//!
//! - a callback recall is a third-party call ([`super::join`]) that rings the caller's phone
//!   showing the callee (`"Callback: Bob Jones" <sip:bob@…>` with the callee's
//!   `display_name`, else its line name; RFC 6910 `Call-Info`), then ([`super::recall`])
//!   answers her with callcomp's ringback and calls the callee;
//! - a message is a SIP MESSAGE (text/plain) to every registered contact of the callee, from
//!   the caller's display name;
//!   the first 2xx delivers it;
//! - a held or ringing original call is ended with 486 or 480 and the completion offer.

use callcomp_sip::builder;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::numbers::MaxForwards;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;

use callcomp_switch::{CallRef, CompletionFact, CompletionId};

use super::call::{Attempt, Leg, Phase};
use super::dialog::name_addr;
use super::join::{JoinRequest, MakeCallError};
use super::offer::add_offer;
use super::recall::RecallStage;
use super::{B2bua, Client, Ctx, Timer};
use crate::core::ids;

/// The handle MESSAGE transactions are filed under; no call ever has it (handles start at 1).
const NO_CALL: CallRef = CallRef(0);

impl B2bua {
    /// Action `Recall`: rings `caller`'s phone for request `id`, showing `callee`. On failure
    /// to start (no binding), the engine is told at once (`RecallFailed`).
    pub fn recall(&mut self, cx: &mut Ctx<'_>, id: CompletionId, caller: &str, callee: &str) {
        let req = JoinRequest {
            line: caller.to_owned(),
            to: callee.to_owned(),
            display: Some(format!("Callback: {}", cx.line_settings(callee).display)),
            recall: Some(id),
        };
        if let Err(e @ MakeCallError::PhoneNotRegistered(_)) = self.join(cx, req) {
            tracing::info!(error = %e, completion = id.get(), "recall cannot ring the caller");
            cx.completion_fact(CompletionFact::RecallFailed { id });
        }
    }

    /// Action `CancelRecall`: stops the recall of request `id` (the engine already ended or
    /// re-queued the request, so nothing is reported back).
    pub fn cancel_recall(&mut self, cx: &mut Ctx<'_>, id: CompletionId) {
        let Some(call) = self.recalls.remove(&id) else {
            return;
        };
        if let Some(recall) = self.calls.get_mut(&call).and_then(|c| c.recall.as_mut()) {
            recall.stage = RecallStage::Settled;
        }
        self.drop_call(cx, call, callcomp_switch::Side::Caller);
    }

    /// Action `SendMessage`: a MESSAGE with `text` from `from` to every contact of `to`.
    pub fn send_message(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CompletionId,
        to: &str,
        from: &str,
        text: &str,
    ) {
        let destinations = cx.destinations(to);
        let from_name = cx.line_settings(from).display;
        let body = format!("{text}\r\n(left by {from_name} via call completion)\r\n");
        let mut sent = 0;
        for d in &destinations {
            let mut message = Message::new_request(Method::Message, d.uri.clone());
            message.push(&cx.sip.via(d.target.proto));
            message.push(&MaxForwards(70));
            message.push_raw(
                HeaderName::From,
                format!(
                    "{};tag={}",
                    name_addr(&from_name, &cx.aor(from)),
                    ids::tag()
                ),
            );
            message.push_raw(HeaderName::To, format!("<{}>", cx.aor(to)));
            message.push_raw(
                HeaderName::CallId,
                ids::call_id(&cx.sip.advertise().ip().to_string()),
            );
            message.push(&CSeq::new(1, Method::Message));
            message.push_raw(
                HeaderName::ContentType,
                "text/plain;charset=UTF-8".to_owned(),
            );
            message.set_body(body.clone().into_bytes());
            if let Some(key) = cx.sip.request(message, d.target, cx.now.instant) {
                self.clients.insert(key, (NO_CALL, Client::Message(id)));
                sent += 1;
            }
        }
        if sent == 0 {
            cx.completion_fact(CompletionFact::MessageFailed { id });
        } else {
            self.messages.insert(id, sent);
        }
    }

    /// A response to a MESSAGE of request `id`: the first 2xx delivers it; when every
    /// contact refused, delivery failed (the engine retries at the next registration).
    pub(super) fn message_response(&mut self, cx: &mut Ctx<'_>, id: CompletionId, r: &Message) {
        match r.status() {
            Some(200..=299) if self.messages.remove(&id).is_some() => {
                cx.completion_fact(CompletionFact::MessageDelivered { id });
            }
            Some(300..) => self.message_failed(cx, id),
            _ => {}
        }
    }

    /// One MESSAGE of request `id` failed or timed out.
    pub(super) fn message_failed(&mut self, cx: &mut Ctx<'_>, id: CompletionId) {
        let Some(left) = self.messages.get_mut(&id) else {
            return;
        };
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.messages.remove(&id);
            cx.completion_fact(CompletionFact::MessageFailed { id });
        }
    }

    /// Actions `ReleaseCaller`, `RejectCampOn` (486) and `CancelRinging` (480): ends the
    /// caller's INVITE of `call` with `status` and the completion offer, and cancels the
    /// callee's phones if they still ring. The switch already moved the call on, so no fact
    /// is reported.
    pub fn release_caller(&mut self, cx: &mut Ctx<'_>, call: CallRef, status: u16) {
        self.disarm(call, Timer::NoAnswer);
        self.disarm(call, Timer::Queued);
        self.disarm(call, Timer::BusyHold);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase == Phase::Connected {
            return;
        }
        c.phase = Phase::Ended;
        c.attempt = Attempt::Calling;
        if let Some(Leg::Out(out)) = &mut c.callee {
            out.abandon(cx.sip, cx.now);
        }
        if let Leg::In(incoming) = &mut c.caller {
            if let Some(key) = incoming.server.take() {
                let mut response =
                    builder::response(&incoming.invite, status, None, &incoming.dialog.local_tag);
                add_offer(
                    &mut response,
                    &cx.config.domain,
                    if status == 486 { "BS" } else { "NR" },
                );
                cx.sip.respond(&key, response, cx.now.instant);
            }
        }
        self.reap(call);
    }
}
