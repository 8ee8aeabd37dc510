//! The telephony domain of callcomp, sans-IO.
//!
//! Lines, calls and their TAPI states, driven by facts from the B2BUA and by the current time,
//! producing the LINE_* events applications see (DESIGN.md §1, §2, §4). This crate knows nothing
//! of SIP or of tokio: the server translates SIP into [`Fact`]s, passes `now` as a [`Time`],
//! forwards the returned [`Event`]s and calls [`Switch::on_timer`] at [`Switch::next_deadline`].
//!
//! - [`tapi`]: the TAPI constants (call states, reasons, modes, feature bits).
//! - [`line_error`]: the LINEERR codes.
//! - [`time`]: time as an input.
//! - [`line`](mod@line), [`call`]: lines and call appearances.
//! - [`facts`]: what the B2BUA reports, including the classified failures.
//! - [`events`]: what applications are told.
//! - [`switch`]: the state machine.
//! - [`completion`]: call completion (lineCompleteCall and what follows), owned by the switch.

pub mod call;
pub mod completion;
pub mod events;
pub mod facts;
pub mod line;
pub mod line_error;
pub mod switch;
pub mod tapi;
pub mod time;

pub use call::{Call, CallFeatures, CallId, CallRef, Direction, IdAllocator, StateMode};
pub use completion::{
    Accepted, Action, AddressCaps, Availability, Caller, CancelCause, CompletionConfig,
    CompletionEvent, CompletionFact, CompletionFactError, CompletionId, CompletionPhase,
    CompletionRequest, CompletionTarget, LineDevState, LineLimits, LineStatus, RemoteTarget, Reply,
    RequestState, Snapshot, TrunkCaller,
};
pub use events::{AppNewCall, CallInfoChange, CallStateChange, Event, EventKind};
pub use facts::{CallerLeg, Fact, FactError, Failure, Party, Side};
pub use line::{AddLineError, Line};
pub use switch::{Switch, SwitchConfig, DEFAULT_OFFER_WINDOW};
pub use tapi::{
    BusyMode, CallInfoState, CallReason, CallState, CompletionCond, CompletionMode, DisconnectMode,
    LineErr,
};
pub use time::Time;
