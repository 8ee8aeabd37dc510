//! Availability, fairness, suspension, guard, reservation, recall, retention and expiries
//! (DESIGN §2.3, digest §9.24 and §9.34), with injected time and no sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod completion_common;

use callcomp_switch::{
    Action, Availability, CallReason, CallerLeg, CompletionConfig, CompletionFact, CompletionId,
    CompletionMode, Fact, Failure, Party,
};
use completion_common::{config, t, Rig, Rig as R};

/// A callback from `from` on a busy call to `to` while `to` talks to `other`; returns the
/// request and the ref of `to`'s call.
fn busy_callback(
    rig: &mut Rig,
    from: &str,
    to: &str,
    other: &str,
    ms: u64,
) -> (CompletionId, callcomp_switch::CallRef) {
    let talk = rig.connect(other, to, ms);
    let call = rig.busy(from, to, ms);
    let (id, _) = rig.complete(call, CompletionMode::Callback, ms);
    (id, talk)
}

#[test]
fn busy_known_fires_after_guard_and_recall_is_offered() {
    let mut rig = Rig::new();
    let (id, talk) = busy_callback(&mut rig, "alice", "bob", "carol", 0);
    assert_eq!(
        rig.sw.completion(id).unwrap().availability(),
        Availability::Met
    );
    let ev = rig.hangup(talk, 5_000);
    assert_eq!(R::phases(&ev), ["completion 1 ready @1"]);
    assert!(rig.timer(6_499).is_empty());
    assert_eq!(rig.timer(6_500), ["completion 1 recalling @1"]);
    assert_eq!(
        rig.actions(),
        [Action::Recall {
            id,
            caller: "alice".into(),
            callee: "bob".into()
        }]
    );
    // The server rings alice: the recall is a new call with reason callcompletion and the id.
    let recall = callcomp_switch::CallRef(900);
    rig.fact(
        Fact::Dialed {
            call: recall,
            from: Party::External("Callback: bob".into()),
            to: completion_common::addr("alice"),
        },
        6_510,
    );
    let ev = rig.fact(
        Fact::Offered {
            call: recall,
            line: "alice".into(),
            reason: CallReason::Callcompletion,
            completion_id: Some(id.get()),
        },
        6_510,
    );
    assert_eq!(ev[..2], ["alice:5 appnewcall", "alice:5 offering"]);
    let c = rig.sw.call_by_number(5).unwrap();
    assert_eq!(
        (c.reason, c.completion_id),
        (CallReason::Callcompletion, Some(id.get()))
    );
    rig.fact(Fact::Answered { call: recall }, 8_000);
    assert!(rig
        .cfact(CompletionFact::RecallAnswered { id }, 8_000)
        .is_empty());
    // Answered: the ring timer is off.
    assert!(rig.timer(40_000).is_empty());
    let ev = rig.cfact(CompletionFact::RecallConnected { id }, 8_100);
    assert_eq!(ev, ["completion 1 completed @1", "alice numcompletions 0"]);
}

/// A callee that said busy with no call known to callcomp: availability unknown until its next
/// call through callcomp ends, or its dialog state says idle.
#[test]
fn busy_unknown_waits_for_the_next_call_or_dialog_idle() {
    let mut rig = Rig::new();
    let call = rig.busy("alice", "bob", 0);
    let (id, _) = rig.complete(call, CompletionMode::Callback, 10);
    assert_eq!(
        rig.sw.completion(id).unwrap().availability(),
        Availability::Unknown
    );
    assert!(rig.timer(100_000).is_empty());
    let talk = rig.connect("bob", "dave", 200_000);
    assert_eq!(rig.state(id), Some("queued"));
    let ev = rig.hangup(talk, 260_000);
    assert_eq!(R::phases(&ev), ["completion 1 ready @1"]);

    let mut rig = Rig::new();
    let call = rig.busy("alice", "bob", 0);
    let (id, _) = rig.complete(call, CompletionMode::Callback, 10);
    let ev = rig.cfact(CompletionFact::CalleeDialogIdle { line: "bob".into() }, 50);
    assert_eq!(ev, ["completion 1 ready @1"]);
    assert_eq!(
        rig.sw.completion(id).unwrap().availability(),
        Availability::Met
    );
}

