//! Building requests and responses the way RFC 3261 wants them built.
//!
//! - [`response`]: a response to a request (§8.2.6): Via, From, To, Call-ID and CSeq are
//!   copied, a To tag is added when the request had none, Timestamp is echoed on a 100
//!   (§8.2.6.1), and Record-Route is copied into responses that can create a dialog (§12.1.1).
//! - [`RequestBuilder`]: a new request with the headers every request carries (§8.1.1), in
//!   the conventional order.
//! - [`cancel`]: the CANCEL for a pending INVITE (§9.1).
//!
//! Header values taken from the request are copied as the sender wrote them (unfolded),
//! never parsed and rewritten: a B2BUA must not change what it does not understand.
//! Tags, branches and Call-IDs come from the caller, because this crate has no random source.

use crate::header_name::HeaderName;
use crate::headers::call_id::CallId;
use crate::headers::cseq::CSeq;
use crate::headers::from_to::{From, To};
use crate::headers::numbers::MaxForwards;
use crate::headers::via::Via;
use crate::message::Message;
use crate::method::Method;
use crate::text;
use crate::uri::Uri;

/// The reason phrase RFC 3261 §21 (and its extensions) give a status code; `""` for codes
/// nobody named (a reason phrase may be empty).
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        199 => "Early Dialog Terminated",
        200 => "OK",
        202 => "Accepted",
        204 => "No Notification",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        412 => "Conditional Request Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "",
    }
}

/// Builds a response to `request` (RFC 3261 §8.2.6).
///
/// `reason` defaults to [`reason_phrase`]. `to_tag` is added to To when the request's To
/// has no tag and the code is above 100; pass the same tag for every response of a
/// transaction. The response has no body and no Content-Length yet: serializing adds
/// `Content-Length: 0`, and [`Message::set_body`] sets both.
pub fn response(request: &Message, code: u16, reason: Option<&str>, to_tag: &str) -> Message {
    let mut out = Message::new_response(code, reason.unwrap_or_else(|| reason_phrase(code)));
    for name in [HeaderName::Via, HeaderName::From] {
        copy_all(request, &mut out, name);
    }
    if let Some(to) = request.get_raw(&HeaderName::To) {
        let mut value = text::unfold(to).into_owned();
        if code > 100 && !has_tag(request) {
            value.extend_from_slice(b";tag=");
            value.extend_from_slice(to_tag.as_bytes());
        }
        out.push_raw(HeaderName::To, value);
    }
    for name in [HeaderName::CallId, HeaderName::CSeq] {
        copy_all(request, &mut out, name);
    }
    if code == 100 {
        copy_all(request, &mut out, HeaderName::Timestamp);
    }
    if (101..300).contains(&code) && creates_dialog(request.method()) {
        copy_all(request, &mut out, HeaderName::RecordRoute);
    }
    out
}

/// Whether the request's To carries a tag, read leniently: a To that does not parse has no
/// tag we could keep.
fn has_tag(request: &Message) -> bool {
    matches!(request.header::<To>(), Some(Ok(to)) if to.tag().is_some())
}

fn creates_dialog(method: Option<&Method>) -> bool {
    matches!(
        method,
        Some(Method::Invite | Method::Subscribe | Method::Refer)
    )
}

fn copy_all(from: &Message, to: &mut Message, name: HeaderName) {
    for value in from.get_all_raw(&name) {
        to.push_raw(name.clone(), text::unfold(value).into_owned());
    }
}

/// A new request outside any existing message (RFC 3261 §8.1.1).
///
/// ```
/// # use callcomp_sip::builder::RequestBuilder;
/// # use callcomp_sip::headers::{call_id::CallId, from_to::{From, To}, via::Via, Header};
/// # use callcomp_sip::{uri::Uri, Method};
/// let uri = Uri::parse("sip:bob@example.com").unwrap();
/// let request = RequestBuilder::new(Method::Options, uri)
///     .via(Via::parse("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds").unwrap())
///     .from(From::parse("<sip:alice@example.com>;tag=1928301774").unwrap())
///     .to(To::parse("<sip:bob@example.com>").unwrap())
///     .call_id(CallId("a84b4c76e66710".into()))
///     .cseq(1)
///     .build();
/// assert_eq!(request.count(&callcomp_sip::HeaderName::Via), 1);
/// ```
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    method: Method,
    uri: Uri,
    via: Vec<Via>,
    max_forwards: u8,
    from: Option<From>,
    to: Option<To>,
    call_id: Option<CallId>,
    cseq: u32,
}

