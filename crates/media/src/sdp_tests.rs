//! Parsing and writing back what phones send; one typed error per malformed line.

use super::*;

/// What baresip sends (shape of its INVITE offer).
pub(crate) const BARESIP: &str = "v=0\r\n\
o=- 1917634452 2345234 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 10000 RTP/AVP 0 8 101\r\n\
b=AS:64\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n\
a=rtcp-mux\r\n\
a=label:1\r\n";

#[test]
fn parses_a_phone_offer_and_writes_it_back_unchanged() {
    let sdp = SessionDescription::parse(BARESIP).unwrap();
    assert_eq!(sdp.origin.session_id, "1917634452");
    assert_eq!(sdp.origin.session_version, 2_345_234);
    assert_eq!(sdp.connection, Some(Address::internet("127.0.0.1")));
    assert_eq!(sdp.timing, vec![Timing::default()]);
    let m = &sdp.media[0];
    assert_eq!(
        (m.media.as_str(), m.port, m.proto.as_str()),
        ("audio", 10000, "RTP/AVP")
    );
    assert_eq!(m.formats, vec!["0", "8", "101"]);
    assert_eq!(m.rtpmap(101), Some(("telephone-event", 8000)));
    assert_eq!(m.ptime(), Some(20));
    assert_eq!(sdp.direction(0), Direction::SendRecv);
    assert_eq!(
        m.other_lines,
        vec![RawLine {
            kind: 'b',
            value: "AS:64".into()
        }]
    );
    assert!(m.attributes.contains(&Attribute::Other {
        name: "rtcp-mux".into(),
        value: None
    }));
    assert_eq!(sdp.to_string(), BARESIP);
}

#[test]
fn accepts_bare_lf_and_writes_crlf() {
    let lf = BARESIP.replace("\r\n", "\n");
    let sdp = SessionDescription::parse(&lf).unwrap();
    assert_eq!(sdp.to_string(), BARESIP);
}

#[test]
fn direction_falls_back_to_the_session_then_sendrecv() {
    let text = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\na=sendonly\r\n\
m=audio 1 RTP/AVP 0\r\nm=audio 2 RTP/AVP 0\r\na=inactive\r\n";
    let sdp = SessionDescription::parse(text).unwrap();
    assert_eq!(sdp.direction(0), Direction::SendOnly);
    assert_eq!(sdp.direction(1), Direction::Inactive);
    assert_eq!(sdp.connection_for(0), None);
    let none = SessionDescription::parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n").unwrap();
    assert_eq!(none.direction(0), Direction::SendRecv);
}

#[test]
fn unknown_session_lines_are_kept_in_rfc_order() {
    let text = "v=0\r\no=u 2 3 IN IP6 ::1\r\ns=call\r\ni=info\r\nc=IN IP6 ::1\r\n\
b=CT:100\r\nt=0 0\r\nk=prompt\r\na=tool:x\r\nm=audio 0/2 RTP/SAVP 0\r\ni=mine\r\n\
c=IN IP4 0.0.0.0\r\nb=AS:1\r\na=crypto:1 AES\r\n";
    let sdp = SessionDescription::parse(text).unwrap();
    assert_eq!(sdp.media[0].port_count, Some(2));
    assert!(sdp.connection_for(0).unwrap().is_unspecified());
    assert_eq!(sdp.to_string(), text);
}

#[test]
fn bad_input_gets_a_typed_error() {
    let base = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n";
    let cases: Vec<(String, SdpError)> = vec![
        ("".into(), SdpError::BadVersion),
        ("v=1\r\n".into(), SdpError::BadVersion),
        (
            format!("{base}junk\r\n"),
            SdpError::MalformedLine { line: 5 },
        ),
        (format!("{base}=x\r\n"), SdpError::MalformedLine { line: 5 }),
        (
            "v=0\r\ns=-\r\nt=0 0\r\n".into(),
            SdpError::Missing { kind: 'o' },
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\nt=0 0\r\n".into(),
            SdpError::Missing { kind: 's' },
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n".into(),
            SdpError::Missing { kind: 't' },
        ),
        (
            "v=0\r\no=- 1 x IN IP4 h\r\n".into(),
            SdpError::BadField { line: 2, kind: 'o' },
        ),
        (
            format!("{base}c=IN IP4\r\n"),
            SdpError::BadField { line: 5, kind: 'c' },
        ),
        (
            format!("{base}m=audio port RTP/AVP 0\r\n"),
            SdpError::BadField { line: 5, kind: 'm' },
        ),
        (
            format!("{base}m=audio 70000 RTP/AVP 0\r\n"),
            SdpError::BadField { line: 5, kind: 'm' },
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0\r\n".into(),
            SdpError::BadField { line: 4, kind: 't' },
        ),
        (
            format!("{base}v=0\r\n"),
            SdpError::BadField { line: 5, kind: 'v' },
        ),
        (
            format!("{base}a=rtpmap:0 PCMU\r\n"),
            SdpError::BadAttribute {
                line: 5,
                name: "rtpmap",
            },
        ),
        (
            format!("{base}a=rtpmap:300 PCMU/8000\r\n"),
            SdpError::BadAttribute {
                line: 5,
                name: "rtpmap",
            },
        ),
        (
            format!("{base}a=fmtp:101\r\n"),
            SdpError::BadAttribute {
                line: 5,
                name: "fmtp",
            },
        ),
        (
            format!("{base}a=ptime:fast\r\n"),
            SdpError::BadAttribute {
                line: 5,
                name: "ptime",
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(SessionDescription::parse(&text), Err(expected), "{text:?}");
    }
    assert_eq!(
        SessionDescription::parse_bytes(&[0xFF]),
        Err(SdpError::NotUtf8)
    );
}

#[test]
fn direction_algebra() {
    use Direction::*;
    for (d, reversed) in [
        (SendRecv, SendRecv),
        (SendOnly, RecvOnly),
        (RecvOnly, SendOnly),
        (Inactive, Inactive),
    ] {
        assert_eq!(d.reversed(), reversed);
        assert_eq!(Direction::from_name(d.as_str()), Some(d));
        assert_eq!(Direction::from_flags(d.sends(), d.receives()), d);
    }
}
