//! Call flows through the switch, event by event, with injected time (DESIGN §2, §2.5, §4).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use callcomp_switch::{
    CallId, CallReason, CallRef, CallState, CallerLeg, CompletionMode, Event, EventKind, Fact,
    FactError, Failure, Line, LineErr, Party, Side, Switch, SwitchConfig, Time,
};
use serde_json::json;

const ALICE: &str = "sip:alice@example.com";
const BOB: &str = "sip:bob@example.com";
const R: CallRef = CallRef(100);

fn switch_with(window: Duration) -> Switch {
    let mut sw = Switch::new(SwitchConfig {
        offer_window: window,
    });
    sw.add_line(Line::new("alice", ALICE)).unwrap();
    sw.add_line(Line::new("bob", BOB)).unwrap();
    sw.add_line(Line::new("carol", "sip:carol@example.com"))
        .unwrap();
    sw
}

fn switch() -> Switch {
    switch_with(Duration::from_secs(20))
}

fn t(ms: u64) -> Time {
    Time::from_millis(ms)
}

fn dialed(from: &str) -> Fact {
    Fact::Dialed {
        call: R,
        from: Party::Line(from.into()),
        to: BOB.into(),
    }
}

fn failed(cause: Failure, caller_leg: CallerLeg) -> Fact {
    Fact::Failed {
        call: R,
        cause,
        caller_leg,
    }
}

/// One line per event: `line:id event detail`.
fn summary(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .map(|e| match &e.kind {
            EventKind::AppNewCall(a) => format!(
                "{}:{} appnewcall {} {}",
                a.line,
                a.call_id,
                serde_json::to_value(a.direction).unwrap().as_str().unwrap(),
                a.remote
            ),
            EventKind::CallState(c) => match c.mode {
                Some(mode) => format!("{}:{} {}/{}", c.line, c.call_id, c.state, mode),
                None => format!("{}:{} {}", c.line, c.call_id, c.state),
            },
            EventKind::CallInfo(i) => {
                let names: Vec<&str> = i.changed.iter().map(|c| c.as_str()).collect();
                format!("{}:{} callinfo {}", i.line, i.call_id, names.join("|"))
            }
            other => format!("{} {}", other.line(), other.name()),
        })
        .collect()
}

enum Step {
    /// Apply a fact at a time; expect these events.
    Fact(u64, Fact, &'static [&'static str]),
    /// Run the timers at a time; expect these events.
    Timer(u64, &'static [&'static str]),
    /// Expect this next deadline.
    Deadline(Option<u64>),
}

/// Runs the steps and checks every event, and that sequence numbers rise by one throughout.
fn run(name: &str, sw: &mut Switch, steps: Vec<Step>) {
    let mut last_seq = 0;
    for (i, step) in steps.into_iter().enumerate() {
        let (events, want) = match step {
            Step::Fact(ms, fact, want) => (sw.handle(fact, t(ms)).unwrap(), want),
            Step::Timer(ms, want) => (sw.on_timer(t(ms)), want),
            Step::Deadline(want) => {
                assert_eq!(sw.next_deadline(), want.map(t), "{name} step {i}");
                continue;
            }
        };
        assert_eq!(summary(&events), want, "{name} step {i}");
        for e in &events {
            assert_eq!(e.seq, last_seq + 1, "{name} step {i}: seq");
            last_seq = e.seq;
        }
        assert_state_counts(sw, &format!("{name} step {i}"));
    }
}

/// The per-state counts the switch keeps agree with a walk over every line's calls.
fn assert_state_counts(sw: &Switch, at: &str) {
    let lines: Vec<String> = sw.lines().map(|l| l.name.clone()).collect();
    for &state in CallState::ALL {
        let walked = lines
            .iter()
            .flat_map(|l| sw.line_calls(l).unwrap())
            .filter(|c| c.state == state)
            .count();
        assert_eq!(sw.calls_in_state(state), walked, "{at}: calls in {state}");
    }
}

