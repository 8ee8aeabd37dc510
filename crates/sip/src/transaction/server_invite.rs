//! The INVITE server transaction (RFC 3261 §17.2.1, Figure 7, with the Accepted state of
//! RFC 6026 §7.1).
//!
//! Proceeding: the TU has the INVITE. If it sends nothing within 200 ms the transaction sends
//! `100 Trying` itself. A retransmitted INVITE gets the last provisional response again. A
//! 300–699 from the TU moves to Completed: the response is retransmitted on Timer G
//! (unreliable only) until the ACK arrives, which is absorbed and moves to Confirmed until
//! Timer I; no ACK by Timer H is a timeout. A 2xx moves to Accepted (the TU retransmits the
//! 2xx itself): INVITE retransmissions are absorbed, ACKs go to the TU, Timer L ends it.

use std::time::{Duration, Instant};

use crate::header_name::HeaderName;
use crate::message::Message;
use crate::method::Method;

use super::timers::{Armed, Timer, TimerConfig, TRYING_DELAY};
use super::{copy_fields, Class, Output, TransactionError};

/// The state of an INVITE server transaction, for inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerInviteState {
    /// The TU has the INVITE and has sent no final response.
    Proceeding,
    /// A 300–699 was sent; waiting for its ACK.
    Completed,
    /// The ACK arrived; absorbing its retransmissions.
    Confirmed,
    /// A 2xx was sent (RFC 6026); ACKs go to the TU.
    Accepted,
    /// Done.
    Terminated,
}

impl ServerInviteState {
    fn name(self) -> &'static str {
        match self {
            ServerInviteState::Proceeding => "Proceeding",
            ServerInviteState::Completed => "Completed",
            ServerInviteState::Confirmed => "Confirmed",
            ServerInviteState::Accepted => "Accepted",
            ServerInviteState::Terminated => "Terminated",
        }
    }
}

/// An INVITE server transaction.
#[derive(Debug, Clone)]
pub struct ServerInvite {
    /// The INVITE, kept only while Proceeding (for `100 Trying`); released on the final
    /// response, since no later state reads it.
    request: Option<Box<Message>>,
    reliable: bool,
    config: TimerConfig,
    state: State,
    armed: Armed,
    /// The current Timer G interval.
    interval_g: Duration,
}

#[derive(Debug, Clone)]
enum State {
    /// Holds the last provisional response sent, if any.
    Proceeding {
        last: Option<Box<Message>>,
    },
    /// Holds the final response to retransmit.
    Completed {
        response: Box<Message>,
    },
    Confirmed,
    Accepted,
    Terminated,
}

impl ServerInvite {
    /// Creates the transaction for a received INVITE, which the caller hands to the TU. Arms
    /// the 200 ms timer after which `100 Trying` is sent (§17.2.1).
    pub fn new(
        request: Message,
        reliable: bool,
        config: TimerConfig,
        now: Instant,
    ) -> Result<(ServerInvite, Vec<Output>), TransactionError> {
        if request.method() != Some(&Method::Invite) {
            return Err(TransactionError::WrongMessageKind {
                expected: "INVITE request",
            });
        }
        let mut txn = ServerInvite {
            request: Some(Box::new(request)),
            reliable,
            config,
            state: State::Proceeding { last: None },
            armed: Armed::default(),
            interval_g: config.t1,
        };
        let mut out = Vec::new();
        txn.armed.arm(Timer::Trying, now, TRYING_DELAY, &mut out);
        Ok((txn, out))
    }

    /// The current state.
    pub fn state(&self) -> ServerInviteState {
        match self.state {
            State::Proceeding { .. } => ServerInviteState::Proceeding,
            State::Completed { .. } => ServerInviteState::Completed,
            State::Confirmed => ServerInviteState::Confirmed,
            State::Accepted => ServerInviteState::Accepted,
            State::Terminated => ServerInviteState::Terminated,
        }
    }

