//! lineCompleteCall validation (DESIGN §2.1), capabilities and status, with injected time.
//!
//! Coverage of the numbered behaviours of `reference/tapi-call-completion.md` §9 by the
//! `completion_*` test files (v = this file, m = completion_modes.rs, q = completion_queue.rs,
//! u = completion_uncomplete.rs, r = completion_restart.rs, i = completion_intrude.rs):
//!
//! | § 9 | covered by |
//! |---|---|
//! | 1 ids returned, never 0 | v `accepted_requests_have_unique_nonzero_ids` |
//! | 2 UNINITIALIZED | does not apply: no lineInitialize; the server API is always initialised |
//! | 3 INVALCALLHANDLE | v `validation_order` rows 1-3 |
//! | 4 NOTOWNER | v `validation_order` rows 4-5 |
//! | 5 INVALPOINTER | does not apply: the id is a return value, there is no pointer to check |
//! | 6 mode 0 / several bits / unknown bit | v `validation_order` rows "mode 0", "two modes", "unknown bit" |
//! | 7 mode not offered | v rows "intrude not configured", "mode not configured" |
//! | 8 max 0 → OPERATIONUNAVAIL | v rows "completion unavailable"; a call without COMPLETECALL gives INVALCALLSTATE (DESIGN §2.1 step 4 decides) |
//! | 9 state not busy/ringback | v rows "connected", "proceeding" (DESIGN: PROCEEDING is refused), "incoming" |
//! | 10 condition not offered | v row "busy not in conds" |
//! | 11 INVALMESSAGEID, id ignored for other modes | v rows "message id past the list", "message id ignored for callback" |
//! | 12 COMPLETIONOVERRUN | v row "line full" |
//! | 13 sync errors, one reply per accepted request | v `refusals_emit_nothing`, `acceptance_events` |
//! | 14 id delivered with the reply, nothing on failure | v `acceptance_events`, `refusals_emit_nothing` |
//! | 15 success = accepted, not completed | v `acceptance_events` (state `queued`) |
//! | 16 ids unique per line, never 0 | v `accepted_requests_have_unique_nonzero_ids` |
//! | 17 COMPLETIONID flag | v `caps_follow_config` |
//! | 18 several outstanding up to the max | v `accepted_requests_have_unique_nonzero_ids` |
//! | 19 count and NUMCOMPLETIONS | v `acceptance_events`, u `uncomplete_*`, q expiry tests |
//! | 20 camp-on stays busy | m `campon_*` |
//! | 21 callback/message go idle | m `callback_*`, `message_*` |
//! | 22 INTRUDE connected | i `intrusion_connects_the_intruder_and_marks_the_joined_call`; v rows "intrude …" for the refusals |
//! | 23 idle is final | v row "idle call" (an idle call is unknown); m: no callinfo after idle |
//! | 24 callback fires as a new offered call with reason and id | q `busy_known_fires_after_guard_and_recall_is_offered` |
//! | 25 camp-on/intrude fire updates reason and id (callinfo 0x600) | m `campon_fires_on_the_same_call`, i `intrusion_connects_the_intruder_and_marks_the_joined_call` |
//! | 26 fired id is invalid for uncomplete | u `uncomplete_errors` |
//! | 27 completion id only with reason callcompletion | flows.rs `set_reason_emits_callinfo_with_what_changed` |
//! | 28-32 lineUncompleteCall | u `uncomplete_errors`, `uncomplete_success_*` |
//! | 33 cancel not supported | does not apply: UNCOMPLETECALL is set whenever completion is available |
//! | 34 COMPLCANCEL on callcomp's own cancel | q `expiries_per_condition`, `recall_unanswered_*`; u `uncomplete_errors` |
//! | 35 max 0 ⇔ unavailable | v `caps_follow_config` |
//! | 36 COMPL* bits imply COMPLETECALL | v `call_features_match_validation` |
//! | 37-38 message table layout, structure sizes | do not apply: C structure layout; the API sends JSON |
//! | 39-40 TAPI 3 COM properties | do not apply: no COM surface |
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod completion_common;

