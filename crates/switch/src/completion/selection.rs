//! Picking the next request of a callee, the guard and reservation, firing, and putting a
//! request back in its place (DESIGN §2.2, §2.3; RFC 6910 §5 for the queue rules).

use crate::completion::caller::Caller;
use crate::completion::engine::{End, Engine, Hold, HoldPhase, Out, Timer, CONNECT_GRACE};
use crate::completion::io::Action;
use crate::completion::mode::{Fires, OnFree};
use crate::completion::request::{CompletionId, RequestState};
use crate::time::Time;

impl Engine {
    /// Picks the next eligible request of `callee` if the callee is free and not reserved:
    /// callers that are not free are suspended on the way (DESIGN §2.3).
    pub(crate) fn select(&mut self, callee: &str, now: Time) {
        if !self.free(callee) {
            return;
        }
        let ids: Vec<CompletionId> = match self.callees.get(callee) {
            Some(c) if c.hold.is_none() => c.queue.iter().collect(),
            _ => return,
        };
        for id in ids {
            let Some(r) = self.requests.get(&id) else {
                continue;
            };
            if !r.condition_met || r.state == RequestState::Recalling {
                continue;
            }
            if !self.caller_free_for(r) {
                self.set_state(id, RequestState::Suspended);
                continue;
            }
            let caller = r.caller.clone();
            let until = now + self.config.guard;
            self.hold(callee, id, caller, HoldPhase::Guard(until));
            self.set_state(id, RequestState::Ready);
            if until <= now {
                self.guard_over(callee, now);
            }
            return;
        }
    }

    pub(crate) fn hold(
        &mut self,
        callee: &str,
        request: CompletionId,
        caller: Caller,
        phase: HoldPhase,
    ) {
        let c = self.callees.entry(callee.to_owned()).or_default();
        if let Some(old) = c.hold.take() {
            if let HoldPhase::Guard(t) | HoldPhase::Connecting(t) = old.phase {
                self.deadlines.remove(&(t, Timer::Hold(callee.to_owned())));
            }
        }
        if let HoldPhase::Guard(t) | HoldPhase::Connecting(t) = phase {
            self.deadlines.insert((t, Timer::Hold(callee.to_owned())));
        }
        if let Some(c) = self.callees.get_mut(callee) {
            c.hold = Some(Hold {
                request,
                caller,
                phase,
            });
        }
    }

    /// Drops `callee`'s reservation (its timer at `at`, if it has one).
    pub(crate) fn release(&mut self, callee: &str, at: Time) {
        if let Some(c) = self.callees.get_mut(callee) {
            c.hold = None;
        }
        self.deadlines.remove(&(at, Timer::Hold(callee.to_owned())));
    }

    pub(crate) fn release_any(&mut self, callee: &str) {
        let phase = self
            .callees
            .get(callee)
            .and_then(|c| c.hold.as_ref())
            .map(|h| h.phase);
        match phase {
            Some(HoldPhase::Guard(t) | HoldPhase::Connecting(t)) => self.release(callee, t),
            Some(HoldPhase::Recall) => self.release(callee, Time::ZERO),
            None => {}
        }
    }