fn setup_steps() -> Vec<Step> {
    vec![
        Step::Fact(
            0,
            dialed("alice"),
            &[
                "alice:1 appnewcall out sip:bob@example.com",
                "alice:1 dialing",
            ],
        ),
        Step::Fact(10, Fact::Proceeding { call: R }, &["alice:1 proceeding"]),
        Step::Fact(
            20,
            Fact::offered(R, "bob"),
            &[
                "bob:2 appnewcall in sip:alice@example.com",
                "bob:2 offering",
            ],
        ),
        Step::Fact(30, Fact::Ringing { call: R }, &["alice:1 ringback"]),
    ]
}

fn with_setup(rest: Vec<Step>) -> Vec<Step> {
    let mut steps = setup_steps();
    steps.extend(rest);
    steps
}

#[test]
fn flows() {
    let window = Duration::from_secs(20);
    let flows: Vec<(&str, Vec<Step>)> = vec![
        (
            "answered, callee hangs up",
            with_setup(vec![
                Step::Fact(
                    40,
                    Fact::Answered { call: R },
                    &["alice:1 connected", "bob:2 connected"],
                ),
                Step::Fact(
                    90,
                    Fact::Hangup {
                        call: R,
                        by: Side::Callee,
                    },
                    &["bob:2 idle", "alice:1 disconnected/normal", "alice:1 idle"],
                ),
                Step::Deadline(None),
            ]),
        ),
        (
            "answered, caller hangs up",
            with_setup(vec![
                Step::Fact(
                    40,
                    Fact::Answered { call: R },
                    &["alice:1 connected", "bob:2 connected"],
                ),
                Step::Fact(
                    90,
                    Fact::Hangup {
                        call: R,
                        by: Side::Caller,
                    },
                    &["alice:1 idle", "bob:2 disconnected/normal", "bob:2 idle"],
                ),
            ]),
        ),
        (
            "late and repeated provisional facts change nothing",
            with_setup(vec![
                Step::Fact(
                    40,
                    Fact::Answered { call: R },
                    &["alice:1 connected", "bob:2 connected"],
                ),
                Step::Fact(41, Fact::Ringing { call: R }, &[]),
                Step::Fact(42, Fact::Proceeding { call: R }, &[]),
                Step::Fact(43, Fact::Answered { call: R }, &[]),
            ]),
        ),
        (
            "busy: caller waits in busy for the offer window",
            vec![
                Step::Fact(
                    0,
                    dialed("alice"),
                    &[
                        "alice:1 appnewcall out sip:bob@example.com",
                        "alice:1 dialing",
                    ],
                ),
                Step::Fact(10, Fact::Proceeding { call: R }, &["alice:1 proceeding"]),
                Step::Fact(
                    20,
                    Fact::offered(R, "bob"),
                    &[
                        "bob:2 appnewcall in sip:alice@example.com",
                        "bob:2 offering",
                    ],
                ),
                Step::Fact(
                    1_000,
                    failed(Failure::Busy, CallerLeg::Released),
                    &[
                        "alice:1 busy/station",
                        "bob:2 disconnected/busy",
                        "bob:2 idle",
                    ],
                ),
                Step::Deadline(Some(21_000)),
                Step::Timer(20_999, &[]),
                Step::Timer(21_000, &["alice:1 idle"]),
                Step::Deadline(None),
            ],
        ),
        (
            "no answer: caller stays in ringback for the offer window",
            with_setup(vec![
                Step::Fact(
                    30_030,
                    failed(Failure::NoAnswer, CallerLeg::Released),
                    &["bob:2 disconnected/noanswer", "bob:2 idle"],
                ),
                Step::Deadline(Some(50_030)),
                Step::Timer(50_029, &[]),
                Step::Timer(50_030, &["alice:1 idle"]),
            ]),
        ),
        (
            "not registered: busy with mode unavail, never offered",
            vec![
                Step::Fact(
                    0,
                    dialed("alice"),
                    &[
                        "alice:1 appnewcall out sip:bob@example.com",
                        "alice:1 dialing",
                    ],
                ),
                Step::Fact(
                    5,
                    failed(Failure::NotRegistered, CallerLeg::Released),
                    &["alice:1 busy/unavail"],
                ),
                Step::Timer(20_005, &["alice:1 idle"]),
            ],
        ),
        (
            "rejected: both sides disconnect at once, no offer window",
            with_setup(vec![
                Step::Fact(
                    40,
                    failed(Failure::Rejected(603), CallerLeg::Released),
                    &[
                        "alice:1 disconnected/reject",
                        "alice:1 idle",
                        "bob:2 disconnected/reject",
                        "bob:2 idle",
                    ],
                ),
                Step::Deadline(None),
            ]),
        ),
        (
            "caller cancels while the callee rings",
            with_setup(vec![Step::Fact(
                40,
                Fact::Hangup {
                    call: R,
                    by: Side::Caller,
                },
                &["alice:1 idle", "bob:2 disconnected/cancelled", "bob:2 idle"],
            )]),
        ),
        (
            "held caller leg: the window starts when the server releases it",
            with_setup(vec![
                Step::Fact(
                    1_000,
                    failed(Failure::Busy, CallerLeg::Held),
                    &[
                        "alice:1 busy/station",
                        "bob:2 disconnected/busy",
                        "bob:2 idle",
                    ],
                ),
                Step::Deadline(None),
                Step::Fact(6_000, Fact::CallerReleased { call: R }, &[]),
                Step::Deadline(Some(26_000)),
                Step::Timer(26_000, &["alice:1 idle"]),
            ]),
        ),
        (
            "held caller hangs up: the window starts then",
            with_setup(vec![
                Step::Fact(
                    1_000,
                    failed(Failure::Busy, CallerLeg::Held),
                    &[
                        "alice:1 busy/station",
                        "bob:2 disconnected/busy",
                        "bob:2 idle",
                    ],
                ),
                Step::Fact(
                    3_000,
                    Fact::Hangup {
                        call: R,
                        by: Side::Caller,
                    },
                    &[],
                ),
                Step::Deadline(Some(23_000)),
            ]),
        ),
        (
            "external caller: only the callee's line sees the call",
            vec![
                Step::Fact(
                    0,
                    Fact::Dialed {
                        call: R,
                        from: Party::External("sip:dave@elsewhere.example".into()),
                        to: BOB.into(),
                    },
                    &[],
                ),
                Step::Fact(
                    10,
                    Fact::offered(R, "bob"),
                    &[
                        "bob:1 appnewcall in sip:dave@elsewhere.example",
                        "bob:1 offering",
                    ],
                ),
                Step::Fact(20, Fact::Ringing { call: R }, &[]),
                Step::Fact(30, Fact::Answered { call: R }, &["bob:1 connected"]),
                Step::Fact(
                    40,
                    Fact::Hangup {
                        call: R,
                        by: Side::Caller,
                    },
                    &["bob:1 disconnected/normal", "bob:1 idle"],
                ),
            ],
        ),
        (
            "a call to the caller's own line shows twice on it",
            vec![
                Step::Fact(
                    0,
                    dialed("alice"),
                    &[
                        "alice:1 appnewcall out sip:bob@example.com",
                        "alice:1 dialing",
                    ],
                ),
                Step::Fact(
                    1,
                    Fact::offered(R, "alice"),
                    &[
                        "alice:2 appnewcall in sip:alice@example.com",
                        "alice:2 offering",
                    ],
                ),
            ],
        ),
    ];
    for (name, steps) in flows {
        let mut sw = switch_with(window);
        run(name, &mut sw, steps);
    }
}

