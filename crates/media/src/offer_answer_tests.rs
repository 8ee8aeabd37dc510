//! RFC 3264 cases, one test per rule.

use super::*;
use crate::sdp::SessionDescription;

fn local() -> LocalMedia {
    LocalMedia {
        address: "127.0.0.1".into(),
        port: 40000,
        codecs: vec![Codec::Pcmu, Codec::Pcma],
        telephone_event: true,
        direction: Direction::SendRecv,
        session_id: 42,
        session_version: 1,
    }
}

fn offer_with(media: &str) -> SessionDescription {
    let text = format!(
        "v=0\r\no=- 7 7 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n{media}"
    );
    SessionDescription::parse(&text).unwrap()
}

#[test]
fn answers_the_offerers_first_shared_codec_with_its_payload_numbers() {
    let offer = offer_with(
        "m=audio 5004 RTP/AVP 9 8 0 96\r\na=rtpmap:9 G722/8000\r\na=rtpmap:96 telephone-event/8000\r\na=ptime:30\r\n",
    );
    let a = answer(&offer, &local()).unwrap();
    assert_eq!(
        a.stream.codec,
        Codec::Pcma,
        "PCMA comes before PCMU in the offer"
    );
    assert_eq!(a.stream.payload_type, 8);
    assert_eq!(
        a.stream.telephone_event,
        Some(96),
        "the offerer's dynamic number is kept"
    );
    assert_eq!(a.stream.remote_ptime, 30);
    assert_eq!(a.stream.direction, Direction::SendRecv);
    assert_eq!(
        a.stream.remote.as_ref().and_then(Remote::socket_addr),
        Some("192.0.2.10:5004".parse().unwrap())
    );
    let text = a.sdp.to_string();
    assert_eq!(
        text,
        "v=0\r\no=callcomp 42 1 IN IP4 127.0.0.1\r\ns=callcomp\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 8 96\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\n\
a=fmtp:96 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
    );
    // What we write, we read back.
    assert_eq!(SessionDescription::parse(&text).unwrap(), a.sdp);
}

#[test]
fn a_dynamic_number_bound_to_pcmu_is_recognized_and_static_ones_need_no_rtpmap() {
    let offer = offer_with("m=audio 5004 RTP/AVP 97 0\r\na=rtpmap:97 pcmu/8000\r\n");
    assert_eq!(answer(&offer, &local()).unwrap().stream.payload_type, 97);
    let bare = offer_with("m=audio 5004 RTP/AVP 0\r\n");
    let a = answer(&bare, &local()).unwrap();
    assert_eq!(
        (a.stream.codec, a.stream.telephone_event),
        (Codec::Pcmu, None)
    );
}

#[test]
fn hold_offers_get_the_mirrored_direction() {
    // §6.1: sendonly -> recvonly, recvonly -> sendonly, inactive -> inactive.
    let table = [
        ("sendonly", Direction::RecvOnly),
        ("recvonly", Direction::SendOnly),
        ("inactive", Direction::Inactive),
        ("sendrecv", Direction::SendRecv),
    ];
    for (offered, expected) in table {
        let offer = offer_with(&format!("m=audio 5004 RTP/AVP 0\r\na={offered}\r\n"));
        let a = answer(&offer, &local()).unwrap();
        assert_eq!(a.stream.direction, expected, "offer {offered}");
        assert_eq!(a.sdp.direction(0), expected);
    }
}

#[test]
fn our_own_direction_limits_the_answer() {
    let mut only_send = local();
    only_send.direction = Direction::SendOnly;
    let offer = offer_with("m=audio 5004 RTP/AVP 0\r\n");
    assert_eq!(
        answer(&offer, &only_send).unwrap().stream.direction,
        Direction::SendOnly
    );
    let held = offer_with("m=audio 5004 RTP/AVP 0\r\na=sendonly\r\n");
    assert_eq!(
        answer(&held, &only_send).unwrap().stream.direction,
        Direction::Inactive
    );
}

#[test]
fn old_style_hold_with_zero_address_gets_no_media_from_us() {
    let text = "v=0\r\no=- 7 8 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n";
    let a = answer(&SessionDescription::parse(text).unwrap(), &local()).unwrap();
    assert_eq!(a.stream.remote, None);
    assert_eq!(a.stream.direction, Direction::RecvOnly);
}

