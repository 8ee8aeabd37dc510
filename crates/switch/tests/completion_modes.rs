//! What each mode does to the original call and when it ends (DESIGN §2.2, digest §9.20-25),
//! event by event with injected time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod completion_common;

use callcomp_switch::{
    Action, CallReason, CallState, CallerLeg, CompletionFact, CompletionMode, Fact, Failure, Side,
};
use completion_common::{Rig, Rig as R};

#[test]
fn callback_in_offer_window_goes_idle_without_actions() {
    let mut rig = Rig::new();
    let call = rig.busy("alice", "bob", 0);
    let (id, ev) = rig.complete(call, CompletionMode::Callback, 500);
    assert_eq!(ev[0], "alice:1 idle");
    assert!(rig.sw.call(call).is_none());
    assert!(rig.actions().is_empty());
    assert_eq!(rig.state(id), Some("queued"));
    // The offer window's deadline is gone with the call: only the expiry remains.
    assert_eq!(
        rig.sw.next_deadline(),
        Some(completion_common::t(500 + 3_600_000))
    );
}

#[test]
fn callback_on_held_busy_call_releases_the_caller() {
    let mut rig = Rig::new();
    let (r, call) = rig.failed("alice", "bob", Failure::Busy, CallerLeg::Held, 0);
    let (_, ev) = rig.complete(call, CompletionMode::Callback, 10);
    assert_eq!(ev[0], "alice:1 idle");
    assert_eq!(rig.actions(), [Action::ReleaseCaller { call: r }]);
    // The switch forgot the B2BUA call: a late fact for it is refused, not misapplied.
    assert!(rig
        .sw
        .handle(Fact::CallerReleased { call: r }, completion_common::t(11))
        .is_err());
}

/// DESIGN §2.2: callback or message while the callee still rings stops the ringing.
#[test]
fn callback_while_ringing_cancels_the_callee() {
    for mode in [CompletionMode::Callback, CompletionMode::Message] {
        let mut rig = Rig::new();
        let (r, call) = rig.dial("alice", "bob", true, 0);
        rig.fact(Fact::Ringing { call: r }, 5);
        let (id, ev) = rig.complete(call, mode, 10);
        assert_eq!(
            ev[..3],
            ["alice:1 idle", "bob:2 disconnected/cancelled", "bob:2 idle"],
            "{mode}"
        );
        assert_eq!(rig.actions()[0], Action::CancelRinging { call: r });
        assert_eq!(
            rig.sw.completion(id).unwrap().condition,
            callcomp_switch::CompletionCond::Noanswer
        );
    }
}

#[test]
fn message_to_registered_callee_is_sent_at_once_and_ends_on_delivery() {
    let mut rig = Rig::new();
    rig.cfact(CompletionFact::Registered { line: "bob".into() }, 0);
    let call = rig.busy("alice", "bob", 0);
    let a = rig
        .sw
        .complete_call(None, call.get(), 0x8, 2, completion_common::t(10))
        .unwrap();
    let ev = completion_common::summary(&a.events);
    assert_eq!(
        ev,
        [
            "alice:1 idle",
            "alice reply completecall 1",
            "alice numcompletions 1",
            "completion 1 queued",
            "completion 1 ready",
        ]
    );
    rig.last_seq = a.events.last().unwrap().seq;
    assert_eq!(
        rig.actions(),
        [Action::SendMessage {
            id: a.id,
            to: "bob".into(),
            from: "alice".into(),
            text: "Please call me back, it is urgent.".into(),
        }]
    );
    let ev = rig.cfact(CompletionFact::MessageDelivered { id: a.id }, 20);
    assert_eq!(ev, ["completion 1 completed", "alice numcompletions 0"]);
    assert!(rig.sw.completion(a.id).is_none());
}

#[test]
fn message_waits_for_registration_and_is_retried_after_failure() {
    let mut rig = Rig::new();
    rig.cfact(CompletionFact::Unregistered { line: "bob".into() }, 0);
    let (_, call) = rig.failed(
        "alice",
        "bob",
        Failure::NotRegistered,
        CallerLeg::Released,
        0,
    );
    let (id, _) = rig.complete(call, CompletionMode::Message, 10);
    assert!(rig.actions().is_empty());
    assert_eq!(rig.state(id), Some("queued"));
    let ev = rig.cfact(CompletionFact::Registered { line: "bob".into() }, 1_000);
    // The line comes into service (LINEDEVSTATE_INSERVICE), then the message goes out.
    assert_eq!(ev, ["bob inservice 0", "completion 1 ready"]);
    assert!(matches!(rig.actions()[..], [Action::SendMessage { .. }]));
    let ev = rig.cfact(CompletionFact::MessageFailed { id }, 1_100);
    assert_eq!(ev, ["completion 1 queued"]);
    let ev = rig.cfact(CompletionFact::Unregistered { line: "bob".into() }, 1_200);
    assert_eq!(ev, ["bob outofservice 0"]);
    let ev = rig.cfact(CompletionFact::Registered { line: "bob".into() }, 2_000);
    assert_eq!(ev[0], "bob inservice 0");
    // A registration the engine already knows of is no change of service.
    let ev = rig.cfact(CompletionFact::Registered { line: "bob".into() }, 2_050);
    assert!(!ev.iter().any(|e| e.contains("service")), "{ev:?}");
    assert!(matches!(rig.actions()[..], [Action::SendMessage { .. }]));
    let ev = rig.cfact(CompletionFact::MessageDelivered { id }, 2_100);
    assert_eq!(ev[0], "completion 1 completed");
    // Delivery facts for a request in the wrong state are refused.
    assert!(rig
        .sw
        .completion_fact(
            CompletionFact::MessageDelivered { id },
            completion_common::t(2_200)
        )
        .is_err());
}

