//! The completion operations on [`Switch`]: lineCompleteCall, lineUncompleteCall, completion
//! facts, capabilities, status, queries, export and import (DESIGN §2.1-§2.5).
//!
//! Every operation returns the events it caused, numbered in the switch's one stream; the SIP
//! work it needs is queued as [`Action`](crate::completion::Action)s for
//! [`Switch::poll_actions`].

use crate::call::{Call, CallFeatures, CallId, CallRef};
use crate::completion::caller::Caller;
use crate::completion::caps::{AddressCaps, CompletionConfig, LineLimits, LineStatus};
use crate::completion::events::{Reply, ReplyTo};
use crate::completion::io::{Action, CompletionFact, CompletionFactError};
use crate::completion::mode::{Needs, OriginalCall};
use crate::completion::request::{CompletionId, CompletionRequest};
use crate::completion::snapshot::{ImportError, Snapshot};
use crate::completion::target::{CompletionTarget, RemoteTarget};
use crate::completion::validate::{condition_of, validate, Ask, Limits};
use crate::events::{Event, EventKind};
use crate::switch::{Phase, Switch};
use crate::tapi::{CallReason, CallState, CompletionMode, DisconnectMode, LineErr};
use crate::time::Time;
use crate::StateMode;

/// An accepted lineCompleteCall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The new request's id (the `*lpdwCompletionID`).
    pub id: CompletionId,
    /// The events it caused: the original call's changes, `reply`, `linedevstate
    /// numcompletions`, `completion queued`, and any that followed at once.
    pub events: Vec<Event>,
}

impl Switch {
    /// The completion settings.
    pub fn completion_config(&self) -> &CompletionConfig {
        self.completion.config()
    }

    /// Sets `line`'s own limits (`users.<name>.max_call_completions` / `max_queue`).
    pub fn set_line_limits(&mut self, line: &str, limits: LineLimits) -> Result<(), LineErr> {
        if !self.lines.contains_key(line) {
            return Err(LineErr::InvalLineHandle);
        }
        self.completion.set_limits(line, limits);
        Ok(())
    }

    /// lineGetAddressCaps for `line`'s address.
    pub fn address_caps(&self, line: &str) -> Result<AddressCaps, LineErr> {
        if !self.lines.contains_key(line) {
            return Err(LineErr::InvalLineHandle);
        }
        Ok(self.completion.caps(line))
    }

    /// lineGetLineDevStatus for `line`.
    pub fn line_status(&self, line: &str) -> Result<LineStatus, LineErr> {
        let calls = self.line_calls(line)?;
        Ok(LineStatus {
            num_call_completions: self.completion.count(line),
            num_calls: u32::try_from(calls.len()).unwrap_or(u32::MAX),
            in_call: calls.iter().any(|c| c.leg_open),
            registered: self.completion.registered(line),
        })
    }

    /// The modes that lineCompleteCall would accept on call `id` now, as far as the call and
    /// the address go (DESIGN §2.1 steps 2-4; the limits of steps 6-7 are not looked at).
    pub fn completable_modes(&self, id: CallId) -> Vec<CompletionMode> {
        let Some(call) = self.calls.get(&id) else {
            return Vec::new();
        };
        let conds = &self.completion.config().conds;
        let target = self.target_of(call);
        let ok = self.completion.max_call_completions(&call.line) > 0
            && target.is_some()
            && condition_of(call).is_some_and(|c| conds.contains(&c));
        let Some(target) = target.filter(|_| ok) else {
            return Vec::new();
        };
        let offered = self.completion.offered_modes();
        call.completable_modes()
            .into_iter()
            .filter(|m| offered.contains(m))
            .filter(|m| target.line().is_some() || *m == CompletionMode::Callback)
            .filter(|m| {
                m.needs() != Needs::JoinableCall
                    || target.line().and_then(|t| self.joinable_call(t)).is_some()
            })
            .collect()
    }

    /// The newest outgoing call of `line` that a request in `mode` could still be made on
    /// (its offer window open), to callee line `target` when given: the call a dialled
    /// feature code or an RFC 6910 SUBSCRIBE completes.
    pub fn last_completable_call(
        &self,
        line: &str,
        target: Option<&str>,
        mode: CompletionMode,
    ) -> Option<CallId> {
        self.line_calls(line)
            .ok()?
            .into_iter()
            .filter(|c| c.direction == crate::Direction::Out)
            .filter(|c| target.is_none_or(|t| self.target_of(c).is_some_and(|o| o == t)))
            .filter(|c| self.completable_modes(c.id).contains(&mode))
            .max_by_key(|c| (c.created, c.id))
            .map(|c| c.id)
    }

