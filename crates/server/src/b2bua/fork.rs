//! The outgoing side of a call: one INVITE per contact of the callee, sent in parallel
//! (RFC 3261 §16.7 as a UAC that forks). The first 2xx wins and the other forks are
//! cancelled; a 2xx that comes later, or after the call was given up, is acknowledged and
//! ended with a BYE at once (§13.2.2.4 leaves the UAC no other clean choice). CANCEL is sent
//! only once a fork has sent a provisional response (§9.1).

use callcomp_sip::builder;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::call_info::CallInfo;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::from_to::To;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::transaction::TransactionKey;
use callcomp_sip::uri::Uri;

use super::classify::better;
use super::dialog::Dialog;
use crate::core::transactions::Transactions;
use crate::core::Now;
use crate::transport::Target;

/// Where one fork goes: the contact URI and the network destination.
#[derive(Debug, Clone)]
pub struct Destination {
    /// The Request-URI.
    pub uri: Uri,
    /// Where the INVITE is sent.
    pub target: Target,
}

/// How far one fork got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkState {
    /// INVITE sent, nothing heard.
    Calling,
    /// A provisional response came: CANCEL is possible now.
    Proceeding,
    /// It answered 2xx and won.
    Answered,
    /// It ended (a final failure, a timeout, or a lost 2xx race).
    Done,
}

/// One INVITE of the fork set.
#[derive(Debug, Clone)]
pub struct Fork {
    /// Its client transaction, while it lives.
    pub key: Option<TransactionKey>,
    /// The INVITE as sent (for its CANCEL).
    pub invite: Message,
    /// Where it went.
    pub target: Target,
    /// How far it got.
    pub state: ForkState,
    /// A CANCEL is owed as soon as a provisional response arrives.
    pub cancel_wanted: bool,
    /// Its CANCEL went out: a second abandon sends no second CANCEL (the transaction layer
    /// refuses a duplicate: "CANCEL already exists").
    pub cancel_sent: bool,
    /// The early dialog of its last provisional response with a To tag.
    pub early: Option<Dialog>,
    /// The ACK sent for an unwanted 2xx, resent if the 2xx is retransmitted.
    pub late_ack: Option<Message>,
}

/// What a response to a fork means for the call.
#[derive(Debug)]
pub enum ForkEvent {
    /// Nothing the call must act on (a 100, a failure while other forks live, a
    /// retransmitted 2xx, a late 2xx already dealt with).
    Nothing,
    /// A provisional response with a To tag, from a fork still in the race.
    Provisional(Message),
    /// The first 2xx: the call's dialog on this side is established.
    Answered(Message),
    /// The winning 2xx again: the call resends its ACK, if it sent one.
    Retransmitted,
    /// Every fork ended and none answered.
    Failed,
}

/// The outgoing side of a call: the forks and, once one answered, the dialog.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The Call-ID of every fork.
    pub call_id: String,
    /// Our From tag on every fork.
    pub tag: String,
    /// The CSeq number of the INVITEs.
    pub invite_seq: u32,
    /// The forks.
    pub forks: Vec<Fork>,
    /// The fork that answered.
    pub winner: Option<usize>,
    /// The confirmed dialog, once a fork answered.
    pub dialog: Option<Dialog>,
    /// The call no longer wants an answer: every 2xx gets ACK and BYE.
    pub abandoned: bool,
    /// The best final failure so far (status, reason).
    pub best: Option<(u16, String)>,
    /// The RFC 6910 completion offer (`Call-Info;purpose=call-completion`) on that failure,
    /// when it came from another server's monitor (a trunk call; kept for the agent role).
    pub remote_offer: Option<CallInfo>,
    /// Some fork timed out (Timer B) without a final response.
    pub timed_out: bool,
    /// The fork that sent the last provisional response with a To tag.
    pub last_early: Option<usize>,
}