#[test]
fn offer_window_zero_goes_idle_at_once() {
    let mut sw = switch_with(Duration::ZERO);
    sw.handle(dialed("alice"), t(0)).unwrap();
    let events = sw
        .handle(failed(Failure::Busy, CallerLeg::Released), t(5))
        .unwrap();
    assert_eq!(summary(&events), ["alice:1 busy/station", "alice:1 idle"]);
    assert_eq!(sw.next_deadline(), None);
    assert_eq!(sw.call_count(), 0);
}

#[test]
fn offer_window_deadlines_fire_in_order() {
    let mut sw = switch();
    for (r, at) in [(1, 3_000), (2, 1_000), (3, 2_000)] {
        let call = CallRef(r);
        sw.handle(
            Fact::Dialed {
                call,
                from: Party::Line("alice".into()),
                to: BOB.into(),
            },
            t(0),
        )
        .unwrap();
        sw.handle(
            Fact::Failed {
                call,
                cause: Failure::Busy,
                caller_leg: CallerLeg::Released,
            },
            t(at),
        )
        .unwrap();
    }
    assert_eq!(sw.next_deadline(), Some(t(21_000)));
    // One late timer call fires everything due, earliest deadline first.
    let fired: Vec<u32> = sw
        .on_timer(t(22_000))
        .iter()
        .map(|e| e.kind.call_id().unwrap().get())
        .collect();
    assert_eq!(fired, [2, 3]);
    assert_eq!(sw.next_deadline(), Some(t(23_000)));
}