    /// True once the transaction has terminated.
    pub fn is_terminated(&self) -> bool {
        matches!(self.state, State::Terminated)
    }

    /// The INVITE that created the transaction, while the transaction still needs it: it
    /// is released once a final response is sent (Completed, Confirmed and Accepted only
    /// retransmit the final response, absorb, or pass ACKs to the TU).
    pub fn request(&self) -> Option<&Message> {
        self.request.as_deref()
    }

    /// True while the transaction holds a copy of a response to retransmit (the last
    /// provisional in Proceeding, the non-2xx final in Completed).
    pub fn holds_response(&self) -> bool {
        matches!(
            self.state,
            State::Proceeding { last: Some(_) } | State::Completed { .. }
        )
    }

    /// The earliest instant a timer is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.armed.next()
    }

    /// Handles a request matched to this transaction: a retransmitted INVITE or an ACK.
    pub fn receive_request(&mut self, request: Message, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        match (request.method(), &self.state) {
            (Some(Method::Invite), State::Proceeding { last: Some(last) }) => {
                out.push(Output::Send(Message::clone(last)));
            }
            (Some(Method::Invite), State::Completed { response }) => {
                out.push(Output::Send(Message::clone(response)));
            }
            (Some(Method::Ack), State::Completed { .. }) => {
                self.armed.clear(Timer::G);
                self.armed.clear(Timer::H);
                let linger = self.config.linger(self.reliable);
                if linger.is_zero() {
                    self.terminate(&mut out);
                } else {
                    self.state = State::Confirmed;
                    self.armed.arm(Timer::I, now, linger, &mut out);
                }
            }
            // RFC 6026 §7.1: the ACK for a 2xx belongs to the TU.
            (Some(Method::Ack), State::Accepted) => out.push(Output::ToTransactionUser(request)),
            // Absorbed: INVITE before any provisional or after Completed, ACK in Confirmed,
            // an ACK before any final response, anything once terminated.
            _ => {}
        }
        out
    }

    /// Sends a response from the TU.
    pub fn send_response(
        &mut self,
        response: Message,
        now: Instant,
    ) -> Result<Vec<Output>, TransactionError> {
        let Some(status) = response.status() else {
            return Err(TransactionError::WrongMessageKind {
                expected: "response",
            });
        };
        let mut out = Vec::new();
        match (&self.state, Class::of(status)) {
            (State::Proceeding { .. }, Class::Provisional) => {
                self.armed.clear(Timer::Trying);
                out.push(Output::Send(response.clone()));
                self.state = State::Proceeding {
                    last: Some(Box::new(response)),
                };
            }
            (State::Proceeding { .. }, Class::Success) => {
                self.armed.clear(Timer::Trying);
                out.push(Output::Send(response));
                self.state = State::Accepted;
                self.request = None;
                self.armed
                    .arm(Timer::L, now, self.config.timeout(), &mut out);
            }
            (State::Proceeding { .. }, Class::Failure) => {
                self.armed.clear(Timer::Trying);
                out.push(Output::Send(response.clone()));
                self.state = State::Completed {
                    response: Box::new(response),
                };
                self.request = None;
                if !self.reliable {
                    self.armed.arm(Timer::G, now, self.interval_g, &mut out);
                }
                self.armed
                    .arm(Timer::H, now, self.config.timeout(), &mut out);
            }
            // RFC 6026 §7.1: the TU's retransmissions of the 2xx pass through.
            (State::Accepted, Class::Success) => out.push(Output::Send(response)),
            _ => {
                return Err(TransactionError::ResponseNotAllowed {
                    status,
                    state: self.state().name(),
                })
            }
        }
        Ok(out)
    }

    /// Fires every timer due by `now`.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        while let Some(timer) = self.armed.pop_due(now) {
            match (timer, &self.state) {
                (Timer::Trying, State::Proceeding { last: None }) => {
                    let Some(request) = &self.request else {
                        continue;
                    };
                    let trying = trying_for(request);
                    out.push(Output::Send(trying.clone()));
                    self.state = State::Proceeding {
                        last: Some(Box::new(trying)),
                    };
                }
                (Timer::G, State::Completed { response }) => {
                    out.push(Output::Send(Message::clone(response)));
                    self.interval_g = self.config.backoff(self.interval_g);
                    self.armed.arm(Timer::G, now, self.interval_g, &mut out);
                }
                (Timer::H, State::Completed { .. }) => {
                    out.push(Output::TimedOut);
                    self.terminate(&mut out);
                }
                (Timer::I, State::Confirmed) | (Timer::L, State::Accepted) => {
                    self.terminate(&mut out);
                }
                _ => {}
            }
        }
        out
    }

    /// The transport could not send a response: the TU is told and the transaction ends
    /// (§17.2.4).
    pub fn transport_error(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        if !self.is_terminated() {
            out.push(Output::TransportError);
            self.terminate(&mut out);
        }
        out
    }

    fn terminate(&mut self, out: &mut Vec<Output>) {
        self.state = State::Terminated;
        self.request = None;
        self.armed.clear_all();
        out.push(Output::Terminated);
    }
}

