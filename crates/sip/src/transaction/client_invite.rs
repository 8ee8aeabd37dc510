//! The INVITE client transaction (RFC 3261 §17.1.1, Figure 5, with the Accepted state of
//! RFC 6026 §7.2).
//!
//! Calling: the INVITE is sent, retransmitted on Timer A over unreliable transport, given up
//! on Timer B. A provisional response moves to Proceeding. A 2xx moves to Accepted, where
//! further 2xx (retransmissions, or other forks) go to the TU until Timer M. A 300–699 moves
//! to Completed: the transaction itself ACKs it (§17.1.1.3) and re-sends that ACK for every
//! retransmission of the response until Timer D.

use std::time::{Duration, Instant};

use crate::header_name::HeaderName;
use crate::headers::cseq::CSeq;
use crate::message::Message;
use crate::method::Method;

use super::key::{self, TopVia};
use super::timers::{Armed, Timer, TimerConfig};
use super::{copy_fields, Class, Output, TransactionError};

/// The state of an INVITE client transaction, for inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInviteState {
    /// INVITE sent, nothing heard yet.
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A 2xx arrived (RFC 6026); waiting out its retransmissions.
    Accepted,
    /// A 300–699 arrived and was ACKed; absorbing its retransmissions.
    Completed,
    /// Done.
    Terminated,
}

/// An INVITE client transaction.
#[derive(Debug, Clone)]
pub struct ClientInvite {
    /// The INVITE, retransmitted on Timer A; released on the final response (Accepted
    /// hands 2xx to the TU, Completed re-sends its own ACK).
    request: Option<Box<Message>>,
    /// What the ACK of §17.1.1.3 copies from the INVITE; released with `request`.
    ack_base: Option<Box<AckBase>>,
    reliable: bool,
    config: TimerConfig,
    state: State,
    armed: Armed,
    /// The current Timer A interval.
    interval_a: Duration,
}

#[derive(Debug, Clone)]
enum State {
    Calling,
    Proceeding,
    Accepted,
    /// Holds the ACK to re-send for each retransmitted final response.
    Completed {
        ack: Box<Message>,
    },
    Terminated,
}

impl ClientInvite {
    /// Starts the transaction: sends `request` and arms Timers A (unreliable only) and B.
    /// Fails when `request` is not an INVITE with a readable CSeq and top Via.
    pub fn start(
        request: Message,
        reliable: bool,
        config: TimerConfig,
        now: Instant,
    ) -> Result<(ClientInvite, Vec<Output>), TransactionError> {
        let ack_base = AckBase::of(&request)?;
        let mut out = vec![Output::Send(request.clone())];
        let mut txn = ClientInvite {
            request: Some(Box::new(request)),
            ack_base: Some(Box::new(ack_base)),
            reliable,
            config,
            state: State::Calling,
            armed: Armed::default(),
            interval_a: config.t1,
        };
        if !reliable {
            txn.armed.arm(Timer::A, now, txn.interval_a, &mut out);
        }
        txn.armed.arm(Timer::B, now, config.timeout(), &mut out);
        Ok((txn, out))
    }

    /// The current state.
    pub fn state(&self) -> ClientInviteState {
        match self.state {
            State::Calling => ClientInviteState::Calling,
            State::Proceeding => ClientInviteState::Proceeding,
            State::Accepted => ClientInviteState::Accepted,
            State::Completed { .. } => ClientInviteState::Completed,
            State::Terminated => ClientInviteState::Terminated,
        }
    }

