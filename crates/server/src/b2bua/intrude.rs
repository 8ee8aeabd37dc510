//! Intrusion (DESIGN §2.2, §3): the held caller of one call joins the callee's connected call.
//!
//! The switch decides (the callee is `intrudable`, its call is connected through callcomp and
//! not joined already) and asks with `Action::Intrude`; then, on the wire:
//!
//! 1. both parties of the callee's call are re-INVITEd ([`super::reinvite`]) with offers of
//!    two new RTP endpoints of callcomp's media plane;
//! 2. once both answered, the two endpoints join one mix, the intruder's held INVITE is
//!    answered `200` with a third endpoint in the same mix, the warning tone plays over the
//!    mix, and the switch hears `IntrusionJoined`;
//! 3. when the intruder hangs up, each party still there is re-INVITEd with the SDP it last
//!    had from the other (so the two talk directly again) and the endpoints close;
//! 4. when one original party hangs up, its BYE is answered and not passed on: the other
//!    party and the intruder go on in the mix; when the last original party leaves, the
//!    intruder gets a BYE, and when the intruder leaves with one party left, that party does.
//!
//! A re-INVITE refused or unanswered in step 1 (or no media plane, or the intruder gone)
//! fails the intrusion: a party already moved is moved back, and the switch hears
//! `IntrusionFailed` (the held intruder then gets 486).

use callcomp_media::sdp::SessionDescription;
use callcomp_sip::builder;
use callcomp_sip::header_name::HeaderName;
use callcomp_switch::{CallRef, CompletionFact, CompletionId, Fact, Side};

use super::call::{Attempt, Leg, Phase};
use super::reinvite::ReinviteState;
use super::{B2bua, Ctx};
use crate::media::{Endpoint, MixId, Prompt, ToneKind};

/// One intrusion into a call, from the first re-INVITE to the last party put back.
#[derive(Debug, Clone)]
pub struct Intrusion {
    /// The completion request.
    id: CompletionId,
    /// The intruder's call (its caller leg is the intruder).
    intruder: CallRef,
    /// The mix of the three.
    mix: MixId,
    /// The intruder's endpoint, once answered.
    intruder_endpoint: Option<Endpoint>,
    /// The two parties of the joined call.
    parties: Vec<Party>,
    /// Where it stands.
    stage: Stage,
}

/// One original party of the joined call.
#[derive(Debug, Clone)]
struct Party {
    side: Side,
    endpoint: Endpoint,
    state: PartyState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartyState {
    /// Our re-INVITE moving it onto the mixer is pending.
    Moving,
    /// Its media goes to callcomp's endpoint in the mix.
    OnMixer,
    /// Our re-INVITE putting it back to the other party is pending.
    Returning,
    /// Back with the other party (or never moved); its endpoint is closed.
    Home,
    /// It hung up.
    Gone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Moving the two parties onto the mixer.
    Moving,
    /// The three talk.
    Joined,
    /// Putting the parties back (the intruder left, or the join failed).
    Restoring,
}

impl B2bua {
    /// Action `Intrude`: joins the held caller of `call` into the connected call `into` (the
    /// switch's handle: a recall's callee side is its shadow handle).
    pub fn intrude(&mut self, cx: &mut Ctx<'_>, id: CompletionId, call: CallRef, into: CallRef) {
        let into = self.call_of_handle(into);
        if let Err(why) = self.start_intrusion(cx, id, call, into) {
            tracing::info!(
                completion = id.get(),
                call = call.0,
                into = into.0,
                why,
                "intrusion failed"
            );
            cx.completion_fact(CompletionFact::IntrusionFailed { id });
        }
    }

    /// Whether `id` is the call of an intruder that joined, or is joining, another call.
    pub fn is_intruder(&self, id: CallRef) -> bool {
        self.intruders.contains_key(&id)
    }

