//! Self-check of the SIPp scenarios in `tests/sipp/`, without callcomp: each caller scenario
//! is run straight against the callee scenario it pairs with (SIPp to SIPp on loopback), the
//! REGISTER scenarios and phones against a stub registrar (`stub_registrar.xml`), and the
//! scenarios that expect a call-completion offer against stubs that send one. The negative
//! rows prove that the checks inside the scenarios really fail when they should, so that a
//! passing end-to-end test means what it says.
//!
//! Also checks that the configuration the harness writes is accepted by
//! `callcomp check-config`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{call, callcomp, require_sipp, Phone, ServerConfig, Sipp, SippProcess, TestDir};

/// A stub registrar that accepts `user` with `password` (one REGISTER transaction: 401, then
/// 200 or 403).
fn stub_registrar(user: &str, password: &str) -> SippProcess {
    Sipp::new("stub_registrar.xml")
        .key("user", user)
        .key("password", password)
        .spawn()
}

/// A phone for `bob` (password `pw`) registered at a stub registrar, playing `callee`.
fn stub_phone(callee: &str) -> Phone {
    let registrar = stub_registrar("bob", "pw");
    let phone = Phone::start(
        Sipp::new("phone.xml")
            .user("bob")
            .auth("bob", "pw")
            .ooc(callee)
            .remote(registrar.addr()),
    );
    registrar.wait().assert_success();
    phone
}

/// A caller scenario as alice calling bob, sent straight to `phone`.
fn caller(scenario: &str, phone: &Phone) -> Sipp {
    Sipp::new(scenario)
        .key("user", "alice")
        .service("bob")
        .remote(phone.addr())
}

#[test]
fn sipp_is_installed() {
    require_sipp();
}

// --- REGISTER ---------------------------------------------------------------------------

#[test]
fn register_answers_the_challenge_and_gets_200() {
    let registrar = stub_registrar("alice", "pw");
    Sipp::new("register.xml")
        .user("alice")
        .auth("alice", "pw")
        .remote(registrar.addr())
        .run()
        .assert_success();
    registrar.wait().assert_success();
}

#[test]
fn register_wrong_password_expects_refusal() {
    let registrar = stub_registrar("alice", "pw");
    Sipp::new("register_wrong_password.xml")
        .user("alice")
        .auth("alice", "not-the-password")
        .remote(registrar.addr())
        .run()
        .assert_success();
    registrar.wait().assert_success();
}

#[test]
fn register_wrong_password_fails_when_the_registrar_accepts() {
    let registrar = stub_registrar("alice", "pw");
    Sipp::new("register_wrong_password.xml")
        .user("alice")
        .auth("alice", "pw")
        .remote(registrar.addr())
        .run()
        .assert_failure();
    registrar.wait().assert_success();
}

#[test]
fn register_fails_when_refused() {
    let registrar = stub_registrar("alice", "pw");
    Sipp::new("register.xml")
        .user("alice")
        .auth("alice", "wrong")
        .remote(registrar.addr())
        .timeout(Duration::from_secs(5))
        .run()
        .assert_failure();
    // The stub's own outcome is not checked: SIPp ends an aborted call with a BYE, which the
    // stub does not expect.
    drop(registrar);
}

#[test]
fn unregister_answers_the_challenge_and_gets_200() {
    let registrar = stub_registrar("alice", "pw");
    Sipp::new("unregister.xml")
        .user("alice")
        .auth("alice", "pw")
        .remote(registrar.addr())
        .run()
        .assert_success();
    registrar.wait().assert_success();
}

// --- caller and callee pairs ------------------------------------------------------------

/// Runs `caller_scenario` (adjusted by `tune`) against a stub-registered phone playing
/// `callee`, and asserts that both sides succeed.
fn pair(callee: &str, caller_scenario: &str, tune: impl FnOnce(Sipp) -> Sipp) {
    let phone = stub_phone(callee);
    let sipp = tune(caller(caller_scenario, &phone));
    call(phone, sipp);
}

#[test]
fn call_basic_with_uas_answer() {
    pair("uas_answer.xml", "call_basic.xml", |s| s.pause_ms(100));
}

#[test]
fn call_bye_from_callee_with_uas_answer_then_bye() {
    pair("uas_answer_then_bye.xml", "call_bye_from_callee.xml", |s| {
        s.pause_ms(100)
    });
}

#[test]
fn call_reinvite_with_uas_reinvite() {
    pair("uas_reinvite.xml", "call_reinvite.xml", |s| s.pause_ms(100));
}

#[test]
fn call_cancel_with_uas_noanswer() {
    pair("uas_noanswer.xml", "call_cancel.xml", |s| s.pause_ms(200));
}

