//! The completion engine: outstanding requests, per-callee queues, availability, the guard and
//! reservation, recalls, expiries (DESIGN §2.2-§2.4).
//!
//! The engine is owned by [`crate::Switch`] and driven by it: the switch validates and accepts
//! requests, tells the engine when a line's phone opens or closes a SIP leg (which is how the
//! engine knows who is busy or free and when a callee's call ends), and passes on the
//! [`CompletionFact`]s from the server. The engine never touches a call itself: it queues
//! [`Out`] items (events to number, actions for the server, changes to a call) that the switch
//! applies in order, so one sequence counter covers every event.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::call::{CallId, CallRef, IdAllocator};
use crate::completion::caps::{AddressCaps, CompletionConfig, LineLimits};
use crate::completion::events::{CompletionEvent, CompletionPhase, LineDevState, Reply, ReplyTo};
use crate::completion::io::{Action, CompletionFact, CompletionFactError};
use crate::completion::queue::CalleeQueue;
use crate::completion::request::{CancelCause, CompletionId, CompletionRequest, RequestState};
use crate::completion::validate::{Limits, Valid};
use crate::events::EventKind;
use crate::tapi::{CompletionCond, CompletionMode, LineErr};
use crate::time::Time;

/// How long the callee stays reserved after a request fired, waiting for the server to open
/// the callee's leg (the camp-on INVITE, the recall's second leg).
pub const CONNECT_GRACE: Duration = Duration::from_secs(5);

/// What the engine hands the switch to apply, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Out {
    /// An event to number and emit.
    Event(EventKind),
    /// An action for the server.
    Action(Action),
    /// A camped-on call whose request ended unfired: it goes idle (the server sends 486).
    EndCall(CallId),
    /// A camp-on fired: the call gets reason `callcompletion` with the id and proceeds.
    FireCampOn {
        /// The camped-on call.
        call: CallId,
        /// The request.
        id: CompletionId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    Expiry(CompletionId),
    Ring(CompletionId),
    Hold(String),
}

/// What a line is doing, as far as completion cares.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineState {
    /// Open SIP legs of the line's phone through callcomp.
    pub(crate) open_legs: u32,
    /// `None` until the server says; only `Some(false)` blocks.
    pub(crate) registered: Option<bool>,
    /// The line's outstanding requests, by id.
    pub(crate) requests: BTreeSet<CompletionId>,
}

/// A callee: its queue, its pending messages, and its reservation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Callee {
    pub(crate) queue: CalleeQueue,
    pub(crate) messages: BTreeSet<CompletionId>,
    pub(crate) hold: Option<Hold>,
}

/// The callee is reserved for one caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hold {
    pub(crate) request: CompletionId,
    pub(crate) caller: String,
    pub(crate) phase: HoldPhase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HoldPhase {
    /// The guard runs until then; the request is `ready`.
    Guard(Time),
    /// The caller is being rung back.
    Recall,
    /// The request fired; the callee's leg should open before then.
    Connecting(Time),
}

/// How a request ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Completed,
    Cancelled(CancelCause),
}

/// The completion engine (see the module doc).
#[derive(Debug)]
pub struct Engine {
    pub(crate) config: CompletionConfig,
    pub(crate) offered: Vec<CompletionMode>,
    pub(crate) limits: HashMap<String, LineLimits>,
    pub(crate) requests: HashMap<CompletionId, CompletionRequest>,
    pub(crate) lines: HashMap<String, LineState>,
    pub(crate) callees: HashMap<String, Callee>,
    pub(crate) deadlines: BTreeSet<(Time, Timer)>,
    pub(crate) ids: IdAllocator,
    pub(crate) next_seq: u64,
    pub(crate) out: Vec<Out>,
    /// After an import: when the first timer tick should settle what came back.
    pub(crate) settle_at: Option<Time>,
    pub(crate) doomed: Vec<(CompletionId, CancelCause)>,
}

