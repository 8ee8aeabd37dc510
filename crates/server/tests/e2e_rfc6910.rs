//! End-to-end RFC 6910 (issue #11): the real `callcomp serve` with SIPp phones that speak the
//! call-completion event package, and phones that only dial feature codes.
//!
//! - the RFC §8 flow: alice gets 486 from the busy bob, subscribes at the offer's URI
//!   (`cc_subscribe.xml`), hears `queued`; the API lists the subscription as one of alice's
//!   requests, and it counts against her limit (the API's next request is refused); bob hangs up; alice hears `ready` and her phone gets the recall with the
//!   request's cc URI and `m=BS` (`uas_recall_cc.xml`); she places the CC call to the cc URI
//!   (`call_basic.xml`), which reaches bob, withdraws the recall, and ends the subscription
//!   with the final NOTIFY;
//! - suspend and resume by PUBLISH and unsubscribe (`cc_suspend.xml`), each seen in the API;
//!
//! Timers are short; waiting is bounded polling; nothing asserts on durations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::http::{get_json, line_call_states, poll, request};
use common::{Phone, Server, ServerConfig};
use serde_json::Value;

/// How long any one step may take before the test fails.
const STEP: Duration = Duration::from_secs(10);

/// Short completion timers; bob has no call waiting, so callcomp itself answers 486.
fn config() -> ServerConfig {
    ServerConfig::default()
        .user_option("bob", "call_waiting = false")
        .tables("[completion]\nguard_ms = 300\nrecall_ring = \"15s\"\n")
}

/// `GET /v1/lines/{line}/completions`.
fn completions_of(api: SocketAddr, line: &str) -> Vec<Value> {
    get_json(api, &format!("/v1/lines/{line}/completions"))
        .as_array()
        .unwrap()
        .clone()
}

/// Waits (bounded) until `line`'s requests satisfy `ok`; returns them.
fn wait_completions(
    api: SocketAddr,
    line: &str,
    what: &str,
    ok: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    poll(
        STEP,
        what,
        || {
            let now = completions_of(api, line);
            ok(&now).then_some(now)
        },
        || format!("{:?}", completions_of(api, line)),
    )
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

/// RFC 6910 §8 with a SIPp phone as the caller's agent: SUBSCRIBE after the 486, `queued`,
/// `ready` with the recall carrying `m=BS`, the CC call, the final NOTIFY.
#[test]
fn an_rfc6910_phone_subscribes_hears_ready_and_places_the_cc_call() {
    common::require_sipp();
    let server = Server::start(config().user_option("alice", "max_call_completions = 1"));
    // alice's registered phone: takes the recall, then sees it withdrawn by the CC call.
    let alice_phone = Phone::start(
        server
            .sipp_as("phone.xml", "alice")
            .ooc("uas_recall_cc.xml")
            .timeout(Duration::from_secs(40)),
    );
    let bob_first = Phone::start(
        server
            .sipp_as("phone.xml", "bob")
            .ooc("uas_answer_then_bye.xml")
            .pause_ms(2500),
    );
    let carol = server
        .sipp_as("call_bye_from_callee.xml", "carol")
        .service("bob")
        .spawn();
    wait_connected(server.api, "bob");
    server
        .sipp_as("call_expect_486.xml", "alice")
        .service("bob")
        .set("expect_m", "BS")
        .run()
        .assert_success();

    let mut subscriber = server
        .sipp_as("cc_subscribe.xml", "alice")
        .service("bob")
        .timeout(Duration::from_secs(40))
        .spawn();
    subscriber.wait_for_log("queued at sip:cc-", STEP).unwrap();
    // The subscription is one of alice's completion requests for the API.
    let requests = completions_of(server.api, "alice");
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["target"], "bob");
    assert_eq!(requests[0]["mode"], "callback");
    let id = requests[0]["completion_id"].as_u64().unwrap();
    let line = get_json(server.api, "/v1/lines/alice");
    assert_eq!(line["status"]["num_call_completions"], 1, "{line}");
    // It counts against alice's limit (1): the API refuses a request on her next failed call.
    server
        .sipp_as("call_expect_480.xml", "alice")
        .service("dave")
        .set("expect_m", "NL")
        .run()
        .assert_success();
    let calls = get_json(server.api, "/v1/lines/alice/calls");
    let failed = calls
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["state"] == "busy" && c["remote"].as_str().is_some_and(|r| r.contains("dave")))
        .unwrap_or_else(|| panic!("no failed call to dave: {calls}"))["id"]
        .as_u64()
        .unwrap();
    let (status, body) = request(
        server.api,
        "POST",
        &format!("/v1/calls/{failed}/complete"),
        Some("{\"mode\": \"callback\"}"),
    );
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("LINEERR_COMPLETIONOVERRUN"), "{body}");

    carol.wait().assert_success();
    bob_first.wait().assert_success();
    // bob's phone comes back for the CC call.
    let bob = server.phone("bob", "uas_answer.xml");
    subscriber.wait_for_log("ready", STEP).unwrap();

    // The CC call to the request's own cc URI, with alice's offer.
    server
        .sipp_as("call_basic.xml", "alice")
        .service(&format!("cc-{id}"))
        .pause_ms(300)
        .run()
        .assert_success();
    bob.wait().assert_success();
    let subscriber = subscriber.wait();
    subscriber.assert_success();
    assert!(subscriber.logged("terminated"), "{}", subscriber.report);
    let alice_phone = alice_phone.wait();
    alice_phone.assert_success();
    assert!(
        alice_phone.logged(&format!("recall rang with Call-Info <sip:cc-{id}@")),
        "{}",
        alice_phone.report
    );
    assert!(
        alice_phone.logged("recall withdrawn"),
        "{}",
        alice_phone.report
    );
    assert!(
        completions_of(server.api, "alice").is_empty(),
        "the CC call ended the request"
    );
}

/// Suspend and resume by PUBLISH, then unsubscribe, each seen by the API.
#[test]
fn publish_suspends_and_resumes_and_unsubscribing_cancels() {
    common::require_sipp();
    let server = Server::start(config());
    // alice's phone is registered (a caller that is not is suspended by the engine anyway).
    server
        .sipp_as("register.xml", "alice")
        .run()
        .assert_success();
    // bob is not registered: alice's call fails 480 (m=NL) and her request waits.
    server
        .sipp_as("call_expect_480.xml", "alice")
        .service("bob")
        .set("expect_m", "NL")
        .run()
        .assert_success();
    let mut phone = server
        .sipp_as("cc_suspend.xml", "alice")
        .service("bob")
        .pause_ms(2500)
        .timeout(Duration::from_secs(30))
        .spawn();
    phone.wait_for_log("queued at sip:cc-", STEP).unwrap();
    // The phone suspends at once; the request is there, queued or already suspended.
    wait_completions(server.api, "alice", "one request", |r| r.len() == 1);
    phone.wait_for_log("suspended", STEP).unwrap();
    wait_completions(server.api, "alice", "the request suspended", |r| {
        r.len() == 1 && r[0]["state"] == "suspended"
    });
    phone.wait_for_log("resumed", STEP).unwrap();
    wait_completions(server.api, "alice", "the request resumed", |r| {
        r.len() == 1 && r[0]["state"] == "queued"
    });
    let phone = phone.wait();
    phone.assert_success();
    assert!(phone.logged("unsubscribed"), "{}", phone.report);
    wait_completions(
        server.api,
        "alice",
        "the request cancelled",
        <[Value]>::is_empty,
    );
}
