//! End-to-end `[[trunks]]` and the RFC 6910 agent role (issue #11 item 4) with **two**
//! callcomp servers on loopback: A serves `a.test`, B serves `b.test`, each is the other's
//! trunk and trusts the other's address.
//!
//! - an answered call over the trunk, SDP untouched both ways, hung up by the caller;
//! - a stranger's call to B's domain through A is refused 403;
//! - a user of A calls a busy user of B: the INVITE goes over the trunk, B (seeing a trusted
//!   peer) classifies the busy and offers completion, A relays the failure to its user with
//!   its own offer; A's API shows the failed call;
//! - the whole agent flow (RFC 6910 §5): A's user asks for completion of that call (the API,
//!   or `*37`), A subscribes at B's monitor over the trunk, B's user becomes free, B's monitor
//!   says `ready`, A recalls its user, she answers, A's CC call goes over the trunk to B's
//!   cc-URI and B connects it to its user; the request completes in both APIs.
//!
//! Everything runs on 127.0.0.1 (the servers on different ports); the users placing calls
//! have no password so a trusted source still speaks for them (identity gate rule 2).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::audio::Audio;
use common::http::{get_json, poll, request, Events};
use common::{free_port, Phone, Server, ServerConfig};
use serde_json::Value;

/// How long any one step may take before the test fails.
const STEP: Duration = Duration::from_secs(10);

/// The two servers, each the other's trunk.
struct Pair {
    a: Server,
    b: Server,
}

/// One side's configuration: `domain`, listening on `own`, with a trunk to `other_domain` at
/// `other`; carol and dave without passwords; dave without call waiting.
fn side(domain: &str, own: u16, other_domain: &str, other: u16) -> ServerConfig {
    ServerConfig::default()
        .domain(domain)
        .sip_port(own)
        .user_option("dave", "call_waiting = false")
        .sip_option("trusted = [\"127.0.0.1/32\"]")
        .tables(&format!(
            "[completion]\nguard_ms = 1000\nrecall_ring = \"15s\"\n\n\
             [[trunks]]\ndomain = \"{other_domain}\"\naddress = \"127.0.0.1:{other}\"\n"
        ))
}

fn start_pair() -> Pair {
    let (port_a, mut port_b) = (free_port(), free_port());
    while port_b == port_a {
        port_b = free_port();
    }
    // erin is a user of A only: B must see her as a stranger behind the trunk.
    let a = Server::start(side("a.test", port_a, "b.test", port_b).user("erin", None));
    let b = Server::start(side("b.test", port_b, "a.test", port_a));
    Pair { a, b }
}

/// The calls of `line` at the server behind `api`.
fn calls_of(api: std::net::SocketAddr, line: &str) -> Vec<Value> {
    get_json(api, &format!("/v1/lines/{line}/calls"))
        .as_array()
        .unwrap()
        .clone()
}

/// A call to a busy user of the other domain goes over the trunk; the caller gets the busy
/// with its own server's offer, and A's API shows it.
#[test]
fn a_call_to_the_other_domain_goes_over_the_trunk_and_fails_busy_with_an_offer() {
    common::require_sipp();
    let pair = start_pair();
    // dave@b.test is busy: his phone answers 486.
    let dave = pair.b.phone("dave", "uas_busy.xml");
    let outcome = pair
        .a
        .sipp_as("call_out_486.xml", "carol")
        .service("dave")
        .key("callee_host", "b.test")
        .set("expect_m", "BS")
        .run();
    // A 486 at all proves B was reached: dave is a user of A too, but not registered there
    // (A alone would answer 480 with m=NL).
    outcome.assert_success();
    // The offer carol got is A's own monitor (A is her server and her agent).
    assert!(
        outcome.logged("486 offer: <sip:cc@a.test>"),
        "{}",
        outcome.report
    );
    dave.wait().assert_success();
    // A: carol's call to dave@b.test failed busy.
    let at_a = poll(
        STEP,
        "carol's failed call at A",
        || {
            calls_of(pair.a.api, "carol")
                .into_iter()
                .find(|c| c["state"] == "busy")
        },
        || format!("{:?}", calls_of(pair.a.api, "carol")),
    );
    assert!(
        at_a["remote"].as_str().unwrap().contains("dave@b.test"),
        "{at_a}"
    );
}

/// An answered call over the trunk: both SDP bodies cross the two servers untouched (the
/// SIPp scenarios check the session ids), and the caller's BYE ends it on both sides.
#[test]
fn a_call_over_the_trunk_is_answered_and_hung_up_end_to_end() {
    common::require_sipp();
    let pair = start_pair();
    let dave = pair.b.phone("dave", "uas_answer.xml");
    pair.a
        .sipp_as("call_out_basic.xml", "carol")
        .service("dave")
        .key("callee_host", "b.test")
        .pause_ms(300)
        .run()
        .assert_success();
    dave.wait().assert_success();
}

/// Only local users call out: a stranger's call to the trunk's domain, even from a trusted
/// address, is refused 403 and never reaches the other server.
#[test]
fn a_strangers_call_to_the_trunk_domain_is_refused() {
    let pair = start_pair();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(STEP)).unwrap();
    let local = socket.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:dave@b.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-stranger;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:mallory@elsewhere.test>;tag=s1\r\n\
         To: <sip:dave@b.test>\r\n\
         Call-ID: stranger@elsewhere.test\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:mallory@{local}>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    socket.send_to(invite.as_bytes(), pair.a.sip).unwrap();
    let mut buf = [0u8; 4096];
    let status = loop {
        let (n, _) = socket.recv_from(&mut buf).expect("a final response");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let first = text.lines().next().unwrap_or_default().to_owned();
        if !first.starts_with("SIP/2.0 1") {
            break first;
        }
    };
    // Sent on to B, it would come back 480 (dave is not registered there either).
    assert_eq!(status, "SIP/2.0 403 Trunks Are For Local Users");
}

