//! Any body as SDP: the parser returns a description or an error, never panics; an accepted
//! description writes back to text that parses to the same description, and answering it as
//! an offer succeeds or fails with a typed error, never panics.
#![no_main]

use callcomp_media::offer_answer::{answer, Codec, LocalMedia};
use callcomp_media::sdp::{Direction, SessionDescription};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = SessionDescription::parse_bytes(data) else {
        return;
    };
    let written = sdp.to_string();
    let again = SessionDescription::parse(&written).expect("a written description must parse");
    assert_eq!(again.to_string(), written);
    let local = LocalMedia {
        address: "127.0.0.1".into(),
        port: 40000,
        codecs: vec![Codec::Pcmu, Codec::Pcma],
        telephone_event: true,
        direction: Direction::SendRecv,
        session_id: 1,
        session_version: 1,
    };
    if let Ok(reply) = answer(&sdp, &local) {
        assert_eq!(reply.sdp.media.len(), sdp.media.len());
        let text = reply.sdp.to_string();
        assert!(SessionDescription::parse(&text).is_ok());
    }
});
