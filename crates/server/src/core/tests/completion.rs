//! Call completion through the core (DESIGN §2.2, §3): a request made through the engine's
//! API, the recall rung on the caller's phone with the RFC 6910 Call-Info and no SDP, the
//! callee called with the caller's offer (RFC 3725 flow I), messages, the reservation, the
//! store writes and a restart.

use callcomp_switch::{CallReason, CallState, CompletionId, LineErr};

use super::*;
use crate::core::completion::snapshot_of;
use crate::store::StoredCompletion;

const CALLBACK: u32 = 0x2;
const MESSAGE: u32 = 0x8;
const CAMPON: u32 = 0x1;

/// `user`'s INVITE from its phone at `at` to `to`, with SDP_A.
pub(super) fn invite_from(h: &mut Harness, user: &str, at: &str, to: &str, call_id: &str) {
    invite_with(h, user, at, to, call_id, SDP_A);
}

/// `user`'s INVITE from its phone at `at` to `to`, offering `sdp`.
pub(super) fn invite_with(
    h: &mut Harness,
    user: &str,
    at: &str,
    to: &str,
    call_id: &str,
    sdp: &str,
) {
    let branch = h.next_branch();
    let text = format!(
        "INVITE sip:{to}@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch={branch}\r\nMax-Forwards: 70\r\n\
         To: <sip:{to}@example.com>\r\nFrom: <sip:{user}@example.com>;tag={user}1\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:{user}@{at}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    h.recv(at, &text);
}

/// The causes of the `completion` events with one, in order.
pub(super) fn cancel_causes(h: &Harness) -> Vec<String> {
    h.events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Completion(c) => c.cause.map(|c| c.as_str().to_owned()),
            _ => None,
        })
        .collect()
}

/// The requests sent to `at` since the last look (retransmitted responses left out).
pub(super) fn requests(h: &mut Harness, at: &str) -> Vec<Message> {
    h.take(at).into_iter().filter(Message::is_request).collect()
}

/// The one request sent to `at`.
pub(super) fn one_request(h: &mut Harness, at: &str) -> Message {
    let got = requests(h, at);
    assert_eq!(
        got.len(),
        1,
        "expected one request to {at}, got {:?}",
        got.iter().map(label).collect::<Vec<_>>()
    );
    got.into_iter().next().unwrap()
}

/// bob hangs up his call with alice (from [`connected`]); alice confirms the BYE.
pub(super) fn hang_up_alice(h: &mut Harness, to_bob: &Message) {
    h.recv(BOB, &from_callee("BYE", to_bob, "b1", 1, BOB, None));
    let bye = one_request(h, ALICE);
    h.recv(ALICE, &reply(&bye, 200, "", ALICE, None));
    h.take(BOB);
    h.take(ALICE);
}

/// The id of `line`'s call in state `state`.
pub(super) fn call_in(h: &Harness, line: &str, state: CallState) -> u32 {
    let switch = h.engine.switch();
    let switch = lock(&switch);
    let calls = switch.line_calls(line).unwrap();
    calls
        .iter()
        .find(|c| c.state == state)
        .unwrap_or_else(|| panic!("{line} has no {state} call"))
        .id
        .get()
}

/// lineCompleteCall through the core, the store committing at once; the completion id.
pub(super) fn complete(
    h: &mut Harness,
    call: u32,
    mode: u32,
    message_id: u32,
) -> Result<u32, LineErr> {
    let ticket = h.engine.complete_call(call, mode, message_id, h.now)?;
    h.collect();
    let replies = h.engine.drain_replies();
    assert_eq!(replies.len(), 1, "one answer per request");
    assert_eq!(replies[0].0, ticket);
    replies[0].1
}

/// dave calls bob, bob's phone answers 486: dave's call is busy.
pub(super) fn dave_gets_busy(h: &mut Harness, call_id: &str) -> u32 {
    invite_from(h, "dave", DAVE, "bob", call_id);
    let to_bob = h.one(BOB);
    h.recv(BOB, &reply(&to_bob, 486, "b9", BOB, None));
    h.take(BOB);
    let busy = h.one(DAVE);
    assert_eq!(busy.status(), Some(486));
    assert_eq!(offer_m(&busy).as_deref(), Some("BS"));
    call_in(h, "dave", CallState::Busy)
}

/// The rows the store holds after the jobs so far: upserts and deletes applied in order.
pub(super) fn stored(h: &Harness) -> Vec<StoredCompletion> {
    let mut rows: Vec<StoredCompletion> = Vec::new();
    for job in &h.other_jobs {
        match job {
            StoreJob::SaveCompletion { row, .. } => {
                rows.retain(|r| r.completion_id != row.completion_id);
                rows.push(row.clone());
            }
            StoreJob::DeleteCompletion { completion_id, .. } => {
                rows.retain(|r| r.completion_id != *completion_id);
            }
            _ => {}
        }
    }
    rows.sort_by_key(|r| r.seq);
    rows
}

pub(super) fn outstanding(h: &Harness, id: u32) -> bool {
    let switch = h.engine.switch();
    let switch = lock(&switch);
    CompletionId::new(id).is_some_and(|id| switch.completion(id).is_some())
}

/// The recall INVITE at `at`: no SDP, From `"Callback: bob" <sip:bob@…>`, the Call-Info.
fn assert_recall(m: &Message) {
    assert_eq!(label(m), "INVITE");
    assert!(m.body().is_empty(), "a recall carries no SDP");
    let from = header(m, HeaderName::From);
    assert!(
        from.starts_with("\"Callback: bob\" <sip:bob@example.com>"),
        "{from}"
    );
    let info = header(m, HeaderName::CallInfo);
    let id = info
        .strip_prefix("<sip:cc-")
        .and_then(|rest| rest.split('@').next())
        .unwrap_or_default();
    assert!(
        id.parse::<u32>().is_ok(),
        "the request's own cc URI: {info}"
    );
    assert!(
        info.ends_with(">;purpose=call-completion;m=BS")
            || info.ends_with(">;purpose=call-completion;m=NR")
            || info.ends_with(">;purpose=call-completion;m=NL"),
        "{info}"
    );
}

