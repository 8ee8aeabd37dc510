//! The identity checks as the core applies them: in-dialog requests only from the dialog's
//! peer, and the gate in front of the B2BUA (docs/security.md).

use super::*;

/// Someone who is not bob's phone sends a BYE with the call's Call-ID and tags: 403, and the
/// call stays up; bob's own BYE then ends it.
#[test]
fn an_in_dialog_request_from_elsewhere_is_refused() {
    const INTRUDER: &str = "203.0.113.9:5062";
    let mut h = Harness::new();
    let (to_bob, _ok) = connected(&mut h);
    h.states();
    h.recv(
        INTRUDER,
        &from_callee("BYE", &to_bob, "b1", 1, INTRUDER, None),
    );
    let refused = h.one(INTRUDER);
    assert_eq!(refused.status(), Some(403));
    assert_eq!(
        refused.reason_phrase().as_deref(),
        Some("Not from the dialog's peer")
    );
    assert!(h.take(ALICE).is_empty());
    assert!(h.states().is_empty());
    assert_eq!(h.engine.b2bua().call_count(), 1);
    // The same BYE from bob's phone is relayed (its CSeq was not used up by the forgery).
    h.recv(BOB, &from_callee("BYE", &to_bob, "b1", 1, BOB, None));
    let bye = h.one(ALICE);
    assert_eq!(bye.method(), Some(&callcomp_sip::Method::Bye));
}

/// With a password for alice, her bare INVITE gets 407 and never reaches bob; a stranger's
/// gets 403.
#[test]
fn the_gate_stands_before_the_b2bua() {
    let config = CONFIG.replace("[users.alice]\n", "[users.alice]\npassword = \"pw\"\n");
    let mut h = Harness::with_config(&config);
    h.register("bob", BOB);
    h.states();
    h.invite_from_alice("bob", "call-1");
    let challenge = h.one(ALICE);
    assert_eq!(challenge.status(), Some(407));
    assert!(challenge
        .get_str(&HeaderName::ProxyAuthenticate)
        .is_some_and(|c| c.contains("algorithm=MD5")));
    assert!(h.take(BOB).is_empty());
    assert!(h.states().is_empty());

    let stranger = invite_text("bob", "call-2", "z9hG4bKs1", 70)
        .replace("sip:alice@example.com", "sip:mallory@example.com");
    h.recv(DAVE, &stranger);
    assert_eq!(h.one(DAVE).status(), Some(403));
    assert!(h.take(BOB).is_empty());
}

/// An ACK for alice's 2xx from another address is dropped: bob gets no ACK until alice's own.
#[test]
fn an_ack_from_elsewhere_is_not_relayed() {
    const INTRUDER: &str = "203.0.113.9:5061";
    let mut h = Harness::new();
    let to_bob = ringing(&mut h);
    h.recv(BOB, &reply(&to_bob, 200, "b1", BOB, Some(SDP_B)));
    let ok = h.one(ALICE);
    assert_eq!(ok.status(), Some(200));
    h.recv(INTRUDER, &from_caller("ACK", &ok, 1, "z9hG4bKack1", None));
    assert!(h.take(BOB).is_empty());
    assert!(h.take(INTRUDER).is_empty());
    h.recv(ALICE, &from_caller("ACK", &ok, 1, "z9hG4bKack1", None));
    let ack = h.one(BOB);
    assert_eq!(ack.method(), Some(&callcomp_sip::Method::Ack));
}

/// A CANCEL that matches alice's INVITE but comes from another address gets 403 and bob's
/// phone keeps ringing.
#[test]
fn a_cancel_from_elsewhere_is_refused() {
    const INTRUDER: &str = "203.0.113.9:5061";
    let mut h = Harness::new();
    ringing(&mut h);
    h.states();
    let invite = invite_text("bob", "call-1", "z9hG4bKtest3", 70);
    let cancel = invite
        .replacen("INVITE sip:bob", "CANCEL sip:bob", 1)
        .replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    let cancel =
        cancel.split("Content-Type").next().unwrap().to_owned() + "Content-Length: 0\r\n\r\n";
    h.recv(INTRUDER, &cancel);
    let refused = h.one(INTRUDER);
    assert_eq!(refused.status(), Some(403));
    assert!(h.take(BOB).is_empty());
    assert!(h.take(ALICE).is_empty());
    assert!(h.states().is_empty());
    assert_eq!(h.engine.b2bua().call_count(), 1);
    // (alice's own CANCEL, with the same branch, would now match the intruder's CANCEL
    // transaction: the transaction layer keys by Via, not by source address.)
}
