//! One B2BUA call: its two sides, its phase, and what it still owes on the wire (ACKs to
//! relay, 2xx responses to retransmit until acknowledged).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use callcomp_sip::message::Message;
use callcomp_sip::transaction::TransactionKey;
use callcomp_switch::{CallRef, Side};

use super::dialog::Dialog;
use super::fork::Outgoing;
use super::recall::Recall;
use crate::transport::Target;

/// The caller's side of an ordinary call: callcomp answers the caller's INVITE as UAS.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The caller's INVITE.
    pub invite: Message,
    /// Its server transaction, until callcomp sent the final response.
    pub server: Option<TransactionKey>,
    /// The dialog with the caller (early until the 2xx).
    pub dialog: Dialog,
    /// Whether the completion offer already went out on a provisional response.
    pub offered: bool,
}

/// One side of a call.
#[derive(Debug, Clone)]
pub enum Leg {
    /// callcomp is the UAS (the caller of an ordinary call).
    In(Incoming),
    /// callcomp is the UAC, possibly forking.
    Out(Outgoing),
}

impl Leg {
    /// The dialog requests on this side travel in (confirmed, or early).
    pub fn dialog_mut(&mut self) -> Option<&mut Dialog> {
        match self {
            Leg::In(i) => Some(&mut i.dialog),
            Leg::Out(o) => o.dialog_mut(),
        }
    }

    /// The dialog with the peer whose tag is `tag`.
    pub fn dialog_with_tag(&mut self, tag: &str) -> Option<&mut Dialog> {
        match self {
            Leg::In(i) => (i.dialog.remote_tag == tag).then_some(&mut i.dialog),
            Leg::Out(o) => o.dialog_with_tag(tag),
        }
    }

    /// The outgoing side, if this is one.
    pub fn as_out_mut(&mut self) -> Option<&mut Outgoing> {
        match self {
            Leg::Out(o) => Some(o),
            Leg::In(_) => None,
        }
    }

    /// The incoming side, if this is one.
    pub fn as_in_mut(&mut self) -> Option<&mut Incoming> {
        match self {
            Leg::In(i) => Some(i),
            Leg::Out(_) => None,
        }
    }
}

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Being set up: the callee has not answered.
    Setup,
    /// Answered: both dialogs confirmed.
    Connected,
    /// Over for the switch; waiting only for the wire to settle (CANCELs, BYE responses).
    Ended,
}

/// How far the attempt to reach the callee went, and what became of the caller's INVITE after
/// a busy (DESIGN §2.5). One value, so a call cannot be camped on without being held, nor
/// ring while held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The callee's phones are being called; none rang yet.
    Calling,
    /// A phone of the callee rang (180/183): a failure now counts as no answer.
    Rang,
    /// The callee was busy and the caller's INVITE is held open (183) for `busy_hold`,
    /// waiting for a decision.
    Held,
    /// A completion request keeps the held INVITE open: a camp-on waiting for the callee
    /// (`182 Queued`), or an intrusion being set up.
    Kept,
}

impl Attempt {
    /// Whether a phone of the callee rang.
    pub const fn rang(self) -> bool {
        matches!(self, Attempt::Rang)
    }

    /// Whether the caller's INVITE is held open after a busy.
    pub const fn held(self) -> bool {
        matches!(self, Attempt::Held | Attempt::Kept)
    }

    /// A phone rang: `true` the first time (the switch hears of it once).
    pub fn ring(&mut self) -> bool {
        let first = *self == Attempt::Calling;
        if first {
            *self = Attempt::Rang;
        }
        first
    }
}

/// The stage of a third-party call (RFC 3725 flow I).
#[derive(Debug, Clone)]
pub enum ThirdParty {
    /// Ringing the line's own phone (INVITE without SDP).
    RingingPhone,
    /// The phone answered with an offer (its 2xx, not yet acknowledged); calling the
    /// destination with that offer.
    CallingDestination,
}

/// An ACK owed to one side when the other side acknowledges a relayed 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingAck {
    /// The side whose ACK we wait for.
    pub from: Side,
    /// The CSeq number of that side's INVITE.
    pub from_seq: u32,
    /// The CSeq number of our INVITE on the other side, to acknowledge.
    pub to_seq: u32,
}

/// A 2xx to an INVITE that callcomp retransmits until it is acknowledged (RFC 3261
/// §13.3.1.4; over UDP only).
#[derive(Debug, Clone)]
pub struct Unacked {
    /// The side it went to.
    pub side: Side,
    /// The INVITE's CSeq number.
    pub seq: u32,
    /// The response.
    pub response: Message,
    /// Where it goes.
    pub target: Target,
    /// The current interval (T1 doubling up to T2).
    pub interval: Duration,
    /// When to stop trying (64·T1 after the first send).
    pub give_up: Instant,
}

