//! `CSeq` (RFC 3261 §20.16): the sequence number and method that order requests within a
//! dialog and tie responses to their request.
//!
//! The grammar is `1*DIGIT LWS Method`. The number must fit 32 bits (RFC 3261 §20.16); a
//! larger one is refused here, so callers never do arithmetic on an overlarge value (RFC 4475
//! §3.1.2.4 expects 400 for the `scalar02` CSeq). The lower bound of §8.1.1.5 (below 2^31)
//! binds only the first request a UA sends, which later requests may count up from, so a
//! receiver accepts the whole 32-bit range.

use crate::header_name::HeaderName;
use crate::headers::{parse_number, Header, HeaderError};
use crate::method::Method;
use crate::text;
use std::fmt::Write as _;

/// Largest sequence number a CSeq can carry (RFC 3261 §20.16: 32 bits unsigned).
pub const MAX_SEQ: u32 = u32::MAX;

/// Largest number a UA may start a dialog's sequence with (RFC 3261 §8.1.1.5: below 2^31).
pub const MAX_INITIAL_SEQ: u32 = (1 << 31) - 1;

/// A `CSeq` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// The sequence number, at most [`MAX_SEQ`].
    pub seq: u32,
    /// The method of the request.
    pub method: Method,
}

impl CSeq {
    /// A CSeq from its parts.
    pub fn new(seq: u32, method: Method) -> CSeq {
        CSeq { seq, method }
    }
}

impl Header for CSeq {
    const NAME: HeaderName = HeaderName::CSeq;

    fn parse(value: &str) -> Result<CSeq, HeaderError> {
        let value = text::trim_wsp(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let Some(gap) = value.find([' ', '\t']) else {
            return Err(HeaderError::Syntax(
                "CSeq needs a number, white space and a method",
            ));
        };
        let seq = parse_number(&value[..gap], u64::from(MAX_SEQ))?;
        let method = Method::parse(text::trim_wsp(&value[gap..]).as_bytes())
            .ok_or(HeaderError::Syntax("CSeq method is not a token"))?;
        let seq = u32::try_from(seq).map_err(|_| HeaderError::InvalidNumber(seq.to_string()))?;
        Ok(CSeq { seq, method })
    }

    fn write(&self, out: &mut String) {
        let _ = write!(out, "{}", self.seq);
        out.push(' ');
        out.push_str(self.method.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn good_values() {
        let rows = [
            ("314159 INVITE", 314159, Method::Invite),
            ("1 REGISTER", 1, Method::Register),
            // RFC 4475 §3.1.1.1 (wsinv.dat) after unfolding: leading zeros, extra LWS.
            ("0009  INVITE", 9, Method::Invite),
            ("0\tACK", 0, Method::Ack),
            ("4294967295 BYE", MAX_SEQ, Method::Bye),
            (
                "139122385 !interesting-Method0123456789_*+`.%indeed'~",
                139122385,
                Method::Extension("!interesting-Method0123456789_*+`.%indeed'~".into()),
            ),
        ];
        for (input, seq, method) in rows {
            assert_eq!(CSeq::parse(input), Ok(CSeq::new(seq, method)), "{input:?}");
        }
        assert_eq!(CSeq::new(7, Method::Subscribe).to_value(), "7 SUBSCRIBE");
    }

    #[test]
    fn bad_values() {
        let rows = [
            ("", HeaderError::Empty),
            (
                "INVITE",
                HeaderError::Syntax("CSeq needs a number, white space and a method"),
            ),
            (
                "12",
                HeaderError::Syntax("CSeq needs a number, white space and a method"),
            ),
            (
                "4294967296 INVITE",
                HeaderError::InvalidNumber("4294967296".into()),
            ),
            // RFC 4475 §3.1.2.4 (scalar02.dat).
            (
                "36893488147419103232 REGISTER",
                HeaderError::InvalidNumber("36893488147419103232".into()),
            ),
            ("-1 INVITE", HeaderError::InvalidNumber("-1".into())),
            ("1x INVITE", HeaderError::InvalidNumber("1x".into())),
            (
                "1 IN VITE",
                HeaderError::Syntax("CSeq method is not a token"),
            ),
            (
                "1 INVITE;x",
                HeaderError::Syntax("CSeq method is not a token"),
            ),
        ];
        for (input, err) in rows {
            assert_eq!(CSeq::parse(input), Err(err), "{input:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(seq in 0..=MAX_SEQ, method in "[A-Za-z0-9.!%*_+`'~-]{1,12}") {
            let cseq = CSeq::new(seq, Method::parse(method.as_bytes()).unwrap());
            prop_assert_eq!(CSeq::parse(&cseq.to_value()), Ok(cseq));
        }

        #[test]
        fn never_panics(input in "\\PC{0,40}") {
            let _ = CSeq::parse(&input);
        }
    }
}
