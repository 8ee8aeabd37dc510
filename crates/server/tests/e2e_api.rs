//! End-to-end tests of the application API around real calls (issue #3): the TAPI states of
//! calls through `GET /v1/lines/{line}/calls` and the WebSocket event stream, the busy offer
//! window, third-party calls (`POST /v1/lines/{line}/calls`, `DELETE /v1/calls/{id}`), and
//! the SIP counters of `GET /metrics`. The real `callcomp serve` runs on free loopback ports
//! and SIPp plays the phones.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::http::{self, get_json, line_call_states, poll, states_of, Events};
use common::{call, Server, ServerConfig};

/// Bound for anything the server does at once (a state change after a SIP message).
const SOON: Duration = Duration::from_secs(5);

// --- busy and the offer window (DESIGN §2.1, RFC 6910) ----------------------------------

/// alice calls bob, whose phone answers 486: alice gets 486 with `m=BS` (checked by
/// `call_expect_486.xml`); her line shows the call `busy` (mode `station`) during the 2 s offer
/// window, and then no call; the event stream shows her call going busy and then idle.
#[test]
fn busy_call_is_busy_for_the_offer_window_then_idle() {
    let server =
        Server::start(ServerConfig::default().tables("[completion]\noffer_window = \"2s\"\n"));
    let mut events = Events::connect(server.api);
    let bob = server.phone("bob", "uas_busy.xml");
    call(
        bob,
        server
            .sipp_as("call_expect_486.xml", "alice")
            .service("bob")
            .set("expect_m", "BS"),
    );

    let calls = poll(
        SOON,
        "alice's call shown busy",
        || {
            let calls = get_json(server.api, "/v1/lines/alice/calls");
            (calls.as_array().unwrap().len() == 1 && calls[0]["state"] == "busy").then_some(calls)
        },
        || format!("{:?}", line_call_states(server.api, "alice")),
    );
    let busy = &calls[0];
    assert_eq!(busy["mode"], "station", "{busy}");
    assert_eq!(busy["state_value"], 64, "LINECALLSTATE_BUSY: {busy}");
    assert!(busy["offer_until_ms"].is_u64(), "no offer window: {busy}");
    let id = busy["id"].as_u64().unwrap();
    assert_eq!(
        get_json(server.api, &format!("/v1/calls/{id}"))["state"],
        "busy"
    );

    // The window is 2 s; allow generously for a loaded machine.
    poll(
        Duration::from_secs(15),
        "alice's busy call gone idle",
        || {
            line_call_states(server.api, "alice")
                .is_empty()
                .then_some(())
        },
        || format!("{:?}", line_call_states(server.api, "alice")),
    );
    let (status, _) = http::request(server.api, "GET", &format!("/v1/calls/{id}"), None);
    assert_eq!(status, 404, "an idle call is gone from the API");

    let seen = events.wait_until(SOON, |e| {
        states_of(e, "alice").last().is_some_and(|s| s == "idle")
    });
    let alice = states_of(seen, "alice");
    assert_eq!(
        alice.first().map(String::as_str),
        Some("dialing"),
        "{alice:?}"
    );
    assert!(
        alice.ends_with(&["busy".to_owned(), "idle".to_owned()]),
        "alice's states: {alice:?}"
    );
}

// --- the event stream of a basic call (TAPI LINE_CALLSTATE) -----------------------------

/// A basic call alice -> bob, alice hanging up: the stream shows alice's call dialing,
/// proceeding, ringback, connected, idle and bob's offering, connected, disconnected (the far
/// end hung up), idle; every event has the next `seq`.
#[test]
fn event_stream_shows_the_tapi_states_of_a_basic_call_in_order() {
    let server = Server::start(ServerConfig::default());
    let mut events = Events::connect(server.api);
    let bob = server.phone("bob", "uas_answer.xml");
    call(
        bob,
        server
            .sipp_as("call_basic.xml", "alice")
            .service("bob")
            .pause_ms(100),
    );
    let seen = events.wait_until(SOON, |e| {
        states_of(e, "alice").last().is_some_and(|s| s == "idle")
            && states_of(e, "bob").last().is_some_and(|s| s == "idle")
    });
    assert_eq!(
        states_of(seen, "alice"),
        ["dialing", "proceeding", "ringback", "connected", "idle"],
        "{}",
        events.dump()
    );
    assert_eq!(
        states_of(seen, "bob"),
        ["offering", "connected", "disconnected", "idle"],
        "{}",
        events.dump()
    );
    let seqs: Vec<u64> = seen.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    for pair in seqs.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "seq must rise by one: {seqs:?}");
    }
    // Each line has one call, with one id throughout.
    for line in ["alice", "bob"] {
        let mut ids: Vec<_> = seen
            .iter()
            .filter(|e| e["event"] == "callstate" && e["line"] == line)
            .map(|e| e["call_id"].as_u64().unwrap())
            .collect();
        ids.dedup();
        assert_eq!(ids.len(), 1, "{line}: {}", events.dump());
    }
}

