//! The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).
//!
//! Trying: the request is sent and, over unreliable transport, retransmitted on Timer E at
//! T1, 2*T1, … capped at T2; Timer F gives up. A provisional response moves to Proceeding,
//! where retransmissions continue every T2. A final response goes to the TU and moves to
//! Completed, which absorbs retransmitted responses until Timer K.

use std::time::{Duration, Instant};

use crate::message::Message;
use crate::method::Method;

use super::timers::{Armed, Timer, TimerConfig};
use super::{Class, Output, TransactionError};

/// The state of a non-INVITE client transaction, for inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientNonInviteState {
    /// Request sent, nothing heard yet.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A final response arrived; absorbing its retransmissions.
    Completed,
    /// Done.
    Terminated,
}

/// A non-INVITE client transaction.
#[derive(Debug, Clone)]
pub struct ClientNonInvite {
    /// The request, retransmitted on Timer E; released on the final response, since
    /// Completed only absorbs.
    request: Option<Box<Message>>,
    reliable: bool,
    config: TimerConfig,
    state: ClientNonInviteState,
    armed: Armed,
    /// The current Timer E interval.
    interval_e: Duration,
}

impl ClientNonInvite {
    /// Starts the transaction: sends `request` and arms Timers E (unreliable only) and F.
    /// Fails for a response, an INVITE or an ACK.
    pub fn start(
        request: Message,
        reliable: bool,
        config: TimerConfig,
        now: Instant,
    ) -> Result<(ClientNonInvite, Vec<Output>), TransactionError> {
        match request.method() {
            Some(Method::Invite) | None => {
                return Err(TransactionError::WrongMessageKind {
                    expected: "non-INVITE request",
                })
            }
            Some(Method::Ack) => return Err(TransactionError::AckIsNotATransaction),
            Some(_) => {}
        }
        let mut out = vec![Output::Send(request.clone())];
        let mut txn = ClientNonInvite {
            request: Some(Box::new(request)),
            reliable,
            config,
            state: ClientNonInviteState::Trying,
            armed: Armed::default(),
            interval_e: config.t1,
        };
        if !reliable {
            txn.armed.arm(Timer::E, now, txn.interval_e, &mut out);
        }
        txn.armed.arm(Timer::F, now, config.timeout(), &mut out);
        Ok((txn, out))
    }

