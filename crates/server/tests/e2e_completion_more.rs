//! More end-to-end call completion (issue #4): the real `callcomp serve`, SIPp phones and the
//! HTTP API as the application.
//!
//! - CCNR: a callback on no answer fires after the callee's next call of its own;
//! - camp-on: asked through the API while `busy_hold` keeps the INVITE open (183 → 182 →
//!   put through), by the `on_busy = "campon"` policy, and its `campon_max` timeout (486);
//! - mode `message`: delivered at once to a registered callee, and at the registration of an
//!   absent one;
//! - two callers on one busy callee: queue positions 1 and 2 in the API, recalled in order;
//! - a third party calling the callee during the guard gets 486 (reservation);
//! - `DELETE` of a request stops its recall;
//! - `max_call_completions`: LINEERR_COMPLETIONOVERRUN.
//!
//! Timers are short (guard 1.5 s, recall ring 5 s, no-answer timeout 2 s) so that every test
//! ends within a few seconds. Waiting is bounded polling; nothing asserts on durations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::http::{get_json, line_call_states, poll, request, Events};
use common::{free_port, Phone, Server, ServerConfig, SippProcess, REGISTER_TIMEOUT};
use serde_json::Value;

/// How long any one step of a test may take before it fails.
const STEP: Duration = Duration::from_secs(10);

/// The completion settings of every test: short timers. The guard leaves a callee's next
/// phone run time to register on the port its previous run used.
fn config(extra: &str) -> ServerConfig {
    timers(1500, "10s", extra)
}

/// As [`config`] with another guard and camp-on limit.
fn timers(guard_ms: u32, campon_max: &str, extra: &str) -> ServerConfig {
    let mut config = ServerConfig::default().tables(&format!(
        "[completion]\noffer_window = \"20s\"\nguard_ms = {guard_ms}\nrecall_ring = \"5s\"\n\
         campon_max = {campon_max:?}\n{extra}"
    ));
    config.no_answer_timeout = "2s".to_owned();
    config
}

/// A phone for `user` on a fixed local port (so that its next run replaces the binding),
/// playing `scenario` for the call it takes.
fn phone_on(server: &Server, user: &str, scenario: &str, port: u16, pause_ms: u64) -> Phone {
    Phone::start(
        server
            .sipp_as("phone.xml", user)
            .ooc(scenario)
            .local_port(port)
            .pause_ms(pause_ms),
    )
}

/// A phone as a bare SIPp process (so that the test can ask whether it is still running),
/// once registered. Its SIPp timeout is long enough to outlive the test.
fn phone_process(server: &Server, user: &str, scenario: &str, pause_ms: u64) -> SippProcess {
    let mut process = server
        .sipp_as("phone.xml", user)
        .ooc(scenario)
        .pause_ms(pause_ms)
        .timeout(Duration::from_secs(60))
        .spawn();
    if let Err(why) = process.wait_for_log("registered ", REGISTER_TIMEOUT) {
        panic!("phone did not register: {why}");
    }
    process
}

/// The ids of `line`'s calls that failed and are in their offer window (`busy` or
/// `ringback`), oldest first.
fn failed_calls(api: SocketAddr, line: &str) -> Vec<u64> {
    let calls = get_json(api, &format!("/v1/lines/{line}/calls"));
    let mut ids: Vec<u64> = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["state"] == "busy" || c["state"] == "ringback")
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// The one failed call of `line`, waited for (bounded).
fn failed_call(api: SocketAddr, line: &str) -> u64 {
    poll(
        STEP,
        &format!("a failed call of {line}"),
        || failed_calls(api, line).first().copied(),
        || get_json(api, &format!("/v1/lines/{line}/calls")).to_string(),
    )
}