    /// Whether call `id` is being joined, is joined, or is being put back.
    pub fn is_intruded(&self, id: CallRef) -> bool {
        self.intrusions.contains_key(&id)
    }

    /// Whether a BYE on call `id` is the intrusion's to handle ([`B2bua::intrusion_bye`]):
    /// the intruder's, or a party's while the three talk.
    pub(super) fn takes_bye(&self, id: CallRef) -> bool {
        self.intruders.contains_key(&id)
            || self
                .intrusions
                .get(&id)
                .is_some_and(|i| i.stage == Stage::Joined)
    }

    /// A party of call `id` (or its intruder) sent BYE, already answered `200`: ends its part
    /// without passing the BYE on.
    pub(super) fn intrusion_bye(&mut self, cx: &mut Ctx<'_>, id: CallRef, side: Side) {
        if let Some(&into) = self.intruders.get(&id) {
            self.intruder_left(cx, id, into);
        } else {
            self.party_left(cx, id, side);
        }
    }

    /// Call `into` ends (a BYE passes across while it is being joined or put back, or it is
    /// dropped): the endpoints close; a join not done yet fails; an intruder who had joined
    /// is alone and is dropped too.
    pub(super) fn abandon_intrusion(&mut self, cx: &mut Ctx<'_>, into: CallRef) {
        let Some(intrusion) = self.intrusions.remove(&into) else {
            return;
        };
        close_media(cx, &intrusion);
        match intrusion.stage {
            Stage::Moving => {
                self.intruders.remove(&intrusion.intruder);
                cx.completion_fact(CompletionFact::IntrusionFailed { id: intrusion.id });
            }
            Stage::Joined => {
                self.intruders.remove(&intrusion.intruder);
                self.drop_call(cx, intrusion.intruder, Side::Callee);
            }
            Stage::Restoring => {}
        }
    }

    /// Call `id` is dropped (lineDrop, shutdown): an intrusion it is the intruder of, or the
    /// joined call of, ends with it, so that neither the entries nor the endpoints outlive it.
    pub(super) fn intrusion_call_dropped(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        if let Some(&into) = self.intruders.get(&id) {
            if self.intrusions.get(&into).map(|i| i.stage) == Some(Stage::Moving) {
                self.fail_intrusion(cx, into);
            } else {
                self.intruders.remove(&id);
                self.intruder_gone(cx, into);
            }
        }
        self.abandon_intrusion(cx, id);
    }

    /// A re-INVITE of ours on `side` of call `id` has its final outcome.
    pub(super) fn reinvite_settled(&mut self, cx: &mut Ctx<'_>, id: CallRef, side: Side) {
        let Some(outcome) = self.reinvite_outcome(id, side).cloned() else {
            return;
        };
        let Some(intrusion) = self.intrusions.get(&id) else {
            tracing::debug!(call = id.0, ?side, ?outcome, "re-INVITE settled");
            return;
        };
        let (mix, stage) = (intrusion.mix, intrusion.stage);
        let Some(party) = intrusion.parties.iter().find(|p| p.side == side).cloned() else {
            return;
        };
        self.forget_reinvite(id, side);
        match (party.state, outcome) {
            (PartyState::Moving, ReinviteState::Answered(body)) => {
                let accepted = match (cx.media, SessionDescription::parse_bytes(&body)) {
                    (Some(media), Ok(answer)) => {
                        media.accept_answer(&party.endpoint, &answer).is_ok()
                    }
                    _ => false,
                };
                // It points at our endpoint now, whether or not its answer is usable.
                self.set_party(id, side, PartyState::OnMixer);
                match (stage, accepted) {
                    (Stage::Moving, true) => {
                        if let Some(media) = cx.media {
                            media.join(mix, party.endpoint.id);
                        }
                        self.maybe_answer_intruder(cx, id);
                    }
                    (Stage::Moving, false) => self.fail_intrusion(cx, id),
                    _ => self.restore(cx, id, side),
                }
            }
            (PartyState::Moving, _) => {
                self.close_party(cx, id, side, PartyState::Home);
                if stage == Stage::Moving {
                    self.fail_intrusion(cx, id);
                }
            }
            (PartyState::Returning, outcome) => {
                if !matches!(outcome, ReinviteState::Answered(_)) {
                    tracing::warn!(
                        call = id.0,
                        ?side,
                        ?outcome,
                        "a party could not be moved back after an intrusion"
                    );
                }
                self.close_party(cx, id, side, PartyState::Home);
            }
            _ => {}
        }
        self.finish_if_done(id);
    }

