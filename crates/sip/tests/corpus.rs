//! The RFC 4475 and RFC 5118 torture messages, bit-exact from the RFCs' appendix archives
//! (`tests/corpus/`, checked against `tests/corpus/SHA256SUMS` first).
//!
//! Every valid message parses, writes back byte for byte, and has the fields that its RFC
//! section exercises asserted. Every invalid message is refused, by the parser or by the
//! checks above it (`callcomp_sip::check`), with the status code the RFC asks for. The
//! transaction- and application-layer cases (RFC 4475 §3.2, §3.3) are asserted as far as
//! this crate decides them; what a registrar or proxy does with them is the server's part.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use callcomp_sip::check::{check_request, check_response, CheckError};
use callcomp_sip::headers::call_id::CallId;
use callcomp_sip::headers::contact::Contact;
use callcomp_sip::headers::content_type::ContentType;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::date::Date;
use callcomp_sip::headers::numbers::{ContentLength, Expires, MaxForwards, RetryAfter};
use callcomp_sip::headers::route::{RecordRoute, Route};
use callcomp_sip::headers::tokens::{ProxyRequire, Require};
use callcomp_sip::headers::via::{Transport, Via};
use callcomp_sip::message::Message;
use callcomp_sip::parse::{Framed, Limits, ParseError};
use callcomp_sip::uri::{Host, Uri};
use callcomp_sip::{HeaderName, Method};
use sha2::{Digest, Sha256};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(corpus_dir().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// An RFC 4475 message as it is on the wire (the archive already uses CRLF).
fn rfc4475(name: &str) -> Vec<u8> {
    read(&format!("rfc4475/{name}.dat"))
}

/// An RFC 5118 message made wire-ready: the archive stores bare LF line ends, so they
/// become CRLF, and the Content-Length is set to the converted body's length (the archive's
/// values disagree with its own bodies; see the corpus README).
fn rfc5118(name: &str) -> Vec<u8> {
    let text = String::from_utf8(read(&format!("rfc5118/{name}"))).unwrap();
    let text = text.replace('\n', "\r\n");
    let (head, body) = match text.split_once("\r\n\r\n") {
        Some((head, body)) => (head.to_string(), body.to_string()),
        None => (text.trim_end_matches("\r\n").to_string(), String::new()),
    };
    let head: Vec<String> = head
        .split("\r\n")
        .map(|line| {
            if line.to_ascii_lowercase().starts_with("content-length") {
                format!("Content-Length: {}", body.len())
            } else {
                line.to_string()
            }
        })
        .collect();
    format!("{}\r\n\r\n{}", head.join("\r\n"), body).into_bytes()
}

fn parse(bytes: &[u8]) -> Message {
    Message::parse_datagram(bytes, &Limits::default())
        .unwrap_or_else(|e| panic!("refused: {e}\n{}", String::from_utf8_lossy(bytes)))
}

/// Parses, checks the byte-identical round trip and the stream framing, and runs the
/// checks every request or response goes through.
fn accept(bytes: &[u8]) -> Message {
    let msg = parse(bytes);
    assert_eq!(
        msg.to_bytes(),
        bytes,
        "an untouched message writes back as it came"
    );
    match Message::parse_stream(bytes, &Limits::default()) {
        Ok(Framed::Complete(again, used)) => {
            assert_eq!(used, bytes.len());
            assert_eq!(again, msg);
        }
        other => panic!("stream framing: {other:?}"),
    }
    msg
}

fn checked(msg: &Message) -> Result<callcomp_sip::check::Essentials, CheckError> {
    if msg.is_request() {
        check_request(msg)
    } else {
        check_response(msg)
    }
}

/// The status a server answers with, from whichever layer refuses the message.
fn refusal(bytes: &[u8]) -> u16 {
    match Message::parse_datagram(bytes, &Limits::default()) {
        Err(e) => e.status(),
        Ok(msg) => match checked(&msg) {
            Err(e) => e.status(),
            Ok(_) => panic!("accepted: {}", String::from_utf8_lossy(bytes)),
        },
    }
}

fn sip(uri: &Uri) -> &callcomp_sip::uri::SipUri {
    match uri {
        Uri::Sip(sip) => sip,
        other => panic!("not a SIP URI: {other}"),
    }
}

fn user(uri: &Uri) -> String {
    sip(uri).user.clone().unwrap_or_default()
}

fn vias(msg: &Message) -> Vec<Via> {
    msg.header_all::<Via>().unwrap()
}

fn contacts(msg: &Message) -> Vec<Contact> {
    msg.header_all::<Contact>().unwrap()
}

fn contact_addr(c: &Contact) -> &callcomp_sip::name_addr::NameAddr {
    match c {
        Contact::Addr(addr) => addr,
        Contact::Star => panic!("unexpected Contact: *"),
    }
}

#[test]
fn corpus_is_bit_exact() {
    let sums = String::from_utf8(read("SHA256SUMS")).unwrap();
    let mut checked = 0;
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (hex, rel) = line.split_once("  ").unwrap();
        let digest = Sha256::digest(read(rel));
        let got: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, hex, "{rel} was altered");
        checked += 1;
    }
    assert_eq!(checked, 62, "50 RFC 4475 files and 12 RFC 5118 files");
}

