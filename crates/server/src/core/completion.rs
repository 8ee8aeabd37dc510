//! Call completion in the core: the engine in the switch gets the facts only the server knows
//! (registrations), its actions are carried out on the wire after every input, and every
//! outstanding request is kept in the store (DESIGN §2, §5).
//!
//! Durability: a `lineCompleteCall` is accepted by the engine, written to the store, and only
//! answered once the write committed ([`Engine::complete_call`] gives a ticket;
//! [`Engine::drain_replies`] the answers). If the write fails the acceptance is undone (the
//! request is cancelled) and the answer is `LINEERR_OPERATIONFAILED`. Afterwards every
//! `completion` event re-writes its request (or deletes it once it has ended), in order,
//! through the same store queue. At start [`snapshot_of`] turns the stored rows back into
//! the engine's snapshot.

use std::collections::BTreeSet;

use callcomp_switch::completion::CompletionConfig as EngineConfig;
use callcomp_switch::{
    Action, CompletionFact, CompletionId, CompletionMode, CompletionRequest, EventKind, LineErr,
    Snapshot,
};

use super::{lock, Engine, Now, StoreJob};
use crate::config::Config;
use crate::store::StoredCompletion;

/// The engine's settings from `[completion]`.
pub fn engine_config(config: &Config) -> EngineConfig {
    let c = &config.completion;
    EngineConfig {
        modes: c
            .modes
            .iter()
            .filter_map(|m| m.as_str().parse::<CompletionMode>().ok())
            .collect(),
        max_call_completions: c.max_call_completions,
        max_queue: c.max_queue,
        guard: std::time::Duration::from_millis(c.guard_ms),
        recall_ring: c.recall_ring,
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
        line: r.line.clone(),
        target: r.target.clone(),
        mode: r.mode.as_str().to_owned(),
        state: r.state.as_str().to_owned(),
        seq: r.seq,
        data,
    })
}

/// The engine snapshot of stored rows (in queue order); rows that do not decode are left out
/// with a warning.
pub fn snapshot_of(rows: Vec<StoredCompletion>) -> Snapshot {
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
    let next_id = requests
        .iter()
        .map(|r| r.id.get())
        .max()
        .map_or(1, |m| m.checked_add(1).unwrap_or(1));
    Snapshot { next_id, requests }
}

/// The bookkeeping of completion in the core.
#[derive(Debug, Default)]
pub(crate) struct CompletionState {
    /// How many of the core's pending events were already looked at for store writes.
    pub(crate) synced: usize,
    /// Requests to re-write or delete at the end of the current input.
    pub(crate) dirty: BTreeSet<u32>,
    /// Acceptances waiting for their store write: job id → (line, completion id).
    pub(crate) accepts: std::collections::HashMap<u64, (String, u32)>,
    /// Answers for the API: ticket → completion id or error.
    pub(crate) replies: Vec<(u64, Result<u32, LineErr>)>,
}

impl Engine {
    /// `lineCompleteCall` for the API (which owns every call): validates and accepts on the
    /// engine, then queues the store write. The answer comes through
    /// [`Engine::drain_replies`] under the returned ticket once the write committed.
    pub fn complete_call(
        &mut self,
        call: u32,
        mode: u32,
        message_id: u32,
        now: Now,
    ) -> Result<u64, LineErr> {
        let (accepted, campon) = {
            let mut switch = lock(&self.switch);
            let call_ref = switch.call_by_number(call).map(|c| c.call_ref).ok();
            let accepted = switch.complete_call(None, call, mode, message_id, now.wall)?;
            let campon = switch
                .completion(accepted.id)
                .is_some_and(|r| r.mode == CompletionMode::Campon);
            (accepted, call_ref.filter(|_| campon))
        };
        let id = accepted.id;
        let ticket = self.accept_durably(accepted, now);
        let unknown = lock(&self.switch).completion(id).and_then(|r| {
            (r.availability() == callcomp_switch::Availability::Unknown
                && r.mode != CompletionMode::Message)
                .then(|| r.target.clone())
        });
        if let Some(callee) = unknown {
            self.with_ctx(now, |b2bua, cx| b2bua.watch_dialogs(cx, &callee));
        }
        if let Some(call_ref) = campon {
            self.with_ctx(now, |b2bua, cx| b2bua.camped_on(cx, call_ref));
        }
        self.pump(now);
        Ok(ticket)
    }