#[test]
fn completion_features_follow_state_and_leg() {
    use CompletionMode::*;
    let mut sw = switch();
    sw.handle(dialed("alice"), t(0)).unwrap();
    let alice = CallId::new(1).unwrap();
    assert!(sw.call(alice).unwrap().completable_modes().is_empty());
    sw.handle(Fact::Ringing { call: R }, t(1)).unwrap();
    // Ringing with the caller's leg open: callback and message only (DESIGN §2.2).
    assert_eq!(
        sw.call(alice).unwrap().completable_modes(),
        [Callback, Message]
    );
    sw.handle(failed(Failure::Busy, CallerLeg::Held), t(2))
        .unwrap();
    let held = sw.call(alice).unwrap();
    assert_eq!(
        held.completable_modes(),
        [Campon, Callback, Intrude, Message]
    );
    assert_eq!(held.failure, Some(Failure::Busy));
    assert!(sw.line_in_call("alice"));
    sw.handle(Fact::CallerReleased { call: R }, t(3)).unwrap();
    let waiting = sw.call(alice).unwrap();
    assert_eq!(waiting.completable_modes(), [Callback, Message]);
    assert_eq!(waiting.offer_until, Some(t(20_003)));
    assert!(!sw.line_in_call("alice"));
    assert!(waiting.call_features(&[Campon]).features == 0);
}

#[test]
fn refused_facts_are_typed_and_change_nothing() {
    let unknown = CallRef(999);
    let mut sw = switch();
    for fact in [
        Fact::Proceeding { call: unknown },
        Fact::offered(unknown, "bob"),
        Fact::Ringing { call: unknown },
        Fact::Answered { call: unknown },
        Fact::Failed {
            call: unknown,
            cause: Failure::Busy,
            caller_leg: CallerLeg::Released,
        },
        Fact::CallerReleased { call: unknown },
        Fact::Hangup {
            call: unknown,
            by: Side::Caller,
        },
    ] {
        assert_eq!(
            sw.handle(fact.clone(), t(0)),
            Err(FactError::UnknownCall(unknown)),
            "{fact:?}"
        );
    }
    let no_line = Fact::Dialed {
        call: R,
        from: Party::Line("zoe".into()),
        to: BOB.into(),
    };
    assert_eq!(
        sw.handle(no_line, t(0)),
        Err(FactError::UnknownLine("zoe".into()))
    );
    assert_eq!(sw.call_count(), 0);

    sw.handle(dialed("alice"), t(0)).unwrap();
    let rows: Vec<(Fact, FactError)> = vec![
        (dialed("carol"), FactError::DuplicateCall(R)),
        (
            Fact::offered(R, "zoe"),
            FactError::UnknownLine("zoe".into()),
        ),
        (
            Fact::Offered {
                call: R,
                line: "bob".into(),
                reason: CallReason::Callcompletion,
                completion_id: Some(0),
            },
            FactError::BadCompletionId {
                completion_id: Some(0),
                reason: CallReason::Callcompletion,
            },
        ),
        (
            Fact::Offered {
                call: R,
                line: "bob".into(),
                reason: CallReason::Direct,
                completion_id: Some(4),
            },
            FactError::BadCompletionId {
                completion_id: Some(4),
                reason: CallReason::Direct,
            },
        ),
        (
            Fact::Offered {
                call: R,
                line: "bob".into(),
                reason: CallReason::Callcompletion,
                completion_id: None,
            },
            FactError::BadCompletionId {
                completion_id: None,
                reason: CallReason::Callcompletion,
            },
        ),
        (
            Fact::CallerReleased { call: R },
            FactError::InvalidInPhase {
                call: R,
                fact: "caller_released",
                phase: "being set up",
            },
        ),
    ];
    for (fact, want) in rows {
        assert_eq!(sw.handle(fact.clone(), t(1)), Err(want), "{fact:?}");
    }
    // Nothing above consumed a sequence number or created a call.
    let next = sw.handle(Fact::offered(R, "bob"), t(2)).unwrap();
    assert_eq!(next[0].seq, 3);
    assert_eq!(sw.call_count(), 2);
    assert_eq!(
        sw.handle(Fact::offered(R, "carol"), t(3)),
        Err(FactError::AlreadyOffered(R))
    );

    sw.handle(Fact::Answered { call: R }, t(4)).unwrap();
    assert!(matches!(
        sw.handle(failed(Failure::Busy, CallerLeg::Released), t(5)),
        Err(FactError::InvalidInPhase {
            fact: "failed",
            phase: "connected",
            ..
        })
    ));
    sw.handle(
        Fact::Hangup {
            call: R,
            by: Side::Callee,
        },
        t(6),
    )
    .unwrap();
    // The call ref is forgotten once the call is over.
    assert_eq!(
        sw.handle(Fact::Ringing { call: R }, t(7)),
        Err(FactError::UnknownCall(R))
    );
}