/// CCBS: bob busy in a call with alice; dave asks for a callback; bob hangs up; after the
/// guard dave's phone rings showing bob; dave answers and is answered at once by callcomp's
/// media (ringback); bob is called with callcomp's offer; the request completes when bob
/// answers.
#[test]
fn callback_on_busy_recalls_the_caller_answers_her_then_calls_the_callee() {
    let mut h = Harness::new();
    let (to_bob, _ok) = connected(&mut h);
    h.register("dave", DAVE);
    let call = dave_gets_busy(&mut h, "call-2");
    let id = complete(&mut h, call, CALLBACK, 0).unwrap();
    assert_eq!(stored(&h).len(), 1, "the request is stored");
    assert_eq!(stored(&h)[0].completion_id, id);
    // dave's original call went idle.
    assert!(lock(&h.engine.switch())
        .line_calls("dave")
        .unwrap()
        .is_empty());

    hang_up_alice(&mut h, &to_bob);
    h.advance(Duration::from_millis(1_000));
    assert!(
        requests(&mut h, DAVE).is_empty(),
        "the guard lets bob go first"
    );

    // A third party calling bob during the guard is answered busy without ringing bob.
    h.invite_from_alice("bob", "call-3");
    let busy = h.one(ALICE);
    assert_eq!(busy.status(), Some(486));
    assert!(h.take(BOB).is_empty());

    h.advance(Duration::from_millis(600));
    let recall = one_request(&mut h, DAVE);
    assert_recall(&recall);
    {
        let switch = h.engine.switch();
        let switch = lock(&switch);
        let calls = switch.line_calls("dave").unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].state, CallState::Offering);
        assert_eq!(calls[0].reason, CallReason::Callcompletion);
        assert_eq!(calls[0].completion_id, Some(id));
    }
    assert_eq!(stored(&h)[0].state, "recalling");

    h.recv(DAVE, &reply(&recall, 200, "d1", DAVE, Some(SDP_A)));
    // dave is acknowledged at once, with callcomp's answer to his offer (RFC 3264).
    let ack = h.one(DAVE);
    assert_eq!(label(&ack), "ACK");
    let answer = String::from_utf8(ack.body().to_vec()).unwrap();
    assert!(answer.contains("c=IN IP4 127.0.0.1\r\n"), "{answer}");
    assert!(
        answer.contains(" RTP/AVP 0\r\n"),
        "PCMU as offered: {answer}"
    );
    assert_eq!(header(&ack, HeaderName::ContentType), "application/sdp");
    let to_bob = h.one(BOB);
    assert_eq!(label(&to_bob), "INVITE");
    let offer = String::from_utf8(to_bob.body().to_vec()).unwrap();
    assert!(
        offer.contains("c=IN IP4 127.0.0.1\r\n") && offer.contains("RTP/AVP 0 8 101"),
        "bob gets callcomp's offer: {offer}"
    );
    assert!(header(&to_bob, HeaderName::From).contains("sip:dave@example.com"));
    assert!(outstanding(&h, id), "not completed before bob answers");

    h.recv(BOB, &reply(&to_bob, 180, "b2", BOB, None));
    assert!(outstanding(&h, id), "not completed while bob's phone rings");
    assert_eq!(stored(&h)[0].state, "recalling");
    h.recv(BOB, &reply(&to_bob, 200, "b2", BOB, Some(SDP_B)));
    assert_eq!(label(&h.one(BOB)), "ACK");
    assert!(h.take(DAVE).is_empty(), "dave was acknowledged already");
    assert!(!outstanding(&h, id), "completed once bob answers");
    assert!(stored(&h).is_empty(), "the row is deleted");
    let switch = h.engine.switch();
    let switch = lock(&switch);
    assert_eq!(
        switch.line_calls("dave").unwrap()[0].state,
        CallState::Connected
    );
}

/// CCNL: bob is not registered; alice's callback fires when bob registers.
#[test]
fn callback_on_not_registered_fires_at_the_callees_registration() {
    let mut h = Harness::new();
    h.register("alice", ALICE);
    h.invite_from_alice("bob", "call-1");
    let r = h.one(ALICE);
    assert_eq!(r.status(), Some(480));
    assert_eq!(offer_m(&r).as_deref(), Some("NL"));
    let call = call_in(&h, "alice", CallState::Busy);
    let id = complete(&mut h, call, CALLBACK, 0).unwrap();
    h.advance(Duration::from_secs(10));
    assert!(requests(&mut h, ALICE).is_empty());
    h.register("bob", BOB);
    h.advance(Duration::from_millis(1_500));
    let recall = one_request(&mut h, ALICE);
    assert_recall(&recall);
    assert!(outstanding(&h, id));
}

/// CCNR: bob does not answer; the callback fires after a call of bob's own ended.
#[test]
fn callback_on_no_answer_fires_after_the_callees_next_call() {
    let mut h = Harness::new();
    ringing(&mut h);
    h.register("dave", DAVE);
    h.advance(Duration::from_secs(30));
    h.take(BOB);
    let r = h.one(ALICE);
    assert_eq!(r.status(), Some(480));
    let call = call_in(&h, "alice", CallState::Ringback);
    complete(&mut h, call, CALLBACK, 0).unwrap();
    h.advance(Duration::from_secs(5));
    assert!(
        requests(&mut h, ALICE).is_empty(),
        "bob has not been seen using his phone"
    );

    // bob calls dave; dave answers and later hangs up.
    invite_from(&mut h, "bob", BOB, "dave", "call-9");
    h.take(BOB);
    let to_dave = h.one(DAVE);
    h.recv(DAVE, &reply(&to_dave, 200, "d1", DAVE, Some(SDP_B)));
    h.take(BOB);
    h.recv(DAVE, &from_callee("BYE", &to_dave, "d1", 1, DAVE, None));
    h.take(DAVE);
    h.take(BOB);
    h.advance(Duration::from_millis(1_500));
    assert_recall(&one_request(&mut h, ALICE));
}

