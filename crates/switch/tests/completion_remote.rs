//! Requests whose callee is on another server (RFC 6910 §5, the agent role; issue #11 item 4):
//! a trunk call that failed with the remote monitor's offer can be completed (callback only),
//! the request waits for the monitor's `ready` (never for calls the switch sees), recalls its
//! caller toward the remote AOR, is ended by the monitor, and survives a restart. Injected time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod completion_common;

use callcomp_switch::{
    Action, CallId, CallerLeg, CancelCause, CompletionFact, CompletionId, CompletionMode,
    CompletionTarget, Fact, Failure, LineErr, Party, RemoteTarget,
};
use completion_common::{Rig, Rig as R};

const AOR: &str = "sip:dave@b.test";

fn remote() -> RemoteTarget {
    RemoteTarget {
        aor: AOR.into(),
        monitor: "sip:cc@b.test".into(),
        m: Some("BS".into()),
        cc_uri: None,
    }
}

/// alice calls dave on the other server; the call fails busy, with the monitor's offer
/// (`offer`) or without. Returns alice's call.
fn trunk_busy(rig: &mut Rig, offer: bool, ms: u64) -> CallId {
    let r = callcomp_switch::CallRef(9_000 + ms);
    rig.fact(
        Fact::Dialed {
            call: r,
            from: Party::Line("alice".into()),
            to: AOR.into(),
        },
        ms,
    );
    if offer {
        assert!(rig.sw.set_remote_target(r, remote()));
    }
    rig.fact(
        Fact::Failed {
            call: r,
            cause: Failure::Busy,
            caller_leg: CallerLeg::Released,
        },
        ms,
    );
    rig.sw.line_calls("alice").unwrap().last().unwrap().id
}

/// alice's accepted callback toward dave.
fn requested(rig: &mut Rig) -> CompletionId {
    let call = trunk_busy(rig, true, 0);
    let (id, ev) = rig.complete(call, CompletionMode::Callback, 1);
    assert_eq!(R::phases(&ev), ["completion 1 queued @1"]);
    id
}

#[test]
fn a_trunk_call_with_the_monitors_offer_completes_by_callback_only() {
    let mut rig = Rig::new();
    let without = trunk_busy(&mut rig, false, 0);
    assert!(rig.sw.completable_modes(without).is_empty());
    assert_eq!(
        rig.try_complete(None, without.get(), CompletionMode::Callback.value(), 0, 1),
        Err(LineErr::OperationUnavail),
        "no offer, no remote target"
    );
    let call = trunk_busy(&mut rig, true, 2);
    assert_eq!(rig.sw.completable_modes(call), [CompletionMode::Callback]);
    assert_eq!(
        rig.try_complete(None, call.get(), CompletionMode::Campon.value(), 0, 3),
        Err(LineErr::InvalCallComplMode),
        "a remote monitor offers no camp-on"
    );
    assert_eq!(
        rig.sw
            .last_completable_call("alice", Some(AOR), CompletionMode::Callback),
        Some(call)
    );
    let (id, _) = rig.complete(call, CompletionMode::Callback, 4);
    let r = rig.sw.completion(id).unwrap();
    assert_eq!(r.target, CompletionTarget::Remote(remote()));
    assert_eq!(r.availability(), callcomp_switch::Availability::Waiting);
}

#[test]
fn the_monitors_ready_recalls_the_caller_toward_the_remote_aor() {
    let mut rig = Rig::new();
    let id = requested(&mut rig);
    // Calls the switch sees say nothing about dave: only the monitor does.
    let talk = rig.connect("bob", "carol", 10);
    rig.hangup(talk, 20);
    assert!(rig.timer(60_000).is_empty());
    assert_eq!(rig.state(id), Some("queued"));
    let ready = CompletionFact::RemoteReady {
        id,
        cc_uri: Some("sip:cc-1@b.test".into()),
    };
    assert_eq!(
        R::phases(&rig.cfact(ready, 61_000)),
        ["completion 1 ready @1"]
    );
    assert_eq!(rig.timer(62_500), ["completion 1 recalling @1"]);
    assert_eq!(
        rig.actions(),
        [Action::Recall {
            id,
            caller: "alice".into(),
            callee: AOR.into()
        }]
    );
    let r = rig.sw.completion(id).unwrap();
    let cc = r.target.remote().map(RemoteTarget::cc_call_uri);
    assert_eq!(cc, Some("sip:cc-1@b.test"));
    // A second `ready` while recalling changes nothing.
    let again = CompletionFact::RemoteReady { id, cc_uri: None };
    assert!(rig.cfact(again, 63_000).is_empty());
    rig.cfact(CompletionFact::RecallAnswered { id }, 64_000);
    let ev = rig.cfact(CompletionFact::RecallConnected { id }, 65_000);
    assert_eq!(R::phases(&ev), ["completion 1 completed @1"]);
}

#[test]
fn the_caller_busy_at_the_recall_waits_for_the_next_ready() {
    let mut rig = Rig::new();
    let id = requested(&mut rig);
    rig.cfact(CompletionFact::RemoteReady { id, cc_uri: None }, 10);
    rig.timer(1_600);
    rig.actions();
    let ev = rig.cfact(CompletionFact::RecallCallerBusy { id }, 2_000);
    assert_eq!(R::phases(&ev), ["completion 1 suspended @1"]);
    // alice is free again: queued, but not recalled on the old `ready`.
    let talk = rig.connect("alice", "bob", 3_000);
    let ev = rig.hangup(talk, 4_000);
    assert_eq!(R::phases(&ev), ["completion 1 queued @1"]);
    assert!(rig.timer(10_000).is_empty());
    rig.cfact(CompletionFact::RemoteReady { id, cc_uri: None }, 11_000);
    assert_eq!(rig.timer(12_500), ["completion 1 recalling @1"]);
}

#[test]
fn the_monitor_ends_the_request_with_its_cause() {
    let mut rig = Rig::new();
    let id = requested(&mut rig);
    let ended = CompletionFact::RemoteEnded {
        id,
        cause: CancelCause::MonitorTerminated,
    };
    let ev = rig.cfact(ended, 5_000);
    assert_eq!(
        ev[..2],
        [
            "completion 1 cancelled @1 (monitor_terminated)",
            "alice complcancel 1 monitor_terminated (0)"
        ]
    );
    assert_eq!(rig.state(id), None);
    let line = CompletionFact::RemoteReady { id, cc_uri: None };
    assert!(rig
        .sw
        .completion_fact(line, completion_common::t(6_000))
        .is_err());
}

#[test]
fn a_remote_request_survives_a_restart() {
    let mut rig = Rig::new();
    let id = requested(&mut rig);
    rig.cfact(
        CompletionFact::RemoteReady {
            id,
            cc_uri: Some("sip:cc-1@b.test".into()),
        },
        10,
    );
    let snapshot = rig.sw.export_completions();
    let text = serde_json::to_string(&snapshot).unwrap();
    let mut fresh = Rig::new();
    fresh
        .sw
        .import_completions(
            serde_json::from_str(&text).unwrap(),
            completion_common::t(20),
        )
        .unwrap();
    // Not ended as `callee_deleted` (dave is no line here): it waits as before.
    assert!(fresh.timer(30).iter().all(|e| !e.contains("cancelled")));
    let r = fresh.sw.completion(id).unwrap();
    assert_eq!(r.target.key(), AOR);
    let cc = r.target.remote().and_then(|t| t.cc_uri.clone());
    assert_eq!(cc.as_deref(), Some("sip:cc-1@b.test"));
}
