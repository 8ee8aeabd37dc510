//! Events: what the switch tells applications (the LINE_* messages of DESIGN §4).
//!
//! Every event carries a sequence number that rises by one per event over the life of the switch,
//! so a WebSocket client can spot a gap, and the time it happened. The JSON shape is flat:
//! `{"seq": 3, "at_ms": 1200, "event": "callstate", "call_id": 1, "line": "alice",
//! "state": "busy", "state_value": 64, "mode": "station", "mode_value": 1, "reason": "direct",
//! "reason_value": 1, "completion_id": null}`; names and TAPI values travel side by side.

use serde::Serialize;

use crate::call::{Call, CallId, Direction, StateMode};
use crate::completion::events::{CompletionEvent, LineDevState, Reply};
use crate::line::ADDRESS_ID;
use crate::tapi::{CallInfoState, CallReason, CallState};
use crate::time::Time;

/// One event, numbered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The sequence number: 1 for the first event, one more for each after.
    pub seq: u64,
    /// When it happened.
    #[serde(rename = "at_ms")]
    pub at: Time,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The kinds of event, tagged by `event` in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum EventKind {
    /// LINE_APPNEWCALL: a call appeared on a line.
    AppNewCall(AppNewCall),
    /// LINE_CALLSTATE: a call changed state.
    CallState(CallStateChange),
    /// LINE_CALLINFO: a call's information changed.
    CallInfo(CallInfoChange),
    /// LINE_REPLY: an accepted lineCompleteCall or lineUncompleteCall.
    Reply(Reply),
    /// LINE_LINEDEVSTATE: `numcompletions` or `complcancel`.
    LineDevState(LineDevState),
    /// A completion request changed phase (callcomp's extension).
    Completion(CompletionEvent),
}

impl EventKind {
    /// The event's name as the API spells it (`appnewcall`, `callstate`, `callinfo`, `reply`,
    /// `linedevstate`, `completion`).
    pub const fn name(&self) -> &'static str {
        match self {
            EventKind::AppNewCall(_) => "appnewcall",
            EventKind::CallState(_) => "callstate",
            EventKind::CallInfo(_) => "callinfo",
            EventKind::Reply(_) => "reply",
            EventKind::LineDevState(_) => "linedevstate",
            EventKind::Completion(_) => "completion",
        }
    }

    /// The call the event is about, for the call events (and a `reply` to lineCompleteCall).
    pub fn call_id(&self) -> Option<CallId> {
        match self {
            EventKind::AppNewCall(e) => Some(e.call_id),
            EventKind::CallState(e) => Some(e.call_id),
            EventKind::CallInfo(e) => Some(e.call_id),
            EventKind::Reply(e) => e.call_id,
            EventKind::LineDevState(_) | EventKind::Completion(_) => None,
        }
    }

    /// The line the event is about.
    pub fn line(&self) -> &str {
        match self {
            EventKind::AppNewCall(e) => &e.line,
            EventKind::CallState(e) => &e.line,
            EventKind::CallInfo(e) => &e.line,
            EventKind::Reply(e) => &e.line,
            EventKind::LineDevState(e) => &e.line,
            EventKind::Completion(e) => &e.line,
        }
    }
}

/// A call appeared on a line (sent before its first `callstate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppNewCall {
    /// The new call.
    pub call_id: CallId,
    /// Its line.
    pub line: String,
    /// Its address on the line (always 0).
    pub address_id: u32,
    /// In or out.
    pub direction: Direction,
    /// The other party.
    pub remote: String,
    /// Why the call exists.
    pub reason: CallReason,
    /// The reason's TAPI value.
    pub reason_value: u32,
    /// The completion id, with reason `callcompletion`.
    pub completion_id: Option<u32>,
}

impl AppNewCall {
    /// The event announcing `call`.
    pub fn of(call: &Call) -> AppNewCall {
        AppNewCall {
            call_id: call.id,
            line: call.line.clone(),
            address_id: ADDRESS_ID,
            direction: call.direction,
            remote: call.remote.clone(),
            reason: call.reason,
            reason_value: call.reason.value(),
            completion_id: call.completion_id,
        }
    }
}

/// A call entered a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallStateChange {
    /// The call.
    pub call_id: CallId,
    /// Its line.
    pub line: String,
    /// The new state.
    pub state: CallState,
    /// The state's TAPI value.
    pub state_value: u32,
    /// The state's detail (busy mode or disconnect mode), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<&'static str>,
    /// The detail's TAPI value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_value: Option<u32>,
    /// The call's reason.
    pub reason: CallReason,
    /// The reason's TAPI value.
    pub reason_value: u32,
    /// The completion id, with reason `callcompletion`.
    pub completion_id: Option<u32>,
}

impl CallStateChange {
    /// The event for `call` in its current state.
    pub fn of(call: &Call) -> CallStateChange {
        CallStateChange {
            call_id: call.id,
            line: call.line.clone(),
            state: call.state,
            state_value: call.state.value(),
            mode: call.mode.map(StateMode::as_str),
            mode_value: call.mode.map(StateMode::value),
            reason: call.reason,
            reason_value: call.reason.value(),
            completion_id: call.completion_id,
        }
    }
}

/// Parts of a call's information changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallInfoChange {
    /// The call.
    pub call_id: CallId,
    /// Its line.
    pub line: String,
    /// What changed, by name.
    pub changed: Vec<CallInfoState>,
    /// What changed, as the OR of the `LINECALLINFOSTATE_*` bits.
    pub changed_value: u32,
    /// The call's reason now.
    pub reason: CallReason,
    /// The reason's TAPI value.
    pub reason_value: u32,
    /// The completion id now.
    pub completion_id: Option<u32>,
}

impl CallInfoChange {
    /// The event saying that `changed` changed on `call`.
    pub fn of(call: &Call, changed: Vec<CallInfoState>) -> CallInfoChange {
        let changed_value = changed.iter().fold(0, |bits, c| bits | c.value());
        CallInfoChange {
            call_id: call.id,
            line: call.line.clone(),
            changed,
            changed_value,
            reason: call.reason,
            reason_value: call.reason.value(),
            completion_id: call.completion_id,
        }
    }
}
