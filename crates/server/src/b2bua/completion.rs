//! The SIP side of call completion: what the engine's [`Action`](callcomp_switch::Action)s
//! turn into on the wire, and the outcomes reported back as completion facts.
//!
//! - a callback recall is a third-party call ([`super::join`]) that rings the caller's phone
//!   showing the callee (`"Callback: Bob Jones" <sip:bob@…>` with the callee's
//!   `display_name`, else its line name; RFC 6910 `Call-Info`), then ([`super::recall`])
//!   answers her with callcomp's ringback and calls the callee;
//! - a held or ringing original call is ended with 486 or 480 and the completion offer.

use callcomp_sip::builder;

use callcomp_switch::{CallRef, CompletionFact, CompletionId};

use super::call::{Attempt, Leg, Phase};
use super::join::{JoinRequest, MakeCallError};
use super::offer::add_offer;
use super::recall::RecallStage;
use super::{B2bua, Ctx, Timer};

impl B2bua {
    /// Action `Recall`: rings `caller`'s phone for request `id`, showing `callee`. On failure
    /// to start (no binding), the engine is told at once (`RecallFailed`).
    pub fn recall(&mut self, cx: &mut Ctx<'_>, id: CompletionId, caller: &str, callee: &str) {
        // A remote callee is shown as its address (`dave@b.test`), a line by its display name.
        let shown = match super::join::remote_callee(cx, id) {
            Some(remote) => remote.aor.trim_start_matches("sip:").to_owned(),
            None => cx.line_settings(callee).display,
        };
        let req = JoinRequest {
            line: caller.to_owned(),
            to: callee.to_owned(),
            display: Some(format!("Callback: {shown}")),
            recall: Some(id),
        };
        if let Err(e @ MakeCallError::PhoneNotRegistered(_)) = self.join(cx, req) {
            tracing::info!(error = %e, completion = id.get(), "recall cannot ring the caller");
            cx.completion_fact(CompletionFact::RecallFailed { id });
        }
    }

    /// Whether the caller answered the recall of request `id` and its call to the callee (for
    /// a remote callee, the CC call) is under way.
    pub fn recall_answered(&self, id: CompletionId) -> bool {
        self.recalls
            .get(&id)
            .and_then(|call| self.calls.get(call))
            .is_some_and(|c| {
                matches!(
                    c.third_party,
                    Some(super::call::ThirdParty::CallingDestination)
                )
            })
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
