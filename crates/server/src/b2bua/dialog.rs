//! One SIP dialog as the B2BUA holds it (RFC 3261 §12), on either side of a call, and the
//! building of the requests and responses that travel in it.
//!
//! The B2BUA is a UA on each side: toward the caller it is the UAS of the caller's INVITE,
//! toward the callee the UAC of its own INVITE. Both sides are a [`Dialog`]: Call-ID, our
//! tag and the peer's, the URIs for From and To, our CSeq counter and the peer's last one,
//! the peer's target (its Contact), the route set, and where on the network the peer is.

use callcomp_sip::builder;
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::contact::Contact;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::numbers::MaxForwards;
use callcomp_sip::headers::route::RecordRoute;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::uri::Uri;

use crate::core::transactions::Transactions;
use crate::transport::Target;

/// One side's dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// The Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
    /// Our URI as a name-addr without tag (the From of requests we send).
    pub local_uri: String,
    /// The peer's URI as a name-addr without tag (the To of requests we send).
    pub remote_uri: String,
    /// Our last CSeq number.
    pub local_seq: u32,
    /// The peer's last CSeq number, once it sent a request in the dialog.
    pub remote_seq: Option<u32>,
    /// Where requests go (the peer's Contact).
    pub remote_target: Uri,
    /// Route headers for requests, in order.
    pub route_set: Vec<String>,
    /// The network destination of the peer.
    pub target: Target,
}

impl Dialog {
    /// The dialog of a request we received and answer as UAS (§12.1.1): the peer's From is
    /// the remote side, its Contact the target, Record-Route the route set in order.
    pub fn as_uas(request: &Message, local_tag: &str, target: Target) -> Option<Dialog> {
        let from = request
            .header::<callcomp_sip::headers::from_to::From>()?
            .ok()?;
        let to = request
            .header::<callcomp_sip::headers::from_to::To>()?
            .ok()?;
        let call_id = request.get_str(&HeaderName::CallId)?.into_owned();
        let cseq = request.header::<CSeq>()?.ok()?;
        let remote_target = contact_uri(request).unwrap_or_else(|| from.uri.clone());
        let route_set = request
            .header_all::<RecordRoute>()
            .ok()?
            .iter()
            .map(|r| r.0.to_value())
            .collect();
        Some(Dialog {
            call_id,
            local_tag: local_tag.to_owned(),
            remote_tag: from.tag()?.to_owned(),
            local_uri: without_tag(&to.0),
            remote_uri: without_tag(&from.0),
            local_seq: 0,
            remote_seq: Some(cseq.seq),
            remote_target,
            route_set,
            target,
        })
    }

    /// The dialog a response to our INVITE creates (§12.1.2): its To tag, its Contact, the
    /// Record-Route reversed. `request` is the INVITE we sent.
    pub fn as_uac(request: &Message, response: &Message, target: Target) -> Option<Dialog> {
        let from = request
            .header::<callcomp_sip::headers::from_to::From>()?
            .ok()?;
        let to = response
            .header::<callcomp_sip::headers::from_to::To>()?
            .ok()?;
        let call_id = request.get_str(&HeaderName::CallId)?.into_owned();
        let cseq = request.header::<CSeq>()?.ok()?;
        let remote_target = contact_uri(response).or_else(|| request.uri().cloned())?;
        let mut route_set: Vec<String> = response
            .header_all::<RecordRoute>()
            .ok()?
            .iter()
            .map(|r| r.0.to_value())
            .collect();
        route_set.reverse();
        Some(Dialog {
            call_id,
            local_tag: from.tag()?.to_owned(),
            remote_tag: to.tag()?.to_owned(),
            local_uri: without_tag(&from.0),
            remote_uri: without_tag(&to.0),
            local_seq: cseq.seq,
            remote_seq: None,
            remote_target,
            route_set,
            target,
        })
    }

    /// A new request in the dialog (§12.2.1.1) with the next CSeq, our Via and, for a
    /// request that can change the target, our Contact.
    pub fn request(&mut self, method: Method, sip: &mut Transactions) -> Message {
        self.local_seq = self.local_seq.wrapping_add(1);
        let seq = self.local_seq;
        self.build(method, seq, sip)
    }

    /// The ACK for our INVITE numbered `seq` that got a 2xx (§13.2.2.4): in the dialog,
    /// with the INVITE's CSeq number and a new branch.
    pub fn ack(&self, seq: u32, sip: &mut Transactions) -> Message {
        self.build(Method::Ack, seq, sip)
    }

    fn build(&self, method: Method, seq: u32, sip: &mut Transactions) -> Message {
        let mut out = Message::new_request(method.clone(), self.remote_target.clone());
        out.push(&sip.via(self.target.proto));
        out.push(&MaxForwards(70));
        out.push_raw(
            HeaderName::From,
            format!("{};tag={}", self.local_uri, self.local_tag),
        );
        out.push_raw(
            HeaderName::To,
            format!("{};tag={}", self.remote_uri, self.remote_tag),
        );
        out.push_raw(HeaderName::CallId, self.call_id.clone());
        out.push(&CSeq {
            seq,
            method: method.clone(),
        });
        for route in &self.route_set {
            out.push_raw(HeaderName::Route, route.clone());
        }
        if matches!(
            method,
            Method::Invite | Method::Update | Method::Subscribe | Method::Refer
        ) {
            out.push_raw(HeaderName::Contact, sip.contact(self.target.proto));
        }
        out
    }