/// Mode message: delivered at once to a registered callee; kept and delivered at the next
/// registration for an unregistered one.
#[test]
fn message_is_sent_at_once_and_completes_on_2xx() {
    let mut h = Harness::new();
    let to_bob = ringing(&mut h);
    h.recv(BOB, &reply(&to_bob, 486, "b1", BOB, None));
    h.take(BOB);
    h.take(ALICE);
    let call = call_in(&h, "alice", CallState::Busy);
    let id = complete(&mut h, call, MESSAGE, 2).unwrap();
    let msg = one_request(&mut h, BOB);
    assert_eq!(label(&msg), "MESSAGE");
    assert!(header(&msg, HeaderName::ContentType).starts_with("text/plain"));
    let body = String::from_utf8_lossy(msg.body()).into_owned();
    assert!(
        body.contains("Please call me back, it is urgent."),
        "{body}"
    );
    assert!(body.contains("alice"), "{body}");
    assert!(header(&msg, HeaderName::From).contains("sip:alice@example.com"));
    assert!(outstanding(&h, id));
    h.recv(BOB, &reply(&msg, 200, "m1", BOB, None));
    assert!(!outstanding(&h, id));
    assert!(stored(&h).is_empty());
}

#[test]
fn message_for_an_unregistered_callee_waits_for_its_registration() {
    let mut h = Harness::new();
    h.register("alice", ALICE);
    h.invite_from_alice("bob", "call-1");
    h.take(ALICE);
    let call = call_in(&h, "alice", CallState::Busy);
    let id = complete(&mut h, call, MESSAGE, 0).unwrap();
    assert!(h.take(BOB).is_empty());
    assert_eq!(stored(&h).len(), 1, "the undelivered message is stored");
    h.advance(Duration::from_secs(60));
    h.register("bob", BOB);
    let msg = one_request(&mut h, BOB);
    assert_eq!(label(&msg), "MESSAGE");
    // A refusal keeps it for the next registration.
    h.recv(BOB, &reply(&msg, 480, "m1", BOB, None));
    assert!(outstanding(&h, id));
    h.recv(
        BOB,
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.2:5062;branch=z9hG4bKunreg\r\n\
         Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:bob@example.com>;tag=rbob\r\n\
         Call-ID: reg-bob-192.0.2.2:5062\r\nCSeq: 99 REGISTER\r\nContact: *\r\nExpires: 0\r\n\
         Content-Length: 0\r\n\r\n",
    );
    h.take(BOB);
    h.register("bob", BOB);
    let again = one_request(&mut h, BOB);
    assert_eq!(label(&again), "MESSAGE");
    h.recv(BOB, &reply(&again, 200, "m2", BOB, None));
    assert!(!outstanding(&h, id));
}

/// dave's callback on the busy bob fires; dave's phone rings for `recall_ring` (20 s) and
/// is not answered. Returns the request and the recall's INVITE (its CANCEL is next out).
fn recall_rings_out(h: &mut Harness) -> (u32, Message) {
    let (to_bob, _ok) = connected(h);
    h.register("dave", DAVE);
    let call = dave_gets_busy(h, "call-2");
    let id = complete(h, call, CALLBACK, 0).unwrap();
    hang_up_alice(h, &to_bob);
    h.advance(Duration::from_millis(1_500));
    let recall = one_request(h, DAVE);
    h.recv(DAVE, &reply(&recall, 180, "d1", DAVE, None));
    h.events.clear();
    h.advance(Duration::from_secs(20));
    (id, recall)
}

/// With attempts left, a recall the caller does not answer puts the request back in the
/// queue (RFC 6910 §7.4 retention) instead of ending it.
#[test]
fn an_unanswered_recall_with_attempts_left_goes_back_to_the_queue() {
    let mut h = Harness::new();
    let (id, _recall) = recall_rings_out(&mut h);
    assert_eq!(label(&one_request(&mut h, DAVE)), "CANCEL");
    assert!(outstanding(&h, id), "retained, not cancelled");
    assert_eq!(stored(&h)[0].state, "queued");
    let ended = h
        .events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Completion(c) if c.cause.is_some()));
    assert!(!ended, "no cancel event");
}

/// Two callers waiting on bob are served in the order they asked.
#[test]
fn two_callers_are_recalled_in_order() {
    let mut h = Harness::new();
    let (to_bob, _ok) = connected(&mut h);
    h.register("dave", DAVE);
    h.register("carol", CAROL);
    let first = dave_gets_busy(&mut h, "call-2");
    complete(&mut h, first, CALLBACK, 0).unwrap();
    // carol calls bob: busy too.
    invite_from(&mut h, "carol", CAROL, "bob", "call-3");
    let to_bob2 = h.one(BOB);
    h.recv(BOB, &reply(&to_bob2, 486, "b8", BOB, None));
    h.take(BOB);
    h.take(CAROL);
    let second = call_in(&h, "carol", CallState::Busy);
    let carol_id = complete(&mut h, second, CALLBACK, 0).unwrap();
    {
        let switch = h.engine.switch();
        let switch = lock(&switch);
        let queue: Vec<String> = switch
            .completions_for("bob")
            .iter()
            .map(|r| r.speaking_line().to_owned())
            .collect();
        assert_eq!(queue, ["dave", "carol"]);
        assert_eq!(
            switch.queue_position(CompletionId::new(carol_id).unwrap()),
            Some(2)
        );
    }
    hang_up_alice(&mut h, &to_bob);
    h.advance(Duration::from_millis(1_500));
    assert!(requests(&mut h, CAROL).is_empty());
    let recall = one_request(&mut h, DAVE);
    assert_recall(&recall);
    h.recv(DAVE, &reply(&recall, 200, "d1", DAVE, Some(SDP_A)));
    let to_bob3 = h.one(BOB);
    h.recv(BOB, &reply(&to_bob3, 200, "b3", BOB, Some(SDP_B)));
    assert_eq!(
        lock(&h.engine.switch()).line_calls("bob").unwrap()[0].state,
        CallState::Connected,
        "bob's line sees the recall's call"
    );
    h.take(BOB);
    h.take(DAVE);
    // bob hangs up on dave: carol is next.
    // (CSeq 2: the test phone's branch is made from the CSeq, and 1 was its first BYE.)
    h.recv(BOB, &from_callee("BYE", &to_bob3, "b3", 2, BOB, None));
    h.take(DAVE);
    h.take(BOB);
    h.advance(Duration::from_millis(1_500));
    assert_recall(&one_request(&mut h, CAROL));
}

