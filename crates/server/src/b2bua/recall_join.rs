//! The direct join of a recall (`media.recall_join = "direct"`; docs/media.md, "Joining the
//! two"): once the callee answered and the two are anchored (relayed through callcomp's two
//! endpoints, the request already `completed`), both are re-INVITEd ([`super::reinvite`]) so
//! their media flows to each other, the way an intrusion puts two parties back
//! ([`super::intrude`]):
//!
//! 1. the caller is re-INVITEd with the callee's SDP (his 2xx); her 2xx answers it;
//! 2. the callee is re-INVITEd with the caller's SDP (that answer, or her first offer when it
//!    had no body); his 2xx answers it;
//! 3. both moved: the endpoints close, the call goes on as a plain B2BUA call.
//!
//! One at a time, so a refusal moves back at most one party: a caller refusing (488, 491 after
//! the retries, no answer) leaves the call anchored as it was; a callee refusing has the
//! caller re-INVITEd back to her endpoint's SDP. The call never drops for the optimisation.

use callcomp_media::sdp::SessionDescription;
use callcomp_switch::{CallRef, Side};

use super::recall::RecallStage;
use super::reinvite::ReinviteState;
use super::{B2bua, Ctx};

/// How far a direct join went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectJoin {
    /// The callee's SDP (his 2xx), offered to the caller.
    his_sdp: Vec<u8>,
    /// The re-INVITE in flight.
    step: JoinStep,
}

/// The re-INVITE a direct join waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum JoinStep {
    /// The caller's, offering the callee's SDP; `her_sdp` is her first offer.
    MovingCaller { her_sdp: Vec<u8> },
    /// The callee's, offering `her_sdp` (her answer to the move).
    MovingCallee { her_sdp: Vec<u8> },
    /// The caller's, moving her back to her endpoint (the callee refused).
    PuttingBackCaller,
}

impl B2bua {
    /// The recall `id` is anchored: re-INVITE its caller with `his_sdp`, then its callee with
    /// hers (`her_sdp` is her first offer). Stays anchored if the first cannot be sent.
    pub(super) fn recall_join_direct(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        her_sdp: Vec<u8>,
        his_sdp: Vec<u8>,
    ) {
        if let Err(e) = self.reinvite(cx, id, Side::Caller, Some(his_sdp.clone())) {
            tracing::info!(call = id.0, error = %e, "recall: direct join not started; anchored");
            return;
        }
        let join = DirectJoin {
            his_sdp,
            step: JoinStep::MovingCaller { her_sdp },
        };
        self.set_joining(id, join);
    }

    /// Whether call `id` is a recall being joined directly (its re-INVITEs are the join's).
    pub(super) fn is_joining_recall(&self, id: CallRef) -> bool {
        matches!(
            self.calls
                .get(&id)
                .and_then(|c| c.recall.as_ref())
                .map(|r| &r.stage),
            Some(RecallStage::Joining { .. })
        )
    }

