//! Third-party calls (RFC 3725 flow I): callcomp rings a line's own phone first, with an
//! INVITE without SDP; the phone's 2xx carries an offer, which goes in callcomp's INVITE to
//! the destination; the destination's 2xx carries the answer, which goes in the ACK to the
//! phone (and the destination gets its ACK). From then on the call is an ordinary B2BUA call.
//!
//! `lineMakeCall` (`POST /v1/lines/{line}/calls`) uses it as is. The callback recall of call
//! completion starts the same way (the phone rings showing the callee) but answers the
//! phone's offer with callcomp's own media ([`super::recall`]). A failure on either side of a
//! `lineMakeCall` tears both down: the phone's 2xx is acknowledged and ended with a BYE, the
//! destination's INVITE is cancelled.

use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::numbers::MaxForwards;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::uri::Uri;
use callcomp_switch::{
    CallReason, CallRef, CallerLeg, CompletionFact, CompletionId, Fact, Party, RemoteTarget, Side,
};

use super::call::{Call, Leg, Phase, ThirdParty};
use super::classify::{classify, Outcome};
use super::dialog::{copy_end_to_end, name_addr};
use super::fork::{ForkEvent, Outgoing};
use super::recall::{Recall, RecallStage};
use super::{B2bua, Client, Ctx, Timer};
use crate::registrar::aor_user;

/// Why a third-party call could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MakeCallError {
    /// The calling line does not exist.
    #[error("unknown line `{0}`")]
    UnknownLine(String),
    /// The destination is neither a line name nor a SIP URI of a line.
    #[error("the destination `{0}` is not a line")]
    InvalidAddress(String),
    /// The calling line's phone has no binding to ring.
    #[error("the phone of line `{0}` is not registered")]
    PhoneNotRegistered(String),
}

/// What a third-party call connects: the line whose phone rings first, and who it calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// The line whose phone is rung first.
    pub line: String,
    /// The destination line.
    pub to: String,
    /// The display name the phone shows for the call (the destination's `display_name`, else
    /// its line name, by default).
    pub display: Option<String>,
    /// For a callback recall, its completion request: the phone's line sees an offered call
    /// with reason `callcompletion`, the INVITE carries the RFC 6910 Call-Info, and the
    /// outcome goes to the engine as `Recall*` facts.
    pub recall: Option<CompletionId>,
}

impl B2bua {
    /// `lineMakeCall`: rings `line`'s phone, then calls `to` (a line name or its SIP URI).
    pub fn make_call(
        &mut self,
        cx: &mut Ctx<'_>,
        line: &str,
        to: &str,
    ) -> Result<CallRef, MakeCallError> {
        if cx.switch.line(line).is_none() {
            return Err(MakeCallError::UnknownLine(line.to_owned()));
        }
        let dest = destination_line(to).filter(|d| cx.switch.line(d).is_some());
        let Some(dest) = dest else {
            return Err(MakeCallError::InvalidAddress(to.to_owned()));
        };
        self.join(
            cx,
            JoinRequest {
                line: line.to_owned(),
                to: dest,
                display: None,
                recall: None,
            },
        )
    }

    /// Starts the flow: rings the phone of `req.line` without SDP.
    pub fn join(&mut self, cx: &mut Ctx<'_>, req: JoinRequest) -> Result<CallRef, MakeCallError> {
        let destinations = cx.destinations(&req.line);
        if destinations.is_empty() {
            return Err(MakeCallError::PhoneNotRegistered(req.line));
        }
        let id = self.new_ref();
        let remote = req.recall.and_then(|cid| remote_callee(cx, cid));
        let dest_aor = remote
            .as_ref()
            .map_or_else(|| cx.aor(&req.to), |r| r.aor.clone());
        let line_aor = cx.aor(&req.line);
        match req.recall {
            Some(cid) => {
                cx.fact(Fact::Dialed {
                    call: id,
                    from: Party::External(dest_aor.clone()),
                    to: line_aor.clone(),
                });
                cx.fact(Fact::Offered {
                    call: id,
                    line: req.line.clone(),
                    reason: CallReason::Callcompletion,
                    completion_id: Some(cid.get()),
                });
            }
            None => cx.fact(Fact::Dialed {
                call: id,
                from: Party::Line(req.line.clone()),
                to: dest_aor.clone(),
            }),
        }
        let display = req
            .display
            .clone()
            .unwrap_or_else(|| cx.line_settings(&req.to).display);
        let from = format!("{};tag={}", name_addr(&display, &dest_aor), cx.sip.tag());
        let mut invite = new_invite(cx, &line_aor, &from, &line_aor);
        if let Some(cid) = req.recall {
            // RFC 6910 §6.4: the recall names the request's own cc URI and its `m`, so an RFC
            // 6910 phone can place the CC call to it.
            let m = cx
                .switch
                .completion(cid)
                .map(|r| super::offer::m_of(r.condition));
            if let Some(uri) = super::offer::request_cc_uri(&cx.config.domain, cid) {
                invite.push(&callcomp_sip::headers::call_info::CallInfo::call_completion(uri, m));
            }
        }
        let out = Outgoing::start(&invite, &destinations, cx.sip, cx.now);
        self.index_dialog(&out.call_id, &out.tag, id, Side::Caller);
        for key in out.forks.iter().filter_map(|f| f.key.clone()) {
            self.clients.insert(key, (id, Client::Fork(Side::Caller)));
        }
        let mut call = Call::new(id, Leg::Out(out));
        call.third_party = Some(ThirdParty::RingingPhone);
        call.callee_line = Some(req.to.clone());
        call.recall = req.recall.map(|id| Recall {
            id,
            stage: RecallStage::RingingCaller,
        });
        self.calls.insert(id, call);
        if let Some(cid) = req.recall {
            self.recalls.insert(cid, id);
        }
        let at = cx.now.instant + cx.line_settings(&req.line).no_answer_timeout;
        self.arm(at, id, Timer::NoAnswer);
        Ok(id)
    }

