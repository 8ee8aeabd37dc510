//! End-to-end call completion (issue #4): the real `callcomp serve` driven by SIPp phones and
//! the `callcomp` CLI as the application.
//!
//! The callback flow: alice calls bob, who is not registered (480 with the offer `m=NL`); the
//! application asks for a callback on alice's busy call; bob's phone registers; after the guard
//! callcomp rings alice's phone showing `"Callback: bob"` with the RFC 6910 Call-Info and no
//! SDP (`uas_recall.xml` checks all three); alice answers with her offer and is acknowledged at
//! once with callcomp's own answer (she hears ringback from callcomp's media); bob's phone is
//! called with callcomp's offer (`uas_answer_recall.xml` checks it), answers, and hangs up;
//! callcomp relays his BYE to alice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    callcomp, callcomp_bin, sip_options_answered, Phone, Server, ServerConfig, Sipp, TestDir,
};

/// Completion settings for the tests: a short guard so the recall follows the registration.
const COMPLETION: &str = "[completion]\nguard_ms = 200\n";

fn api_url(api: SocketAddr) -> String {
    format!("http://{api}")
}

/// The id of `line`'s busy call, through `callcomp --json calls LINE`.
fn busy_call(api: SocketAddr, line: &str) -> u64 {
    let url = api_url(api);
    let (code, out, err) = callcomp(&["--api", &url, "--json", "calls", line]);
    assert_eq!(code, Some(0), "{err}");
    let calls: serde_json::Value = serde_json::from_str(&out).unwrap();
    calls
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["state"] == "busy")
        .unwrap_or_else(|| panic!("{line} has no busy call: {out}"))["id"]
        .as_u64()
        .unwrap()
}

/// `callcomp complete ID --mode callback`; returns the completion id.
fn complete_callback(api: SocketAddr, call: u64) -> u64 {
    let url = api_url(api);
    let id = call.to_string();
    let (code, out, err) = callcomp(&[
        "--api", &url, "--json", "complete", &id, "--mode", "callback",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let answer: serde_json::Value = serde_json::from_str(&out).unwrap();
    answer["completion_id"].as_u64().unwrap()
}

/// alice's phone, registered, waiting for the recall.
fn alice_phone(sip: SocketAddr) -> Phone {
    Phone::start(
        Sipp::new("phone.xml")
            .user("alice")
            .remote(sip)
            .auth("alice", &common::password_of("alice"))
            .ooc("uas_recall.xml")
            .pause_ms(200),
    )
}

/// alice calls the unregistered bob: 480 with `m=NL`.
fn alice_calls_absent_bob(sip: SocketAddr) {
    Sipp::new("call_expect_480.xml")
        .user("alice")
        .remote(sip)
        .auth("alice", &common::password_of("alice"))
        .service("bob")
        .set("expect_m", "NL")
        .run()
        .assert_success();
}

/// bob's phone: registers, then takes the recall's call (callcomp's offer) and hangs up.
fn bob_phone(sip: SocketAddr) -> Phone {
    Phone::start(
        Sipp::new("phone.xml")
            .user("bob")
            .remote(sip)
            .auth("bob", &common::password_of("bob"))
            .ooc("uas_answer_recall.xml"),
    )
}

#[test]
fn callback_recalls_the_caller_then_calls_the_callee_with_its_offer() {
    common::require_sipp();
    let server = Server::start(ServerConfig::default().tables(COMPLETION));
    let alice = alice_phone(server.sip);
    alice_calls_absent_bob(server.sip);
    let call = busy_call(server.api, "alice");
    let id = complete_callback(server.api, call);
    let url = api_url(server.api);
    let (code, out, _) = callcomp(&["--api", &url, "completions", "alice"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains(&format!("{id} ")) && out.contains("notregistered"),
        "{out}"
    );

    let bob = bob_phone(server.sip);
    let alice = alice.wait();
    alice.assert_success();
    assert!(alice.logged("recall taken"), "{}", alice.report);
    bob.wait().assert_success();
    let (_, out, _) = callcomp(&["--api", &url, "--json", "completions", "alice"]);
    assert_eq!(out.trim(), "[]", "the request completed");
}

/// Polls (bounded) until `line` has a connected call.
fn wait_connected(api: SocketAddr, line: &str) {
    let url = api_url(api);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, out, _) = callcomp(&["--api", &url, "--json", "calls", line]);
        if out.contains("\"connected\"") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{line} never got connected: {out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// CCBS: bob (no call waiting) talks with carol; alice gets busy-on-busy 486; the application
/// asks for a callback; bob hangs up; after the guard alice's phone is rung back, answers, and
/// bob's phone gets callcomp's offer.
#[test]
fn callback_on_busy_rings_the_caller_back_when_the_callee_hangs_up() {
    common::require_sipp();
    let server = Server::start(
        ServerConfig::default()
            .user_option("bob", "call_waiting = false")
            .tables("[completion]\nguard_ms = 2000\n"),
    );
    let alice = alice_phone(server.sip);
    let bob_first = Phone::start(
        server
            .sipp_as("phone.xml", "bob")
            .ooc("uas_answer_then_bye.xml")
            .pause_ms(3000),
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
    let call = busy_call(server.api, "alice");
    complete_callback(server.api, call);
    carol.wait().assert_success();
    bob_first.wait().assert_success();
    // bob's phone comes back (a new registration) for the second call of the test.
    let bob = bob_phone(server.sip);
    let alice = alice.wait();
    alice.assert_success();
    assert!(alice.logged("recall taken"), "{}", alice.report);
    bob.wait().assert_success();
}

/// A server process this test starts and kills itself, so that it can be killed with SIGKILL
/// and started again on the same ports and store.
struct Raw {
    child: Child,
}

impl Raw {
    fn start(config: &Path, dir: &Path, sip: SocketAddr) -> Raw {
        let child = Command::new(callcomp_bin())
            .arg("serve")
            .arg("--config")
            .arg(config)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sip_options_answered(sip, Duration::from_millis(200)) {
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Raw { child }
    }

    fn kill9(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-KILL", &pid]).status().unwrap();
        assert!(status.success());
        let _ = self.child.wait();
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// DESIGN §5: a request acknowledged by the API survives `kill -9`; after the restart the
/// recall still happens.
#[test]
fn a_request_survives_kill_9_and_still_recalls() {
    common::require_sipp();
    let dir = TestDir::new("completion-restart");
    let config = ServerConfig::default().tables(COMPLETION);
    let (path, sip_port, api_port) = config.write(dir.path());
    let sip = SocketAddr::from(([127, 0, 0, 1], sip_port));
    let api = SocketAddr::from(([127, 0, 0, 1], api_port));

    let server = Raw::start(&path, dir.path(), sip);
    alice_calls_absent_bob(sip);
    let call = busy_call(api, "alice");
    let id = complete_callback(api, call);
    server.kill9();

    let _server = Raw::start(&path, dir.path(), sip);
    let url = api_url(api);
    let (code, out, err) = callcomp(&["--api", &url, "--json", "completions", "alice"]);
    assert_eq!(code, Some(0), "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["completion_id"].as_u64(), Some(id), "{out}");
    let alice = alice_phone(sip);
    let bob = bob_phone(sip);
    alice.wait().assert_success();
    bob.wait().assert_success();
}