    /// LINECALLSTATUS `dwCallFeatures`/`dwCallFeatures2` of call `id`: COMPLETECALL exactly
    /// when [`Switch::completable_modes`] is not empty.
    pub fn call_features(&self, id: CallId) -> CallFeatures {
        CallFeatures::from_modes(&self.completable_modes(id))
    }

    /// lineCompleteCall: asks to complete call `call_id` in `mode` (a `LINECALLCOMPLMODE_*`
    /// value), with predefined message `message_id` for mode `message`, and accepts at once:
    /// [`Switch::prepare_completion`] then [`Switch::commit_completion`], for a caller with no
    /// store to wait for.
    ///
    /// `requester` is the line acting, or `None` for the server's own API (which owns every
    /// call). The checks run in DESIGN §2.1's order; a refusal changes nothing and emits
    /// nothing (the error is the synchronous answer). On success the original call follows
    /// the mode (DESIGN §2.2): `callback` and `message` end it at once (idle; a held or still
    /// ringing SIP leg is ended through an action), `campon` leaves it `busy` with its leg held.
    pub fn complete_call(
        &mut self,
        requester: Option<&str>,
        call_id: u32,
        mode: u32,
        message_id: u32,
        now: Time,
    ) -> Result<Accepted, LineErr> {
        let prepared = self.prepare_completion(requester, call_id, mode, message_id, now)?;
        self.commit_completion(prepared.id, now)
    }

    /// The first half of a durable lineCompleteCall: runs every check and builds the request
    /// (id, queue place, deadlines) without changing anything anyone can see. The request
    /// holds its id and counts against the line's and the callee's limits until
    /// [`Switch::commit_completion`] (once it is stored) or [`Switch::abandon_completion`]
    /// (once storing it failed); a second request on the same call meanwhile is
    /// `INVALCALLSTATE`, as it would be once the first is accepted.
    pub fn prepare_completion(
        &mut self,
        requester: Option<&str>,
        call_id: u32,
        mode: u32,
        message_id: u32,
        now: Time,
    ) -> Result<CompletionRequest, LineErr> {
        let call = CallId::new(call_id).and_then(|id| self.calls.get(&id));
        let target = call.and_then(|c| self.target_of(c));
        let joinable = target
            .as_ref()
            .and_then(CompletionTarget::line)
            .and_then(|t| self.joinable_call(t));
        let ask = Ask {
            requester,
            call,
            target: target.as_ref(),
            mode,
            message_id,
            joinable,
        };
        let config = self.completion.config();
        let valid = validate(
            &ask,
            self.completion.offered_modes(),
            &config.conds,
            config.completion_messages.len(),
            &self.completion,
        );
        // A call with a request on its way to the store is as good as completed: step 4
        // (INVALCALLSTATE) comes before the limits of steps 6 and 7.
        let pending = call.is_some_and(|c| {
            self.completion
                .pending
                .values()
                .any(|r| r.call == Some(c.id))
        });
        let valid = match valid {
            Ok(_) | Err(LineErr::CompletionOverrun | LineErr::ResourceUnavail) if pending => {
                return Err(LineErr::InvalCallState);
            }
            other => other?,
        };
        let (Some(call), Some(target)) = (call.cloned(), target) else {
            return Err(LineErr::OperationFailed);
        };
        let id = self.completion.allocate()?;
        let held_call = valid.mode.holds_caller_leg().then_some(call.call_ref);
        let request = self.completion.build(
            id,
            valid,
            Caller::Line(call.line.clone()),
            &target,
            Some(call.id),
            held_call,
            now,
        );
        self.completion.pending.insert(id, request.clone());
        Ok(request)
    }

    /// The second half: request `id` (from [`Switch::prepare_completion`]) is stored, so it is
    /// accepted now: the original call follows the mode and the events go out (`reply`,
    /// `numcompletions`, `completion queued`, …). A camp-on whose caller let go of its held leg
    /// meanwhile is refused with `INVALCALLSTATE` (and forgotten); a `callback` or `message`
    /// stands even if the call's offer window closed meanwhile.
    pub fn commit_completion(&mut self, id: CompletionId, now: Time) -> Result<Accepted, LineErr> {
        let request = self
            .completion
            .pending
            .remove(&id)
            .ok_or(LineErr::InvalCompletionId)?;
        let call = request
            .call
            .and_then(|c| self.calls.get(&c))
            .filter(|c| condition_of(c).is_some())
            .cloned();
        let held = call
            .as_ref()
            .is_some_and(|c| c.completable_modes().contains(&request.mode));
        let mut out = Vec::new();
        match (request.mode.original_call(), call) {
            (OriginalCall::Ends, Some(call)) => self.end_original(&call, now, &mut out),
            (OriginalCall::Ends, None) => {}
            // The held leg must still be there.
            (OriginalCall::StaysHeld, _) if held => {}
            // So must the callee's call to join.
            (OriginalCall::Joins, _)
                if held && self.joinable_call(request.target.key()) == request.joins => {}
            (OriginalCall::StaysHeld | OriginalCall::Joins, _) => {
                return Err(LineErr::InvalCallState)
            }
        }
        self.completion.insert(request, now);
        self.drain_engine(now, &mut out);
        Ok(Accepted { id, events: out })
    }