#[test]
fn call_expect_486_without_offer_with_uas_busy() {
    pair("uas_busy.xml", "call_expect_486.xml", |s| {
        s.set("expect_m", "none")
    });
}

/// A phone's own 486 carries no offer: the caller must fail on it (callcomp has to add the
/// offer), while the phone's side of the call still completes.
#[test]
fn call_expect_486_fails_without_offer() {
    let phone = stub_phone("uas_busy.xml");
    let outcome = caller("call_expect_486.xml", &phone).run();
    outcome.assert_failure();
    assert!(
        outcome.logged("expected call-completion offer m=BS, got none"),
        "{}",
        outcome.report
    );
    phone.wait().assert_success();
}

/// The callee checks that the caller's SDP arrived untouched: SIPp's built-in caller sends a
/// different offer, so the callee's call fails and the phone does not succeed.
#[test]
fn uas_answer_rejects_a_changed_offer() {
    let registrar = stub_registrar("bob", "pw");
    let phone = Phone::start(
        Sipp::new("phone.xml")
            .user("bob")
            .auth("bob", "pw")
            .ooc("uas_answer.xml")
            .remote(registrar.addr())
            .timeout(Duration::from_secs(4)),
    );
    registrar.wait().assert_success();
    // The built-in caller's own result does not matter here (SIPp's reaction to an aborted
    // incoming call varies); what matters is that the callee's side fails.
    let _ = Sipp::builtin("uac")
        .service("bob")
        .remote(phone.addr())
        .timeout(Duration::from_secs(4))
        .run();
    let outcome = phone.wait();
    outcome.assert_failure();
    assert!(
        outcome.logged("SDP is not the caller's offer"),
        "{}",
        outcome.report
    );
}

// --- offers (stand-ins for callcomp) ----------------------------------------------------

fn offer_stub(stub: &str, m: &str) -> SippProcess {
    Sipp::new(stub).key("cc_m", m).spawn()
}

fn expect_offer(stub: &str, m: &str, scenario: &str, expect: Option<&str>) -> bool {
    let stub = offer_stub(stub, m);
    let mut sipp = Sipp::new(scenario)
        .key("user", "alice")
        .service("bob")
        .remote(stub.addr())
        .timeout(Duration::from_secs(5));
    if let Some(expect) = expect {
        sipp = sipp.set("expect_m", expect);
    }
    let outcome = sipp.run();
    // The stub always sees its ACK: the scenarios acknowledge before they check the offer.
    stub.wait().assert_success();
    match outcome.code() {
        Some(0) => true,
        Some(_) => false,
        None => panic!("{} was killed\n{}", outcome.label, outcome.report),
    }
}

#[test]
fn call_expect_486_checks_the_offer() {
    // (stub m=, -set expect_m, passes)
    let rows = [
        ("BS", None, true),
        ("BS", Some("BS"), true),
        ("NR", None, false),
        ("BS", Some("none"), false),
    ];
    for (m, expect, passes) in rows {
        assert_eq!(
            expect_offer("stub_busy_offer.xml", m, "call_expect_486.xml", expect),
            passes,
            "486 with m={m}, expect_m {expect:?}"
        );
    }
}

#[test]
fn call_expect_480_checks_the_offer() {
    let rows = [
        ("NR", Some("NR"), true),
        ("NL", Some("NL"), true),
        ("NL", Some("NR"), false),
        ("NR", Some("NL"), false),
    ];
    for (m, expect, passes) in rows {
        assert_eq!(
            expect_offer(
                "stub_unavailable_offer.xml",
                m,
                "call_expect_480.xml",
                expect
            ),
            passes,
            "480 with m={m}, expect_m {expect:?}"
        );
    }
}

#[test]
fn call_expect_480_needs_expect_m() {
    let stub = offer_stub("stub_unavailable_offer.xml", "NR");
    let outcome = Sipp::new("call_expect_480.xml")
        .key("user", "alice")
        .service("bob")
        .remote(stub.addr())
        .run();
    outcome.assert_failure();
    assert!(outcome.logged("needs -set expect_m"), "{}", outcome.report);
    drop(stub);
}

// --- the harness's configuration --------------------------------------------------------

#[test]
fn harness_config_passes_check_config() {
    let dir = TestDir::new("config");
    let config = ServerConfig::default()
        .user_option("bob", "call_waiting = false")
        .tables("[completion]\nbusy_hold = \"2s\"");
    let (path, sip_port, api_port) = config.write(dir.path());
    assert_ne!(sip_port, api_port);
    let (code, stdout, stderr) = callcomp(&["check-config", path.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("users: 4 (alice, bob, carol, dave)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("sip: udp+tcp on 127.0.0.1:{sip_port}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("api: 127.0.0.1:{api_port}")),
        "{stdout}"
    );
    assert!(stdout.contains("domain: 127.0.0.1"), "{stdout}");
}
