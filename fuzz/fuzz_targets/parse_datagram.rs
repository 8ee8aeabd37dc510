//! Any datagram: the parser returns a message or an error, never panics; a message it
//! accepts writes back to bytes that parse again to the same message, and every typed
//! header can be asked for without panicking.
#![no_main]

use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::parse_datagram(data, &Limits::default()) else {
        return;
    };
    let bytes = msg.to_bytes();
    let again = Message::parse_datagram(&bytes, &Limits::default())
        .expect("a parsed message must write back to something that parses");
    assert_eq!(again.to_bytes(), bytes);
    // Edits keep the message parseable.
    let mut edited = msg.clone();
    edited.set_raw(callcomp_sip::HeaderName::MaxForwards, "69");
    edited.set_body(b"x".to_vec());
    let edited_bytes = edited.to_bytes();
    let reparsed = Message::parse_datagram(&edited_bytes, &Limits::default())
        .expect("an edited message must parse");
    assert_eq!(reparsed.body(), b"x");
    callcomp_fuzz_typed::touch_typed(&msg);
});

/// Asks for every typed header, the checks and the bodies; errors are fine, panics are not.
mod callcomp_fuzz_typed {
    use callcomp_sip::body::{CallCompletion, Pidf};
    use callcomp_sip::check;
    use callcomp_sip::headers::auth::{
        Authorization, ProxyAuthenticate, ProxyAuthorization, WwwAuthenticate,
    };
    use callcomp_sip::headers::call_id::CallId;
    use callcomp_sip::headers::call_info::CallInfo;
    use callcomp_sip::headers::contact::Contact;
    use callcomp_sip::headers::content_type::ContentType;
    use callcomp_sip::headers::cseq::CSeq;
    use callcomp_sip::headers::date::Date;
    use callcomp_sip::headers::etag::{SipETag, SipIfMatch};
    use callcomp_sip::headers::event::{AllowEvents, Event};
    use callcomp_sip::headers::from_to::{From, To};
    use callcomp_sip::headers::numbers::{
        ContentLength, Expires, MaxForwards, MinExpires, RetryAfter,
    };
    use callcomp_sip::headers::reason::Reason;
    use callcomp_sip::headers::route::{Path, RecordRoute, Route};
    use callcomp_sip::headers::subscription_state::SubscriptionState;
    use callcomp_sip::headers::tokens::{Allow, ProxyRequire, Require, Supported, Unsupported};
    use callcomp_sip::headers::via::Via;
    use callcomp_sip::headers::Header;
    use callcomp_sip::message::Message;

    /// Every value that parses must write back to a value that parses to the same text.
    fn all<H: Header>(msg: &Message) {
        if let Ok(values) = msg.header_all::<H>() {
            for v in values {
                let text = v.to_value();
                let again = H::parse(&text).expect("a written header must parse");
                assert_eq!(again.to_value(), text);
            }
        }
        let _ = msg.header::<H>();
    }

    pub fn touch_typed(msg: &Message) {
        all::<Via>(msg);
        all::<From>(msg);
        all::<To>(msg);
        all::<CallId>(msg);
        all::<CSeq>(msg);
        all::<Contact>(msg);
        all::<MaxForwards>(msg);
        all::<ContentLength>(msg);
        all::<ContentType>(msg);
        all::<Expires>(msg);
        all::<MinExpires>(msg);
        all::<RetryAfter>(msg);
        all::<Route>(msg);
        all::<RecordRoute>(msg);
        all::<Path>(msg);
        all::<CallInfo>(msg);
        all::<Event>(msg);
        all::<AllowEvents>(msg);
        all::<SubscriptionState>(msg);
        all::<Allow>(msg);
        all::<Supported>(msg);
        all::<Require>(msg);
        all::<ProxyRequire>(msg);
        all::<Unsupported>(msg);
        all::<WwwAuthenticate>(msg);
        all::<ProxyAuthenticate>(msg);
        all::<Authorization>(msg);
        all::<ProxyAuthorization>(msg);
        all::<SipETag>(msg);
        all::<SipIfMatch>(msg);
        all::<Reason>(msg);
        all::<Date>(msg);
        if msg.is_request() {
            let _ = check::check_request(msg);
        } else {
            let _ = check::check_response(msg);
        }
        let _ = CallCompletion::parse(msg.body());
        let _ = Pidf::parse(msg.body());
    }
}
