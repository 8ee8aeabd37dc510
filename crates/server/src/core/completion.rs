//! Call completion in the core: the engine in the switch gets the facts only the server knows
//! (registrations), its actions are carried out on the wire after every input, and every
//! outstanding request is kept in the store (DESIGN §2, §5).
//!
//! Durability, one rule (DESIGN §5): what the application asked for changes nothing anyone can
//! see until the store has committed it.
//!
//! - **lineCompleteCall**: the switch checks and builds the request
//!   ([`Switch::prepare_completion`](callcomp_switch::Switch::prepare_completion)), the row is
//!   written, and only once it committed is the request accepted: the original call follows
//!   the mode, the events go out (`reply`, `numcompletions`, …), the SIP effects happen, and
//!   the API gets the id. If the write fails, nothing happened: the only event is a `reply`
//!   carrying the error, and the API gets `LINEERR_RESOURCEUNAVAIL` (store unavailable) or
//!   `LINEERR_OPERATIONFAILED`.
//! - **lineUncompleteCall**: the delete commits first, then the request is cancelled and the
//!   API answered; until then no write of that request is queued (it could bring the row
//!   back), so a cancelled request never fires after a crash.
//! - Everything the engine does by itself (state changes, expiry, completion) re-writes or
//!   deletes the request's row through the same ordered store queue.
//!
//! [`Engine::complete_call`] and [`Engine::uncomplete_call`] give a ticket;
//! [`Engine::drain_replies`] the answers. At start [`snapshot_of`] turns the stored rows back
//! into the engine's snapshot.

use std::collections::{BTreeSet, HashMap};

use callcomp_switch::completion::mode::OriginalCall;
use callcomp_switch::completion::CompletionConfig as EngineConfig;
use callcomp_switch::{
    Action, CallRef, CompletionFact, CompletionId, CompletionRequest, EventKind, LineErr, Snapshot,
};

use super::{with_cx, Engine, Now, StoreFault, StoreJob};
use crate::config::Config;
use crate::store::StoredCompletion;

/// The engine's settings from `[completion]`.
pub fn engine_config(config: &Config) -> EngineConfig {
    let c = &config.completion;
    EngineConfig {
        modes: c.modes.clone(),
        max_call_completions: c.max_call_completions,
        max_queue: c.max_queue,
        guard: std::time::Duration::from_millis(c.guard_ms),
        recall_ring: c.recall_ring,
        recall_attempts: c.recall_attempts,
        campon_max: c.campon_max,
        ccbs_expiry: c.ccbs_expiry,
        ccnr_expiry: c.ccnr_expiry,
        ccnl_expiry: c.ccnl_expiry,
        completion_messages: c.completion_messages.clone(),
        ..EngineConfig::default()
    }
}

/// The store row of request `r`; `None` only if it cannot be encoded (never for the
/// engine's own types).
pub fn stored_row(r: &CompletionRequest) -> Option<StoredCompletion> {
    let data = serde_json::to_string(r).ok()?;
    Some(StoredCompletion {
        completion_id: r.id.get(),
        line: r.speaking_line().to_owned(),
        target: r.target.key().to_owned(),
        mode: r.mode.as_str().to_owned(),
        state: r.state.as_str().to_owned(),
        seq: r.seq,
        data,
    })
}

/// The callee line of `r` whose availability is unknown (it said busy with no call known to
/// callcomp): RFC 4235 watches its phones. Never a remote callee (its monitor tells).
fn unknown_callee(r: &CompletionRequest) -> Option<String> {
    let unknown = r.availability() == callcomp_switch::Availability::Unknown && r.mode.queues();
    r.target.line().filter(|_| unknown).map(str::to_owned)
}

/// The engine snapshot of stored rows (in queue order) and of the store's id high-water mark
/// `next_id` ([`Store::next_completion_id`](crate::store::Store::next_completion_id)), so that
/// ids are never issued twice; rows that do not decode are left out with a warning.
pub fn snapshot_of(rows: Vec<StoredCompletion>, next_id: u32) -> Snapshot {
    let mut requests: Vec<CompletionRequest> = rows
        .into_iter()
        .filter_map(|row| match serde_json::from_str(&row.data) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, completion = row.completion_id, "stored completion request dropped");
                None
            }
        })
        .collect();
    requests.sort_by_key(|r: &CompletionRequest| r.seq);
    Snapshot {
        next_id: next_id.max(1),
        requests,
    }
}