/// Bob talks to carol; alice camps on. The call stays busy with its leg held; when bob hangs up
/// the guard runs, then the same call proceeds to bob with reason callcompletion.
#[test]
fn campon_fires_on_the_same_call() {
    let mut rig = Rig::new();
    let talk = rig.connect("carol", "bob", 0);
    let (r, call) = rig.failed("alice", "bob", Failure::Busy, CallerLeg::Held, 100);
    let (id, ev) = rig.complete(call, CompletionMode::Campon, 200);
    assert_eq!(
        ev,
        [
            "alice reply completecall 1",
            "alice numcompletions 1",
            "completion 1 queued @1"
        ]
    );
    let c = rig.sw.call(call).unwrap();
    assert_eq!((c.state, c.leg_open), (CallState::Busy, true));
    assert!(rig.actions().is_empty());

    let ev = rig.hangup(talk, 10_000);
    assert_eq!(R::phases(&ev), ["completion 1 ready @1"]);
    assert!(rig.sw.is_reserved("bob", Some("dave")));
    assert!(!rig.sw.is_reserved("bob", Some("alice")));
    assert!(rig.timer(11_499).is_empty());
    let ev = rig.timer(11_500);
    assert_eq!(
        ev,
        [
            "alice:3 callinfo reason|completionid",
            "alice:3 proceeding",
            "completion 1 completed @1",
            "alice numcompletions 0",
        ]
    );
    assert_eq!(
        rig.actions(),
        [Action::ConnectCampOn {
            id,
            call: r,
            callee: "bob".into()
        }]
    );
    let c = rig.sw.call(call).unwrap();
    assert_eq!(
        (c.reason, c.completion_id),
        (CallReason::Callcompletion, Some(1))
    );
    // Bob stays reserved for alice until the server opens bob's leg.
    assert!(rig.sw.is_reserved("bob", Some("dave")));
    let ev = rig.fact(Fact::offered(r, "bob"), 11_510);
    assert_eq!(ev[0], "bob:5 appnewcall");
    assert!(!rig.sw.is_reserved("bob", Some("dave")));
    assert_eq!(
        rig.fact(Fact::Ringing { call: r }, 11_520),
        ["alice:3 ringback"]
    );
    assert_eq!(
        rig.fact(Fact::Answered { call: r }, 11_530),
        ["alice:3 connected", "bob:5 connected"]
    );
}

#[test]
fn campon_times_out_with_486_and_expired() {
    let mut rig = Rig::new();
    rig.connect("carol", "bob", 0);
    let (r, call) = rig.failed("alice", "bob", Failure::Busy, CallerLeg::Held, 0);
    let (id, _) = rig.complete(call, CompletionMode::Campon, 1_000);
    assert_eq!(rig.sw.next_deadline(), Some(completion_common::t(301_000)));
    assert!(rig.timer(300_999).is_empty());
    let ev = rig.timer(301_000);
    assert_eq!(
        ev,
        [
            "alice:3 idle",
            "completion 1 cancelled @1 (expired)",
            "alice complcancel 1 expired (0)",
            "alice numcompletions 0",
        ]
    );
    assert_eq!(rig.actions(), [Action::RejectCampOn { id, call: r }]);
    assert!(rig.sw.call(call).is_none());
}

#[test]
fn campon_caller_hanging_up_cancels_as_caller_released() {
    let mut rig = Rig::new();
    rig.connect("carol", "bob", 0);
    let (r, call) = rig.failed("alice", "bob", Failure::Busy, CallerLeg::Held, 0);
    rig.complete(call, CompletionMode::Campon, 10);
    let ev = rig.fact(
        Fact::Hangup {
            call: r,
            by: Side::Caller,
        },
        20,
    );
    assert_eq!(
        ev,
        [
            "completion 1 cancelled @1 (caller_released)",
            "alice complcancel 1 caller_released (0)",
            "alice numcompletions 0",
        ]
    );
    assert!(rig.actions().is_empty());
    // The call waits out its offer window, still `busy`, now without a leg.
    let c = rig.sw.call(call).unwrap();
    assert_eq!((c.state, c.leg_open), (CallState::Busy, false));
}

#[test]
fn uncompleting_a_campon_rejects_the_held_leg() {
    let mut rig = Rig::new();
    rig.connect("carol", "bob", 0);
    let (r, call) = rig.failed("alice", "bob", Failure::Busy, CallerLeg::Held, 0);
    let (id, _) = rig.complete(call, CompletionMode::Campon, 10);
    let ev = rig.uncomplete("alice", id.get(), 20).unwrap();
    assert_eq!(
        ev,
        [
            "alice reply uncompletecall 1",
            "alice:3 idle",
            "completion 1 cancelled @1 (uncompleted)",
            "alice numcompletions 0",
        ]
    );
    assert_eq!(rig.actions(), [Action::RejectCampOn { id, call: r }]);
}
