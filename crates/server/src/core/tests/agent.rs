//! The RFC 6910 agent role through the core (issue #11 item 4), against a hand-written remote
//! monitor behind the trunk `b.test` (192.0.2.20:5070): dave's call to `frank@b.test` fails
//! busy with the monitor's offer, dave asks for a callback (API, `*37`), callcomp subscribes
//! over the trunk, the monitor's NOTIFYs move the request, the recall's answer places the CC
//! call to the `cc-URI`; cancel unsubscribes, the monitor's `terminated` ends the request,
//! refreshes go out in the dialog, a busy recall suspends by PUBLISH, a restart subscribes
//! again.

use callcomp_switch::{CallState, CompletionId, CompletionTarget, LineErr};

use super::completion::{call_in, complete, invite_from, one_request, stored};
use super::*;
use crate::core::completion::snapshot_of;
use crate::subscription::agent::AgentState;

const TRUNK: &str = "192.0.2.20:5070";
const CALLBACK: u32 = 0x2;
const CC: &str = "sip:cc-5@b.test";

const AGENT_CONFIG: &str = r#"
domain = "example.com"
[sip]
no_answer_timeout = "30s"
[completion]
offer_window = "20s"
guard_ms = 500
[users.alice]
[users.bob]
[users.dave]
[users.carol]
call_waiting = false
[[trunks]]
domain = "b.test"
address = "192.0.2.20:5070"
transport = "udp"
"#;

/// `text` with `header` inserted before its Content-Length.
fn with_header(text: &str, header: &str) -> String {
    text.replacen(
        "Content-Length:",
        &format!("{header}\r\nContent-Length:"),
        1,
    )
}

/// dave's INVITE to `frank@b.test` goes over the trunk and is answered 486 with the remote
/// monitor's offer; returns dave's busy call.
fn dave_busy_at_b(h: &mut Harness, call_id: &str) -> u32 {
    busy_at_b(h, "dave", DAVE, call_id)
}

/// [`dave_busy_at_b`] for `user` whose phone is at `at`.
fn busy_at_b(h: &mut Harness, user: &str, at: &str, call_id: &str) -> u32 {
    let branch = h.next_branch();
    let text = format!(
        "INVITE sip:frank@b.test SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch={branch}\r\nMax-Forwards: 70\r\n\
         To: <sip:frank@b.test>\r\nFrom: <sip:{user}@example.com>;tag=dv1\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:{user}@{at}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{SDP_A}",
        SDP_A.len()
    );
    h.recv(at, &text);
    let invite = one_request(h, TRUNK);
    assert_eq!(invite.uri().unwrap().to_string(), "sip:frank@b.test");
    let busy = with_header(
        &reply(&invite, 486, "fr1", TRUNK, None),
        "Call-Info: <sip:cc@b.test>;purpose=call-completion;m=BS",
    );
    h.recv(TRUNK, &busy);
    let acks: Vec<String> = h.take(TRUNK).iter().map(label).collect();
    assert_eq!(acks, ["ACK"]);
    let to_phone: Vec<u16> = h.take(at).iter().filter_map(Message::status).collect();
    assert!(to_phone.contains(&486), "{to_phone:?}");
    call_in(h, user, CallState::Busy)
}

/// The SUBSCRIBE sent to the monitor, answered 200 with `expires`; returns it.
fn subscribed(h: &mut Harness, expires: u32) -> Message {
    let subscribe = one_request(h, TRUNK);
    let ok = with_header(
        &reply(&subscribe, 200, "mon1", TRUNK, None),
        &format!("Expires: {expires}"),
    );
    h.recv(TRUNK, &ok);
    subscribe
}