// ----- RFC 4475 §3.1.1: valid messages ---------------------------------------------------

#[test]
fn wsinv_short_tortuous_invite() {
    let msg = accept(&rfc4475("wsinv"));
    let e = checked(&msg).unwrap();
    assert_eq!(msg.method(), Some(&Method::Invite));
    assert_eq!(
        msg.uri().unwrap().to_string(),
        "sip:vivekg@chair-dnrc.example.com;unknownparam"
    );
    assert_eq!(e.to.tag(), Some("1918181833n"));
    assert_eq!(e.from.tag(), Some("98asjd8"));
    assert_eq!(e.from.display.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(e.max_forwards, Some(68));
    assert_eq!(
        e.cseq,
        CSeq {
            seq: 9,
            method: Method::Invite
        }
    );
    assert_eq!(e.call_id, CallId("wsinv.ndaksdj@192.0.2.1".into()));
    // Three Via values over two fields, with LWS around every slash.
    let v = vias(&msg);
    assert_eq!(v.len(), 3);
    assert_eq!(v[0].transport, Transport::Udp);
    assert_eq!(v[0].branch(), Some("390skdjuw"));
    assert_eq!(v[1].transport, Transport::Tcp);
    assert_eq!(v[1].host, Host::Domain("spindle.example.com".into()));
    assert_eq!(v[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(v[2].branch(), Some("z9hG4bK30239"));
    // Unknown headers stay opaque, folding and all.
    assert_eq!(
        msg.get_str(&HeaderName::Extension(
            "UnknownHeaderWithUnusualValue".into()
        ))
        .unwrap(),
        ";;,,;;,;"
    );
    assert!(msg
        .get_str(&HeaderName::Extension("newfangledheader".into()))
        .unwrap()
        .contains("continued newfangled value"));
    // `s :` is an empty Subject in compact form.
    assert_eq!(msg.get_str(&HeaderName::Subject).unwrap(), "");
    let route = msg.header::<Route>().unwrap().unwrap();
    assert!(route.is_loose());
    let c = contacts(&msg);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].q(), Some(330));
    assert_eq!(
        contact_addr(&c[0]).display.as_deref(),
        Some("Quoted string \"\"")
    );
    assert_eq!(msg.body().len(), 150);
    assert_eq!(
        msg.header::<ContentLength>().unwrap().unwrap(),
        ContentLength(150)
    );
    let ct = msg.header::<ContentType>().unwrap().unwrap();
    assert!(ct.is("application", "sdp"));
}

#[test]
fn intmeth_wide_range_of_valid_characters() {
    let msg = accept(&rfc4475("intmeth"));
    let e = checked(&msg).unwrap();
    let method = msg.method().unwrap();
    assert!(method.is_extension());
    assert_eq!(
        method.as_str(),
        "!interesting-Method0123456789_*+`.%indeed'~"
    );
    assert_eq!(e.cseq.method, *method);
    assert_eq!(e.cseq.seq, 139122385);
    let uri = sip(msg.uri().unwrap());
    assert_eq!(
        uri.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        uri.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(
        e.to.display.as_deref(),
        Some("BEL:\u{7} NUL:\u{0} DEL:\u{7f}")
    );
    assert_eq!(
        e.from.display.as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(e.from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(e.call_id.0, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert_eq!(e.max_forwards, Some(255));
    assert_eq!(e.via.branch(), Some("z9hG4bK-.!%66*_+`'~"));
    // The UTF-8 param value survives.
    assert!(e.from.params.value("fromParam''~+*_!.-%").is_some());
}

#[test]
fn esc01_valid_escaping() {
    let msg = accept(&rfc4475("esc01"));
    let e = checked(&msg).unwrap();
    let ruri = sip(msg.uri().unwrap());
    assert_eq!(ruri.user.as_deref(), Some("sips%3Auser%40example.com"));
    assert_eq!(
        ruri.user_unescaped().as_deref(),
        Some("sips:user@example.com")
    );
    assert_eq!(user(&e.to.uri), "%75se%72");
    // Escaped and unescaped forms of the same user are equivalent (RFC 3261 §19.1.4).
    assert!(e
        .to
        .uri
        .equivalent(&Uri::parse("sip:user@example.com").unwrap()));
    assert_eq!(
        sip(&e.from.uri).user_unescaped().as_deref(),
        Some("I have spaces")
    );
    let c = contacts(&msg);
    let curi = sip(&contact_addr(&c[0]).uri);
    assert_eq!(curi.params.len(), 2);
    assert!(
        Uri::parse("sip:caller@host5.example.net;lr;name=value%2541")
            .unwrap()
            .equivalent(&contact_addr(&c[0]).uri)
    );
    assert_eq!(msg.body().len(), 150);
}

#[test]
fn escnull_escaped_nulls() {
    let msg = accept(&rfc4475("escnull"));
    let e = checked(&msg).unwrap();
    assert_eq!(msg.method(), Some(&Method::Register));
    // The AOR is not cut at the NUL.
    assert_eq!(
        sip(&e.to.uri).user_unescaped().as_deref(),
        Some("null-\0-null")
    );
    let c = contacts(&msg);
    assert_eq!(c.len(), 2);
    let users: Vec<String> = c
        .iter()
        .map(|c| sip(&contact_addr(c).uri).user_unescaped().unwrap())
        .collect();
    assert_eq!(users, ["\0", "\0\0"]);
    assert!(!contact_addr(&c[0]).uri.equivalent(&contact_addr(&c[1]).uri));
}

#[test]
fn esc02_percent_that_is_not_an_escape() {
    let msg = accept(&rfc4475("esc02"));
    let e = checked(&msg).unwrap();
    let method = msg.method().unwrap();
    assert!(method.is_extension(), "RE%47IST%45R is not REGISTER");
    assert_ne!(*method, Method::Register);
    assert_eq!(e.to.display.as_deref(), Some("%Z%45"));
    // `C%6Fntact` is an unknown header, so there are two Contact values, not three.
    assert_eq!(contacts(&msg).len(), 2);
    assert_eq!(
        msg.get_str(&HeaderName::Extension("C%6Fntact".into()))
            .unwrap(),
        "<sip:alias2@host2.example.com>"
    );
}

#[test]
fn lwsdisp_no_space_before_angle_bracket() {
    let msg = accept(&rfc4475("lwsdisp"));
    let e = checked(&msg).unwrap();
    assert_eq!(e.from.display.as_deref(), Some("caller"));
    assert_eq!(e.from.uri.to_string(), "sip:caller@example.com");
    assert_eq!(e.from.tag(), Some("323"));
}

#[test]
fn longreq_long_values() {
    let bytes = rfc4475("longreq");
    let msg = accept(&bytes);
    let e = checked(&msg).unwrap();
    let display = e.to.display.clone().unwrap();
    assert!(
        display.ends_with("extremeextreme proportion"),
        "{display:?}"
    );
    assert_eq!(e.from.tag().unwrap().len(), 155);
    assert!(e.from.tag().unwrap().starts_with("12982982"));
    assert_eq!(e.call_id.0.len(), 141);
    let v = vias(&msg);
    assert_eq!(v.len(), 34, "33 sipN hosts and the originating host");
    assert_eq!(v[0].host, Host::Domain("sip33.example.com".into()));
    assert_eq!(v[33].host, Host::Domain("host.example.com".into()));
    assert_eq!(sip(&e.to.uri).port, Some(6000));
}

#[test]
fn dblreq_trailing_octets_are_ignored() {
    let bytes = rfc4475("dblreq");
    let msg = parse(&bytes);
    assert_eq!(msg.method(), Some(&Method::Register));
    assert!(msg.body().is_empty());
    let written = msg.to_bytes();
    assert!(written.len() < bytes.len());
    assert!(
        bytes.starts_with(&written),
        "the REGISTER alone is written back"
    );
    assert!(!String::from_utf8_lossy(&written).contains("INVITE"));
    assert_eq!(checked(&msg).unwrap().cseq.method, Method::Register);
}

#[test]
fn semiuri_semicolons_in_user_part() {
    let msg = accept(&rfc4475("semiuri"));
    checked(&msg).unwrap();
    let uri = sip(msg.uri().unwrap());
    assert_eq!(uri.user.as_deref(), Some("user;par=u%40example.net"));
    assert_eq!(uri.host, Host::Domain("example.com".into()));
    assert!(uri.params.is_empty());
    assert_eq!(
        msg.get_str(&HeaderName::Accept).unwrap().split(',').count(),
        6
    );
}

#[test]
fn transports_varied_and_unknown() {
    let msg = accept(&rfc4475("transports"));
    checked(&msg).unwrap();
    let t: Vec<Transport> = vias(&msg).into_iter().map(|v| v.transport).collect();
    assert_eq!(
        t,
        [
            Transport::Udp,
            Transport::Sctp,
            Transport::Tls,
            Transport::Other("UNKNOWN".into()),
            Transport::Tcp
        ]
    );
}

#[test]
fn mpart01_multipart_with_binary() {
    let bytes = rfc4475("mpart01");
    let msg = accept(&bytes);
    checked(&msg).unwrap();
    assert_eq!(msg.method(), Some(&Method::Message));
    assert_eq!(msg.body().len(), 553);
    assert!(msg.body().contains(&0));
    let ct = msg.header::<ContentType>().unwrap().unwrap();
    assert!(ct.is("multipart", "mixed"));
    assert_eq!(ct.boundary().as_deref(), Some("7a9cbec02ceef655"));
}

#[test]
fn unreason_and_noreason_phrases() {
    let msg = accept(&rfc4475("unreason"));
    checked(&msg).unwrap();
    assert_eq!(msg.status(), Some(200));
    let phrase = msg.reason_phrase().unwrap();
    assert!(phrase.starts_with("= 2**3 * 5**2 "));
    assert!(phrase.contains("сто"), "UTF-8 survives: {phrase}");

    let msg = accept(&rfc4475("noreason"));
    checked(&msg).unwrap();
    assert_eq!(msg.status(), Some(100));
    assert_eq!(msg.reason_phrase().unwrap(), "");
}

// ----- RFC 4475 §3.1.2: invalid messages ---------------------------------------------------

#[test]
fn invalid_messages_are_refused_with_the_rfc_status() {
    // (file, status a server answers with). Responses are dropped: any refusal will do, but
    // the parser's or checker's status is asserted to pin down *which* layer saw it.
    let table: &[(&str, u16)] = &[
        ("badinv01", 400),   // empty Via / Contact parameters
        ("clerr", 400),      // Content-Length past the datagram
        ("ncl", 400),        // negative Content-Length
        ("scalar02", 400),   // CSeq over 2^31
        ("scalarlg", 400),   // response CSeq over 2^32: dropped
        ("quotbal", 400),    // unterminated quoted display name
        ("ltgtruri", 400),   // <> around the Request-URI
        ("lwsruri", 400),    // LWS inside the Request-URI
        ("lwsstart", 400),   // two SPs between request-line elements
        ("trws", 400),       // SPs after the version
        ("escruri", 400),    // headers in the Request-URI
        ("regbadct", 400),   // addr-spec Contact with `?` outside <>
        ("badaspec", 400),   // spaces inside <>
        ("baddn", 400),      // unquoted display name with a comma
        ("badvers", 505),    // SIP/7.0
        ("mismatch01", 400), // CSeq method differs
        ("mismatch02", 400), // unknown method and CSeq mismatch (the server answers 501 first)
        ("bigcode", 400),    // status code over 699: dropped
        ("mcl01", 400),      // two different Content-Lengths
        ("test", 400),       // no SIP version, header line without colon
    ];
    for (name, status) in table {
        assert_eq!(refusal(&rfc4475(name)), *status, "{name}");
    }
}

#[test]
fn invalid_messages_fail_for_the_right_reason() {
    let parse_err = |name| Message::parse_datagram(&rfc4475(name), &Limits::default()).unwrap_err();
    assert_eq!(parse_err("clerr"), ParseError::Truncated);
    assert_eq!(parse_err("ncl"), ParseError::ContentLength);
    assert_eq!(parse_err("mcl01"), ParseError::ContentLength);
    assert_eq!(parse_err("badvers"), ParseError::Version);
    assert_eq!(parse_err("bigcode"), ParseError::StatusCode);
    assert_eq!(parse_err("ltgtruri"), ParseError::RequestUri);
    assert_eq!(parse_err("lwsruri"), ParseError::StartLine);
    assert_eq!(parse_err("lwsstart"), ParseError::StartLine);
    assert_eq!(parse_err("trws"), ParseError::StartLine);

    let check_err = |name| checked(&parse(&rfc4475(name))).unwrap_err();
    let invalid = |name| match check_err(name) {
        CheckError::Invalid(e) => e.name,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(invalid("badinv01"), HeaderName::Via);
    assert_eq!(invalid("scalar02"), HeaderName::CSeq);
    assert_eq!(invalid("scalarlg"), HeaderName::CSeq);
    assert_eq!(invalid("quotbal"), HeaderName::To);
    assert_eq!(invalid("regbadct"), HeaderName::Contact);
    assert_eq!(invalid("badaspec"), HeaderName::To);
    assert_eq!(invalid("baddn"), HeaderName::From);
    assert_eq!(check_err("escruri"), CheckError::UriHeaders);
    assert_eq!(check_err("mismatch01"), CheckError::CSeqMismatch);
    assert_eq!(check_err("mismatch02"), CheckError::CSeqMismatch);
    // The server sees an unknown method before the mismatch and answers 501.
    assert!(parse(&rfc4475("mismatch02"))
        .method()
        .unwrap()
        .is_extension());

    // scalarlg's Retry-After is out of range as well.
    let scalarlg = parse(&rfc4475("scalarlg"));
    assert_eq!(
        scalarlg.header::<RetryAfter>().unwrap().unwrap_err().source,
        callcomp_sip::headers::HeaderError::InvalidNumber("949302838503028349304023988".into())
    );

    // scalar02's other overlarge scalars are refused by their own types too.
    let scalar02 = parse(&rfc4475("scalar02"));
    assert!(scalar02.header::<MaxForwards>().unwrap().is_err());
    assert!(scalar02.header::<Expires>().unwrap().is_err());
}

#[test]
fn baddate_is_refused_by_the_date_type_only() {
    // The date matters to nobody here, so the message passes; the Date type refuses EST.
    let msg = accept(&rfc4475("baddate"));
    checked(&msg).unwrap();
    assert!(msg.header::<Date>().unwrap().is_err());
}

// ----- RFC 4475 §3.2 and §3.3: above the parser ---------------------------------------------

#[test]
fn badbranch_has_only_the_magic_cookie() {
    let msg = accept(&rfc4475("badbranch"));
    let e = checked(&msg).unwrap();
    // A bare cookie identifies no transaction: matching falls back to RFC 2543 rules.
    assert_eq!(e.via.branch(), Some("z9hG4bK"));
}

#[test]
fn insuf_missing_required_headers() {
    let msg = accept(&rfc4475("insuf"));
    let err = checked(&msg).unwrap_err();
    assert!(
        matches!(
            err,
            CheckError::Missing(HeaderName::From | HeaderName::To | HeaderName::CallId)
        ),
        "{err:?}"
    );
    assert_eq!(err.status(), 400);
}

#[test]
fn unknown_request_uri_schemes_get_416() {
    for (name, scheme) in [
        ("unkscm", "nobodyKnowsThisScheme"),
        ("novelsc", "soap.beep"),
    ] {
        let msg = accept(&rfc4475(name));
        match msg.uri().unwrap() {
            Uri::Other(other) => assert_eq!(other.scheme, scheme),
            uri => panic!("{name}: {uri:?}"),
        }
        let err = checked(&msg).unwrap_err();
        assert_eq!(err, CheckError::UnsupportedScheme);
        assert_eq!(err.status(), 416);
    }
}

#[test]
fn unksm2_unknown_schemes_in_headers() {
    // A proxy passes it on; only a registrar refuses (To must be a SIP AOR).
    let msg = accept(&rfc4475("unksm2"));
    let e = checked(&msg).unwrap();
    assert!(matches!(&e.to.uri, Uri::Other(o) if o.scheme == "isbn"));
    assert!(matches!(&e.from.uri, Uri::Other(o) if o.scheme == "http"));
    assert!(matches!(&contact_addr(&contacts(&msg)[0]).uri, Uri::Other(o) if o.scheme == "name"));
}

#[test]
fn bext01_unknown_option_tags() {
    let msg = accept(&rfc4475("bext01"));
    checked(&msg).unwrap();
    let require: Vec<String> = msg
        .header_all::<Require>()
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(
        require,
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    let proxy: Vec<String> = msg
        .header_all::<ProxyRequire>()
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(
        proxy,
        ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    );
}

#[test]
fn invut_unknown_content_type() {
    let msg = accept(&rfc4475("invut"));
    checked(&msg).unwrap();
    let ct = msg.header::<ContentType>().unwrap().unwrap();
    assert!(ct.is("application", "unknownformat"));
}

#[test]
fn regaut01_unknown_authorization_scheme() {
    use callcomp_sip::headers::auth::Authorization;
    let msg = accept(&rfc4475("regaut01"));
    checked(&msg).unwrap();
    let auth = msg.header::<Authorization>().unwrap().unwrap();
    assert_eq!(auth.0.scheme, "NoOneKnowsThisScheme");
}

#[test]
fn multi01_repeated_single_value_headers() {
    let msg = accept(&rfc4475("multi01"));
    let err = checked(&msg).unwrap_err();
    assert!(matches!(err, CheckError::Repeated(_)), "{err:?}");
    assert_eq!(err.status(), 400);
}

#[test]
fn bcast_broadcast_via_parses() {
    let msg = accept(&rfc4475("bcast"));
    checked(&msg).unwrap();
    let v = vias(&msg);
    assert_eq!(v[1].host, Host::Ipv4("255.255.255.255".parse().unwrap()));
}

#[test]
fn zeromf_max_forwards_zero() {
    let msg = accept(&rfc4475("zeromf"));
    assert_eq!(checked(&msg).unwrap().max_forwards, Some(0));
}

#[test]
fn contact_parameters_land_where_the_brackets_say() {
    // cparam01: no brackets, so `unknownparam` belongs to the Contact, not the URI.
    let msg = accept(&rfc4475("cparam01"));
    checked(&msg).unwrap();
    let c = contact_addr(&contacts(&msg)[0]).clone();
    assert!(c.params.contains("unknownparam"));
    assert!(sip(&c.uri).params.is_empty());
    assert_eq!(c.uri.to_string(), "sip:+19725552222@gw1.example.net");

    // cparam02: inside brackets, so it is a URI parameter.
    let msg = accept(&rfc4475("cparam02"));
    checked(&msg).unwrap();
    let c = contact_addr(&contacts(&msg)[0]).clone();
    assert!(!c.params.contains("unknownparam"));
    assert!(sip(&c.uri).params.contains("unknownparam"));
}

#[test]
fn regescrt_escaped_route_header_in_contact() {
    let msg = accept(&rfc4475("regescrt"));
    checked(&msg).unwrap();
    let c = contact_addr(&contacts(&msg)[0]).clone();
    let uri = sip(&c.uri);
    assert_eq!(uri.headers.len(), 1);
    assert_eq!(uri.headers[0].0, "Route");
    assert_eq!(
        c.uri.to_string(),
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    );
}

#[test]
fn sdp01_unacceptable_accept() {
    let msg = accept(&rfc4475("sdp01"));
    checked(&msg).unwrap();
    // The offer is SDP, which the caller says it cannot accept in the answer.
    assert_eq!(
        msg.get_str(&HeaderName::Accept).unwrap(),
        "text/nobodyKnowsThis"
    );
    let ct = msg.header::<ContentType>().unwrap().unwrap();
    assert!(ct.is("application", "sdp"));
    assert_eq!(msg.body().len(), 150);
}

// ----- RFC 4475 §3.4: backward compatibility -----------------------------------------------

#[test]
fn inv2543_rfc2543_syntax() {
    let bytes = rfc4475("inv2543");
    let msg = parse(&bytes);
    assert_eq!(msg.to_bytes(), bytes);
    let e = checked(&msg).unwrap();
    assert_eq!(e.via.branch(), None);
    assert_eq!(e.from.tag(), None);
    assert_eq!(e.max_forwards, None);
    assert!(!msg.contains(&HeaderName::ContentLength));
    assert!(
        msg.body().starts_with(b"v=0"),
        "the body is the rest of the datagram"
    );
    let rr = msg.header::<RecordRoute>().unwrap().unwrap();
    assert_eq!(sip(&rr.uri).params.value("maddr"), Some("ss1.example.com"));
    // A stream needs Content-Length.
    assert_eq!(
        Message::parse_stream(&bytes, &Limits::default()).unwrap_err(),
        ParseError::MissingContentLength
    );
}

// ----- RFC 5118: IPv6 ---------------------------------------------------------------------

fn v6(s: &str) -> Host {
    Host::Ipv6(s.parse().unwrap())
}

#[test]
fn ipv6_good() {
    let msg = accept(&rfc5118("ipv6-good"));
    let e = checked(&msg).unwrap();
    assert_eq!(sip(msg.uri().unwrap()).host, v6("2001:db8::10"));
    assert_eq!(e.via.host, v6("2001:db8::9:1"));
    let c = contact_addr(&contacts(&msg)[0]).clone();
    assert_eq!(c.display.as_deref(), Some("Caller"));
    assert_eq!(sip(&c.uri).host, v6("2001:db8::1"));
}

#[test]
fn ipv6_bad_is_refused() {
    let bytes = rfc5118("ipv6-bad");
    assert_eq!(refusal(&bytes), 400);
    assert_eq!(
        Message::parse_datagram(&bytes, &Limits::default()).unwrap_err(),
        ParseError::RequestUri
    );
}

#[test]
fn port_ambiguous_and_unambiguous() {
    let msg = accept(&rfc5118("port-ambiguous"));
    checked(&msg).unwrap();
    let uri = sip(msg.uri().unwrap());
    assert_eq!(uri.host, v6("2001:db8::10:5070"));
    assert_eq!(uri.port, None);

    let msg = accept(&rfc5118("port-unambiguous"));
    checked(&msg).unwrap();
    let uri = sip(msg.uri().unwrap());
    assert_eq!(uri.host, v6("2001:db8::10"));
    assert_eq!(uri.port, Some(5070));
}

#[test]
fn via_received_with_and_without_brackets() {
    for name in [
        "via-received-param-with-delim",
        "via-received-param-no-delim",
    ] {
        let msg = accept(&rfc5118(name));
        let e = checked(&msg).unwrap();
        let received = e.via.received().unwrap();
        assert_eq!(
            received,
            "2001:db8::9:255".parse::<std::net::IpAddr>().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn ipv6_in_sdp_and_multiple_addresses() {
    for name in ["ipv6-in-sdp", "mult-ip-in-sdp"] {
        let msg = accept(&rfc5118(name));
        checked(&msg).unwrap();
        assert!(
            String::from_utf8_lossy(msg.body()).contains("2001:db8"),
            "{name}"
        );
    }
    let msg = accept(&rfc5118("mult-ip-in-header"));
    checked(&msg).unwrap();
    let hosts: Vec<(Host, Option<u16>)> =
        vias(&msg).into_iter().map(|v| (v.host, v.port)).collect();
    assert!(hosts.iter().any(|(h, _)| matches!(h, Host::Ipv4(_))));
    assert!(hosts
        .iter()
        .any(|(h, p)| matches!(h, Host::Ipv6(_)) && p.is_some()));
}

#[test]
fn ipv4_mapped_ipv6() {
    let msg = accept(&rfc5118("ipv4-mapped-ipv6"));
    let e = checked(&msg).unwrap();
    assert_eq!(e.via.host, v6("::ffff:192.0.2.10"));
    assert_eq!(e.via.port, Some(19823));
    // Its Content-Length matches the LF body as archived, so the LF form parses as is too.
    let lf = read("rfc5118/ipv4-mapped-ipv6");
    assert_eq!(parse(&lf).to_bytes(), lf);
}

#[test]
fn ipv6_abnf_bug_two_and_three_colons() {
    // RFC 5118 §4.10: the RFC 3261 ABNF lets `:::` through; it must be tolerated, and the
    // extra colon may be dropped. Both forms name the same address.
    for name in ["ipv6-correct-abnf-2-colons", "ipv6-bug-abnf-3-colons"] {
        let msg = accept(&rfc5118(name));
        let e = checked(&msg).unwrap();
        assert_eq!(
            sip(msg.uri().unwrap()).host,
            v6("2001:db8::192.0.2.1"),
            "{name}"
        );
        assert_eq!(sip(&e.to.uri).host, v6("2001:db8::192.0.2.1"), "{name}");
    }
}

#[test]
fn every_corpus_file_is_covered_without_panics() {
    // Every file through both framings and the checks: nothing may panic, and every
    // parsed message writes back to a prefix of its input.
    for dir in ["rfc4475", "rfc5118"] {
        for entry in std::fs::read_dir(corpus_dir().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            if let Ok(msg) = Message::parse_datagram(&bytes, &Limits::default()) {
                assert!(bytes.starts_with(&msg.to_bytes()), "{}", path.display());
                let _ = checked(&msg);
            }
            let _ = Message::parse_stream(&bytes, &Limits::default());
        }
    }
}