/// A lineCompleteCall waiting for its store write.
#[derive(Debug, Clone)]
pub(crate) struct Accepting {
    /// The request.
    id: CompletionId,
    /// The row written.
    row: StoredCompletion,
    /// The held call whose caller's INVITE the request keeps open meanwhile.
    kept: Option<CallRef>,
}

/// The bookkeeping of completion in the core.
#[derive(Debug, Default)]
pub(crate) struct CompletionState {
    /// How many of the core's pending events were already looked at for store writes.
    pub(crate) synced: usize,
    /// Requests to re-write or delete at the end of the current input.
    pub(crate) dirty: BTreeSet<u32>,
    /// Acceptances waiting for their store write: job id → what was asked.
    pub(crate) accepts: HashMap<u64, Accepting>,
    /// Cancels waiting for their store delete: job id → (line, completion id).
    pub(crate) cancels: HashMap<u64, (String, u32)>,
    /// Answers for the API: ticket → completion id or error.
    pub(crate) replies: Vec<(u64, Result<u32, LineErr>)>,
}

impl CompletionState {
    fn cancelling(&self, id: u32) -> bool {
        self.cancels.values().any(|(_, c)| *c == id)
    }
}

impl Engine {
    /// `lineCompleteCall` for the API (which owns every call): see `Engine::request_completion`.
    pub fn complete_call(
        &mut self,
        call: u32,
        mode: u32,
        message_id: u32,
        now: Now,
    ) -> Result<u64, LineErr> {
        self.request_completion(None, call, mode, message_id, now)
    }

    /// The one path of every lineCompleteCall, the application's and the per-user policy's
    /// (`requester` is the line acting, `None` for the API): checks and builds the request,
    /// keeps a held caller leg open if the mode needs it, then queues the store write; nothing
    /// else happens yet. The answer comes through [`Engine::drain_replies`] under the
    /// returned ticket once the write committed, and the mode's follow-up runs then.
    pub(crate) fn request_completion(
        &mut self,
        requester: Option<&str>,
        call: u32,
        mode: u32,
        message_id: u32,
        now: Now,
    ) -> Result<u64, LineErr> {
        let request = self
            .switch
            .prepare_completion(requester, call, mode, message_id, now.wall)?;
        Ok(self.store_prepared(request, now))
    }

    /// The request of another server's subscriber (callcomp as its RFC 6910 monitor over
    /// `caller`'s trunk), on its failed call to `target` with `condition`: checked against the
    /// trunk's limit `max` and built by the switch, then stored and accepted as every request
    /// ([`Engine::request_completion`]'s path from the build on).
    pub(crate) fn request_trunk_completion(
        &mut self,
        caller: callcomp_switch::TrunkCaller,
        target: &str,
        condition: callcomp_switch::CompletionCond,
        max: u32,
        now: Now,
    ) -> Result<u64, LineErr> {
        let request = self
            .switch
            .prepare_trunk_completion(caller, target, condition, max, now.wall)?;
        Ok(self.store_prepared(request, now))
    }

    /// The accept path of every prepared request: a held caller leg kept open if the mode
    /// needs it, the store write queued; the answer comes under the returned ticket.
    fn store_prepared(&mut self, request: CompletionRequest, now: Now) -> u64 {
        let id = request.id;
        self.next_job += 1;
        let job = self.next_job;
        let kept = request
            .held_leg()
            .filter(|call| self.b2bua.keep_held(*call));
        match stored_row(&request) {
            Some(row) => {
                let accepting = Accepting {
                    id,
                    row: row.clone(),
                    kept,
                };
                self.completion.accepts.insert(job, accepting);
                self.jobs.push(StoreJob::SaveCompletion { id: job, row });
            }
            // The engine's own types always encode; if one did not, nothing can be kept.
            None => {
                let events = self
                    .switch
                    .abandon_completion(id, LineErr::OperationFailed, now.wall);
                self.events.extend(events);
                self.completion
                    .replies
                    .push((job, Err(LineErr::OperationFailed)));
                self.release_kept(kept, now);
            }
        }
        job
    }

    /// The completions the per-user policy asked for during the last input, run through
    /// [`Engine::request_completion`]; a refused one only logs (a kept leg gets its 486).
    fn run_policy_asks(&mut self, now: Now) {
        for ask in self.b2bua.take_asks() {
            let asked =
                self.request_completion(Some(&ask.line), ask.call, ask.mode.value(), 0, now);
            match asked {
                Ok(_) => tracing::info!(
                    line = ask.line,
                    mode = ask.mode.as_str(),
                    "completion requested by policy"
                ),
                Err(e) => {
                    tracing::info!(line = ask.line, error = %e, "policy could not request completion");
                }
            }
        }
    }

