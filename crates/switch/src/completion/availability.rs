//! Who is free and when a callee becomes available (DESIGN §2.3): the switch reports each SIP
//! leg a line's phone opens or closes, the server reports registrations, dialog state and
//! suspensions; this turns them into met conditions, resumed requests and new selections.

use crate::call::CallId;
use crate::completion::engine::{End, Engine, HoldPhase, Out};
use crate::completion::events::LineDevState;
use crate::completion::io::Action;
use crate::completion::request::{CancelCause, CompletionId, CompletionRequest, RequestState};
use crate::events::EventKind;
use crate::tapi::CompletionCond;
use crate::time::Time;

impl Engine {
    /// A SIP leg of `line`'s phone opened.
    pub(crate) fn leg_opened(&mut self, line: &str) {
        let ls = self.lines.entry(line.to_owned()).or_default();
        ls.open_legs += 1;
        if ls.open_legs != 1 {
            return;
        }
        // The callee got busy: a guard in progress gives way (the callee's own call goes
        // first); a fired request's connection has arrived.
        let Some(hold) = self.callees.get(line).and_then(|c| c.hold.clone()) else {
            return;
        };
        match hold.phase {
            HoldPhase::Guard(until) => {
                self.release(line, until);
                self.set_state(hold.request, RequestState::Queued);
            }
            HoldPhase::Connecting(until) => self.release(line, until),
            HoldPhase::Recall => {}
        }
    }

    /// A SIP leg of `line`'s phone closed; the call had been `created` and was established at
    /// `established`, if it was.
    pub(crate) fn leg_closed(
        &mut self,
        line: &str,
        created: Time,
        established: Option<Time>,
        now: Time,
    ) {
        let ls = self.lines.entry(line.to_owned()).or_default();
        ls.open_legs = ls.open_legs.saturating_sub(1);
        let free = ls.open_legs == 0;
        let maybe_caller_free = ls.open_legs <= 1;
        self.condition_event(line, |r| match r.condition {
            CompletionCond::Busy => created >= r.waiting_since,
            CompletionCond::Noanswer => established.is_some_and(|t| t >= r.waiting_since),
            CompletionCond::Notregistered => false,
        });
        if maybe_caller_free {
            self.caller_free(line, now);
        }
        if free {
            self.select(line, now);
        }
    }

    /// `caller` reached `callee` directly (a call between them was answered): its waiting
    /// `callback` and `campon` requests to `callee` have done their job and complete. A request
    /// that is recalling is left to the recall's own outcome.
    pub(crate) fn direct_call(&mut self, caller: &str, callee: &str, now: Time) {
        let done: Vec<CompletionId> = self
            .requests_of(caller)
            .into_iter()
            .filter(|r| r.target == callee && r.mode.queues() && r.state != RequestState::Recalling)
            .map(|r| r.id)
            .collect();
        for id in done {
            let campon = self
                .requests
                .get(&id)
                .and_then(|r| r.held_leg().zip(r.call));
            if let Some((call, call_id)) = campon {
                // Its held leg is a different call to the same callee: give it up.
                self.action(Action::RejectCampOn { id, call });
                self.out.push(Out::EndCall(call_id));
            }
            self.end(id, End::Completed, now);
        }
    }

    /// The held caller leg of call `call` on `line` ended: the request holding it (a camp-on,
    /// an intrusion not yet joined) ends as `caller_released`.
    pub(crate) fn held_leg_released(&mut self, line: &str, call: CallId, now: Time) {
        let found = self
            .requests_of(line)
            .into_iter()
            .find(|r| r.held_leg().is_some() && r.call == Some(call));
        if let Some(id) = found.map(|r| r.id) {
            self.end(id, End::Cancelled(CancelCause::CallerReleased), now);
        }
    }

    pub(crate) fn in_call(&self, line: &str) -> bool {
        self.lines.get(line).is_some_and(|l| l.open_legs > 0)
    }

    pub(crate) fn registered(&self, line: &str) -> Option<bool> {
        self.lines.get(line).and_then(|l| l.registered)
    }