#[test]
fn held_call_refuses_answer_and_callee_hangup() {
    let mut sw = switch();
    for step in setup_steps() {
        if let Step::Fact(ms, fact, _) = step {
            sw.handle(fact, t(ms)).unwrap();
        }
    }
    sw.handle(failed(Failure::Busy, CallerLeg::Held), t(50))
        .unwrap();
    for fact in [
        Fact::Answered { call: R },
        Fact::Hangup {
            call: R,
            by: Side::Callee,
        },
        failed(Failure::Busy, CallerLeg::Released),
        Fact::offered(R, "carol"),
    ] {
        assert!(
            matches!(
                sw.handle(fact.clone(), t(60)),
                Err(FactError::InvalidInPhase { .. })
            ),
            "{fact:?}"
        );
    }
}

#[test]
fn call_ids_are_never_zero_and_unique_among_live_calls() {
    let mut sw = switch();
    let mut live = std::collections::BTreeSet::new();
    for r in 0..200u64 {
        let call = CallRef(r);
        let events = sw
            .handle(
                Fact::Dialed {
                    call,
                    from: Party::Line("alice".into()),
                    to: BOB.into(),
                },
                t(r),
            )
            .unwrap();
        let id = events[0].kind.call_id().unwrap().get();
        assert_ne!(id, 0);
        assert!(live.insert(id), "id {id} reused while live");
        if r % 3 == 0 {
            sw.handle(
                Fact::Hangup {
                    call,
                    by: Side::Caller,
                },
                t(r),
            )
            .unwrap();
            live.remove(&id);
        }
    }
    assert_eq!(sw.call_count(), live.len());
    let on_line: Vec<u32> = sw
        .line_calls("alice")
        .unwrap()
        .iter()
        .map(|c| c.id.get())
        .collect();
    assert_eq!(on_line, live.iter().copied().collect::<Vec<_>>());
}

#[test]
fn queries() {
    let mut sw = switch();
    let names: Vec<&str> = sw.lines().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    assert_eq!(sw.line("bob").unwrap().address, BOB);
    assert_eq!(sw.line_calls("zoe"), Err(LineErr::InvalLineHandle));
    assert_eq!(
        sw.add_line(Line::new("bob", BOB)),
        Err(callcomp_switch::AddLineError::Exists("bob".into()))
    );
    assert_eq!(
        sw.add_line(Line::new("", BOB)),
        Err(callcomp_switch::AddLineError::EmptyName)
    );

    sw.handle(dialed("alice"), t(0)).unwrap();
    sw.handle(Fact::offered(R, "bob"), t(1)).unwrap();
    assert_eq!(sw.line_calls("alice").unwrap().len(), 1);
    let bob_calls = sw.line_calls("bob").unwrap();
    assert_eq!(bob_calls.len(), 1);
    assert_eq!(bob_calls[0].remote, ALICE);
    assert!(sw.line_calls("carol").unwrap().is_empty());
    assert_eq!(sw.calls_of(R).len(), 2);
    assert_eq!(sw.call_by_number(0).err(), Some(LineErr::InvalCallHandle));
    assert_eq!(sw.call_by_number(77).err(), Some(LineErr::InvalCallHandle));
    let c = sw.call_by_number(2).unwrap();
    assert_eq!((c.line.as_str(), c.state), ("bob", CallState::Offering));
    assert_eq!(c.created, t(1));
}