/// `POST /v1/calls/{call}/complete`: (status, JSON body).
fn complete(api: SocketAddr, call: u64, mode: &str, message_id: u32) -> (u16, Value) {
    let body = format!("{{\"mode\": \"{mode}\", \"message_id\": {message_id}}}");
    let (status, text) = request(
        api,
        "POST",
        &format!("/v1/calls/{call}/complete"),
        Some(&body),
    );
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// A request that must be accepted; returns its completion id.
fn complete_ok(api: SocketAddr, call: u64, mode: &str, message_id: u32) -> u64 {
    let (status, body) = complete(api, call, mode, message_id);
    assert_eq!(status, 201, "{mode} on call {call}: {body}");
    body["completion_id"].as_u64().unwrap()
}

/// `GET /v1/lines/{line}/completions`.
fn completions_of(api: SocketAddr, line: &str) -> Vec<Value> {
    get_json(api, &format!("/v1/lines/{line}/completions"))
        .as_array()
        .unwrap()
        .clone()
}

/// Waits (bounded) until `line` has no outstanding completion request.
fn wait_no_completions(api: SocketAddr, line: &str) {
    poll(
        STEP,
        &format!("{line}'s requests ending"),
        || completions_of(api, line).is_empty().then_some(()),
        || format!("{:?}", completions_of(api, line)),
    );
}

/// Waits (bounded) until `line` has a connected call.
fn wait_connected(api: SocketAddr, line: &str) {
    poll(
        STEP,
        &format!("{line} connected"),
        || {
            line_call_states(api, line)
                .iter()
                .any(|s| s == "connected")
                .then_some(())
        },
        || format!("{:?}", line_call_states(api, line)),
    );
}

/// bob (no call waiting) talks with carol; bob's phone on `bob_port` hangs up after
/// `talk_ms`. Returns carol's call and bob's phone once the call is connected.
fn bob_busy_with_carol(server: &Server, bob_port: u16, talk_ms: u64) -> (SippProcess, Phone) {
    let bob = phone_on(server, "bob", "uas_answer_then_bye.xml", bob_port, talk_ms);
    let carol = server
        .sipp_as("call_bye_from_callee.xml", "carol")
        .service("bob")
        .spawn();
    wait_connected(server.api, "bob");
    (carol, bob)
}

/// `caller` calls the busy bob and gets 486 with the offer `m=BS`.
fn busy_486(server: &Server, caller: &str) {
    server
        .sipp_as("call_expect_486.xml", caller)
        .service("bob")
        .set("expect_m", "BS")
        .run()
        .assert_success();
}

/// The lines of the `completion` events with `state`, in order.
fn completion_lines(events: &[Value], state: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "completion")
        .filter(|e| e["state"] == state)
        .map(|e| e["line"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// (1) CCNR: bob's phone rings and never answers (480 `m=NR`); a callback is asked within the
/// offer window; nothing happens until bob makes and ends a call of his own; then alice's
/// phone is recalled (`uas_recall.xml` checks "Callback:", the Call-Info and no SDP), answers,
/// and bob's phone gets callcomp's offer (`uas_answer_recall.xml`), answers and hangs up.
#[test]
fn ccnr_callback_fires_after_the_callees_own_call() {
    common::require_sipp();
    let server = Server::start(config(""));
    let bob_port = free_port();
    let alice = phone_on(&server, "alice", "uas_recall.xml", free_port(), 300);
    let ringing = phone_on(&server, "bob", "uas_noanswer.xml", bob_port, 0);
    server
        .sipp_as("call_expect_480.xml", "alice")
        .service("bob")
        .set("expect_m", "NR")
        .run()
        .assert_success();
    ringing.wait().assert_success();

    let call = failed_call(server.api, "alice");
    let id = complete_ok(server.api, call, "callback", 0);
    let listed = completions_of(server.api, "alice");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["completion_id"].as_u64(), Some(id));
    assert_eq!(listed[0]["condition"], "noanswer", "{listed:?}");
    assert_eq!(listed[0]["mode"], "callback", "{listed:?}");
    // Not yet: it waits for a call of bob's established after the request.
    assert_eq!(listed[0]["availability"], "waiting", "{listed:?}");
    assert_eq!(listed[0]["state"], "queued", "{listed:?}");

    // bob's phone is back for the recall's second leg; then bob calls carol and hangs up.
    let bob = phone_on(&server, "bob", "uas_answer_recall.xml", bob_port, 0);
    let carol = phone_on(&server, "carol", "uas_answer.xml", free_port(), 0);
    common::call(
        carol,
        server
            .sipp_as("call_basic.xml", "bob")
            .service("carol")
            .pause_ms(200),
    );

    let alice = alice.wait();
    alice.assert_success();
    assert!(alice.logged("recall taken"), "{}", alice.report);
    bob.wait().assert_success();
    wait_no_completions(server.api, "alice");
}

/// (2a) Camp-on asked through the API: alice's line holds a busy INVITE (`busy_hold = "5s"`):
/// 183 with the offer; `complete` with mode campon → 182 Queued; when bob's call ends the
/// same INVITE reaches bob's phone with alice's offer, and alice gets 200 with bob's answer.
#[test]
fn campon_from_busy_hold_goes_through_when_the_callee_frees_up() {
    campon_goes_through(true);
}

/// (2a') The same camp-on from a caller whose line has no registration (a phone that only
/// calls out): its INVITE is held open, so it can be put through all the same.
#[test]
fn campon_from_an_unregistered_caller_goes_through() {
    campon_goes_through(false);
}

/// The camp-on flow of 2a; `register_caller`: whether alice's phone is registered.
fn campon_goes_through(register_caller: bool) {
    common::require_sipp();
    let server = Server::start(
        config("")
            .user_option("bob", "call_waiting = false")
            .user_option("alice", "busy_hold = \"5s\""),
    );
    let alice_phone = register_caller.then(|| phone_process(&server, "alice", "uas_busy.xml", 0));
    let bob_port = free_port();
    let (carol, bob_first) = bob_busy_with_carol(&server, bob_port, 4000);
    let mut alice = server
        .sipp_as("call_campon.xml", "alice")
        .service("bob")
        .pause_ms(200)
        .spawn();
    alice.wait_for_log("held with 183", STEP).unwrap();
    let call = failed_call(server.api, "alice");
    let id = complete_ok(server.api, call, "campon", 0);
    alice.wait_for_log("queued with 182", STEP).unwrap();
    let listed = completions_of(server.api, "alice");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["completion_id"].as_u64(), Some(id));
    assert_eq!(listed[0]["mode"], "campon", "{listed:?}");

    carol.wait().assert_success();
    bob_first.wait().assert_success();
    let bob = phone_on(&server, "bob", "uas_answer.xml", bob_port, 0);
    let alice = alice.wait();
    alice.assert_success();
    assert!(alice.logged("campon connected"), "{}", alice.report);
    bob.wait().assert_success();
    wait_no_completions(server.api, "alice");
    if let Some(phone) = alice_phone {
        phone.kill();
    }
}

/// (2b) Camp-on by policy (`on_busy = "campon"`): dave gets 183 then 182 Queued with no API
/// request; bob stays busy past `campon_max`, so dave gets 486 and the request is gone.
#[test]
fn campon_by_policy_queues_and_times_out_with_486() {
    common::require_sipp();
    let server = Server::start(
        timers(1500, "2s", "")
            .user_option("bob", "call_waiting = false")
            .user_option("dave", "on_busy = \"campon\""),
    );
    let (_carol, _bob) = bob_busy_with_carol(&server, free_port(), 8000);
    let mut dave = server
        .sipp_as("call_campon.xml", "dave")
        .service("bob")
        .spawn();
    dave.wait_for_log("queued with 182", STEP).unwrap();
    let listed = completions_of(server.api, "dave");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["mode"], "campon", "{listed:?}");
    let dave = dave.wait();
    dave.assert_success();
    assert!(dave.logged("campon rejected with 486"), "{}", dave.report);
    wait_no_completions(server.api, "dave");
}