/// `100 Trying` for `request` (§8.2.6): its Via fields, From, To (no tag added), Call-ID,
/// CSeq and Timestamp.
fn trying_for(request: &Message) -> Message {
    let mut trying = Message::new_response(100, "Trying");
    for name in [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::Timestamp,
    ] {
        copy_fields(request, &mut trying, &name);
    }
    trying
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::*;
    use ServerInviteState::*;

    enum In {
        /// The INVITE is retransmitted.
        Invite,
        /// An ACK arrives.
        Ack,
        /// The TU sends a response with this status.
        Tu(u16),
        /// `on_timer`.
        Fire,
        /// The transport failed.
        Fail,
    }

    type Row = (u64, In, &'static [&'static str], ServerInviteState);

    fn run(name: &str, reliable: bool, rows: &[Row]) {
        let t0 = Instant::now();
        let (mut txn, out) =
            ServerInvite::new(invite(), reliable, TimerConfig::default(), t0).unwrap();
        assert_eq!(describe(&out, t0), ["set 100-Trying +200ms"], "{name}: new");
        for (i, (at, input, want, state)) in rows.iter().enumerate() {
            let now = t0 + ms(*at);
            let out = match input {
                In::Invite => txn.receive_request(invite(), now),
                In::Ack => txn.receive_request(ack("z9hG4bK776asdhds"), now),
                In::Tu(code) => txn
                    .send_response(invite_response(*code), now)
                    .unwrap_or_else(|e| {
                        vec![Output::Send(Message::new_response(0, &e.to_string()))]
                    }),
                In::Fire => txn.on_timer(now),
                In::Fail => txn.transport_error(),
            };
            assert_eq!(describe(&out, t0), *want, "{name}: row {i}");
            assert_eq!(txn.state(), *state, "{name}: row {i}");
            assert_retains(&txn, &format!("{name}: row {i}"));
        }
    }

    /// What each state keeps (RFC 3261 §17.2.1, RFC 6026 §7.1): the INVITE only in
    /// Proceeding (for `100 Trying`), the non-2xx only in Completed, nothing in Confirmed,
    /// Accepted or Terminated.
    fn assert_retains(txn: &ServerInvite, at: &str) {
        let state = txn.state();
        assert_eq!(
            txn.request().is_some(),
            state == Proceeding,
            "{at}: request"
        );
        match state {
            Completed => assert!(txn.holds_response(), "{at}: response"),
            Confirmed | Accepted | Terminated => {
                assert!(!txn.holds_response(), "{at}: response")
            }
            Proceeding => {}
        }
    }

    #[test]
    fn figure_7_scenarios() {
        run(
            "486 retransmitted on G (capped at T2) until the ACK, which is absorbed",
            false,
            &[
                (100, In::Invite, &[], Proceeding),
                (150, In::Tu(180), &["send 180"], Proceeding),
                (200, In::Fire, &[], Proceeding),
                (250, In::Invite, &["send 180"], Proceeding),
                (
                    300,
                    In::Tu(486),
                    &["send 486", "set G +800ms", "set H +32300ms"],
                    Completed,
                ),
                (400, In::Invite, &["send 486"], Completed),
                (800, In::Fire, &["send 486", "set G +1800ms"], Completed),
                (1_800, In::Fire, &["send 486", "set G +3800ms"], Completed),
                (3_800, In::Fire, &["send 486", "set G +7800ms"], Completed),
                (7_800, In::Fire, &["send 486", "set G +11800ms"], Completed),
                (8_000, In::Ack, &["set I +13000ms"], Confirmed),
                (8_100, In::Ack, &[], Confirmed),
                (8_200, In::Invite, &[], Confirmed),
                (11_800, In::Fire, &[], Confirmed),
                (13_000, In::Fire, &["terminated"], Terminated),
            ],
        );
        run(
            "100 Trying after 200 ms, re-sent on retransmission",
            false,
            &[
                (199, In::Fire, &[], Proceeding),
                (200, In::Fire, &["send 100"], Proceeding),
                (300, In::Invite, &["send 100"], Proceeding),
            ],
        );
        run(
            "no ACK: Timer H times out",
            false,
            &[
                (
                    10,
                    In::Tu(600),
                    &["send 600", "set G +510ms", "set H +32010ms"],
                    Completed,
                ),
                (
                    32_010,
                    In::Fire,
                    &["send 600", "set G +33010ms", "timeout", "terminated"],
                    Terminated,
                ),
                (32_020, In::Ack, &[], Terminated),
            ],
        );
        run(
            "responses the machine refuses",
            false,
            &[
                (
                    10,
                    In::Tu(404),
                    &["send 404", "set G +510ms", "set H +32010ms"],
                    Completed,
                ),
                (20, In::Tu(180), &["send 0"], Completed),
                (30, In::Tu(200), &["send 0"], Completed),
                (40, In::Fail, &["transport error", "terminated"], Terminated),
                (50, In::Tu(404), &["send 0"], Terminated),
            ],
        );
    }

    #[test]
    fn rfc_6026_accepted() {
        run(
            "2xx: INVITE retransmissions absorbed, ACKs to the TU, TU's 2xx pass, L ends it",
            false,
            &[
                (100, In::Tu(200), &["send 200", "set L +32100ms"], Accepted),
                (200, In::Invite, &[], Accepted),
                (300, In::Fire, &[], Accepted),
                (600, In::Tu(200), &["send 200"], Accepted),
                (700, In::Ack, &["tu ACK"], Accepted),
                (800, In::Ack, &["tu ACK"], Accepted),
                (900, In::Tu(486), &["send 0"], Accepted),
                (32_100, In::Fire, &["terminated"], Terminated),
                (32_200, In::Ack, &[], Terminated),
            ],
        );
    }

    #[test]
    fn reliable_transport() {
        run(
            "no Timer G; Timer I is zero",
            true,
            &[
                (10, In::Tu(486), &["send 486", "set H +32010ms"], Completed),
                (20, In::Ack, &["terminated"], Terminated),
            ],
        );
    }

    #[test]
    fn trying_copies_the_request_headers() {
        let t0 = Instant::now();
        let mut inv = invite();
        inv.push_raw(
            HeaderName::Via,
            "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp",
        );
        inv.push_raw(HeaderName::Timestamp, "54");
        let (mut txn, _) = ServerInvite::new(inv, false, TimerConfig::default(), t0).unwrap();
        let out = txn.on_timer(t0 + TRYING_DELAY);
        let [Output::Send(trying)] = out.as_slice() else {
            panic!("{out:?}");
        };
        assert_eq!(
            trying.to_string(),
            "SIP/2.0 100 Trying\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Timestamp: 54\r\n\
Content-Length: 0\r\n\r\n"
        );
    }
}