/// A recall nobody answers stops after `recall_ring`, and with `recall_attempts = 1` the
/// request is cancelled; a cancelled request stops its recall at once.
#[test]
fn unanswered_recall_is_cancelled_and_uncomplete_stops_a_recall() {
    let mut h = Harness::with_config(
        &CONFIG.replace("[completion]\n", "[completion]\nrecall_attempts = 1\n"),
    );
    let (id, recall) = recall_rings_out(&mut h);
    let cancel = one_request(&mut h, DAVE);
    assert_eq!(label(&cancel), "CANCEL");
    h.recv(DAVE, &reply(&cancel, 200, "d1", DAVE, None));
    h.recv(DAVE, &reply(&recall, 487, "d1", DAVE, None));
    h.take(DAVE);
    assert!(!outstanding(&h, id));
    let causes = cancel_causes(&h);
    assert_eq!(causes, ["recall_unanswered"]);

    // Again, and this time the application cancels during the recall.
    let call = dave_gets_busy(&mut h, "call-4");
    let id = complete(&mut h, call, CALLBACK, 0).unwrap();
    // bob is free (no call through callcomp ended after this request yet): wait for one.
    invite_from(&mut h, "bob", BOB, "alice", "call-5");
    h.take(BOB);
    let to_alice = one_request(&mut h, ALICE);
    h.recv(ALICE, &reply(&to_alice, 486, "a5", ALICE, None));
    h.take(ALICE);
    h.take(BOB);
    h.advance(Duration::from_millis(1_500));
    let recall = one_request(&mut h, DAVE);
    assert_recall(&recall);
    h.recv(DAVE, &reply(&recall, 180, "d2", DAVE, None));
    h.engine.uncomplete_call("dave", id, h.now).unwrap();
    h.collect();
    assert_eq!(label(&one_request(&mut h, DAVE)), "CANCEL");
    assert!(!outstanding(&h, id));
    assert_eq!(
        h.engine.uncomplete_call("dave", id, h.now),
        Err(LineErr::InvalCompletionId)
    );
    assert_eq!(
        h.engine.uncomplete_call("nobody", id, h.now),
        Err(LineErr::InvalLineHandle)
    );
}

/// DESIGN §2.1 refusals through the core, and the per-line limit.
#[test]
fn refusals_and_limits() {
    // Appended to the last section: carol's own limit.
    let config = format!("{CONFIG}max_call_completions = 1\n");
    let mut h = Harness::with_config(&config);
    h.register("alice", ALICE);
    h.register("bob", BOB);
    h.register("carol", CAROL);
    assert_eq!(
        h.engine.complete_call(999, CALLBACK, 0, h.now),
        Err(LineErr::InvalCallHandle)
    );
    invite_from(&mut h, "carol", CAROL, "bob", "c1");
    let to_bob = h.one(BOB);
    h.recv(BOB, &reply(&to_bob, 486, "b1", BOB, None));
    h.take(BOB);
    h.take(CAROL);
    let call = call_in(&h, "carol", CallState::Busy);
    assert_eq!(
        h.engine.complete_call(call, 0x3, 0, h.now),
        Err(LineErr::InvalCallComplMode)
    );
    assert_eq!(
        h.engine.complete_call(call, 0x4, 0, h.now),
        Err(LineErr::InvalCallState),
        "intrude needs the caller's INVITE held"
    );
    assert_eq!(
        h.engine.complete_call(call, CAMPON, 0, h.now),
        Err(LineErr::InvalCallState),
        "camp-on needs the caller's leg held"
    );
    assert_eq!(
        h.engine.complete_call(call, MESSAGE, 3, h.now),
        Err(LineErr::InvalMessageId)
    );
    complete(&mut h, call, CALLBACK, 0).unwrap();
    // bob said busy with no call known to callcomp: his dialog state is watched.
    assert_eq!(label(&one_request(&mut h, BOB)), "SUBSCRIBE");
    invite_from(&mut h, "carol", CAROL, "bob", "c2");
    let to_bob = h.one(BOB);
    h.recv(BOB, &reply(&to_bob, 486, "b2", BOB, None));
    h.take(BOB);
    h.take(CAROL);
    let call = call_in(&h, "carol", CallState::Busy);
    assert_eq!(
        h.engine.complete_call(call, CALLBACK, 0, h.now),
        Err(LineErr::CompletionOverrun)
    );
}

