//! The messages of the RFC 6910 §8 example flow (as the project's RFC digest reduces them,
//! `shared/reference/call-completion-anchors.md` §b), with the transaction headers a real
//! message needs: each parses, its typed headers and bodies read as the RFC means them, and
//! an untouched message is written back byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use callcomp_sip::body::call_completion::{CallCompletion, CcState, CONTENT_TYPE};
use callcomp_sip::body::pidf::{Basic, Pidf};
use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::call_info::CallInfo;
use callcomp_sip::headers::etag::SipIfMatch;
use callcomp_sip::headers::event::Event;
use callcomp_sip::headers::subscription_state::{SubState, SubscriptionState};
use callcomp_sip::message::Message;
use callcomp_sip::method::Method;
use callcomp_sip::parse::Limits;

fn message(text: &str) -> Message {
    let m = Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(m.to_bytes(), text.as_bytes(), "written back untouched");
    m
}

fn with_body(head: &str, body: &str) -> String {
    format!("{head}Content-Length: {}\r\n\r\n{body}", body.len())
}

/// Message 1: the failed call with the CC possible indication (§7.1).
#[test]
fn the_offer_on_the_486() {
    let m = message(
        "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP y.a.com;branch=z9hG4bK1\r\n\
         From: <sip:123@a.com>;tag=a1\r\nTo: <sip:456@b.com>;tag=b1\r\nCall-ID: call-1\r\n\
         CSeq: 1 INVITE\r\nCall-Info: <sip:456@z.b.com>;purpose=call-completion;m=BS\r\n\
         Content-Length: 0\r\n\r\n",
    );
    let info = &m.header_all::<CallInfo>().unwrap()[0];
    assert!(info.is_call_completion());
    assert_eq!(info.m(), Some("BS"));
    assert_eq!(info.uri.to_string(), "sip:456@z.b.com");
}

