//! The seam between the HTTP API and the server core.
//!
//! The API holds an `Arc<dyn Core>` and knows nothing else of the server: the core (which owns
//! the switch, the B2BUA, the store) implements this trait, and tests implement it over a
//! bare [`callcomp_switch::Switch`]. Reads are synchronous views of a snapshot, which a handler
//! first brings up to date ([`Core::catch_up`]); operations that make the core talk SIP return
//! boxed futures so the trait stays object-safe without `async_trait`.

use std::future::Future;
use std::pin::Pin;

use callcomp_switch::{Event, LineErr};
use tokio::sync::broadcast;

use super::views::{CallView, CompletionView, LineView, RegistrationView};

/// A boxed, sendable future: what the core's asynchronous operations return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the API needs from the server core.
pub trait Core: Send + Sync + 'static {
    /// Brings the synchronous reads up to date with everything the core did until now (the
    /// server's core publishes a copy of its switch only when asked, see
    /// `core::snapshot`); every handler that reads awaits it first. A core whose state is at
    /// hand has nothing to do.
    fn catch_up(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// Every line, by name.
    fn lines(&self) -> Vec<LineView>;

    /// The line named `name`; `LINEERR_INVALLINEHANDLE` if there is none.
    fn line(&self, name: &str) -> Result<LineView, LineErr>;

    /// The calls on line `name` that are not idle, by id; `LINEERR_INVALLINEHANDLE` for an
    /// unknown line.
    fn line_calls(&self, name: &str) -> Result<Vec<CallView>, LineErr>;

    /// Every call that is not idle, on any line, by id.
    fn calls(&self) -> Vec<CallView> {
        let mut calls: Vec<CallView> = self
            .lines()
            .iter()
            .filter_map(|l| self.line_calls(&l.name).ok())
            .flatten()
            .collect();
        calls.sort_by_key(|c| c.id);
        calls
    }

    /// The call with this id; `LINEERR_INVALCALLHANDLE` if there is none (0 included).
    fn call(&self, id: u32) -> Result<CallView, LineErr>;

    /// The live registered contacts of line `name`, best first; `LINEERR_INVALLINEHANDLE` for
    /// an unknown line. A core without a registrar has none.
    fn registrations(
        &self,
        name: String,
    ) -> BoxFuture<'_, Result<Vec<RegistrationView>, ApiFailure>> {
        Box::pin(async move {
            self.line(&name)
                .map(|_| Vec::new())
                .map_err(ApiFailure::from)
        })
    }

    /// lineMakeCall, third-party: ring line `line`'s phone, then `to`. Resolves once the call
    /// exists on the line (not when it is answered), with its view.
    fn make_call(&self, line: String, to: String) -> BoxFuture<'_, Result<CallView, ApiFailure>>;

    /// lineDrop: end call `id` (its SIP legs, or its offer window). Resolves once the core has
    /// accepted the drop; the state changes arrive as events.
    fn drop_call(&self, id: u32) -> BoxFuture<'_, Result<(), ApiFailure>>;

    /// lineCompleteCall on call `id` in mode `mode` (a `LINECALLCOMPLMODE_*` value) with
    /// predefined message `message_id`. Resolves with the completion id once the request is
    /// stored. A core without completion answers `LINEERR_OPERATIONUNAVAIL`.
    fn complete_call(
        &self,
        id: u32,
        mode: u32,
        message_id: u32,
    ) -> BoxFuture<'_, Result<u32, ApiFailure>> {
        let _ = (id, mode, message_id);
        Box::pin(async { Err(ApiFailure::Line(LineErr::OperationUnavail)) })
    }

    /// lineUncompleteCall: cancels request `id` of line `line`.
    fn uncomplete_call(&self, line: String, id: u32) -> BoxFuture<'_, Result<(), ApiFailure>> {
        let _ = (line, id);
        Box::pin(async { Err(ApiFailure::Line(LineErr::OperationUnavail)) })
    }

    /// The outstanding requests of line `name`, by id; `LINEERR_INVALLINEHANDLE` for an
    /// unknown line.
    fn line_completions(&self, name: &str) -> Result<Vec<CompletionView>, LineErr> {
        self.line(name).map(|_| Vec::new())
    }

    /// The requests waiting on callee `target`, its queue first.
    fn completions_for(&self, target: &str) -> Vec<CompletionView> {
        let _ = target;
        Vec::new()
    }

    /// Every outstanding request: callee by callee (by name), each callee's queue first,
    /// then its undelivered messages.
    fn completions(&self) -> Vec<CompletionView> {
        self.lines()
            .iter()
            .flat_map(|l| self.completions_for(&l.name))
            .collect()
    }

    /// A receiver of every event from now on, in `seq` order. The API turns a lag of the
    /// receiver into a `lagged` message; the stream ends when the core drops its sender.
    fn subscribe(&self) -> broadcast::Receiver<Event>;

    /// Why the store cannot keep what the server acknowledges (its file deleted or replaced,
    /// its commits failing), or `None` while it can; looked at anew on each call. A core with
    /// no store has nothing to lose.
    fn store_problem(&self) -> Option<String> {
        None
    }
}

/// Why a core operation failed: a TAPI line error, optionally with the detail that explains it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiFailure {
    /// A line error, as is.
    #[error(transparent)]
    Line(#[from] LineErr),
    /// A line error with a detail for the message (`LINEERR_OPERATIONFAILED`: "the phone of
    /// alice did not answer").
    #[error("{error}: {detail}")]
    Detailed {
        /// The line error.
        error: LineErr,
        /// What went wrong, for a person.
        detail: String,
    },
    /// The destination is not an address the core can call (`LINEERR_INVALADDRESS`).
    #[error("the destination `{0}` is not a valid address")]
    InvalAddress(String),
}
