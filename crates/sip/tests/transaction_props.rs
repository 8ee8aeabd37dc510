//! Property tests for the transaction state machines (RFC 3261 §17, RFC 6026): whatever
//! sequence of messages, TU responses, timer firings and transport errors a machine sees,
//! - it says `Terminated` at most once, last in its batch, and says nothing afterwards (in
//!   particular it never sends after terminating);
//! - every timer it arms lies in the future;
//! - once the TU has answered (server) or a final response has arrived (INVITE client), firing
//!   its timers brings it to Terminated within 64*T1 without further input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;
use callcomp_sip::transaction::{
    ClientInvite, ClientInviteState, ClientNonInvite, ClientNonInviteState, Output, ServerInvite,
    ServerInviteState, ServerNonInvite, ServerNonInviteState, TimerConfig, TransactionLayer,
};
use proptest::prelude::*;

const BRANCH: &str = "z9hG4bKprop";

fn parse(text: &str) -> Message {
    Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap()
}

fn request(method: &str) -> Message {
    parse(&format!(
        "{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch={BRANCH}\r\n\
From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: prop@a\r\n\
CSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ))
}

fn response(code: u16, method: &str) -> Message {
    parse(&format!(
        "SIP/2.0 {code} X\r\nVia: SIP/2.0/UDP a.example.com;branch={BRANCH}\r\n\
From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>;tag=2\r\nCall-ID: prop@a\r\n\
CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
    ))
}

/// One input to a machine. Every machine gets every kind; the ones that make no sense for
/// it (a response to a server transaction, say) must be ignored.
#[derive(Debug, Clone)]
enum Action {
    /// A response with this status arrives.
    Response(u16),
    /// The request is retransmitted.
    Retransmit,
    /// An ACK arrives.
    Ack,
    /// The TU sends a response with this status (refusals are fine).
    Tu(u16),
    /// Timers due by now fire.
    Fire,
    /// The transport fails.
    Fail,
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(100u16),
        Just(180),
        Just(183),
        Just(200),
        Just(202),
        Just(302),
        Just(404),
        Just(486),
        Just(503),
        Just(603)
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => status().prop_map(Action::Response),
        2 => Just(Action::Retransmit),
        2 => Just(Action::Ack),
        3 => status().prop_map(Action::Tu),
        4 => Just(Action::Fire),
        1 => Just(Action::Fail),
    ]
}

/// Time steps: mostly short, sometimes past every timer.
fn step() -> impl Strategy<Value = Duration> {
    prop_oneof![
        4 => (0u64..1_000).prop_map(Duration::from_millis),
        2 => (1_000u64..10_000).prop_map(Duration::from_millis),
        1 => (30_000u64..70_000).prop_map(Duration::from_millis),
    ]
}

fn script() -> impl Strategy<Value = Vec<(Duration, Action)>> {
    proptest::collection::vec((step(), action()), 0..30)
}

/// The four machines behind one face.
enum Machine {
    Ci(ClientInvite),
    Cn(ClientNonInvite),
    Si(ServerInvite),
    Sn(ServerNonInvite),
}

impl Machine {
    fn new(kind: u8, reliable: bool, now: Instant) -> (Machine, Vec<Output>) {
        let config = TimerConfig::default();
        match kind % 4 {
            0 => {
                let (m, out) =
                    ClientInvite::start(request("INVITE"), reliable, config, now).unwrap();
                (Machine::Ci(m), out)
            }
            1 => {
                let (m, out) =
                    ClientNonInvite::start(request("OPTIONS"), reliable, config, now).unwrap();
                (Machine::Cn(m), out)
            }
            2 => {
                let (m, out) = ServerInvite::new(request("INVITE"), reliable, config, now).unwrap();
                (Machine::Si(m), out)
            }
            _ => {
                let m = ServerNonInvite::new(request("OPTIONS"), reliable, config).unwrap();
                (Machine::Sn(m), Vec::new())
            }
        }
    }

    fn method(&self) -> &'static str {
        match self {
            Machine::Ci(_) | Machine::Si(_) => "INVITE",
            Machine::Cn(_) | Machine::Sn(_) => "OPTIONS",
        }
    }

    fn apply(&mut self, action: &Action, now: Instant) -> Vec<Output> {
        let method = self.method();
        let message = match action {
            Action::Response(code) => response(*code, method),
            Action::Retransmit => request(method),
            Action::Ack => request("ACK"),
            Action::Tu(code) => {
                let r = response(*code, method);
                return match self {
                    Machine::Si(m) => m.send_response(r, now).unwrap_or_default(),
                    Machine::Sn(m) => m.send_response(r, now).unwrap_or_default(),
                    _ => Vec::new(),
                };
            }
            Action::Fire => return self.on_timer(now),
            Action::Fail => {
                return match self {
                    Machine::Ci(m) => m.transport_error(),
                    Machine::Cn(m) => m.transport_error(),
                    Machine::Si(m) => m.transport_error(),
                    Machine::Sn(m) => m.transport_error(),
                }
            }
        };
        match self {
            Machine::Ci(m) => m.receive_response(message, now),
            Machine::Cn(m) => m.receive_response(message, now),
            Machine::Si(m) => m.receive_request(message, now),
            Machine::Sn(m) => m.receive_request(message, now),
        }
    }

    /// The one input a machine may still wait for indefinitely: a final response from the
    /// peer (INVITE client in Proceeding) or from the TU (servers).
    fn finish(&mut self, final_code: u16, now: Instant) -> Vec<Output> {
        let method = self.method();
        match self {
            Machine::Ci(m) if m.state() == ClientInviteState::Proceeding => {
                m.receive_response(response(final_code, method), now)
            }
            Machine::Si(m) if m.state() == ServerInviteState::Proceeding => {
                m.send_response(response(final_code, method), now).unwrap()
            }
            Machine::Sn(m)
                if matches!(
                    m.state(),
                    ServerNonInviteState::Trying | ServerNonInviteState::Proceeding
                ) =>
            {
                m.send_response(response(final_code, method), now).unwrap()
            }
            _ => Vec::new(),
        }
    }

    fn on_timer(&mut self, now: Instant) -> Vec<Output> {
        match self {
            Machine::Ci(m) => m.on_timer(now),
            Machine::Cn(m) => m.on_timer(now),
            Machine::Si(m) => m.on_timer(now),
            Machine::Sn(m) => m.on_timer(now),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Machine::Ci(m) => m.poll_timeout(),
            Machine::Cn(m) => m.poll_timeout(),
            Machine::Si(m) => m.poll_timeout(),
            Machine::Sn(m) => m.poll_timeout(),
        }
    }

    /// Whether the machine still holds its request, and whether its state needs it: only
    /// the states before a final response do (RFC 3261 §17, RFC 6026).
    fn request_held(&self) -> (bool, bool) {
        match self {
            Machine::Ci(m) => (
                m.request().is_some(),
                matches!(
                    m.state(),
                    ClientInviteState::Calling | ClientInviteState::Proceeding
                ),
            ),
            Machine::Cn(m) => (
                m.request().is_some(),
                matches!(
                    m.state(),
                    ClientNonInviteState::Trying | ClientNonInviteState::Proceeding
                ),
            ),
            Machine::Si(m) => (
                m.request().is_some(),
                m.state() == ServerInviteState::Proceeding,
            ),
            Machine::Sn(m) => (
                m.request().is_some(),
                matches!(
                    m.state(),
                    ServerNonInviteState::Trying | ServerNonInviteState::Proceeding
                ),
            ),
        }
    }

    fn is_terminated(&self) -> bool {
        match self {
            Machine::Ci(m) => m.state() == ClientInviteState::Terminated,
            Machine::Cn(m) => m.state() == ClientNonInviteState::Terminated,
            Machine::Si(m) => m.state() == ServerInviteState::Terminated,
            Machine::Sn(m) => m.state() == ServerNonInviteState::Terminated,
        }
    }
}