    /// The current state.
    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    /// True once the transaction has terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == ClientNonInviteState::Terminated
    }

    /// The request this transaction sends, until a final response arrives; then it is
    /// released (Completed only absorbs retransmitted responses).
    pub fn request(&self) -> Option<&Message> {
        self.request.as_deref()
    }

    /// The earliest instant a timer is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.armed.next()
    }

    /// Handles a response matched to this transaction. Requests are ignored.
    pub fn receive_response(&mut self, response: Message, now: Instant) -> Vec<Output> {
        use ClientNonInviteState::*;
        let mut out = Vec::new();
        let Some(status) = response.status() else {
            return out;
        };
        match (self.state, Class::of(status)) {
            (Trying | Proceeding, Class::Provisional) => {
                self.state = Proceeding;
                out.push(Output::ToTransactionUser(response));
            }
            (Trying | Proceeding, Class::Success | Class::Failure) => {
                self.armed.clear(Timer::E);
                self.armed.clear(Timer::F);
                self.request = None;
                out.push(Output::ToTransactionUser(response));
                let linger = self.config.linger(self.reliable);
                if linger.is_zero() {
                    self.terminate(&mut out);
                } else {
                    self.state = Completed;
                    self.armed.arm(Timer::K, now, linger, &mut out);
                }
            }
            // Completed absorbs retransmissions; Terminated ignores everything.
            _ => {}
        }
        out
    }

    /// Fires every timer due by `now`.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Output> {
        use ClientNonInviteState::*;
        let mut out = Vec::new();
        while let Some(timer) = self.armed.pop_due(now) {
            match (timer, self.state) {
                (Timer::E, Trying | Proceeding) => {
                    let Some(request) = &self.request else {
                        continue;
                    };
                    out.push(Output::Send(Message::clone(request)));
                    // §17.1.2.2: doubling up to T2 in Trying, every T2 in Proceeding.
                    self.interval_e = if self.state == Trying {
                        self.config.backoff(self.interval_e)
                    } else {
                        self.config.t2
                    };
                    self.armed.arm(Timer::E, now, self.interval_e, &mut out);
                }
                (Timer::F, Trying | Proceeding) => {
                    out.push(Output::TimedOut);
                    self.terminate(&mut out);
                }
                (Timer::K, Completed) => self.terminate(&mut out),
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

    fn terminate(&mut self, out: &mut Vec<Output>) {
        self.state = ClientNonInviteState::Terminated;
        self.armed.clear_all();
        self.request = None;
        out.push(Output::Terminated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_support::*;
    use ClientNonInviteState::*;

    enum In {
        Resp(u16),
        Fire,
        Fail,
    }

    type Row = (u64, In, &'static [&'static str], ClientNonInviteState);

    fn run(name: &str, reliable: bool, start_out: &[&str], rows: &[Row]) {
        let t0 = Instant::now();
        let (mut txn, out) = ClientNonInvite::start(
            request("OPTIONS", "z9hG4bKopt"),
            reliable,
            TimerConfig::default(),
            t0,
        )
        .unwrap();
        assert_eq!(describe(&out, t0), start_out, "{name}: start");
        for (i, (at, input, want, state)) in rows.iter().enumerate() {
            let now = t0 + ms(*at);
            let out = match input {
                In::Resp(code) => {
                    txn.receive_response(response(*code, "OPTIONS", "z9hG4bKopt"), now)
                }
                In::Fire => txn.on_timer(now),
                In::Fail => txn.transport_error(),
            };
            assert_eq!(describe(&out, t0), *want, "{name}: row {i}");
            assert_eq!(txn.state(), *state, "{name}: row {i}");
            // §17.1.2.2: Completed (Timer K) only absorbs, so the request is released.
            assert_eq!(
                txn.request().is_some(),
                matches!(state, Trying | Proceeding),
                "{name}: row {i}: request"
            );
        }
    }

    const START: &[&str] = &["send OPTIONS", "set E +500ms", "set F +32000ms"];

    #[test]
    fn figure_6_scenarios() {
        run(
            "Timer E doubles to the T2 cap, Timer F times out",
            false,
            START,
            &[
                (500, In::Fire, &["send OPTIONS", "set E +1500ms"], Trying),
                (1_500, In::Fire, &["send OPTIONS", "set E +3500ms"], Trying),
                (3_500, In::Fire, &["send OPTIONS", "set E +7500ms"], Trying),
                (7_500, In::Fire, &["send OPTIONS", "set E +11500ms"], Trying),
                (
                    11_500,
                    In::Fire,
                    &["send OPTIONS", "set E +15500ms"],
                    Trying,
                ),
                (
                    32_000,
                    In::Fire,
                    &["send OPTIONS", "set E +36000ms", "timeout", "terminated"],
                    Terminated,
                ),
            ],
        );
        run(
            "Proceeding retransmits every T2; 200 completes; K ends",
            false,
            START,
            &[
                (100, In::Resp(100), &["tu 100"], Proceeding),
                (
                    500,
                    In::Fire,
                    &["send OPTIONS", "set E +4500ms"],
                    Proceeding,
                ),
                (
                    4_500,
                    In::Fire,
                    &["send OPTIONS", "set E +8500ms"],
                    Proceeding,
                ),
                (
                    5_000,
                    In::Resp(200),
                    &["tu 200", "set K +10000ms"],
                    Completed,
                ),
                (5_100, In::Resp(200), &[], Completed),
                (8_500, In::Fire, &[], Completed),
                (10_000, In::Fire, &["terminated"], Terminated),
            ],
        );
        run(
            "final without provisional",
            false,
            START,
            &[
                (100, In::Resp(404), &["tu 404", "set K +5100ms"], Completed),
                (32_000, In::Fire, &["terminated"], Terminated),
                (32_001, In::Resp(404), &[], Terminated),
            ],
        );
        run(
            "transport error",
            false,
            START,
            &[(1, In::Fail, &["transport error", "terminated"], Terminated)],
        );
    }

    #[test]
    fn reliable_transport() {
        run(
            "no Timer E; Timer K is zero",
            true,
            &["send OPTIONS", "set F +32000ms"],
            &[
                (100, In::Resp(180), &["tu 180"], Proceeding),
                (200, In::Resp(200), &["tu 200", "terminated"], Terminated),
            ],
        );
        run(
            "Timer F still times out",
            true,
            &["send OPTIONS", "set F +32000ms"],
            &[(32_000, In::Fire, &["timeout", "terminated"], Terminated)],
        );
    }

    #[test]
    fn start_refuses_invite_and_ack() {
        let t0 = Instant::now();
        let config = TimerConfig::default();
        assert!(ClientNonInvite::start(invite(), false, config, t0).is_err());
        assert_eq!(
            ClientNonInvite::start(ack("z9hG4bK1"), false, config, t0).err(),
            Some(TransactionError::AckIsNotATransaction)
        );
    }
}
