//! `Reason` (RFC 3326): why a request (a CANCEL, a BYE) was sent or a call ended, as a SIP
//! status code or an ISDN Q.850 cause.
//!
//! `reason-value = protocol *( ";" reason-params )` with `cause=1*DIGIT` and
//! `text=quoted-string`. The protocol names are ABNF literals, so `SIP` and `Q.850` match
//! case-insensitively (RFC 5234 §2.3); the written form is kept.

use crate::header_name::HeaderName;
use crate::headers::{parse_number, Header, HeaderError};
use crate::params::Params;
use crate::text;
use std::fmt::Write as _;

/// One `Reason` element, such as `SIP;cause=486;text="Busy Here"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// The protocol the cause belongs to (`SIP`, `Q.850` or another token), as written.
    pub protocol: String,
    /// The parameters in order (`cause`, `text`, extensions).
    pub params: Params,
}

impl Reason {
    /// `SIP;cause=<code>;text="<text>"`; the text is left out when empty.
    pub fn sip(code: u16, text: &str) -> Reason {
        Reason::with_cause("SIP", code, text)
    }

    /// `Q.850;cause=<cause>;text="<text>"`; the text is left out when empty.
    pub fn q850(cause: u16, text: &str) -> Reason {
        Reason::with_cause("Q.850", cause, text)
    }

    fn with_cause(protocol: &str, cause: u16, reason_text: &str) -> Reason {
        let mut params = Params::new();
        params.push("cause", Some(cause.to_string()));
        if !reason_text.is_empty() {
            let mut quoted = String::new();
            text::write_quoted(&mut quoted, reason_text);
            params.push("text", Some(quoted));
        }
        Reason {
            protocol: protocol.to_string(),
            params,
        }
    }

    /// True when the protocol is `protocol`, ignoring case (`reason.is("q.850")`).
    pub fn is(&self, protocol: &str) -> bool {
        text::eq_ignore_case(&self.protocol, protocol)
    }

    /// The `cause` parameter: a SIP status code or a Q.850 cause value.
    pub fn cause(&self) -> Option<u16> {
        let value = self.params.value("cause")?;
        parse_number(value, u64::from(u16::MAX))
            .ok()
            .and_then(|n| u16::try_from(n).ok())
    }

    /// The `text` parameter with its quotes removed and escapes resolved.
    pub fn text(&self) -> Option<String> {
        self.params.unquoted("text")
    }
}

impl Header for Reason {
    const NAME: HeaderName = HeaderName::Reason;
    const LIST: bool = true;

    /// A `cause` that is not a number up to 65535 is an error. A `text` written as a token
    /// instead of a quoted string is tolerated.
    fn parse(value: &str) -> Result<Reason, HeaderError> {
        let value = text::trim_wsp(value);
        if value.is_empty() {
            return Err(HeaderError::Empty);
        }
        let (protocol, rest) = value.split_at(value.find(';').unwrap_or(value.len()));
        let protocol = text::trim_wsp(protocol);
        if !text::is_token(protocol) {
            return Err(HeaderError::Syntax("Reason protocol must be a token"));
        }
        let params = Params::parse_header_params(rest)?;
        if let Some(p) = params.get("cause") {
            parse_number(p.value.as_deref().unwrap_or(""), u64::from(u16::MAX))?;
        }
        if params.get("text").is_some_and(|p| p.value.is_none()) {
            return Err(HeaderError::Syntax("Reason text needs a value"));
        }
        Ok(Reason {
            protocol: protocol.to_string(),
            params,
        })
    }

    fn write(&self, out: &mut String) {
        out.push_str(&self.protocol);
        let _ = write!(out, "{}", self.params);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_values() {
        type Row<'a> = (&'a str, &'a str, Option<u16>, Option<&'a str>, &'a str);
        let rows: [Row; 5] = [
            (
                "SIP ;cause=200 ;text=\"Call completed elsewhere\"",
                "SIP",
                Some(200),
                Some("Call completed elsewhere"),
                "SIP;cause=200;text=\"Call completed elsewhere\"",
            ),
            (
                "Q.850 ; cause=16 ; text=\"Terminated\"",
                "Q.850",
                Some(16),
                Some("Terminated"),
                "Q.850;cause=16;text=\"Terminated\"",
            ),
            ("SIP;cause=600", "SIP", Some(600), None, "SIP;cause=600"),
            (
                "preemption;cause=1;text=x",
                "preemption",
                Some(1),
                Some("x"),
                "preemption;cause=1;text=x",
            ),
            ("SIP", "SIP", None, None, "SIP"),
        ];
        for (input, protocol, cause, text, wire) in rows {
            let r = Reason::parse(input).unwrap();
            assert_eq!(r.protocol, protocol, "{input:?}");
            assert_eq!(r.cause(), cause, "{input:?}");
            assert_eq!(r.text().as_deref(), text, "{input:?}");
            assert_eq!(r.to_value(), wire);
            assert_eq!(Reason::parse(&r.to_value()).unwrap(), r);
        }
        assert!(Reason::parse("q.850;cause=16").unwrap().is("Q.850"));
    }

    #[test]
    fn bad_values() {
        let rows = [
            ("", HeaderError::Empty),
            (
                ";cause=1",
                HeaderError::Syntax("Reason protocol must be a token"),
            ),
            (
                "S IP;cause=1",
                HeaderError::Syntax("Reason protocol must be a token"),
            ),
            ("SIP;cause=abc", HeaderError::InvalidNumber("abc".into())),
            (
                "SIP;cause=65536",
                HeaderError::InvalidNumber("65536".into()),
            ),
            ("SIP;cause", HeaderError::InvalidNumber(String::new())),
            ("SIP;text", HeaderError::Syntax("Reason text needs a value")),
        ];
        for (input, err) in rows {
            assert_eq!(Reason::parse(input), Err(err), "{input:?}");
        }
    }

    #[test]
    fn constructors() {
        let r = Reason::sip(486, "Busy \"Here\"");
        assert_eq!(r.to_value(), "SIP;cause=486;text=\"Busy \\\"Here\\\"\"");
        assert_eq!(
            (r.cause(), r.text().as_deref()),
            (Some(486), Some("Busy \"Here\""))
        );
        assert_eq!(Reason::parse(&r.to_value()), Ok(r));
        assert_eq!(Reason::q850(16, "").to_value(), "Q.850;cause=16");
        assert!(Reason::q850(31, "Normal, unspecified").is("q.850"));
    }

    #[test]
    fn a_list_with_commas_inside_text() {
        use crate::message::Message;
        use crate::parse::Limits;
        let m = Message::parse_datagram(
            b"BYE sip:a@b SIP/2.0\r\nReason: SIP;cause=480;text=\"a, b\", Q.850;cause=19\r\nContent-Length: 0\r\n\r\n",
            &Limits::default(),
        )
        .unwrap();
        let reasons = m.header_all::<Reason>().unwrap();
        assert_eq!(reasons.len(), 2);
        assert_eq!(reasons[0].text().as_deref(), Some("a, b"));
        assert_eq!(reasons[1].cause(), Some(19));
    }
}