    /// Storing request `id` failed (or [`Switch::commit_completion`] refused it): it is
    /// forgotten, and the only event is the `reply` carrying `error`, as LINE_REPLY would.
    pub fn abandon_completion(
        &mut self,
        id: CompletionId,
        error: LineErr,
        now: Time,
    ) -> Vec<Event> {
        let mut out = Vec::new();
        let request = self.completion.pending.remove(&id);
        let (line, call) = match &request {
            Some(r) => (r.speaking_line().to_owned(), r.call),
            None => return out,
        };
        let reply = Reply {
            request: ReplyTo::CompleteCall,
            line,
            call_id: call,
            completion_id: id,
            result: error.value(),
        };
        self.push(EventKind::Reply(reply), now, &mut out);
        out
    }

    /// The checks of [`Switch::uncomplete_call`], changing nothing: lets a server store the
    /// cancel before it is applied.
    pub fn check_uncomplete(&self, line: &str, completion_id: u32) -> Result<(), LineErr> {
        if !self.lines.contains_key(line) {
            return Err(LineErr::InvalLineHandle);
        }
        CompletionId::new(completion_id)
            .and_then(|id| self.completion.request(id))
            .filter(|r| r.speaking_line() == line)
            .map(|_| ())
            .ok_or(LineErr::InvalCompletionId)
    }

    /// lineUncompleteCall: cancels request `completion_id` of `line` (DESIGN §2.4).
    ///
    /// `INVALLINEHANDLE` for an unknown line; `INVALCOMPLETIONID` unless the id is outstanding
    /// on that line. The request never fires after this; a recall ringing is stopped and a
    /// camp-on's held caller gets 486 (actions). Emits `reply`, `completion cancelled` (cause
    /// `uncompleted`) and `numcompletions`, but no `complcancel`.
    pub fn uncomplete_call(
        &mut self,
        line: &str,
        completion_id: u32,
        now: Time,
    ) -> Result<Vec<Event>, LineErr> {
        if !self.lines.contains_key(line) {
            return Err(LineErr::InvalLineHandle);
        }
        self.completion.uncomplete(line, completion_id, now)?;
        let mut out = Vec::new();
        self.drain_engine(now, &mut out);
        Ok(out)
    }

    /// Applies a fact the server learned outside the call flow (registrations, dialog state,
    /// suspend/resume, recall and message outcomes); a refused fact changes nothing.
    pub fn completion_fact(
        &mut self,
        fact: CompletionFact,
        now: Time,
    ) -> Result<Vec<Event>, CompletionFactError> {
        let line = match &fact {
            CompletionFact::Registered { line }
            | CompletionFact::Unregistered { line }
            | CompletionFact::CalleeDialogIdle { line }
            | CompletionFact::LineRemoved { line } => Some(line),
            _ => None,
        };
        if let Some(line) = line.filter(|l| !self.lines.contains_key(*l)) {
            return Err(CompletionFactError::UnknownLine(line.clone()));
        }
        self.completion.fact(fact, now)?;
        let mut out = Vec::new();
        self.drain_engine(now, &mut out);
        Ok(out)
    }

    /// The outstanding request with this id.
    pub fn completion(&self, id: CompletionId) -> Option<&CompletionRequest> {
        self.completion.request(id)
    }

    /// The outstanding requests of `line`, by id; `INVALLINEHANDLE` for an unknown line.
    pub fn completions_of(&self, line: &str) -> Result<Vec<&CompletionRequest>, LineErr> {
        if !self.lines.contains_key(line) {
            return Err(LineErr::InvalLineHandle);
        }
        Ok(self.completion.requests_of(line))
    }

    /// The requests waiting on `callee`: its queue oldest first, then undelivered messages.
    pub fn completions_for(&self, callee: &str) -> Vec<&CompletionRequest> {
        self.completion.requests_for(callee)
    }

