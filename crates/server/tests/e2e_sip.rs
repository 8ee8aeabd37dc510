//! End-to-end SIP tests (issue #3): the real `callcomp serve` on free loopback ports, driven by
//! the SIPp scenarios of `tests/sipp/` (proved on their own by `sipp_scenarios.rs`).
//!
//! Users of the test server (`ServerConfig::default()`): alice and bob with passwords
//! (`alice-secret`, `bob-secret`), carol and dave without; no-answer timeout 3 s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{call, free_port, Server, ServerConfig, SipTransport, Sipp};

// --- the server process (DESIGN §5) ---------------------------------------------------------

#[test]
fn sigterm_shuts_down_gracefully_with_exit_0() {
    let mut server = Server::start(ServerConfig::default());
    server
        .sipp_as("register.xml", "carol")
        .run()
        .assert_success();
    let status = server
        .terminate()
        .expect("callcomp serve exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    let stderr = server.stderr();
    assert!(stderr.contains("stopped"), "{stderr}");
}

// --- registrar (RFC 3261 §10) -----------------------------------------------------------

#[test]
fn register_with_digest_password() {
    let server = Server::start(ServerConfig::default());
    server
        .sipp_as("register.xml", "alice")
        .run()
        .assert_success();
}

#[test]
fn register_without_password() {
    let server = Server::start(ServerConfig::default());
    server
        .sipp_as("register.xml", "carol")
        .run()
        .assert_success();
}

#[test]
fn register_over_tcp() {
    let server = Server::start(ServerConfig::default());
    server
        .sipp_as("register.xml", "alice")
        .transport(SipTransport::Tcp)
        .run()
        .assert_success();
}

#[test]
fn register_with_wrong_password_is_refused() {
    let server = Server::start(ServerConfig::default());
    Sipp::new("register_wrong_password.xml")
        .user("alice")
        .auth("alice", "not-alice-secret")
        .remote(server.sip)
        .run()
        .assert_success();
}

#[test]
fn register_then_unregister() {
    let server = Server::start(ServerConfig::default());
    let port = free_port();
    server
        .sipp_as("register.xml", "alice")
        .local_port(port)
        .run()
        .assert_success();
    server
        .sipp_as("unregister.xml", "alice")
        .local_port(port)
        .run()
        .assert_success();
}

// --- B2BUA calls (DESIGN §3) ------------------------------------------------------------

/// alice calling bob with `scenario`, through the server.
fn alice_calls_bob(server: &Server, scenario: &str) -> Sipp {
    server.sipp_as(scenario, "alice").service("bob")
}

#[test]
fn basic_call_passes_sdp_both_ways_and_caller_hangs_up() {
    let server = Server::start(ServerConfig::default());
    let bob = server.phone("bob", "uas_answer.xml");
    call(
        bob,
        alice_calls_bob(&server, "call_basic.xml").pause_ms(200),
    );
}

#[test]
fn basic_call_between_users_without_passwords() {
    let server = Server::start(ServerConfig::default());
    let dave = server.phone("dave", "uas_answer.xml");
    call(
        dave,
        server.sipp_as("call_basic.xml", "carol").service("dave"),
    );
}

#[test]
fn callee_hangs_up() {
    let server = Server::start(ServerConfig::default());
    let bob = server.phone("bob", "uas_answer_then_bye.xml");
    call(bob, alice_calls_bob(&server, "call_bye_from_callee.xml"));
}

#[test]
fn reinvite_passes_across() {
    let server = Server::start(ServerConfig::default());
    let bob = server.phone("bob", "uas_reinvite.xml");
    call(
        bob,
        alice_calls_bob(&server, "call_reinvite.xml").pause_ms(200),
    );
}

#[test]
fn caller_cancels_while_ringing() {
    let server = Server::start(ServerConfig::default());
    let bob = server.phone("bob", "uas_noanswer.xml");
    call(
        bob,
        alice_calls_bob(&server, "call_cancel.xml").pause_ms(500),
    );
}

// --- failures carry the RFC 6910 offer (DESIGN §3) --------------------------------------

#[test]
fn busy_callee_gives_486_with_offer_bs() {
    let server = Server::start(ServerConfig::default());
    let bob = server.phone("bob", "uas_busy.xml");
    call(
        bob,
        alice_calls_bob(&server, "call_expect_486.xml").set("expect_m", "BS"),
    );
}

#[test]
fn unanswered_callee_gives_480_with_offer_nr() {
    // no_answer_timeout is 3 s in the test configuration: callcomp CANCELs bob's phone
    // (uas_noanswer.xml answers the CANCEL) and answers alice 480 with m=NR.
    let server = Server::start(ServerConfig::default());
    let bob = server.phone("bob", "uas_noanswer.xml");
    call(
        bob,
        alice_calls_bob(&server, "call_expect_480.xml").set("expect_m", "NR"),
    );
}

#[test]
fn unregistered_callee_gives_480_with_offer_nl() {
    let server = Server::start(ServerConfig::default());
    alice_calls_bob(&server, "call_expect_480.xml")
        .set("expect_m", "NL")
        .run()
        .assert_success();
}

#[test]
fn callee_that_unregistered_gives_480_with_offer_nl() {
    let server = Server::start(ServerConfig::default());
    let port = free_port();
    server
        .sipp_as("register.xml", "bob")
        .local_port(port)
        .run()
        .assert_success();
    server
        .sipp_as("unregister.xml", "bob")
        .local_port(port)
        .run()
        .assert_success();
    alice_calls_bob(&server, "call_expect_480.xml")
        .set("expect_m", "NL")
        .run()
        .assert_success();
}
