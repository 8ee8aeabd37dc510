//! The benchmark messages (`benches/messages/*.sip`) parse, write back byte for byte and
//! yield the typed headers the benchmarks read: a benchmark that timed an error path
//! would measure nothing useful.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use callcomp_sip::headers::call_id::CallId;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::from_to::{From, To};
use callcomp_sip::headers::via::Via;
use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;
use callcomp_sip::{HeaderName, Method};

/// (file, bytes, method or status, CSeq method, top Via branch, From tag, To tag, body length)
type Row = (
    &'static str,
    &'static [u8],
    Result<Method, u16>,
    Method,
    &'static str,
    &'static str,
    Option<&'static str>,
    usize,
);

const ROWS: [Row; 5] = [
    (
        "invite",
        include_bytes!("../benches/messages/invite.sip"),
        Ok(Method::Invite),
        Method::Invite,
        "z9hG4bK74bf9a3c2e",
        "9fxced76sl",
        None,
        264,
    ),
    (
        "ringing",
        include_bytes!("../benches/messages/ringing.sip"),
        Err(180),
        Method::Invite,
        "z9hG4bK74bf9a3c2e",
        "9fxced76sl",
        Some("8321234356"),
        0,
    ),
    (
        "ok",
        include_bytes!("../benches/messages/ok.sip"),
        Err(200),
        Method::Invite,
        "z9hG4bK74bf9a3c2e",
        "9fxced76sl",
        Some("8321234356"),
        209,
    ),
    (
        "register",
        include_bytes!("../benches/messages/register.sip"),
        Ok(Method::Register),
        Method::Register,
        "z9hG4bKnashds7",
        "a73kszlfl",
        None,
        0,
    ),
    (
        "notify",
        include_bytes!("../benches/messages/notify.sip"),
        Ok(Method::Notify),
        Method::Notify,
        "z9hG4bK2d4790.1",
        "cc55ee21",
        Some("sub1f0c2"),
        17,
    ),
];

#[test]
fn bench_messages_parse_and_read_typed() {
    for (file, bytes, start, cseq_method, branch, from_tag, to_tag, body_len) in ROWS {
        // CRLF line ends throughout (the .gitattributes keeps git from touching them).
        assert!(!bytes.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'));
        let m = Message::parse_datagram(bytes, &Limits::default()).expect(file);
        assert_eq!(m.to_bytes(), bytes, "{file}: round trip");
        match start {
            Ok(method) => assert_eq!(m.method(), Some(&method), "{file}"),
            Err(code) => assert_eq!(m.status(), Some(code), "{file}"),
        }
        assert_eq!(m.body().len(), body_len, "{file}: body");
        let via = m.header::<Via>().unwrap().unwrap();
        assert_eq!(via.branch(), Some(branch), "{file}: branch");
        let from = m.header::<From>().unwrap().unwrap();
        assert_eq!(from.tag(), Some(from_tag), "{file}: From tag");
        let to = m.header::<To>().unwrap().unwrap();
        assert_eq!(to.tag(), to_tag, "{file}: To tag");
        let cseq = m.header::<CSeq>().unwrap().unwrap();
        assert_eq!(cseq.method, cseq_method, "{file}: CSeq");
        let call_id = m.header::<CallId>().unwrap().unwrap();
        assert_eq!(
            m.get_raw(&HeaderName::CallId),
            Some(call_id.0.as_bytes()),
            "{file}: Call-ID"
        );
    }
}

#[test]
fn notify_is_an_rfc_6910_call_completion_event() {
    let m = Message::parse_datagram(ROWS[4].1, &Limits::default()).unwrap();
    assert_eq!(
        m.get_str(&HeaderName::Event).as_deref(),
        Some("call-completion")
    );
    assert_eq!(
        m.get_str(&HeaderName::SubscriptionState).as_deref(),
        Some("active;expires=3600")
    );
    assert_eq!(m.body(), b"cc-state: ready\r\n");
}
