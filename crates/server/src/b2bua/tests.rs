//! Message building of the B2BUA: relayed responses, end-to-end headers, RAck, targets.

use callcomp_sip::header_name::HeaderName;
use callcomp_sip::message::Message;
use callcomp_sip::parse::Limits;
use callcomp_sip::uri::Uri;

use super::dialog::{copy_end_to_end, relay_response, rewrite_rack};
use super::target_of;
use crate::transport::Proto;

fn parse(text: &str) -> Message {
    Message::parse_datagram(text.as_bytes(), &Limits::default()).unwrap()
}

const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=a\r\nCall-ID: c\r\n\
CSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.1>\r\nContent-Length: 0\r\n\r\n";

#[test]
fn relayed_responses_keep_status_reason_body_and_end_to_end_headers() {
    let invite = parse(INVITE);
    let from_b = parse(
        "SIP/2.0 183 Early Media Here\r\nVia: SIP/2.0/UDP 192.0.2.100;branch=z9hG4bKx\r\n\
         To: <sip:bob@example.com>;tag=b\r\nFrom: <sip:alice@example.com>;tag=q\r\nCall-ID: other\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:bob@192.0.2.2>\r\nRequire: 100rel\r\nRSeq: 7\r\n\
         X-Vendor: v\r\nContent-Type: application/sdp\r\nContent-Length: 3\r\n\r\nabc",
    );
    let out = relay_response(
        &invite,
        &from_b,
        "ours",
        Some("<sip:callcomp@192.0.2.100:5060>"),
    );
    assert_eq!(out.status(), Some(183));
    assert_eq!(out.reason_phrase().unwrap(), "Early Media Here");
    assert_eq!(out.get_str(&HeaderName::CallId).unwrap(), "c");
    assert_eq!(
        out.get_str(&HeaderName::To).unwrap(),
        "<sip:bob@example.com>;tag=ours"
    );
    assert_eq!(
        out.get_str(&HeaderName::Contact).unwrap(),
        "<sip:callcomp@192.0.2.100:5060>"
    );
    assert_eq!(out.get_str(&HeaderName::RSeq).unwrap(), "7");
    assert_eq!(out.get_str(&HeaderName::Require).unwrap(), "100rel");
    assert_eq!(
        out.get_str(&HeaderName::Extension("X-Vendor".into()))
            .unwrap(),
        "v"
    );
    assert_eq!(out.body(), b"abc");
    // The peer's own Contact, Via and Call-ID never cross.
    assert_eq!(out.count(&HeaderName::Contact), 1);
    let bytes = out.to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("192.0.2.2"));
    assert!(!text.contains("other"));
}

#[test]
fn copy_skips_hop_by_hop_headers() {
    let invite = parse(INVITE);
    let mut out = Message::new_request(
        callcomp_sip::Method::Invite,
        Uri::parse("sip:x@example.com").unwrap(),
    );
    copy_end_to_end(&invite, &mut out);
    for name in [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::Contact,
        HeaderName::MaxForwards,
    ] {
        assert!(!out.contains(&name), "{name}");
    }
}

#[test]
fn rack_is_renumbered_to_the_other_sides_invite() {
    assert_eq!(
        rewrite_rack("7 314 INVITE", 1).as_deref(),
        Some("7 1 INVITE")
    );
    assert_eq!(rewrite_rack("7", 1), None);
}

#[test]
fn contact_uris_with_ip_hosts_are_targets() {
    let t = target_of(&Uri::parse("sip:bob@192.0.2.2:5070;transport=tcp").unwrap()).unwrap();
    assert_eq!(
        (t.proto, t.remote.to_string()),
        (Proto::Tcp, "192.0.2.2:5070".to_owned())
    );
    let t = target_of(&Uri::parse("sip:bob@[2001:db8::1]").unwrap()).unwrap();
    assert_eq!(
        (t.proto, t.remote.to_string()),
        (Proto::Udp, "[2001:db8::1]:5060".to_owned())
    );
    assert!(target_of(&Uri::parse("sip:bob@phone.example.com").unwrap()).is_none());
}
