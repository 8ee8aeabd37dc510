//! End-to-end: callcomp as the RFC 6910 monitor for another server's user (docs/completion.md,
//! "Monitor side for a trunk's subscriber"). SIPp plays the other server, b.test, on
//! 127.0.0.3 (a trusted `[[trunks]]` address): its user carol calls bob, who is busy, gets
//! 486 with the offer; b.test subscribes, hears `queued` with the request's cc-URI; the API
//! lists the request among bob's waiting ones with its external caller; bob frees; b.test
//! hears `ready` (callcomp recalls nobody); its CC call to the cc-URI rings bob, who answers,
//! and the subscription ends with the final NOTIFY.
//!
//! Timers are short; waiting is bounded polling; nothing asserts on durations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::http::{get_json, poll};
use common::{free_port, Phone, Server, ServerConfig};
use serde_json::Value;

/// How long any one step may take before the test fails.
const STEP: Duration = Duration::from_secs(10);

/// The loopback address playing b.test's server.
const TRUNK_IP: &str = "127.0.0.3";

/// `GET /v1/completions?target=bob`.
fn waiting_on_bob(server: &Server) -> Vec<Value> {
    get_json(server.api, "/v1/completions?target=bob")
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn another_servers_user_subscribes_is_made_ready_and_completes_by_its_cc_call() {
    common::require_sipp();
    let trunk_port = free_port();
    let server = Server::start(
        ServerConfig::default()
            .user_option("bob", "call_waiting = false")
            .sip_option(&format!("trusted = [\"{TRUNK_IP}/32\"]"))
            .tables(&format!(
                "[completion]\nguard_ms = 300\nrecall_ring = \"15s\"\n\n\
                 [[trunks]]\ndomain = \"b.test\"\naddress = \"{TRUNK_IP}:{trunk_port}\"\n\
                 max_call_completions = 2\n"
            )),
    );
    // bob talks to alice (he hangs up after 2.5 s), so b.test's call finds him busy.
    let bob_first = Phone::start(
        server
            .sipp_as("phone.xml", "bob")
            .ooc("uas_answer_then_bye.xml")
            .pause_ms(2500),
    );
    let alice = server
        .sipp_as("call_bye_from_callee.xml", "alice")
        .service("bob")
        .spawn();
    poll(
        STEP,
        "bob connected",
        || {
            common::http::line_call_states(server.api, "bob")
                .iter()
                .any(|s| s == "connected")
                .then_some(())
        },
        || format!("{:?}", common::http::line_call_states(server.api, "bob")),
    );

    let mut trunk = common::Sipp::new("trunk_monitor.xml")
        .local_ip(TRUNK_IP)
        .local_port(trunk_port)
        .remote(server.sip)
        .key("user", "carol")
        .service("bob")
        .timeout(Duration::from_secs(40))
        .spawn();
    trunk.wait_for_log("queued at sip:cc-", STEP).unwrap();
    // The API lists it with bob's waiting requests: its caller is external.
    let waiting = waiting_on_bob(&server);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(
        waiting[0]["external_caller"],
        serde_json::json!({"trunk": "b.test", "aor": "sip:carol@b.test"}),
        "{waiting:?}"
    );
    assert_eq!(
        waiting[0]["line"], "bob",
        "the line speaking for it: the callee's"
    );
    assert_eq!(waiting[0]["mode"], "callback");
    assert_eq!(waiting[0]["call_id"], Value::Null);
    let id = waiting[0]["completion_id"].as_u64().unwrap();
    let alice_line = get_json(server.api, "/v1/lines/alice");
    assert_eq!(alice_line["status"]["num_call_completions"], 0);

    alice.wait().assert_success();
    bob_first.wait().assert_success();
    trunk.wait_for_log("ready", STEP).unwrap();
    assert_eq!(waiting_on_bob(&server)[0]["state"], "recalling");
    // bob's phone comes back (registered) for the CC call, which b.test places over the trunk.
    let bob = server.phone("bob", "uas_answer.xml");
    let port = format!(":{}", bob.addr().port());
    poll(
        STEP,
        "bob's phone registered",
        || {
            get_json(server.api, "/v1/lines/bob/registrations")
                .as_array()
                .is_some_and(|r| {
                    r.iter()
                        .any(|b| b["contact"].as_str().is_some_and(|c| c.contains(&port)))
                })
                .then_some(())
        },
        || format!("{}", get_json(server.api, "/v1/lines/bob/registrations")),
    );
    let cc_call = common::Sipp::new("trunk_cc_call.xml")
        .local_ip(TRUNK_IP)
        .remote(server.sip)
        .key("user", "carol")
        .service(&format!("cc-{id}"))
        .pause_ms(300)
        .run();
    cc_call.assert_success();
    assert!(cc_call.logged("cc call answered"), "{}", cc_call.report);
    let trunk = trunk.wait();
    trunk.assert_success();
    assert!(trunk.logged("terminated"), "{}", trunk.report);
    bob.wait().assert_success();
    assert!(
        waiting_on_bob(&server).is_empty(),
        "the CC call ended the request"
    );
}