/// (3a) Mode message to a registered callee: bob's phone refuses alice (486); the application
/// leaves message 0; bob's phone receives the MESSAGE (text/plain, the predefined text and
/// alice's name) and answers 200, which completes the request.
#[test]
fn message_reaches_a_registered_callee() {
    common::require_sipp();
    let server = Server::start(config(""));
    let bob_port = free_port();
    let busy = phone_on(&server, "bob", "uas_busy.xml", bob_port, 0);
    busy_486(&server, "alice");
    busy.wait().assert_success();
    let bob = phone_on(&server, "bob", "uas_message.xml", bob_port, 0);
    let call = failed_call(server.api, "alice");
    complete_ok(server.api, call, "message", 0);
    let bob = bob.wait();
    bob.assert_success();
    assert!(
        bob.logged("message from alice: Please call me back"),
        "{}",
        bob.report
    );
    wait_no_completions(server.api, "alice");
}

/// (3b) Mode message to an absent callee: alice gets 480 `m=NL`; the message waits (listed)
/// and reaches dave's phone when it registers.
#[test]
fn message_waits_for_an_unregistered_callee() {
    common::require_sipp();
    let server = Server::start(config(""));
    server
        .sipp_as("call_expect_480.xml", "alice")
        .service("dave")
        .set("expect_m", "NL")
        .run()
        .assert_success();
    let call = failed_call(server.api, "alice");
    let id = complete_ok(server.api, call, "message", 0);
    let listed = completions_of(server.api, "alice");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["completion_id"].as_u64(), Some(id));
    assert_eq!(listed[0]["mode"], "message", "{listed:?}");
    assert_eq!(listed[0]["condition"], "notregistered", "{listed:?}");

    let dave = phone_on(&server, "dave", "uas_message.xml", free_port(), 0);
    let dave = dave.wait();
    dave.assert_success();
    assert!(
        dave.logged("message from alice: Please call me back"),
        "{}",
        dave.report
    );
    wait_no_completions(server.api, "alice");
}

