//! The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).
//!
//! Trying: the TU has the request; retransmissions are absorbed. A provisional response from
//! the TU moves to Proceeding, where retransmissions get that response again. A final
//! response moves to Completed, where retransmissions get the final response again until
//! Timer J (zero on reliable transport).

use std::time::Instant;

use crate::message::Message;
use crate::method::Method;
use crate::parse::Limits;

use super::timers::{Armed, Timer, TimerConfig};
use super::{Class, Output, TransactionError};

/// No bounds, for parsing back the response this transaction serialized itself.
const UNBOUNDED: Limits = Limits {
    max_message_size: usize::MAX,
    max_headers: usize::MAX,
    max_header_line: usize::MAX,
};

/// The state of a non-INVITE server transaction, for inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerNonInviteState {
    /// The TU has the request and has not answered.
    Trying,
    /// The TU sent a provisional response.
    Proceeding,
    /// The TU sent a final response; answering retransmissions with it.
    Completed,
    /// Done.
    Terminated,
}

impl ServerNonInviteState {
    fn name(self) -> &'static str {
        match self {
            ServerNonInviteState::Trying => "Trying",
            ServerNonInviteState::Proceeding => "Proceeding",
            ServerNonInviteState::Completed => "Completed",
            ServerNonInviteState::Terminated => "Terminated",
        }
    }
}

/// A non-INVITE server transaction.
#[derive(Debug, Clone)]
pub struct ServerNonInvite {
    /// The request, released on the final response: Completed answers retransmissions
    /// from `last` alone.
    request: Option<Box<Message>>,
    reliable: bool,
    config: TimerConfig,
    state: ServerNonInviteState,
    /// The last response sent, in wire form: what a retransmitted request gets. Kept as
    /// bytes, one allocation, because a Completed transaction lingers for Timer J (32 s on
    /// UDP) and a built response is a dozen; a retransmission, rare, parses it again.
    last: Option<Box<[u8]>>,
    armed: Armed,
}

impl ServerNonInvite {
    /// Creates the transaction for a received request, which the caller hands to the TU.
    /// Fails for a response, an INVITE or an ACK.
    pub fn new(
        request: Message,
        reliable: bool,
        config: TimerConfig,
    ) -> Result<ServerNonInvite, TransactionError> {
        match request.method() {
            Some(Method::Invite) | None => {
                return Err(TransactionError::WrongMessageKind {
                    expected: "non-INVITE request",
                })
            }
            Some(Method::Ack) => return Err(TransactionError::AckIsNotATransaction),
            Some(_) => {}
        }
        Ok(ServerNonInvite {
            request: Some(Box::new(request)),
            reliable,
            config,
            state: ServerNonInviteState::Trying,
            last: None,
            armed: Armed::default(),
        })
    }

    /// The current state.
    pub fn state(&self) -> ServerNonInviteState {
        self.state
    }

