//! Intrusion (DESIGN §2.2, §3): the held caller of one call joins the callee's connected call.
//!
//! The switch decides (the callee is `intrudable`, its call is connected through callcomp and
//! not joined already) and asks with `Action::Intrude`; the B2BUA answers with
//! `IntrusionJoined` once the intruder is answered into the mix, or `IntrusionFailed`.
//!
//! Joining needs callcomp's media plane: both parties of the joined call are re-INVITEd to
//! callcomp's RTP endpoints, mixed with the intruder, and re-INVITEd back to each other when
//! the intruder leaves. Until the server runs a media plane it cannot join anyone, so
//! `intrude` is left out of the modes it offers ([`crate::core::completion::engine_config`])
//! and a request that still reaches here fails at once.

use callcomp_switch::{CallRef, CompletionFact, CompletionId};

use callcomp_switch::Side;

use super::{B2bua, Ctx};

impl B2bua {
    /// Action `Intrude`: joins the held caller of `call` into the connected call `into`.
    pub fn intrude(&mut self, cx: &mut Ctx<'_>, id: CompletionId, call: CallRef, into: CallRef) {
        tracing::warn!(
            completion = id.get(),
            call = call.0,
            into = into.0,
            "intrusion needs the media plane, which this server does not run"
        );
        cx.completion_fact(CompletionFact::IntrusionFailed { id });
    }

    /// A re-INVITE of ours on `side` of call `id` has its final outcome
    /// ([`B2bua::reinvite_outcome`]). Only an intrusion sends them, and none runs yet, so
    /// there is nobody to tell: the outcome is dropped.
    pub(super) fn reinvite_settled(&mut self, _cx: &mut Ctx<'_>, id: CallRef, side: Side) {
        tracing::debug!(call = id.0, ?side, outcome = ?self.reinvite_outcome(id, side), "re-INVITE settled");
    }
}
