//! Export and re-import of outstanding requests, so a restart resumes them (DESIGN §5).
//!
//! A [`Snapshot`] is plain serde data: the requests in acceptance order (which is queue order)
//! and the next id to hand out. On import a request that was `ready` or `recalling` comes back
//! `queued` (the guard or the ringing phone did not survive), and the first timer tick after
//! the import ends what cannot come back: requests whose expiry passed (`expired`, or
//! `caller_unregistered`), camp-ons (their held SIP leg is gone: `caller_released`), and
//! requests naming a line that no longer exists (`caller_deleted` / `callee_deleted`).

use serde::{Deserialize, Serialize};

use crate::call::IdAllocator;
use crate::completion::engine::{Engine, Timer};
use crate::completion::request::{CancelCause, CompletionId, CompletionRequest, RequestState};
use crate::time::Time;

/// Every outstanding request, for the store.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// The id the engine would try next (so ids are not reused soon after a restart).
    pub next_id: u32,
    /// The requests, oldest first.
    pub requests: Vec<CompletionRequest>,
}

/// Why a snapshot was refused; nothing was imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The engine already has requests: import only into a fresh switch.
    #[error("the switch already has outstanding completion requests")]
    NotEmpty,
    /// Two requests share an id.
    #[error("completion id {0} appears twice")]
    DuplicateId(CompletionId),
    /// Two requests share a queue place.
    #[error("queue place {0} appears twice")]
    DuplicateSeq(u64),
}

impl Engine {
    /// The outstanding requests, oldest first.
    pub fn export(&self) -> Snapshot {
        let mut requests: Vec<CompletionRequest> = self
            .requests
            .values()
            .map(|r| CompletionRequest {
                recall_until: None,
                ..r.clone()
            })
            .collect();
        requests.sort_by_key(|r| r.seq);
        let next_id = requests
            .iter()
            .map(|r| r.id.get())
            .max()
            .map_or(1, |m| m.checked_add(1).unwrap_or(1));
        Snapshot { next_id, requests }
    }

    /// Loads `snapshot` into an engine with no request; `line_exists` says which lines the
    /// switch has. What cannot come back ends at the first timer tick at or after `now`.
    pub fn import(
        &mut self,
        snapshot: Snapshot,
        line_exists: impl Fn(&str) -> bool,
        now: Time,
    ) -> Result<(), ImportError> {
        if !self.requests.is_empty() {
            return Err(ImportError::NotEmpty);
        }
        let mut ids = std::collections::HashSet::new();
        let mut seqs = std::collections::HashSet::new();
        for r in &snapshot.requests {
            if !ids.insert(r.id) {
                return Err(ImportError::DuplicateId(r.id));
            }
            if !seqs.insert(r.seq) {
                return Err(ImportError::DuplicateSeq(r.seq));
            }
        }
        let mut requests = snapshot.requests;
        requests.sort_by_key(|r| r.seq);
        for mut r in requests {
            if matches!(r.state, RequestState::Ready | RequestState::Recalling) {
                r.state = RequestState::Queued;
            }
            r.recall_until = None;
            self.next_seq = self.next_seq.max(r.seq.saturating_add(1));
            let doom = if r.line().is_some_and(|l| !line_exists(l)) {
                Some(CancelCause::CallerDeleted)
            } else if r.target.line().is_some_and(|l| !line_exists(l)) {
                Some(CancelCause::CalleeDeleted)
            } else if r.mode.holds_caller_leg() {
                // The held leg died with the process: nothing to reject.
                r.held_call = None;
                Some(CancelCause::CallerReleased)
            } else {
                None
            };
            match doom {
                Some(cause) => self.doomed.push((r.id, cause)),
                None => {
                    self.deadlines.insert((r.expiry, Timer::Expiry(r.id)));
                }
            }
            self.enqueue(r);
        }
        self.ids = IdAllocator::starting_at(snapshot.next_id);
        self.settle_at = Some(now);
        Ok(())
    }
}
