//! The completion engine: outstanding requests, per-callee queues, availability, the guard and
//! reservation, recalls, expiries (DESIGN §2.2-§2.4).
//!
//! The engine is owned by [`crate::Switch`] and driven by it: the switch validates and accepts
//! requests, tells the engine when a line's phone opens or closes a SIP leg (which is how the
//! engine knows who is busy or free and when a callee's call ends), and passes on the
//! [`CompletionFact`]s from the server. The engine never touches a call itself: it queues
//! `Out` items (events to number, actions for the server, changes to a call) that the switch
//! applies in order, so one sequence counter covers every event.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use crate::call::{CallId, CallRef, IdAllocator};
use crate::completion::caller::Caller;
use crate::completion::caps::{AddressCaps, CompletionConfig, LineLimits};
use crate::completion::events::{CompletionEvent, CompletionPhase, LineDevState, Reply, ReplyTo};
use crate::completion::io::{Action, CompletionFact, CompletionFactError};
use crate::completion::mode::Fires;
use crate::completion::queue::CalleeQueue;
use crate::completion::request::{CancelCause, CompletionId, CompletionRequest, RequestState};
use crate::completion::target::CompletionTarget;
use crate::completion::validate::{Limits, Valid};
use crate::events::EventKind;
use crate::tapi::{CompletionCond, CompletionMode, LineErr};
use crate::time::Time;

/// How long the callee stays reserved after a request fired, waiting for the server to open
/// the callee's leg (the camp-on INVITE, the recall's second leg).
pub const CONNECT_GRACE: Duration = Duration::from_secs(5);

