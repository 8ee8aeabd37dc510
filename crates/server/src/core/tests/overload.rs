//! `sip.max_calls`: past it new INVITEs get `503` with `Retry-After` while the calls in
//! progress complete.

use super::*;

const ONE_CALL: &str = r#"
domain = "example.com"
[sip]
max_calls = 1
[users.alice]
[users.bob]
"#;

#[test]
fn past_max_calls_a_new_invite_gets_503_retry_after_and_the_call_in_progress_completes() {
    let mut h = Harness::with_config(ONE_CALL);
    let to_bob = ringing(&mut h);
    assert_eq!(h.engine.b2bua().call_count(), 1);

    // The bound is reached: a second call is refused at once, and bob hears nothing of it.
    h.invite_from_alice("bob", "call-2");
    let refused = h.one(ALICE);
    assert_eq!(refused.status(), Some(503));
    assert_eq!(header(&refused, HeaderName::CallId), "call-2");
    assert_eq!(
        header(&refused, HeaderName::RetryAfter),
        crate::transport::OVERLOAD_RETRY_AFTER_SECS.to_string()
    );
    assert!(h.take(BOB).is_empty(), "the refused call never reached bob");
    assert_eq!(h.engine.b2bua().call_count(), 1);

    // The call in progress is answered, acknowledged and hung up as usual.
    h.recv(BOB, &reply(&to_bob, 200, "b1", BOB, Some(SDP_B)));
    let ok = h.one(ALICE);
    assert_eq!(ok.status(), Some(200));
    assert_eq!(header(&ok, HeaderName::CallId), "call-1");
    h.recv(ALICE, &from_caller("ACK", &ok, 1, "z9hG4bKack1", None));
    assert_eq!(h.one(BOB).method(), Some(&callcomp_sip::Method::Ack));
    h.recv(ALICE, &from_caller("BYE", &ok, 2, "z9hG4bKbye1", None));
    let bye = h.one(BOB);
    assert_eq!(bye.method(), Some(&callcomp_sip::Method::Bye));
    h.recv(BOB, &reply(&bye, 200, "", BOB, None));
    assert_eq!(h.one(ALICE).status(), Some(200));
    assert_eq!(h.engine.b2bua().call_count(), 0);

    // With room again, a new call goes through.
    h.invite_from_alice("bob", "call-3");
    assert_eq!(h.one(BOB).method(), Some(&callcomp_sip::Method::Invite));
}
