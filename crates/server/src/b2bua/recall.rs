//! The callback recall with progress (issue #10, DESIGN §3; docs/media.md "Recall").
//!
//! The recall starts like any third-party call ([`super::join`]): callcomp rings the caller's
//! phone with an INVITE without SDP. From her 2xx on, callcomp does not pass her offer to the
//! callee and keep her waiting (RFC 3725 flow I, which fails with any callee slower than
//! 64·T1); it answers her offer itself:
//!
//! 1. her 2xx carries her offer: callcomp opens an RTP endpoint, answers in the ACK (RFC 3264
//!    §6; RFC 3261 §13.2.2.4) and plays ringback on it (an announcement first, if configured);
//! 2. it calls the callee with its own offer from a second endpoint, ringing at most
//!    `completion.recall_callee_ring`;
//! 3. the callee answers: the two endpoints are relayed to each other (the call is anchored
//!    in callcomp's media), and the request is `completed` (`RecallConnected`); with
//!    `media.recall_join = "direct"` the two are then re-INVITEd to each other and the
//!    endpoints close ([`super::recall_join`]; docs/media.md for the choice);
//! 4. the callee is busy or does not answer: the caller hears the busy tone for
//!    [`FAREWELL`], then a BYE; the request goes back to its queue (`RecallCalleeBusy`,
//!    `RecallCalleeNoAnswer`: the engine's retention).
//!
//! A caller who hangs up while the callee rings ends the callee's INVITE (CANCEL) and counts
//! as a recall she did not take (`RecallUnanswered`). A caller whose phone answers the recall
//! busy (486/600) suspends the request (`RecallCallerBusy`).

use std::time::Duration;

use callcomp_media::sdp::SessionDescription;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::message::Message;
use callcomp_switch::{CallRef, CallerLeg, CompletionFact, CompletionId, Fact, Failure, Side};

use super::call::{Leg, Phase};
use super::classify::{classify, Outcome};
use super::fork::Outgoing;
use super::recall_join::DirectJoin;
use super::{B2bua, Ctx, Timer};
use crate::config::media::RecallJoin;
use crate::media::{Endpoint, MediaHandle, Prompt, ToneKind};

/// How long a caller hears the busy tone after the callee failed, before callcomp's BYE.
pub const FAREWELL: Duration = Duration::from_secs(3);

/// A recall in progress: its completion request and where it stands.
#[derive(Debug)]
pub struct Recall {
    /// The completion request the recall is for.
    pub id: CompletionId,
    /// Where the recall stands.
    pub stage: RecallStage,
}

/// The stages of a recall. The engine hears of the recall's outcome exactly once: in the
/// `Ringing*` stages it has not yet, in the others it has (or it cancelled the recall itself).
#[derive(Debug)]
pub enum RecallStage {
    /// The caller's phone rings (INVITE without SDP).
    RingingCaller,
    /// The caller answered and hears ringback on `caller`; the callee's phone rings with our
    /// offer from `callee` (unset until the INVITE to the callee went out).
    RingingCallee {
        /// The caller's endpoint.
        caller: OwnedEndpoint,
        /// The callee's endpoint.
        callee: Option<OwnedEndpoint>,
        /// The caller's SDP (her 2xx's offer), for a direct join.
        her_sdp: Vec<u8>,
    },
    /// The callee answered: the two endpoints relay to each other.
    Anchored {
        /// The caller's endpoint.
        caller: OwnedEndpoint,
        /// The callee's endpoint.
        callee: OwnedEndpoint,
    },
    /// Anchored, and being re-INVITEd to each other (`media.recall_join = "direct"`).
    Joining {
        /// The caller's endpoint.
        caller: OwnedEndpoint,
        /// The callee's endpoint.
        callee: OwnedEndpoint,
        /// How far the join went.
        join: DirectJoin,
    },
    /// Joined directly: the two phones send their media to each other; the endpoints are
    /// closed.
    Direct,
    /// The callee failed: the caller hears the busy tone until the farewell timer's BYE.
    Farewell {
        /// The caller's endpoint.
        caller: OwnedEndpoint,
    },
    /// Nothing more to report (the engine cancelled the recall, or the caller never took it).
    Settled,
}

impl RecallStage {
    /// Whether the engine still waits for the recall's outcome.
    pub fn unsettled(&self) -> bool {
        matches!(
            self,
            RecallStage::RingingCaller | RecallStage::RingingCallee { .. }
        )
    }
}