    /// The 1-based queue position of request `id` (`None` for messages and unknown ids).
    pub fn queue_position(&self, id: CompletionId) -> Option<u32> {
        self.completion.position(id)
    }

    /// Whether a new call from line `caller` (or `None` for anyone else) to `callee` must be
    /// answered busy because `callee` is reserved for a waiting caller (guard or recall).
    pub fn is_reserved(&self, callee: &str, caller: Option<&str>) -> bool {
        let caller = caller.map(|l| Caller::Line(l.to_owned()));
        self.completion.is_reserved(callee, caller.as_ref())
    }

    /// [`Switch::is_reserved`] for any caller: a line or a trunk's subscriber (whose CC call
    /// comes over the trunk).
    pub fn is_reserved_for(&self, callee: &str, caller: Option<&Caller>) -> bool {
        self.completion.is_reserved(callee, caller)
    }

    /// Every outstanding request, for the store.
    pub fn export_completions(&self) -> Snapshot {
        self.completion.export()
    }

    /// Loads requests saved by [`Switch::export_completions`] into a switch that has none.
    /// What cannot come back ends with `complcancel` at the first [`Switch::on_timer`] at or
    /// after `now` (which [`Switch::next_deadline`] announces).
    pub fn import_completions(&mut self, snapshot: Snapshot, now: Time) -> Result<(), ImportError> {
        let lines = &self.lines;
        self.completion
            .import(snapshot, |l| lines.contains_key(l), now)
    }

    /// The call of `callee` an intrusion could join (DESIGN §2.2): `callee` is `intrudable`
    /// and has a connected call through callcomp that nobody joined or is joining; the
    /// oldest if it has several.
    pub(crate) fn joinable_call(&self, callee: &str) -> Option<CallRef> {
        if !self.completion.intrudable(callee) {
            return None;
        }
        self.calls
            .values()
            .filter(|c| c.line == callee && c.state == CallState::Connected && c.leg_open)
            .filter(|c| c.reason != CallReason::Intrude)
            .map(|c| c.call_ref)
            .find(|r| {
                self.sessions
                    .get(r)
                    .is_some_and(|s| s.phase == Phase::Connected)
                    && !self.completion.joining(*r)
            })
    }

    /// The callee of an outgoing call: the line it was offered to, the line whose name or
    /// address it dialled, or the remote party whose monitor offered completion (a trunk
    /// call, [`Switch::set_remote_target`]).
    pub(crate) fn target_of(&self, call: &Call) -> Option<CompletionTarget> {
        if let Some(t) = self.targets.get(&call.id) {
            return Some(CompletionTarget::Line(t.clone()));
        }
        if let Some(r) = self.remote_targets.get(&call.id) {
            return Some(CompletionTarget::Remote(r.clone()));
        }
        if self.lines.contains_key(&call.remote) {
            return Some(CompletionTarget::Line(call.remote.clone()));
        }
        self.by_address
            .get(&call.remote)
            .cloned()
            .map(CompletionTarget::Line)
    }

    /// The B2BUA's call `call` went out over a trunk and is failing with the remote monitor's
    /// offer (RFC 6910 §7.1): its caller's call may be completed toward `target`. Call it
    /// before the `Failed` fact. `false` (nothing kept) if the call has no caller's line.
    pub fn set_remote_target(&mut self, call: CallRef, target: RemoteTarget) -> bool {
        let Some(caller) = self.sessions.get(&call).and_then(|s| s.caller) else {
            return false;
        };
        self.remote_targets.insert(caller, target);
        true
    }

    /// `callback` / `message` accepted: the original call goes idle now, ending a held caller
    /// leg (486) or a ringing attempt (CANCEL, 480) through an action.
    fn end_original(&mut self, call: &Call, now: Time, out: &mut Vec<Event>) {
        if let Some(s) = self.sessions.remove(&call.call_ref) {
            match s.phase {
                Phase::Held => self.actions.push(Action::ReleaseCaller {
                    call: call.call_ref,
                }),
                Phase::Setup | Phase::Connected => {
                    self.actions.push(Action::CancelRinging {
                        call: call.call_ref,
                    });
                }
            }
            self.enter(call.id, CallState::Idle, None, now, out);
            if let Some(callee) = s.callee {
                let mode = Some(StateMode::Disconnected(DisconnectMode::Cancelled));
                self.enter(callee, CallState::Disconnected, mode, now, out);
                self.enter(callee, CallState::Idle, None, now, out);
            }
        } else {
            self.enter(call.id, CallState::Idle, None, now, out);
        }
    }
}
