//! SIP tracing for operators: one log line per SIP message in or out and one per routing
//! decision, under the `tracing` target [`TARGET`] (`sip`).
//!
//! At `debug` a message line names the direction, the transport, the peer, the method and
//! Request-URI or the status and reason, the Call-ID and the CSeq; at `trace` the same line
//! carries the whole message. A routing line says which binding of a user was chosen, why,
//! and where the request goes (`registrar.nat`, RFC 3581, RFC 5626).
//!
//! `log.sip_trace` narrows both to some users and Call-IDs: a message is traced when its
//! Call-ID is listed or the user part of its Request-URI, From or To is; a routing decision
//! when its user is. The filter is checked only when the `sip` target is enabled, so a
//! server at `info` pays one level check per message.
//!
//! The core calls [`SipTrace::message`] at its two wire boundaries (`Engine::inbound` and
//! `Transactions::send`) and [`SipTrace::route`] where the B2BUA turns a user into network
//! destinations (`Ctx::destinations`); nowhere else.

use std::net::SocketAddr;

use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::from_to::{From, To};
use callcomp_sip::message::Message;
use callcomp_sip::uri::Uri;
use tracing::Level;

use crate::registrar::aor_user;
use crate::registrar::nat::RouteReason;
use crate::transport::{Proto, Target};

/// The `tracing` target of every SIP trace line: `RUST_LOG=info,sip=debug` traces SIP
/// without the rest of the debug output.
pub const TARGET: &str = "sip";

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received from `peer`.
    In,
    /// Sent to `peer`.
    Out,
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// The trace filter (`log.sip_trace`); see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SipTrace {
    filter: Vec<String>,
}

impl SipTrace {
    /// A trace keeping the messages of these users and Call-IDs; empty keeps every message.
    pub fn new(filter: Vec<String>) -> SipTrace {
        SipTrace { filter }
    }

    /// Logs one message crossing the wire (nothing when the `sip` target is below `debug`
    /// or the filter drops it).
    pub fn message(&self, direction: Direction, message: &Message, proto: Proto, peer: SocketAddr) {
        if !tracing::enabled!(target: TARGET, Level::DEBUG) || !self.keeps(message) {
            return;
        }
        let call_id = message.get_str(&HeaderName::CallId).unwrap_or_default();
        let cseq = message
            .header::<CSeq>()
            .and_then(Result::ok)
            .map(|c| format!("{} {}", c.seq, c.method))
            .unwrap_or_default();
        let first = match (message.method(), message.status()) {
            (Some(method), _) => match message.uri() {
                Some(uri) => format!("{method} {uri}"),
                None => method.to_string(),
            },
            (None, Some(status)) => {
                let reason = message.reason_phrase().unwrap_or_default();
                format!("{status} {reason}")
            }
            (None, None) => String::new(),
        };
        let dir = direction.as_str();
        let transport = proto.as_str();
        if tracing::enabled!(target: TARGET, Level::TRACE) {
            // On lines of its own after the summary, as it was on the wire.
            let raw = format!("\n{}", String::from_utf8_lossy(&message.to_bytes()));
            tracing::trace!(target: TARGET, dir, transport, %peer, msg = %first, %call_id, cseq = %cseq, raw = %raw, "SIP {dir}");
        } else {
            tracing::debug!(target: TARGET, dir, transport, %peer, msg = %first, %call_id, cseq = %cseq, "SIP {dir}");
        }
    }

    /// Logs a routing decision: request for `user` to `contact`, sent to `target` because
    /// of `reason`.
    pub fn route(&self, user: &str, contact: &str, target: Target, reason: RouteReason) {
        if !tracing::enabled!(target: TARGET, Level::DEBUG) || !self.keeps_user(user) {
            return;
        }
        tracing::debug!(
            target: TARGET,
            user,
            contact,
            transport = target.proto.as_str(),
            to = %target.remote,
            why = reason.as_str(),
            "SIP route"
        );
    }

