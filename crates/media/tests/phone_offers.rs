//! Offers shaped like those of common SIP phones (written from their documented and commonly
//! logged forms, not packet captures): each parses, writes back byte for byte, and gets the
//! answer RFC 3264 calls for.

use callcomp_media::offer_answer::{answer, Codec, LocalMedia, OfferAnswerError};
use callcomp_media::sdp::{Direction, SessionDescription};

fn local() -> LocalMedia {
    LocalMedia {
        address: "10.0.0.1".into(),
        port: 30000,
        codecs: vec![Codec::Pcmu, Codec::Pcma],
        telephone_event: true,
        direction: Direction::SendRecv,
        session_id: 9,
        session_version: 1,
    }
}

/// One phone's offer and what the answer must agree.
struct Case {
    name: &'static str,
    offer: &'static str,
    codec: Codec,
    payload_type: u8,
    telephone_event: Option<u8>,
    direction: Direction,
}

const OFFERS: &[Case] = &[
    Case {
        name: "desk phone, G.722 first, G.729 with annexb",
        offer: "v=0\r\no=- 20001 20001 IN IP4 10.0.0.21\r\ns=SDP data\r\nc=IN IP4 10.0.0.21\r\nt=0 0\r\n\
m=audio 11780 RTP/AVP 9 0 8 18 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\na=ptime:20\r\n\
a=sendrecv\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n",
        codec: Codec::Pcmu,
        payload_type: 0,
        telephone_event: Some(101),
        direction: Direction::SendRecv,
    },
    Case {
        name: "softphone with ICE candidates, RTCP port and Opus first",
        offer: "v=0\r\no=alice 1234 5678 IN IP4 192.168.1.20\r\ns=Talk\r\nc=IN IP4 192.168.1.20\r\nt=0 0\r\n\
a=ice-pwd:5f5e1c4c0a0e\r\na=ice-ufrag:a1b2\r\nm=audio 7078 RTP/AVP 96 97 8 0 101\r\n\
a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\na=rtpmap:97 speex/16000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=rtcp:7079\r\n\
a=candidate:1 1 UDP 2130706431 192.168.1.20 7078 typ host\r\na=rtcp-fb:* trr-int 1000\r\n",
        codec: Codec::Pcma,
        payload_type: 8,
        telephone_event: Some(101),
        direction: Direction::SendRecv,
    },
    Case {
        name: "PBX re-INVITE putting us on hold, media-level c=",
        offer: "v=0\r\no=root 1821 1822 IN IP4 10.0.0.5\r\ns=Asterisk PBX\r\nt=0 0\r\n\
m=audio 14500 RTP/AVP 8 101\r\nc=IN IP4 10.0.0.5\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=maxptime:150\r\n\
a=sendonly\r\n",
        codec: Codec::Pcma,
        payload_type: 8,
        telephone_event: Some(101),
        direction: Direction::RecvOnly,
    },
    Case {
        name: "minimal phone, static types only, bandwidth line",
        offer: "v=0\r\no=user1 53655765 2353687637 IN IP4 198.51.100.3\r\ns=-\r\nc=IN IP4 198.51.100.3\r\n\
b=AS:84\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n",
        codec: Codec::Pcmu,
        payload_type: 0,
        telephone_event: None,
        direction: Direction::SendRecv,
    },
];

#[test]
fn phone_offers_write_back_unchanged_and_get_the_expected_answer() {
    for case in OFFERS {
        let Case {
            name,
            offer: text,
            codec,
            payload_type,
            telephone_event,
            direction,
        } = *case;
        let offer = SessionDescription::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(offer.to_string(), text, "{name}: written back");
        let reply = answer(&offer, &local()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let s = &reply.stream;
        assert_eq!((s.codec, s.payload_type), (codec, payload_type), "{name}");
        assert_eq!(s.telephone_event, telephone_event, "{name}");
        assert_eq!(s.direction, direction, "{name}");
        assert_eq!(reply.sdp.media.len(), offer.media.len(), "{name}");
        let again = SessionDescription::parse(&reply.sdp.to_string()).unwrap();
        assert_eq!(again, reply.sdp, "{name}: our answer parses back");
    }
}

#[test]
fn a_webrtc_offer_is_not_acceptable_here() {
    // DTLS-SRTP with AVPF: we terminate plain RTP/AVP only, so the answer is 488.
    let text = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8\r\n\
c=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\na=setup:actpass\r\na=mid:0\r\n\
a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n";
    let offer = SessionDescription::parse(text).unwrap();
    assert_eq!(offer.to_string(), text);
    let err = answer(&offer, &local()).unwrap_err();
    assert_eq!(err, OfferAnswerError::NoSharedCodec { streams: 1 });
    assert_eq!(err.status(), 488);
}
