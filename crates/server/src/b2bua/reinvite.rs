//! Re-INVITEs callcomp sends itself in an established dialog (RFC 3261 §14), not relayed from
//! the other side: to move a party's media onto callcomp's mixer for an intrusion and back.
//!
//! - the request is in the dialog with the next CSeq (§12.2.1.1), our Contact, and our offer
//!   as its body (or none, asking the party to offer in its 2xx);
//! - a 2xx is acknowledged at once (§13.2.2.4) with the ACK kept for a retransmitted 2xx, and
//!   the party's new target taken (§12.2.1.2); its body is the answer (or the offer);
//! - `491 Request Pending` is glare (§14.1): the same re-INVITE is tried again after a random
//!   wait, 2.1–4 s when callcomp chose the dialog's Call-ID (the callee's side, where it is
//!   the UAC) and 0–2 s when it did not;
//! - while one is pending in a dialog, no other INVITE is started in it (§14.1), and a
//!   re-INVITE the party sends meanwhile is answered 491 (§14.2);
//! - any other final response, or none, fails it; the dialog stays as it was (§14.1).
//!
//! The owner of a re-INVITE learns how it ended from [`B2bua::reinvite_outcome`] after
//! `B2bua::reinvite_settled` is called for it.

use std::ops::RangeInclusive;

use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_switch::{CallRef, Side};

use super::call::Leg;
use super::{B2bua, Client, Ctx, Timer};

/// How many times glare is met before the re-INVITE gives up.
const MAX_GLARE_RETRIES: u32 = 3;

/// One re-INVITE of callcomp's own in one side's dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnReinvite {
    /// Its CSeq number (of the current try).
    pub seq: u32,
    /// The SDP offered, or `None` to ask the party for an offer.
    pub offer: Option<Vec<u8>>,
    /// How many times it met glare.
    pub glare: u32,
    /// Where it stands.
    pub state: ReinviteState,
}

/// Where a re-INVITE of ours stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReinviteState {
    /// Sent, no final response yet.
    Pending,
    /// Met glare; sent again when the timer fires.
    WaitingToRetry,
    /// Answered 2xx (and acknowledged): the body of the 2xx.
    Answered(Vec<u8>),
    /// Refused with this status (408 when nothing answered), or could not be sent (500).
    Failed(u16),
}

/// Why a re-INVITE could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReinviteError {
    /// The call or that side's confirmed dialog does not exist.
    #[error("no confirmed dialog on that side of the call")]
    NoDialog,
    /// An INVITE is already in progress in that dialog, in either direction (§14.1).
    #[error("an INVITE is already in progress in that dialog")]
    InviteInProgress,
}

impl B2bua {
    /// Sends a re-INVITE of ours in `side`'s dialog of call `id`, offering `offer` (SDP) or
    /// nothing.
    pub fn reinvite(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        side: Side,
        offer: Option<Vec<u8>>,
    ) -> Result<(), ReinviteError> {
        if self.invite_in_progress(id, side) {
            return Err(ReinviteError::InviteInProgress);
        }
        let own = OwnReinvite {
            seq: 0,
            offer,
            glare: 0,
            state: ReinviteState::Pending,
        };
        self.send_reinvite(cx, id, side, own)
    }

    /// How the re-INVITE of ours in `side`'s dialog of call `id` stands, if there is one.
    pub fn reinvite_outcome(&self, id: CallRef, side: Side) -> Option<&ReinviteState> {
        self.reinvites.get(&(id, side)).map(|r| &r.state)
    }

    /// Forgets a settled re-INVITE (its owner has read the outcome).
    pub fn forget_reinvite(&mut self, id: CallRef, side: Side) {
        let settled = self.reinvites.get(&(id, side)).is_some_and(|r| {
            matches!(
                r.state,
                ReinviteState::Answered(_) | ReinviteState::Failed(_)
            )
        });
        if settled {
            self.reinvites.remove(&(id, side));
        }
    }

    /// Whether a re-INVITE of ours in that dialog has no final answer yet.
    pub fn reinvite_pending(&self, id: CallRef, side: Side) -> bool {
        self.reinvites.get(&(id, side)).is_some_and(|r| {
            matches!(
                r.state,
                ReinviteState::Pending | ReinviteState::WaitingToRetry
            )
        })
    }

    /// A response to our re-INVITE on `side` of call `id`.
    pub(super) fn reinvite_response(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        side: Side,
        response: &Message,
    ) {
        let status = response.status().unwrap_or(500);
        if status < 200 {
            return;
        }
        let Some(own) = self.reinvites.get(&(id, side)).cloned() else {
            return;
        };
        if own.state != ReinviteState::Pending {
            // A 2xx again (the transaction lingers for them, RFC 6026): the ACK for that
            // 2xx's own INVITE, if it is still kept.
            let seq = response
                .header::<CSeq>()
                .and_then(Result::ok)
                .map(|c| c.seq);
            if let (200..=299, Some(seq)) = (status, seq) {
                self.resend_reinvite_ack(cx, id, side, seq);
            }
            return;
        }
        let state = match status {
            200..=299 => {
                self.ack_reinvite(cx, id, side, own.seq, response);
                ReinviteState::Answered(response.body().to_vec())
            }
            491 if own.glare < MAX_GLARE_RETRIES => {
                let wait = cx.sip.random_wait(glare_wait(side));
                self.arm(cx.now.instant + wait, id, Timer::ReinviteRetry(side));
                tracing::debug!(
                    call = id.0,
                    ?side,
                    ?wait,
                    "re-INVITE met glare; trying again"
                );
                ReinviteState::WaitingToRetry
            }
            _ => ReinviteState::Failed(status),
        };
        self.set_reinvite_state(cx, id, side, state);
    }