/// Nothing of an acceptance is seen before its row committed: no event, the call still busy,
/// no request outstanding; then everything at once, `reply` first.
#[test]
fn nothing_of_an_accept_happens_before_its_commit() {
    let mut h = Harness::new();
    let to_bob = ringing(&mut h);
    h.recv(BOB, &reply(&to_bob, 486, "b1", BOB, None));
    h.take(BOB);
    h.take(ALICE);
    let call = call_in(&h, "alice", CallState::Busy);
    h.events.clear();
    h.hold_store = true;
    let ticket = h.engine.complete_call(call, CALLBACK, 0, h.now).unwrap();
    h.collect();
    assert!(
        h.engine.drain_replies().is_empty(),
        "no answer before the write"
    );
    assert!(
        h.events.is_empty(),
        "no event before the write: {:?}",
        h.events
    );
    assert_eq!(call_in(&h, "alice", CallState::Busy), call);
    {
        let switch = h.engine.switch();
        assert!(lock(&switch).completions_of("alice").unwrap().is_empty());
    }
    // A second request on the same call meanwhile is refused as it would be afterwards.
    assert_eq!(
        h.engine.complete_call(call, CALLBACK, 0, h.now),
        Err(LineErr::InvalCallState)
    );
    let job = h.held.pop().unwrap();
    h.engine.store_done(job, Ok(()), h.now);
    h.collect();
    let replies = h.engine.drain_replies();
    assert_eq!(replies.len(), 1);
    let (answered, id) = (replies[0].0, replies[0].1.unwrap());
    assert_eq!(answered, ticket);
    assert!(outstanding(&h, id));
    let writes = h
        .other_jobs
        .iter()
        .filter(|j| matches!(j, StoreJob::SaveCompletion { row, .. } if row.completion_id == id))
        .count();
    assert_eq!(writes, 1, "one write per accept: {:?}", h.other_jobs);
    let reply_at = h
        .events
        .iter()
        .position(|e| matches!(&e.kind, EventKind::Reply(r) if r.result == 0))
        .unwrap();
    let count_at = h
        .events
        .iter()
        .position(|e| matches!(e.kind, EventKind::LineDevState(_)))
        .unwrap();
    assert!(reply_at < count_at, "{:?}", h.events);
}

/// A failed write: nothing changed (the call still busy, nothing outstanding, no SIP), and the
/// only event is the `reply` carrying the error; an unavailable store says RESOURCEUNAVAIL.
#[test]
fn a_failed_store_write_refuses_with_only_a_reply_event() {
    for (fault, error) in [
        (StoreFault::Failed, LineErr::OperationFailed),
        (StoreFault::Unavailable, LineErr::ResourceUnavail),
    ] {
        let mut h = Harness::new();
        let to_bob = ringing(&mut h);
        h.recv(BOB, &reply(&to_bob, 486, "b1", BOB, None));
        h.take(BOB);
        h.take(ALICE);
        let call = call_in(&h, "alice", CallState::Busy);
        h.events.clear();
        h.hold_store = true;
        let ticket = h.engine.complete_call(call, CALLBACK, 0, h.now).unwrap();
        h.collect();
        let job = h.held.pop().unwrap();
        h.engine.store_done(job, Err(fault), h.now);
        h.collect();
        assert_eq!(h.engine.drain_replies(), [(ticket, Err(error))]);
        assert_eq!(h.events.len(), 1, "{:?}", h.events);
        let EventKind::Reply(r) = &h.events[0].kind else {
            panic!("not a reply: {:?}", h.events[0]);
        };
        assert_eq!(r.result, error.value());
        assert!(h.take(ALICE).is_empty() && h.take(BOB).is_empty(), "no SIP");
        assert_eq!(call_in(&h, "alice", CallState::Busy), call);
        let switch = h.engine.switch();
        assert!(lock(&switch).completions_of("alice").unwrap().is_empty());
    }
}

/// lineUncompleteCall: the delete commits before anything changes; a failed delete leaves the
/// request outstanding (and rewrites its row), a committed one cancels it.
#[test]
fn a_cancel_is_applied_only_after_its_delete_committed() {
    let mut h = Harness::new();
    let (_to_bob, _ok) = connected(&mut h);
    h.register("dave", DAVE);
    let call = dave_gets_busy(&mut h, "call-2");
    let id = complete(&mut h, call, CALLBACK, 0).unwrap();
    h.events.clear();
    h.hold_store = true;
    let ticket = h.engine.uncomplete_call("dave", id, h.now).unwrap();
    h.collect();
    assert!(outstanding(&h, id), "still outstanding before the delete");
    assert!(h.events.is_empty());
    assert_eq!(
        h.engine.uncomplete_call("dave", id, h.now),
        Err(LineErr::InvalCompletionId),
        "a second cancel while the first is on its way"
    );
    let job = h.held.pop().unwrap();
    assert!(matches!(
        h.other_jobs.last(),
        Some(StoreJob::DeleteCompletion { completion_id, .. }) if *completion_id == id
    ));
    h.engine
        .store_done(job, Err(StoreFault::Unavailable), h.now);
    h.collect();
    assert_eq!(
        h.engine.drain_replies(),
        [(ticket, Err(LineErr::ResourceUnavail))]
    );
    assert!(outstanding(&h, id));
    assert!(h.events.is_empty());
    // The row comes back (rewritten), then a cancel that commits.
    let rewrite = h.held.pop().unwrap();
    h.engine.store_done(rewrite, Ok(()), h.now);
    assert_eq!(stored(&h).len(), 1);
    let ticket = h.engine.uncomplete_call("dave", id, h.now).unwrap();
    h.collect();
    let job = h.held.pop().unwrap();
    h.engine.store_done(job, Ok(()), h.now);
    h.collect();
    assert_eq!(h.engine.drain_replies(), [(ticket, Ok(id))]);
    assert!(!outstanding(&h, id));
    assert!(stored(&h).is_empty());
}

/// While a cancel's delete is on its way, no write of that request is queued: it would bring
/// back the row the delete removes.
#[test]
fn no_write_of_a_request_being_cancelled() {
    let mut h = Harness::new();
    let (to_bob, _ok) = connected(&mut h);
    h.register("dave", DAVE);
    let call = dave_gets_busy(&mut h, "call-2");
    let id = complete(&mut h, call, CALLBACK, 0).unwrap();
    h.hold_store = true;
    let _ticket = h.engine.uncomplete_call("dave", id, h.now).unwrap();
    h.collect();
    let jobs_before = h.other_jobs.len();
    // bob hangs up: the request becomes ready, which would re-write its row.
    hang_up_alice(&mut h, &to_bob);
    h.advance(Duration::from_millis(100));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Completion(c) if c.completion_id.get() == id)),
        "the request did move on"
    );
    let writes: Vec<&StoreJob> = h.other_jobs[jobs_before..]
        .iter()
        .filter(|j| matches!(j, StoreJob::SaveCompletion { row, .. } if row.completion_id == id))
        .collect();
    assert!(writes.is_empty(), "{writes:?}");
}

