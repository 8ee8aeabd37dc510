//! The Contact header (RFC 3261 §20.10): where to reach a user agent, with the
//! registration parameters `expires` and `q`.
//!
//! `expires` values above 2^32-1 are read as 2^32-1 (`u32::MAX`): RFC 3261 §20.19 bounds
//! delta-seconds to that range and a larger value still means "as long as possible".

use super::{Header, HeaderError};
use crate::header_name::HeaderName;
use crate::name_addr::NameAddr;
use crate::text;

/// One Contact value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    /// `*`: all bindings (a REGISTER with `Expires: 0`).
    Star,
    /// An address.
    Addr(NameAddr),
}

impl Contact {
    /// The address, unless this is `*`.
    pub fn addr(&self) -> Option<&NameAddr> {
        match self {
            Contact::Star => None,
            Contact::Addr(a) => Some(a),
        }
    }

    /// The `expires` parameter in seconds, saturating at `u32::MAX`.
    pub fn expires(&self) -> Option<u32> {
        let v = self.addr()?.params.value("expires")?;
        parse_expires(v).ok()
    }

    /// The `q` parameter in thousandths (`q=0.7` gives 700), from 0 to 1000.
    pub fn q(&self) -> Option<u16> {
        let v = self.addr()?.params.value("q")?;
        parse_q(v).ok()
    }
}

impl From<NameAddr> for Contact {
    fn from(addr: NameAddr) -> Contact {
        Contact::Addr(addr)
    }
}

impl Header for Contact {
    const NAME: HeaderName = HeaderName::Contact;
    const LIST: bool = true;

    fn parse(value: &str) -> Result<Contact, HeaderError> {
        if text::trim_wsp(value) == "*" {
            return Ok(Contact::Star);
        }
        let addr = NameAddr::parse(value)?;
        if let Some(p) = addr.params.get("expires") {
            let v = p
                .value
                .as_deref()
                .ok_or(HeaderError::Syntax("expires needs a value"))?;
            parse_expires(v)?;
        }
        if let Some(p) = addr.params.get("q") {
            let v = p
                .value
                .as_deref()
                .ok_or(HeaderError::Syntax("q needs a value"))?;
            parse_q(v)?;
        }
        Ok(Contact::Addr(addr))
    }

    fn write(&self, out: &mut String) {
        match self {
            Contact::Star => out.push('*'),
            Contact::Addr(a) => a.write(out),
        }
    }
}

/// `delta-seconds = 1*DIGIT`, saturating at `u32::MAX`.
fn parse_expires(v: &str) -> Result<u32, HeaderError> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::InvalidNumber(v.to_string()));
    }
    let digits = v.trim_start_matches('0');
    Ok(if digits.len() > 10 {
        u32::MAX
    } else {
        digits
            .parse::<u64>()
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
    })
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_q(v: &str) -> Result<u16, HeaderError> {
    let bad = || HeaderError::InvalidNumber(v.to_string());
    let (whole, frac) = match v.split_once('.') {
        Some((w, f)) => (w, f),
        None => (v, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        let scale = [100, 10, 1][i];
        thousandths += u16::from(b - b'0') * scale;
    }
    match whole {
        "0" => Ok(thousandths),
        "1" if thousandths == 0 => Ok(1000),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_values() {
        // (value, expires, q, written form)
        let cases: &[(&str, Option<u32>, Option<u16>, &str)] = &[
            ("*", None, None, "*"),
            ("  * ", None, None, "*"),
            (
                "<sip:alice@pc33.atlanta.com>;expires=3600;q=0.7",
                Some(3600),
                Some(700),
                "<sip:alice@pc33.atlanta.com>;expires=3600;q=0.7",
            ),
            (
                "sip:a@b;q=1.000;expires=0",
                Some(0),
                Some(1000),
                "<sip:a@b>;q=1.000;expires=0",
            ),
            ("sip:a@b;q=0", None, Some(0), "<sip:a@b>;q=0"),
            ("sip:a@b;q=0.", None, Some(0), "<sip:a@b>;q=0."),
            ("sip:a@b;q=0.125", None, Some(125), "<sip:a@b>;q=0.125"),
            ("sip:a@b;q=1", None, Some(1000), "<sip:a@b>;q=1"),
            (
                "sip:a@b;expires=99999999999999999999",
                Some(u32::MAX),
                None,
                "<sip:a@b>;expires=99999999999999999999",
            ),
            (
                "sip:a@b;expires=4294967296",
                Some(u32::MAX),
                None,
                "<sip:a@b>;expires=4294967296",
            ),
            (
                "sip:a@b;expires=0004294967295",
                Some(u32::MAX),
                None,
                "<sip:a@b>;expires=0004294967295",
            ),
            // RFC 4475 §3.1.1.9 cparam01 and §3.1.1.11 / §3.1.2.x unknown scheme.
            (
                "sip:+19725552222@gw1.example.net;unknownparam",
                None,
                None,
                "<sip:+19725552222@gw1.example.net>;unknownparam",
            ),
            ("<name:John_Smith>", None, None, "<name:John_Smith>"),
            (
                r#""Caller" <sip:caller@[2001:db8::1]>"#,
                None,
                None,
                r#""Caller" <sip:caller@[2001:db8::1]>"#,
            ),
        ];
        for (value, expires, q, written) in cases {
            let c = Contact::parse(value).unwrap();
            assert_eq!(c.expires(), *expires, "{value}");
            assert_eq!(c.q(), *q, "{value}");
            assert_eq!(c.to_value(), *written, "{value}");
            assert_eq!(Contact::parse(written), Ok(c), "{value}");
        }
        const { assert!(Contact::LIST) };
    }

    #[test]
    fn bad_values() {
        let num = |s: &str| HeaderError::InvalidNumber(s.into());
        let cases: Vec<(&str, HeaderError)> = vec![
            ("", HeaderError::Empty),
            ("sip:a@b;expires=-1", num("-1")),
            ("sip:a@b;expires=1h", num("1h")),
            (
                "sip:a@b;expires",
                HeaderError::Syntax("expires needs a value"),
            ),
            ("sip:a@b;q=1.5", num("1.5")),
            ("sip:a@b;q=1.001", num("1.001")),
            ("sip:a@b;q=0.1234", num("0.1234")),
            ("sip:a@b;q=.5", num(".5")),
            ("sip:a@b;q=2", num("2")),
            ("sip:a@b;q=0.x", num("0.x")),
            ("sip:a@b;q", HeaderError::Syntax("q needs a value")),
            // RFC 4475 §3.3.4 regescrt-like value without brackets.
            (
                "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
                HeaderError::Syntax("a URI with '?' or ',' must be enclosed in '<' and '>'"),
            ),
            // RFC 4475 §3.1.2.x: "Joe" <...>;;;; is an empty parameter.
            (
                r#""Joe" <sip:joe@example.org>;;;;"#,
                HeaderError::Params(crate::params::ParamsError::Empty),
            ),
            ("**", HeaderError::Uri(crate::uri::UriError::MissingScheme)),
        ];
        for (value, err) in cases {
            assert_eq!(Contact::parse(value), Err(err), "{value}");
        }
    }
}
