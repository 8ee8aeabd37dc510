//! The README's story with real phones, start to end: two baresip phones register with
//! passwords; alice calls bob while bob talks to carol; alice dials `*37` on her phone; bob
//! hangs up; callcomp rings alice back, and while bob's phone rings (it answers only when told
//! to, a few seconds later) alice hears ringback from callcomp; then each hears the other. The
//! event stream shows each step with its TAPI names, and an outsider who forges alice's From
//! is challenged with 407.
//!
//! baresip is required (`scripts/test` installs it); the phones are `common::baresip`'s, each
//! sending its own sine: alice 700 Hz, bob 1100 Hz, carol 1500 Hz. The tone plan is the
//! default (`eu`): ringback is 425 Hz.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::baresip::{first_block_with, Answer, Phone};
use common::http::{get_json, poll, Events};
use common::{Server, ServerConfig, LOCALHOST};
use serde_json::Value;

const ALICE_HZ: f64 = 700.0;
const BOB_HZ: f64 = 1100.0;
const CAROL_HZ: f64 = 1500.0;
const RINGBACK_HZ: f64 = 425.0;

/// The events of `line` named `event`.
fn events_of<'a>(events: &'a [Value], line: &str, event: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["line"] == line && e["event"] == event)
        .collect()
}

/// bob talks to carol; alice calls bob and gets busy, then dials `*37` on her phone: her
/// completion request, checked to be a queued callback on bob.
fn busy_then_star37(server: &Server, events: &mut Events, bob: &Phone, alice: &Phone) -> Value {
    let uri = |user: &str| format!("sip:{user}@{}", server.sip);
    bob.command(&format!("/dial {}", uri("carol")));
    bob.wait_for_output("Call established", 1, Duration::from_secs(8));
    alice.command(&format!("/dial {}", uri("bob")));
    events.wait_until(Duration::from_secs(8), |seen| {
        events_of(seen, "alice", "callstate")
            .iter()
            .any(|e| e["state"] == "busy")
    });
    alice.command(&format!("/dial {}", uri("*37")));
    let request = poll(
        Duration::from_secs(8),
        "alice's completion request after *37",
        || {
            get_json(server.api, "/v1/lines/alice/completions")
                .as_array()?
                .first()
                .cloned()
        },
        || format!("{}\n{}", server.stderr(), alice.output()),
    );
    assert_eq!(request["target"], "bob", "{request}");
    assert_eq!(request["mode"], "callback", "{request}");
    assert_eq!(request["state"], "queued", "{request}");
    request
}

