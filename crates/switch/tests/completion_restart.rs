//! Export and re-import of outstanding requests across a restart (DESIGN §5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod completion_common;

use callcomp_switch::completion::ImportError;
use callcomp_switch::{CallerLeg, CompletionMode, Failure, Snapshot};
use completion_common::{t, Rig, Rig as R};

/// Before: alice's callback on bob is recalling, carol's waits behind it, dave camps on carol's
/// line, and alice has a callback on dave that will have expired by the time of the restart.
#[test]
fn restart_resumes_requests_in_order_with_deadlines() {
    let mut rig = Rig::new();
    // The message to dave is made first and expires at 1 h; the others at 100 s + 1 h.
    let x = rig.busy("alice", "dave", 0);
    let (short, _) = rig.complete(x, CompletionMode::Message, 0);
    let talk = rig.connect("bob", "dave", 100_000);
    let a = rig.busy("alice", "bob", 100_000);
    let (alice, _) = rig.complete(a, CompletionMode::Callback, 100_000);
    let c = rig.busy("carol", "bob", 100_000);
    let (carol, _) = rig.complete(c, CompletionMode::Callback, 100_000);
    let carol_talk = rig.connect("carol", "dave", 100_000);
    let (_, held) = rig.failed("dave", "carol", Failure::Busy, CallerLeg::Held, 100_000);
    let (dave, _) = rig.complete(held, CompletionMode::Campon, 100_000);
    let _ = carol_talk; // carol stays on the phone: dave keeps camping.
    rig.hangup(talk, 101_000);
    rig.timer(102_500);
    assert_eq!(rig.state(alice), Some("recalling"));

    let snapshot = rig.sw.export_completions();
    let json = serde_json::to_string(&snapshot).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snapshot);
    assert_eq!(back.requests.len(), 4);
    assert_eq!(back.next_id, 5);

    let restart = 3_650_000;
    let mut after = Rig::new();
    after
        .sw
        .import_completions(back.clone(), t(restart))
        .unwrap();
    assert_eq!(after.state(alice), Some("queued"));
    assert_eq!(after.sw.queue_position(alice), Some(1));
    assert_eq!(after.sw.queue_position(carol), Some(2));
    assert!(
        after.sw.next_deadline().unwrap() <= t(restart),
        "due at once"
    );
    let ev = after.timer(restart);
    let cancels: Vec<&String> = ev.iter().filter(|l| l.contains("complcancel")).collect();
    assert_eq!(
        cancels,
        [
            &format!("dave complcancel {dave} caller_released (0)"),
            &format!("alice complcancel {short} expired (1)"),
        ]
    );
    // Bob is free after the restart (no call known): alice, first in line, is selected.
    assert!(R::phases(&ev).contains(&format!("completion {alice} ready @1")));
    assert_eq!(after.sw.completions_for("bob").len(), 2);
    // New ids continue after the imported ones.
    let n = after.busy("dave", "alice", restart + 10);
    let (next, _) = after.complete(n, CompletionMode::Callback, restart + 10);
    assert_eq!(next.get(), 5);
    // Importing twice, or a snapshot with a repeated id, is refused.
    assert_eq!(
        after.sw.import_completions(back.clone(), t(restart)),
        Err(ImportError::NotEmpty)
    );
    let mut twice = back.clone();
    twice.requests.push(twice.requests[0].clone());
    assert!(matches!(
        Rig::new().sw.import_completions(twice, t(0)),
        Err(ImportError::DuplicateId(_))
    ));
}

/// Requests that are still valid keep their expiry across the restart.
#[test]
fn imported_expiry_fires_at_its_original_time() {
    let mut rig = Rig::new();
    let a = rig.busy("alice", "bob", 0);
    rig.complete(a, CompletionMode::Callback, 1_000);
    let snapshot = rig.sw.export_completions();
    let mut after = Rig::new();
    after.sw.import_completions(snapshot, t(50_000)).unwrap();
    after.timer(50_000);
    assert_eq!(after.sw.next_deadline(), Some(t(3_601_000)));
    let ev = after.timer(3_601_000);
    assert_eq!(ev[1], "alice complcancel 1 expired (0)");
}