    /// The join's re-INVITE on `side` of recall `id` has its final outcome.
    pub(super) fn recall_join_settled(&mut self, cx: &mut Ctx<'_>, id: CallRef, side: Side) {
        let Some(outcome) = self.reinvite_outcome(id, side).cloned() else {
            return;
        };
        self.forget_reinvite(id, side);
        let Some(join) = self.take_join(id) else {
            return;
        };
        let answered = match outcome {
            ReinviteState::Answered(body) => Some(body),
            _ => None,
        };
        match (join.step, answered) {
            (JoinStep::MovingCaller { her_sdp }, Some(body)) => {
                let her_sdp = if body.is_empty() { her_sdp } else { body };
                let offer = Some(her_sdp.clone());
                if self.reinvite(cx, id, Side::Callee, offer).is_err() {
                    return self.put_back_caller(cx, id, join.his_sdp);
                }
                let step = JoinStep::MovingCallee { her_sdp };
                self.set_joining(
                    id,
                    DirectJoin {
                        his_sdp: join.his_sdp,
                        step,
                    },
                );
            }
            (JoinStep::MovingCaller { .. }, None) => {
                tracing::info!(
                    call = id.0,
                    "recall: the caller refused the direct join; anchored"
                );
                self.set_anchored(id);
            }
            (JoinStep::MovingCallee { her_sdp }, Some(_)) => {
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                call.last_sdp_sent(Side::Caller, join.his_sdp);
                call.last_sdp_sent(Side::Callee, her_sdp);
                if let Some(recall) = call.recall.as_mut() {
                    // Dropping the endpoints closes them.
                    recall.stage = RecallStage::Direct;
                }
                tracing::info!(call = id.0, "recall: joined directly");
            }
            (JoinStep::MovingCallee { .. }, None) => {
                tracing::info!(
                    call = id.0,
                    "recall: the callee refused the direct join; the caller goes back"
                );
                self.put_back_caller(cx, id, join.his_sdp);
            }
            (JoinStep::PuttingBackCaller, answer) => {
                let accepted = answer
                    .as_deref()
                    .is_some_and(|body| self.caller_answer_back(id, body));
                if !accepted {
                    tracing::warn!(
                        call = id.0,
                        "recall: the caller could not be moved back to callcomp's media"
                    );
                }
                self.set_anchored(id);
            }
        }
    }

    /// Re-INVITEs the caller of `id` back to her endpoint (the SDP she was sent last).
    fn put_back_caller(&mut self, cx: &mut Ctx<'_>, id: CallRef, his_sdp: Vec<u8>) {
        let ours = self
            .calls
            .get(&id)
            .and_then(|c| c.sdp_sent_to(Side::Caller))
            .map(<[u8]>::to_vec);
        let sent = ours.is_some() && self.reinvite(cx, id, Side::Caller, ours).is_ok();
        if sent {
            let step = JoinStep::PuttingBackCaller;
            self.set_joining(id, DirectJoin { his_sdp, step });
        } else {
            tracing::warn!(
                call = id.0,
                "recall: the caller cannot be moved back to callcomp's media"
            );
            self.set_anchored(id);
        }
    }

    /// The caller's answer `body` when she was moved back: her endpoint sends there now.
    fn caller_answer_back(&self, id: CallRef, body: &[u8]) -> bool {
        let Some(RecallStage::Joining { caller, .. }) = self
            .calls
            .get(&id)
            .and_then(|c| c.recall.as_ref())
            .map(|r| &r.stage)
        else {
            return false;
        };
        SessionDescription::parse_bytes(body)
            .ok()
            .is_some_and(|sdp| caller.media.accept_answer(&caller.endpoint, &sdp).is_ok())
    }

    /// Moves recall `id` from `Anchored` (or `Joining`) to `Joining` with `join`.
    fn set_joining(&mut self, id: CallRef, join: DirectJoin) {
        let Some(recall) = self.calls.get_mut(&id).and_then(|c| c.recall.as_mut()) else {
            return;
        };
        recall.stage = match std::mem::replace(&mut recall.stage, RecallStage::Settled) {
            RecallStage::Anchored { caller, callee }
            | RecallStage::Joining { caller, callee, .. } => RecallStage::Joining {
                caller,
                callee,
                join,
            },
            other => other,
        };
    }

    /// The join of recall `id`, if it is being joined.
    fn take_join(&mut self, id: CallRef) -> Option<DirectJoin> {
        match &self.calls.get(&id)?.recall.as_ref()?.stage {
            RecallStage::Joining { join, .. } => Some(join.clone()),
            _ => None,
        }
    }

    /// Recall `id` stays anchored.
    fn set_anchored(&mut self, id: CallRef) {
        let Some(recall) = self.calls.get_mut(&id).and_then(|c| c.recall.as_mut()) else {
            return;
        };
        recall.stage = match std::mem::replace(&mut recall.stage, RecallStage::Settled) {
            RecallStage::Joining { caller, callee, .. } => RecallStage::Anchored { caller, callee },
            other => other,
        };
    }
}
