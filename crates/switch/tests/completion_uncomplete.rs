//! lineUncompleteCall (DESIGN §2.4, digest §9.26, §9.28-32, §9.34).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod completion_common;

use callcomp_switch::{Action, CompletionFact, CompletionMode, LineErr};
use completion_common::{Rig, Rig as R};

/// Every way an id can fail to be outstanding on the line.
#[test]
fn uncomplete_errors() {
    let mut rig = Rig::new();
    let talk = rig.connect("carol", "bob", 0);
    let a = rig.busy("alice", "bob", 1);
    let (id, _) = rig.complete(a, CompletionMode::Callback, 2);
    let d = rig.busy("dave", "carol", 3);
    let (fired, _) = rig.complete(d, CompletionMode::Callback, 4);
    let rows: &[(&str, u32, LineErr)] = &[
        ("zoe", id.get(), LineErr::InvalLineHandle),
        ("", id.get(), LineErr::InvalLineHandle),
        ("alice", 0, LineErr::InvalCompletionId),
        ("alice", 77, LineErr::InvalCompletionId),
        ("carol", id.get(), LineErr::InvalCompletionId),
        ("alice", fired.get(), LineErr::InvalCompletionId),
    ];
    for &(line, n, want) in rows {
        assert_eq!(rig.uncomplete(line, n, 10), Err(want), "{line} {n}");
    }
    // Already cancelled: the second attempt fails.
    rig.uncomplete("alice", id.get(), 20).unwrap();
    assert_eq!(
        rig.uncomplete("alice", id.get(), 21),
        Err(LineErr::InvalCompletionId)
    );
    // Fired (recall connected): invalid afterwards.
    rig.hangup(talk, 100);
    rig.timer(1_600);
    rig.cfact(CompletionFact::RecallAnswered { id: fired }, 1_700);
    rig.cfact(CompletionFact::RecallConnected { id: fired }, 1_800);
    assert_eq!(
        rig.uncomplete("dave", fired.get(), 1_900),
        Err(LineErr::InvalCompletionId)
    );
    // Ended by callcomp (complcancel): invalid afterwards.
    let b = rig.busy("alice", "dave", 2_000);
    let (gone, _) = rig.complete(b, CompletionMode::Callback, 2_000);
    rig.cfact(
        CompletionFact::LineRemoved {
            line: "dave".into(),
        },
        2_100,
    );
    assert_eq!(
        rig.uncomplete("alice", gone.get(), 2_200),
        Err(LineErr::InvalCompletionId)
    );
}

#[test]
fn uncomplete_success_never_fires_and_sends_no_complcancel() {
    let mut rig = Rig::new();
    let talk = rig.connect("carol", "bob", 0);
    let a = rig.busy("alice", "bob", 1);
    let (id, _) = rig.complete(a, CompletionMode::Callback, 2);
    let ev = rig.uncomplete("alice", id.get(), 10).unwrap();
    assert_eq!(
        ev,
        [
            "alice reply uncompletecall 1",
            "completion 1 cancelled @1 (uncompleted)",
            "alice numcompletions 0",
        ]
    );
    assert!(R::phases(&rig.hangup(talk, 100)).is_empty());
    assert!(rig.timer(10_000_000).is_empty());
    assert!(rig.actions().is_empty());
    assert_eq!(rig.sw.line_status("alice").unwrap().num_call_completions, 0);
}

/// Cancelling a request that is recalling stops the ringing and frees the callee for the next.
#[test]
fn uncomplete_success_during_recall_moves_on() {
    let mut rig = Rig::new();
    let talk = rig.connect("dave", "bob", 0);
    let a = rig.busy("alice", "bob", 1);
    let (id, _) = rig.complete(a, CompletionMode::Callback, 2);
    let c = rig.busy("carol", "bob", 3);
    rig.complete(c, CompletionMode::Callback, 4);
    rig.hangup(talk, 100);
    rig.timer(1_600);
    rig.actions();
    let ev = rig.uncomplete("alice", id.get(), 2_000).unwrap();
    assert_eq!(
        ev,
        [
            "alice reply uncompletecall 1",
            "completion 1 cancelled @1 (uncompleted)",
            "alice numcompletions 0",
            "completion 2 ready @1",
        ]
    );
    assert_eq!(rig.actions(), [Action::CancelRecall { id }]);
}