/// (4) alice then dave ask for a callback on the busy bob: the callee's queue lists them at
/// positions 1 and 2; when bob frees up alice is recalled first and talks with bob; after
/// that call dave is recalled.
#[test]
fn two_callers_are_served_in_the_order_they_asked() {
    common::require_sipp();
    let server = Server::start(config("").user_option("bob", "call_waiting = false"));
    let mut events = Events::connect(server.api);
    let bob_port = free_port();
    let alice = phone_process(&server, "alice", "uas_recall.xml", 300);
    let mut dave = phone_process(&server, "dave", "uas_recall.xml", 300);
    let (carol, bob_first) = bob_busy_with_carol(&server, bob_port, 4000);
    busy_486(&server, "alice");
    let first = complete_ok(server.api, failed_call(server.api, "alice"), "callback", 0);
    busy_486(&server, "dave");
    let second = complete_ok(server.api, failed_call(server.api, "dave"), "callback", 0);

    let queue = get_json(server.api, "/v1/completions?target=bob");
    let queue = queue.as_array().unwrap();
    assert_eq!(queue.len(), 2, "{queue:?}");
    assert_eq!(queue[0]["completion_id"].as_u64(), Some(first), "{queue:?}");
    assert_eq!(queue[0]["line"], "alice", "{queue:?}");
    assert_eq!(queue[0]["queue_position"], 1, "{queue:?}");
    assert_eq!(
        queue[1]["completion_id"].as_u64(),
        Some(second),
        "{queue:?}"
    );
    assert_eq!(queue[1]["line"], "dave", "{queue:?}");
    assert_eq!(queue[1]["queue_position"], 2, "{queue:?}");

    carol.wait().assert_success();
    bob_first.wait().assert_success();
    let bob = phone_on(&server, "bob", "uas_answer_recall.xml", bob_port, 0);
    let alice = alice.wait();
    alice.assert_success();
    assert!(alice.logged("recall taken"), "{}", alice.report);
    // dave cannot have been recalled yet: bob was talking with alice until now.
    assert!(dave.running(), "dave was recalled before alice");
    bob.wait().assert_success();
    let bob = phone_on(&server, "bob", "uas_answer_recall.xml", bob_port, 0);
    dave.wait_for_log("recall taken", STEP).unwrap();
    let dave = dave.wait();
    dave.assert_success();
    bob.wait().assert_success();

    let seen = events.wait_until(STEP, |seen| completion_lines(seen, "recalling").len() >= 2);
    assert_eq!(
        completion_lines(seen, "recalling"),
        ["alice", "dave"],
        "{}",
        events.dump()
    );
    wait_no_completions(server.api, "alice");
    wait_no_completions(server.api, "dave");
}

