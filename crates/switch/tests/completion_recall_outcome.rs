//! What a recall's failures do to its request (RFC 6910 §7.4 retention, issue #10): back in
//! the queue until `recall_attempts` failed, the end after that, and a caller found busy
//! suspends the request until it is free. Injected time, no sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod completion_common;

use callcomp_switch::{Action, CompletionConfig, CompletionFact, CompletionId, CompletionMode};
use completion_common::{config, Rig, Rig as R};

/// alice waits on bob (busy with dave); bob hangs up at 1 s, the guard ends at 2.5 s and
/// alice's recall starts. Returns alice's request.
fn alice_recalled(rig: &mut Rig) -> CompletionId {
    let talk = rig.connect("bob", "dave", 0);
    let a = rig.busy("alice", "bob", 1);
    let (id, _) = rig.complete(a, CompletionMode::Callback, 2);
    rig.hangup(talk, 1_000);
    assert_eq!(rig.timer(2_500), ["completion 1 recalling @1"]);
    assert_eq!(rig.actions().len(), 1, "the Recall action");
    id
}

/// alice then carol wait on bob (busy with dave); bob hangs up at 1 s and alice's recall
/// starts at 2.5 s. Returns both requests.
fn two_waiters_alice_recalled(rig: &mut Rig) -> (CompletionId, CompletionId) {
    let talk = rig.connect("bob", "dave", 0);
    let a = rig.busy("alice", "bob", 1);
    let (first, _) = rig.complete(a, CompletionMode::Callback, 2);
    let c = rig.busy("carol", "bob", 3);
    let (second, _) = rig.complete(c, CompletionMode::Callback, 4);
    rig.hangup(talk, 1_000);
    rig.timer(2_500);
    rig.actions();
    (first, second)
}

#[test]
fn a_recall_the_caller_does_not_answer_puts_the_request_back_in_its_place() {
    let mut rig = Rig::new();
    let (first, second) = two_waiters_alice_recalled(&mut rig);
    // recall_ring (20 s) passes unanswered: alice's request is queued again, first in line,
    // and carol's (whose condition is met) is served meanwhile.
    let ev = rig.timer(22_500);
    assert_eq!(ev, ["completion 1 queued @1", "completion 2 ready @2"]);
    assert_eq!(rig.actions(), [Action::CancelRecall { id: first }]);
    assert_eq!(rig.sw.completion(first).unwrap().recall_failures, 1);
    assert_eq!(rig.state(second), Some("ready"));
}

#[test]
fn the_callee_not_answering_retains_until_the_attempts_run_out() {
    let mut rig = Rig::with(CompletionConfig {
        recall_attempts: 2,
        ..config()
    });
    let id = alice_recalled(&mut rig);
    rig.cfact(CompletionFact::RecallAnswered { id }, 3_000);
    // The caller answered: her ring timer is off, the request is still recalling.
    assert!(rig.timer(30_000).is_empty());
    assert_eq!(rig.state(id), Some("recalling"));
    let ev = rig.cfact(CompletionFact::RecallCalleeNoAnswer { id }, 33_000);
    assert_eq!(ev, ["completion 1 queued @1"]);
    assert!(!rig.sw.is_reserved("bob", None), "bob is free again");

    // bob's next call ends: the request fires again, and fails again: the end.
    let talk = rig.connect("bob", "dave", 40_000);
    let ev = rig.hangup(talk, 50_000);
    assert_eq!(R::phases(&ev), ["completion 1 ready @1"]);
    assert_eq!(rig.timer(51_500), ["completion 1 recalling @1"]);
    rig.cfact(CompletionFact::RecallAnswered { id }, 52_000);
    let ev = rig.cfact(CompletionFact::RecallCalleeBusy { id }, 53_000);
    assert_eq!(
        ev[..2],
        [
            "completion 1 cancelled @1 (recall_callee_unavailable)",
            "alice complcancel 1 recall_callee_unavailable (0)"
        ]
    );
    assert_eq!(rig.state(id), None);
}

#[test]
fn only_the_callee_answering_completes_the_request() {
    let mut rig = Rig::new();
    let id = alice_recalled(&mut rig);
    rig.cfact(CompletionFact::RecallAnswered { id }, 3_000);
    assert_eq!(rig.state(id), Some("recalling"));
    let ev = rig.cfact(CompletionFact::RecallConnected { id }, 40_000);
    assert_eq!(ev, ["completion 1 completed @1", "alice numcompletions 0"]);
}

#[test]
fn a_busy_caller_suspends_the_request_until_she_is_free() {
    let mut rig = Rig::new();
    let (first, second) = two_waiters_alice_recalled(&mut rig);
    // alice's phone answers the recall 486: suspended (not an attempt), carol goes next.
    let ev = rig.cfact(CompletionFact::RecallCallerBusy { id: first }, 3_000);
    assert_eq!(ev, ["completion 1 suspended @1", "completion 2 ready @2"]);
    assert_eq!(rig.sw.completion(first).unwrap().recall_failures, 0);
    // carol's recall completes; bob's call with carol ends.
    assert_eq!(rig.timer(4_500), ["completion 2 recalling @2"]);
    rig.cfact(CompletionFact::RecallAnswered { id: second }, 5_000);
    rig.cfact(CompletionFact::RecallConnected { id: second }, 6_000);
    let with_carol = rig.connect("carol", "bob", 6_100);
    rig.hangup(with_carol, 9_000);
    assert_eq!(
        rig.state(first),
        Some("suspended"),
        "alice not seen free yet"
    );
    // alice's own call through callcomp ends: she is free, the request resumes and fires.
    let own = rig.connect("alice", "dave", 10_000);
    let ev = rig.hangup(own, 11_000);
    assert_eq!(
        R::phases(&ev),
        ["completion 1 queued @1", "completion 1 ready @1"]
    );
}