    /// Our re-INVITE on `side` of call `id` got no final response.
    pub(super) fn reinvite_timed_out(&mut self, cx: &mut Ctx<'_>, id: CallRef, side: Side) {
        if self
            .reinvites
            .get(&(id, side))
            .is_some_and(|r| r.state == ReinviteState::Pending)
        {
            self.set_reinvite_state(cx, id, side, ReinviteState::Failed(408));
        }
    }

    /// The glare wait of the re-INVITE on `side` of call `id` is over: it is sent again.
    pub(super) fn reinvite_retry(&mut self, cx: &mut Ctx<'_>, id: CallRef, side: Side) {
        let Some(mut own) = self.reinvites.get(&(id, side)).cloned() else {
            return;
        };
        if own.state != ReinviteState::WaitingToRetry {
            return;
        }
        if self.invite_in_progress(id, side) {
            // The party's own re-INVITE is still going on: wait another round.
            let wait = cx.sip.random_wait(glare_wait(side));
            self.arm(cx.now.instant + wait, id, Timer::ReinviteRetry(side));
            return;
        }
        own.glare += 1;
        own.state = ReinviteState::Pending;
        if self.send_reinvite(cx, id, side, own).is_err() {
            self.set_reinvite_state(cx, id, side, ReinviteState::Failed(500));
        }
    }

    /// Whether an INVITE transaction is in progress in `side`'s dialog of call `id`, ours or
    /// relayed, in either direction.
    pub(super) fn invite_in_progress(&self, id: CallRef, side: Side) -> bool {
        let ours = self
            .reinvites
            .get(&(id, side))
            .is_some_and(|r| r.state == ReinviteState::Pending);
        if ours {
            return true;
        }
        self.clients.of_call(id).any(|(_, client)| {
            matches!(client, Client::Relay(r) if r.request.method() == Some(&Method::Invite))
        })
    }

    fn send_reinvite(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        side: Side,
        mut own: OwnReinvite,
    ) -> Result<(), ReinviteError> {
        let call = self.calls.get_mut(&id).ok_or(ReinviteError::NoDialog)?;
        let dialog = match call.leg_mut(side) {
            Some(Leg::In(i)) if i.server.is_none() => &mut i.dialog,
            Some(Leg::Out(o)) => o.dialog.as_mut().ok_or(ReinviteError::NoDialog)?,
            _ => return Err(ReinviteError::NoDialog),
        };
        let mut invite = dialog.request(Method::Invite, cx.sip);
        own.seq = dialog.local_seq;
        let target = dialog.target;
        if let Some(sdp) = &own.offer {
            invite.push_raw(HeaderName::ContentType, "application/sdp".to_owned());
            invite.set_body(sdp.clone());
        }
        let key = cx
            .sip
            .request(invite, target, cx.now.instant)
            .ok_or(ReinviteError::NoDialog)?;
        self.clients.insert(key, (id, Client::Reinvite(side)));
        self.reinvites.insert((id, side), own);
        Ok(())
    }

    /// ACKs the 2xx to our re-INVITE numbered `seq` and takes the party's new target.
    fn ack_reinvite(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        side: Side,
        seq: u32,
        response: &Message,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(dialog) = call.leg_mut(side).and_then(Leg::dialog_mut) else {
            return;
        };
        dialog.refresh_target(response);
        let ack = dialog.ack(seq, cx.sip);
        let target = dialog.target;
        cx.sip.send(&ack, target);
        call.keep_ack(side, seq, ack, target);
    }

    /// A 2xx to our re-INVITE numbered `seq` came again: the same ACK goes again.
    fn resend_reinvite_ack(&mut self, cx: &mut Ctx<'_>, id: CallRef, side: Side, seq: u32) {
        if let Some((ack, target)) = self.calls.get(&id).and_then(|c| c.sent_ack(side, seq)) {
            cx.sip.send(ack, target);
        }
    }

    fn set_reinvite_state(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        side: Side,
        state: ReinviteState,
    ) {
        let settled = matches!(state, ReinviteState::Answered(_) | ReinviteState::Failed(_));
        if let Some(own) = self.reinvites.get_mut(&(id, side)) {
            own.state = state;
        }
        if settled && self.is_joining_recall(id) {
            self.recall_join_settled(cx, id, side);
        } else if settled {
            self.reinvite_settled(cx, id, side);
        }
    }
}

/// How many milliseconds to wait, at random, before trying a re-INVITE again after a 491
/// (RFC 3261 §14.1): callcomp chose the Call-ID of the callee's side.
fn glare_wait(side: Side) -> RangeInclusive<u64> {
    match side {
        Side::Callee => 2_100..=4_000,
        Side::Caller => 0..=2_000,
    }
}