#[test]
fn a_busy_call_completed_from_the_phone_with_ringback_on_the_recall() {
    let server = Server::start(
        ServerConfig::default()
            .user("carol", Some("carol-secret"))
            .user_option("bob", "call_waiting = false"),
    );
    let mut events = Events::connect(server.api);
    let mut carol = Phone::start(&server, "carol", 1500, 40, Answer::Auto, None);
    let mut bob = Phone::start(&server, "bob", 1100, 40, Answer::Manual, None);
    let mut alice = Phone::start(&server, "alice", 700, 40, Answer::Auto, None);
    for (phone, user) in [(&carol, "carol"), (&bob, "bob"), (&alice, "alice")] {
        phone.registered(&server, user);
    }
    // bob busy with carol, alice's call to him busy, her `*37`.
    let request = busy_then_star37(&server, &mut events, &bob, &alice);
    let id = request["completion_id"].as_u64().unwrap();

    // bob hangs up: alice is rung back, and bob's phone rings. (However the phone took the
    // `*37` call, the recall is one more call established.)
    let established = alice.output().matches("Call established").count();
    bob.command("/hangup");
    bob.wait_for_output("Incoming call from", 1, Duration::from_secs(10));
    assert!(
        alice.output().matches("Call established").count() > established,
        "alice answered the recall before bob's phone rang\n{}",
        alice.output()
    );
    // bob's phone rings for a few seconds before he answers.
    std::thread::sleep(Duration::from_secs(3));
    bob.command("/accept");
    bob.wait_for_output("Call established", 2, Duration::from_secs(8));
    let seen = events
        .wait_until(Duration::from_secs(8), |seen| {
            events_of(seen, "bob", "callstate")
                .iter()
                .any(|e| e["state"] == "connected" && e["completion_id"] == id)
        })
        .to_vec();
    let seen = seen.as_slice();

    // The TAPI story on the stream: the request queued, then ready when bob hung up, then
    // recalling; alice's recall is a new call made for the completion, answered before bob's
    // phone was offered the completion call, which he answered.
    let states: Vec<&str> = seen
        .iter()
        .filter(|e| e["event"] == "completion" && e["completion_id"] == id)
        .filter_map(|e| e["state"].as_str())
        .collect();
    assert!(
        states.starts_with(&["queued", "ready", "recalling"]),
        "{states:?}\n{}",
        events.dump()
    );
    let position = |line: &str, state: &str| {
        seen.iter()
            .position(|e| {
                e["event"] == "callstate"
                    && e["line"] == line
                    && e["state"] == state
                    && e["completion_id"] == id
            })
            .unwrap_or_else(|| panic!("no {state} for {line}:\n{}", events.dump()))
    };
    assert!(position("alice", "connected") < position("bob", "offering"));
    let recall = events_of(seen, "alice", "appnewcall")
        .into_iter()
        .find(|e| e["completion_id"] == id)
        .unwrap_or_else(|| panic!("no appnewcall for the recall:\n{}", events.dump()));
    assert_eq!(recall["reason"], "callcompletion", "{recall}");

    // Let the two talk for a while, then read what each phone heard (once it quit, its
    // recordings are complete).
    std::thread::sleep(Duration::from_secs(3));
    for phone in [&mut alice, &mut bob, &mut carol] {
        phone.quit(Duration::from_secs(10));
    }
    let heard = alice.heard_last_call();
    let ringback = first_block_with(&heard, &[RINGBACK_HZ], &[BOB_HZ])
        .unwrap_or_else(|| panic!("alice never heard ringback"));
    let bob_voice = first_block_with(&heard, &[BOB_HZ], &[RINGBACK_HZ, CAROL_HZ])
        .unwrap_or_else(|| panic!("alice never heard bob"));
    assert!(
        ringback < bob_voice,
        "ringback (block {ringback}) before bob (block {bob_voice})"
    );
    assert!(
        first_block_with(&bob.heard_last_call(), &[ALICE_HZ], &[RINGBACK_HZ]).is_some(),
        "bob hears alice"
    );

    // The request is done: no longer listed, and the stream said so.
    events.wait_until(Duration::from_secs(5), |seen| {
        seen.iter().any(|e| {
            e["event"] == "completion" && e["completion_id"] == id && e["state"] == "completed"
        })
    });
    poll(
        Duration::from_secs(5),
        "the request no longer listed",
        || {
            get_json(server.api, "/v1/lines/alice/completions")
                .as_array()?
                .is_empty()
                .then_some(())
        },
        || events.dump(),
    );
}

