//! What phones and operators notice (issue #12): callcomp's own identity and capabilities on
//! each leg instead of the other leg's, the configured display names in what callcomp
//! originates, and the OPTIONS answer.

use callcomp_switch::CallState;

use super::*;

const CONFIG_NAMES: &str = r#"
domain = "example.com"
[users.alice]
display_name = "Alice Smith"
[users.bob]
display_name = "Bob \"B\" Jones"
[users.dave]
"#;

const AGENT: &str = crate::core::transactions::AGENT;

/// alice's INVITE to bob carrying her phone's own User-Agent, Allow and Supported.
fn invite_with_agent_headers(h: &mut Harness) {
    let branch = h.next_branch();
    let text = format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch={branch}\r\nMax-Forwards: 70\r\n\
         To: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=a1\r\nCall-ID: hyg-1\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:alice@{ALICE}>\r\nUser-Agent: AlicePhone/1.0\r\n\
         Allow: INVITE, ACK, BYE, CANCEL, ALICEONLY\r\nSupported: gruu, 100rel, outbound, timer\r\nSession-Expires: 1800;refresher=uac\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP_A}",
        SDP_A.len()
    );
    h.recv(ALICE, &text);
}

#[test]
fn each_leg_sees_callcomps_agent_allow_and_supported_not_the_other_legs() {
    let mut h = Harness::new();
    h.register("alice", ALICE);
    h.register("bob", BOB);
    invite_with_agent_headers(&mut h);
    h.take(ALICE);
    let to_bob = h.one(BOB);
    let text = String::from_utf8_lossy(&to_bob.to_bytes()).into_owned();
    assert!(!text.contains("AlicePhone"), "{text}");
    assert!(!text.contains("ALICEONLY"), "{text}");
    assert!(
        !text.contains("gruu") && !text.contains("outbound"),
        "{text}"
    );
    assert_eq!(header(&to_bob, HeaderName::UserAgent), AGENT);
    assert_eq!(
        header(&to_bob, HeaderName::Allow),
        crate::core::inbound::ALLOWED
    );
    assert_eq!(header(&to_bob, HeaderName::Supported), "100rel, timer");
    assert_eq!(
        header(&to_bob, HeaderName::SessionExpires),
        "1800;refresher=uac",
        "session timers pass end to end with their option tag"
    );

    // bob's phone answers with its own Server, Allow and Supported.
    let mut ok = reply(&to_bob, 200, "b1", BOB, Some(SDP_B));
    ok = ok.replacen(
        "Content-Type",
        "Server: BobPhone/2.0\r\nAllow: INVITE, BOBONLY\r\nSupported: gruu, replaces\r\nContent-Type",
        1,
    );
    h.recv(BOB, &ok);
    h.take(BOB);
    let answer = h
        .take(ALICE)
        .into_iter()
        .find(|m| m.status() == Some(200))
        .expect("alice gets the 200");
    let text = String::from_utf8_lossy(&answer.to_bytes()).into_owned();
    assert!(!text.contains("BobPhone"), "{text}");
    assert!(!text.contains("BOBONLY"), "{text}");
    assert!(
        !text.contains("gruu") && !text.contains("replaces"),
        "{text}"
    );
    assert_eq!(header(&answer, HeaderName::Server), AGENT);
    assert_eq!(
        header(&answer, HeaderName::Allow),
        crate::core::inbound::ALLOWED
    );
    assert!(
        answer.get_str(&HeaderName::Supported).is_none(),
        "no option tag of bob's passes, so no Supported: {text}"
    );
}