    /// Logs that `user` has no live binding to route to.
    pub fn unroutable(&self, user: &str) {
        if tracing::enabled!(target: TARGET, Level::DEBUG) && self.keeps_user(user) {
            tracing::debug!(target: TARGET, user, why = "no live binding", "SIP route");
        }
    }

    /// Whether the filter keeps the routing decisions of `user`.
    pub fn keeps_user(&self, user: &str) -> bool {
        self.filter.is_empty() || self.filter.iter().any(|f| f == user)
    }

    /// Whether the filter keeps `message`: its Call-ID, or the user of its Request-URI,
    /// From or To, is listed.
    ///
    /// Runs for every message while the trace is on, so From and To are only parsed when a
    /// listed name occurs in their raw bytes (a user name written percent-escaped there is
    /// not recognised).
    pub fn keeps(&self, message: &Message) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        if let Some(call_id) = message.get_raw(&HeaderName::CallId) {
            if self.filter.iter().any(|f| f.as_bytes() == call_id) {
                return true;
            }
        }
        let uri_user = message
            .uri()
            .and_then(Uri::as_sip)
            .and_then(|sip| sip.user.as_deref());
        if uri_user.is_some_and(|u| self.keeps_user(u)) {
            return true;
        }
        let listed = |uri: &Uri| aor_user(uri).is_some_and(|u| self.keeps_user(&u));
        self.mentioned(message, &HeaderName::From)
            && message
                .header::<From>()
                .and_then(Result::ok)
                .is_some_and(|f| listed(&f.uri))
            || self.mentioned(message, &HeaderName::To)
                && message
                    .header::<To>()
                    .and_then(Result::ok)
                    .is_some_and(|t| listed(&t.uri))
    }

    /// Whether some listed name occurs in the raw value of header `name`.
    fn mentioned(&self, message: &Message, name: &HeaderName) -> bool {
        let Some(raw) = message.get_raw(name) else {
            return false;
        };
        self.filter.iter().any(|f| {
            let f = f.as_bytes();
            // `windows(0)` panics; config validation refuses empty entries anyway.
            !f.is_empty() && raw.windows(f.len()).any(|w| w == f)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Message {
        let bytes = text.replace('\n', "\r\n");
        match Message::parse_datagram(bytes.as_bytes(), &callcomp_sip::parse::Limits::default()) {
            Ok(m) => m,
            Err(e) => panic!("test message does not parse: {e}"),
        }
    }

    fn invite(from: &str, to: &str, call_id: &str) -> Message {
        parse(&format!(
            "INVITE sip:{to}@example.com SIP/2.0\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\n\
             From: <sip:{from}@example.com>;tag=1\n\
             To: <sip:{to}@example.com>\n\
             Call-ID: {call_id}\n\
             CSeq: 1 INVITE\n\
             Max-Forwards: 70\n\
             Content-Length: 0\n\n"
        ))
    }

    #[test]
    fn empty_filter_keeps_everything() {
        let trace = SipTrace::default();
        assert!(trace.keeps(&invite("alice", "bob", "c1")));
        assert!(trace.keeps_user("anyone"));
    }

    #[test]
    fn filter_keeps_listed_users_in_from_to_or_uri() {
        let trace = SipTrace::new(vec!["alice".into()]);
        assert!(trace.keeps(&invite("alice", "bob", "c1")), "From");
        assert!(trace.keeps(&invite("bob", "alice", "c2")), "To and URI");
        assert!(!trace.keeps(&invite("carol", "bob", "c3")));
        assert!(trace.keeps_user("alice"));
        assert!(!trace.keeps_user("bob"));
    }

    #[test]
    fn a_name_inside_another_does_not_match() {
        let trace = SipTrace::new(vec!["al".into()]);
        assert!(!trace.keeps(&invite("alice", "bob", "c1")));
        assert!(trace.keeps(&invite("al", "bob", "c1")));
    }

    #[test]
    fn filter_keeps_listed_call_ids() {
        let trace = SipTrace::new(vec!["abc@host".into()]);
        assert!(trace.keeps(&invite("carol", "dave", "abc@host")));
        assert!(!trace.keeps(&invite("carol", "dave", "other@host")));
    }
}
