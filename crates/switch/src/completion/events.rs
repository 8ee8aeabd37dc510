//! The completion events applications see (DESIGN §4): `reply`, `linedevstate` and
//! `completion`. They travel in the switch's one numbered stream ([`crate::Event`]) beside
//! `callstate`, `callinfo` and `appnewcall`, flat in JSON with names and TAPI values together:
//! `{"seq": 9, "at_ms": 0, "event": "linedevstate", "line": "alice", "state": "complcancel",
//! "state_value": 8388608, "num_call_completions": 0, "completion_id": 3, "cause": "expired"}`.

use serde::Serialize;

use crate::call::CallId;
use crate::completion::caller::TrunkCaller;
use crate::completion::request::{CancelCause, CompletionId, CompletionRequest};
use crate::tapi::{
    CompletionCond, CompletionMode, LINEDEVSTATE_COMPLCANCEL, LINEDEVSTATE_INSERVICE,
    LINEDEVSTATE_NUMCOMPLETIONS, LINEDEVSTATE_OUTOFSERVICE,
};

/// Which API request a `reply` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyTo {
    /// lineCompleteCall.
    CompleteCall,
    /// lineUncompleteCall.
    UncompleteCall,
}

/// LINE_REPLY: the outcome of a request that passed its checks. A request refused by its
/// checks is answered synchronously with the error and has no `reply`; one that passed them
/// but could not be stored gets a `reply` with the error, and no success event before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reply {
    /// The request answered.
    pub request: ReplyTo,
    /// The line of the request.
    pub line: String,
    /// The call it was made on (lineCompleteCall only).
    pub call_id: Option<CallId>,
    /// The completion id it created or cancelled.
    pub completion_id: CompletionId,
    /// The result, as LINE_REPLY's `dwParam2`: 0 for success, else the `LINEERR_*` value
    /// (negative) of why it failed.
    pub result: i32,
}

/// The line device state that changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DevState {
    /// `LINEDEVSTATE_NUMCOMPLETIONS`: the number of outstanding requests changed.
    NumCompletions,
    /// `LINEDEVSTATE_COMPLCANCEL`: callcomp ended a request the application did not cancel.
    ComplCancel,
    /// `LINEDEVSTATE_INSERVICE`: the line's phone registered (it had no binding before).
    InService,
    /// `LINEDEVSTATE_OUTOFSERVICE`: the line's last binding went (unregistered or expired).
    OutOfService,
}

impl DevState {
    /// The `LINEDEVSTATE_*` bit.
    pub const fn value(self) -> u32 {
        match self {
            DevState::NumCompletions => LINEDEVSTATE_NUMCOMPLETIONS,
            DevState::ComplCancel => LINEDEVSTATE_COMPLCANCEL,
            DevState::InService => LINEDEVSTATE_INSERVICE,
            DevState::OutOfService => LINEDEVSTATE_OUTOFSERVICE,
        }
    }
}

/// LINE_LINEDEVSTATE for completions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineDevState {
    /// The line.
    pub line: String,
    /// What changed.
    pub state: DevState,
    /// Its `LINEDEVSTATE_*` value.
    pub state_value: u32,
    /// The line's outstanding requests now.
    pub num_call_completions: u32,
    /// With `complcancel`: the request ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_id: Option<CompletionId>,
    /// With `complcancel`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<CancelCause>,
}

impl LineDevState {
    /// `numcompletions` for `line`, now at `count`.
    pub fn num_completions(line: &str, count: u32) -> LineDevState {
        LineDevState {
            line: line.to_owned(),
            state: DevState::NumCompletions,
            state_value: DevState::NumCompletions.value(),
            num_call_completions: count,
            completion_id: None,
            cause: None,
        }
    }

    /// `inservice` or `outofservice` for `line` as its registration changed; `count` requests
    /// are outstanding.
    pub fn service(line: &str, registered: bool, count: u32) -> LineDevState {
        let state = if registered {
            DevState::InService
        } else {
            DevState::OutOfService
        };
        LineDevState {
            line: line.to_owned(),
            state,
            state_value: state.value(),
            num_call_completions: count,
            completion_id: None,
            cause: None,
        }
    }

    /// `complcancel` of request `id` of `line` for `cause`; `count` remain.
    pub fn compl_cancel(line: &str, count: u32, id: CompletionId, cause: CancelCause) -> Self {
        LineDevState {
            line: line.to_owned(),
            state: DevState::ComplCancel,
            state_value: DevState::ComplCancel.value(),
            num_call_completions: count,
            completion_id: Some(id),
            cause: Some(cause),
        }
    }
}

/// The phase a `completion` event reports: a request state, or its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CompletionPhase {
    /// Waiting in the callee's queue (also on resumption and retention).
    Queued,
    /// Skipped while its caller is not free.
    Suspended,
    /// Selected; the callee is reserved (guard), or a message is being delivered.
    Ready,
    /// The caller is being rung back.
    Recalling,
    /// It fired: recall connected, camp-on connected, or message delivered.
    Completed,
    /// It ended without firing (`cause` says why).
    Cancelled,
}

/// A request changed phase (callcomp's extension to the LINE_* messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompletionEvent {
    /// The request.
    pub completion_id: CompletionId,
    /// The caller's line; for a trunk's subscriber, the callee's (the line it is about).
    pub line: String,
    /// For a request of another server's subscriber (over a trunk): who it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_caller: Option<TrunkCaller>,
    /// The callee's line.
    pub target: String,
    /// The mode.
    pub mode: CompletionMode,
    /// The condition.
    pub condition: CompletionCond,
    /// The new phase.
    pub state: CompletionPhase,
    /// The 1-based place in the callee's queue, while the request waits in it.
    pub position: Option<u32>,
    /// With `cancelled`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<CancelCause>,
}

impl CompletionEvent {
    /// The event for `r` entering `state`, at `position` in its queue.
    pub fn of(r: &CompletionRequest, state: CompletionPhase, position: Option<u32>) -> Self {
        CompletionEvent {
            completion_id: r.id,
            line: r.speaking_line().to_owned(),
            external_caller: r.caller.trunk().cloned(),
            target: r.target.key().to_owned(),
            mode: r.mode,
            condition: r.condition,
            state,
            position,
            cause: None,
        }
    }
}