    /// Notes the CSeq of a request the peer sent in the dialog; `false` when it is not above
    /// the last one (§12.2.2: answer 500). ACK and CANCEL reuse a CSeq and are not checked.
    pub fn accept_remote_seq(&mut self, seq: u32) -> bool {
        if self.remote_seq.is_some_and(|last| seq <= last) {
            return false;
        }
        self.remote_seq = Some(seq);
        true
    }

    /// Takes the peer's new Contact from a target-refresh request or its 2xx (§12.2).
    pub fn refresh_target(&mut self, message: &Message) {
        if let Some(uri) = contact_uri(message) {
            self.remote_target = uri;
        }
    }
}

/// The first Contact URI of a message.
pub fn contact_uri(message: &Message) -> Option<Uri> {
    let contacts = message.header_all::<Contact>().ok()?;
    contacts.first()?.addr().map(|a| a.uri.clone())
}

/// A name-addr written back without its `tag` parameter.
fn without_tag(addr: &callcomp_sip::name_addr::NameAddr) -> String {
    let mut addr = addr.clone();
    addr.params.remove("tag");
    addr.to_value()
}

/// Headers that travel end to end: a B2BUA copies them from one side to the other, with
/// the body byte for byte (docs/headers.md lists what passes and what callcomp writes itself).
/// What describes one leg's user agent (`User-Agent`, `Server`, `Allow`, the option tags of
/// `Supported` other than [`RELAYED_OPTION_TAGS`]) stays on its leg: callcomp writes its own
/// (`Transactions::request`/`respond`, [`ALLOWED`](crate::core::inbound::ALLOWED)).
const END_TO_END: &[HeaderName] = &[
    HeaderName::ContentType,
    HeaderName::ContentDisposition,
    HeaderName::ContentEncoding,
    HeaderName::ContentLanguage,
    HeaderName::Accept,
    HeaderName::Require,
    HeaderName::RSeq,
    HeaderName::SessionExpires,
    HeaderName::MinSe,
    HeaderName::Event,
    HeaderName::Subject,
    HeaderName::Priority,
    HeaderName::Reason,
    HeaderName::Warning,
    HeaderName::AlertInfo,
];

/// The `Supported` option tags that mean something end to end through callcomp, because
/// what they negotiate is relayed across: reliable provisional responses (RFC 3262: RSeq,
/// RAck and PRACK pass) and session timers (RFC 4028: Session-Expires, Min-SE and the
/// refreshing re-INVITE or UPDATE pass). Others (`gruu`, `outbound`, `path`, `replaces`…)
/// describe one leg and are dropped.
pub const RELAYED_OPTION_TAGS: &[&str] = &["100rel", "timer"];

/// Copies the end-to-end headers, unknown extension headers and the body of `from` to `to`;
/// `Supported` keeps only [`RELAYED_OPTION_TAGS`], and a message that carries our Contact
/// (it forms or refreshes a dialog) gets our own `Allow` (RFC 3261 §20.5).
pub fn copy_end_to_end(from: &Message, to: &mut Message) {
    for (name, value) in from.headers() {
        let copy = END_TO_END.contains(name) || matches!(name, HeaderName::Extension(_));
        if copy {
            to.push_raw(name.clone(), value.to_vec());
        }
    }
    if let Some(tags) = relayed_supported(from) {
        to.push_raw(HeaderName::Supported, tags);
    }
    if to.get_str(&HeaderName::Contact).is_some() && to.get_str(&HeaderName::Allow).is_none() {
        to.push_raw(HeaderName::Allow, crate::core::inbound::ALLOWED);
    }
    if !from.body().is_empty() {
        to.set_body(from.body().to_vec());
    }
}

/// The option tags of `message`'s Supported headers that pass to the other leg, or `None`.
fn relayed_supported(message: &Message) -> Option<String> {
    let tags: Vec<&str> = message
        .headers()
        .filter(|(name, _)| **name == HeaderName::Supported)
        .filter_map(|(_, value)| std::str::from_utf8(value).ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| {
            RELAYED_OPTION_TAGS
                .iter()
                .any(|r| r.eq_ignore_ascii_case(t))
        })
        .collect();
    (!tags.is_empty()).then(|| tags.join(", "))
}

/// A name-addr with a display name: `"Alice Smith" <sip:alice@example.com>`, the display
/// name as an RFC 3261 §25.1 quoted-string (`"` and `\` escaped).
pub fn name_addr(display: &str, uri: &str) -> String {
    let mut quoted = String::with_capacity(display.len() + 2);
    for c in display.chars() {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    format!("\"{quoted}\" <{uri}>")
}

/// A copy of a RAck header value (`rseq cseq method`, RFC 3262 §7.2) with the CSeq number
/// of the other side's INVITE.
pub fn rewrite_rack(value: &str, invite_seq: u32) -> Option<String> {
    let mut parts = value.split_whitespace();
    let (rseq, _, method) = (parts.next()?, parts.next()?, parts.next()?);
    Some(format!("{rseq} {invite_seq} {method}"))
}

/// The response to `request` relayed from `response` of the other side: same status and
/// reason, our tag, our Contact when it can establish or refresh a dialog, and the
/// end-to-end headers and body.
pub fn relay_response(
    request: &Message,
    response: &Message,
    to_tag: &str,
    contact: Option<&str>,
) -> Message {
    let code = response.status().unwrap_or(500);
    let reason = response.reason_phrase().map(|r| r.into_owned());
    let mut out = builder::response(request, code, reason.as_deref(), to_tag);
    if let Some(contact) = contact {
        if (101..300).contains(&code) {
            out.push_raw(HeaderName::Contact, contact.to_owned());
        }
    }
    copy_end_to_end(response, &mut out);
    out
}
