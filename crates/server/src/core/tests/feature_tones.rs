//! Feature codes answered with a tone (issue #11 item 5): a phone offering SDP gets 200 with
//! callcomp's SDP answer, hears the tone (checked end to end in `tests/e2e_feature_tones.rs`)
//! and gets callcomp's BYE after `CODE_TONE_TIME`; a phone hanging up first ends it; the
//! request a code made is the same as with a final response.

use super::completion::{dave_gets_busy, outstanding, requests};
use super::*;
use crate::b2bua::code_tone::CODE_TONE_TIME;

/// dave dials `code` with SDP_A; returns the non-100 answers he got.
fn dial(h: &mut Harness, code: &str, n: u32) -> Vec<Message> {
    let branch = h.next_branch();
    h.recv(
        DAVE,
        &format!(
            "INVITE sip:{code}@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {DAVE};branch={branch}\r\n\
             Max-Forwards: 70\r\nTo: <sip:{code}@example.com>\r\nFrom: <sip:dave@example.com>;tag=dt{n}\r\n\
             Call-ID: tone-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:dave@{DAVE}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP_A}",
            SDP_A.len()
        ),
    );
    h.take(DAVE)
        .into_iter()
        .filter(|m| !matches!(m.status(), Some(100 | 486)))
        .collect()
}

/// The 200 of a tone call: callcomp's SDP answer (PCMU, an RTP port of the media plane).
fn assert_answered(got: &[Message]) -> Message {
    assert_eq!(
        got.len(),
        1,
        "{:?}",
        got.iter().map(label).collect::<Vec<_>>()
    );
    let ok = got[0].clone();
    assert_eq!(ok.status(), Some(200));
    assert_eq!(header(&ok, HeaderName::ContentType), "application/sdp");
    let sdp = String::from_utf8(ok.body().to_vec()).unwrap();
    assert!(
        sdp.contains("m=audio ") && sdp.contains("RTP/AVP 0"),
        "{sdp}"
    );
    ok
}

#[test]
fn a_code_with_sdp_is_answered_then_hung_up_after_the_tone() {
    let mut h = Harness::new();
    connected(&mut h);
    h.register("dave", DAVE);
    dave_gets_busy(&mut h, "call-2");
    let ok = assert_answered(&dial(&mut h, "*37", 1));
    h.recv(DAVE, &from_caller("ACK", &ok, 1, "z9hG4bKtoneack1", None));
    // The request was made as with a final response.
    let switch = h.engine.switch();
    let id = lock(&switch).completions_of("dave").unwrap()[0].id.get();
    drop(switch);
    assert!(outstanding(&h, id));
    h.advance(CODE_TONE_TIME - Duration::from_millis(100));
    assert!(requests(&mut h, DAVE).is_empty(), "the tone still plays");
    h.advance(Duration::from_millis(200));
    let bye = requests(&mut h, DAVE);
    assert_eq!(bye.iter().map(label).collect::<Vec<_>>(), ["BYE"]);
    assert_eq!(
        header(&bye[0], HeaderName::CallId),
        "tone-1",
        "in the code call's dialog"
    );
    h.recv(DAVE, &reply(&bye[0], 200, "", DAVE, None));
}

#[test]
fn a_refused_code_is_answered_too_and_the_phone_may_hang_up_first() {
    let mut h = Harness::new();
    h.register("dave", DAVE);
    // No failed call: refused, but answered with the (error) tone.
    let ok = assert_answered(&dial(&mut h, "*37", 2));
    h.recv(DAVE, &from_caller("ACK", &ok, 1, "z9hG4bKtoneack2", None));
    h.recv(DAVE, &from_caller("BYE", &ok, 2, "z9hG4bKtonebye2", None));
    let got = h.take(DAVE);
    assert_eq!(got.iter().map(label).collect::<Vec<_>>(), ["200"]);
    h.advance(CODE_TONE_TIME + Duration::from_secs(1));
    assert!(
        requests(&mut h, DAVE).is_empty(),
        "no BYE after the phone's own"
    );
}

#[test]
fn without_a_media_plane_the_final_response_stands() {
    let mut h = Harness::new();
    h.engine.media = None;
    h.register("dave", DAVE);
    let got = dial(&mut h, "%2337", 3);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].status(), Some(404));
    assert_eq!(
        got[0].reason_phrase().as_deref(),
        Some("No Completion Requests")
    );
}