/// (5) While the guard runs for alice's recall, bob is reserved: dave calling him gets 486
/// with the offer `m=BS`; then the recall goes on.
#[test]
fn a_third_party_gets_486_while_the_callee_is_reserved() {
    common::require_sipp();
    let server = Server::start(timers(5000, "10s", "").user_option("bob", "call_waiting = false"));
    let mut events = Events::connect(server.api);
    let bob_port = free_port();
    let alice = phone_on(&server, "alice", "uas_recall.xml", free_port(), 300);
    let (carol, bob_first) = bob_busy_with_carol(&server, bob_port, 2500);
    busy_486(&server, "alice");
    complete_ok(server.api, failed_call(server.api, "alice"), "callback", 0);
    carol.wait().assert_success();
    bob_first.wait().assert_success();
    events.wait_until(STEP, |seen| !completion_lines(seen, "ready").is_empty());
    // The guard runs: bob is free but reserved for alice.
    busy_486(&server, "dave");
    let bob = phone_on(&server, "bob", "uas_answer_recall.xml", bob_port, 0);
    alice.wait().assert_success();
    bob.wait().assert_success();
    // dave's call came (and was refused) before alice's recall started, i.e. in the guard.
    let seen = events.wait_until(STEP, |s| !completion_lines(s, "recalling").is_empty());
    let position = |pred: &dyn Fn(&Value) -> bool| seen.iter().position(pred);
    let dave_called = position(&|e| e["event"] == "appnewcall" && e["line"] == "dave");
    let recalling = position(&|e| {
        e["event"] == "completion" && e["line"] == "alice" && e["state"] == "recalling"
    });
    assert!(
        matches!((dave_called, recalling), (Some(d), Some(r)) if d < r),
        "{}",
        events.dump()
    );
}

/// (6) The application cancels alice's request before bob frees up: alice's phone is never
/// rung. dave, who asked after alice, is recalled instead (so had alice's request survived,
/// she would have been rung first), and bob's queue ends empty.
#[test]
fn cancel_stops_the_recall() {
    common::require_sipp();
    let server = Server::start(config("").user_option("bob", "call_waiting = false"));
    let mut events = Events::connect(server.api);
    let bob_port = free_port();
    // Any INVITE to alice's phone would end this run (uas_busy answers it and finishes).
    let mut alice = phone_process(&server, "alice", "uas_busy.xml", 0);
    let dave = phone_on(&server, "dave", "uas_recall.xml", free_port(), 300);
    let (carol, bob_first) = bob_busy_with_carol(&server, bob_port, 3500);
    busy_486(&server, "alice");
    let id = complete_ok(server.api, failed_call(server.api, "alice"), "callback", 0);
    busy_486(&server, "dave");
    complete_ok(server.api, failed_call(server.api, "dave"), "callback", 0);

    let (status, body) = request(
        server.api,
        "DELETE",
        &format!("/v1/lines/alice/completions/{id}"),
        None,
    );
    assert_eq!(status, 204, "{body}");
    assert!(completions_of(server.api, "alice").is_empty());

    carol.wait().assert_success();
    bob_first.wait().assert_success();
    let bob = phone_on(&server, "bob", "uas_answer_recall.xml", bob_port, 0);
    let dave = dave.wait();
    dave.assert_success();
    assert!(dave.logged("recall taken"), "{}", dave.report);
    bob.wait().assert_success();
    assert!(alice.running(), "alice's phone was rung after the cancel");
    let seen = events.wait_until(STEP, |s| !completion_lines(s, "recalling").is_empty());
    assert_eq!(
        completion_lines(seen, "recalling"),
        ["dave"],
        "{}",
        events.dump()
    );
    wait_no_completions(server.api, "alice");
    poll(
        STEP,
        "bob's queue empty",
        || {
            get_json(server.api, "/v1/completions?target=bob")
                .as_array()
                .unwrap()
                .is_empty()
                .then_some(())
        },
        || get_json(server.api, "/v1/completions?target=bob").to_string(),
    );
    alice.kill();
}

/// (7) `max_call_completions = 1`: alice's first request is accepted, the second (on another
/// failed call) is refused 409 LINEERR_COMPLETIONOVERRUN, and nothing changes.
#[test]
fn a_second_request_over_the_limit_is_refused() {
    common::require_sipp();
    let server = Server::start(config("max_call_completions = 1\n"));
    for _ in 0..2 {
        server
            .sipp_as("call_expect_480.xml", "alice")
            .service("dave")
            .set("expect_m", "NL")
            .run()
            .assert_success();
    }
    let calls = poll(
        STEP,
        "two failed calls of alice",
        || Some(failed_calls(server.api, "alice")).filter(|c| c.len() == 2),
        || format!("{:?}", failed_calls(server.api, "alice")),
    );
    let id = complete_ok(server.api, calls[0], "callback", 0);
    let (status, body) = complete(server.api, calls[1], "callback", 0);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "LINEERR_COMPLETIONOVERRUN", "{body}");
    assert_eq!(body["code"], -2147483642_i64, "{body}");
    let listed = completions_of(server.api, "alice");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["completion_id"].as_u64(), Some(id));
}
