//! Property tests: whatever the serializer writes, the parser reads back to the same message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use callcomp_sip::header_name::HeaderName;
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::parse::{Framed, Limits};
use callcomp_sip::uri::Uri;
use proptest::prelude::*;

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Invite),
        Just(Method::Ack),
        Just(Method::Bye),
        Just(Method::Cancel),
        Just(Method::Options),
        Just(Method::Register),
        Just(Method::Subscribe),
        Just(Method::Notify),
        Just(Method::Message),
        "[A-Z]{3,12}".prop_map(|m| Method::parse(m.as_bytes()).unwrap()),
    ]
}

fn uri() -> impl Strategy<Value = Uri> {
    (
        "[a-z][a-z0-9]{0,8}",
        "[a-z]{1,10}\\.(com|net|example)",
        proptest::option::of(1024u16..65535),
    )
        .prop_map(|(user, host, port)| {
            let text = match port {
                Some(p) => format!("sip:{user}@{host}:{p}"),
                None => format!("sip:{user}@{host}"),
            };
            Uri::parse(&text).unwrap()
        })
}

/// Header names: known ones (long and compact spellings) and extension names.
fn header_name() -> impl Strategy<Value = HeaderName> {
    prop_oneof![
        Just(HeaderName::Via),
        Just(HeaderName::From),
        Just(HeaderName::To),
        Just(HeaderName::CallId),
        Just(HeaderName::CSeq),
        Just(HeaderName::Contact),
        Just(HeaderName::Subject),
        Just(HeaderName::UserAgent),
        "X-[A-Za-z0-9-]{1,16}".prop_map(|n| HeaderName::from(n.as_str())),
    ]
}

/// Header values: printable text without line breaks, including UTF-8, trimmed the way the
/// parser trims them.
fn header_value() -> impl Strategy<Value = String> {
    "[ -~\u{a0}-\u{17f}]{1,60}"
        .prop_map(|v| v.trim().to_string())
        .prop_filter("non-empty", |v| !v.is_empty())
}

fn message() -> impl Strategy<Value = Message> {
    let request = (method(), uri()).prop_map(|(m, u)| Message::new_request(m, u));
    let response = (100u16..700, "[A-Za-z ]{0,20}")
        .prop_map(|(code, reason)| Message::new_response(code, reason.trim()));
    (
        prop_oneof![request, response],
        proptest::collection::vec((header_name(), header_value()), 0..12),
        proptest::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(|(mut msg, headers, body)| {
            for (name, value) in headers {
                msg.push_raw(name, value);
            }
            msg.set_body(body);
            msg
        })
}

/// What a message says, independent of how it was written: method, URI, status, headers
/// (lower-cased names with raw values) and body.
type Summary = (
    Option<String>,
    Option<String>,
    Option<u16>,
    Vec<(String, Vec<u8>)>,
    Vec<u8>,
);

fn summary(m: &Message) -> Summary {
    (
        m.method().map(|x| x.to_string()),
        m.uri().map(|x| x.to_string()),
        m.status(),
        m.headers()
            .map(|(n, v)| (n.as_str().to_ascii_lowercase(), v.to_vec()))
            .collect(),
        m.body().to_vec(),
    )
}

proptest! {
    #[test]
    fn datagram_round_trip(msg in message()) {
        let bytes = msg.to_bytes();
        let parsed = Message::parse_datagram(&bytes, &Limits::default()).unwrap();
        prop_assert_eq!(summary(&parsed), summary(&msg));
        // And the parsed message writes back the same bytes.
        prop_assert_eq!(parsed.to_bytes(), bytes);
    }

    #[test]
    fn stream_round_trip_in_pieces(msgs in proptest::collection::vec(message(), 1..4), cut in 1usize..50) {
        let mut wire = Vec::new();
        for m in &msgs {
            wire.extend_from_slice(&m.to_bytes());
        }
        // Feed the stream in pieces of `cut` bytes, as TCP might deliver it.
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for chunk in wire.chunks(cut) {
            buf.extend_from_slice(chunk);
            while let Framed::Complete(m, used) = Message::parse_stream(&buf, &Limits::default()).unwrap() {
                got.push(m);
                buf.drain(..used);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got.len(), msgs.len());
        for (a, b) in got.iter().zip(&msgs) {
            prop_assert_eq!(summary(a), summary(b));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Message::parse_datagram(&bytes, &Limits::default());
        let _ = Message::parse_stream(&bytes, &Limits::default());
    }
}
