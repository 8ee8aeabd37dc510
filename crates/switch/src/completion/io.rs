//! What the server tells the completion engine ([`CompletionFact`]) and what the engine asks the
//! server to do ([`Action`]).
//!
//! Calls through callcomp need no completion facts: the switch sees them as ordinary [`Fact`]s
//! (a callee's call starting, being established, ending; a caller's phone busy or free) and
//! feeds the engine itself. Completion facts cover what the switch cannot see: registrations,
//! RFC 4235 dialog state, RFC 6910 suspend/resume, the outcome of a recall or a message.
//!
//! [`Fact`]: crate::Fact

use serde::Serialize;

use crate::call::CallRef;
use crate::completion::request::{CancelCause, CompletionId};

/// Something the server learned that matters to completion requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompletionFact {
    /// A line's phone registered (or refreshed a binding after having none).
    Registered {
        /// The line.
        line: String,
    },
    /// A line's phone has no binding any more.
    Unregistered {
        /// The line.
        line: String,
    },
    /// The callee's phone reports no dialog (RFC 4235 `terminated` for all dialogs): busy
    /// requests whose availability was unknown may fire.
    CalleeDialogIdle {
        /// The callee's line.
        line: String,
    },
    /// The caller's agent suspended a request (RFC 6910 PUBLISH `closed`).
    Suspend {
        /// The request.
        id: CompletionId,
    },
    /// The caller's agent resumed a request (RFC 6910 PUBLISH `open`).
    Resume {
        /// The request.
        id: CompletionId,
    },
    /// The caller answered the recall; the server now calls the callee.
    RecallAnswered {
        /// The request.
        id: CompletionId,
    },
    /// The caller rejected the recall or let it ring out: the request goes back to its queue
    /// until `recall_attempts` recalls failed, then ends `recall_unanswered`.
    RecallUnanswered {
        /// The request.
        id: CompletionId,
    },
    /// The recall could not reach the caller's phone.
    RecallFailed {
        /// The request.
        id: CompletionId,
    },
    /// The callee answered the recall: the request has fired (completed).
    RecallConnected {
        /// The request.
        id: CompletionId,
    },
    /// The caller's completion call (RFC 6910 §6.4: an INVITE to the request's cc URI)
    /// arrived while the request was selected (`ready` or `recalling`): a recall ringing is
    /// stopped, the request is `recalling` and the callee stays reserved for this caller while
    /// the CC call rings him. Its outcome is reported with the recall's facts:
    /// `RecallConnected` (the callee answered: completed), `RecallCalleeBusy`,
    /// `RecallCalleeNoAnswer` or `RecallUnanswered` (the caller gave up): a failed attempt,
    /// back in the queue (RFC 6910 §7.4 retention) until `recall_attempts` failed.
    CcCall {
        /// The request.
        id: CompletionId,
    },
    /// The recall found the callee busy again: the request keeps its place (RFC 6910 §7.4
    /// retention) until `recall_attempts` recalls failed.
    RecallCalleeBusy {
        /// The request.
        id: CompletionId,
    },
    /// The callee's phone rang for the recall and was not answered (`recall_callee_ring`, or
    /// it refused): as [`Self::RecallCalleeBusy`].
    RecallCalleeNoAnswer {
        /// The request.
        id: CompletionId,
    },
    /// The caller's phone answered the recall busy: the request is suspended (not counted as
    /// an attempt) and resumes when the caller is free.
    RecallCallerBusy {
        /// The request.
        id: CompletionId,
    },
    /// The callee's phone took the message (2xx to the MESSAGE).
    MessageDelivered {
        /// The request.
        id: CompletionId,
    },
    /// The message was refused or timed out: it is tried again at the next registration.
    MessageFailed {
        /// The request.
        id: CompletionId,
    },
    /// The intruder's caller leg is answered into the callee's call, now mixed by callcomp:
    /// the intrusion happened.
    IntrusionJoined {
        /// The request.
        id: CompletionId,
    },
    /// The intrusion could not be set up (the callee's call ended first, a re-INVITE
    /// failed): the request ends with `intrusion_failed` and the held caller gets 486.
    IntrusionFailed {
        /// The request.
        id: CompletionId,
    },
    /// A remote target's monitor said `ready` (RFC 6910 NOTIFY `cc-state: ready`): the
    /// request's condition is met, naming the request's `cc-URI` if the NOTIFY did.
    RemoteReady {
        /// The request.
        id: CompletionId,
        /// The `cc-URI` the NOTIFY named.
        cc_uri: Option<String>,
    },
    /// A remote target's monitor refused or ended the subscription: the request ends with
    /// `cause` (`monitor_refused`, `monitor_terminated`, `expired`).
    RemoteEnded {
        /// The request.
        id: CompletionId,
        /// Why.
        cause: CancelCause,
    },
    /// A line is about to be removed from the configuration: its requests end, as caller
    /// (`caller_deleted`) and as callee (`callee_deleted`).
    LineRemoved {
        /// The line.
        line: String,
    },
}