#[test]
fn drop_call_ends_only_calls_without_a_leg() {
    let mut sw = switch();
    sw.handle(dialed("alice"), t(0)).unwrap();
    let alice = CallId::new(1).unwrap();
    assert_eq!(sw.drop_call(alice, t(1)), Err(LineErr::InvalCallState));
    sw.handle(failed(Failure::Busy, CallerLeg::Released), t(2))
        .unwrap();
    let events = sw.drop_call(alice, t(3)).unwrap();
    assert_eq!(summary(&events), ["alice:1 idle"]);
    assert_eq!(sw.next_deadline(), None);
    assert_eq!(sw.drop_call(alice, t(4)), Err(LineErr::InvalCallHandle));
    assert!(sw.on_timer(t(60_000)).is_empty());
}

#[test]
fn set_reason_emits_callinfo_with_what_changed() {
    let mut sw = switch();
    sw.handle(dialed("alice"), t(0)).unwrap();
    sw.handle(failed(Failure::Busy, CallerLeg::Held), t(1))
        .unwrap();
    let alice = CallId::new(1).unwrap();
    let events = sw
        .set_reason(alice, CallReason::Callcompletion, Some(7), t(2))
        .unwrap();
    assert_eq!(summary(&events), ["alice:1 callinfo reason|completionid"]);
    let EventKind::CallInfo(info) = &events[0].kind else {
        panic!("not callinfo");
    };
    assert_eq!(info.changed_value, 0x600);
    assert_eq!(sw.call(alice).unwrap().completion_id, Some(7));
    assert!(sw
        .set_reason(alice, CallReason::Callcompletion, Some(7), t(3))
        .unwrap()
        .is_empty());
    assert_eq!(
        sw.set_reason(alice, CallReason::Direct, Some(7), t(3)),
        Err(LineErr::InvalCompletionId)
    );
    assert_eq!(
        sw.set_reason(CallId::new(9).unwrap(), CallReason::Direct, None, t(3)),
        Err(LineErr::InvalCallHandle)
    );
}

#[test]
fn recall_offer_carries_reason_and_completion_id() {
    let mut sw = switch();
    sw.handle(
        Fact::Dialed {
            call: R,
            from: Party::External("Callback: bob".into()),
            to: ALICE.into(),
        },
        t(0),
    )
    .unwrap();
    let events = sw
        .handle(
            Fact::Offered {
                call: R,
                line: "alice".into(),
                reason: CallReason::Callcompletion,
                completion_id: Some(7),
            },
            t(1),
        )
        .unwrap();
    let json: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(
        json,
        [
            json!({"seq": 1, "at_ms": 1, "event": "appnewcall", "call_id": 1, "line": "alice",
                   "address_id": 0, "direction": "in", "remote": "Callback: bob",
                   "reason": "callcompletion", "reason_value": 128, "completion_id": 7}),
            json!({"seq": 2, "at_ms": 1, "event": "callstate", "call_id": 1, "line": "alice",
                   "state": "offering", "state_value": 2, "reason": "callcompletion",
                   "reason_value": 128, "completion_id": 7}),
        ]
    );
}

/// DESIGN §4: events go out as flat JSON with names and TAPI values side by side.
#[test]
fn callstate_json_shape() {
    let mut sw = switch();
    sw.handle(dialed("alice"), t(0)).unwrap();
    let events = sw
        .handle(failed(Failure::Busy, CallerLeg::Released), t(1_500))
        .unwrap();
    assert_eq!(
        serde_json::to_value(&events[0]).unwrap(),
        json!({"seq": 3, "at_ms": 1500, "event": "callstate", "call_id": 1, "line": "alice",
               "state": "busy", "state_value": 64, "mode": "station", "mode_value": 1,
               "reason": "direct", "reason_value": 1, "completion_id": null})
    );
    let call = serde_json::to_value(sw.call_by_number(1).unwrap()).unwrap();
    assert_eq!(call["offer_until_ms"], 21_500);
    assert_eq!(call["state"], "busy");
}