/// An endpoint of the media plane owned by a call: closed when the call lets go of it, so no
/// path that forgets a call can leak RTP ports.
#[derive(Debug)]
pub struct OwnedEndpoint {
    pub(super) media: MediaHandle,
    /// The endpoint.
    pub endpoint: Endpoint,
}

impl OwnedEndpoint {
    pub(super) fn new(media: &MediaHandle, endpoint: Endpoint) -> Self {
        OwnedEndpoint {
            media: media.clone(),
            endpoint,
        }
    }
}

impl Drop for OwnedEndpoint {
    fn drop(&mut self) {
        self.media.close(self.endpoint.id);
    }
}

impl B2bua {
    /// The recall's caller answered with `answer` (her 2xx, carrying her offer): answer it
    /// in the ACK with our own media and play her ringback. `false` when that failed (no
    /// media plane, no usable offer): she was ACKed with every stream rejected and gets a
    /// BYE, and the recall failed.
    pub(super) fn recall_caller_answered(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        answer: &Message,
    ) -> bool {
        let offer = SessionDescription::parse_bytes(answer.body());
        let opened = match (cx.media, &offer) {
            (Some(media), Ok(offer)) => media
                .answer(offer)
                .map(|(endpoint, answer)| (media, endpoint, answer))
                .map_err(|e| e.to_string()),
            (None, _) => Err("no media plane".to_owned()),
            (_, Err(e)) => Err(e.to_string()),
        };
        let (media, endpoint, sdp) = match opened {
            Ok(opened) => opened,
            Err(reason) => {
                tracing::warn!(
                    call = id.0,
                    reason,
                    "recall: the caller's offer cannot be answered"
                );
                let rejected = offer.ok().map(reject_all);
                self.ack_out_with(cx, id, Side::Caller, |ack| {
                    if let Some(sdp) = &rejected {
                        set_sdp(ack, sdp);
                    }
                });
                self.send_bye(cx, id, Side::Caller);
                if let Some(call) = self.calls.get_mut(&id) {
                    call.phase = Phase::Ended;
                }
                self.recall_outcome(cx, id, RecallStage::Settled, |cid| {
                    CompletionFact::RecallFailed { id: cid }
                });
                cx.fact(Fact::Hangup {
                    call: id,
                    by: Side::Caller,
                });
                self.reap(id);
                return false;
            }
        };
        self.ack_out_with(cx, id, Side::Caller, |ack| set_sdp(ack, &sdp.sdp));
        let her_sdp = answer.body().to_vec();
        let mut prompts = Vec::new();
        if let Some(name) = &cx.config.media.recall_announcement {
            prompts.push(Prompt::Announcement(name.clone()));
        }
        prompts.push(Prompt::Tone(ToneKind::Ringback));
        media.play(endpoint.id, prompts);
        // Owned from here: dropped unused (the call gone meanwhile), it closes.
        let endpoint = OwnedEndpoint::new(media, endpoint);
        if let Some(call) = self.calls.get_mut(&id) {
            call.last_sdp_sent(Side::Caller, sdp.sdp.to_bytes());
            if let Some(recall) = call.recall.as_mut() {
                recall.stage = RecallStage::RingingCallee {
                    caller: endpoint,
                    callee: None,
                    her_sdp,
                };
            }
        }
        true
    }

    /// The INVITE to the callee of recall `id`: our own offer from a new endpoint. `false`
    /// when no endpoint could be opened.
    pub(super) fn recall_offer(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        invite: &mut Message,
    ) -> bool {
        let Some(media) = cx.media else {
            return false;
        };
        let (endpoint, offer) = match media.offer() {
            Ok(opened) => opened,
            Err(e) => {
                tracing::warn!(call = id.0, error = %e, "recall: no endpoint for the callee");
                return false;
            }
        };
        set_sdp(invite, &offer);
        // Owned from here: dropped unused (the call gone, another stage), it closes.
        let endpoint = OwnedEndpoint::new(media, endpoint);
        let Some(call) = self.calls.get_mut(&id) else {
            return true;
        };
        call.last_sdp_sent(Side::Callee, offer.to_bytes());
        if let Some(RecallStage::RingingCallee { callee, .. }) =
            call.recall.as_mut().map(|r| &mut r.stage)
        {
            *callee = Some(endpoint);
        }
        true
    }