    /// The B2BUA call behind switch handle `handle` (a recall's shadow handle names it too).
    fn call_of_handle(&self, handle: CallRef) -> CallRef {
        if self.calls.contains_key(&handle) {
            return handle;
        }
        self.calls
            .values()
            .find(|c| c.shadow == Some(handle))
            .map_or(handle, |c| c.id)
    }

    fn start_intrusion(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CompletionId,
        intruder: CallRef,
        into: CallRef,
    ) -> Result<(), &'static str> {
        let media = cx.media.ok_or("no media plane")?.clone();
        let kept = self.calls.get(&intruder).is_some_and(|c| {
            c.attempt == Attempt::Kept && matches!(&c.caller, Leg::In(i) if i.server.is_some())
        });
        if !kept {
            return Err("the intruder's INVITE is not held");
        }
        if self.calls.get(&into).map(|c| c.phase) != Some(Phase::Connected) {
            return Err("the callee's call is not connected");
        }
        if self.intrusions.contains_key(&into) {
            return Err("the callee's call is joined already");
        }
        let sides = [Side::Caller, Side::Callee];
        if sides.iter().any(|s| self.invite_in_progress(into, *s)) {
            return Err("an INVITE is in progress in the callee's call");
        }
        let mut parties = Vec::new();
        let mut stage = Stage::Moving;
        for side in sides {
            let opened = media.offer();
            let Ok((endpoint, offer)) = opened else {
                for p in &parties {
                    let p: &Party = p;
                    media.close(p.endpoint.id);
                }
                return Err("no RTP port for the mix");
            };
            parties.push(Party {
                side,
                endpoint,
                state: PartyState::Moving,
            });
            if self
                .reinvite(cx, into, side, Some(offer.to_string().into_bytes()))
                .is_err()
            {
                // Nothing was sent on this side; the other (if sent) is put back when it settles.
                if let Some(p) = parties.last_mut() {
                    media.close(p.endpoint.id);
                    p.state = PartyState::Home;
                }
                stage = Stage::Restoring;
                break;
            }
        }
        self.intrusions.insert(
            into,
            Intrusion {
                id,
                intruder,
                mix: media.new_mix(),
                intruder_endpoint: None,
                parties,
                stage,
            },
        );
        if stage == Stage::Restoring {
            self.finish_if_done(into);
            return Err("the callee's call cannot be re-INVITEd");
        }
        self.intruders.insert(intruder, into);
        Ok(())
    }