use callcomp_switch::completion::LineLimits;
use callcomp_switch::{
    CallerLeg, CompletionCond, CompletionConfig, CompletionMode, Failure, LineErr,
};
use completion_common::{config, Rig};
use serde_json::json;

const CALLBACK: u32 = 0x2;
const CAMPON: u32 = 0x1;
const INTRUDE: u32 = 0x4;
const MESSAGE: u32 = 0x8;

/// What a row asks: requester, call id, mode, message id.
struct Ask {
    requester: Option<&'static str>,
    call: u32,
    mode: u32,
    message_id: u32,
}

fn ask(call: u32, mode: u32) -> Ask {
    Ask {
        requester: None,
        call,
        mode,
        message_id: 0,
    }
}

type Prep = fn(&mut Rig) -> Ask;

/// carol talks to bob through callcomp; alice calls bob, gets busy and is held: her call.
fn intruder_held(r: &mut Rig) -> callcomp_switch::CallId {
    r.connect("carol", "bob", 0);
    r.failed("alice", "bob", Failure::Busy, CallerLeg::Held, 0)
        .1
}

/// `line` may not be intruded on.
fn not_intrudable(r: &mut Rig, line: &str) {
    let limits = LineLimits {
        intrudable: Some(false),
        ..LineLimits::default()
    };
    r.sw.set_line_limits(line, limits).unwrap();
}

/// A row: name, configuration (default if `None`), preparation, expected result.
type Row = (
    &'static str,
    Option<CompletionConfig>,
    Prep,
    Result<(), LineErr>,
);

