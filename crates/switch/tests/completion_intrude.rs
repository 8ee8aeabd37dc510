//! Intrusion (DESIGN §2.2, digest §9.22 and §9.25), event by event with injected time: the
//! request fires at once, the server joins the intruder into the callee's call and says so, the
//! intruder's call goes `connected` with reason `callcompletion`, and the joined call's
//! appearances show reason `intrude`. Refusals are rows of `completion_validate.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod completion_common;

use callcomp_switch::{
    Action, CallReason, CallRef, CallState, CallerLeg, CompletionFact, CompletionFactError,
    CompletionId, CompletionMode, Fact, Failure, LineErr, Side,
};
use completion_common::{t, Rig, Rig as R};

/// carol talks to bob; alice calls bob, is held busy, and asks to intrude. Returns the
/// joined call, alice's held call and her call id, and the request.
fn intruding(rig: &mut Rig) -> (CallRef, CallRef, callcomp_switch::CallId, CompletionId) {
    let talk = rig.connect("carol", "bob", 0);
    let (held, call) = rig.failed("alice", "bob", Failure::Busy, CallerLeg::Held, 100);
    let (id, ev) = rig.complete(call, CompletionMode::Intrude, 200);
    assert_eq!(
        ev,
        [
            "alice reply completecall 1",
            "alice numcompletions 1",
            "completion 1 queued",
            "completion 1 ready",
        ],
        "accepted and firing at once"
    );
    assert_eq!(
        rig.actions(),
        [Action::Intrude {
            id,
            call: held,
            into: talk
        }]
    );
    let c = rig.sw.call(call).unwrap();
    assert_eq!(
        (c.state, c.leg_open),
        (CallState::Busy, true),
        "busy until joined"
    );
    (talk, held, call, id)
}

#[test]
fn intrusion_connects_the_intruder_and_marks_the_joined_call() {
    let mut rig = Rig::new();
    let (talk, held, call, id) = intruding(&mut rig);
    let ev = rig.cfact(CompletionFact::IntrusionJoined { id }, 300);
    assert_eq!(
        ev,
        [
            "alice:3 callinfo reason|completionid",
            "alice:3 connected",
            "carol:1 callinfo reason",
            "bob:2 callinfo reason",
            "completion 1 completed",
            "alice numcompletions 0",
        ]
    );
    let c = rig.sw.call(call).unwrap();
    assert_eq!(
        (c.state, c.reason, c.completion_id),
        (CallState::Connected, CallReason::Callcompletion, Some(1))
    );
    for joined in rig.sw.calls_of(talk) {
        assert_eq!(
            (joined.reason, joined.completion_id, joined.state),
            (CallReason::Intrude, None, CallState::Connected),
            "{}",
            joined.line
        );
    }
    // Fired: the id is gone, and the joined call cannot be joined twice.
    assert_eq!(
        rig.uncomplete("alice", 1, 310),
        Err(LineErr::InvalCompletionId)
    );
    let (_, second) = rig.failed("dave", "bob", Failure::Busy, CallerLeg::Held, 320);
    assert!(!rig
        .sw
        .completable_modes(second)
        .contains(&CompletionMode::Intrude));
    // The intruder leaves: her call ends, the joined call goes on.
    assert_eq!(rig.hangup(held, 400), ["alice:3 idle"]);
    assert_eq!(rig.sw.calls_of(talk).len(), 2);
    // The intruder's call, connected, is ended like any other when the joined call ends first.
    let mut rig = Rig::new();
    let (talk, held, call, id) = intruding(&mut rig);
    rig.cfact(CompletionFact::IntrusionJoined { id }, 300);
    rig.hangup(talk, 400);
    assert_eq!(
        rig.sw.call(call).map(|c| c.state),
        Some(CallState::Connected)
    );
    assert_eq!(
        rig.fact(
            Fact::Hangup {
                call: held,
                by: Side::Caller
            },
            500
        ),
        ["alice:3 idle"]
    );
}

#[test]
fn a_failed_intrusion_releases_the_held_caller() {
    let mut rig = Rig::new();
    let (talk, held, call, id) = intruding(&mut rig);
    let ev = rig.cfact(CompletionFact::IntrusionFailed { id }, 300);
    assert_eq!(
        ev,
        [
            "alice:3 idle",
            "completion 1 cancelled (intrusion_failed)",
            "alice complcancel 1 intrusion_failed (0)",
            "alice numcompletions 0",
        ]
    );
    assert_eq!(rig.actions(), [Action::RejectCampOn { id, call: held }]);
    assert!(rig.sw.call(call).is_none());
    for joined in rig.sw.calls_of(talk) {
        assert_eq!(joined.reason, CallReason::Direct, "untouched");
    }
}

#[test]
fn the_intruder_hanging_up_before_the_join_cancels_it() {
    let mut rig = Rig::new();
    let (_, held, _, id) = intruding(&mut rig);
    let ev = rig.fact(Fact::CallerReleased { call: held }, 300);
    assert_eq!(R::phases(&ev), ["completion 1 cancelled (caller_released)"]);
    assert!(rig.sw.completion(id).is_none());
    // A late report of the join is refused and changes nothing.
    assert_eq!(
        rig.sw
            .completion_fact(CompletionFact::IntrusionJoined { id }, t(310)),
        Err(CompletionFactError::UnknownCompletion(id))
    );
}

#[test]
fn intrusion_facts_apply_only_to_an_intrusion_being_joined() {
    let mut rig = Rig::new();
    let call = rig.busy("alice", "bob", 0);
    let (id, _) = rig.complete(call, CompletionMode::Callback, 10);
    for fact in [
        CompletionFact::IntrusionJoined { id },
        CompletionFact::IntrusionFailed { id },
    ] {
        assert!(matches!(
            rig.sw.completion_fact(fact, t(20)),
            Err(CompletionFactError::InvalidInState { .. })
        ));
    }
    assert_eq!(rig.state(id), Some("queued"));
}

/// The durable path: the callee's call ends while the request is being stored, so there is
/// nothing left to join and the commit is refused.
#[test]
fn commit_refuses_an_intrusion_whose_call_ended_meanwhile() {
    let mut rig = Rig::new();
    let talk = rig.connect("carol", "bob", 0);
    let (_, call) = rig.failed("alice", "bob", Failure::Busy, CallerLeg::Held, 100);
    let prepared = rig
        .sw
        .prepare_completion(None, call.get(), CompletionMode::Intrude.value(), 0, t(200))
        .unwrap();
    assert_eq!(prepared.joins, Some(talk));
    rig.hangup(talk, 250);
    assert_eq!(
        rig.sw.commit_completion(prepared.id, t(300)),
        Err(LineErr::InvalCallState)
    );
    assert!(rig.actions().is_empty());
}