    /// The guard of `callee` is over: fire its request if both parties are still free.
    pub(crate) fn guard_over(&mut self, callee: &str, now: Time) {
        let Some(hold) = self.callees.get(callee).and_then(|c| c.hold.clone()) else {
            return;
        };
        let Some(r) = self.requests.get(&hold.request) else {
            self.release_any(callee);
            return;
        };
        let (id, mode) = (r.id, r.mode);
        if !self.free(callee) {
            self.release_any(callee);
            self.set_state(id, RequestState::Queued);
            return;
        }
        if !self.caller_free_for(r) {
            self.release_any(callee);
            self.set_state(id, RequestState::Suspended);
            self.select(callee, now);
            return;
        }
        match mode.fires() {
            Fires::CalleeFree(OnFree::ConnectHeldCall) => {
                let (call, campon) = (r.call, r.held_leg());
                let until = now + CONNECT_GRACE;
                self.hold(callee, id, hold.caller, HoldPhase::Connecting(until));
                if let Some(call) = call {
                    self.out.push(Out::FireCampOn { call, id });
                }
                if let Some(call) = campon {
                    self.action(Action::ConnectCampOn {
                        id,
                        call,
                        callee: callee.to_owned(),
                    });
                }
                self.end(id, End::Completed, now);
            }
            _ => {
                let until = now + self.config.recall_ring;
                self.hold(callee, id, hold.caller.clone(), HoldPhase::Recall);
                if let Some(r) = self.requests.get_mut(&id) {
                    r.recall_until = Some(until);
                }
                self.deadlines.insert((until, Timer::Ring(id)));
                self.set_state(id, RequestState::Recalling);
                match hold.caller {
                    Caller::Line(caller) => self.action(Action::Recall {
                        id,
                        caller,
                        callee: callee.to_owned(),
                    }),
                    // Never recalled here: `recalling` (its `ready` NOTIFY) means its own
                    // server recalls it; it stands until the CC call arrives over the trunk,
                    // or `recall_ring` passes (a failed attempt).
                    Caller::Trunk(_) => {}
                }
            }
        }
    }

    /// Takes a selected or recalling request back to `state` (queued or suspended), freeing the
    /// callee for the next one.
    pub(crate) fn unselect(&mut self, id: CompletionId, state: RequestState, now: Time) {
        let Some(r) = self.requests.get_mut(&id) else {
            return;
        };
        let was = r.state;
        let target = r.target.key().to_owned();
        if let Some(until) = r.recall_until.take() {
            self.deadlines.remove(&(until, Timer::Ring(id)));
        }
        if was == RequestState::Recalling {
            self.cancel_recall(id);
        }
        let held = self
            .callees
            .get(&target)
            .and_then(|c| c.hold.as_ref())
            .is_some_and(|h| h.request == id);
        self.set_state(id, state);
        if held {
            self.release_any(&target);
            self.select(&target, now);
        }
    }

    /// Retention: a recall failed; the request waits again in its place. Its condition is
    /// met at once if the callee is in a call (it fires when that call ends), else it waits
    /// for the callee's next activity, as on acceptance. The server closes the recall's own
    /// leg to the callee before it reports the failure, so that leg does not count.
    pub(crate) fn retain(&mut self, id: CompletionId, now: Time) {
        let Some(r) = self.requests.get(&id) else {
            return;
        };
        let (target, expiry) = (r.target.key().to_owned(), r.expiry);
        let met = self.in_call(&target);
        if let Some(r) = self.requests.get_mut(&id) {
            r.condition_met = met;
            r.waiting_since = now;
            if let Some(until) = r.recall_until.take() {
                self.deadlines.remove(&(until, Timer::Ring(id)));
            }
        }
        self.release_any(&target);
        self.set_state(id, RequestState::Queued);
        if expiry <= now {
            self.expire(id, expiry, now);
        } else {
            self.select(&target, now);
        }
    }

    /// Delivers message request `id` now if its callee is registered (or not known not to be).
    pub(crate) fn deliver(&mut self, id: CompletionId) {
        let Some(r) = self.requests.get(&id) else {
            return;
        };
        if self.registered(r.target.key()) == Some(false) || r.state != RequestState::Queued {
            return;
        }
        let text = r
            .message_id
            .and_then(|m| usize::try_from(m).ok())
            .and_then(|m| self.config.completion_messages.get(m))
            .cloned()
            .unwrap_or_default();
        let action = Action::SendMessage {
            id,
            to: r.target.key().to_owned(),
            from: r.speaking_line().to_owned(),
            text,
        };
        self.set_state(id, RequestState::Ready);
        self.action(action);
    }
}
