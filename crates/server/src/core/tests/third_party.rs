//! Third-party calls (RFC 3725 flow I) through the core, as `lineMakeCall` makes them.

use super::*;

/// RFC 3725 flow I: the line's phone first (no SDP), then the destination with the phone's
/// offer, the destination's answer in the ACK to the phone.
#[test]
fn third_party_call() {
    let mut h = Harness::new();
    h.register("alice", ALICE);
    h.register("bob", BOB);
    h.states();
    let call = h.engine.make_call("alice", "bob", h.now).unwrap();
    h.collect();
    assert_eq!(h.states(), ["alice:dialing"]);
    assert!(h.engine.b2bua().call(call).is_some());
    let to_alice = h.one(ALICE);
    assert_eq!(label(&to_alice), "INVITE");
    assert!(to_alice.body().is_empty());
    assert!(header(&to_alice, HeaderName::From).contains("sip:bob@example.com"));
    h.recv(ALICE, &reply(&to_alice, 180, "p1", ALICE, None));
    assert!(h.take(BOB).is_empty());
    h.recv(ALICE, &reply(&to_alice, 200, "p1", ALICE, Some(SDP_A)));
    // The phone's 2xx is not acknowledged yet; bob gets the phone's offer.
    assert!(h.take(ALICE).is_empty());
    let to_bob = h.one(BOB);
    assert_eq!(label(&to_bob), "INVITE");
    assert_eq!(to_bob.body(), SDP_A.as_bytes());
    assert!(header(&to_bob, HeaderName::From).contains("sip:alice@example.com"));
    assert_eq!(h.states(), ["alice:proceeding", "bob:offering"]);
    h.recv(BOB, &reply(&to_bob, 180, "b1", BOB, None));
    assert_eq!(h.states(), ["alice:ringback"]);
    h.recv(BOB, &reply(&to_bob, 200, "b1", BOB, Some(SDP_B)));
    let ack_bob = h.one(BOB);
    assert_eq!(label(&ack_bob), "ACK");
    let ack_alice = h.one(ALICE);
    assert_eq!(label(&ack_alice), "ACK");
    assert_eq!(ack_alice.body(), SDP_B.as_bytes());
    assert_eq!(header(&ack_alice, HeaderName::CSeq), "1 ACK");
    assert_eq!(h.states(), ["alice:connected", "bob:connected"]);

    // Dropping the call through the API sends BYE both ways.
    let id = h.engine.switch().calls_of(call)[0].id.get();
    h.engine.drop_call(id, h.now).unwrap();
    h.collect();
    assert_eq!(label(&h.one(ALICE)), "BYE");
    assert_eq!(label(&h.one(BOB)), "BYE");
    assert_eq!(
        h.states(),
        ["alice:idle", "bob:disconnected/normal", "bob:idle"]
    );
}

#[test]
fn third_party_call_to_a_busy_destination_tears_the_phone_down() {
    let mut h = Harness::new();
    h.register("alice", ALICE);
    h.register("bob", BOB);
    h.engine.make_call("alice", "bob", h.now).unwrap();
    h.collect();
    let to_alice = h.one(ALICE);
    h.recv(ALICE, &reply(&to_alice, 200, "p1", ALICE, Some(SDP_A)));
    let to_bob = h.one(BOB);
    h.states();
    h.recv(BOB, &reply(&to_bob, 486, "b1", BOB, None));
    let to_alice: Vec<String> = h.take(ALICE).iter().map(label).collect();
    assert_eq!(to_alice, ["ACK", "BYE"]);
    assert_eq!(
        h.states(),
        ["alice:busy/station", "bob:disconnected/busy", "bob:idle"]
    );
    assert!(matches!(
        h.engine.make_call("alice", "nobody", h.now),
        Err(MakeCallError::InvalidAddress(_))
    ));
    assert!(matches!(
        h.engine.make_call("dave", "bob", h.now),
        Err(MakeCallError::PhoneNotRegistered(_))
    ));
}
