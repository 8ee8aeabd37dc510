//! Re-INVITEs of callcomp's own in an established call (RFC 3261 §14): sent in the dialog with
//! the next CSeq, the 2xx acknowledged, glare (491) tried again after the §14.1 wait, a
//! party's re-INVITE met with 491 while ours is pending, and no second INVITE at once.

use callcomp_sip::method::Method;
use callcomp_switch::{CallRef, Side};

use super::*;
use crate::b2bua::reinvite::{ReinviteError, ReinviteState};

const SDP_MIX: &str = "v=0\r\no=callcomp 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n";

/// alice and bob connected; the B2BUA call's handle.
fn call_of(h: &mut Harness) -> (CallRef, Message, Message) {
    let (to_bob, ok) = connected(h);
    let switch = h.engine.switch();
    let r = switch.line_calls("alice").unwrap()[0].call_ref;
    (r, to_bob, ok)
}

fn reinvite(h: &mut Harness, r: CallRef, side: Side) -> Result<(), ReinviteError> {
    let now = h.now;
    let sent = h.engine.with_ctx(now, |b2bua, cx| {
        b2bua.reinvite(cx, r, side, Some(SDP_MIX.as_bytes().to_vec()))
    });
    h.collect();
    sent
}

fn outcome(h: &Harness, r: CallRef, side: Side) -> Option<ReinviteState> {
    h.engine.b2bua().reinvite_outcome(r, side).cloned()
}

#[test]
fn own_reinvite_goes_in_the_dialog_and_its_2xx_is_acknowledged() {
    let mut h = Harness::new();
    let (r, to_bob, _) = call_of(&mut h);
    reinvite(&mut h, r, Side::Callee).unwrap();
    let re = h.one(BOB);
    assert_eq!(re.method(), Some(&Method::Invite));
    assert_eq!(
        header(&re, HeaderName::CSeq),
        "2 INVITE",
        "next CSeq of our dialog"
    );
    assert_eq!(
        header(&re, HeaderName::CallId),
        header(&to_bob, HeaderName::CallId)
    );
    assert!(header(&re, HeaderName::To).contains("tag=b1"));
    assert_eq!(header(&re, HeaderName::ContentType), "application/sdp");
    assert_eq!(re.body(), SDP_MIX.as_bytes());
    assert!(h.take(ALICE).is_empty(), "not relayed to alice");
    assert_eq!(outcome(&h, r, Side::Callee), Some(ReinviteState::Pending));

    h.recv(BOB, &reply(&re, 200, "b1", BOB, Some(SDP_B)));
    let ack = h.one(BOB);
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(header(&ack, HeaderName::CSeq), "2 ACK");
    assert!(h.take(ALICE).is_empty());
    assert_eq!(
        outcome(&h, r, Side::Callee),
        Some(ReinviteState::Answered(SDP_B.as_bytes().to_vec()))
    );
    // A retransmitted 2xx gets the same ACK again.
    h.recv(BOB, &reply(&re, 200, "b1", BOB, Some(SDP_B)));
    let again = h.one(BOB);
    assert_eq!(header(&again, HeaderName::CSeq), "2 ACK");

    // Toward the caller: alice's dialog, where callcomp has sent nothing yet.
    reinvite(&mut h, r, Side::Caller).unwrap();
    let re = h.one(ALICE);
    assert_eq!(header(&re, HeaderName::CSeq), "1 INVITE");
    assert!(header(&re, HeaderName::From).contains("tag="));
    h.recv(ALICE, &reply(&re, 488, "a1", ALICE, None));
    assert_eq!(
        outcome(&h, r, Side::Caller),
        Some(ReinviteState::Failed(488))
    );
}