/// The longest a CC call may go without an outcome before it counts as a failed attempt: a
/// safety net above the server's longest ring (`sip.no_answer_timeout`, at most 10 minutes),
/// for a CC call the server could not even start.
pub const CC_CALL_LIMIT: Duration = Duration::from_secs(11 * 60);

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
    /// An intrusion happened: the intruder's call gets reason `callcompletion` with the id
    /// and goes `connected`; the joined call's appearances get reason `intrude`.
    Joined {
        /// The intruder's call.
        call: CallId,
        /// The request.
        id: CompletionId,
        /// The callee's call it joined.
        into: CallRef,
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
    pub(crate) caller: Caller,
    pub(crate) phase: HoldPhase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HoldPhase {
    /// The guard runs until then; the request is `ready`.
    Guard(Time),
    /// The caller is being rung back (a trunk's subscriber: its CC call is awaited).
    Recall,
    /// The request fired; the callee's leg should open before then.
    Connecting(Time),
}

/// How a request ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
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
    /// Requests accepted by validation whose store write has not committed yet: they hold
    /// their id and count against the limits, but do nothing else until committed.
    pub(crate) pending: HashMap<CompletionId, CompletionRequest>,
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
            pending: HashMap::new(),
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
        self.callees.get(r.target.key())?.queue.position(r.seq)
    }

    /// Whether a call from `caller` (a line or a trunk's subscriber, or `None` for anyone
    /// else) to `callee` must be answered busy because the callee is reserved for a waiting
    /// request (guard, recall, CC call).
    pub fn is_reserved(&self, callee: &str, caller: Option<&Caller>) -> bool {
        self.callees
            .get(callee)
            .and_then(|c| c.hold.as_ref())
            .is_some_and(|h| caller != Some(&h.caller))
    }

    /// The outstanding and pending requests of subscribers of `trunk` (its limit counts them).
    pub fn trunk_outstanding(&self, trunk: &str) -> u32 {
        let n = self
            .requests
            .values()
            .chain(self.pending.values())
            .filter(|r| r.caller.trunk().is_some_and(|t| t.trunk == trunk))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
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
        let (requests, pending) = (&self.requests, &self.pending);
        self.ids
            .allocate(requests.len() + pending.len(), |n| {
                CompletionId::new(n)
                    .is_some_and(|id| requests.contains_key(&id) || pending.contains_key(&id))
            })
            .and_then(|n| CompletionId::new(n.get()))
            .ok_or(LineErr::ResourceUnavail)
    }

    /// The request an accepted lineCompleteCall will be, built now (its queue place and
    /// deadlines taken) but not yet in any table: see [`Engine::insert`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build(
        &mut self,
        id: CompletionId,
        valid: Valid,
        caller: Caller,
        target: &CompletionTarget,
        call: Option<CallId>,
        held_call: Option<CallRef>,
        now: Time,
    ) -> CompletionRequest {
        let lifetime = self.config.expiry(valid.condition);
        // A held INVITE waits no longer than `campon_max`.
        let expiry = if valid.mode.holds_caller_leg() {
            now + lifetime.min(self.config.campon_max)
        } else {
            now + lifetime
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        CompletionRequest {
            id,
            caller,
            target: target.clone(),
            mode: valid.mode,
            condition: valid.condition,
            message_id: valid.message_id,
            state: RequestState::Queued,
            created: now,
            expiry,
            call,
            held_call,
            joins: valid.joins,
            seq,
            condition_met: self.condition_met(valid.condition, target),
            waiting_since: now,
            suspended_by_caller: false,
            recall_until: None,
            recall_failures: 0,
            caller_found_busy: false,
        }
    }

    /// Records an accepted request and emits `reply`, `numcompletions` and `completion queued`.
    pub(crate) fn insert(&mut self, mut r: CompletionRequest, now: Time) {
        r.condition_met = self.condition_met(r.condition, &r.target);
        let (id, mode, call, expiry) = (r.id, r.mode, r.call, r.expiry);
        let (line, target) = (r.line().map(str::to_owned), r.target.key().to_owned());
        self.deadlines.insert((expiry, Timer::Expiry(id)));
        self.enqueue(r);
        // A trunk's subscriber has no line: its request shows only in `completion` events.
        if let Some(line) = line {
            let count = self.count(&line);
            self.event(EventKind::Reply(Reply {
                request: ReplyTo::CompleteCall,
                line: line.clone(),
                call_id: call,
                completion_id: id,
                result: 0,
            }));
            self.event(EventKind::LineDevState(LineDevState::num_completions(
                &line, count,
            )));
        }
        self.phase(id, CompletionPhase::Queued);
        match mode.fires() {
            Fires::Delivery => self.deliver(id),
            Fires::CalleeFree(_) => self.select(&target, now),
            Fires::AtOnce => self.intrude(id),
        }
    }

    /// An intrusion was accepted: the server joins it now.
    fn intrude(&mut self, id: CompletionId) {
        let Some(r) = self.requests.get(&id) else {
            return;
        };
        let (Some(call), Some(into)) = (r.held_leg(), r.joins) else {
            return;
        };
        self.set_state(id, RequestState::Ready);
        self.action(Action::Intrude { id, call, into });
    }

    /// Whether an outstanding or pending request joins (or is about to join) call `into`.
    pub(crate) fn joining(&self, into: CallRef) -> bool {
        self.requests
            .values()
            .chain(self.pending.values())
            .any(|r| r.joins == Some(into))
    }

    /// Whether `line` may be intruded on (`intrudable`, true unless configured otherwise).
    pub fn intrudable(&self, line: &str) -> bool {
        self.limits
            .get(line)
            .and_then(|l| l.intrudable)
            .unwrap_or(true)
    }

    /// Whether `condition` is already met for `target` (the callee's call in progress, a
    /// `notregistered` callee registered again).
    fn condition_met(&self, condition: CompletionCond, target: &CompletionTarget) -> bool {
        // A remote callee's availability comes only from its monitor's NOTIFY.
        let Some(target) = target.line() else {
            return false;
        };
        match condition {
            CompletionCond::Busy => self.in_call(target),
            CompletionCond::Noanswer => false,
            CompletionCond::Notregistered => self.registered(target) == Some(true),
        }
    }

    /// lineUncompleteCall after the line was checked: `INVALCOMPLETIONID` unless `id` is
    /// outstanding on `line` (the line speaking for it: a trunk subscriber's callee).
    pub(crate) fn uncomplete(&mut self, line: &str, id: u32, now: Time) -> Result<(), LineErr> {
        let r = CompletionId::new(id)
            .and_then(|id| self.requests.get(&id))
            .filter(|r| r.speaking_line() == line)
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
                let target = r.target.key().to_owned();
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
                self.recall_attempt_failed(id, CancelCause::RecallUnanswered, now);
            }
            CompletionFact::RecallFailed { id } => {
                self.expect(id, kind, RequestState::Recalling, None)?;
                self.end(id, End::Cancelled(CancelCause::RecallFailed), now);
            }
            CompletionFact::RecallConnected { id } => {
                self.expect(id, kind, RequestState::Recalling, None)?;
                // The callee stays reserved until the recall's leg to it opens; if the server
                // already reported that leg (it offers the callee's side before the phone
                // alerts), the reservation is over now.
                if let Some(r) = self.requests.get(&id) {
                    let (target, caller) = (r.target.key().to_owned(), r.caller.clone());
                    let leg_open = self.lines.get(&target).is_some_and(|l| l.open_legs > 0);
                    if leg_open {
                        self.release_any(&target);
                    } else {
                        let until = now + CONNECT_GRACE;
                        self.hold(&target, id, caller, HoldPhase::Connecting(until));
                    }
                }
                self.end(id, End::Completed, now);
            }
            CompletionFact::CcCall { id } => {
                let r = self.get(id)?;
                let state = r.state;
                match state {
                    RequestState::Ready | RequestState::Recalling => {}
                    other => {
                        return Err(CompletionFactError::InvalidInState {
                            id,
                            fact: kind,
                            state: other.as_str(),
                        })
                    }
                }
                if state == RequestState::Recalling {
                    self.cancel_recall(id);
                }
                self.cc_call_started(id, now);
            }
            CompletionFact::RecallCalleeBusy { id }
            | CompletionFact::RecallCalleeNoAnswer { id } => {
                self.expect(id, kind, RequestState::Recalling, None)?;
                self.recall_attempt_failed(id, CancelCause::RecallCalleeUnavailable, now);
            }
            CompletionFact::RecallCallerBusy { id } => {
                self.expect(id, kind, RequestState::Recalling, None)?;
                self.recall_caller_busy(id, now);
            }
            CompletionFact::MessageDelivered { id } => {
                self.expect(id, kind, RequestState::Ready, Some(CompletionMode::Message))?;
                self.end(id, End::Completed, now);
            }
            CompletionFact::MessageFailed { id } => {
                self.expect(id, kind, RequestState::Ready, Some(CompletionMode::Message))?;
                self.set_state(id, RequestState::Queued);
            }
            CompletionFact::RemoteReady { id, cc_uri } => self.remote_ready(id, cc_uri, now)?,
            CompletionFact::RemoteEnded { id, cause } => {
                self.get(id)?;
                self.abort(id, cause, now);
            }
            CompletionFact::IntrusionJoined { id } => {
                self.expect(id, kind, RequestState::Ready, Some(CompletionMode::Intrude))?;
                if let Some(r) = self.requests.get(&id) {
                    if let (Some(into), Some(call)) = (r.joins, r.call) {
                        self.out.push(Out::Joined { call, id, into });
                    }
                }
                self.end(id, End::Completed, now);
            }
            CompletionFact::IntrusionFailed { id } => {
                self.expect(id, kind, RequestState::Ready, Some(CompletionMode::Intrude))?;
                self.abort(id, CancelCause::IntrusionFailed, now);
            }
        }
        Ok(())
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
                    // A recall rang out (a trunk's subscriber: its CC call did not come).
                    let due = self.requests.get(&id).is_some_and(|r| {
                        r.state == RequestState::Recalling && r.recall_until == Some(at)
                    });
                    if due {
                        self.cancel_recall(id);
                        self.recall_attempt_failed(id, CancelCause::RecallUnanswered, now);
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

    pub(crate) fn get(&self, id: CompletionId) -> Result<&CompletionRequest, CompletionFactError> {
        self.requests
            .get(&id)
            .ok_or(CompletionFactError::UnknownCompletion(id))
    }

    pub(crate) fn expect(
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

    pub(crate) fn max_queue(&self, callee: &str) -> u32 {
        self.limits
            .get(callee)
            .and_then(|l| l.max_queue)
            .unwrap_or(self.config.max_queue)
    }

    pub(crate) fn enqueue(&mut self, r: CompletionRequest) {
        let callee = self.callees.entry(r.target.key().to_owned()).or_default();
        match r.mode.fires() {
            Fires::CalleeFree(_) => callee.queue.push(r.seq, r.id),
            Fires::Delivery => {
                callee.messages.insert(r.id);
            }
            Fires::AtOnce => {}
        }
        if let Some(line) = r.line() {
            self.lines
                .entry(line.to_owned())
                .or_default()
                .requests
                .insert(r.id);
        }
        self.requests.insert(r.id, r);
    }

    /// Stops the recall of `id`; a trunk's subscriber was never rung by callcomp (its own
    /// server recalls it), so there is nothing to stop.
    pub(crate) fn cancel_recall(&mut self, id: CompletionId) {
        if self.requests.get(&id).is_some_and(|r| r.line().is_some()) {
            self.action(Action::CancelRecall { id });
        }
    }

    pub(crate) fn event(&mut self, kind: EventKind) {
        self.out.push(Out::Event(kind));
    }

    pub(crate) fn action(&mut self, action: Action) {
        self.out.push(Out::Action(action));
    }

    /// Emits `completion` for `id` entering `phase`.
    pub(crate) fn phase(&mut self, id: CompletionId, phase: CompletionPhase) {
        let position = self.position(id);
        if let Some(r) = self.requests.get(&id) {
            let e = CompletionEvent::of(r, phase, position);
            self.event(EventKind::Completion(e));
        }
    }

    /// Moves `id` to `state` and emits `completion` if it changed.
    pub(crate) fn set_state(&mut self, id: CompletionId, state: RequestState) {
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

    pub(crate) fn expire(&mut self, id: CompletionId, at: Time, now: Time) {
        let Some(r) = self.requests.get(&id) else {
            return;
        };
        // A recall in progress is let finish; retention checks the expiry afterwards.
        if r.expiry != at || r.state == RequestState::Recalling {
            return;
        }
        let unregistered = r.line().is_some_and(|l| self.registered(l) == Some(false));
        let cause = if r.held_leg().is_none() && unregistered {
            CancelCause::CallerUnregistered
        } else {
            CancelCause::Expired
        };
        self.abort(id, cause, now);
    }

    /// Ends `id` unfired for `cause`, undoing what it holds on the SIP side (a recall ringing,
    /// a held camp-on leg).
    pub(crate) fn abort(&mut self, id: CompletionId, cause: CancelCause, now: Time) {
        let Some(r) = self.requests.get(&id) else {
            return;
        };
        let (state, held, call_id) = (r.state, r.held_leg(), r.call);
        if state == RequestState::Recalling {
            self.cancel_recall(id);
        }
        if let Some(call) = held {
            self.action(Action::RejectCampOn { id, call });
            if let Some(call_id) = call_id {
                self.out.push(Out::EndCall(call_id));
            }
        }
        self.end(id, End::Cancelled(cause), now);
    }

    /// Removes `id` and emits its end; a reservation it held is released and the next
    /// request of its callee is tried.
    pub(crate) fn end(&mut self, id: CompletionId, how: End, now: Time) {
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
        if let Some(c) = self.callees.get_mut(r.target.key()) {
            c.queue.remove(r.seq);
            c.messages.remove(&id);
            reselect = c
                .hold
                .as_ref()
                .is_some_and(|h| h.request == id && !matches!(h.phase, HoldPhase::Connecting(_)));
        }
        if reselect {
            self.release_any(r.target.key());
        }
        if let Some(l) = r.line().and_then(|line| self.lines.get_mut(line)) {
            l.requests.remove(&id);
        }
        let mut e = CompletionEvent::of(&r, phase, position);
        if let End::Cancelled(cause) = how {
            e.cause = Some(cause);
        }
        self.event(EventKind::Completion(e));
        // A trunk's subscriber has no line to count on: its end shows in `completion` only.
        if let Some(line) = r.line() {
            let count = self.count(line);
            if let End::Cancelled(cause) = how {
                if cause != CancelCause::Uncompleted {
                    let dev = LineDevState::compl_cancel(line, count, id, cause);
                    self.event(EventKind::LineDevState(dev));
                }
            }
            self.event(EventKind::LineDevState(LineDevState::num_completions(
                line, count,
            )));
        }
        if reselect {
            self.select(r.target.key(), now);
        }
    }

    pub(crate) fn remove_line(&mut self, line: &str, now: Time) {
        let mut ends: Vec<(u64, CompletionId, CancelCause)> = self
            .requests
            .values()
            .filter_map(|r| {
                if r.caller.is_line(line) {
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
        let pending = self
            .pending
            .values()
            .filter(|r| r.caller.is_line(line))
            .count();
        self.count(line)
            .saturating_add(u32::try_from(pending).unwrap_or(u32::MAX))
    }

    fn queue_full(&self, target: &str, mode: CompletionMode) -> bool {
        if !mode.queues() {
            return false;
        }
        let pending = self
            .pending
            .values()
            .filter(|r| r.target == target && r.mode.queues())
            .count();
        let len = self.callees.get(target).map_or(0, |c| c.queue.len()) + pending;
        u32::try_from(len).map_or(true, |n| n >= self.max_queue(target))
    }
}
