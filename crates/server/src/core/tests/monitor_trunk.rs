//! The RFC 6910 monitor role for another server's subscriber: a call from b.test's carol over
//! the trunk finds bob busy (486 with the offer), b.test subscribes from the trunk's address,
//! the request (caller: the trunk subscriber) is stored before the 200, NOTIFY `queued`, bob
//! frees, NOTIFY `ready` and no recall, others get busy, the CC call over the trunk rings bob
//! and the final NOTIFY goes to the trunk. Also the refusals and the per-trunk limit.

use callcomp_sip::body::call_completion::{CallCompletion, CcState};
use callcomp_sip::body::pidf::{Basic, Pidf};
use callcomp_switch::{Caller, TrunkCaller};

use super::completion::{hang_up_alice, invite_from, requests, stored};
use super::*;

/// b.test's server, a trusted trunk; 192.0.2.30 is trusted but no trunk.
const TRUNK: &str = "192.0.2.20:5070";
const PEER: &str = "192.0.2.30:5070";

fn config(max: u32) -> String {
    let trusted = "trusted = [\"192.0.2.20/32\", \"192.0.2.30/32\"]\n";
    format!(
        "{}[[trunks]]\ndomain = \"b.test\"\naddress = \"{TRUNK}\"\nmax_call_completions = {max}\n",
        CONFIG.replacen("[sip]\n", &format!("[sip]\n{trusted}"), 1)
    )
}

fn carol() -> TrunkCaller {
    TrunkCaller {
        trunk: "b.test".into(),
        aor: "sip:carol@b.test".into(),
    }
}

/// `user`@b.test's INVITE to `uri`, sent by the server at `at`.
fn invite_over(h: &mut Harness, at: &str, user: &str, uri: &str, call_id: &str) {
    let branch = h.next_branch();
    let text = format!(
        "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch={branch}\r\nMax-Forwards: 69\r\n\
         To: <sip:bob@example.com>\r\nFrom: <sip:{user}@b.test>;tag={user}t\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:{user}@{at}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{SDP_A}",
        SDP_A.len()
    );
    h.recv(at, &text);
}

