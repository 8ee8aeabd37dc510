//! The outcome of a CC call (RFC 6910 §6.4, §7.4): an INVITE to a request's cc URI (or with
//! its Call-Info) that the engine took as the caller's completion call goes to the callee as
//! an ordinary call, and its outcome is the request's: the callee answers → completed
//! (`RecallConnected`); busy, not answering, or refusing → a failed attempt
//! (`RecallCalleeBusy` / `RecallCalleeNoAnswer`); the caller gives up first →
//! `RecallUnanswered`. A failed attempt puts the request back in the queue
//! (`cc-service-retention`) until `completion.recall_attempts` failed. A failed CC call asks
//! for no policy completion (its request is still there).

use callcomp_switch::{CallRef, CompletionFact, CompletionId, Failure, Side};

use super::{B2bua, Ctx};

/// The fact reporting a CC call that failed with `failure`.
pub fn failed(failure: Failure) -> fn(CompletionId) -> CompletionFact {
    match failure {
        Failure::Busy => |id| CompletionFact::RecallCalleeBusy { id },
        _ => |id| CompletionFact::RecallCalleeNoAnswer { id },
    }
}

/// The fact reporting a CC call dropped before it was answered, by `side`.
pub fn dropped(by: Side) -> fn(CompletionId) -> CompletionFact {
    match by {
        Side::Caller => |id| CompletionFact::RecallUnanswered { id },
        Side::Callee => |id| CompletionFact::RecallCalleeNoAnswer { id },
    }
}

impl B2bua {
    /// Whether call `id` is a CC call whose outcome is still to be reported.
    pub(super) fn is_cc_call(&self, id: CallRef) -> bool {
        self.calls.get(&id).is_some_and(|c| c.cc_call.is_some())
    }

    /// Call `id` is settled: if it is a CC call, its request hears `fact` (once).
    pub(super) fn cc_call_outcome(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        fact: fn(CompletionId) -> CompletionFact,
    ) {
        let Some(request) = self.calls.get_mut(&id).and_then(|c| c.cc_call.take()) else {
            return;
        };
        let fact = fact(request);
        tracing::info!(
            completion = request.get(),
            outcome = fact.kind(),
            "CC call settled"
        );
        cx.completion_fact(fact);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_the_recall_facts() {
        let id = CompletionId::new(3).unwrap();
        assert_eq!(
            failed(Failure::Busy)(id),
            CompletionFact::RecallCalleeBusy { id }
        );
        for f in [
            Failure::NoAnswer,
            Failure::NotRegistered,
            Failure::Rejected(603),
        ] {
            assert_eq!(failed(f)(id), CompletionFact::RecallCalleeNoAnswer { id });
        }
        assert_eq!(
            dropped(Side::Caller)(id),
            CompletionFact::RecallUnanswered { id }
        );
        assert_eq!(
            dropped(Side::Callee)(id),
            CompletionFact::RecallCalleeNoAnswer { id }
        );
    }
}