/// One call through the B2BUA.
#[derive(Debug)]
pub struct Call {
    /// The call's handle, shared with the switch.
    pub id: CallRef,
    /// The caller's side.
    pub caller: Leg,
    /// The callee's side, once callcomp calls the callee.
    pub callee: Option<Leg>,
    /// Where the call is.
    pub phase: Phase,
    /// The callee's line, once known.
    pub callee_line: Option<String>,
    /// How far the callee's side went, and what became of a caller held after a busy.
    pub attempt: Attempt,
    /// For a third-party call, its stage; `None` for an ordinary call.
    pub third_party: Option<ThirdParty>,
    /// ACKs to relay, by the side they come from.
    pub pending_acks: Vec<PendingAck>,
    /// ACKs sent for 2xx responses, by side and CSeq, to resend on a retransmitted 2xx.
    pub sent_acks: HashMap<(Side, u32), (Message, Target)>,
    /// 2xx responses being retransmitted until acknowledged.
    pub unacked: Vec<Unacked>,
    /// Whether the no-answer timer is armed.
    pub ringing_timer: Option<Instant>,
    /// For a callback recall, its request and stage (`super::recall`).
    pub recall: Option<Recall>,
    /// For a recall, the switch's handle of the callee's side: the recall's own handle shows
    /// the caller's line an offered call, this one shows the callee's line its call.
    pub shadow: Option<CallRef>,
    /// The caller's line, when the caller is one of ours.
    pub caller_line: Option<String>,
    /// The caller, when it is another server's user over a trunk (its failure is kept for
    /// its subscription, and its CC call passes the reservation made for it).
    pub trunk_caller: Option<callcomp_switch::TrunkCaller>,
    /// For a CC call (RFC 6910 §6.4), its request, until the outcome is reported
    /// (`super::cc_call`).
    pub cc_call: Option<callcomp_switch::CompletionId>,
    /// The last SDP each side was sent (the caller's, then the callee's), so that an
    /// intrusion can put the two back to each other as they were.
    pub last_sdp: [Option<Vec<u8>>; 2],
}

impl Call {
    /// A new call with only its caller's side.
    pub fn new(id: CallRef, caller: Leg) -> Call {
        Call {
            id,
            caller,
            callee: None,
            phase: Phase::Setup,
            callee_line: None,
            attempt: Attempt::Calling,
            third_party: None,
            pending_acks: Vec::new(),
            sent_acks: HashMap::new(),
            unacked: Vec::new(),
            ringing_timer: None,
            recall: None,
            shadow: None,
            caller_line: None,
            trunk_caller: None,
            cc_call: None,
            last_sdp: [None, None],
        }
    }

    /// The leg on `side`.
    pub fn leg_mut(&mut self, side: Side) -> Option<&mut Leg> {
        match side {
            Side::Caller => Some(&mut self.caller),
            Side::Callee => self.callee.as_mut(),
        }
    }

    /// Notes the SDP body of `message`, which is on its way to `to`.
    pub fn note_sdp(&mut self, to: Side, message: &Message) {
        let sdp = message
            .get_str(&callcomp_sip::header_name::HeaderName::ContentType)
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"));
        if sdp && !message.body().is_empty() {
            self.last_sdp[side_index(to)] = Some(message.body().to_vec());
        }
    }

    /// Notes `sdp`, which callcomp itself sent to `side`.
    pub fn last_sdp_sent(&mut self, side: Side, sdp: Vec<u8>) {
        self.last_sdp[side_index(side)] = Some(sdp);
    }

    /// The last SDP `side` was sent.
    pub fn sdp_sent_to(&self, side: Side) -> Option<&[u8]> {
        self.last_sdp[side_index(side)].as_deref()
    }

    /// Whether nothing is left to wait for: the call is over and every fork settled.
    pub fn finished(&self) -> bool {
        let settled = |leg: &Leg| match leg {
            Leg::Out(o) => o.settled(),
            Leg::In(i) => i.server.is_none(),
        };
        self.phase == Phase::Ended
            && settled(&self.caller)
            && self.callee.as_ref().is_none_or(settled)
    }
}

const fn side_index(side: Side) -> usize {
    match side {
        Side::Caller => 0,
        Side::Callee => 1,
    }
}

/// The other side.
pub fn other(side: Side) -> Side {
    match side {
        Side::Caller => Side::Callee,
        Side::Callee => Side::Caller,
    }
}
