//! Overload: past capacity, new calls are refused at the door (RFC 3261 §21.5.4) so that
//! the calls already in progress keep their messages.
//!
//! The core reads two bounded lanes (`lanes.rs`): calls in progress first, new work after.
//! Once the two together hold [`TransportLimits::shed_at`](super::TransportLimits::shed_at)
//! messages, the core is behind: a new request (one without a To tag) gets a stateless
//! `503 Service Unavailable` with `Retry-After` from the transport task itself, without
//! reaching the core, while every other message (ACK, BYE, responses, requests inside
//! dialogs, CANCEL) is still queued up to its lane's full bound. A refused INVITE
//! costs a parse and one datagram, not a call; its retransmissions are refused the same way
//! (with the same stateless To tag) while the overload lasts, and its ACK matches nothing
//! in the core and is dropped.

use std::hash::{DefaultHasher, Hash, Hasher};

use callcomp_sip::builder;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::numbers::RetryAfter;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;

use super::runtime::Ctx;

/// The `Retry-After` of a `503` sent because the core is behind, in seconds.
pub const OVERLOAD_RETRY_AFTER_SECS: u32 = 5;

/// Whether `message` opens new work for the core: a request outside any dialog (no To tag),
/// whatever its method (INVITE, REGISTER, SUBSCRIBE, PUBLISH, OPTIONS, MESSAGE, unknown), but
/// not ACK, CANCEL or BYE, which only ever end something already under way. Refusing these
/// while the core is behind keeps the queue for the messages of calls in progress.
pub(crate) fn is_new_call(message: &Message) -> bool {
    message
        .method()
        .is_some_and(|m| !matches!(m, Method::Ack | Method::Cancel | Method::Bye))
        && !has_to_tag(message)
}

/// Whether the message's To header carries a tag (it belongs to a dialog).
pub(crate) fn has_to_tag(message: &Message) -> bool {
    message
        .get_str(&HeaderName::To)
        .is_some_and(|to| has_tag_param(&to))
}

/// Whether a To value carries a `tag` parameter (after the closing `>` when there is one).
fn has_tag_param(to: &str) -> bool {
    let params = to.rsplit_once('>').map_or(to, |(_, rest)| rest);
    params.split(';').skip(1).any(|p| {
        p.trim()
            .get(..3)
            .is_some_and(|n| n.eq_ignore_ascii_case("tag"))
    })
}

/// Whether the core's two lanes together hold enough that new calls are refused.
pub(crate) fn shedding(ctx: &Ctx) -> bool {
    ctx.inbound.queued() >= ctx.limits.shed_at
}

/// The stateless `503` with `Retry-After` for a new call refused under overload.
pub(crate) fn refusal(request: &Message) -> Vec<u8> {
    let mut response = builder::response(
        request,
        503,
        Some("Service Unavailable (overloaded)"),
        &stateless_tag(request),
    );
    response.push(&RetryAfter::new(OVERLOAD_RETRY_AFTER_SECS));
    response.to_bytes()
}

/// A To tag that is the same for every retransmission of one request (RFC 3261 §16.11: a
/// stateless element must give the same tag each time).
fn stateless_tag(request: &Message) -> String {
    let mut h = DefaultHasher::new();
    for name in [HeaderName::CallId, HeaderName::From, HeaderName::CSeq] {
        request.get_str(&name).hash(&mut h);
    }
    format!("ol{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use callcomp_sip::parse::Limits;

    use super::*;

    fn parse(text: &str) -> Message {
        Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap()
    }

    fn invite(to: &str) -> Message {
        parse(&format!(
            "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
From: <sip:alice@example.com>;tag=a\r\nTo: {to}\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        ))
    }

    #[test]
    fn only_an_invite_without_a_to_tag_is_a_new_call() {
        assert!(is_new_call(&invite("<sip:bob@example.com>")));
        assert!(
            is_new_call(&invite("<sip:bob@example.com;tag=x>")),
            "a URI parameter is not the To tag"
        );
        assert!(!is_new_call(&invite("<sip:bob@example.com>;tag=b")));
        assert!(!is_new_call(&invite("sip:bob@example.com ; TAG=b")));
        let bye = parse(
            "BYE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2\r\n\
From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\n\
CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        );
        assert!(!is_new_call(&bye));
        let options = parse(
            "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK3\r\n\
From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\nCall-ID: c2\r\n\
CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        );
        assert!(
            is_new_call(&options),
            "any out-of-dialog request is new work"
        );
    }

    #[test]
    fn the_refusal_is_a_503_with_retry_after_and_the_same_tag_each_time() {
        let request = invite("<sip:bob@example.com>");
        let bytes = refusal(&request);
        let response = Message::parse_datagram(&bytes, &Limits::default()).unwrap();
        assert_eq!(response.status(), Some(503));
        assert_eq!(
            response.get_str(&HeaderName::RetryAfter).as_deref(),
            Some(OVERLOAD_RETRY_AFTER_SECS.to_string().as_str())
        );
        assert_eq!(response.get_str(&HeaderName::CallId).as_deref(), Some("c1"));
        assert!(response
            .get_str(&HeaderName::To)
            .unwrap()
            .contains(";tag=ol"));
        assert_eq!(
            refusal(&request),
            bytes,
            "a retransmission gets the same answer"
        );
    }
}
