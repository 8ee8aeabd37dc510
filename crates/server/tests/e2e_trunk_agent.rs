//! End-to-end `[[trunks]]` and the RFC 6910 agent role (issue #11 item 4) with **two**
//! callcomp servers on loopback: A serves `a.test`, B serves `b.test`, each is the other's
//! trunk and trusts the other's address.
//!
//! - an answered call over the trunk, SDP untouched both ways, hung up by the caller;
//! - a stranger's call to B's domain through A is refused 403;
//! - a user of A calls a busy user of B: the INVITE goes over the trunk, B (seeing a trusted
//!   peer) classifies the busy and offers completion, A relays the failure to its user with
//!   its own offer; A's API shows the failed call.
//!
//! Everything runs on 127.0.0.1 (the servers on different ports); the users placing calls
//! have no password so a trusted source still speaks for them (identity gate rule 2).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::http::{get_json, poll};
use common::{free_port, Server, ServerConfig};
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
            "[completion]\nguard_ms = 300\nrecall_ring = \"15s\"\n\n\
             [[trunks]]\ndomain = \"{other_domain}\"\naddress = \"127.0.0.1:{other}\"\n"
        ))
}

fn start_pair() -> Pair {
    let (port_a, mut port_b) = (free_port(), free_port());
    while port_b == port_a {
        port_b = free_port();
    }
    let a = Server::start(side("a.test", port_a, "b.test", port_b));
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
