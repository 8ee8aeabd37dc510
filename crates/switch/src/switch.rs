//! The switch: lines and their calls, driven by facts and time (DESIGN §1, §2, §2.5).
//!
//! [`Switch::handle`] takes a fact from the B2BUA and the current time and returns the events it
//! causes; [`Switch::on_timer`] does the same for deadlines, which [`Switch::next_deadline`]
//! announces. Nothing here reads a clock, sleeps or does I/O.
//!
//! The states each line sees:
//! - caller: `dialing` → `proceeding` → `ringback` → `connected` → `idle`; on busy or not
//!   registered `busy`, on no answer `ringback`, kept for the offer window, then `idle`; on any
//!   other failure `disconnected` → `idle`.
//! - callee: `offering` → `connected` → `idle`; when the other side ends the call first, the
//!   line sees `disconnected` (with the disconnect mode) before `idle`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use crate::call::{Call, CallId, CallRef, Direction, IdAllocator, StateMode};
use crate::completion::engine::Out;
use crate::completion::{Action, CompletionConfig, Engine};
use crate::events::{AppNewCall, CallInfoChange, CallStateChange, Event, EventKind};
use crate::facts::{CallerLeg, Fact, FactError, Failure, Party, Side};
use crate::line::{AddLineError, Line};
use crate::tapi::{CallInfoState, CallReason, CallState, DisconnectMode, LineErr};
use crate::time::Time;

/// The default offer window (DESIGN §2.5).
pub const DEFAULT_OFFER_WINDOW: Duration = Duration::from_secs(20);

/// Settings of the call model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchConfig {
    /// How long a call whose callee was busy, did not answer or was not registered stays in
    /// `busy` / `ringback` after the caller's leg ended, so that completion can still be asked.
    pub offer_window: Duration,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            offer_window: DEFAULT_OFFER_WINDOW,
        }
    }
}

/// The telephony model: lines, call appearances, and the B2BUA calls that tie them together.
#[derive(Debug, Clone)]
pub struct Switch {
    config: SwitchConfig,
    pub(crate) lines: BTreeMap<String, Line>,
    /// Line names by address of record.
    pub(crate) by_address: HashMap<String, String>,
    pub(crate) calls: BTreeMap<CallId, Call>,
    pub(crate) sessions: HashMap<CallRef, Session>,
    deadlines: BTreeSet<(Time, CallId)>,
    ids: IdAllocator,
    seq: u64,
    /// The completion engine (see `completion/mod.rs` for why the switch owns it).
    pub(crate) completion: Engine,
    /// The callee's line of each outgoing call that was offered to one of our lines.
    pub(crate) targets: HashMap<CallId, String>,
    /// The remote callee of each outgoing call that failed over a trunk with a remote
    /// monitor's completion offer.
    pub(crate) remote_targets: HashMap<CallId, crate::completion::RemoteTarget>,
    /// Actions for the server, drained by [`Switch::poll_actions`].
    pub(crate) actions: Vec<Action>,
    /// How many calls are in each state, by the state's place in [`CallState::ALL`], kept as
    /// calls change so that the metrics need no walk over the calls.
    in_state: Vec<usize>,
}

/// One B2BUA call as the switch tracks it, while SIP facts can still arrive for it.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) caller: Option<CallId>,
    pub(crate) callee: Option<CallId>,
    caller_address: String,
    pub(crate) phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not yet answered or failed.
    Setup,
    /// Answered.
    Connected,
    /// Failed, with the caller's leg held open.
    Held,
}

impl Phase {
    const fn name(self) -> &'static str {
        match self {
            Phase::Setup => "being set up",
            Phase::Connected => "connected",
            Phase::Held => "failed with the caller held",
        }
    }
}

impl Switch {
    /// An empty switch: no lines, no calls; completion with the default settings.
    pub fn new(config: SwitchConfig) -> Switch {
        Switch::with_completion(config, CompletionConfig::default())
    }

    /// An empty switch whose completion engine uses `completion`.
    pub fn with_completion(config: SwitchConfig, completion: CompletionConfig) -> Switch {
        Switch {
            completion: Engine::new(completion),
            targets: HashMap::new(),
            remote_targets: HashMap::new(),
            actions: Vec::new(),
            by_address: HashMap::new(),
            config,
            lines: BTreeMap::new(),
            calls: BTreeMap::new(),
            sessions: HashMap::new(),
            deadlines: BTreeSet::new(),
            ids: IdAllocator::new(),
            seq: 0,
            in_state: vec![0; CallState::ALL.len()],
        }
    }

