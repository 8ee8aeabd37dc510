//! The RFC 6910 monitor role through the core: a phone that understands the offer
//! subscribes after the 486, hears `queued` then `ready`, gets the recall with the request's
//! cc URI and `m=`, places the CC call, and hears the final NOTIFY (the RFC §8 flow); suspend
//! and resume by PUBLISH; unsubscribing cancels; a subscription counts in the limits; the
//! refusals of §7.2/§9.7; feature codes.

use callcomp_sip::body::call_completion::{CallCompletion, CcState};
use callcomp_sip::body::pidf::{Basic, Pidf};
use callcomp_switch::{CallState, CompletionId};

use super::completion::{
    call_in, complete, dave_gets_busy, hang_up_alice, one_request, outstanding, requests, stored,
};
use super::*;

const CALLBACK: u32 = 0x2;

/// dave's SUBSCRIBE to `uri` about `to`, with Call-ID `call_id`, CSeq `seq`, `extra` headers.
fn subscribe_text(uri: &str, to: &str, call_id: &str, seq: u32, extra: &str) -> String {
    format!(
        "SUBSCRIBE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {DAVE};branch=z9hG4bKsub{call_id}{seq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:dave@example.com>;tag=ds1\r\nTo: {to}\r\n\
         Call-ID: {call_id}\r\nCSeq: {seq} SUBSCRIBE\r\nContact: <sip:dave@{DAVE}>\r\n\
         Event: call-completion\r\nAccept: application/call-completion\r\n{extra}\
         Content-Length: 0\r\n\r\n"
    )
}

/// A SUBSCRIBE in the dialog the 200 `ok` formed.
fn resubscribe_text(ok: &Message, seq: u32, expires: u32) -> String {
    let target = header(ok, HeaderName::Contact);
    let target = target.trim_start_matches('<').trim_end_matches('>');
    format!(
        "SUBSCRIBE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {DAVE};branch=z9hG4bKresub{seq}\r\n\
         Max-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {seq} SUBSCRIBE\r\n\
         Contact: <sip:dave@{DAVE}>\r\nEvent: call-completion\r\nExpires: {expires}\r\n\
         Content-Length: 0\r\n\r\n",
        header(ok, HeaderName::From),
        header(ok, HeaderName::To),
        header(ok, HeaderName::CallId),
    )
}