/// Message 2: the activation SUBSCRIBE (§6.2).
#[test]
fn the_subscribe() {
    let m = message(
        "SUBSCRIBE sip:456@z.b.com;m=BS SIP/2.0\r\nVia: SIP/2.0/UDP y.a.com;branch=z9hG4bK2\r\n\
         Max-Forwards: 70\r\nFrom: <sip:123@a.com>;tag=s1\r\nTo: <sip:456@b.com>\r\n\
         Call-ID: abcd-efgh\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:123@y.a.com>\r\n\
         Event: call-completion\r\nAccept: application/call-completion\r\nExpires: 3600\r\n\
         Request-Disposition: parallel\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(m.method(), Some(&Method::Subscribe));
    let event = m.header::<Event>().unwrap().unwrap();
    assert_eq!(event.package, "call-completion");
    assert!(event.matches(&Event::new("call-completion")));
    let uri = m.uri().unwrap().as_sip().unwrap();
    assert_eq!(uri.params.value("m"), Some("BS"));
    assert_eq!(m.get_str(&HeaderName::Accept).unwrap(), CONTENT_TYPE);
}

/// Messages 3 and 4: NOTIFY `queued` then `ready` (§7.3, §10), the `URI:` spelling of the
/// RFC's own example read as `cc-URI`.
#[test]
fn the_notifies() {
    let head = |state: &str| {
        format!(
            "NOTIFY sip:123@y.a.com SIP/2.0\r\nVia: SIP/2.0/UDP z.b.com;branch=z9hG4bK3\r\n\
             Max-Forwards: 70\r\nFrom: <sip:456@b.com>;tag=n1\r\nTo: <sip:123@a.com>;tag=s1\r\n\
             Call-ID: abcd-efgh\r\nCSeq: 1 NOTIFY\r\nEvent: call-completion\r\n\
             Subscription-State: {state}\r\nContent-Type: application/call-completion\r\n"
        )
    };
    let queued = message(&with_body(
        &head("active;expires=3600"),
        "cc-state: queued\r\ncc-service-retention: true\r\ncc-URI: sip:cce-7f3a@z.b.com\r\n",
    ));
    let state = queued.header::<SubscriptionState>().unwrap().unwrap();
    assert_eq!(
        (state.state.clone(), state.expires()),
        (SubState::Active, Some(3600))
    );
    let doc = CallCompletion::parse(queued.body()).unwrap();
    assert_eq!(doc.state, Some(CcState::Queued));
    assert!(doc.service_retention);
    assert_eq!(doc.uri.as_deref(), Some("sip:cce-7f3a@z.b.com"));
    assert_eq!(
        doc.to_bytes(),
        queued.body(),
        "the canonical form is the RFC's"
    );

    let ready = message(&with_body(
        &head("active;expires=2410"),
        "cc-state: ready\r\nURI: sip:cce-7f3a@z.b.com\r\n",
    ));
    let doc = CallCompletion::parse(ready.body()).unwrap();
    assert_eq!(doc.state, Some(CcState::Ready));
    assert_eq!(
        doc.parsed_uri().unwrap().unwrap().to_string(),
        "sip:cce-7f3a@z.b.com"
    );
    assert_eq!(
        String::from_utf8(doc.to_bytes()).unwrap(),
        "cc-state: ready\r\ncc-URI: sip:cce-7f3a@z.b.com\r\n",
        "written back with the defined name"
    );

    let last = message(&with_body(&head("terminated;reason=noresource"), ""));
    let state = last.header::<SubscriptionState>().unwrap().unwrap();
    assert_eq!(
        (state.state.clone(), state.reason()),
        (SubState::Terminated, Some("noresource"))
    );
}

/// Message 5a: the CC call to the cc-URI with `m` (§6.4).
#[test]
fn the_cc_call() {
    let m = message(
        "INVITE sip:cce-7f3a@z.b.com;m=BS SIP/2.0\r\nVia: SIP/2.0/UDP y.a.com;branch=z9hG4bK5\r\n\
         Max-Forwards: 70\r\nFrom: <sip:123@a.com>;tag=c1\r\nTo: <sip:456@b.com>\r\n\
         Call-ID: cc-call\r\nCSeq: 1 INVITE\r\nContact: <sip:123@y.a.com>\r\n\
         Content-Length: 0\r\n\r\n",
    );
    let uri = m.uri().unwrap().as_sip().unwrap();
    assert_eq!(uri.user.as_deref(), Some("cce-7f3a"));
    assert_eq!(uri.params.value("m"), Some("BS"));
}

/// Message 5b: suspend by PUBLISH (§6.5, RFC 3903), `Event: presence` as in the RFC, and
/// the resume naming the entity tag.
#[test]
fn the_suspend_and_resume_publish() {
    let pidf = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n\
        <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:123@a.com\">\r\n\
        <tuple id=\"t1\"><status><basic>closed</basic></status></tuple>\r\n</presence>\r\n";
    let head =
        "PUBLISH sip:cce-7f3a@z.b.com SIP/2.0\r\nVia: SIP/2.0/UDP y.a.com;branch=z9hG4bK6\r\n\
        Max-Forwards: 70\r\nFrom: <sip:123@a.com>;tag=p1\r\nTo: <sip:123@a.com>\r\n\
        Call-ID: pub-1\r\nCSeq: 1 PUBLISH\r\nEvent: presence\r\nExpires: 2400\r\n\
        Content-Type: application/pidf+xml\r\n";
    let suspend = message(&with_body(head, pidf));
    let doc = Pidf::parse(suspend.body()).unwrap();
    assert_eq!(doc.entity, "sip:123@a.com");
    assert_eq!(doc.basic(), Some(Basic::Closed));
    let written = doc.to_bytes();
    assert_eq!(Pidf::parse(&written).unwrap(), doc, "round trip");

    let resume_body = pidf.replace("closed", "open");
    let resume = message(&with_body(
        &head.replace(
            "Expires: 2400\r\n",
            "Expires: 2400\r\nSIP-If-Match: dx200xyz\r\n",
        ),
        &resume_body,
    ));
    assert_eq!(
        Pidf::parse(resume.body()).unwrap().basic(),
        Some(Basic::Open)
    );
    assert_eq!(
        resume.header::<SipIfMatch>().unwrap().unwrap().0,
        "dx200xyz"
    );
}
