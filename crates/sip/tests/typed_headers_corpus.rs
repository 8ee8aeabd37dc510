//! The typed scalar and token headers against the RFC 4475 torture messages: what the RFC
//! calls well formed reads back as the values it shows, what it calls overlarge or
//! malformed is refused with an error naming the header.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use callcomp_sip::header_name::HeaderName;
use callcomp_sip::headers::call_id::CallId;
use callcomp_sip::headers::content_type::ContentType;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::date::Date;
use callcomp_sip::headers::etag::{SipETag, SipIfMatch};
use callcomp_sip::headers::event::{AllowEvents, Event};
use callcomp_sip::headers::numbers::{ContentLength, Expires, MaxForwards, MinExpires, RetryAfter};
use callcomp_sip::headers::reason::Reason;
use callcomp_sip::headers::subscription_state::SubscriptionState;
use callcomp_sip::headers::tokens::{Allow, ProxyRequire, Require, Supported, Unsupported};
use callcomp_sip::headers::{Header, HeaderError};
use callcomp_sip::message::{InvalidHeader, Message};
use callcomp_sip::method::Method;
use callcomp_sip::parse::Limits;
use proptest::prelude::*;

fn load(name: &str) -> Message {
    let path = format!("{}/tests/corpus/rfc4475/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap();
    Message::parse_datagram(&bytes, &Limits::default()).unwrap()
}

fn get<H: Header>(m: &Message) -> Result<H, InvalidHeader> {
    m.header::<H>().expect("header present")
}

fn refused<H: Header + std::fmt::Debug>(m: &Message) -> HeaderError {
    let err = get::<H>(m).unwrap_err();
    assert_eq!(err.name, H::NAME);
    err.source
}

#[test]
fn wsinv_folded_and_padded_scalars() {
    // RFC 4475 §3.1.1.1: `cseq: 0009\r\n  INVITE`, `MaX-fOrWaRdS: 0068`.
    let m = load("wsinv.dat");
    assert_eq!(get::<CSeq>(&m), Ok(CSeq::new(9, Method::Invite)));
    assert_eq!(get::<MaxForwards>(&m), Ok(MaxForwards(68)));
    assert_eq!(get::<ContentLength>(&m), Ok(ContentLength(150)));
    assert!(get::<ContentType>(&m).unwrap().is("application", "sdp"));
    assert_eq!(get::<CallId>(&m).unwrap().0, "wsinv.ndaksdj@192.0.2.1");
}

#[test]
fn intmeth_unusual_characters() {
    // RFC 4475 §3.1.1.2: extension method in CSeq, every word character in Call-ID.
    let m = load("intmeth.dat");
    let cseq = get::<CSeq>(&m).unwrap();
    assert_eq!(cseq.seq, 139_122_385);
    assert_eq!(Some(&cseq.method), m.method());
    assert_eq!(
        get::<CallId>(&m).unwrap().0,
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
    assert_eq!(get::<MaxForwards>(&m), Ok(MaxForwards(255)));
}

#[test]
fn scalar02_overlarge_request_values() {
    // RFC 4475 §3.1.2.4: CSeq, Max-Forwards and Expires are all out of range.
    let m = load("scalar02.dat");
    assert!(matches!(refused::<CSeq>(&m), HeaderError::InvalidNumber(_)));
    assert_eq!(
        refused::<MaxForwards>(&m),
        HeaderError::InvalidNumber("300".into())
    );
    assert!(matches!(
        refused::<Expires>(&m),
        HeaderError::InvalidNumber(_)
    ));
}

#[test]
fn scalarlg_overlarge_response_values() {
    // RFC 4475 §3.1.2.5: CSeq and Retry-After are out of range.
    let m = load("scalarlg.dat");
    assert!(matches!(refused::<CSeq>(&m), HeaderError::InvalidNumber(_)));
    assert_eq!(
        refused::<RetryAfter>(&m),
        HeaderError::InvalidNumber("949302838503028349304023988".into())
    );
}

#[test]
fn baddate_est_zone() {
    // RFC 4475 §3.1.2.12: only GMT is legal.
    let m = load("baddate.dat");
    assert!(matches!(refused::<Date>(&m), HeaderError::Syntax(_)));
    assert_eq!(get::<CSeq>(&m), Ok(CSeq::new(1_392_934, Method::Invite)));
}

#[test]
fn bext01_unknown_extensions_are_listed() {
    // RFC 4475 §3.3.8: the 420 must list these in Unsupported.
    let m = load("bext01.dat");
    let require: Vec<String> = m
        .header_all::<Require>()
        .unwrap()
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(
        require,
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    let proxy: Vec<String> = m
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
fn mpart01_multipart_boundary() {
    // RFC 4475 §3.1.1.11.
    let m = load("mpart01.dat");
    let ct = get::<ContentType>(&m).unwrap();
    assert!(ct.is("multipart", "mixed"));
    assert_eq!(ct.boundary().as_deref(), Some("7a9cbec02ceef655"));
}

#[test]
fn zeromf_max_forwards_zero() {
    // RFC 4475 §3.3.11.
    let m = load("zeromf.dat");
    assert_eq!(get::<MaxForwards>(&m), Ok(MaxForwards(0)));
    assert!(m.contains(&HeaderName::MaxForwards));
}

/// Parses `input` as `H`; when it is accepted, what `write` produces must read back the same.
fn check<H: Header + PartialEq + std::fmt::Debug>(input: &str) -> Result<(), TestCaseError> {
    if let Ok(h) = H::parse(input) {
        prop_assert_eq!(H::parse(&h.to_value()), Ok(h));
    }
    Ok(())
}

proptest! {
    /// Hostile input never panics, and whatever is accepted survives a write/parse cycle.
    #[test]
    fn any_input_is_refused_or_round_trips(
        input in prop_oneof![
            "\\PC{0,48}",
            "[a-zA-Z0-9 ;=.,:/()\"@+-]{0,48}",
        ]
    ) {
        check::<CallId>(&input)?;
        check::<CSeq>(&input)?;
        check::<MaxForwards>(&input)?;
        check::<ContentLength>(&input)?;
        check::<Expires>(&input)?;
        check::<MinExpires>(&input)?;
        check::<RetryAfter>(&input)?;
        check::<ContentType>(&input)?;
        check::<Event>(&input)?;
        check::<AllowEvents>(&input)?;
        check::<SubscriptionState>(&input)?;
        check::<Allow>(&input)?;
        check::<Supported>(&input)?;
        check::<Require>(&input)?;
        check::<ProxyRequire>(&input)?;
        check::<Unsupported>(&input)?;
        check::<SipETag>(&input)?;
        check::<SipIfMatch>(&input)?;
        check::<Reason>(&input)?;
        check::<Date>(&input)?;
    }
}
