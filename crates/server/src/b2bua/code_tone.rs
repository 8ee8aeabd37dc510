//! A dialled feature code answered with a tone (issue #11 item 5, docs/completion.md
//! "Feature codes"): the code's INVITE is answered 200 with callcomp's own media (the phone's
//! offer answered, RFC 3264), the confirmation tone (accepted, cancelled) or the error tone
//! (refused: the busy tone) is played, and callcomp hangs up with a BYE after
//! [`CODE_TONE_TIME`]. The call is callcomp's own: the switch never sees it (the request it
//! made is reported as any other). A phone that offers no SDP gets the final response instead
//! (the caller of [`B2bua::answer_code`] sends it).

use std::time::Duration;

use callcomp_media::sdp::SessionDescription;
use callcomp_sip::builder;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::message::Message;
use callcomp_sip::transaction::TransactionKey;
use callcomp_switch::{CallRef, Side};

use super::call::{Call, Incoming, Leg, Phase};
use super::dialog::Dialog;
use super::recall::OwnedEndpoint;
use super::{B2bua, Ctx, Timer};
use crate::core::ids;
use crate::media::{Prompt, ToneKind};
use crate::transport::Target;

/// How long a feature code's tone call lasts before callcomp's BYE.
pub const CODE_TONE_TIME: Duration = Duration::from_secs(3);

impl B2bua {
    /// Answers the code's INVITE `request` (server transaction `key`, from `peer`) 200 with
    /// callcomp's media and plays `tone` until the BYE. `false` when it cannot (no media
    /// plane, no SDP offer, an offer callcomp cannot take, no From tag): nothing was sent.
    pub fn answer_code(
        &mut self,
        cx: &mut Ctx<'_>,
        key: &TransactionKey,
        request: &Message,
        peer: Target,
        tone: ToneKind,
    ) -> bool {
        let Some(media) = cx.media else {
            return false;
        };
        if request.body().is_empty() {
            return false;
        }
        let Ok(offer) = SessionDescription::parse_bytes(request.body()) else {
            return false;
        };
        let tag = ids::tag();
        let Some(dialog) = Dialog::as_uas(request, &tag, peer) else {
            return false;
        };
        let Ok((endpoint, answer)) = media.answer(&offer) else {
            return false;
        };
        let mut ok = builder::response(request, 200, None, &tag);
        ok.push_raw(HeaderName::Contact, cx.sip.contact(dialog.target.proto));
        ok.push_raw(HeaderName::ContentType, "application/sdp".to_owned());
        ok.set_body(answer.sdp.to_string().into_bytes());
        let (seq, target) = (dialog.remote_seq.unwrap_or(0), dialog.target);
        let call_id = dialog.call_id.clone();
        let id = self.new_ref();
        let mut call = Call::new(
            id,
            Leg::In(Incoming {
                invite: request.clone(),
                server: None,
                dialog,
                offered: false,
            }),
        );
        call.phase = Phase::Connected;
        self.calls.insert(id, call);
        self.index_dialog(&call_id, &tag, id, Side::Caller);
        cx.sip.respond(key, ok.clone(), cx.now.instant);
        self.track_2xx(cx, id, Side::Caller, seq, ok, target);
        media.play(endpoint.id, vec![Prompt::Tone(tone)]);
        self.code_tones
            .insert(id, OwnedEndpoint::new(media, endpoint));
        self.arm(cx.now.instant + CODE_TONE_TIME, id, Timer::CodeTone);
        tracing::debug!(call = id.0, ?tone, "feature code answered with a tone");
        true
    }

    /// The tone of code call `id` has played long enough: BYE, and the call is over.
    pub(super) fn code_tone_over(&mut self, cx: &mut Ctx<'_>, id: CallRef) {
        if !self.code_tones.contains_key(&id) {
            return;
        }
        self.send_bye(cx, id, Side::Caller);
        self.end_code_call(id);
    }

    /// A BYE from the phone of code call `id` (it hung up during the tone): `false` when
    /// `id` is no code call.
    pub(super) fn code_caller_bye(&mut self, id: CallRef) -> bool {
        if !self.code_tones.contains_key(&id) {
            return false;
        }
        self.disarm(id, Timer::CodeTone);
        self.end_code_call(id);
        true
    }

    /// Code call `id` ends: its endpoint closes (dropped), the call goes.
    fn end_code_call(&mut self, id: CallRef) {
        self.code_tones.remove(&id);
        if let Some(call) = self.calls.get_mut(&id) {
            call.phase = Phase::Ended;
        }
        self.reap(id);
    }
}