#[test]
fn options_answer_lists_what_callcomp_accepts_and_no_empty_supported() {
    let mut h = Harness::new();
    let text = format!(
        "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKopt\r\nMax-Forwards: 70\r\n\
         To: <sip:example.com>\r\nFrom: <sip:alice@example.com>;tag=o1\r\nCall-ID: opt-1\r\n\
         CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    h.recv(ALICE, &text);
    let ok = h.one(ALICE);
    assert_eq!(ok.status(), Some(200));
    let allow = header(&ok, HeaderName::Allow);
    for method in ["INVITE", "MESSAGE", "SUBSCRIBE", "NOTIFY", "REGISTER"] {
        assert!(allow.contains(method), "{allow}");
    }
    assert!(
        ok.get_str(&HeaderName::Supported).is_none(),
        "no empty Supported"
    );
    assert!(allow.contains("PUBLISH"), "{allow}");
    assert_eq!(
        header(&ok, HeaderName::AllowEvents),
        "call-completion",
        "callcomp is the notifier of RFC 6910's package, and of no other"
    );
    assert_eq!(header(&ok, HeaderName::Server), AGENT);
}

#[test]
fn a_405_lists_only_what_is_accepted_outside_a_dialog() {
    let mut h = Harness::new();
    let text = format!(
        "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKmsg\r\nMax-Forwards: 70\r\n\
         To: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=m1\r\nCall-ID: msg-1\r\n\
         CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
    );
    h.recv(ALICE, &text);
    let refused = h.one(ALICE);
    assert_eq!(refused.status(), Some(405));
    let allow = header(&refused, HeaderName::Allow);
    assert!(
        allow.contains("INVITE") && !allow.contains("MESSAGE"),
        "{allow}"
    );
}

/// lineCompleteCall through the core, the store committing at once.
fn complete(h: &mut Harness, call: u32, mode: u32) -> u32 {
    h.engine.complete_call(call, mode, 0, h.now).unwrap();
    h.collect();
    let replies = h.engine.drain_replies();
    replies[0].1.unwrap()
}

/// alice calls bob, who is not registered: her call ends 480 and stays `busy` for an offer.
fn alice_misses_bob(h: &mut Harness, call_id: &str) -> u32 {
    h.invite_from_alice("bob", call_id);
    assert_eq!(h.one(ALICE).status(), Some(480));
    let switch = h.engine.switch();
    let calls = switch.line_calls("alice").unwrap();
    calls
        .iter()
        .find(|c| c.state == CallState::Busy)
        .expect("alice's call is busy")
        .id
        .get()
}

#[test]
fn recall_and_message_show_the_configured_display_names() {
    let mut h = Harness::with_config(CONFIG_NAMES);
    h.register("alice", ALICE);
    let call = alice_misses_bob(&mut h, "dn-1");
    complete(&mut h, call, 0x8); // message
    let call = alice_misses_bob(&mut h, "dn-2");
    complete(&mut h, call, 0x2); // callback

    h.register("bob", BOB);
    let message = h
        .take(BOB)
        .into_iter()
        .find(|m| m.method() == Some(&callcomp_sip::method::Method::Message))
        .expect("the waiting MESSAGE goes out at bob's registration");
    let from = header(&message, HeaderName::From);
    assert!(
        from.starts_with("\"Alice Smith\" <sip:alice@example.com>;tag="),
        "{from}"
    );
    let body = String::from_utf8_lossy(message.body()).into_owned();
    assert!(body.contains("left by Alice Smith"), "{body}");

    h.advance(Duration::from_millis(1_600));
    let recall = h
        .take(ALICE)
        .into_iter()
        .find(|m| m.is_request())
        .expect("alice is recalled");
    let from = header(&recall, HeaderName::From);
    assert!(
        from.starts_with(r#""Callback: Bob \"B\" Jones" <sip:bob@example.com>;tag="#),
        "{from}"
    );
}

#[test]
fn calls_callcomp_places_carry_the_display_names() {
    let mut h = Harness::with_config(CONFIG_NAMES);
    h.register("alice", ALICE);
    h.register("bob", BOB);
    h.engine.make_call("alice", "bob", h.now).unwrap();
    h.collect();
    let to_alice = h.one(ALICE);
    let from = header(&to_alice, HeaderName::From);
    assert!(
        from.starts_with(r#""Bob \"B\" Jones" <sip:bob@example.com>;tag="#),
        "alice's phone shows whom it will call: {from}"
    );
    h.recv(ALICE, &reply(&to_alice, 200, "a9", ALICE, Some(SDP_A)));
    let to_bob = h.one(BOB);
    let from = header(&to_bob, HeaderName::From);
    assert!(
        from.starts_with("\"Alice Smith\" <sip:alice@example.com>;tag="),
        "bob's phone shows who calls: {from}"
    );

    // Without a display_name, the line name is shown.
    let mut h = Harness::new();
    h.register("alice", ALICE);
    h.register("bob", BOB);
    h.engine.make_call("alice", "bob", h.now).unwrap();
    h.collect();
    let from = header(&h.one(ALICE), HeaderName::From);
    assert!(from.starts_with("\"bob\" <sip:bob@example.com>"), "{from}");
}
