//! The RFC 6910 agent role in the core (issue #11 item 4): the engine's requests whose callee
//! is on another server get their subscription at that server's monitor
//! ([`crate::subscription::agents`]), and every change of such a request is passed on to it.
//!
//! - a request accepted (`completion queued` with no subscription yet) subscribes;
//! - its later `completion` events ([`Agents::phase`](crate::subscription::agents::Agents::phase))
//!   suspend, resume, or unsubscribe at the monitor;
//! - at start, every reloaded remote request subscribes again (the row keeps the remote
//!   target; the subscription itself is soft state).

use callcomp_switch::{CompletionId, CompletionPhase, EventKind, RemoteTarget};

use super::{with_cx, Engine, Now};

impl Engine {
    /// Passes the `completion` events not yet seen to the agent subscriptions, subscribing
    /// for newly accepted remote requests. `true` when there were any.
    pub(super) fn drive_agents(&mut self, now: Now) -> bool {
        let seen = self.agents_seen;
        let changes: Vec<_> = self
            .events
            .iter()
            .skip(seen)
            .filter_map(|e| match &e.kind {
                EventKind::Completion(c) => Some((c.completion_id, c.state, c.cause)),
                _ => None,
            })
            .collect();
        self.agents_seen = self.events.len();
        for (id, phase, cause) in &changes {
            if self.subs.agents.has(*id) {
                with_cx!(self, now, |cx| self
                    .subs
                    .agents
                    .phase(&mut cx, *id, *phase, *cause));
            } else if *phase == CompletionPhase::Queued {
                self.subscribe_remote(&[*id], now);
            }
        }
        !changes.is_empty()
    }

    /// Subscribes at the remote monitor for those of `ids` whose callee is remote and which
    /// have no subscription yet.
    fn subscribe_remote(&mut self, ids: &[CompletionId], now: Now) {
        let remote: Vec<(CompletionId, String, RemoteTarget)> = {
            let switch = &*self.switch;
            ids.iter()
                .filter_map(|id| switch.completion(*id))
                .filter_map(|r| Some((r.id, r.line()?.to_owned(), r.target.remote()?.clone())))
                .collect()
        };
        for (id, line, target) in remote {
            with_cx!(self, now, |cx| self
                .subs
                .agents
                .subscribe(&mut cx, id, &line, &target));
        }
    }

    /// At start: every reloaded request toward another server subscribes again.
    pub(super) fn resubscribe_agents(&mut self, now: Now) {
        let ids: Vec<CompletionId> = self
            .switch
            .export_completions()
            .requests
            .iter()
            .filter(|r| r.target.remote().is_some())
            .map(|r| r.id)
            .collect();
        self.subscribe_remote(&ids, now);
    }
}