/// CCNR: only a call of the callee established after the request, once ended, counts.
#[test]
fn noanswer_waits_for_an_established_call_to_end() {
    let mut rig = Rig::new();
    let (_, call) = rig.failed("alice", "bob", Failure::NoAnswer, CallerLeg::Released, 0);
    let (id, _) = rig.complete(call, CompletionMode::Callback, 10);
    assert_eq!(
        rig.sw.completion(id).unwrap().availability(),
        Availability::Waiting
    );
    // Bob's own call that is never answered does not count.
    let (r, _) = rig.dial("bob", "carol", true, 100);
    let ev = rig.hangup(r, 200);
    assert!(R::phases(&ev).is_empty());
    let talk = rig.connect("carol", "bob", 300);
    assert!(R::phases(&rig.hangup(talk, 400)).contains(&"completion 1 ready @1".to_string()));
}

#[test]
fn notregistered_waits_for_registration() {
    let mut rig = Rig::new();
    rig.cfact(CompletionFact::Unregistered { line: "bob".into() }, 0);
    let (_, call) = rig.failed(
        "alice",
        "bob",
        Failure::NotRegistered,
        CallerLeg::Released,
        0,
    );
    let (id, _) = rig.complete(call, CompletionMode::Callback, 10);
    assert!(rig.timer(10_000).is_empty());
    let ev = rig.cfact(CompletionFact::Registered { line: "bob".into() }, 20_000);
    assert_eq!(ev, ["bob inservice 0", "completion 1 ready @1"]);
    assert_eq!(rig.timer(21_500), ["completion 1 recalling @1"]);
    assert_eq!(rig.state(id), Some("recalling"));
}

/// FIFO per callee; a busy caller is suspended and the next tried; it resumes in its place.
#[test]
fn fifo_with_suspension_and_resumption() {
    let mut rig = Rig::new();
    let talk = rig.connect("bob", "dave", 0);
    let mut ids = Vec::new();
    for (i, from) in ["carol", "alice"].iter().enumerate() {
        let call = rig.busy(from, "bob", 10 + i as u64);
        ids.push(rig.complete(call, CompletionMode::Callback, 20).0);
    }
    let (carol, alice) = (ids[0], ids[1]);
    // Carol is on the phone when bob frees up: suspended; alice is next.
    let carol_talk = rig.connect("carol", "dave", 1_000);
    let ev = rig.hangup(talk, 2_000);
    assert_eq!(
        R::phases(&ev),
        ["completion 1 suspended @1", "completion 2 ready @2"]
    );
    assert!(rig.sw.is_reserved("bob", Some("carol")));
    assert!(rig.sw.is_reserved("bob", None));
    assert!(!rig.sw.is_reserved("bob", Some("alice")));
    // Carol hangs up: she is queued again in her place, behind nobody.
    let ev = rig.hangup(carol_talk, 2_500);
    assert_eq!(R::phases(&ev), ["completion 1 queued @1"]);
    assert_eq!(rig.sw.queue_position(carol), Some(1));
    assert_eq!(rig.timer(3_500), ["completion 2 recalling @2"]);
    rig.cfact(CompletionFact::RecallAnswered { id: alice }, 4_000);
    // Fired: bob stays reserved for alice until the recall's leg to bob opens.
    let ev = rig.cfact(CompletionFact::RecallConnected { id: alice }, 4_100);
    assert_eq!(ev, ["completion 2 completed @2", "alice numcompletions 0"]);
    assert!(rig.sw.is_reserved("bob", Some("carol")));
    // Bob's leg for alice's completed call opens, then ends: carol is selected.
    let done = rig.connect("alice", "bob", 4_200);
    let ev = rig.hangup(done, 9_000);
    assert_eq!(R::phases(&ev), ["completion 1 ready @1"]);
}

/// The callee makes its own call during the guard: it goes first, the waiter stays queued.
#[test]
fn guard_lets_the_callee_call_first() {
    let mut rig = Rig::new();
    let (id, talk) = busy_callback(&mut rig, "alice", "bob", "carol", 0);
    rig.hangup(talk, 1_000);
    assert_eq!(rig.state(id), Some("ready"));
    let own = rig.connect("bob", "dave", 2_000);
    assert_eq!(rig.state(id), Some("queued"));
    assert!(!rig.sw.is_reserved("bob", None));
    assert!(
        rig.timer(2_500).is_empty(),
        "the old guard deadline is gone"
    );
    let ev = rig.hangup(own, 10_000);
    assert_eq!(R::phases(&ev), ["completion 1 ready @1"]);
    assert_eq!(rig.timer(11_500), ["completion 1 recalling @1"]);
}

