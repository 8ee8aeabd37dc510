//! Intrusion on the wire (DESIGN §2.2, §3): dave, held busy on bob who talks to alice, asks to
//! intrude; both parties are re-INVITEd onto callcomp's mixer, dave is answered into it, and
//! when he leaves the two are re-INVITEd back to each other with the SDP each had before.

use callcomp_sip::method::Method;
use callcomp_switch::{CallReason, CallState};

use super::completion::{call_in, complete, dave_held, one_request, HOLD_CONFIG};
use super::*;

const INTRUDE: u32 = 0x4;

/// A request dave sends in the dialog the 200 `ok` to his INVITE established.
fn from_dave(method: &str, ok: &Message, seq: u32) -> String {
    let target = header(ok, HeaderName::Contact);
    let target = target.trim_start_matches('<').trim_end_matches('>');
    format!(
        "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {DAVE};branch=z9hG4bKdave{method}{seq}\r\nMax-Forwards: 70\r\n\
         From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {seq} {method}\r\nContact: <sip:dave@{DAVE}>\r\nContent-Length: 0\r\n\r\n",
        header(ok, HeaderName::From),
        header(ok, HeaderName::To),
        header(ok, HeaderName::CallId),
    )
}

/// dave intrudes into alice's call with bob; returns (bob's INVITE, dave's 200).
fn intruded(h: &mut Harness) -> (Message, Message) {
    let (to_bob, call) = dave_held(h);
    let features = {
        let switch = h.engine.switch();
        let f = lock(&switch).call_features(callcomp_switch::CallId::new(call).unwrap());
        f.features2
    };
    assert_ne!(features & 0x10, 0, "COMPLINTRUDE offered");
    complete(h, call, INTRUDE, 0).unwrap();
    assert!(
        h.take(DAVE).iter().all(|m| m.status() != Some(200)),
        "not before the moves"
    );
    let to_alice = one_request(h, ALICE);
    let to_bob2 = one_request(h, BOB);
    for re in [&to_alice, &to_bob2] {
        assert_eq!(re.method(), Some(&Method::Invite));
        let sdp = String::from_utf8_lossy(re.body()).into_owned();
        assert!(
            sdp.contains("c=IN IP4 127.0.0.1"),
            "callcomp's media: {sdp}"
        );
    }
    assert_ne!(to_alice.body(), to_bob2.body(), "one endpoint per party");
    h.recv(ALICE, &reply(&to_alice, 200, "a1", ALICE, Some(SDP_A)));
    assert_eq!(h.one(ALICE).method(), Some(&Method::Ack));
    assert!(
        h.take(DAVE).iter().all(|m| m.status() != Some(200)),
        "waits for both"
    );
    h.recv(BOB, &reply(&to_bob2, 200, "b1", BOB, Some(SDP_B)));
    assert_eq!(h.one(BOB).method(), Some(&Method::Ack));
    let ok = h.one(DAVE);
    assert_eq!(ok.status(), Some(200));
    assert!(String::from_utf8_lossy(ok.body()).contains("c=IN IP4 127.0.0.1"));
    h.recv(DAVE, &from_dave("ACK", &ok, 1));
    (to_bob, ok)
}

#[test]
fn the_intruder_joins_and_the_two_are_put_back_when_he_leaves() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    let (to_bob, ok) = intruded(&mut h);
    {
        let switch = h.engine.switch();
        let switch = lock(&switch);
        let dave = &switch.line_calls("dave").unwrap()[0];
        assert_eq!(
            (dave.state, dave.reason),
            (CallState::Connected, CallReason::Callcompletion)
        );
        let bob = &switch.line_calls("bob").unwrap()[0];
        assert_eq!(bob.reason, CallReason::Intrude);
    }
    assert!(h.take(ALICE).is_empty() && h.take(BOB).is_empty());

    h.recv(DAVE, &from_dave("BYE", &ok, 2));
    assert_eq!(h.one(DAVE).status(), Some(200));
    let back_alice = one_request(&mut h, ALICE);
    let back_bob = one_request(&mut h, BOB);
    assert_eq!(
        back_alice.body(),
        SDP_B.as_bytes(),
        "alice gets bob's SDP again"
    );
    assert_eq!(
        back_bob.body(),
        SDP_A.as_bytes(),
        "bob gets alice's SDP again"
    );
    h.recv(ALICE, &reply(&back_alice, 200, "a1", ALICE, Some(SDP_A)));
    h.recv(BOB, &reply(&back_bob, 200, "b1", BOB, Some(SDP_B)));
    assert_eq!(h.one(ALICE).method(), Some(&Method::Ack));
    assert_eq!(h.one(BOB).method(), Some(&Method::Ack));
    assert!(lock(&h.engine.switch())
        .line_calls("dave")
        .unwrap()
        .is_empty());
    // The two are an ordinary call again: alice's call is connected and bob's BYE reaches her.
    call_in(&h, "alice", CallState::Connected);
    h.recv(BOB, &from_callee("BYE", &to_bob, "b1", 9, BOB, None));
    assert_eq!(one_request(&mut h, ALICE).method(), Some(&Method::Bye));
}

#[test]
fn when_an_original_party_leaves_the_others_go_on() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    let (to_bob, ok) = intruded(&mut h);
    // bob hangs up: he gets 200, alice is not told; dave and alice go on.
    h.recv(BOB, &from_callee("BYE", &to_bob, "b1", 9, BOB, None));
    assert_eq!(h.one(BOB).status(), Some(200));
    assert!(h.take(ALICE).is_empty(), "alice stays in the mix with dave");
    {
        let switch = h.engine.switch();
        let switch = lock(&switch);
        assert!(switch.line_calls("bob").unwrap().is_empty());
        assert_eq!(
            switch.line_calls("dave").unwrap()[0].state,
            CallState::Connected
        );
    }
    // dave leaves: alice, alone, gets a BYE.
    h.recv(DAVE, &from_dave("BYE", &ok, 2));
    assert_eq!(h.one(DAVE).status(), Some(200));
    let bye = one_request(&mut h, ALICE);
    assert_eq!(bye.method(), Some(&Method::Bye));
}

#[test]
fn a_refused_move_fails_the_intrusion_and_puts_the_other_back() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    let (_to_bob, call) = dave_held(&mut h);
    complete(&mut h, call, INTRUDE, 0).unwrap();
    let to_alice = one_request(&mut h, ALICE);
    let to_bob2 = one_request(&mut h, BOB);
    h.recv(ALICE, &reply(&to_alice, 200, "a1", ALICE, Some(SDP_A)));
    h.take(ALICE);
    h.recv(BOB, &reply(&to_bob2, 488, "b1", BOB, None));
    h.take(BOB);
    // alice, already moved, goes back to bob's SDP; dave gets 486.
    let back = one_request(&mut h, ALICE);
    assert_eq!(back.body(), SDP_B.as_bytes());
    let dave: Vec<u16> = h.take(DAVE).iter().filter_map(Message::status).collect();
    assert_eq!(dave, [486]);
    let causes: Vec<String> = h
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Completion(c) => c.cause.map(|c| c.as_str().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(causes, ["intrusion_failed"]);
}