/// The same with alice on another call when bob frees (issue #11: a caller busy at the recall
/// is suspended, not cancelled): her request is suspended, bob's phone does not ring, and when
/// she hangs up the recall goes ahead and completes.
#[test]
fn a_caller_busy_when_the_callee_frees_is_suspended_then_recalled() {
    let server = Server::start(
        ServerConfig::default()
            .user("carol", Some("carol-secret"))
            .user("dave", Some("dave-secret"))
            .user_option("alice", "call_waiting = false")
            .user_option("bob", "call_waiting = false"),
    );
    let mut events = Events::connect(server.api);
    let carol = Phone::start(&server, "carol", 1500, 60, Answer::Auto, None);
    let dave = Phone::start(&server, "dave", 1900, 60, Answer::Auto, None);
    let bob = Phone::start(&server, "bob", 1100, 60, Answer::Manual, None);
    let alice = Phone::start(&server, "alice", 700, 60, Answer::Auto, None);
    for (phone, user) in [
        (&carol, "carol"),
        (&dave, "dave"),
        (&bob, "bob"),
        (&alice, "alice"),
    ] {
        phone.registered(&server, user);
    }
    let id = busy_then_star37(&server, &mut events, &bob, &alice)["completion_id"]
        .as_u64()
        .unwrap();
    // The code's call (its tone) is over before alice calls dave.
    poll(
        Duration::from_secs(10),
        "the *37 call over",
        || {
            alice
                .output()
                .lines()
                .any(|l| l.contains("Call with sip:*37") && l.contains("terminated"))
                .then_some(())
        },
        || alice.output(),
    );
    alice.command(&format!("/dial sip:dave@{}", server.sip));
    events.wait_until(Duration::from_secs(8), |seen| {
        events_of(seen, "alice", "callstate")
            .iter()
            .any(|e| e["state"] == "connected" && e["completion_id"].is_null())
    });

    // bob frees while alice talks to dave: suspended, and bob's phone does not ring.
    bob.command("/hangup");
    events.wait_until(Duration::from_secs(8), |seen| {
        seen.iter().any(|e| {
            e["event"] == "completion" && e["completion_id"] == id && e["state"] == "suspended"
        })
    });
    assert!(
        !bob.output().contains("Incoming call from"),
        "bob rung while alice is busy\n{}",
        bob.output()
    );

    // alice hangs up: the recall goes ahead, bob answers, the request completes.
    alice.command("/hangup");
    bob.wait_for_output("Incoming call from", 1, Duration::from_secs(10));
    bob.command("/accept");
    let seen = events.wait_until(Duration::from_secs(10), |seen| {
        seen.iter().any(|e| {
            e["event"] == "completion" && e["completion_id"] == id && e["state"] == "completed"
        })
    });
    let states: Vec<&str> = seen
        .iter()
        .filter(|e| e["event"] == "completion" && e["completion_id"] == id)
        .filter_map(|e| e["state"].as_str())
        .collect();
    let at = |state: &str| {
        states
            .iter()
            .position(|s| *s == state)
            .unwrap_or_else(|| panic!("no {state} in {states:?}"))
    };
    assert!(
        at("queued") < at("suspended")
            && at("suspended") < at("recalling")
            && at("recalling") < at("completed"),
        "{states:?}"
    );
}

#[test]
fn an_outsider_forging_a_users_from_is_challenged() {
    let server = Server::start(ServerConfig::default());
    let socket = UdpSocket::bind((LOCALHOST, 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let local = socket.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:bob@{sip} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-forged-1;rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"Alice\" <sip:alice@{LOCALHOST}>;tag=forged\r\n\
         To: <sip:bob@{LOCALHOST}>\r\n\
         Call-ID: forged-from-1@{LOCALHOST}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@{local}>\r\n\
         Content-Length: 0\r\n\r\n",
        sip = server.sip
    );
    socket.send_to(invite.as_bytes(), server.sip).unwrap();
    let mut buf = [0u8; 4096];
    let answer = loop {
        let (len, _) = socket.recv_from(&mut buf).expect("an answer to the INVITE");
        let text = String::from_utf8_lossy(&buf[..len]).into_owned();
        if !text.starts_with("SIP/2.0 100") {
            break text;
        }
    };
    assert!(answer.starts_with("SIP/2.0 407"), "{answer}");
    assert!(answer.contains("Proxy-Authenticate: Digest"), "{answer}");
    assert!(
        get_json(server.api, "/v1/lines/bob/calls")
            .as_array()
            .unwrap()
            .is_empty(),
        "no call reached bob"
    );
}