#[test]
fn guard_zero_fires_at_once() {
    let mut rig = Rig::with(CompletionConfig {
        guard: std::time::Duration::ZERO,
        ..config()
    });
    let (_, talk) = busy_callback(&mut rig, "alice", "bob", "carol", 0);
    let ev = rig.hangup(talk, 1_000);
    assert_eq!(
        R::phases(&ev),
        ["completion 1 ready @1", "completion 1 recalling @1"]
    );
}

/// With one attempt allowed, an unanswered recall ends the request (retention with more
/// attempts: `completion_recall_outcome.rs`).
#[test]
fn recall_unanswered_ends_and_the_next_waiter_goes() {
    let mut rig = Rig::with(CompletionConfig {
        recall_attempts: 1,
        ..config()
    });
    let talk = rig.connect("bob", "dave", 0);
    let a = rig.busy("alice", "bob", 1);
    let (first, _) = rig.complete(a, CompletionMode::Callback, 2);
    let c = rig.busy("carol", "bob", 3);
    rig.complete(c, CompletionMode::Callback, 4);
    rig.hangup(talk, 1_000);
    rig.timer(2_500);
    rig.actions();
    assert!(rig.timer(22_499).is_empty());
    let ev = rig.timer(22_500);
    assert_eq!(
        ev,
        [
            "completion 1 cancelled @1 (recall_unanswered)",
            "alice complcancel 1 recall_unanswered (0)",
            "alice numcompletions 0",
            "completion 2 ready @1",
        ]
    );
    assert_eq!(rig.actions(), [Action::CancelRecall { id: first }]);
    // The caller rejecting the recall is reported as a fact instead.
    rig.timer(24_000);
    let ev = rig.cfact(
        CompletionFact::RecallUnanswered {
            id: CompletionId::new(2).unwrap(),
        },
        25_000,
    );
    assert_eq!(ev[0], "completion 2 cancelled @1 (recall_unanswered)");
}

/// Retention: the recall finds the callee busy again; the request keeps its place.
#[test]
fn retention_keeps_the_place() {
    let mut rig = Rig::new();
    let talk = rig.connect("bob", "dave", 0);
    let a = rig.busy("alice", "bob", 1);
    let (first, _) = rig.complete(a, CompletionMode::Callback, 2);
    let c = rig.busy("carol", "bob", 3);
    rig.complete(c, CompletionMode::Callback, 4);
    rig.hangup(talk, 1_000);
    rig.timer(2_500);
    rig.cfact(CompletionFact::RecallAnswered { id: first }, 3_000);
    // Bob took another call meanwhile.
    let again = rig.connect("dave", "bob", 3_100);
    let ev = rig.cfact(CompletionFact::RecallCalleeBusy { id: first }, 3_200);
    assert_eq!(ev, ["completion 1 queued @1"]);
    let ev = rig.hangup(again, 9_000);
    assert_eq!(R::phases(&ev), ["completion 1 ready @1"]);
    // A recall that fails to reach the caller ends the request.
    rig.timer(10_500);
    let ev = rig.cfact(CompletionFact::RecallFailed { id: first }, 11_000);
    assert_eq!(
        ev[..2],
        [
            "completion 1 cancelled @1 (recall_failed)",
            "alice complcancel 1 recall_failed (0)"
        ]
    );
}

/// Expiry per condition; a caller unregistered at expiry gets its own cause.
#[test]
fn expiries_per_condition() {
    let rows: &[(Failure, u64, &str, bool)] = &[
        (Failure::Busy, 3_600_000, "expired", false),
        (Failure::NoAnswer, 7_200_000, "expired", false),
        (Failure::NotRegistered, 5_400_000, "expired", false),
        (Failure::Busy, 3_600_000, "caller_unregistered", true),
    ];
    for &(failure, life, cause, unregister) in rows {
        let mut rig = Rig::new();
        rig.cfact(CompletionFact::Unregistered { line: "bob".into() }, 0);
        let (_, call) = rig.failed("alice", "bob", failure, CallerLeg::Released, 0);
        rig.complete(call, CompletionMode::Callback, 1_000);
        if unregister {
            rig.cfact(
                CompletionFact::Unregistered {
                    line: "alice".into(),
                },
                2_000,
            );
        }
        assert!(rig.timer(1_000 + life - 1).is_empty(), "{failure:?}");
        let ev = rig.timer(1_000 + life);
        assert_eq!(
            ev,
            [
                format!("completion 1 cancelled @1 ({cause})"),
                format!("alice complcancel 1 {cause} (0)"),
                "alice numcompletions 0".to_string(),
            ],
            "{failure:?}"
        );
        assert_eq!(rig.sw.next_deadline(), None);
    }
}