    /// The settings.
    pub fn config(&self) -> &SwitchConfig {
        &self.config
    }

    /// Adds a line.
    pub fn add_line(&mut self, line: Line) -> Result<(), AddLineError> {
        if line.name.is_empty() {
            return Err(AddLineError::EmptyName);
        }
        if self.lines.contains_key(&line.name) {
            return Err(AddLineError::Exists(line.name));
        }
        self.by_address
            .entry(line.address.clone())
            .or_insert_with(|| line.name.clone());
        self.lines.insert(line.name.clone(), line);
        Ok(())
    }

    /// All lines, by name.
    pub fn lines(&self) -> impl Iterator<Item = &Line> {
        self.lines.values()
    }

    /// The line named `name`.
    pub fn line(&self, name: &str) -> Option<&Line> {
        self.lines.get(name)
    }

    /// The calls on line `name`, by id; `LINEERR_INVALLINEHANDLE` for an unknown line.
    pub fn line_calls(&self, name: &str) -> Result<Vec<&Call>, LineErr> {
        if !self.lines.contains_key(name) {
            return Err(LineErr::InvalLineHandle);
        }
        Ok(self.calls.values().filter(|c| c.line == name).collect())
    }

    /// Whether line `name` has a call whose SIP leg is still open (a call in progress).
    pub fn line_in_call(&self, name: &str) -> bool {
        self.calls.values().any(|c| c.line == name && c.leg_open)
    }

    /// The call with this id, if it is not idle.
    pub fn call(&self, id: CallId) -> Option<&Call> {
        self.calls.get(&id)
    }

    /// The call with this number as the API gives it; `LINEERR_INVALCALLHANDLE` if there is none.
    pub fn call_by_number(&self, id: u32) -> Result<&Call, LineErr> {
        CallId::new(id)
            .and_then(|id| self.calls.get(&id))
            .ok_or(LineErr::InvalCallHandle)
    }

    /// The call appearances of one B2BUA call (zero, one or two), by id.
    pub fn calls_of(&self, call_ref: CallRef) -> Vec<&Call> {
        self.calls
            .values()
            .filter(|c| c.call_ref == call_ref)
            .collect()
    }

    /// The number of calls that are not idle.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// How many calls are in `state` now (kept as calls change: no walk over the calls).
    pub fn calls_in_state(&self, state: CallState) -> usize {
        self.in_state.get(state_slot(state)).copied().unwrap_or(0)
    }

    /// Moves one call from state `from` (`None`: a new call) to `to` (`None`: gone) in the
    /// per-state counts.
    fn count_state(&mut self, from: Option<CallState>, to: Option<CallState>) {
        if let Some(n) = from.and_then(|s| self.in_state.get_mut(state_slot(s))) {
            *n = n.saturating_sub(1);
        }
        if let Some(n) = to.and_then(|s| self.in_state.get_mut(state_slot(s))) {
            *n += 1;
        }
    }

    /// Applies a fact from the B2BUA at time `now`; a refused fact changes nothing.
    ///
    /// Late or repeated provisional facts (a `Ringing` after `Answered`, a second `Answered`)
    /// are accepted and cause no event, since a B2BUA may see SIP messages out of order.
    pub fn handle(&mut self, fact: Fact, now: Time) -> Result<Vec<Event>, FactError> {
        let mut out = Vec::new();
        match fact {
            Fact::Dialed { call, from, to } => self.dialed(call, from, to, now, &mut out)?,
            Fact::Proceeding { call } => {
                let s = self.session(call)?;
                if let (Phase::Setup, Some(id)) = (s.phase, s.caller) {
                    self.advance(
                        id,
                        &[CallState::Dialing],
                        CallState::Proceeding,
                        now,
                        &mut out,
                    );
                }
            }
            Fact::Offered {
                call,
                line,
                reason,
                completion_id,
            } => self.offered(call, line, reason, completion_id, now, &mut out)?,
            Fact::Ringing { call } => {
                let s = self.session(call)?;
                if let (Phase::Setup, Some(id)) = (s.phase, s.caller) {
                    let from = [CallState::Dialing, CallState::Proceeding];
                    self.advance(id, &from, CallState::Ringback, now, &mut out);
                }
            }
            Fact::Answered { call } => self.answered(call, now, &mut out)?,
            Fact::Failed {
                call,
                cause,
                caller_leg,
            } => self.failed(call, cause, caller_leg, now, &mut out)?,
            Fact::CallerReleased { call } => {
                let s = self.session(call)?;
                if s.phase != Phase::Held {
                    return Err(invalid(call, "caller_released", s.phase));
                }
                self.release_caller(call, now, &mut out);
            }
            Fact::Hangup { call, by } => self.hangup(call, by, now, &mut out)?,
        }
        self.drain_engine(now, &mut out);
        Ok(out)
    }