impl RequestBuilder {
    /// Starts a request; Max-Forwards defaults to 70 (RFC 3261 §8.1.1.6).
    pub fn new(method: Method, uri: Uri) -> RequestBuilder {
        RequestBuilder {
            method,
            uri,
            via: Vec::new(),
            max_forwards: 70,
            from: None,
            to: None,
            call_id: None,
            cseq: 1,
        }
    }

    /// Adds a Via below the ones already added (the first one is the top Via).
    pub fn via(mut self, via: Via) -> Self {
        self.via.push(via);
        self
    }

    /// Sets Max-Forwards.
    pub fn max_forwards(mut self, hops: u8) -> Self {
        self.max_forwards = hops;
        self
    }

    /// Sets From.
    pub fn from(mut self, from: From) -> Self {
        self.from = Some(from);
        self
    }

    /// Sets To.
    pub fn to(mut self, to: To) -> Self {
        self.to = Some(to);
        self
    }

    /// Sets Call-ID.
    pub fn call_id(mut self, call_id: CallId) -> Self {
        self.call_id = Some(call_id);
        self
    }

    /// Sets the CSeq number; its method is the request's.
    pub fn cseq(mut self, seq: u32) -> Self {
        self.cseq = seq;
        self
    }

    /// The request, headers in the order Via, Max-Forwards, From, To, Call-ID, CSeq. A part
    /// that was never set is left out; [`crate::check::check_request`] reports it.
    pub fn build(self) -> Message {
        let mut out = Message::new_request(self.method.clone(), self.uri);
        for via in &self.via {
            out.push(via);
        }
        out.push(&MaxForwards(self.max_forwards));
        if let Some(from) = &self.from {
            out.push(from);
        }
        if let Some(to) = &self.to {
            out.push(to);
        }
        if let Some(call_id) = &self.call_id {
            out.push(call_id);
        }
        out.push(&CSeq {
            seq: self.cseq,
            method: self.method,
        });
        out
    }
}

/// The CANCEL for a pending INVITE (RFC 3261 §9.1): the same Request-URI, Call-ID, From,
/// To and CSeq number, method CANCEL, only the INVITE's top Via (so the CANCEL matches the
/// INVITE's transaction downstream) and its Route set. `None` when `invite` is not a request
/// or has no parsable CSeq.
pub fn cancel(invite: &Message) -> Option<Message> {
    let uri = invite.uri()?.clone();
    let cseq = invite.header::<CSeq>()?.ok()?;
    let mut out = Message::new_request(Method::Cancel, uri);
    let top_via = invite.get_str(&HeaderName::Via)?;
    let top_via = text::split_top_level(&top_via, b',').next()?.to_string();
    out.push_raw(HeaderName::Via, top_via);
    out.push(&MaxForwards(70));
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        copy_all(invite, &mut out, name);
    }
    out.push(&CSeq {
        seq: cseq.seq,
        method: Method::Cancel,
    });
    copy_all(invite, &mut out, HeaderName::Route);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Limits;

    const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1,\r\n SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2\r\n\