/// A NOTIFY from the monitor in the subscription `subscribe` formed: `state` and, if given,
/// a call-completion body.
fn notify(h: &mut Harness, subscribe: &Message, seq: u32, state: &str, body: Option<&str>) {
    let contact = header(subscribe, HeaderName::Contact);
    let target = contact.trim_start_matches('<').trim_end_matches('>');
    let mut text = format!(
        "NOTIFY {target} SIP/2.0\r\nVia: SIP/2.0/UDP {TRUNK};branch=z9hG4bKmon{seq}\r\nMax-Forwards: 70\r\n\
         From: {};tag=mon1\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {seq} NOTIFY\r\n\
         Contact: <sip:cc@{TRUNK}>\r\nEvent: call-completion\r\nSubscription-State: {state}\r\n",
        header(subscribe, HeaderName::To),
        header(subscribe, HeaderName::From),
        header(subscribe, HeaderName::CallId),
    );
    match body {
        Some(b) => text.push_str(&format!(
            "Content-Type: application/call-completion\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )),
        None => text.push_str("Content-Length: 0\r\n\r\n"),
    }
    h.recv(TRUNK, &text);
    let answers: Vec<u16> = h.take(TRUNK).iter().filter_map(Message::status).collect();
    assert_eq!(answers, [200], "the NOTIFY is answered 200");
}

/// The monitor (subscription answered 200) says `ready` with cc-URI [`CC`]; after the guard
/// dave's recall rings. Returns the SUBSCRIBE and the recall INVITE.
fn recalled(h: &mut Harness) -> (Message, Message) {
    let subscribe = subscribed(h, 600);
    let ready = format!("cc-state: ready\r\ncc-URI: {CC}\r\n");
    notify(h, &subscribe, 1, "active;expires=600", Some(&ready));
    h.advance(Duration::from_millis(600));
    let recall = one_request(h, DAVE);
    (subscribe, recall)
}

/// The harness with dave registered, his call to frank@b.test failed busy, and his callback
/// request accepted (the SUBSCRIBE not yet answered); the request's id.
fn requested(h: &mut Harness) -> u32 {
    h.register("dave", DAVE);
    let call = dave_busy_at_b(h, "to-frank");
    complete(h, call, CALLBACK, 0).unwrap()
}

fn agent_state(h: &Harness, id: u32) -> Option<AgentState> {
    h.engine
        .subscriptions()
        .agents
        .state_of(CompletionId::new(id).unwrap())
        .cloned()
}

/// The whole agent flow: subscribe over the trunk, `queued`, `ready` with a cc-URI, the
/// recall, the CC call to the cc-URI with its Call-Info, the request completed, the
/// monitor's final NOTIFY.
#[test]
fn a_remote_request_subscribes_recalls_and_places_the_cc_call_over_the_trunk() {
    let mut h = Harness::with_config(AGENT_CONFIG);
    let id = requested(&mut h);
    {
        let switch = h.engine.switch();
        let r = switch.completion(CompletionId::new(id).unwrap()).unwrap();
        let CompletionTarget::Remote(t) = &r.target else {
            panic!("{:?}", r.target)
        };
        assert_eq!(
            (t.aor.as_str(), t.monitor.as_str(), t.m.as_deref()),
            ("sip:frank@b.test", "sip:cc@b.test", Some("BS"))
        );
    }
    let subscribe = subscribed(&mut h, 600);
    assert_eq!(label(&subscribe), "SUBSCRIBE");
    assert_eq!(subscribe.uri().unwrap().to_string(), "sip:cc@b.test");
    assert_eq!(header(&subscribe, HeaderName::To), "<sip:frank@b.test>");
    assert!(header(&subscribe, HeaderName::From).starts_with("<sip:dave@example.com>;tag="));
    assert_eq!(header(&subscribe, HeaderName::Event), "call-completion");
    assert!(header(&subscribe, HeaderName::Via).contains("192.0.2.100:5060"));
    assert!(header(&subscribe, HeaderName::Contact).contains("192.0.2.100"));
    assert_eq!(
        agent_state(&h, id),
        Some(AgentState::Queued { cc_uri: None })
    );

    notify(
        &mut h,
        &subscribe,
        1,
        "active;expires=600",
        Some("cc-state: queued\r\n"),
    );
    assert!(h.take(DAVE).is_empty(), "queued: no recall");
    let ready = format!("cc-state: ready\r\ncc-URI: {CC}\r\n");
    notify(&mut h, &subscribe, 2, "active;expires=590", Some(&ready));
    h.advance(Duration::from_millis(600));
    let recall = one_request(&mut h, DAVE);
    assert_eq!(label(&recall), "INVITE");
    assert!(
        header(&recall, HeaderName::From)
            .starts_with("\"Callback: frank@b.test\" <sip:frank@b.test>"),
        "the recall shows the remote party: {}",
        header(&recall, HeaderName::From)
    );
    h.recv(DAVE, &reply(&recall, 200, "dv2", DAVE, Some(SDP_A)));
    let cc_call = one_request(&mut h, TRUNK);
    assert_eq!(label(&cc_call), "INVITE");
    assert_eq!(cc_call.uri().unwrap().to_string(), CC);
    assert_eq!(header(&cc_call, HeaderName::To), "<sip:frank@b.test>");
    assert_eq!(
        header(&cc_call, HeaderName::CallInfo),
        format!("<{CC}>;purpose=call-completion;m=BS")
    );
    assert!(!cc_call.body().is_empty(), "callcomp's own offer");
    h.recv(TRUNK, &reply(&cc_call, 200, "fr2", TRUNK, Some(SDP_B)));
    assert!(!super::completion::outstanding(&h, id), "completed");
    let states: Vec<String> = h
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Completion(c) => Some(format!("{:?}", c.state).to_lowercase()),
            _ => None,
        })
        .collect();
    assert_eq!(states.last().map(String::as_str), Some("completed"));
    notify(&mut h, &subscribe, 3, "terminated;reason=noresource", None);
    assert_eq!(agent_state(&h, id), None, "the subscription is over");
}