impl Outgoing {
    /// Sends `invite` (complete but for Via, Request-URI and Contact) to every destination.
    /// The INVITE must carry the From tag `tag`, a Call-ID and a CSeq.
    pub fn start(
        invite: &Message,
        destinations: &[Destination],
        sip: &mut Transactions,
        now: Now,
    ) -> Outgoing {
        let call_id = invite
            .get_str(&HeaderName::CallId)
            .map(|c| c.into_owned())
            .unwrap_or_default();
        let tag = invite
            .header::<callcomp_sip::headers::from_to::From>()
            .and_then(Result::ok)
            .and_then(|f| f.tag().map(str::to_owned))
            .unwrap_or_default();
        let invite_seq = invite
            .header::<CSeq>()
            .and_then(Result::ok)
            .map_or(1, |c| c.seq);
        let mut forks = Vec::new();
        for d in destinations {
            let mut request = invite.clone();
            request.set_uri(d.uri.clone());
            request.prepend(&sip.via(d.target.proto));
            request.set_raw(HeaderName::Contact, sip.contact(d.target.proto));
            // RFC 3261 §20.5: an INVITE should say which methods its sender accepts.
            if request.get_str(&HeaderName::Allow).is_none() {
                request.push_raw(HeaderName::Allow, crate::core::inbound::ALLOWED);
            }
            let key = sip.request(request.clone(), d.target, now.instant);
            let state = if key.is_some() {
                ForkState::Calling
            } else {
                ForkState::Done
            };
            forks.push(Fork {
                key,
                invite: request,
                target: d.target,
                state,
                cancel_wanted: false,
                cancel_sent: false,
                early: None,
                late_ack: None,
            });
        }
        Outgoing {
            call_id,
            tag,
            invite_seq,
            forks,
            winner: None,
            dialog: None,
            abandoned: false,
            best: None,
            remote_offer: None,
            timed_out: false,
            last_early: None,
        }
    }

    /// The fork whose transaction is `key`.
    pub fn fork_of(&self, key: &TransactionKey) -> Option<usize> {
        self.forks.iter().position(|f| f.key.as_ref() == Some(key))
    }

    /// Whether every fork has ended or won.
    pub fn settled(&self) -> bool {
        self.forks
            .iter()
            .all(|f| matches!(f.state, ForkState::Done | ForkState::Answered))
    }

    /// The dialog for requests in it: the confirmed one, else the early dialog of the fork
    /// that last sent a provisional response.
    pub fn dialog_mut(&mut self) -> Option<&mut Dialog> {
        if self.dialog.is_some() {
            return self.dialog.as_mut();
        }
        let i = self.last_early?;
        self.forks.get_mut(i)?.early.as_mut()
    }

    /// The dialog whose remote tag is `tag` (the confirmed one or an early one).
    pub fn dialog_with_tag(&mut self, tag: &str) -> Option<&mut Dialog> {
        if self.dialog.as_ref().is_some_and(|d| d.remote_tag == tag) {
            return self.dialog.as_mut();
        }
        self.forks
            .iter_mut()
            .filter_map(|f| f.early.as_mut())
            .find(|d| d.remote_tag == tag)
    }