Via: SIP/2.0/TCP 192.0.2.9;branch=z9hG4bK3\r\n\
Max-Forwards: 69\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: \"Alice\" <sip:alice@example.com>;tag=abc\r\n\
Call-ID: call-1@192.0.2.1\r\n\
CSeq: 314159 INVITE\r\n\
Record-Route: <sip:proxy.example.com;lr>\r\n\
Route: <sip:edge.example.com;lr>\r\n\
Timestamp: 54\r\n\
Contact: <sip:alice@192.0.2.1>\r\n\
Content-Length: 0\r\n\r\n";

    fn invite() -> Message {
        Message::parse_datagram(INVITE, &Limits::default()).unwrap()
    }

    fn values(msg: &Message, name: HeaderName) -> Vec<String> {
        msg.get_all_raw(&name)
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn response_copies_the_transaction_headers_in_order() {
        let request = invite();
        let resp = response(&request, 486, None, "xyz");
        assert_eq!(resp.status(), Some(486));
        assert_eq!(resp.reason_phrase().unwrap(), "Busy Here");
        assert_eq!(
            values(&resp, HeaderName::Via),
            [
                "SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1, SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK2",
                "SIP/2.0/TCP 192.0.2.9;branch=z9hG4bK3"
            ]
        );
        assert_eq!(
            values(&resp, HeaderName::From),
            ["\"Alice\" <sip:alice@example.com>;tag=abc"]
        );
        assert_eq!(
            values(&resp, HeaderName::To),
            ["Bob <sip:bob@example.com>;tag=xyz"]
        );
        assert_eq!(values(&resp, HeaderName::CallId), ["call-1@192.0.2.1"]);
        assert_eq!(values(&resp, HeaderName::CSeq), ["314159 INVITE"]);
        // A failure creates no dialog, and only a 100 echoes Timestamp.
        assert!(!resp.contains(&HeaderName::RecordRoute));
        assert!(!resp.contains(&HeaderName::Timestamp));
        assert!(!resp.contains(&HeaderName::Contact));
        // It parses back with the tag where a UAC looks for it.
        let again = Message::parse_datagram(&resp.to_bytes(), &Limits::default()).unwrap();
        assert_eq!(again.header::<To>().unwrap().unwrap().tag(), Some("xyz"));
    }

    #[test]
    fn trying_has_no_tag_and_echoes_timestamp() {
        let resp = response(&invite(), 100, None, "xyz");
        assert_eq!(values(&resp, HeaderName::To), ["Bob <sip:bob@example.com>"]);
        assert_eq!(values(&resp, HeaderName::Timestamp), ["54"]);
    }

    #[test]
    fn dialog_creating_responses_copy_record_route() {
        for code in [180, 200] {
            let resp = response(&invite(), code, None, "t");
            assert_eq!(
                values(&resp, HeaderName::RecordRoute),
                ["<sip:proxy.example.com;lr>"],
                "{code}"
            );
        }
    }

    #[test]
    fn an_existing_to_tag_is_kept_not_doubled() {
        let raw = String::from_utf8(INVITE.to_vec()).unwrap().replace(
            "To: Bob <sip:bob@example.com>",
            "To: <sip:bob@example.com>;tag=old",
        );
        let request = Message::parse_datagram(raw.as_bytes(), &Limits::default()).unwrap();
        let resp = response(&request, 200, Some("Fine"), "new");
        assert_eq!(
            values(&resp, HeaderName::To),
            ["<sip:bob@example.com>;tag=old"]
        );
        assert_eq!(resp.reason_phrase().unwrap(), "Fine");
    }

    #[test]
    fn cancel_matches_the_invite() {
        let cancel = cancel(&invite()).unwrap();
        assert_eq!(cancel.method(), Some(&Method::Cancel));
        assert_eq!(cancel.uri().unwrap().to_string(), "sip:bob@example.com");
        assert_eq!(
            values(&cancel, HeaderName::Via),
            ["SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1"]
        );
        assert_eq!(values(&cancel, HeaderName::CSeq), ["314159 CANCEL"]);
        assert_eq!(
            values(&cancel, HeaderName::To),
            ["Bob <sip:bob@example.com>"]
        );
        assert_eq!(values(&cancel, HeaderName::CallId), ["call-1@192.0.2.1"]);
        assert_eq!(
            values(&cancel, HeaderName::Route),
            ["<sip:edge.example.com;lr>"]
        );
        assert!(crate::check::check_request(&cancel).is_ok());
    }

    #[test]
    fn built_requests_pass_the_checks() {
        let request = RequestBuilder::new(Method::Register, Uri::parse("sip:example.com").unwrap())
            .via(crate::headers::Header::parse("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx").unwrap())
            .from(crate::headers::Header::parse("<sip:a@example.com>;tag=1").unwrap())
            .to(crate::headers::Header::parse("<sip:a@example.com>").unwrap())
            .call_id(CallId("c".into()))
            .cseq(7)
            .max_forwards(3)
            .build();
        let bytes = request.to_bytes();
        let again = Message::parse_datagram(&bytes, &Limits::default()).unwrap();
        let essentials = crate::check::check_request(&again).unwrap();
        assert_eq!(essentials.cseq.seq, 7);
        assert_eq!(essentials.cseq.method, Method::Register);
        assert_eq!(essentials.max_forwards, Some(3));
    }

    #[test]
    fn every_named_code_has_a_phrase() {
        for code in [100, 180, 182, 200, 401, 407, 423, 480, 486, 487, 600] {
            assert!(!reason_phrase(code).is_empty(), "{code}");
        }
        assert_eq!(reason_phrase(499), "");
    }
}
