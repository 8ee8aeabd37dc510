//! Facts: what the B2BUA tells the switch about its calls.
//!
//! The server translates SIP into these (an INVITE from a phone, a 180 from the callee, a
//! classified failure, a BYE) and hands them to [`crate::Switch::handle`] with the current time.
//! A B2BUA call is named by a [`CallRef`] the server chooses; the switch keeps the mapping to its
//! own call ids. Failures are classified per DESIGN §3: 486/600 are busy; a ring timeout or
//! 480/408/487 after ringing is no answer; a callee with no binding is not registered.

use serde::{Deserialize, Serialize};

use crate::call::{CallId, CallRef};
use crate::tapi::{BusyMode, CallReason, CallState, DisconnectMode};

/// One thing that happened to a B2BUA call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// A new call arrived from `from`, dialling `to` (the caller's INVITE).
    Dialed {
        /// The server's handle for the new call; must be new to the switch.
        call: CallRef,
        /// Who is calling.
        from: Party,
        /// What was dialled, as the caller's call will show it.
        to: String,
    },
    /// The call is being routed onwards (the callee leg is being set up).
    Proceeding {
        /// The call.
        call: CallRef,
    },
    /// The call is being presented to a line's phone (INVITE sent to the callee's binding).
    Offered {
        /// The call.
        call: CallRef,
        /// The callee's line.
        line: String,
        /// Why the call is offered (`direct` for an ordinary call).
        reason: CallReason,
        /// The completion request behind the offer; only with reason `callcompletion`.
        completion_id: Option<u32>,
    },
    /// The callee's phone is alerting (a 180 or 183 from the callee).
    Ringing {
        /// The call.
        call: CallRef,
    },
    /// The callee answered (a 2xx from the callee).
    Answered {
        /// The call.
        call: CallRef,
    },
    /// The callee side failed before an answer, classified.
    Failed {
        /// The call.
        call: CallRef,
        /// How it failed.
        cause: Failure,
        /// Whether the server ended the caller's leg or holds it open (DESIGN §2.5 `busy_hold`).
        caller_leg: CallerLeg,
    },
    /// The server finally ended a caller leg it had held open after a failure.
    CallerReleased {
        /// The call.
        call: CallRef,
    },
    /// One side hung up (BYE, or CANCEL from the caller before an answer).
    Hangup {
        /// The call.
        call: CallRef,
        /// Which side hung up.
        by: Side,
    },
}

impl Fact {
    /// A `direct` offer of `call` to `line`.
    pub fn offered(call: CallRef, line: impl Into<String>) -> Fact {
        Fact::Offered {
            call,
            line: line.into(),
            reason: CallReason::Direct,
            completion_id: None,
        }
    }

    /// The B2BUA call the fact is about.
    pub fn call_ref(&self) -> CallRef {
        match self {
            Fact::Dialed { call, .. }
            | Fact::Proceeding { call }
            | Fact::Offered { call, .. }
            | Fact::Ringing { call }
            | Fact::Answered { call }
            | Fact::Failed { call, .. }
            | Fact::CallerReleased { call }
            | Fact::Hangup { call, .. } => *call,
        }
    }

    /// A short name of the fact's kind, for errors and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Fact::Dialed { .. } => "dialed",
            Fact::Proceeding { .. } => "proceeding",
            Fact::Offered { .. } => "offered",
            Fact::Ringing { .. } => "ringing",
            Fact::Answered { .. } => "answered",
            Fact::Failed { .. } => "failed",
            Fact::CallerReleased { .. } => "caller_released",
            Fact::Hangup { .. } => "hangup",
        }
    }
}

/// A party to a call: one of the switch's lines, or someone else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Party {
    /// A configured line, by name.
    Line(String),
    /// Anyone else, by address (a URI as the server spells it).
    External(String),
}

/// Which side of a B2BUA call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The party that placed the call.
    Caller,
    /// The party that was called.
    Callee,
}

/// What the server did with the caller's leg after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallerLeg {
    /// The caller got its final failure response; the leg is over.
    Released,
    /// The leg is held open (183) waiting for a camp-on or intrusion decision.
    Held,
}

/// How the callee side of a call failed (issue #3 item 4, DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Failure {
    /// The callee is busy (486, 600, or busy-on-busy).
    Busy,
    /// The callee rang but did not answer (ring timeout, or 480/408/487 after ringing).
    NoAnswer,
    /// The callee has no registered binding.
    NotRegistered,
    /// The target is not a known user (404).
    NotFound,
    /// The callee refused with this final status (any other 4xx-6xx).
    Rejected(u16),
    /// No response came back (transport error or timeout before ringing).
    Unreachable,
    /// The attempt was cancelled before it rang (487 with no ringing).
    Cancelled,
}