/// RFC 3261 §14.1: 491 is glare; callcomp chose the Call-ID of bob's side, so it waits
/// 2.1-4 s and sends the same offer again with a new CSeq.
#[test]
fn only_the_last_ack_of_each_side_is_kept_for_a_retransmitted_2xx() {
    let mut h = Harness::new();
    let (r, _, _) = call_of(&mut h);
    let kept = |h: &Harness| h.engine.b2bua().call(r).unwrap().kept_acks();
    assert_eq!(kept(&h), 1, "the ACK to bob's 200");
    let mut first = None;
    let mut last = None;
    for _ in 0..5 {
        reinvite(&mut h, r, Side::Callee).unwrap();
        let re = h.one(BOB);
        h.recv(BOB, &reply(&re, 200, "b1", BOB, Some(SDP_B)));
        assert_eq!(h.one(BOB).method(), Some(&Method::Ack));
        first.get_or_insert_with(|| re.clone());
        last = Some(re);
    }
    assert_eq!(kept(&h), 1, "one per side, not one per re-INVITE");
    // The last 2xx, retransmitted, still gets its ACK; the first one's is forgotten.
    let last = last.unwrap();
    h.recv(BOB, &reply(&last, 200, "b1", BOB, Some(SDP_B)));
    assert_eq!(header(&h.one(BOB), HeaderName::CSeq), "6 ACK");
    h.recv(BOB, &reply(&first.unwrap(), 200, "b1", BOB, Some(SDP_B)));
    let got: Vec<String> = h.take(BOB).iter().map(label).collect();
    assert!(got.is_empty(), "{got:?}");
    // The first INVITE's 2xx counts as acknowledged still: a drop sends bob a BYE, no ACK.
    let alice = h.engine.switch().line_calls("alice").unwrap()[0].id.get();
    h.engine.drop_call(alice, h.now).unwrap();
    h.collect();
    assert_eq!(h.one(BOB).method(), Some(&Method::Bye));
}

#[test]
fn glare_is_tried_again_after_the_wait() {
    let mut h = Harness::new();
    let (r, _, _) = call_of(&mut h);
    reinvite(&mut h, r, Side::Callee).unwrap();
    let re = h.one(BOB);
    h.recv(BOB, &reply(&re, 491, "b1", BOB, None));
    let acks: Vec<Message> = h.take(BOB);
    assert!(
        acks.iter().all(|m| m.method() == Some(&Method::Ack)),
        "only the ACK of the 491"
    );
    assert_eq!(
        outcome(&h, r, Side::Callee),
        Some(ReinviteState::WaitingToRetry)
    );
    h.advance(Duration::from_millis(2_099));
    assert!(h
        .take(BOB)
        .iter()
        .all(|m| m.method() != Some(&Method::Invite)));
    h.advance(Duration::from_millis(1_901));
    // Sent once (over UDP the transaction may have retransmitted it meanwhile).
    let sent = h.take(BOB);
    assert!(!sent.is_empty());
    assert!(sent
        .iter()
        .all(|m| header(m, HeaderName::CSeq) == "3 INVITE"));
    let again = sent.into_iter().next().unwrap();
    assert_eq!(again.body(), SDP_MIX.as_bytes());
    h.recv(BOB, &reply(&again, 200, "b1", BOB, Some(SDP_B)));
    assert_eq!(header(&h.one(BOB), HeaderName::CSeq), "3 ACK");
    assert!(matches!(
        outcome(&h, r, Side::Callee),
        Some(ReinviteState::Answered(_))
    ));
}

/// RFC 3261 §14.2: while our re-INVITE is pending, bob's own re-INVITE gets 491 and is not
/// relayed; and callcomp starts no second INVITE in a dialog with one in progress.
#[test]
fn a_party_reinvite_meets_491_while_ours_is_pending() {
    let mut h = Harness::new();
    let (r, to_bob, _) = call_of(&mut h);
    reinvite(&mut h, r, Side::Callee).unwrap();
    let re = h.one(BOB);
    h.recv(
        BOB,
        &from_callee("INVITE", &to_bob, "b1", 5, BOB, Some(SDP_B)),
    );
    let got = h.one(BOB);
    assert_eq!(got.status(), Some(491));
    assert!(h.take(ALICE).is_empty());
    assert_eq!(
        reinvite(&mut h, r, Side::Callee),
        Err(ReinviteError::InviteInProgress)
    );
    h.recv(BOB, &reply(&re, 200, "b1", BOB, Some(SDP_B)));
    h.take(BOB);
    // Once ours is answered, bob's re-INVITEs pass to alice again.
    h.recv(
        BOB,
        &from_callee("INVITE", &to_bob, "b1", 6, BOB, Some(SDP_B)),
    );
    let relayed = h.one(ALICE);
    assert_eq!(relayed.method(), Some(&Method::Invite));
    // And while that relayed one is open, callcomp waits with its own.
    assert_eq!(
        reinvite(&mut h, r, Side::Caller),
        Err(ReinviteError::InviteInProgress)
    );
}