/// The own user's cancel unsubscribes (`Expires: 0` in the dialog); the final NOTIFY ends it.
#[test]
fn cancelling_unsubscribes_at_the_monitor() {
    let mut h = Harness::with_config(AGENT_CONFIG);
    let id = requested(&mut h);
    let subscribe = subscribed(&mut h, 600);
    h.engine.uncomplete_call("dave", id, h.now).unwrap();
    h.collect();
    let unsubscribe = one_request(&mut h, TRUNK);
    assert_eq!(label(&unsubscribe), "SUBSCRIBE");
    assert_eq!(header(&unsubscribe, HeaderName::Expires), "0");
    assert!(
        header(&unsubscribe, HeaderName::To).contains("tag=mon1"),
        "in the dialog"
    );
    assert_eq!(agent_state(&h, id), Some(AgentState::Unsubscribing));
    notify(&mut h, &subscribe, 1, "terminated;reason=timeout", None);
    assert_eq!(agent_state(&h, id), None);
    assert_eq!(
        h.engine.uncomplete_call("dave", id, h.now),
        Err(LineErr::InvalCompletionId)
    );
}

/// The monitor's `terminated` ends the request with `monitor_terminated` and its TAPI
/// `complcancel`; a refused SUBSCRIBE ends one with `monitor_refused`.
#[test]
fn the_monitor_ends_or_refuses_the_request() {
    let mut h = Harness::with_config(AGENT_CONFIG);
    let id = requested(&mut h);
    let subscribe = subscribed(&mut h, 600);
    notify(&mut h, &subscribe, 1, "terminated;reason=noresource", None);
    assert!(!super::completion::outstanding(&h, id));
    let cancels: Vec<String> = h
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::LineDevState(d) => d.cause.map(|c| format!("{} {}", d.line, c.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(cancels, ["dave monitor_terminated"]);

    let call = dave_busy_at_b(&mut h, "to-frank-2");
    let second = complete(&mut h, call, CALLBACK, 0).unwrap();
    let subscribe = one_request(&mut h, TRUNK);
    h.recv(TRUNK, &reply(&subscribe, 403, "mon2", TRUNK, None));
    assert!(!super::completion::outstanding(&h, second));
    assert_eq!(
        super::completion::cancel_causes(&h),
        ["monitor_terminated", "monitor_refused"]
    );
}

/// A refresh goes out in the dialog before the granted time runs out.
#[test]
fn the_subscription_is_refreshed_in_its_dialog() {
    let mut h = Harness::with_config(AGENT_CONFIG);
    requested(&mut h);
    subscribed(&mut h, 60);
    h.advance(Duration::from_secs(29));
    assert!(one_request_or_none(&mut h).is_none(), "not yet");
    h.advance(Duration::from_secs(2));
    // The refresh, retransmitted over UDP while unanswered.
    let sent = super::completion::requests(&mut h, TRUNK);
    assert!(!sent.is_empty());
    assert!(sent
        .iter()
        .all(|m| header(m, HeaderName::CSeq) == "2 SUBSCRIBE"));
    let refresh = sent.into_iter().next().unwrap();
    assert_eq!(label(&refresh), "SUBSCRIBE");
    assert!(header(&refresh, HeaderName::To).contains("tag=mon1"));
    assert_eq!(header(&refresh, HeaderName::Expires), "3600");
    assert!(header(&refresh, HeaderName::CSeq).starts_with("2 "));
}

fn one_request_or_none(h: &mut Harness) -> Option<Message> {
    super::completion::requests(h, TRUNK).into_iter().next()
}

/// dave busy at the recall: PUBLISH `closed` to the cc-URI (§6.5); free again: PUBLISH
/// `open` with the entity tag the monitor gave (§6.6).
#[test]
fn a_busy_own_user_suspends_and_resumes_by_publish() {
    let mut h = Harness::with_config(AGENT_CONFIG);
    let id = requested(&mut h);
    let (_subscribe, recall) = recalled(&mut h);
    h.recv(DAVE, &reply(&recall, 486, "dv3", DAVE, None));
    let publish = one_request(&mut h, TRUNK);
    assert_eq!(label(&publish), "PUBLISH");
    assert_eq!(publish.uri().unwrap().to_string(), CC);
    assert_eq!(header(&publish, HeaderName::Event), "call-completion");
    let body = String::from_utf8_lossy(publish.body()).into_owned();
    assert!(body.contains("<basic>closed</basic>"), "{body}");
    h.recv(
        TRUNK,
        &with_header(&reply(&publish, 200, "p1", TRUNK, None), "SIP-ETag: e1"),
    );
    assert!(matches!(
        agent_state(&h, id),
        Some(AgentState::Suspended { .. })
    ));
    // dave's next call (to an unregistered alice) ends: he is free.
    invite_from(&mut h, "dave", DAVE, "alice", "dave-free");
    h.take(DAVE);
    let publish = one_request(&mut h, TRUNK);
    assert_eq!(label(&publish), "PUBLISH");
    assert_eq!(header(&publish, HeaderName::SipIfMatch), "e1");
    let body = String::from_utf8_lossy(publish.body()).into_owned();
    assert!(body.contains("<basic>open</basic>"), "{body}");
    assert!(matches!(
        agent_state(&h, id),
        Some(AgentState::Queued { .. })
    ));
}

/// The row keeps the remote target: after a restart the request subscribes again, to the
/// cc-URI the monitor named.
#[test]
fn after_a_restart_the_request_subscribes_again() {
    let mut h = Harness::with_config(AGENT_CONFIG);
    let id = requested(&mut h);
    let subscribe = subscribed(&mut h, 600);
    let queued = format!("cc-state: queued\r\ncc-URI: {CC}\r\n");
    notify(&mut h, &subscribe, 1, "active;expires=600", Some(&queued));
    // The cc-URI reaches the row with the next change of the request: its `ready`.
    let ready = format!("cc-state: ready\r\ncc-URI: {CC}\r\n");
    notify(&mut h, &subscribe, 2, "active;expires=600", Some(&ready));
    let rows = stored(&h);
    assert_eq!(rows.len(), 1);
    assert!(rows[0].data.contains(CC), "{}", rows[0].data);

    let mut h2 = Harness::with_config(AGENT_CONFIG);
    h2.now = h.now.after(Duration::from_secs(5));
    h2.engine
        .import_completions(snapshot_of(rows, id + 1), h2.now)
        .unwrap();
    h2.collect();
    let again = one_request(&mut h2, TRUNK);
    assert_eq!(label(&again), "SUBSCRIBE");
    assert_eq!(again.uri().unwrap().to_string(), CC);
    assert_eq!(header(&again, HeaderName::To), "<sip:frank@b.test>");
    assert_eq!(agent_state(&h2, id), Some(AgentState::Subscribing));
}

/// dave's dialled code `code` (an INVITE to `sip:<code>@example.com`); the final answer.
fn dial_code(h: &mut Harness, code: &str, n: u32) -> Message {
    let branch = h.next_branch();
    h.recv(
        DAVE,
        &format!(
            "INVITE sip:{code}@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {DAVE};branch={branch}\r\n\
             Max-Forwards: 70\r\nTo: <sip:{code}@example.com>\r\nFrom: <sip:dave@example.com>;tag=fc{n}\r\n\
             Call-ID: fcode-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:dave@{DAVE}>\r\nContent-Length: 0\r\n\r\n"
        ),
    );
    let finals: Vec<Message> = h
        .take(DAVE)
        .into_iter()
        .filter(|m| m.status().is_some_and(|s| s >= 200))
        .collect();
    assert_eq!(finals.len(), 1, "one final answer to {code}");
    finals.into_iter().next().unwrap()
}

/// `*37` completes dave's failed trunk call toward the remote party and subscribes at its
/// monitor; `#37` cancels it, which unsubscribes.
#[test]
fn feature_codes_request_and_cancel_a_remote_request() {
    let mut h = Harness::with_config(AGENT_CONFIG);
    h.register("dave", DAVE);
    dave_busy_at_b(&mut h, "to-frank-code");
    let done = dial_code(&mut h, "*37", 1);
    assert_eq!(
        (done.status(), done.reason_phrase().unwrap().into_owned()),
        (Some(480), "Completion Requested".to_owned())
    );
    let requests: Vec<(u32, String)> = {
        let switch = h.engine.switch();
        switch
            .completions_of("dave")
            .unwrap()
            .iter()
            .map(|r| (r.id.get(), r.target.key().to_owned()))
            .collect()
    };
    assert_eq!(requests.len(), 1);
    let (id, target) = requests[0].clone();
    assert_eq!(target, "sip:frank@b.test");
    subscribed(&mut h, 600);
    assert_eq!(
        agent_state(&h, id),
        Some(AgentState::Queued { cc_uri: None })
    );
    let cancelled = dial_code(&mut h, "%2337", 2);
    assert_eq!(cancelled.status(), Some(480));
    let unsubscribe = one_request(&mut h, TRUNK);
    assert_eq!(label(&unsubscribe), "SUBSCRIBE");
    assert_eq!(header(&unsubscribe, HeaderName::Expires), "0");
    assert!(!super::completion::outstanding(&h, id));
}

/// The per-user policy (`on_busy = "callback"`) asks for completion of a failed trunk call
/// like the API: a remote request, subscribed at the monitor.
#[test]
fn the_busy_policy_requests_completion_toward_the_remote_party() {
    let config = AGENT_CONFIG.replace("[users.alice]\n", "[users.alice]\non_busy = \"callback\"\n");
    let mut h = Harness::with_config(&config);
    h.register("alice", ALICE);
    let branch = h.next_branch();
    let text = format!(
        "INVITE sip:frank@b.test SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch={branch}\r\nMax-Forwards: 70\r\n\
         To: <sip:frank@b.test>\r\nFrom: <sip:alice@example.com>;tag=al1\r\nCall-ID: alice-frank\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:alice@{ALICE}>\r\nContent-Length: 0\r\n\r\n"
    );
    h.recv(ALICE, &text);
    let invite = one_request(&mut h, TRUNK);
    let busy = with_header(
        &reply(&invite, 486, "fr1", TRUNK, None),
        "Call-Info: <sip:cc@b.test>;purpose=call-completion;m=BS",
    );
    h.recv(TRUNK, &busy);
    let sent: Vec<String> = h.take(TRUNK).iter().map(label).collect();
    assert_eq!(
        sent,
        ["ACK", "SUBSCRIBE"],
        "the policy's request subscribes at once"
    );
    let switch = h.engine.switch();
    let requests = switch.completions_of("alice").unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].target.key(), "sip:frank@b.test");
}

