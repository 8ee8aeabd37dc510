//! Requests of another server's subscriber (RFC 6910 monitor side over a trunk): the caller is
//! a `Caller::Trunk`, not a line; it waits in the callee's queue like any request, is never
//! recalled (after the guard it is `recalling` with no Recall action: its own server recalls,
//! and the CC call, once answered, ends it), is counted against its trunk's limit, and has
//! no line events of its own. Injected time, no sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod completion_common;

use callcomp_switch::{
    Caller, CompletionCond, CompletionConfig, CompletionFact, CompletionId, CompletionMode,
    EventKind, LineErr, Snapshot, TrunkCaller,
};
use completion_common::{config, summary, t, Rig};

fn carol_b() -> TrunkCaller {
    TrunkCaller {
        trunk: "b.test".into(),
        aor: "sip:carol@b.test".into(),
    }
}

/// `caller` subscribes (prepared then committed) for `target` at `ms`; returns the id and
/// the commit's events summarised.
fn subscribe(
    rig: &mut Rig,
    caller: TrunkCaller,
    target: &str,
    max: u32,
    ms: u64,
) -> Result<(CompletionId, Vec<String>), LineErr> {
    let r = rig
        .sw
        .prepare_trunk_completion(caller, target, CompletionCond::Busy, max, t(ms))?;
    let a = rig.sw.commit_completion(r.id, t(ms))?;
    rig.last_seq = a.events.last().map_or(rig.last_seq, |e| e.seq);
    Ok((a.id, summary(&a.events)))
}

#[test]
fn a_trunk_subscriber_waits_is_never_recalled_and_its_cc_call_completes_it() {
    let mut rig = Rig::new();
    let talk = rig.connect("bob", "dave", 0);
    let (id, events) = subscribe(&mut rig, carol_b(), "bob", 5, 1).unwrap();
    // No line of its own: no reply, no numcompletions; the completion event is about bob.
    assert_eq!(events, ["completion 1 queued @1"]);
    let r = rig.sw.completion(id).unwrap();
    assert_eq!(r.caller, Caller::Trunk(carol_b()));
    assert_eq!((r.line(), r.speaking_line(), r.call), (None, "bob", None));
    assert!(r.condition_met, "bob is in a call: busy is met");
    assert_eq!(rig.sw.line_status("bob").unwrap().num_call_completions, 0);
    assert_eq!(
        rig.sw.trunk_completion(&carol_b(), "bob").map(|r| r.id),
        Some(id)
    );

    rig.hangup(talk, 1_000);
    assert_eq!(rig.state(id), Some("ready"));
    // The guard passes: `recalling` (its NOTIFY says ready), and no Recall action.
    assert_eq!(rig.timer(2_500), ["completion 1 recalling @1"]);
    assert!(
        rig.actions().is_empty(),
        "callcomp never recalls a trunk subscriber"
    );
    let trunk = Caller::Trunk(carol_b());
    assert!(rig.sw.is_reserved_for("bob", None), "others are busy");
    assert!(rig.sw.is_reserved("bob", Some("alice")));
    assert!(
        !rig.sw.is_reserved_for("bob", Some(&trunk)),
        "its CC call passes"
    );

    // The CC call over the trunk rings bob (reserved for it); his answer completes it, and
    // bob stays reserved for it until its leg opens.
    assert!(rig.cfact(CompletionFact::CcCall { id }, 3_000).is_empty());
    assert!(rig.actions().is_empty(), "no recall to cancel");
    assert!(rig.sw.is_reserved_for("bob", None));
    let ev = rig.cfact(CompletionFact::RecallConnected { id }, 4_000);
    assert_eq!(ev, ["completion 1 completed @1"]);
    assert_eq!(rig.state(id), None);
    assert!(!rig.sw.is_reserved_for("bob", Some(&trunk)));
    assert!(rig.sw.is_reserved("bob", Some("alice")));
}

#[test]
fn the_completion_event_names_the_external_caller() {
    let mut rig = Rig::new();
    let r = rig
        .sw
        .prepare_trunk_completion(carol_b(), "bob", CompletionCond::Noanswer, 5, t(0))
        .unwrap();
    let a = rig.sw.commit_completion(r.id, t(0)).unwrap();
    let json: Vec<serde_json::Value> = a
        .events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(json.len(), 1);
    assert_eq!(json[0]["event"], "completion");
    assert_eq!(json[0]["line"], "bob");
    assert_eq!(json[0]["target"], "bob");
    assert_eq!(json[0]["condition"], "noanswer");
    assert_eq!(
        json[0]["external_caller"],
        serde_json::json!({"trunk": "b.test", "aor": "sip:carol@b.test"})
    );
    assert!(matches!(&a.events[0].kind, EventKind::Completion(c) if c.external_caller.is_some()));
}