    /// Fires every deadline at or before `now`: calls whose offer window is over go `idle`, and
    /// the completion engine's guards, recalls and expiries run.
    pub fn on_timer(&mut self, now: Time) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(&(at, id)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.remove(&(at, id));
            self.enter(id, CallState::Idle, None, now, &mut out);
        }
        self.drain_engine(now, &mut out);
        self.completion.on_timer(now);
        self.drain_engine(now, &mut out);
        out
    }

    /// The earliest pending deadline, if any; call [`Switch::on_timer`] when it is reached.
    pub fn next_deadline(&self) -> Option<Time> {
        let calls = self.deadlines.first().map(|&(at, _)| at);
        match (calls, self.completion.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The actions the server must carry out, in order, since the last call (quinn's
    /// `poll_transmit`): call after every input.
    pub fn poll_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// Ends a call whose SIP leg is already over (one waiting in its offer window): it goes `idle`.
    ///
    /// A call with a live leg gives `LINEERR_INVALCALLSTATE`: the server must end the leg, and
    /// the facts that follow move the call.
    pub fn drop_call(&mut self, id: CallId, now: Time) -> Result<Vec<Event>, LineErr> {
        let call = self.calls.get(&id).ok_or(LineErr::InvalCallHandle)?;
        if call.leg_open {
            return Err(LineErr::InvalCallState);
        }
        let mut out = Vec::new();
        self.enter(id, CallState::Idle, None, now, &mut out);
        self.drain_engine(now, &mut out);
        Ok(out)
    }

    /// Sets a call's reason and completion id (as when a camp-on fires on the waiting call) and
    /// emits `callinfo` naming what changed; nothing is emitted if nothing changed.
    ///
    /// A completion id must be given exactly with reason `callcompletion`, and never be 0.
    pub fn set_reason(
        &mut self,
        id: CallId,
        reason: CallReason,
        completion_id: Option<u32>,
        now: Time,
    ) -> Result<Vec<Event>, LineErr> {
        let call = self.calls.get_mut(&id).ok_or(LineErr::InvalCallHandle)?;
        if !completion_fits(reason, completion_id) {
            return Err(LineErr::InvalCompletionId);
        }
        let mut changed = Vec::new();
        if call.reason != reason {
            call.reason = reason;
            changed.push(CallInfoState::Reason);
        }
        if call.completion_id != completion_id {
            call.completion_id = completion_id;
            changed.push(CallInfoState::Completionid);
        }
        let mut out = Vec::new();
        if !changed.is_empty() {
            let info = CallInfoChange::of(call, changed);
            self.push(EventKind::CallInfo(info), now, &mut out);
        }
        Ok(out)
    }

    fn session(&self, call: CallRef) -> Result<&Session, FactError> {
        self.sessions.get(&call).ok_or(FactError::UnknownCall(call))
    }

    fn dialed(
        &mut self,
        call: CallRef,
        from: Party,
        to: String,
        now: Time,
        out: &mut Vec<Event>,
    ) -> Result<(), FactError> {
        if self.sessions.contains_key(&call) {
            return Err(FactError::DuplicateCall(call));
        }
        let (caller_line, caller_address) = match from {
            Party::Line(name) => {
                let line = self
                    .lines
                    .get(&name)
                    .ok_or_else(|| FactError::UnknownLine(name.clone()))?;
                let address = line.address.clone();
                (Some(name), address)
            }
            Party::External(address) => (None, address),
        };
        let caller = match caller_line {
            Some(line) => {
                let spec = NewCall {
                    call_ref: call,
                    line,
                    direction: Direction::Out,
                    remote: to,
                    state: CallState::Dialing,
                    reason: CallReason::Direct,
                    completion_id: None,
                };
                Some(self.create(spec, now, out)?)
            }
            None => None,
        };
        self.sessions.insert(
            call,
            Session {
                caller,
                callee: None,
                caller_address,
                phase: Phase::Setup,
            },
        );
        Ok(())
    }

    fn offered(
        &mut self,
        call: CallRef,
        line: String,
        reason: CallReason,
        completion_id: Option<u32>,
        now: Time,
        out: &mut Vec<Event>,
    ) -> Result<(), FactError> {
        let s = self.session(call)?;
        if s.phase != Phase::Setup {
            return Err(invalid(call, "offered", s.phase));
        }
        if s.callee.is_some() {
            return Err(FactError::AlreadyOffered(call));
        }
        if !self.lines.contains_key(&line) {
            return Err(FactError::UnknownLine(line));
        }
        if !completion_fits(reason, completion_id) {
            return Err(FactError::BadCompletionId {
                completion_id,
                reason,
            });
        }
        let spec = NewCall {
            call_ref: call,
            line,
            direction: Direction::In,
            remote: s.caller_address.clone(),
            state: CallState::Offering,
            reason,
            completion_id,
        };
        let caller = s.caller;
        let target = spec.line.clone();
        let id = self.create(spec, now, out)?;
        if let Some(s) = self.sessions.get_mut(&call) {
            s.callee = Some(id);
        }
        if let Some(caller) = caller {
            self.targets.insert(caller, target);
        }
        Ok(())
    }

    fn answered(
        &mut self,
        call: CallRef,
        now: Time,
        out: &mut Vec<Event>,
    ) -> Result<(), FactError> {
        let s = self.session(call)?;
        match s.phase {
            Phase::Setup => {}
            Phase::Connected => return Ok(()),
            Phase::Held => return Err(invalid(call, "answered", s.phase)),
        }
        let ids = [s.caller, s.callee];
        for id in ids.into_iter().flatten() {
            self.enter(id, CallState::Connected, None, now, out);
        }
        if let Some(s) = self.sessions.get_mut(&call) {
            s.phase = Phase::Connected;
        }
        // A caller that reaches its callee directly no longer needs a callback to it.
        let line = |id: Option<CallId>| {
            id.and_then(|id| self.calls.get(&id))
                .map(|c| c.line.clone())
        };
        if let (Some(caller), Some(callee)) = (line(ids[0]), line(ids[1])) {
            self.completion.direct_call(&caller, &callee, now);
        }
        Ok(())
    }

    fn failed(
        &mut self,
        call: CallRef,
        cause: Failure,
        caller_leg: CallerLeg,
        now: Time,
        out: &mut Vec<Event>,
    ) -> Result<(), FactError> {
        let s = self.session(call)?;
        if s.phase != Phase::Setup {
            return Err(invalid(call, "failed", s.phase));
        }
        let (caller, callee) = (s.caller, s.callee);
        let mut hold = false;
        if let Some(id) = caller {
            if let Some(c) = self.calls.get_mut(&id) {
                c.failure = Some(cause);
            }
            match cause.offer_state() {
                Some((state, busy)) => {
                    let mode = busy.map(StateMode::Busy);
                    let unchanged = self
                        .calls
                        .get(&id)
                        .is_some_and(|c| c.state == state && c.mode == mode);
                    if !unchanged {
                        self.enter(id, state, mode, now, out);
                    }
                    match caller_leg {
                        CallerLeg::Held => hold = true,
                        CallerLeg::Released => self.start_offer_window(id, now, out),
                    }
                }
                None => self.disconnect(id, cause.disconnect_mode(), now, out),
            }
        }
        if let Some(id) = callee {
            self.disconnect(id, cause.disconnect_mode(), now, out);
        }
        if hold {
            if let Some(s) = self.sessions.get_mut(&call) {
                s.phase = Phase::Held;
                s.callee = None;
            }
        } else {
            self.sessions.remove(&call);
        }
        Ok(())
    }

    fn hangup(
        &mut self,
        call: CallRef,
        by: Side,
        now: Time,
        out: &mut Vec<Event>,
    ) -> Result<(), FactError> {
        let s = self.session(call)?;
        let connected = match (s.phase, by) {
            (Phase::Setup, _) => false,
            (Phase::Connected, _) => true,
            // The held caller gave up waiting: the call keeps its offer window.
            (Phase::Held, Side::Caller) => {
                self.release_caller(call, now, out);
                return Ok(());
            }
            (Phase::Held, Side::Callee) => return Err(invalid(call, "hangup", s.phase)),
        };
        let (first, other, other_mode) = match by {
            Side::Caller if connected => (s.caller, s.callee, DisconnectMode::Normal),
            Side::Caller => (s.caller, s.callee, DisconnectMode::Cancelled),
            Side::Callee if connected => (s.callee, s.caller, DisconnectMode::Normal),
            Side::Callee => (s.callee, s.caller, DisconnectMode::Reject),
        };
        if let Some(id) = first {
            self.enter(id, CallState::Idle, None, now, out);
        }
        if let Some(id) = other {
            self.disconnect(id, other_mode, now, out);
        }
        self.sessions.remove(&call);
        Ok(())
    }

    /// The held caller leg is over: its call waits out the offer window; the session ends.
    fn release_caller(&mut self, call: CallRef, now: Time, out: &mut Vec<Event>) {
        if let Some(s) = self.sessions.remove(&call) {
            if let Some(id) = s.caller {
                if let Some(line) = self.calls.get(&id).map(|c| c.line.clone()) {
                    self.completion.held_leg_released(&line, id, now);
                }
                self.start_offer_window(id, now, out);
            }
        }
    }

    fn start_offer_window(&mut self, id: CallId, now: Time, out: &mut Vec<Event>) {
        let window = self.config.offer_window;
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if c.leg_open {
            c.leg_open = false;
            let (line, created, connected) = (c.line.clone(), c.created, c.connected_at);
            self.completion.leg_closed(&line, created, connected, now);
        }
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        if window.is_zero() {
            self.enter(id, CallState::Idle, None, now, out);
            return;
        }
        let until = now + window;
        c.offer_until = Some(until);
        self.deadlines.insert((until, id));
    }

    /// Moves call `id` to `to` if it is in one of `from`; otherwise the fact is stale.
    fn advance(
        &mut self,
        id: CallId,
        from: &[CallState],
        to: CallState,
        now: Time,
        out: &mut Vec<Event>,
    ) {
        if self.calls.get(&id).is_some_and(|c| from.contains(&c.state)) {
            self.enter(id, to, None, now, out);
        }
    }

    fn disconnect(&mut self, id: CallId, mode: DisconnectMode, now: Time, out: &mut Vec<Event>) {
        let mode = Some(StateMode::Disconnected(mode));
        self.enter(id, CallState::Disconnected, mode, now, out);
        self.enter(id, CallState::Idle, None, now, out);
    }

    /// Puts call `id` in `state` and emits `callstate`; an idle call is forgotten.
    pub(crate) fn enter(
        &mut self,
        id: CallId,
        state: CallState,
        mode: Option<StateMode>,
        now: Time,
        out: &mut Vec<Event>,
    ) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        let was = std::mem::replace(&mut c.state, state);
        c.mode = mode;
        c.state_since = now;
        let mut closed = None;
        match state {
            CallState::Connected => c.connected_at = Some(now),
            CallState::Idle | CallState::Disconnected => {
                if c.leg_open {
                    closed = Some((c.line.clone(), c.created, c.connected_at));
                }
                c.leg_open = false;
            }
            _ => {}
        }
        if state == CallState::Idle {
            if let Some(until) = c.offer_until.take() {
                self.deadlines.remove(&(until, id));
            }
        }
        let change = CallStateChange::of(c);
        self.push(EventKind::CallState(change), now, out);
        if state == CallState::Idle {
            self.calls.remove(&id);
            self.targets.remove(&id);
            self.remote_targets.remove(&id);
            self.count_state(Some(was), None);
        } else {
            self.count_state(Some(was), Some(state));
        }
        if let Some((line, created, connected)) = closed {
            self.completion.leg_closed(&line, created, connected, now);
        }
    }

    fn create(
        &mut self,
        spec: NewCall,
        now: Time,
        out: &mut Vec<Event>,
    ) -> Result<CallId, FactError> {
        let calls = &self.calls;
        let id = self
            .ids
            .allocate(calls.len(), |n| {
                CallId::new(n).is_some_and(|id| calls.contains_key(&id))
            })
            .and_then(|n| CallId::new(n.get()))
            .ok_or(FactError::NoCallId)?;
        let call = Call {
            id,
            call_ref: spec.call_ref,
            line: spec.line,
            direction: spec.direction,
            remote: spec.remote,
            state: spec.state,
            mode: None,
            reason: spec.reason,
            completion_id: spec.completion_id,
            failure: None,
            leg_open: true,
            created: now,
            state_since: now,
            connected_at: None,
            offer_until: None,
        };
        let new = AppNewCall::of(&call);
        let state = CallStateChange::of(&call);
        self.completion.leg_opened(&call.line);
        self.count_state(None, Some(call.state));
        self.calls.insert(id, call);
        self.push(EventKind::AppNewCall(new), now, out);
        self.push(EventKind::CallState(state), now, out);
        Ok(id)
    }

    /// Applies what the completion engine queued, until it queues nothing more.
    pub(crate) fn drain_engine(&mut self, now: Time, out: &mut Vec<Event>) {
        loop {
            let items = self.completion.take_out();
            if items.is_empty() {
                return;
            }
            for item in items {
                match item {
                    Out::Event(kind) => self.push(kind, now, out),
                    Out::Action(action) => self.actions.push(action),
                    Out::EndCall(id) => {
                        if let Some(r) = self.calls.get(&id).map(|c| c.call_ref) {
                            self.sessions.remove(&r);
                        }
                        self.enter(id, CallState::Idle, None, now, out);
                    }
                    Out::FireCampOn { call, id } => self.fire_campon(call, id, now, out),
                    Out::Joined { call, id, into } => self.joined(call, id, into, now, out),
                }
            }
        }
    }

    /// A camp-on fired: the waiting call takes reason `callcompletion` with the id (`callinfo`)
    /// and proceeds to the callee; its session accepts setup facts again.
    fn fire_campon(
        &mut self,
        id: CallId,
        completion: crate::completion::CompletionId,
        now: Time,
        out: &mut Vec<Event>,
    ) {
        let to = (Phase::Setup, CallState::Proceeding);
        self.fire_on_held_call(id, completion, to, now, out);
    }

    /// A request fired on its held call `id`: the call takes reason `callcompletion` with the
    /// id (`callinfo`), its session goes to phase `to.0` with no callee, the call to state `to.1`.
    fn fire_on_held_call(
        &mut self,
        id: CallId,
        completion: crate::completion::CompletionId,
        to: (Phase, CallState),
        now: Time,
        out: &mut Vec<Event>,
    ) {
        let Some(c) = self.calls.get_mut(&id) else {
            return;
        };
        c.failure = None;
        let call_ref = c.call_ref;
        // `set_reason` numbers its own event; it cannot fail for a live call and a non-zero id.
        if let Ok(events) =
            self.set_reason(id, CallReason::Callcompletion, Some(completion.get()), now)
        {
            out.extend(events);
        }
        if let Some(s) = self.sessions.get_mut(&call_ref) {
            s.phase = to.0;
            s.callee = None;
        }
        self.enter(id, to.1, None, now, out);
    }

    /// An intrusion happened (digest §9.22, §9.25): the intruder's call takes reason
    /// `callcompletion` with the id (`callinfo`) and goes `connected`; each appearance of the
    /// joined call takes reason `intrude` (`callinfo`).
    fn joined(
        &mut self,
        id: CallId,
        completion: crate::completion::CompletionId,
        into: CallRef,
        now: Time,
        out: &mut Vec<Event>,
    ) {
        let to = (Phase::Connected, CallState::Connected);
        self.fire_on_held_call(id, completion, to, now, out);
        let joined: Vec<CallId> = self.calls_of(into).iter().map(|c| c.id).collect();
        for appearance in joined {
            if let Ok(events) = self.set_reason(appearance, CallReason::Intrude, None, now) {
                out.extend(events);
            }
        }
    }

    pub(crate) fn push(&mut self, kind: EventKind, now: Time, out: &mut Vec<Event>) {
        self.seq += 1;
        out.push(Event {
            seq: self.seq,
            at: now,
            kind,
        });
    }
}

/// What a new call appearance starts with.
struct NewCall {
    call_ref: CallRef,
    line: String,
    direction: Direction,
    remote: String,
    state: CallState,
    reason: CallReason,
    completion_id: Option<u32>,
}

/// A completion id goes with reason `callcompletion` and only with it, and is never 0.
fn completion_fits(reason: CallReason, completion_id: Option<u32>) -> bool {
    match completion_id {
        Some(0) => false,
        Some(_) => reason == CallReason::Callcompletion,
        None => reason != CallReason::Callcompletion,
    }
}

fn invalid(call: CallRef, fact: &'static str, phase: Phase) -> FactError {
    FactError::InvalidInPhase {
        call,
        fact,
        phase: phase.name(),
    }
}

/// The place of `state` in [`CallState::ALL`], the index of its count.
fn state_slot(state: CallState) -> usize {
    CallState::ALL
        .iter()
        .position(|s| *s == state)
        .unwrap_or(usize::MAX)
}