    /// True once the transaction has terminated.
    pub fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated)
    }

    /// The INVITE this transaction sends, until a final response arrives; then it is
    /// released (Accepted and Completed never send it again).
    pub fn request(&self) -> Option<&Message> {
        self.request.as_deref()
    }

    /// True while the transaction holds the ACK it built for a non-2xx (Completed).
    pub fn holds_ack(&self) -> bool {
        matches!(self.state, State::Completed { .. })
    }

    /// The earliest instant a timer is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.armed.next()
    }

    /// Handles a response matched to this transaction. Requests are ignored.
    pub fn receive_response(&mut self, response: Message, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        let Some(status) = response.status() else {
            return out;
        };
        match (&self.state, Class::of(status)) {
            (State::Calling | State::Proceeding, Class::Provisional) => {
                self.armed.clear(Timer::A);
                self.armed.clear(Timer::B);
                self.state = State::Proceeding;
                out.push(Output::ToTransactionUser(response));
            }
            (State::Calling | State::Proceeding, Class::Success) => {
                self.armed.clear(Timer::A);
                self.armed.clear(Timer::B);
                self.release();
                self.state = State::Accepted;
                out.push(Output::ToTransactionUser(response));
                self.armed
                    .arm(Timer::M, now, self.config.timeout(), &mut out);
            }
            (State::Calling | State::Proceeding, Class::Failure) => {
                self.armed.clear(Timer::A);
                self.armed.clear(Timer::B);
                let Some(ack_base) = self.ack_base.take() else {
                    return out;
                };
                self.request = None;
                let ack = ack_base.ack_for(&response);
                out.push(Output::ToTransactionUser(response));
                out.push(Output::Send(ack.clone()));
                let linger = self.config.timer_d(self.reliable);
                if linger.is_zero() {
                    self.terminate(&mut out);
                } else {
                    self.state = State::Completed { ack: Box::new(ack) };
                    self.armed.arm(Timer::D, now, linger, &mut out);
                }
            }
            // RFC 6026 §7.2: every 2xx seen in Accepted goes up, so the TU can ACK it.
            (State::Accepted, Class::Success) => out.push(Output::ToTransactionUser(response)),
            // §17.1.1.2: a retransmitted final response is answered with the same ACK.
            (State::Completed { ack }, Class::Failure) => {
                out.push(Output::Send(Message::clone(ack)));
            }
            _ => {}
        }
        out
    }

    /// Fires every timer due by `now`.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        while let Some(timer) = self.armed.pop_due(now) {
            match (timer, &self.state) {
                (Timer::A, State::Calling) => {
                    let Some(request) = &self.request else {
                        continue;
                    };
                    out.push(Output::Send(Message::clone(request)));
                    // Timer A doubles without the T2 cap (§17.1.1.2).
                    self.interval_a = self.interval_a.saturating_mul(2);
                    self.armed.arm(Timer::A, now, self.interval_a, &mut out);
                }
                (Timer::B, State::Calling) => {
                    out.push(Output::TimedOut);
                    self.terminate(&mut out);
                }
                (Timer::D, State::Completed { .. }) | (Timer::M, State::Accepted) => {
                    self.terminate(&mut out);
                }
                _ => {}
            }
        }
        out
    }

    /// The transport could not send for this transaction: the TU is told and the
    /// transaction ends (§17.1.4).
    pub fn transport_error(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        if !self.is_terminated() {
            out.push(Output::TransportError);
            self.terminate(&mut out);
        }
        out
    }

    /// Drops the INVITE and the ACK template, which no state after a final response reads.
    fn release(&mut self) {
        self.request = None;
        self.ack_base = None;
    }

    fn terminate(&mut self, out: &mut Vec<Output>) {
        self.state = State::Terminated;
        self.armed.clear_all();
        self.release();
        out.push(Output::Terminated);
    }
}

/// The ACK for a non-2xx (§17.1.1.3), all but its To header: the INVITE's Request-URI,
/// top Via only, From, Call-ID, CSeq number with method ACK, and Route set.
#[derive(Debug, Clone)]
struct AckBase {
    template: Message,
}

impl AckBase {
    fn of(request: &Message) -> Result<AckBase, TransactionError> {
        let (Some(Method::Invite), Some(uri)) = (request.method(), request.uri()) else {
            return Err(TransactionError::WrongMessageKind {
                expected: "INVITE request",
            });
        };
        let (cseq, _) = key::cseq(request)?;
        let mut ack = Message::new_request(Method::Ack, uri.clone());
        TopVia::of(request)?;
        ack.push_raw(HeaderName::Via, TopVia::whole(request)?);
        ack.push_raw(HeaderName::MaxForwards, "70");
        copy_fields(request, &mut ack, &HeaderName::From);
        copy_fields(request, &mut ack, &HeaderName::CallId);
        ack.push(&CSeq::new(cseq, Method::Ack));
        copy_fields(request, &mut ack, &HeaderName::Route);
        Ok(AckBase { template: ack })
    }

    /// The ACK for `response`: the template with the response's To (and the tag it added).
    fn ack_for(&self, response: &Message) -> Message {
        let mut ack = self.template.clone();
        copy_fields(response, &mut ack, &HeaderName::To);
        ack
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::*;
    use ClientInviteState::*;

    enum In {
        /// A response with this status arrives.
        Resp(u16),
        /// `on_timer`.
        Fire,
        /// The transport failed.
        Fail,
    }

    type Row = (u64, In, &'static [&'static str], ClientInviteState);

    fn run(name: &str, reliable: bool, start_out: &[&str], rows: &[Row]) {
        let t0 = Instant::now();
        let (mut txn, out) =
            ClientInvite::start(invite(), reliable, TimerConfig::default(), t0).unwrap();
        assert_eq!(describe(&out, t0), start_out, "{name}: start");
        assert_eq!(txn.state(), Calling);
        for (i, (at, input, want, state)) in rows.iter().enumerate() {
            let now = t0 + ms(*at);
            let out = match input {
                In::Resp(code) => txn.receive_response(invite_response(*code), now),
                In::Fire => txn.on_timer(now),
                In::Fail => txn.transport_error(),
            };
            assert_eq!(describe(&out, t0), *want, "{name}: row {i}");
            assert_eq!(txn.state(), *state, "{name}: row {i}");
            // Accepted (Timer M) hands 2xx to the TU and Completed (Timer D) re-sends its
            // own ACK: neither needs the INVITE (RFC 6026 §7.2, RFC 3261 §17.1.1.2).
            assert_eq!(
                txn.request().is_some(),
                matches!(state, Calling | Proceeding),
                "{name}: row {i}: request"
            );
            assert_eq!(txn.holds_ack(), *state == Completed, "{name}: row {i}: ACK");
        }
    }