impl Failure {
    /// The state the caller's call waits in during its offer window, for the failures that
    /// can be completed (busy, no answer, not registered); `None` for the others.
    ///
    /// Not registered shows as `busy` because TAPI only completes `busy` or `ringback` calls;
    /// the busy mode `unavail` tells it apart from a real busy station.
    pub const fn offer_state(self) -> Option<(CallState, Option<BusyMode>)> {
        match self {
            Failure::Busy => Some((CallState::Busy, Some(BusyMode::Station))),
            Failure::NoAnswer => Some((CallState::Ringback, None)),
            Failure::NotRegistered => Some((CallState::Busy, Some(BusyMode::Unavail))),
            Failure::NotFound
            | Failure::Rejected(_)
            | Failure::Unreachable
            | Failure::Cancelled => None,
        }
    }

    /// The disconnect mode a call shows when it ends because of this failure.
    pub const fn disconnect_mode(self) -> DisconnectMode {
        match self {
            Failure::Busy => DisconnectMode::Busy,
            Failure::NoAnswer => DisconnectMode::Noanswer,
            Failure::NotRegistered => DisconnectMode::Unavail,
            Failure::NotFound => DisconnectMode::Badaddress,
            Failure::Rejected(_) => DisconnectMode::Reject,
            Failure::Unreachable => DisconnectMode::Unreachable,
            Failure::Cancelled => DisconnectMode::Cancelled,
        }
    }
}

/// Why a fact was refused; the switch's state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactError {
    /// The call ref is not (or no longer) known to the switch.
    #[error("unknown call ref {0}")]
    UnknownCall(CallRef),
    /// A `Dialed` fact reused a call ref the switch still knows.
    #[error("call ref {0} is already in use")]
    DuplicateCall(CallRef),
    /// An `Offered` fact for a call already offered to a line.
    #[error("call ref {0} has already been offered to a line")]
    AlreadyOffered(CallRef),
    /// The fact names a line the switch does not have.
    #[error("unknown line `{0}`")]
    UnknownLine(String),
    /// The fact cannot happen in the call's current phase.
    #[error("fact `{fact}` is not valid for call ref {call} while it is {phase}")]
    InvalidInPhase {
        /// The call.
        call: CallRef,
        /// The fact's kind.
        fact: &'static str,
        /// The phase the call is in.
        phase: &'static str,
    },
    /// A completion id of 0, or one given without reason `callcompletion`.
    #[error("completion id {completion_id:?} does not fit reason {reason}")]
    BadCompletionId {
        /// The id given.
        completion_id: Option<u32>,
        /// The reason given.
        reason: CallReason,
    },
    /// Every call id is in use.
    #[error("no call id is free")]
    NoCallId,
    /// An internal inconsistency: a call the switch tracks is missing.
    #[error("call {0} is missing from the call table")]
    MissingCall(CallId),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DESIGN §2.5 and §3: which failures wait in which state, and how they disconnect.
    #[test]
    fn failure_classification_table() {
        type Row = (
            Failure,
            Option<(CallState, Option<BusyMode>)>,
            DisconnectMode,
        );
        let rows: &[Row] = &[
            (
                Failure::Busy,
                Some((CallState::Busy, Some(BusyMode::Station))),
                DisconnectMode::Busy,
            ),
            (
                Failure::NoAnswer,
                Some((CallState::Ringback, None)),
                DisconnectMode::Noanswer,
            ),
            (
                Failure::NotRegistered,
                Some((CallState::Busy, Some(BusyMode::Unavail))),
                DisconnectMode::Unavail,
            ),
            (Failure::NotFound, None, DisconnectMode::Badaddress),
            (Failure::Rejected(603), None, DisconnectMode::Reject),
            (Failure::Unreachable, None, DisconnectMode::Unreachable),
            (Failure::Cancelled, None, DisconnectMode::Cancelled),
        ];
        for &(failure, offer, disconnect) in rows {
            assert_eq!(failure.offer_state(), offer, "{failure:?}");
            assert_eq!(failure.disconnect_mode(), disconnect, "{failure:?}");
        }
    }

    #[test]
    fn fact_names_its_call() {
        let f = Fact::offered(CallRef(9), "bob");
        assert_eq!(f.call_ref(), CallRef(9));
        assert_eq!(f.kind(), "offered");
        assert_eq!(
            serde_json::to_string(&Failure::Rejected(603)).unwrap(),
            r#"{"rejected":603}"#
        );
    }
}