impl CompletionFact {
    /// A short name of the fact's kind, for errors and logs.
    pub const fn kind(&self) -> &'static str {
        match self {
            CompletionFact::Registered { .. } => "registered",
            CompletionFact::Unregistered { .. } => "unregistered",
            CompletionFact::CalleeDialogIdle { .. } => "callee_dialog_idle",
            CompletionFact::Suspend { .. } => "suspend",
            CompletionFact::Resume { .. } => "resume",
            CompletionFact::RecallAnswered { .. } => "recall_answered",
            CompletionFact::RecallUnanswered { .. } => "recall_unanswered",
            CompletionFact::RecallFailed { .. } => "recall_failed",
            CompletionFact::RecallConnected { .. } => "recall_connected",
            CompletionFact::CcCall { .. } => "cc_call",
            CompletionFact::RecallCalleeBusy { .. } => "recall_callee_busy",
            CompletionFact::RecallCalleeNoAnswer { .. } => "recall_callee_no_answer",
            CompletionFact::RecallCallerBusy { .. } => "recall_caller_busy",
            CompletionFact::MessageDelivered { .. } => "message_delivered",
            CompletionFact::MessageFailed { .. } => "message_failed",
            CompletionFact::RemoteReady { .. } => "remote_ready",
            CompletionFact::RemoteEnded { .. } => "remote_ended",
            CompletionFact::IntrusionJoined { .. } => "intrusion_joined",
            CompletionFact::IntrusionFailed { .. } => "intrusion_failed",
            CompletionFact::LineRemoved { .. } => "line_removed",
        }
    }
}

/// Why a completion fact was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompletionFactError {
    /// The fact names a line the switch does not have.
    #[error("unknown line `{0}`")]
    UnknownLine(String),
    /// The fact names a request that is not outstanding.
    #[error("completion {0} is not outstanding")]
    UnknownCompletion(CompletionId),
    /// The request is not in a state where this fact can happen.
    #[error("fact `{fact}` does not apply to completion {id} while it is {state}")]
    InvalidInState {
        /// The request.
        id: CompletionId,
        /// The fact's kind.
        fact: &'static str,
        /// The request's state (`queued`, `recalling`, …) or mode.
        state: &'static str,
    },
}

/// Something the server must do on the SIP side. Drained with [`crate::Switch::poll_actions`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Ring the caller back: INVITE the caller's phone (From showing the callee); report the
    /// call as usual with `Fact::Offered { reason: callcompletion, completion_id: id }` and its
    /// outcome with the `Recall*` completion facts.
    Recall {
        /// The request.
        id: CompletionId,
        /// The caller's line, to ring.
        caller: String,
        /// The callee's line, to call once the caller answers.
        callee: String,
    },
    /// Stop ringing the caller for this recall (it rang `recall_ring` unanswered, or was cancelled).
    CancelRecall {
        /// The request.
        id: CompletionId,
    },
    /// Put the camped-on call through to the callee now (its caller leg is still held).
    ConnectCampOn {
        /// The request (already completed).
        id: CompletionId,
        /// The held call.
        call: CallRef,
        /// The callee's line.
        callee: String,
    },
    /// Give up a held caller leg (a camp-on, an intrusion not joined): answer it with 486.
    RejectCampOn {
        /// The request.
        id: CompletionId,
        /// The held call.
        call: CallRef,
    },
    /// Deliver a predefined message (SIP MESSAGE, text/plain); report the outcome with
    /// `MessageDelivered` / `MessageFailed`.
    SendMessage {
        /// The request.
        id: CompletionId,
        /// The callee's line.
        to: String,
        /// The caller's line.
        from: String,
        /// The text.
        text: String,
    },
    /// Join the held caller of `call` into the callee's connected call `into`: move that
    /// call's media onto callcomp's mixer, play the warning tone, answer the caller into the
    /// mix; report `IntrusionJoined` or `IntrusionFailed`.
    Intrude {
        /// The request.
        id: CompletionId,
        /// The intruder's held call.
        call: CallRef,
        /// The callee's call to join.
        into: CallRef,
    },
    /// Stop the callee's ringing (CANCEL) and end the caller's leg (480 with the offer): a
    /// `callback` or `message` was requested while the call was still ringing.
    CancelRinging {
        /// The call.
        call: CallRef,
    },
    /// End a held caller leg (486): a `callback` or `message` was requested on it.
    ReleaseCaller {
        /// The call.
        call: CallRef,
    },
}