    /// A request that kept a held leg was refused: the caller gets its 486.
    fn release_kept(&mut self, kept: Option<CallRef>, now: Now) {
        if let Some(call) = kept {
            self.with_ctx(now, |b2bua, cx| b2bua.release_kept(cx, call));
        }
    }

    /// `lineUncompleteCall`: checks that request `id` of `line` is outstanding, then queues
    /// the delete of its row; the request is cancelled once the delete committed, and the
    /// answer comes through [`Engine::drain_replies`] under the returned ticket.
    pub fn uncomplete_call(&mut self, line: &str, id: u32, _now: Now) -> Result<u64, LineErr> {
        self.switch.check_uncomplete(line, id)?;
        if self.completion.cancelling(id) {
            // Already being cancelled: for this request it is as good as gone.
            return Err(LineErr::InvalCompletionId);
        }
        self.next_job += 1;
        let job = self.next_job;
        self.completion.cancels.insert(job, (line.to_owned(), id));
        self.jobs.push(StoreJob::DeleteCompletion {
            id: job,
            completion_id: id,
        });
        Ok(job)
    }

    /// Answers to [`Engine::complete_call`] and [`Engine::uncomplete_call`] whose store write
    /// finished.
    pub fn drain_replies(&mut self) -> Vec<(u64, Result<u32, LineErr>)> {
        std::mem::take(&mut self.completion.replies)
    }

    /// A completion store job finished: apply the acceptance or the cancel it carried, or
    /// refuse it.
    pub(super) fn completion_stored(&mut self, job: u64, result: Result<(), StoreFault>, now: Now) {
        if let Some(accepting) = self.completion.accepts.remove(&job) {
            self.accept_stored(job, accepting, result, now);
        } else if let Some((line, id)) = self.completion.cancels.remove(&job) {
            self.cancel_stored(job, &line, id, result, now);
        }
    }

    fn accept_stored(
        &mut self,
        job: u64,
        accepting: Accepting,
        result: Result<(), StoreFault>,
        now: Now,
    ) {
        let Accepting { id, row, kept } = accepting;
        if let Err(fault) = result {
            tracing::error!(
                completion = id.get(),
                "storing a completion request failed; refused"
            );
            let events = self
                .switch
                .abandon_completion(id, fault.line_err(), now.wall);
            self.events.extend(events);
            self.completion.replies.push((job, Err(fault.line_err())));
            self.release_kept(kept, now);
            self.pump(now);
            return;
        }
        let committed = self.switch.commit_completion(id, now.wall);
        let accepted = match committed {
            Ok(accepted) => accepted,
            Err(e) => {
                // The caller let go of its camp-on meanwhile: the stored row goes again.
                let events = self.switch.abandon_completion(id, e, now.wall);
                self.events.extend(events);
                self.next_job += 1;
                self.jobs.push(StoreJob::DeleteCompletion {
                    id: self.next_job,
                    completion_id: id.get(),
                });
                self.completion.replies.push((job, Err(e)));
                self.release_kept(kept, now);
                self.pump(now);
                return;
            }
        };
        // The row just written is the request as accepted; re-write it only if it moved on.
        self.sync_store(now);
        self.events.extend(accepted.events);
        self.completion.synced = self.events.len();
        let (campon, unknown, moved) = {
            let switch = &*self.switch;
            let request = switch.completion(id);
            let campon = request
                .filter(|r| r.mode.original_call() == OriginalCall::StaysHeld)
                .and(kept);
            let unknown = request.and_then(unknown_callee);
            let moved = request.and_then(stored_row).is_none_or(|now| now != row);
            (campon, unknown, moved)
        };
        if moved {
            self.completion.dirty.insert(id.get());
        }
        if let Some(callee) = unknown {
            with_cx!(self, now, |cx| self
                .subs
                .watches
                .watch_dialogs(&mut cx, &callee));
        }
        if let Some(call_ref) = campon {
            self.with_ctx(now, |b2bua, cx| b2bua.camped_on(cx, call_ref));
        }
        self.pump(now);
        self.completion.replies.push((job, Ok(id.get())));
    }