#[test]
fn limits_and_refusals() {
    let mut rig = Rig::with(CompletionConfig {
        max_queue: 2,
        ..config()
    });
    let dave_b = TrunkCaller {
        aor: "sip:dave@b.test".into(),
        ..carol_b()
    };
    let erin_c = TrunkCaller {
        trunk: "c.test".into(),
        aor: "sip:erin@c.test".into(),
    };
    assert_eq!(
        subscribe(&mut rig, carol_b(), "nobody", 1, 0).err(),
        Some(LineErr::InvalLineHandle)
    );
    assert_eq!(
        subscribe(&mut rig, carol_b(), "bob", 0, 0).err(),
        Some(LineErr::OperationUnavail)
    );
    subscribe(&mut rig, carol_b(), "bob", 1, 0).unwrap();
    // b.test's limit of 1 is reached: another of its subscribers is refused, c.test's is not.
    assert_eq!(
        subscribe(&mut rig, dave_b, "alice", 1, 0).err(),
        Some(LineErr::CompletionOverrun)
    );
    subscribe(&mut rig, erin_c.clone(), "bob", 1, 0).unwrap();
    // bob's queue (max_queue 2) is full, whoever asks.
    let a = rig.busy("alice", "bob", 0);
    assert_eq!(
        rig.try_complete(None, a.get(), CompletionMode::Callback.value(), 0, 0),
        Err(LineErr::ResourceUnavail)
    );
    assert_eq!(
        subscribe(&mut rig, erin_c, "bob", 5, 0).err(),
        Some(LineErr::ResourceUnavail)
    );
    // A pending (not yet stored) request counts against the trunk's limit too.
    let mut rig = Rig::new();
    let pending = rig
        .sw
        .prepare_trunk_completion(carol_b(), "bob", CompletionCond::Busy, 1, t(0))
        .unwrap();
    let again = rig
        .sw
        .prepare_trunk_completion(carol_b(), "alice", CompletionCond::Busy, 1, t(0));
    assert_eq!(again.err(), Some(LineErr::CompletionOverrun));
    rig.sw
        .abandon_completion(pending.id, LineErr::OperationFailed, t(0));
    assert!(rig
        .sw
        .prepare_trunk_completion(carol_b(), "alice", CompletionCond::Busy, 1, t(0))
        .is_ok());
}

#[test]
fn no_cc_call_in_time_is_a_failed_attempt_and_the_last_one_ends_it() {
    let mut rig = Rig::with(CompletionConfig {
        recall_attempts: 2,
        ..config()
    });
    let (id, _) = subscribe(&mut rig, carol_b(), "bob", 5, 0).unwrap();
    // bob was never seen busy: the condition waits for his next call.
    let talk = rig.connect("bob", "dave", 100);
    rig.hangup(talk, 1_000);
    assert_eq!(rig.timer(2_500), ["completion 1 recalling @1"]);
    // recall_ring (20 s) without a CC call: back in the queue, waiting again.
    assert_eq!(rig.timer(22_500), ["completion 1 queued @1"]);
    assert!(
        rig.actions().is_empty(),
        "nothing to cancel: no recall rang"
    );
    assert_eq!(rig.sw.completion(id).unwrap().recall_failures, 1);
    assert!(!rig.sw.is_reserved_for("bob", None));
    let talk = rig.connect("bob", "dave", 30_000);
    rig.hangup(talk, 31_000);
    rig.timer(32_500);
    assert_eq!(rig.state(id), Some("recalling"));
    // The second attempt fails too: the end, with no line to tell (no complcancel).
    let ev = rig.timer(52_500);
    assert_eq!(ev, ["completion 1 cancelled @1 (recall_unanswered)"]);
    assert_eq!(rig.state(id), None);
}

#[test]
fn cancelled_through_the_callees_line_and_kept_across_a_restart() {
    let mut rig = Rig::new();
    let (id, _) = subscribe(&mut rig, carol_b(), "bob", 5, 0).unwrap();
    assert_eq!(
        rig.sw.check_uncomplete("alice", id.get()),
        Err(LineErr::InvalCompletionId)
    );
    assert_eq!(rig.sw.check_uncomplete("bob", id.get()), Ok(()));

    let snapshot = rig.sw.export_completions();
    let json = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(
        json["requests"][0]["line"],
        serde_json::json!({"trunk": "b.test", "aor": "sip:carol@b.test"})
    );
    let back: Snapshot = serde_json::from_value(json).unwrap();
    assert_eq!(back, snapshot);
    let mut after = Rig::new();
    after.sw.import_completions(back, t(10)).unwrap();
    after.timer(10);
    assert_eq!(
        after.sw.completion(id).map(|r| r.caller.clone()),
        Some(Caller::Trunk(carol_b()))
    );

    let ev = rig.uncomplete("bob", id.get(), 1_000).unwrap();
    assert_eq!(
        ev,
        [
            "bob reply uncompletecall 1",
            "completion 1 cancelled @1 (uncompleted)"
        ]
    );
    assert_eq!(rig.state(id), None);
}