    /// The callee answered recall `id` with `answer`: relay the two endpoints; the request
    /// is completed.
    pub(super) fn recall_callee_answered(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        answer: &Message,
    ) {
        self.disarm(id, Timer::NoAnswer);
        self.ack_out(cx, id, Side::Callee, None);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(recall) = call.recall.as_mut() else {
            return;
        };
        let stage = std::mem::replace(&mut recall.stage, RecallStage::Settled);
        let RecallStage::RingingCallee {
            caller,
            callee: Some(callee),
            her_sdp,
        } = stage
        else {
            recall.stage = stage;
            return;
        };
        let accepted = SessionDescription::parse_bytes(answer.body())
            .map_err(|e| e.to_string())
            .and_then(|sdp| {
                callee
                    .media
                    .accept_answer(&callee.endpoint, &sdp)
                    .map_err(|e| e.to_string())
            });
        if let Err(reason) = accepted {
            tracing::warn!(
                call = id.0,
                reason,
                "recall: the callee's answer is unusable"
            );
            recall.stage = RecallStage::RingingCallee {
                caller,
                callee: Some(callee),
                her_sdp,
            };
            self.send_bye(cx, id, Side::Callee);
            return self.recall_callee_failed(cx, id, Failure::NoAnswer);
        }
        caller.media.relay(caller.endpoint.id, callee.endpoint.id);
        recall.stage = RecallStage::Anchored { caller, callee };
        call.phase = Phase::Connected;
        let cid = recall.id;
        self.recalls.remove(&cid);
        cx.completion_fact(CompletionFact::RecallConnected { id: cid });
        self.shadow_fact(cx, id, |call| Fact::Answered { call });
        if cx.config.media.recall_join == RecallJoin::Direct {
            self.recall_join_direct(cx, id, her_sdp, answer.body().to_vec());
        }
    }

    /// The callee of recall `id` failed (`Busy`, `NoAnswer`, …) after the caller answered: she
    /// hears the busy tone, then a BYE; the request goes back to its queue.
    pub(super) fn recall_callee_failed(&mut self, cx: &mut Ctx<'_>, id: CallRef, failure: Failure) {
        self.disarm(id, Timer::NoAnswer);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(Leg::Out(callee)) = &mut call.callee {
            callee.abandon(cx.sip, cx.now);
        }
        // The caller's dialog stays up for the tone; the call ends with the farewell BYE.
        call.phase = Phase::Connected;
        let caller = match call.recall.as_mut().map(|r| &mut r.stage) {
            Some(stage @ RecallStage::RingingCallee { .. }) => {
                match std::mem::replace(stage, RecallStage::Settled) {
                    RecallStage::RingingCallee { caller, .. } => Some(caller),
                    _ => None,
                }
            }
            _ => None,
        };
        let Some(caller) = caller else {
            return;
        };
        caller
            .media
            .play(caller.endpoint.id, vec![Prompt::Tone(ToneKind::Busy)]);
        // The callee's leg closes first, so the engine does not take the recall's own leg
        // for a call the callee is in when it puts the request back.
        self.shadow_fact(cx, id, |call| Fact::Failed {
            call,
            cause: failure,
            caller_leg: CallerLeg::Released,
        });
        let fact = match failure {
            Failure::Busy => |id| CompletionFact::RecallCalleeBusy { id },
            _ => |id| CompletionFact::RecallCalleeNoAnswer { id },
        };
        self.recall_outcome_from(cx, id, RecallStage::Farewell { caller }, fact, true);
        self.arm(cx.now.instant + FAREWELL, id, Timer::RecallFarewell);
    }

    /// The farewell tone of recall `id` is over: BYE to the caller.
    pub(super) fn recall_farewell_over(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        let farewell = self
            .calls
            .get(&id)
            .and_then(|c| c.recall.as_ref())
            .is_some_and(|r| matches!(r.stage, RecallStage::Farewell { .. }));
        if !farewell {
            return;
        }
        self.send_bye(cx, id, Side::Caller);
        self.end_recall_call(cx, id);
    }