/// An expiry during a recall lets the recall finish; a retention after it ends the request.
#[test]
fn expiry_waits_for_a_recall_in_progress() {
    let mut rig = Rig::with(CompletionConfig {
        ccbs_expiry: std::time::Duration::from_secs(10),
        ..config()
    });
    let (id, talk) = busy_callback(&mut rig, "alice", "bob", "carol", 0);
    rig.hangup(talk, 8_000);
    rig.timer(9_500);
    assert!(rig.timer(10_000).is_empty());
    assert_eq!(rig.state(id), Some("recalling"));
    rig.cfact(CompletionFact::RecallAnswered { id }, 11_000);
    let ev = rig.cfact(CompletionFact::RecallCalleeBusy { id }, 12_000);
    assert_eq!(
        ev,
        [
            "completion 1 queued @1",
            "completion 1 cancelled @1 (expired)",
            "alice complcancel 1 expired (0)",
            "alice numcompletions 0",
        ]
    );
}

#[test]
fn suspend_and_resume_by_the_callers_agent() {
    let mut rig = Rig::new();
    let (id, talk) = busy_callback(&mut rig, "alice", "bob", "carol", 0);
    assert_eq!(
        rig.cfact(CompletionFact::Suspend { id }, 100),
        ["completion 1 suspended @1"]
    );
    assert!(R::phases(&rig.hangup(talk, 200)).is_empty());
    assert!(!rig.sw.is_reserved("bob", None));
    assert_eq!(
        rig.cfact(CompletionFact::Resume { id }, 300),
        ["completion 1 queued @1", "completion 1 ready @1"]
    );
    // Suspending a recall stops it and frees the callee.
    rig.timer(1_800);
    let ev = rig.cfact(CompletionFact::Suspend { id }, 1_900);
    assert_eq!(ev, ["completion 1 suspended @1"]);
    assert_eq!(rig.actions().last(), Some(&Action::CancelRecall { id }));
}

#[test]
fn removed_lines_cancel_their_requests() {
    let mut rig = Rig::new();
    let a = rig.busy("alice", "bob", 0);
    rig.complete(a, CompletionMode::Callback, 1);
    let c = rig.busy("carol", "dave", 0);
    rig.complete(c, CompletionMode::Callback, 1);
    let ev = rig.cfact(CompletionFact::LineRemoved { line: "bob".into() }, 10);
    assert_eq!(ev[1], "alice complcancel 1 callee_deleted (0)");
    let ev = rig.cfact(
        CompletionFact::LineRemoved {
            line: "carol".into(),
        },
        10,
    );
    assert_eq!(ev[1], "carol complcancel 2 caller_deleted (0)");
    assert!(rig
        .sw
        .completion_fact(CompletionFact::Registered { line: "zoe".into() }, t(11))
        .is_err());
}

/// A caller who reaches the callee directly no longer needs the callback.
#[test]
fn a_direct_call_completes_the_callback() {
    let mut rig = Rig::new();
    let call = rig.busy("alice", "bob", 0);
    let (id, _) = rig.complete(call, CompletionMode::Callback, 10);
    rig.connect("carol", "dave", 20);
    assert!(rig.sw.completion(id).is_some());
    rig.connect("alice", "bob", 30);
    assert!(rig.sw.completion(id).is_none());
    assert_eq!(rig.sw.line_status("alice").unwrap().num_call_completions, 0);
}

/// DESIGN §4: `complcancel` and `completion` go out as flat JSON with names and values.
#[test]
fn complcancel_json_shape() {
    let mut rig = Rig::new();
    let call = rig.busy("alice", "bob", 0);
    rig.complete(call, CompletionMode::Callback, 0);
    let events = rig.sw.on_timer(t(3_600_000));
    let json: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    let s = events[0].seq;
    assert_eq!(
        json,
        [
            serde_json::json!({"seq": s, "at_ms": 3_600_000, "event": "completion",
                "completion_id": 1, "line": "alice", "target": "bob", "mode": "callback",
                "condition": "busy", "state": "cancelled", "position": 1, "cause": "expired"}),
            serde_json::json!({"seq": s + 1, "at_ms": 3_600_000, "event": "linedevstate",
                "line": "alice", "state": "complcancel", "state_value": 0x0080_0000,
                "num_call_completions": 0, "completion_id": 1, "cause": "expired"}),
            serde_json::json!({"seq": s + 2, "at_ms": 3_600_000, "event": "linedevstate",
                "line": "alice", "state": "numcompletions", "state_value": 0x1000,
                "num_call_completions": 0}),
        ]
    );
}