    /// True once the transaction has terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == ServerNonInviteState::Terminated
    }

    /// The request that created the transaction, until a final response is sent; then it
    /// is released (Completed needs only that response).
    pub fn request(&self) -> Option<&Message> {
        self.request.as_deref()
    }

    /// True while the transaction holds the last response sent, to answer retransmissions.
    pub fn holds_response(&self) -> bool {
        self.last.is_some()
    }

    /// The earliest instant a timer is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.armed.next()
    }

    /// Handles a retransmission of the request: answered with the last response sent.
    pub fn receive_request(&mut self, _request: Message, _now: Instant) -> Vec<Output> {
        match (&self.last, self.state) {
            (Some(last), ServerNonInviteState::Proceeding | ServerNonInviteState::Completed) => {
                // Our own serialized response parses back (the serializer and parser
                // round-trip); no bound applies to it, it was already sent once.
                match Message::parse_datagram(last, &UNBOUNDED) {
                    Ok(message) => vec![Output::Send(message)],
                    Err(_) => Vec::new(),
                }
            }
            _ => Vec::new(),
        }
    }

    /// Sends a response from the TU.
    pub fn send_response(
        &mut self,
        response: Message,
        now: Instant,
    ) -> Result<Vec<Output>, TransactionError> {
        use ServerNonInviteState::*;
        let Some(status) = response.status() else {
            return Err(TransactionError::WrongMessageKind {
                expected: "response",
            });
        };
        let mut out = Vec::new();
        match (self.state, Class::of(status)) {
            (Trying | Proceeding, Class::Provisional) => {
                self.state = Proceeding;
            }
            (Trying | Proceeding, Class::Success | Class::Failure) => {
                self.state = Completed;
                self.request = None;
            }
            (state, _) => {
                return Err(TransactionError::ResponseNotAllowed {
                    status,
                    state: state.name(),
                })
            }
        }
        self.last = Some(response.to_bytes().into_boxed_slice());
        out.push(Output::Send(response));
        if self.state == Completed {
            let linger = self.config.timer_j(self.reliable);
            if linger.is_zero() {
                self.terminate(&mut out);
            } else {
                self.armed.arm(Timer::J, now, linger, &mut out);
            }
        }
        Ok(out)
    }

    /// Fires every timer due by `now`.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        while let Some(timer) = self.armed.pop_due(now) {
            if timer == Timer::J && self.state == ServerNonInviteState::Completed {
                self.terminate(&mut out);
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
        self.state = ServerNonInviteState::Terminated;
        self.armed.clear_all();
        self.request = None;
        self.last = None;
        out.push(Output::Terminated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::*;
    use ServerNonInviteState::*;

    enum In {
        /// The request is retransmitted.
        Again,
        /// The TU sends a response with this status.
        Tu(u16),
        /// `on_timer`.
        Fire,
        /// The transport failed.
        Fail,
    }

    type Row = (u64, In, &'static [&'static str], ServerNonInviteState);

    fn run(name: &str, reliable: bool, rows: &[Row]) {
        let t0 = Instant::now();
        let req = || request("BYE", "z9hG4bKbye");
        let mut txn = ServerNonInvite::new(req(), reliable, TimerConfig::default()).unwrap();
        assert_eq!(txn.poll_timeout(), None);
        for (i, (at, input, want, state)) in rows.iter().enumerate() {
            let now = t0 + ms(*at);
            let out = match input {
                In::Again => txn.receive_request(req(), now),
                In::Tu(code) => txn
                    .send_response(response(*code, "BYE", "z9hG4bKbye"), now)
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

    /// What each state keeps (RFC 3261 §17.2.2): the request until the final response,
    /// then only that response (Completed), then nothing.
    fn assert_retains(txn: &ServerNonInvite, at: &str) {
        let state = txn.state();
        assert_eq!(
            txn.request().is_some(),
            matches!(state, Trying | Proceeding),
            "{at}: request"
        );
        assert_eq!(
            txn.holds_response(),
            matches!(state, Proceeding | Completed),
            "{at}: response"
        );
    }

    #[test]
    fn a_retransmission_gets_the_very_bytes_of_the_response_sent() {
        let t0 = Instant::now();
        let req = || request("BYE", "z9hG4bKbye");
        let mut txn = ServerNonInvite::new(req(), false, TimerConfig::default()).unwrap();
        // A built response, not a parsed one: its headers are edited, so it is serialized.
        let mut ok = response(200, "BYE", "z9hG4bKbye");
        ok.push_raw(crate::header_name::HeaderName::Server, "callcomp/test");
        let sent = txn.send_response(ok, t0).unwrap();
        let Some(Output::Send(first)) = sent.first() else {
            panic!("{sent:?}");
        };
        let again = txn.receive_request(req(), t0 + ms(10));
        let [Output::Send(resent)] = again.as_slice() else {
            panic!("{again:?}");
        };
        assert_eq!(resent.to_bytes(), first.to_bytes());
        assert!(String::from_utf8_lossy(&resent.to_bytes()).contains("Server: callcomp/test"));
    }

    #[test]
    fn figure_8_scenarios() {
        run(
            "retransmissions answered from state until Timer J",
            false,
            &[
                (10, In::Again, &[], Trying),
                (20, In::Tu(100), &["send 100"], Proceeding),
                (30, In::Again, &["send 100"], Proceeding),
                (40, In::Tu(200), &["send 200", "set J +32040ms"], Completed),
                (50, In::Again, &["send 200"], Completed),
                (60, In::Tu(200), &["send 0"], Completed),
                (32_039, In::Fire, &[], Completed),
                (32_040, In::Fire, &["terminated"], Terminated),
                (32_050, In::Again, &[], Terminated),
            ],
        );
        run(
            "transport error",
            false,
            &[
                (10, In::Tu(404), &["send 404", "set J +32010ms"], Completed),
                (20, In::Fail, &["transport error", "terminated"], Terminated),
                (30, In::Fail, &[], Terminated),
            ],
        );
    }

    #[test]
    fn reliable_transport() {
        run(
            "Timer J is zero",
            true,
            &[(10, In::Tu(200), &["send 200", "terminated"], Terminated)],
        );
    }
}
