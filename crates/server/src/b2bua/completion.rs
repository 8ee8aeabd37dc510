//! The SIP side of call completion: what the engine's [`Action`](callcomp_switch::Action)s
//! turn into on the wire, and the outcomes reported back as completion facts.
//!
//! - a callback recall is a third-party call ([`super::join`]) that rings the caller's phone
//!   showing the callee (`"Callback: Bob Jones" <sip:bob@…>` with the callee's
//!   `display_name`, else its line name; RFC 6910 `Call-Info`), then ([`super::recall`])
//!   answers her with callcomp's ringback and calls the callee;
//! - a held or ringing original call is ended with 486 or 480 and the completion offer.

use callcomp_sip::builder;
use std::time::Duration;

use callcomp_switch::{
    CallRef, CallerLeg, CompletionFact, CompletionId, CompletionMode, Direction, Fact, Failure,
};

use super::call::{Leg, Phase};
use super::classify::Classified;
use super::join::{JoinRequest, MakeCallError};
use super::offer::add_offer;
use super::recall::RecallStage;
use super::{B2bua, Ctx, Timer};
use crate::config::Policy;

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

    /// Actions `ReleaseCaller`, `RejectCampOn` (486) and `CancelRinging` (480): ends the
    /// caller's INVITE of `call` with `status` and the completion offer, and cancels the
    /// callee's phones if they still ring. The switch already moved the call on, so no fact
    /// is reported.
    pub fn release_caller(&mut self, cx: &mut Ctx<'_>, call: CallRef, status: u16) {
        self.disarm(call, Timer::NoAnswer);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.phase == Phase::Connected {
            return;
        }
        c.phase = Phase::Ended;
        c.held = false;
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

/// How often a camped-on caller gets a provisional response (RFC 3261 §13.3.1.1 asks for
/// one at least every minute so proxies keep the INVITE transaction).
const QUEUED_REFRESH: Duration = Duration::from_secs(50);

impl B2bua {
    /// The callee was busy and the caller's line holds its INVITE open (`busy_hold` > 0, or
    /// policy `campon`): 183 with the offer instead of 486, and the switch is told the leg is
    /// held. After `busy_hold` without a camp-on the caller gets its 486.
    pub(super) fn hold_caller(&mut self, cx: &mut Ctx<'_>, id: CallRef, classified: Classified) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.held = true;
        let line = call.caller_line.clone().unwrap_or_default();
        if let Leg::In(incoming) = &mut call.caller {
            if let Some(key) = incoming.server.clone() {
                let mut response = builder::response(
                    &incoming.invite,
                    183,
                    Some("Callee Busy"),
                    &incoming.dialog.local_tag,
                );
                add_offer(&mut response, &cx.config.domain, "BS");
                cx.sip.respond(&key, response, cx.now.instant);
            }
        }
        cx.fact(Fact::Failed {
            call: id,
            cause: classified.failure,
            caller_leg: CallerLeg::Held,
        });
        let wait = cx.line_settings(&line).busy_hold;
        self.arm(cx.now.instant + wait, id, Timer::BusyHold);
        self.apply_policy(cx, id, classified.failure);
    }

    /// `busy_hold` is over: a held caller nobody camped on gets its 486.
    pub(super) fn busy_hold_over(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !call.held || call.camped {
            return;
        }
        call.held = false;
        call.phase = Phase::Ended;
        if let Leg::In(incoming) = &mut call.caller {
            if let Some(key) = incoming.server.take() {
                let mut response =
                    builder::response(&incoming.invite, 486, None, &incoming.dialog.local_tag);
                add_offer(&mut response, &cx.config.domain, "BS");
                cx.sip.respond(&key, response, cx.now.instant);
            }
        }
        cx.fact(Fact::CallerReleased { call: id });
        self.reap(id);
    }

    /// A camp-on was accepted on held call `id`: `182 Queued`, refreshed until it connects.
    pub fn camped_on(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !call.held {
            return;
        }
        call.camped = true;
        self.disarm(id, Timer::BusyHold);
        self.queued_keepalive(cx, id);
    }

    /// Sends `182 Queued` to a camped-on caller and arms the next one.
    pub(super) fn queued_keepalive(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if !(call.held && call.camped) {
            return;
        }
        if let Leg::In(incoming) = &call.caller {
            if let Some(key) = incoming.server.clone() {
                let response = builder::response(
                    &incoming.invite,
                    182,
                    Some("Queued"),
                    &incoming.dialog.local_tag,
                );
                cx.sip.respond(&key, response, cx.now.instant);
            }
        }
        self.arm(cx.now.instant + QUEUED_REFRESH, id, Timer::Queued);
    }

    /// The per-user policy (DESIGN §3) after call `id` failed with `failure`: request a
    /// callback, or camp on a held caller, on the caller's behalf.
    pub(super) fn apply_policy(&mut self, cx: &mut Ctx<'_>, id: CallRef, failure: Failure) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(line) = call.caller_line.clone() else {
            return;
        };
        let held = call.held;
        let settings = cx.line_settings(&line);
        let policy = match failure {
            Failure::Busy => settings.on_busy,
            Failure::NoAnswer => settings.on_no_answer,
            _ => Policy::Offer,
        };
        let mode = match policy {
            Policy::Offer => return,
            Policy::Callback => CompletionMode::Callback,
            // Camping on needs the caller's INVITE still open.
            Policy::Campon if held => CompletionMode::Campon,
            Policy::Campon => return,
        };
        let number = cx
            .switch
            .calls_of(id)
            .iter()
            .find(|c| c.line == line && c.direction == Direction::Out)
            .map(|c| c.id.get());
        let Some(number) = number else {
            return;
        };
        match cx
            .switch
            .complete_call(Some(&line), number, mode.value(), 0, cx.now.wall)
        {
            Ok(accepted) => {
                tracing::info!(
                    line,
                    completion = accepted.id.get(),
                    mode = mode.as_str(),
                    "completion requested by policy"
                );
                cx.events.extend(accepted.events);
                if mode == CompletionMode::Campon {
                    self.camped_on(cx, id);
                }
            }
            Err(e) => tracing::info!(line, error = %e, "policy could not request completion"),
        }
    }

    /// Action `ConnectCampOn`: the camped-on caller's INVITE of `call`, still open, goes to
    /// the callee now, as a call with reason `callcompletion`. A call that is not held any
    /// more is answered 486 so the caller is never left hanging.
    pub fn connect_campon(&mut self, cx: &mut Ctx<'_>, call: CallRef, id: CompletionId) {
        let held = self.calls.get_mut(&call).is_some_and(|c| {
            let held = c.held && matches!(&c.caller, Leg::In(i) if i.server.is_some());
            c.held = false;
            c.camped = false;
            held
        });
        self.disarm(call, Timer::Queued);
        self.disarm(call, Timer::BusyHold);
        if !held {
            tracing::warn!(call = call.0, "camp-on has no held caller leg to connect");
            self.release_caller(cx, call, 486);
            return;
        }
        self.route_held(cx, call, id);
    }
}
