//! Completion requests: what `lineCompleteCall` leaves behind (DESIGN §2, TAPI digest §5).
//!
//! A request is outstanding from its acceptance until it fires, is cancelled by its line, or is
//! ended by callcomp (expiry, unanswered recall, …, each with a [`CancelCause`]). Its id is never
//! 0 and, while it is outstanding, unique within the whole switch (hence within its line).

use std::fmt;
use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use crate::call::{CallId, CallRef};
use crate::completion::caller::Caller;
use crate::completion::target::CompletionTarget;
use crate::tapi::{CompletionCond, CompletionMode};
use crate::time::Time;

/// The id of an outstanding completion request (`dwCompletionID`): never 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CompletionId(NonZeroU32);

impl CompletionId {
    /// The id with this number, or `None` for 0.
    pub fn new(id: u32) -> Option<CompletionId> {
        NonZeroU32::new(id).map(CompletionId)
    }

    /// The number (never 0).
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for CompletionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where an outstanding request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    /// Waiting in the callee's queue for the callee to become available.
    Queued,
    /// Skipped because its caller is not free (in a call, unregistered, or suspended by the
    /// caller's agent); it keeps its place and resumes when the caller is free.
    Suspended,
    /// Selected: the callee is reserved for it during the guard (a message: being delivered;
    /// an intrusion: the server is joining the caller into the callee's call).
    Ready,
    /// Firing: the caller's phone is being rung back.
    Recalling,
}

impl RequestState {
    /// The lower-case API name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestState::Queued => "queued",
            RequestState::Suspended => "suspended",
            RequestState::Ready => "ready",
            RequestState::Recalling => "recalling",
        }
    }
}

/// Why callcomp ended a request the application did not cancel (`complcancel`), or
/// `uncompleted` when the line cancelled it itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelCause {
    /// The line cancelled it (lineUncompleteCall); never sent as `complcancel`.
    Uncompleted,
    /// Its lifetime (`ccbs_expiry`, `ccnr_expiry`, `ccnl_expiry`, or `campon_max`) ran out.
    Expired,
    /// The caller's phone did not answer the recall within `recall_ring`.
    RecallUnanswered,
    /// The recall could not reach the caller's phone at all.
    RecallFailed,
    /// The callee was busy or did not answer on each of `recall_attempts` recalls.
    RecallCalleeUnavailable,
    /// The callee's line was removed from the configuration.
    CalleeDeleted,
    /// The caller's line was removed from the configuration.
    CallerDeleted,
    /// The request expired while the caller's phone was not registered.
    CallerUnregistered,
    /// A camp-on's or an intrusion's caller hung up (or its SIP leg was lost, as across a
    /// restart).
    CallerReleased,
    /// The intrusion could not be set up (the callee's call ended first, or its parties
    /// could not be moved onto callcomp's media).
    IntrusionFailed,
    /// A remote target: the remote monitor refused the subscription (or never answered it).
    MonitorRefused,
    /// A remote target: the remote monitor ended the subscription (`Subscription-State:
    /// terminated` before the CC call; the reason is logged).
    MonitorTerminated,
}

impl CancelCause {
    /// The API name (`expired`, `recall_unanswered`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            CancelCause::Uncompleted => "uncompleted",
            CancelCause::Expired => "expired",
            CancelCause::RecallUnanswered => "recall_unanswered",
            CancelCause::RecallFailed => "recall_failed",
            CancelCause::RecallCalleeUnavailable => "recall_callee_unavailable",
            CancelCause::CalleeDeleted => "callee_deleted",
            CancelCause::CallerDeleted => "caller_deleted",
            CancelCause::CallerUnregistered => "caller_unregistered",
            CancelCause::CallerReleased => "caller_released",
            CancelCause::IntrusionFailed => "intrusion_failed",
            CancelCause::MonitorRefused => "monitor_refused",
            CancelCause::MonitorTerminated => "monitor_terminated",
        }
    }
}

/// What is known of whether the callee is available for a request (DESIGN §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Availability {
    /// Waiting for the condition's event: for `noanswer` the end of a call of the callee
    /// established after the request, for `notregistered` the callee's next registration.
    Waiting,
    /// The callee said busy with no call known to callcomp: it becomes available after its next
    /// call through callcomp ends, or when its dialog state is reported idle.
    Unknown,
    /// The condition has been met; the request fires when the callee and the caller are free.
    Met,
}