    /// Free to take a call: no leg open and not known to be unregistered.
    pub(crate) fn free(&self, line: &str) -> bool {
        !self.in_call(line) && self.registered(line) != Some(false)
    }

    /// Whether `r`'s caller is free for it: a camp-on's own held leg does not count, and a
    /// camp-on reaches its caller over that held INVITE, so the caller's registration does
    /// not matter (a phone that only calls out can camp on).
    /// A trunk's subscriber counts as free unless its agent suspended the request: its own
    /// server knows, and answers the CC call or not.
    pub(crate) fn caller_free_for(&self, r: &CompletionRequest) -> bool {
        let Some(line) = r.line() else {
            return !r.suspended_by_caller;
        };
        let holds_leg = r.held_leg().is_some();
        let legs = self.lines.get(line).map_or(0, |l| l.open_legs);
        let reachable = holds_leg || self.registered(line) != Some(false);
        legs <= u32::from(holds_leg) && reachable && !r.suspended_by_caller && !r.caller_found_busy
    }

    /// Marks the condition met for the not-yet-met queued requests on `callee` that `hit` picks.
    pub(crate) fn condition_event(
        &mut self,
        callee: &str,
        hit: impl Fn(&CompletionRequest) -> bool,
    ) {
        let Some(c) = self.callees.get(callee) else {
            return;
        };
        for id in c.queue.iter() {
            if let Some(r) = self.requests.get_mut(&id) {
                if !r.condition_met && hit(r) {
                    r.condition_met = true;
                }
            }
        }
    }

    pub(crate) fn set_registered(&mut self, line: &str, registered: bool, now: Time) {
        let ls = self.lines.entry(line.to_owned()).or_default();
        let was = ls.registered;
        ls.registered = Some(registered);
        // A line never heard of counts as out of service: the first report of a registered
        // line says `inservice`, that of an unregistered one says nothing.
        if was.unwrap_or(false) != registered {
            let count = self.count(line);
            self.event(EventKind::LineDevState(LineDevState::service(
                line, registered, count,
            )));
        }
        if was == Some(registered) && !registered {
            return;
        }
        if registered {
            self.condition_event(line, |r| r.condition == CompletionCond::Notregistered);
            let messages: Vec<CompletionId> = self
                .callees
                .get(line)
                .map(|c| c.messages.iter().copied().collect())
                .unwrap_or_default();
            for id in messages {
                self.deliver(id);
            }
            self.caller_free(line, now);
            self.select(line, now);
        } else {
            let guard = self
                .callees
                .get(line)
                .and_then(|c| c.hold.clone())
                .filter(|h| matches!(h.phase, HoldPhase::Guard(_)));
            if let Some(h) = guard {
                self.release_any(line);
                self.set_state(h.request, RequestState::Queued);
            }
        }
    }

    /// `line` may be free as a caller: its suspended requests whose caller is free resume,
    /// each keeping its place.
    pub(crate) fn caller_free(&mut self, line: &str, now: Time) {
        let ids: Vec<CompletionId> = self
            .lines
            .get(line)
            .map(|l| l.requests.iter().copied().collect())
            .unwrap_or_default();
        let mut targets = Vec::new();
        for id in ids {
            if let Some(r) = self.requests.get_mut(&id) {
                r.caller_found_busy = false;
            }
            if self.resume_one(id) {
                if let Some(r) = self.requests.get(&id) {
                    targets.push(r.target.key().to_owned());
                }
            }
        }
        targets.sort();
        targets.dedup();
        for t in targets {
            self.select(&t, now);
        }
    }

    /// A suspended request whose caller is free and not suspending it goes back to queued.
    pub(crate) fn resume_one(&mut self, id: CompletionId) -> bool {
        let ok = self
            .requests
            .get(&id)
            .is_some_and(|r| r.state == RequestState::Suspended && self.caller_free_for(r));
        if ok {
            self.set_state(id, RequestState::Queued);
        }
        ok
    }
}