/// A restart with a request outstanding: the stored rows come back, the request still
/// recalls (the callee counts as free after a restart).
#[test]
fn restart_reloads_and_still_recalls() {
    let mut h = Harness::new();
    let (_to_bob, _ok) = connected(&mut h);
    h.register("dave", DAVE);
    let call = dave_gets_busy(&mut h, "call-2");
    let id = complete(&mut h, call, CALLBACK, 0).unwrap();
    let rows = stored(&h);
    assert_eq!(rows.len(), 1);

    let mut h2 = Harness::new();
    h2.now = h.now.after(Duration::from_secs(5));
    h2.engine
        .import_completions(snapshot_of(rows, 1), h2.now)
        .unwrap();
    h2.register("dave", DAVE);
    h2.register("bob", BOB);
    {
        let switch = h2.engine.switch();
        let switch = lock(&switch);
        let r = switch.completion(CompletionId::new(id).unwrap()).unwrap();
        assert_eq!(r.line(), Some("dave"));
        assert_eq!(r.target, "bob");
    }
    h2.advance(Duration::from_millis(1_500));
    assert_recall(&one_request(&mut h2, DAVE));
}

/// A configuration where dave's busy calls are held 10 s and camp-ons wait at most 60 s;
/// carol camps on and alice asks for callbacks by policy.
pub(super) const HOLD_CONFIG: &str = r#"
domain = "example.com"
[sip]
no_answer_timeout = "30s"
[completion]
offer_window = "20s"
campon_max = "60s"
[users.alice]
on_busy = "callback"
[users.bob]
[users.dave]
busy_hold = "10s"
[users.carol]
on_busy = "campon"
"#;

/// dave calls bob (busy in a call with alice): dave's INVITE is held with 183 + offer.
pub(super) fn dave_held(h: &mut Harness) -> (Message, u32) {
    let (to_bob, _ok) = connected(h);
    h.register("dave", DAVE);
    invite_from(h, "dave", DAVE, "bob", "call-2");
    let to_bob2 = one_request(h, BOB);
    h.recv(BOB, &reply(&to_bob2, 486, "b9", BOB, None));
    h.take(BOB);
    let held = h.one(DAVE);
    assert_eq!(held.status(), Some(183));
    assert_eq!(offer_m(&held).as_deref(), Some("BS"));
    let call = call_in(h, "dave", CallState::Busy);
    (to_bob, call)
}

/// DESIGN §2.5: with `busy_hold`, camp-on can be asked; the caller hears 182 Queued and is
/// put through when the callee frees up.
#[test]
fn campon_from_busy_hold_goes_through_when_the_callee_is_free() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    let (to_bob, call) = dave_held(&mut h);
    let id = complete(&mut h, call, CAMPON, 0).unwrap();
    let queued = h.one(DAVE);
    assert_eq!(queued.status(), Some(182));
    // Past busy_hold nothing ends: the caller is camped on.
    h.advance(Duration::from_secs(15));
    assert!(h.take(DAVE).iter().all(|m| m.status() != Some(486)));
    hang_up_alice(&mut h, &to_bob);
    h.advance(Duration::from_millis(1_500));
    let to_bob3 = one_request(&mut h, BOB);
    assert_eq!(label(&to_bob3), "INVITE");
    assert_eq!(
        to_bob3.body(),
        SDP_A.as_bytes(),
        "the same call, with its offer"
    );
    assert!(!outstanding(&h, id), "a camp-on completes when it fires");
    {
        let switch = h.engine.switch();
        let switch = lock(&switch);
        let c = &switch.line_calls("dave").unwrap()[0];
        assert_eq!(c.reason, CallReason::Callcompletion);
        assert_eq!(c.completion_id, Some(id));
    }
    h.recv(BOB, &reply(&to_bob3, 200, "b3", BOB, Some(SDP_B)));
    let ok = h.one(DAVE);
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.body(), SDP_B.as_bytes());
}

/// Camp-on timeout (`campon_max`): the caller gets 486 and the request is cancelled; the
/// queue keeps the INVITE alive with a provisional in between.
#[test]
fn campon_times_out_with_486_and_busy_hold_alone_ends_in_486() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    let (_to_bob, call) = dave_held(&mut h);
    let id = complete(&mut h, call, CAMPON, 0).unwrap();
    assert_eq!(h.one(DAVE).status(), Some(182));
    h.advance(Duration::from_secs(50));
    assert_eq!(h.one(DAVE).status(), Some(182), "refreshed within a minute");
    h.advance(Duration::from_secs(10));
    let busy = h.one(DAVE);
    assert_eq!(busy.status(), Some(486));
    assert!(!outstanding(&h, id));

    // Held without a decision: 486 once busy_hold is over.
    invite_from(&mut h, "dave", DAVE, "bob", "call-7");
    let to_bob = one_request(&mut h, BOB);
    h.recv(BOB, &reply(&to_bob, 486, "b7", BOB, None));
    h.take(BOB);
    assert_eq!(h.one(DAVE).status(), Some(183));
    let of_call7 = |h: &mut Harness| -> Vec<u16> {
        h.take(DAVE)
            .iter()
            .filter(|m| header(m, HeaderName::CallId) == "call-7")
            .filter_map(Message::status)
            .collect()
    };
    h.advance(Duration::from_secs(9));
    assert!(of_call7(&mut h).is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(of_call7(&mut h), [486]);
}