#[test]
fn streams_we_do_not_take_are_rejected_with_port_zero_in_place() {
    let offer = offer_with(
        "m=video 6000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
m=audio 0 RTP/AVP 0\r\n\
m=audio 5006 RTP/SAVP 0\r\n\
m=audio 5004 RTP/AVP 0\r\n\
m=audio 5008 RTP/AVP 8\r\n",
    );
    let a = answer(&offer, &local()).unwrap();
    assert_eq!(
        a.sdp.media.len(),
        5,
        "§6: as many m= lines as offered, in order"
    );
    let ports: Vec<u16> = a.sdp.media.iter().map(|m| m.port).collect();
    assert_eq!(
        ports,
        vec![0, 0, 0, 40000, 0],
        "only the first usable audio stream"
    );
    assert_eq!(a.stream.index, 3);
    assert_eq!(a.sdp.media[0].media, "video");
    assert_eq!(a.sdp.media[0].formats, vec!["96"]);
    assert_eq!(a.sdp.media[2].proto, "RTP/SAVP");
}

#[test]
fn no_shared_codec_is_an_error_that_maps_to_488() {
    let offer = offer_with("m=audio 5004 RTP/AVP 9 18\r\na=rtpmap:18 G729/8000\r\n");
    let err = answer(&offer, &local()).unwrap_err();
    assert_eq!(err, OfferAnswerError::NoSharedCodec { streams: 1 });
    assert_eq!(err.status(), 488);
    // PCMA only, and we take only PCMU.
    let mut mu_only = local();
    mu_only.codecs = vec![Codec::Pcmu];
    let pcma = offer_with("m=audio 5004 RTP/AVP 8\r\n");
    assert_eq!(
        answer(&pcma, &mu_only).unwrap_err(),
        OfferAnswerError::NoSharedCodec { streams: 1 }
    );
    // Every stream rejected by the offerer: nothing to answer with.
    let zero = offer_with("m=audio 0 RTP/AVP 0\r\n");
    assert!(matches!(
        answer(&zero, &local()),
        Err(OfferAnswerError::NoSharedCodec { .. })
    ));
}

#[test]
fn a_stream_without_a_connection_address_is_an_error() {
    let text = "v=0\r\no=- 7 7 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n";
    let err = answer(&SessionDescription::parse(text).unwrap(), &local()).unwrap_err();
    assert_eq!(err, OfferAnswerError::MissingConnection { index: 0 });
}

#[test]
fn our_offer_and_the_answer_to_it() {
    let ours = offer(&local());
    assert_eq!(
        ours.to_string(),
        "v=0\r\no=callcomp 42 1 IN IP4 127.0.0.1\r\ns=callcomp\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
    );
    // A phone answering our offer the way we answer one: the same algorithm from its side.
    let mut phone = local();
    phone.address = "192.0.2.20".into();
    phone.port = 7078;
    phone.codecs = vec![Codec::Pcma];
    let phone_answer = answer(&ours, &phone).unwrap().sdp;
    let n = accept_answer(&local(), &phone_answer).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event),
        (Codec::Pcma, 8, Some(101))
    );
    assert_eq!(
        n.remote,
        Some(Remote {
            address: "192.0.2.20".into(),
            port: 7078
        })
    );
    assert_eq!(n.direction, Direction::SendRecv);
}

#[test]
fn an_unusable_answer_is_an_error() {
    let rejected = offer_with("m=audio 0 RTP/AVP 0\r\n");
    assert_eq!(
        accept_answer(&local(), &rejected),
        Err(OfferAnswerError::Rejected)
    );
    let foreign = offer_with("m=audio 5004 RTP/AVP 18\r\n");
    assert_eq!(
        accept_answer(&local(), &foreign),
        Err(OfferAnswerError::Rejected)
    );
    let two = offer_with("m=audio 5004 RTP/AVP 0\r\nm=video 0 RTP/AVP 96\r\n");
    assert_eq!(
        accept_answer(&local(), &two),
        Err(OfferAnswerError::StreamCount {
            offered: 1,
            answered: 2
        })
    );
    let held = offer_with("m=audio 5004 RTP/AVP 0\r\na=recvonly\r\n");
    assert_eq!(
        accept_answer(&local(), &held).unwrap().direction,
        Direction::SendOnly
    );
}
