//! The scalar headers: `Max-Forwards` (RFC 3261 §20.22), `Content-Length` (§20.14),
//! `Expires` (§20.19), `Min-Expires` (§20.23) and `Retry-After` (§20.33).
//!
//! Each is `1*DIGIT` (leading zeros allowed) with a range. A value outside the range is an
//! error, never clamped: RFC 4475 §3.1.2.4 and §3.1.2.5 (`scalar02`, `scalarlg`) treat
//! overlarge values as malformed input, and only the caller knows the right reaction. For an
//! `Expires` over 2^32-1, RFC 4475 §3.1.2.4 lets a registrar either answer 400 or use its
//! default expiry (3600 s); a caller that prefers the default treats the [`HeaderError`]
//! returned here as an absent header. Clamping to 2^32-1 would instead grant a lifetime of
//! 136 years that nobody asked for.

use crate::header_name::HeaderName;
use crate::headers::{parse_number, Header, HeaderError};
use crate::params::Params;
use crate::text;
use std::fmt::Write as _;

/// `Max-Forwards`: how many more hops a request may take, 0 to 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MaxForwards(pub u8);

/// `Content-Length`: the size of the body in octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentLength(pub u64);

/// `Expires`: a lifetime in seconds, 0 to 2^32-1. Larger values are an error (see the
/// module documentation for why they are not clamped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Expires(pub u32);

/// `Min-Expires`: the shortest lifetime a registrar or notifier accepts, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MinExpires(pub u32);

/// `Retry-After`: when to try again, with an optional comment and parameters
/// (`duration` says how long the callee will be reachable once it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    /// Seconds to wait before retrying.
    pub seconds: u32,
    /// The comment, unescaped, without its outer parentheses (`I'm in a meeting`).
    pub comment: Option<String>,
    /// The parameters in order, `duration` included.
    pub params: Params,
}

impl Header for MaxForwards {
    const NAME: HeaderName = HeaderName::MaxForwards;

    fn parse(value: &str) -> Result<MaxForwards, HeaderError> {
        let n = parse_scalar(value, u64::from(u8::MAX))?;
        u8::try_from(n)
            .map(MaxForwards)
            .map_err(|_| HeaderError::InvalidNumber(n.to_string()))
    }

    fn write(&self, out: &mut String) {
        let _ = write!(out, "{}", self.0);
    }
}

impl Header for ContentLength {
    const NAME: HeaderName = HeaderName::ContentLength;

    fn parse(value: &str) -> Result<ContentLength, HeaderError> {
        parse_scalar(value, u64::MAX).map(ContentLength)
    }

    fn write(&self, out: &mut String) {
        let _ = write!(out, "{}", self.0);
    }
}

impl Header for Expires {
    const NAME: HeaderName = HeaderName::Expires;

    /// Refuses a value over 2^32-1 with [`HeaderError::InvalidNumber`].
    fn parse(value: &str) -> Result<Expires, HeaderError> {
        parse_u32(value).map(Expires)
    }

    fn write(&self, out: &mut String) {
        let _ = write!(out, "{}", self.0);
    }
}

impl Header for MinExpires {
    const NAME: HeaderName = HeaderName::MinExpires;

    fn parse(value: &str) -> Result<MinExpires, HeaderError> {
        parse_u32(value).map(MinExpires)
    }

    fn write(&self, out: &mut String) {
        let _ = write!(out, "{}", self.0);
    }
}

impl RetryAfter {
    /// A `Retry-After` with only a number of seconds.
    pub fn new(seconds: u32) -> RetryAfter {
        RetryAfter {
            seconds,
            comment: None,
            params: Params::new(),
        }
    }

    /// The `duration` parameter in seconds, when present and valid.
    pub fn duration(&self) -> Option<u32> {
        self.params
            .value("duration")
            .and_then(|v| parse_u32(v).ok())
    }
}

impl Header for RetryAfter {
    const NAME: HeaderName = HeaderName::RetryAfter;