/// Checks one batch of outputs against what came before; returns whether the machine has
/// now terminated.
fn check(out: &[Output], now: Instant, terminated_before: bool) -> Result<bool, TestCaseError> {
    if terminated_before {
        prop_assert!(out.is_empty(), "output after Terminated: {:?}", out);
        return Ok(true);
    }
    let mut terminated = false;
    for (i, o) in out.iter().enumerate() {
        match o {
            Output::Terminated => {
                prop_assert!(!terminated, "Terminated twice: {:?}", out);
                prop_assert_eq!(i, out.len() - 1, "Terminated not last: {:?}", out);
                terminated = true;
            }
            Output::SetTimer(timer, at) => {
                prop_assert!(*at > now, "timer {} armed in the past", timer);
            }
            _ => {}
        }
    }
    Ok(terminated)
}

fn run(
    kind: u8,
    reliable: bool,
    script: &[(Duration, Action)],
    final_code: u16,
) -> Result<(), TestCaseError> {
    let t0 = Instant::now();
    let mut now = t0;
    let (mut machine, out) = Machine::new(kind, reliable, now);
    let mut terminated = check(&out, now, false)?;
    for (delta, action) in script {
        now += *delta;
        let out = machine.apply(action, now);
        terminated = check(&out, now, terminated)?;
        prop_assert_eq!(machine.is_terminated(), terminated);
        let (held, needed) = machine.request_held();
        prop_assert_eq!(held, needed, "request retained after {:?}", action);
        if terminated {
            prop_assert_eq!(machine.poll_timeout(), None);
        }
    }
    let out = machine.finish(final_code, now);
    terminated = check(&out, now, terminated)?;
    let settled = now;
    for _ in 0..100 {
        let Some(at) = machine.poll_timeout() else {
            break;
        };
        now = now.max(at);
        let out = machine.on_timer(now);
        terminated = check(&out, now, terminated)?;
    }
    prop_assert!(terminated, "not terminated; machine kind {}", kind);
    prop_assert!(machine.is_terminated());
    prop_assert!(
        now.duration_since(settled) <= TimerConfig::default().timeout(),
        "took {:?}",
        now.duration_since(settled)
    );
    // Nothing more comes out, whatever arrives.
    for action in [
        Action::Retransmit,
        Action::Ack,
        Action::Response(200),
        Action::Tu(486),
        Action::Fire,
    ] {
        let out = machine.apply(&action, now + Duration::from_secs(100));
        prop_assert!(
            out.is_empty(),
            "{:?} after Terminated gave {:?}",
            action,
            out
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn machines_terminate_and_stay_silent(
        kind in 0u8..4,
        reliable in any::<bool>(),
        script in script(),
        final_code in prop_oneof![Just(200u16), Just(486)],
    ) {
        run(kind, reliable, &script, final_code)?;
    }

    #[test]
    fn layer_empties_once_answered(
        script in proptest::collection::vec((step(), 0u8..6), 0..20),
        reliable in any::<bool>(),
    ) {
        // The layer as both UAC and UAS of one INVITE and one OPTIONS; random arrivals.
        let t0 = Instant::now();
        let mut now = t0;
        let mut layer = TransactionLayer::new(TimerConfig::default());
        let (uac, _) = layer.send_request(request("INVITE"), reliable, now).unwrap();
        let mut uas = Vec::new();
        for (delta, what) in &script {
            now += *delta;
            let message = match what {
                0 => request("INVITE"),
                1 => request("OPTIONS"),
                2 => request("ACK"),
                3 => response(180, "INVITE"),
                4 => response(486, "INVITE"),
                _ => {
                    layer.on_timer(now);
                    continue;
                }
            };
            for o in layer.receive(message, reliable, now).unwrap() {
                if let callcomp_sip::transaction::LayerOutput::NewRequest { key, .. } = o {
                    uas.push(key);
                }
            }
        }
        prop_assert!(layer.len() <= 3);
        for key in &uas {
            let method = key.method().as_str().to_string();
            // Refused when already answered or gone: both fine here.
            let _ = layer.send_response(key, response(486, &method), now);
        }
        if layer.contains(&uac) {
            layer.receive(response(486, "INVITE"), reliable, now).unwrap();
        }
        for _ in 0..200 {
            let Some(at) = layer.poll_timeout() else { break };
            now = now.max(at);
            layer.on_timer(now);
        }
        prop_assert!(layer.is_empty(), "{} transactions left", layer.len());
        prop_assert_eq!(layer.poll_timeout(), None);
    }
}