/// Policies (DESIGN §3): carol (`on_busy = "campon"`) is camped on automatically although
/// her line holds no INVITE for a decision; alice (`on_busy = "callback"`) gets a callback.
#[test]
fn policies_request_completion_on_the_callers_behalf() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    h.register("alice", ALICE);
    h.register("bob", BOB);
    h.register("carol", CAROL);
    h.register("dave", DAVE);
    // bob is busy with dave.
    invite_from(&mut h, "dave", DAVE, "bob", "call-1");
    let to_bob = one_request(&mut h, BOB);
    h.recv(BOB, &reply(&to_bob, 200, "b1", BOB, Some(SDP_B)));
    h.take(DAVE);

    invite_from(&mut h, "carol", CAROL, "bob", "call-2");
    let to_bob2 = one_request(&mut h, BOB);
    h.recv(BOB, &reply(&to_bob2, 486, "b2", BOB, None));
    h.take(BOB);
    let got: Vec<u16> = h.take(CAROL).iter().filter_map(Message::status).collect();
    assert_eq!(got, [183, 182]);
    let switch = h.engine.switch();
    let carol: Vec<String> = lock(&switch)
        .completions_of("carol")
        .unwrap()
        .iter()
        .map(|r| r.mode.as_str().to_owned())
        .collect();
    assert_eq!(carol, ["campon"]);

    h.invite_from_alice("bob", "call-3");
    let to_bob3 = one_request(&mut h, BOB);
    h.recv(BOB, &reply(&to_bob3, 486, "b3", BOB, None));
    h.take(BOB);
    assert_eq!(h.one(ALICE).status(), Some(486));
    let alice: Vec<String> = lock(&switch)
        .completions_of("alice")
        .unwrap()
        .iter()
        .map(|r| r.mode.as_str().to_owned())
        .collect();
    assert_eq!(alice, ["callback"]);
    assert_eq!(stored(&h).len(), 2, "both are stored");
}

/// One path for the policy and the API: carol's policy camp-on keeps her held INVITE while its
/// store write is pending (past `busy_hold`, which is 0 for her), hears `182 Queued` only once
/// it is stored, and a failed write ends her INVITE with 486 and leaves no request.
#[test]
fn policy_campon_waits_for_its_store_write_and_a_failed_write_releases_the_caller() {
    let mut h = Harness::with_config(HOLD_CONFIG);
    for (user, at) in [("bob", BOB), ("carol", CAROL), ("dave", DAVE)] {
        h.register(user, at);
    }
    invite_from(&mut h, "dave", DAVE, "bob", "call-1");
    let to_bob = one_request(&mut h, BOB);
    h.recv(BOB, &reply(&to_bob, 200, "b1", BOB, Some(SDP_B)));
    h.take(DAVE);

    h.hold_store = true;
    let carol_gets = |h: &mut Harness, call_id: &str| -> Vec<u16> {
        h.take(CAROL)
            .iter()
            .filter(|m| header(m, HeaderName::CallId) == call_id)
            .filter_map(Message::status)
            .collect()
    };
    invite_from(&mut h, "carol", CAROL, "bob", "call-2");
    let to_bob2 = one_request(&mut h, BOB);
    h.recv(BOB, &reply(&to_bob2, 486, "b2", BOB, None));
    h.take(BOB);
    assert_eq!(
        carol_gets(&mut h, "call-2"),
        [183],
        "no 182 before the write"
    );
    h.advance(Duration::from_secs(5));
    assert!(
        carol_gets(&mut h, "call-2").is_empty(),
        "kept past busy_hold"
    );
    let job = h.held.pop().unwrap();
    h.engine.store_done(job, Err(StoreFault::Failed), h.now);
    h.collect();
    assert_eq!(carol_gets(&mut h, "call-2"), [486]);
    let switch = h.engine.switch();
    assert!(lock(&switch).completions_of("carol").unwrap().is_empty());

    // The same ask with a working store: queued once stored.
    invite_from(&mut h, "carol", CAROL, "bob", "call-3");
    let to_bob3 = one_request(&mut h, BOB);
    h.recv(BOB, &reply(&to_bob3, 486, "b3", BOB, None));
    h.take(BOB);
    assert_eq!(carol_gets(&mut h, "call-3"), [183]);
    let job = h.held.pop().unwrap();
    h.engine.store_done(job, Ok(()), h.now);
    h.collect();
    assert_eq!(carol_gets(&mut h, "call-3"), [182]);
    assert_eq!(lock(&switch).completions_of("carol").unwrap().len(), 1);
}

/// alice calls bob, whose phone answers 486 although callcomp knows no call of his.
fn bob_busy_elsewhere(h: &mut Harness) -> u32 {
    h.register("alice", ALICE);
    h.register("bob", BOB);
    h.invite_from_alice("bob", "call-1");
    let to_bob = one_request(h, BOB);
    h.recv(BOB, &reply(&to_bob, 486, "b1", BOB, None));
    h.take(BOB);
    h.take(ALICE);
    call_in(h, "alice", CallState::Busy)
}