// --- third-party call (lineMakeCall, RFC 3725 flow I) -----------------------------------

/// `POST /v1/lines/alice/calls {"to": "bob"}`: alice's phone is rung first with an INVITE
/// without SDP and answers with an offer (`uas_3pcc_offer.xml`); bob's phone gets that offer
/// untouched and answers (`uas_answer.xml`); alice's phone gets bob's answer in the ACK. Both
/// lines show `connected`; `DELETE /v1/calls/{id}` sends both phones a BYE.
#[test]
fn third_party_call_connects_both_phones_and_delete_hangs_up_both() {
    let server = Server::start(ServerConfig::default());
    let alice = server.phone("alice", "uas_3pcc_offer.xml");
    let bob = server.phone("bob", "uas_answer.xml");

    let (status, body) = http::request(
        server.api,
        "POST",
        "/v1/lines/alice/calls",
        Some(r#"{"to": "bob"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let made: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = made["id"].as_u64().unwrap();
    assert_eq!(made["line"], "alice");

    poll(
        SOON,
        "both lines connected",
        || {
            (line_call_states(server.api, "alice") == ["connected"]
                && line_call_states(server.api, "bob") == ["connected"])
            .then_some(())
        },
        || {
            format!(
                "alice {:?}, bob {:?}",
                line_call_states(server.api, "alice"),
                line_call_states(server.api, "bob")
            )
        },
    );
    assert_eq!(
        get_json(server.api, &format!("/v1/calls/{id}"))["state"],
        "connected"
    );

    let (status, body) = http::request(server.api, "DELETE", &format!("/v1/calls/{id}"), None);
    assert_eq!(status, 204, "{body}");
    // Each phone ends successfully only after its BYE.
    alice.wait().assert_success();
    bob.wait().assert_success();
    poll(
        SOON,
        "both lines idle",
        || {
            (line_call_states(server.api, "alice").is_empty()
                && line_call_states(server.api, "bob").is_empty())
            .then_some(())
        },
        || {
            format!(
                "alice {:?}, bob {:?}",
                line_call_states(server.api, "alice"),
                line_call_states(server.api, "bob")
            )
        },
    );
}

// --- metrics ----------------------------------------------------------------------------

/// The value of every sample of `name` whose labels contain all of `labels`, summed.
fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// After one call, `GET /metrics` counts SIP messages received and sent (the INVITE among
/// them), transactions, and the registrations.
#[test]
fn metrics_count_sip_messages_after_a_call() {
    let server = Server::start(ServerConfig::default());
    let bob = server.phone("bob", "uas_answer.xml");
    call(
        bob,
        server.sipp_as("call_basic.xml", "alice").service("bob"),
    );

    let (status, text) = http::request(server.api, "GET", "/metrics", None);
    assert_eq!(status, 200, "{text}");
    for (name, labels) in [
        ("callcomp_sip_messages_received_total", &[][..]),
        ("callcomp_sip_messages_sent_total", &[][..]),
        (
            "callcomp_sip_messages_received_total",
            &[r#"method="INVITE""#, r#"status="request""#][..],
        ),
        (
            "callcomp_sip_messages_sent_total",
            &[r#"method="INVITE""#, r#"status="request""#][..],
        ),
        (
            "callcomp_sip_messages_received_total",
            &[r#"method="BYE""#, r#"status="200""#][..],
        ),
        ("callcomp_sip_transactions_total", &[r#"role="server""#][..]),
        ("callcomp_sip_transactions_total", &[r#"role="client""#][..]),
        (
            "callcomp_registrations_total",
            &[r#"result="accepted""#][..],
        ),
    ] {
        assert!(
            metric_sum(&text, name, labels) > 0.0,
            "{name}{labels:?} is not counted:\n{text}"
        );
    }
}