    /// Parses `delta-seconds [ comment ] *( ";" retry-param )`. A `duration` that is not
    /// a number up to 2^32-1 is an error, as is an unbalanced comment.
    fn parse(value: &str) -> Result<RetryAfter, HeaderError> {
        let value = text::trim_wsp(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let digits = value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len());
        let seconds = parse_u32(&value[..digits])?;
        let mut rest = text::trim_wsp(&value[digits..]);
        let mut comment = None;
        if rest.starts_with('(') {
            let (c, after) = read_comment(rest)?;
            comment = Some(c);
            rest = text::trim_wsp(after);
        }
        if !rest.is_empty() && !rest.starts_with(';') {
            return Err(HeaderError::Syntax(
                "Retry-After: unexpected text after the seconds",
            ));
        }
        let params = Params::parse_header_params(rest)?;
        if let Some(p) = params.get("duration") {
            parse_u32(p.value.as_deref().unwrap_or(""))?;
        }
        Ok(RetryAfter {
            seconds,
            comment,
            params,
        })
    }

    /// Writes the comment with `(`, `)` and `\` escaped, so any text reads back unchanged.
    fn write(&self, out: &mut String) {
        let _ = write!(out, "{}", self.seconds);
        if let Some(comment) = &self.comment {
            out.push_str(" (");
            for c in comment.chars() {
                if matches!(c, '(' | ')' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push(')');
        }
        let _ = write!(out, "{}", self.params);
    }
}

fn parse_scalar(value: &str, max: u64) -> Result<u64, HeaderError> {
    if text::trim_wsp(value).is_empty() {
        return Err(HeaderError::Empty);
    }
    parse_number(value, max)
}

fn parse_u32(value: &str) -> Result<u32, HeaderError> {
    let n = parse_scalar(value, u64::from(u32::MAX))?;
    u32::try_from(n).map_err(|_| HeaderError::InvalidNumber(n.to_string()))
}

/// Reads a `comment` (RFC 3261 §25.1: nested parentheses, backslash escapes) at the start
/// of `s`; returns its text without the outer parentheses, escapes resolved, and the rest.
fn read_comment(s: &str) -> Result<(String, &str), HeaderError> {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped)) => out.push(escaped),
                None => break,
            },
            '(' => {
                if depth > 0 {
                    out.push(c);
                }
                depth += 1;
            }
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok((text::trim_wsp(&out).to_string(), &s[i + 1..]));
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    Err(HeaderError::Syntax("Retry-After: unterminated comment"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bad(n: &str) -> HeaderError {
        HeaderError::InvalidNumber(n.to_string())
    }

    #[test]
    fn max_forwards_table() {
        let rows: [(&str, Result<MaxForwards, HeaderError>); 8] = [
            ("70", Ok(MaxForwards(70))),
            ("0", Ok(MaxForwards(0))),
            ("255", Ok(MaxForwards(255))),
            // RFC 4475 §3.1.1.1 (wsinv.dat): leading zeros.
            (" 0068 ", Ok(MaxForwards(68))),
            // RFC 4475 §3.1.2.4 (scalar02.dat).
            ("300", Err(bad("300"))),
            ("256", Err(bad("256"))),
            ("-1", Err(bad("-1"))),
            ("", Err(HeaderError::Empty)),
        ];
        for (input, expected) in rows {
            assert_eq!(MaxForwards::parse(input), expected, "{input:?}");
        }
    }

    #[test]
    fn content_length_table() {
        let rows: [(&str, Result<ContentLength, HeaderError>); 6] = [
            ("0", Ok(ContentLength(0))),
            ("150", Ok(ContentLength(150))),
            ("18446744073709551615", Ok(ContentLength(u64::MAX))),
            // RFC 4475 §3.1.2.3 (ncl.dat).
            ("-999", Err(bad("-999"))),
            ("18446744073709551616", Err(bad("18446744073709551616"))),
            ("1 2", Err(bad("1 2"))),
        ];
        for (input, expected) in rows {
            assert_eq!(ContentLength::parse(input), expected, "{input:?}");
        }
    }

    #[test]
    fn expires_table() {
        let huge = format!("1{}", "0".repeat(100));
        let rows: [(&str, Result<Expires, HeaderError>); 7] = [
            ("3600", Ok(Expires(3600))),
            ("0", Ok(Expires(0))),
            ("4294967295", Ok(Expires(u32::MAX))),
            // Over 2^32-1 is refused, not clamped (RFC 3261 §20.19, RFC 4475 §3.1.2.4).
            ("4294967296", Err(bad("4294967296"))),
            (&huge, Err(bad(&huge))),
            (
                "Thu, 01 Dec 1994 16:00:00 GMT",
                Err(bad("Thu, 01 Dec 1994 16:00:00 GMT")),
            ),
            ("1.5", Err(bad("1.5"))),
        ];
        for (input, expected) in rows {
            assert_eq!(Expires::parse(input), expected, "{input:?}");
        }
        assert_eq!(MinExpires::parse("60"), Ok(MinExpires(60)));
        assert_eq!(MinExpires::parse("4294967296"), Err(bad("4294967296")));
    }

    #[test]
    fn retry_after_table() {
        let r = RetryAfter::parse("18000;duration=3600").unwrap();
        assert_eq!(
            (r.seconds, r.comment.as_deref(), r.duration()),
            (18000, None, Some(3600))
        );

        let r = RetryAfter::parse("120 (I'm in a meeting)").unwrap();
        assert_eq!(r.comment.as_deref(), Some("I'm in a meeting"));
        assert_eq!(r.duration(), None);

        let r = RetryAfter::parse("5(busy (really) \\) now) ; duration=10;x").unwrap();
        assert_eq!(r.seconds, 5);
        assert_eq!(r.comment.as_deref(), Some("busy (really) ) now"));
        assert_eq!(r.duration(), Some(10));
        assert!(r.params.contains("x"));
        assert_eq!(r.to_value(), "5 (busy \\(really\\) \\) now);duration=10;x");
        assert_eq!(RetryAfter::parse(&r.to_value()), Ok(r));

        let bad_rows = [
            // RFC 4475 §3.1.2.5 (scalarlg.dat).
            (
                "949302838503028349304023988",
                bad("949302838503028349304023988"),
            ),
            ("", HeaderError::Empty),
            ("(no seconds)", HeaderError::Empty),
            (
                "10 (open",
                HeaderError::Syntax("Retry-After: unterminated comment"),
            ),
            (
                "10 junk",
                HeaderError::Syntax("Retry-After: unexpected text after the seconds"),
            ),
            ("10;duration=x", bad("x")),
            ("10;duration", HeaderError::Empty),
        ];
        for (input, err) in bad_rows {
            assert_eq!(RetryAfter::parse(input), Err(err), "{input:?}");
        }
    }

    proptest! {
        #[test]
        fn scalars_round_trip(a: u8, b: u64, c: u32, zeros in 0usize..4) {
            prop_assert_eq!(MaxForwards::parse(&MaxForwards(a).to_value()), Ok(MaxForwards(a)));
            prop_assert_eq!(ContentLength::parse(&ContentLength(b).to_value()), Ok(ContentLength(b)));
            prop_assert_eq!(Expires::parse(&format!("{}{c}", "0".repeat(zeros))), Ok(Expires(c)));
            prop_assert_eq!(MinExpires::parse(&MinExpires(c).to_value()), Ok(MinExpires(c)));
        }

        #[test]
        fn expires_over_range_is_refused(n in (u64::from(u32::MAX) + 1)..=u64::MAX) {
            prop_assert_eq!(Expires::parse(&n.to_string()), Err(bad(&n.to_string())));
        }

        #[test]
        fn retry_after_round_trip(seconds: u32, comment in proptest::option::of("[ -~]{0,20}"), duration: Option<u32>) {
            let mut r = RetryAfter::new(seconds);
            r.comment = comment.map(|c| c.trim_matches([' ', '\t']).to_string());
            if let Some(d) = duration {
                r.params.push("duration", Some(d.to_string()));
            }
            prop_assert_eq!(RetryAfter::parse(&r.to_value()), Ok(r));
        }

        #[test]
        fn never_panics(input in "\\PC{0,40}") {
            let _ = RetryAfter::parse(&input);
            let _ = MaxForwards::parse(&input);
        }
    }
}
