//! Call completion (DESIGN §2.1-§2.4): lineCompleteCall and lineUncompleteCall, the per-callee
//! queues, availability, the guard, recalls and expiries, sans-IO with time as an input.
//!
//! The [`Switch`](crate::Switch) owns the [`Engine`]: validation needs the switch's calls,
//! acceptance changes the original call (it goes idle, or a camp-on later proceeds with reason
//! `callcompletion`), the engine learns who is busy from the same call facts, and every event
//! takes its number from the switch's one counter. The engine keeps to its own tables and
//! hands the switch what to apply.
//!
//! - [`request`]: requests, their ids, states and end causes; [`caller`]: whose they are (a
//!   line, or a trunk's subscriber).
//! - [`caps`]: settings, address capabilities, line status.
//! - [`mode`]: what each mode needs, what fires it, what it does to the original call.
//! - [`validate`]: DESIGN §2.1's checks, in order.
//! - [`queue`]: one callee's FIFO queue.
//! - [`engine`]: the engine's tables, acceptance, facts, timers, ends; with `availability`
//!   (who is free, met conditions), `selection` (queue walk, guard, firing, retention) and
//!   `recall_outcome` (a recall's failures: back in the queue, suspended, or the end) and
//!   `remote` (a remote target's monitor said `ready`).
//! - [`io`]: the facts the server reports and the actions it must take.
//! - [`events`]: `reply`, `linedevstate`, `completion`.
//! - [`snapshot`]: export and import across a restart.
//! - [`target`]: whom a request waits for, a line or a remote party (RFC 6910 agent).
//! - `switch_api`: the `Switch` methods applications and the server call; `trunk_request`:
//!   the request of another server's subscriber (over a trunk).

mod availability;
pub mod caller;
pub mod caps;
pub mod engine;
pub mod events;
pub mod io;
pub mod mode;
pub mod queue;
mod recall_outcome;
mod remote;
pub mod request;
mod selection;
pub mod snapshot;
mod switch_api;
pub mod target;
mod trunk_request;
pub mod validate;

pub use caller::{Caller, TrunkCaller};
pub use caps::{AddressCaps, CompletionConfig, LineLimits, LineStatus};
pub use engine::Engine;
pub use events::{CompletionEvent, CompletionPhase, DevState, LineDevState, Reply, ReplyTo};
pub use io::{Action, CompletionFact, CompletionFactError};
pub use request::{Availability, CancelCause, CompletionId, CompletionRequest, RequestState};
pub use snapshot::{ImportError, Snapshot};
pub use switch_api::Accepted;
pub use target::{CompletionTarget, RemoteTarget};