/// One outstanding completion request. Serializable as is: it is also the export format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// The completion id.
    pub id: CompletionId,
    /// Whose request it is: a line (the line that asked), or a trunk's subscriber. Stored
    /// under `line` as before (a line is its name there).
    #[serde(rename = "line")]
    pub caller: Caller,
    /// The callee: a line, or a remote party (RFC 6910 agent role).
    pub target: CompletionTarget,
    /// How the call is to be completed.
    pub mode: CompletionMode,
    /// Why the original call failed.
    pub condition: CompletionCond,
    /// The predefined message, for mode `message` only.
    pub message_id: Option<u32>,
    /// Where the request stands.
    pub state: RequestState,
    /// When it was accepted.
    pub created: Time,
    /// When it ends if it has not fired.
    pub expiry: Time,
    /// The call it was requested on; `None` for a trunk's subscriber, whose failed call is
    /// its own server's.
    pub call: Option<CallId>,
    /// For a mode that holds the caller's leg (`campon`, `intrude`): the B2BUA call whose
    /// caller leg is held.
    #[serde(alias = "campon_call")]
    pub held_call: Option<CallRef>,
    /// For `intrude`: the callee's call it joins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joins: Option<CallRef>,
    /// The place in the callee's FIFO queue: lower is older.
    pub seq: u64,
    /// Whether the condition-specific event has happened (see [`Availability`]).
    pub condition_met: bool,
    /// Since when the current wait runs: acceptance, or the last retention. Only calls of the
    /// callee that start (busy) or are established (no answer) after it count.
    pub waiting_since: Time,
    /// Whether the caller's agent suspended it (RFC 6910 PUBLISH `closed`); it stays suspended
    /// until resumed explicitly.
    pub suspended_by_caller: bool,
    /// While recalling: when the recall counts as unanswered. Not exported.
    #[serde(skip)]
    pub recall_until: Option<Time>,
    /// Recalls of this request that failed so far (caller or callee did not answer, callee
    /// busy); at `recall_attempts` the request ends. Stored with the request.
    #[serde(default)]
    pub recall_failures: u32,
    /// The caller's phone answered a recall busy: the caller counts as not free until a sign
    /// that it is (see `recall_outcome`). Not exported.
    #[serde(skip)]
    pub caller_found_busy: bool,
}

impl CompletionRequest {
    /// What is known of the callee's availability for this request.
    pub fn availability(&self) -> Availability {
        match (self.condition_met, self.condition) {
            (true, _) => Availability::Met,
            // A remote callee is available when its monitor says `ready`, never guessed.
            (false, _) if self.target.remote().is_some() => Availability::Waiting,
            (false, CompletionCond::Busy) => Availability::Unknown,
            (false, _) => Availability::Waiting,
        }
    }

    /// The caller's line, if the caller is a line.
    pub fn line(&self) -> Option<&str> {
        self.caller.line()
    }

    /// The local line that speaks for the request: the caller's, or for a trunk's subscriber
    /// the callee's.
    pub fn speaking_line(&self) -> &str {
        self.caller.line_for(self.target.key())
    }

    /// The held call whose caller's INVITE this request keeps open, if it keeps one.
    pub fn held_leg(&self) -> Option<CallRef> {
        self.held_call.filter(|_| self.mode.holds_caller_leg())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        assert_eq!(CompletionId::new(0), None);
        assert_eq!(CompletionId::new(9).map(CompletionId::get), Some(9));
        assert_eq!(RequestState::Recalling.as_str(), "recalling");
        assert_eq!(
            serde_json::to_string(&CancelCause::RecallUnanswered).unwrap(),
            "\"recall_unanswered\""
        );
        for c in [
            CancelCause::Uncompleted,
            CancelCause::Expired,
            CancelCause::RecallUnanswered,
            CancelCause::RecallFailed,
            CancelCause::RecallCalleeUnavailable,
            CancelCause::CalleeDeleted,
            CancelCause::CallerDeleted,
            CancelCause::CallerUnregistered,
            CancelCause::CallerReleased,
            CancelCause::IntrusionFailed,
            CancelCause::MonitorRefused,
            CancelCause::MonitorTerminated,
        ] {
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.as_str())
            );
        }
    }
}