/// `user`@b.test's SUBSCRIBE for bob, sent by the server at `at`.
fn subscribe_over(h: &mut Harness, at: &str, user: &str, call_id: &str, expires: u32) {
    let branch = h.next_branch();
    let text = format!(
        "SUBSCRIBE sip:cc@example.com;m=BS SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch={branch}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{user}@b.test>;tag={user}s\r\nTo: <sip:bob@example.com>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 SUBSCRIBE\r\nContact: <sip:{user}@{at}>\r\n\
         Event: call-completion\r\nAccept: application/call-completion\r\nExpires: {expires}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    h.recv(at, &text);
}

/// b.test's `user` calls bob (busy with alice): bob's phone answers 486, the trunk gets 486
/// with the offer.
fn busy_over_the_trunk(h: &mut Harness, user: &str, call_id: &str) {
    invite_over(h, TRUNK, user, "sip:bob@example.com", call_id);
    let to_bob = h.one(BOB);
    h.recv(BOB, &reply(&to_bob, 486, "b9", BOB, None));
    h.take(BOB);
    let busy = h.one(TRUNK);
    assert_eq!(busy.status(), Some(486));
    assert_eq!(offer_m(&busy).as_deref(), Some("BS"));
}

/// The `cc-state` of a NOTIFY to the trunk and its `Subscription-State`.
fn notify_state(n: &Message) -> (Option<CcState>, String) {
    assert_eq!(label(n), "NOTIFY");
    assert_eq!(n.uri().unwrap().to_string(), format!("sip:carol@{TRUNK}"));
    let sub_state = header(n, HeaderName::SubscriptionState);
    let state = (!n.body().is_empty()).then(|| CallCompletion::parse(n.body()).unwrap().state);
    (state.flatten(), sub_state)
}

/// The trunk answers a NOTIFY 200.
fn ack_notify(h: &mut Harness, n: &Message) {
    h.recv(TRUNK, &reply(n, 200, "", TRUNK, None));
}

/// Messages to the trunk but 100s and the retransmitted 486 (not ACKed here).
fn fresh(h: &mut Harness) -> Vec<Message> {
    h.take(TRUNK)
        .into_iter()
        .filter(|m| !matches!(m.status(), Some(100 | 486)))
        .collect()
}

/// bob busy with alice; b.test's carol gets 486 over the trunk and b.test subscribes:
/// returns (bob's INVITE from alice, the request id).
fn trunk_subscribed(h: &mut Harness) -> (Message, u32) {
    let (to_bob, _ok) = connected(h);
    busy_over_the_trunk(h, "carol", "t-call-1");
    subscribe_over(h, TRUNK, "carol", "t-sub-1", 600);
    let got = fresh(h);
    assert_eq!(got.iter().map(label).collect::<Vec<_>>(), ["200", "NOTIFY"]);
    assert_eq!(header(&got[0], HeaderName::Expires), "600");
    let (state, sub_state) = notify_state(&got[1]);
    assert_eq!(state, Some(CcState::Queued));
    assert_eq!(sub_state, "active;expires=600");
    let doc = CallCompletion::parse(got[1].body()).unwrap();
    let id: u32 = doc
        .uri
        .unwrap()
        .strip_prefix("sip:cc-")
        .and_then(|r| r.strip_suffix("@example.com"))
        .unwrap()
        .parse()
        .unwrap();
    ack_notify(h, &got[1]);
    (to_bob, id)
}

#[test]
fn a_trunk_subscriber_is_queued_made_ready_and_completed_by_its_cc_call() {
    let mut h = Harness::with_config(&config(5));
    let (to_bob, id) = trunk_subscribed(&mut h);
    // The request: the trunk subscriber's, waiting on bob, stored, listed with bob's queue.
    {
        let switch = h.engine.switch();
        let waiting = switch.completions_for("bob");
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].id.get(), id);
        assert_eq!(waiting[0].caller, Caller::Trunk(carol()));
        assert_eq!(switch.line_status("alice").unwrap().num_call_completions, 0);
    }
    let rows = stored(&h);
    assert_eq!(rows.len(), 1, "stored before the 200");
    assert_eq!(
        rows[0].line, "bob",
        "the row is filed under the line speaking for it"
    );
    assert!(rows[0]
        .data
        .contains(r#""line":{"trunk":"b.test","aor":"sip:carol@b.test"}"#));

    // bob frees; the guard passes: NOTIFY ready to the trunk, and nobody is recalled.
    hang_up_alice(&mut h, &to_bob);
    assert!(fresh(&mut h).is_empty(), "still queued during the guard");
    h.advance(Duration::from_millis(1_600));
    let got = fresh(&mut h);
    assert_eq!(
        got.len(),
        1,
        "{:?}",
        got.iter().map(label).collect::<Vec<_>>()
    );
    assert_eq!(notify_state(&got[0]).0, Some(CcState::Ready));
    ack_notify(&mut h, &got[0]);
    assert!(requests(&mut h, ALICE).is_empty() && requests(&mut h, BOB).is_empty());
    let state = h.engine.switch().completions_for("bob")[0].state;
    assert_eq!(state.as_str(), "recalling", "its own server recalls carol");

    // Meanwhile bob is kept for carol: alice gets busy.
    h.states();
    invite_from(&mut h, "alice", ALICE, "bob", "call-3");
    let busy: Vec<Message> = h
        .take(ALICE)
        .into_iter()
        .filter(|m| m.status() != Some(100))
        .collect();
    assert_eq!(
        busy[0].status(),
        Some(486),
        "bob is reserved for the trunk's subscriber"
    );
    assert!(h.take(BOB).is_empty());

    // The CC call over the trunk to the request's cc URI rings bob; his answer ends it.
    invite_over(
        &mut h,
        TRUNK,
        "carol",
        &format!("sip:cc-{id}@example.com"),
        "t-cc-1",
    );
    let to_bob = h.one(BOB);
    assert_eq!(label(&to_bob), "INVITE");
    assert_eq!(to_bob.uri().unwrap().to_string(), format!("sip:bob@{BOB}"));
    assert!(
        fresh(&mut h).iter().all(|m| !m.is_request()),
        "no NOTIFY before the callee answers"
    );
    assert_eq!(h.engine.switch().completions_for("bob").len(), 1);
    h.recv(BOB, &reply(&to_bob, 200, "b7", BOB, Some(SDP_B)));
    let got: Vec<Message> = fresh(&mut h)
        .into_iter()
        .filter(Message::is_request)
        .collect();
    let (state, sub_state) = notify_state(&got[0]);
    assert_eq!(state, None);
    assert!(sub_state.starts_with("terminated"), "{sub_state}");
    assert!(h.engine.switch().completions_for("bob").is_empty());
    assert!(stored(&h).is_empty(), "the completed request's row is gone");
}

#[test]
fn refusals_limits_reuse_and_the_api_cancel() {
    let mut h = Harness::with_config(&config(1));
    let (_to_bob, id) = trunk_subscribed(&mut h);
    // The same subscriber subscribing again (a new Call-ID) attaches to its request.
    subscribe_over(&mut h, TRUNK, "carol", "t-sub-2", 600);
    let got = fresh(&mut h);
    assert!(got.iter().any(|m| m.status() == Some(200)), "attached");
    assert_eq!(h.engine.switch().completions_for("bob").len(), 1);
    for n in got.iter().filter(|m| m.is_request()) {
        ack_notify(&mut h, n);
    }
    h.take(TRUNK);

    // Another b.test user with a failed call: the trunk's limit (1) is reached → 480.
    busy_over_the_trunk(&mut h, "erin", "t-call-2");
    subscribe_over(&mut h, TRUNK, "erin", "t-sub-3", 600);
    let got = fresh(&mut h);
    assert_eq!(got[0].status(), Some(480));
    assert_eq!(header(&got[0], HeaderName::RetryAfter), "60");
    // A b.test user whose call did not fail here: 403.
    subscribe_over(&mut h, TRUNK, "frank", "t-sub-4", 600);
    let got = fresh(&mut h);
    assert_eq!(got[0].status(), Some(403));
    assert_eq!(
        got[0].reason_phrase().as_deref(),
        Some("No Failed Call To Complete")
    );
    // A trusted peer that is no trunk: callcomp is not its monitor.
    subscribe_over(&mut h, PEER, "carol", "t-sub-5", 600);
    let got: Vec<Message> = h
        .take(PEER)
        .into_iter()
        .filter(|m| m.status() != Some(100))
        .collect();
    assert_eq!(got[0].status(), Some(403));

    // The API cancels it through bob's line; the trunk gets the final NOTIFY.
    assert!(h.engine.uncomplete_call("alice", id, h.now).is_err());
    h.engine.uncomplete_call("bob", id, h.now).unwrap();
    h.collect();
    assert!(h.engine.switch().completions_for("bob").is_empty());
    let got: Vec<Message> = fresh(&mut h)
        .into_iter()
        .filter(Message::is_request)
        .collect();
    assert!(!got.is_empty());
    assert!(notify_state(got.last().unwrap())
        .1
        .starts_with("terminated"));
}

/// `user`@b.test's PUBLISH of `basic` to `uri`, sent by the server at `at`, with `extra`
/// headers.
fn publish_over(h: &mut Harness, at: &str, user: &str, uri: &str, basic: Basic, extra: &str) {
    let branch = h.next_branch();
    let body = String::from_utf8(Pidf::with_basic(format!("sip:{user}@b.test"), basic).to_bytes())
        .unwrap();
    let text = format!(
        "PUBLISH {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch={branch}\r\nMax-Forwards: 70\r\n\
         From: <sip:{user}@b.test>;tag={user}p\r\nTo: <{uri}>\r\nCall-ID: {branch}\r\n\
         CSeq: 1 PUBLISH\r\nEvent: call-completion\r\nExpires: 3600\r\n{extra}\
         Content-Type: application/pidf+xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    h.recv(at, &text);
}

fn state_of(h: &Harness, id: u32) -> &'static str {
    h.engine
        .switch()
        .completion(callcomp_switch::CompletionId::new(id).unwrap())
        .unwrap()
        .state
        .as_str()
}

/// The agent server suspends its user's request with PUBLISH `closed` at the request's cc URI
/// (RFC 6910 §6.5): no `ready` while bob is free; `open` with the entity tag resumes it and the
/// `ready` follows. Another trunk user's or a non-trunk peer's PUBLISH changes nothing.
#[test]
fn a_trunk_subscriber_suspends_and_resumes_by_publish() {
    let mut h = Harness::with_config(&config(5));
    let (to_bob, id) = trunk_subscribed(&mut h);
    let uri = format!("sip:cc-{id}@example.com");

    publish_over(&mut h, TRUNK, "erin", &uri, Basic::Closed, "");
    let refused = h.one(TRUNK);
    assert_eq!(refused.status(), Some(404), "not erin's request");
    publish_over(&mut h, PEER, "carol", &uri, Basic::Closed, "");
    assert_ne!(
        h.one(PEER).status(),
        Some(200),
        "a trusted peer but no trunk"
    );
    assert_eq!(state_of(&h, id), "queued");

    publish_over(&mut h, TRUNK, "carol", &uri, Basic::Closed, "");
    let ok = h.one(TRUNK);
    assert_eq!(ok.status(), Some(200));
    let etag = header(&ok, HeaderName::SipEtag);
    assert!(!etag.is_empty());
    assert_eq!(state_of(&h, id), "suspended");

    hang_up_alice(&mut h, &to_bob);
    h.advance(Duration::from_secs(3));
    assert!(
        fresh(&mut h)
            .iter()
            .all(|m| notify_state(m).0 != Some(CcState::Ready)),
        "no ready while suspended"
    );

    publish_over(
        &mut h,
        TRUNK,
        "carol",
        &uri,
        Basic::Open,
        &format!("SIP-If-Match: {etag}\r\n"),
    );
    let resumed: Vec<Message> = fresh(&mut h);
    assert_eq!(resumed[0].status(), Some(200));
    h.advance(Duration::from_secs(3));
    let got = fresh(&mut h);
    assert!(
        got.iter()
            .any(|m| notify_state(m).0 == Some(CcState::Ready)),
        "ready after the resume: {:?}",
        got.iter().map(label).collect::<Vec<_>>()
    );
}
