//! The recall's direct join (`media.recall_join = "direct"`, b2bua/recall_join.rs): once bob
//! answered and the two are anchored, alice is re-INVITEd with bob's SDP, then bob with
//! alice's, and callcomp's two RTP endpoints close; a refusal leaves the call anchored (alice
//! moved back when bob refuses) and never drops it.

use callcomp_sip::method::Method;
use callcomp_switch::CallState;

use super::completion::{call_in, complete, one_request};
use super::*;

const CALLBACK: u32 = 0x2;

/// The port of the first `m=audio` line of an SDP body.
pub(super) fn audio_port(body: &[u8]) -> u16 {
    String::from_utf8_lossy(body)
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap()
}

/// Whether callcomp's media thread let go of UDP `port` on loopback within `wait`.
fn released_within(port: u16, wait: Duration) -> bool {
    let deadline = std::time::Instant::now() + wait;
    while std::time::Instant::now() < deadline {
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The endpoint on `port` closed (the media thread has up to 5 s to act on the close).
pub(super) fn released(port: u16) -> bool {
    released_within(port, Duration::from_secs(5))
}

/// The endpoint on `port` is still open half a second on (time for a close to take effect).
fn kept(port: u16) -> bool {
    !released_within(port, Duration::from_millis(500))
}

/// alice (not reached: bob not registered) takes her recall and bob answers it. Returns
/// alice's recall INVITE, bob's INVITE, and callcomp's two endpoint ports (alice's, bob's).
fn anchored(h: &mut Harness) -> (Message, Message, [u16; 2]) {
    h.register("alice", ALICE);
    h.invite_from_alice("bob", "call-1");
    assert_eq!(h.one(ALICE).status(), Some(480));
    let call = call_in(h, "alice", CallState::Busy);
    complete(h, call, CALLBACK, 0).unwrap();
    h.register("bob", BOB);
    h.advance(Duration::from_millis(1_500));
    let recall = one_request(h, ALICE);
    h.recv(ALICE, &reply(&recall, 200, "a1", ALICE, Some(SDP_A)));
    let ack = h.one(ALICE);
    assert_eq!(ack.method(), Some(&Method::Ack));
    let to_bob = h.one(BOB);
    let ports = [audio_port(ack.body()), audio_port(to_bob.body())];
    h.recv(BOB, &reply(&to_bob, 200, "b1", BOB, Some(SDP_B)));
    (recall, to_bob, ports)
}

/// The requests and responses sent to `at` since the last look, by method or status.
fn labels(h: &mut Harness, at: &str) -> Vec<String> {
    h.take(at).iter().map(label).collect()
}

/// The core joining recalls `join`, its RTP ports `ports` (each test its own, so a port
/// another test's media plane takes cannot pass for one released here).
fn joining(join: &str, ports: &str) -> Harness {
    Harness::with_config(&format!(
        "{CONFIG}[media]\nrecall_join = \"{join}\"\nrtp_ports = \"{ports}\"\n"
    ))
}

#[test]
fn the_direct_join_reinvites_each_with_the_others_sdp_and_closes_the_endpoints() {
    let mut h = joining("direct", "26600-26619");
    let (recall, to_bob, [alice_port, bob_port]) = anchored(&mut h);
    // bob's 200 is acknowledged; alice is re-INVITEd with bob's SDP in her dialog.
    assert_eq!(labels(&mut h, BOB), ["ACK"]);
    let to_alice = h.one(ALICE);
    assert_eq!(to_alice.method(), Some(&Method::Invite));
    assert_eq!(
        header(&to_alice, HeaderName::CallId),
        header(&recall, HeaderName::CallId)
    );
    assert_eq!(to_alice.body(), SDP_B.as_bytes());
    assert!(kept(alice_port), "anchored until both moved");

    // Her answer goes to bob in his re-INVITE.
    h.recv(ALICE, &reply(&to_alice, 200, "a1", ALICE, Some(SDP_A)));
    assert_eq!(labels(&mut h, ALICE), ["ACK"]);
    let re_bob = h.one(BOB);
    assert_eq!(re_bob.method(), Some(&Method::Invite));
    assert_eq!(
        header(&re_bob, HeaderName::CallId),
        header(&to_bob, HeaderName::CallId)
    );
    assert_eq!(re_bob.body(), SDP_A.as_bytes());
    h.recv(BOB, &reply(&re_bob, 200, "b1", BOB, Some(SDP_B)));
    assert_eq!(labels(&mut h, BOB), ["ACK"]);
    assert!(h.take(ALICE).is_empty());

    // Both endpoints closed; the call goes on (bob's BYE reaches alice).
    assert!(released(alice_port), "alice's endpoint closed");
    assert!(released(bob_port), "bob's endpoint closed");
    h.recv(BOB, &from_callee("BYE", &to_bob, "b1", 2, BOB, None));
    assert_eq!(labels(&mut h, ALICE), ["BYE"]);
}

#[test]
fn a_callee_refusing_the_direct_join_has_the_caller_moved_back_and_the_call_stays_up() {
    let mut h = joining("direct", "26620-26639");
    let (_recall, to_bob, [alice_port, bob_port]) = anchored(&mut h);
    h.take(BOB);
    let to_alice = h.one(ALICE);
    h.recv(ALICE, &reply(&to_alice, 200, "a1", ALICE, Some(SDP_A)));
    h.take(ALICE);
    let re_bob = h.one(BOB);
    h.recv(BOB, &reply(&re_bob, 488, "b1", BOB, None));
    assert_eq!(labels(&mut h, BOB), ["ACK"], "the 488 acknowledged, no BYE");
    // alice goes back to callcomp's endpoint: its port in the offer.
    let back = h.one(ALICE);
    assert_eq!(back.method(), Some(&Method::Invite));
    assert_eq!(audio_port(back.body()), alice_port);
    h.recv(ALICE, &reply(&back, 200, "a1", ALICE, Some(SDP_A)));
    assert_eq!(labels(&mut h, ALICE), ["ACK"]);
    assert!(h.take(BOB).is_empty());
    assert!(kept(alice_port), "anchored: alice's endpoint open");
    assert!(kept(bob_port), "anchored: bob's endpoint open");
    h.recv(BOB, &from_callee("BYE", &to_bob, "b1", 2, BOB, None));
    assert_eq!(labels(&mut h, ALICE), ["BYE"]);
}

#[test]
fn a_caller_refusing_the_direct_join_leaves_the_call_anchored() {
    let mut h = joining("direct", "26640-26659");
    let (_recall, to_bob, [alice_port, bob_port]) = anchored(&mut h);
    h.take(BOB);
    let to_alice = h.one(ALICE);
    h.recv(ALICE, &reply(&to_alice, 488, "a1", ALICE, None));
    assert_eq!(labels(&mut h, ALICE), ["ACK"]);
    assert!(h.take(BOB).is_empty(), "bob is not re-INVITEd");
    assert!(kept(alice_port) && kept(bob_port), "anchored");
    h.recv(BOB, &from_callee("BYE", &to_bob, "b1", 2, BOB, None));
    assert_eq!(labels(&mut h, ALICE), ["BYE"]);
}

#[test]
fn the_default_join_is_anchored_without_reinvites() {
    let mut h = joining("anchored", "26660-26679");
    let (_recall, _to_bob, [alice_port, _]) = anchored(&mut h);
    assert_eq!(labels(&mut h, BOB), ["ACK"]);
    assert!(h.take(ALICE).is_empty(), "no re-INVITE");
    assert!(kept(alice_port));
}