/// dave's PUBLISH of `basic` to `uri`, with `extra` headers.
fn publish_text(uri: &str, basic: Option<Basic>, seq: u32, extra: &str) -> String {
    let body = basic
        .map(|b| String::from_utf8(Pidf::with_basic("sip:dave@example.com", b).to_bytes()).unwrap())
        .unwrap_or_default();
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/pidf+xml\r\n"
    };
    format!(
        "PUBLISH {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {DAVE};branch=z9hG4bKpub{seq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:dave@example.com>;tag=dp{seq}\r\nTo: <{uri}>\r\n\
         Call-ID: pub-{seq}\r\nCSeq: {seq} PUBLISH\r\nEvent: presence\r\n{extra}{content_type}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The `cc-state` and `Subscription-State` of a NOTIFY, after checking its fixed parts.
fn notify_state(n: &Message) -> (Option<CcState>, String) {
    assert_eq!(label(n), "NOTIFY");
    assert_eq!(header(n, HeaderName::Event), "call-completion");
    assert_eq!(n.uri().unwrap().to_string(), format!("sip:dave@{DAVE}"));
    let sub_state = header(n, HeaderName::SubscriptionState);
    if n.body().is_empty() {
        return (None, sub_state);
    }
    assert_eq!(
        header(n, HeaderName::ContentType),
        "application/call-completion"
    );
    let doc = CallCompletion::parse(n.body()).unwrap();
    assert!(doc.service_retention, "retention is always on");
    (doc.state, sub_state)
}

/// The cc-URI the NOTIFY carries.
fn cc_uri_of(n: &Message) -> String {
    CallCompletion::parse(n.body()).unwrap().uri.unwrap()
}

/// What reached `at` since the last look, without 100s and the retransmitted 486 of the
/// original call (the tests do not ACK it).
fn fresh(h: &mut Harness, at: &str) -> Vec<Message> {
    h.take(at)
        .into_iter()
        .filter(|m| !matches!(m.status(), Some(100 | 486)))
        .collect()
}

/// The one fresh message at `at`.
fn one_fresh(h: &mut Harness, at: &str) -> Message {
    let got = fresh(h, at);
    assert_eq!(
        got.len(),
        1,
        "{:?}",
        got.iter().map(label).collect::<Vec<_>>()
    );
    got.into_iter().next().unwrap()
}

/// dave answers a NOTIFY 200.
fn ack_notify(h: &mut Harness, n: &Message) {
    h.recv(DAVE, &reply(n, 200, "", DAVE, None));
}

/// bob busy with alice, dave gets 486 and subscribes at the offer's URI: the 200 and the
/// first NOTIFY (queued); returns (bob's INVITE, the 200, the request id).
fn subscribed(h: &mut Harness) -> (Message, Message, u32) {
    let (to_bob, _ok) = connected(h);
    h.register("dave", DAVE);
    dave_gets_busy(h, "call-2");
    h.recv(
        DAVE,
        &subscribe_text(
            "sip:cc@example.com;m=BS",
            "<sip:bob@example.com>",
            "sub-1",
            1,
            "Expires: 3600\r\n",
        ),
    );
    let got = fresh(h, DAVE);
    assert_eq!(
        got.iter().map(label).collect::<Vec<_>>(),
        ["200", "NOTIFY"],
        "the 200, then the first NOTIFY"
    );
    let ok = got[0].clone();
    assert_eq!(header(&ok, HeaderName::Expires), "3600");
    assert_eq!(header(&ok, HeaderName::AllowEvents), "call-completion");
    assert!(header(&ok, HeaderName::To).contains(";tag="));
    let (state, sub_state) = notify_state(&got[1]);
    assert_eq!(state, Some(CcState::Queued));
    assert_eq!(sub_state, "active;expires=3600");
    let id: u32 = cc_uri_of(&got[1])
        .strip_prefix("sip:cc-")
        .and_then(|r| r.strip_suffix("@example.com"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        outstanding(h, id),
        "the subscription is a completion request"
    );
    assert_eq!(stored(h).len(), 1, "and it is stored");
    ack_notify(h, &got[1]);
    (to_bob, ok, id)
}

/// bob hangs up on alice and the guard passes: the recall rings dave and the ready NOTIFY
/// arrives; returns (the recall INVITE, the ready NOTIFY), the NOTIFY not answered yet.
fn recalled(h: &mut Harness, to_bob: &Message) -> (Message, Message) {
    hang_up_alice(h, to_bob);
    h.advance(Duration::from_millis(1_600));
    let got = requests(h, DAVE);
    let recall = got.iter().find(|m| label(m) == "INVITE").unwrap().clone();
    let ready = got.iter().find(|m| label(m) == "NOTIFY").unwrap().clone();
    (recall, ready)
}

/// bob busy with alice, dave gets 486 and subscribes while the store holds its jobs: no
/// answer yet; returns the held job of the new request (the store answers from now on).
fn subscribe_with_store_held(h: &mut Harness) -> u64 {
    connected(h);
    h.register("dave", DAVE);
    dave_gets_busy(h, "call-2");
    h.hold_store = true;
    h.recv(
        DAVE,
        &subscribe_text(
            "sip:cc@example.com",
            "<sip:bob@example.com>",
            "sub-1",
            1,
            "",
        ),
    );
    assert!(
        fresh(h, DAVE).is_empty(),
        "no answer before the store commits"
    );
    let job = h.held.pop().unwrap();
    h.hold_store = false;
    job
}

/// RFC 6910 §8: 486 with the offer → SUBSCRIBE → NOTIFY queued → the callee frees → NOTIFY
/// ready and the recall (with the request's cc URI and m=BS) → the CC call to the cc URI →
/// it goes to bob, the recall is withdrawn, the final NOTIFY terminates the subscription.
#[test]
fn the_rfc_flow_subscribe_queued_ready_cc_call_terminated() {
    let mut h = Harness::new();
    let (to_bob, _ok, id) = subscribed(&mut h);
    // The API sees the request like any other: dave's line counts it.
    assert_eq!(
        lock(&h.engine.switch())
            .line_status("dave")
            .unwrap()
            .num_call_completions,
        1
    );

    hang_up_alice(&mut h, &to_bob);
    h.advance(Duration::from_millis(1_000));
    assert!(
        fresh(&mut h, DAVE).is_empty(),
        "still queued during the guard"
    );
    h.advance(Duration::from_millis(600));
    let got = requests(&mut h, DAVE);
    assert_eq!(
        got.iter().map(label).collect::<Vec<_>>(),
        ["INVITE", "NOTIFY"],
        "the recall and the ready NOTIFY"
    );
    let recall = got[0].clone();
    assert_eq!(
        header(&recall, HeaderName::CallInfo),
        format!("<sip:cc-{id}@example.com>;purpose=call-completion;m=BS")
    );
    let (state, sub_state) = notify_state(&got[1]);
    assert_eq!(state, Some(CcState::Ready));
    assert!(sub_state.starts_with("active;expires="), "{sub_state}");
    ack_notify(&mut h, &got[1]);
    h.recv(DAVE, &reply(&recall, 180, "d1", DAVE, None));

    // The phone places the CC call to the cc URI instead of answering the recall.
    let branch = h.next_branch();
    let cc_call = format!(
        "INVITE sip:cc-{id}@example.com;m=BS SIP/2.0\r\nVia: SIP/2.0/UDP {DAVE};branch={branch}\r\n\
         Max-Forwards: 70\r\nTo: <sip:cc-{id}@example.com>\r\nFrom: <sip:dave@example.com>;tag=dc1\r\n\
         Call-ID: cc-call-1\r\nCSeq: 1 INVITE\r\nContact: <sip:dave@{DAVE}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP_A}",
        SDP_A.len()
    );
    h.recv(DAVE, &cc_call);
    let to_bob = h.one(BOB);
    assert_eq!(label(&to_bob), "INVITE");
    assert_eq!(to_bob.uri().unwrap().to_string(), format!("sip:bob@{BOB}"));
    assert_eq!(to_bob.body(), SDP_A.as_bytes(), "bob gets dave's offer");
    assert!(
        outstanding(&h, id),
        "the request waits for the CC call's outcome"
    );
    let got = requests(&mut h, DAVE);
    let labels: Vec<String> = got.iter().map(label).collect();
    assert_eq!(labels, ["CANCEL"], "the recall is withdrawn, no NOTIFY yet");
    // bob answers the CC call: completed (RFC 6910 §7.4: only now), the final NOTIFY.
    h.recv(BOB, &reply(&to_bob, 200, "b2", BOB, Some(SDP_B)));
    assert!(!outstanding(&h, id), "the callee answered: completed");
    assert!(stored(&h).is_empty());
    let got = requests(&mut h, DAVE);
    let last = got
        .iter()
        .find(|m| label(m) == "NOTIFY")
        .expect("a final NOTIFY");
    let (state, sub_state) = notify_state(last);
    assert_eq!(state, None);
    assert_eq!(sub_state, "terminated;reason=noresource");
    assert!(h.engine.subscriptions().monitor.is_empty());
}

/// The recall may also be answered as a plain phone would: the request completes as an
/// API one does, and the subscription terminates.
#[test]
fn answering_the_recall_also_completes_and_terminates() {
    let mut h = Harness::new();
    let (to_bob, _ok, id) = subscribed(&mut h);
    let (recall, ready) = recalled(&mut h, &to_bob);
    ack_notify(&mut h, &ready);
    h.recv(DAVE, &reply(&recall, 200, "d1", DAVE, Some(SDP_A)));
    let to_bob = h.one(BOB);
    h.recv(BOB, &reply(&to_bob, 180, "b2", BOB, None));
    assert!(outstanding(&h, id), "not completed while bob's phone rings");
    h.recv(BOB, &reply(&to_bob, 200, "b2", BOB, Some(SDP_B)));
    assert!(!outstanding(&h, id), "completed once bob answers");
    let notify = requests(&mut h, DAVE)
        .into_iter()
        .find(|m| label(m) == "NOTIFY")
        .expect("final NOTIFY");
    assert_eq!(notify_state(&notify).1, "terminated;reason=noresource");
}

/// SUBSCRIBE `Expires: 0` in the dialog cancels the request (durably: the 200 waits for
/// the delete), then the final NOTIFY.
#[test]
fn unsubscribing_cancels_the_request_after_its_delete_committed() {
    let mut h = Harness::new();
    let (_to_bob, ok, id) = subscribed(&mut h);
    h.hold_store = true;
    h.recv(DAVE, &resubscribe_text(&ok, 2, 0));
    assert!(
        fresh(&mut h, DAVE).is_empty(),
        "nothing before the delete commits"
    );
    assert!(outstanding(&h, id));
    let job = h.held.pop().unwrap();
    h.hold_store = false;
    h.engine.store_done(job, Ok(()), h.now);
    h.collect();
    let got = fresh(&mut h, DAVE);
    assert_eq!(got.iter().map(label).collect::<Vec<_>>(), ["200", "NOTIFY"]);
    assert_eq!(header(&got[0], HeaderName::Expires), "0");
    assert_eq!(notify_state(&got[1]).1, "terminated;reason=noresource");
    assert!(!outstanding(&h, id));
    assert!(stored(&h).is_empty());
}

/// A refresh gets 200 and a NOTIFY of the current state; the granted time never exceeds
/// the request's lifetime.
#[test]
fn refresh_renews_and_reports_the_state_again() {
    let mut h = Harness::new();
    let (_to_bob, ok, _id) = subscribed(&mut h);
    h.advance(Duration::from_secs(100));
    h.recv(DAVE, &resubscribe_text(&ok, 2, 600));
    let got = fresh(&mut h, DAVE);
    assert_eq!(got.iter().map(label).collect::<Vec<_>>(), ["200", "NOTIFY"]);
    assert_eq!(header(&got[0], HeaderName::Expires), "600");
    assert_eq!(
        notify_state(&got[1]),
        (Some(CcState::Queued), "active;expires=600".into())
    );
    ack_notify(&mut h, &got[1]);
    // Asking past the request's lifetime (ccbs_expiry 1h, 100 s gone) gets what is left.
    h.recv(DAVE, &resubscribe_text(&ok, 3, 7200));
    let got = fresh(&mut h, DAVE);
    assert_eq!(header(&got[0], HeaderName::Expires), "3500");
}

/// A subscription that runs out unrefreshed ends the service (RFC 6910 §9.4).
#[test]
fn an_expired_subscription_cancels_its_request() {
    let mut h = Harness::new();
    let (to_bob, _ok) = connected(&mut h);
    let _ = to_bob;
    h.register("dave", DAVE);
    dave_gets_busy(&mut h, "call-2");
    h.recv(
        DAVE,
        &subscribe_text(
            "sip:cc@example.com",
            "<sip:bob@example.com>",
            "sub-9",
            1,
            "Expires: 60\r\n",
        ),
    );
    let got = fresh(&mut h, DAVE);
    assert_eq!(header(&got[0], HeaderName::Expires), "60");
    let id = cc_uri_of(&got[1]);
    ack_notify(&mut h, &got[1]);
    h.advance(Duration::from_secs(59));
    assert!(requests(&mut h, DAVE).is_empty(), "still running");
    h.advance(Duration::from_millis(1_100));
    let notify = one_request(&mut h, DAVE);
    assert_eq!(notify_state(&notify).1, "terminated;reason=timeout");
    let id: u32 = id
        .trim_start_matches("sip:cc-")
        .trim_end_matches("@example.com")
        .parse()
        .unwrap();
    assert!(!outstanding(&h, id));
}

/// PUBLISH `closed` suspends (no recall while the callee is free), `open` with the entity
/// tag resumes (the recall follows); a wrong tag is 412.
#[test]
fn publish_suspends_and_resumes() {
    let mut h = Harness::new();
    let (to_bob, _ok, id) = subscribed(&mut h);
    let uri = format!("sip:cc-{id}@example.com");
    h.recv(
        DAVE,
        &publish_text(&uri, Some(Basic::Closed), 1, "Expires: 3600\r\n"),
    );
    let ok = one_fresh(&mut h, DAVE);
    assert_eq!(ok.status(), Some(200));
    let etag = header(&ok, HeaderName::SipEtag);
    assert!(!etag.is_empty());
    assert_eq!(
        lock(&h.engine.switch())
            .completion(CompletionId::new(id).unwrap())
            .unwrap()
            .state,
        callcomp_switch::RequestState::Suspended
    );
    hang_up_alice(&mut h, &to_bob);
    h.advance(Duration::from_secs(3));
    assert!(
        requests(&mut h, DAVE).is_empty(),
        "a suspended request is skipped"
    );

    h.recv(
        DAVE,
        &publish_text(&uri, Some(Basic::Open), 2, "SIP-If-Match: nope\r\n"),
    );
    assert_eq!(one_fresh(&mut h, DAVE).status(), Some(412));
    h.recv(
        DAVE,
        &publish_text(
            &uri,
            Some(Basic::Open),
            3,
            &format!("SIP-If-Match: {etag}\r\n"),
        ),
    );
    let ok = one_fresh(&mut h, DAVE);
    assert_eq!(ok.status(), Some(200));
    assert_ne!(header(&ok, HeaderName::SipEtag), etag, "a fresh tag");
    h.advance(Duration::from_millis(1_600));
    let got = requests(&mut h, DAVE);
    assert_eq!(
        got.iter().map(label).collect::<Vec<_>>(),
        ["INVITE", "NOTIFY"],
        "resumed: recalled and ready"
    );
    assert_eq!(notify_state(&got[1]).0, Some(CcState::Ready));
}

/// A suspend of a selected request withdraws it: NOTIFY `queued` (RFC 6910 §7.5).
#[test]
fn suspending_a_ready_request_notifies_queued() {
    let mut h = Harness::new();
    let (to_bob, _ok, id) = subscribed(&mut h);
    let (recall, ready) = recalled(&mut h, &to_bob);
    ack_notify(&mut h, &ready);
    h.recv(DAVE, &reply(&recall, 180, "d1", DAVE, None));
    let uri = format!("sip:cc-{id}@example.com");
    h.recv(DAVE, &publish_text(&uri, Some(Basic::Closed), 1, ""));
    let got = fresh(&mut h, DAVE);
    let notify = got.iter().find(|m| label(m) == "NOTIFY").expect("a NOTIFY");
    assert_eq!(notify_state(notify).0, Some(CcState::Queued));
    assert!(got.iter().any(|m| label(m) == "CANCEL"), "the recall stops");
    assert!(got.iter().any(|m| m.status() == Some(200)));
}

/// The subscription counts against the line's limit like an API request, and its 200
/// waits for the store; over the limit a SUBSCRIBE gets 480 with `Retry-After`.
#[test]
fn subscriptions_count_in_the_limits_and_are_stored_before_the_200() {
    let mut h = Harness::with_config(
        &CONFIG.replace("[users.dave]\n", "[users.dave]\nmax_call_completions = 1\n"),
    );
    let job = subscribe_with_store_held(&mut h);
    h.engine.store_done(job, Ok(()), h.now);
    h.collect();
    let got = fresh(&mut h, DAVE);
    assert_eq!(got[0].status(), Some(200));
    ack_notify(&mut h, &got[1]);

    // A second failed call (carol is not registered): the line is full for the API...
    super::completion::invite_from(&mut h, "dave", DAVE, "carol", "call-3");
    let absent = one_fresh(&mut h, DAVE);
    assert_eq!(absent.status(), Some(480));
    let call = call_in(&h, "dave", CallState::Busy);
    assert_eq!(
        complete(&mut h, call, CALLBACK, 0),
        Err(callcomp_switch::LineErr::CompletionOverrun)
    );
    // ...and for a SUBSCRIBE: 480 with Retry-After (short term, RFC 6910 §9.7).
    h.recv(
        DAVE,
        &subscribe_text(
            "sip:cc@example.com",
            "<sip:carol@example.com>",
            "sub-2",
            1,
            "",
        ),
    );
    let refused = one_fresh(&mut h, DAVE);
    assert_eq!(refused.status(), Some(480));
    assert_eq!(
        refused.reason_phrase().unwrap(),
        "LINEERR_COMPLETIONOVERRUN"
    );
    assert_eq!(header(&refused, HeaderName::RetryAfter), "60");
}

/// A second SUBSCRIBE for the same callee (another Call-ID) reuses the request (RFC 6910
/// §6.2) and replaces the old subscription, which is terminated.
#[test]
fn a_second_subscription_replaces_the_first() {
    let mut h = Harness::new();
    let (_to_bob, _ok, id) = subscribed(&mut h);
    h.recv(
        DAVE,
        &subscribe_text(
            "sip:cc@example.com",
            "<sip:bob@example.com>",
            "sub-2",
            1,
            "",
        ),
    );
    let got = fresh(&mut h, DAVE);
    assert_eq!(
        got.iter().map(label).collect::<Vec<_>>(),
        ["NOTIFY", "200", "NOTIFY"]
    );
    assert_eq!(notify_state(&got[0]).1, "terminated;reason=deactivated");
    assert_eq!(header(&got[0], HeaderName::CallId), "sub-1");
    assert_eq!(header(&got[2], HeaderName::CallId), "sub-2");
    assert_eq!(cc_uri_of(&got[2]), format!("sip:cc-{id}@example.com"));
    assert_eq!(
        lock(&h.engine.switch())
            .line_status("dave")
            .unwrap()
            .num_call_completions,
        1,
        "still one request"
    );
}

/// A store failure refuses the SUBSCRIBE and leaves nothing behind.
#[test]
fn a_failed_store_write_refuses_the_subscribe() {
    let mut h = Harness::new();
    let job = subscribe_with_store_held(&mut h);
    h.engine
        .store_done(job, Err(StoreFault::Unavailable), h.now);
    h.collect();
    let refused = one_fresh(&mut h, DAVE);
    assert_eq!(refused.status(), Some(480));
    assert!(h.engine.subscriptions().monitor.is_empty());
    assert_eq!(
        lock(&h.engine.switch())
            .line_status("dave")
            .unwrap()
            .num_call_completions,
        0
    );
}

/// RFC 6910 §7.2 and RFC 6665: the refusals.
#[test]
fn refusals_482_489_403_404() {
    let mut h = Harness::new();
    let (_to_bob, _ok, id) = subscribed(&mut h);
    // A fork of the same SUBSCRIBE (same Call-ID) reaching us again: 482.
    h.recv(
        DAVE,
        &subscribe_text(
            "sip:bob@example.com",
            "<sip:bob@example.com>",
            "sub-1",
            1,
            "",
        )
        .replace("branch=z9hG4bKsubsub-11", "branch=z9hG4bKfork"),
    );
    assert_eq!(one_fresh(&mut h, DAVE).status(), Some(482));
    // Another package: 489 with Allow-Events.
    h.recv(
        DAVE,
        &subscribe_text(
            "sip:cc@example.com",
            "<sip:bob@example.com>",
            "sub-2",
            1,
            "",
        )
        .replace("Event: call-completion", "Event: presence"),
    );
    let bad = one_fresh(&mut h, DAVE);
    assert_eq!(bad.status(), Some(489));
    assert_eq!(header(&bad, HeaderName::AllowEvents), "call-completion");
    // No failed call to carol: a subscription that could never be ready, 403.
    h.recv(
        DAVE,
        &subscribe_text(
            "sip:cc@example.com",
            "<sip:carol@example.com>",
            "sub-3",
            1,
            "",
        ),
    );
    let no = one_fresh(&mut h, DAVE);
    assert_eq!(no.status(), Some(403));
    // Another line's request by its cc URI: 404, nothing learned.
    h.register("alice", ALICE);
    let text = subscribe_text(
        &format!("sip:cc-{id}@example.com"),
        "<sip:bob@example.com>",
        "sub-4",
        1,
        "",
    )
    .replace(
        "sip:dave@example.com>;tag=ds1",
        "sip:alice@example.com>;tag=as1",
    )
    .replace(
        &format!("Via: SIP/2.0/UDP {DAVE}"),
        &format!("Via: SIP/2.0/UDP {ALICE}"),
    );
    h.recv(ALICE, &text);
    assert_eq!(h.one(ALICE).status(), Some(404));
    // OPTIONS lists the package.
    h.recv(
        DAVE,
        &format!(
            "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {DAVE};branch=z9hG4bKo1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:dave@example.com>;tag=o1\r\nTo: <sip:example.com>\r\n\
             Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    let options = one_fresh(&mut h, DAVE);
    assert_eq!(header(&options, HeaderName::AllowEvents), "call-completion");
    assert!(header(&options, HeaderName::Allow).contains("PUBLISH"));
}

/// A NOTIFY answered 481 means the subscriber is gone: the request is cancelled.
#[test]
fn a_notify_answered_481_cancels_the_request() {
    let mut h = Harness::new();
    let (to_bob, _ok, id) = subscribed(&mut h);
    let (_recall, ready) = recalled(&mut h, &to_bob);
    h.recv(DAVE, &reply(&ready, 481, "", DAVE, None));
    assert!(!outstanding(&h, id));
    assert!(h.engine.subscriptions().monitor.is_empty());
}

/// `*37` completes dave's newest failed call with a callback (durably, visible like any
/// request); `#37` cancels all of dave's requests; with nothing to do, 404.
#[test]
fn feature_codes_request_and_cancel() {
    let mut h = Harness::new();
    connected(&mut h);
    h.register("dave", DAVE);
    let code = |h: &mut Harness, code: &str, n: u32| {
        let branch = h.next_branch();
        h.recv(
            DAVE,
            &format!(
                "INVITE sip:{code}@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {DAVE};branch={branch}\r\n\
                 Max-Forwards: 70\r\nTo: <sip:{code}@example.com>\r\nFrom: <sip:dave@example.com>;tag=dk{n}\r\n\
                 Call-ID: code-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:dave@{DAVE}>\r\nContent-Length: 0\r\n\r\n"
            ),
        );
        one_fresh(h, DAVE)
    };
    let nothing = code(&mut h, "*37", 1);
    assert_eq!(
        (
            nothing.status(),
            nothing.reason_phrase().unwrap().into_owned()
        ),
        (Some(404), "No Failed Call To Complete".to_owned())
    );

    dave_gets_busy(&mut h, "call-2");
    h.hold_store = true;
    let branch = h.next_branch();
    h.recv(
        DAVE,
        &format!(
            "INVITE sip:*37@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {DAVE};branch={branch}\r\n\
             Max-Forwards: 70\r\nTo: <sip:*37@example.com>\r\nFrom: <sip:dave@example.com>;tag=dk2\r\n\
             Call-ID: code-2\r\nCSeq: 1 INVITE\r\nContact: <sip:dave@{DAVE}>\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    assert!(
        fresh(&mut h, DAVE).is_empty(),
        "no final answer before the store commits"
    );
    let job = h.held.pop().unwrap();
    h.hold_store = false;
    h.engine.store_done(job, Ok(()), h.now);
    h.collect();
    let done = one_fresh(&mut h, DAVE);
    assert_eq!(done.status(), Some(480));
    assert_eq!(done.reason_phrase().unwrap(), "Completion Requested");
    let info = header(&done, HeaderName::CallInfo);
    let id: u32 = info
        .trim_start_matches("<sip:cc-")
        .split('@')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(info.ends_with(";purpose=call-completion;m=BS"), "{info}");
    assert!(outstanding(&h, id));
    let switch = h.engine.switch();
    let r = lock(&switch)
        .completion(CompletionId::new(id).unwrap())
        .unwrap()
        .clone();
    assert_eq!((r.line(), r.target.key()), (Some("dave"), "bob"));
    assert_eq!(r.mode, callcomp_switch::CompletionMode::Callback);
    drop(switch);
    assert!(
        h.events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Completion(c) if c.completion_id.get() == id)),
        "the request's events went out"
    );

    let cancelled = code(&mut h, "%2337", 3);
    assert_eq!(cancelled.status(), Some(480));
    assert_eq!(
        cancelled.reason_phrase().unwrap(),
        "Completion Cancelled (1)"
    );
    assert!(!outstanding(&h, id));
    assert!(stored(&h).is_empty());
    let none = code(&mut h, "%2337", 4);
    assert_eq!(none.status(), Some(404));
}

/// Cancelling a subscribed request through the API (lineUncompleteCall) ends the
/// subscription with its final NOTIFY.
#[test]
fn an_api_cancel_ends_the_subscription() {
    let mut h = Harness::new();
    let (_to_bob, _ok, id) = subscribed(&mut h);
    let ticket = h.engine.uncomplete_call("dave", id, h.now).unwrap();
    h.collect();
    assert_eq!(h.engine.drain_replies(), vec![(ticket, Ok(id))]);
    let n = one_fresh(&mut h, DAVE);
    assert_eq!(notify_state(&n).1, "terminated;reason=noresource");
    assert!(h.engine.subscriptions().monitor.is_empty());
}

/// The CC call's second form (RFC 6910 §6.4): an INVITE to the callee carrying the request's
/// Call-Info; another line dialling the cc URI gets 403, an unknown cc URI 404.
#[test]
fn the_cc_call_by_call_info_and_its_refusals() {
    let mut h = Harness::new();
    let (to_bob, _ok, id) = subscribed(&mut h);
    let (_recall, ready) = recalled(&mut h, &to_bob);
    ack_notify(&mut h, &ready);

    let invite = |from: &str, at: &str, uri: &str, extra: &str, n: u32| {
        format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch=z9hG4bKcc{n}\r\n\
             Max-Forwards: 70\r\nTo: <{uri}>\r\nFrom: <sip:{from}@example.com>;tag=x{n}\r\n\
             Call-ID: ccx-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:{from}@{at}>\r\n{extra}\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP_A}",
            SDP_A.len()
        )
    };
    h.recv(
        ALICE,
        &invite("alice", ALICE, &format!("sip:cc-{id}@example.com"), "", 1),
    );
    let refused = one_fresh(&mut h, ALICE);
    assert_eq!(refused.status(), Some(403));
    h.recv(DAVE, &invite("dave", DAVE, "sip:cc-999@example.com", "", 2));
    assert_eq!(one_fresh(&mut h, DAVE).status(), Some(404));
    assert!(outstanding(&h, id), "refusals change nothing");

    let info = format!("Call-Info: <sip:cc-{id}@example.com>;purpose=call-completion;m=BS\r\n");
    h.recv(DAVE, &invite("dave", DAVE, "sip:bob@example.com", &info, 3));
    let to_bob = h.one(BOB);
    assert_eq!(label(&to_bob), "INVITE");
    assert!(outstanding(&h, id), "until the callee answers");
    h.recv(BOB, &reply(&to_bob, 200, "b3", BOB, Some(SDP_B)));
    assert!(
        !outstanding(&h, id),
        "the answered CC call ended the request"
    );
    let notify = requests(&mut h, DAVE)
        .into_iter()
        .find(|m| label(m) == "NOTIFY")
        .expect("final NOTIFY");
    assert_eq!(notify_state(&notify).1, "terminated;reason=noresource");
}

/// Subscriptions are soft state (RFC 6665); requests are not. After a restart the phone's
/// refresh in the old dialog gets 481, and a SUBSCRIBE to the request's cc-URI attaches to
/// the reloaded request.
#[test]
fn after_a_restart_the_phone_resubscribes_to_the_cc_uri() {
    let mut h = Harness::new();
    let (_to_bob, ok, id) = subscribed(&mut h);
    let rows = stored(&h);

    let mut h2 = Harness::new();
    h2.now = h.now.after(Duration::from_secs(5));
    h2.engine
        .import_completions(crate::core::completion::snapshot_of(rows, id + 1), h2.now)
        .unwrap();
    h2.register("dave", DAVE);
    h2.recv(DAVE, &resubscribe_text(&ok, 2, 3600));
    assert_eq!(one_fresh(&mut h2, DAVE).status(), Some(481));
    h2.recv(
        DAVE,
        &subscribe_text(
            &format!("sip:cc-{id}@example.com"),
            "<sip:bob@example.com>",
            "sub-2",
            1,
            "",
        ),
    );
    let got = fresh(&mut h2, DAVE);
    assert_eq!(got.iter().map(label).collect::<Vec<_>>(), ["200", "NOTIFY"]);
    assert_eq!(notify_state(&got[1]).0, Some(CcState::Queued));
    assert_eq!(cc_uri_of(&got[1]), format!("sip:cc-{id}@example.com"));
    assert!(h2
        .engine
        .subscriptions()
        .monitor
        .is_subscribed(CompletionId::new(id).unwrap()));
}

/// An unsubscribe from another address than the subscriber's is refused (knowing the
/// dialog's Call-ID and tags is not enough), and a replayed CSeq is 500.
#[test]
fn in_dialog_subscribes_only_from_the_peer_and_in_order() {
    let mut h = Harness::new();
    let (_to_bob, ok, id) = subscribed(&mut h);
    h.recv(
        ALICE,
        &resubscribe_text(&ok, 2, 0).replace(&format!("UDP {DAVE}"), &format!("UDP {ALICE}")),
    );
    let refused = one_fresh(&mut h, ALICE);
    assert_eq!(refused.status(), Some(403));
    assert!(outstanding(&h, id));
    h.recv(DAVE, &resubscribe_text(&ok, 3, 3600));
    let got = fresh(&mut h, DAVE);
    assert_eq!(got[0].status(), Some(200));
    ack_notify(&mut h, &got[1]);
    h.recv(
        DAVE,
        &resubscribe_text(&ok, 3, 0).replace("branch=z9hG4bKresub3", "branch=z9hG4bKreplay"),
    );
    assert_eq!(one_fresh(&mut h, DAVE).status(), Some(500));
    assert!(outstanding(&h, id), "nothing cancelled");
}

/// RFC 6910 §7.4 (`cc-service-retention`): a CC call that finds the callee busy puts the
/// request back in the queue (NOTIFY `queued`), counted as a failed attempt like a recall's;
/// the last attempt (`recall_attempts`) ends it and the subscription.
#[test]
fn a_cc_call_finding_the_callee_busy_puts_the_request_back_until_the_attempts_run_out() {
    let config = CONFIG.replace(
        "offer_window = \"20s\"\n",
        "offer_window = \"20s\"\nrecall_attempts = 2\n",
    );
    let mut h = Harness::with_config(&config);
    let (to_bob, _ok, id) = subscribed(&mut h);
    let cc_call = |h: &mut Harness, n: u32| {
        let branch = h.next_branch();
        format!(
            "INVITE sip:cc-{id}@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {DAVE};branch={branch}\r\n\
             Max-Forwards: 70\r\nTo: <sip:cc-{id}@example.com>\r\nFrom: <sip:dave@example.com>;tag=dr{n}\r\n\
             Call-ID: cc-retain-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:dave@{DAVE}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP_A}",
            SDP_A.len()
        )
    };
    let (recall, ready) = recalled(&mut h, &to_bob);
    ack_notify(&mut h, &ready);
    h.recv(DAVE, &reply(&recall, 180, "d1", DAVE, None));
    let text = cc_call(&mut h, 1);
    h.recv(DAVE, &text);
    let to_bob = h.one(BOB);
    fresh(&mut h, DAVE);
    // bob's phone is busy: dave's CC call fails, the request goes back to the queue.
    h.recv(BOB, &reply(&to_bob, 486, "b4", BOB, None));
    h.take(BOB);
    let got = fresh(&mut h, DAVE);
    let notify = got.iter().find(|m| label(m) == "NOTIFY").expect("a NOTIFY");
    assert_eq!(notify_state(notify).0, Some(CcState::Queued), "retained");
    ack_notify(&mut h, notify);
    {
        let switch = h.engine.switch();
        let switch = lock(&switch);
        let r = switch.completion(CompletionId::new(id).unwrap()).unwrap();
        assert_eq!(r.state.as_str(), "queued");
        assert_eq!(r.recall_failures, 1, "one failed attempt");
        assert!(
            !switch.is_reserved("bob", Some("alice")),
            "bob is free for others"
        );
    }
    assert!(
        stored(&h)
            .iter()
            .any(|r| r.completion_id == id && r.state == "queued"),
        "the retained request is stored"
    );

    // bob's next call ends: ready again; the second CC call finds bob not answering: the end.
    let talk = {
        super::completion::invite_from(&mut h, "alice", ALICE, "bob", "call-9");
        let to_bob = h.one(BOB);
        h.recv(BOB, &reply(&to_bob, 200, "b5", BOB, Some(SDP_B)));
        h.take(ALICE);
        to_bob
    };
    // (CSeq 2: its Via branch must differ from the first call's BYE.)
    h.recv(BOB, &from_callee("BYE", &talk, "b5", 2, BOB, None));
    let bye = one_request(&mut h, ALICE);
    h.recv(ALICE, &reply(&bye, 200, "", ALICE, None));
    h.take(BOB);
    h.advance(Duration::from_millis(1_600));
    let got = requests(&mut h, DAVE);
    let recall = got
        .iter()
        .find(|m| label(m) == "INVITE")
        .expect("recalled again")
        .clone();
    for n in got.iter().filter(|m| label(m) == "NOTIFY") {
        assert_eq!(notify_state(n).0, Some(CcState::Ready));
        ack_notify(&mut h, n);
    }
    h.recv(DAVE, &reply(&recall, 180, "d2", DAVE, None));
    let text = cc_call(&mut h, 2);
    h.recv(DAVE, &text);
    // (bob's phone may also get the RFC 4235 dialog watch, left unanswered here.)
    let to_bob = requests(&mut h, BOB)
        .into_iter()
        .find(|m| label(m) == "INVITE")
        .expect("the second CC call rings bob");
    h.recv(BOB, &reply(&to_bob, 480, "b6", BOB, None));
    assert!(!outstanding(&h, id), "the last attempt failed: the end");
    assert_eq!(
        super::completion::cancel_causes(&h)
            .last()
            .map(String::as_str),
        Some("recall_callee_unavailable")
    );
    let last = requests(&mut h, DAVE)
        .into_iter()
        .rfind(|m| label(m) == "NOTIFY")
        .expect("the final NOTIFY");
    assert!(notify_state(&last).1.starts_with("terminated"));
}