    /// A fork event of a third-party call.
    pub(super) fn join_event(
        &mut self,
        cx: &mut Ctx<'_>,
        id: CallRef,
        side: Side,
        event: ForkEvent,
    ) {
        match (side, event) {
            (_, ForkEvent::Nothing) => {}
            (_, ForkEvent::Retransmitted) => self.resend_ack(cx, id, side),
            (Side::Caller, ForkEvent::Provisional(_)) => {}
            (Side::Caller, ForkEvent::Answered(answer)) => self.phone_answered(cx, id, answer),
            (Side::Caller, ForkEvent::Failed) => {
                self.disarm(id, Timer::NoAnswer);
                if let Some(call) = self.calls.get_mut(&id) {
                    call.phase = Phase::Ended;
                }
                self.recall_not_taken(cx, id);
            }
            (Side::Callee, ForkEvent::Provisional(response)) => {
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                if matches!(response.status(), Some(180 | 183)) && call.attempt.ring() {
                    if call.recall.is_some() {
                        self.shadow_fact(cx, id, |call| Fact::Ringing { call });
                    } else {
                        cx.fact(Fact::Ringing { call: id });
                    }
                }
            }
            (Side::Callee, ForkEvent::Answered(answer)) => {
                if self.calls.get(&id).is_some_and(|c| c.recall.is_some()) {
                    return self.recall_callee_answered(cx, id, &answer);
                }
                self.disarm(id, Timer::NoAnswer);
                self.ack_out(cx, id, Side::Callee, None);
                self.ack_out(cx, id, Side::Caller, Some(&answer));
                if let Some(call) = self.calls.get_mut(&id) {
                    call.phase = Phase::Connected;
                }
                cx.fact(Fact::Answered { call: id });
            }
            (Side::Callee, ForkEvent::Failed) => {
                let outcome = match self.calls.get(&id).and_then(|c| c.callee.as_ref()) {
                    Some(Leg::Out(Outgoing {
                        best: Some((status, reason)),
                        ..
                    })) => Outcome::Response {
                        status: *status,
                        reason: reason.clone(),
                    },
                    _ => Outcome::TimedOut,
                };
                self.join_failed(cx, id, outcome);
            }
        }
    }