/// RFC 6910 §6.4, §7.4: the CC call arrives while the request is selected: a ringing recall
/// stops, the request stays `recalling` while the CC call rings the callee (reserved for that
/// caller only), and completes only when the callee answers; before the request is selected
/// the fact is refused and nothing changes.
#[test]
fn the_cc_call_completes_a_selected_request_when_the_callee_answers() {
    let mut rig = Rig::new();
    let (id, talk) = busy_callback(&mut rig, "alice", "bob", "carol", 0);
    let refused = rig
        .sw
        .completion_fact(CompletionFact::CcCall { id }, t(100));
    assert!(refused.is_err(), "queued: no CC call yet");
    assert_eq!(rig.state(id), Some("queued"));

    rig.hangup(talk, 5_000);
    assert_eq!(rig.timer(6_500), ["completion 1 recalling @1"]);
    rig.actions();
    let ev = rig.cfact(CompletionFact::CcCall { id }, 7_000);
    assert!(ev.is_empty(), "still recalling: {ev:?}");
    assert_eq!(rig.actions(), [Action::CancelRecall { id }]);
    assert!(
        rig.sw.is_reserved("bob", Some("carol")),
        "others are kept away"
    );
    assert!(
        !rig.sw.is_reserved("bob", Some("alice")),
        "the CC call goes through"
    );
    // The recall's ring timer (20 s) no longer runs: bob's phone may ring longer.
    assert!(rig.timer(30_000).is_empty());
    assert_eq!(rig.state(id), Some("recalling"));
    let ev = rig.cfact(CompletionFact::RecallConnected { id }, 31_000);
    assert_eq!(ev, ["completion 1 completed @1", "alice numcompletions 0"]);
    assert_eq!(rig.state(id), None);
    // The reservation lapses if the CC call's leg never shows at bob.
    assert!(rig.sw.is_reserved("bob", Some("carol")));
    rig.timer(31_000 + 5_000);
    assert!(!rig.sw.is_reserved("bob", Some("carol")));
}

/// The CC call may also come during the guard (`ready`, the caller's agent was told early);
/// when it finds the callee busy the request goes back to the queue (retention), counted as
/// a failed attempt.
#[test]
fn a_cc_call_finding_the_callee_busy_is_a_failed_attempt() {
    let mut rig = Rig::new();
    let (id, talk) = busy_callback(&mut rig, "alice", "bob", "carol", 0);
    rig.hangup(talk, 5_000);
    assert_eq!(rig.state(id), Some("ready"));
    let ev = rig.cfact(CompletionFact::CcCall { id }, 5_100);
    assert_eq!(ev, ["completion 1 recalling @1"]);
    assert!(rig.actions().is_empty(), "no recall was ringing");
    assert!(rig.timer(6_500).is_empty(), "the guard's end fires nothing");
    let ev = rig.cfact(CompletionFact::RecallCalleeBusy { id }, 7_000);
    assert_eq!(ev, ["completion 1 queued @1"]);
    assert_eq!(rig.sw.completion(id).unwrap().recall_failures, 1);
    assert!(
        !rig.sw.is_reserved("bob", Some("carol")),
        "bob is free again"
    );
}

/// A CC call whose outcome never comes (the server could not start it) counts as a failed
/// attempt after `CC_CALL_LIMIT`, so the callee is not reserved for ever.
#[test]
fn a_cc_call_without_an_outcome_fails_after_its_limit() {
    let mut rig = Rig::new();
    let (id, talk) = busy_callback(&mut rig, "alice", "bob", "carol", 0);
    rig.hangup(talk, 5_000);
    rig.cfact(CompletionFact::CcCall { id }, 5_100);
    let limit = callcomp_switch::completion::engine::CC_CALL_LIMIT;
    let just_before = 5_100 + u64::try_from(limit.as_millis()).unwrap() - 1;
    assert!(rig.timer(just_before).is_empty());
    assert!(rig.sw.is_reserved("bob", Some("carol")));
    assert_eq!(rig.timer(just_before + 1), ["completion 1 queued @1"]);
    assert_eq!(rig.sw.completion(id).unwrap().recall_failures, 1);
}