    /// A BYE from the caller's phone of recall `id` while it hears callcomp's media (ringback
    /// or the farewell tone): the callee's INVITE is cancelled. `false` when the call is not
    /// in such a stage (the BYE is relayed as usual).
    pub(super) fn recall_caller_bye(&mut self, cx: &mut Ctx<'_>, id: CallRef) -> bool {
        let stage = self
            .calls
            .get(&id)
            .and_then(|c| c.recall.as_ref())
            .map(|r| &r.stage);
        let ringing = matches!(stage, Some(RecallStage::RingingCallee { .. }));
        let farewell = matches!(stage, Some(RecallStage::Farewell { .. }));
        if ringing {
            self.disarm(id, Timer::NoAnswer);
        } else if farewell {
            self.disarm(id, Timer::RecallFarewell);
        } else {
            return false;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return false;
        };
        if ringing {
            if let Some(Leg::Out(callee)) = &mut call.callee {
                callee.abandon(cx.sip, cx.now);
            }
            self.recall_outcome(cx, id, RecallStage::Settled, |cid| {
                CompletionFact::RecallUnanswered { id: cid }
            });
            self.shadow_fact(cx, id, |call| Fact::Hangup {
                call,
                by: Side::Caller,
            });
        } else if let Some(recall) = call.recall.as_mut() {
            recall.stage = RecallStage::Settled;
        }
        self.end_recall_call(cx, id);
        true
    }

    /// The recall's caller did not take it: her phone's final response was `status` (or
    /// none). Busy suspends the request, any other answer counts as not taken, no response at
    /// all as a failure.
    pub(super) fn recall_not_taken(&mut self, cx: &mut Ctx<'_>, call: CallRef) {
        let status = match self.calls.get(&call).map(|c| &c.caller) {
            Some(Leg::Out(Outgoing {
                best: Some((status, _)),
                ..
            })) => Some(*status),
            _ => None,
        };
        // The recall's own leg closes first: its end is no sign that a caller found busy is
        // free again (which would resume the request at once).
        cx.fact(Fact::Hangup {
            call,
            by: Side::Caller,
        });
        self.recall_outcome(cx, call, RecallStage::Settled, |id| match status {
            Some(486 | 600) => CompletionFact::RecallCallerBusy { id },
            Some(_) => CompletionFact::RecallUnanswered { id },
            None => CompletionFact::RecallFailed { id },
        });
    }

    /// The failure of the callee's side of recall `id`, classified as for any call.
    pub(super) fn recall_callee_outcome(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        outcome: &Outcome,
    ) {
        let rang = self.calls.get(&id).is_some_and(|c| c.attempt.rang());
        let failure = classify(outcome, rang).failure;
        self.recall_callee_failed(cx, id, failure);
    }

    /// Tells the engine how recall call `call` went, once, and moves it to `next`: `fact`
    /// builds the fact from the request id. Nothing happens for a call that is not a recall
    /// or already settled.
    pub(super) fn recall_outcome(
        &mut self,
        cx: &mut Ctx<'_>,
        call: CallRef,
        next: RecallStage,
        fact: impl FnOnce(CompletionId) -> CompletionFact,
    ) {
        self.recall_outcome_from(cx, call, next, fact, false);
    }

    /// [`Self::recall_outcome`]; `already_moved` when the stage was taken out by the caller
    /// (it is settled now but the fact is still owed).
    fn recall_outcome_from(
        &mut self,
        cx: &mut Ctx<'_>,
        call: CallRef,
        next: RecallStage,
        fact: impl FnOnce(CompletionId) -> CompletionFact,
        already_moved: bool,
    ) {
        let Some(recall) = self.calls.get_mut(&call).and_then(|c| c.recall.as_mut()) else {
            return;
        };
        if !already_moved && !recall.stage.unsettled() {
            return;
        }
        recall.stage = next;
        let id = recall.id;
        self.recalls.remove(&id);
        cx.completion_fact(fact(id));
    }

    /// The recall's call is over for the switch: the caller's line hangs up.
    fn end_recall_call(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.phase = Phase::Ended;
            if let Some(recall) = call.recall.as_mut() {
                recall.stage = RecallStage::Settled;
            }
        }
        cx.fact(Fact::Hangup {
            call: id,
            by: Side::Caller,
        });
        self.reap(id);
    }
}

/// Puts `sdp` in `message` as its body.
fn set_sdp(message: &mut Message, sdp: &SessionDescription) {
    message.set_raw(HeaderName::ContentType, "application/sdp".to_owned());
    message.set_body(sdp.to_bytes());
}

/// A valid answer refusing every stream of `offer` (RFC 3264 §6: port 0), for an ACK that
/// must carry an answer although no stream can be taken (RFC 3261 §13.2.2.4).
fn reject_all(mut offer: SessionDescription) -> SessionDescription {
    for m in &mut offer.media {
        m.port = 0;
    }
    offer
}