/// DESIGN §2.1, every row and the precedence when two failures apply.
#[test]
fn validation_order() {
    let rows: Vec<Row> = vec![
        // 1. call handle and owner.
        (
            "call 0",
            None,
            |_| ask(0, CALLBACK),
            Err(LineErr::InvalCallHandle),
        ),
        (
            "unknown call",
            None,
            |_| ask(99, CALLBACK),
            Err(LineErr::InvalCallHandle),
        ),
        (
            "unknown call beats a bad mode",
            None,
            |_| ask(99, 0),
            Err(LineErr::InvalCallHandle),
        ),
        (
            "not the owner",
            None,
            |r| {
                let id = r.busy("alice", "bob", 0);
                Ask {
                    requester: Some("carol"),
                    ..ask(id.get(), CALLBACK)
                }
            },
            Err(LineErr::NotOwner),
        ),
        (
            "not the owner beats a bad mode",
            None,
            |r| {
                let id = r.busy("alice", "bob", 0);
                Ask {
                    requester: Some("carol"),
                    ..ask(id.get(), 0)
                }
            },
            Err(LineErr::NotOwner),
        ),
        (
            "the owner itself",
            None,
            |r| {
                let id = r.busy("alice", "bob", 0);
                Ask {
                    requester: Some("alice"),
                    ..ask(id.get(), CALLBACK)
                }
            },
            Ok(()),
        ),
        (
            "idle call",
            None,
            |r| {
                let id = r.busy("alice", "bob", 0);
                r.timer(60_000);
                ask(id.get(), CALLBACK)
            },
            Err(LineErr::InvalCallHandle),
        ),
        // 2. completion unavailable.
        (
            "completion unavailable",
            None,
            |r| {
                r.sw.set_line_limits(
                    "alice",
                    LineLimits {
                        max_call_completions: Some(0),
                        max_queue: None,
                        intrudable: None,
                    },
                )
                .unwrap();
                ask(r.busy("alice", "bob", 0).get(), CALLBACK)
            },
            Err(LineErr::OperationUnavail),
        ),
        (
            "completion unavailable beats a bad mode",
            Some(CompletionConfig {
                max_call_completions: 0,
                ..config()
            }),
            |r| ask(r.busy("alice", "bob", 0).get(), 3),
            Err(LineErr::OperationUnavail),
        ),
        (
            "callee is not one of our lines",
            None,
            |r| {
                let call = callcomp_switch::CallRef(7);
                r.fact(
                    callcomp_switch::Fact::Dialed {
                        call,
                        from: callcomp_switch::Party::Line("alice".into()),
                        to: "sip:zoe@elsewhere.example".into(),
                    },
                    0,
                );
                r.fact(
                    callcomp_switch::Fact::Failed {
                        call,
                        cause: Failure::Busy,
                        caller_leg: CallerLeg::Released,
                    },
                    0,
                );
                ask(1, CALLBACK)
            },
            Err(LineErr::OperationUnavail),
        ),
        // 3. mode.
        (
            "mode 0",
            None,
            |r| ask(r.busy("alice", "bob", 0).get(), 0),
            Err(LineErr::InvalCallComplMode),
        ),
        (
            "two modes",
            None,
            |r| ask(r.busy("alice", "bob", 0).get(), CALLBACK | MESSAGE),
            Err(LineErr::InvalCallComplMode),
        ),
        (
            "unknown bit",
            None,
            |r| ask(r.busy("alice", "bob", 0).get(), 0x10),
            Err(LineErr::InvalCallComplMode),
        ),
        (
            "intrude not configured",
            Some(CompletionConfig {
                modes: vec![CompletionMode::Callback, CompletionMode::Campon],
                ..config()
            }),
            |r| ask(intruder_held(r).get(), INTRUDE),
            Err(LineErr::InvalCallComplMode),
        ),
        (
            "intrude not configured beats a callee that is not intrudable",
            Some(CompletionConfig {
                modes: vec![CompletionMode::Callback],
                ..config()
            }),
            |r| {
                not_intrudable(r, "bob");
                ask(intruder_held(r).get(), INTRUDE)
            },
            Err(LineErr::InvalCallComplMode),
        ),
        (
            "mode not configured",
            Some(CompletionConfig {
                modes: vec![CompletionMode::Callback],
                ..config()
            }),
            |r| ask(r.busy("alice", "bob", 0).get(), MESSAGE),
            Err(LineErr::InvalCallComplMode),
        ),
        (
            "bad mode beats a bad state",
            None,
            |r| {
                r.connect("alice", "bob", 0);
                ask(1, 0)
            },
            Err(LineErr::InvalCallComplMode),
        ),
        // 4. state.
        (
            "intrude into the callee's connected call",
            None,
            |r| ask(intruder_held(r).get(), INTRUDE),
            Ok(()),
        ),
        (
            "intrude with the caller's leg released",
            None,
            |r| {
                r.connect("carol", "bob", 0);
                ask(r.busy("alice", "bob", 0).get(), INTRUDE)
            },
            Err(LineErr::InvalCallState),
        ),
        (
            "intrude on a callee that is not intrudable",
            None,
            |r| {
                not_intrudable(r, "bob");
                ask(intruder_held(r).get(), INTRUDE)
            },
            Err(LineErr::InvalCallState),
        ),
        (
            "intrude on a callee busy with no call through callcomp",
            None,
            |r| {
                let (_, id) = r.failed("alice", "bob", Failure::Busy, CallerLeg::Held, 0);
                ask(id.get(), INTRUDE)
            },
            Err(LineErr::InvalCallState),
        ),
        (
            "intrude on a callee whose call still rings",
            None,
            |r| {
                r.dial("carol", "bob", true, 0);
                let (_, id) = r.failed("alice", "bob", Failure::Busy, CallerLeg::Held, 0);
                ask(id.get(), INTRUDE)
            },
            Err(LineErr::InvalCallState),
        ),
        (
            "intrude into a call someone is joining already",
            None,
            |r| {
                let first = intruder_held(r);
                r.complete(first, CompletionMode::Intrude, 0);
                let (_, id) = r.failed("dave", "bob", Failure::Busy, CallerLeg::Held, 0);
                ask(id.get(), INTRUDE)
            },
            Err(LineErr::InvalCallState),
        ),
        (
            "not intrudable beats a full line",
            Some(CompletionConfig {
                max_call_completions: 1,
                ..config()
            }),
            |r| {
                let other = r.busy("alice", "dave", 0);
                r.complete(other, CompletionMode::Callback, 0);
                not_intrudable(r, "bob");
                ask(intruder_held(r).get(), INTRUDE)
            },
            Err(LineErr::InvalCallState),
        ),
        (
            "intrude on a full line",
            Some(CompletionConfig {
                max_call_completions: 1,
                ..config()
            }),
            |r| {
                let other = r.busy("alice", "dave", 0);
                r.complete(other, CompletionMode::Callback, 0);
                ask(intruder_held(r).get(), INTRUDE)
            },
            Err(LineErr::CompletionOverrun),
        ),
        (
            "intrude does not wait in a full queue",
            Some(CompletionConfig {
                max_queue: 1,
                ..config()
            }),
            |r| {
                let other = r.busy("dave", "bob", 0);
                r.complete(other, CompletionMode::Callback, 0);
                ask(intruder_held(r).get(), INTRUDE)
            },
            Ok(()),
        ),
        (
            "connected",
            None,
            |r| {
                r.connect("alice", "bob", 0);
                ask(1, CALLBACK)
            },
            Err(LineErr::InvalCallState),
        ),
        (
            "proceeding",
            None,
            |r| {
                let (call, id) = r.dial("alice", "bob", false, 0);
                r.fact(callcomp_switch::Fact::Proceeding { call }, 0);
                ask(id.get(), CALLBACK)
            },
            Err(LineErr::InvalCallState),
        ),
        (
            "incoming call",
            None,
            |r| {
                r.dial("alice", "bob", true, 0);
                ask(2, CALLBACK)
            },
            Err(LineErr::InvalCallState),
        ),
        (
            "campon after the caller leg ended",
            None,
            |r| ask(r.busy("alice", "bob", 0).get(), CAMPON),
            Err(LineErr::InvalCallState),
        ),
        (
            "campon on no answer",
            None,
            |r| {
                let (_, id) = r.failed("alice", "bob", Failure::NoAnswer, CallerLeg::Held, 0);
                ask(id.get(), CAMPON)
            },
            Err(LineErr::InvalCallState),
        ),
        (
            "campon with the caller leg held",
            None,
            |r| {
                let (_, id) = r.failed("alice", "bob", Failure::Busy, CallerLeg::Held, 0);
                ask(id.get(), CAMPON)
            },
            Ok(()),
        ),
        (
            "busy not in conds",
            Some(CompletionConfig {
                conds: vec![CompletionCond::Noanswer],
                ..config()
            }),
            |r| ask(r.busy("alice", "bob", 0).get(), CALLBACK),
            Err(LineErr::InvalCallState),
        ),
        (
            "bad state beats a bad message id",
            None,
            |r| {
                r.connect("alice", "bob", 0);
                Ask {
                    message_id: 99,
                    ..ask(1, MESSAGE)
                }
            },
            Err(LineErr::InvalCallState),
        ),
        // 5. message id.
        (
            "message id past the list",
            None,
            |r| Ask {
                message_id: 3,
                ..ask(r.busy("alice", "bob", 0).get(), MESSAGE)
            },
            Err(LineErr::InvalMessageId),
        ),
        (
            "last message id",
            None,
            |r| Ask {
                message_id: 2,
                ..ask(r.busy("alice", "bob", 0).get(), MESSAGE)
            },
            Ok(()),
        ),
        (
            "message id ignored for callback",
            None,
            |r| Ask {
                message_id: u32::MAX,
                ..ask(r.busy("alice", "bob", 0).get(), CALLBACK)
            },
            Ok(()),
        ),
        (
            "bad message id beats a full line",
            Some(CompletionConfig {
                max_call_completions: 1,
                ..config()
            }),
            |r| {
                let first = r.busy("alice", "carol", 0);
                r.complete(first, CompletionMode::Callback, 0);
                Ask {
                    message_id: 7,
                    ..ask(r.busy("alice", "bob", 0).get(), MESSAGE)
                }
            },
            Err(LineErr::InvalMessageId),
        ),
        // 6. the line's limit.
        (
            "line full",
            Some(CompletionConfig {
                max_call_completions: 1,
                ..config()
            }),
            |r| {
                let first = r.busy("alice", "carol", 0);
                r.complete(first, CompletionMode::Callback, 0);
                ask(r.busy("alice", "bob", 0).get(), CALLBACK)
            },
            Err(LineErr::CompletionOverrun),
        ),
        (
            "full line beats a full queue",
            Some(CompletionConfig {
                max_call_completions: 1,
                max_queue: 1,
                ..config()
            }),
            |r| {
                let first = r.busy("alice", "carol", 0);
                r.complete(first, CompletionMode::Callback, 0);
                let other = r.busy("dave", "bob", 0);
                r.complete(other, CompletionMode::Callback, 0);
                ask(r.busy("alice", "bob", 0).get(), CALLBACK)
            },
            Err(LineErr::CompletionOverrun),
        ),
        // 7. the callee's queue.
        (
            "queue full",
            None,
            |r| {
                r.sw.set_line_limits(
                    "bob",
                    LineLimits {
                        max_call_completions: None,
                        max_queue: Some(1),
                        intrudable: None,
                    },
                )
                .unwrap();
                let other = r.busy("dave", "bob", 0);
                r.complete(other, CompletionMode::Callback, 0);
                ask(r.busy("alice", "bob", 0).get(), CALLBACK)
            },
            Err(LineErr::ResourceUnavail),
        ),
        (
            "messages do not take queue places",
            Some(CompletionConfig {
                max_queue: 1,
                ..config()
            }),
            |r| {
                let other = r.busy("dave", "bob", 0);
                r.complete(other, CompletionMode::Callback, 0);
                ask(r.busy("alice", "bob", 0).get(), MESSAGE)
            },
            Ok(()),
        ),
    ];
    for (name, cfg, prep, want) in rows {
        let mut rig = Rig::with(cfg.unwrap_or_else(config));
        let a = prep(&mut rig);
        let got = rig
            .try_complete(a.requester, a.call, a.mode, a.message_id, 10)
            .map(|_| ());
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn refusals_emit_nothing() {
    let mut rig = Rig::new();
    let id = rig.busy("alice", "bob", 0);
    let seq = rig.last_seq;
    for mode in [0, 3, INTRUDE, CAMPON] {
        assert!(rig.try_complete(None, id.get(), mode, 0, 5).is_err());
    }
    assert_eq!(rig.sw.line_status("alice").unwrap().num_call_completions, 0);
    assert!(rig.actions().is_empty());
    // The next event still follows the last one.
    rig.complete(id, CompletionMode::Callback, 6);
    assert!(rig.last_seq > seq);
}

/// DESIGN §2.1 success and digest §9.13-15, §9.19: the events and their JSON.
#[test]
fn acceptance_events() {
    let mut rig = Rig::new();
    let call = rig.busy("alice", "bob", 0);
    let a = rig
        .sw
        .complete_call(None, call.get(), CALLBACK, 0, completion_common::t(100))
        .unwrap();
    assert_eq!(
        completion_common::summary(&a.events),
        [
            "alice:1 idle",
            "alice reply completecall 1",
            "alice numcompletions 1",
            "completion 1 queued @1",
        ]
    );
    let json: Vec<serde_json::Value> = a
        .events
        .iter()
        .skip(1)
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    let s = a.events[1].seq;
    assert_eq!(
        json,
        [
            json!({"seq": s, "at_ms": 100, "event": "reply", "request": "completecall",
                   "line": "alice", "call_id": 1, "completion_id": 1, "result": 0}),
            json!({"seq": s + 1, "at_ms": 100, "event": "linedevstate", "line": "alice",
                   "state": "numcompletions", "state_value": 0x1000,
                   "num_call_completions": 1}),
            json!({"seq": s + 2, "at_ms": 100, "event": "completion", "completion_id": 1,
                   "line": "alice", "target": "bob", "mode": "callback",
                   "condition": "busy", "state": "queued", "position": 1}),
        ]
    );
    let r = rig.sw.completion(a.id).unwrap();
    assert_eq!(
        (r.line(), r.target.key(), r.call.map(|c| c.get())),
        (Some("alice"), "bob", Some(1))
    );
    assert_eq!(r.expiry, completion_common::t(100 + 3_600_000));
    assert_eq!(rig.sw.line_status("alice").unwrap().num_call_completions, 1);
}

#[test]
fn accepted_requests_have_unique_nonzero_ids() {
    let mut rig = Rig::new();
    let mut ids = Vec::new();
    for (i, to) in ["bob", "carol", "dave", "bob", "carol"].iter().enumerate() {
        let call = rig.busy("alice", to, i as u64);
        ids.push(
            rig.complete(call, CompletionMode::Callback, i as u64)
                .0
                .get(),
        );
    }
    assert_eq!(ids, [1, 2, 3, 4, 5]);
    assert_eq!(rig.sw.completions_of("alice").unwrap().len(), 5);
    let call = rig.busy("alice", "bob", 9);
    assert_eq!(
        rig.try_complete(None, call.get(), CALLBACK, 0, 9),
        Err(LineErr::CompletionOverrun)
    );
}

/// Conditions follow how the call failed: busy, no answer, not registered, still ringing.
#[test]
fn condition_per_failure() {
    let rows: &[(Failure, bool, CompletionCond)] = &[
        (Failure::Busy, false, CompletionCond::Busy),
        (Failure::NoAnswer, false, CompletionCond::Noanswer),
        (Failure::NotRegistered, false, CompletionCond::Notregistered),
        (Failure::Busy, true, CompletionCond::Noanswer),
    ];
    for &(failure, ringing, want) in rows {
        let mut rig = Rig::new();
        let id = if ringing {
            let (r, id) = rig.dial("alice", "bob", true, 0);
            rig.fact(callcomp_switch::Fact::Ringing { call: r }, 0);
            id
        } else {
            rig.failed("alice", "bob", failure, CallerLeg::Released, 0)
                .1
        };
        let (cid, _) = rig.complete(id, CompletionMode::Callback, 1);
        let r = rig.sw.completion(cid).unwrap();
        assert_eq!((r.condition, r.target.key()), (want, "bob"), "{failure:?}");
    }
}

#[test]
fn caps_follow_config() {
    let mut rig = Rig::new();
    let caps = rig.sw.address_caps("alice").unwrap();
    assert_eq!(caps.call_completion_modes, CompletionMode::ALL);
    assert_eq!(caps.call_completion_modes_value, 0xF);
    assert_eq!(caps.call_completion_conds_value, 0x8000_0003);
    assert_eq!(caps.max_call_completions, 5);
    assert_eq!(caps.completion_messages.len(), 3);
    assert_eq!(caps.addr_cap_flags, 0x800);
    assert_eq!(caps.call_features, 0x10);
    assert_eq!(caps.address_features, 0x40);
    assert_eq!(caps.call_features2, 0x4 | 0x8 | 0x10 | 0x20);
    rig.sw
        .set_line_limits(
            "bob",
            LineLimits {
                max_call_completions: Some(0),
                max_queue: None,
                intrudable: None,
            },
        )
        .unwrap();
    let off = rig.sw.address_caps("bob").unwrap();
    assert_eq!(off.max_call_completions, 0);
    assert!(off.call_completion_modes.is_empty());
    assert_eq!(
        (off.addr_cap_flags, off.call_features, off.call_features2),
        (0, 0, 0)
    );
    assert_eq!(rig.sw.address_caps("zoe"), Err(LineErr::InvalLineHandle));
    assert_eq!(rig.sw.line_status("zoe"), Err(LineErr::InvalLineHandle));
}

/// DESIGN §2.1: COMPLETECALL and the COMPL* bits show exactly the modes that would pass.
#[test]
fn call_features_match_validation() {
    let mut rig = Rig::new();
    let (_, held) = rig.failed("alice", "bob", Failure::Busy, CallerLeg::Held, 0);
    let f = rig.sw.call_features(held);
    assert_eq!((f.features, f.features2), (0x10, 0x4 | 0x8 | 0x20));
    let released = rig.busy("carol", "dave", 0);
    let f = rig.sw.call_features(released);
    assert_eq!((f.features, f.features2), (0x10, 0x8 | 0x20));
    for mode in CompletionMode::ALL {
        let offered = rig.sw.completable_modes(released).contains(mode);
        let mut probe = Rig::new();
        let id = probe.busy("carol", "dave", 0);
        assert_eq!(
            probe
                .try_complete(None, id.get(), mode.value(), 0, 1)
                .is_ok(),
            offered,
            "{mode}"
        );
    }
    rig.connect("dave", "bob", 1);
    let connected = rig.sw.line_calls("dave").unwrap()[0].id;
    assert_eq!(rig.sw.call_features(connected).features, 0);

    // COMPLINTRUDE shows exactly while the callee has a call to join and is intrudable.
    let mut rig = Rig::new();
    let held = intruder_held(&mut rig);
    let f = rig.sw.call_features(held);
    assert_eq!((f.features, f.features2), (0x10, 0x4 | 0x8 | 0x10 | 0x20));
    not_intrudable(&mut rig, "bob");
    assert_eq!(rig.sw.call_features(held).features2, 0x4 | 0x8 | 0x20);
    assert_eq!(
        rig.try_complete(None, held.get(), INTRUDE, 0, 1),
        Err(LineErr::InvalCallState)
    );
}

/// The two phases a server with a store uses: a prepared request shows nothing (no event, not
/// outstanding, not counted in the status) but holds its id and counts against the line's
/// limit; a second request on its call is INVALCALLSTATE; abandoning it frees the place and its
/// only event is the `reply` with the error; committing it accepts it as `complete_call` does.
#[test]
fn prepared_requests_count_but_show_nothing_until_committed() {
    let mut rig = Rig::new();
    let at = completion_common::t;
    let mut prepared = Vec::new();
    for (i, to) in ["bob", "carol", "dave", "bob", "carol"].iter().enumerate() {
        let call = rig.busy("alice", to, i as u64);
        let r = rig
            .sw
            .prepare_completion(None, call.get(), CALLBACK, 0, at(i as u64))
            .unwrap();
        prepared.push((call, r.id));
    }
    assert!(rig.sw.completions_of("alice").unwrap().is_empty());
    assert_eq!(rig.sw.line_status("alice").unwrap().num_call_completions, 0);
    let call = rig.busy("alice", "bob", 9);
    assert_eq!(
        rig.sw
            .prepare_completion(None, call.get(), CALLBACK, 0, at(9))
            .map(|r| r.id),
        Err(LineErr::CompletionOverrun)
    );
    assert_eq!(
        rig.sw
            .prepare_completion(None, prepared[0].0.get(), CALLBACK, 0, at(9))
            .map(|r| r.id),
        Err(LineErr::InvalCallState)
    );

    let events = rig
        .sw
        .abandon_completion(prepared[4].1, LineErr::ResourceUnavail, at(10));
    let json: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect();
    assert_eq!(json.len(), 1, "{json:?}");
    assert_eq!(json[0]["event"], "reply");
    assert_eq!(json[0]["completion_id"], 5);
    assert_eq!(json[0]["result"], LineErr::ResourceUnavail.value());
    // The place is free again; the abandoned id is not handed out again at once.
    let r = rig
        .sw
        .prepare_completion(None, call.get(), CALLBACK, 0, at(11))
        .unwrap();
    assert_eq!(r.id.get(), 6);

    let accepted = rig.sw.commit_completion(prepared[0].1, at(12)).unwrap();
    assert_eq!(accepted.id, prepared[0].1);
    let first = serde_json::to_value(&accepted.events[0]).unwrap();
    assert_eq!(
        (first["event"].as_str(), first["result"].as_i64()),
        (Some("callstate"), None),
        "the original call goes idle first"
    );
    assert!(accepted.events.iter().any(|e| {
        let v = serde_json::to_value(e).unwrap();
        v["event"] == "reply" && v["result"] == 0
    }));
    assert_eq!(rig.sw.completions_of("alice").unwrap().len(), 1);
    assert_eq!(
        rig.sw
            .commit_completion(prepared[0].1, at(13))
            .map(|a| a.id),
        Err(LineErr::InvalCompletionId),
        "committed once"
    );
}