/// Whether `events` hold a `completion` event of `line` in `state`.
fn has_completion(events: &[Value], line: &str, state: &str) -> bool {
    events
        .iter()
        .any(|e| e["event"] == "completion" && e["line"] == line && e["state"] == state)
}

/// How erin (a user of A) asks for completion of her failed call to dave@b.test.
#[derive(Clone, Copy)]
enum Ask {
    /// `POST /v1/calls/{id}/complete` at A.
    Api,
    /// She dials `*37` (A answers with its confirmation tone).
    FeatureCode,
}

/// The agent role end to end. B: dave (no call waiting) talks with B's alice; erin at A (a user B does not have) calls
/// dave@b.test and gets busy with A's offer; she asks for completion (`ask`); A subscribes at
/// B's monitor over the trunk and A's API shows the request toward the remote AOR; dave hangs
/// up (a second phone of his is registered meanwhile); B's monitor says `ready`; A recalls erin (`uas_recall.xml`),
/// she answers, A's CC call reaches dave through B (`uas_answer_recall.xml` takes A's media
/// offer), dave hangs up; the request is completed in A's API and in B's.
fn completion_across_two_servers(ask: Ask) {
    common::require_sipp();
    let pair = start_pair();
    let mut events_a = Events::connect(pair.a.api);
    let mut events_b = Events::connect(pair.b.api);
    let erin = Phone::start(
        pair.a
            .sipp_as("phone.xml", "erin")
            .ooc("uas_recall.xml")
            .pause_ms(300),
    );
    let dave_first = Phone::start(
        pair.b
            .sipp_as("phone.xml", "dave")
            .ooc("uas_answer_then_bye.xml")
            // Long enough for erin's call, her request and its SUBSCRIBE to reach B while
            // dave still talks (a request made after his call ended would wait on an
            // unknown availability at B, RFC 4235).
            .pause_ms(7000),
    );
    let talk = pair
        .b
        .sipp_as("call_bye_from_callee.xml", "alice")
        .service("dave")
        .spawn();
    poll(
        STEP,
        "dave connected at B",
        || {
            calls_of(pair.b.api, "dave")
                .into_iter()
                .find(|c| c["state"] == "connected")
        },
        || format!("{:?}", calls_of(pair.b.api, "dave")),
    );
    // dave's second phone, for the CC call, registers while he talks (B answers erin busy
    // itself: no call waiting), so it is there whenever B's monitor says `ready`.
    let dave = Phone::start(
        pair.b
            .sipp_as("phone.xml", "dave")
            .ooc("uas_answer_recall.xml"),
    );
    pair.a
        .sipp_as("call_out_486.xml", "erin")
        .service("dave")
        .key("callee_host", "b.test")
        .set("expect_m", "BS")
        .run()
        .assert_success();
    let call = poll(
        STEP,
        "erin's failed call at A",
        || {
            calls_of(pair.a.api, "erin")
                .into_iter()
                .find(|c| c["state"] == "busy")
        },
        || format!("{:?}", calls_of(pair.a.api, "erin")),
    );
    match ask {
        Ask::Api => {
            let id = call["id"].as_u64().unwrap();
            let (status, body) = request(
                pair.a.api,
                "POST",
                &format!("/v1/calls/{id}/complete"),
                Some("{\"mode\": \"callback\"}"),
            );
            assert_eq!(status, 201, "{body}");
        }
        Ask::FeatureCode => {
            // Her phone dials the code with an offer: A answers with its confirmation tone
            // and hangs up (the tone itself is e2e_feature_tones' to check).
            let audio = Audio::start(1000);
            let outcome = pair
                .a
                .sipp_as("code_tone.xml", "erin")
                .service("*37")
                .set("audio_port", &audio.port.to_string())
                .run();
            audio.stop();
            outcome.assert_success();
            assert!(outcome.logged("hung up by callcomp"), "{}", outcome.report);
        }
    }
    // A's request names the remote party and its monitor.
    let listed = get_json(pair.a.api, "/v1/lines/erin/completions");
    let request_a = &listed.as_array().unwrap()[0];
    assert_eq!(request_a["target"], "sip:dave@b.test", "{listed}");
    assert_eq!(request_a["target_kind"], "remote", "{listed}");
    assert_eq!(request_a["remote"]["monitor"], "sip:cc@b.test", "{listed}");
    // B took the subscription as a request of its own on dave.
    events_b.wait_until(STEP, |seen| {
        seen.iter()
            .any(|e| e["event"] == "completion" && e["state"] == "queued")
    });

    talk.wait().assert_success();
    dave_first.wait().assert_success();
    let erin = erin.wait();
    erin.assert_success();
    assert!(erin.logged("recall taken"), "{}", erin.report);
    dave.wait().assert_success();
    events_a.wait_until(STEP, |seen| has_completion(seen, "erin", "completed"));
    events_b.wait_until(STEP, |seen| {
        seen.iter()
            .any(|e| e["event"] == "completion" && e["state"] == "completed")
    });
    let left = get_json(pair.a.api, "/v1/lines/erin/completions");
    assert_eq!(left, Value::Array(Vec::new()), "nothing left at A");
    let left = get_json(pair.b.api, "/v1/completions");
    assert_eq!(left, Value::Array(Vec::new()), "nothing left at B");
}

#[test]
fn a_user_of_a_completes_a_call_to_a_busy_user_of_b_through_the_api() {
    completion_across_two_servers(Ask::Api);
}

#[test]
fn a_user_of_a_completes_a_call_to_a_busy_user_of_b_by_feature_code() {
    completion_across_two_servers(Ask::FeatureCode);
}
