//! A caller's INVITE held open after a busy (DESIGN §2.5): `183` while `busy_hold` runs, kept
//! open by a completion request that needs it (`182 Queued` for a camp-on), put through when
//! the camp-on fires, or ended with `486`.
//!
//! A request on a held call, whether the application or the per-user policy asks for it,
//! takes one path: the core validates it and stores it ([`crate::core`]); meanwhile the leg
//! is kept ([`B2bua::keep_held`]); once stored the mode's follow-up runs
//! ([`B2bua::camped_on`]); if it is refused the caller gets its `486`
//! ([`B2bua::release_kept`]).

use std::time::Duration;

use callcomp_sip::builder;
use callcomp_switch::{CallRef, CompletionId, CompletionMode, Direction, Fact, Failure};

use super::call::{Attempt, Leg, Phase};
use super::classify::Classified;
use super::offer::add_offer;
use super::{B2bua, Ctx, Timer};
use crate::config::Policy;
use callcomp_switch::CallerLeg;

/// How often a camped-on caller gets a provisional response (RFC 3261 §13.3.1.1 asks for
/// one at least every minute so proxies keep the INVITE transaction).
const QUEUED_REFRESH: Duration = Duration::from_secs(50);

/// A completion the per-user policy asks for on a caller's behalf; the core runs it through
/// the same path as the application's lineCompleteCall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyAsk {
    /// The caller's line, acting.
    pub line: String,
    /// The caller's call appearance (its number).
    pub call: u32,
    /// The mode the policy asks for.
    pub mode: CompletionMode,
}

impl B2bua {
    /// The callee was busy and the caller's line holds its INVITE open (`busy_hold` > 0, or
    /// policy `campon`): 183 with the offer instead of 486, and the switch is told the leg is
    /// held. After `busy_hold` without a request keeping it the caller gets its 486.
    pub(super) fn hold_caller(&mut self, cx: &mut Ctx<'_>, id: CallRef, classified: Classified) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.attempt = Attempt::Held;
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

    /// `busy_hold` is over: a held caller no request keeps gets its 486.
    pub(super) fn busy_hold_over(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        if self.calls.get(&id).map(|c| c.attempt) == Some(Attempt::Held) {
            self.end_held(cx, id);
        }
    }

    /// A request that needs the held leg of call `id` is on its way to the store: the leg is
    /// kept open past `busy_hold`. `false` if the call holds no leg.
    pub fn keep_held(&mut self, id: CallRef) -> bool {
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        if !call.attempt.held() {
            return false;
        }
        call.attempt = Attempt::Kept;
        self.disarm(id, Timer::BusyHold);
        true
    }

    /// The request that kept call `id`'s leg was refused (the store failed, or the switch
    /// refused it): the caller gets its 486.
    pub fn release_kept(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        if self.calls.get(&id).map(|c| c.attempt) == Some(Attempt::Kept) {
            self.end_held(cx, id);
        }
    }

    /// Ends the held INVITE of call `id` with 486 and the offer; the switch hears the caller
    /// let go.
    fn end_held(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        self.disarm(id, Timer::Queued);
        self.disarm(id, Timer::BusyHold);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.attempt = Attempt::Calling;
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

    /// A camp-on was accepted on kept call `id`: `182 Queued`, refreshed until it connects.
    pub fn camped_on(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        self.queued_keepalive(cx, id);
    }

    /// Sends `182 Queued` to a camped-on caller and arms the next one.
    pub(super) fn queued_keepalive(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.attempt != Attempt::Kept {
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

    /// The per-user policy (DESIGN §3) after call `id` failed with `failure`: asks for a
    /// callback, or a camp-on of a held caller, on the caller's behalf ([`B2bua::take_asks`]).
    pub(super) fn apply_policy(&mut self, cx: &mut Ctx<'_>, id: CallRef, failure: Failure) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(line) = call.caller_line.clone() else {
            return;
        };
        let held = call.attempt.held();
        let settings = cx.line_settings(&line);
        let policy = match failure {
            Failure::Busy => settings.on_busy,
            Failure::NoAnswer => settings.on_no_answer,
            _ => Policy::Offer,
        };
        let Some(mode) = policy.mode() else {
            return;
        };
        if mode.holds_caller_leg() && !held {
            return;
        }
        let number = cx
            .switch
            .calls_of(id)
            .iter()
            .find(|c| c.line == line && c.direction == Direction::Out)
            .map(|c| c.id.get());
        if let Some(call) = number {
            self.asks.push(PolicyAsk { line, call, mode });
        }
    }

    /// The completions the policy asked for since the last call.
    pub fn take_asks(&mut self) -> Vec<PolicyAsk> {
        std::mem::take(&mut self.asks)
    }

    /// Action `ConnectCampOn`: the camped-on caller's INVITE of `call`, still open, goes to
    /// the callee now, as a call with reason `callcompletion`. A call that is not kept any
    /// more is answered 486 so the caller is never left hanging.
    pub fn connect_campon(&mut self, cx: &mut Ctx<'_>, call: CallRef, id: CompletionId) {
        let kept = self.calls.get_mut(&call).is_some_and(|c| {
            let kept =
                c.attempt == Attempt::Kept && matches!(&c.caller, Leg::In(i) if i.server.is_some());
            c.attempt = Attempt::Calling;
            kept
        });
        self.disarm(call, Timer::Queued);
        self.disarm(call, Timer::BusyHold);
        if !kept {
            tracing::warn!(call = call.0, "camp-on has no held caller leg to connect");
            self.release_caller(cx, call, 486);
            return;
        }
        self.route_held(cx, call, id);
    }
}