    /// The phone answered with its offer: call the destination with it.
    fn phone_answered(&mut self, cx: &mut Ctx<'_>, id: CallRef, answer: Message) {
        self.disarm(id, Timer::NoAnswer);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase != Phase::Setup {
            return;
        }
        call.third_party = Some(ThirdParty::CallingDestination);
        let recall = call.recall.as_ref().map(|r| r.id);
        let Some(dest) = call.callee_line.clone() else {
            return;
        };
        if recall.is_some() && !self.recall_caller_answered(cx, id, &answer) {
            return;
        }
        if let Some(cid) = recall {
            // The caller took the recall: its line's call is connected (to callcomp's ringback).
            cx.completion_fact(CompletionFact::RecallAnswered { id: cid });
            cx.fact(Fact::Answered { call: id });
        } else {
            cx.fact(Fact::Proceeding { call: id });
        }
        if let Some(remote) = recall.and_then(|cid| remote_callee(cx, cid)) {
            return self.remote_cc_call(cx, id, &remote, &answer);
        }
        let settings = cx.line_settings(&dest);
        if !settings.call_waiting && cx.switch.line_in_call(&dest) {
            return self.join_failed(cx, id, Outcome::BusyOnBusy);
        }
        let destinations = cx.destinations(&dest);
        if destinations.is_empty() {
            return self.join_failed(cx, id, Outcome::NotRegistered);
        }
        match recall {
            None => cx.fact(Fact::offered(id, dest.clone())),
            Some(cid) => {
                // The callee's line sees the recall as a call from the caller.
                let shadow = self.new_ref();
                let caller_aor = match self.calls.get(&id).map(|c| &c.caller) {
                    Some(Leg::Out(phone)) => phone
                        .dialog
                        .as_ref()
                        .map(|d| bare_uri(&d.remote_uri))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                cx.fact(Fact::Dialed {
                    call: shadow,
                    from: Party::External(caller_aor),
                    to: cx.aor(&dest),
                });
                cx.fact(Fact::Proceeding { call: shadow });
                cx.fact(Fact::Offered {
                    call: shadow,
                    line: dest.clone(),
                    reason: CallReason::Callcompletion,
                    completion_id: Some(cid.get()),
                });
                if let Some(call) = self.calls.get_mut(&id) {
                    call.shadow = Some(shadow);
                }
            }
        }
        let Some(Leg::Out(phone)) = self.calls.get(&id).map(|c| &c.caller) else {
            return;
        };
        let Some(dialog) = phone.dialog.as_ref() else {
            return;
        };
        let from = phone_from(cx, dialog);
        let dest_aor = cx.aor(&dest);
        let mut invite = new_invite(cx, &dest_aor, &from, &dest_aor);
        copy_end_to_end(&answer, &mut invite);
        let ring = match recall {
            Some(_) if !self.recall_offer(cx, id, &mut invite) => {
                return self.join_failed(cx, id, Outcome::NotRegistered);
            }
            Some(_) => cx.config.completion.recall_callee_ring,
            None => settings.no_answer_timeout,
        };
        let out = Outgoing::start(&invite, &destinations, cx.sip, cx.now);
        self.attach_callee(id, out);
        self.arm(cx.now.instant + ring, id, Timer::NoAnswer);
    }

    /// The third-party call failed on the destination's side (or the phone did not answer
    /// in time): tear down both sides and report it.
    pub(super) fn join_failed(&mut self, cx: &mut Ctx<'_>, id: CallRef, outcome: Outcome) {
        self.disarm(id, Timer::NoAnswer);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.phase != Phase::Setup {
            return;
        }
        call.phase = Phase::Ended;
        let phone_answered = matches!(call.third_party, Some(ThirdParty::CallingDestination));
        let rang = call.attempt.rang();
        if let Some(Leg::Out(callee)) = &mut call.callee {
            callee.abandon(cx.sip, cx.now);
        }
        let recall = call.recall.is_some();
        if !phone_answered {
            if let Leg::Out(phone) = &mut call.caller {
                phone.abandon(cx.sip, cx.now);
            }
            self.recall_not_taken(cx, id);
            self.reap(id);
            return;
        }
        if recall {
            // The caller hears callcomp's media: a busy tone, then the BYE.
            return self.recall_callee_outcome(cx, id, &outcome);
        }
        self.ack_out(cx, id, Side::Caller, None);
        self.send_bye(cx, id, Side::Caller);
        let classified = classify(&outcome, rang);
        cx.fact(Fact::Failed {
            call: id,
            cause: classified.failure,
            caller_leg: CallerLeg::Released,
        });
        self.reap(id);
    }
}

/// The From of callcomp's INVITE to the destination of a third-party call whose phone
/// answered in `dialog`: the phone's own AOR (the remote URI of its dialog) with its line's
/// display name, and a new tag.
pub(super) fn phone_from(cx: &mut Ctx<'_>, dialog: &super::dialog::Dialog) -> String {
    let phone_aor = bare_uri(&dialog.remote_uri);
    let line = Uri::parse(&phone_aor).ok().as_ref().and_then(aor_user);
    let from = match line {
        Some(line) => name_addr(&cx.line_settings(&line).display, &phone_aor),
        None => dialog.remote_uri.clone(),
    };
    format!("{from};tag={}", cx.sip.tag())
}

/// The remote callee of request `cid` (RFC 6910 agent role), if it has one.
pub(super) fn remote_callee(cx: &Ctx<'_>, cid: CompletionId) -> Option<RemoteTarget> {
    cx.switch.completion(cid)?.target.remote().cloned()
}

/// The URI of a name-addr (`"Dave" <sip:dave@…>` → `sip:dave@…`); the text itself when it
/// has no angle brackets.
fn bare_uri(name_addr: &str) -> String {
    name_addr
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map_or_else(|| name_addr.trim().to_owned(), |(uri, _)| uri.to_owned())
}

/// The line a destination names: `bob`, `sip:bob@…`.
fn destination_line(to: &str) -> Option<String> {
    if to.contains(':') {
        return Uri::parse(to).ok().as_ref().and_then(aor_user);
    }
    let valid = !to.is_empty()
        && to
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.!~*'()+".contains(c));
    valid.then(|| to.to_owned())
}

/// A new INVITE of callcomp's own (no body yet): Request-URI (replaced per fork), From with
/// its tag, To, a new Call-ID, CSeq 1.
pub(super) fn new_invite(cx: &mut Ctx<'_>, uri: &str, from: &str, to: &str) -> Message {
    let uri = Uri::parse(uri).unwrap_or_else(|_| {
        Uri::Other(callcomp_sip::uri::OtherUri {
            scheme: "sip".into(),
            rest: uri.into(),
        })
    });
    let mut invite = Message::new_request(Method::Invite, uri);
    invite.push(&MaxForwards(70));
    invite.push_raw(HeaderName::From, from.to_owned());
    invite.push_raw(HeaderName::To, format!("<{to}>"));
    invite.push_raw(HeaderName::CallId, cx.sip.call_id());
    invite.push(&CSeq::new(1, Method::Invite));
    invite
}
