//! End-to-end feature codes answered with tones (issue #11 item 5): the real `callcomp serve`,
//! a SIPp phone (`code_tone.xml`) dialling the code with an SDP offer that points at the
//! test's own RTP socket (`common::audio`), and Goertzel on what callcomp played there.
//!
//! The tone plan is `us`: confirmation 350+440 Hz, the error tone (busy) 480+620 Hz. dave's
//! `*37` with no failed call is refused: the error tone, then callcomp's BYE. After his call to
//! bob fails (bob unregistered), `*37` is accepted: the confirmation tone, the request in the
//! API, then the BYE; `#37` cancels it: the confirmation tone again, the API empty. (The final
//! responses a phone without SDP gets instead are in `core/tests/monitor.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::audio::{Audio, Heard};
use common::http::get_json;
use common::{Server, ServerConfig};

/// dave dials `code` with his SDP pointing at a fresh audio socket; returns what it heard.
fn dial_and_listen(server: &Server, code: &str) -> Heard {
    let audio = Audio::start(1000);
    let outcome = server
        .sipp_as("code_tone.xml", "dave")
        .service(code)
        .set("audio_port", &audio.port.to_string())
        .run();
    let heard = audio.stop();
    outcome.assert_success();
    assert!(outcome.logged("answered with SDP"), "{}", outcome.report);
    assert!(outcome.logged("hung up by callcomp"), "{}", outcome.report);
    heard
}

#[test]
fn codes_play_the_confirmation_tone_and_a_refused_code_the_error_tone() {
    common::require_sipp();
    let server = Server::start(
        ServerConfig::default()
            .user("dave", None)
            .tables("[media]\ncountry = \"us\"\n"),
    );

    // Nothing to complete: refused, the error tone.
    let refused = dial_and_listen(&server, "*37");
    assert!(refused.first(480.0).is_some(), "{}", refused.summary());
    assert!(refused.first(620.0).is_some(), "{}", refused.summary());
    assert!(refused.first(350.0).is_none(), "{}", refused.summary());

    // dave's call to bob (not registered) fails: *37 asks for a callback on it.
    server
        .sipp_as("call_expect_480.xml", "dave")
        .service("bob")
        .set("expect_m", "NL")
        .run()
        .assert_success();
    let accepted = dial_and_listen(&server, "*37");
    assert!(accepted.first(350.0).is_some(), "{}", accepted.summary());
    assert!(accepted.first(440.0).is_some(), "{}", accepted.summary());
    assert!(accepted.first(620.0).is_none(), "{}", accepted.summary());
    let requests = get_json(server.api, "/v1/lines/dave/completions");
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["target"], "bob");
    assert_eq!(requests[0]["mode"], "callback");

    let cancelled = dial_and_listen(&server, "%2337");
    assert!(cancelled.first(350.0).is_some(), "{}", cancelled.summary());
    assert!(cancelled.first(620.0).is_none(), "{}", cancelled.summary());
    let left = get_json(server.api, "/v1/lines/dave/completions");
    assert_eq!(left.as_array().map(Vec::len), Some(0), "{left}");
}
