//! What a failed recall (or CC call) does to its request (RFC 6910 §7.4 retention, issue
//! #10).
//!
//! A request is `completed` only when the callee answers the recall (`RecallConnected`). A
//! recall the caller does not answer, or that finds the callee busy or not answering, counts as
//! one failed attempt: the request goes back to its place in the callee's queue (after a
//! callee failure its condition waits for the callee's next activity, as on acceptance) until `recall_attempts` attempts have failed,
//! when it ends (`recall_unanswered` or `recall_callee_unavailable`, after the last failure). A
//! caller whose phone answers the recall busy is not counted: the request is suspended and
//! resumes when the caller is free (its next call through callcomp ends, its next
//! registration, or its agent's RFC 6910 resume).

use crate::completion::engine::{End, Engine, HoldPhase, Timer, CC_CALL_LIMIT};
use crate::completion::request::{CancelCause, CompletionId, RequestState};
use crate::time::Time;

impl Engine {
    /// The caller's CC call (RFC 6910 §6.4) for `id` arrived: a ringing recall was stopped;
    /// the callee stays reserved for this caller while the CC call rings him. The request
    /// is `recalling` until the call's outcome, reported with the recall's facts: the callee
    /// answers (`RecallConnected`, completed), is busy or does not answer
    /// (`RecallCalleeBusy` / `RecallCalleeNoAnswer`), or the caller gives up
    /// (`RecallUnanswered`): each a failed attempt, back in the queue (§7.4 retention).
    pub(crate) fn cc_call_started(&mut self, id: CompletionId, now: Time) {
        let Some(r) = self.requests.get_mut(&id) else {
            return;
        };
        let (target, caller) = (r.target.key().to_owned(), r.caller.clone());
        if let Some(until) = r.recall_until.take() {
            self.deadlines.remove(&(until, Timer::Ring(id)));
        }
        let until = now + CC_CALL_LIMIT;
        r.recall_until = Some(until);
        self.deadlines.insert((until, Timer::Ring(id)));
        self.hold(&target, id, caller, HoldPhase::Recall);
        self.set_state(id, RequestState::Recalling);
    }

    /// Recall of `id` failed; `cause` ends it if that was the last attempt.
    pub(crate) fn recall_attempt_failed(
        &mut self,
        id: CompletionId,
        cause: CancelCause,
        now: Time,
    ) {
        let Some(r) = self.requests.get_mut(&id) else {
            return;
        };
        r.recall_failures += 1;
        if r.recall_failures >= self.config.recall_attempts {
            self.end(id, End::Cancelled(cause), now);
        } else {
            self.retain(id, now);
        }
    }

    /// The caller's phone was busy for the recall of `id`: suspended, keeping its place; the
    /// callee is free for the next request.
    pub(crate) fn recall_caller_busy(&mut self, id: CompletionId, now: Time) {
        let Some(r) = self.requests.get_mut(&id) else {
            return;
        };
        let target = r.target.key().to_owned();
        r.caller_found_busy = true;
        // A remote monitor told of the suspension (PUBLISH `closed`) says `ready` again once
        // resumed: wait for that rather than firing on the old `ready`.
        if r.target.remote().is_some() {
            r.condition_met = false;
        }
        if let Some(until) = r.recall_until.take() {
            self.deadlines.remove(&(until, Timer::Ring(id)));
        }
        self.release_any(&target);
        self.set_state(id, RequestState::Suspended);
        self.select(&target, now);
    }
}