    /// Handles a response to fork `index`.
    pub fn on_response(
        &mut self,
        index: usize,
        response: Message,
        sip: &mut Transactions,
        now: Now,
    ) -> ForkEvent {
        let Some(status) = response.status() else {
            return ForkEvent::Nothing;
        };
        let Some(fork) = self.forks.get_mut(index) else {
            return ForkEvent::Nothing;
        };
        match status {
            100..=199 => {
                if fork.state == ForkState::Calling {
                    fork.state = ForkState::Proceeding;
                }
                if fork.cancel_wanted {
                    fork.cancel_wanted = false;
                    send_cancel(fork, sip, now);
                    return ForkEvent::Nothing;
                }
                if status == 100 || self.abandoned || fork.state != ForkState::Proceeding {
                    return ForkEvent::Nothing;
                }
                if let Some(dialog) = Dialog::as_uac(&fork.invite, &response, fork.target) {
                    fork.early = Some(dialog);
                    self.last_early = Some(index);
                }
                ForkEvent::Provisional(response)
            }
            200..=299 => {
                let tag = response
                    .header::<To>()
                    .and_then(Result::ok)
                    .and_then(|t| t.tag().map(str::to_owned));
                if self.winner == Some(index)
                    && self.dialog.as_ref().map(|d| &d.remote_tag) == tag.as_ref()
                {
                    return ForkEvent::Retransmitted;
                }
                if self.winner.is_none() && !self.abandoned {
                    fork.state = ForkState::Answered;
                    self.winner = Some(index);
                    self.dialog = Dialog::as_uac(&fork.invite, &response, fork.target);
                    self.cancel_others(index, sip, now);
                    return ForkEvent::Answered(response);
                }
                if fork.state != ForkState::Answered {
                    fork.state = ForkState::Done;
                }
                match &fork.late_ack {
                    Some(ack) => sip.send(ack, fork.target),
                    None => fork.late_ack = hang_up_late(fork, &response, sip, now),
                }
                ForkEvent::Nothing
            }
            _ => {
                fork.state = ForkState::Done;
                fork.key = None;
                let reason = response
                    .reason_phrase()
                    .map(|r| r.into_owned())
                    .unwrap_or_default();
                if self
                    .best
                    .as_ref()
                    .is_none_or(|(old, _)| better(status, *old))
                {
                    self.best = Some((status, reason));
                    self.remote_offer = response
                        .header_all::<CallInfo>()
                        .ok()
                        .and_then(|all| all.into_iter().find(CallInfo::is_call_completion));
                }
                self.after_fork_ended()
            }
        }
    }

    /// Handles the timeout (Timer B) or transport failure of fork `index`.
    pub fn on_timeout(&mut self, index: usize) -> ForkEvent {
        let Some(fork) = self.forks.get_mut(index) else {
            return ForkEvent::Nothing;
        };
        if fork.state == ForkState::Answered {
            return ForkEvent::Nothing;
        }
        fork.state = ForkState::Done;
        fork.key = None;
        self.timed_out = true;
        self.after_fork_ended()
    }

    fn after_fork_ended(&self) -> ForkEvent {
        if self.winner.is_none() && self.settled() && !self.abandoned {
            ForkEvent::Failed
        } else {
            ForkEvent::Nothing
        }
    }

    /// Gives up the whole fork set: every live fork is cancelled and any 2xx that still
    /// comes is acknowledged and hung up.
    pub fn abandon(&mut self, sip: &mut Transactions, now: Now) {
        self.abandoned = true;
        self.cancel_others(usize::MAX, sip, now);
    }

    /// Cancels every live fork but `keep`.
    fn cancel_others(&mut self, keep: usize, sip: &mut Transactions, now: Now) {
        for (i, fork) in self.forks.iter_mut().enumerate() {
            if i == keep {
                continue;
            }
            match fork.state {
                ForkState::Calling => fork.cancel_wanted = !fork.cancel_sent,
                ForkState::Proceeding => send_cancel(fork, sip, now),
                ForkState::Answered | ForkState::Done => {}
            }
        }
    }
}

/// Sends the CANCEL for a fork's INVITE (§9.1), once; its response needs no handling.
fn send_cancel(fork: &mut Fork, sip: &mut Transactions, now: Now) {
    if fork.cancel_sent {
        return;
    }
    fork.cancel_sent = true;
    if let Some(cancel) = builder::cancel(&fork.invite) {
        sip.request(cancel, fork.target, now.instant);
    }
}

/// ACK and BYE for a 2xx nobody wants (a fork that lost the race, or an abandoned call).
/// Returns the ACK, to resend if the 2xx comes again.
fn hang_up_late(
    fork: &Fork,
    response: &Message,
    sip: &mut Transactions,
    now: Now,
) -> Option<Message> {
    let mut dialog = Dialog::as_uac(&fork.invite, response, fork.target)?;
    let ack = dialog.ack(dialog.local_seq, sip);
    sip.send(&ack, dialog.target);
    let bye = dialog.request(Method::Bye, sip);
    sip.request(bye, dialog.target, now.instant);
    Some(ack)
}