    fn cancel_stored(
        &mut self,
        job: u64,
        line: &str,
        id: u32,
        result: Result<(), StoreFault>,
        now: Now,
    ) {
        if let Err(fault) = result {
            tracing::error!(
                completion = id,
                "deleting a cancelled completion request failed; refused"
            );
            // Writes of the request were held back while the delete was pending.
            self.completion.dirty.insert(id);
            self.pump(now);
            self.completion.replies.push((job, Err(fault.line_err())));
            return;
        }
        let cancelled = self.switch.uncomplete_call(line, id, now.wall);
        match cancelled {
            Ok(events) => {
                self.events.extend(events);
                self.pump(now);
                self.completion.replies.push((job, Ok(id)));
            }
            // It ended by itself while the delete was on its way; its row is gone either way.
            Err(e) => self.completion.replies.push((job, Err(e))),
        }
    }

    /// Tells the engine what is known of every line's registration (at start).
    pub(super) fn report_registrations(&mut self, now: Now) {
        let names: Vec<String> = self.switch.lines().map(|l| l.name.clone()).collect();
        for name in names {
            let registered = !self.registrar.contacts(&name, now.ms()).is_empty();
            self.registration_fact(&name, registered, now);
        }
    }

    /// A line's binding set became non-empty (`registered`) or empty.
    pub(super) fn registration_fact(&mut self, line: &str, registered: bool, now: Now) {
        let fact = if registered {
            CompletionFact::Registered {
                line: line.to_owned(),
            }
        } else {
            CompletionFact::Unregistered {
                line: line.to_owned(),
            }
        };
        match self.switch.completion_fact(fact, now.wall) {
            Ok(events) => self.events.extend(events),
            Err(e) => tracing::debug!(error = %e, "registration fact refused"),
        }
    }

    /// After every input: carries out the engine's actions until it has none, then queues
    /// the store writes for the requests whose state changed.
    pub(super) fn pump(&mut self, now: Now) {
        self.run_policy_asks(now);
        for _ in 0..64 {
            let agents = self.drive_agents(now);
            let actions = self.switch.poll_actions();
            if actions.is_empty() && !agents {
                break;
            }
            for action in actions {
                self.execute(action, now);
            }
        }
        self.sync_store(now);
        self.notify_subscribers(now);
    }

    fn execute(&mut self, action: Action, now: Now) {
        tracing::debug!(?action, "completion action");
        if let Action::SendMessage { id, to, from, text } = &action {
            with_cx!(self, now, |cx| self
                .delivery
                .send(&mut cx, *id, to, from, text));
            return;
        }
        self.with_ctx(now, |b2bua, cx| match action {
            Action::Recall { id, caller, callee } => b2bua.recall(cx, id, &caller, &callee),
            Action::CancelRecall { id } => b2bua.cancel_recall(cx, id),
            Action::SendMessage { .. } => {}
            Action::ReleaseCaller { call } | Action::RejectCampOn { call, .. } => {
                b2bua.release_caller(cx, call, 486);
            }
            Action::CancelRinging { call } => b2bua.release_caller(cx, call, 480),
            Action::ConnectCampOn { call, id, .. } => b2bua.connect_campon(cx, call, id),
            Action::Intrude { id, call, into } => b2bua.intrude(cx, id, call, into),
        });
    }

    /// Queues a write (or delete) for every request a `completion` event named since the
    /// last look, and starts an RFC 4235 watch of callees whose availability is unknown.
    fn sync_store(&mut self, now: Now) {
        for e in self.events.iter().skip(self.completion.synced) {
            if let EventKind::Completion(c) = &e.kind {
                self.completion.dirty.insert(c.completion_id.get());
            }
        }
        self.completion.synced = self.events.len();
        if self.completion.dirty.is_empty() {
            return;
        }
        let dirty = std::mem::take(&mut self.completion.dirty);
        let switch = &*self.switch;
        let mut watch = Vec::new();
        for id in dirty {
            let request = CompletionId::new(id).and_then(|cid| switch.completion(cid));
            // RFC 4235: a callee that said busy with no call known to callcomp is watched.
            watch.extend(request.and_then(unknown_callee));
            let row = request.and_then(stored_row);
            match row {
                // A write now could bring back the row its pending cancel deletes.
                Some(_) if self.completion.cancelling(id) => {}
                Some(row) => {
                    self.next_job += 1;
                    self.jobs.push(StoreJob::SaveCompletion {
                        id: self.next_job,
                        row,
                    });
                }
                None => {
                    self.next_job += 1;
                    self.jobs.push(StoreJob::DeleteCompletion {
                        id: self.next_job,
                        completion_id: id,
                    });
                }
            }
        }
        for callee in watch {
            with_cx!(self, now, |cx| self
                .subs
                .watches
                .watch_dialogs(&mut cx, &callee));
        }
    }
}