    /// Queues the store write of a just-accepted request; returns its job id (the ticket).
    fn accept_durably(&mut self, accepted: callcomp_switch::Accepted, _now: Now) -> u64 {
        self.events.extend(accepted.events);
        self.completion.synced = self.events.len();
        self.next_job += 1;
        let job = self.next_job;
        let row = lock(&self.switch)
            .completion(accepted.id)
            .and_then(stored_row);
        let line = row.as_ref().map(|r| r.line.clone()).unwrap_or_default();
        self.completion
            .accepts
            .insert(job, (line, accepted.id.get()));
        match row {
            Some(row) => self.jobs.push(StoreJob::SaveCompletion { id: job, row }),
            // Already over (it cannot be, but then there is nothing to keep): answer at once.
            None => {
                self.completion.accepts.remove(&job);
                self.completion.replies.push((job, Ok(accepted.id.get())));
            }
        }
        job
    }

    /// `lineUncompleteCall`: cancels request `id` of `line`; the store row goes with it.
    pub fn uncomplete_call(&mut self, line: &str, id: u32, now: Now) -> Result<(), LineErr> {
        let events = lock(&self.switch).uncomplete_call(line, id, now.wall)?;
        self.events.extend(events);
        self.pump(now);
        Ok(())
    }

    /// Answers to [`Engine::complete_call`] whose store write finished.
    pub fn drain_replies(&mut self) -> Vec<(u64, Result<u32, LineErr>)> {
        std::mem::take(&mut self.completion.replies)
    }

    /// A completion store write finished: answer the acceptance it carried, or undo it.
    pub(super) fn completion_stored(&mut self, job: u64, ok: bool, now: Now) {
        let Some((line, id)) = self.completion.accepts.remove(&job) else {
            return;
        };
        if ok {
            self.completion.replies.push((job, Ok(id)));
            return;
        }
        tracing::error!(
            completion = id,
            "storing a completion request failed; acceptance undone"
        );
        let undone = lock(&self.switch).uncomplete_call(&line, id, now.wall);
        if let Ok(events) = undone {
            self.events.extend(events);
        }
        self.completion
            .replies
            .push((job, Err(LineErr::OperationFailed)));
        self.pump(now);
    }

    /// Tells the engine what is known of every line's registration (at start).
    pub(super) fn report_registrations(&mut self, now: Now) {
        let names: Vec<String> = lock(&self.switch).lines().map(|l| l.name.clone()).collect();
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
        match lock(&self.switch).completion_fact(fact, now.wall) {
            Ok(events) => self.events.extend(events),
            Err(e) => tracing::debug!(error = %e, "registration fact refused"),
        }
    }

    /// After every input: carries out the engine's actions until it has none, then queues
    /// the store writes for the requests whose state changed.
    pub(super) fn pump(&mut self, now: Now) {
        for _ in 0..64 {
            let actions = lock(&self.switch).poll_actions();
            if actions.is_empty() {
                break;
            }
            for action in actions {
                self.execute(action, now);
            }
        }
        self.sync_store(now);
    }

    fn execute(&mut self, action: Action, now: Now) {
        tracing::debug!(?action, "completion action");
        self.with_ctx(now, |b2bua, cx| match action {
            Action::Recall { id, caller, callee } => b2bua.recall(cx, id, &caller, &callee),
            Action::CancelRecall { id } => b2bua.cancel_recall(cx, id),
            Action::SendMessage { id, to, from, text } => {
                b2bua.send_message(cx, id, &to, &from, &text);
            }
            Action::ReleaseCaller { call } | Action::RejectCampOn { call, .. } => {
                b2bua.release_caller(cx, call, 486);
            }
            Action::CancelRinging { call } => b2bua.release_caller(cx, call, 480),
            Action::ConnectCampOn { call, id, .. } => b2bua.connect_campon(cx, call, id),
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
        let switch = lock(&self.switch);
        let mut watch = Vec::new();
        for id in dirty {
            let request = CompletionId::new(id).and_then(|cid| switch.completion(cid));
            // RFC 4235: a callee that said busy with no call known to callcomp is watched.
            if let Some(r) = request.filter(|r| {
                r.availability() == callcomp_switch::Availability::Unknown
                    && r.mode != CompletionMode::Message
            }) {
                watch.push(r.target.clone());
            }
            let row = request.and_then(stored_row);
            match row {
                Some(row) => {
                    self.next_job += 1;
                    self.jobs.push(StoreJob::SaveCompletion {
                        id: self.next_job,
                        row,
                    });
                }
                None => self
                    .jobs
                    .push(StoreJob::DeleteCompletion { completion_id: id }),
            }
        }
        drop(switch);
        for callee in watch {
            if !self.b2bua.watching(&callee) {
                self.with_ctx(now, |b2bua, cx| b2bua.watch_dialogs(cx, &callee));
            }
        }
    }
}
