//! Every typed header against arbitrary text: hostile input never panics, and whatever a
//! type accepts writes back to a value that parses to the same text (so a B2BUA that
//! rewrites a header it understood never produces one it would refuse).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use callcomp_sip::headers::auth::{
    Authorization, ProxyAuthenticate, ProxyAuthorization, WwwAuthenticate,
};
use callcomp_sip::headers::call_id::CallId;
use callcomp_sip::headers::call_info::CallInfo;
use callcomp_sip::headers::contact::Contact;
use callcomp_sip::headers::content_type::ContentType;
use callcomp_sip::headers::cseq::CSeq;
use callcomp_sip::headers::date::Date;
use callcomp_sip::headers::etag::{SipETag, SipIfMatch};
use callcomp_sip::headers::event::{AllowEvents, Event};
use callcomp_sip::headers::from_to::{From, To};
use callcomp_sip::headers::numbers::{ContentLength, Expires, MaxForwards, MinExpires, RetryAfter};
use callcomp_sip::headers::reason::Reason;
use callcomp_sip::headers::route::{Path, RecordRoute, Route};
use callcomp_sip::headers::subscription_state::SubscriptionState;
use callcomp_sip::headers::tokens::{Allow, ProxyRequire, Require, Supported, Unsupported};
use callcomp_sip::headers::via::Via;
use callcomp_sip::headers::Header;
use proptest::prelude::*;

/// Parses `input` as `H`; when it is accepted, what `write` produces must read back to the
/// same written form.
fn check<H: Header>(input: &str) -> Result<(), TestCaseError> {
    if let Ok(h) = H::parse(input) {
        let written = h.to_value();
        let again = H::parse(&written);
        prop_assert!(again.is_ok(), "{written:?} (from {input:?}) does not parse");
        prop_assert_eq!(again.unwrap().to_value(), written);
    }
    Ok(())
}

fn check_all(input: &str) -> Result<(), TestCaseError> {
    check::<Via>(input)?;
    check::<From>(input)?;
    check::<To>(input)?;
    check::<Contact>(input)?;
    check::<Route>(input)?;
    check::<RecordRoute>(input)?;
    check::<Path>(input)?;
    check::<CallInfo>(input)?;
    check::<CallId>(input)?;
    check::<CSeq>(input)?;
    check::<MaxForwards>(input)?;
    check::<ContentLength>(input)?;
    check::<Expires>(input)?;
    check::<MinExpires>(input)?;
    check::<RetryAfter>(input)?;
    check::<ContentType>(input)?;
    check::<Event>(input)?;
    check::<AllowEvents>(input)?;
    check::<SubscriptionState>(input)?;
    check::<Allow>(input)?;
    check::<Supported>(input)?;
    check::<Require>(input)?;
    check::<ProxyRequire>(input)?;
    check::<Unsupported>(input)?;
    check::<SipETag>(input)?;
    check::<SipIfMatch>(input)?;
    check::<Reason>(input)?;
    check::<Date>(input)?;
    check::<WwwAuthenticate>(input)?;
    check::<ProxyAuthenticate>(input)?;
    check::<Authorization>(input)?;
    check::<ProxyAuthorization>(input)?;
    Ok(())
}

proptest! {
    #[test]
    fn any_input_is_refused_or_round_trips(
        input in prop_oneof![
            "\\PC{0,48}",
            "[a-zA-Z0-9 ;=.,:/()\"@+<>\\[\\]%-]{0,48}",
            // Shapes close to real values, so that acceptance is common.
            "(\"[a-z ]{0,6}\" )?<sips?:[a-z]{1,5}@[a-z0-9.]{1,8}(:[0-9]{1,5})?>(;[a-z]{1,4}(=[a-z0-9]{0,4})?){0,3}",
            "SIP/2\\.0/(UDP|TCP|TLS) [a-z0-9.]{1,10}(:[0-9]{1,5})?(;(branch|rport|received|ttl)(=[a-zA-Z0-9.]{0,8})?){0,3}",
            "Digest( [a-z]{1,6}=(\"[a-z ,]{0,6}\"|[a-z0-9]{1,6}),?){0,4}",
        ]
    ) {
        check_all(&input)?;
    }
}