    /// Both parties are on the mixer: the intruder is answered into it, with the warning tone.
    fn maybe_answer_intruder(&mut self, cx: &mut Ctx<'_>, into: CallRef) {
        let Some(intrusion) = self.intrusions.get(&into) else {
            return;
        };
        let ready = intrusion.stage == Stage::Moving
            && intrusion
                .parties
                .iter()
                .all(|p| p.state == PartyState::OnMixer);
        if !ready {
            return;
        }
        let (id, intruder, mix) = (intrusion.id, intrusion.intruder, intrusion.mix);
        let Some(media) = cx.media else {
            return self.fail_intrusion(cx, into);
        };
        let Some(call) = self.calls.get_mut(&intruder) else {
            return self.fail_intrusion(cx, into);
        };
        let Leg::In(incoming) = &mut call.caller else {
            return self.fail_intrusion(cx, into);
        };
        let offer = SessionDescription::parse_bytes(incoming.invite.body());
        let answered = offer.ok().and_then(|o| media.answer(&o).ok());
        let (Some((endpoint, answer)), Some(key)) = (answered, incoming.server.take()) else {
            return self.fail_intrusion(cx, into);
        };
        let mut ok = builder::response(&incoming.invite, 200, None, &incoming.dialog.local_tag);
        ok.push_raw(
            HeaderName::Contact,
            cx.sip.contact(incoming.dialog.target.proto),
        );
        ok.push_raw(HeaderName::ContentType, "application/sdp".to_owned());
        ok.set_body(answer.sdp.to_string().into_bytes());
        let seq = incoming.dialog.remote_seq.unwrap_or(0);
        let target = incoming.dialog.target;
        call.phase = Phase::Connected;
        call.attempt = Attempt::Calling;
        cx.sip.respond(&key, ok.clone(), cx.now.instant);
        self.track_2xx(cx, intruder, Side::Caller, seq, ok, target);
        media.join(mix, endpoint.id);
        media.play_over_mix(mix, vec![Prompt::Tone(ToneKind::Warning)]);
        if let Some(intrusion) = self.intrusions.get_mut(&into) {
            intrusion.intruder_endpoint = Some(endpoint);
            intrusion.stage = Stage::Joined;
        }
        tracing::info!(
            completion = id.get(),
            call = intruder.0,
            into = into.0,
            "intruder joined"
        );
        cx.completion_fact(CompletionFact::IntrusionJoined { id });
    }

    /// The join failed: parties already moved go back, the switch hears it.
    fn fail_intrusion(&mut self, cx: &mut Ctx<'_>, into: CallRef) {
        let Some(intrusion) = self.intrusions.get_mut(&into) else {
            return;
        };
        if intrusion.stage != Stage::Moving {
            return;
        }
        intrusion.stage = Stage::Restoring;
        let (id, intruder) = (intrusion.id, intrusion.intruder);
        self.intruders.remove(&intruder);
        self.restore_all(cx, into);
        self.finish_if_done(into);
        cx.completion_fact(CompletionFact::IntrusionFailed { id });
    }

    /// The intruder of `into` hung up (its BYE answered).
    fn intruder_left(&mut self, cx: &mut Ctx<'_>, intruder: CallRef, into: CallRef) {
        self.intruders.remove(&intruder);
        if let Some(call) = self.calls.get_mut(&intruder) {
            call.phase = Phase::Ended;
        }
        cx.fact(Fact::Hangup {
            call: intruder,
            by: Side::Caller,
        });
        self.reap(intruder);
        self.intruder_gone(cx, into);
    }

    /// The intruder of `into` is gone: its endpoint closes and the parties left are put back
    /// to each other (one alone gets a BYE).
    fn intruder_gone(&mut self, cx: &mut Ctx<'_>, into: CallRef) {
        let Some(intrusion) = self.intrusions.get_mut(&into) else {
            return;
        };
        intrusion.stage = Stage::Restoring;
        if let (Some(media), Some(endpoint)) = (cx.media, intrusion.intruder_endpoint.take()) {
            media.close(endpoint.id);
        }
        let left: Vec<Side> = intrusion
            .parties
            .iter()
            .filter(|p| p.state != PartyState::Gone)
            .map(|p| p.side)
            .collect();
        if left.len() == 1 {
            // Only one original party is left: nobody to put it back to.
            self.close_party(cx, into, left[0], PartyState::Home);
            self.send_bye(cx, into, left[0]);
            self.reap(into);
        } else {
            self.restore_all(cx, into);
        }
        self.finish_if_done(into);
    }