    const START: &[&str] = &["send INVITE", "set A +500ms", "set B +32000ms"];

    #[test]
    fn figure_5_scenarios() {
        run(
            "180 then 486: ACK, Timer D, retransmitted 486 re-ACKed",
            false,
            START,
            &[
                (100, In::Resp(180), &["tu 180"], Proceeding),
                (150, In::Resp(180), &["tu 180"], Proceeding),
                (
                    200,
                    In::Resp(486),
                    &["tu 486", "send ACK", "set D +32200ms"],
                    Completed,
                ),
                (300, In::Resp(486), &["send ACK"], Completed),
                (400, In::Resp(180), &[], Completed),
                (32_199, In::Fire, &[], Completed),
                (32_200, In::Fire, &["terminated"], Terminated),
                (32_300, In::Resp(486), &[], Terminated),
            ],
        );
        run(
            "Timer A doubles without cap until Timer B",
            false,
            START,
            &[
                (500, In::Fire, &["send INVITE", "set A +1500ms"], Calling),
                (1_500, In::Fire, &["send INVITE", "set A +3500ms"], Calling),
                (3_500, In::Fire, &["send INVITE", "set A +7500ms"], Calling),
                (7_500, In::Fire, &["send INVITE", "set A +15500ms"], Calling),
                (
                    15_500,
                    In::Fire,
                    &["send INVITE", "set A +31500ms"],
                    Calling,
                ),
                (
                    31_500,
                    In::Fire,
                    &["send INVITE", "set A +63500ms"],
                    Calling,
                ),
                (32_000, In::Fire, &["timeout", "terminated"], Terminated),
                (63_500, In::Fire, &[], Terminated),
            ],
        );
        run(
            "provisional stops Timers A and B",
            false,
            START,
            &[
                (100, In::Resp(183), &["tu 183"], Proceeding),
                (40_000, In::Fire, &[], Proceeding),
            ],
        );
        run(
            "a late timer fires once, and B wins over A",
            false,
            START,
            &[(
                40_000,
                In::Fire,
                &["send INVITE", "set A +41000ms", "timeout", "terminated"],
                Terminated,
            )],
        );
        run(
            "transport error",
            false,
            START,
            &[
                (10, In::Fail, &["transport error", "terminated"], Terminated),
                (500, In::Fire, &[], Terminated),
                (600, In::Fail, &[], Terminated),
            ],
        );
    }

    #[test]
    fn rfc_6026_accepted() {
        run(
            "2xx: Accepted, later 2xx go up, Timer M ends it",
            false,
            START,
            &[
                (50, In::Resp(200), &["tu 200", "set M +32050ms"], Accepted),
                (60, In::Resp(200), &["tu 200"], Accepted),
                (70, In::Resp(486), &[], Accepted),
                (80, In::Resp(180), &[], Accepted),
                (500, In::Fire, &[], Accepted),
                (32_050, In::Fire, &["terminated"], Terminated),
                (32_060, In::Resp(200), &[], Terminated),
            ],
        );
    }

    #[test]
    fn reliable_transport() {
        run(
            "no Timer A; Timer D is zero",
            true,
            &["send INVITE", "set B +32000ms"],
            &[
                (
                    10,
                    In::Resp(603),
                    &["tu 603", "send ACK", "terminated"],
                    Terminated,
                ),
                (20, In::Resp(603), &[], Terminated),
            ],
        );
        run(
            "Timer M still runs",
            true,
            &["send INVITE", "set B +32000ms"],
            &[(10, In::Resp(200), &["tu 200", "set M +32010ms"], Accepted)],
        );
    }

    #[test]
    fn ack_follows_section_17_1_1_3() {
        let t0 = Instant::now();
        let mut two_vias = invite();
        two_vias.push_raw(HeaderName::Via, "SIP/2.0/UDP second.example.com");
        let (mut txn, _) =
            ClientInvite::start(two_vias, false, TimerConfig::default(), t0).unwrap();
        let out = txn.receive_response(invite_response(486), t0);
        let Some(Output::Send(ack)) = out.get(1) else {
            panic!("no ACK in {out:?}");
        };
        assert_eq!(
            ack.to_string(),
            "ACK sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 ACK\r\n\
Route: <sip:p1.example.com;lr>\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
Content-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn start_refuses_what_is_not_an_invite() {
        let t0 = Instant::now();
        let rows = [request("OPTIONS", "z9hG4bK1"), invite_response(200)];
        for m in rows {
            assert!(ClientInvite::start(m, false, TimerConfig::default(), t0).is_err());
        }
    }
}
