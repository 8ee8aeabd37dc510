//! Intrusion with real phones and real audio (issue #10): three baresip phones, each sending
//! its own sine (`ausine`, which runs at 48 kHz) and recording what it hears (`sndfile`, 8 kHz mono WAV). alice
//! calls bob (auto-answer); dave calls bob, who has no call waiting, so callcomp answers busy
//! and holds dave's INVITE (`busy_hold`); the application asks `intrude` on dave's call. While
//! dave is in, each phone hears the other two (Goertzel on its recording); after dave's phone
//! quits, alice and bob hear each other and no longer dave.
//!
//! baresip is required (`scripts/test` installs it); the phones are `common::baresip`'s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::baresip::{block_with, Answer, Phone};
use common::http::{get_json, poll, request};
use common::{Server, ServerConfig};

fn call_in(server: &Server, line: &str, state: &str) -> Option<u64> {
    let calls = get_json(server.api, &format!("/v1/lines/{line}/calls"));
    calls
        .as_array()?
        .iter()
        .find(|c| c["state"] == state && c["direction"] == "out")
        .and_then(|c| c["id"].as_u64())
}

#[test]
fn three_phones_hear_each_other_during_an_intrusion() {
    let server = Server::start(
        ServerConfig::default()
            .user_option("bob", "call_waiting = false")
            .user_option("dave", "busy_hold = \"20s\""),
    );
    let (alice_hz, bob_hz, dave_hz) = (700.0, 1100.0, 1500.0);
    let mut bob = Phone::start(&server, "bob", 1100, 10, Answer::Auto, None);
    bob.registered(&server, "bob");
    let bob_uri = format!("sip:bob@{}", server.sip);
    let mut alice = Phone::start(&server, "alice", 700, 9, Answer::Auto, Some(&bob_uri));
    poll(
        Duration::from_secs(8),
        "alice's call to bob connected",
        || call_in(&server, "alice", "connected"),
        || alice.output(),
    );
    let mut dave = Phone::start(&server, "dave", 1500, 4, Answer::Auto, Some(&bob_uri));
    let held = poll(
        Duration::from_secs(8),
        "dave's call busy and held",
        || call_in(&server, "dave", "busy"),
        || {
            format!(
                "{}\n{}",
                get_json(server.api, "/v1/lines/dave/calls"),
                dave.output()
            )
        },
    );
    let (status, body) = request(
        server.api,
        "POST",
        &format!("/v1/calls/{held}/complete"),
        Some(r#"{"mode":"intrude"}"#),
    );
    assert_eq!(status, 201, "{body}");
    poll(
        Duration::from_secs(8),
        "dave connected into the call",
        || call_in(&server, "dave", "connected"),
        || format!("{}\n{}", server.stderr(), dave.output()),
    );
    dave.wait(Duration::from_secs(15));
    alice.wait(Duration::from_secs(20));
    bob.wait(Duration::from_secs(20));

    let (a, b, d) = (alice.heard(), bob.heard(), dave.heard());
    assert!(
        block_with(&a, &[bob_hz, dave_hz], &[]),
        "alice hears bob and dave"
    );
    assert!(
        block_with(&b, &[alice_hz, dave_hz], &[]),
        "bob hears alice and dave"
    );
    assert!(
        block_with(&d, &[alice_hz, bob_hz], &[]),
        "dave hears alice and bob"
    );
    // After dave left: the end of each recording has the other original party only.
    let tail = |audio: &[i16]| audio[audio.len().saturating_sub(8_000)..].to_vec();
    assert!(
        block_with(&tail(&a), &[bob_hz], &[dave_hz]),
        "alice hears bob again"
    );
    assert!(
        block_with(&tail(&b), &[alice_hz], &[dave_hz]),
        "bob hears alice again"
    );
}