    /// An original party of `into` hung up while the three talked.
    fn party_left(&mut self, cx: &mut Ctx<'_>, into: CallRef, side: Side) {
        self.close_party(cx, into, side, PartyState::Gone);
        if let Some(call) = self.calls.get_mut(&into) {
            call.forget_ack(side);
        }
        let Some(intrusion) = self.intrusions.get(&into) else {
            return;
        };
        let intruder = intrusion.intruder;
        let anyone_left = intrusion
            .parties
            .iter()
            .any(|p| p.state == PartyState::OnMixer);
        if !anyone_left {
            // The intruder is alone now.
            self.intruders.remove(&intruder);
            if let Some(intrusion) = self.intrusions.remove(&into) {
                close_media(cx, &intrusion);
            }
            self.drop_call(cx, intruder, Side::Callee);
            if let Some(call) = self.calls.get_mut(&into) {
                call.phase = Phase::Ended;
            }
            self.reap(into);
            return;
        }
        // The joined call is over for the switch; the intruder's call goes on.
        if let Some(call) = self.calls.get_mut(&into) {
            if call.phase == Phase::Connected {
                call.phase = Phase::Ended;
                cx.fact(Fact::Hangup {
                    call: into,
                    by: side,
                });
                self.shadow_fact(cx, into, |call| Fact::Hangup { call, by: side });
            }
        }
    }

    fn restore_all(&mut self, cx: &mut Ctx<'_>, into: CallRef) {
        let sides: Vec<Side> = self
            .intrusions
            .get(&into)
            .map(|i| {
                i.parties
                    .iter()
                    .filter(|p| p.state == PartyState::OnMixer)
                    .map(|p| p.side)
                    .collect()
            })
            .unwrap_or_default();
        for side in sides {
            self.restore(cx, into, side);
        }
    }

    /// Re-INVITEs `side` of `into` with the SDP it last had from the other party.
    fn restore(&mut self, cx: &mut Ctx<'_>, into: CallRef, side: Side) {
        let sdp = self
            .calls
            .get(&into)
            .and_then(|c| c.sdp_sent_to(side))
            .map(<[u8]>::to_vec);
        let sent = sdp.is_some() && self.reinvite(cx, into, side, sdp).is_ok();
        if sent {
            self.set_party(into, side, PartyState::Returning);
        } else {
            tracing::warn!(
                call = into.0,
                ?side,
                "cannot put a party back after an intrusion; it stays on the mixer"
            );
        }
    }

    fn set_party(&mut self, into: CallRef, side: Side, state: PartyState) {
        if let Some(p) = self
            .intrusions
            .get_mut(&into)
            .and_then(|i| i.parties.iter_mut().find(|p| p.side == side))
        {
            p.state = state;
        }
    }

    fn close_party(&mut self, cx: &mut Ctx<'_>, into: CallRef, side: Side, state: PartyState) {
        let endpoint = self
            .intrusions
            .get(&into)
            .and_then(|i| i.parties.iter().find(|p| p.side == side))
            .map(|p| p.endpoint.id);
        if let (Some(media), Some(endpoint)) = (cx.media, endpoint) {
            media.close(endpoint);
        }
        self.set_party(into, side, state);
    }

    /// Forgets an intrusion whose parties are all back (or gone) once it is restoring.
    fn finish_if_done(&mut self, into: CallRef) {
        let done = self.intrusions.get(&into).is_some_and(|i| {
            i.stage == Stage::Restoring
                && i.parties
                    .iter()
                    .all(|p| matches!(p.state, PartyState::Home | PartyState::Gone))
        });
        if done {
            self.intrusions.remove(&into);
        }
    }
}

/// Closes every endpoint `intrusion` holds, each party's and the intruder's (closing one
/// already closed does nothing).
fn close_media(cx: &Ctx<'_>, intrusion: &Intrusion) {
    if let Some(media) = cx.media {
        for p in &intrusion.parties {
            media.close(p.endpoint.id);
        }
        if let Some(endpoint) = &intrusion.intruder_endpoint {
            media.close(endpoint.id);
        }
    }
}
