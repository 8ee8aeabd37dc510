//! SIP transactions (RFC 3261 §17, with the RFC 6026 Accepted states), sans-IO.
//!
//! Four state machines, one per file, each fed messages, TU actions and the current time, each
//! answering with a list of [`Output`]s:
//! - [`ClientInvite`] (§17.1.1, Figure 5 as amended by RFC 6026),
//! - [`ClientNonInvite`] (§17.1.2, Figure 6),
//! - [`ServerInvite`] (§17.2.1, Figure 7 as amended by RFC 6026),
//! - [`ServerNonInvite`] (§17.2.2, Figure 8).
//!
//! [`key`] computes the keys that match messages to transactions (§17.1.3, §17.2.3, §9.2) and
//! [`TransactionLayer`] owns every live transaction and routes messages and timers to them.
//!
//! # Time
//! Time is a [`std::time::Instant`] the caller passes in; nothing here reads the clock. A
//! driver using `tokio::time::Instant` converts with `into_std()`. Each machine reports the
//! instant it next needs attention through `poll_timeout()`; calling `on_timer(now)` at or
//! after that instant fires every timer due by `now`. A timer re-armed while firing (A, E, G)
//! counts from `now`, so a late driver gets one retransmission, not a burst.
//!
//! # Transport
//! Each transaction is told once whether its transport is reliable (TCP, TLS, SCTP). On a
//! reliable transport Timers A, E and G never fire and Timers D, I, J and K are zero: the
//! machine goes to Terminated at once instead of arming them.

use crate::message::Message;

pub mod client_invite;
pub mod client_non_invite;
pub mod key;
pub mod layer;
pub mod server_invite;
pub mod server_non_invite;
pub mod timers;

pub use client_invite::{ClientInvite, ClientInviteState};
pub use client_non_invite::{ClientNonInvite, ClientNonInviteState};
pub use key::{KeyError, TransactionKey};
pub use layer::{LayerOutput, TransactionLayer};
pub use server_invite::{ServerInvite, ServerInviteState};
pub use server_non_invite::{ServerNonInvite, ServerNonInviteState};
pub use timers::{Timer, TimerConfig};

use std::time::Instant;

/// What a transaction asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Hand this message to the transport, to the transaction's destination.
    Send(Message),
    /// A timer is armed to fire at this instant. Informational: the machine keeps its own
    /// timers and `poll_timeout()` reports the earliest; a disarmed timer never fires.
    SetTimer(Timer, Instant),
    /// Deliver this message to the transaction user: a response (client side) or an ACK for
    /// a 2xx (server side, RFC 6026 Accepted state).
    ToTransactionUser(Message),
    /// The transaction gave up waiting (Timer B, F or H): the TU treats it as a 408.
    TimedOut,
    /// The TU reported a transport failure for this transaction; it is now terminated.
    TransportError,
    /// The transaction reached Terminated; it produces nothing more and can be dropped.
    Terminated,
}

/// A TU action the transaction cannot perform in its current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// The TU passed a request where a response was expected, or the reverse.
    #[error("expected a {expected}, got something else")]
    WrongMessageKind {
        /// `"request"` or `"response"`.
        expected: &'static str,
    },
    /// A response the state machine does not allow now (a 1xx after a final, a second
    /// non-2xx final, anything once terminated).
    #[error("cannot send a {status} response in state {state}")]
    ResponseNotAllowed {
        /// The status code the TU tried to send.
        status: u16,
        /// The machine's state at the time.
        state: &'static str,
    },
    /// No live transaction has this key.
    #[error("no transaction with key {0}")]
    NoSuchTransaction(TransactionKey),
    /// A transaction with this key already exists (a branch was reused).
    #[error("a transaction with key {0} already exists")]
    DuplicateKey(TransactionKey),
    /// ACK never starts a transaction: an ACK for a 2xx goes straight to the transport, an
    /// ACK for a non-2xx is built by the INVITE client transaction.
    #[error("ACK does not start a client transaction")]
    AckIsNotATransaction,
    /// The message lacks what a transaction key needs.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The class of a response status, as the state machines branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// 1xx.
    Provisional,
    /// 2xx.
    Success,
    /// 3xx–6xx.
    Failure,
}

impl Class {
    pub(crate) fn of(status: u16) -> Class {
        match status {
            0..=199 => Class::Provisional,
            200..=299 => Class::Success,
            _ => Class::Failure,
        }
    }
}

/// Appends to `to` every field named `name` of `from`, values as they are.
pub(crate) fn copy_fields(from: &Message, to: &mut Message, name: &crate::HeaderName) {
    for value in from.get_all_raw(name) {
        to.push_raw(name.clone(), value.to_vec());
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Messages for the state machine tests, built from wire text.

    use std::time::{Duration, Instant};

    use crate::message::Message;
    use crate::parse::Limits;

    use super::Output;

    pub(crate) fn parse(text: &str) -> Message {
        Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap()
    }

    pub(crate) fn request(method: &str, branch: &str) -> Message {
        parse(&format!(
            "{method} sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch={branch}\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
Route: <sip:p1.example.com;lr>\r\n\
CSeq: 314159 {method}\r\n\
Content-Length: 0\r\n\r\n"
        ))
    }

    pub(crate) fn invite() -> Message {
        request("INVITE", "z9hG4bK776asdhds")
    }

    pub(crate) fn response(code: u16, method: &str, branch: &str) -> Message {
        let to_tag = if code > 100 { ";tag=a6c85cf" } else { "" };
        parse(&format!(
            "SIP/2.0 {code} Whatever\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch={branch};received=192.0.2.1\r\n\
To: Bob <sip:bob@biloxi.example.com>{to_tag}\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 {method}\r\n\
Content-Length: 0\r\n\r\n"
        ))
    }

    pub(crate) fn invite_response(code: u16) -> Message {
        response(code, "INVITE", "z9hG4bK776asdhds")
    }

    pub(crate) fn ack(branch: &str) -> Message {
        parse(&format!(
            "ACK sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch={branch}\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 ACK\r\n\
Content-Length: 0\r\n\r\n"
        ))
    }

    pub(crate) fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A compact picture of outputs for table assertions: `send INVITE`, `send 486`,
    /// `set A +500ms`, `tu 180`, `timeout`, `terminated`.
    pub(crate) fn describe(outputs: &[Output], base: Instant) -> Vec<String> {
        outputs
            .iter()
            .map(|o| match o {
                Output::Send(m) => format!("send {}", label(m)),
                Output::SetTimer(t, at) => {
                    format!("set {t} +{}ms", at.duration_since(base).as_millis())
                }
                Output::ToTransactionUser(m) => format!("tu {}", label(m)),
                Output::TimedOut => "timeout".to_string(),
                Output::TransportError => "transport error".to_string(),
                Output::Terminated => "terminated".to_string(),
            })
            .collect()
    }

    fn label(m: &Message) -> String {
        match (m.method(), m.status()) {
            (Some(method), _) => method.to_string(),
            (None, Some(code)) => code.to_string(),
            (None, None) => "?".to_string(),
        }
    }
}