/// The monitor ends the subscription as soon as the CC call reaches it (§7.3), before its
/// answer: the CC call goes on and its answer completes the request (no cancel).
#[test]
fn the_monitors_final_notify_before_the_cc_calls_answer_does_not_cancel_it() {
    let mut h = Harness::with_config(AGENT_CONFIG);
    let id = requested(&mut h);
    let (subscribe, recall) = recalled(&mut h);
    h.recv(DAVE, &reply(&recall, 200, "dv2", DAVE, Some(SDP_A)));
    let cc_call = one_request(&mut h, TRUNK);
    assert_eq!(cc_call.uri().unwrap().to_string(), CC);
    notify(&mut h, &subscribe, 2, "terminated;reason=noresource", None);
    assert_eq!(agent_state(&h, id), None, "the subscription is over");
    assert!(super::completion::outstanding(&h, id), "not cancelled");
    assert!(
        super::completion::requests(&mut h, TRUNK).is_empty(),
        "no CANCEL of the CC call"
    );
    h.recv(TRUNK, &reply(&cc_call, 200, "fr2", TRUNK, Some(SDP_B)));
    assert!(!super::completion::outstanding(&h, id), "completed");
    assert!(super::completion::cancel_causes(&h).is_empty());
}

/// A monitor that never sends the final NOTIFY after an unsubscribe: the subscription is
/// forgotten after `FINAL_NOTIFY_WAIT`, without a refresh.
#[test]
fn an_unsubscribe_without_a_final_notify_is_forgotten() {
    let mut h = Harness::with_config(AGENT_CONFIG);
    let id = requested(&mut h);
    subscribed(&mut h, 60);
    h.engine.uncomplete_call("dave", id, h.now).unwrap();
    h.collect();
    let unsubscribe = one_request(&mut h, TRUNK);
    h.recv(
        TRUNK,
        &with_header(&reply(&unsubscribe, 200, "mon1", TRUNK, None), "Expires: 0"),
    );
    assert_eq!(agent_state(&h, id), Some(AgentState::Unsubscribing));
    h.advance(crate::subscription::agents::FINAL_NOTIFY_WAIT + Duration::from_secs(1));
    assert_eq!(agent_state(&h, id), None);
    assert!(
        super::completion::requests(&mut h, TRUNK).is_empty(),
        "no refresh of an ended subscription"
    );
}