impl Engine {
    /// An engine with no request.
    pub fn new(config: CompletionConfig) -> Engine {
        Engine {
            offered: config.offered_modes(),
            config,
            limits: HashMap::new(),
            requests: HashMap::new(),
            lines: HashMap::new(),
            callees: HashMap::new(),
            deadlines: BTreeSet::new(),
            ids: IdAllocator::new(),
            next_seq: 1,
            out: Vec::new(),
            settle_at: None,
            doomed: Vec::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &CompletionConfig {
        &self.config
    }

    /// The modes every address offers.
    pub fn offered_modes(&self) -> &[CompletionMode] {
        &self.offered
    }

    /// Sets the per-line overrides of `line`.
    pub fn set_limits(&mut self, line: &str, limits: LineLimits) {
        self.limits.insert(line.to_owned(), limits);
    }

    /// The address caps of `line`.
    pub fn caps(&self, line: &str) -> AddressCaps {
        AddressCaps::new(
            &self.offered,
            &self.config.conds,
            self.max_call_completions(line),
            &self.config.completion_messages,
        )
    }

    /// The outstanding requests of `line`.
    pub fn count(&self, line: &str) -> u32 {
        self.lines
            .get(line)
            .map_or(0, |l| u32::try_from(l.requests.len()).unwrap_or(u32::MAX))
    }

    /// The request with this id, if outstanding.
    pub fn request(&self, id: CompletionId) -> Option<&CompletionRequest> {
        self.requests.get(&id)
    }

    /// The outstanding requests of `line`, by id.
    pub fn requests_of(&self, line: &str) -> Vec<&CompletionRequest> {
        self.lines.get(line).map_or_else(Vec::new, |l| {
            l.requests
                .iter()
                .filter_map(|id| self.requests.get(id))
                .collect()
        })
    }

    /// The requests waiting on `callee`: its queue oldest first, then its undelivered messages.
    pub fn requests_for(&self, callee: &str) -> Vec<&CompletionRequest> {
        let Some(c) = self.callees.get(callee) else {
            return Vec::new();
        };
        c.queue
            .iter()
            .chain(c.messages.iter().copied())
            .filter_map(|id| self.requests.get(&id))
            .collect()
    }

    /// The 1-based place of request `id` in its callee's queue (`None` for messages).
    pub fn position(&self, id: CompletionId) -> Option<u32> {
        let r = self.requests.get(&id)?;
        self.callees.get(&r.target)?.queue.position(r.seq)
    }

    /// Whether a call from `caller` (a line name, or `None` for anyone else) to `callee` must
    /// be answered busy because the callee is reserved for a waiting request (guard, recall).
    pub fn is_reserved(&self, callee: &str, caller: Option<&str>) -> bool {
        self.callees
            .get(callee)
            .and_then(|c| c.hold.as_ref())
            .is_some_and(|h| caller != Some(h.caller.as_str()))
    }

    /// The earliest pending deadline.
    pub fn next_deadline(&self) -> Option<Time> {
        let first = self.deadlines.first().map(|(t, _)| *t);
        match (first, self.settle_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn take_out(&mut self) -> Vec<Out> {
        std::mem::take(&mut self.out)
    }

    /// A fresh completion id; `RESOURCEUNAVAIL` if every id is in use.
    pub(crate) fn allocate(&mut self) -> Result<CompletionId, LineErr> {
        let requests = &self.requests;
        self.ids
            .allocate(requests.len(), |n| {
                CompletionId::new(n).is_some_and(|id| requests.contains_key(&id))
            })
            .and_then(|n| CompletionId::new(n.get()))
            .ok_or(LineErr::ResourceUnavail)
    }

    /// Records an accepted request and emits `reply`, `numcompletions` and `completion queued`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert(
        &mut self,
        id: CompletionId,
        valid: Valid,
        line: &str,
        target: &str,
        call: CallId,
        campon_call: Option<CallRef>,
        now: Time,
    ) {
        let expiry = match valid.mode {
            CompletionMode::Campon => {
                now + self
                    .config
                    .expiry(valid.condition)
                    .min(self.config.campon_max)
            }
            _ => now + self.config.expiry(valid.condition),
        };
        let condition_met = match valid.condition {
            CompletionCond::Busy => self.in_call(target),
            CompletionCond::Noanswer => false,
            CompletionCond::Notregistered => self.registered(target) == Some(true),
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let r = CompletionRequest {
            id,
            line: line.to_owned(),
            target: target.to_owned(),
            mode: valid.mode,
            condition: valid.condition,
            message_id: valid.message_id,
            state: RequestState::Queued,
            created: now,
            expiry,
            call,
            campon_call,
            seq,
            condition_met,
            waiting_since: now,
            suspended_by_caller: false,
            recall_until: None,
        };
        self.deadlines.insert((expiry, Timer::Expiry(id)));
        self.enqueue(r);
        let count = self.count(line);
        self.event(EventKind::Reply(Reply {
            request: ReplyTo::CompleteCall,
            line: line.to_owned(),
            call_id: Some(call),
            completion_id: id,
            result: 0,
        }));
        self.event(EventKind::LineDevState(LineDevState::num_completions(
            line, count,
        )));
        self.phase(id, CompletionPhase::Queued);
        if valid.mode == CompletionMode::Message {
            self.deliver(id);
        } else {
            self.select(target, now);
        }
    }

    /// lineUncompleteCall after the line was checked: `INVALCOMPLETIONID` unless `id` is
    /// outstanding on `line`.
    pub(crate) fn uncomplete(&mut self, line: &str, id: u32, now: Time) -> Result<(), LineErr> {
        let r = CompletionId::new(id)
            .and_then(|id| self.requests.get(&id))
            .filter(|r| r.line == line)
            .ok_or(LineErr::InvalCompletionId)?;
        let id = r.id;
        self.event(EventKind::Reply(Reply {
            request: ReplyTo::UncompleteCall,
            line: line.to_owned(),
            call_id: None,
            completion_id: id,
            result: 0,
        }));
        self.abort(id, CancelCause::Uncompleted, now);
        Ok(())
    }

    /// Applies a completion fact.
    pub(crate) fn fact(
        &mut self,
        fact: CompletionFact,
        now: Time,
    ) -> Result<(), CompletionFactError> {
        let kind = fact.kind();
        match fact {
            CompletionFact::Registered { line } => self.set_registered(&line, true, now),
            CompletionFact::Unregistered { line } => self.set_registered(&line, false, now),
            CompletionFact::CalleeDialogIdle { line } => {
                self.condition_event(&line, |r| r.condition == CompletionCond::Busy);
                self.select(&line, now);
            }
            CompletionFact::LineRemoved { line } => self.remove_line(&line, now),
            CompletionFact::Suspend { id } => {
                let r = self.get(id)?;
                if r.suspended_by_caller {
                    return Ok(());
                }
                let state = r.state;
                if let Some(r) = self.requests.get_mut(&id) {
                    r.suspended_by_caller = true;
                }
                match state {
                    RequestState::Queued | RequestState::Ready | RequestState::Recalling => {
                        self.unselect(id, RequestState::Suspended, now);
                    }
                    RequestState::Suspended => {}
                }
            }
            CompletionFact::Resume { id } => {
                let r = self.get(id)?;
                if !r.suspended_by_caller {
                    return Ok(());
                }
                let target = r.target.clone();
                if let Some(r) = self.requests.get_mut(&id) {
                    r.suspended_by_caller = false;
                }
                self.resume_one(id);
                self.select(&target, now);
            }
            CompletionFact::RecallAnswered { id } => {
                self.expect(id, kind, RequestState::Recalling, None)?;
                if let Some(r) = self.requests.get_mut(&id) {
                    if let Some(until) = r.recall_until.take() {
                        self.deadlines.remove(&(until, Timer::Ring(id)));
                    }
                }
            }
            CompletionFact::RecallUnanswered { id } => {
                self.expect(id, kind, RequestState::Recalling, None)?;
                self.end(id, End::Cancelled(CancelCause::RecallUnanswered), now);
            }
            CompletionFact::RecallFailed { id } => {
                self.expect(id, kind, RequestState::Recalling, None)?;
                self.end(id, End::Cancelled(CancelCause::RecallFailed), now);
            }
            CompletionFact::RecallConnected { id } => {
                self.expect(id, kind, RequestState::Recalling, None)?;
                // The callee stays reserved until the recall's leg to it opens.
                if let Some(r) = self.requests.get(&id) {
                    let (target, caller) = (r.target.clone(), r.line.clone());
                    let until = now + CONNECT_GRACE;
                    self.hold(&target, id, caller, HoldPhase::Connecting(until));
                }
                self.end(id, End::Completed, now);
            }
            CompletionFact::RecallCalleeBusy { id } => {
                self.expect(id, kind, RequestState::Recalling, None)?;
                self.retain(id, now);
            }
            CompletionFact::MessageDelivered { id } => {
                self.expect(id, kind, RequestState::Ready, Some(CompletionMode::Message))?;
                self.end(id, End::Completed, now);
            }
            CompletionFact::MessageFailed { id } => {
                self.expect(id, kind, RequestState::Ready, Some(CompletionMode::Message))?;
                self.set_state(id, RequestState::Queued);
            }
        }
        Ok(())
    }

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
            .filter(|r| {
                r.target == callee
                    && r.mode != CompletionMode::Message
                    && r.state != RequestState::Recalling
            })
            .map(|r| r.id)
            .collect();
        for id in done {
            let campon = self
                .requests
                .get(&id)
                .and_then(|r| r.campon_call.zip(Some(r.call)));
            if let Some((call, call_id)) = campon {
                // Its held leg is a different call to the same callee: give it up.
                self.action(Action::RejectCampOn { id, call });
                self.out.push(Out::EndCall(call_id));
            }
            self.end(id, End::Completed, now);
        }
    }

    /// The caller leg of camp-on `call` on `line` ended: its request ends as `caller_released`.
    pub(crate) fn campon_released(&mut self, line: &str, call: CallId, now: Time) {
        let found = self
            .requests_of(line)
            .into_iter()
            .find(|r| r.mode == CompletionMode::Campon && r.call == call);
        if let Some(id) = found.map(|r| r.id) {
            self.end(id, End::Cancelled(CancelCause::CallerReleased), now);
        }
    }

    /// Fires what is due at `now`.
    pub(crate) fn on_timer(&mut self, now: Time) {
        if self.settle_at.is_some_and(|t| t <= now) {
            self.settle_at = None;
            for (id, cause) in std::mem::take(&mut self.doomed) {
                self.abort(id, cause, now);
            }
            let mut callees: Vec<String> = self.callees.keys().cloned().collect();
            callees.sort();
            for callee in callees {
                self.select(&callee, now);
            }
        }
        while let Some((at, timer)) = self.deadlines.first().cloned() {
            if at > now {
                break;
            }
            self.deadlines.remove(&(at, timer.clone()));
            match timer {
                Timer::Expiry(id) => self.expire(id, at, now),
                Timer::Ring(id) => {
                    let due = self.requests.get(&id).is_some_and(|r| {
                        r.state == RequestState::Recalling && r.recall_until == Some(at)
                    });
                    if due {
                        self.action(Action::CancelRecall { id });
                        self.end(id, End::Cancelled(CancelCause::RecallUnanswered), now);
                    }
                }
                Timer::Hold(callee) => {
                    let phase = self
                        .callees
                        .get(&callee)
                        .and_then(|c| c.hold.as_ref())
                        .map(|h| h.phase);
                    match phase {
                        Some(HoldPhase::Guard(t)) if t == at => self.guard_over(&callee, now),
                        Some(HoldPhase::Connecting(t)) if t == at => {
                            self.release(&callee, at);
                            self.select(&callee, now);
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    fn get(&self, id: CompletionId) -> Result<&CompletionRequest, CompletionFactError> {
        self.requests
            .get(&id)
            .ok_or(CompletionFactError::UnknownCompletion(id))
    }

    fn expect(
        &self,
        id: CompletionId,
        fact: &'static str,
        state: RequestState,
        mode: Option<CompletionMode>,
    ) -> Result<(), CompletionFactError> {
        let r = self.get(id)?;
        if let Some(mode) = mode {
            if r.mode != mode {
                return Err(CompletionFactError::InvalidInState {
                    id,
                    fact,
                    state: r.mode.as_str(),
                });
            }
        }
        if r.state != state {
            return Err(CompletionFactError::InvalidInState {
                id,
                fact,
                state: r.state.as_str(),
            });
        }
        Ok(())
    }

    fn in_call(&self, line: &str) -> bool {
        self.lines.get(line).is_some_and(|l| l.open_legs > 0)
    }

    fn registered(&self, line: &str) -> Option<bool> {
        self.lines.get(line).and_then(|l| l.registered)
    }

    /// Free to take a call: no leg open and not known to be unregistered.
    fn free(&self, line: &str) -> bool {
        !self.in_call(line) && self.registered(line) != Some(false)
    }

    /// Whether `r`'s caller is free for it: a camp-on's own held leg does not count.
    fn caller_free_for(&self, r: &CompletionRequest) -> bool {
        let own = u32::from(r.mode == CompletionMode::Campon && r.campon_call.is_some());
        let legs = self.lines.get(&r.line).map_or(0, |l| l.open_legs);
        legs <= own && self.registered(&r.line) != Some(false) && !r.suspended_by_caller
    }

    fn max_queue(&self, callee: &str) -> u32 {
        self.limits
            .get(callee)
            .and_then(|l| l.max_queue)
            .unwrap_or(self.config.max_queue)
    }

    pub(crate) fn enqueue(&mut self, r: CompletionRequest) {
        let callee = self.callees.entry(r.target.clone()).or_default();
        if r.mode == CompletionMode::Message {
            callee.messages.insert(r.id);
        } else {
            callee.queue.push(r.seq, r.id);
        }
        self.lines
            .entry(r.line.clone())
            .or_default()
            .requests
            .insert(r.id);
        self.requests.insert(r.id, r);
    }

    fn event(&mut self, kind: EventKind) {
        self.out.push(Out::Event(kind));
    }

    fn action(&mut self, action: Action) {
        self.out.push(Out::Action(action));
    }

    /// Emits `completion` for `id` entering `phase`.
    fn phase(&mut self, id: CompletionId, phase: CompletionPhase) {
        let position = self.position(id);
        if let Some(r) = self.requests.get(&id) {
            let e = CompletionEvent::of(r, phase, position);
            self.event(EventKind::Completion(e));
        }
    }

    /// Moves `id` to `state` and emits `completion` if it changed.
    fn set_state(&mut self, id: CompletionId, state: RequestState) {
        let Some(r) = self.requests.get_mut(&id) else {
            return;
        };
        if r.state == state {
            return;
        }
        r.state = state;
        let phase = match state {
            RequestState::Queued => CompletionPhase::Queued,
            RequestState::Suspended => CompletionPhase::Suspended,
            RequestState::Ready => CompletionPhase::Ready,
            RequestState::Recalling => CompletionPhase::Recalling,
        };
        self.phase(id, phase);
    }

    /// Marks the condition met for the not-yet-met queued requests on `callee` that `hit` picks.
    fn condition_event(&mut self, callee: &str, hit: impl Fn(&CompletionRequest) -> bool) {
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

    /// Picks the next eligible request of `callee` if the callee is free and not reserved:
    /// callers that are not free are suspended on the way (DESIGN §2.3).
    fn select(&mut self, callee: &str, now: Time) {
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
            let caller = r.line.clone();
            let until = now + self.config.guard;
            self.hold(callee, id, caller, HoldPhase::Guard(until));
            self.set_state(id, RequestState::Ready);
            if until <= now {
                self.guard_over(callee, now);
            }
            return;
        }
    }

    fn hold(&mut self, callee: &str, request: CompletionId, caller: String, phase: HoldPhase) {
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
    fn release(&mut self, callee: &str, at: Time) {
        if let Some(c) = self.callees.get_mut(callee) {
            c.hold = None;
        }
        self.deadlines.remove(&(at, Timer::Hold(callee.to_owned())));
    }

    fn release_any(&mut self, callee: &str) {
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
    fn guard_over(&mut self, callee: &str, now: Time) {
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
        match mode {
            CompletionMode::Campon => {
                let (call, campon) = (r.call, r.campon_call);
                let until = now + CONNECT_GRACE;
                self.hold(callee, id, hold.caller, HoldPhase::Connecting(until));
                self.out.push(Out::FireCampOn { call, id });
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
                self.action(Action::Recall {
                    id,
                    caller: hold.caller,
                    callee: callee.to_owned(),
                });
            }
        }
    }

    /// Takes a selected or recalling request back to `state` (queued or suspended), freeing the
    /// callee for the next one.
    fn unselect(&mut self, id: CompletionId, state: RequestState, now: Time) {
        let Some(r) = self.requests.get_mut(&id) else {
            return;
        };
        let was = r.state;
        let target = r.target.clone();
        if let Some(until) = r.recall_until.take() {
            self.deadlines.remove(&(until, Timer::Ring(id)));
        }
        if was == RequestState::Recalling {
            self.action(Action::CancelRecall { id });
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

    /// Retention: the recall found the callee busy; the request waits again in its place.
    fn retain(&mut self, id: CompletionId, now: Time) {
        let Some(r) = self.requests.get(&id) else {
            return;
        };
        let (target, expiry) = (r.target.clone(), r.expiry);
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
    fn deliver(&mut self, id: CompletionId) {
        let Some(r) = self.requests.get(&id) else {
            return;
        };
        if self.registered(&r.target) == Some(false) || r.state != RequestState::Queued {
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
            to: r.target.clone(),
            from: r.line.clone(),
            text,
        };
        self.set_state(id, RequestState::Ready);
        self.action(action);
    }

    fn set_registered(&mut self, line: &str, registered: bool, now: Time) {
        let ls = self.lines.entry(line.to_owned()).or_default();
        let was = ls.registered;
        ls.registered = Some(registered);
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
    fn caller_free(&mut self, line: &str, now: Time) {
        let ids: Vec<CompletionId> = self
            .lines
            .get(line)
            .map(|l| l.requests.iter().copied().collect())
            .unwrap_or_default();
        let mut targets = Vec::new();
        for id in ids {
            if self.resume_one(id) {
                if let Some(r) = self.requests.get(&id) {
                    targets.push(r.target.clone());
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
    fn resume_one(&mut self, id: CompletionId) -> bool {
        let ok = self
            .requests
            .get(&id)
            .is_some_and(|r| r.state == RequestState::Suspended && self.caller_free_for(r));
        if ok {
            self.set_state(id, RequestState::Queued);
        }
        ok
    }

    fn expire(&mut self, id: CompletionId, at: Time, now: Time) {
        let Some(r) = self.requests.get(&id) else {
            return;
        };
        // A recall in progress is let finish; retention checks the expiry afterwards.
        if r.expiry != at || r.state == RequestState::Recalling {
            return;
        }
        let cause = if self.registered(&r.line) == Some(false) {
            CancelCause::CallerUnregistered
        } else {
            CancelCause::Expired
        };
        self.abort(id, cause, now);
    }

    /// Ends `id` unfired for `cause`, undoing what it holds on the SIP side (a recall ringing,
    /// a held camp-on leg).
    fn abort(&mut self, id: CompletionId, cause: CancelCause, now: Time) {
        let Some(r) = self.requests.get(&id) else {
            return;
        };
        let (state, mode, campon, call_id) = (r.state, r.mode, r.campon_call, r.call);
        if state == RequestState::Recalling {
            self.action(Action::CancelRecall { id });
        }
        if let (CompletionMode::Campon, Some(call)) = (mode, campon) {
            self.action(Action::RejectCampOn { id, call });
            self.out.push(Out::EndCall(call_id));
        }
        self.end(id, End::Cancelled(cause), now);
    }

    /// Removes `id` and emits its end; a reservation it held is released and the next
    /// request of its callee is tried.
    fn end(&mut self, id: CompletionId, how: End, now: Time) {
        let phase = match how {
            End::Completed => CompletionPhase::Completed,
            End::Cancelled(_) => CompletionPhase::Cancelled,
        };
        let position = self.position(id);
        let Some(r) = self.requests.remove(&id) else {
            return;
        };
        self.deadlines.remove(&(r.expiry, Timer::Expiry(id)));
        if let Some(until) = r.recall_until {
            self.deadlines.remove(&(until, Timer::Ring(id)));
        }
        let mut reselect = false;
        if let Some(c) = self.callees.get_mut(&r.target) {
            c.queue.remove(r.seq);
            c.messages.remove(&id);
            reselect = c
                .hold
                .as_ref()
                .is_some_and(|h| h.request == id && !matches!(h.phase, HoldPhase::Connecting(_)));
        }
        if reselect {
            self.release_any(&r.target);
        }
        if let Some(l) = self.lines.get_mut(&r.line) {
            l.requests.remove(&id);
        }
        let count = self.count(&r.line);
        let mut e = CompletionEvent::of(&r, phase, position);
        if let End::Cancelled(cause) = how {
            e.cause = Some(cause);
        }
        self.event(EventKind::Completion(e));
        if let End::Cancelled(cause) = how {
            if cause != CancelCause::Uncompleted {
                let dev = LineDevState::compl_cancel(&r.line, count, id, cause);
                self.event(EventKind::LineDevState(dev));
            }
        }
        self.event(EventKind::LineDevState(LineDevState::num_completions(
            &r.line, count,
        )));
        if reselect {
            self.select(&r.target, now);
        }
    }

    fn remove_line(&mut self, line: &str, now: Time) {
        let mut ends: Vec<(u64, CompletionId, CancelCause)> = self
            .requests
            .values()
            .filter_map(|r| {
                if r.line == line {
                    Some((r.seq, r.id, CancelCause::CallerDeleted))
                } else if r.target == line {
                    Some((r.seq, r.id, CancelCause::CalleeDeleted))
                } else {
                    None
                }
            })
            .collect();
        ends.sort_by_key(|e| e.0);
        for (_, id, cause) in ends {
            self.abort(id, cause, now);
        }
        self.lines.remove(line);
        if let Some(c) = self.callees.remove(line) {
            if let Some(HoldPhase::Guard(t) | HoldPhase::Connecting(t)) = c.hold.map(|h| h.phase) {
                self.deadlines.remove(&(t, Timer::Hold(line.to_owned())));
            }
        }
    }
}

impl Limits for Engine {
    fn max_call_completions(&self, line: &str) -> u32 {
        self.limits
            .get(line)
            .and_then(|l| l.max_call_completions)
            .unwrap_or(self.config.max_call_completions)
    }

    fn outstanding(&self, line: &str) -> u32 {
        self.count(line)
    }

    fn queue_full(&self, target: &str, mode: CompletionMode) -> bool {
        if mode == CompletionMode::Message {
            return false;
        }
        let len = self.callees.get(target).map_or(0, |c| c.queue.len());
        u32::try_from(len).map_or(true, |n| n >= self.max_queue(target))
    }
}