/// RFC 4235: a callee busy with no call known to callcomp is watched; a NOTIFY showing no
/// confirmed dialog makes it available, and the recall follows.
#[test]
fn dialog_watch_makes_an_unknown_callee_available() {
    let mut h = Harness::new();
    let call = bob_busy_elsewhere(&mut h);
    let id = complete(&mut h, call, CALLBACK, 0).unwrap();
    let subscribe = one_request(&mut h, BOB);
    assert_eq!(label(&subscribe), "SUBSCRIBE");
    assert_eq!(header(&subscribe, HeaderName::Event), "dialog");
    assert_eq!(
        header(&subscribe, HeaderName::Accept),
        "application/dialog-info+xml"
    );
    h.recv(BOB, &reply(&subscribe, 200, "bs", BOB, None));
    let notify = |body: &str, seq: u32| {
        format!(
            "NOTIFY sip:callcomp@{SERVER} SIP/2.0\r\nVia: SIP/2.0/UDP {BOB};branch=z9hG4bKnotify{seq}\r\n\
             Max-Forwards: 70\r\nFrom: {};tag=bs\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {seq} NOTIFY\r\n\
             Contact: <sip:bob@{BOB}>\r\nEvent: dialog\r\nSubscription-State: active;expires=3600\r\n\
             Content-Type: application/dialog-info+xml\r\nContent-Length: {}\r\n\r\n{body}",
            header(&subscribe, HeaderName::To),
            header(&subscribe, HeaderName::From),
            header(&subscribe, HeaderName::CallId),
            body.len()
        )
    };
    // Still in a call on the phone: nothing happens.
    let busy = r#"<dialog-info version="0" state="full" entity="sip:bob@example.com"><dialog id="d1"><state>confirmed</state></dialog></dialog-info>"#;
    h.recv(BOB, &notify(busy, 1));
    assert_eq!(h.one(BOB).status(), Some(200));
    h.advance(Duration::from_secs(5));
    assert!(requests(&mut h, ALICE).is_empty());
    // The phone's call ended. The same news from another address is not believed.
    let idle = r#"<dialog-info version="1" state="full" entity="sip:bob@example.com"/>"#;
    h.recv(DAVE, &notify(idle, 2));
    assert_eq!(h.one(DAVE).status(), Some(403));
    h.advance(Duration::from_secs(5));
    assert!(requests(&mut h, ALICE).is_empty());
    h.recv(BOB, &notify(idle, 3));
    let got = h.take(BOB);
    assert_eq!(
        got.iter().map(label).collect::<Vec<_>>(),
        ["200", "SUBSCRIBE"]
    );
    // Its work done, the watch unsubscribes in its dialog (RFC 6665 §4.1.2.3)...
    let unsubscribe = &got[1];
    assert_eq!(header(unsubscribe, HeaderName::Expires), "0");
    assert!(header(unsubscribe, HeaderName::To).contains("tag=bs"));
    assert_eq!(header(unsubscribe, HeaderName::CSeq), "2 SUBSCRIBE");
    assert_eq!(
        unsubscribe.uri().unwrap().to_string(),
        format!("sip:phone@{BOB}")
    );
    h.recv(BOB, &reply(unsubscribe, 200, "bs", BOB, None));
    // ...and answers the final NOTIFY, after which the watch is gone.
    let last = notify("", 4).replace("active;expires=3600", "terminated;reason=timeout");
    h.recv(BOB, &last);
    assert_eq!(h.one(BOB).status(), Some(200));
    assert!(!h
        .engine
        .subscriptions()
        .watches
        .is_watch(&header(&subscribe, HeaderName::CallId)));
    h.advance(Duration::from_millis(1_500));
    assert_recall(&one_request(&mut h, ALICE));
    assert!(outstanding(&h, id));
}

/// The watch refreshes its subscription in its dialog before the granted time runs out.
#[test]
fn dialog_watch_refreshes_before_it_runs_out() {
    let mut h = Harness::new();
    let call = bob_busy_elsewhere(&mut h);
    complete(&mut h, call, CALLBACK, 0).unwrap();
    let subscribe = one_request(&mut h, BOB);
    let ok = reply(&subscribe, 200, "bs", BOB, None)
        .replace("Content-Length: 0", "Expires: 120\r\nContent-Length: 0");
    h.recv(BOB, &ok);
    h.advance(Duration::from_secs(89));
    assert!(requests(&mut h, BOB).is_empty(), "not yet");
    h.advance(Duration::from_millis(1_200));
    let refresh = one_request(&mut h, BOB);
    assert_eq!(label(&refresh), "SUBSCRIBE");
    assert_eq!(header(&refresh, HeaderName::Expires), "3600");
    assert_eq!(
        header(&refresh, HeaderName::CallId),
        header(&subscribe, HeaderName::CallId)
    );
    assert!(header(&refresh, HeaderName::To).contains("tag=bs"));
    assert_eq!(header(&refresh, HeaderName::CSeq), "2 SUBSCRIBE");
    assert_eq!(header(&refresh, HeaderName::Event), "dialog");
}

/// A phone that refuses the subscription leaves the availability `unknown`.
#[test]
fn refused_dialog_watch_leaves_availability_unknown() {
    let mut h = Harness::new();
    let call = bob_busy_elsewhere(&mut h);
    let id = complete(&mut h, call, CALLBACK, 0).unwrap();
    let subscribe = one_request(&mut h, BOB);
    h.recv(BOB, &reply(&subscribe, 489, "bs", BOB, None));
    h.advance(Duration::from_secs(60));
    assert!(requests(&mut h, ALICE).is_empty());
    let switch = h.engine.switch();
    let switch = lock(&switch);
    let r = switch.completion(CompletionId::new(id).unwrap()).unwrap();
    assert_eq!(r.availability(), callcomp_switch::Availability::Unknown);
}

/// The new events reach the API's subscribers as JSON objects named `reply`, `linedevstate`
/// and `completion`, with the request's id.
#[test]
fn completion_events_are_published_in_order() {
    let mut h = Harness::new();
    let to_bob = ringing(&mut h);
    h.recv(BOB, &reply(&to_bob, 486, "b1", BOB, None));
    h.take(BOB);
    h.take(ALICE);
    let call = call_in(&h, "alice", CallState::Busy);
    h.events.clear();
    let id = complete(&mut h, call, CALLBACK, 0).unwrap();
    let names: Vec<String> = h
        .events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .filter(|v| v["event"] != "callstate" && v["event"] != "callinfo")
        .map(|v| {
            let detail = v["state"].as_str().unwrap_or_default().to_owned();
            format!("{}:{detail}", v["event"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        names,
        ["reply:", "linedevstate:numcompletions", "completion:queued"]
    );
    let completion = h
        .events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .find(|v| v["event"] == "completion")
        .unwrap();
    assert_eq!(completion["completion_id"].as_u64(), Some(u64::from(id)));
    assert_eq!(completion["target"], "bob");
}

/// A `notregistered` request reloaded after its callee registered fires without waiting for
/// another registration.
#[test]
fn reload_learns_registrations_made_while_down() {
    let mut h = Harness::new();
    h.register("alice", ALICE);
    h.invite_from_alice("bob", "call-1");
    h.take(ALICE);
    let call = call_in(&h, "alice", CallState::Busy);
    complete(&mut h, call, CALLBACK, 0).unwrap();
    let rows = stored(&h);

    let mut h2 = Harness::new();
    h2.register("alice", ALICE);
    h2.register("bob", BOB);
    h2.engine
        .import_completions(snapshot_of(rows, 1), h2.now)
        .unwrap();
    h2.advance(Duration::from_millis(1_500));
    assert_recall(&one_request(&mut h2, ALICE));
}
